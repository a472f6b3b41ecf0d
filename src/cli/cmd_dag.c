/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm dag convert`: DAG-JSON <-> DAG-CBOR through the strict codecs, so the output is the
 * canonical form of the input (sorted keys, shortest integers, float64 floats). */
#include "cli_ipld.h"

#include <string.h>
#include <unistd.h>

extern const ipvm_cmd_t ipvm_cmd_dag;

typedef struct {
    const char *path;
    const char *output; /* NULL: stdout */
    int from, to;
    bool pretty;
} conv_opts_t;

static int parse_convert(ipvm_cli_t *cli, int argc, char **argv, conv_opts_t *o)
{
    const ipvm_cmd_t *me = &ipvm_cmd_dag;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int *slot = NULL;
        const char *v = NULL;
        if (strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0 || strcmp(a, "-o") == 0 ||
            strcmp(a, "--output") == 0) {
            if (i + 1 >= argc)
                return ipvm_cli_usage(cli, me, "%s needs a value", a);
            v = argv[++i];
        } else if (strncmp(a, "--from=", 7) == 0 || strncmp(a, "--to=", 5) == 0 ||
                   strncmp(a, "--output=", 9) == 0) {
            v = strchr(a, '=') + 1;
        }
        if (v && strncmp(a, "--from", 6) == 0)
            slot = &o->from;
        else if (v && strncmp(a, "--to", 4) == 0)
            slot = &o->to;
        if (slot) {
            if ((*slot = ipvm_cli_codec_from_name(v)) == 0)
                return ipvm_cli_usage(cli, me, "unknown codec '%s' (use dag-json or dag-cbor)", v);
        } else if (v) {
            o->output = v;
        } else if (strcmp(a, "--pretty") == 0) {
            o->pretty = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            return ipvm_cli_usage(cli, me, "unknown option '%s'", a);
        } else if (o->path) {
            return ipvm_cli_usage(cli, me, "one FILE only (got '%s' and '%s')", o->path, a);
        } else {
            o->path = a;
        }
    }
    if (o->from == 0 || o->to == 0)
        return ipvm_cli_usage(cli, me, "say both --from and --to (dag-json or dag-cbor)");
    if (o->path == NULL)
        return ipvm_cli_usage(cli, me, "missing FILE (use - for standard input)");
    if (o->pretty && o->to != IPVM_CLI_DAG_JSON)
        return ipvm_cli_usage(cli, me, "--pretty applies to --to dag-json only");
    if (o->to == IPVM_CLI_DAG_CBOR && o->output == NULL && isatty(STDOUT_FILENO))
        return ipvm_cli_usage(cli, me, "DAG-CBOR is binary: redirect the output to a file or "
                                       "a pipe, or use --output FILE");
    return 0;
}

static int write_output(ipvm_cli_t *cli, const conv_opts_t *o, const ipvm_buf_t *b)
{
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (o->output && strcmp(o->output, "-") != 0) {
        if (ipvm_file_write_atomic(o->output, b->data, b->len, &err) != 0)
            return ipvm_cli_fail(cli, err.code, "%s", err.msg);
        return 0;
    }
    if (b->len && fwrite(b->data, 1, b->len, stdout) != b->len)
        return ipvm_cli_fail(cli, IPVM_EIO, "cannot write to standard output");
    if (o->to == IPVM_CLI_DAG_JSON && o->pretty)
        putchar('\n');
    return fflush(stdout) == 0 ? 0 : ipvm_cli_fail(cli, IPVM_EIO, "cannot write the output");
}

static int convert(ipvm_cli_t *cli, int argc, char **argv)
{
    conv_opts_t o = {0};
    int st = parse_convert(cli, argc, argv, &o);
    if (st != 0)
        return st;
    ipvm_buf_t in = IPVM_BUF_INIT, out = IPVM_BUF_INIT;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if ((st = ipvm_cli_read_input(cli, o.path, &in)) != 0 ||
        (st = ipvm_cli_decode(cli, o.path, &in, o.from, &a, &v)) != 0)
        goto done;
    int rc = o.to == IPVM_CLI_DAG_CBOR
                 ? ipvm_dagcbor_encode(v, &out, &err)
                 : ipvm_dagjson_encode(v, o.pretty ? IPVM_JSON_PRETTY : 0, &out, &err);
    if (rc != 0) {
        st = ipvm_cli_fail(cli, err.code ? err.code : rc, "cannot write the document as %s: %s",
                           ipvm_cli_codec_name(o.to), err.msg[0] ? err.msg : ipvm_strerror(rc));
        goto done;
    }
    st = write_output(cli, &o, &out);
done:
    ipvm_buf_dispose(&in);
    ipvm_buf_dispose(&out);
    ipvm_arena_dispose(&a);
    return st;
}

static int cmd_dag_run(ipvm_cli_t *cli, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        ipvm_cli_wants_help(argc, argv))
        return argc < 2 ? (ipvm_cli_help(&ipvm_cmd_dag), IPVM_EXIT_USAGE)
                        : ipvm_cli_help(&ipvm_cmd_dag);
    if (strcmp(argv[1], "convert") == 0)
        return convert(cli, argc, argv);
    return ipvm_cli_usage(cli, &ipvm_cmd_dag, "unknown subcommand '%s' (try 'ipvm dag convert')",
                          argv[1]);
}

const ipvm_cmd_t ipvm_cmd_dag = {
    "dag", "convert IPLD documents between DAG-JSON and DAG-CBOR",
    "Usage: ipvm dag convert --from dag-json|dag-cbor --to dag-json|dag-cbor [--pretty]\n"
    "                        [--output FILE] FILE|-\n"
    "\n"
    "Reads one IPLD document with the strict --from codec and writes it with the --to codec,\n"
    "in canonical form: map keys sorted, integers in their shortest form, every float as a\n"
    "float64 (DAG-CBOR) or in its shortest exact text (DAG-JSON), links as {\"/\": \"<cid>\"}\n"
    "and bytes as {\"/\": {\"bytes\": \"<base64>\"}} in DAG-JSON, tag 42 in DAG-CBOR.\n"
    "Converting dag-json to dag-json canonicalises a document; the result is what\n"
    "@ipld/dag-json would write for it.\n"
    "\n"
    "Input that is not strict DAG-CBOR or DAG-JSON is refused with the reason and where it is\n"
    "(line and column, or byte offset): indefinite lengths, unsorted or duplicate keys,\n"
    "non-shortest integers, tags other than 42, NaN, trailing data, invalid UTF-8...\n"
    "\n"
    "Options:\n"
    "  --from CODEC    dag-json or dag-cbor\n"
    "  --to CODEC      dag-json or dag-cbor\n"
    "  --pretty        indent DAG-JSON for reading (not canonical: do not hash it)\n"
    "  -o, --output F  write to F (atomically) instead of standard output; DAG-CBOR is\n"
    "                  binary and is not written to a terminal\n"
    "  --json          errors as a JSON object on standard output\n"
    "\n"
    "Examples:\n"
    "  ipvm dag convert --from dag-json --to dag-cbor workflow.json > workflow.cbor\n"
    "  ipvm dag convert --from dag-cbor --to dag-json --pretty workflow.cbor\n"
    "  curl -s .../receipt | ipvm dag convert --from dag-cbor --to dag-json -\n",
    cmd_dag_run};
