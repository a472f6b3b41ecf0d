/* SPDX-License-Identifier: Apache-2.0 */
/* The integration tests' node process (see node_fixture.h). */
#define _GNU_SOURCE
#include "node_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool read_url(node_fixture_t *n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/node.json", n->data_dir);
    ipvm_buf_t b = IPVM_BUF_INIT;
    bool ok = false;
    if (ipvm_file_read(path, &b, NULL) == 0) {
        static const char key[] = "\"rpc\":\"ws://127.0.0.1:";
        const char *p = strstr((char *)b.data, key);
        if (p && sscanf(p + sizeof key - 1, "%d", &n->port) == 1) {
            snprintf(n->url, sizeof n->url, "ws://127.0.0.1:%d", n->port);
            ok = true;
        }
    }
    ipvm_buf_dispose(&b);
    return ok;
}

void node_fixture_start(node_fixture_t *n, const char *data_dir, const char *const *extra)
{
    static int seq;
    char dir[4096] = ""; /* data_dir may be n->data_dir: a restart */
    if (data_dir)
        snprintf(dir, sizeof dir, "%s", data_dir);
    memset(n, 0, sizeof *n);
    if (data_dir)
        snprintf(n->data_dir, sizeof n->data_dir, "%s", dir);
    else
        snprintf(n->data_dir, sizeof n->data_dir, "%s/node%d", ipvm_test_tmpdir(), seq++);
    snprintf(n->log, sizeof n->log, "%s.log", n->data_dir);
    char info[4200];
    snprintf(info, sizeof info, "%s/node.json", n->data_dir);
    unlink(info);
    const char *argv[64] = {
        ipvm_test_bin("ipvm"), "--data-dir", n->data_dir, "node", "start", "--port", "0"};
    int argc = 7;
    for (size_t i = 0; extra && extra[i] && argc < 62; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    IPVM_ASSERT(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
        if (getppid() != parent)
            _exit(1);
        int fd = open(n->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    n->pid = pid;
    /* 10 s, scaled: an ASan node on a loaded runner opens its store slowly */
    int tries = (int)(1000 * ipvm_test_timeout_multiplier());
    for (int i = 0; i < tries; i++) {
        if (read_url(n))
            return;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            ipvm_buf_t log = IPVM_BUF_INIT;
            if (ipvm_file_read(n->log, &log, NULL) != 0)
                ipvm_buf_clear(&log);
            IPVM_ASSERT_MSG(false, "the node exited (%d) before serving:\n%.2000s", st,
                            log.data ? (char *)log.data : "");
        }
        sleep_ms(10);
    }
    IPVM_ASSERT_MSG(false, "the node did not write node.json within %d tries 10 ms apart", tries);
}

void node_fixture_stop(node_fixture_t *n, int timeout_ms)
{
    IPVM_ASSERT(n->pid > 0);
    IPVM_ASSERT_EQ(kill((pid_t)n->pid, SIGTERM), 0);
    timeout_ms = (int)(timeout_ms * ipvm_test_timeout_multiplier());
    int st = 0;
    for (int waited = 0;; waited += 5) {
        pid_t w = waitpid((pid_t)n->pid, &st, WNOHANG);
        if (w == n->pid)
            break;
        if (waited > timeout_ms) {
            kill((pid_t)n->pid, SIGKILL);
            waitpid((pid_t)n->pid, &st, 0);
            IPVM_ASSERT_MSG(false, "the node did not stop within %d ms of SIGTERM", timeout_ms);
        }
        sleep_ms(5);
    }
    ipvm_buf_t log = IPVM_BUF_INIT;
    if (ipvm_file_read(n->log, &log, NULL) != 0)
        ipvm_buf_clear(&log);
    const char *text = log.data ? (char *)log.data : "";
    IPVM_ASSERT_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the node exited with %d:\n%.2000s", st,
                    text);
    IPVM_ASSERT_MSG(strstr(text, "handles still open") == NULL, "unclean exit:\n%.2000s", text);
    ipvm_buf_dispose(&log);
    n->pid = 0;
}

void node_fixture_kill(node_fixture_t *n)
{
    kill((pid_t)n->pid, SIGKILL);
    int st;
    waitpid((pid_t)n->pid, &st, 0);
    n->pid = 0;
}

long node_fixture_rss(const node_fixture_t *n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/status", n->pid);
    FILE *f = fopen(path, "r");
    IPVM_ASSERT(f != NULL);
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    IPVM_ASSERT(kb > 0);
    return kb * 1024;
}

const char *node_fixture_nodejs(void)
{
    static char path[4096];
    const char *p = getenv("PATH");
    while (p && *p) {
        const char *c = strchr(p, ':');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        snprintf(path, sizeof path, "%.*s/node", (int)len, p);
        if (access(path, X_OK) == 0)
            return path;
        p = c ? c + 1 : NULL;
    }
    IPVM_ASSERT_MSG(false, "Node.js is not installed: run tools/deps.sh (make test does)");
    return NULL;
}

void node_fixture_script(const char *script, const char *const *args, int timeout_ms,
                         ipvm_buf_t *out)
{
    char path[4096], mods[4096];
    snprintf(path, sizeof path, "%s/tests/interop/rpc/%s", IPVM_SOURCE_DIR, script);
    snprintf(mods, sizeof mods, "%s/tests/interop/rpc/node_modules/ws", IPVM_SOURCE_DIR);
    struct stat sb;
    IPVM_ASSERT_MSG(stat(mods, &sb) == 0,
                    "%s is missing: run tools/interop-deps.sh (make test does)", mods);
    const char *argv[32] = {node_fixture_nodejs(), path};
    int argc = 2;
    for (size_t i = 0; args && args[i] && argc < 31; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
    int st = ipvm_test_run(argv, NULL, NULL, timeout_ms, &o, &e);
    IPVM_ASSERT_MSG(st == 0, "node %s failed (%d):\n%.3000s\n%.3000s", script, st,
                    o.data ? (char *)o.data : "", e.data ? (char *)e.data : "");
    if (out) {
        ipvm_buf_clear(out);
        if (o.len)
            IPVM_ASSERT_OK(ipvm_buf_append(out, o.data, o.len));
    }
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
}

void node_fixture_add(const char *data_dir, const char *vector)
{
    const char *argv[] = {ipvm_test_bin("ipvm"),    "--data-dir", data_dir, "add",
                          ipvm_test_vector(vector), NULL};
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
    int st = ipvm_test_run(argv, NULL, NULL, 30000, &o, &e);
    IPVM_ASSERT_MSG(st == 0, "ipvm add %s: %.1000s", vector, e.data ? (char *)e.data : "");
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
}

const char *node_fixture_dir(const char *name, bool fast)
{
    static char path[4096];
    struct stat sb;
    if (fast && stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) &&
        access("/dev/shm", W_OK) == 0) {
        /* a directory of its own there, named after the test's tmpdir, removed by the test */
        const char *t = strrchr(ipvm_test_tmpdir(), '/');
        snprintf(path, sizeof path, "/dev/shm/ipvm-test-%s-%s", t ? t + 1 : "x", name);
    } else {
        snprintf(path, sizeof path, "%s/%s", ipvm_test_tmpdir(), name);
    }
    return path;
}

void node_fixture_start_example(node_fixture_t *n, const char *name, bool fast,
                                const char *const *extra)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", node_fixture_dir(name, fast));
    node_fixture_add(dir, "homestar/wasm/example_test.wasm");
    node_fixture_start(n, dir, extra);
}
