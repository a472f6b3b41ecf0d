/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the commands that read or write the data directory (`ipvm add`, `cat`,
 * `receipts`, `receipt`, and `run`): where things are, opening them with errors that say what
 * to do, and small formatting shared by their tables. */
#ifndef IPVM_CLI_STORE_H
#define IPVM_CLI_STORE_H

#include "cli.h"

/* <data-dir>/ipvm.db and <data-dir>/blocks, in caller buffers. */
void ipvm_cli_db_path(const ipvm_cli_t *cli, char *out, size_t size);
void ipvm_cli_blocks_path(const ipvm_cli_t *cli, char *out, size_t size);
/* Opens the store (creating the data directory unless flags has IPVM_STORE_READONLY). On
 * failure prints why and returns an exit status; 0 on success. With IPVM_STORE_READONLY and
 * no database yet, *out is NULL and 0 is returned: the caller reports "nothing yet". */
int ipvm_cli_open_store(ipvm_cli_t *cli, unsigned flags, ipvm_store_t **out);
/* Opens the blockstore (creating it when `create`). 0 or an exit status after printing why. */
int ipvm_cli_open_blocks(ipvm_cli_t *cli, bool create, ipvm_blockstore_t **out);
/* Takes "--name VALUE" or "--name=VALUE" at argv[*i]; NULL when argv[*i] is not --name, and
 * *missing set when the value is absent. */
const char *ipvm_cli_opt(int argc, char **argv, int *i, const char *name, bool *missing);
/* "1.2 ms", "3.4 s", "850 ns" */
const char *ipvm_cli_duration(uint64_t ns, char *out, size_t size);
/* "12.3 MiB" */
const char *ipvm_cli_bytes(uint64_t n, char *out, size_t size);
/* Writes s as a JSON string (quotes and escapes) to f. */
void ipvm_cli_json_str(FILE *f, const char *s);

#endif

/* The parts of a stored receipt as IPLD (decoded from its DAG-CBOR columns into arena):
 * out (the ["ok", v] / ["error", e] tuple), meta, prf, and the whole receipt map
 * {ran, out, meta, iss, prf} whose CID the receipt has. IPVM_ECORRUPT names a bad column. */
typedef struct {
    ipvm_ipld_t *out, *meta, *prf, *receipt;
    const ipvm_ipld_t *value; /* out[1] */
    const char *function;     /* meta.op, or "?" */
} ipvm_cli_receipt_t;
int ipvm_cli_receipt_decode(ipvm_arena_t *a, const ipvm_receipt_row_t *row,
                            ipvm_cli_receipt_t *out, ipvm_error_t *err);
/* Prints our columns as JSON members (no braces): "fuel":..,"time_ns":.., ... */
void ipvm_cli_receipt_columns_json(FILE *f, const ipvm_receipt_row_t *row);
