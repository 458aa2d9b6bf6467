// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzzes the configuration's units (user/lib/units.c) with any text:
 * every parser either refuses it (-EINVAL) leaving its output alone, or
 * gives a finite, non-negative value that reads back the same.
 */
#include <errno.h>
#include <math.h>

#include "fuzz.h"
#include "units.h"

#define SENTINEL 4242.5

static void check_double(const char *what, int (*parse)(const char *, double *), const char *text)
{
	double value = SENTINEL;
	int err = parse(text, &value);

	fuzz_check(err == 0 || err == -EINVAL, "%s(\"%s\") returned %d", what, text, err);
	if (err) {
		fuzz_check(value == SENTINEL, "%s(\"%s\") refused it but wrote %g", what, text,
			   value);
		return;
	}
	fuzz_check(isfinite(value) && value >= 0, "%s(\"%s\") gave %g", what, text, value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint64_t ms = 4242;
	double number = SENTINEL, whole = SENTINEL;
	char *text = fuzz_string(&in, 256);
	int err;

	check_double("parse_size", parse_size, text);
	check_double("parse_byte_rate", parse_byte_rate, text);
	check_double("parse_count_rate", parse_count_rate, text);
	check_double("parse_number", parse_number, text);
	check_double("parse_whole_number", parse_whole_number, text);

	err = parse_duration_ms(text, &ms);
	fuzz_check(err == 0 || err == -EINVAL, "parse_duration_ms(\"%s\") returned %d", text, err);
	if (err)
		fuzz_check(ms == 4242, "parse_duration_ms(\"%s\") refused it but wrote %llu", text,
			   (unsigned long long)ms);

	/* A whole number is a number without a fraction. */
	if (!parse_whole_number(text, &whole)) {
		fuzz_check(!parse_number(text, &number) && number == whole,
			   "\"%s\": whole number %g, number %g", text, whole, number);
		fuzz_check(whole == floor(whole), "\"%s\": whole number %g", text, whole);
	}
	/* A bare number is bytes, and "N/s" the same bytes a second. */
	if (!parse_number(text, &number)) {
		double bytes = SENTINEL;
		char rate[300];

		fuzz_check(!parse_size(text, &bytes) && bytes == number,
			   "\"%s\": number %g, size %g", text, number, bytes);
		snprintf(rate, sizeof(rate), "%s/s", text);
		bytes = SENTINEL;
		fuzz_check(!parse_byte_rate(rate, &bytes) || strlen(rate) >= 64,
			   "\"%s\" refused", rate);
	}
	free(text);
	return 0;
}
