/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The screen of `abusewatch top` as lines of text, each with one style:
 * a title, the tenants' table (a bar and a figure per column), the firing
 * alerts and a footer with the keys. No terminal here, so that a test can
 * read the screen as text; top.c draws the lines with curses.
 */
#ifndef ABUSEWATCH_TOP_VIEW_H
#define ABUSEWATCH_TOP_VIEW_H

#include <stddef.h>

#include "top_model.h"

/* The layout is made for 80 columns; a wider terminal shows the same. */
#define TOP_WIDTH 80
/* Cells of a bar: each is 1/6 of the limit. */
#define TOP_BAR_CELLS 6

enum top_style {
	TOP_STYLE_NORMAL,
	TOP_STYLE_TITLE,
	TOP_STYLE_HEADER,	/* the table's column names */
	TOP_STYLE_OVER,		/* a tenant with an overuse alert firing */
	TOP_STYLE_SECTION,	/* the alerts' heading */
	TOP_STYLE_WARNING,	/* a textfile that cannot be read, or is old */
	TOP_STYLE_FOOTER,
};

struct top_line {
	char text[TOP_WIDTH + 1];
	enum top_style style;
};

struct top_view {
	const struct top_snapshot *snapshot;	/* NULL: nothing read yet */
	const char *host;
	const char *textfile;
	const char *error;	/* why the textfile could not be read, or NULL */
	double textfile_age_s;	/* NaN: unknown */
	double now_wall;	/* for how long alerts fire */
	enum top_sort sort;
	size_t first_row;	/* scrolled past this many tenants */
	int footer;		/* 0: no key footer (a printout, not a terminal) */
};

/*
 * Renders @view into @lines, at most @height of them (a screen of @height
 * rows: the footer is the last), and returns how many were used. With
 * @height 0, every tenant and alert (a printout). The table's rows are
 * those of the snapshot's order; *@first_row is clamped to what fits.
 */
size_t top_view_render(struct top_view *view, size_t height, struct top_line *lines);

/* The lines a printout of @snapshot needs: top_view_render with @height 0. */
size_t top_view_lines_needed(const struct top_snapshot *snapshot);

/* Formats a quantity of @resource ("cpu", ...) in its unit into @out, e.g. "1.5GiB". */
void top_format_quantity(const char *resource, double value, char *out, size_t size);

#endif
