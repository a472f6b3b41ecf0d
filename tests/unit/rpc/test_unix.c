/* SPDX-License-Identifier: Apache-2.0 */
/* The API on a Unix-domain socket (rpc.socket, src/rpc/unixsock.c): the same HTTP and JSON-RPC
 * as on TCP, the file's mode, a stale file replaced, a live one or a non-socket refused, the
 * file removed at the stop, and the client's errors for each way a socket cannot be reached. */
#include "node_fixture.h"
#include "rpc_fixture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void unix_addr(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    IPVM_ASSERT_LT(strlen(path), sizeof sa->sun_path);
    memcpy(sa->sun_path, path, strlen(path) + 1);
}

/* A socket file nobody listens on: what a node killed with -9 leaves. */
static void make_stale(const char *path)
{
    struct sockaddr_un sa;
    unix_addr(path, &sa);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    IPVM_ASSERT(fd >= 0);
    IPVM_ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
}

/* GET path over the socket at sock; returns the HTTP status, the whole response in resp. */
static int unix_http_get(const char *sock, const char *path, ipvm_buf_t *resp)
{
    struct sockaddr_un sa;
    unix_addr(sock, &sa);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    IPVM_ASSERT(fd >= 0);
    IPVM_ASSERT_MSG(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect %s: %s", sock,
                    strerror(errno));
    return rpc_fixture_http_get_fd(fd, path, resp);
}

static void is_socket(const char *path)
{
    struct stat st;
    IPVM_ASSERT_MSG(stat(path, &st) == 0, "%s: %s", path, strerror(errno));
    IPVM_ASSERT_MSG(S_ISSOCK(st.st_mode), "%s is not a socket", path);
}

/* The server on a socket: HTTP routes and JSON-RPC as on TCP, mode 0600, a stale file at the
 * path replaced, the file gone after the close. */
IPVM_TEST(rpc, server_unix_socket)
{
    char sock[4200];
    snprintf(sock, sizeof sock, "%s/api.sock", ipvm_test_tmpdir());
    make_stale(sock); /* replaced: the server binds and serves there */
    ipvm_rpc_server_opts_t o = {0};
    o.socket_path = sock;
    rpc_fixture_t *f = rpc_fixture_start(&o, NULL, NULL);
    struct stat st;
    IPVM_ASSERT_EQ(stat(sock, &st), 0);
    IPVM_ASSERT(S_ISSOCK(st.st_mode));
    IPVM_ASSERT_EQ(st.st_mode & 07777, 0600);
    ipvm_buf_t resp = IPVM_BUF_INIT;
    IPVM_ASSERT_EQ(unix_http_get(sock, "/health", &resp), 200);
    IPVM_ASSERT_STRCONTAINS((char *)resp.data, "{\"healthy\":true}");
    IPVM_ASSERT_EQ(unix_http_get(sock, "/metrics", &resp), 200);
    IPVM_ASSERT_STRCONTAINS((char *)resp.data, "# TYPE ipvm_rpc_clients gauge");
    IPVM_ASSERT_EQ(unix_http_get(sock, "/", &resp), 200);
    IPVM_ASSERT_STRCONTAINS((char *)resp.data, "<!doctype html>");
    char url[4300];
    snprintf(url, sizeof url, "unix://%s", sock);
    ipvm_rpc_client_t *c = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_rpc_client_connect(url, 5000, &c, &err), &err);
    rpc_fixture_call_ok(c, "health", NULL, &resp);
    IPVM_ASSERT_STRCONTAINS((char *)resp.data, "\"healthy\":true");
    rpc_fixture_call_ok(c, "rpc_discover", NULL, &resp);
    IPVM_ASSERT_STRCONTAINS((char *)resp.data, "subscribe_run_workflow");
    /* and TCP still serves beside it */
    ipvm_rpc_client_t *t = rpc_fixture_client(f);
    rpc_fixture_call_ok(t, "health", NULL, &resp);
    IPVM_ASSERT_STRCONTAINS((char *)resp.data, "\"healthy\":true");
    ipvm_rpc_client_free(t);
    ipvm_rpc_client_free(c);
    ipvm_buf_dispose(&resp);
    rpc_fixture_stop(f);
    IPVM_ASSERT_MSG(access(sock, F_OK) != 0 && errno == ENOENT, "%s is left after the close", sock);
}

/* The receipt CIDs of `ipvm run --json` output, one per line, sorted, into out. */
static void receipt_cids(const ipvm_buf_t *json, ipvm_buf_t *out)
{
    static const char key[] = "{\"cid\":{\"/\":\"";
    char *lines[256];
    size_t n = 0;
    const char *p = json->data ? (const char *)json->data : "";
    while ((p = strstr(p, key)) != NULL && n < 256) {
        p += sizeof key - 1;
        size_t len = strcspn(p, "\"");
        lines[n] = strndup(p, len);
        IPVM_ASSERT(lines[n] != NULL);
        n++;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
            char *x = lines[j];
            lines[j] = lines[j - 1];
            lines[j - 1] = x;
        }
    ipvm_buf_clear(out);
    for (size_t i = 0; i < n; i++) {
        IPVM_ASSERT_OK(ipvm_buf_printf(out, "%s\n", lines[i]));
        free(lines[i]);
    }
    IPVM_ASSERT_OK(ipvm_buf_reserve(out, 1));
    out->data[out->len] = '\0';
}

/* `ipvm run --json --node URL WORKFLOW`: its stdout, which must be a successful run. */
static void run_on(const char *url, const char *wf, ipvm_buf_t *o)
{
    ipvm_buf_t e = IPVM_BUF_INIT;
    const char *run[] = {ipvm_test_bin("ipvm"), "run", "--json", "--node", url, wf, NULL};
    ipvm_buf_clear(o);
    int st = ipvm_test_run(run, NULL, NULL, 60000, o, &e);
    IPVM_ASSERT_OK(ipvm_buf_reserve(&e, 1));
    e.data[e.len] = '\0';
    IPVM_ASSERT_MSG(st == 0, "ipvm run --node %s: exit %d: %s", url, st, (char *)e.data);
    ipvm_buf_dispose(&e);
}

/* A Homestar fixture workflow through the socket gives the receipts a TCP run gives on a node of
 * its own; `node status` names the socket; a second node on it, and one on a path that is not a
 * socket, fail their start (exit 1) and leave the file as it was; the stop removes it. */
IPVM_TEST(rpc, node_unix_socket_run)
{
    char sock[4200], plain[4200];
    snprintf(sock, sizeof sock, "%s/node.sock", ipvm_test_tmpdir());
    snprintf(plain, sizeof plain, "%s/not-a-socket", ipvm_test_tmpdir());
    const char *wf = ipvm_test_vector("homestar/workflows/test-workflow-add-one-nonced.json");
    char dir_u[4096], dir_t[4096];
    snprintf(dir_u, sizeof dir_u, "%s/unix", ipvm_test_tmpdir());
    snprintf(dir_t, sizeof dir_t, "%s/tcp", ipvm_test_tmpdir());
    node_fixture_add(dir_u, "homestar/wasm/example_test.wasm");
    node_fixture_add(dir_t, "homestar/wasm/example_test.wasm");
    node_fixture_t u, t;
    const char *extra[] = {"--socket", sock, NULL};
    node_fixture_start(&u, dir_u, extra);
    node_fixture_start(&t, dir_t, NULL);
    is_socket(sock);
    struct stat st;
    IPVM_ASSERT_EQ(stat(sock, &st), 0);
    IPVM_ASSERT_EQ(st.st_mode & 07777, 0600);

    char url[4300];
    snprintf(url, sizeof url, "unix://%s", sock);
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT, via_unix = IPVM_BUF_INIT,
               via_tcp = IPVM_BUF_INIT;
    run_on(url, wf, &o);
    receipt_cids(&o, &via_unix);
    IPVM_ASSERT_STRCONTAINS((char *)o.data, "\"executed\":3");
    run_on(t.url, wf, &o);
    receipt_cids(&o, &via_tcp);
    IPVM_ASSERT_STRCONTAINS((char *)o.data, "\"executed\":3");
    IPVM_ASSERT_EQ(strlen((char *)via_unix.data), 3 * 60u);
    IPVM_ASSERT_STREQ((char *)via_unix.data, (char *)via_tcp.data);
    IPVM_ASSERT_EQ(unix_http_get(sock, "/health", &o), 200);
    IPVM_ASSERT_STRCONTAINS((char *)o.data, "{\"healthy\":true}");

    const char *status[] = {"node", "status", NULL};
    IPVM_ASSERT_EQ(ipvm_test_ipvm(dir_u, status, 10000, &o, &e), 0);
    char want[4400];
    snprintf(want, sizeof want, "socket     unix://%s", sock);
    IPVM_ASSERT_STRCONTAINS((char *)o.data, want);

    /* a second node on the live socket: exit 1, the path and the next step; the socket is the
     * first node's still */
    char other[4200];
    snprintf(other, sizeof other, "%s/other", ipvm_test_tmpdir());
    const char *again[] = {"node", "start", "--port", "0", "--socket", sock, NULL};
    int rc = ipvm_test_ipvm(other, again, 20000, &o, &e);
    IPVM_ASSERT_MSG(rc == 1, "exit %d, stderr:\n%s", rc, (char *)e.data);
    snprintf(want, sizeof want, "cannot listen on unix socket %s: another process listens on it",
             sock);
    IPVM_ASSERT_STRCONTAINS((char *)e.data, want);
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "ipvm node status");
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "--socket PATH, rpc.socket in ipvm.conf or "
                                            "IPVM_RPC_SOCKET");
    IPVM_ASSERT(strstr((char *)e.data, "node started") == NULL);
    is_socket(sock);
    run_on(url, wf, &o); /* the first node still serves on it */
    IPVM_ASSERT_STRCONTAINS((char *)o.data, "\"replayed\":3");

    /* a path that is some other file: refused, the file untouched */
    IPVM_ASSERT_OK(ipvm_file_write_atomic(plain, "keep me\n", 8, NULL));
    const char *onfile[] = {"node", "start", "--port", "0", "--socket", plain, NULL};
    rc = ipvm_test_ipvm(other, onfile, 20000, &o, &e);
    IPVM_ASSERT_MSG(rc == 1, "exit %d, stderr:\n%s", rc, (char *)e.data);
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "the path exists and is not a socket (left as it is)");
    ipvm_buf_t keep = IPVM_BUF_INIT;
    ipvm_test_read_file(plain, &keep);
    IPVM_ASSERT_MEMEQ(keep.data, keep.len, "keep me\n", 8);
    ipvm_buf_dispose(&keep);

    node_fixture_stop(&u, 20000);
    node_fixture_stop(&t, 20000);
    IPVM_ASSERT_MSG(access(sock, F_OK) != 0 && errno == ENOENT, "%s is left after the stop", sock);
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
    ipvm_buf_dispose(&via_unix);
    ipvm_buf_dispose(&via_tcp);
}

/* A node killed with -9 leaves its socket file, which nobody listens on: the next start on it
 * replaces it and serves there. */
IPVM_TEST(rpc, node_unix_socket_stale)
{
    char sock[4200];
    snprintf(sock, sizeof sock, "%s/stale.sock", ipvm_test_tmpdir());
    node_fixture_t n;
    const char *extra[] = {"--socket", sock, NULL};
    node_fixture_start(&n, NULL, extra);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", n.data_dir);
    node_fixture_kill(&n);
    is_socket(sock); /* left behind */
    struct sockaddr_un sa;
    unix_addr(sock, &sa);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    IPVM_ASSERT(fd >= 0);
    IPVM_ASSERT_EQ(connect(fd, (struct sockaddr *)&sa, sizeof sa), -1);
    IPVM_ASSERT_EQ(errno, ECONNREFUSED);
    close(fd);
    node_fixture_start(&n, dir, extra);
    ipvm_buf_t o = IPVM_BUF_INIT;
    IPVM_ASSERT_EQ(unix_http_get(sock, "/health", &o), 200);
    IPVM_ASSERT_STRCONTAINS((char *)o.data, "{\"healthy\":true}");
    ipvm_buf_dispose(&o);
    node_fixture_stop(&n, 20000);
    IPVM_ASSERT(access(sock, F_OK) != 0);
}

/* `ipvm run --node unix://PATH` when PATH is not a node's socket: each case says what is wrong
 * and what to do next, exit 1. */
IPVM_TEST(rpc, run_remote_unix_errors)
{
    const char *wf = ipvm_test_vector("homestar/workflows/test-workflow-add-one-nonced.json");
    char path[4200], url[4300];
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
    const char *run[] = {ipvm_test_bin("ipvm"), "run", "--node", url, wf, NULL};
    struct {
        const char *file, *want, *next;
    } cases[] = {
        {"missing.sock", "no such file", "ipvm node start --socket"},
        {"plain-file", "is not a socket", "ipvm node status"},
        {"stale.sock", "nobody listens on", "ipvm node start --socket"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", ipvm_test_tmpdir(), cases[i].file);
        snprintf(url, sizeof url, "unix://%s", path);
        if (i == 1)
            IPVM_ASSERT_OK(ipvm_file_write_atomic(path, "x", 1, NULL));
        if (i == 2)
            make_stale(path);
        int st = ipvm_test_run(run, NULL, NULL, 30000, &o, &e);
        IPVM_ASSERT_OK(ipvm_buf_reserve(&e, 1));
        e.data[e.len] = '\0';
        IPVM_ASSERT_MSG(st == 1, "%s: exit %d: %s", cases[i].file, st, (char *)e.data);
        IPVM_ASSERT_STRCONTAINS((char *)e.data, path);
        IPVM_ASSERT_STRCONTAINS((char *)e.data, cases[i].want);
        IPVM_ASSERT_STRCONTAINS((char *)e.data, cases[i].next);
    }
    /* a path over sun_path's 107 bytes: refused before any connect */
    snprintf(url, sizeof url, "unix:///%0150d", 0);
    IPVM_ASSERT_EQ(ipvm_test_run(run, NULL, NULL, 30000, &o, &e), 1);
    IPVM_ASSERT_OK(ipvm_buf_reserve(&e, 1));
    e.data[e.len] = '\0';
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "the socket path is 151 bytes");

    /* permission denied: a live node's 0600 socket and another user (as root: nobody, in a
     * child; as anyone else: the owner with the mode bits taken away) */
    snprintf(path, sizeof path, "%s/perm.sock", ipvm_test_tmpdir());
    snprintf(url, sizeof url, "unix://%s", path);
    node_fixture_t n;
    const char *extra[] = {"--socket", path, NULL};
    node_fixture_start(&n, NULL, extra);
    bool root = geteuid() == 0;
    if (root) /* nobody may reach the socket, so that its own mode is what refuses */
        IPVM_ASSERT_EQ(chmod(ipvm_test_tmpdir(), 0711), 0);
    else
        IPVM_ASSERT_EQ(chmod(path, 0), 0);
    int fds[2];
    IPVM_ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    IPVM_ASSERT(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        if (root && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(2);
        ipvm_rpc_client_t *c = NULL;
        ipvm_error_t err;
        ipvm_error_clear(&err);
        int rc = ipvm_rpc_client_connect(url, 5000, &c, &err);
        ipvm_rpc_client_free(c);
        dprintf(fds[1], "%d %s", rc, err.msg);
        _exit(0);
    }
    close(fds[1]);
    char msg[2048] = "";
    ssize_t got = read(fds[0], msg, sizeof msg - 1);
    msg[got > 0 ? got : 0] = '\0';
    close(fds[0]);
    int st = 0;
    IPVM_ASSERT_EQ(waitpid(pid, &st, 0), pid);
    IPVM_ASSERT_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child exited with %d", st);
    char code[16];
    snprintf(code, sizeof code, "%d ", IPVM_EACCES);
    IPVM_ASSERT_MSG(strncmp(msg, code, strlen(code)) == 0, "got: %s", msg);
    IPVM_ASSERT_STRCONTAINS(msg, "permission denied on ");
    IPVM_ASSERT_STRCONTAINS(msg, "rpc.socket_mode");
    if (!root)
        IPVM_ASSERT_EQ(chmod(path, 0600), 0);
    node_fixture_stop(&n, 20000);
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
}
