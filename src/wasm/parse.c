/* SPDX-License-Identifier: Apache-2.0 */
/* Reader and checker of the Wasm binary format (core spec 2.0, chapter 5 "Binary Format"):
 * sections and their order, types, imports, functions, tables, memory, globals, exports,
 * start, elements, data count, code (every instruction decoded, every index checked) and data,
 * plus custom sections. It refuses what wasm2c 1.0.32 cannot translate (SIMD, threads,
 * memory64, exceptions, tail calls, multi-memory) before wasm2c sees it; wasm2c's own
 * validator type-checks the code afterwards. Errors name what was wrong and the byte offset. */
#include "wasm/core_int.h"
#include "ipvm_int.h"

#include <string.h>

typedef struct rd_s {
    const uint8_t *b; /* the whole module */
    size_t pos, end;  /* current position and end of the current region */
    ipvm_error_t *err;
} rd_t;

#define MALFORMED(r, ...) ipvm_error_set((r)->err, IPVM_EWASM, (r)->pos, __VA_ARGS__)
#define UNSUPPORTED(r, off, ...) ipvm_error_set((r)->err, IPVM_EWASMUNSUPPORTED, (off), __VA_ARGS__)

static int rd_byte(rd_t *r, uint8_t *out, const char *what)
{
    *out = 0;
    if (r->pos >= r->end)
        return MALFORMED(r, "unexpected end of %s", what);
    *out = r->b[r->pos++];
    return 0;
}

static int rd_u32(rd_t *r, uint32_t *out, const char *what)
{
    uint64_t v = 0;
    size_t start = r->pos;
    *out = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        if (r->pos >= r->end)
            return MALFORMED(r, "unexpected end of %s", what);
        uint8_t c = r->b[r->pos++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            if (shift == 28 && (c & 0x70)) {
                r->pos = start;
                return MALFORMED(r, "%s: integer too large for u32", what);
            }
            *out = (uint32_t)v;
            return 0;
        }
    }
    r->pos = start;
    return MALFORMED(r, "%s: LEB128 integer longer than 5 bytes", what);
}

/* Signed LEB128 of `bits` bits (32, 33 or 64). */
static int rd_sleb(rd_t *r, int bits, int64_t *out, const char *what)
{
    uint64_t v = 0;
    size_t start = r->pos;
    int maxbytes = (bits + 6) / 7;
    *out = 0;
    for (int i = 0, shift = 0; i < maxbytes; i++, shift += 7) {
        if (r->pos >= r->end)
            return MALFORMED(r, "unexpected end of %s", what);
        uint8_t c = r->b[r->pos++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            if (i == maxbytes - 1) {
                /* the unused high bits of the last byte must all equal the sign bit */
                int used = bits - shift;             /* value bits in this byte */
                int sign = (c >> (used - 1)) & 1;
                uint8_t rest = (uint8_t)((c & 0x7f) >> used);
                uint8_t want = sign ? (uint8_t)(0x7f >> used) : 0;
                if (rest != want) {
                    r->pos = start;
                    return MALFORMED(r, "%s: integer too large for s%d", what, bits);
                }
            }
            shift += 7;
            if (shift < 64 && (c & 0x40))
                v |= ~(uint64_t)0 << shift;
            *out = (int64_t)v;
            return 0;
        }
    }
    r->pos = start;
    return MALFORMED(r, "%s: LEB128 integer longer than %d bytes", what, maxbytes);
}

static int rd_skip(rd_t *r, size_t n, const char *what)
{
    if (r->end - r->pos < n)
        return MALFORMED(r, "unexpected end of %s", what);
    r->pos += n;
    return 0;
}

/* A name (vec(byte), UTF-8). */
static int rd_name(rd_t *r, ipvm__wasm_span_t *out, const char *what)
{
    uint32_t n;
    int rc = rd_u32(r, &n, what);
    if (rc)
        return rc;
    size_t at = r->pos;
    if ((rc = rd_skip(r, n, what)) != 0)
        return rc;
    if (ipvm__utf8_check(r->b + at, n) != SIZE_MAX) {
        r->pos = at;
        return MALFORMED(r, "%s is not valid UTF-8", what);
    }
    out->off = (uint32_t)at;
    out->len = n;
    return 0;
}

const char *ipvm__wasm_valtype_name(uint8_t t)
{
    switch (t) {
    case 0x7f:
        return "i32";
    case 0x7e:
        return "i64";
    case 0x7d:
        return "f32";
    case 0x7c:
        return "f64";
    case 0x7b:
        return "v128";
    case 0x70:
        return "funcref";
    case 0x6f:
        return "externref";
    default:
        return "?";
    }
}

static int check_valtype(rd_t *r, uint8_t t, size_t at)
{
    switch (t) {
    case 0x7f:
    case 0x7e:
    case 0x7d:
    case 0x7c:
    case 0x70:
    case 0x6f:
        return 0;
    case 0x7b:
        return UNSUPPORTED(r, at,
                           "value type v128 at byte %zu: SIMD is not supported (wasm2c 1.0.32 "
                           "cannot translate it); build the guest without -msimd128",
                           at);
    default:
        r->pos = at;
        return MALFORMED(r, "invalid value type 0x%02x", t);
    }
}

static int rd_valtype(rd_t *r, uint8_t *out)
{
    size_t at = r->pos;
    int rc = rd_byte(r, out, "value type");
    return rc ? rc : check_valtype(r, *out, at);
}

static int rd_reftype(rd_t *r, uint8_t *out)
{
    size_t at = r->pos;
    int rc = rd_byte(r, out, "reference type");
    if (rc)
        return rc;
    if (*out != 0x70 && *out != 0x6f) {
        r->pos = at;
        return MALFORMED(r, "invalid reference type 0x%02x", *out);
    }
    return 0;
}

/* Limits; `kind` is "memory" or "table". */
static int rd_limits(rd_t *r, const char *kind, uint32_t *min, uint32_t *max, bool *has_max)
{
    size_t at = r->pos;
    uint8_t flags;
    int rc = rd_byte(r, &flags, "limits");
    if (rc)
        return rc;
    if (kind[0] == 'm' && (flags == 2 || flags == 3))
        return UNSUPPORTED(r, at, "shared memory at byte %zu: threads are not supported", at);
    if (kind[0] == 'm' && flags >= 4 && flags <= 7)
        return UNSUPPORTED(r, at, "64-bit memory at byte %zu: memory64 is not supported", at);
    if (flags > 1) {
        r->pos = at;
        return MALFORMED(r, "invalid %s limits flags 0x%02x", kind, flags);
    }
    if ((rc = rd_u32(r, min, "limits minimum")) != 0)
        return rc;
    *has_max = flags == 1;
    *max = UINT32_MAX;
    if (*has_max && (rc = rd_u32(r, max, "limits maximum")) != 0)
        return rc;
    if (*has_max && *max < *min) {
        r->pos = at;
        return MALFORMED(r, "%s limits: maximum %u is below minimum %u", kind, *max, *min);
    }
    return 0;
}

/* ---- module state while parsing ------------------------------------------------------------ */
typedef struct px_s {
    rd_t r;
    ipvm_arena_t *arena;
    ipvm__wasm_info_t *info;
    uint32_t ndefined;    /* functions declared in the function section */
    bool seen_code;
    ipvm_buf_t edges;     /* uint32 IPVM__WASM_EDGE_* of the body being read, then of all */
    ipvm_buf_t tabrefs;   /* uint32 functions named by elements and constant expressions */
} px_t;

static int push_u32(ipvm_buf_t *b, uint32_t v)
{
    return ipvm_buf_append(b, &v, sizeof v);
}

/* Copies a buffer of uint32 into the arena. */
static uint32_t *arena_u32s(px_t *p, const ipvm_buf_t *b, uint32_t *n)
{
    *n = (uint32_t)(b->len / sizeof(uint32_t));
    uint32_t *a = ipvm_arena_alloc(p->arena, b->len ? b->len : sizeof(uint32_t));
    if (a && b->len)
        memcpy(a, b->data, b->len);
    return a;
}

static void *px_alloc(px_t *p, size_t n, size_t size)
{
    if (n == 0)
        n = 1;
    return ipvm_arena_calloc(p->arena, n, size);
}

#define NOMEM(p) ipvm_error_set((p)->r.err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory")

static int rd_count(px_t *p, uint32_t *n, uint32_t max, const char *what)
{
    size_t at = p->r.pos;
    int rc = rd_u32(&p->r, n, what);
    if (rc)
        return rc;
    if (*n > max)
        return UNSUPPORTED(&p->r, at, "%s: %u is more than ipvm accepts (%u)", what, *n, max);
    /* every item takes at least one byte: cheap guard against huge allocations */
    if (*n > p->r.end - p->r.pos) {
        p->r.pos = at;
        return MALFORMED(&p->r, "%s: count %u is larger than the section", what, *n);
    }
    return 0;
}

static int sec_type(px_t *p)
{
    rd_t *r = &p->r;
    uint32_t n;
    int rc = rd_count(p, &n, IPVM__WASM_MAX_TYPES, "type count");
    if (rc)
        return rc;
    ipvm__wasm_functype_t *t = px_alloc(p, n, sizeof *t);
    if (!t)
        return NOMEM(p);
    for (uint32_t i = 0; i < n; i++) {
        size_t at = r->pos;
        uint8_t form;
        if ((rc = rd_byte(r, &form, "type")) != 0)
            return rc;
        if (form != 0x60) {
            r->pos = at;
            return MALFORMED(r, "type %u: expected a function type (0x60), got 0x%02x", i, form);
        }
        for (int pr = 0; pr < 2; pr++) {
            uint32_t cnt;
            if ((rc = rd_u32(r, &cnt, "type")) != 0)
                return rc;
            uint32_t max = pr == 0 ? IPVM__WASM_MAX_FUNC_PARAMS : IPVM__WASM_MAX_FUNC_RESULTS;
            if (cnt > max)
                return UNSUPPORTED(r, at, "type %u has %u %s (limit %u)", i, cnt,
                                   pr == 0 ? "parameters" : "results", max);
            const uint8_t *vt = r->b + r->pos;
            for (uint32_t k = 0; k < cnt; k++) {
                uint8_t v;
                if ((rc = rd_valtype(r, &v)) != 0)
                    return rc;
            }
            if (pr == 0) {
                t[i].nparams = cnt;
                t[i].params = vt;
            } else {
                t[i].nresults = cnt;
                t[i].results = vt;
            }
        }
    }
    p->info->types = t;
    p->info->ntypes = n;
    return 0;
}

static int check_type_index(px_t *p, uint32_t idx, size_t at, const char *what)
{
    if (idx >= p->info->ntypes) {
        p->r.pos = at;
        return MALFORMED(&p->r, "%s: type index %u out of range (%u types)", what, idx,
                         p->info->ntypes);
    }
    return 0;
}

static char *span_str(px_t *p, ipvm__wasm_span_t s)
{
    return ipvm_arena_strndup(p->arena, (const char *)p->r.b + s.off, s.len);
}

/* Fills a signature (params/results arrays capped) from a type. */
static bool fill_sig(const ipvm__wasm_functype_t *t, uint32_t *np, uint32_t *nr, uint8_t *params,
                     uint8_t *results)
{
    bool ok = t->nparams <= IPVM__WASM_MAX_PARAMS && t->nresults <= IPVM__WASM_MAX_RESULTS;
    *np = t->nparams;
    *nr = t->nresults;
    for (uint32_t k = 0; k < t->nparams && k < IPVM__WASM_MAX_PARAMS; k++) {
        params[k] = t->params[k];
        ok = ok && t->params[k] >= 0x7c && t->params[k] <= 0x7f;
    }
    for (uint32_t k = 0; k < t->nresults && k < IPVM__WASM_MAX_RESULTS; k++) {
        results[k] = t->results[k];
        ok = ok && t->results[k] >= 0x7c && t->results[k] <= 0x7f;
    }
    return ok;
}

static int sec_import(px_t *p)
{
    rd_t *r = &p->r;
    uint32_t n;
    int rc = rd_count(p, &n, IPVM__WASM_MAX_IMPORTS, "import count");
    if (rc)
        return rc;
    ipvm__wasm_import_t *imps = px_alloc(p, n, sizeof *imps);
    uint32_t *ftype = px_alloc(p, n, sizeof *ftype);
    if (!imps || !ftype)
        return NOMEM(p);
    uint32_t nf = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t at = r->pos;
        ipvm__wasm_span_t mod, field;
        uint8_t kind;
        if ((rc = rd_name(r, &mod, "import module name")) != 0 ||
            (rc = rd_name(r, &field, "import field name")) != 0 ||
            (rc = rd_byte(r, &kind, "import kind")) != 0)
            return rc;
        char *ms = span_str(p, mod), *fs = span_str(p, field);
        if (!ms || !fs)
            return NOMEM(p);
        if (kind == 0) {
            uint32_t ti;
            size_t tat = r->pos;
            if ((rc = rd_u32(r, &ti, "import type index")) != 0 ||
                (rc = check_type_index(p, ti, tat, "import")) != 0)
                return rc;
            ipvm__wasm_import_t *im = &imps[nf];
            im->module = ms;
            im->field = fs;
            fill_sig(&p->info->types[ti], &im->nparams, &im->nresults, im->params, im->results);
            ftype[nf++] = ti;
            continue;
        }
        static const char *const kinds[] = {"function", "table", "memory", "global", "tag"};
        if (kind == 4)
            return UNSUPPORTED(r, at, "import %s.%s at byte %zu is a tag: exceptions are not "
                               "supported", ms, fs, at);
        if (kind > 4) {
            r->pos = at;
            return MALFORMED(r, "import %s.%s: invalid kind 0x%02x", ms, fs, kind);
        }
        return ipvm_error_set(r->err, IPVM_ELINK, at,
                              "import %s.%s at byte %zu is a %s: ipvm only provides imported "
                              "functions (the guest must define its own %s)",
                              ms, fs, at, kinds[kind], kinds[kind]);
    }
    p->info->imports = imps;
    p->info->nimported = nf;
    p->info->func_type = ftype; /* grown by the function section */
    p->info->nfuncs = nf;
    return 0;
}

static int sec_function(px_t *p)
{
    rd_t *r = &p->r;
    uint32_t n;
    int rc = rd_count(p, &n, IPVM__WASM_MAX_FUNCS, "function count");
    if (rc)
        return rc;
    ipvm__wasm_info_t *in = p->info;
    if ((uint64_t)n + in->nimported > IPVM__WASM_MAX_FUNCS)
        return UNSUPPORTED(r, r->pos, "more than %u functions", IPVM__WASM_MAX_FUNCS);
    uint32_t *ft = px_alloc(p, (size_t)n + in->nimported, sizeof *ft);
    uint8_t *flags = px_alloc(p, n, 1);
    if (!ft || !flags)
        return NOMEM(p);
    if (in->nimported)
        memcpy(ft, in->func_type, in->nimported * sizeof *ft);
    for (uint32_t i = 0; i < n; i++) {
        size_t at = r->pos;
        uint32_t ti;
        if ((rc = rd_u32(r, &ti, "function type index")) != 0 ||
            (rc = check_type_index(p, ti, at, "function")) != 0)
            return rc;
        ft[in->nimported + i] = ti;
    }
    in->func_type = ft;
    in->func_flags = flags;
    in->nfuncs = in->nimported + n;
    p->ndefined = n;
    return 0;
}

static int sec_table(px_t *p)
{
    rd_t *r = &p->r;
    uint32_t n;
    int rc = rd_count(p, &n, IPVM__WASM_MAX_TABLES, "table count");
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t rt;
        uint32_t min, max;
        bool has_max;
        size_t at = r->pos;
        if ((rc = rd_reftype(r, &rt)) != 0 || (rc = rd_limits(r, "table", &min, &max, &has_max)))
            return rc;
        if (min > IPVM__WASM_MAX_TABLE_SIZE)
            return UNSUPPORTED(r, at, "table %u: %u elements is more than ipvm accepts (%u)", i,
                               min, IPVM__WASM_MAX_TABLE_SIZE);
    }
    p->info->ntables = n;
    return 0;
}

static int sec_memory(px_t *p)
{
    rd_t *r = &p->r;
    uint32_t n;
    size_t at = r->pos;
    int rc = rd_count(p, &n, 100, "memory count");
    if (rc)
        return rc;
    if (n > 1)
        return UNSUPPORTED(r, at, "%u memories at byte %zu: multiple memories are not supported",
                           n, at);
    ipvm__wasm_info_t *in = p->info;
    for (uint32_t i = 0; i < n; i++) {
        at = r->pos;
        if ((rc = rd_limits(r, "memory", &in->mem_min, &in->mem_max, &in->mem_has_max)) != 0)
            return rc;
        if (in->mem_min > 65536 || (in->mem_has_max && in->mem_max > 65536)) {
            r->pos = at;
            return MALFORMED(r, "memory size over 65536 pages (4 GiB)");
        }
        if (in->mem_min > IPVM__WASM_MAX_PAGES)
            return UNSUPPORTED(r, at, "memory of 65536 pages at byte %zu: ipvm supports up to "
                               "%u pages (4 GiB - 64 KiB)", at, IPVM__WASM_MAX_PAGES);
        if (!in->mem_has_max)
            in->mem_max = 65536;
        in->has_memory = true;
    }
    return 0;
}

/* ---- constant expressions -------------------------------------------------------------- */
static int const_expr(px_t *p, const char *what, uint32_t nglobals_visible)
{
    rd_t *r = &p->r;
    int rc;
    uint8_t op;
    size_t at = r->pos;
    if ((rc = rd_byte(r, &op, what)) != 0)
        return rc;
    int64_t v;
    uint32_t idx;
    switch (op) {
    case 0x41:
        rc = rd_sleb(r, 32, &v, what);
        break;
    case 0x42:
        rc = rd_sleb(r, 64, &v, what);
        break;
    case 0x43:
        rc = rd_skip(r, 4, what);
        break;
    case 0x44:
        rc = rd_skip(r, 8, what);
        break;
    case 0xd0: {
        uint8_t t;
        rc = rd_reftype(r, &t);
        break;
    }
    case 0xd2:
        at = r->pos;
        if ((rc = rd_u32(r, &idx, what)) == 0 && idx >= p->info->nfuncs) {
            r->pos = at;
            rc = MALFORMED(r, "%s: ref.func %u: no such function", what, idx);
        } else if (rc == 0 && push_u32(&p->tabrefs, idx) != 0) {
            rc = NOMEM(p);
        }
        break;
    case 0x23:
        at = r->pos;
        if ((rc = rd_u32(r, &idx, what)) == 0 && idx >= nglobals_visible) {
            r->pos = at;
            rc = MALFORMED(r, "%s: global.get %u: no such global here", what, idx);
        }
        break;
    case 0xfd:
        return UNSUPPORTED(r, at, "%s at byte %zu: SIMD is not supported", what, at);
    default:
        r->pos = at;
        return MALFORMED(r, "%s: opcode 0x%02x is not allowed in a constant expression", what, op);
    }
    if (rc)
        return rc;
    at = r->pos;
    if ((rc = rd_byte(r, &op, what)) != 0)
        return rc;
    if (op != 0x0b)
        return UNSUPPORTED(r, at, "%s at byte %zu: only one instruction is supported in a "
                           "constant expression (extended-const is not)", what, at);
    return 0;
}

static int sec_global(px_t *p)
{
    rd_t *r = &p->r;
    uint32_t n;
    int rc = rd_count(p, &n, IPVM__WASM_MAX_GLOBALS, "global count");
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t t, mut;
        size_t at;
        if ((rc = rd_valtype(r, &t)) != 0)
            return rc;
        at = r->pos;
        if ((rc = rd_byte(r, &mut, "global mutability")) != 0)
            return rc;
        if (mut > 1) {
            r->pos = at;
            return MALFORMED(r, "global %u: invalid mutability 0x%02x", i, mut);
        }
        if ((rc = const_expr(p, "global initializer", i)) != 0)
            return rc;
    }
    p->info->nglobals = n;
    return 0;
}

static int sec_export(px_t *p)
{
    rd_t *r = &p->r;
    uint32_t n;
    int rc = rd_count(p, &n, IPVM__WASM_MAX_EXPORTS, "export count");
    if (rc)
        return rc;
    ipvm__wasm_info_t *in = p->info;
    ipvm__wasm_export_t *ex = px_alloc(p, n, sizeof *ex);
    ipvm__wasm_span_t *names = px_alloc(p, n, sizeof *names);
    if (!ex || !names)
        return NOMEM(p);
    uint32_t nf = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t at = r->pos;
        uint8_t kind;
        uint32_t idx;
        if ((rc = rd_name(r, &names[i], "export name")) != 0 ||
            (rc = rd_byte(r, &kind, "export kind")) != 0 || (rc = rd_u32(r, &idx, "export")))
            return rc;
        /* duplicate names are invalid (quadratic only for pathological modules: n is capped) */
        for (uint32_t k = 0; k < i && n <= 4096; k++)
            if (names[k].len == names[i].len &&
                memcmp(r->b + names[k].off, r->b + names[i].off, names[i].len) == 0) {
                r->pos = at;
                return MALFORMED(r, "duplicate export name \"%.*s\"", (int)names[i].len,
                                 (const char *)r->b + names[i].off);
            }
        uint32_t limit = kind == 0 ? in->nfuncs : kind == 1 ? in->ntables
                         : kind == 2 ? (in->has_memory ? 1u : 0u) : kind == 3 ? in->nglobals : 0;
        if (kind > 3) {
            r->pos = at;
            return MALFORMED(r, "export \"%.*s\": invalid kind 0x%02x", (int)names[i].len,
                             (const char *)r->b + names[i].off, kind);
        }
        if (idx >= limit) {
            r->pos = at;
            return MALFORMED(r, "export \"%.*s\": index %u out of range", (int)names[i].len,
                             (const char *)r->b + names[i].off, idx);
        }
        if (kind == 2)
            in->memory_exported = true;
        if (kind != 0)
            continue;
        ipvm__wasm_export_t *e = &ex[nf++];
        if (!(e->name = (const char *)span_str(p, names[i])))
            return NOMEM(p);
        e->name_len = names[i].len;
        e->func_index = idx;
        e->callable = fill_sig(&in->types[in->func_type[idx]], &e->nparams, &e->nresults,
                               e->params, e->results);
    }
    in->exports = ex;
    in->nexports = nf;
    return 0;
}

static int sec_start(px_t *p)
{
    rd_t *r = &p->r;
    size_t at = r->pos;
    uint32_t idx;
    int rc = rd_u32(r, &idx, "start function");
    if (rc)
        return rc;
    if (idx >= p->info->nfuncs) {
        r->pos = at;
        return MALFORMED(r, "start function %u does not exist", idx);
    }
    const ipvm__wasm_functype_t *t = &p->info->types[p->info->func_type[idx]];
    if (t->nparams || t->nresults) {
        r->pos = at;
        return MALFORMED(r, "start function %u must take and return nothing", idx);
    }
    p->info->start = idx;
    return 0;
}

static int func_index_vec(px_t *p)
{
    rd_t *r = &p->r;
    uint32_t n;
    int rc = rd_count(p, &n, IPVM__WASM_MAX_TABLE_SIZE, "element count");
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        size_t at = r->pos;
        uint32_t f;
        if ((rc = rd_u32(r, &f, "element function index")) != 0)
            return rc;
        if (f >= p->info->nfuncs) {
            r->pos = at;
            return MALFORMED(r, "element: function %u does not exist", f);
        }
        if (push_u32(&p->tabrefs, f) != 0)
            return NOMEM(p);
    }
    return 0;
}

static int elem_exprs(px_t *p)
{
    uint32_t cnt;
    int rc = rd_count(p, &cnt, IPVM__WASM_MAX_TABLE_SIZE, "element count");
    for (uint32_t k = 0; rc == 0 && k < cnt; k++)
        rc = const_expr(p, "element expression", p->info->nglobals);
    return rc;
}

static int sec_elem(px_t *p)
{
    rd_t *r = &p->r;
    uint32_t n;
    int rc = rd_count(p, &n, IPVM__WASM_MAX_ELEM_SEGMENTS, "element segment count");
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        size_t at = r->pos;
        uint32_t flags, table = 0;
        if ((rc = rd_u32(r, &flags, "element segment")) != 0)
            return rc;
        if (flags > 7) {
            r->pos = at;
            return MALFORMED(r, "element segment %u: invalid flags %u", i, flags);
        }
        bool passive_or_decl = flags & 1, explicit_table = flags & 2, exprs = flags & 4;
        if (explicit_table && !passive_or_decl &&
            (rc = rd_u32(r, &table, "element table index")) != 0)
            return rc;
        if (!passive_or_decl) {
            if (table >= p->info->ntables) {
                r->pos = at;
                return MALFORMED(r, "element segment %u: table %u does not exist", i, table);
            }
            if ((rc = const_expr(p, "element offset", p->info->nglobals)) != 0)
                return rc;
        }
        if (passive_or_decl || explicit_table) {
            uint8_t k;
            if (exprs) {
                if ((rc = rd_reftype(r, &k)) != 0)
                    return rc;
            } else {
                size_t kat = r->pos;
                if ((rc = rd_byte(r, &k, "element kind")) != 0)
                    return rc;
                if (k != 0) {
                    r->pos = kat;
                    return MALFORMED(r, "element segment %u: invalid element kind 0x%02x", i, k);
                }
            }
        }
        size_t mark = p->tabrefs.len;
        if ((rc = exprs ? elem_exprs(p) : func_index_vec(p)) != 0)
            return rc;
        if (passive_or_decl && explicit_table) /* declarative: never in a table, no tabrefs */
            p->tabrefs.len = mark;
    }
    p->info->nelems = n;
    return 0;
}

static int sec_datacount(px_t *p)
{
    int rc = rd_u32(&p->r, &p->info->ndata, "data count");
    if (rc)
        return rc;
    if (p->info->ndata > IPVM__WASM_MAX_DATA_SEGMENTS)
        return UNSUPPORTED(&p->r, p->r.pos, "%u data segments (limit %u)", p->info->ndata,
                           IPVM__WASM_MAX_DATA_SEGMENTS);
    p->info->has_data_count = true;
    return 0;
}

static int sec_data(px_t *p)
{
    rd_t *r = &p->r;
    uint32_t n;
    size_t at0 = r->pos;
    int rc = rd_count(p, &n, IPVM__WASM_MAX_DATA_SEGMENTS, "data segment count");
    if (rc)
        return rc;
    if (p->info->has_data_count && n != p->info->ndata) {
        r->pos = at0;
        return MALFORMED(r, "data section has %u segments but the data count section says %u", n,
                         p->info->ndata);
    }
    if (!(p->info->data = px_alloc(p, n, sizeof *p->info->data)))
        return NOMEM(p);
    for (uint32_t i = 0; i < n; i++) {
        size_t at = r->pos;
        uint32_t flags, mem = 0, len;
        if ((rc = rd_u32(r, &flags, "data segment")) != 0)
            return rc;
        if (flags > 2) {
            r->pos = at;
            return MALFORMED(r, "data segment %u: invalid flags %u", i, flags);
        }
        if (flags == 2 && (rc = rd_u32(r, &mem, "data memory index")) != 0)
            return rc;
        if (flags != 1) {
            if (mem != 0 || !p->info->has_memory) {
                r->pos = at;
                return MALFORMED(r, "data segment %u: memory %u does not exist", i, mem);
            }
            if ((rc = const_expr(p, "data offset", p->info->nglobals)) != 0)
                return rc;
        }
        if ((rc = rd_u32(r, &len, "data segment size")) != 0)
            return rc;
        p->info->data[i] = (ipvm__wasm_span_t){(uint32_t)r->pos, len};
        if ((rc = rd_skip(r, len, "data segment")) != 0)
            return rc;
    }
    p->info->ndata = n;
    return 0;
}

/* ---- code -------------------------------------------------------------------------------- */
typedef struct body_s {
    uint32_t func;     /* function index */
    uint64_t nlocals;  /* params + declared locals */
    uint32_t depth;    /* open blocks, including the function's own */
    uint8_t flags;
    uint32_t loops;    /* open loops */
    uint64_t is_loop[IPVM__WASM_MAX_NESTING / 64 + 2]; /* bit d: the block at depth d is one */
} body_t;

static void set_loop_bit(body_t *b, bool loop)
{
    uint64_t bit = 1ull << (b->depth % 64);
    if (loop)
        b->is_loop[b->depth / 64] |= bit;
    else
        b->is_loop[b->depth / 64] &= ~bit;
}

/* A call: outside every loop it makes the function tick fuel at its entry (the rule is in
 * core_int.h at IPVM__WASM_FN_CALLS_OUT). */
static void saw_call(body_t *b)
{
    b->flags |= IPVM__WASM_FN_CALLS;
    if (b->loops == 0)
        b->flags |= IPVM__WASM_FN_CALLS_OUT;
}

static int block_type(px_t *p, body_t *b)
{
    rd_t *r = &p->r;
    size_t at = r->pos;
    if (r->pos >= r->end)
        return MALFORMED(r, "unexpected end of block type");
    uint8_t c = r->b[r->pos];
    if (c == 0x40) { /* no results */
        r->pos++;
        return 0;
    }
    if (c == 0x7f || c == 0x7e || c == 0x7d || c == 0x7c || c == 0x7b || c == 0x70 || c == 0x6f) {
        r->pos++;
        return check_valtype(r, c, at);
    }
    int64_t idx; /* a type index, as a non-negative s33 */
    int rc = rd_sleb(r, 33, &idx, "block type");
    if (rc)
        return rc;
    if (idx < 0 || (uint64_t)idx >= p->info->ntypes) {
        r->pos = at;
        return MALFORMED(r, "function %u: invalid block type (index %lld)", b->func,
                         (long long)idx);
    }
    return 0;
}

static int check_index(px_t *p, uint32_t idx, uint32_t limit, size_t at, const body_t *b,
                       const char *what)
{
    if (idx < limit)
        return 0;
    p->r.pos = at;
    return MALFORMED(&p->r, "function %u: %s %u out of range (%u)", b->func, what, idx, limit);
}

static int need_memory(px_t *p, size_t at, const body_t *b)
{
    if (p->info->has_memory)
        return 0;
    p->r.pos = at;
    return MALFORMED(&p->r, "function %u: memory instruction but the module has no memory",
                     b->func);
}

/* memarg: align (bit 6 would select a memory index: multi-memory), offset. */
static int memarg(px_t *p, size_t at, const body_t *b, uint32_t natural)
{
    rd_t *r = &p->r;
    uint32_t align, off;
    int rc = rd_u32(r, &align, "memarg");
    if (rc)
        return rc;
    if (align & 0x40)
        return UNSUPPORTED(r, at, "function %u at byte %zu: memory index in a load/store "
                           "(multi-memory) is not supported", b->func, at);
    if (align > natural) {
        r->pos = at;
        return MALFORMED(r, "function %u: alignment 2^%u is larger than natural (2^%u)", b->func,
                         align, natural);
    }
    if ((rc = rd_u32(r, &off, "memarg offset")) != 0)
        return rc;
    return need_memory(p, at, b);
}

static int zero_byte(px_t *p, const body_t *b, const char *what)
{
    size_t at = p->r.pos;
    uint8_t z;
    int rc = rd_byte(&p->r, &z, what);
    if (rc)
        return rc;
    if (z != 0)
        return UNSUPPORTED(&p->r, at, "function %u at byte %zu: %s with memory index %u "
                           "(multi-memory) is not supported", b->func, at, what, z);
    return 0;
}

/* An index immediate: a u32 named `op` in a read error, which must be below `limit` (`kind`
 * names it in a range error, which points at the index). */
static int index_imm(px_t *p, const body_t *b, uint32_t limit, const char *op, const char *kind,
                     uint32_t *out)
{
    size_t at = p->r.pos;
    int rc = rd_u32(&p->r, out, op);
    return rc ? rc : check_index(p, *out, limit, at, b, kind);
}

/* memory.init and data.drop name a data segment, which needs the data count section. */
static int data_index(px_t *p, size_t at, const body_t *b, const char *op)
{
    uint32_t x;
    if (!p->info->has_data_count) {
        p->r.pos = at;
        return MALFORMED(&p->r, "function %u: %s needs a data count section", b->func, op);
    }
    return index_imm(p, b, p->info->ndata, op, "data segment", &x);
}

/* 0xfc prefix: saturating truncation, bulk memory, table instructions. */
static int op_fc(px_t *p, size_t at, body_t *b)
{
    ipvm__wasm_info_t *in = p->info;
    uint32_t sub, x;
    int rc = rd_u32(&p->r, &sub, "0xfc opcode");
    if (rc)
        return rc;
    switch (sub) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7:
        return 0;
    case 8: /* memory.init data 0 */
        if ((rc = data_index(p, at, b, "memory.init")) || (rc = zero_byte(p, b, "memory.init")))
            return rc;
        return need_memory(p, at, b);
    case 9: /* data.drop */
        return data_index(p, at, b, "data.drop");
    case 10: /* memory.copy 0 0 */
        if ((rc = zero_byte(p, b, "memory.copy")) || (rc = zero_byte(p, b, "memory.copy")))
            return rc;
        return need_memory(p, at, b);
    case 11: /* memory.fill 0 */
        return (rc = zero_byte(p, b, "memory.fill")) ? rc : need_memory(p, at, b);
    case 12: /* table.init elem table */
        if ((rc = index_imm(p, b, in->nelems, "table.init", "element segment", &x)))
            return rc;
        return index_imm(p, b, in->ntables, "table.init", "table", &x);
    case 13: /* elem.drop */
        return index_imm(p, b, in->nelems, "elem.drop", "element segment", &x);
    case 14: /* table.copy t t */
        if ((rc = index_imm(p, b, in->ntables, "table.copy", "table", &x)))
            return rc;
        return index_imm(p, b, in->ntables, "table.copy", "table", &x);
    case 15: case 16: case 17: /* table.grow, table.size, table.fill */
        return index_imm(p, b, in->ntables, "table instruction", "table", &x);
    default:
        p->r.pos = at;
        return MALFORMED(&p->r, "function %u: unknown opcode 0xfc %u", b->func, sub);
    }
}

/* Natural alignment (log2) of the loads and stores 0x28..0x3e. */
static const uint8_t natural_align[23] = {2, 3, 2, 3, 0, 0, 1, 1, 0, 0, 1, 1, 2, 2,
                                          2, 3, 2, 3, 0, 1, 0, 1, 2};

/* block, loop, if: one level deeper, and a loop is counted for the fuel rule. */
static int open_block(px_t *p, uint8_t op, size_t at, body_t *b)
{
    if (++b->depth > IPVM__WASM_MAX_NESTING)
        return UNSUPPORTED(&p->r, at, "function %u: blocks nested deeper than %u", b->func,
                           IPVM__WASM_MAX_NESTING);
    set_loop_bit(b, op == 0x03);
    if (op == 0x03) {
        b->flags |= IPVM__WASM_FN_LOOPS;
        p->info->nloops++;
        b->loops++;
    }
    return block_type(p, b);
}

static int br_table(px_t *p, size_t at, const body_t *b)
{
    uint32_t n, x;
    int rc = rd_u32(&p->r, &n, "br_table");
    if (rc)
        return rc;
    if (n > IPVM__WASM_MAX_BR_TABLE)
        return UNSUPPORTED(&p->r, at, "function %u: br_table with %u targets", b->func, n);
    for (uint32_t k = 0; k <= n; k++) /* n targets and the default */
        if ((rc = index_imm(p, b, b->depth, "br_table", "branch depth", &x)))
            return rc;
    return 0;
}

/* A reference from the body, kept for reduce.c: a called function index, IPVM__WASM_EDGE_INDIRECT
 * | type index or IPVM__WASM_EDGE_REF | function index. */
static int add_edge(px_t *p, uint32_t edge)
{
    return push_u32(&p->edges, edge) ? NOMEM(p) : 0;
}

/* select t*: exactly one value type. */
static int typed_select(px_t *p, const body_t *b)
{
    rd_t *r = &p->r;
    size_t at = r->pos;
    uint32_t n;
    uint8_t t;
    int rc = rd_u32(r, &n, "select");
    if (rc)
        return rc;
    if (n != 1) {
        r->pos = at;
        return MALFORMED(r, "function %u: typed select must have one type", b->func);
    }
    return rd_valtype(r, &t);
}

/* Control instructions and those with index immediates. Returns 1 when `op` is not one. */
static int op_control(px_t *p, uint8_t op, size_t at, body_t *b)
{
    ipvm__wasm_info_t *in = p->info;
    uint32_t x;
    uint8_t t;
    int rc;
    switch (op) {
    case 0x02: case 0x03: case 0x04: /* block, loop, if */
        return open_block(p, op, at, b);
    case 0x05: /* else: checked by wasm2c's validator for pairing */
        return 0;
    case 0x0c: case 0x0d: /* br, br_if */
        return index_imm(p, b, b->depth, "branch", "branch depth", &x);
    case 0x0e:
        return br_table(p, at, b);
    case 0x10: /* call */
        saw_call(b);
        rc = index_imm(p, b, in->nfuncs, "call", "called function", &x);
        return rc ? rc : add_edge(p, x);
    case 0x11: /* call_indirect type table: the type is kept as an edge */
        saw_call(b);
        if ((rc = index_imm(p, b, in->ntypes, "call_indirect", "type", &x)) ||
            (rc = add_edge(p, IPVM__WASM_EDGE_INDIRECT | x)))
            return rc;
        return index_imm(p, b, in->ntables, "call_indirect", "table", &x);
    case 0x1c:
        return typed_select(p, b);
    case 0x20: case 0x21: case 0x22: /* local.get/set/tee */
        return index_imm(p, b, (uint32_t)b->nlocals, "local index", "local", &x);
    case 0x23: case 0x24: /* global.get/set */
        return index_imm(p, b, in->nglobals, "global index", "global", &x);
    case 0x25: case 0x26: /* table.get/set */
        return index_imm(p, b, in->ntables, "table index", "table", &x);
    case 0xd0: /* ref.null t */
        return rd_reftype(&p->r, &t);
    case 0xd2:
        rc = index_imm(p, b, in->nfuncs, "ref.func", "function", &x);
        return rc ? rc : add_edge(p, IPVM__WASM_EDGE_REF | x);
    default:
        return 1;
    }
}

static int unsupported_op(px_t *p, uint8_t op, size_t at, const body_t *b)
{
    const char *what = NULL;
    switch (op) {
    case 0x06: case 0x07: case 0x08: case 0x09: case 0x18: case 0x19:
        what = "exception handling (try/catch/throw) is not supported";
        break;
    case 0x12: case 0x13:
        what = "tail calls (return_call) are not supported";
        break;
    case 0x14: case 0x15: case 0xd3: case 0xd4: case 0xd5: case 0xd6:
        what = "typed function references are not supported";
        break;
    case 0xfb:
        what = "garbage collection instructions are not supported";
        break;
    case 0xfd:
        what = "SIMD is not supported (wasm2c 1.0.32 cannot translate it); build the guest "
               "without -msimd128";
        break;
    case 0xfe:
        what = "threads and atomics are not supported";
        break;
    default:
        break;
    }
    if (what)
        return UNSUPPORTED(&p->r, at, "function %u: opcode 0x%02x at byte %zu: %s", b->func, op,
                           at, what);
    p->r.pos = at;
    return MALFORMED(&p->r, "function %u: unknown opcode 0x%02x", b->func, op);
}

static int instruction(px_t *p, body_t *b)
{
    rd_t *r = &p->r;
    size_t at = r->pos;
    uint8_t op;
    int rc = rd_byte(r, &op, "function body");
    if (rc)
        return rc;
    int64_t v;
    if (op == 0x0b) { /* end */
        if (b->is_loop[b->depth / 64] & (1ull << (b->depth % 64)))
            b->loops--;
        b->depth--;
        return 0;
    }
    if ((op <= 0x01) || op == 0x0f || op == 0x1a || op == 0x1b || (op >= 0x45 && op <= 0xc4) ||
        op == 0xd1)
        return 0; /* no immediates */
    if ((rc = op_control(p, op, at, b)) <= 0)
        return rc;
    if (op >= 0x28 && op <= 0x3e)
        return memarg(p, at, b, natural_align[op - 0x28]);
    switch (op) {
    case 0x3f: case 0x40: /* memory.size, memory.grow */
        return (rc = zero_byte(p, b, op == 0x3f ? "memory.size" : "memory.grow"))
                   ? rc : need_memory(p, at, b);
    case 0x41:
        return rd_sleb(r, 32, &v, "i32.const");
    case 0x42:
        return rd_sleb(r, 64, &v, "i64.const");
    case 0x43:
        return rd_skip(r, 4, "f32.const");
    case 0x44:
        return rd_skip(r, 8, "f64.const");
    case 0xfc:
        return op_fc(p, at, b);
    default:
        return unsupported_op(p, op, at, b);
    }
}

static int one_body(px_t *p, uint32_t k)
{
    rd_t *r = &p->r;
    ipvm__wasm_info_t *in = p->info;
    uint32_t size, ngroups;
    size_t at = r->pos;
    int rc = rd_u32(r, &size, "function body size");
    if (rc)
        return rc;
    if (size > IPVM__WASM_MAX_BODY)
        return UNSUPPORTED(r, at, "function %u: body of %u bytes (limit %u)", in->nimported + k,
                           size, IPVM__WASM_MAX_BODY);
    if (size > r->end - r->pos)
        return MALFORMED(r, "function %u: body size %u runs past the code section",
                         in->nimported + k, size);
    size_t outer_end = r->end;
    r->end = r->pos + size;
    body_t b = {in->nimported + k, in->types[in->func_type[in->nimported + k]].nparams, 1, 0, 0,
                {0}};
    if ((rc = rd_u32(r, &ngroups, "locals")) != 0)
        return rc;
    for (uint32_t g = 0; g < ngroups; g++) {
        uint32_t cnt;
        uint8_t t;
        size_t lat = r->pos;
        if ((rc = rd_u32(r, &cnt, "locals")) || (rc = rd_valtype(r, &t)))
            return rc;
        b.nlocals += cnt;
        if (b.nlocals > IPVM__WASM_MAX_LOCALS)
            return UNSUPPORTED(r, lat, "function %u has more than %u locals", b.func,
                               IPVM__WASM_MAX_LOCALS);
    }
    while (b.depth > 0) {
        if (r->pos >= r->end)
            return MALFORMED(r, "function %u: body ends inside a block (missing end)", b.func);
        if ((rc = instruction(p, &b)) != 0)
            return rc;
    }
    if (r->pos != r->end)
        return MALFORMED(r, "function %u: %zu bytes after the final end", b.func,
                         r->end - r->pos);
    in->func_flags[k] = b.flags;
    in->bodies[k] = (ipvm__wasm_span_t){(uint32_t)at, (uint32_t)(r->end - at)};
    r->end = outer_end;
    return 0;
}

static int sec_code(px_t *p)
{
    rd_t *r = &p->r;
    uint32_t n;
    size_t at = r->pos;
    int rc = rd_count(p, &n, IPVM__WASM_MAX_FUNCS, "code count");
    if (rc)
        return rc;
    if (n != p->ndefined) {
        r->pos = at;
        return MALFORMED(r, "code section has %u bodies but the function section declares %u", n,
                         p->ndefined);
    }
    ipvm__wasm_info_t *in = p->info;
    if (!(in->bodies = px_alloc(p, n, sizeof *in->bodies)) ||
        !(in->edge_start = px_alloc(p, (size_t)n + 1, sizeof *in->edge_start)))
        return NOMEM(p);
    for (uint32_t k = 0; k < n; k++) {
        in->edge_start[k] = (uint32_t)(p->edges.len / sizeof(uint32_t));
        if ((rc = one_body(p, k)) != 0)
            return rc;
    }
    in->edge_start[n] = (uint32_t)(p->edges.len / sizeof(uint32_t));
    uint32_t nedges;
    if (!(in->edges = arena_u32s(p, &p->edges, &nedges)))
        return NOMEM(p);
    p->seen_code = true;
    return 0;
}

static int sec_custom(px_t *p, ipvm__wasm_section_t *s)
{
    ipvm__wasm_info_t *in = p->info;
    ipvm__wasm_span_t name;
    int rc = rd_name(&p->r, &name, "custom section name");
    if (rc)
        return rc;
    ipvm__wasm_custom_t *c = &in->customs[in->ncustoms++];
    c->name = name;
    c->data.off = (uint32_t)p->r.pos;
    c->data.len = (uint32_t)(s->body.off + s->body.len - p->r.pos);
    p->r.pos = p->r.end;
    return 0;
}

/* Position of a section id in the required order, or -1 for an unknown id. */
static int order_of(uint8_t id)
{
    static const int8_t rank[14] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 11, 6};
    return id < 14 ? rank[id] : -1;
}

static int one_section(px_t *p, ipvm__wasm_section_t *s)
{
    switch (s->id) {
    case 0: return sec_custom(p, s);
    case 1: return sec_type(p);
    case 2: return sec_import(p);
    case 3: return sec_function(p);
    case 4: return sec_table(p);
    case 5: return sec_memory(p);
    case 6: return sec_global(p);
    case 7: return sec_export(p);
    case 8: return sec_start(p);
    case 9: return sec_elem(p);
    case 10: return sec_code(p);
    case 11: return sec_data(p);
    case 12: return sec_datacount(p);
    default: /* 13: tag */
        return UNSUPPORTED(&p->r, s->start, "tag section at byte %u: exception handling is not "
                           "supported", s->start);
    }
}

/* Reads the section headers (id, size) into info->sections. */
static int scan_sections(px_t *p)
{
    rd_t *r = &p->r;
    ipvm__wasm_info_t *in = p->info;
    size_t cap = 16, ncustom = 0;
    ipvm__wasm_section_t *secs = ipvm_arena_alloc(p->arena, cap * sizeof *secs);
    if (!secs)
        return NOMEM(p);
    int last = 0;
    while (r->pos < r->end) {
        size_t at = r->pos;
        uint8_t id;
        uint32_t size;
        int rc;
        if ((rc = rd_byte(r, &id, "section")) || (rc = rd_u32(r, &size, "section size")))
            return rc;
        int ord = order_of(id);
        if (ord < 0) {
            r->pos = at;
            return MALFORMED(r, "unknown section id %u", id);
        }
        if (id != 0 && ord <= last) {
            r->pos = at;
            return MALFORMED(r, "section %u is out of order or repeated", id);
        }
        if (id != 0)
            last = ord;
        else
            ncustom++;
        if (size > r->end - r->pos)
            return MALFORMED(r, "section %u of %u bytes runs past the end of the module", id,
                             size);
        if (in->nsections == cap) {
            ipvm__wasm_section_t *bigger = ipvm_arena_alloc(p->arena, 2 * cap * sizeof *secs);
            if (!bigger)
                return NOMEM(p);
            memcpy(bigger, secs, cap * sizeof *secs);
            secs = bigger;
            cap *= 2;
        }
        secs[in->nsections++] = (ipvm__wasm_section_t){id, (uint32_t)at,
                                                        {(uint32_t)r->pos, size}};
        r->pos += size;
    }
    in->sections = secs;
    if (!(in->customs = px_alloc(p, ncustom, sizeof *in->customs)))
        return NOMEM(p);
    return 0;
}

static int parse_module(px_t *p, const uint8_t *bytes, size_t len)
{
    static const uint8_t magic[4] = {0x00, 'a', 's', 'm'};
    ipvm__wasm_info_t *out = p->info;
    ipvm_error_t *err = p->r.err;
    if (len < 8 || memcmp(bytes, magic, 4) != 0)
        return ipvm_error_set(err, IPVM_EWASM, 0, "not a Wasm module (no \\0asm header)");
    if (len > IPVM__WASM_MAX_MODULE)
        return ipvm_error_set(err, IPVM_EWASMUNSUPPORTED, IPVM_NO_OFFSET,
                              "module of %zu bytes is larger than ipvm accepts (%u)", len,
                              IPVM__WASM_MAX_MODULE);
    if (bytes[4] == 0x0d && bytes[5] == 0 && bytes[6] == 1 && bytes[7] == 0)
        return ipvm_error_set(err, IPVM_EWASM, 4, "this is a component, not a core module");
    if (bytes[4] != 1 || bytes[5] || bytes[6] || bytes[7])
        return ipvm_error_set(err, IPVM_EWASM, 4, "unknown Wasm version %02x %02x %02x %02x",
                              bytes[4], bytes[5], bytes[6], bytes[7]);
    p->r.pos = 8;
    int rc = scan_sections(p);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < out->nsections; i++) {
        ipvm__wasm_section_t *s = &out->sections[i];
        p->r.pos = s->body.off;
        p->r.end = s->body.off + s->body.len;
        if ((rc = one_section(p, s)) != 0)
            return rc;
        if (p->r.pos != p->r.end)
            return MALFORMED(&p->r, "section %u: %zu unread bytes at its end", s->id,
                             p->r.end - p->r.pos);
    }
    p->r.end = len;
    if (p->ndefined > 0 && !p->seen_code)
        return ipvm_error_set(err, IPVM_EWASM, len, "%u functions declared but no code section",
                              p->ndefined);
    if (out->has_data_count && out->ndata > 0) {
        bool seen = false;
        for (uint32_t i = 0; i < out->nsections; i++)
            seen |= out->sections[i].id == 11;
        if (!seen)
            return ipvm_error_set(err, IPVM_EWASM, len, "data count section says %u segments "
                                  "but there is no data section", out->ndata);
    }
    return (out->tabrefs = arena_u32s(p, &p->tabrefs, &out->ntabrefs)) ? 0 : NOMEM(p);
}

int ipvm__wasm_parse(const uint8_t *bytes, size_t len, ipvm_arena_t *arena,
                     ipvm__wasm_info_t *out, ipvm_error_t *err)
{
    memset(out, 0, sizeof *out);
    out->bytes = bytes;
    out->len = len;
    out->start = -1;
    px_t p = {{bytes, 0, len, err}, arena, out, 0, false, IPVM_BUF_INIT, IPVM_BUF_INIT};
    int rc = parse_module(&p, bytes, len);
    ipvm_buf_dispose(&p.edges);
    ipvm_buf_dispose(&p.tabrefs);
    return rc;
}
