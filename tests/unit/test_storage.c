// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/tenancy/storage.c, on trees made in a temporary directory. The expected
 * figures come from the kernel: nftw(FTW_PHYS) and st_blocks, summed here independently.
 * STORAGE_TEST_QUICK=1 leaves out the cases that build a tree of 20,000 files (quick runs).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>

#include "log.h"
#include "storage.h"

#define BIG_TREE_DIRS 20
#define BIG_TREE_FILES 1000
#define DEEP_LEVELS 1100
#define NOBODY 65534

static char base[64];

struct truth {
	uint64_t bytes;
	uint64_t entries;
};

static struct truth truth_sum;
static struct {
	dev_t dev;
	ino_t ino;
} truth_links[256];
static size_t truth_link_count;

static int setup(void **state)
{
	strcpy(base, "/tmp/abusewatch-test-storage.XXXXXX");
	return mkdtemp(base) ? 0 : -1;
}

static char *kept_paths[64];
static size_t kept_count;

static int teardown(void **state)
{
	char command[PATH_MAX + 16];

	while (kept_count)
		free(kept_paths[--kept_count]);
	/* Left mounted when test_mount_point failed half-way. */
	snprintf(command, sizeof(command), "%s/mnt/bind", base);
	umount2(command, MNT_DETACH);
	snprintf(command, sizeof(command), "%s/mnt/point", base);
	umount2(command, MNT_DETACH);

	snprintf(command, sizeof(command), "rm -rf '%s'", base);
	return system(command) == 0 ? 0 : -1;
}

static bool quick(void)
{
	const char *value = getenv("STORAGE_TEST_QUICK");

	return value && *value && strcmp(value, "0");
}

static double now_seconds(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec + now.tv_nsec / 1e9;
}

static void format(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int length;

	va_start(ap, fmt);
	length = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	assert_true(length >= 0 && (size_t)length < size);
}

/* Under base; a few rotating buffers, so that one call can use several. */
static const char *at(const char *name)
{
	static char paths[8][PATH_MAX];
	static unsigned int next;
	char *path = paths[next++ % 8];

	format(path, PATH_MAX, "%s/%s", base, name);
	return path;
}

/* Under base, for as long as the tests run: for arrays of paths. */
static const char *kept(const char *name)
{
	char *path;

	assert_true(kept_count < sizeof(kept_paths) / sizeof(kept_paths[0]));
	assert_true(asprintf(&path, "%s/%s", base, name) > 0);
	kept_paths[kept_count++] = path;
	return path;
}

static void make_dir(const char *name)
{
	assert_int_equal(mkdir(at(name), 0755), 0);
}

/* Real data, so that the blocks are really allocated. */
static void write_file(const char *name, size_t size, int flags)
{
	char chunk[4096];
	size_t length;
	int fd;

	memset(chunk, 'x', sizeof(chunk));
	fd = open(at(name), O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
	assert_true(fd >= 0);
	while (size) {
		length = size < sizeof(chunk) ? size : sizeof(chunk);
		assert_int_equal(write(fd, chunk, length), (ssize_t)length);
		size -= length;
	}
	assert_int_equal(close(fd), 0);
}

static int add_to_truth(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	size_t i;

	if (flag == FTW_NS)
		return 0;
	truth_sum.entries++;
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		for (i = 0; i < truth_link_count; i++)
			if (truth_links[i].dev == st->st_dev && truth_links[i].ino == st->st_ino)
				return 0;
		assert_true(truth_link_count < sizeof(truth_links) / sizeof(truth_links[0]));
		truth_links[truth_link_count].dev = st->st_dev;
		truth_links[truth_link_count++].ino = st->st_ino;
	}
	truth_sum.bytes += st->st_blocks * 512;
	return 0;
}

/* What the kernel says, hard links once across all @paths, not crossing mounts. */
static struct truth ground_truth(const char *const *paths, size_t count)
{
	size_t i;

	memset(&truth_sum, 0, sizeof(truth_sum));
	truth_link_count = 0;
	for (i = 0; i < count; i++)
		assert_int_equal(nftw(paths[i], add_to_truth, 32, FTW_PHYS | FTW_MOUNT), 0);
	return truth_sum;
}

static struct truth truth_of(const char *name)
{
	const char *paths[] = { kept(name) };

	return ground_truth(paths, 1);
}

static uint64_t blocks_of(const char *name)
{
	struct stat st;

	assert_int_equal(lstat(at(name), &st), 0);
	return st.st_blocks * 512;
}

static int measure_one(const char *name, struct storage_usage *usage)
{
	const char *paths[] = { kept(name) };

	return storage_measure(paths, 1, NULL, usage);
}

/* tree/: files of many sizes, nested and empty directories, a fifo, a sparse file. */
static void make_tree(const char *name)
{
	static const size_t sizes[] = { 0, 1, 100, 4095, 4096, 4097, 65536, 1000000 };
	char file[PATH_MAX];
	size_t i;
	int fd;

	make_dir(name);
	format(file, sizeof(file), "%s/a", name);
	make_dir(file);
	format(file, sizeof(file), "%s/a/b", name);
	make_dir(file);
	format(file, sizeof(file), "%s/a/b/c", name);
	make_dir(file);
	format(file, sizeof(file), "%s/empty", name);
	make_dir(file);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		format(file, sizeof(file), "%s/%s/file%zu", name, i % 2 ? "a" : "a/b/c", i);
		write_file(file, sizes[i], 0);
		format(file, sizeof(file), "%s/top%zu", name, i);
		write_file(file, sizes[i] / 3, 0);
	}
	format(file, sizeof(file), "%s/fifo", name);
	assert_int_equal(mkfifo(at(file), 0600), 0);
	format(file, sizeof(file), "%s/sparse", name);
	fd = open(at(file), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "x", 1, 10 << 20), 1);
	close(fd);
}

static void test_tree(void **state)
{
	struct storage_throttle throttle = { .duty_cycle = 0.5, .slice_entries = 4 };
	struct storage_usage usage, throttled;
	struct truth truth;

	make_tree("tree");
	truth = truth_of("tree");
	assert_int_equal(measure_one("tree", &usage), 0);
	assert_int_equal(usage.bytes, truth.bytes);
	assert_int_equal(usage.entries, truth.entries);
	assert_int_equal(usage.errors, 0);
	assert_int_equal(usage.skipped_mounts, 0);
	assert_int_equal(usage.quota_paths, 0);
	/* More than 1 MB of data and a sparse file whose 10 MB are mostly holes. */
	assert_true(usage.bytes > 1000000 && usage.bytes < 5000000);

	const char *paths[] = { kept("tree") };

	assert_int_equal(storage_measure(paths, 1, &throttle, &throttled), 0);
	assert_memory_equal(&throttled, &usage, sizeof(usage));
}

static void test_hard_links(void **state)
{
	const char *both[] = { kept("links1"), kept("links2") };
	struct storage_usage one, two, together;
	struct truth truth;

	make_dir("links1");
	make_dir("links2");
	write_file("links1/data", 300000, 0);
	assert_int_equal(link(at("links1/data"), at("links1/again")), 0);
	assert_int_equal(link(at("links1/data"), at("links2/elsewhere")), 0);
	truth = truth_of("links1");
	assert_int_equal(measure_one("links1", &one), 0);
	assert_int_equal(one.bytes, truth.bytes);
	assert_true(one.bytes < 2 * 300000);
	assert_int_equal(measure_one("links2", &two), 0);
	assert_int_equal(two.bytes, truth_of("links2").bytes);

	/* Across two paths of one call: once. */
	truth = ground_truth(both, 2);
	assert_int_equal(storage_measure(both, 2, NULL, &together), 0);
	assert_int_equal(together.bytes, truth.bytes);
	assert_int_equal(together.bytes, one.bytes + two.bytes - blocks_of("links1/data"));
}

static void test_symlinks(void **state)
{
	struct storage_usage usage;
	uint64_t bytes;

	make_dir("outside");
	write_file("outside/big", 2000000, 0);
	make_dir("sym");
	assert_int_equal(symlink(at("outside/big"), at("sym/to-file")), 0);
	assert_int_equal(symlink(at("outside"), at("sym/to-dir")), 0);
	assert_int_equal(measure_one("sym", &usage), 0);
	assert_int_equal(usage.bytes, truth_of("sym").bytes);
	assert_int_equal(usage.entries, 3);
	assert_true(usage.bytes < 100000);

	/* The path itself, or a directory on the way to it. */
	assert_int_equal(symlink(at("sym"), at("sym-link")), 0);
	assert_int_equal(measure_one("sym-link", &usage), -ELOOP);
	assert_int_equal(usage.bytes, 0);
	assert_int_equal(symlink(base, at("base-link")), 0);
	assert_int_equal(measure_one("base-link/sym", &usage), -ELOOP);
	assert_int_equal(usage.bytes, 0);
	assert_int_equal(storage_project_bytes(at("sym-link"), &bytes), -ELOOP);
}

static void test_missing_path(void **state)
{
	const char *paths[] = { kept("missing"), kept("present") };
	struct storage_usage usage;

	assert_int_equal(measure_one("missing", &usage), 0);
	assert_int_equal(usage.bytes, 0);
	assert_int_equal(usage.entries, 0);
	assert_int_equal(usage.errors, 0);
	make_dir("present");
	write_file("present/f", 10000, 0);
	assert_int_equal(storage_measure(paths, 2, NULL, &usage), 0);
	assert_int_equal(usage.bytes, truth_of("present").bytes);
	assert_int_equal(storage_measure(paths, 0, NULL, &usage), 0);
	assert_int_equal(usage.bytes, 0);
}

static void test_not_a_directory(void **state)
{
	const char *paths[] = { kept("plain-file"), kept("beside") };
	struct storage_usage usage;

	write_file("plain-file", 10000, 0);
	make_dir("beside");
	write_file("beside/f", 20000, 0);
	assert_int_equal(measure_one("plain-file", &usage), -ENOTDIR);
	assert_int_equal(usage.bytes, 0);
	/* The other paths are measured all the same. */
	assert_int_equal(storage_measure(paths, 2, NULL, &usage), -ENOTDIR);
	assert_int_equal(usage.bytes, truth_of("beside").bytes);
}

static void test_overlapping_paths(void **state)
{
	const char *same[] = { kept("nest"), kept("nest") };
	const char *inner_first[] = { kept("nest/in"), kept("nest") };
	const char *outer_first[] = { kept("nest"), kept("nest/in/deeper/..") };
	struct storage_usage usage;
	struct truth truth;

	make_dir("nest");
	make_dir("nest/in");
	make_dir("nest/in/deeper");
	write_file("nest/in/deeper/f", 50000, 0);
	write_file("nest/g", 50000, 0);
	truth = truth_of("nest");
	assert_int_equal(storage_measure(same, 2, NULL, &usage), 0);
	assert_int_equal(usage.bytes, truth.bytes);
	assert_int_equal(storage_measure(inner_first, 2, NULL, &usage), 0);
	assert_int_equal(usage.bytes, truth.bytes);
	assert_int_equal(storage_measure(outer_first, 2, NULL, &usage), 0);
	assert_int_equal(usage.bytes, truth.bytes);
	assert_int_equal(usage.entries, truth.entries);
}

struct unreadable_result {
	int rc;
	int locked_rc;
	struct storage_usage usage;
	struct truth truth;
};

static void measure_unreadable(const char *dir, struct unreadable_result *result)
{
	char locked[PATH_MAX + 8];
	const char *paths[] = { dir };
	struct storage_usage ignored;

	format(locked, sizeof(locked), "%s/locked", dir);
	result->rc = storage_measure(paths, 1, NULL, &result->usage);
	paths[0] = locked;
	result->locked_rc = storage_measure(paths, 1, NULL, &ignored);
	paths[0] = dir;
	result->truth = ground_truth(paths, 1);
}

static void write_small(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "data", 4), 4);
	close(fd);
}

/* @dir/visible, and @dir/locked/hidden that only root can reach. */
static void make_locked_tree(const char *dir)
{
	char name[PATH_MAX + 32];

	format(name, sizeof(name), "%s/visible", dir);
	write_small(name);
	format(name, sizeof(name), "%s/locked", dir);
	assert_int_equal(mkdir(name, 0755), 0);
	format(name, sizeof(name), "%s/locked/hidden", dir);
	write_small(name);
	format(name, sizeof(name), "%s/locked", dir);
	assert_int_equal(chmod(name, 0), 0);
}

static void remove_locked_tree(const char *dir)
{
	char command[2 * PATH_MAX + 64];

	format(command, sizeof(command), "chmod 755 '%s/locked'; rm -rf '%s'", dir, dir);
	assert_int_equal(system(command), 0);
}

/* In a child that became nobody: root itself can read everything. */
static void measure_as_nobody(const char *dir, struct unreadable_result *result)
{
	int pipe_fds[2], status;
	pid_t child;

	assert_int_equal(pipe(pipe_fds), 0);
	child = fork();
	assert_true(child >= 0);
	if (!child) {
		close(pipe_fds[0]);
		if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
		    setresuid(NOBODY, NOBODY, NOBODY))
			_exit(2);
		measure_unreadable(dir, result);
		_exit(write(pipe_fds[1], result, sizeof(*result)) == sizeof(*result) ? 0 : 3);
	}
	close(pipe_fds[1]);
	assert_int_equal(read(pipe_fds[0], result, sizeof(*result)), sizeof(*result));
	close(pipe_fds[0]);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && !WEXITSTATUS(status));
}

static void test_unreadable_subdir(void **state)
{
	struct unreadable_result result = {0};
	char dir[PATH_MAX];

	/* Not under base (0700), which nobody could not enter. */
	format(dir, sizeof(dir), "/tmp/abusewatch-test-storage-open.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	make_locked_tree(dir);
	if (geteuid())
		measure_unreadable(dir, &result);
	else
		measure_as_nobody(dir, &result);
	remove_locked_tree(dir);
	/* The locked directory's own blocks are counted, not what it holds. */
	assert_int_equal(result.rc, 0);
	assert_int_equal(result.usage.errors, 1);
	assert_int_equal(result.usage.bytes, result.truth.bytes);
	assert_int_equal(result.usage.entries, result.truth.entries);
	assert_int_equal(result.locked_rc, -EACCES);
}

static void test_mount_point(void **state)
{
	struct storage_usage usage;
	struct truth truth;
	uint64_t bind_blocks;

	if (geteuid()) {
		print_message("skipped: mounting needs root\n");
		skip();
	}
	make_dir("mnt");
	make_dir("mnt/point");
	make_dir("mnt/bind");
	make_dir("bind-source");
	write_file("mnt/f", 30000, 0);
	write_file("bind-source/f", 400000, 0);
	if (mount("storage-test", at("mnt/point"), "tmpfs", 0, "size=4m")) {
		print_message("skipped: cannot mount a tmpfs: %s\n", strerror(errno));
		skip();
	}
	write_file("mnt/point/inside", 500000, 0);
	truth = truth_of("mnt");	/* FTW_MOUNT: neither is the mount point itself counted */
	bind_blocks = blocks_of("mnt/bind");
	if (mount(at("bind-source"), at("mnt/bind"), "none", MS_BIND, NULL)) {
		print_message("no bind mount: %s\n", strerror(errno));
		bind_blocks = 0;
	}
	assert_int_equal(measure_one("mnt", &usage), 0);
	/* A bind mount of the same file system is another mount all the same. */
	assert_int_equal(usage.skipped_mounts, bind_blocks ? 2 : 1);
	assert_int_equal(usage.bytes, truth.bytes - bind_blocks);
	assert_int_equal(usage.errors, 0);
	/* A mount point given as the path is measured in its own file system. */
	assert_int_equal(measure_one("mnt/point", &usage), 0);
	assert_int_equal(usage.bytes, truth_of("mnt/point").bytes);
	assert_true(usage.bytes >= 500000);
	assert_int_equal(usage.skipped_mounts, 0);
	umount2(at("mnt/bind"), MNT_DETACH);
	assert_int_equal(umount2(at("mnt/point"), MNT_DETACH), 0);
}

static void test_deep_tree(void **state)
{
	struct storage_usage usage;
	struct truth truth;
	int fd, next, i;

	make_dir("deep");
	fd = open(at("deep"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	for (i = 0; i < DEEP_LEVELS; i++) {
		assert_int_equal(mkdirat(fd, "d", 0755), 0);
		next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(next >= 0);
		close(fd);
		fd = next;
	}
	next = openat(fd, "bottom", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(next >= 0);
	assert_int_equal(write(next, "x", 1), 1);
	close(next);
	close(fd);
	truth = truth_of("deep");
	assert_int_equal(measure_one("deep", &usage), 0);
	/* One directory not entered; the levels above it are all counted. */
	assert_int_equal(usage.errors, 1);
	assert_true(usage.entries >= 1024 && usage.entries < truth.entries);
	assert_true(usage.bytes > 0 && usage.bytes < truth.bytes);
}

static bool is_quota_error(int err)
{
	return err == -ENOSYS || err == -ENOTSUP || err == -ESRCH || err == -EINVAL ||
	       err == -EPERM || err == -ENOENT;
}

static void test_project_bytes(void **state)
{
	struct storage_usage usage;
	struct fsxattr attr;
	uint64_t bytes = 0;
	int err, fd;

	make_dir("plain");
	write_file("plain/f", 10000, 0);
	err = storage_project_bytes(at("plain"), &bytes);
	assert_true(err == -ENODATA || is_quota_error(err) || !err);
	assert_int_equal(storage_project_bytes(at("no-such-dir"), &bytes), -ENOENT);
	write_file("not-a-dir", 1, 0);
	assert_int_equal(storage_project_bytes(at("not-a-dir"), &bytes), -ENOTDIR);

	/* With a project id: the quota if the kernel keeps one, else a walk all the same. */
	make_dir("project");
	write_file("project/f", 70000, 0);
	fd = open(at("project"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	err = ioctl(fd, FS_IOC_FSGETXATTR, &attr);
	if (!err) {
		attr.fsx_projid = 4242;
		attr.fsx_xflags |= FS_XFLAG_PROJINHERIT;
		err = ioctl(fd, FS_IOC_FSSETXATTR, &attr);
	}
	close(fd);
	if (err) {
		print_message("no project id here (%s): the quota path is not tried\n",
			      strerror(errno));
		return;
	}
	err = storage_project_bytes(at("project"), &bytes);
	assert_int_not_equal(err, -ENODATA);
	assert_int_equal(measure_one("project", &usage), 0);
	if (err) {
		print_message("project id set; no project quota (%s): walked\n", strerror(-err));
		assert_int_equal(usage.quota_paths, 0);
		assert_int_equal(usage.bytes, truth_of("project").bytes);
	} else {
		assert_int_equal(usage.quota_paths, 1);
		assert_int_equal(usage.bytes, bytes);
	}
}

static void make_big_tree(void)
{
	static bool made;
	char name[64];
	int dir, i;

	if (made)
		return;
	make_dir("big");
	for (dir = 0; dir < BIG_TREE_DIRS; dir++) {
		format(name, sizeof(name), "big/d%d", dir);
		make_dir(name);
		for (i = 0; i < BIG_TREE_FILES; i++) {
			format(name, sizeof(name), "big/d%d/f%d", dir, i);
			write_file(name, i % 7 ? 0 : 100, 0);
		}
	}
	made = true;
}

static void *stop_soon(void *arg)
{
	struct timespec delay = { .tv_nsec = 50 * 1000 * 1000 };

	nanosleep(&delay, NULL);
	*(volatile bool *)arg = true;
	return NULL;
}

static void test_throttle(void **state)
{
	const char *paths[] = { kept("big") };
	volatile bool stop = true;
	struct storage_throttle throttle = { .stop = &stop };
	struct storage_usage usage, free_run;
	double cpu, wall;
	struct timespec cpu_start, cpu_end;
	pthread_t stopper;

	if (quick()) {
		print_message("skipped: STORAGE_TEST_QUICK\n");
		skip();
	}
	make_big_tree();
	assert_int_equal(storage_measure(paths, 1, &throttle, &usage), -ECANCELED);
	assert_int_equal(usage.bytes, 0);

	stop = false;
	assert_int_equal(storage_measure(paths, 1, NULL, &free_run), 0);
	assert_int_equal(free_run.entries, 1 + BIG_TREE_DIRS * (1 + BIG_TREE_FILES));

	/* On CPU a quarter of the time: the walk lasts about four times its CPU time. */
	throttle.duty_cycle = 0.25;
	throttle.slice_entries = 256;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_start);
	wall = now_seconds();
	assert_int_equal(storage_measure(paths, 1, &throttle, &usage), 0);
	wall = now_seconds() - wall;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_end);
	cpu = cpu_end.tv_sec - cpu_start.tv_sec + (cpu_end.tv_nsec - cpu_start.tv_nsec) / 1e9;
	print_message("throttled walk: %.3f s CPU in %.3f s\n", cpu, wall);
	assert_int_equal(usage.bytes, free_run.bytes);
	assert_true(wall >= 0.7 * cpu / 0.25);

	/* Stopped from another thread while it pauses. */
	throttle.duty_cycle = 0.01;
	assert_int_equal(pthread_create(&stopper, NULL, stop_soon, (void *)&stop), 0);
	wall = now_seconds();
	assert_int_equal(storage_measure(paths, 1, &throttle, &usage), -ECANCELED);
	wall = now_seconds() - wall;
	pthread_join(stopper, NULL);
	assert_true(usage.entries < free_run.entries);
	assert_true(wall < 1.0);
}

static void test_scanner(void **state)
{
	const char *alpha_paths[] = { kept("scan-a"), kept("scan-b") };
	const char *beta_paths[] = { kept("scan-c") };
	struct storage_options options = { .interval_s = 3600, .cpu_budget = 1, .duty_cycle = 1 };
	struct storage_target targets[] = {
		{ .tenant = "beta", .paths = beta_paths, .path_count = 1 },
		{ .tenant = "alpha", .paths = alpha_paths, .path_count = 2 },
	};
	struct storage_scanner *scanner;
	struct storage_usage usage;
	struct storage_stats stats;
	uint64_t bytes = 0, passes;
	double deadline;
	int err;

	make_dir("scan-a");
	make_dir("scan-b");
	make_dir("scan-c");
	write_file("scan-a/f", 40000, 0);
	write_file("scan-b/f", 80000, 0);
	assert_int_equal(link(at("scan-a/f"), at("scan-b/link")), 0);
	write_file("scan-c/f", 120000, 0);

	scanner = storage_scanner_new(&options);
	assert_non_null(scanner);
	assert_int_equal(storage_scanner_get(scanner, "alpha", &bytes), -ENOENT);
	assert_int_equal(storage_scanner_wait(scanner, 1), 0);
	assert_int_equal(storage_scanner_set_targets(scanner, targets, 2), 0);
	err = storage_scanner_get(scanner, "alpha", &bytes);
	assert_true(err == -EAGAIN || err == 0);
	assert_int_equal(storage_scanner_get(scanner, "nobody", &bytes), -ENOENT);

	assert_int_equal(storage_scanner_wait(scanner, 10), 0);
	assert_int_equal(storage_measure(alpha_paths, 2, NULL, &usage), 0);
	assert_int_equal(storage_scanner_get(scanner, "alpha", &bytes), 0);
	assert_int_equal(bytes, usage.bytes);
	assert_int_equal(storage_measure(beta_paths, 1, NULL, &usage), 0);
	assert_int_equal(storage_scanner_get(scanner, "beta", &bytes), 0);
	assert_int_equal(bytes, usage.bytes);
	storage_scanner_stats(scanner, &stats);
	assert_true(stats.passes >= 2);
	assert_true(stats.entries >= 7);
	assert_true(stats.cpu_seconds >= 0);

	/* A change shows after the next pass, which wait asks for. */
	write_file("scan-c/f", 300000, O_APPEND);
	assert_int_equal(storage_scanner_wait(scanner, 10), 0);
	assert_int_equal(storage_measure(beta_paths, 1, NULL, &usage), 0);
	assert_int_equal(storage_scanner_get(scanner, "beta", &bytes), 0);
	assert_int_equal(bytes, usage.bytes);
	assert_true(bytes >= 420000);
	storage_scanner_stats(scanner, &stats);
	assert_true(stats.passes >= 4);

	/* Kept with the same paths: the figure stays; removed: gone. */
	assert_int_equal(storage_scanner_set_targets(scanner, &targets[1], 1), 0);
	assert_int_equal(storage_scanner_get(scanner, "beta", &bytes), -ENOENT);
	assert_int_equal(storage_scanner_get(scanner, "alpha", &bytes), 0);
	assert_int_equal(storage_measure(alpha_paths, 2, NULL, &usage), 0);
	assert_int_equal(bytes, usage.bytes);

	/* Other paths: measured afresh. */
	targets[1].path_count = 1;
	assert_int_equal(storage_scanner_set_targets(scanner, &targets[1], 1), 0);
	err = storage_scanner_get(scanner, "alpha", &bytes);
	assert_true(err == -EAGAIN || err == 0);
	assert_int_equal(storage_scanner_wait(scanner, 10), 0);
	assert_int_equal(storage_measure(alpha_paths, 1, NULL, &usage), 0);
	assert_int_equal(storage_scanner_get(scanner, "alpha", &bytes), 0);
	assert_int_equal(bytes, usage.bytes);

	/* A short interval: passes come on their own. */
	storage_scanner_stats(scanner, &stats);
	passes = stats.passes;
	options.interval_s = 0.02;
	storage_scanner_set_options(scanner, &options);
	/* At idle priority: on a busy machine, it may take a while. */
	deadline = now_seconds() + 10;
	do {
		usleep(20 * 1000);
		storage_scanner_stats(scanner, &stats);
	} while (stats.passes < passes + 2 && now_seconds() < deadline);
	assert_true(stats.passes >= passes + 2);

	assert_int_equal(storage_scanner_set_targets(scanner, NULL, 0), 0);
	assert_int_equal(storage_scanner_get(scanner, "alpha", &bytes), -ENOENT);
	assert_int_equal(storage_scanner_wait(scanner, 1), 0);
	storage_scanner_free(scanner);
	storage_scanner_free(NULL);
}

static size_t count_in(const char *text, const char *needle)
{
	size_t count = 0;

	for (text = strstr(text, needle); text; text = strstr(text + 1, needle))
		count++;
	return count;
}

/* Problems are logged when they appear and when they go, not at each pass. */
static void test_scanner_reports_once(void **state)
{
	const char *paths[] = {
		kept("rep/link"), kept("rep/missing"), kept("rep/file"), kept("rep/ok"),
	};
	struct storage_options options = { .interval_s = 3600, .cpu_budget = 1, .duty_cycle = 1 };
	struct storage_target target = { .tenant = "gamma", .paths = paths, .path_count = 4 };
	struct storage_scanner *scanner;
	char log_path[PATH_MAX + 16], text[16384];
	enum log_level level = log_get_level();
	int log_fd, saved_stderr;
	ssize_t length;

	make_dir("rep");
	make_dir("rep/ok");
	make_dir("rep/ok/private-name-below-the-root");
	write_file("rep/ok/private-name-below-the-root/private-file", 1000, 0);
	make_dir("rep/target");
	assert_int_equal(symlink(at("rep/target"), at("rep/link")), 0);
	write_file("rep/file", 10, 0);

	format(log_path, sizeof(log_path), "%s/log", base);
	log_fd = open(log_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(log_fd >= 0);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_int_equal(dup2(log_fd, STDERR_FILENO), STDERR_FILENO);
	log_set_level(LOG_LEVEL_DEBUG);

	scanner = storage_scanner_new(&options);
	assert_non_null(scanner);
	assert_int_equal(storage_scanner_set_targets(scanner, &target, 1), 0);
	assert_int_equal(storage_scanner_wait(scanner, 10), 0);
	assert_int_equal(storage_scanner_wait(scanner, 10), 0);
	assert_int_equal(storage_scanner_set_targets(scanner, &target, 1), 0);
	assert_int_equal(storage_scanner_wait(scanner, 10), 0);
	assert_int_equal(unlink(at("rep/link")), 0);
	make_dir("rep/link");
	make_dir("rep/missing");
	assert_int_equal(storage_scanner_wait(scanner, 10), 0);
	assert_int_equal(storage_scanner_wait(scanner, 10), 0);
	storage_scanner_free(scanner);

	log_set_level(level);
	fflush(stderr);
	assert_int_equal(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	length = pread(log_fd, text, sizeof(text) - 1, 0);
	close(log_fd);
	assert_true(length > 0);
	text[length] = '\0';
	assert_int_equal(count_in(text, "is a symlink, not followed"), 1);
	assert_int_equal(count_in(text, "does not exist yet: counted as 0"), 1);
	assert_int_equal(count_in(text, "is not a directory"), 1);
	assert_int_equal(count_in(text, "readable again"), 1);
	assert_int_equal(count_in(text, "exists now"), 1);
	assert_int_equal(count_in(text, " warn "), 2);
	assert_int_equal(count_in(text, "private"), 0);
}

static void test_scanner_free_during_pass(void **state)
{
	const char *paths[] = { kept("big") };
	struct storage_options options = { .duty_cycle = 0.01 };
	struct storage_target target = { .tenant = "big", .paths = paths, .path_count = 1 };
	struct timespec delay = { .tv_nsec = 100 * 1000 * 1000 };
	struct storage_scanner *scanner;
	struct storage_stats stats;
	uint64_t bytes;
	double start;

	if (quick()) {
		print_message("skipped: STORAGE_TEST_QUICK\n");
		skip();
	}
	make_big_tree();
	scanner = storage_scanner_new(&options);
	assert_non_null(scanner);
	assert_int_equal(storage_scanner_set_targets(scanner, &target, 1), 0);
	nanosleep(&delay, NULL);
	storage_scanner_stats(scanner, &stats);
	assert_int_equal(stats.passes, 0);
	assert_int_equal(storage_scanner_get(scanner, "big", &bytes), -EAGAIN);
	start = now_seconds();
	storage_scanner_free(scanner);
	assert_true(now_seconds() - start < 2.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tree),
	    cmocka_unit_test(test_hard_links),
	    cmocka_unit_test(test_symlinks),
	    cmocka_unit_test(test_missing_path),
	    cmocka_unit_test(test_not_a_directory),
	    cmocka_unit_test(test_overlapping_paths),
	    cmocka_unit_test(test_unreadable_subdir),
	    cmocka_unit_test(test_mount_point),
	    cmocka_unit_test(test_deep_tree),
	    cmocka_unit_test(test_project_bytes),
	    cmocka_unit_test(test_throttle),
	    cmocka_unit_test(test_scanner),
	    cmocka_unit_test(test_scanner_reports_once),
	    cmocka_unit_test(test_scanner_free_during_pass),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
