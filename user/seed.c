// SPDX-License-Identifier: GPL-2.0
/* Random seeds for hash tables (see seed.h). */
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
