/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The unit tests' own count of the entries of an embedded data file
 * (data/software/, data/network/), written apart from the loaders'
 * reader (lib/text.h) so that a test of a loader checks it against
 * something else.
 */
#ifndef ABUSEWATCH_DATA_LINES_H
#define ABUSEWATCH_DATA_LINES_H

#include <stddef.h>
#include <string.h>

/* Lines that are neither blank nor comments: what the loader must keep. */
static inline size_t content_lines(const char *start, const char *end)
{
	size_t count = 0;

	while (start < end) {
		const char *stop = memchr(start, '\n', (size_t)(end - start));
		const char *line = start;

		if (!stop)
			stop = end;
		while (line < stop && (*line == ' ' || *line == '\t' || *line == '\r'))
			line++;
		if (line < stop && *line != '#')
			count++;
		start = stop + 1;
	}
	return count;
}

#endif
