/* SPDX-License-Identifier: Apache-2.0 */
/* The storage commands end to end (the built `ipvm` program): add, cat, receipts, receipt. The
 * receipt shown must hash back to Homestar's gold receipt CID. */
#include "fs_fixture.h"
#include "store/store_int.h"
#include "store_fixture.h"

static int ipvm(const char *dir, const char *in, ipvm_buf_t *out, ipvm_buf_t *errout,
                const char *a1, const char *a2, const char *a3, const char *a4)
{
    const char *argv[10] = {ipvm_test_bin("ipvm"), "--data-dir", dir, a1, a2, a3, a4, NULL};
    ipvm_buf_clear(out);
    ipvm_buf_clear(errout);
    int st = ipvm_test_run(argv, NULL, in, 30000, out, errout);
    if (out->len == 0)
        IPVM_ASSERT_OK(ipvm_buf_reserve(out, 1));
    if (errout->len == 0)
        IPVM_ASSERT_OK(ipvm_buf_reserve(errout, 1));
    return st;
}

#define OUT ((const char *)out.data)
#define ERR ((const char *)err.data)

IPVM_TEST(store, cli_add_cat)
{
    const char *dir = ipvm_test_tmpdir();
    ipvm_buf_t out = IPVM_BUF_INIT, err = IPVM_BUF_INIT, png = IPVM_BUF_INIT;
    const char *file = ipvm_test_vector("homestar/data/synthcat.png");
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "add", file, NULL, NULL), 0);
    IPVM_ASSERT_STREQ(OUT, "bafybeiejevluvtoevgk66plh5t6xiy3ikyuuxg3vgofuvpeckb6eadresm\n");
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "--json", "add", file, NULL), 0);
    IPVM_ASSERT_STRCONTAINS(OUT, "{\"cid\":\"bafybeiejevluvtoevgk66plh5t6xiy3ikyuuxg3vgofuvpeckb6"
                                 "eadresm\",\"path\":");
    IPVM_ASSERT_STRCONTAINS(OUT, "\"size\":1856406}");
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "cat",
                        "ipfs://bafybeiejevluvtoevgk66plh5t6xiy3ikyuuxg3vgofuvpeckb6eadresm", NULL,
                        NULL),
                   0);
    ipvm_test_read_file(file, &png);
    IPVM_ASSERT_MEMEQ(out.data, out.len, png.data, png.len);
    /* stdin, and what `ipfs add --cid-version 1` prints for "hello\n" */
    IPVM_ASSERT_EQ(ipvm(dir, "hello\n", &out, &err, "add", "-", NULL, NULL), 0);
    IPVM_ASSERT_STREQ(OUT, "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am\n");
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "cat",
                        "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am", NULL, NULL),
                   0);
    IPVM_ASSERT_STREQ(OUT, "hello\n");
    /* errors say what to do */
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "add", "/nonexistent/file", NULL, NULL), 1);
    IPVM_ASSERT_STRCONTAINS(ERR, "/nonexistent/file");
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "cat",
                        "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyka", NULL, NULL),
                   1);
    IPVM_ASSERT_STRCONTAINS(ERR, "ipvm add FILE");
    IPVM_ASSERT_STRCONTAINS(ERR, "--ipfs-api");
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "cat", "not-a-cid", NULL, NULL), 1);
    IPVM_ASSERT_STRCONTAINS(ERR, "does not name a CID");
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "add", NULL, NULL, NULL), 2);
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "cat", "--help", NULL, NULL), 0);
    IPVM_ASSERT_STRCONTAINS(OUT, "--ipfs-api");
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
    ipvm_buf_dispose(&png);
}

/* Homestar's receipt for test-workflow-add-one.json task 0 (gold.json). */
static void put_gold_receipt(const char *dbpath)
{
    ipvm_store_t *s = fx_open(dbpath, 0);
    ipvm_receipt_row_t row;
    memset(&row, 0, sizeof row);
    IPVM_ASSERT_OK(ipvm_cid_parse(&row.cid,
                                  "bafyrmih5ujsrxcwwbeeqowgy434da36ie3cbar3wr5yv2vnrmzmxdylicm", 59,
                                  NULL));
    IPVM_ASSERT_OK(ipvm_cid_parse(&row.ran,
                                  "bafyrmia2frkwkus2sy7qjmok5lm7mnlbnoyfqa5mqm27op6qkgo7reryqa", 59,
                                  NULL));
    IPVM_ASSERT_OK(ipvm_cid_parse(&row.instruction,
                                  "bafyrmihmxmsbt4n3g6dzmj7rho34mzfbaoqqbsfcq7etsogslqftbyj7du", 59,
                                  NULL));
    row.out = (const uint8_t *)"\x82\x62ok\x02";
    row.out_len = 5;
    row.meta = (const uint8_t *)"\xa1\x62op\x67" "add_one";
    row.meta_len = 12;
    row.prf = (const uint8_t *)"\x80";
    row.prf_len = 1;
    row.fuel = 4242;
    row.time_ns = 1500000;
    ipvm_error_t e;
    ipvm_error_clear(&e);
    IPVM_ASSERT_OK_ERR(ipvm_store_put_receipt(s, &row, NULL, &e), &e);
    fx_receipt_t bad;
    fx_receipt(&bad, 7, false);
    IPVM_ASSERT_OK_ERR(ipvm_store_put_receipt(s, &bad.row, NULL, &e), &e);
    ipvm_store_close(s);
}

IPVM_TEST(store, cli_receipts)
{
    const char *dir = ipvm_test_tmpdir();
    ipvm_buf_t out = IPVM_BUF_INIT, err = IPVM_BUF_INIT;
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "receipts", NULL, NULL, NULL), 0);
    IPVM_ASSERT_STRCONTAINS(ERR, "no receipts");
    IPVM_ASSERT_STRCONTAINS(ERR, "ipvm run");
    const char *gold = "bafyrmih5ujsrxcwwbeeqowgy434da36ie3cbar3wr5yv2vnrmzmxdylicm";
    put_gold_receipt(fx_db_path("ipvm.db"));
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "receipts", NULL, NULL, NULL), 0);
    IPVM_ASSERT_STRCONTAINS(OUT, "RECEIPT");
    IPVM_ASSERT_STRCONTAINS(OUT, gold);
    IPVM_ASSERT_STRCONTAINS(OUT, "add_one");
    IPVM_ASSERT_STRCONTAINS(OUT, "error");
    IPVM_ASSERT_STRCONTAINS(OUT, "4242");
    IPVM_ASSERT_STRCONTAINS(OUT, "1.5 ms");
    IPVM_ASSERT_STRCONTAINS(ERR, "2 receipts, 1 failed");
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "--json", "receipts", NULL, NULL), 0);
    IPVM_ASSERT_STRCONTAINS(OUT, "\"function\":\"add_one\",\"status\":\"ok\",\"out\":[\"ok\",2],"
                                 "\"fuel\":4242,\"time_ns\":1500000");
    IPVM_ASSERT_STRCONTAINS(OUT, "\"status\":\"error\",\"out\":[\"error\",7]");
    /* the whole receipt, hashed again: Homestar's CID */
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "receipt", gold, NULL, NULL), 0);
    IPVM_ASSERT_STRCONTAINS(OUT, "\"ran\": {");
    IPVM_ASSERT_STRCONTAINS(OUT, "bafyrmia2frkwkus2sy7qjmok5lm7mnlbnoyfqa5mqm27op6qkgo7reryqa");
    IPVM_ASSERT_STRCONTAINS(OUT, "fuel         4242");
    IPVM_ASSERT(strstr(OUT, "DO NOT HASH") == NULL);
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "--json", "receipt", gold, NULL), 0);
    IPVM_ASSERT_STRCONTAINS(OUT, "\"receipt\":{\"iss\":null,\"meta\":{\"op\":\"add_one\"},"
                                 "\"out\":[\"ok\",2],\"prf\":[],\"ran\":{\"/\":\"bafyrmia2frkwkus2sy"
                                 "7qjmok5lm7mnlbnoyfqa5mqm27op6qkgo7reryqa\"}}");
    IPVM_ASSERT_STRCONTAINS(OUT, "\"cid_matches\":true}");
    /* by instruction CID */
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "receipt",
                        "bafyrmihmxmsbt4n3g6dzmj7rho34mzfbaoqqbsfcq7etsogslqftbyj7du", NULL, NULL),
                   0);
    IPVM_ASSERT_STRCONTAINS(OUT, "looked up by instruction");
    /* a stored receipt whose bytes were changed is flagged */
    fx_receipt_t bad;
    fx_receipt(&bad, 7, false);
    char c[IPVM_CID_MAX_STR];
    ipvm_store_t *s = fx_open(fx_db_path("ipvm.db"), 0);
    IPVM_ASSERT_EQ(sqlite3_exec(ipvm__store_db(s), "UPDATE receipts SET out = x'8262" "6f6b03' "
                                                   "WHERE cid = 'bafyrmih5ujsrxcwwbeeqowgy434da36ie3"
                                                   "cbar3wr5yv2vnrmzmxdylicm'",
                                NULL, NULL, NULL),
                   SQLITE_OK);
    ipvm_store_close(s);
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "receipt", gold, NULL, NULL), 1);
    IPVM_ASSERT_STRCONTAINS(OUT, "DO NOT HASH");
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "receipt", ipvm_cid_str(&bad.row.ran, c), NULL,
                        NULL),
                   1);
    IPVM_ASSERT_STRCONTAINS(ERR, "'ipvm receipts' lists them");
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "receipts", "--workflow", gold, NULL), 1);
    IPVM_ASSERT_STRCONTAINS(ERR, "no workflow");
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "receipt", "xyz", NULL, NULL), 1);
    IPVM_ASSERT_STRCONTAINS(ERR, "is not a CID");
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
}

IPVM_TEST(store, cli_readonly_data_dir)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/data", ipvm_test_tmpdir());
    ipvm_error_t e;
    IPVM_ASSERT_OK(ipvm_mkdirs(dir, 0755, &e));
    char db[4300];
    snprintf(db, sizeof db, "%s/ipvm.db", dir);
    put_gold_receipt(db);
    IPVM_ASSERT(chmod(db, 0644) == 0);
    fx_readonly_dir(dir);
    ipvm_buf_t out = IPVM_BUF_INIT, err = IPVM_BUF_INIT;
    IPVM_ASSERT_EQ(ipvm(dir, NULL, &out, &err, "receipts", NULL, NULL, NULL), 0);
    IPVM_ASSERT_STRCONTAINS(OUT, "bafyrmih5ujsrxcwwbeeqowgy434da36ie3cbar3wr5yv2vnrmzmxdylicm");
    IPVM_ASSERT_EQ(ipvm(dir, "x", &out, &err, "add", "-", NULL, NULL), 1);
    IPVM_ASSERT_STRCONTAINS(ERR, "--data-dir");
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
}
