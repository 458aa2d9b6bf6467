// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for the software rules: the shipped data (software_builtin.c),
 * the matcher's rules and their order (software.c), and the tracker's flood
 * control (software_tracker.c), with a real child process for "the miner
 * has exited".
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "data_lines.h"
#include "log.h"
#include "marker_model.h"
#include "software.h"
#include "software_builtin.h"
#include "software_tracker.h"

extern const char software_miners_txt[], software_miners_txt_end[];
extern const char software_scanners_txt[], software_scanners_txt_end[];
extern const char software_flooders_txt[], software_flooders_txt_end[];
extern const char software_tunnels_txt[], software_tunnels_txt_end[];
extern const char software_argv_markers_txt[], software_argv_markers_txt_end[];

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* A policy over static lists; the matcher copies what it needs. */
struct test_policy {
	struct software_policy policy;
	char *deny[8];
	char *deny_sha256[4];
	char *deny_paths[4];
	char *allow_sha256[4];
};

static void policy_init(struct test_policy *test)
{
	memset(test, 0, sizeof(*test));
	test->policy.name = "test";
	test->policy.deny = test->deny;
	test->policy.deny_sha256 = test->deny_sha256;
	test->policy.deny_paths = test->deny_paths;
	test->policy.allow_sha256 = test->allow_sha256;
}

static void deny(struct test_policy *test, char *name)
{
	test->deny[test->policy.deny_count++] = name;
}

static struct software_matcher *matcher_of(struct test_policy *test)
{
	struct software_matcher *matcher = software_matcher_new(&test->policy);

	assert_non_null(matcher);
	return matcher;
}

static struct software_facts exec_facts(const char *comm, const char *exe)
{
	return (struct software_facts){
		.type = SOFTWARE_EVENT_EXEC,
		.comm = comm,
		.exe = exe,
	};
}

static int marker_bit(const char *label, bool modprobe)
{
	const struct software_marker *markers;
	size_t count, i;

	markers = software_markers(&count);
	for (i = 0; i < count; i++)
		if (!strcmp(markers[i].label, label) && markers[i].modprobe == modprobe)
			return (int)i;
	fail_msg("no marker \"%s\"", label);
	return -1;
}

static void test_rule_names(void **state)
{
	assert_string_equal(software_rule_name(SOFTWARE_RULE_SHA256), "sha256");
	assert_string_equal(software_rule_name(SOFTWARE_RULE_NAME), "name");
	assert_string_equal(software_rule_name(SOFTWARE_RULE_PATH), "path");
	assert_string_equal(software_rule_name(SOFTWARE_RULE_ARGV), "argv");
	assert_string_equal(software_rule_name(SOFTWARE_RULE_MINER_BEHAVIOR), "miner_behavior");
	assert_string_equal(software_rule_name(SOFTWARE_RULE_COUNT), "unknown");
}

static void check_set(const char *set, const char *start, const char *end)
{
	const char *const *names;
	size_t count, i, j;

	names = software_builtin_set(set, &count);
	assert_non_null(names);
	assert_true(count > 0);
	/* Every line of the shipped file loads: none was skipped as malformed or repeated. */
	assert_int_equal(count, content_lines(start, end));
	for (i = 0; i < count; i++) {
		for (j = 0; names[i][j]; j++)
			assert_false(names[i][j] >= 'A' && names[i][j] <= 'Z');
		for (j = i + 1; j < count; j++)
			if (!strcmp(names[i], names[j]))
				fail_msg("%s: \"%s\" twice", set, names[i]);
	}
}

static void test_builtin_sets(void **state)
{
	size_t count = 99;

	check_set("miners", software_miners_txt, software_miners_txt_end);
	check_set("scanners", software_scanners_txt, software_scanners_txt_end);
	check_set("flooders", software_flooders_txt, software_flooders_txt_end);
	check_set("tunnels", software_tunnels_txt, software_tunnels_txt_end);
	assert_null(software_builtin_set("bitcoin", &count));
	assert_int_equal(count, 0);
	assert_null(software_builtin_set("builtin:miners", &count));
}

static void test_builtin_sets_spare_build_tools(void **state)
{
	static const char *const benign[] = {
		"gcc", "cc1", "cc", "ld", "as", "make", "git", "python3", "sh", "bash",
		"node", "java", "curl", "wget", "ssh", "nc", "netcat", "socat", "tar", "docker",
	};
	static const char *const sets[] = { "miners", "scanners", "flooders", "tunnels" };
	const char *const *names;
	size_t count, set, i, j;

	for (set = 0; set < 4; set++) {
		names = software_builtin_set(sets[set], &count);
		for (i = 0; i < count; i++)
			for (j = 0; j < sizeof(benign) / sizeof(benign[0]); j++)
				if (!strcmp(names[i], benign[j]))
					fail_msg("builtin:%s has \"%s\"", sets[set], benign[j]);
	}
}

static void test_markers(void **state)
{
	const struct software_marker *markers;
	size_t count, i, modprobe = 0;

	markers = software_markers(&count);
	assert_true(count > 0);
	assert_true(count <= AW_ARGV_MARKERS_MAX);
	assert_int_equal(count, content_lines(software_argv_markers_txt,
					      software_argv_markers_txt_end));
	for (i = 0; i < count; i++) {
		assert_true(markers[i].len >= AW_ARGV_MARKER_MIN);
		assert_true(markers[i].len < AW_ARGV_MARKER_LEN);
		assert_non_null(markers[i].label);
		assert_true(strlen(markers[i].label) > 0);
		if (markers[i].modprobe) {
			modprobe++;
			assert_int_equal(markers[i].len, 5);
			assert_memory_equal(markers[i].text, "\0msr\0", 5);
			assert_string_equal(markers[i].label, "msr");
		}
	}
	assert_int_equal(modprobe, 1);
	i = (size_t)marker_bit("stratum+tcp://", false);
	assert_int_equal(markers[i].len, strlen("stratum+tcp://"));
	assert_memory_equal(markers[i].text, "stratum+tcp://", markers[i].len);
	marker_bit("stratum+ssl://", false);
	marker_bit("stratum+udp://", false);
	marker_bit("stratum2+tcp://", false);
	marker_bit("stratum2+ssl://", false);
	marker_bit("--donate-level", false);
	marker_bit("--nicehash", false);
	/* An escaped NUL inside a marker shows as a space in its label. */
	i = (size_t)marker_bit("--coin monero", false);
	assert_memory_equal(markers[i].text, "--coin\0monero\0", markers[i].len);
}

/*
 * The exec probe's command-line filter (software_argv_filter()), checked
 * against the search bpf/software.bpf.c runs over it, step for step
 * (marker_model.h). A plain search over every position is the reference.
 * What the probe reports for @args (@room bytes, of which @len are
 * arguments):
 */
static uint32_t probe_search(const struct argv_filter *filter, const unsigned char *args,
			     uint32_t len, unsigned int *lookups, unsigned int *hits)
{
	return model_search(filter, args, len, AW_ARGV_SCAN_MAX, lookups, hits);
}

static unsigned char ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Every position, every marker. */
static uint32_t plain_search(const struct argv_marker *markers, size_t count,
			     const unsigned char *args, size_t len)
{
	uint32_t found = 0;
	size_t m, at, j;

	for (m = 0; m < count; m++)
		for (at = 0; at + markers[m].len <= len; at++) {
			for (j = 0; j < markers[m].len; j++)
				if (ascii_lower(args[at + j]) !=
				    ascii_lower((unsigned char)markers[m].text[j]))
					break;
			if (j == markers[m].len) {
				found |= 1U << m;
				break;
			}
		}
	return found;
}

/* Arguments as a command line has them: words, NUL-separated, mixed case. */
static void fill_args(unsigned char *args, size_t len, unsigned int *seed)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789-=/.:_+ \0\0\0";
	size_t i;

	for (i = 0; i < len; i++)
		args[i] = (unsigned char)alphabet[rand_r(seed) % (sizeof(alphabet) - 1)];
}

/* @marker at @at, its letters in random case. */
static void put_marker(unsigned char *args, size_t at, const struct argv_marker *marker,
		       unsigned int *seed)
{
	size_t j;

	for (j = 0; j < marker->len; j++) {
		unsigned char c = (unsigned char)marker->text[j];

		if (c >= 'a' && c <= 'z' && rand_r(seed) % 2)
			c -= 'a' - 'A';
		args[at + j] = c;
	}
}

/* The probe's filter of the markers with @modprobe as their modprobe flag. */
static struct argv_filter *filter_of(const struct argv_marker *markers, size_t count,
				     bool modprobe)
{
	struct argv_filter *filter = malloc(sizeof(*filter));
	size_t m, expected = 0;

	assert_non_null(filter);
	assert_int_equal(software_argv_filter(markers, count, modprobe, filter), 0);
	for (m = 0; m < count; m++)
		expected += !markers[m].modprobe == !modprobe;
	assert_int_equal(filter->marker_count, expected);
	return filter;
}

static bool key_set(const struct argv_filter *filter, uint32_t window)
{
	uint32_t key = aw_argv_key(window);

	return filter->bitmap[key % AW_ARGV_BITMAP_WORDS] >> (key / AW_ARGV_BITMAP_WORDS) & 1;
}

static void test_argv_filter_windows(void **state)
{
	unsigned char text[AW_ARGV_MARKER_LEN], bytes[AW_ARGV_WINDOW], mask[AW_ARGV_WINDOW];
	struct argv_marker markers[AW_ARGV_MARKERS_MAX];
	bool has[AW_ARGV_MARKER_LEN + AW_ARGV_STEP];
	uint32_t window, home, n, run, slot;
	const struct argv_window *inside;
	struct argv_filter *filters[2], *filter, *other;
	size_t count, m, j;
	unsigned int value;
	int offset, i;
	bool reached;

	count = software_argv_markers(markers, AW_ARGV_MARKERS_MAX);
	assert_true(count > 0);
	filters[0] = filter_of(markers, count, false);
	filters[1] = filter_of(markers, count, true);
	/* "\0msr\0" counts only for modprobe: in the loaders' filter alone. */
	assert_true(filters[1]->marker_count > 0);
	for (m = 0; m < count; m++) {
		filter = filters[!!markers[m].modprobe];
		other = filters[!markers[m].modprobe];
		for (slot = 0; slot < (1U << AW_ARGV_SLOT_BITS); slot++)
			assert_false(other->slots[slot].bytes && other->slots[slot].marker == m);
		for (i = 0; i < (int)other->wild_count; i++)
			assert_int_not_equal(other->wild[i].marker, m);
		for (j = 0; j < markers[m].len; j++)
			text[j] = ascii_lower((unsigned char)markers[m].text[j]);
		memset(has, 0, sizeof(has));
		/* Its windows inside it: its bytes there, in the bitmap, where a probe finds them. */
		for (slot = 0; slot < (1U << AW_ARGV_SLOT_BITS); slot++) {
			inside = &filter->slots[slot];
			if (!inside->bytes || inside->marker != m)
				continue;
			assert_int_equal(inside->len, markers[m].len);
			assert_true(inside->offset + AW_ARGV_WINDOW <= (int)markers[m].len);
			window = model_window_at(text + inside->offset);
			assert_int_equal(inside->bytes, window);
			assert_true(key_set(filter, window));
			home = aw_argv_key(window) >> (AW_ARGV_KEY_BITS - AW_ARGV_SLOT_BITS);
			for (reached = false, n = 0; n < filter->probe_max && !reached; n++) {
				assert_true(filter->slots[(home + n) & ((1U << AW_ARGV_SLOT_BITS) - 1)].bytes);
				reached = ((home + n) & ((1U << AW_ARGV_SLOT_BITS) - 1)) == slot;
			}
			assert_true(reached);
			has[inside->offset + AW_ARGV_STEP] = true;
		}
		/* Those running off it: its bytes where they overlap, and any byte off it. */
		for (i = 0; i < (int)filter->wild_count; i++) {
			const struct argv_wild *wild = &filter->wild[i];

			if (wild->marker != m)
				continue;
			assert_int_equal(wild->len, markers[m].len);
			assert_true(wild->offset < 0 ||
				    wild->offset + AW_ARGV_WINDOW > (int)markers[m].len);
			assert_true(wild->offset > -AW_ARGV_STEP);
			memcpy(mask, &wild->mask, sizeof(mask));
			for (value = 0; value < 256; value++) {
				for (j = 0; j < AW_ARGV_WINDOW; j++) {
					offset = wild->offset + (int)j;
					if (offset < 0 || offset >= (int)markers[m].len) {
						assert_int_equal(mask[j], 0);
						bytes[j] = (unsigned char)value;
					} else {
						assert_int_equal(mask[j], 0xff);
						bytes[j] = text[offset];
					}
				}
				window = model_window_at(bytes);
				assert_int_equal(window & wild->mask, wild->bytes);
				assert_true(key_set(filter, window));
			}
			has[wild->offset + AW_ARGV_STEP] = true;
		}
		/* So that one of them starts on every AW_ARGV_STEP-th position. */
		for (run = 0, j = 0; j < sizeof(has) && run < AW_ARGV_STEP; j++)
			run = has[j] ? run + 1 : 0;
		if (run < AW_ARGV_STEP)
			fail_msg("marker %zu: no %d consecutive windows", m, AW_ARGV_STEP);
	}
	free(filters[0]);
	free(filters[1]);
}

/* The markers of @markers with @modprobe as their modprobe flag, as bits. */
static uint32_t markers_of_kind(const struct argv_marker *markers, size_t count, bool modprobe)
{
	uint32_t bits = 0;
	size_t m;

	for (m = 0; m < count; m++)
		if (!markers[m].modprobe == !modprobe)
			bits |= 1U << m;
	return bits;
}

/*
 * Every marker, at every alignment, in random case, among random words,
 * and with old bytes (another marker) after the arguments: the probe's
 * search finds exactly what a search of every position finds, the filter
 * of every exec the markers that are not modprobe's and, for a module
 * loader, the loaders' filter the rest. Returns the share of lookups in
 * random words that hit the filter of every exec, in percent.
 */
static unsigned int search_every_alignment(const struct argv_marker *markers, size_t count)
{
	static unsigned char args[AW_ARGV_SCAN_MAX + AW_ARGV_MARKER_LEN];
	unsigned int seed = 1, lookups = 0, hits = 0, loader_lookups = 0, loader_hits = 0;
	struct argv_filter *filter = filter_of(markers, count, false);
	struct argv_filter *loader = filter_of(markers, count, true);
	uint32_t expected, len, every = markers_of_kind(markers, count, false);
	size_t m, at;

	for (m = 0; m < count; m++) {
		for (at = 0; at < 80; at++) {
			len = (uint32_t)(at + markers[m].len + rand_r(&seed) % 40);
			fill_args(args, sizeof(args), &seed);
			put_marker(args, at, &markers[m], &seed);
			put_marker(args, len, &markers[(m + 1) % count], &seed);
			expected = plain_search(markers, count, args, len);
			assert_true(expected & (1U << m));
			assert_int_equal(probe_search(filter, args, len, &lookups, &hits),
					 expected & every);
			assert_int_equal(probe_search(loader, args, len, &loader_lookups,
						      &loader_hits),
					 expected & ~every);
			/* At the end of the arguments, and of what the probe reads. */
			len = (uint32_t)(at + markers[m].len);
			expected = plain_search(markers, count, args, len);
			assert_int_equal(probe_search(filter, args, len, &lookups, &hits),
					 expected & every);
			assert_int_equal(probe_search(loader, args, len, &loader_lookups,
						      &loader_hits),
					 expected & ~every);
		}
		fill_args(args, sizeof(args), &seed);
		at = AW_ARGV_SCAN_MAX - markers[m].len;
		put_marker(args, at, &markers[m], &seed);
		assert_true(probe_search(markers[m].modprobe ? loader : filter, args,
					 AW_ARGV_SCAN_MAX, &lookups, &hits) &
			    (1U << m));
	}
	/* Random words: a hit is rare, and a match only what is there. */
	lookups = hits = 0;
	for (at = 0; at < 200; at++) {
		fill_args(args, sizeof(args), &seed);
		expected = plain_search(markers, count, args, AW_ARGV_SCAN_MAX);
		assert_int_equal(probe_search(filter, args, AW_ARGV_SCAN_MAX, &lookups, &hits),
				 expected & every);
		assert_int_equal(probe_search(loader, args, AW_ARGV_SCAN_MAX, &loader_lookups,
					      &loader_hits),
				 expected & ~every);
	}
	free(filter);
	free(loader);
	return hits * 100 / lookups;
}

static void test_argv_filter_search(void **state)
{
	struct argv_marker markers[AW_ARGV_MARKERS_MAX];

	/*
	 * Few hits in the filter of every exec: its markers are long enough
	 * to need no wild windows ("\0msr\0" is the loaders').
	 */
	assert_true(search_every_alignment(markers,
					   software_argv_markers(markers, AW_ARGV_MARKERS_MAX)) < 1);
}

/*
 * The shortest markers there may be (their windows run two bytes off them:
 * found, though with many hits), and the longest, with NULs and shared
 * windows.
 */
static void test_argv_filter_short_markers(void **state)
{
	static const struct {
		const char *text;
		size_t len;
	} texts[] = {
		{ "\0ab\0", 4 }, { "wxyz", 4 }, { "\0msr\0", 5 }, { "--xy=", 5 }, { "stra6", 6 },
		{ "stratum+x://", 12 }, { "a-marker-of-thirty-one-bytes!!!", 31 },
	};
	struct argv_marker markers[sizeof(texts) / sizeof(texts[0])];
	struct argv_filter *filter;
	size_t i;

	/* All of them for every exec: the short ones' wild windows in one filter. */
	memset(markers, 0, sizeof(markers));
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		markers[i].len = (uint32_t)texts[i].len;
		memcpy(markers[i].text, texts[i].text, texts[i].len);
	}
	search_every_alignment(markers, sizeof(markers) / sizeof(markers[0]));
	filter = malloc(sizeof(*filter));
	assert_non_null(filter);
	markers[0].len = AW_ARGV_MARKER_MIN - 1;
	assert_int_equal(software_argv_filter(markers, 1, false, filter), -EINVAL);
	/* Whichever filter is built: every marker is checked. */
	assert_int_equal(software_argv_filter(markers, 1, true, filter), -EINVAL);
	markers[0].len = AW_ARGV_MARKER_LEN;
	assert_int_equal(software_argv_filter(markers, 1, false, filter), -EINVAL);
	assert_int_equal(software_argv_filter(markers, AW_ARGV_MARKERS_MAX + 1, false, filter),
			 -E2BIG);
	free(filter);
}

/*
 * The exec probe's interest (software_matcher_interest()): the key of the
 * name as the probe computes it from 16 bytes as loaded (comm, or the
 * start of a dentry's name: a NUL, then anything), bit for bit as
 * bpf/software.bpf.c's may_be_denied() does.
 */
static bool probe_may_be_denied(const struct exec_interest *interest, const unsigned char *bytes)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t low, high, zeros;
	uint32_t first, second;

	memcpy(&low, bytes, sizeof(low));
	memcpy(&high, bytes + sizeof(low), sizeof(high));
	zeros = (low - ones) & ~low & highs;
	if (zeros) {
		low &= ((zeros & -zeros) >> 7) - 1;
		high = 0;
	} else {
		zeros = (high - ones) & ~high & highs;
		if (zeros)
			high &= ((zeros & -zeros) >> 7) - 1;
		high &= (1ULL << 8 * (AW_NAME_KEY_CHARS - 8)) - 1;
	}
	aw_name_bits(model_lower8(low), model_lower8(high), &first, &second);
	return (interest->names[first >> 6] >> (first & 63) & 1) &&
	       (interest->names[second >> 6] >> (second & 63) & 1);
}

/* @name as the probe loads it: its first 16 bytes, garbage after the NUL (if any). */
static bool name_may_be_denied(const struct exec_interest *interest, const char *name,
			       unsigned int *seed)
{
	unsigned char bytes[16];
	size_t length = strlen(name), i;

	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = i < length ? (unsigned char)name[i] :
		           i == length ? 0 : (unsigned char)rand_r(seed);
	return probe_may_be_denied(interest, bytes);
}

static void test_exec_interest(void **state)
{
	const char *long_name = "AVeryVeryVeryLongMiner", *const *names;
	struct software_matcher *matcher;
	struct exec_interest interest;
	struct test_policy test;
	unsigned int seed = 7, set = 0, tried = 0, maybe = 0;
	char name[32], comm[16];
	size_t count, i, j;

	policy_init(&test);
	deny(&test, "builtin:miners");
	deny(&test, "averyveryverylongminer");
	test.allow_sha256[test.policy.allow_sha256_count++] = SHA_A;
	matcher = matcher_of(&test);
	memset(&interest, 0, sizeof(interest));
	software_matcher_interest(matcher, &interest);
	/*
	 * Names and markers: not every exec (an allowed digest only spares);
	 * but executables not judged yet, for builtin:miners's YARA rules and
	 * learned digests.
	 */
	assert_int_equal(interest.every_exec, 0);
	assert_int_equal(interest.digests, 1);
	assert_int_equal(interest.argv, 1);
	assert_false(software_matcher_has_deny_sha256(matcher));

	/* Every deny name, in any case, as a comm (cut to 15) and as a file name. */
	assert_int_equal(software_builtin_names("miners", &names, &count), 0);
	for (i = 0; i <= count; i++) {
		snprintf(name, sizeof(name), "%s", i < count ? names[i] : long_name);
		for (j = 0; name[j]; j++)
			if (rand_r(&seed) % 2)
				name[j] = (char)toupper((unsigned char)name[j]);
		memcpy(comm, name, sizeof(comm) - 1);
		comm[sizeof(comm) - 1] = '\0';
		assert_true(name_may_be_denied(&interest, comm, &seed));
		assert_true(name_may_be_denied(&interest, name, &seed));
	}
	/* Other names rarely: a few bits of the bitmap are set. */
	for (i = 0; i < AW_NAME_BITMAP_WORDS; i++)
		set += (unsigned int)__builtin_popcountll(interest.names[i]);
	assert_true(set <= 2 * (count + 1));
	for (i = 0; i < 20000; i++, tried++) {
		snprintf(name, sizeof(name), "tool%zu-%u", i, rand_r(&seed) % 1000);
		maybe += name_may_be_denied(&interest, name, &seed);
	}
	assert_true(maybe * 100 < tried);
	software_matcher_free(matcher);

	/* Globs match whole paths: every exec. */
	test.deny_paths[test.policy.deny_paths_count++] = "/opt/*";
	matcher = matcher_of(&test);
	memset(&interest, 0, sizeof(interest));
	software_matcher_interest(matcher, &interest);
	assert_int_equal(interest.every_exec, 1);
	assert_int_equal(interest.digests, 1);
	software_matcher_free(matcher);
	/* Denied digests: each executable until judged. */
	test.policy.deny_paths_count = 0;
	test.deny_sha256[test.policy.deny_sha256_count++] = SHA_B;
	matcher = matcher_of(&test);
	memset(&interest, 0, sizeof(interest));
	software_matcher_interest(matcher, &interest);
	assert_int_equal(interest.every_exec, 0);
	assert_int_equal(interest.digests, 1);
	software_matcher_free(matcher);
	/* No builtin:miners: command lines are not searched. */
	test.policy.deny_count = 0;
	deny(&test, "foo");
	matcher = matcher_of(&test);
	memset(&interest, 0, sizeof(interest));
	software_matcher_interest(matcher, &interest);
	assert_int_equal(interest.argv, 0);
	assert_true(software_matcher_has_deny_sha256(matcher));
	assert_true(software_matcher_denies_sha256(matcher, SHA_B));
	assert_false(software_matcher_denies_sha256(matcher, SHA_A));
	software_matcher_free(matcher);
	/* Names alone, no built-in set, no digest list: no digests either. */
	test.policy.deny_sha256_count = 0;
	test.policy.allow_sha256_count = 0;
	matcher = matcher_of(&test);
	memset(&interest, 0, sizeof(interest));
	software_matcher_interest(matcher, &interest);
	assert_int_equal(interest.digests, 0);
	assert_int_equal(interest.every_exec, 0);
	assert_false(software_matcher_needs_sha256(matcher));
	software_matcher_free(matcher);
}

static void test_name_by_comm_and_basename(void **state)
{
	struct software_verdict verdict;
	struct software_facts facts;
	struct software_matcher *matcher;
	struct test_policy test;

	policy_init(&test);
	deny(&test, "builtin:miners");
	deny(&test, "Foo");
	matcher = matcher_of(&test);
	/* A built-in set: its learned digests and YARA rules need the digest. */
	assert_true(software_matcher_needs_sha256(matcher));

	facts = exec_facts("xmrig", "/tmp/x/xmrig");
	assert_true(software_match(matcher, &facts, &verdict));
	assert_int_equal(verdict.rule, SOFTWARE_RULE_NAME);
	assert_string_equal(verdict.reason, "name \"xmrig\" is in builtin:miners");

	/* Renamed comm (prctl), real file name. */
	facts = exec_facts("kworker/0:1", "/opt/XMRig");
	assert_true(software_match(matcher, &facts, &verdict));
	assert_string_equal(verdict.reason, "name \"xmrig\" is in builtin:miners");

	facts = exec_facts("XMRig", NULL);
	assert_true(software_match(matcher, &facts, &verdict));
	assert_string_equal(verdict.reason, "name \"xmrig\" is in builtin:miners");

	facts = exec_facts("foo", "/usr/bin/bar");
	assert_true(software_match(matcher, &facts, &verdict));
	assert_string_equal(verdict.reason, "name \"foo\" is on the deny list");

	/* Only whole names count. */
	facts = exec_facts("xmrigger", "/usr/bin/xmrig2");
	assert_false(software_match(matcher, &facts, &verdict));
	/* The basename of a file-less program is all of it. */
	facts = exec_facts("3", "memfd:xmrig");
	assert_false(software_match(matcher, &facts, &verdict));
	software_matcher_free(matcher);
}

static void test_comm_truncated(void **state)
{
	struct software_verdict verdict;
	struct software_facts facts;
	struct software_matcher *matcher;
	struct test_policy test;

	policy_init(&test);
	deny(&test, "averyverylongminer");
	deny(&test, "builtin:flooders");
	matcher = matcher_of(&test);

	facts = exec_facts("averyverylongmi", NULL);
	assert_true(software_match(matcher, &facts, &verdict));
	assert_string_equal(verdict.reason, "name \"averyverylongminer\" is on the deny list");
	facts = exec_facts("AVERYVERYLONGMI", NULL);
	assert_true(software_match(matcher, &facts, &verdict));
	/* Shorter than 15: not a cut comm. */
	facts = exec_facts("averyverylongm", NULL);
	assert_false(software_match(matcher, &facts, &verdict));
	/* A basename is never cut. */
	facts = exec_facts("x", "/bin/averyverylongmi");
	assert_false(software_match(matcher, &facts, &verdict));
	/* Debian's thc-ipv6 name, as comm shows it. */
	facts = exec_facts("atk6-flood_rout", "/usr/bin/atk6-flood_router6");
	assert_true(software_match(matcher, &facts, &verdict));
	assert_string_equal(verdict.reason, "name \"atk6-flood_router6\" is in builtin:flooders");
	software_matcher_free(matcher);
}

static void test_benign_names(void **state)
{
	static const char *const benign[] = { "gcc", "cc1", "git", "python3", "make",
					      "ld", "as", "sh", "bash", "cc1plus" };
	struct software_verdict verdict;
	struct software_facts facts;
	struct software_matcher *matcher;
	struct test_policy test;
	char exe[64];
	size_t i;

	policy_init(&test);
	deny(&test, "builtin:miners");
	deny(&test, "builtin:scanners");
	deny(&test, "builtin:flooders");
	deny(&test, "builtin:tunnels");
	matcher = matcher_of(&test);
	for (i = 0; i < sizeof(benign) / sizeof(benign[0]); i++) {
		snprintf(exe, sizeof(exe), "/usr/bin/%s", benign[i]);
		facts = exec_facts(benign[i], exe);
		if (software_match(matcher, &facts, &verdict))
			fail_msg("%s: %s", benign[i], verdict.reason);
	}
	software_matcher_free(matcher);
}

static void test_sha256(void **state)
{
	struct software_verdict verdict;
	struct software_facts facts;
	struct software_matcher *matcher;
	struct test_policy test;

	policy_init(&test);
	test.deny_sha256[test.policy.deny_sha256_count++] = SHA_A;
	matcher = matcher_of(&test);
	assert_true(software_matcher_needs_sha256(matcher));

	facts = exec_facts("innocent", "/usr/bin/innocent");
	facts.sha256 = SHA_A;
	assert_true(software_match(matcher, &facts, &verdict));
	assert_int_equal(verdict.rule, SOFTWARE_RULE_SHA256);
	assert_string_equal(verdict.reason, "sha256 is on deny_sha256");
	facts.sha256 = SHA_B;
	assert_false(software_match(matcher, &facts, &verdict));
	facts.sha256 = NULL;
	assert_false(software_match(matcher, &facts, &verdict));
	software_matcher_free(matcher);

	policy_init(&test);
	test.allow_sha256[test.policy.allow_sha256_count++] = SHA_B;
	matcher = matcher_of(&test);
	assert_true(software_matcher_needs_sha256(matcher));
	software_matcher_free(matcher);
}

static void test_rule_order(void **state)
{
	struct software_verdict verdict;
	struct software_facts facts;
	struct software_matcher *matcher;
	struct test_policy test;

	policy_init(&test);
	deny(&test, "builtin:miners");
	test.deny_sha256[test.policy.deny_sha256_count++] = SHA_A;
	test.deny_paths[test.policy.deny_paths_count++] = "/tmp/*";
	matcher = matcher_of(&test);

	facts = exec_facts("xmrig", "/tmp/xmrig");
	facts.sha256 = SHA_A;
	facts.argv_markers = 1u << marker_bit("stratum+tcp://", false);
	assert_true(software_match(matcher, &facts, &verdict));
	assert_int_equal(verdict.rule, SOFTWARE_RULE_SHA256);
	facts.sha256 = SHA_B;
	assert_true(software_match(matcher, &facts, &verdict));
	assert_int_equal(verdict.rule, SOFTWARE_RULE_NAME);
	facts.comm = "renamed";
	facts.exe = "/tmp/renamed";
	assert_true(software_match(matcher, &facts, &verdict));
	assert_int_equal(verdict.rule, SOFTWARE_RULE_PATH);
	facts.exe = "/home/u/renamed";
	assert_true(software_match(matcher, &facts, &verdict));
	assert_int_equal(verdict.rule, SOFTWARE_RULE_ARGV);
	software_matcher_free(matcher);
}

static void test_allow_wins(void **state)
{
	struct software_verdict verdict;
	struct software_facts facts;
	struct software_matcher *matcher;
	struct test_policy test;

	policy_init(&test);
	deny(&test, "builtin:miners");
	test.deny_paths[test.policy.deny_paths_count++] = "/opt/*";
	test.deny_sha256[test.policy.deny_sha256_count++] = SHA_A;
	test.allow_sha256[test.policy.allow_sha256_count++] = SHA_A;
	matcher = matcher_of(&test);

	facts = exec_facts("xmrig", "/usr/bin/xmrig");
	facts.sha256 = SHA_A;
	assert_false(software_match(matcher, &facts, &verdict));
	facts = exec_facts("tool", "/opt/tool");
	facts.sha256 = SHA_A;
	assert_false(software_match(matcher, &facts, &verdict));
	facts = exec_facts("tool", "/usr/bin/tool");
	facts.sha256 = SHA_A;
	facts.argv_markers = 1u << marker_bit("--donate-level", false);
	assert_false(software_match(matcher, &facts, &verdict));
	/* Not allowed without its digest. */
	facts.sha256 = NULL;
	assert_true(software_match(matcher, &facts, &verdict));
	assert_int_equal(verdict.rule, SOFTWARE_RULE_ARGV);
	software_matcher_free(matcher);
}

static void test_paths(void **state)
{
	struct software_verdict verdict;
	struct software_facts facts;
	struct software_matcher *matcher;
	struct test_policy test;

	policy_init(&test);
	test.deny_paths[test.policy.deny_paths_count++] = "/tmp/*";
	test.deny_paths[test.policy.deny_paths_count++] = "memfd:*";
	matcher = matcher_of(&test);

	/* "*" crosses "/". */
	facts = exec_facts("run", "/tmp/a/b/run");
	assert_true(software_match(matcher, &facts, &verdict));
	assert_int_equal(verdict.rule, SOFTWARE_RULE_PATH);
	assert_string_equal(verdict.reason, "path matches deny_paths \"/tmp/*\"");
	facts = exec_facts("3", "memfd:payload");
	facts.flags = EXE_MEMFD;
	assert_true(software_match(matcher, &facts, &verdict));
	assert_string_equal(verdict.reason, "path matches deny_paths \"memfd:*\"");
	facts = exec_facts("run", "/var/tmp/run");
	assert_false(software_match(matcher, &facts, &verdict));
	facts = exec_facts("run", NULL);
	assert_false(software_match(matcher, &facts, &verdict));
	software_matcher_free(matcher);
}

static void test_argv_needs_builtin_miners(void **state)
{
	struct software_verdict verdict;
	struct software_facts facts;
	struct software_matcher *matcher;
	struct test_policy test;

	facts = exec_facts("worker", "/srv/worker");
	facts.argv_markers = 1u << marker_bit("stratum+tcp://", false);

	policy_init(&test);
	deny(&test, "builtin:scanners");
	deny(&test, "other");
	matcher = matcher_of(&test);
	assert_false(software_match(matcher, &facts, &verdict));
	software_matcher_free(matcher);

	policy_init(&test);
	deny(&test, "builtin:miners");
	matcher = matcher_of(&test);
	assert_true(software_match(matcher, &facts, &verdict));
	assert_int_equal(verdict.rule, SOFTWARE_RULE_ARGV);
	assert_string_equal(verdict.reason, "command line carries a miner marker (stratum+tcp://)");
	/* The reason names our marker, never the tenant's command line or path. */
	assert_null(strstr(verdict.reason, "/srv/worker"));
	facts.argv_markers = 0;
	assert_false(software_match(matcher, &facts, &verdict));
	software_matcher_free(matcher);
}

static void test_modprobe_marker(void **state)
{
	struct software_verdict verdict;
	struct software_facts facts;
	struct software_matcher *matcher;
	struct test_policy test;
	uint32_t msr = 1u << marker_bit("msr", true);

	policy_init(&test);
	deny(&test, "builtin:miners");
	matcher = matcher_of(&test);

	/* Debian: modprobe is a link to kmod. */
	facts = exec_facts("modprobe", "/usr/bin/kmod");
	facts.argv_markers = msr;
	assert_true(software_match(matcher, &facts, &verdict));
	assert_int_equal(verdict.rule, SOFTWARE_RULE_MINER_BEHAVIOR);
	assert_string_equal(verdict.reason, "ran modprobe msr");
	facts = exec_facts("kmod", "/sbin/insmod");
	facts.argv_markers = msr;
	assert_true(software_match(matcher, &facts, &verdict));
	/* "msr" as an argument of anything else is not a marker. */
	facts = exec_facts("grep", "/usr/bin/grep");
	facts.argv_markers = msr;
	assert_false(software_match(matcher, &facts, &verdict));
	software_matcher_free(matcher);

	policy_init(&test);
	deny(&test, "builtin:tunnels");
	matcher = matcher_of(&test);
	facts = exec_facts("modprobe", "/usr/bin/kmod");
	facts.argv_markers = msr;
	assert_false(software_match(matcher, &facts, &verdict));
	software_matcher_free(matcher);
}

static void test_miner_behavior(void **state)
{
	struct software_verdict verdict;
	struct software_facts facts;
	struct software_matcher *matcher;
	struct test_policy test;

	policy_init(&test);
	deny(&test, "builtin:miners");
	matcher = matcher_of(&test);

	facts = exec_facts("worker", "/srv/worker");
	facts.type = SOFTWARE_EVENT_MSR_WRITE;
	assert_true(software_match(matcher, &facts, &verdict));
	assert_int_equal(verdict.rule, SOFTWARE_RULE_MINER_BEHAVIOR);
	assert_string_equal(verdict.reason, "opened an MSR device (/dev/cpu/*/msr) for writing");
	facts.type = SOFTWARE_EVENT_HUGEPAGES;
	assert_true(software_match(matcher, &facts, &verdict));
	assert_int_equal(verdict.rule, SOFTWARE_RULE_MINER_BEHAVIOR);
	assert_non_null(strstr(verdict.reason, "vm.nr_hugepages"));
	facts.type = SOFTWARE_EVENT_EXEC;
	assert_false(software_match(matcher, &facts, &verdict));
	software_matcher_free(matcher);

	policy_init(&test);
	deny(&test, "xmrig");
	matcher = matcher_of(&test);
	facts.type = SOFTWARE_EVENT_MSR_WRITE;
	assert_false(software_match(matcher, &facts, &verdict));
	software_matcher_free(matcher);
}

static void test_empty_policy(void **state)
{
	struct software_facts facts = exec_facts("xmrig", "/usr/bin/xmrig");
	struct software_matcher *matcher;
	struct test_policy test;

	policy_init(&test);
	matcher = matcher_of(&test);
	facts.type = SOFTWARE_EVENT_MSR_WRITE;
	facts.argv_markers = UINT32_MAX;
	assert_false(software_match(matcher, &facts, NULL));
	software_matcher_free(matcher);
	software_matcher_free(NULL);
}

/* Tracker */

#define MAX_RESOLVED 8

struct resolved {
	size_t count;
	char tenant[MAX_RESOLVED][32];
	char exe[MAX_RESOLVED][64];
	char reason[MAX_RESOLVED][64];
	enum software_rule rule[MAX_RESOLVED];
	bool has_sha256[MAX_RESOLVED];
	int pid[MAX_RESOLVED];
	double since[MAX_RESOLVED];
};

static void record(const struct software_alert_info *info, void *ctx)
{
	struct resolved *resolved = ctx;
	size_t i = resolved->count++;

	if (i >= MAX_RESOLVED)
		return;
	snprintf(resolved->tenant[i], sizeof(resolved->tenant[i]), "%s", info->tenant);
	snprintf(resolved->exe[i], sizeof(resolved->exe[i]), "%s", info->exe);
	snprintf(resolved->reason[i], sizeof(resolved->reason[i]), "%s", info->reason);
	resolved->rule[i] = info->rule;
	resolved->has_sha256[i] = info->sha256 != NULL;
	resolved->pid[i] = info->pid;
	resolved->since[i] = info->since;
}

static struct software_alert_info alert_info(const char *tenant, enum software_rule rule,
					     const char *exe, int pid)
{
	return (struct software_alert_info){
		.tenant = tenant,
		.rule = rule,
		.exe = exe,
		.comm = "xmrig",
		.reason = "name \"xmrig\" is in builtin:miners",
		.pid = pid,
	};
}

static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (!pid) {
		pause();
		_exit(0);
	}
	return pid;
}

static void reap(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void test_tracker_suppresses(void **state)
{
	struct software_tracker *tracker = software_tracker_new();
	struct software_alert_info info = alert_info("t1", SOFTWARE_RULE_NAME, "/usr/bin/xmrig", 0);

	assert_non_null(tracker);
	assert_int_equal(software_tracker_note(tracker, &info, 10, 60), 1);
	assert_int_equal(software_tracker_note(tracker, &info, 11, 60), 0);
	assert_int_equal(software_tracker_note(tracker, &info, 12, 60), 0);
	assert_int_equal(software_tracker_suppressed(tracker), 2);
	assert_int_equal(software_tracker_count(tracker), 1);

	/* Another executable, rule or tenant is another alert. */
	info.exe = "/tmp/xmrig";
	assert_int_equal(software_tracker_note(tracker, &info, 12, 60), 1);
	info.rule = SOFTWARE_RULE_PATH;
	assert_int_equal(software_tracker_note(tracker, &info, 12, 60), 1);
	info.tenant = "t2";
	assert_int_equal(software_tracker_note(tracker, &info, 12, 60), 1);
	/* An unknown executable is a key of its own. */
	info.exe = NULL;
	assert_int_equal(software_tracker_note(tracker, &info, 12, 60), 1);
	assert_int_equal(software_tracker_note(tracker, &info, 13, 60), 0);
	assert_int_equal(software_tracker_count(tracker), 5);
	assert_int_equal(software_tracker_suppressed(tracker), 3);
	software_tracker_free(tracker);
	software_tracker_free(NULL);
}

static void test_tracker_resolves_after_window(void **state)
{
	struct software_tracker *tracker = software_tracker_new();
	struct software_alert_info info = alert_info("t1", SOFTWARE_RULE_NAME, "/usr/bin/xmrig", 0);
	struct resolved resolved = { 0 };

	info.sha256 = SHA_A;
	assert_int_equal(software_tracker_note(tracker, &info, 100, 60), 1);
	/* Evidence at 130 moves the window's start. */
	assert_int_equal(software_tracker_note(tracker, &info, 130, 60), 0);
	software_tracker_tick(tracker, 170, record, &resolved);
	assert_int_equal(resolved.count, 0);
	software_tracker_tick(tracker, 190, record, &resolved);
	assert_int_equal(resolved.count, 1);
	assert_string_equal(resolved.tenant[0], "t1");
	assert_string_equal(resolved.exe[0], "/usr/bin/xmrig");
	assert_string_equal(resolved.reason[0], "name \"xmrig\" is in builtin:miners");
	assert_int_equal(resolved.rule[0], SOFTWARE_RULE_NAME);
	assert_true(resolved.has_sha256[0]);
	assert_true(resolved.since[0] == 100);
	assert_int_equal(software_tracker_count(tracker), 0);

	/* Resolved: new evidence is a new alert, and unknown exe reads "". */
	info.exe = NULL;
	info.sha256 = NULL;
	assert_int_equal(software_tracker_note(tracker, &info, 200, 60), 1);
	software_tracker_tick(tracker, 260, record, &resolved);
	assert_int_equal(resolved.count, 2);
	assert_string_equal(resolved.exe[1], "");
	assert_false(resolved.has_sha256[1]);
	software_tracker_free(tracker);
}

static void test_tracker_waits_for_exit(void **state)
{
	struct software_tracker *tracker = software_tracker_new();
	struct software_alert_info info;
	struct resolved resolved = { 0 };
	pid_t first = spawn_sleeper(), second = spawn_sleeper();

	info = alert_info("t1", SOFTWARE_RULE_ARGV, "/srv/worker", first);
	assert_int_equal(software_tracker_note(tracker, &info, 0, 10), 1);
	software_tracker_tick(tracker, 100, record, &resolved);
	assert_int_equal(resolved.count, 0);

	/* New evidence: the process to outlive is now the second. */
	info.pid = second;
	assert_int_equal(software_tracker_note(tracker, &info, 100, 10), 0);
	reap(first);
	software_tracker_tick(tracker, 200, record, &resolved);
	assert_int_equal(resolved.count, 0);

	reap(second);
	software_tracker_tick(tracker, 200, record, &resolved);
	assert_int_equal(resolved.count, 1);
	assert_int_equal(resolved.pid[0], second);
	assert_int_equal(resolved.rule[0], SOFTWARE_RULE_ARGV);
	assert_int_equal(software_tracker_count(tracker), 0);
	software_tracker_free(tracker);
}

static void test_tracker_exited_process(void **state)
{
	struct software_tracker *tracker = software_tracker_new();
	struct software_alert_info info;
	struct resolved resolved = { 0 };
	pid_t pid = spawn_sleeper();

	/* Gone before it was noted: only the window holds it. */
	reap(pid);
	info = alert_info("t1", SOFTWARE_RULE_NAME, "/usr/bin/xmrig", pid);
	assert_int_equal(software_tracker_note(tracker, &info, 0, 10), 1);
	software_tracker_tick(tracker, 5, record, &resolved);
	assert_int_equal(resolved.count, 0);
	software_tracker_tick(tracker, 10, record, &resolved);
	assert_int_equal(resolved.count, 1);
	software_tracker_free(tracker);
}

static void test_tracker_caps(void **state)
{
	struct software_tracker *tracker = software_tracker_new();
	struct software_alert_info info = alert_info("t0", SOFTWARE_RULE_NAME, NULL, 0);
	char tenant[32], exe[32];
	size_t t, e;

	for (e = 0; e < SOFTWARE_TRACKER_MAX_PER_TENANT; e++) {
		snprintf(exe, sizeof(exe), "/bin/m%zu", e);
		info.exe = exe;
		assert_int_equal(software_tracker_note(tracker, &info, 0, 10), 1);
	}
	info.exe = "/bin/one-more";
	assert_int_equal(software_tracker_note(tracker, &info, 0, 10), 0);
	assert_int_equal(software_tracker_suppressed(tracker), 1);
	/* Others are not held back by one tenant's cap. */
	info.tenant = "t1";
	assert_int_equal(software_tracker_note(tracker, &info, 0, 10), 1);
	software_tracker_free(tracker);

	tracker = software_tracker_new();
	info.tenant = tenant;
	info.exe = exe;
	for (t = 0; t < SOFTWARE_TRACKER_MAX / SOFTWARE_TRACKER_MAX_PER_TENANT; t++) {
		snprintf(tenant, sizeof(tenant), "tenant%zu", t);
		for (e = 0; e < SOFTWARE_TRACKER_MAX_PER_TENANT; e++) {
			snprintf(exe, sizeof(exe), "/bin/m%zu", e);
			assert_int_equal(software_tracker_note(tracker, &info, 0, 10), 1);
		}
	}
	assert_int_equal(software_tracker_count(tracker), SOFTWARE_TRACKER_MAX);
	snprintf(tenant, sizeof(tenant), "newcomer");
	assert_int_equal(software_tracker_note(tracker, &info, 0, 10), 0);
	assert_int_equal(software_tracker_suppressed(tracker), 1);
	/* A firing key still counts its evidence. */
	snprintf(tenant, sizeof(tenant), "tenant0");
	snprintf(exe, sizeof(exe), "/bin/m0");
	assert_int_equal(software_tracker_note(tracker, &info, 1, 10), 0);
	assert_int_equal(software_tracker_suppressed(tracker), 2);
	/* Room again once alerts resolve. */
	software_tracker_tick(tracker, 10.5, NULL, NULL);
	assert_int_equal(software_tracker_count(tracker), 1);
	snprintf(tenant, sizeof(tenant), "newcomer");
	assert_int_equal(software_tracker_note(tracker, &info, 10.5, 10), 1);
	software_tracker_free(tracker);
}

static void test_tracker_forget(void **state)
{
	struct software_tracker *tracker = software_tracker_new();
	struct software_alert_info info = alert_info("t1", SOFTWARE_RULE_NAME, "/bin/a", 0);
	struct resolved resolved = { 0 };
	pid_t pid = spawn_sleeper();

	/* Forget resolves even while the process runs and the window is open. */
	info.pid = pid;
	assert_int_equal(software_tracker_note(tracker, &info, 0, 60), 1);
	info.exe = "/bin/b";
	assert_int_equal(software_tracker_note(tracker, &info, 0, 60), 1);
	info.tenant = "t2";
	assert_int_equal(software_tracker_note(tracker, &info, 0, 60), 1);
	software_tracker_forget(tracker, "t1", record, &resolved);
	assert_int_equal(resolved.count, 2);
	assert_string_equal(resolved.tenant[0], "t1");
	assert_string_equal(resolved.tenant[1], "t1");
	assert_int_equal(software_tracker_count(tracker), 1);
	software_tracker_forget(tracker, "nobody", record, &resolved);
	assert_int_equal(resolved.count, 2);
	/* Gone and forgotten: a new alert. */
	info.tenant = "t1";
	assert_int_equal(software_tracker_note(tracker, &info, 1, 60), 1);
	software_tracker_free(tracker);
	reap(pid);
}

/* A state file of one alert whose one process is @pid, said to have started at @start_ticks. */
static void write_state(const char *path, int pid, unsigned long long start_ticks,
			const char *boot_id)
{
	FILE *file = fopen(path, "w");

	assert_non_null(file);
	fprintf(file,
		"{\"version\": 1, \"saved_at\": 5000, \"boot_id\": \"%s\", \"alerts\": [{"
		"\"tenant\": \"t3\", \"plan\": \"p\", \"cgroup\": \"/t3\", \"rule\": \"name\", "
		"\"exe\": \"/bin/xmrig\", \"comm\": \"xmrig\", \"reason\": \"r\", "
		"\"action\": \"kill\", \"pid\": %d, \"window_s\": 10, \"since\": 4000, "
		"\"last_evidence\": 4000, \"processes\": [{\"pid\": %d, \"start_ticks\": %llu}]}]}\n",
		boot_id, pid, pid, start_ticks);
	fclose(file);
}

static void read_boot(char *out, size_t size)
{
	FILE *file = fopen("/proc/sys/kernel/random/boot_id", "r");

	assert_non_null(file);
	assert_non_null(fgets(out, (int)size, file));
	out[strcspn(out, "\n")] = '\0';
	fclose(file);
}

static void test_tracker_state(void **state)
{
	struct software_tracker *tracker = software_tracker_new(), *again = software_tracker_new();
	struct software_alert_info info = alert_info("t1", SOFTWARE_RULE_NAME, "/bin/xmrig", 0);
	struct resolved resolved = { 0 };
	pid_t running = spawn_sleeper(), quitting = spawn_sleeper();
	char dir[] = "/tmp/aw-tracker.XXXXXX", path[64], boot[64];
	unsigned long long ticks;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/firing-software.json", dir);
	assert_int_equal(software_tracker_load(tracker, path, 5000, 200), -ENOENT);
	assert_false(software_tracker_changed(tracker));

	/* Two alerts, saved at 200 (wall 5000), one fired at 100 and seen again at 150. */
	info.pid = running;
	info.sha256 = SHA_A;
	info.action = "freeze";
	assert_int_equal(software_tracker_note(tracker, &info, 100, 60), 1);
	assert_true(software_tracker_changed(tracker));
	assert_int_equal(software_tracker_note(tracker, &info, 150, 60), 0);
	info = alert_info("t2", SOFTWARE_RULE_ARGV, "/srv/worker", quitting);
	assert_int_equal(software_tracker_note(tracker, &info, 150, 60), 1);
	assert_int_equal(software_tracker_save(tracker, path, 5000, 200, NULL), 0);
	assert_false(software_tracker_changed(tracker));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* One process exits while no tracker runs; the next run starts at 1000 (wall 5100). */
	reap(quitting);
	assert_int_equal(software_tracker_load(again, path, 5100, 1000), 0);
	assert_int_equal(software_tracker_count(again), 2);
	assert_false(software_tracker_changed(again));
	software_tracker_tick(again, 1000, record, &resolved);
	assert_int_equal(resolved.count, 1);
	assert_string_equal(resolved.tenant[0], "t2");
	assert_int_equal(resolved.pid[0], quitting);
	assert_true(resolved.since[0] == 850);
	/* The other waits for its process; evidence for it joins it. */
	info = alert_info("t1", SOFTWARE_RULE_NAME, "/bin/xmrig", 0);
	assert_int_equal(software_tracker_note(again, &info, 1001, 60), 0);
	software_tracker_tick(again, 1100, record, &resolved);
	assert_int_equal(resolved.count, 1);
	reap(running);
	software_tracker_tick(again, 1100, record, &resolved);
	assert_int_equal(resolved.count, 2);
	assert_string_equal(resolved.tenant[1], "t1");
	assert_true(resolved.has_sha256[1]);
	assert_true(resolved.since[1] == 800);
	assert_true(software_tracker_changed(again));
	software_tracker_free(again);

	/* A pid that names another process now (another start), or one of another boot: gone. */
	read_boot(boot, sizeof(boot));
	ticks = software_process_start_ticks(getpid());
	assert_true(ticks > 0);
	write_state(path, getpid(), ticks + 1, boot);
	again = software_tracker_new();
	assert_int_equal(software_tracker_load(again, path, 5100, 1000), 0);
	software_tracker_tick(again, 1000, record, &resolved);
	assert_int_equal(resolved.count, 3);
	software_tracker_free(again);
	write_state(path, getpid(), ticks, "another-boot");
	again = software_tracker_new();
	assert_int_equal(software_tracker_load(again, path, 5100, 1000), 0);
	software_tracker_tick(again, 1000, record, &resolved);
	assert_int_equal(resolved.count, 4);
	software_tracker_free(again);
	/* The same process: it goes on firing. */
	write_state(path, getpid(), ticks, boot);
	again = software_tracker_new();
	assert_int_equal(software_tracker_load(again, path, 5100, 1000), 0);
	software_tracker_tick(again, 1000, record, &resolved);
	assert_int_equal(resolved.count, 4);
	assert_int_equal(software_tracker_count(again), 1);
	software_tracker_free(again);

	/* Not a state file: refused, nothing taken. */
	write_state(path, getpid(), ticks, boot);
	assert_int_equal(truncate(path, 40), 0);
	again = software_tracker_new();
	assert_int_equal(software_tracker_load(again, path, 5100, 1000), -EINVAL);
	assert_int_equal(software_tracker_count(again), 0);
	software_tracker_free(again);
	software_tracker_free(tracker);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rule_names),
	    cmocka_unit_test(test_builtin_sets),
	    cmocka_unit_test(test_builtin_sets_spare_build_tools),
	    cmocka_unit_test(test_markers),
	    cmocka_unit_test(test_argv_filter_windows),
	    cmocka_unit_test(test_argv_filter_search),
	    cmocka_unit_test(test_argv_filter_short_markers),
	    cmocka_unit_test(test_exec_interest),
	    cmocka_unit_test(test_name_by_comm_and_basename),
	    cmocka_unit_test(test_comm_truncated),
	    cmocka_unit_test(test_benign_names),
	    cmocka_unit_test(test_sha256),
	    cmocka_unit_test(test_rule_order),
	    cmocka_unit_test(test_allow_wins),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_argv_needs_builtin_miners),
	    cmocka_unit_test(test_modprobe_marker),
	    cmocka_unit_test(test_miner_behavior),
	    cmocka_unit_test(test_empty_policy),
	    cmocka_unit_test(test_tracker_suppresses),
	    cmocka_unit_test(test_tracker_resolves_after_window),
	    cmocka_unit_test(test_tracker_waits_for_exit),
	    cmocka_unit_test(test_tracker_exited_process),
	    cmocka_unit_test(test_tracker_caps),
	    cmocka_unit_test(test_tracker_forget),
	    cmocka_unit_test(test_tracker_state),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
