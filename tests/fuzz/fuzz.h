/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target entry points. A target file tests/fuzz/fuzz_<name>.c defines
 * IPVM_FUZZ_TARGET(name) { ... }. Built with -fsanitize=fuzzer it is LLVMFuzzerTestOneInput;
 * compiled into ipvm_tests (IPVM_FUZZ_REPLAY) it is ipvm_fuzz_<name>, and the test fuzz/<name>
 * replays the committed corpus tests/fuzz/corpus/<name>/ through it. Register new targets in
 * tests/fuzz/targets.h. Targets must abort (IPVM_FUZZ_CHECK) on a broken property. */
#ifndef IPVM_FUZZ_H
#define IPVM_FUZZ_H

#include "ipvm.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef IPVM_FUZZ_REPLAY
#define IPVM_FUZZ_TARGET(name) int ipvm_fuzz_##name(const uint8_t *data, size_t size)
#else
#define IPVM_FUZZ_TARGET(name) int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
#endif

#define IPVM_FUZZ_CHECK(c)                                                                         \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz property failed: %s at %s:%d\n", #c, __FILE__, __LINE__);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
