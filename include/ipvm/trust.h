/* SPDX-License-Identifier: Apache-2.0 */
/* ipvm/trust.h: identities and authorization. Ed25519 keys (libsodium) and their did:key form
 * (w3c-ccg did-key, multicodec 0xed, base58btc); UCAN 1.0 delegations and invocations
 * (ucan-wg/spec, ucan-wg/delegation, ucan-wg/invocation: the DAG-CBOR envelope with a varsig v1
 * header, ChainAgnostic/varsig) with the policy language, chain validation and revocation
 * (ucan-wg/revocation); UCAN 0.8-0.10 JWTs as @ucans/ucans issues them, verified for older
 * clients; signed receipts; and the checks the node plugs into the scheduler's hooks. */
#ifndef IPVM_TRUST_H
#define IPVM_TRUST_H

#include "ipld.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ keys, DIDs ---- */
#define IPVM_ED25519_PUBLIC 32
#define IPVM_ED25519_SEED 32
#define IPVM_ED25519_SECRET 64 /* libsodium's form: seed || public key */
#define IPVM_ED25519_SIG 64
/* "did:key:z" + base58btc of the 34 bytes 0xed 0x01 || key (48 characters) + NUL, rounded. */
#define IPVM_DID_MAX 64

/* An Ed25519 key pair. The secret half is wiped by ipvm_key_wipe (call it on every path). */
typedef struct ipvm_key_s {
    uint8_t pub[IPVM_ED25519_PUBLIC];    /* public key */
    uint8_t secret[IPVM_ED25519_SECRET]; /* seed || public key (secret) */
    char did[IPVM_DID_MAX];              /* did:key:z6Mk… of pub */
} ipvm_key_t;

/* A fresh random key. 0, IPVM_ENOMEM or IPVM_ECRYPTO (libsodium failed to initialise). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_key_generate(ipvm_key_t *key /* out */);
/* The key whose RFC 8032 seed is `seed` (copied; the caller wipes its own copy). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_key_from_seed(ipvm_key_t *key /* out */,
                                                   const uint8_t seed[IPVM_ED25519_SEED]);
/* Overwrites the secret (and the rest) of the key. */
IPVM_EXTERN void ipvm_key_wipe(ipvm_key_t *key);
/* Ed25519 signature of msg (pure Ed25519, no pre-hash). Never fails for a valid key. */
IPVM_EXTERN void ipvm_key_sign(const ipvm_key_t *key, const uint8_t *msg, size_t len,
                               uint8_t sig[IPVM_ED25519_SIG] /* out */);
/* 0 when sig is a valid Ed25519 signature of msg by pub, else IPVM_ESIGNATURE. Rejects
 * non-canonical encodings and small-order keys (libsodium's strict verification). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ed25519_verify(const uint8_t pub[IPVM_ED25519_PUBLIC],
                                                    const uint8_t *msg, size_t len,
                                                    const uint8_t *sig, size_t sig_len);

/* did:key of an Ed25519 public key into out (NUL-terminated). 0 or IPVM_ENOMEM. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_did_from_ed25519(const uint8_t pub[IPVM_ED25519_PUBLIC],
                                                      char out[IPVM_DID_MAX]);
/* Reads the public key out of a did:key (an optional "#fragment" is ignored). IPVM_EINVAL
 * with a reason for anything that is not a did:key; IPVM_EUNSUPPORTED for a did:key of another
 * key type (P-256 zDn…, secp256k1 zQ3s…), naming it. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_did_to_ed25519(const char *did, size_t len,
                                                    uint8_t pub[IPVM_ED25519_PUBLIC] /* out */,
                                                    ipvm_error_t *err);
/* True when a and b name the same principal: equal up to a "#fragment" (delegation spec,
 * "Principal Alignment": fragments are not taken into account). */
IPVM_EXTERN bool ipvm_did_equal(const char *a, const char *b);

/* ------------------------------------------------------------------------- key files ---- */
/* User keys live in <data-dir>/keys/<name>.pem: PKCS#8 Ed25519 (RFC 8410) PEM, the format
 * OpenSSL and Homestar's `existing` key setting read; mode 0600 in a 0700 directory. Names are
 * 1-64 characters of [A-Za-z0-9._-], not starting with '.'. */
IPVM_EXTERN bool ipvm_keyfile_name_ok(const char *name);
/* Creates a new random key named `name` (a name, never a path). IPVM_EEXIST if taken. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_keyfile_new(const char *data_dir, const char *name,
                                                 ipvm_key_t *key /* out, may be NULL */,
                                                 ipvm_error_t *err);
/* Loads a user key by name, or a key file by path when `name` contains a '/'. Refuses a key
 * file that others may read (mode & 077) with IPVM_EACCES and the chmod to run. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_keyfile_load(const char *data_dir, const char *name,
                                                  ipvm_key_t *key /* out */, ipvm_error_t *err);
/* Stores an existing key under `name` (0600). IPVM_EEXIST if taken. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_keyfile_save(const char *data_dir, const char *name,
                                                  const ipvm_key_t *key, ipvm_error_t *err);
/* Calls fn(name, did, data) for each user key, in name order. A non-zero return stops the
 * walk and is returned. IPVM_ENOENT never: no keys directory is an empty list. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_keyfile_list(const char *data_dir,
                                                  int (*fn)(const char *name, const char *did,
                                                            void *data),
                                                  void *data, ipvm_error_t *err);
/* PEM (PKCS#8) text of a key, or its parse: for `ipvm key export` / import. The PEM buffer
 * holds a secret: the caller wipes it (ipvm_memzero) before disposing. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_key_to_pem(const ipvm_key_t *key, ipvm_buf_t *out);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_key_from_pem(const char *pem, size_t len,
                                                  ipvm_key_t *key /* out */, ipvm_error_t *err);
/* The multikey form iso-ucan's fixtures use: base64pad(varint(0x1300) || seed), and back. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_key_to_multikey(const ipvm_key_t *key, ipvm_buf_t *out);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_key_from_multikey(const char *text, size_t len,
                                                       ipvm_key_t *key /* out */,
                                                       ipvm_error_t *err);

/* A signer: a principal that can sign, whether its key is a user key (ipvm_key_t) or the
 * node's libp2p identity (ipvm_p2p_identity_t, whose secret stays in libsodium's guarded
 * memory). Plain data; borrows the key it was made from. */
typedef struct ipvm_signer_s {
    char did[IPVM_DID_MAX];          /* did:key of pub */
    uint8_t pub[IPVM_ED25519_PUBLIC]; /* public key */
    void (*sign)(const void *key, const uint8_t *msg, size_t len, uint8_t sig[IPVM_ED25519_SIG]);
    const void *key; /* borrowed: must outlive the signer */
} ipvm_signer_t;

/* A signer for a user key (borrowed). */
IPVM_EXTERN void ipvm_signer_from_key(ipvm_signer_t *s /* out */, const ipvm_key_t *key);
/* A signer for the node's identity (p2p.h; borrowed): the node's did:key is the same key as
 * its libp2p peer id. 0 or IPVM_ENOMEM. */
struct ipvm_p2p_identity_s;
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_signer_from_identity(ipvm_signer_t *s /* out */,
                                                          const struct ipvm_p2p_identity_s *id);
/* Signs msg. */
IPVM_EXTERN void ipvm_signer_sign(const ipvm_signer_t *s, const uint8_t *msg, size_t len,
                                  uint8_t sig[IPVM_ED25519_SIG] /* out */);

#ifdef __cplusplus
}
#endif
#endif /* IPVM_TRUST_H */
