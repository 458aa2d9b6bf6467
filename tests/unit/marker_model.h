/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's marker search (bpf/markers.bpf.h) written again in C, step
 * for step, for the unit tests of the filters that userspace builds for it
 * (the exec probe's command-line markers, the egress probe's stratum
 * methods): every AW_ARGV_STEP-th window looked up in the bitmap, a hit
 * probing the slots and the wild windows, a candidate compared word by
 * word, bytes folded to lowercase eight at a time.
 */
#ifndef ABUSEWATCH_MARKER_MODEL_H
#define ABUSEWATCH_MARKER_MODEL_H

#include <stdint.h>
#include <string.h>

#include "software.h"

/* ASCII uppercase to lowercase in each byte of @x, as the probe folds them. */
static inline uint64_t model_lower8(uint64_t x)
{
	uint64_t low7 = x & 0x7f7f7f7f7f7f7f7fULL;
	uint64_t ge_a = low7 + 0x3f3f3f3f3f3f3f3fULL;
	uint64_t gt_z = low7 + 0x2525252525252525ULL;

	return x | ((ge_a & ~gt_z & ~x & 0x8080808080808080ULL) >> 2);
}

/* The window of four bytes at @bytes, folded as the probe folds it. */
static inline uint32_t model_window_at(const unsigned char *bytes)
{
	uint32_t window;

	memcpy(&window, bytes, sizeof(window));
	return window | AW_ARGV_FOLD;
}

/* Bit @m when marker @m (@len bytes) starts at @start of the @bytes_len bytes searched. */
static inline uint32_t model_marker_at(const struct argv_filter *filter,
				       const unsigned char *bytes, uint32_t bytes_len,
				       uint32_t scan_max, uint32_t start, uint32_t m, uint32_t len)
{
	uint64_t diff = 0, word;
	int k;

	m &= AW_ARGV_MARKERS_MAX - 1;
	if (start >= scan_max || start + len > bytes_len)
		return 0;
	for (k = 0; k < AW_ARGV_MARKER_LEN / 8; k++) {
		memcpy(&word, bytes + start + 8 * k, sizeof(word));
		diff |= (model_lower8(word) ^ filter->markers[m].text[k]) & filter->markers[m].mask[k];
	}
	return diff ? 0 : 1U << m;
}

/*
 * The markers the probe finds in the first @len bytes of @bytes (at most
 * @scan_max; @bytes has AW_ARGV_MARKER_LEN bytes of room after them).
 * Counts the bitmap lookups and hits where @lookups and @hits are given.
 */
static inline uint32_t model_search(const struct argv_filter *filter, const unsigned char *bytes,
				    uint32_t len, uint32_t scan_max, unsigned int *lookups,
				    unsigned int *hits)
{
	uint32_t found = 0, at, window, key, slot, n, i;
	const struct argv_window *inside;

	for (at = 0; at < len; at += AW_ARGV_STEP) {
		window = model_window_at(bytes + at);
		key = aw_argv_key(window);
		if (lookups)
			(*lookups)++;
		if (!(filter->bitmap[key % AW_ARGV_BITMAP_WORDS] >> (key / AW_ARGV_BITMAP_WORDS) & 1))
			continue;
		if (hits)
			(*hits)++;
		slot = key >> (AW_ARGV_KEY_BITS - AW_ARGV_SLOT_BITS);
		for (n = 0; n < filter->probe_max; n++) {
			inside = &filter->slots[(slot + n) & ((1U << AW_ARGV_SLOT_BITS) - 1)];
			if (!inside->bytes)
				break;
			if (inside->bytes == window)
				found |= model_marker_at(filter, bytes, len, scan_max,
							 at - inside->offset, inside->marker,
							 inside->len);
		}
		for (i = 0; i < filter->wild_count; i++)
			if ((window & filter->wild[i].mask) == filter->wild[i].bytes)
				found |= model_marker_at(filter, bytes, len, scan_max,
							 at - (uint32_t)(int32_t)filter->wild[i].offset,
							 filter->wild[i].marker, filter->wild[i].len);
	}
	return found;
}

#endif
