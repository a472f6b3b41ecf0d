/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: UCAN 1.0 envelopes from outside (ipvm_ucan_decode, signature check, policy
 * evaluation on the token's own args or an empty map, DAG-JSON rendering). Properties: no
 * crash; a decoded token's CID hashes its bytes and its signed bytes are the tail of them. */
#include "fuzz.h"

#include <string.h>

IPVM_FUZZ_TARGET(ucan)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ucan_t *u = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_ucan_decode(data, size, &a, &u, &err) == 0) {
        ipvm_cid_t cid;
        IPVM_FUZZ_CHECK(ipvm_cid_create(&cid, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA2_256, data,
                                        size) == 0);
        IPVM_FUZZ_CHECK(ipvm_cid_equal(&cid, &u->cid));
        IPVM_FUZZ_CHECK(u->signed_bytes + u->signed_len == u->bytes + u->len);
        IPVM_FUZZ_CHECK(memcmp(u->bytes, data, size) == 0);
        ipvm_error_clear(&err);
        if (ipvm_ucan_verify_signature(u, &err) != 0)
            IPVM_FUZZ_CHECK(err.msg[0] != '\0');
        ipvm_error_clear(&err);
        if (ipvm_ucan_check_time(u, 1700000000, 60, &err) != 0)
            IPVM_FUZZ_CHECK(err.code == IPVM_EEXPIRED || err.code == IPVM_ENOTYET);
        ipvm_buf_t b = IPVM_BUF_INIT;
        IPVM_FUZZ_CHECK(ipvm_ucan_payload_json(u, IPVM_JSON_PRETTY, &b, &err) == 0);
        ipvm_buf_dispose(&b);
        const ipvm_ipld_t *args = u->args ? u->args : ipvm_ipld_new_map(&a, 0);
        bool ok;
        if (u->pol && args) /* a decoded policy is well-formed: evaluation cannot fail */
            IPVM_FUZZ_CHECK(ipvm_policy_eval(u->pol, args, &ok, NULL, &err) == 0);
    } else {
        IPVM_FUZZ_CHECK(err.code != 0 && err.msg[0] != '\0');
    }
    ipvm_arena_dispose(&a);
    return 0;
}
