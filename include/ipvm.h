/* SPDX-License-Identifier: Apache-2.0 */
/* ipvm.h: the umbrella header of the ipvm library. Each area has its own header under ipvm/. */
#ifndef IPVM_H
#define IPVM_H

#include "ipvm/util.h"
#include "ipvm/multiformats.h"
#include "ipvm/ipld.h"
#include "ipvm/blocks.h"
#include "ipvm/workflow.h"
#include "ipvm/store.h"
#include "ipvm/wasm.h"
#include "ipvm/sched.h"
#include "ipvm/rpc.h"
#include "ipvm/p2p.h"
#include "ipvm/trust.h"

#endif /* IPVM_H */
