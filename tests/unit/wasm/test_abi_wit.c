/* SPDX-License-Identifier: Apache-2.0 */
/* The WIT encoder (src/wasm/abi_wit.c): byte for byte what wit-component 0.201 wrote into
 * Homestar's example_add.wasm and example_subtract.wasm for the same WIT, read back by our
 * parser for every type it supports, embedded into a core module, and its errors. */
#include "unit/wasm/abi_fixture.h"

/* The payload without its trailing custom sections (wit-component adds "producers"). */
static size_t without_custom_tail(const uint8_t *p, size_t n)
{
    size_t i = 8, last = n;
    while (i < n) {
        size_t start = i;
        uint8_t id = p[i++];
        uint64_t size = abi_leb(p, &i);
        i += (size_t)size;
        last = id == 0 && start > 8 + 2 + 22 + 2 ? (last == n ? start : last) : n;
    }
    return last;
}

IPVM_TEST(wasm, abi_wit_matches_wit_component)
{
    static const char *const pairs[][2] = {{"homestar/wit/add.wit", "example_add.wasm"},
                                           {"homestar/wit/subtract.wit", "example_subtract.wasm"}};
    for (size_t k = 0; k < 2; k++) {
        ipvm_buf_t wit = IPVM_BUF_INIT, mod = IPVM_BUF_INIT, out = IPVM_BUF_INIT;
        char rel[128];
        snprintf(rel, sizeof rel, "homestar/wasm/%s", pairs[k][1]);
        ipvm_test_read_file(ipvm_test_vector(pairs[k][0]), &wit);
        ipvm_test_read_file(ipvm_test_vector(rel), &mod);
        size_t len;
        const uint8_t *sec = abi_custom_section(&mod, "component-type", &len);
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_error_t err;
        const char *world;
        IPVM_ASSERT_OK_ERR(ipvm__abi_wit_encode((const char *)wit.data, wit.len, &out, &world,
                                                &a, &err),
                           &err);
        size_t want = without_custom_tail(sec, len);
        IPVM_ASSERT(want < len);
        IPVM_ASSERT_MEMEQ(out.data, out.len, sec, want);
        ipvm_arena_dispose(&a);
        ipvm_buf_dispose(&wit);
        ipvm_buf_dispose(&mod);
        ipvm_buf_dispose(&out);
    }
}

static const char every_type[] =
    "package ipvm:test@1.2.3;\n"
    "/// a doc comment\n"
    "world everything {\n"
    "  record point { x: f64, y: f64 }   // comment\n"
    "  variant shape { circle(f32), square(point), none }\n"
    "  enum color { red, green, blue }\n"
    "  flags perms { read, write, exec }\n"
    "  type bytes = list<u8>;\n"
    "  /* block comment */\n"
    "  export one: func(a: bool, b: s8, c: u8, d: s16, e: u16, f: s32, g: u32, h: s64, i: u64,\n"
    "                   j: float32, k: float64, l: char, m: string) -> bytes;\n"
    "  export two: func(p: point, s: shape, c: color, f: perms) -> option<tuple<u32, string>>;\n"
    "  export three: func(r: result<list<point>, string>, q: result, t: result<_, u8>,\n"
    "                     u: result<u8>) -> list<list<u8>>;\n"
    "  export none: func();\n"
    "  export named: func() -> (a: u32, b: string);\n"
    "  export %export: func(x: list<tuple<string, s32>>) -> u32;\n"
    "}\n";

IPVM_TEST(wasm, abi_wit_roundtrip)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_buf_t out = IPVM_BUF_INIT;
    ipvm_error_t err;
    const char *world;
    IPVM_ASSERT_OK_ERR(ipvm__abi_wit_encode(every_type, strlen(every_type), &out, &world, &a,
                                            &err),
                       &err);
    IPVM_ASSERT_STREQ(world, "everything");
    ipvm__abi_t abi;
    ipvm__abi_init(&abi);
    IPVM_ASSERT_OK_ERR(ipvm__abi_parse_world(&abi, out.data, out.len, &err), &err);
    IPVM_ASSERT_STREQ(abi.world, "ipvm:test/everything@1.2.3");
    static const char *const want[][2] = {
        {"one", "func(a: bool, b: s8, c: u8, d: s16, e: u16, f: s32, g: u32, h: s64, i: u64, "
                "j: f32, k: f64, l: char, m: string) -> bytes"},
        {"two", "func(p: point, s: shape, c: color, f: perms) -> option<tuple<u32, string>>"},
        {"three", "func(r: result<list<point>, string>, q: result, t: result<_, u8>, "
                  "u: result<u8>) -> list<list<u8>>"},
        {"none", "func()"},
        {"named", "func() -> (a: u32, b: string)"},
        {"export", "func(x: list<tuple<string, s32>>) -> u32"},
    };
    IPVM_ASSERT_EQ(abi.nexports, 6);
    for (size_t i = 0; i < 6; i++) {
        ipvm_buf_t b = IPVM_BUF_INIT;
        ipvm__wit_func_render(abi_export(&abi, want[i][0])->func, &b);
        IPVM_ASSERT_STREQ((const char *)b.data, want[i][1]);
        ipvm_buf_dispose(&b);
    }
    const ipvm__wit_type_t *shape = abi_export(&abi, "two")->func->params[1].type;
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm__wit_type_render(shape, true, &b);
    IPVM_ASSERT_STREQ((const char *)b.data, "variant { circle(f32), square(point), none }");
    ipvm_buf_dispose(&b);
    IPVM_ASSERT(abi_export(&abi, "one")->func->params_spill == false);
    IPVM_ASSERT_EQ(abi_export(&abi, "one")->func->nflat_params, 14);

    /* embedded into a core module, the section is found and parses the same */
    static const uint8_t empty[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    ipvm_buf_t mod = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm__abi_wit_embed(empty, 8, out.data, out.len, world, &mod));
    size_t len;
    const uint8_t *sec = abi_custom_section(&mod, "component-type:ipvm:", &len);
    IPVM_ASSERT_MEMEQ(sec, len, out.data, out.len);
    IPVM_ASSERT_ERR(ipvm__abi_wit_embed(out.data, out.len, out.data, out.len, world, &mod),
                    IPVM_EWASM);
    ipvm_buf_dispose(&mod);
    ipvm__abi_dispose(&abi);
    ipvm_buf_dispose(&out);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(wasm, abi_wit_errors)
{
    static const char *const bad[][2] = {
        {"world w { export f: func(a: nope); }", "1:29: unknown type \"nope\""},
        {"world w { export f: func(a: u32) }", "expected \";\""},
        {"world w {\n  import x: func();\n}", "2:3: imports, includes and uses are not"},
        {"world w { record r {} }", "at least one item"},
        {"world w { export f: func(a: list<u8, u8>); }", "list and option take one type"},
        {"world a {} world b {}", "only one world"},
        {"package x:y@1", "without \";\""},
        {"", "expected \"world\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_buf_t out = IPVM_BUF_INIT;
        ipvm_error_t err;
        const char *world;
        IPVM_ASSERT_ERR(ipvm__abi_wit_encode(bad[i][0], strlen(bad[i][0]), &out, &world, &a,
                                             &err),
                        IPVM_EINVAL);
        IPVM_ASSERT_STRCONTAINS(err.msg, bad[i][1]);
        ipvm_buf_dispose(&out);
        ipvm_arena_dispose(&a);
    }
}

/* The example guests built by the normal build carry their WIT world. */
IPVM_TEST(wasm, abi_examples_wit)
{
    static const char *const names[] = {"fib", "sha256", "matmul", "blur", "text"};
    int total = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512], wit[512];
        snprintf(path, sizeof path, "%s/examples/%s.wasm", IPVM_BINARY_DIR, names[i]);
        snprintf(wit, sizeof wit, "%s/examples/functions/%s/%s.wit", IPVM_SOURCE_DIR, names[i],
                 names[i]);
        ipvm_buf_t mod = IPVM_BUF_INIT;
        ipvm_test_read_file(path, &mod);
        size_t len;
        const uint8_t *sec = abi_custom_section(&mod, "component-type:ipvm:", &len);
        ipvm__abi_t abi;
        ipvm_error_t err;
        ipvm__abi_init(&abi);
        IPVM_ASSERT_OK_ERR(ipvm__abi_parse_world(&abi, sec, len, &err), &err);
        int n = check_against_wit(&abi, wit);
        IPVM_ASSERT(n > 0);
        IPVM_ASSERT_EQ(abi.nexports, n);
        total += n;
        ipvm__abi_dispose(&abi);
        ipvm_buf_dispose(&mod);
    }
    IPVM_ASSERT_EQ(total, 10);
}
