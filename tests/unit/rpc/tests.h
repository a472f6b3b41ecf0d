/* SPDX-License-Identifier: Apache-2.0 */
/* rpc: JSON-RPC messages, metrics, configuration, the API server and client, the daemon. */
X(rpc, request_parse)
X(rpc, request_parse_errors)
X(rpc, batch_parse)
X(rpc, format)
X(rpc, bytes_json)
X(rpc, server_builtin_methods)
X(rpc, server_errors)
X(rpc, server_network_events)
X(rpc, server_http_routes)
