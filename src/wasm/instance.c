/* SPDX-License-Identifier: Apache-2.0 */
/* Instances and calls: instantiate under the call's limits, invoke exports through the glue's
 * uniform trampolines with traps caught per thread, count fuel, enforce the wall clock (a
 * timer thread raises the running instance's fuel floor, so the guest traps at its next loop
 * header or call, or on x86-64's gcc tier sends its thread the stop signal), map every trap to its own IPVM_ETRAP_* error, and ipvm_wasm_call, which
 * does the plain numeric call for modules without WIT types. */
#define _GNU_SOURCE
#include "wasm/core_int.h"

#include <wasm-rt.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasm/engine_int.h"

#define LOG_CAP (1u << 20) /* bytes of task log kept per instance */
#define STACK_MARGIN_MIN (64u << 10)
#define STACK_MARGIN_MAX (1u << 20)
#define HOST_STACK_NEED (64u << 10) /* stack a host function may use */

extern _Thread_local int64_t ipvm_rt_fuel, ipvm_rt_fuel_floor;

/* ---- guarded execution ------------------------------------------------------------------- */
typedef struct saved_s {
    sigjmp_buf *jmp;
    ipvm__wasm_instance_t *cur;
    uintptr_t res_lo, res_hi;
    int64_t fuel, floor;
} saved_t;

/* Spin lock of an instance's fuel pointer, shared with the timer thread. */
static void fuel_lock(ipvm__wasm_instance_t *i)
{
    while (atomic_flag_test_and_set_explicit(&i->fuel_lock, memory_order_acquire))
        ;
}

static void fuel_unlock(ipvm__wasm_instance_t *i)
{
    atomic_flag_clear_explicit(&i->fuel_lock, memory_order_release);
}

static void set_reservation(ipvm__rt_thread_t *t, ipvm__wasm_instance_t *i)
{
    wasm_rt_memory_t *mem = i->code ? i->code->glue->memory(i->guest) : NULL;
    if (mem && mem->data) {
        t->res_lo = (uintptr_t)mem->data;
        t->res_hi = t->res_lo + ipvm__rt_memory_reserved(mem);
    } else {
        t->res_lo = t->res_hi = 0;
    }
}

static void begin(ipvm__wasm_instance_t *i, ipvm__rt_thread_t *t, sigjmp_buf *jb, saved_t *s)
{
    *s = (saved_t){t->jmp, t->cur, t->res_lo, t->res_hi, ipvm_rt_fuel, ipvm_rt_fuel_floor};
    t->jmp = jb;
    t->cur = i;
    if (i == NULL)
        return;
    set_reservation(t, i);
    size_t stack = t->stack_hi - t->stack_lo, margin = stack / 8;
    margin = margin < STACK_MARGIN_MIN ? STACK_MARGIN_MIN
             : margin > STACK_MARGIN_MAX ? STACK_MARGIN_MAX : margin;
    i->slot.stack_limit = (int64_t)(t->stack_lo + margin);
    fuel_lock(i);
    i->thread = pthread_self();
    i->rt = t;
    int64_t floor = atomic_load(&i->timed_out) ? INT64_MAX : 0;
    if (i->code && i->code->glue->fuel_kind == IPVM__FUEL_TLS) {
        ipvm_rt_fuel = i->fuel_left;
        ipvm_rt_fuel_floor = floor;
        atomic_store(&i->fuel_at, (volatile int64_t *)&ipvm_rt_fuel);
        atomic_store(&i->floor_at, (volatile int64_t *)&ipvm_rt_fuel_floor);
    } else {
        i->slot.fuel = i->fuel_left;
        i->slot.floor = floor;
        atomic_store(&i->fuel_at, &i->slot.fuel);
        atomic_store(&i->floor_at, &i->slot.floor);
    }
    fuel_unlock(i);
}

static void end(ipvm__wasm_instance_t *i, ipvm__rt_thread_t *t, const saved_t *s)
{
    if (i) {
        fuel_lock(i);
        volatile int64_t *f = atomic_load(&i->fuel_at);
        if (f)
            i->fuel_left = *f;
        atomic_store(&i->fuel_at, NULL);
        atomic_store(&i->floor_at, NULL);
        fuel_unlock(i);
    }
    t->jmp = s->jmp;
    t->cur = s->cur;
    t->res_lo = s->res_lo;
    t->res_hi = s->res_hi;
    ipvm_rt_fuel = s->fuel;
    ipvm_rt_fuel_floor = s->floor;
}

typedef struct call_s {
    int kind; /* 0 init_module, 1 instantiate, 2 trampoline */
    const ipvm__code_t *code;
    ipvm__wasm_instance_t *inst;
    ipvm__tramp_t tramp;
    const uint64_t *args;
    uint64_t *results;
} call_t;

/* Runs one piece of guest code; returns 0 or the trap code (wasm_rt_trap_t or IPVM__TRAP_*). */
static int guarded(call_t *c, ipvm_error_t *err)
{
    ipvm__rt_thread_t *t = ipvm__rt_thread();
    int rc;
    if (!t->ready && (rc = ipvm__rt_thread_init(err)) != 0)
        return rc;
    sigjmp_buf jb;
    saved_t s;
    begin(c->inst, t, &jb, &s);
    /* no signal mask saved (that is a system call per try): the fault handler runs with
     * SA_NODEFER, so jumping out of it leaves no signal blocked */
    int code = 0;
    /* past its deadline: no more guest code runs. Checked after begin() published fuel_at:
     * a timer that found it unset had stored timed_out before, so this sees it */
    if (c->inst && atomic_load(&c->inst->timed_out))
        code = IPVM__TRAP_FUEL;
    else
        code = sigsetjmp(jb, 0);
    if (code == 0) {
        if (c->kind == 0)
            c->code->glue->init_module();
        else if (c->kind == 1)
            c->code->glue->instantiate(c->inst->guest, c->inst);
        else
            c->tramp(c->inst->guest, c->args, c->results);
    }
    end(c->inst, t, &s);
    return code;
}

/* The IPVM_ETRAP_* error for a trap code, with a sentence in err. */
static int trap_error(ipvm__wasm_instance_t *i, int code, ipvm_error_t *err)
{
    int e;
    const char *why = wasm_rt_strerror((wasm_rt_trap_t)code);
    switch (code) {
    case WASM_RT_TRAP_OOB: e = IPVM_ETRAP_OOB; break;
    case WASM_RT_TRAP_INT_OVERFLOW: e = IPVM_ETRAP_OVERFLOW; break;
    case WASM_RT_TRAP_DIV_BY_ZERO: e = IPVM_ETRAP_DIVZERO; break;
    case WASM_RT_TRAP_INVALID_CONVERSION: e = IPVM_ETRAP_CONVERSION; break;
    case WASM_RT_TRAP_UNREACHABLE: e = IPVM_ETRAP_UNREACHABLE; break;
    case WASM_RT_TRAP_CALL_INDIRECT: e = IPVM_ETRAP_INDIRECT; break;
    case WASM_RT_TRAP_EXHAUSTION:
    case IPVM__TRAP_STACK_HOST: e = IPVM_ETRAP_STACK; break;
    case IPVM__TRAP_FUEL:
        e = i && atomic_load(&i->timed_out) ? IPVM_ETRAP_TIMEOUT : IPVM_ETRAP_FUEL;
        break;
    case IPVM__TRAP_MEMLIMIT:
    case IPVM__TRAP_NOMEM: e = IPVM_ETRAP_MEMORY; break;
    case IPVM__TRAP_EXIT: e = IPVM_ETRAP_EXIT; break;
    default: e = IPVM_ETRAP; break;
    }
    char msg[200] = "";
    if (e == IPVM_ETRAP_TIMEOUT && i)
        snprintf(msg, sizeof msg, "wall-clock limit of %llu ms reached",
                 (unsigned long long)i->time_ms);
    else if (e == IPVM_ETRAP_FUEL && i)
        snprintf(msg, sizeof msg, "fuel limit of %lld units used up", (long long)i->fuel_start);
    else if (code == IPVM__TRAP_MEMLIMIT && i)
        snprintf(msg, sizeof msg, "the module's initial memory exceeds the memory limit of "
                 "%llu bytes", (unsigned long long)i->mem_cap_pages * 65536);
    else if (code == IPVM__TRAP_EXIT && i)
        snprintf(msg, sizeof msg, "the guest called proc_exit(%d)", i->exit_code);
    else if (e == IPVM_ETRAP_UNREACHABLE && i && i->mem_refused) {
        /* the guest's allocator gave up after memory.grow was refused by our limit */
        e = IPVM_ETRAP_MEMORY;
        snprintf(msg, sizeof msg, "memory.grow past the limit of %llu bytes was refused and "
                 "the guest then trapped (unreachable)",
                 (unsigned long long)i->mem_cap_pages * 65536);
    } else if (code == IPVM__TRAP_HOST && i && i->trap_msg[0])
        snprintf(msg, sizeof msg, "%s", i->trap_msg);
    else
        snprintf(msg, sizeof msg, "%s", why);
    if (i)
        i->trapped = e;
    return ipvm_error_set(err, e, IPVM_NO_OFFSET, "%s", msg);
}

int ipvm__code_init(ipvm__code_t *code, ipvm_error_t *err)
{
    call_t c = {0, code, NULL, NULL, NULL, NULL};
    int t = guarded(&c, err);
    if (t < 0)
        return t;
    return t ? trap_error(NULL, t, err) : 0;
}

/* ---- the timer ----------------------------------------------------------------------------- */
static uint64_t now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define STOP_RETRY_NS 2000000ull /* the stop signal is sent again this often */

/* Stops a running instance: at its next tick by raising its fuel floor (tcc code, and gcc code
 * without the r15 counter), or with the stop signal to its thread (gcc code on x86-64, whose
 * ticks read no floor; rt.c, on_stop). Both go to the instance only while it runs (under
 * fuel_lock, which end() takes before the thread can move on to another instance, so the
 * thread the signal goes to is alive). Returns true while the instance still runs code that
 * only the signal stops: the signal does nothing when it lands outside the guest's own code,
 * so the timer sends it again. */
static bool stop(ipvm__wasm_instance_t *i)
{
    bool again = false;
    fuel_lock(i);
    volatile int64_t *f = atomic_load(&i->floor_at);
    if (f && *f != INT64_MAX) {
        *f = INT64_MAX;
        atomic_fetch_add(&ipvm__wasm_stats.timer_stops, 1);
    }
    if (f && i->code && IPVM__STOP_BY_SIGNAL(i->code)) {
        /* one signal in flight at a time: a thread that is not scheduled for a while must
         * not find a queue of them when it runs again */
        if (!atomic_exchange(&i->rt->stop_pending, true) &&
            pthread_kill(i->thread, IPVM__RT_STOP_SIGNAL) != 0)
            atomic_store(&i->rt->stop_pending, false);
        again = true;
    }
    fuel_unlock(i);
    return again;
}

static void *timer_main(void *arg)
{
    ipvm_wasm_engine_t *e = arg;
    pthread_mutex_lock(&e->lock);
    while (!e->stopping) {
        uint64_t now = now_mono(), next = UINT64_MAX;
        for (ipvm__wasm_instance_t *i = e->timed; i; i = i->tnext) {
            if (i->deadline_ns <= now) {
                atomic_store(&i->timed_out, true);
                if (stop(i) && now + STOP_RETRY_NS < next)
                    next = now + STOP_RETRY_NS;
            } else if (i->deadline_ns < next) {
                next = i->deadline_ns;
            }
        }
        e->timer_next = next;
        if (next == UINT64_MAX) {
            pthread_cond_wait(&e->timer_cond, &e->lock);
        } else {
            struct timespec ts = {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)};
            pthread_cond_timedwait(&e->timer_cond, &e->lock, &ts);
        }
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

static int timer_add(ipvm__wasm_instance_t *i, ipvm_error_t *err)
{
    ipvm_wasm_engine_t *e = i->module->engine;
    pthread_mutex_lock(&e->lock);
    if (!e->timer_started) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_destroy(&e->timer_cond);
        pthread_cond_init(&e->timer_cond, &ca);
        pthread_condattr_destroy(&ca);
        e->timer_next = UINT64_MAX;
        if (pthread_create(&e->timer, NULL, timer_main, e) != 0) {
            pthread_mutex_unlock(&e->lock);
            return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "cannot start the timer");
        }
        e->timer_started = true;
    }
    i->tprev = NULL;
    i->tnext = e->timed;
    if (e->timed)
        e->timed->tprev = i;
    e->timed = i;
    if (i->deadline_ns < e->timer_next) {
        e->timer_next = i->deadline_ns;
        pthread_cond_signal(&e->timer_cond);
    }
    pthread_mutex_unlock(&e->lock);
    return 0;
}

static void timer_remove(ipvm__wasm_instance_t *i)
{
    ipvm_wasm_engine_t *e = i->module->engine;
    pthread_mutex_lock(&e->lock);
    if (i->tprev)
        i->tprev->tnext = i->tnext;
    else
        e->timed = i->tnext;
    if (i->tnext)
        i->tnext->tprev = i->tprev;
    pthread_mutex_unlock(&e->lock);
}

/* ---- instances ------------------------------------------------------------------------------ */
static void effective_limits(const ipvm_wasm_engine_t *e, const ipvm_wasm_limits_t *in,
                             ipvm_wasm_limits_t *out)
{
    *out = e->defaults;
    if (in && in->fuel)
        out->fuel = in->fuel;
    if (in && in->memory)
        out->memory = in->memory;
    if (in && in->time_ms)
        out->time_ms = in->time_ms;
}

/* A reactor module (WASI) exports `_initialize` () -> (): it runs once per instance, before
 * any other export is called. Its trap is the instantiation's error. */
static int reactor_init(ipvm__wasm_instance_t *i, ipvm_error_t *err)
{
    const ipvm__wasm_info_t *in = &i->module->info;
    for (uint32_t k = 0; k < in->nexports; k++) {
        const ipvm__wasm_export_t *x = &in->exports[k];
        if (x->name_len == 11 && memcmp(x->name, "_initialize", 11) == 0 && x->callable &&
            x->nparams == 0 && x->nresults == 0)
            return ipvm__wasm_invoke(i, k, NULL, NULL, err);
    }
    return 0;
}

static int instantiate_code(ipvm_wasm_module_t *m, const ipvm__code_t *code,
                            const ipvm_wasm_limits_t *limits, ipvm__wasm_instance_t **out,
                            ipvm_error_t *err)
{
    ipvm_wasm_limits_t lim;
    effective_limits(m->engine, limits, &lim);
    ipvm__wasm_instance_t *i = ipvm_calloc(1, sizeof *i + code->glue->instance_size);
    if (i == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    ipvm_wasm_module_retain(m);
    i->module = m;
    i->code = code;
    i->fuel_start = lim.fuel >= (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)lim.fuel;
    i->fuel_left = i->fuel_start;
    uint64_t pages = lim.memory / 65536;
    i->mem_cap_pages = pages > IPVM__WASM_MAX_PAGES ? IPVM__WASM_MAX_PAGES : (uint32_t)pages;
    i->pool = &m->pool;
    i->time_ms = lim.time_ms;
    i->created_ns = now_mono();
    i->deadline_ns = lim.time_ms >= UINT64_MAX / 2000000 ? UINT64_MAX / 2
                                                          : i->created_ns + lim.time_ms * 1000000;
    atomic_flag_clear(&i->fuel_lock);
    ipvm_buf_init(&i->log);
    int rc = timer_add(i, err);
    if (rc) {
        ipvm_wasm_module_release(m);
        ipvm_free(i);
        return rc;
    }
    call_t c = {1, code, i, NULL, NULL, NULL};
    int t = guarded(&c, err);
    if (t != 0) {
        rc = t < 0 ? t : trap_error(i, t, err);
        code->glue->free(i->guest); /* tolerates what a trapped instantiate left */
        timer_remove(i);
        ipvm_buf_dispose(&i->log);
        ipvm_wasm_module_release(m);
        ipvm_free(i);
        return rc;
    }
    i->instantiated = true;
    if ((rc = reactor_init(i, err)) != 0) {
        ipvm__wasm_instance_free(i);
        return rc;
    }
    *out = i;
    return 0;
}

int ipvm__wasm_invoke(ipvm__wasm_instance_t *i, uint32_t export_index, const uint64_t *args,
                      uint64_t *results, ipvm_error_t *err)
{
    if (i->trapped)
        return ipvm_error_set(err, i->trapped, IPVM_NO_OFFSET,
                              "this instance trapped before and was discarded");
    if (export_index >= i->module->info.nexports || !i->module->info.exports[export_index].callable)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "export %u is not callable",
                              export_index);
    ipvm__tramp_t tramp = i->code->glue->exports[export_index];
    if (tramp == NULL)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "export %u is not callable",
                              export_index);
    call_t c = {2, i->code, i, tramp, args, results};
    int t = guarded(&c, err);
    if (t < 0)
        return t;
    return t ? trap_error(i, t, err) : 0;
}

int ipvm__wasm_instantiate(ipvm_wasm_module_t *m, const ipvm_wasm_limits_t *limits,
                           ipvm__wasm_instance_t **out, ipvm_error_t *err)
{
    *out = NULL;
    const ipvm__code_t *code;
    int rc = ipvm__module_code(m, NULL, 0, &code, err);
    return rc ? rc : instantiate_code(m, code, limits, out, err);
}

/* An instance for calls of the exports need[0..n) (and what the canonical ABI calls): on the
 * tcc tier, of only the functions they reach. */
static int instantiate_for(ipvm_wasm_module_t *m, const uint32_t *need, size_t n,
                           const ipvm_wasm_limits_t *limits, ipvm__wasm_instance_t **out,
                           ipvm_error_t *err)
{
    *out = NULL;
    const ipvm__code_t *code;
    int rc = ipvm__module_code(m, need, n, &code, err);
    return rc ? rc : instantiate_code(m, code, limits, out, err);
}

uint8_t *ipvm__wasm_memory(ipvm__wasm_instance_t *i, uint64_t *size)
{
    wasm_rt_memory_t *mem = i->code->glue->memory(i->guest);
    if (mem == NULL || mem->data == NULL) {
        *size = 0;
        return NULL;
    }
    *size = mem->size;
    return mem->data;
}

void *ipvm__instance_rt_memory(ipvm__wasm_instance_t *i)
{
    return i->code->glue->memory(i->guest);
}

uint64_t ipvm__wasm_fuel_used(ipvm__wasm_instance_t *i)
{
    /* (a stop signal that landed in the glue, outside the guest's code, saved whatever r15
     * held: a timed-out call reports at most all of its fuel) */
    int64_t left = i->fuel_left < 0 ? 0 : i->fuel_left > i->fuel_start ? i->fuel_start
                                                                        : i->fuel_left;
    return (uint64_t)(i->fuel_start - left);
}

const char *ipvm__wasm_log(ipvm__wasm_instance_t *i, size_t *len)
{
    if (len)
        *len = i->log.len;
    return i->log.data ? (const char *)i->log.data : "";
}

void ipvm__instance_log(ipvm__wasm_instance_t *i, const char *s, size_t n)
{
    if (i->log_truncated)
        return;
    size_t room = LOG_CAP - i->log.len;
    if (n > room) {
        n = room;
        i->log_truncated = true;
    }
    if (ipvm_buf_append(&i->log, s, n) != 0)
        i->log_truncated = true;
    if (i->log_truncated && ipvm_buf_append_str(&i->log, "\n[log truncated]\n") != 0)
        return; /* nothing more can be said */
}

ipvm_wasm_module_t *ipvm__wasm_instance_module(ipvm__wasm_instance_t *i)
{
    return i->module;
}

void ipvm__wasm_instance_free(ipvm__wasm_instance_t *i)
{
    if (i == NULL)
        return;
    timer_remove(i);
    if (i->instantiated)
        i->code->glue->free(i->guest);
    ipvm_buf_dispose(&i->log);
    ipvm_wasm_module_release(i->module);
    ipvm_free(i);
}

/* Called by the import thunks of generated code, on the guest's thread. */
__attribute__((visibility("default"))) void ipvm_rt_host_call(void *host, uint32_t index,
                                                              const uint64_t *args,
                                                              uint64_t *results)
{
    ipvm__wasm_instance_t *i = host;
    ipvm__rt_thread_t *t = ipvm__rt_thread();
    char probe;
    /* host code must not overflow the stack (a trap out of it could leave locks held) */
    if ((uintptr_t)&probe < t->stack_lo + HOST_STACK_NEED)
        wasm_rt_trap((wasm_rt_trap_t)IPVM__TRAP_STACK_HOST);
    ipvm__host_fn_t fn = ipvm__module_host_fn(i->module, index);
    int code = fn ? fn(i, args, results) : IPVM__TRAP_HOST;
    if (code != 0)
        wasm_rt_trap((wasm_rt_trap_t)code);
}

/* ---- ipvm_wasm_call ------------------------------------------------------------------------ */
static int lower_arg(const ipvm_ipld_t *v, uint8_t type, uint64_t *out, size_t k,
                     ipvm_error_t *err)
{
    int64_t s;
    uint64_t u;
    double d;
    bool is_int = v->kind == IPVM_IPLD_INT;
    if (v->kind == IPVM_IPLD_BOOL && (type == IPVM__WASM_I32 || type == IPVM__WASM_I64)) {
        *out = v->u.boolean;
        return 0;
    }
    switch (type) {
    case IPVM__WASM_I32:
    case IPVM__WASM_I64:
        if (!is_int)
            break;
        if (v->u.integer.neg) {
            if (ipvm_ipld_get_i64(v, &s) != 0 ||
                (type == IPVM__WASM_I32 && s < INT32_MIN))
                goto range;
            *out = type == IPVM__WASM_I32 ? (uint32_t)(int32_t)s : (uint64_t)s;
        } else {
            u = v->u.integer.mag;
            if (type == IPVM__WASM_I32 && u > UINT32_MAX)
                goto range;
            *out = u;
        }
        return 0;
    case IPVM__WASM_F32:
    case IPVM__WASM_F64:
        if (v->kind == IPVM_IPLD_FLOAT)
            d = v->u.f;
        else if (is_int)
            d = v->u.integer.neg ? -1.0 - (double)v->u.integer.mag : (double)v->u.integer.mag;
        else
            break;
        if (type == IPVM__WASM_F32) {
            float f = (float)d;
            uint32_t b;
            memcpy(&b, &f, 4);
            *out = b;
        } else {
            memcpy(out, &d, 8);
        }
        return 0;
    default:
        break;
    }
    return ipvm_error_set(err, IPVM_EABI, IPVM_NO_OFFSET, "argument %zu: a %s does not fit %s",
                          k, ipvm_ipld_kind_name(v->kind), ipvm__wasm_valtype_name(type));
range:
    return ipvm_error_set(err, IPVM_EABI, IPVM_NO_OFFSET, "argument %zu: integer out of range "
                          "for %s", k, ipvm__wasm_valtype_name(type));
}

static ipvm_ipld_t *lift_result(ipvm_arena_t *a, uint8_t type, uint64_t v)
{
    switch (type) {
    case IPVM__WASM_I32:
        return ipvm_ipld_new_int(a, (int32_t)(uint32_t)v);
    case IPVM__WASM_I64:
        return ipvm_ipld_new_int(a, (int64_t)v);
    case IPVM__WASM_F32: {
        float f;
        uint32_t b = (uint32_t)v;
        memcpy(&f, &b, 4);
        return ipvm_ipld_new_float(a, f);
    }
    default: {
        double d;
        memcpy(&d, &v, 8);
        return ipvm_ipld_new_float(a, d);
    }
    }
}

static int not_found(ipvm_wasm_module_t *m, const char *func, ipvm_error_t *err)
{
    char list[200] = "";
    size_t o = 0;
    for (uint32_t k = 0; k < m->info.nexports && o < sizeof list - 40; k++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", k ? ", " : "",
                              m->info.exports[k].name);
    return ipvm_error_set(err, IPVM_ENOFUNC, IPVM_NO_OFFSET,
                          "the module exports no function \"%s\" (it exports: %s)", func,
                          list[0] ? list : "nothing");
}

/* A core module without WIT types: numbers in, numbers out. */
static int plain_call(ipvm_wasm_module_t *m, ipvm__wasm_instance_t *i, const char *func,
                      const ipvm_ipld_t *args, ipvm_arena_t *arena, ipvm_ipld_t **result,
                      ipvm_error_t *err)
{
    long idx = ipvm__wasm_abi_resolve(m, func);
    if (idx < 0)
        return not_found(m, func, err);
    const ipvm__wasm_export_t *x = &m->info.exports[idx];
    if (!x->callable)
        return ipvm_error_set(err, IPVM_EABI, IPVM_NO_OFFSET,
                              "%s has a signature ipvm cannot call with IPLD values", x->name);
    size_t nargs = args && args->kind == IPVM_IPLD_LIST ? args->u.list.len : 0;
    if (args && args->kind != IPVM_IPLD_LIST && args->kind != IPVM_IPLD_NULL)
        return ipvm_error_set(err, IPVM_EABI, IPVM_NO_OFFSET, "arguments must be a list");
    if (nargs != x->nparams)
        return ipvm_error_set(err, IPVM_EABI, IPVM_NO_OFFSET, "%s takes %u argument%s, got %zu",
                              x->name, x->nparams, x->nparams == 1 ? "" : "s", nargs);
    uint64_t a[IPVM__WASM_MAX_PARAMS], r[IPVM__WASM_MAX_RESULTS];
    int rc;
    for (size_t k = 0; k < nargs; k++)
        if ((rc = lower_arg(args->u.list.items[k], x->params[k], &a[k], k, err)) != 0)
            return rc;
    if ((rc = ipvm__wasm_invoke(i, (uint32_t)idx, a, r, err)) != 0)
        return rc;
    if (x->nresults == 0) {
        *result = ipvm_ipld_new_null(arena);
    } else if (x->nresults == 1) {
        *result = lift_result(arena, x->results[0], r[0]);
    } else {
        *result = ipvm_ipld_new_list(arena, x->nresults);
        for (uint32_t k = 0; *result && k < x->nresults; k++) {
            ipvm_ipld_t *v = lift_result(arena, x->results[k], r[k]);
            if (!v || ipvm_ipld_list_push(arena, *result, v) != 0)
                *result = NULL;
        }
    }
    return *result ? 0 : ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
}

int ipvm_wasm_call(ipvm_wasm_module_t *m, const char *func, const ipvm_ipld_t *args,
                   const ipvm_wasm_limits_t *limits, ipvm_arena_t *arena, ipvm_wasm_result_t *out,
                   ipvm_error_t *err)
{
    memset(out, 0, sizeof *out);
    out->log = "";
    uint64_t t0 = now_mono();
    ipvm__wasm_instance_t *i;
    long idx = ipvm__wasm_abi_resolve(m, func);
    uint32_t need = idx >= 0 ? (uint32_t)idx : 0;
    int rc = instantiate_for(m, &need, idx >= 0 ? 1 : 0, limits, &i, err);
    if (rc) {
        out->time_ns = now_mono() - t0;
        return rc;
    }
    if (m->abi)
        rc = ipvm__wasm_abi_call(m, i, func, args, arena, &out->value, err);
    else
        rc = plain_call(m, i, func, args, arena, &out->value, err);
    out->time_ns = now_mono() - t0;
    out->fuel_used = ipvm__wasm_fuel_used(i);
    size_t n;
    const char *log = ipvm__wasm_log(i, &n);
    char *copy = n ? ipvm_arena_strndup(arena, log, n) : NULL;
    if (copy) {
        out->log = copy;
        out->log_len = n;
    }
    ipvm__wasm_instance_free(i);
    return rc;
}
