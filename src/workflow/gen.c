/* SPDX-License-Identifier: Apache-2.0 */
/* A generator of synthetic workflows (chains and fans of one-argument functions such as
 * add_one), for the crash-safety test, the benchmark and `ipvm workflow gen`. Every task gets a
 * distinct nonce so that no two tasks are the same instruction. */
#include "workflow_int.h"

#include <stdio.h>
#include <string.h>

/* 12-byte nonce from a counter, as base32hex-lower text (20 characters). */
static ipvm_ipld_t *nonce(ipvm_arena_t *a, uint64_t n)
{
    uint8_t raw[12] = {'i', 'p', 'v', 'm'};
    for (int i = 0; i < 8; i++)
        raw[4 + i] = (uint8_t)(n >> (56 - 8 * i));
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_ipld_t *v = NULL;
    if (ipvm_base_encode(IPVM_BASE32HEX, raw, sizeof raw, &b) == 0)
        v = ipvm_ipld_new_string(a, (const char *)b.data, b.len);
    ipvm_buf_dispose(&b);
    return v;
}

/* One task map {cause, meta, prf, run} with arg (a value or a promise); sets *instr. */
static ipvm_ipld_t *gen_task(ipvm_arena_t *a, const ipvm__wf_gen_t *g, uint64_t index,
                             ipvm_ipld_t *arg, ipvm_cid_t *instr)
{
    ipvm_ipld_t *args = ipvm_ipld_new_list(a, 1), *input = ipvm_ipld_new_map(a, 2);
    ipvm_ipld_t *run = ipvm_ipld_new_map(a, 4), *task = ipvm_ipld_new_map(a, 4);
    ipvm_ipld_t *meta = ipvm_ipld_new_map(a, 1);
    if (!args || !input || !run || !task || !meta || ipvm_ipld_list_push(a, args, arg) != 0 ||
        ipvm_ipld_map_set_cstr(a, input, "args", args) != 0 ||
        ipvm_ipld_map_set_cstr(a, input, "func", ipvm_ipld_new_cstring(a, g->func)) != 0 ||
        ipvm_ipld_map_set_cstr(a, run, "input", input) != 0 ||
        ipvm_ipld_map_set_cstr(a, run, "nnc", nonce(a, index)) != 0 ||
        ipvm_ipld_map_set_cstr(a, run, "op", ipvm_ipld_new_cstring(a, IPVM_OP_WASM_RUN)) != 0 ||
        ipvm_ipld_map_set_cstr(a, run, "rsc", ipvm_ipld_new_cstring(a, g->rsc)) != 0)
        return NULL;
    if (g->fuel && ipvm_ipld_map_set_cstr(a, meta, "fuel", ipvm_ipld_new_uint(a, g->fuel)) != 0)
        return NULL;
    if (ipvm_ipld_map_set_cstr(a, task, "cause", ipvm_ipld_new_null(a)) != 0 ||
        ipvm_ipld_map_set_cstr(a, task, "meta", meta) != 0 ||
        ipvm_ipld_map_set_cstr(a, task, "prf", ipvm_ipld_new_list(a, 0)) != 0 ||
        ipvm_ipld_map_set_cstr(a, task, "run", run) != 0)
        return NULL;
    if (ipvm_ipld_cid(run, IPVM_MH_SHA3_256, instr, NULL) != 0)
        return NULL;
    return task;
}

static ipvm_ipld_t *await_ok(ipvm_arena_t *a, const ipvm_cid_t *cid)
{
    ipvm_ipld_t *m = ipvm_ipld_new_map(a, 1);
    if (m == NULL || ipvm_ipld_map_set_cstr(a, m, "await/ok", ipvm_ipld_new_link(a, cid)) != 0)
        return NULL;
    return m;
}

/* Appends a chain of g->length tasks starting from value v. */
static int gen_chain(ipvm_arena_t *a, const ipvm__wf_gen_t *g, ipvm_ipld_t *list, int64_t v,
                     int64_t *expected, uint64_t *n)
{
    ipvm_cid_t prev;
    for (size_t j = 0; j < g->length; j++) {
        ipvm_ipld_t *arg = j == 0 ? ipvm_ipld_new_int(a, v) : await_ok(a, &prev);
        ipvm_ipld_t *t = arg ? gen_task(a, g, *n, arg, &prev) : NULL;
        if (t == NULL || ipvm_ipld_list_push(a, list, t) != 0)
            return IPVM_ENOMEM;
        if (expected)
            expected[*n] = v + (int64_t)j + 1;
        (*n)++;
    }
    return 0;
}

/* Appends a root with value v and g->width tasks awaiting it. */
static int gen_fan(ipvm_arena_t *a, const ipvm__wf_gen_t *g, ipvm_ipld_t *list, int64_t v,
                   int64_t *expected, uint64_t *n)
{
    ipvm_cid_t root, c;
    ipvm_ipld_t *t = gen_task(a, g, *n, ipvm_ipld_new_int(a, v), &root);
    if (t == NULL || ipvm_ipld_list_push(a, list, t) != 0)
        return IPVM_ENOMEM;
    if (expected)
        expected[*n] = v + 1;
    (*n)++;
    for (size_t j = 0; j < g->width; j++) {
        ipvm_ipld_t *arg = await_ok(a, &root);
        if (arg == NULL || (t = gen_task(a, g, *n, arg, &c)) == NULL ||
            ipvm_ipld_list_push(a, list, t) != 0)
            return IPVM_ENOMEM;
        if (expected)
            expected[*n] = v + 2;
        (*n)++;
    }
    return 0;
}

size_t ipvm__wf_gen_count(const ipvm__wf_gen_t *g)
{
    return g->chains * g->length + g->fans * (1 + g->width);
}

int ipvm__wf_generate(const ipvm__wf_gen_t *g, ipvm_buf_t *json, int64_t *expected)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    size_t total = ipvm__wf_gen_count(g);
    ipvm_ipld_t *list = ipvm_ipld_new_list(&a, total), *root = ipvm_ipld_new_map(&a, 1);
    int rc = list && root ? 0 : IPVM_ENOMEM;
    uint64_t n = 0;
    int64_t v = g->base;
    for (size_t c = 0; rc == 0 && c < g->chains; c++, v += 1000)
        rc = gen_chain(&a, g, list, v, expected, &n);
    for (size_t f = 0; rc == 0 && f < g->fans; f++, v += 1000)
        rc = gen_fan(&a, g, list, v, expected, &n);
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(&a, root, "tasks", list);
    if (rc == 0)
        rc = ipvm_dagjson_encode(root, 0, json, NULL);
    ipvm_arena_dispose(&a);
    return rc;
}
