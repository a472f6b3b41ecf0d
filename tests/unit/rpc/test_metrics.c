/* SPDX-License-Identifier: Apache-2.0 */
/* The metrics registry: Prometheus text exposition (checked line by line), Homestar's JSON
 * shape, and lock-free updates from several threads. */
#include "test.h"
#include "ipvm/rpc.h"

#include <pthread.h>

IPVM_TEST(rpc, metrics_render)
{
    ipvm_metrics_t *m;
    IPVM_ASSERT_OK(ipvm_metrics_new("ipvm_", &m));
    ipvm_metric_t *c =
        ipvm_metrics_add(m, IPVM_METRIC_COUNTER, "tasks_run_total", "Tasks\nrun", NULL, 0);
    ipvm_metric_t *g = ipvm_metrics_add(m, IPVM_METRIC_GAUGE, "queue", "Depth", NULL, 0);
    double b[] = {0.1, 1};
    ipvm_metric_t *h = ipvm_metrics_add(m, IPVM_METRIC_HISTOGRAM, "secs", "Time", b, 2);
    IPVM_ASSERT(c && g && h);
    /* the same name and type is the same metric; another type is refused */
    IPVM_ASSERT(ipvm_metrics_add(m, IPVM_METRIC_COUNTER, "tasks_run_total", "x", NULL, 0) == c);
    IPVM_ASSERT(ipvm_metrics_add(m, IPVM_METRIC_GAUGE, "tasks_run_total", "x", NULL, 0) == NULL);
    ipvm_metric_inc(c, 3);
    ipvm_metric_set(g, 7);
    ipvm_metric_add(g, -2);
    ipvm_metric_observe(h, 0.05);
    ipvm_metric_observe(h, 0.5);
    ipvm_metric_observe(h, 5);
    ipvm_buf_t out = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_metrics_render(m, &out));
    IPVM_ASSERT_STREQ((char *)out.data, "# HELP ipvm_tasks_run_total Tasks\\nrun\n"
                                        "# TYPE ipvm_tasks_run_total counter\n"
                                        "ipvm_tasks_run_total 3\n"
                                        "# HELP ipvm_queue Depth\n"
                                        "# TYPE ipvm_queue gauge\n"
                                        "ipvm_queue 5\n"
                                        "# HELP ipvm_secs Time\n"
                                        "# TYPE ipvm_secs histogram\n"
                                        "ipvm_secs_bucket{le=\"0.1\"} 1\n"
                                        "ipvm_secs_bucket{le=\"1\"} 2\n"
                                        "ipvm_secs_bucket{le=\"+Inf\"} 3\n"
                                        "ipvm_secs_sum 5.55\n"
                                        "ipvm_secs_count 3\n");
    ipvm_buf_clear(&out);
    IPVM_ASSERT_OK(ipvm_metrics_render_json(m, &out));
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_dagjson_decode((char *)out.data, out.len, &a, &v, &err), &err);
    IPVM_ASSERT(
        ipvm_ipld_is_str(ipvm_ipld_select(v, "metrics/0/metric_name"), "ipvm_tasks_run_total"));
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(v, "metrics/0/data/0/value"), "3"));
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(v, "metrics/0/data/0/type"), "metric"));
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(v, "metrics/2/data/0/buckets/1"), "2"));
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(v, "metrics/2/data/0/count"), "3"));
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&out);
    ipvm_metrics_free(m);
}

static void *bump(void *arg)
{
    ipvm_metric_t **x = arg;
    for (int i = 0; i < 100000; i++) {
        ipvm_metric_inc(x[0], 1);
        ipvm_metric_observe(x[1], 1.0);
    }
    return NULL;
}

IPVM_TEST(rpc, metrics_threads)
{
    ipvm_metrics_t *m;
    IPVM_ASSERT_OK(ipvm_metrics_new("", &m));
    double b[] = {0.5, 2};
    ipvm_metric_t *x[2] = {ipvm_metrics_add(m, IPVM_METRIC_COUNTER, "n", "n", NULL, 0),
                           ipvm_metrics_add(m, IPVM_METRIC_HISTOGRAM, "h", "h", b, 2)};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        IPVM_ASSERT_EQ(pthread_create(&t[i], NULL, bump, x), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    IPVM_ASSERT_EQ(ipvm_metric_value(x[0]), 400000);
    IPVM_ASSERT_EQ(ipvm_metric_value(x[1]), 400000);
    ipvm_buf_t out = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_metrics_render(m, &out));
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "h_sum 400000\n");
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "h_bucket{le=\"2\"} 400000\n");
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "h_bucket{le=\"0.5\"} 0\n");
    ipvm_buf_dispose(&out);
    ipvm_metrics_free(m);
}
