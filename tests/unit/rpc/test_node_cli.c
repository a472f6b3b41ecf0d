/* SPDX-License-Identifier: Apache-2.0 */
/* What a user of `ipvm node` and `ipvm run --node` sees: each subcommand's help (every flag,
 * setting and environment variable), status and stop with no node, a stale pid file or an
 * unrelated live pid, --json on every path, and errors that say what to do next. */
#include "node_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const SUBS[] = {"start", "stop", "status", "init", "config", "peers", "id"};

/* `ipvm node SUB --help` is SUB's own help; `node start --help` lists every key of the template
 * `node init --print` writes, with its environment variable, and every flag of the usage. */
IPVM_TEST(rpc, node_cli_help)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/help", ipvm_test_tmpdir());
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT, start = IPVM_BUF_INIT;
    for (size_t i = 0; i < sizeof SUBS / sizeof SUBS[0]; i++) {
        const char *args[] = {"node", SUBS[i], "--help", NULL};
        IPVM_ASSERT_EQ(ipvm_test_ipvm(dir, args, 10000, &o, &e), 0);
        char want[64];
        snprintf(want, sizeof want, "Usage: ipvm node %s", SUBS[i]);
        IPVM_ASSERT_MSG(strncmp((char *)o.data, want, strlen(want)) == 0,
                        "'node %s --help' begins:\n%.200s", SUBS[i], (char *)o.data);
        if (i == 0)
            IPVM_ASSERT_OK(ipvm_buf_append(&start, o.data, o.len + 1));
        else if (i <= 3)
            IPVM_ASSERT_STRCONTAINS((char *)o.data, "Exit status:");
    }
    const char *help = (const char *)start.data;
    IPVM_ASSERT_STRCONTAINS(help, "Exit status:");
    static const char *const flags[] = {"--detach", "--config FILE", "--no-resume", "--set",
                                        "--host ADDR", "--port N", "--workers N", "--name NAME",
                                        "--fuel N", "--memory BYTES", "--time DURATION",
                                        "--max-clients N", "--socket PATH"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        IPVM_ASSERT_STRCONTAINS(help, flags[i]);
    const char *print[] = {"node", "init", "--print", NULL};
    IPVM_ASSERT_EQ(ipvm_test_ipvm(dir, print, 10000, &o, &e), 0);
    char section[64] = "";
    size_t keys = 0;
    for (char *line = strtok((char *)o.data, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64], env[96];
        if (sscanf(line, "[%63[^]]]", section) == 1)
            continue;
        if (sscanf(line, "# (%*[^;]; environment: %95[^)])", env) == 1) {
            IPVM_ASSERT_STRCONTAINS(help, env);
            continue;
        }
        if (line[0] == '#' && line[1] != ' ' && sscanf(line + 1, "%63s =", name) == 1) {
            char full[160];
            snprintf(full, sizeof full, "  %s.%s ", section, name);
            IPVM_ASSERT_STRCONTAINS(help, full);
            keys++;
        }
    }
    IPVM_ASSERT_MSG(keys >= 30, "only %zu keys in the template", keys);
    /* a subcommand's usage error points at its own help */
    const char *bad[] = {"node", "stop", "--bogus", NULL};
    IPVM_ASSERT_EQ(ipvm_test_ipvm(dir, bad, 10000, &o, &e), 2);
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "Try 'ipvm node stop --help'");
    ipvm_buf_dispose(&start);
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
}

/* A flag given last without its value says so; a bad --timeout is refused before any signal. */
IPVM_TEST(rpc, node_cli_missing_values)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/values", ipvm_test_tmpdir());
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
    static const struct {
        const char *args[5], *want;
    } cases[] = {
        {{"node", "start", "--port", NULL}, "node start: --port needs a value"},
        {{"node", "start", "--config", NULL}, "node start: --config needs a value"},
        {{"node", "stop", "--timeout", NULL}, "node stop: --timeout needs a value"},
        {{"node", "stop", "--timeout", "soon", NULL}, "--timeout 'soon' is not a number"},
        {{"node", "init", "-o", NULL}, "node init: -o needs a value"},
        {{"node", "config", "--config", NULL}, "node config: --config needs a value"},
        {{"run", "wf.json", "--node", NULL}, "--node needs a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        IPVM_ASSERT_EQ(ipvm_test_ipvm(dir, cases[i].args, 10000, &o, &e), 2);
        IPVM_ASSERT_STRCONTAINS((char *)e.data, cases[i].want);
    }
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
}

/* status (exit 3) and stop (exit 0) with no node, with a pid file a killed node left, and with
 * one naming an unrelated live process (pid 1): never signalled, and --json always answers. */
IPVM_TEST(rpc, node_cli_not_running)
{
    char dir[4096], pidf[4200];
    snprintf(dir, sizeof dir, "%s/none", ipvm_test_tmpdir());
    snprintf(pidf, sizeof pidf, "%s/node.pid", dir);
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
    ipvm_error_t err;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *status[] = {"node", "status", NULL}, *jstatus[] = {"--json", "node", "status", NULL};
    const char *stop[] = {"node", "stop", NULL}, *jstop[] = {"--json", "node", "stop", NULL};
    static const char *const pids[] = {NULL, "999999\n", "1\n"};
    for (size_t i = 0; i < 3; i++) {
        if (pids[i]) {
            IPVM_ASSERT_OK(ipvm_mkdirs(dir, 0700, &err));
            IPVM_ASSERT_OK(ipvm_file_write_atomic(pidf, pids[i], strlen(pids[i]), &err));
        }
        IPVM_ASSERT_EQ(ipvm_test_ipvm(dir, status, 10000, &o, &e), 3);
        IPVM_ASSERT_STRCONTAINS((char *)o.data, "no node is running");
        if (pids[i]) {
            char want[64];
            snprintf(want, sizeof want, "names pid %ld", strtol(pids[i], NULL, 10));
            IPVM_ASSERT_STRCONTAINS((char *)o.data, want);
            IPVM_ASSERT_STRCONTAINS((char *)o.data, "harmless");
        }
        IPVM_ASSERT_EQ(ipvm_test_ipvm(dir, jstatus, 10000, &o, &e), 3);
        const ipvm_ipld_t *v = ipvm_test_json(&a, &o);
        IPVM_ASSERT(ipvm_ipld_map_get(v, "running")->kind == IPVM_IPLD_BOOL);
        IPVM_ASSERT(!ipvm_ipld_map_get(v, "running")->u.boolean);
        uint64_t stale = 0;
        IPVM_ASSERT_EQ(ipvm_ipld_get_u64(ipvm_ipld_map_get(v, "stale_pid"), &stale) == 0,
                       pids[i] != NULL);
        IPVM_ASSERT_EQ(ipvm_test_ipvm(dir, stop, 10000, &o, &e), 0);
        IPVM_ASSERT_STRCONTAINS((char *)e.data, "no node is running");
        IPVM_ASSERT_EQ(ipvm_test_ipvm(dir, jstop, 10000, &o, &e), 0);
        v = ipvm_test_json(&a, &o);
        IPVM_ASSERT(!ipvm_ipld_map_get(v, "stopped")->u.boolean);
        IPVM_ASSERT(!ipvm_ipld_map_get(v, "running")->u.boolean);
    }
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
}

/* `--json node start` fails with a JSON error on stdout: a second start (foreground and
 * --detach) names the first node's pid, and a bad ipvm.conf names file:line and the key; status
 * of the running node reads as lines. */
IPVM_TEST(rpc, node_cli_start_json_errors)
{
    node_fixture_t n;
    node_fixture_start(&n, NULL, NULL);
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    char pid[32];
    snprintf(pid, sizeof pid, "(pid %ld)", n.pid);
    const char *fg[] = {"--json", "node", "start", "--port", "0", NULL};
    const char *bg[] = {"--json", "node", "start", "--port", "0", "--detach", NULL};
    const char *const *starts[] = {fg, bg};
    for (size_t i = 0; i < 2; i++) {
        IPVM_ASSERT_EQ(ipvm_test_ipvm(n.data_dir, starts[i], 20000, &o, &e), 1);
        const ipvm_ipld_t *v = ipvm_test_json(&a, &o);
        IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(v, "error/code"), "IPVM_EEXIST"));
        const ipvm_ipld_t *m = ipvm_ipld_select(v, "error/message");
        IPVM_ASSERT(m && m->kind == IPVM_IPLD_STRING);
        IPVM_ASSERT_STRCONTAINS(m->u.str.ptr, "already running");
        IPVM_ASSERT_STRCONTAINS(m->u.str.ptr, pid);
        IPVM_ASSERT_STRCONTAINS((char *)e.data, pid); /* and in words for a person */
    }
    /* status shows the node's peer id and addresses as lines, not as the API's JSON */
    const char *status[] = {"node", "status", NULL};
    IPVM_ASSERT_EQ(ipvm_test_ipvm(n.data_dir, status, 10000, &o, &e), 0);
    IPVM_ASSERT_STRCONTAINS((char *)o.data, "\n  peer id    12D3KooW");
    IPVM_ASSERT_STRCONTAINS((char *)o.data, "\n  listening  /ip4/");
    node_fixture_stop(&n, 30000);
    char conf[4200];
    snprintf(conf, sizeof conf, "%s/ipvm.conf", n.data_dir);
    ipvm_error_t err;
    IPVM_ASSERT_OK(ipvm_file_write_atomic(conf, "[rpc]\nbogus = 1\n", 16, &err));
    IPVM_ASSERT_EQ(ipvm_test_ipvm(n.data_dir, fg, 20000, &o, &e), 1);
    const ipvm_ipld_t *v = ipvm_test_json(&a, &o);
    const ipvm_ipld_t *m = ipvm_ipld_select(v, "error/message");
    IPVM_ASSERT(m && m->kind == IPVM_IPLD_STRING);
    IPVM_ASSERT_STRCONTAINS(m->u.str.ptr, "ipvm.conf:2: unknown key 'bogus' in [rpc]");
    IPVM_ASSERT_STRCONTAINS(m->u.str.ptr, "the keys of [rpc] are enable, host, port");
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
}

/* `run --node` with the dashboard's http:// address names the ws:// one; with a node that does
 * not answer, it says where this data dir's node is, or that none runs here either. */
IPVM_TEST(rpc, run_remote_url_hints)
{
    const char *wf = ipvm_test_vector("homestar/workflows/test-workflow-add-one.json");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/hints", ipvm_test_tmpdir());
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
    const char *http[] = {"run", "--node", "http://127.0.0.1:1337/", wf, NULL};
    IPVM_ASSERT_EQ(ipvm_test_ipvm(dir, http, 10000, &o, &e), 1);
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "the node's HTTP address");
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "--node ws://127.0.0.1:1337");
    const char *dead[] = {"run", "--node", "ws://127.0.0.1:1", wf, NULL};
    IPVM_ASSERT_EQ(ipvm_test_ipvm(dir, dead, 20000, &o, &e), 1);
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "cannot reach the node at ws://127.0.0.1:1");
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "no node runs with data directory");
    node_fixture_t n;
    node_fixture_start(&n, NULL, NULL);
    IPVM_ASSERT_EQ(ipvm_test_ipvm(n.data_dir, dead, 20000, &o, &e), 1);
    char want[300];
    snprintf(want, sizeof want, "is at %s: use --node %s", n.url, n.url);
    IPVM_ASSERT_STRCONTAINS((char *)e.data, want);
    node_fixture_stop(&n, 30000);
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
}

/* `--json node config` is one object: typed values and where each comes from; a --config
 * file that does not exist says how to write one; init into a missing directory says so. */
IPVM_TEST(rpc, node_cli_config_json)
{
    char dir[4096], conf[4200], missing[4200];
    snprintf(dir, sizeof dir, "%s/cfg", ipvm_test_tmpdir());
    snprintf(conf, sizeof conf, "%s/ipvm.conf", dir);
    snprintf(missing, sizeof missing, "%s/no/such/dir/ipvm.conf", dir);
    ipvm_error_t err;
    IPVM_ASSERT_OK(ipvm_mkdirs(dir, 0700, &err));
    IPVM_ASSERT_OK(ipvm_file_write_atomic(conf, "[node]\nresume = no\n", 19, &err));
    const char *argv[] = {ipvm_test_bin("ipvm"), "--data-dir", dir, "--json", "node", "config",
                          NULL};
    const char *env[] = {"IPVM_RPC_PORT=8080", NULL};
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
    IPVM_ASSERT_EQ(ipvm_test_run(argv, env, NULL, 10000, &o, &e), 0);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const ipvm_ipld_t *v = ipvm_test_json(&a, &o);
    const ipvm_ipld_t *port = ipvm_ipld_map_get(v, "rpc.port");
    uint64_t n = 0;
    IPVM_ASSERT_OK(ipvm_ipld_get_u64(ipvm_ipld_map_get(port, "value"), &n));
    IPVM_ASSERT_EQ(n, 8080);
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_map_get(port, "origin"), "env IPVM_RPC_PORT"));
    const ipvm_ipld_t *resume = ipvm_ipld_map_get(v, "node.resume");
    const ipvm_ipld_t *rv = ipvm_ipld_map_get(resume, "value");
    IPVM_ASSERT(rv && rv->kind == IPVM_IPLD_BOOL && !rv->u.boolean);
    char origin[4300];
    snprintf(origin, sizeof origin, "%s:2", conf);
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_map_get(resume, "origin"), origin));
    IPVM_ASSERT_OK(ipvm_ipld_get_u64(ipvm_ipld_select(v, "rpc.idle_timeout/value"), &n));
    IPVM_ASSERT_EQ(n, 120000);
    const char *none[] = {"node", "config", "--config", "/no/such/ipvm.conf", NULL};
    IPVM_ASSERT_EQ(ipvm_test_ipvm(dir, none, 10000, &o, &e), 1);
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "write one with 'ipvm node init -o /no/such/ipvm.conf'");
    const char *init[] = {"node", "init", "-o", missing, NULL};
    IPVM_ASSERT_EQ(ipvm_test_ipvm(dir, init, 10000, &o, &e), 1);
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "check that its directory exists");
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
}
