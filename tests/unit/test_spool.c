// SPDX-License-Identifier: GPL-2.0
/* Unit tests for user/sinks/spool.c, in a temporary state directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "alert.h"
#include "log.h"
#include "spool.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define ALERTMANAGER_URL "http://user:secret@127.0.0.1:9093"
#define DISPLAY_URL "http://127.0.0.1:9093"

static char base[PATH_MAX];
static char *dir;

static int setup(void **state)
{
	snprintf(base, sizeof(base), "/tmp/abusewatch-test-spool.XXXXXX");
	if (!mkdtemp(base))
		return -1;
	return spool_create_dir(base, &dir);
}

static int teardown(void **state)
{
	char command[PATH_MAX + 16];

	free(dir);
	dir = NULL;
	snprintf(command, sizeof(command), "rm -rf '%s'", base);
	return system(command) == 0 ? 0 : -1;
}

static struct spool_record *test_record(const char *tenant, bool firing, const char *webhook_id)
{
	struct alert alert = {
	    .kind = ALERT_OVERUSE,
	    .firing = firing,
	    .time = 1795462230.5,
	    .host = "node1",
	    .tenant = tenant,
	    .plan = "default",
	    .resource = "cpu",
	    .value = 1.02,
	    .limit = 0.5,
	    .window_s = 60,
	    .rule = "plan",
	};
	struct spool_record *record;
	char *text;

	assert_int_equal(spool_record_text(&alert, &text), 0);
	record = spool_record_new(text, 1795462200, webhook_id);
	free(text);
	assert_non_null(record);
	return record;
}

static void append_text(const char *path, const char *text)
{
	FILE *file = fopen(path, "a");

	assert_non_null(file);
	fputs(text, file);
	fclose(file);
}

static off_t file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return -1;
	return st.st_size;
}

static void test_file_names(void **state)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_length;
	char want[PATH_MAX];
	struct spool *spool;
	struct stat st;

	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_true(EVP_Digest(ALERTMANAGER_URL, strlen(ALERTMANAGER_URL), digest, &digest_length,
			       EVP_sha256(), NULL));
	spool = spool_new(dir, "alertmanager", ALERTMANAGER_URL, DISPLAY_URL, DISPLAY_URL);
	assert_non_null(spool);
	snprintf(want, sizeof(want), "%s/alertmanager-http___127.0.0.1_9093-%02x%02x%02x%02x.queue",
		 dir, digest[0], digest[1], digest[2], digest[3]);
	assert_string_equal(spool_path(spool, SPOOL_QUEUE), want);
	strcpy(want + strlen(want) - strlen("queue"), "firing");
	assert_string_equal(spool_path(spool, SPOOL_FIRING), want);
	spool_free(spool);
}

/*
 * A query or fragment (a token, often) stays out of the file names; a
 * spool an earlier version named with it is renamed and read.
 */
static void test_query_left_out(void **state)
{
	static const char url[] = "http://127.0.0.1:8080/hook?token=s3cr3t#frag";
	struct spool_list written = {0}, read = {0};
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_length;
	char legacy[PATH_MAX], want[PATH_MAX];
	size_t skipped = 0;
	struct spool *spool;

	assert_true(EVP_Digest(url, strlen(url), digest, &digest_length, EVP_sha256(), NULL));
	snprintf(want, sizeof(want), "%s/webhook-http___127.0.0.1_8080_hook-%02x%02x%02x%02x.queue",
		 dir, digest[0], digest[1], digest[2], digest[3]);
	snprintf(legacy, sizeof(legacy),
		 "%s/webhook-http___127.0.0.1_8080_hook_token_s3cr3t_frag-%02x%02x%02x%02x.queue",
		 dir, digest[0], digest[1], digest[2], digest[3]);

	/* As an earlier version left it: the records under the old name. */
	spool = spool_new(dir, "webhook", url, url, "http://127.0.0.1:8080/hook?...");
	assert_non_null(spool);
	assert_string_equal(spool_path(spool, SPOOL_QUEUE), want);
	spool_list_push(&written, test_record("a", true, "msg_1"));
	assert_int_equal(spool_append(spool, &written), 0);
	assert_int_equal(rename(want, legacy), 0);

	assert_int_equal(spool_load(spool, SPOOL_QUEUE, &read, true, &skipped), 0);
	assert_int_equal(read.count, 1);
	assert_string_equal(read.head->webhook_id, "msg_1");
	assert_int_equal(access(legacy, F_OK), -1);
	assert_int_equal(access(want, F_OK), 0);
	spool_list_clear(&read);
	spool_list_clear(&written);
	spool_free(spool);
}

static void test_append_then_load(void **state)
{
	struct spool_list written = {0}, read = {0};
	struct spool_record *a, *b;
	struct spool *spool;
	size_t skipped = 0;

	spool = spool_new(dir, "webhook", "http://127.0.0.1:8080/hook",
			  "http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook");
	assert_non_null(spool);
	spool_list_push(&written, test_record("a", true, "msg_1"));
	spool_list_push(&written, test_record("b", false, NULL));
	assert_int_equal(spool_append(spool, &written), 0);
	/* A line cut short by a crash, then one with an id unfit for a header. */
	append_text(spool_path(spool, SPOOL_QUEUE), "{\"record\":{\"ti");
	append_text(spool_path(spool, SPOOL_QUEUE), "\n");
	b = test_record("c", true, NULL);
	snprintf(b->webhook_id, sizeof(b->webhook_id), "a\r\nb");
	spool_list_push(&written, b);
	assert_int_equal(spool_append(spool, &(struct spool_list){b, b, 1}), 0);

	assert_int_equal(spool_load(spool, SPOOL_QUEUE, &read, true, &skipped), 0);
	assert_int_equal(skipped, 1);
	assert_int_equal(read.count, 3);
	for (a = written.head, b = read.head; a; a = a->next, b = b->next) {
		assert_string_equal(a->text, b->text);
		assert_true(a->started_at == b->started_at);
	}
	assert_string_equal(read.head->webhook_id, "msg_1");
	assert_string_equal(read.head->next->webhook_id, "");
	assert_string_equal(read.tail->webhook_id, "");
	/* The cut line: the file as it was is kept aside, and this one is to be written whole. */
	assert_true(spool_dirty(spool, SPOOL_QUEUE));
	assert_int_equal(spool_append(spool, &read), -EAGAIN);
	assert_int_equal(spool_rewrite(spool, SPOOL_QUEUE, &read), 0);
	assert_false(spool_dirty(spool, SPOOL_QUEUE));
	spool_list_clear(&read);

	/* Without webhook ids, even a good one is left out. */
	skipped = 0;
	assert_int_equal(spool_load(spool, SPOOL_QUEUE, &read, false, &skipped), 0);
	assert_int_equal(skipped, 0);
	assert_int_equal(read.count, 3);
	assert_string_equal(read.head->webhook_id, "");
	spool_list_clear(&read);
	spool_list_clear(&written);
	spool_free(spool);
}

static void test_rewrite(void **state)
{
	struct spool_list list = {0}, read = {0};
	struct spool *spool;
	size_t skipped = 0;
	const char *path;

	spool = spool_new(dir, "alertmanager", ALERTMANAGER_URL, DISPLAY_URL, DISPLAY_URL);
	assert_non_null(spool);
	path = spool_path(spool, SPOOL_FIRING);
	/* Nothing to empty: no file is made. */
	assert_int_equal(spool_rewrite(spool, SPOOL_FIRING, &list), 0);
	assert_int_equal(file_size(path), -1);

	spool_list_push(&list, test_record("a", true, NULL));
	spool_list_push(&list, test_record("b", true, NULL));
	assert_int_equal(spool_rewrite(spool, SPOOL_FIRING, &list), 0);
	spool_record_free(spool_list_pop(&list));
	assert_int_equal(spool_rewrite(spool, SPOOL_FIRING, &list), 0);
	assert_int_equal(spool_load(spool, SPOOL_FIRING, &read, false, &skipped), 0);
	assert_int_equal(read.count, 1);
	assert_string_equal(read.head->text, list.head->text);
	spool_list_clear(&read);

	/* Emptied in place. */
	spool_list_clear(&list);
	assert_int_equal(spool_rewrite(spool, SPOOL_FIRING, &list), 0);
	assert_int_equal(file_size(path), 0);
	spool_free(spool);
}

/*
 * Found by tests/fuzz/fuzz_spool.c: json-c reads NaN and Infinity, and a
 * queue line whose started_at was one was taken as it was; every later
 * rewrite or append then failed (JSON cannot write it), and the records
 * were kept in memory only, lost at the next restart. Such a started_at
 * is unknown (0) now, as one of another type.
 */
static void test_started_at_not_a_number(void **state)
{
	static const char *const values[] = { "NaN", "-Infinity", "Infinity", "\"x\"", "[1]" };
	struct spool_list read = {0}, again = {0};
	struct spool *spool;
	size_t skipped = 0, i;
	char line[512];

	spool = spool_new(dir, "webhook", "http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook",
			  "http://127.0.0.1:8080/hook");
	assert_non_null(spool);
	for (i = 0; i < ARRAY_SIZE(values); i++) {
		snprintf(line, sizeof(line),
			 "{\"webhook_id\":\"msg_%zu\",\"started_at\":%s,\"record\":{\"time\":"
			 "\"2026-11-23T19:30:30.123Z\",\"kind\":\"overuse\",\"state\":\"firing\","
			 "\"tenant\":\"t%zu\",\"resource\":\"cpu\",\"value\":1,\"limit\":0.5,"
			 "\"window_s\":60}}\n",
			 i, values[i], i);
		append_text(spool_path(spool, SPOOL_QUEUE), line);
	}
	assert_int_equal(spool_load(spool, SPOOL_QUEUE, &read, true, &skipped), 0);
	assert_int_equal(skipped, 0);
	assert_int_equal(read.count, ARRAY_SIZE(values));
	for (struct spool_record *record = read.head; record; record = record->next)
		assert_true(record->started_at == 0);
	assert_int_equal(spool_rewrite(spool, SPOOL_QUEUE, &read), 0);
	assert_int_equal(spool_load(spool, SPOOL_QUEUE, &again, true, &skipped), 0);
	assert_int_equal(again.count, ARRAY_SIZE(values));
	assert_string_equal(again.head->webhook_id, "msg_0");
	spool_list_clear(&again);
	spool_list_clear(&read);
	spool_free(spool);
}

static void test_unreadable_queue_kept(void **state)
{
	struct spool_list list = {0};
	struct spool *spool;
	size_t skipped = 0;
	struct stat st;

	spool = spool_new(dir, "alertmanager", ALERTMANAGER_URL, DISPLAY_URL, DISPLAY_URL);
	assert_non_null(spool);
	/* A directory where the queue file should be: it cannot be read. */
	assert_int_equal(mkdir(spool_path(spool, SPOOL_QUEUE), 0700), 0);
	assert_int_not_equal(spool_load(spool, SPOOL_QUEUE, &list, false, &skipped), 0);
	spool_list_push(&list, test_record("a", true, NULL));
	/* Never written again, and that is no error. */
	assert_int_equal(spool_rewrite(spool, SPOOL_QUEUE, &list), 0);
	assert_int_equal(spool_rewrite(spool, SPOOL_FIRING, &list), 0);
	assert_int_equal(stat(spool_path(spool, SPOOL_QUEUE), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(file_size(spool_path(spool, SPOOL_FIRING)), -1);
	spool_list_clear(&list);
	spool_free(spool);
}

/* The file's whole content, on the heap; NULL when there is none. */
static char *read_file(const char *path, size_t *length)
{
	FILE *file = fopen(path, "rb");
	char *text;
	long size;

	if (!file)
		return NULL;
	fseek(file, 0, SEEK_END);
	size = ftell(file);
	rewind(file);
	text = malloc(size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, size, file), (size_t)size);
	text[size] = '\0';
	fclose(file);
	*length = size;
	return text;
}

/*
 * A damaged file (garbage amid records, a record cut short at the end):
 * the records are read, the rest counted; the file as it was stays as
 * .corrupt, and the queue file is written whole again from the records.
 */
static void test_corrupt_file_set_aside(void **state)
{
	static const char garbage[] = "\x00\xff\xfe binary \x01\n{\"record\": 17}\n[1,2\n";
	struct spool_list written = {0}, read = {0};
	char aside[PATH_MAX], *before, *kept;
	size_t skipped = 0, before_length, kept_length;
	struct spool *spool;
	const char *path;
	FILE *file;

	spool = spool_new(dir, "alertmanager", ALERTMANAGER_URL, DISPLAY_URL, DISPLAY_URL);
	assert_non_null(spool);
	path = spool_path(spool, SPOOL_FIRING);
	spool_list_push(&written, test_record("a", true, NULL));
	assert_int_equal(spool_rewrite(spool, SPOOL_FIRING, &written), 0);
	file = fopen(path, "ab");
	assert_non_null(file);
	assert_int_equal(fwrite(garbage, 1, sizeof(garbage) - 1, file), sizeof(garbage) - 1);
	fclose(file);
	spool_list_push(&written, test_record("b", true, NULL));
	append_text(path, "{\"record\":");
	append_text(path, written.tail->text);
	append_text(path, "}\n{\"record\":{\"time\":\"2026-");
	before = read_file(path, &before_length);

	assert_int_equal(spool_load(spool, SPOOL_FIRING, &read, false, &skipped), 0);
	assert_int_equal(read.count, 2);
	assert_string_equal(read.head->text, written.head->text);
	assert_string_equal(read.tail->text, written.tail->text);
	assert_int_equal(skipped, 4);
	snprintf(aside, sizeof(aside), "%s.corrupt", path);
	kept = read_file(aside, &kept_length);
	assert_non_null(kept);
	assert_int_equal(kept_length, before_length);
	assert_memory_equal(kept, before, before_length);
	free(kept);
	assert_true(spool_dirty(spool, SPOOL_FIRING));
	assert_false(spool_dirty(spool, SPOOL_QUEUE));

	assert_int_equal(spool_rewrite(spool, SPOOL_FIRING, &read), 0);
	assert_false(spool_dirty(spool, SPOOL_FIRING));
	spool_list_clear(&read);
	skipped = 0;
	assert_int_equal(spool_load(spool, SPOOL_FIRING, &read, false, &skipped), 0);
	assert_int_equal(skipped, 0);
	assert_int_equal(read.count, 2);
	/* The .corrupt file is what the damaged one was, untouched by the rewrite. */
	kept = read_file(aside, &kept_length);
	assert_int_equal(kept_length, before_length);
	free(kept);
	/* Also once the file is emptied in place (its queue delivered). */
	spool_list_clear(&read);
	assert_int_equal(spool_rewrite(spool, SPOOL_FIRING, &read), 0);
	assert_int_equal(file_size(path), 0);
	kept = read_file(aside, &kept_length);
	assert_int_equal(kept_length, before_length);
	assert_memory_equal(kept, before, before_length);
	free(kept);
	free(before);
	spool_list_clear(&read);
	spool_list_clear(&written);
	spool_free(spool);
}

/*
 * A write that fails (here every write: /dev/full) leaves the file dirty:
 * appends stop, and the next rewrite that works writes every record.
 */
static void test_failed_write_then_rewrite(void **state)
{
	struct spool_list list = {0}, read = {0};
	size_t skipped = 0;
	struct spool *spool;
	const char *path;

	spool = spool_new(dir, "webhook", "http://127.0.0.1:8080/hook",
			  "http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook");
	assert_non_null(spool);
	path = spool_path(spool, SPOOL_QUEUE);
	assert_int_equal(symlink("/dev/full", path), 0);
	spool_list_push(&list, test_record("a", true, "msg_1"));
	assert_int_equal(spool_append(spool, &list), -ENOSPC);
	assert_true(spool_dirty(spool, SPOOL_QUEUE));
	spool_list_push(&list, test_record("b", true, "msg_2"));
	assert_int_equal(spool_append(spool, &(struct spool_list){list.tail, list.tail, 1}),
			 -EAGAIN);

	/* Space again: the whole queue. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(spool_rewrite(spool, SPOOL_QUEUE, &list), 0);
	assert_false(spool_dirty(spool, SPOOL_QUEUE));
	assert_int_equal(spool_load(spool, SPOOL_QUEUE, &read, true, &skipped), 0);
	assert_int_equal(read.count, 2);
	assert_string_equal(read.head->webhook_id, "msg_1");
	assert_string_equal(read.tail->webhook_id, "msg_2");
	spool_list_clear(&read);
	spool_list_clear(&list);
	spool_free(spool);
}

/* The directory is 0700 and its files 0600, whatever the umask. */
static void test_modes(void **state)
{
	static const mode_t masks[] = {0, 077, 022};
	struct spool_list list = {0};
	char state_dir[PATH_MAX + 32], *spool_dir = NULL;
	struct spool *spool;
	struct stat st;
	mode_t saved;
	size_t i;

	spool_list_push(&list, test_record("a", true, NULL));
	for (i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		saved = umask(masks[i]);
		snprintf(state_dir, sizeof(state_dir), "%s/state-%zu/deeper", base, i);
		assert_int_equal(spool_create_dir(state_dir, &spool_dir), 0);
		assert_int_equal(stat(state_dir, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0700);
		assert_int_equal(stat(spool_dir, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0700);
		spool = spool_new(spool_dir, "alertmanager", ALERTMANAGER_URL, DISPLAY_URL,
				  DISPLAY_URL);
		assert_non_null(spool);
		assert_int_equal(spool_append(spool, &list), 0);
		assert_int_equal(spool_rewrite(spool, SPOOL_FIRING, &list), 0);
		assert_int_equal(stat(spool_path(spool, SPOOL_QUEUE), &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		assert_int_equal(stat(spool_path(spool, SPOOL_FIRING), &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		umask(saved);
		spool_free(spool);
		free(spool_dir);
	}
	spool_list_clear(&list);
}

static void test_lists(void **state)
{
	struct spool_list list = {0}, more = {0};
	struct spool_record *record;

	spool_list_push(&list, test_record("a", true, NULL));
	spool_list_push(&more, test_record("b", true, NULL));
	spool_list_push(&more, test_record("c", true, NULL));
	spool_list_splice(&list, &more);
	assert_int_equal(list.count, 3);
	assert_null(more.head);
	assert_int_equal(more.count, 0);
	list.head->fingerprint = strdup("a");
	list.head->next->fingerprint = strdup("b");
	list.tail->fingerprint = strdup("c");

	record = spool_list_take_fingerprint(&list, "c");
	assert_non_null(record);
	assert_string_equal(record->fingerprint, "c");
	assert_ptr_equal(list.tail, list.head->next);
	spool_record_free(record);
	assert_null(spool_list_take_fingerprint(&list, "c"));
	record = spool_list_take_fingerprint(&list, "a");
	assert_ptr_equal(list.head, list.tail);
	assert_int_equal(list.count, 1);
	spool_record_free(record);
	spool_list_clear(&list);
	assert_null(list.head);
	assert_null(list.tail);
	assert_int_equal(list.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_file_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_left_out, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_append_then_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rewrite, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_started_at_not_a_number, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unreadable_queue_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_file_set_aside, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failed_write_then_rewrite, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
	    cmocka_unit_test(test_lists),
	};

	if (!getenv("ABUSEWATCH_TEST_VERBOSE"))
		log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
