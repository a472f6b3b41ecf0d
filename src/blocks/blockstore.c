/* SPDX-License-Identifier: Apache-2.0 */
/* The blockstore: one file per block under <data-dir>/blocks/<2 chars>/<CIDv1 base32>, written
 * to a temporary name and renamed into place (a reader never sees half a block), verified
 * against its CID on put and again on get. Files rather than SQLite: blocks are write-once
 * values of up to 256 KiB (and fetched raw blocks can be bigger), which SQLite in WAL mode would
 * write twice (WAL, then checkpoint) and hold in its page cache; a file per block costs one
 * rename, its bytes are read with one read(), and many imports can write in parallel without a
 * database lock. The shard is the next-to-last two characters, as Kubo's flatfs does, so the
 * directories fill evenly. */
#define _GNU_SOURCE
#include "blocks_int.h"
#include "ipvm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *errno_hint(int code)
{
    switch (code) {
    case IPVM_ENOSPC:
        return ": nothing of this block was kept; free some disk space and try again";
    case IPVM_EROFS:
    case IPVM_EACCES:
        return ": the data directory must be writable; fix its permissions or choose another "
               "with --data-dir DIR";
    default:
        return "";
    }
}

int ipvm_blockstore_open(const char *dir, ipvm_blockstore_t **out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(dir == NULL || out == NULL);
    *out = NULL;
    struct stat st;
    int rc;
    if (stat(dir, &st) != 0 && (rc = ipvm_mkdirs(dir, 0755, err)) != 0) {
        if (err && (rc == IPVM_EACCES || rc == IPVM_EROFS || rc == IPVM_ENOSPC))
            ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot create the blockstore %s%s", dir,
                           errno_hint(rc));
        return rc;
    }
    ipvm_blockstore_t *bs = ipvm_calloc(1, sizeof *bs);
    if (bs == NULL || (bs->dir = ipvm_strdup(dir)) == NULL) {
        ipvm_free(bs);
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    }
    bs->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (bs->dirfd < 0) {
        int e = errno;
        ipvm_blockstore_close(bs);
        return ipvm_error_set(err, ipvm__errno_code(e), IPVM_NO_OFFSET, "cannot open the blockstore %s: %s",
                              dir, strerror(e));
    }
    atomic_init(&bs->seq, 0);
    *out = bs;
    return 0;
}

void ipvm_blockstore_close(ipvm_blockstore_t *bs)
{
    if (bs == NULL)
        return;
    if (bs->dirfd > 0)
        close(bs->dirfd);
    ipvm_free(bs->dir);
    ipvm_free(bs);
}

/* <dir>/<shard>/<cid>; shard_end (may be NULL) = where the shard part ends. */
static int block_path(ipvm_blockstore_t *bs, const ipvm_cid_t *cid, char *out, size_t size,
                      size_t *shard_end)
{
    ipvm_cid_t v1;
    ipvm_cid_to_v1(cid, &v1); /* a CIDv0 names the same bytes as its CIDv1 */
    char s[IPVM_CID_MAX_STR];
    if (ipvm_cid_format(&v1, IPVM_BASE32, s, sizeof s) != 0)
        return IPVM_ECID;
    size_t n = strlen(s);
    int w = snprintf(out, size, "%s/%.2s", bs->dir, s + n - 3);
    if (w < 0 || (size_t)w >= size)
        return IPVM_ETOOBIG;
    if (shard_end)
        *shard_end = (size_t)w;
    w = snprintf(out + w, size - (size_t)w, "/%s", s);
    return w < 0 ? IPVM_ETOOBIG : 0;
}

int ipvm__block_verify(const ipvm_cid_t *cid, const uint8_t *data, size_t len, ipvm_error_t *err)
{
    uint8_t d[IPVM_MH_MAX_DIGEST];
    size_t dlen = 0;
    char c[IPVM_CID_MAX_STR];
    int rc = ipvm_multihash_digest(cid->hash, data, len, d, &dlen);
    if (rc != 0)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot hash a block for %s (hash 0x%llx)",
                              ipvm_cid_str(cid, c), (unsigned long long)cid->hash);
    if (dlen != cid->digest_len || memcmp(d, ipvm_cid_digest(cid), dlen) != 0)
        return ipvm_error_set(err, IPVM_EHASHMISMATCH, IPVM_NO_OFFSET,
                              "%zu bytes do not hash to %s: refused", len, ipvm_cid_str(cid, c));
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int write_block(ipvm_blockstore_t *bs, const ipvm_cid_t *cid, const uint8_t *data,
                       size_t len, bool sync, ipvm_error_t *err)
{
    char path[4096], tmp[4200];
    size_t shard_end;
    int rc = block_path(bs, cid, path, sizeof path, &shard_end);
    if (rc != 0)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "blockstore path too long");
    path[shard_end] = '\0';
    bool new_shard = mkdir(path, 0755) == 0;
    int e = new_shard || errno == EEXIST ? 0 : errno;
    snprintf(tmp, sizeof tmp, "%s/.tmp-%ld-%llu", path, (long)getpid(),
             (unsigned long long)atomic_fetch_add(&bs->seq, 1));
    path[shard_end] = '/';
    int fd = e ? -1 : open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && !e)
        e = errno;
    if (!e && (write_all(fd, data, len) != 0 || (sync && fsync(fd) != 0)))
        e = errno;
    if (fd >= 0 && close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        char c[IPVM_CID_MAX_STR];
        rc = ipvm__errno_code(e);
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot write block %s to %s: %s%s",
                              ipvm_cid_str(cid, c), bs->dir, strerror(e), errno_hint(rc));
    }
    if (sync) {
        /* the new name must be durable too: sync its directory, and the parent's when the
         * shard directory is new */
        path[shard_end] = '\0';
        int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        if (new_shard)
            fsync(bs->dirfd);
    }
    return 0;
}

int ipvm__blockstore_put_nosync(ipvm_blockstore_t *bs, const ipvm_cid_t *cid, const uint8_t *data,
                                size_t len, bool *created, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(bs == NULL || cid == NULL || (data == NULL && len > 0));
    *created = false;
    int rc = ipvm__block_verify(cid, data, len, err);
    if (rc != 0 || cid->hash == IPVM_MH_IDENTITY || ipvm_blockstore_has(bs, cid))
        return rc; /* identity CIDs carry their bytes: nothing to keep */
    if ((rc = write_block(bs, cid, data, len, false, err)) == 0)
        *created = true;
    return rc;
}

int ipvm_blockstore_put(ipvm_blockstore_t *bs, const ipvm_cid_t *cid, const uint8_t *data,
                        size_t len, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(bs == NULL || cid == NULL || (data == NULL && len > 0));
    int rc = ipvm__block_verify(cid, data, len, err);
    if (rc != 0 || cid->hash == IPVM_MH_IDENTITY || ipvm_blockstore_has(bs, cid))
        return rc;
    return write_block(bs, cid, data, len, true, err);
}

int ipvm__blockstore_sync(ipvm_blockstore_t *bs, ipvm_error_t *err)
{
    if (syncfs(bs->dirfd) != 0) {
        int e = errno;
        return ipvm_error_set(err, ipvm__errno_code(e), IPVM_NO_OFFSET, "cannot sync %s: %s", bs->dir,
                              strerror(e));
    }
    return 0;
}

void ipvm__blockstore_remove(ipvm_blockstore_t *bs, const ipvm_cid_t *cid)
{
    char path[4096];
    if (block_path(bs, cid, path, sizeof path, NULL) == 0)
        unlink(path);
}

bool ipvm_blockstore_has(ipvm_blockstore_t *bs, const ipvm_cid_t *cid)
{
    IPVM_MISUSE_IF(bs == NULL || cid == NULL);
    if (cid->hash == IPVM_MH_IDENTITY)
        return true;
    char path[4096];
    return block_path(bs, cid, path, sizeof path, NULL) == 0 && access(path, F_OK) == 0;
}

static int read_fd(int fd, ipvm_buf_t *out, size_t size)
{
    if (size == 0)
        return 0; /* the empty block */
    if (ipvm_buf_reserve(out, size) != 0)
        return IPVM_ENOMEM;
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, out->data + out->len + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? IPVM_EIO : ipvm__errno_code(errno);
        got += (size_t)n;
    }
    out->len += size;
    out->data[out->len] = '\0';
    return 0;
}

int ipvm_blockstore_get(ipvm_blockstore_t *bs, const ipvm_cid_t *cid, ipvm_buf_t *out,
                        ipvm_error_t *err)
{
    IPVM_MISUSE_IF(bs == NULL || cid == NULL || out == NULL);
    char c[IPVM_CID_MAX_STR];
    if (cid->hash == IPVM_MH_IDENTITY)
        return ipvm_buf_append(out, ipvm_cid_digest(cid), cid->digest_len);
    char path[4096];
    int rc = block_path(bs, cid, path, sizeof path, NULL);
    if (rc != 0)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "blockstore path too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        rc = ipvm__errno_code(e);
        if (rc == IPVM_ENOENT)
            return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "block %s is not in %s",
                                  ipvm_cid_str(cid, c), bs->dir);
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot read block %s: %s",
                              ipvm_cid_str(cid, c), strerror(e));
    }
    struct stat st;
    size_t start = out->len;
    rc = fstat(fd, &st) != 0 ? ipvm__errno_code(errno) : read_fd(fd, out, (size_t)st.st_size);
    close(fd);
    if (rc != 0) {
        out->len = start;
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot read block %s from %s",
                              ipvm_cid_str(cid, c), bs->dir);
    }
    /* A block damaged on disk (bad sectors, a torn write after a crash) is worse than none:
     * drop it, so that the next fetch or add writes it again. */
    if (ipvm__block_verify(cid, out->data + start, out->len - start, NULL) != 0) {
        out->len = start;
        ipvm_log(IPVM_LOG_WARN, "blocks", "block %s in %s was damaged and has been removed",
                 ipvm_cid_str(cid, c), bs->dir);
        unlink(path);
        return ipvm_error_set(err, IPVM_ENOENT, IPVM_NO_OFFSET,
                              "block %s in %s was damaged (removed); add or fetch it again",
                              ipvm_cid_str(cid, c), bs->dir);
    }
    return 0;
}
