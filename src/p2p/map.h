/* SPDX-License-Identifier: Apache-2.0 */
/* map.h: a byte-string → pointer hash map (see map.c). Keys are borrowed: they must stay valid
 * while in the map (values usually hold their own key). */
#ifndef IPVM_P2P_MAP_H
#define IPVM_P2P_MAP_H

#include "p2p_int.h"

typedef struct p2p_map_node_s {
    struct p2p_map_node_s *next;
    uint64_t h;
    const uint8_t *k;
    size_t klen;
    void *v;
} p2p_map_node_t;

typedef struct p2p_map_s {
    p2p_map_node_t **b;
    size_t nb, count;
    uint8_t key[16];
} p2p_map_t;

IPVM_MUST_CHECK int p2p_map_init(p2p_map_t *m);
void p2p_map_dispose(p2p_map_t *m);
void *p2p_map_get(const p2p_map_t *m, const uint8_t *k, size_t n);
/* IPVM_EEXIST when the key is present; IPVM_ENOMEM. */
IPVM_MUST_CHECK int p2p_map_put(p2p_map_t *m, const uint8_t *k, size_t n, void *v);
/* Removes and returns the value, or NULL. */
void *p2p_map_del(p2p_map_t *m, const uint8_t *k, size_t n);

#endif
