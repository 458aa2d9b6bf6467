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

#include <openssl/evp.h>

#include "alert.h"
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
	spool = spool_new(dir, "alertmanager", ALERTMANAGER_URL, DISPLAY_URL);
	assert_non_null(spool);
	snprintf(want, sizeof(want), "%s/alertmanager-http___127.0.0.1_9093-%02x%02x%02x%02x.queue",
		 dir, digest[0], digest[1], digest[2], digest[3]);
	assert_string_equal(spool_path(spool, SPOOL_QUEUE), want);
	strcpy(want + strlen(want) - strlen("queue"), "firing");
	assert_string_equal(spool_path(spool, SPOOL_FIRING), want);
	spool_free(spool);
}

static void test_append_then_load(void **state)
{
	struct spool_list written = {0}, read = {0};
	struct spool_record *a, *b;
	struct spool *spool;
	size_t skipped = 0;

	spool =
	    spool_new(dir, "webhook", "http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook");
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
	spool_list_clear(&read);

	/* Without webhook ids, even a good one is left out. */
	assert_int_equal(spool_load(spool, SPOOL_QUEUE, &read, false, &skipped), 0);
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

	spool = spool_new(dir, "alertmanager", ALERTMANAGER_URL, DISPLAY_URL);
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

	spool =
	    spool_new(dir, "webhook", "http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook");
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

	spool = spool_new(dir, "alertmanager", ALERTMANAGER_URL, DISPLAY_URL);
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
	    cmocka_unit_test_setup_teardown(test_append_then_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rewrite, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_started_at_not_a_number, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unreadable_queue_kept, setup, teardown),
	    cmocka_unit_test(test_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
