/* SPDX-License-Identifier: Apache-2.0 */
/* Host functions a guest may import: wasi:logging/logging.log and homestar:host/helpers@0.1.1
 * (get-current-time, print), lowered by the canonical ABI as wit-bindgen 0.21 imports them,
 * and a WASI preview 1 subset (fd_write to the task log, clocks, random, empty args and
 * environ, proc_exit; ENOSYS for the rest). Every guest pointer and length is checked against
 * the instance's memory before use: bad ones trap (canonical ABI) or return EFAULT (WASI). */
#define _GNU_SOURCE
#include "wasm/core_int.h"

#include <wasm-rt.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* WASI preview 1 errno values (wasi_snapshot_preview1.witx) */
#define WASI_ESUCCESS 0
#define WASI_EBADF 8
#define WASI_EFAULT 21
#define WASI_EINVAL 28
#define WASI_ENOSYS 52
#define WASI_ESPIPE 70

/* Returns the host address of guest bytes [ptr, ptr+len), or NULL when out of bounds. */
static uint8_t *guest(ipvm__wasm_instance_t *i, uint64_t ptr, uint64_t len)
{
    uint64_t size;
    uint8_t *base = ipvm__wasm_memory(i, &size);
    if (base == NULL || ptr > size || len > size - ptr)
        return NULL;
    return base + ptr;
}

static int refuse(ipvm__wasm_instance_t *i, const char *fmt, ...) IPVM_PRINTF(2, 3);
static int refuse(ipvm__wasm_instance_t *i, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(i->trap_msg, sizeof i->trap_msg, fmt, ap);
    va_end(ap);
    return IPVM__TRAP_HOST;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4); /* Wasm memory is little-endian, as is every host ipvm runs on */
}

static void put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* ---- wasi:logging and homestar:host/helpers ------------------------------------------------ */
/* log: func(level: level, context: string, message: string), flattened to 5 x i32 */
static int h_log(ipvm__wasm_instance_t *i, const uint64_t *a, uint64_t *r)
{
    (void)r;
    static const char *const levels[] = {"trace", "debug", "info", "warn", "error", "critical"};
    uint32_t level = (uint32_t)a[0];
    if (level > 5)
        return refuse(i, "wasi:logging/logging.log: invalid level %u", level);
    const uint8_t *ctx = guest(i, (uint32_t)a[1], (uint32_t)a[2]);
    const uint8_t *msg = guest(i, (uint32_t)a[3], (uint32_t)a[4]);
    if (!ctx || !msg)
        return refuse(i, "wasi:logging/logging.log: string out of bounds");
    char head[32];
    int n = snprintf(head, sizeof head, "[%s] ", levels[level]);
    ipvm__instance_log(i, head, (size_t)n);
    ipvm__instance_log(i, (const char *)ctx, (uint32_t)a[2]);
    ipvm__instance_log(i, ": ", 2);
    ipvm__instance_log(i, (const char *)msg, (uint32_t)a[4]);
    ipvm__instance_log(i, "\n", 1);
    ipvm_log(IPVM_LOG_DEBUG, "guest", "[%s] %.*s: %.*s", levels[level], (int)(uint32_t)a[2],
             (const char *)ctx, (int)(uint32_t)a[4], (const char *)msg);
    return 0;
}

/* get-current-time: func() -> time {seconds: u64, milliseconds: u32, nanoseconds: u32}: the
 * record does not fit in one flat result, so the guest passes a pointer to 16 bytes (align 8).
 * compat: homestar-wasm/src/wasmtime/host/helpers.rs - the time since the store (here: the
 * instance) was created, as a Duration's secs, subsec_millis and subsec_nanos. */
static int h_get_current_time(ipvm__wasm_instance_t *i, const uint64_t *a, uint64_t *r)
{
    (void)r;
    uint32_t ret = (uint32_t)a[0];
    uint8_t *p = guest(i, ret, 16);
    if (p == NULL || ret % 8 != 0)
        return refuse(i, "get-current-time: return pointer %u out of bounds or misaligned", ret);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t el = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - i->created_ns;
    put_u64(p, el / 1000000000ull);
    put_u32(p + 8, (uint32_t)(el % 1000000000ull / 1000000ull));
    put_u32(p + 12, (uint32_t)(el % 1000000000ull));
    return 0;
}

/* print: func(msg: string) */
static int h_print(ipvm__wasm_instance_t *i, const uint64_t *a, uint64_t *r)
{
    (void)r;
    const uint8_t *s = guest(i, (uint32_t)a[0], (uint32_t)a[1]);
    if (s == NULL)
        return refuse(i, "helpers.print: string out of bounds");
    ipvm__instance_log(i, (const char *)s, (uint32_t)a[1]);
    ipvm__instance_log(i, "\n", 1);
    return 0;
}

/* ---- WASI preview 1 -------------------------------------------------------------------------- */
static int w_result(uint64_t *r, uint32_t e)
{
    r[0] = e;
    return 0;
}

/* fd_write(fd, iovs, iovs_len, nwritten) -> errno: stdout and stderr go to the task log */
static int w_fd_write(ipvm__wasm_instance_t *i, const uint64_t *a, uint64_t *r)
{
    uint32_t fd = (uint32_t)a[0], iovs = (uint32_t)a[1], n = (uint32_t)a[2];
    if (fd != 1 && fd != 2)
        return w_result(r, WASI_EBADF);
    const uint8_t *v = guest(i, iovs, (uint64_t)n * 8);
    uint8_t *out = guest(i, (uint32_t)a[3], 4);
    if (!v || !out)
        return w_result(r, WASI_EFAULT);
    uint64_t total = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t p = get_u32(v + 8 * k), len = get_u32(v + 8 * k + 4);
        const uint8_t *s = guest(i, p, len);
        if (s == NULL)
            return w_result(r, WASI_EFAULT);
        ipvm__instance_log(i, (const char *)s, len);
        total += len;
    }
    put_u32(out, (uint32_t)total);
    return w_result(r, WASI_ESUCCESS);
}

/* fd_fdstat_get(fd, buf) -> errno: 0..2 are character devices (wasi-libc asks for stdio) */
static int w_fd_fdstat_get(ipvm__wasm_instance_t *i, const uint64_t *a, uint64_t *r)
{
    if ((uint32_t)a[0] > 2)
        return w_result(r, WASI_EBADF);
    uint8_t *p = guest(i, (uint32_t)a[1], 24);
    if (p == NULL)
        return w_result(r, WASI_EFAULT);
    memset(p, 0, 24);
    p[0] = 2; /* filetype character_device */
    put_u64(p + 8, (uint32_t)a[0] == 0 ? 2 /* fd_read */ : 64 /* fd_write */);
    return w_result(r, WASI_ESUCCESS);
}

/* fd_prestat_get / fd_prestat_dir_name: no preopened directories. wasi-libc scans from fd 3
 * until EBADF, and gives up the whole program on any other error. */
static int w_ebadf(ipvm__wasm_instance_t *i, const uint64_t *a, uint64_t *r)
{
    (void)i;
    (void)a;
    return w_result(r, WASI_EBADF);
}

static int w_fd_seek(ipvm__wasm_instance_t *i, const uint64_t *a, uint64_t *r)
{
    (void)i;
    return w_result(r, (uint32_t)a[0] <= 2 ? WASI_ESPIPE : WASI_EBADF);
}

/* clock_time_get(id, precision: i64, time_ptr) -> errno */
static int w_clock_time_get(ipvm__wasm_instance_t *i, const uint64_t *a, uint64_t *r)
{
    static const clockid_t ids[4] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                                     CLOCK_THREAD_CPUTIME_ID};
    uint32_t id = (uint32_t)a[0];
    if (id > 3)
        return w_result(r, WASI_EINVAL);
    uint8_t *p = guest(i, (uint32_t)a[2], 8);
    if (p == NULL)
        return w_result(r, WASI_EFAULT);
    struct timespec ts;
    clock_gettime(ids[id], &ts);
    put_u64(p, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
    return w_result(r, WASI_ESUCCESS);
}

/* clock_res_get(id, res_ptr) -> errno */
static int w_clock_res_get(ipvm__wasm_instance_t *i, const uint64_t *a, uint64_t *r)
{
    if ((uint32_t)a[0] > 3)
        return w_result(r, WASI_EINVAL);
    uint8_t *p = guest(i, (uint32_t)a[1], 8);
    if (p == NULL)
        return w_result(r, WASI_EFAULT);
    put_u64(p, 1);
    return w_result(r, WASI_ESUCCESS);
}

/* random_get(buf, len) -> errno */
static int w_random_get(ipvm__wasm_instance_t *i, const uint64_t *a, uint64_t *r)
{
    uint32_t len = (uint32_t)a[1];
    uint8_t *p = guest(i, (uint32_t)a[0], len);
    if (p == NULL)
        return w_result(r, WASI_EFAULT);
    for (uint32_t got = 0; got < len;) {
        ssize_t n = getrandom(p + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return w_result(r, WASI_ENOSYS);
        }
        got += (uint32_t)n;
    }
    return w_result(r, WASI_ESUCCESS);
}

/* args_sizes_get / environ_sizes_get(count_ptr, bufsize_ptr) -> errno: nothing */
static int w_sizes_zero(ipvm__wasm_instance_t *i, const uint64_t *a, uint64_t *r)
{
    uint8_t *c = guest(i, (uint32_t)a[0], 4), *s = guest(i, (uint32_t)a[1], 4);
    if (!c || !s)
        return w_result(r, WASI_EFAULT);
    put_u32(c, 0);
    put_u32(s, 0);
    return w_result(r, WASI_ESUCCESS);
}

/* args_get / environ_get(ptrs, buf) -> errno: nothing to write */
static int w_get_empty(ipvm__wasm_instance_t *i, const uint64_t *a, uint64_t *r)
{
    (void)i;
    (void)a;
    return w_result(r, WASI_ESUCCESS);
}

static int w_sched_yield(ipvm__wasm_instance_t *i, const uint64_t *a, uint64_t *r)
{
    (void)i;
    (void)a;
    return w_result(r, WASI_ESUCCESS);
}

/* proc_exit(code): ends the call (IPVM_ETRAP_EXIT) */
static int w_proc_exit(ipvm__wasm_instance_t *i, const uint64_t *a, uint64_t *r)
{
    (void)r;
    i->exit_code = (int)(uint32_t)a[0];
    return IPVM__TRAP_EXIT;
}

static int w_enosys(ipvm__wasm_instance_t *i, const uint64_t *a, uint64_t *r)
{
    (void)i;
    (void)a;
    return w_result(r, WASI_ENOSYS);
}

/* ---- the table ----------------------------------------------------------------------------- */
typedef struct host_def_s {
    const char *module, *field;
    const char *sig; /* params ':' results, one letter each: i i32, I i64, f f32, d f64 */
    ipvm__host_fn_t fn;
} host_def_t;

static const host_def_t hosts[] = {
    {"wasi:logging/logging", "log", "iiiii:", h_log},
    {"homestar:host/helpers@0.1.1", "get-current-time", "i:", h_get_current_time},
    {"homestar:host/helpers@0.1.1", "print", "ii:", h_print},
    {"wasi_snapshot_preview1", "fd_write", "iiii:i", w_fd_write},
    {"wasi_snapshot_preview1", "fd_fdstat_get", "ii:i", w_fd_fdstat_get},
    {"wasi_snapshot_preview1", "fd_prestat_get", "ii:i", w_ebadf},
    {"wasi_snapshot_preview1", "fd_prestat_dir_name", "iii:i", w_ebadf},
    {"wasi_snapshot_preview1", "fd_seek", "iIii:i", w_fd_seek},
    {"wasi_snapshot_preview1", "clock_time_get", "iIi:i", w_clock_time_get},
    {"wasi_snapshot_preview1", "clock_res_get", "ii:i", w_clock_res_get},
    {"wasi_snapshot_preview1", "random_get", "ii:i", w_random_get},
    {"wasi_snapshot_preview1", "args_sizes_get", "ii:i", w_sizes_zero},
    {"wasi_snapshot_preview1", "args_get", "ii:i", w_get_empty},
    {"wasi_snapshot_preview1", "environ_sizes_get", "ii:i", w_sizes_zero},
    {"wasi_snapshot_preview1", "environ_get", "ii:i", w_get_empty},
    {"wasi_snapshot_preview1", "sched_yield", ":i", w_sched_yield},
    {"wasi_snapshot_preview1", "proc_exit", "i:", w_proc_exit},
};

static char letter(uint8_t t)
{
    return t == 0x7f ? 'i' : t == 0x7e ? 'I' : t == 0x7d ? 'f' : t == 0x7c ? 'd' : '?';
}

/* The import's signature in the letters of host_def_t.sig. */
static void sig_of(const ipvm__wasm_import_t *imp, char *out, size_t size)
{
    size_t o = 0;
    for (uint32_t k = 0; k < imp->nparams && k < IPVM__WASM_MAX_PARAMS && o + 2 < size; k++)
        out[o++] = letter(imp->params[k]);
    out[o++] = ':';
    for (uint32_t k = 0; k < imp->nresults && k < IPVM__WASM_MAX_RESULTS && o + 1 < size; k++)
        out[o++] = letter(imp->results[k]);
    out[o] = '\0';
}

bool ipvm__host_is_wasi(const char *module)
{
    return strcmp(module, "wasi_snapshot_preview1") == 0;
}

ipvm__host_fn_t ipvm__host_resolve(const ipvm__wasm_import_t *imp, const char **why)
{
    static _Thread_local char msg[200];
    char sig[48];
    sig_of(imp, sig, sizeof sig);
    bool too_long = imp->nparams > IPVM__WASM_MAX_PARAMS || imp->nresults > IPVM__WASM_MAX_RESULTS;
    bool module_known = false;
    for (size_t k = 0; k < sizeof hosts / sizeof hosts[0]; k++) {
        if (strcmp(hosts[k].module, imp->module) != 0)
            continue;
        module_known = true;
        if (strcmp(hosts[k].field, imp->field) != 0)
            continue;
        if (!too_long && strcmp(hosts[k].sig, sig) == 0)
            return hosts[k].fn;
        snprintf(msg, sizeof msg, "ipvm provides it with signature (%s), the module imports "
                 "(%s)", hosts[k].sig, sig);
        *why = msg;
        return NULL;
    }
    if (ipvm__host_is_wasi(imp->module) && !too_long && imp->nresults == 1 &&
        imp->results[0] == IPVM__WASM_I32)
        return w_enosys; /* the rest of WASI preview 1 answers ENOSYS */
    snprintf(msg, sizeof msg, "%s", module_known ? "ipvm has no such function in that interface"
             : "ipvm provides wasi:logging/logging, homestar:host/helpers@0.1.1 and "
               "wasi_snapshot_preview1 only");
    *why = msg;
    return NULL;
}
