/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the files of ipld/: the DAG-CBOR key order, the shortest round-trip float
 * formatter used by DAG-JSON, and the scratch stacks of the decoders. */
#ifndef IPVM_IPLD_INT_H
#define IPVM_IPLD_INT_H

#include "ipvm/ipld.h"
#include "ipvm_int.h" /* ipvm__utf8_check */

#include <string.h>

/* DAG-CBOR map key order: shorter keys first, then bytewise (RFC 7049 canonical order, which
 * the DAG-CBOR spec and @ipld/dag-cbor's mapSorter use). <0, 0 or >0. */
static inline int ipvm__ipld_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return alen ? memcmp(a, b, alen) : 0;
}

/* Longest text ipvm__float_format writes (sign, 17 digits, point, zeros, exponent, NUL). */
#define IPVM__FLOAT_MAX 40
/* Writes the shortest decimal that reads back as `v` (finite), laid out as ECMAScript's
 * Number::toString lays it out, plus ".0" when that has neither '.' nor exponent, so a
 * reader can tell a float from an integer. Returns the length. */
size_t ipvm__float_format(double v, char out[IPVM__FLOAT_MAX]);

/* The map entries of v in DAG-CBOR order, and whether a duplicate was seen: when the map is
 * already in order returns its own array; otherwise a sorted copy of the entries in *tmp
 * (ipvm_malloc'd, caller frees) or NULL on OOM (*tmp then stays NULL and *oom is set). */
const ipvm_ipld_entry_t *ipvm__ipld_sorted_entries(const ipvm_ipld_t *map,
                                                   ipvm_ipld_entry_t **tmp, bool *dup,
                                                   bool *oom);

#endif
