/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Cgroup path patterns and tenant templates.
 *
 * A pattern is an absolute path under the cgroup v2 root, split on '/'.
 * Within a segment, literal text mixes with `{name}` (captures a non-empty
 * run of characters, never a '/') and `*` (matches any run, never a '/').
 * A segment that is exactly `*` matches one whole segment; a segment that is
 * exactly `**` matches zero or more segments.  A template is text with
 * `{name}` references to captures of the same pattern.
 */
#ifndef ABUSEWATCH_PATTERN_H
#define ABUSEWATCH_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

#define PATTERN_MAX_CAPTURES 8
#define PATTERN_MAX_NAME 32
#define PATTERN_MAX_VALUE 256

struct pattern;

struct captures {
	size_t count;
	struct {
		char name[PATTERN_MAX_NAME];
		char value[PATTERN_MAX_VALUE];
	} items[PATTERN_MAX_CAPTURES];
};

/*
 * Compiles @text. On error returns NULL, sets errno to EINVAL (or ENOMEM)
 * and, for EINVAL, writes a message to @err and the 0-based character
 * offset of the problem in @text to @err_offset.
 */
struct pattern *pattern_compile(const char *text, char *err, size_t errlen, size_t *err_offset);
void pattern_free(struct pattern *pattern);
const char *pattern_text(const struct pattern *pattern);

/* True when @path matches the whole pattern; fills @caps when non-NULL. */
bool pattern_match(const struct pattern *pattern, const char *path, struct captures *caps);

/* True when the pattern captures a name @name. */
bool pattern_has_capture(const struct pattern *pattern, const char *name);

/*
 * Checks that every `{name}` in @tmpl is well formed and captured by
 * @pattern. Returns 0, or -EINVAL with a message in @err and the 0-based
 * offset in @tmpl in @err_offset.
 */
int template_validate(const char *tmpl, const struct pattern *pattern, char *err, size_t errlen,
		      size_t *err_offset);

/*
 * Expands @tmpl over @caps into @out. Returns 0, -ENOENT when a name is not
 * captured, -ENAMETOOLONG when @out is too small.
 */
int template_expand(const char *tmpl, const struct captures *caps, char *out, size_t outlen);

/*
 * The offset in @path of its first "." or ".." segment, or -1 when it has
 * none: a path checked with this names one place however it is joined.
 */
long path_dot_segment(const char *path);

#endif
