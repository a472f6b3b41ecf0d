/* SPDX-License-Identifier: Apache-2.0 */
/* The UCAN policy language (ucan-wg/delegation "Policy"): jq-like selectors (identity, dotted
 * and quoted fields, list indexes from either end, slices, collection values `[]`, optional
 * `?`), the comparison, glob (`like`), connective and quantifier statements, their syntax check
 * and their evaluation against an invocation's arguments. */
#include "trust_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- selectors ------------------------------------------------------------------------------- */

typedef enum { SEG_FIELD, SEG_INDEX, SEG_SLICE, SEG_ITER } seg_kind_t;

typedef struct {
    seg_kind_t kind;
    bool optional;
    const char *key; /* SEG_FIELD: points into the selector or the scratch buffer */
    size_t key_len;
    int64_t a, b;    /* SEG_INDEX: a; SEG_SLICE: [a, b) with has_a/has_b */
    bool has_a, has_b;
} seg_t;

#define MAX_SEGS 64

typedef struct {
    seg_t segs[MAX_SEGS];
    size_t n;
    char keys[512]; /* unescaped quoted keys */
    size_t keys_used;
} path_t;

static int sel_err(ipvm_error_t *err, const char *sel, size_t len, size_t at, const char *why)
{
    return ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET, "selector '%.*s': %s (at character %zu)",
                          (int)(len > 100 ? 100 : len), sel, why, at);
}

static bool ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool ident_char(char c)
{
    return ident_start(c) || (c >= '0' && c <= '9');
}

/* Reads a decimal integer (optionally negative). */
static bool read_int(const char *s, size_t len, size_t *i, int64_t *out)
{
    bool neg = false;
    if (*i < len && s[*i] == '-') {
        neg = true;
        (*i)++;
    }
    size_t start = *i;
    int64_t v = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        if (v > (INT64_C(1) << 53))
            return false;
        v = v * 10 + (s[*i] - '0');
        (*i)++;
    }
    if (*i == start)
        return false;
    *out = neg ? -v : v;
    return true;
}

/* ["key"]: a JSON-style string with \" and \\ escapes, copied to the scratch buffer. */
static bool read_quoted(path_t *p, const char *s, size_t len, size_t *i, seg_t *seg)
{
    (*i)++; /* the opening quote */
    seg->key = p->keys + p->keys_used;
    size_t n = 0;
    while (*i < len && s[*i] != '"') {
        char c = s[*i];
        if (c == '\\') {
            if (*i + 1 >= len || (s[*i + 1] != '"' && s[*i + 1] != '\\'))
                return false;
            c = s[++*i];
        }
        if (p->keys_used + n + 1 >= sizeof p->keys)
            return false;
        p->keys[p->keys_used + n++] = c;
        (*i)++;
    }
    if (*i >= len)
        return false;
    (*i)++; /* the closing quote */
    seg->kind = SEG_FIELD;
    seg->key_len = n;
    p->keys[p->keys_used + n] = '\0';
    p->keys_used += n + 1;
    return true;
}

static int parse_bracket(path_t *p, const char *s, size_t len, size_t *i, seg_t *seg,
                         ipvm_error_t *err)
{
    size_t at = *i;
    (*i)++; /* '[' */
    if (*i < len && s[*i] == ']') {
        seg->kind = SEG_ITER;
    } else if (*i < len && s[*i] == '"') {
        if (!read_quoted(p, s, len, i, seg))
            return sel_err(err, s, len, at, "unterminated or malformed quoted field name");
    } else {
        seg->has_a = read_int(s, len, i, &seg->a);
        if (*i < len && s[*i] == ':') {
            (*i)++;
            seg->kind = SEG_SLICE;
            seg->has_b = read_int(s, len, i, &seg->b);
        } else if (seg->has_a) {
            seg->kind = SEG_INDEX;
        } else {
            return sel_err(err, s, len, at, "want [], [N], [-N], [A:B] or [\"key\"]");
        }
    }
    if (*i >= len || s[*i] != ']')
        return sel_err(err, s, len, at, "missing ']'");
    (*i)++;
    return 0;
}

static int parse_selector(const char *s, size_t len, path_t *p, ipvm_error_t *err)
{
    memset(p, 0, sizeof *p);
    if (len == 0 || s[0] != '.')
        return sel_err(err, s, len, 0, "a selector starts with '.'");
    size_t i = 1;
    if (len == 1)
        return 0;
    while (i < len) {
        if (p->n == MAX_SEGS)
            return sel_err(err, s, len, i, "too many segments");
        seg_t *seg = &p->segs[p->n];
        if (s[i] == '.') {
            if (i + 1 < len && s[i + 1] == '.')
                return sel_err(err, s, len, i, "'..' is not allowed");
            i++;
            if (i >= len || !ident_start(s[i]))
                return sel_err(err, s, len, i, "'.' must be followed by a field name or '['");
        }
        if (s[i] == '[') {
            int rc = parse_bracket(p, s, len, &i, seg, err);
            if (rc != 0)
                return rc;
        } else if (ident_start(s[i]) && (s[i - 1] == '.')) {
            seg->kind = SEG_FIELD;
            seg->key = s + i;
            while (i < len && ident_char(s[i]))
                i++;
            seg->key_len = (size_t)(s + i - seg->key);
        } else {
            return sel_err(err, s, len, i, "unexpected character");
        }
        while (i < len && s[i] == '?') { /* repeated optionals are one */
            seg->optional = true;
            i++;
        }
        p->n++;
    }
    return 0;
}

/* Children of a collection for `[]`: list items, map values, or bytes as integers. */
static ipvm_ipld_t *children(const ipvm_ipld_t *v, ipvm_arena_t *a, bool *ok)
{
    *ok = true;
    if (v->kind == IPVM_IPLD_LIST)
        return (ipvm_ipld_t *)v;
    size_t n = v->kind == IPVM_IPLD_MAP ? v->u.map.len
               : v->kind == IPVM_IPLD_BYTES ? v->u.str.len
                                            : 0;
    if (v->kind != IPVM_IPLD_MAP && v->kind != IPVM_IPLD_BYTES) {
        *ok = false;
        return NULL;
    }
    ipvm_ipld_t *l = ipvm_ipld_new_list(a, n);
    for (size_t i = 0; l && i < n; i++) {
        ipvm_ipld_t *c = v->kind == IPVM_IPLD_MAP
                             ? v->u.map.entries[i].value
                             : ipvm_ipld_new_int(a, (uint8_t)v->u.str.ptr[i]);
        if (c == NULL || ipvm_ipld_list_push(a, l, c) != 0)
            return NULL;
    }
    return l;
}

/* Index into a list or bytes; negative counts from the end. */
static const ipvm_ipld_t *index_of(const ipvm_ipld_t *v, int64_t idx, ipvm_arena_t *a,
                                   bool *oom)
{
    int64_t n = v->kind == IPVM_IPLD_LIST ? (int64_t)v->u.list.len : (int64_t)v->u.str.len;
    if (idx < 0)
        idx += n;
    if (idx < 0 || idx >= n)
        return NULL;
    if (v->kind == IPVM_IPLD_LIST)
        return v->u.list.items[idx];
    ipvm_ipld_t *r = ipvm_ipld_new_int(a, (uint8_t)v->u.str.ptr[idx]);
    *oom = r == NULL;
    return r;
}

static const ipvm_ipld_t *slice_of(const ipvm_ipld_t *v, const seg_t *s, ipvm_arena_t *a,
                                   bool *oom)
{
    int64_t n = v->kind == IPVM_IPLD_LIST ? (int64_t)v->u.list.len : (int64_t)v->u.str.len;
    int64_t lo = s->has_a ? s->a : 0, hi = s->has_b ? s->b : n;
    if (lo < 0)
        lo = lo + n < 0 ? 0 : lo + n;
    if (hi < 0)
        hi = hi + n < 0 ? 0 : hi + n;
    if (lo > n)
        lo = n;
    if (hi > n)
        hi = n;
    if (hi < lo)
        hi = lo;
    ipvm_ipld_t *r;
    if (v->kind == IPVM_IPLD_BYTES) {
        r = ipvm_ipld_new_bytes(a, (const uint8_t *)v->u.str.ptr + lo, (size_t)(hi - lo));
    } else {
        r = ipvm_ipld_new_list(a, (size_t)(hi - lo));
        for (int64_t i = lo; r && i < hi; i++)
            if (ipvm_ipld_list_push(a, r, v->u.list.items[i]) != 0)
                r = NULL;
    }
    *oom = r == NULL;
    return r;
}

/* One segment on one value: NULL when it does not resolve. */
static const ipvm_ipld_t *step(const seg_t *s, const ipvm_ipld_t *v, ipvm_arena_t *a, bool *oom)
{
    switch (s->kind) {
    case SEG_FIELD:
        if (v->kind != IPVM_IPLD_MAP)
            return NULL;
        {
            const ipvm_ipld_t *r = ipvm_ipld_map_getn(v, s->key, s->key_len);
            if (r)
                return r;
            /* a missing key selects null (delegation spec "Validation") */
            r = ipvm_ipld_new_null(a);
            *oom = r == NULL;
            return r;
        }
    case SEG_INDEX:
        if (v->kind != IPVM_IPLD_LIST && v->kind != IPVM_IPLD_BYTES)
            return NULL;
        return index_of(v, s->a, a, oom);
    case SEG_SLICE:
        if (v->kind != IPVM_IPLD_LIST && v->kind != IPVM_IPLD_BYTES)
            return NULL;
        return slice_of(v, s, a, oom);
    case SEG_ITER:
        break;
    }
    return NULL;
}

static const ipvm_ipld_t *resolve(const path_t *p, size_t i, const ipvm_ipld_t *v,
                                  ipvm_arena_t *a, bool *oom)
{
    for (; i < p->n; i++) {
        const seg_t *s = &p->segs[i];
        if (s->kind == SEG_ITER) {
            bool ok;
            ipvm_ipld_t *kids = children(v, a, &ok);
            if (!ok)
                return s->optional ? ipvm_ipld_new_null(a) : NULL;
            if (kids == NULL) {
                *oom = true;
                return NULL;
            }
            if (i + 1 == p->n)
                return kids;
            /* the rest of the path applies to each child */
            ipvm_ipld_t *r = ipvm_ipld_new_list(a, kids->u.list.len);
            for (size_t k = 0; r && k < kids->u.list.len; k++) {
                const ipvm_ipld_t *c = resolve(p, i + 1, kids->u.list.items[k], a, oom);
                if (c == NULL)
                    return NULL;
                if (ipvm_ipld_list_push(a, r, (ipvm_ipld_t *)c) != 0)
                    r = NULL;
            }
            *oom = *oom || r == NULL;
            return r;
        }
        const ipvm_ipld_t *next = step(s, v, a, oom);
        if (*oom)
            return NULL;
        if (next == NULL) {
            if (!s->optional)
                return NULL;
            return ipvm_ipld_new_null(a); /* '?' gives null and ends the selection */
        }
        v = next;
    }
    return v;
}

int ipvm_selector_eval(const char *sel, size_t len, const ipvm_ipld_t *v, ipvm_arena_t *arena,
                       const ipvm_ipld_t **out, ipvm_error_t *err)
{
    path_t p;
    int rc = parse_selector(sel, len, &p, err);
    if (rc != 0)
        return rc;
    bool oom = false;
    *out = resolve(&p, 0, v, arena, &oom);
    return oom ? ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory") : 0;
}

/* ---- like ------------------------------------------------------------------------------------ */

bool ipvm_policy_like(const char *pat, size_t plen, const char *s, size_t slen)
{
    /* iterative glob with one backtrack point (the last '*') */
    size_t p = 0, i = 0, star_p = (size_t)-1, star_i = 0;
    while (i < slen) {
        if (p < plen && pat[p] == '*') {
            star_p = ++p;
            star_i = i;
            continue;
        }
        if (p < plen) {
            char c = pat[p];
            size_t w = 1;
            if (c == '\\' && p + 1 < plen && pat[p + 1] == '*') {
                c = '*';
                w = 2;
            }
            if (c == s[i]) {
                p += w;
                i++;
                continue;
            }
        }
        if (star_p == (size_t)-1)
            return false;
        p = star_p;
        i = ++star_i;
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}

/* ---- statements ------------------------------------------------------------------------------ */

typedef enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_LIKE, OP_AND, OP_OR, OP_NOT,
               OP_ALL, OP_ANY, OP_BAD } op_t;

static op_t op_of(const ipvm_ipld_t *v)
{
    static const char *const names[] = {"==", "!=", "<",   "<=",  ">",   ">=",
                                        "like", "and", "or", "not", "all", "any"};
    if (v->kind != IPVM_IPLD_STRING)
        return OP_BAD;
    for (int i = 0; i < OP_BAD; i++)
        if (ipvm_ipld_is_str(v, names[i]))
            return (op_t)i;
    return OP_BAD;
}

static int stmt_err(ipvm_error_t *err, const char *path, const char *why)
{
    return ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET, "statement %s: %s", path, why);
}

static int check_stmt(const ipvm_ipld_t *st, const char *path, size_t depth, ipvm_error_t *err);

static int check_list(const ipvm_ipld_t *l, const char *path, size_t depth, ipvm_error_t *err)
{
    for (size_t i = 0; i < l->u.list.len; i++) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s.%zu", path, i);
        int rc = check_stmt(l->u.list.items[i], sub, depth + 1, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int check_sel(const ipvm_ipld_t *sel, const char *path, ipvm_error_t *err)
{
    if (sel->kind != IPVM_IPLD_STRING)
        return stmt_err(err, path, "the selector must be a string");
    path_t p;
    int rc = parse_selector(sel->u.str.ptr, sel->u.str.len, &p, err);
    if (rc != 0)
        ipvm_error_prefix(err, "statement %s: ", path);
    return rc;
}

static int check_stmt(const ipvm_ipld_t *st, const char *path, size_t depth, ipvm_error_t *err)
{
    if (depth > 64)
        return stmt_err(err, path, "nested too deeply");
    if (st->kind != IPVM_IPLD_LIST || st->u.list.len < 2)
        return stmt_err(err, path, "must be a list [operator, ...]");
    ipvm_ipld_t **it = st->u.list.items;
    size_t n = st->u.list.len;
    op_t op = op_of(it[0]);
    switch (op) {
    case OP_EQ:
    case OP_NE:
        return n != 3 ? stmt_err(err, path, "== and != take [op, selector, value]")
                      : check_sel(it[1], path, err);
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
        if (n != 3 || (it[2]->kind != IPVM_IPLD_INT && it[2]->kind != IPVM_IPLD_FLOAT))
            return stmt_err(err, path, "<, <=, >, >= take [op, selector, number]");
        return check_sel(it[1], path, err);
    case OP_LIKE:
        if (n != 3 || it[2]->kind != IPVM_IPLD_STRING)
            return stmt_err(err, path, "like takes [\"like\", selector, pattern string]");
        return check_sel(it[1], path, err);
    case OP_AND:
    case OP_OR:
        if (n != 2 || it[1]->kind != IPVM_IPLD_LIST)
            return stmt_err(err, path, "and/or take [op, [statements]]");
        return check_list(it[1], path, depth, err);
    case OP_NOT:
        return n != 2 ? stmt_err(err, path, "not takes [\"not\", statement]")
                      : check_stmt(it[1], path, depth + 1, err);
    case OP_ALL:
    case OP_ANY:
        if (n != 3)
            return stmt_err(err, path, "all/any take [op, selector, statement]");
        if (check_sel(it[1], path, err) != 0)
            return IPVM_EUCAN;
        return check_stmt(it[2], path, depth + 1, err);
    case OP_BAD:
        break;
    }
    return stmt_err(err, path, "unknown operator (want ==, !=, <, <=, >, >=, like, and, or, not, "
                               "all, any)");
}

int ipvm_policy_check(const ipvm_ipld_t *pol, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(pol == NULL);
    if (pol->kind != IPVM_IPLD_LIST)
        return ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET, "a policy is a list of statements");
    return check_list(pol, "", 0, err);
}

/* Numbers as doubles, exactly where they fit; ints compare exactly among themselves. */
static bool num_of(const ipvm_ipld_t *v, double *d)
{
    if (v->kind == IPVM_IPLD_FLOAT) {
        *d = v->u.f;
        return true;
    }
    if (v->kind == IPVM_IPLD_INT) {
        *d = v->u.integer.neg ? -1.0 - (double)v->u.integer.mag : (double)v->u.integer.mag;
        return true;
    }
    return false;
}

/* Deep equality where 1 == 1.0 (delegation spec "Comparisons"; the policy fixtures). */
static bool equal(const ipvm_ipld_t *a, const ipvm_ipld_t *b)
{
    double x, y;
    if (a->kind == IPVM_IPLD_INT && b->kind == IPVM_IPLD_INT)
        return a->u.integer.mag == b->u.integer.mag && a->u.integer.neg == b->u.integer.neg;
    if (num_of(a, &x) && num_of(b, &y))
        return x == y;
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case IPVM_IPLD_LIST:
        if (a->u.list.len != b->u.list.len)
            return false;
        for (size_t i = 0; i < a->u.list.len; i++)
            if (!equal(a->u.list.items[i], b->u.list.items[i]))
                return false;
        return true;
    case IPVM_IPLD_MAP:
        if (a->u.map.len != b->u.map.len)
            return false;
        for (size_t i = 0; i < a->u.map.len; i++) {
            const ipvm_ipld_entry_t *e = &a->u.map.entries[i];
            const ipvm_ipld_t *o = ipvm_ipld_map_getn(b, e->key, e->key_len);
            if (o == NULL || !equal(e->value, o))
                return false;
        }
        return true;
    default:
        return ipvm_ipld_equal(a, b);
    }
}

static int compare(op_t op, const ipvm_ipld_t *v, const ipvm_ipld_t *want)
{
    double x, y;
    if (!num_of(v, &x) || !num_of(want, &y))
        return false; /* comparing a non-number is false, never an error */
    if (v->kind == IPVM_IPLD_INT && want->kind == IPVM_IPLD_INT) {
        int64_t p, q;
        if (ipvm_ipld_get_i64(v, &p) == 0 && ipvm_ipld_get_i64(want, &q) == 0)
            return op == OP_LT ? p < q : op == OP_LE ? p <= q : op == OP_GT ? p > q : p >= q;
    }
    return op == OP_LT ? x < y : op == OP_LE ? x <= y : op == OP_GT ? x > y : x >= y;
}

typedef struct {
    ipvm_arena_t *arena;
    const ipvm_ipld_t *failed; /* the innermost statement that made the verdict false */
    bool oom;
} eval_t;

static bool eval_stmt(eval_t *e, const ipvm_ipld_t *st, const ipvm_ipld_t *args);

static const ipvm_ipld_t *select_in(eval_t *e, const ipvm_ipld_t *sel, const ipvm_ipld_t *args)
{
    path_t p;
    if (parse_selector(sel->u.str.ptr, sel->u.str.len, &p, NULL) != 0)
        return NULL;
    return resolve(&p, 0, args, e->arena, &e->oom);
}

static bool eval_quant(eval_t *e, op_t op, const ipvm_ipld_t *const *it, const ipvm_ipld_t *args)
{
    const ipvm_ipld_t *coll = select_in(e, it[1], args);
    if (coll == NULL || (coll->kind != IPVM_IPLD_LIST && coll->kind != IPVM_IPLD_MAP))
        return false; /* quantifying over a non-collection is false */
    size_t n = coll->kind == IPVM_IPLD_LIST ? coll->u.list.len : coll->u.map.len;
    for (size_t i = 0; i < n; i++) {
        const ipvm_ipld_t *c =
            coll->kind == IPVM_IPLD_LIST ? coll->u.list.items[i] : coll->u.map.entries[i].value;
        bool r = eval_stmt(e, it[2], c);
        if (op == OP_ALL && !r)
            return false;
        if (op == OP_ANY && r)
            return true;
    }
    return op == OP_ALL || n == 0; /* any over nothing: true, as or over nothing */
}

static bool eval_stmt(eval_t *e, const ipvm_ipld_t *st, const ipvm_ipld_t *args)
{
    const ipvm_ipld_t *const *it = (const ipvm_ipld_t *const *)st->u.list.items;
    op_t op = op_of(it[0]);
    bool r = false;
    const ipvm_ipld_t *v;
    switch (op) {
    case OP_EQ:
    case OP_NE:
        v = select_in(e, it[1], args);
        r = v != NULL && (equal(v, it[2]) == (op == OP_EQ));
        break;
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
        v = select_in(e, it[1], args);
        r = v != NULL && compare(op, v, it[2]);
        break;
    case OP_LIKE:
        v = select_in(e, it[1], args);
        r = v != NULL && v->kind == IPVM_IPLD_STRING &&
            ipvm_policy_like(it[2]->u.str.ptr, it[2]->u.str.len, v->u.str.ptr, v->u.str.len);
        break;
    case OP_AND:
    case OP_OR: {
        const ipvm_ipld_t *l = it[1];
        r = op == OP_AND || l->u.list.len == 0; /* both are true over an empty list */
        for (size_t i = 0; i < l->u.list.len; i++) {
            bool x = eval_stmt(e, l->u.list.items[i], args);
            if (op == OP_AND && !x) {
                r = false;
                break;
            }
            if (op == OP_OR && x) {
                r = true;
                break;
            }
        }
        break;
    }
    case OP_NOT: {
        const ipvm_ipld_t *saved = e->failed;
        r = !eval_stmt(e, it[1], args);
        e->failed = saved;
        break;
    }
    case OP_ALL:
    case OP_ANY:
        r = eval_quant(e, op, it, args);
        break;
    case OP_BAD:
        break;
    }
    if (!r && e->failed == NULL)
        e->failed = st;
    return r;
}

int ipvm_policy_eval(const ipvm_ipld_t *pol, const ipvm_ipld_t *args, bool *ok, ipvm_buf_t *why,
                     ipvm_error_t *err)
{
    IPVM_MISUSE_IF(pol == NULL || args == NULL || ok == NULL);
    int rc = ipvm_policy_check(pol, err);
    if (rc != 0)
        return rc;
    ipvm_arena_t arena;
    ipvm_arena_init(&arena);
    eval_t e = {&arena, NULL, false};
    *ok = true;
    for (size_t i = 0; i < pol->u.list.len && *ok; i++) {
        e.failed = NULL;
        if (!eval_stmt(&e, pol->u.list.items[i], args)) {
            *ok = false;
            if (why && e.failed) {
                /* the whole top-level statement reads best: it says what was asked */
                rc = ipvm_dagjson_encode(pol->u.list.items[i], 0, why, NULL);
                if (rc == IPVM_ENOMEM)
                    e.oom = true;
            }
        }
    }
    ipvm_arena_dispose(&arena);
    if (e.oom)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    return 0;
}
