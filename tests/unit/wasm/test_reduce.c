/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the tcc tier's reduced translation (reduce.c): what a call can reach, that the
 * reduced code gives the whole module's results, fuel and traps, and that each set of called
 * exports is compiled once. */
#include "unit/wasm/wasm_test.h"
#include "wasm/core_int.h"
#include "wasm/engine_int.h"

/* Function indices: 0 the import, 1 $leaf, 2 $mid, 3 $sq (type $i_i, in the table), 4 $neg
 * (type $i_i by structure, a different type index, in a passive element segment),
 * 5 $other (type $v_i, in the table), 6 $dead, 7 "direct", 8 "indirect", 9 "viaref",
 * 10 "lonely", 11 $start_fn, 12 "sq_export", 13 "datas" (an active and a passive data
 * segment, which the tcc tier takes from the module's bytes). */
static const char *const wat =
    "(module\n"
    "  (type $i_i (func (param i32) (result i32)))\n"
    "  (type $i_i2 (func (param i32) (result i32)))\n"
    "  (type $v_i (func (result i32)))\n"
    "  (import \"wasi:logging/logging\" \"log\" (func $log (param i32 i32 i32 i32 i32)))\n"
    "  (table 4 funcref)\n"
    "  (memory 1)\n"
    "  (global $g (mut i32) (i32.const 0))\n"
    "  (elem (i32.const 0) $sq $other)\n"
    "  (elem $pe func $neg)\n"
    "  (func $leaf (param i32) (result i32) local.get 0 i32.const 1 i32.add)\n"
    "  (func $mid (param i32) (result i32) (local $i i32)\n"
    "    (loop $l local.get $i i32.const 1 i32.add local.tee $i local.get 0 i32.lt_u br_if $l)\n"
    "    local.get $i call $leaf)\n"
    "  (func $sq (type $i_i) local.get 0 local.get 0 i32.mul)\n"
    "  (func $neg (type $i_i2) i32.const 0 local.get 0 i32.sub)\n"
    "  (func $other (type $v_i) i32.const 7)\n"
    "  (func $dead (param i32) (result i32) local.get 0 call $mid call $mid)\n"
    "  (func (export \"direct\") (param i32) (result i32) local.get 0 call $mid)\n"
    "  (func (export \"indirect\") (param i32 i32) (result i32)\n"
    "    local.get 0 local.get 1 call_indirect (type $i_i))\n"
    "  (func (export \"viaref\") (param i32) (result i32)\n"
    "    i32.const 2 i32.const 0 i32.const 1 table.init $pe local.get 0 i32.const 2 call_indirect (type $i_i))\n"
    "  (func (export \"lonely\") (result i32) global.get $g)\n"
    "  (func $start_fn global.get $g i32.const 40 i32.add global.set $g)\n"
    "  (func (export \"sq_export\") (param i32) (result i32) local.get 0 call $sq)\n"
    "  (data (i32.const 16) \"\\2a\\00\\00\\00\")\n"
    "  (data $pd \"\\07\\00\\00\\00\")\n"
    "  (func (export \"datas\") (result i32)\n"
    "    (memory.init $pd (i32.const 32) (i32.const 0) (i32.const 4))\n"
    "    (i32.add (i32.load (i32.const 16)) (i32.load (i32.const 32))))\n"
    "  (start $start_fn))\n";

static void live_of(const ipvm__wasm_info_t *in, uint32_t root, char out[16])
{
    uint8_t live[16];
    IPVM_ASSERT(in->nfuncs <= 15);
    IPVM_ASSERT_OK(ipvm__wasm_live(in, &root, 1, live));
    for (uint32_t k = 0; k < in->nfuncs; k++)
        out[k] = live[k] ? '1' : '0';
    out[in->nfuncs] = '\0';
}

IPVM_TEST(wasm, reduce_reachability)
{
    ipvm_buf_t w = IPVM_BUF_INIT;
    wt_wat(wat, &w);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm__wasm_info_t in;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm__wasm_parse(w.data, w.len, &a, &in, &err), &err);
    IPVM_ASSERT_EQ(in.nfuncs, 14);
    char got[16];
    /* direct calls, transitively, and the start function; nothing of the table */
    live_of(&in, 7, got);
    IPVM_ASSERT_STREQ(got, "01100001000100");
    /* call_indirect (type $i_i): what a table may hold of that structure: $sq (an element)
     * and $neg (type $i_i2, equal by structure; a passive element), not $other */
    live_of(&in, 8, got);
    IPVM_ASSERT_STREQ(got, "00011000100100");
    live_of(&in, 9, got);
    IPVM_ASSERT_STREQ(got, "00011000010100");
    live_of(&in, 10, got);
    IPVM_ASSERT_STREQ(got, "00000000001100");
    /* the reduced module parses back with every function in place */
    uint8_t live[16];
    uint32_t root = 7;
    IPVM_ASSERT_OK(ipvm__wasm_live(&in, &root, 1, live));
    ipvm_buf_t r = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm__wasm_rewrite(&in, live, &r));
    ipvm__wasm_info_t again;
    IPVM_ASSERT_OK_ERR(ipvm__wasm_parse(r.data, r.len, &a, &again, &err), &err);
    IPVM_ASSERT_EQ(again.nfuncs, in.nfuncs);
    IPVM_ASSERT_EQ(again.nloops, 1); /* only $mid's: $dead calls but has no loop itself */
    IPVM_ASSERT(r.len < w.len);
    ipvm_buf_dispose(&r);
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&w);
}

static uint64_t call_fuel(ipvm_wasm_module_t *m, const char *func, const char *args,
                          const char *want)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(wt_call(m, func, args, NULL, &a, &r, &err), &err);
    IPVM_ASSERT_STREQ(wt_json(r.value), want);
    ipvm_arena_dispose(&a);
    return r.fuel_used;
}

static void call_trap(ipvm_wasm_module_t *m, const char *func, const char *args, int code)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    IPVM_ASSERT_ERR(wt_call(m, func, args, NULL, &a, &r, &err), code);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(wasm, reduce_agrees_with_whole_module)
{
    ipvm_buf_t w = IPVM_BUF_INIT;
    wt_wat(wat, &w);
    /* the reference: the gcc tier, which compiles the whole module */
    ipvm_wasm_engine_t *eg = wt_engine(2, wt_shared_cache());
    ipvm_wasm_module_t *g = wt_load(eg, &w);
    ipvm_wasm_engine_t *et = wt_engine(0, NULL);
    ipvm_wasm_module_t *t = wt_load(et, &w);
    unsigned long tcc0 = atomic_load(&ipvm__wasm_stats.tcc);
    IPVM_ASSERT_EQ(t->nparts, 0); /* loading compiles nothing on the tcc tier */
    uint64_t fg = call_fuel(g, "direct", "[50]", "51");
    IPVM_ASSERT_EQ_U64(call_fuel(t, "direct", "[50]", "51"), fg);
    IPVM_ASSERT_EQ_U64(fg, 52); /* 50 loop iterations, the entries of "direct" and $mid */
    IPVM_ASSERT_EQ_U64(call_fuel(t, "direct", "[5]", "6"), call_fuel(g, "direct", "[5]", "6"));
    IPVM_ASSERT_EQ(atomic_load(&ipvm__wasm_stats.tcc) - tcc0, 1); /* one compile for "direct" */
    /* another export: another part; the table and traps as in the whole module */
    call_fuel(t, "indirect", "[7, 0]", "49");
    call_fuel(g, "indirect", "[7, 0]", "49");
    call_trap(t, "indirect", "[7, 1]", IPVM_ETRAP_INDIRECT); /* $other: wrong type */
    call_trap(g, "indirect", "[7, 1]", IPVM_ETRAP_INDIRECT);
    call_trap(t, "indirect", "[7, 3]", IPVM_ETRAP_INDIRECT); /* null slot */
    call_trap(t, "indirect", "[7, 9]", IPVM_ETRAP_INDIRECT); /* out of the table */
    call_fuel(t, "viaref", "[5]", "-5");
    call_fuel(g, "viaref", "[5]", "-5");
    call_fuel(t, "lonely", "[]", "40"); /* the start function ran */
    call_fuel(t, "datas", "[]", "49");
    call_fuel(g, "datas", "[]", "49");
    IPVM_ASSERT_EQ(t->nparts, 5);
    /* a call covered by an earlier part compiles nothing */
    unsigned long tcc1 = atomic_load(&ipvm__wasm_stats.tcc);
    call_fuel(t, "direct", "[1]", "2");
    IPVM_ASSERT_EQ(atomic_load(&ipvm__wasm_stats.tcc), tcc1);
    /* a direct instance (no export named) gets the whole module */
    ipvm__wasm_instance_t *i;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm__wasm_instantiate(t, NULL, &i, &err), &err);
    IPVM_ASSERT(t->tcc != NULL && i->code == t->tcc);
    long x = ipvm__wasm_export_find(t, "sq_export", 9);
    uint64_t args[1] = {9}, res[1];
    IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(i, (uint32_t)x, args, res, &err), &err);
    IPVM_ASSERT_EQ(res[0], 81);
    ipvm__wasm_instance_free(i);
    ipvm_wasm_module_release(t);
    ipvm_wasm_engine_free(et);
    ipvm_wasm_module_release(g);
    ipvm_wasm_engine_free(eg);
    ipvm_buf_dispose(&w);
}
