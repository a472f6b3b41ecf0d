/* SPDX-License-Identifier: Apache-2.0 */
/* The process side of the daemon: the locked pid file (flock, so a stale file is recognised
 * without guessing from pids), daemonising with a ready pipe so `ipvm node start --detach`
 * reports the real outcome, and the paths of the files a node keeps. */
#define _GNU_SOURCE
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int ready_fd = -1; /* write end of the pipe to the waiting parent, when detached */

void ipvm_node_paths(const char *data_dir, char pid[4096], char info[4096], char log[4096])
{
    if (pid)
        snprintf(pid, 4096, "%s/node.pid", data_dir);
    if (info)
        snprintf(info, 4096, "%s/node.json", data_dir);
    if (log)
        snprintf(log, 4096, "%s/node.log", data_dir);
}

int ipvm_node_pidfile_acquire(const char *path, ipvm_error_t *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET, "cannot open %s: %s", path,
                              strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = {0};
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        close(fd);
        return ipvm_error_set(err, IPVM_EEXIST, IPVM_NO_OFFSET,
                              "a node is already running with this data directory (pid %s); "
                              "stop it with 'ipvm node stop' or use another --data-dir",
                              n > 0 ? strtok(buf, "\n") : "?");
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        int e = errno;
        close(fd);
        return ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET, "cannot write %s: %s", path,
                              strerror(e));
    }
    /* fd stays open (and locked) for the life of the process */
    return 0;
}

long ipvm_node_pidfile_holder(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    long pid = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        char buf[32] = {0};
        if (pread(fd, buf, sizeof buf - 1, 0) > 0)
            pid = strtol(buf, NULL, 10);
        if (pid <= 0)
            pid = -1; /* locked but unreadable: running, pid unknown */
    }
    close(fd);
    return pid;
}

/* The parent's side: wait for the child's one line, print it, exit with its status. */
static void parent_wait(int fd, pid_t child)
{
    char buf[4096];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    int status;
    waitpid(child, &status, 0); /* the intermediate child exits at once */
    if (len > 1 && buf[0] == '+') {
        fputs(buf + 1, stdout);
        exit(0);
    }
    size_t text = len > 1 ? strlen(buf + 1) + 1 : 0; /* "-" text, then "\0" json (--json) */
    if (len > 1)
        fprintf(stderr, "%s", buf + 1);
    if (len > text + 1)
        fputs(buf + text + 1, stdout);
    if (len <= 1)
        fprintf(stderr, "ipvm: error: the node exited before it was ready; see its log\n");
    exit(1);
}

int ipvm_node_detach(const char *log_path, ipvm_error_t *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET, "pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET, "fork: %s", strerror(errno));
    if (pid > 0) {
        close(p[1]);
        parent_wait(p[0], pid);
    }
    close(p[0]);
    setsid();
    pid = fork(); /* not a session leader: never gets a controlling terminal again */
    if (pid < 0)
        _exit(1);
    if (pid > 0)
        _exit(0);
    int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (logfd < 0 || nullfd < 0) {
        dprintf(p[1], "-ipvm: error: cannot open the log file %s: %s\n", log_path, strerror(errno));
        _exit(1);
    }
    dup2(nullfd, STDIN_FILENO);
    dup2(logfd, STDOUT_FILENO);
    dup2(logfd, STDERR_FILENO);
    close(nullfd);
    close(logfd);
    if (chdir("/") != 0) {
        /* not fatal: the data dir is absolute or was made so */
    }
    ready_fd = p[1];
    return 0;
}

void ipvm_node_ready(bool ok, const char *msg)
{
    ipvm_node_ready_failed(ok, msg, NULL);
}

void ipvm_node_ready_failed(bool ok, const char *msg, const char *json)
{
    if (ready_fd < 0)
        return;
    dprintf(ready_fd, "%c%s", ok ? '+' : '-', msg);
    if (!ok && json)
        dprintf(ready_fd, "%c%s", '\0', json);
    close(ready_fd);
    ready_fd = -1;
}
