/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of ipld/ (tests/unit/ipld/test_*.c). */
X(ipld, homestar_gold_cids)
X(ipld, homestar_fuel_is_float64)
X(ipld, homestar_receipt_cid)
X(ipld, homestar_instruction_bytes)
