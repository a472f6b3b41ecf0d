/* SPDX-License-Identifier: Apache-2.0 */
/* What a worker does for one task: resolve the arguments (awaited results, Link resources),
 * call the executor under the task's limits, build the receipt (an error receipt when anything
 * failed), encode it, and have trust sign and confirm it. The result goes back to the run's
 * coordinator, which commits it; nothing here touches the store. */
#include "sched_int.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    ipvm__task_job_t *job;
    ipvm_sched_t *s;
} ctx_t;

static int get_result(void *data, const ipvm_await_t *aw, const ipvm_ipld_t **out,
                      ipvm_error_t *err)
{
    ctx_t *c = data;
    return ipvm__run_result(c->job->run, aw, &c->job->arena, out, err);
}

static int get_link(void *data, const ipvm_cid_t *cid, const ipvm_ipld_t **out,
                    ipvm_error_t *err)
{
    ctx_t *c = data;
    if (c->s->exec.fetch == NULL) {
        char s[IPVM_CID_MAX_STR];
        return ipvm_error_set(err, IPVM_ENORESOURCE, IPVM_NO_OFFSET,
                              "no resolver for the Link argument %s", ipvm_cid_str(cid, s));
    }
    ipvm_buf_t b = IPVM_BUF_INIT;
    int rc = c->s->exec.fetch(c->s->exec.data, cid, &b, err);
    if (rc == 0) {
        ipvm_ipld_t *v = ipvm_ipld_new_bytes(&c->job->arena, b.data, b.len);
        rc = v ? 0 : IPVM_ENOMEM;
        *out = v;
    }
    ipvm_buf_dispose(&b);
    return rc;
}

/* The trap's name for the error map ("unreachable executed"), or NULL when not a trap. */
static const char *trap_name(int code)
{
    static const char prefix[] = "Wasm trap: ";
    if (code > IPVM_ETRAP_OOB || code < IPVM_ETRAP)
        return NULL;
    const char *s = ipvm_strerror(code);
    return strncmp(s, prefix, sizeof prefix - 1) == 0 ? s + sizeof prefix - 1 : s;
}

/* Resolves the arguments and calls the function. */
static int call_task(ctx_t *c, const ipvm_task_t *t, ipvm_wasm_result_t *res, ipvm_error_t *err)
{
    ipvm__task_job_t *job = c->job;
    if (job->fail_code)
        return ipvm_error_set(err, job->fail_code, IPVM_NO_OFFSET, "%s",
                              job->fail_msg ? job->fail_msg : ipvm_strerror(job->fail_code));
    /* arguments first: a failed dependency explains more than a missing module */
    ipvm_resolve_ops_t ops = {get_result, job->load_rc ? NULL : get_link, c};
    ipvm_ipld_t *args = NULL;
    int rc = ipvm_task_resolve_args(t, &ops, &job->arena, &args, err);
    if (rc != 0)
        return rc;
    if (job->load_rc) {
        *err = job->load_err;
        return job->load_rc;
    }
    /* the workflow's deadline bounds every call */
    uint64_t deadline = ipvm__run_deadline_ns(job->run), now = ipvm_now_ns();
    uint64_t left_ms = deadline > now ? (deadline - now) / 1000000u + 1 : 1;
    if (job->limits.time_ms == 0 || job->limits.time_ms > left_ms)
        job->limits.time_ms = left_ms;
    uint64_t t0 = ipvm_now_ns();
    rc = c->s->exec.call(c->s->exec.data, job->module, t->func, args, &job->limits, &job->arena,
                         res, err);
    job->exec_ns = ipvm_now_ns() - t0;
    return rc;
}

/* Encodes the receipt, its out/meta/prf blobs, and lets trust sign it. */
static int seal(ctx_t *c, ipvm_error_t *err)
{
    ipvm__task_job_t *job = c->job;
    int rc = ipvm_receipt_encode(&job->receipt, &job->cbor, err);
    if (rc == 0)
        rc = ipvm_dagcbor_encode(job->receipt.out, &job->blobs, err);
    job->out_len = job->blobs.len;
    if (rc == 0)
        rc = ipvm_dagcbor_encode(job->receipt.meta, &job->blobs, err);
    job->meta_len = job->blobs.len - job->out_len;
    if (rc == 0)
        rc = ipvm_dagcbor_encode(job->receipt.prf, &job->blobs, err);
    job->prf_len = job->blobs.len - job->out_len - job->meta_len;
    if (rc == 0 && c->s->trust.sign)
        rc = c->s->trust.sign(c->s->trust.data, &job->receipt, job->cbor.data, job->cbor.len,
                              &job->sig, err);
    return rc;
}

/* Builds the receipt: ok with the result, or an error receipt with the documented map. */
static int make_receipt(ctx_t *c, const ipvm_task_t *t, int rc, ipvm_wasm_result_t *res,
                        const ipvm_error_t *cerr, ipvm_error_t *err)
{
    ipvm__task_job_t *job = c->job;
    ipvm_ipld_t *value = res->value;
    if (rc == 0 && value == NULL)
        value = ipvm_ipld_new_null(&job->arena);
    if (rc != 0) {
        char msg[sizeof cerr->msg];
        snprintf(msg, sizeof msg, "%s", cerr->code != 0 && cerr->msg[0] ? cerr->msg
                                                                        : ipvm_strerror(rc));
        value = ipvm_receipt_error_value(&job->arena, rc, msg, trap_name(rc), res->fuel_used);
    }
    if (value == NULL)
        return IPVM_ENOMEM;
    job->status = rc;
    return ipvm_receipt_make(&job->arena, t, rc == 0, value, c->s->issuer, &job->receipt, err);
}

/* k-of-n: trust may compare with other nodes before the receipt is committed. */
static int confirm(ctx_t *c, const ipvm_task_t *t, ipvm_error_t *err)
{
    ipvm__task_job_t *job = c->job;
    ipvm_sched_receipt_t view;
    memset(&view, 0, sizeof view);
    view.task = t;
    view.receipt = job->receipt;
    view.cbor = job->cbor.data;
    view.cbor_len = job->cbor.len;
    view.fuel = job->fuel;
    view.time_ns = job->time_ns;
    view.source = "local";
    view.log = job->log ? job->log : "";
    uint64_t deadline = ipvm__run_deadline_ns(job->run), now = ipvm_now_ns();
    int left = deadline > now ? (int)((deadline - now) / 1000000u > 0x7fffffff
                                          ? 0x7fffffff
                                          : (deadline - now) / 1000000u)
                              : 0;
    return c->s->trust.confirm(c->s->trust.data, t, &view, left, err);
}

void ipvm__exec_task(ipvm__job_t *j)
{
    ipvm__task_job_t *job = (ipvm__task_job_t *)j;
    ctx_t c = {job, ipvm__run_sched(job->run)};
    const ipvm_task_t *t = &ipvm__run_workflow(job->run)->tasks[job->task];
    ipvm_error_t cerr, err;
    ipvm_error_clear(&cerr);
    ipvm_error_clear(&err);
    ipvm_wasm_result_t res;
    memset(&res, 0, sizeof res);
    int rc = call_task(&c, t, &res, &cerr);
    job->fuel = res.fuel_used;
    job->time_ns = res.time_ns ? res.time_ns : job->exec_ns;
    job->log = res.log;
    uint64_t t0 = ipvm_now_ns();
    int mrc = make_receipt(&c, t, rc, &res, &cerr, &err);
    if (mrc == 0)
        mrc = seal(&c, &err);
    if (mrc == 0 && rc == 0 && c.s->trust.confirm) {
        ipvm_error_t ferr;
        ipvm_error_clear(&ferr);
        int crc = confirm(&c, t, &ferr);
        if (crc != 0) { /* the receipt is replaced by an error receipt saying why */
            ipvm_buf_clear(&job->cbor);
            ipvm_buf_clear(&job->blobs);
            ipvm_buf_clear(&job->sig);
            mrc = make_receipt(&c, t, crc, &res, &ferr, &err);
            if (mrc == 0)
                mrc = seal(&c, &err);
        }
    }
    job->receipt_ns = ipvm_now_ns() - t0;
    job->store_it = mrc == 0;
    if (mrc != 0) { /* cannot even build a receipt (OOM): the run reports the task failed */
        job->status = mrc;
        job->load_err = err;
    }
    ipvm__run_complete(job->run, job);
}
