/* SPDX-License-Identifier: Apache-2.0 */
/* Promises and batches: finds the awaits in each task's arguments, links them to the tasks
 * that produce them, rejects self-awaits, cycles and unknown outside awaits, and lays the
 * tasks out in topological layers with Homestar's rule for tasks outside every chain
 * (homestar-runtime/src/workflow.rs `aot`, dagga barriers; reference/homestar.md §2). */
#include "workflow_int.h"

#include <stdio.h>
#include <string.h>

static const char *const AWAIT_KEYS[] = {"await/ok", "await/error", "await/*"};

const char *ipvm_await_kind_name(ipvm_await_kind_t kind)
{
    return (unsigned)kind < 3 ? AWAIT_KEYS[kind] : "await/?";
}

/* compat: homestar-invocation/src/pointer.rs treats a single-key map holding a Link under ANY
 * key as await/\*. We recognise only the three documented keys, so a record argument such as
 * {"image": <Link>} stays a value (deliberate divergence, documented in docs/workflows.md). */
int ipvm__wf_as_await(const ipvm_ipld_t *v, ipvm_await_kind_t *kind, const ipvm_cid_t **target)
{
    if (v->kind != IPVM_IPLD_MAP || v->u.map.len != 1)
        return 0;
    const ipvm_ipld_entry_t *e = &v->u.map.entries[0];
    for (int k = 0; k < 3; k++) {
        if (e->key_len == strlen(AWAIT_KEYS[k]) && memcmp(e->key, AWAIT_KEYS[k], e->key_len) == 0) {
            if (e->value->kind != IPVM_IPLD_LINK)
                return IPVM_EWORKFLOW;
            *kind = (ipvm_await_kind_t)k;
            *target = e->value->u.link;
            return 1;
        }
    }
    return 0;
}

/* Counts (awaits == NULL) or collects the promises under v. */
static int walk(const ipvm_ipld_t *v, ipvm_await_t *awaits, size_t *n)
{
    ipvm_await_kind_t kind;
    const ipvm_cid_t *target;
    int r = ipvm__wf_as_await(v, &kind, &target);
    if (r < 0)
        return r;
    if (r == 1) {
        if (awaits) {
            awaits[*n].kind = kind;
            awaits[*n].target = *target;
            awaits[*n].task = -1;
        }
        (*n)++;
        return 0;
    }
    if (v->kind == IPVM_IPLD_LIST) {
        for (size_t i = 0; i < v->u.list.len; i++)
            if ((r = walk(v->u.list.items[i], awaits, n)) != 0)
                return r;
    } else if (v->kind == IPVM_IPLD_MAP) {
        for (size_t i = 0; i < v->u.map.len; i++)
            if ((r = walk(v->u.map.entries[i].value, awaits, n)) != 0)
                return r;
    }
    return 0;
}

int ipvm__wf_scan_awaits(ipvm_arena_t *a, ipvm_task_t *t, ipvm_error_t *err)
{
    size_t n = 0;
    const ipvm_ipld_t *args = t->args;
    for (size_t i = 0; i < args->u.list.len; i++) {
        if (walk(args->u.list.items[i], NULL, &n) != 0) {
            char name[128];
            return ipvm_error_set(err, IPVM_EWORKFLOW, IPVM_NO_OFFSET,
                                  "%s: run.input.args[%zu]: a promise must be "
                                  "{\"await/ok\" | \"await/error\" | \"await/*\": "
                                  "{\"/\": \"<instruction CID>\"}}",
                                  ipvm__wf_task_name(t, true, name, sizeof name), i);
        }
    }
    t->nawaits = n;
    if (n == 0)
        return 0;
    t->awaits = ipvm_arena_alloc(a, n * sizeof *t->awaits);
    if (t->awaits == NULL)
        return IPVM_ENOMEM;
    n = 0;
    for (size_t i = 0; i < args->u.list.len; i++)
        (void)walk(args->u.list.items[i], t->awaits, &n);
    return 0;
}

/* Resolves each await to a task of the workflow (or checks it is known outside) and fills
 * t->deps with the distinct producing tasks, ascending. `stamp` is scratch of ntasks entries. */
static int link_task(ipvm_workflow_t *wf, ipvm_task_t *t, const ipvm_workflow_opts_t *opts,
                     ipvm_arena_t *a, size_t *stamp, ipvm_error_t *err)
{
    char name[128], cid[IPVM_CID_MAX_STR];
    size_t nd = 0;
    size_t *deps = t->nawaits ? ipvm_arena_alloc(a, t->nawaits * sizeof *deps) : NULL;
    if (t->nawaits && deps == NULL)
        return IPVM_ENOMEM;
    for (size_t k = 0; k < t->nawaits; k++) {
        ipvm_await_t *aw = &t->awaits[k];
        long j = ipvm_workflow_find(wf, &aw->target);
        if (j == (long)t->index)
            return ipvm_error_set(err, IPVM_ECYCLE, IPVM_NO_OFFSET,
                                  "%s: run.input.args: %s awaits the task's own instruction",
                                  ipvm__wf_task_name(t, true, name, sizeof name),
                                  ipvm_await_kind_name(aw->kind));
        if (j < 0) {
            if (opts->allow_outside_awaits || (opts->known && opts->known(opts->known_data,
                                                                          &aw->target)))
                continue;
            return ipvm_error_set(
                err, IPVM_EAWAIT, IPVM_NO_OFFSET,
                "%s: run.input.args: %s %s: not an instruction of this workflow, and no "
                "receipt for it is stored; run the workflow that computes it first",
                ipvm__wf_task_name(t, true, name, sizeof name), ipvm_await_kind_name(aw->kind),
                ipvm_cid_str(&aw->target, cid));
        }
        aw->task = j;
        if (stamp[j] != t->index + 1) {
            stamp[j] = t->index + 1;
            deps[nd++] = (size_t)j;
        }
    }
    /* insertion sort: awaits per task are few */
    for (size_t x = 1; x < nd; x++)
        for (size_t y = x; y > 0 && deps[y - 1] > deps[y]; y--) {
            size_t tmp = deps[y];
            deps[y] = deps[y - 1];
            deps[y - 1] = tmp;
        }
    t->deps = deps;
    t->ndeps = nd;
    return 0;
}

static int fill_dependents(ipvm_workflow_t *wf, ipvm_arena_t *a)
{
    size_t n = wf->ntasks;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < wf->tasks[i].ndeps; k++)
            wf->tasks[wf->tasks[i].deps[k]].ndependents++;
    for (size_t i = 0; i < n; i++) {
        ipvm_task_t *t = &wf->tasks[i];
        if (t->ndependents) {
            t->dependents = ipvm_arena_alloc(a, t->ndependents * sizeof(size_t));
            if (t->dependents == NULL)
                return IPVM_ENOMEM;
            t->ndependents = 0;
        }
    }
    /* visiting i ascending keeps each dependents list ascending */
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < wf->tasks[i].ndeps; k++) {
            ipvm_task_t *d = &wf->tasks[wf->tasks[i].deps[k]];
            d->dependents[d->ndependents++] = i;
        }
    return 0;
}

/* Describes one cycle among the tasks Kahn's algorithm could not order (indeg > 0). */
static int report_cycle(const ipvm_workflow_t *wf, const size_t *indeg, size_t *visit,
                        ipvm_error_t *err)
{
    size_t n = wf->ntasks, u = 0;
    while (u < n && indeg[u] == 0)
        u++;
    for (size_t i = 0; i < n; i++)
        visit[i] = 0;
    size_t step = 1;
    /* follow unordered deps until a task repeats: that task is on a cycle */
    while (visit[u] == 0) {
        visit[u] = step++;
        const ipvm_task_t *t = &wf->tasks[u];
        size_t next = u;
        for (size_t k = 0; k < t->ndeps; k++)
            if (indeg[t->deps[k]] > 0) {
                next = t->deps[k];
                break;
            }
        u = next;
    }
    char path[200] = "", cid[IPVM_CID_MAX_STR];
    size_t start = u, len = 0;
    do {
        int w = snprintf(path + len, sizeof path - len, "%s%zu", len ? " -> " : "", u);
        len += (w > 0 && (size_t)w < sizeof path - len) ? (size_t)w : 0;
        const ipvm_task_t *t = &wf->tasks[u];
        for (size_t k = 0; k < t->ndeps; k++)
            if (indeg[t->deps[k]] > 0 && visit[t->deps[k]] != 0) {
                u = t->deps[k];
                break;
            }
    } while (u != start && len < sizeof path - 24);
    return ipvm_error_set(err, IPVM_ECYCLE, IPVM_NO_OFFSET,
                          "the workflow has a cycle: task %s -> %zu each awaits the next "
                          "(task %zu is %s); a workflow must be a DAG",
                          path, start, start, ipvm_cid_str(&wf->tasks[start].instruction, cid));
}

/* Kahn's algorithm with ASAP layers: a task's layer is one more than its deepest dependency. */
static int layer_tasks(ipvm_workflow_t *wf, size_t *layer, size_t *indeg, size_t *queue,
                       ipvm_error_t *err)
{
    size_t n = wf->ntasks, head = 0, tail = 0;
    for (size_t i = 0; i < n; i++) {
        layer[i] = 0;
        indeg[i] = wf->tasks[i].ndeps;
        if (indeg[i] == 0)
            queue[tail++] = i;
    }
    while (head < tail) {
        const ipvm_task_t *t = &wf->tasks[queue[head++]];
        for (size_t k = 0; k < t->ndependents; k++) {
            size_t d = t->dependents[k];
            if (layer[d] < layer[t->index] + 1)
                layer[d] = layer[t->index] + 1;
            if (--indeg[d] == 0)
                queue[tail++] = d;
        }
    }
    if (tail < n)
        return report_cycle(wf, indeg, queue, err);
    return 0;
}

/* compat: workflow.rs aot() - a task that neither awaits nor is awaited by a task of the
 * workflow gets barrier(1): all such tasks run together after every chain (test
 * build_mixed_graph: [t1] [t6, t2] [t3] [t4, t5]). */
static int make_batches(ipvm_workflow_t *wf, ipvm_arena_t *a, size_t *layer)
{
    size_t n = wf->ntasks, top = 0;
    bool chains = false, loners = false;
    for (size_t i = 0; i < n; i++) {
        const ipvm_task_t *t = &wf->tasks[i];
        if (t->ndeps || t->ndependents) {
            chains = true;
            if (layer[i] > top)
                top = layer[i];
        } else {
            loners = true;
        }
    }
    size_t barrier = chains ? top + 1 : 0;
    for (size_t i = 0; i < n; i++)
        if (!wf->tasks[i].ndeps && !wf->tasks[i].ndependents)
            layer[i] = barrier;
    wf->nbatches = loners ? barrier + 1 : top + 1;
    wf->batch_start = ipvm_arena_calloc(a, wf->nbatches + 1, sizeof(size_t));
    wf->order = ipvm_arena_alloc(a, n * sizeof(size_t));
    if (wf->batch_start == NULL || wf->order == NULL)
        return IPVM_ENOMEM;
    for (size_t i = 0; i < n; i++)
        wf->batch_start[layer[i] + 1]++;
    for (size_t b = 0; b < wf->nbatches; b++)
        wf->batch_start[b + 1] += wf->batch_start[b];
    /* counting sort, stable: tasks of a batch stay in workflow order; layer[] becomes the
     * next free slot of each batch */
    size_t *next = layer; /* reuse: first copy the batch of each task into tasks[].batch */
    for (size_t i = 0; i < n; i++)
        wf->tasks[i].batch = layer[i];
    for (size_t b = 0; b < wf->nbatches; b++)
        next[b] = wf->batch_start[b];
    for (size_t i = 0; i < n; i++)
        wf->order[next[wf->tasks[i].batch]++] = i;
    return 0;
}

int ipvm__wf_link_and_batch(ipvm_workflow_t *wf, const ipvm_workflow_opts_t *opts,
                            ipvm_arena_t *a, ipvm_error_t *err)
{
    size_t n = wf->ntasks;
    size_t *scratch = ipvm_calloc(3 * n, sizeof(size_t));
    if (scratch == NULL)
        return IPVM_ENOMEM;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = link_task(wf, &wf->tasks[i], opts, a, scratch, err);
    if (rc == 0)
        rc = fill_dependents(wf, a);
    if (rc == 0)
        rc = layer_tasks(wf, scratch, scratch + n, scratch + 2 * n, err);
    if (rc == 0)
        rc = make_batches(wf, a, scratch);
    ipvm_free(scratch);
    return rc;
}
