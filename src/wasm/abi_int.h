/* SPDX-License-Identifier: Apache-2.0 */
/* abi_int.h: the canonical ABI's private types. WIT types as read from the component model's
 * binary type encoding (component-model/design/mvp/Binary.md), their canonical ABI layout and
 * flattening (CanonicalABI.md), the per-module export table, and lift/lower against an abstract
 * guest memory so tests can run them on a plain buffer. Only src/wasm/abi*.c and tests use it. */
#ifndef IPVM_WASM_ABI_INT_H
#define IPVM_WASM_ABI_INT_H

#include "ipvm.h"

#define IPVM__ABI_MAX_FLAT_PARAMS 16 /* CanonicalABI.md MAX_FLAT_PARAMS */
#define IPVM__ABI_MAX_FLAT_RESULTS 1 /* CanonicalABI.md MAX_FLAT_RESULTS */
#define IPVM__ABI_MAX_DEPTH 100      /* deepest accepted nesting of WIT types */
/* Most bytes (strings, bytes, 16 per value) one call may lift out of guest memory: pointers in
 * guest memory can make a small result name the same bytes many times. */
#define IPVM__ABI_MAX_LIFT ((uint64_t)1 << 30)

typedef enum {
    IPVM__WIT_BOOL = 1,
    IPVM__WIT_S8,
    IPVM__WIT_U8,
    IPVM__WIT_S16,
    IPVM__WIT_U16,
    IPVM__WIT_S32,
    IPVM__WIT_U32,
    IPVM__WIT_S64,
    IPVM__WIT_U64,
    IPVM__WIT_F32,
    IPVM__WIT_F64,
    IPVM__WIT_CHAR,
    IPVM__WIT_STRING,
    IPVM__WIT_LIST,
    IPVM__WIT_RECORD,
    IPVM__WIT_TUPLE,
    IPVM__WIT_VARIANT,
    IPVM__WIT_ENUM,
    IPVM__WIT_OPTION,
    IPVM__WIT_RESULT,
    IPVM__WIT_FLAGS,
    IPVM__WIT_OWN,
    IPVM__WIT_BORROW,
} ipvm__wit_kind_t;

typedef struct ipvm__wit_type_s ipvm__wit_type_t;

/* One WIT value type. Immutable once built; children are built first (the binary format only
 * refers back), so a type is a DAG without cycles and its layout is computed at construction. */
struct ipvm__wit_type_s {
    ipvm__wit_kind_t kind;
    uint32_t n;                    /* items: RECORD fields, TUPLE elements, VARIANT cases,
                                      ENUM/FLAGS labels; LIST and OPTION 1; RESULT 2 (ok, err) */
    const ipvm__wit_type_t **elem; /* per item: its type; NULL for a case without payload, an
                                      absent result side, and for ENUM/FLAGS */
    const char **label;            /* per item: name (RECORD, VARIANT, ENUM, FLAGS), else NULL */
    uint32_t *offset;              /* RECORD/TUPLE: byte offset of each item in memory */
    const char *name;              /* WIT name when an import/export named the type, or NULL */
    uint32_t size;                 /* canonical ABI byte size (elem_size) */
    uint32_t align;                /* canonical ABI alignment: 1, 2, 4 or 8 */
    uint32_t disc_size;            /* VARIANT/ENUM/OPTION/RESULT: bytes of the discriminant */
    uint32_t payload_offset;       /* VARIANT/OPTION/RESULT: where the payload starts */
    uint32_t nflat;                /* flattened core values; > MAX_FLAT_PARAMS means "many" */
    uint8_t flat[IPVM__ABI_MAX_FLAT_PARAMS]; /* IPVM__WASM_I32... when nflat <= 16 */
    uint16_t depth;                /* 1 + the deepest child */
};

typedef struct ipvm__wit_param_s {
    const char *name; /* NULL for the single unnamed result */
    const ipvm__wit_type_t *type;
} ipvm__wit_param_t;

/* A WIT function type with its flattened core signature (after spilling to memory). */
typedef struct ipvm__wit_func_s {
    uint32_t nparams, nresults;
    ipvm__wit_param_t *params, *results;
    bool named_results;  /* results were given as a (possibly empty) named list */
    bool params_spill;   /* more than 16 flat params: one i32 pointer to a tuple instead */
    bool results_spill;  /* more than 1 flat result: the callee returns an i32 pointer */
    uint32_t nflat_params, nflat_results;  /* core signature after spilling */
    uint8_t flat_params[IPVM__ABI_MAX_FLAT_PARAMS];
    uint8_t flat_results[IPVM__ABI_MAX_FLAT_RESULTS];
    const ipvm__wit_type_t *params_tuple;  /* the params as a tuple (for spilling), or NULL */
    const ipvm__wit_type_t *results_tuple; /* the results as a tuple (for spilling), or NULL */
    const char *unsupported; /* why values of this function cannot cross (resources...), or NULL */
} ipvm__wit_func_t;

#define IPVM__ABI_UTF8 0
#define IPVM__ABI_UTF16 1
#define IPVM__ABI_LATIN1_UTF16 2

/* One callable export: a root-level function of the world or of the component. */
typedef struct ipvm__abi_export_s {
    const char *name;         /* WIT name ("add-one") */
    const ipvm__wit_func_t *func;
    const char *core_name;    /* core export that implements it */
    const char *post_name;    /* cabi_post_* core export to call after lifting, or NULL */
    const char *realloc_name; /* core export used to allocate argument memory, or NULL */
    int encoding;             /* IPVM__ABI_UTF8... */
    long core_idx, post_idx, realloc_idx; /* export indexes (-1 absent), set by abi_prepare */
    const char *unusable;     /* why it cannot be called (signature mismatch...), or NULL */
} ipvm__abi_export_t;

/* Per-module ABI state (ipvm__wasm_module_abi). Everything lives in `arena`. */
typedef struct ipvm__abi_s {
    ipvm_arena_t arena;
    ipvm__abi_export_t *exports;
    size_t nexports, cap;
    const char *world; /* "homestar:test/test@0.1.1", or NULL for a component */
    int encoding;      /* of the wit-component-encoding section, IPVM__ABI_UTF8 when absent */
} ipvm__abi_t;

/* ------------------------------------------------------------------ parsing (abi_types.c) -- */

/* Parses the payload of a `component-type:*` custom section (a component binary encoding a
 * WIT world, as wit-component writes it) and appends the world's function exports to abi, with
 * core names by wit-component's convention (name, cabi_post_name, cabi_realloc). Errors:
 * IPVM_EWASM with the offset in buf and the reason; IPVM_ENOMEM. */
int ipvm__abi_parse_world(ipvm__abi_t *abi, const uint8_t *buf, size_t len, ipvm_error_t *err);

/* Parses a component binary (layer 1, version 0x0d) that wraps one core module (plus the
 * shim and fixup modules wit-component adds for imports), appends its lifted function exports
 * to abi (when abi is not NULL), and points core/core_len at the core module. Errors:
 * IPVM_EWASMUNSUPPORTED ("unsupported component: ..."), IPVM_EWASM, IPVM_ENOMEM. */
int ipvm__abi_parse_component(ipvm__abi_t *abi, const uint8_t *buf, size_t len,
                              const uint8_t **core /* out */, size_t *core_len /* out */,
                              ipvm_error_t *err);

void ipvm__abi_init(ipvm__abi_t *abi);
void ipvm__abi_dispose(ipvm__abi_t *abi);

/* ------------------------------------------------------------------ types (abi_layout.c) -- */

/* Builds a type in arena and computes its layout. elem/label/n as in ipvm__wit_type_t (copied
 * pointers; the arrays must live in the same arena). NULL with *why set when the type is
 * invalid (empty record, too deep, too large) or on OOM (*why = NULL). */
ipvm__wit_type_t *ipvm__wit_type_new(ipvm_arena_t *arena, ipvm__wit_kind_t kind, uint32_t n,
                                     const ipvm__wit_type_t **elem, const char **label,
                                     const char **why);
/* The shared primitive type of a kind (BOOL..STRING). */
const ipvm__wit_type_t *ipvm__wit_prim(ipvm__wit_kind_t kind);
/* Computes a function's flattening. 0, or IPVM_ENOMEM. */
int ipvm__wit_func_finish(ipvm_arena_t *arena, ipvm__wit_func_t *f);
/* Renders a type or function in WIT syntax ("list<u8>", "func(a: s32) -> s32") into out,
 * cut with "…" past out's capacity. */
void ipvm__wit_type_render(const ipvm__wit_type_t *t, bool expand_named, ipvm_buf_t *out);
void ipvm__wit_func_render(const ipvm__wit_func_t *f, ipvm_buf_t *out);
const char *ipvm__wit_kind_name(ipvm__wit_kind_t kind);

/* --------------------------------------------------------- lift and lower (abi_lower.c...) -- */

/* Guest memory as lift and lower see it: the engine's instance, or a plain buffer in tests. */
typedef struct ipvm__abi_mem_s {
    void *ctx;
    /* Current base and byte size of linear memory (may move after realloc). */
    uint8_t *(*base)(void *ctx, uint64_t *size);
    /* Calls the guest's realloc(0, 0, align, size); *ptr is the guest address (checked by the
     * caller). Errors: IPVM_EABI (no realloc), IPVM_ETRAP_*. */
    int (*realloc)(void *ctx, uint32_t align, uint32_t size, uint32_t *ptr, ipvm_error_t *err);
    int encoding;  /* IPVM__ABI_UTF8... */
    uint64_t lifted;   /* bytes lifted so far */
    uint64_t max_lift; /* limit of lifted bytes; 0 means IPVM__ABI_MAX_LIFT */
} ipvm__abi_mem_t;

/* Lowers args (an IPLD list; NULL is empty; extra items are ignored, as Homestar does) into
 * flat core values for f (nflat_params of them), allocating strings and lists in guest memory.
 * Errors: IPVM_EABI naming the argument, its type and why; IPVM_ENOMEM; IPVM_ETRAP_* from
 * realloc. */
int ipvm__abi_lower_args(const ipvm__wit_func_t *f, ipvm__abi_mem_t *mem,
                         const ipvm_ipld_t *args, uint64_t *flat /* out [nflat_params] */,
                         ipvm_error_t *err);
/* Lifts f's results from flat core values (nflat_results of them) into arena: no result ->
 * IPLD null, one -> the value, several -> a list. Errors: IPVM_EABI (bad pointer, bad UTF-8,
 * bad discriminant...), IPVM_ENOMEM. */
int ipvm__abi_lift_results(const ipvm__wit_func_t *f, ipvm__abi_mem_t *mem,
                           const uint64_t *flat, ipvm_arena_t *arena, ipvm_ipld_t **out,
                           ipvm_error_t *err);

/* Where inside a value lift or lower is, kept cheaply (no formatting until an error). */
typedef struct ipvm__abi_path_s {
    struct {
        const char *label; /* field or key, or NULL for an index */
        size_t len;        /* bytes in label */
        size_t idx;
    } seg[IPVM__ABI_MAX_DEPTH + 8];
    size_t n;
} ipvm__abi_path_t;

static inline size_t ipvm__abi_path_index(ipvm__abi_path_t *p, size_t idx)
{
    size_t old = p->n;
    if (p->n < sizeof p->seg / sizeof p->seg[0]) {
        p->seg[p->n].label = NULL;
        p->seg[p->n++].idx = idx;
    }
    return old;
}

static inline size_t ipvm__abi_path_label(ipvm__abi_path_t *p, const char *label, size_t len)
{
    size_t old = p->n;
    if (p->n < sizeof p->seg / sizeof p->seg[0]) {
        p->seg[p->n].label = label;
        p->seg[p->n++].len = len;
    }
    return old;
}

/* "[3].name" into out (cut at cap). */
void ipvm__abi_path_format(const ipvm__abi_path_t *p, char *out, size_t cap);

/* Rust's `Decimal::from_f32(v).to_f64()` (rust_decimal 1.34), which Homestar uses to lift
 * float32. Returns false for NaN and infinities (Homestar fails those). */
bool ipvm__abi_f32_to_f64(float v, double *out);

/* --------------------------------------------------------------------- WIT (abi_wit.c) ---- */

/* Reads WIT text holding one world of exported functions and the types they use, and appends
 * the payload of a component-type custom section for it to out, laid out as wit-component
 * does. *world is the world's name (in arena). Errors: IPVM_EINVAL "WIT line:col: ...",
 * IPVM_ENOMEM. */
int ipvm__abi_wit_encode(const char *text, size_t len, ipvm_buf_t *out, const char **world,
                         ipvm_arena_t *arena, ipvm_error_t *err);
/* Appends to out the core module `mod` followed by a `component-type:ipvm:...` custom section
 * holding payload. IPVM_EWASM when mod is not a core module; IPVM_ENOMEM. */
int ipvm__abi_wit_embed(const uint8_t *mod, size_t len, const uint8_t *payload, size_t plen,
                        const char *world, ipvm_buf_t *out);

/* ----------------------------------------------------------------- names (abi_names.c) ---- */

#define IPVM__ABI_NAME_VARIANTS 7
/* Spelling `which` (0 as given, 1 UPPERCASE, 2 kebab-case, 3 snake_case, 4 lowerCamelCase,
 * 5 PascalCase, 6 %name) of func, as Homestar tries them (heck's word splitting). Writes a
 * NUL-terminated string, cut at cap. */
void ipvm__abi_name_variant(const char *func, int which, char *out, size_t cap);

#endif /* IPVM_WASM_ABI_INT_H */
