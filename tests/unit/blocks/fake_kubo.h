/* SPDX-License-Identifier: Apache-2.0 */
/* A fake Kubo HTTP RPC API and trustless gateway on 127.0.0.1 (ephemeral port) for the resolver
 * tests: serves blocks of a blockstore for POST /api/v0/block/get?arg=CID and
 * GET /ipfs/CID?format=raw, or misbehaves on purpose. One thread; stops with fk_stop. */
#ifndef IPVM_TEST_FAKE_KUBO_H
#define IPVM_TEST_FAKE_KUBO_H

#include "test.h"

typedef enum {
    FK_OK,      /* the right bytes */
    FK_WRONG,   /* 200 with one byte changed */
    FK_SILENT,  /* accepts, reads the request, never answers */
    FK_MISSING, /* Kubo's 500 {"Message": ...} (gateway: 404) for everything */
} fk_mode_t;

typedef struct fake_kubo_s fake_kubo_t;

/* Serves blocks from src (borrowed). */
fake_kubo_t *fk_start(fk_mode_t mode, ipvm_blockstore_t *src);
int fk_port(const fake_kubo_t *fk);
/* "127.0.0.1:PORT" */
const char *fk_addr(const fake_kubo_t *fk);
int fk_requests(const fake_kubo_t *fk);
/* How many requests had a bad method (GET to the RPC API, as real Kubo refuses). */
int fk_bad_methods(const fake_kubo_t *fk);
void fk_stop(fake_kubo_t *fk);

#endif
