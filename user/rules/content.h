/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Executables judged by their content: YARA rules (libyara) compiled from
 * the built-in rule sets that the software policies deny (builtin:miners,
 * builtin:scanners: the .yar files of data/software) and from each policy's operator
 * rule files (software.<policy>.yara), and the scan of one open file with
 * them.
 *
 * Each source is compiled in its own YARA namespace named after it
 * ("builtin:miners", or the file's path), so one scan serves every policy:
 * a policy counts only the matches of its own sources (software.h).
 *
 * Only the names of the matched rules leave the scanner: never a matched
 * string, offset or byte of the file. Bounded: files over
 * CONTENT_SCAN_MAX_BYTES are not scanned, a scan stops after
 * CONTENT_SCAN_TIMEOUT_S seconds, and at most CONTENT_MATCHES_MAX matches
 * are kept.
 */
#ifndef ABUSEWATCH_CONTENT_H
#define ABUSEWATCH_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define CONTENT_SCAN_MAX_BYTES (128ULL * 1024 * 1024)
#define CONTENT_SCAN_TIMEOUT_S 10
#define CONTENT_MATCHES_MAX 3
#define CONTENT_RULE_NAME_MAX 48
#define CONTENT_SOURCES_MAX 64

enum content_state {
	CONTENT_NOT_SCANNED,	/* no rules, or the file was not read */
	CONTENT_SCANNED,	/* matches[] holds what matched (maybe nothing) */
	CONTENT_TOO_LARGE,	/* over CONTENT_SCAN_MAX_BYTES: not scanned */
	CONTENT_FAILED,		/* timeout or libyara error: what matched before is kept */
};

struct content_match {
	uint16_t source;			/* content_rules_source() index */
	char rule[CONTENT_RULE_NAME_MAX];	/* the rule's identifier, cut to fit */
};

struct content_result {
	uint32_t generation;	/* of the rules that scanned it */
	uint8_t state;		/* enum content_state */
	uint8_t count;
	struct content_match matches[CONTENT_MATCHES_MAX];
};

struct content_rules;

/*
 * The built-in YARA rules of set @set ("miners", "scanners"), or NULL
 * (with *length 0) when the set has none.
 */
const char *content_builtin_rules(const char *set, size_t *length);

/*
 * Compiles @path alone (operator rule file), after the file checks of any
 * file the configuration names (files_check_trusted). 0, or -errno with
 * @why holding "PATH:LINE: message" (the first error libyara reported).
 */
int content_check_file(const char *path, char *why, size_t why_size);

/*
 * Compiles the built-in sets with rules that some policy of @config denies
 * and every policy's rule files, under generation @generation (not 0; 0
 * when there is no source at all). NULL with
 * errno set and @why saying which file and line on failure; a
 * configuration with no rules at all gives rules that match nothing
 * (content_rules_empty()).
 */
struct content_rules *content_rules_new(const struct config *config, uint32_t generation,
					char *why, size_t why_size);
bool content_rules_empty(const struct content_rules *rules);
uint32_t content_rules_generation(const struct content_rules *rules);
/* "builtin:miners" or an operator file's path; NULL beyond the last source. */
const char *content_rules_source(const struct content_rules *rules, unsigned int index);

/* References: the scanner's thread holds one while it scans. NULL-safe. */
struct content_rules *content_rules_get(struct content_rules *rules);
void content_rules_put(struct content_rules *rules);

/*
 * Scans the open regular file @fd of @size bytes into @result (which it
 * fills whole). Any thread. Returns 0, or -errno when the scan failed
 * (result state CONTENT_FAILED; -ETIMEDOUT for the time limit).
 */
int content_rules_scan(struct content_rules *rules, int fd, uint64_t size,
		       struct content_result *result);

#endif
