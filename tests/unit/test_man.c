// SPDX-License-Identifier: GPL-2.0
/*
 * The man pages stay complete. An item counts as described when it is the
 * tag of a .TP paragraph: the first word of the tag, or of each of its
 * alternatives separated by ", " ("-c, --config FILE" describes -c and
 * --config). A mention in the text does not count, so that removing an
 * item's paragraph fails the test.
 *
 * What must be described comes from the program, not from other docs:
 * abusewatch(8): the commands and options (read from the sources of the
 * command line: the command table, the getopt tables and the strcmp()s of
 * main), the metric families (the # TYPE lines of a textfile that
 * metrics_write makes) and the alert record's fields (alert_to_json of a
 * full alert of each kind), plus every field row of docs/alerts.md;
 * abusewatch.yaml(5): every key the parser accepts (config_each_key). The
 * other way round, a tag that looks like an option, a metric family or a
 * key of one of the parser's sections must name a real one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glob.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "config.h"
#include "metrics.h"

#define PAGE_8 "docs/man/abusewatch.8"
#define PAGE_5 "docs/man/abusewatch.yaml.5"
#define ALERTS_DOC "docs/alerts.md"
#define NAMES_MAX 512
#define NAME_LENGTH_MAX 128
#define LINE_MAX_LENGTH 1024
#define MESSAGE_MAX 4096

struct name_list {
	char names[NAMES_MAX][NAME_LENGTH_MAX];
	size_t count;
};

/* Where docs/ and user/ are: the working directory, or two up from build/tests. */
static char repo_root[PATH_MAX];

static struct name_list *list_new(void)
{
	struct name_list *list = calloc(1, sizeof(*list));

	assert_non_null(list);
	return list;
}

static bool list_has(const struct name_list *list, const char *name)
{
	size_t i;

	for (i = 0; i < list->count; i++) {
		if (!strcmp(list->names[i], name))
			return true;
	}
	return false;
}

/* Adds the first @length bytes of @name, once. */
static void list_add(struct name_list *list, const char *name, size_t length)
{
	char copy[NAME_LENGTH_MAX];

	if (!length || length >= NAME_LENGTH_MAX)
		return;
	snprintf(copy, sizeof(copy), "%.*s", (int)length, name);
	if (list_has(list, copy))
		return;
	assert_true(list->count < NAMES_MAX);
	memcpy(list->names[list->count++], copy, length + 1);
}

static void collect_key(const char *dotted_key, void *ctx)
{
	list_add(ctx, dotted_key, strlen(dotted_key));
}

static int find_repo_root(void **state)
{
	char exe[PATH_MAX];
	ssize_t length;

	if (access(PAGE_8, R_OK) == 0) {
		snprintf(repo_root, sizeof(repo_root), ".");
		return 0;
	}
	length = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (length <= 0)
		return -1;
	exe[length] = '\0';
	/* build/tests/test_man: the root is two up. */
	if ((size_t)snprintf(repo_root, sizeof(repo_root), "%.4000s/../..", dirname(exe)) >=
	    sizeof(repo_root))
		return -1;
	return 0;
}

static char *read_file(const char *relative)
{
	char path[PATH_MAX * 2], *text;
	FILE *file;
	long length;
	size_t size;

	snprintf(path, sizeof(path), "%s/%s", repo_root, relative);
	file = fopen(path, "r");
	if (!file)
		fail_msg("%s not found", relative);
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

/*
 * The text a roff line shows, fonts dropped: a macro line's arguments
 * (quoted or not) joined as the font macros join them, escapes turned into
 * what they print where a name can contain them.
 */
static void roff_plain(const char *line, char *out, size_t size)
{
	char joined[LINE_MAX_LENGTH];
	const char *in = line;
	size_t used = 0, kept = 0;
	bool quoted = false;

	if (*in == '.') {
		/* The macro's name, then its arguments with the blanks between them dropped. */
		in += strcspn(in, " ");
		for (; *in && used + 1 < sizeof(joined); in++) {
			if (*in == '"') {
				if (quoted && in[1] == '"')
					joined[used++] = *++in;
				else
					quoted = !quoted;
			} else if (*in != ' ' || quoted) {
				joined[used++] = *in;
			}
		}
		joined[used] = '\0';
		in = joined;
	}
	for (; *in && kept + 1 < size; in++) {
		if (*in != '\\') {
			out[kept++] = *in;
			continue;
		}
		switch (*++in) {
		case 'f': /* \fB, \f(CW */
			if (in[1] == '(' && in[2] && in[3])
				in += 3;
			else if (in[1])
				in++;
			break;
		case '(': /* \(dq and other two-letter glyphs */
			if (in[1] && in[2]) {
				out[kept++] = in[1] == 'd' && in[2] == 'q' ? '"' : '?';
				in += 2;
			}
			break;
		case '-':
			out[kept++] = '-';
			break;
		case 'e':
			out[kept++] = '\\';
			break;
		case ' ':
			out[kept++] = ' ';
			break;
		case '\0':
			in--;
			break;
		default: /* \c, \&, \| and the like print nothing */
			break;
		}
	}
	out[kept] = '\0';
}

/* The names the .TP tags of @page describe. */
static void man_tags(const char *page, struct name_list *tags)
{
	char line[LINE_MAX_LENGTH], plain[LINE_MAX_LENGTH];
	const char *cursor = page, *next, *alternative, *end;
	bool tag_next = false;
	size_t length;

	for (; *cursor; cursor = next) {
		next = strchr(cursor, '\n');
		next = next ? next + 1 : cursor + strlen(cursor);
		length = (size_t)(next - cursor);
		while (length && (cursor[length - 1] == '\n'))
			length--;
		snprintf(line, sizeof(line), "%.*s", (int)length, cursor);
		if (!strncmp(line, ".\\\"", 3))
			continue;
		if (!strcmp(line, ".TP")) {
			tag_next = true;
			continue;
		}
		if (!tag_next)
			continue;
		tag_next = false;
		roff_plain(line, plain, sizeof(plain));
		for (alternative = plain; *alternative; alternative = end) {
			length = strcspn(alternative, " ,");
			list_add(tags, alternative, length);
			end = strstr(alternative, ", ");
			end = end ? end + 2 : alternative + strlen(alternative);
		}
	}
}

/* Appends @name to @out (MESSAGE_MAX bytes), after @label when it is the first. */
static void append_name(char *out, const char *label, const char *name)
{
	size_t used = strlen(out);

	snprintf(out + used, MESSAGE_MAX - used, "%s %s", used ? "" : label, name);
}

/* Every name of @wanted not among @tags, as one message (compared with "" to show it). */
static void expect_described(const struct name_list *wanted, const struct name_list *tags,
			     const char *label)
{
	char *missing = calloc(1, MESSAGE_MAX);
	size_t i;

	assert_non_null(missing);
	for (i = 0; i < wanted->count; i++) {
		if (!list_has(tags, wanted->names[i]))
			append_name(missing, label, wanted->names[i]);
	}
	assert_string_equal(missing, "");
	free(missing);
}

/* Each "quoted" string right after @marker in @text. */
static void quoted_after(const char *text, const char *marker, struct name_list *names)
{
	const char *at = text, *start, *end;

	while ((at = strstr(at, marker))) {
		at += strlen(marker);
		/* strcmp(argv[1], commands[i].name) names no word. */
		if (*at != '"')
			continue;
		start = at + 1;
		end = strchr(start, '"');
		if (!end)
			break;
		list_add(names, start, (size_t)(end - start));
		at = end + 1;
	}
}

/*
 * The commands and options of the command line, from its sources: every C
 * file under user/, for the command table may grow a file a command.
 *   { "run", do_run },                         a command
 *   { "config", required_argument, NULL, 'c' } --config
 *   getopt_long(argc, argv, "c:v", ...)        -c and -v
 *   !strcmp(argv[1], "--version")              a word of main
 */
static void command_line_names(struct name_list *commands, struct name_list *options)
{
	static const char *const patterns[] = {"user/*.c", "user/*/*.c"};
	static const char *const argument_kinds[] = {"\", no_argument", "\", required_argument",
						     "\", optional_argument"};
	char pattern[PATH_MAX + 32], *text, *letters, *dash;
	const char *at, *start, *end;
	struct name_list *words = list_new();
	glob_t found = {0};
	size_t p, f, k, i;

	for (p = 0; p < 2; p++) {
		snprintf(pattern, sizeof(pattern), "%s/%s", repo_root, patterns[p]);
		glob(pattern, p ? GLOB_APPEND : 0, NULL, &found);
	}
	assert_true(found.gl_pathc > 0);
	for (f = 0; f < found.gl_pathc; f++) {
		text = read_file(found.gl_pathv[f] + strlen(repo_root) + 1);
		/* Commands: "{ "NAME", do_" */
		for (at = text; (at = strstr(at, "{ \"")); at = end) {
			start = at + 3;
			end = strchr(start, '"');
			if (!end)
				break;
			if (!strncmp(end, "\", do_", 6))
				list_add(commands, start, (size_t)(end - start));
			for (k = 0; k < 3; k++) {
				if (!strncmp(end, argument_kinds[k], strlen(argument_kinds[k]))) {
					char option[NAME_LENGTH_MAX];

					snprintf(option, sizeof(option), "--%.*s",
						 (int)(end - start), start);
					list_add(options, option, strlen(option));
				}
			}
		}
		/* Short options: the letters of getopt_long's third argument. */
		for (at = text; (at = strstr(at, "getopt_long(")); at = end) {
			start = strchr(at, '"');
			end = start ? strchr(start + 1, '"') : NULL;
			if (!end)
				break;
			letters = strndup(start + 1, (size_t)(end - start - 1));
			assert_non_null(letters);
			for (i = 0; letters[i]; i++) {
				char option[3] = {'-', letters[i], '\0'};

				if (letters[i] != ':')
					list_add(options, option, 2);
			}
			free(letters);
		}
		quoted_after(text, "strcmp(argv[1], ", words);
		free(text);
	}
	globfree(&found);
	/* main's own words: --version and -V are options; help is a command. */
	for (i = 0; i < words->count; i++) {
		dash = words->names[i];
		list_add(*dash == '-' ? options : commands, dash, strlen(dash));
	}
	free(words);
}

/* The # TYPE lines of a textfile without tenants: every family is there. */
static void metric_families(struct name_list *families)
{
	char dir[] = "/tmp/abusewatch-test-man.XXXXXX", path[sizeof(dir) + 16];
	struct relative_config relative = {.factor = 10, .min_tenants = 5};
	struct metrics_snapshot snapshot = {.relative = &relative, .version = "0.0.0"};
	char *text, *line, *save = NULL;
	FILE *file;
	long length;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m.prom", dir);
	assert_int_equal(metrics_write(path, &snapshot), 0);
	metrics_forget();
	file = fopen(path, "r");
	assert_non_null(file);
	fseek(file, 0, SEEK_END);
	length = ftell(file);
	rewind(file);
	text = calloc(1, (size_t)length + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)length, file), (size_t)length);
	fclose(file);
	unlink(path);
	rmdir(dir);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "# TYPE ", 7))
			list_add(families, line + 7, strcspn(line + 7, " "));
	}
	free(text);
}

/* The fields of records of every kind, each with every field set. */
static void record_fields(struct name_list *fields)
{
	struct alert alerts[] = {
	    {.kind = ALERT_OVERUSE,
	     .firing = true,
	     .time = 1795462230.5,
	     .host = "h",
	     .tenant = "t",
	     .plan = "p",
	     .cgroup = "/c",
	     .resource = "cpu",
	     .value = 3,
	     .limit = 2,
	     .window_s = 60,
	     .rule = "plan",
	     .reason = "r"},
	    {.kind = ALERT_UNAUTHORIZED_SOFTWARE,
	     .firing = true,
	     .time = 1795462230.5,
	     .host = "h",
	     .tenant = "t",
	     .plan = "p",
	     .cgroup = "/c",
	     .rule = "name",
	     .reason = "r",
	     .exe = "/tmp/x",
	     .sha256 = "00",
	     .comm = "x",
	     .pid = 42,
	     .action = "kill",
	     .action_result = "killed pid 42"},
	    {.kind = ALERT_NETWORK_ABUSE,
	     .firing = false,
	     .time = 1795462230.5,
	     .host = "h",
	     .tenant = "t",
	     .plan = "p",
	     .cgroup = "/c",
	     .rule = "pool_port",
	     .reason = "r",
	     .dst_port = 3333,
	     .destinations = 201},
	};
	struct json_object *record;
	size_t i;

	for (i = 0; i < sizeof(alerts) / sizeof(alerts[0]); i++) {
		record = alert_to_json(&alerts[i]);
		assert_non_null(record);
		json_object_object_foreach(record, key, value)
		{
			(void)value;
			list_add(fields, key, strlen(key));
		}
		json_object_put(record);
	}
}

/* The field rows of docs/alerts.md's record table: "| `FIELD` | type |" under "## The alert
 * record". */
static void documented_fields(struct name_list *fields)
{
	char *text = read_file(ALERTS_DOC), *section, *stop;
	const char *line, *next, *end;

	section = strstr(text, "\n## The alert record");
	assert_non_null(section);
	stop = strstr(section + 1, "\n## ");
	if (stop)
		*stop = '\0';
	for (line = section; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if (strncmp(line, "| `", 3))
			continue;
		end = strchr(line + 3, '`');
		if (end && end < next)
			list_add(fields, line + 3, (size_t)(end - line - 3));
	}
	free(text);
}

static void test_tag_parsing(void **state)
{
	static const char page[] = ".TH X 8\n"
				   ".TP\n"
				   ".BR \\-c \", \" \\-\\-config \" \\fIFILE\\fR\"\n"
				   "text that mentions --interval\n"
				   ".TP\n"
				   ".\\\" a comment between the macro and its tag\n"
				   "\\fBabusewatch_build_info\\fR (gauge)\n"
				   ".TP\n"
				   ".BR tenant \", \" plan \" (string)\"\n"
				   ".TP\n"
				   ".BI check\\-config \" FILE\"\n"
				   ".B run\n";
	struct name_list *tags = list_new();

	man_tags(page, tags);
	assert_int_equal(tags->count, 6);
	assert_true(list_has(tags, "-c"));
	assert_true(list_has(tags, "--config"));
	assert_true(list_has(tags, "abusewatch_build_info"));
	assert_true(list_has(tags, "tenant"));
	assert_true(list_has(tags, "plan"));
	assert_true(list_has(tags, "check-config"));
	assert_false(list_has(tags, "--interval"));
	assert_false(list_has(tags, "run"));
	free(tags);
}

/* The sources must yield what the program is known to have, or the scan is broken. */
static void test_sources_scanned(void **state)
{
	struct name_list *commands = list_new(), *options = list_new();
	struct name_list *families = list_new(), *fields = list_new();

	command_line_names(commands, options);
	assert_true(list_has(commands, "run"));
	assert_true(list_has(commands, "check-config"));
	assert_true(list_has(commands, "top"));
	assert_true(list_has(commands, "help"));
	assert_true(list_has(options, "-c"));
	assert_true(list_has(options, "--config"));
	assert_true(list_has(options, "--duration"));
	assert_true(list_has(options, "--version"));
	metric_families(families);
	assert_true(list_has(families, "abusewatch_tenant_cpu_seconds_total"));
	assert_true(list_has(families, "abusewatch_build_info"));
	assert_true(families->count >= 19);
	record_fields(fields);
	assert_true(list_has(fields, "time"));
	assert_true(list_has(fields, "action_result"));
	assert_true(list_has(fields, "destinations"));
	free(commands);
	free(options);
	free(families);
	free(fields);
}

static void test_page8_commands_and_options(void **state)
{
	struct name_list *commands = list_new(), *options = list_new(), *tags = list_new();
	char *page = read_file(PAGE_8), *unknown = calloc(1, MESSAGE_MAX);
	size_t i;

	assert_non_null(unknown);
	command_line_names(commands, options);
	man_tags(page, tags);
	expect_described(commands, tags, PAGE_8 " has no .TP paragraph for the command(s):");
	expect_described(options, tags, PAGE_8 " has no .TP paragraph for the option(s):");
	for (i = 0; i < tags->count; i++) {
		if (!strncmp(tags->names[i], "--", 2) && !list_has(options, tags->names[i]))
			append_name(unknown,
				    PAGE_8 " describes options the program lacks:", tags->names[i]);
	}
	assert_string_equal(unknown, "");
	free(unknown);
	free(page);
	free(commands);
	free(options);
	free(tags);
}

static void test_page8_metric_families(void **state)
{
	struct name_list *families = list_new(), *tags = list_new();
	char *page = read_file(PAGE_8), *unknown = calloc(1, MESSAGE_MAX);
	size_t i;

	assert_non_null(unknown);
	metric_families(families);
	man_tags(page, tags);
	expect_described(families, tags,
			 PAGE_8 " has no .TP paragraph for the metric family(ies):");
	for (i = 0; i < tags->count; i++) {
		if (!strncmp(tags->names[i], "abusewatch_", 11) &&
		    !list_has(families, tags->names[i]))
			append_name(unknown, PAGE_8 " describes families the textfile lacks:",
				    tags->names[i]);
	}
	assert_string_equal(unknown, "");
	free(unknown);
	free(page);
	free(families);
	free(tags);
}

static void test_page8_record_fields(void **state)
{
	struct name_list *fields = list_new(), *tags = list_new();
	char *page = read_file(PAGE_8);

	record_fields(fields);
	documented_fields(fields);
	man_tags(page, tags);
	expect_described(fields, tags, PAGE_8 " has no .TP paragraph for the record field(s):");
	free(page);
	free(fields);
	free(tags);
}

/* True when @name starts with one of the parser's sections: "agent.", "tenants[]." ... */
static bool in_a_section(const struct name_list *keys, const char *name)
{
	size_t i, length;

	for (i = 0; i < keys->count; i++) {
		length = strcspn(keys->names[i], ".[");
		if (!strncmp(name, keys->names[i], length) &&
		    (name[length] == '.' || name[length] == '['))
			return true;
	}
	return false;
}

static void test_page5_keys(void **state)
{
	struct name_list *keys = list_new(), *tags = list_new();
	char *page = read_file(PAGE_5), *unknown = calloc(1, MESSAGE_MAX);
	size_t i;

	assert_non_null(unknown);
	config_each_key(collect_key, keys);
	assert_true(list_has(keys, "relative.floor.forks"));
	man_tags(page, tags);
	expect_described(keys, tags, PAGE_5 " has no .TP paragraph for the key(s):");
	for (i = 0; i < tags->count; i++) {
		if (in_a_section(keys, tags->names[i]) && !list_has(keys, tags->names[i]))
			append_name(unknown, PAGE_5 " describes keys the parser does not accept:",
				    tags->names[i]);
	}
	assert_string_equal(unknown, "");
	free(unknown);
	free(page);
	free(keys);
	free(tags);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tag_parsing),
	    cmocka_unit_test(test_sources_scanned),
	    cmocka_unit_test(test_page8_commands_and_options),
	    cmocka_unit_test(test_page8_metric_families),
	    cmocka_unit_test(test_page8_record_fields),
	    cmocka_unit_test(test_page5_keys),
	};

	return cmocka_run_group_tests(tests, find_repo_root, NULL);
}
