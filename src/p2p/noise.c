/* SPDX-License-Identifier: Apache-2.0 */
/* Noise_XX_25519_ChaChaPoly_SHA256 for libp2p (libp2p/specs noise/README.md, on the Noise
 * Protocol Framework rev 34): the handshake state machine, the libp2p handshake payload (identity
 * key + signature over "noise-libp2p-static-key:" || static key, early muxer list), and the
 * transport cipher states. Pure: bytes in, bytes out, no I/O. Crypto is libsodium's. */
#include "p2p_int.h"

#include "p2p/pb/noise.pb-c.h"

#include <protobuf-c/protobuf-c.h>
#include <openssl/evp.h>
#include <sodium.h>

static const char PROTOCOL_NAME[] = "Noise_XX_25519_ChaChaPoly_SHA256"; /* exactly 32 bytes */
static const char SIG_PREFIX[] = "noise-libp2p-static-key:";

/* ------------------------------------------------------------ symmetric state (§5.2) ---- */
static void mix_hash(ipvm__noise_hs_t *hs, const uint8_t *data, size_t n)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, hs->h, 32);
    crypto_hash_sha256_update(&st, data, n);
    crypto_hash_sha256_final(&st, hs->h);
}

static void hmac(const uint8_t key[32], const uint8_t *a, size_t na, const uint8_t *b, size_t nb,
                 uint8_t out[32])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, 32);
    crypto_auth_hmacsha256_update(&st, a, na);
    if (nb)
        crypto_auth_hmacsha256_update(&st, b, nb);
    crypto_auth_hmacsha256_final(&st, out);
    ipvm_memzero(&st, sizeof st);
}

/* HKDF(chaining_key, ikm) with two outputs (§4.3). */
static void hkdf2(const uint8_t ck[32], const uint8_t *ikm, size_t n, uint8_t o1[32],
                  uint8_t o2[32])
{
    uint8_t tk[32], one = 1, two[33];
    hmac(ck, ikm, n, NULL, 0, tk);
    hmac(tk, &one, 1, NULL, 0, o1);
    memcpy(two, o1, 32);
    two[32] = 2;
    hmac(tk, two, 33, NULL, 0, o2);
    ipvm_memzero(tk, sizeof tk);
    ipvm_memzero(two, sizeof two);
}

static void mix_key(ipvm__noise_hs_t *hs, const uint8_t dh[32])
{
    uint8_t ck[32];
    hkdf2(hs->ck, dh, 32, ck, hs->cs.k);
    memcpy(hs->ck, ck, 32);
    ipvm_memzero(ck, sizeof ck);
    hs->cs.n = 0;
    hs->cs.has_k = true;
}

static void nonce12(uint64_t n, uint8_t out[12])
{
    memset(out, 0, 4);
    for (int i = 0; i < 8; i++)
        out[4 + i] = (uint8_t)(n >> (8 * i));
}

/* EncryptAndHash: appends to out. */
static int encrypt_and_hash(ipvm__noise_hs_t *hs, const uint8_t *p, size_t n, ipvm_buf_t *out)
{
    if (!hs->cs.has_k) {
        mix_hash(hs, p, n);
        return ipvm_buf_append(out, p, n);
    }
    int rc = ipvm_buf_reserve(out, n + 16);
    if (rc)
        return rc;
    uint8_t nonce[12];
    unsigned long long clen = 0;
    uint8_t *c = out->data + out->len;
    nonce12(hs->cs.n++, nonce);
    crypto_aead_chacha20poly1305_ietf_encrypt(c, &clen, p, n, hs->h, 32, NULL, nonce, hs->cs.k);
    mix_hash(hs, c, (size_t)clen);
    out->len += (size_t)clen;
    out->data[out->len] = '\0';
    return 0;
}

/* DecryptAndHash into out (n - 16 bytes when keyed). */
static int decrypt_and_hash(ipvm__noise_hs_t *hs, const uint8_t *c, size_t n, uint8_t *out,
                            ipvm_error_t *err)
{
    if (!hs->cs.has_k) {
        memcpy(out, c, n);
        mix_hash(hs, c, n);
        return 0;
    }
    uint8_t nonce[12];
    unsigned long long mlen = 0;
    if (n < 16)
        return ipvm_error_set(err, IPVM_EHANDSHAKE, 0, "noise: ciphertext shorter than its tag");
    nonce12(hs->cs.n++, nonce);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL, c, n, hs->h, 32, nonce,
                                                  hs->cs.k) != 0)
        return ipvm_error_set(err, IPVM_EHANDSHAKE, 0,
                              "noise: handshake message fails authentication (wrong keys or "
                              "tampered bytes)");
    mix_hash(hs, c, n);
    return 0;
}

static int dh(const uint8_t sk[32], const uint8_t pk[32], uint8_t out[32], ipvm_error_t *err)
{
    if (crypto_scalarmult(out, sk, pk) != 0)
        return ipvm_error_set(err, IPVM_EHANDSHAKE, 0,
                              "noise: peer sent a low-order X25519 public key");
    return 0;
}

static int mix_dh(ipvm__noise_hs_t *hs, const uint8_t sk[32], const uint8_t pk[32],
                  ipvm_error_t *err)
{
    uint8_t k[32];
    int rc = dh(sk, pk, k, err);
    if (rc == 0)
        mix_key(hs, k);
    ipvm_memzero(k, sizeof k);
    return rc;
}

/* --------------------------------------------------------------------- key material ---- */
void ipvm__noise_keypair(uint8_t sk[32], uint8_t pk[32])
{
    randombytes_buf(sk, 32);
    crypto_scalarmult_base(pk, sk);
}

int ipvm__noise_payload_build(const ipvm_p2p_identity_t *id, const uint8_t s_pk[32],
                              bool early_muxer, ipvm_buf_t *out)
{
    uint8_t key[IPVM_P2P_ED25519_PUBKEY_PB], sig[64], msg[sizeof SIG_PREFIX - 1 + 32];
    char *muxers[1] = {(char *)IPVM__P2P_YAMUX_PROTO};
    ipvm_p2p_pubkey_encode(ipvm_p2p_identity_public_key(id), key);
    memcpy(msg, SIG_PREFIX, sizeof SIG_PREFIX - 1);
    memcpy(msg + sizeof SIG_PREFIX - 1, s_pk, 32);
    ipvm_p2p_identity_sign(id, msg, sizeof msg, sig);
    P2p__Pb__Noise__NoiseExtensions ext = P2P__PB__NOISE__NOISE_EXTENSIONS__INIT;
    ext.n_stream_muxers = 1;
    ext.stream_muxers = muxers;
    P2p__Pb__Noise__NoiseHandshakePayload p = P2P__PB__NOISE__NOISE_HANDSHAKE_PAYLOAD__INIT;
    p.has_identity_key = p.has_identity_sig = 1;
    p.identity_key.data = key;
    p.identity_key.len = sizeof key;
    p.identity_sig.data = sig;
    p.identity_sig.len = sizeof sig;
    p.extensions = early_muxer ? &ext : NULL;
    size_t n = p2p__pb__noise__noise_handshake_payload__get_packed_size(&p);
    int rc = ipvm_buf_reserve(out, n);
    if (rc)
        return rc;
    out->len += p2p__pb__noise__noise_handshake_payload__pack(&p, out->data + out->len);
    out->data[out->len] = '\0';
    return 0;
}

/* Checks the peer's payload: its identity key signed our view of its static key. */
int ipvm__noise_payload_verify(ipvm__noise_hs_t *hs, const uint8_t *p, size_t n,
                               ipvm_error_t *err)
{
    P2p__Pb__Noise__NoiseHandshakePayload *m =
        p2p__pb__noise__noise_handshake_payload__unpack(&ipvm__p2p_pb_alloc, n, p);
    if (m == NULL)
        return ipvm_error_set(err, IPVM_EHANDSHAKE, 0,
                              "noise: handshake payload is not a NoiseHandshakePayload protobuf");
    uint8_t msg[sizeof SIG_PREFIX - 1 + 32];
    int rc = 0;
    if (!m->has_identity_key || !m->has_identity_sig || m->identity_sig.len != 64) {
        rc = ipvm_error_set(err, IPVM_EHANDSHAKE, 0,
                            "noise: handshake payload lacks the identity key or signature");
        goto done;
    }
    if ((rc = ipvm_p2p_pubkey_decode(m->identity_key.data, m->identity_key.len, hs->remote_pub,
                                     err)) != 0) {
        ipvm_error_prefix(err, "noise: peer identity key: ");
        rc = IPVM_EHANDSHAKE;
        goto done;
    }
    memcpy(msg, SIG_PREFIX, sizeof SIG_PREFIX - 1);
    memcpy(msg + sizeof SIG_PREFIX - 1, hs->rs, 32);
    if (ipvm_p2p_ed25519_verify(hs->remote_pub, msg, sizeof msg, m->identity_sig.data) != 0) {
        rc = ipvm_error_set(err, IPVM_EHANDSHAKE, 0,
                            "noise: the identity signature over the static key does not verify");
        goto done;
    }
    ipvm_p2p_peer_id_from_ed25519(hs->remote_pub, &hs->remote);
    hs->remote_muxers = 0;
    hs->remote_yamux = false;
    if (m->extensions) {
        hs->remote_muxers = m->extensions->n_stream_muxers;
        for (size_t i = 0; i < m->extensions->n_stream_muxers; i++)
            if (strcmp(m->extensions->stream_muxers[i], IPVM__P2P_YAMUX_PROTO) == 0)
                hs->remote_yamux = true;
    }
done:
    p2p__pb__noise__noise_handshake_payload__free_unpacked(m, &ipvm__p2p_pb_alloc);
    return rc;
}

/* ---------------------------------------------------------------- handshake state ---- */
void ipvm__noise_hs_init(ipvm__noise_hs_t *hs, bool initiator, const uint8_t s_sk[32],
                         const uint8_t s_pk[32], const uint8_t *payload, size_t payload_len)
{
    memset(hs, 0, sizeof *hs);
    hs->initiator = initiator;
    memcpy(hs->h, PROTOCOL_NAME, 32); /* the name is exactly HASHLEN, so it is used as is */
    memcpy(hs->ck, hs->h, 32);
    mix_hash(hs, NULL, 0); /* empty prologue */
    memcpy(hs->s_sk, s_sk, 32);
    memcpy(hs->s_pk, s_pk, 32);
    ipvm__noise_keypair(hs->e_sk, hs->e_pk);
    hs->payload = payload;
    hs->payload_len = payload_len;
}

void ipvm__noise_hs_dispose(ipvm__noise_hs_t *hs)
{
    ipvm_memzero(hs, sizeof *hs);
}

/* Writes message 1 (-> e), 2 (<- e, ee, s, es) or 3 (-> s, se), framed with a 2-byte length. */
int ipvm__noise_hs_write(ipvm__noise_hs_t *hs, ipvm_buf_t *out, ipvm_error_t *err)
{
    size_t start = out->len;
    int rc = ipvm_buf_append(out, "\0\0", 2);
    if (rc)
        return ipvm_error_set(err, rc, 0, "out of memory");
    if (hs->step == 0 && hs->initiator) {
        rc = ipvm_buf_append(out, hs->e_pk, 32);
        mix_hash(hs, hs->e_pk, 32);
        if (rc == 0)
            rc = encrypt_and_hash(hs, NULL, 0, out); /* msg 1 carries no payload */
    } else if (hs->step == 1 && !hs->initiator) {
        rc = ipvm_buf_append(out, hs->e_pk, 32);
        mix_hash(hs, hs->e_pk, 32);
        if (rc == 0 && (rc = mix_dh(hs, hs->e_sk, hs->re, err)) == 0 &&
            (rc = encrypt_and_hash(hs, hs->s_pk, 32, out)) == 0 &&
            (rc = mix_dh(hs, hs->s_sk, hs->re, err)) == 0)
            rc = encrypt_and_hash(hs, hs->payload, hs->payload_len, out);
    } else if (hs->step == 2 && hs->initiator) {
        if ((rc = encrypt_and_hash(hs, hs->s_pk, 32, out)) == 0 &&
            (rc = mix_dh(hs, hs->s_sk, hs->re, err)) == 0)
            rc = encrypt_and_hash(hs, hs->payload, hs->payload_len, out);
    } else {
        IPVM_MISUSE_IF("noise: write out of turn");
    }
    if (rc) {
        out->len = start;
        return err && err->code ? rc : ipvm_error_set(err, rc, 0, "out of memory");
    }
    size_t n = out->len - start - 2;
    IPVM_ALWAYS(n <= 65535);
    ipvm__be16_put(out->data + start, (uint16_t)n);
    hs->step++;
    return 0;
}

/* Reads message 1, 2 or 3 (without its length prefix). */
int ipvm__noise_hs_read(ipvm__noise_hs_t *hs, const uint8_t *m, size_t n, ipvm_error_t *err)
{
    uint8_t plain[IPVM__NOISE_MAX_MSG];
    int rc = 0;
    if (n > IPVM__NOISE_MAX_MSG)
        return ipvm_error_set(err, IPVM_EHANDSHAKE, 0, "noise: message over 65535 bytes");
    if (hs->step == 0 && !hs->initiator) {
        if (n < 32)
            return ipvm_error_set(err, IPVM_EHANDSHAKE, 0,
                                  "noise: first handshake message of %zu bytes (needs 32)", n);
        memcpy(hs->re, m, 32);
        mix_hash(hs, hs->re, 32);
        rc = decrypt_and_hash(hs, m + 32, n - 32, plain, err); /* unkeyed: any payload */
    } else if (hs->step == 1 && hs->initiator) {
        if (n < 32 + 48 + 16)
            return ipvm_error_set(err, IPVM_EHANDSHAKE, 0,
                                  "noise: second handshake message of %zu bytes (needs 96+)", n);
        memcpy(hs->re, m, 32);
        mix_hash(hs, hs->re, 32);
        if ((rc = mix_dh(hs, hs->e_sk, hs->re, err)) == 0 &&
            (rc = decrypt_and_hash(hs, m + 32, 48, hs->rs, err)) == 0 &&
            (rc = mix_dh(hs, hs->e_sk, hs->rs, err)) == 0 &&
            (rc = decrypt_and_hash(hs, m + 80, n - 80, plain, err)) == 0)
            rc = ipvm__noise_payload_verify(hs, plain, n - 80 - 16, err);
    } else if (hs->step == 2 && !hs->initiator) {
        if (n < 48 + 16)
            return ipvm_error_set(err, IPVM_EHANDSHAKE, 0,
                                  "noise: third handshake message of %zu bytes (needs 64+)", n);
        if ((rc = decrypt_and_hash(hs, m, 48, hs->rs, err)) == 0 &&
            (rc = mix_dh(hs, hs->e_sk, hs->rs, err)) == 0 &&
            (rc = decrypt_and_hash(hs, m + 48, n - 48, plain, err)) == 0)
            rc = ipvm__noise_payload_verify(hs, plain, n - 48 - 16, err);
    } else {
        return ipvm_error_set(err, IPVM_EHANDSHAKE, 0, "noise: handshake message out of turn");
    }
    ipvm_memzero(plain, n); /* what decryption wrote is at most n bytes (not the whole 64 KiB) */
    if (rc == 0)
        hs->step++;
    return rc;
}

void ipvm__noise_hs_split(ipvm__noise_hs_t *hs, ipvm__noise_cs_t *tx, ipvm__noise_cs_t *rx)
{
    uint8_t k1[32], k2[32];
    IPVM_ALWAYS(hs->step == 3);
    hkdf2(hs->ck, NULL, 0, k1, k2);
    memset(tx, 0, sizeof *tx);
    memset(rx, 0, sizeof *rx);
    memcpy(tx->k, hs->initiator ? k1 : k2, 32);
    memcpy(rx->k, hs->initiator ? k2 : k1, 32);
    tx->has_k = rx->has_k = true;
    ipvm_memzero(k1, sizeof k1);
    ipvm_memzero(k2, sizeof k2);
}

/* ------------------------------------------------------------------- transport ---- */
/* The transport cipher is the same ChaCha20-Poly1305 (RFC 8439) either way: a message under
 * BULK_MIN bytes goes through libsodium, a bigger one through OpenSSL's libcrypto, whose
 * AVX-512 ChaCha20 and Poly1305 run 2.4x faster than libsodium 1.0.18's AVX2/SSE2 code on bulk
 * data (0.36 vs 0.91 ms per MB, docs/benchmarks.md p2p) while its per-message setup (~0.5 us)
 * loses on small ones. When libcrypto cannot make a context, libsodium does the work. */
#define BULK_MIN 2048

typedef struct {
    EVP_CIPHER_CTX *ctx;
    bool keyed;
} bulk_t;

static bool bulk_start(bulk_t *b, const uint8_t key[32], const uint8_t nonce[12], int enc)
{
    if (b->ctx == NULL && (b->ctx = EVP_CIPHER_CTX_new()) == NULL)
        return false;
    if (EVP_CipherInit_ex(b->ctx, b->keyed ? NULL : EVP_chacha20_poly1305(), NULL,
                          b->keyed ? NULL : key, nonce, enc) != 1)
        return false;
    b->keyed = true;
    return true;
}

static void bulk_end(bulk_t *b)
{
    EVP_CIPHER_CTX_free(b->ctx); /* wipes the key schedule */
    b->ctx = NULL;
}

/* Encrypts n bytes to c (n + 16 bytes, tag last). */
static void seal(bulk_t *b, const uint8_t key[32], const uint8_t nonce[12], const uint8_t *p,
                 size_t n, uint8_t *c)
{
    int l = 0, f = 0;
    if (n >= BULK_MIN && bulk_start(b, key, nonce, 1) &&
        EVP_EncryptUpdate(b->ctx, c, &l, p, (int)n) == 1 && (size_t)l == n &&
        EVP_EncryptFinal_ex(b->ctx, c + l, &f) == 1 && f == 0 &&
        EVP_CIPHER_CTX_ctrl(b->ctx, EVP_CTRL_AEAD_GET_TAG, 16, c + n) == 1)
        return;
    crypto_aead_chacha20poly1305_ietf_encrypt(c, NULL, p, n, NULL, 0, NULL, nonce, key);
}

/* Decrypts and authenticates n bytes (tag last) to out (n - 16 bytes). 0 or -1. */
static int open_msg(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *c, size_t n,
                    uint8_t *out)
{
    size_t m = n - 16;
    bulk_t b = {0};
    int l = 0, f = 0, rc = -1;
    if (m >= BULK_MIN && bulk_start(&b, key, nonce, 0) &&
        EVP_CIPHER_CTX_ctrl(b.ctx, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(c + m)) == 1 &&
        EVP_DecryptUpdate(b.ctx, out, &l, c, (int)m) == 1 && (size_t)l == m) {
        rc = EVP_DecryptFinal_ex(b.ctx, out + l, &f) == 1 && f == 0 ? 0 : -1;
        bulk_end(&b);
        if (rc)
            ipvm_memzero(out, m); /* nothing unauthenticated is left behind */
        return rc;
    }
    bulk_end(&b);
    return crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, c, n, NULL, 0, nonce,
                                                     key) == 0
               ? 0
               : -1;
}

int ipvm__noise_encrypt(ipvm__noise_cs_t *cs, const uint8_t *p, size_t n, ipvm_buf_t *out)
{
    bulk_t b = {0};
    int rc = 0;
    size_t msgs = (n + IPVM__NOISE_MAX_PLAIN - 1) / IPVM__NOISE_MAX_PLAIN;
    if (n && (rc = ipvm_buf_reserve(out, n + msgs * 18)) != 0)
        return rc;
    while (n > 0) {
        size_t chunk = n > IPVM__NOISE_MAX_PLAIN ? IPVM__NOISE_MAX_PLAIN : n;
        if (cs->n == UINT64_MAX) {
            rc = IPVM_ECLOSED; /* nonce space exhausted: the connection must end */
            break;
        }
        uint8_t nonce[12], *f = out->data + out->len;
        nonce12(cs->n++, nonce);
        seal(&b, cs->k, nonce, p, chunk, f + 2);
        ipvm__be16_put(f, (uint16_t)(chunk + 16));
        out->len += 2 + chunk + 16;
        out->data[out->len] = '\0';
        p += chunk;
        n -= chunk;
    }
    bulk_end(&b);
    return rc;
}

int ipvm__noise_decrypt(ipvm__noise_cs_t *cs, const uint8_t *c, size_t n, uint8_t *out,
                        size_t *out_len, ipvm_error_t *err)
{
    uint8_t nonce[12];
    if (n < 16)
        return ipvm_error_set(err, IPVM_EPROTO, 0, "noise: transport message of %zu bytes "
                                                   "(shorter than its 16-byte tag)", n);
    if (cs->n == UINT64_MAX)
        return ipvm_error_set(err, IPVM_ECLOSED, 0, "noise: nonce space exhausted");
    nonce12(cs->n, nonce);
    if (open_msg(cs->k, nonce, c, n, out) != 0)
        return ipvm_error_set(err, IPVM_EPROTO, 0,
                              "noise: transport message fails authentication (tampered or out "
                              "of order)");
    cs->n++;
    *out_len = n - 16;
    return 0;
}
