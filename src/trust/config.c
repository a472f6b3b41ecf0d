/* SPDX-License-Identifier: Apache-2.0 */
/* The [trust] section of the node's configuration (ipvm.conf, IPVM_TRUST_* variables, flags)
 * and the trust options it gives. */
#include "trust_int.h"

#include "ipvm/rpc.h"

#include <stdio.h>
#include <string.h>

const ipvm_conf_key_t ipvm_trust_conf_keys[] = {
    {"trust", "mode", IPVM_CONF_STRING, "open",
     "open: anyone may run workflows, as with Homestar. ucan: each task runs only for a UCAN "
     "invocation of /wasm/run proven by a delegation from this node (see 'ipvm ucan --help').",
     0, 0},
    {"trust", "sign_receipts", IPVM_CONF_STRING, "auto",
     "yes: put this node's DID in every receipt's iss and sign it; no: iss stays null and "
     "receipt CIDs are exactly Homestar's; auto: yes in ucan mode, no in open mode.",
     0, 0},
    {"trust", "require_signed", IPVM_CONF_STRING, "auto",
     "yes: use receipts from peers only when signed; auto: yes in ucan mode.", 0, 0},
    {"trust", "clock_skew", IPVM_CONF_DURATION, "60s",
     "Clock skew allowed on UCAN time bounds (the spec recommends 60 s).", 0, 3600000},
    {"trust", "max_redundancy", IPVM_CONF_INT, "5",
     "Largest k a task's meta may ask for with {\"redundancy\": k} (independent results).", 1,
     16},
    {"trust", "redundancy", IPVM_CONF_INT, "1",
     "Independent results this node obtains for every task it executes (itself counted): with "
     "3 it also has two other ipvm nodes compute each task over libp2p (" IPVM_TRUST_VERIFY_PROTOCOL
     ") and compares their signed receipts. A task's meta {\"redundancy\": k} may ask for more.",
     1, 16},
    {"trust", "verifiers", IPVM_CONF_STRING, "",
     "Nodes asked first for independent results, comma-separated /ip4/…/tcp/…/p2p/12D3KooW… "
     "(they need [trust] sign_receipts = yes and the task's module).",
     0, 0},
    {"trust", "ask_connected", IPVM_CONF_BOOL, "true",
     "Also ask connected peers that speak " IPVM_TRUST_VERIFY_PROTOCOL " (after verifiers).", 0,
     0},
    {"trust", "answer_verify", IPVM_CONF_BOOL, "true",
     "Compute tasks other nodes ask this node to verify (with this node's limits and mode).", 0,
     0},
    {"trust", "verify_workers", IPVM_CONF_INT, "2", "Verify requests answered at once.", 1, 8},
    {"trust", "test_lie", IPVM_CONF_BOOL, "false",
     "TESTS ONLY: answer verify requests with a forged output signed by this node, so that "
     "other nodes' redundancy checks can be seen to catch a lying peer.",
     0, 0},
    {NULL, NULL, IPVM_CONF_STRING, NULL, NULL, 0, 0},
};

static int tri(const char *v, bool dflt, bool *out)
{
    if (v == NULL || strcmp(v, "auto") == 0 || v[0] == '\0')
        *out = dflt;
    else if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "on") == 0)
        *out = true;
    else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "off") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

int ipvm_trust_opts_from_config(const ipvm_config_t *c, ipvm_trust_opts_t *o, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(c == NULL || o == NULL);
    memset(o, 0, sizeof *o);
    const char *mode = ipvm_config_str(c, "trust", "mode");
    if (mode == NULL || strcmp(mode, "open") == 0)
        o->mode = IPVM_TRUST_OPEN;
    else if (strcmp(mode, "ucan") == 0)
        o->mode = IPVM_TRUST_UCAN;
    else
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "[trust] mode = %s (%s): want open or ucan", mode,
                              ipvm_config_origin(c, "trust", "mode"));
    bool ucan = o->mode == IPVM_TRUST_UCAN;
    if (tri(ipvm_config_str(c, "trust", "sign_receipts"), ucan, &o->sign_receipts) != 0)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "[trust] sign_receipts: want yes, no or auto");
    if (tri(ipvm_config_str(c, "trust", "require_signed"), ucan, &o->require_signed) != 0)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "[trust] require_signed: want yes, no or auto");
    o->skew_s = ipvm_config_int(c, "trust", "clock_skew") / 1000;
    o->max_k = (unsigned)ipvm_config_int(c, "trust", "max_redundancy");
    o->redundancy = (unsigned)ipvm_config_int(c, "trust", "redundancy");
    if (o->redundancy > o->max_k)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "[trust] redundancy = %u is over max_redundancy = %u",
                              o->redundancy, o->max_k);
    return 0;
}
