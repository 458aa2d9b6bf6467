/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The built-in data of the software rules: the program name sets that a
 * policy names as builtin:SET and the command-line markers that the exec
 * probe looks for. It lives in the .txt files of data/software (miners,
 * scanners, flooders, tunnels, argv_markers), compiled in by
 * software_data.S; each file names its public sources.
 */
#ifndef ABUSEWATCH_SOFTWARE_BUILTIN_H
#define ABUSEWATCH_SOFTWARE_BUILTIN_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "software_events.h"

/*
 * The names of built-in set @set ("miners", "scanners", "flooders",
 * "tunnels"), lowercase, in data file order, in *names and *count.
 * Returns 0, -ENOENT for an unknown set, or -ENOMEM when the set could not
 * be loaded (then *names is NULL). Parsed once from the compiled-in data;
 * thread-safe.
 */
int software_builtin_names(const char *set, const char *const **names, size_t *count);

/*
 * The same names; NULL (and *count 0) for an unknown set, and an empty
 * list for one that could not be loaded.
 */
const char *const *software_builtin_set(const char *set, size_t *count);

struct software_marker {
	const char *text;	/* may hold NUL bytes: see software_events.h */
	size_t len;		/* AW_ARGV_MARKER_MIN .. AW_ARGV_MARKER_LEN - 1 */
	const char *label;	/* printable form for reasons, e.g. "stratum+tcp://", "msr" */
	bool modprobe;		/* counts only when the program is modprobe or insmod */
};

/*
 * The command-line markers, at most AW_ARGV_MARKERS_MAX, in the order of
 * the bits of software_event.argv_markers. Loaded into the kernel as they are.
 */
const struct software_marker *software_markers(size_t *count);
/* The same markers in the exec probe's form (@max slots): returns how many. */
size_t software_argv_markers(struct argv_marker *out, size_t max);

/*
 * Unescapes the TEXT of a marker line of the data files (\0 and \\ only)
 * into @out (AW_ARGV_MARKER_LEN bytes). Returns its length, or 0 when
 * malformed, shorter than AW_ARGV_MARKER_MIN, not shorter than
 * AW_ARGV_MARKER_LEN, or only NULs (the kernel's prefix filter needs four
 * bytes that can match).
 */
size_t software_unescape_marker(const char *text, const char *text_end, char *out);

/*
 * The exec probe's filter (struct argv_filter, software_events.h) in
 * @filter, for those of the @count markers of @list whose modprobe flag is
 * @modprobe (marker_count says how many; each keeps its index in @list as
 * its bit): the markers lowercased, the bitmap of the keys of their
 * windows, and the windows. The probe has one filter of each kind. Returns
 * 0, -E2BIG for more than AW_ARGV_MARKERS_MAX markers, or -EINVAL for one
 * shorter than AW_ARGV_MARKER_MIN or not shorter than AW_ARGV_MARKER_LEN.
 */
int software_argv_filter(const struct argv_marker *list, size_t count, bool modprobe,
			 struct argv_filter *filter);

#endif
