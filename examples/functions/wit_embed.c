/* SPDX-License-Identifier: Apache-2.0 */
/* wit_embed: attaches WIT types to a core Wasm module, so ipvm (and Homestar, through
 * wit-component) can call its exports with IPLD values by the canonical ABI.
 *   wit_embed WORLD.wit CORE.wasm OUT.wasm
 * WORLD.wit holds one world of exported functions and the types they use; OUT.wasm is
 * CORE.wasm plus a `component-type:*` custom section encoding that world. */
#include "wasm/abi_int.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s WORLD.wit CORE.wasm OUT.wasm\n"
                        "Adds the WIT world's types to a core module as a component-type "
                        "custom section.\n",
                argv[0]);
        return 2;
    }
    ipvm_buf_t wit = IPVM_BUF_INIT, mod = IPVM_BUF_INIT, sec = IPVM_BUF_INIT,
               out = IPVM_BUF_INIT;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_error_t err;
    const char *world = NULL;
    const char *failed = NULL;
    int rc = ipvm_file_read(argv[1], &wit, &err);
    if (rc == 0 && (rc = ipvm__abi_wit_encode((const char *)wit.data, wit.len, &sec, &world, &a,
                                              &err)) != 0)
        failed = argv[1];
    if (rc == 0 && (rc = ipvm_file_read(argv[2], &mod, &err)) == 0 &&
        (rc = ipvm__abi_wit_embed(mod.data, mod.len, sec.data, sec.len, world, &out)) != 0) {
        failed = argv[2];
        ipvm_error_set(&err, rc, IPVM_NO_OFFSET, "not a core Wasm module");
    }
    if (rc == 0)
        rc = ipvm_file_write_atomic(argv[3], out.data, out.len, &err);
    if (rc != 0)
        fprintf(stderr, "wit_embed: %s%s%s\n", failed ? failed : "", failed ? ": " : "",
                err.msg);
    ipvm_buf_dispose(&wit);
    ipvm_buf_dispose(&mod);
    ipvm_buf_dispose(&sec);
    ipvm_buf_dispose(&out);
    ipvm_arena_dispose(&a);
    return rc == 0 ? 0 : 1;
}
