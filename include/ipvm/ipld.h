/* SPDX-License-Identifier: Apache-2.0 */
/* ipvm/ipld.h: the IPLD data model and its strict DAG-CBOR and DAG-JSON codecs
 * (specs: ipld.io/specs/codecs/dag-cbor/spec, ipld.io/specs/codecs/dag-json/spec). */
#ifndef IPVM_IPLD_H
#define IPVM_IPLD_H

#include "multiformats.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    IPVM_IPLD_NULL = 0,
    IPVM_IPLD_BOOL,
    IPVM_IPLD_INT,
    IPVM_IPLD_FLOAT,
    IPVM_IPLD_STRING,
    IPVM_IPLD_BYTES,
    IPVM_IPLD_LIST,
    IPVM_IPLD_MAP,
    IPVM_IPLD_LINK,
} ipvm_ipld_kind_t;

typedef struct ipvm_ipld_s ipvm_ipld_t;

typedef struct ipvm_ipld_entry_s {
    const char *key;    /* UTF-8, NUL-terminated (may also hold NULs: key_len rules) */
    size_t key_len;     /* bytes in key */
    ipvm_ipld_t *value; /* never NULL */
} ipvm_ipld_entry_t;

/* One IPLD node. Nodes, their strings and arrays live in an arena (see ipvm_arena_t); a tree is
 * freed with its arena. Integers cover the whole CBOR range [-2^64, 2^64-1] in sign/magnitude
 * form. Strings and bytes are NUL-terminated for convenience; `len` is authoritative. */
struct ipvm_ipld_s {
    ipvm_ipld_kind_t kind;
    union {
        bool boolean;
        struct {
            uint64_t mag; /* value = neg ? -1 - mag : mag (CBOR major types 0 and 1) */
            bool neg;
        } integer;
        double f;
        struct {
            const char *ptr; /* string (UTF-8) or bytes; NUL-terminated */
            size_t len;
        } str;
        struct {
            ipvm_ipld_t **items;
            size_t len, cap;
        } list;
        struct {
            ipvm_ipld_entry_t *entries;
            size_t len, cap;
            bool sorted; /* entries are in DAG-CBOR order with no duplicates */
        } map;
        ipvm_cid_t *link;
    } u;
};

IPVM_EXTERN const char *ipvm_ipld_kind_name(ipvm_ipld_kind_t kind);

/* Constructors. Each copies its input into the arena and returns NULL only on OOM. */
IPVM_EXTERN ipvm_ipld_t *ipvm_ipld_new_null(ipvm_arena_t *a);
IPVM_EXTERN ipvm_ipld_t *ipvm_ipld_new_bool(ipvm_arena_t *a, bool b);
IPVM_EXTERN ipvm_ipld_t *ipvm_ipld_new_int(ipvm_arena_t *a, int64_t v);
IPVM_EXTERN ipvm_ipld_t *ipvm_ipld_new_uint(ipvm_arena_t *a, uint64_t v);
IPVM_EXTERN ipvm_ipld_t *ipvm_ipld_new_float(ipvm_arena_t *a, double v);
IPVM_EXTERN ipvm_ipld_t *ipvm_ipld_new_string(ipvm_arena_t *a, const char *s, size_t len);
IPVM_EXTERN ipvm_ipld_t *ipvm_ipld_new_cstring(ipvm_arena_t *a, const char *s);
IPVM_EXTERN ipvm_ipld_t *ipvm_ipld_new_bytes(ipvm_arena_t *a, const uint8_t *p, size_t len);
IPVM_EXTERN ipvm_ipld_t *ipvm_ipld_new_link(ipvm_arena_t *a, const ipvm_cid_t *cid);
/* Empty containers with room for `cap` items (they grow as needed). */
IPVM_EXTERN ipvm_ipld_t *ipvm_ipld_new_list(ipvm_arena_t *a, size_t cap);
IPVM_EXTERN ipvm_ipld_t *ipvm_ipld_new_map(ipvm_arena_t *a, size_t cap);
/* Appends `item` (borrowed: must live in an arena that outlives the list). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ipld_list_push(ipvm_arena_t *a, ipvm_ipld_t *list,
                                                    ipvm_ipld_t *item);
/* Adds or replaces `key` (copied) with `value` (borrowed). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ipld_map_set(ipvm_arena_t *a, ipvm_ipld_t *map,
                                                  const char *key, size_t key_len,
                                                  ipvm_ipld_t *value);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ipld_map_set_cstr(ipvm_arena_t *a, ipvm_ipld_t *map,
                                                       const char *key, ipvm_ipld_t *value);
/* Puts the entries in DAG-CBOR key order (length first, then bytes). */
IPVM_EXTERN void ipvm_ipld_map_sort(ipvm_ipld_t *map);

/* Accessors. map_get returns NULL when the key is absent or `map` is not a map. */
IPVM_EXTERN const ipvm_ipld_t *ipvm_ipld_map_get(const ipvm_ipld_t *map, const char *key);
IPVM_EXTERN const ipvm_ipld_t *ipvm_ipld_map_getn(const ipvm_ipld_t *map, const char *key,
                                                  size_t key_len);
/* Integer accessors: IPVM_EKIND if not an integer, IPVM_ETOOBIG if out of range. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ipld_get_i64(const ipvm_ipld_t *v, int64_t *out);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ipld_get_u64(const ipvm_ipld_t *v, uint64_t *out);
/* True if v is a string equal to the NUL-terminated s. */
IPVM_EXTERN bool ipvm_ipld_is_str(const ipvm_ipld_t *v, const char *s);
/* Selects by a path of map keys and list indexes separated by '/' ("input/args/0"). Returns
 * NULL when a segment does not exist. */
IPVM_EXTERN const ipvm_ipld_t *ipvm_ipld_select(const ipvm_ipld_t *v, const char *path);

/* Deep equality in the data model (floats compare by bits; maps by key set, not order). */
IPVM_EXTERN bool ipvm_ipld_equal(const ipvm_ipld_t *a, const ipvm_ipld_t *b);
/* Deep copy into another arena. NULL on OOM. */
IPVM_EXTERN ipvm_ipld_t *ipvm_ipld_clone(ipvm_arena_t *a, const ipvm_ipld_t *v);

/* ----------------------------------------------------------------------------- codecs ---- */
#define IPVM_IPLD_MAX_DEPTH 256 /* default nesting limit of the decoders and encoders */

/* DAG-JSON decoding: read integers in [-2^64, -2^63) as integers, as @ipld/dag-json and the
 * IPLD codec fixtures do, instead of as float64 the way serde_json (and so Homestar) does.
 * The default follows Homestar, whose CIDs we must reproduce. */
#define IPVM_DECODE_IPLD_INTS 1u

typedef struct ipvm_decode_opts_s {
    size_t max_depth; /* 0 means IPVM_IPLD_MAX_DEPTH */
    unsigned flags;   /* IPVM_DECODE_* bits, 0 for the defaults */
} ipvm_decode_opts_t;

/* Strict DAG-CBOR. Encoding appends to `out`; it sorts map keys, writes shortest-form integers,
 * float64 for every float, tag 42 + 0x00-prefixed bytes for links. It fails (IPVM_ECBOR) on
 * NaN or infinite floats, duplicate map keys and strings that are not valid UTF-8, and
 * IPVM_ETOODEEP past the depth limit.
 * On failure `out` is restored to its length before the call. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_dagcbor_encode(const ipvm_ipld_t *v, ipvm_buf_t *out,
                                                    ipvm_error_t *err);
/* Decodes exactly one value that fills the input. Rejects (IPVM_ECBOR, with the byte offset
 * and the reason): indefinite lengths, non-shortest integers and lengths, float16/float32,
 * NaN and infinities, undefined and other simple values, tags other than 42, malformed
 * links, non-string or unsorted or duplicate map keys, invalid UTF-8, lengths past the end of
 * the input, trailing bytes; IPVM_ETOODEEP past the depth limit. All memory comes from `arena`;
 * on failure nothing useful is left in *out (the arena may hold partial garbage). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_dagcbor_decode(const uint8_t *buf, size_t len,
                                                    ipvm_arena_t *arena,
                                                    ipvm_ipld_t **out /* out */,
                                                    ipvm_error_t *err);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_dagcbor_decode_opts(const uint8_t *buf, size_t len,
                                                         const ipvm_decode_opts_t *opts,
                                                         ipvm_arena_t *arena,
                                                         ipvm_ipld_t **out /* out */,
                                                         ipvm_error_t *err);

#define IPVM_JSON_PRETTY 1u /* indent with two spaces (not canonical; for people) */

/* Strict DAG-JSON. Links as {"/": "<cid>"}, bytes as {"/": {"bytes": "<base64, no padding>"}},
 * map keys sorted as the reference JS library sorts them, floats in the shortest form that
 * reads back to the same double and always with a '.' or exponent. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_dagjson_encode(const ipvm_ipld_t *v, unsigned flags,
                                                    ipvm_buf_t *out, ipvm_error_t *err);
/* Decodes one JSON value (surrounding whitespace allowed). Integers in [-2^63, 2^64-1] are
 * integers; integers outside that range are read as float64, as serde_json (and so Homestar)
 * reads them (IPVM_DECODE_IPLD_INTS widens the integer range to [-2^64, 2^64-1]). Rejects (IPVM_EJSON, with offset and reason) malformed JSON, duplicate keys,
 * malformed links or bytes, invalid UTF-8 and lone surrogates, trailing data. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_dagjson_decode(const char *buf, size_t len,
                                                    ipvm_arena_t *arena,
                                                    ipvm_ipld_t **out /* out */,
                                                    ipvm_error_t *err);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_dagjson_decode_opts(const char *buf, size_t len,
                                                         const ipvm_decode_opts_t *opts,
                                                         ipvm_arena_t *arena,
                                                         ipvm_ipld_t **out /* out */,
                                                         ipvm_error_t *err);

/* DAG-JSON pull reader: steps into the maps and lists of a document one entry at a time and
 * decodes the entries it is given whole, so that a large list (a workflow's 10,000 tasks) can
 * be handled item by item with the memory of one item instead of the whole tree. Entry values
 * follow exactly the rules, depth limit and messages of ipvm_dagjson_decode_opts. What the
 * reader does not do, for the containers stepped into: read a map as a Link or bytes (a caller
 * that meets the key "/" should decode that map whole instead) or reject duplicate keys (the
 * caller sees every key). The reader borrows buf; one thread at a time. Typical walk:
 *   enter (the top map) ; while (next(&key) == 1) { enter, or value } ; finish. */
#define IPVM_DAGJSON_READER_DEPTH 16 /* containers stepped into at once */

typedef struct ipvm_dagjson_reader_s {
    const char *buf;
    size_t len;
    size_t pos; /* byte offset of the next token */
    size_t depth; /* containers stepped into and not yet left */
    /* private */
    size_t max_depth;
    unsigned flags;
    char open[IPVM_DAGJSON_READER_DEPTH];
    bool started[IPVM_DAGJSON_READER_DEPTH];
    void *items, *ents; /* the decoder's scratch stacks, kept between calls */
    size_t capitems, capents;
} ipvm_dagjson_reader_t;

/* opts may be NULL (the defaults of ipvm_dagjson_decode). */
IPVM_EXTERN void ipvm_dagjson_reader_init(ipvm_dagjson_reader_t *r, const char *buf, size_t len,
                                          const ipvm_decode_opts_t *opts);
IPVM_EXTERN void ipvm_dagjson_reader_dispose(ipvm_dagjson_reader_t *r);
/* Steps into the map or list at the current position and says which (IPVM_IPLD_MAP or
 * IPVM_IPLD_LIST). IPVM_EJSON when something else is there, IPVM_ETOODEEP past the depth limit
 * or IPVM_DAGJSON_READER_DEPTH. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_dagjson_reader_enter(ipvm_dagjson_reader_t *r,
                                                          ipvm_ipld_kind_t *kind /* out */,
                                                          ipvm_error_t *err);
/* Moves to the next entry of the container stepped into last. Returns 1 when there is one (in
 * a map, *key and *key_len get its key, decoded into arena; key may be NULL) and the position
 * is then at its value, which the caller must consume with ipvm_dagjson_reader_value or
 * ipvm_dagjson_reader_enter before the next call; 0 at the container's end, which it steps out
 * of; or an error (IPVM_EJSON with the offset, IPVM_ENOMEM). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_dagjson_reader_next(ipvm_dagjson_reader_t *r,
                                                         ipvm_arena_t *arena,
                                                         const char **key /* out */,
                                                         size_t *key_len /* out */,
                                                         ipvm_error_t *err);
/* Decodes the value at the current position whole, into arena. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_dagjson_reader_value(ipvm_dagjson_reader_t *r,
                                                          ipvm_arena_t *arena,
                                                          ipvm_ipld_t **out /* out */,
                                                          ipvm_error_t *err);
/* After the outermost container's end: only whitespace may follow (IPVM_EJSON otherwise, or
 * when a container is still open). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_dagjson_reader_finish(ipvm_dagjson_reader_t *r,
                                                           ipvm_error_t *err);

/* CIDv1 (dag-cbor codec) of the DAG-CBOR encoding of v, hashed with `hash`
 * (IPVM_MH_SHA3_256 for Homestar's identifiers). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_ipld_cid(const ipvm_ipld_t *v, uint64_t hash,
                                              ipvm_cid_t *out, ipvm_error_t *err);

/* A one-line DAG-JSON rendering cut to at most `max` bytes (with "…" when cut), for tables
 * and logs. Long bytes are shown as "<N bytes>". Returns out. */
IPVM_EXTERN const char *ipvm_ipld_summary(const ipvm_ipld_t *v, char *out, size_t max);

#ifdef __cplusplus
}
#endif
#endif /* IPVM_IPLD_H */
