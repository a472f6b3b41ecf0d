/* SPDX-License-Identifier: Apache-2.0 */
/* The default executor: resources through the resolver (blockstore, then Kubo, then a gateway;
 * bytes checked against their CID), modules through the Wasm engine (which validates, compiles
 * once per module CID and caches), calls through ipvm_wasm_call. */
#include "sched_int.h"

#include <string.h>


static int d_load(void *data, const char *rsc, void **module, ipvm_error_t *err)
{
    ipvm_sched_t *s = data;
    if (s->opts.engine == NULL)
        return ipvm_error_set(err, IPVM_EUNSUPPORTED, IPVM_NO_OFFSET,
                              "no Wasm engine is configured to run %s", rsc);
    if (s->opts.resolver == NULL)
        return ipvm_error_set(err, IPVM_ENORESOURCE, IPVM_NO_OFFSET,
                              "no resolver is configured to fetch %s", rsc);
    ipvm_buf_t b = IPVM_BUF_INIT;
    int rc = ipvm_resolver_fetch(s->opts.resolver, rsc, &b, err);
    if (rc == 0) {
        ipvm_wasm_module_t *m = NULL;
        rc = ipvm_wasm_module_load(s->opts.engine, b.data, b.len, &m, err);
        if (rc != 0)
            ipvm_error_prefix(err, "%s: ", rsc);
        *module = m;
    }
    ipvm_buf_dispose(&b);
    return rc;
}

static void d_release(void *data, void *module)
{
    (void)data;
    if (module)
        ipvm_wasm_module_release(module);
}

static int d_fetch(void *data, const ipvm_cid_t *cid, ipvm_buf_t *out, ipvm_error_t *err)
{
    ipvm_sched_t *s = data;
    if (s->opts.resolver == NULL) {
        char c[IPVM_CID_MAX_STR];
        return ipvm_error_set(err, IPVM_ENORESOURCE, IPVM_NO_OFFSET,
                              "no resolver is configured to fetch %s", ipvm_cid_str(cid, c));
    }
    return ipvm_resolver_fetch_cid(s->opts.resolver, cid, out, err);
}

static int d_call(void *data, void *module, const char *func, const ipvm_ipld_t *args,
                  const ipvm_wasm_limits_t *limits, ipvm_arena_t *arena, ipvm_wasm_result_t *out,
                  ipvm_error_t *err)
{
    (void)data;
    return ipvm_wasm_call(module, func, args, limits, arena, out, err);
}

int ipvm__default_exec_init(ipvm_sched_t *s, ipvm_error_t *err)
{
    (void)err;
    s->exec.data = s;
    s->exec.load = d_load;
    s->exec.release = d_release;
    s->exec.fetch = d_fetch;
    s->exec.call = d_call;
    return 0;
}

void ipvm__default_exec_free(ipvm_sched_t *s)
{
    (void)s;
}
