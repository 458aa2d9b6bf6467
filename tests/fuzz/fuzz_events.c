// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzzes the decoders of the probes' ring-buffer records: struct
 * cgroup_event (the cgroup tracker, user/tenancy/tracker.c), struct
 * connect_event (the network abuse rules) and struct software_event (the
 * executable's path and the software policy, user/rules/guard.c), fed
 * records of any bytes and any length, one stream after another, as
 * libbpf hands them over: probes.c's callbacks drop a record shorter than
 * its struct and pass a longer one as it is; so does this target.
 *
 * What sits behind the tracker needs no kernel here: the cgroup tree is
 * a scratch directory (a cgroup id the tree does not know is looked up
 * by handle there, and never found), and the collector, which reads BPF
 * maps, is replaced by the stubs below, which report each retired cgroup
 * final at the next collection, as the real one does. A fourth stream
 * stands for cgroup events lost in a full ring buffer: the tracker then
 * scans the (scratch) tree again at its next collection.
 */
#include <errno.h>
#include <limits.h>

#include <json-c/json.h>

#include "attribution.h"
#include "collect.h"
#include "config.h"
#include "fuzz.h"
#include "guard.h"
#include "log.h"
#include "memory.h"
#include "netabuse.h"
#include "net_events.h"
#include "software.h"
#include "software_events.h"
#include "tenants.h"
#include "tracker.h"
#include "usage.h"

enum stream {
	STREAM_CGROUP,
	STREAM_CONNECT,
	STREAM_SOFTWARE,
	/* No record: the cgroup ring buffer was full and the kernel counted a loss. */
	STREAM_LOST,
	STREAM_COUNT,
};

/* Tenants under /t/, a software policy and the network rules, as a node would have them. */
static const char config_text[] =
	"tenants:\n"
	"  - cgroup: \"/t/{tenant}/**\"\n"
	"    plan: guarded\n"
	"  - cgroup: \"/system.slice/docker-{id}.scope\"\n"
	"    tenant: \"{id}\"\n"
	"plans:\n"
	"  guarded: {cpu: 1, software: standard}\n"
	"software:\n"
	"  standard:\n"
	"    deny: [builtin:miners, builtin:scanners, nc]\n"
	"    deny_paths: [\"/tmp/*\", \"memfd:*\", \"/dev/shm/**\"]\n"
	"network:\n"
	"  pool_ports: [3333, 4444]\n"
	"  scan: {destinations: 4, window: 10s}\n"
	"  smtp: {destinations: 2, window: 60s}\n";

static struct config *config;
static struct software_matcher *matcher;

/* ---- the collector, stubbed: it reads BPF maps in the agent ---- */

struct collector {
	uint64_t retired[64];
	size_t retired_count;
};

static struct collector collector;

int collector_watch(struct collector *c, uint64_t id, int64_t seeded_tasks)
{
	return 0;
}

void collector_retire(struct collector *c, uint64_t id)
{
	if (c->retired_count < sizeof(c->retired) / sizeof(c->retired[0]))
		c->retired[c->retired_count++] = id;
}

void collector_report_again(struct collector *c)
{
}

/* Each retired cgroup's last report: nothing more counted, and final. */
int collector_tick(struct collector *c, collect_fn fn, void *ctx)
{
	struct usage_sample none = { 0 };
	size_t i;

	for (i = 0; i < c->retired_count; i++)
		fn(c->retired[i], &none, 0, true, ctx);
	c->retired_count = 0;
	return 0;
}

/* Restarts (a state to take up, or one to write): not what this target reads. */
int collector_restore(struct collector *c, uint64_t id, const struct usage_sample *last,
		      int64_t seeded_tasks, bool finished)
{
	return 0;
}

int collector_each(const struct collector *c, collector_each_fn fn, void *ctx)
{
	return 0;
}

/* Cgroup events the kernel could not queue: the tracker then scans the tree again. */
static uint64_t cgroup_events_lost;

uint64_t probes_lost_cgroup_events(const struct probes *probes)
{
	return cgroup_events_lost;
}

int probes_seed_tasks(struct probes *probes, int cgroup_fd, uint64_t cgroup_id)
{
	return 0;
}

/* ---- the agent's handlers (user/agent.c), on the decoded records ---- */

struct world {
	struct cgroup_tracker *tracker;
	struct netabuse *netabuse;
	size_t alerts;
	double now;
};

static void publish(struct alert *alert, void *ctx)
{
	struct world *world = ctx;
	struct json_object *record;

	alert->time = 1795462230.0;
	alert->host = "node";
	record = alert_to_json(alert);
	fuzz_check(record, "an alert of tenant %s makes no record", alert->tenant);
	json_object_put(record);
	world->alerts++;
}

static void on_connect(struct world *world, const struct connect_event *event)
{
	struct tenant *tenant = cgroup_tracker_tenant_of(world->tracker, event->cgroup_id);
	struct netabuse_tenant who;
	int err;

	if (!tenant)
		return;
	who = (struct netabuse_tenant){ tenant->name, tenant->plan, tenant->cgroup };
	if (event->source == AW_DESTINATION_CONNECT)
		err = netabuse_connect(world->netabuse, &who, event->addr, event->port, world->now,
				       publish, world);
	else
		err = netabuse_probe(world->netabuse, &who, event->addr, event->port, world->now,
				     publish, world);
	fuzz_check(!err || err == -ENOMEM, "netabuse_connect or _probe: %d", err);
}

/*
 * The attribution of a helper's evidence (attribution.h) over the
 * ancestors as the agent sees them: never out of the tenant, never pid 0
 * or 1.
 */
static void on_ancestors(struct world *world, const struct software_event *event,
			 struct tenant *tenant, const char *comm)
{
	struct attribution_link chain[1 + AW_ANCESTORS_MAX];
	char comms[AW_ANCESTORS_MAX][sizeof(event->ancestors[0].comm) + 1];
	size_t i, at;

	chain[0] = (struct attribution_link){ (int)event->pid, comm, true };
	for (i = 0; i < AW_ANCESTORS_MAX; i++) {
		memcpy(comms[i], event->ancestors[i].comm, sizeof(event->ancestors[i].comm));
		comms[i][sizeof(event->ancestors[i].comm)] = '\0';
		chain[i + 1] = (struct attribution_link){
			.pid = (int)event->ancestors[i].pid,
			.comm = comms[i],
			.in_tenant = event->ancestors[i].pid &&
				     cgroup_tracker_tenant_of(world->tracker,
							      event->ancestors[i].cgroup_id) == tenant,
		};
	}
	at = software_attribute(chain, 1 + AW_ANCESTORS_MAX, software_is_helper(comm));
	fuzz_check(at <= AW_ANCESTORS_MAX, "attributed to link %zu", at);
	fuzz_check(!at || (chain[at].in_tenant && chain[at].pid > 1),
		   "attributed to pid %d, out of the tenant or init", chain[at].pid);
	for (i = 1; i < at; i++)
		fuzz_check(chain[i].in_tenant && software_is_helper(chain[i].comm),
			   "walked past pid %d, no helper of the tenant's", chain[i].pid);
}

/* What guard_event() makes of an event before it hashes anything: the path and the verdict. */
static void on_software(struct world *world, const struct software_event *event)
{
	struct tenant *tenant = cgroup_tracker_tenant_of(world->tracker, event->cgroup_id);
	struct software_verdict verdict;
	struct software_facts facts;
	char exe[PATH_MAX], comm[sizeof(event->comm) + 1] = "";
	unsigned int flags = event->flags;
	size_t length;

	if (!tenant)
		return;
	memcpy(comm, event->comm, sizeof(comm) - 1);
	memset(exe, 0x55, sizeof(exe));
	guard_decode_path(event, exe, sizeof(exe), &flags);
	length = strnlen(exe, sizeof(exe));
	fuzz_check(length < sizeof(exe), "the decoded path is not terminated");
	fuzz_check(length <= AW_EXE_PATH_MAX + AW_EXE_PATH_DEPTH + 4,
		   "a path of %zu bytes from %u bytes of components", length, event->path_len);
	fuzz_check(exe[0] == '/' || !strncmp(exe, "...", 3) ||
			   (event->flags & EXE_MEMFD),
		   "decoded path \"%s\"", exe);
	facts = (struct software_facts){
		.type = event->type,
		.comm = comm,
		.exe = exe,
		.flags = flags,
		.argv_markers = event->argv_markers,
	};
	if (software_match(matcher, &facts, &verdict))
		fuzz_check(memchr(verdict.reason, '\0', sizeof(verdict.reason)) && verdict.reason[0],
			   "a verdict without a reason");
	on_ancestors(world, event, tenant, comm);
}

/* One record of @size bytes at @data, from @stream: what probes.c's callback does. */
static void handle_record(struct world *world, enum stream stream, const void *data, size_t size)
{
	switch (stream) {
	case STREAM_CGROUP:
		if (size < sizeof(struct cgroup_event))
			return;
		cgroup_tracker_event(world->tracker, data);
		break;
	case STREAM_CONNECT:
		if (size < sizeof(struct connect_event))
			return;
		on_connect(world, data);
		break;
	case STREAM_SOFTWARE:
		if (size < sizeof(struct software_event))
			return;
		on_software(world, data);
		break;
	case STREAM_LOST:
		cgroup_events_lost++;
		break;
	default:
		break;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *errors = NULL;

	log_set_level(LOG_LEVEL_ERROR);
	if (config_parse("fuzz_events", config_text, strlen(config_text), &config, &errors)) {
		fprintf(stderr, "%s", errors ? errors : "config refused\n");
		abort();
	}
	matcher = software_matcher_new(&config->software[0]);
	fuzz_check(matcher, "no software matcher");
	return 0;
}

/*
 * Records one after another: a byte for the stream, two for the length,
 * then that many bytes (fewer where the input ends).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct cgroup_tree *tree = cgroup_tree_new(fuzz_scratch_dir());
	struct memory_watcher *memory = memory_watcher_new(fuzz_scratch_dir(), "/nonexistent");
	struct tenant_set *tenants = tenant_set_new(config);
	struct world world = { .now = 100 };
	struct tenant_table table = { 0 };
	size_t length, records = 0;
	enum stream stream;
	uint8_t *record;

	fuzz_check(tree && memory && tenants, "no tree, memory watcher or tenant set");
	world.tracker = cgroup_tracker_new(tree, memory);
	world.netabuse = netabuse_new();
	fuzz_check(world.tracker && world.netabuse, "no tracker or network rules");
	netabuse_configure(world.netabuse, &config->network);
	cgroup_tracker_attach(world.tracker, NULL, &collector);
	fuzz_check(!cgroup_tracker_scan(world.tracker, tenants, false), "scan failed");

	while (in.size && records++ < 64) {
		stream = fuzz_u8(&in) % STREAM_COUNT;
		length = fuzz_u8(&in) << 8;
		length |= fuzz_u8(&in);
		if (length > in.size)
			length = in.size;
		/* A block of the record's own size: ASan sees a read past it. */
		record = malloc(length ? length : 1);
		fuzz_check(record, "no memory");
		memcpy(record, in.data, length);
		in.data += length;
		in.size -= length;
		handle_record(&world, stream, record, length);
		free(record);
		world.now += 0.5;
		/* A tick now and then: final reports, rows, the network rules' clock. */
		if (records % 8 == 0) {
			fuzz_check(!cgroup_tracker_collect(world.tracker), "collect failed");
			netabuse_tick(world.netabuse, world.now, publish, &world);
		}
	}
	fuzz_check(!cgroup_tracker_collect(world.tracker), "collect failed");
	fuzz_check(!tenant_set_fill_rows(tenants, &table), "rows not filled");
	netabuse_tick(world.netabuse, world.now + 3600, publish, &world);

	tenant_table_free(&table);
	netabuse_free(world.netabuse);
	cgroup_tracker_free(world.tracker);
	tenant_set_free(tenants);
	memory_watcher_free(memory);
	cgroup_tree_free(tree);
	collector.retired_count = 0;
	cgroup_events_lost = 0;
	return 0;
}
