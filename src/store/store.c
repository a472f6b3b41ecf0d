/* SPDX-License-Identifier: Apache-2.0 */
/* Opening and closing the SQLite database (<data-dir>/ipvm.db): connection settings (WAL,
 * synchronous=FULL, busy.c's busy handler, foreign keys), read-only opens, the
 * prepared-statement cache, and the translation of SQLite's result codes into IPVM_E* with
 * messages that say what to do. */
#define _GNU_SOURCE
#include "store_int.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- SQLite's allocations go through ipvm_malloc, so the OOM-loop tests reach them too, except
 * its page-cache pages, which come from huge-page slabs (pagemem.c) ---------------------------- */
static void *sq_malloc(int n)
{
    void *p = ipvm__pagemem_alloc((size_t)n);
    return p ? p : ipvm_malloc((size_t)n);
}
static void sq_free(void *p)
{
    if (p && ipvm__pagemem_owns(p))
        ipvm__pagemem_free(p);
    else
        ipvm_free(p);
}
static void *sq_realloc(void *p, int n)
{
    if (p == NULL || !ipvm__pagemem_owns(p))
        return ipvm_realloc(p, (size_t)n);
    if ((size_t)n <= ipvm__pagemem_size())
        return p;
    void *q = ipvm_malloc((size_t)n);
    if (q != NULL) {
        memcpy(q, p, ipvm__pagemem_size());
        ipvm__pagemem_free(p);
    }
    return q;
}
static int sq_size(void *p)
{
    if (p && ipvm__pagemem_owns(p))
        return (int)ipvm__pagemem_size();
    return p ? (int)malloc_usable_size(p) : 0;
}
static int sq_roundup(int n)
{
    return (n + 7) & ~7;
}
static int sq_init(void *data)
{
    (void)data;
    return SQLITE_OK;
}
static void sq_shutdown(void *data)
{
    (void)data;
}

static pthread_once_t sq_once = PTHREAD_ONCE_INIT;
static void sq_setup(void)
{
    static const sqlite3_mem_methods mem = {sq_malloc,  sq_free, sq_realloc,  sq_size,
                                            sq_roundup, sq_init, sq_shutdown, NULL};
    /* Fails with SQLITE_MISUSE when something in the process already used SQLite (a benchmark's
     * peer, say); SQLite then keeps its own allocator, which is fine. */
    (void)sqlite3_config(SQLITE_CONFIG_MALLOC, &mem);
    /* no global allocation statistics: they take a process-wide mutex on every malloc */
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)sqlite3_initialize();
}

/* ---- errors ------------------------------------------------------------------------------- */
static int map_rc(int rc, int sys_errno)
{
    if (rc == SQLITE_IOERR_NOMEM)
        return IPVM_ENOMEM;
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return IPVM_ENOSPC;
    case SQLITE_NOMEM:
        return IPVM_ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return IPVM_EBUSY;
    case SQLITE_READONLY:
        return IPVM_EROFS;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return IPVM_ECORRUPT;
    case SQLITE_CONSTRAINT:
        return IPVM_ECONSTRAINT;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return IPVM_EACCES;
    case SQLITE_CANTOPEN:
        if (sys_errno == EACCES || sys_errno == EPERM)
            return IPVM_EACCES;
        if (sys_errno == EROFS)
            return IPVM_EROFS;
        if (sys_errno == ENOENT || sys_errno == ENOTDIR)
            return IPVM_ENOENT;
        return IPVM_EIO;
    case SQLITE_IOERR:
        if (sys_errno == ENOSPC || sys_errno == EDQUOT)
            return IPVM_ENOSPC;
        return IPVM_EIO;
    default:
        return IPVM_ESTORE;
    }
}

static const char *hint(int code)
{
    switch (code) {
    case IPVM_ENOSPC:
        return "; nothing of this write was kept: free some disk space and run the command again";
    case IPVM_EBUSY:
        return "; another ipvm process holds the database: wait for it or stop it";
    case IPVM_EROFS:
    case IPVM_EACCES:
        return "; the data directory must be writable for this: fix its permissions or choose "
               "another with --data-dir DIR";
    case IPVM_ECORRUPT:
        return "; move the file away (receipts can be recomputed) or restore it from a backup";
    case IPVM_ENOENT:
        return "; check --data-dir";
    default:
        return "";
    }
}

int ipvm__store_fail(ipvm_store_t *s, int sqlite_rc, ipvm_error_t *err, const char *what)
{
    int sys = s && s->db ? sqlite3_system_errno(s->db) : 0;
    int code = map_rc(sqlite_rc, sys);
    const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(sqlite_rc);
    if ((sqlite_rc & 0xff) == SQLITE_NOMEM)
        msg = "out of memory";
    return ipvm_error_set(err, code, IPVM_NO_OFFSET, "%s in %s: %s%s", what,
                          s && s->path ? s->path : "the database", msg, hint(code));
}

int ipvm__store_step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* ---- prepared statements ------------------------------------------------------------------ */
#define RECEIPT_COLS                                                                               \
    "cid, ran, instruction, out, meta, issuer, prf, version, fuel, time_ns, created, ok, source, " \
    "signature"

static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN_W] = "BEGIN IMMEDIATE",
    [ST_BEGIN_R] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_PUT_RECEIPT] = "INSERT INTO receipts (" RECEIPT_COLS ") VALUES "
                       "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
                       "ON CONFLICT DO NOTHING",
    [ST_LINK] = "INSERT INTO workflows_receipts (workflow_cid, receipt_cid) VALUES (?1, ?2) "
                "ON CONFLICT DO NOTHING",
    [ST_GET_RECEIPT] = "SELECT " RECEIPT_COLS " FROM receipts WHERE cid = ?1",
    /* compat: an instruction may have several receipts (peers, error then retry); receipts.c
     * picks an ok one, then the oldest, among the rows instruction_index finds (no sorter: there
     * is almost always exactly one). */
    [ST_FIND_RECEIPT] = "SELECT " RECEIPT_COLS " FROM receipts WHERE instruction = ?1",
    [ST_PUT_WORKFLOW] = "INSERT INTO workflows (cid, name, num_tasks, resources, created_at, "
                        "status, retries, failed) VALUES (?1, ?2, ?3, ?4, "
                        "strftime('%Y-%m-%d %H:%M:%f', ?5 / 1000.0, 'unixepoch'), ?6, ?7, ?8) "
                        "ON CONFLICT DO NOTHING",
    [ST_GET_WORKFLOW] = "SELECT " WORKFLOW_COLS " WHERE w.cid = ?1",
    [ST_SET_STATUS] = "UPDATE workflows SET status = ?2, failed = ?3, completed_at = CASE WHEN ?4 "
                      "THEN strftime('%Y-%m-%d %H:%M:%f', 'now') ELSE NULL END WHERE cid = ?1",
    [ST_GET_STATUS] = "SELECT status, failed FROM workflows WHERE cid = ?1",
    /* no ORDER BY: the links' index gives receipt CIDs in text order, so the receipts' own
     * index is walked forward, and no temporary B-tree copies every row to sort it */
    [ST_SCAN_LINKED] = "SELECT r.cid, r.ran, r.instruction, r.out, r.meta, r.issuer, r.prf, "
                       "r.version, r.fuel, r.time_ns, r.created, r.ok, r.source, r.signature "
                       "FROM workflows_receipts w JOIN receipts r ON r.cid = w.receipt_cid "
                       "WHERE w.workflow_cid = ?1",
    [ST_PUT_WORKFLOW_DATA] = "INSERT INTO workflow_data (cid, resources, workflow) "
                             "VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
};

sqlite3_stmt *ipvm__store_stmt(ipvm_store_t *s, store_stmt_id_t id, int *rc)
{
    if (s->stmts[id] == NULL) {
        *rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id],
                                 NULL);
        if (*rc != SQLITE_OK) {
            s->stmts[id] = NULL;
            return NULL;
        }
    }
    *rc = SQLITE_OK;
    return s->stmts[id];
}

int ipvm__store_begin(ipvm_store_t *s, bool write, ipvm_error_t *err)
{
    int rc;
    sqlite3_stmt *st = ipvm__store_stmt(s, write ? ST_BEGIN_W : ST_BEGIN_R, &rc);
    if (write)
        ipvm__store_busy_before_write(s);
    if (st)
        rc = ipvm__store_step_done(st);
    if (write) {
        ipvm__store_busy_after_write(s);
        s->wtx = rc == SQLITE_OK;
    }
    return rc == SQLITE_OK ? 0 : ipvm__store_fail(s, rc, err, "cannot start a transaction");
}

int ipvm__store_commit(ipvm_store_t *s, ipvm_error_t *err)
{
    int rc;
    sqlite3_stmt *st = ipvm__store_stmt(s, ST_COMMIT, &rc);
    if (st)
        rc = ipvm__store_step_done(st);
    if (rc != SQLITE_OK) {
        int code = ipvm__store_fail(s, rc, err, "cannot commit");
        ipvm__store_rollback(s);
        return code;
    }
    if (s->wtx) {
        s->wtx = false;
        ipvm__store_busy_end_write(s);
    }
    return 0;
}

void ipvm__store_rollback(ipvm_store_t *s)
{
    /* SQLite may already have rolled back (SQLITE_FULL, SQLITE_NOMEM do) */
    if (!sqlite3_get_autocommit(s->db)) {
        int rc;
        sqlite3_stmt *st = ipvm__store_stmt(s, ST_ROLLBACK, &rc);
        if (st == NULL || ipvm__store_step_done(st) != SQLITE_OK)
            (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    if (s->wtx) {
        s->wtx = false;
        ipvm__store_busy_end_write(s);
    }
}

int ipvm__store_bind_cid(sqlite3_stmt *st, int col, const ipvm_cid_t *cid)
{
    char text[IPVM_CID_MAX_STR];
    ipvm_cid_str(cid, text);
    return sqlite3_bind_text(st, col, text, -1, SQLITE_TRANSIENT);
}

int ipvm__store_column_cid(ipvm_store_t *s, sqlite3_stmt *st, int col, ipvm_cid_t *out,
                           ipvm_error_t *err)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    int len = sqlite3_column_bytes(st, col);
    if (text == NULL) {
        if (sqlite3_errcode(s->db) == SQLITE_NOMEM)
            return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
        return ipvm_error_set(err, IPVM_ECORRUPT, IPVM_NO_OFFSET,
                              "%s: column %s holds NULL where a CID belongs", s->path,
                              sqlite3_column_name(st, col));
    }
    ipvm_error_t e;
    ipvm_error_clear(&e);
    if (ipvm_cid_parse(out, text, (size_t)len, &e) != 0)
        return ipvm_error_set(err, IPVM_ECORRUPT, IPVM_NO_OFFSET,
                              "%s: column %s holds \"%.80s\", not a CID (%s)", s->path,
                              sqlite3_column_name(st, col), text, e.msg);
    return 0;
}

/* ---- open / close ------------------------------------------------------------------------- */
static int exec(ipvm_store_t *s, const char *sql, ipvm_error_t *err, const char *what)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : ipvm__store_fail(s, rc, err, what);
}

static bool dir_writable(const char *path)
{
    char buf[4096 + 8];
    ipvm_path_dir(path, buf, sizeof buf);
    return access(buf, W_OK) == 0;
}

/* A WAL database in a read-only directory cannot be read the normal way: SQLite wants to create
 * the -shm file. When there is no -wal file and none can be created, no writer can exist, so
 * reading the file as immutable is exact. */
static bool wal_unwritable(const char *path)
{
    char buf[4096 + 8];
    if (snprintf(buf, sizeof buf, "%s-wal", path) >= (int)sizeof buf || access(buf, F_OK) == 0)
        return false;
    return !dir_writable(path);
}

static int open_db(ipvm_store_t *s, bool immutable, ipvm_error_t *err)
{
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI |
                (s->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    char *uri = NULL;
    const char *name = s->path;
    if (immutable) {
        uri = sqlite3_mprintf("file:%s?immutable=1", s->path);
        if (uri == NULL)
            return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
        name = uri;
    } else if (s->path[0] != '/' || strchr(s->path, '?') || strchr(s->path, '#')) {
        flags &= ~SQLITE_OPEN_URI; /* a plain file name, taken literally */
    }
    int rc = sqlite3_open_v2(name, &s->db, flags, NULL);
    sqlite3_free(uri);
    if (rc != SQLITE_OK) {
        int code;
        if ((rc & 0xff) == SQLITE_CANTOPEN && !s->readonly && access(s->path, F_OK) != 0 &&
            !dir_writable(s->path))
            code = ipvm_error_set(err, IPVM_EACCES, IPVM_NO_OFFSET,
                                  "cannot create %s: its directory is missing or not "
                                  "writable%s",
                                  s->path, hint(IPVM_EACCES));
        else
            code = ipvm__store_fail(s, rc, err, "cannot open the database");
        sqlite3_close(s->db);
        s->db = NULL;
        return code;
    }
    sqlite3_extended_result_codes(s->db, 1);
    ipvm__store_busy_init(s);
    /* SQLite quietly opens a file it may not write read-only; say so now, not at the first
     * receipt. */
    if (!s->readonly && sqlite3_db_readonly(s->db, "main") == 1)
        return ipvm_error_set(err, IPVM_EROFS, IPVM_NO_OFFSET, "%s is not writable%s", s->path,
                              hint(IPVM_EROFS));
    return 0;
}

/* Reads the header: a file that is not SQLite fails here, with a clear message. */
static int probe(ipvm_store_t *s, ipvm_error_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA application_id", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            int id = sqlite3_column_int(st, 0);
            sqlite3_finalize(st);
            if (id != 0 && id != IPVM_STORE_APP_ID)
                return ipvm_error_set(err, IPVM_ECORRUPT, IPVM_NO_OFFSET,
                                      "%s is the SQLite database of another program "
                                      "(application_id 0x%08x), not ipvm's: choose another "
                                      "--data-dir",
                                      s->path, (unsigned)id);
            return 0;
        }
    }
    sqlite3_finalize(st);
    if ((rc & 0xff) == SQLITE_NOTADB)
        return ipvm_error_set(err, IPVM_ECORRUPT, IPVM_NO_OFFSET,
                              "%s is not a SQLite database (corrupt, or some other file): move "
                              "it away (receipts can be recomputed) or restore it from a backup",
                              s->path);
    return ipvm__store_fail(s, rc, err, "cannot read the database header");
}

static int configure(ipvm_store_t *s, ipvm_error_t *err)
{
    int rc;
    /* synchronous=FULL: in WAL mode every COMMIT fsyncs the WAL, so a receipt is on disk when
     * put returns (NORMAL, Homestar's setting, would lose the last commits on power loss). The
     * cost, one fsync per transaction, is why ipvm_store_put_receipts exists. */
    /* A 16 MiB page cache: a memoization lookup costs no system call once the index pages are
     * warm. No mmap: in WAL mode SQLite drops a connection's whole mapping whenever another
     * connection has committed (pagerBeginReadTransaction), so with concurrent runs every read
     * transaction paid a munmap (a TLB shootdown across threads) and page faults to remap. */
    if ((rc = exec(s,
                   "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; "
                   "PRAGMA cache_size = -16384; PRAGMA mmap_size = 0; " /* IPVM_STORE_CACHE_KIB */
                   "PRAGMA temp_store = MEMORY",
                   err, "cannot configure the database")) != 0)
        return rc;
    if (s->readonly)
        return 0;
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    const char *mode = src == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    bool wal = mode != NULL && strcmp(mode, "wal") == 0;
    sqlite3_finalize(st);
    if (src != SQLITE_ROW)
        return ipvm__store_fail(s, src, err, "cannot switch the database to WAL mode");
    if (!wal)
        return ipvm_error_set(err, IPVM_ESTORE, IPVM_NO_OFFSET,
                              "%s cannot use WAL mode (a network file system?): keep the data "
                              "directory on a local disk",
                              s->path);
    return 0;
}

int ipvm_store_open(const char *path, unsigned flags, ipvm_store_t **out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(path == NULL || out == NULL);
    *out = NULL;
    pthread_once(&sq_once, sq_setup);
    ipvm_store_t *s = ipvm_calloc(1, sizeof *s);
    if (s == NULL || (s->path = ipvm_strdup(path)) == NULL) {
        ipvm_free(s);
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    }
    s->readonly = (flags & IPVM_STORE_READONLY) != 0;
    int rc;
    if (s->readonly && access(path, F_OK) != 0) {
        rc = ipvm_error_set(err, IPVM_ENOENT, IPVM_NO_OFFSET,
                            "no database at %s yet: nothing has run with this --data-dir", path);
        goto fail;
    }
    bool immutable = s->readonly && wal_unwritable(path);
    if ((rc = open_db(s, immutable, err)) != 0 || (rc = probe(s, err)) != 0 ||
        (rc = configure(s, err)) != 0 || (rc = ipvm__store_migrate(s, err)) != 0)
        goto fail;
    *out = s;
    return 0;
fail:
    ipvm_store_close(s);
    return rc;
}

void ipvm_store_close(ipvm_store_t *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(s->stmts[i]);
    if (s->db)
        sqlite3_close(s->db);
    ipvm__store_busy_free(s);
    ipvm_free(s->path);
    ipvm_free(s);
}

int ipvm_store_schema_version(ipvm_store_t *s)
{
    return s->version;
}

void ipvm_store_set_cache_kib(ipvm_store_t *s, unsigned kib)
{
    IPVM_MISUSE_IF(s == NULL);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA cache_size = -%u", kib ? kib : IPVM_STORE_CACHE_KIB);
    (void)sqlite3_exec(s->db, sql, NULL, NULL, NULL); /* a hint: it cannot fail on a pragma */
}

int ipvm__store_set_max_pages(ipvm_store_t *s, long n)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %ld", n);
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

sqlite3 *ipvm__store_db(ipvm_store_t *s)
{
    return s->db;
}
