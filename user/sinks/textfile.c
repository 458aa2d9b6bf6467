// SPDX-License-Identifier: GPL-2.0
/*
 * Prometheus text exposition written atomically for node_exporter.
 *
 * The file is built in one buffer and handed to write() 256 KiB at a
 * time: at 10,000 tenants it is some 14 MB, and stdio would take it line by
 * line, a call and a copy each, in 4 KiB writes. A buffer of bounded size
 * rather than the whole file keeps the memory small and what was just
 * formatted in the cache while it is written out. The agent has malloc
 * give buffers this size pages of their own (agent_run(): M_MMAP_THRESHOLD),
 * so it is resident only while a file is written.
 *
 * The first failure is remembered and every later call becomes a no-op, so
 * callers can emit a whole file without checking each line and learn the
 * outcome once, from textfile_commit().
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <stdbool.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "text.h"
#include "textfile.h"

/* What is built before a write(): a 14 MB file takes some 55. */
#define TEXTFILE_BUFFER (256 << 10)
#define TEXTFILE_MODE 0644

struct textfile {
	char *path;
	char *temp_path;
	int fd;
	int error; /* first write error, as -errno */
	size_t flushed; /* bytes written out */
	size_t used; /* bytes in @buffer */
	char *buffer; /* TEXTFILE_BUFFER bytes */
};

/* Label values are escaped into a stack buffer when they fit, else into a heap one. */
#define TEXTFILE_ESCAPE_STACK 512

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/*
 * Escapes @value into @out (snprintf-like). Output is cut only between whole
 * units, so a truncated result never ends in half an escape or character.
 * @quotes: escape '"' too (label values; HELP text leaves it alone).
 */
static size_t escape_text(const char *value, int quotes, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t needed = 0, written = 0, unit_length, consumed, invalid = 0;
	const char *unit;
	char escaped[2];
	int full = 0;

	while (*s) {
		consumed = 1;
		unit = escaped;
		unit_length = 2;
		escaped[0] = '\\';
		if (*s == '\\') {
			escaped[1] = '\\';
		} else if (*s == '\n') {
			escaped[1] = 'n';
		} else if (*s == '"' && quotes) {
			escaped[1] = '"';
		} else {
			consumed = text_utf8_sequence((const char *)s, &invalid);
			if (consumed) {
				unit = (const char *)s;
				unit_length = consumed;
			} else {
				consumed = invalid;
				unit = replacement;
				unit_length = sizeof(replacement) - 1;
			}
		}
		/* After the first unit that does not fit, later (shorter) ones must not either. */
		if (!full && outlen && written + unit_length < outlen) {
			memcpy(out + written, unit, unit_length);
			written += unit_length;
		} else {
			full = 1;
		}
		needed += unit_length;
		s += consumed;
	}
	if (outlen)
		out[written] = '\0';
	return needed;
}

size_t textfile_escape_label(const char *value, char *out, size_t outlen)
{
	return escape_text(value ? value : "", 1, out, outlen);
}

static void note_error(struct textfile *file, int err)
{
	if (!file->error)
		file->error = err;
}

/* All of @length bytes to @fd, through short writes and signals. 0 or -errno. */
static int write_all(int fd, const char *data, size_t length)
{
	ssize_t done;

	while (length) {
		done = write(fd, data, length);
		if (done < 0 && errno == EINTR)
			continue;
		if (done < 0)
			return -errno;
		/* A regular file takes at least a byte or says why not; never spin. */
		if (done == 0)
			return -EIO;
		data += done;
		length -= (size_t)done;
	}
	return 0;
}

static void flush_buffer(struct textfile *file)
{
	int err;

	if (file->error || !file->used)
		return;
	err = write_all(file->fd, file->buffer, file->used);
	if (err)
		note_error(file, err);
	file->flushed += file->used;
	file->used = 0;
}

void textfile_write(struct textfile *file, const char *text, size_t length)
{
	int err;

	if (!file || file->error)
		return;
	if (length > TEXTFILE_BUFFER - file->used) {
		flush_buffer(file);
		if (file->error)
			return;
		/* Larger than the whole buffer: no point in copying it there first. */
		if (length >= TEXTFILE_BUFFER) {
			err = write_all(file->fd, text, length);
			if (err)
				note_error(file, err);
			file->flushed += length;
			return;
		}
	}
	memcpy(file->buffer + file->used, text, length);
	file->used += length;
}

char *textfile_space(struct textfile *file, size_t length)
{
	char *space;

	if (!file || file->error || length > TEXTFILE_BUFFER)
		return NULL;
	if (length > TEXTFILE_BUFFER - file->used) {
		flush_buffer(file);
		if (file->error)
			return NULL;
	}
	space = file->buffer + file->used;
	file->used += length;
	return space;
}

size_t textfile_size(const struct textfile *file)
{
	return file ? file->flushed + file->used : 0;
}

static void put_string(struct textfile *file, const char *text)
{
	textfile_write(file, text, strlen(text));
}

/* Escaped text; @quotes as for escape_text(). */
static void put_escaped(struct textfile *file, const char *text, int quotes)
{
	char stack[TEXTFILE_ESCAPE_STACK], *buffer = stack;
	size_t length;

	if (file->error)
		return;
	length = escape_text(text, quotes, stack, sizeof(stack));
	if (length >= sizeof(stack)) {
		buffer = malloc(length + 1);
		if (!buffer) {
			note_error(file, -ENOMEM);
			goto cleanup;
		}
		escape_text(text, quotes, buffer, length + 1);
	}
	textfile_write(file, buffer, length);
cleanup:
	if (buffer != stack)
		free(buffer);
}

/*
 * What "%.0f" prints for an integer, digit by digit: counters in bytes,
 * packets and tasks are most of the file's numbers, and snprintf() takes
 * the general floating-point path for each.
 */
static size_t format_integer(int64_t value, char *out)
{
	uint64_t magnitude = value < 0 ? -(uint64_t)value : (uint64_t)value;
	char digits[20];
	size_t count = 0, length = 0;

	do {
		digits[count++] = (char)('0' + magnitude % 10);
		magnitude /= 10;
	} while (magnitude);
	if (value < 0)
		out[length++] = '-';
	while (count)
		out[length++] = digits[--count];
	out[length] = '\0';
	return length;
}

#if LDBL_MANT_DIG >= 64
/*
 * What "%.Pg" prints for @value, without printf's multi-precision path:
 * CPU seconds and usage ratios are most of the numbers that are not
 * integers, and a 10,000-tenant file has some 30,000 of them.
 *
 * @value scaled by a power of ten into [10^(P-1), 10^P) is a product of
 * two exact numbers, which a long double (64-bit mantissa) rounds once, by
 * at most 2^-64 of it; rounded to an integer, that gives the P digits %g
 * prints, unless it lies within that error of halfway between two
 * integers. Those (and values %g prints with an exponent) get -1: the
 * caller asks snprintf. With @check, the digits must also read back as
 * @value (strtod rounds to nearest, ties to even), decided the same way:
 * 0 when they do not.
 */
static const long double powers_of_ten[] = {
	1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
	1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
	1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L,
};

/* The text of @value at precision @precision, its length; 0 or -1 as above. */
static int format_digits(double value, int precision, bool check, char *out)
{
	double magnitude = fabs(value);
	uint64_t low = (uint64_t)powers_of_ten[precision - 1], digits;
	long double scaled = 0, whole, fraction, error, gap, distance;
	int exponent = (int)floor(log10(magnitude)), tries, scale = 0;
	char text[24];
	size_t length = 0, count, point, i, end;

	for (tries = 0; tries < 3; tries++) {
		scale = precision - 1 - exponent;
		/* Below 10^-4 and from 10^P on, %g has an exponent; and only exact powers here. */
		if (exponent < -4 || exponent >= precision || scale < 0 || scale > 27)
			return -1;
		scaled = magnitude * powers_of_ten[scale];
		whole = floorl(scaled);
		fraction = scaled - whole;
		error = scaled * 0x1p-62L;
		if (fabsl(fraction - 0.5L) <= error)
			return -1;
		digits = (uint64_t)whole + (fraction > 0.5L);
		if (digits >= low * 10)
			exponent++;
		else if (digits < low)
			exponent--;
		else
			break;
	}
	if (tries == 3)
		return -1;
	if (check) {
		/* Half the gap to the neighbouring double on the digits' side, scaled alike. */
		if ((long double)digits > scaled)
			gap = nextafter(magnitude, INFINITY) - magnitude;
		else
			gap = magnitude - nextafter(magnitude, 0);
		gap = gap / 2 * powers_of_ten[scale];
		distance = fabsl((long double)digits - scaled);
		if (fabsl(distance - gap) <= 2 * error + gap * 0x1p-62L)
			return -1;
		if (distance > gap)
			return 0;
	}
	/* The P digits, then as %g lays them out: a point after exponent + 1 of them. */
	for (count = (size_t)precision; count; count--) {
		text[count - 1] = (char)('0' + digits % 10);
		digits /= 10;
	}
	if (value < 0)
		out[length++] = '-';
	if (exponent >= 0) {
		point = (size_t)exponent + 1;
		memcpy(out + length, text, point);
		length += point;
	} else {
		point = 0;
		out[length++] = '0';
	}
	end = (size_t)precision;
	while (end > point && text[end - 1] == '0')
		end--;
	if (end > point || exponent < 0) {
		out[length++] = '.';
		for (i = 0; exponent < 0 && i < (size_t)(-exponent - 1); i++)
			out[length++] = '0';
		memcpy(out + length, text + point, end - point);
		length += end - point;
	}
	out[length] = '\0';
	return (int)length;
}
#endif

/*
 * Integers print exactly while doubles hold them exactly (below 2^53);
 * anything else gets the shortest of %.15g and %.17g that reads back as the
 * same double, so a scrape sees the value we had and no noise digits.
 */
size_t textfile_format_value(double value, char *out)
{
	const size_t outlen = TEXTFILE_VALUE_MAX;

	if (isnan(value))
		return (size_t)snprintf(out, outlen, "NaN");
	if (isinf(value))
		return (size_t)snprintf(out, outlen, "%s", value > 0 ? "+Inf" : "-Inf");
	/* Also -0.0: "-0" is legal but surprises people reading the file. */
	if (value == 0)
		return (size_t)snprintf(out, outlen, "0");
	if (value > -9007199254740992.0 && value < 9007199254740992.0 &&
	    value == (double)(int64_t)value)
		return format_integer((int64_t)value, out);
#if LDBL_MANT_DIG >= 64
	{
		int length = format_digits(value, 15, true, out);

		if (!length)
			length = format_digits(value, 17, false, out);
		if (length > 0)
			return (size_t)length;
	}
#endif
	snprintf(out, outlen, "%.15g", value);
	if (strtod(out, NULL) != value)
		snprintf(out, outlen, "%.17g", value);
	return strlen(out);
}

static void textfile_free(struct textfile *file)
{
	if (file->fd >= 0)
		close(file->fd);
	free(file->buffer);
	free(file->temp_path);
	free(file->path);
	free(file);
}

struct textfile *textfile_open(const char *path)
{
	struct textfile *file = NULL;
	int err = 0;

	if (!path || !*path) {
		err = -EINVAL;
		goto cleanup;
	}
	file = calloc(1, sizeof(*file));
	if (!file) {
		err = -ENOMEM;
		goto cleanup;
	}
	file->fd = -1;
	file->path = strdup(path);
	file->buffer = malloc(TEXTFILE_BUFFER);
	if (!file->path || !file->buffer || asprintf(&file->temp_path, "%s.tmp", path) < 0) {
		file->temp_path = NULL;
		err = -ENOMEM;
		goto cleanup;
	}
	file->fd = open(file->temp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, TEXTFILE_MODE);
	if (file->fd < 0)
		err = -errno;
	/*
	 * node_exporter reads it as another user: exactly 0644, whatever the
	 * umask (or the mode of a temporary file left by a crash).
	 */
	else if (fchmod(file->fd, TEXTFILE_MODE))
		err = -errno;
cleanup:
	if (err) {
		if (file)
			textfile_free(file);
		file = NULL;
		errno = -err;
	}
	return file;
}

void textfile_family(struct textfile *file, const char *name, const char *type, const char *help)
{
	if (!file)
		return;
	if (!name || !type) {
		note_error(file, -EINVAL);
		return;
	}
	put_string(file, "# HELP ");
	put_string(file, name);
	put_string(file, " ");
	put_escaped(file, help ? help : "", 0);
	put_string(file, "\n# TYPE ");
	put_string(file, name);
	put_string(file, " ");
	put_string(file, type);
	put_string(file, "\n");
}

void textfile_sample(struct textfile *file, const char *name, const struct label *labels,
		     size_t label_count, double value)
{
	char number[TEXTFILE_VALUE_MAX];
	size_t i, length;

	if (!file)
		return;
	if (!name || (label_count && !labels)) {
		note_error(file, -EINVAL);
		return;
	}
	for (i = 0; i < label_count; i++) {
		if (!labels[i].name) {
			note_error(file, -EINVAL);
			return;
		}
	}
	put_string(file, name);
	for (i = 0; i < label_count; i++) {
		put_string(file, i ? "," : "{");
		put_string(file, labels[i].name);
		put_string(file, "=\"");
		put_escaped(file, labels[i].value ? labels[i].value : "", 1);
		put_string(file, "\"");
	}
	if (label_count)
		put_string(file, "}");
	length = textfile_format_value(value, number);
	put_string(file, " ");
	textfile_write(file, number, length);
	put_string(file, "\n");
}

/*
 * The new file in place of the old, atomically. An exchange where the file
 * system has one, then the old file (now at the temporary path) unlinked:
 * ext4 takes a plain rename over an existing file for an application that
 * forgot to fsync, and starts writing the new file out to disk right there
 * (auto_da_alloc), which for the 11 MB file of 10,000 tenants made the
 * rename cost more than the write; an exchange is no replacement to it, and
 * the file, replaced a few seconds later, mostly never reaches the disk.
 * A plain rename where there is no file to exchange with (the first write,
 * or something else at the path) or no exchange (older kernels, other file
 * systems).
 */
static int replace_file(const char *temp_path, const char *path)
{
	struct stat old;

	/* A directory there must still fail the rename, not be exchanged. */
	if (!lstat(path, &old) && S_ISREG(old.st_mode) &&
	    !renameat2(AT_FDCWD, temp_path, AT_FDCWD, path, RENAME_EXCHANGE)) {
		unlink(temp_path);
		return 0;
	}
	return rename(temp_path, path) ? -errno : 0;
}

/*
 * No fsync: the file is derived data, written again every interval. A crash
 * leaves at worst an old or an empty file, which the next interval
 * replaces, while an fsync would cost a disk flush a second for nothing.
 * The rename is what matters: a scrape sees the old file or the new one,
 * never half of one.
 */
int textfile_commit(struct textfile *file)
{
	int err;

	if (!file)
		return -EINVAL;
	flush_buffer(file);
	err = file->error;
	if (err)
		goto cleanup;
	/* close() can still report a write error (NFS), and must be checked before renaming. */
	err = close(file->fd) ? -errno : 0;
	file->fd = -1;
	if (err)
		goto cleanup;
	err = replace_file(file->temp_path, file->path);
cleanup:
	if (err)
		unlink(file->temp_path);
	textfile_free(file);
	return err;
}

void textfile_abort(struct textfile *file)
{
	if (!file)
		return;
	unlink(file->temp_path);
	textfile_free(file);
}

int textfile_touch(const char *path)
{
	if (!path || !*path)
		return -EINVAL;
	/* NULL times: now, as the kernel's clock has it, like a write would set it. */
	return utimensat(AT_FDCWD, path, NULL, 0) ? -errno : 0;
}
