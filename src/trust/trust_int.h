/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the files of src/trust/. */
#ifndef IPVM_TRUST_INT_H
#define IPVM_TRUST_INT_H

#include "ipvm/trust.h"

/* Writes a secret file: mode 0600, created exclusively (IPVM_EEXIST if the path exists), fsync'd,
 * and the directory fsync'd. */
int ipvm__trust_write_secret(const char *path, const void *data, size_t len, ipvm_error_t *err);
/* Reads a secret file, refusing one that is not a regular file or that others may read. */
int ipvm__trust_read_secret(const char *path, ipvm_buf_t *out, ipvm_error_t *err);

#endif
