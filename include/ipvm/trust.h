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
#include "rpc.h"
#include "sched.h"
#include "workflow.h"

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

/* ------------------------------------------------------------------------- UCAN 1.0 ---- */
/* The envelope (ucan-wg/spec "Envelope"), in DAG-CBOR:
 *   [signature, {"h": varsig header, "<tag>": payload}]
 * signed over the DAG-CBOR of the second element (the SigPayload). Tags: */
#define IPVM_UCAN_DLG_TAG "ucan/dlg@1.0.0-rc.1" /* ucan-wg/delegation; what iso-ucan 0.5 emits */
#define IPVM_UCAN_INV_TAG "ucan/inv@1.0.0-rc.1" /* ucan-wg/invocation */
/* The varsig v1 header of Ed25519 over DAG-CBOR: varsig 0x34, version 1, EdDSA 0xed, curve
 * edwards25519 0xed, hash sha2-512 0x13, encoding DAG-CBOR 0x71 (ChainAgnostic/varsig). */
#define IPVM_VARSIG_ED25519_DAGCBOR "\x34\x01\xed\x01\xed\x01\x13\x71"
#define IPVM_VARSIG_ED25519_DAGCBOR_LEN 8
/* Clock skew allowed on nbf and exp: the spec recommends a buffer of ±60 s ("Time Bounds"). */
#define IPVM_UCAN_SKEW_S 60
/* Timestamps outside ±(2^53 - 1) are invalid ("Time Bounds"). */
#define IPVM_UCAN_TIME_MAX 9007199254740991LL
/* Largest envelope accepted. */
#define IPVM_UCAN_MAX_BYTES (1u << 20)

typedef enum {
    IPVM_UCAN_DELEGATION = 1, /* ucan/dlg */
    IPVM_UCAN_INVOCATION = 2, /* ucan/inv */
} ipvm_ucan_kind_t;

/* A decoded UCAN 1.0 token. Everything lives in the arena it was decoded or created in. */
typedef struct ipvm_ucan_s {
    ipvm_ucan_kind_t kind;
    const char *tag;             /* the payload tag as found, e.g. IPVM_UCAN_DLG_TAG */
    const uint8_t *bytes;        /* the whole envelope (DAG-CBOR) */
    size_t len;
    ipvm_cid_t cid;              /* CIDv1, dag-cbor, sha2-256 of bytes (ucan-wg/spec "CIDs") */
    const uint8_t *sig;          /* .0: the signature */
    size_t sig_len;
    const uint8_t *header;       /* .1.h: the varsig header */
    size_t header_len;
    const uint8_t *signed_bytes; /* the DAG-CBOR of .1 (the SigPayload): what sig covers */
    size_t signed_len;
    const ipvm_ipld_t *payload;  /* the payload map */
    const char *iss;             /* issuer DID */
    const char *aud;             /* audience DID; NULL when absent (invocations only) */
    const char *sub;             /* subject DID; NULL for sub: null (a powerline delegation) */
    const char *cmd;             /* the command, "/wasm/run" */
    const ipvm_ipld_t *pol;      /* delegations: the policy, a list of statements */
    const ipvm_ipld_t *args;     /* invocations: the arguments, a map */
    const uint8_t *nonce;        /* the nonce bytes (may be empty) */
    size_t nonce_len;
    const ipvm_ipld_t *meta;     /* NULL when absent */
    bool has_nbf, has_exp, has_iat; /* has_exp false: exp is null, the token never expires */
    int64_t nbf, exp, iat;
    const ipvm_cid_t *prf;       /* invocations: the proofs, root delegation first */
    size_t nprf;
    bool has_cause;              /* invocations: cause (a receipt CID) is present */
    ipvm_cid_t cause;
    bool verified; /* its signature was checked: set by ipvm_ucan_store_add only, so tokens
                      taken from a store are not verified twice (memoized validation) */
} ipvm_ucan_t;

/* What to put in a new token. Pointers are copied into the token's arena. */
typedef struct ipvm_ucan_params_s {
    ipvm_ucan_kind_t kind;
    const char *aud;          /* delegation: required; invocation: optional (NULL = absent) */
    const char *sub;          /* invocation: required; delegation: NULL writes sub: null */
    const char *cmd;          /* required, e.g. "/wasm/run" */
    const ipvm_ipld_t *pol;   /* delegation: the policy (NULL = [] ) */
    const ipvm_ipld_t *args;  /* invocation: the arguments map (NULL = {}) */
    const ipvm_ipld_t *meta;  /* NULL = absent */
    const uint8_t *nonce;     /* NULL: 12 random bytes; otherwise nonce_len bytes (0 allowed) */
    size_t nonce_len;
    bool has_nbf, has_exp, has_iat; /* has_exp false writes exp: null */
    int64_t nbf, exp, iat;
    const ipvm_cid_t *prf;    /* invocation: proofs, root first */
    size_t nprf;
    const ipvm_cid_t *cause;  /* invocation: NULL = absent */
} ipvm_ucan_params_t;

/* Builds, signs and encodes a token issued by `signer` (iss = signer->did). Checks the
 * fields as decode does (IPVM_EUCAN naming the field). *out lives in arena. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ucan_create(const ipvm_ucan_params_t *p,
                                                 const ipvm_signer_t *signer,
                                                 ipvm_arena_t *arena, ipvm_ucan_t **out,
                                                 ipvm_error_t *err);
/* Decodes an envelope strictly: strict DAG-CBOR (ipvm_dagcbor_decode), a 2-element list, a
 * SigPayload with exactly `h` and one known tag (version 1.0.0-rc.1, or 1.0.0 of the final
 * spec), and a payload with the spec's fields and types only (IPVM_EUCAN naming the field,
 * with the byte offset for CBOR errors). Does not check the signature or the time: see
 * ipvm_ucan_verify. Reads `buf` into arena (copied). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ucan_decode(const uint8_t *buf, size_t len,
                                                 ipvm_arena_t *arena, ipvm_ucan_t **out,
                                                 ipvm_error_t *err);
/* Checks the signature: the varsig header must be Ed25519 over DAG-CBOR (others:
 * IPVM_EUNSUPPORTED), iss a did:key of an Ed25519 key, and sig its signature of
 * signed_bytes (IPVM_ESIGNATURE). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ucan_verify_signature(const ipvm_ucan_t *u,
                                                           ipvm_error_t *err);
/* Checks the time bounds at `now` (seconds since the epoch) with `skew` seconds of tolerance:
 * IPVM_EEXPIRED when now > exp + skew, IPVM_ENOTYET when now < nbf - skew. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ucan_check_time(const ipvm_ucan_t *u, int64_t now,
                                                     int64_t skew, ipvm_error_t *err);
/* True when command `parent` proves `child`: equal, "/", or a prefix ending at a segment
 * boundary ("/crypto" proves "/crypto/sign", not "/cryptocurrency"). */
IPVM_EXTERN bool ipvm_ucan_cmd_proves(const char *parent, const char *child);
/* Checks command syntax: begins with '/', lowercase, no trailing '/' (except "/"), no empty
 * segment. */
IPVM_EXTERN bool ipvm_ucan_cmd_valid(const char *cmd);
/* The payload as DAG-JSON (pretty when flags has IPVM_JSON_PRETTY), for people. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ucan_payload_json(const ipvm_ucan_t *u, unsigned flags,
                                                       ipvm_buf_t *out, ipvm_error_t *err);

/* Reads the tokens in a text or binary blob: raw DAG-CBOR envelopes, or whitespace-separated
 * base64 (standard or URL alphabet, padded or not) envelopes, or UCAN 0.x JWTs. Calls fn for
 * each: `bytes` is the envelope (kind 1) or the JWT text (kind 0). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ucan_read_tokens(
    const uint8_t *buf, size_t len, ipvm_arena_t *arena,
    int (*fn)(void *data, bool is_jwt, const uint8_t *bytes, size_t n), void *data,
    ipvm_error_t *err);

/* ----------------------------------------------------------------------- policies ---- */
/* Checks that pol is a well-formed policy (ucan-wg/delegation "Policy"): a list of
 * statements, each [op, selector, value] for ==, !=, <, <=, >, >=, like, [op, [statements]]
 * for and/or, [op, statement] for not, [op, selector, statement] for all/any; selectors as
 * in "Selectors"; `like` patterns with only '*' and '\*'. IPVM_EUCAN says where. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_policy_check(const ipvm_ipld_t *pol, ipvm_error_t *err);
/* Evaluates a (checked) policy on args. *ok is the verdict; when false and why != NULL, why
 * gets the first failing statement in DAG-JSON. 0, or IPVM_EUCAN for a malformed policy,
 * IPVM_ENOMEM. Never fails for data that does not match: that is *ok = false. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_policy_eval(const ipvm_ipld_t *pol, const ipvm_ipld_t *args,
                                                 bool *ok /* out */, ipvm_buf_t *why,
                                                 ipvm_error_t *err);
/* Resolves a selector on v. *out is NULL when the selector does not resolve (missing key
 * without '?', index out of range...); an optional selector gives an IPLD null instead.
 * Values made by '[]' live in arena. IPVM_EUCAN for a malformed selector. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_selector_eval(const char *sel, size_t len,
                                                   const ipvm_ipld_t *v, ipvm_arena_t *arena,
                                                   const ipvm_ipld_t **out, ipvm_error_t *err);
/* Glob match of ucan `like`: '*' matches any run of characters, "\*" a literal '*'. */
IPVM_EXTERN bool ipvm_policy_like(const char *pattern, size_t plen, const char *s, size_t slen);

/* ---------------------------------------------------------------- stores, chains ---- */
/* A set of UCAN tokens by CID (the proofs a validator can resolve) and the revocations it has
 * accepted (ucan-wg/revocation "Store"). Tokens are decoded and signature-checked on entry and
 * immutable afterwards. With a directory, every token and revocation added is also written
 * there (<dir>/<cid>.ucan, <dir>/revoked/<cid>.ucan) and read back by ipvm_ucan_store_open.
 * Thread: any thread; calls are serialised inside. */
typedef struct ipvm_ucan_store_s ipvm_ucan_store_t;

/* An empty store (dir NULL) or one backed by dir (created 0700 if needed). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ucan_store_open(const char *dir, ipvm_ucan_store_t **out,
                                                     ipvm_error_t *err);
IPVM_EXTERN void ipvm_ucan_store_free(ipvm_ucan_store_t *s);
/* Adds an envelope (copied) after decoding it and checking its signature. Adding a token that
 * is already there is a no-op. *out (may be NULL) is the stored token, valid for the store's
 * life. A revocation (cmd /ucan/revoke) given here is recorded as one. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ucan_store_add(ipvm_ucan_store_t *s, const uint8_t *buf,
                                                    size_t len, const ipvm_ucan_t **out,
                                                    ipvm_error_t *err);
/* The token with that CID, or NULL. */
IPVM_EXTERN const ipvm_ucan_t *ipvm_ucan_store_get(ipvm_ucan_store_t *s, const ipvm_cid_t *cid);
/* Number of tokens and of revocations held. */
IPVM_EXTERN size_t ipvm_ucan_store_count(ipvm_ucan_store_t *s, size_t *revocations /* out */);
/* Records a revocation: an invocation of /ucan/revoke with args {revoke: &Delegation}, signed
 * by its issuer (the revoker). It applies to every chain in which the revoker issued the
 * revoked delegation or one above it; a revocation that carries proofs of /ucan/revoke
 * (delegated revocation) is validated as an invocation and then speaks for its subject.
 * Revocations are permanent. IPVM_EUCAN when it is not a revocation. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ucan_store_revoke(ipvm_ucan_store_t *s,
                                                       const ipvm_ucan_t *revocation,
                                                       ipvm_error_t *err);
/* The DID that revoked `cid` when it is one of `issuers` (the delegators of the chain at and
 * above that link), else NULL. */
IPVM_EXTERN const char *ipvm_ucan_store_revoked_by(ipvm_ucan_store_t *s, const ipvm_cid_t *cid,
                                                   const char *const *issuers, size_t n);

#define IPVM_UCAN_LINK_NONE (-2) /* no link failed */
#define IPVM_UCAN_LINK_INVOCATION (-1)

typedef struct ipvm_ucan_validate_opts_s {
    int64_t now;              /* seconds since the epoch; 0 = now */
    int64_t skew;             /* seconds of clock skew tolerated; -1 = IPVM_UCAN_SKEW_S */
    const char *executor;     /* if set: the invocation's aud (or sub when aud is absent) must
                                 name it */
    ipvm_ucan_store_t *store; /* resolves prf CIDs and knows revocations; NULL = none */
    ipvm_ucan_store_t *extra; /* more proofs, e.g. a submission's own (its revocations are
                                 not consulted); NULL = none */
} ipvm_ucan_validate_opts_t;

/* Validates an invocation and its proof chain (ucan-wg/invocation "Proof Chains",
 * ucan-wg/delegation "Token Validation"): signatures; time bounds of every token; the chain
 * prf[0] → … → invocation, where prf[0] is the root (iss == sub), each delegation's aud is the
 * next one's iss and the last one's aud is the invoker; every subject is the invocation's (or
 * null: a powerline, never the root); each cmd proves the next and the invocation's; every
 * policy holds on args; no link is revoked. Without proofs the invoker must be the subject.
 * On failure returns IPVM_ESIGNATURE, IPVM_EEXPIRED, IPVM_ENOTYET, IPVM_EREVOKED, IPVM_EDENIED
 * (alignment, command, policy), IPVM_EUCAN (malformed or unavailable proof) or
 * IPVM_EUNSUPPORTED, err says which link and why, and *failed_link (may be NULL) is
 * IPVM_UCAN_LINK_INVOCATION or the index in prf; IPVM_UCAN_LINK_NONE on success. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ucan_validate(const ipvm_ucan_t *inv,
                                                   const ipvm_ucan_validate_opts_t *opts,
                                                   int *failed_link /* out */,
                                                   ipvm_error_t *err);
/* Validates one delegation on its own: structure, signature, time, not revoked by its issuer. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ucan_validate_delegation(const ipvm_ucan_t *dlg,
                                                              const ipvm_ucan_validate_opts_t *o,
                                                              ipvm_error_t *err);

/* ------------------------------------------------------------------ UCAN 0.x JWTs ---- */
/* A UCAN 0.8 - 0.10 JWT (what @ucans/ucans issues), for older clients. */
typedef struct ipvm_jwt_cap_s {
    const char *with;          /* resource, e.g. "ipfs://bafy…", "prf:*" */
    const char *can;           /* ability, e.g. "wasm/run", "*" */
    const ipvm_ipld_t *caveats; /* 0.10 caveat list, NULL for 0.8 att */
} ipvm_jwt_cap_t;

typedef struct ipvm_jwt_s {
    const char *token;  /* the whole JWT text */
    size_t len;
    size_t signed_len;  /* bytes of "header.payload" at the start of token */
    const uint8_t *sig; /* the signature bytes */
    size_t sig_len;
    const char *alg;    /* "EdDSA" */
    const char *ucv;    /* "0.8.1", "0.10.0" */
    long version;       /* ucv as major*1e6 + minor*1e3 + patch */
    const char *iss, *aud;
    bool has_exp, has_nbf; /* has_exp false: exp null (0.10) */
    int64_t exp, nbf;
    ipvm_jwt_cap_t *caps;
    size_t ncaps;
    const char **prf;   /* embedded JWTs (0.8) or proof CIDs (0.9, 0.10) */
    size_t nprf;
    const ipvm_ipld_t *fct;
} ipvm_jwt_t;

/* Parses a JWT (strict JSON in both parts: duplicate keys are refused). IPVM_EUCAN says what is
 * wrong; IPVM_EUNSUPPORTED for ucv outside 0.8-0.10. The token is copied into arena. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_jwt_decode(const char *s, size_t len, ipvm_arena_t *arena,
                                                ipvm_jwt_t **out, ipvm_error_t *err);
/* EdDSA with a did:key issuer over "header.payload". */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_jwt_verify_signature(const ipvm_jwt_t *t, ipvm_error_t *err);

typedef struct ipvm_jwt_validate_opts_s {
    int64_t now;          /* 0 = now */
    int64_t skew;         /* -1 = IPVM_UCAN_SKEW_S */
    const char *audience; /* if set, the token's aud must be it */
    const char *with;     /* the capability wanted: resource */
    const char *can;      /* … and ability */
    const char *root;     /* the DID that must be at the root of the chain (the node) */
    /* resolves a 0.9/0.10 proof CID to its JWT text (NULL: none) */
    const char *(*resolve)(void *data, const ipvm_cid_t *cid);
    void *resolve_data;
} ipvm_jwt_validate_opts_t;

/* Validates a JWT and its proofs and checks they grant (with, can) from root: signatures, time
 * (exp <= now is expired, as in @ucans/core, with skew), each proof's aud is its child's iss,
 * versions do not decrease, capabilities equal or "*" abilities, "prf:*" / "prf:N". */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_jwt_validate(const ipvm_jwt_t *t,
                                                  const ipvm_jwt_validate_opts_t *o,
                                                  ipvm_error_t *err);

/* ----------------------------------------------------------------- signed receipts ---- */
/* A receipt keeps Homestar's shape {ran, out, meta, iss, prf} and CID (so that with iss null
 * the CID is exactly Homestar's). When the node signs, iss is its DID (part of the CID) and the
 * signature lives beside the receipt (the store's signature column, gossip payloads) as an
 * envelope in the UCAN 1.0 style, self-describing like a UCAN:
 *   [signature, {"h": varsig (Ed25519, DAG-CBOR), "ipvm/rct@0.1.0": {"iss": DID, "rct": &Receipt}}]
 * The signature covers the DAG-CBOR of the second element: the receipt's CID and the issuer.
 * (Not a ucan/ tag: that namespace is reserved; the ucan-wg receipt spec is not final.) */
#define IPVM_RECEIPT_SIG_TAG "ipvm/rct@0.1.0"

/* Appends the signature envelope of the receipt whose CID is `receipt` to out. The receipt's
 * iss must be signer->did (the caller made it so). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_receipt_sign(const ipvm_signer_t *signer,
                                                  const ipvm_cid_t *receipt, ipvm_buf_t *out);
/* Checks a signature envelope against a receipt: the envelope names this CID and this issuer,
 * and the issuer's key signed it. IPVM_ESIGNATURE (or IPVM_EUCAN for a malformed envelope)
 * with the reason. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_receipt_verify_signature(const ipvm_cid_t *receipt,
                                                              const char *iss,
                                                              const uint8_t *sig, size_t len,
                                                              ipvm_error_t *err);

typedef enum {
    IPVM_RECEIPT_SIGNED = 0,     /* iss set and its signature verifies */
    IPVM_RECEIPT_UNSIGNED = 1,   /* iss null, no signature: Homestar's receipts (open mode) */
    IPVM_RECEIPT_BAD = 2,        /* a signature that fails, or an iss without signature */
} ipvm_receipt_trust_t;

/* Classifies a receipt (its 5-key DAG-CBOR in cbor, which must hash to its CID) and its
 * optional signature. 0 with *verdict, or an error for bytes that are not a receipt. err
 * explains a BAD verdict. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_receipt_check(const uint8_t *cbor, size_t cbor_len,
                                                   const uint8_t *sig, size_t sig_len,
                                                   ipvm_receipt_trust_t *verdict,
                                                   ipvm_error_t *err);

/* ------------------------------------------------------------ the node's trust layer ---- */
typedef enum {
    IPVM_TRUST_OPEN = 0, /* anyone may run anything (Homestar) */
    IPVM_TRUST_UCAN = 1, /* every task needs a UCAN proving /wasm/run on its module */
} ipvm_trust_mode_t;

typedef struct ipvm_trust_opts_s {
    ipvm_trust_mode_t mode;
    bool sign_receipts;        /* iss = node DID and a signature on every receipt made here */
    bool require_signed;       /* refuse receipts from elsewhere that are not signed */
    const char *ucan_dir;      /* the node's UCAN store (delegations, revocations); NULL: memory */
    const char *evidence_dir;  /* where redundancy evidence is kept; NULL: not kept */
    int64_t skew_s;            /* clock skew allowed (-1: IPVM_UCAN_SKEW_S) */
    unsigned max_k;            /* largest k a task may ask for (0: 5) */
    unsigned redundancy;       /* k for every task executed here (0, 1: what meta asks) */
} ipvm_trust_opts_t;

typedef struct ipvm_trust_s ipvm_trust_t;

/* The [trust] section of the node's configuration (registered by the daemon's trust service):
 * mode = open|ucan, sign_receipts and require_signed = yes|no|auto (auto: yes in ucan mode),
 * clock_skew (60s), max_redundancy (5), redundancy (1), verifiers, ask_connected, answer_verify,
 * verify_workers, test_lie (the last five are read by the daemon for ipvm_trust_net_new). */
IPVM_EXTERN extern const ipvm_conf_key_t ipvm_trust_conf_keys[];
/* Options from a configuration that declares [trust] (the directories are left NULL). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_trust_opts_from_config(const ipvm_config_t *c,
                                                            ipvm_trust_opts_t *o,
                                                            ipvm_error_t *err);


/* The node's trust layer over its signer (borrowed: must outlive it). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_trust_new(const ipvm_trust_opts_t *opts,
                                               const ipvm_signer_t *node, ipvm_trust_t **out,
                                               ipvm_error_t *err);
IPVM_EXTERN void ipvm_trust_free(ipvm_trust_t *t);
/* The node's UCAN store (borrowed). */
IPVM_EXTERN ipvm_ucan_store_t *ipvm_trust_store(ipvm_trust_t *t);
/* The node's DID. */
IPVM_EXTERN const char *ipvm_trust_did(const ipvm_trust_t *t);
IPVM_EXTERN ipvm_trust_mode_t ipvm_trust_mode(const ipvm_trust_t *t);

/* Fills the scheduler's trust hooks (sched.h) with this layer's authorize, sign, verify and
 * confirm, and issuer (the node's DID when signing, else NULL: iss stays null as Homestar's). */
IPVM_EXTERN void ipvm_trust_sched_hooks(ipvm_trust_t *t, ipvm_sched_trust_hooks_t *out);

/* What a submission carries to prove it may run (the run's opts.auth): the tokens given with
 * it. Binding of an invocation to a task (docs/trust.md):
 *  - args equal to the task's instruction (the `run` map {rsc, op, input, nnc}), or
 *  - args {"workflow": &Workflow} naming the submitted workflow: it invokes every task of it.
 * Either way the invocation has cmd /wasm/run, is addressed to this node (aud, or sub when no
 * aud), its proof chain is rooted at this node, and every policy of the chain holds on the
 * task's instruction (so policies see rsc and the Link arguments: the resources it fetches).
 * A task whose own `prf` lists CIDs must be proven by exactly that chain. UCAN 0.8-0.10 JWTs
 * addressed to the node and granting (rsc, "wasm/run") from the node are accepted too. */
typedef struct ipvm_trust_auth_s ipvm_trust_auth_t;

/* Reads the tokens of a bundle (ipvm_ucan_read_tokens forms; delegations are added to a store
 * of the submission's own, consulted after the node's). The workflow CID is kept for the
 * {"workflow"} binding. IPVM_EUCAN and friends for tokens that do not parse or verify. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_trust_auth_new(ipvm_trust_t *t, const uint8_t *bundle,
                                                    size_t len, ipvm_trust_auth_t **out,
                                                    ipvm_error_t *err);
IPVM_EXTERN void ipvm_trust_auth_free(ipvm_trust_auth_t *a);
/* Checks one task (what the authorize hook does). 0, or IPVM_EDENIED / IPVM_EEXPIRED /
 * IPVM_EREVOKED… with err naming the task, the capability missing and the failing link. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_trust_authorize(ipvm_trust_t *t, const ipvm_trust_auth_t *a,
                                                     const ipvm_workflow_t *wf,
                                                     const ipvm_task_t *task, ipvm_error_t *err);

/* Makes, for each task of wf, an invocation of /wasm/run by `invoker` on this node with args =
 * the task's instruction, proven by the delegations in `proofs` (ordered into a chain), and
 * appends the bundle (invocations then proofs, base64 lines) to out: what `ipvm run --ucan`
 * sends. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_trust_bundle_for(const ipvm_signer_t *invoker,
                                                      const char *node_did,
                                                      const ipvm_workflow_t *wf,
                                                      const uint8_t *proofs, size_t len,
                                                      int64_t ttl_s, ipvm_buf_t *out,
                                                      ipvm_error_t *err);

/* ---------------------------------------------------------------------- redundancy ---- */
/* A task's meta may ask for k independent results: {"redundancy": k} (1 <= k <= max_k). After
 * this node executed it, the confirm hook asks peers for receipts of the same instruction until
 * it has k from distinct issuers (itself counted), verifies each (signature, `ran`, the
 * instruction), compares their `out`, writes the evidence, and fails the task with
 * IPVM_ECONFLICT naming the issuers when outputs differ (IPVM_ENORESOURCE when too few peers
 * answered). */
typedef struct ipvm_trust_peer_result_s {
    const uint8_t *receipt; /* DAG-CBOR of the 5-key receipt, in the arena given */
    size_t receipt_len;
    const uint8_t *signature; /* its signature envelope */
    size_t signature_len;
    char source[96];          /* "peer:12D3KooW…", "node:ws://127.0.0.1:…" */
} ipvm_trust_peer_result_t;

/* Runs (or finds) the task elsewhere and returns that node's signed receipt. Called on a
 * scheduler worker thread; may block up to timeout_ms. */
typedef int (*ipvm_trust_peer_fn)(void *data, const ipvm_task_t *task, int timeout_ms,
                                  ipvm_arena_t *arena, ipvm_trust_peer_result_t *out,
                                  ipvm_error_t *err);

/* Adds a peer the confirm hook may ask (asked in order). Call before runs. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_trust_add_peer(ipvm_trust_t *t, const char *name,
                                                    ipvm_trust_peer_fn fn, void *data);
/* The k asked for by a task's meta (1 when absent). */
IPVM_EXTERN unsigned ipvm_trust_task_k(const ipvm_task_t *task);
/* The evidence recorded for an instruction (<evidence_dir>/<instruction CID>.cbor): DAG-CBOR of
 * {"instruction": &, "k": n, "verdict": "agree"|"conflict"|"insufficient", "at": ms,
 *  "results": [{"iss": DID, "receipt": &, "out": &, "source": text}]}, where out is the CID
 * (DAG-CBOR, sha3-256) of each receipt's out. IPVM_ENOENT when none. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_trust_evidence_get(const char *evidence_dir,
                                                        const ipvm_cid_t *instruction,
                                                        ipvm_buf_t *out, ipvm_error_t *err);

/* ------------------------------------------------------------ redundancy over libp2p ---- */
/* The /ipvm/verify/1.0.0 request/response protocol (p2p.h "request/response"): the asker
 * sends DAG-CBOR {"task": <the task map {cause, meta, prf, run}>} (plus "ucan": "<tokens>"
 * when it has an invocation for the asked node); the asked node runs that task itself, through
 * its scheduler, with its own limits and trust mode (ucan mode refuses a request without an
 * invocation it accepts), never reusing another issuer's receipt for it, and answers
 * {"receipt": <5-key receipt DAG-CBOR bytes>, "signature": <its envelope bytes>} or
 * {"error": {"code": "IPVM_E…", "message": text}}. The asker's confirm hook checks the
 * receipt as for any peer (signature, ran, a new issuer) and compares outputs. Each peer's
 * answer is an independent computation signed by its own node key: receipts that came by
 * gossip or the DHT are not used as votes, since a node could merely relay one. */
#define IPVM_TRUST_VERIFY_PROTOCOL "/ipvm/verify/1.0.0"

struct ipvm_p2p_host_s;
typedef struct ipvm_trust_net_s ipvm_trust_net_t;

typedef struct ipvm_trust_net_opts_s {
    ipvm_sched_t *sched;     /* runs the requests this node answers; NULL: it answers none */
    const char *verifiers;   /* comma-separated /ip4/…/tcp/…/p2p/… asked first, in order */
    bool ask_connected;      /* then connected peers that speak the protocol */
    unsigned workers;        /* requests answered at once (0: 2); more wait, 16 at most */
    uint32_t answer_timeout_ms; /* longest run for a request (0: 60 s) */
    bool lie;                /* TESTS ONLY: answer with a forged output, signed by this node */
} ipvm_trust_net_opts_t;

/* Serves the protocol on h and adds the network peers to t's confirm hook (loop thread, h
 * started). Errors: IPVM_EINVAL naming a bad verifier address. t, h and sched must outlive it. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_trust_net_new(ipvm_trust_t *t, struct ipvm_p2p_host_s *h,
                                                   const ipvm_trust_net_opts_t *opts,
                                                   ipvm_trust_net_t **out, ipvm_error_t *err);
/* Stops serving (loop thread), waits for the runs it answers to end and frees. Call before the
 * host stops and while no workflow runs (the confirm hook may be using it). NULL: no-op. */
IPVM_EXTERN void ipvm_trust_net_free(ipvm_trust_net_t *n);
/* Requests answered and refused so far (any thread). */
IPVM_EXTERN void ipvm_trust_net_counts(ipvm_trust_net_t *n, uint64_t *answered,
                                       uint64_t *refused);

#ifdef __cplusplus
}
#endif
#endif /* IPVM_TRUST_H */
