/* SPDX-License-Identifier: Apache-2.0 */
/* Internal helpers shared by the areas (not installed, not exported). */
#ifndef IPVM_INT_H
#define IPVM_INT_H

#include <stddef.h>
#include <stdint.h>

/* Returns SIZE_MAX if s[0..len) is valid UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF), else the offset of the first byte of the first bad sequence. */
size_t ipvm__utf8_check(const uint8_t *s, size_t len);

#endif
