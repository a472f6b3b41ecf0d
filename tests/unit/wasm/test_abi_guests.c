/* SPDX-License-Identifier: Apache-2.0 */
/* Homestar's guests, unchanged, through ipvm_wasm_call: every export of example_test.wasm gives
 * Homestar's results (homestar-wasm/tests/execute_wasm.rs, reference/homestar.md §4.6), the
 * image functions make real PNGs (decoded with libpng and checked pixel by pixel where the
 * transform allows), example_add/example_subtract, and the _wasi and _component variants give
 * the same answers as the plain ones. Runs on the engine's first tier, with a shared cache. */
#include "unit/wasm/abi_fixture.h"

#include <math.h>
#include <sys/stat.h>
#ifdef IPVM_HAVE_PNG
#include <png.h>
#endif

/* ------------------------------------------------------------------------- helpers ---- */
static ipvm_wasm_engine_t *engine(void)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/test-wasm-cache", IPVM_BINARY_DIR);
    mkdir(dir, 0755);
    ipvm_wasm_engine_opts_t o = {0};
    o.cache_dir = dir;
    o.gcc_tier = 0; /* the first tier: tests stay fast; the tiers are the engine's tests */
    ipvm_wasm_engine_t *e;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_wasm_engine_new(&o, &e, &err), &err);
    return e;
}

static ipvm_wasm_module_t *load(ipvm_wasm_engine_t *e, const char *path)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_test_read_file(path, &b);
    ipvm_wasm_module_t *m;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_wasm_module_load(e, b.data, b.len, &m, &err), &err);
    ipvm_buf_dispose(&b);
    return m;
}

static ipvm_wasm_module_t *homestar(ipvm_wasm_engine_t *e, const char *file)
{
    char rel[128];
    snprintf(rel, sizeof rel, "homestar/wasm/%s", file);
    return load(e, ipvm_test_vector(rel));
}

static ipvm_wasm_module_t *example(ipvm_wasm_engine_t *e, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/examples/%s.wasm", IPVM_BINARY_DIR, name);
    return load(e, path);
}

/* Calls func with args (DAG-JSON) and returns the rc; *v is the result. */
static int call(ipvm_wasm_module_t *m, const char *func, const char *args, ipvm_arena_t *a,
                ipvm_ipld_t **v, ipvm_error_t *err)
{
    ipvm_wasm_result_t r;
    int rc = ipvm_wasm_call(m, func, abi_json(a, args), NULL, a, &r, err);
    *v = rc == 0 ? r.value : NULL;
    return rc;
}

/* Calls and returns the result's DAG-JSON (in a static buffer), failing on an error. */
static const char *callj(ipvm_wasm_module_t *m, const char *func, const char *args)
{
    static char out[1 << 16];
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v;
    ipvm_error_t err;
    int rc = call(m, func, args, &a, &v, &err);
    if (rc != 0) {
        char d[512];
        ipvm_test_fail(__FILE__, __LINE__, "%s(%s): %s: %s", func, args, ipvm_err_name(rc),
                       ipvm_error_describe(&err, d, sizeof d));
    }
    abi_to_json(v, out, sizeof out);
    ipvm_arena_dispose(&a);
    return out;
}

#define EXPECT(m, func, args, want) IPVM_ASSERT_STREQ(callj((m), (func), (args)), (want))

/* Rust's DefaultHasher: SipHash-1-3 with zero keys (core::hash::sip), written from the SipHash
 * paper; sip(2, 4) is checked against the paper's test vector below. */
static uint64_t rotl(uint64_t x, int b)
{
    return x << b | x >> (64 - b);
}

static void sipround(uint64_t v[4])
{
    v[0] += v[1], v[1] = rotl(v[1], 13), v[1] ^= v[0], v[0] = rotl(v[0], 32);
    v[2] += v[3], v[3] = rotl(v[3], 16), v[3] ^= v[2];
    v[0] += v[3], v[3] = rotl(v[3], 21), v[3] ^= v[0];
    v[2] += v[1], v[1] = rotl(v[1], 17), v[1] ^= v[2], v[2] = rotl(v[2], 32);
}

static uint64_t sip(int c, int d, uint64_t k0, uint64_t k1, const uint8_t *m, size_t n)
{
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
                     k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull};
    size_t i = 0;
    for (; i + 8 <= n + 1; i += 8) { /* full words; the last, partial one carries the length */
        uint64_t w = 0;
        bool last = i + 8 > n;
        for (int j = 0; j < 8; j++) {
            uint64_t byte = i + j < n ? m[i + j] : 0;
            if (last && j == 7)
                byte = n & 0xff;
            w |= byte << (8 * j);
        }
        v[3] ^= w;
        for (int r = 0; r < c; r++)
            sipround(v);
        v[0] ^= w;
        if (last)
            goto final;
    }
    {
        uint64_t w = (uint64_t)(n & 0xff) << 56;
        for (size_t j = 0; i + j < n; j++)
            w |= (uint64_t)m[i + j] << (8 * j);
        v[3] ^= w;
        for (int r = 0; r < c; r++)
            sipround(v);
        v[0] ^= w;
    }
final:
    v[2] ^= 0xff;
    for (int r = 0; r < d; r++)
        sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ------------------------------------------------------------- example_test.wasm ---- */
static void check_example_test(ipvm_wasm_module_t *m)
{
    EXPECT(m, "add_one", "[1]", "2");
    EXPECT(m, "add_one", "[10]", "11");
    EXPECT(m, "add-one", "[-5]", "-4");
    EXPECT(m, "addOne", "[41]", "42");
    EXPECT(m, "append-string", "[\"Natural Science\"]", "\"Natural Science\\nworld\"");
    EXPECT(m, "append_string", "[\"\"]", "\"\\nworld\"");
    EXPECT(m, "join-strings", "[\"Round\", \"about\"]", "\"Roundabout\"");
    EXPECT(m, "transpose", "[[[1,2,3],[4,5,6],[7,8,9]]]", "[[1,4,7],[2,5,8],[3,6,9]]");
    EXPECT(m, "transpose", "[[[1,4,7],[2,5,8],[3,6,9]]]", "[[1,2,3],[4,5,6],[7,8,9]]");
    EXPECT(m, "transpose", "[[[65535,0]]]", "[[65535],[0]]");
    EXPECT(m, "pop", "[[]]", "null");
    EXPECT(m, "pop", "[[1]]", "1");
    EXPECT(m, "pop", "[[3,-2,7]]", "7");
    EXPECT(m, "binary_search", "[[1], 2]", "[null,1]");
    EXPECT(m, "binary_search", "[[1], 1]", "[0,null]");
    EXPECT(m, "binary-search", "[[9,1,5,3], 5]", "[2,null]"); /* sorted first: 1 3 5 9 */
    EXPECT(m, "num_to_kv", "[[1, null]]", "{\"name\":\"1\",\"val\":1}");
    EXPECT(m, "num_to_kv", "[[null, \"bad stuff\"]]", "{\"name\":\"NAN\",\"val\":null}");
    /* hash: DefaultHasher over the str (its bytes, then 0xff), big-endian */
    static const char *const words[] = {"", "hello", "Natural Science", "a longer string, 27 b"};
    for (size_t i = 0; i < 4; i++) {
        uint8_t msg[64];
        size_t n = strlen(words[i]);
        memcpy(msg, words[i], n);
        msg[n] = 0xff;
        uint64_t h = sip(1, 3, 0, 0, msg, n + 1);
        uint8_t be[8];
        for (int j = 0; j < 8; j++)
            be[j] = (uint8_t)(h >> (56 - 8 * j));
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_ipld_t *v;
        ipvm_error_t err;
        char args[128];
        snprintf(args, sizeof args, "[\"%s\"]", words[i]);
        IPVM_ASSERT_OK_ERR(call(m, "hash", args, &a, &v, &err), &err);
        IPVM_ASSERT_EQ(v->kind, IPVM_IPLD_BYTES);
        IPVM_ASSERT_MEMEQ(v->u.str.ptr, v->u.str.len, be, 8);
        ipvm_arena_dispose(&a);
    }
    /* host-fmt-current-time: "{:02}:{:02}.{:03}" of the host's elapsed time */
    const char *t = callj(m, "host_fmt_current_time", "[]");
    unsigned s, ms, ns;
    char tail;
    IPVM_ASSERT_MSG(sscanf(t, "\"%u:%u.%u%c", &s, &ms, &ns, &tail) == 4 && tail == '"',
                    "time string %s", t);
    IPVM_ASSERT(ms < 1000 && ns < 1000000000u);
}

IPVM_TEST(wasm, abi_homestar_example_test)
{
    uint64_t a = sip(2, 4, 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull,
                     (const uint8_t *)"\0\1\2\3\4\5\6\7\10\11\12\13\14\15\16", 15);
    IPVM_ASSERT_EQ_U64(a, 0xa129ca6149be45e5ull); /* SipHash paper, appendix A */
    ipvm_wasm_engine_t *e = engine();
    ipvm_wasm_module_t *m = homestar(e, "example_test.wasm");
    check_example_test(m);
    /* errors name the function, the argument and the type */
    ipvm_arena_t ar;
    ipvm_arena_init(&ar);
    ipvm_ipld_t *v;
    ipvm_error_t err;
    IPVM_ASSERT_ERR(call(m, "no-such-thing", "[]", &ar, &v, &err), IPVM_ENOFUNC);
    IPVM_ASSERT_STRCONTAINS(err.msg, "add-one");
    IPVM_ASSERT_ERR(call(m, "add-one", "[\"one\"]", &ar, &v, &err), IPVM_EABI);
    IPVM_ASSERT_STRCONTAINS(err.msg, "add-one: argument 1 (a: s32)");
    IPVM_ASSERT_ERR(call(m, "transpose", "[[[1,70000]]]", &ar, &v, &err), IPVM_EABI);
    IPVM_ASSERT_STRCONTAINS(err.msg, "at [0][1] (u16): integer 70000 is out of range");
    /* a guest panic is a trap (Rust's unreachable), and the node goes on */
    IPVM_ASSERT_ERR(call(m, "transpose", "[[]]", &ar, &v, &err), IPVM_ETRAP_UNREACHABLE);
    EXPECT(m, "add_one", "[1]", "2");
    ipvm_arena_dispose(&ar);
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
}

IPVM_TEST(wasm, abi_homestar_variants_agree)
{
    ipvm_wasm_engine_t *e = engine();
    static const char *const files[] = {"example_test_wasi.wasm", "example_test_component.wasm"};
    for (int i = 0; i < 2; i++) {
        ipvm_wasm_module_t *m = homestar(e, files[i]);
        check_example_test(m);
        ipvm_wasm_module_release(m);
    }
    ipvm_wasm_engine_free(e);
}

IPVM_TEST(wasm, abi_homestar_add_subtract)
{
    ipvm_wasm_engine_t *e = engine();
    static const char *const adds[] = {"example_add.wasm", "example_add_component.wasm"};
    for (int i = 0; i < 2; i++) {
        ipvm_wasm_module_t *m = homestar(e, adds[i]);
        EXPECT(m, "add_one", "[1]", "2");
        EXPECT(m, "add_two", "[1]", "3");
        EXPECT(m, "addTwo", "[-3]", "-1");
        ipvm_wasm_module_release(m);
    }
    ipvm_wasm_module_t *m = homestar(e, "example_subtract.wasm");
    /* `ipvm wasm inspect` shows each export's WIT signature, and none for the helpers */
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *desc;
    IPVM_ASSERT_OK(ipvm_wasm_module_describe(m, &a, &desc));
    const ipvm_ipld_t *exports = ipvm_ipld_map_get(desc, "exports");
    IPVM_ASSERT(exports && exports->kind == IPVM_IPLD_LIST);
    int seen = 0;
    for (size_t i = 0; i < exports->u.list.len; i++) {
        const ipvm_ipld_t *x = exports->u.list.items[i];
        const ipvm_ipld_t *wit = ipvm_ipld_map_get(x, "wit");
        if (ipvm_ipld_is_str(ipvm_ipld_map_get(x, "name"), "subtract-int")) {
            IPVM_ASSERT(ipvm_ipld_is_str(wit, "func(a: s8, b: s8) -> s8"));
            seen++;
        }
        if (ipvm_ipld_is_str(ipvm_ipld_map_get(x, "name"), "cabi_realloc")) {
            IPVM_ASSERT(wit == NULL);
            seen++;
        }
    }
    IPVM_ASSERT_EQ(seen, 2);
    ipvm_arena_dispose(&a);
    EXPECT(m, "SUBTRACT", "[1, 1]", "0.0");
    EXPECT(m, "subtract", "[2.5, 1]", "1.5");
    EXPECT(m, "subtractInt", "[1.0, 2.0]", "-1");
    EXPECT(m, "subtract_int", "[-100, 100]", "56"); /* s8 arithmetic wraps in the guest */
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
}

/* -------------------------------------------------------------------- our examples ---- */
IPVM_TEST(wasm, abi_examples_run)
{
    ipvm_wasm_engine_t *e = engine();
    ipvm_wasm_module_t *fib = example(e, "fib");
    EXPECT(fib, "fib", "[0]", "0");
    EXPECT(fib, "fib", "[1]", "1");
    EXPECT(fib, "fib", "[90]", "2880067194370816120");
    EXPECT(fib, "fib", "[93]", "12200160415121876738"); /* the largest that fits a u64 */
    ipvm_wasm_module_release(fib);

    ipvm_wasm_module_t *sha = example(e, "sha256");
    static const char *const msgs[] = {"", "abc", "hello world",
                                       "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"};
    for (int i = 0; i < 4; i++) {
        uint8_t want[IPVM_MH_MAX_DIGEST];
        size_t dlen;
        IPVM_ASSERT_OK(ipvm_multihash_digest(IPVM_MH_SHA2_256, (const uint8_t *)msgs[i],
                                             strlen(msgs[i]), want, &dlen));
        char hex[65], args[256], json[80];
        for (int j = 0; j < 32; j++)
            snprintf(hex + 2 * j, 3, "%02x", want[j]);
        snprintf(args, sizeof args, "[\"%s\"]", msgs[i]);
        snprintf(json, sizeof json, "\"%s\"", hex);
        EXPECT(sha, "sha256-hex", args, json);
        ipvm_buf_t b64 = IPVM_BUF_INIT, exp = IPVM_BUF_INIT;
        IPVM_ASSERT_OK(ipvm_base_encode(IPVM_BASE64, (const uint8_t *)msgs[i], strlen(msgs[i]),
                                        &b64));
        IPVM_ASSERT_OK(ipvm_base_encode(IPVM_BASE64, want, 32, &exp));
        snprintf(args, sizeof args, "[{\"/\":{\"bytes\":\"%.*s\"}}]", (int)b64.len,
                 b64.data ? (const char *)b64.data : "");
        char wantj[128];
        snprintf(wantj, sizeof wantj, "{\"/\":{\"bytes\":\"%s\"}}", (const char *)exp.data);
        if (strlen(msgs[i]) > 0) /* an empty list<u8> argument is given as bytes too */
            EXPECT(sha, "sha256", args, wantj);
        ipvm_buf_dispose(&b64);
        ipvm_buf_dispose(&exp);
    }
    ipvm_wasm_module_release(sha);

    ipvm_wasm_module_t *mm = example(e, "matmul");
    EXPECT(mm, "matmul", "[2, [1, 2, 3, 4], [5, 6, 7, 8]]", "[19.0,22.0,43.0,50.0]");
    EXPECT(mm, "matpow-trace", "[3, 0]", "3.0");
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v;
    ipvm_error_t err;
    IPVM_ASSERT_ERR(call(mm, "matmul", "[2, [1], [1]]", &a, &v, &err), IPVM_ETRAP_UNREACHABLE);
    ipvm_wasm_module_release(mm);

    ipvm_wasm_module_t *bl = example(e, "blur");
    /* a single white pixel on black spreads evenly over the 3x3 box around it */
    uint8_t px[5 * 5 * 4] = {0};
    for (int i = 0; i < 25; i++)
        px[4 * i + 3] = 255;
    px[(2 * 5 + 2) * 4] = 225;
    ipvm_buf_t b64 = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_base_encode(IPVM_BASE64, px, sizeof px, &b64));
    char args[512];
    snprintf(args, sizeof args, "[5, 5, 1, {\"/\":{\"bytes\":\"%s\"}}]", (const char *)b64.data);
    IPVM_ASSERT_OK_ERR(call(bl, "box-blur", args, &a, &v, &err), &err);
    IPVM_ASSERT_EQ(v->u.str.len, sizeof px);
    const uint8_t *o = (const uint8_t *)v->u.str.ptr;
    for (int y = 0; y < 5; y++)
        for (int x = 0; x < 5; x++) {
            bool near = abs(x - 2) <= 1 && abs(y - 2) <= 1;
            IPVM_ASSERT_EQ(o[(y * 5 + x) * 4], near ? 25 : 0);
            IPVM_ASSERT_EQ(o[(y * 5 + x) * 4 + 3], 255);
        }
    snprintf(args, sizeof args, "[{\"/\":{\"bytes\":\"%s\"}}]", "yIBAEA"); /* 200,128,64,16 */
    EXPECT(bl, "grayscale", args, "{\"/\":{\"bytes\":\"jo6OEA\"}}"); /* luma 142 */
    ipvm_buf_dispose(&b64);
    ipvm_wasm_module_release(bl);

    ipvm_wasm_module_t *tx = example(e, "text");
    EXPECT(tx, "title-case", "[\"hello WORLD, it's me\"]", "\"Hello World, It's Me\"");
    EXPECT(tx, "stats", "[\"two words\\nand three\"]", "{\"bytes\":19,\"lines\":2,\"words\":4}");
    EXPECT(tx, "stats", "[\"\"]", "{\"bytes\":0,\"lines\":0,\"words\":0}");
    EXPECT(tx, "word-freq", "[\"b a b c b a\"]", "{\"a\":2,\"b\":3,\"c\":1}");
    ipvm_wasm_module_release(tx);
    ipvm_arena_dispose(&a);
    ipvm_wasm_engine_free(e);
}

/* ------------------------------------------------------------------------- images ---- */
#ifdef IPVM_HAVE_PNG
typedef struct img_s {
    uint32_t w, h;
    bool color; /* false: the PNG is grayscale */
    uint8_t *rgba;
} img_t;

/* Decodes PNG bytes with libpng into RGBA, failing the test on a bad PNG. */
static img_t decode(const ipvm_ipld_t *v)
{
    IPVM_ASSERT_EQ(v->kind, IPVM_IPLD_BYTES);
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    IPVM_ASSERT_MSG(png_image_begin_read_from_memory(&pi, v->u.str.ptr, v->u.str.len),
                    "not a PNG: %s", pi.message);
    img_t im = {pi.width, pi.height, (pi.format & PNG_FORMAT_FLAG_COLOR) != 0, NULL};
    pi.format = PNG_FORMAT_RGBA;
    im.rgba = malloc(PNG_IMAGE_SIZE(pi));
    IPVM_ASSERT(im.rgba != NULL);
    IPVM_ASSERT_MSG(png_image_finish_read(&pi, NULL, im.rgba, 0, NULL), "bad PNG: %s",
                    pi.message);
    return im;
}

static const uint8_t *px(const img_t *im, uint32_t x, uint32_t y)
{
    return im->rgba + ((size_t)y * im->w + x) * 4;
}

/* The PNG as a "data:image/png;base64," string with padding (Rust's STANDARD engine). */
static char *data_uri(const ipvm_ipld_t *png)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_buf_append_str(&b, "[\"data:image/png;base64,"));
    IPVM_ASSERT_OK(ipvm_base_encode(IPVM_BASE64, (const uint8_t *)png->u.str.ptr,
                                    png->u.str.len, &b));
    while ((b.len - 24) % 4) /* after `["data:image/png;base64,` */
        IPVM_ASSERT_OK(ipvm_buf_append_byte(&b, '='));
    IPVM_ASSERT_OK(ipvm_buf_append_str(&b, "\""));
    return (char *)ipvm_buf_take(&b, NULL);
}

static ipvm_ipld_t *call_v(ipvm_wasm_module_t *m, const char *func, ipvm_ipld_t *args,
                           ipvm_arena_t *a)
{
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    int rc = ipvm_wasm_call(m, func, args, NULL, a, &r, &err);
    IPVM_ASSERT_MSG(rc == 0, "%s: %s: %s (log: %.300s)", func, ipvm_err_name(rc), err.msg,
                    r.log ? r.log : "");
    return r.value;
}

static ipvm_ipld_t *args_png(ipvm_arena_t *a, const ipvm_ipld_t *png, const char *rest_json)
{
    ipvm_ipld_t *rest = abi_json(a, rest_json);
    ipvm_ipld_t *l = ipvm_ipld_new_list(a, 1 + rest->u.list.len);
    IPVM_ASSERT_OK(ipvm_ipld_list_push(a, l, (ipvm_ipld_t *)png));
    for (size_t i = 0; i < rest->u.list.len; i++)
        IPVM_ASSERT_OK(ipvm_ipld_list_push(a, l, rest->u.list.items[i]));
    return l;
}

/* The same call with the PNG as a data URI string: same bytes out. */
static void same_base64(ipvm_wasm_module_t *m, const char *func, const ipvm_ipld_t *png,
                        const char *rest, const ipvm_ipld_t *want, ipvm_arena_t *a)
{
    char *uri = data_uri(png);
    size_t cap = strlen(uri) + strlen(rest) + 8;
    char *json = malloc(cap);
    IPVM_ASSERT(json != NULL);
    snprintf(json, cap, "%s%s%s]", uri, rest[0] ? "," : "", rest);
    free(uri);
    ipvm_ipld_t *v = call_v(m, func, abi_json(a, json), a);
    free(json);
    IPVM_ASSERT_MEMEQ(v->u.str.ptr, v->u.str.len, want->u.str.ptr, want->u.str.len);
}

static void check_images(ipvm_wasm_module_t *m)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_buf_t cat = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector("homestar/data/synthcat.png"), &cat);
    ipvm_ipld_t *src = ipvm_ipld_new_bytes(&a, cat.data, cat.len);
    img_t full = decode(src);
    IPVM_ASSERT(full.w == 1080 && full.h == 1080);
    /* crop: a PNG of the asked size holding exactly those pixels */
    ipvm_ipld_t *crop = call_v(m, "crop", args_png(&a, src, "[150, 200, 48, 32]"), &a);
    img_t c = decode(crop);
    IPVM_ASSERT(c.w == 48 && c.h == 32);
    for (uint32_t y = 0; y < c.h; y++)
        for (uint32_t x = 0; x < c.w; x++)
            IPVM_ASSERT_MEMEQ(px(&c, x, y), 4, px(&full, 150 + x, 200 + y), 4);
    /* rotate90 of the crop is the crop turned clockwise */
    ipvm_ipld_t *rot = call_v(m, "rotate90", args_png(&a, crop, "[]"), &a);
    img_t r = decode(rot);
    IPVM_ASSERT(r.w == c.h && r.h == c.w);
    for (uint32_t y = 0; y < c.h; y++)
        for (uint32_t x = 0; x < c.w; x++)
            IPVM_ASSERT_MEMEQ(px(&r, c.h - 1 - y, x), 4, px(&c, x, y), 4);
    /* grayscale: a gray PNG whose luma follows the crop's colours */
    ipvm_ipld_t *gray = call_v(m, "grayscale", args_png(&a, crop, "[]"), &a);
    img_t g = decode(gray);
    IPVM_ASSERT(g.w == c.w && g.h == c.h && !g.color);
    for (uint32_t y = 0; y < c.h; y++)
        for (uint32_t x = 0; x < c.w; x++) {
            const uint8_t *p = px(&g, x, y), *q = px(&c, x, y);
            IPVM_ASSERT(p[0] == p[1] && p[1] == p[2]);
            double luma = 0.2126 * q[0] + 0.7152 * q[1] + 0.0722 * q[2];
            IPVM_ASSERT_MSG(fabs(p[0] - luma) <= 1.0, "luma %u vs %.1f", p[0], luma);
        }
    /* blur: same size, smoother (less total variation), not the same */
    ipvm_ipld_t *blur = call_v(m, "blur", args_png(&a, crop, "[2.0]"), &a);
    img_t b = decode(blur);
    IPVM_ASSERT(b.w == c.w && b.h == c.h);
    uint64_t tv_c = 0, tv_b = 0;
    for (uint32_t y = 0; y < c.h; y++)
        for (uint32_t x = 0; x + 1 < c.w; x++)
            for (int k = 0; k < 3; k++) {
                tv_c += (uint64_t)abs(px(&c, x + 1, y)[k] - px(&c, x, y)[k]);
                tv_b += (uint64_t)abs(px(&b, x + 1, y)[k] - px(&b, x, y)[k]);
            }
    IPVM_ASSERT_MSG(tv_b * 2 < tv_c, "blur did not smooth: %llu vs %llu",
                    (unsigned long long)tv_b, (unsigned long long)tv_c);
    /* the base64 variants take a data URI and give the same bytes */
    ipvm_ipld_t *small = call_v(m, "crop", args_png(&a, crop, "[0, 0, 10, 12]"), &a);
    same_base64(m, "crop-base64", crop, "0, 0, 10, 12", small, &a);
    same_base64(m, "rotate90-base64", crop, "", rot, &a);
    same_base64(m, "grayscale-base64", crop, "", gray, &a);
    same_base64(m, "blur-base64", crop, "2.0", blur, &a);
    free(full.rgba), free(c.rgba), free(r.rgba), free(g.rgba), free(b.rgba);
    ipvm_buf_dispose(&cat);
    ipvm_arena_dispose(&a);
}
#endif

IPVM_TEST(wasm, abi_homestar_images)
{
#ifdef IPVM_HAVE_PNG
    ipvm_wasm_engine_t *e = engine();
    ipvm_wasm_module_t *m = homestar(e, "example_test.wasm");
    check_images(m);
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
#else
    ipvm_test_fail(__FILE__, __LINE__, "built without libpng: run tools/deps.sh test, then "
                                       "re-run cmake");
#endif
}
