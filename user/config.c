// SPDX-License-Identifier: GPL-2.0
/*
 * Configuration: libyaml's document API keeps a position on every node, so
 * each check can name FILE:LINE:COL. Each mapping is walked against a small
 * table of known keys; every problem is collected (not only the first) and
 * the lines are sorted by position before they are handed back.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config.h"
#include "content.h"
#include "files.h"
#include "log.h"
#include "software_builtin.h"
#include "units.h"

#define CONFIG_PATH_MAX 256
#define CONFIG_MESSAGE_MAX 512
/* Far more than any configuration; a larger file is a mistake (-EFBIG). */
#define CONFIG_FILE_MAX (64u << 20)
#define CONFIG_DEFAULT_TEXTFILE "/var/lib/node_exporter/textfile_collector/abusewatch.prom"

struct config_error {
	int line;		/* 1-based */
	int column;		/* 1-based */
	size_t sequence;	/* keeps qsort stable for one position */
	char *message;
};

enum reference_kind {
	REFERENCE_PLAN,		/* a tenant rule's plan */
	REFERENCE_SOFTWARE,	/* a plan's software policy */
};

/* A name that can only be checked once every section is read. */
struct reference {
	enum reference_kind kind;
	yaml_node_t *node;
	char path[CONFIG_PATH_MAX];
};

struct parse_ctx {
	const char *name;
	yaml_document_t *document;
	struct config *config;
	struct config_error *errors;
	size_t error_count;
	struct reference *references;
	size_t reference_count;
	const struct pattern *rule_pattern;	/* of the tenant rule being read */
	bool out_of_memory;
};

struct field;

typedef void (*field_handler)(struct parse_ctx *ctx, yaml_node_t *node, void *base,
			      const struct field *field, const char *path);
/* Checks one string value (alone or in a list) in place. */
typedef void (*string_check)(struct parse_ctx *ctx, yaml_node_t *node, char *value,
			     const char *path);

enum field_kind {
	FIELD_STRING,		/* char * */
	FIELD_STRINGS,		/* char ** and its size_t count */
	FIELD_DURATION,		/* uint64_t ms, zero allowed */
	FIELD_INTERVAL,		/* uint64_t ms, more than zero */
	FIELD_COUNT,		/* unsigned int, at least .arg */
	FIELD_NUMBER,		/* double, at least .arg */
	FIELD_SIZE,		/* uint64_t bytes, zero allowed */
	FIELD_NODE,		/* yaml_node_t *, for the caller to look at */
	FIELD_SECTION,		/* a nested mapping described by .fields */
	FIELD_CUSTOM,		/* .handler */
};

struct field {
	const char *key;
	enum field_kind kind;
	size_t offset;		/* of the member in the walked struct */
	size_t count_offset;	/* FIELD_STRINGS */
	string_check check;	/* FIELD_STRING, FIELD_STRINGS */
	const struct field *fields;	/* FIELD_SECTION */
	field_handler handler;	/* FIELD_CUSTOM */
	int arg;
	/* A family of keys (every resource): true for a member, setting .arg. */
	bool (*match)(const char *key, int *arg);
};

#define FIELD_AT(key_name, field_kind, type, member)                                           \
	{ .key = key_name, .kind = field_kind, .offset = offsetof(type, member) }
#define FIELD_COUNT_AT(key_name, type, member, minimum)                                        \
	{ .key = key_name, .kind = FIELD_COUNT, .offset = offsetof(type, member), .arg = minimum }
#define FIELD_SECTION_AT(key_name, type, member, section_fields)                               \
	{ .key = key_name, .kind = FIELD_SECTION, .offset = offsetof(type, member),             \
	  .fields = section_fields }
#define FIELD_CALL(key_name, handler_fn)                                                       \
	{ .key = key_name, .kind = FIELD_CUSTOM, .handler = handler_fn }
#define FIELD_END { .key = NULL }

#define member_of(base, offset, type) ((type *)((char *)(base) + (offset)))


/* ---- errors ------------------------------------------------------------ */

static void *parse__alloc(struct parse_ctx *ctx, void *ptr, size_t count, size_t size)
{
	void *result;

	/* calloc(0) may return NULL; an empty list is not out of memory. */
	result = ptr ? reallocarray(ptr, count ? count : 1, size) : calloc(count ? count : 1, size);
	if (!result)
		ctx->out_of_memory = true;
	return result;
}

static char *parse__strdup(struct parse_ctx *ctx, const char *text)
{
	char *copy = strdup(text);

	if (!copy)
		ctx->out_of_memory = true;
	return copy;
}

static void parse__error_at(struct parse_ctx *ctx, yaml_mark_t mark, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * A value quoted in a message can hold any byte a scalar can (a folded
 * plain scalar holds newlines): control characters become escapes (\n,
 * \xNN), so that an error stays one line, as config_parse() promises.
 */
static void parse__escape_controls(const char *text, char *out, size_t size)
{
	size_t used = 0;
	unsigned char c;

	for (; (c = (unsigned char)*text) && used + 5 < size; text++) {
		if (c == '\n')
			used += snprintf(out + used, size - used, "\\n");
		else if (c < 0x20 || c == 0x7f)
			used += snprintf(out + used, size - used, "\\x%02x", c);
		else
			out[used++] = (char)c;
	}
	out[used] = '\0';
}

/* @mark is libyaml's, 0-based; the stored position is 1-based. */
static void parse__error_at(struct parse_ctx *ctx, yaml_mark_t mark, const char *fmt, ...)
{
	struct config_error *errors, *error;
	char text[CONFIG_MESSAGE_MAX], message[CONFIG_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	parse__escape_controls(text, message, sizeof(message));

	errors = parse__alloc(ctx, ctx->errors, ctx->error_count + 1, sizeof(*errors));
	if (!errors)
		return;
	ctx->errors = errors;
	error = &errors[ctx->error_count];
	error->line = (int)mark.line + 1;
	error->column = (int)mark.column + 1;
	error->sequence = ctx->error_count;
	error->message = parse__strdup(ctx, message);
	if (error->message)
		ctx->error_count++;
}

#define parse__error(ctx, node, ...) parse__error_at(ctx, (node)->start_mark, __VA_ARGS__)

/*
 * The position of byte @offset of a scalar's value. Only plain and quoted
 * scalars on one line without escapes map byte for byte onto the source
 * (libyaml counts columns in characters, so non-ASCII text also falls back);
 * anything else points at the value itself.
 */
static yaml_mark_t parse__mark_inside(const yaml_node_t *node, size_t offset)
{
	yaml_mark_t mark = node->start_mark;
	size_t quotes, width;

	switch (node->data.scalar.style) {
	case YAML_PLAIN_SCALAR_STYLE:
		quotes = 0;
		break;
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		quotes = 1;
		break;
	default:
		return mark;
	}
	width = node->end_mark.column - node->start_mark.column;
	if (node->end_mark.line == mark.line && width == node->data.scalar.length + 2 * quotes &&
	    offset <= node->data.scalar.length)
		mark.column += quotes + offset;
	return mark;
}

static int config__compare_errors(const void *a, const void *b)
{
	const struct config_error *left = a, *right = b;

	if (left->line != right->line)
		return left->line < right->line ? -1 : 1;
	if (left->column != right->column)
		return left->column < right->column ? -1 : 1;
	return left->sequence < right->sequence ? -1 : left->sequence > right->sequence;
}

/* Joins the errors, sorted by position, into "NAME:LINE:COL: message\n" lines. */
static char *config__format_errors(struct parse_ctx *ctx)
{
	char *text = NULL;
	size_t size = 0, i;
	FILE *stream;

	stream = open_memstream(&text, &size);
	if (!stream)
		return NULL;
	qsort(ctx->errors, ctx->error_count, sizeof(*ctx->errors), config__compare_errors);
	for (i = 0; i < ctx->error_count; i++)
		fprintf(stream, "%s:%d:%d: %s\n", ctx->name, ctx->errors[i].line,
			ctx->errors[i].column, ctx->errors[i].message);
	if (fclose(stream)) {
		free(text);
		text = NULL;
	}
	return text;
}

/* ---- nodes ------------------------------------------------------------- */

static yaml_node_t *parse__node(struct parse_ctx *ctx, int index)
{
	return yaml_document_get_node(ctx->document, index);
}

static const char *parse__text(const yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

/* A key with nothing after it, or ~ or null: the same as leaving it out. */
static bool parse__is_null(const yaml_node_t *node)
{
	static const char *const spellings[] = { "", "~", "null", "Null", "NULL" };
	size_t i;

	if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		if (!strcmp(parse__text(node), spellings[i]))
			return true;
	}
	return false;
}

static bool parse__expect(struct parse_ctx *ctx, yaml_node_t *node, yaml_node_type_t type,
			  const char *path)
{
	static const char *const names[] = {
		[YAML_SCALAR_NODE] = "a single value",
		[YAML_SEQUENCE_NODE] = "a list",
		[YAML_MAPPING_NODE] = "a mapping",
	};

	if (node->type == type)
		return true;
	if (node->type >= YAML_SCALAR_NODE && node->type <= YAML_MAPPING_NODE)
		parse__error(ctx, node, "%s: expected %s, not %s", path, names[type],
			     names[node->type]);
	else
		parse__error(ctx, node, "%s: expected %s", path, names[type]);
	return false;
}

static const char *parse__scalar(struct parse_ctx *ctx, yaml_node_t *node, const char *path)
{
	if (!parse__expect(ctx, node, YAML_SCALAR_NODE, path))
		return NULL;
	return parse__text(node);
}

/* "bad value" for @what, or the clearer word when it is a negative number. */
static void parse__bad_value(struct parse_ctx *ctx, yaml_node_t *node, const char *path,
			     const char *what)
{
	const char *text = parse__text(node);

	if (text[0] == '-' && text[1] >= '0' && text[1] <= '9')
		parse__error(ctx, node, "%s: must not be negative", path);
	else
		parse__error(ctx, node, "%s: \"%s\" is not %s", path, text, what);
}

/*
 * The key of @pair in @mapping, or NULL (with an error) when it is not a
 * scalar or repeats an earlier key: libyaml keeps both, YAML forbids it.
 */
static const char *parse__pair_key(struct parse_ctx *ctx, yaml_node_t *mapping,
				   yaml_node_pair_t *pair, const char *where)
{
	yaml_node_t *key = parse__node(ctx, pair->key);
	yaml_node_pair_t *earlier;
	const char *name;

	if (key->type != YAML_SCALAR_NODE) {
		parse__error(ctx, key, "keys in %s must be single values", where);
		return NULL;
	}
	name = parse__text(key);
	for (earlier = mapping->data.mapping.pairs.start; earlier < pair; earlier++) {
		yaml_node_t *other = parse__node(ctx, earlier->key);

		if (other->type == YAML_SCALAR_NODE && !strcmp(parse__text(other), name)) {
			parse__error(ctx, key, "duplicate key \"%s\" in %s", name, where);
			return NULL;
		}
	}
	return name;
}

static void parse__path(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Writes a path for messages into @out (CONFIG_PATH_MAX bytes). A path that
 * long comes only from absurd keys, and cutting it short is harmless.
 */
static void parse__path(char *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, CONFIG_PATH_MAX, fmt, ap);
	va_end(ap);
}

static size_t parse__pair_count(const yaml_node_t *node)
{
	return node->data.mapping.pairs.top - node->data.mapping.pairs.start;
}

static size_t parse__item_count(const yaml_node_t *node)
{
	return node->data.sequence.items.top - node->data.sequence.items.start;
}

static void parse__child_path(char *out, const char *path, const char *key)
{
	if (path[0])
		parse__path(out, "%s.%s", path, key);
	else
		parse__path(out, "%s", key);
}

/* ---- values ------------------------------------------------------------ */

static void parse__string(struct parse_ctx *ctx, yaml_node_t *node, char **out,
			  string_check check, const char *path)
{
	const char *text = parse__scalar(ctx, node, path);
	char *copy;

	if (!text)
		return;
	copy = parse__strdup(ctx, text);
	if (!copy)
		return;
	free(*out);
	*out = copy;
	if (check)
		check(ctx, node, copy, path);
}

static void parse__strings(struct parse_ctx *ctx, yaml_node_t *node, char ***out, size_t *count,
			   string_check check, const char *path)
{
	char item_path[CONFIG_PATH_MAX];
	yaml_node_item_t *item;
	size_t n;
	char **list;

	if (!parse__expect(ctx, node, YAML_SEQUENCE_NODE, path))
		return;
	n = parse__item_count(node);
	list = parse__alloc(ctx, NULL, n, sizeof(*list));
	if (!list)
		return;
	*out = list;
	*count = 0;
	for (item = node->data.sequence.items.start; item < node->data.sequence.items.top; item++) {
		yaml_node_t *value = parse__node(ctx, *item);

		parse__path(item_path, "%s[%zu]", path,
			 (size_t)(item - node->data.sequence.items.start));
		list[*count] = NULL;
		parse__string(ctx, value, &list[*count], check, item_path);
		if (list[*count])
			(*count)++;
	}
}

static void parse__duration(struct parse_ctx *ctx, yaml_node_t *node, uint64_t *out,
			    bool zero_allowed, const char *path)
{
	const char *text = parse__scalar(ctx, node, path);
	uint64_t ms;

	if (!text)
		return;
	if (parse_duration_ms(text, &ms)) {
		parse__bad_value(ctx, node, path, "a duration (like 30s)");
		return;
	}
	if (!ms && !zero_allowed) {
		parse__error(ctx, node, "%s: must be longer than zero", path);
		return;
	}
	*out = ms;
}

static void parse__count(struct parse_ctx *ctx, yaml_node_t *node, unsigned int *out,
			 int minimum, const char *path)
{
	const char *text = parse__scalar(ctx, node, path);
	double value;

	if (!text)
		return;
	if (parse_whole_number(text, &value) || value > (double)UINT32_MAX) {
		parse__bad_value(ctx, node, path, "a whole number");
		return;
	}
	if (value < minimum) {
		parse__error(ctx, node, "%s: must be at least %d", path, minimum);
		return;
	}
	*out = (unsigned int)value;
}

static void parse__number(struct parse_ctx *ctx, yaml_node_t *node, double *out, int minimum,
			  const char *path)
{
	const char *text = parse__scalar(ctx, node, path);
	double value;

	if (!text)
		return;
	if (parse_number(text, &value)) {
		parse__bad_value(ctx, node, path, "a number");
		return;
	}
	if (!(value >= minimum)) {
		parse__error(ctx, node, "%s: must be at least %d", path, minimum);
		return;
	}
	*out = value;
}

static void parse__size(struct parse_ctx *ctx, yaml_node_t *node, uint64_t *out,
			const char *path)
{
	const char *text = parse__scalar(ctx, node, path);
	double value;

	if (!text)
		return;
	if (parse_size(text, &value) || value < 0 || value > (double)UINT64_MAX) {
		parse__bad_value(ctx, node, path, "a size such as 64MiB");
		return;
	}
	*out = (uint64_t)value;
}

static void parse__mapping(struct parse_ctx *ctx, yaml_node_t *node, const struct field *fields,
			   void *base, const char *path, const char *where);

static void parse__field(struct parse_ctx *ctx, yaml_node_t *node, const struct field *field,
			 void *base, const char *path)
{
	switch (field->kind) {
	case FIELD_STRING:
		parse__string(ctx, node, member_of(base, field->offset, char *), field->check,
			      path);
		break;
	case FIELD_STRINGS:
		parse__strings(ctx, node, member_of(base, field->offset, char **),
			       member_of(base, field->count_offset, size_t), field->check, path);
		break;
	case FIELD_DURATION:
	case FIELD_INTERVAL:
		parse__duration(ctx, node, member_of(base, field->offset, uint64_t),
				field->kind == FIELD_DURATION, path);
		break;
	case FIELD_COUNT:
		parse__count(ctx, node, member_of(base, field->offset, unsigned int), field->arg,
			     path);
		break;
	case FIELD_NUMBER:
		parse__number(ctx, node, member_of(base, field->offset, double), field->arg, path);
		break;
	case FIELD_SIZE:
		parse__size(ctx, node, member_of(base, field->offset, uint64_t), path);
		break;
	case FIELD_NODE:
		*member_of(base, field->offset, yaml_node_t *) = node;
		break;
	case FIELD_SECTION:
		parse__mapping(ctx, node, field->fields, member_of(base, field->offset, char),
			       path, path);
		break;
	case FIELD_CUSTOM:
		field->handler(ctx, node, base, field, path);
		break;
	}
}

/*
 * The field of @fields for @key, or NULL. A field that matches a family of
 * keys is copied to @matched with its .arg set to the member found.
 */
static const struct field *parse__find_field(const struct field *fields, const char *key,
					     struct field *matched)
{
	int arg;

	for (; fields->key; fields++) {
		if (!fields->match) {
			if (!strcmp(fields->key, key))
				return fields;
		} else if (fields->match(key, &arg)) {
			*matched = *fields;
			matched->arg = arg;
			return matched;
		}
	}
	return NULL;
}

/*
 * Walks a mapping against @fields (ended by a NULL key). @path names values
 * in messages ("plans.default"), @where names the mapping itself
 * ("plan \"default\"").
 */
static void parse__mapping(struct parse_ctx *ctx, yaml_node_t *node, const struct field *fields,
			   void *base, const char *path, const char *where)
{
	char child[CONFIG_PATH_MAX];
	yaml_node_pair_t *pair;
	const struct field *field;
	struct field matched;
	const char *key;

	if (parse__is_null(node) || !parse__expect(ctx, node, YAML_MAPPING_NODE, where))
		return;
	for (pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *value = parse__node(ctx, pair->value);

		key = parse__pair_key(ctx, node, pair, where);
		if (!key)
			continue;
		field = parse__find_field(fields, key, &matched);
		if (!field) {
			parse__error(ctx, parse__node(ctx, pair->key), "unknown key \"%s\" in %s",
				     key, where);
			continue;
		}
		if (parse__is_null(value))
			continue;
		parse__child_path(child, path, key);
		parse__field(ctx, value, field, base, child);
	}
}

static void parse__add_reference(struct parse_ctx *ctx, enum reference_kind kind,
				 yaml_node_t *node, const char *path)
{
	struct reference *references;

	references = parse__alloc(ctx, ctx->references, ctx->reference_count + 1,
				  sizeof(*references));
	if (!references)
		return;
	ctx->references = references;
	references[ctx->reference_count].kind = kind;
	references[ctx->reference_count].node = node;
	parse__path(references[ctx->reference_count].path, "%s", path);
	ctx->reference_count++;
}

/* ---- checks on strings -------------------------------------------------- */

/* The length of @url's "user:password@", 0 when it has none: never echoed in a message. */
static size_t url__userinfo_length(const char *url)
{
	const char *authority = strstr(url, "://"), *at;
	size_t length;

	authority = authority ? authority + 3 : url;
	length = strcspn(authority, "/?#");
	at = memrchr(authority, '@', length);
	return at ? (size_t)(at - authority) + 1 : 0;
}

static void check__url(struct parse_ctx *ctx, yaml_node_t *node, char *value, const char *path)
{
	const char *authority = strstr(value, "://");
	size_t userinfo = url__userinfo_length(value), before;

	if (!strncmp(value, "http://", 7) || !strncmp(value, "https://", 8))
		return;
	before = authority ? (size_t)(authority + 3 - value) : 0;
	if (userinfo)
		parse__error(ctx, node, "%s: \"%.*s***@%s\" is not an http:// or https:// URL",
			     path, (int)before, value, value + before + userinfo);
	else
		parse__error(ctx, node, "%s: \"%s\" is not an http:// or https:// URL", path,
			     value);
}

/*
 * A secret or CA file that others could change decides where alerts go and
 * who may sign them: refused, as the configuration itself would be. One
 * that is missing is not an error here (the sink logs it when it needs it):
 * check-config may run where the file is not.
 */
static void check__trusted_file(struct parse_ctx *ctx, yaml_node_t *node, char *value,
				const char *path)
{
	char why[128];

	if (!value[0])
		return;
	if (files_check_trusted(value, why, sizeof(why)) == -EPERM)
		parse__error(ctx, node, "%s: %s is %s: refused (chown root and chmod go-w it)",
			     path, value, why);
}

/* The webhook is off when its URL is empty. */
static void check__optional_url(struct parse_ctx *ctx, yaml_node_t *node, char *value,
				const char *path)
{
	if (value[0])
		check__url(ctx, node, value, path);
}

/* Stored in lower case, as the probes report digests. */
static void check__sha256(struct parse_ctx *ctx, yaml_node_t *node, char *value,
			  const char *path)
{
	size_t i, length = strlen(value);

	for (i = 0; i < length; i++) {
		char c = value[i];

		if (c >= 'A' && c <= 'F')
			value[i] = (char)(c - 'A' + 'a');
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			break;
	}
	if (i != length || length != 64)
		parse__error(ctx, node, "%s: \"%s\" is not a SHA-256 digest (64 hex digits)", path,
			     value);
}

static void check__deny(struct parse_ctx *ctx, yaml_node_t *node, char *value, const char *path)
{
	static const char prefix[] = "builtin:";
	size_t count;

	/* The sets are the data files software_builtin.c compiles in. */
	if (strncmp(value, prefix, sizeof(prefix) - 1) ||
	    software_builtin_set(value + sizeof(prefix) - 1, &count))
		return;
	parse__error_at(ctx, parse__mark_inside(node, sizeof(prefix) - 1),
			"%s: unknown builtin set \"%s\" (miners, scanners, flooders, tunnels)",
			path, value + sizeof(prefix) - 1);
}

/*
 * An operator's YARA rule file: absolute (the agent runs from /), trusted
 * as the other files the configuration names, and compiled now, so that a
 * bad rule stops check-config, the start and a reload (which then keeps
 * the old rules) with the file and line that are wrong.
 */
static void check__yara(struct parse_ctx *ctx, yaml_node_t *node, char *value, const char *path)
{
	char why[512];

	if (value[0] != '/') {
		parse__error(ctx, node, "%s: \"%s\" is not an absolute path", path, value);
		return;
	}
	if (content_check_file(value, why, sizeof(why)))
		parse__error(ctx, node, "%s: YARA rule file %s", path, why);
}

/* ---- plans ------------------------------------------------------------- */

/* Any resource of the table (resource.h) is a plan key: `.arg` is which. */
static void handle__limit(struct parse_ctx *ctx, yaml_node_t *node, void *base,
			  const struct field *field, const char *path)
{
	const struct resource_info *resource = resource_info(field->arg);
	struct plan *plan = base;
	const char *text = parse__scalar(ctx, node, path);

	if (!text)
		return;
	if (resource->parse_limit(text, &plan->limit[field->arg])) {
		parse__bad_value(ctx, node, path, resource->limit_syntax);
		return;
	}
	plan->has_limit[field->arg] = true;
}

static void handle__hysteresis(struct parse_ctx *ctx, yaml_node_t *node, void *base,
			       const struct field *field, const char *path)
{
	struct plan *plan = base;
	const char *text = parse__scalar(ctx, node, path);
	double value;

	if (!text)
		return;
	if (parse_number(text, &value)) {
		parse__bad_value(ctx, node, path, "a number");
		return;
	}
	if (value <= 0 || value > 1) {
		parse__error(ctx, node, "%s: %s is outside (0, 1]", path, text);
		return;
	}
	plan->hysteresis = value;
}

static void handle__plan_software(struct parse_ctx *ctx, yaml_node_t *node, void *base,
				  const struct field *field, const char *path)
{
	struct plan *plan = base;

	parse__string(ctx, node, &plan->software, NULL, path);
	if (plan->software)
		parse__add_reference(ctx, REFERENCE_SOFTWARE, node, path);
}

static bool match_resource(const char *key, int *arg)
{
	*arg = resource_from_name(key);
	return *arg >= 0;
}

static const struct field plan_fields[] = {
	{ .key = "<resource>", .kind = FIELD_CUSTOM, .handler = handle__limit,
	  .match = match_resource },
	FIELD_AT("window", FIELD_INTERVAL, struct plan, window_ms),
	FIELD_AT("for", FIELD_DURATION, struct plan, for_ms),
	FIELD_CALL("hysteresis", handle__hysteresis),
	FIELD_CALL("software", handle__plan_software),
	FIELD_END,
};

/*
 * Walks a mapping of named entries (plans, software policies): @add makes
 * room for the next one and names it; @fields describe its body.
 */
static void parse__named(struct parse_ctx *ctx, yaml_node_t *node, const char *path,
			 const char *what, const struct field *fields,
			 void *(*add)(struct parse_ctx *ctx, const char *name, int line))
{
	char child[CONFIG_PATH_MAX], where[CONFIG_PATH_MAX];
	yaml_node_pair_t *pair;
	const char *name;
	void *entry;

	for (pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
		name = parse__pair_key(ctx, node, pair, path);
		if (!name)
			continue;
		entry = add(ctx, name, (int)parse__node(ctx, pair->key)->start_mark.line + 1);
		if (!entry)
			return;
		parse__child_path(child, path, name);
		parse__path(where, "%s \"%s\"", what, name);
		parse__mapping(ctx, parse__node(ctx, pair->value), fields, entry, child, where);
	}
}

static void *config__add_plan(struct parse_ctx *ctx, const char *name, int line)
{
	struct plan *plan = &ctx->config->plans[ctx->config->plan_count];

	plan->name = parse__strdup(ctx, name);
	if (!plan->name)
		return NULL;
	plan->window_ms = PLAN_DEFAULT_WINDOW_MS;
	plan->for_ms = PLAN_DEFAULT_FOR_MS;
	plan->hysteresis = PLAN_DEFAULT_HYSTERESIS;
	plan->line = line;
	ctx->config->plan_count++;
	return plan;
}

static void handle__plans(struct parse_ctx *ctx, yaml_node_t *node, void *base,
			  const struct field *field, const char *path)
{
	struct config *config = base;

	if (!parse__expect(ctx, node, YAML_MAPPING_NODE, path))
		return;
	config->plans = parse__alloc(ctx, NULL, parse__pair_count(node), sizeof(*config->plans));
	if (config->plans)
		parse__named(ctx, node, path, "plan", plan_fields, config__add_plan);
}

/* ---- software policies ------------------------------------------------- */

static void handle__action(struct parse_ctx *ctx, yaml_node_t *node, void *base,
			   const struct field *field, const char *path)
{
	static const char *const actions[] = {
		[SOFTWARE_ACTION_ALERT] = "alert",
		[SOFTWARE_ACTION_KILL] = "kill",
		[SOFTWARE_ACTION_FREEZE] = "freeze",
	};
	struct software_policy *policy = base;
	const char *text = parse__scalar(ctx, node, path);
	size_t i;

	if (!text)
		return;
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (!strcmp(text, actions[i])) {
			policy->action = (enum software_action)i;
			return;
		}
	}
	parse__error(ctx, node, "%s: \"%s\" is not an action (alert, kill, freeze)", path, text);
}

/* raw_sockets: alert or deny; absent, they are allowed and not looked at. */
static void handle__raw_sockets(struct parse_ctx *ctx, yaml_node_t *node, void *base,
				const struct field *field, const char *path)
{
	struct software_policy *policy = base;
	const char *text = parse__scalar(ctx, node, path);

	if (!text)
		return;
	if (!strcmp(text, "alert"))
		policy->raw_sockets = SOFTWARE_RAW_SOCKETS_ALERT;
	else if (!strcmp(text, "deny"))
		policy->raw_sockets = SOFTWARE_RAW_SOCKETS_DENY;
	else
		parse__error(ctx, node, "%s: \"%s\" is not a raw_sockets setting (alert, deny)",
			     path, text);
}

#define POLICY_LIST(key_name, member, check_fn)                                                \
	{ .key = key_name, .kind = FIELD_STRINGS,                                              \
	  .offset = offsetof(struct software_policy, member),                                  \
	  .count_offset = offsetof(struct software_policy, member##_count), .check = check_fn }

static const struct field software_fields[] = {
	POLICY_LIST("deny", deny, check__deny),
	POLICY_LIST("deny_sha256", deny_sha256, check__sha256),
	POLICY_LIST("deny_paths", deny_paths, NULL),
	POLICY_LIST("allow_sha256", allow_sha256, check__sha256),
	FIELD_CALL("action", handle__action),
	POLICY_LIST("yara", yara, check__yara),
	FIELD_CALL("raw_sockets", handle__raw_sockets),
	FIELD_END,
};

static void *config__add_software(struct parse_ctx *ctx, const char *name, int line)
{
	struct software_policy *policy = &ctx->config->software[ctx->config->software_count];

	policy->name = parse__strdup(ctx, name);
	if (!policy->name)
		return NULL;
	policy->action = SOFTWARE_ACTION_ALERT;
	policy->line = line;
	ctx->config->software_count++;
	return policy;
}

static void handle__software(struct parse_ctx *ctx, yaml_node_t *node, void *base,
			     const struct field *field, const char *path)
{
	struct config *config = base;

	if (!parse__expect(ctx, node, YAML_MAPPING_NODE, path))
		return;
	config->software = parse__alloc(ctx, NULL, parse__pair_count(node),
					sizeof(*config->software));
	if (config->software)
		parse__named(ctx, node, path, "software policy", software_fields,
			     config__add_software);
}

/* ---- tenants ----------------------------------------------------------- */

/* A tenant rule's values, kept as nodes: the templates need the pattern first. */
struct tenant_nodes {
	yaml_node_t *cgroup;
	yaml_node_t *tenant;
	yaml_node_t *plan;
	yaml_node_t *storage;
};

static const struct field tenant_fields[] = {
	FIELD_AT("cgroup", FIELD_NODE, struct tenant_nodes, cgroup),
	FIELD_AT("tenant", FIELD_NODE, struct tenant_nodes, tenant),
	FIELD_AT("plan", FIELD_NODE, struct tenant_nodes, plan),
	FIELD_AT("storage", FIELD_NODE, struct tenant_nodes, storage),
	FIELD_END,
};

static void tenant__compile(struct parse_ctx *ctx, struct tenant_rule *rule, yaml_node_t *node,
			    const char *path)
{
	char message[CONFIG_MESSAGE_MAX] = "invalid pattern";
	size_t offset = 0;

	parse__string(ctx, node, &rule->cgroup, NULL, path);
	if (!rule->cgroup)
		return;
	rule->pattern = pattern_compile(rule->cgroup, message, sizeof(message), &offset);
	if (rule->pattern)
		return;
	if (errno == ENOMEM)
		ctx->out_of_memory = true;
	else
		parse__error_at(ctx, parse__mark_inside(node, offset), "%s: %s", path, message);
}

/* A template may only name captures of the pattern of its own rule. */
static void check__template(struct parse_ctx *ctx, yaml_node_t *node, char *value,
			    const char *path)
{
	char message[CONFIG_MESSAGE_MAX] = "invalid template";
	size_t offset = 0;

	if (ctx->rule_pattern &&
	    template_validate(value, ctx->rule_pattern, message, sizeof(message), &offset))
		parse__error_at(ctx, parse__mark_inside(node, offset), "%s: %s", path, message);
}

/*
 * A storage path: a template over the rule's captures that names an
 * absolute path, with no "." or ".." segment (captures never hold a '/').
 */
static void check__storage_template(struct parse_ctx *ctx, yaml_node_t *node, char *value,
				    const char *path)
{
	long dot;

	if (value[0] != '/') {
		parse__error(ctx, node, "%s: \"%s\" is not an absolute path", path, value);
		return;
	}
	dot = path_dot_segment(value);
	if (dot >= 0) {
		parse__error_at(ctx, parse__mark_inside(node, (size_t)dot),
				"%s: \"%s\" has a \".\" or \"..\" segment", path, value);
		return;
	}
	check__template(ctx, node, value, path);
}

static void tenant__parse(struct parse_ctx *ctx, yaml_node_t *node, struct tenant_rule *rule,
			  const char *path)
{
	struct tenant_nodes nodes = { 0 };
	char child[CONFIG_PATH_MAX];

	rule->line = (int)node->start_mark.line + 1;
	if (parse__is_null(node) || node->type != YAML_MAPPING_NODE) {
		parse__expect(ctx, node, YAML_MAPPING_NODE, path);
		return;
	}
	parse__mapping(ctx, node, tenant_fields, &nodes, path, path);
	if (!nodes.cgroup) {
		parse__error(ctx, node, "%s: a tenant rule needs a cgroup pattern", path);
		return;
	}
	parse__child_path(child, path, "cgroup");
	tenant__compile(ctx, rule, nodes.cgroup, child);
	/* Without a valid pattern, only its own error is worth reporting. */
	ctx->rule_pattern = rule->pattern;
	if (nodes.tenant) {
		parse__child_path(child, path, "tenant");
		parse__string(ctx, nodes.tenant, &rule->tenant, check__template, child);
	}
	if (nodes.plan) {
		parse__child_path(child, path, "plan");
		parse__string(ctx, nodes.plan, &rule->plan, NULL, child);
		if (rule->plan)
			parse__add_reference(ctx, REFERENCE_PLAN, nodes.plan, child);
	}
	if (nodes.storage) {
		parse__child_path(child, path, "storage");
		parse__strings(ctx, nodes.storage, &rule->storage, &rule->storage_count,
			       check__storage_template, child);
	}
	ctx->rule_pattern = NULL;
}

static void handle__tenants(struct parse_ctx *ctx, yaml_node_t *node, void *base,
			    const struct field *field, const char *path)
{
	struct config *config = base;
	char child[CONFIG_PATH_MAX];
	yaml_node_item_t *item;
	size_t n;

	if (!parse__expect(ctx, node, YAML_SEQUENCE_NODE, path))
		return;
	n = parse__item_count(node);
	config->tenants = parse__alloc(ctx, NULL, n, sizeof(*config->tenants));
	if (!config->tenants)
		return;
	for (item = node->data.sequence.items.start; item < node->data.sequence.items.top; item++) {
		parse__path(child, "%s[%zu]", path, config->tenant_count);
		tenant__parse(ctx, parse__node(ctx, *item), &config->tenants[config->tenant_count],
			      child);
		config->tenant_count++;
	}
}

/* ---- relative, network, agent, alerts ----------------------------------- */

static void handle__floor(struct parse_ctx *ctx, yaml_node_t *node, void *base,
			  const struct field *field, const char *path)
{
	struct relative_config *relative = base;
	char child[CONFIG_PATH_MAX];
	yaml_node_pair_t *pair;
	const char *key, *text;
	int resource;

	if (!parse__expect(ctx, node, YAML_MAPPING_NODE, path))
		return;
	for (pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *value = parse__node(ctx, pair->value);

		key = parse__pair_key(ctx, node, pair, path);
		if (!key)
			continue;
		resource = resource_from_name(key);
		if (resource < 0) {
			parse__error(ctx, parse__node(ctx, pair->key),
				     "unknown resource \"%s\" in %s", key, path);
			continue;
		}
		parse__child_path(child, path, key);
		text = parse__scalar(ctx, value, child);
		if (!text)
			continue;
		if (resource_info(resource)->parse_limit(text, &relative->floor[resource]))
			parse__bad_value(ctx, value, child, resource_info(resource)->limit_syntax);
		else
			relative->has_floor[resource] = true;
	}
}

static void handle__pool_ports(struct parse_ctx *ctx, yaml_node_t *node, void *base,
			       const struct field *field, const char *path)
{
	struct network_config *network = base;
	char child[CONFIG_PATH_MAX];
	yaml_node_item_t *item;
	const char *text;
	double port;
	size_t n;

	if (!parse__expect(ctx, node, YAML_SEQUENCE_NODE, path))
		return;
	n = parse__item_count(node);
	network->pool_ports = parse__alloc(ctx, NULL, n, sizeof(*network->pool_ports));
	if (!network->pool_ports)
		return;
	for (item = node->data.sequence.items.start; item < node->data.sequence.items.top; item++) {
		yaml_node_t *value = parse__node(ctx, *item);

		parse__path(child, "%s[%zu]", path,
			 (size_t)(item - node->data.sequence.items.start));
		text = parse__scalar(ctx, value, child);
		if (!text)
			continue;
		if (parse_whole_number(text, &port) || port < 1 || port > 65535) {
			parse__error(ctx, value, "%s: \"%s\" is not a port (1..65535)", child,
				     text);
			continue;
		}
		network->pool_ports[network->pool_ports_count++] = (uint16_t)port;
	}
}

static const struct field agent_fields[] = {
	FIELD_AT("interval", FIELD_INTERVAL, struct agent_config, interval_ms),
	FIELD_AT("textfile", FIELD_STRING, struct agent_config, textfile),
	FIELD_AT("events_log", FIELD_STRING, struct agent_config, events_log),
	FIELD_AT("state_dir", FIELD_STRING, struct agent_config, state_dir),
	FIELD_AT("hostname", FIELD_STRING, struct agent_config, hostname),
	/* Not in the contract's example: how the events log is rotated. */
	FIELD_AT("events_log_rotate_size", FIELD_SIZE, struct agent_config, events_log_rotate_bytes),
	FIELD_COUNT_AT("events_log_keep", struct agent_config, events_log_keep, 0),
	/* Not in the contract's example: how often storage paths are measured, at most. */
	FIELD_AT("storage_interval", FIELD_INTERVAL, struct agent_config, storage_interval_ms),
	FIELD_END,
};

static const struct field relative_fields[] = {
	/* Under 1, tenants as busy as the others would be excessive. */
	{ .key = "factor", .kind = FIELD_NUMBER, .offset = offsetof(struct relative_config, factor),
	  .arg = 1 },
	FIELD_COUNT_AT("min_tenants", struct relative_config, min_tenants, 1),
	FIELD_CALL("floor", handle__floor),
	FIELD_END,
};

static const struct field destination_fields[] = {
	FIELD_COUNT_AT("destinations", struct destination_rule, destinations, 1),
	FIELD_AT("window", FIELD_INTERVAL, struct destination_rule, window_ms),
	FIELD_END,
};

static const struct field network_fields[] = {
	FIELD_CALL("pool_ports", handle__pool_ports),
	FIELD_SECTION_AT("scan", struct network_config, scan, destination_fields),
	FIELD_SECTION_AT("smtp", struct network_config, smtp, destination_fields),
	FIELD_END,
};

static const struct field webhook_fields[] = {
	{ .key = "url",
	  .kind = FIELD_STRING,
	  .offset = offsetof(struct alerts_config, webhook_url),
	  .check = check__optional_url },
	{ .key = "secret_file",
	  .kind = FIELD_STRING,
	  .offset = offsetof(struct alerts_config, webhook_secret_file),
	  .check = check__trusted_file },
	/* Not in the contract's example: the CAs that an https:// webhook's certificate must chain to. */
	{ .key = "ca_file",
	  .kind = FIELD_STRING,
	  .offset = offsetof(struct alerts_config, webhook_ca_file),
	  .check = check__trusted_file },
	FIELD_END,
};

static const struct field alerts_fields[] = {
	{ .key = "alertmanager",
	  .kind = FIELD_STRINGS,
	  .offset = offsetof(struct alerts_config, alertmanager),
	  .count_offset = offsetof(struct alerts_config, alertmanager_count),
	  .check = check__url },
	/* Not in the contract's example: the same for every https:// Alertmanager peer. */
	{ .key = "alertmanager_ca_file",
	  .kind = FIELD_STRING,
	  .offset = offsetof(struct alerts_config, alertmanager_ca_file),
	  .check = check__trusted_file },
	/* webhook's keys are members of struct alerts_config itself. */
	{ .key = "webhook", .kind = FIELD_SECTION, .offset = 0, .fields = webhook_fields },
	FIELD_END,
};

static const struct field top_fields[] = {
	FIELD_SECTION_AT("agent", struct config, agent, agent_fields),
	FIELD_CALL("tenants", handle__tenants),
	FIELD_CALL("plans", handle__plans),
	FIELD_CALL("software", handle__software),
	FIELD_SECTION_AT("relative", struct config, relative, relative_fields),
	FIELD_SECTION_AT("network", struct config, network, network_fields),
	FIELD_SECTION_AT("alerts", struct config, alerts, alerts_fields),
	FIELD_END,
};

/* ---- whole configuration ------------------------------------------------ */

static bool config__has_software(const struct config *config, const char *name)
{
	size_t i;

	for (i = 0; i < config->software_count; i++) {
		if (!strcmp(config->software[i].name, name))
			return true;
	}
	return false;
}

/*
 * Names used before their definition could be read. A tenant's plan that is
 * not defined gets no limits and a warning rather than an error: the
 * contract's own example names plan "small" without defining it.
 */
static void config__resolve_references(struct parse_ctx *ctx)
{
	struct reference *reference;
	const char *name;
	size_t i;

	for (i = 0; i < ctx->reference_count; i++) {
		reference = &ctx->references[i];
		name = parse__text(reference->node);
		if (reference->kind == REFERENCE_SOFTWARE &&
		    !config__has_software(ctx->config, name))
			parse__error(ctx, reference->node, "%s: no software policy \"%s\"",
				     reference->path, name);
		else if (reference->kind == REFERENCE_PLAN && strcmp(name, "default") &&
			 !config_find_plan(ctx->config, name))
			pr_warn("%s:%d:%d: %s: no plan \"%s\"; its tenants have no limits",
				ctx->name, (int)reference->node->start_mark.line + 1,
				(int)reference->node->start_mark.column + 1, reference->path,
				name);
	}
}

static struct config *config__new(const char *name)
{
	struct config *config = calloc(1, sizeof(*config));

	if (!config)
		return NULL;
	config->source = strdup(name);
	config->agent.interval_ms = 1000;
	config->agent.textfile = strdup(CONFIG_DEFAULT_TEXTFILE);
	config->agent.events_log = strdup("/var/log/abusewatch/events.jsonl");
	config->agent.state_dir = strdup("/var/lib/abusewatch");
	config->agent.events_log_rotate_bytes = 64ull << 20;
	config->agent.events_log_keep = 5;
	config->agent.storage_interval_ms = 60000;
	config->relative.factor = 10;
	config->relative.min_tenants = 5;
	config->network.scan = (struct destination_rule){ 200, 10000 };
	config->network.smtp = (struct destination_rule){ 20, 60000 };
	if (!config->source || !config->agent.textfile || !config->agent.events_log ||
	    !config->agent.state_dir) {
		config_free(config);
		config = NULL;
	}
	return config;
}

static void config__syntax_error(struct parse_ctx *ctx, const yaml_parser_t *parser)
{
	const char *problem = parser->problem ? parser->problem : "invalid YAML";

	if (parser->error == YAML_MEMORY_ERROR)
		ctx->out_of_memory = true;
	else if (parser->context)
		parse__error_at(ctx, parser->problem_mark, "%s %s", parser->context, problem);
	else
		parse__error_at(ctx, parser->problem_mark, "%s", problem);
}

/* The first document, and an error for any second one: it would be ignored. */
static int config__load_document(struct parse_ctx *ctx, yaml_parser_t *parser,
				 yaml_document_t *document)
{
	yaml_document_t extra;
	yaml_node_t *root;
	int err = 0;

	if (!yaml_parser_load(parser, document)) {
		config__syntax_error(ctx, parser);
		err = -EINVAL;
		goto out;
	}
	if (!yaml_parser_load(parser, &extra)) {
		config__syntax_error(ctx, parser);
		goto out;
	}
	root = yaml_document_get_root_node(&extra);
	if (root)
		parse__error(ctx, root, "only one YAML document is allowed");
	yaml_document_delete(&extra);
out:
	return err;
}

static void config__free_errors(struct parse_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->error_count; i++)
		free(ctx->errors[i].message);
	free(ctx->errors);
	free(ctx->references);
}

int config_parse(const char *name, const char *text, size_t len, struct config **out,
		 char **errors)
{
	struct parse_ctx ctx = { .name = name };
	yaml_document_t document;
	bool have_document = false;
	yaml_parser_t parser;
	yaml_node_t *root;
	int err;

	if (errors)
		*errors = NULL;
	ctx.config = config__new(name);
	if (!ctx.config) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (!yaml_parser_initialize(&parser)) {
		err = -ENOMEM;
		goto free_config;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	ctx.document = &document;
	have_document = !config__load_document(&ctx, &parser, &document);
	root = have_document ? yaml_document_get_root_node(&document) : NULL;
	if (root)
		parse__mapping(&ctx, root, top_fields, ctx.config, "", "the top level");
	config__resolve_references(&ctx);

	if (ctx.out_of_memory) {
		err = -ENOMEM;
		goto delete_document;
	}
	if (ctx.error_count) {
		err = -EINVAL;
		if (errors)
			*errors = config__format_errors(&ctx);
		goto delete_document;
	}
	*out = ctx.config;
	ctx.config = NULL;
	err = 0;

delete_document:
	if (have_document)
		yaml_document_delete(&document);
	yaml_parser_delete(&parser);
free_config:
	config_free(ctx.config);
cleanup:
	config__free_errors(&ctx);
	return err;
}

int config_load_file(const char *path, struct config **out, char **errors)
{
	char *text = NULL, why[128];
	size_t size;
	int err;

	if (errors)
		*errors = NULL;
	/*
	 * A configuration is small: read it whole, then parse it from memory.
	 * It says what runs as root and where alerts go: refused when anyone
	 * but root (or this user) could have written it.
	 */
	err = files_read_trusted(path, CONFIG_FILE_MAX, &text, &size, why, sizeof(why));
	if (!err)
		err = config_parse(path, text, size, out, errors);

	/* config_parse() explains -EINVAL itself; the rest is about the file. */
	if (err == -EPERM && errors && !*errors &&
	    asprintf(errors, "%s: refused: the file is %s (chown root and chmod go-w it)\n", path,
		     why) < 0)
		*errors = NULL;
	if (err && err != -EINVAL && errors && !*errors &&
	    asprintf(errors, "%s: cannot read: %s\n", path, strerror(-err)) < 0)
		*errors = NULL;
	free(text);
	return err;
}

void config_free(struct config *config)
{
	size_t i, j;

	if (!config)
		return;
	free(config->source);
	free(config->agent.textfile);
	free(config->agent.events_log);
	free(config->agent.state_dir);
	free(config->agent.hostname);
	for (i = 0; i < config->tenant_count; i++) {
		struct tenant_rule *rule = &config->tenants[i];

		free(rule->cgroup);
		pattern_free(rule->pattern);
		free(rule->tenant);
		free(rule->plan);
		for (j = 0; j < rule->storage_count; j++)
			free(rule->storage[j]);
		free(rule->storage);
	}
	free(config->tenants);
	for (i = 0; i < config->plan_count; i++) {
		free(config->plans[i].name);
		free(config->plans[i].software);
	}
	free(config->plans);
	for (i = 0; i < config->software_count; i++) {
		struct software_policy *policy = &config->software[i];

		for (j = 0; j < policy->deny_count; j++)
			free(policy->deny[j]);
		for (j = 0; j < policy->deny_sha256_count; j++)
			free(policy->deny_sha256[j]);
		for (j = 0; j < policy->deny_paths_count; j++)
			free(policy->deny_paths[j]);
		for (j = 0; j < policy->allow_sha256_count; j++)
			free(policy->allow_sha256[j]);
		for (j = 0; j < policy->yara_count; j++)
			free(policy->yara[j]);
		free(policy->yara);
		free(policy->deny);
		free(policy->deny_sha256);
		free(policy->deny_paths);
		free(policy->allow_sha256);
		free(policy->name);
	}
	free(config->software);
	free(config->network.pool_ports);
	for (i = 0; i < config->alerts.alertmanager_count; i++)
		free(config->alerts.alertmanager[i]);
	free(config->alerts.alertmanager);
	free(config->alerts.webhook_url);
	free(config->alerts.webhook_secret_file);
	free(config->alerts.webhook_ca_file);
	free(config->alerts.alertmanager_ca_file);
	free(config);
}

const struct plan *config_find_plan(const struct config *config, const char *name)
{
	size_t i;

	for (i = 0; config && name && i < config->plan_count; i++) {
		if (!strcmp(config->plans[i].name, name))
			return &config->plans[i];
	}
	return NULL;
}

double plan_window_s(const struct plan *plan)
{
	if (!plan || !plan->window_ms)
		return PLAN_DEFAULT_WINDOW_MS / 1000.0;
	return plan->window_ms / 1000.0;
}

/* ---- keys, for the documentation test ------------------------------------ */

/*
 * The custom handlers that walk a table of their own: list items are named
 * "[]" in a dotted key, the entries of a mapping of names ".*". A handler
 * missing here would have its whole subtree listed as one leaf key.
 */
struct nested_table {
	field_handler handler;
	const char *entry;
	const struct field *fields;
};

static const struct nested_table nested_tables[] = {
	{ handle__tenants, "[]", tenant_fields },
	{ handle__plans, ".*", plan_fields },
	{ handle__software, ".*", software_fields },
};

static const struct nested_table *config__nested_table(const struct field *field)
{
	size_t i;

	if (field->kind != FIELD_CUSTOM)
		return NULL;
	for (i = 0; i < sizeof(nested_tables) / sizeof(nested_tables[0]); i++) {
		if (field->handler == nested_tables[i].handler)
			return &nested_tables[i];
	}
	return NULL;
}

static void config__each_key(const struct field *fields, const char *prefix,
			     void (*fn)(const char *dotted_key, void *ctx), void *ctx)
{
	char key[CONFIG_PATH_MAX], child[CONFIG_PATH_MAX];
	const struct nested_table *nested;
	const struct field *field;
	int resource;

	for (field = fields; field->key; field++) {
		parse__child_path(key, prefix, field->key);
		nested = config__nested_table(field);
		if (field->kind == FIELD_SECTION) {
			config__each_key(field->fields, key, fn, ctx);
		} else if (nested) {
			parse__path(child, "%s%s", key, nested->entry);
			config__each_key(nested->fields, child, fn, ctx);
		} else if (field->match || field->handler == handle__floor) {
			/*
			 * A family of keys (a plan's limits), or relative.floor's
			 * keys: the resources, as a plan names them.
			 */
			for (resource = 0; resource < RESOURCE_COUNT; resource++) {
				parse__path(child, "%s%s%s", field->match ? prefix : key,
					    field->match && !prefix[0] ? "" : ".",
					    resource_name(resource));
				fn(child, ctx);
			}
		} else {
			fn(key, ctx);
		}
	}
}

void config_each_key(void (*fn)(const char *dotted_key, void *ctx), void *ctx)
{
	config__each_key(top_fields, "", fn, ctx);
}

int config_override_hostname(struct config *config, const char *hostname)
{
	char *copy;

	if (!hostname)
		return 0;
	copy = strdup(hostname);
	if (!copy)
		return -ENOMEM;
	free(config->agent.hostname);
	config->agent.hostname = copy;
	return 0;
}
