/* SPDX-License-Identifier: Apache-2.0 */
/* A native executor for scheduler tests (the Wasm engine is tested on its own): functions
 * add_one, add_two, echo, fail, sleep, and counters of what ran. */
#ifndef IPVM_TEST_FAKE_EXEC_H
#define IPVM_TEST_FAKE_EXEC_H

#include "ipvm.h"

typedef struct fake_exec_s {
    int calls;            /* calls of `call` (atomic) */
    int loads;            /* modules loaded */
    int concurrent, max_concurrent;
    ipvm_wasm_limits_t last_limits; /* of the last call */
    int fetches;
} fake_exec_t;

/* The executor; data points to f. Functions:
 *   add_one(n) -> n+1, add_two(n) -> n+2 (fuel 10)
 *   echo(args...) -> the argument list
 *   fail() -> IPVM_ETRAP_UNREACHABLE (fuel 3)
 *   sleep(ms) -> null after ms, or IPVM_ETRAP_TIMEOUT when limits.time_ms is shorter
 *   size(bytes) -> the byte count
 * A resource ending in "/missing" fails to load with IPVM_ENORESOURCE. */
ipvm_sched_executor_t fake_exec(fake_exec_t *f);

#endif
