/* SPDX-License-Identifier: Apache-2.0 */
/* UnixFS files as `ipfs add --cid-version 1` makes them (ipfs/specs unixfs.md): 256 KiB chunks
 * stored as raw leaves (CIDv1, raw, sha2-256), grouped 174 to a dag-pb node in the balanced
 * layout, a single chunk being its own root. Import streams (one pending node per tree level);
 * export walks the tree depth-first, checking every block against its CID. The UnixFS Data
 * message goes through protobuf-c: it is serialised in field-number order, as go-unixfs does,
 * and proto2's unpacked repeated blocksizes match too. */
#include "blocks/pb/unixfs.pb-c.h"
#include "blocks_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LEVELS 12 /* 174^11 chunks of 256 KiB: far beyond any file */
#define MAX_DEPTH 32  /* deepest tree a walk follows (outside trees may be hostile) */

typedef struct {
    ipvm_cid_t cid;
    uint64_t tsize; /* Tsize: the block and everything under it */
    uint64_t size;  /* file bytes under it */
} entry_t;

typedef struct {
    ipvm_blockstore_t *bs;
    entry_t level[MAX_LEVELS][IPVM_UNIXFS_LINKS];
    size_t count[MAX_LEVELS];
    ipvm_cid_t *created; /* blocks this import wrote, removed again if it fails */
    size_t ncreated, capcreated;
    ipvm_buf_t enc;
    ipvm_error_t *err;
} importer_t;

static int put_block(importer_t *im, const ipvm_cid_t *cid, const uint8_t *p, size_t n)
{
    bool created = false;
    int rc = ipvm__blockstore_put_nosync(im->bs, cid, p, n, &created, im->err);
    if (rc != 0 || !created)
        return rc;
    if (im->ncreated == im->capcreated) {
        size_t cap = im->capcreated ? im->capcreated * 2 : 64;
        ipvm_cid_t *c = ipvm_realloc(im->created, cap * sizeof *c);
        if (c == NULL) {
            ipvm__blockstore_remove(im->bs, cid);
            return ipvm_error_set(im->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
        }
        im->created = c;
        im->capcreated = cap;
    }
    im->created[im->ncreated++] = *cid;
    return 0;
}

static int push(importer_t *im, int lvl, const entry_t *e);

/* Turns the entries of one level into a dag-pb node and pushes it one level up. */
static int flush(importer_t *im, int lvl)
{
    size_t n = im->count[lvl];
    entry_t *kids = im->level[lvl];
    uint64_t sizes[IPVM_UNIXFS_LINKS];
    ipvm_dagpb_link_t links[IPVM_UNIXFS_LINKS];
    entry_t up = {0};
    for (size_t i = 0; i < n; i++) {
        sizes[i] = kids[i].size;
        up.size += kids[i].size;
        up.tsize += kids[i].tsize;
        /* compat: ipfs add and the JS importer both write an empty Name on file links */
        links[i] = (ipvm_dagpb_link_t){kids[i].cid, "", 0, kids[i].tsize, true};
    }
    Unixfs__Pb__Data d = UNIXFS__PB__DATA__INIT;
    d.type = UNIXFS__PB__DATA__DATA_TYPE__File;
    d.has_filesize = 1;
    d.filesize = up.size;
    d.n_blocksizes = n;
    d.blocksizes = sizes;
    uint8_t data[16 + 11 * IPVM_UNIXFS_LINKS];
    size_t dlen = unixfs__pb__data__pack(&d, data);
    ipvm_dagpb_node_t node = {links, n, data, dlen};
    ipvm_buf_clear(&im->enc);
    if (ipvm_dagpb_encode(&node, &im->enc) != 0)
        return ipvm_error_set(im->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    int rc = ipvm_cid_create(&up.cid, 1, IPVM_CODEC_DAG_PB, IPVM_MH_SHA2_256, im->enc.data,
                             im->enc.len);
    if (rc != 0)
        return ipvm_error_set(im->err, rc, IPVM_NO_OFFSET, "cannot hash a dag-pb node");
    up.tsize += im->enc.len;
    if ((rc = put_block(im, &up.cid, im->enc.data, im->enc.len)) != 0)
        return rc;
    im->count[lvl] = 0;
    return push(im, lvl + 1, &up);
}

static int push(importer_t *im, int lvl, const entry_t *e)
{
    if (lvl >= MAX_LEVELS)
        return ipvm_error_set(im->err, IPVM_ETOOBIG, IPVM_NO_OFFSET, "file too large");
    int rc;
    /* A full level is closed only when one more entry arrives: the last group of the file
     * must stay open until the end decides the shape (balanced: groups of 174 at each level,
     * a lone top entry being the root). */
    if (im->count[lvl] == IPVM_UNIXFS_LINKS && (rc = flush(im, lvl)) != 0)
        return rc;
    im->level[lvl][im->count[lvl]++] = *e;
    return 0;
}

static int add_leaf(importer_t *im, const uint8_t *p, size_t n)
{
    entry_t e = {0};
    int rc = ipvm_cid_create(&e.cid, 1, IPVM_CODEC_RAW, IPVM_MH_SHA2_256, p, n);
    if (rc != 0)
        return ipvm_error_set(im->err, rc, IPVM_NO_OFFSET, "cannot hash a chunk");
    e.tsize = e.size = n;
    if ((rc = put_block(im, &e.cid, p, n)) != 0)
        return rc;
    return push(im, 0, &e);
}

static int finish(importer_t *im, ipvm_cid_t *root)
{
    for (int lvl = 0; lvl < MAX_LEVELS; lvl++) {
        bool top = true;
        for (int j = lvl + 1; j < MAX_LEVELS; j++)
            top = top && im->count[j] == 0;
        if (top && im->count[lvl] == 1) {
            *root = im->level[lvl][0].cid;
            return 0;
        }
        int rc;
        if (im->count[lvl] > 0 && (rc = flush(im, lvl)) != 0)
            return rc;
    }
    return ipvm_error_set(im->err, IPVM_EINTERNAL, IPVM_NO_OFFSET, "unixfs: no root");
}

static importer_t *importer_new(ipvm_blockstore_t *bs, ipvm_error_t *err)
{
    importer_t *im = ipvm_calloc(1, sizeof *im);
    if (im == NULL) {
        ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
        return NULL;
    }
    im->bs = bs;
    im->err = err;
    ipvm_buf_init(&im->enc);
    return im;
}

/* Ends an import: on success makes the blocks durable; on failure removes the new ones. */
static int importer_end(importer_t *im, int rc)
{
    if (rc == 0)
        rc = ipvm__blockstore_sync(im->bs, im->err);
    if (rc != 0)
        for (size_t i = 0; i < im->ncreated; i++)
            ipvm__blockstore_remove(im->bs, &im->created[i]);
    ipvm_free(im->created);
    ipvm_buf_dispose(&im->enc);
    ipvm_free(im);
    return rc;
}

int ipvm_unixfs_add(ipvm_blockstore_t *bs, const uint8_t *data, size_t len, ipvm_cid_t *root,
                    ipvm_error_t *err)
{
    IPVM_MISUSE_IF(bs == NULL || root == NULL || (data == NULL && len > 0));
    importer_t *im = importer_new(bs, err);
    if (im == NULL)
        return IPVM_ENOMEM;
    int rc = 0;
    size_t off = 0;
    /* an empty file is one empty raw leaf, as ipfs add makes it */
    do {
        size_t n = len - off < IPVM_UNIXFS_CHUNK ? len - off : IPVM_UNIXFS_CHUNK;
        rc = add_leaf(im, data ? data + off : (const uint8_t *)"", n);
        off += n;
    } while (rc == 0 && off < len);
    if (rc == 0)
        rc = finish(im, root);
    return importer_end(im, rc);
}

/* Reads up to n bytes (fewer only at EOF). */
static ssize_t read_full(int fd, uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int ipvm_unixfs_add_fd(ipvm_blockstore_t *bs, int fd, ipvm_unixfs_progress_cb progress,
                       void *progress_data, ipvm_cid_t *root, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(bs == NULL || root == NULL || fd < 0);
    struct stat st;
    uint64_t total = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    uint8_t *chunk = ipvm_malloc(IPVM_UNIXFS_CHUNK);
    importer_t *im = chunk ? importer_new(bs, err) : NULL;
    if (im == NULL) {
        ipvm_free(chunk);
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    }
    int rc = 0;
    uint64_t done = 0;
    bool first = true;
    for (;;) {
        ssize_t n = read_full(fd, chunk, IPVM_UNIXFS_CHUNK);
        if (n < 0) {
            int e = errno;
            rc = ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET, "cannot read the input: %s",
                                strerror(e));
            break;
        }
        if (n == 0 && !first)
            break;
        first = false;
        if ((rc = add_leaf(im, chunk, (size_t)n)) != 0)
            break;
        done += (uint64_t)n;
        if (progress)
            progress(done, total, progress_data);
        if ((size_t)n < IPVM_UNIXFS_CHUNK)
            break;
    }
    ipvm_free(chunk);
    if (rc == 0)
        rc = finish(im, root);
    return importer_end(im, rc);
}

int ipvm_unixfs_add_path(ipvm_blockstore_t *bs, const char *path, ipvm_cid_t *root,
                         ipvm_error_t *err)
{
    IPVM_MISUSE_IF(path == NULL);
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return ipvm_error_set(err, e == ENOENT ? IPVM_ENOENT : e == EACCES ? IPVM_EACCES : IPVM_EIO,
                              IPVM_NO_OFFSET, "cannot open %s: %s", path, strerror(e));
    }
    int rc = ipvm_unixfs_add_fd(bs, fd, NULL, NULL, root, err);
    if (!is_stdin)
        close(fd);
    return rc;
}

/* ---- export --------------------------------------------------------------------------------- */
/* protobuf-c returns NULL both for bad bytes and for a failed allocation: the allocator's data
 * records the latter so the two are told apart. */
static void *pb_alloc(void *data, size_t size)
{
    void *p = ipvm_malloc(size ? size : 1);
    if (p == NULL && data)
        *(bool *)data = true;
    return p;
}
static void pb_free(void *data, void *p)
{
    (void)data;
    ipvm_free(p);
}

typedef struct {
    ipvm__block_get_fn get;
    void *ctx;
    ipvm_unixfs_write_cb write;
    void *data;
    const ipvm_cid_t *root;
    ipvm_error_t *err;
} walk_t;

static int bad_node(walk_t *w, const ipvm_cid_t *cid, const char *what)
{
    char c[IPVM_CID_MAX_STR], r[IPVM_CID_MAX_STR];
    return ipvm_error_set(w->err, IPVM_EBLOCK, IPVM_NO_OFFSET, "UnixFS node %s (in %s): %s",
                          ipvm_cid_str(cid, c), ipvm_cid_str(w->root, r), what);
}

static int emit(walk_t *w, const uint8_t *p, size_t n)
{
    return w->write && n ? w->write(w->data, p, n) : 0;
}

static int walk_node(walk_t *w, const ipvm_cid_t *cid, int depth);

/* A dag-pb block already fetched and verified: decode and descend. */
static int walk_dagpb(walk_t *w, const ipvm_cid_t *cid, const ipvm_buf_t *blk, int depth)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_dagpb_node_t node;
    Unixfs__Pb__Data *d = NULL;
    int rc = ipvm_dagpb_decode(blk->data, blk->len, &a, &node, w->err);
    if (rc != 0) {
        char c[IPVM_CID_MAX_STR];
        ipvm_error_prefix(w->err, "block %s: ", ipvm_cid_str(cid, c));
        goto done;
    }
    if (node.data == NULL) {
        rc = bad_node(w, cid, "no Data field, so not UnixFS");
        goto done;
    }
    bool oom = false;
    ProtobufCAllocator pa = {pb_alloc, pb_free, &oom};
    d = unixfs__pb__data__unpack(&pa, node.data_len, node.data);
    if (d == NULL) {
        rc = oom ? ipvm_error_set(w->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory")
                 : bad_node(w, cid, "its Data is not a UnixFS message");
        goto done;
    }
    if (d->type == UNIXFS__PB__DATA__DATA_TYPE__Directory ||
        d->type == UNIXFS__PB__DATA__DATA_TYPE__HAMTShard) {
        char c[IPVM_CID_MAX_STR];
        rc = ipvm_error_set(w->err, IPVM_EUNSUPPORTED, IPVM_NO_OFFSET,
                            "%s is a UnixFS directory, not a file: give the CID of a file in it",
                            ipvm_cid_str(cid, c));
        goto done;
    }
    if (d->type != UNIXFS__PB__DATA__DATA_TYPE__File &&
        d->type != UNIXFS__PB__DATA__DATA_TYPE__Raw) {
        rc = bad_node(w, cid, "a symlink or metadata node, not a file");
        goto done;
    }
    if (node.nlinks && d->n_blocksizes != node.nlinks) {
        rc = bad_node(w, cid, "the number of blocksizes differs from the number of links");
        goto done;
    }
    if (d->has_data && (rc = emit(w, d->data.data, d->data.len)) != 0)
        goto done;
    for (size_t i = 0; rc == 0 && i < node.nlinks; i++)
        rc = walk_node(w, &node.links[i].hash, depth + 1);
done:
    if (d) {
        ProtobufCAllocator pf = {pb_alloc, pb_free, NULL};
        unixfs__pb__data__free_unpacked(d, &pf);
    }
    ipvm_arena_dispose(&a);
    return rc;
}

static int walk_node(walk_t *w, const ipvm_cid_t *cid, int depth)
{
    if (depth > MAX_DEPTH)
        return bad_node(w, cid, "the tree is deeper than any file ipvm accepts");
    ipvm_buf_t blk = IPVM_BUF_INIT;
    int rc = w->get(w->ctx, cid, &blk, w->err);
    if (rc == 0 && (rc = ipvm__block_verify(cid, blk.data, blk.len, w->err)) == 0) {
        if (cid->codec == IPVM_CODEC_DAG_PB)
            rc = walk_dagpb(w, cid, &blk, depth);
        else
            rc = emit(w, blk.data, blk.len);
    }
    ipvm_buf_dispose(&blk);
    return rc;
}

int ipvm__unixfs_walk(ipvm__block_get_fn get, void *ctx, const ipvm_cid_t *root,
                      ipvm_unixfs_write_cb write, void *data, ipvm_error_t *err)
{
    walk_t w = {get, ctx, write, data, root, err};
    return walk_node(&w, root, 0);
}

static int bs_get(void *ctx, const ipvm_cid_t *cid, ipvm_buf_t *out, ipvm_error_t *err)
{
    return ipvm_blockstore_get(ctx, cid, out, err);
}

int ipvm_unixfs_cat_stream(ipvm_blockstore_t *bs, const ipvm_cid_t *root,
                           ipvm_unixfs_write_cb write, void *data, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(bs == NULL || root == NULL || write == NULL);
    return ipvm__unixfs_walk(bs_get, bs, root, write, data, err);
}

static int buf_write(void *data, const uint8_t *p, size_t n)
{
    return ipvm_buf_append(data, p, n);
}

int ipvm_unixfs_cat(ipvm_blockstore_t *bs, const ipvm_cid_t *root, ipvm_buf_t *out,
                    ipvm_error_t *err)
{
    IPVM_MISUSE_IF(bs == NULL || root == NULL || out == NULL);
    size_t start = out->len;
    int rc = ipvm__unixfs_walk(bs_get, bs, root, buf_write, out, err);
    if (rc == IPVM_ENOMEM)
        ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory");
    if (rc != 0)
        out->len = start;
    return rc;
}
