/* SPDX-License-Identifier: Apache-2.0 */
/* The node's settings: INI through inih, priorities (defaults < file < environment < flags),
 * typed values with ranges and units, errors that name the line and the key, and the template
 * `ipvm node init` writes. */
#include "test.h"
#include "ipvm/rpc.h"

static ipvm_config_t *fresh(void)
{
    ipvm_config_t *c = NULL;
    IPVM_ASSERT_OK(ipvm_config_new(&c));
    return c;
}

IPVM_TEST(rpc, config_defaults_and_file)
{
    ipvm_config_t *c = fresh();
    IPVM_ASSERT_EQ(ipvm_config_int(c, "rpc", "port"), 1337);
    IPVM_ASSERT_STREQ(ipvm_config_str(c, "rpc", "host"), "127.0.0.1");
    IPVM_ASSERT_EQ(ipvm_config_int(c, "rpc", "max_message"), 8 << 20);
    IPVM_ASSERT_EQ(ipvm_config_int(c, "limits", "time"), 100000);
    IPVM_ASSERT(ipvm_config_bool(c, "node", "resume"));
    IPVM_ASSERT_STREQ(ipvm_config_origin(c, "rpc", "port"), "default");
    ipvm_error_t err;
    ipvm_error_clear(&err);
    const char *text = "# comment\n"
                       "[rpc]\n"
                       "port = 8080\n"
                       "; another comment\n"
                       "host = \"::1\"\n"
                       "idle_timeout = 2m\n"
                       "[node]\n"
                       "resume = off\n"
                       "[limits]\n"
                       "memory = 64M\n";
    IPVM_ASSERT_OK_ERR(ipvm_config_load_text(c, text, "test.conf", &err), &err);
    IPVM_ASSERT_EQ(ipvm_config_int(c, "rpc", "port"), 8080);
    IPVM_ASSERT_STREQ(ipvm_config_str(c, "rpc", "host"), "::1");
    IPVM_ASSERT_EQ(ipvm_config_int(c, "rpc", "idle_timeout"), 120000);
    IPVM_ASSERT(!ipvm_config_bool(c, "node", "resume"));
    IPVM_ASSERT_EQ(ipvm_config_int(c, "limits", "memory"), 64 << 20);
    IPVM_ASSERT_STREQ(ipvm_config_origin(c, "rpc", "port"), "test.conf:3");
    ipvm_config_free(c);
}

IPVM_TEST(rpc, config_priorities)
{
    ipvm_config_t *c = fresh();
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK(ipvm_config_load_text(c, "[rpc]\nport = 1\nmax_clients = 7\n", "f", &err));
    char *env[] = {"HOME=/x", "IPVM_RPC_PORT=2", "IPVM_LOG=debug", "IPVM_DATA_DIR=/d", NULL};
    IPVM_ASSERT_OK_ERR(ipvm_config_load_env(c, env, &err), &err);
    IPVM_ASSERT_EQ(ipvm_config_int(c, "rpc", "port"), 2);
    IPVM_ASSERT_STREQ(ipvm_config_origin(c, "rpc", "port"), "env IPVM_RPC_PORT");
    IPVM_ASSERT_EQ(ipvm_config_int(c, "rpc", "max_clients"), 7);
    IPVM_ASSERT_OK_ERR(ipvm_config_set(c, "rpc.port", "3", "flag --port", &err), &err);
    IPVM_ASSERT_EQ(ipvm_config_int(c, "rpc", "port"), 3);
    IPVM_ASSERT_STREQ(ipvm_config_origin(c, "rpc", "port"), "flag --port");
    /* a typo in a section's variable is an error, not silently ignored */
    char *typo[] = {"IPVM_RPC_PROT=4", NULL};
    IPVM_ASSERT_ERR(ipvm_config_load_env(c, typo, &err), IPVM_EINVAL);
    IPVM_ASSERT_STRCONTAINS(err.msg, "IPVM_RPC_PROT");
    IPVM_ASSERT_STRCONTAINS(err.msg, "did you mean rpc.port");
    ipvm_buf_t dump = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_config_dump(c, &dump));
    IPVM_ASSERT_STRCONTAINS((char *)dump.data, "port = 3    # flag --port");
    ipvm_buf_dispose(&dump);
    ipvm_config_free(c);
}

IPVM_TEST(rpc, config_errors)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"[rpc]\nport = 99999\n", "f.conf:2: rpc.port: 99999 is out of range (0..65535)"},
        {"[rpc]\nport = abc\n", "f.conf:2: rpc.port: 'abc' is not a whole number"},
        {"[rpc]\n\nprot = 1\n", "f.conf:3: unknown key 'prot' in [rpc]; did you mean rpc.port?"},
        {"[rcp]\nport = 1\n", "f.conf:2: unknown section [rcp]; did you mean [rpc]?"},
        {"[zzzzzzzz]\nport = 1\n", "the sections are [node], [rpc], [limits], [resources]"},
        {"[rpc]\nbogus = 1\n", "the keys of [rpc] are enable, host, port, socket"},
        {"port = 1\n", "f.conf:1: 'port' is outside any [section]"},
        {"[node]\nresume = maybe\n", "'maybe' is not a boolean"},
        {"[rpc]\nidle_timeout = 5 parsecs\n", "is not a duration"},
        {"[rpc]\nthis line is not ini\n", "f.conf:2: expected [section], key = value"},
        {"[rpc\n", "f.conf:1:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ipvm_config_t *c = fresh();
        ipvm_error_t err;
        ipvm_error_clear(&err);
        IPVM_ASSERT_ERR(ipvm_config_load_text(c, cases[i].text, "f.conf", &err), IPVM_EINVAL);
        IPVM_ASSERT_STRCONTAINS(err.msg, cases[i].want);
        /* nothing of a text that failed is kept */
        IPVM_ASSERT_EQ(ipvm_config_int(c, "rpc", "port"), 1337);
        ipvm_config_free(c);
    }
    /* a line longer than inih's buffer is refused with its number, not cut */
    char long_text[600];
    int n = snprintf(long_text, sizeof long_text, "[node]\nname = ");
    memset(long_text + n, 'x', 400);
    strcpy(long_text + n + 400, "\n");
    ipvm_config_t *c = fresh();
    ipvm_error_t err;
    IPVM_ASSERT_ERR(ipvm_config_load_text(c, long_text, "f.conf", &err), IPVM_EINVAL);
    IPVM_ASSERT_STRCONTAINS(err.msg, "f.conf:2: line is longer than");
    IPVM_ASSERT_STREQ(ipvm_config_str(c, "node", "name"), "ipvm");
    ipvm_config_free(c);
}

/* An unknown section or key from a flag or the environment names what there is, as from a file
 * (config_errors): the close one, else every section or every key of the section. */
IPVM_TEST(rpc, config_error_hints)
{
    ipvm_config_t *c = fresh();
    ipvm_error_t err;
    IPVM_ASSERT_ERR(ipvm_config_set(c, "rpx.port", "1", "flag", &err), IPVM_EINVAL);
    IPVM_ASSERT_STRCONTAINS(err.msg, "did you mean rpc.port?");
    IPVM_ASSERT_ERR(ipvm_config_set(c, "zzzzzzzz.qqqqqqqq", "1", "flag", &err), IPVM_EINVAL);
    IPVM_ASSERT_STRCONTAINS(err.msg, "the sections are [node], [rpc]");
    IPVM_ASSERT_ERR(ipvm_config_set(c, "limits.zzzzzzzz", "1", "flag", &err), IPVM_EINVAL);
    IPVM_ASSERT_STRCONTAINS(err.msg, "the keys of [limits] are fuel, memory, time");
    char *env[] = {"IPVM_NODE_ZZZZZZZZ=1", NULL};
    IPVM_ASSERT_ERR(ipvm_config_load_env(c, env, &err), IPVM_EINVAL);
    IPVM_ASSERT_STRCONTAINS(err.msg, "the keys of [node] are data_dir, name, workers");
    /* the list `node start --help` shows: each key with its default and variable */
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_config_write_keys(&b));
    IPVM_ASSERT_OK(ipvm_buf_append_byte(&b, '\0'));
    const char *keys = (const char *)b.data;
    IPVM_ASSERT_STRCONTAINS(keys, "  rpc.port                     1337        IPVM_RPC_PORT\n");
    IPVM_ASSERT_STRCONTAINS(keys, "  node.data_dir                (unset)     IPVM_NODE_DATA_DIR\n");
    ipvm_buf_dispose(&b);
    ipvm_config_free(c);
}

IPVM_TEST(rpc, config_template_roundtrip)
{
    ipvm_buf_t t = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_config_write_template(&t));
    const char *keys[] = {"#port = 1337",  "#host = 127.0.0.1",  "#workers = 0", "#fuel = 0",
                          "IPVM_RPC_PORT", "IPVM_LIMITS_MEMORY", "[limits]",     "[node]"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        IPVM_ASSERT_STRCONTAINS((char *)t.data, keys[i]);
    /* the template as written loads and changes nothing */
    ipvm_config_t *c = fresh();
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_config_load_text(c, (char *)t.data, "tmpl", &err), &err);
    IPVM_ASSERT_STREQ(ipvm_config_origin(c, "rpc", "port"), "default");
    /* each key uncommented with its default loads too */
    ipvm_buf_t u = IPVM_BUF_INIT;
    for (const char *p = (char *)t.data; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        bool key = len > 2 && p[0] == '#' && p[1] != ' ' && memchr(p, '=', len);
        IPVM_ASSERT_OK(ipvm_buf_append(&u, key ? p + 1 : p, key ? len - 1 : len));
        IPVM_ASSERT_OK(ipvm_buf_append_byte(&u, '\n'));
        p += len + (nl != NULL);
    }
    IPVM_ASSERT_OK_ERR(ipvm_config_load_text(c, (char *)u.data, "uncommented", &err), &err);
    IPVM_ASSERT_EQ(ipvm_config_int(c, "rpc", "port"), 1337);
    IPVM_ASSERT_STRCONTAINS(ipvm_config_origin(c, "rpc", "port"), "uncommented:");
    ipvm_buf_dispose(&u);
    ipvm_buf_dispose(&t);
    ipvm_config_free(c);
}
