// SPDX-License-Identifier: GPL-2.0
/*
 * Network abuse rules over the destinations of connect() calls, and of
 * the probes (TCP SYNs, UDP datagrams) tenants write on raw IP and packet
 * sockets, which count for port_scan only.
 *
 * Each tenant keeps one destination set per counting rule: (address, port)
 * pairs for port_scan, addresses on SMTP ports for smtp_fanout. A set is a
 * hash table (lib/hashtable) whose use order is the order in which the
 * destinations were last seen, oldest first. Connects come in time order,
 * so touching a destination when it is seen again keeps that order sorted:
 * expiry pops from the oldest end, and so does eviction when the set is
 * full (the table's limit). Recording, expiry and eviction are O(1)
 * amortised.
 *
 * A set holds threshold + 1 destinations. Evicting the oldest for a new one
 * then keeps a count that is over the threshold over it, which is all that
 * the rules ask of the count.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "hashtable.h"
#include "json.h"
#include "log.h"
#include "state_file.h"
#include "netabuse.h"
#include "seed.h"
#include "text.h"

/*
 * The most destinations a set holds, whatever the configuration: a
 * threshold at or above this never fires, the set cannot count past it.
 */
#define MAX_SET_CAPACITY (1u << 24)

#define STATE_FORMAT_VERSION 1
/* Some 300 bytes an alert: anything larger is no state of ours. */
#define STATE_FILE_MAX (16u << 20)
/* Evidence that only moves a firing alert's deadline is saved this often at most. */
#define STATE_SAVE_PACE_S 5.0

#define PORT_SMTP 25
#define PORT_SUBMISSIONS 465
#define PORT_SUBMISSION 587

enum watch_kind {
	WATCH_SCAN,
	WATCH_SMTP,
	WATCH_COUNT,
};

static const enum netabuse_rule watch_rule[WATCH_COUNT] = {
	[WATCH_SCAN] = NETABUSE_PORT_SCAN,
	[WATCH_SMTP] = NETABUSE_SMTP_FANOUT,
};

struct destination_key {
	uint8_t bytes[18]; /* the address, then the port big-endian (0 for smtp) */
};

struct destination {
	struct hashtable_node node;
	struct destination_key key;
	double last_seen;
};

struct destination_watch {
	struct hashtable set;		/* of struct destination, limited to the capacity */
	struct destination *spare;	/* allocated ahead: recording then cannot fail */
	bool firing;
	double since;
	/*
	 * Taken up firing from the state of an earlier run, whose destinations
	 * were not saved: from restored_at (monotonic) until a window later the
	 * set lacks those seen before the restart, and restored_hold stands in
	 * for them (when their count would have fallen to the threshold).
	 * 0: not restored, or the set has been whole since.
	 */
	double restored_at;
	double restored_hold;
};

struct watch_params {
	unsigned int threshold;
	double window_s;
	uint32_t capacity;
};

/* A pool port is tracked only while its alert fires. */
struct pool_port_state {
	uint16_t port;
	double since;
	double last_connect;
};

struct tenant_state {
	struct hashtable_node node;	/* in netabuse->tenants, by name */
	char *name;
	/* As of its last connect, for its alerts. */
	char *plan;
	char *cgroup;
	struct destination_watch watch[WATCH_COUNT];
	struct pool_port_state pool_ports[NETABUSE_MAX_POOL_PORTS];
	unsigned int pool_port_count;
};

struct netabuse {
	struct hashtable tenants;
	bool configured;
	/* Destinations are chosen by tenants: keep them from picking index collisions. */
	struct hash_key key;
	uint64_t suppressed;
	bool changed;		/* an alert fired or resolved since the last save */
	bool moved;		/* evidence for a firing alert since the last save */
	double saved_at;	/* monotonic, the last save that worked */
	struct watch_params watch[WATCH_COUNT];
	uint64_t pool_ports[65536 / 64]; /* a bit per port */
};

const char *netabuse_rule_name(enum netabuse_rule rule)
{
	switch (rule) {
	case NETABUSE_POOL_PORT:
		return "pool_port";
	case NETABUSE_PORT_SCAN:
		return "port_scan";
	case NETABUSE_SMTP_FANOUT:
		return "smtp_fanout";
	default:
		return "unknown";
	}
}

/* Destination sets */

static bool destination_is(const struct hashtable_node *node, const void *key)
{
	return !memcmp(&hashtable_entry(node, struct destination, node)->key, key,
		       sizeof(struct destination_key));
}

static uint64_t destination_hash(const struct hash_key *seed, const struct destination_key *key)
{
	return hash_bytes(seed, key->bytes, sizeof(key->bytes));
}

static void watch_init(struct destination_watch *watch, uint32_t capacity)
{
	memset(watch, 0, sizeof(*watch));
	hashtable_init(&watch->set, destination_is);
	hashtable_set_limit(&watch->set, capacity);
}

/* A destination out of the set: kept as the spare if there is none, else freed. */
static void destination_drop(struct destination_watch *watch, struct destination *destination)
{
	if (watch->spare)
		free(destination);
	else
		watch->spare = destination;
}

/* An empty set gives back its memory: tenants come and go. */
static void watch_trim(struct destination_watch *watch)
{
	if (hashtable_count(&watch->set))
		return;
	hashtable_shrink(&watch->set);
	free(watch->spare);
	watch->spare = NULL;
}

static void destination_free(struct hashtable_node *node)
{
	free(hashtable_entry(node, struct destination, node));
}

static void watch_release(struct destination_watch *watch)
{
	hashtable_release(&watch->set, destination_free);
	free(watch->spare);
	watch->spare = NULL;
}

/*
 * Drops what was last seen a window or more ago. The use order is time
 * order as long as @now never goes back; were it to, some entries would
 * only expire late.
 */
static void set_expire(struct destination_watch *watch, double now, double window_s)
{
	struct hashtable_node *node;
	struct destination *oldest;

	while ((node = hashtable_oldest(&watch->set))) {
		oldest = hashtable_entry(node, struct destination, node);
		if (now - oldest->last_seen < window_s)
			break;
		hashtable_remove(&watch->set, node);
		destination_drop(watch, oldest);
	}
}

/*
 * Makes sure that set_record() of @key will not need memory: a spare
 * destination and the buckets for one more, unless @key is there already
 * or the set is full (the oldest is reused then). 0 or -ENOMEM.
 */
static int set_reserve(struct destination_watch *watch, uint32_t capacity,
		       const struct destination_key *key, uint64_t hash)
{
	size_t count = hashtable_count(&watch->set);

	if (count >= capacity || hashtable_find(&watch->set, hash, key))
		return 0;
	if (!watch->spare) {
		watch->spare = malloc(sizeof(*watch->spare));
		if (!watch->spare)
			return -ENOMEM;
	}
	return hashtable_reserve(&watch->set, count + 1);
}

/* Records @key as seen at @now; set_reserve() must have made room. */
static void set_record(struct destination_watch *watch, const struct destination_key *key,
		       uint64_t hash, double now)
{
	struct destination *destination;

	destination = hashtable_entry(hashtable_find(&watch->set, hash, key), struct destination,
				      node);
	if (destination) {
		destination->last_seen = now;
		hashtable_touch(&watch->set, &destination->node);
		return;
	}
	destination = hashtable_entry(hashtable_evict(&watch->set, 1), struct destination, node);
	if (!destination) {
		destination = watch->spare;
		watch->spare = NULL;
	}
	destination->key = *key;
	destination->last_seen = now;
	hashtable_insert(&watch->set, &destination->node, hash);
}

/* A new capacity: the oldest give way, and memory shrinks with it. */
static void set_rebound(struct destination_watch *watch, uint32_t capacity)
{
	struct hashtable_node *evicted;

	hashtable_set_limit(&watch->set, capacity);
	while ((evicted = hashtable_evict(&watch->set, 0)))
		destination_free(evicted);
	hashtable_shrink(&watch->set);
}

/* Tenants */

static bool tenant_is(const struct hashtable_node *node, const void *name)
{
	return !strcmp(hashtable_entry(node, struct tenant_state, node)->name, name);
}

static struct tenant_state *tenant_find(const struct netabuse *netabuse, const char *name,
					uint64_t hash)
{
	return hashtable_entry(hashtable_find(&netabuse->tenants, hash, name), struct tenant_state,
			       node);
}

static void tenant_free(struct tenant_state *tenant)
{
	int kind;

	if (!tenant)
		return;
	for (kind = 0; kind < WATCH_COUNT; kind++)
		watch_release(&tenant->watch[kind]);
	free(tenant->name);
	free(tenant->plan);
	free(tenant->cgroup);
	free(tenant);
}

static void tenant_free_node(struct hashtable_node *node)
{
	tenant_free(hashtable_entry(node, struct tenant_state, node));
}

static struct tenant_state *tenant_add(struct netabuse *netabuse, const char *name,
				       uint64_t hash)
{
	struct tenant_state *tenant = calloc(1, sizeof(*tenant));
	int kind;

	if (!tenant)
		return NULL;
	for (kind = 0; kind < WATCH_COUNT; kind++)
		watch_init(&tenant->watch[kind], netabuse->watch[kind].capacity);
	tenant->name = strdup(name);
	if (!tenant->name)
		goto cleanup;
	if (hashtable_insert(&netabuse->tenants, &tenant->node, hash))
		goto cleanup;
	return tenant;

cleanup:
	tenant_free(tenant);
	return NULL;
}

static void tenant_drop(struct netabuse *netabuse, struct tenant_state *tenant)
{
	hashtable_remove(&netabuse->tenants, &tenant->node);
	tenant_free(tenant);
}

static bool tenant_idle(const struct tenant_state *tenant)
{
	int kind;

	for (kind = 0; kind < WATCH_COUNT; kind++)
		if (tenant->watch[kind].firing || hashtable_count(&tenant->watch[kind].set))
			return false;
	return !tenant->pool_port_count;
}

/* Alerts */

static void raise_alert(const struct tenant_state *tenant, struct alert *alert, alert_fn fn,
			void *ctx)
{
	alert->kind = ALERT_NETWORK_ABUSE;
	alert->tenant = tenant->name;
	alert->plan = tenant->plan ? tenant->plan : "";
	alert->cgroup = tenant->cgroup ? tenant->cgroup : "";
	pr_info("network abuse %s: tenant %s, %s", alert->firing ? "firing" : "resolved",
		tenant->name, alert->reason);

	if (fn)
		fn(alert, ctx);
}

static void watch_alert(const struct netabuse *netabuse, const struct tenant_state *tenant,
			enum watch_kind kind, bool firing, alert_fn fn, void *ctx)
{
	const struct destination_watch *watch = &tenant->watch[kind];
	const char *rule = netabuse_rule_name(watch_rule[kind]);
	char reason[160];
	struct alert alert = {
		.firing = firing,
		.rule = rule,
		.reason = reason,
		.destinations = hashtable_count(&watch->set),
		.window_s = netabuse->watch[kind].window_s,
		.since = watch->since,
	};

	if (!firing)
		snprintf(reason, sizeof(reason), "%s no longer seen", rule);
	else if (kind == WATCH_SCAN)
		snprintf(reason, sizeof(reason),
			 "%u distinct destinations (address, port) within %.0f s",
			 alert.destinations, alert.window_s);
	else
		snprintf(reason, sizeof(reason),
			 "%u distinct addresses on SMTP ports (25, 465, 587) within %.0f s",
			 alert.destinations, alert.window_s);
	raise_alert(tenant, &alert, fn, ctx);
}

static void pool_port_alert(const struct tenant_state *tenant, const struct pool_port_state *state,
			    bool firing, alert_fn fn, void *ctx)
{
	const char *rule = netabuse_rule_name(NETABUSE_POOL_PORT);
	char reason[160];
	struct alert alert = {
		.firing = firing,
		.rule = rule,
		.reason = reason,
		.dst_port = state->port,
		.window_s = POOL_PORT_HOLD_S,
		.since = state->since,
	};

	if (firing)
		snprintf(reason, sizeof(reason), "connected to port %u, a mining pool port",
			 state->port);
	else
		snprintf(reason, sizeof(reason), "%s no longer seen", rule);
	raise_alert(tenant, &alert, fn, ctx);
}

/* Lifetime and settings */

struct netabuse *netabuse_new(void)
{
	struct netabuse *netabuse = calloc(1, sizeof(*netabuse));

	if (!netabuse)
		return NULL;
	hashtable_init(&netabuse->tenants, tenant_is);
	hash_key_random(&netabuse->key);
	return netabuse;
}

void netabuse_free(struct netabuse *netabuse)
{
	if (!netabuse)
		return;
	hashtable_release(&netabuse->tenants, tenant_free_node);
	free(netabuse);
}

static void set_watch_params(struct watch_params *params, const struct destination_rule *rule)
{
	params->threshold = rule->destinations;
	params->window_s = rule->window_ms / 1000.0;
	params->capacity = rule->destinations < MAX_SET_CAPACITY ? rule->destinations + 1
								 : MAX_SET_CAPACITY;
}

void netabuse_configure(struct netabuse *netabuse, const struct network_config *network)
{
	struct hashtable_node *node;
	struct tenant_state *tenant;
	size_t i;
	int kind;

	memset(netabuse->pool_ports, 0, sizeof(netabuse->pool_ports));
	for (i = 0; i < network->pool_ports_count; i++)
		netabuse->pool_ports[network->pool_ports[i] / 64] |=
			1ULL << (network->pool_ports[i] % 64);
	set_watch_params(&netabuse->watch[WATCH_SCAN], &network->scan);
	set_watch_params(&netabuse->watch[WATCH_SMTP], &network->smtp);
	netabuse->configured = true;

	for (node = hashtable_oldest(&netabuse->tenants); node; node = hashtable_newer(node)) {
		tenant = hashtable_entry(node, struct tenant_state, node);
		for (kind = 0; kind < WATCH_COUNT; kind++)
			set_rebound(&tenant->watch[kind], netabuse->watch[kind].capacity);
	}
}

/* Connects */

static bool is_pool_port(const struct netabuse *netabuse, uint16_t port)
{
	return netabuse->pool_ports[port / 64] & (1ULL << (port % 64));
}

static bool is_smtp_port(uint16_t port)
{
	return port == PORT_SMTP || port == PORT_SUBMISSIONS || port == PORT_SUBMISSION;
}

/* After a destination was recorded: fire once over the threshold; later, only count. */
static void watch_check(struct netabuse *netabuse, struct tenant_state *tenant,
			enum watch_kind kind, double now, alert_fn fn, void *ctx)
{
	struct destination_watch *watch = &tenant->watch[kind];

	if (watch->firing) {
		netabuse->suppressed++;
		netabuse->moved = true;
		return;
	}
	if (hashtable_count(&watch->set) <= netabuse->watch[kind].threshold)
		return;
	watch->firing = true;
	watch->since = now;
	watch->restored_at = 0;
	netabuse->changed = true;
	watch_alert(netabuse, tenant, kind, true, fn, ctx);
}

static void pool_port_connect(struct netabuse *netabuse, struct tenant_state *tenant,
			      uint16_t port, double now, alert_fn fn, void *ctx)
{
	struct pool_port_state *state;
	unsigned int i;

	for (i = 0; i < tenant->pool_port_count; i++) {
		if (tenant->pool_ports[i].port == port) {
			tenant->pool_ports[i].last_connect = now;
			netabuse->suppressed++;
			netabuse->moved = true;
			return;
		}
	}
	if (tenant->pool_port_count == NETABUSE_MAX_POOL_PORTS) {
		/* The tenant already fires for plenty of pool ports. */
		netabuse->suppressed++;
		return;
	}
	state = &tenant->pool_ports[tenant->pool_port_count++];
	state->port = port;
	state->since = now;
	state->last_connect = now;
	netabuse->changed = true;
	pool_port_alert(tenant, state, true, fn, ctx);
}

/* A destination of @who: a connect() call's, or a probe's (@probe: port_scan only). */
static int destination_seen(struct netabuse *netabuse, const struct netabuse_tenant *who,
			    const uint8_t addr[16], uint16_t port, bool probe, double now,
			    alert_fn fn, void *ctx)
{
	const char *tenant_name = who->name;
	uint64_t name_hash = hash_string(&netabuse->key, tenant_name);
	struct destination_key keys[WATCH_COUNT] = {};
	bool watched[WATCH_COUNT] = {true, !probe && is_smtp_port(port)};
	uint64_t hashes[WATCH_COUNT];
	struct tenant_state *tenant;
	int kind, err = 0;

	if (!netabuse->configured)
		return 0;
	tenant = tenant_find(netabuse, tenant_name, name_hash);
	if (!tenant) {
		tenant = tenant_add(netabuse, tenant_name, name_hash);
		if (!tenant)
			return -ENOMEM;
	}
	err = text_replace(&tenant->plan, who->plan);
	if (!err)
		err = text_replace(&tenant->cgroup, who->cgroup);
	if (err)
		goto cleanup;

	memcpy(keys[WATCH_SCAN].bytes, addr, 16);
	keys[WATCH_SCAN].bytes[16] = port >> 8;
	keys[WATCH_SCAN].bytes[17] = port & 0xff;
	/* SMTP fan-out counts addresses: all its ports are one. */
	memcpy(keys[WATCH_SMTP].bytes, addr, 16);
	/* Room first in every set, so that a failure leaves the connect wholly uncounted. */
	for (kind = 0; kind < WATCH_COUNT; kind++) {
		if (!watched[kind])
			continue;
		hashes[kind] = destination_hash(&netabuse->key, &keys[kind]);
		set_expire(&tenant->watch[kind], now, netabuse->watch[kind].window_s);
		err = set_reserve(&tenant->watch[kind], netabuse->watch[kind].capacity, &keys[kind],
				  hashes[kind]);
		if (err)
			goto cleanup;
	}
	for (kind = 0; kind < WATCH_COUNT; kind++) {
		if (!watched[kind])
			continue;
		set_record(&tenant->watch[kind], &keys[kind], hashes[kind], now);
		watch_check(netabuse, tenant, kind, now, fn, ctx);
	}
	if (!probe && is_pool_port(netabuse, port))
		pool_port_connect(netabuse, tenant, port, now, fn, ctx);

cleanup:
	if (err && tenant_idle(tenant))
		tenant_drop(netabuse, tenant);
	return err;
}

int netabuse_connect(struct netabuse *netabuse, const struct netabuse_tenant *who,
		     const uint8_t addr[16], uint16_t port, double now, alert_fn fn, void *ctx)
{
	return destination_seen(netabuse, who, addr, port, false, now, fn, ctx);
}

int netabuse_probe(struct netabuse *netabuse, const struct netabuse_tenant *who,
		   const uint8_t addr[16], uint16_t port, double now, alert_fn fn, void *ctx)
{
	return destination_seen(netabuse, who, addr, port, true, now, fn, ctx);
}

/* Ticks */

/*
 * Whether the firing @watch (its set expired to @now) still holds. One
 * taken up from an earlier run holds while its set is over the threshold,
 * and, until its set is whole (a window after the restart), while the
 * destinations seen before the restart would have kept it over
 * (restored_hold) or destinations come again: then the window decides.
 */
static bool watch_holds(const struct watch_params *params, struct destination_watch *watch,
			double now)
{
	size_t count = hashtable_count(&watch->set);

	if (count > params->threshold) {
		watch->restored_at = 0;
		return true;
	}
	if (!watch->restored_at)
		return false;
	if (now - watch->restored_at >= params->window_s) {
		watch->restored_at = 0;
		return false;
	}
	return now < watch->restored_hold || count;
}

/* Resolves what no longer holds for @tenant; all of it when @forget. */
static void tenant_resolve(struct netabuse *netabuse, struct tenant_state *tenant, double now,
			   bool forget, alert_fn fn, void *ctx)
{
	struct destination_watch *watch;
	unsigned int i, kept = 0;
	int kind;

	for (kind = 0; kind < WATCH_COUNT; kind++) {
		watch = &tenant->watch[kind];
		set_expire(watch, now, netabuse->watch[kind].window_s);
		if (watch->firing && (forget || !watch_holds(&netabuse->watch[kind], watch, now))) {
			watch->firing = false;
			watch->restored_at = 0;
			netabuse->changed = true;
			watch_alert(netabuse, tenant, kind, false, fn, ctx);
		}
		watch_trim(watch);
	}
	for (i = 0; i < tenant->pool_port_count; i++) {
		const struct pool_port_state *state = &tenant->pool_ports[i];

		if (forget || now - state->last_connect >= POOL_PORT_HOLD_S) {
			netabuse->changed = true;
			pool_port_alert(tenant, state, false, fn, ctx);
		} else {
			tenant->pool_ports[kept++] = *state;
		}
	}
	tenant->pool_port_count = kept;
}

void netabuse_tick(struct netabuse *netabuse, double now, alert_fn fn, void *ctx)
{
	struct hashtable_node *node, *next;
	struct tenant_state *tenant;

	hashtable_for_each_safe(&netabuse->tenants, node, next) {
		tenant = hashtable_entry(node, struct tenant_state, node);
		tenant_resolve(netabuse, tenant, now, false, fn, ctx);
		/* Tenants come and go: keep none that has nothing left. */
		if (tenant_idle(tenant))
			tenant_drop(netabuse, tenant);
	}
}

void netabuse_forget(struct netabuse *netabuse, const char *tenant_name, double now,
		     alert_fn fn, void *ctx)
{
	struct tenant_state *tenant;

	tenant = tenant_find(netabuse, tenant_name, hash_string(&netabuse->key, tenant_name));
	if (!tenant)
		return;
	tenant_resolve(netabuse, tenant, now, true, fn, ctx);
	tenant_drop(netabuse, tenant);
}

uint64_t netabuse_suppressed(const struct netabuse *netabuse)
{
	return netabuse->suppressed;
}

size_t netabuse_tenant_count(const struct netabuse *netabuse)
{
	return hashtable_count(&netabuse->tenants);
}

size_t netabuse_firing(const struct netabuse *netabuse)
{
	const struct hashtable_node *node;
	const struct tenant_state *tenant;
	size_t firing = 0;
	int kind;

	for (node = hashtable_oldest(&netabuse->tenants); node; node = hashtable_newer(node)) {
		tenant = hashtable_entry(node, struct tenant_state, node);
		for (kind = 0; kind < WATCH_COUNT; kind++)
			firing += tenant->watch[kind].firing;
		firing += tenant->pool_port_count;
	}
	return firing;
}

/* State across restarts */

bool netabuse_save_due(const struct netabuse *netabuse, double now, bool final)
{
	if (netabuse->changed)
		return true;
	return netabuse->moved && (final || now - netabuse->saved_at >= STATE_SAVE_PACE_S);
}

/*
 * When the firing @watch stops holding if no destination comes (monotonic):
 * when enough of its destinations have left the window to bring the count
 * to the threshold, or, taken up from an earlier run, as watch_holds() says.
 */
static double watch_deadline(const struct watch_params *params,
			     const struct destination_watch *watch, double now)
{
	size_t count = hashtable_count(&watch->set), over;
	const struct hashtable_node *node;

	if (count > params->threshold) {
		/* Oldest first: the (count - threshold)th is the last that must go. */
		over = count - params->threshold;
		for (node = hashtable_oldest(&watch->set); node && --over;
		     node = hashtable_newer(node))
			;
		return hashtable_entry(node, const struct destination, node)->last_seen +
		       params->window_s;
	}
	if (!watch->restored_at)
		return now;
	return count ? watch->restored_at + params->window_s : fmax(now, watch->restored_hold);
}

static int add_saved(struct json_object *alerts, const struct tenant_state *tenant,
		     const char *rule, const char *reason, double since, double window_s,
		     double hold_until, double now_wall, double now, struct json_object **saved)
{
	struct json_object *alert = json_object_new_object();
	int err;

	if (!alert)
		return -ENOMEM;
	/* Monotonic time means nothing to the next boot: wall time. */
	err = json_add_string(alert, "tenant", tenant->name) ?:
	      json_add_string(alert, "plan", tenant->plan ? tenant->plan : "") ?:
	      json_add_string(alert, "cgroup", tenant->cgroup ? tenant->cgroup : "") ?:
	      json_add_string(alert, "rule", rule) ?: json_add_string(alert, "action", "alert") ?:
	      json_add_string(alert, "reason", reason) ?:
	      json_add_double(alert, "window_s", window_s) ?:
	      json_add_double(alert, "since", now_wall - (now - since)) ?:
	      json_add_double(alert, "hold_until", now_wall - (now - hold_until));
	if (!err)
		err = json_append(alerts, alert);
	else
		json_object_put(alert);
	*saved = err ? NULL : alert;
	return err;
}

static int add_tenant(const struct netabuse *netabuse, struct json_object *alerts,
		      const struct tenant_state *tenant, double now_wall, double now)
{
	const struct destination_watch *watch;
	const struct pool_port_state *state;
	struct json_object *saved;
	char reason[160];
	unsigned int i;
	int kind, err;

	for (kind = 0; kind < WATCH_COUNT; kind++) {
		watch = &tenant->watch[kind];
		if (!watch->firing)
			continue;
		snprintf(reason, sizeof(reason), "%u distinct destinations within %.0f s",
			 (unsigned int)hashtable_count(&watch->set), netabuse->watch[kind].window_s);
		err = add_saved(alerts, tenant, netabuse_rule_name(watch_rule[kind]), reason,
				watch->since, netabuse->watch[kind].window_s,
				watch_deadline(&netabuse->watch[kind], watch, now), now_wall, now,
				&saved) ?:
		      json_add_int(saved, "destinations", hashtable_count(&watch->set));
		if (err)
			return err;
	}
	for (i = 0; i < tenant->pool_port_count; i++) {
		state = &tenant->pool_ports[i];
		snprintf(reason, sizeof(reason), "connected to port %u, a mining pool port",
			 state->port);
		err = add_saved(alerts, tenant, netabuse_rule_name(NETABUSE_POOL_PORT), reason,
				state->since, POOL_PORT_HOLD_S, state->last_connect + POOL_PORT_HOLD_S,
				now_wall, now, &saved) ?:
		      json_add_int(saved, "dst_port", state->port);
		if (err)
			return err;
	}
	return 0;
}

int netabuse_save(struct netabuse *netabuse, const char *path, double now_wall, double now)
{
	const struct hashtable_node *node;
	struct json_object *root, *alerts;
	int err = 0;

	root = state_file_new(STATE_FORMAT_VERSION, now_wall, &alerts);
	if (!root)
		return -ENOMEM;
	for (node = hashtable_oldest(&netabuse->tenants); node && !err; node = hashtable_newer(node))
		err = add_tenant(netabuse, alerts, hashtable_entry(node, struct tenant_state, node),
				 now_wall, now);
	err = err ?: state_file_write(path, root, NULL);
	if (!err) {
		netabuse->changed = false;
		netabuse->moved = false;
		netabuse->saved_at = now;
	}
	json_object_put(root);
	return err;
}

/* The rule named @name, or NETABUSE_RULE_COUNT. */
static enum netabuse_rule rule_of(const char *name)
{
	enum netabuse_rule rule;

	for (rule = 0; rule < NETABUSE_RULE_COUNT; rule++)
		if (!strcmp(name, netabuse_rule_name(rule)))
			return rule;
	return NETABUSE_RULE_COUNT;
}

/* 1 when loaded, 0 when it already fires or there is no room, -EINVAL, -ENOMEM. */
static int load_alert(struct netabuse *netabuse, struct json_object *alert, double now_wall,
		      double now)
{
	const char *name, *plan, *cgroup, *rule_name;
	double since_wall, hold_wall, since, hold;
	struct destination_watch *watch = NULL;
	struct pool_port_state *state;
	struct tenant_state *tenant;
	enum netabuse_rule rule;
	long long port = 0;
	uint64_t hash;
	unsigned int i;
	int kind;

	if (json_get_string(alert, "tenant", &name) || json_get_string(alert, "plan", &plan) ||
	    json_get_string(alert, "cgroup", &cgroup) ||
	    json_get_string(alert, "rule", &rule_name) ||
	    json_get_double(alert, "since", &since_wall) ||
	    json_get_double(alert, "hold_until", &hold_wall) || !name[0] ||
	    (rule = rule_of(rule_name)) == NETABUSE_RULE_COUNT ||
	    (rule == NETABUSE_POOL_PORT &&
	     json_get_int(alert, "dst_port", 1, UINT16_MAX, &port)))
		return -EINVAL;
	/* A wall clock set back since the save must not put the start in the future. */
	since = now - fmax(0, now_wall - since_wall);
	hold = now - (now_wall - hold_wall);
	hash = hash_string(&netabuse->key, name);
	tenant = tenant_find(netabuse, name, hash);
	if (!tenant) {
		tenant = tenant_add(netabuse, name, hash);
		if (!tenant)
			return -ENOMEM;
	}
	if (text_replace(&tenant->plan, plan) || text_replace(&tenant->cgroup, cgroup)) {
		if (tenant_idle(tenant))
			tenant_drop(netabuse, tenant);
		return -ENOMEM;
	}
	if (rule == NETABUSE_POOL_PORT) {
		for (i = 0; i < tenant->pool_port_count; i++)
			if (tenant->pool_ports[i].port == port)
				return 0;
		if (tenant->pool_port_count == NETABUSE_MAX_POOL_PORTS)
			return 0;
		state = &tenant->pool_ports[tenant->pool_port_count++];
		state->port = port;
		state->since = since;
		/* Whatever the clocks did, it holds no longer than a connect now would. */
		state->last_connect = fmin(hold, now + POOL_PORT_HOLD_S) - POOL_PORT_HOLD_S;
	} else {
		kind = rule == NETABUSE_PORT_SCAN ? WATCH_SCAN : WATCH_SMTP;
		watch = &tenant->watch[kind];
		if (watch->firing)
			return 0;
		watch->firing = true;
		watch->since = since;
		watch->restored_at = now;
		watch->restored_hold = fmin(hold, now + netabuse->watch[kind].window_s);
	}
	pr_info("network abuse: tenant %s, rule %s, firing again from the state of the last run "
		"(since %.0f s ago)",
		name, rule_name, now - since);
	return 1;
}

int netabuse_load(struct netabuse *netabuse, const char *path, double now_wall, double now)
{
	struct json_object *root, *alerts;
	size_t i, count, skipped = 0;
	int err;

	if (!netabuse->configured)
		return -EINVAL;
	err = state_file_read(path, STATE_FILE_MAX, "network abuse", &root, &alerts);
	if (err)
		return err;
	count = json_object_array_length(alerts);
	for (i = 0; i < count; i++) {
		int ret = load_alert(netabuse, json_object_array_get_idx(alerts, i), now_wall, now);

		if (ret == -ENOMEM) {
			err = ret;
			goto cleanup;
		}
		skipped += ret < 0;
	}
	if (skipped)
		pr_warn("network abuse: %s: %zu alerts are not valid, skipped", path, skipped);
	/* What the file holds is what the next save would write: paced from here. */
	netabuse->saved_at = now;
cleanup:
	json_object_put(root);
	return err;
}
