// SPDX-License-Identifier: GPL-2.0
/*
 * Network abuse rules over the destinations of connect() calls.
 *
 * Each tenant keeps one destination set per counting rule: (address, port)
 * pairs for port_scan, addresses on SMTP ports for smtp_fanout. A set is a
 * list ordered by when each destination was last seen, oldest first, with
 * an open-addressing index over it. Connects come in time order, so moving
 * a destination to the newest end when it is seen again keeps the list
 * sorted: expiry pops from the oldest end, and so does eviction when the set
 * is full. Recording, expiry and eviction are O(1) amortised.
 *
 * A set holds threshold + 1 destinations. Evicting the oldest for a new one
 * then keeps a count that is over the threshold over it, which is all that
 * the rules ask of the count.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idmap.h"
#include "log.h"
#include "netabuse.h"
#include "seed.h"

#define NO_ENTRY UINT32_MAX
#define MIN_SET_ALLOCATION 8
/*
 * Index slots are 32 bits and twice the entries. A configured threshold at
 * or above this never fires: the set cannot count past it.
 */
#define MAX_SET_CAPACITY (1u << 24)

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
	struct destination_key key;
	uint32_t hash;
	uint32_t older;	/* list links; a free entry links the free list by newer */
	uint32_t newer;
	double last_seen;
};

struct destination_set {
	struct destination *entries;
	uint32_t allocated;
	uint32_t used;		/* entries [0, used) are live or on the free list */
	uint32_t free_head;
	uint32_t *index;	/* entry + 1, 0: empty; linear probing */
	uint32_t index_size;	/* 0, or a power of two at least twice allocated */
	uint32_t oldest;
	uint32_t newest;
	uint32_t count;
	uint32_t capacity;
};

struct destination_watch {
	struct destination_set set;
	bool firing;
	double since;
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
	struct tenant_state *next; /* another tenant whose name hashes the same */
	uint64_t hash;
	char *name;
	struct destination_watch watch[WATCH_COUNT];
	struct pool_port_state pool_ports[NETABUSE_MAX_POOL_PORTS];
	unsigned int pool_port_count;
};

struct netabuse {
	struct idmap *tenants; /* name hash -> chain of tenant_state */
	size_t tenant_count;
	bool configured;
	/* Destinations are chosen by tenants: keep them from picking index collisions. */
	struct hash_key key;
	uint64_t suppressed;
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

static uint32_t destination_hash(const struct hash_key *seed, const struct destination_key *key)
{
	return (uint32_t)hash_bytes(seed, key->bytes, sizeof(key->bytes));
}

static void set_init(struct destination_set *set, uint32_t capacity)
{
	memset(set, 0, sizeof(*set));
	set->free_head = NO_ENTRY;
	set->oldest = NO_ENTRY;
	set->newest = NO_ENTRY;
	set->capacity = capacity;
}

static void set_release(struct destination_set *set)
{
	free(set->entries);
	free(set->index);
	set_init(set, set->capacity);
}

static uint32_t set_find(const struct destination_set *set, const struct destination_key *key,
			 uint32_t hash)
{
	uint32_t mask = set->index_size - 1, i;

	if (!set->index_size)
		return NO_ENTRY;
	for (i = hash & mask; set->index[i]; i = (i + 1) & mask) {
		const struct destination *entry = &set->entries[set->index[i] - 1];

		if (entry->hash == hash && !memcmp(&entry->key, key, sizeof(*key)))
			return set->index[i] - 1;
	}
	return NO_ENTRY;
}

static void index_insert(uint32_t *index, uint32_t index_size, uint32_t hash, uint32_t entry)
{
	uint32_t mask = index_size - 1, i;

	for (i = hash & mask; index[i]; i = (i + 1) & mask)
		;
	index[i] = entry + 1;
}

/* Whether @slot lies in (@low, @high], going round the end of the index. */
static bool cyclically_within(uint32_t low, uint32_t slot, uint32_t high)
{
	if (low <= high)
		return low < slot && slot <= high;
	return low < slot || slot <= high;
}

static void index_remove(struct destination_set *set, uint32_t entry)
{
	uint32_t mask = set->index_size - 1, hole, i, home;

	hole = set->entries[entry].hash & mask;
	while (set->index[hole] != entry + 1)
		hole = (hole + 1) & mask;
	/* Shift back what probed past the hole instead of leaving tombstones to grow. */
	for (i = (hole + 1) & mask; set->index[i]; i = (i + 1) & mask) {
		home = set->entries[set->index[i] - 1].hash & mask;
		if (!cyclically_within(hole, home, i)) {
			set->index[hole] = set->index[i];
			hole = i;
		}
	}
	set->index[hole] = 0;
}

static void list_unlink(struct destination_set *set, uint32_t entry)
{
	struct destination *destination = &set->entries[entry];

	if (destination->older != NO_ENTRY)
		set->entries[destination->older].newer = destination->newer;
	else
		set->oldest = destination->newer;
	if (destination->newer != NO_ENTRY)
		set->entries[destination->newer].older = destination->older;
	else
		set->newest = destination->older;
}

static void list_append(struct destination_set *set, uint32_t entry)
{
	struct destination *destination = &set->entries[entry];

	destination->older = set->newest;
	destination->newer = NO_ENTRY;
	if (set->newest != NO_ENTRY)
		set->entries[set->newest].newer = entry;
	else
		set->oldest = entry;
	set->newest = entry;
}

static void set_remove(struct destination_set *set, uint32_t entry)
{
	index_remove(set, entry);
	list_unlink(set, entry);
	set->entries[entry].newer = set->free_head;
	set->free_head = entry;
	set->count--;
}

/*
 * Drops what was last seen a window or more ago. The list is in time order
 * as long as @now never goes back; were it to, some entries would only
 * expire late.
 */
static void set_expire(struct destination_set *set, double now, double window_s)
{
	while (set->oldest != NO_ENTRY && now - set->entries[set->oldest].last_seen >= window_s)
		set_remove(set, set->oldest);
}

static int set_grow(struct destination_set *set)
{
	uint32_t allocated = set->allocated ? set->allocated * 2 : MIN_SET_ALLOCATION;
	uint32_t index_size = set->index_size ? set->index_size : 1, entry, *index;
	struct destination *entries;

	if (allocated > set->capacity)
		allocated = set->capacity;
	entries = realloc(set->entries, (size_t)allocated * sizeof(*entries));
	if (!entries)
		return -ENOMEM;
	set->entries = entries;
	if (index_size < 2 * allocated) {
		while (index_size < 2 * allocated)
			index_size *= 2;
		index = calloc(index_size, sizeof(*index));
		/* The entries may stay larger than counted: realloc cannot be undone. */
		if (!index)
			return -ENOMEM;
		for (entry = set->oldest; entry != NO_ENTRY; entry = entries[entry].newer)
			index_insert(index, index_size, entries[entry].hash, entry);
		free(set->index);
		set->index = index;
		set->index_size = index_size;
	}
	set->allocated = allocated;
	return 0;
}

/* Makes sure that set_record() of @key will not need memory. 0 or -ENOMEM. */
static int set_reserve(struct destination_set *set, const struct destination_key *key,
		       uint32_t hash)
{
	if (set->free_head != NO_ENTRY || set->used < set->allocated ||
	    set->count >= set->capacity)
		return 0;
	if (set_find(set, key, hash) != NO_ENTRY)
		return 0;
	return set_grow(set);
}

/* Records @key as seen at @now; set_reserve() must have made room. */
static void set_record(struct destination_set *set, const struct destination_key *key,
		       uint32_t hash, double now)
{
	uint32_t entry = set_find(set, key, hash);
	struct destination *destination;

	if (entry != NO_ENTRY) {
		set->entries[entry].last_seen = now;
		list_unlink(set, entry);
		list_append(set, entry);
		return;
	}
	if (set->count >= set->capacity)
		set_remove(set, set->oldest);
	if (set->free_head != NO_ENTRY) {
		entry = set->free_head;
		set->free_head = set->entries[entry].newer;
	} else {
		entry = set->used++;
	}
	destination = &set->entries[entry];
	destination->key = *key;
	destination->hash = hash;
	destination->last_seen = now;
	index_insert(set->index, set->index_size, hash, entry);
	list_append(set, entry);
	set->count++;
}

/* A new capacity: the oldest give way, and memory shrinks with it if it can. */
static void set_rebound(struct destination_set *set, uint32_t capacity)
{
	struct destination_set fresh;
	uint32_t entry;

	set->capacity = capacity;
	while (set->count > capacity)
		set_remove(set, set->oldest);
	if (set->allocated <= capacity)
		return;
	set_init(&fresh, capacity);
	for (entry = set->oldest; entry != NO_ENTRY; entry = set->entries[entry].newer) {
		const struct destination *destination = &set->entries[entry];

		if (set_reserve(&fresh, &destination->key, destination->hash)) {
			/* Still bounded by the count, only not yet smaller. */
			set_release(&fresh);
			return;
		}
		set_record(&fresh, &destination->key, destination->hash, destination->last_seen);
	}
	set_release(set);
	*set = fresh;
}

/* Tenants */

static struct tenant_state *tenant_find(const struct netabuse *netabuse, const char *name,
					uint64_t hash)
{
	struct tenant_state *tenant = idmap_get(netabuse->tenants, hash);

	for (; tenant; tenant = tenant->next)
		if (!strcmp(tenant->name, name))
			return tenant;
	return NULL;
}

static void tenant_free(struct tenant_state *tenant)
{
	int kind;

	if (!tenant)
		return;
	for (kind = 0; kind < WATCH_COUNT; kind++)
		set_release(&tenant->watch[kind].set);
	free(tenant->name);
	free(tenant);
}

static struct tenant_state *tenant_add(struct netabuse *netabuse, const char *name,
				       uint64_t hash)
{
	struct tenant_state *tenant = calloc(1, sizeof(*tenant));
	int kind;

	if (!tenant)
		return NULL;
	for (kind = 0; kind < WATCH_COUNT; kind++)
		set_init(&tenant->watch[kind].set, netabuse->watch[kind].capacity);
	tenant->hash = hash;
	tenant->name = strdup(name);
	if (!tenant->name)
		goto cleanup;
	tenant->next = idmap_get(netabuse->tenants, hash);
	if (idmap_put(netabuse->tenants, hash, tenant))
		goto cleanup;
	netabuse->tenant_count++;
	return tenant;

cleanup:
	tenant_free(tenant);
	return NULL;
}

/* Unlinks and frees @tenant; safe while idmap_next() just returned its chain. */
static void tenant_drop(struct netabuse *netabuse, struct tenant_state *tenant)
{
	struct tenant_state *head = idmap_get(netabuse->tenants, tenant->hash), *prev;

	if (head == tenant) {
		if (tenant->next)
			/* The id is there: this replaces the value in place. */
			idmap_put(netabuse->tenants, tenant->hash, tenant->next);
		else
			idmap_remove(netabuse->tenants, tenant->hash);
	} else {
		for (prev = head; prev->next != tenant; prev = prev->next)
			;
		prev->next = tenant->next;
	}
	netabuse->tenant_count--;
	tenant_free(tenant);
}

static bool tenant_idle(const struct tenant_state *tenant)
{
	int kind;

	for (kind = 0; kind < WATCH_COUNT; kind++)
		if (tenant->watch[kind].firing || tenant->watch[kind].set.count)
			return false;
	return !tenant->pool_port_count;
}

/* Alerts */

static void watch_alert(const struct netabuse *netabuse, const struct tenant_state *tenant,
			enum watch_kind kind, bool firing, netabuse_alert_fn fn, void *ctx)
{
	const struct destination_watch *watch = &tenant->watch[kind];
	struct netabuse_alert alert = {
		.tenant = tenant->name,
		.rule = watch_rule[kind],
		.firing = firing,
		.destinations = watch->set.count,
		.window_s = netabuse->watch[kind].window_s,
		.since = watch->since,
	};

	pr_debug("network abuse: tenant %s %s %s at %u destinations", tenant->name,
		 netabuse_rule_name(alert.rule), firing ? "fires" : "resolves", alert.destinations);
	if (fn)
		fn(&alert, ctx);
}

static void pool_port_alert(const struct tenant_state *tenant, const struct pool_port_state *state,
			    bool firing, netabuse_alert_fn fn, void *ctx)
{
	struct netabuse_alert alert = {
		.tenant = tenant->name,
		.rule = NETABUSE_POOL_PORT,
		.firing = firing,
		.dst_port = state->port,
		.window_s = POOL_PORT_HOLD_S,
		.since = state->since,
	};

	pr_debug("network abuse: tenant %s pool_port %u %s", tenant->name, state->port,
		 firing ? "fires" : "resolves");
	if (fn)
		fn(&alert, ctx);
}

/* Lifetime and settings */

struct netabuse *netabuse_new(void)
{
	struct netabuse *netabuse = calloc(1, sizeof(*netabuse));

	if (!netabuse)
		return NULL;
	netabuse->tenants = idmap_new();
	if (!netabuse->tenants) {
		free(netabuse);
		return NULL;
	}
	hash_key_random(&netabuse->key);
	return netabuse;
}

void netabuse_free(struct netabuse *netabuse)
{
	struct tenant_state *tenant, *next;
	size_t cursor = 0;

	if (!netabuse)
		return;
	while ((tenant = idmap_next(netabuse->tenants, &cursor, NULL))) {
		for (; tenant; tenant = next) {
			next = tenant->next;
			tenant_free(tenant);
		}
	}
	idmap_free(netabuse->tenants);
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
	struct tenant_state *tenant;
	size_t cursor = 0, i;
	int kind;

	memset(netabuse->pool_ports, 0, sizeof(netabuse->pool_ports));
	for (i = 0; i < network->pool_ports_count; i++)
		netabuse->pool_ports[network->pool_ports[i] / 64] |=
			1ULL << (network->pool_ports[i] % 64);
	set_watch_params(&netabuse->watch[WATCH_SCAN], &network->scan);
	set_watch_params(&netabuse->watch[WATCH_SMTP], &network->smtp);
	netabuse->configured = true;

	while ((tenant = idmap_next(netabuse->tenants, &cursor, NULL)))
		for (; tenant; tenant = tenant->next)
			for (kind = 0; kind < WATCH_COUNT; kind++)
				if (tenant->watch[kind].set.capacity !=
				    netabuse->watch[kind].capacity)
					set_rebound(&tenant->watch[kind].set,
						    netabuse->watch[kind].capacity);
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
			enum watch_kind kind, double now, netabuse_alert_fn fn, void *ctx)
{
	struct destination_watch *watch = &tenant->watch[kind];

	if (watch->firing) {
		netabuse->suppressed++;
		return;
	}
	if (watch->set.count <= netabuse->watch[kind].threshold)
		return;
	watch->firing = true;
	watch->since = now;
	watch_alert(netabuse, tenant, kind, true, fn, ctx);
}

static void pool_port_connect(struct netabuse *netabuse, struct tenant_state *tenant,
			      uint16_t port, double now, netabuse_alert_fn fn, void *ctx)
{
	struct pool_port_state *state;
	unsigned int i;

	for (i = 0; i < tenant->pool_port_count; i++) {
		if (tenant->pool_ports[i].port == port) {
			tenant->pool_ports[i].last_connect = now;
			netabuse->suppressed++;
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
	pool_port_alert(tenant, state, true, fn, ctx);
}

int netabuse_connect(struct netabuse *netabuse, const char *tenant_name, const uint8_t addr[16],
		     uint16_t port, double now, netabuse_alert_fn fn, void *ctx)
{
	uint64_t name_hash = idmap_hash_string(tenant_name);
	struct destination_key keys[WATCH_COUNT] = {};
	bool watched[WATCH_COUNT] = {true, is_smtp_port(port)};
	uint32_t hashes[WATCH_COUNT];
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
		set_expire(&tenant->watch[kind].set, now, netabuse->watch[kind].window_s);
		err = set_reserve(&tenant->watch[kind].set, &keys[kind], hashes[kind]);
		if (err)
			goto cleanup;
	}
	for (kind = 0; kind < WATCH_COUNT; kind++) {
		if (!watched[kind])
			continue;
		set_record(&tenant->watch[kind].set, &keys[kind], hashes[kind], now);
		watch_check(netabuse, tenant, kind, now, fn, ctx);
	}
	if (is_pool_port(netabuse, port))
		pool_port_connect(netabuse, tenant, port, now, fn, ctx);

cleanup:
	if (err && tenant_idle(tenant))
		tenant_drop(netabuse, tenant);
	return err;
}

/* Ticks */

/* Resolves what no longer holds for @tenant; all of it when @forget. */
static void tenant_resolve(struct netabuse *netabuse, struct tenant_state *tenant, double now,
			   bool forget, netabuse_alert_fn fn, void *ctx)
{
	struct destination_watch *watch;
	unsigned int i, kept = 0;
	int kind;

	for (kind = 0; kind < WATCH_COUNT; kind++) {
		watch = &tenant->watch[kind];
		set_expire(&watch->set, now, netabuse->watch[kind].window_s);
		if (watch->firing &&
		    (forget || watch->set.count <= netabuse->watch[kind].threshold)) {
			watch->firing = false;
			watch_alert(netabuse, tenant, kind, false, fn, ctx);
		}
		if (!watch->set.count)
			set_release(&watch->set);
	}
	for (i = 0; i < tenant->pool_port_count; i++) {
		const struct pool_port_state *state = &tenant->pool_ports[i];

		if (forget || now - state->last_connect >= POOL_PORT_HOLD_S)
			pool_port_alert(tenant, state, false, fn, ctx);
		else
			tenant->pool_ports[kept++] = *state;
	}
	tenant->pool_port_count = kept;
}

void netabuse_tick(struct netabuse *netabuse, double now, netabuse_alert_fn fn, void *ctx)
{
	struct tenant_state *tenant, *next;
	size_t cursor = 0;

	while ((tenant = idmap_next(netabuse->tenants, &cursor, NULL))) {
		for (; tenant; tenant = next) {
			next = tenant->next;
			tenant_resolve(netabuse, tenant, now, false, fn, ctx);
			/* Tenants come and go: keep none that has nothing left. */
			if (tenant_idle(tenant))
				tenant_drop(netabuse, tenant);
		}
	}
}

void netabuse_forget(struct netabuse *netabuse, const char *tenant_name, double now,
		     netabuse_alert_fn fn, void *ctx)
{
	struct tenant_state *tenant;

	tenant = tenant_find(netabuse, tenant_name, idmap_hash_string(tenant_name));
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
	return netabuse->tenant_count;
}
