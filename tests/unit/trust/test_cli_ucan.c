/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm ucan` end to end through the program: delegate from the node, sub-delegate, invoke with
 * a bundle, verify (valid, policy refusal naming the link, revocation through 'ucan add'),
 * inspect, --json, and usage errors. */
#include "test.h"

typedef struct {
    const char *dir;
    ipvm_buf_t out, err;
} cli_t;

static int run(cli_t *c, const char *const *args)
{
    return ipvm_test_ipvm(c->dir, args, 20000, &c->out, &c->err);
}

static void line1(const ipvm_buf_t *b, char *out, size_t n)
{
    snprintf(out, n, "%.*s", (int)strcspn((char *)b->data, "\n"), (char *)b->data);
}

IPVM_TEST(trust, cli_ucan_flow)
{
    cli_t c = {ipvm_test_tmpdir(), IPVM_BUF_INIT, IPVM_BUF_INIT};
    char alice[128], bob[128], node[128], path[4096];
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"key", "new", "alice", NULL}), 0);
    line1(&c.out, alice, sizeof alice);
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"key", "new", "bob", NULL}), 0);
    line1(&c.out, bob, sizeof bob);
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "delegate", "--from", "node", "--to", alice,
                                            "--cmd", "/wasm/run", "--pol",
                                            "[[\"like\", \".rsc\", \"ipfs://*\"]]", "--json", NULL}),
                   0);
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "\"kind\":\"delegation\"");
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "\"cid\":\"zdpu");
    char a_ucan[4096], b_ucan[4096], inv[4096], bad[4096], rev[4096];
    snprintf(a_ucan, sizeof a_ucan, "%s/a.ucan", c.dir);
    snprintf(b_ucan, sizeof b_ucan, "%s/b.ucan", c.dir);
    snprintf(inv, sizeof inv, "%s/inv.ucan", c.dir);
    snprintf(bad, sizeof bad, "%s/bad.ucan", c.dir);
    snprintf(rev, sizeof rev, "%s/rev.ucan", c.dir);
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"id", "--json", NULL}), 0);
    const char *d = strstr((char *)c.out.data, "did:key:");
    IPVM_ASSERT(d != NULL);
    snprintf(node, sizeof node, "%.56s", d);
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "delegate", "--from", "node", "--to", alice,
                                            "--cmd", "/wasm/run", "--pol",
                                            "[[\"like\", \".rsc\", \"ipfs://*\"]]", "--exp", "30d",
                                            "--out", a_ucan, NULL}),
                   0);
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "delegate", "--from", "alice", "--to", bob,
                                            "--sub", node, "--cmd", "/wasm/run", "--out", b_ucan,
                                            NULL}),
                   0);
    /* proofs given out of order are put root first */
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "invoke", "--from", "bob", "--sub", node,
                                            "--cmd", "/wasm/run", "--args",
                                            "{\"rsc\": \"ipfs://bafy\"}", "--prf", b_ucan, "--prf",
                                            a_ucan, "--bundle", "--out", inv, NULL}),
                   0);
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "verify", inv, "--node", NULL}), 0);
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "valid: invocation");
    /* another executor refuses it */
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "verify", inv, "--executor", alice, NULL}), 1);
    IPVM_ASSERT_STRCONTAINS((char *)c.err.data, "not to this node");
    /* a policy refusal names the link and the statement */
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "invoke", "--from", "bob", "--sub", node,
                                            "--cmd", "/wasm/run", "--args",
                                            "{\"rsc\": \"https://evil\"}", "--prf", a_ucan, "--prf",
                                            b_ucan, "--bundle", "--out", bad, NULL}),
                   0);
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "verify", bad, "--node", "--json", NULL}), 1);
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "\"valid\":false");
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "\"link\":0");
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "like");
    /* expired at --now */
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "verify", inv, "--now", "99999999999", NULL}), 1);
    IPVM_ASSERT_STRCONTAINS((char *)c.err.data, "expired");
    /* inspect */
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "inspect", a_ucan, NULL}), 0);
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "UCAN delegation (ucan/dlg@1.0.0-rc.1)");
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "signature  Ed25519 over DAG-CBOR: valid");
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "inspect", "--json", inv, NULL}), 0);
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "\"kind\":\"invocation\"");
    /* the node revokes alice -> bob: after 'ucan add', verification with --store refuses it */
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "revoke", "--from", "node", "--sub", node,
                                            b_ucan, "--out", rev, NULL}),
                   0);
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "add", rev, a_ucan, NULL}), 0);
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "1 revocations");
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "verify", inv, "--node", "--store", NULL}), 1);
    IPVM_ASSERT_STRCONTAINS((char *)c.err.data, "revoked by");
    IPVM_ASSERT_STRCONTAINS((char *)c.err.data, "proof 2 of 2");
    /* usage errors */
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "delegate", "--from", "node", NULL}), 2);
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "frobnicate", NULL}), 2);
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "delegate", "--from", "nobody", "--to", bob,
                                            "--cmd", "/", NULL}),
                   1);
    IPVM_ASSERT_STRCONTAINS((char *)c.err.data, "ipvm key new nobody");
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "--help", NULL}), 0);
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "Usage: ipvm ucan delegate");
    snprintf(path, sizeof path, "%s/garbage", c.dir);
    IPVM_ASSERT_OK(ipvm_file_write_atomic(path, "hello world", 11, NULL));
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "inspect", path, NULL}), 1);
    IPVM_ASSERT_STRCONTAINS((char *)c.err.data, "neither a base64 UCAN envelope nor a JWT");
    ipvm_buf_dispose(&c.out);
    ipvm_buf_dispose(&c.err);
}
