/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Network abuse from the destinations of a tenant's connect() calls:
 *
 * - pool_port: a connect to one of network.pool_ports (mining pools).
 *   Fires at the first such connect; resolves POOL_PORT_HOLD_S after the
 *   last connect of the tenant to that port.
 * - port_scan: more than scan.destinations distinct (address, port) pairs
 *   within scan.window. Fires at once; resolves when the distinct count in
 *   the last window is back at or under the threshold.
 * - smtp_fanout: more than smtp.destinations distinct addresses on ports
 *   25, 465 and 587 within smtp.window; fires and resolves like port_scan.
 *
 * One alert per tenant and rule (and port, for pool_port) while it fires:
 * further evidence is counted (netabuse_suppressed), not alerted again.
 * Memory per tenant is bounded: at most scan.destinations + 1 and
 * smtp.destinations + 1 destinations are remembered (the oldest give way,
 * which can only keep a count that is already over its threshold there),
 * and at most NETABUSE_MAX_POOL_PORTS pool ports per tenant.
 * Addresses are only compared, never logged.
 */
#ifndef ABUSEWATCH_NETABUSE_H
#define ABUSEWATCH_NETABUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "config.h"

#define POOL_PORT_HOLD_S 300.0
#define NETABUSE_MAX_POOL_PORTS 16

enum netabuse_rule {
	NETABUSE_POOL_PORT,
	NETABUSE_PORT_SCAN,
	NETABUSE_SMTP_FANOUT,
	NETABUSE_RULE_COUNT,
};

/* "pool_port", "port_scan", "smtp_fanout": the alert's `rule`. */
const char *netabuse_rule_name(enum netabuse_rule rule);

/* The tenant of a connect; strings borrowed for the call. */
struct netabuse_tenant {
	const char *name;
	const char *plan;	/* for its alerts; NULL: "" */
	const char *cgroup;
};

struct netabuse;

struct netabuse *netabuse_new(void);
void netabuse_free(struct netabuse *netabuse);

/*
 * The rules' settings, copied (reload); windows already counted are kept,
 * cut to the new capacities. Connects before the first call are not counted.
 */
void netabuse_configure(struct netabuse *netabuse, const struct network_config *network);

/*
 * A connect() of @tenant at @now (monotonic seconds) to @addr (16 bytes:
 * IPv6, or IPv4 mapped as ::ffff:a.b.c.d) and @port. Alerts that fire are
 * passed to @fn at once, finished: rule, reason, destinations or port, and
 * since (monotonic). 0, or -ENOMEM (the connect is not counted).
 */
int netabuse_connect(struct netabuse *netabuse, const struct netabuse_tenant *tenant,
		     const uint8_t addr[16], uint16_t port, double now, alert_fn fn, void *ctx);

/*
 * A probe of @tenant to @addr and @port that no connect() made: a TCP SYN
 * or UDP datagram it wrote itself on a raw IP or packet socket. Counted
 * for port_scan only (a scan passing a pool or SMTP port is a scan), as
 * netabuse_connect() counts a connect; never a connect() call.
 */
int netabuse_probe(struct netabuse *netabuse, const struct netabuse_tenant *tenant,
		   const uint8_t addr[16], uint16_t port, double now, alert_fn fn, void *ctx);

/* Expires old destinations and resolves what no longer holds. */
void netabuse_tick(struct netabuse *netabuse, double now, alert_fn fn, void *ctx);

/* @tenant is gone: what fires for it resolves, and its state is dropped. */
void netabuse_forget(struct netabuse *netabuse, const char *tenant, double now,
		     alert_fn fn, void *ctx);

/* Evidence seen while the same alert already fired, all tenants, since start. */
uint64_t netabuse_suppressed(const struct netabuse *netabuse);

/* Tenants with state: something firing or destinations in a window. */
size_t netabuse_tenant_count(const struct netabuse *netabuse);

/* Alerts firing now. */
size_t netabuse_firing(const struct netabuse *netabuse);

/*
 * Its firing alerts survive a restart, as the evaluator's do
 * (evaluate_state.h), in their own JSON file (state_dir/
 * firing-network.json, resume.h): saved whole (atomically, mode 0600) after
 * a tick that fired or resolved one, and at most every few seconds while
 * evidence only moves when a firing alert would resolve. Each alert keeps
 * its start (since) and that deadline (hold_until, wall time): when its
 * last window's destinations would have fallen to the threshold, or
 * POOL_PORT_HOLD_S after its last connect to the pool port. Destinations
 * themselves are not saved (addresses are never written down).
 */

/* Whether a save is due at @now: something fired or resolved, or (paced, or @final) moved. */
bool netabuse_save_due(const struct netabuse *netabuse, double now, bool final);

/* Writes every firing alert to @path, times as wall time (@now_wall). 0 or -errno. */
int netabuse_save(struct netabuse *netabuse, const char *path, double now_wall, double now);

/*
 * Takes up the alerts @path holds, without a new record; to be called once
 * configured, before the connects queued while no agent ran are read. Each
 * keeps its start and goes on as if the agent had not stopped: a pool port
 * resolves POOL_PORT_HOLD_S after its last connect, before or after the
 * restart; port_scan and smtp_fanout hold while their window is over the
 * threshold, and until a window has passed since the load, also while the
 * saved deadline has not passed or destinations come again. 0 or -errno
 * (-ENOENT: no file; -EINVAL: not a state file, logged: its alerts are
 * lost, those still true fire again). Entries not valid are skipped, logged.
 */
int netabuse_load(struct netabuse *netabuse, const char *path, double now_wall, double now);

#endif
