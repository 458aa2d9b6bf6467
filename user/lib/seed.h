/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Random seeds for the hash tables tenants can fill (destinations, alert
 * keys, executable identities), so that no tenant can choose colliding keys,
 * and the seeded hash the destination and alert tables share: FNV-1a from
 * the seed, then a finalizer, since FNV leaves the low bits (which pick the
 * slot) poorly mixed.
 */
#ifndef ABUSEWATCH_SEED_H
#define ABUSEWATCH_SEED_H

#include <stddef.h>
#include <stdint.h>

/* Fills @out with @size random bytes; never blocks. */
void random_seed(void *out, size_t size);

/* hash_finish(hash_add(hash_add(hash_start(seed), a, n), b, m)) */
uint64_t hash_start(uint64_t seed);
uint64_t hash_add(uint64_t hash, const void *data, size_t length);
uint64_t hash_finish(uint64_t hash);

#endif
