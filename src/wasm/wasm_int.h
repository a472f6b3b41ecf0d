/* SPDX-License-Identifier: Apache-2.0 */
/* wasm_int.h: the internal contract between the Wasm engine core (validation, wasm2c, libtcc and
 * gcc tiers, runtime, host functions: engine.c, parse.c, translate.c, compile.c, rt.c, host.c)
 * and the canonical ABI (the abi files: component-type section, WIT types, lift/lower, name variants,
 * component unwrapping). Nothing here is public API; include/ipvm/wasm.h is. */
#ifndef IPVM_WASM_INT_H
#define IPVM_WASM_INT_H

#include "ipvm.h"

/* Core value types, by their binary encoding (Wasm spec 5.3.1). Only these four cross the
 * engine's uniform calling convention; an export with any other type (v128, funcref,
 * externref) in its signature is listed but not callable. */
#define IPVM__WASM_I32 0x7f
#define IPVM__WASM_I64 0x7e
#define IPVM__WASM_F32 0x7d
#define IPVM__WASM_F64 0x7c

/* Limits of the uniform trampolines. The canonical ABI flattens to at most 16 params and 1
 * result (MAX_FLAT_PARAMS/RESULTS), well inside these. */
#define IPVM__WASM_MAX_PARAMS 32
#define IPVM__WASM_MAX_RESULTS 8

/* ------------------------------------------------------------------------------------------
 * Module internals the ABI needs. A module is immutable after ipvm_wasm_module_load returns,
 * so these accessors may be called from any thread without locking.
 * ---------------------------------------------------------------------------------------- */

/* The core module that is compiled and run (for a component: the core module inside it). */
const uint8_t *ipvm__wasm_module_bytes(ipvm_wasm_module_t *m, size_t *len /* out */);
/* The bytes exactly as given to ipvm_wasm_module_load (a core module or a component). */
const uint8_t *ipvm__wasm_module_original(ipvm_wasm_module_t *m, size_t *len /* out */);
/* True when the loaded bytes were a component (layer 1). */
bool ipvm__wasm_module_is_component(ipvm_wasm_module_t *m);

/* The first custom section of the core module whose name starts with `prefix` (e.g.
 * "component-type"). Returns 0 and sets data and len to its payload (after the name), pointing
 * into the module's bytes (valid while the module lives), or IPVM_ENOENT. */
int ipvm__wasm_custom_section(ipvm_wasm_module_t *m, const char *prefix,
                              const uint8_t **data /* out */, size_t *len /* out */);

/* One exported function of the core module, in export-section order. */
typedef struct ipvm__wasm_export_s {
    const char *name; /* NUL-terminated (a name holding NUL is listed but not findable) */
    size_t name_len;  /* bytes in name */
    uint32_t func_index;
    uint32_t nparams, nresults;
    uint8_t params[IPVM__WASM_MAX_PARAMS];   /* IPVM__WASM_I32, I64, F32 or F64 */
    uint8_t results[IPVM__WASM_MAX_RESULTS]; /* same */
    bool callable; /* false when the signature has other types or too many values */
} ipvm__wasm_export_t;

/* The function exports; export_index in ipvm__wasm_invoke indexes this list. The list lives as
 * long as the module. Always returns 0. */
int ipvm__wasm_exports(ipvm_wasm_module_t *m, const ipvm__wasm_export_t **list /* out */,
                       size_t *n /* out */);
/* Exact lookup by name: the export index, or -1. */
long ipvm__wasm_export_find(ipvm_wasm_module_t *m, const char *name, size_t len);

/* One import of the core module (only functions are supported: ipvm_wasm_module_load refuses
 * imported memories, tables and globals with IPVM_ELINK). */
typedef struct ipvm__wasm_import_s {
    const char *module, *field; /* NUL-terminated */
    uint32_t nparams, nresults;
    uint8_t params[IPVM__WASM_MAX_PARAMS];
    uint8_t results[IPVM__WASM_MAX_RESULTS];
} ipvm__wasm_import_t;
int ipvm__wasm_imports(ipvm_wasm_module_t *m, const ipvm__wasm_import_t **list /* out */,
                       size_t *n /* out */);

/* The ABI's per-module state. ipvm__wasm_abi_prepare stores it at load; the engine calls
 * ipvm__wasm_abi_free(abi) when the module is freed. NULL means "no WIT types": ipvm_wasm_call
 * then does the plain numeric call. */
void *ipvm__wasm_module_abi(ipvm_wasm_module_t *m);
void ipvm__wasm_module_set_abi(ipvm_wasm_module_t *m, void *abi);

/* ------------------------------------------------------------------------------------------
 * Instances: fresh per call, used by one thread at a time (any thread), discarded after any
 * trap (invoke on a trapped instance returns IPVM_ETRAP again without running anything).
 * The fuel and wall-clock limits cover the instance's whole life, from instantiate (which runs
 * the start function and the data initialisers) to free, across every invoke.
 * ---------------------------------------------------------------------------------------- */
typedef struct ipvm__wasm_instance_s ipvm__wasm_instance_t;

/* limits may be NULL or have zero fields: the engine's defaults fill them. Errors:
 * IPVM_ENOMEM, IPVM_ETRAP_* (the start function trapped, or the initial memory exceeds the
 * memory limit: IPVM_ETRAP_MEMORY). On failure *out is NULL and nothing is left to free. */
int ipvm__wasm_instantiate(ipvm_wasm_module_t *m, const ipvm_wasm_limits_t *limits,
                           ipvm__wasm_instance_t **out, ipvm_error_t *err);
/* Calls export `export_index` with args[nparams] (i32 zero-extended in the u64, i64 as is,
 * f32/f64 as their IEEE bits in the low 32/64 bits) and fills results[nresults] the same way.
 * Returns 0, IPVM_EINVAL (index out of range or export not callable), or a distinct
 * IPVM_ETRAP_* (OOB, UNREACHABLE, DIVZERO, OVERFLOW, CONVERSION, STACK, INDIRECT, FUEL,
 * TIMEOUT, MEMORY, EXIT; err says more). Host functions run on the calling thread. */
int ipvm__wasm_invoke(ipvm__wasm_instance_t *i, uint32_t export_index, const uint64_t *args,
                      uint64_t *results, ipvm_error_t *err);
/* Base and current byte size of memory 0 (NULL/0 when the module has none). The base is
 * stable in guard-page mode but may move after memory.grow in bounds mode: fetch it again
 * after every invoke. Every guest (ptr, len) must be checked against size before use. */
uint8_t *ipvm__wasm_memory(ipvm__wasm_instance_t *i, uint64_t *size /* out */);
/* Fuel consumed so far (deterministic: loop iterations + calls of non-leaf functions). */
uint64_t ipvm__wasm_fuel_used(ipvm__wasm_instance_t *i);
/* What the guest wrote to the task log so far (NUL-terminated; "" when nothing). */
const char *ipvm__wasm_log(ipvm__wasm_instance_t *i, size_t *len /* out, may be NULL */);
ipvm_wasm_module_t *ipvm__wasm_instance_module(ipvm__wasm_instance_t *i);
void ipvm__wasm_instance_free(ipvm__wasm_instance_t *i);

/* ------------------------------------------------------------------------------------------
 * Hooks the ABI implements in src/wasm/abi_*.c. Until those land, src/wasm/abi_default.c holds
 * defaults: WASM-ABI ENGINEER, DELETE abi_default.c IN THE COMMIT THAT ADDS YOUR DEFINITIONS
 * (they are plain, not weak, symbols: a static library does not let a strong definition
 * replace a weak one reliably).
 * ---------------------------------------------------------------------------------------- */

/* Unwraps a component (layer 1, version 0x0d) that wraps one core module: core and core_len
 * point into bin. Errors: IPVM_EWASMUNSUPPORTED ("unsupported component: ..."), IPVM_EWASM. */
int ipvm__wasm_component_core(const uint8_t *bin, size_t len, const uint8_t **core /* out */,
                              size_t *core_len /* out */, ipvm_error_t *err);
/* At load, after validation and before compiling: parse the WIT types (component-type custom
 * section, or the component's own sections when ipvm__wasm_module_is_component) and store them
 * with ipvm__wasm_module_set_abi. Leave abi NULL for a plain core module. An error fails the
 * load. */
int ipvm__wasm_abi_prepare(ipvm_wasm_module_t *m, ipvm_error_t *err);
/* Frees what abi_prepare stored (abi is never NULL here). */
void ipvm__wasm_abi_free(void *abi);
/* Calls `func` (resolved by Homestar's name variants) on the fresh instance i with `args` (an
 * IPLD list, borrowed), lowering by the WIT type and lifting the result into arena (*result:
 * null for no result). Uses ipvm__wasm_invoke for cabi_realloc, the function and cabi_post_*.
 * Errors: IPVM_ENOFUNC, IPVM_EABI, IPVM_ETRAP_* (passed through from invoke). Called by
 * ipvm_wasm_call only when ipvm__wasm_module_abi(m) != NULL. */
int ipvm__wasm_abi_call(ipvm_wasm_module_t *m, ipvm__wasm_instance_t *i, const char *func,
                        const ipvm_ipld_t *args, ipvm_arena_t *arena, ipvm_ipld_t **result,
                        ipvm_error_t *err);
/* Resolves `func` to an export index by Homestar's name variants (as given, kebab-case,
 * snake_case, lowerCamelCase...): used for plain core modules too. Returns the index or -1. */
long ipvm__wasm_abi_resolve(ipvm_wasm_module_t *m, const char *func);
/* The WIT signature of an export for `ipvm wasm inspect` ("func(a: s32) -> s32"), in arena,
 * or NULL when the module has no WIT type for it. */
const char *ipvm__wasm_abi_signature(ipvm_wasm_module_t *m, const char *export_name,
                                     ipvm_arena_t *arena);

#endif /* IPVM_WASM_INT_H */
