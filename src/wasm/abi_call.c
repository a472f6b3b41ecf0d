/* SPDX-License-Identifier: Apache-2.0 */
/* The canonical ABI's side of wasm_int.h: component unwrapping, reading the WIT types at load,
 * calling an export with IPLD arguments (lower, invoke, lift, cabi_post_*), Homestar's function
 * name variants (homestar-wasm/src/wasmtime/world.rs `World::new`) and signatures for
 * `ipvm wasm inspect`. */
#include "wasm/abi_int.h"
#include "wasm/wasm_int.h"

#include <string.h>

/* ---------------------------------------------------------------------------- lookup ---- */
static const ipvm__abi_export_t *find_export(const ipvm__abi_t *abi, const char *func)
{
    char name[512];
    for (int v = 0; v < IPVM__ABI_NAME_VARIANTS; v++) {
        ipvm__abi_name_variant(func, v, name, sizeof name);
        for (size_t i = 0; i < abi->nexports; i++)
            if (strcmp(abi->exports[i].name, name) == 0)
                return &abi->exports[i];
    }
    return NULL;
}

long ipvm__wasm_abi_resolve(ipvm_wasm_module_t *m, const char *func)
{
    const ipvm__abi_t *abi = ipvm__wasm_module_abi(m);
    if (abi) {
        const ipvm__abi_export_t *x = find_export(abi, func);
        return x ? x->core_idx : -1;
    }
    char name[512];
    for (int v = 0; v < IPVM__ABI_NAME_VARIANTS; v++) {
        ipvm__abi_name_variant(func, v, name, sizeof name);
        long idx = ipvm__wasm_export_find(m, name, strlen(name));
        if (idx >= 0)
            return idx;
    }
    return -1;
}

const char *ipvm__wasm_abi_signature(ipvm_wasm_module_t *m, const char *export_name,
                                     ipvm_arena_t *arena)
{
    const ipvm__abi_t *abi = ipvm__wasm_module_abi(m);
    for (size_t i = 0; abi && i < abi->nexports; i++) {
        const ipvm__abi_export_t *x = &abi->exports[i];
        if (strcmp(x->name, export_name) != 0 && strcmp(x->core_name, export_name) != 0)
            continue;
        ipvm_buf_t b = IPVM_BUF_INIT;
        ipvm__wit_func_render(x->func, &b);
        const char *s = b.data ? ipvm_arena_strndup(arena, (const char *)b.data, b.len) : NULL;
        ipvm_buf_dispose(&b);
        return s;
    }
    return NULL;
}

/* ------------------------------------------------------------------------- loading ---- */
/* Every `component-type*` custom section of the core module (wit-component merges them). */
static int parse_sections(ipvm__abi_t *abi, const uint8_t *p, size_t len, bool *found,
                          ipvm_error_t *err)
{
    static const char prefix[] = "component-type";
    size_t i = 8;
    while (i < len) {
        uint8_t id = p[i++];
        uint64_t size = 0;
        for (int shift = 0; i < len && shift < 35; shift += 7) {
            uint8_t b = p[i++];
            size |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80))
                break;
        }
        if (size > len - i)
            return ipvm_error_set(err, IPVM_EWASM, i, "section runs past the end");
        size_t end = i + (size_t)size, j = i;
        uint64_t nlen = 0;
        for (int shift = 0; id == 0 && j < end && shift < 35; shift += 7) {
            uint8_t b = p[j++];
            nlen |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80))
                break;
        }
        if (id == 0 && nlen <= end - j && nlen >= sizeof prefix - 1 &&
            memcmp(p + j, prefix, sizeof prefix - 1) == 0) {
            *found = true;
            const uint8_t *payload = p + j + nlen;
            int rc = ipvm__abi_parse_world(abi, payload, (size_t)(end - j - nlen), err);
            if (rc < 0) {
                if (err)
                    err->offset += (size_t)(payload - p);
                return rc;
            }
        }
        i = end;
    }
    return 0;
}

static bool sig_equal(const uint8_t *a, uint32_t na, const uint8_t *b, uint32_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na) == 0);
}

static long find_core(ipvm_wasm_module_t *m, const char *name)
{
    return name ? ipvm__wasm_export_find(m, name, strlen(name)) : -1;
}

/* Resolves the core exports of each WIT export and checks their signatures. */
static void link_exports(ipvm_wasm_module_t *m, ipvm__abi_t *abi)
{
    const ipvm__wasm_export_t *ex;
    size_t nex;
    (void)ipvm__wasm_exports(m, &ex, &nex);
    static const uint8_t realloc_sig[4] = {IPVM__WASM_I32, IPVM__WASM_I32, IPVM__WASM_I32,
                                           IPVM__WASM_I32};
    for (size_t i = 0; i < abi->nexports; i++) {
        ipvm__abi_export_t *x = &abi->exports[i];
        const ipvm__wit_func_t *f = x->func;
        x->core_idx = find_core(m, x->core_name);
        x->post_idx = find_core(m, x->post_name);
        /* wit-component prefers cabi_export_realloc for a world's exports when it exists */
        x->realloc_idx = -1;
        if (abi->world && x->realloc_name && strcmp(x->realloc_name, "cabi_realloc") == 0)
            x->realloc_idx = find_core(m, "cabi_export_realloc");
        if (x->realloc_idx < 0)
            x->realloc_idx = find_core(m, x->realloc_name);
        const ipvm__wasm_export_t *c = x->core_idx >= 0 ? &ex[x->core_idx] : NULL;
        if (c == NULL) {
            x->unusable = ipvm_arena_printf(&abi->arena, "the core module does not export \"%s\"",
                                            x->core_name);
        } else if (!sig_equal(c->params, c->nparams, f->flat_params, f->nflat_params) ||
                   !sig_equal(c->results, c->nresults, f->flat_results, f->nflat_results)) {
            x->unusable = ipvm_arena_printf(&abi->arena, "core export \"%s\" does not have the "
                                            "flattened signature of its WIT type", x->core_name);
        }
        if (x->post_idx >= 0) {
            const ipvm__wasm_export_t *p = &ex[x->post_idx];
            if (!sig_equal(p->params, p->nparams, f->flat_results, f->nflat_results) ||
                p->nresults != 0)
                x->unusable = ipvm_arena_printf(&abi->arena, "\"%s\" has the wrong signature",
                                                x->post_name);
        }
        if (x->realloc_idx >= 0) {
            const ipvm__wasm_export_t *r = &ex[x->realloc_idx];
            if (!sig_equal(r->params, r->nparams, realloc_sig, 4) ||
                !sig_equal(r->results, r->nresults, realloc_sig, 1))
                x->realloc_idx = -1;
        }
    }
}

int ipvm__wasm_abi_prepare(ipvm_wasm_module_t *m, ipvm_error_t *err)
{
    ipvm__abi_t *abi = ipvm_calloc(1, sizeof *abi);
    if (abi == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    ipvm__abi_init(abi);
    size_t len;
    int rc;
    bool found = false;
    if (ipvm__wasm_module_is_component(m)) {
        const uint8_t *bin = ipvm__wasm_module_original(m, &len), *core;
        size_t core_len;
        found = true;
        rc = ipvm__abi_parse_component(abi, bin, len, &core, &core_len, err);
    } else {
        const uint8_t *bin = ipvm__wasm_module_bytes(m, &len);
        rc = parse_sections(abi, bin, len, &found, err);
    }
    if (rc < 0 || !found) {
        ipvm__wasm_abi_free(abi);
        return rc;
    }
    link_exports(m, abi);
    ipvm__wasm_module_set_abi(m, abi);
    return 0;
}

void ipvm__wasm_abi_free(void *p)
{
    ipvm__abi_t *abi = p;
    if (abi == NULL)
        return;
    ipvm__abi_dispose(abi);
    ipvm_free(abi);
}

/* --------------------------------------------------------------------------- calling ---- */
typedef struct call_s {
    ipvm__wasm_instance_t *inst;
    const ipvm__abi_export_t *x;
} call_t;

static uint8_t *call_base(void *ctx, uint64_t *size)
{
    call_t *c = ctx;
    return ipvm__wasm_memory(c->inst, size);
}

static int call_realloc(void *ctx, uint32_t align, uint32_t size, uint32_t *ptr,
                        ipvm_error_t *err)
{
    call_t *c = ctx;
    if (c->x->realloc_idx < 0)
        return ipvm_error_set(err, IPVM_EABI, IPVM_NO_OFFSET,
                              "the module exports no cabi_realloc to receive strings and lists");
    uint64_t args[4] = {0, 0, align, size}, res[IPVM__WASM_MAX_RESULTS] = {0};
    int rc = ipvm__wasm_invoke(c->inst, (uint32_t)c->x->realloc_idx, args, res, err);
    *ptr = (uint32_t)res[0];
    return rc;
}

static int no_function(const ipvm__abi_t *abi, const char *func, ipvm_error_t *err)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    for (size_t i = 0; i < abi->nexports && b.len < 200; i++)
        if (ipvm_buf_printf(&b, "%s%s", i ? ", " : "", abi->exports[i].name) < 0)
            break;
    int rc = ipvm_error_set(err, IPVM_ENOFUNC, IPVM_NO_OFFSET,
                            "no function \"%s\" (nor its kebab-case, snake_case or camelCase "
                            "spellings); the module exports: %s",
                            func, b.data ? (const char *)b.data : "nothing");
    ipvm_buf_dispose(&b);
    return rc;
}

int ipvm__wasm_abi_call(ipvm_wasm_module_t *m, ipvm__wasm_instance_t *i, const char *func,
                        const ipvm_ipld_t *args, ipvm_arena_t *arena, ipvm_ipld_t **result,
                        ipvm_error_t *err)
{
    const ipvm__abi_t *abi = ipvm__wasm_module_abi(m);
    *result = NULL;
    const ipvm__abi_export_t *x = find_export(abi, func);
    if (x == NULL)
        return no_function(abi, func, err);
    if (x->unusable)
        return ipvm_error_set(err, IPVM_EABI, IPVM_NO_OFFSET, "%s: %s", x->name, x->unusable);
    call_t c = {i, x};
    ipvm__abi_mem_t mem = {&c, call_base, call_realloc, x->encoding, 0, 0};
    uint64_t flat[IPVM__ABI_MAX_FLAT_PARAMS] = {0}, res[IPVM__WASM_MAX_RESULTS] = {0};
    int rc = ipvm__abi_lower_args(x->func, &mem, args, flat, err);
    if (rc == 0)
        rc = ipvm__wasm_invoke(i, (uint32_t)x->core_idx, flat, res, err);
    if (rc == 0)
        rc = ipvm__abi_lift_results(x->func, &mem, res, arena, result, err);
    if (rc == 0 && x->post_idx >= 0) { /* the guest frees what it returned */
        uint64_t none[IPVM__WASM_MAX_RESULTS];
        rc = ipvm__wasm_invoke(i, (uint32_t)x->post_idx, res, none, err);
    }
    if (rc < 0) {
        *result = NULL;
        if (rc == IPVM_EABI)
            (void)ipvm_error_prefix(err, "%s: ", x->name);
    }
    return rc;
}
