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
#include "text.h"

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
	while (text_next_line(&cursor, set->end, &line, &line_end))
		lines++;
	set->names = calloc(lines ? lines : 1, sizeof(*set->names));
	if (!set->names) {
		free(set->text);
		set->text = NULL;
		return -ENOMEM;
	}
	cursor = set->start;
	while (text_next_line(&cursor, set->end, &line, &line_end)) {
		line_number++;
		if (!text_line_has_content(line, line_end))
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

size_t software_unescape_marker(const char *text, const char *text_end, char *out)
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

	while (text_next_line(&cursor, end, &line, &line_end)) {
		line_number++;
		if (!text_line_has_content(line, line_end))
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
		length = software_unescape_marker(text, line_end, marker_text[marker_count]);
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
		out[i].modprobe = list[i].modprobe;
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
		filter->bitmap[key % AW_ARGV_BITMAP_WORDS] |= 1ULL << (key / AW_ARGV_BITMAP_WORDS);
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

/*
 * Ordinary command lines, NUL-separated as the kernel keeps them (written
 * here, in the style of a build, services and tools): the windows a marker
 * shares with them would make the search stop and compare on every such
 * command line, so each marker is looked for by the windows least seen
 * here.
 */
static const char ordinary_args[] =
	"cc\0-Iinclude\0-I/usr/include/x86_64-linux-gnu\0-DHAVE_CONFIG_H\0-O2\0-g\0-Wall\0"
	"-Wextra\0-Werror=format-security\0-fstack-protector-strong\0--param=ssp-buffer-size=4\0"
	"-fPIC\0-std=gnu11\0-MMD\0-MP\0-c\0src/module.c\0-o\0build/module.o\0"
	"ld\0-z\0relro\0--as-needed\0-L/usr/lib/x86_64-linux-gnu\0-lcrypto\0-lssl\0-lpthread\0"
	"-lm\0--build-id=sha1\0--version-script=libexample.map\0"
	"java\0-Xmx2g\0-Dspring.profiles.active=production\0-Dlog4j.configurationFile=log4j2.xml\0"
	"-cp\0/opt/app/lib/commons-lang3-3.12.0.jar:/opt/app/lib/jackson-databind-2.15.jar\0"
	"com.example.server.Main\0--server.port=8080\0--management.endpoints.web.exposure=health\0"
	"python3\0-m\0pytest\0tests/test_models.py::TestAccount::test_create\0--tb=short\0-q\0"
	"node\0--max-old-space-size=4096\0/srv/app/node_modules/.bin/webpack\0--mode=production\0"
	"--config\0webpack.config.js\0--progress\0"
	"docker\0run\0--rm\0--network=host\0-v\0/var/lib/data:/data\0--name\0worker-1\0"
	"registry.example.com/team/service:1.4.2\0--log-level=info\0"
	"git\0clone\0--depth=1\0https://github.com/example/project.git\0"
	"curl\0-fsSL\0--retry\03\0-o\0/tmp/install.sh\0https://download.example.org/stable/install.sh\0"
	"ssh\0-o\0StrictHostKeyChecking=no\0deploy@host.example.net\0"
	"/usr/sbin/nginx\0-g\0daemon off;\0-c\0/etc/nginx/nginx.conf\0"
	"postgres\0-D\0/var/lib/postgresql/15/main\0-c\0config_file=/etc/postgresql/15/main/postgresql.conf\0"
	"ffmpeg\0-i\0input.mp4\0-c:v\0libx264\0-preset\0medium\0-crf\023\0-c:a\0aac\0output.mp4\0"
	"rsync\0-avz\0--delete\0--exclude=.cache\0/home/user/project/\0backup:/srv/backup/project/\0"
	"make\0-j8\0all\0CFLAGS=-O2 -pipe\0PREFIX=/usr/local\0install\0"
	"systemd-run\0--user\0--scope\0--unit=monitor\0/usr/bin/stress-ng\0--cpu\04\0--timeout\0"
	"60s\0--metrics-brief\0"
	"aws\0s3\0cp\0--recursive\0s3://bucket/logs/\0./logs/\0--region\0us-east-1\0"
	"kubectl\0apply\0-f\0deployment.yaml\0--namespace=default\0--server-side\0"
	"tar\0--extract\0--gzip\0--file=release-2.4.tar.gz\0--directory=/opt/stream\0"
	"vim\0src/hashtable.c\0lib/threadpool.h\0crypto/random.c\0docs/algorithms.md\0"
	"tests/mining_test.go\0assets/heroes/ocean.png\0support/vault_client.py\0coins.json\0"
	"--log-level=debug\0--proxy=http://proxy.internal:3128\0--max-threads=8\0--nice=10\0"
	"--hint\0--over-commit\0--nightly\0--donations-url=https://example.org/donate\0"
	"-cp\0lib/hibernate-core-6.2.jar:lib/guava-32.1.jar:lib/netty-codec-http-4.1.jar:"
	"lib/spring-core-6.0.jar:lib/log4j-core-2.20.jar:lib/slf4j-api-2.0.jar\0"
	"--determine-owners\0--examine\0users.csv\0partners.com\0--generate-report\0";

/*
 * How often ordinary command lines would have the folded window at @text:
 * the times ordinary_args has it, plus what the frequencies of its bytes
 * there predict (a window of rare bytes, 'x', '+', is rarer than one of
 * 'e', 'a', '-'), which also ranks the many windows it lacks.
 */
static double ordinary_rate(const unsigned char *text)
{
	static unsigned int byte_count[256];
	static size_t length;
	unsigned int count = 0;
	size_t at, j;
	double rate;

	if (!length) {
		length = sizeof(ordinary_args) - 1;
		for (at = 0; at < length; at++)
			byte_count[(unsigned char)ordinary_args[at] | 0x20]++;
	}
	for (at = 0; at + AW_ARGV_WINDOW <= length; at++) {
		for (j = 0; j < AW_ARGV_WINDOW; j++)
			if (((unsigned char)ordinary_args[at + j] | 0x20) != (text[j] | 0x20))
				break;
		count += j == AW_ARGV_WINDOW;
	}
	for (rate = (double)length, j = 0; j < AW_ARGV_WINDOW; j++)
		rate *= (byte_count[text[j] | 0x20] + 1.0) / (double)(length + 256);
	return count + rate;
}

/*
 * Where the AW_ARGV_STEP consecutive windows inside the marker @text (@len
 * bytes, lowercased) start that ordinary command lines would have least
 * (0 when the marker has no more windows than that).
 */
static int rarest_run(const unsigned char *text, int len)
{
	double rate[AW_ARGV_MARKER_LEN], run, best = 0;
	int offset, first = -1, j;

	if (len - AW_ARGV_WINDOW + 1 <= AW_ARGV_STEP)
		return 0;
	for (offset = 0; offset + AW_ARGV_WINDOW <= len; offset++)
		rate[offset] = ordinary_rate(text + offset);
	for (offset = 0; offset + AW_ARGV_WINDOW + AW_ARGV_STEP - 1 <= len; offset++) {
		for (run = 0, j = 0; j < AW_ARGV_STEP; j++)
			run += rate[offset + j];
		if (first < 0 || run < best) {
			best = run;
			first = offset;
		}
	}
	return first;
}

int software_argv_filter(const struct argv_marker *list, size_t count, bool modprobe,
			 struct argv_filter *filter)
{
	unsigned char text[AW_ARGV_MARKER_LEN];
	int offset, first, lead, trail, need, len, j;
	struct argv_wild window;
	unsigned int i;

	if (count > AW_ARGV_MARKERS_MAX)
		return -E2BIG;
	for (i = 0; i < count; i++)
		if (list[i].len < AW_ARGV_MARKER_MIN || list[i].len >= AW_ARGV_MARKER_LEN)
			return -EINVAL;
	memset(filter, 0, sizeof(*filter));
	for (i = 0; i < count; i++) {
		if (!list[i].modprobe != !modprobe)
			continue;
		filter->marker_count++;
		len = (int)list[i].len;
		for (j = 0; j < len; j++) {
			char c = list[i].text[j];

			text[j] = (unsigned char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
		}
		set_marker_words(&filter->markers[i], text, len);
		/*
		 * AW_ARGV_STEP consecutive windows inside the marker, the run
		 * least seen in ordinary command lines (or all of them).
		 */
		first = rarest_run(text, len);
		for (offset = first; offset + AW_ARGV_WINDOW <= len && offset < first + AW_ARGV_STEP;
		     offset++) {
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
