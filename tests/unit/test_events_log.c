// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/sinks/events_log.c: what reaches the file and when, that
 * every record stays one parseable line, rotation and compression, and
 * recovery when the file goes away or the disk fills.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <zlib.h>

#include "events_log.h"
#include "log.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The buffer bound in events_log.c; the overflow test depends on it. */
#define BUFFER_LIMIT (64 << 20)
/* A directory entry's name, with its NUL. */
#define NAME_LENGTH 256

struct fixture {
	char directory[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *fixture = calloc(1, sizeof(*fixture));

	if (!fixture)
		return -1;
	strcpy(fixture->directory, "/tmp/events_log_test.XXXXXX");
	if (!mkdtemp(fixture->directory)) {
		free(fixture);
		return -1;
	}
	snprintf(fixture->path, sizeof(fixture->path), "%s/events.jsonl", fixture->directory);
	/* Only the test that checks what is logged wants the messages. */
	log_set_level(LOG_LEVEL_ERROR);
	*state = fixture;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *fixture = *state;
	int err;

	err = nftw(fixture->directory, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fixture);
	return err;
}

static struct json_object *make_record(int seq, const char *message)
{
	struct json_object *record = json_object_new_object();

	assert_non_null(record);
	json_object_object_add(record, "seq", json_object_new_int(seq));
	json_object_object_add(record, "message", json_object_new_string(message));
	return record;
}

static void append_record(struct events_log *log, int seq, const char *message)
{
	struct json_object *record = make_record(seq, message);

	assert_int_equal(events_log_append(log, record), 0);
	json_object_put(record);
}

/* The whole of @path, NUL-terminated for the parsers below. */
static char *read_text(const char *path)
{
	char *text = NULL, chunk[4096];
	size_t length = 0, n;
	FILE *stream, *out;

	stream = fopen(path, "r");
	if (!stream)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	out = open_memstream(&text, &length);
	assert_non_null(out);
	while ((n = fread(chunk, 1, sizeof(chunk), stream)) > 0)
		fwrite(chunk, 1, n, out);
	fclose(out);
	fclose(stream);
	return text;
}

static char *read_gzip_text(const char *path)
{
	char *text = NULL, chunk[4096];
	size_t length = 0;
	gzFile gz;
	FILE *out;
	int n;

	gz = gzopen(path, "rb");
	if (!gz)
		fail_msg("cannot open %s", path);
	out = open_memstream(&text, &length);
	assert_non_null(out);
	while ((n = gzread(gz, chunk, sizeof(chunk))) > 0)
		fwrite(chunk, 1, n, out);
	if (n < 0)
		fail_msg("%s does not decompress", path);
	fclose(out);
	assert_int_equal(gzclose(gz), Z_OK);
	return text;
}

/*
 * Appends the "seq" of every line of @text to @seqs (from *@count on),
 * failing unless each line is one whole JSON object ending in a newline.
 */
static void collect_seqs(const char *text, const char *what, int *seqs, size_t capacity,
			 size_t *count)
{
	const char *line = text, *newline;
	struct json_object *record, *seq;
	char *copy;

	while (*line) {
		newline = strchr(line, '\n');
		if (!newline)
			fail_msg("%s ends in half a line", what);
		copy = strndup(line, newline - line);
		assert_non_null(copy);
		record = json_tokener_parse(copy);
		if (!record || !json_object_object_get_ex(record, "seq", &seq))
			fail_msg("%s has a line that is not a record: %s", what, copy);
		assert_true(*count < capacity);
		seqs[(*count)++] = json_object_get_int(seq);
		json_object_put(record);
		free(copy);
		line = newline + 1;
	}
}

static size_t count_seqs(const char *path, int *seqs, size_t capacity)
{
	size_t count = 0;
	char *text = read_text(path);

	collect_seqs(text, path, seqs, capacity, &count);
	free(text);
	return count;
}

static void check_consecutive(const int *seqs, size_t count, int first)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (seqs[i] != first + (int)i)
			fail_msg("record %zu is seq %d, not %d", i, seqs[i], first + (int)i);
}

static off_t file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		fail_msg("%s is missing: %s", path, strerror(errno));
	return st.st_size;
}

/* Sorted names in @directory, skipping dot entries; returns how many. */
static size_t list_directory(const char *directory, char names[][NAME_LENGTH], size_t capacity)
{
	struct dirent *entry;
	size_t count = 0;
	DIR *dir;

	dir = opendir(directory);
	assert_non_null(dir);
	while ((entry = readdir(dir))) {
		if (entry->d_name[0] == '.')
			continue;
		assert_true(count < capacity);
		snprintf(names[count++], NAME_LENGTH, "%s", entry->d_name);
	}
	closedir(dir);
	qsort(names, count, NAME_LENGTH, (int (*)(const void *, const void *))strcmp);
	return count;
}

static void test_lines_appear_after_flush(void **state)
{
	struct fixture *fixture = *state;
	struct events_log *log;
	int seqs[8];

	log = events_log_open(fixture->path, 0, 0);
	assert_non_null(log);
	assert_int_equal(file_size(fixture->path), 0);
	append_record(log, 0, "first");
	append_record(log, 1, "second");
	append_record(log, 2, "third");
	assert_int_equal(file_size(fixture->path), 0);
	assert_int_equal(events_log_flush(log), 0);
	assert_int_equal(count_seqs(fixture->path, seqs, ARRAY_SIZE(seqs)), 3);
	check_consecutive(seqs, 3, 0);

	append_record(log, 3, "fourth");
	assert_int_equal(count_seqs(fixture->path, seqs, ARRAY_SIZE(seqs)), 3);
	/* The second flush has nothing left to write: no line twice. */
	assert_int_equal(events_log_flush(log), 0);
	assert_int_equal(events_log_flush(log), 0);
	assert_int_equal(count_seqs(fixture->path, seqs, ARRAY_SIZE(seqs)), 4);
	append_record(log, 4, "written by close");
	events_log_close(log);
	assert_int_equal(count_seqs(fixture->path, seqs, ARRAY_SIZE(seqs)), 5);
	check_consecutive(seqs, 5, 0);
}

/* Each line of @path must parse back to the object appended in its place. */
static void check_round_trip(const char *path, struct json_object **records, size_t count)
{
	char *text = read_text(path), *line = text, *newline, *p;
	struct json_object *parsed;
	size_t i;

	for (i = 0; i < count; i++) {
		newline = strchr(line, '\n');
		if (!newline)
			fail_msg("record %zu is not on a line of its own", i);
		*newline = '\0';
		/* Raw control characters would break line-oriented readers. */
		for (p = line; *p; p++)
			if ((unsigned char)*p < 0x20)
				fail_msg("record %zu has a raw control character: %s", i, line);
		parsed = json_tokener_parse(line);
		if (!parsed || !json_object_equal(parsed, records[i]))
			fail_msg("record %zu came back as %s", i, line);
		json_object_put(parsed);
		line = newline + 1;
	}
	assert_string_equal(line, "");
	free(text);
}

static void test_records_round_trip(void **state)
{
	struct fixture *fixture = *state;
	struct json_object *records[5], *nested;
	struct events_log *log;
	size_t i;

	records[0] = json_object_new_object();
	json_object_object_add(records[0], "int", json_object_new_int64(-42));
	json_object_object_add(records[0], "big", json_object_new_uint64(18446744073709551615ULL));
	json_object_object_add(records[0], "double", json_object_new_double(0.125));
	json_object_object_add(records[0], "true", json_object_new_boolean(1));
	json_object_object_add(records[0], "null", NULL);
	records[1] = json_object_new_array();
	json_object_array_add(records[1], json_object_new_string("a"));
	json_object_array_add(records[1], json_object_new_int(1));
	nested = json_object_new_object();
	json_object_object_add(nested, "inner", json_object_new_array());
	json_object_array_add(records[1], nested);
	records[2] = json_object_new_object();
	records[3] = json_object_new_string("just a string");
	records[4] = json_object_new_int(7);

	log = events_log_open(fixture->path, 0, 0);
	assert_non_null(log);
	for (i = 0; i < ARRAY_SIZE(records); i++)
		assert_int_equal(events_log_append(log, records[i]), 0);
	assert_int_equal(events_log_flush(log), 0);
	check_round_trip(fixture->path, records, ARRAY_SIZE(records));
	events_log_close(log);
	for (i = 0; i < ARRAY_SIZE(records); i++)
		json_object_put(records[i]);
}

static void test_awkward_strings_stay_one_line(void **state)
{
	static const char *const strings[] = {
	    "say \"hi\"",
	    "back\\slash",
	    "two\nlines",
	    "carriage\r\nreturn",
	    "tab\there",
	    /* One string: parentheses tell clang the two literals are joined on purpose. */
	    ("\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17"
	     "\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"),
	    "caf\xc3\xa9 \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
	    "/usr/bin/</script>",
	    "",
	};
	struct json_object *records[ARRAY_SIZE(strings) + 1];
	struct fixture *fixture = *state;
	struct events_log *log;
	char *text;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(strings); i++) {
		records[i] = json_object_new_object();
		json_object_object_add(records[i], "comm", json_object_new_string(strings[i]));
	}
	/* An embedded NUL must survive as \u0000, not cut the string. */
	records[i] = json_object_new_object();
	json_object_object_add(records[i], "nul", json_object_new_string_len("a\0b", 3));

	log = events_log_open(fixture->path, 0, 0);
	assert_non_null(log);
	for (i = 0; i < ARRAY_SIZE(records); i++)
		assert_int_equal(events_log_append(log, records[i]), 0);
	assert_int_equal(events_log_flush(log), 0);
	check_round_trip(fixture->path, records, ARRAY_SIZE(records));
	text = read_text(fixture->path);
	/* Slashes are left alone (JSON_C_TO_STRING_NOSLASHESCAPE). */
	assert_non_null(strstr(text, "\"/usr/bin/</script>\""));
	free(text);
	events_log_close(log);
	for (i = 0; i < ARRAY_SIZE(records); i++)
		json_object_put(records[i]);
}

/* Rotated files must really be gzip: gzread() would pass plain text through. */
static char *read_compressed(const char *path)
{
	unsigned char magic[2] = {0};
	FILE *stream;

	stream = fopen(path, "rb");
	if (!stream)
		fail_msg("%s is missing: %s", path, strerror(errno));
	assert_int_equal(fread(magic, 1, 2, stream), 2);
	fclose(stream);
	if (magic[0] != 0x1f || magic[1] != 0x8b)
		fail_msg("%s is not gzip", path);
	return read_gzip_text(path);
}

/*
 * Appends and flushes one record at a time until the log has rotated
 * @rotations times. boundary[r] is the first seq written after rotation r,
 * so rotation r holds seqs boundary[r - 1] up to boundary[r].
 */
static int write_until_rotated(struct events_log *log, const char *path, int rotations,
			       int *boundary)
{
	char message[101];
	int seq = 0, done = 0;

	memset(message, 'x', sizeof(message) - 1);
	message[sizeof(message) - 1] = '\0';
	boundary[0] = 0;
	while (done < rotations) {
		append_record(log, seq++, message);
		assert_int_equal(events_log_flush(log), 0);
		/* Rotation happens after the write, so a rotated log is empty. */
		if (file_size(path) == 0)
			boundary[++done] = seq;
		if (seq > 100000)
			fail_msg("only %d rotations after %d records", done, seq);
	}
	return seq;
}

#define ROTATIONS 5
#define KEEP 3

static void test_rotation_keeps_newest(void **state)
{
	static const char *const expected[] = {
	    "events.jsonl",
	    "events.jsonl.1.gz",
	    "events.jsonl.2.gz",
	    "events.jsonl.3.gz",
	};
	struct fixture *fixture = *state;
	int boundary[ROTATIONS + 1], next, rotation, seqs[4096];
	size_t count = 0, before, i;
	char names[16][NAME_LENGTH], name[192], *text;
	struct events_log *log;
	unsigned int k;

	log = events_log_open(fixture->path, 4096, KEEP);
	assert_non_null(log);
	next = write_until_rotated(log, fixture->path, ROTATIONS, boundary);
	for (i = 0; i < 3; i++)
		append_record(log, next++, "after the last rotation");
	events_log_close(log);

	assert_int_equal(list_directory(fixture->directory, names, ARRAY_SIZE(names)),
			 ARRAY_SIZE(expected));
	for (i = 0; i < ARRAY_SIZE(expected); i++)
		assert_string_equal(names[i], expected[i]);

	/* Oldest kept first: .3.gz holds rotation 3, .1.gz the last one. */
	for (k = KEEP; k >= 1; k--) {
		snprintf(name, sizeof(name), "%s.%u.gz", fixture->path, k);
		text = read_compressed(name);
		assert_true(strlen(text) >= 4096);
		before = count;
		collect_seqs(text, name, seqs, ARRAY_SIZE(seqs), &count);
		free(text);
		rotation = ROTATIONS + 1 - k;
		assert_int_equal(count - before, boundary[rotation] - boundary[rotation - 1]);
		check_consecutive(seqs + before, count - before, boundary[rotation - 1]);
	}
	text = read_text(fixture->path);
	collect_seqs(text, fixture->path, seqs, ARRAY_SIZE(seqs), &count);
	free(text);
	/* Everything from the oldest kept rotation on, in order; only older ones are gone. */
	assert_int_equal(count, next - boundary[ROTATIONS - KEEP]);
	check_consecutive(seqs, count, boundary[ROTATIONS - KEEP]);
}

static void test_rotation_keep_zero(void **state)
{
	struct fixture *fixture = *state;
	int boundary[4], next, seqs[256];
	struct events_log *log;
	char names[8][NAME_LENGTH];
	size_t count;

	log = events_log_open(fixture->path, 4096, 0);
	assert_non_null(log);
	next = write_until_rotated(log, fixture->path, 3, boundary);
	append_record(log, next++, "after the last rotation");
	events_log_close(log);

	assert_int_equal(list_directory(fixture->directory, names, ARRAY_SIZE(names)), 1);
	assert_string_equal(names[0], "events.jsonl");
	count = count_seqs(fixture->path, seqs, ARRAY_SIZE(seqs));
	assert_int_equal(count, next - boundary[3]);
	check_consecutive(seqs, count, boundary[3]);
}

static void test_creates_directory(void **state)
{
	struct fixture *fixture = *state;
	char directory[128], path[192];
	struct events_log *log;
	struct stat st;
	mode_t umask_before;
	int seqs[4];

	snprintf(directory, sizeof(directory), "%s/a/b/c", fixture->directory);
	snprintf(path, sizeof(path), "%s/events.jsonl", directory);
	umask_before = umask(022);
	log = events_log_open(path, 0, 0);
	umask(umask_before);
	assert_non_null(log);
	assert_int_equal(stat(directory, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	append_record(log, 0, "in a new directory");
	events_log_close(log);
	assert_int_equal(count_seqs(path, seqs, ARRAY_SIZE(seqs)), 1);
	assert_int_equal(seqs[0], 0);
}

static void test_reopens_removed_file(void **state)
{
	struct fixture *fixture = *state;
	char directory[128], path[192], moved[200];
	struct events_log *log;
	int seqs[4];

	snprintf(directory, sizeof(directory), "%s/sub", fixture->directory);
	snprintf(path, sizeof(path), "%s/events.jsonl", directory);
	snprintf(moved, sizeof(moved), "%s/moved.jsonl", fixture->directory);
	log = events_log_open(path, 0, 0);
	assert_non_null(log);
	append_record(log, 0, "before");
	assert_int_equal(events_log_flush(log), 0);

	/* Deleted behind our back: the next record still lands at path. */
	assert_int_equal(unlink(path), 0);
	append_record(log, 1, "after unlink");
	assert_int_equal(events_log_flush(log), 0);
	assert_int_equal(count_seqs(path, seqs, ARRAY_SIZE(seqs)), 1);
	assert_int_equal(seqs[0], 1);

	/* Moved away (an outside logrotate): the moved file gets nothing more. */
	assert_int_equal(rename(path, moved), 0);
	append_record(log, 2, "after rename");
	assert_int_equal(events_log_flush(log), 0);
	assert_int_equal(count_seqs(path, seqs, ARRAY_SIZE(seqs)), 1);
	assert_int_equal(seqs[0], 2);
	assert_int_equal(count_seqs(moved, seqs, ARRAY_SIZE(seqs)), 1);
	assert_int_equal(seqs[0], 1);

	/* Replaced by a new file (logrotate's "create"): that one is written. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mknod(path, S_IFREG | 0640, 0), 0);
	append_record(log, 3, "after replacing");
	assert_int_equal(events_log_flush(log), 0);
	assert_int_equal(count_seqs(path, seqs, ARRAY_SIZE(seqs)), 1);
	assert_int_equal(seqs[0], 3);

	/* Its directory gone too: made again. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(directory), 0);
	append_record(log, 4, "after rmdir");
	assert_int_equal(events_log_flush(log), 0);
	assert_int_equal(count_seqs(path, seqs, ARRAY_SIZE(seqs)), 1);
	assert_int_equal(seqs[0], 4);
	events_log_close(log);
}

static void test_compresses_stale_rotating(void **state)
{
	struct fixture *fixture = *state;
	char rotating[192], name[192], names[8][NAME_LENGTH], *text;
	struct events_log *log;
	size_t count = 0;
	int seqs[8];
	FILE *stream;
	gzFile gz;

	/* A crashed run left a rotated file, and there is an older compressed one. */
	snprintf(rotating, sizeof(rotating), "%s.rotating", fixture->path);
	stream = fopen(rotating, "w");
	assert_non_null(stream);
	fputs("{\"seq\":100}\n{\"seq\":101}\n{\"seq\":102}\n", stream);
	fclose(stream);
	snprintf(name, sizeof(name), "%s.1.gz", fixture->path);
	gz = gzopen(name, "wb");
	assert_non_null(gz);
	gzputs(gz, "{\"seq\":50}\n");
	assert_int_equal(gzclose(gz), Z_OK);

	log = events_log_open(fixture->path, 0, 2);
	assert_non_null(log);
	events_log_close(log);

	assert_int_equal(list_directory(fixture->directory, names, ARRAY_SIZE(names)), 3);
	assert_string_equal(names[0], "events.jsonl");
	assert_string_equal(names[1], "events.jsonl.1.gz");
	assert_string_equal(names[2], "events.jsonl.2.gz");
	text = read_compressed(name);
	collect_seqs(text, name, seqs, ARRAY_SIZE(seqs), &count);
	free(text);
	assert_int_equal(count, 3);
	check_consecutive(seqs, count, 100);
	snprintf(name, sizeof(name), "%s.2.gz", fixture->path);
	text = read_compressed(name);
	count = 0;
	collect_seqs(text, name, seqs, ARRAY_SIZE(seqs), &count);
	free(text);
	assert_int_equal(count, 1);
	assert_int_equal(seqs[0], 50);
}

static size_t count_occurrences(const char *text, const char *needle)
{
	size_t count = 0;

	while ((text = strstr(text, needle))) {
		count++;
		text += strlen(needle);
	}
	return count;
}

/* A record whose line is exactly @line_length bytes with its newline. */
static struct json_object *make_sized_record(int seq, size_t line_length)
{
	struct json_object *record;
	size_t base;
	char *pad;

	record = make_record(seq, "");
	base = strlen(json_object_to_json_string_ext(record, JSON_C_TO_STRING_PLAIN));
	json_object_put(record);
	pad = malloc(line_length - base);
	assert_non_null(pad);
	memset(pad, 'p', line_length - base - 1);
	pad[line_length - base - 1] = '\0';
	record = make_record(seq, pad);
	free(pad);
	assert_int_equal(strlen(json_object_to_json_string_ext(record, JSON_C_TO_STRING_PLAIN)),
			 line_length - 1);
	return record;
}

#define LINE_LENGTH 16384
#define OVERFLOW 10

static void test_failed_writes_are_kept(void **state)
{
	const int total = BUFFER_LIMIT / LINE_LENGTH + OVERFLOW;
	struct fixture *fixture = *state;
	char captured[192], *messages;
	struct json_object *record;
	struct events_log *log;
	int saved_stderr, fd, i;
	static int seqs[BUFFER_LIMIT / LINE_LENGTH];
	size_t count;

	/* Every write to /dev/full fails with ENOSPC: a disk that stays full. */
	assert_int_equal(symlink("/dev/full", fixture->path), 0);
	log = events_log_open(fixture->path, 0, 0);
	assert_non_null(log);

	snprintf(captured, sizeof(captured), "%s/stderr.txt", fixture->directory);
	fd = open(captured, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
	log_set_level(LOG_LEVEL_INFO);

	for (i = 0; i < total; i++) {
		record = make_sized_record(i, LINE_LENGTH);
		assert_int_equal(events_log_append(log, record), 0);
		json_object_put(record);
		if (i % 1000 == 999)
			assert_int_equal(events_log_flush(log), -ENOSPC);
	}
	assert_int_equal(events_log_flush(log), -ENOSPC);
	/* 64 MiB hold exactly BUFFER_LIMIT / LINE_LENGTH lines: the oldest went. */
	assert_int_equal(events_log_dropped(log), OVERFLOW);

	/* Space again (a fresh file at path): everything kept is written, in order. */
	assert_int_equal(unlink(fixture->path), 0);
	assert_int_equal(events_log_flush(log), 0);

	log_set_level(LOG_LEVEL_ERROR);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);

	count = count_seqs(fixture->path, seqs, ARRAY_SIZE(seqs));
	assert_int_equal(count, total - OVERFLOW);
	check_consecutive(seqs, count, OVERFLOW);
	assert_int_equal(file_size(fixture->path), (off_t)count * LINE_LENGTH);
	events_log_close(log);

	/* Five failed flushes, one message for the failure and one for the end of it. */
	messages = read_text(captured);
	assert_int_equal(count_occurrences(messages, " error "), 1);
	assert_int_equal(count_occurrences(messages, "No space left on device"), 1);
	assert_int_equal(count_occurrences(messages, "dropping the oldest"), 1);
	assert_int_equal(count_occurrences(messages, "writing again"), 1);
	free(messages);
	assert_int_equal(unlink(captured), 0);
}

static void append_sized(struct events_log *log, int first, int count, size_t line_length)
{
	struct json_object *record;
	int seq;

	for (seq = first; seq < first + count; seq++) {
		record = make_sized_record(seq, line_length);
		assert_int_equal(events_log_append(log, record), 0);
		json_object_put(record);
	}
}

/*
 * A write cut short halfway through a line (here by RLIMIT_FSIZE): the half
 * line is cut off the file again, so the retry writes it whole, once.
 */
static void test_short_write_cut_back(void **state)
{
	struct fixture *fixture = *state;
	struct rlimit saved, limit;
	struct events_log *log;
	void (*saved_handler)(int);
	int seqs[8];
	size_t count;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	/* Past the limit write() fails with EFBIG instead of killing us. */
	saved_handler = signal(SIGXFSZ, SIG_IGN);
	log = events_log_open(fixture->path, 0, 0);
	assert_non_null(log);
	append_sized(log, 0, 3, 300);
	assert_int_equal(events_log_flush(log), 0);

	limit = saved;
	limit.rlim_cur = 1450;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);
	append_sized(log, 3, 3, 300);
	assert_int_equal(events_log_flush(log), -EFBIG);
	/* Seq 3 went whole, seq 4 was cut at 250 bytes and taken back. */
	assert_int_equal(file_size(fixture->path), 1200);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, saved_handler);

	assert_int_equal(events_log_flush(log), 0);
	count = count_seqs(fixture->path, seqs, ARRAY_SIZE(seqs));
	assert_int_equal(count, 6);
	check_consecutive(seqs, count, 0);
	assert_int_equal(file_size(fixture->path), 1800);
	events_log_close(log);
}

/*
 * The log cannot be opened at first (a file where its directory should
 * be): records wait, the failure is logged once, and once the way is
 * clear every record is written, in order.
 */
static void test_unopenable_then_writable(void **state)
{
	struct fixture *fixture = *state;
	char blocker[128], path[192], captured[192], *messages;
	int saved_stderr, fd, seqs[16], i;
	struct events_log *log;
	FILE *stream;
	size_t count;

	snprintf(blocker, sizeof(blocker), "%s/logs", fixture->directory);
	snprintf(path, sizeof(path), "%s/events.jsonl", blocker);
	stream = fopen(blocker, "w");
	assert_non_null(stream);
	fclose(stream);

	snprintf(captured, sizeof(captured), "%s/stderr.txt", fixture->directory);
	fd = open(captured, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	log_set_level(LOG_LEVEL_INFO);

	log = events_log_open(path, 0, 0);
	assert_non_null(log);
	for (i = 0; i < 10; i++) {
		append_record(log, i, "while the log cannot be opened");
		assert_int_equal(events_log_flush(log), -ENOTDIR);
	}
	assert_int_equal(unlink(blocker), 0);
	append_record(log, 10, "once it can");
	assert_int_equal(events_log_flush(log), 0);
	events_log_close(log);

	log_set_level(LOG_LEVEL_ERROR);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	count = count_seqs(path, seqs, ARRAY_SIZE(seqs));
	assert_int_equal(count, 11);
	check_consecutive(seqs, count, 0);
	messages = read_text(captured);
	assert_int_equal(count_occurrences(messages, "Not a directory"), 1);
	assert_int_equal(count_occurrences(messages, "writing again"), 1);
	free(messages);
}

/* The file 0640, its directory 0750, a compressed one 0640: whatever the umask. */
static void test_modes(void **state)
{
	static const mode_t masks[] = {0, 077};
	struct fixture *fixture = *state;
	char directory[128], path[192], name[220];
	struct events_log *log;
	int boundary[2];
	struct stat st;
	mode_t saved;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(masks); i++) {
		saved = umask(masks[i]);
		snprintf(directory, sizeof(directory), "%s/logs-%zu", fixture->directory, i);
		snprintf(path, sizeof(path), "%s/events.jsonl", directory);
		log = events_log_open(path, 4096, 1);
		assert_non_null(log);
		write_until_rotated(log, path, 1, boundary);
		events_log_close(log);
		umask(saved);
		assert_int_equal(stat(directory, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0750);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0640);
		snprintf(name, sizeof(name), "%s.1.gz", path);
		assert_int_equal(stat(name, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0640);
	}
}

static void test_bad_arguments(void **state)
{
	struct fixture *fixture = *state;
	struct json_object *record;
	struct events_log *log;
	char path[192];
	FILE *stream;

	events_log_close(NULL);
	assert_int_equal(events_log_flush(NULL), -EINVAL);
	assert_int_equal(events_log_dropped(NULL), 0);
	record = make_record(0, "nowhere");
	assert_int_equal(events_log_append(NULL, record), -EINVAL);
	json_object_put(record);

	errno = 0;
	assert_null(events_log_open(NULL, 0, 0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(events_log_open("", 0, 0));
	assert_int_equal(errno, EINVAL);

	/*
	 * A regular file where a directory should be, the log itself a
	 * directory: opened all the same, the failure reported by every
	 * flush until it can be written (test_unopenable_then_writable).
	 */
	snprintf(path, sizeof(path), "%s/file", fixture->directory);
	stream = fopen(path, "w");
	assert_non_null(stream);
	fclose(stream);
	snprintf(path, sizeof(path), "%s/file/events.jsonl", fixture->directory);
	log = events_log_open(path, 0, 0);
	assert_non_null(log);
	assert_int_equal(events_log_flush(log), -ENOTDIR);
	events_log_close(log);
	log = events_log_open(fixture->directory, 0, 0);
	assert_non_null(log);
	assert_int_equal(events_log_flush(log), -EISDIR);
	events_log_close(log);

	/* No record is not a "null" line. */
	log = events_log_open(fixture->path, 0, 0);
	assert_non_null(log);
	assert_int_equal(events_log_append(log, NULL), -EINVAL);
	events_log_close(log);
	assert_int_equal(file_size(fixture->path), 0);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_lines_appear_after_flush),
	    TEST(test_records_round_trip),
	    TEST(test_awkward_strings_stay_one_line),
	    TEST(test_rotation_keeps_newest),
	    TEST(test_rotation_keep_zero),
	    TEST(test_creates_directory),
	    TEST(test_reopens_removed_file),
	    TEST(test_compresses_stale_rotating),
	    TEST(test_failed_writes_are_kept),
	    TEST(test_short_write_cut_back),
	    TEST(test_unopenable_then_writable),
	    TEST(test_modes),
	    TEST(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
