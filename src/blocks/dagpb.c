/* SPDX-License-Identifier: Apache-2.0 */
/* The dag-pb codec (ipld.io/specs/codecs/dag-pb/spec), written by hand rather than with
 * protobuf-c: the canonical form puts PBNode's Links (field 2) before Data (field 1), against
 * field-number order, which is the order protobuf-c (like most protobuf libraries) serialises;
 * and the strict decoding rules (fields in order, no duplicates, no unknown fields, Hash
 * required) are exactly what general protobuf decoders relax. */
#include "blocks_int.h"
#include "ipvm_int.h"

#include <string.h>

/* ---- encoding ----------------------------------------------------------------------------- */
static int put_varint(ipvm_buf_t *out, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    return ipvm_buf_append(out, tmp, n);
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t link_len(const ipvm_dagpb_link_t *l)
{
    size_t n = 1 + varint_len(l->hash.len) + l->hash.len;
    if (l->name)
        n += 1 + varint_len(l->name_len) + l->name_len;
    if (l->has_tsize)
        n += 1 + varint_len(l->tsize);
    return n;
}

static int name_cmp(const ipvm_dagpb_link_t *a, const ipvm_dagpb_link_t *b)
{
    size_t al = a->name ? a->name_len : 0, bl = b->name ? b->name_len : 0;
    int c = memcmp(a->name ? a->name : "", b->name ? b->name : "", al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

int ipvm_dagpb_encode(const ipvm_dagpb_node_t *node, ipvm_buf_t *out)
{
    IPVM_MISUSE_IF(node == NULL || out == NULL || (node->nlinks && node->links == NULL));
    size_t start = out->len;
    int rc = 0;
    for (size_t i = 0; i < node->nlinks && rc == 0; i++) {
        const ipvm_dagpb_link_t *l = &node->links[i];
        if (i > 0 && name_cmp(&node->links[i - 1], l) > 0)
            rc = IPVM_EINVAL; /* the spec's link order; see header */
        if (rc == 0)
            rc = ipvm_buf_append_byte(out, 0x12); /* field 2, length-delimited */
        if (rc == 0)
            rc = put_varint(out, link_len(l));
        if (rc == 0)
            rc = ipvm_buf_append_byte(out, 0x0a);
        if (rc == 0)
            rc = put_varint(out, l->hash.len);
        if (rc == 0)
            rc = ipvm_buf_append(out, l->hash.bytes, l->hash.len);
        if (rc == 0 && l->name) {
            rc = ipvm_buf_append_byte(out, 0x12);
            if (rc == 0)
                rc = put_varint(out, l->name_len);
            if (rc == 0)
                rc = ipvm_buf_append(out, l->name, l->name_len);
        }
        if (rc == 0 && l->has_tsize) {
            rc = ipvm_buf_append_byte(out, 0x18);
            if (rc == 0)
                rc = put_varint(out, l->tsize);
        }
    }
    if (rc == 0 && node->data) {
        rc = ipvm_buf_append_byte(out, 0x0a);
        if (rc == 0)
            rc = put_varint(out, node->data_len);
        if (rc == 0)
            rc = ipvm_buf_append(out, node->data, node->data_len);
    }
    if (rc != 0)
        out->len = start;
    return rc;
}

/* ---- decoding ----------------------------------------------------------------------------- */
typedef struct {
    const uint8_t *buf;
    size_t len, pos;
    ipvm_error_t *err;
} reader_t;

static int bad(reader_t *r, size_t at, const char *what)
{
    return ipvm_error_set(r->err, IPVM_EDAGPB, at, "dag-pb: %s", what);
}

/* A protobuf varint: at most 10 bytes, at most 64 bits, and minimal (no trailing 0x80 00). */
static int get_varint(reader_t *r, size_t end, uint64_t *v)
{
    size_t at = r->pos;
    uint64_t x = 0;
    for (int shift = 0;; shift += 7) {
        if (r->pos >= end)
            return bad(r, at, "varint runs past the end");
        uint8_t b = r->buf[r->pos++];
        if (shift == 63 && b > 1)
            return bad(r, at, "varint is larger than 64 bits");
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (b == 0 && shift > 0)
                return bad(r, at, "varint is not in its shortest form");
            break;
        }
    }
    *v = x;
    return 0;
}

/* Reads a length-delimited payload: [pos, *pend). */
static int get_bytes(reader_t *r, size_t end, const uint8_t **p, size_t *n)
{
    uint64_t len;
    size_t at = r->pos;
    int rc = get_varint(r, end, &len);
    if (rc)
        return rc;
    if (len > end - r->pos)
        return bad(r, at, "length runs past the end");
    *p = r->buf + r->pos;
    *n = (size_t)len;
    r->pos += (size_t)len;
    return 0;
}

/* One PBLink in [r->pos, end). */
static int decode_link(reader_t *r, size_t end, ipvm_dagpb_link_t *l)
{
    memset(l, 0, sizeof *l);
    int last = 0; /* highest field number seen: fields must come 1, 2, 3, each once */
    bool has_hash = false;
    size_t link_at = r->pos;
    while (r->pos < end) {
        size_t at = r->pos;
        uint64_t key;
        int rc = get_varint(r, end, &key);
        if (rc)
            return rc;
        uint64_t field = key >> 3, wire = key & 7;
        if (field < 1 || field > 3)
            return bad(r, at, "unknown field in PBLink");
        if ((int)field <= last)
            return bad(r, at, (int)field == last ? "duplicate field in PBLink"
                                                 : "PBLink fields out of order (Hash, Name, "
                                                   "Tsize)");
        last = (int)field;
        if (field == 3) {
            if (wire != 0)
                return bad(r, at, "PBLink Tsize must have wire type 0 (varint)");
            if ((rc = get_varint(r, end, &l->tsize)) != 0)
                return rc;
            l->has_tsize = true;
            continue;
        }
        if (wire != 2)
            return bad(r, at, field == 1 ? "PBLink Hash must have wire type 2 (bytes)"
                                         : "PBLink Name must have wire type 2 (bytes)");
        const uint8_t *p;
        size_t n;
        size_t val_at = r->pos;
        if ((rc = get_bytes(r, end, &p, &n)) != 0)
            return rc;
        if (field == 1) {
            ipvm_error_t e;
            ipvm_error_clear(&e);
            if (ipvm_cid_from_bytes(&l->hash, p, n, &e) != 0)
                return ipvm_error_set(r->err, IPVM_EDAGPB, val_at,
                                      "dag-pb: PBLink Hash is not a CID (%s)", e.msg);
            has_hash = true;
        } else {
            if (ipvm__utf8_check(p, n) != SIZE_MAX)
                return bad(r, val_at, "PBLink Name is not valid UTF-8");
            l->name = (const char *)p;
            l->name_len = n;
        }
    }
    if (!has_hash)
        return bad(r, link_at, "PBLink has no Hash");
    return 0;
}

int ipvm_dagpb_decode(const uint8_t *buf, size_t len, ipvm_arena_t *arena, ipvm_dagpb_node_t *out,
                      ipvm_error_t *err)
{
    IPVM_MISUSE_IF(arena == NULL || out == NULL || (buf == NULL && len > 0));
    memset(out, 0, sizeof *out);
    reader_t r = {buf, len, 0, err};
    size_t cap = 0;
    bool links_done = false; /* a Data field came after some links: no more links allowed */
    ipvm_dagpb_link_t *links = NULL;
    while (r.pos < len) {
        size_t at = r.pos;
        uint64_t key;
        int rc = get_varint(&r, len, &key);
        if (rc)
            return rc;
        uint64_t field = key >> 3, wire = key & 7;
        if ((field != 1 && field != 2) || wire != 2)
            return bad(&r, at, field == 1 || field == 2 ? "PBNode field with a wire type other "
                                                          "than 2 (bytes)"
                                                        : "unknown field in PBNode");
        const uint8_t *p;
        size_t n;
        if ((rc = get_bytes(&r, len, &p, &n)) != 0)
            return rc;
        if (field == 1) {
            if (out->data)
                return bad(&r, at, "duplicate Data field");
            out->data = n ? p : (const uint8_t *)"";
            out->data_len = n;
            links_done = out->nlinks > 0;
            continue;
        }
        if (links_done)
            return bad(&r, at, "Links after Data after Links (the fields must not interleave)");
        if (out->nlinks == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            ipvm_dagpb_link_t *nl = ipvm_arena_alloc(arena, ncap * sizeof *nl);
            if (nl == NULL)
                return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
            if (out->nlinks)
                memcpy(nl, links, out->nlinks * sizeof *nl);
            links = nl;
            cap = ncap;
        }
        reader_t sub = {buf, (size_t)(p - buf) + n, (size_t)(p - buf), err};
        if ((rc = decode_link(&sub, sub.len, &links[out->nlinks])) != 0)
            return rc;
        out->nlinks++;
        out->links = links;
    }
    return 0;
}
