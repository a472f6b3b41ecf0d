/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the IPLD commands (`ipvm cid`, `ipvm dag`): codec names and decoding a file with
 * errors that point at the line and column. */
#ifndef IPVM_CLI_IPLD_H
#define IPVM_CLI_IPLD_H

#include "cli.h"

typedef enum { IPVM_CLI_DAG_JSON = 1, IPVM_CLI_DAG_CBOR = 2 } ipvm_cli_codec_t;

/* "dag-json" / "json" -> DAG_JSON, "dag-cbor" / "cbor" -> DAG_CBOR, else 0. */
int ipvm_cli_codec_from_name(const char *name);
const char *ipvm_cli_codec_name(int codec);

/* Decodes `in` (read from `path`, "-" for stdin) with `codec`. On failure prints where and why
 * (file:line:column for DAG-JSON, the byte offset for DAG-CBOR) with a hint, and returns an
 * exit status; 0 on success. */
int ipvm_cli_decode(ipvm_cli_t *cli, const char *path, const ipvm_buf_t *in, int codec,
                    ipvm_arena_t *arena, ipvm_ipld_t **out);

#endif
