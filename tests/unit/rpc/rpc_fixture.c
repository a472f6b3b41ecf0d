/* SPDX-License-Identifier: Apache-2.0 */
/* The rpc tests' server fixture (see rpc_fixture.h). */
#include "rpc_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>
#include <unistd.h>

struct rpc_fixture_s {
    uv_loop_t loop;
    uv_async_t wake;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    ipvm_rpc_server_opts_t opts;
    ipvm_rpc_server_t *server;
    ipvm_metrics_t *metrics;
    rpc_fixture_setup_fn setup;
    void *setup_data;
    int port;
    bool started, failed, stop, stopped;
    char url[64];
    char why[400];
    /* a function to run on the loop */
    void (*fn)(ipvm_rpc_server_t *, void *);
    void *fn_data;
    bool fn_done;
};

static void on_server_closed(void *data)
{
    rpc_fixture_t *f = data;
    f->server = NULL;
    uv_close((uv_handle_t *)&f->wake, NULL);
}

static void on_wake(uv_async_t *h)
{
    rpc_fixture_t *f = h->data;
    pthread_mutex_lock(&f->lock);
    void (*fn)(ipvm_rpc_server_t *, void *) = f->fn;
    void *data = f->fn_data;
    bool stop = f->stop;
    pthread_mutex_unlock(&f->lock);
    if (fn && f->server) {
        fn(f->server, data);
        pthread_mutex_lock(&f->lock);
        f->fn = NULL;
        f->fn_done = true;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
    }
    if (stop && f->server)
        ipvm_rpc_server_close(f->server, on_server_closed, f);
}

static void *loop_main(void *arg)
{
    rpc_fixture_t *f = arg;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = ipvm_rpc_server_new(&f->loop, &f->opts, &f->server, &err);
    pthread_mutex_lock(&f->lock);
    if (rc) {
        f->failed = true;
        snprintf(f->why, sizeof f->why, "%s (%s)", err.msg, ipvm_err_name(rc));
    } else {
        f->port = ipvm_rpc_server_port(f->server);
        if (f->setup)
            f->setup(f->server, &f->loop, f->setup_data);
    }
    f->started = true;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    if (rc) {
        uv_close((uv_handle_t *)&f->wake, NULL);
        uv_run(&f->loop, UV_RUN_DEFAULT);
        return NULL;
    }
    uv_run(&f->loop, UV_RUN_DEFAULT);
    pthread_mutex_lock(&f->lock);
    f->stopped = true;
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

rpc_fixture_t *rpc_fixture_start(const ipvm_rpc_server_opts_t *opts, rpc_fixture_setup_fn setup,
                                 void *data)
{
    rpc_fixture_t *f = calloc(1, sizeof *f);
    IPVM_ASSERT(f != NULL);
    if (opts)
        f->opts = *opts;
    f->opts.host = "127.0.0.1";
    f->opts.port = 0;
    IPVM_ASSERT_OK(ipvm_metrics_new("ipvm_", &f->metrics));
    if (f->opts.metrics == NULL)
        f->opts.metrics = f->metrics;
    f->setup = setup;
    f->setup_data = data;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    IPVM_ASSERT_OK(uv_loop_init(&f->loop));
    IPVM_ASSERT_OK(uv_async_init(&f->loop, &f->wake, on_wake));
    f->wake.data = f;
    IPVM_ASSERT_EQ(pthread_create(&f->thread, NULL, loop_main, f), 0);
    pthread_mutex_lock(&f->lock);
    while (!f->started)
        pthread_cond_wait(&f->cond, &f->lock);
    pthread_mutex_unlock(&f->lock);
    if (f->failed) {
        pthread_join(f->thread, NULL);
        IPVM_ASSERT_MSG(false, "server did not start: %s", f->why);
    }
    snprintf(f->url, sizeof f->url, "ws://127.0.0.1:%d", f->port);
    return f;
}

void rpc_fixture_call(rpc_fixture_t *f, void (*fn)(ipvm_rpc_server_t *s, void *data), void *data)
{
    pthread_mutex_lock(&f->lock);
    f->fn = fn;
    f->fn_data = data;
    f->fn_done = false;
    pthread_mutex_unlock(&f->lock);
    uv_async_send(&f->wake);
    pthread_mutex_lock(&f->lock);
    while (!f->fn_done)
        pthread_cond_wait(&f->cond, &f->lock);
    pthread_mutex_unlock(&f->lock);
}

void rpc_fixture_stop(rpc_fixture_t *f)
{
    pthread_mutex_lock(&f->lock);
    f->stop = true;
    pthread_mutex_unlock(&f->lock);
    uv_async_send(&f->wake);
    pthread_join(f->thread, NULL);
    IPVM_ASSERT(f->stopped);
    /* every handle closed: uv_loop_close refuses otherwise */
    IPVM_ASSERT_EQ(uv_loop_close(&f->loop), 0);
    ipvm_metrics_free(f->metrics);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
    free(f);
}

int rpc_fixture_port(const rpc_fixture_t *f)
{
    return f->port;
}

const char *rpc_fixture_url(const rpc_fixture_t *f)
{
    return f->url;
}

ipvm_metrics_t *rpc_fixture_metrics(const rpc_fixture_t *f)
{
    return f->opts.metrics;
}

ipvm_rpc_client_t *rpc_fixture_client(rpc_fixture_t *f)
{
    ipvm_rpc_client_t *c = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_rpc_client_connect(f->url, 5000, &c, &err), &err);
    return c;
}

void rpc_fixture_call_ok(ipvm_rpc_client_t *c, const char *method, const char *params,
                         ipvm_buf_t *result)
{
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_buf_clear(result);
    IPVM_ASSERT_OK_ERR(ipvm_rpc_client_call(c, method, params, 5000, result, NULL, &err), &err);
}

int rpc_fixture_http_get_fd(int fd, const char *path, ipvm_buf_t *resp)
{
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
    IPVM_ASSERT_EQ(write(fd, req, (size_t)n), n);
    ipvm_buf_clear(resp);
    char buf[4096];
    ssize_t got;
    while ((got = read(fd, buf, sizeof buf)) > 0)
        IPVM_ASSERT_OK(ipvm_buf_append(resp, buf, (size_t)got));
    close(fd);
    IPVM_ASSERT_OK(ipvm_buf_reserve(resp, 1));
    resp->data[resp->len] = '\0';
    int status = 0;
    IPVM_ASSERT_EQ(sscanf((char *)resp->data, "HTTP/1.1 %d", &status), 1);
    return status;
}
