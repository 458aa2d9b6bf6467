// SPDX-License-Identifier: GPL-2.0
/*
 * attach_empty [--no-stats] OBJECT CGROUP_V2_ROOT [SECONDS [PROGRAM...]]: loads the empty
 * programs of OBJECT (build/bench/empty.bpf.o), attaches each (or only those
 * named) to its hook (the cgroup programs to CGROUP_V2_ROOT, beside whatever
 * else is attached there), prints
 * "PROG_ID NAME" for each on stdout and "attached N programs" on stderr, and
 * stays attached until SIGTERM or SIGINT, until its stdin reaches end of file
 * (so that a caller that dies, even by SIGKILL, takes it along when it holds
 * the other end of a pipe), or after SECONDS (default 600, at most 3600).
 * Then it detaches everything and exits 0.
 *
 * While attached it also holds a BPF_ENABLE_STATS descriptor: run-time
 * statistics stay on even if someone else writes 0 to
 * kernel.bpf_stats_enabled meanwhile (both are reference counts in the
 * kernel), so the bench's figures are not silently cut short. Not with
 * --no-stats: throughput with only the empty programs attached is then
 * timed without the statistics' clock reads on every run of every program.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define MAX_LINKS 24
#define DEFAULT_SECONDS 600
#define MAX_SECONDS 3600

static int usage(void)
{
	fprintf(stderr,
		"usage: attach_empty [--no-stats] OBJECT CGROUP_V2_ROOT [SECONDS [PROGRAM...]]\n"
		"  attaches every program of OBJECT (or only those named) until\n"
		"  SIGTERM/SIGINT, end of stdin or SECONDS (default %d, at most %d);\n"
		"  keeps run-time statistics on meanwhile, unless --no-stats\n"
		"example: attach_empty build/bench/empty.bpf.o /sys/fs/cgroup/unified <pipe\n",
		DEFAULT_SECONDS, MAX_SECONDS);
	return 2;
}

static int print_libbpf(enum libbpf_print_level level, const char *format, va_list args)
{
	/* libbpf's debug chatter would bury the one line that matters. */
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, format, args);
}

static bool is_cgroup_program(const struct bpf_program *prog)
{
	switch (bpf_program__type(prog)) {
	case BPF_PROG_TYPE_CGROUP_SKB:
	case BPF_PROG_TYPE_CGROUP_SOCK:
	case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
	case BPF_PROG_TYPE_CGROUP_SOCKOPT:
	case BPF_PROG_TYPE_CGROUP_DEVICE:
	case BPF_PROG_TYPE_CGROUP_SYSCTL:
		return true;
	default:
		return false;
	}
}

/* Is @prog among the @count names of @names (every program when @count is 0)? */
static bool is_wanted(const struct bpf_program *prog, char **names, int count)
{
	int i;

	for (i = 0; i < count; i++)
		if (!strcmp(bpf_program__name(prog), names[i]))
			return true;
	return !count;
}

/* Prints "PROG_ID NAME" of @prog; 0 or -errno. */
static int print_id(const struct bpf_program *prog)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int err;

	err = bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len);
	if (err)
		return err;
	printf("%u %s\n", info.id, bpf_program__name(prog));
	return 0;
}

/*
 * Waits for a reason to stop: a signal on @sigfd, end of file (or an error)
 * on stdin, or @seconds passing. Returns a word saying which.
 */
static const char *wait_for_stop(int sigfd, int seconds)
{
	struct pollfd fds[2] = {
		{ .fd = sigfd, .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	struct signalfd_siginfo info;
	char buf[256];
	ssize_t n;
	int ret;

	for (;;) {
		ret = poll(fds, 2, seconds * 1000);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return "poll failed";
		if (ret == 0)
			return "time limit";
		if (fds[0].revents & POLLIN) {
			if (read(sigfd, &info, sizeof(info)) == sizeof(info))
				return strsignal(info.ssi_signo);
			return "signal";
		}
		if (fds[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
			/* Whatever is written is ignored; only the end counts. */
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0 || (fds[1].revents & POLLNVAL))
				return "end of stdin";
		}
	}
}

int main(int argc, char **argv)
{
	struct bpf_link *links[MAX_LINKS];
	struct bpf_object *obj = NULL;
	struct bpf_program *prog;
	int nlinks = 0, cgfd = -1, sigfd = -1, statsfd = -1, seconds = DEFAULT_SECONDS;
	bool stats = true;
	int ret = 1, wanted, err, i;
	const char *why;
	sigset_t mask;
	char *rest;

	if (argc > 1 && !strcmp(argv[1], "--no-stats")) {
		stats = false;
		argc--;
		argv++;
	}
	if (argc < 3)
		return usage();
	if (argc >= 4) {
		seconds = (int)strtol(argv[3], &rest, 10);
		if (rest == argv[3] || *rest || seconds < 1 || seconds > MAX_SECONDS)
			return usage();
	}
	libbpf_set_print(print_libbpf);

	/*
	 * Signals are read from a descriptor, so that the detach always runs.
	 * A shell starts background commands with SIGINT ignored, and an
	 * ignored signal is dropped even while blocked: back to the default
	 * first.
	 */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) ||
	    (sigfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "attach_empty: signalfd: %s\n", strerror(errno));
		return 1;
	}
	/* Best effort: the caller's sysctl is what normally turns stats on. */
	if (stats)
		statsfd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats && statsfd < 0)
		fprintf(stderr, "attach_empty: BPF_ENABLE_STATS: %s (relying on the sysctl)\n",
			strerror(-statsfd));

	cgfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		fprintf(stderr, "attach_empty: open %s: %s\n", argv[2], strerror(errno));
		goto out;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "attach_empty: open %s: %s\n", argv[1], strerror(errno));
		goto out;
	}
	/* Programs not asked for are not even loaded. */
	wanted = argc > 4 ? argc - 4 : 0;
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, is_wanted(prog, argv + 4, wanted));
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "attach_empty: load %s: %s\n", argv[1], strerror(-err));
		goto out;
	}
	bpf_object__for_each_program(prog, obj) {
		struct bpf_link *link;

		if (!bpf_program__autoload(prog))
			continue;
		if (nlinks == MAX_LINKS) {
			fprintf(stderr, "attach_empty: more than %d programs\n", MAX_LINKS);
			goto out;
		}
		/*
		 * A cgroup link is always a multi-attachment (BPF_F_ALLOW_MULTI):
		 * it runs beside the agent's programs, and goes when this process
		 * does, however it ends.
		 */
		if (is_cgroup_program(prog))
			link = bpf_program__attach_cgroup(prog, cgfd);
		else
			link = bpf_program__attach(prog);
		if (!link) {
			fprintf(stderr, "attach_empty: attach %s: %s\n",
				bpf_program__name(prog), strerror(errno));
			goto out;
		}
		links[nlinks++] = link;
		err = print_id(prog);
		if (err) {
			fprintf(stderr, "attach_empty: id of %s: %s\n",
				bpf_program__name(prog), strerror(-err));
			goto out;
		}
	}
	if (wanted && nlinks != wanted) {
		fprintf(stderr, "attach_empty: %d of the %d programs named are not in %s\n",
			wanted - nlinks, wanted, argv[1]);
		goto out;
	}
	fflush(stdout);
	fprintf(stderr, "attached %d programs\n", nlinks);

	why = wait_for_stop(sigfd, seconds);
	fprintf(stderr, "attach_empty: %s: detaching\n", why);
	ret = 0;
out:
	for (i = nlinks - 1; i >= 0; i--)
		bpf_link__destroy(links[i]);
	bpf_object__close(obj);
	if (cgfd >= 0)
		close(cgfd);
	if (statsfd >= 0)
		close(statsfd);
	close(sigfd);
	return ret;
}
