// SPDX-License-Identifier: GPL-2.0
/* Random seeds and the seeded hash for hash tables (see seed.h). */
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "seed.h"

void random_seed(void *out, size_t size)
{
	unsigned char *bytes = out;
	struct timespec ts;
	uint64_t mix;
	size_t i;

	if (getrandom(out, size, GRND_NONBLOCK) == (ssize_t)size)
		return;
	/* Early boot without entropy yet: worse, but collisions only cost time. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	mix = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^
	      (uint64_t)getpid() << 32;
	for (i = 0; i < size; i++) {
		mix = mix * 6364136223846793005ULL + 1442695040888963407ULL;
		bytes[i] = (unsigned char)(mix >> 56);
	}
}

uint64_t hash_start(uint64_t seed)
{
	return seed ^ 0xcbf29ce484222325ULL;
}

uint64_t hash_add(uint64_t hash, const void *data, size_t length)
{
	const unsigned char *bytes = data;
	size_t i;

	for (i = 0; i < length; i++) {
		hash ^= bytes[i];
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

uint64_t hash_finish(uint64_t hash)
{
	hash ^= hash >> 33;
	hash *= 0xff51afd7ed558ccdULL;
	hash ^= hash >> 33;
	return hash;
}
