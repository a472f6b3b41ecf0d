/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm cat CID`: writes the content a CID names to stdout: from the blockstore (streamed),
 * or fetched from a Kubo API or a gateway when given (every block verified, then kept). */
#include "cli_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const ipvm_cmd_t ipvm_cmd_cat;

static int write_out(void *data, const uint8_t *p, size_t n)
{
    (void)data;
    while (n) {
        ssize_t w = write(STDOUT_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return IPVM_EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

typedef struct {
    const char *what, *api, *gateway;
    int timeout_ms;
} cat_opts_t;

static int parse(ipvm_cli_t *cli, int argc, char **argv, cat_opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        if ((v = ipvm_cli_opt(argc, argv, &i, "--ipfs-api", &missing)) != NULL) {
            o->api = v;
        } else if ((v = ipvm_cli_opt(argc, argv, &i, "--gateway", &missing)) != NULL) {
            o->gateway = v;
        } else if ((v = ipvm_cli_opt(argc, argv, &i, "--timeout-ms", &missing)) != NULL) {
            o->timeout_ms = atoi(v);
            if (o->timeout_ms <= 0)
                return ipvm_cli_usage(cli, &ipvm_cmd_cat, "--timeout-ms needs a positive number");
        } else if (missing) {
            return ipvm_cli_usage(cli, &ipvm_cmd_cat, "%s needs a value", argv[i]);
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return ipvm_cli_usage(cli, &ipvm_cmd_cat, "unknown option '%s'", argv[i]);
        } else if (o->what) {
            return ipvm_cli_usage(cli, &ipvm_cmd_cat, "give one CID");
        } else {
            o->what = argv[i];
        }
    }
    if (o->what == NULL)
        return ipvm_cli_usage(cli, &ipvm_cmd_cat, "give the CID to print");
    return 0;
}

static int cmd_cat_run(ipvm_cli_t *cli, int argc, char **argv)
{
    if (ipvm_cli_wants_help(argc, argv))
        return ipvm_cli_help(&ipvm_cmd_cat);
    cat_opts_t o = {0};
    int st = parse(cli, argc, argv, &o);
    if (st != 0)
        return st;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_cid_t cid;
    if (ipvm_resource_cid(o.what, &cid, &err) != 0)
        return ipvm_cli_fail(cli, err.code, "%s", err.msg);
    bool remote = o.api || o.gateway;
    ipvm_blockstore_t *bs;
    if ((st = ipvm_cli_open_blocks(cli, remote, &bs)) != 0)
        return st;
    int rc;
    if (!remote) {
        rc = ipvm_unixfs_cat_stream(bs, &cid, write_out, NULL, &err);
        if (rc == IPVM_ENOENT) {
            char s[IPVM_CID_MAX_STR], inner[sizeof err.msg];
            snprintf(inner, sizeof inner, "%s", err.msg);
            ipvm_cid_str(&cid, s);
            if (strstr(inner, s) == NULL) /* a block under it is missing */
                ipvm_error_set(&err, IPVM_ENORESOURCE, IPVM_NO_OFFSET,
                               "%s is only partly here (%s): add the file again with 'ipvm add "
                               "FILE', or fetch it with --ipfs-api HOST:PORT or --gateway URL",
                               s, inner);
            else
                ipvm_error_set(&err, IPVM_ENORESOURCE, IPVM_NO_OFFSET,
                               "%s is not in the blockstore of %s: add it with 'ipvm add FILE', "
                               "or fetch it with --ipfs-api HOST:PORT or --gateway URL",
                               s, cli->data_dir);
            rc = IPVM_ENORESOURCE;
        }
    } else {
        ipvm_resolver_opts_t ro = {o.api, o.gateway, o.timeout_ms};
        ipvm_resolver_t *r = NULL;
        ipvm_buf_t b = IPVM_BUF_INIT;
        rc = ipvm_resolver_new(bs, &ro, &r, &err);
        if (rc == 0)
            rc = ipvm_resolver_fetch_cid(r, &cid, &b, &err);
        if (rc == 0)
            rc = write_out(NULL, b.data, b.len);
        ipvm_buf_dispose(&b);
        ipvm_resolver_free(r);
    }
    ipvm_blockstore_close(bs);
    if (rc == IPVM_EIO && err.code == 0)
        return ipvm_cli_fail(cli, rc, "cannot write to standard output");
    if (rc != 0)
        return ipvm_cli_fail(cli, err.code ? err.code : rc, "%s", err.msg);
    return 0;
}

const ipvm_cmd_t ipvm_cmd_cat = {
    "cat", "print the content a CID names (a file added with ipvm add, or any block)",
    "Usage: ipvm cat [--ipfs-api HOST:PORT] [--gateway URL] [--timeout-ms N] CID\n"
    "\n"
    "Writes the content CID names to standard output: a UnixFS file (dag-pb, as ipfs add\n"
    "makes them) is reassembled, a raw block is printed as is. CID may also be written\n"
    "ipfs://CID or as a gateway URL .../ipfs/CID. Every block is checked against its CID.\n"
    "\n"
    "By default only the local blockstore (<data-dir>/blocks) is read, streaming. With\n"
    "--ipfs-api (a Kubo node's RPC API, e.g. 127.0.0.1:5001) or --gateway (a trustless\n"
    "HTTP gateway, e.g. https://ipfs.io) missing blocks are fetched from there, verified\n"
    "and kept in the blockstore. --timeout-ms bounds each request (default 30000).\n"
    "\n"
    "Examples:\n"
    "  ipvm cat bafybeiejevluvtoevgk66plh5t6xiy3ikyuuxg3vgofuvpeckb6eadresm > cat.png\n"
    "  ipvm cat --ipfs-api 127.0.0.1:5001 ipfs://bafy...\n",
    cmd_cat_run};
