/* SPDX-License-Identifier: Apache-2.0 */
/* Multihash functions (identity, sha2-256, sha2-512, sha3-256 through OpenSSL libcrypto,
 * blake2b-256 through libsodium) and the multicodec name table. Each EVP_MD is fetched once
 * per process and each thread reuses one EVP_MD_CTX, so hashing a small block costs only the
 * hash itself. */
#include "multiformats_int.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

static const struct {
    uint64_t code;
    const char *name;
    size_t size;
    const char *ossl; /* OpenSSL algorithm name, NULL if not hashed through OpenSSL */
} hashes[] = {
    {IPVM_MH_IDENTITY, "identity", 0, NULL},
    {IPVM_MH_SHA2_256, "sha2-256", 32, "SHA2-256"},
    {IPVM_MH_SHA2_512, "sha2-512", 64, "SHA2-512"},
    {IPVM_MH_SHA3_256, "sha3-256", 32, "SHA3-256"},
    {IPVM_MH_BLAKE2B_256, "blake2b-256", 32, NULL},
};
#define NHASHES (sizeof hashes / sizeof hashes[0])

static EVP_MD *mds[NHASHES];
static pthread_once_t mds_once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key;
static _Thread_local EVP_MD_CTX *tls_ctx;
static bool sodium_failed;

static void free_ctx(void *p)
{
    EVP_MD_CTX_free(p);
}

static void init_mds(void)
{
    for (size_t i = 0; i < NHASHES; i++)
        if (hashes[i].ossl)
            mds[i] = EVP_MD_fetch(NULL, hashes[i].ossl, NULL); /* NULL: reported at use */
    (void)pthread_key_create(&ctx_key, free_ctx);
    if (sodium_init() < 0)
        sodium_failed = true;
}

/* The calling thread's digest context, created on first use and freed at thread exit. */
static EVP_MD_CTX *thread_ctx(void)
{
    if (IPVM_LIKELY(tls_ctx != NULL))
        return tls_ctx;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c == NULL)
        return NULL;
    if (pthread_setspecific(ctx_key, c) != 0) {
        EVP_MD_CTX_free(c);
        return NULL;
    }
    tls_ctx = c;
    return c;
}

static int find_hash(uint64_t code)
{
    for (size_t i = 0; i < NHASHES; i++)
        if (hashes[i].code == code)
            return (int)i;
    return -1;
}

int ipvm_multihash_digest(uint64_t code, const uint8_t *data, size_t len,
                          uint8_t digest[IPVM_MH_MAX_DIGEST], size_t *digest_len)
{
    int i = find_hash(code);
    if (i < 0)
        return IPVM_EMULTIHASH;
    if (code == IPVM_MH_IDENTITY) {
        if (len > IPVM_MH_MAX_DIGEST)
            return IPVM_ETOOBIG;
        if (len)
            memcpy(digest, data, len);
        *digest_len = len;
        return 0;
    }
    pthread_once(&mds_once, init_mds);
    if (code == IPVM_MH_BLAKE2B_256) {
        if (sodium_failed || crypto_generichash(digest, 32, data, len, NULL, 0) != 0)
            return IPVM_EINTERNAL;
        *digest_len = 32;
        return 0;
    }
    if (mds[i] == NULL)
        return IPVM_EUNSUPPORTED; /* this OpenSSL lacks the algorithm */
    EVP_MD_CTX *c = thread_ctx();
    if (c == NULL)
        return IPVM_ENOMEM;
    unsigned int n = 0;
    if (!EVP_DigestInit_ex2(c, mds[i], NULL) || !EVP_DigestUpdate(c, data, len) ||
        !EVP_DigestFinal_ex(c, digest, &n))
        return IPVM_EINTERNAL;
    *digest_len = n;
    return 0;
}

size_t ipvm_multihash_size(uint64_t code)
{
    int i = find_hash(code);
    return i < 0 ? 0 : hashes[i].size;
}

const char *ipvm_multihash_name(uint64_t code)
{
    int i = find_hash(code);
    return i < 0 ? NULL : hashes[i].name;
}

int64_t ipvm_multihash_from_name(const char *name)
{
    for (size_t i = 0; i < NHASHES; i++)
        if (strcmp(hashes[i].name, name) == 0)
            return (int64_t)hashes[i].code;
    return -1;
}

/* ------------------------------------------------------------------------- multicodec ---- */

static const struct {
    uint64_t code;
    const char *name;
} codecs[] = {
    {IPVM_CODEC_IDENTITY, "identity"},
    {0x51, "cbor"},
    {IPVM_CODEC_RAW, "raw"},
    {IPVM_CODEC_DAG_PB, "dag-pb"},
    {IPVM_CODEC_DAG_CBOR, "dag-cbor"},
    {IPVM_CODEC_LIBP2P_KEY, "libp2p-key"},
    {0x78, "git-raw"},
    {0x85, "dag-jose"},
    {0x86, "dag-cose"},
    {IPVM_CODEC_ED25519_PUB, "ed25519-pub"},
    {0xe7, "secp256k1-pub"},
    {0xec, "x25519-pub"},
    {IPVM_CODEC_DAG_JSON, "dag-json"},
    {0x0200, "json"},
    {0x0202, "car"},
};

const char *ipvm_multicodec_name(uint64_t code)
{
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
        if (codecs[i].code == code)
            return codecs[i].name;
    return NULL;
}

int64_t ipvm_multicodec_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
        if (strcmp(codecs[i].name, name) == 0)
            return (int64_t)codecs[i].code;
    return -1;
}
