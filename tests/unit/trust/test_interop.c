/* SPDX-License-Identifier: Apache-2.0 */
/* Cross-checks against the JS reference libraries, run in the test (tests/interop/ucan, pinned
 * by its package-lock.json): iso-ucan for UCAN 1.0 and @ucans/ucans for 0.x JWTs. Tokens made
 * by each side verify on the other, byte-identical where the spec fixes the bytes (Ed25519 is
 * deterministic and DAG-CBOR canonical); tampered, expired, not-yet-valid, broken and widened
 * tokens are rejected by both. */
#include "test.h"

#include <time.h>

#define SCRIPT IPVM_SOURCE_DIR "/tests/interop/ucan/ucan.mjs"

/* Runs `node ucan.mjs mode` with the request on stdin and returns its JSON answer. */
static ipvm_ipld_t *js(ipvm_arena_t *a, const char *mode, const char *request)
{
    const char *argv[] = {"/usr/bin/env", "node", SCRIPT, mode, NULL};
    ipvm_buf_t out = IPVM_BUF_INIT, err = IPVM_BUF_INIT;
    int st = ipvm_test_run(argv, NULL, request, 60000, &out, &err);
    IPVM_ASSERT_MSG(st == 0, "node %s exited %d: %s", mode, st, err.data ? (char *)err.data : "");
    ipvm_ipld_t *v = NULL;
    ipvm_error_t e;
    IPVM_ASSERT_OK_ERR(ipvm_dagjson_decode((char *)out.data, out.len, a, &v, &e), &e);
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
    return v;
}

static const char *jstr(const ipvm_ipld_t *m, const char *path)
{
    const ipvm_ipld_t *v = ipvm_ipld_select(m, path);
    IPVM_ASSERT_MSG(v && v->kind == IPVM_IPLD_STRING, "no string at %s", path);
    return v->u.str.ptr;
}

static void b64(const uint8_t *p, size_t n, ipvm_buf_t *out)
{
    ipvm_buf_clear(out);
    IPVM_ASSERT_OK(ipvm_base_encode(IPVM_BASE64, p, n, out));
    while (out->len % 4)
        IPVM_ASSERT_OK(ipvm_buf_append_byte(out, '='));
}

static void unb64(const char *s, ipvm_buf_t *out)
{
    size_t n = strlen(s);
    while (n && s[n - 1] == '=')
        n--;
    ipvm_buf_clear(out);
    IPVM_ASSERT_OK(ipvm_base_decode(IPVM_BASE64, s, n, out, NULL));
}

typedef struct {
    ipvm_key_t k;
    ipvm_signer_t s;
    char seed_b64[64];
} party_t;

static void party(party_t *p, uint8_t fill)
{
    uint8_t seed[32];
    memset(seed, fill, sizeof seed);
    IPVM_ASSERT_OK(ipvm_key_from_seed(&p->k, seed));
    ipvm_signer_from_key(&p->s, &p->k);
    ipvm_buf_t b = IPVM_BUF_INIT;
    b64(seed, 32, &b);
    snprintf(p->seed_b64, sizeof p->seed_b64, "%s", (char *)b.data);
    ipvm_buf_dispose(&b);
}

static ipvm_ipld_t *json(ipvm_arena_t *a, const char *text)
{
    ipvm_ipld_t *v = NULL;
    IPVM_ASSERT_OK(ipvm_dagjson_decode(text, strlen(text), a, &v, NULL));
    return v;
}

/* iso-ucan makes node -> alice -> bob and bob's invocation; ipvm rebuilds the same bytes and
 * validates the chain. */
IPVM_TEST(trust, interop_iso_ucan_tokens_verify_in_ipvm)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    party_t node, alice, bob;
    party(&node, 1);
    party(&alice, 2);
    party(&bob, 3);
    const char *pol = "[[\"like\",\".rsc\",\"ipfs://*\"]]";
    const char *args = "{\"rsc\":\"ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq\"}";
    int64_t exp = (int64_t)time(NULL) + 3600;
    char req[2048];
    snprintf(req, sizeof req,
             "{\"seeds\":{\"node\":\"%s\",\"alice\":\"%s\",\"bob\":\"%s\"},\"exp\":%lld,"
             "\"nonce\":\"AAECAwQFBgcICQoL\",\"cmd\":\"/wasm/run\",\"pol\":%s,\"args\":%s}",
             node.seed_b64, alice.seed_b64, bob.seed_b64, (long long)exp, pol, args);
    ipvm_ipld_t *r = js(&a, "iso-make", req);
    IPVM_ASSERT_STREQ(jstr(r, "dids/node"), node.s.did);
    IPVM_ASSERT_STREQ(jstr(r, "dids/bob"), bob.s.did);

    ipvm_ucan_store_t *st = NULL;
    IPVM_ASSERT_OK(ipvm_ucan_store_open(NULL, &st, NULL));
    ipvm_buf_t b = IPVM_BUF_INIT;
    const ipvm_ucan_t *root = NULL, *mid = NULL;
    ipvm_error_t err;
    unb64(jstr(r, "root"), &b);
    IPVM_ASSERT_OK_ERR(ipvm_ucan_store_add(st, b.data, b.len, &root, &err), &err);
    unb64(jstr(r, "mid"), &b);
    IPVM_ASSERT_OK_ERR(ipvm_ucan_store_add(st, b.data, b.len, &mid, &err), &err);
    unb64(jstr(r, "inv"), &b);
    ipvm_ucan_t *inv = NULL;
    IPVM_ASSERT_OK_ERR(ipvm_ucan_decode(b.data, b.len, &a, &inv, &err), &err);
    ipvm_ucan_validate_opts_t o = {0, -1, node.s.did, st, NULL};
    int link;
    IPVM_ASSERT_OK_ERR(ipvm_ucan_validate(inv, &o, &link, &err), &err);
    char cid[IPVM_CID_MAX_STR];
    IPVM_ASSERT_STREQ(ipvm_cid_str(&root->cid, cid), jstr(r, "cids/root"));
    IPVM_ASSERT_STREQ(ipvm_cid_str(&inv->cid, cid), jstr(r, "cids/inv"));

    /* the same delegation made by ipvm is the same bytes */
    uint8_t nonce[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    ipvm_ucan_params_t p = {0};
    p.kind = IPVM_UCAN_DELEGATION;
    p.aud = alice.s.did;
    p.sub = node.s.did;
    p.cmd = "/wasm/run";
    p.pol = json(&a, pol);
    p.nonce = nonce;
    p.nonce_len = sizeof nonce;
    p.has_exp = true;
    p.exp = exp;
    ipvm_ucan_t *mine = NULL;
    IPVM_ASSERT_OK(ipvm_ucan_create(&p, &node.s, &a, &mine, NULL));
    IPVM_ASSERT_MEMEQ(mine->bytes, mine->len, root->bytes, root->len);
    /* and so is the invocation (iso-ucan writes aud = sub when no audience is given) */
    ipvm_cid_t prf[2] = {root->cid, mid->cid};
    ipvm_ucan_params_t q = {0};
    q.kind = IPVM_UCAN_INVOCATION;
    q.aud = node.s.did;
    q.sub = node.s.did;
    q.cmd = "/wasm/run";
    q.args = json(&a, args);
    q.nonce = nonce;
    q.nonce_len = sizeof nonce;
    q.has_exp = true;
    q.exp = exp;
    q.prf = prf;
    q.nprf = 2;
    ipvm_ucan_t *myinv = NULL;
    IPVM_ASSERT_OK(ipvm_ucan_create(&q, &bob.s, &a, &myinv, NULL));
    IPVM_ASSERT_MEMEQ(myinv->bytes, myinv->len, inv->bytes, inv->len);
    ipvm_buf_dispose(&b);
    ipvm_ucan_store_free(st);
    ipvm_arena_dispose(&a);
}

/* What one bad case does to both sides. */
typedef struct {
    const char *name;
    const ipvm_ucan_t *inv;     /* invocation to validate, or NULL for a lone delegation */
    const ipvm_ucan_t *dlg;     /* a delegation to validate alone */
    const uint8_t *raw;         /* tampered bytes (decoding may already fail) */
    size_t raw_len;
    const ipvm_ucan_t *prf[4];
    size_t nprf;
} badcase_t;

static bool ipvm_accepts(ipvm_arena_t *a, const badcase_t *c, const char *node, char *why,
                         size_t why_len)
{
    ipvm_ucan_store_t *st = NULL;
    IPVM_ASSERT_OK(ipvm_ucan_store_open(NULL, &st, NULL));
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < c->nprf; i++)
        rc = ipvm_ucan_store_add(st, c->prf[i]->bytes, c->prf[i]->len, NULL, &err);
    const uint8_t *bytes = c->raw ? c->raw : c->inv ? c->inv->bytes : c->dlg->bytes;
    size_t len = c->raw ? c->raw_len : c->inv ? c->inv->len : c->dlg->len;
    ipvm_ucan_t *u = NULL;
    if (rc == 0)
        rc = ipvm_ucan_decode(bytes, len, a, &u, &err);
    ipvm_ucan_validate_opts_t o = {0, -1, node, st, NULL};
    if (rc == 0)
        rc = u->kind == IPVM_UCAN_INVOCATION ? ipvm_ucan_validate(u, &o, NULL, &err)
                                             : ipvm_ucan_validate_delegation(u, &o, &err);
    snprintf(why, why_len, "%s", err.msg);
    ipvm_ucan_store_free(st);
    return rc == 0;
}

/* Appends the iso-verify request of one case to a batch. */
static void iso_request(const badcase_t *c, ipvm_buf_t *req)
{
    ipvm_buf_t t = IPVM_BUF_INIT;
    const uint8_t *bytes = c->raw ? c->raw : c->inv ? c->inv->bytes : c->dlg->bytes;
    size_t len = c->raw ? c->raw_len : c->inv ? c->inv->len : c->dlg->len;
    b64(bytes, len, &t);
    IPVM_ASSERT_OK(ipvm_buf_printf(req, "%s{\"mode\":\"iso-verify\",\"request\":{\"kind\":\"%s\","
                                        "\"token\":\"%s\",\"proofs\":[",
                                   req->len > 14 ? "," : "", c->dlg ? "dlg" : "inv",
                                   (char *)t.data));
    for (size_t i = 0; i < c->nprf; i++) {
        b64(c->prf[i]->bytes, c->prf[i]->len, &t);
        IPVM_ASSERT_OK(ipvm_buf_printf(req, "%s\"%s\"", i ? "," : "", (char *)t.data));
    }
    IPVM_ASSERT_OK(ipvm_buf_append_str(req, "]}}"));
    ipvm_buf_dispose(&t);
}

/* Runs the batch and returns the verdicts (a list of {ok, error}). */
static const ipvm_ipld_t *iso_verdicts(ipvm_arena_t *a, const badcase_t *cases, size_t n)
{
    ipvm_buf_t req = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_buf_append_str(&req, "{\"requests\":["));
    for (size_t i = 0; i < n; i++)
        iso_request(&cases[i], &req);
    IPVM_ASSERT_OK(ipvm_buf_append_str(&req, "]}"));
    ipvm_ipld_t *r = js(a, "batch", (char *)req.data);
    ipvm_buf_dispose(&req);
    IPVM_ASSERT(r->kind == IPVM_IPLD_LIST && r->u.list.len == n);
    return r;
}

static bool verdict(const ipvm_ipld_t *r, size_t i, char *why, size_t why_len)
{
    const ipvm_ipld_t *v = r->u.list.items[i], *ok = ipvm_ipld_map_get(v, "ok");
    IPVM_ASSERT(ok && ok->kind == IPVM_IPLD_BOOL);
    const ipvm_ipld_t *e = ipvm_ipld_map_get(v, "error");
    snprintf(why, why_len, "%s", e && e->kind == IPVM_IPLD_STRING ? e->u.str.ptr : "");
    return ok->u.boolean;
}

static const ipvm_ucan_t *mk(ipvm_arena_t *a, const party_t *from, ipvm_ucan_kind_t kind,
                             const char *aud, const char *sub, const char *cmd, const char *pol_or_args,
                             int64_t exp, int64_t nbf, const ipvm_ucan_t *const *prf, size_t nprf)
{
    ipvm_cid_t cids[4];
    for (size_t i = 0; i < nprf; i++)
        cids[i] = prf[i]->cid;
    ipvm_ucan_params_t p = {0};
    p.kind = kind;
    p.aud = aud;
    p.sub = sub;
    p.cmd = cmd;
    if (kind == IPVM_UCAN_DELEGATION)
        p.pol = json(a, pol_or_args);
    else
        p.args = json(a, pol_or_args);
    p.has_exp = true;
    p.exp = exp;
    p.has_nbf = nbf != 0;
    p.nbf = nbf;
    p.prf = cids;
    p.nprf = nprf;
    ipvm_ucan_t *u = NULL;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_ucan_create(&p, &from->s, a, &u, &err), &err);
    return u;
}

/* Re-encodes a token with one payload field replaced, keeping its signature. */
static badcase_t tampered(ipvm_arena_t *a, const char *name, const ipvm_ucan_t *u,
                          const char *field, const char *value_json)
{
    ipvm_ipld_t *env = NULL;
    IPVM_ASSERT_OK(ipvm_dagcbor_decode(u->bytes, u->len, a, &env, NULL));
    ipvm_ipld_t *sp = env->u.list.items[1];
    ipvm_ipld_t *pl = (ipvm_ipld_t *)ipvm_ipld_map_get(sp, u->tag);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(a, pl, field, json(a, value_json)));
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_dagcbor_encode(env, &b, NULL));
    badcase_t c = {0};
    c.name = name;
    c.raw = ipvm_arena_memdup(a, b.data, b.len);
    c.raw_len = b.len;
    if (u->kind == IPVM_UCAN_DELEGATION)
        c.dlg = u;
    else
        c.inv = u;
    ipvm_buf_dispose(&b);
    return c;
}

IPVM_TEST(trust, interop_ipvm_tokens_verify_in_iso_ucan_and_both_reject_bad_ones)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    party_t node, alice, bob, mallory;
    party(&node, 4);
    party(&alice, 5);
    party(&bob, 6);
    party(&mallory, 7);
    int64_t now = (int64_t)time(NULL), exp = now + 3600;
    const char *pol = "[[\"like\",\".rsc\",\"ipfs://*\"]]", *args = "{\"rsc\":\"ipfs://bafy\"}";
    const ipvm_ucan_t *root = mk(&a, &node, IPVM_UCAN_DELEGATION, alice.s.did, node.s.did,
                                 "/wasm/run", pol, exp, 0, NULL, 0);
    const ipvm_ucan_t *mid = mk(&a, &alice, IPVM_UCAN_DELEGATION, bob.s.did, node.s.did,
                                "/wasm/run", "[]", exp, 0, NULL, 0);
    const ipvm_ucan_t *chain[] = {root, mid};
    const ipvm_ucan_t *inv = mk(&a, &bob, IPVM_UCAN_INVOCATION, node.s.did, node.s.did,
                                "/wasm/run", args, exp, 0, chain, 2);
    char why1[400], why2[400];
    /* good tokens verify on both sides */
    badcase_t good[] = {{"root", NULL, root, NULL, 0, {0}, 0},
                        {"mid", NULL, mid, NULL, 0, {0}, 0},
                        {"invocation", inv, NULL, NULL, 0, {root, mid}, 2}};
    const ipvm_ipld_t *gv = iso_verdicts(&a, good, 3);
    for (size_t i = 0; i < 3; i++) {
        IPVM_ASSERT_MSG(ipvm_accepts(&a, &good[i], node.s.did, why1, sizeof why1), "ipvm: %s: %s",
                        good[i].name, why1);
        IPVM_ASSERT_MSG(verdict(gv, i, why2, sizeof why2), "iso-ucan: %s: %s", good[i].name, why2);
    }
    /* tampered in every field, expired, not yet valid, broken chain, widened capability */
    const ipvm_ucan_t *mal_mid = mk(&a, &alice, IPVM_UCAN_DELEGATION, mallory.s.did, node.s.did,
                                    "/wasm/run", "[]", exp, 0, NULL, 0);
    const ipvm_ucan_t *wide_mid = mk(&a, &alice, IPVM_UCAN_DELEGATION, bob.s.did, node.s.did, "/",
                                     "[]", exp, 0, NULL, 0);
    const ipvm_ucan_t *old_mid = mk(&a, &alice, IPVM_UCAN_DELEGATION, bob.s.did, node.s.did,
                                    "/wasm/run", "[]", now - 7200, 0, NULL, 0);
    const ipvm_ucan_t *late_mid = mk(&a, &alice, IPVM_UCAN_DELEGATION, bob.s.did, node.s.did,
                                     "/wasm/run", "[]", exp, now + 1800, NULL, 0);
    const ipvm_ucan_t *c_mal[] = {root, mal_mid}, *c_wide[] = {root, wide_mid};
    badcase_t bad[] = {
        tampered(&a, "root iss", root, "iss", "\"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\""),
        tampered(&a, "root aud", root, "aud", "\"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\""),
        tampered(&a, "root sub", root, "sub", "null"),
        tampered(&a, "root cmd", root, "cmd", "\"/\""),
        tampered(&a, "root pol", root, "pol", "[]"),
        tampered(&a, "root nonce", root, "nonce", "{\"/\":{\"bytes\":\"AAAA\"}}"),
        tampered(&a, "root exp", root, "exp", "null"),
        tampered(&a, "root nbf", root, "nbf", "1"),
        tampered(&a, "root meta", root, "meta", "{\"x\":1}"),
        tampered(&a, "inv iss", inv, "iss", "\"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\""),
        tampered(&a, "inv sub", inv, "sub", "\"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\""),
        tampered(&a, "inv aud", inv, "aud", "\"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\""),
        tampered(&a, "inv cmd", inv, "cmd", "\"/wasm\""),
        tampered(&a, "inv args", inv, "args", "{\"rsc\":\"ipfs://other\"}"),
        tampered(&a, "inv nonce", inv, "nonce", "{\"/\":{\"bytes\":\"\"}}"),
        tampered(&a, "inv exp", inv, "exp", "null"),
        tampered(&a, "inv prf", inv, "prf", "[]"),
        {"expired proof", mk(&a, &bob, IPVM_UCAN_INVOCATION, node.s.did, node.s.did, "/wasm/run",
                             args, exp, 0, (const ipvm_ucan_t *[]){root, old_mid}, 2),
         NULL, NULL, 0, {root, old_mid}, 2},
        {"expired invocation", mk(&a, &bob, IPVM_UCAN_INVOCATION, node.s.did, node.s.did,
                                  "/wasm/run", args, now - 7200, 0, chain, 2),
         NULL, NULL, 0, {root, mid}, 2},
        {"expired delegation", NULL, old_mid, NULL, 0, {0}, 0},
        {"not yet valid proof", mk(&a, &bob, IPVM_UCAN_INVOCATION, node.s.did, node.s.did,
                                   "/wasm/run", args, exp, 0, (const ipvm_ucan_t *[]){root, late_mid}, 2),
         NULL, NULL, 0, {root, late_mid}, 2},
        {"not yet valid delegation", NULL, late_mid, NULL, 0, {0}, 0},
        {"broken chain", mk(&a, &bob, IPVM_UCAN_INVOCATION, node.s.did, node.s.did, "/wasm/run",
                            args, exp, 0, c_mal, 2),
         NULL, NULL, 0, {root, mal_mid}, 2},
        {"widened delegation", mk(&a, &bob, IPVM_UCAN_INVOCATION, node.s.did, node.s.did,
                                  "/wasm/run", args, exp, 0, c_wide, 2),
         NULL, NULL, 0, {root, wide_mid}, 2},
        {"widened invocation", mk(&a, &bob, IPVM_UCAN_INVOCATION, node.s.did, node.s.did, "/wasm",
                                  args, exp, 0, chain, 2),
         NULL, NULL, 0, {root, mid}, 2},
        {"policy violated", mk(&a, &bob, IPVM_UCAN_INVOCATION, node.s.did, node.s.did,
                               "/wasm/run", "{\"rsc\":\"https://example.com/m.wasm\"}", exp, 0,
                               chain, 2),
         NULL, NULL, 0, {root, mid}, 2},
        {"missing proof", inv, NULL, NULL, 0, {root}, 1},
    };
    /* the tampered invocations keep their proofs */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (bad[i].inv && bad[i].nprf == 0 && bad[i].raw) {
            bad[i].prf[0] = root;
            bad[i].prf[1] = mid;
            bad[i].nprf = 2;
        }
    size_t nbad = sizeof bad / sizeof bad[0];
    const ipvm_ipld_t *bv = iso_verdicts(&a, bad, nbad);
    for (size_t i = 0; i < nbad; i++) {
        bool mine = ipvm_accepts(&a, &bad[i], node.s.did, why1, sizeof why1);
        bool theirs = verdict(bv, i, why2, sizeof why2);
        IPVM_ASSERT_MSG(!mine && !theirs, "%s: ipvm %s, iso-ucan %s (%s / %s)", bad[i].name,
                        mine ? "accepts" : "rejects", theirs ? "accepts" : "rejects", why1, why2);
        IPVM_ASSERT(strlen(why1) > 10);
    }
    ipvm_arena_dispose(&a);
}

static ipvm_buf_t secret_b64(const party_t *p)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    b64(p->k.secret, 64, &b);
    return b;
}

static void ucans_request(ipvm_buf_t *req, const char *jwt, const char *aud, const char *with,
                          const char *root)
{
    IPVM_ASSERT_OK(ipvm_buf_printf(req,
                                   "%s{\"mode\":\"jwt-verify\",\"request\":{\"token\":\"%s\","
                                   "\"audience\":\"%s\",\"with\":\"%s\",\"can\":\"wasm/run\","
                                   "\"root\":\"%s\"}}",
                                   req->len > 14 ? "," : "", jwt, aud, with, root));
}

static bool ipvm_jwt_accepts(ipvm_arena_t *a, const char *jwt, const char *aud, const char *with,
                             const char *root, char *why, size_t n)
{
    ipvm_jwt_t *t = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = ipvm_jwt_decode(jwt, strlen(jwt), a, &t, &err);
    ipvm_jwt_validate_opts_t o = {0, -1, aud, with, "wasm/run", root, NULL, NULL};
    if (rc == 0)
        rc = ipvm_jwt_validate(t, &o, &err);
    snprintf(why, n, "%s", err.msg);
    return rc == 0;
}

/* Replaces `from` by `to` inside the payload part of a JWT, keeping its signature. */
static const char *jwt_tamper(ipvm_arena_t *a, const char *jwt, const char *from, const char *to)
{
    const char *d1 = strchr(jwt, '.'), *d2 = strchr(d1 + 1, '.');
    ipvm_buf_t pl = IPVM_BUF_INIT, out = IPVM_BUF_INIT, enc = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_base_decode(IPVM_BASE64URL, d1 + 1, (size_t)(d2 - d1 - 1), &pl, NULL));
    char *hit = strstr((char *)pl.data, from);
    IPVM_ASSERT_MSG(hit != NULL, "%s not in the payload", from);
    IPVM_ASSERT_OK(ipvm_buf_append(&out, pl.data, (size_t)(hit - (char *)pl.data)));
    IPVM_ASSERT_OK(ipvm_buf_append_str(&out, to));
    IPVM_ASSERT_OK(ipvm_buf_append_str(&out, hit + strlen(from)));
    IPVM_ASSERT_OK(ipvm_base_encode(IPVM_BASE64URL, out.data, out.len, &enc));
    char *r = ipvm_arena_printf(a, "%.*s%s%s", (int)(d1 - jwt + 1), jwt, (char *)enc.data, d2);
    ipvm_buf_dispose(&pl);
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&enc);
    return r;
}

IPVM_TEST(trust, interop_ucans_jwts_verify_in_ipvm_and_both_reject_bad_ones)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    party_t node, alice, bob, mallory;
    party(&node, 8);
    party(&alice, 9);
    party(&bob, 10);
    party(&mallory, 11);
    ipvm_buf_t sn = secret_b64(&node), sa = secret_b64(&alice), sb = secret_b64(&bob),
               sm = secret_b64(&mallory);
    const char *with = "ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq";
    int64_t now = (int64_t)time(NULL);
    /* one process makes three chains: good, already expired, and rooted at mallory */
    char req[8192];
    const char *fmt = "{\"mode\":\"jwt-make\",\"request\":{\"secrets\":{\"node\":\"%s\","
                      "\"alice\":\"%s\",\"bob\":\"%s\"},\"exp\":%lld,\"with\":\"%s\","
                      "\"can\":\"wasm/run\"}}";
    char m1[2048], m2[2048], m3[2048];
    snprintf(m1, sizeof m1, fmt, (char *)sn.data, (char *)sa.data, (char *)sb.data,
             (long long)(now + 3600), with);
    snprintf(m2, sizeof m2, fmt, (char *)sn.data, (char *)sa.data, (char *)sb.data,
             (long long)(now - 7200), with);
    snprintf(m3, sizeof m3, fmt, (char *)sm.data, (char *)sa.data, (char *)sb.data,
             (long long)(now + 3600), with);
    snprintf(req, sizeof req, "{\"requests\":[%s,%s,%s]}", m1, m2, m3);
    ipvm_ipld_t *made = js(&a, "batch", req);
    IPVM_ASSERT(made->kind == IPVM_IPLD_LIST && made->u.list.len == 3);
    const char *leaf = jstr(made->u.list.items[0], "leaf");
    const char *expired = jstr(made->u.list.items[1], "leaf");
    const char *foreign_root = jstr(made->u.list.items[2], "leaf");
    char why1[400], why2[400];
    IPVM_ASSERT_MSG(ipvm_jwt_accepts(&a, leaf, node.s.did, with, node.s.did, why1, sizeof why1),
                    "ipvm: %s", why1);
    /* the header is what @ucans/ucans 0.12 writes */
    ipvm_jwt_t *t = NULL;
    IPVM_ASSERT_OK(ipvm_jwt_decode(leaf, strlen(leaf), &a, &t, NULL));
    IPVM_ASSERT_STREQ(t->alg, "EdDSA");
    IPVM_ASSERT_STREQ(t->iss, bob.s.did);
    IPVM_ASSERT_EQ(t->nprf, 1);
    struct {
        const char *name, *jwt, *aud, *with;
    } bad[] = {
        {"tampered resource", jwt_tamper(&a, leaf, "bafybei", "bafybez"), node.s.did, with},
        {"tampered ability", jwt_tamper(&a, leaf, "wasm/run", "wasm/all"), node.s.did, with},
        {"tampered audience", jwt_tamper(&a, leaf, node.s.did + 20, alice.s.did + 20), node.s.did,
         with},
        {"tampered exp", jwt_tamper(&a, leaf, "\"exp\":", "\"exp\":1"), node.s.did, with},
        {"expired", expired, node.s.did, with},
        {"wrong audience", leaf, alice.s.did, with},
        {"root is not the node", foreign_root, node.s.did, with},
        {"widened resource", leaf, node.s.did, "ipfs://bafkreisomethingelse"},
    };
    size_t nbad = sizeof bad / sizeof bad[0];
    ipvm_buf_t breq = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_buf_append_str(&breq, "{\"requests\":["));
    ucans_request(&breq, leaf, node.s.did, with, node.s.did);
    for (size_t i = 0; i < nbad; i++)
        ucans_request(&breq, bad[i].jwt, bad[i].aud, bad[i].with, node.s.did);
    IPVM_ASSERT_OK(ipvm_buf_append_str(&breq, "]}"));
    const ipvm_ipld_t *bv = js(&a, "batch", (char *)breq.data);
    ipvm_buf_dispose(&breq);
    IPVM_ASSERT(bv->kind == IPVM_IPLD_LIST && bv->u.list.len == nbad + 1);
    IPVM_ASSERT_MSG(verdict(bv, 0, why2, sizeof why2), "@ucans: %s", why2);
    for (size_t i = 0; i < nbad; i++) {
        bool mine = ipvm_jwt_accepts(&a, bad[i].jwt, bad[i].aud, bad[i].with, node.s.did, why1,
                                     sizeof why1);
        bool theirs = verdict(bv, i + 1, why2, sizeof why2);
        IPVM_ASSERT_MSG(!mine && !theirs, "%s: ipvm %s, @ucans %s (%s / %s)", bad[i].name,
                        mine ? "accepts" : "rejects", theirs ? "accepts" : "rejects", why1, why2);
    }
    ipvm_buf_dispose(&sn);
    ipvm_buf_dispose(&sa);
    ipvm_buf_dispose(&sb);
    ipvm_buf_dispose(&sm);
    ipvm_arena_dispose(&a);
}
