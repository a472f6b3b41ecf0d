/* SPDX-License-Identifier: Apache-2.0 */
/* The native test executor declared in fake_exec.h. */
#define _GNU_SOURCE
#include "fake_exec.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

static int f_load(void *data, const char *rsc, void **module, ipvm_error_t *err)
{
    fake_exec_t *f = data;
    size_t n = strlen(rsc);
    if (n >= 8 && strcmp(rsc + n - 8, "/missing") == 0)
        return ipvm_error_set(err, IPVM_ENORESOURCE, IPVM_NO_OFFSET,
                              "%s is not in the blockstore; add it with 'ipvm add FILE'", rsc);
    __atomic_add_fetch(&f->loads, 1, __ATOMIC_SEQ_CST);
    *module = f;
    return 0;
}

static void f_release(void *data, void *module)
{
    (void)data;
    (void)module;
}

static int f_fetch(void *data, const ipvm_cid_t *cid, ipvm_buf_t *out, ipvm_error_t *err)
{
    (void)cid;
    (void)err;
    fake_exec_t *f = data;
    __atomic_add_fetch(&f->fetches, 1, __ATOMIC_SEQ_CST);
    return ipvm_buf_append(out, "\x89PNG....", 8);
}

static int arg_i64(const ipvm_ipld_t *args, size_t i, int64_t *v)
{
    if (args->u.list.len <= i)
        return IPVM_EABI;
    return ipvm_ipld_get_i64(args->u.list.items[i], v) == 0 ? 0 : IPVM_EABI;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int dispatch(const char *func, const ipvm_ipld_t *args, const ipvm_wasm_limits_t *limits,
                    ipvm_arena_t *arena, ipvm_wasm_result_t *out, ipvm_error_t *err)
{
    int64_t v = 0;
    if (strcmp(func, "add_one") == 0 || strcmp(func, "add_two") == 0) {
        out->fuel_used = 10;
        if (arg_i64(args, 0, &v) != 0)
            return ipvm_error_set(err, IPVM_EABI, IPVM_NO_OFFSET, "%s: args[0] is not an s32",
                                  func);
        out->value = ipvm_ipld_new_int(arena, v + (func[4] == 'o' ? 1 : 2));
        return 0;
    }
    if (strcmp(func, "echo") == 0) {
        out->value = (ipvm_ipld_t *)args;
        return 0;
    }
    if (strcmp(func, "fail") == 0) {
        out->fuel_used = 3;
        return ipvm_error_set(err, IPVM_ETRAP_UNREACHABLE, IPVM_NO_OFFSET,
                              "fail: unreachable executed in function 0");
    }
    if (strcmp(func, "sleep") == 0) {
        if (arg_i64(args, 0, &v) != 0)
            v = 0;
        if (limits->time_ms && (uint64_t)v > limits->time_ms) {
            sleep_ms(limits->time_ms);
            return ipvm_error_set(err, IPVM_ETRAP_TIMEOUT, IPVM_NO_OFFSET,
                                  "sleep: wall-clock limit of %llu ms reached",
                                  (unsigned long long)limits->time_ms);
        }
        sleep_ms((uint64_t)v);
        out->value = ipvm_ipld_new_null(arena);
        return 0;
    }
    if (strcmp(func, "size") == 0) {
        const ipvm_ipld_t *b = args->u.list.len ? args->u.list.items[0] : NULL;
        if (b == NULL || b->kind != IPVM_IPLD_BYTES)
            return ipvm_error_set(err, IPVM_EABI, IPVM_NO_OFFSET, "size: args[0] is not bytes");
        out->value = ipvm_ipld_new_uint(arena, b->u.str.len);
        return 0;
    }
    return ipvm_error_set(err, IPVM_ENOFUNC, IPVM_NO_OFFSET, "no export named \"%s\"", func);
}

static int f_call(void *data, void *module, const char *func, const ipvm_ipld_t *args,
                  const ipvm_wasm_limits_t *limits, ipvm_arena_t *arena, ipvm_wasm_result_t *out,
                  ipvm_error_t *err)
{
    fake_exec_t *f = data;
    (void)module;
    __atomic_add_fetch(&f->calls, 1, __ATOMIC_SEQ_CST);
    int now = __atomic_add_fetch(&f->concurrent, 1, __ATOMIC_SEQ_CST);
    int max = __atomic_load_n(&f->max_concurrent, __ATOMIC_SEQ_CST);
    while (now > max &&
           !__atomic_compare_exchange_n(&f->max_concurrent, &max, now, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
        ;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    f->last_limits = *limits;
    pthread_mutex_unlock(&lock);
    memset(out, 0, sizeof *out);
    out->log = "";
    int rc = dispatch(func, args, limits, arena, out, err);
    __atomic_sub_fetch(&f->concurrent, 1, __ATOMIC_SEQ_CST);
    return rc;
}

ipvm_sched_executor_t fake_exec(fake_exec_t *f)
{
    ipvm_sched_executor_t e = {f, f_load, f_release, f_fetch, f_call};
    return e;
}
