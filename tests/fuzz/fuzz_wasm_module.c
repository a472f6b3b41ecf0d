/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for Wasm module loading's parser (src/wasm/parse.c): bytes in; on failure the
 * error must be recorded with a message and an offset inside the input, and on success the copy
 * made for wasm2c (names replaced, custom sections dropped) must parse too, with the same
 * functions, imports and exports. wasm2c and the compilers are not run: they are slow, and
 * they only ever see modules that passed this parser. */
#include "fuzz.h"
#include "wasm/core_int.h"

#include <string.h>

IPVM_FUZZ_TARGET(wasm_module)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm__wasm_info_t in, again;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = ipvm__wasm_parse(data, size, &a, &in, &err);
    if (rc != 0) {
        IPVM_FUZZ_CHECK(err.code == rc && err.msg[0] != '\0');
        IPVM_FUZZ_CHECK(err.offset == IPVM_NO_OFFSET || err.offset <= size);
        ipvm_arena_dispose(&a);
        return 0;
    }
    for (uint32_t k = 0; k < in.nexports; k++)
        IPVM_FUZZ_CHECK(in.exports[k].func_index < in.nfuncs);
    ipvm_buf_t w = IPVM_BUF_INIT;
    IPVM_FUZZ_CHECK(ipvm__wasm_rewrite(&in, NULL, &w) == 0);
    ipvm_error_clear(&err);
    rc = ipvm__wasm_parse(w.data, w.len, &a, &again, &err);
    IPVM_FUZZ_CHECK(rc == 0);
    IPVM_FUZZ_CHECK(again.nfuncs == in.nfuncs && again.nimported == in.nimported);
    IPVM_FUZZ_CHECK(again.nexports == in.nexports && again.ncustoms == 0);
    IPVM_FUZZ_CHECK(again.has_memory == in.has_memory && again.nloops == in.nloops);
    for (uint32_t k = 0; k < in.nexports; k++)
        IPVM_FUZZ_CHECK(again.exports[k].func_index == in.exports[k].func_index);
    for (uint32_t k = 0; k < in.nfuncs - in.nimported; k++)
        IPVM_FUZZ_CHECK(again.func_flags[k] == in.func_flags[k]);
    /* the reduced module of the tcc tier (reduce.c) is a valid module of the same shape */
    uint8_t *live = ipvm_calloc(in.nfuncs ? in.nfuncs : 1, 1);
    uint32_t root = in.nexports ? in.exports[0].func_index : 0;
    IPVM_FUZZ_CHECK(live && ipvm__wasm_live(&in, &root, in.nexports ? 1 : 0, live) == 0);
    IPVM_FUZZ_CHECK(in.nexports == 0 || live[root]);
    ipvm_buf_clear(&w);
    IPVM_FUZZ_CHECK(ipvm__wasm_rewrite(&in, live, &w) == 0);
    ipvm_error_clear(&err);
    IPVM_FUZZ_CHECK(ipvm__wasm_parse(w.data, w.len, &a, &again, &err) == 0);
    IPVM_FUZZ_CHECK(again.nfuncs == in.nfuncs && again.nexports == in.nexports);
    ipvm_free(live);
    ipvm_buf_dispose(&w);
    ipvm_arena_dispose(&a);
    return 0;
}
