// SPDX-License-Identifier: GPL-2.0
/* memhold MIB SECONDS: touches MIB MiB of anonymous memory, holds it for SECONDS, exits. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: memhold MIB SECONDS\n"
			"  allocates and touches MIB MiB (1..4096), then sleeps SECONDS (1..600)\n"
			"example: memhold 128 10\n");
	return 2;
}

int main(int argc, char **argv)
{
	volatile char *block;
	long mib, seconds;
	size_t offset;
	char *rest;

	if (argc != 3)
		return usage();
	mib = strtol(argv[1], &rest, 10);
	if (rest == argv[1] || *rest || mib < 1 || mib > 4096)
		return usage();
	seconds = strtol(argv[2], &rest, 10);
	if (rest == argv[2] || *rest || seconds < 1 || seconds > 600)
		return usage();
	block = malloc((size_t)mib << 20);
	if (!block) {
		perror("memhold: malloc");
		return 1;
	}
	/*
	 * Every page written through a volatile pointer, so all of it is
	 * resident and charged (a memset before free() may be optimized away).
	 */
	for (offset = 0; offset < ((size_t)mib << 20); offset += 4096)
		block[offset] = 0x5a;
	printf("holding %ld MiB\n", mib);
	fflush(stdout);
	sleep((unsigned int)seconds);
	free((void *)block);
	return 0;
}
