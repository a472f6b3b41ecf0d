/* SPDX-License-Identifier: Apache-2.0 */
/* bench_abi: what does the canonical ABI cost around a call? Lowering IPLD arguments into guest
 * memory and lifting results out, against the plain memcpy of the same bytes (the peer, in the
 * same run); per-element lists against a C loop; parsing the WIT types of a module. Guest
 * memory is a plain buffer (the engine's memory is the same: one mapping). */
#include "unit/wasm/abi_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static ipvm__wit_func_t *func_of(ipvm_arena_t *a, const ipvm__wit_type_t *t)
{
    ipvm__wit_func_t *f = ipvm_arena_calloc(a, 1, sizeof *f);
    f->nparams = f->nresults = 1;
    f->params = ipvm_arena_calloc(a, 1, sizeof *f->params);
    f->results = ipvm_arena_calloc(a, 1, sizeof *f->results);
    f->params[0] = (ipvm__wit_param_t){"x", t};
    f->results[0].type = t;
    if (ipvm__wit_func_finish(a, f) < 0)
        exit(1);
    return f;
}

static const ipvm__wit_type_t *list_of(ipvm_arena_t *a, ipvm__wit_kind_t k)
{
    const ipvm__wit_type_t **e = ipvm_arena_calloc(a, 1, sizeof *e);
    e[0] = ipvm__wit_prim(k);
    const char *why;
    return ipvm__wit_type_new(a, IPVM__WIT_LIST, 1, e, NULL, &why);
}

/* Lower then lift one value `reps` times; returns the fastest lower and lift, in seconds
 * (the minimum: this machine's first-touch page faults are slow and noisy). */
static void roundtrip(const ipvm__wit_func_t *f, const ipvm_ipld_t *args, int reps, abi_buf_t *m,
                      double *lower_s, double *lift_s)
{
    ipvm__abi_mem_t mem = m->m;
    double tl = 1e9, tf = 1e9;
    for (int r = 0; r < reps; r++) {
        uint64_t flat[16];
        ipvm_error_t err;
        m->next = 64;
        double t0 = now();
        if (ipvm__abi_lower_args(f, &mem, args, flat, &err) != 0) {
            fprintf(stderr, "lower: %s\n", err.msg);
            exit(1);
        }
        double t1 = now();
        /* the lowered (ptr, len) is what a guest would return through its return area */
        uint32_t *ret = (uint32_t *)(m->mem + 16);
        ret[0] = (uint32_t)flat[0], ret[1] = (uint32_t)flat[1];
        uint64_t res[1] = {16};
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_ipld_t *v;
        mem.lifted = 0;
        double t2 = now();
        if (ipvm__abi_lift_results(f, &mem, res, &a, &v, &err) != 0) {
            fprintf(stderr, "lift: %s\n", err.msg);
            exit(1);
        }
        double t3 = now();
        ipvm_arena_dispose(&a);
        if (t1 - t0 < tl)
            tl = t1 - t0;
        if (t3 - t2 < tf)
            tf = t3 - t2;
    }
    *lower_s = tl, *lift_s = tf;
}

int main(void)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    abi_buf_t m = {calloc(1, 64 << 20), 64 << 20, 64, 0, {0}};
    abi_buf_wire(&m);
    ipvm_buf_t img = IPVM_BUF_INIT;
    ipvm_error_t err;
    if (!m.mem || ipvm_file_read(IPVM_SOURCE_DIR "/tests/vectors/homestar/data/synthcat.png",
                                  &img, &err) != 0) {
        fprintf(stderr, "bench_abi: %s\n", err.msg);
        return 1;
    }
    int reps = 200;
    printf("%-44s %12s %12s %8s\n", "operation", "ipvm", "peer", "ratio");

    /* list<u8> from IPLD bytes (an image) vs memcpy of the same bytes */
    ipvm_ipld_t *args = ipvm_ipld_new_list(&a, 1);
    if (ipvm_ipld_list_push(&a, args, ipvm_ipld_new_bytes(&a, img.data, img.len)) != 0)
        return 1;
    double lo, li;
    roundtrip(func_of(&a, list_of(&a, IPVM__WIT_U8)), args, reps, &m, &lo, &li);
    /* peers: memcpy into a buffer in place (lowering writes into existing guest memory), and
     * malloc + memcpy + free (lifting copies into fresh IPLD memory) */
    uint8_t *dst = malloc(img.len);
    double mc = 1e9, mm = 1e9, t0;
    for (int r = 0; r < reps; r++) {
        t0 = now();
        memcpy(dst, img.data, img.len);
        __asm__ volatile("" : : "r"(dst) : "memory");
        double t1 = now();
        uint8_t *fresh = malloc(img.len);
        memcpy(fresh, img.data, img.len);
        __asm__ volatile("" : : "r"(fresh) : "memory");
        free(fresh);
        double t2 = now();
        if (t1 - t0 < mc)
            mc = t1 - t0;
        if (t2 - t1 < mm)
            mm = t2 - t1;
    }
    printf("%-44s %9.1f us %9.1f us %7.2fx\n", "lower list<u8> 1.8 MB (peer: memcpy)", lo * 1e6,
           mc * 1e6, lo / mc);
    printf("%-44s %9.1f us %9.1f us %7.2fx\n", "lift list<u8> 1.8 MB (peer: malloc+memcpy)",
           li * 1e6, mm * 1e6, li / mm);

    /* list<u16> of 100k integers: the per-element path vs a C loop storing u16 */
    int n = 100000;
    ipvm_ipld_t *nums = ipvm_ipld_new_list(&a, (size_t)n);
    for (int i = 0; i < n; i++)
        if (ipvm_ipld_list_push(&a, nums, ipvm_ipld_new_int(&a, i & 0xffff)) != 0)
            return 1;
    ipvm_ipld_t *args2 = ipvm_ipld_new_list(&a, 1);
    if (ipvm_ipld_list_push(&a, args2, nums) != 0)
        return 1;
    roundtrip(func_of(&a, list_of(&a, IPVM__WIT_U16)), args2, 20, &m, &lo, &li);
    uint16_t *u16 = malloc((size_t)n * 2);
    double loop = 1e9;
    for (int r = 0; r < 20; r++) {
        t0 = now();
        for (int i = 0; i < n; i++) {
            uint64_t mag = nums->u.list.items[i]->u.integer.mag;
            u16[i] = (uint16_t)mag;
        }
        __asm__ volatile("" : : "r"(u16) : "memory");
        if (now() - t0 < loop)
            loop = now() - t0;
    }
    printf("%-44s %9.1f us %9.1f us %7.2fx\n", "lower list<u16> 100k items (peer: C loop)",
           lo * 1e6, loop * 1e6, lo / loop);
    printf("%-44s %9.1f us %12s %8s\n", "lift list<u16> 100k items (IPLD nodes)", li * 1e6, "-", "-");

    /* parsing the WIT types of example_test.wasm (its component-type section) */
    ipvm_buf_t mod = IPVM_BUF_INIT;
    if (ipvm_file_read(IPVM_SOURCE_DIR "/tests/vectors/homestar/wasm/example_test_component.wasm",
                       &mod, &err) != 0)
        return 1;
    t0 = now();
    for (int r = 0; r < 200; r++) {
        ipvm__abi_t abi;
        const uint8_t *core;
        size_t core_len;
        ipvm__abi_init(&abi);
        if (ipvm__abi_parse_component(&abi, mod.data, mod.len, &core, &core_len, &err) != 0)
            return 1;
        ipvm__abi_dispose(&abi);
    }
    printf("%-44s %9.1f us %12s %8s\n", "parse example_test_component.wasm types",
           (now() - t0) / 200 * 1e6, "-", "-");
    free(dst);
    free(u16);
    free(m.mem);
    ipvm_buf_dispose(&img);
    ipvm_buf_dispose(&mod);
    ipvm_arena_dispose(&a);
    return 0;
}
