/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm ucan delegate|invoke|revoke|inspect|verify|add`: make, read and check UCAN 1.0 tokens
 * (and UCAN 0.x JWTs), with the user's keys (ipvm key) or the node's identity. Tokens are
 * written as base64 of the DAG-CBOR envelope, one per line (what iso-ucan's toString gives). */
#define _GNU_SOURCE
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const ipvm_cmd_t ipvm_cmd_ucan;

/* ---- options --------------------------------------------------------------------------------- */

#define MAX_FILES 64

typedef struct {
    const char *from, *to, *sub, *cmd, *pol, *args, *meta, *exp, *nbf, *nonce, *cause, *out;
    const char *executor, *with, *can, *root, *now;
    bool powerline, node_exec, use_store, bundle;
    const char *files[MAX_FILES]; /* positional arguments and --prf/--proofs files */
    size_t nfiles;
    const char *prf[MAX_FILES];
    size_t nprf;
} opts_t;

static int parse_opts(ipvm_cli_t *cli, int argc, char **argv, opts_t *o)
{
    memset(o, 0, sizeof *o);
    static const struct {
        const char *name;
        size_t off;
    } vals[] = {
#define V(n, f) {n, offsetof(opts_t, f)}
        V("--from", from),   V("--to", to),           V("--aud", to),      V("--sub", sub),
        V("--cmd", cmd),     V("--pol", pol),         V("--args", args),   V("--meta", meta),
        V("--exp", exp),     V("--nbf", nbf),         V("--nonce", nonce), V("--cause", cause),
        V("--out", out),     V("--executor", executor), V("--with", with), V("--can", can),
        V("--root", root),   V("--now", now),
#undef V
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool matched = false;
        for (size_t k = 0; k < sizeof vals / sizeof vals[0] && !matched; k++) {
            if (strcmp(a, vals[k].name) != 0)
                continue;
            if (i + 1 >= argc)
                return ipvm_cli_usage(cli, &ipvm_cmd_ucan, "%s needs a value", a);
            *(const char **)((char *)o + vals[k].off) = argv[++i];
            matched = true;
        }
        if (matched)
            continue;
        if (strcmp(a, "--powerline") == 0)
            o->powerline = true;
        else if (strcmp(a, "--node") == 0)
            o->node_exec = true;
        else if (strcmp(a, "--store") == 0)
            o->use_store = true;
        else if (strcmp(a, "--bundle") == 0)
            o->bundle = true;
        else if ((strcmp(a, "--prf") == 0 || strcmp(a, "--proofs") == 0) && i + 1 < argc) {
            if (o->nprf == MAX_FILES)
                return ipvm_cli_usage(cli, &ipvm_cmd_ucan, "too many proof files");
            o->prf[o->nprf++] = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0')
            return ipvm_cli_usage(cli, &ipvm_cmd_ucan, "unknown option '%s'", a);
        else if (o->nfiles == MAX_FILES)
            return ipvm_cli_usage(cli, &ipvm_cmd_ucan, "too many files");
        else
            o->files[o->nfiles++] = a;
    }
    return 0;
}

/* "never", an absolute Unix time, or a duration from now: "300", "+90s", "15m", "12h", "30d". */
static int parse_when(const char *s, int64_t now, bool *has, int64_t *out)
{
    if (strcmp(s, "never") == 0 || strcmp(s, "null") == 0) {
        *has = false;
        return 0;
    }
    char *end = NULL;
    const char *p = s[0] == '+' ? s + 1 : s;
    long long v = strtoll(p, &end, 10);
    if (end == p || v < 0)
        return -1;
    long long mul = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 0;
    if (*end && (mul == 0 || end[1] != '\0'))
        return -1;
    *has = true;
    /* a bare number of ten digits or more is an absolute time; anything else is relative */
    *out = (*end == '\0' && s[0] != '+' && v >= 1000000000LL) ? v : now + v * (mul ? mul : 1);
    return 0;
}

static ipvm_ipld_t *parse_json(ipvm_cli_t *cli, ipvm_arena_t *a, const char *what,
                               const char *text, int *st)
{
    ipvm_ipld_t *v = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_dagjson_decode(text, strlen(text), a, &v, &err) != 0)
        *st = ipvm_cli_fail_err(cli, &err, "%s is not valid DAG-JSON", what);
    return v;
}

/* ---- signers --------------------------------------------------------------------------------- */

typedef struct {
    ipvm_key_t key;
    ipvm_p2p_identity_t *id;
    ipvm_signer_t s;
} who_t;

static int load_signer(ipvm_cli_t *cli, const char *from, who_t *w)
{
    memset(w, 0, sizeof *w);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (from == NULL)
        return ipvm_cli_usage(cli, &ipvm_cmd_ucan,
                              "--from KEY is required (a key name from 'ipvm key list', or "
                              "'node' for this node's identity)");
    if (strcmp(from, "node") == 0) {
        if (ipvm_p2p_identity_load_or_create(cli->data_dir, &w->id, NULL, &err) != 0)
            return ipvm_cli_fail_err(cli, &err, "cannot load the node identity");
        if (ipvm_signer_from_identity(&w->s, w->id) != 0)
            return ipvm_cli_fail(cli, IPVM_ENOMEM, "out of memory");
        return 0;
    }
    if (ipvm_keyfile_load(cli->data_dir, from, &w->key, &err) != 0)
        return ipvm_cli_fail_err(cli, &err, "cannot load key '%s'", from);
    ipvm_signer_from_key(&w->s, &w->key);
    return 0;
}

static void drop_signer(who_t *w)
{
    ipvm_key_wipe(&w->key);
    ipvm_p2p_identity_free(w->id);
}

static int node_did(ipvm_cli_t *cli, char out[IPVM_DID_MAX])
{
    who_t w;
    int st = load_signer(cli, "node", &w);
    if (st == 0)
        memcpy(out, w.s.did, IPVM_DID_MAX);
    drop_signer(&w);
    return st;
}

/* ---- reading tokens -------------------------------------------------------------------------- */

typedef struct {
    ipvm_arena_t *arena;
    ipvm_ucan_t *ucans[256];
    size_t n;
    ipvm_jwt_t *jwts[64];
    size_t njwt;
    ipvm_error_t *err;
} tokens_t;

static int take_token(void *data, bool is_jwt, const uint8_t *bytes, size_t n)
{
    tokens_t *t = data;
    if (is_jwt) {
        if (t->njwt == 64)
            return ipvm_error_set(t->err, IPVM_ETOOBIG, IPVM_NO_OFFSET, "too many JWTs");
        return ipvm_jwt_decode((const char *)bytes, n, t->arena, &t->jwts[t->njwt++], t->err);
    }
    if (t->n == 256)
        return ipvm_error_set(t->err, IPVM_ETOOBIG, IPVM_NO_OFFSET, "too many tokens");
    return ipvm_ucan_decode(bytes, n, t->arena, &t->ucans[t->n++], t->err);
}

static int read_files(ipvm_cli_t *cli, const char *const *files, size_t n, tokens_t *t)
{
    for (size_t i = 0; i < n; i++) {
        ipvm_buf_t b = IPVM_BUF_INIT;
        int st = ipvm_cli_read_input(cli, files[i], &b);
        if (st != 0)
            return st;
        ipvm_error_t err;
        ipvm_error_clear(&err);
        t->err = &err;
        uint8_t *copy = ipvm_arena_memdup(t->arena, b.data ? b.data : (const uint8_t *)"", b.len);
        int rc = copy ? ipvm_ucan_read_tokens(copy, b.len, t->arena, take_token, t, &err) : IPVM_ENOMEM;
        ipvm_buf_dispose(&b);
        if (rc != 0)
            return ipvm_cli_fail_err(cli, &err, "%s", files[i]);
    }
    return 0;
}

/* ---- output ---------------------------------------------------------------------------------- */

static int emit(ipvm_cli_t *cli, const opts_t *o, const ipvm_ucan_t *u,
                const ipvm_ucan_t *const *extra, size_t nextra)
{
    ipvm_buf_t text = IPVM_BUF_INIT;
    const ipvm_ucan_t *all[MAX_FILES + 1];
    all[0] = u;
    size_t n = 1;
    for (size_t i = 0; o->bundle && i < nextra; i++)
        all[n++] = extra[i];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t start = text.len;
        rc = ipvm_base_encode(IPVM_BASE64, all[i]->bytes, all[i]->len, &text);
        while (rc == 0 && (text.len - start) % 4)
            rc = ipvm_buf_append_byte(&text, '=');
        if (rc == 0)
            rc = ipvm_buf_append_byte(&text, '\n');
    }
    if (rc != 0)
        return ipvm_cli_fail(cli, rc, "cannot encode the token");
    char cid[IPVM_CID_MAX_STR];
    if (ipvm_cid_format(&u->cid, IPVM_BASE58BTC, cid, sizeof cid) != 0)
        ipvm_cid_str(&u->cid, cid);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (o->out && ipvm_file_write_atomic(o->out, text.data, text.len, &err) != 0) {
        ipvm_buf_dispose(&text);
        return ipvm_cli_fail_err(cli, &err, "cannot write %s", o->out);
    }
    if (cli->json) {
        printf("{\"cid\":\"%s\",\"kind\":\"%s\",\"token\":\"%.*s\"%s%s%s}\n", cid,
               u->kind == IPVM_UCAN_DELEGATION ? "delegation" : "invocation",
               (int)strcspn((char *)text.data, "\n"), (char *)text.data, o->out ? ",\"file\":\"" : "",
               o->out ? o->out : "", o->out ? "\"" : "");
    } else if (!o->out) {
        fwrite(text.data, 1, text.len, stdout);
    }
    if (!cli->quiet && !cli->json)
        fprintf(stderr, "ipvm: %s %s%s%s\n",
                u->kind == IPVM_UCAN_DELEGATION ? "delegation" : "invocation", cid,
                o->out ? " written to " : "", o->out ? o->out : "");
    ipvm_buf_dispose(&text);
    return IPVM_EXIT_OK;
}

/* ---- delegate, invoke, revoke ---------------------------------------------------------------- */

static int fill_common(ipvm_cli_t *cli, const opts_t *o, ipvm_arena_t *a, ipvm_ucan_params_t *p,
                       int64_t default_ttl, uint8_t nonce[32])
{
    int st = 0;
    int64_t now = (int64_t)time(NULL);
    p->has_exp = true;
    p->exp = now + default_ttl;
    if (o->exp && parse_when(o->exp, now, &p->has_exp, &p->exp) != 0)
        return ipvm_cli_usage(cli, &ipvm_cmd_ucan, "bad --exp '%s' (a Unix time, +SECONDS, 15m, 12h, 30d or never)", o->exp);
    if (o->nbf && (parse_when(o->nbf, now, &p->has_nbf, &p->nbf) != 0 || !p->has_nbf))
        return ipvm_cli_usage(cli, &ipvm_cmd_ucan, "bad --nbf '%s'", o->nbf);
    if (o->meta && (p->meta = parse_json(cli, a, "--meta", o->meta, &st)) == NULL)
        return st;
    if (o->nonce) {
        ipvm_buf_t b = IPVM_BUF_INIT;
        if (ipvm_base_decode(IPVM_BASE16, o->nonce, strlen(o->nonce), &b, NULL) != 0 || b.len > 32) {
            ipvm_buf_dispose(&b);
            return ipvm_cli_usage(cli, &ipvm_cmd_ucan, "--nonce takes up to 32 bytes in hex ('' for empty)");
        }
        if (b.len)
            memcpy(nonce, b.data, b.len);
        p->nonce = nonce;
        p->nonce_len = b.len;
        ipvm_buf_dispose(&b);
    }
    return 0;
}

static int make(ipvm_cli_t *cli, const opts_t *o, ipvm_arena_t *a, ipvm_ucan_params_t *p,
                const ipvm_ucan_t *const *extra, size_t nextra)
{
    who_t w;
    int st = load_signer(cli, o->from, &w);
    if (st != 0)
        return st;
    ipvm_ucan_t *u = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (p->kind == IPVM_UCAN_DELEGATION && p->sub == NULL && !o->powerline)
        p->sub = w.s.did; /* a root delegation by default: issued by its subject */
    int rc = ipvm_ucan_create(p, &w.s, a, &u, &err);
    drop_signer(&w);
    if (rc != 0)
        return ipvm_cli_fail_err(cli, &err, "cannot make the token");
    return emit(cli, o, u, extra, nextra);
}

static int cmd_delegate(ipvm_cli_t *cli, const opts_t *o, ipvm_arena_t *a)
{
    if (o->to == NULL || o->cmd == NULL)
        return ipvm_cli_usage(cli, &ipvm_cmd_ucan, "delegate needs --to DID and --cmd COMMAND");
    ipvm_ucan_params_t p = {0};
    uint8_t nonce[32];
    p.kind = IPVM_UCAN_DELEGATION;
    p.aud = o->to;
    p.sub = o->powerline ? NULL : o->sub;
    p.cmd = o->cmd;
    int st = fill_common(cli, o, a, &p, 86400, nonce);
    if (st == 0 && o->pol && (p.pol = parse_json(cli, a, "--pol", o->pol, &st)) == NULL)
        return st;
    return st ? st : make(cli, o, a, &p, NULL, 0);
}

/* Orders proofs root first: the one issued by the subject, then each whose iss is the previous
 * one's aud. Keeps the given order when no such chain exists (validation will say why). */
static void order_chain(ipvm_ucan_t **d, size_t n, const char *sub)
{
    const char *want = sub;
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j < n && !(ipvm_did_equal(d[j]->iss, want) && (i > 0 || (d[j]->sub && ipvm_did_equal(d[j]->sub, sub)))))
            j++;
        if (j == n)
            return;
        ipvm_ucan_t *t = d[i];
        d[i] = d[j];
        d[j] = t;
        want = d[i]->aud;
    }
}

static int cmd_invoke(ipvm_cli_t *cli, const opts_t *o, ipvm_arena_t *a, bool revoke)
{
    tokens_t t = {a, {0}, 0, {0}, 0, NULL};
    int st = read_files(cli, o->prf, o->nprf, &t);
    if (st == 0)
        st = read_files(cli, o->files, o->nfiles, &t);
    if (st != 0)
        return st;
    if (o->sub == NULL || (!revoke && o->cmd == NULL))
        return ipvm_cli_usage(cli, &ipvm_cmd_ucan, "%s needs --sub DID%s", revoke ? "revoke" : "invoke",
                              revoke ? "" : " and --cmd COMMAND");
    ipvm_ucan_params_t p = {0};
    uint8_t nonce[32];
    p.kind = IPVM_UCAN_INVOCATION;
    p.sub = o->sub;
    p.aud = o->to;
    p.cmd = revoke ? "/ucan/revoke" : o->cmd;
    if ((st = fill_common(cli, o, a, &p, 300, nonce)) != 0)
        return st;
    ipvm_cid_t prf[256], cause;
    size_t nprf = 0;
    ipvm_ucan_t *dl[256];
    for (size_t i = 0; i < t.n; i++)
        if (t.ucans[i]->kind == IPVM_UCAN_DELEGATION)
            dl[nprf++] = t.ucans[i];
    if (revoke) {
        if (o->args || nprf == 0)
            return ipvm_cli_usage(cli, &ipvm_cmd_ucan, "revoke takes the delegation to revoke as a file");
        ipvm_ipld_t *args = ipvm_ipld_new_map(a, 1);
        if (args == NULL || ipvm_ipld_map_set_cstr(a, args, "revoke", ipvm_ipld_new_link(a, &dl[0]->cid)) != 0)
            return ipvm_cli_fail(cli, IPVM_ENOMEM, "out of memory");
        p.args = args;
        p.nonce = nonce;
        p.nonce_len = 0; /* revocation is idempotent: empty nonce (ucan-wg/revocation) */
        nprf = 0;
    } else if (o->args && (p.args = parse_json(cli, a, "--args", o->args, &st)) == NULL) {
        return st;
    }
    order_chain(dl, nprf, o->sub);
    for (size_t i = 0; i < nprf; i++)
        prf[i] = dl[i]->cid;
    p.prf = prf;
    p.nprf = nprf;
    if (o->cause) {
        if (ipvm_cid_parse(&cause, o->cause, strlen(o->cause), NULL) != 0)
            return ipvm_cli_usage(cli, &ipvm_cmd_ucan, "--cause is not a CID");
        p.cause = &cause;
    }
    return make(cli, o, a, &p, (const ipvm_ucan_t *const *)dl, nprf);
}

/* ---- inspect --------------------------------------------------------------------------------- */

static void print_time(const char *label, bool has, int64_t t, const char *none)
{
    if (!has) {
        printf("  %-10s %s\n", label, none);
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[64] = "?";
    if (gmtime_r(&tt, &tm))
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    long long d = (long long)(t - (int64_t)time(NULL));
    printf("  %-10s %lld (%s, %s %llds)\n", label, (long long)t, buf, d >= 0 ? "in" : "ago",
           d >= 0 ? d : -d);
}

static void inspect_ucan(ipvm_cli_t *cli, const ipvm_ucan_t *u)
{
    char cid[IPVM_CID_MAX_STR];
    if (ipvm_cid_format(&u->cid, IPVM_BASE58BTC, cid, sizeof cid) != 0)
        ipvm_cid_str(&u->cid, cid);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    bool sig_ok = ipvm_ucan_verify_signature(u, &err) == 0;
    ipvm_buf_t pl = IPVM_BUF_INIT;
    ipvm_error_t e2;
    if (ipvm_ucan_payload_json(u, cli->json ? 0 : IPVM_JSON_PRETTY, &pl, &e2) != 0 ||
        pl.data == NULL) {
        ipvm_buf_clear(&pl);
        if (ipvm_buf_append_str(&pl, "null") != 0)
            return;
    }
    if (cli->json) {
        printf("{\"kind\":\"%s\",\"tag\":\"%s\",\"cid\":\"%s\",\"bytes\":%zu,\"signature_valid\":%s,",
               u->kind == IPVM_UCAN_DELEGATION ? "delegation" : "invocation", u->tag, cid, u->len,
               sig_ok ? "true" : "false");
        printf("\"payload\":%s}\n", (char *)pl.data);
        ipvm_buf_dispose(&pl);
        return;
    }
    printf("UCAN %s (%s), %zu bytes\n", u->kind == IPVM_UCAN_DELEGATION ? "delegation" : "invocation",
           u->tag, u->len);
    printf("  %-10s %s\n  %-10s %s\n", "cid", cid, "issuer", u->iss);
    printf("  %-10s %s\n", "audience", u->aud ? u->aud : "(none: the subject)");
    printf("  %-10s %s\n  %-10s %s\n", "subject", u->sub ? u->sub : "null (powerline)", "command",
           u->cmd);
    print_time("not before", u->has_nbf, u->nbf, "(none)");
    print_time("expires", u->has_exp, u->exp, "never");
    printf("  %-10s %zu proofs\n", "prf", u->nprf);
    printf("  %-10s Ed25519 over DAG-CBOR: %s%s\n", "signature", sig_ok ? "valid" : "INVALID: ",
           sig_ok ? "" : err.msg);
    printf("  payload:\n%s\n", (char *)pl.data);
    ipvm_buf_dispose(&pl);
}

static void inspect_jwt(ipvm_cli_t *cli, const ipvm_jwt_t *t)
{
    ipvm_error_t err;
    ipvm_error_clear(&err);
    bool sig_ok = ipvm_jwt_verify_signature(t, &err) == 0;
    if (cli->json) {
        printf("{\"kind\":\"jwt\",\"ucv\":\"%s\",\"iss\":\"%s\",\"aud\":\"%s\",\"caps\":%zu,"
               "\"proofs\":%zu,\"signature_valid\":%s}\n",
               t->ucv, t->iss, t->aud, t->ncaps, t->nprf, sig_ok ? "true" : "false");
        return;
    }
    printf("UCAN %s JWT (%s)\n  %-10s %s\n  %-10s %s\n", t->ucv, t->alg, "issuer", t->iss,
           "audience", t->aud);
    print_time("not before", t->has_nbf, t->nbf, "(none)");
    print_time("expires", t->has_exp, t->exp, "never");
    for (size_t i = 0; i < t->ncaps; i++)
        printf("  %-10s %s on %s\n", i ? "" : "grants", t->caps[i].can, t->caps[i].with);
    printf("  %-10s %zu\n  %-10s %s%s\n", "proofs", t->nprf, "signature", sig_ok ? "valid" : "INVALID: ",
           sig_ok ? "" : err.msg);
}

static int cmd_inspect(ipvm_cli_t *cli, const opts_t *o, ipvm_arena_t *a)
{
    if (o->nfiles == 0)
        return ipvm_cli_usage(cli, &ipvm_cmd_ucan, "inspect needs a token file ('-' for stdin)");
    tokens_t t = {a, {0}, 0, {0}, 0, NULL};
    int st = read_files(cli, o->files, o->nfiles, &t);
    if (st != 0)
        return st;
    for (size_t i = 0; i < t.n; i++)
        inspect_ucan(cli, t.ucans[i]);
    for (size_t i = 0; i < t.njwt; i++)
        inspect_jwt(cli, t.jwts[i]);
    return IPVM_EXIT_OK;
}

/* ---- verify ---------------------------------------------------------------------------------- */

static int verdict(ipvm_cli_t *cli, int rc, int link, const ipvm_error_t *err, const char *what)
{
    if (cli->json) {
        printf("{\"valid\":%s", rc == 0 ? "true" : "false");
        if (rc != 0) {
            printf(",\"code\":\"%s\",\"link\":%d,\"error\":\"", ipvm_err_name(rc), link);
            for (const char *p = err->msg; *p; p++)
                if (*p == '"' || *p == '\\')
                    printf("\\%c", *p);
                else
                    putchar(*p);
            putchar('"');
        }
        printf("}\n");
    } else if (rc == 0) {
        printf("valid: %s\n", what);
    } else {
        fprintf(stderr, "ipvm: invalid: %s [%s]\n", err->msg, ipvm_err_name(rc));
    }
    return rc == 0 ? IPVM_EXIT_OK : IPVM_EXIT_FAIL;
}

static int verify_jwt(ipvm_cli_t *cli, const opts_t *o, const ipvm_jwt_t *t, int64_t now,
                      const char *executor)
{
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc;
    if (o->with || o->can) {
        if (!o->with || !o->can)
            return ipvm_cli_usage(cli, &ipvm_cmd_ucan, "a JWT check needs both --with and --can");
        ipvm_jwt_validate_opts_t jo = {now, -1, executor, o->with, o->can,
                                       o->root ? o->root : executor, NULL, NULL};
        if (jo.root == NULL)
            return ipvm_cli_usage(cli, &ipvm_cmd_ucan, "a JWT check needs --root DID (or --node)");
        rc = ipvm_jwt_validate(t, &jo, &err);
    } else {
        rc = ipvm_jwt_verify_signature(t, &err);
    }
    return verdict(cli, rc, -1, &err, o->with ? "the JWT chain grants the capability" : "JWT signature");
}

static int cmd_verify(ipvm_cli_t *cli, const opts_t *o, ipvm_arena_t *a)
{
    tokens_t t = {a, {0}, 0, {0}, 0, NULL};
    int st = read_files(cli, o->files, o->nfiles, &t);
    if (st == 0)
        st = read_files(cli, o->prf, o->nprf, &t);
    if (st != 0)
        return st;
    if (t.n == 0 && t.njwt == 0)
        return ipvm_cli_usage(cli, &ipvm_cmd_ucan, "verify needs a token file");
    char node[IPVM_DID_MAX];
    const char *executor = o->executor;
    if (o->node_exec) {
        if ((st = node_did(cli, node)) != 0)
            return st;
        executor = node;
    }
    int64_t now = o->now ? strtoll(o->now, NULL, 10) : 0;
    if (t.n == 0)
        return verify_jwt(cli, o, t.jwts[0], now, executor);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_ucan_store_t *store = NULL;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ucan", cli->data_dir);
    if (ipvm_ucan_store_open(o->use_store ? dir : NULL, &store, &err) != 0)
        return ipvm_cli_fail_err(cli, &err, "cannot open the UCAN store");
    const ipvm_ucan_t *target = t.ucans[0];
    for (size_t i = 0; i < t.n; i++)
        if (t.ucans[i]->kind == IPVM_UCAN_INVOCATION && target->kind != IPVM_UCAN_INVOCATION)
            target = t.ucans[i];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < t.n; i++)
        if (t.ucans[i] != target && t.ucans[i]->kind == IPVM_UCAN_DELEGATION)
            rc = ipvm_ucan_store_add(store, t.ucans[i]->bytes, t.ucans[i]->len, NULL, &err);
    int link = IPVM_UCAN_LINK_NONE;
    ipvm_ucan_validate_opts_t vo = {now, -1, executor, store, NULL};
    if (rc == 0)
        rc = target->kind == IPVM_UCAN_INVOCATION ? ipvm_ucan_validate(target, &vo, &link, &err)
                                                  : ipvm_ucan_validate_delegation(target, &vo, &err);
    ipvm_ucan_store_free(store);
    return verdict(cli, rc, link, &err,
                   target->kind == IPVM_UCAN_INVOCATION ? "invocation and its proof chain"
                                                        : "delegation");
}

static int cmd_add(ipvm_cli_t *cli, const opts_t *o, ipvm_arena_t *a)
{
    tokens_t t = {a, {0}, 0, {0}, 0, NULL};
    int st = read_files(cli, o->files, o->nfiles, &t);
    if (st != 0)
        return st;
    if ((st = ipvm_cli_ensure_data_dir(cli)) != 0)
        return st;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ucan", cli->data_dir);
    ipvm_ucan_store_t *store = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_ucan_store_open(dir, &store, &err) != 0)
        return ipvm_cli_fail_err(cli, &err, "cannot open the UCAN store");
    for (size_t i = 0; i < t.n; i++) {
        if (ipvm_ucan_store_add(store, t.ucans[i]->bytes, t.ucans[i]->len, NULL, &err) != 0) {
            ipvm_ucan_store_free(store);
            return ipvm_cli_fail_err(cli, &err, "token %zu", i + 1);
        }
    }
    size_t nrev = 0, n = ipvm_ucan_store_count(store, &nrev);
    ipvm_ucan_store_free(store);
    if (cli->json)
        printf("{\"added\":%zu,\"tokens\":%zu,\"revocations\":%zu,\"store\":\"%s\"}\n", t.n, n, nrev, dir);
    else
        printf("added %zu token%s to %s (%zu tokens, %zu revocations)\n", t.n, t.n == 1 ? "" : "s",
               dir, n, nrev);
    return IPVM_EXIT_OK;
}

static int cmd_ucan_run(ipvm_cli_t *cli, int argc, char **argv)
{
    if (ipvm_cli_wants_help(argc, argv))
        return ipvm_cli_help(&ipvm_cmd_ucan);
    if (argc < 2)
        return ipvm_cli_usage(cli, &ipvm_cmd_ucan, "missing subcommand");
    opts_t o;
    int st = parse_opts(cli, argc - 1, argv + 1, &o);
    if (st != 0)
        return st;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *sub = argv[1];
    if (strcmp(sub, "delegate") == 0)
        st = cmd_delegate(cli, &o, &a);
    else if (strcmp(sub, "invoke") == 0)
        st = cmd_invoke(cli, &o, &a, false);
    else if (strcmp(sub, "revoke") == 0)
        st = cmd_invoke(cli, &o, &a, true);
    else if (strcmp(sub, "inspect") == 0)
        st = cmd_inspect(cli, &o, &a);
    else if (strcmp(sub, "verify") == 0)
        st = cmd_verify(cli, &o, &a);
    else if (strcmp(sub, "add") == 0)
        st = cmd_add(cli, &o, &a);
    else
        st = ipvm_cli_usage(cli, &ipvm_cmd_ucan, "unknown subcommand '%s'", sub);
    ipvm_arena_dispose(&a);
    return st;
}

const ipvm_cmd_t ipvm_cmd_ucan = {
    "ucan", "make, inspect and verify UCAN delegations and invocations",
    "Usage: ipvm ucan delegate --from KEY --to DID --cmd CMD [--sub DID | --powerline]\n"
    "                          [--pol JSON] [--exp WHEN] [--nbf WHEN] [--meta JSON]\n"
    "                          [--nonce HEX] [--out FILE]\n"
    "       ipvm ucan invoke   --from KEY --sub DID --cmd CMD [--args JSON] [--aud DID]\n"
    "                          [--prf FILE]... [--exp WHEN] [--cause CID] [--bundle]\n"
    "       ipvm ucan revoke   --from KEY --sub DID DELEGATION_FILE\n"
    "       ipvm ucan inspect  FILE...\n"
    "       ipvm ucan verify   FILE... [--proofs FILE]... [--node | --executor DID]\n"
    "                          [--store] [--now UNIX] [--with RES --can ABILITY --root DID]\n"
    "       ipvm ucan add      FILE...\n"
    "\n"
    "UCAN 1.0 tokens (ucan-wg/delegation, ucan-wg/invocation): a DAG-CBOR envelope\n"
    "[signature, {h: varsig, \"ucan/dlg@1.0.0-rc.1\" | \"ucan/inv@1.0.0-rc.1\": payload}],\n"
    "signed with Ed25519. Tokens are printed as base64 of the envelope, one per line (the form\n"
    "iso-ucan prints); files may hold several tokens, raw DAG-CBOR, or UCAN 0.8-0.10 JWTs.\n"
    "\n"
    "Subcommands:\n"
    "  delegate  grant --to DID the command --cmd (and everything under it: /wasm proves\n"
    "            /wasm/run) on the subject --sub, limited by the policy --pol. Without --sub\n"
    "            the delegation is a root: its subject is its issuer. --powerline writes\n"
    "            sub: null (delegates whatever subject the chain has; never a root).\n"
    "  invoke    ask the subject --sub to run --cmd with --args, proven by the delegations in\n"
    "            the --prf files (put in chain order, root first). --bundle also prints the\n"
    "            proofs after the invocation: the file 'ipvm run --ucan' and the RPC take.\n"
    "  revoke    revoke a delegation you issued (or one below yours): an invocation of\n"
    "            /ucan/revoke with args {revoke: CID}; give it to the node with 'ipvm ucan add'.\n"
    "  inspect   print each token's fields, times and whether its signature is valid.\n"
    "  verify    check a token. An invocation is checked with its whole proof chain (taken\n"
    "            from the other tokens given, and with --store from the node's store):\n"
    "            signatures, time bounds (60 s of clock skew), issuer/audience linkage, subject,\n"
    "            command hierarchy, policies, revocations. The error names the link that\n"
    "            failed and why. A delegation alone: signature and time. A JWT: its signature,\n"
    "            or with --with/--can/--root whether its chain grants that capability.\n"
    "  add       put delegations and revocations into the node's store (<data-dir>/ucan), so\n"
    "            runs can cite them by CID and revoked links are refused.\n"
    "\n"
    "Options:\n"
    "  --from KEY     sign with key KEY ('ipvm key list'), or 'node' for the node identity\n"
    "  --to, --aud DID  audience; --sub DID subject; --cmd /a/b command (lowercase)\n"
    "  --pol JSON     policy, e.g. '[[\"like\", \".rsc\", \"ipfs://*\"]]' (default [])\n"
    "  --args JSON    invocation arguments (a map; default {})\n"
    "  --exp WHEN     expiry: a Unix time, +SECONDS, 15m, 12h, 30d, or never\n"
    "                 (default: 24h for delegations, 5m for invocations)\n"
    "  --nbf WHEN     not before (same forms)\n"
    "  --meta JSON    a map of extra fields (meta), signed with the token\n"
    "  --prf FILE     (invoke) a file of proof delegations, root first; repeatable\n"
    "  --proofs FILE  (verify) tokens to take the chain's proofs from; repeatable\n"
    "  --cause CID    (invoke) the receipt that caused this invocation\n"
    "  --bundle       (invoke) print the proofs after the invocation\n"
    "  --store        (verify) also take proofs and revocations from <data-dir>/ucan\n"
    "  --with RES --can ABILITY --root DID\n"
    "                 (verify a JWT) does its chain from DID grant ABILITY on RES?\n"
    "  --nonce HEX    fixed nonce (default: 12 random bytes; '' for the empty nonce)\n"
    "  --out FILE     write the token there instead of stdout\n"
    "  --node         verify as this node: the invocation must be addressed to it\n"
    "  --executor DID the same for another executor\n"
    "  --now UNIX     validate at that time instead of now\n"
    "  --json         machine-readable output\n"
    "\n"
    "Exit status: 0 valid / done, 1 invalid or failed, 2 bad usage.\n"
    "\n"
    "Examples (grant alice runs of modules from IPFS on this node, and run one):\n"
    "  ipvm ucan delegate --from node --to did:key:z6Mk…alice --cmd /wasm/run \\\n"
    "       --pol '[[\"like\", \".rsc\", \"ipfs://*\"]]' --exp 30d --out alice.ucan\n"
    "  ipvm ucan verify alice.ucan\n"
    "  ipvm run workflow.json --ucan alice.ucan --key alice   (see 'ipvm run --help')\n"
    "  ipvm ucan inspect alice.ucan\n",
    cmd_ucan_run};
