/* SPDX-License-Identifier: Apache-2.0 */
/* conformance_codec_fixtures: runs the IPLD project's codec fixtures (the ipld/codec-fixtures
 * repository, which is not on a package registry and which this project may not commit) against
 * ipvm's codecs. Give it a checkout of that repository:
 *
 *   build/conformance_codec_fixtures PATH/TO/codec-fixtures [--verbose]
 *
 * Positive fixtures: fixtures/<name>/<CID>.<codec> holds one block in each codec. Every
 * dag-cbor and dag-json block is decoded and re-encoded in every codec of its directory; the
 * CIDv1 (sha2-256) of each encoding must equal the CID in that file's name. dag-pb blocks are
 * decoded and re-encoded as dag-pb (ipvm reads dag-pb as UnixFS blocks, not as a data model
 * for the other codecs, so those cross conversions are counted as not applicable).
 * Negative fixtures: negative-fixtures/<codec>/decode/<file>.json lists bytes (hex) that a decoder
 * must refuse; each must be refused. The encode side of the negative fixtures describes data
 * model forms of dag-pb, which ipvm does not build: not applicable.
 * Prints a line per failure (and per case with --verbose), then `N passed, N failed, N not
 * applicable`; exits 1 when anything failed, 2 when the directory is not usable. */
#include <ipvm.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    int passed, failed, na;
    bool verbose;
} tally_t;

enum { C_CBOR, C_JSON, C_PB, C_OTHER };
static const uint64_t codec_code[] = {0x71, 0x0129, 0x70};

static int codec_of(const char *ext)
{
    if (strcmp(ext, "dag-cbor") == 0)
        return C_CBOR;
    if (strcmp(ext, "dag-json") == 0)
        return C_JSON;
    if (strcmp(ext, "dag-pb") == 0)
        return C_PB;
    return C_OTHER;
}

static void verdict(tally_t *t, bool ok, const char *what, const char *detail)
{
    if (ok)
        t->passed++;
    else
        t->failed++;
    if (!ok || t->verbose)
        printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what, detail && *detail ? ": " : "",
               detail ? detail : "");
}

static int read_all(const char *path, ipvm_buf_t *out)
{
    ipvm_buf_init(out);
    return ipvm_file_read(path, out, NULL);
}

/* ---------------------------------------------------------------------- positive ---- */
typedef struct {
    char name[256];
    int codec;
    ipvm_cid_t cid;
    ipvm_buf_t bytes;
} block_t;

static int encode_as(int codec, const ipvm_ipld_t *v, ipvm_buf_t *out, ipvm_error_t *err)
{
    return codec == C_CBOR ? ipvm_dagcbor_encode(v, out, err) : ipvm_dagjson_encode(v, 0, out, err);
}

static int decode_as(int codec, const ipvm_buf_t *b, ipvm_arena_t *a, ipvm_ipld_t **v,
                     ipvm_error_t *err)
{
    ipvm_decode_opts_t o = {.max_depth = 0, .flags = IPVM_DECODE_IPLD_INTS};
    if (codec == C_CBOR)
        return ipvm_dagcbor_decode_opts(b->data, b->len, &o, a, v, err);
    return ipvm_dagjson_decode_opts((const char *)b->data, b->len, &o, a, v, err);
}

/* The block's own bytes must hash to its name (else the checkout is damaged, not ipvm). */
static bool block_intact(const block_t *b)
{
    ipvm_cid_t c;
    return ipvm_cid_create(&c, 1, codec_code[b->codec], IPVM_MH_SHA2_256, b->bytes.data,
                           b->bytes.len) == 0 &&
           ipvm_cid_equal(&c, &b->cid);
}

static void check_pb(tally_t *t, const char *fixture, const block_t *b)
{
    char what[600], detail[400] = "";
    snprintf(what, sizeof what, "%s: dag-pb -> dag-pb", fixture);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_dagpb_node_t n;
    ipvm_buf_t out = IPVM_BUF_INIT;
    ipvm_cid_t c;
    bool ok = false;
    if (ipvm_dagpb_decode(b->bytes.data, b->bytes.len, &a, &n, &err) != 0)
        snprintf(detail, sizeof detail, "decode refused it: %s", err.msg);
    else if (ipvm_dagpb_encode(&n, &out) != 0)
        snprintf(detail, sizeof detail, "encode failed");
    else if (ipvm_cid_create(&c, 1, 0x70, IPVM_MH_SHA2_256, out.data, out.len) != 0)
        snprintf(detail, sizeof detail, "cannot hash");
    else
        ok = ipvm_cid_equal(&c, &b->cid);
    if (!ok && !detail[0])
        snprintf(detail, sizeof detail, "re-encoded bytes differ (%zu vs %zu bytes)", out.len,
                 b->bytes.len);
    verdict(t, ok, what, detail);
    ipvm_buf_dispose(&out);
    ipvm_arena_dispose(&a);
}

/* Decodes `from` and encodes it as `to`: the CID must be to's. */
static void check_pair(tally_t *t, const char *fixture, const block_t *from, const block_t *to)
{
    static const char *const names[] = {"dag-cbor", "dag-json", "dag-pb"};
    char what[600], detail[400] = "";
    snprintf(what, sizeof what, "%s: %s -> %s", fixture, names[from->codec], names[to->codec]);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_ipld_t *v = NULL;
    ipvm_buf_t out = IPVM_BUF_INIT;
    ipvm_cid_t c;
    bool ok = false;
    if (decode_as(from->codec, &from->bytes, &a, &v, &err) != 0)
        snprintf(detail, sizeof detail, "decode refused it: %s", err.msg);
    else if (encode_as(to->codec, v, &out, &err) != 0)
        snprintf(detail, sizeof detail, "encode refused it: %s", err.msg);
    else if (ipvm_cid_create(&c, 1, codec_code[to->codec], IPVM_MH_SHA2_256, out.data,
                             out.len) != 0)
        snprintf(detail, sizeof detail, "cannot hash");
    else
        ok = ipvm_cid_equal(&c, &to->cid);
    if (!ok && !detail[0]) {
        char want[IPVM_CID_MAX_STR], got[IPVM_CID_MAX_STR];
        snprintf(detail, sizeof detail, "CID %s, expected %s", ipvm_cid_str(&c, got),
                 ipvm_cid_str(&to->cid, want));
    }
    verdict(t, ok, what, detail);
    ipvm_buf_dispose(&out);
    ipvm_arena_dispose(&a);
}

static int load_fixture(const char *dir, block_t *blocks, int max, tally_t *t, const char *fx)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < max;) {
        const char *dot = strchr(e->d_name, '.');
        if (e->d_name[0] == '.' || dot == NULL)
            continue;
        block_t *b = &blocks[n];
        memset(b, 0, sizeof *b);
        b->codec = codec_of(dot + 1);
        snprintf(b->name, sizeof b->name, "%s", e->d_name);
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (b->codec == C_OTHER || ipvm_cid_parse(&b->cid, e->d_name, (size_t)(dot - e->d_name),
                                                  NULL) != 0) {
            t->na++;
            if (t->verbose)
                printf("n/a  %s: %s (not a codec ipvm implements)\n", fx, e->d_name);
            continue;
        }
        if (read_all(path, &b->bytes) != 0) {
            verdict(t, false, path, "cannot read");
            continue;
        }
        n++;
    }
    closedir(d);
    return n;
}

static void run_fixture(tally_t *t, const char *root, const char *fx)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", root, fx);
    block_t blocks[8];
    int n = load_fixture(dir, blocks, 8, t, fx);
    for (int i = 0; i < n; i++) {
        if (!block_intact(&blocks[i])) {
            verdict(t, false, blocks[i].name, "the file does not hash to its name (damaged checkout?)");
            continue;
        }
        if (blocks[i].codec == C_PB) {
            check_pb(t, fx, &blocks[i]);
            continue;
        }
        for (int j = 0; j < n; j++) {
            if (blocks[j].codec == C_PB) {
                t->na++; /* a data model to dag-pb: ipvm has no such encoder */
                continue;
            }
            check_pair(t, fx, &blocks[i], &blocks[j]);
        }
    }
    for (int i = 0; i < n; i++)
        ipvm_buf_dispose(&blocks[i].bytes);
}

/* ---------------------------------------------------------------------- negative ---- */
static int unhex(const char *s, size_t n, ipvm_buf_t *out)
{
    if (n % 2)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        unsigned v;
        if (sscanf(s + i, "%2x", &v) != 1 || ipvm_buf_append_byte(out, (uint8_t)v) != 0)
            return -1;
    }
    return 0;
}

static bool refuses(int codec, const ipvm_buf_t *b, ipvm_arena_t *a)
{
    ipvm_ipld_t *v;
    ipvm_dagpb_node_t n;
    if (codec == C_PB)
        return ipvm_dagpb_decode(b->data, b->len, a, &n, NULL) != 0;
    return decode_as(codec, b, a, &v, NULL) != 0;
}

static void run_negative_file(tally_t *t, const char *path, int codec, const char *label)
{
    ipvm_buf_t doc;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *list = NULL;
    if (read_all(path, &doc) != 0 ||
        ipvm_dagjson_decode((const char *)doc.data, doc.len, &a, &list, NULL) != 0 ||
        list->kind != IPVM_IPLD_LIST) {
        verdict(t, false, path, "not a JSON list of cases");
        goto done;
    }
    for (size_t i = 0; i < list->u.list.len; i++) {
        const ipvm_ipld_t *c = list->u.list.items[i];
        const ipvm_ipld_t *name = ipvm_ipld_map_get(c, "name"), *hex = ipvm_ipld_map_get(c, "hex");
        char what[800];
        snprintf(what, sizeof what, "%s: %.*s", label, name && name->kind == IPVM_IPLD_STRING ? (int)name->u.str.len : 1,
                 name && name->kind == IPVM_IPLD_STRING ? name->u.str.ptr : "?");
        ipvm_buf_t bytes = IPVM_BUF_INIT;
        if (hex == NULL || hex->kind != IPVM_IPLD_STRING ||
            unhex(hex->u.str.ptr, hex->u.str.len, &bytes) != 0)
            verdict(t, false, what, "the case has no valid hex");
        else
            verdict(t, refuses(codec, &bytes, &a), what, "");
        ipvm_buf_dispose(&bytes);
    }
done:
    ipvm_buf_dispose(&doc);
    ipvm_arena_dispose(&a);
}

static void run_negative(tally_t *t, const char *root)
{
    static const char *const codecs[] = {"dag-cbor", "dag-json", "dag-pb"};
    for (int c = 0; c < 3; c++) {
        for (int enc = 0; enc < 2; enc++) {
            char dir[4200];
            snprintf(dir, sizeof dir, "%s/negative-fixtures/%s/%s", root, codecs[c],
                     enc ? "encode" : "decode");
            DIR *d = opendir(dir);
            if (d == NULL)
                continue;
            for (struct dirent *e; (e = readdir(d)) != NULL;) {
                if (e->d_name[0] == '.' || strstr(e->d_name, ".json") == NULL)
                    continue;
                char path[4600], label[600];
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                snprintf(label, sizeof label, "negative %s %s %s", codecs[c],
                         enc ? "encode" : "decode", e->d_name);
                if (enc) { /* data model forms of dag-pb: ipvm builds none */
                    t->na++;
                    if (t->verbose)
                        printf("n/a  %s\n", label);
                    continue;
                }
                run_negative_file(t, path, c, label);
            }
            closedir(d);
        }
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    tally_t t = {0};
    const char *root = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
            t.verbose = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s CODEC-FIXTURES-DIR [--verbose]\n"
                   "Runs the ipld/codec-fixtures positive and negative fixtures against ipvm's\n"
                   "DAG-CBOR, DAG-JSON and dag-pb codecs; prints failures and a summary.\n",
                   argv[0]);
            return 0;
        } else
            root = argv[i];
    }
    char fxdir[4200];
    snprintf(fxdir, sizeof fxdir, "%s/fixtures", root ? root : ".");
    DIR *d = root ? opendir(fxdir) : NULL;
    if (d == NULL) {
        fprintf(stderr, "%s: give the path of a checkout of ipld/codec-fixtures (it must have a "
                        "fixtures/ directory); see --help\n", argv[0]);
        return 2;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char sub[4600];
        struct stat st;
        snprintf(sub, sizeof sub, "%s/%s", fxdir, e->d_name);
        if (e->d_name[0] == '.' || stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            names = realloc(names, cap * sizeof *names);
            if (names == NULL)
                return 2;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        run_fixture(&t, root, names[i]);
        free(names[i]);
    }
    free(names);
    run_negative(&t, root);
    printf("%zu fixtures: %d passed, %d failed, %d not applicable\n", n, t.passed, t.failed, t.na);
    return t.failed ? 1 : 0;
}
