/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm cid` and `ipvm dag convert`, run as a user runs them: output, --json, exit statuses,
 * and errors that say where and what. */
#include "test.h"

static int run(const char *const *argv, const char *in, ipvm_buf_t *out, ipvm_buf_t *err)
{
    ipvm_buf_clear(out);
    ipvm_buf_clear(err);
    return ipvm_test_run(argv, NULL, in, 20000, out, err);
}

IPVM_TEST(ipld, cli_cid)
{
    ipvm_buf_t out = IPVM_BUF_INIT, err = IPVM_BUF_INIT;
    const char *ipvm = ipvm_test_bin("ipvm");
    const char *wf = ipvm_test_vector("homestar/workflows/test-workflow-add-one.json");
    const char *a1[] = {ipvm, "cid", wf, NULL};
    IPVM_ASSERT_EQ(run(a1, NULL, &out, &err), 0);
    IPVM_ASSERT_STREQ((const char *)out.data,
                      "bafyrmialnbzgwscjrq7sa3kdnw2roqdrdzp7xh2tvmo37qmgvarwrhcgre\n");
    /* from stdin, with key order and spacing that do not matter */
    const char *a2[] = {ipvm, "--json", "cid", "--hash", "sha2-256", "-", NULL};
    IPVM_ASSERT_EQ(run(a2, "{ \"b\" : [1, 2.5],\n \"a\": null }", &out, &err), 0);
    IPVM_ASSERT_STRCONTAINS((const char *)out.data, "\"hash\":\"sha2-256\"");
    IPVM_ASSERT_STRCONTAINS((const char *)out.data, "\"cid\":\"bafyrei");
    ipvm_buf_t again = IPVM_BUF_INIT;
    ipvm_buf_t e2 = IPVM_BUF_INIT;
    IPVM_ASSERT_EQ(ipvm_test_run(a2, NULL, "{\"a\":null,\"b\":[1,2.5]}", 20000, &again, &e2), 0);
    IPVM_ASSERT_STREQ((const char *)out.data, (const char *)again.data);
    /* bad input: exit 1, file:line:column and the reason */
    const char *a3[] = {ipvm, "cid", "-", NULL};
    IPVM_ASSERT_EQ(run(a3, "{\n  \"a\": 1,\n  \"a\": 2\n}", &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS((const char *)err.data, "<stdin>:3:3");
    IPVM_ASSERT_STRCONTAINS((const char *)err.data, "duplicate map key");
    /* binary given as JSON: the message says which option fixes it */
    IPVM_ASSERT_EQ(run(a3, "\xa1\x61\x61\x01", &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS((const char *)err.data, "--from dag-cbor");
    /* usage errors: exit 2 and a pointer to --help */
    const char *a4[] = {ipvm, "cid", "--hash", "md5", "x", NULL};
    IPVM_ASSERT_EQ(run(a4, NULL, &out, &err), 2);
    IPVM_ASSERT_STRCONTAINS((const char *)err.data, "unknown hash 'md5'");
    const char *a5[] = {ipvm, "cid", NULL};
    IPVM_ASSERT_EQ(run(a5, NULL, &out, &err), 2);
    IPVM_ASSERT_STRCONTAINS((const char *)err.data, "ipvm cid --help");
    const char *a6[] = {ipvm, "cid", "/nonexistent/x.json", NULL};
    IPVM_ASSERT_EQ(run(a6, NULL, &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS((const char *)err.data, "/nonexistent/x.json");
    const char *a7[] = {ipvm, "cid", "--help", NULL};
    IPVM_ASSERT_EQ(run(a7, NULL, &out, &err), 0);
    IPVM_ASSERT_STRCONTAINS((const char *)out.data, "Usage: ipvm cid");
    ipvm_buf_dispose(&again);
    ipvm_buf_dispose(&e2);
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
}

IPVM_TEST(ipld, cli_dag_convert)
{
    ipvm_buf_t out = IPVM_BUF_INIT, err = IPVM_BUF_INIT;
    const char *ipvm = ipvm_test_bin("ipvm");
    const char *wf = ipvm_test_vector("homestar/workflows/test-workflow-image-pipeline.json");
    char cbor[4200];
    snprintf(cbor, sizeof cbor, "%s/wf.cbor", ipvm_test_tmpdir());
    const char *a1[] = {ipvm, "dag", "convert", "--from", "dag-json", "--to", "dag-cbor",
                        "--output", cbor, wf, NULL};
    IPVM_ASSERT_EQ(run(a1, NULL, &out, &err), 0);
    /* the CID of the binary file is the workflow CID */
    const char *a2[] = {ipvm, "cid", "--from", "dag-cbor", cbor, NULL};
    IPVM_ASSERT_EQ(run(a2, NULL, &out, &err), 0);
    IPVM_ASSERT_STREQ((const char *)out.data,
                      "bafyrmiatb7idqtty56hy3hrfa6ur6qkspyrhaf6n6ynmqsntjvym47mbrq\n");
    /* and back to JSON: what the library's encoder writes */
    const char *a3[] = {ipvm, "dag", "convert", "--from=dag-cbor", "--to=dag-json", cbor, NULL};
    IPVM_ASSERT_EQ(run(a3, NULL, &out, &err), 0);
    ipvm_buf_t f = IPVM_BUF_INIT, want = IPVM_BUF_INIT;
    ipvm_test_read_file(wf, &f);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    IPVM_ASSERT_OK(ipvm_dagjson_decode((const char *)f.data, f.len, &a, &v, NULL));
    IPVM_ASSERT_OK(ipvm_dagjson_encode(v, 0, &want, NULL));
    IPVM_ASSERT_STREQ((const char *)out.data, (const char *)want.data);
    /* errors */
    const char *a4[] = {ipvm, "dag", "convert", "--from", "dag-cbor", "--to", "dag-json", "-",
                        NULL};
    IPVM_ASSERT_EQ(run(a4, "\xa2\x61\x62\x01\x61\x61\x02", &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS((const char *)err.data, "byte 4");
    IPVM_ASSERT_STRCONTAINS((const char *)err.data, "out of order");
    const char *a5[] = {ipvm, "dag", "convert", "--to", "dag-json", "-", NULL};
    IPVM_ASSERT_EQ(run(a5, "1", &out, &err), 2);
    IPVM_ASSERT_STRCONTAINS((const char *)err.data, "--from and --to");
    const char *a6[] = {ipvm, "dag", "frobnicate", NULL};
    IPVM_ASSERT_EQ(run(a6, NULL, &out, &err), 2);
    const char *a7[] = {ipvm, "--json", "dag", "convert", "--from", "dag-json", "--to",
                        "dag-json", "-", NULL};
    IPVM_ASSERT_EQ(run(a7, "[1,", &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS((const char *)out.data, "{\"error\":{\"code\":\"IPVM_EJSON\"");
    IPVM_ASSERT_EQ(run(a7, " [1, 2.50, {\"b\":1, \"a\":2}] ", &out, &err), 0);
    IPVM_ASSERT_STREQ((const char *)out.data, "[1,2.5,{\"a\":2,\"b\":1}]");
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&f);
    ipvm_buf_dispose(&want);
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
}
