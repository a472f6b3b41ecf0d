/* SPDX-License-Identifier: Apache-2.0 */
/* The receipts table and its links to workflows: single and batched (group-commit) inserts,
 * lookups by receipt CID and by instruction CID (the memoization key), bulk lookups and walks.
 * CIDs are stored as base32 text and out/meta/prf as DAG-CBOR, as Homestar stores them. */
#include "store_int.h"

#include <string.h>

/* compat: homestar-runtime/src/receipt.rs - receipts carry version "0.2.0" (INVOCATION_VERSION). */
#define DEFAULT_VERSION "0.2.0"

/* DAG-CBOR of a list of 2 whose first item is the text "ok": 0x82 0x62 'o' 'k'. */
static bool out_is_ok(const uint8_t *out, size_t len)
{
    return len >= 4 && memcmp(out, "\x82\x62ok", 4) == 0;
}

static int check_row(ipvm_store_t *s, const ipvm_receipt_row_t *row, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(row == NULL);
    if (row->out == NULL || row->out_len == 0 || row->meta == NULL || row->meta_len == 0 ||
        row->prf == NULL || row->prf_len == 0) {
        char c[IPVM_CID_MAX_STR];
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "receipt %s for %s: out, meta and prf must each hold DAG-CBOR "
                              "bytes (an empty prf is the list 0x80)",
                              ipvm_cid_str(&row->cid, c), s->path);
    }
    return 0;
}

static int bind_blob(sqlite3_stmt *st, int col, const uint8_t *p, size_t len)
{
    if (p == NULL)
        return sqlite3_bind_null(st, col);
    return sqlite3_bind_blob64(st, col, p, len, SQLITE_STATIC);
}

static int bind_receipt(sqlite3_stmt *st, const ipvm_receipt_row_t *row, int64_t now_ms)
{
    int rc = ipvm__store_bind_cid(st, 1, &row->cid);
    if (rc == SQLITE_OK)
        rc = ipvm__store_bind_cid(st, 2, &row->ran);
    if (rc == SQLITE_OK)
        rc = ipvm__store_bind_cid(st, 3, &row->instruction);
    if (rc == SQLITE_OK)
        rc = bind_blob(st, 4, row->out, row->out_len);
    if (rc == SQLITE_OK)
        rc = bind_blob(st, 5, row->meta, row->meta_len);
    if (rc == SQLITE_OK)
        rc = row->issuer ? sqlite3_bind_text(st, 6, row->issuer, -1, SQLITE_STATIC)
                         : sqlite3_bind_null(st, 6);
    if (rc == SQLITE_OK)
        rc = bind_blob(st, 7, row->prf, row->prf_len);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 8, row->version ? row->version : DEFAULT_VERSION, -1,
                               SQLITE_STATIC);
    if (rc == SQLITE_OK) /* u64 kept as its two's-complement bits; read back the same way */
        rc = sqlite3_bind_int64(st, 9, (sqlite3_int64)row->fuel);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 10, (sqlite3_int64)row->time_ns);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 11, now_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 12, out_is_ok(row->out, row->out_len));
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 13, row->source ? row->source : "local", -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = bind_blob(st, 14, row->signature, row->signature_len);
    return rc;
}

/* Inserts one row inside the caller's transaction; links it when workflow is not NULL. */
static int insert_one(ipvm_store_t *s, const ipvm_cid_t *workflow, const ipvm_receipt_row_t *row,
                      int64_t now_ms, bool *inserted, ipvm_error_t *err)
{
    int rc = check_row(s, row, err);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = ipvm__store_stmt(s, ST_PUT_RECEIPT, &rc);
    if (st) {
        rc = bind_receipt(st, row, now_ms);
        if (rc == SQLITE_OK)
            rc = ipvm__store_step_done(st);
        sqlite3_clear_bindings(st);
    }
    if (rc != SQLITE_OK)
        return ipvm__store_fail(s, rc, err, "cannot store a receipt");
    if (inserted)
        *inserted = sqlite3_changes(s->db) > 0;
    if (workflow == NULL)
        return 0;
    if ((st = ipvm__store_stmt(s, ST_LINK, &rc)) != NULL) {
        rc = ipvm__store_bind_cid(st, 1, workflow);
        if (rc == SQLITE_OK)
            rc = ipvm__store_bind_cid(st, 2, &row->cid);
        if (rc == SQLITE_OK)
            rc = ipvm__store_step_done(st);
    }
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
        char c[IPVM_CID_MAX_STR];
        return ipvm_error_set(err, IPVM_ECONSTRAINT, IPVM_NO_OFFSET,
                              "workflow %s is not in %s: store it (ipvm_store_put_workflow) "
                              "before its receipts",
                              ipvm_cid_str(workflow, c), s->path);
    }
    return rc == SQLITE_OK ? 0 : ipvm__store_fail(s, rc, err, "cannot link a receipt");
}

int ipvm_store_put_receipts(ipvm_store_t *s, const ipvm_cid_t *workflow,
                            const ipvm_receipt_row_t *rows, size_t n, bool *inserted,
                            ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || (rows == NULL && n > 0));
    if (n == 0)
        return 0;
    int rc = ipvm__store_begin(s, true, err);
    if (rc != 0)
        return rc;
    int64_t now = (int64_t)ipvm_wall_ms();
    for (size_t i = 0; i < n; i++)
        if ((rc = insert_one(s, workflow, &rows[i], now, inserted ? &inserted[i] : NULL, err)) !=
            0)
            goto fail;
    return ipvm__store_commit(s, err);
fail:
    ipvm__store_rollback(s);
    return rc;
}

int ipvm_store_put_receipt_groups(ipvm_store_t *s, const ipvm_store_receipt_group_t *groups,
                                  size_t ngroups, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || (groups == NULL && ngroups > 0));
    int rc = ipvm__store_begin(s, true, err);
    if (rc != 0)
        return rc;
    int64_t now = (int64_t)ipvm_wall_ms();
    for (size_t g = 0; g < ngroups; g++) {
        IPVM_MISUSE_IF(groups[g].rows == NULL && groups[g].n > 0);
        for (size_t i = 0; i < groups[g].n; i++)
            if ((rc = insert_one(s, groups[g].workflow, &groups[g].rows[i], now, NULL, err)) != 0)
                goto fail;
    }
    return ipvm__store_commit(s, err);
fail:
    ipvm__store_rollback(s);
    return rc;
}

int ipvm_store_put_receipt_for(ipvm_store_t *s, const ipvm_cid_t *workflow,
                               const ipvm_receipt_row_t *row, bool *inserted, ipvm_error_t *err)
{
    return ipvm_store_put_receipts(s, workflow, row, 1, inserted, err);
}

int ipvm_store_put_receipt(ipvm_store_t *s, const ipvm_receipt_row_t *row, bool *inserted,
                           ipvm_error_t *err)
{
    return ipvm_store_put_receipts(s, NULL, row, 1, inserted, err);
}

int ipvm_store_link_receipts(ipvm_store_t *s, const ipvm_cid_t *workflow,
                             const ipvm_cid_t *receipts, size_t n, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || workflow == NULL || (receipts == NULL && n > 0));
    if (n == 0)
        return 0;
    int rc = ipvm__store_begin(s, true, err);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = ipvm__store_stmt(s, ST_LINK, &rc);
    for (size_t i = 0; st && rc == SQLITE_OK && i < n; i++) {
        rc = ipvm__store_bind_cid(st, 1, workflow);
        if (rc == SQLITE_OK)
            rc = ipvm__store_bind_cid(st, 2, &receipts[i]);
        if (rc == SQLITE_OK)
            rc = ipvm__store_step_done(st);
    }
    if (rc != SQLITE_OK) {
        rc = rc == SQLITE_CONSTRAINT_FOREIGNKEY
                 ? ipvm_error_set(err, IPVM_ECONSTRAINT, IPVM_NO_OFFSET,
                                  "cannot link receipts in %s: the workflow or a receipt is not "
                                  "stored there",
                                  s->path)
                 : ipvm__store_fail(s, rc, err, "cannot link receipts");
        ipvm__store_rollback(s);
        return rc;
    }
    return ipvm__store_commit(s, err);
}

/* ---- reading rows --------------------------------------------------------------------------- */
/* Points p at column col (copied into arena when arena is not NULL, else SQLite's memory, valid
 * until the next step). */
static int column_blob(ipvm_store_t *s, sqlite3_stmt *st, int col, ipvm_arena_t *arena,
                       const uint8_t **p, size_t *len, ipvm_error_t *err)
{
    const void *b = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    *len = n;
    *p = NULL;
    if (b == NULL) {
        if (sqlite3_errcode(s->db) == SQLITE_NOMEM)
            return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
        return 0;
    }
    if (arena == NULL) {
        *p = b;
        return 0;
    }
    /* One extra NUL, so text columns read this way are C strings. */
    uint8_t *copy = ipvm_arena_alloc(arena, n + 1);
    if (copy == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    memcpy(copy, b, n);
    copy[n] = 0;
    *p = copy;
    return 0;
}

static int column_text(ipvm_store_t *s, sqlite3_stmt *st, int col, ipvm_arena_t *arena,
                       const char **out, ipvm_error_t *err)
{
    (void)s;
    *out = NULL;
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return 0;
    const char *t = (const char *)sqlite3_column_text(st, col);
    if (t == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    if (arena == NULL) {
        *out = t;
        return 0;
    }
    if ((*out = ipvm_arena_strndup(arena, t, (size_t)sqlite3_column_bytes(st, col))) == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    return 0;
}

/* Reads the RECEIPT_COLS of the current row. */
static int read_row(ipvm_store_t *s, sqlite3_stmt *st, ipvm_arena_t *arena,
                    ipvm_receipt_row_t *row, ipvm_error_t *err)
{
    memset(row, 0, sizeof *row);
    int rc;
    if ((rc = ipvm__store_column_cid(s, st, 0, &row->cid, err)) != 0 ||
        (rc = ipvm__store_column_cid(s, st, 1, &row->ran, err)) != 0 ||
        (rc = ipvm__store_column_cid(s, st, 2, &row->instruction, err)) != 0 ||
        (rc = column_blob(s, st, 3, arena, &row->out, &row->out_len, err)) != 0 ||
        (rc = column_blob(s, st, 4, arena, &row->meta, &row->meta_len, err)) != 0 ||
        (rc = column_text(s, st, 5, arena, &row->issuer, err)) != 0 ||
        (rc = column_blob(s, st, 6, arena, &row->prf, &row->prf_len, err)) != 0 ||
        (rc = column_text(s, st, 7, arena, &row->version, err)) != 0 ||
        (rc = column_text(s, st, 12, arena, &row->source, err)) != 0 ||
        (rc = column_blob(s, st, 13, arena, &row->signature, &row->signature_len, err)) != 0)
        return rc;
    row->fuel = (uint64_t)sqlite3_column_int64(st, 8);
    row->time_ns = (uint64_t)sqlite3_column_int64(st, 9);
    row->created_ms = sqlite3_column_int64(st, 10);
    row->ok = sqlite3_column_int(st, 11) != 0;
    if (row->out == NULL)
        return ipvm_error_set(err, IPVM_ECORRUPT, IPVM_NO_OFFSET,
                              "%s: a receipt row has no out column", s->path);
    return 0;
}

/* Runs a prepared one-CID lookup and reads its row: for ST_FIND_RECEIPT the best of the rows
 * found (ok first, then the oldest by created, then by rowid, which the index returns in
 * ascending order). 1 found, 0 not found, <0 error. */
static int lookup(ipvm_store_t *s, store_stmt_id_t id, const ipvm_cid_t *key, ipvm_arena_t *arena,
                  ipvm_receipt_row_t *out, ipvm_error_t *err)
{
    int rc;
    sqlite3_stmt *st = ipvm__store_stmt(s, id, &rc);
    if (st == NULL)
        return ipvm__store_fail(s, rc, err, "cannot look up a receipt");
    if ((rc = ipvm__store_bind_cid(st, 1, key)) != SQLITE_OK) {
        sqlite3_reset(st);
        return ipvm__store_fail(s, rc, err, "cannot look up a receipt");
    }
    int found = 0;
    bool best_ok = false;
    int64_t best_created = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        bool ok = sqlite3_column_int(st, 11) != 0;
        int64_t created = sqlite3_column_int64(st, 10);
        if (found && (best_ok > ok || (best_ok == ok && best_created <= created)))
            continue;
        if ((rc = read_row(s, st, arena, out, err)) != 0) {
            sqlite3_reset(st);
            return rc;
        }
        found = 1;
        best_ok = ok;
        best_created = created;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ipvm__store_fail(s, rc, err, "cannot look up a receipt");
    return found;
}

static int not_found(ipvm_store_t *s, const char *what, const ipvm_cid_t *cid, ipvm_error_t *err)
{
    char c[IPVM_CID_MAX_STR];
    return ipvm_error_set(err, IPVM_ENOENT, IPVM_NO_OFFSET, "no receipt %s %s in %s", what,
                          ipvm_cid_str(cid, c), s->path);
}

int ipvm_store_get_receipt(ipvm_store_t *s, const ipvm_cid_t *cid, ipvm_arena_t *arena,
                           ipvm_receipt_row_t *out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || cid == NULL || arena == NULL || out == NULL);
    int rc = lookup(s, ST_GET_RECEIPT, cid, arena, out, err);
    return rc == 1 ? 0 : rc == 0 ? not_found(s, "named", cid, err) : rc;
}

int ipvm_store_find_receipt(ipvm_store_t *s, const ipvm_cid_t *instruction, ipvm_arena_t *arena,
                            ipvm_receipt_row_t *out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || instruction == NULL || arena == NULL || out == NULL);
    int rc = lookup(s, ST_FIND_RECEIPT, instruction, arena, out, err);
    return rc == 1 ? 0 : rc == 0 ? not_found(s, "for instruction", instruction, err) : rc;
}

int ipvm_store_find_receipts(ipvm_store_t *s, const ipvm_cid_t *instructions, size_t n,
                             ipvm_arena_t *arena, ipvm_receipt_row_t *rows, bool *found,
                             size_t *nfound, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || arena == NULL ||
                   (n > 0 && (instructions == NULL || rows == NULL || found == NULL)));
    size_t count = 0;
    if (nfound)
        *nfound = 0;
    if (n == 0)
        return 0;
    /* One read transaction: one snapshot, and the locks are taken once instead of n times. */
    int rc = ipvm__store_begin(s, false, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        rc = lookup(s, ST_FIND_RECEIPT, &instructions[i], arena, &rows[i], err);
        if (rc < 0) {
            ipvm__store_rollback(s);
            return rc;
        }
        found[i] = rc == 1;
        count += (size_t)rc;
    }
    if ((rc = ipvm__store_commit(s, err)) != 0)
        return rc;
    if (nfound)
        *nfound = count;
    return 0;
}

#define SELECT_R                                                                                   \
    "SELECT r.cid, r.ran, r.instruction, r.out, r.meta, r.issuer, r.prf, r.version, r.fuel, "      \
    "r.time_ns, r.created, r.ok, r.source, r.signature FROM receipts r "

int ipvm_store_each_receipt(ipvm_store_t *s, const ipvm_cid_t *workflow, ipvm_store_receipt_cb fn,
                            void *data, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || fn == NULL);
    const char *sql = workflow ? SELECT_R "JOIN workflows_receipts w ON w.receipt_cid = r.cid "
                                          "WHERE w.workflow_cid = ?1 ORDER BY r.rowid"
                               : SELECT_R "ORDER BY r.rowid";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && workflow)
        rc = ipvm__store_bind_cid(st, 1, workflow);
    if (rc != SQLITE_OK) {
        rc = ipvm__store_fail(s, rc, err, "cannot list receipts");
        goto done;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ipvm_receipt_row_t row;
        if ((rc = read_row(s, st, NULL, &row, err)) != 0 || (rc = fn(&row, data)) != 0)
            goto done;
    }
    rc = rc == SQLITE_DONE ? 0 : ipvm__store_fail(s, rc, err, "cannot list receipts");
done:
    sqlite3_finalize(st);
    return rc;
}

int ipvm_store_scan_workflow_receipts(ipvm_store_t *s, const ipvm_cid_t *workflow,
                                      ipvm_store_receipt_cb fn, void *data, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || workflow == NULL || fn == NULL);
    int rc;
    sqlite3_stmt *st = ipvm__store_stmt(s, ST_SCAN_LINKED, &rc);
    if (st != NULL)
        rc = ipvm__store_bind_cid(st, 1, workflow);
    if (rc != SQLITE_OK) {
        rc = ipvm__store_fail(s, rc, err, "cannot list a workflow's receipts");
        goto done;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ipvm_receipt_row_t row;
        if ((rc = read_row(s, st, NULL, &row, err)) != 0 || (rc = fn(&row, data)) != 0)
            goto done;
    }
    rc = rc == SQLITE_DONE ? 0 : ipvm__store_fail(s, rc, err, "cannot list a workflow's receipts");
done:
    if (st)
        sqlite3_reset(st);
    return rc;
}

int ipvm_store_count_receipts(ipvm_store_t *s, const ipvm_cid_t *workflow, int64_t *count,
                              ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || count == NULL);
    const char *sql = workflow ? "SELECT count(*) FROM workflows_receipts WHERE workflow_cid = ?1"
                               : "SELECT count(*) FROM receipts";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && workflow)
        rc = ipvm__store_bind_cid(st, 1, workflow);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *count = sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        rc = ipvm__store_fail(s, rc, err, "cannot count receipts");
    }
    sqlite3_finalize(st);
    return rc;
}
