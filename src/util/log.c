/* SPDX-License-Identifier: Apache-2.0 */
/* Logging to stderr (text or JSON lines), a replaceable sink, and the clocks. */
#include "ipvm/util.h"
#include "ipvm_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};
static int log_level = -1; /* -1: not read from IPVM_LOG yet */
static ipvm_log_sink_t log_sink;
static void *log_sink_data;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static int level_from_env(void)
{
    const char *e = getenv("IPVM_LOG");
    if (e)
        for (int i = 0; i < 5; i++)
            if (strcmp(e, level_names[i]) == 0)
                return i;
    return IPVM_LOG_WARN;
}

void ipvm_log_set_level(ipvm_log_level_t level)
{
    __atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

ipvm_log_level_t ipvm_log_get_level(void)
{
    int l = __atomic_load_n(&log_level, __ATOMIC_RELAXED);
    if (l < 0) {
        l = level_from_env();
        __atomic_store_n(&log_level, l, __ATOMIC_RELAXED);
    }
    return (ipvm_log_level_t)l;
}

void ipvm_log_set_sink(ipvm_log_sink_t sink, void *data)
{
    pthread_mutex_lock(&log_lock);
    log_sink = sink;
    log_sink_data = data;
    pthread_mutex_unlock(&log_lock);
}

void ipvm__json_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
}

void ipvm_log(ipvm_log_level_t level, const char *area, const char *fmt, ...)
{
    if ((int)level > (int)ipvm_log_get_level())
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    if (log_sink) {
        log_sink(level, area, msg, log_sink_data);
    } else {
        const char *fmtenv = getenv("IPVM_LOG_FORMAT");
        if (fmtenv && strcmp(fmtenv, "json") == 0) {
            fprintf(stderr, "{\"ts\":%llu,\"level\":\"%s\",\"area\":\"",
                    (unsigned long long)ipvm_wall_ms(), level_names[level]);
            ipvm__json_escape(stderr, area);
            fputs("\",\"msg\":\"", stderr);
            ipvm__json_escape(stderr, msg);
            fputs("\"}\n", stderr);
        } else {
            fprintf(stderr, "ipvm: %s: %s: %s\n", level_names[level], area, msg);
        }
    }
    pthread_mutex_unlock(&log_lock);
}

uint64_t ipvm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t ipvm_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
