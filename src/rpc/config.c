/* SPDX-License-Identifier: Apache-2.0 */
/* The node's configuration: documented keys declared by each area, read from an INI file with
 * inih, from IPVM_<SECTION>_<KEY> environment variables and from flags, with typed values, the
 * origin of each value, and the commented template `ipvm node init` writes. */
#include "rpc_int.h"

#include <ini.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TABLES 16

static const ipvm_conf_key_t *tables[MAX_TABLES];
static size_t ntables;

/* clang-format off */
static const ipvm_conf_key_t ipvm_node_conf_keys[] = {
    {"node", "data_dir", IPVM_CONF_STRING, NULL,
     "Where the node keeps its database, blocks and compiled code. Default: the data directory "
     "this file is in (ipvm --data-dir DIR, $IPVM_DATA_DIR, ~/.local/share/ipvm).", 0, 0},
    {"node", "name", IPVM_CONF_STRING, "ipvm",
     "A name for this node, shown by the dashboard and `ipvm node status`.", 0, 0},
    {"node", "workers", IPVM_CONF_INT, "0",
     "Worker threads that run tasks (0: one per CPU core).", 0, 256},
    {"node", "pid_file", IPVM_CONF_STRING, NULL,
     "The pid file that `ipvm node stop` and `status` read (default: DATA_DIR/node.pid).", 0, 0},
    {"node", "log_file", IPVM_CONF_STRING, NULL,
     "Where a detached node (--detach) writes its log (default: DATA_DIR/node.log).", 0, 0},
    {"node", "shutdown_timeout", IPVM_CONF_DURATION, "20s",
     "On SIGTERM, how long to wait for running tasks to finish before exiting anyway.",
     0, 86400000},
    {"node", "resume", IPVM_CONF_BOOL, "true",
     "At start, resume the workflows that were running when the node last stopped.", 0, 0},
    {"node", "max_workflows", IPVM_CONF_INT, "10000",
     "Workflows running or queued at once; more submissions are refused with -32009.",
     1, 10000000},
    {"node", "runners", IPVM_CONF_INT, "16",
     "Workflows coordinated at once (each waits on the workers for its tasks); more queue.",
     1, 4096},
    {"node", "gcc_tier", IPVM_CONF_INT, "1",
     "Second compile tier for Wasm modules: 1 compiles with gcc -O2 in the background after the "
     "fast first compile, 2 waits for it before the first call, 0 never uses gcc.", 0, 2},
    {"node", "wasm_isa", IPVM_CONF_STRING, "auto",
     "The x86-64 level gcc compiles Wasm modules for: auto (this CPU's: x86-64-v2, v3 or v4), "
     "baseline (any x86-64), or x86-64-v2/v3/v4 (one level for a whole cluster; this CPU must "
     "have it). Results and fuel are the same at every level; each has its own cache entry.",
     0, 0},
    {"rpc", "enable", IPVM_CONF_BOOL, "true",
     "Serve JSON-RPC over WebSocket, /health, /metrics and the dashboard.", 0, 0},
    {"rpc", "host", IPVM_CONF_STRING, "127.0.0.1",
     "Address the API listens on. Anything but loopback exposes the node to the network.", 0, 0},
    {"rpc", "port", IPVM_CONF_INT, "1337",
     "TCP port of the API (Homestar's webserver port; 0 picks a free one).", 0, 65535},
    {"rpc", "socket", IPVM_CONF_STRING, NULL,
     "Also serve the API (the same JSON-RPC over WebSocket, /health, /metrics, dashboard) on "
     "this Unix-domain socket file, for local clients: ipvm run --node unix:///PATH. A relative "
     "path is taken from the directory the node starts in. A stale socket file there is "
     "replaced; one another node listens on fails the start. Removed when the node stops. "
     "Unset: TCP only.", 0, 0},
    {"rpc", "socket_mode", IPVM_CONF_STRING, "0600",
     "File mode of rpc.socket, in octal: who may connect. 0600 allows the node's user only; "
     "0660 also its group.", 0, 0},
    {"rpc", "max_clients", IPVM_CONF_INT, "1024",
     "WebSocket clients connected at once; more are refused during the handshake.", 1, 1000000},
    {"rpc", "max_message", IPVM_CONF_INT, "8M",
     "Largest request message in bytes; larger ones get -32007 and the socket is closed.",
     1024, 1073741824},
    {"rpc", "client_queue", IPVM_CONF_INT, "64M",
     "Bytes of notifications waiting for one slow client before it is disconnected.",
     65536, 4294967296},
    {"rpc", "max_subscriptions", IPVM_CONF_INT, "4096",
     "Subscriptions one client may hold.", 1, 10000000},
    {"rpc", "idle_timeout", IPVM_CONF_DURATION, "120s",
     "A client that answers no WebSocket ping for this long is closed.", 1000, 86400000},
    {"rpc", "handshake_timeout", IPVM_CONF_DURATION, "10s",
     "Time a new connection has to send its HTTP request or finish the WebSocket handshake.",
     1000, 3600000},
    {"limits", "fuel", IPVM_CONF_INT, "0",
     "Default fuel of a task that sets none in its meta (0: unlimited).", 0, INT64_MAX},
    {"limits", "memory", IPVM_CONF_INT, "4G",
     "Default linear-memory limit of a task in bytes (Homestar's default is 4 GiB).",
     65536, INT64_MAX},
    {"limits", "time", IPVM_CONF_DURATION, "100s",
     "Default wall-clock limit of one task (Homestar's default is 100 s).", 1, 86400000},
    {"resources", "ipfs_api", IPVM_CONF_STRING, NULL,
     "HOST:PORT of a Kubo HTTP API to fetch modules and data the blockstore lacks (e.g. "
     "127.0.0.1:5001, Homestar's default). Unset: none.", 0, 0},
    {"resources", "gateway", IPVM_CONF_STRING, NULL,
     "https://host of a trusted gateway to fetch from when the blockstore and Kubo lack a "
     "resource. Unset: none.", 0, 0},
    {"resources", "timeout", IPVM_CONF_DURATION, "30s",
     "Time limit of one network fetch.", 100, 3600000},
    {NULL, NULL, 0, NULL, NULL, 0, 0},
};
/* clang-format on */

typedef struct {
    const ipvm_conf_key_t *k;
    char *value;  /* NULL: unset */
    char *origin; /* "default", "file:line", ... */
    int64_t num;  /* parsed INT/DURATION/BOOL */
} entry_t;

struct ipvm_config_s {
    entry_t *e;
    size_t n;
};

void ipvm_config_register(const ipvm_conf_key_t *keys)
{
    for (size_t i = 0; i < ntables; i++)
        if (tables[i] == keys)
            return;
    IPVM_MISUSE_IF(ntables == MAX_TABLES);
    tables[ntables++] = keys;
}

static void register_builtin(void)
{
    ipvm_config_register(ipvm_node_conf_keys);
}

static entry_t *find(const ipvm_config_t *c, const char *section, size_t slen, const char *key)
{
    for (size_t i = 0; i < c->n; i++) {
        const ipvm_conf_key_t *k = c->e[i].k;
        if (strlen(k->section) == slen && strncmp(k->section, section, slen) == 0 &&
            strcmp(k->key, key) == 0)
            return &c->e[i];
    }
    return NULL;
}

static bool has_section(const ipvm_config_t *c, const char *section, size_t slen)
{
    for (size_t i = 0; i < c->n; i++)
        if (strlen(c->e[i].k->section) == slen && strncmp(c->e[i].k->section, section, slen) == 0)
            return true;
    return false;
}

/* ---- values -------------------------------------------------------------------------------- */

static int parse_bool(const char *s, int64_t *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return (*out = 1), 0;
        if (strcasecmp(s, no[i]) == 0)
            return (*out = 0), 0;
    }
    return IPVM_EINVAL;
}

/* Decimal integer with an optional size suffix (k, M, G, T: powers of 1024) or, for durations,
 * a unit (ms, s, m, h; a bare number is milliseconds). */
static int parse_number(const char *s, bool duration, int64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return IPVM_EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return IPVM_EINVAL;
    unsigned long long mul = 1;
    if (duration) {
        if (*end == '\0' || strcmp(end, "ms") == 0)
            mul = 1;
        else if (strcmp(end, "s") == 0)
            mul = 1000;
        else if (strcmp(end, "m") == 0)
            mul = 60000;
        else if (strcmp(end, "h") == 0)
            mul = 3600000;
        else
            return IPVM_EINVAL;
    } else if (*end) {
        const char *units = "kMGT";
        const char *u = end[1] == '\0' ? strchr(units, *end) : NULL;
        if (u == NULL && end[1] == '\0' && *end == 'K')
            u = units;
        if (u == NULL)
            return IPVM_EINVAL;
        for (const char *p = units; p <= u; p++)
            mul *= 1024;
    }
    if (v > (unsigned long long)INT64_MAX / mul)
        return IPVM_EINVAL;
    *out = (int64_t)(v * mul);
    return 0;
}

static int check_value(const ipvm_conf_key_t *k, const char *v, int64_t *num, char *why,
                       size_t whylen)
{
    *num = 0;
    switch (k->type) {
    case IPVM_CONF_STRING:
        return 0;
    case IPVM_CONF_BOOL:
        if (parse_bool(v, num) == 0)
            return 0;
        snprintf(why, whylen, "'%s' is not a boolean (use true or false)", v);
        return IPVM_EINVAL;
    case IPVM_CONF_INT:
    case IPVM_CONF_DURATION:
        if (parse_number(v, k->type == IPVM_CONF_DURATION, num) != 0) {
            snprintf(why, whylen,
                     k->type == IPVM_CONF_INT
                         ? "'%s' is not a whole number (digits, optionally followed by k, M or G)"
                         : "'%s' is not a duration (e.g. 500ms, 30s, 5m, 2h)",
                     v);
            return IPVM_EINVAL;
        }
        if ((k->min || k->max) && (*num < k->min || *num > k->max)) {
            snprintf(why, whylen, "%s is out of range (%lld..%lld%s)", v, (long long)k->min,
                     (long long)k->max, k->type == IPVM_CONF_DURATION ? " ms" : "");
            return IPVM_EINVAL;
        }
        return 0;
    }
    return IPVM_EINVAL;
}

static int set_entry(entry_t *e, const char *value, const char *origin)
{
    char *v = value ? ipvm_strdup(value) : NULL;
    char *o = ipvm_strdup(origin);
    if ((value && v == NULL) || o == NULL) {
        ipvm_free(v);
        ipvm_free(o);
        return IPVM_ENOMEM;
    }
    ipvm_free(e->value);
    ipvm_free(e->origin);
    e->value = v;
    e->origin = o;
    return 0;
}

int ipvm_config_new(ipvm_config_t **out)
{
    register_builtin();
    ipvm_config_t *c = ipvm_calloc(1, sizeof *c);
    if (c == NULL)
        return IPVM_ENOMEM;
    size_t n = 0;
    for (size_t t = 0; t < ntables; t++)
        for (const ipvm_conf_key_t *k = tables[t]; k->section; k++)
            n++;
    c->e = ipvm_calloc(n ? n : 1, sizeof *c->e);
    if (c->e == NULL)
        goto oom;
    for (size_t t = 0; t < ntables; t++) {
        for (const ipvm_conf_key_t *k = tables[t]; k->section; k++) {
            entry_t *e = &c->e[c->n++];
            e->k = k;
            char why[128];
            /* The defaults are ours: one that does not parse is a bug in a table. */
            if (k->def && check_value(k, k->def, &e->num, why, sizeof why) != 0)
                ipvm__misuse(why, __FILE__, __LINE__);
            if (set_entry(e, k->def, "default") != 0)
                goto oom;
        }
    }
    *out = c;
    return 0;
oom:
    ipvm_config_free(c);
    return IPVM_ENOMEM;
}

void ipvm_config_free(ipvm_config_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        ipvm_free(c->e[i].value);
        ipvm_free(c->e[i].origin);
    }
    ipvm_free(c->e);
    ipvm_free(c);
}

/* Edit distance, for "did you mean". */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    size_t row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t sub = prev + (a[i - 1] != b[j - 1]);
            size_t best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            prev = cur;
        }
    }
    return row[lb];
}

static void suggest(const ipvm_config_t *c, const char *section, const char *key, char *out,
                    size_t len)
{
    const ipvm_conf_key_t *best = NULL;
    size_t bd = 3;
    for (size_t i = 0; i < c->n; i++) {
        const ipvm_conf_key_t *k = c->e[i].k;
        size_t d = distance(k->key, key) + (section ? distance(k->section, section) : 0);
        if (d < bd) {
            bd = d;
            best = k;
        }
    }
    if (best)
        snprintf(out, len, "; did you mean %s.%s?", best->section, best->key);
    else
        snprintf(out, len, "; see 'ipvm node init --print' for every key");
}

/* "; did you mean [rpc]?" when a section is close to `section`, then every section there is. */
static void suggest_section(const ipvm_config_t *c, const char *section, char *out, size_t len)
{
    const char *best = NULL, *last = "";
    size_t bd = 3;
    char list[256] = "";
    size_t ll = 0;
    for (size_t i = 0; i < c->n; i++) {
        const char *s = c->e[i].k->section;
        if (strcmp(s, last) == 0)
            continue;
        last = s;
        size_t d = distance(s, section);
        if (d < bd) {
            bd = d;
            best = s;
        }
        if (ll < sizeof list)
            ll += (size_t)snprintf(list + ll, sizeof list - ll, "%s[%s]", ll ? ", " : "", s);
    }
    if (best)
        snprintf(out, len, "; did you mean [%s]? (the sections: %s)", best, list);
    else
        snprintf(out, len, "; the sections are %s", list);
}

/* "; did you mean rpc.port?" when a key is close, else the keys [section] has. */
static void suggest_key(const ipvm_config_t *c, const char *section, const char *key, char *out,
                        size_t len)
{
    suggest(c, section, key, out, len);
    if (strstr(out, "did you mean") != NULL)
        return;
    size_t n = (size_t)snprintf(out, len, "; the keys of [%s] are", section);
    const char *sep = " ";
    for (size_t i = 0; i < c->n && n < len; i++) {
        if (strcmp(c->e[i].k->section, section) == 0) {
            n += (size_t)snprintf(out + n, len - n, "%s%s", sep, c->e[i].k->key);
            sep = ", ";
        }
    }
}

/* ---- the INI reader (inih) ------------------------------------------------------------------ */

typedef struct pending_s {
    entry_t *e;
    char *value;
    int line;
    int64_t num;
} pending_t;

typedef struct {
    ipvm_config_t *c;
    const char *path;
    const char *p, *end; /* the text still to read */
    int line;            /* line the reader last returned */
    int err_line;        /* first error, 0 = none */
    char msg[400];
    pending_t *pend;
    size_t npend, cap;
    bool oom;
} load_t;

static void load_fail(load_t *L, const char *fmt, ...) IPVM_PRINTF(2, 3);
static void load_fail(load_t *L, const char *fmt, ...)
{
    if (L->err_line)
        return;
    L->err_line = L->line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->msg, sizeof L->msg, fmt, ap);
    va_end(ap);
}

/* fgets over the text, counting lines, refusing lines longer than inih's buffer. */
static char *reader(char *str, int num, void *stream)
{
    load_t *L = stream;
    if (L->p >= L->end)
        return NULL;
    L->line++;
    size_t max = (size_t)num - 1, n = 0;
    while (L->p + n < L->end && n < max && L->p[n] != '\n')
        n++;
    bool nl = L->p + n < L->end && L->p[n] == '\n';
    if (!nl && L->p + n < L->end) {
        load_fail(L, "line is longer than %d characters", num - 3);
        while (L->p < L->end && *L->p != '\n')
            L->p++;
        str[0] = '\n';
        str[1] = '\0';
        L->p += L->p < L->end;
        return str;
    }
    memcpy(str, L->p, n);
    if (nl)
        str[n++] = '\n';
    str[n] = '\0';
    L->p += n;
    return str;
}

static const char *unquote(const char *v, char *buf, size_t len)
{
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"' && n - 2 < len) {
        memcpy(buf, v + 1, n - 2);
        buf[n - 2] = '\0';
        return buf;
    }
    return v;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    load_t *L = user;
    char hint[300], why[160], qbuf[1024];
    if (*section == '\0') {
        load_fail(L, "'%s' is outside any [section]; put it under its section (e.g. [rpc])", name);
        return 0;
    }
    entry_t *e = find(L->c, section, strlen(section), name);
    if (e == NULL) {
        if (!has_section(L->c, section, strlen(section))) {
            suggest_section(L->c, section, hint, sizeof hint);
            load_fail(L, "unknown section [%s]%s", section, hint);
        } else {
            suggest_key(L->c, section, name, hint, sizeof hint);
            load_fail(L, "unknown key '%s' in [%s]%s", name, section, hint);
        }
        return 0;
    }
    value = unquote(value, qbuf, sizeof qbuf);
    int64_t num;
    if (check_value(e->k, value, &num, why, sizeof why) != 0) {
        load_fail(L, "%s.%s: %s", section, name, why);
        return 0;
    }
    if (L->npend == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 16;
        pending_t *p = ipvm_realloc(L->pend, cap * sizeof *p);
        if (p == NULL)
            return (L->oom = true), 0;
        L->pend = p;
        L->cap = cap;
    }
    char *copy = ipvm_strdup(value);
    if (copy == NULL)
        return (L->oom = true), 0;
    L->pend[L->npend++] = (pending_t){e, copy, L->line, num};
    return 1;
}

int ipvm_config_load_text(ipvm_config_t *c, const char *text, const char *path, ipvm_error_t *err)
{
    load_t L = {.c = c, .path = path ? path : "config", .p = text, .end = text + strlen(text)};
    int line = ini_parse_stream(reader, &L, handler, &L);
    int rc = 0;
    if (L.oom || line == -2) {
        rc = IPVM_ENOMEM;
    } else if (L.err_line || line != 0) {
        if (L.err_line == 0)
            snprintf(L.msg, sizeof L.msg, "expected [section], key = value or a # comment");
        rc = ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "%s:%d: %s", L.path,
                            L.err_line ? L.err_line : line, L.msg);
    }
    for (size_t i = 0; i < L.npend; i++) {
        if (rc == 0) {
            char origin[512];
            snprintf(origin, sizeof origin, "%s:%d", L.path, L.pend[i].line);
            rc = set_entry(L.pend[i].e, L.pend[i].value, origin);
            L.pend[i].e->num = L.pend[i].num;
        }
        ipvm_free(L.pend[i].value);
    }
    ipvm_free(L.pend);
    return rc;
}

int ipvm_config_load_file(ipvm_config_t *c, const char *path, ipvm_error_t *err)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    int rc = ipvm_file_read(path, &b, err);
    if (rc == 0 && b.len && memchr(b.data, '\0', b.len) != NULL)
        rc = ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                            "%s: contains a NUL byte; is it a text file?", path);
    if (rc == 0)
        rc = ipvm_config_load_text(c, b.len ? (const char *)b.data : "", path, err);
    ipvm_buf_dispose(&b);
    return rc;
}

/* ---- environment and flags ------------------------------------------------------------------- */

int ipvm_config_load_env(ipvm_config_t *c, char *const *envp, ipvm_error_t *err)
{
    for (; envp && *envp; envp++) {
        const char *var = *envp;
        const char *eq = strchr(var, '=');
        if (strncmp(var, "IPVM_", 5) != 0 || eq == NULL)
            continue;
        char name[128];
        size_t nl = (size_t)(eq - var) - 5;
        if (nl >= sizeof name)
            continue;
        for (size_t i = 0; i < nl; i++)
            name[i] = (char)tolower((unsigned char)var[5 + i]);
        name[nl] = '\0';
        char *us = strchr(name, '_');
        if (us == NULL || !has_section(c, name, (size_t)(us - name)))
            continue;
        entry_t *e = find(c, name, (size_t)(us - name), us + 1);
        char origin[160];
        snprintf(origin, sizeof origin, "env %.*s", (int)(eq - var), var);
        if (e == NULL) {
            char hint[300];
            *us = '\0';
            suggest_key(c, name, us + 1, hint, sizeof hint);
            return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "%s: no key '%s' in [%s]%s",
                                  origin, us + 1, name, hint);
        }
        int rc = ipvm_config_set(c, name, eq + 1, origin, err);
        if (rc)
            return rc;
    }
    return 0;
}

int ipvm_config_set(ipvm_config_t *c, const char *name, const char *value, const char *origin,
                    ipvm_error_t *err)
{
    const char *dot = strchr(name, '.');
    const char *us = strchr(name, '_');
    /* "section.key", or the "section_key" form the environment uses */
    const char *sep = dot ? dot : us;
    if (sep == NULL)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "%s: '%s' is not section.key (e.g. rpc.port)", origin, name);
    entry_t *e = find(c, name, (size_t)(sep - name), sep + 1);
    if (e == NULL) {
        char hint[300], sec[64];
        snprintf(sec, sizeof sec, "%.*s", (int)(sep - name), name);
        if (has_section(c, sec, strlen(sec))) {
            suggest_key(c, sec, sep + 1, hint, sizeof hint);
        } else {
            suggest(c, sec, sep + 1, hint, sizeof hint); /* trus.mode: trust.mode */
            if (strstr(hint, "did you mean") == NULL)
                suggest_section(c, sec, hint, sizeof hint);
        }
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "%s: no setting %s%s", origin, name,
                              hint);
    }
    int64_t num;
    char why[160];
    if (check_value(e->k, value, &num, why, sizeof why) != 0)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "%s: %s.%s: %s", origin,
                              e->k->section, e->k->key, why);
    int rc = set_entry(e, value, origin);
    if (rc == 0)
        e->num = num;
    return rc;
}

/* ---- getters --------------------------------------------------------------------------------- */

static const entry_t *get(const ipvm_config_t *c, const char *section, const char *key, int want)
{
    const entry_t *e = find(c, section, strlen(section), key);
    IPVM_MISUSE_IF(e == NULL);
    IPVM_MISUSE_IF(want >= 0 && (int)e->k->type != want &&
                   !(want == IPVM_CONF_INT && e->k->type == IPVM_CONF_DURATION));
    return e;
}

const char *ipvm_config_str(const ipvm_config_t *c, const char *section, const char *key)
{
    return get(c, section, key, IPVM_CONF_STRING)->value;
}

int64_t ipvm_config_int(const ipvm_config_t *c, const char *section, const char *key)
{
    return get(c, section, key, IPVM_CONF_INT)->num;
}

bool ipvm_config_bool(const ipvm_config_t *c, const char *section, const char *key)
{
    return get(c, section, key, IPVM_CONF_BOOL)->num != 0;
}

const char *ipvm_config_origin(const ipvm_config_t *c, const char *section, const char *key)
{
    return get(c, section, key, -1)->origin;
}

/* ---- writing --------------------------------------------------------------------------------- */

static const char *conf_type_name(ipvm_conf_type_t t)
{
    switch (t) {
    case IPVM_CONF_STRING:
        return "text";
    case IPVM_CONF_INT:
        return "number";
    case IPVM_CONF_BOOL:
        return "true/false";
    case IPVM_CONF_DURATION:
        return "duration";
    }
    return "?";
}

static int env_name(const ipvm_conf_key_t *k, char *out, size_t len)
{
    int n = snprintf(out, len, "IPVM_%s_%s", k->section, k->key);
    for (char *p = out + 5; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return n;
}

/* "# doc..." wrapped at about 96 columns. */
static int append_doc(ipvm_buf_t *out, const char *doc)
{
    int rc = 0;
    size_t col = 0;
    const char *p = doc;
    while (rc == 0 && *p) {
        const char *sp = strchr(p, ' ');
        size_t w = sp ? (size_t)(sp - p) : strlen(p);
        if (col == 0)
            rc = ipvm_buf_append_str(out, "#"), col = 1;
        if (rc == 0 && col + 1 + w > 96 && col > 1)
            rc = ipvm_buf_append_str(out, "\n#"), col = 1;
        if (rc == 0)
            rc = ipvm_buf_printf(out, " %.*s", (int)w, p);
        col += w + 1;
        p += w;
        while (*p == ' ')
            p++;
    }
    if (rc == 0)
        rc = ipvm_buf_append_byte(out, '\n');
    return rc;
}

int ipvm_config_write_template(ipvm_buf_t *out)
{
    register_builtin();
    int rc = ipvm_buf_append_str(
        out, "# ipvm node configuration, written by `ipvm node init`.\n"
             "# Every key is listed with its default, commented out: remove the '#' in front of\n"
             "# a key to change it. Values set here are overridden by environment variables\n"
             "# (IPVM_<SECTION>_<KEY>, e.g. IPVM_RPC_PORT=8080) and by flags of `ipvm node\n"
             "# start` (e.g. --port 8080, or --set rpc.port=8080).\n"
             "# Sizes take k, M or G (powers of 1024); durations take ms, s, m or h.\n");
    const char *last = "";
    for (size_t t = 0; rc == 0 && t < ntables; t++) {
        for (const ipvm_conf_key_t *k = tables[t]; rc == 0 && k->section; k++) {
            char env[128];
            if (strcmp(k->section, last) != 0)
                rc = ipvm_buf_printf(out, "\n[%s]\n", k->section);
            last = k->section;
            env_name(k, env, sizeof env);
            if (rc == 0)
                rc = append_doc(out, k->doc);
            if (rc == 0)
                rc = ipvm_buf_printf(out, "# (%s; environment: %s)\n#%s =%s%s\n\n",
                                     conf_type_name(k->type), env, k->key, k->def ? " " : "",
                                     k->def ? k->def : "");
        }
    }
    return rc;
}

int ipvm_config_write_keys(ipvm_buf_t *out)
{
    register_builtin();
    int rc = ipvm_buf_printf(out, "  %-28s %-11s %s\n", "setting", "default", "environment");
    for (size_t t = 0; rc == 0 && t < ntables; t++) {
        for (const ipvm_conf_key_t *k = tables[t]; rc == 0 && k->section; k++) {
            char name[128], env[128];
            snprintf(name, sizeof name, "%s.%s", k->section, k->key);
            env_name(k, env, sizeof env);
            const char *def = k->def == NULL ? "(unset)" : *k->def ? k->def : "\"\"";
            rc = ipvm_buf_printf(out, "  %-28s %-11s %s\n", name, def, env);
        }
    }
    return rc;
}

int ipvm_config_dump_json(const ipvm_config_t *c, ipvm_buf_t *out)
{
    int rc = ipvm_buf_append_byte(out, '{');
    for (size_t i = 0; rc == 0 && i < c->n; i++) {
        const entry_t *e = &c->e[i];
        char name[128];
        int n = snprintf(name, sizeof name, "%s.%s", e->k->section, e->k->key);
        rc = i ? ipvm_buf_append_byte(out, ',') : 0;
        if (rc == 0)
            rc = ipvm_json_append_str(out, name, (size_t)n);
        if (rc == 0)
            rc = ipvm_buf_append_str(out, ":{\"value\":");
        if (rc == 0 && e->value == NULL)
            rc = ipvm_buf_append_str(out, "null");
        else if (rc == 0 && e->k->type == IPVM_CONF_STRING)
            rc = ipvm_json_append_str(out, e->value, strlen(e->value));
        else if (rc == 0 && e->k->type == IPVM_CONF_BOOL)
            rc = ipvm_buf_append_str(out, e->num ? "true" : "false");
        else if (rc == 0)
            rc = ipvm_buf_printf(out, "%lld", (long long)e->num);
        if (rc == 0)
            rc = ipvm_buf_append_str(out, ",\"origin\":");
        if (rc == 0)
            rc = ipvm_json_append_str(out, e->origin, strlen(e->origin));
        if (rc == 0)
            rc = ipvm_buf_append_byte(out, '}');
    }
    if (rc == 0)
        rc = ipvm_buf_append_str(out, "}\n");
    return rc;
}

int ipvm_config_dump(const ipvm_config_t *c, ipvm_buf_t *out)
{
    int rc = 0;
    const char *last = "";
    for (size_t i = 0; rc == 0 && i < c->n; i++) {
        const entry_t *e = &c->e[i];
        if (strcmp(e->k->section, last) != 0)
            rc = ipvm_buf_printf(out, "%s[%s]\n", i ? "\n" : "", e->k->section);
        last = e->k->section;
        if (rc == 0)
            rc = ipvm_buf_printf(out, "%s%s = %s    # %s\n", e->value ? "" : "#", e->k->key,
                                 e->value ? e->value : "", e->origin);
    }
    return rc;
}
