/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: receipts over the wire (src/p2p/receipts_codec.c): the gossip message on the
 * "receipts" topic, the DHT receipt capsule and workflow capsule a peer stores with us, and the
 * DHT validator over both. Input: byte 0 picks the decoder, byte 1 is the record key's length,
 * then the key (a CID's bytes), then the value. Properties: no crash, no leak; a failure has a
 * message (the validator's has a reason); a decoded receipt's CID is the CID of its 5-key
 * DAG-CBOR, and encoding it again decodes to the same receipt, instruction and signature; the
 * validator accepts exactly what one of the two capsule decoders accepts. The seeds are
 * p2p_rc_*_encode output for a small receipt, with and without a signature. */
#include "fuzz.h"

#include "p2p/receipts.h"

static void same_wire(const rc_wire_t *a, const rc_wire_t *b)
{
    IPVM_FUZZ_CHECK(ipvm_cid_equal(&a->receipt.cid, &b->receipt.cid));
    IPVM_FUZZ_CHECK(ipvm_cid_equal(&a->instruction, &b->instruction));
    IPVM_FUZZ_CHECK(a->signature_len == b->signature_len);
    IPVM_FUZZ_CHECK(a->signature_len == 0 ||
                    memcmp(a->signature, b->signature, a->signature_len) == 0);
}

/* The receipt's CID is the CID of its DAG-CBOR, recomputed here, not taken from the decoder. */
static void cid_is_contents(const ipvm_receipt_t *r)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_cid_t c;
    IPVM_FUZZ_CHECK(ipvm_receipt_encode(r, &b, NULL) == 0);
    IPVM_FUZZ_CHECK(ipvm_cid_create(&c, r->cid.version, r->cid.codec, r->cid.hash, b.data,
                                    b.len) == 0);
    IPVM_FUZZ_CHECK(ipvm_cid_equal(&c, &r->cid));
    ipvm_buf_dispose(&b);
}

static void gossip(const uint8_t *v, size_t n, ipvm_arena_t *a)
{
    rc_wire_t w, back;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (p2p_rc_gossip_decode(v, n, a, &w, &err) != 0) {
        IPVM_FUZZ_CHECK(err.code < 0 && err.msg[0] != '\0');
        return;
    }
    cid_is_contents(&w.receipt);
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_FUZZ_CHECK(p2p_rc_gossip_encode(&w.receipt, &w.instruction, w.signature,
                                         w.signature_len, a, &b) == 0);
    IPVM_FUZZ_CHECK(p2p_rc_gossip_decode(b.data, b.len, a, &back, NULL) == 0);
    same_wire(&w, &back);
    ipvm_buf_dispose(&b);
}

static void capsules(const uint8_t *k, size_t kn, const uint8_t *v, size_t n, ipvm_arena_t *a)
{
    rc_wire_t w, back;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = p2p_rc_capsule_decode(k, kn, v, n, a, &w, &err);
    IPVM_FUZZ_CHECK(rc == 0 || (err.code < 0 && err.msg[0] != '\0'));
    if (rc == 0) {
        cid_is_contents(&w.receipt);
        ipvm_buf_t b = IPVM_BUF_INIT;
        IPVM_FUZZ_CHECK(p2p_rc_capsule_encode(&w.receipt, w.signature, w.signature_len, a, &b) ==
                        0);
        IPVM_FUZZ_CHECK(p2p_rc_capsule_decode(k, kn, b.data, b.len, a, &back, NULL) == 0);
        same_wire(&w, &back);
        ipvm_buf_dispose(&b);
    }
    ipvm_error_clear(&err);
    int wrc = p2p_rc_workflow_check(k, kn, v, n, a, &err);
    IPVM_FUZZ_CHECK(wrc == 0 || (err.code < 0 && err.msg[0] != '\0'));
    const char *why = NULL;
    int vrc = p2p_rc_validate(k, kn, v, n, &why, NULL);
    IPVM_FUZZ_CHECK((vrc == 0) == (rc == 0 || wrc == 0));
    IPVM_FUZZ_CHECK(vrc == 0 || (why != NULL && why[0] != '\0'));
}

IPVM_FUZZ_TARGET(p2p_receipts)
{
    if (size < 2)
        return 0;
    size_t kn = data[1] < size - 2 ? data[1] : size - 2;
    const uint8_t *k = data + 2, *v = data + 2 + kn;
    size_t n = size - 2 - kn;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    if (data[0] & 1)
        capsules(k, kn, v, n, &a);
    else
        gossip(data + 2, size - 2, &a); /* no key: the whole rest is the message */
    ipvm_arena_dispose(&a);
    return 0;
}
