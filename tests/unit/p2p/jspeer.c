/* SPDX-License-Identifier: Apache-2.0 */
/* The js-libp2p child process driver: see jspeer.h. */
#include "jspeer.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

const char *jfield(const ipvm_ipld_t *v, const char *key)
{
    const ipvm_ipld_t *f = v ? ipvm_ipld_map_get(v, key) : NULL;
    return f && f->kind == IPVM_IPLD_STRING ? f->u.str.ptr : "";
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = ipvm_malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void on_line(jspeer_t *j, const char *s, size_t n)
{
    ipvm_ipld_t *v = NULL;
    ipvm_error_t err = {0};
    if (n == 0 || s[0] != '{')
        return;
    if (ipvm_dagjson_decode(s, n, &j->arena, &v, &err) != 0) {
        fprintf(stderr, "jspeer: unreadable line %.*s: %s\n", (int)n, s, err.msg);
        return;
    }
    if (j->nevents < JSPEER_MAX_EVENTS)
        j->events[j->nevents++] = v;
    if (strcmp(jfield(v, "event"), "ready") == 0) {
        snprintf(j->peer, sizeof j->peer, "%s", jfield(v, "peer"));
        const ipvm_ipld_t *a = ipvm_ipld_map_get(v, "addrs");
        if (a && a->kind == IPVM_IPLD_LIST && a->u.list.len > 0)
            snprintf(j->addr, sizeof j->addr, "%s", a->u.list.items[0]->u.str.ptr);
        j->ready = true;
    }
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    jspeer_t *j = st->data;
    if (n > 0) {
        IPVM_ASSERT_OK(ipvm_buf_append(&j->line, buf->base, (size_t)n));
        char *nl;
        while (j->line.len && (nl = memchr(j->line.data, '\n', j->line.len)) != NULL) {
            size_t len = (size_t)(nl - (char *)j->line.data);
            on_line(j, (char *)j->line.data, len);
            memmove(j->line.data, nl + 1, j->line.len - len - 1);
            j->line.len -= len + 1;
        }
    }
    ipvm_free(buf->base);
}

static void on_err_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    jspeer_t *j = st->data;
    if (n > 0 && j->errtext.len < 16384)
        IPVM_ASSERT_OK(ipvm_buf_append(&j->errtext, buf->base, (size_t)n));
    ipvm_free(buf->base);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    jspeer_t *j = p->data;
    j->exited = true;
    j->exit_status = sig ? 128 + sig : status;
}

void jspeer_start(jspeer_t *j, uv_loop_t *loop, const char *const *extra)
{
    memset(j, 0, sizeof *j);
    j->loop = loop;
    ipvm_arena_init(&j->arena);
    static char dir[1024], script[1100], poly[1100], mods[1100];
    snprintf(dir, sizeof dir, "%s/tests/interop/libp2p", IPVM_SOURCE_DIR);
    snprintf(script, sizeof script, "%s/peer.mjs", dir);
    snprintf(poly, sizeof poly, "%s/polyfill.mjs", dir);
    snprintf(mods, sizeof mods, "%s/node_modules/libp2p", dir);
    struct stat st;
    IPVM_ASSERT_MSG(stat(mods, &st) == 0,
                    "js-libp2p is not installed in %s: run `make interop-deps` (make test does)",
                    dir);
    const char *args[32] = {"node", "--import", poly, script};
    size_t n = 4;
    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    uv_pipe_init(loop, &j->in, 0);
    uv_pipe_init(loop, &j->out, 0);
    uv_pipe_init(loop, &j->err, 0);
    j->in.data = j->out.data = j->err.data = j->proc.data = j;
    uv_stdio_container_t io[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&j->in},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->out},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->err},
    };
    uv_process_options_t o = {.exit_cb = on_exit_cb, .file = "node", .args = (char **)args,
                              .cwd = dir, .stdio_count = 3, .stdio = io};
    int rc = uv_spawn(loop, &j->proc, &o);
    IPVM_ASSERT_MSG(rc == 0, "cannot run node: %s (make test installs Node.js)", uv_strerror(rc));
    uv_read_start((uv_stream_t *)&j->out, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&j->err, on_alloc, on_err_read);
    bool ok = run_until(loop, &j->ready, 30000);
    IPVM_ASSERT_MSG(ok, "js-libp2p did not start: %.2000s", (char *)j->errtext.data);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    ipvm_free(w->data);
    ipvm_free(w);
}

static void send_line(jspeer_t *j, const char *s)
{
    uv_write_t *w = ipvm_malloc(sizeof *w);
    size_t n = strlen(s);
    char *copy = ipvm_malloc(n + 1);
    memcpy(copy, s, n);
    copy[n] = '\n';
    w->data = copy;
    uv_buf_t b = uv_buf_init(copy, (unsigned)n + 1);
    IPVM_ASSERT_OK(uv_write(w, (uv_stream_t *)&j->in, &b, 1, on_written));
}

typedef struct {
    jspeer_t *j;
    int id;
    const ipvm_ipld_t *found;
    size_t from;
    const char *name, *key, *value;
} waiter_t;

static bool has_reply(void *data)
{
    waiter_t *w = data;
    for (size_t i = w->from; i < w->j->nevents; i++) {
        int64_t id;
        const ipvm_ipld_t *f = ipvm_ipld_map_get(w->j->events[i], "id");
        if (f && ipvm_ipld_get_i64(f, &id) == 0 && id == w->id) {
            w->found = w->j->events[i];
            return true;
        }
    }
    return w->j->exited;
}

const ipvm_ipld_t *jspeer_call(jspeer_t *j, const char *fields, int timeout_ms)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    waiter_t w = {.j = j, .id = ++j->next_id, .from = j->nevents};
    IPVM_ASSERT_OK(ipvm_buf_printf(&b, "{\"id\":%d,%s}", w.id, fields));
    send_line(j, (char *)b.data);
    run_until_fn(j->loop, has_reply, &w, timeout_ms);
    IPVM_ASSERT_MSG(w.found, "js-libp2p gave no answer to %s within %d ms (stderr: %.1500s)",
                    (char *)b.data, timeout_ms, j->errtext.data ? (char *)j->errtext.data : "");
    ipvm_buf_dispose(&b);
    return w.found;
}

const ipvm_ipld_t *jspeer_ok(jspeer_t *j, const char *fields, int timeout_ms)
{
    const ipvm_ipld_t *r = jspeer_call(j, fields, timeout_ms);
    const ipvm_ipld_t *ok = ipvm_ipld_map_get(r, "ok");
    IPVM_ASSERT_MSG(ok && ok->kind == IPVM_IPLD_BOOL && ok->u.boolean, "js-libp2p: %s failed: %s",
                    fields, jfield(r, "error"));
    return r;
}

static bool has_event(void *data)
{
    waiter_t *w = data;
    for (size_t i = w->from; i < w->j->nevents; i++) {
        const ipvm_ipld_t *e = w->j->events[i];
        if (strcmp(jfield(e, "event"), w->name) == 0 &&
            (w->key == NULL || strcmp(jfield(e, w->key), w->value) == 0)) {
            w->found = e;
            w->from = i + 1;
            return true;
        }
    }
    return false;
}

const ipvm_ipld_t *jspeer_wait_event(jspeer_t *j, const char *name, const char *key,
                                     const char *value, size_t *from, int timeout_ms)
{
    waiter_t w = {.j = j, .from = from ? *from : 0, .name = name, .key = key, .value = value};
    run_until_fn(j->loop, has_event, &w, timeout_ms);
    if (w.found && from)
        *from = w.from;
    return w.found;
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

void jspeer_stop(jspeer_t *j)
{
    if (!j->exited) {
        jspeer_call(j, "\"cmd\":\"stop\"", 10000);
        run_until(j->loop, &j->exited, 10000);
        if (!j->exited) {
            uv_process_kill(&j->proc, SIGKILL);
            run_until(j->loop, &j->exited, 5000);
        }
    }
    uv_close((uv_handle_t *)&j->in, on_closed);
    uv_close((uv_handle_t *)&j->out, on_closed);
    uv_close((uv_handle_t *)&j->err, on_closed);
    uv_close((uv_handle_t *)&j->proc, on_closed);
    uv_run(j->loop, UV_RUN_NOWAIT);
    ipvm_buf_dispose(&j->line);
    ipvm_buf_dispose(&j->errtext);
    ipvm_arena_dispose(&j->arena);
}
