/* SPDX-License-Identifier: Apache-2.0 */
/* ipvm/rpc.h: the node's API. JSON-RPC 2.0 over WebSocket with Homestar's method names and
 * notification encoding (reference/homestar.md §6.1), plain HTTP on the same port (/health,
 * Prometheus /metrics, the dashboard at /), served by libwebsockets on the node's libuv loop;
 * the metrics registry; the node's configuration (an INI file read by inih, IPVM_* environment
 * variables, flags); and the WebSocket client that `ipvm run --node` uses.
 *
 * How other areas plug into the node (see also src/daemon/daemon.h):
 *  - methods: ipvm_rpc_server_add_method() / ipvm_rpc_server_add_subscription() register more
 *    JSON-RPC methods (they appear in rpc_discover); handlers run on the loop thread.
 *  - network events: ipvm_rpc_server_publish_event() (any thread) sends a Homestar network
 *    notification {"<event>": {timestamp, ...}} to every subscribe_network_events subscriber.
 *  - node info: ipvm_rpc_server_set_node_info() supplies the `node` method's peer id,
 *    listeners and connections (the p2p engineer's swarm).
 *  - configuration: ipvm_config_register() adds a section of documented keys; `ipvm node init`
 *    writes every registered key, commented; values come from the file, IPVM_<SECTION>_<KEY>
 *    and flags.
 *  - submissions: ipvm_rpc_workflow_opts_t.admit is called before a submitted workflow runs
 *    (the trust engineer's UCAN check), and may refuse it with a reason. */
#ifndef IPVM_RPC_H
#define IPVM_RPC_H

#include "sched.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ JSON-RPC 2.0 messages ---- */
/* Error codes (JSON-RPC 2.0 §5.1, and jsonrpsee's server codes that Homestar's clients see). */
#define IPVM_RPC_PARSE_ERROR -32700
#define IPVM_RPC_INVALID_REQUEST -32600
#define IPVM_RPC_METHOD_NOT_FOUND -32601
#define IPVM_RPC_INVALID_PARAMS -32602
#define IPVM_RPC_INTERNAL_ERROR -32603
#define IPVM_RPC_OVERSIZED_REQUEST -32007 /* compat: jsonrpsee ErrorCode::OversizedRequest */
#define IPVM_RPC_SERVER_BUSY                                                                       \
    -32009 /* compat: jsonrpsee ErrorCode::ServerIsBusy, which                                     \
              Homestar uses for "not able to run workflow <cid>" */

#define IPVM_RPC_MAX_BATCH 256 /* requests in one batch */

/* One request of a message. When `code` is not 0 the request is invalid: `code` and `message`
 * say why, and the reply is that error (with `id` when it could be read). */
typedef struct ipvm_rpc_request_s {
    const ipvm_ipld_t *id;     /* string, integer, float or null; NULL: a notification (no id) */
    const char *method;        /* NUL-terminated, NULL when invalid */
    const ipvm_ipld_t *params; /* list or map, NULL when absent */
    int code;                  /* 0, or the IPVM_RPC_* error for this request */
    const char *message;       /* the reason when code != 0 (in the arena) */
} ipvm_rpc_request_t;

typedef struct ipvm_rpc_message_s {
    ipvm_rpc_request_t *requests; /* in the arena */
    size_t count;                 /* >= 1 */
    bool batch;                   /* the message was a JSON array: reply with an array */
} ipvm_rpc_message_t;

/* Parses one WebSocket text message with the strict DAG-JSON decoder (so workflow params keep
 * their links, bytes and big integers exactly as Homestar reads them). Returns 0 when the
 * message is JSON (each request then carries its own validity in `code`), or
 * IPVM_EJSON when it is not JSON at all (the reply is one -32700 error with a null id; err
 * says what and where). An empty batch is one invalid request. Memory comes from `arena`.
 * Thread: any. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_message_parse(const char *buf, size_t len,
                                                       ipvm_arena_t *arena,
                                                       ipvm_rpc_message_t *out /* out */,
                                                       ipvm_error_t *err);

/* Response writers. Each appends one complete JSON text to `out` ({"jsonrpc":"2.0",...}) and
 * returns 0 or IPVM_ENOMEM (out restored). `id` may be NULL for a null id. `result_json` is an
 * already-encoded JSON value (copied). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_format_result(ipvm_buf_t *out, const ipvm_ipld_t *id,
                                                       const char *result_json, size_t len);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_format_error(ipvm_buf_t *out, const ipvm_ipld_t *id,
                                                      int code, const char *message);
/* A subscription notification as jsonrpsee sends it:
 * {"jsonrpc":"2.0","method":M,"params":{"subscription":S,"result":R}}. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_format_notification(ipvm_buf_t *out, const char *method,
                                                             const char *subscription,
                                                             const char *result_json, size_t len);
/* Homestar's notification payload: the bytes of a document as a JSON array of numbers
 * ("[123,34,...]"; compat: homestar-runtime webserver/rpc.rs sends Vec<u8> through
 * SubscriptionMessage::from_json). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_bytes_to_json(const uint8_t *bytes, size_t len,
                                                       ipvm_buf_t *out);
/* The reverse, for the DAG-CBOR form of subscribe_run_workflow's params and for clients:
 * `v` must be a list of integers 0..255. Bytes are appended to out. IPVM_EKIND otherwise
 * (err names the index). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_json_to_bytes(const ipvm_ipld_t *v, ipvm_buf_t *out,
                                                       ipvm_error_t *err);
/* Appends s (len bytes) as a JSON string literal with the needed escapes. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_json_append_str(ipvm_buf_t *out, const char *s, size_t len);

/* ----------------------------------------------------------------------------- metrics ---- */
/* A registry of Prometheus metrics. Updates are lock-free (C11 atomics) and may come from any
 * thread; registration and rendering take a mutex. Names get the registry's prefix
 * ("ipvm_"). Histograms have fixed buckets given at registration. */
typedef struct ipvm_metrics_s ipvm_metrics_t;
typedef struct ipvm_metric_s ipvm_metric_t;

typedef enum {
    IPVM_METRIC_COUNTER = 0,
    IPVM_METRIC_GAUGE,
    IPVM_METRIC_HISTOGRAM,
} ipvm_metric_type_t;

IPVM_EXTERN IPVM_MUST_CHECK int ipvm_metrics_new(const char *prefix, ipvm_metrics_t **out);
IPVM_EXTERN void ipvm_metrics_free(ipvm_metrics_t *m);
/* Registers (or finds, when the name exists with the same type) a metric. `name` and `help` are
 * copied. `buckets` (upper bounds, increasing, nbuckets <= 32) only for histograms.
 * Returns NULL on OOM or a type clash. The metric lives as long as the registry. */
IPVM_EXTERN ipvm_metric_t *ipvm_metrics_add(ipvm_metrics_t *m, ipvm_metric_type_t type,
                                            const char *name, const char *help,
                                            const double *buckets, size_t nbuckets);
IPVM_EXTERN void ipvm_metric_inc(ipvm_metric_t *x, uint64_t by);   /* counter or gauge */
IPVM_EXTERN void ipvm_metric_set(ipvm_metric_t *x, int64_t value); /* gauge */
IPVM_EXTERN void ipvm_metric_add(ipvm_metric_t *x, int64_t delta); /* gauge */
IPVM_EXTERN void ipvm_metric_observe(ipvm_metric_t *x, double v);  /* histogram */
IPVM_EXTERN int64_t ipvm_metric_value(const ipvm_metric_t *x);     /* counter, gauge, hist count */
/* Prometheus text exposition format 0.0.4. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_metrics_render(ipvm_metrics_t *m, ipvm_buf_t *out);
/* Homestar's JSON shape of the `metrics` method: {"metrics":[{"metric_type","metric_name",
 * "help","data":[{"type":"metric","labels":null,"value":"3"}]}]} (histograms:
 * {"type":"histogram","labels":null,"buckets":{"0.1":"2",...},"count":"..","sum":".."}). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_metrics_render_json(ipvm_metrics_t *m, ipvm_buf_t *out);

/* ------------------------------------------------------------------------ configuration ---- */
/* Settings come from, in increasing priority: built-in defaults, the config file (INI:
 * [section] and key = value, '#' or ';' comments), environment variables IPVM_<SECTION>_<KEY>
 * (upper case), and flags (`--set section.key=value` or a command's own flags). Every key is
 * declared with its type, default and a sentence of documentation. */
typedef enum {
    IPVM_CONF_STRING = 0,
    IPVM_CONF_INT,      /* decimal, with optional k/M/G suffix (×1024) for sizes */
    IPVM_CONF_BOOL,     /* true/false, yes/no, on/off, 1/0 */
    IPVM_CONF_DURATION, /* milliseconds; accepts "250ms", "30s", "5m", "2h" or a bare number of ms
                         */
} ipvm_conf_type_t;

typedef struct ipvm_conf_key_s {
    const char *section; /* "rpc" */
    const char *key;     /* "port" */
    ipvm_conf_type_t type;
    const char *def;  /* default as text ("1337"); NULL: unset */
    const char *doc;  /* one or two sentences for the template */
    int64_t min, max; /* range for INT and DURATION (both 0: unchecked) */
} ipvm_conf_key_t;

typedef struct ipvm_config_s ipvm_config_t;

/* Registers a table of keys (borrowed: static storage), terminated by a {NULL} entry. Each area
 * registers its section once per process before ipvm_config_new (the node's own [node], [rpc]
 * and [limits] are always there; p2p registers [p2p]). Idempotent per table. Thread: before any
 * config exists. */
IPVM_EXTERN void ipvm_config_register(const ipvm_conf_key_t *keys);

IPVM_EXTERN IPVM_MUST_CHECK int ipvm_config_new(ipvm_config_t **out);
IPVM_EXTERN void ipvm_config_free(ipvm_config_t *c);
/* Reads an INI text (path is only for messages). Unknown sections or keys and values that do
 * not parse fail with IPVM_EINVAL and a message "path:line: ..." that names the key and, when
 * close, the key that was meant. On failure no value of the text is kept. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_config_load_text(ipvm_config_t *c, const char *text,
                                                      const char *path, ipvm_error_t *err);
/* Reads a file; IPVM_ENOENT (and nothing changed) when it does not exist. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_config_load_file(ipvm_config_t *c, const char *path,
                                                      ipvm_error_t *err);
/* Applies IPVM_<SECTION>_<KEY> variables from `envp` (NULL-terminated "NAME=value", usually
 * environ). Variables that name no key are ignored, except IPVM_ ones that match a section
 * prefix and no key, which fail so that typos are seen. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_config_load_env(ipvm_config_t *c, char *const *envp,
                                                     ipvm_error_t *err);
/* Sets one value ("section.key", "value") from a flag. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_config_set(ipvm_config_t *c, const char *name,
                                                const char *value, const char *origin,
                                                ipvm_error_t *err);
/* Typed getters for declared keys (misuse to ask for an undeclared key or the wrong type).
 * Strings are owned by the config. */
IPVM_EXTERN const char *ipvm_config_str(const ipvm_config_t *c, const char *section,
                                        const char *key);
IPVM_EXTERN int64_t ipvm_config_int(const ipvm_config_t *c, const char *section, const char *key);
IPVM_EXTERN bool ipvm_config_bool(const ipvm_config_t *c, const char *section, const char *key);
/* Where the value came from: "default", "<file>:<line>", "env IPVM_RPC_PORT", "flag --port". */
IPVM_EXTERN const char *ipvm_config_origin(const ipvm_config_t *c, const char *section,
                                           const char *key);
/* Writes the documented template: every registered section and key, each commented out with
 * its doc, type and default (what `ipvm node init` writes). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_config_write_template(ipvm_buf_t *out);
/* Writes one line per registered key: "section.key", its default and its environment variable,
 * under a heading line (the list `ipvm node start --help` shows). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_config_write_keys(ipvm_buf_t *out);
/* Writes the effective settings as INI, each with its origin as a comment. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_config_dump(const ipvm_config_t *c, ipvm_buf_t *out);
/* The same as one JSON object and a newline: {"rpc.port": {"value": 1337, "origin": "default"},
 * ...}; numbers for sizes and durations (in ms), booleans, strings, null when unset. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_config_dump_json(const ipvm_config_t *c, ipvm_buf_t *out);

/* ------------------------------------------------------------------------------ server ---- */
typedef struct ipvm_rpc_server_s ipvm_rpc_server_t;
typedef struct ipvm_rpc_call_s ipvm_rpc_call_t;

typedef struct ipvm_rpc_server_opts_s {
    const char *host;             /* listen address, "127.0.0.1" (NULL: that) */
    int port;                     /* 1337; 0 binds an ephemeral port (read it back) */
    size_t max_clients;           /* WebSocket clients at once (0: 1024) */
    size_t max_message;           /* bytes of one incoming message (0: 8 MiB) */
    size_t client_queue_bytes;    /* unsent bytes per client before it is cut off (0: 64 MiB) */
    unsigned idle_timeout_s;      /* a client that answers no ping this long is closed (0: 120) */
    unsigned handshake_timeout_s; /* HTTP request / WebSocket handshake must finish (0: 10) */
    size_t max_subscriptions;     /* per client (0: 4096) */
    ipvm_metrics_t *metrics;      /* borrowed; the registry served at /metrics (may be NULL) */
    const char *node_name;        /* shown by the dashboard (copied; NULL: "ipvm") */
    const char *socket_path;      /* also serve on this Unix-domain socket (copied; NULL, "": no) */
    unsigned socket_mode;         /* the socket file's mode (0: 0600, the owner only) */
} ipvm_rpc_server_opts_t;

/* Creates the server on `loop` (a uv_loop_t *, borrowed: it must outlive the server) and starts
 * listening. Errors: IPVM_EIO with err naming the address, why (e.g. address already in
 * use) and what to change, when the port cannot be bound. With socket_path, the same API is
 * served on that socket too: a stale socket file there (nobody listening) is replaced; a live
 * one (IPVM_EIO), a file that is not a socket (IPVM_EEXIST) or a path too long (IPVM_EINVAL)
 * fails the start, the file left as it was. The file is removed when the server closes.
 * After a failure, what was opened on the loop (lws's handles) closes there: run the loop until
 * it has no more handles before closing it (uv_run), as after ipvm_rpc_server_close.
 * Thread: the loop thread, and so are all the functions below except those marked otherwise. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_server_new(void *loop, const ipvm_rpc_server_opts_t *opts,
                                                    ipvm_rpc_server_t **out, ipvm_error_t *err);
/* The port actually bound. */
IPVM_EXTERN int ipvm_rpc_server_port(const ipvm_rpc_server_t *s);
/* Starts closing: no new connections; open ones get a close frame. `cb` runs once, on the loop,
 * when every handle is closed and the server is freed (then the loop may be closed). */
IPVM_EXTERN void ipvm_rpc_server_close(ipvm_rpc_server_t *s, void (*cb)(void *data), void *data);
/* Number of WebSocket clients connected now. */
IPVM_EXTERN size_t ipvm_rpc_server_clients(const ipvm_rpc_server_t *s);

/* A method handler. `params` (borrowed for the call) is NULL, a list or a map. The handler must
 * answer exactly once, now or later, with ipvm_rpc_call_reply*() or ipvm_rpc_call_fail(); if it
 * returns non-zero without answering, the call is failed with -32603 and that error's text. */
typedef int (*ipvm_rpc_method_fn)(ipvm_rpc_call_t *call, const ipvm_ipld_t *params, void *data);

typedef struct ipvm_rpc_method_s {
    const char *name;        /* "health" (borrowed: static storage) */
    const char *summary;     /* one line for rpc_discover */
    const char *params_json; /* OpenRPC "params" array as JSON text ("[]") */
    const char *result_json; /* OpenRPC "result" object as JSON text */
    ipvm_rpc_method_fn fn;
    void *data;
} ipvm_rpc_method_t;

/* Adds a method (the struct is copied; its strings are borrowed). IPVM_EEXIST when the name is
 * taken. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_server_add_method(ipvm_rpc_server_t *s,
                                                           const ipvm_rpc_method_t *m);
/* Adds a subscription method `m->name` whose notifications carry that name, and its
 * unsubscribe method `unsubscribe` (params [subscription id], result true/false). The handler
 * accepts with ipvm_rpc_call_subscribe() or fails the call. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_server_add_subscription(ipvm_rpc_server_t *s,
                                                                 const ipvm_rpc_method_t *m,
                                                                 const char *unsubscribe);

/* Answers with a result given as JSON text (copied). */
IPVM_EXTERN void ipvm_rpc_call_reply(ipvm_rpc_call_t *call, const char *json, size_t len);
/* Answers with an IPLD value encoded as DAG-JSON. */
IPVM_EXTERN void ipvm_rpc_call_reply_ipld(ipvm_rpc_call_t *call, const ipvm_ipld_t *v);
IPVM_EXTERN void ipvm_rpc_call_fail(ipvm_rpc_call_t *call, int code, const char *fmt, ...)
    IPVM_PRINTF(3, 4);
/* Accepts a subscription: answers the call with a new 16-character subscription id and
 * delivers, from now on, every ipvm_rpc_server_publish() for (this method, `topic`) to the
 * client. `topic` is copied ("" matches publishes to "" only). *sub_id (may be NULL) receives
 * the id (valid until the subscription ends). 0, IPVM_ENOMEM, or IPVM_ETOOBIG when the client
 * has too many subscriptions (the call is then failed too). */
IPVM_EXTERN int ipvm_rpc_call_subscribe(ipvm_rpc_call_t *call, const char *topic,
                                        const char **sub_id /* out, may be NULL */);
/* The server the call came to, and the remote address ("127.0.0.1:53122"). */
IPVM_EXTERN ipvm_rpc_server_t *ipvm_rpc_call_server(const ipvm_rpc_call_t *call);
IPVM_EXTERN const char *ipvm_rpc_call_peer(const ipvm_rpc_call_t *call);
/* True when the client went away before the answer (answering is then a no-op). */
IPVM_EXTERN bool ipvm_rpc_call_orphaned(const ipvm_rpc_call_t *call);

/* Sends `payload` (JSON text, copied) as a notification to every subscription of `method`
 * with `topic`. When `as_bytes` the payload is sent as Homestar does: the bytes of the
 * document as a JSON array of numbers. Returns the number of subscriptions reached.
 * Thread: the loop thread (use ipvm_rpc_server_publish_async elsewhere). */
IPVM_EXTERN size_t ipvm_rpc_server_publish(ipvm_rpc_server_t *s, const char *method,
                                           const char *topic, const char *payload, size_t len,
                                           bool as_bytes);
/* The same from any thread: queued and delivered on the loop thread. 0 or IPVM_ENOMEM. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_server_publish_async(ipvm_rpc_server_t *s,
                                                              const char *method, const char *topic,
                                                              const char *payload, size_t len,
                                                              bool as_bytes);
/* Publishes a Homestar network event to subscribe_network_events subscribers and to the
 * dashboard: the document {"<event>": fields + {"timestamp": <ms>}} (fields: an IPLD map,
 * borrowed for the call, or NULL). Thread: any. */
IPVM_EXTERN IPVM_MUST_CHECK int
ipvm_rpc_server_publish_event(ipvm_rpc_server_t *s, const char *event, const ipvm_ipld_t *fields);
/* Sends a dashboard event (ours, not Homestar's) to subscribe_node_events subscribers as a
 * plain JSON object {"type": type, ...payload's keys}. `payload_json` is a JSON object text.
 * Thread: the loop thread. */
IPVM_EXTERN void ipvm_rpc_server_node_event(ipvm_rpc_server_t *s, const char *type,
                                            const char *payload_json, size_t len);

/* The `node` method's answer. The callback fills `out` with a map
 * {"static": {"peer_id": ...}, "dynamic": {"listeners": [...], "connections": {...}}} in
 * `arena`. Without a provider the node answers with its own (p2p-less) info. Thread: loop. */
typedef int (*ipvm_rpc_node_info_fn)(void *data, ipvm_arena_t *arena, ipvm_ipld_t **out);
IPVM_EXTERN void ipvm_rpc_server_set_node_info(ipvm_rpc_server_t *s, ipvm_rpc_node_info_fn fn,
                                               void *data);
/* The `health` check: returns 0 when healthy, else an error whose text is reported. Runs on the
 * thread pool (it may touch SQLite). Without one the node is healthy when it runs. */
typedef int (*ipvm_rpc_health_fn)(void *data, ipvm_error_t *err);
IPVM_EXTERN void ipvm_rpc_server_set_health(ipvm_rpc_server_t *s, ipvm_rpc_health_fn fn,
                                            void *data);

/* The OpenRPC document of every registered method (what rpc_discover returns, as a string). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_server_openrpc(const ipvm_rpc_server_t *s,
                                                        ipvm_buf_t *out);

/* The dashboard page (HTML with its script and style inline), served at GET /. */
IPVM_EXTERN const char *ipvm_rpc_dashboard_html(size_t *len /* out */);

/* ------------------------------------------------------------------- workflows over RPC ---- */
/* subscribe_run_workflow / unsubscribe_run_workflow (Homestar's names, params and notification
 * document; reference/homestar.md §6.1) and our `workflows` method, on top of the scheduler.
 * Submissions are parsed and run on runner threads (ipvm_sched_run is blocking); the
 * subscription is answered once the workflow is accepted, then every receipt of the run, and of
 * every other run of the same (workflow CID, name), is sent as
 *   {"metadata": {"name", "replayed", "workflow": Link}, "receipt": {...}, "receipt_cid": Link}
 * in DAG-JSON bytes. Errors: -32602 for params that are not a workflow (the message says what
 * is wrong and where), -32009 "not able to run workflow <cid>: why" for one the node cannot run
 * (busy, shutting down, refused by admission). */
typedef struct ipvm_rpc_workflows_s ipvm_rpc_workflows_t;

/* Admission (trust): called on a runner thread after the workflow parsed and before it runs.
 * `submission` is the whole params object ({name, workflow, ...any other keys, e.g. a UCAN}),
 * borrowed for the call. Return 0 to run it, with *auth (may stay NULL) handed to the
 * scheduler as the run's opts.auth and later to auth_free; or an error with err saying why
 * (the client gets -32009 with that reason). */
typedef int (*ipvm_rpc_admit_fn)(void *data, const ipvm_workflow_t *wf, const char *name,
                                 const ipvm_ipld_t *submission, void **auth, ipvm_error_t *err);
typedef void (*ipvm_rpc_auth_free_fn)(void *data, void *auth);
/* Whether admitting this submission needs no I/O and little CPU (e.g. no token to verify):
 * then it may run on the loop thread, which parses, admits and answers the subscribe at once
 * (the workflow then waits for a runner already accepted). NULL: always on a runner. */
typedef bool (*ipvm_rpc_admit_inline_fn)(void *data, const ipvm_ipld_t *submission);

typedef struct ipvm_rpc_workflows_opts_s {
    ipvm_sched_t *sched;     /* borrowed */
    const char *db_path;     /* the scheduler's database (resume, out-of-workflow awaits) */
    unsigned runners;        /* workflows coordinated at once (0: 16) */
    size_t max_workflows;    /* queued + running before -32009 (0: 10000) */
    ipvm_metrics_t *metrics; /* borrowed, may be NULL */
    ipvm_rpc_admit_fn admit; /* may be NULL: everything is admitted */
    ipvm_rpc_auth_free_fn auth_free;
    void *admit_data;
    ipvm_rpc_admit_inline_fn admit_inline; /* may be NULL (see its type); only with admit */
} ipvm_rpc_workflows_opts_t;

/* Registers the methods on `s` and starts the runner threads. opts is copied (db_path too).
 * Thread: the loop thread. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_workflows_new(ipvm_rpc_server_t *s,
                                                       const ipvm_rpc_workflows_opts_t *opts,
                                                       ipvm_rpc_workflows_t **out,
                                                       ipvm_error_t *err);
/* Queues every workflow the store says was running (a node that stopped or crashed mid-run),
 * under its stored name, with no subscriber; *count (may be NULL) gets how many. */
IPVM_EXTERN IPVM_MUST_CHECK int
ipvm_rpc_workflows_resume(ipvm_rpc_workflows_t *w, size_t *count /* out */, ipvm_error_t *err);
/* Stops taking submissions (-32009 "shutting down"), cancels the runs (tasks already running
 * finish and their receipts are committed; the workflows stay "running" in the store, so the
 * next start resumes them), waits at most timeout_ms for that, then calls cb on the loop. */
IPVM_EXTERN void ipvm_rpc_workflows_drain(ipvm_rpc_workflows_t *w, uint64_t timeout_ms,
                                          void (*cb)(void *data), void *data);
/* Joins the runner threads and frees. After drain's callback. */
IPVM_EXTERN void ipvm_rpc_workflows_free(ipvm_rpc_workflows_t *w);
/* Workflows queued or running now. Any thread. */
IPVM_EXTERN size_t ipvm_rpc_workflows_active(const ipvm_rpc_workflows_t *w);

/* -------------------------------------------------------------------- the node's executor ---- */
/* The scheduler executor a long-running node uses: the default one (resolver, then the Wasm
 * engine, then ipvm_wasm_call) plus a cache of loaded modules by resource URL across runs, so a
 * node that runs the same module for many workflows fetches, verifies and loads it once
 * (resources are content-addressed, so the URL names the bytes). Counts module loads, cache
 * hits and load times (fetch + validate + compile, or the engine's disk cache) in `metrics`.
 * Thread-safe, as executors must be. */
typedef struct ipvm_node_exec_s ipvm_node_exec_t;

/* engine, resolver and metrics are borrowed (may be NULL: then load fails as the default
 * executor does); max_modules 0 means 64. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_node_exec_new(ipvm_wasm_engine_t *engine,
                                                   ipvm_resolver_t *resolver,
                                                   ipvm_metrics_t *metrics, size_t max_modules,
                                                   ipvm_node_exec_t **out);
/* The executor to put in ipvm_sched_opts_t.executor (valid while x lives). */
IPVM_EXTERN const ipvm_sched_executor_t *ipvm_node_exec_executor(ipvm_node_exec_t *x);
/* Releases the cached modules. After the scheduler that used it is freed. */
IPVM_EXTERN void ipvm_node_exec_free(ipvm_node_exec_t *x);

/* ------------------------------------------------------------------------------ client ---- */
/* A blocking JSON-RPC client over WebSocket (libwebsockets on a private libuv loop), for the
 * CLI, tests and the benchmark. One client (or clients sharing a loop, below) is used by one
 * thread. */
typedef struct ipvm_rpc_client_s ipvm_rpc_client_t;

/* Connects to "ws://host:port[/path]", or "unix:///path/to/socket" (a node's rpc.socket), within
 * timeout_ms. Errors: IPVM_EINVAL (bad URL; for unix: the path is not a socket or too long),
 * IPVM_ECLOSED (refused or closed, or nobody listens on the socket; err says to start the
 * node), IPVM_ENOENT (no socket file), IPVM_EACCES (the socket's mode denies this user),
 * IPVM_ETIMEDOUT. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_client_connect(const char *url, int timeout_ms,
                                                        ipvm_rpc_client_t **out, ipvm_error_t *err);
IPVM_EXTERN void ipvm_rpc_client_free(ipvm_rpc_client_t *c);
/* Sends a request {method, params_json} and waits for its response. On a JSON-RPC error
 * returns IPVM_ERPC with err->msg "code: message" and *rpc_code (may be NULL) set. On success
 * `result` (may be NULL) is replaced by the result's JSON text. Notifications that arrive
 * meanwhile are kept for ipvm_rpc_client_next. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_client_call(ipvm_rpc_client_t *c, const char *method,
                                                     const char *params_json, int timeout_ms,
                                                     ipvm_buf_t *result, int *rpc_code,
                                                     ipvm_error_t *err);
/* After ipvm_rpc_client_call answered IPVM_ERPC with *rpc_code IPVM_RPC_OVERSIZED_REQUEST (the
 * node refused the request as over its rpc.max_message and closed the connection; so also when
 * it only closed with WebSocket code 1009): *sent the request's size in bytes, *limit the
 * node's limit in bytes (0 when the node did not say). */
IPVM_EXTERN void ipvm_rpc_client_oversized(const ipvm_rpc_client_t *c, size_t *sent, size_t *limit);
/* Waits for the next notification (its whole JSON text into `msg`: the buffer it was received
 * in replaces msg's, whose memory is freed; so for ipvm_rpc_client_take). IPVM_ETIMEDOUT,
 * IPVM_ECLOSED when the server closed. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_client_next(ipvm_rpc_client_t *c, int timeout_ms,
                                                     ipvm_buf_t *msg, ipvm_error_t *err);

/* Several clients on one thread: ipvm_rpc_client_connect_also connects another client on the
 * same private loop as `peer` (freed with the last of them, in any order). A blocking call on
 * any of them runs the shared loop; what arrives meanwhile for the others waits in their own
 * inboxes. To drive them all from one thread without blocking on one:
 * ipvm_rpc_client_send a request (its id into *id), ipvm_rpc_client_poll to run the shared
 * loop for one turn (it waits for the first event of any client, up to timeout_ms: 0 or
 * IPVM_ETIMEDOUT), then ipvm_rpc_client_take each client's messages. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_client_connect_also(ipvm_rpc_client_t *peer,
                                                             const char *url, int timeout_ms,
                                                             ipvm_rpc_client_t **out,
                                                             ipvm_error_t *err);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_client_send(ipvm_rpc_client_t *c, const char *method,
                                                     const char *params_json, uint64_t *id,
                                                     ipvm_error_t *err);
/* One request of a batch: method and params_json (NULL: no params) borrowed for the call;
 * the request's id comes back in `id`. */
typedef struct ipvm_rpc_client_req_s {
    const char *method;
    const char *params_json;
    uint64_t id; /* out */
} ipvm_rpc_client_req_t;
/* Sends the n requests (1..IPVM_RPC_MAX_BATCH) as one JSON-RPC 2.0 batch: one WebSocket
 * message, an array, whose requests the node runs in order; their ids into reqs[i].id. The
 * node answers with one array; the client splits every array of responses it receives into
 * its members, each then taken (ipvm_rpc_client_take, _call) as if it had come alone, in the
 * array's order; an error answers only its own member. Errors as ipvm_rpc_client_send. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_client_send_batch(ipvm_rpc_client_t *c,
                                                           ipvm_rpc_client_req_t *reqs, size_t n,
                                                           ipvm_error_t *err);
IPVM_EXTERN int ipvm_rpc_client_poll(ipvm_rpc_client_t *c, int timeout_ms);
/* Takes the oldest message received and not yet taken, without waiting: 1 (its JSON text into
 * `msg`, *id its response id, 0 for a notification or a message with no integer id), 0 when
 * there is none, IPVM_ECLOSED when there is none and the node closed, IPVM_ENOMEM. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_client_take(ipvm_rpc_client_t *c, ipvm_buf_t *msg,
                                                     uint64_t *id);
/* The member `key` of the JSON object `json` (its top level), found without decoding: *val and
 * *val_len are its value's text. IPVM_ENOENT when there is none; IPVM_EJSON when the scan
 * cannot tell (not an object, malformed, a key written with escapes): decode it then. The
 * values skipped are not checked. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_json_member(const char *json, size_t len,
                                                     const char *key, const char **val,
                                                     size_t *val_len);

/* A receipt notification of subscribe_run_workflow, decoded. */
typedef struct ipvm_rpc_receipt_note_s {
    const char *subscription;   /* in the arena */
    const ipvm_ipld_t *doc;     /* the whole document {metadata, receipt, receipt_cid} */
    const ipvm_ipld_t *receipt; /* {iss, meta, out, prf, ran} */
    ipvm_cid_t receipt_cid;
    ipvm_cid_t workflow;  /* metadata.workflow */
    const char *name;     /* metadata.name */
    bool replayed;        /* metadata.replayed */
    const uint8_t *bytes; /* the document's DAG-JSON bytes as sent */
    size_t bytes_len;
} ipvm_rpc_receipt_note_t;

/* Decodes a notification text: checks the JSON-RPC envelope, turns params.result (a JSON
 * array of bytes) back into bytes and decodes them as DAG-JSON. IPVM_ERPC / IPVM_EJSON /
 * IPVM_EKIND with err saying which part is wrong. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_rpc_receipt_note_decode(const char *msg, size_t len,
                                                             ipvm_arena_t *arena,
                                                             ipvm_rpc_receipt_note_t *out,
                                                             ipvm_error_t *err);

#ifdef __cplusplus
}
#endif
#endif /* IPVM_RPC_H */
