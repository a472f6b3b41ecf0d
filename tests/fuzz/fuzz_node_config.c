/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the node's config file reader (INI through inih, then our typed values):
 * any text either loads completely or fails with a "path:line: reason" message and leaves every
 * setting as it was. */
#include "fuzz.h"
#include "ipvm/rpc.h"

#include <string.h>

IPVM_FUZZ_TARGET(node_config)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    ipvm_config_t *c = NULL;
    if (ipvm_config_new(&c) != 0) {
        free(text);
        return 0;
    }
    ipvm_buf_t before = IPVM_BUF_INIT, after = IPVM_BUF_INIT;
    IPVM_FUZZ_CHECK(ipvm_config_dump(c, &before) == 0);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = ipvm_config_load_text(c, text, "fuzz.conf", &err);
    IPVM_FUZZ_CHECK(ipvm_config_dump(c, &after) == 0);
    if (rc != 0) {
        IPVM_FUZZ_CHECK(rc == IPVM_EINVAL || rc == IPVM_ENOMEM);
        IPVM_FUZZ_CHECK(rc == IPVM_ENOMEM || strncmp(err.msg, "fuzz.conf:", 10) == 0);
        IPVM_FUZZ_CHECK(before.len == after.len &&
                        memcmp(before.data, after.data, before.len) == 0);
    } else {
        int64_t port = ipvm_config_int(c, "rpc", "port");
        IPVM_FUZZ_CHECK(port >= 0 && port <= 65535);
    }
    ipvm_buf_dispose(&before);
    ipvm_buf_dispose(&after);
    ipvm_config_free(c);
    free(text);
    return 0;
}
