/* SPDX-License-Identifier: Apache-2.0 */
/* The trust layer on a real scheduler (with the native test executor of tests/unit/sched):
 * ucan mode refuses before anything is fetched or run and names the task and the capability;
 * delegations, bindings by instruction and by workflow, policies per module, revocation;
 * signed receipts (and open mode's Homestar receipt CID); verification of receipts from
 * elsewhere; k-of-n redundancy with honest and lying peers and its evidence. */
#include "test.h"

#include "../sched/fake_exec.h"

#include <time.h>

#define RSC1 "ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq"
#define RSC2 "ipfs://bafybeiejevluvtoevgk66plh5t6xiy3ikyuuxg3vgofuvpeckb6eadresm"

typedef struct {
    fake_exec_t fx;
    ipvm_sched_t *s;
    ipvm_key_t key;
    ipvm_signer_t signer;
    ipvm_trust_t *t;
    char dir[4096];
} node_t;

static void node_open(node_t *n, uint8_t seed_byte, ipvm_trust_mode_t mode, bool sign)
{
    memset(n, 0, sizeof *n);
    snprintf(n->dir, sizeof n->dir, "%s/node%u", ipvm_test_tmpdir(), seed_byte);
    IPVM_ASSERT_OK(ipvm_mkdirs(n->dir, 0700, NULL));
    char db[4200], ucan[4200], ev[4200];
    snprintf(db, sizeof db, "%s/ipvm.db", n->dir);
    snprintf(ucan, sizeof ucan, "%s/ucan", n->dir);
    snprintf(ev, sizeof ev, "%s/evidence", n->dir);
    ipvm_sched_executor_t x = fake_exec(&n->fx);
    ipvm_sched_opts_t o = {.db_path = db, .executor = &x, .threads = 2};
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_sched_new(&o, &n->s, &err), &err);
    uint8_t seed[32];
    memset(seed, seed_byte, sizeof seed);
    IPVM_ASSERT_OK(ipvm_key_from_seed(&n->key, seed));
    ipvm_signer_from_key(&n->signer, &n->key);
    ipvm_trust_opts_t to = {mode, sign, mode == IPVM_TRUST_UCAN, ucan, ev, -1, 0, 0};
    IPVM_ASSERT_OK_ERR(ipvm_trust_new(&to, &n->signer, &n->t, &err), &err);
    ipvm_sched_trust_hooks_t h;
    ipvm_trust_sched_hooks(n->t, &h);
    ipvm_sched_set_trust_hooks(n->s, &h);
}

static void node_close(node_t *n)
{
    ipvm_sched_free(n->s);
    ipvm_trust_free(n->t);
    ipvm_key_wipe(&n->key);
}

static ipvm_workflow_t *parse(node_t *n, ipvm_arena_t *a, const char *js)
{
    ipvm_workflow_t *wf = NULL;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_sched_parse(n->s, js, strlen(js), a, &wf, &err), &err);
    return wf;
}

static const char *two_tasks(ipvm_arena_t *a, const char *nonce)
{
    return ipvm_arena_printf(
        a,
        "{\"tasks\": [{\"cause\": null, \"meta\": {}, \"prf\": [], \"run\": {\"input\": "
        "{\"args\": [1], \"func\": \"add_one\"}, \"nnc\": \"%s\", \"op\": \"wasm/run\", \"rsc\": "
        "\"" RSC1 "\"}}, {\"cause\": null, \"meta\": {}, \"prf\": [], \"run\": {\"input\": "
        "{\"args\": [5], \"func\": \"add_two\"}, \"nnc\": \"%s\", \"op\": \"wasm/run\", \"rsc\": "
        "\"" RSC2 "\"}}]}",
        nonce, nonce);
}

static int run(node_t *n, const ipvm_workflow_t *wf, const void *auth, ipvm_arena_t *a,
               ipvm_sched_result_t *res)
{
    ipvm_sched_run_opts_t ro = {.auth = auth};
    ipvm_error_t err;
    ipvm_error_clear(&err);
    return ipvm_sched_run(n->s, wf, &ro, a, res, &err);
}

static const char *error_message(const ipvm_sched_receipt_t *r)
{
    const ipvm_ipld_t *m = ipvm_ipld_map_get(ipvm_receipt_value(&r->receipt), "message");
    return m && m->kind == IPVM_IPLD_STRING ? m->u.str.ptr : "";
}

static const ipvm_ucan_t *delegation(ipvm_arena_t *a, node_t *n, const char *to, const char *pol)
{
    ipvm_ucan_params_t p = {0};
    p.kind = IPVM_UCAN_DELEGATION;
    p.aud = to;
    p.sub = n->signer.did;
    p.cmd = "/wasm/run";
    if (pol)
        IPVM_ASSERT_OK(ipvm_dagjson_decode(pol, strlen(pol), a, (ipvm_ipld_t **)&p.pol, NULL));
    ipvm_ucan_t *u = NULL;
    IPVM_ASSERT_OK(ipvm_ucan_create(&p, &n->signer, a, &u, NULL));
    return u;
}

static ipvm_trust_auth_t *bundle(node_t *n, const ipvm_signer_t *who, const ipvm_workflow_t *wf,
                                 const ipvm_ucan_t *dlg)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_trust_bundle_for(who, n->signer.did, wf, dlg ? dlg->bytes : NULL,
                                             dlg ? dlg->len : 0, 300, &b, &err),
                       &err);
    ipvm_trust_auth_t *auth = NULL;
    IPVM_ASSERT_OK_ERR(ipvm_trust_auth_new(n->t, b.data, b.len, &auth, &err), &err);
    ipvm_buf_dispose(&b);
    return auth;
}

IPVM_TEST(trust, ucan_mode_authorizes_each_task)
{
    node_t n;
    node_open(&n, 40, IPVM_TRUST_UCAN, true);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_key_t ak;
    uint8_t seed[32] = {41};
    IPVM_ASSERT_OK(ipvm_key_from_seed(&ak, seed));
    ipvm_signer_t alice;
    ipvm_signer_from_key(&alice, &ak);

    /* no UCAN: both tasks refused, nothing loaded or called */
    ipvm_workflow_t *wf = parse(&n, &a, two_tasks(&a, ""));
    ipvm_sched_result_t res;
    IPVM_ASSERT_ERR(run(&n, wf, NULL, &a, &res), IPVM_ETASKFAILED);
    IPVM_ASSERT_EQ(res.failed, 2);
    IPVM_ASSERT_EQ(res.executed, 0); /* refused tasks are failures, not executions */
    IPVM_ASSERT_EQ(n.fx.calls, 0);
    IPVM_ASSERT_EQ(n.fx.loads, 0);
    IPVM_ASSERT_STRCONTAINS(error_message(&res.receipts[0]), "task 0 (add_one");
    IPVM_ASSERT_STRCONTAINS(error_message(&res.receipts[0]), "missing capability /wasm/run on ipfs://bafybeibk42jwhq7w");
    IPVM_ASSERT_STRCONTAINS(error_message(&res.receipts[1]), "task 1 (add_two");

    /* a delegation for modules of RSC1 only: task 0 runs, task 1 is refused by the policy */
    const ipvm_ucan_t *d = delegation(&a, &n, alice.did, "[[\"==\", \".rsc\", \"" RSC1 "\"]]");
    wf = parse(&n, &a, two_tasks(&a, "1sod60ml6g26mfhsrsa0"));
    ipvm_trust_auth_t *auth = bundle(&n, &alice, wf, d);
    IPVM_ASSERT_ERR(run(&n, wf, auth, &a, &res), IPVM_ETASKFAILED);
    IPVM_ASSERT_MSG(res.receipts[0].receipt.ok, "task 0: %s", error_message(&res.receipts[0]));
    IPVM_ASSERT(!res.receipts[1].receipt.ok);
    IPVM_ASSERT_STRCONTAINS(error_message(&res.receipts[1]), "fail its policy");
    IPVM_ASSERT_EQ(res.executed, 1);
    IPVM_ASSERT_EQ(res.failed, 1);
    IPVM_ASSERT_EQ(n.fx.calls, 1);
    IPVM_ASSERT_EQ(n.fx.loads, 1);
    /* the receipt names the node and is signed */
    IPVM_ASSERT_STREQ(res.receipts[0].receipt.iss, n.signer.did);
    ipvm_receipt_trust_t v;
    IPVM_ASSERT_OK(ipvm_receipt_check(res.receipts[0].cbor, res.receipts[0].cbor_len,
                                      res.receipts[0].signature, res.receipts[0].signature_len,
                                      &v, NULL));
    IPVM_ASSERT_EQ(v, IPVM_RECEIPT_SIGNED);
    ipvm_trust_auth_free(auth);

    /* a token for another workflow does not cover this one */
    ipvm_workflow_t *wf2 = parse(&n, &a, two_tasks(&a, "2sod60ml6g26mfhsrsa0"));
    auth = bundle(&n, &alice, wf, d);
    IPVM_ASSERT_ERR(run(&n, wf2, auth, &a, &res), IPVM_ETASKFAILED);
    IPVM_ASSERT_STRCONTAINS(error_message(&res.receipts[0]), "no invocation in the submission");
    ipvm_trust_auth_free(auth);

    /* one invocation naming the workflow, under a delegation without policy: both run */
    const ipvm_ucan_t *open_d = delegation(&a, &n, alice.did, NULL);
    ipvm_ipld_t *args = ipvm_ipld_new_map(&a, 1);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, args, "workflow", ipvm_ipld_new_link(&a, &wf2->cid)));
    ipvm_ucan_params_t p = {0};
    p.kind = IPVM_UCAN_INVOCATION;
    p.sub = n.signer.did;
    p.cmd = "/wasm/run";
    p.args = args;
    p.prf = &open_d->cid;
    p.nprf = 1;
    ipvm_ucan_t *inv = NULL;
    IPVM_ASSERT_OK(ipvm_ucan_create(&p, &alice, &a, &inv, NULL));
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_buf_append(&b, inv->bytes, inv->len));
    ipvm_buf_t text = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_base_encode(IPVM_BASE64, inv->bytes, inv->len, &text));
    IPVM_ASSERT_OK(ipvm_buf_append_byte(&text, '\n'));
    IPVM_ASSERT_OK(ipvm_base_encode(IPVM_BASE64, open_d->bytes, open_d->len, &text));
    IPVM_ASSERT_OK(ipvm_trust_auth_new(n.t, text.data, text.len, &auth, NULL));
    IPVM_ASSERT_OK(run(&n, wf2, auth, &a, &res));
    IPVM_ASSERT_EQ(res.executed, 2);
    ipvm_trust_auth_free(auth);

    /* revoked by the node: refused, and the reason says so */
    ipvm_ipld_t *rargs = ipvm_ipld_new_map(&a, 1);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, rargs, "revoke", ipvm_ipld_new_link(&a, &open_d->cid)));
    ipvm_ucan_params_t rp = {0};
    rp.kind = IPVM_UCAN_INVOCATION;
    rp.sub = n.signer.did;
    rp.cmd = "/ucan/revoke";
    rp.args = rargs;
    ipvm_ucan_t *rev = NULL;
    IPVM_ASSERT_OK(ipvm_ucan_create(&rp, &n.signer, &a, &rev, NULL));
    IPVM_ASSERT_OK(ipvm_ucan_store_add(ipvm_trust_store(n.t), rev->bytes, rev->len, NULL, NULL));
    ipvm_workflow_t *wf3 = parse(&n, &a, two_tasks(&a, "3sod60ml6g26mfhsrsa0"));
    auth = bundle(&n, &alice, wf3, open_d);
    IPVM_ASSERT_ERR(run(&n, wf3, auth, &a, &res), IPVM_ETASKFAILED);
    IPVM_ASSERT_STRCONTAINS(error_message(&res.receipts[0]), "revoked by");
    ipvm_trust_auth_free(auth);

    ipvm_buf_dispose(&b);
    ipvm_buf_dispose(&text);
    ipvm_key_wipe(&ak);
    ipvm_arena_dispose(&a);
    node_close(&n);
}

/* Open mode without signing keeps Homestar's receipts: iss null and the gold receipt CID. */
IPVM_TEST(trust, open_mode_keeps_homestar_receipts)
{
    node_t n;
    node_open(&n, 50, IPVM_TRUST_OPEN, false);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_buf_t js = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector("homestar/workflows/test-workflow-add-one.json"), &js);
    ipvm_workflow_t *wf = parse(&n, &a, ipvm_arena_strndup(&a, (char *)js.data, js.len));
    ipvm_sched_result_t res;
    IPVM_ASSERT_OK(run(&n, wf, NULL, &a, &res));
    IPVM_ASSERT(res.receipts[0].receipt.iss == NULL);
    IPVM_ASSERT(res.receipts[0].signature == NULL);
    char c[IPVM_CID_MAX_STR];
    /* reference/homestar.md §1.3: add_one(1) = 2, iss null, prf [] */
    IPVM_ASSERT_STREQ(ipvm_cid_str(&res.receipts[0].receipt.cid, c),
                      "bafyrmih5ujsrxcwwbeeqowgy434da36ie3cbar3wr5yv2vnrmzmxdylicm");
    ipvm_receipt_trust_t v;
    IPVM_ASSERT_OK(ipvm_receipt_check(res.receipts[0].cbor, res.receipts[0].cbor_len, NULL, 0, &v,
                                      NULL));
    IPVM_ASSERT_EQ(v, IPVM_RECEIPT_UNSIGNED);
    /* the verify hook: unsigned receipts from elsewhere pass in open mode, not in ucan mode */
    ipvm_sched_trust_hooks_t h;
    ipvm_trust_sched_hooks(n.t, &h);
    ipvm_error_t err;
    IPVM_ASSERT_OK(h.verify(h.data, &res.receipts[0].receipt, res.receipts[0].cbor,
                            res.receipts[0].cbor_len, NULL, 0, "peer:x", &err));
    node_t u;
    node_open(&u, 51, IPVM_TRUST_UCAN, true);
    ipvm_trust_sched_hooks(u.t, &h);
    IPVM_ASSERT_ERR(h.verify(h.data, &res.receipts[0].receipt, res.receipts[0].cbor,
                             res.receipts[0].cbor_len, NULL, 0, "peer:x", &err),
                    IPVM_ESIGNATURE);
    IPVM_ASSERT_STRCONTAINS(err.msg, "unsigned");
    node_close(&u);
    ipvm_buf_dispose(&js);
    ipvm_arena_dispose(&a);
    node_close(&n);
}

IPVM_TEST(trust, receipt_signatures)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_key_t k, other;
    uint8_t s1[32] = {60}, s2[32] = {61};
    IPVM_ASSERT_OK(ipvm_key_from_seed(&k, s1));
    IPVM_ASSERT_OK(ipvm_key_from_seed(&other, s2));
    ipvm_signer_t sg;
    ipvm_signer_from_key(&sg, &k);
    /* a receipt map {ran, out, meta, iss, prf} with iss = k */
    const char *rj = ipvm_arena_printf(&a,
                                       "{\"ran\": {\"/\": "
                                       "\"bafyrmia2frkwkus2sy7qjmok5lm7mnlbnoyfqa5mqm27op6qkgo7reryqa\"}, "
                                       "\"out\": [\"ok\", 2], \"meta\": {\"op\": \"add_one\"}, \"iss\": "
                                       "\"%s\", \"prf\": []}",
                                       k.did);
    ipvm_ipld_t *v = NULL;
    IPVM_ASSERT_OK(ipvm_dagjson_decode(rj, strlen(rj), &a, &v, NULL));
    ipvm_buf_t cbor = IPVM_BUF_INIT, sig = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_dagcbor_encode(v, &cbor, NULL));
    ipvm_cid_t cid;
    IPVM_ASSERT_OK(ipvm_ipld_cid(v, IPVM_MH_SHA3_256, &cid, NULL));
    IPVM_ASSERT_OK(ipvm_receipt_sign(&sg, &cid, &sig));
    ipvm_receipt_trust_t t;
    ipvm_error_t err;
    IPVM_ASSERT_OK(ipvm_receipt_check(cbor.data, cbor.len, sig.data, sig.len, &t, &err));
    IPVM_ASSERT_EQ(t, IPVM_RECEIPT_SIGNED);
    /* every byte of the envelope matters */
    for (size_t i = 0; i < sig.len; i++) {
        sig.data[i] ^= 0x04;
        ipvm_error_clear(&err);
        IPVM_ASSERT_OK(ipvm_receipt_check(cbor.data, cbor.len, sig.data, sig.len, &t, &err));
        IPVM_ASSERT_MSG(t == IPVM_RECEIPT_BAD, "flipping byte %zu of the signature went unnoticed", i);
        sig.data[i] ^= 0x04;
    }
    /* iss without a signature, and another key's signature */
    IPVM_ASSERT_OK(ipvm_receipt_check(cbor.data, cbor.len, NULL, 0, &t, &err));
    IPVM_ASSERT_EQ(t, IPVM_RECEIPT_BAD);
    IPVM_ASSERT_STRCONTAINS(err.msg, "carries no signature");
    ipvm_signer_t so;
    ipvm_signer_from_key(&so, &other);
    ipvm_buf_clear(&sig);
    IPVM_ASSERT_OK(ipvm_receipt_sign(&so, &cid, &sig));
    IPVM_ASSERT_OK(ipvm_receipt_check(cbor.data, cbor.len, sig.data, sig.len, &t, &err));
    IPVM_ASSERT_EQ(t, IPVM_RECEIPT_BAD);
    IPVM_ASSERT_STRCONTAINS(err.msg, "not for this receipt and issuer");
    ipvm_buf_dispose(&cbor);
    ipvm_buf_dispose(&sig);
    ipvm_key_wipe(&k);
    ipvm_key_wipe(&other);
    ipvm_arena_dispose(&a);
}

/* ---- redundancy ---------------------------------------------------------------------------- */

/* An in-process peer: another node with its own key, store and executor, that runs the task. */
typedef struct {
    node_t n;
    bool liar; /* answers add_one(n) with 999, signed */
} peer_t;

static int peer_run(void *data, const ipvm_task_t *task, int timeout_ms, ipvm_arena_t *arena,
                    ipvm_trust_peer_result_t *out, ipvm_error_t *err)
{
    peer_t *p = data;
    (void)timeout_ms;
    ipvm_buf_t cbor = IPVM_BUF_INIT, sig = IPVM_BUF_INIT;
    int rc;
    if (p->liar) {
        ipvm_receipt_t r;
        rc = ipvm_receipt_make(arena, task, true, ipvm_ipld_new_int(arena, 999), p->n.signer.did, &r,
                               err);
        if (rc == 0)
            rc = ipvm_receipt_encode(&r, &cbor, err);
        if (rc == 0)
            rc = ipvm_receipt_sign(&p->n.signer, &r.cid, &sig);
    } else {
        ipvm_ipld_t *wfv = ipvm_ipld_new_map(arena, 1), *tasks = ipvm_ipld_new_list(arena, 1);
        IPVM_ASSERT_OK(ipvm_ipld_list_push(arena, tasks, task->task));
        IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(arena, wfv, "tasks", tasks));
        ipvm_workflow_t *wf = NULL;
        rc = ipvm_workflow_from_ipld(wfv, NULL, arena, &wf, err);
        ipvm_sched_result_t res;
        ipvm_sched_run_opts_t ro = {0};
        if (rc == 0)
            rc = ipvm_sched_run(p->n.s, wf, &ro, arena, &res, err);
        if (rc == 0) {
            rc = ipvm_buf_append(&cbor, res.receipts[0].cbor, res.receipts[0].cbor_len);
            if (rc == 0)
                rc = ipvm_buf_append(&sig, res.receipts[0].signature, res.receipts[0].signature_len);
        }
    }
    if (rc == 0) {
        out->receipt = ipvm_arena_memdup(arena, cbor.data, cbor.len);
        out->receipt_len = cbor.len;
        out->signature = ipvm_arena_memdup(arena, sig.data, sig.len);
        out->signature_len = sig.len;
        snprintf(out->source, sizeof out->source, "test:%s", p->liar ? "liar" : "honest");
    }
    ipvm_buf_dispose(&cbor);
    ipvm_buf_dispose(&sig);
    return rc;
}

static const char *k_task(ipvm_arena_t *a, unsigned k, int arg)
{
    return ipvm_arena_printf(a,
                             "{\"tasks\": [{\"cause\": null, \"meta\": {\"redundancy\": %u}, "
                             "\"prf\": [], \"run\": {\"input\": {\"args\": [%d], \"func\": "
                             "\"add_one\"}, \"nnc\": \"\", \"op\": \"wasm/run\", \"rsc\": \"" RSC1
                             "\"}}]}",
                             k, arg);
}

static const ipvm_ipld_t *evidence(node_t *n, ipvm_arena_t *a, const ipvm_cid_t *instruction)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/evidence", n->dir);
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_trust_evidence_get(dir, instruction, &b, NULL));
    ipvm_ipld_t *v = NULL;
    IPVM_ASSERT_OK(ipvm_dagcbor_decode(b.data, b.len, a, &v, NULL));
    ipvm_buf_dispose(&b);
    return v;
}

IPVM_TEST(trust, redundancy_k_of_n)
{
    node_t n;
    node_open(&n, 70, IPVM_TRUST_OPEN, true);
    peer_t b, c, liar;
    node_open(&b.n, 71, IPVM_TRUST_OPEN, true);
    node_open(&c.n, 72, IPVM_TRUST_OPEN, true);
    node_open(&liar.n, 73, IPVM_TRUST_OPEN, true);
    b.liar = c.liar = false;
    liar.liar = true;
    /* a node answering a redundancy request runs the task as asked, without asking others */
    peer_t *workers[] = {&b, &c, &liar};
    for (size_t i = 0; i < 3; i++) {
        ipvm_sched_trust_hooks_t wh;
        ipvm_trust_sched_hooks(workers[i]->n.t, &wh);
        wh.confirm = NULL;
        ipvm_sched_set_trust_hooks(workers[i]->n.s, &wh);
    }
    IPVM_ASSERT_OK(ipvm_trust_add_peer(n.t, "b", peer_run, &b));
    IPVM_ASSERT_OK(ipvm_trust_add_peer(n.t, "c", peer_run, &c));
    ipvm_arena_t a;
    ipvm_arena_init(&a);

    /* k = 3 with two honest peers: agreement, evidence with three distinct issuers */
    ipvm_workflow_t *wf = parse(&n, &a, k_task(&a, 3, 1));
    ipvm_sched_result_t res;
    int rc0 = run(&n, wf, NULL, &a, &res);
    IPVM_ASSERT_MSG(rc0 == 0, "k=3 run: %s", error_message(&res.receipts[0]));
    const ipvm_ipld_t *ev = evidence(&n, &a, &wf->tasks[0].instruction);
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_map_get(ev, "verdict"), "agree"));
    const ipvm_ipld_t *results = ipvm_ipld_map_get(ev, "results");
    IPVM_ASSERT_EQ(results->u.list.len, 3);
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(results, "0/iss"), n.signer.did));
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(results, "1/iss"), b.n.signer.did));
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(results, "2/iss"), c.n.signer.did));
    IPVM_ASSERT_EQ(b.n.fx.calls, 1);
    IPVM_ASSERT_EQ(c.n.fx.calls, 1);

    /* a lying peer: conflict, the task fails naming the issuers, the evidence says so */
    ipvm_trust_t *t2 = NULL;
    ipvm_trust_opts_t to = {IPVM_TRUST_OPEN, true, false, NULL, NULL, -1, 0, 0};
    char ev_dir[4200];
    snprintf(ev_dir, sizeof ev_dir, "%s/evidence", n.dir);
    to.evidence_dir = ev_dir;
    IPVM_ASSERT_OK(ipvm_trust_new(&to, &n.signer, &t2, NULL));
    IPVM_ASSERT_OK(ipvm_trust_add_peer(t2, "b", peer_run, &b));
    IPVM_ASSERT_OK(ipvm_trust_add_peer(t2, "liar", peer_run, &liar));
    ipvm_sched_trust_hooks_t h;
    ipvm_trust_sched_hooks(t2, &h);
    ipvm_sched_set_trust_hooks(n.s, &h);
    wf = parse(&n, &a, k_task(&a, 3, 2));
    IPVM_ASSERT_ERR(run(&n, wf, NULL, &a, &res), IPVM_ETASKFAILED);
    IPVM_ASSERT_STRCONTAINS(error_message(&res.receipts[0]), "independent results disagree");
    char liar_short[32];
    snprintf(liar_short, sizeof liar_short, "%.18s", liar.n.signer.did);
    IPVM_ASSERT_STRCONTAINS(error_message(&res.receipts[0]), liar_short);
    IPVM_ASSERT_STRCONTAINS(error_message(&res.receipts[0]),
                            liar.n.signer.did + strlen(liar.n.signer.did) - 6);
    IPVM_ASSERT_STREQ(ipvm_receipt_error_code(ipvm_receipt_value(&res.receipts[0].receipt)),
                      "IPVM_ECONFLICT");
    ev = evidence(&n, &a, &wf->tasks[0].instruction);
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_map_get(ev, "verdict"), "conflict"));

    /* too few peers for k (honest ones again): the task fails and says how many answered */
    ipvm_trust_sched_hooks(n.t, &h);
    ipvm_sched_set_trust_hooks(n.s, &h);
    wf = parse(&n, &a, k_task(&a, 4, 3));
    IPVM_ASSERT_ERR(run(&n, wf, NULL, &a, &res), IPVM_ETASKFAILED);
    IPVM_ASSERT_STRCONTAINS(error_message(&res.receipts[0]), "asks for 4 independent results");
    /* k = 1 (or no redundancy) asks nobody */
    int before = b.n.fx.calls;
    wf = parse(&n, &a, k_task(&a, 1, 4));
    IPVM_ASSERT_OK(run(&n, wf, NULL, &a, &res));
    IPVM_ASSERT_EQ(b.n.fx.calls, before);

    ipvm_trust_free(t2);
    ipvm_arena_dispose(&a);
    node_close(&liar.n);
    node_close(&c.n);
    node_close(&b.n);
    node_close(&n);
}
