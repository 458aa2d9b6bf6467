/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prometheus text exposition for node_exporter's textfile collector.
 * A file is built in memory, written into a temporary file in the same
 * directory and renamed over the old one, so a scrape never sees half a
 * file. Also the pieces a caller needs to keep lines between writes: label
 * escaping and the number format, and touching a file that stays as it is.
 */
#ifndef ABUSEWATCH_TEXTFILE_H
#define ABUSEWATCH_TEXTFILE_H

#include <stddef.h>

struct textfile;

struct label {
	const char *name;
	const char *value;
};

/* Room textfile_format_value() needs for any double, NUL included. */
#define TEXTFILE_VALUE_MAX 32

/* Starts a new file for @path (the temporary one is "PATH.tmp"); NULL and errno on error. */
struct textfile *textfile_open(const char *path);

/* Starts a metric family: HELP and TYPE lines. @type is "counter" or "gauge". */
void textfile_family(struct textfile *file, const char *name, const char *type, const char *help);

/* One sample of the family last started, labels escaped, no timestamp. */
void textfile_sample(struct textfile *file, const char *name, const struct label *labels,
		     size_t label_count, double value);

/* @length bytes already in the text format (lines kept from an earlier write), as they are. */
void textfile_write(struct textfile *file, const char *text, size_t length);

/*
 * Room for the next @length bytes of the file, for the caller to fill in
 * whole: a line put together in place rather than copied in. NULL after an
 * error, or when @length is more than the file's buffer holds (then
 * textfile_write() the pieces).
 */
char *textfile_space(struct textfile *file, size_t length);

/* Bytes in the file so far. */
size_t textfile_size(const struct textfile *file);

/* Writes out what is left and renames over the path; frees @file. 0 or -errno. */
int textfile_commit(struct textfile *file);

/* Drops the temporary file; frees @file. */
void textfile_abort(struct textfile *file);

/*
 * Marks the file at @path as written now without rewriting it: its mtime,
 * which node_exporter shows as node_textfile_mtime_seconds. 0 or -errno.
 */
int textfile_touch(const char *path);

/*
 * Escapes a label value for the text format: backslash, double quote and
 * newline are escaped, bytes that are not valid UTF-8 become U+FFFD.
 * Always NUL-terminates when @outlen > 0; returns the length the whole
 * escaped value needs (excluding the NUL), like snprintf.
 */
size_t textfile_escape_label(const char *value, char *out, size_t outlen);

/*
 * The text of a sample's value, as textfile_sample() writes it, into @out
 * (TEXTFILE_VALUE_MAX bytes), NUL-terminated; returns its length.
 */
size_t textfile_format_value(double value, char *out);

#endif
