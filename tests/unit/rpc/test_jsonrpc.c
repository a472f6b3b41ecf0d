/* SPDX-License-Identifier: Apache-2.0 */
/* JSON-RPC 2.0 messages: requests, batches, the error cases of the specification's examples
 * (jsonrpc.org/specification §7), response formats and Homestar's byte-array payloads. */
#include "test.h"
#include "ipvm/rpc.h"
#include "rpc/rpc_int.h"

static ipvm_rpc_message_t parse_ok(ipvm_arena_t *a, const char *text)
{
    ipvm_rpc_message_t m;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_rpc_message_parse(text, strlen(text), a, &m, &err), &err);
    return m;
}

IPVM_TEST(rpc, request_parse)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_rpc_message_t m =
        parse_ok(&a, "{\"jsonrpc\":\"2.0\",\"method\":\"subtract\",\"params\":[42,23],\"id\":1}");
    IPVM_ASSERT(!m.batch);
    IPVM_ASSERT_EQ(m.count, 1);
    IPVM_ASSERT_EQ(m.requests[0].code, 0);
    IPVM_ASSERT_STREQ(m.requests[0].method, "subtract");
    IPVM_ASSERT_EQ(m.requests[0].params->kind, IPVM_IPLD_LIST);
    IPVM_ASSERT_EQ(m.requests[0].params->u.list.len, 2);
    IPVM_ASSERT_EQ(m.requests[0].id->kind, IPVM_IPLD_INT);

    /* a notification: no id */
    m = parse_ok(&a, "{\"jsonrpc\":\"2.0\",\"method\":\"update\",\"params\":[1,2,3,4,5]}");
    IPVM_ASSERT(m.requests[0].id == NULL);
    IPVM_ASSERT_EQ(m.requests[0].code, 0);

    /* by-name params, string id */
    m = parse_ok(&a, "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":{\"a\":1},\"id\":\"ab\"}");
    IPVM_ASSERT_EQ(m.requests[0].params->kind, IPVM_IPLD_MAP);
    IPVM_ASSERT(ipvm_ipld_is_str(m.requests[0].id, "ab"));

    /* invalid requests keep their own error */
    m = parse_ok(&a, "{\"jsonrpc\":\"2.0\",\"method\":1,\"params\":\"bar\"}");
    IPVM_ASSERT_EQ(m.requests[0].code, IPVM_RPC_INVALID_REQUEST);
    m = parse_ok(&a, "{\"jsonrpc\":\"1.0\",\"method\":\"x\",\"id\":1}");
    IPVM_ASSERT_EQ(m.requests[0].code, IPVM_RPC_INVALID_REQUEST);
    IPVM_ASSERT_STRCONTAINS(m.requests[0].message, "2.0");
    m = parse_ok(&a, "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":5,\"id\":1}");
    IPVM_ASSERT_EQ(m.requests[0].code, IPVM_RPC_INVALID_REQUEST);
    m = parse_ok(&a, "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":{\"a\":1}}");
    IPVM_ASSERT_EQ(m.requests[0].code, IPVM_RPC_INVALID_REQUEST);
    m = parse_ok(&a, "42");
    IPVM_ASSERT_EQ(m.requests[0].code, IPVM_RPC_INVALID_REQUEST);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(rpc, request_parse_errors)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_rpc_message_t m;
    ipvm_error_t err;
    const char *bad[] = {
        "{\"jsonrpc\": \"2.0\", \"method\": \"foobar, \"params\": \"bar\", \"baz]",
        "[{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], \"id\": \"1\"},"
        "{\"jsonrpc\": \"2.0\", \"method\"]",
        "",
        "{\"a\":1,\"a\":2}", /* duplicate keys: strict DAG-JSON */
        "{\"jsonrpc\":\"2.0\",\"method\":\"x\"} trailing",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipvm_error_clear(&err);
        IPVM_ASSERT_ERR(ipvm_rpc_message_parse(bad[i], strlen(bad[i]), &a, &m, &err), IPVM_EJSON);
        IPVM_ASSERT_MSG(err.msg[0] != '\0', "no reason for input %zu", i);
    }
    ipvm_arena_dispose(&a);
}

IPVM_TEST(rpc, batch_parse)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    /* the specification's mixed batch */
    ipvm_rpc_message_t m = parse_ok(
        &a, "[{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], \"id\": \"1\"},"
            "{\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", \"params\": [7]},"
            "{\"foo\": \"boo\"},"
            "{\"jsonrpc\": \"2.0\", \"method\": \"get_data\", \"id\": \"9\"}]");
    IPVM_ASSERT(m.batch);
    IPVM_ASSERT_EQ(m.count, 4);
    IPVM_ASSERT_EQ(m.requests[0].code, 0);
    IPVM_ASSERT(m.requests[1].id == NULL);
    IPVM_ASSERT_EQ(m.requests[2].code, IPVM_RPC_INVALID_REQUEST);
    IPVM_ASSERT_STREQ(m.requests[3].method, "get_data");
    /* an empty array is one invalid request, answered with one error, not an array */
    m = parse_ok(&a, "[]");
    IPVM_ASSERT(!m.batch);
    IPVM_ASSERT_EQ(m.count, 1);
    IPVM_ASSERT_EQ(m.requests[0].code, IPVM_RPC_INVALID_REQUEST);
    /* [1,2,3]: three invalid requests */
    m = parse_ok(&a, "[1,2,3]");
    IPVM_ASSERT_EQ(m.count, 3);
    for (size_t i = 0; i < 3; i++)
        IPVM_ASSERT_EQ(m.requests[i].code, IPVM_RPC_INVALID_REQUEST);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(rpc, format)
{
    ipvm_buf_t out = IPVM_BUF_INIT;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *id = ipvm_ipld_new_int(&a, 7);
    IPVM_ASSERT_OK(ipvm_rpc_format_result(&out, id, "{\"healthy\":true}", 16));
    IPVM_ASSERT_STREQ((char *)out.data,
                      "{\"jsonrpc\":\"2.0\",\"result\":{\"healthy\":true},\"id\":7}");
    ipvm_buf_clear(&out);
    IPVM_ASSERT_OK(ipvm_rpc_format_error(&out, NULL, IPVM_RPC_METHOD_NOT_FOUND, "no \"x\"\n"));
    IPVM_ASSERT_STREQ((char *)out.data, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,"
                                        "\"message\":\"no \\\"x\\\"\\n\"},\"id\":null}");
    ipvm_buf_clear(&out);
    id = ipvm_ipld_new_cstring(&a, "a\"b");
    IPVM_ASSERT_OK(ipvm_rpc_format_result(&out, id, "1", 1));
    IPVM_ASSERT_STREQ((char *)out.data, "{\"jsonrpc\":\"2.0\",\"result\":1,\"id\":\"a\\\"b\"}");
    ipvm_buf_clear(&out);
    IPVM_ASSERT_OK(ipvm_rpc_format_notification(&out, "subscribe_run_workflow", "abc", "[1,2]", 5));
    IPVM_ASSERT_STREQ((char *)out.data,
                      "{\"jsonrpc\":\"2.0\",\"method\":\"subscribe_run_workflow\",\"params\":"
                      "{\"subscription\":\"abc\",\"result\":[1,2]}}");
    ipvm_buf_dispose(&out);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(rpc, bytes_json)
{
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    ipvm_buf_t json = IPVM_BUF_INIT, back = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_rpc_bytes_to_json((const uint8_t *)"{\"a\"", 4, &json));
    IPVM_ASSERT_STREQ((char *)json.data, "[123,34,97,34]");
    ipvm_buf_clear(&json);
    IPVM_ASSERT_OK(ipvm_rpc_bytes_to_json(all, 256, &json));
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v;
    ipvm_error_t err;
    IPVM_ASSERT_OK(ipvm_dagjson_decode((char *)json.data, json.len, &a, &v, &err));
    IPVM_ASSERT_OK(ipvm_rpc_json_to_bytes(v, &back, &err));
    IPVM_ASSERT_MEMEQ(back.data, back.len, all, 256);
    ipvm_buf_clear(&json);
    IPVM_ASSERT_OK(ipvm_rpc_bytes_to_json(all, 0, &json));
    IPVM_ASSERT_STREQ((char *)json.data, "[]");
    /* not bytes */
    IPVM_ASSERT_OK(ipvm_dagjson_decode("[1,256]", 7, &a, &v, &err));
    IPVM_ASSERT_ERR(ipvm_rpc_json_to_bytes(v, &back, &err), IPVM_EKIND);
    IPVM_ASSERT_STRCONTAINS(err.msg, "item 1");
    IPVM_ASSERT_OK(ipvm_dagjson_decode("[-1]", 4, &a, &v, &err));
    IPVM_ASSERT_ERR(ipvm_rpc_json_to_bytes(v, &back, &err), IPVM_EKIND);
    IPVM_ASSERT_OK(ipvm_dagjson_decode("{}", 2, &a, &v, &err));
    IPVM_ASSERT_ERR(ipvm_rpc_json_to_bytes(v, &back, &err), IPVM_EKIND);
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&json);
    ipvm_buf_dispose(&back);
}

/* The member's value text, or "!" and the name of the scan's error. */
static const char *member_of(const char *json, const char *key, char *out, size_t size)
{
    const char *v = NULL;
    size_t vl = 0;
    int rc = ipvm_rpc_json_member(json, strlen(json), key, &v, &vl);
    if (rc)
        snprintf(out, size, "!%s", ipvm_err_name(rc));
    else
        snprintf(out, size, "%.*s", (int)vl, v);
    return out;
}

IPVM_TEST(rpc, json_member)
{
    char b[256];
    const char *note = "{\"jsonrpc\":\"2.0\",\"method\":\"subscribe_run_workflow\",\"params\":"
                       "{\"subscription\":\"abc\",\"result\":[1,2]}}";
    IPVM_ASSERT_STREQ(member_of(note, "method", b, sizeof b), "\"subscribe_run_workflow\"");
    IPVM_ASSERT_STREQ(member_of(note, "params", b, sizeof b),
                      "{\"subscription\":\"abc\",\"result\":[1,2]}");
    IPVM_ASSERT_STREQ(member_of(b, "subscription", b + 128, 128), "\"abc\"");
    /* nested members are not the top level's */
    IPVM_ASSERT_STREQ(member_of(note, "subscription", b, sizeof b), "!IPVM_ENOENT");
    IPVM_ASSERT_STREQ(
        member_of("{\"x\":{\"id\":1},\"y\":[{\"id\":2}],\"id\":3}", "id", b, sizeof b), "3");
    IPVM_ASSERT_STREQ(member_of("{\"x\":{\"id\":1}}", "id", b, sizeof b), "!IPVM_ENOENT");
    /* strings with escapes, brackets and commas inside are skipped whole */
    IPVM_ASSERT_STREQ(member_of("{\"a\":\"q\\\"},\\\\\",\"id\":4}", "id", b, sizeof b), "4");
    IPVM_ASSERT_STREQ(member_of("{\"a\":\"]}[{,\",\"id\":[1,\"]\"]}", "id", b, sizeof b),
                      "[1,\"]\"]");
    /* nested runs of numbers are skipped fast, but brackets and strings in them still count */
    IPVM_ASSERT_STREQ(member_of("{\"p\":{\"r\":[10, 20,[3,\"]\",{\"x\":\"}\"}] ,4]},\"id\":9}",
                                "id", b, sizeof b),
                      "9");
    IPVM_ASSERT_STREQ(member_of("{\"p\":[[1,2],[3]]]}", "id", b, sizeof b), "!IPVM_EJSON");
    /* a key written with escapes may spell the key: the scan cannot tell */
    IPVM_ASSERT_STREQ(member_of("{\"i\\u0064\":5}", "id", b, sizeof b), "!IPVM_EJSON");
    /* odd ids come back as their text, for the caller to judge */
    const char *ids[] = {"null", "-1", "1.5", "1e2", "\"7\"", "18446744073709551616", "true"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char json[64];
        snprintf(json, sizeof json, "{ \"result\" : 0 ,\n\t\"id\" : %s }", ids[i]);
        IPVM_ASSERT_STREQ(member_of(json, "id", b, sizeof b), ids[i]);
    }
    /* missing */
    IPVM_ASSERT_STREQ(member_of("{}", "id", b, sizeof b), "!IPVM_ENOENT");
    IPVM_ASSERT_STREQ(member_of(" { } ", "id", b, sizeof b), "!IPVM_ENOENT");
    IPVM_ASSERT_STREQ(member_of("{\"idx\":1,\"i\":2}", "id", b, sizeof b), "!IPVM_ENOENT");
    /* garbage: not an object, cut short, missing colon or comma */
    const char *bad[] = {"",
                         "[1]",
                         "{",
                         "{\"id\"",
                         "{\"id\":",
                         "{\"id\":1",
                         "{\"a\":1,}",
                         "{a:1}",
                         "{\"a\" 1}",
                         "{\"a\":1 \"id\":2}",
                         "{\"a\":[1,2",
                         "{\"a\":\"x",
                         "\"{\\\"id\\\":1}\"",
                         "nul",
                         "{\"a\":{}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        IPVM_ASSERT_MSG(strcmp(member_of(bad[i], "id", b, sizeof b), "!IPVM_EJSON") == 0,
                        "input %zu (%s): %s", i, bad[i], b);
}

/* Subscription ids (and default run names) come from a per-thread pool of random bytes that is
 * refilled a block at a time: 16 letters of [a-zA-Z0-9] each, and no id repeats across many
 * refills (a pool that was not refilled, or reused its bytes, would repeat ids). */
IPVM_TEST(rpc, random_ids)
{
    enum { N = 2000 };
    static char ids[N][17];
    for (size_t i = 0; i < N; i++) {
        ipvm__rpc_random_id(ids[i]);
        IPVM_ASSERT(strlen(ids[i]) == 16);
        for (size_t k = 0; k < 16; k++) {
            char ch = ids[i][k];
            IPVM_ASSERT((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                        (ch >= '0' && ch <= '9'));
        }
    }
    for (size_t i = 0; i < N; i++)
        for (size_t k = i + 1; k < N; k++)
            IPVM_ASSERT(strcmp(ids[i], ids[k]) != 0);
}
