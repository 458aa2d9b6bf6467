// SPDX-License-Identifier: GPL-2.0
/*
 * Skeleton lifecycle for the usage, network and software probes: open,
 * choose the CPU accounting path, load, attach; then batched reads of their
 * maps and the event streams.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "pins.h"
#include "probes.h"
#include "software_builtin.h"
#include "wire.h"
#include "usage.skel.h"
#include "net.skel.h"
#include "software.skel.h"
#include "sockets.skel.h"

/* pidfd_open() flag for a thread rather than a process (6.9+). */
#define PIDFD_THREAD_FLAG O_EXCL
#define READ_BATCH 256
/*
 * Looks at a CPU slot before giving up on it for this read: a batch moves
 * in well under a microsecond, unless the connect() call or the cgroup_skb
 * program moving it was preempted.
 */
#define SLOT_READ_ATTEMPTS 1000
/* Links of all the objects: one per program. */
#define MAX_LINKS 32

_Static_assert(sizeof(struct cpu_slot) == 64 && sizeof(struct bio_slot) == 64 &&
		   sizeof(struct skb_slot) == 64 && sizeof(struct connect_slot) == 64,
	       "a CPU slot is one cache line");

enum slot_kind {
	SLOT_CPU,
	SLOT_BIO,
	SLOT_SKB,
	SLOT_CONNECT,
	SLOT_KINDS,
};

/* A CPU slot's batch as read at one moment (see struct cpu_slot in usage.h). */
struct slot_batch {
	uint64_t id;
	uint64_t flushes;
	struct pending_usage usage;
};

/* What probes_mark_pending() saw in a slot. */
struct slot_mark {
	bool known;		/* read consistently */
	uint64_t id;		/* 0: no batch, or an empty one */
	uint64_t flushes;
};

struct probes {
	struct usage_bpf *usage;
	struct net_bpf *net;
	struct software_bpf *software;
	struct sockets_bpf *sockets;
	/*
	 * The links this agent holds, one per program but those kept pinned
	 * (NULL): closing them at exit detaches only the ones not pinned.
	 */
	struct bpf_link *links[MAX_LINKS];
	size_t link_count;
	struct pins *pins;	/* NULL: nothing pinned, the probes go with the agent */
	bool resumed;		/* the pinned maps were taken up: counts go on */
	bool pinned;		/* every pin and the stamp are in place */
	/*
	 * count_direct_tx (PACKET_QDISC_BYPASS frames, on sock_send_length):
	 * loaded, attached only once a tenant sets a packet socket to bypass
	 * the qdisc (attach_direct_tx()). @direct_tx_pinned: the last agent's
	 * pins had it attached; @direct_tx_on: attached (or kept pinned) now.
	 */
	bool direct_tx_pinned;
	bool direct_tx_on;
	struct ring_buffer *events;
	/*
	 * The software ring buffer's consumer and producer positions, mapped
	 * read-only (two pages): whether records are still there, written
	 * or being written, after a drain.
	 */
	void *software_positions;
	size_t software_positions_size;
	/* Drains in a row that found nothing, while the exec probe does not wake us. */
	unsigned int empty_drains;
	cgroup_event_fn on_event;
	connect_event_fn on_connect;
	software_event_fn on_software;
	raw_socket_event_fn on_raw_socket;
	wire_event_fn on_wire;
	void *ctx;
	int possible_cpus;
	int v2_root_fd;		/* for cgroup.controllers */
	int slot_cpus;		/* slots in use: possible CPUs, at most AW_MAX_CPUS */
	struct slot_mark *marks;	/* SLOT_KINDS x slot_cpus */
	__u64 keys[READ_BATCH];
	struct cgroup_usage usage_values[READ_BATCH];
	struct net_usage *net_values;	/* READ_BATCH x possible CPUs */
};

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	enum log_level ours = level == LIBBPF_WARN ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG;
	char text[8192], *line, *saveptr = NULL;

	if (level == LIBBPF_DEBUG && log_get_level() < LOG_LEVEL_DEBUG)
		return 0;
	vsnprintf(text, sizeof(text), fmt, args);
	/* Verifier logs come as one multi-line message: keep one line per line. */
	for (line = strtok_r(text, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr))
		log_message(ours, "libbpf: %s",
			    strncmp(line, "libbpf: ", 8) ? line : line + 8);
	return 0;
}

static int handle_cgroup_event(void *ctx, void *data, size_t size)
{
	struct probes *probes = ctx;

	if (size < sizeof(struct cgroup_event))
		return 0;
	probes->on_event(data, probes->ctx);
	return 0;
}

static int handle_connect_event(void *ctx, void *data, size_t size)
{
	struct probes *probes = ctx;

	if (size < sizeof(struct connect_event) || !probes->on_connect)
		return 0;
	probes->on_connect(data, probes->ctx);
	return 0;
}

static int handle_software_event(void *ctx, void *data, size_t size)
{
	struct probes *probes = ctx;
	struct software_event older;

	if (!probes->on_software)
		return 0;
	/*
	 * A record of the probe of before the ancestors (queued while no agent
	 * ran, taken up by this one after an upgrade): read without them.
	 */
	if (size >= offsetof(struct software_event, ancestors) &&
	    size < sizeof(struct software_event)) {
		memset(&older, 0, sizeof(older));
		memcpy(&older, data, offsetof(struct software_event, ancestors));
		probes->on_software(&older, probes->ctx);
		return 0;
	}
	if (size < sizeof(struct software_event))
		return 0;
	probes->on_software(data, probes->ctx);
	return 0;
}

static int handle_wire_event(void *ctx, void *data, size_t size)
{
	struct probes *probes = ctx;

	if (size < sizeof(struct wire_event) || !probes->on_wire)
		return 0;
	probes->on_wire(data, probes->ctx);
	return 0;
}

static void attach_direct_tx(struct probes *probes, const char *why);

static int handle_raw_socket_event(void *ctx, void *data, size_t size)
{
	struct probes *probes = ctx;
	const struct raw_socket_event *event = data;
	char why[128];

	if (size < sizeof(struct raw_socket_event))
		return 0;
	if (event->hook == RAW_SOCKET_QDISC_BYPASS) {
		snprintf(why, sizeof(why), "pid %u of cgroup %llu set a packet socket to "
			 "PACKET_QDISC_BYPASS", event->pid, (unsigned long long)event->cgroup_id);
		attach_direct_tx(probes, why);
		return 0;
	}
	if (!probes->on_raw_socket)
		return 0;
	probes->on_raw_socket(data, probes->ctx);
	return 0;
}

/* Turns a load or attach failure into the reason an operator needs. */
static void explain_failure(int err, const char *step, char *why, size_t whylen)
{
	if (geteuid() != 0)
		snprintf(why, whylen,
			 "not root: loading probes needs root (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN)");
	else if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
		snprintf(why, whylen,
			 "the kernel has no BTF (/sys/kernel/btf/vmlinux is missing; needs CONFIG_DEBUG_INFO_BTF)");
	else if (err == -EPERM)
		snprintf(why, whylen,
			 "%s: %s: missing capability, or BPF is restricted (lockdown, a seccomp filter or a container)",
			 step, strerror(-err));
	else if (err == -EACCES)
		snprintf(why, whylen,
			 "%s: the kernel's verifier rejected a program (its log is above; this kernel is too old or differs)",
			 step);
	else
		snprintf(why, whylen, "%s: %s: the kernel is too old or lacks a needed feature",
			 step, strerror(-err));
}

/*
 * The markers go in as read-only data with their filters (software_events.h),
 * so that the search rules out almost every position with one lookup: one
 * for every exec, one for modprobe's and insmod's.
 */
static int set_markers(struct software_bpf *software, const struct argv_marker *markers,
		       size_t count)
{
	int err;

	err = software_argv_filter(markers, count, false, &software->rodata->targ_argv);
	if (err)
		return err;
	return software_argv_filter(markers, count, true, &software->rodata->targ_argv_modprobe);
}

/* The stratum markers' filter (data/network/stratum_markers.txt), as read-only data. */
static int set_stratum_markers(struct net_bpf *net)
{
	const struct wire_marker *markers;
	__u32 methods;
	size_t count;
	int err;

	markers = wire_stratum_markers(&count);
	err = wire_stratum_filter(markers, count, &net->rodata->targ_stratum, &methods);
	if (err)
		return err;
	net->rodata->targ_stratum_methods = methods;
	return 0;
}

/* The pool-domain suffixes' bitmaps, the probe's filters before its map (wire_events.h). */
static void set_pool_suffix_bits(struct net_bpf *net)
{
	const char *const *domains;
	size_t count;

	domains = wire_pool_domains(&count);
	wire_suffix_bits(domains, count, (__u64 *)net->rodata->targ_suffix_bits);
	net->rodata->targ_dns_tail_short =
		wire_dns_tail_bits(domains, count, (__u64 *)net->rodata->targ_dns_tail_bits);
}

/*
 * The pool-domain suffixes (data/network/pool_domains.txt) into the
 * egress probe's map, and out of it any that a pinned map kept from
 * another list (an upgrade). 0 or -errno.
 */
static int load_pool_suffixes(struct net_bpf *net)
{
	int fd = bpf_map__fd(net->maps.pool_suffixes);
	struct pool_suffix_key key, next, wanted;
	const char *const *domains;
	bool have_key = false;
	size_t count, i;
	__u32 index;

	domains = wire_pool_domains(&count);
	for (i = 0; i < count; i++) {
		wire_suffix_key(domains[i], &key);
		index = (__u32)i;
		if (bpf_map_update_elem(fd, &key, &index, BPF_ANY))
			return -errno;
	}
	/* Entries of no line, or of another line than their index says: out. */
	while (!bpf_map_get_next_key(fd, have_key ? &key : NULL, &next)) {
		have_key = true;
		key = next;
		if (bpf_map_lookup_elem(fd, &next, &index))
			continue;
		if (index < count) {
			wire_suffix_key(domains[index], &wanted);
			if (!memcmp(&wanted, &next, sizeof(next)))
				continue;
		}
		bpf_map_delete_elem(fd, &next);
		/* Iteration goes on from the start: it only passes the kept keys again. */
		have_key = false;
	}
	return 0;
}

/* Pins or not, the way a start takes up what the last agent left: said once, in the log. */
static void report_pins(const struct probes *probes, enum pins_mode mode, const char *dir,
			const char *why)
{
	if (mode == PINS_KEEP)
		pr_info("restart: the probes pinned in %s counted while the agent was stopped; "
			"counters go on", dir);
	else if (mode == PINS_REPLACE)
		pr_info("restart: new probe programs on the maps pinned in %s; counters go on", dir);
	else if (why[0])
		pr_warn("restart: %s: the probes start clean, counters start from zero "
			"(usage while the agent was stopped is not counted)", why);
	else
		pr_info("probes pinned in %s: they go on counting across restarts", dir);
}

/*
 * Points the objects at their pins in @options->pin_dir, and decides what
 * of the pinned ones to take up (@instance: the restart state's). Without
 * pins the probes live as long as the agent, as they always could.
 */
static void prepare_pins(struct probes *probes, const struct probes_options *options,
			 const uint8_t *instance)
{
	const void *usage_elf, *net_elf, *software_elf, *sockets_elf;
	size_t usage_size, net_size, software_size, sockets_size;
	enum pins_mode mode;
	char why[PATH_MAX + 128];

	if (!options->pin_dir)
		return;
	probes->pins = pins_open(options->pin_dir, why, sizeof(why));
	if (!probes->pins) {
		pr_warn("the probes are not pinned (%s): a restart will start clean", why);
		return;
	}
	usage_elf = usage_bpf__elf_bytes(&usage_size);
	net_elf = net_bpf__elf_bytes(&net_size);
	software_elf = software_bpf__elf_bytes(&software_size);
	sockets_elf = sockets_bpf__elf_bytes(&sockets_size);
	if (pins_add_object(probes->pins, probes->usage->obj, "usage", usage_elf, usage_size) ||
	    pins_add_object(probes->pins, probes->net->obj, "net", net_elf, net_size) ||
	    pins_add_object(probes->pins, probes->software->obj, "software", software_elf,
			    software_size) ||
	    pins_add_object(probes->pins, probes->sockets->obj, "sockets", sockets_elf,
			    sockets_size)) {
		pins_close(probes->pins);
		probes->pins = NULL;
		return;
	}
	/* A clean start removes the pins: whether the last agent had attached it, asked first. */
	probes->direct_tx_pinned = bpf_program__autoload(probes->net->progs.count_direct_tx) &&
				   pins_has_link(probes->pins, probes->net->obj,
						 probes->net->progs.count_direct_tx);
	mode = pins_decide(probes->pins, instance, why, sizeof(why));
	report_pins(probes, mode, options->pin_dir, why);
	probes->resumed = mode != PINS_CLEAN;
}

/*
 * Attaches (or keeps) every program of @object, its links added to the
 * agent's; @deferred (NULL: none) only if an earlier agent attached it.
 */
static int attach_object(struct probes *probes, struct bpf_object *object,
			 const struct bpf_program *deferred)
{
	size_t count = 0;
	int err;

	err = pins_attach(probes->pins, object, probes->v2_root_fd, deferred,
			  probes->links + probes->link_count, MAX_LINKS - probes->link_count,
			  &count);
	probes->link_count += count;
	return err;
}

/*
 * count_direct_tx runs after every sendmsg() of the host (tp_btf/
 * sock_send_length), which costs every UDP sender a few percent of its
 * throughput, for frames that only packet sockets with PACKET_QDISC_BYPASS
 * send (CAP_NET_RAW and a setsockopt() needed). So it is loaded at start
 * and attached only once bpf/sockets.bpf.c reports the first such
 * setsockopt() of a tenant (RAW_SOCKET_QDISC_BYPASS), a few milliseconds
 * later: frames sent meanwhile are not counted. Its link is pinned: it
 * stays attached across restarts, and an agent that finds it pinned, or
 * the report flag set in the pinned maps, keeps it so. Said once, with why.
 */
static void attach_direct_tx(struct probes *probes, const char *why)
{
	struct bpf_program *program = probes->net->progs.count_direct_tx;
	int err;

	if (probes->direct_tx_on || !bpf_program__autoload(program))
		return;
	if (probes->link_count == MAX_LINKS) {
		pr_warn("no room for another link: packet sockets sending with "
			"PACKET_QDISC_BYPASS are not counted");
		probes->direct_tx_on = true;
		return;
	}
	err = pins_attach_program(probes->pins, probes->net->obj, program,
				  &probes->links[probes->link_count]);
	if (err) {
		pr_warn("cannot attach count_direct_tx (%s): packet sockets sending with "
			"PACKET_QDISC_BYPASS are not counted", strerror(-err));
		/* Not tried at every later report: once said is enough. */
		probes->direct_tx_on = true;
		return;
	}
	probes->link_count++;
	probes->direct_tx_on = true;
	pr_info("%s: frames of packet sockets sending with PACKET_QDISC_BYPASS are counted "
		"from now on (count_direct_tx attached to tp_btf/sock_send_length)", why);
}

/*
 * Which executables the last agent judged, under policies this one may not
 * share (its generations start again): forgotten, so that every exec is
 * judged again.
 */
static void forget_judgements(struct probes *probes)
{
	int fd = bpf_map__fd(probes->software->maps.judged_exes);
	struct exe_key key, previous;
	bool have_previous = false;

	while (!bpf_map_get_next_key(fd, have_previous ? &previous : NULL, &key)) {
		if (have_previous)
			bpf_map_delete_elem(fd, &previous);
		previous = key;
		have_previous = true;
	}
	if (have_previous)
		bpf_map_delete_elem(fd, &previous);
}

/*
 * The packet socket probes need what older kernels lack: the tracepoints
 * net_dev_queue and sock_send_length (6.4+), and the kfunc bpf_rdonly_cast
 * (6.2+). Without them they are left out, said once, rather than failing
 * the whole network object: packet sockets then go uncounted, as before.
 */
static void check_packet_socket_probes(struct net_bpf *net)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	bool cast, dev_queue, send_length;

	if (!vmlinux)
		return;	/* No BTF: the load fails anyway, with its own reason. */
	cast = btf__find_by_name_kind(vmlinux, "bpf_rdonly_cast", BTF_KIND_FUNC) >= 0;
	dev_queue = btf__find_by_name_kind(vmlinux, "btf_trace_net_dev_queue",
					   BTF_KIND_TYPEDEF) >= 0;
	send_length = btf__find_by_name_kind(vmlinux, "btf_trace_sock_send_length",
					     BTF_KIND_TYPEDEF) >= 0;
	btf__free(vmlinux);
	if (!cast || !dev_queue) {
		bpf_program__set_autoload(net->progs.count_pkt_sock, false);
		pr_warn("this kernel lacks %s: traffic of packet sockets (AF_PACKET) is not counted",
			cast ? "the net_dev_queue tracepoint" : "bpf_rdonly_cast");
	}
	if (!cast || !send_length) {
		bpf_program__set_autoload(net->progs.count_direct_tx, false);
		pr_warn("this kernel lacks %s: packet sockets sending with "
			"PACKET_QDISC_BYPASS are not counted",
			cast ? "the sock_send_length tracepoint" : "bpf_rdonly_cast");
	}
}

/* Opens, loads and attaches the three objects; *@step says which failed. 0 or -errno. */
static int load_objects(struct probes *probes, const struct probes_options *options,
			const uint8_t *instance, const char **step)
{
	int err;

	*step = "opening the usage probes";
	probes->usage = usage_bpf__open();
	if (!probes->usage)
		return -errno;
	probes->usage->rodata->targ_nr_cpus = probes->possible_cpus;
	*step = "opening the network probes";
	probes->net = net_bpf__open();
	if (!probes->net)
		return -errno;
	probes->net->rodata->targ_root_cgroup_id = options->root_cgroup_id;
	*step = "setting the stratum markers";
	err = set_stratum_markers(probes->net);
	if (err)
		return err;
	set_pool_suffix_bits(probes->net);
	*step = "opening the software probes";
	probes->software = software_bpf__open();
	if (!probes->software)
		return -errno;
	probes->software->rodata->targ_root_cgroup_id = options->root_cgroup_id;
	*step = "opening the socket probes";
	probes->sockets = sockets_bpf__open();
	if (!probes->sockets)
		return -errno;
	probes->sockets->rodata->targ_root_cgroup_id = options->root_cgroup_id;
	probes->sockets->rodata->targ_page_size = (__u32)sysconf(_SC_PAGESIZE);
	*step = "setting the command-line markers";
	err = set_markers(probes->software, options->argv_markers, options->argv_marker_count);
	if (err)
		return err;
	prepare_pins(probes, options, instance);
	pr_info("CPU accounting: batched per CPU, to a hash map keyed by cgroup id");

	*step = "loading the usage probes";
	err = usage_bpf__load(probes->usage);
	if (err)
		return err;
	probes_check_io(probes);
	*step = "loading the network probes";
	check_packet_socket_probes(probes->net);
	err = net_bpf__load(probes->net);
	if (err)
		return err;
	*step = "loading the pool domains";
	err = load_pool_suffixes(probes->net);
	if (err)
		return err;
	*step = "loading the software probes";
	err = software_bpf__load(probes->software);
	if (err)
		return err;
	if (probes->resumed)
		forget_judgements(probes);
	*step = "loading the socket probes";
	err = sockets_bpf__load(probes->sockets);
	if (err)
		return err;

	*step = "attaching the usage probes";
	err = attach_object(probes, probes->usage->obj, NULL);
	if (err)
		return err;
	*step = "attaching cgroup_skb and cgroup/connect to the cgroup v2 root";
	/* count_direct_tx: loaded with the rest (verified at start), attached when needed. */
	err = attach_object(probes, probes->net->obj, probes->net->progs.count_direct_tx);
	/* Its pin taken up (kept, or given the new program) is attached. */
	probes->direct_tx_on = pins_has_link(probes->pins, probes->net->obj,
					     probes->net->progs.count_direct_tx);
	if (err)
		return err;
	/* The device and sysctl programs only watch and always allow; others still decide. */
	*step = "attaching the exec, device and sysctl probes";
	err = attach_object(probes, probes->software->obj, NULL);
	if (err)
		return err;
	/* These decide: with raw_sockets: deny a tenant's raw socket fails (EPERM). */
	*step = "attaching the raw-socket probes (cgroup/sock_create, cgroup/setsockopt)";
	err = attach_object(probes, probes->sockets->obj, NULL);
	if (err)
		return err;
	if (probes->direct_tx_on)
		pr_info("restart: count_direct_tx stays attached (a tenant set PACKET_QDISC_BYPASS "
			"before): frames of packet sockets bypassing the qdisc are counted");
	else if (probes->direct_tx_pinned || probes->sockets->bss->bypass_reported)
		attach_direct_tx(probes, "restart: a tenant set PACKET_QDISC_BYPASS before");
	if (probes->pins) {
		err = pins_commit(probes->pins);
		if (err)
			pr_warn("the probes' pins are incomplete (%s): a restart will start clean",
				strerror(-err));
		probes->pinned = !err;
	}
	return 0;
}

/* Undoes load_objects(): the links this agent holds, the objects, the pins' handle. */
static void unload_objects(struct probes *probes)
{
	size_t i;

	for (i = 0; i < probes->link_count; i++)
		bpf_link__destroy(probes->links[i]);
	probes->link_count = 0;
	sockets_bpf__destroy(probes->sockets);
	software_bpf__destroy(probes->software);
	net_bpf__destroy(probes->net);
	usage_bpf__destroy(probes->usage);
	probes->software = NULL;
	probes->sockets = NULL;
	probes->net = NULL;
	probes->usage = NULL;
	pins_close(probes->pins);
	probes->pins = NULL;
	probes->resumed = false;
	probes->pinned = false;
}

int probes_load(const struct probes_options *options, cgroup_event_fn on_event, void *ctx,
		struct probes **out, char *why, size_t whylen)
{
	struct probes *probes;
	const char *step;
	int err;

	libbpf_set_print(print_libbpf);
	probes = calloc(1, sizeof(*probes));
	if (!probes)
		return -ENOMEM;
	probes->v2_root_fd = -1;
	probes->on_event = on_event;
	probes->on_connect = options->on_connect;
	probes->on_software = options->on_software;
	probes->on_raw_socket = options->on_raw_socket;
	probes->on_wire = options->on_wire;
	probes->ctx = ctx;
	probes->v2_root_fd = open(options->v2_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (probes->v2_root_fd < 0) {
		err = -errno;
		step = "opening the cgroup v2 root";
		goto fail;
	}
	probes->possible_cpus = libbpf_num_possible_cpus();
	if (probes->possible_cpus <= 0) {
		err = probes->possible_cpus ? probes->possible_cpus : -EINVAL;
		step = "counting CPUs";
		goto fail;
	}
	probes->slot_cpus = probes->possible_cpus < AW_MAX_CPUS ? probes->possible_cpus
								 : AW_MAX_CPUS;
	probes->net_values = calloc((size_t)READ_BATCH * probes->possible_cpus,
				    sizeof(struct net_usage));
	probes->marks = calloc((size_t)SLOT_KINDS * probes->slot_cpus, sizeof(struct slot_mark));
	if (!probes->net_values || !probes->marks) {
		err = -ENOMEM;
		step = "allocating";
		goto fail;
	}

	err = load_objects(probes, options, options->instance, &step);
	if (err && probes->resumed) {
		/* What the last agent left could not be taken up: without it, from nothing. */
		pr_warn("restart: %s: %s: the pinned probes are removed, the probes start clean",
			step, strerror(-err));
		unload_objects(probes);
		err = load_objects(probes, options, NULL, &step);
	}
	if (err)
		goto fail;

	step = "opening the cgroup event ring buffer";
	probes->events = ring_buffer__new(bpf_map__fd(probes->usage->maps.cgroup_events),
					  handle_cgroup_event, probes, NULL);
	if (!probes->events) {
		err = -errno;
		goto fail;
	}
	/* One epoll fd for both streams. */
	step = "opening the connect event ring buffer";
	err = ring_buffer__add(probes->events, bpf_map__fd(probes->net->maps.connect_events),
			       handle_connect_event, probes);
	if (err)
		goto fail;
	step = "opening the software event ring buffer";
	err = ring_buffer__add(probes->events, bpf_map__fd(probes->software->maps.software_events),
			       handle_software_event, probes);
	if (err)
		goto fail;
	step = "opening the wire event ring buffer";
	err = ring_buffer__add(probes->events, bpf_map__fd(probes->net->maps.wire_events),
			       handle_wire_event, probes);
	if (err)
		goto fail;
	step = "opening the raw-socket event ring buffer";
	err = ring_buffer__add(probes->events, bpf_map__fd(probes->sockets->maps.socket_events),
			       handle_raw_socket_event, probes);
	if (err)
		goto fail;
	step = "mapping the software ring buffer's positions";
	probes->software_positions_size = 2 * (size_t)sysconf(_SC_PAGESIZE);
	probes->software_positions =
		mmap(NULL, probes->software_positions_size, PROT_READ, MAP_SHARED,
		     bpf_map__fd(probes->software->maps.software_events), 0);
	if (probes->software_positions == MAP_FAILED) {
		probes->software_positions = NULL;
		err = -errno;
		goto fail;
	}
	*out = probes;
	return 0;

fail:
	explain_failure(err, step, why, whylen);
	/* Probes made by this start are not left counting for nobody. */
	if (probes->pins && !probes->resumed)
		pins_remove_dir(options->pin_dir);
	probes_destroy(probes);
	return err;
}

void probes_destroy(struct probes *probes)
{
	if (!probes)
		return;
	if (probes->software_positions)
		munmap(probes->software_positions, probes->software_positions_size);
	ring_buffer__free(probes->events);
	unload_objects(probes);
	free(probes->net_values);
	free(probes->marks);
	if (probes->v2_root_fd >= 0)
		close(probes->v2_root_fd);
	free(probes);
}

int probes_event_fd(const struct probes *probes)
{
	return ring_buffer__epoll_fd(probes->events);
}

int probes_drain_events(struct probes *probes)
{
	return ring_buffer__consume(probes->events);
}

/* Records in the software ring buffer, written or still being written. */
static bool software_records_left(const struct probes *probes)
{
	const char *positions = probes->software_positions;
	unsigned long consumer, producer;

	consumer = __atomic_load_n((const unsigned long *)positions, __ATOMIC_ACQUIRE);
	producer = __atomic_load_n(
		(const unsigned long *)(positions + probes->software_positions_size / 2),
		__ATOMIC_ACQUIRE);
	return producer != consumer;
}

bool probes_events_settle(struct probes *probes, int drained)
{
	volatile __u32 *polling = &probes->software->bss->reader_polling;

	if (drained > 0 || software_records_left(probes)) {
		probes->empty_drains = 0;
		return true;
	}
	/* A pause in a stream of execs: still no wake-up for the next. */
	if (++probes->empty_drains < AW_DRAIN_IDLE_ROUNDS)
		return true;
	probes->empty_drains = 0;
	*polling = 0;
	/*
	 * Pairs with the exec probe's barrier between reserving its record
	 * and reading the flag: either it sees the flag clear and wakes us,
	 * or its record shows here.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!software_records_left(probes))
		return false;
	*polling = 1;
	return true;
}

/*
 * Returns once every BPF program that was running has finished: they run
 * under rcu_read_lock(), and MEMBARRIER_CMD_GLOBAL waits for an RCU grace
 * period. 0 or -errno.
 */
static int wait_for_running_probes(void)
{
	return syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) ? -errno : 0;
}

int probes_set_exec_interest(struct probes *probes, const struct exec_interest *interest)
{
	struct exec_interest *live = &probes->software->data->exec_interest;
	int err;

	if (!memcmp(live, interest, sizeof(*interest)))
		return 0;
	/*
	 * Every exec is reported while the rest changes: an exec probe that
	 * read every_exec clear before is done before it does, and one that
	 * reads it clear after sees all of it new.
	 */
	__atomic_store_n(&live->every_exec, 1, __ATOMIC_SEQ_CST);
	err = wait_for_running_probes();
	if (err)
		return err;
	live->digests = interest->digests;
	live->argv = interest->argv;
	live->generation = interest->generation;
	memcpy(live->names, interest->names, sizeof(live->names));
	err = wait_for_running_probes();
	if (err)
		return err;
	__atomic_store_n(&live->every_exec, interest->every_exec, __ATOMIC_SEQ_CST);
	return 0;
}

void probes_set_wire_interest(struct probes *probes, bool wanted)
{
	__atomic_store_n(&probes->net->bss->wire_enabled, wanted ? 1 : 0, __ATOMIC_RELAXED);
}

int probes_mark_judged(struct probes *probes, const struct exe_key *key, uint32_t generation)
{
	int fd = bpf_map__fd(probes->software->maps.judged_exes);

	return bpf_map_update_elem(fd, key, &generation, BPF_ANY) ? -errno : 0;
}

int probes_read_usage(struct probes *probes, usage_fn fn, void *ctx)
{
	int fd = bpf_map__fd(probes->usage->maps.usage_by_id);
	__u64 batch = 0;
	bool first = true;
	__u32 count, i;
	int err;

	do {
		count = READ_BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, probes->keys,
					   probes->usage_values, &count, NULL);
		if (err && err != -ENOENT)
			return err;
		for (i = 0; i < count; i++)
			fn(probes->keys[i], &probes->usage_values[i], ctx);
		first = false;
	} while (!err);
	return 0;
}

int probes_read_net(struct probes *probes, net_fn fn, void *ctx)
{
	int fd = bpf_map__fd(probes->net->maps.net_by_id);
	struct net_usage sum, *per_cpu;
	__u64 batch = 0;
	bool first = true;
	__u32 count, i;
	int err, cpu;

	do {
		count = READ_BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, probes->keys,
					   probes->net_values, &count, NULL);
		if (err && err != -ENOENT)
			return err;
		for (i = 0; i < count; i++) {
			memset(&sum, 0, sizeof(sum));
			per_cpu = &probes->net_values[(size_t)i * probes->possible_cpus];
			for (cpu = 0; cpu < probes->possible_cpus; cpu++) {
				sum.rx_bytes += per_cpu[cpu].rx_bytes;
				sum.tx_bytes += per_cpu[cpu].tx_bytes;
				sum.rx_packets += per_cpu[cpu].rx_packets;
				sum.tx_packets += per_cpu[cpu].tx_packets;
				sum.connects += per_cpu[cpu].connects;
			}
			fn(probes->keys[i], &sum, ctx);
		}
		first = false;
	} while (!err);
	return 0;
}

/*
 * The loads of the slots, which the BPF programs write on other CPUs
 * meanwhile (see struct cpu_slot in usage.h): atomic, so that each is one
 * untorn load the compiler keeps, and flushes' with the order a seqlock
 * reader needs on every CPU. On x86 each is a plain mov, as before.
 */
#define load_relaxed(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* Acquire: the loads of the batch that follow stay after it. */
static inline uint64_t load_flushes(const struct probes *probes, enum slot_kind kind, int cpu)
{
	switch (kind) {
	case SLOT_CPU:
		return __atomic_load_n(&probes->usage->bss->cpu_slots[cpu].flushes, __ATOMIC_ACQUIRE);
	case SLOT_BIO:
		return __atomic_load_n(&probes->usage->bss->bio_slots[cpu].flushes, __ATOMIC_ACQUIRE);
	case SLOT_SKB:
		return __atomic_load_n(&probes->net->bss->skb_slots[cpu].flushes, __ATOMIC_ACQUIRE);
	default:
		return __atomic_load_n(&probes->net->bss->connect_slots[cpu].flushes,
				       __ATOMIC_ACQUIRE);
	}
}

static void load_batch(const struct probes *probes, enum slot_kind kind, int cpu,
		       struct slot_batch *batch)
{
	const struct cpu_slot *cpu_slot = &probes->usage->bss->cpu_slots[cpu];
	const struct bio_slot *bio_slot = &probes->usage->bss->bio_slots[cpu];
	const struct skb_slot *skb_slot = &probes->net->bss->skb_slots[cpu];
	const struct connect_slot *connect_slot = &probes->net->bss->connect_slots[cpu];

	memset(&batch->usage, 0, sizeof(batch->usage));
	switch (kind) {
	case SLOT_CPU:
		batch->id = load_relaxed(cpu_slot->pending_id);
		batch->usage.cpu_ns = load_relaxed(cpu_slot->pending_ns);
		break;
	case SLOT_BIO:
		batch->id = load_relaxed(bio_slot->pending_id);
		batch->usage.disk_read_bytes = load_relaxed(bio_slot->pending_read_bytes);
		batch->usage.disk_write_bytes = load_relaxed(bio_slot->pending_write_bytes);
		break;
	case SLOT_SKB:
		batch->id = load_relaxed(skb_slot->pending_id);
		batch->usage.rx_bytes = load_relaxed(skb_slot->pending_rx_bytes);
		batch->usage.tx_bytes = load_relaxed(skb_slot->pending_tx_bytes);
		batch->usage.rx_packets = load_relaxed(skb_slot->pending_rx_packets);
		batch->usage.tx_packets = load_relaxed(skb_slot->pending_tx_packets);
		break;
	default:
		batch->id = load_relaxed(connect_slot->pending_id);
		batch->usage.connects = load_relaxed(connect_slot->pending_connects);
		break;
	}
}

static bool batch_is_empty(const struct slot_batch *batch)
{
	const struct pending_usage *usage = &batch->usage;

	return !batch->id ||
	       !(usage->cpu_ns | usage->disk_read_bytes | usage->disk_write_bytes | usage->rx_bytes |
		 usage->tx_bytes | usage->rx_packets | usage->tx_packets | usage->connects);
}

/*
 * One consistent look at a slot: its flushes even and unchanged around the
 * batch, so that no part of it was moving to the maps. False when every
 * attempt found it moving.
 */
static bool read_slot(const struct probes *probes, enum slot_kind kind, int cpu,
		      struct slot_batch *batch)
{
	uint64_t before;
	int attempt;

	for (attempt = 0; attempt < SLOT_READ_ATTEMPTS; attempt++) {
		before = load_flushes(probes, kind, cpu);
		if (before & 1)
			continue;
		load_batch(probes, kind, cpu, batch);
		/* The batch's loads before flushes' second load. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (load_flushes(probes, kind, cpu) == before) {
			batch->flushes = before;
			return true;
		}
	}
	return false;
}

void probes_mark_pending(struct probes *probes)
{
	struct slot_batch batch;
	struct slot_mark *mark;
	int kind, cpu;

	for (kind = 0; kind < SLOT_KINDS; kind++) {
		for (cpu = 0; cpu < probes->slot_cpus; cpu++) {
			mark = &probes->marks[kind * probes->slot_cpus + cpu];
			mark->known = read_slot(probes, kind, cpu, &batch);
			mark->id = mark->known && !batch_is_empty(&batch) ? batch.id : 0;
			mark->flushes = mark->known ? batch.flushes : 0;
		}
	}
	/*
	 * The marks' loads before the caller's reads of the maps, which must
	 * not see a batch's add to them while a mark saw it in its slot still.
	 */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

int probes_read_pending(struct probes *probes, pending_fn pending, moved_fn moved, void *ctx)
{
	const struct slot_mark *mark;
	struct slot_batch batch;
	int kind, cpu;
	bool read;

	/*
	 * The caller's reads of the maps (bpf(2): the loads are the kernel's,
	 * on this CPU) before the slots' loads: a batch whose add to the maps
	 * they saw is then seen moved here (flushes changed, see flush_begin()
	 * in bpf/slots.bpf.h), never still pending, so never counted twice.
	 */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	for (kind = 0; kind < SLOT_KINDS; kind++) {
		for (cpu = 0; cpu < probes->slot_cpus; cpu++) {
			mark = &probes->marks[kind * probes->slot_cpus + cpu];
			read = read_slot(probes, kind, cpu, &batch);
			/* Not moving now, so not in the maps read before. */
			if (read && !batch_is_empty(&batch))
				pending(batch.id, &batch.usage, ctx);
			/* The batch marked moved since, maybe after the maps were read. */
			if (!mark->known)
				moved(0, ctx);
			else if (mark->id && (!read || batch.flushes != mark->flushes))
				moved(mark->id, ctx);
		}
	}
	return 0;
}

/* Is "io" among the controllers of the v2 root's cgroup.controllers? */
static bool io_controller_on_v2(int v2_root_fd)
{
	char text[512], *word, *saveptr = NULL;
	ssize_t length;
	int fd;

	fd = openat(v2_root_fd, "cgroup.controllers", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	length = read(fd, text, sizeof(text) - 1);
	close(fd);
	/* Unreadable: the probe checks each bio's blkg itself, as without this. */
	if (length < 0)
		return true;
	text[length] = '\0';
	for (word = strtok_r(text, " \n", &saveptr); word; word = strtok_r(NULL, " \n", &saveptr))
		if (!strcmp(word, "io"))
			return true;
	return false;
}

void probes_check_io(struct probes *probes)
{
	bool on_v2 = io_controller_on_v2(probes->v2_root_fd);

	if (probes->usage->data->io_on_v2 != on_v2) {
		pr_info("io controller %s the cgroup v2 hierarchy: %s", on_v2 ? "on" : "not on",
			on_v2 ? "writeback is charged to the cgroup that dirtied the pages"
			      : "bios are charged to the task that queued them");
		probes->usage->data->io_on_v2 = on_v2;
	}
}

void probes_forget_cgroup(struct probes *probes, uint64_t cgroup_id)
{
	bpf_map_delete_elem(bpf_map__fd(probes->usage->maps.usage_by_id), &cgroup_id);
	bpf_map_delete_elem(bpf_map__fd(probes->net->maps.net_by_id), &cgroup_id);
}

static int open_task_pidfd(int tid)
{
	int fd = syscall(SYS_pidfd_open, tid, PIDFD_THREAD_FLAG);

	/* Before 6.9 only thread-group leaders have pidfds. */
	if (fd < 0 && errno == EINVAL)
		fd = syscall(SYS_pidfd_open, tid, 0);
	return fd;
}

int probes_seed_tasks(struct probes *probes, int cgroup_fd, uint64_t cgroup_id)
{
	int charges_fd = bpf_map__fd(probes->usage->maps.task_charges);
	int usage_fd = bpf_map__fd(probes->usage->maps.usage_by_id);
	struct task_charge charge = { .cgroup_id = cgroup_id };
	struct cgroup_usage zero = {};
	int fd, tid, pidfd, seeded = 0;
	FILE *threads;

	fd = openat(cgroup_fd, "cgroup.threads", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	threads = fdopen(fd, "r");
	if (!threads) {
		close(fd);
		return -errno;
	}
	while (fscanf(threads, "%d", &tid) == 1) {
		/*
		 * The exit probe uncharges into this entry: it must exist once a
		 * task is charged. An empty cgroup gets none, so that the
		 * collector does not read (every interval) thousands of idle ones.
		 */
		if (!seeded)
			bpf_map_update_elem(usage_fd, &cgroup_id, &zero, BPF_NOEXIST);
		pidfd = open_task_pidfd(tid);
		if (pidfd < 0)
			continue;
		/* A task the probes already charged (forked since) is not seeded twice. */
		if (!bpf_map_update_elem(charges_fd, &pidfd, &charge, BPF_NOEXIST))
			seeded++;
		close(pidfd);
	}
	fclose(threads);
	return seeded;
}

bool probes_resumed(const struct probes *probes)
{
	return probes->resumed;
}

const uint8_t *probes_instance(const struct probes *probes)
{
	/* Taken up, the maps are the stamp's instance even if a new link failed to pin. */
	return probes->pinned || probes->resumed ? pins_instance(probes->pins) : NULL;
}

uint64_t probes_lost_events(const struct probes *probes)
{
	uint64_t lost = probes->net->bss->net_lost_events +
			probes->software->bss->software_lost_events +
			probes->sockets->bss->socket_lost_events;
	int i;

	for (i = 0; i < LOST_REASON_COUNT; i++)
		lost += probes->usage->bss->lost_events[i];
	return lost;
}

uint64_t probes_lost_cgroup_events(const struct probes *probes)
{
	return probes->usage->bss->lost_events[LOST_CGROUP_EVENTS];
}

int probes_set_raw_socket_policy(struct probes *probes, uint64_t cgroup_id, uint32_t action,
				 uint32_t generation)
{
	int fd = bpf_map__fd(probes->sockets->maps.raw_socket_policy);
	struct raw_socket_policy policy = { .action = action, .generation = generation };
	__u64 key = cgroup_id;

	if (action == RAW_SOCKETS_ALLOW)
		return bpf_map_delete_elem(fd, &key) && errno != ENOENT ? -errno : 0;
	return bpf_map_update_elem(fd, &key, &policy, BPF_ANY) ? -errno : 0;
}

int probes_prune_raw_socket_policies(struct probes *probes, uint32_t generation)
{
	int fd = bpf_map__fd(probes->sockets->maps.raw_socket_policy);
	struct raw_socket_policy policy;
	__u64 key, next;
	bool have_key = false;
	int removed = 0;

	/* Deleting the current key would restart the walk: each is deleted once past it. */
	while (!bpf_map_get_next_key(fd, have_key ? &key : NULL, &next)) {
		if (have_key && !bpf_map_lookup_elem(fd, &key, &policy) &&
		    policy.generation != generation && !bpf_map_delete_elem(fd, &key))
			removed++;
		key = next;
		have_key = true;
	}
	if (have_key && !bpf_map_lookup_elem(fd, &key, &policy) &&
	    policy.generation != generation && !bpf_map_delete_elem(fd, &key))
		removed++;
	return removed;
}

uint32_t probes_raw_socket_next_pass(struct probes *probes)
{
	int fd = bpf_map__fd(probes->sockets->maps.raw_socket_policy);
	struct raw_socket_policy policy;
	uint32_t highest = 0;
	__u64 key, next;
	bool have_key = false;

	while (!bpf_map_get_next_key(fd, have_key ? &key : NULL, &next)) {
		if (!bpf_map_lookup_elem(fd, &next, &policy) && policy.generation > highest)
			highest = policy.generation;
		key = next;
		have_key = true;
	}
	return highest + 1;
}
