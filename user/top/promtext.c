// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "promtext.h"

static bool is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Copies the name at *@p into @out (NUL-terminated); false if there is none. */
static bool read_name(const char **p, const char *end, char **out)
{
	const char *start = *p;

	if (start >= end || !is_name_start(*start))
		return false;
	while (*p < end && is_name_char(**p))
		(*p)++;
	memcpy(*out, start, *p - start);
	*out += *p - start;
	*(*out)++ = '\0';
	return true;
}

/* Unescapes the quoted value at *@p (after its opening quote) into @out. */
static bool read_label_value(const char **p, const char *end, char **out)
{
	while (*p < end && **p != '"') {
		char c = *(*p)++;

		if (c == '\\') {
			if (*p >= end)
				return false;
			c = *(*p)++;
			if (c == 'n')
				c = '\n';
			else if (c != '\\' && c != '"')
				return false;
		}
		*(*out)++ = c;
	}
	if (*p >= end)
		return false;
	(*p)++;
	*(*out)++ = '\0';
	return true;
}

static bool read_value(const char **p, const char *end, double *value)
{
	char number[64], *number_end;
	size_t length = 0;

	while (*p + length < end && (*p)[length] != ' ' && (*p)[length] != '\t')
		length++;
	if (!length || length >= sizeof(number))
		return false;
	memcpy(number, *p, length);
	number[length] = '\0';
	/* strtod reads "NaN", "+Inf" and "-Inf" in any case, as the format has them. */
	*value = strtod(number, &number_end);
	if (*number_end)
		return false;
	*p += length;
	return true;
}

/*
 * One line [@p, @end) into @sample, its strings in @scratch (room for the
 * line's length plus a NUL a string). False if it is not a sample.
 */
static bool parse_line(const char *p, const char *end, char *scratch,
		       struct promtext_sample *sample)
{
	char *out = scratch;

	sample->label_count = 0;
	sample->name = out;
	if (!read_name(&p, end, &out))
		return false;
	/* Blanks may come before the labels, and must come before the value. */
	if (skip_blanks(p, end) < end && *skip_blanks(p, end) == '{') {
		p = skip_blanks(p, end) + 1;
		for (;;) {
			struct promtext_label *label;

			p = skip_blanks(p, end);
			if (p < end && *p == '}')
				break;
			if (sample->label_count == PROMTEXT_LABELS_MAX)
				return false;
			label = &sample->labels[sample->label_count++];
			label->name = out;
			if (!read_name(&p, end, &out))
				return false;
			p = skip_blanks(p, end);
			if (p >= end || *p++ != '=')
				return false;
			p = skip_blanks(p, end);
			if (p >= end || *p++ != '"')
				return false;
			label->value = out;
			if (!read_label_value(&p, end, &out))
				return false;
			p = skip_blanks(p, end);
			if (p < end && *p == ',') {
				p++;
				continue;
			}
			if (p >= end || *p != '}')
				return false;
			break;
		}
		p++;
	}
	if (p >= end || (*p != ' ' && *p != '\t'))
		return false;
	p = skip_blanks(p, end);
	if (!read_value(&p, end, &sample->value))
		return false;
	/* An optional timestamp (the agent writes none), then nothing. */
	p = skip_blanks(p, end);
	if (p < end) {
		double timestamp;

		if (!read_value(&p, end, &timestamp))
			return false;
		p = skip_blanks(p, end);
	}
	return p == end;
}

const char *promtext_label(const struct promtext_sample *sample, const char *name)
{
	size_t i;

	for (i = 0; i < sample->label_count; i++) {
		if (!strcmp(sample->labels[i].name, name))
			return sample->labels[i].value;
	}
	return NULL;
}

int promtext_parse(const char *text, size_t length, promtext_sample_fn on_sample, void *ctx,
		   size_t *bad_lines)
{
	const char *line = text, *end = text + length;
	struct promtext_sample sample;
	size_t scratch_size = 0, bad = 0;
	char *scratch = NULL;
	int err = 0;

	while (line < end) {
		const char *line_end = memchr(line, '\n', end - line);
		const char *content;
		size_t need;

		if (!line_end)
			line_end = end;
		content = skip_blanks(line, line_end);
		if (line_end > content && line_end[-1] == '\r')
			line_end--;
		if (content == line_end || *content == '#')
			goto next;
		/* Each string of the line is at most the line, plus its NUL. */
		need = 2 * (size_t)(line_end - content) + 2 * PROMTEXT_LABELS_MAX + 2;
		if (need > scratch_size) {
			char *bigger = realloc(scratch, need);

			if (!bigger) {
				err = -ENOMEM;
				goto cleanup;
			}
			scratch = bigger;
			scratch_size = need;
		}
		if (!parse_line(content, line_end, scratch, &sample)) {
			bad++;
			goto next;
		}
		err = on_sample(&sample, ctx);
		if (err)
			goto cleanup;
next:
		line = memchr(line, '\n', end - line);
		line = line ? line + 1 : end;
	}
cleanup:
	free(scratch);
	if (bad_lines)
		*bad_lines = bad;
	return err;
}
