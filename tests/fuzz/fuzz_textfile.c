// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzzes the node_exporter textfile (user/sinks/metrics.c, textfile.c):
 * rows of tenants with any names and plans (tenants name their cgroups)
 * and any values, over a few writes as ticks would make them. After each
 * write the file must be well-formed Prometheus text, line by line
 * (names, escapes, UTF-8, numbers), show each tenant under its name, and
 * be the file a write from nothing makes of the same rows: the lines
 * kept between writes never drift from the rows.
 */
#include <errno.h>
#include <math.h>

#include "config.h"
#include "fuzz.h"
#include "metrics.h"
#include "text.h"
#include "textfile.h"

#define MAX_ROWS 8
#define MAX_ROUNDS 5

struct round {
	struct tenant_row rows[MAX_ROWS];
	char *names[MAX_ROWS];
	char *plans[MAX_ROWS];
	size_t count;
};

static struct plan plans[2];
static struct relative_config relative;

static bool is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

/* A metric or label name at @p; returns past it, NULL when there is none. */
static const char *skip_name(const char *p, bool label)
{
	if (!is_name_start(*p) || (label && *p == ':'))
		return NULL;
	while (is_name_char(*p) && !(label && *p == ':'))
		p++;
	return p;
}

/* A valid UTF-8 run up to @end, escapes (@quotes: also \") only as the format has them. */
static bool valid_text(const char *p, const char *end, bool quotes)
{
	size_t step, invalid;

	while (p < end) {
		if (*p == '\\') {
			if (p + 1 >= end || !(p[1] == '\\' || p[1] == 'n' || (quotes && p[1] == '"')))
				return false;
			p += 2;
			continue;
		}
		if (*p == '\n' || (quotes && *p == '"'))
			return false;
		step = text_utf8_sequence(p, &invalid);
		if (!step || p + step > end)
			return false;
		p += step;
	}
	return true;
}

static bool valid_value(const char *p)
{
	char *end;

	if (!strcmp(p, "NaN") || !strcmp(p, "+Inf") || !strcmp(p, "-Inf"))
		return true;
	errno = 0;
	strtod(p, &end);
	return *p && !*end && *p != ' ' && *p != '+' && !strchr(p, 'x') && !strchr(p, 'n') &&
	       !strchr(p, 'N') && !strchr(p, 'i') && !strchr(p, 'I');
}

/* One line of the file (without its newline) is one of the format's three. */
static void check_line(const char *line, char *family, size_t family_size)
{
	const char *p, *name_end, *quote;

	if (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)) {
		p = line + 7;
		name_end = skip_name(p, false);
		fuzz_check(name_end && *name_end == ' ', "bad comment line: %s", line);
		if (line[2] == 'T') {
			fuzz_check(!strcmp(name_end + 1, "counter") || !strcmp(name_end + 1, "gauge"),
				   "bad TYPE line: %s", line);
			fuzz_check(name_end - p < (long)family_size, "family name too long");
			memcpy(family, p, name_end - p);
			family[name_end - p] = '\0';
		} else {
			fuzz_check(valid_text(name_end + 1, name_end + 1 + strlen(name_end + 1), false),
				   "bad HELP text: %s", line);
		}
		return;
	}
	p = skip_name(line, false);
	fuzz_check(p, "a sample without a name: %s", line);
	fuzz_check((size_t)(p - line) == strlen(family) && !strncmp(line, family, p - line),
		   "a sample outside its family %s: %s", family, line);
	if (*p == '{') {
		p++;
		for (;;) {
			name_end = skip_name(p, true);
			fuzz_check(name_end && name_end[0] == '=' && name_end[1] == '"',
				   "bad label at \"%s\": %s", p, line);
			p = name_end + 2;
			/* The closing quote is the first not escaped. */
			for (quote = p; *quote && *quote != '"'; quote += *quote == '\\' ? 2 : 1)
				fuzz_check(quote[0] != '\\' || quote[1], "escape at the end: %s", line);
			fuzz_check(*quote == '"', "unterminated label value: %s", line);
			fuzz_check(valid_text(p, quote, true), "bad label value \"%.*s\": %s",
				   (int)(quote - p), p, line);
			p = quote + 1;
			if (*p == ',') {
				p++;
				continue;
			}
			fuzz_check(*p == '}', "labels not closed: %s", line);
			p++;
			break;
		}
	}
	fuzz_check(*p == ' ' && valid_value(p + 1), "bad value \"%s\": %s", p, line);
}

static void check_file(const char *text, size_t size)
{
	char family[128] = "";
	const char *line = text, *end;
	char *copy;

	fuzz_check(size && text[size - 1] == '\n', "the file does not end in a newline");
	fuzz_check(strlen(text) == size, "a NUL in the file");
	for (; *line; line = end + 1) {
		end = strchr(line, '\n');
		copy = strndup(line, end - line);
		fuzz_check(copy, "no memory");
		check_line(copy, family, sizeof(family));
		free(copy);
	}
}

/* The label value @text becomes: UTF-8 made valid, then escaped. */
static char *expected_label(const char *text)
{
	size_t length, needed;
	char *valid = text_utf8_copy(text, &length), *out;

	fuzz_check(valid, "no memory");
	needed = textfile_escape_label(valid, NULL, 0);
	out = malloc(needed + 1);
	fuzz_check(out, "no memory");
	textfile_escape_label(valid, out, needed + 1);
	free(valid);
	return out;
}

/* Every row shows under its own name: its execs, always present. */
static void check_rows_shown(const char *text, const struct round *round)
{
	char number[TEXTFILE_VALUE_MAX], *line;
	char *tenant, *plan;
	size_t i, length;

	for (i = 0; i < round->count; i++) {
		const struct tenant_row *row = &round->rows[i];

		tenant = expected_label(row->tenant);
		plan = expected_label(row->plan);
		textfile_format_value((double)row->execs, number);
		length = strlen(tenant) + strlen(plan) + strlen(number) + 128;
		line = malloc(length);
		fuzz_check(line, "no memory");
		snprintf(line, length, "\nabusewatch_tenant_execs_total{tenant=\"%s\",plan=\"%s\"} %s\n",
			 tenant, plan, number);
		fuzz_check(strstr(text, line), "no line %s", line + 1);
		free(line);
		free(plan);
		free(tenant);
	}
}

static int compare_rows(const void *a, const void *b)
{
	return strcmp(((const struct tenant_row *)a)->tenant,
		      ((const struct tenant_row *)b)->tenant);
}

/* Values of a row; @keep: mostly those of @before (a tick where little moved). */
static void fill_values(struct fuzz_input *in, struct tenant_row *row,
			const struct tenant_row *before)
{
	uint32_t mask = fuzz_u32(in), which = fuzz_u32(in);
	int resource;

	for (resource = 0; resource < RESOURCE_COUNT; resource++) {
		if (before && !(which & (1u << resource))) {
			row->has_value[resource] = before->has_value[resource];
			row->value[resource] = before->value[resource];
			row->has_usage[resource] = before->has_usage[resource];
			row->usage[resource] = before->usage[resource];
			row->firing[resource] = before->firing[resource];
			row->relative_firing[resource] = before->relative_firing[resource];
			continue;
		}
		row->has_value[resource] = mask & (1u << resource);
		row->value[resource] = row->has_value[resource] ? fuzz_double(in) : 0;
		row->has_usage[resource] = fuzz_bool(in);
		row->usage[resource] = row->has_usage[resource] ? fuzz_double(in) : 0;
		row->firing[resource] = fuzz_bool(in);
		row->relative_firing[resource] = fuzz_bool(in);
	}
	row->execs = before && !(which >> 31) ? before->execs : fuzz_u32(in);
}

static bool same_row(const struct tenant_row *a, const struct tenant_row *b)
{
	return a->serial == b->serial && a->limits == b->limits && a->execs == b->execs &&
	       !memcmp(a->has_value, b->has_value, sizeof(a->has_value)) &&
	       !memcmp(a->value, b->value, sizeof(a->value)) &&
	       !memcmp(a->has_usage, b->has_usage, sizeof(a->has_usage)) &&
	       !memcmp(a->usage, b->usage, sizeof(a->usage)) &&
	       !memcmp(a->firing, b->firing, sizeof(a->firing)) &&
	       !memcmp(a->relative_firing, b->relative_firing, sizeof(a->relative_firing));
}

/*
 * The rows of a tick: some tenants of the last one, as they were or moved,
 * and new ones. The serial is the tenant's (same serial, same strings), and
 * a row is marked unchanged only where it is, as tenant_row.h promises.
 * After a @reload the same tenants are new ones (the agent makes a new
 * tenant set, so new serials): only then may the relative rule, which
 * decides which lines a row has, be another.
 */
static void make_round(struct fuzz_input *in, struct round *round, const struct round *last,
		       uint64_t *next_serial, bool reload)
{
	size_t count = 1 + fuzz_u8(in) % MAX_ROWS, i, j;

	round->count = 0;
	for (i = 0; i < count && in->size; i++) {
		struct tenant_row *row = &round->rows[round->count];
		const struct tenant_row *before = NULL;
		size_t from = fuzz_u8(in);

		memset(row, 0, sizeof(*row));
		if (last && last->count && from < 200) {
			before = &last->rows[from % last->count];
			round->names[round->count] = strdup(before->tenant);
			round->plans[round->count] = strdup(before->plan);
			fuzz_check(round->names[round->count] && round->plans[round->count], "no memory");
			row->serial = reload ? (*next_serial)++ : before->serial;
			row->limits = before->limits;
		} else {
			round->names[round->count] = fuzz_string(in, 300);
			round->plans[round->count] = fuzz_string(in, 40);
			/* Now and then a row made by hand (serial 0), as tests make them. */
			row->serial = fuzz_bool(in) ? (*next_serial)++ : 0;
			row->limits = &plans[fuzz_u8(in) % 3 % 2];
			if (fuzz_bool(in))
				row->limits = NULL;
		}
		row->tenant = round->names[round->count];
		row->plan = round->plans[round->count];
		fill_values(in, row, before);
		row->unchanged = before && fuzz_bool(in) && row->serial && same_row(row, before);
		round->count++;
	}
	/* Rows come in name order, each tenant once (tenants.c makes them so). */
	qsort(round->rows, round->count, sizeof(round->rows[0]), compare_rows);
	for (i = 1, j = 0; i < round->count; i++)
		if (strcmp(round->rows[i].tenant, round->rows[j].tenant))
			round->rows[++j] = round->rows[i];
	if (round->count)
		round->count = j + 1;
}

static void free_round(struct round *round)
{
	size_t i;

	for (i = 0; i < MAX_ROWS; i++) {
		free(round->names[i]);
		free(round->plans[i]);
		round->names[i] = round->plans[i] = NULL;
	}
	round->count = 0;
}

static void fill_plans(struct fuzz_input *in)
{
	int i, resource;

	for (i = 0; i < 2; i++) {
		for (resource = 0; resource < RESOURCE_COUNT; resource++) {
			plans[i].has_limit[resource] = fuzz_bool(in);
			plans[i].limit[resource] = plans[i].has_limit[resource] ? fuzz_double(in) : 0;
		}
	}
	for (resource = 0; resource < RESOURCE_COUNT; resource++)
		relative.has_floor[resource] = fuzz_bool(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	static struct round rounds[2];
	char cached[256], fresh[256];
	struct metrics_snapshot snapshot;
	uint64_t next_serial = 1;
	size_t rounds_count = 1 + fuzz_u8(&in) % MAX_ROUNDS, i, cached_size, fresh_size;
	struct round *round = NULL, *last = NULL;
	char *cached_text, *fresh_text;
	bool reload, with_relative = false;
	int kind;

	snprintf(cached, sizeof(cached), "%s/cached.prom", fuzz_scratch_dir());
	snprintf(fresh, sizeof(fresh), "%s/fresh.prom", fuzz_scratch_dir());
	fill_plans(&in);
	metrics_forget();
	for (i = 0; i < rounds_count; i++) {
		last = round;
		round = &rounds[i % 2];
		reload = !i || fuzz_u8(&in) < 32;
		if (reload)
			with_relative = fuzz_bool(&in);
		make_round(&in, round, last, &next_serial, reload);
		snapshot = (struct metrics_snapshot){
			.rows = round->rows,
			.row_count = round->count,
			.relative = with_relative ? &relative : NULL,
			.events_lost = fuzz_u8(&in),
			.version = "1.0",
		};
		for (kind = 0; kind < ALERT_KIND_COUNT; kind++)
			snapshot.alerts_total[kind] = fuzz_u8(&in);
		fuzz_check(!metrics_write(cached, &snapshot), "write %zu failed", i);
		cached_text = fuzz_read_file(cached, &cached_size);
		fuzz_check(cached_text, "no file after write %zu", i);
		check_file(cached_text, cached_size);
		check_rows_shown(cached_text, round);
		/*
		 * From nothing, now and then and after the last: the same file.
		 * The next write, to the other path again, starts from the lines
		 * made from nothing.
		 */
		if (i + 1 == rounds_count || fuzz_bool(&in)) {
			metrics_forget();
			fuzz_check(!metrics_write(fresh, &snapshot), "fresh write %zu failed", i);
			fresh_text = fuzz_read_file(fresh, &fresh_size);
			/* FUZZ_TEXTFILE_DUMP=1: both files to /tmp, to diff when they differ. */
			if (getenv("FUZZ_TEXTFILE_DUMP") && (!fresh_text || fresh_size != cached_size ||
							    memcmp(fresh_text, cached_text, cached_size))) {
				fuzz_write_file("/tmp/cached.prom", cached_text, cached_size);
				if (fresh_text)
					fuzz_write_file("/tmp/fresh.prom", fresh_text, fresh_size);
			}
			fuzz_check(fresh_text && fresh_size == cached_size &&
					   !memcmp(fresh_text, cached_text, cached_size),
				   "write %zu: the kept lines differ from a write from nothing", i);
			free(fresh_text);
		}
		free(cached_text);
		if (last)
			free_round(last);
	}
	free_round(&rounds[0]);
	free_round(&rounds[1]);
	metrics_forget();
	return 0;
}
