/* SPDX-License-Identifier: Apache-2.0 */
/* UCAN 0.8 - 0.10 JWTs, verified so that older clients keep working: the form @ucans/ucans
 * issues (header {alg: "EdDSA", typ: "JWT", ucv: "0.8.1"}, payload {iss, aud, exp, nbf?, nnc?,
 * att: [{with, can}], fct?, prf: [JWT...]}) and the 0.10 spec form (cap: {resource: {ability:
 * [caveats]}}, prf: [CID of a proof]). Signature: Ed25519 over "base64url(header).
 * base64url(payload)". Capability semantics of @ucans/core's equalCanDelegate: resources
 * equal, abilities equal or "*"; "prf:*" / "prf:N" redelegate what proofs grant. */
#include "trust_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JWT_MAX_DEPTH 16

static int jwt_err(ipvm_error_t *err, int code, const char *fmt, const char *a)
{
    return ipvm_error_set(err, code, IPVM_NO_OFFSET, fmt, a ? a : "");
}

/* Decodes one base64url JSON part, tok[off .. off+n), into an IPLD map. An error's offset is
 * the token character where it was found: for a fault in the decoded JSON, the first base64url
 * character of the faulty byte (decoded byte k starts at character k*4/3 of the part); the
 * message also gives the decoded byte, since that is where the JSON decoder was. */
static int json_part(const char *tok, size_t off, size_t n, const char *what, ipvm_arena_t *a,
                     ipvm_ipld_t **out, ipvm_error_t *err)
{
    ipvm_buf_t raw = IPVM_BUF_INIT;
    ipvm_error_t e2;
    ipvm_error_clear(&e2);
    size_t at = IPVM_NO_OFFSET;
    int rc = ipvm_base_decode(IPVM_BASE64URL, tok + off, n, &raw, &e2);
    if (rc != 0 && e2.offset != IPVM_NO_OFFSET)
        at = off + e2.offset;
    if (rc == 0 && (rc = ipvm_dagjson_decode((const char *)raw.data, raw.len, a, out, &e2)) &&
        e2.offset != IPVM_NO_OFFSET && rc != IPVM_ENOMEM) {
        at = off + e2.offset / 3 * 4 + e2.offset % 3;
        char m[sizeof e2.msg];
        snprintf(m, sizeof m, "%s", e2.msg);
        ipvm_error_set(&e2, rc, e2.offset, "at byte %zu of the decoded JSON: %s", e2.offset, m);
    }
    if (rc == 0 && (*out)->kind != IPVM_IPLD_MAP) {
        rc = ipvm_error_set(&e2, IPVM_EUCAN, IPVM_NO_OFFSET, "not a JSON object");
        at = off;
    }
    ipvm_buf_dispose(&raw);
    if (rc != 0 && rc != IPVM_ENOMEM)
        return ipvm_error_set(err, IPVM_EUCAN, at, "UCAN JWT %s: %s", what, e2.msg);
    return rc == IPVM_ENOMEM ? ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory") : rc;
}

static const char *str_field(const ipvm_ipld_t *m, const char *key)
{
    const ipvm_ipld_t *v = ipvm_ipld_map_get(m, key);
    return v && v->kind == IPVM_IPLD_STRING ? v->u.str.ptr : NULL;
}

/* Reads "0.8.1" into a comparable number. */
static bool parse_semver(const char *s, long *out)
{
    unsigned a, b, c;
    char tail;
    if (s == NULL || sscanf(s, "%u.%u.%u%c", &a, &b, &c, &tail) != 3 || a > 999 || b > 999 ||
        c > 999)
        return false;
    *out = (long)a * 1000000 + (long)b * 1000 + (long)c;
    return true;
}

static int add_cap(ipvm_jwt_t *t, ipvm_arena_t *a, const char *with, const char *can,
                   const ipvm_ipld_t *caveats)
{
    if (t->ncaps % 8 == 0) {
        ipvm_jwt_cap_t *n = ipvm_arena_alloc(a, (t->ncaps + 8) * sizeof *n);
        if (n == NULL)
            return IPVM_ENOMEM;
        if (t->ncaps)
            memcpy(n, t->caps, t->ncaps * sizeof *n);
        t->caps = n;
    }
    t->caps[t->ncaps].with = with;
    t->caps[t->ncaps].can = can;
    t->caps[t->ncaps].caveats = caveats;
    t->ncaps++;
    return 0;
}

/* att (0.8, 0.9): [{with, can}]; cap (0.10): {resource: {ability: [caveats]}}. */
static int read_caps(ipvm_jwt_t *t, const ipvm_ipld_t *pl, ipvm_arena_t *a, ipvm_error_t *err)
{
    const ipvm_ipld_t *att = ipvm_ipld_map_get(pl, "att"), *cap = ipvm_ipld_map_get(pl, "cap");
    int rc = 0;
    if (att && att->kind == IPVM_IPLD_LIST) {
        for (size_t i = 0; rc == 0 && i < att->u.list.len; i++) {
            const ipvm_ipld_t *c = att->u.list.items[i];
            const char *w = str_field(c, "with"), *can = str_field(c, "can");
            if (w == NULL || can == NULL)
                return jwt_err(err, IPVM_EUCAN, "UCAN JWT: att item must be {with, can} strings%s",
                               NULL);
            rc = add_cap(t, a, w, can, NULL);
        }
    } else if (cap && cap->kind == IPVM_IPLD_MAP) {
        for (size_t i = 0; rc == 0 && i < cap->u.map.len; i++) {
            const ipvm_ipld_t *abil = cap->u.map.entries[i].value;
            if (abil->kind != IPVM_IPLD_MAP)
                return jwt_err(err, IPVM_EUCAN, "UCAN JWT: cap.%s must map abilities to caveats",
                               cap->u.map.entries[i].key);
            for (size_t j = 0; rc == 0 && j < abil->u.map.len; j++)
                rc = add_cap(t, a, cap->u.map.entries[i].key, abil->u.map.entries[j].key,
                             abil->u.map.entries[j].value);
        }
    } else {
        return jwt_err(err, IPVM_EUCAN, "UCAN JWT: the payload has neither att (0.8) nor cap (0.10)%s",
                       NULL);
    }
    return rc ? ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory") : 0;
}

static int read_payload(ipvm_jwt_t *t, const ipvm_ipld_t *pl, ipvm_arena_t *a, ipvm_error_t *err)
{
    t->iss = str_field(pl, "iss");
    t->aud = str_field(pl, "aud");
    if (t->iss == NULL || strncmp(t->iss, "did:", 4) != 0)
        return jwt_err(err, IPVM_EUCAN, "UCAN JWT: iss must be a DID%s", NULL);
    if (t->aud == NULL || strncmp(t->aud, "did:", 4) != 0)
        return jwt_err(err, IPVM_EUCAN, "UCAN JWT: aud must be a DID%s", NULL);
    const ipvm_ipld_t *exp = ipvm_ipld_map_get(pl, "exp"), *nbf = ipvm_ipld_map_get(pl, "nbf");
    if (exp == NULL || (exp->kind != IPVM_IPLD_NULL &&
                        (exp->kind != IPVM_IPLD_INT || ipvm_ipld_get_i64(exp, &t->exp) != 0)))
        return jwt_err(err, IPVM_EUCAN, "UCAN JWT: exp must be an integer (or null in 0.10)%s",
                       NULL);
    t->has_exp = exp->kind == IPVM_IPLD_INT;
    if (nbf && nbf->kind != IPVM_IPLD_NULL) {
        if (nbf->kind != IPVM_IPLD_INT || ipvm_ipld_get_i64(nbf, &t->nbf) != 0)
            return jwt_err(err, IPVM_EUCAN, "UCAN JWT: nbf must be an integer%s", NULL);
        t->has_nbf = true;
    }
    const ipvm_ipld_t *prf = ipvm_ipld_map_get(pl, "prf");
    if (prf && prf->kind != IPVM_IPLD_LIST)
        return jwt_err(err, IPVM_EUCAN, "UCAN JWT: prf must be a list%s", NULL);
    t->nprf = prf ? prf->u.list.len : 0;
    t->prf = ipvm_arena_calloc(a, t->nprf ? t->nprf : 1, sizeof *t->prf);
    if (t->prf == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    for (size_t i = 0; i < t->nprf; i++) {
        if (prf->u.list.items[i]->kind != IPVM_IPLD_STRING)
            return jwt_err(err, IPVM_EUCAN, "UCAN JWT: prf items must be strings%s", NULL);
        t->prf[i] = prf->u.list.items[i]->u.str.ptr;
    }
    t->fct = ipvm_ipld_map_get(pl, "fct");
    return read_caps(t, pl, a, err);
}

int ipvm_jwt_decode(const char *s, size_t len, ipvm_arena_t *a, ipvm_jwt_t **out,
                    ipvm_error_t *err)
{
    IPVM_MISUSE_IF((s == NULL && len) || a == NULL || out == NULL);
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
        len--;
    if (len > IPVM_UCAN_MAX_BYTES)
        return jwt_err(err, IPVM_ETOOBIG, "UCAN JWT too large%s", NULL);
    const char *d1 = memchr(s, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - s)) : NULL;
    const char *d3 = d2 ? memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - s)) : NULL;
    if (d1 == NULL || d2 == NULL || d3)
        return ipvm_error_set(err, IPVM_EUCAN, d3 ? (size_t)(d3 - s) : len,
                              "not a UCAN JWT: want three base64url parts separated by '.'");
    ipvm_jwt_t *t = ipvm_arena_calloc(a, 1, sizeof *t);
    char *copy = ipvm_arena_strndup(a, s, len);
    if (t == NULL || copy == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    d1 = copy + (d1 - s);
    d2 = copy + (d2 - s);
    t->token = copy;
    t->len = len;
    t->signed_len = (size_t)(d2 - copy);
    ipvm_ipld_t *h = NULL, *pl = NULL;
    int rc = json_part(copy, 0, (size_t)(d1 - copy), "header", a, &h, err);
    if (rc == 0)
        rc = json_part(copy, (size_t)(d1 + 1 - copy), (size_t)(d2 - d1 - 1), "payload", a, &pl,
                       err);
    if (rc != 0)
        return rc;
    ipvm_buf_t sig = IPVM_BUF_INIT;
    ipvm_error_t e2;
    ipvm_error_clear(&e2);
    rc = ipvm_base_decode(IPVM_BASE64URL, d2 + 1, len - t->signed_len - 1, &sig, &e2);
    if (rc != 0) {
        ipvm_buf_dispose(&sig);
        return ipvm_error_set(err, IPVM_EUCAN,
                              t->signed_len + 1 + (e2.offset == IPVM_NO_OFFSET ? 0 : e2.offset),
                              "UCAN JWT: the signature is not base64url: %s", e2.msg);
    }
    t->sig = ipvm_arena_memdup(a, sig.data ? sig.data : (const uint8_t *)"", sig.len);
    t->sig_len = sig.len;
    ipvm_buf_dispose(&sig);
    t->alg = str_field(h, "alg");
    const char *ucv = str_field(h, "ucv");
    if (t->alg == NULL || !parse_semver(ucv, &t->version))
        return ipvm_error_set(err, IPVM_EUCAN, 0, "UCAN JWT header: want alg and ucv (\"0.8.1\"...)");
    if (t->version < 8000 || t->version >= 11000) /* 0.8.0 <= ucv < 0.11 */
        return jwt_err(err, IPVM_EUNSUPPORTED, "UCAN JWT version %s: ipvm reads 0.8 to 0.10", ucv);
    t->ucv = ucv;
    if ((rc = read_payload(t, pl, a, err)) != 0)
        return rc;
    *out = t;
    return 0;
}

int ipvm_jwt_verify_signature(const ipvm_jwt_t *t, ipvm_error_t *err)
{
    if (strcmp(t->alg, "EdDSA") != 0)
        return jwt_err(err, IPVM_EUNSUPPORTED,
                       "UCAN JWT alg %s: ipvm verifies EdDSA (Ed25519) signatures", t->alg);
    uint8_t pub[IPVM_ED25519_PUBLIC];
    int rc = ipvm_did_to_ed25519(t->iss, strlen(t->iss), pub, err);
    if (rc != 0)
        return rc;
    if (ipvm_ed25519_verify(pub, (const uint8_t *)t->token, t->signed_len, t->sig, t->sig_len) != 0)
        return jwt_err(err, IPVM_ESIGNATURE, "UCAN JWT signature is not %.80s's", t->iss);
    return 0;
}

/* ---- chains ---------------------------------------------------------------------------------- */

typedef struct {
    const ipvm_jwt_validate_opts_t *o;
    int64_t now, skew;
    ipvm_arena_t *arena;
    ipvm_error_t *err;
} jctx_t;

static bool ability_covers(const char *parent, const char *child)
{
    return strcmp(parent, "*") == 0 || strcmp(parent, child) == 0;
}

/* A caveat list that restricts nothing: absent, [] or [{}]. */
static bool no_caveats(const ipvm_ipld_t *c)
{
    if (c == NULL)
        return true;
    if (c->kind != IPVM_IPLD_LIST)
        return false;
    for (size_t i = 0; i < c->u.list.len; i++)
        if (c->u.list.items[i]->kind != IPVM_IPLD_MAP || c->u.list.items[i]->u.map.len != 0)
            return false;
    return true;
}

static int check_one(jctx_t *c, const ipvm_jwt_t *t)
{
    int rc = ipvm_jwt_verify_signature(t, c->err);
    if (rc != 0)
        return rc;
    /* @ucans/core: expired when exp <= now; too early when nbf > now (plus our skew) */
    if (t->has_exp && c->now >= t->exp + c->skew)
        return ipvm_error_set(c->err, IPVM_EEXPIRED, IPVM_NO_OFFSET, "UCAN JWT expired at %lld",
                              (long long)t->exp);
    if (t->has_nbf && c->now < t->nbf - c->skew)
        return ipvm_error_set(c->err, IPVM_ENOTYET, IPVM_NO_OFFSET,
                              "UCAN JWT not valid before %lld", (long long)t->nbf);
    return 0;
}

static int load_proof(jctx_t *c, const ipvm_jwt_t *t, size_t i, ipvm_jwt_t **out)
{
    const char *p = t->prf[i];
    if (strchr(p, '.'))
        return ipvm_jwt_decode(p, strlen(p), c->arena, out, c->err);
    /* 0.9+: a CID of the proof's bytes */
    ipvm_cid_t cid;
    if (ipvm_cid_parse(&cid, p, strlen(p), NULL) != 0)
        return jwt_err(c->err, IPVM_EUCAN, "UCAN JWT proof '%.80s' is neither a JWT nor a CID", p);
    const char *text = c->o->resolve ? c->o->resolve(c->o->resolve_data, &cid) : NULL;
    if (text == NULL)
        return jwt_err(c->err, IPVM_EUCAN,
                       "UCAN JWT proof %.80s is not available: send it with the token", p);
    return ipvm_jwt_decode(text, strlen(text), c->arena, out, c->err);
}

/* Does token t (whose issuer must be reached from root) grant with/can? */
static int proves(jctx_t *c, const ipvm_jwt_t *t, const char *with, const char *can,
                  int depth, bool *ok)
{
    *ok = false;
    if (depth > JWT_MAX_DEPTH)
        return jwt_err(c->err, IPVM_EUCAN, "UCAN JWT chain deeper than 16%s", NULL);
    int rc = check_one(c, t);
    if (rc != 0)
        return rc;
    for (size_t k = 0; k < t->ncaps && !*ok; k++) {
        const ipvm_jwt_cap_t *cap = &t->caps[k];
        bool prf_all = strcmp(cap->with, "prf:*") == 0;
        long prf_idx = -1;
        if (!prf_all && strncmp(cap->with, "prf:", 4) == 0)
            prf_idx = strtol(cap->with + 4, NULL, 10);
        bool direct = !prf_all && prf_idx < 0 && strcmp(cap->with, with) == 0 &&
                      ability_covers(cap->can, can) && no_caveats(cap->caveats);
        if (!direct && !prf_all && prf_idx < 0)
            continue;
        /* the root: its issuer owns what it grants */
        if (direct && ipvm_did_equal(t->iss, c->o->root)) {
            *ok = true;
            break;
        }
        for (size_t i = 0; i < t->nprf && !*ok; i++) {
            if (prf_idx >= 0 && (size_t)prf_idx != i)
                continue;
            ipvm_jwt_t *p = NULL;
            if ((rc = load_proof(c, t, i, &p)) != 0)
                return rc;
            if (!ipvm_did_equal(p->aud, t->iss))
                return ipvm_error_set(c->err, IPVM_EDENIED, IPVM_NO_OFFSET,
                                      "UCAN JWT proof %zu: its audience %.60s is not the issuer "
                                      "%.60s",
                                      i, p->aud, t->iss);
            if (p->version > t->version)
                return jwt_err(c->err, IPVM_EDENIED,
                               "UCAN JWT proof has a higher version (%s) than its parent", p->ucv);
            if ((rc = proves(c, p, with, can, depth + 1, ok)) != 0)
                return rc;
        }
    }
    return 0;
}

int ipvm_jwt_validate(const ipvm_jwt_t *t, const ipvm_jwt_validate_opts_t *o, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(t == NULL || o == NULL || o->with == NULL || o->can == NULL || o->root == NULL);
    ipvm_arena_t arena;
    ipvm_arena_init(&arena);
    jctx_t c = {o, o->now ? o->now : (int64_t)time(NULL), o->skew < 0 ? IPVM_UCAN_SKEW_S : o->skew,
                &arena, err};
    int rc = 0;
    bool ok = false;
    if (o->audience && !ipvm_did_equal(t->aud, o->audience))
        rc = ipvm_error_set(err, IPVM_EDENIED, IPVM_NO_OFFSET,
                            "UCAN JWT is addressed to %.60s, not to this node %.60s", t->aud,
                            o->audience);
    if (rc == 0)
        rc = proves(&c, t, o->with, o->can, 0, &ok);
    if (rc == 0 && !ok)
        rc = ipvm_error_set(err, IPVM_EDENIED, IPVM_NO_OFFSET,
                            "UCAN JWT does not prove %.100s on %.200s from %.60s", o->can, o->with,
                            o->root);
    ipvm_arena_dispose(&arena);
    return rc;
}
