/* SPDX-License-Identifier: Apache-2.0 */
/* UCAN 1.0 tokens: the envelope [signature, {h: varsig, "ucan/<dlg|inv>@1.0.0-rc.1": payload}]
 * in DAG-CBOR (ucan-wg/spec "Envelope"), delegation and invocation payloads
 * (ucan-wg/delegation, ucan-wg/invocation), strict decoding, creation and signing, signature and
 * time checks, commands. */
#include "trust_int.h"

#include <sodium.h>
#include <string.h>

#define ENV "UCAN envelope"

/* ---- commands -------------------------------------------------------------------------------- */

bool ipvm_ucan_cmd_valid(const char *cmd)
{
    if (cmd == NULL || cmd[0] != '/')
        return false;
    size_t n = strlen(cmd);
    if (n == 1)
        return true;
    if (cmd[n - 1] == '/')
        return false;
    for (size_t i = 1; i < n; i++) {
        if (cmd[i] >= 'A' && cmd[i] <= 'Z')
            return false;
        if (cmd[i] == '/' && cmd[i - 1] == '/')
            return false;
    }
    return true;
}

bool ipvm_ucan_cmd_proves(const char *parent, const char *child)
{
    if (parent == NULL || child == NULL)
        return false;
    if (strcmp(parent, "/") == 0)
        return true;
    size_t n = strlen(parent);
    return strncmp(parent, child, n) == 0 && (child[n] == '\0' || child[n] == '/');
}

/* ---- field readers --------------------------------------------------------------------------- */

static int field_err(ipvm_error_t *err, const char *kind, const char *key, const char *fmt,
                     const char *what)
{
    return ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET, "%s `%s`: %s%s", kind, key, fmt,
                          what ? what : "");
}

static bool did_syntax_ok(const char *s, size_t len)
{
    if (len < 7 || len > 2048 || memcmp(s, "did:", 4) != 0 || memchr(s, '\0', len))
        return false;
    size_t i = 4;
    while (i < len && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
        i++;
    return i > 4 && i + 1 < len && s[i] == ':';
}

/* A DID string field. nullable: null gives NULL. Missing is an error when required. */
static int get_did(const ipvm_ipld_t *m, const char *kind, const char *key, bool required,
                   bool nullable, const char **out, ipvm_error_t *err)
{
    const ipvm_ipld_t *v = ipvm_ipld_map_get(m, key);
    *out = NULL;
    if (v == NULL)
        return required ? field_err(err, kind, key, "is required", NULL) : 0;
    if (v->kind == IPVM_IPLD_NULL && nullable)
        return 0;
    if (v->kind != IPVM_IPLD_STRING)
        return field_err(err, kind, key, "must be a DID string, not ", ipvm_ipld_kind_name(v->kind));
    if (!did_syntax_ok(v->u.str.ptr, v->u.str.len))
        return ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET, "%s `%s`: '%.80s' is not a DID",
                              kind, key, v->u.str.ptr);
    *out = v->u.str.ptr;
    return 0;
}

/* A timestamp field: an integer within ±(2^53-1), or (nullable) null. */
static int get_time(const ipvm_ipld_t *m, const char *kind, const char *key, bool required,
                    bool nullable, bool *has, int64_t *out, ipvm_error_t *err)
{
    const ipvm_ipld_t *v = ipvm_ipld_map_get(m, key);
    *has = false;
    *out = 0;
    if (v == NULL)
        return required ? field_err(err, kind, key, "is required",
                                    nullable ? " (use null for no expiry)" : NULL)
                        : 0;
    if (v->kind == IPVM_IPLD_NULL && nullable)
        return 0;
    int64_t t;
    if (v->kind != IPVM_IPLD_INT || ipvm_ipld_get_i64(v, &t) != 0 || t > IPVM_UCAN_TIME_MAX ||
        t < -IPVM_UCAN_TIME_MAX)
        return field_err(err, kind, key,
                         "must be an integer number of seconds within +-(2^53-1)", NULL);
    *has = true;
    *out = t;
    return 0;
}

static int get_cmd(const ipvm_ipld_t *m, const char *kind, const char **out, ipvm_error_t *err)
{
    const ipvm_ipld_t *v = ipvm_ipld_map_get(m, "cmd");
    if (v == NULL)
        return field_err(err, kind, "cmd", "is required", NULL);
    if (v->kind != IPVM_IPLD_STRING || memchr(v->u.str.ptr, '\0', v->u.str.len))
        return field_err(err, kind, "cmd", "must be a string", NULL);
    if (!ipvm_ucan_cmd_valid(v->u.str.ptr))
        return ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET,
                              "%s `cmd`: '%.80s' is not a command (lowercase, starting with '/', "
                              "no trailing or double '/')",
                              kind, v->u.str.ptr);
    *out = v->u.str.ptr;
    return 0;
}

static int get_kind(const ipvm_ipld_t *m, const char *kind, const char *key, ipvm_ipld_kind_t k,
                    bool required, const ipvm_ipld_t **out, ipvm_error_t *err)
{
    const ipvm_ipld_t *v = ipvm_ipld_map_get(m, key);
    *out = NULL;
    if (v == NULL)
        return required ? field_err(err, kind, key, "is required", NULL) : 0;
    if (v->kind != k) {
        char want[64];
        snprintf(want, sizeof want, "must be a %s, not ", ipvm_ipld_kind_name(k));
        return field_err(err, kind, key, want, ipvm_ipld_kind_name(v->kind));
    }
    *out = v;
    return 0;
}

/* Every key of the payload must be one of `allowed` (NULL-terminated). */
static int check_keys(const ipvm_ipld_t *m, const char *kind, const char *const *allowed,
                      ipvm_error_t *err)
{
    for (size_t i = 0; i < m->u.map.len; i++) {
        const ipvm_ipld_entry_t *e = &m->u.map.entries[i];
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++)
            known = strlen(*a) == e->key_len && memcmp(*a, e->key, e->key_len) == 0;
        if (!known)
            return ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET,
                                  "%s has an unknown field `%.40s`", kind, e->key);
    }
    return 0;
}

/* ---- payloads -------------------------------------------------------------------------------- */

static int read_common(ipvm_ucan_t *u, const char *kind, ipvm_error_t *err)
{
    const ipvm_ipld_t *m = u->payload, *v;
    int rc = get_did(m, kind, "iss", true, false, &u->iss, err);
    if (rc == 0)
        rc = get_cmd(m, kind, &u->cmd, err);
    if (rc == 0)
        rc = get_kind(m, kind, "nonce", IPVM_IPLD_BYTES, true, &v, err);
    if (rc == 0) {
        u->nonce = (const uint8_t *)v->u.str.ptr;
        u->nonce_len = v->u.str.len;
        rc = get_kind(m, kind, "meta", IPVM_IPLD_MAP, false, &u->meta, err);
    }
    if (rc == 0)
        rc = get_time(m, kind, "exp", true, true, &u->has_exp, &u->exp, err);
    if (rc == 0)
        rc = get_time(m, kind, "nbf", false, false, &u->has_nbf, &u->nbf, err);
    return rc;
}

static int read_delegation(ipvm_ucan_t *u, ipvm_error_t *err)
{
    static const char *const keys[] = {"iss", "aud", "sub", "cmd", "pol", "nonce",
                                       "meta", "nbf", "exp", NULL};
    const char *kind = "delegation";
    int rc = check_keys(u->payload, kind, keys, err);
    if (rc == 0)
        rc = read_common(u, kind, err);
    if (rc == 0)
        rc = get_did(u->payload, kind, "aud", true, false, &u->aud, err);
    if (rc == 0 && ipvm_ipld_map_get(u->payload, "sub") == NULL)
        rc = field_err(err, kind, "sub", "is required (a DID, or null for a powerline)", NULL);
    if (rc == 0)
        rc = get_did(u->payload, kind, "sub", true, true, &u->sub, err);
    if (rc == 0)
        rc = get_kind(u->payload, kind, "pol", IPVM_IPLD_LIST, true, &u->pol, err);
    if (rc == 0 && (rc = ipvm_policy_check(u->pol, err)) != 0)
        ipvm_error_prefix(err, "delegation `pol`: ");
    return rc;
}

static int read_prf(ipvm_ucan_t *u, ipvm_arena_t *arena, ipvm_error_t *err)
{
    const ipvm_ipld_t *prf;
    int rc = get_kind(u->payload, "invocation", "prf", IPVM_IPLD_LIST, true, &prf, err);
    if (rc != 0)
        return rc;
    size_t n = prf->u.list.len;
    ipvm_cid_t *cids = ipvm_arena_calloc(arena, n ? n : 1, sizeof *cids);
    if (cids == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const ipvm_ipld_t *it = prf->u.list.items[i];
        if (it->kind != IPVM_IPLD_LINK)
            return ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET,
                                  "invocation `prf`: item %zu is a %s, not a link to a "
                                  "delegation",
                                  i, ipvm_ipld_kind_name(it->kind));
        cids[i] = *it->u.link;
    }
    u->prf = cids;
    u->nprf = n;
    return 0;
}

static int read_invocation(ipvm_ucan_t *u, ipvm_arena_t *arena, ipvm_error_t *err)
{
    static const char *const keys[] = {"iss", "sub", "aud",  "cmd", "args", "prf", "meta",
                                       "nonce", "exp", "iat", "nbf", "cause", NULL};
    const char *kind = "invocation";
    const ipvm_ipld_t *m = u->payload, *cause;
    int rc = check_keys(m, kind, keys, err);
    if (rc == 0)
        rc = read_common(u, kind, err);
    if (rc == 0)
        rc = get_did(m, kind, "sub", true, false, &u->sub, err);
    if (rc == 0)
        rc = get_did(m, kind, "aud", false, false, &u->aud, err);
    if (rc == 0)
        rc = get_kind(m, kind, "args", IPVM_IPLD_MAP, true, &u->args, err);
    if (rc == 0)
        rc = read_prf(u, arena, err);
    if (rc == 0)
        rc = get_time(m, kind, "iat", false, false, &u->has_iat, &u->iat, err);
    if (rc == 0)
        rc = get_kind(m, kind, "cause", IPVM_IPLD_LINK, false, &cause, err);
    if (rc == 0 && cause) {
        u->has_cause = true;
        u->cause = *cause->u.link;
    }
    return rc;
}

/* ---- envelope -------------------------------------------------------------------------------- */

/* Bytes of a canonical CBOR head for a length n. */
static size_t cbor_head_len(uint64_t n)
{
    return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000ull ? 5 : 9;
}

/* Finds the payload tag in the SigPayload and tells the kind. */
static int read_sigpayload(ipvm_ucan_t *u, const ipvm_ipld_t *sp, ipvm_error_t *err)
{
    if (sp->kind != IPVM_IPLD_MAP || sp->u.map.len != 2)
        return ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET,
                              ENV ": element 1 must be a map of exactly `h` and the payload tag");
    const ipvm_ipld_t *h = ipvm_ipld_map_get(sp, "h");
    if (h == NULL || h->kind != IPVM_IPLD_BYTES)
        return ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET,
                              ENV ": `h` (the varsig header) must be bytes");
    u->header = (const uint8_t *)h->u.str.ptr;
    u->header_len = h->u.str.len;
    const ipvm_ipld_entry_t *e = &sp->u.map.entries[0];
    if (e->key_len == 1 && e->key[0] == 'h')
        e = &sp->u.map.entries[1];
    static const struct {
        const char *tag;
        ipvm_ucan_kind_t kind;
    } tags[] = {{IPVM_UCAN_DLG_TAG, IPVM_UCAN_DELEGATION},
                {"ucan/dlg@1.0.0", IPVM_UCAN_DELEGATION},
                {IPVM_UCAN_INV_TAG, IPVM_UCAN_INVOCATION},
                {"ucan/inv@1.0.0", IPVM_UCAN_INVOCATION}};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        if (strlen(tags[i].tag) == e->key_len && memcmp(tags[i].tag, e->key, e->key_len) == 0) {
            u->kind = tags[i].kind;
            u->tag = e->key;
            u->payload = e->value;
        }
    if (u->payload == NULL)
        return ipvm_error_set(err, IPVM_EUNSUPPORTED, IPVM_NO_OFFSET,
                              ENV ": unknown payload tag '%.60s' (want " IPVM_UCAN_DLG_TAG
                                  " or " IPVM_UCAN_INV_TAG ")",
                              e->key);
    if (u->payload->kind != IPVM_IPLD_MAP)
        return ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET, ENV ": the payload must be a map");
    return 0;
}

int ipvm_ucan_decode(const uint8_t *buf, size_t len, ipvm_arena_t *arena, ipvm_ucan_t **out,
                     ipvm_error_t *err)
{
    IPVM_MISUSE_IF((buf == NULL && len) || arena == NULL || out == NULL);
    if (len > IPVM_UCAN_MAX_BYTES)
        return ipvm_error_set(err, IPVM_ETOOBIG, IPVM_NO_OFFSET,
                              ENV ": %zu bytes, more than the %u accepted", len,
                              IPVM_UCAN_MAX_BYTES);
    ipvm_ucan_t *u = ipvm_arena_calloc(arena, 1, sizeof *u);
    uint8_t *copy = ipvm_arena_alloc(arena, len ? len : 1); /* never 0 bytes: NULL is OOM */
    if (copy && len)
        memcpy(copy, buf, len); /* (an empty buf has no byte to copy: it may end a page) */
    if (u == NULL || copy == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    ipvm_ipld_t *v = NULL;
    int rc = ipvm_dagcbor_decode(copy, len, arena, &v, err);
    if (rc != 0) {
        if (rc != IPVM_ENOMEM)
            ipvm_error_prefix(err, ENV " is not strict DAG-CBOR: ");
        return rc == IPVM_ENOMEM || rc == IPVM_ETOODEEP ? rc : IPVM_EUCAN;
    }
    if (v->kind != IPVM_IPLD_LIST || v->u.list.len != 2)
        return ipvm_error_set(err, IPVM_EUCAN, 0,
                              ENV " must be a list [signature, signature payload]");
    const ipvm_ipld_t *sig = v->u.list.items[0];
    if (sig->kind != IPVM_IPLD_BYTES)
        return ipvm_error_set(err, IPVM_EUCAN, 1, ENV ": element 0 (the signature) must be bytes");
    u->bytes = copy;
    u->len = len;
    u->sig = (const uint8_t *)sig->u.str.ptr;
    u->sig_len = sig->u.str.len;
    /* strict DAG-CBOR is canonical, so the SigPayload's bytes follow the signature's */
    size_t off = 1 + cbor_head_len(u->sig_len) + u->sig_len;
    if (!IPVM_ALWAYS(off < len))
        return IPVM_EINTERNAL;
    u->signed_bytes = copy + off;
    u->signed_len = len - off;
    if ((rc = read_sigpayload(u, v->u.list.items[1], err)) != 0)
        return rc;
    rc = u->kind == IPVM_UCAN_DELEGATION ? read_delegation(u, err)
                                         : read_invocation(u, arena, err);
    if (rc != 0)
        return rc;
    if ((rc = ipvm_cid_create(&u->cid, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA2_256, copy, len)) != 0)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot hash the envelope");
    *out = u;
    return 0;
}

/* ---- verification ---------------------------------------------------------------------------- */

/* Names the algorithm a varsig header describes, for messages. */
static const char *varsig_name(const uint8_t *h, size_t n)
{
    if (n < 3 || h[0] != 0x34)
        return "not a varsig header (no 0x34 prefix)";
    if (h[1] != 0x01)
        return "a varsig header of an unknown version";
    uint64_t alg = 0;
    size_t used = 0;
    if (ipvm_varint_decode(h + 2, n - 2, &alg, &used, NULL) != 0)
        return "a malformed varsig header";
    switch (alg) {
    case 0xed:
        return "EdDSA with another curve, hash or payload encoding";
    case 0xec:
        return "ECDSA (ES256 / ES256K / ES384 / ES512)";
    case 0x1205:
        return "RSA (RS256)";
    default:
        return "an unknown signature algorithm";
    }
}

int ipvm_ucan_verify_signature(const ipvm_ucan_t *u, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(u == NULL);
    if (u->header_len != IPVM_VARSIG_ED25519_DAGCBOR_LEN ||
        memcmp(u->header, IPVM_VARSIG_ED25519_DAGCBOR, IPVM_VARSIG_ED25519_DAGCBOR_LEN) != 0)
        return ipvm_error_set(err, IPVM_EUNSUPPORTED, IPVM_NO_OFFSET,
                              "signature header is %s; ipvm verifies Ed25519 over DAG-CBOR "
                              "(varsig 34 01 ed01 ed01 13 71)",
                              varsig_name(u->header, u->header_len));
    uint8_t pub[IPVM_ED25519_PUBLIC];
    int rc = ipvm_did_to_ed25519(u->iss, strlen(u->iss), pub, err);
    if (rc != 0) {
        ipvm_error_prefix(err, "issuer: ");
        return rc;
    }
    if (u->sig_len != IPVM_ED25519_SIG)
        return ipvm_error_set(err, IPVM_ESIGNATURE, IPVM_NO_OFFSET,
                              "the signature has %zu bytes; an Ed25519 signature has 64",
                              u->sig_len);
    if (ipvm_ed25519_verify(pub, u->signed_bytes, u->signed_len, u->sig, u->sig_len) != 0)
        return ipvm_error_set(err, IPVM_ESIGNATURE, IPVM_NO_OFFSET,
                              "the signature is not %.60s's signature of this payload", u->iss);
    return 0;
}

int ipvm_ucan_check_time(const ipvm_ucan_t *u, int64_t now, int64_t skew, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(u == NULL || skew < 0);
    if (u->has_exp && now > u->exp + skew)
        return ipvm_error_set(err, IPVM_EEXPIRED, IPVM_NO_OFFSET,
                              "expired at %lld (%lld s ago, beyond the %lld s clock skew allowed)",
                              (long long)u->exp, (long long)(now - u->exp), (long long)skew);
    if (u->has_nbf && now < u->nbf - skew)
        return ipvm_error_set(err, IPVM_ENOTYET, IPVM_NO_OFFSET,
                              "not valid before %lld (in %lld s)", (long long)u->nbf,
                              (long long)(u->nbf - now));
    return 0;
}

/* ---- creation -------------------------------------------------------------------------------- */

static int set(ipvm_arena_t *a, ipvm_ipld_t *m, const char *key, ipvm_ipld_t *v)
{
    return v == NULL ? IPVM_ENOMEM : ipvm_ipld_map_set_cstr(a, m, key, v);
}

static int set_time(ipvm_arena_t *a, ipvm_ipld_t *m, const char *key, bool has, int64_t t,
                    bool null_if_absent)
{
    if (!has)
        return null_if_absent ? set(a, m, key, ipvm_ipld_new_null(a)) : 0;
    return set(a, m, key, ipvm_ipld_new_int(a, t));
}

static int build_payload(const ipvm_ucan_params_t *p, const char *iss, ipvm_arena_t *a,
                         ipvm_ipld_t **out)
{
    bool dlg = p->kind == IPVM_UCAN_DELEGATION;
    ipvm_ipld_t *m = ipvm_ipld_new_map(a, 12);
    if (m == NULL)
        return IPVM_ENOMEM;
    uint8_t nonce[12];
    const uint8_t *np = p->nonce;
    size_t nlen = p->nonce_len;
    if (np == NULL) {
        randombytes_buf(nonce, sizeof nonce);
        np = nonce;
        nlen = sizeof nonce;
    }
    int rc = set(a, m, "iss", ipvm_ipld_new_cstring(a, iss));
    if (rc == 0 && (p->aud || dlg))
        rc = set(a, m, "aud", p->aud ? ipvm_ipld_new_cstring(a, p->aud) : ipvm_ipld_new_null(a));
    if (rc == 0)
        rc = set(a, m, "sub", p->sub ? ipvm_ipld_new_cstring(a, p->sub) : ipvm_ipld_new_null(a));
    if (rc == 0)
        rc = set(a, m, "cmd", ipvm_ipld_new_cstring(a, p->cmd ? p->cmd : ""));
    if (rc == 0)
        rc = set(a, m, "nonce", ipvm_ipld_new_bytes(a, np, nlen));
    if (rc == 0 && p->meta)
        rc = set(a, m, "meta", ipvm_ipld_clone(a, p->meta));
    if (rc == 0)
        rc = set_time(a, m, "exp", p->has_exp, p->exp, true);
    if (rc == 0)
        rc = set_time(a, m, "nbf", p->has_nbf, p->nbf, false);
    if (rc == 0 && dlg)
        rc = set(a, m, "pol", p->pol ? ipvm_ipld_clone(a, p->pol) : ipvm_ipld_new_list(a, 0));
    if (rc == 0 && !dlg)
        rc = set(a, m, "args", p->args ? ipvm_ipld_clone(a, p->args) : ipvm_ipld_new_map(a, 0));
    if (rc == 0 && !dlg)
        rc = set_time(a, m, "iat", p->has_iat, p->iat, false);
    if (rc == 0 && !dlg && p->cause)
        rc = set(a, m, "cause", ipvm_ipld_new_link(a, p->cause));
    ipvm_ipld_t *prf = dlg ? NULL : ipvm_ipld_new_list(a, p->nprf);
    for (size_t i = 0; rc == 0 && !dlg && i < p->nprf; i++)
        rc = prf ? ipvm_ipld_list_push(a, prf, ipvm_ipld_new_link(a, &p->prf[i])) : IPVM_ENOMEM;
    if (rc == 0 && !dlg)
        rc = set(a, m, "prf", prf);
    *out = m;
    return rc;
}

int ipvm_ucan_create(const ipvm_ucan_params_t *p, const ipvm_signer_t *signer,
                     ipvm_arena_t *arena, ipvm_ucan_t **out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(p == NULL || signer == NULL || arena == NULL || out == NULL);
    IPVM_MISUSE_IF(p->kind != IPVM_UCAN_DELEGATION && p->kind != IPVM_UCAN_INVOCATION);
    if (sodium_init() < 0)
        return ipvm_error_set(err, IPVM_ECRYPTO, IPVM_NO_OFFSET, "libsodium failed to start");
    ipvm_ipld_t *payload = NULL, *sp = ipvm_ipld_new_map(arena, 2);
    int rc = sp ? build_payload(p, signer->did, arena, &payload) : IPVM_ENOMEM;
    if (rc == 0)
        rc = set(arena, sp, "h",
                 ipvm_ipld_new_bytes(arena, (const uint8_t *)IPVM_VARSIG_ED25519_DAGCBOR,
                                     IPVM_VARSIG_ED25519_DAGCBOR_LEN));
    if (rc == 0)
        rc = set(arena, sp,
                 p->kind == IPVM_UCAN_DELEGATION ? IPVM_UCAN_DLG_TAG : IPVM_UCAN_INV_TAG, payload);
    if (rc != 0)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory building a UCAN");
    ipvm_buf_t b = IPVM_BUF_INIT;
    uint8_t sig[IPVM_ED25519_SIG];
    static const uint8_t head[3] = {0x82, 0x58, 0x40}; /* [ bytes(64) */
    if ((rc = ipvm_buf_append(&b, head, sizeof head)) != 0 ||
        (rc = ipvm_buf_append(&b, sig, sizeof sig)) != 0 ||
        (rc = ipvm_dagcbor_encode(sp, &b, err)) != 0)
        goto done;
    ipvm_signer_sign(signer, b.data + 67, b.len - 67, sig);
    memcpy(b.data + 3, sig, sizeof sig);
    /* decode what we made: the same strict checks as for tokens from outside */
    rc = ipvm_ucan_decode(b.data, b.len, arena, out, err);
done:
    if (rc == IPVM_ENOMEM)
        ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory encoding a UCAN");
    ipvm_buf_dispose(&b);
    return rc;
}

int ipvm_ucan_payload_json(const ipvm_ucan_t *u, unsigned flags, ipvm_buf_t *out,
                           ipvm_error_t *err)
{
    return ipvm_dagjson_encode(u->payload, flags, out, err);
}

/* ---- token files ----------------------------------------------------------------------------- */

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* One whitespace-free word: a JWT (two dots) or base64 of an envelope, either alphabet. */
static int read_word(const char *w, size_t n, ipvm_arena_t *arena,
                     int (*fn)(void *, bool, const uint8_t *, size_t), void *data,
                     ipvm_error_t *err)
{
    size_t wn = n; /* the word is not NUL-terminated: print at most its own bytes */
    const char *d1 = memchr(w, '.', n);
    if (d1 && memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - w)))
        return fn(data, true, (const uint8_t *)w, n);
    while (n && w[n - 1] == '=')
        n--;
    bool url = memchr(w, '-', n) || memchr(w, '_', n);
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_error_t e2;
    ipvm_error_clear(&e2);
    int rc = ipvm_base_decode(url ? IPVM_BASE64URL : IPVM_BASE64, w, n, &b, &e2);
    if (rc != 0) {
        ipvm_buf_dispose(&b);
        return ipvm_error_set(err, rc == IPVM_ENOMEM ? rc : IPVM_EUCAN, IPVM_NO_OFFSET,
                              "'%.*s%s' is neither a base64 UCAN envelope nor a JWT: %s",
                              (int)(wn < 24 ? wn : 24), w, wn > 24 ? "…" : "", e2.msg);
    }
    uint8_t *copy = ipvm_arena_memdup(arena, b.data ? b.data : (const uint8_t *)"", b.len);
    size_t len = b.len;
    ipvm_buf_dispose(&b);
    if (copy == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    return fn(data, false, copy, len);
}

int ipvm_ucan_read_tokens(const uint8_t *buf, size_t len, ipvm_arena_t *arena,
                          int (*fn)(void *data, bool is_jwt, const uint8_t *bytes, size_t n),
                          void *data, ipvm_error_t *err)
{
    IPVM_MISUSE_IF((buf == NULL && len) || arena == NULL || fn == NULL);
    if (len && buf[0] == 0x82) /* a raw DAG-CBOR envelope: a 2-element list */
        return fn(data, false, buf, len);
    size_t i = 0, found = 0;
    int rc = 0;
    while (rc == 0 && i < len) {
        while (i < len && is_space(buf[i]))
            i++;
        size_t start = i;
        while (i < len && !is_space(buf[i]))
            i++;
        if (i > start) {
            found++;
            rc = read_word((const char *)buf + start, i - start, arena, fn, data, err);
        }
    }
    if (rc == 0 && found == 0)
        rc = ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET, "no UCAN token in the input");
    return rc;
}
