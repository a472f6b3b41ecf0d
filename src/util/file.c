/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-file reads, atomic writes (temp file, fsync, rename, fsync the directory) and mkdir -p,
 * with errors that name the path and say what to do. */
#include "ipvm/util.h"
#include "ipvm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ipvm__errno_code(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return IPVM_ENOENT;
    case EACCES:
    case EPERM:
        return IPVM_EACCES;
    case ENOSPC:
    case EDQUOT:
        return IPVM_ENOSPC;
    case EROFS:
        return IPVM_EROFS;
    case EEXIST:
        return IPVM_EEXIST;
    case ENOMEM:
        return IPVM_ENOMEM;
    default:
        return IPVM_EIO;
    }
}

void ipvm_path_dir(const char *path, char *out, size_t size)
{
    snprintf(out, size, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash == NULL)
        snprintf(out, size, ".");
    else if (slash == out)
        out[1] = '\0';
    else
        *slash = '\0';
}

int ipvm_file_read(const char *path, ipvm_buf_t *out, ipvm_error_t *err)
{
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return ipvm_error_set(err, ipvm__errno_code(e), IPVM_NO_OFFSET, "cannot open %s: %s", path,
                              strerror(e));
    }
    int rc = 0;
    for (;;) {
        if ((rc = ipvm_buf_reserve(out, 65536)) != 0) {
            ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory reading %s", path);
            break;
        }
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            rc = ipvm_error_set(err, ipvm__errno_code(e), IPVM_NO_OFFSET, "cannot read %s: %s",
                                path, strerror(e));
            break;
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        out->data[out->len] = '\0';
    }
    if (!is_stdin)
        close(fd);
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int ipvm_file_write_atomic(const char *path, const void *data, size_t len, ipvm_error_t *err)
{
    size_t plen = strlen(path);
    char *tmp = ipvm_malloc(plen + 32);
    if (tmp == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    snprintf(tmp, plen + 32, "%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = 0;
    if (fd < 0) {
        int e = errno;
        rc = ipvm_error_set(err, ipvm__errno_code(e), IPVM_NO_OFFSET, "cannot create %s: %s", tmp,
                            strerror(e));
        goto fail;
    }
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        rc = ipvm_error_set(err, ipvm__errno_code(e), IPVM_NO_OFFSET, "cannot write %s: %s", path,
                            strerror(e));
        goto fail;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        rc = ipvm_error_set(err, ipvm__errno_code(e), IPVM_NO_OFFSET, "cannot rename %s to %s: %s",
                            tmp, path, strerror(e));
        goto fail;
    }
    /* make the rename itself durable */
    char *slash = strrchr(tmp, '/');
    if (slash) {
        *slash = '\0';
        int dfd = open(slash == tmp ? "/" : tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    } else {
        int dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
fail:
    ipvm_free(tmp);
    return rc;
}

int ipvm_mkdirs(const char *path, unsigned mode, ipvm_error_t *err)
{
    char *p = ipvm_strdup(path);
    if (p == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST) {
            int e = errno;
            rc = ipvm_error_set(err, ipvm__errno_code(e), IPVM_NO_OFFSET,
                                "cannot create directory %s: %s", p, strerror(e));
            break;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    if (rc == 0) {
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            rc = ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET, "%s exists and is not a directory",
                                path);
    }
    ipvm_free(p);
    return rc;
}
