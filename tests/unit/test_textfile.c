// SPDX-License-Identifier: GPL-2.0
/* Unit tests for the node_exporter textfile writer (user/sinks/textfile.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "textfile.h"

#define PROMTOOL "/usr/bin/promtool"

struct temp_dir {
	char dir[64];
	char path[128];
	char temp_path[136];
};

static int setup_dir(void **state)
{
	struct temp_dir *temp = calloc(1, sizeof(*temp));

	if (!temp)
		return -1;
	strcpy(temp->dir, "/tmp/abusewatch-test-XXXXXX");
	if (!mkdtemp(temp->dir)) {
		free(temp);
		return -1;
	}
	snprintf(temp->path, sizeof(temp->path), "%s/abusewatch.prom", temp->dir);
	snprintf(temp->temp_path, sizeof(temp->temp_path), "%s.tmp", temp->path);
	*state = temp;
	return 0;
}

static int teardown_dir(void **state)
{
	struct temp_dir *temp = *state;

	unlink(temp->temp_path);
	unlink(temp->path);
	rmdir(temp->dir);
	free(temp);
	return 0;
}

static char *read_whole(const char *path)
{
	FILE *stream = fopen(path, "r");
	char *text = NULL;
	size_t length = 0;
	long size;

	if (!stream)
		return NULL;
	if (fseek(stream, 0, SEEK_END) == 0 && (size = ftell(stream)) >= 0) {
		rewind(stream);
		text = malloc((size_t)size + 1);
		if (text) {
			length = fread(text, 1, (size_t)size, stream);
			text[length] = '\0';
		}
	}
	fclose(stream);
	return text;
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void expect_escape(const char *value, const char *expected)
{
	char out[256];
	size_t length = textfile_escape_label(value, out, sizeof(out));

	assert_string_equal(out, expected);
	assert_int_equal(length, strlen(expected));
}

static void test_escape_specials(void **state)
{
	expect_escape("plain", "plain");
	expect_escape("", "");
	expect_escape("say \"hi\"", "say \\\"hi\\\"");
	expect_escape("C:\\dir", "C:\\\\dir");
	expect_escape("two\nlines", "two\\nlines");
	expect_escape("\\\"\n", "\\\\\\\"\\n");
	/* Other control characters are legal in label values and stay. */
	expect_escape("tab\there", "tab\there");
}

static void test_escape_utf8(void **state)
{
	/* Valid 2-, 3- and 4-byte sequences are kept. */
	expect_escape("caf\xc3\xa9", "caf\xc3\xa9");
	expect_escape("\xe2\x82\xac 5", "\xe2\x82\xac 5");
	expect_escape("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");
	expect_escape("\xef\xbf\xbd", "\xef\xbf\xbd");
	expect_escape("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");

	/* Stray continuation byte and impossible bytes. */
	expect_escape("a\x80z", "a\xef\xbf\xbdz");
	expect_escape("\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd");
	/* Overlong encodings of '/' and NUL-ish values. */
	expect_escape("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");
	expect_escape("\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	expect_escape("\xf0\x80\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* Surrogate U+D800 and a code point above U+10FFFF. */
	expect_escape("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	expect_escape("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* Truncated sequences: the valid prefix becomes one U+FFFD. */
	expect_escape("x\xe2\x82", "x\xef\xbf\xbd");
	expect_escape("\xe2\x82y", "\xef\xbf\xbdy");
	expect_escape("\xf0\x9f\x98\"", "\xef\xbf\xbd\\\"");
	expect_escape("\xc3", "\xef\xbf\xbd");
}

static void test_escape_truncation(void **state)
{
	char out[8];

	/* Like snprintf: the return value is the full length. */
	assert_int_equal(textfile_escape_label("abcdefghij", out, sizeof(out)), 10);
	assert_string_equal(out, "abcdefg");
	/* An escape or a character is never cut in half. */
	assert_int_equal(textfile_escape_label("abcdef\"x", out, sizeof(out)), 9);
	assert_string_equal(out, "abcdef");
	assert_int_equal(textfile_escape_label("abcde\xe2\x82\xac", out, sizeof(out)), 8);
	assert_string_equal(out, "abcde");
	assert_int_equal(textfile_escape_label("abcd\xe2\x82\xac", out, sizeof(out)), 7);
	assert_string_equal(out, "abcd\xe2\x82\xac");
	/* Size 1: just the NUL; size 0: nothing written at all. */
	out[0] = 'X';
	assert_int_equal(textfile_escape_label("abc", out, 1), 3);
	assert_string_equal(out, "");
	out[0] = 'X';
	assert_int_equal(textfile_escape_label("a\nb", out, 0), 4);
	assert_int_equal(out[0], 'X');
	assert_int_equal(textfile_escape_label("a\nb", NULL, 0), 4);
}

static void test_full_file(void **state)
{
	struct temp_dir *temp = *state;
	const struct label labels[] = {
	    {"tenant", "ac\"me"},
	    {"plan", "small\\x"},
	};
	const struct label resource[] = {
	    {"tenant", "t\n1"},
	    {"plan", "default"},
	    {"resource", "cpu"},
	};
	const char *expected =
	    "# HELP abusewatch_tenant_cpu_seconds_total CPU time\\nof the tenant \\\\ \"all\"\n"
	    "# TYPE abusewatch_tenant_cpu_seconds_total counter\n"
	    "abusewatch_tenant_cpu_seconds_total{tenant=\"ac\\\"me\",plan=\"small\\\\x\"} 12.5\n"
	    "# HELP abusewatch_tenant_limit Limit in base units.\n"
	    "# TYPE abusewatch_tenant_limit gauge\n"
	    "abusewatch_tenant_limit{tenant=\"t\\n1\",plan=\"default\",resource=\"cpu\"} 2\n"
	    "# HELP abusewatch_events_lost_total Kernel events dropped.\n"
	    "# TYPE abusewatch_events_lost_total counter\n"
	    "abusewatch_events_lost_total 0\n";
	struct textfile *file;
	char *text;

	file = textfile_open(temp->path);
	assert_non_null(file);
	assert_true(exists(temp->temp_path));
	textfile_family(file, "abusewatch_tenant_cpu_seconds_total", "counter",
			"CPU time\nof the tenant \\ \"all\"");
	textfile_sample(file, "abusewatch_tenant_cpu_seconds_total", labels, 2, 12.5);
	textfile_family(file, "abusewatch_tenant_limit", "gauge", "Limit in base units.");
	textfile_sample(file, "abusewatch_tenant_limit", resource, 3, 2.0);
	textfile_family(file, "abusewatch_events_lost_total", "counter", "Kernel events dropped.");
	textfile_sample(file, "abusewatch_events_lost_total", NULL, 0, 0.0);
	/* Nothing is visible under the final name before the commit. */
	assert_false(exists(temp->path));
	assert_int_equal(textfile_commit(file), 0);

	assert_false(exists(temp->temp_path));
	text = read_whole(temp->path);
	assert_non_null(text);
	assert_string_equal(text, expected);
	free(text);
}

static void test_commit_replaces_old_file(void **state)
{
	struct temp_dir *temp = *state;
	struct textfile *file;
	struct stat st;
	mode_t old_mask;
	char *text;

	/* The mode is 0644 less the umask; fix the umask so the check below is deterministic. */
	old_mask = umask(022);
	file = textfile_open(temp->path);
	umask(old_mask);
	assert_non_null(file);
	textfile_family(file, "a", "gauge", "first");
	textfile_sample(file, "a", NULL, 0, 1);
	assert_int_equal(textfile_commit(file), 0);

	file = textfile_open(temp->path);
	assert_non_null(file);
	textfile_family(file, "b", "gauge", "second");
	textfile_sample(file, "b", NULL, 0, 2);
	assert_int_equal(textfile_commit(file), 0);

	text = read_whole(temp->path);
	assert_non_null(text);
	assert_string_equal(text, "# HELP b second\n# TYPE b gauge\nb 2\n");
	free(text);
	assert_int_equal(stat(temp->path, &st), 0);
	/* node_exporter usually runs as another user and must be able to read it. */
	assert_true(st.st_mode & S_IROTH);
}

static void test_abort_removes_temp(void **state)
{
	struct temp_dir *temp = *state;
	struct textfile *file;

	file = textfile_open(temp->path);
	assert_non_null(file);
	textfile_family(file, "a", "gauge", "dropped");
	textfile_sample(file, "a", NULL, 0, 1);
	assert_true(exists(temp->temp_path));
	textfile_abort(file);
	assert_false(exists(temp->temp_path));
	assert_false(exists(temp->path));
	textfile_abort(NULL);
}

static void test_missing_directory(void **state)
{
	struct temp_dir *temp = *state;
	char path[160];

	snprintf(path, sizeof(path), "%s/missing/abusewatch.prom", temp->dir);
	errno = 0;
	assert_null(textfile_open(path));
	assert_int_equal(errno, ENOENT);
}

static void test_write_error_reported_by_commit(void **state)
{
	struct temp_dir *temp = *state;
	struct rlimit limit = {1024, 1024};
	struct textfile *file;
	char line[512];
	int i, err, status;
	pid_t child;

	/* A file size limit makes writes fail (EFBIG) without needing root or a full disk. */
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &limit))
			_exit(2);
		memset(line, 'x', sizeof(line) - 1);
		line[sizeof(line) - 1] = '\0';
		file = textfile_open(temp->path);
		if (!file)
			_exit(3);
		for (i = 0; i < 64; i++)
			textfile_family(file, "a", "gauge", line);
		err = textfile_commit(file);
		_exit(err == -EFBIG && !exists(temp->temp_path) && !exists(temp->path) ? 0 : 1);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void expect_formatted(double value, const char *expected)
{
	struct temp_dir temp;
	struct textfile *file;
	char wanted[128], *text;

	strcpy(temp.dir, "/tmp/abusewatch-value-XXXXXX");
	assert_non_null(mkdtemp(temp.dir));
	snprintf(temp.path, sizeof(temp.path), "%s/v.prom", temp.dir);
	file = textfile_open(temp.path);
	assert_non_null(file);
	textfile_sample(file, "m", NULL, 0, value);
	assert_int_equal(textfile_commit(file), 0);
	text = read_whole(temp.path);
	unlink(temp.path);
	rmdir(temp.dir);
	assert_non_null(text);
	snprintf(wanted, sizeof(wanted), "m %s\n", expected);
	assert_string_equal(text, wanted);
	free(text);
}

static void test_value_formatting(void **state)
{
	expect_formatted(0, "0");
	expect_formatted(-0.0, "0");
	expect_formatted(1, "1");
	expect_formatted(-42, "-42");
	expect_formatted(1e15, "1000000000000000");
	expect_formatted(9007199254740991.0, "9007199254740991");
	/* From 2^53 on, integers are no longer exact: shortest round-trip form. */
	expect_formatted(9007199254740992.0, "9007199254740992");
	expect_formatted(1e20, "1e+20");
	expect_formatted(0.5, "0.5");
	expect_formatted(12.25, "12.25");
	expect_formatted(0.1, "0.1");
	expect_formatted(1.0 / 3.0, "0.33333333333333331");
	expect_formatted(0.1 + 0.2, "0.30000000000000004");
	expect_formatted(1e-7, "1e-07");
	expect_formatted(123456.789, "123456.789");
	expect_formatted(2.5e-7, "2.5e-07");
	expect_formatted(NAN, "NaN");
	expect_formatted(INFINITY, "+Inf");
	expect_formatted(-INFINITY, "-Inf");
}

/* How a value was printed before the fast paths: snprintf, shortest of %.15g and %.17g. */
static void printf_format(double value, char *out, size_t size)
{
	if (isnan(value)) {
		snprintf(out, size, "NaN");
	} else if (isinf(value)) {
		snprintf(out, size, "%s", value > 0 ? "+Inf" : "-Inf");
	} else if (value == 0) {
		snprintf(out, size, "0");
	} else if (fabs(value) < 9007199254740992.0 && value == (double)(int64_t)value) {
		snprintf(out, size, "%.0f", value);
	} else {
		snprintf(out, size, "%.15g", value);
		if (strtod(out, NULL) != value)
			snprintf(out, size, "%.17g", value);
	}
}

static void expect_like_printf(double value)
{
	char have[TEXTFILE_VALUE_MAX], want[64];
	size_t length = textfile_format_value(value, have);

	printf_format(value, want, sizeof(want));
	if (strcmp(have, want))
		fail_msg("%a: have %s, want %s", value, have, want);
	assert_int_equal(length, strlen(want));
}

static uint64_t xorshift(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/*
 * The digits of values that are not integers, done without snprintf where
 * that can be decided exactly: the same text, for what the textfile holds
 * (CPU seconds from nanoseconds, usage ratios) and for doubles of every
 * magnitude, powers of ten and their neighbours, and exact ties.
 */
static void test_fraction_format(void **state)
{
	uint64_t random = 0x2545f4914f6cdd1dull, bits;
	double value, power;
	int i, e;

	for (i = 0; i < 200000; i++) {
		/* CPU seconds: nanoseconds / 1e9, from a few to many digits. */
		value = (double)(xorshift(&random) >> (xorshift(&random) % 40 + 10)) * 1e-9;
		expect_like_printf(value);
		/* Usage ratios: windowed usage / limit. */
		value = (double)(xorshift(&random) % 100000000) / 1e3 /
			(double)(xorshift(&random) % 1000 + 1) / 60.0;
		expect_like_printf(value);
		/* Any double from 1e-6 to 1e18 or so, either sign. */
		bits = (xorshift(&random) & 0x000fffffffffffffull) |
		       ((uint64_t)(1003 + xorshift(&random) % 80) << 52);
		memcpy(&value, &bits, sizeof(value));
		expect_like_printf(i & 1 ? -value : value);
	}
	for (e = -6; e <= 17; e++) {
		power = pow(10, e);
		expect_like_printf(power);
		expect_like_printf(nextafter(power, 0));
		expect_like_printf(nextafter(power, INFINITY));
		expect_like_printf(power * 0.5);
		expect_like_printf(power * 0.125);
		expect_like_printf(power * 9.9999999999999995);
		expect_like_printf(power * 1.0000000000000005);
	}
	/* Exact ties at 15 and 17 digits, and what rounds up to a new power of ten. */
	expect_like_printf(0.125);
	expect_like_printf(1.0000000000000002);
	expect_like_printf(99999999999999.995);
	expect_like_printf(0.99999999999999994);
	expect_like_printf(123456789.0000005);
	expect_like_printf(0.000123456789012345);
	expect_like_printf(0.00001);
}

/* The digit-by-digit path for integers prints what "%.0f" does. */
static void expect_integer(double value)
{
	char have[TEXTFILE_VALUE_MAX], want[64];
	size_t length = textfile_format_value(value, have);

	if (value == 0)
		strcpy(want, "0");
	else
		snprintf(want, sizeof(want), "%.0f", value);
	assert_string_equal(have, want);
	assert_int_equal(length, strlen(want));
}

static void test_integer_format(void **state)
{
	uint64_t random = 0x9e3779b97f4a7c15ull;
	double power = 1;
	int i;

	for (i = 0; i < 53; i++, power *= 2) {
		expect_integer(power);
		expect_integer(power - 1);
		expect_integer(-power);
		expect_integer(1 - power);
	}
	for (power = 1; power < 1e16; power *= 10) {
		expect_integer(power);
		expect_integer(power - 1);
		expect_integer(-power + 1);
	}
	expect_integer(9007199254740991.0);
	expect_integer(-9007199254740991.0);
	for (i = 0; i < 100000; i++) {
		/* xorshift: integers of every length below 2^53, either sign. */
		random ^= random << 13;
		random ^= random >> 7;
		random ^= random << 17;
		expect_integer((double)(int64_t)((random >> 11) >> (random % 53)) *
			       (random & 1 ? -1 : 1));
	}
}

static void test_touch(void **state)
{
	struct temp_dir *temp = *state;
	struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
	struct stat before, after;
	struct textfile *file;

	file = textfile_open(temp->path);
	assert_non_null(file);
	textfile_sample(file, "a", NULL, 0, 1);
	assert_int_equal(textfile_commit(file), 0);
	assert_int_equal(utimensat(AT_FDCWD, temp->path, old, 0), 0);
	assert_int_equal(stat(temp->path, &before), 0);

	assert_int_equal(textfile_touch(temp->path), 0);
	assert_int_equal(stat(temp->path, &after), 0);
	assert_int_equal(after.st_ino, before.st_ino);
	assert_true(after.st_mtime > before.st_mtime);
	assert_int_equal(after.st_size, before.st_size);

	assert_int_equal(unlink(temp->path), 0);
	assert_int_equal(textfile_touch(temp->path), -ENOENT);
	assert_false(exists(temp->path));
	assert_int_equal(textfile_touch(""), -EINVAL);
}

/* Lines in place, pieces larger than the buffer, and everything in order. */
static void test_space_and_large_writes(void **state)
{
	struct temp_dir *temp = *state;
	size_t large = (3 << 20) + 17, i, offset = 0, lines = 50000;
	char *expected = malloc(large + lines * 16), *text, *space;
	struct textfile *file;

	assert_non_null(expected);
	file = textfile_open(temp->path);
	assert_non_null(file);
	for (i = 0; i < lines; i++) {
		char line[16];
		int length = snprintf(line, sizeof(line), "l %zu\n", i);

		space = textfile_space(file, (size_t)length);
		assert_non_null(space);
		memcpy(space, line, (size_t)length);
		memcpy(expected + offset, line, (size_t)length);
		offset += (size_t)length;
		if (i == lines / 2) {
			/* Past a whole buffer: no room to hand out, written through instead. */
			assert_null(textfile_space(file, large));
			memset(expected + offset, '#', large);
			textfile_write(file, expected + offset, large);
			offset += large;
		}
	}
	assert_int_equal(textfile_commit(file), 0);
	expected[offset] = '\0';
	text = read_whole(temp->path);
	assert_non_null(text);
	assert_int_equal(strlen(text), offset);
	assert_true(memcmp(text, expected, offset) == 0);
	free(text);
	free(expected);
}

static void test_promtool(void **state)
{
	struct temp_dir *temp = *state;
	const struct label first[] = {
	    {"tenant", "we\"ird\\ten\nant"},
	    {"plan", "caf\xc3\xa9 \xff bad"},
	};
	const struct label second[] = {
	    {"tenant", "plain"},
	    {"plan", "default"},
	};
	const struct label kind[] = {{"kind", "overuse"}};
	char command[256];
	struct textfile *file;
	int status;

	if (access(PROMTOOL, X_OK))
		skip();
	file = textfile_open(temp->path);
	assert_non_null(file);
	textfile_family(file, "abusewatch_tenant_cpu_seconds_total", "counter",
			"CPU seconds used by the tenant's cgroups.\nSecond \\ line.");
	textfile_sample(file, "abusewatch_tenant_cpu_seconds_total", first, 2, 1.5);
	textfile_sample(file, "abusewatch_tenant_cpu_seconds_total", second, 2, 3);
	textfile_family(file, "abusewatch_tenant_memory_bytes", "gauge",
			"Resident memory of the tenant's cgroups.");
	textfile_sample(file, "abusewatch_tenant_memory_bytes", first, 2, 1073741824);
	textfile_sample(file, "abusewatch_tenant_memory_bytes", second, 2, NAN);
	textfile_family(file, "abusewatch_alerts_total", "counter", "Alerts raised.");
	textfile_sample(file, "abusewatch_alerts_total", kind, 1, 7);
	textfile_family(file, "abusewatch_tenant_usage_ratio", "gauge", "Usage / limit.");
	textfile_sample(file, "abusewatch_tenant_usage_ratio", second, 2, 0.1 + 0.2);
	assert_int_equal(textfile_commit(file), 0);

	snprintf(command, sizeof(command), "%s check metrics < '%s'", PROMTOOL, temp->path);
	status = system(command);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape_specials),
	    cmocka_unit_test(test_escape_utf8),
	    cmocka_unit_test(test_escape_truncation),
	    cmocka_unit_test_setup_teardown(test_full_file, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_commit_replaces_old_file, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_abort_removes_temp, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_missing_directory, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_write_error_reported_by_commit, setup_dir,
					    teardown_dir),
	    cmocka_unit_test(test_value_formatting),
	    cmocka_unit_test(test_integer_format),
	    cmocka_unit_test(test_fraction_format),
	    cmocka_unit_test_setup_teardown(test_touch, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_space_and_large_writes, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_promtool, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
