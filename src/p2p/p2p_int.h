/* SPDX-License-Identifier: Apache-2.0 */
/* p2p_int.h: internals shared by the files of src/p2p/: protobuf-c allocators, limits, and
 * small byte helpers. Nothing here includes generated protobuf headers, so fuzz targets and
 * tests can include it without the generated directory. */
#ifndef IPVM_P2P_INT_H
#define IPVM_P2P_INT_H

#include "ipvm/p2p.h"

#include <string.h>

/* protobuf-c's allocator interface, declared without its header. */
struct ProtobufCAllocator;

/* An allocator for protobuf-c that goes through ipvm_malloc (so allocation-failure tests reach
 * protobuf decoding). */
extern struct ProtobufCAllocator ipvm__p2p_pb_alloc;
/* The same, but every block is wiped before it is freed: for messages that carry secrets. */
extern struct ProtobufCAllocator ipvm__p2p_pb_secret_alloc;

/* Largest encoded PublicKey we hash into a peer id (RSA-4096 keys are about 550 bytes). */
#define IPVM__P2P_PUBKEY_MAX 8192

static inline void ipvm__be16_put(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline uint16_t ipvm__be16_get(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline void ipvm__be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline uint32_t ipvm__be32_get(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

#endif /* IPVM_P2P_INT_H */
