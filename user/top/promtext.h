/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A reader of the Prometheus text format, as much of it as a textfile holds:
 * one sample a line, "NAME{LABEL="VALUE",...} VALUE [TIMESTAMP]", comments
 * and blank lines skipped. Label values are unescaped (\\, \", \n). It is
 * how `abusewatch top` reads what the agent wrote, so that top needs the
 * file only, never the agent's memory.
 */
#ifndef ABUSEWATCH_PROMTEXT_H
#define ABUSEWATCH_PROMTEXT_H

#include <stddef.h>

/* More labels than any family of the agent has (tenant, plan, resource). */
#define PROMTEXT_LABELS_MAX 8

struct promtext_label {
	const char *name;
	const char *value;	/* unescaped */
};

struct promtext_sample {
	const char *name;
	struct promtext_label labels[PROMTEXT_LABELS_MAX];
	size_t label_count;
	double value;		/* NaN, +Inf and -Inf included */
};

/*
 * Called for each sample; the strings live until it returns. A non-zero
 * return stops the reading and is what promtext_parse() returns.
 */
typedef int (*promtext_sample_fn)(const struct promtext_sample *sample, void *ctx);

/* The label @name of @sample, or NULL. */
const char *promtext_label(const struct promtext_sample *sample, const char *name);

/*
 * Reads the @length bytes at @text, calling @on_sample for each sample.
 * A line that is not a sample is skipped and counted in *@bad_lines
 * (unless NULL). 0, the callback's non-zero return, or -ENOMEM.
 */
int promtext_parse(const char *text, size_t length, promtext_sample_fn on_sample, void *ctx,
		   size_t *bad_lines);

#endif
