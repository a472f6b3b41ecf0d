/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/store/: the handle (one SQLite connection and its prepared statements), error
 * mapping from SQLite result codes to IPVM_E*, and hooks the tests use to simulate a full disk. */
#ifndef IPVM_STORE_INT_H
#define IPVM_STORE_INT_H

#include "ipvm/store.h"

#include <sqlite3.h>

/* The schema version this program writes (PRAGMA user_version). 1 is Homestar's schema as its
 * diesel migrations leave it; 2 adds our columns; 3 the workflow_data side table. See
 * migrate.c. */
#define IPVM_STORE_SCHEMA 3
/* Resource maps up to this size stay in Homestar's workflows.resources (migrate.c's schema_v3
 * says the same number). */
#define IPVM__STORE_INLINE_RESOURCES 16384
/* PRAGMA application_id of an ipvm database ("ipvm"); a Homestar file has 0. */
#define IPVM_STORE_APP_ID 0x6970766d

/* A workflow's row with its side-table bytes (migrate.c, schema_v3). */
#define WORKFLOW_COLS                                                                              \
    "w.cid, w.name, w.num_tasks, COALESCE(d.resources, w.resources), w.status, w.failed, "       \
    "CAST(round((julianday(w.created_at) - 2440587.5) * 86400000) AS INTEGER), "                 \
    "CAST(round((julianday(w.completed_at) - 2440587.5) * 86400000) AS INTEGER), "               \
    "w.retries, COALESCE(d.workflow, w.workflow) FROM workflows w "                               \
    "LEFT JOIN workflow_data d ON d.cid = w.cid"

typedef struct ipvm__store_gate_s ipvm__store_gate_t;

/* Statements prepared once per handle and reused (sqlite3_reset between uses). */
typedef enum {
    ST_BEGIN_W,
    ST_BEGIN_R,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_PUT_RECEIPT,
    ST_LINK,
    ST_GET_RECEIPT,
    ST_FIND_RECEIPT,
    ST_PUT_WORKFLOW,
    ST_GET_WORKFLOW,
    ST_SET_STATUS,
    ST_GET_STATUS,
    ST_SCAN_LINKED,
    ST_PUT_WORKFLOW_DATA,
    ST__COUNT
} store_stmt_id_t;

struct ipvm_store_s {
    sqlite3 *db;
    char *path;                    /* copied at open, for messages */
    bool readonly;                 /* IPVM_STORE_READONLY */
    int version;                   /* schema version after migration */
    sqlite3_stmt *stmts[ST__COUNT]; /* lazily prepared */
    /* busy.c: the process-wide gate of this file, and this connection's waiting state */
    ipvm__store_gate_t *gate;      /* NULL when the file could not be stat'ed */
    bool wtx;                      /* in a write transaction begun by ipvm__store_begin */
    bool wal_woke;                 /* the WAL hook woke the waiters since that begin */
    bool gen_seen_ok;              /* gen_seen was read before the current attempt */
    unsigned long gen_seen;        /* the gate's generation before SQLite's last attempt */
    uint64_t busy_since;           /* ns, when the current wait started */
    unsigned long busy_woken, busy_polled; /* waits ended by a commit / by the poll timer */
    uint64_t busy_poll_ns;         /* the longest single wait; 0: BUSY_POLL_NS (test hook) */
};

/* Returns the prepared statement, preparing it on first use. NULL and *rc set on failure. */
sqlite3_stmt *ipvm__store_stmt(ipvm_store_t *s, store_stmt_id_t id, int *rc);
/* Maps a SQLite result code to IPVM_E*, and fills err with what failed, the path, SQLite's
 * message and what to do next. Returns the IPVM code. */
int ipvm__store_fail(ipvm_store_t *s, int sqlite_rc, ipvm_error_t *err, const char *what);
/* Runs a statement with no result rows (BEGIN/COMMIT/ROLLBACK). SQLite code. */
int ipvm__store_step_done(sqlite3_stmt *st);
/* BEGIN IMMEDIATE (write) or BEGIN (read); COMMIT; ROLLBACK (ignores errors). */
int ipvm__store_begin(ipvm_store_t *s, bool write, ipvm_error_t *err);
int ipvm__store_commit(ipvm_store_t *s, ipvm_error_t *err);
void ipvm__store_rollback(ipvm_store_t *s);
/* Binds a CID as its base32 text (Homestar's encoding). SQLite code. */
int ipvm__store_bind_cid(sqlite3_stmt *st, int col, const ipvm_cid_t *cid);
/* Reads a CID column back. IPVM_ECORRUPT when the text is not a CID. */
int ipvm__store_column_cid(ipvm_store_t *s, sqlite3_stmt *st, int col, ipvm_cid_t *out,
                           ipvm_error_t *err);
/* Waiting for the write lock (busy.c). init installs the busy handler and the WAL hook on the
 * open connection and joins the file's gate; free leaves it (after sqlite3_close).
 * before_write/after_write go around BEGIN IMMEDIATE; end_write follows the COMMIT or ROLLBACK
 * of a write transaction and wakes this process's other writers of the file. */
void ipvm__store_busy_init(ipvm_store_t *s);
void ipvm__store_busy_free(ipvm_store_t *s);
void ipvm__store_busy_before_write(ipvm_store_t *s);
void ipvm__store_busy_after_write(ipvm_store_t *s);
void ipvm__store_busy_end_write(ipvm_store_t *s);
/* Test hook: how many of this connection's busy waits ended because a writer of this process
 * finished (woken) and how many by the poll timer (polled). */
IPVM_EXTERN void ipvm__store_busy_counts(ipvm_store_t *s, unsigned long *woken,
                                         unsigned long *polled);
/* Test hook: sets this connection's longest single busy wait (0: the default, BUSY_POLL_NS).
 * A long one makes a wait that ends early provably ended by a wake-up, not by the timer. */
IPVM_EXTERN void ipvm__store_busy_set_poll(ipvm_store_t *s, uint64_t poll_ns);

/* Migrates the open database to IPVM_STORE_SCHEMA (migrate.c). */
int ipvm__store_migrate(ipvm_store_t *s, ipvm_error_t *err);

/* SQLite's page-cache pages from huge-page slabs (pagemem.c). alloc returns NULL for sizes
 * that are not a page-cache page (or when no slab can be mapped): use ipvm_malloc then. owns
 * tells whether p came from alloc; free and size take only such pointers. Any thread. */
void *ipvm__pagemem_alloc(size_t n);
bool ipvm__pagemem_owns(const void *p);
void ipvm__pagemem_free(void *p);
size_t ipvm__pagemem_size(void);

/* Test hook: limits the database to n pages (PRAGMA max_page_count), so that a write past it
 * fails with SQLITE_FULL the way a full disk does. */
IPVM_EXTERN int ipvm__store_set_max_pages(ipvm_store_t *s, long n);
/* Test/bench hook: the underlying connection (to measure or to corrupt on purpose). */
IPVM_EXTERN sqlite3 *ipvm__store_db(ipvm_store_t *s);

#endif
