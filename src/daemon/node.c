/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm node start`: settings, the data directory, the pid lock, the services in order, the
 * loop, and the shutdown sequence (SIGTERM/SIGINT: drain, stop services in reverse order, exit;
 * a second signal exits at once). */
#define _GNU_SOURCE
#include "daemon.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#define MAX_SERVICES 32

struct ipvm_node_s {
    uv_loop_t loop;
    ipvm_config_t *cfg;
    char data_dir[PATH_MAX];
    char db_path[PATH_MAX + 16];
    char pid_path[4096], info_path[4096], log_path[4096];
    ipvm_metrics_t *metrics;
    ipvm_rpc_server_t *rpc;
    ipvm_sched_t *sched;
    ipvm_rpc_admit_fn admit;
    ipvm_rpc_auth_free_fn auth_free;
    ipvm_rpc_admit_inline_fn admit_inline;
    void *admit_data;
    void *states[MAX_SERVICES];
    size_t started;  /* services[0..started) are running */
    size_t stopping; /* index+1 of the service being stopped, counting down */
    uv_signal_t sigterm, sigint;
    uv_timer_t sampler;
    bool shutting_down;
    bool loop_ready; /* the loop and our handles exist */
    int exit_status;
    uint64_t started_ms;
    ipvm_metric_t *m_uptime, *m_rss;
};

uv_loop_t *ipvm_node_loop(ipvm_node_t *n)
{
    return &n->loop;
}
const ipvm_config_t *ipvm_node_config(ipvm_node_t *n)
{
    return n->cfg;
}
const char *ipvm_node_data_dir(ipvm_node_t *n)
{
    return n->data_dir;
}
const char *ipvm_node_db_path(ipvm_node_t *n)
{
    return n->db_path;
}
ipvm_metrics_t *ipvm_node_metrics(ipvm_node_t *n)
{
    return n->metrics;
}
ipvm_rpc_server_t *ipvm_node_rpc(ipvm_node_t *n)
{
    return n->rpc;
}
ipvm_sched_t *ipvm_node_sched(ipvm_node_t *n)
{
    return n->sched;
}
void ipvm__node_set_rpc(ipvm_node_t *n, ipvm_rpc_server_t *s)
{
    n->rpc = s;
}
void ipvm__node_set_sched(ipvm_node_t *n, ipvm_sched_t *s)
{
    n->sched = s;
}
void ipvm_node_set_admit(ipvm_node_t *n, ipvm_rpc_admit_fn fn, void *data)
{
    n->admit = fn;
    n->admit_data = data;
}
void ipvm_node_set_auth_free(ipvm_node_t *n, ipvm_rpc_auth_free_fn fn)
{
    n->auth_free = fn;
}
void ipvm_node_set_admit_inline(ipvm_node_t *n, ipvm_rpc_admit_inline_fn fn)
{
    n->admit_inline = fn;
}
ipvm_rpc_admit_inline_fn ipvm__node_admit_inline(ipvm_node_t *n)
{
    return n->admit_inline;
}
ipvm_rpc_auth_free_fn ipvm__node_auth_free(ipvm_node_t *n)
{
    return n->auth_free;
}
ipvm_rpc_admit_fn ipvm__node_admit(ipvm_node_t *n, void **data)
{
    *data = n->admit_data;
    return n->admit;
}

void *ipvm_node_service_state(ipvm_node_t *n, const char *name)
{
    for (size_t i = 0; i < n->started; i++)
        if (ipvm_node_services[i] && strcmp(ipvm_node_services[i]->name, name) == 0)
            return n->states[i];
    return NULL;
}

/* ---- settings ------------------------------------------------------------------------------- */

static int load_config(ipvm_node_t *n, const ipvm_node_opts_t *o, ipvm_error_t *err)
{
    for (size_t i = 0; i < ipvm_node_nservices; i++)
        if (ipvm_node_services[i] && ipvm_node_services[i]->keys)
            ipvm_config_register(ipvm_node_services[i]->keys);
    int rc = ipvm_config_new(&n->cfg);
    if (rc)
        return rc;
    char path[4096];
    snprintf(path, sizeof path, "%s/ipvm.conf", o->data_dir);
    const char *file = o->config_path ? o->config_path : path;
    rc = ipvm_config_load_file(n->cfg, file, err);
    if (rc == IPVM_ENOENT && o->config_path == NULL)
        rc = 0; /* no config file: defaults */
    else if (rc == IPVM_ENOENT)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET,
                              "config file %s not found; write one with 'ipvm node init'", file);
    if (rc == 0)
        rc = ipvm_config_load_env(n->cfg, environ, err);
    for (size_t i = 0; rc == 0 && i < o->nsets; i++) {
        char name[256], origin[300];
        const char *eq = strchr(o->sets[i], '=');
        if (eq == NULL || (size_t)(eq - o->sets[i]) >= sizeof name)
            return ipvm_error_set(err, IPVM_EUSAGE, IPVM_NO_OFFSET,
                                  "--set %s: expected section.key=value", o->sets[i]);
        snprintf(name, sizeof name, "%.*s", (int)(eq - o->sets[i]), o->sets[i]);
        snprintf(origin, sizeof origin, "flag %s", o->sets[i]);
        rc = ipvm_config_set(n->cfg, name, eq + 1, origin, err);
    }
    return rc;
}

/* A relative rpc.socket is taken from the directory the node starts in: made absolute before
 * --detach moves the node to / (process.c), and so shown in node.json. */
static int absolute_socket(ipvm_node_t *n, ipvm_error_t *err)
{
    const char *sock = ipvm_config_str(n->cfg, "rpc", "socket");
    if (sock == NULL || sock[0] == '\0' || sock[0] == '/' || sock[0] == '@')
        return 0;
    char cwd[PATH_MAX], abs[PATH_MAX + 256], origin[600];
    if (getcwd(cwd, sizeof cwd) == NULL)
        return ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET,
                              "rpc.socket %s is relative and the current directory is "
                              "unknown (%s): give an absolute path",
                              sock, strerror(errno));
    snprintf(abs, sizeof abs, "%s/%s", cwd, sock);
    snprintf(origin, sizeof origin, "%s", ipvm_config_origin(n->cfg, "rpc", "socket"));
    return ipvm_config_set(n->cfg, "rpc.socket", abs, origin, err);
}

static int prepare_dirs(ipvm_node_t *n, const ipvm_node_opts_t *o, ipvm_error_t *err)
{
    const char *dir = ipvm_config_str(n->cfg, "node", "data_dir");
    if (dir == NULL || *dir == '\0')
        dir = o->data_dir;
    int rc = ipvm_mkdirs(dir, 0700, err);
    if (rc)
        return rc;
    if (realpath(dir, n->data_dir) == NULL)
        return ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET, "%s: %s", dir, strerror(errno));
    snprintf(n->db_path, sizeof n->db_path, "%s/ipvm.db", n->data_dir);
    ipvm_node_paths(n->data_dir, n->pid_path, n->info_path, n->log_path);
    const char *pid = ipvm_config_str(n->cfg, "node", "pid_file");
    if (pid && *pid)
        snprintf(n->pid_path, sizeof n->pid_path, "%s", pid);
    const char *log = ipvm_config_str(n->cfg, "node", "log_file");
    if (log && *log)
        snprintf(n->log_path, sizeof n->log_path, "%s", log);
    return absolute_socket(n, err);
}

/* node.json: how clients and `ipvm node status` find this node. */
static int write_info(ipvm_node_t *n, ipvm_error_t *err)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    int port = n->rpc ? ipvm_rpc_server_port(n->rpc) : 0;
    const char *host = ipvm_config_str(n->cfg, "rpc", "host");
    int rc = ipvm_buf_printf(
        &b, "{\"pid\":%ld,\"started_ms\":%llu,\"version\":\"%s\",\"rpc\":", (long)getpid(),
        (unsigned long long)n->started_ms, IPVM_VERSION_STRING);
    char url[300];
    snprintf(url, sizeof url, strchr(host, ':') ? "ws://[%s]:%d" : "ws://%s:%d", host, port);
    if (rc == 0 && n->rpc)
        rc = ipvm_json_append_str(&b, url, strlen(url));
    else if (rc == 0)
        rc = ipvm_buf_append_str(&b, "null");
    const char *sock = ipvm_config_str(n->cfg, "rpc", "socket");
    if (rc == 0 && n->rpc && sock && *sock) {
        rc = ipvm_buf_append_str(&b, ",\"socket\":");
        if (rc == 0)
            rc = ipvm_json_append_str(&b, sock, strlen(sock));
    }
    if (rc == 0)
        rc = ipvm_buf_append_str(&b, ",\"name\":");
    const char *name = ipvm_config_str(n->cfg, "node", "name");
    if (rc == 0)
        rc = ipvm_json_append_str(&b, name, strlen(name));
    if (rc == 0)
        rc = ipvm_buf_append_str(&b, "}\n");
    if (rc == 0)
        rc = ipvm_file_write_atomic(n->info_path, b.data, b.len, err);
    ipvm_buf_dispose(&b);
    return rc;
}

/* ---- services ------------------------------------------------------------------------------- */

static void stop_next(ipvm_node_t *n);

static void service_stopped(ipvm_node_t *n)
{
    n->started = n->stopping - 1;
    stop_next(n);
}

static void on_closed_quietly(uv_handle_t *h)
{
    (void)h;
}

/* Stops services[started-1], then the one before... then closes our own handles. */
static void stop_next(ipvm_node_t *n)
{
    while (n->started > 0) {
        size_t i = n->started - 1;
        const ipvm_node_service_t *svc = ipvm_node_services[i];
        n->stopping = n->started;
        if (svc && svc->stop) {
            ipvm_log(IPVM_LOG_INFO, "node", "stopping %s", svc->name);
            svc->stop(n, n->states[i], service_stopped);
            return; /* continues in service_stopped */
        }
        n->started--;
    }
    uv_close((uv_handle_t *)&n->sigterm, on_closed_quietly);
    uv_close((uv_handle_t *)&n->sigint, on_closed_quietly);
    uv_close((uv_handle_t *)&n->sampler, on_closed_quietly);
}

static void on_signal(uv_signal_t *h, int signum)
{
    ipvm_node_t *n = h->data;
    if (n->shutting_down) {
        fprintf(stderr, "ipvm: second signal: exiting now without waiting for running tasks\n");
        _exit(1);
    }
    n->shutting_down = true;
    ipvm_log(IPVM_LOG_WARN, "node",
             "%s: draining (running tasks finish; send the signal again "
             "to exit at once)",
             signum == SIGTERM ? "SIGTERM" : "SIGINT");
    stop_next(n);
}

/* Samples process gauges for /metrics and the dashboard once a second. */
static void on_sample(uv_timer_t *t)
{
    ipvm_node_t *n = t->data;
    size_t rss = 0;
    if (uv_resident_set_memory(&rss) == 0)
        ipvm_metric_set(n->m_rss, (int64_t)rss);
    ipvm_metric_set(n->m_uptime, (int64_t)((ipvm_wall_ms() - n->started_ms) / 1000));
    if (n->rpc && n->metrics) {
        ipvm_buf_t b = IPVM_BUF_INIT;
        if (ipvm_metrics_render_json(n->metrics, &b) == 0)
            ipvm_rpc_server_node_event(n->rpc, "metrics", (const char *)b.data, b.len);
        ipvm_buf_dispose(&b);
    }
}

static int start_services(ipvm_node_t *n, ipvm_error_t *err)
{
    for (size_t i = 0; i < ipvm_node_nservices; i++) {
        const ipvm_node_service_t *svc = ipvm_node_services[i];
        if (svc == NULL)
            continue;
        ipvm_log(IPVM_LOG_DEBUG, "node", "starting %s", svc->name);
        int rc = svc->start ? svc->start(n, &n->states[i], err) : 0;
        if (rc) {
            ipvm_error_prefix(err, "%s: ", svc->name);
            return rc;
        }
        n->started = i + 1;
    }
    return 0;
}

static int node_init(ipvm_node_t *n, const ipvm_node_opts_t *o, ipvm_error_t *err)
{
    int rc = load_config(n, o, err);
    if (rc == 0)
        rc = prepare_dirs(n, o, err);
    if (rc == 0 && o->detach)
        rc = ipvm_node_detach(n->log_path, err);
    if (rc == 0)
        rc = ipvm_node_pidfile_acquire(n->pid_path, err);
    if (rc)
        return rc;
    n->started_ms = ipvm_wall_ms();
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&n->loop);
    rc = ipvm_metrics_new("ipvm_", &n->metrics);
    if (rc)
        return rc;
    n->m_uptime = ipvm_metrics_add(n->metrics, IPVM_METRIC_GAUGE, "uptime_seconds",
                                   "Seconds since the node started", NULL, 0);
    n->m_rss = ipvm_metrics_add(n->metrics, IPVM_METRIC_GAUGE, "process_resident_memory_bytes",
                                "Resident set size of the node process", NULL, 0);
    uv_signal_init(&n->loop, &n->sigterm);
    uv_signal_init(&n->loop, &n->sigint);
    n->sigterm.data = n->sigint.data = n;
    uv_signal_start(&n->sigterm, on_signal, SIGTERM);
    uv_signal_start(&n->sigint, on_signal, SIGINT);
    uv_timer_init(&n->loop, &n->sampler);
    n->sampler.data = n;
    uv_timer_start(&n->sampler, on_sample, 0, 1000);
    uv_unref((uv_handle_t *)&n->sampler);
    n->loop_ready = true;
    return 0;
}

static void ready_line(ipvm_node_t *n, const ipvm_node_opts_t *o)
{
    char line[3 * PATH_MAX + 1024];
    char url[300] = "(API disabled)";
    if (n->rpc) {
        const char *host = ipvm_config_str(n->cfg, "rpc", "host");
        snprintf(url, sizeof url, strchr(host, ':') ? "ws://[%s]:%d" : "ws://%s:%d", host,
                 ipvm_rpc_server_port(n->rpc));
    }
    const char *sock = ipvm_config_str(n->cfg, "rpc", "socket");
    char also[PATH_MAX + 64] = "";
    if (n->rpc && sock && *sock)
        snprintf(also, sizeof also, o->json ? ",\"socket\":\"%s\"" : " and unix://%s", sock);
    if (o->json)
        snprintf(line, sizeof line, "{\"pid\":%ld,\"rpc\":\"%s\"%s,\"data_dir\":\"%s\"}\n",
                 (long)getpid(), url, also, n->data_dir);
    else
        snprintf(line, sizeof line,
                 "ipvm: node started (pid %ld), API at %s%s, dashboard at http%s/, data in %s\n",
                 (long)getpid(), url, also, n->rpc ? url + 2 : "", n->data_dir);
    if (o->detach)
        ipvm_node_ready(true, line);
    else if (!o->quiet || o->json)
        fputs(line, o->json ? stdout : stderr);
    fflush(stdout);
}

/* {"error": {"code", "reason", "message"}} and a newline, as the CLI's --json errors. */
static int error_json(int rc, const char *msg, ipvm_buf_t *out)
{
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        n--;
    int r = ipvm_buf_printf(out, "{\"error\":{\"code\":\"%s\",\"reason\":", ipvm_err_name(rc));
    if (r == 0)
        r = ipvm_json_append_str(out, ipvm_strerror(rc), strlen(ipvm_strerror(rc)));
    if (r == 0)
        r = ipvm_buf_append_str(out, ",\"message\":");
    if (r == 0)
        r = ipvm_json_append_str(out, msg, n);
    if (r == 0)
        r = ipvm_buf_append_str(out, "}}\n");
    if (r == 0)
        r = ipvm_buf_append_byte(out, '\0');
    return r;
}

int ipvm_node_main(const ipvm_node_opts_t *o)
{
    static ipvm_node_t node; /* one per process; signal handlers reach it through data */
    ipvm_node_t *n = &node;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = node_init(n, o, &err);
    if (rc == 0)
        rc = start_services(n, &err);
    if (rc == 0)
        rc = write_info(n, &err);
    if (rc) {
        char msg[600];
        snprintf(msg, sizeof msg, "ipvm: error: cannot start the node: %s\n",
                 err.msg[0] ? err.msg : ipvm_strerror(rc));
        fputs(msg, stderr);
        ipvm_buf_t json = IPVM_BUF_INIT;
        if (o->json && error_json(rc, msg + 13, &json) == 0 && !o->detach)
            fputs((const char *)json.data, stdout);
        if (n->loop_ready) {
            n->shutting_down = true;
            stop_next(n);
            uv_run(&n->loop, UV_RUN_DEFAULT);
            (void)uv_loop_close(&n->loop);
            unlink(n->pid_path);
        }
        /* after the teardown: once the waiting parent exits, `ipvm node status` finds no node */
        if (o->detach)
            ipvm_node_ready_failed(false, msg, json.len ? (const char *)json.data : NULL);
        ipvm_buf_dispose(&json);
        ipvm_metrics_free(n->metrics);
        ipvm_config_free(n->cfg);
        return 1; /* IPVM_EXIT_FAIL */
    }
    ready_line(n, o);
    uv_run(&n->loop, UV_RUN_DEFAULT);
    int close_rc = uv_loop_close(&n->loop);
    if (close_rc)
        ipvm_log(IPVM_LOG_WARN, "node", "loop closed with handles still open (%s)",
                 uv_strerror(close_rc));
    unlink(n->info_path);
    unlink(n->pid_path);
    ipvm_metrics_free(n->metrics);
    ipvm_config_free(n->cfg);
    ipvm_log(IPVM_LOG_INFO, "node", "stopped");
    return n->exit_status;
}
