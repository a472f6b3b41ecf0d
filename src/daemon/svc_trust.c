/* SPDX-License-Identifier: Apache-2.0 */
/* The node's trust service: reads [trust] (open or ucan mode, receipt signing), signs with the
 * node identity (<data-dir>/identity.key, the same key as the libp2p peer id), keeps UCANs in
 * <data-dir>/ucan and redundancy evidence in <data-dir>/evidence, installs the scheduler's
 * trust hooks, and admits RPC submissions: their params may carry a "ucan" member (a token
 * bundle, docs/trust.md) that Homestar clients simply do not send. JSON-RPC method `ucan_add`
 * puts delegations and revocations into the node's store. */
#include "daemon.h"

#include "ipvm/p2p.h"
#include "ipvm/trust.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    ipvm_node_t *node;
    ipvm_p2p_identity_t *id;
    ipvm_signer_t signer;
    ipvm_trust_t *trust;
    ipvm_trust_net_t *net; /* redundancy over libp2p, when p2p is on */
} trust_svc_t;

/* The "ucan" member: a string of tokens, or a list of strings. */
static int bundle_of(const ipvm_ipld_t *sub, ipvm_buf_t *out, ipvm_error_t *err)
{
    const ipvm_ipld_t *u = sub ? ipvm_ipld_map_get(sub, "ucan") : NULL;
    if (u == NULL)
        return 0;
    size_t n = u->kind == IPVM_IPLD_LIST ? u->u.list.len : 1;
    for (size_t i = 0; i < n; i++) {
        const ipvm_ipld_t *s = u->kind == IPVM_IPLD_LIST ? u->u.list.items[i] : u;
        if (s->kind != IPVM_IPLD_STRING)
            return ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET,
                                  "params.ucan must be a string of tokens or a list of them");
        if (ipvm_buf_append(out, s->u.str.ptr, s->u.str.len) || ipvm_buf_append_byte(out, '\n'))
            return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    }
    return 0;
}

static int admit(void *data, const ipvm_workflow_t *wf, const char *name,
                 const ipvm_ipld_t *submission, void **auth, ipvm_error_t *err)
{
    trust_svc_t *st = data;
    (void)name;
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_trust_auth_t *a = NULL;
    int rc = bundle_of(submission, &b, err);
    if (rc == 0 && b.len)
        rc = ipvm_trust_auth_new(st->trust, b.data, b.len, &a, err);
    ipvm_buf_dispose(&b);
    /* ucan mode refuses the whole workflow at once, naming the first task that may not run */
    bool ucan = ipvm_trust_mode(st->trust) == IPVM_TRUST_UCAN;
    for (size_t i = 0; rc == 0 && ucan && i < wf->ntasks; i++)
        rc = ipvm_trust_authorize(st->trust, a, wf, &wf->tasks[i], err);
    if (rc != 0) {
        ipvm_trust_auth_free(a);
        return rc;
    }
    *auth = a;
    return 0;
}

/* Open mode and no token bundle: admit does nothing but say yes (no I/O, no signature to
 * check), so the RPC layer may admit on the loop thread. */
static bool admit_inline(void *data, const ipvm_ipld_t *submission)
{
    trust_svc_t *st = data;
    return ipvm_trust_mode(st->trust) != IPVM_TRUST_UCAN &&
           ipvm_ipld_map_get(submission, "ucan") == NULL;
}

static void auth_free(void *data, void *auth)
{
    (void)data;
    ipvm_trust_auth_free(auth);
}

typedef struct {
    ipvm_ucan_store_t *store;
    size_t added;
    ipvm_error_t *err;
} add_ctx_t;

static int add_token(void *data, bool is_jwt, const uint8_t *bytes, size_t n)
{
    add_ctx_t *c = data;
    if (is_jwt)
        return ipvm_error_set(c->err, IPVM_EUNSUPPORTED, IPVM_NO_OFFSET,
                              "JWTs are not stored: send them with the workflow");
    int rc = ipvm_ucan_store_add(c->store, bytes, n, NULL, c->err);
    c->added += rc == 0;
    return rc;
}

/* ucan_add: [{"tokens": "<base64 tokens separated by spaces>"}] */
static int m_ucan_add(ipvm_rpc_call_t *call, const ipvm_ipld_t *params, void *data)
{
    trust_svc_t *st = data;
    const ipvm_ipld_t *p = params && params->kind == IPVM_IPLD_LIST && params->u.list.len
                               ? params->u.list.items[0]
                               : params;
    const ipvm_ipld_t *t = p ? ipvm_ipld_map_get(p, "tokens") : NULL;
    if (t == NULL || t->kind != IPVM_IPLD_STRING) {
        ipvm_rpc_call_fail(call, IPVM_RPC_INVALID_PARAMS,
                           "params: {\"tokens\": \"<base64 UCAN tokens separated by spaces>\"}");
        return 0;
    }
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    add_ctx_t c = {ipvm_trust_store(st->trust), 0, &err};
    int rc = ipvm_ucan_read_tokens((const uint8_t *)t->u.str.ptr, t->u.str.len, &a, add_token, &c,
                                   &err);
    if (rc != 0) {
        ipvm_rpc_call_fail(call, IPVM_RPC_INVALID_PARAMS, "%s", err.msg);
    } else {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "{\"added\":%zu}", c.added);
        ipvm_rpc_call_reply(call, msg, (size_t)n);
    }
    ipvm_arena_dispose(&a);
    return 0;
}

/* Redundancy over libp2p: serve /ipvm/verify/1.0.0 and ask peers ([trust] verifiers…). */
static int net_start(trust_svc_t *st, ipvm_error_t *err)
{
    ipvm_p2p_host_t *h = ipvm_node_p2p_host(st->node);
    if (h == NULL)
        return 0;
    const ipvm_config_t *c = ipvm_node_config(st->node);
    ipvm_trust_net_opts_t no = {
        .sched = ipvm_config_bool(c, "trust", "answer_verify") ? ipvm_node_sched(st->node) : NULL,
        .verifiers = ipvm_config_str(c, "trust", "verifiers"),
        .ask_connected = ipvm_config_bool(c, "trust", "ask_connected"),
        .workers = (unsigned)ipvm_config_int(c, "trust", "verify_workers"),
        .lie = ipvm_config_bool(c, "trust", "test_lie"),
    };
    if (no.lie)
        ipvm_log(IPVM_LOG_WARN, "trust",
                 "trust.test_lie is set: this node answers verify requests with forged outputs");
    return ipvm_trust_net_new(st->trust, h, &no, &st->net, err);
}

static int trust_start(ipvm_node_t *node, void **state, ipvm_error_t *err)
{
    trust_svc_t *st = ipvm_calloc(1, sizeof *st);
    if (st == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    st->node = node;
    const char *dir = ipvm_node_data_dir(node);
    char ucan[4200], ev[4200];
    snprintf(ucan, sizeof ucan, "%s/ucan", dir);
    snprintf(ev, sizeof ev, "%s/evidence", dir);
    ipvm_trust_opts_t o;
    int rc = ipvm_trust_opts_from_config(ipvm_node_config(node), &o, err);
    o.ucan_dir = ucan;
    o.evidence_dir = ev;
    if (rc == 0)
        rc = ipvm_p2p_identity_load_or_create(dir, &st->id, NULL, err);
    if (rc == 0 && (rc = ipvm_signer_from_identity(&st->signer, st->id)) != 0)
        ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory");
    if (rc == 0)
        rc = ipvm_trust_new(&o, &st->signer, &st->trust, err);
    if (rc == 0 && (rc = net_start(st, err)) != 0)
        ipvm_error_prefix(err, "trust: ");
    if (rc != 0) {
        ipvm_trust_free(st->trust);
        ipvm_p2p_identity_free(st->id);
        ipvm_free(st);
        return rc;
    }
    ipvm_sched_trust_hooks_t h;
    ipvm_trust_sched_hooks(st->trust, &h);
    if (ipvm_node_sched(node))
        ipvm_sched_set_trust_hooks(ipvm_node_sched(node), &h);
    ipvm_node_set_admit(node, admit, st);
    ipvm_node_set_auth_free(node, auth_free);
    ipvm_node_set_admit_inline(node, admit_inline);
    static const ipvm_rpc_method_t add = {
        "ucan_add", "Adds UCAN delegations and revocations to the node's store",
        "[{\"name\":\"tokens\",\"schema\":{\"type\":\"object\"}}]",
        "{\"name\":\"added\",\"schema\":{\"type\":\"object\"}}", m_ucan_add, NULL};
    ipvm_rpc_method_t m = add;
    m.data = st;
    if (ipvm_node_rpc(node) && ipvm_rpc_server_add_method(ipvm_node_rpc(node), &m) != 0)
        ipvm_log(IPVM_LOG_WARN, "trust", "cannot register ucan_add");
    ipvm_log(IPVM_LOG_INFO, "trust", "%s mode, receipts %s, redundancy %u%s, node %s",
             o.mode == IPVM_TRUST_UCAN ? "ucan" : "open", o.sign_receipts ? "signed" : "unsigned",
             o.redundancy ? o.redundancy : 1, st->net ? " (peers over libp2p)" : "",
             st->signer.did);
    *state = st;
    return 0;
}

static void trust_stop(ipvm_node_t *node, void *state, void (*done)(ipvm_node_t *))
{
    trust_svc_t *st = state;
    if (st) {
        ipvm_trust_net_free(st->net); /* stops answering peers, waits for those runs */
        if (ipvm_node_sched(node)) /* runs are drained before services stop */
            ipvm_sched_set_trust_hooks(ipvm_node_sched(node), NULL);
        ipvm_node_set_admit(node, NULL, NULL);
        ipvm_node_set_admit_inline(node, NULL);
        ipvm_trust_free(st->trust);
        ipvm_p2p_identity_free(st->id);
        ipvm_free(st);
    }
    done(node);
}

const ipvm_node_service_t ipvm_node_service_trust = {"trust", ipvm_trust_conf_keys, trust_start,
                                                     trust_stop};
