/* SPDX-License-Identifier: Apache-2.0 */
/* The workflows table: Homestar's columns (status with its CHECK, TIMESTAMP text columns) plus
 * ours (the workflow's DAG-CBOR, the failed flag), and the walk over workflows. */
#include "store_int.h"

#include <string.h>

/* A workflow row this large (bytes of DAG-CBOR and resources) has its cache pages released. */
#define BIG_ROW ((size_t)256 << 10)

/* compat: homestar-runtime/migrations/2024-02-13-141620_add_workflows_status - status is one of
 * pending/completed/running/stuck. Our FAILED is stored as 'completed' with failed = 1. */
static const char *status_text(ipvm_workflow_status_t st)
{
    switch (st) {
    case IPVM_WF_RUNNING:
        return "running";
    case IPVM_WF_COMPLETED:
    case IPVM_WF_FAILED:
        return "completed";
    case IPVM_WF_STUCK:
        return "stuck";
    case IPVM_WF_PENDING:
    default:
        return "pending";
    }
}

static ipvm_workflow_status_t status_from(const char *t, bool failed)
{
    if (t == NULL)
        return IPVM_WF_PENDING;
    if (strcmp(t, "completed") == 0)
        return failed ? IPVM_WF_FAILED : IPVM_WF_COMPLETED;
    if (strcmp(t, "running") == 0)
        return IPVM_WF_RUNNING;
    if (strcmp(t, "stuck") == 0)
        return IPVM_WF_STUCK;
    return IPVM_WF_PENDING;
}

static int bind_workflow(sqlite3_stmt *st, const ipvm_workflow_row_t *row)
{
    int rc = ipvm__store_bind_cid(st, 1, &row->cid);
    if (rc == SQLITE_OK)
        rc = row->name ? sqlite3_bind_text(st, 2, row->name, -1, SQLITE_STATIC)
                       : sqlite3_bind_null(st, 2);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 3, row->num_tasks);
    /* resources is NOT NULL: an absent map is the empty DAG-CBOR map 0xa0, and so is a large
     * one, which goes to workflow_data (put_workflow_data) */
    if (rc == SQLITE_OK)
        rc = row->resources && row->resources_len &&
                     row->resources_len <= IPVM__STORE_INLINE_RESOURCES
                 ? sqlite3_bind_blob64(st, 4, row->resources, row->resources_len, SQLITE_STATIC)
                 : sqlite3_bind_blob(st, 4, "\xa0", 1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 5, row->created_ms ? row->created_ms
                                                       : (sqlite3_int64)ipvm_wall_ms());
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 6, status_text(row->status), -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 7, row->retries);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 8, row->status == IPVM_WF_FAILED);
    return rc;
}

/* The side-table row (migrate.c, schema_v3) of a workflow just inserted: its DAG-CBOR, and its
 * resources when they are too large for Homestar's column. Nothing when neither applies. */
static int put_workflow_data(ipvm_store_t *s, const ipvm_workflow_row_t *row)
{
    bool big = row->resources && row->resources_len > IPVM__STORE_INLINE_RESOURCES;
    if (!big && row->workflow == NULL)
        return SQLITE_OK;
    int rc;
    sqlite3_stmt *st = ipvm__store_stmt(s, ST_PUT_WORKFLOW_DATA, &rc);
    if (st == NULL)
        return rc;
    rc = ipvm__store_bind_cid(st, 1, &row->cid);
    if (rc == SQLITE_OK)
        rc = big ? sqlite3_bind_blob64(st, 2, row->resources, row->resources_len, SQLITE_STATIC)
                 : sqlite3_bind_null(st, 2);
    if (rc == SQLITE_OK)
        rc = row->workflow ? sqlite3_bind_blob64(st, 3, row->workflow, row->workflow_len,
                                                 SQLITE_STATIC)
                           : sqlite3_bind_null(st, 3);
    if (rc == SQLITE_OK)
        rc = ipvm__store_step_done(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int ipvm_store_put_workflow(ipvm_store_t *s, const ipvm_workflow_row_t *row, bool *inserted,
                            ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || row == NULL);
    int rc = ipvm__store_begin(s, true, err); /* the row and its side-table bytes, or neither */
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = ipvm__store_stmt(s, ST_PUT_WORKFLOW, &rc);
    bool added = false;
    if (st) {
        rc = bind_workflow(st, row);
        if (rc == SQLITE_OK)
            rc = ipvm__store_step_done(st);
        sqlite3_clear_bindings(st);
    }
    if (rc == SQLITE_OK && (added = sqlite3_changes(s->db) > 0))
        rc = put_workflow_data(s, row);
    if (rc != SQLITE_OK) {
        rc = ipvm__store_fail(s, rc, err, "cannot store a workflow");
        ipvm__store_rollback(s);
        return rc;
    }
    if ((rc = ipvm__store_commit(s, err)) != 0)
        return rc;
    /* A large workflow's pages are written once and not read again by this connection: give
     * them back to the page-cache pool (the writer's receipts reuse them) instead of holding
     * megabytes of cache for the rest of the run. */
    if (row->workflow_len + row->resources_len >= BIG_ROW)
        sqlite3_db_release_memory(s->db);
    if (inserted)
        *inserted = added;
    return 0;
}

static int copy_blob(ipvm_arena_t *a, sqlite3_stmt *st, int col, const uint8_t **p, size_t *len)
{
    const void *b = sqlite3_column_blob(st, col);
    *len = (size_t)sqlite3_column_bytes(st, col);
    *p = NULL;
    if (b == NULL)
        return 0;
    return (*p = ipvm_arena_memdup(a, b, *len)) ? 0 : IPVM_ENOMEM;
}

/* Reads the ST_GET_WORKFLOW columns of the current row; arena NULL = point into SQLite. */
static int read_workflow(ipvm_store_t *s, sqlite3_stmt *st, ipvm_arena_t *arena,
                         ipvm_workflow_row_t *row, ipvm_error_t *err)
{
    memset(row, 0, sizeof *row);
    int rc = ipvm__store_column_cid(s, st, 0, &row->cid, err);
    if (rc != 0)
        return rc;
    const char *name = (const char *)sqlite3_column_text(st, 1);
    row->num_tasks = sqlite3_column_int64(st, 2);
    row->status = status_from((const char *)sqlite3_column_text(st, 4), sqlite3_column_int(st, 5));
    row->created_ms = sqlite3_column_int64(st, 6);
    row->completed_ms = sqlite3_column_int64(st, 7);
    row->retries = sqlite3_column_int64(st, 8);
    if (arena == NULL) {
        row->name = name;
        row->resources = sqlite3_column_blob(st, 3);
        row->resources_len = (size_t)sqlite3_column_bytes(st, 3);
        row->workflow = sqlite3_column_blob(st, 9);
        row->workflow_len = (size_t)sqlite3_column_bytes(st, 9);
        return 0;
    }
    if ((name && (row->name = ipvm_arena_strdup(arena, name)) == NULL) ||
        copy_blob(arena, st, 3, &row->resources, &row->resources_len) != 0 ||
        copy_blob(arena, st, 9, &row->workflow, &row->workflow_len) != 0)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    return 0;
}

/* Steps statement `id` (one CID parameter) to the workflow row of `cid`: 0 with *out on the
 * row (the caller reads it, then resets *out), or an error with the statement already reset
 * (IPVM_ENOENT when there is no such workflow). */
static int workflow_row(ipvm_store_t *s, store_stmt_id_t id, const ipvm_cid_t *cid,
                        sqlite3_stmt **out, ipvm_error_t *err)
{
    int rc;
    sqlite3_stmt *st = ipvm__store_stmt(s, id, &rc);
    if (st == NULL)
        return ipvm__store_fail(s, rc, err, "cannot look up a workflow");
    if ((rc = ipvm__store_bind_cid(st, 1, cid)) == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = st;
        return 0;
    }
    if (rc == SQLITE_DONE) {
        char c[IPVM_CID_MAX_STR];
        rc = ipvm_error_set(err, IPVM_ENOENT, IPVM_NO_OFFSET, "no workflow %s in %s",
                            ipvm_cid_str(cid, c), s->path);
    } else {
        rc = ipvm__store_fail(s, rc, err, "cannot look up a workflow");
    }
    sqlite3_reset(st);
    return rc;
}

int ipvm_store_get_workflow(ipvm_store_t *s, const ipvm_cid_t *cid, ipvm_arena_t *arena,
                            ipvm_workflow_row_t *out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || cid == NULL || arena == NULL || out == NULL);
    sqlite3_stmt *st;
    int rc = workflow_row(s, ST_GET_WORKFLOW, cid, &st, err);
    if (rc)
        return rc;
    rc = read_workflow(s, st, arena, out, err);
    sqlite3_reset(st);
    return rc;
}

int ipvm_store_get_workflow_status(ipvm_store_t *s, const ipvm_cid_t *cid,
                                   ipvm_workflow_status_t *out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || cid == NULL || out == NULL);
    sqlite3_stmt *st;
    int rc = workflow_row(s, ST_GET_STATUS, cid, &st, err);
    if (rc)
        return rc;
    *out = status_from((const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1));
    sqlite3_reset(st);
    return 0;
}

int ipvm_store_set_workflow_status(ipvm_store_t *s, const ipvm_cid_t *cid,
                                   ipvm_workflow_status_t status, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || cid == NULL);
    int rc;
    sqlite3_stmt *st = ipvm__store_stmt(s, ST_SET_STATUS, &rc);
    if (st) {
        bool done = status == IPVM_WF_COMPLETED || status == IPVM_WF_FAILED;
        rc = ipvm__store_bind_cid(st, 1, cid);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(st, 2, status_text(status), -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(st, 3, status == IPVM_WF_FAILED);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(st, 4, done);
        if (rc == SQLITE_OK)
            rc = ipvm__store_step_done(st);
    }
    if (rc != SQLITE_OK)
        return ipvm__store_fail(s, rc, err, "cannot update a workflow's status");
    if (sqlite3_changes(s->db) == 0) {
        char c[IPVM_CID_MAX_STR];
        return ipvm_error_set(err, IPVM_ENOENT, IPVM_NO_OFFSET, "no workflow %s in %s",
                              ipvm_cid_str(cid, c), s->path);
    }
    return 0;
}

int ipvm_store_each_workflow(ipvm_store_t *s, int status, ipvm_store_workflow_cb fn, void *data,
                             ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || fn == NULL);
    const char *sql = "SELECT " WORKFLOW_COLS " WHERE ?1 IS NULL OR (w.status = ?1 AND "
                      "w.failed = ?2) ORDER BY w.created_at DESC, w.rowid DESC";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && status >= 0) {
        rc = sqlite3_bind_text(st, 1, status_text((ipvm_workflow_status_t)status), -1,
                               SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(st, 2, status == IPVM_WF_FAILED);
    }
    if (rc != SQLITE_OK) {
        rc = ipvm__store_fail(s, rc, err, "cannot list workflows");
        goto done;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ipvm_workflow_row_t row;
        if ((rc = read_workflow(s, st, NULL, &row, err)) != 0 || (rc = fn(&row, data)) != 0)
            goto done;
    }
    rc = rc == SQLITE_DONE ? 0 : ipvm__store_fail(s, rc, err, "cannot list workflows");
done:
    sqlite3_finalize(st);
    return rc;
}

int ipvm_store_link_receipt(ipvm_store_t *s, const ipvm_cid_t *workflow,
                            const ipvm_cid_t *receipt, ipvm_error_t *err)
{
    return ipvm_store_link_receipts(s, workflow, receipt, 1, err);
}
