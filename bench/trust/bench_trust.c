/* SPDX-License-Identifier: Apache-2.0 */
/* bench_trust: how fast does ipvm sign and verify UCANs, and validate a proof chain, against
 * iso-ucan on Node measured in the same run? Each row does the same work on both sides:
 *   sign      build, encode and sign a delegation (ipvm_ucan_create / Delegation.create)
 *   verify    decode a delegation from bytes and check its signature (Delegation.from)
 *   chain N   decode an invocation and its N proofs from bytes, check every signature and
 *             validate the chain with a policy on each link (Invocation.from + resolveProof)
 * Usage: bench_trust [ITERATIONS]   (default 2000) */
#include "ipvm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    return (double)ipvm_now_ns() / 1000.0;
}

static ipvm_ipld_t *json(ipvm_arena_t *a, const char *s)
{
    ipvm_ipld_t *v = NULL;
    if (ipvm_dagjson_decode(s, strlen(s), a, &v, NULL) != 0)
        abort();
    return v;
}

typedef struct {
    ipvm_key_t keys[21];
    ipvm_signer_t s[21];
} people_t;

static double bench_sign(people_t *p, int n)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ucan_params_t q = {0};
    q.kind = IPVM_UCAN_DELEGATION;
    q.aud = p->s[1].did;
    q.sub = p->s[0].did;
    q.cmd = "/wasm/run";
    q.has_exp = true;
    q.exp = (int64_t)time(NULL) + 3600;
    double t0 = now_us();
    for (int i = 0; i < n; i++) {
        ipvm_ucan_t *u = NULL;
        if (ipvm_ucan_create(&q, &p->s[0], &a, &u, NULL) != 0)
            abort();
        if (i % 64 == 63)
            ipvm_arena_reset(&a);
    }
    double us = (now_us() - t0) / n;
    ipvm_arena_dispose(&a);
    return us;
}

static double bench_verify(people_t *p, int n)
{
    ipvm_arena_t a, scratch;
    ipvm_arena_init(&a);
    ipvm_arena_init(&scratch);
    ipvm_ucan_params_t q = {0};
    q.kind = IPVM_UCAN_DELEGATION;
    q.aud = p->s[1].did;
    q.sub = p->s[0].did;
    q.cmd = "/wasm/run";
    ipvm_ucan_t *one = NULL;
    if (ipvm_ucan_create(&q, &p->s[0], &a, &one, NULL) != 0)
        abort();
    double t0 = now_us();
    for (int i = 0; i < n; i++) {
        ipvm_ucan_t *u = NULL;
        if (ipvm_ucan_decode(one->bytes, one->len, &scratch, &u, NULL) != 0 ||
            ipvm_ucan_verify_signature(u, NULL) != 0)
            abort();
        if (i % 64 == 63)
            ipvm_arena_reset(&scratch);
    }
    double us = (now_us() - t0) / n;
    ipvm_arena_dispose(&scratch);
    ipvm_arena_dispose(&a);
    return us;
}

/* A chain of `depth` delegations 0 -> 1 -> … -> depth, each with a policy, and the invocation by
 * the last audience. Timed: everything a node does with the bytes it receives. */
static double bench_chain(people_t *p, int depth, int n, bool warm)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ucan_t *d[20];
    ipvm_cid_t cids[20];
    int64_t exp = (int64_t)time(NULL) + 3600;
    for (int i = 0; i < depth; i++) {
        ipvm_ucan_params_t q = {0};
        q.kind = IPVM_UCAN_DELEGATION;
        q.aud = p->s[i + 1].did;
        q.sub = p->s[0].did;
        q.cmd = "/wasm/run";
        q.pol = json(&a, "[[\"like\", \".rsc\", \"ipfs://*\"]]");
        q.has_exp = true;
        q.exp = exp;
        if (ipvm_ucan_create(&q, &p->s[i], &a, &d[i], NULL) != 0)
            abort();
        cids[i] = d[i]->cid;
    }
    ipvm_ucan_params_t q = {0};
    q.kind = IPVM_UCAN_INVOCATION;
    q.sub = p->s[0].did;
    q.cmd = "/wasm/run";
    q.args = json(&a, "{\"rsc\": \"ipfs://bafy\"}");
    q.prf = cids;
    q.nprf = (size_t)depth;
    q.has_exp = true;
    q.exp = exp;
    ipvm_ucan_t *inv = NULL;
    if (ipvm_ucan_create(&q, &p->s[depth], &a, &inv, NULL) != 0)
        abort();
    /* warm: the proofs are already in the node's store, checked once when they arrived (the
     * spec's "Memoized Validation"); cold: every proof arrives as bytes with the invocation */
    ipvm_ucan_store_t *kept = NULL;
    if (ipvm_ucan_store_open(NULL, &kept, NULL) != 0)
        abort();
    for (int i = 0; warm && i < depth; i++)
        if (ipvm_ucan_store_add(kept, d[i]->bytes, d[i]->len, NULL, NULL) != 0)
            abort();
    double t0 = now_us();
    for (int it = 0; it < n; it++) {
        ipvm_ucan_store_t *st = kept;
        ipvm_arena_t scratch;
        ipvm_arena_init(&scratch);
        if (!warm && ipvm_ucan_store_open(NULL, &st, NULL) != 0)
            abort();
        for (int i = 0; !warm && i < depth; i++)
            if (ipvm_ucan_store_add(st, d[i]->bytes, d[i]->len, NULL, NULL) != 0)
                abort();
        ipvm_ucan_t *u = NULL;
        ipvm_error_t err;
        ipvm_ucan_validate_opts_t o = {0, -1, NULL, st, NULL};
        if (ipvm_ucan_decode(inv->bytes, inv->len, &scratch, &u, NULL) != 0 ||
            ipvm_ucan_validate(u, &o, NULL, &err) != 0) {
            fprintf(stderr, "chain: %s\n", err.msg);
            abort();
        }
        if (!warm)
            ipvm_ucan_store_free(st);
        ipvm_arena_dispose(&scratch);
    }
    double us = (now_us() - t0) / n;
    ipvm_ucan_store_free(kept);
    ipvm_arena_dispose(&a);
    return us;
}

/* Runs iso-ucan's side for one depth; returns 0 and fills sign/verify/chain µs per op. */
static int node_side(int depth, int n, double *sign, double *verify, double *chain)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s/tests/interop/ucan && echo '{\"depth\":%d,\"iterations\":%d}' | node ucan.mjs bench",
             IPVM_SOURCE_DIR, depth, n);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    char line[1024] = "";
    if (fgets(line, sizeof line, f) == NULL)
        line[0] = '\0';
    int st = pclose(f);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    int rc = -1;
    if (st == 0 && ipvm_dagjson_decode(line, strlen(line), &a, &v, NULL) == 0) {
        const char *keys[] = {"sign_us", "verify_us", "chain_us"};
        double *outs[] = {sign, verify, chain};
        rc = 0;
        for (int i = 0; i < 3; i++) {
            const ipvm_ipld_t *x = ipvm_ipld_map_get(v, keys[i]);
            if (x && x->kind == IPVM_IPLD_FLOAT)
                *outs[i] = x->u.f;
            else if (x && x->kind == IPVM_IPLD_INT)
                *outs[i] = (double)x->u.integer.mag;
            else
                rc = -1;
        }
    }
    ipvm_arena_dispose(&a);
    return rc;
}

static void row(const char *what, double c_us, double js_us)
{
    if (js_us > 0)
        printf("| %-22s | %10.1f | %10.0f | %10.1f | %10.0f | %6.1fx |\n", what, c_us, 1e6 / c_us,
               js_us, 1e6 / js_us, js_us / c_us);
    else
        printf("| %-22s | %10.1f | %10.0f | %10s | %10s | %7s |\n", what, c_us, 1e6 / c_us, "-",
               "-", "-");
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    if (n < 10)
        n = 10;
    people_t p;
    for (int i = 0; i < 21; i++) {
        uint8_t seed[32];
        memset(seed, i + 1, sizeof seed);
        if (ipvm_key_from_seed(&p.keys[i], seed) != 0)
            abort();
        ipvm_signer_from_key(&p.s[i], &p.keys[i]);
    }
    printf("bench_trust: UCAN 1.0 work per operation, ipvm (C, libsodium) vs iso-ucan 0.5 (Node %s)\n",
           "v20");
    char load[64] = "?";
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fgets(load, sizeof load, lf) == NULL)
            snprintf(load, sizeof load, "?");
        load[strcspn(load, "\n")] = '\0';
        fclose(lf);
    }
    printf("iterations: %d (chain rows: %d / depth); load average: %s on %ld cores\n\n", n, n,
           load, sysconf(_SC_NPROCESSORS_ONLN));
    double js_sign = 0, js_verify = 0, js_chain[3] = {0};
    static const int depths[] = {1, 5, 20};
    bool have_js = true;
    for (int i = 0; i < 3; i++) {
        double s, v;
        if (node_side(depths[i], n, &s, &v, &js_chain[i]) != 0) {
            have_js = false;
            break;
        }
        if (i == 0) {
            js_sign = s;
            js_verify = v;
        }
    }
    if (!have_js)
        fprintf(stderr, "bench_trust: iso-ucan side failed (run 'make interop-deps'); C only\n");
    printf("| %-22s | %10s | %10s | %10s | %10s | %7s |\n", "operation", "ipvm µs", "ipvm op/s",
           "iso-ucan µs", "iso op/s", "ratio");
    printf("|%s|%s|%s|%s|%s|%s|\n", "------------------------", "------------", "------------",
           "------------", "------------", "---------");
    row("sign delegation", bench_sign(&p, n), js_sign);
    row("verify delegation", bench_verify(&p, n), js_verify);
    for (int i = 0; i < 3; i++) {
        char what[64];
        snprintf(what, sizeof what, "validate chain depth %d", depths[i]);
        int iters = n / depths[i] > 10 ? n / depths[i] : 10;
        row(what, bench_chain(&p, depths[i], iters, false), have_js ? js_chain[i] : 0);
    }
    for (int i = 0; i < 3; i++) {
        char what[64];
        snprintf(what, sizeof what, "chain %d, proofs known", depths[i]);
        int iters = n / depths[i] > 10 ? n / depths[i] : 10;
        row(what, bench_chain(&p, depths[i], iters, true), 0);
    }
    printf("\nchain rows: cold = every proof decoded and its signature checked in the run (what\n"
           "iso-ucan's Invocation.from with resolveProof does); proofs known = the proofs were\n"
           "checked once when they reached the node's store, as the spec's \"Memoized\n"
           "Validation\" recommends, so only the invocation's signature and the chain are checked.\n");
    for (int i = 0; i < 21; i++)
        ipvm_key_wipe(&p.keys[i]);
    return 0;
}
