// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/rules/netabuse.c: pool ports, port scans and SMTP fan-out,
 * their windows, one alert while firing, bounded memory, reloads, and
 * tenants that go.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "assert_near.h"
#include "config.h"
#include "log.h"
#include "netabuse.h"

#define MAX_RECORDED 64

struct recorded {
	char tenant[32];
	enum netabuse_rule rule;
	bool firing;
	uint16_t dst_port;
	unsigned int destinations;
	double window_s;
	double since;
};

/* Alerts, copied: their strings live only during the callback. */
struct recorder {
	struct recorded items[MAX_RECORDED];
	size_t count;
	size_t fired;
	size_t resolved;
};

/* The rule's enum from the name an alert carries. */
static enum netabuse_rule rule_of(const char *name)
{
	int rule;

	for (rule = 0; rule < NETABUSE_RULE_COUNT; rule++)
		if (!strcmp(netabuse_rule_name(rule), name))
			return rule;
	fail_msg("unknown rule %s", name);
	return NETABUSE_RULE_COUNT;
}

/* Alerts as every rule hands them out (alert_fn): finished, with a reason. */
static void record(struct alert *alert, void *ctx)
{
	struct recorder *recorder = ctx;
	struct recorded *item;

	if (alert->firing)
		recorder->fired++;
	else
		recorder->resolved++;
	if (recorder->count == MAX_RECORDED)
		return;
	item = &recorder->items[recorder->count++];
	snprintf(item->tenant, sizeof(item->tenant), "%s", alert->tenant);
	item->rule = rule_of(alert->rule);
	assert_int_equal(alert->kind, ALERT_NETWORK_ABUSE);
	assert_non_null(alert->reason);
	assert_string_equal(alert->plan, "p");
	assert_string_equal(alert->cgroup, "/c");
	item->firing = alert->firing;
	item->dst_port = alert->dst_port;
	item->destinations = alert->destinations;
	item->window_s = alert->window_s;
	item->since = alert->since;
}

static void expect_alert(const struct recorder *recorder, size_t index, const char *tenant,
			 enum netabuse_rule rule, bool firing, unsigned int destinations,
			 double since)
{
	const struct recorded *item = &recorder->items[index];

	assert_true(index < recorder->count);
	assert_string_equal(item->tenant, tenant);
	assert_int_equal(item->rule, rule);
	assert_int_equal(item->firing, firing);
	assert_int_equal(item->destinations, destinations);
	assert_near(item->since, since, 1e-9);
}

static uint16_t test_pool_ports[] = {3333, 4444};

/* Pool ports 3333 and 4444; the thresholds and windows given. */
static struct network_config make_network(unsigned int scan, double scan_window_s,
					  unsigned int smtp, double smtp_window_s)
{
	struct network_config network = {
	    .pool_ports = test_pool_ports,
	    .pool_ports_count = 2,
	    .scan = {.destinations = scan, .window_ms = scan_window_s * 1000},
	    .smtp = {.destinations = smtp, .window_ms = smtp_window_s * 1000},
	};

	return network;
}

static struct netabuse *start(unsigned int scan, double scan_window_s, unsigned int smtp,
			      double smtp_window_s)
{
	struct network_config network = make_network(scan, scan_window_s, smtp, smtp_window_s);
	struct netabuse *netabuse = netabuse_new();

	assert_non_null(netabuse);
	netabuse_configure(netabuse, &network);
	return netabuse;
}

/* 2001:db8::/96 plus @n. */
static void ipv6_address(uint8_t addr[16], uint32_t n)
{
	static const uint8_t prefix[12] = {0x20, 0x01, 0x0d, 0xb8};

	memcpy(addr, prefix, sizeof(prefix));
	addr[12] = n >> 24;
	addr[13] = n >> 16;
	addr[14] = n >> 8;
	addr[15] = n;
}

/* ::ffff:a.b.c.d */
static void ipv4_mapped_address(uint8_t addr[16], uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	memset(addr, 0, 16);
	addr[10] = 0xff;
	addr[11] = 0xff;
	addr[12] = a;
	addr[13] = b;
	addr[14] = c;
	addr[15] = d;
}

static void connect_to(struct netabuse *netabuse, const char *tenant, uint32_t n, uint16_t port,
		       double now, struct recorder *recorder)
{
	uint8_t addr[16];

	ipv6_address(addr, n);
	assert_int_equal(netabuse_connect(netabuse, &(struct netabuse_tenant){ tenant, "p", "/c" }, addr, port, now, record, recorder), 0);
}

static void test_rule_names(void **state)
{
	assert_string_equal(netabuse_rule_name(NETABUSE_POOL_PORT), "pool_port");
	assert_string_equal(netabuse_rule_name(NETABUSE_PORT_SCAN), "port_scan");
	assert_string_equal(netabuse_rule_name(NETABUSE_SMTP_FANOUT), "smtp_fanout");
}

static void test_pool_port_fires_once_and_resolves(void **state)
{
	struct netabuse *netabuse = start(200, 10, 20, 60);
	struct recorder recorder = {};
	int i;

	for (i = 0; i < 5; i++)
		connect_to(netabuse, "t1", 1, 3333, i, &recorder);
	assert_int_equal(recorder.count, 1);
	expect_alert(&recorder, 0, "t1", NETABUSE_POOL_PORT, true, 0, 0);
	assert_int_equal(recorder.items[0].dst_port, 3333);
	assert_near(recorder.items[0].window_s, POOL_PORT_HOLD_S, 0);
	assert_int_equal(netabuse_suppressed(netabuse), 4);

	/* Held for POOL_PORT_HOLD_S after the last connect, at 4. */
	netabuse_tick(netabuse, 4 + POOL_PORT_HOLD_S - 0.5, record, &recorder);
	assert_int_equal(recorder.count, 1);
	assert_int_equal(netabuse_tenant_count(netabuse), 1);
	netabuse_tick(netabuse, 4 + POOL_PORT_HOLD_S, record, &recorder);
	assert_int_equal(recorder.count, 2);
	expect_alert(&recorder, 1, "t1", NETABUSE_POOL_PORT, false, 0, 0);
	assert_int_equal(recorder.items[1].dst_port, 3333);
	assert_int_equal(netabuse_tenant_count(netabuse), 0);

	/* Resolved: the next connect fires anew. */
	connect_to(netabuse, "t1", 1, 3333, 400, &recorder);
	assert_int_equal(recorder.count, 3);
	expect_alert(&recorder, 2, "t1", NETABUSE_POOL_PORT, true, 0, 400);
	netabuse_free(netabuse);
}

static void test_pool_ports_apart(void **state)
{
	struct network_config network = make_network(200, 10, 20, 60);
	uint16_t many_ports[NETABUSE_MAX_POOL_PORTS + 2];
	struct netabuse *netabuse = start(200, 10, 20, 60);
	struct recorder recorder = {};
	size_t i;

	/* Not a pool port: nothing. */
	connect_to(netabuse, "t1", 1, 443, 0, &recorder);
	connect_to(netabuse, "t1", 1, 3334, 0, &recorder);
	assert_int_equal(recorder.count, 0);

	connect_to(netabuse, "t1", 1, 3333, 1, &recorder);
	connect_to(netabuse, "t1", 2, 4444, 2, &recorder);
	connect_to(netabuse, "t1", 3, 4444, 3, &recorder);
	assert_int_equal(recorder.count, 2);
	assert_int_equal(recorder.items[0].dst_port, 3333);
	assert_int_equal(recorder.items[1].dst_port, 4444);
	assert_near(recorder.items[1].since, 2, 0);
	assert_int_equal(netabuse_suppressed(netabuse), 1);

	/* Each resolves on its own last connect. */
	netabuse_tick(netabuse, 1 + POOL_PORT_HOLD_S, record, &recorder);
	assert_int_equal(recorder.count, 3);
	expect_alert(&recorder, 2, "t1", NETABUSE_POOL_PORT, false, 0, 1);
	assert_int_equal(recorder.items[2].dst_port, 3333);
	netabuse_tick(netabuse, 3 + POOL_PORT_HOLD_S, record, &recorder);
	assert_int_equal(recorder.count, 4);
	assert_int_equal(recorder.items[3].dst_port, 4444);
	netabuse_free(netabuse);

	/* At most NETABUSE_MAX_POOL_PORTS fire per tenant; the rest is counted. */
	for (i = 0; i < NETABUSE_MAX_POOL_PORTS + 2; i++)
		many_ports[i] = 10000 + i;
	network.pool_ports = many_ports;
	network.pool_ports_count = NETABUSE_MAX_POOL_PORTS + 2;
	netabuse = netabuse_new();
	assert_non_null(netabuse);
	netabuse_configure(netabuse, &network);
	memset(&recorder, 0, sizeof(recorder));
	for (i = 0; i < NETABUSE_MAX_POOL_PORTS + 2; i++)
		connect_to(netabuse, "t1", 1, many_ports[i], 0, &recorder);
	assert_int_equal(recorder.fired, NETABUSE_MAX_POOL_PORTS);
	assert_int_equal(netabuse_suppressed(netabuse), 2);
	netabuse_forget(netabuse, "t1", 1, record, &recorder);
	assert_int_equal(recorder.resolved, NETABUSE_MAX_POOL_PORTS);
	netabuse_free(netabuse);
}

static void test_port_scan_threshold(void **state)
{
	struct netabuse *netabuse = start(5, 10, 20, 60);
	struct recorder recorder = {};
	int i;

	for (i = 0; i < 5; i++)
		connect_to(netabuse, "t1", i, 80, 0.1 * i, &recorder);
	assert_int_equal(recorder.count, 0);
	connect_to(netabuse, "t1", 5, 80, 0.5, &recorder);
	assert_int_equal(recorder.count, 1);
	expect_alert(&recorder, 0, "t1", NETABUSE_PORT_SCAN, true, 6, 0.5);
	assert_int_equal(recorder.items[0].dst_port, 0);
	assert_near(recorder.items[0].window_s, 10, 0);
	assert_int_equal(netabuse_suppressed(netabuse), 0);

	/* Firing: evidence only counts. */
	for (i = 6; i < 20; i++)
		connect_to(netabuse, "t1", i, 80, 1, &recorder);
	assert_int_equal(recorder.count, 1);
	assert_int_equal(netabuse_suppressed(netabuse), 14);
	netabuse_free(netabuse);
}

static void test_port_scan_distinct_destinations(void **state)
{
	struct netabuse *netabuse = start(5, 10, 20, 60);
	struct recorder recorder = {};
	int i;

	/* The same destination, over and over, is one. */
	for (i = 0; i < 100; i++)
		connect_to(netabuse, "t1", 1, 80, 0.01 * i, &recorder);
	for (i = 2; i < 6; i++)
		connect_to(netabuse, "t1", i, 80, 1, &recorder);
	assert_int_equal(recorder.count, 0);
	/* The same address on another port is another destination. */
	connect_to(netabuse, "t1", 1, 81, 1, &recorder);
	assert_int_equal(recorder.count, 1);
	expect_alert(&recorder, 0, "t1", NETABUSE_PORT_SCAN, true, 6, 1);
	netabuse_free(netabuse);
}

static void test_port_scan_spread_over_time(void **state)
{
	struct netabuse *netabuse = start(5, 10, 20, 60);
	struct recorder recorder = {};
	int i;

	/* One new destination every 2 s: never more than 5 in 10 s. */
	for (i = 0; i < 100; i++) {
		connect_to(netabuse, "t1", i, 80, 2.0 * i, &recorder);
		netabuse_tick(netabuse, 2.0 * i + 1, record, &recorder);
	}
	assert_int_equal(recorder.count, 0);
	assert_int_equal(netabuse_suppressed(netabuse), 0);
	netabuse_free(netabuse);
}

static void test_port_scan_resolves(void **state)
{
	struct netabuse *netabuse = start(5, 10, 20, 60);
	struct recorder recorder = {};
	int i;

	for (i = 0; i < 3; i++)
		connect_to(netabuse, "t1", i, 80, 0, &recorder);
	for (i = 3; i < 6; i++)
		connect_to(netabuse, "t1", i, 80, 5, &recorder);
	assert_int_equal(recorder.count, 1);
	expect_alert(&recorder, 0, "t1", NETABUSE_PORT_SCAN, true, 6, 5);

	netabuse_tick(netabuse, 9.5, record, &recorder);
	assert_int_equal(recorder.count, 1);
	/* The three from 0 leave the window; three are left, under the threshold. */
	netabuse_tick(netabuse, 10, record, &recorder);
	assert_int_equal(recorder.count, 2);
	expect_alert(&recorder, 1, "t1", NETABUSE_PORT_SCAN, false, 3, 5);
	assert_near(recorder.items[1].window_s, 10, 0);
	assert_int_equal(netabuse_tenant_count(netabuse), 1);
	netabuse_tick(netabuse, 15, record, &recorder);
	assert_int_equal(recorder.count, 2);
	assert_int_equal(netabuse_tenant_count(netabuse), 0);
	netabuse_free(netabuse);
}

static void test_ipv4_mapped_and_ipv6_apart(void **state)
{
	struct netabuse *netabuse = start(1, 10, 20, 60);
	struct netabuse_tenant t1 = { "t1", "p", "/c" };
	struct recorder recorder = {};
	uint8_t mapped[16], compatible[16];

	ipv4_mapped_address(mapped, 10, 0, 0, 1);
	/* ::10.0.0.1: the same last four bytes, another address. */
	memcpy(compatible, mapped, 16);
	compatible[10] = 0;
	compatible[11] = 0;
	assert_int_equal(netabuse_connect(netabuse, &t1, mapped, 80, 0, record, &recorder), 0);
	assert_int_equal(netabuse_connect(netabuse, &t1, mapped, 80, 1, record, &recorder), 0);
	assert_int_equal(recorder.count, 0);
	assert_int_equal(netabuse_connect(netabuse, &t1, compatible, 80, 2, record, &recorder),
			 0);
	assert_int_equal(recorder.count, 1);
	expect_alert(&recorder, 0, "t1", NETABUSE_PORT_SCAN, true, 2, 2);
	netabuse_free(netabuse);
}

static void test_smtp_fanout(void **state)
{
	struct netabuse *netabuse = start(1000, 10, 3, 60);
	struct recorder recorder = {};

	connect_to(netabuse, "t1", 1, 25, 0, &recorder);
	connect_to(netabuse, "t1", 2, 465, 1, &recorder);
	connect_to(netabuse, "t1", 3, 587, 2, &recorder);
	/* The same address on the other SMTP ports, and other ports: still 3. */
	connect_to(netabuse, "t1", 1, 465, 3, &recorder);
	connect_to(netabuse, "t1", 1, 587, 3, &recorder);
	connect_to(netabuse, "t1", 4, 80, 3, &recorder);
	connect_to(netabuse, "t1", 5, 2525, 3, &recorder);
	assert_int_equal(recorder.count, 0);
	connect_to(netabuse, "t1", 6, 587, 4, &recorder);
	assert_int_equal(recorder.count, 1);
	expect_alert(&recorder, 0, "t1", NETABUSE_SMTP_FANOUT, true, 4, 4);
	assert_near(recorder.items[0].window_s, 60, 0);
	assert_int_equal(recorder.items[0].dst_port, 0);

	/* Address 1 was seen again at 3: address 2, from 1, is the first to leave, at 61. */
	netabuse_tick(netabuse, 60.5, record, &recorder);
	assert_int_equal(recorder.count, 1);
	netabuse_tick(netabuse, 61, record, &recorder);
	assert_int_equal(recorder.count, 2);
	expect_alert(&recorder, 1, "t1", NETABUSE_SMTP_FANOUT, false, 3, 4);
	netabuse_free(netabuse);
}

static void probe_to(struct netabuse *netabuse, const char *tenant, uint32_t n, uint16_t port,
		     double now, struct recorder *recorder)
{
	uint8_t addr[16];

	ipv6_address(addr, n);
	assert_int_equal(netabuse_probe(netabuse, &(struct netabuse_tenant){ tenant, "p", "/c" },
					addr, port, now, record, recorder),
			 0);
}

/* Probes (SYNs, UDP datagrams of raw and packet sockets) count for port_scan only. */
static void test_probes_scan_only(void **state)
{
	struct netabuse *netabuse = start(5, 10, 3, 60);
	struct recorder recorder = {};
	int i;

	/* Pool ports and SMTP ports of many addresses: neither pool_port nor smtp_fanout. */
	probe_to(netabuse, "t1", 1, 3333, 0, &recorder);
	probe_to(netabuse, "t1", 2, 25, 0.1, &recorder);
	probe_to(netabuse, "t1", 3, 25, 0.2, &recorder);
	probe_to(netabuse, "t1", 4, 25, 0.3, &recorder);
	probe_to(netabuse, "t1", 5, 25, 0.4, &recorder);
	assert_int_equal(recorder.count, 0);
	/* The sixth distinct destination: port_scan, counted with the connects. */
	connect_to(netabuse, "t1", 6, 80, 0.5, &recorder);
	assert_int_equal(recorder.count, 1);
	expect_alert(&recorder, 0, "t1", NETABUSE_PORT_SCAN, true, 6, 0.5);
	/* A probe and a connect to one destination are one destination. */
	for (i = 0; i < 3; i++)
		probe_to(netabuse, "t2", 1, 80, i, &recorder);
	connect_to(netabuse, "t2", 1, 80, 3, &recorder);
	assert_int_equal(recorder.count, 1);
	netabuse_free(netabuse);
}

static void test_tenants_apart(void **state)
{
	struct netabuse *netabuse = start(3, 10, 20, 60);
	struct recorder recorder = {};
	int i;

	for (i = 0; i < 3; i++) {
		connect_to(netabuse, "a", i, 80, 0, &recorder);
		connect_to(netabuse, "b", i, 80, 0, &recorder);
	}
	assert_int_equal(recorder.count, 0);
	assert_int_equal(netabuse_tenant_count(netabuse), 2);
	connect_to(netabuse, "a", 3, 80, 1, &recorder);
	assert_int_equal(recorder.count, 1);
	expect_alert(&recorder, 0, "a", NETABUSE_PORT_SCAN, true, 4, 1);
	connect_to(netabuse, "b", 0, 80, 1, &recorder);
	assert_int_equal(recorder.count, 1);
	netabuse_free(netabuse);
}

static double elapsed_since(const struct timespec *start_time)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start_time->tv_sec) + (now.tv_nsec - start_time->tv_nsec) / 1e9;
}

static void test_memory_bound(void **state)
{
	static const unsigned int thresholds[] = {200, 10000};
	struct timespec start_time;
	size_t t;
	int i;

	for (t = 0; t < sizeof(thresholds) / sizeof(thresholds[0]); t++) {
		struct netabuse *netabuse = start(thresholds[t], 10, 20, 60);
		struct recorder recorder = {};

		clock_gettime(CLOCK_MONOTONIC, &start_time);
		for (i = 0; i < 100000; i++)
			connect_to(netabuse, "t1", i, 80 + i % 7, i * 1e-5, &recorder);
		/* Generous, so that a loaded machine passes: the bound is on the cost, not a benchmark. */
		assert_true(elapsed_since(&start_time) < 10);
		assert_int_equal(recorder.count, 1);
		expect_alert(&recorder, 0, "t1", NETABUSE_PORT_SCAN, true, thresholds[t] + 1,
			     thresholds[t] * 1e-5);
		assert_int_equal(netabuse_suppressed(netabuse), 100000 - thresholds[t] - 1);
		/* Only threshold + 1 were kept. */
		netabuse_forget(netabuse, "t1", 1, record, &recorder);
		assert_int_equal(recorder.count, 2);
		expect_alert(&recorder, 1, "t1", NETABUSE_PORT_SCAN, false, thresholds[t] + 1,
			     thresholds[t] * 1e-5);
		assert_int_equal(netabuse_tenant_count(netabuse), 0);
		netabuse_free(netabuse);
	}
}

static void test_forget_resolves(void **state)
{
	struct netabuse *netabuse = start(1, 10, 1, 60);
	struct recorder recorder = {};

	connect_to(netabuse, "t1", 1, 25, 0, &recorder);
	connect_to(netabuse, "t1", 2, 25, 0, &recorder);
	connect_to(netabuse, "t1", 3, 3333, 1, &recorder);
	connect_to(netabuse, "t2", 1, 3333, 1, &recorder);
	assert_int_equal(recorder.fired, 4);
	assert_int_equal(netabuse_tenant_count(netabuse), 2);

	netabuse_forget(netabuse, "nobody", 2, record, &recorder);
	assert_int_equal(recorder.count, 4);
	netabuse_forget(netabuse, "t1", 2, record, &recorder);
	assert_int_equal(recorder.count, 7);
	/* Three destinations, of which threshold + 1 are kept. */
	expect_alert(&recorder, 4, "t1", NETABUSE_PORT_SCAN, false, 2, 0);
	expect_alert(&recorder, 5, "t1", NETABUSE_SMTP_FANOUT, false, 2, 0);
	expect_alert(&recorder, 6, "t1", NETABUSE_POOL_PORT, false, 0, 1);
	assert_int_equal(recorder.items[6].dst_port, 3333);
	assert_int_equal(netabuse_tenant_count(netabuse), 1);

	/* Gone for good: a later tick says nothing more of it. */
	netabuse_tick(netabuse, 1000, record, &recorder);
	assert_int_equal(recorder.count, 8);
	assert_string_equal(recorder.items[7].tenant, "t2");
	assert_int_equal(netabuse_tenant_count(netabuse), 0);
	netabuse_free(netabuse);
}

static void test_configure_changes_capacity(void **state)
{
	struct network_config network = make_network(10, 100, 20, 60);
	struct netabuse *netabuse = start(10, 100, 20, 60);
	struct recorder recorder = {};
	int i;

	for (i = 0; i <= 10; i++)
		connect_to(netabuse, "t1", i, 80, i, &recorder);
	assert_int_equal(recorder.count, 1);
	expect_alert(&recorder, 0, "t1", NETABUSE_PORT_SCAN, true, 11, 10);

	/* Down to 3: the newest 4, from 7 to 10, are kept. */
	network.scan.destinations = 3;
	netabuse_configure(netabuse, &network);
	netabuse_tick(netabuse, 106.5, record, &recorder);
	assert_int_equal(recorder.count, 1);
	netabuse_tick(netabuse, 107, record, &recorder);
	assert_int_equal(recorder.count, 2);
	expect_alert(&recorder, 1, "t1", NETABUSE_PORT_SCAN, false, 3, 10);

	/* Up to 1000 and back down under what is kept, with nothing firing. */
	network.scan.destinations = 1000;
	netabuse_configure(netabuse, &network);
	for (i = 0; i < 50; i++)
		connect_to(netabuse, "t1", 100 + i, 80, 108, &recorder);
	assert_int_equal(recorder.count, 2);
	network.scan.destinations = 10;
	netabuse_configure(netabuse, &network);
	connect_to(netabuse, "t1", 1000, 80, 109, &recorder);
	assert_int_equal(recorder.count, 3);
	expect_alert(&recorder, 2, "t1", NETABUSE_PORT_SCAN, true, 11, 109);
	netabuse_free(netabuse);
}

static void test_idle_tenants_dropped(void **state)
{
	struct netabuse *netabuse = start(200, 10, 20, 60);
	struct recorder recorder = {};
	char name[32];
	int i;

	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "tenant-%d", i);
		connect_to(netabuse, name, 1, i % 2 ? 25 : 80, 0, &recorder);
	}
	connect_to(netabuse, "miner", 1, 3333, 0, &recorder);
	assert_int_equal(netabuse_tenant_count(netabuse), 1001);
	netabuse_tick(netabuse, 5, record, &recorder);
	assert_int_equal(netabuse_tenant_count(netabuse), 1001);
	/* The scan window is over; SMTP destinations last a minute. */
	netabuse_tick(netabuse, 10, record, &recorder);
	assert_int_equal(netabuse_tenant_count(netabuse), 501);
	netabuse_tick(netabuse, 60, record, &recorder);
	assert_int_equal(netabuse_tenant_count(netabuse), 1);
	/* The pool port holds the miner. */
	netabuse_tick(netabuse, POOL_PORT_HOLD_S, record, &recorder);
	assert_int_equal(netabuse_tenant_count(netabuse), 0);
	assert_int_equal(recorder.fired, 1);
	assert_int_equal(recorder.resolved, 1);
	netabuse_free(netabuse);
}

static void test_not_configured(void **state)
{
	struct netabuse *netabuse = netabuse_new();
	struct recorder recorder = {};

	assert_non_null(netabuse);
	connect_to(netabuse, "t1", 1, 3333, 0, &recorder);
	assert_int_equal(recorder.count, 0);
	assert_int_equal(netabuse_tenant_count(netabuse), 0);
	netabuse_tick(netabuse, 1, record, &recorder);
	netabuse_free(netabuse);
	netabuse_free(NULL);
}

/* A scratch file path of its own; removed by remove_scratch(). */
static void scratch_path(char *path, size_t size)
{
	char dir[] = "/tmp/test_netabuse.XXXXXX";

	assert_non_null(mkdtemp(dir));
	snprintf(path, size, "%s/firing-network.json", dir);
}

static void remove_scratch(const char *path)
{
	char dir[256];

	unlink(path);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

/* t1 fires port_scan at 5 (3 destinations at 0, 3 at 5; threshold 5, window 10). */
static struct netabuse *scan_fired(struct recorder *recorder)
{
	struct netabuse *netabuse = start(5, 10, 20, 60);
	int i;

	for (i = 0; i < 3; i++)
		connect_to(netabuse, "t1", i, 80, 0, recorder);
	for (i = 3; i < 6; i++)
		connect_to(netabuse, "t1", i, 80, 5, recorder);
	assert_int_equal(recorder->fired, 1);
	return netabuse;
}

static void test_restart_scan_goes_on(void **state)
{
	struct recorder recorder = {}, after = {};
	struct netabuse *netabuse = scan_fired(&recorder), *next;
	char path[64];
	struct stat st;
	int i;

	scratch_path(path, sizeof(path));
	assert_true(netabuse_save_due(netabuse, 6, false));
	/* Monotonic 6 is wall 1006; the next run's monotonic 100 is wall 1008. */
	assert_int_equal(netabuse_save(netabuse, path, 1006, 6), 0);
	assert_false(netabuse_save_due(netabuse, 6, false));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	netabuse_free(netabuse);

	next = start(5, 10, 20, 60);
	assert_int_equal(netabuse_load(next, path, 1008, 100), 0);
	assert_int_equal(netabuse_firing(next), 1);
	assert_int_equal(after.count, 0);
	/* The scan goes on: no second firing record, nor a resolve. */
	for (i = 10; i < 16; i++)
		connect_to(next, "t1", i, 80, 100.5, &after);
	assert_int_equal(after.count, 0);
	assert_int_equal(netabuse_suppressed(next), 6);
	netabuse_tick(next, 110, record, &after);
	assert_int_equal(after.count, 0);
	/* Evidence only moved the deadline: saved when paced, or on the last tick. */
	assert_false(netabuse_save_due(next, 101, false));
	assert_true(netabuse_save_due(next, 101, true));
	/* Its window over: one resolve, with the start of the last run (wall 1005). */
	netabuse_tick(next, 110.5, record, &after);
	assert_int_equal(after.count, 1);
	expect_alert(&after, 0, "t1", NETABUSE_PORT_SCAN, false, 0, 97);
	assert_true(netabuse_save_due(next, 110.5, false));
	netabuse_tick(next, 130, record, &after);
	assert_int_equal(after.count, 1);
	assert_int_equal(netabuse_firing(next), 0);
	netabuse_free(next);
	remove_scratch(path);
}

static void test_restart_scan_stopped_while_down(void **state)
{
	struct recorder recorder = {}, after = {};
	struct netabuse *netabuse = scan_fired(&recorder), *next;
	char path[64];

	scratch_path(path, sizeof(path));
	/* The count falls to the threshold at 10 (wall 1010). */
	assert_int_equal(netabuse_save(netabuse, path, 1006, 6), 0);
	netabuse_free(netabuse);

	/* Started at wall 1008: held until then, resolved at it. */
	next = start(5, 10, 20, 60);
	assert_int_equal(netabuse_load(next, path, 1008, 50), 0);
	netabuse_tick(next, 51.9, record, &after);
	assert_int_equal(after.count, 0);
	netabuse_tick(next, 52, record, &after);
	assert_int_equal(after.count, 1);
	expect_alert(&after, 0, "t1", NETABUSE_PORT_SCAN, false, 0, 47);
	netabuse_free(next);

	/* Started at wall 1020: resolved at the first tick, once. */
	after = (struct recorder){};
	next = start(5, 10, 20, 60);
	assert_int_equal(netabuse_load(next, path, 1020, 50), 0);
	netabuse_tick(next, 50.2, record, &after);
	netabuse_tick(next, 51, record, &after);
	assert_int_equal(after.count, 1);
	assert_int_equal(after.resolved, 1);
	netabuse_free(next);
	remove_scratch(path);
}

/* A few destinations after the restart, under the threshold: the window decides, a window on. */
static void test_restart_scan_slows(void **state)
{
	struct recorder recorder = {}, after = {};
	struct netabuse *netabuse = scan_fired(&recorder), *next;
	char path[64];

	scratch_path(path, sizeof(path));
	assert_int_equal(netabuse_save(netabuse, path, 1006, 6), 0);
	netabuse_free(netabuse);
	next = start(5, 10, 20, 60);
	assert_int_equal(netabuse_load(next, path, 1008, 100), 0);
	connect_to(next, "t1", 20, 80, 100.1, &after);
	connect_to(next, "t1", 21, 80, 105, &after);
	netabuse_tick(next, 109.9, record, &after);
	assert_int_equal(after.count, 0);
	netabuse_tick(next, 110, record, &after);
	assert_int_equal(after.count, 1);
	expect_alert(&after, 0, "t1", NETABUSE_PORT_SCAN, false, 2, 97);
	netabuse_free(next);
	remove_scratch(path);
}

static void test_restart_pool_port(void **state)
{
	struct netabuse *netabuse = start(5, 10, 20, 60), *next;
	struct recorder recorder = {}, after = {};
	char path[64];

	scratch_path(path, sizeof(path));
	connect_to(netabuse, "t1", 1, 3333, 0, &recorder);
	connect_to(netabuse, "t1", 1, 3333, 100, &recorder);
	assert_int_equal(recorder.fired, 1);
	/* Held until 400, wall 2400. */
	assert_int_equal(netabuse_save(netabuse, path, 2120, 120), 0);
	netabuse_free(netabuse);

	next = start(5, 10, 20, 60);
	assert_int_equal(netabuse_load(next, path, 2200, 10), 0);
	assert_int_equal(netabuse_firing(next), 1);
	netabuse_tick(next, 209, record, &after);
	assert_int_equal(after.count, 0);
	netabuse_tick(next, 210, record, &after);
	assert_int_equal(after.count, 1);
	expect_alert(&after, 0, "t1", NETABUSE_POOL_PORT, false, 0, -190);
	assert_int_equal(after.items[0].dst_port, 3333);
	netabuse_free(next);

	/* Connected again after the restart: the same alert, held from then. */
	after = (struct recorder){};
	next = start(5, 10, 20, 60);
	assert_int_equal(netabuse_load(next, path, 2200, 10), 0);
	connect_to(next, "t1", 1, 3333, 50, &after);
	netabuse_tick(next, 349, record, &after);
	assert_int_equal(after.count, 0);
	netabuse_tick(next, 350, record, &after);
	assert_int_equal(after.count, 1);
	assert_false(after.items[0].firing);
	netabuse_free(next);
	remove_scratch(path);
}

static void test_restart_bad_files(void **state)
{
	struct netabuse *netabuse = start(5, 10, 20, 60);
	char path[64];
	FILE *file;

	scratch_path(path, sizeof(path));
	assert_int_equal(netabuse_load(netabuse, path, 1000, 1), -ENOENT);
	file = fopen(path, "w");
	assert_non_null(file);
	fputs("{\"alerts\": 3}", file);
	fclose(file);
	assert_int_equal(netabuse_load(netabuse, path, 1000, 1), -EINVAL);
	file = fopen(path, "w");
	assert_non_null(file);
	/* Unknown rule, no tenant, a pool port without its port, then a valid one. */
	fputs("{\"alerts\": [{\"tenant\": \"t1\", \"plan\": \"p\", \"cgroup\": \"/c\", "
	      "\"rule\": \"x\", \"since\": 1, \"hold_until\": 2}, "
	      "{\"tenant\": \"\", \"plan\": \"p\", \"cgroup\": \"/c\", "
	      "\"rule\": \"port_scan\", \"since\": 1, \"hold_until\": 2}, "
	      "{\"tenant\": \"t1\", \"plan\": \"p\", \"cgroup\": \"/c\", "
	      "\"rule\": \"pool_port\", \"since\": 1, \"hold_until\": 2}, "
	      "{\"tenant\": \"t1\", \"plan\": \"p\", \"cgroup\": \"/c\", "
	      "\"rule\": \"smtp_fanout\", \"since\": 990, \"hold_until\": 1e300}]}", file);
	fclose(file);
	assert_int_equal(netabuse_load(netabuse, path, 1000, 1), 0);
	assert_int_equal(netabuse_firing(netabuse), 1);
	/* A deadline far off holds no longer than the window (60 s) after the start. */
	netabuse_tick(netabuse, 61, NULL, NULL);
	assert_int_equal(netabuse_firing(netabuse), 0);
	/* Nothing fires: the file saved holds none. */
	assert_int_equal(netabuse_save(netabuse, path, 1100, 100), 0);
	netabuse_free(netabuse);
	netabuse = start(5, 10, 20, 60);
	assert_int_equal(netabuse_load(netabuse, path, 1100, 1), 0);
	assert_int_equal(netabuse_firing(netabuse), 0);
	netabuse_free(netabuse);
	remove_scratch(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rule_names),
	    cmocka_unit_test(test_pool_port_fires_once_and_resolves),
	    cmocka_unit_test(test_pool_ports_apart),
	    cmocka_unit_test(test_port_scan_threshold),
	    cmocka_unit_test(test_port_scan_distinct_destinations),
	    cmocka_unit_test(test_port_scan_spread_over_time),
	    cmocka_unit_test(test_port_scan_resolves),
	    cmocka_unit_test(test_ipv4_mapped_and_ipv6_apart),
	    cmocka_unit_test(test_smtp_fanout),
	    cmocka_unit_test(test_probes_scan_only),
	    cmocka_unit_test(test_tenants_apart),
	    cmocka_unit_test(test_memory_bound),
	    cmocka_unit_test(test_forget_resolves),
	    cmocka_unit_test(test_configure_changes_capacity),
	    cmocka_unit_test(test_idle_tenants_dropped),
	    cmocka_unit_test(test_not_configured),
	    cmocka_unit_test(test_restart_scan_goes_on),
	    cmocka_unit_test(test_restart_scan_stopped_while_down),
	    cmocka_unit_test(test_restart_scan_slows),
	    cmocka_unit_test(test_restart_pool_port),
	    cmocka_unit_test(test_restart_bad_files),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
