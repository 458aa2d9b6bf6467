/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The spool: what a delivery target has yet to deliver, kept in memory as
 * a list of records and written through to files in state_dir/spool, so
 * that neither an outage nor a restart loses it. One JSON object a line:
 *   <name>.queue   records waiting for the target, oldest first:
 *                  {"webhook_id":"msg_...","started_at":...,"record":{...}}
 *                  (webhook_id for the webhook only, started_at when known)
 *   <name>.firing  an Alertmanager target's firing alerts, same line format
 * <name> is the target's kind ("alertmanager", "webhook"), "-", its URL
 * with every character but [A-Za-z0-9.-] made '_' (user:password@, query
 * and fragment left out: they may hold secrets), "-" and the first 8 hex
 * digits of the SHA-256 of the whole URL: stable across runs, one per URL.
 * Files of earlier versions, named with the query, are renamed at load.
 *
 * A struct spool is used by one thread at a time; it logs its own errors.
 */
#ifndef ABUSEWATCH_SPOOL_H
#define ABUSEWATCH_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "alert.h"

#define SPOOL_WEBHOOK_ID_SIZE 40 /* "msg_" + 32 hex digits + NUL */

/* One alert record waiting for one target. */
struct spool_record {
	struct spool_record *next;
	char *text;				/* the record as spool_record_text made it */
	double started_at;			/* not part of the record, but startsAt needs it */
	char webhook_id[SPOOL_WEBHOOK_ID_SIZE]; /* "" but for the webhook */
	char *fingerprint;			/* set while in a firing set */
};

/* Records, oldest first; {0} is an empty list. */
struct spool_list {
	struct spool_record *head;
	struct spool_record *tail;
	size_t count;
};

enum spool_file {
	SPOOL_QUEUE,
	SPOOL_FIRING,
};

struct spool;

/* The record line of @alert as every record keeps it, on the heap in *@text. 0 or -errno. */
int spool_record_text(const struct alert *alert, char **text);

/* A copy of @text; @webhook_id may be NULL. NULL (errno set) on failure. */
struct spool_record *spool_record_new(const char *text, double started_at, const char *webhook_id);
/* NULL is fine. */
void spool_record_free(struct spool_record *record);

void spool_list_push(struct spool_list *list, struct spool_record *record);
/* The oldest record, taken off @list; NULL when empty. */
struct spool_record *spool_list_pop(struct spool_list *list);
/* Moves all of @from to the end of @to. */
void spool_list_splice(struct spool_list *to, struct spool_list *from);
/* Frees every record of @list. */
void spool_list_clear(struct spool_list *list);
/* Takes the record with @fingerprint out of @list; NULL if none. */
struct spool_record *spool_list_take_fingerprint(struct spool_list *list, const char *fingerprint);

/*
 * Creates state_dir/spool (and state_dir if missing), mode 0700 whatever
 * the umask: it holds tenants' data; its path in *@dir. Files in it are
 * 0600. 0 or -errno.
 */
int spool_create_dir(const char *state_dir, char **dir);

/*
 * The spool of the target of @kind at @url in @dir (@display_url: the same
 * without user:password@, for file names; @log_url: without anything that
 * may be secret, for logs). Nothing is read yet. NULL (errno set) on
 * failure.
 */
struct spool *spool_new(const char *dir, const char *kind, const char *url,
			const char *display_url, const char *log_url);
/* NULL is fine. The files stay. */
void spool_free(struct spool *spool);

const char *spool_path(const struct spool *spool, enum spool_file file);

/*
 * Appends the records of @file to @list; a line cut short by a crash (or
 * otherwise not a record) is skipped and counted in *@skipped; a copy of the
 * file as it was is kept as PATH.corrupt (logged), and @file is left
 * dirty, to be written whole from what could be read. @with_webhook_id keeps the webhook id
 * of each line ("" when it has none or an unusable one). A queue file
 * that cannot be read is never written again, so that what it holds stays
 * there for a person to see. 0 (also when there is no file) or -errno.
 */
int spool_load(struct spool *spool, enum spool_file file, struct spool_list *list,
	       bool with_webhook_id, size_t *skipped);

/*
 * Appends @list to the queue file and syncs it. 0 or -errno; -EAGAIN
 * without trying while the queue file is dirty (spool_rewrite it).
 */
int spool_append(struct spool *spool, const struct spool_list *list);

/*
 * Replaces @file by @list, so that a crash leaves the old or the new
 * content, never half of one. 0 or -errno.
 */
int spool_rewrite(struct spool *spool, enum spool_file file, const struct spool_list *list);

/*
 * True while @file is behind the records in memory: a write failed (disk
 * full, read-only), or it was set aside as corrupt. The first failure is
 * logged, and the first success after it.
 */
bool spool_dirty(const struct spool *spool, enum spool_file file);

#endif
