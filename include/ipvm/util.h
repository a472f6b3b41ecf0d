/* SPDX-License-Identifier: Apache-2.0 */
/* ipvm/util.h: error codes, error details, allocation hooks, arenas, growable buffers and
 * logging, shared by every area of ipvm (see DESIGN.md "util/"). */
#ifndef IPVM_UTIL_H
#define IPVM_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define IPVM_EXTERN __attribute__((visibility("default")))
#define IPVM_MUST_CHECK __attribute__((warn_unused_result))
#define IPVM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define IPVM_LIKELY(x) __builtin_expect(!!(x), 1)
#define IPVM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define IPVM_EXTERN
#define IPVM_MUST_CHECK
#define IPVM_PRINTF(f, a)
#define IPVM_LIKELY(x) (x)
#define IPVM_UNLIKELY(x) (x)
#endif

#define IPVM_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------------------------------------
 * Error codes. 0 is success; failures are negative. libuv's negative codes pass through
 * unchanged; ours live from -5000 down. Each area owns a block of the table below: add new codes
 * at the end of your own block so that parallel changes merge cleanly.
 * ------------------------------------------------------------------------------------------- */
#define IPVM_ERRNO_MAP(XX)                                                                         \
    /* util */                                                                                     \
    XX(ENOMEM, -5001, "out of memory")                                                             \
    XX(EINVAL, -5002, "invalid argument")                                                          \
    XX(EIO, -5003, "input/output error")                                                           \
    XX(ENOENT, -5004, "not found")                                                                 \
    XX(EEXIST, -5005, "already exists")                                                            \
    XX(ECANCELED, -5006, "operation canceled")                                                     \
    XX(ETIMEDOUT, -5007, "timed out")                                                              \
    XX(ETOOBIG, -5008, "value too large")                                                          \
    XX(EUNSUPPORTED, -5009, "not supported")                                                       \
    XX(EINTERNAL, -5010, "internal error")                                                         \
    XX(EACCES, -5011, "permission denied")                                                         \
    XX(ENOSPC, -5012, "no space left on device")                                                   \
    XX(EROFS, -5013, "read-only file system")                                                      \
    XX(EUSAGE, -5014, "bad command-line usage")                                                    \
    /* multiformats */                                                                             \
    XX(EVARINT, -5100, "malformed unsigned varint")                                                \
    XX(EMULTIBASE, -5101, "malformed multibase string")                                            \
    XX(EMULTIHASH, -5102, "malformed or unknown multihash")                                        \
    XX(ECID, -5103, "malformed CID")                                                               \
    XX(EBASE, -5104, "malformed base-encoded data")                                                \
    /* ipld */                                                                                     \
    XX(ECBOR, -5200, "malformed DAG-CBOR")                                                         \
    XX(EJSON, -5201, "malformed DAG-JSON")                                                         \
    XX(ETOODEEP, -5202, "nesting too deep")                                                        \
    XX(EKIND, -5203, "wrong IPLD kind")                                                            \
    XX(EPATH, -5204, "IPLD path not found")                                                        \
    /* blocks */                                                                                   \
    XX(EBLOCK, -5300, "malformed block")                                                           \
    XX(EHASHMISMATCH, -5301, "content does not hash to its CID")                                   \
    XX(ENORESOURCE, -5302, "resource not available")                                               \
    XX(EDAGPB, -5303, "malformed dag-pb node")                                                     \
    /* workflow */                                                                                 \
    XX(EWORKFLOW, -5400, "invalid workflow")                                                       \
    XX(ECYCLE, -5401, "workflow has a cycle")                                                      \
    XX(EDUPTASK, -5402, "duplicate instruction in workflow")                                       \
    XX(EAWAIT, -5403, "unresolved await")                                                          \
    XX(ETASKFAILED, -5404, "task failed")                                                          \
    XX(ERECEIPT, -5405, "invalid receipt")                                                         \
    /* store */                                                                                    \
    XX(ESTORE, -5500, "storage error")                                                             \
    XX(ECONSTRAINT, -5501, "storage constraint violated")                                          \
    XX(ESCHEMA, -5502, "database schema is newer than this program")                               \
    XX(EBUSY, -5503, "database is busy")                                                           \
    XX(ECORRUPT, -5504, "database file is corrupt or not an ipvm database")                        \
    /* wasm */                                                                                     \
    XX(EWASM, -5600, "invalid Wasm module")                                                        \
    XX(EWASMUNSUPPORTED, -5601, "unsupported Wasm feature")                                        \
    XX(ECOMPILE, -5602, "Wasm compilation failed")                                                 \
    XX(ELINK, -5603, "Wasm import cannot be satisfied")                                            \
    XX(ENOFUNC, -5604, "Wasm export not found")                                                    \
    XX(EABI, -5605, "value does not fit the function's type")                                      \
    XX(ETRAP_OOB, -5610, "Wasm trap: out of bounds memory access")                                 \
    XX(ETRAP_UNREACHABLE, -5611, "Wasm trap: unreachable executed")                                \
    XX(ETRAP_DIVZERO, -5612, "Wasm trap: integer divide by zero")                                  \
    XX(ETRAP_OVERFLOW, -5613, "Wasm trap: integer overflow")                                       \
    XX(ETRAP_CONVERSION, -5614, "Wasm trap: invalid conversion to integer")                        \
    XX(ETRAP_STACK, -5615, "Wasm trap: call stack exhausted")                                      \
    XX(ETRAP_INDIRECT, -5616, "Wasm trap: indirect call signature mismatch or null")               \
    XX(ETRAP_FUEL, -5617, "Wasm trap: out of fuel")                                                \
    XX(ETRAP_TIMEOUT, -5618, "Wasm trap: wall-clock limit reached")                                \
    XX(ETRAP_MEMORY, -5619, "Wasm trap: memory limit reached")                                     \
    XX(ETRAP_EXIT, -5620, "Wasm guest exited")                                                     \
    XX(ETRAP, -5621, "Wasm trap")                                                                  \
    XX(ESTALE, -5622, "compiled code does not match this runtime")                                 \
    /* sched */                                                                                    \
    XX(EWORKFLOWTIMEOUT, -5700, "workflow timed out")                                              \
    /* rpc */                                                                                      \
    XX(ERPC, -5800, "JSON-RPC error")                                                              \
    /* p2p */                                                                                      \
    XX(EPROTO, -5900, "protocol error")                                                            \
    XX(EHANDSHAKE, -5901, "handshake failed")                                                      \
    XX(ECLOSED, -5902, "connection closed")                                                        \
    XX(EPEER, -5903, "peer misbehaved")                                                            \
    /* trust */                                                                                    \
    XX(ECRYPTO, -6000, "cryptographic failure")                                                    \
    XX(ESIGNATURE, -6001, "signature does not verify")                                             \
    XX(EUCAN, -6002, "invalid UCAN")                                                               \
    XX(EDENIED, -6003, "capability denied")                                                        \
    XX(EEXPIRED, -6004, "token expired")                                                           \
    XX(ENOTYET, -6005, "token not yet valid")                                                      \
    XX(EREVOKED, -6006, "token revoked")                                                           \
    XX(ECONFLICT, -6007, "independent results disagree")                                           \
    /* market */                                                                                   \
    XX(EMARKET, -6100, "matchmaking error")

enum {
#define IPVM__ERR_ENUM(name, code, msg) IPVM_##name = (code),
    IPVM_ERRNO_MAP(IPVM__ERR_ENUM)
#undef IPVM__ERR_ENUM
};

/* Returns a sentence for an error code (ours, libuv's or a negated errno). Never NULL. */
IPVM_EXTERN const char *ipvm_strerror(int err);
/* Returns the symbolic name ("IPVM_ECBOR", "UV_ENOENT", "E-22"...). Never NULL; the string for
 * an unknown code is in a thread-local buffer valid until the next call on this thread. */
IPVM_EXTERN const char *ipvm_err_name(int err);

/* Details of a failure: the code, where in the input it happened, and a sentence that says what
 * was wrong. Functions that parse outside bytes take an optional `ipvm_error_t *err`
 * (may be NULL) and fill it when they fail. */
#define IPVM_NO_OFFSET ((size_t)-1)
typedef struct ipvm_error_s {
    int code;      /* the negative IPVM_E* / UV_E* code, 0 when no error was recorded */
    size_t offset; /* byte offset into the input, or IPVM_NO_OFFSET */
    char msg[320]; /* NUL-terminated human-readable reason */
} ipvm_error_t;

/* Records an error in `err` (if not NULL) and returns `code`, so parsers can write
 * `return ipvm_error_set(err, IPVM_ECBOR, off, "...")`. */
IPVM_EXTERN int ipvm_error_set(ipvm_error_t *err, int code, size_t offset, const char *fmt, ...)
    IPVM_PRINTF(4, 5);
/* Prefixes the message already in `err` with more context ("task 3: "). Returns err->code, which
 * is 0 when err is NULL: return the inner call's code, not this (75c59de). */
IPVM_EXTERN int ipvm_error_prefix(ipvm_error_t *err, const char *fmt, ...) IPVM_PRINTF(2, 3);
IPVM_EXTERN void ipvm_error_clear(ipvm_error_t *err);
/* Formats "reason (at byte N)" or just the reason, into a caller buffer. Returns buf. */
IPVM_EXTERN const char *ipvm_error_describe(const ipvm_error_t *err, char *buf, size_t size);

/* API misuse (NULL where forbidden, impossible sizes) aborts with a message. */
IPVM_EXTERN void ipvm__misuse(const char *what, const char *file, int line)
    __attribute__((noreturn));
#define IPVM_MISUSE_IF(cond)                                                                       \
    do {                                                                                           \
        if (IPVM_UNLIKELY(cond))                                                                   \
            ipvm__misuse(#cond, __FILE__, __LINE__);                                               \
    } while (0)
/* "Cannot happen" checks that stay on in release builds. */
#define IPVM_ALWAYS(x) (IPVM_LIKELY(x) ? 1 : (ipvm__misuse("ALWAYS(" #x ")", __FILE__, __LINE__), 0))
#define IPVM_NEVER(x) (IPVM_UNLIKELY(x) ? (ipvm__misuse("NEVER(" #x ")", __FILE__, __LINE__), 1) : 0)

/* ---------------------------------------------------------------------------------------------
 * Allocation. All library allocations go through these so tests can inject failures
 * (SQLite faultsim style): after ipvm_alloc_fail_after(n), the (n+1)th allocation fails.
 * ------------------------------------------------------------------------------------------- */
IPVM_EXTERN void *ipvm_malloc(size_t size);
IPVM_EXTERN void *ipvm_calloc(size_t n, size_t size);
IPVM_EXTERN void *ipvm_realloc(void *p, size_t size);
IPVM_EXTERN void ipvm_free(void *p);
IPVM_EXTERN char *ipvm_strdup(const char *s);
IPVM_EXTERN char *ipvm_strndup(const char *s, size_t n);
/* Test hook: n < 0 disables injection (the default). Thread-local. */
IPVM_EXTERN void ipvm_alloc_fail_after(long n);
/* Test hook: true if an injected failure happened since the last ipvm_alloc_fail_after(). */
IPVM_EXTERN bool ipvm_alloc_failed(void);
/* Overwrites memory that held a secret, in a way the compiler keeps. */
IPVM_EXTERN void ipvm_memzero(void *p, size_t n);

/* ---------------------------------------------------------------------------------------------
 * Arena: a bump allocator for one unit of work (a decode, a request, a run), freed in one step.
 * With -DIPVM_ARENA_PASSTHROUGH every allocation is a separate malloc so ASan sees it.
 * Thread: an arena belongs to one thread at a time.
 * ------------------------------------------------------------------------------------------- */
typedef struct ipvm_arena_chunk_s ipvm_arena_chunk_t;
typedef struct ipvm_arena_cleanup_s ipvm_arena_cleanup_t;
typedef struct ipvm_arena_s {
    ipvm_arena_chunk_t *chunks;     /* newest first */
    ipvm_arena_cleanup_t *cleanups; /* run in reverse order by dispose/reset */
    size_t chunk_size;              /* size of the next chunk to allocate */
    size_t used;                    /* bytes handed out, for statistics */
} ipvm_arena_t;

IPVM_EXTERN void ipvm_arena_init(ipvm_arena_t *a);
/* Frees every allocation and runs the cleanups. The arena may be reused after init. */
IPVM_EXTERN void ipvm_arena_dispose(ipvm_arena_t *a);
/* Like dispose, but keeps the first chunk for reuse. */
IPVM_EXTERN void ipvm_arena_reset(ipvm_arena_t *a);
/* Returns 16-byte aligned memory, or NULL on OOM. Memory is not zeroed. */
IPVM_EXTERN void *ipvm_arena_alloc(ipvm_arena_t *a, size_t size);
IPVM_EXTERN void *ipvm_arena_calloc(ipvm_arena_t *a, size_t n, size_t size);
IPVM_EXTERN void *ipvm_arena_memdup(ipvm_arena_t *a, const void *p, size_t size);
/* Copies n bytes and appends a NUL. */
IPVM_EXTERN char *ipvm_arena_strndup(ipvm_arena_t *a, const char *s, size_t n);
IPVM_EXTERN char *ipvm_arena_strdup(ipvm_arena_t *a, const char *s);
IPVM_EXTERN char *ipvm_arena_printf(ipvm_arena_t *a, const char *fmt, ...) IPVM_PRINTF(2, 3);
/* Registers fn(data) to run when the arena is disposed or reset. Returns 0 or IPVM_ENOMEM
 * (then fn is not registered and the caller still owns data). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_arena_on_dispose(ipvm_arena_t *a, void (*fn)(void *),
                                                      void *data);

/* ---------------------------------------------------------------------------------------------
 * Growable byte buffer. `data` is always NUL-terminated when cap > 0 (not counted in len), so a
 * buffer of text can be used as a C string.
 * ------------------------------------------------------------------------------------------- */
typedef struct ipvm_buf_s {
    uint8_t *data; /* heap memory owned by the buffer, NULL when cap == 0 */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated, excluding the NUL slot */
} ipvm_buf_t;

#define IPVM_BUF_INIT {NULL, 0, 0}
IPVM_EXTERN void ipvm_buf_init(ipvm_buf_t *b);
IPVM_EXTERN void ipvm_buf_dispose(ipvm_buf_t *b);
/* Makes room for `extra` more bytes. 0 or IPVM_ENOMEM (the buffer is unchanged on failure). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_buf_reserve(ipvm_buf_t *b, size_t extra);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_buf_append(ipvm_buf_t *b, const void *p, size_t n);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_buf_append_byte(ipvm_buf_t *b, uint8_t c);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_buf_append_str(ipvm_buf_t *b, const char *s);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_buf_printf(ipvm_buf_t *b, const char *fmt, ...)
    IPVM_PRINTF(2, 3);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_buf_vprintf(ipvm_buf_t *b, const char *fmt, va_list ap);
/* Empties the buffer but keeps its memory. */
IPVM_EXTERN void ipvm_buf_clear(ipvm_buf_t *b);
/* Hands the memory to the caller (free with ipvm_free) and leaves the buffer empty. Returns
 * NULL if the buffer never allocated. */
IPVM_EXTERN uint8_t *ipvm_buf_take(ipvm_buf_t *b, size_t *len /* out, may be NULL */);

/* Reads a whole file (or stdin when path is "-") into `out`. Errors: negated errno values
 * mapped to IPVM_ENOENT, IPVM_EACCES, IPVM_EIO; err names the path. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_file_read(const char *path, ipvm_buf_t *out,
                                               ipvm_error_t *err);
/* Writes atomically: to a temporary file in the same directory, fsync, rename. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_file_write_atomic(const char *path, const void *data,
                                                       size_t len, ipvm_error_t *err);
/* The directory part of path into out ("." when it has no slash, "/" for a file in /);
 * truncated to size. */
IPVM_EXTERN void ipvm_path_dir(const char *path, char *out, size_t size);
/* mkdir -p with the given mode. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_mkdirs(const char *path, unsigned mode, ipvm_error_t *err);

/* ---------------------------------------------------------------------------------------------
 * Logging. Lines go to stderr as "ipvm: level: area: message" (or JSON with
 * IPVM_LOG_FORMAT=json). The level comes from IPVM_LOG (error, warn, info, debug, trace).
 * ------------------------------------------------------------------------------------------- */
typedef enum {
    IPVM_LOG_ERROR = 0,
    IPVM_LOG_WARN = 1,
    IPVM_LOG_INFO = 2,
    IPVM_LOG_DEBUG = 3,
    IPVM_LOG_TRACE = 4
} ipvm_log_level_t;

IPVM_EXTERN void ipvm_log_set_level(ipvm_log_level_t level);
IPVM_EXTERN ipvm_log_level_t ipvm_log_get_level(void);
IPVM_EXTERN void ipvm_log(ipvm_log_level_t level, const char *area, const char *fmt, ...)
    IPVM_PRINTF(3, 4);
/* Replaces the sink (for tests and the daemon). NULL restores stderr. */
typedef void (*ipvm_log_sink_t)(ipvm_log_level_t level, const char *area, const char *msg,
                                void *data);
IPVM_EXTERN void ipvm_log_set_sink(ipvm_log_sink_t sink, void *data);

/* Monotonic clock in nanoseconds, and wall clock in milliseconds since the Unix epoch. */
IPVM_EXTERN uint64_t ipvm_now_ns(void);
IPVM_EXTERN uint64_t ipvm_wall_ms(void);

#ifdef __cplusplus
}
#endif
#endif /* IPVM_UTIL_H */
