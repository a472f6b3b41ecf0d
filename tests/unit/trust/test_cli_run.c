/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm run --ucan/--key/--sign` and `ipvm receipt --verify` through the program, with
 * Homestar's add-one workflow and its real Wasm module. */
#define _GNU_SOURCE
#include "test.h"

#include <stdlib.h>

typedef struct {
    const char *dir;
    ipvm_buf_t out, err;
} cli_t;

static int run(cli_t *c, const char *const *args)
{
    return ipvm_test_ipvm(c->dir, args, 120000, &c->out, &c->err);
}

/* The CID of the first receipt `ipvm receipts --json` lists. */
static void first_receipt(cli_t *c, char *cid, size_t n)
{
    IPVM_ASSERT_EQ(run(c, (const char *[]){"receipts", "--json", NULL}), 0);
    const char *p = strstr((char *)c->out.data, "\"cid\":\"");
    IPVM_ASSERT(p != NULL);
    p += 7;
    snprintf(cid, n, "%.*s", (int)strcspn(p, "\""), p);
}

IPVM_TEST(trust, cli_run_ucan_and_receipt_verify)
{
    cli_t c = {ipvm_test_tmpdir(), IPVM_BUF_INIT, IPVM_BUF_INIT};
    const char *wasm = ipvm_test_vector("homestar/wasm/example_test.wasm");
    char wf[4096], alice[128], good[4200], bad[4200], cid[IPVM_CID_MAX_STR];
    snprintf(wf, sizeof wf, "%s", ipvm_test_vector("homestar/workflows/test-workflow-add-one.json"));
    snprintf(good, sizeof good, "%s/good.ucan", c.dir);
    snprintf(bad, sizeof bad, "%s/bad.ucan", c.dir);
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"add", wasm, NULL}), 0);
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"key", "new", "alice", NULL}), 0);
    snprintf(alice, sizeof alice, "%.*s", (int)strcspn((char *)c.out.data, "\n"), (char *)c.out.data);
    /* a delegation for https modules only: both tasks refused, with the reason */
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "delegate", "--from", "node", "--to", alice,
                                            "--cmd", "/wasm/run", "--pol",
                                            "[[\"like\", \".rsc\", \"https://*\"]]", "--out", bad,
                                            NULL}),
                   0);
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"run", wf, "--tier", "tcc", "--ucan", bad, "--key", "alice", "--json",
                                            NULL}),
                   1);
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "missing capability /wasm/run");
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "fail its policy");
    /* refused tasks count as failed, never as executed */
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "\"executed\":0,\"failed\":2");
    /* the table a person reads gives the whole refusal too, under the cut-short column */
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"run", wf, "--tier", "tcc", "--ucan", bad, "--key",
                                            "alice", NULL}),
                   1);
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "task 1: EDENIED: task 1 (add_one): missing "
                                                "capability /wasm/run on ipfs://");
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "2 tasks, 0 executed, 0 replayed, 2 failed");
    /* the right delegation: runs, and the receipts are signed by the node */
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"ucan", "delegate", "--from", "node", "--to", alice,
                                            "--cmd", "/wasm/run", "--pol",
                                            "[[\"like\", \".rsc\", \"ipfs://*\"]]", "--out", good,
                                            NULL}),
                   0);
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"run", wf, "--tier", "tcc", "--ucan", good, "--key", "alice", NULL}), 0);
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "2 executed");
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"id", "--json", NULL}), 0);
    char node[128];
    const char *d = strstr((char *)c.out.data, "did:key:");
    IPVM_ASSERT(d != NULL);
    snprintf(node, sizeof node, "%.56s", d);
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"receipts", "--json", NULL}), 0);
    /* the ok receipts of this run are the signed ones (the refused run left error receipts) */
    cid[0] = '\0';
    for (const char *line = (char *)c.out.data; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char *l = strndup(line, len);
        const char *q = strstr(l, "\"cid\":\"");
        if (q && strstr(l, "\"signed\":true") && strstr(l, "\"status\":\"ok\"") && !cid[0])
            snprintf(cid, sizeof cid, "%.*s", (int)strcspn(q + 7, "\""), q + 7);
        free(l);
        line = nl ? nl + 1 : NULL;
    }
    IPVM_ASSERT(cid[0] != '\0');
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"receipt", cid, "--verify", NULL}), 0);
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "verified     signed by did:key:z6Mk");
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, node);
    IPVM_ASSERT_EQ(run(&c, (const char *[]){"receipt", cid, "--verify", "--json", NULL}), 0);
    IPVM_ASSERT_STRCONTAINS((char *)c.out.data, "\"verify\":{\"verdict\":\"signed\"");

    /* a plain run in another data dir: Homestar's unsigned receipts, reported unverified */
    cli_t h = {NULL, IPVM_BUF_INIT, IPVM_BUF_INIT};
    char hdir[4200];
    snprintf(hdir, sizeof hdir, "%s/plain", c.dir);
    h.dir = hdir;
    IPVM_ASSERT_EQ(run(&h, (const char *[]){"add", wasm, NULL}), 0);
    IPVM_ASSERT_EQ(run(&h, (const char *[]){"run", wf, "--tier", "tcc", NULL}), 0);
    first_receipt(&h, cid, sizeof cid);
    IPVM_ASSERT_EQ(run(&h, (const char *[]){"receipt", cid, "--verify", NULL}), 0);
    IPVM_ASSERT_STRCONTAINS((char *)h.out.data, "verified     no: unsigned");
    ipvm_buf_dispose(&c.out);
    ipvm_buf_dispose(&c.err);
    ipvm_buf_dispose(&h.out);
    ipvm_buf_dispose(&h.err);
}
