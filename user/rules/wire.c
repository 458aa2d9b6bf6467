// SPDX-License-Identifier: GPL-2.0
/*
 * The built-in data of the wire rules (wire.h), parsed from the .txt files
 * of data/network that network_data.S compiles in, and the meaning of the
 * egress probe's events.
 *
 * The data is ours, so a malformed line is a bug: it is logged and
 * skipped rather than failing the agent, and a unit test checks that
 * every shipped line parses.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "software_builtin.h"
#include "text.h"
#include "wire.h"

/* Embedded by user/rules/network_data.S. */
extern const char network_stratum_markers_txt[], network_stratum_markers_txt_end[];
extern const char network_pool_domains_txt[], network_pool_domains_txt_end[];

static struct wire_marker builtin_markers[AW_ARGV_MARKERS_MAX];
static size_t builtin_marker_count;
static char **builtin_domains;
static size_t builtin_domain_count;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

/* The next word of [*cursor, end) and the blanks after it; NULL when none. */
static const char *next_word(const char **cursor, const char *end, size_t *length)
{
	const char *word = *cursor, *stop = word;

	while (stop < end && !text_is_blank(*stop))
		stop++;
	if (stop == word)
		return NULL;
	*length = (size_t)(stop - word);
	while (stop < end && text_is_blank(*stop))
		stop++;
	*cursor = stop;
	return word;
}

/* One "method METHOD TEXT" or "with METHOD TEXT" line into @marker. */
static bool parse_marker(const char *line, const char *line_end, struct wire_marker *marker)
{
	const char *cursor = line, *keyword, *method;
	size_t keyword_length, method_length, i;

	keyword = next_word(&cursor, line_end, &keyword_length);
	method = keyword ? next_word(&cursor, line_end, &method_length) : NULL;
	if (!method || cursor == line_end || method_length >= sizeof(marker->method))
		return false;
	if (keyword_length == 6 && !memcmp(keyword, "method", 6))
		marker->with = false;
	else if (keyword_length == 4 && !memcmp(keyword, "with", 4))
		marker->with = true;
	else
		return false;
	for (i = 0; i < method_length; i++)
		if (method[i] <= ' ' || method[i] > '~')
			return false;
	memcpy(marker->method, method, method_length);
	marker->method[method_length] = '\0';
	marker->len = software_unescape_marker(cursor, line_end, marker->text);
	return marker->len != 0;
}

size_t wire_parse_markers(const char *text, size_t length, struct wire_marker *out, size_t max)
{
	const char *cursor = text, *end = text + length, *line, *line_end;
	struct wire_marker marker;
	int line_number = 0;
	size_t count = 0;

	while (text_next_line(&cursor, end, &line, &line_end)) {
		line_number++;
		if (!text_line_has_content(line, line_end))
			continue;
		memset(&marker, 0, sizeof(marker));
		if (!parse_marker(line, line_end, &marker)) {
			pr_warn("wire: stratum_markers.txt:%d: not \"method METHOD TEXT\" or "
				"\"with METHOD TEXT\" (TEXT %d to %d bytes), skipped",
				line_number, AW_ARGV_MARKER_MIN, AW_ARGV_MARKER_LEN - 1);
			continue;
		}
		if (count == max) {
			pr_warn("wire: stratum_markers.txt:%d: more than %zu markers, skipped",
				line_number, max);
			continue;
		}
		out[count++] = marker;
	}
	return count;
}

bool wire_valid_domain(const char *name, size_t length)
{
	size_t i, labels = 1, label_length = 0;

	if (!length || length > AW_POOL_SUFFIX_MAX)
		return false;
	for (i = 0; i < length; i++) {
		char c = name[i];

		if (c == '.') {
			if (!label_length)
				return false;
			labels++;
			label_length = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
		label_length++;
	}
	return label_length && labels >= 2 && labels <= AW_POOL_SUFFIX_LABELS;
}

static bool has_domain(char *const *domains, size_t count, const char *name)
{
	size_t i;

	/* Loaded once from a short file: quadratic is fine here. */
	for (i = 0; i < count; i++)
		if (!strcmp(domains[i], name))
			return true;
	return false;
}

int wire_parse_domains(const char *text, size_t length, char ***domains, size_t *count)
{
	const char *cursor = text, *end = text + length, *line, *line_end;
	size_t lines = 0, found = 0, line_length;
	int line_number = 0;
	char **list, *strings;

	*domains = NULL;
	*count = 0;
	while (text_next_line(&cursor, end, &line, &line_end))
		lines++;
	/* The pointers, then the strings: one block, one free(). */
	list = malloc((lines + 1) * sizeof(*list) + length + 1);
	if (!list)
		return -ENOMEM;
	strings = (char *)(list + lines + 1);
	cursor = text;
	while (text_next_line(&cursor, end, &line, &line_end)) {
		line_number++;
		if (!text_line_has_content(line, line_end))
			continue;
		line_length = (size_t)(line_end - line);
		if (!wire_valid_domain(line, line_length)) {
			pr_warn("wire: pool_domains.txt:%d: not a lowercase domain of 2 to %d "
				"labels and at most %d bytes, skipped",
				line_number, AW_POOL_SUFFIX_LABELS, AW_POOL_SUFFIX_MAX);
			continue;
		}
		memcpy(strings, line, line_length);
		strings[line_length] = '\0';
		if (has_domain(list, found, strings)) {
			pr_warn("wire: pool_domains.txt:%d: \"%s\" again, skipped", line_number,
				strings);
			continue;
		}
		if (found == AW_POOL_SUFFIXES_MAX) {
			pr_warn("wire: pool_domains.txt:%d: more than %d domains, skipped",
				line_number, AW_POOL_SUFFIXES_MAX);
			continue;
		}
		list[found++] = strings;
		strings += line_length + 1;
	}
	list[found] = NULL;
	*domains = list;
	*count = found;
	return 0;
}

static void load_builtin(void)
{
	builtin_marker_count = wire_parse_markers(
		network_stratum_markers_txt,
		(size_t)(network_stratum_markers_txt_end - network_stratum_markers_txt),
		builtin_markers, AW_ARGV_MARKERS_MAX);
	if (wire_parse_domains(network_pool_domains_txt,
			       (size_t)(network_pool_domains_txt_end - network_pool_domains_txt),
			       &builtin_domains, &builtin_domain_count))
		pr_err("wire: out of memory loading the pool domains: rule pool_domain is off");
}

const struct wire_marker *wire_stratum_markers(size_t *count)
{
	pthread_once(&builtin_once, load_builtin);
	*count = builtin_marker_count;
	return builtin_markers;
}

const char *const *wire_pool_domains(size_t *count)
{
	static const char *const none[1];

	pthread_once(&builtin_once, load_builtin);
	*count = builtin_domain_count;
	return builtin_domains ? (const char *const *)builtin_domains : none;
}

int wire_stratum_filter(const struct wire_marker *markers, size_t count,
			struct argv_filter *filter, __u32 *methods)
{
	struct argv_marker list[AW_ARGV_MARKERS_MAX];
	size_t i;

	if (count > AW_ARGV_MARKERS_MAX)
		return -E2BIG;
	memset(list, 0, sizeof(list));
	*methods = 0;
	for (i = 0; i < count; i++) {
		list[i].len = (__u32)markers[i].len;
		memcpy(list[i].text, markers[i].text, markers[i].len);
		if (!markers[i].with)
			*methods |= 1U << i;
	}
	return software_argv_filter(list, count, false, filter);
}

__u64 wire_label_hash(__u64 hash, const char *label, size_t length)
{
	__u64 word = 0;
	size_t at, bytes;

	if (length < AW_SUFFIX_SHORT_LABEL) {
		memcpy(&word, label, length);
		return aw_suffix_hash_short(hash, aw_le64(word), (__u32)length);
	}
	hash = aw_suffix_hash_len(hash, (__u32)length);
	for (at = 0; at < length; at += 8) {
		bytes = length - at < 8 ? length - at : 8;
		word = 0;
		memcpy(&word, label + at, bytes);
		hash = aw_suffix_hash_word(hash, aw_le64(word), (__u32)(length - at));
	}
	return hash;
}

void wire_suffix_key(const char *suffix, struct pool_suffix_key *key)
{
	size_t length = strlen(suffix), start, end = length;
	__u64 hash = AW_SUFFIX_HASH_START;

	/* Label by label from the last, as the probe reads a name. */
	for (;;) {
		for (start = end; start > 0 && suffix[start - 1] != '.'; start--)
			;
		hash = wire_label_hash(hash, suffix + start, end - start);
		if (!start)
			break;
		end = start - 1;
	}
	memset(key, 0, sizeof(*key));
	key->hash = hash;
	key->len = (__u32)length;
}

/* Where the last two labels of @suffix begin (all of it when it has two or one). */
static const char *last_two_labels(const char *suffix)
{
	const char *dot = strrchr(suffix, '.'), *start = suffix, *p;

	if (!dot)
		return suffix;
	for (p = suffix; p < dot; p++)
		if (*p == '.')
			start = p + 1;
	return start;
}

static void set_suffix_bit(__u64 bits[AW_POOL_SUFFIX_BITS / 64], const char *suffix)
{
	struct pool_suffix_key key;
	__u32 bit;

	wire_suffix_key(suffix, &key);
	bit = aw_suffix_bit(key.hash, key.len);
	bits[bit >> 6] |= 1ULL << (bit & 63);
}

void wire_suffix_bits(const char *const *suffixes, size_t count,
		      __u64 bits[AW_POOL_SUFFIX_BITS / 64])
{
	size_t i;

	memset(bits, 0, AW_POOL_SUFFIX_BITS / 8);
	for (i = 0; i < count; i++) {
		/*
		 * The probe looks a name up only past the bit of its last two
		 * labels: a suffix of one label (wire_valid_domain() keeps
		 * them out of the list) would never be found.
		 */
		if (!strchr(suffixes[i], '.'))
			pr_warn("wire: pool domain \"%s\" has one label: never matched",
				suffixes[i]);
		set_suffix_bit(bits, suffixes[i]);
		set_suffix_bit(bits, last_two_labels(suffixes[i]));
	}
}

bool wire_dns_tail_bits(const char *const *suffixes, size_t count,
			__u64 bits[AW_DNS_TAIL_BITS / 64])
{
	char wire[AW_POOL_SUFFIX_MAX + 1];
	const char *label, *dot;
	size_t i, length, label_length;
	bool short_suffix = false;
	__u64 word;
	__u32 bit;

	memset(bits, 0, AW_DNS_TAIL_BITS / 8);
	for (i = 0; i < count; i++) {
		/* "pool.example" as the probe reads it: "\x04pool\x07example". */
		length = 0;
		for (label = suffixes[i];; label = dot + 1) {
			dot = strchr(label, '.');
			label_length = dot ? (size_t)(dot - label) : strlen(label);
			if (length + 1 + label_length > sizeof(wire))
				break;	/* longer than any listed (wire_valid_domain()) */
			wire[length++] = (char)label_length;
			memcpy(wire + length, label, label_length);
			length += label_length;
			if (!dot)
				break;
		}
		if (length < AW_DNS_TAIL_LEN) {
			short_suffix = true;
			continue;
		}
		memcpy(&word, wire + length - AW_DNS_TAIL_LEN, sizeof(word));
		bit = aw_dns_tail_bit(aw_le64(word));
		bits[bit >> 6] |= 1ULL << (bit & 63);
	}
	return short_suffix;
}

/* The method of the first method marker found whose "with" markers (if any) were found too. */
static const char *stratum_method(__u32 found, const struct wire_marker *markers, size_t count)
{
	bool needs_with, has_with;
	size_t i, j;

	for (i = 0; i < count && i < AW_ARGV_MARKERS_MAX; i++) {
		if (markers[i].with || !(found & (1U << i)))
			continue;
		needs_with = has_with = false;
		for (j = 0; j < count && j < AW_ARGV_MARKERS_MAX; j++) {
			if (!markers[j].with || strcmp(markers[j].method, markers[i].method))
				continue;
			needs_with = true;
			has_with |= (found & (1U << j)) != 0;
		}
		if (!needs_with || has_with)
			return markers[i].method;
	}
	return NULL;
}

static const char *where_name(__u16 where)
{
	switch (where) {
	case WIRE_IN_DNS:
		return "a DNS query";
	case WIRE_IN_TLS:
		return "a TLS server name";
	default:
		return "a connection's first bytes";
	}
}

bool wire_verdict_with(const struct wire_event *event, const struct wire_marker *markers,
		       size_t marker_count, const char *const *domains, size_t domain_count,
		       enum software_rule *rule, char *reason, size_t size)
{
	const char *method;

	switch (event->rule) {
	case WIRE_RULE_STRATUM:
		method = stratum_method(event->found, markers, marker_count);
		if (!method)
			return false;
		*rule = SOFTWARE_RULE_STRATUM;
		snprintf(reason, size, "stratum %s sent to port %u", method,
			 (unsigned int)event->dst_port);
		return true;
	case WIRE_RULE_POOL_DOMAIN:
		if (event->found >= domain_count)
			return false;
		*rule = SOFTWARE_RULE_POOL_DOMAIN;
		snprintf(reason, size, "mining pool domain %s in %s", domains[event->found],
			 where_name(event->where));
		return true;
	default:
		return false;
	}
}

bool wire_verdict(const struct wire_event *event, enum software_rule *rule, char *reason,
		  size_t size)
{
	const struct wire_marker *markers;
	const char *const *domains;
	size_t marker_count, domain_count;

	markers = wire_stratum_markers(&marker_count);
	domains = wire_pool_domains(&domain_count);
	return wire_verdict_with(event, markers, marker_count, domains, domain_count, rule, reason,
				 size);
}
