/* SPDX-License-Identifier: Apache-2.0 */
/* receipts.h: the receipt layer's internals: Homestar's wire shapes (gossip message, DHT receipt
 * and workflow capsules) in receipts_codec.c, the cache and the scheduler hooks in receipts.c. */
#ifndef IPVM_P2P_RECEIPTS_H
#define IPVM_P2P_RECEIPTS_H

#include "host.h"
#include "map.h"

#include "ipvm/ipld.h"
#include "ipvm/sched.h"
#include "ipvm/store.h"
#include "ipvm/workflow.h"

#define RC_TOPIC "receipts"
#define RC_NONCE_LEN 12

/* A receipt as it travels: the 5-key receipt, its instruction, an optional signature. */
typedef struct rc_wire_s {
    ipvm_receipt_t receipt;  /* cid computed from the contents; points into the arena */
    ipvm_cid_t instruction;
    const uint8_t *signature; /* or NULL */
    size_t signature_len;
} rc_wire_t;

/* Decodes a gossip message {"header": {"nonce"}, "payload": {cid, ran, instruction, out, meta,
 * iss, prf, version}}: the claimed cid must be the CID of the 5 fields. IPVM_ERECEIPT with a
 * reason in err. */
IPVM_MUST_CHECK int p2p_rc_gossip_decode(const uint8_t *p, size_t n, ipvm_arena_t *a,
                                         rc_wire_t *out, ipvm_error_t *err);
IPVM_MUST_CHECK int p2p_rc_gossip_encode(const ipvm_receipt_t *r, const ipvm_cid_t *instruction,
                                         const uint8_t *sig, size_t sig_len, ipvm_arena_t *a,
                                         ipvm_buf_t *out);
/* The DHT receipt capsule under key = instruction CID bytes. */
IPVM_MUST_CHECK int p2p_rc_capsule_decode(const uint8_t *key, size_t klen, const uint8_t *p,
                                          size_t n, ipvm_arena_t *a, rc_wire_t *out,
                                          ipvm_error_t *err);
IPVM_MUST_CHECK int p2p_rc_capsule_encode(const ipvm_receipt_t *r, const uint8_t *sig,
                                          size_t sig_len, ipvm_arena_t *a, ipvm_buf_t *out);
/* The DHT workflow capsule (checked: cid equals the key, the shape of each field). */
IPVM_MUST_CHECK int p2p_rc_workflow_check(const uint8_t *key, size_t klen, const uint8_t *p,
                                          size_t n, ipvm_arena_t *a, ipvm_error_t *err);
typedef struct rc_wfinfo_s {
    ipvm_cid_t cid;
    const char *name;          /* or NULL */
    int64_t num_tasks;
    const ipvm_cid_t *progress; /* receipt CIDs */
    size_t nprogress;
    const uint8_t *resources;  /* DAG-CBOR map, or NULL for {} */
    size_t resources_len;
} rc_wfinfo_t;
IPVM_MUST_CHECK int p2p_rc_workflow_encode(const rc_wfinfo_t *w, ipvm_arena_t *a,
                                           ipvm_buf_t *out);
/* The DHT validator for ipvm's records: receipt capsules under instruction CIDs and workflow
 * capsules under workflow CIDs; anything else is refused. */
int p2p_rc_validate(const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                    const char **why, void *data);

#endif
