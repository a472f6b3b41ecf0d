/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz targets replayed by ipvm_tests: F(name) for each tests/fuzz/fuzz_<name>.c. */
F(workflow)
F(dagpb)
F(ucan)
F(component_type)
F(jwt)
F(wasm_module)
F(jsonrpc)
F(node_config)
F(dagcbor)
F(dagjson)
F(cid)
F(multibase)
