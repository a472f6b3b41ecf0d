/* SPDX-License-Identifier: Apache-2.0 */
/* The engine and its modules: loading (validate, resolve imports, canonical-ABI types), the
 * in-memory table that makes concurrent loads of one module compile once, the disk cache of
 * gcc-compiled .so files keyed by module hash + wasm2c version + compiler and flags + runtime
 * mode + CPU architecture, the background gcc worker, and the accessors wasm_int.h promises
 * the canonical ABI. Instances and calls are in instance.c. */
#define _GNU_SOURCE
#include "wasm/core_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "wasm/engine_int.h"

#define MAX_IDLE_MODULES 64 /* modules the engine keeps loaded while nobody uses them */

typedef struct gcc_job_s {
    ipvm_wasm_module_t *m; /* retained */
    char *c;               /* the tier-neutral C */
    size_t len;
    struct gcc_job_s *next;
} gcc_job_t;

static void free_module(ipvm_wasm_module_t *m);

/* ---- engine -------------------------------------------------------------------------------- */
int ipvm_wasm_engine_new(const ipvm_wasm_engine_opts_t *opts, ipvm_wasm_engine_t **out,
                         ipvm_error_t *err)
{
    *out = NULL;
    int rc = ipvm__rt_init(err);
    if (rc)
        return rc;
    ipvm_wasm_engine_t *e = ipvm_calloc(1, sizeof *e);
    if (e == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    e->gcc_tier = 1;
    e->defaults = (ipvm_wasm_limits_t){IPVM_WASM_UNLIMITED, 4ull << 30, 100000};
    if ((rc = ipvm__isa_resolve(opts ? opts->isa : IPVM_WASM_ISA_AUTO, &e->isa, err)) != 0) {
        ipvm_free(e);
        return rc;
    }
    if (opts) {
        e->gcc_tier = opts->gcc_tier;
        if (opts->defaults.fuel)
            e->defaults.fuel = opts->defaults.fuel;
        if (opts->defaults.memory)
            e->defaults.memory = opts->defaults.memory;
        if (opts->defaults.time_ms)
            e->defaults.time_ms = opts->defaults.time_ms;
        if (opts->cache_dir && !(e->cache_dir = ipvm_strdup(opts->cache_dir))) {
            ipvm_free(e);
            return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
        }
    }
    if (e->cache_dir && (rc = ipvm_mkdirs(e->cache_dir, 0700, err)) != 0) {
        ipvm_free(e->cache_dir);
        ipvm_free(e);
        return rc;
    }
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->cond, NULL);
    pthread_cond_init(&e->job_cond, NULL);
    pthread_cond_init(&e->timer_cond, NULL);
    *out = e;
    return 0;
}

void ipvm__engine_wait_jobs(ipvm_wasm_engine_t *e)
{
    pthread_mutex_lock(&e->lock);
    while (e->jobs_pending > 0)
        pthread_cond_wait(&e->cond, &e->lock);
    pthread_mutex_unlock(&e->lock);
}

void ipvm__engine_set_no_fuel(ipvm_wasm_engine_t *e)
{
    e->no_fuel = true;
    e->gcc_tier = 2;
}

int ipvm__engine_pending_jobs(ipvm_wasm_engine_t *e)
{
    pthread_mutex_lock(&e->lock);
    int n = e->jobs_pending;
    pthread_mutex_unlock(&e->lock);
    return n;
}

void ipvm__engine_cancel_jobs(ipvm_wasm_engine_t *e)
{
    pthread_mutex_lock(&e->lock);
    gcc_job_t *j = e->jobs;
    e->jobs = NULL;
    while (j) {
        gcc_job_t *next = j->next;
        ipvm_wasm_module_release(j->m);
        ipvm_free(j->c);
        ipvm_free(j);
        e->jobs_pending--;
        j = next;
    }
    int pid = atomic_exchange(&e->gcc_pid, -1); /* and no later compile starts */
    if (pid > 0)
        kill(pid, SIGTERM);
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->lock);
}

void ipvm_wasm_engine_free(ipvm_wasm_engine_t *e)
{
    if (e == NULL)
        return;
    ipvm__engine_wait_jobs(e);
    pthread_mutex_lock(&e->lock);
    e->stopping = true;
    pthread_cond_broadcast(&e->job_cond);
    pthread_cond_broadcast(&e->timer_cond);
    pthread_mutex_unlock(&e->lock);
    if (e->worker_started)
        pthread_join(e->worker, NULL);
    if (e->timer_started)
        pthread_join(e->timer, NULL);
    /* the engine's own references; callers must have released theirs */
    ipvm_wasm_module_t *m = e->modules;
    while (m) {
        ipvm_wasm_module_t *next = m->next;
        free_module(m);
        m = next;
    }
    if (e->private_dir[0])
        rmdir(e->private_dir);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->cond);
    pthread_cond_destroy(&e->job_cond);
    pthread_cond_destroy(&e->timer_cond);
    ipvm_free(e->cache_dir);
    ipvm_free(e);
}

/* ---- module lifetime ----------------------------------------------------------------------- */
static void free_module(ipvm_wasm_module_t *m)
{
    if (m->abi)
        ipvm__wasm_abi_free(m->abi);
    ipvm__rt_pool_dispose(&m->pool);
    ipvm__code_free(atomic_load(&m->gcc));
    ipvm__code_free(m->tcc);
    for (unsigned k = 0; k < m->nparts; k++) {
        ipvm__code_free(m->parts[k].code);
        ipvm_free(m->parts[k].live);
    }
    pthread_mutex_destroy(&m->code_lock);
    ipvm_arena_dispose(&m->arena);
    ipvm_free(m->host);
    ipvm_free(m->orig);
    ipvm_free(m);
}

void ipvm_wasm_module_retain(ipvm_wasm_module_t *m)
{
    atomic_fetch_add(&m->refs, 1);
}

void ipvm_wasm_module_release(ipvm_wasm_module_t *m)
{
    if (m == NULL)
        return;
    /* the engine's table holds one reference; modules are freed by eviction or engine_free */
    int left = atomic_fetch_sub(&m->refs, 1) - 1;
    IPVM_NEVER(left < 0);
}

/* Drops idle modules beyond MAX_IDLE_MODULES, oldest first. Called with e->lock held. */
static void evict_idle(ipvm_wasm_engine_t *e)
{
    while (e->nmodules > MAX_IDLE_MODULES) {
        ipvm_wasm_module_t **pp = &e->modules, **victim = NULL;
        for (; *pp; pp = &(*pp)->next)
            if ((*pp)->state == MOD_READY && atomic_load(&(*pp)->refs) == 1 &&
                (!victim || (*pp)->last_used < (*victim)->last_used))
                victim = pp;
        if (victim == NULL)
            return;
        ipvm_wasm_module_t *m = *victim;
        *victim = m->next;
        e->nmodules--;
        free_module(m);
    }
}

/* ---- cache key ----------------------------------------------------------------------------- */
static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int sha256_hex(const void *p, size_t n, char out[65], uint8_t raw[32])
{
    uint8_t d[IPVM_MH_MAX_DIGEST];
    size_t dl;
    int rc = ipvm_multihash_digest(IPVM_MH_SHA2_256, p, n, d, &dl);
    if (rc)
        return rc;
    if (raw)
        memcpy(raw, d, 32);
    hex(d, 32, out);
    return 0;
}

/* The key of the compiled code: everything the machine code depends on. The gcc prelude's
 * text is in it (its digest), so any change to the macros the generated C is built with
 * (fuel ticks, loads, stores) makes new keys and no older .so is taken; a change to the
 * translation itself bumps IPVM__GLUE_VERSION. */
static int cache_key(ipvm_wasm_module_t *m, ipvm_error_t *err)
{
    struct utsname u;
    if (uname(&u) != 0)
        snprintf(u.machine, sizeof u.machine, "unknown");
    const char *w2c = ipvm__wasm2c_fingerprint(), *gcc = ipvm__gcc_fingerprint();
    const char *pre = ipvm__wasm_prelude(m->engine->no_fuel ? IPVM__FUEL_NONE : IPVM__FUEL_TLS);
    char pre_hex[65];
    if (sha256_hex(pre, strlen(pre), pre_hex, NULL) != 0)
        return ipvm_error_set(err, IPVM_EINTERNAL, IPVM_NO_OFFSET, "sha2-256 unavailable");
    char text[10000];
    int n = snprintf(text, sizeof text,
                     "ipvm-wasm-cache 1\nipvm %s\nmodule %s\n%s\n%s\nmode %s\narch %s\n"
                     "isa %s\nglue %u%s\nprelude %s\n",
                     IPVM_VERSION_STRING, m->hash_hex, w2c ? w2c : "wasm2c ?",
                     gcc ? gcc : "no gcc",
                     IPVM__RT_GUARD_PAGES ? "guard-pages" : "bounds-checks", u.machine,
                     ipvm__isa_flag(m->engine->isa) ? ipvm__isa_flag(m->engine->isa) : "default",
                     IPVM__GLUE_VERSION, m->engine->no_fuel ? "\nno fuel" : "", pre_hex);
    if (sha256_hex(text, (size_t)n, m->key, NULL) != 0)
        return ipvm_error_set(err, IPVM_EINTERNAL, IPVM_NO_OFFSET, "sha2-256 unavailable");
    return 0;
}

static void so_path(const ipvm_wasm_engine_t *e, const ipvm_wasm_module_t *m, char *out,
                    size_t size)
{
    snprintf(out, size, "%s/%s.so", e->cache_dir, m->key);
}

/* ---- the gcc tier ------------------------------------------------------------------------- */
/* The directory gcc writes into when the engine has no cache: a private temporary one. */
static const char *work_dir(ipvm_wasm_engine_t *e)
{
    if (e->cache_dir)
        return e->cache_dir;
    if (e->private_dir[0] == '\0') {
        const char *t = getenv("TMPDIR");
        snprintf(e->private_dir, sizeof e->private_dir, "%s/ipvm-so-XXXXXX",
                 t && *t && strlen(t) < 3000 ? t : "/tmp");
        if (mkdtemp(e->private_dir) == NULL) {
            e->private_dir[0] = '\0';
            return NULL;
        }
    }
    return e->private_dir;
}

/* Compiles with gcc (or takes the .so another process made meanwhile) and switches the module
 * to it. Serialised across processes by a lock file per key. */
static int gcc_tier(ipvm_wasm_module_t *m, const char *c, size_t len, ipvm_error_t *err)
{
    ipvm_wasm_engine_t *e = m->engine;
    pthread_mutex_lock(&e->lock);
    const char *dir = work_dir(e);
    pthread_mutex_unlock(&e->lock);
    if (dir == NULL)
        return ipvm_error_set(err, IPVM_ECOMPILE, IPVM_NO_OFFSET,
                              "cannot create a directory for compiled code");
    char path[4300], lock_path[4300];
    snprintf(path, sizeof path, "%s/%s.so", dir, m->key);
    snprintf(lock_path, sizeof lock_path, "%s/%s.lock", dir, m->key);
    int lfd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd >= 0)
        while (flock(lfd, LOCK_EX) != 0 && errno == EINTR) {
        }
    ipvm__code_t *code = NULL;
    unsigned kind = e->no_fuel ? IPVM__FUEL_NONE : IPVM__FUEL_TLS;
    int rc = ipvm__code_open(path, m->key, kind, &code, NULL);
    if (rc != 0) {
        unlink(path);
        uint64_t t0 = ipvm_now_ns();
        rc = ipvm__compile_gcc(c, len, path, kind, e->isa, &e->gcc_pid, err);
        if (rc == 0) {
            ipvm_log(IPVM_LOG_DEBUG, "wasm", "gcc -O2 compiled module %.16s in %.0f ms",
                     m->hash_hex, (double)(ipvm_now_ns() - t0) / 1e6);
            rc = ipvm__code_open(path, m->key, kind, &code, err);
        }
    }
    if (lfd >= 0) {
        unlink(lock_path);
        close(lfd);
    }
    if (rc == 0 && (rc = ipvm__code_init(code, err)) != 0) {
        ipvm__code_free(code);
        code = NULL;
    }
    if (!e->cache_dir)
        unlink(path); /* dlopen keeps the mapping; nothing to leave behind */
    if (rc == 0) {
        atomic_store(&m->gcc, code);
        atomic_store(&m->cached, e->cache_dir != NULL);
    }
    return rc;
}

/* The whole module's C (translated here when the job has none yet), then gcc. */
static int gcc_job(gcc_job_t *j, ipvm_error_t *err)
{
    if (j->c == NULL) {
        if (atomic_load(&j->m->engine->gcc_pid) < 0)
            return IPVM_ECOMPILE;
        ipvm_buf_t c = IPVM_BUF_INIT;
        int rc = ipvm__wasm_translate(&j->m->info, NULL, j->m->key, &c, err);
        if (rc) {
            ipvm_buf_dispose(&c);
            return rc;
        }
        j->len = c.len;
        if (!(j->c = (char *)ipvm_buf_take(&c, NULL)))
            return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    }
    return gcc_tier(j->m, j->c, j->len, err);
}

static void *gcc_worker(void *arg)
{
    ipvm_wasm_engine_t *e = arg;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        while (!e->jobs && !e->stopping)
            pthread_cond_wait(&e->job_cond, &e->lock);
        if (!e->jobs)
            break;
        gcc_job_t *j = e->jobs;
        e->jobs = j->next;
        pthread_mutex_unlock(&e->lock);
        ipvm_error_t err;
        ipvm_error_clear(&err);
        if (gcc_job(j, &err) != 0 && atomic_load(&e->gcc_pid) >= 0)
            ipvm_log(IPVM_LOG_WARN, "wasm",
                     "module %.16s stays on the tcc tier: %s", j->m->hash_hex, err.msg);
        ipvm_wasm_module_release(j->m);
        ipvm_free(j->c);
        ipvm_free(j);
        pthread_mutex_lock(&e->lock);
        e->jobs_pending--;
        pthread_cond_broadcast(&e->cond);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

/* Queues the gcc compile; takes c on success (NULL: the worker translates the module). */
static int queue_gcc(ipvm_wasm_module_t *m, char *c, size_t len)
{
    ipvm_wasm_engine_t *e = m->engine;
    gcc_job_t *j = ipvm_calloc(1, sizeof *j);
    if (j == NULL)
        return IPVM_ENOMEM;
    *j = (gcc_job_t){m, c, len, NULL};
    pthread_mutex_lock(&e->lock);
    if (!e->worker_started) {
        if (pthread_create(&e->worker, NULL, gcc_worker, e) != 0) {
            pthread_mutex_unlock(&e->lock);
            ipvm_free(j);
            return IPVM_ENOMEM;
        }
        e->worker_started = true;
    }
    ipvm_wasm_module_retain(m);
    gcc_job_t **pp = &e->jobs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = j;
    e->jobs_pending++;
    pthread_cond_signal(&e->job_cond);
    pthread_mutex_unlock(&e->lock);
    return 0;
}

/* ---- loading -------------------------------------------------------------------------------- */
static int resolve_imports(ipvm_wasm_module_t *m, ipvm_error_t *err)
{
    const ipvm__wasm_info_t *in = &m->info;
    m->host = ipvm_calloc(in->nimported ? in->nimported : 1, sizeof *m->host);
    if (m->host == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    for (uint32_t k = 0; k < in->nimported; k++) {
        const char *why = NULL;
        if (!(m->host[k] = ipvm__host_resolve(&in->imports[k], &why)))
            return ipvm_error_set(err, IPVM_ELINK, IPVM_NO_OFFSET, "import %s.%s: %s",
                                  in->imports[k].module, in->imports[k].field, why);
    }
    return 0;
}

/* Finds the machine code in the disk cache, else has gcc make it (now with gcc_tier 2, in the
 * background with 1); libtcc's code is made for the first instance (ipvm__module_code). */
static int compile_module(ipvm_wasm_module_t *m, ipvm_error_t *err)
{
    ipvm_wasm_engine_t *e = m->engine;
    char path[4200];
    int rc;
    if (e->cache_dir && e->gcc_usable && e->gcc_tier != 0) {
        ipvm__code_t *code = NULL;
        ipvm_error_t oe;
        ipvm_error_clear(&oe);
        so_path(e, m, path, sizeof path);
        rc = ipvm__code_open(path, m->key, e->no_fuel ? IPVM__FUEL_NONE : IPVM__FUEL_TLS, &code,
                             &oe);
        if (rc == 0 && (rc = ipvm__code_init(code, &oe)) == 0) {
            atomic_store(&m->gcc, code);
            atomic_store(&m->cached, true);
            m->from_cache = true;
            atomic_fetch_add(&ipvm__wasm_stats.cache_hits, 1);
            return 0;
        }
        ipvm__code_free(code);
        if (rc != IPVM_ENOENT) {
            ipvm_log(IPVM_LOG_WARN, "wasm", "ignoring cached %s: %s", path, oe.msg);
            unlink(path);
        }
    }
    bool want_gcc = e->gcc_tier != 0 && e->gcc_usable;
    if (!want_gcc)
        return 0; /* libtcc compiles what the first call needs (ipvm__module_code) */
    if (e->gcc_tier == 1) /* translated and compiled in the background */
        return queue_gcc(m, NULL, 0) ? ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET,
                                                      "out of memory") : 0;
    ipvm_buf_t c = IPVM_BUF_INIT;
    if ((rc = ipvm__wasm_translate(&m->info, NULL, m->key, &c, err)) == 0)
        rc = gcc_tier(m, (char *)c.data, c.len, err);
    ipvm_buf_dispose(&c);
    return rc;
}

static int load_module(ipvm_wasm_module_t *m, const uint8_t *wasm, size_t len, ipvm_error_t *err)
{
    if (!(m->orig = ipvm_malloc(len ? len : 1)))
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    memcpy(m->orig, wasm, len);
    m->orig_len = len;
    m->core = m->orig;
    m->core_len = len;
    int rc;
    if (len >= 8 && memcmp(wasm, "\0asm", 4) == 0 && wasm[4] == 0x0d && wasm[6] == 1) {
        m->is_component = true;
        if ((rc = ipvm__wasm_component_core(m->orig, len, &m->core, &m->core_len, err)) != 0)
            return rc;
    }
    if ((rc = ipvm__wasm_parse(m->core, m->core_len, &m->arena, &m->info, err)) != 0)
        return rc;
    if ((rc = cache_key(m, err)) != 0 || (rc = resolve_imports(m, err)) != 0)
        return rc;
    if ((rc = ipvm__wasm_abi_prepare(m, err)) != 0)
        return rc;
    return compile_module(m, err);
}

/* Once per engine, under e->lock: can a dlopened .so reach our runtime, is gcc there? */
static void probe_gcc_tier(ipvm_wasm_engine_t *e)
{
    if (e->probed)
        return;
    e->probed = true;
    e->gcc_usable = ipvm__rt_symbols_exported() && ipvm__gcc_fingerprint() != NULL;
    if (!e->gcc_usable && e->gcc_tier)
        ipvm_log(IPVM_LOG_INFO, "wasm", "gcc tier off: %s",
                 ipvm__gcc_fingerprint() ? "this program does not export the Wasm runtime "
                                  "(link it with -rdynamic)"
                                : "gcc not found");
}

/* Under e->lock: the loaded module with this hash, retained, or NULL when there is none (it
 * waits while another thread is loading it). */
static ipvm_wasm_module_t *find_loaded(ipvm_wasm_engine_t *e, const uint8_t hash[32])
{
    for (;;) {
        ipvm_wasm_module_t *m = e->modules;
        while (m && memcmp(m->hash, hash, 32) != 0)
            m = m->next;
        if (m == NULL)
            return NULL;
        if (m->state == MOD_READY) {
            ipvm_wasm_module_retain(m);
            m->last_used = ++e->clock;
            return m;
        }
        pthread_cond_wait(&e->cond, &e->lock); /* another thread is loading it */
    }
}

/* Under e->lock: a new module in the MOD_LOADING state at the head of e->modules, or NULL. */
static ipvm_wasm_module_t *add_loading(ipvm_wasm_engine_t *e, const uint8_t hash[32],
                                       const char hash_hex[65])
{
    ipvm_wasm_module_t *m = ipvm_calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->engine = e;
    atomic_init(&m->refs, 2); /* the engine's and the caller's */
    memcpy(m->hash, hash, 32);
    memcpy(m->hash_hex, hash_hex, 65);
    ipvm_arena_init(&m->arena);
    ipvm__rt_pool_init(&m->pool);
    pthread_mutex_init(&m->code_lock, NULL);
    m->state = MOD_LOADING;
    m->next = e->modules;
    e->modules = m;
    e->nmodules++;
    return m;
}

int ipvm_wasm_module_load(ipvm_wasm_engine_t *e, const uint8_t *wasm, size_t len,
                          ipvm_wasm_module_t **out, ipvm_error_t *err)
{
    *out = NULL;
    uint8_t hash[32];
    char hash_hex[65];
    if (sha256_hex(wasm, len, hash_hex, hash) != 0)
        return ipvm_error_set(err, IPVM_EINTERNAL, IPVM_NO_OFFSET, "sha2-256 unavailable");
    pthread_mutex_lock(&e->lock);
    probe_gcc_tier(e);
    ipvm_wasm_module_t *m = find_loaded(e, hash);
    if (m != NULL) {
        pthread_mutex_unlock(&e->lock);
        *out = m;
        return 0;
    }
    m = add_loading(e, hash, hash_hex);
    pthread_mutex_unlock(&e->lock);
    if (m == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");

    int rc = load_module(m, wasm, len, err);

    pthread_mutex_lock(&e->lock);
    if (rc != 0) {
        ipvm_wasm_module_t **pp = &e->modules;
        while (*pp != m)
            pp = &(*pp)->next;
        *pp = m->next;
        e->nmodules--;
    } else {
        m->state = MOD_READY;
        m->last_used = ++e->clock;
        evict_idle(e);
    }
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->lock);
    if (rc != 0) {
        /* a queued gcc job holds a reference: it cannot exist when load failed before it */
        free_module(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---- what the ABI and host see ------------------------------------------------------------- */
const uint8_t *ipvm__wasm_module_bytes(ipvm_wasm_module_t *m, size_t *len)
{
    *len = m->core_len;
    return m->core;
}

const uint8_t *ipvm__wasm_module_original(ipvm_wasm_module_t *m, size_t *len)
{
    *len = m->orig_len;
    return m->orig;
}

bool ipvm__wasm_module_is_component(ipvm_wasm_module_t *m)
{
    return m->is_component;
}

int ipvm__wasm_custom_section(ipvm_wasm_module_t *m, const char *prefix, const uint8_t **data,
                              size_t *len)
{
    size_t pl = strlen(prefix);
    for (uint32_t i = 0; i < m->info.ncustoms; i++) {
        const ipvm__wasm_custom_t *c = &m->info.customs[i];
        if (c->name.len >= pl && memcmp(m->core + c->name.off, prefix, pl) == 0) {
            *data = m->core + c->data.off;
            *len = c->data.len;
            return 0;
        }
    }
    *data = NULL;
    *len = 0;
    return IPVM_ENOENT;
}

int ipvm__wasm_exports(ipvm_wasm_module_t *m, const ipvm__wasm_export_t **list, size_t *n)
{
    *list = m->info.exports;
    *n = m->info.nexports;
    return 0;
}

long ipvm__wasm_export_find(ipvm_wasm_module_t *m, const char *name, size_t len)
{
    for (uint32_t i = 0; i < m->info.nexports; i++) {
        const ipvm__wasm_export_t *x = &m->info.exports[i];
        if (x->name_len == len && memcmp(x->name, name, len) == 0)
            return (long)i;
    }
    return -1;
}

int ipvm__wasm_imports(ipvm_wasm_module_t *m, const ipvm__wasm_import_t **list, size_t *n)
{
    *list = m->info.imports;
    *n = m->info.nimported;
    return 0;
}

void *ipvm__wasm_module_abi(ipvm_wasm_module_t *m)
{
    return m->abi;
}

void ipvm__wasm_module_set_abi(ipvm_wasm_module_t *m, void *abi)
{
    m->abi = abi;
}

ipvm__host_fn_t ipvm__module_host_fn(ipvm_wasm_module_t *m, uint32_t index)
{
    return index < m->info.nimported ? m->host[index] : NULL;
}

/* ---- libtcc's code, whole or reduced ------------------------------------------------------ */
static int tcc_compile(ipvm_wasm_module_t *m, const uint8_t *live, ipvm__code_t **out,
                       ipvm_error_t *err)
{
    ipvm_buf_t c = IPVM_BUF_INIT;
    uint64_t t0 = ipvm_now_ns();
    int rc = ipvm__wasm_translate(&m->info, live, m->key, &c, err);
    uint64_t t1 = ipvm_now_ns();
    if (rc == 0)
        rc = ipvm__compile_tcc(&m->info, (char *)c.data, c.len, m->key, out, err);
    if (rc == 0 && (rc = ipvm__code_init(*out, err)) != 0) {
        ipvm__code_free(*out);
        *out = NULL;
    }
    if (rc == 0)
        ipvm_log(IPVM_LOG_DEBUG, "wasm", "module %.16s%s: wasm2c %.1f ms, tcc %.1f ms",
                 m->hash_hex, live ? " (reduced)" : "", (double)(t1 - t0) / 1e6,
                 (double)(ipvm_now_ns() - t1) / 1e6);
    ipvm_buf_dispose(&c);
    return rc;
}

static bool is_abi_helper(const ipvm__wasm_export_t *x)
{
    return (x->name_len >= 5 && memcmp(x->name, "cabi_", 5) == 0) ||
           (x->name_len == 11 && memcmp(x->name, "_initialize", 11) == 0);
}

/* A part whose live functions include every function of need; else -1. */
static int find_part(ipvm_wasm_module_t *m, const uint32_t *need, size_t n)
{
    for (unsigned p = 0; p < m->nparts; p++) {
        size_t k = 0;
        while (k < n && m->parts[p].live[m->info.exports[need[k]].func_index])
            k++;
        if (k == n)
            return (int)p;
    }
    return -1;
}

/* Compiles the part for need (export indices) and what the canonical ABI may call. */
static int new_part(ipvm_wasm_module_t *m, const uint32_t *need, size_t n, ipvm_error_t *err)
{
    const ipvm__wasm_info_t *in = &m->info;
    uint32_t *roots = ipvm_malloc((n + in->nexports + 1) * sizeof *roots);
    uint8_t *live = ipvm_malloc(in->nfuncs ? in->nfuncs : 1);
    size_t nroots = 0;
    int rc = IPVM_ENOMEM;
    if (!roots || !live)
        goto fail;
    for (size_t k = 0; k < n; k++)
        roots[nroots++] = in->exports[need[k]].func_index;
    for (uint32_t k = 0; k < in->nexports; k++)
        if (is_abi_helper(&in->exports[k]))
            roots[nroots++] = in->exports[k].func_index;
    if ((rc = ipvm__wasm_live(in, roots, nroots, live)) != 0)
        goto fail;
    ipvm__code_t *code = NULL;
    if ((rc = tcc_compile(m, live, &code, err)) != 0)
        goto fail_quiet;
    m->parts[m->nparts].code = code;
    m->parts[m->nparts].live = live;
    m->nparts++;
    ipvm_free(roots);
    return 0;
fail:
    ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory");
fail_quiet:
    ipvm_free(roots);
    ipvm_free(live);
    return rc;
}

int ipvm__module_code(ipvm_wasm_module_t *m, const uint32_t *need, size_t n,
                      const ipvm__code_t **out, ipvm_error_t *err)
{
    const ipvm__code_t *g = atomic_load(&m->gcc);
    if (g) {
        *out = g;
        return 0;
    }
    for (size_t k = 0; need && k < n; k++)
        if (need[k] >= m->info.nexports)
            return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "no export %u", need[k]);
    int rc = 0;
    pthread_mutex_lock(&m->code_lock);
    if ((g = atomic_load(&m->gcc)) != NULL) { /* arrived meanwhile */
        *out = g;
    } else if (m->tcc) {
        *out = m->tcc;
    } else if (need == NULL || m->nparts == IPVM__MAX_PARTS) {
        if ((rc = tcc_compile(m, NULL, &m->tcc, err)) == 0)
            *out = m->tcc;
    } else {
        int p = find_part(m, need, n);
        if (p < 0 && (rc = new_part(m, need, n, err)) == 0)
            p = (int)m->nparts - 1;
        if (rc == 0)
            *out = m->parts[p].code;
    }
    pthread_mutex_unlock(&m->code_lock);
    return rc;
}

/* ---- describe ------------------------------------------------------------------------------ */
static ipvm_ipld_t *types_list(ipvm_arena_t *a, const uint8_t *t, uint32_t n)
{
    ipvm_ipld_t *l = ipvm_ipld_new_list(a, n);
    for (uint32_t k = 0; l && k < n; k++) {
        ipvm_ipld_t *s = ipvm_ipld_new_cstring(a, ipvm__wasm_valtype_name(t[k]));
        if (!s || ipvm_ipld_list_push(a, l, s) != 0)
            return NULL;
    }
    return l;
}

static int put(ipvm_arena_t *a, ipvm_ipld_t *map, const char *k, ipvm_ipld_t *v)
{
    return v ? ipvm_ipld_map_set_cstr(a, map, k, v) : IPVM_ENOMEM;
}

static ipvm_ipld_t *describe_exports(ipvm_wasm_module_t *m, ipvm_arena_t *a)
{
    const ipvm__wasm_info_t *in = &m->info;
    ipvm_ipld_t *list = ipvm_ipld_new_list(a, in->nexports);
    for (uint32_t i = 0; list && i < in->nexports; i++) {
        const ipvm__wasm_export_t *x = &in->exports[i];
        const ipvm__wasm_functype_t *t = &in->types[in->func_type[x->func_index]];
        ipvm_ipld_t *e = ipvm_ipld_new_map(a, 4);
        const char *wit = ipvm__wasm_abi_signature(m, x->name, a);
        if (!e || put(a, e, "name", ipvm_ipld_new_string(a, x->name, x->name_len)) ||
            put(a, e, "params", types_list(a, t->params, t->nparams)) ||
            put(a, e, "results", types_list(a, t->results, t->nresults)) ||
            (wit && put(a, e, "wit", ipvm_ipld_new_cstring(a, wit))) ||
            ipvm_ipld_list_push(a, list, e))
            return NULL;
    }
    return list;
}

static ipvm_ipld_t *describe_imports(ipvm_wasm_module_t *m, ipvm_arena_t *a)
{
    const ipvm__wasm_info_t *in = &m->info;
    ipvm_ipld_t *list = ipvm_ipld_new_list(a, in->nimported);
    for (uint32_t i = 0; list && i < in->nimported; i++) {
        const ipvm__wasm_import_t *x = &in->imports[i];
        const ipvm__wasm_functype_t *t = &in->types[in->func_type[i]];
        ipvm_ipld_t *e = ipvm_ipld_new_map(a, 4);
        if (!e || put(a, e, "module", ipvm_ipld_new_cstring(a, x->module)) ||
            put(a, e, "name", ipvm_ipld_new_cstring(a, x->field)) ||
            put(a, e, "params", types_list(a, t->params, t->nparams)) ||
            put(a, e, "results", types_list(a, t->results, t->nresults)) ||
            ipvm_ipld_list_push(a, list, e))
            return NULL;
    }
    return list;
}

int ipvm_wasm_module_describe(ipvm_wasm_module_t *m, ipvm_arena_t *a, ipvm_ipld_t **out)
{
    *out = NULL;
    const ipvm__code_t *g = atomic_load(&m->gcc);
    ipvm_ipld_t *map = ipvm_ipld_new_map(a, 16);
    if (!map)
        return IPVM_ENOMEM;
    const ipvm__wasm_info_t *in = &m->info;
    int rc = put(a, map, "sha256", ipvm_ipld_new_cstring(a, m->hash_hex));
    if (!rc)
        rc = put(a, map, "size", ipvm_ipld_new_uint(a, m->orig_len));
    if (!rc)
        rc = put(a, map, "component", ipvm_ipld_new_bool(a, m->is_component));
    if (!rc)
        rc = put(a, map, "tier", ipvm_ipld_new_cstring(a, g ? "gcc" : "tcc"));
    if (!rc)
        rc = put(a, map, "cached", ipvm_ipld_new_bool(a, atomic_load(&m->cached)));
    if (!rc)
        rc = put(a, map, "cache_key", ipvm_ipld_new_cstring(a, m->key));
    if (!rc)
        rc = put(a, map, "wit", ipvm_ipld_new_bool(a, m->abi != NULL));
    const char *w2c = ipvm__wasm2c_version(), *gcc = ipvm__gcc_id();
    if (!rc)
        rc = put(a, map, "wasm2c", w2c ? ipvm_ipld_new_cstring(a, w2c) : ipvm_ipld_new_null(a));
    if (!rc)
        rc = put(a, map, "gcc", gcc ? ipvm_ipld_new_cstring(a, gcc) : ipvm_ipld_new_null(a));
    if (!rc) /* the x86-64 level the gcc tier compiles for */
        rc = put(a, map, "isa", ipvm_ipld_new_cstring(a, m->engine->isa
                                                             ? ipvm_wasm_isa_name(m->engine->isa)
                                                             : "default"));
    if (!rc)
        rc = put(a, map, "memory_pages",
                 in->has_memory ? ipvm_ipld_new_uint(a, in->mem_min) : ipvm_ipld_new_null(a));
    if (!rc)
        rc = put(a, map, "functions", ipvm_ipld_new_uint(a, in->nfuncs));
    if (!rc)
        rc = put(a, map, "exports", describe_exports(m, a));
    if (!rc)
        rc = put(a, map, "imports", describe_imports(m, a));
    if (rc)
        return rc;
    ipvm_ipld_map_sort(map);
    *out = map;
    return 0;
}
