// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

int text_replace(char **field, const char *text)
{
	char *copy;

	if (!text)
		text = "";
	if (*field && !strcmp(*field, text))
		return 0;
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}
