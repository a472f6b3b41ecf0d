/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for workflow parsing (DAG-JSON text in): parse, and when it succeeds check that
 * the stored DAG-CBOR reads back to the same workflow CID, tasks and batches, and that every
 * task's batch comes after the batches of the tasks it awaits; and that the compact parse, which
 * streams the tasks one at a time, gives the same verdict, message, CID and bytes. */
#include "fuzz.h"

#include <string.h>

IPVM_FUZZ_TARGET(workflow)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf = NULL, *again = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_workflow_opts_t o = {.allow_outside_awaits = (size & 1) != 0};
    int rc = ipvm_workflow_parse((const char *)data, size, &o, &a, &wf, &err);
    ipvm_workflow_opts_t co = o;
    co.compact = true;
    ipvm_workflow_t *cw = NULL;
    ipvm_error_t cerr;
    ipvm_error_clear(&cerr);
    int crc = ipvm_workflow_parse((const char *)data, size, &co, &a, &cw, &cerr);
    IPVM_FUZZ_CHECK(crc == rc);
    if (rc != 0)
        IPVM_FUZZ_CHECK(strcmp(cerr.msg, err.msg) == 0 && cerr.offset == err.offset);
    else
        IPVM_FUZZ_CHECK(ipvm_cid_equal(&cw->cid, &wf->cid) && cw->cbor_len == wf->cbor_len &&
                        memcmp(cw->cbor, wf->cbor, wf->cbor_len) == 0);
    if (rc != 0) {
        IPVM_FUZZ_CHECK(err.code == rc && err.msg[0] != '\0');
        ipvm_arena_dispose(&a);
        return 0;
    }
    IPVM_FUZZ_CHECK(ipvm_workflow_decode(wf->cbor, wf->cbor_len, &o, &a, &again, &err) == 0);
    IPVM_FUZZ_CHECK(ipvm_cid_equal(&wf->cid, &again->cid));
    IPVM_FUZZ_CHECK(wf->ntasks == again->ntasks && wf->nbatches == again->nbatches);
    for (size_t i = 0; i < wf->ntasks; i++) {
        const ipvm_task_t *t = &wf->tasks[i];
        IPVM_FUZZ_CHECK(ipvm_cid_equal(&t->instruction, &again->tasks[i].instruction));
        IPVM_FUZZ_CHECK(ipvm_workflow_find(wf, &t->instruction) == (long)i);
        for (size_t k = 0; k < t->ndeps; k++)
            IPVM_FUZZ_CHECK(wf->tasks[t->deps[k]].batch < t->batch);
    }
    ipvm_arena_dispose(&a);
    return 0;
}
