/* SPDX-License-Identifier: Apache-2.0 */
/* Decodes any of the p2p protobuf messages and applies the checks the protocols apply after
 * decoding, so fuzz targets (which do not see the generated headers) reach every decoder. */
#include "p2p_int.h"

#include "p2p/pb/gossipsub.pb-c.h"
#include "p2p/pb/identify.pb-c.h"
#include "p2p/pb/kad.pb-c.h"
#include "p2p/pb/keys.pb-c.h"
#include "p2p/pb/noise.pb-c.h"

/* Walks a decoded gossipsub RPC the way the router does: ids, topics, peer ids. */
static int walk_rpc(P2p__Pb__Gossip__RPC *r)
{
    int n = 0;
    for (size_t i = 0; i < r->n_publish; i++) {
        P2p__Pb__Gossip__Message *m = r->publish[i];
        ipvm_peer_id_t id;
        uint8_t mid[64];
        if (m->has_from && ipvm_p2p_peer_id_from_bytes(m->from.data, m->from.len, &id, NULL) == 0)
            n++;
        (void)ipvm_p2p_gossip_msgid(IPVM_P2P_MSGID_HOMESTAR, m->from.data, m->from.len, 0,
                                    m->data.data, m->has_data ? m->data.len : 0, mid);
        if (m->has_key) {
            uint8_t pub[32];
            n += ipvm_p2p_pubkey_decode(m->key.data, m->key.len, pub, NULL) == 0;
        }
    }
    if (r->control)
        for (size_t i = 0; i < r->control->n_ihave; i++)
            n += (int)r->control->ihave[i]->n_messageids;
    return n;
}

int ipvm__p2p_pb_check(int kind, const uint8_t *p, size_t n)
{
    ProtobufCAllocator *a = &ipvm__p2p_pb_alloc;
    uint8_t pub[32];
    ipvm_peer_id_t id;
    int rc = 0;
    switch (kind % 6) {
    case 0:
        rc = ipvm_p2p_pubkey_decode(p, n, pub, NULL);
        if (ipvm_p2p_peer_id_from_pubkey(p, n, &id, NULL) == 0 && rc == 0)
            rc = ipvm_p2p_peer_id_ed25519(&id, pub) == 0 ? 0 : -1;
        return rc;
    case 1: {
        P2p__Pb__Identify__Identify *m = p2p__pb__identify__identify__unpack(a, n, p);
        if (m == NULL)
            return IPVM_EPROTO;
        for (size_t i = 0; i < m->n_listenaddrs; i++) {
            ipvm_multiaddr_t ma;
            rc += ipvm_multiaddr_from_bytes(m->listenaddrs[i].data, m->listenaddrs[i].len, &ma,
                                            NULL) == 0;
        }
        p2p__pb__identify__identify__free_unpacked(m, a);
        return rc;
    }
    case 2: {
        P2p__Pb__Gossip__RPC *m = p2p__pb__gossip__rpc__unpack(a, n, p);
        if (m == NULL)
            return IPVM_EPROTO;
        rc = walk_rpc(m);
        p2p__pb__gossip__rpc__free_unpacked(m, a);
        return rc;
    }
    case 3: {
        P2p__Pb__Kad__Message *m = p2p__pb__kad__message__unpack(a, n, p);
        if (m == NULL)
            return IPVM_EPROTO;
        for (size_t i = 0; i < m->n_closerpeers; i++)
            rc += m->closerpeers[i]->has_id &&
                  ipvm_p2p_peer_id_from_bytes(m->closerpeers[i]->id.data,
                                              m->closerpeers[i]->id.len, &id, NULL) == 0;
        p2p__pb__kad__message__free_unpacked(m, a);
        return rc;
    }
    case 4: {
        ipvm__noise_hs_t hs;
        memset(&hs, 0, sizeof hs);
        return ipvm__noise_payload_verify(&hs, p, n, NULL);
    }
    default: {
        P2p__Pb__Keys__PrivateKey *m =
            p2p__pb__keys__private_key__unpack(&ipvm__p2p_pb_secret_alloc, n, p);
        if (m == NULL)
            return IPVM_EPROTO;
        p2p__pb__keys__private_key__free_unpacked(m, &ipvm__p2p_pb_secret_alloc);
        return 0;
    }
    }
}
