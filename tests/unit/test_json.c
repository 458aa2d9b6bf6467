// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/lib/json.c: doubles that read back exactly, fields
 * added with their ownership, and typed reads that tell absent from wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "json.h"

static void test_shortest_double(void **state)
{
	struct json_object *number = json_new_double(0.1);

	assert_non_null(number);
	assert_string_equal(json_object_to_json_string(number), "0.1");
	json_object_put(number);
	/* 17 digits where 15 would not read back. */
	number = json_new_double(0.1 + 0.2);
	assert_non_null(number);
	assert_true(strtod(json_object_to_json_string(number), NULL) == 0.1 + 0.2);
	json_object_put(number);
	errno = 0;
	assert_null(json_new_double(NAN));
	assert_int_equal(errno, EINVAL);
	assert_null(json_new_double(INFINITY));
}

static void test_add(void **state)
{
	struct json_object *record = json_object_new_object(), *array = json_object_new_array();

	assert_non_null(record);
	assert_non_null(array);
	assert_int_equal(json_add_string(record, "name", "web"), 0);
	/* NULL is no field, and no error. */
	assert_int_equal(json_add_string(record, "none", NULL), 0);
	assert_int_equal(json_add_double(record, "share", 0.25), 0);
	assert_int_equal(json_add_double(record, "bad", NAN), -EINVAL);
	assert_int_equal(json_add_int(record, "zero", 0), 0);
	assert_int_equal(json_append(array, json_object_new_int(1)), 0);
	assert_int_equal(json_add(record, "list", array), 0);
	assert_string_equal(json_object_to_json_string_ext(record, JSON_C_TO_STRING_PLAIN),
			    "{\"name\":\"web\",\"share\":0.25,\"zero\":0,\"list\":[1]}");
	json_object_put(record);
}

static void test_get(void **state)
{
	struct json_object *record =
		json_tokener_parse("{\"s\":\"x\",\"d\":1.5,\"i\":7,\"big\":99999999999999999999}");
	const char *text;
	long long integer;
	double number;

	assert_non_null(record);
	assert_int_equal(json_get_string(record, "s", &text), 0);
	assert_string_equal(text, "x");
	assert_int_equal(json_get_string(record, "missing", &text), -ENOENT);
	assert_null(text);
	assert_int_equal(json_get_string(record, "i", &text), -EINVAL);
	assert_int_equal(json_get_double(record, "d", &number), 0);
	assert_true(number == 1.5);
	/* An integer is a number too. */
	assert_int_equal(json_get_double(record, "i", &number), 0);
	assert_true(number == 7);
	assert_int_equal(json_get_double(record, "s", &number), -EINVAL);
	assert_int_equal(json_get_double(record, "missing", &number), -ENOENT);
	assert_true(number == 0);
	assert_int_equal(json_get_int(record, "i", 1, 10, &integer), 0);
	assert_int_equal(integer, 7);
	assert_int_equal(json_get_int(record, "i", 8, 10, &integer), -EINVAL);
	assert_int_equal(json_get_int(record, "d", 0, 10, &integer), -EINVAL);
	/* Too large even for 64 bits: json-c saturates it, out of any smaller range. */
	assert_int_equal(json_get_int(record, "big", 0, UINT32_MAX, &integer), -EINVAL);
	assert_int_equal(json_get_int(record, "missing", 0, 10, &integer), -ENOENT);
	json_object_put(record);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shortest_double),
	    cmocka_unit_test(test_add),
	    cmocka_unit_test(test_get),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
