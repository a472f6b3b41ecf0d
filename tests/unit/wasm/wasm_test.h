/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the Wasm engine's tests: engines with the shared test cache, guests written in
 * WAT (tests/unit/wasm/guests/, turned into binaries by wabt's wat2wasm), Homestar's vectors. */
#ifndef IPVM_WASM_TEST_H
#define IPVM_WASM_TEST_H

#include "test.h"
#include "wasm/wasm_int.h"

/* The disk cache shared by tests that do not test caching itself, so each module is compiled
 * by gcc once per build directory: IPVM_BINARY_DIR/test-wasm-cache. */
const char *wt_shared_cache(void);
/* A new engine: gcc_tier as in ipvm_wasm_engine_opts_t, cache_dir may be NULL. Fails the test
 * on error. */
ipvm_wasm_engine_t *wt_engine(int gcc_tier, const char *cache_dir);
/* Assembles WAT text into a module (wat2wasm, all features it knows on). */
void wt_wat(const char *wat, ipvm_buf_t *out);
/* Reads tests/unit/wasm/guests/<name>.wat and assembles it. */
void wt_guest(const char *name, ipvm_buf_t *out);
/* Loads a module or fails the test. */
ipvm_wasm_module_t *wt_load(ipvm_wasm_engine_t *e, const ipvm_buf_t *wasm);
/* wt_guest then wt_load: the module of tests/unit/wasm/guests/<name>.wat. */
ipvm_wasm_module_t *wt_load_guest(ipvm_wasm_engine_t *e, const char *name);
/* Calls func(args as DAG-JSON) and returns the rc; *out gets the result (in arena). */
int wt_call(ipvm_wasm_module_t *m, const char *func, const char *args_json,
            const ipvm_wasm_limits_t *limits, ipvm_arena_t *arena, ipvm_wasm_result_t *out,
            ipvm_error_t *err);
/* The result as compact DAG-JSON (in a static buffer). */
const char *wt_json(const ipvm_ipld_t *v);

#endif
