// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration reference stays complete: every key the parser accepts
 * (config_each_key walks its own tables) has a row in docs/configuration.md
 * that starts with "| `KEY` |", and every such row whose key lies in one of
 * the parser's sections names a key the parser accepts. A row anywhere
 * else, or a key merely mentioned in the prose, does not count, so that
 * removing a row fails the test. The metric families are held to
 * docs/metrics.md by tests/e2e/test_textfile.sh, on a real textfile.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define DOCS_FILE "docs/configuration.md"
#define KEYS_MAX 256
#define KEY_MAX 128
#define MESSAGE_MAX 2048

struct key_list {
	char keys[KEYS_MAX][KEY_MAX];
	size_t count;
};

static void collect_key(const char *dotted_key, void *ctx)
{
	struct key_list *list = ctx;

	assert_true(strlen(dotted_key) < KEY_MAX);
	assert_true(list->count < KEYS_MAX);
	snprintf(list->keys[list->count++], KEY_MAX, "%s", dotted_key);
}

static bool list_has(const struct key_list *list, const char *key)
{
	size_t i;

	for (i = 0; i < list->count; i++) {
		if (!strcmp(list->keys[i], key))
			return true;
	}
	return false;
}

/*
 * Tests run from the repository root (tests/run-tests), or from wherever
 * the binary is (build/tests): try both.
 */
static char *read_docs(void)
{
	char exe[PATH_MAX], candidates[2][PATH_MAX + 64], *text;
	ssize_t exe_length;
	FILE *file = NULL;
	size_t size, i;
	long length;

	snprintf(candidates[0], sizeof(candidates[0]), "%s", DOCS_FILE);
	candidates[1][0] = '\0';
	exe_length = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (exe_length > 0) {
		exe[exe_length] = '\0';
		snprintf(candidates[1], sizeof(candidates[1]), "%s/../../%s", dirname(exe),
			 DOCS_FILE);
	}
	for (i = 0; i < 2 && !file; i++) {
		if (candidates[i][0])
			file = fopen(candidates[i], "r");
	}
	if (!file)
		fail_msg("%s not found", DOCS_FILE);
	assert_int_equal(fseek(file, 0, SEEK_END), 0);
	length = ftell(file);
	assert_true(length > 0);
	rewind(file);
	text = calloc(1, (size_t)length + 1);
	assert_non_null(text);
	size = fread(text, 1, (size_t)length, file);
	fclose(file);
	assert_int_equal(size, (size_t)length);
	return text;
}

/* The keys of the rows "| `KEY` |" that start a line. */
static void documented_keys(const char *text, struct key_list *list)
{
	const char *line, *next, *start, *end;

	for (line = text; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if (strncmp(line, "| `", 3))
			continue;
		start = line + 3;
		end = memchr(start, '`', next - start);
		if (!end || strncmp(end, "` |", 3))
			continue;
		assert_true((size_t)(end - start) < KEY_MAX);
		assert_true(list->count < KEYS_MAX);
		snprintf(list->keys[list->count++], KEY_MAX, "%.*s", (int)(end - start), start);
	}
}

/*
 * Adds @name to the message @out (MESSAGE_MAX bytes), after @label when it
 * is the first; what does not fit is left out. The message is compared with
 * "" so that the TAP output, which drops fail_msg()'s text, shows it.
 */
static void append_name(char *out, const char *label, const char *name)
{
	size_t used = strlen(out);

	snprintf(out + used, MESSAGE_MAX - used, "%s %s", used ? "" : label, name);
}

/* True when @key starts with one of the parser's sections: "agent.", "tenants[]." ... */
static bool in_a_section(const struct key_list *accepted, const char *key)
{
	size_t i, length;

	for (i = 0; i < accepted->count; i++) {
		length = strcspn(accepted->keys[i], ".[");
		if (!strncmp(key, accepted->keys[i], length) &&
		    (key[length] == '.' || key[length] == '['))
			return true;
	}
	return false;
}

static void test_keys_listed(void **state)
{
	struct key_list *keys = calloc(1, sizeof(*keys));

	assert_non_null(keys);
	config_each_key(collect_key, keys);
	/* The walk must reach into every kind of table: sections, lists, named entries, floor. */
	assert_true(list_has(keys, "agent.interval"));
	assert_true(list_has(keys, "tenants[].cgroup"));
	assert_true(list_has(keys, "plans.*.cpu"));
	assert_true(list_has(keys, "software.*.action"));
	assert_true(list_has(keys, "relative.floor.forks"));
	assert_true(list_has(keys, "network.scan.window"));
	assert_true(list_has(keys, "alerts.webhook.secret_file"));
	/* Leaves only: a section is not a key of its own. */
	assert_false(list_has(keys, "agent"));
	assert_false(list_has(keys, "relative.floor"));
	assert_false(list_has(keys, "alerts.webhook"));
	free(keys);
}

static void test_every_key_documented(void **state)
{
	struct key_list *accepted = calloc(1, sizeof(*accepted));
	struct key_list *documented = calloc(1, sizeof(*documented));
	char *text = read_docs(), missing[MESSAGE_MAX] = "";
	size_t i;

	assert_non_null(accepted);
	assert_non_null(documented);
	config_each_key(collect_key, accepted);
	documented_keys(text, documented);
	for (i = 0; i < accepted->count; i++) {
		if (!list_has(documented, accepted->keys[i]))
			append_name(missing, DOCS_FILE " has no row \"| `KEY` |\" for:",
				    accepted->keys[i]);
	}
	free(text);
	free(documented);
	free(accepted);
	assert_string_equal(missing, "");
}

static void test_no_unknown_key_documented(void **state)
{
	struct key_list *accepted = calloc(1, sizeof(*accepted));
	struct key_list *documented = calloc(1, sizeof(*documented));
	char *text = read_docs(), unknown[MESSAGE_MAX] = "";
	size_t i;

	assert_non_null(accepted);
	assert_non_null(documented);
	config_each_key(collect_key, accepted);
	documented_keys(text, documented);
	for (i = 0; i < documented->count; i++) {
		if (in_a_section(accepted, documented->keys[i]) &&
		    !list_has(accepted, documented->keys[i]))
			append_name(unknown, DOCS_FILE " has rows for keys the parser does not accept:",
				    documented->keys[i]);
	}
	free(text);
	free(documented);
	free(accepted);
	assert_string_equal(unknown, "");
}

/* The matcher itself: rows count, mentions elsewhere do not. */
static void test_row_convention(void **state)
{
	static const char text[] = "| `agent.interval` | duration |\n"
				   "Prose names `agent.textfile` too.\n"
				   " | `agent.hostname` | indented: not a row start\n"
				   "| `agent.state_dir`| no blank after the span\n"
				   "| `tenants[].plan` |";
	struct key_list *list = calloc(1, sizeof(*list));

	assert_non_null(list);
	documented_keys(text, list);
	assert_int_equal(list->count, 2);
	assert_string_equal(list->keys[0], "agent.interval");
	assert_string_equal(list->keys[1], "tenants[].plan");
	free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_listed),
		cmocka_unit_test(test_row_convention),
		cmocka_unit_test(test_every_key_documented),
		cmocka_unit_test(test_no_unknown_key_documented),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
