// SPDX-License-Identifier: GPL-2.0
/* `abusewatch top`: the read-sort-draw loop and the terminal (ncurses). */
#include <curses.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "files.h"
#include "top.h"
#include "top_model.h"
#include "top_view.h"

#define REFRESH_S 1.0
/* The agent's file at 10,000 tenants is a few MiB; this is far more. */
#define TEXTFILE_MAX (1u << 30)
#define FIRING_MAX (256u << 20)

enum {
	PAIR_OVER = 1,
	PAIR_WARNING,
};

struct top_state {
	const struct top_options *options;
	struct top_snapshot *snapshot;	/* the last read, sorted; NULL before */
	char error[256];		/* why the last read failed; "" when it did not */
	double textfile_mtime;		/* wall seconds; NaN: unknown */
	enum top_sort sort;
	size_t first_row;
};

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int signo)
{
	stop_signal = signo;
}

/* Reads the textfile (and the firing state) into a new snapshot. */
static void read_agent_files(struct top_state *state)
{
	const struct top_options *options = state->options;
	struct top_snapshot *snapshot = NULL;
	char *text = NULL, *firing = NULL;
	size_t length = 0;
	struct stat st;
	int err;

	state->error[0] = '\0';
	err = files_read_all(options->textfile, TEXTFILE_MAX, &text, &length);
	if (err)
		goto failed;
	/* The file is replaced by rename: its mtime is that of this content or newer. */
	state->textfile_mtime = stat(options->textfile, &st) ? NAN :
				st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
	snapshot = top_snapshot_new();
	if (!snapshot) {
		err = -ENOMEM;
		goto failed;
	}
	err = top_snapshot_parse(snapshot, text, length, clock_monotonic());
	if (err)
		goto failed;
	/* Readable by root only (mode 0600): elsewhere the textfile's alerts stand. */
	if (options->firing_path &&
	    !files_read_all(options->firing_path, FIRING_MAX, &firing, NULL)) {
		err = top_snapshot_load_firing(snapshot, firing);
		if (err == -ENOMEM)
			goto failed;
	}
	top_snapshot_rates(snapshot, state->snapshot);
	top_snapshot_sort(snapshot, state->sort);
	top_snapshot_free(state->snapshot);
	state->snapshot = snapshot;
	snapshot = NULL;
	err = 0;
failed:
	if (err)
		snprintf(state->error, sizeof(state->error), "%s", strerror(-err));
	top_snapshot_free(snapshot);
	free(firing);
	free(text);
}

static void describe(const struct top_state *state, struct top_view *view)
{
	const struct top_options *options = state->options;

	*view = (struct top_view){
		.snapshot = state->snapshot,
		.host = options->host,
		.textfile = options->textfile,
		.error = state->error[0] ? state->error : NULL,
		.textfile_age_s = isnan(state->textfile_mtime) ?
					  NAN :
					  fmax(0, clock_wall() - state->textfile_mtime),
		.now_wall = clock_wall(),
		.sort = state->sort,
		.first_row = state->first_row,
	};
}

static attr_t style_attributes(enum top_style style)
{
	bool colors = has_colors();

	switch (style) {
	case TOP_STYLE_TITLE:
	case TOP_STYLE_SECTION:
		return A_BOLD;
	case TOP_STYLE_HEADER:
	case TOP_STYLE_FOOTER:
		return A_REVERSE;
	case TOP_STYLE_OVER:
		return A_BOLD | (colors ? COLOR_PAIR(PAIR_OVER) : 0);
	case TOP_STYLE_WARNING:
		return A_BOLD | (colors ? COLOR_PAIR(PAIR_WARNING) : 0);
	default:
		return A_NORMAL;
	}
}

static int draw(struct top_state *state)
{
	struct top_line *lines;
	struct top_view view;
	size_t count, i;
	int rows, columns, width;

	getmaxyx(stdscr, rows, columns);
	if (rows <= 0 || columns <= 0)
		return 0;
	lines = calloc(rows, sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	describe(state, &view);
	view.footer = 1;
	count = top_view_render(&view, rows, lines);
	state->first_row = view.first_row;
	erase();
	for (i = 0; i < count; i++) {
		width = columns < TOP_WIDTH ? columns : TOP_WIDTH;
		/* Writing the bottom right cell would scroll some terminals. */
		if ((int)i == rows - 1 && width == columns)
			width--;
		attrset(style_attributes(lines[i].style));
		mvaddnstr(i, 0, lines[i].text, width);
		/* Header and footer bars span the screen. */
		if (lines[i].style == TOP_STYLE_HEADER || lines[i].style == TOP_STYLE_FOOTER) {
			int filled = strlen(lines[i].text);

			while (filled++ < width)
				addch(' ');
		}
	}
	attrset(A_NORMAL);
	refresh();
	free(lines);
	return 0;
}

/* How many rows a page scroll moves: the screen less title, header and footer. */
static size_t page_rows(void)
{
	return LINES > 8 ? LINES - 8 : 1;
}

/* Applies a key; false when it means quit. */
static bool handle_key(struct top_state *state, int key)
{
	int sort;

	switch (key) {
	case 'q':
	case 'Q':
	case 27:		/* Escape */
		return false;
	case KEY_DOWN:
	case 'j':
		state->first_row++;
		break;
	case KEY_UP:
	case 'k':
		if (state->first_row)
			state->first_row--;
		break;
	case KEY_NPAGE:
	case ' ':
		state->first_row += page_rows();
		break;
	case KEY_PPAGE:
		state->first_row =
			state->first_row > page_rows() ? state->first_row - page_rows() : 0;
		break;
	case KEY_HOME:
		state->first_row = 0;
		break;
	default:
		sort = top_sort_from_key(key);
		if (sort >= 0) {
			state->sort = sort;
			state->first_row = 0;
			if (state->snapshot)
				top_snapshot_sort(state->snapshot, state->sort);
		}
		break;
	}
	return true;
}

static int run_terminal(struct top_state *state)
{
	double next_read = 0, now;
	SCREEN *screen;
	int err = 0, key;

	screen = newterm(NULL, stdout, stdin);
	if (!screen) {
		fprintf(stderr, "abusewatch top: cannot use the terminal (TERM=%s)\n",
			getenv("TERM") ?: "");
		return EXIT_BAD_CONFIG;
	}
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	curs_set(0);
	/* Escape alone quits: do not wait a second for a sequence after it. */
	set_escdelay(25);
	if (has_colors()) {
		start_color();
		use_default_colors();
		init_pair(PAIR_OVER, COLOR_RED, -1);
		init_pair(PAIR_WARNING, COLOR_YELLOW, -1);
	}
	while (!stop_signal) {
		now = clock_monotonic();
		if (now >= next_read) {
			read_agent_files(state);
			next_read = now + REFRESH_S;
		}
		err = draw(state);
		if (err)
			break;
		timeout((int)fmax(1, (next_read - clock_monotonic()) * 1000));
		key = getch();
		if (key != ERR && !handle_key(state, key))
			break;
	}
	/* Back to the shell's screen, the cursor and the modes it had. */
	endwin();
	delscreen(screen);
	if (err) {
		fprintf(stderr, "abusewatch top: %s\n", strerror(-err));
		return EXIT_BAD_CONFIG;
	}
	return EXIT_OK;
}

/* Without a terminal (a pipe, a script): the view once, as text. */
static int print_once(struct top_state *state)
{
	struct top_line *lines;
	struct top_view view;
	size_t count, i;

	read_agent_files(state);
	if (state->error[0]) {
		fprintf(stderr, "abusewatch top: cannot read %s: %s\n", state->options->textfile,
			state->error);
		return EXIT_BAD_CONFIG;
	}
	lines = calloc(top_view_lines_needed(state->snapshot), sizeof(*lines));
	if (!lines) {
		fprintf(stderr, "abusewatch top: %s\n", strerror(ENOMEM));
		return EXIT_BAD_CONFIG;
	}
	describe(state, &view);
	count = top_view_render(&view, 0, lines);
	for (i = 0; i < count; i++) {
		size_t end = strlen(lines[i].text);

		while (end && lines[i].text[end - 1] == ' ')
			end--;
		printf("%.*s\n", (int)end, lines[i].text);
	}
	free(lines);
	return fflush(stdout) ? EXIT_BAD_CONFIG : EXIT_OK;
}

int top_run(const struct top_options *options)
{
	struct top_state state = {
		.options = options,
		.textfile_mtime = NAN,
		.sort = TOP_SORT_USAGE,
	};
	struct sigaction action = { .sa_handler = on_stop_signal };
	int status;

	/*
	 * Before the terminal is set up, so that curses keeps its hands off
	 * them; without SA_RESTART, so that a signal ends the wait for a key.
	 */
	sigemptyset(&action.sa_mask);
	sigaction(SIGINT, &action, NULL);
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGHUP, &action, NULL);

	if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
		status = run_terminal(&state);
	else
		status = print_once(&state);
	top_snapshot_free(state.snapshot);
	return status;
}
