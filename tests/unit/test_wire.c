// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for mining on the wire (wire.c): the shipped data of
 * data/network/ (every line parses, the domains the issue names are there,
 * no ordinary one), the parsers on malformed input, the stratum filter as
 * the egress probe searches with it, the pool-domain keys and bitmaps as
 * the probe hashes names (modelled on its DNS and server-name paths:
 * suffixes at label boundaries only, any case), and what an
 * event means for the software rules (rule, reason, builtin:miners only).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "data_lines.h"
#include "log.h"
#include "marker_model.h"
#include "software.h"
#include "wire.h"

extern const char network_stratum_markers_txt[], network_stratum_markers_txt_end[];
extern const char network_pool_domains_txt[], network_pool_domains_txt_end[];

static int marker_index(const struct wire_marker *markers, size_t count, const char *method,
			bool with)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (!strcmp(markers[i].method, method) && markers[i].with == with)
			return (int)i;
	return -1;
}

static void test_shipped_markers(void **state)
{
	const struct wire_marker *markers;
	size_t count;

	markers = wire_stratum_markers(&count);
	assert_int_equal(count, content_lines(network_stratum_markers_txt,
					      network_stratum_markers_txt_end));
	assert_true(count <= AW_ARGV_MARKERS_MAX);
	assert_true(marker_index(markers, count, "mining.subscribe", false) >= 0);
	assert_true(marker_index(markers, count, "mining.authorize", false) >= 0);
	assert_true(marker_index(markers, count, "eth_submitLogin", false) >= 0);
	assert_true(marker_index(markers, count, "login", false) >= 0);
	/* Monero's login needs its agent beside it. */
	assert_true(marker_index(markers, count, "login", true) >= 0);
	assert_memory_equal(markers[marker_index(markers, count, "login", true)].text, "\"agent\"",
			    7);
}

static bool has(const char *const *domains, size_t count, const char *name)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (!strcmp(domains[i], name))
			return true;
	return false;
}

static void test_shipped_domains(void **state)
{
	static const char *const wanted[] = {
		"supportxmr.com", "hashvault.pro", "minexmr.com", "nanopool.org", "2miners.com",
		"f2pool.com", "moneroocean.stream", "herominers.com", "unmineable.com",
		"nicehash.com", "c3pool.com",
	};
	/* Names a build, a CI job or a browser reaches every day. */
	static const char *const ordinary[] = {
		"github.com", "githubusercontent.com", "google.com", "debian.org", "example.com",
		"pypi.org", "npmjs.org", "docker.io", "amazonaws.com", "cloudflare.com",
		"btc.com", "binance.com", "com", "org", "io",
	};
	const char *const *domains;
	size_t count, i;

	domains = wire_pool_domains(&count);
	assert_int_equal(count, content_lines(network_pool_domains_txt, network_pool_domains_txt_end));
	assert_true(count <= AW_POOL_SUFFIXES_MAX);
	for (i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
		assert_true(has(domains, count, wanted[i]));
	for (i = 0; i < sizeof(ordinary) / sizeof(ordinary[0]); i++)
		assert_false(has(domains, count, ordinary[i]));
	for (i = 0; i < count; i++)
		assert_true(wire_valid_domain(domains[i], strlen(domains[i])));
}

static void test_parse_markers(void **state)
{
	static const char text[] = "# comment\n"
				   "method mining.subscribe \"mining.subscribe\"\n"
				   "  with login \"agent\"  \n"
				   "method login\n"			/* no text */
				   "other login \"login\"\n"		/* no such keyword */
				   "method x abc\n"			/* too short */
				   "method x 0123456789012345678901234567890123\n" /* too long */
				   "method bad\\x \\q\\0abc\n"		/* bad escape */
				   "method nul a\\0bcd\\\\\n";
	struct wire_marker markers[4];
	size_t count;

	/* The skipped lines' warnings are below main()'s log level. */
	count = wire_parse_markers(text, sizeof(text) - 1, markers, 4);
	assert_int_equal(count, 3);
	assert_string_equal(markers[0].method, "mining.subscribe");
	assert_false(markers[0].with);
	assert_int_equal(markers[0].len, 18);
	assert_string_equal(markers[1].method, "login");
	assert_true(markers[1].with);
	assert_int_equal(markers[2].len, 6);
	assert_memory_equal(markers[2].text, "a\0bcd\\", 6);

	/* At most @max. */
	count = wire_parse_markers(text, sizeof(text) - 1, markers, 1);
	assert_int_equal(count, 1);
}

static void test_parse_domains(void **state)
{
	static const char text[] = "# pools\n"
				   "supportxmr.com\n"
				   "  xmr.Pool.example\n"		/* uppercase */
				   "localhost\n"			/* one label */
				   "a.b.c.d.e\n"			/* five labels */
				   "bad..name\n"
				   ".lead.com\n"
				   "trail.com.\n"
				   "under_score.com\n"
				   "pool.hashvault.pro\n"
				   "supportxmr.com\n";			/* again */
	char **domains;
	size_t count;

	assert_int_equal(wire_parse_domains(text, sizeof(text) - 1, &domains, &count), 0);
	assert_int_equal(count, 2);
	assert_string_equal(domains[0], "supportxmr.com");
	assert_string_equal(domains[1], "pool.hashvault.pro");
	assert_null(domains[2]);
	free(domains);

	assert_true(wire_valid_domain("a.b.c.d", 7));
	assert_false(wire_valid_domain("a.b.c.d.e", 9));
	/* AW_POOL_SUFFIX_MAX bytes, not one more. */
	{
		char name[AW_POOL_SUFFIX_MAX + 2];

		memset(name, 'a', sizeof(name));
		memcpy(name + AW_POOL_SUFFIX_MAX - 4, ".com", 4);
		assert_true(wire_valid_domain(name, AW_POOL_SUFFIX_MAX));
		memcpy(name + AW_POOL_SUFFIX_MAX - 3, ".com", 4);
		assert_false(wire_valid_domain(name, AW_POOL_SUFFIX_MAX + 1));
	}
}

/*
 * The probe's search (bpf/wire.bpf.h) over a table of keys, modelled step
 * by step on a copy of what it reads: a DNS query's header and name in
 * wire form, or a server name, in a zeroed buffer like its scratch, read a
 * little-endian word at a time wherever a label begins (so the bytes past
 * a label, the next length byte and label, must be masked off as there).
 * The keys and bitmaps come from wire.c, as userspace fills the probe's:
 * a name found here is one the kernel and userspace hash alike.
 */
#define SCRATCH_MASK (AW_WIRE_SCAN_MAX - 1)
#define DNS_HEADER_LEN 12

struct suffix_table {
	struct pool_suffix_key keys[128];
	size_t count;
	__u64 bits[AW_POOL_SUFFIX_BITS / 64];
	__u64 tail_bits[AW_DNS_TAIL_BITS / 64];
	bool tail_short;
	unsigned int lookups;		/* in the map */
	unsigned int hashed;		/* DNS names past the tail bitmap */
};

static void table_fill(struct suffix_table *table, const char *const *suffixes, size_t count)
{
	size_t i;

	memset(table, 0, sizeof(*table));
	assert_true(count <= sizeof(table->keys) / sizeof(table->keys[0]));
	for (i = 0; i < count; i++)
		wire_suffix_key(suffixes[i], &table->keys[i]);
	table->count = count;
	wire_suffix_bits(suffixes, count, table->bits);
	table->tail_short = wire_dns_tail_bits(suffixes, count, table->tail_bits);
}

static bool bit_set(const __u64 *bits, __u32 bit)
{
	return bits[bit >> 6] >> (bit & 63) & 1;
}

/* lookup_suffix() */
static uint32_t table_lookup(struct suffix_table *table, uint64_t hash, uint32_t len)
{
	size_t i;

	table->lookups++;
	for (i = 0; i < table->count; i++)
		if (table->keys[i].hash == hash && table->keys[i].len == len)
			return (uint32_t)i + 1;
	return 0;
}

static uint64_t load_word(const unsigned char *buf, uint32_t at)
{
	uint64_t word;

	memcpy(&word, buf + (at & SCRATCH_MASK), sizeof(word));
	return aw_le64(word);
}

/* hash_label() */
static uint64_t model_hash_label(const unsigned char *buf, uint32_t start, uint32_t len,
				 uint64_t hash)
{
	uint32_t at;

	if (len < AW_SUFFIX_SHORT_LABEL)
		return aw_suffix_hash_short(hash, load_word(buf, start), len);
	hash = aw_suffix_hash_len(hash, len);
	for (at = 0; at < len && at < 64; at += 8)
		hash = aw_suffix_hash_word(hash, load_word(buf, start + at), len - at);
	return hash;
}

/* find_suffix(): the labels last first. */
static uint32_t model_find_suffix(struct suffix_table *table, const unsigned char *buf,
				  const uint32_t *starts, const uint32_t *lens, uint32_t count)
{
	uint64_t hash = AW_SUFFIX_HASH_START;
	uint32_t i, len = 0, found;

	for (i = 0; i < AW_POOL_SUFFIX_LABELS && i < count; i++) {
		len += lens[i] + (i ? 1 : 0);
		if (len > AW_POOL_SUFFIX_MAX)
			return 0;
		hash = model_hash_label(buf, starts[i], lens[i], hash);
		if (!i)
			continue;
		if (!bit_set(table->bits, aw_suffix_bit(hash, len))) {
			if (i == 1)
				return 0;
			continue;
		}
		found = table_lookup(table, hash, len);
		if (found)
			return found;
	}
	return 0;
}

/* A standard query for @name ("a.b", "a.b." alike) into @buf: its length. */
static uint32_t dns_query(const char *name, unsigned char *buf, size_t size)
{
	uint32_t n = DNS_HEADER_LEN;
	const char *label = name, *dot;
	size_t len;

	memset(buf, 0, size);
	buf[2] = 0x01;	/* RD */
	buf[5] = 1;	/* one question */
	while (*label) {
		dot = strchr(label, '.');
		len = dot ? (size_t)(dot - label) : strlen(label);
		assert_true(len > 0 && len < 64 && n + 1 + len + 5 < size);
		buf[n++] = (unsigned char)len;
		memcpy(buf + n, label, len);
		n += (uint32_t)len;
		if (!dot)
			break;
		label = dot + 1;
	}
	buf[n++] = 0;
	buf[n + 1] = 1;	/* type A */
	buf[n + 3] = 1;	/* class IN */
	return n + 4;
}

/* find_dns_suffix(), then find_dns_suffix_labels(), on the query for @name. */
static uint32_t probe_dns(struct suffix_table *table, const char *name)
{
	unsigned char buf[AW_WIRE_SCAN_MAX + 8];
	uint32_t n = dns_query(name, buf, sizeof(buf)), p = DNS_HEADER_LEN, k, i;
	uint32_t at[64], starts[AW_POOL_SUFFIX_LABELS], lens[AW_POOL_SUFFIX_LABELS];

	for (k = 0; k < AW_WIRE_DNS_LABELS; k++) {
		if (p >= n || buf[p] > 63)
			return 0;
		if (!buf[p])
			break;
		at[k] = p;
		p += buf[p] + 1u;
	}
	if (k < 2 || k == AW_WIRE_DNS_LABELS)
		return 0;
	if (p >= DNS_HEADER_LEN + AW_DNS_TAIL_LEN && !table->tail_short &&
	    !bit_set(table->tail_bits, aw_dns_tail_bit(load_word(buf, p - AW_DNS_TAIL_LEN))))
		return 0;
	table->hashed++;
	for (i = 0; i < AW_POOL_SUFFIX_LABELS && i < k; i++) {
		starts[i] = at[k - 1 - i] + 1;
		lens[i] = buf[at[k - 1 - i]];
	}
	return model_find_suffix(table, buf, starts, lens, i);
}

/* find_sni_suffix() and label_start() on the server name @name. */
static uint32_t probe_sni(struct suffix_table *table, const char *name)
{
	unsigned char buf[AW_WIRE_SCAN_MAX + 8] = { 0 };
	uint32_t len = (uint32_t)strlen(name), end, start, i, n, count = 0;
	uint32_t starts[AW_POOL_SUFFIX_LABELS], lens[AW_POOL_SUFFIX_LABELS];

	if (!len || len >= AW_WIRE_NAME_MAX)
		return 0;
	memcpy(buf, name, len);
	if (buf[len - 1] == '.')
		len--;
	end = len;
	for (i = 0; i < AW_POOL_SUFFIX_LABELS; i++) {
		for (n = 0; n < AW_POOL_SUFFIX_MAX + 1 && n < end; n++)
			if (buf[end - 1 - n] == '.')
				break;
		if (n < end && buf[end - 1 - n] == '.')
			start = end - n;
		else if (n == end)
			start = 0;
		else
			break;
		starts[i] = start;
		lens[i] = end - start;
		count = i + 1;
		if (!start)
			break;
		end = start - 1;
	}
	return model_find_suffix(table, buf, starts, lens, count);
}

/* The same suffix (index + 1, or 0) in a DNS query and in a server name. */
static uint32_t probe_find_suffix(struct suffix_table *table, const char *name)
{
	uint32_t dns = 0, sni = probe_sni(table, name);
	char trimmed[AW_WIRE_NAME_MAX + 1];
	size_t len = strlen(name);

	/* A query's name has no empty label; a server name's last dot is dropped. */
	if (len && len < sizeof(trimmed) && !strstr(name, "..") && name[0] != '.') {
		memcpy(trimmed, name, len + 1);
		if (trimmed[len - 1] == '.')
			trimmed[len - 1] = '\0';
		if (trimmed[0])
			dns = probe_dns(table, trimmed);
		assert_int_equal(dns, sni);
	}
	return sni;
}

static void test_suffix_keys(void **state)
{
	static const char *const suffixes[] = { "supportxmr.com", "pool.hashvault.pro", "a.b.c.d",
						"moneroocean.stream", "btc.top" };
	struct suffix_table table;

	table_fill(&table, suffixes, 5);
	assert_int_equal(table.keys[0].len, 14);
	assert_false(table.tail_short);

	assert_int_equal(probe_find_suffix(&table, "supportxmr.com"), 1);
	assert_int_equal(probe_find_suffix(&table, "supportxmr.com."), 1);
	assert_int_equal(probe_find_suffix(&table, "pool.SupportXMR.COM"), 1);
	assert_int_equal(probe_find_suffix(&table, "a.b.c.d.e.f.gulf.supportxmr.com"), 1);
	/* Label boundaries only, and the suffix must end the name. */
	assert_int_equal(probe_find_suffix(&table, "notsupportxmr.com"), 0);
	assert_int_equal(probe_find_suffix(&table, "supportxmr.com.evil.example"), 0);
	assert_int_equal(probe_find_suffix(&table, "supportxmr.com.example.org"), 0);
	assert_int_equal(probe_find_suffix(&table, "upportxmr.com"), 0);
	assert_int_equal(probe_find_suffix(&table, "supportxmr.co"), 0);
	assert_int_equal(probe_find_suffix(&table, "hashvault.pro"), 0);
	assert_int_equal(probe_find_suffix(&table, "x.pool.hashvault.pro"), 2);
	assert_int_equal(probe_find_suffix(&table, "X.POOL.HashVault.Pro."), 2);
	assert_int_equal(probe_find_suffix(&table, "xpool.hashvault.pro"), 0);
	assert_int_equal(probe_find_suffix(&table, "a.b.c.d"), 3);
	assert_int_equal(probe_find_suffix(&table, "z.a.b.c.d"), 3);
	assert_int_equal(probe_find_suffix(&table, "z.A.B.C.D"), 3);
	assert_int_equal(probe_find_suffix(&table, "gulf.MoneroOcean.Stream"), 4);
	assert_int_equal(probe_find_suffix(&table, "moneroocean.streams"), 0);
	assert_int_equal(probe_find_suffix(&table, "btc.top"), 5);
	assert_int_equal(probe_find_suffix(&table, "xbtc.top"), 0);
	assert_int_equal(probe_find_suffix(&table, "www.example.com"), 0);
	assert_int_equal(probe_find_suffix(&table, "com"), 0);
	assert_int_equal(probe_find_suffix(&table, ""), 0);
	assert_int_equal(probe_find_suffix(&table, "."), 0);
	/* A server name with an empty label is still read from its end. */
	assert_int_equal(probe_find_suffix(&table, "x..supportxmr.com"), 1);

	/*
	 * Ordinary names mostly stop at the DNS tail bitmap, and the rest at
	 * the bitmap of last two labels: no lookup.
	 */
	table.lookups = 0;
	table.hashed = 0;
	assert_int_equal(probe_dns(&table, "deb.debian.org"), 0);
	assert_int_equal(probe_dns(&table, "www.example.com"), 0);
	assert_int_equal(probe_dns(&table, "files.pythonhosted.org"), 0);
	assert_int_equal(probe_dns(&table, "objects.githubusercontent.com"), 0);
	assert_int_equal(probe_dns(&table, "registry.npmjs.org"), 0);
	assert_true(table.hashed <= 1);
	assert_true(table.lookups <= 1);
}

/* Every shipped domain is found, under a name and in any case, and its neighbours are not. */
static void test_suffix_shipped(void **state)
{
	static struct suffix_table table;
	const char *const *domains;
	char name[AW_WIRE_NAME_MAX];
	size_t count, i, j;

	domains = wire_pool_domains(&count);
	table_fill(&table, domains, count);
	assert_false(table.tail_short);
	for (i = 0; i < count; i++) {
		assert_int_equal(probe_find_suffix(&table, domains[i]), i + 1);
		snprintf(name, sizeof(name), "Pool-1.%s.", domains[i]);
		for (j = 0; name[j]; j++)
			if (j % 2)
				name[j] = (char)toupper((unsigned char)name[j]);
		assert_int_equal(probe_find_suffix(&table, name), i + 1);
		snprintf(name, sizeof(name), "x%s", domains[i]);
		assert_int_equal(probe_find_suffix(&table, name), 0);
		snprintf(name, sizeof(name), "%s.example.org", domains[i]);
		assert_int_equal(probe_find_suffix(&table, name), 0);
	}
}

/* The probe lowers eight bytes at once: as tolower() does ASCII, each byte in each place. */
static void test_lower_word(void **state)
{
	unsigned int c, place;
	__u64 word, lowered;

	for (c = 0; c < 256; c++) {
		for (place = 0; place < 8; place++) {
			/* The byte among neighbours of every kind. */
			word = 0x5a41e0ff7b402d7aULL;
			word &= ~(0xffULL << (place * 8));
			word |= (__u64)c << (place * 8);
			lowered = aw_lower_word(word);
			assert_int_equal((lowered >> (place * 8)) & 0xff,
					 c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
	}
	assert_true(aw_lower_word(0x5a41e0ff7b402d7aULL) == 0x7a61e0ff7b402d7aULL);
}

/* A listed domain shorter than the DNS tail turns the tail bitmap off. */
static void test_dns_tail_short(void **state)
{
	static const char *const suffixes[] = { "supportxmr.com", "a.io" };
	struct suffix_table table;

	table_fill(&table, suffixes, 2);
	assert_true(table.tail_short);
	assert_int_equal(probe_find_suffix(&table, "www.A.io"), 2);
	assert_int_equal(probe_find_suffix(&table, "a.io"), 2);
	assert_int_equal(probe_find_suffix(&table, "ba.io"), 0);
}

/* ---- the stratum filter, searched as bpf/markers.bpf.h does --------------- */

/* The markers the probe finds in the first @len bytes sent (at most AW_WIRE_SCAN_MAX). */
static uint32_t probe_search(const struct argv_filter *filter, const char *sent)
{
	unsigned char bytes[AW_WIRE_SCAN_MAX + AW_ARGV_MARKER_LEN] = { 0 };
	uint32_t len = (uint32_t)strlen(sent);

	if (len > AW_WIRE_SCAN_MAX)
		len = AW_WIRE_SCAN_MAX;
	memcpy(bytes, sent, len);
	return model_search(filter, bytes, len, AW_WIRE_SCAN_MAX, NULL, NULL);
}

struct stratum_fixture {
	struct argv_filter *filter;
	const struct wire_marker *markers;
	size_t count;
	__u32 methods;
};

static int stratum_setup(void **state)
{
	struct stratum_fixture *fixture = calloc(1, sizeof(*fixture));

	if (!fixture)
		return -1;
	fixture->filter = malloc(sizeof(*fixture->filter));
	if (!fixture->filter)
		return -1;
	fixture->markers = wire_stratum_markers(&fixture->count);
	if (wire_stratum_filter(fixture->markers, fixture->count, fixture->filter,
				&fixture->methods))
		return -1;
	*state = fixture;
	return 0;
}

static int stratum_teardown(void **state)
{
	struct stratum_fixture *fixture = *state;

	free(fixture->filter);
	free(fixture);
	return 0;
}

/* What the agent makes of @sent on port @port: the reason, or NULL when no event or no rule. */
static const char *stratum_reason(const struct stratum_fixture *fixture, const char *sent,
				  __u16 port, char *reason, size_t size)
{
	struct wire_event event = {
		.rule = WIRE_RULE_STRATUM, .where = WIRE_IN_TCP, .dst_port = port,
	};
	enum software_rule rule;

	event.found = probe_search(fixture->filter, sent);
	/* The probe sends nothing without a method. */
	if (!(event.found & fixture->methods))
		return NULL;
	if (!wire_verdict_with(&event, fixture->markers, fixture->count, NULL, 0, &rule, reason,
			       size))
		return NULL;
	assert_int_equal(rule, SOFTWARE_RULE_STRATUM);
	return reason;
}

static void test_stratum_messages(void **state)
{
	struct stratum_fixture *fixture = *state;
	char reason[192];
	char xmrig[600];

	assert_int_equal(fixture->filter->marker_count, fixture->count);
	/* XMRig's login, as it sends it: the agent string after the wallet. */
	snprintf(xmrig, sizeof(xmrig),
		 "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{\"login\":\"%s\","
		 "\"pass\":\"x\",\"agent\":\"XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0\","
		 "\"algo\":[\"rx/0\",\"cn/1\"]}}\n",
		 "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A");
	assert_string_equal(stratum_reason(fixture, xmrig, 3333, reason, sizeof(reason)),
			    "stratum login sent to port 3333");
	/* Python's json.dumps, blanks after the colons. */
	assert_non_null(stratum_reason(fixture,
				       "{\"id\": 1, \"method\": \"login\", \"params\": {\"login\": "
				       "\"w\", \"pass\": \"x\", \"agent\": \"a/1\"}}",
				       443, reason, sizeof(reason)));
	assert_string_equal(stratum_reason(fixture,
					   "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":"
					   "[\"cgminer/4.10\"]}\n",
					   15555, reason, sizeof(reason)),
			    "stratum mining.subscribe sent to port 15555");
	assert_string_equal(stratum_reason(fixture,
					   "{\"params\":[\"w.rig\",\"x\"],\"id\":2,"
					   "\"method\":\"MINING.AUTHORIZE\"}\n",
					   80, reason, sizeof(reason)),
			    "stratum mining.authorize sent to port 80");
	assert_string_equal(stratum_reason(fixture,
					   "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"eth_submitLogin\","
					   "\"params\":[\"0xabc\"]}\n",
					   8008, reason, sizeof(reason)),
			    "stratum eth_submitLogin sent to port 8008");

	/* JSON-RPC that is not stratum: a login without an agent, other methods, HTTP. */
	assert_null(stratum_reason(fixture,
				   "{\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{\"user\":"
				   "\"me\",\"password\":\"x\"},\"id\":1}",
				   8080, reason, sizeof(reason)));
	assert_null(stratum_reason(fixture,
				   "{\"jsonrpc\":\"2.0\",\"method\":\"eth_blockNumber\",\"params\":[],"
				   "\"id\":1}",
				   8545, reason, sizeof(reason)));
	assert_null(stratum_reason(fixture,
				   "GET /index.html HTTP/1.1\r\nHost: example.com\r\n"
				   "User-Agent: curl/7.88.1\r\n\r\n",
				   80, reason, sizeof(reason)));
	/* Past the bytes searched: not seen. */
	{
		char late[AW_WIRE_SCAN_MAX + 64];

		memset(late, ' ', sizeof(late));
		memcpy(late + AW_WIRE_SCAN_MAX - 8, "\"mining.subscribe\"", 18);
		late[sizeof(late) - 1] = '\0';
		assert_null(stratum_reason(fixture, late, 3333, reason, sizeof(reason)));
	}
}

static void test_pool_domain_verdicts(void **state)
{
	static const char *const domains[] = { "supportxmr.com", "hashvault.pro" };
	struct wire_event event = { .rule = WIRE_RULE_POOL_DOMAIN, .where = WIRE_IN_DNS,
				    .found = 1, .dst_port = 53 };
	enum software_rule rule;
	char reason[192];

	assert_true(wire_verdict_with(&event, NULL, 0, domains, 2, &rule, reason, sizeof(reason)));
	assert_int_equal(rule, SOFTWARE_RULE_POOL_DOMAIN);
	assert_string_equal(reason, "mining pool domain hashvault.pro in a DNS query");
	event.where = WIRE_IN_TLS;
	event.found = 0;
	assert_true(wire_verdict_with(&event, NULL, 0, domains, 2, &rule, reason, sizeof(reason)));
	assert_string_equal(reason, "mining pool domain supportxmr.com in a TLS server name");
	/* An index of no line (a pinned map of another list), an unknown rule: nothing. */
	event.found = 2;
	assert_false(wire_verdict_with(&event, NULL, 0, domains, 2, &rule, reason, sizeof(reason)));
	event.found = 0;
	event.rule = 7;
	assert_false(wire_verdict_with(&event, NULL, 0, domains, 2, &rule, reason, sizeof(reason)));

	/* The built-in list: the event's index names its line. */
	event = (struct wire_event){ .rule = WIRE_RULE_POOL_DOMAIN, .where = WIRE_IN_DNS };
	assert_true(wire_verdict(&event, &rule, reason, sizeof(reason)));
	assert_non_null(strstr(reason, wire_pool_domains(&(size_t){ 0 })[0]));
}

static void test_rules_need_builtin_miners(void **state)
{
	char *miners[] = { "builtin:miners" }, *scanners[] = { "builtin:scanners", "xmrig" };
	struct software_policy policy = { .name = "test", .deny = miners, .deny_count = 1 };
	struct software_facts facts = {
		.type = SOFTWARE_EVENT_WIRE,
		.comm = "xmrig",
		.wire_rule = SOFTWARE_RULE_POOL_DOMAIN,
		.wire_reason = "mining pool domain supportxmr.com in a DNS query",
	};
	struct software_verdict verdict;
	struct software_matcher *matcher;

	assert_string_equal(software_rule_name(SOFTWARE_RULE_STRATUM), "stratum");
	assert_string_equal(software_rule_name(SOFTWARE_RULE_POOL_DOMAIN), "pool_domain");
	matcher = software_matcher_new(&policy);
	assert_non_null(matcher);
	assert_true(software_match(matcher, &facts, &verdict));
	/* Its own rule, even with a denied comm: what was sent, not what sent it. */
	assert_int_equal(verdict.rule, SOFTWARE_RULE_POOL_DOMAIN);
	assert_string_equal(verdict.reason, facts.wire_reason);
	software_matcher_free(matcher);

	policy.deny = scanners;
	policy.deny_count = 2;
	matcher = software_matcher_new(&policy);
	assert_non_null(matcher);
	assert_false(software_match(matcher, &facts, &verdict));
	software_matcher_free(matcher);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shipped_markers),
	    cmocka_unit_test(test_shipped_domains),
	    cmocka_unit_test(test_parse_markers),
	    cmocka_unit_test(test_parse_domains),
	    cmocka_unit_test(test_suffix_keys),
	    cmocka_unit_test(test_suffix_shipped),
	    cmocka_unit_test(test_lower_word),
	    cmocka_unit_test(test_dns_tail_short),
	    cmocka_unit_test_setup_teardown(test_stratum_messages, stratum_setup, stratum_teardown),
	    cmocka_unit_test(test_pool_domain_verdicts),
	    cmocka_unit_test(test_rules_need_builtin_miners),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
