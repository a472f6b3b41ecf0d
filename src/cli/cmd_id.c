/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm id`: the node's identity, as a did:key and as the libp2p peer id of the same key. */
#include "cli.h"

extern const ipvm_cmd_t ipvm_cmd_id;

#include <string.h>

static int cmd_id_run(ipvm_cli_t *cli, int argc, char **argv)
{
    if (ipvm_cli_wants_help(argc, argv))
        return ipvm_cli_help(&ipvm_cmd_id);
    if (argc > 1)
        return ipvm_cli_usage(cli, &ipvm_cmd_id, "unexpected argument '%s'", argv[1]);
    int st = ipvm_cli_ensure_data_dir(cli);
    if (st != 0)
        return st;
    ipvm_p2p_identity_t *id = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    bool created = false;
    if (ipvm_p2p_identity_load_or_create(cli->data_dir, &id, &created, &err) != 0)
        return ipvm_cli_fail_err(cli, &err, "cannot load the node identity");
    ipvm_signer_t me;
    ipvm_buf_t pubhex = IPVM_BUF_INIT;
    int rc = ipvm_signer_from_identity(&me, id);
    if (rc == 0)
        rc = ipvm_base_encode(IPVM_BASE16, me.pub, sizeof me.pub, &pubhex);
    if (rc != 0) {
        ipvm_p2p_identity_free(id);
        return ipvm_cli_fail(cli, rc, "cannot format the identity");
    }
    const char *pid = ipvm_p2p_identity_peer_id_str(id);
    if (cli->json)
        printf("{\"did\":\"%s\",\"peer_id\":\"%s\",\"public_key\":\"%s\",\"key_type\":"
               "\"Ed25519\",\"key_file\":\"%s/%s\"}\n",
               me.did, pid, (char *)pubhex.data, cli->data_dir, IPVM_P2P_IDENTITY_FILE);
    else
        printf("did:        %s\npeer id:    %s\npublic key: %s (Ed25519)\nkey file:   %s/%s%s\n",
               me.did, pid, (char *)pubhex.data, cli->data_dir, IPVM_P2P_IDENTITY_FILE,
               created ? " (created now)" : "");
    ipvm_p2p_identity_free(id);
    ipvm_buf_dispose(&pubhex);
    return IPVM_EXIT_OK;
}

const ipvm_cmd_t ipvm_cmd_id = {
    "id", "print this node's identity (did:key and libp2p peer id)",
    "Usage: ipvm id [--json]\n"
    "\n"
    "Prints the node's identity. The node has one Ed25519 key, <data-dir>/identity.key (the\n"
    "libp2p PrivateKey format, mode 0600), created the first time it is needed. The same key\n"
    "is the node's libp2p peer id and its did:key, the name it signs receipts with and the\n"
    "subject that UCAN delegations to it name.\n"
    "\n"
    "Output:\n"
    "  did         did:key:z6Mk… (multicodec ed25519-pub 0xed, base58btc)\n"
    "  peer id     12D3KooW… (identity multihash of the libp2p public key)\n"
    "  public key  the 32 key bytes in hex\n"
    "\n"
    "Options:\n"
    "  --json      one JSON object: {\"did\", \"peer_id\", \"public_key\", \"key_type\",\n"
    "              \"key_file\"}\n"
    "\n"
    "Examples:\n"
    "  ipvm id\n"
    "  ipvm id --json | jq -r .did\n"
    "  ipvm ucan delegate --from node --to did:key:z6Mk… --cmd /wasm/run   (grant a user runs)\n",
    cmd_id_run};
