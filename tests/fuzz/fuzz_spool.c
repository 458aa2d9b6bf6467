// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzzes the delivery spool read at start (user/sinks/spool.c) with any
 * file, as a webhook's queue (with webhook ids) and as an Alertmanager's
 * firing set. Every record taken must be an alert record, its webhook id
 * one that is safe in a header; and what was taken must be written back
 * (rewrite and append alike) and read again unchanged: one odd line must
 * not keep a spool from being written.
 */
#include <errno.h>
#include <math.h>

#include "fuzz.h"
#include "json.h"
#include "log.h"
#include "spool.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

static void check_records(const struct spool_list *list)
{
	const struct spool_record *record;
	struct json_object *object;
	struct alert alert;
	size_t count = 0, length;

	for (record = list->head; record; record = record->next) {
		count++;
		object = json_tokener_parse(record->text);
		fuzz_check(object && !alert_from_json(object, &alert),
			   "a record that is not an alert: %s", record->text);
		json_object_put(object);
		length = strlen(record->webhook_id);
		fuzz_check(length < SPOOL_WEBHOOK_ID_SIZE &&
				   strspn(record->webhook_id,
					  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "0123456789_-") == length,
			   "webhook id \"%s\"", record->webhook_id);
		fuzz_check(!record->next || list->tail != record, "the tail is not last");
	}
	fuzz_check(count == list->count, "%zu records counted as %zu", count, list->count);
}

static bool same_started_at(double a, double b)
{
	return a == b || (isnan(a) && isnan(b));
}

static void check_same(const struct spool_list *a, const struct spool_list *b, const char *what)
{
	const struct spool_record *x, *y;

	fuzz_check(a->count == b->count, "%s: %zu records, then %zu", what, a->count, b->count);
	for (x = a->head, y = b->head; x && y; x = x->next, y = y->next)
		fuzz_check(!strcmp(x->text, y->text) && !strcmp(x->webhook_id, y->webhook_id) &&
				   same_started_at(x->started_at, y->started_at),
			   "%s: record %s (%s, %.17g) read back as %s (%s, %.17g)", what, x->text,
			   x->webhook_id, x->started_at, y->text, y->webhook_id, y->started_at);
}

/* Loads @file of @spool into @list: the file is there and readable, so 0. */
static void load(struct spool *spool, enum spool_file file, struct spool_list *list,
		 bool with_webhook_id, size_t *skipped)
{
	int err = spool_load(spool, file, list, with_webhook_id, skipped);

	fuzz_check(!err, "spool_load: %s", strerror(-err));
	check_records(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *dir;
	struct fuzz_input in = { data, size };
	struct spool_list queue = { 0 }, firing = { 0 }, again = { 0 };
	size_t skipped = 0, skipped_again = 0, length;
	uint8_t *text = fuzz_rest(&in, &length);
	struct spool *spool;

	if (!dir)
		fuzz_check(!spool_create_dir(fuzz_scratch_dir(), &dir), "no spool directory");
	spool = spool_new(dir, "webhook", "https://user:secret@hooks.example/x",
			  "https://hooks.example/x", "https://hooks.example/x");
	fuzz_check(spool, "no spool");
	fuzz_write_file(spool_path(spool, SPOOL_QUEUE), text, length);
	fuzz_write_file(spool_path(spool, SPOOL_FIRING), text, length);

	load(spool, SPOOL_QUEUE, &queue, true, &skipped);
	load(spool, SPOOL_FIRING, &firing, false, &skipped);
	for (const struct spool_record *record = firing.head; record; record = record->next)
		fuzz_check(!record->webhook_id[0], "a firing set has no webhook ids");

	/* Written back whole, read again: the same records, none skipped. */
	fuzz_check(!spool_rewrite(spool, SPOOL_QUEUE, &queue), "the queue cannot be rewritten");
	load(spool, SPOOL_QUEUE, &again, true, &skipped_again);
	fuzz_check(!skipped_again, "%zu lines of a rewritten queue skipped", skipped_again);
	check_same(&queue, &again, "rewrite");
	spool_list_clear(&again);

	/* Appended to an empty queue, likewise. */
	fuzz_check(!spool_rewrite(spool, SPOOL_QUEUE, &again), "the queue cannot be emptied");
	fuzz_check(!spool_append(spool, &queue), "the queue cannot be appended to");
	load(spool, SPOOL_QUEUE, &again, true, &skipped_again);
	fuzz_check(!skipped_again, "%zu lines of an appended queue skipped", skipped_again);
	check_same(&queue, &again, "append");

	spool_list_clear(&again);
	spool_list_clear(&firing);
	spool_list_clear(&queue);
	spool_free(spool);
	free(text);
	return 0;
}
