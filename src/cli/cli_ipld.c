/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by `ipvm cid` and `ipvm dag`: codec names and decoding with errors people can act on. */
#include "cli_ipld.h"

#include <string.h>

int ipvm_cli_codec_from_name(const char *name)
{
    if (strcmp(name, "dag-json") == 0 || strcmp(name, "json") == 0)
        return IPVM_CLI_DAG_JSON;
    if (strcmp(name, "dag-cbor") == 0 || strcmp(name, "cbor") == 0)
        return IPVM_CLI_DAG_CBOR;
    return 0;
}

const char *ipvm_cli_codec_name(int codec)
{
    return codec == IPVM_CLI_DAG_CBOR ? "dag-cbor" : "dag-json";
}

/* Line and column (both from 1, the column in bytes) of a byte offset in text. */
static void line_col(const ipvm_buf_t *in, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < in->len; i++) {
        if (in->data[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

int ipvm_cli_decode(ipvm_cli_t *cli, const char *path, const ipvm_buf_t *in, int codec,
                    ipvm_arena_t *arena, ipvm_ipld_t **out)
{
    ipvm_error_t err;
    ipvm_error_clear(&err);
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    int rc;
    if (codec == IPVM_CLI_DAG_CBOR)
        rc = ipvm_dagcbor_decode(in->data, in->len, arena, out, &err);
    else
        rc = ipvm_dagjson_decode((const char *)in->data, in->len, arena, out, &err);
    if (rc == 0)
        return 0;
    if (rc == IPVM_ENOMEM)
        return ipvm_cli_fail(cli, rc, "%s: the document is too large for the memory available",
                             name);
    const char *hint = "";
    /* binary input given as JSON, or text as CBOR: say which option fixes it */
    bool binary = false;
    for (size_t i = 0; i < in->len && i < 64; i++)
        if (in->data[i] >= 0x80 || (in->data[i] < 0x20 && !strchr("\t\r\n", in->data[i])))
            binary = true;
    if (codec == IPVM_CLI_DAG_JSON && binary)
        hint = "; the input looks binary: if it is DAG-CBOR, add --from dag-cbor";
    else if (codec == IPVM_CLI_DAG_CBOR && !binary && in->len && strchr("{[\"", in->data[0]))
        hint = "; the input looks like JSON: if it is DAG-JSON, use --from dag-json";
    if (codec == IPVM_CLI_DAG_JSON && err.offset != IPVM_NO_OFFSET) {
        size_t line, col;
        line_col(in, err.offset, &line, &col);
        return ipvm_cli_fail(cli, err.code, "%s:%zu:%zu (byte %zu): %s%s", name, line, col,
                             err.offset, err.msg, hint);
    }
    if (err.offset != IPVM_NO_OFFSET)
        return ipvm_cli_fail(cli, err.code, "%s: byte %zu: %s%s", name, err.offset, err.msg,
                             hint);
    return ipvm_cli_fail(cli, err.code, "%s: %s%s", name, err.msg, hint);
}
