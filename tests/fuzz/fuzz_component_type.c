/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the component model binary parser of the canonical ABI: the payload of a
 * `component-type:*` custom section (a WIT world) and a whole component wrapping one core
 * module. Properties: no crash, an error has a message and an offset inside the input, the
 * unwrapped core module lies inside the input, every signature renders. */
#include "fuzz/fuzz.h"
#include "wasm/abi_int.h"

static void render_all(const ipvm__abi_t *abi)
{
    for (size_t i = 0; i < abi->nexports; i++) {
        ipvm_buf_t b = IPVM_BUF_INIT;
        ipvm__wit_func_render(abi->exports[i].func, &b);
        IPVM_FUZZ_CHECK(b.len > 0 && b.len < 4096);
        ipvm_buf_dispose(&b);
    }
}

IPVM_FUZZ_TARGET(component_type)
{
    ipvm__abi_t abi;
    ipvm_error_t err;
    ipvm__abi_init(&abi);
    int rc = ipvm__abi_parse_world(&abi, data, size, &err);
    if (rc < 0)
        IPVM_FUZZ_CHECK(err.code == rc && err.msg[0] && (err.offset <= size || rc == IPVM_ENOMEM));
    else
        render_all(&abi);
    ipvm__abi_dispose(&abi);

    ipvm__abi_init(&abi);
    const uint8_t *core = NULL;
    size_t core_len = 0;
    rc = ipvm__abi_parse_component(&abi, data, size, &core, &core_len, &err);
    if (rc < 0) {
        IPVM_FUZZ_CHECK(err.code == rc && err.msg[0]);
    } else {
        IPVM_FUZZ_CHECK(core >= data && core_len <= size && core + core_len <= data + size);
        render_all(&abi);
    }
    ipvm__abi_dispose(&abi);
    return 0;
}
