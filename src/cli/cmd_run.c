/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm run WORKFLOW.json`: runs a Homestar workflow in this process (no daemon): parses it,
 * replays what already has a receipt, executes the rest with the Wasm engine on a thread pool,
 * keeps every receipt in <data-dir>/ipvm.db and prints them (table, or one DAG-JSON line each). */
#include "cli.h"
#include "cli_trust.h"
#include "run_remote.h"
#include "run_table.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>


extern const ipvm_cmd_t ipvm_cmd_run;

static const char HELP[] =
    "Usage: ipvm run [OPTIONS] WORKFLOW.json\n"
    "\n"
    "Runs a workflow (Homestar's DAG-JSON format: {\"tasks\": [...]}) in this process, with no\n"
    "daemon. Tasks that already have a receipt (from an earlier run, another workflow with the\n"
    "same instruction, or a peer) are replayed, not executed; the rest run on a thread pool as\n"
    "soon as what they await is known. Every receipt is committed to <data-dir>/ipvm.db before it\n"
    "is shown, so a run that is killed can simply be started again: it resumes.\n"
    "\n"
    "Modules (rsc) and Link arguments are read from the blockstore (add them with 'ipvm add\n"
    "FILE'), then from a Kubo API or a gateway when given, and must hash to their CID.\n"
    "\n"
    "Options:\n"
    "  --name NAME          a name stored with the workflow and shown in the table\n"
    "  --ipfs-api HOST:PORT fetch missing resources from this Kubo HTTP API\n"
    "  --gateway URL        fetch missing resources from this HTTPS gateway\n"
    "  --timeout SECONDS    stop the workflow after this long (default 3600); run it again to\n"
    "                       resume\n"
    "  --threads N          worker threads (default: the number of CPUs)\n"
    "  --fuel N             fuel per task when its meta gives none (default: unlimited)\n"
    "  --memory BYTES       memory per task when its meta gives none (default: 4 GiB)\n"
    "  --time-limit MS      wall-clock limit per task when its meta gives none (default 100000)\n"
    "  --tier tcc|gcc|both  how modules are compiled: tcc (in memory, at once), gcc (-O2, waits\n"
    "                       for it, cached on disk), both (default: tcc now, gcc -O2 in the\n"
    "                       background, cached for the next runs; ipvm waits for it at exit)\n"
    "  --save DIR           write every bytes output to DIR/task<N>-<func>.png|.bin\n"
    "  --ucan FILE          run as a node in ucan mode: each task must be proven by the UCANs in\n"
    "                       FILE (an invocation of /wasm/run per task, or for the workflow,\n"
    "                       with its delegations from this data dir's node; see 'ipvm ucan')\n"
    "  --key NAME           with --ucan: FILE holds only delegations; sign the invocations for\n"
    "                       every task with your key NAME ('ipvm key list')\n"
    "  --sign               put this node's DID in each receipt's iss and sign it (the default\n"
    "                       with --ucan; without, receipts are Homestar's, iss null)\n"
    "  --node URL           submit to a running node (ws://127.0.0.1:1337, or the node's\n"
    "                       rpc.socket as unix:///PATH; see 'ipvm node')\n"
    "                       instead of running here; receipts stream back into the same\n"
    "                       table (--name, --timeout, --save and --json apply)\n"
    "  --json               one DAG-JSON line per receipt: {cid, instruction, task, func,\n"
    "                       status, replayed, fuel, time_ns, source, receipt}, then a summary\n"
    "                       line {workflow, status, tasks, executed, replayed, failed, ...}\n"
    "\n"
    "Output: a table with, per task, the instruction CID, function, status (ok, error, skipped),\n"
    "a summary of the output, fuel used, time taken and whether it was replayed. A progress bar\n"
    "shows on a terminal when the run lasts over a second.\n"
    "\n"
    "Exit status: 0 when every task succeeded, 1 when a task failed (its error receipt says why)\n"
    "or the run could not finish, 2 for a bad command line.\n"
    "\n"
    "Examples:\n"
    "  ipvm add tests/vectors/homestar/wasm/example_test.wasm\n"
    "  ipvm run tests/vectors/homestar/workflows/test-workflow-add-one.json\n"
    "  ipvm run --json workflow.json | jq .receipt.out\n";

typedef struct {
    const char *file, *name, *ipfs_api, *gateway, *save, *node, *ucan, *key;
    bool sign;
    uint64_t timeout_ms;
    unsigned threads;
    int tier; /* ipvm_wasm_engine_opts_t.gcc_tier */
    ipvm_wasm_limits_t defaults;
} run_args_t;

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* An option of HELP given last, without its value. */
static bool needs_value(const char *o)
{
    static const char *const valued[] = {
        "--name", "--ipfs-api", "--gateway", "--timeout", "--threads", "--fuel", "--memory",
        "--time-limit", "--tier", "--save", "--ucan", "--key", "--node"};
    for (size_t i = 0; i < sizeof valued / sizeof valued[0]; i++)
        if (strcmp(o, valued[i]) == 0)
            return true;
    return false;
}

static int parse_args(ipvm_cli_t *cli, int argc, char **argv, run_args_t *a)
{
    memset(a, 0, sizeof *a);
    a->tier = 1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;
        bool takes = true;
        if (strcmp(o, "--name") == 0 && v)
            a->name = v;
        else if (strcmp(o, "--ipfs-api") == 0 && v)
            a->ipfs_api = v;
        else if (strcmp(o, "--gateway") == 0 && v)
            a->gateway = v;
        else if (strcmp(o, "--save") == 0 && v)
            a->save = v;
        else if (strcmp(o, "--ucan") == 0 && v)
            a->ucan = v;
        else if (strcmp(o, "--key") == 0 && v)
            a->key = v;
        else if (strcmp(o, "--sign") == 0 && (takes = false, true))
            a->sign = true;
        else if (strcmp(o, "--node") == 0 && v)
            a->node = v;
        else if (strcmp(o, "--timeout") == 0 && parse_u64(v, &n) == 0 && n > 0)
            a->timeout_ms = n * 1000;
        else if (strcmp(o, "--threads") == 0 && parse_u64(v, &n) == 0 && n > 0 && n <= 256)
            a->threads = (unsigned)n;
        else if (strcmp(o, "--fuel") == 0 && parse_u64(v, &n) == 0)
            a->defaults.fuel = n;
        else if (strcmp(o, "--memory") == 0 && parse_u64(v, &n) == 0)
            a->defaults.memory = n;
        else if (strcmp(o, "--time-limit") == 0 && parse_u64(v, &n) == 0)
            a->defaults.time_ms = n;
        else if (strcmp(o, "--tier") == 0 && v &&
                 (strcmp(v, "tcc") == 0 || strcmp(v, "gcc") == 0 || strcmp(v, "both") == 0))
            a->tier = v[0] == 't' ? 0 : v[0] == 'g' ? 2 : 1;
        else if (v == NULL && needs_value(o))
            return ipvm_cli_usage(cli, &ipvm_cmd_run, "%s needs a value", o);
        else if (o[0] == '-' && o[1] != '\0')
            return ipvm_cli_usage(cli, &ipvm_cmd_run, "%s: unknown option or bad value '%s'", o,
                                  v ? v : "");
        else {
            takes = false;
            if (a->file)
                return ipvm_cli_usage(cli, &ipvm_cmd_run, "one workflow file at a time");
            a->file = o;
        }
        if (takes)
            i++;
    }
    if (a->file == NULL)
        return ipvm_cli_usage(cli, &ipvm_cmd_run, "which workflow? ipvm run WORKFLOW.json");
    if (a->key && !a->ucan)
        return ipvm_cli_usage(cli, &ipvm_cmd_run, "--key signs invocations for --ucan FILE");
    return 0;
}

/* What the run needs from the other areas, opened from the data dir. */
typedef struct {
    ipvm_blockstore_t *bs;
    ipvm_resolver_t *resolver;
    ipvm_wasm_engine_t *engine;
    ipvm_sched_t *sched;
} node_t;

static void node_close(node_t *n)
{
    ipvm_sched_free(n->sched);
    if (n->engine)
        ipvm_wasm_engine_free(n->engine);
    if (n->resolver)
        ipvm_resolver_free(n->resolver);
    if (n->bs)
        ipvm_blockstore_close(n->bs);
}

static int node_open(ipvm_cli_t *cli, const run_args_t *a, node_t *n)
{
    char path[4096], cache[4096];
    ipvm_error_t err;
    ipvm_error_clear(&err);
    memset(n, 0, sizeof *n);
    snprintf(path, sizeof path, "%s/blocks", cli->data_dir);
    if (ipvm_blockstore_open(path, &n->bs, &err) != 0)
        return ipvm_cli_fail(cli, err.code, "cannot open the blockstore: %s", err.msg);
    ipvm_resolver_opts_t ro = {.ipfs_api = a->ipfs_api, .gateway = a->gateway};
    if (ipvm_resolver_new(n->bs, &ro, &n->resolver, &err) != 0)
        return ipvm_cli_fail(cli, err.code, "cannot set up the resolver: %s", err.msg);
    snprintf(cache, sizeof cache, "%s/cache", cli->data_dir);
    ipvm_wasm_engine_opts_t eo = {.cache_dir = cache, .gcc_tier = a->tier};
    if (ipvm_wasm_engine_new(&eo, &n->engine, &err) != 0)
        return ipvm_cli_fail(cli, err.code, "cannot start the Wasm engine: %s", err.msg);
    snprintf(path, sizeof path, "%s/ipvm.db", cli->data_dir);
    ipvm_sched_opts_t so = {.db_path = path, .engine = n->engine, .resolver = n->resolver,
                            .threads = a->threads, .defaults = a->defaults,
                            .workflow_timeout_ms = a->timeout_ms};
    if (ipvm_sched_new(&so, &n->sched, &err) != 0)
        return ipvm_cli_fail(cli, err.code, "%s; choose another place with --data-dir DIR",
                             err.msg);
    return 0;
}

typedef struct {
    ipvm_progress_t progress;
} run_ui_t;

static void on_event(const ipvm_sched_event_t *ev, void *data)
{
    run_ui_t *ui = data;
    if (ev->kind == IPVM_SCHED_WORKFLOW_DONE)
        ipvm_progress_clear(&ui->progress);
    else
        ipvm_progress_update(&ui->progress, ev->done, ev->total, ev->replayed, ev->failed,
                             ev->elapsed_ns);
}

/* Prints the receipts (table or JSON lines) and the run's error, if any. */
static int report(ipvm_cli_t *cli, const run_args_t *a, const ipvm_workflow_t *wf,
                  const ipvm_sched_result_t *res, int rc, const ipvm_error_t *err,
                  ipvm_arena_t *arena)
{
    ipvm_run_row_t *rows = NULL;
    if (res->receipts == NULL) /* stopped before any task was looked at */
        return ipvm_cli_fail(cli, rc, "%s", err->msg);
    if (ipvm_cli_rows_from_result(wf, res, arena, &rows) != 0)
        return ipvm_cli_fail(cli, IPVM_ENOMEM, "out of memory");
    ipvm_run_summary_t sum = {&wf->cid, a->name, wf->ntasks, res->executed, res->replayed,
                              res->failed, res->skipped, res->elapsed_ns, rc};
    if (cli->json) {
        for (size_t i = 0; i < wf->ntasks; i++)
            (void)ipvm_cli_print_run_json(stdout, &rows[i]);
        (void)ipvm_cli_print_run_json_summary(stdout, &sum);
    } else {
        ipvm_cli_print_run_table(stdout, &sum, rows, wf->ntasks);
    }
    fflush(stdout);
    int status = rc == 0 ? IPVM_EXIT_OK : IPVM_EXIT_FAIL;
    if (a->save && res->executed + res->replayed > 0) {
        int s = ipvm_cli_save_outputs(cli, a->save, rows, wf->ntasks, cli->json ? stderr : stdout);
        if (s != 0)
            status = s;
    }
    if (rc == IPVM_ETASKFAILED)
        fprintf(stderr, "ipvm: %s\n", err->msg);
    else if (rc != 0) /* stopped early: what happened and what to do */
        fprintf(stderr, "ipvm: error: %s [%s]%s\n", err->msg, ipvm_err_name(rc),
                rc == IPVM_ENOSPC ? "; free some space and run again: finished tasks replay"
                                  : "");
    return status;
}

/* `ipvm run --node URL`: the run is submitted to a node (src/rpc/), whose receipts are printed
 * with the same run_table.h functions. */
static int run_on_node(ipvm_cli_t *cli, const run_args_t *a)
{
    ipvm_buf_t bundle = IPVM_BUF_INIT;
    int status;
    if (a->ucan && (status = ipvm_cli_trust_remote_bundle(cli, a->node, a->file, a->ucan, a->key,
                                                           &bundle)) != 0)
        return status;
    ipvm_run_remote_t r = {a->node, a->file, a->name, a->save, a->timeout_ms,
                           bundle.data ? (const char *)bundle.data : NULL};
    status = ipvm_cli_run_remote(cli, &r);
    ipvm_buf_dispose(&bundle);
    return status;
}

static int cmd_run(ipvm_cli_t *cli, int argc, char **argv)
{
    if (ipvm_cli_wants_help(argc, argv))
        return ipvm_cli_help(&ipvm_cmd_run);
    run_args_t a;
    int status = parse_args(cli, argc, argv, &a);
    if (status != 0)
        return status;
    if (a.node)
        return run_on_node(cli, &a);
    /* a full disk must be an error from write(), not a signal that kills us mid-way */
    signal(SIGXFSZ, SIG_IGN);
    ipvm_buf_t json = IPVM_BUF_INIT;
    if ((status = ipvm_cli_read_input(cli, a.file, &json)) != 0)
        return status;
    if ((status = ipvm_cli_ensure_data_dir(cli)) != 0) {
        ipvm_buf_dispose(&json);
        return status;
    }
    node_t node;
    ipvm_cli_trust_t trust;
    memset(&trust, 0, sizeof trust);
    ipvm_arena_t arena;
    ipvm_arena_init(&arena);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_workflow_t *wf = NULL;
    if ((status = node_open(cli, &a, &node)) != 0)
        goto done;
    /* trust hooks go in before parsing: they read whole tasks */
    if ((a.ucan || a.sign) &&
        (status = ipvm_cli_trust_open(cli, node.sched, a.ucan, a.sign, &trust)) != 0)
        goto done;
    if (ipvm_sched_parse(node.sched, (const char *)json.data, json.len, &arena, &wf, &err) != 0) {
        status = ipvm_cli_fail_err(cli, &err, "%s", a.file);
        goto done;
    }
    if (a.ucan && (status = ipvm_cli_trust_auth(cli, &trust, a.ucan, a.key, wf)) != 0)
        goto done;
    run_ui_t ui;
    ipvm_progress_init(&ui.progress, cli);
    ipvm_sched_run_opts_t ro = {.name = a.name, .on_event = on_event, .event_data = &ui,
                                .auth = trust.auth};
    ipvm_sched_result_t res;
    int rc = ipvm_sched_run(node.sched, wf, &ro, &arena, &res, &err);
    ipvm_progress_clear(&ui.progress);
    status = report(cli, &a, wf, &res, rc, &err, &arena);
done:
    node_close(&node);
    ipvm_cli_trust_close(&trust);
    ipvm_arena_dispose(&arena);
    ipvm_buf_dispose(&json);
    return status;
}

const ipvm_cmd_t ipvm_cmd_run = {"run", "run a workflow and print its receipts", HELP, cmd_run};
