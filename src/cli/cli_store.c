/* SPDX-License-Identifier: Apache-2.0 */
/* See cli_store.h. */
#include "cli_store.h"
#include "ipvm_int.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ipvm_cli_db_path(const ipvm_cli_t *cli, char *out, size_t size)
{
    snprintf(out, size, "%s/ipvm.db", cli->data_dir);
}

void ipvm_cli_blocks_path(const ipvm_cli_t *cli, char *out, size_t size)
{
    snprintf(out, size, "%s/blocks", cli->data_dir);
}

int ipvm_cli_open_store(ipvm_cli_t *cli, unsigned flags, ipvm_store_t **out)
{
    *out = NULL;
    char path[4200];
    ipvm_cli_db_path(cli, path, sizeof path);
    bool ro = (flags & IPVM_STORE_READONLY) != 0;
    if (ro && access(path, F_OK) != 0)
        return 0;
    int st;
    if (!ro && (st = ipvm_cli_ensure_data_dir(cli)) != 0)
        return st;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_store_open(path, flags, out, &err) != 0)
        return ipvm_cli_fail(cli, err.code, "%s", err.msg);
    return 0;
}

int ipvm_cli_open_blocks(ipvm_cli_t *cli, bool create, ipvm_blockstore_t **out)
{
    *out = NULL;
    char path[4200];
    ipvm_cli_blocks_path(cli, path, sizeof path);
    struct stat sb;
    int st;
    if (!create && stat(path, &sb) != 0)
        return ipvm_cli_fail(cli, IPVM_ENOENT,
                             "no blocks in %s yet: add files with 'ipvm add FILE' (or choose the "
                             "right --data-dir)",
                             cli->data_dir);
    if (create && (st = ipvm_cli_ensure_data_dir(cli)) != 0)
        return st;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_blockstore_open(path, out, &err) != 0)
        return ipvm_cli_fail(cli, err.code, "%s", err.msg);
    return 0;
}

const char *ipvm_cli_opt(int argc, char **argv, int *i, const char *name, bool *missing)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

const char *ipvm_cli_duration(uint64_t ns, char *out, size_t size)
{
    if (ns < 1000)
        snprintf(out, size, "%llu ns", (unsigned long long)ns);
    else if (ns < 1000000)
        snprintf(out, size, "%.1f µs", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(out, size, "%.1f ms", (double)ns / 1e6);
    else
        snprintf(out, size, "%.2f s", (double)ns / 1e9);
    return out;
}

const char *ipvm_cli_bytes(uint64_t n, char *out, size_t size)
{
    if (n < 1024)
        snprintf(out, size, "%llu B", (unsigned long long)n);
    else if (n < 1024 * 1024)
        snprintf(out, size, "%.1f KiB", (double)n / 1024);
    else if (n < 1024ull * 1024 * 1024)
        snprintf(out, size, "%.1f MiB", (double)n / (1024 * 1024));
    else
        snprintf(out, size, "%.2f GiB", (double)n / (1024.0 * 1024 * 1024));
    return out;
}

void ipvm_cli_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    ipvm__json_escape(f, s);
    fputc('"', f);
}

static int decode_col(ipvm_arena_t *a, const uint8_t *p, size_t n, const char *col,
                      const ipvm_receipt_row_t *row, ipvm_ipld_t **out, ipvm_error_t *err)
{
    ipvm_error_t e;
    ipvm_error_clear(&e);
    if (p && ipvm_dagcbor_decode(p, n, a, out, &e) == 0)
        return 0;
    char c[IPVM_CID_MAX_STR];
    return ipvm_error_set(err, e.code == IPVM_ENOMEM ? IPVM_ENOMEM : IPVM_ECORRUPT, IPVM_NO_OFFSET,
                          "receipt %s: its %s column is not DAG-CBOR (%s)",
                          ipvm_cid_str(&row->cid, c), col, p ? e.msg : "empty");
}

int ipvm_cli_receipt_decode(ipvm_arena_t *a, const ipvm_receipt_row_t *row,
                            ipvm_cli_receipt_t *out, ipvm_error_t *err)
{
    memset(out, 0, sizeof *out);
    int rc;
    if ((rc = decode_col(a, row->out, row->out_len, "out", row, &out->out, err)) != 0 ||
        (rc = decode_col(a, row->meta, row->meta_len, "meta", row, &out->meta, err)) != 0 ||
        (rc = decode_col(a, row->prf, row->prf_len, "prf", row, &out->prf, err)) != 0)
        return rc;
    if (out->out->kind == IPVM_IPLD_LIST && out->out->u.list.len == 2)
        out->value = out->out->u.list.items[1];
    const ipvm_ipld_t *op = ipvm_ipld_map_get(out->meta, "op");
    out->function = op && op->kind == IPVM_IPLD_STRING ? op->u.str.ptr : "?";
    ipvm_ipld_t *m = ipvm_ipld_new_map(a, 5);
    ipvm_ipld_t *ran = ipvm_ipld_new_link(a, &row->ran);
    ipvm_ipld_t *iss = row->issuer ? ipvm_ipld_new_cstring(a, row->issuer) : ipvm_ipld_new_null(a);
    if (m == NULL || ran == NULL || iss == NULL ||
        ipvm_ipld_map_set_cstr(a, m, "ran", ran) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "out", out->out) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "meta", out->meta) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "iss", iss) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "prf", out->prf) != 0)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    ipvm_ipld_map_sort(m);
    out->receipt = m;
    return 0;
}

void ipvm_cli_receipt_columns_json(FILE *f, const ipvm_receipt_row_t *row)
{
    fprintf(f, "\"fuel\":%llu,\"time_ns\":%llu,\"created_ms\":%lld,\"ok\":%s,\"source\":",
            (unsigned long long)row->fuel, (unsigned long long)row->time_ns,
            (long long)row->created_ms, row->ok ? "true" : "false");
    ipvm_cli_json_str(f, row->source ? row->source : "local");
    fprintf(f, ",\"version\":");
    ipvm_cli_json_str(f, row->version ? row->version : "");
    fprintf(f, ",\"signed\":%s", row->signature ? "true" : "false");
}
