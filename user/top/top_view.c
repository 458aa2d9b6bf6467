// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "top_view.h"

/* Column layout of the table: 28 + 4 x 13 = 80. */
#define MARK_WIDTH 1		/* '!' while an overuse alert fires */
#define TENANT_WIDTH 17
#define PLAN_COLUMN (MARK_WIDTH + TENANT_WIDTH + 1)
#define PLAN_WIDTH 8
#define FIRST_CELL (PLAN_COLUMN + PLAN_WIDTH + 1)
#define FIGURE_WIDTH 5
#define CELL_WIDTH (TOP_BAR_CELLS + 1 + FIGURE_WIDTH)
#define CELL_STEP (CELL_WIDTH + 1)

/* Past this age the agent is not writing (it writes or touches every interval). */
#define STALE_AFTER_S 10.0

static const char *const column_names[TOP_COLUMN_COUNT] = {
	[TOP_COLUMN_CPU] = "CPU",
	[TOP_COLUMN_MEMORY] = "MEMORY",
	[TOP_COLUMN_DISK] = "DISK",
	[TOP_COLUMN_NETWORK] = "NETWORK",
};

static const enum top_sort sort_of_column[TOP_COLUMN_COUNT] = {
	[TOP_COLUMN_CPU] = TOP_SORT_CPU,
	[TOP_COLUMN_MEMORY] = TOP_SORT_MEMORY,
	[TOP_COLUMN_DISK] = TOP_SORT_DISK,
	[TOP_COLUMN_NETWORK] = TOP_SORT_NETWORK,
};

static void clear_line(struct top_line *line, enum top_style style)
{
	memset(line->text, ' ', TOP_WIDTH);
	line->text[TOP_WIDTH] = '\0';
	line->style = style;
}

/*
 * Writes @text at @column, at most @width bytes; a longer text ends in '~'.
 * Bytes that a terminal would not show as one column (control characters,
 * UTF-8) become '?': tenant names come from cgroup paths.
 */
static void put(struct top_line *line, size_t column, size_t width, const char *text)
{
	size_t length = strlen(text), i;

	if (column >= TOP_WIDTH)
		return;
	if (column + width > TOP_WIDTH)
		width = TOP_WIDTH - column;
	for (i = 0; i < width && i < length; i++) {
		unsigned char c = text[i];

		line->text[column + i] = c < 0x20 || c >= 0x7f ? '?' : c;
	}
	if (length > width && width)
		line->text[column + width - 1] = '~';
}

static void putf(struct top_line *line, size_t column, size_t width, const char *format, ...)
	__attribute__((format(printf, 4, 5)));

static void putf(struct top_line *line, size_t column, size_t width, const char *format, ...)
{
	char text[TOP_WIDTH * 4];
	va_list args;

	va_start(args, format);
	vsnprintf(text, sizeof(text), format, args);
	va_end(args);
	put(line, column, width, text);
}

/* Drops trailing blanks: a terminal line need not be filled. */
static void trim(struct top_line *line)
{
	size_t end = strlen(line->text);

	while (end && line->text[end - 1] == ' ')
		end--;
	line->text[end] = '\0';
}

/*
 * @value with a binary prefix, the number in at most 4 characters: "12K",
 * "1.5M" in a cell; "1.5MiB/s" with @iec and @suffix "B/s".
 */
static void format_scaled(double value, bool iec, const char *suffix, char *out, size_t size)
{
	static const char prefixes[] = " KMGTPE";
	size_t prefix = 0;

	while (value >= 999.5 && prefix + 1 < sizeof(prefixes) - 1) {
		value /= 1024;
		prefix++;
	}
	if (!prefix)
		snprintf(out, size, "%.0f%s", value, suffix);
	else
		snprintf(out, size, value < 9.95 ? "%.1f%c%s%s" : "%.0f%c%s%s", value,
			 prefixes[prefix], iec ? "i" : "", suffix);
}

/* A column's usage without a limit, in 5 characters: cores, bytes, bytes/s. */
static void format_usage(enum top_column column, double value, char *out, size_t size)
{
	if (isnan(value) || value < 0)
		snprintf(out, size, "-");
	else if (column == TOP_COLUMN_CPU)
		snprintf(out, size, value < 9.995 ? "%.2fc" : value < 99.95 ? "%.1fc" : "%.0fc",
			 value);
	else
		format_scaled(value, false, "", out, size);
}

void top_format_quantity(const char *resource_name, double value, char *out, size_t size)
{
	int resource = resource_from_name(resource_name);
	const struct resource_info *info = resource >= 0 ? resource_info(resource) : NULL;
	const char *unit = info ? info->unit : "";

	if (isnan(value)) {
		snprintf(out, size, "?");
	} else if (!strcmp(unit, "bytes")) {
		format_scaled(value, true, "B", out, size);
	} else if (!strcmp(unit, "bytes/s")) {
		format_scaled(value, true, "B/s", out, size);
	} else {
		/* cores, tasks, packets/s, connects/s, forks/s */
		snprintf(out, size, value < 10 ? "%.2f %s" : "%.0f %s", value, unit);
	}
}

/* "[bar] figure": a bar of TOP_BAR_CELLS and the percentage, or the bare usage. */
static void put_cell(struct top_line *line, size_t column, double ratio, double usage,
		     enum top_column which)
{
	char figure[16], bar[TOP_BAR_CELLS + 1];
	long filled;
	int i;

	if (isnan(ratio)) {
		format_usage(which, usage, figure, sizeof(figure));
		putf(line, column + TOP_BAR_CELLS + 1, FIGURE_WIDTH, "%*s", FIGURE_WIDTH, figure);
		return;
	}
	filled = lround(ratio * TOP_BAR_CELLS);
	if (filled > TOP_BAR_CELLS)
		filled = TOP_BAR_CELLS;
	for (i = 0; i < TOP_BAR_CELLS; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[TOP_BAR_CELLS] = '\0';
	put(line, column, TOP_BAR_CELLS, bar);
	if (ratio * 100 >= 999.5)
		snprintf(figure, sizeof(figure), ">999%%");
	else
		snprintf(figure, sizeof(figure), "%.0f%%", ratio < 0 ? 0 : ratio * 100);
	putf(line, column + TOP_BAR_CELLS + 1, FIGURE_WIDTH, "%*s", FIGURE_WIDTH, figure);
}

static void format_duration(double seconds, char *out, size_t size)
{
	long s = seconds > 0 ? (long)seconds : 0;

	if (s < 60)
		snprintf(out, size, "%lds", s);
	else if (s < 3600)
		snprintf(out, size, "%ldm%02lds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, size, "%ldh%02ldm", s / 3600, s / 60 % 60);
	else
		snprintf(out, size, "%ldd%02ldh", s / 86400, s / 3600 % 24);
}

static void render_title(const struct top_view *view, struct top_line *line)
{
	const struct top_snapshot *snapshot = view->snapshot;
	char age[32], right[64];

	clear_line(line, TOP_STYLE_TITLE);
	if (view->error) {
		line->style = TOP_STYLE_WARNING;
		putf(line, 0, TOP_WIDTH, "abusewatch top: cannot read %s: %s", view->textfile,
		     view->error);
		trim(line);
		return;
	}
	if (!snapshot) {
		putf(line, 0, TOP_WIDTH, "abusewatch top: reading %s", view->textfile);
		return;
	}
	putf(line, 0, TOP_WIDTH, "abusewatch top - %s - %zu tenant%s, %zu over a limit",
	     view->host, snapshot->tenant_count, snapshot->tenant_count == 1 ? "" : "s",
	     top_snapshot_over_count(snapshot));
	if (isnan(view->textfile_age_s))
		return;
	if (view->textfile_age_s > STALE_AFTER_S) {
		/* The agent writes or touches it every interval: it is not running. */
		format_duration(view->textfile_age_s, age, sizeof(age));
		snprintf(right, sizeof(right), " textfile %s old: agent down?", age);
		line->style = TOP_STYLE_WARNING;
	} else {
		snprintf(right, sizeof(right), " textfile %.1fs old", view->textfile_age_s);
	}
	put(line, TOP_WIDTH - strlen(right), strlen(right), right);
}

static void render_summary(const struct top_view *view, struct top_line *line)
{
	const struct top_snapshot *snapshot = view->snapshot;
	const double *total = snapshot->alerts_total;

	clear_line(line, TOP_STYLE_NORMAL);
	putf(line, 0, TOP_WIDTH,
	     "alerts raised: overuse %.0f, software %.0f, network %.0f   events lost %.0f   %s%s",
	     isnan(total[TOP_KIND_OVERUSE]) ? 0 : total[TOP_KIND_OVERUSE],
	     isnan(total[TOP_KIND_SOFTWARE]) ? 0 : total[TOP_KIND_SOFTWARE],
	     isnan(total[TOP_KIND_NETWORK]) ? 0 : total[TOP_KIND_NETWORK],
	     isnan(snapshot->events_lost) ? 0 : snapshot->events_lost,
	     snapshot->version[0] ? "v" : "", snapshot->version);
}

static void render_header(const struct top_view *view, struct top_line *line)
{
	int column;

	clear_line(line, TOP_STYLE_HEADER);
	putf(line, MARK_WIDTH, TENANT_WIDTH, "TENANT%s", view->sort == TOP_SORT_TENANT ? "*" : "");
	put(line, PLAN_COLUMN, PLAN_WIDTH, "PLAN");
	for (column = 0; column < TOP_COLUMN_COUNT; column++)
		putf(line, FIRST_CELL + column * CELL_STEP, CELL_WIDTH, "%s%s",
		     column_names[column], view->sort == sort_of_column[column] ? "*" : "");
}

static void render_tenant(const struct top_tenant *tenant, struct top_line *line)
{
	int column;

	clear_line(line, top_tenant_over(tenant) ? TOP_STYLE_OVER : TOP_STYLE_NORMAL);
	if (line->style == TOP_STYLE_OVER)
		put(line, 0, MARK_WIDTH, "!");
	put(line, MARK_WIDTH, TENANT_WIDTH, tenant->tenant);
	put(line, PLAN_COLUMN, PLAN_WIDTH, tenant->plan);
	for (column = 0; column < TOP_COLUMN_COUNT; column++)
		put_cell(line, FIRST_CELL + column * CELL_STEP, top_column_ratio(tenant, column),
			 tenant->usage[column], column);
	trim(line);
}

static void render_alert(const struct top_view *view, const struct top_alert *alert,
			 struct top_line *line)
{
	char value[32], limit[32], since[32];

	clear_line(line, TOP_STYLE_OVER);
	put(line, 1, TENANT_WIDTH, alert->tenant);
	put(line, PLAN_COLUMN, 14, alert->resource);
	put(line, PLAN_COLUMN + 15, 8, alert->rule ? alert->rule : "");
	top_format_quantity(alert->resource, alert->value, value, sizeof(value));
	top_format_quantity(alert->resource, alert->limit, limit, sizeof(limit));
	if (!isnan(alert->limit))
		putf(line, PLAN_COLUMN + 24, 26, "%s > %s", isnan(alert->value) ? "?" : value,
		     limit);
	if (!isnan(alert->since)) {
		format_duration(view->now_wall - alert->since, since, sizeof(since));
		putf(line, PLAN_COLUMN + 51, TOP_WIDTH - PLAN_COLUMN - 51, "for %s", since);
	}
	trim(line);
}

static void render_footer(const struct top_view *view, struct top_line *line)
{
	clear_line(line, TOP_STYLE_FOOTER);
	putf(line, 0, TOP_WIDTH - 1,
	     "sort by [u]sage [c]pu [m]emory [d]isk [n]etwork [t]enant (now: %s)  [q]uit",
	     top_sort_name(view->sort));
	trim(line);
}

size_t top_view_lines_needed(const struct top_snapshot *snapshot)
{
	/* title, summary, header, rows, blank, alerts heading, alerts or "none" */
	return 6 + (snapshot ? snapshot->tenant_count + snapshot->alert_count : 0) + 1;
}

size_t top_view_render(struct top_view *view, size_t height, struct top_line *lines)
{
	const struct top_snapshot *snapshot = view->snapshot;
	size_t used = 0, limit, footer_lines, alert_lines, row_room, rows, i, shown;
	bool printout = !height;
	char count_text[24];

	if (printout)
		height = top_view_lines_needed(snapshot);
	footer_lines = view->footer && !printout ? 1 : 0;
	if (height <= footer_lines)
		return 0;
	limit = height - footer_lines;

	render_title(view, &lines[used++]);
	if (!snapshot || used >= limit)
		goto footer;
	render_summary(view, &lines[used++]);
	if (used < limit)
		render_header(view, &lines[used++]);

	/* The alerts get up to a third of what is left, and the table the rest. */
	alert_lines = snapshot->alert_count ? snapshot->alert_count : 1;
	if (!printout && alert_lines > (limit - used) / 3)
		alert_lines = (limit - used) / 3 ?: 1;
	row_room = limit - used > alert_lines + 2 ? limit - used - alert_lines - 2 : 0;
	if (snapshot->tenant_count <= row_room)
		view->first_row = 0;
	else if (view->first_row > snapshot->tenant_count - row_room + 1)
		view->first_row = snapshot->tenant_count - row_room + 1;
	rows = snapshot->tenant_count - view->first_row;
	if (rows > row_room)
		rows = row_room ? row_room - 1 : 0;	/* and a line that says so */
	for (i = 0; i < rows; i++)
		render_tenant(snapshot->tenants[view->first_row + i], &lines[used++]);
	if (view->first_row + rows < snapshot->tenant_count && used < limit) {
		clear_line(&lines[used], TOP_STYLE_NORMAL);
		putf(&lines[used++], 1, TOP_WIDTH - 1,
		     "... %zu more (%zu-%zu of %zu shown; arrows scroll)",
		     snapshot->tenant_count - view->first_row - rows, view->first_row + 1,
		     view->first_row + rows, snapshot->tenant_count);
		trim(&lines[used - 1]);
	}
	if (!snapshot->tenant_count && used < limit) {
		clear_line(&lines[used], TOP_STYLE_NORMAL);
		put(&lines[used++], 1, TOP_WIDTH - 1,
		    "no tenants (yet): no cgroup matches a tenant rule");
		trim(&lines[used - 1]);
	}

	if (used + 1 < limit) {
		clear_line(&lines[used], TOP_STYLE_NORMAL);
		trim(&lines[used++]);
	}
	if (used >= limit)
		goto footer;
	clear_line(&lines[used], TOP_STYLE_SECTION);
	snprintf(count_text, sizeof(count_text), "%zu", snapshot->alert_count);
	/* The state directory is in the configuration: the line keeps room for the count. */
	putf(&lines[used++], 0, TOP_WIDTH, "FIRING OVERUSE ALERTS: %s (from %s)",
	     snapshot->alert_count ? count_text : "none",
	     snapshot->alerts_from_state ? "the agent's firing.json" : "the textfile");
	trim(&lines[used - 1]);
	shown = snapshot->alert_count;
	if (shown > limit - used)
		shown = limit - used;
	if (shown < snapshot->alert_count && shown)
		shown--;
	for (i = 0; i < shown; i++)
		render_alert(view, &snapshot->alerts[i], &lines[used++]);
	if (shown < snapshot->alert_count && used < limit) {
		clear_line(&lines[used], TOP_STYLE_OVER);
		putf(&lines[used++], 1, TOP_WIDTH - 1, "... %zu more",
		     snapshot->alert_count - shown);
		trim(&lines[used - 1]);
	}

footer:
	if (footer_lines) {
		/* The footer is the screen's last line. */
		while (used < height - 1) {
			clear_line(&lines[used], TOP_STYLE_NORMAL);
			trim(&lines[used++]);
		}
		render_footer(view, &lines[used++]);
	}
	return used;
}
