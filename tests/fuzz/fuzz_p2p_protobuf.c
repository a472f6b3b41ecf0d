/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: every p2p protobuf message (PublicKey, Identify, gossipsub RPC, Kademlia
 * Message, Noise handshake payload, PrivateKey), selected by the first byte, and the
 * length-prefixed framing that carries them. Properties: no crash, no leak. */
#include "fuzz.h"

#include "p2p/p2p_int.h"

IPVM_FUZZ_TARGET(p2p_protobuf)
{
    if (size == 0)
        return 0;
    (void)ipvm__p2p_pb_check(data[0], data + 1, size - 1);
    /* the same bytes as a stream of uvarint-prefixed messages */
    size_t off = 1;
    while (off < size) {
        uint64_t n = 0;
        size_t u = 0;
        int rc = ipvm__p2p_uvarint_peek(data + off, size - off, &n, &u);
        if (rc != 0 || n > size - off - u)
            break;
        (void)ipvm__p2p_pb_check(data[0] + 1, data + off + u, (size_t)n);
        off += u + (size_t)n;
    }
    return 0;
}
