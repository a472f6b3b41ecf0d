/* SPDX-License-Identifier: Apache-2.0 */
/* Signed receipts: the signature envelope beside a Homestar-shaped receipt,
 *   [sig, {"h": varsig, "ipvm/rct@0.1.0": {"iss": DID, "rct": &Receipt}}]
 * (the UCAN 1.0 envelope form; see trust.h and docs/trust.md), and the verdict on a receipt
 * and its signature. */
#include "trust_int.h"

#include <string.h>

static int build_sigpayload(const ipvm_cid_t *receipt, const char *iss, ipvm_arena_t *a,
                            ipvm_buf_t *out, ipvm_error_t *err)
{
    ipvm_ipld_t *inner = ipvm_ipld_new_map(a, 2), *sp = ipvm_ipld_new_map(a, 2);
    ipvm_ipld_t *h = ipvm_ipld_new_bytes(a, (const uint8_t *)IPVM_VARSIG_ED25519_DAGCBOR,
                                         IPVM_VARSIG_ED25519_DAGCBOR_LEN);
    ipvm_ipld_t *did = ipvm_ipld_new_cstring(a, iss), *link = ipvm_ipld_new_link(a, receipt);
    if (!inner || !sp || !h || !did || !link || ipvm_ipld_map_set_cstr(a, inner, "iss", did) ||
        ipvm_ipld_map_set_cstr(a, inner, "rct", link) || ipvm_ipld_map_set_cstr(a, sp, "h", h) ||
        ipvm_ipld_map_set_cstr(a, sp, IPVM_RECEIPT_SIG_TAG, inner))
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    return ipvm_dagcbor_encode(sp, out, err);
}

int ipvm_receipt_sign(const ipvm_signer_t *signer, const ipvm_cid_t *receipt, ipvm_buf_t *out)
{
    IPVM_MISUSE_IF(signer == NULL || receipt == NULL || out == NULL);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    size_t start = out->len;
    static const uint8_t head[3] = {0x82, 0x58, 0x40}; /* [ bytes(64) */
    uint8_t sig[IPVM_ED25519_SIG] = {0};
    int rc = ipvm_buf_append(out, head, sizeof head);
    if (rc == 0)
        rc = ipvm_buf_append(out, sig, sizeof sig);
    if (rc == 0)
        rc = build_sigpayload(receipt, signer->did, &a, out, NULL);
    if (rc == 0) {
        size_t off = start + sizeof head + sizeof sig;
        ipvm_signer_sign(signer, out->data + off, out->len - off, sig);
        memcpy(out->data + start + sizeof head, sig, sizeof sig);
    } else {
        out->len = start;
    }
    ipvm_arena_dispose(&a);
    return rc;
}

int ipvm_receipt_verify_signature(const ipvm_cid_t *receipt, const char *iss, const uint8_t *sig,
                                  size_t len, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(receipt == NULL || iss == NULL);
    if (sig == NULL || len < 67 || len > 4096 || sig[0] != 0x82 || sig[1] != 0x58 ||
        sig[2] != 0x40)
        return ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET,
                              "the receipt signature is not a [bytes(64), payload] envelope");
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_buf_t want = IPVM_BUF_INIT;
    uint8_t pub[IPVM_ED25519_PUBLIC];
    int rc = build_sigpayload(receipt, iss, &a, &want, err);
    if (rc == 0 && (want.len != len - 67 || memcmp(want.data, sig + 67, want.len) != 0))
        /* canonical DAG-CBOR: a payload for this CID and issuer has exactly these bytes */
        rc = ipvm_error_set(err, IPVM_ESIGNATURE, IPVM_NO_OFFSET,
                            "the signature envelope is not for this receipt and issuer %.60s",
                            iss);
    if (rc == 0 && (rc = ipvm_did_to_ed25519(iss, strlen(iss), pub, err)) != 0)
        ipvm_error_prefix(err, "receipt issuer: ");
    if (rc == 0 && ipvm_ed25519_verify(pub, sig + 67, len - 67, sig + 3, 64) != 0)
        rc = ipvm_error_set(err, IPVM_ESIGNATURE, IPVM_NO_OFFSET,
                            "the receipt's signature is not %.60s's", iss);
    ipvm_buf_dispose(&want);
    ipvm_arena_dispose(&a);
    return rc;
}

int ipvm_receipt_check(const uint8_t *cbor, size_t cbor_len, const uint8_t *sig, size_t sig_len,
                       ipvm_receipt_trust_t *verdict, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(cbor == NULL || verdict == NULL);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_receipt_t r;
    int rc = ipvm_receipt_decode(cbor, cbor_len, &a, &r, err);
    if (rc != 0) {
        ipvm_arena_dispose(&a);
        return rc;
    }
    if (r.iss == NULL && (sig == NULL || sig_len == 0)) {
        *verdict = IPVM_RECEIPT_UNSIGNED;
    } else if (r.iss == NULL) {
        *verdict = IPVM_RECEIPT_BAD;
        ipvm_error_set(err, IPVM_ESIGNATURE, IPVM_NO_OFFSET,
                       "a signature without an issuer: iss is null");
    } else if (sig == NULL || sig_len == 0) {
        *verdict = IPVM_RECEIPT_BAD;
        ipvm_error_set(err, IPVM_ESIGNATURE, IPVM_NO_OFFSET,
                       "the receipt names its issuer %.60s but carries no signature", r.iss);
    } else {
        *verdict = ipvm_receipt_verify_signature(&r.cid, r.iss, sig, sig_len, err) == 0
                       ? IPVM_RECEIPT_SIGNED
                       : IPVM_RECEIPT_BAD;
    }
    ipvm_arena_dispose(&a);
    return 0;
}
