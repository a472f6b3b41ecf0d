/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm workflow inspect WORKFLOW.json` (the workflow CID, per task the instruction and
 * invocation CIDs, batches and awaits) and `ipvm workflow gen` (synthetic chains and fans, for
 * benchmarks and tests). Pure computation: nothing is stored or run. */
#include "cli.h"
#include "workflow/workflow_int.h"

#include <stdlib.h>
#include <string.h>

extern const ipvm_cmd_t ipvm_cmd_workflow;

static const char HELP[] =
    "Usage: ipvm workflow inspect WORKFLOW.json [--json]\n"
    "       ipvm workflow gen [--chains N] [--length N] [--fans N] [--width N]\n"
    "                         [--rsc URL] [--func NAME] [--base N] [--fuel N]\n"
    "\n"
    "inspect  reads a workflow (Homestar's DAG-JSON format, or '-' for stdin), checks it the way\n"
    "         'ipvm run' does (except awaits of instructions outside the workflow, which are\n"
    "         listed), and prints its identifiers: the workflow CID, and per task the\n"
    "         instruction CID (what receipts are found by, and what awaits name) and the\n"
    "         invocation CID (the 'ran' of its receipt), its batch, function, limits and\n"
    "         awaits. Nothing is stored or run. With --json: one DAG-JSON document.\n"
    "\n"
    "gen      prints a synthetic workflow: N chains of add_one tasks, each awaiting the one\n"
    "         before it, and N fans (a root awaited by --width tasks). Every task has its own\n"
    "         nonce. Defaults: --chains 10 --length 10 --fans 0 --width 10 --func add_one\n"
    "         --rsc ipfs://<example_test.wasm> --base 1.\n"
    "\n"
    "Examples:\n"
    "  ipvm workflow inspect tests/vectors/homestar/workflows/test-workflow-add-one.json\n"
    "  ipvm workflow gen --chains 100 --length 100 > big.json && ipvm run big.json\n";

#define EXAMPLE_RSC "ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq"

static void print_limits(const ipvm_task_t *t)
{
    if (!t->limits.fuel && !t->limits.memory && !t->limits.time_ms)
        return;
    printf("      limits:");
    if (t->limits.fuel)
        printf(" fuel %llu", (unsigned long long)t->limits.fuel);
    if (t->limits.memory)
        printf(" memory %llu", (unsigned long long)t->limits.memory);
    if (t->limits.time_ms)
        printf(" time %llu ms", (unsigned long long)t->limits.time_ms);
    printf("\n");
}

static void print_text(const ipvm_workflow_t *wf)
{
    char c[IPVM_CID_MAX_STR], d[IPVM_CID_MAX_STR];
    printf("workflow %s\n  %zu task%s in %zu batch%s\n", ipvm_cid_str(&wf->cid, c), wf->ntasks,
           wf->ntasks == 1 ? "" : "s", wf->nbatches, wf->nbatches == 1 ? "" : "es");
    for (size_t b = 0; b < wf->nbatches; b++) {
        printf("\nbatch %zu\n", b);
        for (size_t k = wf->batch_start[b]; k < wf->batch_start[b + 1]; k++) {
            const ipvm_task_t *t = &wf->tasks[wf->order[k]];
            char args[80];
            ipvm_ipld_summary(t->args, args, sizeof args);
            printf("  task %zu: %s  args %s\n", t->index, t->func, args);
            printf("      instruction %s\n      invocation  %s\n",
                   ipvm_cid_str(&t->instruction, c), ipvm_cid_str(&t->invocation, d));
            printf("      rsc %s\n", t->rsc);
            print_limits(t);
            for (size_t i = 0; i < t->nawaits; i++) {
                const ipvm_await_t *aw = &t->awaits[i];
                if (aw->task >= 0)
                    printf("      %s task %ld\n", ipvm_await_kind_name(aw->kind), aw->task);
                else
                    printf("      %s %s (outside this workflow)\n",
                           ipvm_await_kind_name(aw->kind), ipvm_cid_str(&aw->target, c));
            }
        }
    }
}

static ipvm_ipld_t *task_json(ipvm_arena_t *a, const ipvm_task_t *t)
{
    ipvm_ipld_t *m = ipvm_ipld_new_map(a, 9), *aws = ipvm_ipld_new_list(a, t->nawaits);
    if (m == NULL || aws == NULL)
        return NULL;
    for (size_t i = 0; i < t->nawaits; i++) {
        ipvm_ipld_t *w = ipvm_ipld_new_map(a, 3);
        if (w == NULL ||
            ipvm_ipld_map_set_cstr(a, w, "kind",
                                   ipvm_ipld_new_cstring(a, ipvm_await_kind_name(t->awaits[i].kind))) ||
            ipvm_ipld_map_set_cstr(a, w, "instruction", ipvm_ipld_new_link(a, &t->awaits[i].target)) ||
            ipvm_ipld_map_set_cstr(a, w, "task", t->awaits[i].task >= 0
                                                     ? ipvm_ipld_new_int(a, t->awaits[i].task)
                                                     : ipvm_ipld_new_null(a)) ||
            ipvm_ipld_list_push(a, aws, w))
            return NULL;
    }
    if (ipvm_ipld_map_set_cstr(a, m, "index", ipvm_ipld_new_uint(a, t->index)) ||
        ipvm_ipld_map_set_cstr(a, m, "func", ipvm_ipld_new_cstring(a, t->func)) ||
        ipvm_ipld_map_set_cstr(a, m, "rsc", ipvm_ipld_new_cstring(a, t->rsc)) ||
        ipvm_ipld_map_set_cstr(a, m, "instruction", ipvm_ipld_new_link(a, &t->instruction)) ||
        ipvm_ipld_map_set_cstr(a, m, "invocation", ipvm_ipld_new_link(a, &t->invocation)) ||
        ipvm_ipld_map_set_cstr(a, m, "batch", ipvm_ipld_new_uint(a, t->batch)) ||
        ipvm_ipld_map_set_cstr(a, m, "awaits", aws))
        return NULL;
    return m;
}

static int print_json(const ipvm_workflow_t *wf)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *m = ipvm_ipld_new_map(&a, 3), *tasks = ipvm_ipld_new_list(&a, wf->ntasks);
    ipvm_ipld_t *batches = ipvm_ipld_new_list(&a, wf->nbatches);
    int rc = m && tasks && batches ? 0 : IPVM_ENOMEM;
    for (size_t i = 0; rc == 0 && i < wf->ntasks; i++) {
        ipvm_ipld_t *t = task_json(&a, &wf->tasks[i]);
        rc = t ? ipvm_ipld_list_push(&a, tasks, t) : IPVM_ENOMEM;
    }
    for (size_t b = 0; rc == 0 && b < wf->nbatches; b++) {
        ipvm_ipld_t *l = ipvm_ipld_new_list(&a, wf->batch_start[b + 1] - wf->batch_start[b]);
        rc = l ? ipvm_ipld_list_push(&a, batches, l) : IPVM_ENOMEM;
        for (size_t k = wf->batch_start[b]; rc == 0 && k < wf->batch_start[b + 1]; k++)
            rc = ipvm_ipld_list_push(&a, l, ipvm_ipld_new_uint(&a, wf->order[k]));
    }
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(&a, m, "workflow", ipvm_ipld_new_link(&a, &wf->cid));
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(&a, m, "tasks", tasks);
    if (rc == 0)
        rc = ipvm_ipld_map_set_cstr(&a, m, "batches", batches);
    ipvm_buf_t b = IPVM_BUF_INIT;
    if (rc == 0 && (rc = ipvm_dagjson_encode(m, 0, &b, NULL)) == 0)
        printf("%s\n", (const char *)b.data);
    ipvm_buf_dispose(&b);
    ipvm_arena_dispose(&a);
    return rc;
}

static int inspect(ipvm_cli_t *cli, int argc, char **argv)
{
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return ipvm_cli_usage(cli, &ipvm_cmd_workflow, "inspect: unknown option '%s'",
                                  argv[i]);
        if (file)
            return ipvm_cli_usage(cli, &ipvm_cmd_workflow, "inspect: one file at a time");
        file = argv[i];
    }
    if (file == NULL)
        return ipvm_cli_usage(cli, &ipvm_cmd_workflow, "inspect: which workflow file?");
    ipvm_buf_t json = IPVM_BUF_INIT;
    int status = ipvm_cli_read_input(cli, file, &json);
    if (status != 0)
        return status;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_workflow_opts_t o = {.allow_outside_awaits = true};
    if (ipvm_workflow_parse((const char *)json.data, json.len, &o, &a, &wf, &err) != 0)
        status = ipvm_cli_fail_err(cli, &err, "%s", file);
    else if (cli->json)
        status = print_json(wf) == 0 ? 0 : ipvm_cli_fail(cli, IPVM_ENOMEM, "out of memory");
    else
        print_text(wf);
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&json);
    return status;
}

static int gen(ipvm_cli_t *cli, int argc, char **argv)
{
    ipvm__wf_gen_t g = {.chains = 10, .length = 10, .width = 10, .rsc = EXAMPLE_RSC,
                        .func = "add_one", .base = 1};
    for (int i = 1; i < argc; i += 2) { /* each option takes a value */
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        unsigned long long n = v ? strtoull(v, &end, 10) : 0;
        bool num = v && *v && *v != '-' && *end == '\0' && n <= 1000000;
        if (strcmp(o, "--rsc") == 0 && v)
            g.rsc = v;
        else if (strcmp(o, "--func") == 0 && v)
            g.func = v;
        else if (num && strcmp(o, "--chains") == 0)
            g.chains = n;
        else if (num && strcmp(o, "--length") == 0)
            g.length = n;
        else if (num && strcmp(o, "--fans") == 0)
            g.fans = n;
        else if (num && strcmp(o, "--width") == 0)
            g.width = n;
        else if (num && strcmp(o, "--base") == 0)
            g.base = (int64_t)n;
        else if (num && strcmp(o, "--fuel") == 0)
            g.fuel = n;
        else
            return ipvm_cli_usage(cli, &ipvm_cmd_workflow, "gen: unknown option or bad value '%s'",
                                  o);
    }
    size_t total = ipvm__wf_gen_count(&g);
    if (total == 0 || total > IPVM_WORKFLOW_MAX_TASKS)
        return ipvm_cli_usage(cli, &ipvm_cmd_workflow, "gen: %zu tasks (1..%d allowed)", total,
                              IPVM_WORKFLOW_MAX_TASKS);
    ipvm_buf_t b = IPVM_BUF_INIT;
    int rc = ipvm__wf_generate(&g, &b, NULL);
    if (rc == 0) {
        fwrite(b.data, 1, b.len, stdout);
        fputc('\n', stdout);
    }
    ipvm_buf_dispose(&b);
    return rc == 0 ? 0 : ipvm_cli_fail(cli, rc, "cannot generate the workflow");
}

static int cmd_workflow(ipvm_cli_t *cli, int argc, char **argv)
{
    if (argc < 2)
        return ipvm_cli_usage(cli, &ipvm_cmd_workflow, "workflow: inspect or gen?");
    if (ipvm_cli_wants_help(argc, argv))
        return ipvm_cli_help(&ipvm_cmd_workflow);
    if (strcmp(argv[1], "inspect") == 0)
        return inspect(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "gen") == 0)
        return gen(cli, argc - 1, argv + 1);
    return ipvm_cli_usage(cli, &ipvm_cmd_workflow, "workflow: unknown subcommand '%s'", argv[1]);
}

const ipvm_cmd_t ipvm_cmd_workflow = {"workflow", "inspect a workflow's CIDs, or generate one",
                                      HELP, cmd_workflow};
