/* SPDX-License-Identifier: Apache-2.0 */
/* The node's identity. The node's did:key is the same Ed25519 key as its libp2p peer id, and
 * the p2p area owns that key; this file is the one place trust reaches for it. */
#include "trust_int.h"

#include <stdio.h>

/* Until p2p's identity API is on main, the node key is kept here, in the format of user keys
 * (PKCS#8 PEM, 0600). Switching over changes only this function. */
#define NODE_KEY_FILE "node-key.pem"

int ipvm_trust_node_key(const char *data_dir, ipvm_key_t *key, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(data_dir == NULL || key == NULL);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/" NODE_KEY_FILE, data_dir) >= (int)sizeof path)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "data directory path too long");
    int rc = ipvm_keyfile_load(data_dir, path, key, err);
    if (rc != IPVM_ENOENT)
        return rc;
    if ((rc = ipvm_mkdirs(data_dir, 0700, err)) != 0)
        return rc;
    ipvm_error_clear(err);
    rc = ipvm__trust_key_create_at(path, key, err);
    if (rc == IPVM_EEXIST) /* another process created it first: use theirs */
        rc = ipvm_keyfile_load(data_dir, path, key, err);
    return rc;
}
