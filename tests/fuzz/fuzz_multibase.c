/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for multibase decoding. Properties: rejections carry a code, a reason and an
 * offset inside the input; the decoders are strict (one text per byte string), so encoding
 * what was decoded gives the input back exactly, for the multibase form and for each raw base. */
#include "fuzz.h"

#include <string.h>

IPVM_FUZZ_TARGET(multibase)
{
    ipvm_buf_t d = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_base_t base;
    int rc = ipvm_multibase_decode((const char *)data, size, &d, &base, &err);
    if (rc != 0) {
        IPVM_FUZZ_CHECK(err.code == rc && err.msg[0] != '\0');
        IPVM_FUZZ_CHECK(err.offset == IPVM_NO_OFFSET || err.offset <= size);
    } else {
        IPVM_FUZZ_CHECK(ipvm_multibase_encode(base, d.data, d.len, &e) == 0);
        IPVM_FUZZ_CHECK(e.len == size && memcmp(e.data, data, size) == 0);
    }
    static const ipvm_base_t raw[] = {IPVM_BASE16, IPVM_BASE16_UPPER, IPVM_BASE32,
                                      IPVM_BASE32_UPPER, IPVM_BASE32HEX, IPVM_BASE58BTC,
                                      IPVM_BASE64, IPVM_BASE64URL};
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        ipvm_buf_clear(&d);
        ipvm_buf_clear(&e);
        ipvm_error_clear(&err);
        rc = ipvm_base_decode(raw[i], (const char *)data, size, &d, &err);
        if (rc != 0) {
            IPVM_FUZZ_CHECK(err.code == rc && err.msg[0] != '\0');
            continue;
        }
        IPVM_FUZZ_CHECK(d.len <= size);
        IPVM_FUZZ_CHECK(ipvm_base_encode(raw[i], d.data, d.len, &e) == 0);
        IPVM_FUZZ_CHECK(e.len == size && (size == 0 || memcmp(e.data, data, size) == 0));
    }
    ipvm_buf_dispose(&d);
    ipvm_buf_dispose(&e);
    return 0;
}
