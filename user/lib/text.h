/* SPDX-License-Identifier: GPL-2.0 */
/* Small string helpers the modules share. */
#ifndef ABUSEWATCH_TEXT_H
#define ABUSEWATCH_TEXT_H

/*
 * Makes *@field (malloc'ed or NULL) a copy of @text (NULL: ""), freeing the
 * old copy; nothing is allocated when they are already equal, as they are
 * on most ticks. 0 or -ENOMEM (then *@field is unchanged).
 */
int text_replace(char **field, const char *text);

#endif
