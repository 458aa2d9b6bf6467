/* SPDX-License-Identifier: GPL-2.0 */
/*
 * assert_near(actual, expected, epsilon) for the unit tests: cmocka 1.1
 * compares floats only, as float, which is too coarse for times and sums.
 * Include after <cmocka.h>.
 */
#ifndef ABUSEWATCH_TESTS_ASSERT_NEAR_H
#define ABUSEWATCH_TESTS_ASSERT_NEAR_H

#include <math.h>

#define assert_near(actual, expected, epsilon)                                                     \
	check_near((actual), (expected), (epsilon), #actual, __FILE__, __LINE__)

static inline void check_near(double actual, double expected, double epsilon, const char *text,
			      const char *file, int line)
{
	if (fabs(actual - expected) > epsilon) {
		print_error("%s is %.12g, not %.12g\n", text, actual, expected);
		_fail(file, line);
	}
}

#endif
