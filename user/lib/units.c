// SPDX-License-Identifier: GPL-2.0
/*
 * Units of the configuration. Numbers are parsed by hand rather than with
 * strtod(), which would also take hex, exponents, "inf", "nan", a sign,
 * leading blanks and a locale's decimal comma.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "units.h"

struct unit {
	const char *suffix;
	double factor;
};

static const struct unit size_units[] = {
	{ "B", 1.0 },
	{ "KiB", 1024.0 },
	{ "MiB", 1024.0 * 1024 },
	{ "GiB", 1024.0 * 1024 * 1024 },
	{ "TiB", 1024.0 * 1024 * 1024 * 1024 },
	{ "kB", 1e3 },
	{ "MB", 1e6 },
	{ "GB", 1e9 },
	{ "TB", 1e12 },
	{ NULL, 0 },
};

static const struct unit duration_units[] = {
	{ "ms", 1.0 },
	{ "s", 1e3 },
	{ "m", 60e3 },
	{ "h", 3600e3 },
	{ NULL, 0 },
};

/* More significant digits than this cannot be held exactly in a uint64_t. */
#define UNITS_MAX_DIGITS 19
/* 10^22 is the largest power of ten a double holds exactly. */
#define UNITS_MAX_FRACTION_DIGITS 22

/* Exact for 0..22, as every product is a double exactly; pow() does not promise that. */
static double units__power_of_ten(int exponent)
{
	double result = 1.0;

	while (exponent-- > 0)
		result *= 10.0;
	return result;
}

/*
 * Reads DIGITS[.DIGITS] at the start of @text into *value and sets *end past
 * it. The digits are gathered into one integer and divided once by a power
 * of ten, so "0.9" gives exactly the double nearest 0.9.
 */
static int units__scan_number(const char *text, double *value, const char **end)
{
	int significant = 0, fraction = 0, digits = 0, err = 0;
	bool in_fraction = false;
	uint64_t mantissa = 0;
	const char *p;

	for (p = text; !err && ((*p >= '0' && *p <= '9') || (*p == '.' && !in_fraction)); p++) {
		if (*p == '.') {
			in_fraction = true;
			continue;
		}
		digits++;
		if (mantissa || *p != '0')
			significant++;
		fraction += in_fraction;
		mantissa = mantissa * 10 + (uint64_t)(*p - '0');
		if (significant > UNITS_MAX_DIGITS || fraction > UNITS_MAX_FRACTION_DIGITS)
			err = -EINVAL;
	}
	if (!digits)
		err = -EINVAL;
	if (!err) {
		*value = (double)mantissa / units__power_of_ten(fraction);
		*end = p;
	}
	return err;
}

/* A number followed, after optional blanks, by one of @units or nothing. */
static int units__parse(const char *text, const struct unit *units, double bare_factor,
			double *result)
{
	const struct unit *unit = NULL;
	const char *suffix;
	double value;
	int err;

	err = text ? units__scan_number(text, &value, &suffix) : -EINVAL;
	if (err)
		goto out;
	if (!*suffix) {
		*result = value * bare_factor;
		goto out;
	}
	/* "50 MiB" reads as well as "50MiB"; a lone trailing blank does not. */
	suffix += strspn(suffix, " ");
	for (unit = units; unit->suffix && strcmp(suffix, unit->suffix); unit++)
		;
	if (unit->suffix)
		*result = value * unit->factor;
	else
		err = -EINVAL;
out:
	return err;
}

/* Copies @text without a trailing "/s" into @buf; -EINVAL when it has none. */
static int units__strip_per_second(const char *text, char *buf, size_t size, bool required)
{
	size_t len = text ? strlen(text) : 0;
	bool per_second = len >= 2 && !strcmp(text + len - 2, "/s");
	int err = 0;

	len -= per_second ? 2 : 0;
	if (!text || (required && !per_second) || len >= size) {
		err = -EINVAL;
	} else {
		memcpy(buf, text, len);
		buf[len] = '\0';
	}
	return err;
}

int parse_size(const char *text, double *bytes)
{
	return units__parse(text, size_units, 1.0, bytes);
}

int parse_duration_ms(const char *text, uint64_t *ms)
{
	double value;
	int err;

	err = units__parse(text, duration_units, 1e3, &value);
	/* Far beyond any sensible window, and safe to add to a timestamp. */
	if (!err && value >= (double)(UINT64_MAX / 4))
		err = -EINVAL;
	if (!err)
		*ms = (uint64_t)(value + 0.5);
	return err;
}

int parse_byte_rate(const char *text, double *bytes_per_second)
{
	char size[64];
	int err;

	err = units__strip_per_second(text, size, sizeof(size), true);
	if (!err)
		err = parse_size(size, bytes_per_second);
	return err;
}

int parse_count_rate(const char *text, double *per_second)
{
	char count[64];
	int err;

	err = units__strip_per_second(text, count, sizeof(count), false);
	if (!err)
		err = parse_number(count, per_second);
	return err;
}

int parse_number(const char *text, double *value)
{
	const char *end;
	double number;
	int err;

	err = text ? units__scan_number(text, &number, &end) : -EINVAL;
	if (!err && *end)
		err = -EINVAL;
	if (!err)
		*value = number;
	return err;
}

int parse_whole_number(const char *text, double *value)
{
	double number;
	int err;

	/* Into a local first: refused text ("1.5") leaves *value alone, as every parser here. */
	err = parse_number(text, &number);
	if (!err && number != (double)(uint64_t)number)
		err = -EINVAL;
	if (!err)
		*value = number;
	return err;
}
