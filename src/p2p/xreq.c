/* SPDX-License-Identifier: Apache-2.0 */
/* Requests from other threads (the scheduler's run threads) to the host's loop thread: a
 * mutex-protected queue and a uv_async wake-up. Each posted function runs exactly once on the
 * loop thread, with status 0, or IPVM_ECANCELED when the host stops first. */
#include "host.h"

typedef struct p2p_xreq_s {
    struct p2p_xreq_s *next;
    p2p_xreq_fn fn;
    void *data;
} p2p_xreq_t;

static void run_all(ipvm_p2p_host_t *h, int status)
{
    uv_mutex_lock(&h->async_lock);
    p2p_xreq_t *q = h->xreqs;
    h->xreqs = NULL;
    uv_mutex_unlock(&h->async_lock);
    p2p_xreq_t *rev = NULL; /* posted newest first: run oldest first */
    while (q) {
        p2p_xreq_t *n = q->next;
        q->next = rev;
        rev = q;
        q = n;
    }
    while (rev) {
        p2p_xreq_t *n = rev->next;
        rev->fn(h, rev->data, status);
        ipvm_free(rev);
        rev = n;
    }
}

static void on_async(uv_async_t *a)
{
    run_all(a->data, 0);
}

int p2p_xreq_init(ipvm_p2p_host_t *h)
{
    int rc = uv_mutex_init(&h->async_lock);
    if (rc)
        return rc;
    rc = uv_async_init(h->loop, &h->async, on_async);
    if (rc) {
        uv_mutex_destroy(&h->async_lock);
        return rc;
    }
    h->async.data = h;
    h->async_open = true;
    h->handles++;
    return 0;
}

int p2p_xreq_post(ipvm_p2p_host_t *h, p2p_xreq_fn fn, void *data)
{
    p2p_xreq_t *r = ipvm_malloc(sizeof *r);
    if (r == NULL)
        return IPVM_ENOMEM;
    r->fn = fn;
    r->data = data;
    uv_mutex_lock(&h->async_lock);
    bool open = h->async_open && !h->async_closing;
    if (open) {
        r->next = h->xreqs;
        h->xreqs = r;
        uv_async_send(&h->async); /* thread-safe; wakes the loop */
    }
    uv_mutex_unlock(&h->async_lock);
    if (!open) {
        ipvm_free(r);
        return IPVM_ECANCELED;
    }
    return 0;
}

static void on_async_closed(uv_handle_t *hd)
{
    ipvm_p2p_host_t *h = hd->data;
    run_all(h, IPVM_ECANCELED); /* anything posted before the close flag was seen */
    if (--h->handles == 0 && h->stopping && h->stop_cb)
        h->stop_cb(h, h->stop_ud);
}

void p2p_xreq_stop(ipvm_p2p_host_t *h)
{
    if (!h->async_open)
        return;
    uv_mutex_lock(&h->async_lock);
    h->async_closing = true;
    uv_mutex_unlock(&h->async_lock);
    run_all(h, IPVM_ECANCELED);
    uv_close((uv_handle_t *)&h->async, on_async_closed);
}

void p2p_xreq_free(ipvm_p2p_host_t *h)
{
    if (h->async_open)
        uv_mutex_destroy(&h->async_lock);
    h->async_open = false;
}
