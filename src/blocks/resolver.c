/* SPDX-License-Identifier: Apache-2.0 */
/* The resolver: turns a resource (ipfs://<cid>, .../ipfs/<cid>, <cid>.ipfs.<domain>, a bare CID)
 * into bytes. Each block comes from the blockstore, else from a Kubo HTTP RPC API
 * (POST /api/v0/block/get), else from a trustless gateway (GET /ipfs/<cid>?format=raw); every
 * block is checked against its CID before it is used or kept, so neither source is trusted.
 * Fetching block by block rather than with `cat` is what makes the check possible for every
 * dag-pb node and leaf. HTTP is libcurl's. */
#include "blocks_int.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 30000
#define MAX_BLOCK (8u << 20) /* no IPFS block is bigger (bitswap's limit is 2 MiB) */

struct ipvm_resolver_s {
    ipvm_blockstore_t *bs;
    char *api;     /* "HOST:PORT" or NULL */
    char *gateway; /* "https://host" (no trailing slash) or NULL */
    int timeout_ms;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_setup(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int ipvm_resolver_new(ipvm_blockstore_t *bs, const ipvm_resolver_opts_t *opts,
                      ipvm_resolver_t **out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(bs == NULL || out == NULL);
    *out = NULL;
    pthread_once(&curl_once, curl_setup);
    if (curl_init_rc != CURLE_OK)
        return ipvm_error_set(err, IPVM_EINTERNAL, IPVM_NO_OFFSET, "libcurl: %s",
                              curl_easy_strerror(curl_init_rc));
    ipvm_resolver_t *r = ipvm_calloc(1, sizeof *r);
    if (r == NULL)
        goto oom;
    r->bs = bs;
    r->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    if (opts && opts->ipfs_api && *opts->ipfs_api) {
        const char *a = opts->ipfs_api;
        if (strncmp(a, "http://", 7) == 0)
            a += 7; /* accept a URL too */
        if ((r->api = ipvm_strdup(a)) == NULL)
            goto oom;
        size_t n = strlen(r->api);
        while (n && r->api[n - 1] == '/')
            r->api[--n] = '\0';
    }
    if (opts && opts->gateway && *opts->gateway) {
        if (strncmp(opts->gateway, "https://", 8) != 0 && strncmp(opts->gateway, "http://", 7) != 0) {
            ipvm_resolver_free(r);
            return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                                  "gateway '%s' is not an http(s):// URL", opts->gateway);
        }
        if ((r->gateway = ipvm_strdup(opts->gateway)) == NULL)
            goto oom;
        size_t n = strlen(r->gateway);
        while (n && r->gateway[n - 1] == '/')
            r->gateway[--n] = '\0';
    }
    *out = r;
    return 0;
oom:
    ipvm_resolver_free(r);
    return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
}

void ipvm_resolver_free(ipvm_resolver_t *r)
{
    if (r == NULL)
        return;
    ipvm_free(r->api);
    ipvm_free(r->gateway);
    ipvm_free(r);
}

/* ---- resource names ------------------------------------------------------------------------ */
static int parse_cid_part(const char *s, size_t n, const char *url, ipvm_cid_t *cid,
                          ipvm_error_t *err)
{
    ipvm_error_t e;
    ipvm_error_clear(&e);
    if (n == 0 || ipvm_cid_parse(cid, s, n, &e) != 0)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "resource '%s' does not name a CID%s%s: use ipfs://CID", url,
                              n ? ": " : "", n ? e.msg : "");
    return 0;
}

/* The CID that starts s (up to the first '/', '?' or '#'); a path after it is refused, a lone
 * trailing '/' is not. */
static int parse_cid_path(const char *s, const char *url, ipvm_cid_t *cid, ipvm_error_t *err)
{
    size_t n = strcspn(s, "/?#");
    if (s[n] == '/' && s[n + 1] != '\0')
        return ipvm_error_set(err, IPVM_EUNSUPPORTED, IPVM_NO_OFFSET,
                              "resource '%s': paths inside a UnixFS directory are not "
                              "supported; name the file's own CID",
                              url);
    return parse_cid_part(s, n, url, cid, err);
}

/* compat: homestar-runtime/src/tasks/fetch.rs - ipfs://<cid>, any URL with /ipfs/<cid>,
 * subdomain gateways <cid>.ipfs.<domain>. Unlike Homestar, anything else is an error, not a
 * panic, and a path after the CID is refused rather than ignored. */
int ipvm_resource_cid(const char *url, ipvm_cid_t *cid, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(url == NULL || cid == NULL);
    if (strncmp(url, "ipfs://", 7) == 0)
        return parse_cid_path(url + 7, url, cid, err);
    const char *p = strstr(url, "/ipfs/");
    if (p)
        return parse_cid_path(p + 6, url, cid, err);
    const char *scheme = strstr(url, "://");
    if (scheme) {
        const char *host = scheme + 3;
        const char *dot = strstr(host, ".ipfs.");
        size_t hostlen = strcspn(host, "/?#");
        if (dot && (size_t)(dot - host) < hostlen)
            return parse_cid_part(host, (size_t)(dot - host), url, cid, err);
        return ipvm_error_set(err, IPVM_EUNSUPPORTED, IPVM_NO_OFFSET,
                              "resource '%s' is not content-addressed: use ipfs://CID (add a "
                              "file with 'ipvm add FILE' to get its CID)",
                              url);
    }
    return parse_cid_part(url, strlen(url), url, cid, err);
}

/* ---- HTTP ---------------------------------------------------------------------------------- */
typedef struct {
    ipvm_buf_t *out;
    bool too_big, oom;
} sink_t;

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
    sink_t *s = data;
    size_t len = size * n;
    if (s->out->len + len > MAX_BLOCK) {
        s->too_big = true;
        return 0;
    }
    if (ipvm_buf_append(s->out, p, len) != 0) {
        s->oom = true;
        return 0;
    }
    return len;
}

typedef enum { GOT, MISSING, WRONG, TIMEOUT, UNREACHABLE } outcome_t;

/* One request. On GOT, body holds the bytes; otherwise why holds a short reason. */
static outcome_t http_get(ipvm_resolver_t *r, const char *url, bool post, ipvm_buf_t *body,
                          char *why, size_t whysize)
{
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(why, whysize, "cannot start an HTTP request");
        return UNREACHABLE;
    }
    sink_t sink = {body, false, false};
    struct curl_slist *hdr = curl_slist_append(NULL, "Accept: application/vnd.ipld.raw");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(r->timeout_ms < 10000 ? r->timeout_ms
                                                                                : 10000));
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "ipvm/" IPVM_VERSION_STRING);
    if (post) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdr);
    if (sink.too_big) {
        snprintf(why, whysize, "answered with more than %u bytes for one block", MAX_BLOCK);
        return WRONG;
    }
    if (sink.oom) {
        snprintf(why, whysize, "out of memory");
        return UNREACHABLE;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(why, whysize, "no answer within %d ms", r->timeout_ms);
        return TIMEOUT;
    }
    if (rc != CURLE_OK) {
        snprintf(why, whysize, "%s", curl_easy_strerror(rc));
        return UNREACHABLE;
    }
    if (status != 200) {
        /* Kubo answers 500 with {"Message": ...}; a gateway 404 */
        int n = (int)(body->len < 48 ? body->len : 48);
        snprintf(why, whysize, "HTTP %ld%s%.*s", status, n ? ": " : "", n,
                 body->data ? (const char *)body->data : "");
        for (char *q = why; *q; q++)
            if (*q == '\n' || *q == '\r')
                *q = ' ';
        return MISSING;
    }
    return GOT;
}

/* ---- fetching blocks ----------------------------------------------------------------------- */
typedef struct {
    ipvm_resolver_t *r;
    const ipvm_cid_t *root;
    char reasons[600]; /* "; "-separated, for the final message */
    bool any_wrong, any_timeout, any_missing;
    int fetched;
} fetch_t;

static void note(fetch_t *f, const char *src, const char *why)
{
    size_t n = strlen(f->reasons);
    snprintf(f->reasons + n, sizeof f->reasons - n, "%s%s: %s", n ? "; " : "", src, why);
}

static outcome_t try_source(fetch_t *f, const char *src, const char *url, bool post,
                            const ipvm_cid_t *cid, ipvm_buf_t *out)
{
    char why[200];
    outcome_t o = UNREACHABLE;
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t start = out->len;
        o = http_get(f->r, url, post, out, why, sizeof why);
        if (o == GOT && ipvm__block_verify(cid, out->data + start, out->len - start, NULL) != 0) {
            snprintf(why, sizeof why, "sent %zu bytes that do not hash to the CID (refused)",
                     out->len - start);
            o = WRONG;
        }
        if (o == GOT)
            return o;
        out->len = start;
        if (o != UNREACHABLE)
            break;
        /* connection refused or reset: once more after a pause, as Homestar retries */
        struct timespec ts = {0, 250 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    f->any_wrong |= o == WRONG;
    f->any_timeout |= o == TIMEOUT;
    f->any_missing |= o == MISSING;
    note(f, src, why);
    return o;
}

static int fetch_block(void *ctx, const ipvm_cid_t *cid, ipvm_buf_t *out, ipvm_error_t *err)
{
    fetch_t *f = ctx;
    ipvm_resolver_t *r = f->r;
    int rc = ipvm_blockstore_get(r->bs, cid, out, err);
    if (rc != IPVM_ENOENT)
        return rc;
    char c[IPVM_CID_MAX_STR], url[1200];
    ipvm_cid_str(cid, c);
    size_t start = out->len;
    outcome_t o = UNREACHABLE;
    if (r->api) {
        snprintf(url, sizeof url, "http://%s/api/v0/block/get?arg=%s", r->api, c);
        char src[400];
        snprintf(src, sizeof src, "Kubo API %s", r->api);
        o = try_source(f, src, url, true, cid, out);
    }
    if (o != GOT && r->gateway) {
        snprintf(url, sizeof url, "%s/ipfs/%s?format=raw", r->gateway, c);
        char src[400];
        snprintf(src, sizeof src, "gateway %s", r->gateway);
        o = try_source(f, src, url, false, cid, out);
    }
    if (o != GOT)
        return ipvm_error_set(err, IPVM_ENORESOURCE, IPVM_NO_OFFSET, "block %s", c);
    bool created;
    if ((rc = ipvm__blockstore_put_nosync(r->bs, cid, out->data + start, out->len - start,
                                          &created, err)) != 0)
        return rc;
    f->fetched++;
    return 0;
}

/* The message must fit ipvm_error_t (320 bytes): the CID and what to do come first, the
 * sources' reasons last. */
static int unavailable(fetch_t *f, int rc, ipvm_error_t *err)
{
    char root[IPVM_CID_MAX_STR], part[IPVM_CID_MAX_STR + 16] = "";
    ipvm_cid_str(f->root, root);
    if (err && strcmp(err->msg + 6, root) != 0) /* err->msg is "block <cid>" */
        snprintf(part, sizeof part, " (its %s)", err->msg);
    int code = f->any_wrong ? IPVM_EHASHMISMATCH
                            : f->any_timeout && !f->any_missing ? IPVM_ETIMEDOUT : rc;
    const char *how = f->r->api ? "add it with 'ipvm add FILE' or check that the Kubo node has it"
                                : "add it with 'ipvm add FILE' or pass --ipfs-api HOST:PORT of a "
                                  "Kubo node that has it";
    return ipvm_error_set(err, code, IPVM_NO_OFFSET, "resource %s%s is not available: %s%s%s%s",
                          root, part, how, f->reasons[0] ? " [" : "", f->reasons,
                          f->reasons[0] ? "]" : "");
}

static int append(void *data, const uint8_t *p, size_t n)
{
    return ipvm_buf_append(data, p, n);
}

int ipvm_resolver_fetch_cid(ipvm_resolver_t *r, const ipvm_cid_t *cid, ipvm_buf_t *out,
                            ipvm_error_t *err)
{
    IPVM_MISUSE_IF(r == NULL || cid == NULL || out == NULL);
    fetch_t f;
    memset(&f, 0, sizeof f);
    f.r = r;
    f.root = cid;
    size_t start = out->len;
    int rc = ipvm__unixfs_walk(fetch_block, &f, cid, append, out, err);
    if (rc == 0 && f.fetched)
        rc = ipvm__blockstore_sync(r->bs, err); /* what was fetched is kept durably */
    if (rc != 0) {
        out->len = start;
        if (rc == IPVM_ENORESOURCE)
            return unavailable(&f, rc, err);
        if (rc == IPVM_ENOMEM)
            return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory");
    }
    return rc;
}

int ipvm_resolver_fetch(ipvm_resolver_t *r, const char *url, ipvm_buf_t *out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(r == NULL || url == NULL || out == NULL);
    ipvm_cid_t cid;
    int rc = ipvm_resource_cid(url, &cid, err);
    return rc ? rc : ipvm_resolver_fetch_cid(r, &cid, out, err);
}
