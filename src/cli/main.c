/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm`: global options, dispatch to subcommands, `ipvm --help` and `ipvm version`. */
#define _GNU_SOURCE
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every command, by weak reference: a command whose file is not built is simply absent. */
#define IPVM_COMMANDS(XX)                                                                          \
    XX(run)                                                                                        \
    XX(receipts)                                                                                   \
    XX(receipt)                                                                                    \
    XX(workflow)                                                                                   \
    XX(cid)                                                                                        \
    XX(dag)                                                                                        \
    XX(add)                                                                                        \
    XX(cat)                                                                                        \
    XX(wasm)                                                                                       \
    XX(node)                                                                                       \
    XX(id)                                                                                         \
    XX(key)                                                                                        \
    XX(ucan)                                                                                       \
    XX(version)

#define XX(name) extern const ipvm_cmd_t ipvm_cmd_##name __attribute__((weak));
IPVM_COMMANDS(XX)
#undef XX

static const ipvm_cmd_t *const commands[] = {
#define XX(name) &ipvm_cmd_##name,
    IPVM_COMMANDS(XX)
#undef XX
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_main_help(void)
{
    printf("ipvm %s: an IPVM node. Runs content-addressed WebAssembly workflows, keeps every\n"
           "result as a receipt named by its CID, and never computes the same thing twice.\n\n"
           "Usage: ipvm [GLOBAL OPTIONS] COMMAND [ARGS...]\n\nCommands:\n",
           IPVM_VERSION_STRING);
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (commands[i])
            printf("  %-10s %s\n", commands[i]->name, commands[i]->summary);
    printf("\nGlobal options (accepted before or after the command):\n"
           "  --data-dir DIR  where ipvm keeps its database, blocks and compiled code\n"
           "                  (default: $IPVM_DATA_DIR, else $XDG_DATA_HOME/ipvm,\n"
           "                  else ~/.local/share/ipvm)\n"
           "  --json          machine-readable output on stdout\n"
           "  -q, --quiet     no progress bars or decorations\n"
           "  -v, --verbose   more log output on stderr (or set IPVM_LOG=debug)\n"
           "  -h, --help      help; 'ipvm COMMAND --help' for a command\n"
           "  --version       print the version\n\n"
           "Start here:  ipvm run WORKFLOW.json     (see 'ipvm run --help')\n");
}

static const char *default_data_dir(void)
{
    static char path[4096];
    const char *e = getenv("IPVM_DATA_DIR");
    if (e && *e)
        return e;
    e = getenv("XDG_DATA_HOME");
    if (e && *e) {
        snprintf(path, sizeof path, "%s/ipvm", e);
        return path;
    }
    e = getenv("HOME");
    snprintf(path, sizeof path, "%s/.local/share/ipvm", e && *e ? e : ".");
    return path;
}

/* Prints s as a JSON string. */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

int ipvm_cli_fail(ipvm_cli_t *cli, int rc, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cli && cli->json) {
        printf("{\"error\":{");
        if (rc != 0) {
            printf("\"code\":\"%s\",\"reason\":", ipvm_err_name(rc));
            json_str(ipvm_strerror(rc));
            putchar(',');
        }
        printf("\"message\":");
        json_str(msg);
        printf("}}\n");
    }
    if (rc != 0 && strstr(msg, ipvm_strerror(rc)) == NULL)
        fprintf(stderr, "ipvm: error: %s (%s)\n", msg, ipvm_strerror(rc));
    else
        fprintf(stderr, "ipvm: error: %s\n", msg);
    return IPVM_EXIT_FAIL;
}

int ipvm_cli_fail_err(ipvm_cli_t *cli, const ipvm_error_t *err, const char *fmt, ...)
{
    char prefix[1024], d[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    return ipvm_cli_fail(cli, 0, "%s: %s [%s]", prefix, ipvm_error_describe(err, d, sizeof d),
                         ipvm_err_name(err->code));
}

int ipvm_cli_usage(ipvm_cli_t *cli, const ipvm_cmd_t *cmd, const char *fmt, ...)
{
    (void)cli;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "ipvm: %s\nTry 'ipvm %s --help'.\n", msg, cmd ? cmd->name : "");
    return IPVM_EXIT_USAGE;
}

bool ipvm_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

int ipvm_cli_help(const ipvm_cmd_t *cmd)
{
    fputs(cmd->help, stdout);
    printf("\nGlobal options: --data-dir DIR, --json, -q, -v (see 'ipvm --help').\n");
    return IPVM_EXIT_OK;
}

int ipvm_cli_ensure_data_dir(ipvm_cli_t *cli)
{
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_mkdirs(cli->data_dir, 0700, &err) != 0)
        return ipvm_cli_fail(cli, err.code, "%s; choose another with --data-dir DIR", err.msg);
    return 0;
}

int ipvm_cli_read_input(ipvm_cli_t *cli, const char *path, ipvm_buf_t *out)
{
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_file_read(path, out, &err) != 0)
        return ipvm_cli_fail(cli, err.code, "%s", err.msg);
    return 0;
}

static int cmd_version_run(ipvm_cli_t *cli, int argc, char **argv)
{
    if (ipvm_cli_wants_help(argc, argv))
        return ipvm_cli_help(&ipvm_cmd_version);
    if (cli->json)
        printf("{\"version\":\"%s\"}\n", IPVM_VERSION_STRING);
    else
        printf("ipvm %s\n", IPVM_VERSION_STRING);
    return 0;
}

const ipvm_cmd_t ipvm_cmd_version = {
    "version", "print the version",
    "Usage: ipvm version\n\nPrints the version of ipvm.\n", cmd_version_run};

/* Takes the global options out of argv, wherever they are (before a "--"), into cli; the other
 * arguments go to rest[0..*out_n), NULL after them. 0, or the exit status of a usage error. */
static int take_global_options(ipvm_cli_t *cli, int argc, char **argv, char **rest, int *out_n)
{
    int n = 0;
    bool dashdash = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i == 0 || dashdash) {
            rest[n++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            dashdash = true;
            rest[n++] = argv[i];
        } else if (strcmp(a, "--data-dir") == 0) {
            if (i + 1 >= argc)
                return ipvm_cli_usage(cli, NULL, "--data-dir needs a directory");
            cli->data_dir = argv[++i];
        } else if (strncmp(a, "--data-dir=", 11) == 0) {
            cli->data_dir = a + 11;
        } else if (strcmp(a, "--json") == 0) {
            cli->json = true;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            cli->quiet = true;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            cli->verbose = true;
        } else if (strcmp(a, "--version") == 0 && n == 1) {
            rest[n++] = "version";
        } else {
            rest[n++] = argv[i];
        }
    }
    rest[n] = NULL;
    *out_n = n;
    return 0;
}

static const ipvm_cmd_t *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (commands[i] && strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    ipvm_cli_t cli = {0};
    cli.prog = "ipvm";
    cli.tty = isatty(STDOUT_FILENO);
    cli.data_dir = default_data_dir();
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (rest == NULL)
        return IPVM_EXIT_FAIL;
    int n = 0;
    int status = take_global_options(&cli, argc, argv, rest, &n);
    if (status != 0) {
        free(rest);
        return status;
    }
    if (cli.verbose)
        ipvm_log_set_level(IPVM_LOG_DEBUG);
    const ipvm_cmd_t *cmd;
    if (n < 2 || strcmp(rest[1], "-h") == 0 || strcmp(rest[1], "--help") == 0 ||
        strcmp(rest[1], "help") == 0) {
        if (n >= 3 && strcmp(rest[1], "help") == 0 && (cmd = find_command(rest[2])) != NULL) {
            free(rest);
            return ipvm_cli_help(cmd);
        }
        print_main_help();
        free(rest);
        return n < 2 ? IPVM_EXIT_USAGE : IPVM_EXIT_OK;
    }
    if ((cmd = find_command(rest[1])) != NULL) {
        status = cmd->run(&cli, n - 1, rest + 1);
        free(rest);
        return status;
    }
    fprintf(stderr, "ipvm: unknown command '%s'\nTry 'ipvm --help' for the list of commands.\n",
            rest[1]);
    free(rest);
    return IPVM_EXIT_USAGE;
}
