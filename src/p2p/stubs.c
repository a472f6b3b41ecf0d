/* SPDX-License-Identifier: Apache-2.0 */
/* Temporary: modules not written yet. */
#include "host.h"
int p2p_mdns_start(ipvm_p2p_host_t *h, ipvm_error_t *err) { (void)h; (void)err; return 0; }
void p2p_mdns_stop(ipvm_p2p_host_t *h) { (void)h; }
void p2p_mdns_free(ipvm_p2p_host_t *h) { (void)h; }
int p2p_xreq_init(ipvm_p2p_host_t *h) { (void)h; return 0; }
void p2p_xreq_stop(ipvm_p2p_host_t *h) { (void)h; }
void p2p_xreq_free(ipvm_p2p_host_t *h) { (void)h; }
