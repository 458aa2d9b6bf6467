/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `abusewatch top`: a live view, in the terminal, of the tenants of this
 * node sorted by usage against their limits, and of the overuse alerts
 * that fire. It reads only what the running agent writes (its textfile and
 * its firing state), every second: no probes, no privileges beyond reading
 * those files. Without a terminal it prints the view once.
 */
#ifndef ABUSEWATCH_TOP_H
#define ABUSEWATCH_TOP_H

struct top_options {
	const char *textfile;		/* agent.textfile */
	const char *firing_path;	/* agent.state_dir/firing.json, or NULL */
	const char *host;		/* shown in the title */
};

/* Runs until 'q' or a signal; an exit code of main (EXIT_OK, ...). */
int top_run(const struct top_options *options);

#endif
