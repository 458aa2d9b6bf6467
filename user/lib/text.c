// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

int text_replace(char **field, const char *text)
{
	char *copy;

	if (!text)
		text = "";
	if (*field && !strcmp(*field, text))
		return 0;
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

size_t text_utf8_sequence(const char *text, size_t *invalid)
{
	const unsigned char *s = (const unsigned char *)text;
	unsigned char lead = s[0], low = 0x80, high = 0xbf;
	size_t need, i;

	if (lead < 0x80)
		return 1;
	if (lead >= 0xc2 && lead <= 0xdf) {
		need = 2;
	} else if (lead >= 0xe0 && lead <= 0xef) {
		need = 3;
		if (lead == 0xe0)
			low = 0xa0; /* shorter forms are overlong */
		else if (lead == 0xed)
			high = 0x9f; /* U+D800..U+DFFF are surrogates */
	} else if (lead >= 0xf0 && lead <= 0xf4) {
		need = 4;
		if (lead == 0xf0)
			low = 0x90;
		else if (lead == 0xf4)
			high = 0x8f; /* above U+10FFFF */
	} else {
		*invalid = 1;
		return 0;
	}
	for (i = 1; i < need; i++) {
		/* The NUL terminator is never a continuation byte, so this stops at the end. */
		if (s[i] < low || s[i] > high) {
			*invalid = i;
			return 0;
		}
		low = 0x80;
		high = 0xbf;
	}
	return need;
}

char *text_utf8_copy(const char *text, size_t *length)
{
	static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
	size_t size = strlen(text), used = 0, step, invalid = 0;
	/* A U+FFFD (3 bytes) stands for at least one byte. */
	char *copy = malloc(size * 3 + 1);

	if (!copy) {
		errno = ENOMEM;
		return NULL;
	}
	while (*text) {
		step = text_utf8_sequence(text, &invalid);
		if (step) {
			memcpy(copy + used, text, step);
			used += step;
		} else {
			memcpy(copy + used, replacement, sizeof(replacement) - 1);
			used += sizeof(replacement) - 1;
			step = invalid;
		}
		text += step;
	}
	copy[used] = '\0';
	*length = used;
	return copy;
}

bool text_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

bool text_next_line(const char **cursor, const char *end, const char **line,
		    const char **line_end)
{
	const char *start = *cursor, *stop;

	if (start >= end)
		return false;
	stop = memchr(start, '\n', (size_t)(end - start));
	if (!stop)
		stop = end;
	*cursor = stop < end ? stop + 1 : end;
	while (start < stop && text_is_blank(*start))
		start++;
	while (stop > start && text_is_blank(stop[-1]))
		stop--;
	*line = start;
	*line_end = stop;
	return true;
}

bool text_line_has_content(const char *line, const char *line_end)
{
	return line < line_end && *line != '#';
}
