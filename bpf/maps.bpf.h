/* SPDX-License-Identifier: GPL-2.0 */
/* Map helpers shared by the BPF programs (BPF only). */
#ifndef ABUSEWATCH_MAPS_BPF_H
#define ABUSEWATCH_MAPS_BPF_H

#include <bpf/bpf_helpers.h>

/*
 * The value of @key in the hash @map, created from @zero on first use;
 * NULL when the map is full (the caller counts that as a lost event).
 */
static __always_inline void *lookup_or_create(void *map, const void *key, const void *zero)
{
	void *value = bpf_map_lookup_elem(map, key);

	if (value)
		return value;
	/* -EEXIST here only means another CPU created it first. */
	bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

#endif
