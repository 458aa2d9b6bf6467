// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzzes cgroup path patterns and tenant templates (user/tenancy/pattern.c):
 * any pattern, template and path. Checked besides memory safety: what a
 * refused pattern reports, that captures are what the path holds, that a
 * path made from the pattern itself (each wildcard filled from the input)
 * matches, and that templates expand to the captures.
 */
#include <errno.h>

#include "fuzz.h"
#include "pattern.h"

/* Short enough that a capture can never be cut at PATTERN_MAX_VALUE. */
#define FILL_MAX 48

static void check_captures(const struct pattern *pattern, const char *path,
			   const struct captures *caps)
{
	size_t i;

	for (i = 0; i < caps->count; i++) {
		const char *value = caps->items[i].value;

		fuzz_check(caps->count <= PATTERN_MAX_CAPTURES, "%zu captures", caps->count);
		fuzz_check(pattern_has_capture(pattern, caps->items[i].name),
			   "capture \"%s\" is not the pattern's", caps->items[i].name);
		fuzz_check(value[0], "capture \"%s\" of \"%s\" is empty", caps->items[i].name,
			   path);
		fuzz_check(strnlen(value, PATTERN_MAX_VALUE) < PATTERN_MAX_VALUE,
			   "capture not terminated");
		fuzz_check(!strchr(value, '/'), "capture \"%s\" holds a '/'", value);
		fuzz_check(strstr(path, value), "capture \"%s\" is not in \"%s\"", value, path);
	}
}

/* "{a}/{b}" for every capture: expands to the captures joined. */
static void check_expand_all(const struct captures *caps)
{
	char tmpl[PATTERN_MAX_CAPTURES * (PATTERN_MAX_NAME + 3)] = "";
	char want[PATTERN_MAX_CAPTURES * PATTERN_MAX_VALUE] = "", out[sizeof(want)];
	size_t i;
	int err;

	for (i = 0; i < caps->count; i++) {
		snprintf(tmpl + strlen(tmpl), sizeof(tmpl) - strlen(tmpl), "%s{%s}", i ? "/" : "",
			 caps->items[i].name);
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s", i ? "/" : "",
			 caps->items[i].value);
	}
	err = template_expand(tmpl, caps, out, sizeof(out));
	fuzz_check(!err && !strcmp(out, want), "\"%s\" expanded to \"%s\" (%d), not \"%s\"", tmpl,
		   out, err, want);
}

/*
 * A path the pattern must match: literals as they are, each `*` and
 * capture filled with input bytes (no '/', no NUL; a capture never empty),
 * each `**` with zero or more segments. False when what came out is no
 * path to ask about (an empty segment, a segment too long to capture).
 */
static bool make_matching_path(const char *text, struct fuzz_input *in, char *path, size_t size)
{
	size_t used = 0, segment_length = 0, i, count, fill;
	const char *p = text;
	bool ok = true;

#define PUT(c)                                                         \
	do {                                                           \
		if (used + 1 >= size)                                  \
			return false;                                  \
		path[used++] = (c);                                    \
		segment_length = (c) == '/' ? 0 : segment_length + 1; \
	} while (0)

	if (p[0] == '*' && p[1] == '*' && (p[2] == '/' || !p[2])) {
		/* A leading `**`: the path starts with '/' all the same. */
		count = fuzz_u8(in) % 3;
		for (i = 0; i < count; i++) {
			PUT('/');
			PUT('d');
		}
		p += 2;
	}
	while (*p) {
		if (p[0] == '/' && p[1] == '*' && p[2] == '*' && (p[3] == '/' || !p[3])) {
			count = fuzz_u8(in) % 3;
			for (i = 0; i < count; i++) {
				PUT('/');
				PUT('s');
			}
			p += 3;
			continue;
		}
		if (*p == '*' || *p == '{') {
			/* A capture, or a `*` that is a whole segment, never takes nothing. */
			bool whole = p > text && p[-1] == '/' && (p[1] == '/' || !p[1]);
			bool capture = *p == '{';

			if (capture)
				p = strchr(p, '}');
			p++;
			fill = fuzz_u8(in) % FILL_MAX;
			if ((capture || whole) && !fill)
				fill = 1;
			for (i = 0; i < fill; i++) {
				char c = (char)fuzz_u8(in);

				PUT(c == '/' || c == '\0' ? 'x' : c);
			}
			continue;
		}
		PUT(*p);
		p++;
	}
	if (!used)
		PUT('/');
	/* A segment a `*` filled with nothing, or a trailing '/'. */
	if ((used > 1 && path[used - 1] == '/') || strstr(path, "//"))
		ok = false;
	path[used] = '\0';
	for (i = 0, segment_length = 0; i < used; i++) {
		segment_length = path[i] == '/' ? 0 : segment_length + 1;
		if (segment_length >= PATTERN_MAX_VALUE - 1)
			ok = false;
	}
	return ok;
#undef PUT
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	char *text = fuzz_string(&in, 512), *tmpl = fuzz_string(&in, 256);
	char *path = fuzz_string(&in, 1024);
	char err[128] = "", out[1024], made[4096];
	struct captures caps, again;
	struct pattern *pattern;
	size_t offset = (size_t)-1;
	long dot;
	bool matched;
	int ret;

	dot = path_dot_segment(path);
	if (dot >= 0) {
		const char *segment = path + dot;

		fuzz_check((size_t)dot < strlen(path) && (dot == 0 || path[dot - 1] == '/') &&
				   (!strcmp(segment, ".") || !strncmp(segment, "./", 2) ||
				    !strcmp(segment, "..") || !strncmp(segment, "../", 3)),
			   "path_dot_segment(\"%s\") = %ld", path, dot);
	}

	errno = 0;
	pattern = pattern_compile(text, err, sizeof(err), &offset);
	if (!pattern) {
		fuzz_check(errno == EINVAL, "\"%s\": errno %d", text, errno);
		fuzz_check(err[0] && offset <= strlen(text), "\"%s\": error \"%s\" at %zu", text,
			   err, offset);
		ret = template_validate(tmpl, NULL, err, sizeof(err), &offset);
		fuzz_check(ret == 0 || (ret == -EINVAL && offset <= strlen(tmpl)),
			   "template \"%s\": %d at %zu", tmpl, ret, offset);
		goto cleanup;
	}
	fuzz_check(!strcmp(pattern_text(pattern), text), "pattern text changed");

	matched = pattern_match(pattern, path, &caps);
	fuzz_check(matched == pattern_match(pattern, path, NULL), "\"%s\" on \"%s\": caps change it",
		   text, path);
	if (matched) {
		check_captures(pattern, path, &caps);
		check_expand_all(&caps);
	}
	ret = template_validate(tmpl, pattern, err, sizeof(err), &offset);
	fuzz_check(ret == 0 || (ret == -EINVAL && offset <= strlen(tmpl)),
		   "template \"%s\": %d at %zu", tmpl, ret, offset);
	if (matched) {
		int expanded = template_expand(tmpl, &caps, out, sizeof(out));

		/* A valid template names only captures the match has. */
		fuzz_check(ret || expanded == 0 || expanded == -ENAMETOOLONG,
			   "valid template \"%s\" gave %d", tmpl, expanded);
	}

	if (make_matching_path(text, &in, made, sizeof(made))) {
		fuzz_check(pattern_match(pattern, made, &again), "\"%s\" does not match \"%s\"",
			   text, made);
		check_captures(pattern, made, &again);
	}
	pattern_free(pattern);
cleanup:
	free(path);
	free(tmpl);
	free(text);
	return 0;
}
