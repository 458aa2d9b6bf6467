/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The events log sink: alert records as JSON lines, appended and flushed
 * once per batch, rotated by size. A rotated file is compressed with gzip
 * (zlib) off the caller's thread, and at most `keep` compressed files stay:
 * events.jsonl.1.gz (newest) ... events.jsonl.N.gz.
 */
#ifndef ABUSEWATCH_EVENTS_LOG_H
#define ABUSEWATCH_EVENTS_LOG_H

#include <stdint.h>

struct json_object;
struct events_log;

/*
 * Opens (creating its directory, 0750, and the file, 0640, whatever the
 * umask) the log at @path. @rotate_bytes 0 never rotates. A file that
 * cannot be opened yet is logged and tried again at every flush, its
 * records kept meanwhile. NULL (errno set) when out of memory or @path is
 * empty.
 */
struct events_log *events_log_open(const char *path, uint64_t rotate_bytes, unsigned int keep);

/* Buffers one record as a line. 0 or -errno. */
int events_log_append(struct events_log *log, struct json_object *record);

/*
 * Writes the buffered lines (write + fdatasync), then rotates when the file
 * has grown past rotate_bytes. A failed write keeps the lines buffered for
 * the next flush (bounded: the oldest are dropped and counted past 64 MiB).
 * 0 or -errno.
 */
int events_log_flush(struct events_log *log);

/* Records dropped because the buffer overflowed while writes failed. */
uint64_t events_log_dropped(const struct events_log *log);

/* Flushes, waits for a compression in progress, closes. NULL is fine. */
void events_log_close(struct events_log *log);

#endif
