/* SPDX-License-Identifier: Apache-2.0 */
/* bench_codec: how fast are ipvm's IPLD codecs next to the JS reference libraries?
 * DAG-CBOR and DAG-JSON encode and decode, and CID computation, on a Homestar workflow and on
 * a ~1 MB mixed document, with @ipld/dag-cbor / @ipld/dag-json measured in the same run by
 * node (bench/codec/bench.mjs), plus the CID of a 1 KB block. Timing: the best of ROUNDS
 * rounds of at least MIN_MS each, the same rule on both sides.
 * Usage: bench_codec [--quick] [--cpu] [--save-doc FILE] */
#define _GNU_SOURCE
#include "ipvm.h"

#include <math.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double min_ms = 300;
static int rounds = 5;
static bool cpu_time; /* --cpu: count this thread's CPU time, not the wall clock */

static uint64_t clock_ns(void)
{
    if (!cpu_time)
        return ipvm_now_ns();
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* ------------------------------------------------------------------- the mixed document -- */

static uint64_t rng = 0x1234567;
static uint64_t next64(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static size_t rnd(size_t n)
{
    return (size_t)(next64() % n);
}

static const char *const words[] = {"tasks", "run", "input", "args", "func", "nnc", "op", "rsc",
                                    "meta", "fuel", "memory", "time", "prf", "cause", "name",
                                    "description", "école", "数据", "value", "items", "ok"};

static ipvm_ipld_t *leaf(ipvm_arena_t *a)
{
    char buf[256];
    switch (rnd(8)) {
    case 0:
        return ipvm_ipld_new_int(a, (int64_t)rnd(1000) - 100);
    case 1:
        return ipvm_ipld_new_int(a, (int64_t)(next64() >> 12)); /* below 2^52: a JS number */
    case 2:
        return ipvm_ipld_new_float(a, (double)rnd(1000000) / 997.0 + 0.25); /* never integral */
    case 3: {
        size_t n = 0, k = 1 + rnd(6);
        for (size_t i = 0; i < k; i++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? " " : "", words[rnd(21)]);
        return ipvm_ipld_new_string(a, buf, n);
    }
    case 4: {
        uint8_t b[64];
        size_t n = 8 + rnd(56);
        for (size_t i = 0; i < n; i++)
            b[i] = (uint8_t)next64();
        return ipvm_ipld_new_bytes(a, b, n);
    }
    case 5: {
        uint8_t d[32];
        for (int i = 0; i < 32; i++)
            d[i] = (uint8_t)next64();
        ipvm_cid_t cid;
        if (ipvm_cid_from_digest(&cid, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256, d, 32) != 0)
            abort();
        return ipvm_ipld_new_link(a, &cid);
    }
    case 6:
        return ipvm_ipld_new_bool(a, rnd(2));
    default:
        return ipvm_ipld_new_null(a);
    }
}

static ipvm_ipld_t *node_(ipvm_arena_t *a, int depth)
{
    if (depth >= 4 || rnd(3) == 0)
        return leaf(a);
    size_t n = 2 + rnd(8);
    if (rnd(2)) {
        ipvm_ipld_t *l = ipvm_ipld_new_list(a, n);
        for (size_t i = 0; i < n; i++)
            if (ipvm_ipld_list_push(a, l, node_(a, depth + 1)))
                abort();
        return l;
    }
    ipvm_ipld_t *m = ipvm_ipld_new_map(a, n);
    for (size_t i = 0; i < n; i++) {
        char k[32];
        snprintf(k, sizeof k, "%s%zu", words[rnd(21)], rnd(50));
        if (ipvm_ipld_map_set_cstr(a, m, k, node_(a, depth + 1)))
            abort();
    }
    return m;
}

/* About `bytes` of DAG-CBOR: a list of records. */
static ipvm_ipld_t *mixed(ipvm_arena_t *a, size_t bytes)
{
    ipvm_ipld_t *l = ipvm_ipld_new_list(a, 0);
    ipvm_buf_t b = IPVM_BUF_INIT;
    for (;;) {
        ipvm_buf_clear(&b);
        if (ipvm_dagcbor_encode(l, &b, NULL) != 0)
            abort();
        if (b.len >= bytes)
            break;
        for (int i = 0; i < 64; i++)
            if (ipvm_ipld_list_push(a, l, node_(a, 0)))
                abort();
    }
    ipvm_buf_dispose(&b);
    return l;
}

static size_t count_nodes(const ipvm_ipld_t *v)
{
    size_t n = 1;
    if (v->kind == IPVM_IPLD_LIST)
        for (size_t i = 0; i < v->u.list.len; i++)
            n += count_nodes(v->u.list.items[i]);
    else if (v->kind == IPVM_IPLD_MAP)
        for (size_t i = 0; i < v->u.map.len; i++)
            n += count_nodes(v->u.map.entries[i].value);
    return n;
}

/* -------------------------------------------------------------------------------- timing -- */

typedef struct {
    const ipvm_ipld_t *v;
    ipvm_buf_t cbor, json, out;
    ipvm_arena_t arena;
    const uint8_t *block;
} ctx_t;

typedef int (*op_fn)(ctx_t *c);

static int op_cbor_enc(ctx_t *c)
{
    ipvm_buf_clear(&c->out);
    return ipvm_dagcbor_encode(c->v, &c->out, NULL);
}
static int op_cbor_dec(ctx_t *c)
{
    ipvm_ipld_t *v;
    ipvm_arena_reset(&c->arena);
    return ipvm_dagcbor_decode(c->cbor.data, c->cbor.len, &c->arena, &v, NULL);
}
static int op_json_enc(ctx_t *c)
{
    ipvm_buf_clear(&c->out);
    return ipvm_dagjson_encode(c->v, 0, &c->out, NULL);
}
static int op_json_dec(ctx_t *c)
{
    ipvm_ipld_t *v;
    ipvm_arena_reset(&c->arena);
    return ipvm_dagjson_decode((const char *)c->json.data, c->json.len, &c->arena, &v, NULL);
}
static int op_cid(ctx_t *c)
{
    ipvm_cid_t cid;
    return ipvm_ipld_cid(c->v, IPVM_MH_SHA3_256, &cid, NULL);
}
static int op_block_cid(ctx_t *c)
{
    ipvm_cid_t cid;
    return ipvm_cid_create(&cid, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256, c->block, 1024);
}
static int op_block_cid_sha2(ctx_t *c)
{
    ipvm_cid_t cid;
    return ipvm_cid_create(&cid, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA2_256, c->block, 1024);
}

static void run_n(op_fn fn, ctx_t *c, long n)
{
    for (long i = 0; i < n; i++)
        if (fn(c) != 0) {
            fprintf(stderr, "bench_codec: operation failed\n");
            exit(1);
        }
}

/* Seconds per call: the best of `rounds` rounds of at least min_ms, reading the clock once a
 * batch (batches of about 1 ms) so that reading it costs nothing. */
static double time_op(op_fn fn, ctx_t *c)
{
    long batch = 1;
    for (;;) {
        uint64_t t0 = clock_ns();
        run_n(fn, c, batch);
        if (clock_ns() - t0 >= 1000000 || batch >= (1L << 24))
            break;
        batch *= 2;
    }
    double best = INFINITY;
    for (int r = 0; r < rounds; r++) {
        uint64_t t0 = clock_ns(), t;
        long n = 0;
        do {
            run_n(fn, c, batch);
            n += batch;
            t = clock_ns();
        } while ((double)(t - t0) < min_ms * 1e6);
        double s = (double)(t - t0) / 1e9 / (double)n;
        if (s < best)
            best = s;
    }
    return best;
}

/* ------------------------------------------------------------------------------ the peer -- */

#define MAX_RESULTS 64
typedef struct {
    char doc[64], op[64];
    double s;
} result_t;

static const char *find_node(void)
{
    static char path[4096];
    const char *p = getenv("PATH");
    while (p && *p) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        snprintf(path, sizeof path, "%.*s/node", (int)n, p);
        if (access(path, X_OK) == 0)
            return path;
        p += n + (e != NULL);
    }
    return NULL;
}

/* Runs bench.mjs on the documents; returns the number of results (0 if node is missing). */
static int run_peer(const char *const *names, const char *const *files, int ndocs,
                    result_t *res)
{
    const char *node = find_node();
    char mods[4200];
    snprintf(mods, sizeof mods, "%s/tests/interop/ipld/node_modules/@ipld/dag-cbor",
             IPVM_SOURCE_DIR);
    if (node == NULL || access(mods, R_OK) != 0) {
        fprintf(stderr, "bench_codec: no node or no JS reference libraries (run "
                        "tools/interop-deps.sh): the JS column stays empty\n");
        return 0;
    }
    ipvm_buf_t cmd = IPVM_BUF_INIT;
    if (ipvm_buf_printf(&cmd, "'%s' '%s/bench/codec/bench.mjs' '%s' %g %d %s", node,
                        IPVM_SOURCE_DIR, IPVM_SOURCE_DIR, min_ms, rounds, cpu_time ? "cpu" : "wall"))
        abort();
    for (int i = 0; i < ndocs; i++)
        if (ipvm_buf_printf(&cmd, " '%s=%s'", names[i], files[i]))
            abort();
    FILE *f = popen((const char *)cmd.data, "r");
    ipvm_buf_dispose(&cmd);
    if (f == NULL)
        return 0;
    char line[1024];
    int n = 0;
    while (n < MAX_RESULTS && fgets(line, sizeof line, f)) {
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_ipld_t *v = NULL;
        if (ipvm_dagjson_decode(line, strlen(line), &a, &v, NULL) == 0) {
            const ipvm_ipld_t *d = ipvm_ipld_map_get(v, "doc"), *o = ipvm_ipld_map_get(v, "op"),
                              *s = ipvm_ipld_map_get(v, "s");
            if (d && o && s && s->kind == IPVM_IPLD_FLOAT) {
                snprintf(res[n].doc, sizeof res[n].doc, "%s", d->u.str.ptr);
                snprintf(res[n].op, sizeof res[n].op, "%s", o->u.str.ptr);
                res[n].s = s->u.f;
                n++;
            }
        }
        ipvm_arena_dispose(&a);
    }
    if (pclose(f) != 0)
        fprintf(stderr, "bench_codec: the JS peer failed\n");
    return n;
}

static double peer_time(const result_t *res, int n, const char *doc, const char *op)
{
    for (int i = 0; i < n; i++)
        if (strcmp(res[i].doc, doc) == 0 && strcmp(res[i].op, op) == 0)
            return res[i].s;
    return NAN;
}

/* ---------------------------------------------------------------------------------- main -- */

static void load_doc(const char *path, ipvm_arena_t *a, ipvm_ipld_t **v)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_error_t err;
    if (ipvm_file_read(path, &b, &err) != 0 ||
        ipvm_dagjson_decode((const char *)b.data, b.len, a, v, &err) != 0) {
        fprintf(stderr, "bench_codec: %s: %s\n", path, err.msg);
        exit(1);
    }
    ipvm_buf_dispose(&b);
}

static void fmt_rate(char *out, size_t n, double bytes, double s)
{
    double mbs = bytes / s / 1e6;
    snprintf(out, n, mbs >= 100 ? "%.0f MB/s" : "%.1f MB/s", mbs);
}

int main(int argc, char **argv)
{
    const char *save_doc = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            min_ms = 50;
            rounds = 2;
        } else if (strcmp(argv[i], "--cpu") == 0) {
            cpu_time = true;
        } else if (strcmp(argv[i], "--save-doc") == 0 && i + 1 < argc) {
            save_doc = argv[++i];
        } else {
            fprintf(stderr, "usage: bench_codec [--quick] [--cpu]\n"
                            "  --quick  shorter rounds\n"
                            "  --cpu    time by CPU used (both sides), for a loaded machine\n"
                            "  --save-doc FILE  keep the 1 MB mixed document (DAG-JSON)\n");
            return 2;
        }
    }
    char tmpl[] = "/tmp/ipvm-bench-codec-XXXXXX";
    if (mkdtemp(tmpl) == NULL)
        return 1;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    /* the documents, as DAG-JSON files both sides read */
    char wf[4200], big[4200];
    snprintf(wf, sizeof wf, "%s/tests/vectors/homestar/workflows/test-workflow-image-pipeline.json",
             IPVM_SOURCE_DIR);
    snprintf(big, sizeof big, "%s/mixed.json", tmpl);
    ipvm_ipld_t *mix = mixed(&a, 1u << 20);
    ipvm_buf_t t = IPVM_BUF_INIT;
    if (ipvm_dagjson_encode(mix, 0, &t, NULL) || ipvm_file_write_atomic(big, t.data, t.len, NULL))
        return 1;
    if (save_doc && ipvm_file_write_atomic(save_doc, t.data, t.len, NULL) != 0)
        fprintf(stderr, "bench_codec: cannot write %s\n", save_doc);
    ipvm_buf_dispose(&t);
    const char *names[] = {"Homestar workflow", "1 MB mixed"};
    const char *files[] = {wf, big};
    result_t res[MAX_RESULTS];
    int nres = run_peer(names, files, 2, res);

    static const struct {
        const char *name;
        op_fn fn;
        int codec; /* 0 cbor bytes, 1 json bytes */
    } ops[] = {{"dag-cbor encode", op_cbor_enc, 0}, {"dag-cbor decode", op_cbor_dec, 0},
               {"dag-json encode", op_json_enc, 1}, {"dag-json decode", op_json_dec, 1},
               {"cid (encode + sha3-256)", op_cid, 0}};
    printf("| document | operation | ipvm | ipvm values/s | JS (same run) | JS values/s | ratio |\n"
           "|---|---|---|---|---|---|---|\n");
    uint8_t block[1024];
    for (int i = 0; i < 1024; i++)
        block[i] = (uint8_t)((i * 7) & 255);
    for (int d = 0; d < 2; d++) {
        ctx_t c;
        memset(&c, 0, sizeof c);
        ipvm_arena_init(&c.arena);
        ipvm_ipld_t *v = NULL;
        load_doc(files[d], &a, &v);
        c.v = v;
        c.block = block;
        if (ipvm_dagcbor_encode(v, &c.cbor, NULL) || ipvm_dagjson_encode(v, 0, &c.json, NULL))
            return 1;
        double nodes = (double)count_nodes(v);
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
            double s = time_op(ops[o].fn, &c);
            double bytes = (double)(ops[o].codec ? c.json.len : c.cbor.len);
            double js = peer_time(res, nres, names[d], ops[o].name);
            char r1[32], r2[32] = "–", ratio[32] = "–";
            fmt_rate(r1, sizeof r1, bytes, s);
            if (!isnan(js)) {
                fmt_rate(r2, sizeof r2, bytes, js);
                snprintf(ratio, sizeof ratio, "%.1f×", js / s);
            }
            printf("| %s (%zu B cbor, %zu B json, %.0f values) | %s | %s | %.3g | %s | %.3g | %s |\n",
                   names[d], c.cbor.len, c.json.len, nodes, ops[o].name, r1, nodes / s, r2,
                   isnan(js) ? 0.0 : nodes / js, ratio);
        }
        ipvm_buf_dispose(&c.cbor);
        ipvm_buf_dispose(&c.json);
        ipvm_buf_dispose(&c.out);
        ipvm_arena_dispose(&c.arena);
    }
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.block = block;
    double s = time_op(op_block_cid, &c);
    double js = peer_time(res, nres, "1 KB block", "cid of bytes");
    printf("| 1 KB block | CID (sha3-256) of the bytes | %.2f µs | – | %.2f µs | – | %.1f× |\n",
           s * 1e6, js * 1e6, js / s);
    s = time_op(op_block_cid_sha2, &c);
    js = peer_time(res, nres, "1 KB block", "cid of bytes sha2-256");
    printf("| 1 KB block | CID (sha2-256) of the bytes | %.2f µs | – | %.2f µs | – | %.1f× |\n",
           s * 1e6, js * 1e6, js / s);
    unlink(big);
    rmdir(tmpl);
    ipvm_arena_dispose(&a);
    return 0;
}
