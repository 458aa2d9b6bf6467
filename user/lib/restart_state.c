// SPDX-License-Identifier: GPL-2.0
/*
 * The restart state's text (restart_state.h):
 *
 *   abusewatch-restart VERSION FIELDS
 *   instance HEX32
 *   written SECONDS
 *   agent ALERTS_TOTAL... ALERTS_SUPPRESSED...          (ALERT_KIND_COUNT each)
 *   tenant GONE_FOR_S TOTAL... NAME CGROUP              (FIELDS totals)
 *   cgroup ID FINISHED SEEDED_TASKS LAST... PATH        (FIELDS counters)
 *   end TENANTS CGROUPS
 *
 * FIELDS is the number of counters of struct usage_sample: a file of
 * another layout is refused, not misread. Strings are escaped: bytes up to
 * the space, from DEL up, '%' and a leading '-' as %XX; the empty string
 * (or an unknown path) is "-".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restart_state.h"

#define RESTART_MAGIC "abusewatch-restart"
#define RESTART_VERSION 1
/* Words of the longest line: "cgroup", 3 numbers, the counters, the path. */
#define MAX_WORDS (4 + USAGE_SAMPLE_FIELDS + 1)

static int grow(void **items, size_t *capacity, size_t count, size_t size)
{
	size_t wanted = *capacity ? *capacity * 2 : 64;
	void *grown;

	if (count < *capacity)
		return 0;
	grown = realloc(*items, wanted * size);
	if (!grown)
		return -ENOMEM;
	*items = grown;
	*capacity = wanted;
	return 0;
}

int restart_state_add_tenant(struct restart_state *state, const struct restart_tenant *tenant)
{
	if (grow((void **)&state->tenants, &state->tenant_capacity, state->tenant_count,
		 sizeof(*tenant)))
		return -ENOMEM;
	state->tenants[state->tenant_count++] = *tenant;
	return 0;
}

int restart_state_add_cgroup(struct restart_state *state, const struct restart_cgroup *cgroup)
{
	if (grow((void **)&state->cgroups, &state->cgroup_capacity, state->cgroup_count,
		 sizeof(*cgroup)))
		return -ENOMEM;
	state->cgroups[state->cgroup_count++] = *cgroup;
	return 0;
}

void restart_state_reset(struct restart_state *state)
{
	free(state->storage);
	state->storage = NULL;
	state->tenant_count = 0;
	state->cgroup_count = 0;
	memset(state->instance, 0, sizeof(state->instance));
	memset(state->alerts_total, 0, sizeof(state->alerts_total));
	memset(state->alerts_suppressed, 0, sizeof(state->alerts_suppressed));
	state->written_wall = 0;
}

void restart_state_free(struct restart_state *state)
{
	restart_state_reset(state);
	free(state->tenants);
	free(state->cgroups);
	memset(state, 0, sizeof(*state));
}

/*
 * The text being formatted: a buffer grown by doubling. Numbers and
 * escapes are written by hand: at 10,000 cgroups stdio's formatting was
 * nine tenths of the time.
 */
struct text_buffer {
	char *data;
	size_t length;
	size_t capacity;
	bool failed;
};

static char *reserve(struct text_buffer *buffer, size_t more)
{
	size_t wanted = buffer->capacity ? buffer->capacity : 4096;
	char *grown;

	if (buffer->failed)
		return NULL;
	while (wanted - buffer->length < more)
		wanted *= 2;
	if (wanted != buffer->capacity) {
		grown = realloc(buffer->data, wanted);
		if (!grown) {
			buffer->failed = true;
			return NULL;
		}
		buffer->data = grown;
		buffer->capacity = wanted;
	}
	return buffer->data + buffer->length;
}

static void put_text(struct text_buffer *buffer, const char *text)
{
	size_t length = strlen(text);
	char *at = reserve(buffer, length);

	if (!at)
		return;
	memcpy(at, text, length);
	buffer->length += length;
}

/* " " and @value in decimal. */
static void put_u64(struct text_buffer *buffer, uint64_t value)
{
	char digits[21], *at;
	int count = 0;

	do {
		digits[count++] = (char)('0' + value % 10);
		value /= 10;
	} while (value);
	at = reserve(buffer, (size_t)count + 1);
	if (!at)
		return;
	*at++ = ' ';
	while (count)
		*at++ = digits[--count];
	buffer->length = at - buffer->data;
}

static void put_printf(struct text_buffer *buffer, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put_printf(struct text_buffer *buffer, const char *fmt, ...)
{
	char text[256];
	va_list args;

	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	put_text(buffer, text);
}

/* " " and @text escaped (see the top of this file). */
static void put_escaped(struct text_buffer *buffer, const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *c;
	char *at;

	if (!text || !*text) {
		put_text(buffer, " -");
		return;
	}
	/* At most three bytes each, and the space. */
	at = reserve(buffer, 3 * strlen(text) + 1);
	if (!at)
		return;
	*at++ = ' ';
	for (c = (const unsigned char *)text; *c; c++) {
		if (*c <= ' ' || *c >= 0x7f || *c == '%' ||
		    (*c == '-' && c == (const unsigned char *)text)) {
			*at++ = '%';
			*at++ = hex[*c >> 4];
			*at++ = hex[*c & 15];
		} else {
			*at++ = (char)*c;
		}
	}
	buffer->length = at - buffer->data;
}

static void put_counters(struct text_buffer *buffer, const struct usage_sample *sample)
{
	size_t i;

	for (i = 0; i < USAGE_SAMPLE_FIELDS; i++)
		put_u64(buffer, sample->field[i]);
}

int restart_state_format(const struct restart_state *state, char **text, size_t *length)
{
	struct text_buffer buffer = {0};
	const struct restart_cgroup *cgroup;
	const struct restart_tenant *tenant;
	size_t i;
	int k;

	put_printf(&buffer, "%s %d %zu\ninstance ", RESTART_MAGIC, RESTART_VERSION,
		   USAGE_SAMPLE_FIELDS);
	for (i = 0; i < RESTART_INSTANCE_LEN; i++)
		put_printf(&buffer, "%02x", state->instance[i]);
	put_printf(&buffer, "\nwritten %.3f\nagent", state->written_wall);
	for (k = 0; k < ALERT_KIND_COUNT; k++)
		put_u64(&buffer, state->alerts_total[k]);
	for (k = 0; k < ALERT_KIND_COUNT; k++)
		put_u64(&buffer, state->alerts_suppressed[k]);
	put_text(&buffer, "\n");
	for (i = 0; i < state->tenant_count; i++) {
		tenant = &state->tenants[i];
		put_printf(&buffer, "tenant %.3f",
			   tenant->gone_for_s < 0 ? -1.0 : tenant->gone_for_s);
		put_counters(&buffer, &tenant->total);
		put_escaped(&buffer, tenant->name);
		put_escaped(&buffer, tenant->cgroup);
		put_text(&buffer, "\n");
	}
	for (i = 0; i < state->cgroup_count; i++) {
		cgroup = &state->cgroups[i];
		put_text(&buffer, "cgroup");
		put_u64(&buffer, cgroup->id);
		put_text(&buffer, cgroup->finished ? " 1 " : " 0 ");
		/* Seeded tasks may be negative: what the exit probe took back. */
		if (cgroup->seeded_tasks < 0)
			put_printf(&buffer, "%" PRId64, cgroup->seeded_tasks);
		else
			put_printf(&buffer, "%" PRIu64, (uint64_t)cgroup->seeded_tasks);
		put_counters(&buffer, &cgroup->last);
		put_escaped(&buffer, cgroup->path);
		put_text(&buffer, "\n");
	}
	put_printf(&buffer, "end %zu %zu\n", state->tenant_count, state->cgroup_count);
	/* A NUL after the text, not counted: it reads as a string too. */
	if (reserve(&buffer, 1))
		buffer.data[buffer.length] = '\0';
	if (buffer.failed) {
		free(buffer.data);
		*text = NULL;
		return -ENOMEM;
	}
	*text = buffer.data;
	*length = buffer.length;
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes @word in place; "-" is the empty string. False when an escape is broken. */
static bool unescape(char *word, const char **text)
{
	char *from = word, *to = word;
	int high, low;

	if (!strcmp(word, "-")) {
		*text = "";
		return true;
	}
	while (*from) {
		if (*from != '%') {
			*to++ = *from++;
			continue;
		}
		high = hex_value(from[1]);
		low = high < 0 ? -1 : hex_value(from[2]);
		/* A NUL would cut the string short: never written, so never read. */
		if (low < 0 || (high == 0 && low == 0))
			return false;
		*to++ = (char)(high << 4 | low);
		from += 3;
	}
	*to = '\0';
	*text = word;
	return true;
}

static bool parse_u64(const char *word, uint64_t *value)
{
	char *end;

	if (*word < '0' || *word > '9')
		return false;
	errno = 0;
	*value = strtoull(word, &end, 10);
	return !errno && !*end;
}

static bool parse_i64(const char *word, int64_t *value)
{
	char *end;

	if (!*word)
		return false;
	errno = 0;
	*value = strtoll(word, &end, 10);
	return !errno && !*end;
}

static bool parse_double(const char *word, double *value)
{
	char *end;

	if (!*word)
		return false;
	errno = 0;
	*value = strtod(word, &end);
	/* No inf or nan: only what this module writes. */
	return !errno && !*end && *value == *value && *value > -1e18 && *value < 1e18;
}

static bool parse_counters(char **words, struct usage_sample *sample)
{
	size_t i;

	for (i = 0; i < USAGE_SAMPLE_FIELDS; i++)
		if (!parse_u64(words[i], &sample->field[i]))
			return false;
	return true;
}

/*
 * Splits @line at single spaces into at most MAX_WORDS words; the count, or -1 for more or empty
 * words.
 */
static int split_words(char *line, char **words)
{
	int count = 0;
	char *space;

	for (;;) {
		if (count == MAX_WORDS || !*line)
			return -1;
		words[count++] = line;
		space = strchr(line, ' ');
		if (!space)
			return count;
		*space = '\0';
		line = space + 1;
	}
}

static bool parse_instance(const char *hex, uint8_t *instance)
{
	int i, high, low;

	if (strlen(hex) != 2 * RESTART_INSTANCE_LEN)
		return false;
	for (i = 0; i < RESTART_INSTANCE_LEN; i++) {
		high = hex_value(hex[2 * i]);
		low = hex_value(hex[2 * i + 1]);
		if (high < 0 || low < 0)
			return false;
		instance[i] = (uint8_t)(high << 4 | low);
	}
	return true;
}

static bool parse_tenant(char **words, int count, struct restart_tenant *tenant)
{
	memset(tenant, 0, sizeof(*tenant));
	return count == 2 + (int)USAGE_SAMPLE_FIELDS + 2 &&
	       parse_double(words[1], &tenant->gone_for_s) &&
	       parse_counters(words + 2, &tenant->total) &&
	       unescape(words[2 + USAGE_SAMPLE_FIELDS], &tenant->name) && tenant->name[0] &&
	       unescape(words[3 + USAGE_SAMPLE_FIELDS], &tenant->cgroup);
}

static bool parse_cgroup(char **words, int count, struct restart_cgroup *cgroup)
{
	uint64_t finished;

	memset(cgroup, 0, sizeof(*cgroup));
	if (count != 4 + (int)USAGE_SAMPLE_FIELDS + 1 || !parse_u64(words[1], &cgroup->id) ||
	    !cgroup->id || !parse_u64(words[2], &finished) || finished > 1 ||
	    !parse_i64(words[3], &cgroup->seeded_tasks) ||
	    !parse_counters(words + 4, &cgroup->last) ||
	    !unescape(words[4 + USAGE_SAMPLE_FIELDS], &cgroup->path))
		return false;
	cgroup->finished = finished;
	if (!cgroup->path[0])
		cgroup->path = NULL;
	return true;
}

static bool parse_agent(char **words, int count, struct restart_state *state)
{
	int k;

	if (count != 1 + 2 * ALERT_KIND_COUNT)
		return false;
	for (k = 0; k < ALERT_KIND_COUNT; k++)
		if (!parse_u64(words[1 + k], &state->alerts_total[k]) ||
		    !parse_u64(words[1 + ALERT_KIND_COUNT + k], &state->alerts_suppressed[k]))
			return false;
	return true;
}

static bool parse_header(char **words, int count)
{
	uint64_t version, fields;

	return count == 3 && !strcmp(words[0], RESTART_MAGIC) && parse_u64(words[1], &version) &&
	       version == RESTART_VERSION && parse_u64(words[2], &fields) &&
	       fields == USAGE_SAMPLE_FIELDS;
}

static int refuse(struct restart_state *state, char *why, size_t whylen, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(why, whylen, fmt, args);
	va_end(args);
	restart_state_free(state);
	return -EINVAL;
}

/* One record line (after the header lines); false when it is not one. */
static bool parse_record(char **words, int count, struct restart_state *state, bool *ended)
{
	struct restart_tenant tenant;
	struct restart_cgroup cgroup;
	uint64_t tenants, cgroups;

	if (!strcmp(words[0], "tenant"))
		return parse_tenant(words, count, &tenant) &&
		       !restart_state_add_tenant(state, &tenant);
	if (!strcmp(words[0], "cgroup"))
		return parse_cgroup(words, count, &cgroup) &&
		       !restart_state_add_cgroup(state, &cgroup);
	if (strcmp(words[0], "end") || count != 3 || !parse_u64(words[1], &tenants) ||
	    !parse_u64(words[2], &cgroups))
		return false;
	*ended = true;
	return tenants == state->tenant_count && cgroups == state->cgroup_count;
}

int restart_state_parse(char *text, size_t length, struct restart_state *state, char *why,
			size_t whylen)
{
	char *line = text, *newline, *words[MAX_WORDS];
	unsigned int number = 0;
	bool ended = false;
	int count;

	state->storage = text;
	if (memchr(text, '\0', length))
		return refuse(state, why, whylen, "a NUL byte in the file");
	while (line < text + length) {
		newline = memchr(line, '\n', text + length - line);
		if (!newline || ended)
			return refuse(state, why, whylen, "line %u: %s", number + 1,
				      ended ? "text after the end" : "cut short");
		*newline = '\0';
		number++;
		count = split_words(line, words);
		if (count < 0)
			return refuse(state, why, whylen, "line %u: not a record", number);
		if (number == 1 && !parse_header(words, count))
			return refuse(
			    state, why, whylen,
			    "line 1: not a restart state of this version (%s %d, %zu counters)",
			    RESTART_MAGIC, RESTART_VERSION, USAGE_SAMPLE_FIELDS);
		if (number == 2 && (count != 2 || strcmp(words[0], "instance") ||
				    !parse_instance(words[1], state->instance)))
			return refuse(state, why, whylen, "line 2: no instance");
		if (number == 3 && (count != 2 || strcmp(words[0], "written") ||
				    !parse_double(words[1], &state->written_wall)))
			return refuse(state, why, whylen, "line 3: no time written");
		if (number == 4 && (strcmp(words[0], "agent") || !parse_agent(words, count, state)))
			return refuse(state, why, whylen, "line 4: not the agent's counters");
		if (number > 4 && !parse_record(words, count, state, &ended))
			return refuse(state, why, whylen, "line %u: not a valid record", number);
		line = newline + 1;
	}
	if (!ended)
		return refuse(state, why, whylen, "cut short after line %u", number);
	return 0;
}
