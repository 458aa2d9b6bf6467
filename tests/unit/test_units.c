// SPDX-License-Identifier: GPL-2.0
/* Unit tests for user/lib/units.c: every suffix, and what must be refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>

#include "units.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct number_case {
	const char *text;
	double expected;
};

struct duration_case {
	const char *text;
	uint64_t expected;
};

static void check_numbers(int (*parse)(const char *, double *), const struct number_case *cases,
			  size_t count)
{
	double value;
	size_t i;

	for (i = 0; i < count; i++) {
		value = -1;
		if (parse(cases[i].text, &value) != 0)
			fail_msg("\"%s\" was refused", cases[i].text);
		if (value != cases[i].expected)
			fail_msg("\"%s\" gave %f, not %f", cases[i].text, value, cases[i].expected);
	}
}

/* Refused text must also leave the output alone. */
static void check_refused(int (*parse)(const char *, double *), const char *const *texts,
			  size_t count)
{
	double value;
	size_t i;

	for (i = 0; i < count; i++) {
		value = 42;
		if (parse(texts[i], &value) != -EINVAL)
			fail_msg("\"%s\" was accepted", texts[i]);
		assert_true(value == 42);
	}
}

static void test_size_suffixes(void **state)
{
	static const struct number_case cases[] = {
		{ "0", 0 },
		{ "123", 123 },
		{ "123B", 123 },
		{ "1KiB", 1024 },
		{ "50MiB", 52428800 },
		{ "4GiB", 4294967296.0 },
		{ "2TiB", 2199023255552.0 },
		{ "1kB", 1000 },
		{ "3MB", 3e6 },
		{ "20GB", 20e9 },
		{ "1TB", 1e12 },
		{ "1.5GiB", 1610612736.0 },
		{ "0.5KiB", 512 },
		{ ".5KiB", 512 },
		{ "50 MiB", 52428800 },
	};

	check_numbers(parse_size, cases, ARRAY_SIZE(cases));
}

static void test_size_refused(void **state)
{
	static const char *const texts[] = {
		"", " ", "-1", "-1GiB", "+1GiB", "GiB", "1XiB", "1KB", "1kib", "1 ", " 1",
		"1GiBx", "1GiB/s", "nan", "inf", "1e3", "0x10", "1.2.3", ".", "1,5GiB",
		"99999999999999999999", NULL,
	};

	check_refused(parse_size, texts, ARRAY_SIZE(texts));
}

static void test_duration_suffixes(void **state)
{
	static const struct duration_case cases[] = {
		{ "0", 0 },	       { "1", 1000 },	       { "250ms", 250 },
		{ "1s", 1000 },	       { "0.5s", 500 },	       { "1.5m", 90000 },
		{ "2m", 120000 },      { "1h", 3600000 },      { "0.25h", 900000 },
		{ "60s", 60000 },      { "0ms", 0 },	       { "10 s", 10000 },
	};
	uint64_t ms;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		ms = 12345;
		if (parse_duration_ms(cases[i].text, &ms) != 0)
			fail_msg("\"%s\" was refused", cases[i].text);
		if (ms != cases[i].expected)
			fail_msg("\"%s\" gave %llu ms", cases[i].text, (unsigned long long)ms);
	}
}

static void test_duration_refused(void **state)
{
	static const char *const texts[] = {
		"", "-1s", "1d", "1 h ", "1S", "1sec", "s", "1s/s", "nan", "inf", "1e3s", "1min",
		"1000000000000000000h", NULL,
	};
	uint64_t ms;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(texts); i++) {
		ms = 12345;
		if (parse_duration_ms(texts[i], &ms) != -EINVAL)
			fail_msg("\"%s\" was accepted", texts[i] ? texts[i] : "(null)");
		assert_int_equal(ms, 12345);
	}
}

static void test_byte_rate(void **state)
{
	static const struct number_case cases[] = {
		{ "50MiB/s", 52428800 },
		{ "20MiB/s", 20971520 },
		{ "1MiB/s", 1048576 },
		{ "100/s", 100 },
		{ "100B/s", 100 },
		{ "1.5kB/s", 1500 },
		{ "10GB/s", 10e9 },
	};
	static const char *const refused[] = {
		"50MiB", "50MB/h", "50MiB/m", "/s", "-1MiB/s", "50MiB/s/s", "50 MiB /s", "", NULL,
	};

	check_numbers(parse_byte_rate, cases, ARRAY_SIZE(cases));
	check_refused(parse_byte_rate, refused, ARRAY_SIZE(refused));
}

static void test_count_rate(void **state)
{
	static const struct number_case cases[] = {
		{ "20000/s", 20000 },
		{ "100/s", 100 },
		{ "100", 100 },
		{ "0.5/s", 0.5 },
		{ "0", 0 },
	};
	static const char *const refused[] = {
		"100/m", "1k/s", "-5/s", "/s", "", "100 /s", "1MiB/s", "inf/s", NULL,
	};

	check_numbers(parse_count_rate, cases, ARRAY_SIZE(cases));
	check_refused(parse_count_rate, refused, ARRAY_SIZE(refused));
}

static void test_number(void **state)
{
	static const struct number_case cases[] = {
		{ "2", 2 }, { "0.5", 0.5 }, { "0.9", 0.9 }, { "10", 10 }, { "007", 7 }, { "1.", 1 },
	};
	static const char *const refused[] = {
		"", "-1", "+1", "1s", "nan", "NaN", "inf", "1e2", "0x1", " 1", "1 ", "1..2", NULL,
	};

	check_numbers(parse_number, cases, ARRAY_SIZE(cases));
	check_refused(parse_number, refused, ARRAY_SIZE(refused));
}

/* Found by tests/fuzz/fuzz_units.c: ".9" was refused, but 0.9 was written all the same. */
static void test_whole_number(void **state)
{
	static const struct number_case cases[] = {
		{ "0", 0 }, { "512", 512 }, { "007", 7 }, { "1.", 1 }, { "65535", 65535 },
		{ "9999999999999999999", 9999999999999999999.0 },
	};
	static const char *const refused[] = {
		".9", "1.5", "0.5", "-1", "1e2", "1s", "", " 1", "1/s", NULL,
	};

	check_numbers(parse_whole_number, cases, ARRAY_SIZE(cases));
	check_refused(parse_whole_number, refused, ARRAY_SIZE(refused));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_suffixes),
		cmocka_unit_test(test_size_refused),
		cmocka_unit_test(test_duration_suffixes),
		cmocka_unit_test(test_duration_refused),
		cmocka_unit_test(test_byte_rate),
		cmocka_unit_test(test_count_rate),
		cmocka_unit_test(test_number),
		cmocka_unit_test(test_whole_number),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
