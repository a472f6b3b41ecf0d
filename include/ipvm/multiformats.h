/* SPDX-License-Identifier: Apache-2.0 */
/* ipvm/multiformats.h: unsigned varint, multibase, multihash, multicodec names and CIDs
 * (specs: multiformats/unsigned-varint, multibase, multihash, cid). */
#ifndef IPVM_MULTIFORMATS_H
#define IPVM_MULTIFORMATS_H

#include "util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------------------------- varint ---- */
#define IPVM_VARINT_MAX 9 /* bytes in the longest accepted varint (63 bits) */

/* Writes the shortest encoding of v (v < 2^63) into out. Returns the byte count (1..9). */
IPVM_EXTERN size_t ipvm_varint_encode(uint64_t v, uint8_t out[IPVM_VARINT_MAX]);
/* Bytes ipvm_varint_encode would write. */
IPVM_EXTERN size_t ipvm_varint_size(uint64_t v);
/* Reads one varint from the start of buf. Rejects truncated input, overlong (non-minimal)
 * forms and values of 2^63 and above, with IPVM_EVARINT. *used = bytes consumed. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_varint_decode(const uint8_t *buf, size_t len,
                                                   uint64_t *value /* out */,
                                                   size_t *used /* out */, ipvm_error_t *err);

/* -------------------------------------------------------------------------- multibase ---- */
/* The value of each base is its multibase prefix character. */
typedef enum {
    IPVM_BASE_IDENTITY = 0x00,
    IPVM_BASE16 = 'f',
    IPVM_BASE16_UPPER = 'F',
    IPVM_BASE32 = 'b',       /* RFC 4648 lower case, no padding */
    IPVM_BASE32_UPPER = 'B', /* upper case, no padding */
    IPVM_BASE32HEX = 'v',    /* RFC 4648 "hex" alphabet, lower case, no padding */
    IPVM_BASE58BTC = 'z',
    IPVM_BASE64 = 'm',    /* standard alphabet, no padding */
    IPVM_BASE64URL = 'u', /* URL-safe alphabet, no padding */
} ipvm_base_t;

/* Name ("base32", "base58btc"...) of a base, or NULL for an unknown one. */
IPVM_EXTERN const char *ipvm_base_name(ipvm_base_t base);
/* Base from its name; -1 if unknown. */
IPVM_EXTERN int ipvm_base_from_name(const char *name);

/* Raw base encodings without a multibase prefix: appends to `out` (as text). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_base_encode(ipvm_base_t base, const uint8_t *buf, size_t len,
                                                 ipvm_buf_t *out);
/* Decodes text in the given base (no prefix) and appends the bytes to `out`. Rejects characters
 * outside the alphabet, padding, and non-zero trailing bits, with IPVM_EBASE and the offset.
 * IPVM_BASE_IDENTITY copies the bytes. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_base_decode(ipvm_base_t base, const char *str, size_t len,
                                                 ipvm_buf_t *out, ipvm_error_t *err);
/* Multibase: the prefix character, then the encoding. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_multibase_encode(ipvm_base_t base, const uint8_t *buf,
                                                      size_t len, ipvm_buf_t *out);
/* Reads the prefix to learn the base. Unknown prefix: IPVM_EMULTIBASE. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_multibase_decode(const char *str, size_t len,
                                                      ipvm_buf_t *out,
                                                      ipvm_base_t *base /* out, may be NULL */,
                                                      ipvm_error_t *err);

/* -------------------------------------------------------------------------- multihash ---- */
#define IPVM_MH_IDENTITY 0x00
#define IPVM_MH_SHA2_256 0x12
#define IPVM_MH_SHA2_512 0x13
#define IPVM_MH_SHA3_256 0x16
#define IPVM_MH_BLAKE2B_256 0xb220
#define IPVM_MH_MAX_DIGEST 128 /* longest digest we keep (identity hashes included) */

/* Hashes data with the multihash function `code` into digest. Returns the digest length in
 * *digest_len. IPVM_EMULTIHASH for an unknown code; IPVM_ETOOBIG for identity input longer
 * than IPVM_MH_MAX_DIGEST. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_multihash_digest(uint64_t code, const uint8_t *data,
                                                      size_t len,
                                                      uint8_t digest[IPVM_MH_MAX_DIGEST],
                                                      size_t *digest_len /* out */);
/* Digest length for a hash function (0 for identity or unknown). */
IPVM_EXTERN size_t ipvm_multihash_size(uint64_t code);
/* "sha3-256"... or NULL. */
IPVM_EXTERN const char *ipvm_multihash_name(uint64_t code);
/* Code from name, or -1. */
IPVM_EXTERN int64_t ipvm_multihash_from_name(const char *name);

/* ------------------------------------------------------------------------- multicodec ---- */
#define IPVM_CODEC_IDENTITY 0x00
#define IPVM_CODEC_RAW 0x55
#define IPVM_CODEC_DAG_PB 0x70
#define IPVM_CODEC_DAG_CBOR 0x71
#define IPVM_CODEC_LIBP2P_KEY 0x72
#define IPVM_CODEC_DAG_JSON 0x0129
#define IPVM_CODEC_ED25519_PUB 0xed
/* "dag-cbor"... or NULL for a code not in our table. */
IPVM_EXTERN const char *ipvm_multicodec_name(uint64_t code);
IPVM_EXTERN int64_t ipvm_multicodec_from_name(const char *name);

/* -------------------------------------------------------------------------------- CID ---- */
/* version + codec + hash code + digest length varints, then the digest. */
#define IPVM_CID_MAX_BYTES (4 * IPVM_VARINT_MAX + IPVM_MH_MAX_DIGEST)
/* Longest string form: multibase prefix + base-encoded bytes + NUL (base16 is the worst). */
#define IPVM_CID_MAX_STR (2 + 2 * IPVM_CID_MAX_BYTES + 1)

/* A CID as a value: plain data, copy it with `=`. `bytes` holds the binary form (for CIDv0,
 * the bare multihash, as in the spec). */
typedef struct ipvm_cid_s {
    uint8_t version;    /* 0 or 1 */
    uint8_t digest_len; /* length of the digest */
    uint16_t len;       /* bytes used in `bytes` */
    uint16_t digest_off; /* where the digest starts in `bytes` */
    uint64_t codec;     /* multicodec of the content (0x70 for CIDv0) */
    uint64_t hash;      /* multihash function code */
    uint8_t bytes[IPVM_CID_MAX_BYTES];
} ipvm_cid_t;

/* Builds a CID from a digest already computed. Rejects CIDv0 unless codec is dag-pb and the
 * hash is a 32-byte sha2-256 (IPVM_ECID). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_cid_from_digest(ipvm_cid_t *cid, int version, uint64_t codec,
                                                     uint64_t hash, const uint8_t *digest,
                                                     size_t digest_len);
/* Hashes data and builds the CID. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_cid_create(ipvm_cid_t *cid, int version, uint64_t codec,
                                                uint64_t hash, const uint8_t *data, size_t len);
/* Parses the binary form, which must fill `len` exactly. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_cid_from_bytes(ipvm_cid_t *cid, const uint8_t *buf,
                                                    size_t len, ipvm_error_t *err);
/* Parses a binary CID from the start of buf; *used = its length. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_cid_read(ipvm_cid_t *cid, const uint8_t *buf, size_t len,
                                              size_t *used /* out */, ipvm_error_t *err);
/* Parses the string form: "Qm…" (CIDv0, base58btc, no prefix) or a multibase CIDv1. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_cid_parse(ipvm_cid_t *cid, const char *str, size_t len,
                                               ipvm_error_t *err);
/* Formats in `base` (CIDv0 is always base58btc without prefix). Returns 0, or IPVM_ETOOBIG
 * when `size` is too small. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_cid_format(const ipvm_cid_t *cid, ipvm_base_t base,
                                                char *out, size_t size);
/* The default string form (base32 for v1, base58btc for v0) in a caller buffer; returns out. */
IPVM_EXTERN const char *ipvm_cid_str(const ipvm_cid_t *cid, char out[IPVM_CID_MAX_STR]);
/* Byte-wise order of the binary forms (shorter first on a common prefix). */
IPVM_EXTERN int ipvm_cid_compare(const ipvm_cid_t *a, const ipvm_cid_t *b);
IPVM_EXTERN bool ipvm_cid_equal(const ipvm_cid_t *a, const ipvm_cid_t *b);
/* The digest bytes. */
static inline const uint8_t *ipvm_cid_digest(const ipvm_cid_t *cid)
{
    return cid->bytes + cid->digest_off;
}
/* The CIDv1 with the same codec and multihash (CIDv0 to v1; v1 copies). */
IPVM_EXTERN void ipvm_cid_to_v1(const ipvm_cid_t *cid, ipvm_cid_t *out);

#ifdef __cplusplus
}
#endif
#endif /* IPVM_MULTIFORMATS_H */
