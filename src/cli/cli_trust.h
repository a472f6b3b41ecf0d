/* SPDX-License-Identifier: Apache-2.0 */
/* The trust side of CLI commands run in-process: `ipvm run --ucan/--key/--sign` (the node's
 * trust layer around the embedded scheduler) and `ipvm receipt --verify`. */
#ifndef IPVM_CLI_TRUST_H
#define IPVM_CLI_TRUST_H

#include "cli.h"

typedef struct ipvm_cli_trust_s {
    ipvm_p2p_identity_t *id; /* this data dir's node identity */
    ipvm_signer_t node;
    ipvm_trust_t *trust;
    ipvm_trust_auth_t *auth; /* the run's UCANs, or NULL */
} ipvm_cli_trust_t;

/* Installs the trust layer on s, before the workflow is parsed: ucan mode when ucan_file is set
 * (each task must be authorized by its tokens), receipts signed by the node when `sign` or in
 * ucan mode. Prints why and returns an exit status on failure. */
int ipvm_cli_trust_open(ipvm_cli_t *cli, ipvm_sched_t *s, const char *ucan_file, bool sign,
                        ipvm_cli_trust_t *t);
/* Reads the run's tokens: a bundle from ucan_file, or (with key) delegations from it, from which
 * an invocation per task of wf is signed with that key. */
int ipvm_cli_trust_auth(ipvm_cli_t *cli, ipvm_cli_trust_t *t, const char *ucan_file,
                        const char *key, const ipvm_workflow_t *wf);
void ipvm_cli_trust_close(ipvm_cli_trust_t *t);
/* For `ipvm run --node URL --ucan FILE [--key NAME]`: the bundle to send as params.ucan: FILE
 * as is, or (with key) an invocation per task signed for the node at URL (its DID is read from
 * its `node` method) with the delegations of FILE. Appends to out; 0 or an exit status. */
int ipvm_cli_trust_remote_bundle(ipvm_cli_t *cli, const char *url, const char *workflow_file,
                                 const char *ucan_file, const char *key, ipvm_buf_t *out);

/* `ipvm receipt --verify`: the signature verdict and any redundancy evidence of a stored
 * receipt (receipt is its 5-key map). Human lines on stdout, or with json a member
 * "verify":{...} appended to json_member. *bad is set when the signature fails. */
int ipvm_cli_trust_verify_receipt(ipvm_cli_t *cli, const ipvm_receipt_row_t *row,
                                  const ipvm_ipld_t *receipt, ipvm_buf_t *json_member, bool *bad);

#endif
