/* SPDX-License-Identifier: Apache-2.0 */
/* Outside conformance for UnixFS import: files of many sizes (empty, one byte, every chunk
 * boundary +-1, the one-level limit of 174 chunks +-1, two-level trees, a few odd MB) get the
 * same CID from ipvm as from the reference JS importer (ipfs-unixfs-importer, pinned in
 * tests/interop/unixfs/package.json) configured like `ipfs add --cid-version 1`. */
#include "test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static void write_random(const char *path, size_t n, uint64_t seed)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    IPVM_ASSERT(fd >= 0);
    static uint8_t buf[1 << 20];
    uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 0x1234567;
    size_t left = n;
    while (left) {
        size_t k = left < sizeof buf ? left : sizeof buf;
        for (size_t i = 0; i < k; i += 8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            memcpy(buf + i, &x, k - i < 8 ? k - i : 8);
        }
        IPVM_ASSERT_EQ(write(fd, buf, k), (ssize_t)k);
        left -= k;
    }
    close(fd);
}

IPVM_TEST(blocks, unixfs_interop_js)
{
    const size_t C = IPVM_UNIXFS_CHUNK, L = IPVM_UNIXFS_LINKS;
    const size_t sizes[] = {0,         1,         1000,       C - 1,     C,
                            C + 1,     2 * C - 1, 2 * C,      2 * C + 1, 3 * 1024 * 1024 + 17,
                            L * C - 1, L * C,     L * C + 1,  (L + 3) * C + 77};
    enum { N = sizeof sizes / sizeof sizes[0] };
    char script[4200];
    snprintf(script, sizeof script, "%s/tests/interop/unixfs/import.mjs", IPVM_SOURCE_DIR);
    char mods[4200];
    snprintf(mods, sizeof mods, "%s/tests/interop/unixfs/node_modules/ipfs-unixfs-importer",
             IPVM_SOURCE_DIR);
    IPVM_ASSERT_MSG(access(mods, F_OK) == 0,
                    "the JS reference importer is not installed: run 'make interop-deps'");
    static char paths[N][4200];
    const char *argv[N + 4];
    argv[0] = "/usr/bin/env";
    argv[1] = "node";
    argv[2] = script;
    char bdir[4200];
    snprintf(bdir, sizeof bdir, "%s/blocks", ipvm_test_tmpdir());
    ipvm_blockstore_t *bs = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_blockstore_open(bdir, &bs, &err), &err);
    static char ours[N][IPVM_CID_MAX_STR];
    for (size_t i = 0; i < N; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/file-%zu", ipvm_test_tmpdir(), sizes[i]);
        write_random(paths[i], sizes[i], i + 1);
        argv[3 + i] = paths[i];
        ipvm_cid_t root;
        IPVM_ASSERT_OK_ERR(ipvm_unixfs_add_path(bs, paths[i], &root, &err), &err);
        ipvm_cid_str(&root, ours[i]);
    }
    argv[3 + N] = NULL;
    ipvm_buf_t out = IPVM_BUF_INIT, errout = IPVM_BUF_INIT;
    int st = ipvm_test_run(argv, NULL, NULL, 120000, &out, &errout);
    IPVM_ASSERT_MSG(st == 0, "node exited %d: %.600s", st,
                    errout.data ? (const char *)errout.data : "");
    const char *line = (const char *)out.data;
    for (size_t i = 0; i < N; i++) {
        IPVM_ASSERT_MSG(line && *line, "the JS importer printed %zu CIDs, want %d", i, N);
        size_t n = strcspn(line, "\n");
        IPVM_ASSERT_MSG(strlen(ours[i]) == n && memcmp(line, ours[i], n) == 0,
                        "size %zu: ipvm %s, JS %.*s", sizes[i], ours[i], (int)n, line);
        line += n + (line[n] == '\n');
    }
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&errout);
    ipvm_blockstore_close(bs);
}
