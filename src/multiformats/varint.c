/* SPDX-License-Identifier: Apache-2.0 */
/* Unsigned varint (multiformats/unsigned-varint): LEB128 limited to 9 bytes / 63 bits, and only
 * the shortest form is accepted, so every value has exactly one encoding. */
#include "ipvm/multiformats.h"

size_t ipvm_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t ipvm_varint_encode(uint64_t v, uint8_t out[IPVM_VARINT_MAX])
{
    IPVM_MISUSE_IF(v >> 63);
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

int ipvm_varint_decode(const uint8_t *buf, size_t len, uint64_t *value, size_t *used,
                       ipvm_error_t *err)
{
    uint64_t v = 0;
    for (size_t i = 0; i < IPVM_VARINT_MAX; i++) {
        if (i >= len)
            return ipvm_error_set(err, IPVM_EVARINT, i,
                                  "varint is truncated: input ends after %zu byte%s", i,
                                  i == 1 ? "" : "s");
        uint8_t b = buf[i];
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (b == 0 && i > 0)
                return ipvm_error_set(err, IPVM_EVARINT, i,
                                      "varint is not in its shortest form (trailing zero byte)");
            *value = v;
            *used = i + 1;
            return 0;
        }
    }
    return ipvm_error_set(err, IPVM_EVARINT, IPVM_VARINT_MAX - 1,
                          "varint is longer than 9 bytes (values of 2^63 and above are not "
                          "allowed)");
}
