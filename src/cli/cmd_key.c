/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm key new|list|export|import`: the user's Ed25519 keys in <data-dir>/keys (PKCS#8 PEM,
 * mode 0600), the keys UCAN delegations and invocations are signed with. */
#define _GNU_SOURCE
#include "cli.h"

extern const ipvm_cmd_t ipvm_cmd_key;

#include <string.h>
#include <unistd.h>

static int print_key(const char *name, const char *did, void *data)
{
    ipvm_cli_t *cli = data;
    if (cli->json)
        printf("{\"name\":\"%s\",\"did\":\"%s\"}\n", name, did);
    else
        printf("%-20s %s\n", name, did);
    return 0;
}

static int key_new(ipvm_cli_t *cli, int argc, char **argv)
{
    if (argc != 2)
        return ipvm_cli_usage(cli, &ipvm_cmd_key, "usage: ipvm key new NAME");
    int st = ipvm_cli_ensure_data_dir(cli);
    if (st != 0)
        return st;
    ipvm_key_t key;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_keyfile_new(cli->data_dir, argv[1], &key, &err) != 0)
        return ipvm_cli_fail_err(cli, &err, "cannot create key '%s'", argv[1]);
    if (cli->json)
        printf("{\"name\":\"%s\",\"did\":\"%s\",\"path\":\"%s/keys/%s.pem\"}\n", argv[1], key.did,
               cli->data_dir, argv[1]);
    else
        printf("%s\n", key.did);
    if (!cli->json && !cli->quiet)
        fprintf(stderr, "ipvm: new key '%s' in %s/keys/%s.pem (mode 0600)\n", argv[1],
                cli->data_dir, argv[1]);
    ipvm_key_wipe(&key);
    return IPVM_EXIT_OK;
}

static int key_export(ipvm_cli_t *cli, int argc, char **argv)
{
    const char *name = NULL, *format = "did";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
            format = argv[++i];
        else if (strncmp(argv[i], "--format=", 9) == 0)
            format = argv[i] + 9;
        else if (argv[i][0] == '-')
            return ipvm_cli_usage(cli, &ipvm_cmd_key, "unknown option '%s'", argv[i]);
        else if (name == NULL)
            name = argv[i];
        else
            return ipvm_cli_usage(cli, &ipvm_cmd_key, "unexpected argument '%s'", argv[i]);
    }
    if (name == NULL)
        return ipvm_cli_usage(cli, &ipvm_cmd_key, "usage: ipvm key export NAME [--format F]");
    bool secret = strcmp(format, "pem") == 0 || strcmp(format, "multikey") == 0;
    if (!secret && strcmp(format, "did") != 0)
        return ipvm_cli_usage(cli, &ipvm_cmd_key, "unknown format '%s' (did, pem, multikey)",
                              format);
    ipvm_key_t key;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_keyfile_load(cli->data_dir, name, &key, &err) != 0)
        return ipvm_cli_fail_err(cli, &err, "cannot load key '%s'", name);
    ipvm_buf_t out = IPVM_BUF_INIT;
    int rc = 0;
    if (strcmp(format, "pem") == 0)
        rc = ipvm_key_to_pem(&key, &out);
    else if (strcmp(format, "multikey") == 0)
        rc = ipvm_key_to_multikey(&key, &out);
    else
        rc = ipvm_buf_append_str(&out, key.did);
    if (rc == 0) {
        if (secret && isatty(STDOUT_FILENO) && !cli->quiet)
            fprintf(stderr, "ipvm: warning: this is the secret key; keep it out of logs and "
                            "chats\n");
        if (cli->json)
            printf("{\"name\":\"%s\",\"did\":\"%s\",\"format\":\"%s\",\"key\":\"", name, key.did,
                   format);
        for (size_t i = 0; i < out.len; i++) {
            char c = (char)out.data[i];
            if (cli->json && c == '\n')
                fputs("\\n", stdout);
            else
                putchar(c);
        }
        if (cli->json)
            fputs("\"}", stdout);
        if (out.len == 0 || out.data[out.len - 1] != '\n' || cli->json)
            putchar('\n');
        fflush(stdout);
    }
    if (out.data)
        ipvm_memzero(out.data, out.cap);
    ipvm_buf_dispose(&out);
    ipvm_key_wipe(&key);
    return rc == 0 ? IPVM_EXIT_OK : ipvm_cli_fail(cli, rc, "cannot export key '%s'", name);
}

static int key_import(ipvm_cli_t *cli, int argc, char **argv)
{
    if (argc != 3)
        return ipvm_cli_usage(cli, &ipvm_cmd_key, "usage: ipvm key import NAME FILE|-");
    int st = ipvm_cli_ensure_data_dir(cli);
    if (st != 0)
        return st;
    ipvm_buf_t in = IPVM_BUF_INIT;
    if ((st = ipvm_cli_read_input(cli, argv[2], &in)) != 0)
        return st;
    ipvm_key_t key;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc;
    if (in.len && memmem(in.data, in.len, "-----BEGIN", 10))
        rc = ipvm_key_from_pem((const char *)in.data, in.len, &key, &err);
    else
        rc = ipvm_key_from_multikey((const char *)in.data, in.len, &key, &err);
    if (in.data)
        ipvm_memzero(in.data, in.cap);
    ipvm_buf_dispose(&in);
    if (rc != 0)
        return ipvm_cli_fail_err(cli, &err, "cannot read a key from %s", argv[2]);
    rc = ipvm_keyfile_save(cli->data_dir, argv[1], &key, &err);
    if (rc == 0)
        print_key(argv[1], key.did, cli);
    ipvm_key_wipe(&key);
    return rc == 0 ? IPVM_EXIT_OK : ipvm_cli_fail_err(cli, &err, "cannot store key '%s'", argv[1]);
}

static int cmd_key_run(ipvm_cli_t *cli, int argc, char **argv)
{
    if (ipvm_cli_wants_help(argc, argv) || argc < 2)
        return argc < 2 ? ipvm_cli_usage(cli, &ipvm_cmd_key, "missing subcommand")
                        : ipvm_cli_help(&ipvm_cmd_key);
    const char *sub = argv[1];
    if (strcmp(sub, "new") == 0)
        return key_new(cli, argc - 1, argv + 1);
    if (strcmp(sub, "export") == 0)
        return key_export(cli, argc - 1, argv + 1);
    if (strcmp(sub, "import") == 0)
        return key_import(cli, argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0) {
        if (argc != 2)
            return ipvm_cli_usage(cli, &ipvm_cmd_key, "usage: ipvm key list");
        ipvm_error_t err;
        ipvm_error_clear(&err);
        if (ipvm_keyfile_list(cli->data_dir, print_key, cli, &err) != 0)
            return ipvm_cli_fail_err(cli, &err, "cannot list keys");
        return IPVM_EXIT_OK;
    }
    return ipvm_cli_usage(cli, &ipvm_cmd_key, "unknown subcommand '%s'", sub);
}

const ipvm_cmd_t ipvm_cmd_key = {
    "key", "create, list, export and import your Ed25519 signing keys",
    "Usage: ipvm key new NAME\n"
    "       ipvm key list\n"
    "       ipvm key export NAME [--format did|pem|multikey]\n"
    "       ipvm key import NAME FILE|-\n"
    "\n"
    "Keys sign UCAN delegations and invocations ('ipvm ucan'). Each key is a file\n"
    "<data-dir>/keys/NAME.pem (PKCS#8 Ed25519, readable by OpenSSL), mode 0600; ipvm refuses\n"
    "key files that others can read. Secrets are wiped from memory after use. The node's own\n"
    "key is separate: see 'ipvm id'.\n"
    "\n"
    "Subcommands:\n"
    "  new NAME      create a random key and print its did:key\n"
    "  list          print each key's name and did:key (--json: one object per line)\n"
    "  export NAME   print the key: --format did (default, public), pem (the secret key as\n"
    "                PKCS#8 PEM) or multikey (the secret as base64pad(varint 0x1300 || seed),\n"
    "                the form of the UCAN spec fixtures and iso-ucan)\n"
    "  import NAME FILE\n"
    "                store a key read from a PEM or multikey file ('-' reads stdin)\n"
    "\n"
    "Names: 1-64 characters of A-Z a-z 0-9 . _ - (not starting with '.').\n"
    "\n"
    "Examples:\n"
    "  ipvm key new alice\n"
    "  ipvm key export alice --format pem > alice.pem && chmod 600 alice.pem\n"
    "  openssl pkey -in alice.pem -pubout\n",
    cmd_key_run};
