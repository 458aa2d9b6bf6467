// SPDX-License-Identifier: GPL-2.0
/* Unit tests for cgroup path patterns and tenant templates (user/tenancy/pattern.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

static struct pattern *compile_ok(const char *text)
{
	char err[128] = "";
	size_t offset = 0;
	struct pattern *pattern = pattern_compile(text, err, sizeof(err), &offset);

	if (!pattern)
		fail_msg("pattern \"%s\" rejected at %zu: %s", text, offset, err);
	return pattern;
}

static const char *capture(const struct captures *caps, const char *name)
{
	size_t i;

	for (i = 0; i < caps->count; i++) {
		if (!strcmp(caps->items[i].name, name))
			return caps->items[i].value;
	}
	return NULL;
}

static void test_literal_and_captures_in_mixed_segments(void **state)
{
	struct pattern *pattern = compile_ok("/system.slice/docker-{id}.scope");
	struct captures caps;

	assert_string_equal(pattern_text(pattern), "/system.slice/docker-{id}.scope");
	assert_true(pattern_has_capture(pattern, "id"));
	assert_false(pattern_has_capture(pattern, "tenant"));
	assert_true(pattern_match(pattern, "/system.slice/docker-abc123.scope", &caps));
	assert_int_equal(caps.count, 1);
	assert_string_equal(capture(&caps, "id"), "abc123");
	/* A capture is never empty. */
	assert_false(pattern_match(pattern, "/system.slice/docker-.scope", &caps));
	assert_int_equal(caps.count, 0);
	assert_false(pattern_match(pattern, "/system.slice/docker-abc.scopex", NULL));
	assert_false(pattern_match(pattern, "/user.slice/docker-abc.scope", NULL));
	/* Paths with '.' or '-' inside the capture. */
	assert_true(pattern_match(pattern, "/system.slice/docker-a.b-c.scope", &caps));
	assert_string_equal(capture(&caps, "id"), "a.b-c");
	pattern_free(pattern);

	pattern = compile_ok("/{user}-{n}/x{a}y");
	assert_true(pattern_match(pattern, "/my-tenant-3/xAy", &caps));
	assert_int_equal(caps.count, 3);
	/* The earlier capture takes as much as it can. */
	assert_string_equal(capture(&caps, "user"), "my-tenant");
	assert_string_equal(capture(&caps, "n"), "3");
	assert_string_equal(capture(&caps, "a"), "A");
	assert_false(pattern_match(pattern, "/my-tenant-3/xy", NULL));
	pattern_free(pattern);
}

static void test_star_segment_and_star_in_segment(void **state)
{
	struct pattern *pattern = compile_ok("/a/*/c");

	assert_true(pattern_match(pattern, "/a/b/c", NULL));
	assert_false(pattern_match(pattern, "/a/c", NULL));
	assert_false(pattern_match(pattern, "/a/b/b/c", NULL));
	pattern_free(pattern);

	pattern = compile_ok("/a/x*y");
	assert_true(pattern_match(pattern, "/a/xy", NULL));
	assert_true(pattern_match(pattern, "/a/x-long-y", NULL));
	assert_false(pattern_match(pattern, "/a/x/y", NULL));
	pattern_free(pattern);
}

static void test_double_star(void **state)
{
	struct pattern *pattern = compile_ok("/a/**/z");
	struct captures caps;

	assert_true(pattern_match(pattern, "/a/z", NULL));
	assert_true(pattern_match(pattern, "/a/b/z", NULL));
	assert_true(pattern_match(pattern, "/a/b/c/d/z", NULL));
	assert_false(pattern_match(pattern, "/a/b/c", NULL));
	assert_false(pattern_match(pattern, "/b/z", NULL));
	pattern_free(pattern);

	/* A trailing ** also matches the prefix itself. */
	pattern = compile_ok("/ci/{tenant}/**");
	assert_true(pattern_match(pattern, "/ci/t1", &caps));
	assert_string_equal(capture(&caps, "tenant"), "t1");
	assert_true(pattern_match(pattern, "/ci/t2/a/b", &caps));
	assert_string_equal(capture(&caps, "tenant"), "t2");
	assert_false(pattern_match(pattern, "/ci", NULL));
	assert_false(pattern_match(pattern, "/", NULL));
	pattern_free(pattern);

	pattern = compile_ok("/**");
	assert_true(pattern_match(pattern, "/", NULL));
	assert_true(pattern_match(pattern, "/a/b", NULL));
	pattern_free(pattern);

	/* Captures after ** come from where the rest matched. */
	pattern = compile_ok("/**/{x}/end");
	assert_true(pattern_match(pattern, "/p/q/r/end", &caps));
	assert_string_equal(capture(&caps, "x"), "r");
	pattern_free(pattern);
}

static void test_leading_double_star(void **state)
{
	struct pattern *pattern = compile_ok("**/libpod-{id}.scope");
	struct captures caps;

	assert_true(pattern_match(pattern, "/libpod-a1.scope", &caps));
	assert_string_equal(capture(&caps, "id"), "a1");
	assert_true(pattern_match(pattern, "/machine.slice/x/libpod-b2.scope", &caps));
	assert_string_equal(capture(&caps, "id"), "b2");
	assert_false(pattern_match(pattern, "/machine.slice/libpod-b2.scope/child", NULL));
	pattern_free(pattern);

	pattern = compile_ok("**");
	assert_true(pattern_match(pattern, "/", NULL));
	assert_true(pattern_match(pattern, "/x/y", NULL));
	pattern_free(pattern);
}

static void test_root(void **state)
{
	struct pattern *pattern = compile_ok("/");

	assert_true(pattern_match(pattern, "/", NULL));
	assert_false(pattern_match(pattern, "/a", NULL));
	pattern_free(pattern);

	pattern = compile_ok("/*");
	assert_false(pattern_match(pattern, "/", NULL));
	assert_true(pattern_match(pattern, "/a", NULL));
	pattern_free(pattern);
}

static void test_depth_mismatch_and_bad_paths(void **state)
{
	struct pattern *pattern = compile_ok("/a/{b}");

	assert_false(pattern_match(pattern, "/a", NULL));
	assert_false(pattern_match(pattern, "/a/b/c", NULL));
	assert_true(pattern_match(pattern, "/a/b", NULL));
	/* Not cgroup paths: relative, empty segments, trailing slash, empty. */
	assert_false(pattern_match(pattern, "a/b", NULL));
	assert_false(pattern_match(pattern, "/a//b", NULL));
	assert_false(pattern_match(pattern, "/a/b/", NULL));
	assert_false(pattern_match(pattern, "", NULL));
	assert_false(pattern_match(pattern, NULL, NULL));
	pattern_free(pattern);
}

static void test_kubepods(void **state)
{
	struct pattern *pattern =
	    compile_ok("/kubepods.slice/kubepods-*.slice/kubepods-*-pod{pod}.slice/**");
	struct captures caps;

	assert_true(pattern_match(pattern,
				  "/kubepods.slice/kubepods-burstable.slice/"
				  "kubepods-burstable-pod1a2b_3c4d.slice",
				  &caps));
	assert_string_equal(capture(&caps, "pod"), "1a2b_3c4d");
	assert_true(pattern_match(pattern,
				  "/kubepods.slice/kubepods-besteffort.slice/"
				  "kubepods-besteffort-podffff.slice/cri-containerd-0123.scope",
				  &caps));
	assert_string_equal(capture(&caps, "pod"), "ffff");
	assert_false(pattern_match(pattern, "/kubepods.slice/kubepods-burstable.slice", NULL));
	assert_false(pattern_match(
	    pattern, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable.slice", NULL));
	pattern_free(pattern);
}

static void test_capture_value_too_long(void **state)
{
	struct pattern *pattern = compile_ok("/t/{v}");
	char path[PATTERN_MAX_VALUE + 8];
	struct captures caps;

	strcpy(path, "/t/");
	memset(path + 3, 'v', PATTERN_MAX_VALUE - 1);
	path[3 + PATTERN_MAX_VALUE - 1] = '\0';
	assert_true(pattern_match(pattern, path, &caps));
	assert_int_equal(strlen(capture(&caps, "v")), PATTERN_MAX_VALUE - 1);
	strcat(path, "v");
	assert_false(pattern_match(pattern, path, &caps));
	pattern_free(pattern);
}

static void expect_compile_error(const char *text, size_t offset)
{
	char err[128] = "";
	size_t found = (size_t)-1;
	struct pattern *pattern;

	errno = 0;
	pattern = pattern_compile(text, err, sizeof(err), &found);
	if (pattern) {
		pattern_free(pattern);
		fail_msg("pattern \"%s\" was accepted", text);
	}
	assert_int_equal(errno, EINVAL);
	assert_true(err[0] != '\0');
	if (found != offset)
		fail_msg("pattern \"%s\": error \"%s\" at %zu, expected %zu", text, err, found,
			 offset);
}

static void test_compile_errors(void **state)
{
	expect_compile_error("", 0);
	expect_compile_error("system.slice", 0);
	expect_compile_error("*/a", 0);
	expect_compile_error("//a", 1);
	expect_compile_error("/a//b", 3);
	expect_compile_error("/a/", 3);
	expect_compile_error("/a/{id", 3);
	expect_compile_error("/a/{id/b}", 3);
	expect_compile_error("/a/x{}y", 4);
	expect_compile_error("/a/{1id}", 4);
	expect_compile_error("/a/{i-d}", 5);
	expect_compile_error("/{a}/{a}", 5);
	expect_compile_error("/a/**b", 3);
	expect_compile_error("/a/x**", 4);
	expect_compile_error("**x/a", 0);
	expect_compile_error("/a/{a}{b}", 6);
	expect_compile_error("/a/{a}*", 6);
	expect_compile_error("/a/*{a}", 4);
	expect_compile_error("/a/x*{a}", 5);
	expect_compile_error("/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", 33);
	/* A name of PATTERN_MAX_NAME characters is one too many. */
	expect_compile_error("/{abcdefghijklmnopqrstuvwxyz012345}", 2);
}

static void test_compile_limits_accepted(void **state)
{
	struct pattern *pattern;

	pattern = compile_ok("/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}");
	pattern_free(pattern);
	pattern = compile_ok("/{abcdefghijklmnopqrstuvwxyz01234}");
	assert_true(pattern_has_capture(pattern, "abcdefghijklmnopqrstuvwxyz01234"));
	pattern_free(pattern);
	/* '}' alone is literal in a pattern, and so is a path segment like "a*b*c". */
	pattern = compile_ok("/a}/a*b*c");
	assert_true(pattern_match(pattern, "/a}/abbc", NULL));
	pattern_free(pattern);
}

static void test_template_expand(void **state)
{
	struct pattern *pattern = compile_ok("/ci/{tenant}/job-{job}/**");
	struct captures caps;
	char out[64];

	assert_true(pattern_match(pattern, "/ci/acme/job-42/step", &caps));
	assert_int_equal(template_expand("{tenant}", &caps, out, sizeof(out)), 0);
	assert_string_equal(out, "acme");
	assert_int_equal(template_expand("/builds/{tenant}/{job}.d", &caps, out, sizeof(out)), 0);
	assert_string_equal(out, "/builds/acme/42.d");
	assert_int_equal(template_expand("plain", &caps, out, sizeof(out)), 0);
	assert_string_equal(out, "plain");
	assert_int_equal(template_expand("", &caps, out, sizeof(out)), 0);
	assert_string_equal(out, "");

	assert_int_equal(template_expand("{user}", &caps, out, sizeof(out)), -ENOENT);

	/* "t-acme" needs 7 bytes with the NUL. */
	assert_int_equal(template_expand("t-{tenant}", &caps, out, 7), 0);
	assert_string_equal(out, "t-acme");
	assert_int_equal(template_expand("t-{tenant}", &caps, out, 6), -ENAMETOOLONG);
	assert_int_equal(template_expand("t-{tenant}", &caps, out, 2), -ENAMETOOLONG);
	pattern_free(pattern);
}

static void expect_validate_error(const char *tmpl, const struct pattern *pattern, size_t offset)
{
	char err[128] = "";
	size_t found = (size_t)-1;

	assert_int_equal(template_validate(tmpl, pattern, err, sizeof(err), &found), -EINVAL);
	assert_true(err[0] != '\0');
	if (found != offset)
		fail_msg("template \"%s\": error \"%s\" at %zu, expected %zu", tmpl, err, found,
			 offset);
}

static void test_template_validate(void **state)
{
	struct pattern *pattern = compile_ok("/ci/{tenant}/{job}");
	char err[128];
	size_t offset;

	assert_int_equal(template_validate("{tenant}", pattern, err, sizeof(err), &offset), 0);
	assert_int_equal(
	    template_validate("/b/{tenant}-{job}/x", pattern, err, sizeof(err), &offset), 0);
	assert_int_equal(template_validate("no refs", pattern, err, sizeof(err), &offset), 0);

	expect_validate_error("{user}", pattern, 0);
	expect_validate_error("ab{tenant", pattern, 2);
	expect_validate_error("a{}", pattern, 1);
	expect_validate_error("x{9}", pattern, 2);
	expect_validate_error("x{te-nant}", pattern, 4);
	expect_validate_error("x}", pattern, 1);
	expect_validate_error("{tenant}}", pattern, 8);
	expect_validate_error("{{tenant}}", pattern, 1);
	pattern_free(pattern);
}

static void test_hostile_path(void **state)
{
	struct pattern *pattern = compile_ok("/**/a-*-*-*-*-*-b/**/*-*-*-{x}-z");
	struct captures caps;
	char *path = malloc(4100);
	size_t i;

	assert_non_null(path);
	/* Many segments of '-' runs, and one long segment, none of which can match. */
	path[0] = '\0';
	for (i = 0; i < 40; i++)
		strcat(path, "/a-----------------------------------------------");
	strcat(path, "/a");
	for (i = strlen(path); i < 4000; i++)
		path[i] = '-';
	path[4000] = '\0';
	assert_false(pattern_match(pattern, path, &caps));

	/* The same, but it matches at the very end. */
	strcpy(path + 3990, "-b/q-q-q-q-z");
	assert_true(pattern_match(pattern, path, &caps));
	assert_string_equal(capture(&caps, "x"), "q");
	free(path);
	pattern_free(pattern);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_literal_and_captures_in_mixed_segments),
	    cmocka_unit_test(test_star_segment_and_star_in_segment),
	    cmocka_unit_test(test_double_star),
	    cmocka_unit_test(test_leading_double_star),
	    cmocka_unit_test(test_root),
	    cmocka_unit_test(test_depth_mismatch_and_bad_paths),
	    cmocka_unit_test(test_kubepods),
	    cmocka_unit_test(test_capture_value_too_long),
	    cmocka_unit_test(test_compile_errors),
	    cmocka_unit_test(test_compile_limits_accepted),
	    cmocka_unit_test(test_template_expand),
	    cmocka_unit_test(test_template_validate),
	    cmocka_unit_test(test_hostile_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
