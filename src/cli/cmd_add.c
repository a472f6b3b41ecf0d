/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm add FILE|-`: imports a file into the blockstore as `ipfs add --cid-version 1` would
 * (same CID), so a workflow can name it ipfs://CID; shows progress for big files on a tty. */
#include "cli_store.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

extern const ipvm_cmd_t ipvm_cmd_add;

typedef struct {
    const char *name;
    uint64_t last_ns, start_ns;
    bool shown;
} progress_t;

/* On stderr, at most ten times a second, once the import has taken a quarter second. */
static void on_progress(uint64_t done, uint64_t total, void *data)
{
    progress_t *p = data;
    uint64_t now = ipvm_now_ns();
    if (now - p->start_ns < 250000000ull || now - p->last_ns < 100000000ull)
        return;
    p->last_ns = now;
    p->shown = true;
    char d[32], t[32];
    double secs = (double)(now - p->start_ns) / 1e9;
    double rate = secs > 0 ? (double)done / secs / (1024 * 1024) : 0;
    if (total)
        fprintf(stderr, "\radding %s: %s of %s (%3.0f%%), %.0f MiB/s   ", p->name,
                ipvm_cli_bytes(done, d, sizeof d), ipvm_cli_bytes(total, t, sizeof t),
                100.0 * (double)done / (double)total, rate);
    else
        fprintf(stderr, "\radding %s: %s, %.0f MiB/s   ", p->name,
                ipvm_cli_bytes(done, d, sizeof d), rate);
}

static int add_one(ipvm_cli_t *cli, ipvm_blockstore_t *bs, const char *path, bool many)
{
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ipvm_cli_fail(cli, errno == ENOENT ? IPVM_ENOENT : IPVM_EACCES,
                             "cannot open %s: %s", path, strerror(errno));
    progress_t p = {is_stdin ? "stdin" : path, 0, ipvm_now_ns(), false};
    bool show = !cli->quiet && isatty(STDERR_FILENO);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_cid_t root;
    off_t size = is_stdin ? -1 : lseek(fd, 0, SEEK_END);
    if (size >= 0)
        lseek(fd, 0, SEEK_SET);
    int rc = ipvm_unixfs_add_fd(bs, fd, show ? on_progress : NULL, &p, &root, &err);
    if (!is_stdin)
        close(fd);
    if (p.shown)
        fprintf(stderr, "\r\033[K");
    if (rc != 0)
        return ipvm_cli_fail(cli, err.code, "cannot add %s: %s", path, err.msg);
    char s[IPVM_CID_MAX_STR];
    ipvm_cid_str(&root, s);
    if (cli->json) {
        printf("{\"cid\":\"%s\",\"path\":", s);
        ipvm_cli_json_str(stdout, path);
        if (size >= 0)
            printf(",\"size\":%lld", (long long)size);
        printf("}\n");
    } else if (many) {
        printf("%s  %s\n", s, path);
    } else {
        printf("%s\n", s);
    }
    return 0;
}

static int cmd_add_run(ipvm_cli_t *cli, int argc, char **argv)
{
    if (ipvm_cli_wants_help(argc, argv))
        return ipvm_cli_help(&ipvm_cmd_add);
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return ipvm_cli_usage(cli, &ipvm_cmd_add, "unknown option '%s'", argv[i]);
        nfiles++;
    }
    if (nfiles == 0)
        return ipvm_cli_usage(cli, &ipvm_cmd_add, "give a FILE to add (or - for stdin)");
    ipvm_blockstore_t *bs;
    int st = ipvm_cli_open_blocks(cli, true, &bs);
    if (st != 0)
        return st;
    for (int i = 1; i < argc && st == 0; i++)
        if (strcmp(argv[i], "--") != 0)
            st = add_one(cli, bs, argv[i], nfiles > 1);
    ipvm_blockstore_close(bs);
    return st;
}

const ipvm_cmd_t ipvm_cmd_add = {
    "add", "add a file to the blockstore; prints its CID (as ipfs add --cid-version 1)",
    "Usage: ipvm add FILE... | ipvm add -\n"
    "\n"
    "Imports each FILE (or standard input for -) into the blockstore in <data-dir>/blocks\n"
    "and prints its CID. The CID is the one `ipfs add --cid-version 1` gives the same bytes\n"
    "(256 KiB chunks, raw leaves, balanced dag-pb tree, sha2-256), so a workflow can name the\n"
    "file as ipfs://CID in a task's rsc or as a {\"/\": CID} link argument, and ipvm finds it\n"
    "without any IPFS node. Big files show progress on a terminal (hide it with -q).\n"
    "\n"
    "Output: the CID; with several files, \"CID  FILE\" per line; with --json, one object per\n"
    "file: {\"cid\": ..., \"path\": ..., \"size\": ...}.\n"
    "\n"
    "Examples:\n"
    "  ipvm add example_test.wasm\n"
    "  curl -sL https://example.com/image.png | ipvm add -\n"
    "See also: ipvm cat CID\n",
    cmd_add_run};
