/* SPDX-License-Identifier: Apache-2.0 */
/* The trust side of in-process CLI commands (cli_trust.h): the trust layer around `ipvm run`'s
 * embedded scheduler, and the checks of `ipvm receipt --verify`. */
#include "cli_trust.h"

#include <stdio.h>
#include <string.h>

int ipvm_cli_trust_open(ipvm_cli_t *cli, ipvm_sched_t *s, const char *ucan_file, bool sign,
                        ipvm_cli_trust_t *t)
{
    memset(t, 0, sizeof *t);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_p2p_identity_load_or_create(cli->data_dir, &t->id, NULL, &err) != 0)
        return ipvm_cli_fail_err(cli, &err, "cannot load the node identity");
    if (ipvm_signer_from_identity(&t->node, t->id) != 0)
        return ipvm_cli_fail(cli, IPVM_ENOMEM, "out of memory");
    char ucan[4096], ev[4096];
    snprintf(ucan, sizeof ucan, "%s/ucan", cli->data_dir);
    snprintf(ev, sizeof ev, "%s/evidence", cli->data_dir);
    ipvm_trust_opts_t o = {ucan_file ? IPVM_TRUST_UCAN : IPVM_TRUST_OPEN,
                           sign || ucan_file != NULL,
                           ucan_file != NULL,
                           ucan,
                           ev,
                           -1,
                           0,
                           0};
    if (ipvm_trust_new(&o, &t->node, &t->trust, &err) != 0)
        return ipvm_cli_fail_err(cli, &err, "cannot start the trust layer");
    ipvm_sched_trust_hooks_t h;
    ipvm_trust_sched_hooks(t->trust, &h);
    ipvm_sched_set_trust_hooks(s, &h);
    return 0;
}

int ipvm_cli_trust_auth(ipvm_cli_t *cli, ipvm_cli_trust_t *t, const char *ucan_file,
                        const char *key, const ipvm_workflow_t *wf)
{
    ipvm_buf_t in = IPVM_BUF_INIT, bundle = IPVM_BUF_INIT;
    int st = ipvm_cli_read_input(cli, ucan_file, &in);
    if (st != 0)
        return st;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = 0;
    if (key) { /* sign an invocation per task with the user's key, proven by the file's tokens */
        ipvm_key_t k;
        if ((rc = ipvm_keyfile_load(cli->data_dir, key, &k, &err)) == 0) {
            ipvm_signer_t me;
            ipvm_signer_from_key(&me, &k);
            rc = ipvm_trust_bundle_for(&me, t->node.did, wf, in.data, in.len, 3600, &bundle, &err);
            ipvm_key_wipe(&k);
        }
    } else {
        rc = ipvm_buf_append(&bundle, in.data ? in.data : (const uint8_t *)"", in.len);
    }
    if (rc == 0)
        rc = ipvm_trust_auth_new(t->trust, bundle.data, bundle.len, &t->auth, &err);
    ipvm_buf_dispose(&in);
    ipvm_buf_dispose(&bundle);
    if (rc != 0)
        return ipvm_cli_fail_err(cli, &err, "--ucan %s", ucan_file);
    return 0;
}

void ipvm_cli_trust_close(ipvm_cli_trust_t *t)
{
    ipvm_trust_auth_free(t->auth);
    ipvm_trust_free(t->trust);
    ipvm_p2p_identity_free(t->id);
    memset(t, 0, sizeof *t);
}

/* JSON output on a full memory is cut short rather than failed: the verdict line still shows */
static void best_effort(int rc)
{
    (void)rc;
}

static void json_text(ipvm_buf_t *b, const char *s)
{
    if (ipvm_buf_append_byte(b, '"') != 0)
        return;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int rc = c == '"' || c == '\\' ? ipvm_buf_printf(b, "\\%c", c)
                 : c < 0x20            ? ipvm_buf_printf(b, "\\u%04x", c)
                                       : ipvm_buf_append_byte(b, c);
        if (rc != 0)
            return;
    }
    best_effort(ipvm_buf_append_byte(b, '"'));
}

/* The redundancy evidence, one line per issuer, or into JSON. True when it is not a
 * verification (the issuers disagreed, or too few answered). */
static bool show_evidence(ipvm_cli_t *cli, const ipvm_receipt_row_t *row, ipvm_buf_t *json)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/evidence", cli->data_dir);
    ipvm_buf_t b = IPVM_BUF_INIT, js = IPVM_BUF_INIT;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *ev = NULL;
    bool failed = false;
    if (ipvm_trust_evidence_get(dir, &row->instruction, &b, NULL) != 0 ||
        ipvm_dagcbor_decode(b.data, b.len, &a, &ev, NULL) != 0 ||
        ipvm_dagjson_encode(ev, 0, &js, NULL) != 0) {
        if (json)
            best_effort(ipvm_buf_append_str(json, ",\"evidence\":null"));
        else
            printf("redundancy   none asked (a task's meta {\"redundancy\": k} asks for it)\n");
        goto done;
    }
    const ipvm_ipld_t *verdict = ipvm_ipld_map_get(ev, "verdict");
    failed = verdict == NULL || !ipvm_ipld_is_str(verdict, "agree");
    if (json) {
        best_effort(ipvm_buf_printf(json, ",\"evidence\":%s", (char *)js.data));
        goto done;
    }
    const ipvm_ipld_t *k = ipvm_ipld_map_get(ev, "k");
    const ipvm_ipld_t *res = ipvm_ipld_map_get(ev, "results");
    uint64_t kk = 0;
    if (k == NULL || ipvm_ipld_get_u64(k, &kk) != 0 || verdict == NULL || res == NULL ||
        res->kind != IPVM_IPLD_LIST)
        goto done;
    printf("redundancy   k=%llu, %s, %zu result%s:\n", (unsigned long long)kk,
           verdict->u.str.ptr, res->u.list.len, res->u.list.len == 1 ? "" : "s");
    for (size_t i = 0; i < res->u.list.len; i++) {
        const ipvm_ipld_t *r = res->u.list.items[i];
        const ipvm_ipld_t *iss = ipvm_ipld_map_get(r, "iss"), *out = ipvm_ipld_map_get(r, "out");
        const ipvm_ipld_t *src = ipvm_ipld_map_get(r, "source");
        char c[IPVM_CID_MAX_STR] = "?";
        if (out && out->kind == IPVM_IPLD_LINK)
            ipvm_cid_str(out->u.link, c);
        printf("  %-56s out %s  (%s)\n", iss && iss->kind == IPVM_IPLD_STRING ? iss->u.str.ptr : "?",
               c, src && src->kind == IPVM_IPLD_STRING ? src->u.str.ptr : "?");
    }
done:
    ipvm_buf_dispose(&b);
    ipvm_buf_dispose(&js);
    ipvm_arena_dispose(&a);
    return failed;
}

int ipvm_cli_trust_verify_receipt(ipvm_cli_t *cli, const ipvm_receipt_row_t *row,
                                  const ipvm_ipld_t *receipt, ipvm_buf_t *json, bool *bad)
{
    ipvm_buf_t cbor = IPVM_BUF_INIT;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    *bad = false;
    ipvm_receipt_trust_t v = IPVM_RECEIPT_BAD;
    int rc = ipvm_dagcbor_encode(receipt, &cbor, &err);
    if (rc == 0)
        rc = ipvm_receipt_check(cbor.data, cbor.len, row->signature, row->signature_len, &v, &err);
    ipvm_buf_dispose(&cbor);
    if (rc != 0)
        return ipvm_cli_fail_err(cli, &err, "cannot check the receipt");
    static const char *names[] = {"signed", "unsigned", "bad"};
    *bad = v == IPVM_RECEIPT_BAD;
    if (json) {
        best_effort(ipvm_buf_printf(json, ",\"verify\":{\"verdict\":\"%s\",\"issuer\":", names[v]));
        if (row->issuer)
            json_text(json, row->issuer);
        else
            best_effort(ipvm_buf_append_str(json, "null"));
        if (*bad) {
            best_effort(ipvm_buf_append_str(json, ",\"error\":"));
            json_text(json, err.msg);
        }
        *bad = show_evidence(cli, row, json) || *bad; /* a conflict is no verification */
        best_effort(ipvm_buf_append_byte(json, '}'));
        return 0;
    }
    if (v == IPVM_RECEIPT_SIGNED)
        printf("verified     signed by %s: the signature over the receipt CID is valid\n",
               row->issuer ? row->issuer : "?");
    else if (v == IPVM_RECEIPT_UNSIGNED)
        printf("verified     no: unsigned (iss null, as Homestar makes them); readable in open "
               "mode, refused in ucan mode\n");
    else
        printf("verified     FAILED: %s\n", err.msg);
    *bad = show_evidence(cli, row, NULL) || *bad;
    return 0;
}

/* The DID of the node at url: its libp2p peer id (the `node` method) holds its Ed25519 key. */
static int remote_did(ipvm_cli_t *cli, const char *url, char did[IPVM_DID_MAX])
{
    ipvm_rpc_client_t *c = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_rpc_client_connect(url, 10000, &c, &err) != 0)
        return ipvm_cli_fail_err(cli, &err, "cannot reach %s", url);
    ipvm_buf_t res = IPVM_BUF_INIT;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    ipvm_peer_id_t pid;
    uint8_t pub[IPVM_ED25519_PUBLIC];
    const ipvm_ipld_t *p = NULL;
    int st = 0;
    if (ipvm_rpc_client_call(c, "node", "[]", 10000, &res, NULL, &err) != 0 ||
        ipvm_dagjson_decode((char *)res.data, res.len, &a, &v, &err) != 0)
        st = ipvm_cli_fail_err(cli, &err, "%s: the node method", url);
    else if ((p = ipvm_ipld_select(v, "static/peer_id")) == NULL || p->kind != IPVM_IPLD_STRING ||
             ipvm_p2p_peer_id_parse(p->u.str.ptr, p->u.str.len, &pid, &err) != 0 ||
             ipvm_p2p_peer_id_ed25519(&pid, pub) != 0 || ipvm_did_from_ed25519(pub, did) != 0)
        st = ipvm_cli_fail(cli, IPVM_EUCAN, "%s does not tell its Ed25519 peer id; give the "
                           "invocations ready-made (--ucan BUNDLE without --key)", url);
    ipvm_buf_dispose(&res);
    ipvm_arena_dispose(&a);
    ipvm_rpc_client_free(c);
    return st;
}

int ipvm_cli_trust_remote_bundle(ipvm_cli_t *cli, const char *url, const char *workflow_file,
                                 const char *ucan_file, const char *key, ipvm_buf_t *out)
{
    ipvm_buf_t in = IPVM_BUF_INIT, js = IPVM_BUF_INIT;
    int st = ipvm_cli_read_input(cli, ucan_file, &in);
    if (st != 0)
        return st;
    if (key == NULL) { /* ready-made: send as is */
        st = ipvm_buf_append(out, in.data ? in.data : (const uint8_t *)"", in.len) ? IPVM_EXIT_FAIL : 0;
        ipvm_buf_dispose(&in);
        return st;
    }
    char did[IPVM_DID_MAX];
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_workflow_t *wf = NULL;
    ipvm_workflow_opts_t wo = {.allow_outside_awaits = true};
    ipvm_key_t k;
    if ((st = remote_did(cli, url, did)) == 0 && (st = ipvm_cli_read_input(cli, workflow_file, &js)) == 0) {
        if (ipvm_workflow_parse((char *)js.data, js.len, &wo, &a, &wf, &err) != 0)
            st = ipvm_cli_fail_err(cli, &err, "%s", workflow_file);
        else if (ipvm_keyfile_load(cli->data_dir, key, &k, &err) != 0)
            st = ipvm_cli_fail_err(cli, &err, "cannot load key '%s'", key);
        else {
            ipvm_signer_t me;
            ipvm_signer_from_key(&me, &k);
            if (ipvm_trust_bundle_for(&me, did, wf, in.data, in.len, 3600, out, &err) != 0)
                st = ipvm_cli_fail_err(cli, &err, "cannot sign the invocations");
            ipvm_key_wipe(&k);
        }
    }
    ipvm_buf_dispose(&in);
    ipvm_buf_dispose(&js);
    ipvm_arena_dispose(&a);
    return st;
}
