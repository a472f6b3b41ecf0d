/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm receipts [--workflow CID]`: the receipts in <data-dir>/ipvm.db as a table (receipt,
 * instruction, function, status, output summary, fuel, time, source), or as JSON lines. */
#include "cli_store.h"

#include <string.h>

extern const ipvm_cmd_t ipvm_cmd_receipts;

typedef struct {
    ipvm_cli_t *cli;
    ipvm_arena_t arena;
    int64_t n, failed;
    ipvm_error_t err;
} list_t;

static void print_header(void)
{
    printf("%-59s  %-15s  %-14s  %-6s  %-32s  %10s  %9s  %s\n", "RECEIPT", "INSTRUCTION",
           "FUNCTION", "STATUS", "OUTPUT", "FUEL", "TIME", "SOURCE");
}

static int print_json(list_t *l, const ipvm_receipt_row_t *row, const ipvm_cli_receipt_t *r)
{
    ipvm_buf_t out = IPVM_BUF_INIT;
    int rc = ipvm_dagjson_encode(r->out, 0, &out, &l->err);
    if (rc == 0) {
        char c[3][IPVM_CID_MAX_STR];
        printf("{\"cid\":\"%s\",\"instruction\":\"%s\",\"ran\":\"%s\",\"function\":",
               ipvm_cid_str(&row->cid, c[0]), ipvm_cid_str(&row->instruction, c[1]),
               ipvm_cid_str(&row->ran, c[2]));
        ipvm_cli_json_str(stdout, r->function);
        printf(",\"status\":\"%s\",\"out\":%s,", row->ok ? "ok" : "error", (const char *)out.data);
        ipvm_cli_receipt_columns_json(stdout, row);
        printf("}\n");
    }
    ipvm_buf_dispose(&out);
    return rc;
}

static void print_row(const ipvm_receipt_row_t *row, const ipvm_cli_receipt_t *r)
{
    char c[IPVM_CID_MAX_STR], ins[IPVM_CID_MAX_STR], summary[64], t[32];
    ipvm_cid_str(&row->cid, c);
    ipvm_cid_str(&row->instruction, ins);
    size_t il = strlen(ins);
    ipvm_ipld_summary(r->value ? r->value : r->out, summary, 33);
    char fn[15];
    snprintf(fn, sizeof fn, "%s", r->function);
    printf("%-59s  …%-14s  %-14s  %-6s  %-32s  %10llu  %9s  %s\n", c, il > 14 ? ins + il - 14 : ins,
           fn, row->ok ? "ok" : "error", summary, (unsigned long long)row->fuel,
           row->time_ns ? ipvm_cli_duration(row->time_ns, t, sizeof t) : "-",
           row->source ? row->source : "local");
}

static int each(const ipvm_receipt_row_t *row, void *data)
{
    list_t *l = data;
    ipvm_cli_receipt_t r;
    ipvm_arena_reset(&l->arena);
    int rc = ipvm_cli_receipt_decode(&l->arena, row, &r, &l->err);
    if (rc != 0)
        return rc;
    if (l->n == 0 && !l->cli->json)
        print_header();
    l->n++;
    l->failed += !row->ok;
    if (l->cli->json)
        return print_json(l, row, &r);
    print_row(row, &r);
    return 0;
}

static int cmd_receipts_run(ipvm_cli_t *cli, int argc, char **argv)
{
    if (ipvm_cli_wants_help(argc, argv))
        return ipvm_cli_help(&ipvm_cmd_receipts);
    const char *wf = NULL;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v = ipvm_cli_opt(argc, argv, &i, "--workflow", &missing);
        if (v)
            wf = v;
        else if (missing)
            return ipvm_cli_usage(cli, &ipvm_cmd_receipts, "--workflow needs a workflow CID");
        else
            return ipvm_cli_usage(cli, &ipvm_cmd_receipts, "unexpected argument '%s'", argv[i]);
    }
    list_t l = {cli, {0}, 0, 0, {0}};
    ipvm_cid_t wcid;
    if (wf && ipvm_cid_parse(&wcid, wf, strlen(wf), &l.err) != 0)
        return ipvm_cli_fail_err(cli, &l.err, "--workflow %s is not a CID", wf);
    ipvm_store_t *s;
    int st = ipvm_cli_open_store(cli, IPVM_STORE_READONLY, &s);
    if (st != 0)
        return st;
    if (s == NULL) {
        if (!cli->json)
            fprintf(stderr, "no receipts in %s yet: run a workflow with 'ipvm run WORKFLOW.json'\n",
                    cli->data_dir);
        return 0;
    }
    if (wf) {
        ipvm_arena_init(&l.arena);
        ipvm_workflow_row_t w;
        int rc = ipvm_store_get_workflow(s, &wcid, &l.arena, &w, &l.err);
        ipvm_arena_dispose(&l.arena);
        if (rc != 0) {
            ipvm_store_close(s);
            return ipvm_cli_fail(cli, rc, "%s (see 'ipvm receipts' for all receipts)", l.err.msg);
        }
    }
    ipvm_arena_init(&l.arena);
    int rc = ipvm_store_each_receipt(s, wf ? &wcid : NULL, each, &l, &l.err);
    ipvm_arena_dispose(&l.arena);
    ipvm_store_close(s);
    if (rc != 0)
        return ipvm_cli_fail(cli, rc, "%s", l.err.msg);
    if (!cli->json && !cli->quiet) {
        if (l.n == 0)
            fprintf(stderr, "no receipts%s yet: run a workflow with 'ipvm run WORKFLOW.json'\n",
                    wf ? " for this workflow" : "");
        else
            fprintf(stderr, "%lld receipt%s, %lld failed; 'ipvm receipt CID' shows one\n",
                    (long long)l.n, l.n == 1 ? "" : "s", (long long)l.failed);
    }
    return 0;
}

const ipvm_cmd_t ipvm_cmd_receipts = {
    "receipts", "list the receipts in the store (all, or one workflow's)",
    "Usage: ipvm receipts [--workflow CID] [--json]\n"
    "\n"
    "Lists the receipts kept in <data-dir>/ipvm.db, oldest first: the receipt CID, the\n"
    "instruction it answers (its last characters), the function, ok or error, a summary of\n"
    "the output, the fuel used and the time taken, and where it came from (local, a peer).\n"
    "With --workflow, only the receipts linked to that workflow (by 'ipvm run').\n"
    "With --json, one JSON object per line with the full CIDs, the output tuple as DAG-JSON\n"
    "and the stored columns (fuel, time_ns, created_ms, ok, source, version, signed).\n"
    "Opens the database read-only: safe while a workflow is running.\n"
    "\n"
    "See also: ipvm receipt CID (one receipt in full)\n",
    cmd_receipts_run};
