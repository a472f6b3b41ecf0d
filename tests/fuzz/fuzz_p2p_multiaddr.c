/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: multiaddrs (binary, from peers; text, from config) and peer ids, plus mDNS
 * packets. Properties: a binary multiaddr that parses formats to text that parses back to the
 * same bytes; errors are the documented codes. */
#include "fuzz.h"

#include "p2p/p2p_int.h"

IPVM_FUZZ_TARGET(p2p_multiaddr)
{
    ipvm_multiaddr_t a, b;
    int rc = ipvm_multiaddr_from_bytes(data, size, &a, NULL);
    IPVM_FUZZ_CHECK(rc == 0 || rc == IPVM_EINVAL || rc == IPVM_EUNSUPPORTED ||
                    rc == IPVM_ETOOBIG || rc == IPVM_EMULTIHASH);
    if (rc == 0) {
        char s[IPVM_MULTIADDR_STR];
        ipvm_multiaddr_str(&a, s);
        IPVM_FUZZ_CHECK(ipvm_multiaddr_parse(s, strlen(s), &b, NULL) == 0);
        IPVM_FUZZ_CHECK(ipvm_multiaddr_equal(&a, &b));
    }
    rc = ipvm_multiaddr_parse((const char *)data, size, &a, NULL);
    if (rc == 0) {
        char s[IPVM_MULTIADDR_STR];
        IPVM_FUZZ_CHECK(ipvm_multiaddr_from_bytes(a.bytes, a.len, &b, NULL) == 0);
        ipvm_multiaddr_str(&a, s);
        IPVM_FUZZ_CHECK(s[0] == '/');
    }
    ipvm_peer_id_t id;
    if (ipvm_p2p_peer_id_parse((const char *)data, size, &id, NULL) == 0) {
        char s[IPVM_P2P_PEER_ID_STR];
        ipvm_peer_id_t id2;
        ipvm_p2p_peer_id_str(&id, s);
        IPVM_FUZZ_CHECK(ipvm_p2p_peer_id_parse(s, strlen(s), &id2, NULL) == 0);
        IPVM_FUZZ_CHECK(ipvm_p2p_peer_id_equal(&id, &id2));
    }
    ipvm__mdns_msg_t m;
    rc = ipvm__mdns_parse(data, size, "_p2p._udp.local", &m);
    IPVM_FUZZ_CHECK(rc == 0 || rc == IPVM_EPROTO);
    IPVM_FUZZ_CHECK(m.naddrs <= IPVM__MDNS_MAX_ADDRS);
    return 0;
}
