/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What is caught once is caught everywhere: the sha256 digests that a
 * software rule flagged on this node, each with the built-in sets of the
 * policy that caught it (SOFTWARE_SET_*) and the rule that did, so that
 * every policy denying one of those sets denies the same file under any
 * name, in any tenant (rule learned_sha256).
 *
 * Kept in STATE_DIR/learned_sha256, one digest a line, oldest first:
 *   SHA256 SET[,SET...] RULE
 * written whole, atomically, 0600 at each new digest (they are rare), read
 * at start. At most LEARNED_MAX digests: the oldest give way. A file that
 * does not parse is set aside whole (the agent starts clean and says so):
 * a half-read list would be trusted for what it lost.
 */
#ifndef ABUSEWATCH_LEARNED_H
#define ABUSEWATCH_LEARNED_H

#include <stdbool.h>
#include <stddef.h>

#define LEARNED_MAX 4096
#define LEARNED_RULE_MAX 32
#define LEARNED_FILE "learned_sha256"

struct learned_entry {
	char sha256[65];
	unsigned int sets;		/* SOFTWARE_SET_* */
	char rule[LEARNED_RULE_MAX];	/* the rule that caught it first: "name", "content"... */
};

struct learned;

/*
 * An empty store that keeps itself in @state_dir (NULL or "": in memory
 * only). NULL on ENOMEM.
 */
struct learned *learned_new(const char *state_dir);
void learned_free(struct learned *learned);

/* Reads the file of the state directory: 0, -ENOENT (none yet), or -EINVAL (set aside, logged). */
int learned_load(struct learned *learned);

/*
 * Parses @text (the file's format) into @learned, replacing what it held;
 * 0, or -EINVAL with @why naming the first bad line (then @learned is
 * empty). More than LEARNED_MAX lines: the newest are kept.
 */
int learned_parse(struct learned *learned, const char *text, size_t length, char *why,
		  size_t why_size);

/* The file's text, oldest first, in a malloc'd *@text. 0 or -ENOMEM. */
int learned_format(const struct learned *learned, char **text, size_t *length);

/* The entry of @sha256 (64 lowercase hex digits), or NULL. */
const struct learned_entry *learned_find(const struct learned *learned, const char *sha256);

/*
 * Remembers @sha256 as caught by @rule under @sets (not 0), and writes the
 * file. A digest already known gains the sets; its rule stays the first.
 * 1 when something changed, 0 when not, -EINVAL for a bad digest or no
 * set. A failed write is logged; the digest stays remembered in memory.
 */
int learned_add(struct learned *learned, const char *sha256, unsigned int sets,
		const char *rule);

size_t learned_count(const struct learned *learned);

#endif
