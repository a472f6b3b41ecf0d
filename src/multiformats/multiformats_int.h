/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of multiformats/ shared with ipld/: base encoders and decoders that work on caller
 * memory (no ipvm_buf_t), so codecs can write straight into their output or an arena. */
#ifndef IPVM_MULTIFORMATS_INT_H
#define IPVM_MULTIFORMATS_INT_H

#include "ipvm/multiformats.h"

/* Longest base58btc input we convert (the algorithm is quadratic): IPVM_ETOOBIG beyond. */
#define IPVM__BASE58_MAX 8192

/* Upper bound of the characters ipvm__base_encode writes for len bytes (no NUL), or
 * SIZE_MAX for an unknown base. */
size_t ipvm__base_encoded_max(ipvm_base_t base, size_t len);
/* Encodes into out (room for ipvm__base_encoded_max bytes); returns the characters written,
 * or (size_t)-1 for an unknown base or base58 input longer than IPVM__BASE58_MAX bytes. */
size_t ipvm__base_encode(ipvm_base_t base, const uint8_t *buf, size_t len, char *out);
/* Upper bound of the bytes decoding len characters gives. */
size_t ipvm__base_decoded_max(ipvm_base_t base, size_t len);
/* Decodes into out (room for ipvm__base_decoded_max bytes); *out_len = bytes written. Error
 * offsets are `off` + the position in str. */
int ipvm__base_decode(ipvm_base_t base, const char *str, size_t len, uint8_t *out,
                      size_t *out_len, size_t off, ipvm_error_t *err);

#endif
