/* SPDX-License-Identifier: Apache-2.0 */
/* A chained hash map from byte strings to pointers, for message ids (gossipsub's seen cache and
 * message cache) and DHT keys. Keys are hashed with SipHash-2-4 under a random per-map key
 * (libsodium crypto_shorthash), so a peer cannot choose ids that collide. */
#include "map.h"

#include <sodium.h>

static uint64_t hash(const p2p_map_t *m, const uint8_t *k, size_t n)
{
    uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, k, n, m->key);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}

int p2p_map_init(p2p_map_t *m)
{
    memset(m, 0, sizeof *m);
    randombytes_buf(m->key, sizeof m->key);
    m->nb = 64;
    m->b = ipvm_calloc(m->nb, sizeof *m->b);
    return m->b ? 0 : IPVM_ENOMEM;
}

void p2p_map_dispose(p2p_map_t *m)
{
    for (size_t i = 0; m->b && i < m->nb; i++) {
        for (p2p_map_node_t *n = m->b[i]; n;) {
            p2p_map_node_t *x = n->next;
            ipvm_free(n);
            n = x;
        }
    }
    ipvm_free(m->b);
    memset(m, 0, sizeof *m);
}

static void grow(p2p_map_t *m)
{
    size_t nb = m->nb * 2;
    p2p_map_node_t **b = ipvm_calloc(nb, sizeof *b);
    if (b == NULL)
        return; /* keep the smaller table: slower, still correct */
    for (size_t i = 0; i < m->nb; i++) {
        for (p2p_map_node_t *n = m->b[i]; n;) {
            p2p_map_node_t *x = n->next;
            n->next = b[n->h & (nb - 1)];
            b[n->h & (nb - 1)] = n;
            n = x;
        }
    }
    ipvm_free(m->b);
    m->b = b;
    m->nb = nb;
}

void *p2p_map_get(const p2p_map_t *m, const uint8_t *k, size_t n)
{
    uint64_t h = hash(m, k, n);
    for (p2p_map_node_t *x = m->b[h & (m->nb - 1)]; x; x = x->next)
        if (x->h == h && x->klen == n && memcmp(x->k, k, n) == 0)
            return x->v;
    return NULL;
}

int p2p_map_put(p2p_map_t *m, const uint8_t *k, size_t n, void *v)
{
    if (p2p_map_get(m, k, n))
        return IPVM_EEXIST;
    p2p_map_node_t *x = ipvm_malloc(sizeof *x);
    if (x == NULL)
        return IPVM_ENOMEM;
    x->h = hash(m, k, n);
    x->k = k;
    x->klen = n;
    x->v = v;
    x->next = m->b[x->h & (m->nb - 1)];
    m->b[x->h & (m->nb - 1)] = x;
    if (++m->count > m->nb)
        grow(m);
    return 0;
}

void *p2p_map_del(p2p_map_t *m, const uint8_t *k, size_t n)
{
    uint64_t h = hash(m, k, n);
    for (p2p_map_node_t **pp = &m->b[h & (m->nb - 1)]; *pp; pp = &(*pp)->next) {
        p2p_map_node_t *x = *pp;
        if (x->h == h && x->klen == n && memcmp(x->k, k, n) == 0) {
            void *v = x->v;
            *pp = x->next;
            ipvm_free(x);
            m->count--;
            return v;
        }
    }
    return NULL;
}
