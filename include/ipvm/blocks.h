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

/* Streaming forms, for big files. A progress callback sees the bytes done so far and the
 * total (0 when unknown, e.g. a pipe); it runs on the calling thread. */
typedef void (*ipvm_unixfs_progress_cb)(uint64_t done, uint64_t total, void *data);
/* Imports everything read from fd (until EOF) as ipvm_unixfs_add does, holding at most one
 * chunk per tree level in memory. Blocks are made durable together (one sync) before it
 * returns; on failure the blocks this call newly created are removed again. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_unixfs_add_fd(ipvm_blockstore_t *bs, int fd,
                                                   ipvm_unixfs_progress_cb progress,
                                                   void *progress_data,
                                                   ipvm_cid_t *root /* out */,
                                                   ipvm_error_t *err);
/* Calls write(data, p, n) for each piece of the content in order (every block verified on
 * the way). A non-zero return from write stops the walk and is returned. Content of a raw
 * block is its bytes; of a dag-pb UnixFS file, the file; of any other codec, the block. */
typedef int (*ipvm_unixfs_write_cb)(void *data, const uint8_t *p, size_t n);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_unixfs_cat_stream(ipvm_blockstore_t *bs,
                                                       const ipvm_cid_t *root,
                                                       ipvm_unixfs_write_cb write, void *data,
                                                       ipvm_error_t *err);
#define IPVM_UNIXFS_CHUNK 262144 /* bytes per leaf (ipfs add's default chunker) */
#define IPVM_UNIXFS_LINKS 174    /* links per node in the balanced layout */

/* ---- dag-pb (spec: ipld.io/specs/codecs/dag-pb/spec) ----------------------------------------- */
typedef struct ipvm_dagpb_link_s {
    ipvm_cid_t hash;  /* Hash (required) */
    const char *name; /* Name or NULL when absent; UTF-8, not NUL-terminated in decoded nodes */
    size_t name_len;
    uint64_t tsize; /* Tsize, when has_tsize */
    bool has_tsize;
} ipvm_dagpb_link_t;

typedef struct ipvm_dagpb_node_s {
    ipvm_dagpb_link_t *links; /* in block order */
    size_t nlinks;
    const uint8_t *data; /* Data or NULL when absent (a present empty Data has data != NULL) */
    size_t data_len;
} ipvm_dagpb_node_t;

/* Canonical form: Links (sorted by Name bytes, which the caller ensures; IPVM_EINVAL if not)
 * then Data; in each link Hash, Name, Tsize. Appends to out. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_dagpb_encode(const ipvm_dagpb_node_t *node, ipvm_buf_t *out);
/* Strict decode of outside bytes (IPVM_EDAGPB with the offset and the reason): unknown fields
 * or wire types, duplicate Data or link fields, link fields out of order, a missing or
 * malformed Hash, invalid UTF-8 names, non-minimal or overlong varints, lengths past the end,
 * Links interleaved with Data. Data before Links is accepted (the spec says old blocks have
 * it). Links and names point into buf; the link array comes from arena. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_dagpb_decode(const uint8_t *buf, size_t len,
                                                  ipvm_arena_t *arena,
                                                  ipvm_dagpb_node_t *out /* out */,
                                                  ipvm_error_t *err);

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
/* The CID a resource names (the forms ipvm_resolver_fetch takes). IPVM_EINVAL when it names
 * none, IPVM_EUNSUPPORTED for a URL that is not content-addressed or has a path after the CID. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_resource_cid(const char *url, ipvm_cid_t *cid /* out */,
                                                  ipvm_error_t *err);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_resolver_fetch_cid(ipvm_resolver_t *r,
                                                        const ipvm_cid_t *cid, ipvm_buf_t *out,
                                                        ipvm_error_t *err);

#ifdef __cplusplus
}
#endif
#endif /* IPVM_BLOCKS_H */
