/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Random seeds for the hash tables tenants can fill (destinations, alert
 * keys, executable identities), so that no tenant can choose colliding keys.
 */
#ifndef ABUSEWATCH_SEED_H
#define ABUSEWATCH_SEED_H

#include <stddef.h>

/* Fills @out with @size random bytes; never blocks. */
void random_seed(void *out, size_t size);

#endif
