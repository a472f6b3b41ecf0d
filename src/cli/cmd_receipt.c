/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm receipt CID`: one receipt in full, as DAG-JSON, with the columns we keep beside it
 * (fuel, time, source...) and a check that the stored receipt still hashes to its CID. The CID
 * may also be an instruction's: then its memoized receipt is shown. */
#include "cli_store.h"
#include "cli_trust.h"

#include <string.h>
#include <time.h>

extern const ipvm_cmd_t ipvm_cmd_receipt;

typedef struct {
    const char *cid;
    bool verify; /* --verify: the signature verdict and redundancy evidence (trust) */
} receipt_opts_t;

static int parse(ipvm_cli_t *cli, int argc, char **argv, receipt_opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--verify") == 0) {
            o->verify = true;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return ipvm_cli_usage(cli, &ipvm_cmd_receipt, "unknown option '%s'", argv[i]);
        if (o->cid)
            return ipvm_cli_usage(cli, &ipvm_cmd_receipt, "give one CID");
        o->cid = argv[i];
    }
    if (o->cid == NULL)
        return ipvm_cli_usage(cli, &ipvm_cmd_receipt, "give a receipt CID (see 'ipvm receipts')");
    return 0;
}

static void print_human(const ipvm_receipt_row_t *row, const ipvm_cli_receipt_t *r,
                        const char *json, bool matches, bool by_instruction)
{
    char c[IPVM_CID_MAX_STR], t[32], when[64] = "unknown";
    if (row->created_ms > 0) {
        time_t secs = (time_t)(row->created_ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    }
    printf("receipt      %s%s\n", ipvm_cid_str(&row->cid, c),
           matches ? "" : "   (STORED BYTES DO NOT HASH TO THIS CID)");
    printf("instruction  %s%s\n", ipvm_cid_str(&row->instruction, c),
           by_instruction ? "   (looked up by instruction)" : "");
    printf("ran          %s\n", ipvm_cid_str(&row->ran, c));
    printf("function     %s\n", r->function);
    printf("status       %s\n", row->ok ? "ok" : "error");
    printf("fuel         %llu\n", (unsigned long long)row->fuel);
    printf("time         %s\n", row->time_ns ? ipvm_cli_duration(row->time_ns, t, sizeof t) : "-");
    printf("source       %s\n", row->source ? row->source : "local");
    printf("stored       %s\n", when);
    printf("signature    %s\n", row->signature ? "present" : "none");
    printf("\n%s\n", json);
}

static void print_json(const ipvm_receipt_row_t *row, const char *json, bool matches,
                       const char *extra)
{
    char c[2][IPVM_CID_MAX_STR];
    printf("{\"cid\":\"%s\",\"instruction\":\"%s\",\"receipt\":%s,", ipvm_cid_str(&row->cid, c[0]),
           ipvm_cid_str(&row->instruction, c[1]), json);
    ipvm_cli_receipt_columns_json(stdout, row);
    printf(",\"cid_matches\":%s%s}\n", matches ? "true" : "false", extra ? extra : "");
}

static int show(ipvm_cli_t *cli, ipvm_store_t *s, const ipvm_cid_t *cid, bool verify)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_receipt_row_t row;
    bool by_instruction = false;
    int rc = ipvm_store_get_receipt(s, cid, &a, &row, &err);
    if (rc == IPVM_ENOENT && (rc = ipvm_store_find_receipt(s, cid, &a, &row, NULL)) == 0)
        by_instruction = true;
    ipvm_cli_receipt_t r;
    ipvm_buf_t json = IPVM_BUF_INIT;
    ipvm_cid_t again;
    if (rc == IPVM_ENOENT) {
        char c[IPVM_CID_MAX_STR];
        rc = ipvm_cli_fail(cli, IPVM_ENOENT,
                           "no receipt %s (nor one for an instruction of that CID) in %s: "
                           "'ipvm receipts' lists them",
                           ipvm_cid_str(cid, c), cli->data_dir);
        goto done;
    }
    if (rc != 0 || (rc = ipvm_cli_receipt_decode(&a, &row, &r, &err)) != 0 ||
        (rc = ipvm_dagjson_encode(r.receipt, cli->json ? 0 : IPVM_JSON_PRETTY, &json, &err)) !=
            0 ||
        (rc = ipvm_ipld_cid(r.receipt, row.cid.hash, &again, &err)) != 0) {
        rc = ipvm_cli_fail(cli, rc, "%s", err.msg);
        goto done;
    }
    bool matches = ipvm_cid_equal(&again, &row.cid), bad = false;
    ipvm_buf_t extra = IPVM_BUF_INIT;
    if (verify && cli->json &&
        (rc = ipvm_cli_trust_verify_receipt(cli, &row, r.receipt, &extra, &bad)) != 0)
        goto done;
    if (cli->json)
        print_json(&row, (const char *)json.data, matches, (const char *)extra.data);
    else
        print_human(&row, &r, (const char *)json.data, matches, by_instruction);
    ipvm_buf_dispose(&extra);
    if (verify && !cli->json && (rc = ipvm_cli_trust_verify_receipt(cli, &row, r.receipt, NULL,
                                                                    &bad)) != 0)
        goto done;
    rc = matches && !bad ? 0 : IPVM_EXIT_FAIL;
done:
    ipvm_buf_dispose(&json);
    ipvm_arena_dispose(&a);
    return rc;
}

static int cmd_receipt_run(ipvm_cli_t *cli, int argc, char **argv)
{
    if (ipvm_cli_wants_help(argc, argv))
        return ipvm_cli_help(&ipvm_cmd_receipt);
    receipt_opts_t o = {0};
    int st = parse(cli, argc, argv, &o);
    if (st != 0)
        return st;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_cid_t cid;
    if (ipvm_cid_parse(&cid, o.cid, strlen(o.cid), &err) != 0)
        return ipvm_cli_fail_err(cli, &err, "'%s' is not a CID", o.cid);
    ipvm_store_t *s;
    if ((st = ipvm_cli_open_store(cli, IPVM_STORE_READONLY, &s)) != 0)
        return st;
    if (s == NULL)
        return ipvm_cli_fail(cli, IPVM_ENOENT,
                             "no receipts in %s yet: run a workflow with 'ipvm run WORKFLOW.json'",
                             cli->data_dir);
    st = show(cli, s, &cid, o.verify);
    ipvm_store_close(s);
    return st;
}

const ipvm_cmd_t ipvm_cmd_receipt = {
    "receipt", "show one receipt in full (DAG-JSON) with its fuel, time and source",
    "Usage: ipvm receipt [--json] [--verify] CID\n"
    "\n"
    "Shows the receipt CID from <data-dir>/ipvm.db: the receipt itself as DAG-JSON\n"
    "({ran, out, meta, iss, prf}, the map its CID is the hash of), and beside it what ipvm\n"
    "keeps outside the receipt: the instruction it answers, fuel used, time taken, where it\n"
    "came from, when it was stored, whether it is signed. The stored receipt is hashed again\n"
    "and must still give CID; if not, this says so and exits with status 1.\n"
    "CID may also be an instruction CID: its receipt (the one replay would use) is shown.\n"
    "With --json: {\"cid\", \"instruction\", \"receipt\": <DAG-JSON>, \"fuel\", \"time_ns\",\n"
    "\"created_ms\", \"ok\", \"source\", \"version\", \"signed\", \"cid_matches\"}.\n"
    "--verify also checks who computed it: \"signed by DID\" (iss and a valid signature over\n"
    "the receipt CID), \"unsigned\" (iss null: Homestar's receipts, unverified) or FAILED (exit\n"
    "status 1); and shows the redundancy evidence when the task asked for k independent results\n"
    "(each issuer's DID and output, agree or conflict). With --json: \"verify\": {\"verdict\":\n"
    "\"signed\"|\"unsigned\"|\"bad\", \"issuer\", \"error\", \"evidence\"}.\n"
    "\n"
    "See also: ipvm receipts\n",
    cmd_receipt_run};
