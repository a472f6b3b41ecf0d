/* SPDX-License-Identifier: Apache-2.0 */
/* A js-libp2p node from npm (tests/interop/libp2p/peer.mjs) run as a child process on the
 * test's libuv loop, driven with JSON lines. */
#ifndef IPVM_JSPEER_H
#define IPVM_JSPEER_H

#include "p2p_test.h"

#define JSPEER_MAX_EVENTS 256

typedef struct {
    uv_loop_t *loop;
    uv_process_t proc;
    uv_pipe_t in, out, err;
    bool exited;
    int64_t exit_status;
    ipvm_buf_t line, errtext;
    ipvm_arena_t arena;
    ipvm_ipld_t *events[JSPEER_MAX_EVENTS]; /* every line received, in order */
    size_t nevents;
    int next_id;
    bool ready;
    char peer[IPVM_P2P_PEER_ID_STR];
    char addr[256]; /* its first listen address, /p2p included */
} jspeer_t;

/* Starts the js node (extra args after peer.mjs, NULL-terminated) and waits until ready. */
void jspeer_start(jspeer_t *j, uv_loop_t *loop, const char *const *args);
/* Sends {"id":N, ...json fields...} and waits for the reply; returns it (fails the test on a
 * timeout). `fields` is the JSON body without braces, e.g. "\"cmd\":\"ping\",\"peer\":\"…\"". */
const ipvm_ipld_t *jspeer_call(jspeer_t *j, const char *fields, int timeout_ms);
/* Like jspeer_call but requires "ok": true. */
const ipvm_ipld_t *jspeer_ok(jspeer_t *j, const char *fields, int timeout_ms);
/* Waits for an event line {"event": name, ...} whose field `key` equals `value` (or any when
 * key is NULL), starting after index *from (updated). NULL on timeout. */
const ipvm_ipld_t *jspeer_wait_event(jspeer_t *j, const char *name, const char *key,
                                     const char *value, size_t *from, int timeout_ms);
/* Stops the node and waits for the process to exit. */
void jspeer_stop(jspeer_t *j);
/* A string field of a map, or "" */
const char *jfield(const ipvm_ipld_t *v, const char *key);

#endif
