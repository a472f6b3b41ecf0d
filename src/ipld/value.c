/* SPDX-License-Identifier: Apache-2.0 */
/* The IPLD data model (ipld.io/docs/data-model): constructors into an arena, maps kept in
 * DAG-CBOR key order, accessors, path selection, deep equality and copy. */
#include "ipld_int.h"

#include <stdlib.h>

const char *ipvm_ipld_kind_name(ipvm_ipld_kind_t kind)
{
    switch (kind) {
    case IPVM_IPLD_NULL:
        return "null";
    case IPVM_IPLD_BOOL:
        return "bool";
    case IPVM_IPLD_INT:
        return "integer";
    case IPVM_IPLD_FLOAT:
        return "float";
    case IPVM_IPLD_STRING:
        return "string";
    case IPVM_IPLD_BYTES:
        return "bytes";
    case IPVM_IPLD_LIST:
        return "list";
    case IPVM_IPLD_MAP:
        return "map";
    case IPVM_IPLD_LINK:
        return "link";
    }
    return "unknown";
}

/* ------------------------------------------------------------------------- constructors -- */

static ipvm_ipld_t *new_node(ipvm_arena_t *a, ipvm_ipld_kind_t kind)
{
    ipvm_ipld_t *v = ipvm_arena_alloc(a, sizeof *v);
    if (v) {
        memset(v, 0, sizeof *v);
        v->kind = kind;
    }
    return v;
}

ipvm_ipld_t *ipvm_ipld_new_null(ipvm_arena_t *a)
{
    return new_node(a, IPVM_IPLD_NULL);
}

ipvm_ipld_t *ipvm_ipld_new_bool(ipvm_arena_t *a, bool b)
{
    ipvm_ipld_t *v = new_node(a, IPVM_IPLD_BOOL);
    if (v)
        v->u.boolean = b;
    return v;
}

ipvm_ipld_t *ipvm_ipld_new_int(ipvm_arena_t *a, int64_t i)
{
    ipvm_ipld_t *v = new_node(a, IPVM_IPLD_INT);
    if (v) {
        v->u.integer.neg = i < 0;
        /* -1 - i without overflow for INT64_MIN */
        v->u.integer.mag = i < 0 ? (uint64_t)(-(i + 1)) : (uint64_t)i;
    }
    return v;
}

ipvm_ipld_t *ipvm_ipld_new_uint(ipvm_arena_t *a, uint64_t u)
{
    ipvm_ipld_t *v = new_node(a, IPVM_IPLD_INT);
    if (v)
        v->u.integer.mag = u;
    return v;
}

ipvm_ipld_t *ipvm_ipld_new_float(ipvm_arena_t *a, double f)
{
    ipvm_ipld_t *v = new_node(a, IPVM_IPLD_FLOAT);
    if (v)
        v->u.f = f;
    return v;
}

static ipvm_ipld_t *new_str(ipvm_arena_t *a, ipvm_ipld_kind_t kind, const void *p, size_t len)
{
    ipvm_ipld_t *v = new_node(a, kind);
    if (v == NULL)
        return NULL;
    char *s = ipvm_arena_strndup(a, p, len);
    if (s == NULL)
        return NULL;
    v->u.str.ptr = s;
    v->u.str.len = len;
    return v;
}

ipvm_ipld_t *ipvm_ipld_new_string(ipvm_arena_t *a, const char *s, size_t len)
{
    return new_str(a, IPVM_IPLD_STRING, s, len);
}

ipvm_ipld_t *ipvm_ipld_new_cstring(ipvm_arena_t *a, const char *s)
{
    return new_str(a, IPVM_IPLD_STRING, s, strlen(s));
}

ipvm_ipld_t *ipvm_ipld_new_bytes(ipvm_arena_t *a, const uint8_t *p, size_t len)
{
    return new_str(a, IPVM_IPLD_BYTES, p, len);
}

ipvm_ipld_t *ipvm_ipld_new_link(ipvm_arena_t *a, const ipvm_cid_t *cid)
{
    ipvm_ipld_t *v = new_node(a, IPVM_IPLD_LINK);
    if (v == NULL)
        return NULL;
    v->u.link = ipvm_arena_memdup(a, cid, sizeof *cid);
    return v->u.link ? v : NULL;
}

ipvm_ipld_t *ipvm_ipld_new_list(ipvm_arena_t *a, size_t cap)
{
    ipvm_ipld_t *v = new_node(a, IPVM_IPLD_LIST);
    if (v == NULL)
        return NULL;
    if (cap) {
        if (cap > SIZE_MAX / sizeof(ipvm_ipld_t *))
            return NULL;
        v->u.list.items = ipvm_arena_alloc(a, cap * sizeof(ipvm_ipld_t *));
        if (v->u.list.items == NULL)
            return NULL;
        v->u.list.cap = cap;
    }
    return v;
}

ipvm_ipld_t *ipvm_ipld_new_map(ipvm_arena_t *a, size_t cap)
{
    ipvm_ipld_t *v = new_node(a, IPVM_IPLD_MAP);
    if (v == NULL)
        return NULL;
    v->u.map.sorted = true; /* an empty map is in order */
    if (cap) {
        if (cap > SIZE_MAX / sizeof(ipvm_ipld_entry_t))
            return NULL;
        v->u.map.entries = ipvm_arena_alloc(a, cap * sizeof(ipvm_ipld_entry_t));
        if (v->u.map.entries == NULL)
            return NULL;
        v->u.map.cap = cap;
    }
    return v;
}

/* Grows an arena array of `size`-byte elements to hold at least len + 1. */
static int grow(ipvm_arena_t *a, void **arr, size_t *cap, size_t len, size_t size)
{
    if (len < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 4;
    if (ncap > SIZE_MAX / size)
        return IPVM_ENOMEM;
    void *n = ipvm_arena_alloc(a, ncap * size);
    if (n == NULL)
        return IPVM_ENOMEM;
    if (len)
        memcpy(n, *arr, len * size);
    *arr = n;
    *cap = ncap;
    return 0;
}

int ipvm_ipld_list_push(ipvm_arena_t *a, ipvm_ipld_t *list, ipvm_ipld_t *item)
{
    IPVM_MISUSE_IF(list == NULL || list->kind != IPVM_IPLD_LIST || item == NULL);
    void *arr = list->u.list.items;
    int rc = grow(a, &arr, &list->u.list.cap, list->u.list.len, sizeof(ipvm_ipld_t *));
    if (rc)
        return rc;
    list->u.list.items = arr;
    list->u.list.items[list->u.list.len++] = item;
    return 0;
}

/* Binary search in a sorted map: the index of key, or where it would go (*found false). */
static size_t map_find(const ipvm_ipld_t *map, const char *key, size_t key_len, bool *found)
{
    size_t lo = 0, hi = map->u.map.len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const ipvm_ipld_entry_t *e = &map->u.map.entries[mid];
        int c = ipvm__ipld_key_cmp(e->key, e->key_len, key, key_len);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

int ipvm_ipld_map_set(ipvm_arena_t *a, ipvm_ipld_t *map, const char *key, size_t key_len,
                      ipvm_ipld_t *value)
{
    IPVM_MISUSE_IF(map == NULL || map->kind != IPVM_IPLD_MAP || value == NULL || key == NULL);
    if (!map->u.map.sorted)
        ipvm_ipld_map_sort(map);
    bool found = false;
    size_t at = map_find(map, key, key_len, &found);
    if (found && map->u.map.sorted) {
        map->u.map.entries[at].value = value;
        return 0;
    }
    char *k = ipvm_arena_strndup(a, key, key_len);
    if (k == NULL)
        return IPVM_ENOMEM;
    void *arr = map->u.map.entries;
    int rc = grow(a, &arr, &map->u.map.cap, map->u.map.len, sizeof(ipvm_ipld_entry_t));
    if (rc)
        return rc;
    map->u.map.entries = arr;
    ipvm_ipld_entry_t *e = map->u.map.entries;
    if (!map->u.map.sorted)
        at = map->u.map.len; /* it held duplicates: keep them, append */
    memmove(e + at + 1, e + at, (map->u.map.len - at) * sizeof *e);
    e[at].key = k;
    e[at].key_len = key_len;
    e[at].value = value;
    map->u.map.len++;
    return 0;
}

int ipvm_ipld_map_set_cstr(ipvm_arena_t *a, ipvm_ipld_t *map, const char *key,
                           ipvm_ipld_t *value)
{
    return ipvm_ipld_map_set(a, map, key, strlen(key), value);
}

static int entry_cmp(const void *pa, const void *pb)
{
    const ipvm_ipld_entry_t *a = pa, *b = pb;
    return ipvm__ipld_key_cmp(a->key, a->key_len, b->key, b->key_len);
}

/* True if the entries are strictly increasing (so sorted and free of duplicates). */
static bool entries_ordered(const ipvm_ipld_entry_t *e, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (ipvm__ipld_key_cmp(e[i - 1].key, e[i - 1].key_len, e[i].key, e[i].key_len) >= 0)
            return false;
    return true;
}

void ipvm_ipld_map_sort(ipvm_ipld_t *map)
{
    IPVM_MISUSE_IF(map == NULL || map->kind != IPVM_IPLD_MAP);
    ipvm_ipld_entry_t *e = map->u.map.entries;
    size_t n = map->u.map.len;
    if (!entries_ordered(e, n)) {
        /* mergesort would keep duplicates stable; qsort is enough: duplicates are an error
         * for every encoder anyway and `sorted` stays false for them */
        qsort(e, n, sizeof *e, entry_cmp);
    }
    map->u.map.sorted = entries_ordered(e, n);
}

const ipvm_ipld_entry_t *ipvm__ipld_sorted_entries(const ipvm_ipld_t *map,
                                                   ipvm_ipld_entry_t **tmp, bool *dup,
                                                   bool *oom)
{
    const ipvm_ipld_entry_t *e = map->u.map.entries;
    size_t n = map->u.map.len;
    *tmp = NULL;
    *dup = false;
    *oom = false;
    if (entries_ordered(e, n))
        return e;
    ipvm_ipld_entry_t *c = ipvm_malloc(n * sizeof *c);
    if (c == NULL) {
        *oom = true;
        return NULL;
    }
    memcpy(c, e, n * sizeof *c);
    qsort(c, n, sizeof *c, entry_cmp);
    *dup = !entries_ordered(c, n);
    *tmp = c;
    return c;
}

/* ---------------------------------------------------------------------------- accessors -- */

const ipvm_ipld_t *ipvm_ipld_map_getn(const ipvm_ipld_t *map, const char *key, size_t key_len)
{
    if (map == NULL || map->kind != IPVM_IPLD_MAP)
        return NULL;
    if (map->u.map.sorted) {
        bool found = false;
        size_t at = map_find(map, key, key_len, &found);
        return found ? map->u.map.entries[at].value : NULL;
    }
    for (size_t i = 0; i < map->u.map.len; i++) {
        const ipvm_ipld_entry_t *e = &map->u.map.entries[i];
        if (e->key_len == key_len && memcmp(e->key, key, key_len) == 0)
            return e->value;
    }
    return NULL;
}

const ipvm_ipld_t *ipvm_ipld_map_get(const ipvm_ipld_t *map, const char *key)
{
    return ipvm_ipld_map_getn(map, key, strlen(key));
}

int ipvm_ipld_get_i64(const ipvm_ipld_t *v, int64_t *out)
{
    if (v == NULL || v->kind != IPVM_IPLD_INT)
        return IPVM_EKIND;
    uint64_t m = v->u.integer.mag;
    if (m > (uint64_t)INT64_MAX)
        return IPVM_ETOOBIG;
    *out = v->u.integer.neg ? -1 - (int64_t)m : (int64_t)m;
    return 0;
}

int ipvm_ipld_get_u64(const ipvm_ipld_t *v, uint64_t *out)
{
    if (v == NULL || v->kind != IPVM_IPLD_INT)
        return IPVM_EKIND;
    if (v->u.integer.neg)
        return IPVM_ETOOBIG;
    *out = v->u.integer.mag;
    return 0;
}

bool ipvm_ipld_is_str(const ipvm_ipld_t *v, const char *s)
{
    if (v == NULL || v->kind != IPVM_IPLD_STRING)
        return false;
    size_t n = strlen(s);
    return v->u.str.len == n && memcmp(v->u.str.ptr, s, n) == 0;
}

/* A list index: decimal digits only, no sign, no leading zero (except "0"). */
static bool parse_index(const char *s, size_t n, size_t *out)
{
    if (n == 0 || (n > 1 && s[0] == '0'))
        return false;
    size_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (SIZE_MAX - 9) / 10)
            return false;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

const ipvm_ipld_t *ipvm_ipld_select(const ipvm_ipld_t *v, const char *path)
{
    const char *p = path;
    while (v && *p) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (v->kind == IPVM_IPLD_MAP) {
            v = ipvm_ipld_map_getn(v, p, n);
        } else if (v->kind == IPVM_IPLD_LIST) {
            size_t i;
            v = parse_index(p, n, &i) && i < v->u.list.len ? v->u.list.items[i] : NULL;
        } else {
            v = NULL;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return v;
}

/* --------------------------------------------------------------------- equality, clone -- */

bool ipvm_ipld_equal(const ipvm_ipld_t *a, const ipvm_ipld_t *b)
{
    if (a == b)
        return true;
    if (a == NULL || b == NULL || a->kind != b->kind)
        return false;
    switch (a->kind) {
    case IPVM_IPLD_NULL:
        return true;
    case IPVM_IPLD_BOOL:
        return a->u.boolean == b->u.boolean;
    case IPVM_IPLD_INT:
        return a->u.integer.mag == b->u.integer.mag && a->u.integer.neg == b->u.integer.neg;
    case IPVM_IPLD_FLOAT:
        return memcmp(&a->u.f, &b->u.f, sizeof a->u.f) == 0;
    case IPVM_IPLD_STRING:
    case IPVM_IPLD_BYTES:
        return a->u.str.len == b->u.str.len &&
               (a->u.str.len == 0 || memcmp(a->u.str.ptr, b->u.str.ptr, a->u.str.len) == 0);
    case IPVM_IPLD_LINK:
        return ipvm_cid_equal(a->u.link, b->u.link);
    case IPVM_IPLD_LIST:
        if (a->u.list.len != b->u.list.len)
            return false;
        for (size_t i = 0; i < a->u.list.len; i++)
            if (!ipvm_ipld_equal(a->u.list.items[i], b->u.list.items[i]))
                return false;
        return true;
    case IPVM_IPLD_MAP:
        if (a->u.map.len != b->u.map.len)
            return false;
        for (size_t i = 0; i < a->u.map.len; i++) {
            const ipvm_ipld_entry_t *e = &a->u.map.entries[i];
            const ipvm_ipld_entry_t *f = b->u.map.sorted && a->u.map.sorted ? &b->u.map.entries[i]
                                                                             : NULL;
            const ipvm_ipld_t *bv;
            if (f && f->key_len == e->key_len && memcmp(f->key, e->key, e->key_len) == 0)
                bv = f->value;
            else
                bv = ipvm_ipld_map_getn(b, e->key, e->key_len);
            if (!ipvm_ipld_equal(e->value, bv))
                return false;
        }
        return true;
    }
    return false;
}

ipvm_ipld_t *ipvm_ipld_clone(ipvm_arena_t *a, const ipvm_ipld_t *v)
{
    ipvm_ipld_t *c = ipvm_arena_alloc(a, sizeof *c);
    if (c == NULL)
        return NULL;
    *c = *v;
    switch (v->kind) {
    case IPVM_IPLD_STRING:
    case IPVM_IPLD_BYTES:
        c->u.str.ptr = ipvm_arena_strndup(a, v->u.str.ptr, v->u.str.len);
        return c->u.str.ptr ? c : NULL;
    case IPVM_IPLD_LINK:
        c->u.link = ipvm_arena_memdup(a, v->u.link, sizeof *v->u.link);
        return c->u.link ? c : NULL;
    case IPVM_IPLD_LIST: {
        size_t n = v->u.list.len;
        c->u.list.cap = n;
        c->u.list.items = NULL;
        if (n && (c->u.list.items = ipvm_arena_alloc(a, n * sizeof(ipvm_ipld_t *))) == NULL)
            return NULL;
        for (size_t i = 0; i < n; i++)
            if ((c->u.list.items[i] = ipvm_ipld_clone(a, v->u.list.items[i])) == NULL)
                return NULL;
        return c;
    }
    case IPVM_IPLD_MAP: {
        size_t n = v->u.map.len;
        c->u.map.cap = n;
        c->u.map.entries = NULL;
        if (n && (c->u.map.entries = ipvm_arena_alloc(a, n * sizeof(ipvm_ipld_entry_t))) == NULL)
            return NULL;
        for (size_t i = 0; i < n; i++) {
            const ipvm_ipld_entry_t *e = &v->u.map.entries[i];
            ipvm_ipld_entry_t *d = &c->u.map.entries[i];
            d->key_len = e->key_len;
            if ((d->key = ipvm_arena_strndup(a, e->key, e->key_len)) == NULL ||
                (d->value = ipvm_ipld_clone(a, e->value)) == NULL)
                return NULL;
        }
        return c;
    }
    default:
        return c;
    }
}
