/* SPDX-License-Identifier: Apache-2.0 */
/* Signers: one interface over user keys and the node's identity. The node's did:key is the
 * same Ed25519 key as its libp2p peer id; the p2p area owns that key (ipvm_p2p_identity_t,
 * <data-dir>/identity.key) and trust signs with it through this file only. */
#include "trust_int.h"

#include "ipvm/p2p.h"

#include <string.h>

static void sign_with_key(const void *key, const uint8_t *msg, size_t len,
                          uint8_t sig[IPVM_ED25519_SIG])
{
    ipvm_key_sign(key, msg, len, sig);
}

static void sign_with_identity(const void *id, const uint8_t *msg, size_t len,
                               uint8_t sig[IPVM_ED25519_SIG])
{
    ipvm_p2p_identity_sign(id, msg, len, sig);
}

void ipvm_signer_from_key(ipvm_signer_t *s, const ipvm_key_t *key)
{
    IPVM_MISUSE_IF(s == NULL || key == NULL);
    memcpy(s->did, key->did, sizeof s->did);
    memcpy(s->pub, key->pub, sizeof s->pub);
    s->sign = sign_with_key;
    s->key = key;
}

int ipvm_signer_from_identity(ipvm_signer_t *s, const struct ipvm_p2p_identity_s *id)
{
    IPVM_MISUSE_IF(s == NULL || id == NULL);
    memcpy(s->pub, ipvm_p2p_identity_public_key(id), sizeof s->pub);
    s->sign = sign_with_identity;
    s->key = id;
    return ipvm_did_from_ed25519(s->pub, s->did);
}

void ipvm_signer_sign(const ipvm_signer_t *s, const uint8_t *msg, size_t len,
                      uint8_t sig[IPVM_ED25519_SIG])
{
    IPVM_MISUSE_IF(s == NULL || s->sign == NULL);
    s->sign(s->key, msg, len, sig);
}
