/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: user key files read from disk or pasted by a user (src/trust/keyfile.c): the
 * PKCS#8 Ed25519 PEM form and the multikey text form. Properties: no crash, no leak; a failure
 * has a message; a key read back from its own PEM and multikey is the same key (public half
 * and did). The seeds are ipvm_key_to_pem / ipvm_key_to_multikey output for fixed seeds. */
#include "fuzz.h"

#include <string.h>

static void same_key(const ipvm_key_t *a, const ipvm_key_t *b)
{
    IPVM_FUZZ_CHECK(memcmp(a->pub, b->pub, sizeof a->pub) == 0);
    IPVM_FUZZ_CHECK(strcmp(a->did, b->did) == 0);
}

static void round_trip(const ipvm_key_t *k)
{
    ipvm_key_t back;
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_FUZZ_CHECK(ipvm_key_to_pem(k, &b) == 0);
    IPVM_FUZZ_CHECK(ipvm_key_from_pem((const char *)b.data, b.len, &back, NULL) == 0);
    same_key(k, &back);
    ipvm_key_wipe(&back);
    ipvm_buf_clear(&b);
    IPVM_FUZZ_CHECK(ipvm_key_to_multikey(k, &b) == 0);
    IPVM_FUZZ_CHECK(ipvm_key_from_multikey((const char *)b.data, b.len, &back, NULL) == 0);
    same_key(k, &back);
    ipvm_key_wipe(&back);
    ipvm_buf_dispose(&b);
}

IPVM_FUZZ_TARGET(keyfile)
{
    ipvm_key_t k;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_key_from_pem((const char *)data, size, &k, &err) == 0) {
        round_trip(&k);
        ipvm_key_wipe(&k);
    } else {
        IPVM_FUZZ_CHECK(err.code < 0 && err.msg[0] != '\0');
    }
    ipvm_error_clear(&err);
    if (ipvm_key_from_multikey((const char *)data, size, &k, &err) == 0) {
        round_trip(&k);
        ipvm_key_wipe(&k);
    } else {
        IPVM_FUZZ_CHECK(err.code < 0 && err.msg[0] != '\0');
    }
    return 0;
}
