/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few json-c helpers every record the agent writes or reads needs
 * (alerts, the delivery spool, the state file): adding a field or an
 * element with the ownership and errors handled once, doubles written as
 * the shortest text that reads back to the same value, and typed reads
 * that tell an absent field from a wrong one.
 */
#ifndef ABUSEWATCH_JSON_H
#define ABUSEWATCH_JSON_H

#include <json-c/json.h>

/*
 * @value as a JSON number, written as the shortest text that reads back
 * to it: a record stays readable (0.1, not 0.10000000000000001) and a
 * spool exact. NULL with errno EINVAL for NaN and infinities (JSON has no
 * text for them), or ENOMEM.
 */
struct json_object *json_new_double(double value);

/*
 * Adds @value under @key of @object, taking it over: on failure it is put.
 * A NULL @value is the failure of the call that made it: -errno (-ENOMEM
 * when errno is 0). 0 or -errno.
 */
int json_add(struct json_object *object, const char *key, struct json_object *value);

/* json_add() of a new string; a NULL @value adds nothing and is fine. */
int json_add_string(struct json_object *object, const char *key, const char *value);

/*
 * json_add_string() of @value made valid UTF-8 (text_utf8_copy): for text
 * of records that leave the agent, which must be JSON however tenants name
 * things. A NULL @value adds nothing.
 */
int json_add_text(struct json_object *object, const char *key, const char *value);

/* json_add() of json_new_double(@value): -EINVAL when it is not finite. */
int json_add_double(struct json_object *object, const char *key, double value);

int json_add_int(struct json_object *object, const char *key, long long value);

/* Appends @value to @array, taking it over as json_add() does. 0 or -errno. */
int json_append(struct json_object *array, struct json_object *value);

/*
 * Typed reads of field @key of @object: 0 and the value; -ENOENT when the
 * field is absent (the value NULL or 0); -EINVAL when it is of another
 * type, not finite, or outside [@min, @max]. An optional field is one
 * whose -ENOENT is fine.
 */
int json_get_string(struct json_object *object, const char *key, const char **value);
/* An integer reads as a double too: 1 is a valid 1.0. */
int json_get_double(struct json_object *object, const char *key, double *value);
int json_get_int(struct json_object *object, const char *key, long long min, long long max,
		 long long *value);

#endif
