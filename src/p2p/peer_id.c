/* SPDX-License-Identifier: Apache-2.0 */
/* Peer ids and public keys (libp2p/specs peer-ids/peer-ids.md): the PublicKey protobuf, its
 * identity or sha2-256 multihash, and the two text forms (base58btc multihash, CIDv1 with the
 * libp2p-key codec). */
#include "p2p_int.h"

#include "p2p/pb/keys.pb-c.h"

#include <sodium.h>

/* Keys whose encoding is at most this long are inlined with the identity multihash. */
#define INLINE_MAX 42

void ipvm_p2p_pubkey_encode(const uint8_t pub[32], uint8_t out[IPVM_P2P_ED25519_PUBKEY_PB])
{
    /* field 1 (Type, varint) = 1 (Ed25519); field 2 (Data, bytes) of length 32 */
    out[0] = 0x08;
    out[1] = 0x01;
    out[2] = 0x12;
    out[3] = 0x20;
    memcpy(out + 4, pub, 32);
}

static const char *key_type_name(int t)
{
    switch (t) {
    case P2P__PB__KEYS__KEY_TYPE__RSA:
        return "RSA";
    case P2P__PB__KEYS__KEY_TYPE__Secp256k1:
        return "secp256k1";
    case P2P__PB__KEYS__KEY_TYPE__ECDSA:
        return "ECDSA";
    default:
        return "unknown";
    }
}

/* A libp2p PublicKey protobuf of at most IPVM__P2P_PUBKEY_MAX bytes, unpacked into *k (free it
 * with p2p__pb__keys__public_key__free_unpacked). */
static int unpack_pubkey(const uint8_t *pb, size_t len, P2p__Pb__Keys__PublicKey **k,
                         ipvm_error_t *err)
{
    if (len > IPVM__P2P_PUBKEY_MAX)
        return ipvm_error_set(err, IPVM_ETOOBIG, 0, "public key of %zu bytes is over the %d-byte limit",
                              len, IPVM__P2P_PUBKEY_MAX);
    *k = p2p__pb__keys__public_key__unpack(&ipvm__p2p_pb_alloc, len, pb);
    if (*k == NULL)
        return ipvm_error_set(err, IPVM_EPROTO, 0, "not a libp2p PublicKey protobuf (%zu bytes)",
                              len);
    return 0;
}

int ipvm_p2p_pubkey_decode(const uint8_t *pb, size_t len, uint8_t pub[32], ipvm_error_t *err)
{
    P2p__Pb__Keys__PublicKey *k = NULL;
    int rc = unpack_pubkey(pb, len, &k, err);
    if (rc != 0)
        return rc;
    if (k->type != P2P__PB__KEYS__KEY_TYPE__Ed25519) {
        rc = ipvm_error_set(err, IPVM_EUNSUPPORTED, 0,
                            "%s public keys are not supported (only Ed25519)",
                            key_type_name(k->type));
    } else if (k->data.len != 32) {
        rc = ipvm_error_set(err, IPVM_EPROTO, 0, "Ed25519 public key has %zu bytes, not 32",
                            k->data.len);
    } else {
        uint8_t canon[IPVM_P2P_ED25519_PUBKEY_PB];
        ipvm_p2p_pubkey_encode(k->data.data, canon);
        if (len != sizeof canon || memcmp(canon, pb, len) != 0)
            rc = ipvm_error_set(err, IPVM_EPROTO, 0,
                                "PublicKey is not in the deterministic encoding (peer-ids.md)");
        else
            memcpy(pub, k->data.data, 32);
    }
    p2p__pb__keys__public_key__free_unpacked(k, &ipvm__p2p_pb_alloc);
    return rc;
}

static void peer_id_from_encoded(const uint8_t *pb, size_t len, ipvm_peer_id_t *out)
{
    if (len <= INLINE_MAX) {
        out->bytes[0] = IPVM_MH_IDENTITY;
        out->bytes[1] = (uint8_t)len;
        memcpy(out->bytes + 2, pb, len);
        out->len = (uint8_t)(len + 2);
    } else {
        out->bytes[0] = IPVM_MH_SHA2_256;
        out->bytes[1] = 32;
        crypto_hash_sha256(out->bytes + 2, pb, len);
        out->len = 34;
    }
}

void ipvm_p2p_peer_id_from_ed25519(const uint8_t pub[32], ipvm_peer_id_t *out)
{
    uint8_t pb[IPVM_P2P_ED25519_PUBKEY_PB];
    ipvm_p2p_pubkey_encode(pub, pb);
    peer_id_from_encoded(pb, sizeof pb, out);
}

int ipvm_p2p_peer_id_from_pubkey(const uint8_t *pb, size_t len, ipvm_peer_id_t *out,
                                 ipvm_error_t *err)
{
    P2p__Pb__Keys__PublicKey *k = NULL;
    int rc = unpack_pubkey(pb, len, &k, err);
    if (rc != 0)
        return rc;
    p2p__pb__keys__public_key__free_unpacked(k, &ipvm__p2p_pb_alloc);
    peer_id_from_encoded(pb, len, out);
    return 0;
}

int ipvm_p2p_peer_id_from_bytes(const uint8_t *buf, size_t len, ipvm_peer_id_t *out,
                                ipvm_error_t *err)
{
    uint64_t code = 0, dlen = 0;
    size_t u1 = 0, u2 = 0;
    if (len == 0)
        return ipvm_error_set(err, IPVM_EMULTIHASH, 0, "empty peer id");
    if (ipvm_varint_decode(buf, len, &code, &u1, NULL) != 0 ||
        ipvm_varint_decode(buf + u1, len - u1, &dlen, &u2, NULL) != 0)
        return ipvm_error_set(err, IPVM_EMULTIHASH, 0, "peer id is not a multihash");
    if (dlen != len - u1 - u2)
        return ipvm_error_set(err, IPVM_EMULTIHASH, u1 + u2,
                              "peer id multihash says %llu digest bytes but has %zu",
                              (unsigned long long)dlen, len - u1 - u2);
    if (code == IPVM_MH_IDENTITY) {
        if (dlen > INLINE_MAX)
            return ipvm_error_set(err, IPVM_EMULTIHASH, 0,
                                  "identity peer id inlines %llu bytes (at most %d allowed)",
                                  (unsigned long long)dlen, INLINE_MAX);
    } else if (code == IPVM_MH_SHA2_256) {
        if (dlen != 32)
            return ipvm_error_set(err, IPVM_EMULTIHASH, 0, "sha2-256 peer id of %llu bytes",
                                  (unsigned long long)dlen);
    } else {
        return ipvm_error_set(err, IPVM_EMULTIHASH, 0,
                              "peer id uses multihash 0x%llx (only identity and sha2-256 are valid)",
                              (unsigned long long)code);
    }
    out->len = (uint8_t)len;
    memcpy(out->bytes, buf, len);
    return 0;
}

int ipvm_p2p_peer_id_parse(const char *str, size_t len, ipvm_peer_id_t *out, ipvm_error_t *err)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    int rc;
    if (len == 0)
        return ipvm_error_set(err, IPVM_EMULTIHASH, 0, "empty peer id");
    if (len > 256)
        return ipvm_error_set(err, IPVM_ETOOBIG, 0, "peer id text of %zu characters is too long",
                              len);
    if (str[0] == '1' || (len >= 2 && str[0] == 'Q' && str[1] == 'm')) {
        rc = ipvm_base_decode(IPVM_BASE58BTC, str, len, &b, err);
        if (rc == 0)
            rc = ipvm_p2p_peer_id_from_bytes(b.data, b.len, out, err);
    } else {
        ipvm_cid_t cid;
        rc = ipvm_cid_parse(&cid, str, len, err);
        if (rc == 0 && (cid.version != 1 || cid.codec != IPVM_CODEC_LIBP2P_KEY))
            rc = ipvm_error_set(err, IPVM_ECID, 0,
                                "CID is not a peer id: it must be CIDv1 with codec libp2p-key "
                                "(0x72), not 0x%llx",
                                (unsigned long long)cid.codec);
        if (rc == 0) /* the multihash follows the version (1) and codec (0x72) bytes */
            rc = ipvm_p2p_peer_id_from_bytes(cid.bytes + 2, cid.len - 2u, out, err);
    }
    if (rc && err)
        ipvm_error_prefix(err, "peer id \"%.*s\": ", (int)(len > 80 ? 80 : len), str);
    ipvm_buf_dispose(&b);
    return rc;
}

const char *ipvm_p2p_peer_id_str(const ipvm_peer_id_t *id, char out[IPVM_P2P_PEER_ID_STR])
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    out[0] = '\0';
    if (ipvm_base_encode(IPVM_BASE58BTC, id->bytes, id->len, &b) == 0 &&
        b.len < IPVM_P2P_PEER_ID_STR) {
        memcpy(out, b.data, b.len);
        out[b.len] = '\0';
    }
    ipvm_buf_dispose(&b);
    return out;
}

int ipvm_p2p_peer_id_format_cid(const ipvm_peer_id_t *id, ipvm_base_t base, char *out,
                                size_t size)
{
    ipvm_cid_t cid;
    uint64_t code = 0, dlen = 0;
    size_t u1 = 0, u2 = 0;
    if (ipvm_varint_decode(id->bytes, id->len, &code, &u1, NULL) != 0 ||
        ipvm_varint_decode(id->bytes + u1, id->len - u1, &dlen, &u2, NULL) != 0)
        return IPVM_EINVAL;
    int rc = ipvm_cid_from_digest(&cid, 1, IPVM_CODEC_LIBP2P_KEY, code, id->bytes + u1 + u2,
                                  id->len - u1 - u2);
    if (rc)
        return rc;
    return ipvm_cid_format(&cid, base, out, size);
}

int ipvm_p2p_peer_id_ed25519(const ipvm_peer_id_t *id, uint8_t pub[32])
{
    static const uint8_t prefix[6] = {IPVM_MH_IDENTITY, IPVM_P2P_ED25519_PUBKEY_PB, 0x08, 0x01,
                                      0x12, 0x20};
    if (id->len != 2 + IPVM_P2P_ED25519_PUBKEY_PB || memcmp(id->bytes, prefix, 6) != 0)
        return IPVM_ENOENT;
    memcpy(pub, id->bytes + 6, 32);
    return 0;
}

bool ipvm_p2p_peer_id_equal(const ipvm_peer_id_t *a, const ipvm_peer_id_t *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

int ipvm_p2p_ed25519_verify(const uint8_t pub[32], const uint8_t *msg, size_t len,
                            const uint8_t sig[64])
{
    return crypto_sign_verify_detached(sig, msg, len, pub) == 0 ? 0 : IPVM_ESIGNATURE;
}
