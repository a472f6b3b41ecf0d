/* SPDX-License-Identifier: Apache-2.0 */
/* The receipt table, the --json lines, the progress bar and saved outputs of `ipvm run`
 * (see run_table.h). */
#include "run_table.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ipvm_cli_rows_from_result(const ipvm_workflow_t *wf, const ipvm_sched_result_t *res,
                              ipvm_arena_t *arena, ipvm_run_row_t **rows)
{
    ipvm_run_row_t *r = ipvm_arena_calloc(arena, wf->ntasks, sizeof *r);
    if (r == NULL)
        return IPVM_ENOMEM;
    for (size_t i = 0; i < wf->ntasks; i++) {
        const ipvm_sched_receipt_t *s = &res->receipts[i];
        r[i].index = i;
        r[i].instruction = &wf->tasks[i].instruction;
        r[i].func = wf->tasks[i].func;
        if (s->task == NULL) {
            r[i].status = IPVM_RUN_SKIPPED;
            continue;
        }
        r[i].receipt = &s->receipt;
        r[i].status = s->receipt.ok ? IPVM_RUN_OK : IPVM_RUN_ERROR;
        r[i].fuel = s->fuel;
        r[i].time_ns = s->time_ns;
        r[i].replayed = s->replayed;
        r[i].source = s->source;
    }
    *rows = r;
    return 0;
}

static const char *status_name(ipvm_run_status_t s)
{
    return s == IPVM_RUN_OK ? "ok" : s == IPVM_RUN_ERROR ? "error" : "skipped";
}

/* "1.23 ms" style, into buf. */
static const char *fmt_time(uint64_t ns, char *buf, size_t size)
{
    if (ns == 0)
        snprintf(buf, size, "-");
    else if (ns < 10000)
        snprintf(buf, size, "%.1f us", (double)ns / 1e3);
    else if (ns < 10000000)
        snprintf(buf, size, "%.2f ms", (double)ns / 1e6);
    else if (ns < 10000000000ull)
        snprintf(buf, size, "%.0f ms", (double)ns / 1e6);
    else
        snprintf(buf, size, "%.1f s", (double)ns / 1e9);
    return buf;
}

/* The output column: the value, or "CODE: message" for an error. */
static const char *output_summary(const ipvm_run_row_t *r, char *buf, size_t size)
{
    if (r->receipt == NULL) {
        snprintf(buf, size, "(not run)");
        return buf;
    }
    const ipvm_ipld_t *v = ipvm_receipt_value(r->receipt);
    if (r->status == IPVM_RUN_ERROR) {
        const char *code = ipvm_receipt_error_code(v);
        const ipvm_ipld_t *msg = ipvm_ipld_map_get(v, "message");
        if (code && msg && msg->kind == IPVM_IPLD_STRING) {
            snprintf(buf, size, "%s: %s", code + (strncmp(code, "IPVM_", 5) == 0 ? 5 : 0),
                     msg->u.str.ptr);
            if (strlen(buf) >= size - 1 && size > 4)
                memcpy(buf + size - 4, "...", 4);
            return buf;
        }
    }
    return ipvm_ipld_summary(v, buf, size);
}

/* The output column cuts messages short: each failed task's whole error, under the table. */
static void print_errors(FILE *f, const ipvm_run_row_t *rows, size_t n)
{
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const ipvm_run_row_t *r = &rows[i];
        if (r->status != IPVM_RUN_ERROR || r->receipt == NULL)
            continue;
        const ipvm_ipld_t *v = ipvm_receipt_value(r->receipt);
        const char *code = ipvm_receipt_error_code(v);
        const ipvm_ipld_t *msg = ipvm_ipld_map_get(v, "message");
        if (code == NULL || msg == NULL || msg->kind != IPVM_IPLD_STRING)
            continue;
        fprintf(f, "%s  task %zu: %s: %.*s\n", first ? "\n" : "", r->index,
                code + (strncmp(code, "IPVM_", 5) == 0 ? 5 : 0), (int)msg->u.str.len,
                msg->u.str.ptr);
        first = false;
    }
}

void ipvm_cli_print_run_table(FILE *f, const ipvm_run_summary_t *sum, const ipvm_run_row_t *rows,
                              size_t n)
{
    char c[IPVM_CID_MAX_STR], t[32];
    fprintf(f, "workflow %s%s%s%s: %zu tasks, %zu executed, %zu replayed, %zu failed",
            ipvm_cid_str(sum->workflow, c), sum->name ? " (" : "", sum->name ? sum->name : "",
            sum->name ? ")" : "", sum->ntasks, sum->executed, sum->replayed, sum->failed);
    if (sum->skipped)
        fprintf(f, ", %zu not run", sum->skipped);
    fprintf(f, " in %s\n\n", fmt_time(sum->elapsed_ns, t, sizeof t));
    fprintf(f, "%4s  %-59s  %-12s  %-7s  %-32s  %10s  %9s  %s\n", "#", "instruction", "function",
            "status", "output", "fuel", "time", "replayed");
    for (size_t i = 0; i < n; i++) {
        const ipvm_run_row_t *r = &rows[i];
        char out[33], func[13], fuel[24];
        snprintf(func, sizeof func, "%s", r->func ? r->func : "?");
        output_summary(r, out, sizeof out);
        if (r->fuel)
            snprintf(fuel, sizeof fuel, "%llu", (unsigned long long)r->fuel);
        else
            snprintf(fuel, sizeof fuel, "-");
        const char *rep = r->status == IPVM_RUN_SKIPPED ? "-" : r->replayed ? "yes" : "no";
        fprintf(f, "%4zu  %-59s  %-12s  %-7s  %-32s  %10s  %9s  %s", r->index,
                ipvm_cid_str(r->instruction, c), func, status_name(r->status), out, fuel,
                fmt_time(r->time_ns, t, sizeof t), rep);
        if (r->replayed && r->source && strcmp(r->source, "local") != 0)
            fprintf(f, " (%s)", r->source);
        fputc('\n', f);
    }
    print_errors(f, rows, n);
}

static int put_cid(ipvm_arena_t *a, ipvm_ipld_t *m, const char *k, const ipvm_cid_t *c)
{
    return ipvm_ipld_map_set_cstr(a, m, k, ipvm_ipld_new_link(a, c));
}

static int print_line(FILE *f, const ipvm_ipld_t *m)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    int rc = ipvm_dagjson_encode(m, 0, &b, NULL);
    if (rc == 0) {
        fwrite(b.data, 1, b.len, f);
        fputc('\n', f);
    }
    ipvm_buf_dispose(&b);
    return rc;
}

int ipvm_cli_print_run_json(FILE *f, const ipvm_run_row_t *r)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *m = ipvm_ipld_new_map(&a, 10);
    int rc = m ? 0 : IPVM_ENOMEM;
    if (rc == 0 && r->receipt)
        rc = put_cid(&a, m, "cid", &r->receipt->cid);
    if (rc == 0)
        rc = put_cid(&a, m, "instruction", r->instruction);
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(&a, m, "task", ipvm_ipld_new_uint(&a, r->index));
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(&a, m, "func", ipvm_ipld_new_cstring(&a, r->func));
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(&a, m, "status",
                                    ipvm_ipld_new_cstring(&a, status_name(r->status)));
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(&a, m, "replayed", ipvm_ipld_new_bool(&a, r->replayed));
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(&a, m, "fuel", ipvm_ipld_new_uint(&a, r->fuel));
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(&a, m, "time_ns", ipvm_ipld_new_uint(&a, r->time_ns));
    if (rc == 0 && r->source)
        rc = ipvm_ipld_map_set_cstr(&a, m, "source", ipvm_ipld_new_cstring(&a, r->source));
    if (rc == 0 && r->receipt)
        rc = ipvm_ipld_map_set_cstr(&a, m, "receipt", ipvm_receipt_to_ipld(&a, r->receipt));
    if (rc == 0)
        rc = print_line(f, m);
    ipvm_arena_dispose(&a);
    return rc;
}

int ipvm_cli_print_run_json_summary(FILE *f, const ipvm_run_summary_t *s)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *m = ipvm_ipld_new_map(&a, 10);
    const char *status = s->status == 0 ? "ok" : ipvm_err_name(s->status);
    int rc = m ? 0 : IPVM_ENOMEM;
    if (rc == 0)
        rc = put_cid(&a, m, "workflow", s->workflow);
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(&a, m, "name", s->name ? ipvm_ipld_new_cstring(&a, s->name)
                                                           : ipvm_ipld_new_null(&a));
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(&a, m, "status", ipvm_ipld_new_cstring(&a, status));
    const char *keys[] = {"tasks", "executed", "replayed", "failed", "skipped", "elapsed_ns"};
    uint64_t vals[] = {s->ntasks, s->executed, s->replayed, s->failed, s->skipped, s->elapsed_ns};
    for (size_t i = 0; rc == 0 && i < 6; i++)
        rc = ipvm_ipld_map_set_cstr(&a, m, keys[i], ipvm_ipld_new_uint(&a, vals[i]));
    if (rc == 0)
        rc = print_line(f, m);
    ipvm_arena_dispose(&a);
    return rc;
}

int ipvm_cli_save_outputs(ipvm_cli_t *cli, const char *dir, const ipvm_run_row_t *rows, size_t n,
                          FILE *paths)
{
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_mkdirs(dir, 0755, &err) != 0)
        return ipvm_cli_fail(cli, err.code, "%s", err.msg);
    for (size_t i = 0; i < n; i++) {
        const ipvm_run_row_t *r = &rows[i];
        if (r->status != IPVM_RUN_OK)
            continue;
        const ipvm_ipld_t *v = ipvm_receipt_value(r->receipt);
        if (v->kind != IPVM_IPLD_BYTES)
            continue;
        bool png = v->u.str.len >= 8 && memcmp(v->u.str.ptr, "\x89PNG\r\n\x1a\n", 8) == 0;
        char path[4096];
        snprintf(path, sizeof path, "%s/task%zu-%s.%s", dir, r->index, r->func,
                 png ? "png" : "bin");
        if (ipvm_file_write_atomic(path, v->u.str.ptr, v->u.str.len, &err) != 0)
            return ipvm_cli_fail(cli, err.code, "%s", err.msg);
        if (paths)
            fprintf(paths, "wrote %s (%zu bytes)\n", path, v->u.str.len);
    }
    return 0;
}

void ipvm_progress_init(ipvm_progress_t *p, ipvm_cli_t *cli)
{
    memset(p, 0, sizeof *p);
    p->enabled = isatty(STDERR_FILENO) && !cli->quiet && !cli->json;
    p->after_ns = 1000000000u;
}

void ipvm_progress_update(ipvm_progress_t *p, size_t done, size_t total, size_t replayed,
                          size_t failed, uint64_t elapsed_ns)
{
    if (!p->enabled || elapsed_ns < p->after_ns)
        return;
    if (p->shown && elapsed_ns - p->last_ns < 100000000u && done < total)
        return; /* at most 10 redraws a second */
    p->last_ns = elapsed_ns;
    char bar[31];
    size_t fill = total ? done * 30 / total : 30;
    for (size_t i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r[%s] %zu/%zu tasks  %zu replayed  %zu failed  %.1f s ", bar, done, total,
            replayed, failed, (double)elapsed_ns / 1e9);
    fflush(stderr);
    p->shown = true;
}

void ipvm_progress_clear(ipvm_progress_t *p)
{
    if (p->shown)
        fprintf(stderr, "\r%80s\r", "");
    p->shown = false;
}
