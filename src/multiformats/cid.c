/* SPDX-License-Identifier: Apache-2.0 */
/* CIDs (multiformats/cid): CIDv0 (a bare sha2-256 multihash, "Qm…" in base58btc) and CIDv1
 * (version, codec, multihash), in binary and string form. Parsing follows the spec's decoding
 * algorithm: a multibase string that decodes to a CIDv0 is rejected. */
#include "multiformats_int.h"

#include <string.h>

int ipvm_cid_from_digest(ipvm_cid_t *cid, int version, uint64_t codec, uint64_t hash,
                         const uint8_t *digest, size_t digest_len)
{
    if (digest_len > IPVM_MH_MAX_DIGEST)
        return IPVM_ECID;
    if (version == 0) {
        if (codec != IPVM_CODEC_DAG_PB || hash != IPVM_MH_SHA2_256 || digest_len != 32)
            return IPVM_ECID;
    } else if (version != 1 || (codec >> 63) || (hash >> 63)) {
        return IPVM_ECID;
    }
    uint8_t *p = cid->bytes;
    if (version == 1) {
        *p++ = 1;
        p += ipvm_varint_encode(codec, p);
    }
    p += ipvm_varint_encode(hash, p);
    p += ipvm_varint_encode(digest_len, p);
    cid->version = (uint8_t)version;
    cid->codec = codec;
    cid->hash = hash;
    cid->digest_len = (uint8_t)digest_len;
    cid->digest_off = (uint16_t)(p - cid->bytes);
    if (digest_len)
        memcpy(p, digest, digest_len);
    cid->len = (uint16_t)(cid->digest_off + digest_len);
    return 0;
}

int ipvm_cid_create(ipvm_cid_t *cid, int version, uint64_t codec, uint64_t hash,
                    const uint8_t *data, size_t len)
{
    uint8_t digest[IPVM_MH_MAX_DIGEST];
    size_t dlen = 0;
    int rc = ipvm_multihash_digest(hash, data, len, digest, &dlen);
    if (rc)
        return rc;
    return ipvm_cid_from_digest(cid, version, codec, hash, digest, dlen);
}

/* Reads one varint for the CID reader, naming the field in the error. */
static int read_field(const uint8_t *buf, size_t len, size_t *pos, uint64_t *v,
                      const char *what, ipvm_error_t *err)
{
    size_t used = 0;
    int rc = ipvm_varint_decode(buf + *pos, len - *pos, v, &used, err);
    if (rc) {
        if (err) {
            err->code = IPVM_ECID;
            err->offset += *pos;
            ipvm_error_prefix(err, "CID %s: ", what);
        }
        return IPVM_ECID;
    }
    *pos += used;
    return 0;
}

int ipvm_cid_read(ipvm_cid_t *cid, const uint8_t *buf, size_t len, size_t *used,
                  ipvm_error_t *err)
{
    size_t pos = 0;
    uint64_t version, codec = IPVM_CODEC_DAG_PB, hash, dlen;
    int rc = read_field(buf, len, &pos, &version, "version", err);
    if (rc)
        return rc;
    if (version == IPVM_MH_SHA2_256) {
        /* CIDv0: the bytes are the multihash itself */
        version = 0;
        pos = 0;
    } else if (version == 0) {
        return ipvm_error_set(err, IPVM_ECID, 0,
                              "a binary CIDv0 has no version byte: it is the bare sha2-256 "
                              "multihash (0x12 0x20 ...)");
    } else if (version != 1) {
        return ipvm_error_set(err, IPVM_ECID, 0,
                              "unsupported CID version %llu (only 0 and 1 exist)",
                              (unsigned long long)version);
    } else if ((rc = read_field(buf, len, &pos, &codec, "codec", err)) != 0) {
        return rc;
    }
    size_t hash_off = pos;
    if ((rc = read_field(buf, len, &pos, &hash, "multihash code", err)) != 0 ||
        (rc = read_field(buf, len, &pos, &dlen, "digest length", err)) != 0)
        return rc;
    if (dlen > IPVM_MH_MAX_DIGEST)
        return ipvm_error_set(err, IPVM_ECID, hash_off,
                              "CID digest of %llu bytes is longer than the %d supported",
                              (unsigned long long)dlen, IPVM_MH_MAX_DIGEST);
    if (dlen > len - pos)
        return ipvm_error_set(err, IPVM_ECID, len,
                              "CID is truncated: the digest needs %llu bytes, %zu remain",
                              (unsigned long long)dlen, len - pos);
    if (version == 0 && (hash != IPVM_MH_SHA2_256 || dlen != 32))
        return ipvm_error_set(err, IPVM_ECID, 0,
                              "CIDv0 must be a 32-byte sha2-256 multihash");
    rc = ipvm_cid_from_digest(cid, (int)version, codec, hash, buf + pos, (size_t)dlen);
    if (IPVM_NEVER(rc != 0))
        return IPVM_EINTERNAL;
    *used = pos + (size_t)dlen;
    return 0;
}

int ipvm_cid_from_bytes(ipvm_cid_t *cid, const uint8_t *buf, size_t len, ipvm_error_t *err)
{
    size_t used = 0;
    ipvm_cid_t tmp;
    int rc = ipvm_cid_read(&tmp, buf, len, &used, err);
    if (rc)
        return rc;
    if (used != len)
        return ipvm_error_set(err, IPVM_ECID, used, "%zu unexpected bytes after the CID",
                              len - used);
    *cid = tmp;
    return 0;
}

int ipvm_cid_parse(ipvm_cid_t *cid, const char *str, size_t len, ipvm_error_t *err)
{
    uint8_t bytes[IPVM_CID_MAX_STR];
    size_t n = 0;
    int rc;
    if (len == 0)
        return ipvm_error_set(err, IPVM_ECID, 0, "empty string is not a CID");
    /* Longer texts cannot hold a CID we accept; refusing early bounds the work. */
    if (len > IPVM_CID_MAX_STR)
        return ipvm_error_set(err, IPVM_ECID, 0, "%zu characters is too long for a CID", len);
    if (len == 46 && str[0] == 'Q' && str[1] == 'm') {
        rc = ipvm__base_decode(IPVM_BASE58BTC, str, len, bytes, &n, 0, err);
        if (rc == 0 && (n != 34 || bytes[0] != 0x12 || bytes[1] != 0x20))
            rc = ipvm_error_set(err, IPVM_ECID, 0,
                                "\"Qm…\" text does not hold a sha2-256 multihash (CIDv0)");
    } else {
        ipvm_base_t b = (ipvm_base_t)(uint8_t)str[0];
        if (ipvm_base_name(b) == NULL || b == IPVM_BASE_IDENTITY)
            return ipvm_error_set(err, IPVM_ECID, 0,
                                  "CID text must start with a multibase prefix such as 'b' "
                                  "(base32) or be a base58btc CIDv0 \"Qm…\"");
        if (ipvm__base_decoded_max(b, len - 1) > sizeof bytes)
            return ipvm_error_set(err, IPVM_ECID, 0, "text is too long for a CID");
        rc = ipvm__base_decode(b, str + 1, len - 1, bytes, &n, 1, err);
        if (rc == 0 && n > 0 && bytes[0] == 0x12)
            rc = ipvm_error_set(err, IPVM_ECID, 0,
                                "a CIDv0 cannot be multibase-encoded; write it as \"Qm…\"");
    }
    if (rc) {
        if (rc == IPVM_EBASE) {
            rc = IPVM_ECID;
            if (err)
                err->code = rc;
        }
        return rc;
    }
    ipvm_cid_t tmp;
    rc = ipvm_cid_from_bytes(&tmp, bytes, n, err);
    if (rc) {
        if (err)
            err->offset = 0; /* binary offsets mean little in the text form */
        return rc;
    }
    *cid = tmp;
    return 0;
}

int ipvm_cid_format(const ipvm_cid_t *cid, ipvm_base_t base, char *out, size_t size)
{
    if (cid->version == 0)
        base = IPVM_BASE58BTC;
    size_t max = ipvm__base_encoded_max(base, cid->len);
    if (max == SIZE_MAX || base == IPVM_BASE_IDENTITY)
        return IPVM_EINVAL;
    char tmp[IPVM_CID_MAX_STR];
    size_t n = 0;
    if (cid->version == 1)
        tmp[n++] = (char)base;
    n += ipvm__base_encode(base, cid->bytes, cid->len, tmp + n);
    if (n + 1 > size)
        return IPVM_ETOOBIG;
    memcpy(out, tmp, n);
    out[n] = '\0';
    return 0;
}

const char *ipvm_cid_str(const ipvm_cid_t *cid, char out[IPVM_CID_MAX_STR])
{
    if (ipvm_cid_format(cid, IPVM_BASE32, out, IPVM_CID_MAX_STR) != 0)
        out[0] = '\0';
    return out;
}

int ipvm_cid_compare(const ipvm_cid_t *a, const ipvm_cid_t *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->bytes, b->bytes, n);
    if (c)
        return c < 0 ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
}

bool ipvm_cid_equal(const ipvm_cid_t *a, const ipvm_cid_t *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

void ipvm_cid_to_v1(const ipvm_cid_t *cid, ipvm_cid_t *out)
{
    if (cid->version == 1) {
        *out = *cid;
        return;
    }
    ipvm_cid_t tmp;
    int rc = ipvm_cid_from_digest(&tmp, 1, cid->codec, cid->hash, ipvm_cid_digest(cid),
                                  cid->digest_len);
    IPVM_ALWAYS(rc == 0);
    *out = tmp;
}
