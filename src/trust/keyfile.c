/* SPDX-License-Identifier: Apache-2.0 */
/* Key files: user keys under <data-dir>/keys/<name>.pem as PKCS#8 Ed25519 PEM (RFC 8410, read
 * and written by OpenSSL), mode 0600 in a 0700 directory, written atomically; the multikey text
 * form. */
#define _GNU_SOURCE
#include "trust_int.h"
#include "ipvm_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool ipvm_keyfile_name_ok(const char *name)
{
    if (name == NULL || name[0] == '\0' || name[0] == '.')
        return false;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return n <= 64;
}

int ipvm_key_to_pem(const ipvm_key_t *key, ipvm_buf_t *out)
{
    IPVM_MISUSE_IF(key == NULL || out == NULL);
    int rc = IPVM_ECRYPTO;
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, key->secret,
                                                IPVM_ED25519_SEED);
    BIO *bio = BIO_new(BIO_s_secmem());
    if (pk == NULL || bio == NULL)
        goto done;
    if (PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) != 1)
        goto done;
    char *p = NULL;
    long n = BIO_get_mem_data(bio, &p);
    if (n <= 0)
        goto done;
    rc = ipvm_buf_append(out, p, (size_t)n);
done:
    BIO_free(bio); /* secure memory BIOs are cleansed when freed */
    EVP_PKEY_free(pk);
    return rc;
}

int ipvm_key_from_pem(const char *pem, size_t len, ipvm_key_t *key, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(pem == NULL || key == NULL);
    if (len > 1 << 16)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "key file is too large");
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    EVP_PKEY *pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
    BIO_free(bio);
    if (pk == NULL)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "not a PEM private key (want -----BEGIN PRIVATE KEY----- with an "
                              "unencrypted PKCS#8 Ed25519 key)");
    int rc;
    if (EVP_PKEY_id(pk) != EVP_PKEY_ED25519) {
        rc = ipvm_error_set(err, IPVM_EUNSUPPORTED, IPVM_NO_OFFSET,
                            "the PEM key is not Ed25519 (OpenSSL type %d); ipvm keys are Ed25519",
                            EVP_PKEY_id(pk));
        goto done;
    }
    uint8_t seed[IPVM_ED25519_SEED];
    size_t slen = sizeof seed;
    if (EVP_PKEY_get_raw_private_key(pk, seed, &slen) != 1 || slen != sizeof seed) {
        rc = ipvm_error_set(err, IPVM_ECRYPTO, IPVM_NO_OFFSET, "cannot read the Ed25519 seed");
        goto done;
    }
    rc = ipvm_key_from_seed(key, seed);
    ipvm_memzero(seed, sizeof seed);
    if (rc != 0)
        ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot derive the key pair");
done:
    EVP_PKEY_free(pk);
    return rc;
}

int ipvm_key_to_multikey(const ipvm_key_t *key, ipvm_buf_t *out)
{
    uint8_t raw[2 + IPVM_ED25519_SEED] = {0x80, 0x26}; /* varint(0x1300): ed25519-priv */
    memcpy(raw + 2, key->secret, IPVM_ED25519_SEED);
    ipvm_buf_t b64 = IPVM_BUF_INIT;
    int rc = ipvm_base_encode(IPVM_BASE64, raw, sizeof raw, &b64);
    ipvm_memzero(raw, sizeof raw);
    if (rc == 0) {
        /* base64pad: the 34 bytes need two '=' */
        rc = ipvm_buf_append(out, b64.data, b64.len);
        for (size_t i = b64.len; rc == 0 && i % 4; i++)
            rc = ipvm_buf_append_byte(out, '=');
    }
    if (b64.data)
        ipvm_memzero(b64.data, b64.cap);
    ipvm_buf_dispose(&b64);
    return rc;
}

int ipvm_key_from_multikey(const char *text, size_t len, ipvm_key_t *key, ipvm_error_t *err)
{
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    while (len && text[len - 1] == '=')
        len--;
    ipvm_buf_t raw = IPVM_BUF_INIT;
    int rc = ipvm_base_decode(IPVM_BASE64, text, len, &raw, err);
    if (rc != 0)
        goto done;
    if (raw.len != 34 || raw.data[0] != 0x80 || raw.data[1] != 0x26) {
        rc = ipvm_error_set(err, IPVM_EINVAL, 0,
                            "not an Ed25519 multikey (want base64 of varint 0x1300 and a 32-byte "
                            "seed)");
        goto done;
    }
    rc = ipvm_key_from_seed(key, raw.data + 2);
done:
    if (raw.data)
        ipvm_memzero(raw.data, raw.cap);
    ipvm_buf_dispose(&raw);
    return rc;
}

/* ---- secret files ---------------------------------------------------------------------------- */

int ipvm__trust_write_secret(const char *path, const void *data, size_t len, ipvm_error_t *err)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof tmp)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        return ipvm_error_set(err, ipvm__errno_code(e), IPVM_NO_OFFSET, "cannot create %s: %s", tmp,
                              strerror(e));
    }
    const uint8_t *p = data;
    size_t left = len;
    int rc = 0;
    while (left && rc == 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = -1;
        else
            p += n, left -= (size_t)n;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -1;
    int e = errno;
    close(fd);
    /* link() instead of rename(): never replaces an existing key */
    if (rc == 0 && link(tmp, path) != 0) {
        e = errno;
        rc = -1;
    }
    unlink(tmp);
    if (rc != 0)
        return ipvm_error_set(err, ipvm__errno_code(e), IPVM_NO_OFFSET, "cannot write %s: %s", path,
                              strerror(e));
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        int dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    return 0;
}

int ipvm__trust_read_secret(const char *path, ipvm_buf_t *out, ipvm_error_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int e = errno;
        return ipvm_error_set(err, ipvm__errno_code(e), IPVM_NO_OFFSET, "cannot open %s: %s", path,
                              strerror(e));
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET, "%s is not a regular file", path);
    } else if (st.st_mode & 077) {
        rc = ipvm_error_set(err, IPVM_EACCES, IPVM_NO_OFFSET,
                            "%s can be read by others (mode %03o); run: chmod 600 %s", path,
                            (unsigned)(st.st_mode & 0777), path);
    } else if (st.st_size > 65536) {
        rc = ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "%s is too large for a key", path);
    } else if ((rc = ipvm_buf_reserve(out, (size_t)st.st_size + 1)) != 0) {
        ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory");
    } else {
        ssize_t n = read(fd, out->data, (size_t)st.st_size);
        if (n < 0) {
            int e = errno;
            rc = ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET, "cannot read %s: %s", path,
                                strerror(e));
        } else {
            out->len = (size_t)n;
            out->data[n] = '\0';
        }
    }
    close(fd);
    return rc;
}

static void wipe_buf(ipvm_buf_t *b)
{
    if (b->data)
        ipvm_memzero(b->data, b->cap);
    ipvm_buf_dispose(b);
}

/* ---- user keys ------------------------------------------------------------------------------- */

static int key_path(const char *data_dir, const char *name, bool allow_path, char *out,
                    size_t size, ipvm_error_t *err)
{
    if (allow_path && strchr(name, '/')) {
        snprintf(out, size, "%s", name);
        return 0;
    }
    if (!ipvm_keyfile_name_ok(name))
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "bad key name '%s': use 1-64 of A-Z a-z 0-9 . _ - (not starting "
                              "with '.')",
                              name);
    if (snprintf(out, size, "%s/keys/%s.pem", data_dir, name) >= (int)size)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "data directory path too long");
    return 0;
}

/* Writes key as PEM to path, exclusively. */
static int save_at(const char *path, const ipvm_key_t *key, ipvm_error_t *err)
{
    ipvm_buf_t pem = IPVM_BUF_INIT;
    int rc = ipvm_key_to_pem(key, &pem);
    if (rc != 0)
        ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot encode the key");
    else
        rc = ipvm__trust_write_secret(path, pem.data, pem.len, err);
    wipe_buf(&pem);
    return rc;
}

int ipvm_keyfile_save(const char *data_dir, const char *name, const ipvm_key_t *key,
                      ipvm_error_t *err)
{
    IPVM_MISUSE_IF(data_dir == NULL || name == NULL || key == NULL);
    char path[4096], dir[4096];
    int rc = key_path(data_dir, name, false, path, sizeof path, err);
    if (rc != 0)
        return rc;
    snprintf(dir, sizeof dir, "%s/keys", data_dir);
    if ((rc = ipvm_mkdirs(dir, 0700, err)) != 0)
        return rc;
    rc = save_at(path, key, err);
    if (rc == IPVM_EEXIST)
        ipvm_error_set(err, rc, IPVM_NO_OFFSET,
                       "a key named '%s' already exists (%s); pick another name", name, path);
    return rc;
}

int ipvm_keyfile_new(const char *data_dir, const char *name, ipvm_key_t *out, ipvm_error_t *err)
{
    ipvm_key_t key;
    int rc = ipvm_key_generate(&key);
    if (rc != 0)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot generate a key");
    rc = ipvm_keyfile_save(data_dir, name, &key, err);
    if (rc == 0 && out)
        *out = key;
    ipvm_key_wipe(&key);
    return rc;
}

int ipvm_keyfile_load(const char *data_dir, const char *name, ipvm_key_t *key, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(data_dir == NULL || name == NULL || key == NULL);
    char path[4096];
    int rc = key_path(data_dir, name, true, path, sizeof path, err);
    if (rc != 0)
        return rc;
    ipvm_buf_t pem = IPVM_BUF_INIT;
    rc = ipvm__trust_read_secret(path, &pem, err);
    if (rc == IPVM_ENOENT && !strchr(name, '/'))
        ipvm_error_set(err, rc, IPVM_NO_OFFSET,
                       "no key named '%s' (create it with 'ipvm key new %s'; see 'ipvm key "
                       "list')",
                       name, name);
    if (rc == 0) {
        rc = ipvm_key_from_pem((const char *)pem.data, pem.len, key, err);
        if (rc != 0)
            ipvm_error_prefix(err, "%s: ", path);
    }
    wipe_buf(&pem);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ipvm_keyfile_list(const char *data_dir, int (*fn)(const char *, const char *, void *),
                      void *data, ipvm_error_t *err)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/keys", data_dir);
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0
                               : ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET, "cannot list %s: %s",
                                                dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".pem") != 0 || de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = ipvm_realloc(names, cap * sizeof *nn);
            if (nn == NULL) {
                rc = IPVM_ENOMEM;
                break;
            }
            names = nn;
        }
        if ((names[n] = ipvm_strndup(de->d_name, len - 4)) == NULL) {
            rc = IPVM_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0 && n > 1)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        ipvm_key_t key;
        ipvm_error_t e2;
        ipvm_error_clear(&e2);
        if (ipvm_keyfile_load(data_dir, names[i], &key, &e2) != 0) {
            ipvm_log(IPVM_LOG_WARN, "trust", "skipping key %s: %s", names[i], e2.msg);
            continue;
        }
        rc = fn(names[i], key.did, data);
        ipvm_key_wipe(&key);
    }
    for (size_t i = 0; i < n; i++)
        ipvm_free(names[i]);
    ipvm_free(names);
    if (rc == IPVM_ENOMEM)
        ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory");
    return rc;
}
