/* SPDX-License-Identifier: Apache-2.0 */
/* dag-pb: the spec's zero-length block, canonical encoding, and strict decoding of bad bytes
 * (each rejection names its reason and offset). */
#include "test.h"

static int decode_hex(const char *hex, ipvm_arena_t *a, ipvm_dagpb_node_t *n, ipvm_error_t *err,
                      ipvm_buf_t *bytes)
{
    ipvm_buf_clear(bytes);
    IPVM_ASSERT_OK(ipvm_base_decode(IPVM_BASE16, hex, strlen(hex), bytes, NULL));
    return ipvm_dagpb_decode(bytes->data ? bytes->data : (const uint8_t *)"", bytes->len, a, n, err);
}

IPVM_TEST(blocks, dagpb_spec_and_roundtrip)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_dagpb_node_t n;
    /* spec "Zero-length blocks": valid, no Data, no Links, and this CID */
    IPVM_ASSERT_OK_ERR(ipvm_dagpb_decode((const uint8_t *)"", 0, &a, &n, &err), &err);
    IPVM_ASSERT(n.data == NULL && n.nlinks == 0);
    ipvm_buf_t out = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_dagpb_encode(&n, &out));
    IPVM_ASSERT_EQ(out.len, 0);
    ipvm_cid_t c;
    IPVM_ASSERT_OK(ipvm_cid_create(&c, 1, IPVM_CODEC_DAG_PB, IPVM_MH_SHA2_256,
                                   (const uint8_t *)"", 0));
    char s[IPVM_CID_MAX_STR];
    IPVM_ASSERT_STREQ(ipvm_cid_str(&c, s),
                      "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
    ipvm_cid_t v0;
    IPVM_ASSERT_OK(ipvm_cid_create(&v0, 0, IPVM_CODEC_DAG_PB, IPVM_MH_SHA2_256,
                                   (const uint8_t *)"", 0));
    IPVM_ASSERT_STREQ(ipvm_cid_str(&v0, s), "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n");

    /* A node with two links and Data: Links first, each Hash, Name, Tsize. */
    ipvm_cid_t h1, h2;
    IPVM_ASSERT_OK(ipvm_cid_create(&h1, 1, IPVM_CODEC_RAW, IPVM_MH_SHA2_256,
                                   (const uint8_t *)"a", 1));
    IPVM_ASSERT_OK(ipvm_cid_create(&h2, 0, IPVM_CODEC_DAG_PB, IPVM_MH_SHA2_256,
                                   (const uint8_t *)"b", 1));
    ipvm_dagpb_link_t links[2] = {{h1, "a", 1, 1, true}, {h2, "b\xc3\xa9", 3, 0, false}};
    ipvm_dagpb_node_t node = {links, 2, (const uint8_t *)"\x08\x01", 2};
    ipvm_buf_clear(&out);
    IPVM_ASSERT_OK(ipvm_dagpb_encode(&node, &out));
    IPVM_ASSERT_EQ(out.data[0], 0x12);          /* a link comes first */
    IPVM_ASSERT_EQ(out.data[out.len - 4], 0x0a); /* Data last: 0a 02 08 01 */
    IPVM_ASSERT_OK_ERR(ipvm_dagpb_decode(out.data, out.len, &a, &n, &err), &err);
    IPVM_ASSERT_EQ(n.nlinks, 2);
    IPVM_ASSERT(ipvm_cid_equal(&n.links[0].hash, &h1) && ipvm_cid_equal(&n.links[1].hash, &h2));
    IPVM_ASSERT(n.links[0].has_tsize && n.links[0].tsize == 1 && !n.links[1].has_tsize);
    IPVM_ASSERT_MEMEQ(n.links[1].name, n.links[1].name_len, "b\xc3\xa9", 3);
    IPVM_ASSERT_MEMEQ(n.data, n.data_len, "\x08\x01", 2);
    /* unsorted names are refused by the encoder */
    ipvm_dagpb_link_t swapped[2] = {links[1], links[0]};
    ipvm_dagpb_node_t bad = {swapped, 2, NULL, 0};
    size_t before = out.len;
    IPVM_ASSERT_ERR(ipvm_dagpb_encode(&bad, &out), IPVM_EINVAL);
    IPVM_ASSERT_EQ(out.len, before);
    /* Data before Links is old but valid (spec "Protobuf Strictness" 2) */
    ipvm_buf_t bytes = IPVM_BUF_INIT;
    IPVM_ASSERT_OK_ERR(decode_hex("0a0108" "1224" "0a22" "1220"
                                  "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
                                  &a, &n, &err, &bytes),
                       &err);
    IPVM_ASSERT_EQ(n.nlinks, 1);
    IPVM_ASSERT_EQ(n.links[0].hash.version, 0);
    /* an empty Data field is present (not absent) */
    IPVM_ASSERT_OK_ERR(decode_hex("0a00", &a, &n, &err, &bytes), &err);
    IPVM_ASSERT(n.data != NULL && n.data_len == 0);
    ipvm_buf_dispose(&bytes);
    ipvm_buf_dispose(&out);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(blocks, dagpb_rejects)
{
    /* a CIDv0 Hash field (36 bytes) for the link bodies below */
    static const char *h = "0a221220"
                           "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
    /* node bytes = pre, then (when link is not NULL) one Links field around link, then post;
     * "%s" stands for h */
    struct {
        const char *pre, *link, *post, *why;
    } cases[] = {
        {"1a00", NULL, "", "unknown field in PBNode"},
        {"0800", NULL, "", "wire type"},
        {"0a000a00", NULL, "", "duplicate Data"},
        {"0a05", NULL, "", "length runs past the end"},
        {"0a", NULL, "", "varint runs past the end"},
        {"0a8000", NULL, "", "shortest form"},
        {"0aff", NULL, "", "varint runs past the end"},
        {"1250%s", NULL, "", "length runs past the end"},
        {"", "", "", "no Hash"},
        {"", "1200", "", "no Hash"},
        {"", "0a00", "", "not a CID"},
        {"", "2200", "", "unknown field in PBLink"},
        {"", "0800", "", "wire type 2"},
        {"", "1000", "", "wire type 2"},
        {"", "1a00", "", "wire type 0"},
        {"", "1801", "", "no Hash"},
        {"", "%s18011200", "", "out of order"},
        {"", "%s%s", "", "duplicate field in PBLink"},
        {"", "%s1202ff00", "", "not valid UTF-8"},
        {"", "%s1202c0af", "", "not valid UTF-8"},
        {"", "%s1203eda080", "", "not valid UTF-8"},
        {"", "%s18ffffffffffffffffff02", "", "larger than 64 bits"},
        {"", "%s18ffffffffffffffffffff01", "", "larger than 64 bits"},
        {"", "%s18", "", "varint runs past the end"},
        {"", "%s188000", "", "shortest form"},
        {"", "%s", "0a001224%s", "interleave"},
        {"", "%s", "0a000a00", "duplicate Data"},
    };
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_buf_t bytes = IPVM_BUF_INIT;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char pre[256], link[256], post[256], hex[1024];
        snprintf(pre, sizeof pre, cases[i].pre, h);
        snprintf(link, sizeof link, cases[i].link ? cases[i].link : "", h, h);
        snprintf(post, sizeof post, cases[i].post, h);
        if (cases[i].link)
            snprintf(hex, sizeof hex, "%s12%02zx%s%s", pre, strlen(link) / 2, link, post);
        else
            snprintf(hex, sizeof hex, "%s%s", pre, post);
        ipvm_error_t err;
        ipvm_error_clear(&err);
        ipvm_dagpb_node_t n;
        int rc = decode_hex(hex, &a, &n, &err, &bytes);
        IPVM_ASSERT_MSG(rc == IPVM_EDAGPB, "case %zu (%s): rc=%s", i, hex, ipvm_err_name(rc));
        IPVM_ASSERT_MSG(strstr(err.msg, cases[i].why) != NULL, "case %zu (%s): \"%s\" lacks \"%s\"",
                        i, hex, err.msg, cases[i].why);
        IPVM_ASSERT(err.offset != IPVM_NO_OFFSET && err.offset <= bytes.len);
    }
    ipvm_buf_dispose(&bytes);
    ipvm_arena_dispose(&a);
}
