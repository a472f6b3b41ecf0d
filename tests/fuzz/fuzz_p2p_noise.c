/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: Noise XX messages from a peer (as responder: message 1 then 3; as initiator:
 * message 2), cut at 2-byte length prefixes as the connection does, and transport frames under
 * a fixed key. Properties: no crash; failures are IPVM_EHANDSHAKE / IPVM_EPROTO. */
#include "fuzz.h"

#include "p2p/p2p_int.h"

static ipvm_p2p_identity_t *id;
static uint8_t s_sk[32], s_pk[32];
static ipvm_buf_t payload;

static void setup(void)
{
    if (id)
        return;
    uint8_t seed[32] = {1};
    if (ipvm_p2p_identity_from_seed(seed, &id) != 0)
        abort();
    ipvm__noise_keypair(s_sk, s_pk);
    if (ipvm__noise_payload_build(id, s_pk, true, &payload) != 0)
        abort();
}

IPVM_FUZZ_TARGET(p2p_noise)
{
    setup();
    for (int role = 0; role < 2; role++) {
        ipvm__noise_hs_t hs;
        ipvm_buf_t out = IPVM_BUF_INIT;
        ipvm__noise_hs_init(&hs, role == 1, s_sk, s_pk, payload.data, payload.len);
        if (role == 1 && ipvm__noise_hs_write(&hs, &out, NULL) != 0)
            abort();
        size_t off = 0;
        int rc = 0;
        while (rc == 0 && off + 2 <= size && hs.step < 3) {
            size_t n = ipvm__be16_get(data + off);
            if (off + 2 + n > size)
                break;
            rc = ipvm__noise_hs_read(&hs, data + off + 2, n, NULL);
            IPVM_FUZZ_CHECK(rc == 0 || rc == IPVM_EHANDSHAKE);
            off += 2 + n;
            if (rc == 0 && (hs.step == 1 || hs.step == 2) && hs.step < 3)
                rc = ipvm__noise_hs_write(&hs, &out, NULL);
            IPVM_FUZZ_CHECK(rc == 0 || rc == IPVM_EHANDSHAKE);
        }
        ipvm__noise_hs_dispose(&hs);
        ipvm_buf_dispose(&out);
    }
    ipvm__noise_cs_t cs = {.has_k = true};
    uint8_t plain[IPVM__NOISE_MAX_MSG];
    for (size_t off = 0; off + 2 <= size;) {
        size_t n = ipvm__be16_get(data + off), pl = 0;
        if (off + 2 + n > size)
            break;
        int rc = ipvm__noise_decrypt(&cs, data + off + 2, n, plain, &pl, NULL);
        IPVM_FUZZ_CHECK(rc == 0 || rc == IPVM_EPROTO);
        IPVM_FUZZ_CHECK(rc != 0 || pl + 16 == n);
        off += 2 + n;
    }
    return 0;
}
