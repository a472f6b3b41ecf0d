/* SPDX-License-Identifier: Apache-2.0 */
/* Homestar's identifiers, recomputed from its fixture workflows: every instruction, workflow,
 * invocation and receipt CID in tests/vectors/homestar/gold.json (see DESIGN.md "Identifiers"
 * and reference/homestar.md §1). */
#include "test.h"

static ipvm_ipld_t *load_json(ipvm_arena_t *a, const char *path)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_test_read_file(path, &b);
    ipvm_ipld_t *v = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_dagjson_decode((const char *)b.data, b.len, a, &v, &err), &err);
    ipvm_buf_dispose(&b);
    return v;
}

static const char *cid_of(const ipvm_ipld_t *v, char out[IPVM_CID_MAX_STR])
{
    ipvm_cid_t cid;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_ipld_cid(v, IPVM_MH_SHA3_256, &cid, &err), &err);
    return ipvm_cid_str(&cid, out);
}

/* gold.json's entry "<file>#<task>" (or "<file>") in the table `section`, NULL if none. */
static const char *gold(const ipvm_ipld_t *g, const char *section, const char *key)
{
    const ipvm_ipld_t *s = ipvm_ipld_map_get(ipvm_ipld_map_get(g, section), key);
    return s && s->kind == IPVM_IPLD_STRING ? s->u.str.ptr : NULL;
}

IPVM_TEST(ipld, homestar_gold_cids)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *g = load_json(&a, ipvm_test_vector("homestar/gold.json"));
    static const char *files[] = {"test-workflow-add-one.json", "test-workflow-add-one-nonced.json",
                                  "test-workflow-image-pipeline.json"};
    int checked = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[256], key[320], got[IPVM_CID_MAX_STR];
        snprintf(path, sizeof path, "homestar/workflows/%s", files[f]);
        ipvm_ipld_t *wf = load_json(&a, ipvm_test_vector(path));
        /* workflow CID: the whole {"tasks": [...]} document */
        const char *want = gold(g, "workflow_cids", files[f]);
        IPVM_ASSERT(want != NULL);
        IPVM_ASSERT_STREQ(cid_of(wf, got), want);
        checked++;
        const ipvm_ipld_t *tasks = ipvm_ipld_map_get(wf, "tasks");
        IPVM_ASSERT(tasks && tasks->kind == IPVM_IPLD_LIST && tasks->u.list.len >= 2);
        for (size_t t = 0; t < tasks->u.list.len; t++) {
            ipvm_ipld_t *task = tasks->u.list.items[t];
            snprintf(key, sizeof key, "%s#%zu", files[f], t);
            /* instruction CID: the task's run map */
            want = gold(g, "instruction_cids", key);
            IPVM_ASSERT(want != NULL || t >= 2);
            if (want) {
                IPVM_ASSERT_STREQ(cid_of(ipvm_ipld_map_get(task, "run"), got), want);
                checked++;
            }
            /* invocation CID: {"task": task} */
            ipvm_ipld_t *inv = ipvm_ipld_new_map(&a, 1);
            IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, inv, "task", task));
            want = gold(g, "invocation_cids", key);
            if (want) {
                IPVM_ASSERT_STREQ(cid_of(inv, got), want);
                checked++;
            }
        }
    }
    IPVM_ASSERT_EQ(checked, 3 + 6 + 1);
    ipvm_arena_dispose(&a);
}

/* The "fuel" of Homestar's workflows, 18446744073709552000, is past u64: it must be read as
 * float64 (fb 43f0000000000000), or the workflow CID differs. */
IPVM_TEST(ipld, homestar_fuel_is_float64)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    const char *js = "{\"fuel\": 18446744073709552000}";
    IPVM_ASSERT_OK(ipvm_dagjson_decode(js, strlen(js), &a, &v, NULL));
    const ipvm_ipld_t *fuel = ipvm_ipld_map_get(v, "fuel");
    IPVM_ASSERT_EQ(fuel->kind, IPVM_IPLD_FLOAT);
    IPVM_ASSERT_DBL_EQ(fuel->u.f, 18446744073709551616.0);
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_dagcbor_encode(v, &b, NULL));
    static const uint8_t want[] = {0xa1, 0x64, 'f', 'u', 'e', 'l', 0xfb, 0x43, 0xf0, 0, 0, 0, 0, 0, 0};
    IPVM_ASSERT_MEMEQ(b.data, b.len, want, sizeof want);
    ipvm_buf_dispose(&b);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(ipld, homestar_receipt_cid)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *g = load_json(&a, ipvm_test_vector("homestar/gold.json"));
    const char *ran = gold(g, "invocation_cids", "test-workflow-add-one.json#0");
    IPVM_ASSERT(ran != NULL);
    ipvm_cid_t ran_cid;
    IPVM_ASSERT_OK(ipvm_cid_parse(&ran_cid, ran, strlen(ran), NULL));
    /* {ran, out: ["ok", 2], meta: {"op": "add_one"}, iss: null, prf: []} built by hand */
    ipvm_ipld_t *r = ipvm_ipld_new_map(&a, 5);
    ipvm_ipld_t *out = ipvm_ipld_new_list(&a, 2);
    IPVM_ASSERT_OK(ipvm_ipld_list_push(&a, out, ipvm_ipld_new_cstring(&a, "ok")));
    IPVM_ASSERT_OK(ipvm_ipld_list_push(&a, out, ipvm_ipld_new_int(&a, 2)));
    ipvm_ipld_t *meta = ipvm_ipld_new_map(&a, 1);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, meta, "op", ipvm_ipld_new_cstring(&a, "add_one")));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, r, "ran", ipvm_ipld_new_link(&a, &ran_cid)));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, r, "out", out));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, r, "meta", meta));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, r, "iss", ipvm_ipld_new_null(&a)));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, r, "prf", ipvm_ipld_new_list(&a, 0)));
    char got[IPVM_CID_MAX_STR];
    const char *want = NULL;
    const ipvm_ipld_t *rc = ipvm_ipld_map_get(g, "receipt_cids");
    IPVM_ASSERT(rc && rc->kind == IPVM_IPLD_MAP && rc->u.map.len == 1);
    want = rc->u.map.entries[0].value->u.str.ptr;
    IPVM_ASSERT_STREQ(cid_of(r, got), want);
    /* the same receipt written as DAG-JSON text gives the same CID */
    char js[512];
    snprintf(js, sizeof js,
             "{\"ran\":{\"/\":\"%s\"},\"out\":[\"ok\",2],\"meta\":{\"op\":\"add_one\"},"
             "\"iss\":null,\"prf\":[]}",
             ran);
    ipvm_ipld_t *r2 = NULL;
    IPVM_ASSERT_OK(ipvm_dagjson_decode(js, strlen(js), &a, &r2, NULL));
    IPVM_ASSERT(ipvm_ipld_equal(r, r2));
    IPVM_ASSERT_STREQ(cid_of(r2, got), want);
    ipvm_arena_dispose(&a);
}

/* reference/homestar.md §1.2 spells out the bytes of the first add-one instruction. */
IPVM_TEST(ipld, homestar_instruction_bytes)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *wf = load_json(&a, ipvm_test_vector("homestar/workflows/test-workflow-add-one.json"));
    const ipvm_ipld_t *run = ipvm_ipld_select(wf, "tasks/0/run");
    IPVM_ASSERT(run != NULL);
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_dagcbor_encode(run, &b, NULL));
    const char *rsc = "ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq";
    ipvm_buf_t want = IPVM_BUF_INIT;
    static const char head[] = "\xa4\x62op\x68wasm/run\x63nnc\x60\x63rsc\x78\x42";
    static const char tail[] = "\x65input\xa2\x64" "args\x81\x01\x64" "func\x67" "add_one";
    IPVM_ASSERT_OK(ipvm_buf_append(&want, head, sizeof head - 1));
    IPVM_ASSERT_OK(ipvm_buf_append_str(&want, rsc));
    IPVM_ASSERT_OK(ipvm_buf_append(&want, tail, sizeof tail - 1));
    IPVM_ASSERT_MEMEQ(b.data, b.len, want.data, want.len);
    ipvm_buf_dispose(&b);
    ipvm_buf_dispose(&want);
    ipvm_arena_dispose(&a);
}
