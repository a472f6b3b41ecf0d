/* SPDX-License-Identifier: Apache-2.0 */
/* UCAN 1.0 chain validation (ucan-wg/invocation "Proof Chains", ucan-wg/delegation "Token
 * Validation", "Principal Alignment", "Powerline") and the token and revocation store
 * (ucan-wg/revocation "Store"). */
#define _GNU_SOURCE
#include "trust_int.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct {
    ipvm_cid_t cid;
    char revoker[IPVM_DID_MAX + 2048]; /* any DID; did:key fits the first 64 */
} revocation_t;

struct ipvm_ucan_store_s {
    pthread_mutex_t mu;
    ipvm_arena_t arena;       /* the tokens, never freed before the store */
    const ipvm_ucan_t **tab;  /* open addressing by CID digest */
    size_t cap, count;
    revocation_t *revs;
    size_t nrevs, revcap;
    char *dir;                /* NULL: memory only */
};

/* ---- the table ------------------------------------------------------------------------------- */

static size_t slot_of(const ipvm_cid_t *cid, size_t cap)
{
    const uint8_t *d = ipvm_cid_digest(cid);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < cid->digest_len && i < 16; i++)
        h = (h ^ d[i]) * 1099511628211ull;
    return (size_t)h & (cap - 1);
}

static const ipvm_ucan_t *find(const ipvm_ucan_store_t *s, const ipvm_cid_t *cid)
{
    if (s->cap == 0)
        return NULL;
    for (size_t i = slot_of(cid, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (s->tab[i] == NULL)
            return NULL;
        if (ipvm_cid_equal(&s->tab[i]->cid, cid))
            return s->tab[i];
    }
}

static int insert(ipvm_ucan_store_t *s, const ipvm_ucan_t *u)
{
    if ((s->count + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        const ipvm_ucan_t **nt = ipvm_calloc(ncap, sizeof *nt);
        if (nt == NULL)
            return IPVM_ENOMEM;
        for (size_t i = 0; i < s->cap; i++)
            if (s->tab[i]) {
                size_t j = slot_of(&s->tab[i]->cid, ncap);
                while (nt[j])
                    j = (j + 1) & (ncap - 1);
                nt[j] = s->tab[i];
            }
        ipvm_free(s->tab);
        s->tab = nt;
        s->cap = ncap;
    }
    size_t j = slot_of(&u->cid, s->cap);
    while (s->tab[j])
        j = (j + 1) & (s->cap - 1);
    s->tab[j] = u;
    s->count++;
    return 0;
}

/* ---- persistence ----------------------------------------------------------------------------- */

static int save_token(const ipvm_ucan_store_t *s, const ipvm_ucan_t *u, bool revoked,
                      ipvm_error_t *err)
{
    if (s->dir == NULL)
        return 0;
    char cid[IPVM_CID_MAX_STR], path[4096];
    ipvm_cid_str(&u->cid, cid);
    snprintf(path, sizeof path, "%s/%s%s.ucan", s->dir, revoked ? "revoked/" : "", cid);
    return ipvm_file_write_atomic(path, u->bytes, u->len, err);
}

static int load_dir(ipvm_ucan_store_t *s, const char *dir, bool revoked, ipvm_error_t *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".ucan") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        ipvm_buf_t b = IPVM_BUF_INIT;
        ipvm_error_t e2;
        ipvm_error_clear(&e2);
        const ipvm_ucan_t *u = NULL;
        if (ipvm_file_read(path, &b, &e2) == 0 && ipvm_ucan_store_add(s, b.data, b.len, &u, &e2) == 0) {
            if (revoked && u->kind == IPVM_UCAN_INVOCATION)
                rc = ipvm_ucan_store_revoke(s, u, &e2) == IPVM_ENOMEM ? IPVM_ENOMEM : 0;
        } else {
            /* a damaged file is skipped, not trusted: say so and go on */
            ipvm_log(IPVM_LOG_WARN, "trust", "ignoring %s: %s", path, e2.msg);
            if (e2.code == IPVM_ENOMEM)
                rc = IPVM_ENOMEM;
        }
        ipvm_buf_dispose(&b);
    }
    closedir(d);
    if (rc)
        ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory loading %s", dir);
    return rc;
}

int ipvm_ucan_store_open(const char *dir, ipvm_ucan_store_t **out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(out == NULL);
    ipvm_ucan_store_t *s = ipvm_calloc(1, sizeof *s);
    if (s == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    ipvm_arena_init(&s->arena);
    int rc = 0;
    if (dir) {
        char rdir[4096];
        snprintf(rdir, sizeof rdir, "%s/revoked", dir);
        if ((s->dir = ipvm_strdup(dir)) == NULL)
            rc = ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
        if (rc == 0)
            rc = ipvm_mkdirs(rdir, 0700, err);
        /* load before setting dir would rewrite what is read: keep dir but skip saving */
        char *keep = s->dir;
        s->dir = NULL;
        if (rc == 0)
            rc = load_dir(s, dir, false, err);
        if (rc == 0)
            rc = load_dir(s, rdir, true, err);
        s->dir = keep;
    }
    if (rc != 0) {
        ipvm_ucan_store_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void ipvm_ucan_store_free(ipvm_ucan_store_t *s)
{
    if (s == NULL)
        return;
    ipvm_free(s->tab);
    ipvm_free(s->revs);
    ipvm_free(s->dir);
    ipvm_arena_dispose(&s->arena);
    pthread_mutex_destroy(&s->mu);
    ipvm_free(s);
}

static bool is_revocation(const ipvm_ucan_t *u)
{
    return u->kind == IPVM_UCAN_INVOCATION && strcmp(u->cmd, "/ucan/revoke") == 0;
}

int ipvm_ucan_store_add(ipvm_ucan_store_t *s, const uint8_t *buf, size_t len,
                        const ipvm_ucan_t **out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL);
    ipvm_cid_t cid;
    int rc = ipvm_cid_create(&cid, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA2_256, buf, len);
    if (rc != 0)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot hash the token");
    pthread_mutex_lock(&s->mu);
    const ipvm_ucan_t *u = find(s, &cid);
    ipvm_ucan_t *nu = NULL;
    bool added = false;
    if (u == NULL) {
        rc = ipvm_ucan_decode(buf, len, &s->arena, &nu, err);
        if (rc == 0 && (rc = ipvm_ucan_verify_signature(nu, err)) == 0) {
            nu->verified = true;
            if ((rc = insert(s, nu)) == IPVM_ENOMEM)
                ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory");
        }
        u = nu;
        added = rc == 0;
    }
    pthread_mutex_unlock(&s->mu);
    if (rc != 0)
        return rc;
    if (added && !is_revocation(u) && (rc = save_token(s, u, false, err)) != 0)
        return rc;
    if (added && is_revocation(u) && (rc = ipvm_ucan_store_revoke(s, u, err)) != 0)
        return rc;
    if (out)
        *out = u;
    return 0;
}

const ipvm_ucan_t *ipvm_ucan_store_get(ipvm_ucan_store_t *s, const ipvm_cid_t *cid)
{
    if (s == NULL)
        return NULL;
    pthread_mutex_lock(&s->mu);
    const ipvm_ucan_t *u = find(s, cid);
    pthread_mutex_unlock(&s->mu);
    return u;
}

size_t ipvm_ucan_store_count(ipvm_ucan_store_t *s, size_t *revocations)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->count;
    if (revocations)
        *revocations = s->nrevs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- revocation ------------------------------------------------------------------------------ */

static int add_revocation(ipvm_ucan_store_t *s, const ipvm_cid_t *cid, const char *revoker)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nrevs; i++)
        if (ipvm_cid_equal(&s->revs[i].cid, cid) && ipvm_did_equal(s->revs[i].revoker, revoker))
            goto done;
    if (s->nrevs == s->revcap) {
        size_t ncap = s->revcap ? s->revcap * 2 : 16;
        revocation_t *nr = ipvm_realloc(s->revs, ncap * sizeof *nr);
        if (nr == NULL) {
            rc = IPVM_ENOMEM;
            goto done;
        }
        s->revs = nr;
        s->revcap = ncap;
    }
    s->revs[s->nrevs].cid = *cid;
    snprintf(s->revs[s->nrevs].revoker, sizeof s->revs[0].revoker, "%s", revoker);
    s->nrevs++;
done:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int ipvm_ucan_store_revoke(ipvm_ucan_store_t *s, const ipvm_ucan_t *rev, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || rev == NULL);
    if (!is_revocation(rev))
        return ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET,
                              "not a revocation: want an invocation of /ucan/revoke");
    const ipvm_ipld_t *target = ipvm_ipld_map_get(rev->args, "revoke");
    if (target == NULL || target->kind != IPVM_IPLD_LINK)
        return ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET,
                              "revocation: args.revoke must be a link to the delegation");
    int rc = ipvm_ucan_verify_signature(rev, err);
    if (rc != 0)
        return rc;
    const char *revoker = rev->iss;
    if (rev->nprf > 0) {
        /* delegated revocation: it must prove /ucan/revoke over its subject */
        ipvm_ucan_validate_opts_t o = {0, -1, NULL, s, NULL};
        if ((rc = ipvm_ucan_validate(rev, &o, NULL, err)) != 0) {
            ipvm_error_prefix(err, "delegated revocation: ");
            return rc;
        }
        revoker = rev->sub;
    }
    if ((rc = add_revocation(s, target->u.link, revoker)) != 0)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory");
    return save_token(s, rev, true, err);
}

const char *ipvm_ucan_store_revoked_by(ipvm_ucan_store_t *s, const ipvm_cid_t *cid,
                                       const char *const *issuers, size_t n)
{
    if (s == NULL)
        return NULL;
    const char *by = NULL;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nrevs && by == NULL; i++) {
        if (!ipvm_cid_equal(&s->revs[i].cid, cid))
            continue;
        for (size_t j = 0; j < n && by == NULL; j++)
            if (ipvm_did_equal(s->revs[i].revoker, issuers[j]))
                by = issuers[j];
    }
    pthread_mutex_unlock(&s->mu);
    return by;
}

/* ---- validation ------------------------------------------------------------------------------ */

/* "did:key:z6MkhaXg…2doK", for messages. */
static const char *short_did(const char *did, char out[40])
{
    if (did == NULL)
        return "null";
    size_t n = strlen(did);
    if (n <= 28)
        return did;
    snprintf(out, 40, "%.16s…%s", did, did + n - 4);
    return out;
}

typedef struct {
    const ipvm_ucan_validate_opts_t *o;
    const ipvm_ucan_t *inv;
    int64_t now, skew;
    ipvm_error_t *err;
    int *failed;
} vctx_t;

/* Fails link i (-1: the invocation) with the message already in err, prefixed by the link. */
static int fail_link(vctx_t *c, int i, const ipvm_ucan_t *u, int rc)
{
    char full[IPVM_CID_MAX_STR] = "?", cid[40], a[40], b[40];
    if (u && ipvm_cid_format(&u->cid, IPVM_BASE58BTC, full, sizeof full) != 0)
        ipvm_cid_str(&u->cid, full);
    /* short forms keep the whole story within the error's 320 characters */
    if (strlen(full) > 24)
        snprintf(cid, sizeof cid, "%.12s…%s", full, full + strlen(full) - 6);
    else
        snprintf(cid, sizeof cid, "%s", full);
    if (c->failed)
        *c->failed = i;
    if (i < 0)
        ipvm_error_prefix(c->err, "invocation %s (%s, %s): ", cid, short_did(u->iss, a), u->cmd);
    else if (u)
        ipvm_error_prefix(c->err, "proof %d of %zu (%s, %s → %s): ", i + 1, c->inv->nprf, cid,
                          short_did(u->iss, a), short_did(u->aud, b));
    else
        ipvm_error_prefix(c->err, "proof %d of %zu: ", i + 1, c->inv->nprf);
    return rc;
}

static int check_token(vctx_t *c, const ipvm_ucan_t *u)
{
    int rc = u->verified ? 0 : ipvm_ucan_verify_signature(u, c->err);
    if (rc == 0)
        rc = ipvm_ucan_check_time(u, c->now, c->skew, c->err);
    return rc;
}

/* The pairwise checks between link i (a delegation) and what follows it. */
static int check_link(vctx_t *c, size_t i, const ipvm_ucan_t *d, const ipvm_ucan_t *next)
{
    const ipvm_ucan_t *inv = c->inv;
    char a[40], b[40];
    if (!ipvm_did_equal(d->aud, next->iss))
        return ipvm_error_set(c->err, IPVM_EDENIED, IPVM_NO_OFFSET,
                              "its audience %s is not the issuer %s of the %s",
                              short_did(d->aud, a), short_did(next->iss, b),
                              next == inv ? "invocation" : "next proof");
    if (d->sub && !ipvm_did_equal(d->sub, inv->sub))
        return ipvm_error_set(c->err, IPVM_EDENIED, IPVM_NO_OFFSET,
                              "its subject %s is not the invocation's subject %s",
                              short_did(d->sub, a), short_did(inv->sub, b));
    if (!ipvm_ucan_cmd_proves(d->cmd, next->cmd))
        return ipvm_error_set(c->err, IPVM_EDENIED, IPVM_NO_OFFSET,
                              "it grants %s, which does not cover %s (the %s widens the command)",
                              d->cmd, next->cmd, next == inv ? "invocation" : "next proof");
    bool ok = false;
    ipvm_buf_t why = IPVM_BUF_INIT;
    int rc = ipvm_policy_eval(d->pol, inv->args, &ok, &why, c->err);
    if (rc == 0 && !ok)
        rc = ipvm_error_set(c->err, IPVM_EDENIED, IPVM_NO_OFFSET,
                            "the args fail its policy %.160s",
                            why.data ? (char *)why.data : "");
    ipvm_buf_dispose(&why);
    (void)i;
    return rc;
}

static int check_chain(vctx_t *c, const ipvm_ucan_t **chain, const char **issuers)
{
    const ipvm_ucan_t *inv = c->inv;
    int rc;
    for (size_t i = 0; i < inv->nprf; i++) {
        const ipvm_ucan_t *d = ipvm_ucan_store_get(c->o->store, &inv->prf[i]);
        if (d == NULL)
            d = ipvm_ucan_store_get(c->o->extra, &inv->prf[i]);
        if (d == NULL) {
            char cid[IPVM_CID_MAX_STR];
            ipvm_cid_str(&inv->prf[i], cid);
            ipvm_error_set(c->err, IPVM_EUCAN, IPVM_NO_OFFSET,
                           "%s is not available: send the delegation with the invocation", cid);
            return fail_link(c, (int)i, NULL, IPVM_EUCAN);
        }
        if (d->kind != IPVM_UCAN_DELEGATION) {
            ipvm_error_set(c->err, IPVM_EUCAN, IPVM_NO_OFFSET, "it is an invocation, not a delegation");
            return fail_link(c, (int)i, d, IPVM_EUCAN);
        }
        if ((rc = check_token(c, d)) != 0)
            return fail_link(c, (int)i, d, rc);
        chain[i] = d;
        issuers[i] = d->iss;
        const char *by = ipvm_ucan_store_revoked_by(c->o->store, &d->cid, issuers, i + 1);
        if (by) {
            char a[40];
            ipvm_error_set(c->err, IPVM_EREVOKED, IPVM_NO_OFFSET, "revoked by %s", short_did(by, a));
            return fail_link(c, (int)i, d, IPVM_EREVOKED);
        }
    }
    const ipvm_ucan_t *root = chain[0];
    char a[40], b[40];
    if (root->sub == NULL || !ipvm_did_equal(root->iss, root->sub)) {
        ipvm_error_set(c->err, IPVM_EDENIED, IPVM_NO_OFFSET,
                       "the first proof must be the root, issued by its subject (iss %s, sub %s)%s",
                       short_did(root->iss, a), short_did(root->sub, b),
                       root->sub ? "" : ": a powerline (sub null) cannot be the root");
        return fail_link(c, 0, root, IPVM_EDENIED);
    }
    for (size_t i = 0; i < inv->nprf; i++)
        if ((rc = check_link(c, i, chain[i], i + 1 < inv->nprf ? chain[i + 1] : inv)) != 0)
            return fail_link(c, (int)i, chain[i], rc);
    return 0;
}

static int check_invocation(vctx_t *c)
{
    const ipvm_ucan_t *inv = c->inv;
    char a[40], b[40];
    if (inv->kind != IPVM_UCAN_INVOCATION)
        return ipvm_error_set(c->err, IPVM_EUCAN, IPVM_NO_OFFSET,
                              "a delegation is not an invocation (ucan/inv)");
    int rc = check_token(c, inv);
    if (rc == 0 && c->o->executor) {
        const char *target = inv->aud ? inv->aud : inv->sub;
        if (!ipvm_did_equal(target, c->o->executor))
            rc = ipvm_error_set(c->err, IPVM_EDENIED, IPVM_NO_OFFSET,
                                "it is addressed to %s, not to this node %s", short_did(target, a),
                                short_did(c->o->executor, b));
    }
    if (rc == 0 && inv->nprf == 0 && !ipvm_did_equal(inv->iss, inv->sub))
        rc = ipvm_error_set(c->err, IPVM_EDENIED, IPVM_NO_OFFSET,
                            "it has no proofs, so only its subject %s may issue it, not %s",
                            short_did(inv->sub, a), short_did(inv->iss, b));
    return rc;
}

int ipvm_ucan_validate(const ipvm_ucan_t *inv, const ipvm_ucan_validate_opts_t *o,
                       int *failed_link, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(inv == NULL || o == NULL);
    vctx_t c = {o, inv, o->now ? o->now : (int64_t)time(NULL), o->skew < 0 ? IPVM_UCAN_SKEW_S : o->skew,
                err, failed_link};
    if (failed_link)
        *failed_link = IPVM_UCAN_LINK_NONE;
    int rc = check_invocation(&c);
    if (rc != 0)
        return fail_link(&c, IPVM_UCAN_LINK_INVOCATION, inv, rc);
    if (inv->nprf == 0)
        return 0;
    if (inv->nprf > 256) {
        ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET, "%zu proofs: more than the 256 accepted",
                       inv->nprf);
        return fail_link(&c, IPVM_UCAN_LINK_INVOCATION, inv, IPVM_EUCAN);
    }
    const ipvm_ucan_t *chain[256];
    const char *issuers[256];
    return check_chain(&c, chain, issuers);
}

int ipvm_ucan_validate_delegation(const ipvm_ucan_t *d, const ipvm_ucan_validate_opts_t *o,
                                  ipvm_error_t *err)
{
    IPVM_MISUSE_IF(d == NULL || o == NULL);
    if (d->kind != IPVM_UCAN_DELEGATION)
        return ipvm_error_set(err, IPVM_EUCAN, IPVM_NO_OFFSET, "not a delegation (ucan/dlg)");
    int64_t now = o->now ? o->now : (int64_t)time(NULL);
    int rc = ipvm_ucan_verify_signature(d, err);
    if (rc == 0)
        rc = ipvm_ucan_check_time(d, now, o->skew < 0 ? IPVM_UCAN_SKEW_S : o->skew, err);
    if (rc == 0 && ipvm_ucan_store_revoked_by(o->store, &d->cid, &d->iss, 1))
        rc = ipvm_error_set(err, IPVM_EREVOKED, IPVM_NO_OFFSET, "revoked by its issuer");
    return rc;
}
