/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The marker search of software_events.h (struct argv_filter), shared by
 * the exec probe (bpf/software.bpf.c: command lines) and the egress probe
 * (bpf/wire.bpf.h: the first bytes of TCP connections). The includer
 * defines, before including this:
 *
 *   struct scratch, with a member char args[AW_ARGV_SCAN_MAX +
 *   AW_ARGV_MARKER_LEN]: the bytes searched, in a per-CPU map value;
 *
 * and, after, the global function argv_hit() declared below: filter_hit()
 * with its filter (read-only data) for the search's @modprobe argument.
 */
#ifndef ABUSEWATCH_MARKERS_BPF_H
#define ABUSEWATCH_MARKERS_BPF_H

#include "software_events.h"

/*
 * ASCII letters of @x lowered, eight bytes at once: bit 7 of each byte of
 * @ge_a and @gt_z says whether its low seven bits are >= 'A' and > 'Z'
 * (no carry crosses bytes); bytes >= 0x80 are left alone.
 */
static __always_inline __u64 lower8(__u64 x)
{
	__u64 low7 = x & 0x7f7f7f7f7f7f7f7fULL;
	__u64 ge_a = low7 + 0x3f3f3f3f3f3f3f3fULL;
	__u64 gt_z = low7 + 0x2525252525252525ULL;

	return x | ((ge_a & ~gt_z & ~x & 0x8080808080808080ULL) >> 2);
}

/*
 * Bit @m when marker @m (@len bytes) starts at @start of the @args_len
 * bytes of arguments, else 0. It is compared a word at a time,
 * case-insensitively for ASCII letters: no loop for the verifier to walk,
 * and never a read past the arguments' room (@start < AW_ARGV_SCAN_MAX).
 */
static __always_inline __u32 marker_at(const volatile struct argv_filter *filter,
				       struct scratch *scratch, __u32 args_len, __u32 start,
				       __u32 m, __u32 len)
{
	const __u64 *text;
	__u64 diff = 0;
	int k;

	m &= AW_ARGV_MARKERS_MAX - 1;
	/* @start is below zero (a huge __u32) when the marker would begin before the arguments. */
	if (start >= AW_ARGV_SCAN_MAX || start + len > args_len)
		return 0;
	text = (const __u64 *)(scratch->args + start);
#pragma unroll
	for (k = 0; k < AW_ARGV_MARKER_LEN / 8; k++)
		diff |= (lower8(text[k]) ^ filter->markers[m].text[k]) & filter->markers[m].mask[k];
	return diff ? 0 : 1U << m;
}

/*
 * The folded window @window at @at has its bit in @filter's bitmap: the
 * markers that have it, inside them (its slots) or running off them (the
 * wild ones), are compared where they would start. Returns the markers
 * found.
 */
static __always_inline __u32 filter_hit(const volatile struct argv_filter *filter,
					struct scratch *scratch, __u32 len, __u32 at, __u32 window)
{
	__u32 slot = aw_argv_key(window) >> (AW_ARGV_KEY_BITS - AW_ARGV_SLOT_BITS), found = 0, n, i;

	for (n = 0; n < filter->probe_max; n++) {
		i = (slot + n) & ((1U << AW_ARGV_SLOT_BITS) - 1);
		if (!filter->slots[i].bytes)
			break;
		if (filter->slots[i].bytes == window)
			found |= marker_at(filter, scratch, len, at - filter->slots[i].offset,
					   filter->slots[i].marker, filter->slots[i].len);
	}
	for (n = 0; n < filter->wild_count; n++) {
		if ((window & filter->wild[n].mask) == filter->wild[n].bytes)
			found |= marker_at(filter, scratch, len, at - filter->wild[n].offset,
					   filter->wild[n].marker, filter->wild[n].len);
	}
	return found;
}

/*
 * filter_hit() with the includer's filter (@modprobe: its second one, if
 * any). A global function: the verifier checks it once, not at every
 * place the search calls it from.
 */
__noinline __u32 argv_hit(struct scratch *scratch, __u32 len, __u32 at, __u32 window,
			  __u32 modprobe);

/* Bytes of arguments per round of the search loop, its windows unrolled. */
#define SEARCH_BLOCK 64
#define SEARCH_WINDOWS (SEARCH_BLOCK / AW_ARGV_STEP)

/*
 * The index of the only set bit of a 16-bit value: multiplied by a de
 * Bruijn sequence, its top four bits are a code unique to the bit, and
 * BIT_INDEX holds the index for each code, a nibble each. No table in
 * memory to miss in the cache.
 */
#define DE_BRUIJN 0x09afU
#define BIT_INDEX 0xcd7ea84fb6935210ULL

/*
 * Searches the @len bytes of arguments in scratch->args with @filter
 * (@modprobe: the module loaders'). Every marker puts one of its windows
 * on a multiple of AW_ARGV_STEP (software_events.h), so only those are
 * looked up: an aligned load, a multiply and a bit each, gathered without
 * a branch; a round with a hit calls argv_hit for each. A plain loop: the
 * verifier walks its rounds with their offsets known, so no load needs a
 * mask.
 */
static __always_inline __u32 search_filter_in(const volatile struct argv_filter *filter,
					      __u32 modprobe, struct scratch *scratch, __u64 len)
{
	__u32 found = 0, base, window, product, hits, lowest, i, n;
	const char *block;
	__u64 word;

	for (base = 0; base < AW_ARGV_SCAN_MAX; base += SEARCH_BLOCK) {
		if (base >= len)
			break;
		block = scratch->args + base;
		hits = 0;
#pragma unroll
		for (i = 0; i < SEARCH_WINDOWS; i++) {
			/*
			 * The word of aw_argv_key(window) as a byte offset (key %
			 * AW_ARGV_BITMAP_WORDS, times 8) and its bit (key /
			 * AW_ARGV_BITMAP_WORDS, the product's top six bits),
			 * straight from the product: one operation each.
			 */
			product = (*(const __u32 *)(block + i * AW_ARGV_STEP) | AW_ARGV_FOLD) *
				  AW_ARGV_HASH;
			word = *(const __u64 *)((const char *)filter->bitmap +
						(product >> (32 - AW_ARGV_KEY_BITS - 3) &
						 (AW_ARGV_BITMAP_WORDS - 1) * 8));
			hits |= (__u32)(word >> (product >> (32 - 6)) & 1) << i;
		}
		/*
		 * The last round reads older bytes after the arguments: no window
		 * that starts there belongs to a marker in them (one running off a
		 * marker's end starts inside it, and matches whatever follows).
		 */
		if (len - base < SEARCH_BLOCK)
			hits &= (1U << (len - base + AW_ARGV_STEP - 1) / AW_ARGV_STEP) - 1;
		/*
		 * The hits, lowest first: a branch per hit rather than per
		 * window, whose outcome the CPU could not guess.
		 */
		for (n = 0; n < SEARCH_WINDOWS && hits; n++) {
			lowest = hits & -hits;
			hits ^= lowest;
			i = BIT_INDEX >> (((lowest * DE_BRUIJN) >> 12 & 15) * 4) & 15;
			window = *(const __u32 *)(block + i * AW_ARGV_STEP) | AW_ARGV_FOLD;
			found |= argv_hit(scratch, len, base + i * AW_ARGV_STEP, window, modprobe);
		}
	}
	return found;
}

#endif
