/* SPDX-License-Identifier: Apache-2.0 */
/* Ed25519 keys with libsodium, and their did:key names (w3c-ccg did-key: multicodec
 * ed25519-pub 0xed as a varint, then the 32-byte key, base58btc, "did:key:z6Mk…"). */
#include "ipvm/trust.h"

#include <sodium.h>
#include <string.h>

static int sodium_ready(void)
{
    return sodium_init() < 0 ? IPVM_ECRYPTO : 0;
}

int ipvm_key_generate(ipvm_key_t *key)
{
    IPVM_MISUSE_IF(key == NULL);
    if (sodium_ready() != 0)
        return IPVM_ECRYPTO;
    uint8_t seed[IPVM_ED25519_SEED];
    randombytes_buf(seed, sizeof seed);
    int rc = ipvm_key_from_seed(key, seed);
    ipvm_memzero(seed, sizeof seed);
    return rc;
}

int ipvm_key_from_seed(ipvm_key_t *key, const uint8_t seed[IPVM_ED25519_SEED])
{
    IPVM_MISUSE_IF(key == NULL || seed == NULL);
    if (sodium_ready() != 0)
        return IPVM_ECRYPTO;
    if (crypto_sign_seed_keypair(key->pub, key->secret, seed) != 0) {
        ipvm_key_wipe(key);
        return IPVM_ECRYPTO;
    }
    int rc = ipvm_did_from_ed25519(key->pub, key->did);
    if (rc != 0)
        ipvm_key_wipe(key);
    return rc;
}

void ipvm_key_wipe(ipvm_key_t *key)
{
    if (key)
        ipvm_memzero(key, sizeof *key);
}

void ipvm_key_sign(const ipvm_key_t *key, const uint8_t *msg, size_t len,
                   uint8_t sig[IPVM_ED25519_SIG])
{
    IPVM_MISUSE_IF(key == NULL || sig == NULL || (msg == NULL && len > 0));
    IPVM_ALWAYS(crypto_sign_detached(sig, NULL, msg, len, key->secret) == 0);
}

int ipvm_ed25519_verify(const uint8_t pub[IPVM_ED25519_PUBLIC], const uint8_t *msg, size_t len,
                        const uint8_t *sig, size_t sig_len)
{
    IPVM_MISUSE_IF(pub == NULL || (msg == NULL && len > 0));
    if (sig == NULL || sig_len != IPVM_ED25519_SIG)
        return IPVM_ESIGNATURE;
    if (sodium_ready() != 0)
        return IPVM_ECRYPTO;
    return crypto_sign_verify_detached(sig, msg, len, pub) == 0 ? 0 : IPVM_ESIGNATURE;
}

int ipvm_did_from_ed25519(const uint8_t pub[IPVM_ED25519_PUBLIC], char out[IPVM_DID_MAX])
{
    IPVM_MISUSE_IF(pub == NULL || out == NULL);
    uint8_t raw[2 + IPVM_ED25519_PUBLIC] = {0xed, 0x01}; /* varint(0xed) */
    memcpy(raw + 2, pub, IPVM_ED25519_PUBLIC);
    ipvm_buf_t b = IPVM_BUF_INIT;
    int rc = ipvm_buf_append_str(&b, "did:key:");
    if (rc == 0)
        rc = ipvm_multibase_encode(IPVM_BASE58BTC, raw, sizeof raw, &b);
    out[0] = '\0';
    if (rc == 0 && IPVM_ALWAYS(b.len < IPVM_DID_MAX))
        memcpy(out, b.data, b.len + 1);
    ipvm_buf_dispose(&b);
    return rc;
}

int ipvm_did_to_ed25519(const char *did, size_t len, uint8_t pub[IPVM_ED25519_PUBLIC],
                        ipvm_error_t *err)
{
    IPVM_MISUSE_IF(did == NULL || pub == NULL);
    const char *hash = memchr(did, '#', len);
    if (hash)
        len = (size_t)(hash - did);
    if (len < 8 || memcmp(did, "did:key:", 8) != 0) {
        if (len >= 4 && memcmp(did, "did:", 4) == 0)
            return ipvm_error_set(err, IPVM_EUNSUPPORTED, 0,
                                  "'%.*s' is not a did:key; only did:key principals can be "
                                  "verified offline",
                                  (int)(len > 80 ? 80 : len), did);
        return ipvm_error_set(err, IPVM_EINVAL, 0, "'%.*s' is not a DID (want did:key:z6Mk…)",
                              (int)(len > 80 ? 80 : len), did);
    }
    if (len == 8)
        return ipvm_error_set(err, IPVM_EINVAL, 8, "'did:key:' is not a DID: the key is missing");
    if (did[8] != 'z')
        return ipvm_error_set(err, IPVM_EINVAL, 8,
                              "did:key must be base58btc (start with 'z'), got '%c'", did[8]);
    ipvm_buf_t raw = IPVM_BUF_INIT;
    ipvm_error_t e2;
    ipvm_error_clear(&e2);
    int rc = ipvm_base_decode(IPVM_BASE58BTC, did + 9, len - 9, &raw, &e2);
    if (rc == IPVM_ENOMEM)
        goto done;
    if (rc != 0) {
        rc = ipvm_error_set(err, IPVM_EINVAL, e2.offset == IPVM_NO_OFFSET ? 9 : 9 + e2.offset,
                            "did:key is not valid base58btc: %s", e2.msg);
        goto done;
    }
    uint64_t codec = 0;
    size_t used = 0;
    if (ipvm_varint_decode(raw.data, raw.len, &codec, &used, NULL) != 0) {
        rc = ipvm_error_set(err, IPVM_EINVAL, 9, "did:key does not start with a multicodec");
        goto done;
    }
    if (codec != IPVM_CODEC_ED25519_PUB) {
        const char *what = codec == 0x1200   ? "a P-256"
                           : codec == 0xe7   ? "a secp256k1"
                           : codec == 0x1201 ? "a P-384"
                           : codec == 0x1205 ? "an RSA"
                                             : "an unknown";
        rc = ipvm_error_set(err, IPVM_EUNSUPPORTED, 9,
                            "did:key holds %s key (multicodec 0x%llx); ipvm verifies Ed25519 "
                            "keys (did:key:z6Mk…)",
                            what, (unsigned long long)codec);
        goto done;
    }
    if (raw.len - used != IPVM_ED25519_PUBLIC) {
        rc = ipvm_error_set(err, IPVM_EINVAL, 9,
                            "did:key Ed25519 key has %zu bytes, want 32", raw.len - used);
        goto done;
    }
    memcpy(pub, raw.data + used, IPVM_ED25519_PUBLIC);
    rc = 0;
done:
    ipvm_buf_dispose(&raw);
    return rc;
}

bool ipvm_did_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return false;
    size_t la = strcspn(a, "#"), lb = strcspn(b, "#");
    return la == lb && memcmp(a, b, la) == 0;
}
