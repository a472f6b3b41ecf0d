/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the canonical ABI tests: a plain byte buffer standing in for guest memory (with a
 * bump allocator as the guest's realloc), loading the WIT world of a Homestar fixture, and
 * DAG-JSON in and out. */
#ifndef IPVM_TEST_ABI_FIXTURE_H
#define IPVM_TEST_ABI_FIXTURE_H

#include "test.h"
#include "unit/wasm/abi_buf.h"
#include "wasm/abi_int.h"
#include "wasm/wasm_int.h"

#include <ctype.h>
#include <stdlib.h>

static inline void abi_buf_init(abi_buf_t *b, uint64_t size)
{
    memset(b, 0, sizeof *b);
    b->mem = calloc(1, size);
    IPVM_ASSERT(b->mem != NULL);
    b->size = size;
    b->next = 16; /* keep 0 unused so a null pointer stands out */
    abi_buf_wire(b);
}

static inline void abi_buf_dispose(abi_buf_t *b)
{
    free(b->mem);
}

/* An unsigned LEB128 at p[*i] (in a module the test trusts), moving *i past it. */
static inline uint64_t abi_leb(const uint8_t *p, size_t *i)
{
    uint64_t v = 0;
    for (int s = 0;; s += 7) {
        uint8_t b = p[(*i)++];
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80))
            return v;
    }
}

/* The payload of the first custom section whose name starts with prefix, or fails. */
static inline const uint8_t *abi_custom_section(const ipvm_buf_t *mod, const char *prefix,
                                                size_t *len)
{
    const uint8_t *p = mod->data;
    size_t i = 8, n = mod->len;
    while (i < n) {
        uint8_t id = p[i++];
        uint64_t size = abi_leb(p, &i);
        size_t end = i + (size_t)size;
        if (id == 0) {
            size_t j = i, nl = (size_t)abi_leb(p, &j);
            if (nl >= strlen(prefix) && memcmp(p + j, prefix, strlen(prefix)) == 0) {
                *len = end - j - nl;
                return p + j + nl;
            }
        }
        i = end;
    }
    ipvm_test_fail(__FILE__, __LINE__, "no custom section %s", prefix);
}

/* Parses the world in a Homestar fixture (tests/vectors/homestar/wasm/<file>) into abi. */
static inline void abi_load_world(ipvm__abi_t *abi, const char *file, ipvm_buf_t *mod)
{
    char rel[256];
    snprintf(rel, sizeof rel, "homestar/wasm/%s", file);
    ipvm_test_read_file(ipvm_test_vector(rel), mod);
    size_t len;
    const uint8_t *sec = abi_custom_section(mod, "component-type", &len);
    ipvm_error_t err;
    ipvm__abi_init(abi);
    IPVM_ASSERT_OK_ERR(ipvm__abi_parse_world(abi, sec, len, &err), &err);
}

static inline const ipvm__abi_export_t *abi_export(const ipvm__abi_t *abi, const char *name)
{
    for (size_t i = 0; i < abi->nexports; i++)
        if (strcmp(abi->exports[i].name, name) == 0)
            return &abi->exports[i];
    ipvm_test_fail(__FILE__, __LINE__, "no export %s", name);
}

static inline ipvm_ipld_t *abi_json(ipvm_arena_t *a, const char *json)
{
    ipvm_ipld_t *v;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_dagjson_decode(json, strlen(json), a, &v, &err), &err);
    return v;
}

/* DAG-JSON of v into out. */
static inline const char *abi_to_json(const ipvm_ipld_t *v, char *out, size_t cap)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_error_t e;
    IPVM_ASSERT_OK_ERR(ipvm_dagjson_encode(v, 0, &b, &e), &e);
    snprintf(out, cap, "%.*s", (int)b.len, (const char *)b.data);
    ipvm_buf_dispose(&b);
    return out;
}

static inline const char *render(const ipvm__wit_func_t *f, char *out, size_t cap)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm__wit_func_render(f, &b);
    snprintf(out, cap, "%.*s", (int)b.len, (const char *)b.data);
    ipvm_buf_dispose(&b);
    return out;
}

/* "float32" -> "f32", "float64" -> "f64" (WIT renamed them; wit-bindgen 0.21 wrote float32). */
static inline void normalize(char *s)
{
    char *p;
    while ((p = strstr(s, "float")) != NULL)
        memmove(p + 1, p + 5, strlen(p + 5) + 1);
}

/* Every `export NAME: func(...);` line of a WIT file must match the parsed signature. */
static inline int check_against_wit(const ipvm__abi_t *abi, const char *wit_path)
{
    ipvm_buf_t wit = IPVM_BUF_INIT;
    ipvm_test_read_file(wit_path, &wit);
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r((char *)wit.data, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        while (isspace((unsigned char)*line))
            line++;
        if (strncmp(line, "export ", 7) != 0)
            continue;
        char name[128], sig[512], got[1024];
        const char *colon = strchr(line, ':');
        IPVM_ASSERT(colon != NULL);
        snprintf(name, sizeof name, "%.*s", (int)(colon - line - 7), line + 7);
        snprintf(sig, sizeof sig, "%s", colon + 2);
        sig[strcspn(sig, ";")] = '\0';
        normalize(sig);
        IPVM_ASSERT_STREQ(render(abi_export(abi, name)->func, got, sizeof got), sig);
        n++;
    }
    ipvm_buf_dispose(&wit);
    return n;
}

#endif
