/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Units of the configuration: sizes (B, KiB, MiB, GiB, TiB, kB, MB, GB, TB),
 * durations (ms, s, m, h) and rates (a size or a count "/s").
 * Each returns 0, or -EINVAL for text that is not of that kind.
 */
#ifndef ABUSEWATCH_UNITS_H
#define ABUSEWATCH_UNITS_H

#include <stdint.h>

/* "50MiB" -> 52428800; a bare number is bytes. */
int parse_size(const char *text, double *bytes);
/* "1s" -> 1000, "250ms" -> 250, "1.5m" -> 90000; a bare number is seconds. */
int parse_duration_ms(const char *text, uint64_t *ms);
/* "50MiB/s" -> 52428800 bytes per second. */
int parse_byte_rate(const char *text, double *bytes_per_second);
/* "20000/s" or "100/s" -> per second; a bare number is per second. */
int parse_count_rate(const char *text, double *per_second);
/* "2", "0.5" -> a plain non-negative number. */
int parse_number(const char *text, double *value);
/* "512" -> a whole non-negative number (no fraction, no unit). */
int parse_whole_number(const char *text, double *value);

#endif
