/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm node`: start, stop and inspect the node daemon (src/daemon/), and write its config. */
#define _GNU_SOURCE
#include "cli.h"
#include "daemon/daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern const ipvm_cmd_t ipvm_cmd_node;
int ipvm__node_peers(ipvm_cli_t *cli, int argc, char **argv); /* node_p2p.c */
int ipvm__node_id(ipvm_cli_t *cli, int argc, char **argv);
bool ipvm__node_read_info(const char *data_dir, char *url, size_t len, uint64_t *started_ms);

static const char *arg_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (strcmp(argv[*i], name) == 0 && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

/* ---- start -------------------------------------------------------------------------------- */

static int node_start(ipvm_cli_t *cli, int argc, char **argv)
{
    ipvm_node_opts_t o = {0};
    o.data_dir = cli->data_dir;
    o.json = cli->json;
    o.quiet = cli->quiet;
    const char **sets = calloc((size_t)argc * 2 + 1, sizeof *sets);
    char **owned = calloc((size_t)argc + 1, sizeof *owned);
    size_t nowned = 0;
    if (sets == NULL || owned == NULL)
        return ipvm_cli_fail(cli, IPVM_ENOMEM, "out of memory");
    static const struct {
        const char *flag, *key;
    } shortcuts[] = {
        {"--host", "rpc.host"},        {"--port", "rpc.port"},
        {"--workers", "node.workers"}, {"--name", "node.name"},
        {"--fuel", "limits.fuel"},     {"--memory", "limits.memory"},
        {"--time", "limits.time"},     {"--max-clients", "rpc.max_clients"},
        {"--socket", "rpc.socket"},
    };
    int status = IPVM_EXIT_OK;
    for (int i = 1; i < argc && status == IPVM_EXIT_OK; i++) {
        const char *v;
        bool matched = false;
        for (size_t k = 0; k < sizeof shortcuts / sizeof shortcuts[0] && !matched; k++) {
            if ((v = arg_value(argc, argv, &i, shortcuts[k].flag)) != NULL) {
                size_t len = strlen(shortcuts[k].key) + strlen(v) + 2;
                char *s = malloc(len);
                if (s == NULL)
                    return ipvm_cli_fail(cli, IPVM_ENOMEM, "out of memory");
                snprintf(s, len, "%s=%s", shortcuts[k].key, v);
                owned[nowned++] = s;
                sets[o.nsets++] = s;
                matched = true;
            }
        }
        if (matched)
            continue;
        if ((v = arg_value(argc, argv, &i, "--config")) != NULL)
            o.config_path = v;
        else if ((v = arg_value(argc, argv, &i, "--set")) != NULL)
            sets[o.nsets++] = v;
        else if (strcmp(argv[i], "--detach") == 0 || strcmp(argv[i], "-d") == 0)
            o.detach = true;
        else if (strcmp(argv[i], "--no-resume") == 0)
            sets[o.nsets++] = "node.resume=false";
        else
            status =
                ipvm_cli_usage(cli, &ipvm_cmd_node, "node start: unknown argument '%s'", argv[i]);
    }
    o.sets = sets;
    if (status == IPVM_EXIT_OK)
        status = ipvm_node_main(&o);
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    free(owned);
    free(sets);
    return status;
}

/* ---- status / stop ------------------------------------------------------------------------ */

/* Reads DATA_DIR/node.json into url (the API address), *started_ms and, when socket is not
 * NULL, the rpc.socket path ("" when the node has none). */
static bool read_info(const char *data_dir, char *url, size_t len, uint64_t *started_ms,
                      char *socket, size_t socket_len)
{
    char info[4096];
    ipvm_node_paths(data_dir, NULL, info, NULL);
    ipvm_buf_t b = IPVM_BUF_INIT;
    bool ok = false;
    if (ipvm_file_read(info, &b, NULL) == 0) {
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_ipld_t *v = NULL;
        if (ipvm_dagjson_decode((const char *)b.data, b.len, &a, &v, NULL) == 0) {
            const ipvm_ipld_t *r = ipvm_ipld_map_get(v, "rpc");
            if (r && r->kind == IPVM_IPLD_STRING) {
                snprintf(url, len, "%s", r->u.str.ptr);
                ok = true;
            }
            if (ipvm_ipld_get_u64(ipvm_ipld_map_get(v, "started_ms"), started_ms) != 0)
                *started_ms = 0;
            const ipvm_ipld_t *sk = ipvm_ipld_map_get(v, "socket");
            if (socket && sk && sk->kind == IPVM_IPLD_STRING)
                snprintf(socket, socket_len, "%s", sk->u.str.ptr);
        }
        ipvm_arena_dispose(&a);
    }
    ipvm_buf_dispose(&b);
    return ok;
}

bool ipvm__node_read_info(const char *data_dir, char *url, size_t len, uint64_t *started_ms)
{
    return read_info(data_dir, url, len, started_ms, NULL, 0);
}

static long running_pid(const char *data_dir)
{
    char pid[4096];
    ipvm_node_paths(data_dir, pid, NULL, NULL);
    return ipvm_node_pidfile_holder(pid);
}

static int node_status(ipvm_cli_t *cli, int argc, char **argv)
{
    if (argc > 1)
        return ipvm_cli_usage(cli, &ipvm_cmd_node, "node status: unexpected '%s'", argv[1]);
    long pid = running_pid(cli->data_dir);
    if (pid == 0) {
        if (cli->json)
            printf("{\"running\":false,\"data_dir\":\"%s\"}\n", cli->data_dir);
        else
            printf("ipvm: no node is running with data directory %s\n"
                   "Start one with 'ipvm node start' (or --detach for the background).\n",
                   cli->data_dir);
        return 3; /* like LSB status: program is not running */
    }
    char url[512] = "", sock[4096] = "";
    uint64_t started = 0;
    bool have_url = read_info(cli->data_dir, url, sizeof url, &started, sock, sizeof sock);
    ipvm_buf_t health = IPVM_BUF_INIT, node = IPVM_BUF_INIT;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = IPVM_ENOENT;
    if (have_url) {
        ipvm_rpc_client_t *c = NULL;
        rc = ipvm_rpc_client_connect(url, 3000, &c, &err);
        if (rc == 0)
            rc = ipvm_rpc_client_call(c, "health", NULL, 5000, &health, NULL, &err);
        if (rc == 0)
            rc = ipvm_rpc_client_call(c, "node", NULL, 5000, &node, NULL, &err);
        ipvm_rpc_client_free(c);
    }
    uint64_t up = started ? (ipvm_wall_ms() - started) / 1000 : 0;
    if (cli->json) {
        printf("{\"running\":true,\"pid\":%ld,\"rpc\":%s%s%s,\"socket\":%s%s%s,\"uptime_s\":%llu,"
               "\"health\":%s,\"node\":%s}\n",
               pid, have_url ? "\"" : "", have_url ? url : "null", have_url ? "\"" : "",
               sock[0] ? "\"" : "", sock[0] ? sock : "null", sock[0] ? "\"" : "",
               (unsigned long long)up, rc == 0 ? (char *)health.data : "null",
               rc == 0 ? (char *)node.data : "null");
    } else {
        printf("ipvm: node running (pid %ld), up %llus\n", pid, (unsigned long long)up);
        if (have_url)
            printf("  API        %s\n  dashboard  http%s/\n", url, url + 2);
        if (sock[0])
            printf("  socket     unix://%s (ipvm run --node unix://%s)\n", sock, sock);
        if (rc == 0)
            printf("  health     %s\n  node       %s\n", (char *)health.data, (char *)node.data);
        else if (have_url)
            printf("  health     not answering: %s\n", err.msg);
    }
    ipvm_buf_dispose(&health);
    ipvm_buf_dispose(&node);
    return rc == 0 || !have_url ? IPVM_EXIT_OK : IPVM_EXIT_FAIL;
}

static int node_stop(ipvm_cli_t *cli, int argc, char **argv)
{
    bool force = false;
    double wait_s = 60;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--force") == 0)
            force = true;
        else if ((v = arg_value(argc, argv, &i, "--timeout")) != NULL)
            wait_s = atof(v);
        else
            return ipvm_cli_usage(cli, &ipvm_cmd_node, "node stop: unknown argument '%s'", argv[i]);
    }
    long pid = running_pid(cli->data_dir);
    if (pid == 0) {
        if (!cli->quiet)
            fprintf(stderr, "ipvm: no node is running with data directory %s\n", cli->data_dir);
        return IPVM_EXIT_OK;
    }
    if (pid < 0)
        return ipvm_cli_fail(cli, 0, "a node holds %s/node.pid but its pid is unreadable",
                             cli->data_dir);
    if (kill((pid_t)pid, force ? SIGKILL : SIGTERM) != 0)
        return ipvm_cli_fail(cli, 0, "cannot signal pid %ld: %s", pid, strerror(errno));
    if (!cli->quiet && !force)
        fprintf(stderr, "ipvm: stopping the node (pid %ld): running tasks finish first...\n", pid);
    uint64_t deadline = ipvm_now_ns() + (uint64_t)(wait_s * 1e9);
    while (running_pid(cli->data_dir) != 0) {
        if (ipvm_now_ns() > deadline)
            return ipvm_cli_fail(cli, IPVM_ETIMEDOUT,
                                 "the node (pid %ld) is still running after %.0f s; "
                                 "'ipvm node stop --force' kills it",
                                 pid, wait_s);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (cli->json)
        printf("{\"stopped\":true,\"pid\":%ld}\n", pid);
    else if (!cli->quiet)
        fprintf(stderr, "ipvm: node stopped\n");
    return IPVM_EXIT_OK;
}

/* ---- init --------------------------------------------------------------------------------- */

static int node_init_cmd(ipvm_cli_t *cli, int argc, char **argv)
{
    bool force = false, print = false;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0)
            force = true;
        else if (strcmp(argv[i], "--print") == 0)
            print = true;
        else if ((v = arg_value(argc, argv, &i, "-o")) != NULL ||
                 (v = arg_value(argc, argv, &i, "--output")) != NULL)
            out = v;
        else
            return ipvm_cli_usage(cli, &ipvm_cmd_node, "node init: unknown argument '%s'", argv[i]);
    }
    for (size_t i = 0; i < ipvm_node_nservices; i++)
        if (ipvm_node_services[i] && ipvm_node_services[i]->keys)
            ipvm_config_register(ipvm_node_services[i]->keys);
    ipvm_buf_t b = IPVM_BUF_INIT;
    if (ipvm_config_write_template(&b) != 0)
        return ipvm_cli_fail(cli, IPVM_ENOMEM, "out of memory");
    if (print) {
        fwrite(b.data, 1, b.len, stdout);
        ipvm_buf_dispose(&b);
        return IPVM_EXIT_OK;
    }
    char path[4096];
    if (out == NULL) {
        int st = ipvm_cli_ensure_data_dir(cli);
        if (st) {
            ipvm_buf_dispose(&b);
            return st;
        }
        snprintf(path, sizeof path, "%s/ipvm.conf", cli->data_dir);
        out = path;
    }
    struct stat sb;
    if (!force && stat(out, &sb) == 0) {
        ipvm_buf_dispose(&b);
        return ipvm_cli_fail(cli, IPVM_EEXIST, "%s exists; add --force to overwrite it", out);
    }
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = ipvm_file_write_atomic(out, b.data, b.len, &err);
    ipvm_buf_dispose(&b);
    if (rc)
        return ipvm_cli_fail(cli, rc, "%s", err.msg);
    if (cli->json)
        printf("{\"config\":\"%s\"}\n", out);
    else if (!cli->quiet)
        printf("ipvm: wrote %s (every setting, commented out with its default)\n"
               "Edit it, then run 'ipvm node start'.\n",
               out);
    return IPVM_EXIT_OK;
}

/* ---- config: the effective settings -------------------------------------------------------- */

static int node_config(ipvm_cli_t *cli, int argc, char **argv)
{
    const char *file = NULL;
    ipvm_config_t *c = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = arg_value(argc, argv, &i, "--config")) != NULL)
            file = v;
        else
            return ipvm_cli_usage(cli, &ipvm_cmd_node, "node config: unknown argument '%s'",
                                  argv[i]);
    }
    for (size_t i = 0; i < ipvm_node_nservices; i++)
        if (ipvm_node_services[i] && ipvm_node_services[i]->keys)
            ipvm_config_register(ipvm_node_services[i]->keys);
    char path[4096];
    snprintf(path, sizeof path, "%s/ipvm.conf", cli->data_dir);
    extern char **environ;
    int rc = ipvm_config_new(&c);
    if (rc == 0) {
        rc = ipvm_config_load_file(c, file ? file : path, &err);
        if (rc == IPVM_ENOENT && file == NULL)
            rc = 0;
    }
    if (rc == 0)
        rc = ipvm_config_load_env(c, environ, &err);
    ipvm_buf_t b = IPVM_BUF_INIT;
    if (rc == 0)
        rc = ipvm_config_dump(c, &b);
    if (rc == 0)
        fwrite(b.data, 1, b.len, stdout);
    ipvm_buf_dispose(&b);
    ipvm_config_free(c);
    return rc ? ipvm_cli_fail(cli, rc, "%s", err.msg[0] ? err.msg : ipvm_strerror(rc)) : 0;
}

static int cmd_node_run(ipvm_cli_t *cli, int argc, char **argv)
{
    if (argc < 2 || ipvm_cli_wants_help(argc, argv))
        return argc < 2 ? ipvm_cli_usage(cli, &ipvm_cmd_node, "node: which subcommand?")
                        : ipvm_cli_help(&ipvm_cmd_node);
    const char *sub = argv[1];
    if (strcmp(sub, "start") == 0)
        return node_start(cli, argc - 1, argv + 1);
    if (strcmp(sub, "stop") == 0)
        return node_stop(cli, argc - 1, argv + 1);
    if (strcmp(sub, "status") == 0)
        return node_status(cli, argc - 1, argv + 1);
    if (strcmp(sub, "init") == 0)
        return node_init_cmd(cli, argc - 1, argv + 1);
    if (strcmp(sub, "config") == 0)
        return node_config(cli, argc - 1, argv + 1);
    if (strcmp(sub, "peers") == 0) /* node_p2p.c (p2p engineer) */
        return ipvm__node_peers(cli, argc - 1, argv + 1);
    if (strcmp(sub, "id") == 0)
        return ipvm__node_id(cli, argc - 1, argv + 1);
    return ipvm_cli_usage(cli, &ipvm_cmd_node, "node: unknown subcommand '%s'", sub);
}

const ipvm_cmd_t ipvm_cmd_node = {
    "node", "run the node daemon: JSON-RPC API, /health, /metrics, dashboard",
    "Usage: ipvm node start [--detach] [--config FILE] [--host ADDR] [--port N]\n"
    "                       [--socket PATH] [--workers N] [--name NAME] [--fuel N]\n"
    "                       [--memory BYTES] [--time DURATION] [--max-clients N]\n"
    "                       [--set SECTION.KEY=VALUE]... [--no-resume]\n"
    "       ipvm node stop [--timeout SECONDS] [--force]\n"
    "       ipvm node status\n"
    "       ipvm node init [--force] [-o FILE] [--print]\n"
    "       ipvm node config [--config FILE]\n"
    "       ipvm node peers\n"
    "       ipvm node id\n"
    "\n"
    "The node runs workflows for clients that speak Homestar's API: JSON-RPC 2.0 over\n"
    "WebSocket at ws://127.0.0.1:1337 (subscribe_run_workflow, health, metrics, node,\n"
    "rpc_discover, subscribe_network_events), plus plain HTTP on the same port: GET /health,\n"
    "GET /metrics (Prometheus) and GET / (a live dashboard for a browser).\n"
    "--socket PATH (rpc.socket) serves the same on a Unix-domain socket file as well, mode\n"
    "0600 (rpc.socket_mode): local clients of the node's user connect with\n"
    "ipvm run --node unix:///PATH.\n"
    "\n"
    "  start     run the node in the foreground (Ctrl-C or SIGTERM stops it: running tasks\n"
    "            finish, and the next start resumes the workflows that were running);\n"
    "            --detach runs it in the background, prints its address and returns\n"
    "  stop      stop the node of this data directory (waits for running tasks; --force kills)\n"
    "  status    is a node running here, at which address, is it healthy (exit 3 when not\n"
    "            running)\n"
    "  init      write DATA_DIR/ipvm.conf (or -o FILE) listing every setting, commented,\n"
    "            with its default and its environment variable; --print writes it to stdout\n"
    "  config    print the effective settings and where each comes from\n"
    "  peers     the running node's libp2p peers: id, address, direction, agent, ping\n"
    "  id        this node's peer id (base58 and CID forms) and, when it runs, the\n"
    "            multiaddrs others can dial ([p2p] settings: listen, bootstrap, mdns...)\n"
    "\n"
    "Settings, lowest priority first: defaults, the config file (DATA_DIR/ipvm.conf or\n"
    "--config), environment variables IPVM_<SECTION>_<KEY> (e.g. IPVM_RPC_PORT=8080), then\n"
    "flags. --port 0 picks a free port (see 'ipvm node status' or DATA_DIR/node.json).\n"
    "\n"
    "Examples:\n"
    "  ipvm node init && ipvm node start --detach\n"
    "  ipvm run --node ws://127.0.0.1:1337 workflow.json\n"
    "  ipvm node start --socket /run/user/$UID/ipvm.sock &&\n"
    "    ipvm run --node unix:///run/user/$UID/ipvm.sock workflow.json\n"
    "  curl -s http://127.0.0.1:1337/metrics\n"
    "  ipvm node stop\n",
    cmd_node_run};
