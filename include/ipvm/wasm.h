/* SPDX-License-Identifier: Apache-2.0 */
/* ipvm/wasm.h: the Wasm engine. Modules are validated, translated by wasm2c, compiled in memory
 * by libtcc (first tier) and by gcc -O2 in the background (second tier, cached on disk), then
 * called with IPLD arguments through the canonical ABI, under fuel, memory and time limits.
 * See DESIGN.md "The Wasm engine in one paragraph" and reference/wasm-engine.md. */
#ifndef IPVM_WASM_H
#define IPVM_WASM_H

#include "ipld.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipvm_wasm_engine_s ipvm_wasm_engine_t;
typedef struct ipvm_wasm_module_s ipvm_wasm_module_t;

#define IPVM_WASM_UNLIMITED UINT64_MAX

/* Limits for one call. A field of 0 means "the engine's default". */
typedef struct ipvm_wasm_limits_s {
    uint64_t fuel;    /* fuel units (loop headers + function entries); IPVM_WASM_UNLIMITED = none */
    uint64_t memory;  /* bytes of linear memory the guest may grow to */
    uint64_t time_ms; /* wall-clock milliseconds for the whole call */
} ipvm_wasm_limits_t;

typedef struct ipvm_wasm_engine_opts_s {
    const char *cache_dir;       /* where compiled .so files are kept; NULL: no disk cache */
    ipvm_wasm_limits_t defaults; /* used for fields a call leaves at 0 */
    int gcc_tier;                /* 1: compile with gcc -O2 in the background (default);
                                    0: tcc only; 2: wait for gcc before the first call */
    int isa;                     /* x86-64 level the gcc tier compiles for (ignored elsewhere):
                                    IPVM_WASM_ISA_AUTO (0, default) this CPU's x86-64-v2/v3/v4;
                                    IPVM_WASM_ISA_BASELINE (1) plain x86-64; 2..4 x86-64-vN, at
                                    most this CPU's (else ipvm_wasm_engine_new: IPVM_EUNSUPPORTED).
                                    Part of the cache key; results are the same at every level. */
} ipvm_wasm_engine_opts_t;

#define IPVM_WASM_ISA_AUTO 0
#define IPVM_WASM_ISA_BASELINE 1
#define IPVM_WASM_ISA_MAX 4

/* The highest x86-64 level this CPU and OS support (1 baseline .. 4 x86-64-v4), 0 when the
 * host is not x86-64. */
IPVM_EXTERN int ipvm_wasm_isa_host(void);
/* "auto", "baseline", "x86-64-v2", "x86-64-v3", "x86-64-v4" for 0..4; "?" otherwise. */
IPVM_EXTERN const char *ipvm_wasm_isa_name(int isa);
/* Parses one of those names (also "v2".."v4" and "x86-64"); IPVM_EINVAL naming the choices. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_wasm_isa_parse(const char *text, int *isa,
                                                    ipvm_error_t *err);

/* Creates an engine (one per process is the norm; it is thread-safe). opts is copied and may
 * be NULL for the defaults (no disk cache, fuel unlimited, 4 GiB memory, 100 s). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_wasm_engine_new(const ipvm_wasm_engine_opts_t *opts,
                                                     ipvm_wasm_engine_t **out,
                                                     ipvm_error_t *err);
/* Waits for background compilations, then frees. Modules must have been released. */
IPVM_EXTERN void ipvm_wasm_engine_free(ipvm_wasm_engine_t *engine);

/* Loads a module from its bytes (copied): a core module or a component wrapping one core
 * module. Validates it (IPVM_EWASM, IPVM_EWASMUNSUPPORTED with what and where), finds
 * it in the memory or disk cache or compiles it. Concurrent loads of the same bytes compile once.
 * The module is reference-counted: release it with ipvm_wasm_module_release. Any thread. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_wasm_module_load(ipvm_wasm_engine_t *engine,
                                                      const uint8_t *wasm, size_t len,
                                                      ipvm_wasm_module_t **out,
                                                      ipvm_error_t *err);
IPVM_EXTERN void ipvm_wasm_module_retain(ipvm_wasm_module_t *m);
IPVM_EXTERN void ipvm_wasm_module_release(ipvm_wasm_module_t *m);

/* What one call produced. */
typedef struct ipvm_wasm_result_s {
    ipvm_ipld_t *value; /* the result in IPLD (null for no result, a list for several) */
    uint64_t fuel_used; /* deterministic: the same on every run */
    uint64_t time_ns;   /* wall clock of instantiate + call */
    const char *log;    /* what the guest logged or wrote (WASI stdout/stderr, wasi:logging,
                           helpers.print), NUL-terminated, in the arena; "" when nothing */
    size_t log_len;
} ipvm_wasm_result_t;

/* Instantiates a fresh instance, calls `func` (found by Homestar's name variants: as given,
 * kebab-case, snake_case, lowerCamelCase...) with `args` (an IPLD list, borrowed) lowered by
 * the export's WIT type (or as plain numbers for a core module without WIT), lifts the result
 * to IPLD in `arena`, and discards the instance. Errors: IPVM_ENOFUNC, IPVM_EABI (argument does
 * not fit the type: err says which and why), IPVM_ETRAP_* (the trap; out->fuel_used and the log
 * are still filled). Any thread; calls run in parallel. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_wasm_call(ipvm_wasm_module_t *m, const char *func,
                                               const ipvm_ipld_t *args,
                                               const ipvm_wasm_limits_t *limits,
                                               ipvm_arena_t *arena, ipvm_wasm_result_t *out,
                                               ipvm_error_t *err);

/* Describes the module for `ipvm wasm inspect`: a DAG-JSON-ready IPLD map with exports (name,
 * WIT signature), imports, size, tier and whether it is cached on disk. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_wasm_module_describe(ipvm_wasm_module_t *m,
                                                          ipvm_arena_t *arena,
                                                          ipvm_ipld_t **out);

#ifdef __cplusplus
}
#endif
#endif /* IPVM_WASM_H */
