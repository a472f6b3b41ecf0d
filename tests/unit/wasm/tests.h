/* SPDX-License-Identifier: Apache-2.0 */
/* Wasm engine tests (engine core and canonical ABI): one X(wasm, name) line per test. */
/* engine core (src/wasm/ except abi*.c): its own list, so the two lists merge cleanly */
#include "unit/wasm/tests_core.h"
/* canonical ABI (src/wasm/abi*.c) */
X(wasm, abi_world_example_test)
X(wasm, abi_world_add_subtract)
X(wasm, abi_component_unwrap)
X(wasm, abi_component_unsupported)
X(wasm, abi_parse_bad_bytes)
X(wasm, abi_parse_oom)
X(wasm, abi_layout)
X(wasm, abi_scalars)
X(wasm, abi_strings)
X(wasm, abi_containers)
X(wasm, abi_flat_values)
X(wasm, abi_lift_checks)
X(wasm, abi_f32_decimal)
X(wasm, abi_name_variants)
X(wasm, abi_wit_matches_wit_component)
X(wasm, abi_wit_roundtrip)
X(wasm, abi_wit_errors)
X(wasm, abi_examples_wit)
XT(wasm, abi_homestar_example_test, 120)
XT(wasm, abi_homestar_variants_agree, 120)
XT(wasm, abi_homestar_add_subtract, 120)
XT(wasm, abi_homestar_images, 300)
XT(wasm, abi_examples_run, 120)
