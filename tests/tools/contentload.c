// SPDX-License-Identifier: GPL-2.0
/*
 * contentload [SECONDS]: sleeps SECONDS (default 1) and does nothing else.
 * It carries, as a miner's executable does, the strings and tables that the
 * built-in YARA rules of builtin:miners look for (data/software/miners.yar):
 * Stratum pool URL schemes, a RandomX miner's option table, a donation
 * host, the modprobe msr command and an algorithm name table. The content
 * test copies it under an innocent name and runs it with no arguments: only
 * what is inside the file can give it away. Nothing here is ever used to
 * connect anywhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct option_entry {
	const char *name;
	int has_argument;
};

/* Kept in the file whatever the optimiser sees: the test is about the bytes. */
__attribute__((used)) static const struct option_entry miner_options[] = {
	{ "donate-level", 1 },	     { "randomx-mode", 1 },	     { "randomx-1gb-pages", 0 },
	{ "randomx-no-numa", 0 },    { "randomx-wrmsr", 1 },	     { "randomx-init", 1 },
	{ "cpu-priority", 1 },	     { "cpu-max-threads-hint", 1 }, { "nicehash", 0 },
	{ "rig-id", 1 },
};

__attribute__((used)) static const char *const pool_schemes[] = {
	"stratum+tcp://",
	"stratum+ssl://",
};

__attribute__((used)) static const char donation_host[] = "donate.v2.xmrig.com";
__attribute__((used)) static const char msr_command[] = "/sbin/modprobe msr allow_writes=on";

__attribute__((used)) static const char *const algorithms[] = {
	"rx/0", "rx/wow", "rx/arq", "rx/sfx", "cn/r", "cn/half", "cn/rwz", "cn-lite/1", "argon2/chukwa",
};

int main(int argc, char **argv)
{
	struct timespec pause;
	double seconds = argc > 1 ? strtod(argv[1], NULL) : 1.0;

	if (seconds < 0 || seconds > 3600) {
		fprintf(stderr, "usage: contentload [SECONDS]\n");
		return 2;
	}
	pause.tv_sec = (time_t)seconds;
	pause.tv_nsec = (long)((seconds - (double)pause.tv_sec) * 1e9);
	while (nanosleep(&pause, &pause))
		;
	return 0;
}
