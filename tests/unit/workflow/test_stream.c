/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the compact parse of DAG-JSON, which reads a workflow task by task with the pull
 * reader instead of decoding the whole document: it must give exactly what the whole-document
 * parse gives (every CID, the stored DAG-CBOR, arguments, batches), and for a bad document
 * exactly its error (code and message). */
#include "test.h"

#include "workflow/workflow_int.h"

#include <string.h>

static ipvm_workflow_t *parse(ipvm_arena_t *a, const char *js, size_t len, bool compact,
                              ipvm_error_t *err, int *rc)
{
    ipvm_workflow_t *wf = NULL;
    ipvm_workflow_opts_t o = {.compact = compact};
    ipvm_error_clear(err);
    *rc = ipvm_workflow_parse(js, len, &o, a, &wf, err);
    return *rc == 0 ? wf : NULL;
}

/* The compact (streamed) parse against the whole-document one. Returns the task count. */
static size_t same_as_whole(const char *js, size_t len)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_error_t e1, e2;
    int r1, r2;
    ipvm_workflow_t *w = parse(&a, js, len, false, &e1, &r1);
    ipvm_workflow_t *c = parse(&a, js, len, true, &e2, &r2);
    IPVM_ASSERT_MSG(r1 == r2, "whole %s (%s), compact %s (%s)", ipvm_err_name(r1), e1.msg,
                    ipvm_err_name(r2), e2.msg);
    size_t n = 0;
    if (r1 != 0) {
        IPVM_ASSERT_STREQ(e2.msg, e1.msg);
        IPVM_ASSERT_EQ_U64(e2.offset, e1.offset);
    } else {
        IPVM_ASSERT(c->ipld == NULL && c->tasks[0].task == NULL);
        IPVM_ASSERT(ipvm_cid_equal(&c->cid, &w->cid));
        IPVM_ASSERT_MEMEQ(c->cbor, c->cbor_len, w->cbor, w->cbor_len);
        IPVM_ASSERT_EQ(c->ntasks, w->ntasks);
        IPVM_ASSERT_EQ(c->nbatches, w->nbatches);
        for (size_t b = 0; b <= w->nbatches; b++)
            IPVM_ASSERT_EQ(c->batch_start[b], w->batch_start[b]);
        for (size_t t = 0; t < w->ntasks; t++) {
            const ipvm_task_t *x = &c->tasks[t], *y = &w->tasks[t];
            IPVM_ASSERT(ipvm_cid_equal(&x->instruction, &y->instruction));
            IPVM_ASSERT(ipvm_cid_equal(&x->invocation, &y->invocation));
            IPVM_ASSERT(ipvm_ipld_equal(x->args, y->args));
            IPVM_ASSERT_STREQ(x->rsc, y->rsc);
            IPVM_ASSERT_STREQ(x->func, y->func);
            IPVM_ASSERT_EQ_U64(x->limits.fuel, y->limits.fuel);
            IPVM_ASSERT_EQ(x->nawaits, y->nawaits);
            IPVM_ASSERT_EQ(x->ndeps, y->ndeps);
            IPVM_ASSERT_EQ(x->batch, y->batch);
            IPVM_ASSERT_EQ(c->order[t], w->order[t]);
        }
        n = w->ntasks;
    }
    ipvm_arena_dispose(&a);
    return n;
}

IPVM_TEST(workflow, stream_same_as_whole)
{
    static const char *files[] = {"test-workflow-add-one.json", "test-workflow-add-one-nonced.json",
                                  "test-workflow-image-pipeline.json"};
    size_t tasks = 0;
    for (size_t f = 0; f < 3; f++) {
        char path[256];
        snprintf(path, sizeof path, "homestar/workflows/%s", files[f]);
        ipvm_buf_t b = IPVM_BUF_INIT;
        ipvm_test_read_file(ipvm_test_vector(path), &b);
        tasks += same_as_whole((const char *)b.data, b.len);
        ipvm_buf_dispose(&b);
    }
    IPVM_ASSERT(tasks >= 5);
    /* a generated workflow of chains and fans (the benchmark's shape) */
    ipvm__wf_gen_t g = {.chains = 20, .length = 10, .fans = 20, .width = 9,
                        .rsc = "ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq",
                        .func = "add_one", .base = 1, .fuel = 1000};
    ipvm_buf_t js = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm__wf_generate(&g, &js, NULL));
    IPVM_ASSERT_EQ(same_as_whole((const char *)js.data, js.len), ipvm__wf_gen_count(&g));
    /* other top-level keys (dropped from what is hashed), whitespace, escapes in keys */
    const char *task = "{\"meta\":{\"memory\":100},\"prf\":[],\"run\":{\"input\":{\"args\":[1],"
                       "\"func\":\"add_one\"},\"nnc\":\"\",\"op\":\"wasm/run\",\"rsc\":"
                       "\"IPFS://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq\"},"
                       "\"cause\":null, \"extra\": [1, {\"a\": 2}]}";
    const char *shapes[] = {
        " {\"name\": \"x\", \"tasks\" : [ %s ] , \"more\": {\"deep\": [[]]}} \n",
        "{\"t\\u0061sks\":[%s]}",
        "{\"z\":1,\"tasks\":[%s],\"a\":null}",
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        char doc[2048];
        snprintf(doc, sizeof doc, shapes[i], task);
        IPVM_ASSERT_EQ(same_as_whole(doc, strlen(doc)), 1);
    }
    /* more top-level keys than the stream keeps track of: the whole-document parse reads it */
    char many[4096];
    int off = snprintf(many, sizeof many, "{");
    for (int k = 0; k < 20; k++)
        off += snprintf(many + off, sizeof many - (size_t)off, "\"k%d\":%d,", k, k);
    snprintf(many + off, sizeof many - (size_t)off, "\"tasks\":[%s]}", task);
    IPVM_ASSERT_EQ(same_as_whole(many, strlen(many)), 1);
    ipvm_buf_dispose(&js);
}

/* Bad documents: whatever goes wrong, and wherever, the compact parse says what the
 * whole-document parse says (it hands every irregular document to it). */
IPVM_TEST(workflow, stream_same_errors)
{
    const char *task = "{\"meta\":{},\"prf\":[],\"run\":{\"input\":{\"args\":[1],\"func\":\"f\"},"
                       "\"nnc\":\"\",\"op\":\"wasm/run\",\"rsc\":\"ipfs://x\"}}";
    const char *bad_op = "{\"meta\":{},\"prf\":[],\"run\":{\"input\":{\"args\":[],\"func\":\"f\"},"
                         "\"op\":\"wasm/fly\",\"rsc\":\"ipfs://x\"}}";
    char docs[16][1024];
    int k = 0;
    /* a validation error in task 0, a syntax error at the end: the syntax error wins */
    snprintf(docs[k++], 1024, "{\"tasks\":[%s,%s,]}", bad_op, task);
    snprintf(docs[k++], 1024, "{\"tasks\":[%s,%s]}", task, bad_op);
    snprintf(docs[k++], 1024, "{\"tasks\":[%s],\"tasks\":[%s]}", task, task);
    snprintf(docs[k++], 1024, "{\"tasks\":[%s],\"/\":1}", task);
    snprintf(docs[k++], 1024, "{\"/\":\"bafyrmibajjtwrcqrntnvp5fgkim6mbbsh6ykkdy3eijq2ycdjhlisxxx3i\"}");
    snprintf(docs[k++], 1024, "{\"tasks\":{}}");
    snprintf(docs[k++], 1024, "{\"tasks\":[]}");
    snprintf(docs[k++], 1024, "{\"task\":[%s]}", task);
    snprintf(docs[k++], 1024, "[%s]", task);
    snprintf(docs[k++], 1024, "{\"tasks\":[%s,%s]}", task, task); /* a duplicate instruction */
    snprintf(docs[k++], 1024, "{\"tasks\":[%s]} x", task);
    snprintf(docs[k++], 1024, "{\"tasks\":[%s], \"o\": [1, 2}", task);
    snprintf(docs[k++], 1024, "{\"tasks\":[%s]", task);
    snprintf(docs[k++], 1024, "{\"tasks\":[{\"meta\":{},\"prf\":[],\"run\":{\"/\":\"bafyrmibajjtwrcqrntnvp5fgkim6mbbsh6ykkdy3eijq2ycdjhlisxxx3i\"}}]}");
    size_t parsed = 0; /* only the "/" key holding a number is a plain key: that one parses */
    for (int i = 0; i < k; i++)
        parsed += same_as_whole(docs[i], strlen(docs[i]));
    IPVM_ASSERT_EQ(parsed, 1);
    /* every cut of a good document */
    char good[1024];
    snprintf(good, sizeof good, "{\"tasks\":[%s], \"x\": [1]}", task);
    for (size_t len = 0; len + 1 < strlen(good); len++)
        IPVM_ASSERT_EQ(same_as_whole(good, len), 0);
}
