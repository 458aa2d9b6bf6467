// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzzes the restart state read at start (state_dir/counters.state,
 * user/lib/restart_state.c) with any bytes, from a block of exactly their
 * size. A file is refused whole (saying why) or taken; what is taken must
 * be written out again, and that text read back to the same records and
 * written out byte for byte the same.
 */
#include <errno.h>
#include <math.h>

#include "fuzz.h"
#include "restart_state.h"

static bool same_string(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/*
 * Seconds are written to the millisecond: what a file held more precisely
 * comes back rounded. A tenant gone for a negative time had cgroups: -1.
 */
static bool same_seconds(double a, double b, bool exact)
{
	if (exact || a == b)
		return a == b;
	if (a < 0 && b < 0)
		return true;
	return fabs(a - b) <= 0.0005 * (1 + 1e-9) + fabs(a) * 1e-15;
}

static void check_same(const struct restart_state *a, const struct restart_state *b, bool exact)
{
	size_t i;

	fuzz_check(!memcmp(a->instance, b->instance, sizeof(a->instance)) &&
			   same_seconds(a->written_wall, b->written_wall, exact) &&
			   !memcmp(a->alerts_total, b->alerts_total, sizeof(a->alerts_total)) &&
			   !memcmp(a->alerts_suppressed, b->alerts_suppressed,
				   sizeof(a->alerts_suppressed)),
		   "the header changed in a round trip");
	fuzz_check(a->tenant_count == b->tenant_count && a->cgroup_count == b->cgroup_count,
		   "%zu tenants and %zu cgroups, then %zu and %zu", a->tenant_count,
		   a->cgroup_count, b->tenant_count, b->cgroup_count);
	for (i = 0; i < a->tenant_count; i++) {
		const struct restart_tenant *x = &a->tenants[i], *y = &b->tenants[i];

		fuzz_check(same_string(x->name, y->name) && same_string(x->cgroup, y->cgroup) &&
				   !memcmp(&x->total, &y->total, sizeof(x->total)) &&
				   same_seconds(x->gone_for_s, y->gone_for_s, exact),
			   "tenant %zu (%s) changed in a round trip", i, x->name);
	}
	for (i = 0; i < a->cgroup_count; i++) {
		const struct restart_cgroup *x = &a->cgroups[i], *y = &b->cgroups[i];

		fuzz_check(x->id == y->id && same_string(x->path, y->path) &&
				   !memcmp(&x->last, &y->last, sizeof(x->last)) &&
				   x->seeded_tasks == y->seeded_tasks && x->finished == y->finished,
			   "cgroup %zu (%s) changed in a round trip", i, x->path);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct restart_state state = { 0 }, again = { 0 }, third = { 0 };
	struct fuzz_input in = { data, size };
	char why[256] = "", *text, *copy;
	size_t length, text_length, copy_length;
	int err;

	text = (char *)fuzz_rest(&in, &length);
	err = restart_state_parse(text, length, &state, why, sizeof(why));
	fuzz_check(err == 0 || err == -EINVAL || err == -ENOMEM, "restart_state_parse: %d", err);
	if (err) {
		fuzz_check(err != -EINVAL || why[0], "refused without saying why");
		goto cleanup;
	}

	fuzz_check(!restart_state_format(&state, &text, &text_length), "format failed");
	copy = malloc(text_length ? text_length : 1);
	fuzz_check(copy, "no memory");
	memcpy(copy, text, text_length);
	why[0] = '\0';
	err = restart_state_parse(text, text_length, &again, why, sizeof(why));
	fuzz_check(!err, "its own text is refused: %s", why);
	check_same(&state, &again, false);
	copy_length = text_length;
	fuzz_check(!restart_state_format(&again, &text, &text_length), "format failed");
	fuzz_check(copy_length == text_length && !memcmp(copy, text, text_length),
		   "written twice, two texts");
	free(copy);
	fuzz_check(!restart_state_parse(text, text_length, &third, why, sizeof(why)),
		   "its own text is refused: %s", why);
	check_same(&again, &third, true);
	restart_state_free(&third);
cleanup:
	restart_state_free(&again);
	restart_state_free(&state);
	return 0;
}
