/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the libFuzzer targets of tests/fuzz/ share: a reader that cuts the
 * fuzzer's bytes into typed pieces (every piece comes from the input, so a
 * crash replays from its file alone), a scratch directory for the targets
 * that read files, and an abort that says which property broke.
 *
 * Each target is one file, fuzz_NAME.c, with LLVMFuzzerTestOneInput; its
 * seeds are in tests/fuzz/corpus/NAME/. tests/fuzz/run runs them.
 */
#ifndef ABUSEWATCH_FUZZ_H
#define ABUSEWATCH_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property of the code under test does not hold: a crash libFuzzer keeps. */
#define fuzz_check(condition, ...)                                                     \
	do {                                                                           \
		if (!(condition)) {                                                    \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, \
				#condition);                                           \
			fprintf(stderr, __VA_ARGS__);                                  \
			fputc('\n', stderr);                                           \
			abort();                                                       \
		}                                                                      \
	} while (0)

struct fuzz_input {
	const uint8_t *data;
	size_t size;
};

static inline uint8_t fuzz_u8(struct fuzz_input *in)
{
	uint8_t value = 0;

	if (in->size) {
		value = in->data[0];
		in->data++;
		in->size--;
	}
	return value;
}

static inline uint32_t fuzz_u32(struct fuzz_input *in)
{
	uint32_t value = 0;
	size_t i;

	for (i = 0; i < 4; i++)
		value = value << 8 | fuzz_u8(in);
	return value;
}

static inline bool fuzz_bool(struct fuzz_input *in)
{
	return fuzz_u8(in) & 1;
}

/*
 * A double: mostly small integers and fractions (what counters and rates
 * look like), sometimes any bit pattern at all (NaN, infinities,
 * subnormals, huge values).
 */
static inline double fuzz_double(struct fuzz_input *in)
{
	uint8_t how = fuzz_u8(in);
	uint64_t bits = 0;
	double value;
	size_t i;

	switch (how % 4) {
	case 0:
		return fuzz_u32(in);
	case 1:
		return fuzz_u32(in) / 1000.0;
	case 2:
		return (double)fuzz_u32(in) * fuzz_u32(in);
	default:
		for (i = 0; i < 8; i++)
			bits = bits << 8 | fuzz_u8(in);
		memcpy(&value, &bits, sizeof(value));
		return value;
	}
}

/*
 * A NUL-terminated string on the heap: the bytes up to the next NUL of the
 * input (at most @max), which is consumed. Never NULL (aborts when out of
 * memory: that is no finding).
 */
static inline char *fuzz_string(struct fuzz_input *in, size_t max)
{
	size_t length = 0;
	char *text;

	while (length < in->size && length < max && in->data[length])
		length++;
	text = malloc(length + 1);
	if (!text)
		abort();
	memcpy(text, in->data, length);
	text[length] = '\0';
	in->data += length;
	in->size -= length;
	if (in->size && length < max) {
		/* The separator. */
		in->data++;
		in->size--;
	}
	return text;
}

/* The rest of the input, copied to a block of exactly its size (ASan sees any read past it). */
static inline uint8_t *fuzz_rest(struct fuzz_input *in, size_t *size)
{
	uint8_t *copy = malloc(in->size ? in->size : 1);

	if (!copy)
		abort();
	memcpy(copy, in->data, in->size);
	*size = in->size;
	in->data += in->size;
	in->size = 0;
	return copy;
}

/*
 * A private directory for the targets that read and write files, on
 * /dev/shm where there is one (every input is a file written and read
 * back: memory is faster than a disk), removed at a normal exit. Aborts
 * when it cannot be made: no input could be tried.
 */
static char fuzz__scratch[64];

static inline void fuzz__remove_scratch(void)
{
	char command[128];

	if (!fuzz__scratch[0])
		return;
	snprintf(command, sizeof(command), "rm -rf '%s'", fuzz__scratch);
	if (system(command))
		fprintf(stderr, "fuzz: cannot remove %s\n", fuzz__scratch);
}

static inline const char *fuzz_scratch_dir(void)
{
	const char *base = getenv("TMPDIR");

	if (fuzz__scratch[0])
		return fuzz__scratch;
	if (access("/dev/shm", W_OK) == 0)
		base = "/dev/shm";
	snprintf(fuzz__scratch, sizeof(fuzz__scratch), "%s/abusewatch-fuzz.XXXXXX",
		 base && *base && strlen(base) < 32 ? base : "/tmp");
	if (!mkdtemp(fuzz__scratch)) {
		perror("fuzz: mkdtemp");
		abort();
	}
	atexit(fuzz__remove_scratch);
	return fuzz__scratch;
}

/* Writes @size bytes to @path (created or truncated); aborts on failure. */
static inline void fuzz_write_file(const char *path, const void *data, size_t size)
{
	FILE *file = fopen(path, "we");

	if (!file || (size && fwrite(data, 1, size, file) != size) || fclose(file)) {
		perror(path);
		abort();
	}
}

/* The whole file at @path, NUL-terminated, its length in *@size; NULL when absent. */
static inline char *fuzz_read_file(const char *path, size_t *size)
{
	FILE *file = fopen(path, "re");
	char *text = NULL;
	size_t capacity = 0, used = 0, got;

	if (!file)
		return NULL;
	do {
		if (capacity - used < 4096) {
			capacity = capacity * 2 + 4096;
			text = realloc(text, capacity + 1);
			if (!text)
				abort();
		}
		got = fread(text + used, 1, capacity - used, file);
		used += got;
	} while (got);
	fclose(file);
	text[used] = '\0';
	if (size)
		*size = used;
	return text;
}

#endif
