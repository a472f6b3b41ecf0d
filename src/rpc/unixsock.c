/* SPDX-License-Identifier: Apache-2.0 */
/* The API on a Unix-domain socket (rpc.socket): a second lws vhost on the server's context that
 * serves the same HTTP and JSON-RPC over WebSocket as the TCP one, a socket file whose mode is
 * the access control (0600 by default: the node's user only), and the checks both ends make on
 * the path so that a stale file is replaced, a live one or a non-socket is left alone, and a
 * client that cannot connect is told why. */
#include "rpc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SOCKET_HINT "--socket PATH, rpc.socket in ipvm.conf or IPVM_RPC_SOCKET"

int ipvm__rpc_unix_probe(const char *path)
{
    struct sockaddr_un sa;
    if (strlen(path) >= sizeof sa.sun_path)
        return IPVM_ETOOBIG;
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? IPVM_ENOENT : (errno == EACCES ? IPVM_EACCES : IPVM_EIO);
    if (!S_ISSOCK(st.st_mode))
        return IPVM_EINVAL;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return IPVM_EIO;
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    close(fd);
    if (rc == 0 || e == EAGAIN) /* EAGAIN: listening, its backlog full */
        return 0;
    if (e == ECONNREFUSED)
        return IPVM_ECLOSED;
    if (e == EACCES || e == EPERM)
        return IPVM_EACCES;
    return IPVM_EIO;
}

/* Before the bind (lws unlinks the path before it binds, whatever is there): a live socket or a
 * file that is not a socket fails the start; a stale socket (nobody accepts) is removed. */
static int check_path(const char *path, ipvm_error_t *err)
{
    struct sockaddr_un sa;
    if (path[0] == '@')
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "rpc.socket '%s': abstract socket names are not supported; give a "
                              "file path (" SOCKET_HINT ")",
                              path);
    int rc = ipvm__rpc_unix_probe(path);
    switch (rc) {
    case IPVM_ENOENT:
        return 0;
    case IPVM_ECLOSED:
        ipvm_log(IPVM_LOG_INFO, "rpc", "%s: a stale socket (nobody listens on it): replaced", path);
        if (unlink(path) != 0 && errno != ENOENT)
            return ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET,
                                  "cannot listen on unix socket %s: it is stale but cannot be "
                                  "removed: %s (remove it, or pick another path with " SOCKET_HINT
                                  ")",
                                  path, strerror(errno));
        return 0;
    case 0:
        return ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET,
                              "cannot listen on unix socket %s: another process listens on it (is "
                              "another node running on it? check with 'ipvm node status "
                              "--data-dir DIR'; or pick another path with " SOCKET_HINT ")",
                              path);
    case IPVM_ETOOBIG:
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "cannot listen on unix socket %s: the path is %zu bytes, over the "
                              "%zu a socket address holds; pick a shorter path with " SOCKET_HINT,
                              path, strlen(path), sizeof sa.sun_path - 1);
    case IPVM_EINVAL:
        return ipvm_error_set(
            err, IPVM_EEXIST, IPVM_NO_OFFSET,
            "cannot listen on unix socket %s: the path exists and is not a "
            "socket (left as it is); remove it, or pick another path with " SOCKET_HINT,
            path);
    default:
        return ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET,
                              "cannot listen on unix socket %s: %s (check the directory's "
                              "permissions, or pick another path with " SOCKET_HINT ")",
                              path, rc == IPVM_EACCES ? "permission denied" : "cannot check it");
    }
}

/* Why the bind failed, once lws said only that it did: the directory. */
static int bind_error(const char *path, ipvm_error_t *err)
{
    char dir[4096];
    ipvm_path_dir(path, dir, sizeof dir);
    const char *why = "lws could not bind it";
    if (access(dir, W_OK | X_OK) != 0)
        why = errno == ENOENT ? "its directory does not exist" : strerror(errno);
    return ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET,
                          "cannot listen on unix socket %s: %s (create the directory, or pick "
                          "another path with " SOCKET_HINT ")",
                          path, why);
}

int ipvm__rpc_unix_listen(ipvm_rpc_server_t *s, const struct lws_context_creation_info *tcp,
                          ipvm_error_t *err)
{
    const char *path = s->socket_path;
    int rc = check_path(path, err);
    if (rc)
        return rc;
    struct lws_context_creation_info info = *tcp;
    info.options = LWS_SERVER_OPTION_UNIX_SOCK | LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.iface = path;
    info.port = 0;
    info.vhost_name = "unix";
    info.foreign_loops = NULL;
    info.pcontext = NULL;
    /* The socket is made with the umask's mode and chmod'ed after: no one else may connect
     * in between. umask is per process, and so brief here that only a file another thread
     * creates at this moment gets the stricter mode. */
    mode_t old = umask(0177);
    s->unix_vhost = lws_create_vhost(s->ctx, &info);
    umask(old);
    /* lws 4.1 returns the vhost also when the bind failed (a missing directory: it retries the
     * "interface" later), so the file says whether it listens */
    struct stat st;
    if (s->unix_vhost == NULL || stat(path, &st) != 0 || !S_ISSOCK(st.st_mode))
        return bind_error(path, err);
    if (chmod(path, (mode_t)s->opts.socket_mode) != 0 || stat(path, &st) != 0)
        return ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET,
                              "cannot set the mode of unix socket %s to %04o: %s", path,
                              s->opts.socket_mode, strerror(errno));
    s->unix_dev = st.st_dev;
    s->unix_ino = st.st_ino;
    s->unix_ctime = st.st_ctim; /* an inode number is reused at once on tmpfs */
    s->unix_bound = true;
    return 0;
}

void ipvm__rpc_unix_remove(ipvm_rpc_server_t *s)
{
    struct stat st;
    /* only our own file: a node started on the path after this one began closing keeps its
     * (whose inode may be ours again; its change time tells them apart) */
    if (s->unix_bound && stat(s->socket_path, &st) == 0 && st.st_dev == s->unix_dev &&
        st.st_ino == s->unix_ino && st.st_ctim.tv_sec == s->unix_ctime.tv_sec &&
        st.st_ctim.tv_nsec == s->unix_ctime.tv_nsec)
        (void)unlink(s->socket_path);
    s->unix_bound = false;
}

int ipvm__rpc_unix_connect_error(const char *url, const char *path, const char *why,
                                 ipvm_error_t *err)
{
    struct sockaddr_un sa;
    switch (ipvm__rpc_unix_probe(path)) {
    case IPVM_ENOENT:
        return ipvm_error_set(err, IPVM_ENOENT, IPVM_NO_OFFSET,
                              "cannot reach the node at %s: no such file %s; is the node running "
                              "with rpc.socket = %s? Start one with 'ipvm node start --socket "
                              "%s', or check the path with 'ipvm node status'",
                              url, path, path, path);
    case IPVM_EINVAL:
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "cannot reach the node at %s: %s is not a socket; give the path "
                              "of the node's rpc.socket (shown by 'ipvm node status')",
                              url, path);
    case IPVM_EACCES:
        return ipvm_error_set(err, IPVM_EACCES, IPVM_NO_OFFSET,
                              "cannot reach the node at %s: permission denied on %s; run as the "
                              "user the node runs as, or have it started with rpc.socket_mode "
                              "(e.g. 0660) and a group you are in",
                              url, path);
    case IPVM_ECLOSED:
        return ipvm_error_set(err, IPVM_ECLOSED, IPVM_NO_OFFSET,
                              "cannot reach the node at %s: nobody listens on %s (a node that "
                              "stopped without removing it?); start one with 'ipvm node start "
                              "--socket %s'",
                              url, path, path);
    case IPVM_ETOOBIG:
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "'%s': the socket path is %zu bytes, over the %zu a socket address "
                              "holds; use a shorter path (a symbolic link to its directory)",
                              url, strlen(path), sizeof sa.sun_path - 1);
    default:
        return ipvm_error_set(err, IPVM_ECLOSED, IPVM_NO_OFFSET,
                              "cannot reach the node at %s (%s); is it running? Start one with "
                              "'ipvm node start --socket %s'",
                              url, why, path);
    }
}
