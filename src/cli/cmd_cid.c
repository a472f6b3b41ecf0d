/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm cid`: the CID of a document: DAG-JSON (or DAG-CBOR) in, the CIDv1 of its strict
 * DAG-CBOR encoding out, hashed with SHA3-256 as Homestar names workflows and receipts. */
#include "cli_ipld.h"
#include "cli_store.h"

#include <string.h>

extern const ipvm_cmd_t ipvm_cmd_cid;

typedef struct {
    const char *path;
    int codec;
    int64_t hash;
    int base;
} cid_opts_t;

static int parse_args(ipvm_cli_t *cli, int argc, char **argv, cid_opts_t *o)
{
    const ipvm_cmd_t *me = &ipvm_cmd_cid;
    o->codec = IPVM_CLI_DAG_JSON;
    o->hash = IPVM_MH_SHA3_256;
    o->base = IPVM_BASE32;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        if ((v = ipvm_cli_opt(argc, argv, &i, "--hash", &missing)) != NULL) {
            o->hash = ipvm_multihash_from_name(v);
            if (o->hash < 0 || o->hash == IPVM_MH_IDENTITY)
                return ipvm_cli_usage(cli, me, "unknown hash '%s' (use sha3-256, sha2-256, "
                                               "sha2-512 or blake2b-256)", v);
        } else if ((v = ipvm_cli_opt(argc, argv, &i, "--from", &missing)) != NULL) {
            if ((o->codec = ipvm_cli_codec_from_name(v)) == 0)
                return ipvm_cli_usage(cli, me, "unknown codec '%s' (use dag-json or dag-cbor)", v);
        } else if ((v = ipvm_cli_opt(argc, argv, &i, "--base", &missing)) != NULL) {
            o->base = ipvm_base_from_name(v);
            if (o->base < 0 || o->base == IPVM_BASE_IDENTITY)
                return ipvm_cli_usage(cli, me, "unknown base '%s' (use base32, base58btc, "
                                               "base64url...)", v);
        } else if (missing) {
            return ipvm_cli_usage(cli, me, "%s needs a value", argv[i]);
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return ipvm_cli_usage(cli, me, "unknown option '%s'", argv[i]);
        } else if (o->path) {
            return ipvm_cli_usage(cli, me, "one FILE only (got '%s' and '%s')", o->path, argv[i]);
        } else {
            o->path = argv[i];
        }
    }
    if (o->path == NULL)
        return ipvm_cli_usage(cli, me, "missing FILE (use - for standard input)");
    return 0;
}

static int cmd_cid_run(ipvm_cli_t *cli, int argc, char **argv)
{
    if (ipvm_cli_wants_help(argc, argv))
        return ipvm_cli_help(&ipvm_cmd_cid);
    cid_opts_t o = {0};
    int st = parse_args(cli, argc, argv, &o);
    if (st != 0)
        return st;
    ipvm_buf_t in = IPVM_BUF_INIT, cbor = IPVM_BUF_INIT;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_cid_t cid;
    char s[IPVM_CID_MAX_STR];
    if ((st = ipvm_cli_read_input(cli, o.path, &in)) != 0 ||
        (st = ipvm_cli_decode(cli, o.path, &in, o.codec, &a, &v)) != 0)
        goto done;
    int rc = ipvm_dagcbor_encode(v, &cbor, &err);
    if (rc == 0)
        rc = ipvm_cid_create(&cid, 1, IPVM_CODEC_DAG_CBOR, (uint64_t)o.hash, cbor.data, cbor.len);
    if (rc == 0)
        rc = ipvm_cid_format(&cid, (ipvm_base_t)o.base, s, sizeof s);
    if (rc != 0) {
        st = err.code ? ipvm_cli_fail_err(cli, &err, "cannot encode the document as DAG-CBOR")
                      : ipvm_cli_fail(cli, rc, "cannot compute the CID");
        goto done;
    }
    if (cli->json)
        printf("{\"cid\":\"%s\",\"codec\":\"dag-cbor\",\"hash\":\"%s\",\"size\":%zu}\n", s,
               ipvm_multihash_name((uint64_t)o.hash), cbor.len);
    else
        printf("%s\n", s);
done:
    ipvm_buf_dispose(&in);
    ipvm_buf_dispose(&cbor);
    ipvm_arena_dispose(&a);
    return st;
}

const ipvm_cmd_t ipvm_cmd_cid = {
    "cid", "print the CID of a DAG-JSON (or DAG-CBOR) document",
    "Usage: ipvm cid [--hash sha3-256|sha2-256] [--from dag-json|dag-cbor] [--base NAME] FILE|-\n"
    "\n"
    "Reads one IPLD document and prints the CIDv1 of its strict DAG-CBOR encoding: the name\n"
    "Homestar and ipvm give a workflow, an instruction or a receipt. The input is DAG-JSON\n"
    "unless --from dag-cbor says otherwise; map keys are sorted and numbers written in\n"
    "their canonical form before hashing, so the CID does not depend on spacing or key order.\n"
    "Integers past the 64-bit range (like Homestar's \"fuel\": 18446744073709552000) are read\n"
    "as floats, exactly as Homestar reads them.\n"
    "\n"
    "Options:\n"
    "  --hash NAME   multihash: sha3-256 (default, Homestar's), sha2-256, sha2-512,\n"
    "                blake2b-256\n"
    "  --from CODEC  dag-json (default) or dag-cbor (then the bytes must be strict DAG-CBOR)\n"
    "  --base NAME   text form of the CID: base32 (default), base58btc, base64url, base16...\n"
    "  --json        print {\"cid\", \"codec\", \"hash\", \"size\"} (size: DAG-CBOR bytes)\n"
    "\n"
    "FILE - reads standard input. Exit status: 0 on success, 1 if the input is not valid\n"
    "(the message names the line and column, or the byte), 2 for a bad command line.\n"
    "\n"
    "Examples:\n"
    "  ipvm cid workflow.json                    bafyrmi... (the workflow CID)\n"
    "  echo '{\"a\": 1}' | ipvm cid --hash sha2-256 -\n"
    "  ipvm dag convert --from dag-json --to dag-cbor x.json | ipvm cid --from dag-cbor -\n",
    cmd_cid_run};
