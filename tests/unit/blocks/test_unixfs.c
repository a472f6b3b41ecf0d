/* SPDX-License-Identifier: Apache-2.0 */
/* UnixFS import and export: Homestar's fixtures must get the CIDs `ipfs add --cid-version 1`
 * gave them (tests/vectors/homestar/gold.json "unixfs_cids"). */
#include "test.h"

static ipvm_blockstore_t *open_bs(void)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/blocks", ipvm_test_tmpdir());
    ipvm_blockstore_t *bs = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_blockstore_open(dir, &bs, &err), &err);
    return bs;
}

static void check_gold(ipvm_blockstore_t *bs, const char *rel, const char *want)
{
    ipvm_buf_t file = IPVM_BUF_INIT, back = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector(rel), &file);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_cid_t root;
    IPVM_ASSERT_OK_ERR(ipvm_unixfs_add(bs, file.data, file.len, &root, &err), &err);
    char s[IPVM_CID_MAX_STR];
    IPVM_ASSERT_STREQ(ipvm_cid_str(&root, s), want);
    /* the same from the file, streaming */
    ipvm_cid_t root2;
    IPVM_ASSERT_OK_ERR(ipvm_unixfs_add_path(bs, ipvm_test_vector(rel), &root2, &err), &err);
    IPVM_ASSERT(ipvm_cid_equal(&root, &root2));
    IPVM_ASSERT_OK_ERR(ipvm_unixfs_cat(bs, &root, &back, &err), &err);
    IPVM_ASSERT_MEMEQ(back.data, back.len, file.data, file.len);
    ipvm_buf_dispose(&file);
    ipvm_buf_dispose(&back);
}

IPVM_TEST(blocks, unixfs_gold_cids)
{
    ipvm_blockstore_t *bs = open_bs();
    /* The CIDs as gold.json records them (the file is read by the sched tests too). */
    ipvm_buf_t gold = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector("homestar/gold.json"), &gold);
    const char *wasm = "bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq";
    const char *png = "bafybeiejevluvtoevgk66plh5t6xiy3ikyuuxg3vgofuvpeckb6eadresm";
    IPVM_ASSERT_STRCONTAINS((const char *)gold.data, wasm);
    IPVM_ASSERT_STRCONTAINS((const char *)gold.data, png);
    check_gold(bs, "homestar/wasm/example_test.wasm", wasm);
    check_gold(bs, "homestar/data/synthcat.png", png);
    ipvm_buf_dispose(&gold);
    ipvm_blockstore_close(bs);
}
