/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prometheus text exposition for node_exporter's textfile collector.
 * A file is written whole into a temporary file in the same directory and
 * renamed over the old one, so a scrape never sees half a file.
 */
#ifndef ABUSEWATCH_TEXTFILE_H
#define ABUSEWATCH_TEXTFILE_H

#include <stddef.h>

struct textfile;

struct label {
	const char *name;
	const char *value;
};

/* Starts a new file for @path (the temporary one is "PATH.tmp"); NULL and errno on error. */
struct textfile *textfile_open(const char *path);

/* Starts a metric family: HELP and TYPE lines. @type is "counter" or "gauge". */
void textfile_family(struct textfile *file, const char *name, const char *type, const char *help);

/* One sample of the family last started, labels escaped, no timestamp. */
void textfile_sample(struct textfile *file, const char *name, const struct label *labels,
		     size_t label_count, double value);

/* Flushes, fsyncs and renames over the path; frees @file. 0 or -errno. */
int textfile_commit(struct textfile *file);

/* Drops the temporary file; frees @file. */
void textfile_abort(struct textfile *file);

/*
 * Escapes a label value for the text format: backslash, double quote and
 * newline are escaped, bytes that are not valid UTF-8 become U+FFFD.
 * Always NUL-terminates when @outlen > 0; returns the length the whole
 * escaped value needs (excluding the NUL), like snprintf.
 */
size_t textfile_escape_label(const char *value, char *out, size_t outlen);

#endif
