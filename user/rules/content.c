// SPDX-License-Identifier: GPL-2.0
/*
 * YARA rules and scans of executables (see content.h).
 *
 * libyara keeps global state (yr_initialize, reference-counted): each
 * compiled rule set holds one reference for its life, so the library is
 * initialised exactly while rules exist. Rules are shared between the
 * agent's thread, which compiles and replaces them, and the digest
 * worker, which scans: an atomic reference count frees them after the
 * last scan that used them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yara.h>

#include "content.h"
#include "files.h"
#include "log.h"

extern const char software_miners_yar[], software_miners_yar_end[];
extern const char software_scanners_yar[], software_scanners_yar_end[];

static const char builtin_prefix[] = "builtin:";

struct content_rules {
	atomic_uint references;
	uint32_t generation;
	YR_RULES *rules;	/* NULL: no sources */
	char *sources[CONTENT_SOURCES_MAX];
	unsigned int source_count;
};

const char *content_builtin_rules(const char *set, size_t *length)
{
	const char *start = NULL, *end = NULL;

	if (!strcmp(set, "miners")) {
		start = software_miners_yar;
		end = software_miners_yar_end;
	} else if (!strcmp(set, "scanners")) {
		start = software_scanners_yar;
		end = software_scanners_yar_end;
	}
	*length = start ? (size_t)(end - start) : 0;
	return start;
}

/* The first error libyara reports, as "FILE:LINE: message"; warnings are not errors. */
struct compile_errors {
	char *why;
	size_t why_size;
	bool have;
};

static void note_compile_error(int level, const char *file, int line, const YR_RULE *rule,
			       const char *message, void *ctx)
{
	struct compile_errors *errors = ctx;

	if (level != YARA_ERROR_LEVEL_ERROR || errors->have)
		return;
	errors->have = true;
	snprintf(errors->why, errors->why_size, "%s:%d: %s", file ? file : "?", line, message);
}

/* Adds one source: the text of a built-in set, or the file @source names. */
static int add_source(YR_COMPILER *compiler, const char *source, struct compile_errors *errors)
{
	char why[160], *text = NULL;
	const char *builtin;
	size_t length;
	struct stat st;
	FILE *file;
	int err, failed;

	if (!strncmp(source, builtin_prefix, sizeof(builtin_prefix) - 1)) {
		builtin = content_builtin_rules(source + sizeof(builtin_prefix) - 1, &length);
		if (!builtin)
			return 0;
		/* The file name in errors; a built-in set that fails is a bug of this build. */
		yr_compiler_set_callback(compiler, note_compile_error, errors);
		failed = yr_compiler_add_string(compiler, builtin, source);
		return failed ? -EINVAL : 0;
	}
	/* A device or a fifo is no rule file: not even opened. */
	if (!stat(source, &st) && !S_ISREG(st.st_mode)) {
		snprintf(errors->why, errors->why_size, "%s: not a regular file", source);
		errors->have = true;
		return -EINVAL;
	}
	/* Rules decide what the agent kills: only a file no one else can change. */
	err = files_read_trusted(source, 16 * 1024 * 1024, &text, &length, why, sizeof(why));
	if (err) {
		snprintf(errors->why, errors->why_size, "%s: %s%s", source,
			 err == -EPERM ? why : strerror(-err),
			 err == -EPERM ? ": refused (chown root and chmod go-w it)" : "");
		errors->have = true;
		return err;
	}
	if (!length) {
		free(text);
		return 0;
	}
	/*
	 * Read here, with the checks on the file opened, then compiled from
	 * memory: add_file is the call that names the file in its errors.
	 */
	yr_compiler_set_callback(compiler, note_compile_error, errors);
	file = fmemopen(text, length, "r");
	if (!file) {
		err = -errno;
		free(text);
		return err;
	}
	failed = yr_compiler_add_file(compiler, file, source, source);
	fclose(file);
	free(text);
	return failed ? -EINVAL : 0;
}

static size_t write_image(const void *data, size_t size, size_t count, void *file)
{
	return fwrite(data, size, count, file);
}

static size_t read_image(void *data, size_t size, size_t count, void *file)
{
	return fread(data, size, count, file);
}

/*
 * libyara (4.2) compiles into buffers that start at 1 MiB each and are
 * zero-filled as they grow: some 8 MiB resident for the few hundred KiB
 * the built-in sets take. The same rules saved and loaded again (as yarac
 * and `yara -C` do) keep each buffer at about its used size. When this
 * fails for want of memory, the rules as compiled stay: they scan alike.
 */
static void compact_rules(YR_RULES **rules)
{
	YR_STREAM stream = { 0 };
	YR_RULES *loaded = NULL;
	char *image = NULL;
	size_t size = 0;
	FILE *file;
	int failed;

	file = open_memstream(&image, &size);
	if (!file)
		return;
	stream.user_data = file;
	stream.write = write_image;
	failed = yr_rules_save_stream(*rules, &stream);
	if (fclose(file) || failed)
		goto cleanup;
	file = fmemopen(image, size, "r");
	if (!file)
		goto cleanup;
	stream.user_data = file;
	stream.read = read_image;
	failed = yr_rules_load_stream(&stream, &loaded);
	fclose(file);
	if (failed)
		goto cleanup;
	yr_rules_destroy(*rules);
	*rules = loaded;
cleanup:
	free(image);
}

static int compile_sources(char *const *sources, unsigned int count, YR_RULES **rules,
			   char *why, size_t why_size)
{
	struct compile_errors errors = { .why = why, .why_size = why_size };
	YR_COMPILER *compiler = NULL;
	unsigned int i;
	int err;

	*rules = NULL;
	if (yr_compiler_create(&compiler) != ERROR_SUCCESS) {
		snprintf(why, why_size, "YARA compiler: out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < count; i++) {
		err = add_source(compiler, sources[i], &errors);
		if (err) {
			if (!errors.have)
				snprintf(why, why_size, "%s: cannot compile", sources[i]);
			goto cleanup;
		}
	}
	err = yr_compiler_get_rules(compiler, rules) == ERROR_SUCCESS ? 0 : -ENOMEM;
	if (err)
		snprintf(why, why_size, "YARA rules: out of memory");
cleanup:
	yr_compiler_destroy(compiler);
	return err;
}

int content_check_file(const char *path, char *why, size_t why_size)
{
	char *sources[1] = { (char *)path };
	YR_RULES *rules;
	int err;

	if (yr_initialize() != ERROR_SUCCESS) {
		snprintf(why, why_size, "libyara cannot start");
		return -ENOMEM;
	}
	err = compile_sources(sources, 1, &rules, why, why_size);
	if (!err)
		yr_rules_destroy(rules);
	yr_finalize();
	return err;
}

static bool has_source(const struct content_rules *rules, const char *source)
{
	unsigned int i;

	for (i = 0; i < rules->source_count; i++)
		if (!strcmp(rules->sources[i], source))
			return true;
	return false;
}

static int add_source_name(struct content_rules *rules, const char *source)
{
	if (has_source(rules, source))
		return 0;
	if (rules->source_count >= CONTENT_SOURCES_MAX)
		return -E2BIG;
	rules->sources[rules->source_count] = strdup(source);
	if (!rules->sources[rules->source_count])
		return -ENOMEM;
	rules->source_count++;
	return 0;
}

/* Built-in sets with rules first, then operator files, each once. */
static int collect_sources(struct content_rules *rules, const struct config *config)
{
	const struct software_policy *policy;
	size_t i, j, length;
	int err = 0;

	for (i = 0; !err && i < config->software_count; i++) {
		policy = &config->software[i];
		for (j = 0; !err && j < policy->deny_count; j++) {
			if (strncmp(policy->deny[j], builtin_prefix, sizeof(builtin_prefix) - 1) ||
			    !content_builtin_rules(policy->deny[j] + sizeof(builtin_prefix) - 1,
						   &length))
				continue;
			err = add_source_name(rules, policy->deny[j]);
		}
	}
	for (i = 0; !err && i < config->software_count; i++) {
		policy = &config->software[i];
		for (j = 0; !err && j < policy->yara_count; j++)
			err = add_source_name(rules, policy->yara[j]);
	}
	return err;
}

struct content_rules *content_rules_new(const struct config *config, uint32_t generation,
					char *why, size_t why_size)
{
	struct content_rules *rules = calloc(1, sizeof(*rules));
	unsigned int i;
	int err;

	if (!rules) {
		snprintf(why, why_size, "out of memory");
		return NULL;
	}
	atomic_init(&rules->references, 1);
	err = collect_sources(rules, config);
	/* No rules scan alike whatever the generation: results of before stay good. */
	rules->generation = rules->source_count ? generation : 0;
	if (err) {
		snprintf(why, why_size, "%s", err == -E2BIG ? "too many YARA rule files" :
							     "out of memory");
		goto free_sources;
	}
	if (!rules->source_count)
		return rules;
	if (yr_initialize() != ERROR_SUCCESS) {
		snprintf(why, why_size, "libyara cannot start");
		err = -ENOMEM;
		goto free_sources;
	}
	err = compile_sources(rules->sources, rules->source_count, &rules->rules, why, why_size);
	if (err) {
		yr_finalize();
		goto free_sources;
	}
	compact_rules(&rules->rules);
	return rules;

free_sources:
	for (i = 0; i < rules->source_count; i++)
		free(rules->sources[i]);
	free(rules);
	errno = -err;
	return NULL;
}

bool content_rules_empty(const struct content_rules *rules)
{
	return !rules || !rules->rules;
}

uint32_t content_rules_generation(const struct content_rules *rules)
{
	return rules ? rules->generation : 0;
}

const char *content_rules_source(const struct content_rules *rules, unsigned int index)
{
	return rules && index < rules->source_count ? rules->sources[index] : NULL;
}

struct content_rules *content_rules_get(struct content_rules *rules)
{
	if (rules)
		atomic_fetch_add(&rules->references, 1);
	return rules;
}

void content_rules_put(struct content_rules *rules)
{
	unsigned int i;

	if (!rules || atomic_fetch_sub(&rules->references, 1) != 1)
		return;
	if (rules->rules) {
		yr_rules_destroy(rules->rules);
		yr_finalize();
	}
	for (i = 0; i < rules->source_count; i++)
		free(rules->sources[i]);
	free(rules);
}

struct scan_ctx {
	const struct content_rules *rules;
	struct content_result *result;
};

/* Keeps the matched rule's namespace and name: nothing of what it matched. */
static int note_match(YR_SCAN_CONTEXT *context, int message, void *data, void *ctx)
{
	struct scan_ctx *scan = ctx;
	struct content_result *result = scan->result;
	const YR_RULE *rule = data;
	unsigned int i;

	if (message != CALLBACK_MSG_RULE_MATCHING)
		return CALLBACK_CONTINUE;
	for (i = 0; i < scan->rules->source_count; i++) {
		if (strcmp(scan->rules->sources[i], rule->ns->name))
			continue;
		result->matches[result->count].source = (uint16_t)i;
		snprintf(result->matches[result->count].rule, CONTENT_RULE_NAME_MAX, "%s",
			 rule->identifier);
		result->count++;
		break;
	}
	return result->count < CONTENT_MATCHES_MAX ? CALLBACK_CONTINUE : CALLBACK_ABORT;
}

int content_rules_scan(struct content_rules *rules, int fd, uint64_t size,
		       struct content_result *result)
{
	struct scan_ctx scan = { .rules = rules, .result = result };
	int failed;

	memset(result, 0, sizeof(*result));
	result->generation = content_rules_generation(rules);
	if (content_rules_empty(rules))
		return 0;
	if (size > CONTENT_SCAN_MAX_BYTES) {
		result->state = CONTENT_TOO_LARGE;
		return 0;
	}
	/* Fast mode: one match of a string is enough, as the rules only count them. */
	failed = yr_rules_scan_fd(rules->rules, fd, SCAN_FLAGS_FAST_MODE, note_match, &scan,
				  CONTENT_SCAN_TIMEOUT_S);
	if (failed == ERROR_SUCCESS) {
		result->state = CONTENT_SCANNED;
		return 0;
	}
	result->state = CONTENT_FAILED;
	return failed == ERROR_SCAN_TIMEOUT ? -ETIMEDOUT : -EIO;
}
