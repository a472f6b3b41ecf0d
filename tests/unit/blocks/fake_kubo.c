/* SPDX-License-Identifier: Apache-2.0 */
/* The fake Kubo API / gateway of fake_kubo.h. */
#define _GNU_SOURCE
#include "fake_kubo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct fake_kubo_s {
    fk_mode_t mode;
    ipvm_blockstore_t *src;
    int lfd, stop[2], port;
    char addr[64];
    pthread_t thread;
    atomic_int requests, bad_methods;
};

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, int status, const char *type, const uint8_t *body, size_t n)
{
    char hdr[256];
    int h = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, status == 200 ? "OK" : "Error", type, n);
    send_all(fd, hdr, (size_t)h);
    send_all(fd, body, n);
}

/* Waits until stop is signalled (the SILENT mode's "never answers"). */
static void hold(fake_kubo_t *fk)
{
    struct pollfd p = {fk->stop[0], POLLIN, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
}

static void serve(fake_kubo_t *fk, int fd)
{
    char req[8192];
    size_t got = 0;
    while (got < sizeof req - 1 && !memmem(req, got, "\r\n\r\n", 4)) {
        ssize_t n = recv(fd, req + got, sizeof req - 1 - got, 0);
        if (n <= 0)
            return;
        got += (size_t)n;
    }
    req[got] = 0;
    atomic_fetch_add(&fk->requests, 1);
    char method[16] = "", path[2048] = "";
    if (sscanf(req, "%15s %2047s", method, path) != 2)
        return;
    const char *arg = NULL;
    bool api = strncmp(path, "/api/v0/block/get?arg=", 22) == 0;
    if (api) {
        arg = path + 22;
        if (strcmp(method, "POST") != 0) {
            atomic_fetch_add(&fk->bad_methods, 1);
            const char *m = "405 - Method Not Allowed";
            respond(fd, 405, "text/plain", (const uint8_t *)m, strlen(m));
            return;
        }
    } else if (strncmp(path, "/ipfs/", 6) == 0) {
        arg = path + 6;
    }
    if (fk->mode == FK_SILENT) {
        hold(fk);
        return;
    }
    ipvm_cid_t cid;
    ipvm_buf_t b = IPVM_BUF_INIT;
    size_t n = arg ? strcspn(arg, "?&/") : 0;
    if (fk->mode == FK_MISSING || arg == NULL || ipvm_cid_parse(&cid, arg, n, NULL) != 0 ||
        ipvm_blockstore_get(fk->src, &cid, &b, NULL) != 0) {
        const char *m = api ? "{\"Message\":\"block was not found locally (offline): ipld: "
                              "could not find node\",\"Code\":0,\"Type\":\"error\"}\n"
                            : "404 page not found";
        respond(fd, api ? 500 : 404, api ? "application/json" : "text/plain",
                (const uint8_t *)m, strlen(m));
        ipvm_buf_dispose(&b);
        return;
    }
    if (fk->mode == FK_WRONG && b.len)
        b.data[b.len / 2] ^= 0x20;
    respond(fd, 200, api ? "text/plain" : "application/vnd.ipld.raw", b.data, b.len);
    ipvm_buf_dispose(&b);
}

static void *loop(void *arg)
{
    fake_kubo_t *fk = arg;
    for (;;) {
        struct pollfd p[2] = {{fk->lfd, POLLIN, 0}, {fk->stop[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        int fd = accept4(fk->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        serve(fk, fd);
        close(fd);
    }
    return NULL;
}

fake_kubo_t *fk_start(fk_mode_t mode, ipvm_blockstore_t *src)
{
    fake_kubo_t *fk = calloc(1, sizeof *fk);
    IPVM_ASSERT(fk);
    fk->mode = mode;
    fk->src = src;
    IPVM_ASSERT(pipe2(fk->stop, O_CLOEXEC) == 0);
    fk->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    IPVM_ASSERT(fk->lfd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    IPVM_ASSERT(bind(fk->lfd, (struct sockaddr *)&a, sizeof a) == 0);
    IPVM_ASSERT(listen(fk->lfd, 16) == 0);
    socklen_t len = sizeof a;
    IPVM_ASSERT(getsockname(fk->lfd, (struct sockaddr *)&a, &len) == 0);
    fk->port = ntohs(a.sin_port);
    snprintf(fk->addr, sizeof fk->addr, "127.0.0.1:%d", fk->port);
    IPVM_ASSERT(pthread_create(&fk->thread, NULL, loop, fk) == 0);
    return fk;
}

int fk_port(const fake_kubo_t *fk)
{
    return fk->port;
}

const char *fk_addr(const fake_kubo_t *fk)
{
    return fk->addr;
}

int fk_requests(const fake_kubo_t *fk)
{
    return atomic_load(&fk->requests);
}

int fk_bad_methods(const fake_kubo_t *fk)
{
    return atomic_load(&fk->bad_methods);
}

void fk_stop(fake_kubo_t *fk)
{
    if (write(fk->stop[1], "x", 1) != 1)
        abort();
    pthread_join(fk->thread, NULL);
    close(fk->lfd);
    close(fk->stop[0]);
    close(fk->stop[1]);
    free(fk);
}
