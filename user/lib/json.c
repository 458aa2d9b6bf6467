// SPDX-License-Identifier: GPL-2.0
/* json-c helpers for the agent's records (see json.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "text.h"

/* Digits that print every double so that it reads back the same. */
#define ROUND_TRIP_DIGITS 17

struct json_object *json_new_double(double value)
{
	struct json_object *number;
	char text[32];
	int precision;

	if (!isfinite(value)) {
		errno = EINVAL;
		return NULL;
	}
	/* 15 digits suffice for most values; the fewest that read back wins. */
	for (precision = 15; precision < ROUND_TRIP_DIGITS; precision++) {
		snprintf(text, sizeof(text), "%.*g", precision, value);
		if (strtod(text, NULL) == value)
			break;
	}
	if (precision == ROUND_TRIP_DIGITS)
		snprintf(text, sizeof(text), "%.*g", ROUND_TRIP_DIGITS, value);
	number = json_object_new_double_s(value, text);
	if (!number)
		errno = ENOMEM;
	return number;
}

/* The error of a constructor that gave NULL. */
static int creation_error(void)
{
	return errno ? -errno : -ENOMEM;
}

int json_add(struct json_object *object, const char *key, struct json_object *value)
{
	if (!value)
		return creation_error();
	if (json_object_object_add(object, key, value)) {
		json_object_put(value);
		return -ENOMEM;
	}
	return 0;
}

int json_add_string(struct json_object *object, const char *key, const char *value)
{
	if (!value)
		return 0;
	errno = 0;
	return json_add(object, key, json_object_new_string(value));
}

int json_add_text(struct json_object *object, const char *key, const char *value)
{
	const char *p;
	size_t length;
	char *copy;
	int err;

	if (!value)
		return 0;
	/* ASCII, as nearly every name is: nothing to copy. */
	for (p = value; *p && !(*p & 0x80); p++)
		;
	if (!*p)
		return json_add_string(object, key, value);
	copy = text_utf8_copy(value, &length);
	if (!copy)
		return -ENOMEM;
	errno = 0;
	err = json_add(object, key, json_object_new_string_len(copy, (int)length));
	free(copy);
	return err;
}

int json_add_double(struct json_object *object, const char *key, double value)
{
	return json_add(object, key, json_new_double(value));
}

int json_add_int(struct json_object *object, const char *key, long long value)
{
	errno = 0;
	return json_add(object, key, json_object_new_int64(value));
}

int json_append(struct json_object *array, struct json_object *value)
{
	if (!value)
		return creation_error();
	if (json_object_array_add(array, value)) {
		json_object_put(value);
		return -ENOMEM;
	}
	return 0;
}

/* Field @key of @object when it has one of @type (and @other, unless it is @type too). */
static int get_field(struct json_object *object, const char *key, enum json_type type,
		     enum json_type other, struct json_object **field)
{
	if (!json_object_object_get_ex(object, key, field))
		return -ENOENT;
	if (!json_object_is_type(*field, type) && !json_object_is_type(*field, other))
		return -EINVAL;
	return 0;
}

int json_get_string(struct json_object *object, const char *key, const char **value)
{
	struct json_object *field;
	int err;

	*value = NULL;
	err = get_field(object, key, json_type_string, json_type_string, &field);
	if (!err)
		*value = json_object_get_string(field);
	return err;
}

int json_get_double(struct json_object *object, const char *key, double *value)
{
	struct json_object *field;
	int err;

	*value = 0;
	err = get_field(object, key, json_type_double, json_type_int, &field);
	if (err)
		return err;
	*value = json_object_get_double(field);
	return isfinite(*value) ? 0 : -EINVAL;
}

int json_get_int(struct json_object *object, const char *key, long long min, long long max,
		 long long *value)
{
	struct json_object *field;
	int err;

	*value = 0;
	err = get_field(object, key, json_type_int, json_type_int, &field);
	if (err)
		return err;
	/* json-c tells in errno when the value did not convert. */
	errno = 0;
	*value = json_object_get_int64(field);
	if (errno || *value < min || *value > max)
		return -EINVAL;
	return 0;
}
