/* SPDX-License-Identifier: Apache-2.0 */
/* The engine and module structs, shared by engine.c (loading, cache, gcc worker) and
 * instance.c (instances, calls, limits, the timer). */
#ifndef IPVM_WASM_ENGINE_INT_H
#define IPVM_WASM_ENGINE_INT_H

#include "wasm/core_int.h"

enum { MOD_LOADING = 0, MOD_READY = 1 };

#define IPVM__MAX_PARTS 8 /* reduced tcc compiles per module; then the whole module */

struct gcc_job_s;

struct ipvm_wasm_engine_s {
    char *cache_dir;             /* NULL: no disk cache */
    char private_dir[4200];      /* gcc's output directory when there is no cache */
    ipvm_wasm_limits_t defaults; /* every field non-zero */
    int gcc_tier;                /* 0, 1 or 2 as in ipvm_wasm_engine_opts_t */
    bool probed, gcc_usable;
    bool no_fuel;                /* bench/wasm only: gcc code without fuel ticks */
    int isa;                     /* resolved x86-64 level of the gcc tier (ipvm__isa_resolve) */
    pthread_mutex_t lock;        /* everything below */
    pthread_cond_t cond;         /* a load finished; a gcc job finished */
    ipvm_wasm_module_t *modules; /* every loaded or loading module */
    size_t nmodules;
    uint64_t clock;              /* for least-recently-used eviction */
    struct gcc_job_s *jobs;      /* queued gcc compiles */
    int jobs_pending;            /* queued or running */
    pthread_cond_t job_cond;
    pthread_t worker;
    _Atomic int gcc_pid;         /* the gcc running now, or 0 */
    bool worker_started, stopping;
    /* wall-clock limits: instances with a deadline, and the thread that enforces them */
    ipvm__wasm_instance_t *timed;
    pthread_cond_t timer_cond;
    pthread_t timer;
    uint64_t timer_next;         /* when the timer wakes next */
    bool timer_started;
};

struct ipvm_wasm_module_s {
    ipvm_wasm_engine_t *engine;
    atomic_int refs;             /* callers' references + 1 for the engine's table */
    uint8_t hash[32];            /* sha2-256 of the bytes given to load */
    char hash_hex[65];
    char key[65];                /* cache key of the compiled code */
    uint8_t *orig;               /* the bytes as given (owned) */
    size_t orig_len;
    const uint8_t *core;         /* the core module (into orig) */
    size_t core_len;
    bool is_component;
    ipvm_arena_t arena;          /* info lives here */
    ipvm__wasm_info_t info;
    ipvm__host_fn_t *host;       /* [info.nimported] */
    void *abi;
    pthread_mutex_t code_lock;   /* tcc and parts */
    ipvm__code_t *tcc;           /* tier 1 of the whole module, once an instance needed it */
    struct {                     /* tier 1 of the functions some calls reach (reduce.c) */
        ipvm__code_t *code;
        uint8_t *live;           /* [info.nfuncs] */
    } parts[IPVM__MAX_PARTS];
    unsigned nparts;
    _Atomic(ipvm__code_t *) gcc; /* tier 2, once there */
    atomic_bool cached;          /* the .so is in the disk cache */
    bool from_cache;             /* loaded from the disk cache: nothing was compiled */
    ipvm__mem_pool_t pool;       /* freed memories for reuse */
    int state;                   /* MOD_*, under engine->lock */
    uint64_t last_used;
    ipvm_wasm_module_t *next;    /* engine->modules */
};

/* Runs the code's init_module under a trap guard. */
int ipvm__code_init(ipvm__code_t *code, ipvm_error_t *err);
/* The code for a new instance: gcc's once it is there; else libtcc's, compiled now if need
 * be: of the whole module when `need` is NULL, else of only what calls of the exports
 * need[0..n) can reach (and `_initialize`, the start function and the cabi_* exports, which
 * the canonical ABI calls), reusing an earlier such compile that covers them. */
int ipvm__module_code(ipvm_wasm_module_t *m, const uint32_t *need, size_t n,
                      const ipvm__code_t **out, ipvm_error_t *err);
void ipvm__engine_wait_jobs(ipvm_wasm_engine_t *e);
/* Background gcc compiles queued or running. */
int ipvm__engine_pending_jobs(ipvm_wasm_engine_t *e);
/* For bench/wasm only: this engine compiles (with gcc, gcc_tier 2) code that counts no fuel,
 * under its own cache key, to measure what fuel costs. Call before loading anything. */
void ipvm__engine_set_no_fuel(ipvm_wasm_engine_t *e);
/* Drops the queued gcc compiles and stops the running one (the modules stay on tcc). */
void ipvm__engine_cancel_jobs(ipvm_wasm_engine_t *e);

#endif
