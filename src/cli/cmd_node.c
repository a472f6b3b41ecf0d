/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm node`: start, stop and inspect the node daemon (src/daemon/), and write its config. */
#define _GNU_SOURCE
#include "cli.h"
#include "daemon/daemon.h"

#include <ctype.h>
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

/* The usage error for an argument a subcommand did not take: a flag of `valued` (NULL-ended)
 * given last, without its value, says so rather than "unknown". */
static int bad_arg(ipvm_cli_t *cli, const ipvm_cmd_t *sub, const char *arg,
                   const char *const *valued)
{
    for (size_t i = 0; valued && valued[i]; i++)
        if (strcmp(arg, valued[i]) == 0)
            return ipvm_cli_usage(cli, sub, "%s: %s needs a value", sub->name, arg);
    return ipvm_cli_usage(cli, sub, "%s: unknown argument '%s'", sub->name, arg);
}

/* The flags of `node start` that set one key each; `node start --help` lists them from here. */
static const struct {
    const char *flag, *key, *value;
} shortcuts[] = {
    {"--host", "rpc.host", "ADDR"},          {"--port", "rpc.port", "N"},
    {"--workers", "node.workers", "N"},      {"--name", "node.name", "NAME"},
    {"--fuel", "limits.fuel", "N"},          {"--memory", "limits.memory", "BYTES"},
    {"--time", "limits.time", "DURATION"},   {"--max-clients", "rpc.max_clients", "N"},
    {"--socket", "rpc.socket", "PATH"},
};
#define NSHORTCUTS (sizeof shortcuts / sizeof shortcuts[0])

static void register_service_keys(void)
{
    for (size_t i = 0; i < ipvm_node_nservices; i++)
        if (ipvm_node_services[i] && ipvm_node_services[i]->keys)
            ipvm_config_register(ipvm_node_services[i]->keys);
}

/* ---- start -------------------------------------------------------------------------------- */

static const ipvm_cmd_t sub_start, sub_stop, sub_status, sub_init, sub_config;

static int start_bad_arg(ipvm_cli_t *cli, const char *arg)
{
    const char *valued[NSHORTCUTS + 3] = {"--config", "--set"};
    for (size_t k = 0; k < NSHORTCUTS; k++)
        valued[k + 2] = shortcuts[k].flag;
    return bad_arg(cli, &sub_start, arg, valued);
}

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
    int status = IPVM_EXIT_OK;
    for (int i = 1; i < argc && status == IPVM_EXIT_OK; i++) {
        const char *v;
        bool matched = false;
        for (size_t k = 0; k < NSHORTCUTS && !matched; k++) {
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
            status = start_bad_arg(cli, argv[i]);
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

/* The pid a pid file names that no node holds (one killed with -9 left it), or 0. */
static long stale_pid(const char *data_dir)
{
    char path[4096], buf[32] = {0};
    ipvm_node_paths(data_dir, path, NULL, NULL);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    long pid = fgets(buf, sizeof buf, f) ? strtol(buf, NULL, 10) : 0;
    fclose(f);
    return pid > 0 ? pid : 0;
}

static void print_json_str(const char *s)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    if (ipvm_json_append_str(&b, s, strlen(s)) == 0)
        fwrite(b.data, 1, b.len, stdout);
    else
        fputs("null", stdout);
    ipvm_buf_dispose(&b);
}

/* What `status` and `stop` say when no node holds the pid file: text on stderr (status: on
 * stdout, it is the answer) or, with --json, {"running":false,...} with `extra` fields. */
static void say_not_running(ipvm_cli_t *cli, FILE *text, const char *extra, const char *next)
{
    long stale = stale_pid(cli->data_dir);
    if (cli->json) {
        printf("{%s\"running\":false,\"data_dir\":", extra);
        print_json_str(cli->data_dir);
        if (stale)
            printf(",\"stale_pid\":%ld", stale);
        printf("}\n");
        return;
    }
    if (cli->quiet && text == stderr)
        return;
    fprintf(text, "ipvm: no node is running with data directory %s\n", cli->data_dir);
    if (stale)
        fprintf(text,
                "(%s/node.pid names pid %ld, but no node holds its lock: a node that was\n"
                "killed left it behind; it is harmless, and the next start replaces it)\n",
                cli->data_dir, stale);
    if (next)
        fputs(next, text);
}

/* The answers of `health` and `node` for a person: the peer id and listen addresses on lines of
 * their own (the JSON as it is when it is not the shape expected). */
static void print_node_info(const ipvm_buf_t *health, const ipvm_buf_t *node)
{
    printf("  health     %s\n", (const char *)health->data);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    const ipvm_ipld_t *id = NULL, *ls = NULL;
    if (ipvm_dagjson_decode((const char *)node->data, node->len, &a, &v, NULL) == 0) {
        id = ipvm_ipld_select(v, "static/peer_id");
        ls = ipvm_ipld_select(v, "dynamic/listeners");
    }
    if (id && id->kind == IPVM_IPLD_STRING) {
        printf("  peer id    %s\n", id->u.str.ptr);
        for (size_t i = 0; ls && ls->kind == IPVM_IPLD_LIST && i < ls->u.list.len; i++)
            if (ls->u.list.items[i]->kind == IPVM_IPLD_STRING)
                printf("  %-10s %s\n", i ? "" : "listening", ls->u.list.items[i]->u.str.ptr);
    } else {
        printf("  node       %s\n", (const char *)node->data);
    }
    ipvm_arena_dispose(&a);
}

static int node_status(ipvm_cli_t *cli, int argc, char **argv)
{
    if (argc > 1)
        return ipvm_cli_usage(cli, &sub_status, "node status: unexpected '%s'", argv[1]);
    long pid = running_pid(cli->data_dir);
    if (pid == 0) {
        say_not_running(cli, stdout, "",
                        "Start one with 'ipvm node start' (or --detach for the background).\n");
        return 3; /* like LSB status: program is not running */
    }
    char url[512] = "", sock[4096] = "", pidtext[32] = "unknown";
    if (pid > 0)
        snprintf(pidtext, sizeof pidtext, "%ld", pid);
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
        printf("{\"running\":true,\"pid\":%s,\"rpc\":", pid > 0 ? pidtext : "null");
        if (have_url)
            print_json_str(url);
        else
            fputs("null", stdout);
        fputs(",\"socket\":", stdout);
        if (sock[0])
            print_json_str(sock);
        else
            fputs("null", stdout);
        printf(",\"uptime_s\":%llu,\"health\":%s,\"node\":%s", (unsigned long long)up,
               rc == 0 ? (char *)health.data : "null", rc == 0 ? (char *)node.data : "null");
        if (rc != 0 && have_url) {
            fputs(",\"error\":", stdout);
            print_json_str(err.msg);
        }
        printf("}\n");
    } else {
        printf("ipvm: node running (pid %s), up %llus\n", pidtext, (unsigned long long)up);
        if (have_url)
            printf("  API        %s\n  dashboard  http%s/\n", url, url + 2);
        if (sock[0])
            printf("  socket     unix://%s (ipvm run --node unix://%s)\n", sock, sock);
        if (rc == 0)
            print_node_info(&health, &node);
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
        char *end = NULL;
        if (strcmp(argv[i], "--force") == 0) {
            force = true;
        } else if ((v = arg_value(argc, argv, &i, "--timeout")) != NULL) {
            wait_s = strtod(v, &end);
            if (end == v || *end || !(wait_s >= 0 && wait_s <= 86400))
                return ipvm_cli_usage(cli, &sub_stop,
                                      "node stop: --timeout '%s' is not a number of seconds "
                                      "(0 to 86400, e.g. --timeout 30)",
                                      v);
        } else {
            static const char *const valued[] = {"--timeout", NULL};
            return bad_arg(cli, &sub_stop, argv[i], valued);
        }
    }
    long pid = running_pid(cli->data_dir);
    if (pid == 0) {
        say_not_running(cli, stderr, "\"stopped\":false,", NULL);
        return IPVM_EXIT_OK; /* like LSB stop: stopping a stopped service succeeds */
    }
    if (pid < 0)
        return ipvm_cli_fail(cli, 0,
                             "a node holds %s/node.pid but the pid in it is unreadable; find "
                             "it with 'fuser %s/node.pid' and stop it with kill",
                             cli->data_dir, cli->data_dir);
    if (kill((pid_t)pid, force ? SIGKILL : SIGTERM) != 0)
        return ipvm_cli_fail(cli, 0, "cannot signal the node (pid %ld): %s%s", pid,
                             strerror(errno),
                             errno == EPERM ? "; it runs as another user: stop it as that user" : "");
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
            return bad_arg(cli, &sub_init, argv[i], (const char *const[]){"-o", "--output", NULL});
    }
    register_service_keys();
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
        return ipvm_cli_fail(cli, rc,
                             "cannot write %s: %s; check that its directory exists and is "
                             "writable, or choose another file with -o FILE",
                             out, err.msg);
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
            return bad_arg(cli, &sub_config, argv[i], (const char *const[]){"--config", NULL});
    }
    register_service_keys();
    char path[4096];
    snprintf(path, sizeof path, "%s/ipvm.conf", cli->data_dir);
    extern char **environ;
    int rc = ipvm_config_new(&c);
    if (rc == 0) {
        rc = ipvm_config_load_file(c, file ? file : path, &err);
        if (rc == IPVM_ENOENT && file == NULL)
            rc = 0;
        else if (rc == IPVM_ENOENT)
            ipvm_error_set(&err, rc, IPVM_NO_OFFSET,
                           "config file %s not found; write one with 'ipvm node init -o %s'",
                           file, file);
    }
    if (rc == 0)
        rc = ipvm_config_load_env(c, environ, &err);
    ipvm_buf_t b = IPVM_BUF_INIT;
    if (rc == 0)
        rc = cli->json ? ipvm_config_dump_json(c, &b) : ipvm_config_dump(c, &b);
    if (rc == 0)
        fwrite(b.data, 1, b.len, stdout);
    ipvm_buf_dispose(&b);
    ipvm_config_free(c);
    return rc ? ipvm_cli_fail(cli, rc, "%s", err.msg[0] ? err.msg : ipvm_strerror(rc)) : 0;
}

/* ---- help ---------------------------------------------------------------------------------- */

static const char START_HELP[] =
    "Usage: ipvm node start [--detach] [--config FILE] [--no-resume] [FLAG VALUE]...\n"
    "                       [--set SECTION.KEY=VALUE]...\n"
    "\n"
    "Runs the node of this data directory in the foreground: the JSON-RPC API over WebSocket,\n"
    "GET /health, GET /metrics and the dashboard on one port (ws://127.0.0.1:1337 unless set).\n"
    "Ctrl-C or SIGTERM ('ipvm node stop') drains: running tasks finish (up to\n"
    "node.shutdown_timeout), then the node exits 0; a second signal exits at once. The next\n"
    "start resumes the workflows that were running, as it does after kill -9. One node per data\n"
    "directory: a second start on the same one is refused, naming the pid of the first.\n"
    "\n"
    "Options:\n"
    "  --detach, -d          run in the background: returns once the node serves, printing its\n"
    "                        address (or why it could not start); its log goes to node.log\n"
    "  --config FILE         read settings from FILE (it must exist) instead of\n"
    "                        DATA_DIR/ipvm.conf (read when it exists)\n"
    "  --no-resume           leave unfinished workflows alone (node.resume = false)\n"
    "  --set SECTION.KEY=VALUE\n"
    "                        any setting below, e.g. --set rpc.idle_timeout=5m\n";

static const char START_HELP_END[] =
    "\n"
    "Settings, lowest priority first: the defaults above, the config file, the environment\n"
    "variables, then flags. 'ipvm node init' writes the file with each setting's description;\n"
    "'ipvm node config' shows the values in effect and where each comes from. Sizes take k, M or\n"
    "G (powers of 1024); durations take ms, s, m or h. --port 0 picks a free port.\n"
    "\n"
    "Files in DATA_DIR: ipvm.conf (settings), node.pid (locked while the node runs), node.json\n"
    "(its pid and API address, for 'ipvm node status' and clients), node.log (the log of a\n"
    "detached node), ipvm.db and blocks/ (receipts, workflows, modules).\n"
    "\n"
    "Output: a line 'ipvm: node started (pid N), API at URL, ...' on stderr once the node serves\n"
    "(stdout with --detach); with --json {\"pid\", \"rpc\", \"data_dir\"} on stdout, and errors as\n"
    "{\"error\": {\"code\", \"reason\", \"message\"}} on stdout as well as in words on stderr.\n"
    "\n"
    "Exit status: 0 after a clean stop (or, with --detach, once the node serves), 1 when the node\n"
    "cannot start (the message says why and what to change) or left on a second signal, 2 for a\n"
    "bad command line.\n";

/* START_HELP with the flags (from `shortcuts`) and every setting (from the config tables). */
static int start_help(void)
{
    register_service_keys();
    ipvm_buf_t b = IPVM_BUF_INIT;
    int rc = ipvm_buf_append_str(&b, START_HELP);
    for (size_t k = 0; rc == 0 && k < NSHORTCUTS; k++) {
        char flag[64], env[64];
        snprintf(flag, sizeof flag, "%s %s", shortcuts[k].flag, shortcuts[k].value);
        snprintf(env, sizeof env, "IPVM_%s", shortcuts[k].key);
        for (char *p = env + 5; *p; p++)
            *p = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
        rc = ipvm_buf_printf(&b, "  %-21s sets %s (%s)\n", flag, shortcuts[k].key, env);
    }
    if (rc == 0)
        rc = ipvm_buf_append_str(&b, "\nSettings ([section] key in ipvm.conf):\n");
    if (rc == 0)
        rc = ipvm_config_write_keys(&b);
    if (rc == 0)
        rc = ipvm_buf_append_str(&b, START_HELP_END);
    if (rc == 0)
        rc = ipvm_buf_append_byte(&b, '\0');
    if (rc) {
        ipvm_buf_dispose(&b);
        fputs(START_HELP, stdout);
        return IPVM_EXIT_OK;
    }
    ipvm_cmd_t whole = sub_start;
    whole.help = (const char *)b.data;
    ipvm_cli_help(&whole);
    ipvm_buf_dispose(&b);
    return IPVM_EXIT_OK;
}

static const ipvm_cmd_t sub_start = {"node start", "run the node", START_HELP, node_start};

static const ipvm_cmd_t sub_stop = {
    "node stop", "stop the node",
    "Usage: ipvm node stop [--timeout SECONDS] [--force]\n"
    "\n"
    "Stops the node of this data directory (the process holding the lock on DATA_DIR/node.pid)\n"
    "with SIGTERM and waits until it has exited: running tasks finish first, for up to the\n"
    "node's node.shutdown_timeout, and the workflows still unfinished resume at the next start.\n"
    "\n"
    "Options:\n"
    "  --timeout SECONDS   how long to wait for the exit (default 60)\n"
    "  --force             SIGKILL at once: tasks that were running run again at the next start\n"
    "\n"
    "Output: 'ipvm: node stopped' on stderr; with --json {\"stopped\": true, \"pid\": N}, or\n"
    "{\"stopped\": false, \"running\": false, \"data_dir\": DIR} when no node was running.\n"
    "\n"
    "Exit status: 0 when the node stopped or none was running (stopping a stopped node\n"
    "succeeds, as for LSB init scripts), 1 when it is still running after --timeout or cannot\n"
    "be signalled, 2 for a bad command line.\n",
    node_stop};

static const ipvm_cmd_t sub_status = {
    "node status", "is a node running",
    "Usage: ipvm node status\n"
    "\n"
    "Says whether a node runs with this data directory (the lock on DATA_DIR/node.pid, so a pid\n"
    "file left by a killed node is not mistaken for one), its pid, uptime and API address (from\n"
    "DATA_DIR/node.json), and asks it for its health and its node info over the API.\n"
    "\n"
    "Output: a few lines on stdout; with --json one object:\n"
    "  {\"running\": true, \"pid\", \"rpc\", \"socket\", \"uptime_s\", \"health\", \"node\"}, plus\n"
    "  \"error\" when the API does not answer;\n"
    "  {\"running\": false, \"data_dir\"}, plus \"stale_pid\" when a pid file was left behind.\n"
    "\n"
    "Exit status: 0 running and answering, 1 running but its API does not answer (the reason is\n"
    "shown), 2 bad command line, 3 not running (as LSB status).\n",
    node_status};

static const ipvm_cmd_t sub_init = {
    "node init", "write ipvm.conf",
    "Usage: ipvm node init [--force] [-o FILE] [--print]\n"
    "\n"
    "Writes DATA_DIR/ipvm.conf with every setting of the node, each commented out with its\n"
    "default, its description and its environment variable: remove a '#' to change one.\n"
    "\n"
    "Options:\n"
    "  --force, -f         overwrite the file if it exists (without it, an existing file is\n"
    "                      left as it is and the command fails)\n"
    "  -o, --output FILE   write FILE instead (use it with 'ipvm node start --config FILE')\n"
    "  --print             write the template to stdout, no file\n"
    "\n"
    "Output: the path written; with --json {\"config\": PATH}.\n"
    "Exit status: 0 written, 1 the file exists (without --force) or cannot be written, 2 bad\n"
    "command line.\n",
    node_init_cmd};

static const ipvm_cmd_t sub_config = {
    "node config", "the settings in effect",
    "Usage: ipvm node config [--config FILE]\n"
    "\n"
    "Prints the settings a node started now would use (defaults, DATA_DIR/ipvm.conf or --config\n"
    "FILE, then IPVM_<SECTION>_<KEY> variables) as INI, each with where it comes from. A bad\n"
    "file or variable fails as 'ipvm node start' would, naming FILE:LINE and the key.\n"
    "With --json: one object, {\"rpc.port\": {\"value\": 1337, \"origin\": \"default\"}, ...}, with\n"
    "numbers for sizes and durations (milliseconds), booleans, strings, null when unset.\n"
    "\n"
    "Exit status: 0, 1 for a bad setting, 2 for a bad command line.\n",
    node_config};

static const ipvm_cmd_t sub_peers = {
    "node peers", "the node's peers",
    "Usage: ipvm node peers\n"
    "\n"
    "Asks the running node of this data directory for its libp2p peers: peer id, address,\n"
    "direction, agent and ping time (with --json, the node's answer as it is).\n"
    "Exit status: 0, 1 when no node runs or it does not answer.\n",
    ipvm__node_peers};

static const ipvm_cmd_t sub_id = {
    "node id", "this node's peer id",
    "Usage: ipvm node id\n"
    "\n"
    "Prints this data directory's libp2p peer id (base58 and CID forms; the key is made on\n"
    "first use) and, when the node runs, the multiaddrs others can dial. See the [p2p]\n"
    "settings in 'ipvm node start --help'.\n",
    ipvm__node_id};

static int cmd_node_run(ipvm_cli_t *cli, int argc, char **argv)
{
    static const ipvm_cmd_t *const subs[] = {&sub_start,  &sub_stop,  &sub_status, &sub_init,
                                             &sub_config, &sub_peers, &sub_id};
    if (argc < 2)
        return ipvm_cli_usage(cli, &ipvm_cmd_node, "node: which subcommand?");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(argv[1], subs[i]->name + 5) != 0)
            continue;
        if (ipvm_cli_wants_help(argc - 1, argv + 1))
            return subs[i] == &sub_start ? start_help() : ipvm_cli_help(subs[i]);
        return subs[i]->run(cli, argc - 1, argv + 1);
    }
    if (ipvm_cli_wants_help(argc, argv))
        return ipvm_cli_help(&ipvm_cmd_node);
    return ipvm_cli_usage(cli, &ipvm_cmd_node, "node: unknown subcommand '%s'", argv[1]);
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
    "'ipvm node SUBCOMMAND --help' gives each one's options, output and exit status; 'ipvm\n"
    "node start --help' lists every setting with its default and environment variable.\n"
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
