/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for lifting and lowering values by the canonical ABI: guest memory is outside
 * bytes (a guest writes what it likes), and so are IPLD arguments. The first byte picks one of
 * the functions of a world that uses every WIT type; the next 8 are the core results; the rest
 * is guest memory to lift from, and, when it parses as DAG-JSON, the arguments to lower.
 * Properties: no crash; errors are IPVM_EABI (or a full memory from the bump realloc). */
#include "fuzz/fuzz.h"
#include "unit/wasm/abi_buf.h"

#include <string.h>

static const char world[] =
    "package fuzz:abi@0.1.0;\n"
    "world values {\n"
    "  record point { x: f64, y: f32 }\n"
    "  record num-keys { name: string, val: option<u32> }\n"
    "  variant shape { circle(f32), square(point), text(string), none }\n"
    "  enum color { red, green, blue }\n"
    "  flags perms { read, write, exec }\n"
    "  export a: func(a: bool, b: s8, c: u8, d: s16, e: u16, f: s32, g: u32, h: s64, i: u64,\n"
    "                 j: f32, k: f64, l: char, m: string) -> list<u8>;\n"
    "  export b: func(p: point, s: shape, c: color, f: perms) -> option<tuple<u32, string>>;\n"
    "  export c: func(r: result<list<point>, string>, q: result) -> list<list<u16>>;\n"
    "  export d: func(x: list<tuple<string, s32>>) -> list<tuple<string, shape>>;\n"
    "  export e: func(n: result<u32, string>) -> num-keys;\n"
    "  export f: func(s: shape) -> shape;\n"
    "  export g: func(c: char) -> tuple<char, f32, f64, s64, color, perms>;\n"
    "  export h: func(a: string, b: string, c: string, d: string, e: string, f: string,\n"
    "                 g: string, h: string, i: string) -> string;\n"
    "}\n";

static ipvm__abi_t abi;
static bool ready;

static void setup(void)
{
    ipvm_buf_t sec = IPVM_BUF_INIT;
    ipvm_error_t err;
    const char *name;
    ipvm__abi_init(&abi);
    IPVM_FUZZ_CHECK(ipvm__abi_wit_encode(world, sizeof world - 1, &sec, &name, &abi.arena,
                                         &err) == 0);
    IPVM_FUZZ_CHECK(ipvm__abi_parse_world(&abi, sec.data, sec.len, &err) == 0);
    IPVM_FUZZ_CHECK(abi.nexports == 8);
    ipvm_buf_dispose(&sec);
    ready = true;
}

IPVM_FUZZ_TARGET(abi_values)
{
    if (!ready)
        setup();
    if (size < 9)
        return 0;
    const ipvm__wit_func_t *f = abi.exports[data[0] % abi.nexports].func;
    uint64_t flat[2];
    memcpy(flat, data + 1, 8);
    flat[1] = 0;
    abi_buf_t m = {NULL, size - 9, 0, 0, {0}};
    m.mem = malloc(m.size ? m.size : 1);
    IPVM_FUZZ_CHECK(m.mem != NULL);
    memcpy(m.mem, data + 9, m.size);
    abi_buf_wire(&m);
    m.m.max_lift = 16 << 20;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v;
    ipvm_error_t err;
    if (!f->results_spill)
        flat[0] &= f->flat_results[0] == 0x7f || f->flat_results[0] == 0x7d ? 0xffffffffu : ~0ull;
    int rc = ipvm__abi_lift_results(f, &m.m, flat, &a, &v, &err);
    IPVM_FUZZ_CHECK(rc == 0 || rc == IPVM_EABI || rc == IPVM_ENOMEM);
    IPVM_FUZZ_CHECK(rc != 0 || v != NULL);

    ipvm_ipld_t *args;
    if (ipvm_dagjson_decode((const char *)data + 9, size - 9, &a, &args, NULL) == 0) {
        uint64_t out[IPVM__ABI_MAX_FLAT_PARAMS];
        m.next = 0;
        rc = ipvm__abi_lower_args(f, &m.m, args, out, &err);
        IPVM_FUZZ_CHECK(rc == 0 || rc == IPVM_EABI || rc == IPVM_ETRAP_MEMORY);
    }
    ipvm_arena_dispose(&a);
    free(m.mem);
    return 0;
}
