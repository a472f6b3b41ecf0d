/* SPDX-License-Identifier: Apache-2.0 */
/* Stand-ins for the canonical-ABI hooks of wasm_int.h until src/wasm/abi*.c provides them:
 * no component unwrapping, no WIT types (every module is called as a plain core module), and
 * name lookup by the simple Homestar variants. The wasm-abi engineer deletes this file in the
 * commit that adds the real definitions. */
#include "wasm/wasm_int.h"

#include <ctype.h>
#include <string.h>

int ipvm__wasm_component_core(const uint8_t *bin, size_t len, const uint8_t **core,
                              size_t *core_len, ipvm_error_t *err)
{
    (void)bin;
    (void)len;
    *core = NULL;
    *core_len = 0;
    return ipvm_error_set(err, IPVM_EWASMUNSUPPORTED, 4,
                          "unsupported component: this build cannot unwrap components yet");
}

int ipvm__wasm_abi_prepare(ipvm_wasm_module_t *m, ipvm_error_t *err)
{
    (void)m;
    (void)err;
    return 0;
}

void ipvm__wasm_abi_free(void *abi)
{
    (void)abi;
}

int ipvm__wasm_abi_call(ipvm_wasm_module_t *m, ipvm__wasm_instance_t *i, const char *func,
                        const ipvm_ipld_t *args, ipvm_arena_t *arena, ipvm_ipld_t **result,
                        ipvm_error_t *err)
{
    (void)m;
    (void)i;
    (void)args;
    (void)arena;
    *result = NULL;
    return ipvm_error_set(err, IPVM_ENOFUNC, IPVM_NO_OFFSET, "%s: no canonical ABI in this build",
                          func);
}

/* Writes one spelling of `func` into out: mode 0 kebab-case, 1 snake_case, 2 lowerCamelCase. */
static void variant(const char *func, int mode, char *out, size_t cap)
{
    size_t o = 0;
    bool upper = false;
    for (const char *p = func; *p && o + 1 < cap; p++) {
        char c = *p;
        if (c == '-' || c == '_') {
            if (mode == 2) {
                upper = true;
                continue;
            }
            c = mode == 0 ? '-' : '_';
        } else if (mode == 2 && upper) {
            c = (char)toupper((unsigned char)c);
            upper = false;
        } else if (mode != 2 && isupper((unsigned char)c) && p != func) {
            out[o++] = mode == 0 ? '-' : '_';
            c = (char)tolower((unsigned char)c);
            if (o + 1 >= cap)
                break;
        }
        out[o++] = c;
    }
    out[o] = '\0';
}

long ipvm__wasm_abi_resolve(ipvm_wasm_module_t *m, const char *func)
{
    long idx = ipvm__wasm_export_find(m, func, strlen(func));
    char buf[256];
    for (int mode = 0; idx < 0 && mode < 3; mode++) {
        variant(func, mode, buf, sizeof buf);
        idx = ipvm__wasm_export_find(m, buf, strlen(buf));
    }
    return idx;
}

const char *ipvm__wasm_abi_signature(ipvm_wasm_module_t *m, const char *export_name,
                                     ipvm_arena_t *arena)
{
    (void)m;
    (void)export_name;
    (void)arena;
    return NULL;
}
