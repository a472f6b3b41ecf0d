/* SPDX-License-Identifier: Apache-2.0 */
/* mDNS discovery on the loopback interface, in a private service name so parallel tests and
 * other machines never see these nodes. Also the DNS parser's limits. */
#include "p2p_test.h"

#include "p2p/p2p_int.h"

#include <sodium.h>

static bool both_connected(void *data)
{
    tnode_t *n = data;
    return ipvm_p2p_peer_count(n[0].host) == 1 && ipvm_p2p_peer_count(n[1].host) == 1;
}

IPVM_TEST(p2p, mdns_discovery)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char service[64];
    uint8_t r[6];
    randombytes_buf(r, sizeof r);
    snprintf(service, sizeof service, "_p2p-%s._udp.local", ipvm_test_hex(r, sizeof r));
    tnode_t n[2];
    for (int i = 0; i < 2; i++) {
        memset(&n[i], 0, sizeof n[i]);
        ipvm_p2p_config_init(&n[i].cfg);
        n[i].cfg.mdns = true;
        n[i].cfg.mdns_interface = "127.0.0.1";
        n[i].cfg.mdns_service = service;
        n[i].cfg.mdns_interval_ms = 200;
        tnode_start(&n[i], &loop, true);
    }
    IPVM_ASSERT_MSG(run_until_fn(&loop, both_connected, n, 10000), "mDNS did not connect them");
    IPVM_ASSERT(n[0].events[IPVM_P2P_EV_MDNS_DISCOVERED] + n[1].events[IPVM_P2P_EV_MDNS_DISCOVERED] >= 1);
    tnodes_stop(&loop, n, 2);
}

IPVM_TEST(p2p, mdns_parser_limits)
{
    ipvm__mdns_msg_t m;
    const char *svc = "_p2p._udp.local";
    /* a query: header, one question */
    uint8_t q[] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, '_', 'p', '2', 'p', 4, '_', 'u', 'd', 'p',
                   5, 'l', 'o', 'c', 'a', 'l', 0, 0, 12, 0, 1};
    IPVM_ASSERT_OK(ipvm__mdns_parse(q, sizeof q, svc, &m));
    IPVM_ASSERT(m.asks_service && !m.response);
    /* upper case matches too (DNS names are case-insensitive) */
    q[14] = 'P';
    IPVM_ASSERT_OK(ipvm__mdns_parse(q, sizeof q, svc, &m));
    IPVM_ASSERT(m.asks_service);
    /* truncated */
    IPVM_ASSERT_ERR(ipvm__mdns_parse(q, sizeof q - 3, svc, &m), IPVM_EPROTO);
    /* a compression pointer to itself (a loop) */
    uint8_t loop[] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 12, 0, 1};
    IPVM_ASSERT_ERR(ipvm__mdns_parse(loop, sizeof loop, svc, &m), IPVM_EPROTO);
    /* counts that cannot fit in the packet */
    uint8_t many[16] = {0, 0, 0x84, 0, 0xff, 0xff, 0xff, 0xff};
    IPVM_ASSERT_ERR(ipvm__mdns_parse(many, sizeof many, svc, &m), IPVM_EPROTO);
    /* a TXT string longer than its record */
    uint8_t txt[] = {0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 16, 0, 1, 0, 0, 0, 1, 0, 2, 9, 'x'};
    IPVM_ASSERT_ERR(ipvm__mdns_parse(txt, sizeof txt, svc, &m), IPVM_EPROTO);
}
