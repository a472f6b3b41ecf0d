/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of trust/ucan.c, policy.c and chain.c: envelopes made, decoded and verified; strict
 * decoding of bad envelopes; the policy language on the examples of the delegation spec; chain
 * validation with every kind of broken link; revocation; the store on disk. */
#include "test.h"

#include <time.h>

typedef struct {
    ipvm_key_t key;
    ipvm_signer_t s;
} who_t;

static void who(who_t *w, uint8_t seed_byte)
{
    uint8_t seed[32];
    memset(seed, seed_byte, sizeof seed);
    IPVM_ASSERT_OK(ipvm_key_from_seed(&w->key, seed));
    ipvm_signer_from_key(&w->s, &w->key);
}

static ipvm_ipld_t *json(ipvm_arena_t *a, const char *text)
{
    ipvm_ipld_t *v = NULL;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_dagjson_decode(text, strlen(text), a, &v, &err), &err);
    return v;
}

static const ipvm_ucan_t *delegate(ipvm_arena_t *a, ipvm_ucan_store_t *st, const who_t *from,
                                   const char *to, const char *sub, const char *cmd,
                                   const char *pol, int64_t exp)
{
    ipvm_ucan_params_t p = {0};
    p.kind = IPVM_UCAN_DELEGATION;
    p.aud = to;
    p.sub = sub;
    p.cmd = cmd;
    p.pol = pol ? json(a, pol) : NULL;
    p.has_exp = exp != 0;
    p.exp = exp;
    ipvm_ucan_t *u = NULL;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_ucan_create(&p, &from->s, a, &u, &err), &err);
    const ipvm_ucan_t *stored = NULL;
    if (st)
        IPVM_ASSERT_OK_ERR(ipvm_ucan_store_add(st, u->bytes, u->len, &stored, &err), &err);
    return st ? stored : u;
}

static const ipvm_ucan_t *invoke(ipvm_arena_t *a, const who_t *from, const char *sub,
                                 const char *cmd, const char *args,
                                 const ipvm_ucan_t *const *prf, size_t nprf)
{
    ipvm_cid_t cids[16];
    for (size_t i = 0; i < nprf; i++)
        cids[i] = prf[i]->cid;
    ipvm_ucan_params_t p = {0};
    p.kind = IPVM_UCAN_INVOCATION;
    p.sub = sub;
    p.cmd = cmd;
    p.args = args ? json(a, args) : NULL;
    p.prf = cids;
    p.nprf = nprf;
    p.has_exp = true;
    p.exp = (int64_t)time(NULL) + 300;
    ipvm_ucan_t *u = NULL;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_ucan_create(&p, &from->s, a, &u, &err), &err);
    return u;
}

IPVM_TEST(trust, ucan_create_decode_verify)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    who_t alice, bob;
    who(&alice, 1);
    who(&bob, 2);
    const ipvm_ucan_t *d = delegate(&a, NULL, &alice, bob.s.did, alice.s.did, "/wasm/run",
                                    "[[\"like\", \".rsc\", \"ipfs://*\"]]", 2000000000);
    IPVM_ASSERT_EQ(d->kind, IPVM_UCAN_DELEGATION);
    IPVM_ASSERT_STREQ(d->tag, "ucan/dlg@1.0.0-rc.1");
    IPVM_ASSERT_STREQ(d->iss, alice.s.did);
    IPVM_ASSERT_STREQ(d->aud, bob.s.did);
    IPVM_ASSERT_EQ(d->nonce_len, 12);
    IPVM_ASSERT_EQ(d->exp, 2000000000);
    /* the envelope starts [bytes(64) and the header is Ed25519 over DAG-CBOR */
    IPVM_ASSERT(d->bytes[0] == 0x82 && d->bytes[1] == 0x58 && d->bytes[2] == 0x40);
    IPVM_ASSERT_MEMEQ(d->header, d->header_len, "\x34\x01\xed\x01\xed\x01\x13\x71", 8);
    IPVM_ASSERT_OK(ipvm_ucan_verify_signature(d, NULL));
    /* decoding the bytes again gives the same token and CID (sha2-256, dag-cbor: "zdpu…") */
    ipvm_ucan_t *again = NULL;
    IPVM_ASSERT_OK(ipvm_ucan_decode(d->bytes, d->len, &a, &again, NULL));
    IPVM_ASSERT(ipvm_cid_equal(&again->cid, &d->cid));
    char s[IPVM_CID_MAX_STR];
    IPVM_ASSERT_OK(ipvm_cid_format(&d->cid, IPVM_BASE58BTC, s, sizeof s));
    IPVM_ASSERT(strncmp(s, "zdpu", 4) == 0);
    /* every single-bit change is refused, by the decoder or by the signature */
    for (size_t i = 0; i < d->len; i++) {
        uint8_t *copy = ipvm_arena_memdup(&a, d->bytes, d->len);
        copy[i] ^= 0x01;
        ipvm_ucan_t *t = NULL;
        ipvm_error_t err;
        ipvm_error_clear(&err);
        int rc = ipvm_ucan_decode(copy, d->len, &a, &t, &err);
        if (rc == 0)
            rc = ipvm_ucan_verify_signature(t, &err);
        IPVM_ASSERT_MSG(rc != 0, "flipping byte %zu went unnoticed", i);
        IPVM_ASSERT(strlen(err.msg) > 10);
    }
    const ipvm_ucan_t *inv = invoke(&a, &bob, alice.s.did, "/wasm/run",
                                    "{\"rsc\": \"ipfs://bafy\"}", &d, 1);
    IPVM_ASSERT_EQ(inv->kind, IPVM_UCAN_INVOCATION);
    IPVM_ASSERT_EQ(inv->nprf, 1);
    IPVM_ASSERT(ipvm_cid_equal(&inv->prf[0], &d->cid));
    IPVM_ASSERT_OK(ipvm_ucan_verify_signature(inv, NULL));
    ipvm_key_wipe(&alice.key);
    ipvm_key_wipe(&bob.key);
    ipvm_arena_dispose(&a);
}

/* Envelopes that are well-formed DAG-CBOR but not UCANs, or not strict DAG-CBOR. */
IPVM_TEST(trust, ucan_decode_rejects)
{
    static const struct {
        const char *hex, *why;
    } bad[] = {
        {"", "DAG-CBOR"},
        {"a0", "must be a list"},
        {"8140", "must be a list"},
        {"82f6a0", "signature) must be bytes"},
        {"8240a0", "exactly `h`"},
        /* {"h": h'3401', "ucan/foo@1": {}} */
        {"824082a0a0", "exactly `h`"},
        {"8240a26168423401" "6a756361" "6e2f666f6f4031" "a0", "unknown payload tag"},
        /* indefinite-length list: not strict DAG-CBOR */
        {"9f40a0ff", "DAG-CBOR"},
        /* trailing byte */
        {"8240a000", "DAG-CBOR"},
    };
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipvm_buf_t b = IPVM_BUF_INIT;
        IPVM_ASSERT_OK(ipvm_base_decode(IPVM_BASE16, bad[i].hex, strlen(bad[i].hex), &b, NULL));
        ipvm_ucan_t *u = NULL;
        ipvm_error_t err;
        ipvm_error_clear(&err);
        IPVM_ASSERT_MSG(ipvm_ucan_decode(b.data, b.len, &a, &u, &err) != 0, "case %zu", i);
        IPVM_ASSERT_STRCONTAINS(err.msg, bad[i].why);
        ipvm_buf_dispose(&b);
    }
    ipvm_arena_dispose(&a);
}

/* Payload fields: every required one missing, wrong types, bad commands and DIDs. */
IPVM_TEST(trust, ucan_payload_rejects)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    who_t alice;
    who(&alice, 3);
    static const struct {
        const char *field, *value, *why; /* value NULL: remove the field */
    } cases[] = {
        {"iss", NULL, "`iss`: is required"},
        {"aud", NULL, "`aud`: is required"},
        {"sub", NULL, "`sub`: is required"},
        {"cmd", NULL, "`cmd`: is required"},
        {"pol", NULL, "`pol`: is required"},
        {"nonce", NULL, "`nonce`: is required"},
        {"exp", NULL, "use null for no expiry"},
        {"iss", "\"alice\"", "is not a DID"},
        {"aud", "7", "must be a DID string"},
        {"cmd", "\"wasm/run\"", "is not a command"},
        {"cmd", "\"/Wasm\"", "is not a command"},
        {"cmd", "\"/wasm/\"", "is not a command"},
        {"cmd", "\"/a//b\"", "is not a command"},
        {"exp", "1.5", "must be an integer"},
        {"exp", "9007199254740992", "within"},
        {"nbf", "\"soon\"", "must be an integer"},
        {"nonce", "\"abc\"", "must be a bytes"},
        {"meta", "[]", "must be a map"},
        {"pol", "{}", "must be a list"},
        {"pol", "[[\"~=\", \".a\", 1]]", "unknown operator"},
        {"pol", "[[\"==\", \"a\", 1]]", "starts with '.'"},
        {"pol", "[[\"==\", \".a..b\", 1]]", "'..'"},
        {"pol", "[[\"<\", \".a\", \"x\"]]", "number"},
        {"extra", "1", "unknown field `extra`"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ipvm_ipld_t *pl = json(&a, "{\"iss\": \"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\","
                                   " \"aud\": \"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\","
                                   " \"sub\": null, \"cmd\": \"/\", \"pol\": [],"
                                   " \"nonce\": {\"/\": {\"bytes\": \"AAAA\"}}, \"exp\": null}");
        if (cases[i].value) {
            IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, pl, cases[i].field, json(&a, cases[i].value)));
        } else {
            ipvm_ipld_t *np = ipvm_ipld_new_map(&a, 9);
            for (size_t k = 0; k < pl->u.map.len; k++)
                if (strcmp(pl->u.map.entries[k].key, cases[i].field) != 0)
                    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, np, pl->u.map.entries[k].key,
                                                          pl->u.map.entries[k].value));
            pl = np;
        }
        ipvm_ipld_t *sp = ipvm_ipld_new_map(&a, 2), *env = ipvm_ipld_new_list(&a, 2);
        IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, sp, "h", ipvm_ipld_new_bytes(&a, (const uint8_t *)IPVM_VARSIG_ED25519_DAGCBOR, 8)));
        IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, sp, IPVM_UCAN_DLG_TAG, pl));
        uint8_t sig[64] = {0};
        IPVM_ASSERT_OK(ipvm_ipld_list_push(&a, env, ipvm_ipld_new_bytes(&a, sig, 64)));
        IPVM_ASSERT_OK(ipvm_ipld_list_push(&a, env, sp));
        ipvm_buf_t b = IPVM_BUF_INIT;
        IPVM_ASSERT_OK(ipvm_dagcbor_encode(env, &b, NULL));
        ipvm_ucan_t *u = NULL;
        ipvm_error_t err;
        ipvm_error_clear(&err);
        IPVM_ASSERT_ERR(ipvm_ucan_decode(b.data, b.len, &a, &u, &err), IPVM_EUCAN);
        IPVM_ASSERT_STRCONTAINS(err.msg, cases[i].why);
        ipvm_buf_dispose(&b);
    }
    ipvm_key_wipe(&alice.key);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(trust, ucan_cmd_hierarchy)
{
    IPVM_ASSERT(ipvm_ucan_cmd_proves("/", "/wasm/run"));
    IPVM_ASSERT(ipvm_ucan_cmd_proves("/wasm", "/wasm/run"));
    IPVM_ASSERT(ipvm_ucan_cmd_proves("/wasm/run", "/wasm/run"));
    IPVM_ASSERT(!ipvm_ucan_cmd_proves("/wasm/run", "/wasm"));
    /* the spec's own example: /crypto proves /crypto/sign but not /cryptocurrency */
    IPVM_ASSERT(ipvm_ucan_cmd_proves("/crypto", "/crypto/sign"));
    IPVM_ASSERT(!ipvm_ucan_cmd_proves("/crypto", "/cryptocurrency"));
    IPVM_ASSERT(!ipvm_ucan_cmd_proves("/crypto", "/stack/pop"));
    static const char *ok[] = {"/", "/crud", "/crud/create", "/foo/bar/baz/qux/quux",
                               "/\xe3\x81\xbb\xe3\x81\x92/\xe3\x81\xb5\xe3\x81\x8c"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        IPVM_ASSERT(ipvm_ucan_cmd_valid(ok[i]));
    static const char *bad[] = {"", "crud", "/crud/", "//", "/Crud", "/a//b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        IPVM_ASSERT(!ipvm_ucan_cmd_valid(bad[i]));
}

/* The selector table and the "Selecting on Bytes" example of the delegation spec. */
IPVM_TEST(trust, policy_selectors_spec_examples)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *args = json(&a, "{\"from\": \"alice@example.com\", \"to\": [\"bob@example.com\","
                                 " \"carol@not.example.com\", \"dan@example.com\"], \"cc\": "
                                 "[\"fraud@example.com\"], \"title\": \"Meeting Confirmation\","
                                 " \"body\": \"I'll see you on Tuesday\"}");
    static const struct {
        const char *sel, *want; /* want NULL: does not resolve */
    } cases[] = {
        {".", NULL /* checked below */},
        {".title", "\"Meeting Confirmation\""},
        {".cc", "[\"fraud@example.com\"]"},
        {".to[1]", "\"carol@not.example.com\""},
        {".to[-1]", "\"dan@example.com\""},
        {".to[99]?", "null"},
        {".to[99]", NULL},
        {".to[0:2]", "[\"bob@example.com\",\"carol@not.example.com\"]"},
        {".to[1:]", "[\"carol@not.example.com\",\"dan@example.com\"]"},
        {".to[:-2]", "[\"bob@example.com\"]"},
        {".[\"title\"]", "\"Meeting Confirmation\""},
        {".missing", "null"},
        {".missing.deeper", NULL},
        {".missing.deeper?", "null"},
        {".missing?.deeper", NULL}, /* "return early ... even if a later segment is optional" */
        {".title???", "\"Meeting Confirmation\""},
        {".cc[]", "[\"fraud@example.com\"]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ipvm_ipld_t *r = NULL;
        ipvm_error_t err;
        IPVM_ASSERT_OK_ERR(ipvm_selector_eval(cases[i].sel, strlen(cases[i].sel), args, &a, &r, &err),
                           &err);
        if (i == 0) {
            IPVM_ASSERT(r == args);
            continue;
        }
        if (cases[i].want == NULL) {
            IPVM_ASSERT_MSG(r == NULL, "%s should not resolve", cases[i].sel);
            continue;
        }
        IPVM_ASSERT_MSG(r != NULL, "%s should resolve", cases[i].sel);
        ipvm_buf_t b = IPVM_BUF_INIT;
        IPVM_ASSERT_OK(ipvm_dagjson_encode(r, 0, &b, NULL));
        IPVM_ASSERT_STREQ((char *)b.data, cases[i].want);
        ipvm_buf_dispose(&b);
    }
    /* bytes are selected into as [u8]: 0xd6a9c18cf8c4, ".[3]" is 0x8c = 140 */
    ipvm_ipld_t *bytes = json(&a, "{\"/\": {\"bytes\": \"1qnBjPjE\"}}");
    const ipvm_ipld_t *r = NULL;
    IPVM_ASSERT_OK(ipvm_selector_eval(".[3]", 4, bytes, &a, &r, NULL));
    uint64_t u = 0;
    IPVM_ASSERT(r != NULL);
    IPVM_ASSERT_OK(ipvm_ipld_get_u64(r, &u));
    IPVM_ASSERT_EQ(u, 140);
    static const char *malformed[] = {"", "title", "..", ".a..b", ".[", ".[x]", ".[\"a]", ".a b"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        ipvm_error_t err;
        IPVM_ASSERT_ERR(ipvm_selector_eval(malformed[i], strlen(malformed[i]), args, &a, &r, &err),
                        IPVM_EUCAN);
    }
    ipvm_arena_dispose(&a);
}

/* The glob examples of the delegation spec ("Glob Matching"). */
IPVM_TEST(trust, policy_like_spec_examples)
{
    const char *pat = "Alice\\*, Bob*, Carol.";
    static const char *pass[] = {"Alice*, Bob, Carol.", "Alice*, Bob, Dan, Erin, Carol.",
                                 "Alice*, Bob  , Carol.", "Alice*, Bob*, Carol."};
    static const char *fail[] = {"Alice*, Bob, Carol", "Alice*, Bob*, Carol!",
                                 "Alice, Bob, Carol.", "Alice Cooper, Bob, Carol.",
                                 " Alice*, Bob, Carol. "};
    for (size_t i = 0; i < 4; i++)
        IPVM_ASSERT_MSG(ipvm_policy_like(pat, strlen(pat), pass[i], strlen(pass[i])), "%s", pass[i]);
    for (size_t i = 0; i < 5; i++)
        IPVM_ASSERT_MSG(!ipvm_policy_like(pat, strlen(pat), fail[i], strlen(fail[i])), "%s", fail[i]);
    IPVM_ASSERT(ipvm_policy_like("*@example.com", 13, "bob@example.com", 15));
    IPVM_ASSERT(!ipvm_policy_like("*@example.com", 13, "carol@elsewhere.example.co", 26));
    IPVM_ASSERT(ipvm_policy_like("*", 1, "", 0));
    IPVM_ASSERT(ipvm_policy_like("a*b*c", 5, "aXbYbZc", 7));
    IPVM_ASSERT(!ipvm_policy_like("a*b*c", 5, "aXbYbZ", 6));
}

/* The connective, quantifier and comparison examples of the delegation spec. */
IPVM_TEST(trust, policy_statements_spec_examples)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    static const struct {
        const char *args, *pol;
        bool want;
    } cases[] = {
        {"{\"name\": \"Katie\", \"age\": 35, \"nationalities\": [\"Canadian\", \"South African\"]}",
         "[[\"and\", []]]", true},
        {"{\"name\": \"Katie\", \"age\": 35}",
         "[[\"and\", [[\"==\", \".name\", \"Katie\"], [\">=\", \".age\", 21]]]]", true},
        {"{\"name\": \"Katie\", \"age\": 35, \"nationalities\": [\"Canadian\", \"South African\"]}",
         "[[\"and\", [[\"==\", \".name\", \"Katie\"], [\">=\", \".age\", 21], [\"==\", "
         "\".nationalities\", [\"American\"]]]]]",
         false},
        {"{}", "[[\"or\", []]]", true},
        {"{\"name\": \"Katie\", \"age\": 35}",
         "[[\"or\", [[\"==\", \".name\", \"Katie\"], [\">\", \".age\", 45]]]]", true},
        {"{\"name\": \"Katie\", \"nationalities\": [\"Canadian\", \"South African\"]}",
         "[[\"not\", [\"and\", [[\"==\", \".name\", \"Katie\"], [\"==\", \".nationalities\", "
         "[\"American\"]]]]]]",
         true},
        {"{\"a\": [{\"b\": 1}, {\"b\": 2}, {\"z\": [7, 8, 9]}]}", "[[\"all\", \".a\", [\">\", \".b\", 0]]]",
         false},
        {"{\"a\": [{\"b\": 1}, {\"b\": 2}, {\"z\": [7, 8, 9]}]}", "[[\"any\", \".a\", [\"==\", \".b\", 2]]]",
         true},
        {"{\"from\": \"alice@example.com\", \"to\": [\"bob@example.com\", \"carol@elsewhere.example.com\"]}",
         "[[\"==\", \".from\", \"alice@example.com\"], [\"any\", \".to\", [\"like\", \".\", "
         "\"*@example.com\"]]]",
         true},
        {"{\"from\": \"alice@example.com\", \"to\": [\"carol@elsewhere.example.com\"]}",
         "[[\"==\", \".from\", \"alice@example.com\"], [\"any\", \".to\", [\"like\", \".\", "
         "\"*@example.com\"]]]",
         false},
        /* numbers compare across int and float; non-numbers compare false, never error */
        {"{\"b\": 1}", "[[\"==\", \".b\", 1.0], [\"<\", \".b\", 2.0], [\">=\", \".b\", 1]]", true},
        {"{\"b\": \"1\"}", "[[\"<\", \".b\", 2]]", false},
        {"{\"b\": 1}", "[[\"!=\", \".b\", null], [\"!=\", \".b\", {\"b\": 3}]]", true},
        {"{\"a\": [1, 2, {\"b\": 3}]}", "[[\"==\", \".a\", [1, 2, {\"b\": 3}]]]", true},
        /* quantifying over a non-collection is false */
        {"{\"a\": 5}", "[[\"all\", \".a\", [\">\", \".\", 0]]]", false},
        /* nested quantifiers over a map's values */
        {"{\"n\": {\"x\": {\"r\": [{\"e\": \"bob\"}, {\"e\": \"al\"}]}}}",
         "[[\"all\", \".n\", [\"any\", \".r\", [\"==\", \".e\", \"bob\"]]]]", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool ok = !cases[i].want;
        ipvm_buf_t why = IPVM_BUF_INIT;
        ipvm_error_t err;
        IPVM_ASSERT_OK_ERR(ipvm_policy_eval(json(&a, cases[i].pol), json(&a, cases[i].args), &ok,
                                            &why, &err),
                           &err);
        IPVM_ASSERT_MSG(ok == cases[i].want, "case %zu: got %d", i, ok);
        if (!ok)
            IPVM_ASSERT(why.len > 2);
        ipvm_buf_dispose(&why);
    }
    ipvm_arena_dispose(&a);
}

/* A chain node → alice → bob → carol, then every way to break it. */
IPVM_TEST(trust, chain_validation)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    who_t node, alice, bob, carol, mallory;
    who(&node, 10);
    who(&alice, 11);
    who(&bob, 12);
    who(&carol, 13);
    who(&mallory, 14);
    ipvm_ucan_store_t *st = NULL;
    IPVM_ASSERT_OK(ipvm_ucan_store_open(NULL, &st, NULL));
    int64_t later = (int64_t)time(NULL) + 3600;
    const char *args = "{\"rsc\": \"ipfs://bafymod\", \"func\": \"add_one\"}";
    const ipvm_ucan_t *d0 = delegate(&a, st, &node, alice.s.did, node.s.did, "/wasm", NULL, later);
    const ipvm_ucan_t *d1 = delegate(&a, st, &alice, bob.s.did, node.s.did, "/wasm/run",
                                     "[[\"like\", \".rsc\", \"ipfs://*\"]]", later);
    const ipvm_ucan_t *d2 = delegate(&a, st, &bob, carol.s.did, NULL, "/wasm/run", NULL, 0);
    const ipvm_ucan_t *chain[] = {d0, d1, d2};
    ipvm_ucan_validate_opts_t o = {0, -1, node.s.did, st, NULL};
    int link = 0;
    ipvm_error_t err;
    const ipvm_ucan_t *inv = invoke(&a, &carol, node.s.did, "/wasm/run", args, chain, 3);
    IPVM_ASSERT_OK_ERR(ipvm_ucan_validate(inv, &o, &link, &err), &err);
    IPVM_ASSERT_EQ(link, IPVM_UCAN_LINK_NONE);

    struct {
        const ipvm_ucan_t *inv;
        int code, link;
        const char *why;
    } bad[] = {
        /* mallory is not bob's audience */
        {invoke(&a, &mallory, node.s.did, "/wasm/run", args, chain, 3), IPVM_EDENIED, 2,
         "is not the issuer"},
        /* the policy wants ipfs:// */
        {invoke(&a, &carol, node.s.did, "/wasm/run", "{\"rsc\": \"https://x\"}", chain, 3),
         IPVM_EDENIED, 1, "fail its policy"},
        /* a wider command than granted */
        {invoke(&a, &carol, node.s.did, "/wasm", args, chain, 3), IPVM_EDENIED, 2,
         "does not cover /wasm"},
        /* another subject: addressed to another node */
        {invoke(&a, &carol, alice.s.did, "/wasm/run", args, chain, 3), IPVM_EDENIED, -1,
         "not to this node"},
        /* the chain without its root */
        {invoke(&a, &carol, node.s.did, "/wasm/run", args, chain + 1, 2), IPVM_EDENIED, 0,
         "must be the root"},
        /* no proofs, not the subject */
        {invoke(&a, &carol, node.s.did, "/wasm/run", args, NULL, 0), IPVM_EDENIED, -1,
         "no proofs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipvm_error_clear(&err);
        IPVM_ASSERT_ERR(ipvm_ucan_validate(bad[i].inv, &o, &link, &err), bad[i].code);
        IPVM_ASSERT_MSG(link == bad[i].link, "case %zu: link %d, want %d (%s)", i, link,
                        bad[i].link, err.msg);
        IPVM_ASSERT_STRCONTAINS(err.msg, bad[i].why);
    }
    /* another subject, when the executor is not checked: the chain's subject differs */
    ipvm_ucan_validate_opts_t anyexec = {0, -1, NULL, st, NULL};
    IPVM_ASSERT_ERR(ipvm_ucan_validate(invoke(&a, &carol, alice.s.did, "/wasm/run", args, chain, 3),
                                       &anyexec, &link, &err),
                    IPVM_EDENIED);
    IPVM_ASSERT_EQ(link, 0);
    IPVM_ASSERT_STRCONTAINS(err.msg, "is not the invocation's subject");
    /* a widening delegation in the middle of the chain is refused too */
    const ipvm_ucan_t *wide = delegate(&a, st, &alice, bob.s.did, node.s.did, "/", NULL, later);
    const ipvm_ucan_t *wchain[] = {d0, wide, d2};
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_ucan_validate(invoke(&a, &carol, node.s.did, "/wasm/run", args, wchain, 3),
                                       &o, &link, &err),
                    IPVM_EDENIED);
    IPVM_ASSERT_EQ(link, 0);
    IPVM_ASSERT_STRCONTAINS(err.msg, "does not cover /");
    /* the subject invoking itself needs no proof; another executor is refused */
    const ipvm_ucan_t *self = invoke(&a, &node, node.s.did, "/wasm/run", args, NULL, 0);
    IPVM_ASSERT_OK(ipvm_ucan_validate(self, &o, &link, NULL));
    ipvm_ucan_validate_opts_t other = {0, -1, alice.s.did, st, NULL};
    IPVM_ASSERT_ERR(ipvm_ucan_validate(self, &other, &link, &err), IPVM_EDENIED);
    IPVM_ASSERT_STRCONTAINS(err.msg, "not to this node");
    /* a proof the store does not have */
    ipvm_ucan_store_t *empty = NULL;
    IPVM_ASSERT_OK(ipvm_ucan_store_open(NULL, &empty, NULL));
    ipvm_ucan_validate_opts_t o2 = {0, -1, node.s.did, empty, NULL};
    IPVM_ASSERT_ERR(ipvm_ucan_validate(inv, &o2, &link, &err), IPVM_EUCAN);
    IPVM_ASSERT_STRCONTAINS(err.msg, "not available");
    ipvm_ucan_store_free(empty);
    ipvm_ucan_store_free(st);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(trust, chain_time_bounds)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    who_t node, alice;
    who(&node, 20);
    who(&alice, 21);
    ipvm_ucan_store_t *st = NULL;
    IPVM_ASSERT_OK(ipvm_ucan_store_open(NULL, &st, NULL));
    int64_t now = 1700000000;
    const ipvm_ucan_t *d = delegate(&a, st, &node, alice.s.did, node.s.did, "/wasm/run", NULL,
                                    now + 100);
    ipvm_ucan_validate_opts_t o = {now, -1, NULL, st, NULL};
    int link;
    ipvm_error_t err;
    /* build an invocation without expiry so only the delegation's bounds matter */
    ipvm_ucan_params_t p = {0};
    p.kind = IPVM_UCAN_INVOCATION;
    p.sub = node.s.did;
    p.cmd = "/wasm/run";
    p.prf = &d->cid;
    p.nprf = 1;
    ipvm_ucan_t *inv2 = NULL;
    IPVM_ASSERT_OK(ipvm_ucan_create(&p, &alice.s, &a, &inv2, NULL));
    IPVM_ASSERT(!inv2->has_exp);
    o.now = now + 100 + 60; /* within the 60 s skew */
    IPVM_ASSERT_OK_ERR(ipvm_ucan_validate(inv2, &o, &link, &err), &err);
    o.now = now + 100 + 61;
    IPVM_ASSERT_ERR(ipvm_ucan_validate(inv2, &o, &link, &err), IPVM_EEXPIRED);
    IPVM_ASSERT_EQ(link, 0);
    o.skew = 0;
    o.now = now + 101;
    IPVM_ASSERT_ERR(ipvm_ucan_validate(inv2, &o, &link, &err), IPVM_EEXPIRED);
    /* not before */
    ipvm_ucan_params_t q = {0};
    q.kind = IPVM_UCAN_DELEGATION;
    q.aud = alice.s.did;
    q.sub = node.s.did;
    q.cmd = "/";
    q.has_nbf = true;
    q.nbf = now + 1000;
    ipvm_ucan_t *late = NULL;
    IPVM_ASSERT_OK(ipvm_ucan_create(&q, &node.s, &a, &late, NULL));
    IPVM_ASSERT_OK(ipvm_ucan_store_add(st, late->bytes, late->len, NULL, NULL));
    p.prf = &late->cid;
    IPVM_ASSERT_OK(ipvm_ucan_create(&p, &alice.s, &a, &inv2, NULL));
    o.now = now + 900;
    o.skew = -1;
    IPVM_ASSERT_ERR(ipvm_ucan_validate(inv2, &o, &link, &err), IPVM_ENOTYET);
    IPVM_ASSERT_STRCONTAINS(err.msg, "not valid before");
    o.now = now + 950;
    IPVM_ASSERT_OK(ipvm_ucan_validate(inv2, &o, &link, NULL));
    ipvm_ucan_store_free(st);
    ipvm_arena_dispose(&a);
}

static const ipvm_ucan_t *revoke(ipvm_arena_t *a, const who_t *by, const char *sub,
                                 const ipvm_ucan_t *target)
{
    ipvm_ipld_t *args = ipvm_ipld_new_map(a, 1);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(a, args, "revoke", ipvm_ipld_new_link(a, &target->cid)));
    ipvm_ucan_params_t p = {0};
    p.kind = IPVM_UCAN_INVOCATION;
    p.sub = sub;
    p.cmd = "/ucan/revoke";
    p.args = args;
    p.nonce = (const uint8_t *)"";
    p.nonce_len = 0;
    ipvm_ucan_t *u = NULL;
    IPVM_ASSERT_OK(ipvm_ucan_create(&p, &by->s, a, &u, NULL));
    return u;
}

IPVM_TEST(trust, chain_revocation)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    who_t node, alice, bob, mallory;
    who(&node, 30);
    who(&alice, 31);
    who(&bob, 32);
    who(&mallory, 33);
    const char *dir = ipvm_test_tmpdir();
    ipvm_ucan_store_t *st = NULL;
    IPVM_ASSERT_OK(ipvm_ucan_store_open(dir, &st, NULL));
    const ipvm_ucan_t *d0 = delegate(&a, st, &node, alice.s.did, node.s.did, "/wasm/run", NULL, 0);
    const ipvm_ucan_t *d1 = delegate(&a, st, &alice, bob.s.did, node.s.did, "/wasm/run", NULL, 0);
    const ipvm_ucan_t *chain[] = {d0, d1};
    const ipvm_ucan_t *inv = invoke(&a, &bob, node.s.did, "/wasm/run", NULL, chain, 2);
    ipvm_ucan_validate_opts_t o = {0, -1, node.s.did, st, NULL};
    int link;
    ipvm_error_t err;
    IPVM_ASSERT_OK(ipvm_ucan_validate(inv, &o, &link, NULL));
    /* mallory is not in the chain: her revocation is kept but does not apply */
    IPVM_ASSERT_OK(ipvm_ucan_store_revoke(st, revoke(&a, &mallory, node.s.did, d1), NULL));
    IPVM_ASSERT_OK(ipvm_ucan_validate(inv, &o, &link, NULL));
    /* the root issuer may revoke a link below it */
    const ipvm_ucan_t *rev = revoke(&a, &node, node.s.did, d1);
    IPVM_ASSERT_OK(ipvm_ucan_store_add(st, rev->bytes, rev->len, NULL, NULL));
    IPVM_ASSERT_ERR(ipvm_ucan_validate(inv, &o, &link, &err), IPVM_EREVOKED);
    IPVM_ASSERT_EQ(link, 1);
    IPVM_ASSERT_STRCONTAINS(err.msg, "revoked by");
    /* what is not a revocation is refused */
    IPVM_ASSERT_ERR(ipvm_ucan_store_revoke(st, inv, &err), IPVM_EUCAN);
    size_t nrev = 0;
    IPVM_ASSERT(ipvm_ucan_store_count(st, &nrev) >= 2);
    IPVM_ASSERT_EQ(nrev, 2);
    /* d0 and d1 belong to the store: keep d0's CID past the store's end */
    ipvm_cid_t d0_cid = d0->cid;
    ipvm_ucan_store_free(st);
    /* reopened from disk: the proofs and the revocations are still there */
    IPVM_ASSERT_OK(ipvm_ucan_store_open(dir, &st, NULL));
    o.store = st;
    IPVM_ASSERT(ipvm_ucan_store_get(st, &d0_cid) != NULL);
    IPVM_ASSERT_ERR(ipvm_ucan_validate(inv, &o, &link, &err), IPVM_EREVOKED);
    ipvm_ucan_store_free(st);
    ipvm_arena_dispose(&a);
}
