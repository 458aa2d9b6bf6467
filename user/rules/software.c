// SPDX-License-Identifier: GPL-2.0
/*
 * Unauthorized-software rules: the built-in name sets and command-line
 * markers (the .txt files of data/software, compiled in), the matcher of a software
 * policy, and the flood control of its alerts.
 *
 * The data is parsed once, on first use. It is ours, so a malformed line is
 * a bug: it is logged and skipped rather than failing the agent, and a unit
 * test checks that every shipped line parses.
 *
 * The tracker holds a pidfd of the last process each alert was seen in: a
 * pid alone could be reused, and an alert must not resolve while its miner
 * still runs, even one that stays frozen for longer than the window.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hashtable.h"
#include "log.h"
#include "seed.h"
#include "software.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same on every architecture */
#endif

/* TASK_COMM_LEN - 1: a longer name shows in comm cut to this. */
#define COMM_MAX 15
#define NAME_LEN_MAX 255 /* NAME_MAX: a name is one path component */

/* Embedded by user/software_data.S. */
extern const char software_miners_txt[], software_miners_txt_end[];
extern const char software_scanners_txt[], software_scanners_txt_end[];
extern const char software_flooders_txt[], software_flooders_txt_end[];
extern const char software_tunnels_txt[], software_tunnels_txt_end[];
extern const char software_argv_markers_txt[], software_argv_markers_txt_end[];

/* ---- built-in data ----------------------------------------------------- */

struct builtin_set {
	const char *name;	/* "miners" */
	const char *origin;	/* "builtin:miners", for reasons */
	const char *start;
	const char *end;
	char *text;		/* a copy of the file, split into names in place */
	const char **names;
	size_t count;
};

static struct builtin_set builtin_sets[] = {
#define BUILTIN_SET(set_name)                                                                      \
	{ .name = #set_name, .origin = "builtin:" #set_name, .start = software_##set_name##_txt,   \
	  .end = software_##set_name##_txt_end }
	BUILTIN_SET(miners),
	BUILTIN_SET(scanners),
	BUILTIN_SET(flooders),
	BUILTIN_SET(tunnels),
#undef BUILTIN_SET
};

#define BUILTIN_SET_COUNT (sizeof(builtin_sets) / sizeof(builtin_sets[0]))

/* Markers need no allocation: their sizes are bounded by the kernel's map. */
static struct software_marker markers[AW_ARGV_MARKERS_MAX];
static char marker_text[AW_ARGV_MARKERS_MAX][AW_ARGV_MARKER_LEN];
static char marker_label[AW_ARGV_MARKERS_MAX][AW_ARGV_MARKER_LEN];
static size_t marker_count;

static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * The next line of [*cursor, end), without its newline and surrounding
 * blanks, in [*line, *line_end). False at the end.
 */
static bool next_line(const char **cursor, const char *end, const char **line,
		      const char **line_end)
{
	const char *start = *cursor, *stop;

	if (start >= end)
		return false;
	stop = memchr(start, '\n', (size_t)(end - start));
	if (!stop)
		stop = end;
	*cursor = stop < end ? stop + 1 : end;
	while (start < stop && is_blank(*start))
		start++;
	while (stop > start && is_blank(stop[-1]))
		stop--;
	*line = start;
	*line_end = stop;
	return true;
}

static bool is_content(const char *line, const char *line_end)
{
	return line < line_end && *line != '#';
}

static bool valid_name(const char *name, size_t length)
{
	size_t i;

	if (!length || length > NAME_LEN_MAX)
		return false;
	for (i = 0; i < length; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-' || c == '+'))
			return false;
	}
	return true;
}

static bool set_has_name(const struct builtin_set *set, const char *name)
{
	size_t i;

	/* Loaded once from a short file: quadratic is fine here. */
	for (i = 0; i < set->count; i++)
		if (!strcmp(set->names[i], name))
			return true;
	return false;
}

static int load_set(struct builtin_set *set)
{
	const char *cursor = set->start, *line, *line_end;
	size_t length = (size_t)(set->end - set->start), lines = 0, offset;
	int line_number = 0;

	set->text = malloc(length + 1);
	if (!set->text)
		return -ENOMEM;
	memcpy(set->text, set->start, length);
	set->text[length] = '\0';
	while (next_line(&cursor, set->end, &line, &line_end))
		lines++;
	set->names = calloc(lines ? lines : 1, sizeof(*set->names));
	if (!set->names) {
		free(set->text);
		set->text = NULL;
		return -ENOMEM;
	}
	cursor = set->start;
	while (next_line(&cursor, set->end, &line, &line_end)) {
		line_number++;
		if (!is_content(line, line_end))
			continue;
		if (!valid_name(line, (size_t)(line_end - line))) {
			pr_warn("software: %s.txt:%d: not a lowercase program name, skipped",
				set->name, line_number);
			continue;
		}
		offset = (size_t)(line - set->start);
		set->text[offset + (size_t)(line_end - line)] = '\0';
		if (set_has_name(set, set->text + offset)) {
			pr_warn("software: %s.txt:%d: \"%s\" again, skipped", set->name,
				line_number, set->text + offset);
			continue;
		}
		set->names[set->count++] = set->text + offset;
	}
	return 0;
}

/*
 * Unescapes a marker's TEXT into @out (\0 and \\ only). Returns its length,
 * or 0 when malformed or too long.
 */
static size_t unescape_marker(const char *text, const char *text_end, char *out)
{
	size_t length = 0;
	bool printable = false;

	while (text < text_end) {
		char c = *text++;

		if (c == '\\') {
			if (text == text_end)
				return 0;
			c = *text++;
			if (c == '0')
				c = '\0';
			else if (c != '\\')
				return 0;
		} else if (c < ' ' || c > '~') {
			return 0;
		}
		if (length == AW_ARGV_MARKER_LEN - 1)
			return 0;
		if (c)
			printable = true;
		out[length++] = c;
	}
	/*
	 * Only NULs would match between any two arguments; the kernel's
	 * prefix filter needs four bytes.
	 */
	return printable && length >= AW_ARGV_MARKER_MIN ? length : 0;
}

/* The printable form: NULs become spaces, and leading and trailing ones go. */
static void marker_make_label(const char *text, size_t length, char *label)
{
	size_t start = 0, end = length, i;

	while (start < end && !text[start])
		start++;
	while (end > start && !text[end - 1])
		end--;
	for (i = start; i < end; i++)
		*label++ = text[i] ? text[i] : ' ';
	*label = '\0';
}

static void load_markers(void)
{
	static const char argv_prefix[] = "argv ", modprobe_prefix[] = "modprobe ";
	const char *cursor = software_argv_markers_txt, *end = software_argv_markers_txt_end;
	const char *line, *line_end, *text;
	int line_number = 0;
	bool modprobe;
	size_t length;

	while (next_line(&cursor, end, &line, &line_end)) {
		line_number++;
		if (!is_content(line, line_end))
			continue;
		length = (size_t)(line_end - line);
		if (length > sizeof(argv_prefix) - 1 &&
		    !memcmp(line, argv_prefix, sizeof(argv_prefix) - 1)) {
			modprobe = false;
			text = line + sizeof(argv_prefix) - 1;
		} else if (length > sizeof(modprobe_prefix) - 1 &&
			   !memcmp(line, modprobe_prefix, sizeof(modprobe_prefix) - 1)) {
			modprobe = true;
			text = line + sizeof(modprobe_prefix) - 1;
		} else {
			pr_warn("software: argv_markers.txt:%d: not \"argv TEXT\" or "
				"\"modprobe TEXT\", skipped", line_number);
			continue;
		}
		if (marker_count == AW_ARGV_MARKERS_MAX) {
			pr_warn("software: argv_markers.txt:%d: more than %d markers, skipped",
				line_number, AW_ARGV_MARKERS_MAX);
			continue;
		}
		length = unescape_marker(text, line_end, marker_text[marker_count]);
		if (!length) {
			pr_warn("software: argv_markers.txt:%d: bad or too long marker, skipped",
				line_number);
			continue;
		}
		marker_make_label(marker_text[marker_count], length, marker_label[marker_count]);
		markers[marker_count] = (struct software_marker){
			.text = marker_text[marker_count],
			.len = length,
			.label = marker_label[marker_count],
			.modprobe = modprobe,
		};
		marker_count++;
	}
}

static void load_builtin(void)
{
	size_t i;

	for (i = 0; i < BUILTIN_SET_COUNT; i++) {
		/* Left without names: a matcher that needs the set then fails to build. */
		if (load_set(&builtin_sets[i]))
			pr_err("software: out of memory loading builtin:%s", builtin_sets[i].name);
	}
	load_markers();
}

static const struct builtin_set *builtin_find(const char *name)
{
	size_t i;

	pthread_once(&builtin_once, load_builtin);
	for (i = 0; i < BUILTIN_SET_COUNT; i++)
		if (!strcmp(builtin_sets[i].name, name))
			return &builtin_sets[i];
	return NULL;
}

const char *const *software_builtin_set(const char *set, size_t *count)
{
	const struct builtin_set *found = set ? builtin_find(set) : NULL;

	if (count)
		*count = found ? found->count : 0;
	if (!found)
		return NULL;
	/* An empty set, even one that failed to load, is not an unknown one. */
	if (!found->names) {
		static const char *const none[1];

		return none;
	}
	return found->names;
}

const struct software_marker *software_markers(size_t *count)
{
	pthread_once(&builtin_once, load_builtin);
	if (count)
		*count = marker_count;
	return markers;
}

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
	char **owned;			/* lowercased copies the sets point into */
	size_t owned_count;
	size_t sha256_count;		/* on deny_sha256 and allow_sha256 */
	char **deny_paths;
	size_t deny_paths_count;
	bool miners;			/* deny has builtin:miners */
};

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
	const struct builtin_set *set;
	size_t i, count = 0;

	for (i = 0; i < policy->deny_count; i++) {
		const char *entry = policy->deny[i];

		if (!strncmp(entry, builtin_prefix, sizeof(builtin_prefix) - 1)) {
			set = builtin_find(entry + sizeof(builtin_prefix) - 1);
			count += set ? set->count : 0;
		} else {
			count++;
		}
	}
	return count;
}

static int matcher_add_deny(struct software_matcher *matcher, const struct software_policy *policy)
{
	const struct builtin_set *set;
	size_t i, j;
	char *name;

	for (i = 0; i < policy->deny_count; i++) {
		const char *entry = policy->deny[i];

		if (strncmp(entry, builtin_prefix, sizeof(builtin_prefix) - 1)) {
			name = matcher_own(matcher, entry);
			if (!name)
				return -ENOMEM;
			matcher_add_name(matcher, name, NULL);
			continue;
		}
		set = builtin_find(entry + sizeof(builtin_prefix) - 1);
		if (!set) {
			/* The configuration checks set names: this is a bug, not a policy. */
			pr_warn("software: policy %s: unknown set \"%s\", ignored",
				policy->name ? policy->name : "?", entry);
			continue;
		}
		if (!set->names)
			return -ENOMEM; /* the set failed to load: denying less is not safe */
		if (!strcmp(set->name, "miners"))
			matcher->miners = true;
		for (j = 0; j < set->count; j++)
			matcher_add_name(matcher, set->names[j], set->origin);
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
	pthread_once(&builtin_once, load_builtin);
	names = deny_name_count(policy);
	matcher->owned = calloc(policy->deny_count + policy->deny_sha256_count +
					policy->allow_sha256_count + 1,
				sizeof(*matcher->owned));
	if (!matcher->owned)
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
	free(matcher);
}

bool software_matcher_needs_sha256(const struct software_matcher *matcher)
{
	return matcher && matcher->sha256_count;
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

bool software_match(const struct software_matcher *matcher, const struct software_facts *facts,
		    struct software_verdict *verdict)
{
	const struct software_marker *marker;
	const struct string_entry *entry;
	size_t i;

	if (!matcher || !facts)
		return false;
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
	if (!matcher->miners)
		return false;
	if (match_argv(facts, false, &marker)) {
		set_verdict(verdict, SOFTWARE_RULE_ARGV,
			    "command line carries a miner marker (%s)", marker->label);
		return true;
	}
	return match_behavior(facts, verdict);
}

/* ---- tracker ----------------------------------------------------------- */

struct tenant_alerts;

struct tracked_alert {
	struct hashtable_node node;	/* in the tracker's alerts, by tenant, rule and exe */
	struct tenant_alerts *tenant;
	enum software_rule rule;
	const char *exe;	/* these point into strings[] */
	const char *plan;
	const char *cgroup;
	const char *comm;
	const char *sha256;	/* NULL when unknown */
	const char *reason;
	int pid;
	int pidfd;		/* -1: none open */
	bool exited;		/* the last process is known to be gone (or there was none) */
	double since;
	double last_evidence;
	double window_s;
	char strings[];
};

struct alert_key {
	const struct tenant_alerts *tenant;
	enum software_rule rule;
	const char *exe;
};

/* A tenant with alerts: its name, shared by them, and how many there are. */
struct tenant_alerts {
	struct hashtable_node node;	/* in the tracker's tenants, by name */
	size_t count;
	char name[];
};

struct software_tracker {
	struct hashtable alerts;
	struct hashtable tenants;
	uint64_t suppressed;
	/* Executable paths are chosen by tenants: keep them from picking collisions. */
	struct hash_key key;
};

static uint64_t tenant_hash(const struct software_tracker *tracker, const char *tenant)
{
	return hash_bytes(&tracker->key, tenant, strlen(tenant) + 1);
}

static uint64_t alert_hash(const struct software_tracker *tracker, const char *tenant,
			   enum software_rule rule, const char *exe)
{
	uint32_t rule_number = (uint32_t)rule;
	struct hash_state state;

	hash_start(&state, &tracker->key);
	hash_add(&state, tenant, strlen(tenant) + 1);
	hash_add(&state, &rule_number, sizeof(rule_number));
	hash_add(&state, exe, strlen(exe) + 1);
	return hash_finish(&state);
}

static bool tenant_is(const struct hashtable_node *node, const void *name)
{
	return !strcmp(hashtable_entry(node, struct tenant_alerts, node)->name, name);
}

static bool alert_is(const struct hashtable_node *node, const void *key)
{
	const struct tracked_alert *alert = hashtable_entry(node, struct tracked_alert, node);
	const struct alert_key *wanted = key;

	return alert->tenant == wanted->tenant && alert->rule == wanted->rule &&
	       !strcmp(alert->exe, wanted->exe);
}

struct software_tracker *software_tracker_new(void)
{
	struct software_tracker *tracker = calloc(1, sizeof(*tracker));

	if (!tracker)
		goto cleanup;
	hashtable_init(&tracker->alerts, alert_is);
	hashtable_init(&tracker->tenants, tenant_is);
	/* All the buckets the bound allows, now: noting an alert then cannot fail on them. */
	if (hashtable_reserve(&tracker->alerts, SOFTWARE_TRACKER_MAX))
		goto cleanup;
	hash_key_random(&tracker->key);
	return tracker;

cleanup:
	software_tracker_free(tracker);
	errno = ENOMEM;
	return NULL;
}

static void alert_close_pidfd(struct tracked_alert *alert)
{
	if (alert->pidfd >= 0)
		close(alert->pidfd);
	alert->pidfd = -1;
}

static void alert_free(struct hashtable_node *node)
{
	struct tracked_alert *alert = hashtable_entry(node, struct tracked_alert, node);

	alert_close_pidfd(alert);
	free(alert);
}

static void tenant_free(struct hashtable_node *node)
{
	free(hashtable_entry(node, struct tenant_alerts, node));
}

void software_tracker_free(struct software_tracker *tracker)
{
	if (!tracker)
		return;
	hashtable_release(&tracker->alerts, alert_free);
	hashtable_release(&tracker->tenants, tenant_free);
	free(tracker);
}

static struct tenant_alerts *tenant_find(const struct software_tracker *tracker,
					 const char *name, uint64_t hash)
{
	return hashtable_entry(hashtable_find(&tracker->tenants, hash, name),
			       struct tenant_alerts, node);
}

static struct tenant_alerts *tenant_add(struct software_tracker *tracker, const char *name,
					uint64_t hash)
{
	size_t length = strlen(name) + 1;
	struct tenant_alerts *tenant = calloc(1, sizeof(*tenant) + length);

	if (!tenant)
		return NULL;
	memcpy(tenant->name, name, length);
	if (hashtable_insert(&tracker->tenants, &tenant->node, hash)) {
		free(tenant);
		return NULL;
	}
	return tenant;
}


static struct tracked_alert *alert_find(const struct software_tracker *tracker,
					const struct tenant_alerts *tenant,
					enum software_rule rule, const char *exe, uint64_t hash)
{
	const struct alert_key key = { .tenant = tenant, .rule = rule, .exe = exe };

	return hashtable_entry(hashtable_find(&tracker->alerts, hash, &key), struct tracked_alert,
			       node);
}

/*
 * Watches @pid as the last process of @alert. Without a pidfd (an old
 * kernel, no descriptors left) the pid itself is asked later: a reused pid
 * then only keeps the alert firing longer.
 */
static void alert_watch(struct tracked_alert *alert, int pid)
{
	int fd;

	alert_close_pidfd(alert);
	alert->pid = pid;
	alert->exited = pid <= 0;
	if (pid <= 0)
		return;
	fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0u);
	if (fd >= 0) {
		alert->pidfd = fd;
		return;
	}
	if (errno == ESRCH)
		alert->exited = true;
	else
		pr_debug("software: pidfd_open(%d): %s; watching the pid", pid, strerror(errno));
}

static bool alert_process_exited(struct tracked_alert *alert)
{
	struct pollfd pollfd = { .fd = alert->pidfd, .events = POLLIN };

	if (alert->exited)
		return true;
	if (alert->pidfd >= 0) {
		/* A pidfd turns readable when its process exits, reaped or not. */
		if (poll(&pollfd, 1, 0) > 0 && (pollfd.revents & (POLLIN | POLLHUP))) {
			alert->exited = true;
			alert_close_pidfd(alert);
		}
		return alert->exited;
	}
	if (kill(alert->pid, 0) && errno == ESRCH)
		alert->exited = true;
	return alert->exited;
}

static size_t string_size(const char *text)
{
	return text ? strlen(text) + 1 : 0;
}

static const char *store_string(char **cursor, const char *text)
{
	char *stored = *cursor;
	size_t size = strlen(text) + 1;

	memcpy(stored, text, size);
	*cursor += size;
	return stored;
}

static struct tracked_alert *alert_new(const struct software_alert_info *info, const char *exe)
{
	const char *comm = info->comm ? info->comm : "";
	const char *reason = info->reason ? info->reason : "";
	const char *plan = info->plan ? info->plan : "";
	const char *cgroup = info->cgroup ? info->cgroup : "";
	struct tracked_alert *alert;
	char *cursor;

	/* One allocation for the record and its strings. */
	alert = calloc(1, sizeof(*alert) + string_size(exe) + string_size(comm) +
				  string_size(info->sha256) + string_size(reason) +
				  string_size(plan) + string_size(cgroup));
	if (!alert)
		return NULL;
	cursor = alert->strings;
	alert->exe = store_string(&cursor, exe);
	alert->plan = store_string(&cursor, plan);
	alert->cgroup = store_string(&cursor, cgroup);
	alert->comm = store_string(&cursor, comm);
	alert->sha256 = info->sha256 ? store_string(&cursor, info->sha256) : NULL;
	alert->reason = store_string(&cursor, reason);
	alert->rule = info->rule;
	alert->pidfd = -1;
	return alert;
}

int software_tracker_note(struct software_tracker *tracker, const struct software_alert_info *info,
			  double now, double window_s)
{
	const char *tenant_name = info->tenant ? info->tenant : "";
	const char *exe = info->exe ? info->exe : "";
	uint64_t hash = alert_hash(tracker, tenant_name, info->rule, exe);
	uint64_t hash_of_tenant = tenant_hash(tracker, tenant_name);
	struct tenant_alerts *tenant = tenant_find(tracker, tenant_name, hash_of_tenant);
	struct tracked_alert *alert = NULL;

	if (tenant)
		alert = alert_find(tracker, tenant, info->rule, exe, hash);
	if (alert) {
		/* Still firing: the window starts again, with the newest process to outlive. */
		alert->last_evidence = now;
		alert->window_s = window_s;
		alert_watch(alert, info->pid);
		tracker->suppressed++;
		return 0;
	}
	if (hashtable_count(&tracker->alerts) >= SOFTWARE_TRACKER_MAX ||
	    (tenant && tenant->count >= SOFTWARE_TRACKER_MAX_PER_TENANT)) {
		pr_debug("software: tracker full for tenant %s, alert suppressed", tenant_name);
		tracker->suppressed++;
		return 0;
	}
	alert = alert_new(info, exe);
	if (!alert)
		return -ENOMEM;
	if (!tenant) {
		tenant = tenant_add(tracker, tenant_name, hash_of_tenant);
		if (!tenant) {
			free(alert);
			return -ENOMEM;
		}
	}
	alert->tenant = tenant;
	alert->since = now;
	alert->last_evidence = now;
	alert->window_s = window_s;
	alert_watch(alert, info->pid);
	/* Under the bound, for which the buckets were reserved: cannot fail. */
	hashtable_insert(&tracker->alerts, &alert->node, hash);
	tenant->count++;
	return 1;
}

/* Reports @alert resolved and drops it, and its tenant with its last alert. */
static void alert_resolve(struct software_tracker *tracker, struct tracked_alert *alert,
			  software_resolved_fn fn, void *ctx)
{
	struct tenant_alerts *tenant = alert->tenant;
	struct software_alert_info info = {
		.tenant = tenant->name,
		.plan = alert->plan,
		.cgroup = alert->cgroup,
		.rule = alert->rule,
		.exe = alert->exe,
		.comm = alert->comm,
		.sha256 = alert->sha256,
		.reason = alert->reason,
		.pid = alert->pid,
		.since = alert->since,
	};

	pr_debug("software: tenant %s %s alert resolves", tenant->name,
		 software_rule_name(alert->rule));
	if (fn)
		fn(&info, ctx);
	hashtable_remove(&tracker->alerts, &alert->node);
	alert_free(&alert->node);
	if (!--tenant->count) {
		hashtable_remove(&tracker->tenants, &tenant->node);
		tenant_free(&tenant->node);
	}
}

void software_tracker_tick(struct software_tracker *tracker, double now, software_resolved_fn fn,
			   void *ctx)
{
	struct hashtable_node *node, *next;
	struct tracked_alert *alert;

	hashtable_for_each_safe(&tracker->alerts, node, next) {
		alert = hashtable_entry(node, struct tracked_alert, node);
		if (now - alert->last_evidence >= alert->window_s && alert_process_exited(alert))
			alert_resolve(tracker, alert, fn, ctx);
	}
}

void software_tracker_forget(struct software_tracker *tracker, const char *tenant_name,
			     software_resolved_fn fn, void *ctx)
{
	struct hashtable_node *node, *next;
	struct tenant_alerts *tenant;
	struct tracked_alert *alert;
	size_t left;

	if (!tenant_name)
		return;
	tenant = tenant_find(tracker, tenant_name, tenant_hash(tracker, tenant_name));
	if (!tenant)
		return;
	/* The tenant goes with its last alert: the loop ends there, before it is read again. */
	left = tenant->count;
	hashtable_for_each_safe(&tracker->alerts, node, next) {
		alert = hashtable_entry(node, struct tracked_alert, node);
		if (alert->tenant != tenant)
			continue;
		alert_resolve(tracker, alert, fn, ctx);
		if (!--left)
			break;
	}
}

uint64_t software_tracker_suppressed(const struct software_tracker *tracker)
{
	return tracker ? tracker->suppressed : 0;
}

size_t software_tracker_count(const struct software_tracker *tracker)
{
	return tracker ? hashtable_count(&tracker->alerts) : 0;
}

size_t software_argv_markers(struct argv_marker *out, size_t max)
{
	const struct software_marker *list;
	size_t count, i;

	list = software_markers(&count);
	for (i = 0; i < count && i < max; i++) {
		out[i].len = list[i].len;
		memcpy(out[i].text, list[i].text, list[i].len);
	}
	return i;
}
