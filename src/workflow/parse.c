/* SPDX-License-Identifier: Apache-2.0 */
/* Workflow parsing and normalisation, compatible with Homestar's data model
 * (homestar-workflow/src/workflow.rs, homestar-invocation/src/task.rs, task/instruction.rs,
 * task/instruction/nonce.rs; reference/homestar.md §1): builds the normalised IPLD that the
 * instruction, invocation and workflow CIDs hash, validates every field with errors that name
 * the task and the field, and computes those CIDs in one encoding pass. */
#include "workflow_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prefix of the DAG-CBOR of {"task": <task>}: a 1-entry map, then the text "task". */
static const uint8_t INVOCATION_PREFIX[] = {0xa1, 0x64, 't', 'a', 's', 'k'};
/* Prefix of the DAG-CBOR of {"tasks": [...]}: a 1-entry map, then the text "tasks". */
static const uint8_t WORKFLOW_PREFIX[] = {0xa1, 0x65, 't', 'a', 's', 'k', 's'};

const char *ipvm__wf_task_name(const ipvm_task_t *t, bool cid_known, char *buf, size_t size)
{
    char cid[IPVM_CID_MAX_STR];
    if (cid_known)
        snprintf(buf, size, "task %zu (%s)", t->index, ipvm_cid_str(&t->instruction, cid));
    else
        snprintf(buf, size, "task %zu", t->index);
    return buf;
}

/* Records "task N: FIELD: message" in err and returns code. */
static int task_err(ipvm_error_t *err, int code, size_t index, const char *field,
                    const char *fmt, ...) IPVM_PRINTF(5, 6);
static int task_err(ipvm_error_t *err, int code, size_t index, const char *field,
                    const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ipvm_error_set(err, code, IPVM_NO_OFFSET, "task %zu: %s: %s", index, field, msg);
}

/* Appends a CBOR major-type head with the shortest length encoding (RFC 8949 §3). */
static int cbor_head(ipvm_buf_t *b, uint8_t major, uint64_t n)
{
    uint8_t h[9];
    size_t len;
    major = (uint8_t)(major << 5);
    if (n < 24) {
        h[0] = (uint8_t)(major | n);
        len = 1;
    } else if (n <= 0xff) {
        h[0] = major | 24;
        h[1] = (uint8_t)n;
        len = 2;
    } else if (n <= 0xffff) {
        h[0] = major | 25;
        h[1] = (uint8_t)(n >> 8);
        h[2] = (uint8_t)n;
        len = 3;
    } else if (n <= 0xffffffffu) {
        h[0] = major | 26;
        for (int i = 0; i < 4; i++)
            h[1 + i] = (uint8_t)(n >> (24 - 8 * i));
        len = 5;
    } else {
        h[0] = major | 27;
        for (int i = 0; i < 8; i++)
            h[1 + i] = (uint8_t)(n >> (56 - 8 * i));
        len = 9;
    }
    return ipvm_buf_append(b, h, len);
}

/* ---- instruction fields ------------------------------------------------------------------- */

/* compat: homestar-invocation/src/task/instruction.rs - rsc is a URL (Url::parse, then
 * to_string) and a Link is turned into "ipfs://" + its base32 form. We check the URL's shape
 * (a scheme, no spaces or control characters) and lower-case the scheme, which is what
 * Url::parse changes for the URLs workflows use (ipfs://<cid>, https://host/ipfs/<cid>). */
static int norm_rsc(ipvm_arena_t *a, size_t i, const ipvm_ipld_t *v, const char **out,
                    ipvm_error_t *err)
{
    if (v == NULL)
        return task_err(err, IPVM_EWORKFLOW, i, "run.rsc",
                        "missing (the module to run, e.g. \"ipfs://<CID of the .wasm>\")");
    if (v->kind == IPVM_IPLD_LINK) {
        if (v->u.link->version == 0)
            return task_err(err, IPVM_EWORKFLOW, i, "run.rsc",
                            "a CIDv0 Link cannot be written as base32; give the string "
                            "\"ipfs://Qm…\" or a CIDv1 Link");
        char cid[IPVM_CID_MAX_STR];
        if (ipvm_cid_format(v->u.link, IPVM_BASE32, cid, sizeof cid) != 0)
            return task_err(err, IPVM_EWORKFLOW, i, "run.rsc", "cannot format the CID");
        *out = ipvm_arena_printf(a, "ipfs://%s", cid);
        return *out ? 0 : IPVM_ENOMEM;
    }
    if (v->kind != IPVM_IPLD_STRING)
        return task_err(err, IPVM_EWORKFLOW, i, "run.rsc", "must be a URL string or a Link, not %s",
                        ipvm_ipld_kind_name(v->kind));
    const char *s = v->u.str.ptr;
    size_t len = v->u.str.len, k = 0;
    for (size_t j = 0; j < len; j++)
        if ((unsigned char)s[j] <= 0x20 || (unsigned char)s[j] == 0x7f)
            return task_err(err, IPVM_EWORKFLOW, i, "run.rsc",
                            "contains a space or control character at byte %zu", j);
    while (k < len && (((s[k] | 0x20) >= 'a' && (s[k] | 0x20) <= 'z') ||
                       (k > 0 && ((s[k] >= '0' && s[k] <= '9') || s[k] == '+' || s[k] == '-' ||
                                  s[k] == '.'))))
        k++;
    if (k == 0 || k >= len || s[k] != ':')
        return task_err(err, IPVM_EWORKFLOW, i, "run.rsc",
                        "\"%.60s\" is not a URL (expected e.g. ipfs://<CID>)", s);
    bool upper = false;
    for (size_t j = 0; j < k; j++)
        upper |= s[j] >= 'A' && s[j] <= 'Z';
    if (!upper) { /* already normal: keep the caller's string */
        *out = s;
        return 0;
    }
    char *copy = ipvm_arena_strndup(a, s, len);
    if (copy == NULL)
        return IPVM_ENOMEM;
    for (size_t j = 0; j < k; j++)
        if (copy[j] >= 'A' && copy[j] <= 'Z')
            copy[j] = (char)(copy[j] + 32);
    *out = copy;
    return 0;
}

/* compat: homestar-invocation/src/task/instruction/nonce.rs - "" (none), 12 or 16 bytes, or a
 * non-empty base32hex-lower string of 12 or 16 bytes; kept exactly as given (a string stays a
 * string, so it hashes as text). A missing nnc is "". */
static int check_nonce(size_t i, const ipvm_ipld_t *v, ipvm_error_t *err)
{
    if (v->kind == IPVM_IPLD_BYTES) {
        if (v->u.str.len != 12 && v->u.str.len != 16)
            return task_err(err, IPVM_EWORKFLOW, i, "run.nnc",
                            "a bytes nonce must be 12 or 16 bytes, not %zu", v->u.str.len);
        return 0;
    }
    if (v->kind != IPVM_IPLD_STRING)
        return task_err(err, IPVM_EWORKFLOW, i, "run.nnc",
                        "must be \"\", a base32hex string or 12/16 bytes, not %s",
                        ipvm_ipld_kind_name(v->kind));
    if (v->u.str.len == 0)
        return 0;
    ipvm_buf_t raw = IPVM_BUF_INIT;
    ipvm_error_t berr;
    ipvm_error_clear(&berr);
    int rc = ipvm_base_decode(IPVM_BASE32HEX, v->u.str.ptr, v->u.str.len, &raw, &berr);
    size_t n = raw.len;
    ipvm_buf_dispose(&raw);
    if (rc == IPVM_ENOMEM)
        return rc;
    if (rc != 0)
        return task_err(err, IPVM_EWORKFLOW, i, "run.nnc",
                        "\"%.40s\" is not base32hex-lower text: %s", v->u.str.ptr, berr.msg);
    if (n != 12 && n != 16)
        return task_err(err, IPVM_EWORKFLOW, i, "run.nnc",
                        "\"%.40s\" decodes to %zu bytes; a nonce is 12 or 16", v->u.str.ptr, n);
    return 0;
}

/* For wasm/run: input = {"func": string, "args": list}. */
static int check_input(ipvm_task_t *t, const ipvm_ipld_t *input, ipvm_error_t *err)
{
    size_t i = t->index;
    if (input == NULL)
        return task_err(err, IPVM_EWORKFLOW, i, "run.input",
                        "missing (expected {\"func\": NAME, \"args\": [...]})");
    if (input->kind != IPVM_IPLD_MAP)
        return task_err(err, IPVM_EWORKFLOW, i, "run.input", "must be a map, not %s",
                        ipvm_ipld_kind_name(input->kind));
    const ipvm_ipld_t *func = ipvm_ipld_map_get(input, "func");
    if (func == NULL)
        return task_err(err, IPVM_EWORKFLOW, i, "run.input.func",
                        "missing (the name of the exported function to call)");
    if (func->kind != IPVM_IPLD_STRING || func->u.str.len == 0 ||
        strlen(func->u.str.ptr) != func->u.str.len)
        return task_err(err, IPVM_EWORKFLOW, i, "run.input.func",
                        "must be a non-empty string without NUL");
    const ipvm_ipld_t *args = ipvm_ipld_map_get(input, "args");
    if (args == NULL)
        return task_err(err, IPVM_EWORKFLOW, i, "run.input.args",
                        "missing (use [] for a function without arguments)");
    if (args->kind != IPVM_IPLD_LIST)
        return task_err(err, IPVM_EWORKFLOW, i, "run.input.args", "must be a list, not %s",
                        ipvm_ipld_kind_name(args->kind));
    t->func = func->u.str.ptr;
    t->args = args;
    return 0;
}

/* Builds the normalised instruction {input, nnc, op, rsc} into t->run. */
static int norm_run(ipvm_arena_t *a, ipvm_task_t *t, const ipvm_ipld_t *run, ipvm_error_t *err)
{
    size_t i = t->index;
    int rc;
    if (run == NULL)
        return task_err(err, IPVM_EWORKFLOW, i, "run", "missing (the instruction to run)");
    if (run->kind == IPVM_IPLD_LINK)
        return task_err(err, IPVM_EWORKFLOW, i, "run",
                        "is a Link; instructions must be inlined (expanded) in the workflow");
    if (run->kind != IPVM_IPLD_MAP)
        return task_err(err, IPVM_EWORKFLOW, i, "run", "must be a map, not %s",
                        ipvm_ipld_kind_name(run->kind));
    if ((rc = norm_rsc(a, i, ipvm_ipld_map_get(run, "rsc"), &t->rsc, err)) != 0)
        return rc;
    const ipvm_ipld_t *op = ipvm_ipld_map_get(run, "op");
    if (op == NULL || op->kind != IPVM_IPLD_STRING)
        return task_err(err, IPVM_EWORKFLOW, i, "run.op", "%s (expected \"%s\")",
                        op ? "must be a string" : "missing", IPVM_OP_WASM_RUN);
    if (!ipvm_ipld_is_str(op, IPVM_OP_WASM_RUN))
        return task_err(err, IPVM_EWORKFLOW, i, "run.op",
                        "unknown op \"%.40s\": this node runs only \"%s\"", op->u.str.ptr,
                        IPVM_OP_WASM_RUN);
    t->op = op->u.str.ptr;
    const ipvm_ipld_t *input = ipvm_ipld_map_get(run, "input");
    if ((rc = check_input(t, input, err)) != 0)
        return rc;
    const ipvm_ipld_t *nnc = ipvm_ipld_map_get(run, "nnc");
    ipvm_ipld_t *nnc_out = (ipvm_ipld_t *)nnc;
    if (nnc == NULL)
        nnc_out = ipvm_ipld_new_string(a, "", 0); /* compat: missing nnc hashes as "" */
    else if ((rc = check_nonce(i, nnc, err)) != 0)
        return rc;
    const ipvm_ipld_t *rsc_in = ipvm_ipld_map_get(run, "rsc");
    if (nnc && run->u.map.len == 4 && rsc_in->kind == IPVM_IPLD_STRING &&
        t->rsc == rsc_in->u.str.ptr) {
        t->run = (ipvm_ipld_t *)run; /* already normal (the usual case): no copy */
        return 0;
    }
    ipvm_ipld_t *m = ipvm_ipld_new_map(a, 4);
    ipvm_ipld_t *rsc = ipvm_ipld_new_cstring(a, t->rsc);
    if (m == NULL || rsc == NULL || nnc_out == NULL)
        return IPVM_ENOMEM;
    if (ipvm_ipld_map_set_cstr(a, m, "input", (ipvm_ipld_t *)input) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "nnc", nnc_out) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "op", (ipvm_ipld_t *)op) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "rsc", rsc) != 0)
        return IPVM_ENOMEM;
    ipvm_ipld_map_sort(m);
    t->run = m;
    return 0;
}

/* meta limits: integers only (compat: task/config.rs reads u64s; a float is ignored). */
static uint64_t meta_u64(const ipvm_ipld_t *meta, const char *key)
{
    uint64_t v = 0;
    const ipvm_ipld_t *f = ipvm_ipld_map_get(meta, key);
    if (f == NULL || f->kind != IPVM_IPLD_INT || ipvm_ipld_get_u64(f, &v) != 0)
        return 0;
    return v;
}

/* Builds the normalised task {cause, meta, prf, run} into t->task. */
static int norm_task(ipvm_arena_t *a, ipvm_task_t *t, const ipvm_ipld_t *v, ipvm_error_t *err)
{
    size_t i = t->index;
    int rc;
    if (v->kind != IPVM_IPLD_MAP)
        return task_err(err, IPVM_EWORKFLOW, i, "task", "must be a map, not %s",
                        ipvm_ipld_kind_name(v->kind));
    if ((rc = norm_run(a, t, ipvm_ipld_map_get(v, "run"), err)) != 0)
        return rc;
    const ipvm_ipld_t *meta = ipvm_ipld_map_get(v, "meta");
    if (meta == NULL)
        return task_err(err, IPVM_EWORKFLOW, i, "meta", "missing (use {} for none)");
    const ipvm_ipld_t *prf = ipvm_ipld_map_get(v, "prf");
    if (prf == NULL || prf->kind != IPVM_IPLD_LIST)
        return task_err(err, IPVM_EWORKFLOW, i, "prf", "%s (a list of UCAN CIDs; [] for none)",
                        prf ? "must be a list" : "missing");
    for (size_t k = 0; k < prf->u.list.len; k++)
        if (prf->u.list.items[k]->kind != IPVM_IPLD_LINK)
            return task_err(err, IPVM_EWORKFLOW, i, "prf", "item %zu is %s, not a Link", k,
                            ipvm_ipld_kind_name(prf->u.list.items[k]->kind));
    /* compat: task.rs - a cause that is not a Link (absent, null or anything else) is None */
    const ipvm_ipld_t *cause = ipvm_ipld_map_get(v, "cause");
    ipvm_ipld_t *cause_out = (ipvm_ipld_t *)cause;
    t->meta = meta;
    if (meta->kind == IPVM_IPLD_MAP) {
        t->limits.fuel = meta_u64(meta, "fuel");
        t->limits.memory = meta_u64(meta, "memory");
        t->limits.time_ms = meta_u64(meta, "time");
    }
    if (cause && (cause->kind == IPVM_IPLD_NULL || cause->kind == IPVM_IPLD_LINK) &&
        v->u.map.len == 4 && t->run == ipvm_ipld_map_get(v, "run")) {
        t->task = (ipvm_ipld_t *)v; /* already normal: no copy */
        return 0;
    }
    if (cause == NULL || cause->kind != IPVM_IPLD_LINK)
        cause_out = ipvm_ipld_new_null(a);
    ipvm_ipld_t *m = ipvm_ipld_new_map(a, 4);
    if (m == NULL || cause_out == NULL)
        return IPVM_ENOMEM;
    if (ipvm_ipld_map_set_cstr(a, m, "cause", cause_out) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "meta", (ipvm_ipld_t *)meta) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "prf", (ipvm_ipld_t *)prf) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "run", t->run) != 0)
        return IPVM_ENOMEM;
    ipvm_ipld_map_sort(m);
    t->task = m;
    return 0;
}

/* Normalises task i, computes its instruction and invocation CIDs, and appends its DAG-CBOR to
 * the workflow encoding `wfbuf`. `scratch` is reused between tasks. */
static int build_task(ipvm_arena_t *a, ipvm_task_t *t, const ipvm_ipld_t *v, ipvm_buf_t *wfbuf,
                      ipvm_buf_t *scratch, ipvm_error_t *err)
{
    int rc = norm_task(a, t, v, err);
    if (rc != 0)
        return rc;
    ipvm_buf_clear(scratch);
    if ((rc = ipvm_dagcbor_encode(t->run, scratch, err)) != 0) {
        ipvm_error_prefix(err, "task %zu: run: ", t->index); /* (err may be NULL) */
        return rc;
    }
    if ((rc = ipvm_cid_create(&t->instruction, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256,
                              scratch->data, scratch->len)) != 0)
        return rc;
    ipvm_buf_clear(scratch);
    if ((rc = ipvm_buf_append(scratch, INVOCATION_PREFIX, sizeof INVOCATION_PREFIX)) != 0)
        return rc;
    if ((rc = ipvm_dagcbor_encode(t->task, scratch, err)) != 0) {
        ipvm_error_prefix(err, "task %zu: ", t->index); /* (err may be NULL) */
        return rc;
    }
    if ((rc = ipvm_cid_create(&t->invocation, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256,
                              scratch->data, scratch->len)) != 0)
        return rc;
    return ipvm_buf_append(wfbuf, scratch->data + sizeof INVOCATION_PREFIX,
                           scratch->len - sizeof INVOCATION_PREFIX);
}

static int cmp_by_instruction(const void *x, const void *y)
{
    const ipvm_task_t *p = *(const ipvm_task_t *const *)x, *q = *(const ipvm_task_t *const *)y;
    return ipvm_cid_compare(&p->instruction, &q->instruction);
}

/* Sorts the tasks by instruction CID and rejects duplicates (compat: workflow.rs
 * detect_duplicates -> DuplicateTask; a nonce is how one runs the same instruction twice). */
static int index_tasks(ipvm_workflow_t *wf, ipvm_arena_t *a, ipvm_error_t *err)
{
    size_t n = wf->ntasks;
    size_t *idx = ipvm_arena_alloc(a, n * sizeof *idx);
    const ipvm_task_t **ptrs = ipvm_malloc(n * sizeof *ptrs);
    if (idx == NULL || ptrs == NULL) {
        ipvm_free(ptrs);
        return IPVM_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        ptrs[i] = &wf->tasks[i];
    qsort(ptrs, n, sizeof *ptrs, cmp_by_instruction);
    for (size_t i = 0; i < n; i++)
        idx[i] = ptrs[i]->index;
    ipvm_free(ptrs);
    for (size_t k = 1; k < n; k++) {
        const ipvm_task_t *p = &wf->tasks[idx[k - 1]], *q = &wf->tasks[idx[k]];
        if (ipvm_cid_equal(&p->instruction, &q->instruction)) {
            char cid[IPVM_CID_MAX_STR];
            size_t lo = p->index < q->index ? p->index : q->index;
            size_t hi = p->index < q->index ? q->index : p->index;
            return ipvm_error_set(err, IPVM_EDUPTASK, IPVM_NO_OFFSET,
                                  "task %zu and task %zu are the same instruction %s; give one "
                                  "of them a nonce (run.nnc) to run it twice",
                                  lo, hi, ipvm_cid_str(&p->instruction, cid));
        }
    }
    wf->by_instruction = idx;
    return 0;
}

long ipvm_workflow_find(const ipvm_workflow_t *wf, const ipvm_cid_t *instruction)
{
    size_t lo = 0, hi = wf->ntasks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        size_t t = wf->by_instruction[mid];
        int c = ipvm_cid_compare(&wf->tasks[t].instruction, instruction);
        if (c == 0)
            return (long)t;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The normalised {"tasks": [...]} (in tmp) and the workflow CID from the encoding built task by
 * task; the encoding itself is handed to `keep` (the store saves it, to resume). */
static int finish_workflow(ipvm_workflow_t *wf, ipvm_arena_t *keep, ipvm_arena_t *tmp,
                           ipvm_buf_t *wfbuf)
{
    ipvm_ipld_t *list = ipvm_ipld_new_list(tmp, wf->ntasks);
    ipvm_ipld_t *root = ipvm_ipld_new_map(tmp, 1);
    if (list == NULL || root == NULL)
        return IPVM_ENOMEM;
    for (size_t i = 0; i < wf->ntasks; i++)
        if (ipvm_ipld_list_push(tmp, list, wf->tasks[i].task) != 0)
            return IPVM_ENOMEM;
    if (ipvm_ipld_map_set_cstr(tmp, root, "tasks", list) != 0)
        return IPVM_ENOMEM;
    wf->ipld = root;
    int rc = ipvm_cid_create(&wf->cid, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256, wfbuf->data,
                             wfbuf->len);
    if (rc != 0)
        return rc;
    if (ipvm_arena_on_dispose(keep, ipvm_free, wfbuf->data) != 0)
        return IPVM_ENOMEM;
    wf->cbor_len = wfbuf->len;
    wf->cbor = ipvm_buf_take(wfbuf, NULL);
    return 0;
}

/* opts->compact, for one task: keep only what running needs, copied into `keep`, so the
 * decoded document (several times the size of the text) can be freed. Tasks mostly share rsc
 * and func: one copy each, shared with `prev`. */
/* A copy of v (in t's args) for a compact workflow: a promise's key is the static name of its
 * kind and its Link points at the await's target CID (t->awaits holds it already), not at a
 * copy of its own: 9,000 promises are 1.9 MB less. */
static ipvm_ipld_t *clone_args(ipvm_arena_t *a, const ipvm_ipld_t *v, const ipvm_task_t *t)
{
    ipvm_await_kind_t kind;
    const ipvm_cid_t *target;
    if (v->kind == IPVM_IPLD_MAP && ipvm__wf_as_await(v, &kind, &target) == 1) {
        for (size_t k = 0; k < t->nawaits; k++) {
            ipvm_await_t *aw = &t->awaits[k];
            if (aw->kind != kind || !ipvm_cid_equal(&aw->target, target))
                continue;
            ipvm_ipld_t *m = ipvm_arena_alloc(a, sizeof *m + sizeof(ipvm_ipld_entry_t));
            ipvm_ipld_t *link = ipvm_arena_alloc(a, sizeof *link);
            if (m == NULL || link == NULL)
                return NULL;
            link->kind = IPVM_IPLD_LINK;
            link->u.link = &aw->target;
            m->kind = IPVM_IPLD_MAP;
            m->u.map.entries = (ipvm_ipld_entry_t *)(m + 1);
            m->u.map.len = m->u.map.cap = 1;
            m->u.map.sorted = true;
            m->u.map.entries[0].key = ipvm_await_kind_name(kind);
            m->u.map.entries[0].key_len = strlen(m->u.map.entries[0].key);
            m->u.map.entries[0].value = link;
            return m;
        }
    }
    if (v->kind != IPVM_IPLD_LIST)
        return ipvm_ipld_clone(a, v);
    ipvm_ipld_t *l = ipvm_arena_alloc(a, sizeof *l + v->u.list.len * sizeof(ipvm_ipld_t *));
    if (l == NULL)
        return NULL;
    l->kind = IPVM_IPLD_LIST;
    l->u.list.items = (ipvm_ipld_t **)(l + 1);
    l->u.list.len = l->u.list.cap = v->u.list.len;
    for (size_t i = 0; i < v->u.list.len; i++)
        if ((l->u.list.items[i] = clone_args(a, v->u.list.items[i], t)) == NULL)
            return NULL;
    return l;
}

static int compact_task(ipvm_task_t *t, const ipvm_task_t *prev, ipvm_arena_t *keep)
{
    t->args = clone_args(keep, t->args, t);
    t->rsc = prev && strcmp(prev->rsc, t->rsc) == 0 ? prev->rsc : ipvm_arena_strdup(keep, t->rsc);
    t->func = prev && strcmp(prev->func, t->func) == 0 ? prev->func
                                                       : ipvm_arena_strdup(keep, t->func);
    t->op = IPVM_OP_WASM_RUN;
    t->task = t->run = NULL;
    t->meta = NULL;
    return t->args == NULL || t->rsc == NULL || t->func == NULL ? IPVM_ENOMEM : 0;
}

static int compact_tasks(ipvm_workflow_t *wf, ipvm_arena_t *keep)
{
    for (size_t i = 0; i < wf->ntasks; i++) {
        int rc = compact_task(&wf->tasks[i], i ? &wf->tasks[i - 1] : NULL, keep);
        if (rc != 0)
            return rc;
    }
    wf->ipld = NULL;
    return 0;
}

/* Checks the document's shape and sizes the task table. */
static int check_shape(const ipvm_ipld_t *value, const ipvm_ipld_t **tasks, ipvm_error_t *err)
{
    if (value->kind != IPVM_IPLD_MAP)
        return ipvm_error_set(err, IPVM_EWORKFLOW, IPVM_NO_OFFSET,
                              "a workflow is a map {\"tasks\": [...]}, not %s",
                              ipvm_ipld_kind_name(value->kind));
    *tasks = ipvm_ipld_map_get(value, "tasks");
    if (*tasks == NULL || (*tasks)->kind != IPVM_IPLD_LIST)
        return ipvm_error_set(err, IPVM_EWORKFLOW, IPVM_NO_OFFSET,
                              "a workflow needs \"tasks\": a list of tasks%s",
                              *tasks ? " (it is not a list)" : "");
    size_t n = (*tasks)->u.list.len;
    if (n == 0)
        return ipvm_error_set(err, IPVM_EWORKFLOW, IPVM_NO_OFFSET, "the workflow has no tasks");
    if (n > IPVM_WORKFLOW_MAX_TASKS)
        return ipvm_error_set(err, IPVM_ETOOBIG, IPVM_NO_OFFSET,
                              "the workflow has %zu tasks; at most %d are accepted", n,
                              IPVM_WORKFLOW_MAX_TASKS);
    return 0;
}

/* Builds the workflow: its structures in `keep`, normalised IPLD in `tmp` (the same arena
 * unless opts->compact). */
static int build_workflow(const ipvm_ipld_t *value, const ipvm_workflow_opts_t *opts,
                          ipvm_arena_t *keep, ipvm_arena_t *tmp, ipvm_workflow_t *wf,
                          ipvm_buf_t *wfbuf, ipvm_buf_t *scratch, ipvm_error_t *err)
{
    const ipvm_ipld_t *tasks = NULL;
    int rc = check_shape(value, &tasks, err);
    if (rc != 0)
        return rc;
    size_t n = tasks->u.list.len;
    wf->tasks = ipvm__big_calloc(keep, n, sizeof *wf->tasks);
    if (wf->tasks == NULL)
        return IPVM_ENOMEM;
    wf->ntasks = n;
    rc = ipvm_buf_reserve(wfbuf, 64 + n * 320); /* a Homestar task is ~300 bytes */
    if (rc == 0)
        rc = ipvm_buf_append(wfbuf, WORKFLOW_PREFIX, sizeof WORKFLOW_PREFIX);
    if (rc == 0)
        rc = cbor_head(wfbuf, 4, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        wf->tasks[i].index = i;
        rc = build_task(tmp, &wf->tasks[i], tasks->u.list.items[i], wfbuf, scratch, err);
    }
    if (rc == 0)
        rc = finish_workflow(wf, keep, tmp, wfbuf);
    if (rc == 0)
        rc = index_tasks(wf, keep, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = ipvm__wf_scan_awaits(keep, &wf->tasks[i], err);
    if (rc == 0)
        rc = ipvm__wf_link_and_batch(wf, opts, keep, err);
    if (rc == 0 && opts->compact)
        rc = compact_tasks(wf, keep);
    return rc;
}

static int from_ipld(const ipvm_ipld_t *value, const ipvm_workflow_opts_t *opts,
                     ipvm_arena_t *arena, ipvm_arena_t *tmp, ipvm_workflow_t **out,
                     ipvm_error_t *err)
{
    static const ipvm_workflow_opts_t none = {0};
    ipvm_buf_t wfbuf = IPVM_BUF_INIT, scratch = IPVM_BUF_INIT;
    ipvm_workflow_t *wf = ipvm_arena_calloc(arena, 1, sizeof *wf);
    if (wf == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    int rc = build_workflow(value, opts ? opts : &none, arena, tmp, wf, &wfbuf, &scratch, err);
    ipvm_buf_dispose(&wfbuf);
    ipvm_buf_dispose(&scratch);
    if (rc == IPVM_ENOMEM && (err == NULL || err->code != IPVM_ENOMEM))
        ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory while reading the workflow");
    if (rc != 0)
        return rc;
    *out = wf;
    return 0;
}

int ipvm_workflow_from_ipld(const ipvm_ipld_t *value, const ipvm_workflow_opts_t *opts,
                            ipvm_arena_t *arena, ipvm_workflow_t **out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(value == NULL || arena == NULL || out == NULL);
    if (opts == NULL || !opts->compact)
        return from_ipld(value, opts, arena, arena, out, err);
    ipvm_arena_t tmp;
    ipvm_arena_init(&tmp);
    int rc = from_ipld(value, opts, arena, &tmp, out, err);
    ipvm_arena_dispose(&tmp);
    return rc;
}

/* Decodes with `decode` into the caller's arena, or (compact) into a scratch arena that is
 * freed once the workflow is built. */
typedef int (*decode_fn)(const void *buf, size_t len, ipvm_arena_t *a, ipvm_ipld_t **out,
                         ipvm_error_t *err);

static int json_fn(const void *buf, size_t len, ipvm_arena_t *a, ipvm_ipld_t **out,
                   ipvm_error_t *err)
{
    int rc = ipvm_dagjson_decode(buf, len, a, out, err);
    if (rc)
        ipvm_error_prefix(err, "the workflow is not valid DAG-JSON: "); /* (err may be NULL) */
    return rc;
}

static int cbor_fn(const void *buf, size_t len, ipvm_arena_t *a, ipvm_ipld_t **out,
                   ipvm_error_t *err)
{
    int rc = ipvm_dagcbor_decode(buf, len, a, out, err);
    if (rc)
        ipvm_error_prefix(err, "the workflow is not valid DAG-CBOR: "); /* (err may be NULL) */
    return rc;
}

static int parse_with(decode_fn decode, const void *buf, size_t len,
                      const ipvm_workflow_opts_t *opts, ipvm_arena_t *arena,
                      ipvm_workflow_t **out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF((buf == NULL && len > 0) || arena == NULL || out == NULL);
    bool compact = opts && opts->compact;
    ipvm_arena_t tmp;
    ipvm_arena_init(&tmp);
    ipvm_arena_t *doc = compact ? &tmp : arena;
    ipvm_ipld_t *v = NULL;
    int rc = decode(buf, len, doc, &v, err);
    if (rc == 0)
        rc = from_ipld(v, opts, arena, doc, out, err);
    ipvm_arena_dispose(&tmp);
    return rc;
}

/* ---- compact parse of DAG-JSON, task by task ----------------------------------------------
 * The decoded document of a 10,000-task workflow takes ~30 MB for 2.7 MB of text; a compact
 * parse needs none of it once each task is built. So the pull reader walks {"tasks": [...]}
 * and decodes one task at a time into a scratch arena, which is reset after the task is built
 * and compacted: the peak is one task's tree. Only the ordinary case streams: anything else
 * (a syntax or validation error, a duplicate or "/" key at the top, no tasks...) is left to
 * the whole-document path, which then gives exactly its usual verdict and message. */
#define STREAM_FALLBACK 1
#define MIN_TASK_JSON 64 /* bytes: no valid task is shorter (the smallest is 85) */

typedef struct {
    ipvm_dagjson_reader_t r;
    ipvm_arena_t *keep, tmp;
    ipvm_workflow_t *wf;
    size_t cap;      /* room in wf->tasks */
    ipvm_buf_t body; /* the tasks' DAG-CBOR, after a gap for the list head */
    ipvm_buf_t scratch;
    ipvm_error_t err; /* what failed while streaming (never shown: the fallback says it) */
} stream_t;

#define BODY_GAP 16 /* bytes before the first task: the map, "tasks" and the list head */

/* The tasks list, item by item. */
static int stream_tasks(stream_t *st)
{
    ipvm_ipld_kind_t kind;
    ipvm_workflow_t *wf = st->wf;
    if (ipvm_dagjson_reader_enter(&st->r, &kind, &st->err) != 0 || kind != IPVM_IPLD_LIST)
        return STREAM_FALLBACK;
    for (;;) {
        int more = ipvm_dagjson_reader_next(&st->r, &st->tmp, NULL, NULL, &st->err);
        if (more < 0 || wf->ntasks == st->cap)
            return STREAM_FALLBACK;
        if (more == 0)
            return 0;
        ipvm_ipld_t *v = NULL;
        ipvm_task_t *t = &wf->tasks[wf->ntasks];
        t->index = wf->ntasks;
        if (ipvm_dagjson_reader_value(&st->r, &st->tmp, &v, &st->err) != 0 ||
            build_task(&st->tmp, t, v, &st->body, &st->scratch, &st->err) != 0 ||
            ipvm__wf_scan_awaits(st->keep, t, &st->err) != 0 ||
            compact_task(t, t->index ? t - 1 : NULL, st->keep) != 0)
            return STREAM_FALLBACK;
        wf->ntasks++;
        ipvm_arena_reset(&st->tmp);
    }
}

/* The top map: "tasks" streamed, any other key's value decoded (it must be valid) and
 * dropped. Keys other than "tasks" are few in practice; more than 16, or one seen twice, go to
 * the whole-document path. */
static int stream_top(stream_t *st)
{
    ipvm_ipld_kind_t kind;
    const char *seen[16];
    size_t seen_len[16], nseen = 0;
    bool tasks = false;
    ipvm_arena_t keys;
    ipvm_arena_init(&keys);
    int rc = ipvm_dagjson_reader_enter(&st->r, &kind, &st->err) != 0 || kind != IPVM_IPLD_MAP
                 ? STREAM_FALLBACK
                 : 0;
    while (rc == 0) {
        const char *key = NULL;
        size_t klen = 0;
        int more = ipvm_dagjson_reader_next(&st->r, &keys, &key, &klen, &st->err);
        if (more <= 0) {
            rc = more < 0 ? STREAM_FALLBACK : 0;
            break;
        }
        bool dup = (klen == 1 && key[0] == '/') || nseen == 16;
        for (size_t i = 0; i < nseen && !dup; i++)
            dup = seen_len[i] == klen && memcmp(seen[i], key, klen) == 0;
        if (dup) {
            rc = STREAM_FALLBACK;
            break;
        }
        seen[nseen] = key;
        seen_len[nseen++] = klen;
        ipvm_ipld_t *v;
        if (rc == 0 && klen == 5 && memcmp(key, "tasks", 5) == 0)
            tasks = true, rc = stream_tasks(st);
        else if (rc == 0 && ipvm_dagjson_reader_value(&st->r, &st->tmp, &v, &st->err) != 0)
            rc = STREAM_FALLBACK;
        ipvm_arena_reset(&st->tmp);
    }
    ipvm_arena_dispose(&keys);
    if (rc == 0 && (ipvm_dagjson_reader_finish(&st->r, &st->err) != 0 || !tasks ||
                    st->wf->ntasks == 0 || st->wf->ntasks > IPVM_WORKFLOW_MAX_TASKS))
        rc = STREAM_FALLBACK;
    return rc;
}

/* The workflow's DAG-CBOR: the map head, "tasks" and the list head written into the gap
 * before the tasks' bytes; then the CID. The buffer is freed with `keep`. */
static int stream_finish_cbor(stream_t *st)
{
    ipvm_workflow_t *wf = st->wf;
    ipvm_buf_t head = IPVM_BUF_INIT;
    int rc = ipvm_buf_append(&head, WORKFLOW_PREFIX, sizeof WORKFLOW_PREFIX);
    if (rc == 0)
        rc = cbor_head(&head, 4, wf->ntasks);
    if (rc == 0 && head.len > BODY_GAP)
        rc = IPVM_ENOMEM; /* cannot happen: 7 + 9 bytes at most */
    uint8_t *start = st->body.data + BODY_GAP - head.len;
    if (rc == 0) {
        memcpy(start, head.data, head.len);
        wf->cbor_len = st->body.len - BODY_GAP + head.len;
        rc = ipvm_cid_create(&wf->cid, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256, start,
                             wf->cbor_len);
    }
    ipvm_buf_dispose(&head);
    if (rc == 0 && (rc = ipvm_arena_on_dispose(st->keep, ipvm_free, st->body.data)) == 0) {
        ipvm_buf_take(&st->body, NULL);
        wf->cbor = start;
    }
    return rc;
}

/* Returns 0 with *out set, an error of the workflow (a duplicate, an await, a cycle: err set),
 * or STREAM_FALLBACK when the whole-document path should parse it instead. */
static int parse_stream(const char *json, size_t len, const ipvm_workflow_opts_t *opts,
                        ipvm_arena_t *arena, ipvm_workflow_t **out, ipvm_error_t *err)
{
    stream_t st;
    memset(&st, 0, sizeof st);
    ipvm_dagjson_reader_init(&st.r, json, len, NULL);
    ipvm_arena_init(&st.tmp);
    ipvm_error_clear(&st.err);
    st.keep = arena;
    st.cap = len / MIN_TASK_JSON + 1;
    if (st.cap > IPVM_WORKFLOW_MAX_TASKS + 1)
        st.cap = IPVM_WORKFLOW_MAX_TASKS + 1;
    ipvm_workflow_t *wf = st.wf = ipvm_arena_calloc(arena, 1, sizeof *wf);
    int rc = wf ? 0 : STREAM_FALLBACK;
    /* room for every task the text could hold: pages past the last task are never touched */
    if (rc == 0 && (wf->tasks = ipvm__big_calloc(arena, st.cap, sizeof *wf->tasks)) == NULL)
        rc = STREAM_FALLBACK;
    static const uint8_t gap[BODY_GAP] = {0}; /* overwritten by stream_finish_cbor */
    if (rc == 0 && (ipvm_buf_reserve(&st.body, BODY_GAP + len / 2) != 0 ||
                    ipvm_buf_append(&st.body, gap, BODY_GAP) != 0))
        rc = STREAM_FALLBACK;
    if (rc == 0)
        rc = stream_top(&st);
    ipvm_dagjson_reader_dispose(&st.r);
    ipvm_arena_dispose(&st.tmp);
    ipvm_buf_dispose(&st.scratch);
    if (rc == 0) {
        ipvm__big_shrink(wf->tasks, st.cap * sizeof *wf->tasks, wf->ntasks * sizeof *wf->tasks);
        rc = stream_finish_cbor(&st) != 0 ? STREAM_FALLBACK : 0;
    }
    ipvm_buf_dispose(&st.body);
    if (rc != 0)
        return STREAM_FALLBACK;
    rc = index_tasks(wf, arena, err); /* (the awaits were found task by task) */
    if (rc == 0)
        rc = ipvm__wf_link_and_batch(wf, opts, arena, err);
    if (rc == IPVM_ENOMEM && (err == NULL || err->code != IPVM_ENOMEM))
        ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory while reading the workflow");
    if (rc == 0)
        *out = wf;
    return rc;
}

int ipvm_workflow_parse(const char *json, size_t len, const ipvm_workflow_opts_t *opts,
                        ipvm_arena_t *arena, ipvm_workflow_t **out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF((json == NULL && len > 0) || arena == NULL || out == NULL);
    if (opts && opts->compact) {
        int rc = parse_stream(json, len, opts, arena, out, err);
        if (rc != STREAM_FALLBACK)
            return rc;
    }
    return parse_with(json_fn, json, len, opts, arena, out, err);
}

int ipvm_workflow_decode(const uint8_t *cbor, size_t len, const ipvm_workflow_opts_t *opts,
                         ipvm_arena_t *arena, ipvm_workflow_t **out, ipvm_error_t *err)
{
    return parse_with(cbor_fn, cbor, len, opts, arena, out, err);
}

int ipvm_workflow_encode(const ipvm_workflow_t *wf, ipvm_buf_t *out, ipvm_error_t *err)
{
    (void)err;
    return ipvm_buf_append(out, wf->cbor, wf->cbor_len);
}

size_t ipvm_task_link_args(const ipvm_task_t *task, const ipvm_cid_t **links, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < task->args->u.list.len; i++) {
        const ipvm_ipld_t *v = task->args->u.list.items[i];
        if (v->kind != IPVM_IPLD_LINK)
            continue;
        if (n < max)
            links[n] = v->u.link;
        n++;
    }
    return n;
}
