/* SPDX-License-Identifier: Apache-2.0 */
/* The registry of ipvm_tests. Each area keeps its own list in tests/unit/<area>/tests.h (and
 * tests/integration/tests.h, tests/interop/tests.h) with one line per test:
 *   X(area, name)              default timeout
 *   XT(area, name, seconds)    a longer timeout
 * Lists that do not exist yet are skipped by __has_include. */
#ifndef XT
#define XT(area, name, secs) X(area, name)
#endif
#if __has_include("unit/util/tests.h")
#include "unit/util/tests.h"
#endif
#if __has_include("unit/multiformats/tests.h")
#include "unit/multiformats/tests.h"
#endif
#if __has_include("unit/ipld/tests.h")
#include "unit/ipld/tests.h"
#endif
#if __has_include("unit/blocks/tests.h")
#include "unit/blocks/tests.h"
#endif
#if __has_include("unit/workflow/tests.h")
#include "unit/workflow/tests.h"
#endif
#if __has_include("unit/store/tests.h")
#include "unit/store/tests.h"
#endif
#if __has_include("unit/wasm/tests.h")
#include "unit/wasm/tests.h"
#endif
#if __has_include("unit/sched/tests.h")
#include "unit/sched/tests.h"
#endif
#if __has_include("unit/rpc/tests.h")
#include "unit/rpc/tests.h"
#endif
#if __has_include("unit/p2p/tests.h")
#include "unit/p2p/tests.h"
#endif
#if __has_include("unit/trust/tests.h")
#include "unit/trust/tests.h"
#endif
#if __has_include("unit/market/tests.h")
#include "unit/market/tests.h"
#endif
#if __has_include("unit/cli/tests.h")
#include "unit/cli/tests.h"
#endif
#if __has_include("integration/tests.h")
#include "integration/tests.h"
#endif
#if __has_include("interop/tests.h")
#include "interop/tests.h"
#endif
#undef XT
