/* SPDX-License-Identifier: Apache-2.0 */
/* Internal helpers shared by the areas (not installed, not exported). */
#ifndef IPVM_INT_H
#define IPVM_INT_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

/* Returns from the calling function the result of x when it is negative (an IPVM_E* code);
 * the fallible-step chains of the binary and WIT readers. */
#define IPVM__TRY(x)                                                                               \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ < 0)                                                                               \
            return rc_;                                                                            \
    } while (0)

/* Returns SIZE_MAX if s[0..len) is valid UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF), else the offset of the first byte of the first bad sequence. */
size_t ipvm__utf8_check(const uint8_t *s, size_t len);

/* The IPVM_E* code for an errno value from a file operation: ENOENT, EACCES, ENOSPC, EROFS,
 * EEXIST, ENOMEM by name (ENOTDIR as ENOENT, EPERM as EACCES, EDQUOT as ENOSPC), IPVM_EIO for
 * the rest. */
int ipvm__errno_code(int e);

/* Writes s to f as the inside of a JSON string: quote and backslash escaped, control characters
 * as \u00XX, every other byte as it is (s is UTF-8). */
void ipvm__json_escape(FILE *f, const char *s);

#endif
