/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm id`: the node's identity, as a did:key and as the libp2p peer id of the same key. */
#include "cli.h"

extern const ipvm_cmd_t ipvm_cmd_id;

#include <string.h>

/* libp2p peer id of an Ed25519 key: the identity multihash of the protobuf PublicKey
 * {Type: Ed25519, Data: key} (libp2p peer-ids spec), base58btc without a multibase prefix. */
static int peer_id(const uint8_t pub[IPVM_ED25519_PUBLIC], ipvm_buf_t *out)
{
    uint8_t mh[2 + 4 + IPVM_ED25519_PUBLIC] = {0x00, 36, 0x08, 0x01, 0x12, 0x20};
    memcpy(mh + 6, pub, IPVM_ED25519_PUBLIC);
    return ipvm_base_encode(IPVM_BASE58BTC, mh, sizeof mh, out);
}

static int cmd_id_run(ipvm_cli_t *cli, int argc, char **argv)
{
    if (ipvm_cli_wants_help(argc, argv))
        return ipvm_cli_help(&ipvm_cmd_id);
    if (argc > 1)
        return ipvm_cli_usage(cli, &ipvm_cmd_id, "unexpected argument '%s'", argv[1]);
    int st = ipvm_cli_ensure_data_dir(cli);
    if (st != 0)
        return st;
    ipvm_key_t key;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_trust_node_key(cli->data_dir, &key, &err) != 0)
        return ipvm_cli_fail_err(cli, &err, "cannot load the node key");
    ipvm_buf_t pid = IPVM_BUF_INIT, pubhex = IPVM_BUF_INIT;
    int rc = peer_id(key.pub, &pid);
    if (rc == 0)
        rc = ipvm_base_encode(IPVM_BASE16, key.pub, sizeof key.pub, &pubhex);
    if (rc != 0) {
        ipvm_key_wipe(&key);
        return ipvm_cli_fail(cli, rc, "cannot format the identity");
    }
    if (cli->json)
        printf("{\"did\":\"%s\",\"peer_id\":\"%s\",\"public_key\":\"%s\",\"key_type\":"
               "\"Ed25519\"}\n",
               key.did, (char *)pid.data, (char *)pubhex.data);
    else
        printf("did:        %s\npeer id:    %s\npublic key: %s (Ed25519)\n", key.did,
               (char *)pid.data, (char *)pubhex.data);
    ipvm_key_wipe(&key);
    ipvm_buf_dispose(&pid);
    ipvm_buf_dispose(&pubhex);
    return IPVM_EXIT_OK;
}

const ipvm_cmd_t ipvm_cmd_id = {
    "id", "print this node's identity (did:key and libp2p peer id)",
    "Usage: ipvm id [--json]\n"
    "\n"
    "Prints the node's identity. The node has one Ed25519 key, created in the data directory\n"
    "the first time it is needed; the same key is the node's libp2p peer id and its did:key,\n"
    "the name it signs receipts with and the subject that UCAN delegations to it name.\n"
    "\n"
    "Output:\n"
    "  did         did:key:z6Mk… (multicodec ed25519-pub 0xed, base58btc)\n"
    "  peer id     12D3KooW… (identity multihash of the libp2p public key)\n"
    "  public key  the 32 key bytes in hex\n"
    "\n"
    "Options:\n"
    "  --json      one JSON object: {\"did\", \"peer_id\", \"public_key\", \"key_type\"}\n"
    "\n"
    "Examples:\n"
    "  ipvm id\n"
    "  ipvm id --json | jq -r .did\n"
    "  ipvm ucan delegate --from node --to did:key:z6Mk… --cmd /wasm/run   (grant a user runs)\n",
    cmd_id_run};
