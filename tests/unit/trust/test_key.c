/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of trust/key.c and trust/keyfile.c: Ed25519 against RFC 8032's test vectors, did:key
 * formatting and parsing, key files (mode 0600, refusal of readable files), PEM and multikey. */
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

static void unhex(const char *hex, uint8_t *out, size_t n)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_base_decode(IPVM_BASE16, hex, 2 * n, &b, NULL));
    IPVM_ASSERT_EQ(b.len, n);
    memcpy(out, b.data, n);
    ipvm_buf_dispose(&b);
}

/* RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72). */
IPVM_TEST(trust, ed25519_rfc8032)
{
    static const struct {
        const char *seed, *pub, *msg, *sig;
    } v[] = {
        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
         "1cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613"
         "d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t seed[32], pub[32], sig[64], got[64], msg[1];
        unhex(v[i].seed, seed, 32);
        unhex(v[i].pub, pub, 32);
        unhex(v[i].sig, sig, 64);
        size_t mlen = strlen(v[i].msg) / 2;
        if (mlen)
            unhex(v[i].msg, msg, mlen);
        ipvm_key_t key;
        IPVM_ASSERT_OK(ipvm_key_from_seed(&key, seed));
        IPVM_ASSERT_MEMEQ(key.pub, 32, pub, 32);
        ipvm_key_sign(&key, msg, mlen, got);
        IPVM_ASSERT_MEMEQ(got, 64, sig, 64);
        IPVM_ASSERT_OK(ipvm_ed25519_verify(pub, msg, mlen, sig, 64));
        sig[10] ^= 1;
        IPVM_ASSERT_ERR(ipvm_ed25519_verify(pub, msg, mlen, sig, 64), IPVM_ESIGNATURE);
        IPVM_ASSERT_ERR(ipvm_ed25519_verify(pub, msg, mlen, sig, 63), IPVM_ESIGNATURE);
        ipvm_key_wipe(&key);
        uint8_t zero[sizeof key] = {0};
        IPVM_ASSERT_MEMEQ(&key, sizeof key, zero, sizeof zero);
    }
}

IPVM_TEST(trust, did_key_roundtrip)
{
    for (int i = 0; i < 50; i++) {
        ipvm_key_t key;
        IPVM_ASSERT_OK(ipvm_key_generate(&key));
        IPVM_ASSERT(strncmp(key.did, "did:key:z6Mk", 12) == 0);
        IPVM_ASSERT_EQ(strlen(key.did), 56);
        uint8_t pub[32];
        IPVM_ASSERT_OK(ipvm_did_to_ed25519(key.did, strlen(key.did), pub, NULL));
        IPVM_ASSERT_MEMEQ(pub, 32, key.pub, 32);
        /* the fragment is ignored when reading and comparing */
        char withfrag[128];
        snprintf(withfrag, sizeof withfrag, "%s#%s", key.did, key.did + 8);
        IPVM_ASSERT_OK(ipvm_did_to_ed25519(withfrag, strlen(withfrag), pub, NULL));
        IPVM_ASSERT(ipvm_did_equal(withfrag, key.did));
        ipvm_key_wipe(&key);
    }
}

IPVM_TEST(trust, did_key_rejects)
{
    static const struct {
        const char *did;
        int code;
        const char *why;
    } bad[] = {
        {"", IPVM_EINVAL, "not a DID"},
        {"did:web:example.com", IPVM_EUNSUPPORTED, "not a did:key"},
        {"did:key:", IPVM_EINVAL, "not a DID"},
        {"did:key:f0ed01", IPVM_EINVAL, "base58btc"},
        {"did:key:z6Mk0OIl", IPVM_EINVAL, "base58btc"},
        /* a P-256 key from the UCAN spec's examples */
        {"did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169", IPVM_EUNSUPPORTED, "P-256"},
        /* a secp256k1 key from the delegation spec's examples */
        {"did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme", IPVM_EUNSUPPORTED,
         "secp256k1"},
        /* Ed25519 multicodec with a 31-byte key */
        {"did:key:z2DQUz8yxybcgY49o2TDENNPqPQBbVynuU6CcNCWtSMrwMx", IPVM_EINVAL, "31 bytes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t pub[32];
        ipvm_error_t err;
        ipvm_error_clear(&err);
        IPVM_ASSERT_ERR(ipvm_did_to_ed25519(bad[i].did, strlen(bad[i].did), pub, &err),
                        bad[i].code);
        IPVM_ASSERT_STRCONTAINS(err.msg, bad[i].why);
    }
    IPVM_ASSERT(!ipvm_did_equal("did:key:z6Mka", "did:key:z6Mkb"));
    IPVM_ASSERT(!ipvm_did_equal("did:key:z6Mka", NULL));
}

IPVM_TEST(trust, keyfile_lifecycle)
{
    const char *dir = ipvm_test_tmpdir();
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_key_t a, b;
    IPVM_ASSERT_OK_ERR(ipvm_keyfile_new(dir, "alice", &a, &err), &err);
    IPVM_ASSERT_ERR(ipvm_keyfile_new(dir, "alice", NULL, &err), IPVM_EEXIST);
    IPVM_ASSERT_STRCONTAINS(err.msg, "already exists");
    IPVM_ASSERT_ERR(ipvm_keyfile_new(dir, "../evil", NULL, &err), IPVM_EINVAL);
    IPVM_ASSERT_ERR(ipvm_keyfile_new(dir, ".hidden", NULL, &err), IPVM_EINVAL);
    char path[4096];
    snprintf(path, sizeof path, "%s/keys/alice.pem", dir);
    struct stat st;
    IPVM_ASSERT_EQ(stat(path, &st), 0);
    IPVM_ASSERT_EQ(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/keys", dir);
    IPVM_ASSERT_EQ(stat(path, &st), 0);
    IPVM_ASSERT_EQ(st.st_mode & 0777, 0700);
    IPVM_ASSERT_OK_ERR(ipvm_keyfile_load(dir, "alice", &b, &err), &err);
    IPVM_ASSERT_STREQ(a.did, b.did);
    IPVM_ASSERT_MEMEQ(a.secret, 64, b.secret, 64);
    IPVM_ASSERT_ERR(ipvm_keyfile_load(dir, "bob", &b, &err), IPVM_ENOENT);
    IPVM_ASSERT_STRCONTAINS(err.msg, "ipvm key new bob");
    /* a key file others can read is refused, with the fix in the message */
    snprintf(path, sizeof path, "%s/keys/alice.pem", dir);
    IPVM_ASSERT_EQ(chmod(path, 0644), 0);
    IPVM_ASSERT_ERR(ipvm_keyfile_load(dir, "alice", &b, &err), IPVM_EACCES);
    IPVM_ASSERT_STRCONTAINS(err.msg, "chmod 600");
    IPVM_ASSERT_EQ(chmod(path, 0600), 0);
    ipvm_key_wipe(&a);
    ipvm_key_wipe(&b);
}

static int collect(const char *name, const char *did, void *data)
{
    ipvm_buf_t *b = data;
    IPVM_ASSERT(strncmp(did, "did:key:z6Mk", 12) == 0);
    return ipvm_buf_printf(b, "%s,", name);
}

IPVM_TEST(trust, keyfile_list_sorted)
{
    const char *dir = ipvm_test_tmpdir();
    ipvm_buf_t names = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_keyfile_list(dir, collect, &names, NULL)); /* no keys dir: empty */
    IPVM_ASSERT_EQ(names.len, 0);
    IPVM_ASSERT_OK(ipvm_keyfile_new(dir, "zed", NULL, NULL));
    IPVM_ASSERT_OK(ipvm_keyfile_new(dir, "amy", NULL, NULL));
    IPVM_ASSERT_OK(ipvm_keyfile_new(dir, "m.2", NULL, NULL));
    IPVM_ASSERT_OK(ipvm_keyfile_list(dir, collect, &names, NULL));
    IPVM_ASSERT_STREQ((char *)names.data, "amy,m.2,zed,");
    ipvm_buf_dispose(&names);
}

IPVM_TEST(trust, key_pem_and_multikey)
{
    ipvm_key_t a, b;
    IPVM_ASSERT_OK(ipvm_key_generate(&a));
    ipvm_buf_t pem = IPVM_BUF_INIT, mk = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_key_to_pem(&a, &pem));
    IPVM_ASSERT_STRCONTAINS((char *)pem.data, "-----BEGIN PRIVATE KEY-----");
    IPVM_ASSERT_OK(ipvm_key_from_pem((char *)pem.data, pem.len, &b, NULL));
    IPVM_ASSERT_STREQ(a.did, b.did);
    IPVM_ASSERT_OK(ipvm_key_to_multikey(&a, &mk));
    IPVM_ASSERT_EQ(mk.len, 48);
    IPVM_ASSERT(mk.data[0] == 'g' && mk.data[1] == 'C' && mk.data[47] == '=');
    IPVM_ASSERT_OK(ipvm_key_from_multikey((char *)mk.data, mk.len, &b, NULL));
    IPVM_ASSERT_STREQ(a.did, b.did);
    ipvm_error_t err;
    IPVM_ASSERT_ERR(ipvm_key_from_pem("hello", 5, &b, &err), IPVM_EINVAL);
    IPVM_ASSERT_STRCONTAINS(err.msg, "PKCS#8");
    /* an RSA-sized blob in multikey form is not an Ed25519 key */
    IPVM_ASSERT_ERR(ipvm_key_from_multikey("AAAA", 4, &b, &err), IPVM_EINVAL);
    ipvm_buf_dispose(&pem);
    ipvm_buf_dispose(&mk);
    ipvm_key_wipe(&a);
    ipvm_key_wipe(&b);
}

/* The node's did:key is the key of its libp2p peer id, and both signers sign alike. */
IPVM_TEST(trust, signer_node_identity)
{
    const char *dir = ipvm_test_tmpdir();
    ipvm_p2p_identity_t *id = NULL;
    IPVM_ASSERT_OK(ipvm_p2p_identity_load_or_create(dir, &id, NULL, NULL));
    ipvm_signer_t node;
    IPVM_ASSERT_OK(ipvm_signer_from_identity(&node, id));
    uint8_t pub[32];
    IPVM_ASSERT_OK(ipvm_p2p_peer_id_ed25519(ipvm_p2p_identity_peer_id(id), pub));
    IPVM_ASSERT_MEMEQ(pub, 32, node.pub, 32);
    uint8_t didpub[32];
    IPVM_ASSERT_OK(ipvm_did_to_ed25519(node.did, strlen(node.did), didpub, NULL));
    IPVM_ASSERT_MEMEQ(didpub, 32, node.pub, 32);
    uint8_t sig[64];
    ipvm_signer_sign(&node, (const uint8_t *)"receipt", 7, sig);
    IPVM_ASSERT_OK(ipvm_ed25519_verify(node.pub, (const uint8_t *)"receipt", 7, sig, 64));
    ipvm_p2p_identity_free(id);

    uint8_t seed[32] = {7};
    ipvm_key_t key;
    IPVM_ASSERT_OK(ipvm_key_from_seed(&key, seed));
    IPVM_ASSERT_OK(ipvm_p2p_identity_from_seed(seed, &id));
    ipvm_signer_t a, b;
    ipvm_signer_from_key(&a, &key);
    IPVM_ASSERT_OK(ipvm_signer_from_identity(&b, id));
    IPVM_ASSERT_STREQ(a.did, b.did);
    uint8_t sa[64], sb[64];
    ipvm_signer_sign(&a, seed, 32, sa);
    ipvm_signer_sign(&b, seed, 32, sb);
    IPVM_ASSERT_MEMEQ(sa, 64, sb, 64); /* Ed25519 is deterministic */
    ipvm_p2p_identity_free(id);
    ipvm_key_wipe(&key);
}

/* `ipvm id` and `ipvm key` end to end, through the program. */
IPVM_TEST(trust, cli_id_and_key)
{
    const char *dir = ipvm_test_tmpdir();
    const char *ipvm = ipvm_test_bin("ipvm");
    ipvm_buf_t out = IPVM_BUF_INIT, errb = IPVM_BUF_INIT;
    const char *idcmd[] = {ipvm, "--data-dir", dir, "id", "--json", NULL};
    IPVM_ASSERT_EQ(ipvm_test_run(idcmd, NULL, NULL, 10000, &out, &errb), 0);
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "\"did\":\"did:key:z6Mk");
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "\"peer_id\":\"12D3KooW");
    ipvm_p2p_identity_t *id = NULL;
    IPVM_ASSERT_OK(ipvm_p2p_identity_load_or_create(dir, &id, NULL, NULL));
    ipvm_signer_t node;
    IPVM_ASSERT_OK(ipvm_signer_from_identity(&node, id));
    IPVM_ASSERT_STRCONTAINS((char *)out.data, node.did);
    IPVM_ASSERT_STRCONTAINS((char *)out.data, ipvm_p2p_identity_peer_id_str(id));
    ipvm_p2p_identity_free(id);
    ipvm_buf_clear(&out);
    const char *kn[] = {ipvm, "--data-dir", dir, "key", "new", "carol", NULL};
    IPVM_ASSERT_EQ(ipvm_test_run(kn, NULL, NULL, 10000, &out, &errb), 0);
    IPVM_ASSERT(strncmp((char *)out.data, "did:key:z6Mk", 12) == 0);
    char did[128];
    snprintf(did, sizeof did, "%.56s", (char *)out.data);
    ipvm_buf_clear(&out);
    const char *kl[] = {ipvm, "--data-dir", dir, "key", "list", NULL};
    IPVM_ASSERT_EQ(ipvm_test_run(kl, NULL, NULL, 10000, &out, &errb), 0);
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "carol");
    IPVM_ASSERT_STRCONTAINS((char *)out.data, did);
    ipvm_buf_clear(&out);
    const char *ke[] = {ipvm, "--data-dir", dir, "key", "export", "carol", "--format", "pem",
                        NULL};
    IPVM_ASSERT_EQ(ipvm_test_run(ke, NULL, NULL, 10000, &out, &errb), 0);
    ipvm_key_t k;
    IPVM_ASSERT_OK(ipvm_key_from_pem((char *)out.data, out.len, &k, NULL));
    IPVM_ASSERT_STREQ(k.did, did);
    ipvm_key_wipe(&k);
    ipvm_buf_clear(&errb);
    const char *bad[] = {ipvm, "--data-dir", dir, "key", "export", "nobody", NULL};
    IPVM_ASSERT_EQ(ipvm_test_run(bad, NULL, NULL, 10000, &out, &errb), 1);
    IPVM_ASSERT_STRCONTAINS((char *)errb.data, "ipvm key new nobody");
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&errb);
}
