// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/rules/exehash.c, on real files in a temporary directory and
 * real processes: the digests are checked against OpenSSL's one-shot
 * SHA256() over the file's bytes read here, and once against sha256sum.
 * Results are awaited with poll() on the notify fd, never longer than 5 s
 * at a time. The mount namespace case needs CAP_SYS_ADMIN and is skipped
 * without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "exehash.h"
#include "log.h"

#define POLL_TIMEOUT_MS 5000
#define MAX_RESULTS 1024
#define BURST_FILES (EXEHASH_QUEUE_MAX * 2 + 88)
#define EVICTION_FILES (EXEHASH_CACHE_ENTRIES + 50)

static char base[64];

struct result {
	struct exe_identity id;
	char hex[SHA256_HEX_LEN + 1];
	enum exehash_status status;
};

struct results {
	size_t count;
	struct result items[MAX_RESULTS];
};

static struct results results;

static int setup(void **state)
{
	strcpy(base, "/tmp/abusewatch-test-exehash.XXXXXX");
	return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
	char command[PATH_MAX + 16];

	snprintf(command, sizeof(command), "rm -rf '%s'", base);
	return system(command) == 0 ? 0 : -1;
}

/* Helpers: files */

static void join_path(char *path, size_t size, const char *directory, const char *name)
{
	int length = snprintf(path, size, "%s/%s", directory, name);

	assert_true(length > 0 && (size_t)length < size);
}

static void make_path(char *path, size_t size, const char *name)
{
	join_path(path, size, base, name);
}

static void write_file(const char *path, const void *data, size_t length, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, length), (ssize_t)length);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void copy_file(const char *from, const char *to)
{
	char buffer[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	ssize_t got;

	assert_true(in >= 0 && out >= 0);
	while ((got = read(in, buffer, sizeof(buffer))) > 0)
		assert_int_equal(write(out, buffer, got), got);
	assert_int_equal(got, 0);
	close(in);
	assert_int_equal(close(out), 0);
}

static void identity_of(const char *path, struct exe_identity *id)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	exehash_identity_from_stat(&st, id);
}

static void hex_of(const unsigned char *digest, char *hex)
{
	int i;

	for (i = 0; i < SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
}

static void digest_of_bytes(const void *data, size_t length, char *hex)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];

	SHA256(data, length, digest);
	hex_of(digest, hex);
}

/* Independently of the module: the whole file read into memory, then hashed in one go. */
static void digest_of_file(const char *path, char *hex)
{
	struct stat st;
	unsigned char *data;
	size_t done = 0;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	data = malloc(st.st_size + 1);
	assert_non_null(data);
	while ((got = read(fd, data + done, st.st_size + 1 - done)) > 0)
		done += got;
	assert_int_equal(done, st.st_size);
	close(fd);
	digest_of_bytes(data, done, hex);
	free(data);
}

static void sha256sum_of(const char *path, char *hex)
{
	char command[PATH_MAX + 32], line[256];
	FILE *pipe;

	snprintf(command, sizeof(command), "sha256sum -- '%s'", path);
	pipe = popen(command, "r");
	assert_non_null(pipe);
	assert_non_null(fgets(line, sizeof(line), pipe));
	assert_int_equal(pclose(pipe), 0);
	memcpy(hex, line, SHA256_HEX_LEN);
	hex[SHA256_HEX_LEN] = '\0';
}

static int open_fd_count(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *entry;
	int count = 0;

	assert_non_null(dir);
	while ((entry = readdir(dir)))
		if (entry->d_name[0] != '.')
			count++;
	closedir(dir);
	return count - 1; /* the directory's own */
}

/* The file at @path in the mount namespace and root of @pid. */
static void proc_root_path(char *out, size_t size, pid_t pid, const char *path)
{
	int length = snprintf(out, size, "/proc/%d/root%s", pid, path);

	assert_true(length > 0 && (size_t)length < size);
}

/* Helpers: processes */

/* Runs @path; returns once the exec has happened (the close-on-exec pipe closed). */
static pid_t spawn(const char *path, const char *argument)
{
	int fds[2], child_errno = 0;
	pid_t pid;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		/* Gone with the test, even one that fails before it reaps. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[0]);
		execl(path, path, argument, (char *)NULL);
		child_errno = errno;
		if (write(fds[1], &child_errno, sizeof(child_errno)) < 0)
			_exit(126);
		_exit(127);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &child_errno, sizeof(child_errno)), 0);
	close(fds[0]);
	return pid;
}

static void reap(pid_t pid, bool kill_first)
{
	int status;

	if (kill_first)
		kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

/* Helpers: results */

static void record(const struct exe_identity *id, const char *hex, enum exehash_status status,
		   const struct content_result *content, void *ctx)
{
	struct results *into = ctx;
	struct result *item;

	assert_true(into->count < MAX_RESULTS);
	item = &into->items[into->count++];
	item->id = *id;
	item->status = status;
	if (hex) {
		assert_int_equal(status, EXEHASH_DONE);
		assert_int_equal(strlen(hex), SHA256_HEX_LEN);
		memcpy(item->hex, hex, SHA256_HEX_LEN + 1);
	} else {
		assert_int_not_equal(status, EXEHASH_DONE);
		item->hex[0] = '\0';
	}
}

/* Collects until @expected results have come; a poll() that waits 5 s in vain fails. */
static void collect_until(struct exehash *hash, size_t expected)
{
	struct pollfd pfd = { .fd = exehash_notify_fd(hash), .events = POLLIN };

	while (results.count < expected) {
		assert_int_equal(poll(&pfd, 1, POLL_TIMEOUT_MS), 1);
		exehash_collect(hash, record, &results);
	}
	assert_int_equal(results.count, expected);
}

/* Nothing is (or becomes, within @wait_ms) ready. */
static void assert_nothing_ready(struct exehash *hash, int wait_ms)
{
	struct pollfd pfd = { .fd = exehash_notify_fd(hash), .events = POLLIN };
	size_t before = results.count;

	assert_int_equal(poll(&pfd, 1, wait_ms), 0);
	exehash_collect(hash, record, &results);
	assert_int_equal(results.count, before);
}

static void assert_identity_equal(const struct exe_identity *a, const struct exe_identity *b)
{
	assert_int_equal(a->dev, b->dev);
	assert_int_equal(a->ino, b->ino);
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->mtime_sec, b->mtime_sec);
	assert_int_equal(a->mtime_nsec, b->mtime_nsec);
	assert_int_equal(a->ctime_sec, b->ctime_sec);
	assert_int_equal(a->ctime_nsec, b->ctime_nsec);
}

/* Requests @id, waits for its one result, and checks it is @expected_hex. */
static void hash_and_expect(struct exehash *hash, const struct exe_identity *id,
			    const struct exe_location *where, const char *expected_hex)
{
	char hex[SHA256_HEX_LEN + 1];

	results.count = 0;
	assert_int_equal(exehash_get(hash, id, where, hex), EXEHASH_PENDING);
	collect_until(hash, 1);
	assert_identity_equal(&results.items[0].id, id);
	assert_int_equal(results.items[0].status, EXEHASH_DONE);
	assert_string_equal(results.items[0].hex, expected_hex);
}

static struct exehash *new_hash(void)
{
	struct exehash *hash = exehash_new();

	assert_non_null(hash);
	results.count = 0;
	return hash;
}

/* Tests */

static void test_dev_from_kernel(void **state)
{
	const uint64_t sda1 = (8ULL << 20) | 1;
	const uint64_t big = (259ULL << 20) | 0x12345;
	struct stat st;

	assert_int_equal(exehash_dev_from_kernel(sda1), makedev(8, 1));
	assert_int_equal(major(exehash_dev_from_kernel(sda1)), 8);
	assert_int_equal(minor(exehash_dev_from_kernel(sda1)), 1);
	/* Minors past 8 bits are split across the userspace encoding. */
	assert_int_equal(major(exehash_dev_from_kernel(big)), 259);
	assert_int_equal(minor(exehash_dev_from_kernel(big)), 0x12345);
	assert_int_equal(exehash_dev_from_kernel(0), 0);

	/* What the kernel would report for a real file comes back as stat's st_dev. */
	assert_int_equal(stat(base, &st), 0);
	assert_int_equal(exehash_dev_from_kernel((uint64_t)major(st.st_dev) << 20 |
						 minor(st.st_dev)),
			 st.st_dev);
}

static void test_digest_through_collect(void **state)
{
	struct exehash *hash = new_hash();
	char path[PATH_MAX], expected[SHA256_HEX_LEN + 1], summed[SHA256_HEX_LEN + 1];
	struct exe_location where = { .pid = 0 };
	struct exehash_stats stats;
	struct exe_identity id;

	make_path(path, sizeof(path), "plain-copy");
	copy_file("/proc/self/exe", path);
	identity_of(path, &id);
	digest_of_file(path, expected);
	sha256sum_of(path, summed);
	assert_string_equal(expected, summed);

	/* Nothing done yet: collect returns at once, with nothing. */
	exehash_collect(hash, record, &results);
	assert_int_equal(results.count, 0);

	where.path = path;
	hash_and_expect(hash, &id, &where, expected);
	exehash_stats(hash, &stats);
	assert_int_equal(stats.hashed, 1);
	assert_int_equal(stats.bytes, id.size);
	assert_int_equal(stats.cached, 1);
	assert_int_equal(stats.hits, 0);
	assert_int_equal(stats.unavailable, 0);
	assert_int_equal(stats.busy, 0);
	/* The notify fd was cleared by the collect. */
	assert_nothing_ready(hash, 0);
	exehash_free(hash);
}

static void test_cache_hit(void **state)
{
	struct exehash *hash = new_hash();
	char path[PATH_MAX], expected[SHA256_HEX_LEN + 1], hex[SHA256_HEX_LEN + 1];
	struct exe_location where = { .pid = 0 };
	struct exehash_stats stats;
	struct exe_identity id;

	make_path(path, sizeof(path), "hit");
	write_file(path, "#!/bin/sh\necho hit\n", 19, 0755);
	identity_of(path, &id);
	digest_of_file(path, expected);
	where.path = path;
	hash_and_expect(hash, &id, &where, expected);

	/* A cache hit needs no file at all: gone, it still answers. */
	assert_int_equal(unlink(path), 0);
	memset(hex, 'x', sizeof(hex));
	assert_int_equal(exehash_get(hash, &id, NULL, hex), EXEHASH_DONE);
	assert_string_equal(hex, expected);
	exehash_stats(hash, &stats);
	assert_int_equal(stats.hits, 1);
	assert_int_equal(stats.hashed, 1);
	assert_nothing_ready(hash, 50);
	exehash_free(hash);
}

static void test_ten_thousand_requests_hash_once(void **state)
{
	struct exehash *hash = new_hash();
	char path[PATH_MAX], expected[SHA256_HEX_LEN + 1], hex[SHA256_HEX_LEN + 1];
	struct exe_location where = { .pid = 0 };
	struct exehash_stats stats;
	struct exe_identity id;
	int i;

	make_path(path, sizeof(path), "compiler");
	copy_file("/bin/true", path);
	identity_of(path, &id);
	digest_of_file(path, expected);
	where.path = path;

	/* All asked before any result is collected: one open, one job, one result. */
	for (i = 0; i < 10000; i++)
		assert_int_equal(exehash_get(hash, &id, &where, hex), EXEHASH_PENDING);
	collect_until(hash, 1);
	assert_string_equal(results.items[0].hex, expected);
	assert_nothing_ready(hash, 50);

	for (i = 0; i < 10000; i++) {
		assert_int_equal(exehash_get(hash, &id, &where, hex), EXEHASH_DONE);
		assert_string_equal(hex, expected);
	}
	exehash_stats(hash, &stats);
	assert_int_equal(stats.hashed, 1);
	assert_int_equal(stats.hits, 10000);
	assert_int_equal(stats.cached, 1);
	assert_int_equal(stats.busy, 0);
	assert_int_equal(stats.unavailable, 0);
	exehash_free(hash);
}

static void test_identity_mismatch(void **state)
{
	struct exehash *hash = new_hash();
	struct exe_location where = { .pid = getpid() };
	char path[PATH_MAX], hex[SHA256_HEX_LEN + 1];
	struct exe_identity id, wrong;
	struct exehash_stats stats;

	make_path(path, sizeof(path), "mismatch");
	write_file(path, "some program\n", 13, 0755);
	identity_of(path, &id);
	where.path = path;

	wrong = id;
	wrong.size++;
	assert_int_equal(exehash_get(hash, &wrong, &where, hex), EXEHASH_UNAVAILABLE);
	wrong = id;
	wrong.mtime_nsec = (wrong.mtime_nsec + 1) % 1000000000;
	assert_int_equal(exehash_get(hash, &wrong, &where, hex), EXEHASH_UNAVAILABLE);
	wrong = id;
	wrong.mtime_sec--;
	assert_int_equal(exehash_get(hash, &wrong, &where, hex), EXEHASH_UNAVAILABLE);
	wrong = id;
	wrong.ctime_nsec = (wrong.ctime_nsec + 1) % 1000000000;
	assert_int_equal(exehash_get(hash, &wrong, &where, hex), EXEHASH_UNAVAILABLE);
	wrong = id;
	wrong.ino++;
	assert_int_equal(exehash_get(hash, &wrong, &where, hex), EXEHASH_UNAVAILABLE);
	wrong = id;
	wrong.dev = makedev(major(id.dev) + 1, minor(id.dev));
	assert_int_equal(exehash_get(hash, &wrong, &where, hex), EXEHASH_UNAVAILABLE);

	/* A directory or a fifo with the right numbers is still not a file to hash. */
	identity_of(base, &wrong);
	where.path = base;
	assert_int_equal(exehash_get(hash, &wrong, &where, hex), EXEHASH_UNAVAILABLE);
	make_path(path, sizeof(path), "fifo");
	assert_int_equal(mkfifo(path, 0600), 0);
	identity_of(path, &wrong);
	where.path = path;
	assert_int_equal(exehash_get(hash, &wrong, &where, hex), EXEHASH_UNAVAILABLE);
	/* A relative path is never resolved against the agent's directory. */
	where.path = "mismatch";
	where.pid = 0;
	assert_int_equal(exehash_get(hash, &id, &where, hex), EXEHASH_UNAVAILABLE);

	exehash_stats(hash, &stats);
	assert_int_equal(stats.unavailable, 9);
	assert_int_equal(stats.hashed, 0);
	assert_int_equal(stats.cached, 0);
	assert_nothing_ready(hash, 50);
	exehash_free(hash);
}

static void test_rewritten_file_new_identity(void **state)
{
	static const char first[] = "version one\n", second[] = "version two, longer\n";
	struct exehash *hash = new_hash();
	char expected_first[SHA256_HEX_LEN + 1], expected_second[SHA256_HEX_LEN + 1];
	char path[PATH_MAX], hex[SHA256_HEX_LEN + 1];
	struct exe_location where = { .pid = 0 };
	struct exe_identity id_first, id_second;
	struct exehash_stats stats;

	make_path(path, sizeof(path), "rewritten");
	where.path = path;
	write_file(path, first, sizeof(first) - 1, 0755);
	identity_of(path, &id_first);
	digest_of_bytes(first, sizeof(first) - 1, expected_first);
	hash_and_expect(hash, &id_first, &where, expected_first);

	write_file(path, second, sizeof(second) - 1, 0755);
	identity_of(path, &id_second);
	assert_int_equal(id_second.ino, id_first.ino);
	assert_int_not_equal(id_second.size, id_first.size);
	digest_of_bytes(second, sizeof(second) - 1, expected_second);
	assert_string_not_equal(expected_first, expected_second);
	hash_and_expect(hash, &id_second, &where, expected_second);

	/* Each identity keeps the digest of the content it named. */
	assert_int_equal(exehash_get(hash, &id_first, &where, hex), EXEHASH_DONE);
	assert_string_equal(hex, expected_first);
	assert_int_equal(exehash_get(hash, &id_second, &where, hex), EXEHASH_DONE);
	assert_string_equal(hex, expected_second);
	exehash_stats(hash, &stats);
	assert_int_equal(stats.hashed, 2);
	assert_int_equal(stats.cached, 2);
	exehash_free(hash);
}

static void test_deleted_file_of_live_process(void **state)
{
	struct exehash *hash = new_hash();
	char path[PATH_MAX], expected[SHA256_HEX_LEN + 1], hex[SHA256_HEX_LEN + 1];
	struct exe_location where = { 0 };
	struct exe_identity id, wrong;
	char exe[64];
	struct stat st;
	pid_t child;
	int fd;

	make_path(path, sizeof(path), "sleep-deleted");
	copy_file("/bin/sleep", path);
	/* The identity and digest as of the exec, as the kernel would report them. */
	identity_of(path, &id);
	digest_of_file(path, expected);
	child = spawn(path, "30");

	/* While it runs its file cannot be written: what /proc/PID/exe gives is what ran. */
	fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, ETXTBSY);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(access(path, F_OK), -1);
	/* It is still there through /proc/PID/exe, and the unlink moved its ctime. */
	snprintf(exe, sizeof(exe), "/proc/%d/exe", child);
	assert_int_equal(stat(exe, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(st.st_ino, id.ino);
	assert_int_equal(st.st_mtim.tv_nsec, id.mtime_nsec);

	/* A wrong mtime is not excused by the unlink. */
	where.pid = child;
	where.path = path;
	wrong = id;
	wrong.mtime_nsec = (wrong.mtime_nsec + 1) % 1000000000;
	assert_int_equal(exehash_get(hash, &wrong, &where, hex), EXEHASH_UNAVAILABLE);

	hash_and_expect(hash, &id, &where, expected);
	reap(child, true);
	exehash_free(hash);
}

static void test_short_lived_process(void **state)
{
	struct exehash *hash = new_hash();
	char path[PATH_MAX], expected[SHA256_HEX_LEN + 1];
	struct exe_location where = { 0 };
	struct exe_identity id;
	pid_t child;

	make_path(path, sizeof(path), "true-short");
	copy_file("/bin/true", path);
	identity_of(path, &id);
	digest_of_file(path, expected);
	child = spawn(path, NULL);
	reap(child, false);

	/* /proc/PID is gone: the path as the agent sees it answers. */
	where.pid = child;
	where.path = path;
	hash_and_expect(hash, &id, &where, expected);
	exehash_free(hash);
}

static void test_deleted_and_gone(void **state)
{
	struct exehash *hash = new_hash();
	char path[PATH_MAX], hex[SHA256_HEX_LEN + 1];
	struct exe_location where = { 0 };
	struct exehash_stats stats;
	struct exe_identity id;
	pid_t child;

	make_path(path, sizeof(path), "true-gone");
	copy_file("/bin/true", path);
	identity_of(path, &id);
	child = spawn(path, NULL);
	reap(child, false);
	assert_int_equal(unlink(path), 0);

	where.pid = child;
	where.path = path;
	assert_int_equal(exehash_get(hash, &id, &where, hex), EXEHASH_UNAVAILABLE);
	exehash_stats(hash, &stats);
	assert_int_equal(stats.unavailable, 1);
	assert_int_equal(stats.hashed, 0);
	assert_nothing_ready(hash, 50);
	exehash_free(hash);
}

/*
 * A child in its own mount namespace with a tmpfs over @mount_dir, holding
 * files the agent cannot see at that path. Returns once they are there, or
 * -1 with errno set when the child could not make them.
 */
static pid_t spawn_namespace_child(const char *mount_dir, const char *const *names, size_t count)
{
	char path[PATH_MAX];
	int fds[2], status = 0;
	size_t i;
	pid_t pid;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		/* Gone with the test, even one that fails before it reaps. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[0]);
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tmpfs", mount_dir, "tmpfs", 0, "size=1m")) {
			status = errno;
		} else {
			for (i = 0; i < count; i++) {
				FILE *file;

				join_path(path, sizeof(path), mount_dir, names[i]);
				file = fopen(path, "w");
				if (!file || fprintf(file, "tool %s\n", names[i]) < 0 ||
				    fclose(file))
					status = EIO;
			}
		}
		if (write(fds[1], &status, sizeof(status)) < 0)
			_exit(1);
		if (status)
			_exit(1);
		pause();
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &status, sizeof(status)), sizeof(status));
	close(fds[0]);
	if (status) {
		reap(pid, false);
		errno = status;
		return -1;
	}
	return pid;
}

static void test_other_roots(void **state)
{
	static const char *const names[] = { "tool-own-root", "tool-cgroup-root", "tool-nowhere" };
	struct exehash *hash;
	char mount_dir[PATH_MAX], path[3][PATH_MAX], inside[PATH_MAX], procs[PATH_MAX];
	char expected[SHA256_HEX_LEN + 1], hex[SHA256_HEX_LEN + 1], cgroup_dir[PATH_MAX];
	char listing[64];
	struct exe_location where = { 0 };
	struct exe_identity id[3];
	pid_t child;
	size_t i;

	make_path(mount_dir, sizeof(mount_dir), "namespace");
	assert_int_equal(mkdir(mount_dir, 0755), 0);
	child = spawn_namespace_child(mount_dir, names, 3);
	if (child < 0) {
		print_message("no mount namespace (%s): skipped\n", strerror(errno));
		skip();
	}
	hash = new_hash();
	for (i = 0; i < 3; i++) {
		join_path(path[i], sizeof(path[i]), mount_dir, names[i]);
		proc_root_path(inside, sizeof(inside), child, path[i]);
		identity_of(inside, &id[i]);
		/* The agent's own view has nothing there. */
		assert_int_equal(access(path[i], F_OK), -1);
	}

	/* Its own root: /proc/PID/exe is this test program, which does not match. */
	where.pid = child;
	where.path = path[0];
	proc_root_path(inside, sizeof(inside), child, path[0]);
	digest_of_file(inside, expected);
	hash_and_expect(hash, &id[0], &where, expected);

	/* Another process of its cgroup: the one asked about is gone (pid 0 here). */
	make_path(cgroup_dir, sizeof(cgroup_dir), "fake-cgroup");
	assert_int_equal(mkdir(cgroup_dir, 0755), 0);
	make_path(procs, sizeof(procs), "fake-cgroup/cgroup.procs");
	snprintf(listing, sizeof(listing), "1\n%d\n", child);
	write_file(procs, listing, strlen(listing), 0644);
	where.pid = 0;
	where.path = path[1];
	where.cgroup_dir = cgroup_dir;
	proc_root_path(inside, sizeof(inside), child, path[1]);
	digest_of_file(inside, expected);
	hash_and_expect(hash, &id[1], &where, expected);

	/* Without the cgroup, nothing the agent can reach has it. */
	where.cgroup_dir = NULL;
	where.path = path[2];
	assert_int_equal(exehash_get(hash, &id[2], &where, hex), EXEHASH_UNAVAILABLE);

	reap(child, true);
	exehash_free(hash);
}

static void test_too_large(void **state)
{
	struct exehash *hash = new_hash();
	char path[PATH_MAX], hex[SHA256_HEX_LEN + 1];
	struct exe_location where = { .pid = 0 };
	struct exehash_stats stats;
	struct exe_identity id;

	make_path(path, sizeof(path), "large");
	write_file(path, "x", 1, 0755);
	identity_of(path, &id);
	id.size = EXEHASH_MAX_BYTES + 1;
	where.path = path;
	assert_int_equal(exehash_get(hash, &id, &where, hex), EXEHASH_TOO_LARGE);
	exehash_stats(hash, &stats);
	assert_int_equal(stats.hashed, 0);
	assert_int_equal(stats.cached, 0);
	assert_nothing_ready(hash, 50);
	exehash_free(hash);
}

static void make_numbered_file(const char *prefix, int number, char *path, char *expected)
{
	char name[64], content[64];
	int length;

	snprintf(name, sizeof(name), "%s-%d", prefix, number);
	make_path(path, PATH_MAX, name);
	length = snprintf(content, sizeof(content), "%s file number %d\n", prefix, number);
	write_file(path, content, length, 0755);
	if (expected)
		digest_of_bytes(content, length, expected);
}

static void test_burst_over_queue(void **state)
{
	static char expected[BURST_FILES][SHA256_HEX_LEN + 1];
	static struct exe_identity ids[BURST_FILES];
	static enum exehash_status asked[BURST_FILES];
	struct exehash *hash = new_hash();
	char path[PATH_MAX], hex[SHA256_HEX_LEN + 1];
	struct exe_location where = { .pid = 0, .path = path };
	size_t pending = 0, busy = 0, delivered[BURST_FILES] = { 0 };
	struct exehash_stats stats;
	int fds_before, i, j;

	for (i = 0; i < BURST_FILES; i++) {
		make_numbered_file("burst", i, path, expected[i]);
		identity_of(path, &ids[i]);
	}
	fds_before = open_fd_count();
	for (i = 0; i < BURST_FILES; i++) {
		snprintf(path, sizeof(path), "%s/burst-%d", base, i);
		asked[i] = exehash_get(hash, &ids[i], &where, hex);
		assert_true(asked[i] == EXEHASH_PENDING || asked[i] == EXEHASH_BUSY);
		if (asked[i] == EXEHASH_PENDING)
			pending++;
		else
			busy++;
	}
	/* Results wait for a collect, so the bound holds until then: exactly the queue. */
	assert_int_equal(pending, EXEHASH_QUEUE_MAX);
	assert_true(open_fd_count() <= fds_before + EXEHASH_QUEUE_MAX);
	exehash_stats(hash, &stats);
	assert_int_equal(stats.busy, busy);

	collect_until(hash, pending);
	for (i = 0; i < (int)results.count; i++) {
		for (j = 0; j < BURST_FILES; j++)
			if (ids[j].ino == results.items[i].id.ino)
				break;
		assert_true(j < BURST_FILES);
		assert_int_equal(asked[j], EXEHASH_PENDING);
		assert_int_equal(results.items[i].status, EXEHASH_DONE);
		assert_string_equal(results.items[i].hex, expected[j]);
		delivered[j]++;
	}
	for (j = 0; j < BURST_FILES; j++)
		assert_int_equal(delivered[j], asked[j] == EXEHASH_PENDING ? 1 : 0);
	assert_nothing_ready(hash, 50);
	/* Every file has been read and closed by now. */
	assert_int_equal(open_fd_count(), fds_before);

	/* With the queue drained, those turned away are taken. */
	for (j = 0; asked[j] != EXEHASH_BUSY; j++)
		;
	snprintf(path, sizeof(path), "%s/burst-%d", base, j);
	hash_and_expect(hash, &ids[j], &where, expected[j]);
	exehash_stats(hash, &stats);
	assert_int_equal(stats.hashed, pending + 1);
	assert_int_equal(stats.busy, busy);
	exehash_free(hash);
}

/* Hashes files [@first, @last) in batches the queue takes, checking the cache's size after each. */
static void hash_numbered_range(struct exehash *hash, const struct exe_identity *ids, int first,
				int last)
{
	char path[PATH_MAX], hex[SHA256_HEX_LEN + 1];
	struct exe_location where = { .pid = 0, .path = path };
	struct exehash_stats stats;
	int i, end;

	for (; first < last; first = end) {
		end = first + EXEHASH_QUEUE_MAX < last ? first + EXEHASH_QUEUE_MAX : last;
		results.count = 0;
		for (i = first; i < end; i++) {
			snprintf(path, sizeof(path), "%s/evict-%d", base, i);
			assert_int_equal(exehash_get(hash, &ids[i], &where, hex), EXEHASH_PENDING);
		}
		collect_until(hash, end - first);
		exehash_stats(hash, &stats);
		assert_int_equal(stats.cached, end < EXEHASH_CACHE_ENTRIES ? (size_t)end
									  : EXEHASH_CACHE_ENTRIES);
	}
}

static void test_cache_eviction(void **state)
{
	static struct exe_identity ids[EVICTION_FILES];
	struct exehash *hash = new_hash();
	char path[PATH_MAX], hex[SHA256_HEX_LEN + 1], expected[SHA256_HEX_LEN + 1];
	struct exe_location where = { .pid = 0, .path = path };
	struct exehash_stats stats;
	int i;

	for (i = 0; i < EVICTION_FILES; i++) {
		make_numbered_file("evict", i, path, NULL);
		identity_of(path, &ids[i]);
	}

	hash_numbered_range(hash, ids, 0, EXEHASH_CACHE_ENTRIES);
	/* Used again: now file 1 is the least recently used, not file 0. */
	assert_int_equal(exehash_get(hash, &ids[0], NULL, hex), EXEHASH_DONE);
	hash_numbered_range(hash, ids, EXEHASH_CACHE_ENTRIES, EVICTION_FILES);
	exehash_stats(hash, &stats);
	assert_int_equal(stats.hashed, EVICTION_FILES);
	assert_int_equal(stats.cached, EXEHASH_CACHE_ENTRIES);

	/* Asked with nowhere to look, only the cache can answer. */
	assert_int_equal(exehash_get(hash, &ids[0], NULL, hex), EXEHASH_DONE);
	snprintf(path, sizeof(path), "%s/evict-%d", base, 0);
	digest_of_file(path, expected);
	assert_string_equal(hex, expected);
	/* Files 1 to 50 gave way; 51 on are there. */
	assert_int_equal(exehash_get(hash, &ids[1], NULL, hex), EXEHASH_UNAVAILABLE);
	assert_int_equal(exehash_get(hash, &ids[50], NULL, hex), EXEHASH_UNAVAILABLE);
	assert_int_equal(exehash_get(hash, &ids[51], NULL, hex), EXEHASH_DONE);
	assert_int_equal(exehash_get(hash, &ids[EVICTION_FILES - 1], NULL, hex), EXEHASH_DONE);
	snprintf(path, sizeof(path), "%s/evict-%d", base, EVICTION_FILES - 1);
	digest_of_file(path, expected);
	assert_string_equal(hex, expected);

	/*
	 * An evicted one is hashed again when asked with a place to find it. File 51 was just
	 * used: file 52 gives way.
	 */
	snprintf(path, sizeof(path), "%s/evict-%d", base, 1);
	digest_of_file(path, expected);
	hash_and_expect(hash, &ids[1], &where, expected);
	assert_int_equal(exehash_get(hash, &ids[52], NULL, hex), EXEHASH_UNAVAILABLE);
	assert_int_equal(exehash_get(hash, &ids[51], NULL, hex), EXEHASH_DONE);
	exehash_stats(hash, &stats);
	assert_int_equal(stats.cached, EXEHASH_CACHE_ENTRIES);
	assert_int_equal(stats.hashed, EVICTION_FILES + 1);
	exehash_free(hash);
}

static void test_free_with_pending_work(void **state)
{
	char path[PATH_MAX], hex[SHA256_HEX_LEN + 1];
	struct exe_location where = { .pid = 0, .path = path };
	struct exe_identity big, ids[64];
	struct exehash *hash;
	char *data;
	int fds_before, i;

	/* A 64 MiB file first keeps the worker busy while the others wait. */
	make_path(path, sizeof(path), "pending-big");
	data = calloc(1, 64 << 20);
	assert_non_null(data);
	write_file(path, data, 64 << 20, 0755);
	free(data);
	identity_of(path, &big);
	for (i = 0; i < 64; i++) {
		make_numbered_file("pending", i, path, NULL);
		identity_of(path, &ids[i]);
	}

	fds_before = open_fd_count();
	hash = new_hash();
	make_path(path, sizeof(path), "pending-big");
	assert_int_equal(exehash_get(hash, &big, &where, hex), EXEHASH_PENDING);
	for (i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), "%s/pending-%d", base, i);
		assert_int_equal(exehash_get(hash, &ids[i], &where, hex), EXEHASH_PENDING);
	}
	exehash_free(hash);
	assert_int_equal(open_fd_count(), fds_before);

	/* Results done but never collected are dropped just as cleanly. */
	hash = new_hash();
	for (i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "%s/pending-%d", base, i);
		assert_int_equal(exehash_get(hash, &ids[i], &where, hex), EXEHASH_PENDING);
	}
	{
		struct pollfd pfd = { .fd = exehash_notify_fd(hash), .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, POLL_TIMEOUT_MS), 1);
	}
	exehash_free(hash);
	assert_int_equal(open_fd_count(), fds_before);

	/* And one that never had any work. */
	hash = new_hash();
	exehash_free(hash);
	exehash_free(NULL);
	assert_int_equal(open_fd_count(), fds_before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dev_from_kernel),
	    cmocka_unit_test(test_digest_through_collect),
	    cmocka_unit_test(test_cache_hit),
	    cmocka_unit_test(test_ten_thousand_requests_hash_once),
	    cmocka_unit_test(test_identity_mismatch),
	    cmocka_unit_test(test_rewritten_file_new_identity),
	    cmocka_unit_test(test_deleted_file_of_live_process),
	    cmocka_unit_test(test_short_lived_process),
	    cmocka_unit_test(test_deleted_and_gone),
	    cmocka_unit_test(test_other_roots),
	    cmocka_unit_test(test_too_large),
	    cmocka_unit_test(test_burst_over_queue),
	    cmocka_unit_test(test_cache_eviction),
	    cmocka_unit_test(test_free_with_pending_work),
	};

	log_set_level(LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
