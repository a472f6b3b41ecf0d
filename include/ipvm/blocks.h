/* SPDX-License-Identifier: Apache-2.0 */
/* ipvm/blocks.h: the blockstore (blocks by CID on disk), UnixFS import/export identical to
 * `ipfs add --cid-version 1` (256 KiB chunks, raw leaves, balanced dag-pb), and the resolver
 * that turns a resource (`ipfs://<cid>` or a Link) into bytes: blockstore, then a Kubo HTTP API,
 * then an HTTPS gateway, always checking that the bytes hash to the CID. */
#ifndef IPVM_BLOCKS_H
#define IPVM_BLOCKS_H

#include "ipld.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipvm_blockstore_s ipvm_blockstore_t;

/* Opens (creating if needed) the blockstore in `dir` (normally <data-dir>/blocks).
 * Thread-safe. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_blockstore_open(const char *dir, ipvm_blockstore_t **out,
                                                     ipvm_error_t *err);
IPVM_EXTERN void ipvm_blockstore_close(ipvm_blockstore_t *bs);
/* Stores a block durably after checking it hashes to cid (IPVM_EHASHMISMATCH). Idempotent. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_blockstore_put(ipvm_blockstore_t *bs, const ipvm_cid_t *cid,
                                                    const uint8_t *data, size_t len,
                                                    ipvm_error_t *err);
/* Appends the block's bytes to out. IPVM_ENOENT when absent. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_blockstore_get(ipvm_blockstore_t *bs, const ipvm_cid_t *cid,
                                                    ipvm_buf_t *out, ipvm_error_t *err);
IPVM_EXTERN bool ipvm_blockstore_has(ipvm_blockstore_t *bs, const ipvm_cid_t *cid);

/* UnixFS: imports bytes as a file and returns the root CID `ipfs add --cid-version 1` gives. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_unixfs_add(ipvm_blockstore_t *bs, const uint8_t *data,
                                                size_t len, ipvm_cid_t *root /* out */,
                                                ipvm_error_t *err);
/* The same from a file (or "-"), streaming. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_unixfs_add_path(ipvm_blockstore_t *bs, const char *path,
                                                     ipvm_cid_t *root /* out */,
                                                     ipvm_error_t *err);
/* Appends the content of a UnixFS file (dag-pb root or raw block) to out. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_unixfs_cat(ipvm_blockstore_t *bs, const ipvm_cid_t *root,
                                                ipvm_buf_t *out, ipvm_error_t *err);

/* ---- resolver ------------------------------------------------------------------------------- */
typedef struct ipvm_resolver_s ipvm_resolver_t;
typedef struct ipvm_resolver_opts_s {
    const char *ipfs_api; /* "HOST:PORT" of a Kubo HTTP RPC API, or NULL */
    const char *gateway;  /* "https://host" of a trusted gateway, or NULL */
    int timeout_ms;       /* per network request; 0 = 30 s */
} ipvm_resolver_opts_t;

/* bs is borrowed (must outlive the resolver); opts copied (may be NULL). Thread-safe. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_resolver_new(ipvm_blockstore_t *bs,
                                                  const ipvm_resolver_opts_t *opts,
                                                  ipvm_resolver_t **out, ipvm_error_t *err);
IPVM_EXTERN void ipvm_resolver_free(ipvm_resolver_t *r);
/* Fetches the content a resource names: "ipfs://<cid>", ".../ipfs/<cid>", or a bare CID string.
 * Fetched content is verified and kept in the blockstore. A missing resource is
 * IPVM_ENORESOURCE with a message that names the CID and says how to add it. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_resolver_fetch(ipvm_resolver_t *r, const char *url,
                                                    ipvm_buf_t *out, ipvm_error_t *err);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_resolver_fetch_cid(ipvm_resolver_t *r,
                                                        const ipvm_cid_t *cid, ipvm_buf_t *out,
                                                        ipvm_error_t *err);

#ifdef __cplusplus
}
#endif
#endif /* IPVM_BLOCKS_H */
