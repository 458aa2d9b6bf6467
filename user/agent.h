/* SPDX-License-Identifier: GPL-2.0 */
/* `abusewatch run`: probes, cgroups, tenants and outputs on one clock. */
#ifndef ABUSEWATCH_AGENT_H
#define ABUSEWATCH_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/* Exit codes, as docs/cli.md lists them. */
enum {
	EXIT_OK = 0,
	EXIT_BAD_CONFIG = 1,
	EXIT_NO_PROBES = 2,
};

struct agent_options {
	const char *config_path;	/* NULL: the configuration came from elsewhere */
	double duration_s;		/* 0: until a signal */
	uint64_t interval_ms;		/* 0: from the configuration */
	bool once;			/* one interval, then exit */
	double tenant_expiry_s;		/* hidden --tenant-expiry; default 300 */
	const char *hostname;		/* NULL: agent.hostname from the configuration */
};

/* Runs until done; takes ownership of @config. Returns an exit code. */
int agent_run(const struct agent_options *options, struct config *config);

#endif
