// SPDX-License-Identifier: GPL-2.0
/*
 * Cgroup path patterns and tenant templates.
 *
 * A pattern compiles into segments; a segment is either "any depth" (`**`)
 * or a list of tokens: literal text, `*`, and captures.  A capture is split
 * into two tokens, CAPTURE_FIRST (exactly one character, so the value is
 * never empty) and CAPTURE_REST (any run, like `*`), which lets one
 * dynamic-programming table decide a whole segment.
 *
 * Paths come from the kernel and from whatever tenants name their cgroups,
 * so matching must stay polynomial on hostile input:
 *  - inside a segment, a table ok[token][position] is filled backwards in
 *    O(tokens x length) steps (literals add a memcmp of their own length),
 *    and the captures are then read off it in one forward pass;
 *  - across segments, a second table over (pattern segment, path segment)
 *    is filled the same way, so each pair is decided at most once and there
 *    is no recursion whose depth a path could choose.
 * A capture never influences another segment (names are unique and there
 * are no back-references), so whether a segment matches can be decided
 * without its captures, which are collected afterwards along one match.
 * Paths are bounded (PATTERN_MAX_PATH), so the tables are too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

/*
 * Cgroup paths are built by the kernel into PATH_MAX-sized buffers; a longer
 * "path" is not one we can be asked about, and refusing it bounds the memory
 * the matcher allocates.
 */
#define PATTERN_MAX_PATH 65536

enum token_kind {
	TOKEN_LITERAL,
	TOKEN_STAR,
	TOKEN_CAPTURE_FIRST,
	TOKEN_CAPTURE_REST,
};

struct token {
	enum token_kind kind;
	size_t offset;	/* literal: where the text starts in pattern->text */
	size_t length;	/* literal: how many bytes */
	size_t capture; /* captures: index into pattern->names */
};

struct segment {
	int any_depth; /* the segment is exactly `**` */
	size_t first_token;
	size_t token_count;
};

struct pattern {
	char *text;
	struct segment *segments;
	size_t segment_count;
	struct token *tokens;
	size_t token_count;
	size_t max_segment_tokens;
	size_t capture_count;
	char names[PATTERN_MAX_CAPTURES][PATTERN_MAX_NAME];
};

struct path_segment {
	const char *start;
	size_t length;
};

struct match_context {
	const struct pattern *pattern;
	const struct path_segment *path;
	size_t path_count;
	unsigned char *reachable; /* [segment][path index], see fill_segment_table() */
	unsigned char *table;	  /* scratch for segment_match */
	struct captures *caps;
};

static void set_error(char *err, size_t errlen, size_t *err_offset, size_t offset, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
	if (err_offset)
		*err_offset = offset;
}

static int is_name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

/*
 * Parses the `{name}` whose '{' is at @open, looking no further than @limit.
 * Returns 0 with the name's length in @name_length, or -EINVAL with a
 * message and the offending offset.
 */
static int parse_reference(const char *text, size_t open, size_t limit, size_t *name_length,
			   const char **msg, size_t *offset)
{
	size_t pos = open + 1;
	int err = 0;

	while (pos < limit && text[pos] != '}') {
		if (!(pos == open + 1 ? is_name_start(text[pos]) : is_name_char(text[pos]))) {
			*msg = "invalid character in capture name";
			*offset = pos;
			err = -EINVAL;
			goto cleanup;
		}
		pos++;
	}
	if (pos >= limit) {
		*msg = "unclosed '{'";
		*offset = open;
		err = -EINVAL;
		goto cleanup;
	}
	if (pos == open + 1) {
		*msg = "empty capture name";
		*offset = open;
		err = -EINVAL;
		goto cleanup;
	}
	if (pos - open - 1 >= PATTERN_MAX_NAME) {
		*msg = "capture name too long";
		*offset = open + 1;
		err = -EINVAL;
		goto cleanup;
	}
	*name_length = pos - open - 1;
cleanup:
	return err;
}

static int find_capture(const struct pattern *pattern, const char *name, size_t length)
{
	size_t i;

	for (i = 0; i < pattern->capture_count; i++) {
		if (strlen(pattern->names[i]) == length && !memcmp(pattern->names[i], name, length))
			return (int)i;
	}
	return -1;
}

static void push_token(struct pattern *pattern, enum token_kind kind, size_t offset, size_t length,
		       size_t capture)
{
	struct token *token = &pattern->tokens[pattern->token_count++];

	token->kind = kind;
	token->offset = offset;
	token->length = length;
	token->capture = capture;
}

/* Compiles text[start, end) into one segment. */
static int parse_segment(struct pattern *pattern, size_t start, size_t end, const char **msg,
			 size_t *offset)
{
	const char *text = pattern->text;
	struct segment *segment = &pattern->segments[pattern->segment_count];
	size_t pos = start, literal_start = start, name_length, tokens;
	int after_wildcard = 0, err = 0;

	segment->first_token = pattern->token_count;
	if (end - start == 2 && text[start] == '*' && text[start + 1] == '*') {
		segment->any_depth = 1;
		goto done;
	}
	for (pos = start; pos + 1 < end; pos++) {
		if (text[pos] == '*' && text[pos + 1] == '*') {
			*msg = "'**' must be a whole segment";
			*offset = pos;
			err = -EINVAL;
			goto cleanup;
		}
	}
	pos = start;
	while (pos < end) {
		if (text[pos] != '*' && text[pos] != '{') {
			after_wildcard = 0;
			pos++;
			continue;
		}
		/* Two wildcards in a row could split their text any way at all. */
		if (after_wildcard) {
			*msg = "adjacent wildcards or captures are ambiguous";
			*offset = pos;
			err = -EINVAL;
			goto cleanup;
		}
		if (pos > literal_start)
			push_token(pattern, TOKEN_LITERAL, literal_start, pos - literal_start, 0);
		if (text[pos] == '*') {
			push_token(pattern, TOKEN_STAR, 0, 0, 0);
			pos++;
		} else {
			err = parse_reference(text, pos, end, &name_length, msg, offset);
			if (err)
				goto cleanup;
			if (find_capture(pattern, text + pos + 1, name_length) >= 0) {
				*msg = "duplicate capture name";
				*offset = pos;
				err = -EINVAL;
				goto cleanup;
			}
			if (pattern->capture_count >= PATTERN_MAX_CAPTURES) {
				*msg = "too many captures";
				*offset = pos;
				err = -EINVAL;
				goto cleanup;
			}
			memcpy(pattern->names[pattern->capture_count], text + pos + 1, name_length);
			pattern->names[pattern->capture_count][name_length] = '\0';
			push_token(pattern, TOKEN_CAPTURE_FIRST, 0, 0, pattern->capture_count);
			push_token(pattern, TOKEN_CAPTURE_REST, 0, 0, pattern->capture_count);
			pattern->capture_count++;
			pos += name_length + 2;
		}
		after_wildcard = 1;
		literal_start = pos;
	}
	if (pos > literal_start)
		push_token(pattern, TOKEN_LITERAL, literal_start, pos - literal_start, 0);
done:
	segment->token_count = pattern->token_count - segment->first_token;
	tokens = segment->token_count;
	if (tokens > pattern->max_segment_tokens)
		pattern->max_segment_tokens = tokens;
	pattern->segment_count++;
cleanup:
	return err;
}

struct pattern *pattern_compile(const char *text, char *err, size_t errlen, size_t *err_offset)
{
	struct pattern *pattern = NULL;
	const char *msg = NULL, *slash;
	size_t length, pos, end, offset = 0;
	int ret = 0;

	if (!text) {
		ret = -EINVAL;
		msg = "no pattern";
		goto cleanup;
	}
	length = strlen(text);
	pattern = calloc(1, sizeof(*pattern));
	if (!pattern) {
		ret = -ENOMEM;
		goto cleanup;
	}
	pattern->text = strdup(text);
	/* Every segment holds at least one byte and every byte makes at most two tokens. */
	pattern->segments = calloc(length + 1, sizeof(*pattern->segments));
	pattern->tokens = calloc(2 * length + 1, sizeof(*pattern->tokens));
	if (!pattern->text || !pattern->segments || !pattern->tokens) {
		ret = -ENOMEM;
		goto cleanup;
	}

	if (text[0] == '/') {
		pos = 1;
	} else if (text[0] == '*' && text[1] == '*') {
		/* "**" first: the pattern matches at any depth; parse_segment checks the rest. */
		pos = 0;
	} else {
		msg = "pattern must start with '/' or '**'";
		offset = 0;
		ret = -EINVAL;
		goto cleanup;
	}
	/* "/" alone is the root: no segments at all. */
	if (length == 1)
		goto cleanup;
	for (;;) {
		slash = strchr(text + pos, '/');
		end = slash ? (size_t)(slash - text) : length;
		if (end == pos) {
			msg = "empty path segment";
			offset = pos;
			ret = -EINVAL;
			goto cleanup;
		}
		ret = parse_segment(pattern, pos, end, &msg, &offset);
		if (ret)
			goto cleanup;
		if (end == length)
			break;
		pos = end + 1;
	}
cleanup:
	if (ret) {
		if (ret == -EINVAL)
			set_error(err, errlen, err_offset, offset, msg);
		pattern_free(pattern);
		pattern = NULL;
		errno = -ret;
	}
	return pattern;
}

void pattern_free(struct pattern *pattern)
{
	if (!pattern)
		return;
	free(pattern->tokens);
	free(pattern->segments);
	free(pattern->text);
	free(pattern);
}

const char *pattern_text(const struct pattern *pattern)
{
	return pattern ? pattern->text : NULL;
}

bool pattern_has_capture(const struct pattern *pattern, const char *name)
{
	return pattern && name && find_capture(pattern, name, strlen(name)) >= 0;
}

/*
 * Decides whether one pattern segment matches one path segment, and stores
 * its captures in ctx->caps.  Where several splits are possible, each `*` and
 * each capture takes as much as it can, leftmost first (as a greedy regex).
 */
static bool segment_match(struct match_context *ctx, const struct segment *segment,
			  const struct path_segment *path)
{
	const struct pattern *pattern = ctx->pattern;
	const struct token *tokens = pattern->tokens + segment->first_token;
	const struct token *token;
	size_t count = segment->token_count, length = path->length;
	size_t width = length + 1, t, pos, start = 0, value_length;
	const char *s = path->start;
	unsigned char *ok = ctx->table;
	bool matched = false;

	/* The common case, a plain name, needs no table. */
	if (count == 1 && tokens[0].kind == TOKEN_LITERAL) {
		matched = tokens[0].length == length &&
			  !memcmp(pattern->text + tokens[0].offset, s, length);
		goto cleanup;
	}

	/* ok[t * width + pos]: tokens t.. match s[pos..]. */
	memset(ok + count * width, 0, width);
	ok[count * width + length] = 1;
	for (t = count; t-- > 0;) {
		unsigned char *row = ok + t * width, *next = ok + (t + 1) * width;

		token = &tokens[t];
		for (pos = width; pos-- > 0;) {
			switch (token->kind) {
			case TOKEN_LITERAL:
				row[pos] = pos + token->length <= length &&
					   !memcmp(s + pos, pattern->text + token->offset,
						   token->length) &&
					   next[pos + token->length];
				break;
			case TOKEN_STAR:
			case TOKEN_CAPTURE_REST:
				row[pos] = next[pos] || (pos < length && row[pos + 1]);
				break;
			case TOKEN_CAPTURE_FIRST:
				row[pos] = pos < length && next[pos + 1];
				break;
			}
		}
	}
	if (!ok[0])
		goto cleanup;

	/* Walk the table forward, taking the longest run for each wildcard. */
	pos = 0;
	for (t = 0; t < count;) {
		token = &tokens[t];
		switch (token->kind) {
		case TOKEN_LITERAL:
			pos += token->length;
			t++;
			break;
		case TOKEN_CAPTURE_FIRST:
			start = pos++;
			t++;
			break;
		case TOKEN_STAR:
		case TOKEN_CAPTURE_REST:
			if (pos < length && ok[t * width + pos + 1]) {
				pos++;
				break;
			}
			if (token->kind == TOKEN_CAPTURE_REST) {
				value_length = pos - start;
				if (value_length >= PATTERN_MAX_VALUE)
					goto cleanup;
				memcpy(ctx->caps->items[token->capture].value, s + start,
				       value_length);
				ctx->caps->items[token->capture].value[value_length] = '\0';
			}
			t++;
			break;
		}
	}
	matched = true;
cleanup:
	return matched;
}

/*
 * Fills ctx->reachable[i][j]: pattern segments i.. match path segments j..
 * Backwards, one cell each, so the work is bounded by segments x path
 * segments and segment_match() runs only where the rest already matches.
 */
static void fill_segment_table(struct match_context *ctx)
{
	const struct pattern *pattern = ctx->pattern;
	size_t width = ctx->path_count + 1, i, j;
	unsigned char *row, *next;

	memset(ctx->reachable + pattern->segment_count * width, 0, width);
	ctx->reachable[pattern->segment_count * width + ctx->path_count] = 1;
	for (i = pattern->segment_count; i-- > 0;) {
		row = ctx->reachable + i * width;
		next = row + width;
		for (j = width; j-- > 0;) {
			if (pattern->segments[i].any_depth)
				row[j] = next[j] || (j < ctx->path_count && row[j + 1]);
			else
				row[j] = j < ctx->path_count && next[j + 1] &&
					 segment_match(ctx, &pattern->segments[i], &ctx->path[j]);
		}
	}
}

/* Walks the table forward, `**` taking as few segments as it can, to collect the captures. */
static void collect_captures(struct match_context *ctx)
{
	const struct pattern *pattern = ctx->pattern;
	size_t width = ctx->path_count + 1, i = 0, j = 0;

	while (i < pattern->segment_count) {
		if (!pattern->segments[i].any_depth) {
			segment_match(ctx, &pattern->segments[i], &ctx->path[j]);
			i++;
			j++;
		} else if (ctx->reachable[(i + 1) * width + j]) {
			i++;
		} else {
			j++;
		}
	}
}

bool pattern_match(const struct pattern *pattern, const char *path, struct captures *caps)
{
	struct match_context ctx = {.pattern = pattern};
	struct path_segment *segments = NULL;
	struct captures found;
	size_t length, count = 0, longest = 0, pos, i;
	const char *slash;
	bool matched = false;

	if (caps)
		caps->count = 0;
	if (!pattern || !path || path[0] != '/')
		goto cleanup;
	length = strnlen(path, PATTERN_MAX_PATH + 1);
	if (length > PATTERN_MAX_PATH)
		goto cleanup;

	/* "/" is the root and has no segments; "//" and a trailing '/' are no cgroup paths. */
	segments = calloc(length, sizeof(*segments));
	if (!segments)
		goto cleanup;
	for (pos = 1; length > 1;) {
		slash = strchr(path + pos, '/');
		segments[count].start = path + pos;
		segments[count].length = slash ? (size_t)(slash - path) - pos : length - pos;
		if (!segments[count].length)
			goto cleanup;
		if (segments[count].length > longest)
			longest = segments[count].length;
		pos += segments[count].length + 1;
		count++;
		if (!slash)
			break;
	}

	ctx.path = segments;
	ctx.path_count = count;
	ctx.caps = &found;
	ctx.reachable = malloc((pattern->segment_count + 1) * (count + 1));
	ctx.table = malloc((pattern->max_segment_tokens + 1) * (longest + 1));
	if (!ctx.reachable || !ctx.table)
		goto cleanup;

	memset(&found, 0, sizeof(found));
	found.count = pattern->capture_count;
	for (i = 0; i < pattern->capture_count; i++)
		memcpy(found.items[i].name, pattern->names[i], PATTERN_MAX_NAME);
	fill_segment_table(&ctx);
	matched = ctx.reachable[0];
	if (matched && caps) {
		collect_captures(&ctx);
		*caps = found;
	}
cleanup:
	free(ctx.table);
	free(ctx.reachable);
	free(segments);
	return matched;
}

static const char *lookup_capture(const struct captures *caps, const char *name, size_t length)
{
	size_t i;

	if (!caps)
		return NULL;
	for (i = 0; i < caps->count && i < PATTERN_MAX_CAPTURES; i++) {
		if (strnlen(caps->items[i].name, PATTERN_MAX_NAME) == length &&
		    !memcmp(caps->items[i].name, name, length))
			return caps->items[i].value;
	}
	return NULL;
}

/* With @pattern NULL only the syntax is checked (no captures to check against). */
int template_validate(const char *tmpl, const struct pattern *pattern, char *err, size_t errlen,
		      size_t *err_offset)
{
	const char *msg = NULL;
	size_t length, pos = 0, name_length, offset = 0;
	int ret = 0;

	if (!tmpl) {
		msg = "no template";
		ret = -EINVAL;
		goto cleanup;
	}
	length = strlen(tmpl);
	while (pos < length) {
		if (tmpl[pos] == '}') {
			msg = "unexpected '}'";
			offset = pos;
			ret = -EINVAL;
			goto cleanup;
		}
		if (tmpl[pos] != '{') {
			pos++;
			continue;
		}
		ret = parse_reference(tmpl, pos, length, &name_length, &msg, &offset);
		if (ret)
			goto cleanup;
		if (pattern && find_capture(pattern, tmpl + pos + 1, name_length) < 0) {
			msg = "name is not captured by the pattern";
			offset = pos;
			ret = -EINVAL;
			goto cleanup;
		}
		pos += name_length + 2;
	}
cleanup:
	if (ret)
		set_error(err, errlen, err_offset, offset, msg);
	return ret;
}

/* A template that template_validate() rejects gives -EINVAL here. */
int template_expand(const char *tmpl, const struct captures *caps, char *out, size_t outlen)
{
	size_t pos = 0, used = 0, name_length, piece_length, offset;
	const char *piece, *msg;
	int ret = 0;

	if (!tmpl || !out || !outlen) {
		ret = !tmpl || !out ? -EINVAL : -ENAMETOOLONG;
		goto cleanup;
	}
	while (tmpl[pos]) {
		if (tmpl[pos] == '{') {
			ret = parse_reference(tmpl, pos, strlen(tmpl), &name_length, &msg, &offset);
			if (ret)
				goto cleanup;
			piece = lookup_capture(caps, tmpl + pos + 1, name_length);
			if (!piece) {
				ret = -ENOENT;
				goto cleanup;
			}
			piece_length = strlen(piece);
			pos += name_length + 2;
		} else if (tmpl[pos] == '}') {
			ret = -EINVAL;
			goto cleanup;
		} else {
			piece = tmpl + pos;
			piece_length = strcspn(piece, "{}");
			pos += piece_length;
		}
		if (piece_length >= outlen - used) {
			ret = -ENAMETOOLONG;
			goto cleanup;
		}
		memcpy(out + used, piece, piece_length);
		used += piece_length;
	}
	out[used] = '\0';
cleanup:
	if (ret && out && outlen)
		out[0] = '\0';
	return ret;
}

long path_dot_segment(const char *path)
{
	const char *segment;
	size_t length;

	for (segment = path; *segment; segment += length + (segment[length] == '/')) {
		length = strcspn(segment, "/");
		if ((length == 1 && segment[0] == '.') ||
		    (length == 2 && segment[0] == '.' && segment[1] == '.'))
			return segment - path;
	}
	return -1;
}
