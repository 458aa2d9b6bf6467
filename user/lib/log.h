/* SPDX-License-Identifier: GPL-2.0 */
/* Logging: one line per message on stderr, with a level. */
#ifndef ABUSEWATCH_LOG_H
#define ABUSEWATCH_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_message(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_err(...) log_message(LOG_LEVEL_ERROR, __VA_ARGS__)
#define pr_warn(...) log_message(LOG_LEVEL_WARN, __VA_ARGS__)
#define pr_info(...) log_message(LOG_LEVEL_INFO, __VA_ARGS__)
#define pr_debug(...) log_message(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
