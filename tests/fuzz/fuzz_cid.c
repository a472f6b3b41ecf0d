/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for CID parsing, text and binary. Properties: rejections carry a code and a
 * reason; an accepted text is the one text of its CID in its base (formatting it again gives
 * the input back), and an accepted binary CID is its own binary form; both round-trip through
 * every base. */
#include "fuzz.h"

#include <string.h>

static void roundtrip_all_bases(const ipvm_cid_t *cid)
{
    static const ipvm_base_t bases[] = {IPVM_BASE32, IPVM_BASE32_UPPER, IPVM_BASE32HEX,
                                        IPVM_BASE58BTC, IPVM_BASE64, IPVM_BASE64URL, IPVM_BASE16,
                                        IPVM_BASE16_UPPER};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        char s[IPVM_CID_MAX_STR];
        IPVM_FUZZ_CHECK(ipvm_cid_format(cid, bases[i], s, sizeof s) == 0);
        ipvm_cid_t back;
        ipvm_error_t err;
        IPVM_FUZZ_CHECK(ipvm_cid_parse(&back, s, strlen(s), &err) == 0);
        IPVM_FUZZ_CHECK(ipvm_cid_equal(cid, &back) && ipvm_cid_compare(cid, &back) == 0);
        if (cid->version == 0)
            break; /* one text only: base58btc */
    }
    ipvm_cid_t v1;
    ipvm_cid_to_v1(cid, &v1);
    IPVM_FUZZ_CHECK(v1.version == 1 && v1.codec == cid->codec && v1.hash == cid->hash);
}

IPVM_FUZZ_TARGET(cid)
{
    ipvm_cid_t cid, back;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = ipvm_cid_parse(&cid, (const char *)data, size, &err);
    if (rc != 0) {
        IPVM_FUZZ_CHECK(err.code == rc && err.msg[0] != '\0');
    } else {
        char s[IPVM_CID_MAX_STR];
        ipvm_base_t base = cid.version == 0 ? IPVM_BASE58BTC : (ipvm_base_t)data[0];
        IPVM_FUZZ_CHECK(ipvm_cid_format(&cid, base, s, sizeof s) == 0);
        IPVM_FUZZ_CHECK(strlen(s) == size && memcmp(s, data, size) == 0);
        roundtrip_all_bases(&cid);
    }
    ipvm_error_clear(&err);
    rc = ipvm_cid_from_bytes(&cid, data, size, &err);
    if (rc != 0) {
        IPVM_FUZZ_CHECK(err.code == rc && err.msg[0] != '\0' &&
                        (err.offset == IPVM_NO_OFFSET || err.offset <= size));
        return 0;
    }
    IPVM_FUZZ_CHECK(cid.len == size && memcmp(cid.bytes, data, size) == 0);
    IPVM_FUZZ_CHECK(ipvm_cid_from_bytes(&back, cid.bytes, cid.len, &err) == 0);
    IPVM_FUZZ_CHECK(ipvm_cid_equal(&cid, &back));
    IPVM_FUZZ_CHECK(memcmp(ipvm_cid_digest(&cid), data + (size - cid.digest_len),
                           cid.digest_len) == 0);
    roundtrip_all_bases(&cid);
    return 0;
}
