// SPDX-License-Identifier: GPL-2.0
/*
 * content_scan [-r ROUNDS] FILE...: what a YARA scan of an executable costs
 * beside its sha256, side by side in one run. Each round reads every file
 * (page cache warm after the first) through the digest worker's two steps:
 * SHA-256 with read() in 256 KiB chunks, then content_rules_scan() with the
 * built-in rules of builtin:miners and builtin:scanners. Prints per file
 * and for all files the median over the rounds of each step's MiB/s, and
 * their ratio (scan time / hash time): the figure to compare across hosts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "config.h"
#include "content.h"

#define CHUNK (256 * 1024)
#define ROUNDS_MAX 32

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *values, int count)
{
	qsort(values, count, sizeof(*values), compare_double);
	return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

static double hash_file(int fd, unsigned char *buffer, EVP_MD_CTX *digest)
{
	unsigned char out[EVP_MAX_MD_SIZE];
	unsigned int length;
	double start = now_s();
	ssize_t got;

	lseek(fd, 0, SEEK_SET);
	EVP_DigestInit_ex(digest, EVP_sha256(), NULL);
	while ((got = read(fd, buffer, CHUNK)) > 0)
		EVP_DigestUpdate(digest, buffer, got);
	EVP_DigestFinal_ex(digest, out, &length);
	return now_s() - start;
}

int main(int argc, char **argv)
{
	static const char yaml[] = "software:\n  all: {deny: [builtin:miners, builtin:scanners]}\n";
	double hash_times[ROUNDS_MAX], scan_times[ROUNDS_MAX], total_hash[ROUNDS_MAX] = { 0 },
	       total_scan[ROUNDS_MAX] = { 0 }, *file_scan_rates, total_bytes = 0, start;
	int rounds = 5, first = 1, i, round, fd, files = 0, matched = 0;
	struct content_result result;
	struct content_rules *rules;
	unsigned char *buffer = malloc(CHUNK);
	EVP_MD_CTX *digest = EVP_MD_CTX_new();
	struct config *config;
	char why[256];
	struct stat st;

	if (argc > 2 && !strcmp(argv[1], "-r")) {
		rounds = atoi(argv[2]);
		first = 3;
	}
	if (first >= argc || rounds < 1 || rounds > ROUNDS_MAX) {
		fprintf(stderr, "usage: content_scan [-r ROUNDS (1..%d)] FILE...\n", ROUNDS_MAX);
		return 2;
	}
	if (config_parse("bench.yaml", yaml, sizeof(yaml) - 1, &config, NULL))
		return 1;
	rules = content_rules_new(config, 1, why, sizeof(why));
	if (!rules) {
		fprintf(stderr, "content_scan: %s\n", why);
		return 1;
	}
	file_scan_rates = calloc(argc, sizeof(*file_scan_rates));
	printf("%-40s %10s %12s %12s %8s %s\n", "file", "MiB", "sha256 MiB/s", "YARA MiB/s",
	       "ratio", "matched");
	for (i = first; i < argc; i++) {
		fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || !st.st_size) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		for (round = 0; round < rounds; round++) {
			hash_times[round] = hash_file(fd, buffer, digest);
			start = now_s();
			content_rules_scan(rules, fd, st.st_size, &result);
			scan_times[round] = now_s() - start;
			total_hash[round] += hash_times[round];
			total_scan[round] += scan_times[round];
		}
		total_bytes += st.st_size;
		matched += result.count > 0;
		{
			double mib = st.st_size / 1048576.0, hash = median(hash_times, rounds),
			       scan = median(scan_times, rounds);

			file_scan_rates[files++] = mib / scan;
			printf("%-40.40s %10.2f %12.1f %12.1f %8.2f %s\n", argv[i], mib, mib / hash,
			       mib / scan, scan / hash,
			       result.count ? result.matches[0].rule : "-");
		}
		close(fd);
	}
	if (files) {
		double mib = total_bytes / 1048576.0, hash = median(total_hash, rounds),
		       scan = median(total_scan, rounds);

		printf("all: %d files, %.1f MiB, %d matched; rounds %d; sha256 %.1f MiB/s, YARA "
		       "%.1f MiB/s (%.2f ms per MiB), scan/hash time %.2f; median of the files' "
		       "YARA MiB/s %.1f\n",
		       files, mib, matched, rounds, mib / hash, mib / scan, scan / mib * 1e3,
		       scan / hash, median(file_scan_rates, files));
	}
	content_rules_put(rules);
	config_free(config);
	EVP_MD_CTX_free(digest);
	free(buffer);
	free(file_scan_rates);
	return 0;
}
