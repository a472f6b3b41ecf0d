/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm run --node` (see run_remote.h): the workflow is parsed here too, to know its tasks and
 * CID; receipts are matched to tasks by their `ran` (the task's invocation CID); the node's own
 * event stream for this workflow (subscribe_node_events [cid]) adds fuel, time and the end of
 * the run, which Homestar's notifications do not carry. */
#include "run_remote.h"
#include "daemon/daemon.h"
#include "run_table.h"

#include <string.h>

bool ipvm__node_read_info(const char *data_dir, char *url, size_t len, uint64_t *started_ms);

typedef struct {
    ipvm_cli_t *cli;
    ipvm_rpc_client_t *client;
    const ipvm_workflow_t *wf;
    ipvm_arena_t *arena;
    ipvm_run_row_t *rows;
    ipvm_receipt_t *receipts;
    size_t settled, replayed, failed;
    char run_sub[32], node_sub[32];
    bool done_seen; /* the node said the run ended */
    char status[32];
    double elapsed_ms;
    ipvm_progress_t progress;
    uint64_t started_ns;
} remote_t;

static long task_of(const ipvm_workflow_t *wf, const ipvm_cid_t *ran)
{
    for (size_t i = 0; i < wf->ntasks; i++)
        if (ipvm_cid_equal(&wf->tasks[i].invocation, ran))
            return (long)i;
    return -1;
}

/* A subscribe_run_workflow notification: Homestar's document, as bytes. */
static void on_receipt(remote_t *r, const char *text, size_t len)
{
    ipvm_rpc_receipt_note_t note;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_rpc_receipt_note_decode(text, len, r->arena, &note, &err) != 0) {
        fprintf(stderr, "ipvm: warning: ignoring a malformed notification: %s\n", err.msg);
        return;
    }
    ipvm_receipt_t rec;
    if (ipvm_receipt_from_ipld(note.receipt, r->arena, &rec, &err) != 0) {
        fprintf(stderr, "ipvm: warning: ignoring a receipt: %s\n", err.msg);
        return;
    }
    long i = task_of(r->wf, &rec.ran);
    if (i < 0 || r->rows[i].receipt != NULL)
        return; /* not ours, or a second run of the same workflow sent it again */
    r->receipts[i] = rec;
    r->rows[i].receipt = &r->receipts[i];
    r->rows[i].status = rec.ok ? IPVM_RUN_OK : IPVM_RUN_ERROR;
    r->rows[i].replayed = note.replayed;
    r->settled++;
    r->replayed += note.replayed;
    r->failed += !rec.ok;
    ipvm_progress_update(&r->progress, r->settled, r->wf->ntasks, r->replayed, r->failed,
                         ipvm_now_ns() - r->started_ns);
}

/* A subscribe_node_events notification: fuel and time per task, and the end of the run. */
static void on_node_event(remote_t *r, const ipvm_ipld_t *ev)
{
    const ipvm_ipld_t *type = ipvm_ipld_map_get(ev, "type");
    uint64_t task = 0, fuel = 0;
    if (ipvm_ipld_is_str(type, "receipt") &&
        ipvm_ipld_get_u64(ipvm_ipld_map_get(ev, "task"), &task) == 0 && task < r->wf->ntasks) {
        if (ipvm_ipld_get_u64(ipvm_ipld_map_get(ev, "fuel"), &fuel) == 0)
            r->rows[task].fuel = fuel;
        const ipvm_ipld_t *t = ipvm_ipld_map_get(ev, "time_ms");
        if (t && t->kind == IPVM_IPLD_FLOAT)
            r->rows[task].time_ns = (uint64_t)(t->u.f * 1e6);
    } else if (ipvm_ipld_is_str(type, "workflow_done")) {
        /* Ours only when it counts no more receipts than came: another run of the same
         * workflow (the one a restarted node resumed, say) ends on the same stream, and ours
         * sends every receipt before its end */
        uint64_t ex = 0, rp = 0; /* its failed ones are among these */
        if (ipvm_ipld_get_u64(ipvm_ipld_map_get(ev, "executed"), &ex) == 0 &&
            ipvm_ipld_get_u64(ipvm_ipld_map_get(ev, "replayed"), &rp) == 0 && ex + rp > r->settled)
            return;
        const ipvm_ipld_t *st = ipvm_ipld_map_get(ev, "status");
        const ipvm_ipld_t *el = ipvm_ipld_map_get(ev, "elapsed_ms");
        snprintf(r->status, sizeof r->status, "%s",
                 st && st->kind == IPVM_IPLD_STRING ? st->u.str.ptr : "?");
        r->elapsed_ms = el && el->kind == IPVM_IPLD_FLOAT ? el->u.f : 0;
        r->done_seen = true;
    }
}

static void on_message(remote_t *r, const ipvm_buf_t *msg)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    if (ipvm_dagjson_decode((const char *)msg->data, msg->len, &a, &v, NULL) == 0) {
        const ipvm_ipld_t *sub = ipvm_ipld_select(v, "params/subscription");
        if (ipvm_ipld_is_str(sub, r->run_sub))
            on_receipt(r, (const char *)msg->data, msg->len);
        else if (ipvm_ipld_is_str(sub, r->node_sub))
            on_node_event(r, ipvm_ipld_select(v, "params/result"));
    }
    ipvm_arena_dispose(&a);
}

/* "\"abc\"" -> abc */
static void unquote(const ipvm_buf_t *b, char *out, size_t len)
{
    size_t n = b->len >= 2 ? b->len - 2 : 0;
    snprintf(out, len, "%.*s", (int)n, b->len >= 2 ? (const char *)b->data + 1 : "");
}

/* n bytes for a person: "3.2 MB", "1 MiB" (a limit set with a suffix), "900 bytes". */
static const char *size_str(size_t n, char *out, size_t len)
{
    if (n >= (1u << 20) && n % (1u << 20) == 0)
        snprintf(out, len, "%zu MiB", n >> 20);
    else if (n >= 1024 && n % 1024 == 0 && n < (1u << 20))
        snprintf(out, len, "%zu KiB", n >> 10);
    else if (n >= 1000000)
        snprintf(out, len, "%.1f MB", (double)n / 1e6);
    else if (n >= 1000)
        snprintf(out, len, "%.1f kB", (double)n / 1e3);
    else
        snprintf(out, len, "%zu bytes", n);
    return out;
}

/* The node closed the connection on a workflow message over its rpc.max_message: what to do. */
static int fail_oversized(remote_t *r, const ipvm_run_remote_t *a)
{
    size_t sent = 0, limit = 0;
    ipvm_rpc_client_oversized(r->client, &sent, &limit);
    char s1[32], s2[32], lim[64] = "";
    size_t mib = 1;
    while (mib < 4096 && (mib << 20) < sent + sent / 4) /* room for a little growth */
        mib *= 2;
    if (limit)
        snprintf(lim, sizeof lim, " = %s", size_str(limit, s2, sizeof s2));
    return ipvm_cli_fail(r->cli, IPVM_ETOOBIG,
                         "the node refused the workflow: its %s message (%zu tasks) is over the "
                         "node's limit (rpc.max_message%s); raise rpc.max_message in the "
                         "node's config (ipvm node init documents it), e.g. max_message = %zuM "
                         "under [rpc], or start it with --set rpc.max_message=%zuM or "
                         "IPVM_RPC_MAX_MESSAGE=%zuM, and restart the node; or run the workflow "
                         "here, without a node: ipvm run %s",
                         size_str(sent, s1, sizeof s1), r->wf->ntasks, lim, mib, mib, mib, a->file);
}

static int submit(remote_t *r, const ipvm_run_remote_t *a, const ipvm_buf_t *json)
{
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_buf_t res = IPVM_BUF_INIT, params = IPVM_BUF_INIT;
    char cid[IPVM_CID_MAX_STR];
    int code = 0;
    int rc = ipvm_buf_printf(&params, "[\"%s\"]", ipvm_cid_str(&r->wf->cid, cid));
    if (rc == 0)
        rc = ipvm_rpc_client_call(r->client, "subscribe_node_events", (char *)params.data, 10000,
                                  &res, NULL, &err);
    if (rc == 0)
        unquote(&res, r->node_sub, sizeof r->node_sub);
    ipvm_buf_clear(&params);
    if (rc == 0)
        rc = ipvm_buf_append_str(&params, "[{");
    if (rc == 0 && a->name) {
        rc = ipvm_buf_append_str(&params, "\"name\":");
        if (rc == 0)
            rc = ipvm_json_append_str(&params, a->name, strlen(a->name));
        if (rc == 0)
            rc = ipvm_buf_append_byte(&params, ',');
    }
    if (rc == 0 && a->ucan) { /* trust: the submission's UCANs; Homestar clients send none */
        rc = ipvm_buf_append_str(&params, "\"ucan\":");
        if (rc == 0)
            rc = ipvm_json_append_str(&params, a->ucan, strlen(a->ucan));
        if (rc == 0)
            rc = ipvm_buf_append_byte(&params, ',');
    }
    if (rc == 0)
        rc = ipvm_buf_append_str(&params, "\"workflow\":");
    if (rc == 0)
        rc = ipvm_buf_append(&params, json->data, json->len);
    if (rc == 0)
        rc = ipvm_buf_append_str(&params, "}]");
    if (rc == 0)
        rc = ipvm_rpc_client_call(r->client, "subscribe_run_workflow", (char *)params.data, 60000,
                                  &res, &code, &err);
    if (rc == 0)
        unquote(&res, r->run_sub, sizeof r->run_sub);
    ipvm_buf_dispose(&res);
    ipvm_buf_dispose(&params);
    if (rc == IPVM_ERPC && code == IPVM_RPC_OVERSIZED_REQUEST)
        return fail_oversized(r, a);
    if (rc == IPVM_ERPC)
        return ipvm_cli_fail(r->cli, 0, "the node refused the workflow: %s%s", err.msg,
                             code == IPVM_RPC_SERVER_BUSY ? " (try again later)" : "");
    if (rc)
        return ipvm_cli_fail(r->cli, rc, "%s", err.msg);
    return 0;
}

/* The node went away mid-run (it stopped, crashed or was killed): what was received, what the
 * node kept, and what to do next. */
static int fail_closed(remote_t *r, const char *why)
{
    size_t n = r->wf->ntasks;
    ipvm_progress_clear(&r->progress);
    return ipvm_cli_fail(
        r->cli, IPVM_ECLOSED,
        "%s in the middle of the run, after %zu of %zu receipts (%zu task%s without one); the "
        "receipts the node reported are kept in its store: check 'ipvm node status' and the "
        "node's log (DATA_DIR/node.log for a detached node) for why it stopped, start it again "
        "with 'ipvm node start' (it resumes the run unless node.resume = false), then run the "
        "same workflow again: the receipts it has replay and only the rest run",
        why, r->settled, n, n - r->settled, n - r->settled == 1 ? "" : "s");
}

/* Waits for every task's receipt, or the end of the run, or the timeout. */
static int collect(remote_t *r, uint64_t timeout_ms)
{
    uint64_t deadline = ipvm_now_ns() + timeout_ms * 1000000u;
    ipvm_buf_t msg = IPVM_BUF_INIT;
    int rc = 0;
    /* every receipt, then the node's end-of-run event (fuel and time of the last task come
     * just before it); an old node that sends no such event costs a second at the end */
    uint64_t grace = 0;
    while (r->settled < r->wf->ntasks || !r->done_seen) {
        uint64_t now = ipvm_now_ns();
        if (r->settled == r->wf->ntasks && grace == 0)
            grace = now + 1000000000u;
        if (grace && now >= grace)
            break;
        if (now >= deadline) {
            rc = IPVM_ETIMEDOUT;
            break;
        }
        /* after the node said the run ended, stragglers get a moment, not forever */
        uint64_t until = grace && grace < deadline ? grace : deadline;
        int wait = r->done_seen ? 300 : (int)((until - now) / 1000000u + 1);
        ipvm_error_t err;
        int n = ipvm_rpc_client_next(r->client, wait, &msg, &err);
        if (n == IPVM_ETIMEDOUT && (r->done_seen || grace))
            break;
        if (n == IPVM_ECLOSED) {
            rc = fail_closed(r, err.msg);
            break;
        }
        if (n != 0 && n != IPVM_ETIMEDOUT) {
            rc = ipvm_cli_fail(r->cli, n, "%s", err.msg);
            break;
        }
        if (n == 0)
            on_message(r, &msg);
    }
    ipvm_buf_dispose(&msg);
    return rc;
}

static int show(remote_t *r, const ipvm_run_remote_t *a, int collected)
{
    size_t skipped = r->wf->ntasks - r->settled;
    for (size_t i = 0; i < r->wf->ntasks; i++)
        if (r->rows[i].receipt == NULL)
            r->rows[i].status = IPVM_RUN_SKIPPED;
    int status_rc = r->failed ? IPVM_ETASKFAILED
                    : skipped ? (collected == IPVM_ETIMEDOUT ? IPVM_ETIMEDOUT : IPVM_ECANCELED)
                              : 0;
    ipvm_run_summary_t sum = {
        &r->wf->cid,
        a->name,
        r->wf->ntasks,
        r->settled - r->replayed,
        r->replayed,
        r->failed,
        skipped,
        r->elapsed_ms > 0 ? (uint64_t)(r->elapsed_ms * 1e6) : ipvm_now_ns() - r->started_ns,
        status_rc};
    if (r->cli->json) {
        for (size_t i = 0; i < r->wf->ntasks; i++)
            (void)ipvm_cli_print_run_json(stdout, &r->rows[i]);
        (void)ipvm_cli_print_run_json_summary(stdout, &sum);
    } else {
        ipvm_cli_print_run_table(stdout, &sum, r->rows, r->wf->ntasks);
    }
    fflush(stdout);
    int status = status_rc == 0 ? IPVM_EXIT_OK : IPVM_EXIT_FAIL;
    if (a->save && r->settled > 0) {
        int s = ipvm_cli_save_outputs(r->cli, a->save, r->rows, r->wf->ntasks,
                                      r->cli->json ? stderr : stdout);
        if (s)
            status = s;
    }
    if (collected == IPVM_ETIMEDOUT)
        fprintf(stderr,
                "ipvm: error: no receipt for %zu task%s within the timeout; the node "
                "keeps running them: run again to see them\n",
                skipped, skipped == 1 ? "" : "s");
    else if (skipped)
        fprintf(stderr, "ipvm: the run ended (%s) before %zu task%s ran; run again to resume\n",
                r->status[0] ? r->status : "closed", skipped, skipped == 1 ? "" : "s");
    return status;
}

/* The dashboard's http:// address names the API's port too: say which URL was meant. */
static int check_url(ipvm_cli_t *cli, const char *url)
{
    const char *rest = NULL;
    if (strncmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        rest = url + 8;
    if (rest == NULL)
        return 0;
    return ipvm_cli_fail(cli, IPVM_EINVAL,
                         "--node %s is the node's HTTP address (the dashboard, /health and "
                         "/metrics); its JSON-RPC API is on the same port over WebSocket: "
                         "--node ws://%.*s",
                         url, (int)strcspn(rest, "/"), rest);
}

/* After a failed connect: where the node of this data directory is, or that none runs. */
static void local_hint(ipvm_cli_t *cli, const char *url, char *out, size_t len)
{
    char pid[4096], here[512] = "";
    uint64_t started = 0;
    ipvm_node_paths(cli->data_dir, pid, NULL, NULL);
    out[0] = '\0';
    if (ipvm_node_pidfile_holder(pid) == 0)
        snprintf(out, len,
                 "; no node runs with data directory %s either: start one with 'ipvm node start "
                 "--detach', or run the workflow here, without --node",
                 cli->data_dir);
    else if (ipvm__node_read_info(cli->data_dir, here, sizeof here, &started) &&
             strcmp(here, url) != 0)
        snprintf(out, len, "; the node of data directory %s is at %s: use --node %s",
                 cli->data_dir, here, here);
}

int ipvm_cli_run_remote(ipvm_cli_t *cli, const ipvm_run_remote_t *a)
{
    int bad = check_url(cli, a->url);
    if (bad)
        return bad;
    ipvm_buf_t json = IPVM_BUF_INIT;
    int status = ipvm_cli_read_input(cli, a->file, &json);
    if (status)
        return status;
    ipvm_arena_t arena;
    ipvm_arena_init(&arena);
    remote_t r = {0};
    r.cli = cli;
    r.arena = &arena;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_workflow_t *wf = NULL;
    /* awaits outside the workflow are the node's to check: it has the receipts */
    ipvm_workflow_opts_t wo = {.allow_outside_awaits = true};
    if (ipvm_workflow_parse((const char *)json.data, json.len, &wo, &arena, &wf, &err) != 0) {
        status = ipvm_cli_fail_err(cli, &err, "%s", a->file);
        goto done;
    }
    r.wf = wf;
    r.rows = ipvm_arena_calloc(&arena, wf->ntasks ? wf->ntasks : 1, sizeof *r.rows);
    r.receipts = ipvm_arena_calloc(&arena, wf->ntasks ? wf->ntasks : 1, sizeof *r.receipts);
    if (r.rows == NULL || r.receipts == NULL) {
        status = ipvm_cli_fail(cli, IPVM_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < wf->ntasks; i++) {
        r.rows[i].index = i;
        r.rows[i].instruction = &wf->tasks[i].instruction;
        r.rows[i].func = wf->tasks[i].func;
        r.rows[i].source = "node";
    }
    if (ipvm_rpc_client_connect(a->url, 5000, &r.client, &err) != 0) {
        char hint[4300] = "";
        if (err.code == IPVM_ECLOSED || err.code == IPVM_ETIMEDOUT)
            local_hint(cli, a->url, hint, sizeof hint);
        status = ipvm_cli_fail(cli, err.code, "%s%s", err.msg, hint);
        goto done;
    }
    ipvm_progress_init(&r.progress, cli);
    r.started_ns = ipvm_now_ns();
    if ((status = submit(&r, a, &json)) == 0) {
        int collected = collect(&r, a->timeout_ms ? a->timeout_ms : 3600000u);
        ipvm_progress_clear(&r.progress);
        status = collected && collected != IPVM_ETIMEDOUT ? collected : show(&r, a, collected);
    }
done:
    ipvm_rpc_client_free(r.client);
    ipvm_arena_dispose(&arena);
    ipvm_buf_dispose(&json);
    return status;
}
