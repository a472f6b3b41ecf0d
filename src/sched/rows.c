/* SPDX-License-Identifier: Apache-2.0 */
/* Receipts between their three forms in the scheduler: the store row (out/meta/prf as
 * DAG-CBOR, our columns beside), the report entry (ipvm_sched_receipt_t with the decoded
 * receipt and its DAG-CBOR), and receipts found elsewhere, which are verified here before use:
 * CID recomputed, `ran` tied to the instruction, then trust's verify hook. */
#include "sched_int.h"

#include <string.h>

void ipvm__row_from_job(const ipvm__task_job_t *job, ipvm_receipt_row_t *row)
{
    memset(row, 0, sizeof *row);
    row->cid = job->receipt.cid;
    row->ran = job->receipt.ran;
    row->instruction = job->receipt.instruction;
    row->out = job->blobs.data;
    row->out_len = job->out_len;
    row->meta = job->blobs.data + job->out_len;
    row->meta_len = job->meta_len;
    row->prf = job->blobs.data + job->out_len + job->meta_len;
    row->prf_len = job->prf_len;
    row->issuer = job->receipt.iss;
    row->version = IPVM_RECEIPT_VERSION;
    row->fuel = job->fuel;
    row->time_ns = job->time_ns;
    row->ok = job->receipt.ok;
    row->source = "local";
    row->signature = job->sig.len ? job->sig.data : NULL;
    row->signature_len = job->sig.len;
}

static int decode_blob(const uint8_t *p, size_t len, ipvm_arena_t *a, ipvm_ipld_t **out,
                       const char *what, ipvm_error_t *err)
{
    int rc = ipvm_dagcbor_decode(p, len, a, out, err);
    if (rc != 0)
        ipvm_error_prefix(err, "stored receipt: %s: ", what); /* (err may be NULL) */
    return rc;
}

/* Appends a CBOR head (major type, shortest length; RFC 8949 §3). */
static int head(ipvm_buf_t *b, uint8_t major, uint64_t n)
{
    uint8_t h[9];
    size_t len = 1;
    h[0] = (uint8_t)(major << 5);
    if (n < 24) {
        h[0] |= (uint8_t)n;
    } else {
        int bytes = n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffffffu ? 4 : 8;
        h[0] |= (uint8_t)(bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27);
        for (int i = 0; i < bytes; i++)
            h[len++] = (uint8_t)(n >> (8 * (bytes - 1 - i)));
    }
    return ipvm_buf_append(b, h, len);
}

/* The receipt's DAG-CBOR assembled from the stored columns, which are themselves canonical
 * DAG-CBOR: {iss, out, prf, ran, meta} in DAG-CBOR key order (length first, then bytes). Where
 * out, meta and prf landed in b goes in st (may be NULL). */
static int assemble(const ipvm_receipt_row_t *row, ipvm_buf_t *b, ipvm__staged_t *st)
{
    size_t base = b->len;
    int rc = ipvm_buf_append(b, "\xa5\x63iss", 5);
    size_t il = row->issuer ? strlen(row->issuer) : 0;
    if (rc == 0)
        rc = row->issuer ? head(b, 3, il) : ipvm_buf_append_byte(b, 0xf6);
    if (rc == 0 && row->issuer)
        rc = ipvm_buf_append(b, row->issuer, il);
    if (rc == 0)
        rc = ipvm_buf_append(b, "\x63out", 4);
    size_t out_off = b->len - base;
    if (rc == 0)
        rc = ipvm_buf_append(b, row->out, row->out_len);
    if (rc == 0)
        rc = ipvm_buf_append(b, "\x63prf", 4);
    size_t prf_off = b->len - base;
    if (rc == 0)
        rc = ipvm_buf_append(b, row->prf, row->prf_len);
    if (rc == 0) /* a Link: tag 42, bytes 0x00 || cid */
        rc = ipvm_buf_append(b, "\x63ran\xd8\x2a", 6);
    if (rc == 0)
        rc = head(b, 2, (uint64_t)row->ran.len + 1);
    if (rc == 0)
        rc = ipvm_buf_append_byte(b, 0);
    if (rc == 0)
        rc = ipvm_buf_append(b, row->ran.bytes, row->ran.len);
    if (rc == 0)
        rc = ipvm_buf_append(b, "\x64meta", 5);
    size_t meta_off = b->len - base;
    if (rc == 0)
        rc = ipvm_buf_append(b, row->meta, row->meta_len);
    if (st) {
        st->out_off = out_off, st->out_len = row->out_len;
        st->prf_off = prf_off, st->prf_len = row->prf_len;
        st->meta_off = meta_off, st->meta_len = row->meta_len;
    }
    return rc;
}

/* The receipt's canonical DAG-CBOR, checked against `want`: the assembled bytes in *cbor when
 * they hash to it, or (when a column was stored in another valid encoding) the re-encoding of
 * the decoded receipt, in arena. */
static int canonical(const ipvm_cid_t *want, ipvm_receipt_t *r, const uint8_t **cbor,
                     size_t *len, ipvm_arena_t *a, ipvm_error_t *err)
{
    int rc = ipvm_cid_create(&r->cid, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256, *cbor, *len);
    if (rc == 0 && ipvm_cid_equal(&r->cid, want))
        return 0;
    ipvm_buf_t b = IPVM_BUF_INIT;
    if (rc == 0)
        rc = ipvm_receipt_encode(r, &b, err);
    if (rc == 0)
        rc = ipvm_cid_create(&r->cid, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256, b.data, b.len);
    if (rc == 0 && !ipvm_cid_equal(&r->cid, want)) {
        char c[IPVM_CID_MAX_STR];
        rc = ipvm_error_set(err, IPVM_ERECEIPT, IPVM_NO_OFFSET,
                            "stored receipt %s does not hash to its CID (the database is "
                            "damaged or was edited)",
                            ipvm_cid_str(want, c));
    }
    if (rc == 0) {
        *cbor = ipvm_arena_memdup(a, b.data, b.len);
        *len = b.len;
        rc = *cbor ? 0 : IPVM_ENOMEM;
    }
    ipvm_buf_dispose(&b);
    return rc;
}

/* meta and prf, shared with the previous report entries when their bytes are the same. */
static int shared_meta_prf(const ipvm_receipt_row_t *row, ipvm_arena_t *a, ipvm__share_t *sh,
                           ipvm_receipt_t *r, ipvm_error_t *err)
{
    int rc;
    if (sh && sh->meta && sh->meta_len == row->meta_len &&
        memcmp(sh->meta_bytes, row->meta, row->meta_len) == 0) {
        r->meta = sh->meta;
    } else if ((rc = decode_blob(row->meta, row->meta_len, a, &r->meta, "meta", err)) != 0) {
        return rc;
    } else if (sh && (sh->meta_bytes = ipvm_arena_memdup(a, row->meta, row->meta_len))) {
        sh->meta_len = row->meta_len;
        sh->meta = r->meta;
    }
    if (sh && row->prf_len == 1 && row->prf[0] == 0x80) { /* [] */
        if (sh->empty_list == NULL && (sh->empty_list = ipvm_ipld_new_list(a, 0)) == NULL)
            return IPVM_ENOMEM;
        r->prf = sh->empty_list;
        return 0;
    }
    return decode_blob(row->prf, row->prf_len, a, &r->prf, "prf", err);
}

int ipvm__report_stage(const ipvm_receipt_row_t *row, const ipvm_task_t *task,
                       ipvm_arena_t *a, ipvm_buf_t *scratch, ipvm__bump_t *bump,
                       ipvm__staged_t *st, ipvm_sched_receipt_t *out)
{
    memset(out, 0, sizeof *out);
    ipvm_receipt_t *r = &out->receipt;
    r->cid = row->cid; /* what the bytes must hash to: checked by ipvm__report_check */
    r->ran = row->ran;
    r->instruction = row->instruction;
    r->has_instruction = true;
    r->ok = row->ok;
    r->iss = row->issuer ? ipvm_arena_strdup(a, row->issuer) : NULL;
    ipvm_buf_clear(scratch);
    int rc = assemble(row, scratch, st);
    if (rc == 0 && bump && (size_t)(bump->end - bump->p) >= scratch->len) {
        memcpy(bump->p, scratch->data, scratch->len);
        out->cbor = bump->p;
        bump->p += scratch->len;
    } else if (rc == 0 &&
               (out->cbor = ipvm_arena_memdup(a, scratch->data, scratch->len)) == NULL) {
        rc = IPVM_ENOMEM;
    }
    out->cbor_len = scratch->len;
    out->task = task;
    out->replayed = true;
    out->fuel = row->fuel;
    out->time_ns = row->time_ns;
    out->source = row->source == NULL || strcmp(row->source, "local") == 0
                      ? "local"
                      : ipvm_arena_strdup(a, row->source);
    if (row->signature_len) {
        out->signature = ipvm_arena_memdup(a, row->signature, row->signature_len);
        out->signature_len = row->signature_len;
        rc = rc == 0 && out->signature == NULL ? IPVM_ENOMEM : rc;
    }
    out->log = "";
    if (rc == 0 && (out->source == NULL || (row->issuer && r->iss == NULL)))
        rc = IPVM_ENOMEM;
    return rc;
}

int ipvm__report_check(const ipvm__staged_t *st, ipvm_arena_t *a, ipvm__share_t *sh,
                       ipvm_sched_receipt_t *out, ipvm_error_t *err)
{
    ipvm_receipt_t *r = &out->receipt;
    ipvm_receipt_row_t row; /* the columns again, as slices of the assembled bytes */
    row.meta = out->cbor + st->meta_off;
    row.meta_len = st->meta_len;
    row.prf = out->cbor + st->prf_off;
    row.prf_len = st->prf_len;
    int rc = decode_blob(out->cbor + st->out_off, st->out_len, a, &r->out, "out", err);
    if (rc == 0)
        rc = shared_meta_prf(&row, a, sh, r, err);
    if (rc != 0)
        return rc;
    if (r->out->kind != IPVM_IPLD_LIST || r->out->u.list.len != 2)
        return ipvm_error_set(err, IPVM_ERECEIPT, IPVM_NO_OFFSET,
                              "stored receipt: out is not [\"ok\"|\"error\", value]");
    r->ok = ipvm_ipld_is_str(r->out->u.list.items[0], "ok");
    ipvm_cid_t want = r->cid;
    return canonical(&want, r, &out->cbor, &out->cbor_len, a, err);
}

int ipvm__report_from_row(const ipvm_receipt_row_t *row, const ipvm_task_t *task,
                          ipvm_arena_t *a, ipvm__share_t *sh, ipvm_sched_receipt_t *out,
                          ipvm_error_t *err)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm__staged_t st;
    int rc = ipvm__report_stage(row, task, a, &b, NULL, &st, out);
    ipvm_buf_dispose(&b);
    if (rc != 0)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory");
    return ipvm__report_check(&st, a, sh, out, err);
}

/* A copy of a result tuple whose "ok" / "error" tag node is shared by the run's entries. */
static ipvm_ipld_t *clone_out(ipvm_arena_t *a, ipvm__share_t *sh, const ipvm_ipld_t *out)
{
    if (sh == NULL || out->kind != IPVM_IPLD_LIST || out->u.list.len != 2)
        return ipvm_ipld_clone(a, out);
    const ipvm_ipld_t *tag = out->u.list.items[0];
    ipvm_ipld_t **shared = ipvm_ipld_is_str(tag, "ok")      ? &sh->ok_tag
                           : ipvm_ipld_is_str(tag, "error") ? &sh->error_tag
                                                            : NULL;
    if (shared == NULL)
        return ipvm_ipld_clone(a, out);
    if (*shared == NULL && (*shared = ipvm_ipld_clone(a, tag)) == NULL)
        return NULL;
    ipvm_ipld_t *l = ipvm_arena_alloc(a, sizeof *l + 2 * sizeof(ipvm_ipld_t *));
    if (l == NULL)
        return NULL;
    l->kind = IPVM_IPLD_LIST;
    l->u.list.items = (ipvm_ipld_t **)(l + 1);
    l->u.list.len = l->u.list.cap = 2;
    l->u.list.items[0] = *shared;
    l->u.list.items[1] = ipvm_ipld_clone(a, out->u.list.items[1]);
    return l->u.list.items[1] ? l : NULL;
}

int ipvm__report_from_job(const ipvm__task_job_t *job, const ipvm_task_t *task,
                          ipvm_arena_t *a, ipvm__share_t *sh, ipvm_sched_receipt_t *out,
                          ipvm_error_t *err)
{
    memset(out, 0, sizeof *out);
    /* our own receipt: copy its result into the result arena and share meta and prf (the job's
     * arena is reused for the next task) */
    ipvm_receipt_t *r = &out->receipt;
    *r = job->receipt;
    r->out = clone_out(a, sh, job->receipt.out);
    r->iss = job->receipt.iss ? ipvm_arena_strdup(a, job->receipt.iss) : NULL;
    ipvm_receipt_row_t row;
    ipvm__row_from_job(job, &row);
    if (r->out == NULL || (job->receipt.iss && r->iss == NULL))
        return IPVM_ENOMEM;
    int rc = shared_meta_prf(&row, a, sh, r, err);
    if (rc != 0)
        return rc;
    out->task = task;
    out->cbor = ipvm_arena_memdup(a, job->cbor.data, job->cbor.len);
    out->cbor_len = job->cbor.len;
    out->fuel = job->fuel;
    out->time_ns = job->time_ns;
    out->source = "local";
    if (job->sig.len) {
        out->signature = ipvm_arena_memdup(a, job->sig.data, job->sig.len);
        out->signature_len = job->sig.len;
        if (out->signature == NULL)
            return IPVM_ENOMEM;
    }
    out->log = "";
    return out->cbor ? 0 : IPVM_ENOMEM;
}

bool ipvm__row_usable(ipvm_sched_t *s, const ipvm_receipt_row_t *row,
                      const ipvm_sched_receipt_t *rep)
{
    (void)row; /* rep holds everything of it that matters */
    return ipvm__rep_usable(s, rep);
}

bool ipvm__rep_usable(ipvm_sched_t *s, const ipvm_sched_receipt_t *rep)
{
    if (!rep->receipt.ok && !ipvm_receipt_error_is_final(ipvm_receipt_value(&rep->receipt)))
        return false; /* a failure that may pass now: execute again */
    bool local = rep->source == NULL || strcmp(rep->source, "local") == 0;
    if (local || s->trust.verify == NULL)
        return true;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = s->trust.verify(s->trust.data, &rep->receipt, rep->cbor, rep->cbor_len,
                             rep->signature, rep->signature_len, rep->source, &err);
    if (rc != 0) {
        char c[IPVM_CID_MAX_STR];
        ipvm_log(IPVM_LOG_WARN, "sched", "stored receipt %s from %s rejected: %s",
                 ipvm_cid_str(&rep->receipt.cid, c), rep->source, err.msg);
        return false;
    }
    return true;
}

/* The found receipt's `ran` must be this task's invocation, or the hook must prove it is an
 * invocation of the same instruction by sending the invocation block. */
static int check_ran(const ipvm_task_t *task, const ipvm_receipt_t *r,
                     const ipvm_sched_lookup_t *it, ipvm_arena_t *a, ipvm_error_t *err)
{
    if (ipvm_cid_equal(&r->ran, &task->invocation))
        return 0;
    if (it->invocation_block == NULL)
        return ipvm_error_set(err, IPVM_ERECEIPT, IPVM_NO_OFFSET,
                              "its ran is another invocation and no invocation block was given");
    ipvm_cid_t c;
    int rc = ipvm_cid_create(&c, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256, it->invocation_block,
                             it->invocation_block_len);
    if (rc != 0 || !ipvm_cid_equal(&c, &r->ran))
        return ipvm_error_set(err, IPVM_ERECEIPT, IPVM_NO_OFFSET,
                              "the invocation block does not hash to its ran");
    ipvm_ipld_t *inv = NULL;
    if ((rc = ipvm_dagcbor_decode(it->invocation_block, it->invocation_block_len, a, &inv,
                                  err)) != 0)
        return rc;
    const ipvm_ipld_t *run = ipvm_ipld_select(inv, "task/run");
    if (run == NULL || (rc = ipvm_ipld_cid(run, IPVM_MH_SHA3_256, &c, err)) != 0 ||
        !ipvm_cid_equal(&c, &task->instruction))
        return ipvm_error_set(err, IPVM_ERECEIPT, IPVM_NO_OFFSET,
                              "the invocation it ran is not of this instruction");
    return 0;
}

int ipvm__verify_found(ipvm_sched_t *s, const ipvm_task_t *task, const ipvm_sched_lookup_t *it,
                       ipvm_arena_t *a, ipvm_receipt_row_t *row, ipvm_sched_receipt_t *rep,
                       ipvm_error_t *err)
{
    memset(rep, 0, sizeof *rep);
    ipvm_receipt_t *r = &rep->receipt;
    int rc = ipvm_receipt_decode(it->receipt, it->receipt_len, a, r, err);
    if (rc == 0 && r->has_instruction && !ipvm_cid_equal(&r->instruction, &task->instruction))
        rc = ipvm_error_set(err, IPVM_ERECEIPT, IPVM_NO_OFFSET,
                            "it names another instruction");
    if (rc == 0)
        rc = check_ran(task, r, it, a, err);
    if (rc != 0)
        return rc;
    r->instruction = task->instruction;
    r->has_instruction = true;
    ipvm_buf_t b = IPVM_BUF_INIT, blobs = IPVM_BUF_INIT;
    rc = ipvm_receipt_encode(r, &b, err); /* canonical 5-key form (drops runtime keys) */
    size_t out_len = 0, meta_len = 0;
    if (rc == 0 && (rc = ipvm_dagcbor_encode(r->out, &blobs, err)) == 0) {
        out_len = blobs.len;
        if ((rc = ipvm_dagcbor_encode(r->meta, &blobs, err)) == 0) {
            meta_len = blobs.len - out_len;
            rc = ipvm_dagcbor_encode(r->prf, &blobs, err);
        }
    }
    rep->task = task;
    rep->replayed = true;
    rep->source = ipvm_arena_strdup(a, it->source[0] ? it->source : "peer");
    rep->cbor = rc == 0 ? ipvm_arena_memdup(a, b.data, b.len) : NULL;
    rep->cbor_len = b.len;
    uint8_t *bl = rc == 0 ? ipvm_arena_memdup(a, blobs.data, blobs.len) : NULL;
    size_t blobs_len = blobs.len;
    ipvm_buf_dispose(&b);
    ipvm_buf_dispose(&blobs);
    if (rc != 0)
        return rc;
    if (rep->cbor == NULL || bl == NULL || rep->source == NULL)
        return IPVM_ENOMEM;
    if (it->signature_len) {
        rep->signature = ipvm_arena_memdup(a, it->signature, it->signature_len);
        rep->signature_len = it->signature_len;
    }
    rep->log = "";
    if (s->trust.verify &&
        (rc = s->trust.verify(s->trust.data, r, rep->cbor, rep->cbor_len, rep->signature,
                              rep->signature_len, rep->source, err)) != 0)
        return rc;
    memset(row, 0, sizeof *row);
    row->cid = r->cid;
    row->ran = r->ran;
    row->instruction = task->instruction;
    row->out = bl;
    row->out_len = out_len;
    row->meta = bl + out_len;
    row->meta_len = meta_len;
    row->prf = bl + out_len + meta_len;
    row->prf_len = blobs_len - out_len - meta_len;
    row->issuer = r->iss;
    row->version = IPVM_RECEIPT_VERSION;
    row->ok = r->ok;
    row->source = rep->source;
    row->signature = rep->signature;
    row->signature_len = rep->signature_len;
    return 0;
}
