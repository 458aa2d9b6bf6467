/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guard against poisoning the learned digests (learned.h): the
 * executables seen run on this node matching no rule of a policy with
 * built-in sets, by the first 64 bits of their sha256 (a second preimage
 * of those is out of a tenant's reach). A file seen run clean is never
 * learned from its name or path, so a tenant that copies the compiler to
 * ./xmrig does not get the compiler denied to every other tenant.
 *
 * At most SEEN_CLEAN_MAX digests, the oldest giving way; kept in
 * STATE_DIR/seen_clean_sha256 across restarts, one digest prefix (16
 * lowercase hex digits) a line, oldest first, after a comment line:
 * written whole, atomically, 0600, at most every SEEN_CLEAN_SAVE_S
 * seconds while new ones come (a build runs many new executables) and at
 * stop; read at start. A file that does not parse is set aside whole: the
 * agent starts with none and says so.
 */
#ifndef ABUSEWATCH_SEEN_CLEAN_H
#define ABUSEWATCH_SEEN_CLEAN_H

#include <stdbool.h>
#include <stddef.h>

#define SEEN_CLEAN_MAX 8192
#define SEEN_CLEAN_FILE "seen_clean_sha256"
/* A kill -9 loses at most this much of what was seen. */
#define SEEN_CLEAN_SAVE_S 10.0

struct seen_clean;

/* An empty set kept in @state_dir (NULL or "": in memory only). NULL on ENOMEM. */
struct seen_clean *seen_clean_new(const char *state_dir);
/* Saves what is not saved yet, then frees. */
void seen_clean_free(struct seen_clean *seen);

/* Whether @sha256 (64 hex digits) was seen run clean. */
bool seen_clean_has(const struct seen_clean *seen, const char *sha256);
/* @sha256 ran clean: remembered, saved at the next seen_clean_tick() that is due. */
void seen_clean_note(struct seen_clean *seen, const char *sha256);
size_t seen_clean_count(const struct seen_clean *seen);

/* Reads the file: 0, -ENOENT (none yet), or -EINVAL (set aside, logged: starting with none). */
int seen_clean_load(struct seen_clean *seen);

/*
 * Parses @text (the file's format) into @seen, replacing what it held; 0,
 * or -EINVAL with @why naming the first bad line (then @seen is empty).
 * More than SEEN_CLEAN_MAX lines: the newest are kept.
 */
int seen_clean_parse(struct seen_clean *seen, const char *text, size_t length, char *why,
		     size_t why_size);
/* The file's text, oldest first, in a malloc'd *@text. 0 or -ENOMEM. */
int seen_clean_format(const struct seen_clean *seen, char **text, size_t *length);

/*
 * Writes the file when something new was seen and the last write was
 * SEEN_CLEAN_SAVE_S ago (@now, monotonic), or @force. A failed write is
 * logged once, and tried again at the next due tick.
 */
void seen_clean_tick(struct seen_clean *seen, double now, bool force);

#endif
