/* SPDX-License-Identifier: Apache-2.0 */
/* The node's Ed25519 identity: created once, kept in <data_dir>/identity.key (mode 0600) as a
 * libp2p PrivateKey protobuf (peer-ids.md), held in libsodium's guarded memory while the
 * process runs. The trust layer builds did:key and receipt signatures on the same key. */
#include "p2p_int.h"

#include "p2p/pb/keys.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define SK_FILE_LEN 68 /* 08 01 12 40 + seed(32) + public(32) */

struct ipvm_p2p_identity_s {
    uint8_t *sk;                             /* 64 bytes (seed||pub), sodium_malloc, read-only */
    uint8_t pub[32];                         /* Ed25519 public key */
    ipvm_peer_id_t peer_id;                  /* identity multihash of the PublicKey */
    char peer_id_str[IPVM_P2P_PEER_ID_STR]; /* "12D3KooW…" */
};

static int from_seed(const uint8_t seed[32], ipvm_p2p_identity_t **out)
{
    if (sodium_init() < 0)
        return IPVM_ECRYPTO;
    ipvm_p2p_identity_t *id = ipvm_calloc(1, sizeof *id);
    if (id == NULL)
        return IPVM_ENOMEM;
    id->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (id->sk == NULL) {
        ipvm_free(id);
        return IPVM_ENOMEM;
    }
    if (crypto_sign_seed_keypair(id->pub, id->sk, seed) != 0) {
        sodium_free(id->sk);
        ipvm_free(id);
        return IPVM_ECRYPTO;
    }
    sodium_mprotect_readonly(id->sk);
    ipvm_p2p_peer_id_from_ed25519(id->pub, &id->peer_id);
    ipvm_p2p_peer_id_str(&id->peer_id, id->peer_id_str);
    *out = id;
    return 0;
}

int ipvm_p2p_identity_from_seed(const uint8_t seed[32], ipvm_p2p_identity_t **out)
{
    IPVM_MISUSE_IF(seed == NULL || out == NULL);
    return from_seed(seed, out);
}

int ipvm_p2p_identity_generate(ipvm_p2p_identity_t **out)
{
    IPVM_MISUSE_IF(out == NULL);
    if (sodium_init() < 0)
        return IPVM_ECRYPTO;
    uint8_t seed[32];
    randombytes_buf(seed, sizeof seed);
    int rc = from_seed(seed, out);
    ipvm_memzero(seed, sizeof seed);
    return rc;
}

void ipvm_p2p_identity_free(ipvm_p2p_identity_t *id)
{
    if (id == NULL)
        return;
    sodium_free(id->sk); /* wipes before unmapping */
    ipvm_memzero(id, sizeof *id);
    ipvm_free(id);
}

void ipvm_p2p_identity_sign(const ipvm_p2p_identity_t *id, const uint8_t *msg, size_t len,
                            uint8_t sig[64])
{
    IPVM_MISUSE_IF(id == NULL || sig == NULL || (msg == NULL && len > 0));
    crypto_sign_detached(sig, NULL, msg ? msg : (const uint8_t *)"", len, id->sk);
}

const uint8_t *ipvm_p2p_identity_public_key(const ipvm_p2p_identity_t *id)
{
    return id->pub;
}

const ipvm_peer_id_t *ipvm_p2p_identity_peer_id(const ipvm_p2p_identity_t *id)
{
    return &id->peer_id;
}

const char *ipvm_p2p_identity_peer_id_str(const ipvm_p2p_identity_t *id)
{
    return id->peer_id_str;
}

void ipvm_p2p_identity_export(const ipvm_p2p_identity_t *id, uint8_t out[SK_FILE_LEN])
{
    out[0] = 0x08; /* Type = Ed25519 */
    out[1] = 0x01;
    out[2] = 0x12; /* Data, 64 bytes: seed || public key */
    out[3] = 0x40;
    memcpy(out + 4, id->sk, 64);
}

/* Decodes identity.key bytes into a key; every copy of the secret is wiped. */
static int decode_file(const uint8_t *buf, size_t len, const char *path,
                       ipvm_p2p_identity_t **out, ipvm_error_t *err)
{
    P2p__Pb__Keys__PrivateKey *k =
        p2p__pb__keys__private_key__unpack(&ipvm__p2p_pb_secret_alloc, len, buf);
    if (k == NULL)
        return ipvm_error_set(err, IPVM_EPROTO, 0,
                              "%s is not a libp2p PrivateKey protobuf; move it away to create a "
                              "new identity",
                              path);
    int rc = 0;
    if (k->type != P2P__PB__KEYS__KEY_TYPE__Ed25519) {
        rc = ipvm_error_set(err, IPVM_EUNSUPPORTED, 0,
                            "%s holds a key of type %d; only Ed25519 identities are supported",
                            path, (int)k->type);
        goto done;
    }
    /* peer-ids.md: 64 bytes (seed||pub), or the legacy 96 (seed||pub||pub) */
    if (k->data.len != 64 && !(k->data.len == 96 &&
                               sodium_memcmp(k->data.data + 32, k->data.data + 64, 32) == 0)) {
        rc = ipvm_error_set(err, IPVM_EPROTO, 0, "%s: Ed25519 private key of %zu bytes", path,
                            k->data.len);
        goto done;
    }
    rc = from_seed(k->data.data, out);
    if (rc == 0 && sodium_memcmp((*out)->pub, k->data.data + 32, 32) != 0) {
        ipvm_p2p_identity_free(*out);
        *out = NULL;
        rc = ipvm_error_set(err, IPVM_EPROTO, 0,
                            "%s: the public key does not belong to the private key", path);
    }
done:
    p2p__pb__keys__private_key__free_unpacked(k, &ipvm__p2p_pb_secret_alloc);
    return rc;
}

static int load(const char *path, ipvm_p2p_identity_t **out, ipvm_error_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int e = errno;
        return ipvm_error_set(err, e == ENOENT ? IPVM_ENOENT : IPVM_EACCES, IPVM_NO_OFFSET,
                              "cannot open %s: %s", path, strerror(e));
    }
    struct stat st;
    uint8_t buf[256];
    ssize_t n = 0;
    int rc = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET, "%s is not a regular file", path);
    } else if (st.st_mode & 077) {
        rc = ipvm_error_set(err, IPVM_EACCES, IPVM_NO_OFFSET,
                            "%s is accessible by other users (mode %04o); run: chmod 600 %s", path,
                            (unsigned)(st.st_mode & 07777), path);
    } else if ((n = read(fd, buf, sizeof buf)) < 0 || (size_t)n >= sizeof buf) {
        rc = ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET, "cannot read %s: %s", path,
                            n < 0 ? strerror(errno) : "file too large for a key");
    } else {
        rc = decode_file(buf, (size_t)n, path, out, err);
    }
    ipvm_memzero(buf, sizeof buf);
    close(fd);
    return rc;
}

/* Writes the key to path with mode 0600: a temporary file, fsync, link into place (so an
 * existing file, perhaps written by a concurrent process, is never replaced), fsync the dir. */
static int save(const ipvm_p2p_identity_t *id, const char *dir, const char *path,
                ipvm_error_t *err)
{
    char tmp[4096];
    uint8_t data[SK_FILE_LEN];
    if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof tmp)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "data dir path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return ipvm_error_set(err, IPVM_EACCES, IPVM_NO_OFFSET, "cannot create %s: %s", tmp,
                              strerror(errno));
    ipvm_p2p_identity_export(id, data);
    ssize_t n = write(fd, data, sizeof data);
    ipvm_memzero(data, sizeof data);
    int rc = 0;
    if (n != (ssize_t)sizeof data || fsync(fd) != 0) {
        rc = ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET, "cannot write %s: %s", tmp,
                            strerror(errno));
    } else if (link(tmp, path) != 0) {
        rc = errno == EEXIST ? IPVM_EEXIST
                             : ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET, "cannot create %s: %s",
                                              path, strerror(errno));
    }
    close(fd);
    unlink(tmp);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return rc;
}

int ipvm_p2p_identity_load_or_create(const char *data_dir, ipvm_p2p_identity_t **out,
                                     bool *created, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(data_dir == NULL || out == NULL);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", data_dir, IPVM_P2P_IDENTITY_FILE) >=
        (int)sizeof path - 32)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "data dir path too long");
    if (created)
        *created = false;
    int rc = load(path, out, err);
    if (rc != IPVM_ENOENT)
        return rc;
    ipvm_error_clear(err);
    if ((rc = ipvm_mkdirs(data_dir, 0700, err)) != 0)
        return rc;
    ipvm_p2p_identity_t *id = NULL;
    if ((rc = ipvm_p2p_identity_generate(&id)) != 0)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot generate a key");
    rc = save(id, data_dir, path, err);
    if (rc == IPVM_EEXIST) { /* another process created it first: use theirs */
        ipvm_p2p_identity_free(id);
        return load(path, out, err);
    }
    if (rc) {
        ipvm_p2p_identity_free(id);
        return rc;
    }
    ipvm_log(IPVM_LOG_INFO, "p2p", "created identity %s in %s", id->peer_id_str, path);
    if (created)
        *created = true;
    *out = id;
    return 0;
}
