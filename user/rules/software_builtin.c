// SPDX-License-Identifier: GPL-2.0
/*
 * The built-in name sets and command-line markers of the software rules,
 * parsed from the .txt files of data/software that software_data.S
 * compiles in.
 *
 * The data is parsed once, on first use. It is ours, so a malformed line is
 * a bug: it is logged and skipped rather than failing the agent, and a unit
 * test checks that every shipped line parses.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "software_builtin.h"

#define NAME_LEN_MAX 255 /* NAME_MAX: a name is one path component */

/* Embedded by user/rules/software_data.S. */
extern const char software_miners_txt[], software_miners_txt_end[];
extern const char software_scanners_txt[], software_scanners_txt_end[];
extern const char software_flooders_txt[], software_flooders_txt_end[];
extern const char software_tunnels_txt[], software_tunnels_txt_end[];
extern const char software_argv_markers_txt[], software_argv_markers_txt_end[];

struct builtin_set {
	const char *name;	/* "miners" */
	const char *start;
	const char *end;
	char *text;		/* a copy of the file, split into names in place */
	const char **names;
	size_t count;
};

static struct builtin_set builtin_sets[] = {
#define BUILTIN_SET(set_name)                                                                      \
	{ .name = #set_name, .start = software_##set_name##_txt,                                   \
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

int software_builtin_names(const char *set, const char *const **names, size_t *count)
{
	const struct builtin_set *found;
	size_t i;

	*names = NULL;
	*count = 0;
	if (!set)
		return -ENOENT;
	pthread_once(&builtin_once, load_builtin);
	for (i = 0; i < BUILTIN_SET_COUNT; i++) {
		found = &builtin_sets[i];
		if (strcmp(found->name, set))
			continue;
		if (!found->names)
			return -ENOMEM;
		*names = found->names;
		*count = found->count;
		return 0;
	}
	return -ENOENT;
}

const char *const *software_builtin_set(const char *set, size_t *count)
{
	const char *const *names;
	size_t found_count;
	int err;

	err = software_builtin_names(set, &names, &found_count);
	if (count)
		*count = found_count;
	if (err == -ENOENT)
		return NULL;
	/* An empty set, even one that failed to load, is not an unknown one. */
	if (err) {
		static const char *const none[1];

		return none;
	}
	return names;
}

const struct software_marker *software_markers(size_t *count)
{
	pthread_once(&builtin_once, load_builtin);
	if (count)
		*count = marker_count;
	return markers;
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

/*
 * The window of the marker @text (@len bytes, lowercased) that starts
 * @offset bytes from its start, folded as the search folds what it reads;
 * bytes off the marker are wild (mask 0).
 */
static struct argv_wild marker_window(const unsigned char *text, int len, int offset)
{
	unsigned char bytes[AW_ARGV_WINDOW], mask[AW_ARGV_WINDOW];
	struct argv_wild window = { .offset = (__s8)offset, .len = (__u8)len };
	int i, at;

	for (i = 0; i < AW_ARGV_WINDOW; i++) {
		at = offset + i;
		if (at < 0 || at >= len) {
			bytes[i] = 0;
			mask[i] = 0;
		} else {
			bytes[i] = text[at] | 0x20;
			mask[i] = 0xff;
		}
	}
	/* As the kernel loads them: a native __u32, in either byte order. */
	memcpy(&window.bytes, bytes, sizeof(bytes));
	memcpy(&window.mask, mask, sizeof(mask));
	return window;
}

/*
 * Sets the bitmap bit of @window; for a wild one, the bit of every value
 * the search can read there: any byte, folded (bit 5 set), 128 values.
 */
static void set_window_bits(struct argv_filter *filter, const struct argv_wild *window)
{
	unsigned char bytes[AW_ARGV_WINDOW], mask[AW_ARGV_WINDOW];
	unsigned int wild[AW_ARGV_WINDOW], wild_count = 0, i;
	unsigned long combination, combinations;
	__u32 value, key;

	memcpy(bytes, &window->bytes, sizeof(bytes));
	memcpy(mask, &window->mask, sizeof(mask));
	for (i = 0; i < AW_ARGV_WINDOW; i++)
		if (!mask[i])
			wild[wild_count++] = i;
	combinations = 1UL << (7 * wild_count);
	for (combination = 0; combination < combinations; combination++) {
		for (i = 0; i < wild_count; i++) {
			unsigned int seven = (unsigned int)(combination >> (7 * i)) & 0x7f;

			/* Seven free bits around bit 5, which folding always sets. */
			bytes[wild[i]] = (unsigned char)((seven & 0x1f) | 0x20 | (seven & 0x60) << 1);
		}
		memcpy(&value, bytes, sizeof(value));
		key = aw_argv_key(value);
		filter->bitmap[key / 64] |= 1ULL << (key % 64);
	}
}

/* Puts a window inside a marker in the first free slot from its own. */
static void add_slot(struct argv_filter *filter, const struct argv_wild *window, __u8 marker)
{
	unsigned int mask = (1U << AW_ARGV_SLOT_BITS) - 1;
	unsigned int slot = aw_argv_key(window->bytes) >> (AW_ARGV_KEY_BITS - AW_ARGV_SLOT_BITS);
	unsigned int probe = 1;

	/* At most half full (software_events.h): a free slot is always found. */
	while (filter->slots[slot].bytes) {
		slot = (slot + 1) & mask;
		probe++;
	}
	filter->slots[slot] = (struct argv_window){
		.bytes = window->bytes,
		.marker = marker,
		.offset = (__u8)window->offset,
		.len = window->len,
	};
	if (probe > filter->probe_max)
		filter->probe_max = probe;
}

/* The marker @text (@len bytes, lowercased) as the kernel compares it: words and masks. */
static void set_marker_words(struct argv_marker_words *words, const unsigned char *text, int len)
{
	unsigned char bytes[AW_ARGV_MARKER_LEN] = { 0 }, mask[AW_ARGV_MARKER_LEN] = { 0 };

	memcpy(bytes, text, (size_t)len);
	memset(mask, 0xff, (size_t)len);
	memcpy(words->text, bytes, sizeof(words->text));
	memcpy(words->mask, mask, sizeof(words->mask));
}

int software_argv_filter(const struct argv_marker *list, size_t count,
			 struct argv_filter *filter)
{
	unsigned char text[AW_ARGV_MARKER_LEN];
	int offset, lead, trail, need, len, j;
	struct argv_wild window;
	unsigned int i;

	if (count > AW_ARGV_MARKERS_MAX)
		return -E2BIG;
	for (i = 0; i < count; i++)
		if (list[i].len < AW_ARGV_MARKER_MIN || list[i].len >= AW_ARGV_MARKER_LEN)
			return -EINVAL;
	memset(filter, 0, sizeof(*filter));
	filter->marker_count = (__u32)count;
	for (i = 0; i < count; i++) {
		len = (int)list[i].len;
		for (j = 0; j < len; j++) {
			char c = list[i].text[j];

			text[j] = (unsigned char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
		}
		set_marker_words(&filter->markers[i], text, len);
		/* Every window inside the marker: len - 3 consecutive positions. */
		for (offset = 0; offset + AW_ARGV_WINDOW <= len; offset++) {
			window = marker_window(text, len, offset);
			set_window_bits(filter, &window);
			add_slot(filter, &window, (__u8)i);
		}
		/*
		 * Too short to put one on every AW_ARGV_STEP-th position: the
		 * windows running off its end, then its start, in turn, until
		 * AW_ARGV_STEP consecutive positions have one.
		 */
		need = AW_ARGV_STEP - (len - AW_ARGV_WINDOW + 1);
		for (lead = 0, trail = 0; need > 0; need--) {
			if (trail <= lead)
				offset = len - AW_ARGV_WINDOW + ++trail;
			else
				offset = -++lead;
			window = marker_window(text, len, offset);
			window.marker = (__u8)i;
			set_window_bits(filter, &window);
			filter->wild[filter->wild_count++] = window;
		}
	}
	return 0;
}
