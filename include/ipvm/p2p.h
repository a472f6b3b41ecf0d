/* SPDX-License-Identifier: Apache-2.0 */
/* ipvm/p2p.h: the libp2p side of ipvm: the node's Ed25519 identity and peer ids
 * (libp2p/specs peer-ids), multiaddrs, and the host that speaks TCP + multistream-select +
 * Noise + Yamux with identify, ping, gossipsub and Kademlia (DESIGN.md "p2p/"). */
#ifndef IPVM_P2P_H
#define IPVM_P2P_H

#include "util.h"
#include "multiformats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------------------------- peer ids ---- */
/* A peer id is the multihash of the protobuf PublicKey {Type, Data}: the identity multihash when
 * the encoding is at most 42 bytes (every Ed25519 key: 0x00 0x24 08 01 12 20 <32 bytes>, text
 * "12D3KooW…"), sha2-256 otherwise ("Qm…"). Plain data: copy it with `=`. */
#define IPVM_P2P_PEER_ID_MAX 48  /* longest multihash we accept as a peer id */
#define IPVM_P2P_PEER_ID_STR 128 /* room for any text form, NUL included */
#define IPVM_P2P_ED25519_PUBKEY_PB 36 /* bytes of an encoded Ed25519 PublicKey */

typedef struct ipvm_peer_id_s {
    uint8_t len;                         /* bytes used in `bytes`; 0 = no peer id */
    uint8_t bytes[IPVM_P2P_PEER_ID_MAX]; /* the multihash */
} ipvm_peer_id_t;

/* The peer id of an Ed25519 public key. */
IPVM_EXTERN void ipvm_p2p_peer_id_from_ed25519(const uint8_t pub[32], ipvm_peer_id_t *out);
/* The peer id of an encoded PublicKey (any key type: it is only hashed). Errors: IPVM_EPROTO
 * when the bytes are not a PublicKey message; IPVM_ETOOBIG past 8 KiB. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_peer_id_from_pubkey(const uint8_t *pb, size_t len,
                                                             ipvm_peer_id_t *out,
                                                             ipvm_error_t *err);
/* Checks a binary peer id (an identity or sha2-256 multihash that fills `len`). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_peer_id_from_bytes(const uint8_t *buf, size_t len,
                                                            ipvm_peer_id_t *out,
                                                            ipvm_error_t *err);
/* Parses either text form: base58btc multihash ("12D3KooW…", "Qm…", "1…") or a multibase CIDv1
 * with the libp2p-key codec ("bafzaa…", "k51…"). Errors: IPVM_EBASE/IPVM_ECID/IPVM_EMULTIHASH
 * with a sentence naming what is wrong. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_peer_id_parse(const char *str, size_t len,
                                                       ipvm_peer_id_t *out, ipvm_error_t *err);
/* The legacy (default) text form, base58btc. Returns out. */
IPVM_EXTERN const char *ipvm_p2p_peer_id_str(const ipvm_peer_id_t *id,
                                             char out[IPVM_P2P_PEER_ID_STR]);
/* The CIDv1 form (codec libp2p-key 0x72) in `base` (IPVM_BASE32 gives "bafzaa…"). 0 or
 * IPVM_ETOOBIG when size is too small. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_peer_id_format_cid(const ipvm_peer_id_t *id,
                                                            ipvm_base_t base, char *out,
                                                            size_t size);
/* The Ed25519 public key inlined in an identity-hashed peer id. 0, or IPVM_ENOENT when the id
 * hashes its key (sha2-256) or holds another key type. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_peer_id_ed25519(const ipvm_peer_id_t *id,
                                                         uint8_t pub[32] /* out */);
IPVM_EXTERN bool ipvm_p2p_peer_id_equal(const ipvm_peer_id_t *a, const ipvm_peer_id_t *b);

/* ------------------------------------------------------------------------- public keys ---- */
/* Encodes an Ed25519 public key as a libp2p PublicKey protobuf (36 bytes, deterministic). */
IPVM_EXTERN void ipvm_p2p_pubkey_encode(const uint8_t pub[32],
                                        uint8_t out[IPVM_P2P_ED25519_PUBKEY_PB]);
/* Decodes a PublicKey protobuf that must hold an Ed25519 key. Errors: IPVM_EPROTO (not a
 * PublicKey, or not in the deterministic encoding), IPVM_EUNSUPPORTED (RSA, secp256k1, ECDSA). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_pubkey_decode(const uint8_t *pb, size_t len,
                                                       uint8_t pub[32] /* out */,
                                                       ipvm_error_t *err);
/* Verifies an Ed25519 signature. 0 or IPVM_ESIGNATURE. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_ed25519_verify(const uint8_t pub[32],
                                                        const uint8_t *msg, size_t len,
                                                        const uint8_t sig[64]);

/* ---------------------------------------------------------------------------- identity ---- */
/* The node's Ed25519 key pair: its libp2p peer id, and (for the trust layer) its did:key.
 *
 * On disk: `<data_dir>/identity.key`, mode 0600, holding exactly the libp2p PrivateKey protobuf
 * of peer-ids.md: `08 01 12 40 <32-byte seed> <32-byte public key>` (68 bytes; the legacy
 * 96-byte form with the public key twice is also read). It is the format go-libp2p and js-libp2p
 * write when they export a key, so a key can move between implementations.
 *
 * In memory the secret lives in libsodium's guarded memory (sodium_malloc: guard pages, mlock,
 * read-only after creation) and is wiped by ipvm_p2p_identity_free; every temporary copy (file
 * bytes, decoded protobuf) is wiped before it is freed. Thread: an identity is immutable after
 * creation, so any thread may use it at once. */
typedef struct ipvm_p2p_identity_s ipvm_p2p_identity_t;

#define IPVM_P2P_IDENTITY_FILE "identity.key"

/* Loads `<data_dir>/identity.key`, or creates it (and data_dir) with a fresh random key when it
 * does not exist. *created (may be NULL) says which. Errors: IPVM_EACCES when the file is
 * readable or writable by group or others (the message says to chmod 600), IPVM_EPROTO when it
 * is not a PrivateKey or its public half does not match its seed, IPVM_EUNSUPPORTED for a
 * non-Ed25519 key, file errors from util. *out is owned by the caller (ipvm_p2p_identity_free). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_identity_load_or_create(const char *data_dir,
                                                                 ipvm_p2p_identity_t **out,
                                                                 bool *created /* out */,
                                                                 ipvm_error_t *err);
/* A key from a 32-byte Ed25519 seed (copied; wipe yours). For tests and `random_seed` configs. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_identity_from_seed(const uint8_t seed[32],
                                                            ipvm_p2p_identity_t **out);
/* A fresh random key, not saved anywhere. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_identity_generate(ipvm_p2p_identity_t **out);
/* Wipes and frees. NULL is a no-op. */
IPVM_EXTERN void ipvm_p2p_identity_free(ipvm_p2p_identity_t *id);
/* Ed25519 signature of msg (detached, 64 bytes). */
IPVM_EXTERN void ipvm_p2p_identity_sign(const ipvm_p2p_identity_t *id, const uint8_t *msg,
                                        size_t len, uint8_t sig[64] /* out */);
/* The raw 32-byte Ed25519 public key (borrowed: lives as long as id). */
IPVM_EXTERN const uint8_t *ipvm_p2p_identity_public_key(const ipvm_p2p_identity_t *id);
/* The peer id (borrowed). */
IPVM_EXTERN const ipvm_peer_id_t *ipvm_p2p_identity_peer_id(const ipvm_p2p_identity_t *id);
/* The peer id as text, "12D3KooW…" (borrowed, NUL-terminated). */
IPVM_EXTERN const char *ipvm_p2p_identity_peer_id_str(const ipvm_p2p_identity_t *id);
/* Writes the PrivateKey protobuf (68 bytes) into out, for `ipvm key export`. The caller must
 * wipe it (ipvm_memzero). */
IPVM_EXTERN void ipvm_p2p_identity_export(const ipvm_p2p_identity_t *id, uint8_t out[68]);

#ifdef __cplusplus
}
#endif
#endif /* IPVM_P2P_H */
