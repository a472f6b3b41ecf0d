/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: UCAN 0.x JWTs from outside (ipvm_jwt_decode, signature check, chain validation
 * with embedded proofs). Properties: no crash; a decoded token's signed part ends at its
 * second '.'; failures say why. */
#include "fuzz.h"

#include <string.h>

IPVM_FUZZ_TARGET(jwt)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_jwt_t *t = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_jwt_decode((const char *)data, size, &a, &t, &err) == 0) {
        IPVM_FUZZ_CHECK(t->signed_len < t->len && t->token[t->signed_len] == '.');
        IPVM_FUZZ_CHECK(t->iss != NULL && t->aud != NULL);
        ipvm_jwt_validate_opts_t o = {1700000000, 60, NULL, "ipfs://x", "wasm/run", t->aud,
                                      NULL, NULL};
        ipvm_error_clear(&err);
        if (ipvm_jwt_validate(t, &o, &err) != 0)
            IPVM_FUZZ_CHECK(err.msg[0] != '\0');
    } else {
        IPVM_FUZZ_CHECK(err.code != 0 && err.msg[0] != '\0');
    }
    ipvm_arena_dispose(&a);
    return 0;
}
