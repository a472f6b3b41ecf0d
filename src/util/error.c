/* SPDX-License-Identifier: Apache-2.0 */
/* Error codes and error details: the X-macro table of ipvm/util.h turned into names and
 * sentences, plus the ipvm_error_t helpers every parser uses to say what went wrong where. */
#include "ipvm/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

const char *ipvm_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define XX(name, code, msg)                                                                        \
    case code:                                                                                     \
        return msg;
        IPVM_ERRNO_MAP(XX)
#undef XX
    default:
        break;
    }
    if (err < 0 && err > -4096)
        return uv_strerror(err); /* libuv codes are negated errno values on Unix */
    return "unknown error";
}

const char *ipvm_err_name(int err)
{
    static _Thread_local char unknown[32];
    switch (err) {
    case 0:
        return "OK";
#define XX(name, code, msg)                                                                        \
    case code:                                                                                     \
        return "IPVM_" #name;
        IPVM_ERRNO_MAP(XX)
#undef XX
    default:
        break;
    }
    if (err < 0 && err > -4096)
        return uv_err_name(err);
    snprintf(unknown, sizeof unknown, "E%d", err);
    return unknown;
}

int ipvm_error_set(ipvm_error_t *err, int code, size_t offset, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    err->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int ipvm_error_prefix(ipvm_error_t *err, const char *fmt, ...)
{
    if (err == NULL)
        return 0;
    char prefix[sizeof err->msg];
    char old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* prefix + old message, truncated to fit (the cut is deliberate: messages are for people) */
    size_t pl = strnlen(prefix, sizeof err->msg - 1);
    size_t ol = strnlen(old, sizeof old);
    if (ol > sizeof err->msg - 1 - pl)
        ol = sizeof err->msg - 1 - pl;
    memcpy(err->msg, prefix, pl);
    memcpy(err->msg + pl, old, ol);
    err->msg[pl + ol] = '\0';
    return err->code;
}

void ipvm_error_clear(ipvm_error_t *err)
{
    if (err == NULL)
        return;
    err->code = 0;
    err->offset = IPVM_NO_OFFSET;
    err->msg[0] = '\0';
}

const char *ipvm_error_describe(const ipvm_error_t *err, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    const char *msg = err->msg[0] ? err->msg : ipvm_strerror(err->code);
    if (err->offset != IPVM_NO_OFFSET)
        snprintf(buf, size, "%s (at byte %zu)", msg, err->offset);
    else
        snprintf(buf, size, "%s", msg);
    return buf;
}

void ipvm__misuse(const char *what, const char *file, int line)
{
    fprintf(stderr, "ipvm: API misuse: %s at %s:%d\n", what, file, line);
    fflush(stderr);
    abort();
}
