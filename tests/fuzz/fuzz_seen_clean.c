// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzzes the digests seen run clean read at start
 * (state_dir/seen_clean_sha256, user/rules/seen_clean.c) with any bytes.
 * A file is refused whole (saying why, nothing kept) or taken, at most
 * SEEN_CLEAN_MAX digests; what is taken must be written out again, and
 * that text read back to the same digests and written out byte for byte
 * the same.
 */
#include <errno.h>

#include "fuzz.h"
#include "log.h"
#include "seen_clean.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen_clean *seen = seen_clean_new(NULL), *again = seen_clean_new(NULL);
	char why[128] = "", *text = NULL, *text_again = NULL;
	size_t length = 0, length_again = 0;
	int err;

	fuzz_check(seen && again, "no memory");
	err = seen_clean_parse(seen, (const char *)data, size, why, sizeof(why));
	fuzz_check(err == 0 || err == -EINVAL, "seen_clean_parse returned %d", err);
	if (err)
		fuzz_check(!seen_clean_count(seen) && why[0], "refused (%s), yet %zu kept", why,
			   seen_clean_count(seen));
	fuzz_check(seen_clean_count(seen) <= SEEN_CLEAN_MAX, "%zu digests kept",
		   seen_clean_count(seen));
	fuzz_check(!seen_clean_format(seen, &text, &length), "format failed");
	fuzz_check(strlen(text) == length, "the text has a NUL");
	err = seen_clean_parse(again, text, length, why, sizeof(why));
	fuzz_check(!err, "the written text is refused: %s", why);
	fuzz_check(seen_clean_count(again) == seen_clean_count(seen), "%zu digests, then %zu",
		   seen_clean_count(seen), seen_clean_count(again));
	fuzz_check(!seen_clean_format(again, &text_again, &length_again), "format failed");
	fuzz_check(length == length_again && !memcmp(text, text_again, length),
		   "written differently the second time");
	free(text);
	free(text_again);
	seen_clean_free(seen);
	seen_clean_free(again);
	return 0;
}
