/* SPDX-License-Identifier: Apache-2.0 */
/* core_int.h: what the files of the Wasm engine core share among themselves (not the ABI):
 * the parsed module (parse.c), the translation to C (translate.c), compiled code objects and
 * the compilers (compile.c), the runtime's per-thread state and trap codes (rt.c), host
 * functions (host.c), and the module and instance structs (engine.c). */
#ifndef IPVM_WASM_CORE_INT_H
#define IPVM_WASM_CORE_INT_H

#include "wasm/wasm_int.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>

/* ------------------------------------------------------------------------------------------
 * parse.c: our own reader of the binary format (Wasm core spec 2.0, chapter 5). It checks the
 * structure, every index and the features wasm2c 1.0.32 can translate, and keeps what the
 * engine needs. wasm2c's own validator then type-checks the code.
 * ---------------------------------------------------------------------------------------- */

/* Limits on what we accept (those of the JS API, "Implementation-defined limits"), so no
 * hostile module can make wasm2c or the C compilers allocate without bound. */
#define IPVM__WASM_MAX_MODULE (64u << 20)
#define IPVM__WASM_MAX_TYPES 1000000u
#define IPVM__WASM_MAX_FUNCS 1000000u
#define IPVM__WASM_MAX_IMPORTS 100000u
#define IPVM__WASM_MAX_EXPORTS 100000u
#define IPVM__WASM_MAX_GLOBALS 1000000u
#define IPVM__WASM_MAX_DATA_SEGMENTS 100000u
#define IPVM__WASM_MAX_ELEM_SEGMENTS 10000000u
#define IPVM__WASM_MAX_TABLES 100000u
#define IPVM__WASM_MAX_TABLE_SIZE 10000000u
#define IPVM__WASM_MAX_FUNC_PARAMS 1000u
#define IPVM__WASM_MAX_FUNC_RESULTS 1000u
#define IPVM__WASM_MAX_BODY 7654321u
#define IPVM__WASM_MAX_LOCALS 50000u
#define IPVM__WASM_MAX_BR_TABLE 1000000u
#define IPVM__WASM_MAX_NESTING 10000u
#define IPVM__WASM_MAX_PAGES 65535u /* wasm_rt_memory_t.size is a u32: 4 GiB - 64 KiB */

typedef struct ipvm__wasm_functype_s {
    uint32_t nparams, nresults;
    const uint8_t *params, *results; /* value types, one byte each, pointing into the module */
} ipvm__wasm_functype_t;

typedef struct ipvm__wasm_span_s {
    uint32_t off, len; /* bytes [off, off+len) of the core module */
} ipvm__wasm_span_t;

typedef struct ipvm__wasm_custom_s {
    ipvm__wasm_span_t name, data;
} ipvm__wasm_custom_t;

typedef struct ipvm__wasm_section_s {
    uint8_t id;
    uint32_t start;         /* offset of the id byte */
    ipvm__wasm_span_t body; /* the payload after the size */
} ipvm__wasm_section_t;

/* A parsed core module. Everything lives in the arena given to ipvm__wasm_parse; spans point
 * into the bytes given to it, which must outlive this. */
typedef struct ipvm__wasm_info_s {
    const uint8_t *bytes;
    size_t len;
    ipvm__wasm_functype_t *types;
    uint32_t ntypes;
    uint32_t nfuncs;       /* imported + defined */
    uint32_t nimported;    /* imported functions come first in the function index space */
    uint32_t *func_type;   /* [nfuncs] type index of every function */
    uint8_t *func_flags;   /* [nfuncs - nimported] IPVM__WASM_FN_* of each defined function */
    ipvm__wasm_import_t *imports; /* [nimported], the function imports */
    ipvm__wasm_export_t *exports; /* function exports, in export-section order */
    uint32_t nexports;
    bool has_memory;
    uint32_t mem_min, mem_max; /* pages; mem_max is 65536 when the module gives none */
    bool mem_has_max;
    bool memory_exported;
    uint32_t ntables, nglobals, nelems, ndata;
    bool has_data_count;
    int64_t start; /* start function index, or -1 */
    ipvm__wasm_custom_t *customs;
    uint32_t ncustoms;
    ipvm__wasm_section_t *sections; /* every section in file order */
    uint32_t nsections;
    uint32_t nloops; /* loop instructions in all bodies */
    /* What each defined function's body refers to, for the reachability of reduce.c: body k
     * (of the defined functions) is bytes[bodies[k].off, +len) (its size prefix included), and
     * its references are edges[edge_start[k] .. edge_start[k + 1]): a called function index, or
     * IPVM__WASM_EDGE_INDIRECT | type index (call_indirect), or IPVM__WASM_EDGE_REF | function
     * index (ref.func). tabrefs are the functions that element segments and constant
     * expressions name (what a table can hold). */
    ipvm__wasm_span_t *bodies;
    uint32_t *edge_start, *edges;
    uint32_t *tabrefs, ntabrefs;
    ipvm__wasm_span_t *data; /* [ndata] the bytes of each data segment */
} ipvm__wasm_info_t;

#define IPVM__WASM_EDGE_INDIRECT 0x80000000u
#define IPVM__WASM_EDGE_REF 0x40000000u
#define IPVM__WASM_EDGE_INDEX 0x3fffffffu

#define IPVM__WASM_FN_CALLS 1u /* the body contains call or call_indirect (not a leaf) */
#define IPVM__WASM_FN_LOOPS 2u /* the body contains a loop */
/* The body calls (call, call_indirect) outside every loop of its own. The fuel rule: one
 * unit at every pass through a loop header (entering the loop and each branch back to it)
 * and one at the entry of each function with this flag. That bounds the work between two
 * ticks: a pass through a loop body makes at most as many calls as the body has call sites,
 * and a function without the flag can only call after a tick of one of its loops. So a
 * recursion like clang's fib (its calls are in a loop) pays once per loop pass, not again per
 * call. The count depends only on the wasm: the same on every tier and every run. */
#define IPVM__WASM_FN_CALLS_OUT 4u

/* Parses and checks a core module (version 1). Errors: IPVM_EWASM (malformed: what and the
 * byte offset), IPVM_EWASMUNSUPPORTED (a feature wasm2c 1.0.32 or ipvm does not support:
 * SIMD, threads, memory64, exceptions, tail calls, multiple memories, imported memories,
 * tables or globals), IPVM_ENOMEM. On failure *out holds nothing useful. Any thread. */
int ipvm__wasm_parse(const uint8_t *bytes, size_t len, ipvm_arena_t *arena,
                     ipvm__wasm_info_t *out, ipvm_error_t *err);
/* "i32", "i64", "f32", "f64", "funcref", "externref", "v128" or "?". */
const char *ipvm__wasm_valtype_name(uint8_t t);

/* ------------------------------------------------------------------------------------------
 * translate.c: a renamed copy of the module for wasm2c, wasm2c itself, the fuel pass over its
 * C, and our glue (instance size, instantiate, free, memory, one uniform trampoline per
 * export, the host import thunks, the stamp).
 * ---------------------------------------------------------------------------------------- */

/* The glue's view, shared with the generated code (translate.c writes the same layout into
 * the C it emits). The stamp is checked before anything else of a compiled object is used. */
#define IPVM__GLUE_MAGIC 0x49505647u /* "IPVG" */
#define IPVM__GLUE_VERSION 5u /* 3: the fuel rule of FN_CALLS_OUT; 4: cached memory base; 5: no
                                 floor read at the ticks of the r15 counter (the stop signal) */
/* Fuel is counted down at every tick and the guest traps when it falls below its floor: 0, or
 * INT64_MAX once the wall clock has run out (the timer thread writes the floor, which the guest
 * only reads, so the store cannot be lost to the guest's own update of the counter). gcc code
 * on x86-64 keeps its counter in r15 and compares it with 0 alone (one decrement and one
 * branch per tick, no load): the timer stops it with IPVM__RT_STOP_SIGNAL instead, whose
 * handler ends the call when it interrupts the .so's own code (rt.c, on_stop). */
#define IPVM__FUEL_TLS 1u  /* the host's initial-exec TLS ipvm_rt_fuel and _floor (gcc) */
#define IPVM__FUEL_SLOT 2u /* the words before the guest instance (tcc has no TLS) */
#define IPVM__FUEL_NONE 3u /* no fuel counted: bench/wasm's measure of what fuel costs */

typedef void (*ipvm__tramp_t)(void *inst, const uint64_t *args, uint64_t *results);
typedef struct ipvm__glue_s {
    uint32_t magic, version;
    uint32_t guard_pages; /* WASM_RT_MEMCHECK_SIGNAL_HANDLER the code was compiled with */
    uint32_t fuel_kind;   /* IPVM__FUEL_TLS or IPVM__FUEL_SLOT */
    char key[72];         /* the cache key it was compiled for (hex) */
    uint64_t instance_size;
    uint32_t nexports, nimports;
    void (*init_module)(void);
    void (*instantiate)(void *inst, void *host);
    void (*free)(void *inst);
    void *(*memory)(void *inst); /* wasm_rt_memory_t* of memory 0, or NULL */
    const ipvm__tramp_t *exports; /* [nexports], NULL where not callable */
} ipvm__glue_t;

/* Writes the module wasm2c sees (with live: only those bodies, see reduce.c): the same sections, custom sections dropped, function imports
 * renamed "h"."f<i>", function exports renamed "e<i>", memory 0 exported as "mem", other
 * exports dropped, so no name from the guest reaches the C (wasm2c 1.0.32 copies names
 * unescaped into C comments). */
int ipvm__wasm_rewrite(const ipvm__wasm_info_t *info, const uint8_t *live, ipvm_buf_t *out);
/* reduce.c. Marks in live[nfuncs] every function a call of the functions `roots` (and the
 * start function) can run, by the rule at the top of reduce.c. IPVM_ENOMEM. */
int ipvm__wasm_live(const ipvm__wasm_info_t *info, const uint32_t *roots, size_t nroots,
                    uint8_t *live);
/* Appends a code section with the live bodies and `unreachable` for the others. */
int ipvm__wasm_code_section(const ipvm__wasm_info_t *info, const uint8_t *live, ipvm_buf_t *out);
/* Runs wasm2c on the rewritten module and returns the tier-neutral C (one translation unit
 * with the header inlined, fuel points marked, glue appended) in *c. `key` is the cache key
 * recorded in the stamp. Errors: IPVM_ECOMPILE (wasm2c missing, failed or changed its
 * output), IPVM_EWASM (wasm2c's validator refused the code: its message), IPVM_ENOMEM. */
int ipvm__wasm_translate(const ipvm__wasm_info_t *info, const uint8_t *live, const char *key,
                         ipvm_buf_t *c, ipvm_error_t *err);
/* The text that goes before the C for a tier: IPVM__FUEL_TLS for gcc, IPVM__FUEL_SLOT for
 * tcc, IPVM__FUEL_NONE for gcc without fuel (benchmarks only). */
const char *ipvm__wasm_prelude(unsigned fuel_kind);
/* "wasm2c 1.0.32" (what `wasm2c --version` says), computed once per process. */
const char *ipvm__wasm2c_version(void);
/* wasm2c's real path, size and mtime, for the cache key (no process started); NULL if none. */
const char *ipvm__wasm2c_fingerprint(void);

/* ------------------------------------------------------------------------------------------
 * compile.c: the two tiers and the disk cache.
 * ---------------------------------------------------------------------------------------- */
typedef struct ipvm__code_s {
    const ipvm__glue_t *glue;
    void *tcc;    /* TCCState* for the tcc tier */
    void *dl;     /* dlopen handle for the gcc tier */
    bool gcc;     /* which tier */
    uintptr_t text_lo, text_hi; /* gcc tier: the .so's executable segment */
} ipvm__code_t;

/* Whether code of this tier and fuel kind is stopped by the stop signal (its ticks read no
 * floor): gcc code with the r15 counter, which is what x86-64 gets. */
#if defined(__x86_64__)
#define IPVM__STOP_BY_SIGNAL(code) ((code)->gcc && (code)->glue->fuel_kind == IPVM__FUEL_TLS)
#else
#define IPVM__STOP_BY_SIGNAL(code) false
#endif

/* Compiles C (prelude added here) in memory with libtcc; the data segments' bytes are not
 * compiled but taken from info's module bytes, which must outlive the code. Errors: IPVM_ECOMPILE, IPVM_ESTALE,
 * IPVM_ENOMEM. Serialised on a process-wide lock: libtcc 0.9.27 keeps global state. */
int ipvm__compile_tcc(const ipvm__wasm_info_t *info, const char *c, size_t len, const char *key,
                      ipvm__code_t **out, ipvm_error_t *err);
/* Compiles C with gcc into so_path (through a temporary file next to it, then rename), for
 * the x86-64 level isa (0 or 1: gcc's default, i.e. baseline; as ipvm__isa_resolve gives). While
 * gcc runs, its pid is in *pid (when pid is not NULL), so it can be stopped; -1 in *pid means
 * cancelled: gcc is not started, or is stopped as soon as it is. */
int ipvm__compile_gcc(const char *c, size_t len, const char *so_path, unsigned fuel_kind,
                      int isa, _Atomic int *pid, ipvm_error_t *err);
/* The level an engine compiles for, from ipvm_wasm_engine_opts_t.isa: the host's for AUTO, 0
 * when the host is not x86-64. IPVM_EUNSUPPORTED when the host cannot run `want`. */
int ipvm__isa_resolve(int want, int *out, ipvm_error_t *err);
/* gcc's -march flag for a resolved level, NULL for baseline and non-x86-64. */
const char *ipvm__isa_flag(int level);
/* dlopens a compiled .so and checks its stamp against this runtime and `key`. Errors:
 * IPVM_ENOENT (no file), IPVM_ESTALE (stamp mismatch: the file must not be used), IPVM_ECOMPILE
 * (dlopen failed). */
int ipvm__code_open(const char *so_path, const char *key, unsigned fuel_kind, ipvm__code_t **out,
                    ipvm_error_t *err);
void ipvm__code_free(ipvm__code_t *code);
/* The compiler and flags of the gcc tier ("gcc 12.2.0 -O2 ..."), or NULL when gcc is missing
 * (runs gcc once per process: for people, not for the cache key). */
const char *ipvm__gcc_id(void);
/* What the cache key records of gcc without running it: its real path, size and mtime, and
 * the flags; NULL when gcc is missing. */
const char *ipvm__gcc_fingerprint(void);
/* Helpers: a program on PATH; "<real path> <size> <mtime>" of a file. 0 or -1. */
int ipvm__find_program(const char *name, char *out, size_t size);
int ipvm__tool_fingerprint(const char *path, char *out, size_t size);
/* Whether the running program exports the runtime's symbols (built with -rdynamic), which a
 * dlopened .so needs. */
bool ipvm__rt_symbols_exported(void);

/* Process-wide counts of the work done, for tests ("a second load compiles nothing") and for
 * `ipvm wasm inspect`. */
typedef struct ipvm__wasm_stats_s {
    atomic_ulong wasm2c;     /* wasm2c runs */
    atomic_ulong tcc;        /* libtcc compiles */
    atomic_ulong gcc;        /* gcc compiles */
    atomic_ulong cache_hits; /* .so files taken from the disk cache */
    atomic_ulong timer_stops; /* running instances stopped by the wall clock */
    atomic_ulong mem_reused;  /* linear memories taken from a module's pool */
} ipvm__wasm_stats_t;
extern ipvm__wasm_stats_t ipvm__wasm_stats;

/* ------------------------------------------------------------------------------------------
 * rt.c: our wasm-rt.h runtime. Trap codes beyond wasm_rt_trap_t's: */
#define IPVM__TRAP_FUEL 100     /* fuel ran out (or the wall clock set it to -1) */
#define IPVM__TRAP_MEMLIMIT 101 /* the initial memory exceeds the memory limit */
#define IPVM__TRAP_NOMEM 102    /* the host could not map memory or a table */
#define IPVM__TRAP_EXIT 103     /* proc_exit */
#define IPVM__TRAP_HOST 104     /* a host function refused the call (bad pointer...) */
#define IPVM__TRAP_STACK_HOST 105 /* too little stack left to run a host function */

/* Guard pages (1) on 64-bit targets, explicit bounds checks (0) elsewhere. */
#if UINTPTR_MAX > 0xffffffffu
#define IPVM__RT_GUARD_PAGES 1
#else
#define IPVM__RT_GUARD_PAGES 0
#endif

/* Per-thread state of the runtime. Set up by ipvm__rt_thread_init on the first call on each
 * thread (sigaltstack, stack bounds) and torn down at thread exit. */
typedef struct ipvm__rt_thread_s {
    sigjmp_buf *jmp;              /* where traps go while guest code runs, else NULL */
    struct ipvm__wasm_instance_s *cur; /* the instance running (or instantiating) here */
    uintptr_t res_lo, res_hi;     /* the running instance's memory reservation */
    uintptr_t stack_lo, stack_hi; /* this thread's stack */
    void *altstack;               /* ours, or NULL when the thread already had one */
    size_t altstack_size;
    bool ready;
    atomic_bool stop_pending; /* a stop signal sent to this thread and not yet handled */
} ipvm__rt_thread_t;

/* The signal the timer sends to a thread running gcc code past its deadline (a real-time
 * signal: queued, and not one that libuv or glibc use). */
#define IPVM__RT_STOP_SIGNAL (SIGRTMIN + 6)

int ipvm__rt_init(ipvm_error_t *err);
ipvm__rt_thread_t *ipvm__rt_thread(void);
int ipvm__rt_thread_init(ipvm_error_t *err);
/* Bytes reserved for the data of a wasm_rt_memory_t (what the fault handler claims). */
uint64_t ipvm__rt_memory_reserved(const void *wasm_rt_memory);
/* Freed memories of one module kept for reuse: scrubbed back to the module's initial size,
 * all zero, so a new instance costs no mmap, mprotect or page fault (each is a slow trap into
 * the hypervisor on a VM). Owned by the module; ipvm__rt_pool_dispose unmaps them. */
#define IPVM__POOL_MAX 8
#define IPVM__POOL_BYTES (128ull << 20) /* at most this much initial memory kept per module */
typedef struct ipvm__mem_pool_s {
    pthread_mutex_t lock;
    void *items[IPVM__POOL_MAX]; /* mem_hdr_t* of scrubbed reservations */
    int n;
    uint64_t bytes;              /* their initial sizes, summed */
} ipvm__mem_pool_t;
void ipvm__rt_pool_init(ipvm__mem_pool_t *p);
void ipvm__rt_pool_dispose(ipvm__mem_pool_t *p);

/* The symbols generated code needs, for libtcc (name, address), NULL-terminated. */
typedef struct ipvm__rt_sym_s {
    const char *name;
    const void *addr;
} ipvm__rt_sym_t;
const ipvm__rt_sym_t *ipvm__rt_symbols(void);

/* ------------------------------------------------------------------------------------------
 * The module and instance (engine.c) as host.c and rt.c see them.
 * ---------------------------------------------------------------------------------------- */
typedef int (*ipvm__host_fn_t)(struct ipvm__wasm_instance_s *i, const uint64_t *args,
                               uint64_t *results);

/* The guest instance follows this header directly: the tcc tier's code reads its fuel and
 * stack limit at negative offsets from its instance pointer (IPVM__FUEL_SLOT). */
typedef struct ipvm__slot_s {
    _Alignas(16) int64_t unused;
    int64_t stack_limit;    /* instance[-3]: lowest address a tcc-compiled frame may start at */
    volatile int64_t floor; /* instance[-2]: fuel below this traps (0; INT64_MAX to stop now) */
    volatile int64_t fuel;  /* instance[-1]: the counter of tcc-compiled code */
} ipvm__slot_t;

struct ipvm__wasm_instance_s {
    ipvm_wasm_module_t *module;        /* retained */
    const ipvm__code_t *code;          /* the tier this instance runs on */
    int trapped;                       /* 0, or the IPVM_ETRAP_* that ended this instance */
    bool instantiated;
    int64_t fuel_start;                /* fuel given (INT64_MAX for unlimited) */
    int64_t fuel_left;                 /* between invokes */
    volatile int64_t *_Atomic fuel_at; /* the counter in use while guest code runs */
    volatile int64_t *_Atomic floor_at; /* and its floor: the timer stops the guest with it */
    atomic_flag fuel_lock;             /* guards fuel_at and floor_at against the timer */
    atomic_bool timed_out;
    pthread_t thread;                  /* the thread running it while fuel_at is set */
    struct ipvm__rt_thread_s *rt;      /* and that thread's runtime state */
    uint64_t time_ms;                  /* the wall-clock limit */
    uint64_t created_ns, deadline_ns;  /* CLOCK_MONOTONIC */
    uint32_t mem_cap_pages;            /* memory limit */
    ipvm__mem_pool_t *pool;            /* the module's pool of memories */
    bool mem_refused;                  /* memory.grow was refused by the memory limit */
    int exit_code;                     /* of proc_exit */
    ipvm_buf_t log;                    /* the task log */
    bool log_truncated;
    struct ipvm__wasm_instance_s *tprev, *tnext; /* engine->timed, under engine->lock */
    char trap_msg[160];                /* why a host function trapped */
    ipvm__slot_t slot;                 /* must come last: the guest instance follows */
    _Alignas(16) unsigned char guest[];
};

/* The memory of the instance (wasm_rt_memory_t*), or NULL. */
void *ipvm__instance_rt_memory(ipvm__wasm_instance_t *i);
/* Appends to the task log (capped); never fails (drops what does not fit). */
void ipvm__instance_log(ipvm__wasm_instance_t *i, const char *s, size_t n);
/* Called from generated code through the import thunks. */
void ipvm_rt_host_call(void *host, uint32_t index, const uint64_t *args, uint64_t *results);

/* host.c: the host function for an import, or NULL (then *why says what is wrong). */
ipvm__host_fn_t ipvm__host_resolve(const ipvm__wasm_import_t *imp, const char **why);
/* Whether the module name is one whose unknown fields get an ENOSYS stub (WASI preview 1). */
bool ipvm__host_is_wasi(const char *module);

/* engine.c accessors for host.c */
ipvm__host_fn_t ipvm__module_host_fn(ipvm_wasm_module_t *m, uint32_t index);

#endif /* IPVM_WASM_CORE_INT_H */
