/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/blocks/: blockstore internals the importer and the resolver share (unsynced
 * puts, one sync for many, removal), and the UnixFS walk over any block source. */
#ifndef IPVM_BLOCKS_INT_H
#define IPVM_BLOCKS_INT_H

#include "ipvm/blocks.h"

#include <stdatomic.h>

struct ipvm_blockstore_s {
    char *dir;              /* <data-dir>/blocks */
    int dirfd;              /* open on dir, for syncfs */
    atomic_uint_fast64_t seq; /* temp-file names */
};

/* Checks that data hashes to cid. IPVM_EHASHMISMATCH (naming the CID) or IPVM_EMULTIHASH. */
int ipvm__block_verify(const ipvm_cid_t *cid, const uint8_t *data, size_t len, ipvm_error_t *err);
/* Stores a block without syncing (atomic rename, verified). *created says if it is new. */
int ipvm__blockstore_put_nosync(ipvm_blockstore_t *bs, const ipvm_cid_t *cid, const uint8_t *data,
                                size_t len, bool *created, ipvm_error_t *err);
/* Makes everything written so far durable (syncfs of the blockstore's file system). */
int ipvm__blockstore_sync(ipvm_blockstore_t *bs, ipvm_error_t *err);
void ipvm__blockstore_remove(ipvm_blockstore_t *bs, const ipvm_cid_t *cid);

/* Where blocks come from during a walk: the blockstore, or the resolver's fetch. */
typedef int (*ipvm__block_get_fn)(void *ctx, const ipvm_cid_t *cid, ipvm_buf_t *out,
                                  ipvm_error_t *err);
/* Walks the content under root depth-first (see ipvm_unixfs_cat_stream), getting each block
 * through get; write may be NULL to only fetch and check every block. */
int ipvm__unixfs_walk(ipvm__block_get_fn get, void *ctx, const ipvm_cid_t *root,
                      ipvm_unixfs_write_cb write, void *data, ipvm_error_t *err);

#endif
