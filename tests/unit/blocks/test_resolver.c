/* SPDX-License-Identifier: Apache-2.0 */
/* The resolver against a fake Kubo API and gateway on 127.0.0.1: fetching block by block with
 * every block verified and kept, refusing wrong bytes, giving up on a silent server in time,
 * and saying how to add what is missing. */
#include "blocks/blocks_int.h"
#include "fake_kubo.h"

static ipvm_blockstore_t *open_named(const char *name)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", ipvm_test_tmpdir(), name);
    ipvm_blockstore_t *bs = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_blockstore_open(dir, &bs, &err), &err);
    return bs;
}

static ipvm_resolver_t *resolver(ipvm_blockstore_t *bs, const char *api, const char *gw,
                                 int timeout_ms)
{
    ipvm_resolver_opts_t o = {api, gw, timeout_ms};
    ipvm_resolver_t *r = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_resolver_new(bs, &o, &r, &err), &err);
    return r;
}

/* The synthcat fixture in a "remote" blockstore; its root CID. */
static ipvm_cid_t remote_png(ipvm_blockstore_t *remote, ipvm_buf_t *png)
{
    ipvm_test_read_file(ipvm_test_vector("homestar/data/synthcat.png"), png);
    ipvm_cid_t root;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_unixfs_add(remote, png->data, png->len, &root, &err), &err);
    return root;
}

IPVM_TEST(blocks, resolver_url_forms)
{
    ipvm_blockstore_t *bs = open_named("blocks");
    ipvm_resolver_t *r = resolver(bs, NULL, NULL, 0);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_cid_t c;
    IPVM_ASSERT_OK(ipvm_unixfs_add(bs, (const uint8_t *)"hi\n", 3, &c, &err));
    char s[IPVM_CID_MAX_STR], url[512];
    ipvm_cid_str(&c, s);
    const char *forms[] = {"ipfs://%s", "ipfs://%s/", "https://ipfs.io/ipfs/%s",
                           "http://127.0.0.1:8080/ipfs/%s?filename=x", "https://%s.ipfs.dweb.link/",
                           "%s"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        snprintf(url, sizeof url, forms[i], s);
        ipvm_buf_t b = IPVM_BUF_INIT;
        IPVM_ASSERT_OK_ERR(ipvm_resolver_fetch(r, url, &b, &err), &err);
        IPVM_ASSERT_MEMEQ(b.data, b.len, "hi\n", 3);
        ipvm_buf_dispose(&b);
    }
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_ERR(ipvm_resolver_fetch(r, "https://example.com/add_one.wasm", &b, &err),
                    IPVM_EUNSUPPORTED);
    IPVM_ASSERT_STRCONTAINS(err.msg, "ipfs://CID");
    snprintf(url, sizeof url, "ipfs://%s/sub/file", s);
    IPVM_ASSERT_ERR(ipvm_resolver_fetch(r, url, &b, &err), IPVM_EUNSUPPORTED);
    IPVM_ASSERT_ERR(ipvm_resolver_fetch(r, "ipfs://notacid", &b, &err), IPVM_EINVAL);
    IPVM_ASSERT_ERR(ipvm_resolver_fetch(r, "", &b, &err), IPVM_EINVAL);
    ipvm_resolver_opts_t o = {NULL, "ftp://gw", 0};
    ipvm_resolver_t *bad = NULL;
    IPVM_ASSERT_ERR(ipvm_resolver_new(bs, &o, &bad, &err), IPVM_EINVAL);
    ipvm_buf_dispose(&b);
    ipvm_resolver_free(r);
    ipvm_blockstore_close(bs);
}

IPVM_TEST(blocks, resolver_missing_says_how)
{
    ipvm_blockstore_t *bs = open_named("blocks");
    ipvm_resolver_t *r = resolver(bs, NULL, NULL, 0);
    ipvm_cid_t c;
    IPVM_ASSERT_OK(ipvm_cid_create(&c, 1, IPVM_CODEC_RAW, IPVM_MH_SHA2_256,
                                   (const uint8_t *)"absent", 6));
    char s[IPVM_CID_MAX_STR];
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_resolver_fetch_cid(r, &c, &b, &err), IPVM_ENORESOURCE);
    IPVM_ASSERT_STRCONTAINS(err.msg, ipvm_cid_str(&c, s));
    IPVM_ASSERT_STRCONTAINS(err.msg, "ipvm add FILE");
    IPVM_ASSERT_STRCONTAINS(err.msg, "--ipfs-api HOST:PORT");
    IPVM_ASSERT_EQ(b.len, 0);
    /* a Kubo API nobody listens on: the reason is in the message too */
    fake_kubo_t *fk = fk_start(FK_OK, bs);
    char addr[64];
    snprintf(addr, sizeof addr, "%s", fk_addr(fk));
    fk_stop(fk); /* now the port refuses connections */
    ipvm_resolver_t *r2 = resolver(bs, addr, NULL, 2000);
    IPVM_ASSERT_ERR(ipvm_resolver_fetch_cid(r2, &c, &b, &err), IPVM_ENORESOURCE);
    IPVM_ASSERT_STRCONTAINS(err.msg, addr);
    IPVM_ASSERT_STRCONTAINS(err.msg, "ipvm add FILE");
    ipvm_resolver_free(r2);
    ipvm_resolver_free(r);
    ipvm_blockstore_close(bs);
}

IPVM_TEST(blocks, resolver_kubo_fetch_and_keep)
{
    ipvm_blockstore_t *remote = open_named("remote"), *local = open_named("local");
    ipvm_buf_t png = IPVM_BUF_INIT, b = IPVM_BUF_INIT;
    ipvm_cid_t root = remote_png(remote, &png);
    fake_kubo_t *fk = fk_start(FK_OK, remote);
    ipvm_resolver_t *r = resolver(local, fk_addr(fk), NULL, 5000);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    char url[256], s[IPVM_CID_MAX_STR];
    snprintf(url, sizeof url, "ipfs://%s", ipvm_cid_str(&root, s));
    IPVM_ASSERT_OK_ERR(ipvm_resolver_fetch(r, url, &b, &err), &err);
    IPVM_ASSERT_MEMEQ(b.data, b.len, png.data, png.len);
    int n = fk_requests(fk);
    IPVM_ASSERT_EQ(n, 9); /* the root and its 8 leaves, each once */
    IPVM_ASSERT_EQ(fk_bad_methods(fk), 0);
    /* kept: the second time nothing is asked, and the blockstore alone can cat it */
    ipvm_buf_clear(&b);
    IPVM_ASSERT_OK_ERR(ipvm_resolver_fetch(r, url, &b, &err), &err);
    IPVM_ASSERT_EQ(fk_requests(fk), n);
    ipvm_buf_clear(&b);
    IPVM_ASSERT_OK_ERR(ipvm_unixfs_cat(local, &root, &b, &err), &err);
    IPVM_ASSERT_MEMEQ(b.data, b.len, png.data, png.len);
    fk_stop(fk);
    ipvm_resolver_free(r);
    ipvm_buf_dispose(&png);
    ipvm_buf_dispose(&b);
    ipvm_blockstore_close(remote);
    ipvm_blockstore_close(local);
}

IPVM_TEST(blocks, resolver_kubo_wrong_bytes)
{
    ipvm_blockstore_t *remote = open_named("remote"), *local = open_named("local");
    ipvm_buf_t png = IPVM_BUF_INIT, b = IPVM_BUF_INIT;
    ipvm_cid_t root = remote_png(remote, &png);
    fake_kubo_t *fk = fk_start(FK_WRONG, remote);
    ipvm_resolver_t *r = resolver(local, fk_addr(fk), NULL, 5000);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_resolver_fetch_cid(r, &root, &b, &err), IPVM_EHASHMISMATCH);
    IPVM_ASSERT_STRCONTAINS(err.msg, "do not hash to the CID");
    IPVM_ASSERT_STRCONTAINS(err.msg, fk_addr(fk));
    IPVM_ASSERT_EQ(b.len, 0);
    IPVM_ASSERT(!ipvm_blockstore_has(local, &root)); /* nothing of it was kept */
    fk_stop(fk);
    ipvm_resolver_free(r);
    ipvm_buf_dispose(&png);
    ipvm_blockstore_close(remote);
    ipvm_blockstore_close(local);
}

IPVM_TEST(blocks, resolver_kubo_timeout)
{
    ipvm_blockstore_t *remote = open_named("remote"), *local = open_named("local");
    ipvm_buf_t png = IPVM_BUF_INIT, b = IPVM_BUF_INIT;
    ipvm_cid_t root = remote_png(remote, &png);
    fake_kubo_t *fk = fk_start(FK_SILENT, remote);
    ipvm_resolver_t *r = resolver(local, fk_addr(fk), NULL, 300);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    uint64_t t0 = ipvm_now_ns();
    IPVM_ASSERT_ERR(ipvm_resolver_fetch_cid(r, &root, &b, &err), IPVM_ETIMEDOUT);
    double ms = (double)(ipvm_now_ns() - t0) / 1e6;
    IPVM_ASSERT_LT(250, ms);
    IPVM_ASSERT_LT(ms, 3000 * ipvm_test_timeout_multiplier());
    IPVM_ASSERT_STRCONTAINS(err.msg, "no answer within 300 ms");
    IPVM_ASSERT_EQ(fk_requests(fk), 1);
    fk_stop(fk);
    ipvm_resolver_free(r);
    ipvm_buf_dispose(&png);
    ipvm_blockstore_close(remote);
    ipvm_blockstore_close(local);
}

/* Kubo does not have it; the gateway does (and is asked with ?format=raw). */
IPVM_TEST(blocks, resolver_gateway_fallback)
{
    ipvm_blockstore_t *remote = open_named("remote"), *local = open_named("local");
    ipvm_buf_t png = IPVM_BUF_INIT, b = IPVM_BUF_INIT;
    ipvm_cid_t root = remote_png(remote, &png);
    fake_kubo_t *kubo = fk_start(FK_MISSING, remote), *gw = fk_start(FK_OK, remote);
    char gwurl[128];
    snprintf(gwurl, sizeof gwurl, "http://%s/", fk_addr(gw));
    ipvm_resolver_t *r = resolver(local, fk_addr(kubo), gwurl, 5000);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_resolver_fetch_cid(r, &root, &b, &err), &err);
    IPVM_ASSERT_MEMEQ(b.data, b.len, png.data, png.len);
    IPVM_ASSERT_EQ(fk_requests(kubo), 9);
    IPVM_ASSERT_EQ(fk_requests(gw), 9);
    /* and when neither has it, both reasons are given */
    fk_stop(gw);
    gw = fk_start(FK_MISSING, remote);
    snprintf(gwurl, sizeof gwurl, "http://%s", fk_addr(gw));
    ipvm_resolver_t *r2 = resolver(open_named("empty"), fk_addr(kubo), gwurl, 5000);
    ipvm_buf_clear(&b);
    IPVM_ASSERT_ERR(ipvm_resolver_fetch_cid(r2, &root, &b, &err), IPVM_ENORESOURCE);
    IPVM_ASSERT_STRCONTAINS(err.msg, "HTTP 500");
    IPVM_ASSERT_STRCONTAINS(err.msg, "HTTP 404");
    fk_stop(kubo);
    fk_stop(gw);
    ipvm_resolver_free(r);
    ipvm_resolver_free(r2);
    ipvm_buf_dispose(&png);
    ipvm_buf_dispose(&b);
    ipvm_blockstore_close(remote);
    ipvm_blockstore_close(local);
}
