/* SPDX-License-Identifier: Apache-2.0 */
/* The `ipvm run` and `ipvm workflow` programs, run as subprocesses: identifiers printed by
 * inspect against gold.json, --json lines, clear errors and nothing half written for missing,
 * truncated and invalid workflow files, a read-only data dir and a disk that fills up. */
#define _GNU_SOURCE
#include "test.h"

#include "unit/store/fs_fixture.h"
#include "workflow/workflow_int.h"

#include <fcntl.h>
#include <sys/statvfs.h>

static const char *fixture(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/tests/vectors/homestar/workflows/%s", IPVM_SOURCE_DIR,
             name);
    return path[k];
}

/* Runs `ipvm --data-dir DIR ARGS...`; returns the exit status. */
static int ipvm(const char *dir, const char *const *args, ipvm_buf_t *out, ipvm_buf_t *err)
{
    const char *argv[16];
    int n = 0;
    argv[n++] = ipvm_test_bin("ipvm");
    argv[n++] = "--data-dir";
    argv[n++] = dir;
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    ipvm_buf_clear(out);
    ipvm_buf_clear(err);
    return ipvm_test_run(argv, NULL, NULL, ipvm_test_timeout_ms(), out, err);
}

static const char *gold(ipvm_arena_t *a, const char *section, const char *key)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector("homestar/gold.json"), &b);
    ipvm_ipld_t *g = NULL;
    IPVM_ASSERT_OK(ipvm_dagjson_decode((const char *)b.data, b.len, a, &g, NULL));
    ipvm_buf_dispose(&b);
    const ipvm_ipld_t *s = ipvm_ipld_map_get(ipvm_ipld_map_get(g, section), key);
    return s ? s->u.str.ptr : NULL;
}

static const char *link_str(const ipvm_ipld_t *v, const char *path)
{
    static char buf[4][IPVM_CID_MAX_STR];
    static int k;
    const ipvm_ipld_t *l = ipvm_ipld_select(v, path);
    IPVM_ASSERT_MSG(l && l->kind == IPVM_IPLD_LINK, "%s is not a link", path);
    k = (k + 1) % 4;
    return ipvm_cid_str(l->u.link, buf[k]);
}

IPVM_TEST(sched, cli_workflow_inspect)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_buf_t out = IPVM_BUF_INIT, err = IPVM_BUF_INIT;
    const char *dir = ipvm_test_tmpdir();
    static const char *files[] = {"test-workflow-add-one.json", "test-workflow-add-one-nonced.json",
                                  "test-workflow-image-pipeline.json"};
    for (size_t f = 0; f < 3; f++) {
        const char *args[] = {"--json", "workflow", "inspect", fixture(files[f]), NULL};
        IPVM_ASSERT_EQ(ipvm(dir, args, &out, &err), 0);
        ipvm_ipld_t *v = NULL;
        IPVM_ASSERT_OK(ipvm_dagjson_decode((const char *)out.data, out.len, &a, &v, NULL));
        IPVM_ASSERT_STREQ(link_str(v, "workflow"), gold(&a, "workflow_cids", files[f]));
        for (int t = 0; t < 2; t++) {
            char key[128], path[64];
            snprintf(key, sizeof key, "%s#%d", files[f], t);
            snprintf(path, sizeof path, "tasks/%d/instruction", t);
            IPVM_ASSERT_STREQ(link_str(v, path), gold(&a, "instruction_cids", key));
        }
        if (f == 0)
            IPVM_ASSERT_STREQ(link_str(v, "tasks/0/invocation"),
                              gold(&a, "invocation_cids", "test-workflow-add-one.json#0"));
    }
    const char *text[] = {"workflow", "inspect", fixture("test-workflow-image-pipeline.json"), NULL};
    IPVM_ASSERT_EQ(ipvm(dir, text, &out, &err), 0);
    IPVM_ASSERT_STRCONTAINS((const char *)out.data,
                            "workflow bafyrmiatb7idqtty56hy3hrfa6ur6qkspyrhaf6n6ynmqsntjvym47mbrq");
    IPVM_ASSERT_STRCONTAINS((const char *)out.data, "3 tasks in 3 batches");
    IPVM_ASSERT_STRCONTAINS((const char *)out.data, "await/ok task 1");
    /* an outside await is listed, not refused */
    const char *part2[] = {"workflow", "inspect", fixture("test-workflow-add-one-part-two.json"),
                           NULL};
    IPVM_ASSERT_EQ(ipvm(dir, part2, &out, &err), 0);
    IPVM_ASSERT_STRCONTAINS((const char *)out.data, "(outside this workflow)");
    /* usage errors */
    const char *bad[] = {"workflow", "frobnicate", NULL};
    IPVM_ASSERT_EQ(ipvm(dir, bad, &out, &err), 2);
    const char *help[] = {"workflow", "--help", NULL};
    IPVM_ASSERT_EQ(ipvm(dir, help, &out, &err), 0);
    IPVM_ASSERT_STRCONTAINS((const char *)out.data, "invocation CID");
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
    ipvm_arena_dispose(&a);
}

static int count_one(const ipvm_workflow_row_t *row, void *data)
{
    (void)row;
    ++*(int64_t *)data;
    return 0;
}

/* Workflows plus receipts in the data dir's database (0 when there is none). */
static int64_t count_workflows(const char *dir)
{
    char db[4300];
    snprintf(db, sizeof db, "%s/ipvm.db", dir);
    if (access(db, F_OK) != 0)
        return 0;
    ipvm_store_t *s = NULL;
    IPVM_ASSERT_OK(ipvm_store_open(db, IPVM_STORE_READONLY, &s, NULL));
    int64_t n = 0, r = 0;
    IPVM_ASSERT_OK(ipvm_store_each_workflow(s, -1, count_one, &n, NULL));
    IPVM_ASSERT_OK(ipvm_store_count_receipts(s, NULL, &r, NULL));
    ipvm_store_close(s);
    return n + r;
}

static void write_file(const char *path, const void *p, size_t n)
{
    IPVM_ASSERT_OK(ipvm_file_write_atomic(path, p, n, NULL));
}

IPVM_TEST(sched, cli_run_bad_workflows)
{
    char dir[4200], file[4300];
    snprintf(dir, sizeof dir, "%s/data", ipvm_test_tmpdir());
    ipvm_buf_t out = IPVM_BUF_INIT, err = IPVM_BUF_INIT, fx = IPVM_BUF_INIT;
    /* missing file */
    const char *missing[] = {"run", "/nonexistent/wf.json", NULL};
    IPVM_ASSERT_EQ(ipvm(dir, missing, &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS((const char *)err.data, "/nonexistent/wf.json");
    /* truncated: the DAG-JSON error with its offset */
    ipvm_test_read_file(fixture("test-workflow-add-one.json"), &fx);
    snprintf(file, sizeof file, "%s/cut.json", ipvm_test_tmpdir());
    write_file(file, fx.data, fx.len / 2);
    const char *cut[] = {"run", file, NULL};
    IPVM_ASSERT_EQ(ipvm(dir, cut, &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS((const char *)err.data, "cut.json: the workflow is not valid DAG-JSON");
    IPVM_ASSERT_STRCONTAINS((const char *)err.data, "at byte");
    /* binary garbage */
    write_file(file, "\x00\xff\x13garbage", 10);
    IPVM_ASSERT_EQ(ipvm(dir, cut, &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS((const char *)err.data, "not valid DAG-JSON");
    /* valid JSON, invalid workflow: the task and the field */
    const char *js = "{\"tasks\":[{\"cause\":null,\"meta\":{},\"prf\":[],\"run\":{\"input\":"
                     "{\"args\":[1],\"func\":\"add_one\"},\"op\":\"wasm/jump\",\"rsc\":\"ipfs://x\"}}]}";
    write_file(file, js, strlen(js));
    IPVM_ASSERT_EQ(ipvm(dir, cut, &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS((const char *)err.data, "task 0: run.op: unknown op \"wasm/jump\"");
    /* --json errors are JSON on stdout */
    const char *cutj[] = {"--json", "run", file, NULL};
    IPVM_ASSERT_EQ(ipvm(dir, cutj, &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS((const char *)out.data, "{\"error\":{");
    /* nothing was stored by any of them */
    IPVM_ASSERT_EQ(count_workflows(dir), 0);
    /* usage */
    const char *none[] = {"run", NULL};
    IPVM_ASSERT_EQ(ipvm(dir, none, &out, &err), 2);
    const char *badopt[] = {"run", "--threads", "zero", file, NULL};
    IPVM_ASSERT_EQ(ipvm(dir, badopt, &out, &err), 2);
    const char *help[] = {"run", "--help", NULL};
    IPVM_ASSERT_EQ(ipvm(dir, help, &out, &err), 0);
    IPVM_ASSERT_STRCONTAINS((const char *)out.data, "Exit status");
    ipvm_buf_dispose(&fx);
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
}

/* --json: one DAG-JSON line per receipt whose cid is the CID of its receipt, then a summary. */
IPVM_TEST(sched, cli_run_json_lines)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/data", ipvm_test_tmpdir());
    ipvm_buf_t out = IPVM_BUF_INIT, err = IPVM_BUF_INIT;
    const char *args[] = {"--json", "run", fixture("test-workflow-add-one.json"), NULL};
    int st = ipvm(dir, args, &out, &err);
    IPVM_ASSERT(st == 0 || st == 1); /* 1 while this build has no Wasm engine or no module */
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    char *line = (char *)out.data, *nl;
    int receipts = 0, summaries = 0;
    while ((nl = strchr(line, '\n')) != NULL) {
        ipvm_ipld_t *v = NULL;
        IPVM_ASSERT_OK(ipvm_dagjson_decode(line, (size_t)(nl - line), &a, &v, NULL));
        if (ipvm_ipld_map_get(v, "receipt")) {
            ipvm_receipt_t r;
            IPVM_ASSERT_OK(ipvm_receipt_from_ipld(ipvm_ipld_map_get(v, "receipt"), &a, &r, NULL));
            char c[IPVM_CID_MAX_STR];
            IPVM_ASSERT_STREQ(link_str(v, "cid"), ipvm_cid_str(&r.cid, c));
            IPVM_ASSERT(ipvm_ipld_map_get(v, "fuel") && ipvm_ipld_map_get(v, "time_ns"));
            receipts++;
        } else {
            IPVM_ASSERT_STREQ(link_str(v, "workflow"),
                              "bafyrmialnbzgwscjrq7sa3kdnw2roqdrdzp7xh2tvmo37qmgvarwrhcgre");
            summaries++;
        }
        line = nl + 1;
    }
    IPVM_ASSERT_EQ(receipts, 2);
    IPVM_ASSERT_EQ(summaries, 1);
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
}

IPVM_TEST(sched, cli_run_readonly_data_dir)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/ro", ipvm_test_tmpdir());
    IPVM_ASSERT(mkdir(dir, 0755) == 0);
    fx_readonly_dir(dir);
    ipvm_buf_t out = IPVM_BUF_INIT, err = IPVM_BUF_INIT;
    const char *args[] = {"run", fixture("test-workflow-add-one.json"), NULL};
    IPVM_ASSERT_EQ(ipvm(dir, args, &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS((const char *)err.data, "--data-dir");
    IPVM_ASSERT_MSG(strstr((const char *)err.data, "read-only") ||
                        strstr((const char *)err.data, "ermission"),
                    "%s", (const char *)err.data);
    char db[4300];
    snprintf(db, sizeof db, "%s/ipvm.db", dir);
    IPVM_ASSERT(access(db, F_OK) != 0); /* nothing half written */
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
}

/* Rebuilds a stored receipt from its columns and checks it hashes to its CID. */
static int verify_row(const ipvm_receipt_row_t *row, void *data)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_receipt_t r;
    memset(&r, 0, sizeof r);
    r.ran = row->ran;
    r.iss = row->issuer;
    IPVM_ASSERT_OK(ipvm_dagcbor_decode(row->out, row->out_len, &a, &r.out, NULL));
    IPVM_ASSERT_OK(ipvm_dagcbor_decode(row->meta, row->meta_len, &a, &r.meta, NULL));
    IPVM_ASSERT_OK(ipvm_dagcbor_decode(row->prf, row->prf_len, &a, &r.prf, NULL));
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_receipt_encode(&r, &b, NULL));
    ipvm_cid_t c;
    IPVM_ASSERT_OK(ipvm_cid_create(&c, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256, b.data, b.len));
    IPVM_ASSERT(ipvm_cid_equal(&c, &row->cid));
    ipvm_buf_dispose(&b);
    ipvm_arena_dispose(&a);
    ++*(int64_t *)data;
    return 0;
}

/* Checks every receipt of the database (decodes, hashes to its CID, one per instruction);
 * returns how many are linked to `wf`. */
static int64_t check_receipts(const char *db, const ipvm_cid_t *wf)
{
    ipvm_store_t *s = NULL;
    IPVM_ASSERT_OK(ipvm_store_open(db, IPVM_STORE_READONLY, &s, NULL));
    int64_t n = 0, linked = 0, all = 0;
    IPVM_ASSERT_OK(ipvm_store_each_receipt(s, NULL, verify_row, &n, NULL));
    IPVM_ASSERT_OK(ipvm_store_count_receipts(s, wf, &linked, NULL));
    IPVM_ASSERT_OK(ipvm_store_count_receipts(s, NULL, &all, NULL));
    IPVM_ASSERT_EQ(n, all);
    IPVM_ASSERT_EQ(linked, all);
    ipvm_store_close(s);
    return linked;
}

IPVM_TEST(sched, cli_run_full_disk)
{
    char dir[4200], filler[4300], wfpath[4300], db[4300];
    snprintf(dir, sizeof dir, "%s/small", ipvm_test_tmpdir());
    fx_small_tmpfs(dir, 8u << 20);
    snprintf(filler, sizeof filler, "%s/filler", dir);
    snprintf(wfpath, sizeof wfpath, "%s/wf.json", ipvm_test_tmpdir());
    snprintf(db, sizeof db, "%s/ipvm.db", dir);
    ipvm__wf_gen_t g = {.chains = 40, .length = 50, .rsc = "ipfs://bafy/none", .func = "add_one",
                        .base = 1};
    ipvm_buf_t js = IPVM_BUF_INIT, out = IPVM_BUF_INIT, err = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm__wf_generate(&g, &js, NULL));
    write_file(wfpath, js.data, js.len);
    /* leave room for the workflow row but not for 2,000 receipts */
    struct statvfs sv;
    IPVM_ASSERT(statvfs(dir, &sv) == 0);
    uint64_t free_b = (uint64_t)sv.f_bavail * sv.f_frsize, keep = 3 * js.len + (256u << 10);
    IPVM_ASSERT(free_b > keep);
    int fd = open(filler, O_WRONLY | O_CREAT, 0644);
    IPVM_ASSERT(fd >= 0);
    static char zero[1 << 16];
    for (uint64_t w = 0; w + sizeof zero <= free_b - keep; w += sizeof zero)
        IPVM_ASSERT(write(fd, zero, sizeof zero) == (ssize_t)sizeof zero);
    close(fd);
    const char *args[] = {"run", wfpath, NULL};
    int first = ipvm(dir, args, &out, &err);
    IPVM_ASSERT_MSG(first == 1, "exit %d: %s", first, (const char *)err.data);
    IPVM_ASSERT_MSG(strstr((const char *)err.data, "IPVM_ENOSPC"), "%s", (const char *)err.data);
    IPVM_ASSERT_STRCONTAINS((const char *)err.data, "free some space and run again");
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf = NULL;
    IPVM_ASSERT_OK(ipvm_workflow_parse((const char *)js.data, js.len, NULL, &a, &wf, NULL));
    int64_t before = check_receipts(db, &wf->cid);
    IPVM_ASSERT(before < 2000);
    /* space comes back: the run resumes and every task gets exactly one receipt */
    IPVM_ASSERT(unlink(filler) == 0);
    int st = ipvm(dir, args, &out, &err);
    IPVM_ASSERT_MSG(st == 1 && !strstr((const char *)err.data, "ENOSPC"), "%d %s", st,
                    (const char *)err.data); /* the module is not there: error receipts */
    IPVM_ASSERT_EQ(check_receipts(db, &wf->cid), 2000);
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&js);
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
}
