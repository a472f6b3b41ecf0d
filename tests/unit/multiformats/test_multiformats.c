/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of multiformats/: varints, multibase (RFC 4648 and multibase spec vectors), multihash
 * (FIPS test values), multicodec names, CIDs, every rejection rule with its offset, OOM. */
#include "test.h"

#include <stdlib.h>

static void hex_to_bytes(const char *hex, uint8_t *out, size_t *len)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        IPVM_ASSERT(sscanf(hex + 2 * i, "%2x", &v) == 1);
        out[i] = (uint8_t)v;
    }
    *len = n;
}

/* ------------------------------------------------------------------------------- varint -- */

IPVM_TEST(multiformats, varint_vectors)
{
    static const struct {
        uint64_t v;
        const char *hex;
    } vec[] = {
        {0, "00"},           {1, "01"},           {127, "7f"},
        {128, "8001"},       {255, "ff01"},       {300, "ac02"},
        {16384, "808001"},   {0x12, "12"},        {0xb220, "a0e402"},
        {(1ull << 63) - 1, "ffffffffffffffff7f"},
    };
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        uint8_t buf[IPVM_VARINT_MAX], want[16];
        size_t wl, n = ipvm_varint_encode(vec[i].v, buf);
        hex_to_bytes(vec[i].hex, want, &wl);
        IPVM_ASSERT_MEMEQ(buf, n, want, wl);
        IPVM_ASSERT_EQ(ipvm_varint_size(vec[i].v), wl);
        uint64_t v = 0;
        size_t used = 0;
        ipvm_error_t err;
        IPVM_ASSERT_OK_ERR(ipvm_varint_decode(want, wl, &v, &used, &err), &err);
        IPVM_ASSERT_EQ_U64(v, vec[i].v);
        IPVM_ASSERT_EQ(used, wl);
    }
}

IPVM_TEST(multiformats, varint_rejects)
{
    static const struct {
        const char *hex;
        size_t off;
        const char *why;
    } bad[] = {
        {"", 0, "truncated"},
        {"80", 1, "truncated"},
        {"ffff", 2, "truncated"},
        {"8000", 1, "shortest"},
        {"ff00", 1, "shortest"},
        {"808000", 2, "shortest"},
        {"ffffffffffffffff80", 8, "longer than 9"},
        {"ffffffffffffffffff01", 8, "longer than 9"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t b[16];
        size_t n, used = 99;
        uint64_t v = 7;
        ipvm_error_t err;
        hex_to_bytes(bad[i].hex, b, &n);
        IPVM_ASSERT_ERR(ipvm_varint_decode(b, n, &v, &used, &err), IPVM_EVARINT);
        IPVM_ASSERT_EQ(err.code, IPVM_EVARINT);
        IPVM_ASSERT_EQ(err.offset, bad[i].off);
        IPVM_ASSERT_STRCONTAINS(err.msg, bad[i].why);
        IPVM_ASSERT_EQ_U64(v, 7); /* outputs untouched */
    }
}

/* ---------------------------------------------------------------------------- multibase -- */

static void check_base(ipvm_base_t base, const char *in, size_t inlen, const char *want)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_base_encode(base, (const uint8_t *)in, inlen, &b));
    IPVM_ASSERT_MEMEQ(b.data ? (const char *)b.data : "", b.len, want, strlen(want));
    ipvm_buf_t d = IPVM_BUF_INIT;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_base_decode(base, want, strlen(want), &d, &err), &err);
    IPVM_ASSERT_MEMEQ(d.data ? (const char *)d.data : "", d.len, in, inlen);
    ipvm_buf_dispose(&b);
    ipvm_buf_dispose(&d);
}

IPVM_TEST(multiformats, base_rfc4648_vectors)
{
    /* RFC 4648 section 10, without the padding multibase leaves out */
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *b16[] = {"", "66", "666f", "666f6f", "666f6f62", "666f6f6261",
                                "666f6f626172"};
    static const char *b32[] = {"", "MY", "MZXQ", "MZXW6", "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI"};
    static const char *b32h[] = {"", "co", "cpng", "cpnmu", "cpnmuog", "cpnmuoj1",
                                 "cpnmuoj1e8"};
    static const char *b64[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        size_t n = strlen(in[i]);
        check_base(IPVM_BASE16, in[i], n, b16[i]);
        check_base(IPVM_BASE32_UPPER, in[i], n, b32[i]);
        check_base(IPVM_BASE32HEX, in[i], n, b32h[i]);
        check_base(IPVM_BASE64, in[i], n, b64[i]);
        check_base(IPVM_BASE64URL, in[i], n, b64[i]);
        char lower[32];
        for (size_t k = 0; k <= strlen(b32[i]); k++)
            lower[k] = (char)(b32[i][k] >= 'A' && b32[i][k] <= 'Z' ? b32[i][k] + 32 : b32[i][k]);
        check_base(IPVM_BASE32, in[i], n, lower);
    }
    /* the URL-safe alphabet differs in two characters */
    const uint8_t fb[] = {0xfb, 0xff};
    check_base(IPVM_BASE64, (const char *)fb, 2, "+/8");
    check_base(IPVM_BASE64URL, (const char *)fb, 2, "-_8");
    check_base(IPVM_BASE58BTC, "", 0, "");
    check_base(IPVM_BASE58BTC, "\0\0\0", 3, "111");
    check_base(IPVM_BASE58BTC, "Hello World!", 12, "2NEpo7TZRRrLZSi2U");
}

/* Reads a multibase spec vector file: first line the input, then "name, "multibase"". */
static void run_spec_vectors(const char *rel)
{
    ipvm_buf_t f = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector(rel), &f);
    char *save = NULL, *line = strtok_r((char *)f.data, "\n", &save);
    IPVM_ASSERT(line != NULL);
    char in[64];
    size_t inlen = 0;
    const char *q = strchr(line, '"');
    IPVM_ASSERT(q);
    for (q++; *q != '"'; q++) {
        if (q[0] == '\\' && q[1] == 'x') {
            unsigned v;
            IPVM_ASSERT(sscanf(q + 2, "%2x", &v) == 1);
            in[inlen++] = (char)v;
            q += 3;
        } else {
            in[inlen++] = *q;
        }
    }
    int rows = 0;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        char name[32], want[128];
        IPVM_ASSERT(sscanf(line, "%31[^,], \"%127[^\"]\"", name, want) == 2);
        int base = ipvm_base_from_name(name);
        IPVM_ASSERT_MSG(base >= 0, "%s: unknown base %s", rel, name);
        ipvm_buf_t e = IPVM_BUF_INIT, d = IPVM_BUF_INIT;
        IPVM_ASSERT_OK(ipvm_multibase_encode((ipvm_base_t)base, (uint8_t *)in, inlen, &e));
        IPVM_ASSERT_STREQ((const char *)e.data, want);
        ipvm_base_t got = IPVM_BASE_IDENTITY;
        ipvm_error_t err;
        IPVM_ASSERT_OK_ERR(ipvm_multibase_decode(want, strlen(want), &d, &got, &err), &err);
        IPVM_ASSERT_EQ(got, base);
        IPVM_ASSERT_MEMEQ(d.data, d.len, in, inlen);
        IPVM_ASSERT_STREQ(ipvm_base_name((ipvm_base_t)base), name);
        ipvm_buf_dispose(&e);
        ipvm_buf_dispose(&d);
        rows++;
    }
    IPVM_ASSERT_EQ(rows, 8);
    ipvm_buf_dispose(&f);
}

IPVM_TEST(multiformats, multibase_spec_vectors)
{
    run_spec_vectors("multibase/basic.csv");
    run_spec_vectors("multibase/leading_zero.csv");
    run_spec_vectors("multibase/two_leading_zeros.csv");
    /* identity: the prefix is a NUL byte */
    ipvm_buf_t e = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_multibase_encode(IPVM_BASE_IDENTITY, (const uint8_t *)"hi", 2, &e));
    IPVM_ASSERT_MEMEQ(e.data, e.len, "\0hi", 3);
    ipvm_buf_t d = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_multibase_decode((const char *)e.data, e.len, &d, NULL, NULL));
    IPVM_ASSERT_MEMEQ(d.data, d.len, "hi", 2);
    ipvm_buf_dispose(&e);
    ipvm_buf_dispose(&d);
}

IPVM_TEST(multiformats, multibase_rejects)
{
    static const struct {
        const char *text; /* multibase string */
        int code;
        size_t off;
        const char *why;
    } bad[] = {
        {"", IPVM_EMULTIBASE, 0, "empty"},
        {"x1234", IPVM_EMULTIBASE, 0, "prefix 'x'"},
        {"MZg==", IPVM_EMULTIBASE, 0, "prefix 'M'"}, /* base64pad is not supported */
        {"mZg==", IPVM_EBASE, 3, "padding"},
        {"mZm9v=", IPVM_EBASE, 5, "padding"},
        {"mZh", IPVM_EBASE, 2, "non-zero unused bits"},
        {"mZ", IPVM_EBASE, 1, "impossible length"},
        {"mZm9vY", IPVM_EBASE, 5, "impossible length"},
        {"mZm-v", IPVM_EBASE, 3, "'-' is not in the base64 alphabet"},
        {"uZm+v", IPVM_EBASE, 3, "'+' is not in the base64url alphabet"},
        {"m\xffZm9", IPVM_EBASE, 1, "byte 0xff"},
        {"bMZXW6", IPVM_EBASE, 1, "'M' is not in the base32 alphabet"},
        {"BmzXW6", IPVM_EBASE, 1, "'m' is not in the base32upper alphabet"},
        {"bmzxw6ycbbbbbbbb1", IPVM_EBASE, 16, "'1'"},
        {"bmz", IPVM_EBASE, 2, "non-zero unused bits"},
        {"bmzx", IPVM_EBASE, 3, "impossible length"},
        {"bm", IPVM_EBASE, 1, "impossible length"},
        {"vcpnmw", IPVM_EBASE, 5, "'w' is not in the base32hex alphabet"},
        {"f6", IPVM_EBASE, 1, "odd number"},
        {"f6G", IPVM_EBASE, 2, "'G' is not in the base16 alphabet"},
        {"f6F", IPVM_EBASE, 2, "'F' is not in the base16 alphabet"},
        {"F0", IPVM_EBASE, 1, "odd"},
        {"F0a", IPVM_EBASE, 2, "'a' is not in the base16upper alphabet"},
        {"z0abc", IPVM_EBASE, 1, "'0' is not in the base58btc alphabet"},
        {"z11Il", IPVM_EBASE, 3, "'I'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipvm_buf_t d = IPVM_BUF_INIT;
        ipvm_error_t err;
        ipvm_error_clear(&err);
        int rc = ipvm_multibase_decode(bad[i].text, strlen(bad[i].text), &d, NULL, &err);
        IPVM_ASSERT_MSG(rc == bad[i].code, "\"%s\": got %s want %s", bad[i].text,
                        ipvm_err_name(rc), ipvm_err_name(bad[i].code));
        IPVM_ASSERT_EQ(err.code, bad[i].code);
        IPVM_ASSERT_MSG(err.offset == bad[i].off, "\"%s\": offset %zu want %zu (%s)",
                        bad[i].text, err.offset, bad[i].off, err.msg);
        IPVM_ASSERT_STRCONTAINS(err.msg, bad[i].why);
        IPVM_ASSERT_EQ(d.len, 0); /* no half result */
        ipvm_buf_dispose(&d);
    }
    /* raw decode: offsets count from the start of the text (no prefix) */
    ipvm_buf_t d = IPVM_BUF_INIT;
    ipvm_error_t err;
    IPVM_ASSERT_ERR(ipvm_base_decode(IPVM_BASE64, "Zg==", 4, &d, &err), IPVM_EBASE);
    IPVM_ASSERT_EQ(err.offset, 2);
    ipvm_buf_dispose(&d);
}

IPVM_TEST(multiformats, base_roundtrip_all_lengths)
{
    static const ipvm_base_t bases[] = {IPVM_BASE16, IPVM_BASE16_UPPER, IPVM_BASE32,
                                        IPVM_BASE32_UPPER, IPVM_BASE32HEX, IPVM_BASE58BTC,
                                        IPVM_BASE64, IPVM_BASE64URL};
    uint8_t data[300];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof data; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (uint8_t)(x >> 16);
    }
    data[0] = 0; /* a leading zero for base58 */
    for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++)
        for (size_t n = 0; n <= sizeof data; n += (n < 40 ? 1 : 37)) {
            ipvm_buf_t e = IPVM_BUF_INIT, d = IPVM_BUF_INIT;
            IPVM_ASSERT_OK(ipvm_multibase_encode(bases[b], data, n, &e));
            ipvm_base_t got;
            ipvm_error_t err;
            IPVM_ASSERT_OK_ERR(ipvm_multibase_decode((char *)e.data, e.len, &d, &got, &err),
                               &err);
            IPVM_ASSERT_EQ(got, bases[b]);
            IPVM_ASSERT_MEMEQ(d.data ? d.data : data, d.len, data, n);
            ipvm_buf_dispose(&e);
            ipvm_buf_dispose(&d);
        }
}

IPVM_TEST(multiformats, base_names)
{
    IPVM_ASSERT_EQ(ipvm_base_from_name("base32"), IPVM_BASE32);
    IPVM_ASSERT_EQ(ipvm_base_from_name("base58btc"), IPVM_BASE58BTC);
    IPVM_ASSERT_EQ(ipvm_base_from_name("base64url"), IPVM_BASE64URL);
    IPVM_ASSERT_EQ(ipvm_base_from_name("base36"), -1);
    IPVM_ASSERT(ipvm_base_name((ipvm_base_t)'x') == NULL);
    IPVM_ASSERT_STREQ(ipvm_base_name(IPVM_BASE_IDENTITY), "identity");
}

IPVM_TEST(multiformats, multibase_oom)
{
    const char *text = "mZm9vYmFyIGJheiBxdXV4IGhlbGxvIHdvcmxk";
    for (long n = 0;; n++) {
        ipvm_buf_t d = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
        ipvm_alloc_fail_after(n);
        int rc = ipvm_multibase_decode(text, strlen(text), &d, NULL, NULL);
        if (rc == 0)
            rc = ipvm_multibase_encode(IPVM_BASE64, d.data, d.len, &e);
        bool failed = ipvm_alloc_failed();
        ipvm_alloc_fail_after(-1);
        if (rc == 0) {
            IPVM_ASSERT_STREQ((const char *)e.data, text);
            ipvm_buf_dispose(&d);
            ipvm_buf_dispose(&e);
            IPVM_ASSERT(n >= 2);
            break;
        }
        IPVM_ASSERT_ERR(rc, IPVM_ENOMEM);
        IPVM_ASSERT(failed);
        ipvm_buf_dispose(&d);
        ipvm_buf_dispose(&e);
    }
}

/* ---------------------------------------------------------------------------- multihash -- */

IPVM_TEST(multiformats, multihash_vectors)
{
    /* FIPS 180-4 / FIPS 202 / RFC 7693 values for "abc" and "" */
    static const struct {
        uint64_t code;
        const char *in, *hex, *name;
    } vec[] = {
        {IPVM_MH_SHA2_256, "abc",
         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha2-256"},
        {IPVM_MH_SHA2_256, "",
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha2-256"},
        {IPVM_MH_SHA2_512, "abc",
         "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c"
         "23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
         "sha2-512"},
        {IPVM_MH_SHA3_256, "abc",
         "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532", "sha3-256"},
        {IPVM_MH_SHA3_256, "",
         "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a", "sha3-256"},
        {IPVM_MH_BLAKE2B_256, "abc",
         "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319", "blake2b-256"},
        {IPVM_MH_IDENTITY, "abc", "616263", "identity"},
    };
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        uint8_t d[IPVM_MH_MAX_DIGEST], want[64];
        size_t dl = 0, wl;
        IPVM_ASSERT_OK(ipvm_multihash_digest(vec[i].code, (const uint8_t *)vec[i].in,
                                             strlen(vec[i].in), d, &dl));
        hex_to_bytes(vec[i].hex, want, &wl);
        IPVM_ASSERT_MEMEQ(d, dl, want, wl);
        IPVM_ASSERT_STREQ(ipvm_multihash_name(vec[i].code), vec[i].name);
        IPVM_ASSERT_EQ(ipvm_multihash_from_name(vec[i].name), (long long)vec[i].code);
        if (vec[i].code != IPVM_MH_IDENTITY)
            IPVM_ASSERT_EQ(ipvm_multihash_size(vec[i].code), wl);
    }
    uint8_t d[IPVM_MH_MAX_DIGEST], big[IPVM_MH_MAX_DIGEST + 1] = {0};
    size_t dl;
    IPVM_ASSERT_ERR(ipvm_multihash_digest(0x1e, big, 3, d, &dl), IPVM_EMULTIHASH);
    IPVM_ASSERT_ERR(ipvm_multihash_digest(IPVM_MH_IDENTITY, big, sizeof big, d, &dl),
                    IPVM_ETOOBIG);
    IPVM_ASSERT(ipvm_multihash_name(0x1e) == NULL);
    IPVM_ASSERT_EQ(ipvm_multihash_from_name("md5"), -1);
}

IPVM_TEST(multiformats, multicodec_names)
{
    IPVM_ASSERT_STREQ(ipvm_multicodec_name(IPVM_CODEC_DAG_CBOR), "dag-cbor");
    IPVM_ASSERT_STREQ(ipvm_multicodec_name(IPVM_CODEC_DAG_JSON), "dag-json");
    IPVM_ASSERT_STREQ(ipvm_multicodec_name(IPVM_CODEC_RAW), "raw");
    IPVM_ASSERT_STREQ(ipvm_multicodec_name(IPVM_CODEC_DAG_PB), "dag-pb");
    IPVM_ASSERT_STREQ(ipvm_multicodec_name(IPVM_CODEC_LIBP2P_KEY), "libp2p-key");
    IPVM_ASSERT_STREQ(ipvm_multicodec_name(IPVM_CODEC_ED25519_PUB), "ed25519-pub");
    IPVM_ASSERT_EQ(ipvm_multicodec_from_name("dag-json"), 0x0129);
    IPVM_ASSERT_EQ(ipvm_multicodec_from_name("nope"), -1);
    IPVM_ASSERT(ipvm_multicodec_name(0x123456) == NULL);
}

/* ---------------------------------------------------------------------------------- CID -- */

IPVM_TEST(multiformats, cid_vectors)
{
    /* the CID specification's example: one sha2-256 dag-pb digest as CIDv0 and CIDv1 */
    const char *v0s = "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n";
    const char *v1s = "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    ipvm_cid_t v0, v1, conv;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_cid_parse(&v0, v0s, strlen(v0s), &err), &err);
    IPVM_ASSERT_EQ(v0.version, 0);
    IPVM_ASSERT_EQ(v0.codec, IPVM_CODEC_DAG_PB);
    IPVM_ASSERT_EQ(v0.hash, IPVM_MH_SHA2_256);
    IPVM_ASSERT_EQ(v0.len, 34);
    IPVM_ASSERT_EQ(v0.digest_len, 32);
    IPVM_ASSERT_EQ(v0.digest_off, 2);
    char s[IPVM_CID_MAX_STR];
    IPVM_ASSERT_STREQ(ipvm_cid_str(&v0, s), v0s);
    IPVM_ASSERT_OK_ERR(ipvm_cid_parse(&v1, v1s, strlen(v1s), &err), &err);
    IPVM_ASSERT_EQ(v1.version, 1);
    IPVM_ASSERT_EQ(v1.codec, IPVM_CODEC_DAG_PB);
    IPVM_ASSERT_EQ(v1.len, 36);
    IPVM_ASSERT_STREQ(ipvm_cid_str(&v1, s), v1s);
    ipvm_cid_to_v1(&v0, &conv);
    IPVM_ASSERT(ipvm_cid_equal(&conv, &v1));
    IPVM_ASSERT_MEMEQ(ipvm_cid_digest(&v0), 32, ipvm_cid_digest(&v1), v1.digest_len);
    /* other bases of the same CIDv1 parse back to it; CIDv0 ignores the base */
    static const ipvm_base_t bases[] = {IPVM_BASE16, IPVM_BASE16_UPPER, IPVM_BASE32_UPPER,
                                        IPVM_BASE32HEX, IPVM_BASE58BTC, IPVM_BASE64,
                                        IPVM_BASE64URL};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        ipvm_cid_t back;
        IPVM_ASSERT_OK(ipvm_cid_format(&v1, bases[i], s, sizeof s));
        IPVM_ASSERT_EQ(s[0], (char)bases[i]);
        IPVM_ASSERT_OK_ERR(ipvm_cid_parse(&back, s, strlen(s), &err), &err);
        IPVM_ASSERT(ipvm_cid_equal(&back, &v1));
        IPVM_ASSERT_OK(ipvm_cid_format(&v0, bases[i], s, sizeof s));
        IPVM_ASSERT_STREQ(s, v0s);
    }
    IPVM_ASSERT_ERR(ipvm_cid_format(&v1, IPVM_BASE32, s, 10), IPVM_ETOOBIG);
    IPVM_ASSERT_OK(ipvm_cid_format(&v1, IPVM_BASE32, s, strlen(v1s) + 1));
    /* binary forms */
    ipvm_cid_t b;
    IPVM_ASSERT_OK_ERR(ipvm_cid_from_bytes(&b, v1.bytes, v1.len, &err), &err);
    IPVM_ASSERT(ipvm_cid_equal(&b, &v1));
    IPVM_ASSERT_OK_ERR(ipvm_cid_from_bytes(&b, v0.bytes, v0.len, &err), &err);
    IPVM_ASSERT_EQ(b.version, 0);
    /* Homestar's resource CID */
    const char *rsc = "bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq";
    IPVM_ASSERT_OK(ipvm_cid_parse(&b, rsc, strlen(rsc), &err));
    IPVM_ASSERT_STREQ(ipvm_cid_str(&b, s), rsc);
}

IPVM_TEST(multiformats, cid_create_and_compare)
{
    /* reference/wasm-engine.md §5: dag-cbor of {"a":1,"b":[1,2]} with sha2-256 */
    const uint8_t block[] = {0xa2, 0x61, 0x61, 0x01, 0x61, 0x62, 0x82, 0x01, 0x02};
    ipvm_cid_t c;
    char s[IPVM_CID_MAX_STR];
    IPVM_ASSERT_OK(
        ipvm_cid_create(&c, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA2_256, block, sizeof block));
    IPVM_ASSERT_STREQ(ipvm_cid_str(&c, s),
                      "bafyreigvc53ts6gc362hln5c7hfrq6cpbqymymm2rz332bfuzxfvt2v6ye");
    ipvm_cid_t h3;
    IPVM_ASSERT_OK(
        ipvm_cid_create(&h3, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256, block, sizeof block));
    IPVM_ASSERT(strncmp(ipvm_cid_str(&h3, s), "bafyrmi", 7) == 0);
    IPVM_ASSERT(!ipvm_cid_equal(&c, &h3));
    /* order: sha2-256 (0x12) before sha3-256 (0x16) in the third byte */
    IPVM_ASSERT_EQ(ipvm_cid_compare(&c, &h3), -1);
    IPVM_ASSERT_EQ(ipvm_cid_compare(&h3, &c), 1);
    IPVM_ASSERT_EQ(ipvm_cid_compare(&c, &c), 0);
    ipvm_cid_t shortc;
    IPVM_ASSERT_OK(ipvm_cid_from_digest(&shortc, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA2_256,
                                        ipvm_cid_digest(&c), 20));
    IPVM_ASSERT(ipvm_cid_compare(&c, &shortc) != 0);
    /* CIDv0 rules */
    IPVM_ASSERT_ERR(ipvm_cid_create(&c, 0, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA2_256, block, 9),
                    IPVM_ECID);
    IPVM_ASSERT_ERR(ipvm_cid_create(&c, 0, IPVM_CODEC_DAG_PB, IPVM_MH_SHA3_256, block, 9),
                    IPVM_ECID);
    IPVM_ASSERT_OK(ipvm_cid_create(&c, 0, IPVM_CODEC_DAG_PB, IPVM_MH_SHA2_256, block, 9));
    IPVM_ASSERT_EQ(ipvm_cid_str(&c, s)[0], 'Q');
    IPVM_ASSERT_ERR(ipvm_cid_create(&c, 2, IPVM_CODEC_RAW, IPVM_MH_SHA2_256, block, 9),
                    IPVM_ECID);
    IPVM_ASSERT_ERR(ipvm_cid_create(&c, 1, IPVM_CODEC_RAW, 0x99, block, 9), IPVM_EMULTIHASH);
    /* an identity CID holds the data itself */
    IPVM_ASSERT_OK(ipvm_cid_create(&c, 1, IPVM_CODEC_RAW, IPVM_MH_IDENTITY, block, 9));
    IPVM_ASSERT_MEMEQ(ipvm_cid_digest(&c), c.digest_len, block, 9);
}

IPVM_TEST(multiformats, cid_rejects)
{
    static const struct {
        const char *text;
        const char *why;
    } bad[] = {
        {"", "empty"},
        {"Qm", "multibase prefix"},
        {"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1", "multibase prefix"},
        {"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR10", "'0'"},
        {"xafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "multibase prefix"},
        {"bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvy", "truncated"},
        {"bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk", "impossible length"},
        {"bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvykuaa", "unexpected bytes"},
        {"bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyKu", "'K'"},
        {"zQmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n", "CIDv0 cannot be multibase"},
        {"f0271122000", "unsupported CID version 2"},
        {"f017112", "truncated"},
        {"f01711220", "truncated"},
        {"f017180001220", "shortest"},
        {"f0171128101", "longer than the 128"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipvm_cid_t c;
        memset(&c, 0xab, sizeof c);
        ipvm_error_t err;
        ipvm_error_clear(&err);
        int rc = ipvm_cid_parse(&c, bad[i].text, strlen(bad[i].text), &err);
        IPVM_ASSERT_MSG(rc == IPVM_ECID, "\"%s\": got %s (%s)", bad[i].text, ipvm_err_name(rc),
                        err.msg);
        IPVM_ASSERT_EQ(err.code, IPVM_ECID);
        IPVM_ASSERT_STRCONTAINS(err.msg, bad[i].why);
        IPVM_ASSERT_EQ(c.version, 0xab); /* no half result */
    }
    /* binary: offsets point into the bytes */
    const uint8_t trunc[] = {0x01, 0x71, 0x12, 0x20, 0xaa};
    ipvm_cid_t c;
    ipvm_error_t err;
    IPVM_ASSERT_ERR(ipvm_cid_from_bytes(&c, trunc, sizeof trunc, &err), IPVM_ECID);
    IPVM_ASSERT_EQ(err.offset, sizeof trunc);
    const uint8_t over[] = {0x01, 0x71, 0x80, 0x00};
    IPVM_ASSERT_ERR(ipvm_cid_from_bytes(&c, over, sizeof over, &err), IPVM_ECID);
    IPVM_ASSERT_EQ(err.offset, 3);
    IPVM_ASSERT_STRCONTAINS(err.msg, "CID multihash code");
    const uint8_t v0short[] = {0x12, 0x20, 0xaa};
    IPVM_ASSERT_ERR(ipvm_cid_from_bytes(&c, v0short, sizeof v0short, &err), IPVM_ECID);
    IPVM_ASSERT_STRCONTAINS(err.msg, "truncated");
    const uint8_t v0len[] = {0x12, 0x01, 0xaa};
    IPVM_ASSERT_ERR(ipvm_cid_from_bytes(&c, v0len, sizeof v0len, &err), IPVM_ECID);
    IPVM_ASSERT_STRCONTAINS(err.msg, "32-byte sha2-256");
    const uint8_t two[] = {0x01, 0x55, 0x00, 0x00, 0x55};
    size_t used = 0;
    IPVM_ASSERT_OK(ipvm_cid_read(&c, two, sizeof two, &used, &err));
    IPVM_ASSERT_EQ(used, 4);
    IPVM_ASSERT_ERR(ipvm_cid_from_bytes(&c, two, sizeof two, &err), IPVM_ECID);
    IPVM_ASSERT_EQ(err.offset, 4);
}
