/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the p2p tests: hosts on one libuv loop, on 127.0.0.1 with ephemeral ports. */
#ifndef IPVM_P2P_TEST_H
#define IPVM_P2P_TEST_H

#include "test.h"

#include "ipvm/p2p.h"

#include <uv.h>

typedef struct {
    ipvm_p2p_identity_t *id;
    ipvm_p2p_host_t *host;
    ipvm_p2p_config_t cfg;
    bool stopped;
    int events[32]; /* count per ipvm_p2p_event_kind_t */
    char addr[IPVM_MULTIADDR_STR + IPVM_P2P_PEER_ID_STR]; /* /ip4/127.0.0.1/tcp/N/p2p/… */
} tnode_t;

/* Creates and starts a host on 127.0.0.1:0 (cfg may be pre-filled by the caller when
 * `keep_cfg`). */
void tnode_start(tnode_t *n, uv_loop_t *loop, bool keep_cfg);
/* Stops every node, runs the loop until all are closed, frees them, closes the loop. */
void tnodes_stop(uv_loop_t *loop, tnode_t *nodes, size_t count);
/* Runs the loop until *flag becomes true or ms pass. Returns *flag. */
bool run_until(uv_loop_t *loop, const volatile bool *flag, int ms);
/* Runs the loop until fn(data) is true or ms pass. */
bool run_until_fn(uv_loop_t *loop, bool (*fn)(void *data), void *data, int ms);
/* Dials b from a and waits until connected (and identified) both ways. */
void tnode_connect(uv_loop_t *loop, tnode_t *a, tnode_t *b);

#endif
