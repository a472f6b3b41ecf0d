/* SPDX-License-Identifier: Apache-2.0 */
/* Argument resolution: replaces the promises in a task's arguments by the results they select
 * (await/ok, await/error, await/\*) and top-level Link arguments by the resource's bytes
 * (reference/homestar.md §2 and §4.5). Unlike Homestar, the branch of an await is checked:
 * await/ok of a failed task fails the dependent, await/error of a successful one too. */
#include "workflow_int.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const ipvm_task_t *task;
    const ipvm_resolve_ops_t *ops;
    ipvm_arena_t *arena;
    ipvm_error_t *err;
    size_t arg; /* top-level argument being resolved, for messages */
} resolver_t;

static int select_branch(resolver_t *r, const ipvm_await_t *aw, const ipvm_ipld_t *tuple,
                         const ipvm_ipld_t **out)
{
    char name[128], cid[IPVM_CID_MAX_STR], summary[200];
    if (tuple == NULL || tuple->kind != IPVM_IPLD_LIST || tuple->u.list.len != 2 ||
        tuple->u.list.items[0]->kind != IPVM_IPLD_STRING)
        return ipvm_error_set(r->err, IPVM_ERECEIPT, IPVM_NO_OFFSET,
                              "%s: run.input.args[%zu]: the result of %s is not [\"ok\"|\"error\","
                              " value]",
                              ipvm__wf_task_name(r->task, true, name, sizeof name), r->arg,
                              ipvm_cid_str(&aw->target, cid));
    bool ok = ipvm_ipld_is_str(tuple->u.list.items[0], "ok");
    const ipvm_ipld_t *value = tuple->u.list.items[1];
    if (aw->kind == IPVM_AWAIT_ANY) {
        *out = tuple;
        return 0;
    }
    if (aw->kind == IPVM_AWAIT_OK && !ok) {
        const char *code = ipvm_receipt_error_code(value);
        const ipvm_ipld_t *msg = ipvm_ipld_map_get(value, "message");
        if (msg && msg->kind == IPVM_IPLD_STRING)
            snprintf(summary, sizeof summary, "%s: %s", code ? code : "error", msg->u.str.ptr);
        else
            ipvm_ipld_summary(value, summary, sizeof summary);
        char from[40] = "";
        if (aw->task >= 0)
            snprintf(from, sizeof from, " (task %ld)", aw->task);
        return ipvm_error_set(r->err, IPVM_ETASKFAILED, IPVM_NO_OFFSET,
                              "run.input.args[%zu]: await/ok of %s%s, which failed (%s)", r->arg,
                              ipvm_cid_str(&aw->target, cid), from, summary);
    }
    if (aw->kind == IPVM_AWAIT_ERROR && ok)
        return ipvm_error_set(r->err, IPVM_EAWAIT, IPVM_NO_OFFSET,
                              "run.input.args[%zu]: await/error of %s, which succeeded (use "
                              "await/ok or await/* for its value)",
                              r->arg, ipvm_cid_str(&aw->target, cid));
    *out = value;
    return 0;
}

static int resolve(resolver_t *r, const ipvm_ipld_t *v, bool top, const ipvm_ipld_t **out);

/* The value an await selects: the result of its target (with the task that produces it, for
 * messages), then the branch. */
static int resolve_await(resolver_t *r, ipvm_await_kind_t kind, const ipvm_cid_t *target,
                         const ipvm_ipld_t **out)
{
    ipvm_await_t aw = {.kind = kind, .target = *target, .task = -1};
    for (size_t k = 0; k < r->task->nawaits; k++)
        if (ipvm_cid_equal(&r->task->awaits[k].target, target)) {
            aw.task = r->task->awaits[k].task;
            break;
        }
    const ipvm_ipld_t *tuple = NULL;
    int rc = r->ops->result(r->ops->data, &aw, &tuple, r->err);
    return rc ? rc : select_branch(r, &aw, tuple, out);
}

/* A list: *out stays v unless an item changes, then it is a copy. */
static int resolve_list(resolver_t *r, const ipvm_ipld_t *v, const ipvm_ipld_t **out)
{
    ipvm_ipld_t *copy = NULL;
    for (size_t i = 0; i < v->u.list.len; i++) {
        const ipvm_ipld_t *item;
        int rc = resolve(r, v->u.list.items[i], false, &item);
        if (rc != 0)
            return rc;
        if (item != v->u.list.items[i] && copy == NULL) {
            if ((copy = ipvm_ipld_new_list(r->arena, v->u.list.len)) == NULL)
                return IPVM_ENOMEM;
            for (size_t k = 0; k < i; k++)
                if (ipvm_ipld_list_push(r->arena, copy, v->u.list.items[k]) != 0)
                    return IPVM_ENOMEM;
        }
        if (copy && ipvm_ipld_list_push(r->arena, copy, (ipvm_ipld_t *)item) != 0)
            return IPVM_ENOMEM;
    }
    *out = copy ? copy : v;
    return 0;
}

/* A map: *out stays v unless a value changes, then it is a copy. */
static int resolve_map(resolver_t *r, const ipvm_ipld_t *v, const ipvm_ipld_t **out)
{
    ipvm_ipld_t *copy = NULL;
    for (size_t i = 0; i < v->u.map.len; i++) {
        const ipvm_ipld_entry_t *e = &v->u.map.entries[i];
        const ipvm_ipld_t *item;
        int rc = resolve(r, e->value, false, &item);
        if (rc != 0)
            return rc;
        if (item != e->value && copy == NULL) {
            if ((copy = ipvm_ipld_new_map(r->arena, v->u.map.len)) == NULL)
                return IPVM_ENOMEM;
            for (size_t k = 0; k < i; k++)
                if (ipvm_ipld_map_set(r->arena, copy, v->u.map.entries[k].key,
                                      v->u.map.entries[k].key_len,
                                      v->u.map.entries[k].value) != 0)
                    return IPVM_ENOMEM;
        }
        if (copy && ipvm_ipld_map_set(r->arena, copy, e->key, e->key_len,
                                      (ipvm_ipld_t *)item) != 0)
            return IPVM_ENOMEM;
    }
    *out = copy ? copy : v;
    return 0;
}

/* Returns v itself when nothing under it changes, else a resolved copy (copy on write). */
static int resolve(resolver_t *r, const ipvm_ipld_t *v, bool top, const ipvm_ipld_t **out)
{
    ipvm_await_kind_t kind;
    const ipvm_cid_t *target;
    int rc = ipvm__wf_as_await(v, &kind, &target);
    if (rc == 1)
        return resolve_await(r, kind, target, out);
    if (rc < 0)
        return rc;
    if (v->kind == IPVM_IPLD_LINK && top && r->ops->link)
        return r->ops->link(r->ops->data, v->u.link, out, r->err);
    if (v->kind == IPVM_IPLD_LIST)
        return resolve_list(r, v, out);
    if (v->kind == IPVM_IPLD_MAP)
        return resolve_map(r, v, out);
    *out = v;
    return 0;
}

int ipvm_task_resolve_args(const ipvm_task_t *task, const ipvm_resolve_ops_t *ops,
                           ipvm_arena_t *arena, ipvm_ipld_t **args, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(task == NULL || ops == NULL || arena == NULL || args == NULL);
    IPVM_MISUSE_IF(task->nawaits > 0 && ops->result == NULL);
    resolver_t r = {task, ops, arena, err, 0};
    const ipvm_ipld_t *list = task->args;
    ipvm_ipld_t *copy = NULL;
    for (size_t i = 0; i < list->u.list.len; i++) {
        const ipvm_ipld_t *item;
        r.arg = i;
        int rc = resolve(&r, list->u.list.items[i], true, &item);
        if (rc != 0)
            return rc;
        if (item != list->u.list.items[i] && copy == NULL) {
            if ((copy = ipvm_ipld_new_list(arena, list->u.list.len)) == NULL)
                return IPVM_ENOMEM;
            for (size_t k = 0; k < i; k++)
                if (ipvm_ipld_list_push(arena, copy, list->u.list.items[k]) != 0)
                    return IPVM_ENOMEM;
        }
        if (copy && ipvm_ipld_list_push(arena, copy, (ipvm_ipld_t *)item) != 0)
            return IPVM_ENOMEM;
    }
    *args = copy ? copy : (ipvm_ipld_t *)list;
    return 0;
}
