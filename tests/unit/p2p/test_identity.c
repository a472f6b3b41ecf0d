/* SPDX-License-Identifier: Apache-2.0 */
/* Identity and peer ids, checked against the vectors of libp2p/specs peer-ids/peer-ids.md. */
#include "test.h"

#include "ipvm/p2p.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* peer-ids.md "Test vectors" */
static const char SPEC_ED_PRIV[] = "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9d"
                                   "a60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42"
                                   "d474fce27e";
static const char SPEC_ED_PUB[] =
    "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
static const char SPEC_SECP_PRIV[] =
    "0802122053DADF1D5A164D6B4ACDB15E24AA4C5B1D3461BDBD42ABEDB0A4404D56CED8FB";
static const char SPEC_SECP_PUB[] =
    "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99";

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void write_key(const char *dir, const uint8_t *p, size_t n, unsigned mode)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/identity.key", dir);
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    IPVM_ASSERT(fd >= 0);
    IPVM_ASSERT_EQ(write(fd, p, n), (long long)n);
    close(fd);
    IPVM_ASSERT_EQ(chmod(path, mode), 0);
}

IPVM_TEST(p2p, identity_spec_vector)
{
    uint8_t priv[128], pub[64], pb[IPVM_P2P_ED25519_PUBKEY_PB], exp[68], sig[64];
    size_t npriv = unhex(SPEC_ED_PRIV, priv), npub = unhex(SPEC_ED_PUB, pub);
    const char *dir = ipvm_test_tmpdir();
    write_key(dir, priv, npriv, 0600);
    ipvm_p2p_identity_t *id = NULL;
    ipvm_error_t err = {0};
    bool created = true;
    IPVM_ASSERT_OK_ERR(ipvm_p2p_identity_load_or_create(dir, &id, &created, &err), &err);
    IPVM_ASSERT(!created);
    ipvm_p2p_pubkey_encode(ipvm_p2p_identity_public_key(id), pb);
    IPVM_ASSERT_MEMEQ(pb, sizeof pb, pub, npub);
    ipvm_p2p_identity_export(id, exp);
    IPVM_ASSERT_MEMEQ(exp, sizeof exp, priv, npriv);
    /* the peer id inlines exactly the spec's PublicKey bytes */
    const ipvm_peer_id_t *pid = ipvm_p2p_identity_peer_id(id);
    IPVM_ASSERT_EQ(pid->len, 2 + npub);
    IPVM_ASSERT_EQ(pid->bytes[0], 0x00);
    IPVM_ASSERT_EQ(pid->bytes[1], npub);
    IPVM_ASSERT_MEMEQ(pid->bytes + 2, npub, pub, npub);
    IPVM_ASSERT(strncmp(ipvm_p2p_identity_peer_id_str(id), "12D3KooW", 8) == 0);
    /* signatures verify with the spec's public key and fail on any change */
    const uint8_t msg[] = "noise-libp2p-static-key:";
    ipvm_p2p_identity_sign(id, msg, sizeof msg - 1, sig);
    IPVM_ASSERT_OK(ipvm_p2p_ed25519_verify(pub + 4, msg, sizeof msg - 1, sig));
    sig[10] ^= 1;
    IPVM_ASSERT_ERR(ipvm_p2p_ed25519_verify(pub + 4, msg, sizeof msg - 1, sig), IPVM_ESIGNATURE);
    ipvm_p2p_identity_free(id);
}

IPVM_TEST(p2p, identity_create_and_reload)
{
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/data/nested", ipvm_test_tmpdir());
    snprintf(path, sizeof path, "%s/identity.key", dir);
    ipvm_p2p_identity_t *a = NULL, *b = NULL;
    ipvm_error_t err = {0};
    bool created = false;
    IPVM_ASSERT_OK_ERR(ipvm_p2p_identity_load_or_create(dir, &a, &created, &err), &err);
    IPVM_ASSERT(created);
    struct stat st;
    IPVM_ASSERT_EQ(stat(path, &st), 0);
    IPVM_ASSERT_EQ(st.st_mode & 0777, 0600);
    IPVM_ASSERT_EQ(st.st_size, 68);
    IPVM_ASSERT_OK_ERR(ipvm_p2p_identity_load_or_create(dir, &b, &created, &err), &err);
    IPVM_ASSERT(!created);
    IPVM_ASSERT(ipvm_p2p_peer_id_equal(ipvm_p2p_identity_peer_id(a), ipvm_p2p_identity_peer_id(b)));
    IPVM_ASSERT_STREQ(ipvm_p2p_identity_peer_id_str(a), ipvm_p2p_identity_peer_id_str(b));
    /* both text forms parse back to the same id */
    ipvm_peer_id_t p;
    const char *s = ipvm_p2p_identity_peer_id_str(a);
    IPVM_ASSERT_OK_ERR(ipvm_p2p_peer_id_parse(s, strlen(s), &p, &err), &err);
    IPVM_ASSERT(ipvm_p2p_peer_id_equal(&p, ipvm_p2p_identity_peer_id(a)));
    char cid[IPVM_P2P_PEER_ID_STR];
    IPVM_ASSERT_OK(ipvm_p2p_peer_id_format_cid(&p, IPVM_BASE32, cid, sizeof cid));
    IPVM_ASSERT(strncmp(cid, "bafzaa", 6) == 0);
    memset(&p, 0, sizeof p);
    IPVM_ASSERT_OK_ERR(ipvm_p2p_peer_id_parse(cid, strlen(cid), &p, &err), &err);
    IPVM_ASSERT(ipvm_p2p_peer_id_equal(&p, ipvm_p2p_identity_peer_id(a)));
    uint8_t pub[32];
    IPVM_ASSERT_OK(ipvm_p2p_peer_id_ed25519(&p, pub));
    IPVM_ASSERT_MEMEQ(pub, 32, ipvm_p2p_identity_public_key(a), 32);
    /* another fresh key differs */
    ipvm_p2p_identity_t *c = NULL;
    IPVM_ASSERT_OK(ipvm_p2p_identity_generate(&c));
    IPVM_ASSERT(!ipvm_p2p_peer_id_equal(ipvm_p2p_identity_peer_id(a), ipvm_p2p_identity_peer_id(c)));
    ipvm_p2p_identity_free(a);
    ipvm_p2p_identity_free(b);
    ipvm_p2p_identity_free(c);
    ipvm_p2p_identity_free(NULL);
}

static int load_err(const char *dir, ipvm_error_t *err)
{
    ipvm_p2p_identity_t *id = NULL;
    int rc = ipvm_p2p_identity_load_or_create(dir, &id, NULL, err);
    IPVM_ASSERT((rc == 0) == (id != NULL));
    ipvm_p2p_identity_free(id);
    return rc;
}

IPVM_TEST(p2p, identity_rejects)
{
    uint8_t k[160];
    size_t n = unhex(SPEC_ED_PRIV, k);
    const char *dir = ipvm_test_tmpdir();
    ipvm_error_t err = {0};
    write_key(dir, k, n, 0644);
    IPVM_ASSERT_ERR(load_err(dir, &err), IPVM_EACCES);
    IPVM_ASSERT_STRCONTAINS(err.msg, "chmod 600");
    write_key(dir, (const uint8_t *)"hello world", 11, 0600);
    IPVM_ASSERT_ERR(load_err(dir, &err), IPVM_EPROTO);
    IPVM_ASSERT_STRCONTAINS(err.msg, "not a libp2p PrivateKey");
    k[40] ^= 1; /* public half no longer matches the seed */
    write_key(dir, k, n, 0600);
    IPVM_ASSERT_ERR(load_err(dir, &err), IPVM_EPROTO);
    IPVM_ASSERT_STRCONTAINS(err.msg, "does not belong");
    k[40] ^= 1;
    write_key(dir, k, 40, 0600); /* truncated */
    IPVM_ASSERT_ERR(load_err(dir, &err), IPVM_EPROTO);
    n = unhex(SPEC_SECP_PRIV, k);
    write_key(dir, k, n, 0600);
    IPVM_ASSERT_ERR(load_err(dir, &err), IPVM_EUNSUPPORTED);
    /* legacy 96-byte form: seed || pub || pub */
    n = unhex(SPEC_ED_PRIV, k);
    k[3] = 96;
    memcpy(k + n, k + 36, 32);
    write_key(dir, k, n + 32, 0600);
    IPVM_ASSERT_OK_ERR(load_err(dir, &err), &err);
    k[n + 5] ^= 1; /* the two copies differ */
    write_key(dir, k, n + 32, 0600);
    IPVM_ASSERT_ERR(load_err(dir, &err), IPVM_EPROTO);
}

IPVM_TEST(p2p, identity_oom)
{
    const char *dir = ipvm_test_tmpdir();
    for (long i = 0;; i++) {
        ipvm_p2p_identity_t *id = NULL;
        ipvm_alloc_fail_after(i);
        int rc = ipvm_p2p_identity_load_or_create(dir, &id, NULL, NULL);
        bool failed = ipvm_alloc_failed();
        ipvm_alloc_fail_after(-1);
        if (rc == 0) {
            IPVM_ASSERT(id != NULL);
            ipvm_p2p_identity_free(id);
            if (!failed)
                break;
        } else {
            IPVM_ASSERT_ERR(rc, IPVM_ENOMEM);
            IPVM_ASSERT(id == NULL);
        }
        IPVM_ASSERT(i < 100);
    }
}

IPVM_TEST(p2p, peer_id_spec_examples)
{
    ipvm_peer_id_t a, b;
    ipvm_error_t err = {0};
    const char *qm = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";
    const char *bafz = "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe";
    const char *ed = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
    IPVM_ASSERT_OK_ERR(ipvm_p2p_peer_id_parse(qm, strlen(qm), &a, &err), &err);
    IPVM_ASSERT_OK_ERR(ipvm_p2p_peer_id_parse(bafz, strlen(bafz), &b, &err), &err);
    IPVM_ASSERT(ipvm_p2p_peer_id_equal(&a, &b));
    char s[IPVM_P2P_PEER_ID_STR];
    IPVM_ASSERT_STREQ(ipvm_p2p_peer_id_str(&a, s), qm);
    IPVM_ASSERT_OK(ipvm_p2p_peer_id_format_cid(&a, IPVM_BASE32, s, sizeof s));
    IPVM_ASSERT_STREQ(s, bafz);
    uint8_t pub[32];
    IPVM_ASSERT_ERR(ipvm_p2p_peer_id_ed25519(&a, pub), IPVM_ENOENT);
    IPVM_ASSERT_OK_ERR(ipvm_p2p_peer_id_parse(ed, strlen(ed), &a, &err), &err);
    IPVM_ASSERT_STREQ(ipvm_p2p_peer_id_str(&a, s), ed);
    IPVM_ASSERT_OK(ipvm_p2p_peer_id_ed25519(&a, pub));
    ipvm_p2p_peer_id_from_ed25519(pub, &b);
    IPVM_ASSERT(ipvm_p2p_peer_id_equal(&a, &b));
    /* an encoded key longer than 42 bytes is hashed with sha2-256 */
    uint8_t big[80] = {0x08, 0x00, 0x12, 76};
    IPVM_ASSERT_OK(ipvm_p2p_peer_id_from_pubkey(big, sizeof big, &b, &err));
    IPVM_ASSERT_EQ(b.len, 34);
    IPVM_ASSERT_EQ(b.bytes[0], 0x12);
}

IPVM_TEST(p2p, peer_id_rejects)
{
    ipvm_peer_id_t p;
    ipvm_error_t err = {0};
    const struct {
        const char *s;
        int code;
        const char *msg;
    } bad[] = {
        {"", IPVM_EMULTIHASH, "empty"},
        {"12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5S0", IPVM_EBASE, "12D3"},
        {"12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5", IPVM_EMULTIHASH, "digest"},
        /* a dag-cbor CID is not a peer id */
        {"bafyreigvc53ts6gc362hln5c7hfrq6cpbqymymm2rz332bfuzxfvt2v6ye", IPVM_ECID, "libp2p-key"},
        {"xyz", IPVM_ECID, "xyz"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipvm_error_clear(&err);
        int rc = ipvm_p2p_peer_id_parse(bad[i].s, strlen(bad[i].s), &p, &err);
        IPVM_ASSERT_MSG(rc == bad[i].code, "%s: got %s", bad[i].s, ipvm_err_name(rc));
        IPVM_ASSERT_STRCONTAINS(err.msg, bad[i].msg);
    }
    const uint8_t sha3[] = {0x16, 0x02, 1, 2};
    IPVM_ASSERT_ERR(ipvm_p2p_peer_id_from_bytes(sha3, sizeof sha3, &p, &err), IPVM_EMULTIHASH);
    const uint8_t longid[] = {0x00, 43};
    IPVM_ASSERT_ERR(ipvm_p2p_peer_id_from_bytes(longid, sizeof longid, &p, &err), IPVM_EMULTIHASH);
}

IPVM_TEST(p2p, pubkey_decode)
{
    uint8_t pb[64], pub[32];
    ipvm_error_t err = {0};
    size_t n = unhex(SPEC_ED_PUB, pb);
    IPVM_ASSERT_OK_ERR(ipvm_p2p_pubkey_decode(pb, n, pub, &err), &err);
    IPVM_ASSERT_MEMEQ(pub, 32, pb + 4, 32);
    IPVM_ASSERT_ERR(ipvm_p2p_pubkey_decode(pb, n - 1, pub, &err), IPVM_EPROTO);
    /* fields out of tag order decode in protobuf but break determinism */
    uint8_t swapped[36];
    memcpy(swapped, pb + 2, 34);
    swapped[34] = 0x08;
    swapped[35] = 0x01;
    IPVM_ASSERT_ERR(ipvm_p2p_pubkey_decode(swapped, 36, pub, &err), IPVM_EPROTO);
    IPVM_ASSERT_STRCONTAINS(err.msg, "deterministic");
    n = unhex(SPEC_SECP_PUB, pb);
    IPVM_ASSERT_ERR(ipvm_p2p_pubkey_decode(pb, n, pub, &err), IPVM_EUNSUPPORTED);
    IPVM_ASSERT_STRCONTAINS(err.msg, "secp256k1");
    ipvm_peer_id_t p;
    IPVM_ASSERT_OK(ipvm_p2p_peer_id_from_pubkey(pb, n, &p, &err));
    IPVM_ASSERT_EQ(p.bytes[0], 0x00); /* 37 bytes: still inlined */
    IPVM_ASSERT_EQ(p.len, 2 + n);
}
