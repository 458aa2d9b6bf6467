// SPDX-License-Identifier: GPL-2.0
/*
 * The matcher of a software policy: its deny names (builtin sets expanded),
 * digests and path globs, compiled into case-insensitive string sets on the
 * shared hash table, and the rules tried against each event in turn.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashtable.h"
#include "log.h"
#include "seed.h"
#include "software.h"
#include "software_builtin.h"
#include "content.h"

/* TASK_COMM_LEN - 1: a longer name shows in comm cut to this. */
#define COMM_MAX 15

const char *software_rule_name(enum software_rule rule)
{
	switch (rule) {
	case SOFTWARE_RULE_SHA256:
		return "sha256";
	case SOFTWARE_RULE_NAME:
		return "name";
	case SOFTWARE_RULE_PATH:
		return "path";
	case SOFTWARE_RULE_ARGV:
		return "argv";
	case SOFTWARE_RULE_MINER_BEHAVIOR:
		return "miner_behavior";
	case SOFTWARE_RULE_CONTENT:
		return "content";
	case SOFTWARE_RULE_LEARNED_SHA256:
		return "learned_sha256";
	case SOFTWARE_RULE_RAW_SOCKET:
		return "raw_socket";
	case SOFTWARE_RULE_STRATUM:
		return "stratum";
	case SOFTWARE_RULE_POOL_DOMAIN:
		return "pool_domain";
	default:
		return "unknown";
	}
}

/* ---- string sets ------------------------------------------------------- */

/*
 * Borrowed strings, compared case-insensitively on their first key_length
 * bytes. The entries are allocated once, for what the set will hold.
 */
struct string_entry {
	struct hashtable_node node;
	const char *key;
	size_t key_length;
	const char *origin;	/* "builtin:miners", or NULL for the deny list itself */
};

struct string_set {
	struct hashtable table;
	struct string_entry *entries;
	size_t count;
};

struct string_key {
	const char *text;
	size_t length;
};

/* seed.h's hash of @text lowercased, fed through a small buffer: names have no bound. */
static uint64_t hash_lowercase(const char *text, size_t length)
{
	struct hash_state state;
	char lower[64];
	size_t done, i;

	hash_start(&state, hash_key_process());
	for (done = 0; done < length; done += i) {
		for (i = 0; i < sizeof(lower) && done + i < length; i++)
			lower[i] = (char)tolower((unsigned char)text[done + i]);
		hash_add(&state, lower, i);
	}
	return hash_finish(&state);
}

static bool string_entry_matches(const struct hashtable_node *node, const void *key)
{
	const struct string_entry *entry = hashtable_entry(node, struct string_entry, node);
	const struct string_key *wanted = key;

	return entry->key_length == wanted->length &&
	       !strncasecmp(entry->key, wanted->text, wanted->length);
}

static int string_set_init(struct string_set *set, size_t capacity)
{
	hashtable_init(&set->table, string_entry_matches);
	set->count = 0;
	set->entries = calloc(capacity ? capacity : 1, sizeof(*set->entries));
	if (!set->entries)
		return -ENOMEM;
	return hashtable_reserve(&set->table, capacity);
}

static void string_set_release(struct string_set *set)
{
	hashtable_release(&set->table, NULL);
	free(set->entries);
	set->entries = NULL;
	set->count = 0;
}

static const struct string_entry *string_set_find(const struct string_set *set,
						  const char *text, size_t length)
{
	const struct string_key key = { text, length };

	return hashtable_entry(hashtable_find(&set->table, hash_lowercase(text, length), &key),
			       struct string_entry, node);
}

/*
 * The first entry for a key wins. The set never fills, nor fails: its
 * entries and buckets were sized by string_set_init().
 */
static void string_set_add(struct string_set *set, const char *key, size_t key_length,
			   const char *origin)
{
	const struct string_key wanted = { key, key_length };
	uint64_t hash = hash_lowercase(key, key_length);
	struct string_entry *entry;

	if (hashtable_find(&set->table, hash, &wanted))
		return;
	entry = &set->entries[set->count++];
	*entry = (struct string_entry){ .key = key, .key_length = key_length, .origin = origin };
	hashtable_insert(&set->table, &entry->node, hash);
}

/* ---- matcher ----------------------------------------------------------- */

struct software_matcher {
	struct string_set names;	/* deny names, whole */
	struct string_set long_names;	/* deny names over COMM_MAX, on their first COMM_MAX */
	struct string_set deny_sha256;
	struct string_set allow_sha256;
	char **owned;			/* lowercased copies the sets point into: one a policy entry at most */
	size_t owned_count;
	size_t sha256_count;		/* on deny_sha256 and allow_sha256 */
	char **deny_paths;
	size_t deny_paths_count;
	bool miners;			/* deny has builtin:miners */
	unsigned int sets;		/* SOFTWARE_SET_* of its builtin sets */
	/* YARA sources it counts: "builtin:SET" with rules, and its rule files. */
	const char **content_sources;
	size_t content_source_count;
	size_t owned_files;		/* the last ones of content_sources */
};

static const char *const set_names[] = { "miners", "scanners", "flooders", "tunnels" };

unsigned int software_set_bit(const char *name)
{
	size_t i;

	for (i = 0; name && i < sizeof(set_names) / sizeof(set_names[0]); i++)
		if (!strcmp(name, set_names[i]))
			return 1U << i;
	return 0;
}

const char *software_set_name(unsigned int bit)
{
	size_t i;

	for (i = 0; i < sizeof(set_names) / sizeof(set_names[0]); i++)
		if (bit == 1U << i)
			return set_names[i];
	return NULL;
}

static const char builtin_prefix[] = "builtin:";

static char *lowercase_copy(const char *text)
{
	char *copy = strdup(text);
	char *c;

	if (!copy)
		return NULL;
	for (c = copy; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return copy;
}

static char *matcher_own(struct software_matcher *matcher, const char *text)
{
	char *copy = lowercase_copy(text);

	if (copy)
		matcher->owned[matcher->owned_count++] = copy;
	return copy;
}

static void matcher_add_name(struct software_matcher *matcher, const char *name,
			     const char *origin)
{
	size_t length = strlen(name);

	string_set_add(&matcher->names, name, length, origin);
	if (length > COMM_MAX)
		string_set_add(&matcher->long_names, name, COMM_MAX, origin);
}

/* How many names deny expands to, counting each builtin set whole. */
static size_t deny_name_count(const struct software_policy *policy)
{
	size_t i, set_count, count = 0;

	for (i = 0; i < policy->deny_count; i++) {
		const char *entry = policy->deny[i];

		if (!strncmp(entry, builtin_prefix, sizeof(builtin_prefix) - 1)) {
			software_builtin_set(entry + sizeof(builtin_prefix) - 1, &set_count);
			count += set_count;
		} else {
			count++;
		}
	}
	return count;
}

static int matcher_add_deny(struct software_matcher *matcher, const struct software_policy *policy)
{
	const char *const *names;
	const char *set, *origin;
	size_t i, j, count, rules_length;
	char *name;
	int err;

	for (i = 0; i < policy->deny_count; i++) {
		const char *entry = policy->deny[i];

		if (strncmp(entry, builtin_prefix, sizeof(builtin_prefix) - 1)) {
			name = matcher_own(matcher, entry);
			if (!name)
				return -ENOMEM;
			matcher_add_name(matcher, name, NULL);
			continue;
		}
		set = entry + sizeof(builtin_prefix) - 1;
		err = software_builtin_names(set, &names, &count);
		if (err == -ENOENT) {
			/* The configuration checks set names: this is a bug, not a policy. */
			pr_warn("software: policy %s: unknown set \"%s\", ignored",
				policy->name ? policy->name : "?", entry);
			continue;
		}
		if (err)
			return err; /* the set failed to load: denying less is not safe */
		/* Reasons name the set as deny does ("builtin:miners"); the policy is not kept. */
		origin = matcher_own(matcher, entry);
		if (!origin)
			return -ENOMEM;
		if (!strcmp(set, "miners"))
			matcher->miners = true;
		matcher->sets |= software_set_bit(set);
		if (content_builtin_rules(set, &rules_length))
			matcher->content_sources[matcher->content_source_count++] = origin;
		for (j = 0; j < count; j++)
			matcher_add_name(matcher, names[j], origin);
	}
	return 0;
}

static int matcher_add_digests(struct software_matcher *matcher, struct string_set *set,
			       char **digests, size_t count)
{
	size_t i;
	char *digest;
	int err;

	err = string_set_init(set, count);
	if (err)
		return err;
	for (i = 0; i < count; i++) {
		digest = matcher_own(matcher, digests[i]);
		if (!digest)
			return -ENOMEM;
		string_set_add(set, digest, strlen(digest), NULL);
		matcher->sha256_count++;
	}
	return 0;
}

struct software_matcher *software_matcher_new(const struct software_policy *policy)
{
	struct software_matcher *matcher = calloc(1, sizeof(*matcher));
	size_t names, i;
	int err = -ENOMEM;

	if (!matcher)
		goto cleanup;
	names = deny_name_count(policy);
	matcher->owned = calloc(policy->deny_count + policy->deny_sha256_count +
					policy->allow_sha256_count + 1,
				sizeof(*matcher->owned));
	if (!matcher->owned)
		goto cleanup;
	err = -ENOMEM;
	/* Borrowed origins of builtin sets, and the rule files' own copies. */
	matcher->content_sources = calloc(policy->deny_count + policy->yara_count + 1,
					  sizeof(*matcher->content_sources));
	if (!matcher->content_sources)
		goto cleanup;
	err = string_set_init(&matcher->names, names);
	if (err)
		goto cleanup;
	err = string_set_init(&matcher->long_names, names);
	if (err)
		goto cleanup;
	err = matcher_add_deny(matcher, policy);
	if (err)
		goto cleanup;
	err = matcher_add_digests(matcher, &matcher->deny_sha256, policy->deny_sha256,
				  policy->deny_sha256_count);
	if (err)
		goto cleanup;
	err = matcher_add_digests(matcher, &matcher->allow_sha256, policy->allow_sha256,
				  policy->allow_sha256_count);
	if (err)
		goto cleanup;
	err = -ENOMEM;
	matcher->deny_paths = calloc(policy->deny_paths_count + 1, sizeof(*matcher->deny_paths));
	if (!matcher->deny_paths)
		goto cleanup;
	for (i = 0; i < policy->deny_paths_count; i++) {
		/* Paths are case-sensitive: the glob is kept as written. */
		matcher->deny_paths[i] = strdup(policy->deny_paths[i]);
		if (!matcher->deny_paths[i])
			goto cleanup;
		matcher->deny_paths_count++;
	}
	for (i = 0; i < policy->yara_count; i++) {
		/* Owned, unlike the builtin origins: freed by the tail of the array. */
		matcher->content_sources[matcher->content_source_count] = strdup(policy->yara[i]);
		if (!matcher->content_sources[matcher->content_source_count])
			goto cleanup;
		matcher->content_source_count++;
		matcher->owned_files++;
	}
	return matcher;

cleanup:
	software_matcher_free(matcher);
	errno = -err;
	return NULL;
}

void software_matcher_free(struct software_matcher *matcher)
{
	size_t i;

	if (!matcher)
		return;
	string_set_release(&matcher->names);
	string_set_release(&matcher->long_names);
	string_set_release(&matcher->deny_sha256);
	string_set_release(&matcher->allow_sha256);
	for (i = 0; i < matcher->owned_count; i++)
		free(matcher->owned[i]);
	free(matcher->owned);
	for (i = 0; i < matcher->deny_paths_count; i++)
		free(matcher->deny_paths[i]);
	free(matcher->deny_paths);
	for (i = 0; i < matcher->owned_files; i++)
		free((char *)matcher->content_sources[matcher->content_source_count - 1 - i]);
	free(matcher->content_sources);
	free(matcher);
}

bool software_matcher_needs_sha256(const struct software_matcher *matcher)
{
	/* A builtin set: its learned digests; a YARA source: the scan that comes with the digest. */
	return matcher && (matcher->sha256_count || matcher->sets || matcher->content_source_count);
}

unsigned int software_matcher_sets(const struct software_matcher *matcher)
{
	return matcher ? matcher->sets : 0;
}

bool software_matcher_has_content(const struct software_matcher *matcher)
{
	return matcher && matcher->content_source_count;
}

/* Sets the two bits of @name's key (software_events.h) in @interest. */
static void interest_add_name(struct exec_interest *interest, const char *name, size_t length)
{
	unsigned char key[16] = { 0 };
	__u32 first, second;
	__u64 low, high;
	size_t i;

	for (i = 0; i < length && i < AW_NAME_KEY_CHARS; i++) {
		unsigned char c = (unsigned char)name[i];

		key[i] = c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
	}
	/* As the kernel loads them: native words. */
	memcpy(&low, key, sizeof(low));
	memcpy(&high, key + sizeof(low), sizeof(high));
	aw_name_bits(low, high, &first, &second);
	interest->names[first >> 6] |= 1ULL << (first & 63);
	interest->names[second >> 6] |= 1ULL << (second & 63);
}

bool software_matcher_has_deny_sha256(const struct software_matcher *matcher)
{
	return matcher && matcher->deny_sha256.count;
}

bool software_matcher_denies_sha256(const struct software_matcher *matcher, const char *sha256)
{
	return matcher && sha256 &&
	       string_set_find(&matcher->deny_sha256, sha256, strlen(sha256)) != NULL;
}

void software_matcher_interest(const struct software_matcher *matcher,
			       struct exec_interest *interest)
{
	size_t i;

	if (!matcher)
		return;
	/* Globs match the whole path; digests are judged once per executable. */
	if (matcher->deny_paths_count)
		interest->every_exec = 1;
	if (matcher->deny_sha256.count || matcher->sets || matcher->content_source_count)
		interest->digests = 1;
	/* Markers count only with builtin:miners (software_match()). */
	if (matcher->miners)
		interest->argv = 1;
	for (i = 0; i < matcher->names.count; i++)
		interest_add_name(interest, matcher->names.entries[i].key,
				  matcher->names.entries[i].key_length);
}

static const char *exe_basename(const char *exe)
{
	const char *slash = strrchr(exe, '/');

	return slash ? slash + 1 : exe;
}

static const struct string_entry *match_comm(const struct software_matcher *matcher,
					     const char *comm)
{
	const struct string_entry *entry;
	size_t length = strlen(comm);

	entry = string_set_find(&matcher->names, comm, length);
	/* The kernel cut a longer name to fit comm: any deny name it could be counts. */
	if (!entry && length == COMM_MAX)
		entry = string_set_find(&matcher->long_names, comm, length);
	return entry;
}

static const struct string_entry *match_name(const struct software_matcher *matcher,
					     const struct software_facts *facts)
{
	const struct string_entry *entry = NULL;
	const char *base;

	if (facts->comm && facts->comm[0])
		entry = match_comm(matcher, facts->comm);
	if (!entry && facts->exe) {
		base = exe_basename(facts->exe);
		if (*base)
			entry = string_set_find(&matcher->names, base, strlen(base));
	}
	return entry;
}

static bool is_module_loader(const char *name)
{
	return name && (!strcasecmp(name, "modprobe") || !strcasecmp(name, "insmod"));
}

static void set_verdict(struct software_verdict *verdict, enum software_rule rule,
			const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_verdict(struct software_verdict *verdict, enum software_rule rule,
			const char *fmt, ...)
{
	va_list args;

	if (!verdict)
		return;
	verdict->rule = rule;
	va_start(args, fmt);
	vsnprintf(verdict->reason, sizeof(verdict->reason), fmt, args);
	va_end(args);
}

static bool match_argv(const struct software_facts *facts, bool modprobe_markers,
		       const struct software_marker **found)
{
	size_t count, i;
	const struct software_marker *all = software_markers(&count);

	for (i = 0; i < count && i < 32; i++) {
		if (!(facts->argv_markers & (UINT32_C(1) << i)) ||
		    all[i].modprobe != modprobe_markers)
			continue;
		*found = &all[i];
		return true;
	}
	return false;
}

static bool match_behavior(const struct software_facts *facts, struct software_verdict *verdict)
{
	const struct software_marker *marker;

	switch (facts->type) {
	case SOFTWARE_EVENT_MSR_WRITE:
		set_verdict(verdict, SOFTWARE_RULE_MINER_BEHAVIOR,
			    "opened an MSR device (/dev/cpu/*/msr) for writing");
		return true;
	case SOFTWARE_EVENT_HUGEPAGES:
		set_verdict(verdict, SOFTWARE_RULE_MINER_BEHAVIOR,
			    "wrote a huge-page sysctl (vm.nr_hugepages or "
			    "vm.nr_overcommit_hugepages)");
		return true;
	default:
		break;
	}
	/* Debian's modprobe is a link to kmod: its comm still says modprobe. */
	if (!is_module_loader(facts->comm) &&
	    !(facts->exe && is_module_loader(exe_basename(facts->exe))))
		return false;
	if (!match_argv(facts, true, &marker))
		return false;
	set_verdict(verdict, SOFTWARE_RULE_MINER_BEHAVIOR, "ran modprobe %s", marker->label);
	return true;
}

/* The first YARA match whose source is one of the policy's. */
static bool match_content(const struct software_matcher *matcher,
			  const struct software_facts *facts, struct software_verdict *verdict)
{
	size_t i, j;

	for (i = 0; facts->content && i < facts->content_count; i++) {
		for (j = 0; j < matcher->content_source_count; j++) {
			if (!facts->content[i].source ||
			    strcmp(facts->content[i].source, matcher->content_sources[j]))
				continue;
			set_verdict(verdict, SOFTWARE_RULE_CONTENT, "YARA rule %s of %s matched",
				    facts->content[i].rule, facts->content[i].source);
			return true;
		}
	}
	return false;
}

bool software_match(const struct software_matcher *matcher, const struct software_facts *facts,
		    struct software_verdict *verdict)
{
	const struct software_marker *marker;
	const struct string_entry *entry;
	size_t i;

	if (!matcher || !facts)
		return false;
	/* What a process sent, not what it is: its own rule, with builtin:miners. */
	if (facts->type == SOFTWARE_EVENT_WIRE) {
		if (!matcher->miners || !facts->wire_reason)
			return false;
		set_verdict(verdict, facts->wire_rule, "%s", facts->wire_reason);
		return true;
	}
	if (facts->sha256 &&
	    string_set_find(&matcher->allow_sha256, facts->sha256, strlen(facts->sha256)))
		return false;
	if (facts->sha256 &&
	    string_set_find(&matcher->deny_sha256, facts->sha256, strlen(facts->sha256))) {
		set_verdict(verdict, SOFTWARE_RULE_SHA256, "sha256 is on deny_sha256");
		return true;
	}
	entry = match_name(matcher, facts);
	if (entry) {
		/* The list's entry, not the tenant's comm: reasons carry nothing of theirs. */
		if (entry->origin)
			set_verdict(verdict, SOFTWARE_RULE_NAME, "name \"%s\" is in %s", entry->key,
				    entry->origin);
		else
			set_verdict(verdict, SOFTWARE_RULE_NAME, "name \"%s\" is on the deny list",
				    entry->key);
		return true;
	}
	for (i = 0; facts->exe && i < matcher->deny_paths_count; i++) {
		if (!fnmatch(matcher->deny_paths[i], facts->exe, 0)) {
			set_verdict(verdict, SOFTWARE_RULE_PATH, "path matches deny_paths \"%s\"",
				    matcher->deny_paths[i]);
			return true;
		}
	}
	if (match_content(matcher, facts, verdict))
		return true;
	if (matcher->miners && match_argv(facts, false, &marker)) {
		set_verdict(verdict, SOFTWARE_RULE_ARGV,
			    "command line carries a miner marker (%s)", marker->label);
		return true;
	}
	if (matcher->miners && match_behavior(facts, verdict))
		return true;
	/* Last: what the file is known for elsewhere yields to what it does here. */
	if (facts->learned && matcher->sets) {
		set_verdict(verdict, SOFTWARE_RULE_LEARNED_SHA256,
			    "sha256 was caught before on this node by rule %s", facts->learned);
		return true;
	}
	return false;
}

bool software_matcher_denies_miners(const struct software_matcher *matcher)
{
	return matcher && matcher->miners;
}
