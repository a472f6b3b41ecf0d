/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the store tests: synthetic receipts with real CIDs and hand-encoded
 * DAG-CBOR (so these tests do not depend on the ipld codecs). */
#ifndef IPVM_TEST_STORE_FIXTURE_H
#define IPVM_TEST_STORE_FIXTURE_H

#include "test.h"

#include <stdio.h>

typedef struct {
    ipvm_receipt_row_t row;
    uint8_t out[16];
    uint8_t meta[16];
} fx_receipt_t;

/* A CID of dag-cbor/sha3-256 over "<tag>:<i>". */
static inline ipvm_cid_t fx_cid(const char *tag, long i)
{
    char text[64];
    int n = snprintf(text, sizeof text, "%s:%ld", tag, i);
    ipvm_cid_t c;
    IPVM_ASSERT_OK(ipvm_cid_create(&c, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256,
                                   (const uint8_t *)text, (size_t)n));
    return c;
}

/* DAG-CBOR of a small unsigned integer. Returns the length. */
static inline size_t fx_cbor_uint(uint8_t *p, uint32_t v)
{
    if (v < 24) {
        p[0] = (uint8_t)v;
        return 1;
    }
    if (v < 256) {
        p[0] = 0x18;
        p[1] = (uint8_t)v;
        return 2;
    }
    if (v < 65536) {
        p[0] = 0x19;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)v;
        return 3;
    }
    p[0] = 0x1a;
    p[1] = (uint8_t)(v >> 24);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 8);
    p[4] = (uint8_t)v;
    return 5;
}

/* Receipt i: instruction "instr:i", out ["ok", i] (or ["error", i]), meta {"op": "add"}. The
 * receipt CID also depends on `ok` so an error and an ok receipt of one instruction differ. */
static inline void fx_receipt(fx_receipt_t *r, long i, bool ok)
{
    memset(r, 0, sizeof *r);
    size_t n = 0;
    r->out[n++] = 0x82;
    if (ok) {
        memcpy(r->out + n, "\x62ok", 3);
        n += 3;
    } else {
        memcpy(r->out + n, "\x65" "error", 6);
        n += 6;
    }
    n += fx_cbor_uint(r->out + n, (uint32_t)i);
    memcpy(r->meta, "\xa1\x62op\x63" "add", 8);
    r->row.cid = fx_cid(ok ? "receipt" : "receipt-error", i);
    r->row.ran = fx_cid("invocation", i);
    r->row.instruction = fx_cid("instr", i);
    r->row.out = r->out;
    r->row.out_len = n;
    r->row.meta = r->meta;
    r->row.meta_len = 8;
    r->row.prf = (const uint8_t *)"\x80";
    r->row.prf_len = 1;
    r->row.fuel = (uint64_t)i * 10 + 1;
    r->row.time_ns = (uint64_t)i * 1000 + 7;
    r->row.ok = ok;
}

static inline const char *fx_db_path(const char *name)
{
    static char path[8][4096];
    static int slot;
    slot = (slot + 1) % 8;
    snprintf(path[slot], sizeof path[slot], "%s/%s", ipvm_test_tmpdir(), name);
    return path[slot];
}

static inline ipvm_store_t *fx_open(const char *path, unsigned flags)
{
    ipvm_store_t *s = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_store_open(path, flags, &s, &err), &err);
    return s;
}

static inline void fx_put_workflow(ipvm_store_t *s, const ipvm_cid_t *wf, int64_t num_tasks)
{
    ipvm_workflow_row_t w;
    memset(&w, 0, sizeof w);
    w.cid = *wf;
    w.name = "test";
    w.num_tasks = num_tasks;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_store_put_workflow(s, &w, NULL, &err), &err);
}

#endif
