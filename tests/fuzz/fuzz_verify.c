/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the two messages of /ipvm/verify/1.0.0 from a peer (trust/net.c), the request a
 * verifier reads and the answer the asking node reads; the first byte picks which. Properties:
 * no crash, no leak; a request read is a workflow of exactly one task whose tokens, when
 * present, lie in the arena; an answer read has its receipt and signature; a refusal always
 * says why. */
#include "fuzz.h"

#include "trust/trust_int.h"

#include <string.h>

IPVM_FUZZ_TARGET(verify)
{
    if (size == 0)
        return 0;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc;
    if (data[0] & 1) {
        ipvm_trust_peer_result_t out;
        memset(&out, 0, sizeof out);
        rc = ipvm__verify_answer_decode(data + 1, size - 1, &a, &out, &err);
        if (rc == 0)
            IPVM_FUZZ_CHECK(out.receipt != NULL && out.signature != NULL);
    } else {
        ipvm_workflow_t *wf = NULL;
        const char *ucan = NULL;
        size_t ucan_len = 0;
        rc = ipvm__verify_request_decode(data + 1, size - 1, &a, &wf, &ucan, &ucan_len, &err);
        if (rc == 0) {
            IPVM_FUZZ_CHECK(wf != NULL && wf->ntasks == 1);
            IPVM_FUZZ_CHECK(ucan != NULL || ucan_len == 0);
        }
    }
    if (rc != 0)
        IPVM_FUZZ_CHECK(err.code != 0 && err.msg[0] != '\0');
    ipvm_arena_dispose(&a);
    return 0;
}
