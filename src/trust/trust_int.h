/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the files of src/trust/. */
#ifndef IPVM_TRUST_INT_H
#define IPVM_TRUST_INT_H

#include "ipvm/trust.h"

/* Writes a secret file: mode 0600, created exclusively (IPVM_EEXIST if the path exists), fsync'd,
 * and the directory fsync'd. */
int ipvm__trust_write_secret(const char *path, const void *data, size_t len, ipvm_error_t *err);
/* Reads a secret file, refusing one that is not a regular file or that others may read. */
int ipvm__trust_read_secret(const char *path, ipvm_buf_t *out, ipvm_error_t *err);

#include <pthread.h>

#define IPVM__TRUST_MAX_PEERS 16

typedef struct {
    char *name;
    ipvm_trust_peer_fn fn;
    void *data;
} ipvm__trust_peer_t;

struct ipvm_trust_s {
    ipvm_trust_opts_t o;       /* ucan_dir/evidence_dir pointers not kept: see below */
    ipvm_signer_t node;        /* the node's signer (its key borrowed) */
    int64_t skew;
    unsigned max_k;
    char *evidence_dir;        /* owned copy, or NULL */
    ipvm_ucan_store_t *store;  /* the node's delegations and revocations */
    ipvm__trust_peer_t peers[IPVM__TRUST_MAX_PEERS];
    size_t npeers;
    pthread_mutex_t mu;        /* evidence writes, answering */
    ipvm_cid_t answering[32];  /* invocations run for a peer's verify request (net.c) */
    size_t nanswering;
};

/* The scheduler's confirm hook (redundancy.c). */
int ipvm__trust_confirm(void *data, const ipvm_task_t *task, const ipvm_sched_receipt_t *r,
                        int timeout_ms, ipvm_error_t *err);

/* Marks an invocation as run for another node's verify request: its confirm hook asks nobody
 * (no recursion) and the verify hook refuses other issuers' receipts for it (the answer must be
 * computed here). begin returns IPVM_ENORESOURCE when 32 are in progress. */
int ipvm__trust_answering_begin(ipvm_trust_t *t, const ipvm_cid_t *invocation);
void ipvm__trust_answering_end(ipvm_trust_t *t, const ipvm_cid_t *invocation);
bool ipvm__trust_answering(ipvm_trust_t *t, const ipvm_cid_t *invocation);
/* Removes the peers added with this function (net.c, when it is freed). */
void ipvm__trust_drop_peers(ipvm_trust_t *t, ipvm_trust_peer_fn fn);

/* The two messages of /ipvm/verify/1.0.0 (net.c), from outside bytes. A request
 * {"task": {cause, meta, prf, run}, "ucan"?: string} becomes a one-task workflow (its awaits
 * may name tasks outside it) and the tokens, pointing into arena (NULL when absent). An answer
 * {"receipt": bytes, "signature": bytes} fills out's receipt and signature (in arena);
 * {"error": {code, message}} is the peer's refusal (IPVM_EPEER with its message), as is
 * anything else. */
int ipvm__verify_request_decode(const uint8_t *p, size_t len, ipvm_arena_t *a,
                                ipvm_workflow_t **wf, const char **ucan, size_t *ucan_len,
                                ipvm_error_t *err);
int ipvm__verify_answer_decode(const uint8_t *resp, size_t len, ipvm_arena_t *arena,
                               ipvm_trust_peer_result_t *out, ipvm_error_t *err);

#endif
