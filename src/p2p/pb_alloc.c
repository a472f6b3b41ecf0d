/* SPDX-License-Identifier: Apache-2.0 */
/* protobuf-c allocators for the p2p messages: one over ipvm_malloc (fault injection reaches
 * protobuf decoding), one that wipes every block before freeing it (private keys). */
#include "p2p_int.h"

#include <protobuf-c/protobuf-c.h>

static void *pb_alloc(void *data, size_t size)
{
    (void)data;
    return ipvm_malloc(size ? size : 1);
}

static void pb_free(void *data, void *p)
{
    (void)data;
    ipvm_free(p);
}

/* Secret blocks carry their size in a header so that free can wipe them. */
typedef union {
    size_t size;
    max_align_t align;
} secret_hdr_t;

static void *pb_secret_alloc(void *data, size_t size)
{
    (void)data;
    if (size > SIZE_MAX - sizeof(secret_hdr_t))
        return NULL;
    secret_hdr_t *h = ipvm_malloc(sizeof *h + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    return h + 1;
}

static void pb_secret_free(void *data, void *p)
{
    (void)data;
    if (p == NULL)
        return;
    secret_hdr_t *h = (secret_hdr_t *)p - 1;
    ipvm_memzero(h, sizeof *h + h->size);
    ipvm_free(h);
}

ProtobufCAllocator ipvm__p2p_pb_alloc = {pb_alloc, pb_free, NULL};
ProtobufCAllocator ipvm__p2p_pb_secret_alloc = {pb_secret_alloc, pb_secret_free, NULL};
