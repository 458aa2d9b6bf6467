// SPDX-License-Identifier: GPL-2.0
/*
 * Prometheus text exposition written atomically for node_exporter.
 *
 * Writes go through stdio; the first failure is remembered and every later
 * call becomes a no-op, so callers can emit a whole file without checking
 * each line and learn the outcome once, from textfile_commit().
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "textfile.h"

struct textfile {
	char *path;
	char *temp_path;
	FILE *stream;
	int error; /* first write error, as -errno */
};

/* Label values are escaped into a stack buffer when they fit, else into a heap one. */
#define TEXTFILE_ESCAPE_STACK 512

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/*
 * Length of the well-formed UTF-8 sequence at @s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 when it is not one; then
 * @invalid is how many bytes to replace by a single U+FFFD: the longest
 * prefix that could have started a valid sequence, at least one byte.
 */
static size_t utf8_sequence(const unsigned char *s, size_t *invalid)
{
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

/*
 * Escapes @value into @out (snprintf-like). Output is cut only between whole
 * units, so a truncated result never ends in half an escape or character.
 * @quotes: escape '"' too (label values; HELP text leaves it alone).
 */
static size_t escape_text(const char *value, int quotes, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t needed = 0, written = 0, unit_length, consumed, invalid = 0;
	const char *unit;
	char escaped[2];
	int full = 0;

	while (*s) {
		consumed = 1;
		unit = escaped;
		unit_length = 2;
		escaped[0] = '\\';
		if (*s == '\\') {
			escaped[1] = '\\';
		} else if (*s == '\n') {
			escaped[1] = 'n';
		} else if (*s == '"' && quotes) {
			escaped[1] = '"';
		} else {
			consumed = utf8_sequence(s, &invalid);
			if (consumed) {
				unit = (const char *)s;
				unit_length = consumed;
			} else {
				consumed = invalid;
				unit = replacement;
				unit_length = sizeof(replacement) - 1;
			}
		}
		/* After the first unit that does not fit, later (shorter) ones must not either. */
		if (!full && outlen && written + unit_length < outlen) {
			memcpy(out + written, unit, unit_length);
			written += unit_length;
		} else {
			full = 1;
		}
		needed += unit_length;
		s += consumed;
	}
	if (outlen)
		out[written] = '\0';
	return needed;
}

size_t textfile_escape_label(const char *value, char *out, size_t outlen)
{
	return escape_text(value ? value : "", 1, out, outlen);
}

static void note_error(struct textfile *file)
{
	if (!file->error)
		file->error = errno ? -errno : -EIO;
}

static void put_string(struct textfile *file, const char *text)
{
	if (file->error)
		return;
	if (fputs(text, file->stream) == EOF)
		note_error(file);
}

/* Escaped text; @quotes as for escape_text(). */
static void put_escaped(struct textfile *file, const char *text, int quotes)
{
	char stack[TEXTFILE_ESCAPE_STACK], *buffer = stack;
	size_t length;

	if (file->error)
		return;
	length = escape_text(text, quotes, stack, sizeof(stack));
	if (length >= sizeof(stack)) {
		buffer = malloc(length + 1);
		if (!buffer) {
			file->error = -ENOMEM;
			goto cleanup;
		}
		escape_text(text, quotes, buffer, length + 1);
	}
	put_string(file, buffer);
cleanup:
	if (buffer != stack)
		free(buffer);
}

/*
 * Integers print exactly while doubles hold them exactly (below 2^53);
 * anything else gets the shortest of %.15g and %.17g that reads back as the
 * same double, so a scrape sees the value we had and no noise digits.
 */
static void format_value(double value, char *out, size_t outlen)
{
	if (isnan(value)) {
		snprintf(out, outlen, "NaN");
	} else if (isinf(value)) {
		snprintf(out, outlen, "%s", value > 0 ? "+Inf" : "-Inf");
	} else if (value == 0) {
		/* Also -0.0: "-0" is legal but surprises people reading the file. */
		snprintf(out, outlen, "0");
	} else if (value > -9007199254740992.0 && value < 9007199254740992.0 &&
		   value == (double)(int64_t)value) {
		snprintf(out, outlen, "%.0f", value);
	} else {
		snprintf(out, outlen, "%.15g", value);
		if (strtod(out, NULL) != value)
			snprintf(out, outlen, "%.17g", value);
	}
}

struct textfile *textfile_open(const char *path)
{
	struct textfile *file = NULL;
	int fd = -1, err = 0;

	if (!path || !*path) {
		err = -EINVAL;
		goto cleanup;
	}
	file = calloc(1, sizeof(*file));
	if (!file) {
		err = -ENOMEM;
		goto cleanup;
	}
	file->path = strdup(path);
	if (!file->path || asprintf(&file->temp_path, "%s.tmp", path) < 0) {
		file->temp_path = NULL;
		err = -ENOMEM;
		goto cleanup;
	}
	fd = open(file->temp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		goto cleanup;
	}
	file->stream = fdopen(fd, "w");
	if (!file->stream) {
		err = -errno;
		goto cleanup_unlink;
	}
	fd = -1;
	goto cleanup;

cleanup_unlink:
	unlink(file->temp_path);
cleanup:
	if (fd >= 0)
		close(fd);
	if (err) {
		if (file) {
			free(file->temp_path);
			free(file->path);
			free(file);
		}
		file = NULL;
		errno = -err;
	}
	return file;
}

void textfile_family(struct textfile *file, const char *name, const char *type, const char *help)
{
	if (!file)
		return;
	if (!name || !type) {
		if (!file->error)
			file->error = -EINVAL;
		return;
	}
	put_string(file, "# HELP ");
	put_string(file, name);
	put_string(file, " ");
	put_escaped(file, help ? help : "", 0);
	put_string(file, "\n# TYPE ");
	put_string(file, name);
	put_string(file, " ");
	put_string(file, type);
	put_string(file, "\n");
}

void textfile_sample(struct textfile *file, const char *name, const struct label *labels,
		     size_t label_count, double value)
{
	char number[64];
	size_t i;

	if (!file)
		return;
	if (!name || (label_count && !labels)) {
		if (!file->error)
			file->error = -EINVAL;
		return;
	}
	for (i = 0; i < label_count; i++) {
		if (!labels[i].name) {
			if (!file->error)
				file->error = -EINVAL;
			return;
		}
	}
	put_string(file, name);
	for (i = 0; i < label_count; i++) {
		put_string(file, i ? "," : "{");
		put_string(file, labels[i].name);
		put_string(file, "=\"");
		put_escaped(file, labels[i].value ? labels[i].value : "", 1);
		put_string(file, "\"");
	}
	if (label_count)
		put_string(file, "}");
	format_value(value, number, sizeof(number));
	put_string(file, " ");
	put_string(file, number);
	put_string(file, "\n");
}

static void textfile_free(struct textfile *file)
{
	free(file->temp_path);
	free(file->path);
	free(file);
}

int textfile_commit(struct textfile *file)
{
	int err;

	if (!file)
		return -EINVAL;
	err = file->error;
	if (err)
		goto cleanup;
	if (fflush(file->stream) == EOF || fsync(fileno(file->stream))) {
		err = -errno;
		goto cleanup;
	}
	/* fclose() can still report a write error, and must be checked before renaming. */
	err = fclose(file->stream) ? -errno : 0;
	file->stream = NULL;
	if (err)
		goto cleanup;
	if (rename(file->temp_path, file->path))
		err = -errno;
cleanup:
	if (file->stream)
		fclose(file->stream);
	if (err)
		unlink(file->temp_path);
	textfile_free(file);
	return err;
}

void textfile_abort(struct textfile *file)
{
	if (!file)
		return;
	if (file->stream)
		fclose(file->stream);
	unlink(file->temp_path);
	textfile_free(file);
}
