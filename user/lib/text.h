/* SPDX-License-Identifier: GPL-2.0 */
/* Small string helpers the modules share. */
#ifndef ABUSEWATCH_TEXT_H
#define ABUSEWATCH_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Makes *@field (malloc'ed or NULL) a copy of @text (NULL: ""), freeing the
 * old copy; nothing is allocated when they are already equal, as they are
 * on most ticks. 0 or -ENOMEM (then *@field is unchanged).
 */
int text_replace(char **field, const char *text);

/*
 * Length of the well-formed UTF-8 sequence at @s (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF), or 0 when there is none; then
 * *@invalid is how many bytes a single U+FFFD stands for: the longest
 * prefix that could have begun a valid sequence, at least one byte. @s is
 * NUL-terminated; at the NUL it returns 1.
 */
size_t text_utf8_sequence(const char *s, size_t *invalid);

/*
 * @text with every byte that is not part of valid UTF-8 replaced by
 * U+FFFD, on the heap, its length in *@length; NULL (errno ENOMEM) on
 * failure. Names come from tenants' cgroups, executables and comms, which
 * may be any bytes; a JSON text must be UTF-8 (RFC 8259).
 */
char *text_utf8_copy(const char *text, size_t *length);

/* A space, a tab or a carriage return: what the data files' lines are trimmed of. */
bool text_is_blank(char c);

/*
 * The next line of [*cursor, end) (the embedded data files: one entry a
 * line), without its newline and surrounding blanks, in [*line,
 * *line_end); *cursor moves past it. False at the end.
 */
bool text_next_line(const char **cursor, const char *end, const char **line,
		    const char **line_end);

/* Whether [line, line_end) says anything: not empty, not a # comment. */
bool text_line_has_content(const char *line, const char *line_end);

#endif
