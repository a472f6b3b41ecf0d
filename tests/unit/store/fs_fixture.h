/* SPDX-License-Identifier: Apache-2.0 */
/* File-system situations for the storage tests: a tiny tmpfs (a disk that really fills up),
 * mounted in a private mount namespace of the test process so it vanishes with it, and running
 * the rest of a test without root's power to ignore permissions. */
#ifndef IPVM_TEST_FS_FIXTURE_H
#define IPVM_TEST_FS_FIXTURE_H

#define _GNU_SOURCE
#include "test.h"

#include <errno.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* Mounts a tmpfs of `bytes` at dir (created) or skips the test when this machine does not let
 * us (no CAP_SYS_ADMIN: an unprivileged developer; CI runs as root). */
static inline void fx_small_tmpfs(const char *dir, size_t bytes)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        ipvm_test_fail(__FILE__, __LINE__, "mkdir %s: %s", dir, strerror(errno));
    if (unshare(CLONE_NEWNS) != 0)
        ipvm_test_skip("cannot make a mount namespace (%s): needs root", strerror(errno));
    if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        ipvm_test_skip("cannot make mounts private (%s)", strerror(errno));
    char opts[64];
    snprintf(opts, sizeof opts, "size=%zu,mode=0755", bytes);
    if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0)
        ipvm_test_skip("cannot mount a tmpfs (%s)", strerror(errno));
}

/* Makes `dir` read-only for this process: as root, by becoming nobody (root ignores modes);
 * otherwise by chmod. Irreversible for the process (the test's own). */
static inline void fx_readonly_dir(const char *dir)
{
    IPVM_ASSERT(chmod(ipvm_test_tmpdir(), 0755) == 0);
    IPVM_ASSERT(chmod(dir, 0555) == 0);
    if (geteuid() == 0) {
        IPVM_ASSERT(setgid(65534) == 0);
        IPVM_ASSERT(setuid(65534) == 0);
    }
    IPVM_ASSERT(access(dir, W_OK) != 0);
}

#endif
