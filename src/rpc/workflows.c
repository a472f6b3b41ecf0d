/* SPDX-License-Identifier: Apache-2.0 */
/* subscribe_run_workflow over the scheduler (homestar-runtime webserver/rpc.rs, listener.rs,
 * event_handler/notification/receipt.rs; reference/homestar.md §6.1): submissions queue to
 * runner threads, which parse, admit and run them with ipvm_sched_run - unless the loop could
 * parse and admit them itself: those start at once with ipvm_sched_start, on the scheduler's
 * threads (at most node.runners at a time). Each receipt event becomes Homestar's notification
 * document, encoded once on the thread that reports it and fanned out on the loop thread to
 * every subscription of the same (workflow CID, name). */
#include "rpc_int.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define RECENT_MAX 64        /* workflows the `workflows` method remembers */
#define RECENT_RECEIPTS 4096 /* receipt events kept per remembered workflow */

typedef struct job_s {
    struct job_s *next, *prev; /* the queue, then the running list */
    ipvm_rpc_workflows_t *w;
    ipvm_arena_t arena;      /* the submission, the parsed workflow, the run's result */
    ipvm_ipld_t *submission; /* {name, workflow, ...} (a copy); NULL when resumed */
    uint8_t *cbor;           /* resumed: the stored DAG-CBOR of the workflow */
    size_t cbor_len;
    char *name;
    ipvm_rpc_call_t *call; /* NULL when resumed (nobody waits) or once answered */
    ipvm_workflow_t *wf;   /* parsed and admitted on the loop (admit_on_loop), else NULL */
    void *auth;            /* what that admission returned */
    bool needs_store;      /* the loop's parse met an outside await: the runner parses */
    ipvm_sched_cancel_t cancel;
    char topic[IPVM_CID_MAX_STR + 260]; /* "<workflow cid>\n<name>" */
    char cid[IPVM_CID_MAX_STR];
    ipvm_arena_t ev; /* scratch for one event */
    ipvm_buf_t buf;
    ipvm_sched_result_t res; /* started on the loop (start_job): the run's result */
} job_t;

typedef struct recent_s {
    char cid[IPVM_CID_MAX_STR];
    char *started; /* JSON of the "workflow" node event */
    char **receipts;
    size_t nreceipts, cap;
    char *done; /* JSON of the "workflow_done" event, or NULL while running */
} recent_t;

struct ipvm_rpc_workflows_s {
    ipvm_rpc_server_t *server;
    ipvm_rpc_workflows_opts_t opts;
    char *db_path;
    pthread_mutex_t lock; /* guards the queue, the running list, draining and stop */
    pthread_cond_t cond;
    job_t *head, *tail;
    job_t *running;
    _Atomic size_t active; /* queued + running */
    size_t queued;
    bool draining, stop;
    size_t nstarted;             /* runs started on the loop whose on_done has not finished */
    pthread_cond_t started_cond; /* signalled when nstarted drops to 0 */
    job_t *shead, *stail;        /* admitted on the loop, waiting for one of those to end */
    size_t squeued;
    pthread_t *threads;
    unsigned nthreads;
    pthread_mutex_t store_lock;  /* guards store: one handle for all runners (rarely used) */
    ipvm_store_t *store;         /* opened on first use; for out-of-workflow awaits, status */
    recent_t recent[RECENT_MAX]; /* loop thread only; a ring */
    size_t nrecent, recent_next;
    uv_timer_t drain_timer;
    uint64_t drain_deadline_ns;
    void (*drain_cb)(void *);
    void *drain_data;
    ipvm_metric_t *m_submitted, *m_running, *m_queued, *m_completed, *m_failed, *m_executed,
        *m_replayed, *m_task_failed, *m_fuel, *m_task_seconds, *m_run_seconds;
};

/* ---- the loop side --------------------------------------------------------------------------- */

typedef struct post_s {
    ipvm_rpc_workflows_t *w;
    ipvm_rpc_call_t *call;
    int code;      /* reject: the JSON-RPC error */
    char *message; /* reject: the reason */
    char *topic;   /* accept; a receipt event: the notification's topic */
    char *event;   /* a node event's JSON ({"type":...}) */
    char *note;    /* a receipt event: Homestar's notification document (DAG-JSON) */
    size_t note_len;
    char cid[IPVM_CID_MAX_STR];
    /* 0 reject, 1 accept, 2 workflow event, 3 receipt event, 4 done event. A workflow event
     * with a call accepts it first: one hand-off to the loop for both. */
    int kind;
} post_t;

static void post_free(post_t *p)
{
    ipvm_free(p->message);
    ipvm_free(p->topic);
    ipvm_free(p->event);
    ipvm_free(p->note);
    ipvm_free(p);
}

static recent_t *recent_find(ipvm_rpc_workflows_t *w, const char *cid)
{
    for (size_t i = 0; i < w->nrecent; i++)
        if (strcmp(w->recent[i].cid, cid) == 0)
            return &w->recent[i];
    return NULL;
}

static void recent_clear(recent_t *r)
{
    ipvm_free(r->started);
    for (size_t i = 0; i < r->nreceipts; i++)
        ipvm_free(r->receipts[i]);
    ipvm_free(r->receipts);
    ipvm_free(r->done);
    memset(r, 0, sizeof *r);
}

/* Keeps what the dashboard needs to redraw a workflow (the `workflows` method). */
static void recent_note(ipvm_rpc_workflows_t *w, post_t *p)
{
    recent_t *r = recent_find(w, p->cid);
    if (p->kind == 2) {
        if (r == NULL) {
            r = &w->recent[w->recent_next];
            recent_clear(r);
            w->recent_next = (w->recent_next + 1) % RECENT_MAX;
            if (w->nrecent < RECENT_MAX)
                w->nrecent++;
            snprintf(r->cid, sizeof r->cid, "%s", p->cid);
        } else { /* a new run of a known workflow: it runs again */
            ipvm_free(r->done);
            r->done = NULL;
        }
        ipvm_free(r->started);
        r->started = ipvm_strdup(p->event);
        return;
    }
    if (r == NULL)
        return;
    if (p->kind == 4) {
        ipvm_free(r->done);
        r->done = ipvm_strdup(p->event);
    } else if (p->kind == 3 && r->nreceipts < RECENT_RECEIPTS) {
        if (r->nreceipts == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 16;
            char **x = ipvm_realloc(r->receipts, cap * sizeof *x);
            if (x == NULL)
                return;
            r->receipts = x;
            r->cap = cap;
        }
        char *e = ipvm_strdup(p->event);
        if (e)
            r->receipts[r->nreceipts++] = e;
    }
}

static void on_post(ipvm_rpc_server_t *s, void *data)
{
    post_t *p = data;
    if (s->closing) { /* the server frees its queue: answer nothing, just free */
        if (p->call && !p->call->answered)
            ipvm_rpc_call_fail(p->call, IPVM_RPC_SERVER_BUSY, "the node is shutting down");
        post_free(p);
        return;
    }
    switch (p->kind) {
    case 0:
        ipvm_rpc_call_fail(p->call, p->code, "%s", p->message);
        break;
    case 1:
        (void)ipvm_rpc_call_subscribe(p->call, p->topic, NULL);
        break;
    default:
        if (p->call) /* the accept travelling with the workflow event */
            (void)ipvm_rpc_call_subscribe(p->call, p->topic, NULL);
        if (p->note) /* subscribers first, as Homestar sends before its node events */
            ipvm_rpc_server_publish(s, "subscribe_run_workflow", p->topic, p->note, p->note_len,
                                    true);
        recent_note(p->w, p);
        ipvm_rpc_server_publish(s, "subscribe_node_events", "", p->event, strlen(p->event), false);
        ipvm_rpc_server_publish(s, "subscribe_node_events", p->cid, p->event, strlen(p->event),
                                false);
        break;
    }
    post_free(p);
}

/* lazy: the done event, which only node-event subscribers (a dashboard, `ipvm run --node`) and
 * the `workflows` method wait for: without such a subscriber it does not wake the loop, which
 * already woke for the workflow's last receipt (ipvm__rpc_post_lazy). */
static void post_as(ipvm_rpc_workflows_t *w, post_t *p, bool lazy)
{
    int rc =
        lazy ? ipvm__rpc_post_lazy(w->server, on_post, p) : ipvm__rpc_post(w->server, on_post, p);
    if (rc != 0) {
        /* Out of memory: a waiting call would hang, so the failure is logged; the client's
         * own timeout ends its wait. */
        ipvm_log(IPVM_LOG_ERROR, "rpc", "cannot hand a result to the loop: out of memory");
        post_free(p);
    }
}

static void post(ipvm_rpc_workflows_t *w, post_t *p)
{
    post_as(w, p, false);
}

static void post_reject(job_t *j, int code, const char *fmt, ...) IPVM_PRINTF(3, 4);
static void post_reject(job_t *j, int code, const char *fmt, ...)
{
    if (j->call == NULL)
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    post_t *p = ipvm_calloc(1, sizeof *p);
    if (p == NULL)
        return;
    p->w = j->w;
    p->call = j->call;
    p->kind = 0;
    p->code = code;
    p->message = ipvm_strdup(msg);
    j->call = NULL;
    post(j->w, p);
}

static void post_accept(job_t *j)
{
    post_t *p = ipvm_calloc(1, sizeof *p);
    if (p && (p->topic = ipvm_strdup(j->topic)) != NULL) {
        p->w = j->w;
        p->call = j->call;
        p->kind = 1;
        j->call = NULL;
        post(j->w, p);
    } else {
        ipvm_free(p);
        post_reject(j, IPVM_RPC_INTERNAL_ERROR, "out of memory");
    }
}

/* Hands a node event (json) to the loop, with what travels with it: for a receipt, its
 * notification (note, taken); for the workflow event, the pending call's accept. Returns
 * IPVM_ENOMEM when nothing was posted (note is freed). */
static int post_event(job_t *j, int kind, const ipvm_buf_t *json, char *note, size_t note_len)
{
    post_t *p = ipvm_calloc(1, sizeof *p);
    if (p == NULL) {
        ipvm_free(note);
        return IPVM_ENOMEM;
    }
    p->w = j->w;
    p->kind = kind;
    p->note = note;
    p->note_len = note_len;
    snprintf(p->cid, sizeof p->cid, "%s", j->cid);
    p->event = ipvm_strndup((const char *)json->data, json->len);
    if ((note || (kind == 2 && j->call)) && p->event &&
        (p->topic = ipvm_strdup(j->topic)) == NULL) {
        ipvm_free(p->event);
        p->event = NULL;
    }
    if (p->event == NULL) {
        post_free(p);
        return IPVM_ENOMEM;
    }
    if (kind == 2 && j->call) {
        p->call = j->call;
        j->call = NULL;
    }
    post_as(j->w, p, kind == 4);
    return 0;
}

/* ---- building notification documents (runner thread) ------------------------------------------
 */

/* Homestar's receipt notification: {"metadata": {"name", "replayed", "workflow"}, "receipt",
 * "receipt_cid"} (compat: homestar-runtime worker.rs builds the metadata map,
 * notification/receipt.rs the document; libipld's DAG-JSON sorts the keys as we do). */
static int receipt_doc(job_t *j, const ipvm_workflow_t *wf, const ipvm_sched_receipt_t *r,
                       ipvm_buf_t *out)
{
    ipvm_arena_t *a = &j->ev;
    ipvm_ipld_t *meta = ipvm_ipld_new_map(a, 3), *doc = ipvm_ipld_new_map(a, 3);
    ipvm_ipld_t *receipt = ipvm_receipt_to_ipld(a, &r->receipt);
    if (meta == NULL || doc == NULL || receipt == NULL)
        return IPVM_ENOMEM;
    int rc = ipvm_ipld_map_set_cstr(a, meta, "name", ipvm_ipld_new_cstring(a, j->name));
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(a, meta, "replayed", ipvm_ipld_new_bool(a, r->replayed));
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(a, meta, "workflow", ipvm_ipld_new_link(a, &wf->cid));
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(a, doc, "metadata", meta);
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(a, doc, "receipt", receipt);
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(a, doc, "receipt_cid", ipvm_ipld_new_link(a, &r->receipt.cid));
    if (rc == 0)
        rc = ipvm_dagjson_encode(doc, 0, out, NULL);
    return rc;
}

/* The dashboard's view of a workflow: its tasks and their edges. */
static int workflow_event(job_t *j, const ipvm_workflow_t *wf, ipvm_buf_t *b)
{
    char cid[IPVM_CID_MAX_STR];
    int rc = ipvm_buf_printf(b, "{\"type\":\"workflow\",\"cid\":\"%s\",\"name\":", j->cid);
    if (rc == 0)
        rc = ipvm_json_append_str(b, j->name, strlen(j->name));
    if (rc == 0)
        rc = ipvm_buf_printf(b, ",\"ms\":%llu,\"resumed\":%s,\"tasks\":[",
                             (unsigned long long)ipvm_wall_ms(), j->cbor ? "true" : "false");
    for (size_t i = 0; rc == 0 && i < wf->ntasks; i++) {
        const ipvm_task_t *t = &wf->tasks[i];
        rc = ipvm_buf_printf(b, "%s{\"i\":%zu,\"batch\":%zu,\"func\":", i ? "," : "", i, t->batch);
        if (rc == 0)
            rc = ipvm_json_append_str(b, t->func ? t->func : "", t->func ? strlen(t->func) : 0);
        if (rc == 0)
            rc = ipvm_buf_printf(b, ",\"instruction\":\"%s\",\"deps\":[",
                                 ipvm_cid_str(&t->instruction, cid));
        for (size_t d = 0; rc == 0 && d < t->ndeps; d++)
            rc = ipvm_buf_printf(b, "%s%zu", d ? "," : "", t->deps[d]);
        if (rc == 0)
            rc = ipvm_buf_append_str(b, "]}");
    }
    if (rc == 0)
        rc = ipvm_buf_append_str(b, "]}");
    return rc;
}

static int receipt_event(job_t *j, const ipvm_sched_event_t *ev, ipvm_buf_t *b)
{
    const ipvm_sched_receipt_t *r = ev->receipt;
    char cid[IPVM_CID_MAX_STR], summary[160];
    ipvm_ipld_summary(ipvm_receipt_value(&r->receipt), summary, sizeof summary);
    int rc =
        ipvm_buf_printf(b,
                        "{\"type\":\"receipt\",\"workflow\":\"%s\",\"task\":%zu,"
                        "\"receipt_cid\":\"%s\",\"ok\":%s,\"replayed\":%s,\"fuel\":%llu,"
                        "\"time_ms\":%.3f,\"done\":%zu,\"total\":%zu,\"out\":",
                        j->cid, r->task ? r->task->index : 0, ipvm_cid_str(&r->receipt.cid, cid),
                        r->receipt.ok ? "true" : "false", r->replayed ? "true" : "false",
                        (unsigned long long)r->fuel, (double)r->time_ns / 1e6, ev->done, ev->total);
    if (rc == 0)
        rc = ipvm_json_append_str(b, summary, strlen(summary));
    if (rc == 0)
        rc = ipvm_buf_append_byte(b, '}');
    return rc;
}

static int done_event(job_t *j, const ipvm_sched_event_t *ev, ipvm_buf_t *b)
{
    const char *status = ev->status == 0                       ? "completed"
                         : ev->status == IPVM_ETASKFAILED      ? "failed"
                         : ev->status == IPVM_ECANCELED        ? "canceled"
                         : ev->status == IPVM_EWORKFLOWTIMEOUT ? "timed out"
                                                               : "error";
    return ipvm_buf_printf(b,
                           "{\"type\":\"workflow_done\",\"cid\":\"%s\",\"status\":\"%s\","
                           "\"executed\":%zu,\"replayed\":%zu,\"failed\":%zu,\"total\":%zu,"
                           "\"elapsed_ms\":%.3f}",
                           j->cid, status, ev->executed, ev->replayed, ev->failed, ev->total,
                           (double)ev->elapsed_ns / 1e6);
}

static void count_receipt(ipvm_rpc_workflows_t *w, const ipvm_sched_receipt_t *r)
{
    if (r->replayed) {
        ipvm_metric_inc(w->m_replayed, 1);
    } else {
        ipvm_metric_inc(w->m_executed, 1);
        ipvm_metric_inc(w->m_fuel, r->fuel);
        ipvm_metric_observe(w->m_task_seconds, (double)r->time_ns / 1e9);
    }
    if (!r->receipt.ok)
        ipvm_metric_inc(w->m_task_failed, 1);
}

/* The scheduler's event callback (the run's thread). */
static void on_event(const ipvm_sched_event_t *ev, void *data)
{
    job_t *j = data;
    ipvm_rpc_workflows_t *w = j->w;
    ipvm_arena_reset(&j->ev);
    ipvm_buf_clear(&j->buf);
    switch (ev->kind) {
    case IPVM_SCHED_WORKFLOW_STARTED:
        /* the workflow is stored "running" now: the accept travels with this event, so a
         * client is answered only for a workflow a restart resumes, even after kill -9 */
        if (workflow_event(j, ev->workflow, &j->buf) == 0)
            (void)post_event(j, 2, &j->buf, NULL, 0);
        break;
    case IPVM_SCHED_TASK_FINISHED:
    case IPVM_SCHED_TASK_REPLAYED: {
        count_receipt(w, ev->receipt);
        size_t len = 0;
        char *note = NULL;
        int rc = receipt_doc(j, ev->workflow, ev->receipt, &j->buf);
        if (rc == 0 && (note = (char *)ipvm_buf_take(&j->buf, &len)) == NULL)
            rc = IPVM_ENOMEM;
        ipvm_buf_clear(&j->buf);
        if (rc == 0)
            rc = receipt_event(j, ev, &j->buf);
        if (rc == 0) {
            rc = post_event(j, 3, &j->buf, note, len); /* takes note */
            note = NULL;
        }
        ipvm_free(note);
        if (rc)
            ipvm_log(IPVM_LOG_ERROR, "rpc",
                     "workflow %s: a receipt notification was lost "
                     "(out of memory); it is in the store",
                     j->cid);
        break;
    }
    case IPVM_SCHED_WORKFLOW_DONE:
        ipvm_metric_inc(ev->status == 0 ? w->m_completed : w->m_failed, 1);
        ipvm_metric_observe(w->m_run_seconds, (double)ev->elapsed_ns / 1e9);
        if (done_event(j, ev, &j->buf) == 0)
            (void)post_event(j, 4, &j->buf, NULL, 0);
        break;
    default:
        break;
    }
}

/* ---- runner threads ------------------------------------------------------------------------ */

/* The shared store handle, locked; NULL (and unlocked) when it cannot be opened. */
static ipvm_store_t *store_lock(ipvm_rpc_workflows_t *w)
{
    pthread_mutex_lock(&w->store_lock);
    ipvm_error_t err;
    if (w->store == NULL && ipvm_store_open(w->db_path, 0, &w->store, &err) != 0) {
        ipvm_log(IPVM_LOG_WARN, "rpc", "cannot open %s: %s", w->db_path, err.msg);
        pthread_mutex_unlock(&w->store_lock);
        return NULL;
    }
    return w->store;
}

static void store_unlock(ipvm_rpc_workflows_t *w)
{
    pthread_mutex_unlock(&w->store_lock);
}

static bool known_receipt(void *data, const ipvm_cid_t *instruction)
{
    job_t *j = data;
    ipvm_store_t *st = store_lock(j->w);
    if (st == NULL)
        return false;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_receipt_row_t row;
    bool found = ipvm_store_find_receipt(st, instruction, &a, &row, NULL) == 0;
    ipvm_arena_dispose(&a);
    store_unlock(j->w);
    return found;
}

/* `known` decides an await of a CID outside the workflow: known_receipt on a runner (asks the
 * store), known_needs_store on the loop (no I/O there: notes it, so a runner parses again). */
static int parse_job(job_t *j, bool (*known)(void *, const ipvm_cid_t *), ipvm_workflow_t **wf,
                     ipvm_error_t *err)
{
    ipvm_workflow_opts_t wo = {0};
    wo.known = known;
    wo.known_data = j;
    if (j->cbor)
        return ipvm_workflow_decode(j->cbor, j->cbor_len, &wo, &j->arena, wf, err);
    return ipvm_workflow_from_ipld(ipvm_ipld_map_get(j->submission, "workflow"), &wo, &j->arena, wf,
                                   err);
}

static void run_job(job_t *j)
{
    ipvm_rpc_workflows_t *w = j->w;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_workflow_t *wf = j->wf;
    void *auth = j->auth;
    j->auth = NULL; /* freed below, after the run */
    int rc = wf ? 0 : parse_job(j, known_receipt, &wf, &err);
    if (rc) {
        char d[400];
        post_reject(j, IPVM_RPC_INVALID_PARAMS, "Invalid params: the workflow: %s",
                    ipvm_error_describe(&err, d, sizeof d));
        ipvm_log(IPVM_LOG_WARN, "rpc", "workflow refused: %s", d);
        return;
    }
    ipvm_cid_str(&wf->cid, j->cid);
    snprintf(j->topic, sizeof j->topic, "%s\n%s", j->cid, j->name);
    if (j->wf == NULL && w->opts.admit &&
        (rc = w->opts.admit(w->opts.admit_data, wf, j->name, j->submission, &auth, &err)) != 0) {
        post_reject(j, IPVM_RPC_SERVER_BUSY, "not able to run workflow %s: %s", j->cid,
                    err.msg[0] ? err.msg : ipvm_strerror(rc));
        return;
    }
    /* The call is accepted by the workflow's first event (on_event), in the same hand-off to
     * the loop, so before any of its receipts. */
    ipvm_sched_run_opts_t ro = {0};
    ro.name = j->name;
    ro.on_event = on_event;
    ro.event_data = j;
    ro.cancel = &j->cancel;
    ro.auth = auth;
    ipvm_sched_result_t res;
    ipvm_error_clear(&err);
    rc = ipvm_sched_run(w->opts.sched, wf, &ro, &j->arena, &res, &err);
    if (j->call) /* no event came (out of memory, or the run failed before starting) */
        post_accept(j);
    ipvm_store_t *st;
    if (rc == IPVM_ECANCELED && (st = store_lock(w)) != NULL) {
        /* Stopped by a drain: keep it "running" so the next start resumes it. */
        ipvm_error_t e2;
        if (ipvm_store_set_workflow_status(st, &wf->cid, IPVM_WF_RUNNING, &e2) != 0)
            ipvm_log(IPVM_LOG_WARN, "rpc", "workflow %s will not resume: %s", j->cid, e2.msg);
        store_unlock(w);
    } else if (rc && rc != IPVM_ETASKFAILED) {
        ipvm_log(IPVM_LOG_WARN, "rpc", "workflow %s (%s): %s", j->cid, j->name,
                 err.msg[0] ? err.msg : ipvm_strerror(rc));
    }
    if (auth && w->opts.auth_free)
        w->opts.auth_free(w->opts.admit_data, auth);
}

static void job_free(job_t *j)
{
    if (j->auth && j->w->opts.auth_free) /* admitted on the loop, never run */
        j->w->opts.auth_free(j->w->opts.admit_data, j->auth);
    ipvm_buf_dispose(&j->buf);
    ipvm_arena_dispose(&j->ev);
    ipvm_arena_dispose(&j->arena);
    ipvm_free(j);
}

static void *runner_main(void *arg)
{
    ipvm_rpc_workflows_t *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (w->head == NULL && !w->stop)
            pthread_cond_wait(&w->cond, &w->lock);
        job_t *j = w->head;
        if (j == NULL) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        w->head = j->next;
        if (w->head == NULL)
            w->tail = NULL;
        w->queued--;
        j->prev = NULL;
        j->next = w->running;
        if (w->running)
            w->running->prev = j;
        w->running = j;
        if (w->draining)
            ipvm_sched_cancel_fire(&j->cancel);
        ipvm_metric_set(w->m_queued, (int64_t)(w->queued + w->squeued));
        pthread_mutex_unlock(&w->lock);

        ipvm_metric_add(w->m_running, 1);
        run_job(j);
        if (j->call) /* never answered (cannot happen: every path answers) */
            post_reject(j, IPVM_RPC_INTERNAL_ERROR, "the workflow was dropped");
        ipvm_metric_add(w->m_running, -1);

        pthread_mutex_lock(&w->lock);
        if (j->prev)
            j->prev->next = j->next;
        else
            w->running = j->next;
        if (j->next)
            j->next->prev = j->prev;
        pthread_mutex_unlock(&w->lock);
        job_free(j);
        atomic_fetch_sub(&w->active, 1);
    }
    return NULL;
}

/* ---- runs started on the loop ------------------------------------------------------------------
 * A workflow parsed and admitted on the loop needs no runner: ipvm_sched_start hands it to the
 * scheduler's workers, which report its events (posted to the loop from there) and its end
 * (job_done, on a worker). No thread hand-off and no runner wake-up per workflow. */

static void running_remove(ipvm_rpc_workflows_t *w, job_t *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        w->running = j->next;
    if (j->next)
        j->next->prev = j->prev;
}

static void start_now(ipvm_rpc_workflows_t *w, job_t *j);

/* What run_job does after ipvm_sched_run returns, for a started run (a worker thread); then
 * the next admitted workflow waiting for a slot starts. */
static void job_done(int rc, ipvm_sched_result_t *res, const ipvm_error_t *err, void *data)
{
    (void)res;
    job_t *j = data;
    ipvm_rpc_workflows_t *w = j->w;
    if (j->call) /* no event came: the run failed (or was cancelled) before it was stored */
        post_reject(j, rc == IPVM_ECANCELED ? IPVM_RPC_SERVER_BUSY : IPVM_RPC_INTERNAL_ERROR,
                    "not able to run workflow %s: %s", j->cid,
                    rc == IPVM_ECANCELED ? "the node is shutting down; submit it again"
                    : err->msg[0]        ? err->msg
                                         : ipvm_strerror(rc));
    ipvm_store_t *st;
    if (rc == IPVM_ECANCELED && (st = store_lock(w)) != NULL) {
        /* Stopped by a drain: keep it "running" so the next start resumes it. */
        ipvm_error_t e2;
        if (ipvm_store_set_workflow_status(st, &j->wf->cid, IPVM_WF_RUNNING, &e2) != 0)
            ipvm_log(IPVM_LOG_WARN, "rpc", "workflow %s will not resume: %s", j->cid, e2.msg);
        store_unlock(w);
    } else if (rc && rc != IPVM_ETASKFAILED) {
        ipvm_log(IPVM_LOG_WARN, "rpc", "workflow %s (%s): %s", j->cid, j->name,
                 err->msg[0] ? err->msg : ipvm_strerror(rc));
    }
    ipvm_metric_add(w->m_running, -1);
    pthread_mutex_lock(&w->lock);
    running_remove(w, j);
    job_t *next = w->stop ? NULL : w->shead; /* stop: ipvm_rpc_workflows_free drops them */
    if (next) {
        w->shead = next->next;
        if (w->shead == NULL)
            w->stail = NULL;
        w->squeued--;
        w->nstarted++;
        ipvm_metric_set(w->m_queued, (int64_t)(w->queued + w->squeued));
    }
    pthread_mutex_unlock(&w->lock);
    job_free(j); /* frees the admission's auth too */
    atomic_fetch_sub(&w->active, 1);
    if (next)
        start_now(w, next);
    pthread_mutex_lock(&w->lock); /* last: ipvm_rpc_workflows_free waits for this */
    if (--w->nstarted == 0)
        pthread_cond_broadcast(&w->started_cond);
    pthread_mutex_unlock(&w->lock);
}

/* Starts j, which holds a slot (nstarted counts it). Any thread. */
static void start_now(ipvm_rpc_workflows_t *w, job_t *j)
{
    pthread_mutex_lock(&w->lock);
    j->prev = NULL;
    j->next = w->running;
    if (w->running)
        w->running->prev = j;
    w->running = j;
    if (w->draining) /* accepted before a drain: starts, stops at once, resumes next start */
        ipvm_sched_cancel_fire(&j->cancel);
    pthread_mutex_unlock(&w->lock);
    ipvm_metric_add(w->m_running, 1);
    ipvm_sched_run_opts_t ro = {0};
    ro.name = j->name;
    ro.on_event = on_event;
    ro.event_data = j;
    ro.cancel = &j->cancel;
    ro.auth = j->auth;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_sched_start(w->opts.sched, j->wf, &ro, &j->arena, &j->res, job_done, j, &err) == 0)
        return;
    ipvm_log(IPVM_LOG_ERROR, "rpc", "workflow %s (%s) dropped: %s", j->cid, j->name, err.msg);
    post_reject(j, IPVM_RPC_INTERNAL_ERROR, "not able to run workflow %s: %s", j->cid, err.msg);
    ipvm_metric_add(w->m_running, -1);
    pthread_mutex_lock(&w->lock);
    running_remove(w, j);
    pthread_mutex_unlock(&w->lock);
    job_free(j);
    atomic_fetch_sub(&w->active, 1);
    pthread_mutex_lock(&w->lock);
    if (--w->nstarted == 0)
        pthread_cond_broadcast(&w->started_cond);
    pthread_mutex_unlock(&w->lock);
}

/* Appends j to a queue of jobs (caller holds w->lock). */
static void job_append(job_t **head, job_t **tail, job_t *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

/* Starts j (parsed and admitted on the loop) now, or when a slot frees: at most
 * node.runners such runs at a time, as for the runners (each run holds two store handles and
 * a writer thread). IPVM_ECANCELED while draining (j is still the caller's then). */
static int start_job(ipvm_rpc_workflows_t *w, job_t *j)
{
    pthread_mutex_lock(&w->lock);
    if (w->draining || w->stop) {
        pthread_mutex_unlock(&w->lock);
        return IPVM_ECANCELED;
    }
    atomic_fetch_add(&w->active, 1);
    bool now = w->nstarted < w->opts.runners;
    if (now) {
        w->nstarted++;
    } else {
        job_append(&w->shead, &w->stail, j);
        w->squeued++;
        ipvm_metric_set(w->m_queued, (int64_t)(w->queued + w->squeued));
    }
    pthread_mutex_unlock(&w->lock);
    if (now)
        start_now(w, j);
    return 0;
}

/* ---- submissions (loop thread) ----------------------------------------------------------------
 */

static int enqueue(ipvm_rpc_workflows_t *w, job_t *j)
{
    pthread_mutex_lock(&w->lock);
    bool refuse = w->draining || w->stop;
    if (!refuse) {
        job_append(&w->head, &w->tail, j);
        w->queued++;
        atomic_fetch_add(&w->active, 1);
        ipvm_metric_set(w->m_queued, (int64_t)(w->queued + w->squeued));
        pthread_cond_signal(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    return refuse ? IPVM_ECANCELED : 0;
}

static job_t *job_new(ipvm_rpc_workflows_t *w)
{
    job_t *j = ipvm_calloc(1, sizeof *j);
    if (j == NULL)
        return NULL;
    j->w = w;
    ipvm_arena_init(&j->arena);
    ipvm_arena_init(&j->ev);
    return j;
}

/* compat: Homestar names an unnamed run with a random id from the `names` crate; ours is
 * "workflow-" and 8 random characters. */
static char *default_name(ipvm_arena_t *a)
{
    char id[17];
    ipvm__rpc_random_id(id);
    return ipvm_arena_printf(a, "workflow-%.8s", id);
}

/* params: [{"name": s, "workflow": {...}}] or [<bytes of the DAG-CBOR of that map>]. Returns
 * the submission map in the job's arena, or NULL after failing the call. */
static ipvm_ipld_t *read_submission(ipvm_rpc_call_t *call, const ipvm_ipld_t *params,
                                    ipvm_arena_t *a)
{
    if (params == NULL || params->kind != IPVM_IPLD_LIST || params->u.list.len != 1) {
        ipvm_rpc_call_fail(call, IPVM_RPC_INVALID_PARAMS,
                           "Invalid params: expected [{\"name\": \"...\", \"workflow\": "
                           "{\"tasks\": [...]}}] or [<DAG-CBOR bytes of it>]");
        return NULL;
    }
    const ipvm_ipld_t *p = params->u.list.items[0];
    ipvm_ipld_t *sub = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (p->kind == IPVM_IPLD_LIST) {
        ipvm_buf_t bytes = IPVM_BUF_INIT;
        int rc = ipvm_rpc_json_to_bytes(p, &bytes, &err);
        if (rc == 0)
            rc = ipvm_dagcbor_decode(bytes.data ? bytes.data : (const uint8_t *)"", bytes.len, a,
                                     &sub, &err);
        ipvm_buf_dispose(&bytes);
        if (rc) {
            char d[400];
            ipvm_rpc_call_fail(call, IPVM_RPC_INVALID_PARAMS,
                               "Invalid params: the DAG-CBOR run: %s",
                               ipvm_error_describe(&err, d, sizeof d));
            return NULL;
        }
    } else if (p->kind == IPVM_IPLD_MAP) {
        sub = ipvm_ipld_clone(a, p);
        if (sub == NULL) {
            ipvm_rpc_call_fail(call, IPVM_RPC_INTERNAL_ERROR, "out of memory");
            return NULL;
        }
    }
    const ipvm_ipld_t *name = sub ? ipvm_ipld_map_get(sub, "name") : NULL;
    const ipvm_ipld_t *wf = sub ? ipvm_ipld_map_get(sub, "workflow") : NULL;
    if (sub == NULL || sub->kind != IPVM_IPLD_MAP || wf == NULL || wf->kind != IPVM_IPLD_MAP) {
        ipvm_rpc_call_fail(call, IPVM_RPC_INVALID_PARAMS,
                           "Invalid params: the run must be a map with \"workflow\": "
                           "{\"tasks\": [...]} and an optional \"name\"");
        return NULL;
    }
    if (name && name->kind != IPVM_IPLD_STRING && name->kind != IPVM_IPLD_NULL) {
        ipvm_rpc_call_fail(call, IPVM_RPC_INVALID_PARAMS,
                           "Invalid params: \"name\" must be a string");
        return NULL;
    }
    return sub;
}

/* The loop's parse: an await outside the workflow needs the store (a runner asks it). */
static bool known_needs_store(void *data, const ipvm_cid_t *instruction)
{
    (void)instruction;
    ((job_t *)data)->needs_store = true;
    return false;
}

/* Parses and admits the submission on the loop when neither needs I/O (no outside await, an
 * admission that says it is in memory): then the answer leaves in this loop turn, not after a
 * hand-off to a runner and back (one loop and one runner wake-up per workflow fewer). Sets
 * j->wf when admitted; returns 1 when the call was failed (j->call is then NULL), 0 otherwise
 * (j->wf NULL: the runner parses and admits, as for a resumed workflow). */
/* A workflow the loop may parse without holding up the other clients: a few tasks, which is
 * every interactive submission; a larger one (a 10,000-task workflow parses in ~70 ms) goes to
 * a runner, as before. */
#define LOOP_PARSE_MAX_TASKS 256

static bool small_enough_for_loop(const ipvm_ipld_t *workflow)
{
    if (workflow == NULL || workflow->kind != IPVM_IPLD_MAP)
        return false; /* DAG-CBOR bytes or a malformed submission: a runner decides */
    const ipvm_ipld_t *tasks = ipvm_ipld_map_get(workflow, "tasks");
    return tasks && tasks->kind == IPVM_IPLD_LIST && tasks->u.list.len <= LOOP_PARSE_MAX_TASKS;
}

static int admit_on_loop(ipvm_rpc_workflows_t *w, job_t *j)
{
    if (!small_enough_for_loop(ipvm_ipld_map_get(j->submission, "workflow")))
        return 0;
    if (w->opts.admit &&
        (w->opts.admit_inline == NULL || !w->opts.admit_inline(w->opts.admit_data, j->submission)))
        return 0;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_workflow_t *wf = NULL;
    int rc = parse_job(j, known_needs_store, &wf, &err);
    if (rc && j->needs_store)
        return 0;
    if (rc) {
        char d[400];
        ipvm_rpc_call_fail(j->call, IPVM_RPC_INVALID_PARAMS, "Invalid params: the workflow: %s",
                           ipvm_error_describe(&err, d, sizeof d));
        ipvm_log(IPVM_LOG_WARN, "rpc", "workflow refused: %s", d);
        j->call = NULL;
        return 1;
    }
    ipvm_cid_str(&wf->cid, j->cid);
    snprintf(j->topic, sizeof j->topic, "%s\n%s", j->cid, j->name);
    void *auth = NULL;
    if (w->opts.admit &&
        (rc = w->opts.admit(w->opts.admit_data, wf, j->name, j->submission, &auth, &err)) != 0) {
        ipvm_rpc_call_fail(j->call, IPVM_RPC_SERVER_BUSY, "not able to run workflow %s: %s", j->cid,
                           err.msg[0] ? err.msg : ipvm_strerror(rc));
        j->call = NULL;
        return 1;
    }
    j->wf = wf;
    j->auth = auth;
    return 0;
}

static int m_subscribe_run(ipvm_rpc_call_t *call, const ipvm_ipld_t *params, void *data)
{
    ipvm_rpc_workflows_t *w = data;
    size_t active = atomic_load(&w->active);
    if (active >= w->opts.max_workflows) {
        ipvm_rpc_call_fail(call, IPVM_RPC_SERVER_BUSY,
                           "not able to run workflow: the node is busy (%zu workflows queued or "
                           "running; node.max_workflows); try again later",
                           active);
        return 0;
    }
    job_t *j = job_new(w);
    if (j == NULL)
        return IPVM_ENOMEM;
    j->submission = read_submission(call, params, &j->arena);
    if (j->submission == NULL) {
        job_free(j);
        return 0;
    }
    const ipvm_ipld_t *name = ipvm_ipld_map_get(j->submission, "name");
    j->name = name && name->kind == IPVM_IPLD_STRING
                  ? ipvm_arena_strndup(&j->arena, name->u.str.ptr, name->u.str.len)
                  : default_name(&j->arena);
    if (j->name == NULL || strlen(j->name) > 255) {
        ipvm_rpc_call_fail(call, IPVM_RPC_INVALID_PARAMS,
                           "Invalid params: \"name\" is longer than 255 bytes or holds a NUL");
        job_free(j);
        return 0;
    }
    j->call = call;
    ipvm_metric_inc(w->m_submitted, 1);
    if (admit_on_loop(w, j) != 0) {
        job_free(j);
        return 0;
    }
    /* Not answered here, even when admitted here: the answer travels with the workflow's
     * first event (on_event), which comes once the run has stored it "running", so a
     * workflow a client was answered for is resumed by a restart, even after kill -9 (a run
     * waiting for a slot has stored nothing yet). j belongs to the runners (or the
     * scheduler) once queued or started. */
    int rc = j->wf ? start_job(w, j) : enqueue(w, j);
    if (rc != 0) {
        job_free(j);
        if (rc == IPVM_ENOMEM)
            ipvm_rpc_call_fail(call, IPVM_RPC_INTERNAL_ERROR, "out of memory");
        else
            ipvm_rpc_call_fail(call, IPVM_RPC_SERVER_BUSY,
                               "not able to run workflow: the node is shutting down");
        return 0;
    }
    return 0;
}

/* `workflows`: what the node remembers of recent runs, for a dashboard that just opened. */
static int m_workflows(ipvm_rpc_call_t *call, const ipvm_ipld_t *params, void *data)
{
    (void)params;
    ipvm_rpc_workflows_t *w = data;
    ipvm__rpc_run_queue(w->server); /* the done events posted lazily (post_as) */
    ipvm_buf_t b = IPVM_BUF_INIT;
    int rc = ipvm_buf_printf(&b, "{\"active\":%zu,\"workflows\":[", atomic_load(&w->active));
    size_t first = (w->recent_next + RECENT_MAX - w->nrecent) % RECENT_MAX;
    for (size_t k = 0; rc == 0 && k < w->nrecent; k++) {
        const recent_t *r = &w->recent[(first + k) % RECENT_MAX];
        rc = ipvm_buf_printf(&b, "%s{\"started\":%s,\"done\":%s,\"receipts\":[", k ? "," : "",
                             r->started ? r->started : "null", r->done ? r->done : "null");
        for (size_t i = 0; rc == 0 && i < r->nreceipts; i++)
            rc = ipvm_buf_printf(&b, "%s%s", i ? "," : "", r->receipts[i]);
        if (rc == 0)
            rc = ipvm_buf_append_str(&b, "]}");
    }
    if (rc == 0)
        rc = ipvm_buf_append_str(&b, "]}");
    if (rc == 0)
        ipvm_rpc_call_reply(call, (const char *)b.data, b.len);
    ipvm_buf_dispose(&b);
    return rc;
}

static const char run_params[] =
    "[{\"name\":\"run\",\"required\":true,\"schema\":{\"oneOf\":["
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"workflow\":"
    "{\"type\":\"object\",\"properties\":{\"tasks\":{\"type\":\"array\"}},"
    "\"required\":[\"tasks\"]}},\"required\":[\"workflow\"]},"
    "{\"type\":\"array\",\"items\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":255},"
    "\"description\":\"the DAG-CBOR bytes of {name, workflow}\"}]}}]";

static const ipvm_rpc_method_t run_method = {
    "subscribe_run_workflow",
    "Runs a workflow and streams one notification per receipt: the DAG-JSON bytes of "
    "{metadata: {name, replayed, workflow}, receipt, receipt_cid} as an array of numbers",
    run_params,
    "{\"name\":\"subscription id\",\"schema\":{\"type\":\"string\"}}",
    m_subscribe_run,
    NULL};

static const ipvm_rpc_method_t workflows_method = {
    "workflows", "ipvm extension: recent workflows with their task graph, receipts and outcome",
    "[]",        "{\"name\":\"workflows\",\"schema\":{\"type\":\"object\"}}",
    m_workflows, NULL};

static void register_metrics(ipvm_rpc_workflows_t *w)
{
    ipvm_metrics_t *m = w->opts.metrics;
    static const double task_s[] = {0.0001, 0.001, 0.01, 0.1, 1, 10, 100};
    static const double run_s[] = {0.001, 0.01, 0.1, 1, 10, 100, 1000};
    if (m == NULL)
        return;
    w->m_submitted = ipvm_metrics_add(m, IPVM_METRIC_COUNTER, "workflows_submitted_total",
                                      "Workflows submitted over JSON-RPC", NULL, 0);
    w->m_running = ipvm_metrics_add(m, IPVM_METRIC_GAUGE, "workflows_running",
                                    "Workflows being run now", NULL, 0);
    w->m_queued = ipvm_metrics_add(m, IPVM_METRIC_GAUGE, "workflows_queued",
                                   "Workflows waiting for a runner (queue depth)", NULL, 0);
    w->m_completed = ipvm_metrics_add(m, IPVM_METRIC_COUNTER, "workflows_completed_total",
                                      "Workflows whose every task has an ok receipt", NULL, 0);
    w->m_failed = ipvm_metrics_add(m, IPVM_METRIC_COUNTER, "workflows_failed_total",
                                   "Workflows that ended with an error receipt, a timeout or "
                                   "a cancel",
                                   NULL, 0);
    w->m_executed = ipvm_metrics_add(m, IPVM_METRIC_COUNTER, "tasks_run_total",
                                     "Tasks executed by this node", NULL, 0);
    w->m_replayed = ipvm_metrics_add(m, IPVM_METRIC_COUNTER, "tasks_replayed_total",
                                     "Tasks answered from an existing receipt", NULL, 0);
    w->m_task_failed = ipvm_metrics_add(m, IPVM_METRIC_COUNTER, "tasks_failed_total",
                                        "Tasks with an error receipt", NULL, 0);
    w->m_fuel = ipvm_metrics_add(m, IPVM_METRIC_COUNTER, "fuel_used_total",
                                 "Wasm fuel used by executed tasks", NULL, 0);
    w->m_task_seconds = ipvm_metrics_add(m, IPVM_METRIC_HISTOGRAM, "task_seconds",
                                         "Wall time of executed tasks", task_s, 7);
    w->m_run_seconds = ipvm_metrics_add(m, IPVM_METRIC_HISTOGRAM, "workflow_seconds",
                                        "Wall time of workflow runs", run_s, 7);
}

int ipvm_rpc_workflows_new(ipvm_rpc_server_t *s, const ipvm_rpc_workflows_opts_t *opts,
                           ipvm_rpc_workflows_t **out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(opts == NULL || opts->sched == NULL || opts->db_path == NULL);
    ipvm_rpc_workflows_t *w = ipvm_calloc(1, sizeof *w);
    if (w == NULL)
        return IPVM_ENOMEM;
    w->server = s;
    w->opts = *opts;
    if (w->opts.runners == 0)
        w->opts.runners = 16;
    if (w->opts.max_workflows == 0)
        w->opts.max_workflows = 10000;
    w->db_path = ipvm_strdup(opts->db_path);
    w->threads = ipvm_calloc(w->opts.runners, sizeof *w->threads);
    if (w->db_path == NULL || w->threads == NULL) {
        ipvm_free(w->db_path);
        ipvm_free(w->threads);
        ipvm_free(w);
        return IPVM_ENOMEM;
    }
    w->opts.db_path = w->db_path;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_cond_init(&w->started_cond, NULL);
    pthread_mutex_init(&w->store_lock, NULL);
    register_metrics(w);
    ipvm_rpc_method_t run = run_method, list = workflows_method;
    run.data = list.data = w;
    int rc = ipvm_rpc_server_add_subscription(s, &run, "unsubscribe_run_workflow");
    if (rc == 0)
        rc = ipvm_rpc_server_add_method(s, &list);
    for (unsigned i = 0; rc == 0 && i < w->opts.runners; i++) {
        if (pthread_create(&w->threads[i], NULL, runner_main, w) != 0)
            rc = ipvm_error_set(err, IPVM_EINTERNAL, IPVM_NO_OFFSET,
                                "cannot start workflow runner threads");
        else
            w->nthreads++;
    }
    uv_timer_init(s->loop, &w->drain_timer);
    w->drain_timer.data = w;
    *out = w;
    if (rc) {
        w->drain_cb = NULL;
        ipvm_rpc_workflows_free(w);
        *out = NULL;
    }
    return rc;
}

static int resume_one(const ipvm_workflow_row_t *row, void *data)
{
    ipvm_rpc_workflows_t *w = data;
    if (row->workflow == NULL || row->workflow_len == 0)
        return 0; /* a row from Homestar's own database: it kept no workflow to rerun */
    job_t *j = job_new(w);
    if (j == NULL)
        return IPVM_ENOMEM;
    j->cbor = ipvm_arena_memdup(&j->arena, row->workflow, row->workflow_len);
    j->cbor_len = row->workflow_len;
    j->name = row->name ? ipvm_arena_strdup(&j->arena, row->name) : default_name(&j->arena);
    if (j->cbor == NULL || j->name == NULL || enqueue(w, j) != 0) {
        job_free(j);
        return IPVM_ENOMEM;
    }
    return 0;
}

int ipvm_rpc_workflows_resume(ipvm_rpc_workflows_t *w, size_t *count, ipvm_error_t *err)
{
    ipvm_store_t *st = NULL;
    size_t before = atomic_load(&w->active);
    int rc = ipvm_store_open(w->db_path, 0, &st, err);
    if (rc == 0)
        rc = ipvm_store_each_workflow(st, IPVM_WF_RUNNING, resume_one, w, err);
    ipvm_store_close(st);
    if (count)
        *count = atomic_load(&w->active) - before;
    return rc;
}

size_t ipvm_rpc_workflows_active(const ipvm_rpc_workflows_t *w)
{
    return atomic_load(&((ipvm_rpc_workflows_t *)w)->active);
}

static void on_drain_tick(uv_timer_t *t)
{
    ipvm_rpc_workflows_t *w = t->data;
    if (atomic_load(&w->active) > 0 && ipvm_now_ns() < w->drain_deadline_ns)
        return;
    uv_timer_stop(t);
    if (atomic_load(&w->active) > 0)
        ipvm_log(IPVM_LOG_WARN, "rpc", "%zu workflows still running after the shutdown timeout",
                 atomic_load(&w->active));
    void (*cb)(void *) = w->drain_cb;
    w->drain_cb = NULL;
    if (cb)
        cb(w->drain_data);
}

void ipvm_rpc_workflows_drain(ipvm_rpc_workflows_t *w, uint64_t timeout_ms, void (*cb)(void *data),
                              void *data)
{
    pthread_mutex_lock(&w->lock);
    w->draining = true;
    /* Queued submissions never started: their clients get an answer, resumed ones stay
     * "running" in the store for the next start. */
    job_t *q = NULL, **qt = &q, *keep = NULL, *ktail = NULL;
    /* Those already accepted on the loop stay: their client was told "subscribed", so they
     * start (and stop at once, cancelled, kept "running" for the next start, as the running
     * ones are). */
    for (job_t *j = w->head, *next; j; j = next) {
        next = j->next;
        j->next = NULL;
        if (j->wf) {
            if (ktail)
                ktail->next = j;
            else
                keep = j;
            ktail = j;
        } else {
            *qt = j;
            qt = &j->next;
            w->queued--;
        }
    }
    w->head = keep;
    w->tail = ktail;
    for (job_t *j = w->running; j; j = j->next)
        ipvm_sched_cancel_fire(&j->cancel);
    pthread_mutex_unlock(&w->lock);
    while (q) {
        job_t *next = q->next;
        if (q->call)
            ipvm_rpc_call_fail(q->call, IPVM_RPC_SERVER_BUSY,
                               "not able to run workflow: the node is shutting down");
        job_free(q);
        atomic_fetch_sub(&w->active, 1);
        q = next;
    }
    ipvm_metric_set(w->m_queued, (int64_t)(w->queued + w->squeued));
    w->drain_cb = cb;
    w->drain_data = data;
    w->drain_deadline_ns = ipvm_now_ns() + timeout_ms * 1000000u;
    uv_timer_start(&w->drain_timer, on_drain_tick, 0, 10);
}

static void on_timer_closed(uv_handle_t *h)
{
    ipvm_rpc_workflows_t *w = h->data;
    for (size_t i = 0; i < RECENT_MAX; i++)
        recent_clear(&w->recent[i]);
    ipvm_store_close(w->store);
    pthread_mutex_destroy(&w->store_lock);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    pthread_cond_destroy(&w->started_cond);
    ipvm_free(w->threads);
    ipvm_free(w->db_path);
    ipvm_free(w);
}

void ipvm_rpc_workflows_free(ipvm_rpc_workflows_t *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    w->draining = true;
    for (job_t *j = w->running; j; j = j->next)
        ipvm_sched_cancel_fire(&j->cancel);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    for (unsigned i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    pthread_mutex_lock(&w->lock); /* the started runs (cancelled above) end too */
    while (w->nstarted > 0)
        pthread_cond_wait(&w->started_cond, &w->lock);
    job_t *sq = w->shead; /* never started (stop): dropped */
    w->shead = w->stail = NULL;
    pthread_mutex_unlock(&w->lock);
    while (sq) {
        job_t *n = sq->next;
        if (sq->call)
            ipvm_rpc_call_fail(sq->call, IPVM_RPC_SERVER_BUSY, "the node is shutting down");
        job_free(sq);
        atomic_fetch_sub(&w->active, 1);
        sq = n;
    }
    /* What the runners posted refers to w: deliver it now, before w goes. */
    ipvm__rpc_run_queue(w->server);
    while (w->head) { /* only when free comes without a drain */
        job_t *n = w->head->next;
        if (w->head->call)
            ipvm_rpc_call_fail(w->head->call, IPVM_RPC_SERVER_BUSY, "the node is shutting down");
        job_free(w->head);
        w->head = n;
    }
    uv_close((uv_handle_t *)&w->drain_timer, on_timer_closed);
}
