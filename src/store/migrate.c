/* SPDX-License-Identifier: Apache-2.0 */
/* Versioned schema migrations (PRAGMA user_version). Version 1 is Homestar's schema exactly as
 * its diesel migrations leave it (homestar-runtime/migrations/ up to 2024-02-13; reference/
 * homestar.md §3.2), so a homestar.db opened here is migrated and its receipts kept. Version 2
 * adds our columns beside Homestar's; version 3 moves a workflow's bulky bytes to a side table.
 * Each step runs in its own write transaction together with the version bump, so a crash leaves
 * the file at one version or the next, never between. */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

/* compat: homestar-runtime/migrations/..._create_{workflows,receipts,workflows_receipts}/up.sql
 * and 2024-02-13-141620_add_workflows_status/up.sql - the same columns, types and CHECK. */
static const char schema_v1[] =
    "CREATE TABLE workflows (\n"
    "  cid          TEXT NOT NULL PRIMARY KEY,\n"
    "  name         TEXT,\n"
    "  num_tasks    INTEGER NOT NULL,\n"
    "  resources    BLOB NOT NULL,\n"
    "  created_at   TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL,\n"
    "  completed_at TIMESTAMP,\n"
    "  status TEXT CHECK(status IN ('pending', 'completed', 'running', 'stuck'))\n"
    "         NOT NULL DEFAULT 'pending',\n"
    "  retries      INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE TABLE receipts (\n"
    "  cid          TEXT NOT NULL PRIMARY KEY,\n"
    "  ran          TEXT NOT NULL,\n"
    "  instruction  TEXT NOT NULL,\n"
    "  out          BLOB NOT NULL,\n"
    "  meta         BLOB NOT NULL,\n"
    "  issuer       TEXT,\n"
    "  prf          BLOB NOT NULL,\n"
    "  version      TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX instruction_index ON receipts (instruction);\n"
    "CREATE TABLE workflows_receipts (\n"
    "  workflow_cid TEXT NOT NULL REFERENCES workflows(cid),\n"
    "  receipt_cid  TEXT NOT NULL REFERENCES receipts(cid),\n"
    "  PRIMARY KEY(workflow_cid, receipt_cid)\n"
    ");\n";

/* Ours, beside the receipt (never inside it, so receipt CIDs stay Homestar's):
 *   fuel, time_ns   what the execution cost (0 when unknown: a peer's receipt, a Homestar row)
 *   created         ms since the Unix epoch when this node stored it (0 for Homestar's rows)
 *   ok              out is ["ok", ...]; Homestar only ever wrote ok receipts, and the UPDATE
 *                   derives it from the DAG-CBOR prefix 82 62 'o' 'k' for rows already there
 *   source          where it came from: local, peer:<id>, dht
 *   signature       the trust layer's envelope when the receipt is signed
 *   workflow        the workflow's own DAG-CBOR, so an interrupted run can resume from the store
 *   failed          a workflow that ended with a failed task; Homestar's status CHECK has no
 *                   'failed', so such a workflow is status 'completed' with failed = 1 */
static const char schema_v2[] =
    "ALTER TABLE receipts ADD COLUMN fuel INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE receipts ADD COLUMN time_ns INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE receipts ADD COLUMN created INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE receipts ADD COLUMN ok INTEGER NOT NULL DEFAULT 1 CHECK(ok IN (0, 1));\n"
    "ALTER TABLE receipts ADD COLUMN source TEXT NOT NULL DEFAULT 'local';\n"
    "ALTER TABLE receipts ADD COLUMN signature BLOB;\n"
    "UPDATE receipts SET ok = (substr(out, 1, 4) = x'82626f6b');\n"
    "ALTER TABLE workflows ADD COLUMN workflow BLOB;\n"
    "ALTER TABLE workflows ADD COLUMN failed INTEGER NOT NULL DEFAULT 0 CHECK(failed IN (0, 1));\n";

/* workflow_data: the bytes of a workflow that SQLite would otherwise rewrite at every status
 * change (an UPDATE rewrites the whole record when it changes size, and 'running' ->
 * 'completed' does): our DAG-CBOR of the workflow (2 MB for 10,000 tasks), and the resources
 * map when it is large (over IPVM__STORE_INLINE_RESOURCES; 1.3 MB for 10,000 tasks). Small
 * resource maps stay in Homestar's column; a large one leaves the empty map x'a0' there, the
 * value Homestar's NOT NULL column takes for "none". Readers take
 * COALESCE(workflow_data.resources, workflows.resources). Homestar's tables keep their shape
 * (workflows.workflow stays, NULL from now on). */
static const char schema_v3[] =
    "CREATE TABLE workflow_data (\n"
    "  cid       TEXT NOT NULL PRIMARY KEY REFERENCES workflows(cid),\n"
    "  resources BLOB,\n"
    "  workflow  BLOB\n"
    ");\n"
    "INSERT INTO workflow_data (cid, resources, workflow)\n"
    "  SELECT cid, CASE WHEN length(resources) > 16384 THEN resources END, workflow\n"
    "  FROM workflows WHERE workflow IS NOT NULL OR length(resources) > 16384;\n"
    "UPDATE workflows SET workflow = NULL,\n"
    "  resources = CASE WHEN length(resources) > 16384 THEN x'a0' ELSE resources END\n"
    "  WHERE workflow IS NOT NULL OR length(resources) > 16384;\n";

static const char *const migrations[IPVM_STORE_SCHEMA + 1] = {NULL, schema_v1, schema_v2,
                                                              schema_v3};

static int query_int(ipvm_store_t *s, const char *sql, int *out, ipvm_error_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        *out = 0;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : ipvm__store_fail(s, rc, err, "cannot read the schema");
}

/* What a file at user_version 0 is: empty (0), Homestar's (1), or something else (error). */
static int classify_v0(ipvm_store_t *s, int *version, ipvm_error_t *err)
{
    int tables, homestar, status_col;
    int rc;
    if ((rc = query_int(s, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                           "name NOT LIKE 'sqlite_%' AND name NOT LIKE '__diesel%'",
                        &tables, err)) != 0 ||
        (rc = query_int(s, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                           "name IN ('workflows', 'receipts', 'workflows_receipts')",
                        &homestar, err)) != 0 ||
        (rc = query_int(s, "SELECT count(*) FROM pragma_table_info('workflows') WHERE "
                           "name IN ('name', 'status', 'retries')",
                        &status_col, err)) != 0)
        return rc;
    if (tables == 0) {
        *version = 0;
        return 0;
    }
    if (homestar == 3 && tables == 3 && status_col == 3) {
        *version = 1; /* a homestar.db from Homestar 0.3 */
        return 0;
    }
    return ipvm_error_set(err, IPVM_ECORRUPT, IPVM_NO_OFFSET,
                          "%s is a SQLite database with other tables, not ipvm's (nor a "
                          "Homestar 0.3 database): choose another --data-dir",
                          s->path);
}

static int current_version(ipvm_store_t *s, int *version, ipvm_error_t *err)
{
    int rc = query_int(s, "PRAGMA user_version", version, err);
    if (rc == 0 && *version == 0)
        rc = classify_v0(s, version, err);
    return rc;
}

static int apply(ipvm_store_t *s, int to, ipvm_error_t *err)
{
    char *sql = sqlite3_mprintf("%s\nPRAGMA user_version = %d;\nPRAGMA application_id = %d;",
                                migrations[to], to, IPVM_STORE_APP_ID);
    if (sql == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
        char what[64];
        snprintf(what, sizeof what, "cannot migrate the schema to version %d", to);
        return ipvm__store_fail(s, rc, err, what);
    }
    return 0;
}

static int newer_error(ipvm_store_t *s, int version, ipvm_error_t *err)
{
    return ipvm_error_set(err, IPVM_ESCHEMA, IPVM_NO_OFFSET,
                          "%s has schema version %d, but this ipvm %s knows versions up to %d: "
                          "upgrade ipvm, or use another --data-dir",
                          s->path, version, IPVM_VERSION_STRING, IPVM_STORE_SCHEMA);
}

int ipvm__store_migrate(ipvm_store_t *s, ipvm_error_t *err)
{
    int version, rc;
    if ((rc = current_version(s, &version, err)) != 0)
        return rc;
    if (version > IPVM_STORE_SCHEMA)
        return newer_error(s, version, err);
    if (version == IPVM_STORE_SCHEMA || s->readonly) {
        s->version = version;
        if (version < IPVM_STORE_SCHEMA)
            return ipvm_error_set(err, IPVM_EROFS, IPVM_NO_OFFSET,
                                  "%s is at schema version %d and needs migrating to %d, which a "
                                  "read-only open cannot do: run any ipvm command that writes "
                                  "(ipvm run) once with a writable data directory",
                                  s->path, version, IPVM_STORE_SCHEMA);
        return 0;
    }
    /* Each step: take the write lock, look again (another process may have migrated while we
     * waited), apply, bump the version, commit. */
    while (version < IPVM_STORE_SCHEMA) {
        if ((rc = ipvm__store_begin(s, true, err)) != 0)
            return rc;
        if ((rc = current_version(s, &version, err)) != 0)
            goto fail;
        if (version > IPVM_STORE_SCHEMA) {
            rc = newer_error(s, version, err);
            goto fail;
        }
        if (version < IPVM_STORE_SCHEMA && (rc = apply(s, version + 1, err)) != 0)
            goto fail;
        if ((rc = ipvm__store_commit(s, err)) != 0)
            return rc;
        if ((rc = current_version(s, &version, err)) != 0)
            return rc;
    }
    s->version = version;
    return 0;
fail:
    ipvm__store_rollback(s);
    return rc;
}
