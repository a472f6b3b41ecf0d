/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of src/workflow/: Homestar's identifiers through the workflow parser (every CID of
 * tests/vectors/homestar/gold.json from the fixture files), normalisation, validation errors,
 * batching (Homestar's build_mixed_graph), promises and receipts. */
#include "test.h"

#include "workflow/workflow_int.h"

static ipvm_ipld_t *load_gold(ipvm_arena_t *a)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector("homestar/gold.json"), &b);
    ipvm_ipld_t *v = NULL;
    IPVM_ASSERT_OK(ipvm_dagjson_decode((const char *)b.data, b.len, a, &v, NULL));
    ipvm_buf_dispose(&b);
    return v;
}

static const char *gold(const ipvm_ipld_t *g, const char *section, const char *key)
{
    const ipvm_ipld_t *s = ipvm_ipld_map_get(ipvm_ipld_map_get(g, section), key);
    return s && s->kind == IPVM_IPLD_STRING ? s->u.str.ptr : NULL;
}

static ipvm_workflow_t *parse_str(ipvm_arena_t *a, const char *js, ipvm_error_t *err)
{
    ipvm_workflow_t *wf = NULL;
    ipvm_workflow_opts_t o = {.allow_outside_awaits = false};
    ipvm_error_clear(err);
    int rc = ipvm_workflow_parse(js, strlen(js), &o, a, &wf, err);
    return rc == 0 ? wf : NULL;
}

static ipvm_workflow_t *parse_fixture(ipvm_arena_t *a, const char *name, bool outside)
{
    char path[256];
    snprintf(path, sizeof path, "homestar/workflows/%s", name);
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector(path), &b);
    char *copy = ipvm_arena_strndup(a, (const char *)b.data, b.len);
    ipvm_buf_dispose(&b);
    ipvm_workflow_t *wf = NULL;
    ipvm_workflow_opts_t o = {.allow_outside_awaits = outside};
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_workflow_parse(copy, strlen(copy), &o, a, &wf, &err), &err);
    return wf;
}

static const char *str(const ipvm_cid_t *c)
{
    static char buf[4][IPVM_CID_MAX_STR];
    static int k;
    k = (k + 1) % 4;
    return ipvm_cid_str(c, buf[k]);
}

IPVM_TEST(workflow, gold_cids_from_fixtures)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *g = load_gold(&a);
    static const char *files[] = {"test-workflow-add-one.json", "test-workflow-add-one-nonced.json",
                                  "test-workflow-image-pipeline.json"};
    int checked = 0;
    for (size_t f = 0; f < 3; f++) {
        ipvm_workflow_t *wf = parse_fixture(&a, files[f], false);
        IPVM_ASSERT_STREQ(str(&wf->cid), gold(g, "workflow_cids", files[f]));
        checked++;
        for (size_t t = 0; t < wf->ntasks; t++) {
            char key[128];
            snprintf(key, sizeof key, "%s#%zu", files[f], t);
            const char *want = gold(g, "instruction_cids", key);
            if (want) {
                IPVM_ASSERT_STREQ(str(&wf->tasks[t].instruction), want);
                checked++;
            }
            want = gold(g, "invocation_cids", key);
            if (want) {
                IPVM_ASSERT_STREQ(str(&wf->tasks[t].invocation), want);
                checked++;
            }
        }
        /* the stored encoding is what the CID hashes, and reads back to the same workflow */
        ipvm_workflow_t *again = NULL;
        IPVM_ASSERT_OK(ipvm_workflow_decode(wf->cbor, wf->cbor_len, NULL, &a, &again, NULL));
        IPVM_ASSERT(ipvm_cid_equal(&again->cid, &wf->cid));
        ipvm_cid_t c;
        IPVM_ASSERT_OK(ipvm_ipld_cid(wf->ipld, IPVM_MH_SHA3_256, &c, NULL));
        IPVM_ASSERT(ipvm_cid_equal(&c, &wf->cid));
        /* compact: the same identifiers, batches and arguments, without the document */
        ipvm_workflow_opts_t co = {.compact = true};
        ipvm_workflow_t *cw = NULL;
        IPVM_ASSERT_OK(ipvm_workflow_decode(wf->cbor, wf->cbor_len, &co, &a, &cw, NULL));
        IPVM_ASSERT(cw->ipld == NULL && cw->tasks[0].task == NULL);
        IPVM_ASSERT(ipvm_cid_equal(&cw->cid, &wf->cid));
        IPVM_ASSERT_EQ(cw->nbatches, wf->nbatches);
        for (size_t t = 0; t < wf->ntasks; t++) {
            IPVM_ASSERT(ipvm_cid_equal(&cw->tasks[t].invocation, &wf->tasks[t].invocation));
            IPVM_ASSERT(ipvm_ipld_equal(cw->tasks[t].args, wf->tasks[t].args));
            IPVM_ASSERT_STREQ(cw->tasks[t].rsc, wf->tasks[t].rsc);
            IPVM_ASSERT_EQ_U64(cw->tasks[t].limits.memory, wf->tasks[t].limits.memory);
        }
    }
    IPVM_ASSERT_EQ(checked, 3 + 6 + 1);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(workflow, gold_receipt_add_one)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *g = load_gold(&a);
    ipvm_workflow_t *wf = parse_fixture(&a, "test-workflow-add-one.json", false);
    ipvm_receipt_t r;
    IPVM_ASSERT_OK(ipvm_receipt_make(&a, &wf->tasks[0], true, ipvm_ipld_new_int(&a, 2), NULL, &r,
                                     NULL));
    const char *want =
        gold(g, "receipt_cids", "test-workflow-add-one.json#0 out [\"ok\",2]");
    IPVM_ASSERT(want != NULL);
    IPVM_ASSERT_STREQ(str(&r.cid), want);
    IPVM_ASSERT_STREQ(str(&r.ran), gold(g, "invocation_cids", "test-workflow-add-one.json#0"));
    /* encode -> decode gives the same receipt and CID */
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_receipt_encode(&r, &b, NULL));
    ipvm_cid_t c;
    IPVM_ASSERT_OK(ipvm_cid_create(&c, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256, b.data, b.len));
    IPVM_ASSERT_STREQ(str(&c), want);
    ipvm_receipt_t back;
    IPVM_ASSERT_OK(ipvm_receipt_decode(b.data, b.len, &a, &back, NULL));
    IPVM_ASSERT(ipvm_cid_equal(&back.cid, &r.cid));
    IPVM_ASSERT(back.ok);
    int64_t v = 0;
    IPVM_ASSERT_OK(ipvm_ipld_get_i64(ipvm_receipt_value(&back), &v));
    IPVM_ASSERT_EQ(v, 2);
    ipvm_buf_dispose(&b);
    ipvm_arena_dispose(&a);
}

/* Homestar's runtime receipt (with cid, instruction, version) is accepted and checked. */
IPVM_TEST(workflow, receipt_runtime_shape)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf = parse_fixture(&a, "test-workflow-add-one.json", false);
    ipvm_receipt_t r;
    IPVM_ASSERT_OK(ipvm_receipt_make(&a, &wf->tasks[0], true, ipvm_ipld_new_int(&a, 2), NULL, &r,
                                     NULL));
    ipvm_ipld_t *m = ipvm_receipt_to_ipld(&a, &r);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, m, "cid", ipvm_ipld_new_link(&a, &r.cid)));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, m, "instruction",
                                          ipvm_ipld_new_link(&a, &wf->tasks[0].instruction)));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, m, "version", ipvm_ipld_new_cstring(&a, "0.2.0")));
    ipvm_receipt_t back;
    IPVM_ASSERT_OK(ipvm_receipt_from_ipld(m, &a, &back, NULL));
    IPVM_ASSERT(ipvm_cid_equal(&back.cid, &r.cid));
    IPVM_ASSERT(back.has_instruction);
    IPVM_ASSERT(ipvm_cid_equal(&back.instruction, &wf->tasks[0].instruction));
    /* a wrong claimed cid is refused */
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, m, "cid", ipvm_ipld_new_link(&a, &r.ran)));
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_receipt_from_ipld(m, &a, &back, &err), IPVM_ERECEIPT);
    IPVM_ASSERT_STRCONTAINS(err.msg, "cid");
    /* so is an unknown key, and a malformed out */
    const char *bad[] = {
        "{\"ran\":{\"/\":\"bafyrmia2frkwkus2sy7qjmok5lm7mnlbnoyfqa5mqm27op6qkgo7reryqa\"},"
        "\"out\":[\"ok\",2],\"meta\":{},\"iss\":null,\"prf\":[],\"extra\":1}",
        "{\"ran\":{\"/\":\"bafyrmia2frkwkus2sy7qjmok5lm7mnlbnoyfqa5mqm27op6qkgo7reryqa\"},"
        "\"out\":[\"maybe\",2],\"meta\":{},\"iss\":null,\"prf\":[]}",
        "{\"ran\":\"nope\",\"out\":[\"ok\",2],\"meta\":{},\"iss\":null,\"prf\":[]}",
        "{\"ran\":{\"/\":\"bafyrmia2frkwkus2sy7qjmok5lm7mnlbnoyfqa5mqm27op6qkgo7reryqa\"},"
        "\"out\":[\"ok\",2],\"meta\":{},\"iss\":7,\"prf\":[]}",
        "{\"ran\":{\"/\":\"bafyrmia2frkwkus2sy7qjmok5lm7mnlbnoyfqa5mqm27op6qkgo7reryqa\"},"
        "\"out\":[\"ok\",2],\"meta\":{},\"iss\":null,\"prf\":[1]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipvm_ipld_t *v = NULL;
        IPVM_ASSERT_OK(ipvm_dagjson_decode(bad[i], strlen(bad[i]), &a, &v, NULL));
        IPVM_ASSERT_ERR(ipvm_receipt_from_ipld(v, &a, &back, NULL), IPVM_ERECEIPT);
    }
    ipvm_arena_dispose(&a);
}

/* Out of memory while making, encoding or reading a receipt is IPVM_ENOMEM in the result and in
 * err, at every allocation: fuzz_oom found ipvm_receipt_from_ipld (under p2p_rc_gossip_decode)
 * returning IPVM_ENOMEM with err left empty. Each call gets an arena of its own, so its first
 * allocation is a fresh chunk in every build. */
IPVM_TEST(workflow, receipt_oom_fills_err)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf = parse_fixture(&a, "test-workflow-add-one.json", false);
    ipvm_receipt_t r;
    IPVM_ASSERT_OK(
        ipvm_receipt_make(&a, &wf->tasks[0], true, ipvm_ipld_new_int(&a, 2), NULL, &r, NULL));
    ipvm_ipld_t *m = ipvm_receipt_to_ipld(&a, &r);
    IPVM_ASSERT(m != NULL);
    /* Made before any allocation is set to fail: in the ASan build each arena allocation is
     * a malloc of its own, so making it after ipvm_alloc_fail_after(0) gave NULL (misuse). */
    ipvm_ipld_t *two = ipvm_ipld_new_int(&a, 2);
    IPVM_ASSERT(two != NULL);
    for (int which = 0; which < 3; which++) {
        int done = 0;
        for (long n = 0; n < 1000 && !done; n++) {
            ipvm_arena_t b;
            ipvm_arena_init(&b);
            ipvm_buf_t enc = IPVM_BUF_INIT;
            ipvm_receipt_t out;
            ipvm_error_t err;
            ipvm_error_clear(&err);
            ipvm_alloc_fail_after(n);
            int rc = which == 0   ? ipvm_receipt_make(&b, &wf->tasks[0], true, two, NULL, &out, &err)
                     : which == 1 ? ipvm_receipt_from_ipld(m, &b, &out, &err)
                                  : ipvm_receipt_encode(&r, &enc, &err);
            bool failed = ipvm_alloc_failed();
            ipvm_alloc_fail_after(-1);
            if (rc == 0) {
                if (which < 2)
                    IPVM_ASSERT(ipvm_cid_equal(&out.cid, &r.cid));
                done = 1;
            } else {
                IPVM_ASSERT_MSG(failed && rc == IPVM_ENOMEM && err.code == IPVM_ENOMEM &&
                                    err.msg[0] != '\0',
                                "call %d, allocation %ld failing: rc %s, err code %d \"%s\"", which,
                                n + 1, ipvm_err_name(rc), err.code, err.msg);
            }
            ipvm_buf_dispose(&enc);
            ipvm_arena_dispose(&b);
        }
        IPVM_ASSERT_MSG(done, "call %d never succeeded", which);
    }
    ipvm_arena_dispose(&a);
}

/* A Link rsc normalises to "ipfs://" + base32, a missing nnc to "": same CIDs as the fixture. */
IPVM_TEST(workflow, normalisation)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_error_t err;
    ipvm_workflow_t *ref = parse_fixture(&a, "test-workflow-add-one-part-one.json", false);
    const char *js =
        "{\"tasks\":[{\"cause\":null,\"meta\":{\"fuel\":18446744073709552000,\"memory\":4294967296,"
        "\"time\":100000},\"prf\":[],\"run\":{\"input\":{\"args\":[1],\"func\":\"add_one\"},"
        "\"op\":\"wasm/run\",\"rsc\":{\"/\":"
        "\"bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq\"}}}]}";
    ipvm_workflow_t *wf = parse_str(&a, js, &err);
    IPVM_ASSERT_MSG(wf != NULL, "%s", err.msg);
    IPVM_ASSERT_STREQ(wf->tasks[0].rsc,
                      "ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq");
    IPVM_ASSERT_STREQ(str(&wf->tasks[0].instruction), str(&ref->tasks[0].instruction));
    IPVM_ASSERT_STREQ(str(&wf->cid), str(&ref->cid));
    /* an absent cause, extra keys and an upper-case scheme normalise away too */
    const char *js2 =
        "{\"tasks\":[{\"note\":\"x\",\"meta\":{\"fuel\":18446744073709552000,\"memory\":4294967296,"
        "\"time\":100000},\"prf\":[],\"run\":{\"input\":{\"args\":[1],\"func\":\"add_one\"},"
        "\"nnc\":\"\",\"op\":\"wasm/run\",\"extra\":true,\"rsc\":"
        "\"IPFS://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq\"}}]}";
    wf = parse_str(&a, js2, &err);
    IPVM_ASSERT_MSG(wf != NULL, "%s", err.msg);
    IPVM_ASSERT_STREQ(str(&wf->cid), str(&ref->cid));
    /* limits: fuel given as a float (Homestar's fixtures) is ignored, the rest are read */
    IPVM_ASSERT_EQ_U64(wf->tasks[0].limits.fuel, 0);
    IPVM_ASSERT_EQ_U64(wf->tasks[0].limits.memory, 4294967296ull);
    IPVM_ASSERT_EQ_U64(wf->tasks[0].limits.time_ms, 100000);
    /* nonces are kept as given: the string and the bytes forms hash differently */
    ipvm_workflow_t *n = parse_fixture(&a, "test-workflow-add-one-nonced.json", false);
    IPVM_ASSERT(ipvm_ipld_select(n->tasks[0].run, "nnc")->kind == IPVM_IPLD_STRING);
    IPVM_ASSERT(ipvm_ipld_select(n->tasks[1].run, "nnc")->kind == IPVM_IPLD_BYTES);
    ipvm_arena_dispose(&a);
}

/* One-task workflow text with the given instruction fields (for the validation tests). */
static const char *one_task(ipvm_arena_t *a, const char *run_fields, const char *task_extra)
{
    return ipvm_arena_printf(a, "{\"tasks\":[{\"cause\":null,\"meta\":{},\"prf\":[]%s,"
                                "\"run\":{%s}}]}",
                             task_extra, run_fields);
}

#define RSC "\"rsc\":\"ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq\""

IPVM_TEST(workflow, validation_errors)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    struct {
        const char *run, *extra;
        int code;
        const char *needle;
    } cases[] = {
        {"\"op\":\"wasm/fly\",\"input\":{\"func\":\"f\",\"args\":[]}," RSC, "", IPVM_EWORKFLOW,
         "task 0: run.op: unknown op \"wasm/fly\""},
        {"\"input\":{\"func\":\"f\",\"args\":[]}," RSC, "", IPVM_EWORKFLOW, "task 0: run.op: missing"},
        {"\"op\":\"wasm/run\",\"input\":{\"args\":[]}," RSC, "", IPVM_EWORKFLOW,
         "task 0: run.input.func: missing"},
        {"\"op\":\"wasm/run\",\"input\":{\"func\":3,\"args\":[]}," RSC, "", IPVM_EWORKFLOW,
         "run.input.func: must be"},
        {"\"op\":\"wasm/run\",\"input\":{\"func\":\"f\"}," RSC, "", IPVM_EWORKFLOW,
         "run.input.args: missing"},
        {"\"op\":\"wasm/run\",\"input\":{\"func\":\"f\",\"args\":{}}," RSC, "", IPVM_EWORKFLOW,
         "run.input.args: must be a list"},
        {"\"op\":\"wasm/run\",\"input\":{\"func\":\"f\",\"args\":[]}", "", IPVM_EWORKFLOW,
         "run.rsc: missing"},
        {"\"op\":\"wasm/run\",\"input\":{\"func\":\"f\",\"args\":[]},\"rsc\":\"no scheme\"", "",
         IPVM_EWORKFLOW, "run.rsc: contains a space"},
        {"\"op\":\"wasm/run\",\"input\":{\"func\":\"f\",\"args\":[]},\"rsc\":\"bafy\"", "",
         IPVM_EWORKFLOW, "is not a URL"},
        {"\"op\":\"wasm/run\",\"input\":{\"func\":\"f\",\"args\":[]},\"nnc\":5," RSC, "",
         IPVM_EWORKFLOW, "task 0: run.nnc: must be"},
        {"\"op\":\"wasm/run\",\"input\":{\"func\":\"f\",\"args\":[]},\"nnc\":\"1sod60ml\"," RSC,
         "", IPVM_EWORKFLOW, "decodes to 5 bytes"},
        {"\"op\":\"wasm/run\",\"input\":{\"func\":\"f\",\"args\":[]},\"nnc\":\"1SOD60ML6G26MFHSRSA0\"," RSC,
         "", IPVM_EWORKFLOW, "not base32hex-lower"},
        {"\"op\":\"wasm/run\",\"input\":{\"func\":\"f\",\"args\":[]},\"nnc\":{\"/\":{\"bytes\":"
         "\"AAEC\"}}," RSC,
         "", IPVM_EWORKFLOW, "12 or 16 bytes, not 3"},
        {"\"op\":\"wasm/run\",\"input\":{\"func\":\"f\",\"args\":[{\"await/ok\":1}]}," RSC, "",
         IPVM_EWORKFLOW, "run.input.args[0]: a promise must be"},
        {"\"op\":\"wasm/run\",\"input\":{\"func\":\"f\",\"args\":[{\"await/ok\":{\"/\":"
         "\"bafyrmigpfy6vvnfmv2wpsnpjmrn6iurejcjhz2doqdl6cfext27etqvi54\"}}]}," RSC,
         "", IPVM_EAWAIT, "not an instruction of this workflow"},
        {"\"op\":\"wasm/run\",\"input\":{\"func\":\"f\",\"args\":[]}," RSC, ",\"meta2\":1",
         IPVM_EWORKFLOW, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ipvm_error_t err;
        const char *js = one_task(&a, cases[i].run, cases[i].extra);
        ipvm_workflow_t *wf = parse_str(&a, js, &err);
        if (cases[i].needle == NULL) { /* extra task keys are dropped, as Homestar does */
            IPVM_ASSERT_MSG(wf != NULL, "case %zu: %s", i, err.msg);
            continue;
        }
        IPVM_ASSERT_MSG(wf == NULL, "case %zu parsed", i);
        IPVM_ASSERT_MSG(err.code == cases[i].code, "case %zu: %s: %s", i, ipvm_err_name(err.code),
                        err.msg);
        IPVM_ASSERT_STRCONTAINS(err.msg, cases[i].needle);
    }
    /* the await error names the task by index and instruction CID */
    ipvm_error_t err;
    const char *js = one_task(&a, cases[14].run, "");
    IPVM_ASSERT(parse_str(&a, js, &err) == NULL);
    IPVM_ASSERT_STRCONTAINS(err.msg, "task 0 (bafyrmi");
    IPVM_ASSERT_STRCONTAINS(err.msg, "bafyrmigpfy6vvnfmv2wpsnpjmrn6iurejcjhz2doqdl6cfext27etqvi54");
    /* task-level and document-level errors */
    const char *docs[] = {"[]", "{}", "{\"tasks\":[]}", "{\"tasks\":[1]}",
                          "{\"tasks\":[{\"run\":{}}]}",
                          "{\"tasks\":[{\"meta\":{},\"prf\":[],\"run\":{\"/\":"
                          "\"bafyrmihmxmsbt4n3g6dzmj7rho34mzfbaoqqbsfcq7etsogslqftbyj7du\"}}]}",
                          "{\"tasks\":[{\"meta\":{},\"prf\":[1],\"run\":{}}]}"};
    const char *needles[] = {"is a map", "needs \"tasks\"", "no tasks", "task 0: task: must be a map",
                             "task 0: run.rsc: missing", "instructions must be inlined",
                             "run.rsc: missing"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        IPVM_ASSERT_MSG(parse_str(&a, docs[i], &err) == NULL, "doc %zu parsed", i);
        IPVM_ASSERT_STRCONTAINS(err.msg, needles[i]);
    }
    ipvm_arena_dispose(&a);
}

static bool known_yes(void *data, const ipvm_cid_t *c)
{
    (void)c;
    ++*(int *)data;
    return true;
}

IPVM_TEST(workflow, outside_awaits)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector("homestar/workflows/test-workflow-add-one-part-two.json"),
                        &b);
    ipvm_workflow_t *wf = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_workflow_parse((const char *)b.data, b.len, NULL, &a, &wf, &err),
                    IPVM_EAWAIT);
    int calls = 0;
    ipvm_workflow_opts_t o = {.known = known_yes, .known_data = &calls};
    IPVM_ASSERT_OK(ipvm_workflow_parse((const char *)b.data, b.len, &o, &a, &wf, &err));
    IPVM_ASSERT_EQ(calls, 1);
    IPVM_ASSERT_EQ(wf->tasks[0].nawaits, 1);
    IPVM_ASSERT_EQ(wf->tasks[0].awaits[0].task, -1);
    IPVM_ASSERT_EQ(wf->tasks[0].ndeps, 0);
    IPVM_ASSERT_EQ(wf->nbatches, 1);
    ipvm_buf_dispose(&b);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(workflow, duplicate_instruction)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *t = "{\"cause\":null,\"meta\":{},\"prf\":[],\"run\":{\"input\":{\"args\":[1],"
                    "\"func\":\"add_one\"},\"nnc\":\"\",\"op\":\"wasm/run\"," RSC "}}";
    /* the same instruction with different meta is still the same instruction */
    const char *t2 = "{\"cause\":null,\"meta\":{\"time\":5},\"prf\":[],\"run\":{\"input\":{\"args\""
                     ":[1],\"func\":\"add_one\"},\"op\":\"wasm/run\"," RSC "}}";
    const char *js = ipvm_arena_printf(&a, "{\"tasks\":[%s,{\"cause\":null,\"meta\":{},\"prf\":[],"
                                           "\"run\":{\"input\":{\"args\":[2],\"func\":\"add_one\"},"
                                           "\"op\":\"wasm/run\"," RSC "}},%s]}",
                                       t, t2);
    ipvm_error_t err;
    IPVM_ASSERT(parse_str(&a, js, &err) == NULL);
    IPVM_ASSERT_EQ(err.code, IPVM_EDUPTASK);
    IPVM_ASSERT_STRCONTAINS(err.msg, "task 0 and task 2 are the same instruction bafyrmihmxmsbt4n3");
    IPVM_ASSERT_STRCONTAINS(err.msg, "nonce");
    ipvm_arena_dispose(&a);
}

/* A task text: add_one-like function f with args; nonce n. */
static const char *task_js(ipvm_arena_t *a, const char *func, const char *args, const char *nnc)
{
    return ipvm_arena_printf(a,
                             "{\"cause\":null,\"meta\":{},\"prf\":[],\"run\":{\"input\":{\"args\":"
                             "[%s],\"func\":\"%s\"},\"nnc\":\"%s\",\"op\":\"wasm/run\"," RSC "}}",
                             args, func, nnc);
}

/* The instruction CID of a task text, by parsing it alone (awaits outside allowed). */
static const char *cid_of_task(ipvm_arena_t *a, const char *task)
{
    const char *js = ipvm_arena_printf(a, "{\"tasks\":[%s]}", task);
    ipvm_workflow_t *wf = NULL;
    ipvm_workflow_opts_t o = {.allow_outside_awaits = true};
    IPVM_ASSERT_OK(ipvm_workflow_parse(js, strlen(js), &o, a, &wf, NULL));
    return ipvm_arena_strdup(a, str(&wf->tasks[0].instruction));
}

static const char *await_of(ipvm_arena_t *a, const char *kind, const char *cid)
{
    return ipvm_arena_printf(a, "{\"await/%s\":{\"/\":\"%s\"}}", kind, cid);
}

/* homestar-runtime/src/workflow.rs test build_mixed_graph: tasks [t6, t1, t2, t3, t4, t5],
 * t2 and t6 await t1, t3 awaits t2, t4 and t5 stand alone: [t1] [t6, t2] [t3] [t4, t5]. */
IPVM_TEST(workflow, batches_build_mixed_graph)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *t1 = task_js(&a, "add_one", "1", "");
    const char *c1 = cid_of_task(&a, t1);
    const char *t2 = task_js(&a, "add_one", await_of(&a, "ok", c1), "");
    const char *c2 = cid_of_task(&a, t2);
    const char *t3 = task_js(&a, "add_one", await_of(&a, "ok", c2), "");
    const char *t4 = task_js(&a, "add_one", "1", "1sod60ml6g26mfhsrsa0");
    const char *t5 = task_js(&a, "add_one", "1", "0123456789abcdefghijklmnoo");
    const char *t6 = task_js(&a, "add_two", await_of(&a, "ok", c1), "");
    const char *js = ipvm_arena_printf(&a, "{\"tasks\":[%s,%s,%s,%s,%s,%s]}", t6, t1, t2, t3, t4, t5);
    ipvm_error_t err;
    ipvm_workflow_t *wf = parse_str(&a, js, &err);
    IPVM_ASSERT_MSG(wf != NULL, "%s", err.msg);
    IPVM_ASSERT_EQ(wf->nbatches, 4);
    /* workflow indexes: t6=0 t1=1 t2=2 t3=3 t4=4 t5=5 */
    size_t want[] = {1, 0, 2, 3, 4, 5};
    size_t want_start[] = {0, 1, 3, 4, 6};
    for (size_t i = 0; i < 6; i++)
        IPVM_ASSERT_EQ(wf->order[i], want[i]);
    for (size_t b = 0; b <= 4; b++)
        IPVM_ASSERT_EQ(wf->batch_start[b], want_start[b]);
    IPVM_ASSERT_EQ(wf->tasks[1].ndependents, 2);
    IPVM_ASSERT_EQ(wf->tasks[1].dependents[0], 0);
    IPVM_ASSERT_EQ(wf->tasks[1].dependents[1], 2);
    IPVM_ASSERT_EQ(wf->tasks[3].deps[0], 2);
    IPVM_ASSERT_EQ(wf->tasks[4].batch, 3);
    IPVM_ASSERT_EQ(ipvm_workflow_find(wf, &wf->tasks[3].instruction), 3);
    ipvm_arena_dispose(&a);
}

/* Tasks without any chain form one batch; a deep chain gets one batch per link, ASAP. */
IPVM_TEST(workflow, batches_shapes)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf = parse_fixture(&a, "test-workflow-no-awaits2.json", false);
    IPVM_ASSERT_EQ(wf->nbatches, 1);
    IPVM_ASSERT_EQ(wf->batch_start[1], 2);
    wf = parse_fixture(&a, "test-workflow-image-pipeline.json", false);
    IPVM_ASSERT_EQ(wf->nbatches, 3);
    /* a diamond plus a root awaited only from deep down: the root runs in the first batch */
    const char *r = task_js(&a, "f", "0", "");
    const char *cr = cid_of_task(&a, r);
    const char *x = task_js(&a, "g", "1", "");
    const char *cx = cid_of_task(&a, x);
    const char *y = task_js(&a, "f", await_of(&a, "ok", cx), "");
    const char *cy = cid_of_task(&a, y);
    const char *z = task_js(&a, "h", ipvm_arena_printf(&a, "%s,[%s]", await_of(&a, "*", cy),
                                                        await_of(&a, "error", cr)), "");
    const char *js = ipvm_arena_printf(&a, "{\"tasks\":[%s,%s,%s,%s]}", z, y, x, r);
    ipvm_error_t err;
    wf = parse_str(&a, js, &err);
    IPVM_ASSERT_MSG(wf != NULL, "%s", err.msg);
    IPVM_ASSERT_EQ(wf->nbatches, 3);
    IPVM_ASSERT_EQ(wf->tasks[3].batch, 0); /* r */
    IPVM_ASSERT_EQ(wf->tasks[2].batch, 0); /* x */
    IPVM_ASSERT_EQ(wf->tasks[1].batch, 1); /* y */
    IPVM_ASSERT_EQ(wf->tasks[0].batch, 2); /* z */
    IPVM_ASSERT_EQ(wf->tasks[0].nawaits, 2);
    IPVM_ASSERT_EQ(wf->tasks[0].awaits[0].kind, IPVM_AWAIT_ANY);
    IPVM_ASSERT_EQ(wf->tasks[0].awaits[1].kind, IPVM_AWAIT_ERROR); /* nested in a list */
    IPVM_ASSERT_EQ(wf->tasks[0].ndeps, 2);
    ipvm_arena_dispose(&a);
}

/* Cycles cannot be written with honest CIDs (a task would have to contain its own hash), so
 * the detector is tested on a workflow whose instruction CIDs are set by hand. */
IPVM_TEST(workflow, cycle_detection)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t wf;
    memset(&wf, 0, sizeof wf);
    ipvm_task_t tasks[4];
    memset(tasks, 0, sizeof tasks);
    size_t by[4];
    ipvm_await_t aw[4];
    for (int i = 0; i < 4; i++) {
        uint8_t d = (uint8_t)i;
        tasks[i].index = (size_t)i;
        IPVM_ASSERT_OK(ipvm_cid_create(&tasks[i].instruction, 1, IPVM_CODEC_DAG_CBOR,
                                       IPVM_MH_SHA3_256, &d, 1));
    }
    /* 0 awaits 1, 1 awaits 2, 2 awaits 1 (the cycle), 3 awaits nothing */
    int target[3] = {1, 2, 1};
    for (int i = 0; i < 3; i++) {
        aw[i].kind = IPVM_AWAIT_OK;
        aw[i].target = tasks[target[i]].instruction;
        aw[i].task = -1;
        tasks[i].awaits = &aw[i];
        tasks[i].nawaits = 1;
    }
    wf.tasks = tasks;
    wf.ntasks = 4;
    for (size_t i = 0; i < 4; i++)
        by[i] = i;
    /* sort by CID for ipvm_workflow_find */
    for (size_t i = 1; i < 4; i++)
        for (size_t j = i; j > 0 && ipvm_cid_compare(&tasks[by[j - 1]].instruction,
                                                     &tasks[by[j]].instruction) > 0; j--) {
            size_t t = by[j];
            by[j] = by[j - 1];
            by[j - 1] = t;
        }
    wf.by_instruction = by;
    ipvm_workflow_opts_t o = {0};
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm__wf_link_and_batch(&wf, &o, &a, &err), IPVM_ECYCLE);
    IPVM_ASSERT_STRCONTAINS(err.msg, "cycle: task 1 -> 2 -> 1");
    /* a task awaiting itself */
    memset(tasks, 0, sizeof tasks);
    for (int i = 0; i < 4; i++) {
        uint8_t d = (uint8_t)i;
        tasks[i].index = (size_t)i;
        IPVM_ASSERT_OK(ipvm_cid_create(&tasks[i].instruction, 1, IPVM_CODEC_DAG_CBOR,
                                       IPVM_MH_SHA3_256, &d, 1));
    }
    aw[3].kind = IPVM_AWAIT_ERROR;
    aw[3].target = tasks[3].instruction;
    tasks[3].awaits = &aw[3];
    tasks[3].nawaits = 1;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm__wf_link_and_batch(&wf, &o, &a, &err), IPVM_ECYCLE);
    IPVM_ASSERT_STRCONTAINS(err.msg, "task 3");
    IPVM_ASSERT_STRCONTAINS(err.msg, "own instruction");
    ipvm_arena_dispose(&a);
}

/* ---- promises ------------------------------------------------------------------------------ */
typedef struct {
    ipvm_arena_t *a;
    ipvm_ipld_t *ok_tuple, *err_tuple;
    const ipvm_cid_t *failing; /* results for this CID are the error tuple */
} fake_results_t;

static int fake_result(void *data, const ipvm_await_t *aw, const ipvm_ipld_t **out,
                       ipvm_error_t *err)
{
    (void)err;
    fake_results_t *f = data;
    *out = ipvm_cid_equal(&aw->target, f->failing) ? f->err_tuple : f->ok_tuple;
    return 0;
}

static int fake_link(void *data, const ipvm_cid_t *cid, const ipvm_ipld_t **out,
                     ipvm_error_t *err)
{
    (void)cid;
    (void)err;
    fake_results_t *f = data;
    *out = ipvm_ipld_new_bytes(f->a, (const uint8_t *)"PNG", 3);
    return 0;
}

IPVM_TEST(workflow, resolve_promises)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *t1 = task_js(&a, "f", "1", "");
    const char *c1 = cid_of_task(&a, t1);
    const char *t2 = task_js(&a, "g", "2", "");
    const char *c2 = cid_of_task(&a, t2);
    const char *args = ipvm_arena_printf(
        &a, "%s,%s,{\"x\":[%s]},{\"/\":\"bafybeiejevluvtoevgk66plh5t6xiy3ikyuuxg3vgofuvpeckb6eadresm\"},7",
        await_of(&a, "ok", c1), await_of(&a, "*", c1), await_of(&a, "error", c2));
    const char *t3 = task_js(&a, "h", args, "");
    const char *js = ipvm_arena_printf(&a, "{\"tasks\":[%s,%s,%s]}", t1, t2, t3);
    ipvm_error_t err;
    ipvm_workflow_t *wf = parse_str(&a, js, &err);
    IPVM_ASSERT_MSG(wf != NULL, "%s", err.msg);
    const ipvm_task_t *t = &wf->tasks[2];
    const ipvm_cid_t *links[4];
    IPVM_ASSERT_EQ(ipvm_task_link_args(t, links, 4), 1);

    fake_results_t f = {&a, NULL, NULL, &wf->tasks[1].instruction};
    const char *okj = "[\"ok\",41]";
    IPVM_ASSERT_OK(ipvm_dagjson_decode(okj, strlen(okj), &a, &f.ok_tuple, NULL));
    ipvm_ipld_t *ev = ipvm_receipt_error_value(&a, IPVM_ETRAP_DIVZERO, "boom", "integer divide by zero", 9);
    f.err_tuple = ipvm_ipld_new_list(&a, 2);
    IPVM_ASSERT_OK(ipvm_ipld_list_push(&a, f.err_tuple, ipvm_ipld_new_cstring(&a, "error")));
    IPVM_ASSERT_OK(ipvm_ipld_list_push(&a, f.err_tuple, ev));
    ipvm_resolve_ops_t ops = {fake_result, fake_link, &f};
    ipvm_ipld_t *out = NULL;
    IPVM_ASSERT_OK(ipvm_task_resolve_args(t, &ops, &a, &out, &err));
    char s[400];
    ipvm_ipld_summary(out, s, sizeof s);
    IPVM_ASSERT_STREQ(s, "[41,[\"ok\",41],{\"x\":[{\"code\":\"IPVM_ETRAP_DIVZERO\",\"fuel\":9,"
                         "\"message\":\"boom\",\"trap\":\"integer divide by zero\"}]},"
                         "{\"/\":{\"bytes\":\"UE5H\"}},7]");
    /* the task's own args are untouched */
    ipvm_ipld_summary(t->args, s, sizeof s);
    IPVM_ASSERT_STRCONTAINS(s, "await/ok");
    /* await/ok of the failing task fails, naming it and quoting its error */
    f.failing = &wf->tasks[0].instruction;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_task_resolve_args(t, &ops, &a, &out, &err), IPVM_ETASKFAILED);
    IPVM_ASSERT_STRCONTAINS(err.msg, "run.input.args[0]: await/ok of");
    IPVM_ASSERT_STRCONTAINS(err.msg, "(task 0), which failed (IPVM_ETRAP_DIVZERO: boom)");
    /* await/error of a task that succeeded fails */
    f.failing = &wf->tasks[0].instruction; /* task 1 (awaited with await/error) is ok now */
    const char *only = task_js(&a, "h", await_of(&a, "error", c2), "");
    js = ipvm_arena_printf(&a, "{\"tasks\":[%s,%s]}", t2, only);
    wf = parse_str(&a, js, &err);
    IPVM_ASSERT(wf != NULL);
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_task_resolve_args(&wf->tasks[1], &ops, &a, &out, &err), IPVM_EAWAIT);
    IPVM_ASSERT_STRCONTAINS(err.msg, "which succeeded");
    /* arguments without promises or links come back as they are */
    IPVM_ASSERT_OK(ipvm_task_resolve_args(&wf->tasks[0], &ops, &a, &out, &err));
    IPVM_ASSERT(out == wf->tasks[0].args);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(workflow, error_receipts)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf = parse_fixture(&a, "test-workflow-add-one.json", false);
    ipvm_ipld_t *ev = ipvm_receipt_error_value(&a, IPVM_ETRAP_UNREACHABLE, "add_one trapped",
                                               "unreachable executed", 77);
    ipvm_receipt_t r;
    IPVM_ASSERT_OK(ipvm_receipt_make(&a, &wf->tasks[0], false, ev, "did:key:z6Mk", &r, NULL));
    IPVM_ASSERT(!r.ok);
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_receipt_encode(&r, &b, NULL));
    ipvm_receipt_t back;
    IPVM_ASSERT_OK(ipvm_receipt_decode(b.data, b.len, &a, &back, NULL));
    IPVM_ASSERT(!back.ok);
    IPVM_ASSERT_STREQ(back.iss, "did:key:z6Mk");
    IPVM_ASSERT(ipvm_cid_equal(&back.cid, &r.cid));
    IPVM_ASSERT_STREQ(ipvm_receipt_error_code(ipvm_receipt_value(&back)), "IPVM_ETRAP_UNREACHABLE");
    IPVM_ASSERT(ipvm_receipt_error_is_final(ipvm_receipt_value(&back)));
    /* the issuer is part of the CID */
    ipvm_receipt_t anon;
    IPVM_ASSERT_OK(ipvm_receipt_make(&a, &wf->tasks[0], false, ev, NULL, &anon, NULL));
    IPVM_ASSERT(!ipvm_cid_equal(&anon.cid, &r.cid));
    /* transient failures are not final, deterministic ones are */
    int transient[] = {IPVM_ETRAP_TIMEOUT, IPVM_ETRAP_FUEL, IPVM_ETRAP_MEMORY, IPVM_ENORESOURCE,
                       IPVM_ETASKFAILED, IPVM_EDENIED, IPVM_EIO, IPVM_ECONFLICT};
    for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++)
        IPVM_ASSERT(!ipvm_receipt_error_is_final(
            ipvm_receipt_error_value(&a, transient[i], "x", NULL, 0)));
    int final_[] = {IPVM_ETRAP_OOB, IPVM_ENOFUNC, IPVM_EABI, IPVM_EWASM, IPVM_ETRAP};
    for (size_t i = 0; i < sizeof final_ / sizeof final_[0]; i++)
        IPVM_ASSERT(ipvm_receipt_error_is_final(
            ipvm_receipt_error_value(&a, final_[i], "x", NULL, 0)));
    IPVM_ASSERT(!ipvm_receipt_error_is_final(ipvm_ipld_new_int(&a, 3)));
    ipvm_buf_dispose(&b);
    ipvm_arena_dispose(&a);
}

/* Every truncation and many corruptions of a fixture give a clear error, never a crash. */
IPVM_TEST(workflow, corrupt_and_truncated_files)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector("homestar/workflows/test-workflow-image-pipeline.json"), &b);
    size_t errors = 0;
    for (size_t len = 0; len < b.len; len++) {
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        char *copy = ipvm_arena_strndup(&a, (const char *)b.data, len);
        ipvm_workflow_t *wf = NULL;
        ipvm_error_t err;
        ipvm_error_clear(&err);
        int rc = ipvm_workflow_parse(copy, len, NULL, &a, &wf, &err);
        /* only a cut in the trailing whitespace can still be a whole document */
        if (rc == 0) {
            for (size_t k = len; k < b.len; k++)
                IPVM_ASSERT_MSG(b.data[k] == '\n' || b.data[k] == ' ', "cut at %zu parsed", len);
        } else {
            IPVM_ASSERT(err.code == rc && err.msg[0] != '\0');
            errors++;
        }
        ipvm_arena_dispose(&a);
    }
    IPVM_ASSERT(errors >= b.len - 2);
    uint64_t seed = 42;
    for (int round = 0; round < 3000; round++) {
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        char *copy = ipvm_arena_strndup(&a, (const char *)b.data, b.len);
        for (int k = 0; k < 1 + round % 4; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            copy[(seed >> 33) % b.len] = (char)(seed >> 13);
        }
        ipvm_workflow_t *wf = NULL;
        ipvm_error_t err;
        ipvm_error_clear(&err);
        int rc = ipvm_workflow_parse(copy, b.len, NULL, &a, &wf, &err);
        IPVM_ASSERT(rc == 0 ? wf != NULL : (err.code == rc && err.msg[0] != '\0'));
        ipvm_arena_dispose(&a);
    }
    ipvm_buf_dispose(&b);
}

/* OOM loop (SQLite faultsim): fail the Nth allocation until parsing succeeds; each failure
 * must be a clean IPVM_ENOMEM. */
IPVM_TEST(workflow, parse_oom_loop)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector("homestar/workflows/test-workflow-add-one-nonced.json"), &b);
    int ok = 0;
    for (long n = 0; n < 100000 && !ok; n++) {
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_workflow_t *wf = NULL;
        ipvm_error_t err;
        ipvm_error_clear(&err);
        ipvm_alloc_fail_after(n);
        int rc = ipvm_workflow_parse((const char *)b.data, b.len, NULL, &a, &wf, &err);
        bool failed = ipvm_alloc_failed();
        ipvm_alloc_fail_after(-1);
        if (rc == 0) {
            IPVM_ASSERT_STREQ(str(&wf->cid),
                              "bafyrmibajjtwrcqrntnvp5fgkim6mbbsh6ykkdy3eijq2ycdjhlisxxx3i");
            ok = 1;
        } else {
            IPVM_ASSERT_MSG(failed && rc == IPVM_ENOMEM, "n=%ld rc=%s %s", n, ipvm_err_name(rc),
                            err.msg);
        }
        ipvm_arena_dispose(&a);
    }
    IPVM_ASSERT(ok);
    ipvm_buf_dispose(&b);
}
