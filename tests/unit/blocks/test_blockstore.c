/* SPDX-License-Identifier: Apache-2.0 */
/* The blockstore and UnixFS trees of many shapes: chunk boundaries, more than one level,
 * damaged blocks, a full disk, and what cat says about what it cannot show. */
#include "../store/fs_fixture.h"
#include "blocks/blocks_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>

static ipvm_blockstore_t *open_at(const char *dir)
{
    ipvm_blockstore_t *bs = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_blockstore_open(dir, &bs, &err), &err);
    return bs;
}

static const char *bs_dir(void)
{
    static char dir[4200];
    snprintf(dir, sizeof dir, "%s/blocks", ipvm_test_tmpdir());
    return dir;
}

/* Deterministic bytes (xorshift), so failures reproduce. */
static uint8_t *pattern(size_t n, uint64_t seed)
{
    uint8_t *p = malloc(n ? n : 1);
    IPVM_ASSERT(p);
    uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
    return p;
}

static size_t count_blocks(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4400];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        DIR *s = opendir(sub);
        struct dirent *f;
        while (s && (f = readdir(s)) != NULL)
            n += f->d_name[0] != '.';
        if (s)
            closedir(s);
    }
    closedir(d);
    return n;
}

typedef struct {
    size_t nodes, leaves, max_links;
} shape_t;

/* Counts the dag-pb nodes and raw leaves under root, checking each node's Tsize sums. */
static uint64_t shape_of(ipvm_blockstore_t *bs, const ipvm_cid_t *cid, shape_t *sh)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_blockstore_get(bs, cid, &b, &err), &err);
    uint64_t tsize = b.len;
    if (cid->codec == IPVM_CODEC_RAW) {
        sh->leaves++;
    } else {
        IPVM_ASSERT_EQ(cid->codec, IPVM_CODEC_DAG_PB);
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_dagpb_node_t n;
        IPVM_ASSERT_OK_ERR(ipvm_dagpb_decode(b.data, b.len, &a, &n, &err), &err);
        sh->nodes++;
        if (n.nlinks > sh->max_links)
            sh->max_links = n.nlinks;
        for (size_t i = 0; i < n.nlinks; i++) {
            uint64_t t = shape_of(bs, &n.links[i].hash, sh);
            IPVM_ASSERT(n.links[i].has_tsize);
            IPVM_ASSERT_EQ_U64(n.links[i].tsize, t);
            IPVM_ASSERT(n.links[i].name && n.links[i].name_len == 0);
            tsize += t;
        }
        ipvm_arena_dispose(&a);
    }
    ipvm_buf_dispose(&b);
    return tsize;
}

IPVM_TEST(blocks, unixfs_shapes)
{
    const size_t C = IPVM_UNIXFS_CHUNK, L = IPVM_UNIXFS_LINKS;
    struct {
        size_t size;
        size_t nodes, leaves, max_links;
    } cases[] = {
        {0, 0, 1, 0},          {1, 0, 1, 0},           {C - 1, 0, 1, 0},
        {C, 0, 1, 0},          {C + 1, 1, 2, 2},       {3 * C + 5, 1, 4, 4},
        {L * C, 1, L, L},      {L * C + 1, 3, L + 1, L}, /* root over 2 level-1 nodes (174 + 1 leaves) */
    };
    ipvm_blockstore_t *bs = open_at(bs_dir());
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *p = pattern(cases[i].size, i);
        ipvm_error_t err;
        ipvm_error_clear(&err);
        ipvm_cid_t root;
        IPVM_ASSERT_OK_ERR(ipvm_unixfs_add(bs, p, cases[i].size, &root, &err), &err);
        IPVM_ASSERT_EQ(root.version, 1);
        IPVM_ASSERT_EQ(root.codec, cases[i].nodes ? IPVM_CODEC_DAG_PB : IPVM_CODEC_RAW);
        shape_t sh = {0, 0, 0};
        shape_of(bs, &root, &sh);
        IPVM_ASSERT_MSG(sh.nodes == cases[i].nodes, "size %zu: %zu nodes", cases[i].size,
                        sh.nodes);
        IPVM_ASSERT_EQ(sh.leaves, cases[i].leaves);
        IPVM_ASSERT_EQ(sh.max_links, cases[i].max_links);
        ipvm_buf_t back = IPVM_BUF_INIT;
        IPVM_ASSERT_OK_ERR(ipvm_unixfs_cat(bs, &root, &back, &err), &err);
        IPVM_ASSERT_MEMEQ(back.data, back.len, p, cases[i].size);
        if (cases[i].size == 0) {
            char s[IPVM_CID_MAX_STR];
            /* the empty raw block, as `ipfs add --cid-version 1` of an empty file prints */
            IPVM_ASSERT_STREQ(ipvm_cid_str(&root, s),
                              "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
        }
        ipvm_buf_dispose(&back);
        free(p);
    }
    ipvm_blockstore_close(bs);
}

IPVM_TEST(blocks, blockstore_verifies)
{
    ipvm_blockstore_t *bs = open_at(bs_dir());
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_cid_t c;
    IPVM_ASSERT_OK(ipvm_cid_create(&c, 1, IPVM_CODEC_RAW, IPVM_MH_SHA2_256,
                                   (const uint8_t *)"hello", 5));
    IPVM_ASSERT(!ipvm_blockstore_has(bs, &c));
    IPVM_ASSERT_ERR(ipvm_blockstore_put(bs, &c, (const uint8_t *)"hellO", 5, &err),
                    IPVM_EHASHMISMATCH);
    IPVM_ASSERT(!ipvm_blockstore_has(bs, &c));
    IPVM_ASSERT_OK_ERR(ipvm_blockstore_put(bs, &c, (const uint8_t *)"hello", 5, &err), &err);
    IPVM_ASSERT_OK_ERR(ipvm_blockstore_put(bs, &c, (const uint8_t *)"hello", 5, &err), &err);
    IPVM_ASSERT(ipvm_blockstore_has(bs, &c));
    IPVM_ASSERT_EQ(count_blocks(bs_dir()), 1);
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK_ERR(ipvm_blockstore_get(bs, &c, &b, &err), &err);
    IPVM_ASSERT_MEMEQ(b.data, b.len, "hello", 5);
    /* CIDv0 and CIDv1 of one dag-pb block name one file */
    ipvm_cid_t v0, v1;
    IPVM_ASSERT_OK(ipvm_cid_create(&v0, 0, IPVM_CODEC_DAG_PB, IPVM_MH_SHA2_256,
                                   (const uint8_t *)"\x0a\x00", 2));
    ipvm_cid_to_v1(&v0, &v1);
    IPVM_ASSERT_OK_ERR(ipvm_blockstore_put(bs, &v0, (const uint8_t *)"\x0a\x00", 2, &err), &err);
    IPVM_ASSERT(ipvm_blockstore_has(bs, &v1));
    /* a block damaged on disk is dropped on read, not returned */
    char path[4400], s[IPVM_CID_MAX_STR];
    ipvm_cid_str(&c, s);
    snprintf(path, sizeof path, "%s/%.2s/%s", bs_dir(), s + strlen(s) - 3, s);
    int fd = open(path, O_WRONLY);
    IPVM_ASSERT(fd >= 0 && pwrite(fd, "J", 1, 0) == 1);
    close(fd);
    ipvm_buf_clear(&b);
    IPVM_ASSERT_ERR(ipvm_blockstore_get(bs, &c, &b, &err), IPVM_ENOENT);
    IPVM_ASSERT_STRCONTAINS(err.msg, "damaged");
    IPVM_ASSERT_EQ(b.len, 0);
    IPVM_ASSERT(!ipvm_blockstore_has(bs, &c));
    /* identity CIDs carry their bytes */
    ipvm_cid_t id;
    IPVM_ASSERT_OK(ipvm_cid_create(&id, 1, IPVM_CODEC_RAW, IPVM_MH_IDENTITY,
                                   (const uint8_t *)"tiny", 4));
    IPVM_ASSERT(ipvm_blockstore_has(bs, &id));
    IPVM_ASSERT_OK_ERR(ipvm_blockstore_get(bs, &id, &b, &err), &err);
    IPVM_ASSERT_MEMEQ(b.data, b.len, "tiny", 4);
    ipvm_buf_dispose(&b);
    ipvm_blockstore_close(bs);
}

/* An import that runs out of disk: IPVM_ENOSPC, and no block of it is left behind. */
IPVM_TEST(blocks, unixfs_full_disk)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/small", ipvm_test_tmpdir());
    fx_small_tmpfs(dir, 1024 * 1024);
    char bdir[4300];
    snprintf(bdir, sizeof bdir, "%s/blocks", dir);
    ipvm_blockstore_t *bs = open_at(bdir);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    uint8_t *small = pattern(1000, 1);
    ipvm_cid_t r1;
    IPVM_ASSERT_OK_ERR(ipvm_unixfs_add(bs, small, 1000, &r1, &err), &err);
    size_t before = count_blocks(bdir);
    size_t big = 3 * 1024 * 1024;
    uint8_t *p = pattern(big, 2);
    ipvm_cid_t root;
    IPVM_ASSERT_ERR(ipvm_unixfs_add(bs, p, big, &root, &err), IPVM_ENOSPC);
    IPVM_ASSERT_STRCONTAINS(err.msg, "free some disk space");
    IPVM_ASSERT_EQ(count_blocks(bdir), before);
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK_ERR(ipvm_unixfs_cat(bs, &r1, &b, &err), &err);
    IPVM_ASSERT_MEMEQ(b.data, b.len, small, 1000);
    ipvm_buf_dispose(&b);
    free(p);
    free(small);
    ipvm_blockstore_close(bs);
}

IPVM_TEST(blocks, cat_errors)
{
    ipvm_blockstore_t *bs = open_at(bs_dir());
    ipvm_error_t err;
    ipvm_error_clear(&err);
    uint8_t *p = pattern(IPVM_UNIXFS_CHUNK * 2 + 3, 9);
    ipvm_cid_t root;
    IPVM_ASSERT_OK_ERR(ipvm_unixfs_add(bs, p, IPVM_UNIXFS_CHUNK * 2 + 3, &root, &err), &err);
    /* a missing leaf: named */
    ipvm_cid_t leaf;
    IPVM_ASSERT_OK(ipvm_cid_create(&leaf, 1, IPVM_CODEC_RAW, IPVM_MH_SHA2_256,
                                   p + IPVM_UNIXFS_CHUNK, IPVM_UNIXFS_CHUNK));
    ipvm__blockstore_remove(bs, &leaf);
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_ERR(ipvm_unixfs_cat(bs, &root, &b, &err), IPVM_ENOENT);
    char s[IPVM_CID_MAX_STR];
    IPVM_ASSERT_STRCONTAINS(err.msg, ipvm_cid_str(&leaf, s));
    IPVM_ASSERT_EQ(b.len, 0); /* nothing half written */
    /* a directory node */
    ipvm_cid_t dir;
    const uint8_t dirnode[] = {0x0a, 0x02, 0x08, 0x01};
    IPVM_ASSERT_OK(ipvm_cid_create(&dir, 1, IPVM_CODEC_DAG_PB, IPVM_MH_SHA2_256, dirnode, 4));
    IPVM_ASSERT_OK(ipvm_blockstore_put(bs, &dir, dirnode, 4, &err));
    IPVM_ASSERT_ERR(ipvm_unixfs_cat(bs, &dir, &b, &err), IPVM_EUNSUPPORTED);
    IPVM_ASSERT_STRCONTAINS(err.msg, "directory");
    /* a dag-pb block that is no UnixFS */
    ipvm_cid_t junk;
    const uint8_t junknode[] = {0x0a, 0x02, 0xff, 0xff};
    IPVM_ASSERT_OK(ipvm_cid_create(&junk, 1, IPVM_CODEC_DAG_PB, IPVM_MH_SHA2_256, junknode, 4));
    IPVM_ASSERT_OK(ipvm_blockstore_put(bs, &junk, junknode, 4, &err));
    IPVM_ASSERT_ERR(ipvm_unixfs_cat(bs, &junk, &b, &err), IPVM_EBLOCK);
    /* a block that is not dag-pb at all, under a dag-pb CID */
    ipvm_cid_t notpb;
    IPVM_ASSERT_OK(ipvm_cid_create(&notpb, 1, IPVM_CODEC_DAG_PB, IPVM_MH_SHA2_256,
                                   (const uint8_t *)"\xff", 1));
    IPVM_ASSERT_OK(ipvm_blockstore_put(bs, &notpb, (const uint8_t *)"\xff", 1, &err));
    IPVM_ASSERT_ERR(ipvm_unixfs_cat(bs, &notpb, &b, &err), IPVM_EDAGPB);
    IPVM_ASSERT_STRCONTAINS(err.msg, ipvm_cid_str(&notpb, s));
    ipvm_buf_dispose(&b);
    free(p);
    ipvm_blockstore_close(bs);
}

/* Fail the Nth allocation until import + export + decode succeed: a clean IPVM_ENOMEM each
 * time, no block of a failed import left behind, the right bytes at the end. */
IPVM_TEST(blocks, oom_loop)
{
    ipvm_blockstore_t *bs = open_at(bs_dir());
    size_t n = 2 * IPVM_UNIXFS_CHUNK + 99;
    uint8_t *p = pattern(n, 5);
    int failures = 0;
    for (long k = 0;; k++) {
        ipvm_error_t err;
        ipvm_error_clear(&err);
        ipvm_cid_t root;
        ipvm_buf_t back = IPVM_BUF_INIT;
        ipvm_alloc_fail_after(k);
        int rc = ipvm_unixfs_add(bs, p, n, &root, &err);
        bool added = rc == 0;
        if (rc == 0)
            rc = ipvm_unixfs_cat(bs, &root, &back, &err);
        bool failed = ipvm_alloc_failed();
        ipvm_alloc_fail_after(-1);
        if (rc == 0 && !failed) {
            IPVM_ASSERT_MEMEQ(back.data, back.len, p, n);
            ipvm_buf_dispose(&back);
            break;
        }
        IPVM_ASSERT_MSG(rc == IPVM_ENOMEM, "k=%ld: %s %s", k, ipvm_err_name(rc), err.msg);
        IPVM_ASSERT_EQ(back.len, 0);
        if (!added)
            IPVM_ASSERT_EQ(count_blocks(bs_dir()), 0); /* a failed import leaves nothing */
        else
            ipvm__blockstore_remove(bs, &root); /* start the next round from nothing */
        ipvm_buf_dispose(&back);
        failures++;
        if (added) {
            /* the leaves stay from the successful import: remove them too */
            for (size_t off = 0; off < n; off += IPVM_UNIXFS_CHUNK) {
                ipvm_cid_t leaf;
                size_t len = n - off < IPVM_UNIXFS_CHUNK ? n - off : IPVM_UNIXFS_CHUNK;
                IPVM_ASSERT_OK(ipvm_cid_create(&leaf, 1, IPVM_CODEC_RAW, IPVM_MH_SHA2_256, p + off,
                                               len));
                ipvm__blockstore_remove(bs, &leaf);
            }
        }
        IPVM_ASSERT(k < 10000);
    }
    IPVM_ASSERT(failures > 5);
    free(p);
    ipvm_blockstore_close(bs);
}
