/* SPDX-License-Identifier: Apache-2.0 */
/* UCAN 0.x JWT decoding errors say where in the token they were found (the bad-input rule of
 * STYLE.md): a fault inside a base64url JSON part is reported at the token character that
 * encodes the faulty byte, and the message gives the byte of the decoded JSON too. */
#include "test.h"

#include <string.h>

static char *b64url(ipvm_arena_t *a, const char *s)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_base_encode(IPVM_BASE64URL, (const uint8_t *)s, strlen(s), &b));
    char *out = ipvm_arena_strndup(a, (const char *)b.data, b.len);
    ipvm_buf_dispose(&b);
    return out;
}

static char *join(ipvm_arena_t *a, const char *x, const char *y, const char *z)
{
    size_t n = strlen(x) + strlen(y) + strlen(z) + 3;
    char *s = ipvm_arena_alloc(a, n);
    IPVM_ASSERT(s != NULL);
    snprintf(s, n, "%s.%s.%s", x, y, z);
    return s;
}

static ipvm_error_t decode_fails(ipvm_arena_t *a, const char *tok)
{
    ipvm_jwt_t *t = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_EQ(ipvm_jwt_decode(tok, strlen(tok), a, &t, &err), IPVM_EUCAN);
    IPVM_ASSERT(err.offset != IPVM_NO_OFFSET);
    IPVM_ASSERT(err.offset <= strlen(tok));
    return err;
}

/* Token `hdr_b64 . base64url(json) . sig` (json in the payload), or `base64url(json) . e30 . A`
 * (json in the header) fails at the token character of the byte the JSON decoder names. */
static void json_fault_at(ipvm_arena_t *a, const char *hdr, const char *json)
{
    ipvm_ipld_t *v;
    ipvm_error_t je;
    ipvm_error_clear(&je);
    IPVM_ASSERT(ipvm_dagjson_decode(json, strlen(json), a, &v, &je) != 0);
    size_t k = je.offset;
    IPVM_ASSERT(k != IPVM_NO_OFFSET && k < strlen(json));
    const char *enc = b64url(a, json);
    const char *tok = hdr ? join(a, hdr, enc, "AAAA") : join(a, enc, "e30", "A");
    size_t part = hdr ? strlen(hdr) + 1 : 0;
    ipvm_error_t err = decode_fails(a, tok);
    IPVM_ASSERT_EQ_U64(err.offset, part + k / 3 * 4 + k % 3);
    char want[80];
    snprintf(want, sizeof want, "%s: at byte %zu of the decoded JSON: ", hdr ? "payload" : "header",
             k);
    IPVM_ASSERT(strstr(err.msg, want) != NULL);
    IPVM_ASSERT(strstr(err.msg, je.msg) != NULL);
    /* the base64url group holding the offset decodes to the faulty byte */
    size_t g = err.offset - k % 3, left = part + strlen(enc) - g;
    ipvm_buf_t raw = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_base_decode(IPVM_BASE64URL, tok + g, left < 4 ? left : 4, &raw, NULL));
    IPVM_ASSERT(raw.len > k % 3);
    IPVM_ASSERT_EQ(raw.data[k % 3], (uint8_t)json[k]);
    ipvm_buf_dispose(&raw);
}

IPVM_TEST(trust, jwt_errors_say_where)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *hdr = b64url(&a, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"ucv\":\"0.8.1\"}");
    /* bad JSON in the payload and in the header */
    json_fault_at(&a, hdr, "{\"iss\":\"did:key:z6Mk\",\"aud\":\"unterminated");
    json_fault_at(&a, hdr, "{\"iss\":1,\"iss\":2}");
    json_fault_at(&a, hdr, "{\"att\":[1,2,]}");
    json_fault_at(&a, hdr, "{\"a\":\"\\q\"}");
    json_fault_at(&a, NULL, "{\"alg\":\"EdDSA\",,}");
    json_fault_at(&a, NULL, "{\"alg\":\"EdDSA\"} x");
    /* a character outside base64url: its own offset */
    ipvm_error_t err = decode_fails(&a, join(&a, hdr, "e3!0", "AAAA"));
    IPVM_ASSERT_EQ_U64(err.offset, strlen(hdr) + 1 + 2);
    err = decode_fails(&a, join(&a, hdr, b64url(&a, "{}"), "AA*A"));
    IPVM_ASSERT_EQ_U64(err.offset, strlen(hdr) + 1 + strlen(b64url(&a, "{}")) + 1 + 2);
    IPVM_ASSERT(strstr(err.msg, "signature") != NULL);
    /* a part that is not a JSON object: the part's start */
    err = decode_fails(&a, join(&a, hdr, b64url(&a, "[1]"), "AAAA"));
    IPVM_ASSERT_EQ_U64(err.offset, strlen(hdr) + 1);
    /* a fourth part: the extra '.'; too few: the end */
    err = decode_fails(&a, "aa.bb.cc.dd");
    IPVM_ASSERT_EQ_U64(err.offset, 8);
    err = decode_fails(&a, "aa.bb");
    IPVM_ASSERT_EQ_U64(err.offset, 5);
    ipvm_arena_dispose(&a);
}
