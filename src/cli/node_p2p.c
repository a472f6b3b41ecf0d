/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm node peers` and `ipvm node id`: the libp2p side of the running node, asked over its
 * JSON-RPC API (the `peers` and `node` methods of src/daemon/svc_p2p.c). */
#include "cli.h"
#include "ipvm/rpc.h"

#include <stdio.h>
#include <string.h>

bool ipvm__node_read_info(const char *data_dir, char *url, size_t len, uint64_t *started_ms);

/* Calls `method` on the node of the data dir. 0, or an exit status after printing why. */
static int call_node(ipvm_cli_t *cli, const char *method, ipvm_buf_t *out, bool quiet_absent)
{
    char url[512];
    uint64_t started = 0;
    if (!ipvm__node_read_info(cli->data_dir, url, sizeof url, &started)) {
        if (quiet_absent)
            return -1;
        return ipvm_cli_fail(cli, IPVM_ENOENT,
                             "no node is running with data directory %s; start one with "
                             "'ipvm node start' (see 'ipvm node --help')",
                             cli->data_dir);
    }
    ipvm_rpc_client_t *c = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = ipvm_rpc_client_connect(url, 3000, &c, &err);
    if (rc == 0)
        rc = ipvm_rpc_client_call(c, method, "[]", 5000, out, NULL, &err);
    ipvm_rpc_client_free(c);
    if (rc && quiet_absent)
        return -1;
    return rc ? ipvm_cli_fail(cli, rc, "the node at %s did not answer %s: %s", url, method,
                              err.msg)
              : 0;
}

static const char *s_of(const ipvm_ipld_t *m, const char *k)
{
    const ipvm_ipld_t *v = ipvm_ipld_map_get(m, k);
    return v && v->kind == IPVM_IPLD_STRING ? v->u.str.ptr : "";
}

static uint64_t u_of(const ipvm_ipld_t *m, const char *k)
{
    uint64_t x = 0;
    return ipvm_ipld_get_u64(ipvm_ipld_map_get(m, k), &x) == 0 ? x : 0;
}

static bool b_of(const ipvm_ipld_t *m, const char *k)
{
    const ipvm_ipld_t *v = ipvm_ipld_map_get(m, k);
    return v && v->kind == IPVM_IPLD_BOOL && v->u.boolean;
}

int ipvm__node_peers(ipvm_cli_t *cli, int argc, char **argv)
{
    if (argc > 1)
        return ipvm_cli_fail(cli, IPVM_EUSAGE, "node peers: unexpected '%s' (see 'ipvm node "
                                               "--help')",
                             argv[1]);
    ipvm_buf_t b = IPVM_BUF_INIT;
    int st = call_node(cli, "peers", &b, false);
    if (st) {
        ipvm_buf_dispose(&b);
        return st;
    }
    if (cli->json) {
        printf("%s\n", (char *)b.data);
        ipvm_buf_dispose(&b);
        return IPVM_EXIT_OK;
    }
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    if (ipvm_dagjson_decode((const char *)b.data, b.len, &a, &v, NULL) != 0 ||
        v->kind != IPVM_IPLD_LIST) {
        ipvm_arena_dispose(&a);
        ipvm_buf_dispose(&b);
        return ipvm_cli_fail(cli, IPVM_ERPC, "the node's answer to peers is not a list");
    }
    if (v->u.list.len == 0)
        printf("no peers connected (dial some with p2p.bootstrap, or enable p2p.mdns)\n");
    else
        printf("%-52s %-8s %-32s %8s  %s\n", "PEER", "DIR", "ADDRESS", "PING", "AGENT");
    for (size_t i = 0; i < v->u.list.len; i++) {
        const ipvm_ipld_t *p = v->u.list.items[i];
        uint64_t rtt = u_of(p, "rtt_us");
        char ping[32] = "-";
        if (rtt)
            snprintf(ping, sizeof ping, "%.1fms", (double)rtt / 1000.0);
        printf("%-52s %-8s %-32s %8s  %s%s%s\n", s_of(p, "peer_id"), s_of(p, "direction"),
               s_of(p, "address"), ping, s_of(p, "agent")[0] ? s_of(p, "agent") : "?",
               b_of(p, "gossip") ? " [gossip]" : "", b_of(p, "dht") ? " [dht]" : "");
    }
    if (v->u.list.len)
        printf("%zu peer%s\n", v->u.list.len, v->u.list.len == 1 ? "" : "s");
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&b);
    return IPVM_EXIT_OK;
}

int ipvm__node_id(ipvm_cli_t *cli, int argc, char **argv)
{
    if (argc > 1)
        return ipvm_cli_fail(cli, IPVM_EUSAGE, "node id: unexpected '%s' (see 'ipvm node --help')",
                             argv[1]);
    ipvm_p2p_identity_t *id = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int st = ipvm_cli_ensure_data_dir(cli);
    if (st)
        return st;
    if (ipvm_p2p_identity_load_or_create(cli->data_dir, &id, NULL, &err) != 0)
        return ipvm_cli_fail_err(cli, &err, "cannot read the node identity");
    char cid[IPVM_P2P_PEER_ID_STR];
    if (ipvm_p2p_peer_id_format_cid(ipvm_p2p_identity_peer_id(id), IPVM_BASE32, cid,
                                    sizeof cid) != 0)
        cid[0] = '\0';
    ipvm_buf_t b = IPVM_BUF_INIT;
    bool running = call_node(cli, "node", &b, true) == 0;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    const ipvm_ipld_t *ls = NULL;
    if (running && ipvm_dagjson_decode((const char *)b.data, b.len, &a, &v, NULL) == 0)
        ls = ipvm_ipld_select(v, "dynamic/listeners");
    const char *pid = ipvm_p2p_identity_peer_id_str(id);
    if (cli->json) {
        printf("{\"peer_id\":\"%s\",\"cid\":\"%s\",\"running\":%s,\"addrs\":[", pid, cid,
               running ? "true" : "false");
        for (size_t i = 0; ls && ls->kind == IPVM_IPLD_LIST && i < ls->u.list.len; i++)
            printf("%s\"%s/p2p/%s\"", i ? "," : "", ls->u.list.items[i]->u.str.ptr, pid);
        printf("]}\n");
    } else {
        printf("peer id  %s\ncid      %s\n", pid, cid);
        if (!running)
            printf("(the node is not running: start it to see the addresses it listens on)\n");
        for (size_t i = 0; ls && ls->kind == IPVM_IPLD_LIST && i < ls->u.list.len; i++)
            printf("addr     %s/p2p/%s\n", ls->u.list.items[i]->u.str.ptr, pid);
    }
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&b);
    ipvm_p2p_identity_free(id);
    return IPVM_EXIT_OK;
}
