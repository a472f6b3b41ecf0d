/* SPDX-License-Identifier: Apache-2.0 */
/* The functions a call can reach, so the tcc tier translates and compiles only those: from
 * the root exports and the start function, every function called directly, and, once a
 * reached function does a call_indirect of some type, every function a table can hold (the
 * element segments, ref.func in constant expressions and in reached code) whose type is
 * structurally that type (wasm2c's runtime compares types by structure; a table entry of
 * another type traps on the type check before its body runs). The functions outside the set
 * keep their index, type and table slots and get the body `unreachable`, so everything that
 * does run is the same code, with the same fuel ticks, as in the whole module. */
#include "wasm/core_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct live_s {
    const ipvm__wasm_info_t *in;
    uint8_t *live;       /* [nfuncs] */
    uint32_t *stack;     /* [nfuncs] functions marked, not yet scanned */
    uint32_t nstack;
    uint32_t *canon;     /* [ntypes] the lowest index of a structurally equal type */
    uint8_t *indirect;   /* [ntypes] by canonical index: a reached call_indirect has it */
    uint32_t *cands;     /* functions a table may hold, seen so far */
    uint32_t ncands, capcands;
    bool grew;           /* a new indirect type or candidate since the last candidate pass */
} live_t;

static bool same_type(const ipvm__wasm_functype_t *a, const ipvm__wasm_functype_t *b)
{
    return a->nparams == b->nparams && a->nresults == b->nresults &&
           (a->nparams == 0 || memcmp(a->params, b->params, a->nparams) == 0) &&
           (a->nresults == 0 || memcmp(a->results, b->results, a->nresults) == 0);
}

static void mark(live_t *l, uint32_t f)
{
    if (!l->live[f]) {
        l->live[f] = 1;
        l->stack[l->nstack++] = f;
    }
}

static int add_cand(live_t *l, uint32_t f)
{
    if (l->live[f])
        return 0;
    if (l->ncands == l->capcands) {
        uint32_t cap = l->capcands ? 2 * l->capcands : 64;
        uint32_t *bigger = ipvm_realloc(l->cands, cap * sizeof *bigger);
        if (bigger == NULL)
            return IPVM_ENOMEM;
        l->cands = bigger;
        l->capcands = cap;
    }
    l->cands[l->ncands++] = f;
    l->grew = true;
    return 0;
}

/* Scans the bodies of the marked functions until none is left. */
static int scan(live_t *l)
{
    const ipvm__wasm_info_t *in = l->in;
    while (l->nstack) {
        uint32_t f = l->stack[--l->nstack];
        if (f < in->nimported)
            continue;
        uint32_t k = f - in->nimported;
        for (uint32_t e = in->edge_start[k]; e < in->edge_start[k + 1]; e++) {
            uint32_t v = in->edges[e], x = v & IPVM__WASM_EDGE_INDEX;
            if (v & IPVM__WASM_EDGE_INDIRECT) {
                if (!l->indirect[l->canon[x]])
                    l->grew = true;
                l->indirect[l->canon[x]] = 1;
            } else if (v & IPVM__WASM_EDGE_REF) {
                if (add_cand(l, x) != 0)
                    return IPVM_ENOMEM;
            } else {
                mark(l, x);
            }
        }
    }
    return 0;
}

static int fixpoint(live_t *l)
{
    const ipvm__wasm_info_t *in = l->in;
    for (uint32_t k = 0; k < in->ntabrefs; k++)
        if (add_cand(l, in->tabrefs[k]) != 0)
            return IPVM_ENOMEM;
    int rc = 0;
    while (rc == 0 && (rc = scan(l)) == 0 && l->grew) {
        l->grew = false;
        for (uint32_t k = 0; k < l->ncands; k++) {
            uint32_t f = l->cands[k];
            if (l->indirect[l->canon[in->func_type[f]]])
                mark(l, f);
        }
    }
    return rc;
}

int ipvm__wasm_live(const ipvm__wasm_info_t *in, const uint32_t *roots, size_t nroots,
                    uint8_t *live)
{
    memset(live, 0, in->nfuncs ? in->nfuncs : 1);
    live_t l = {in, live, NULL, 0, NULL, NULL, NULL, 0, 0, false};
    l.stack = ipvm_malloc((in->nfuncs ? in->nfuncs : 1) * sizeof *l.stack);
    l.canon = ipvm_malloc((in->ntypes ? in->ntypes : 1) * sizeof *l.canon);
    l.indirect = ipvm_calloc(in->ntypes ? in->ntypes : 1, 1);
    int rc = IPVM_ENOMEM;
    if (!l.stack || !l.canon || !l.indirect)
        goto done;
    for (uint32_t t = 0; t < in->ntypes; t++) {
        l.canon[t] = t;
        for (uint32_t u = 0; u < t; u++)
            if (l.canon[u] == u && same_type(&in->types[u], &in->types[t])) {
                l.canon[t] = u;
                break;
            }
    }
    if (in->start >= 0)
        mark(&l, (uint32_t)in->start);
    for (size_t k = 0; k < nroots; k++)
        if (roots[k] < in->nfuncs)
            mark(&l, roots[k]);
    rc = in->nfuncs > in->nimported && in->edge_start == NULL ? IPVM_EINVAL : fixpoint(&l);
done:
    ipvm_free(l.stack);
    ipvm_free(l.canon);
    ipvm_free(l.indirect);
    ipvm_free(l.cands);
    return rc;
}

/* Wasm's unsigned LEB128 is the multiformats unsigned varint. */
static int put_u32(ipvm_buf_t *b, uint32_t v)
{
    uint8_t tmp[IPVM_VARINT_MAX];
    return ipvm_buf_append(b, tmp, ipvm_varint_encode(v, tmp));
}

int ipvm__wasm_code_section(const ipvm__wasm_info_t *in, const uint8_t *live, ipvm_buf_t *out)
{
    static const uint8_t stub[4] = {3, 0, 0x00, 0x0b}; /* size 3: no locals, unreachable, end */
    uint32_t ndefined = in->nfuncs - in->nimported;
    ipvm_buf_t b = IPVM_BUF_INIT;
    int rc = put_u32(&b, ndefined);
    for (uint32_t k = 0; rc == 0 && k < ndefined; k++) {
        const ipvm__wasm_span_t *s = &in->bodies[k];
        rc = live[in->nimported + k] ? ipvm_buf_append(&b, in->bytes + s->off, s->len)
                                     : ipvm_buf_append(&b, stub, sizeof stub);
    }
    if (rc == 0 && (rc = ipvm_buf_append_byte(out, 10)) == 0 &&
        (rc = put_u32(out, (uint32_t)b.len)) == 0)
        rc = ipvm_buf_append(out, b.data, b.len);
    ipvm_buf_dispose(&b);
    return rc;
}
