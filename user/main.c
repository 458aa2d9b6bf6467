// SPDX-License-Identifier: GPL-2.0
/* abusewatch: the command table (run, check-config, top) and option parsing. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "log.h"
#include "pins.h"
#include "preflight.h"
#include "top.h"

#define SYSTEM_CONFIG "/etc/abusewatch/abusewatch.yaml"
#define EMBEDDED_CONFIG_NAME "<embedded default>"

extern const char default_config_yaml[];
extern const char default_config_yaml_end[];

static const char usage_text[] =
	"Usage:\n"
	"  abusewatch run [-c FILE] [--duration SECONDS] [--interval SECONDS] [--once]\n"
	"                 [--hostname NAME] [-v]\n"
	"  abusewatch check-config FILE\n"
	"  abusewatch top [-c FILE]\n"
	"  abusewatch unpin [-c FILE]\n"
	"  abusewatch --version | --help\n"
	"\n"
	"Counts CPU, disk, network, forks, execs and tasks per cgroup with eBPF, sums\n"
	"them per tenant and writes a node_exporter textfile.\n"
	"\n"
	"run options:\n"
	"  -c, --config FILE     configuration (default " SYSTEM_CONFIG " if it\n"
	"                        exists, else the embedded default)\n"
	"      --duration SECS   stop cleanly after SECS seconds\n"
	"      --interval SECS   sampling period, overrides agent.interval (e.g. 0.5)\n"
	"      --once            one interval, write the textfile, exit\n"
	"      --hostname NAME   host name in alerts, overrides agent.hostname\n"
	"  -v, --verbose         debug logging (libbpf included)\n"
	"\n"
	"top shows the tenants of the agent running with the same configuration\n"
	"(its agent.textfile and agent.state_dir), sorted by usage against their\n"
	"limits, and the overuse alerts that fire; keys: u c m d n t sort, q quits.\n"
	"\n"
	"The probes stay pinned in " PINS_BASE "/ and go on counting while no agent\n"
	"runs, so that a restart loses nothing; unpin removes those of the agent with\n"
	"that configuration (its agent.state_dir), detaching them.\n"
	"\n"
	"Signals: SIGTERM/SIGINT stop after a final write; SIGHUP reloads -c FILE and\n"
	"keeps the running configuration if the new one is invalid.\n"
	"Exit codes: 0 ok, 1 bad configuration or usage, 2 cannot load probes.\n"
	"\n"
	"EXAMPLES:\n"
	"  abusewatch run                          # embedded default, as root\n"
	"  abusewatch run -c /etc/abusewatch/abusewatch.yaml --interval 5\n"
	"  abusewatch check-config my.yaml         # errors as FILE:LINE:COL: message\n"
	"  abusewatch top                          # the tenants of this node, live\n"
	"  abusewatch unpin                        # after the last stop: no probes left\n";

static int print_errors_and_fail(const char *errors, const char *path, int err)
{
	if (errors)
		fputs(errors, stderr);
	else
		fprintf(stderr, "%s: %s\n", path, strerror(-err));
	return EXIT_BAD_CONFIG;
}

static int load_config(const char *path, struct config **config)
{
	char *errors = NULL;
	int err;

	if (path)
		err = config_load_file(path, config, &errors);
	else
		err = config_parse(EMBEDDED_CONFIG_NAME, default_config_yaml,
				   default_config_yaml_end - default_config_yaml, config, &errors);
	if (err) {
		print_errors_and_fail(errors, path ? path : EMBEDDED_CONFIG_NAME, err);
		free(errors);
		return err;
	}
	return 0;
}

static int parse_seconds(const char *text, const char *option, double *seconds)
{
	char *end;

	errno = 0;
	*seconds = strtod(text, &end);
	if (errno || end == text || *end || *seconds < 0 || *seconds != *seconds) {
		fprintf(stderr, "abusewatch: %s needs a number of seconds, not \"%s\"\n", option,
			text);
		return -EINVAL;
	}
	return 0;
}

enum {
	OPT_DURATION = 0x100,
	OPT_INTERVAL,
	OPT_ONCE,
	OPT_TENANT_EXPIRY,
	OPT_HOSTNAME,
};

static int do_run(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "verbose", no_argument, NULL, 'v' },
		/* Hidden: for tests of tenant expiry. */
		{ "tenant-expiry", required_argument, NULL, OPT_TENANT_EXPIRY },
		{ 0 },
	};
	struct agent_options run = { 0 };
	struct config *config = NULL;
	char why[512];
	double seconds;
	int opt;

	while ((opt = getopt_long(argc, argv, "c:v", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			run.config_path = optarg;
			break;
		case 'v':
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		case OPT_DURATION:
			if (parse_seconds(optarg, "--duration", &run.duration_s))
				return EXIT_BAD_CONFIG;
			break;
		case OPT_INTERVAL:
			if (parse_seconds(optarg, "--interval", &seconds))
				return EXIT_BAD_CONFIG;
			run.interval_ms = (uint64_t)(seconds * 1000 + 0.5);
			if (!run.interval_ms) {
				fprintf(stderr, "abusewatch: --interval must be at least 1 ms\n");
				return EXIT_BAD_CONFIG;
			}
			break;
		case OPT_ONCE:
			run.once = true;
			break;
		case OPT_HOSTNAME:
			run.hostname = optarg;
			break;
		case OPT_TENANT_EXPIRY:
			if (parse_seconds(optarg, "--tenant-expiry", &run.tenant_expiry_s))
				return EXIT_BAD_CONFIG;
			break;
		default:
			fputs(usage_text, stderr);
			return EXIT_BAD_CONFIG;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "abusewatch run: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_BAD_CONFIG;
	}
	if (!run.config_path && access(SYSTEM_CONFIG, F_OK) == 0)
		run.config_path = SYSTEM_CONFIG;
	if (load_config(run.config_path, &config))
		return EXIT_BAD_CONFIG;
	pr_info("abusewatch %s: configuration %s", ABUSEWATCH_VERSION,
		run.config_path ? run.config_path : EMBEDDED_CONFIG_NAME);
	/* What loading needs, named, before libbpf's EPERM or EINVAL could hide it. */
	if (preflight_capabilities(why, sizeof(why)) ||
	    preflight_btf(PREFLIGHT_BTF_PATH, why, sizeof(why))) {
		pr_err("cannot load probes: %s", why);
		config_free(config);
		return EXIT_NO_PROBES;
	}
	return agent_run(&run, config);
}

static int do_check_config(int argc, char **argv)
{
	struct config *config = NULL;

	if (argc != 2) {
		fprintf(stderr, "Usage: abusewatch check-config FILE\n");
		return EXIT_BAD_CONFIG;
	}
	if (load_config(argv[1], &config))
		return EXIT_BAD_CONFIG;
	printf("%s: ok (%zu tenant rules, %zu plans)\n", argv[1], config->tenant_count,
	       config->plan_count);
	config_free(config);
	return EXIT_OK;
}

static int do_top(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ 0 },
	};
	const char *config_path = NULL;
	struct top_options top = { 0 };
	struct config *config = NULL;
	char host[256] = "", firing_path[PATH_MAX];
	int opt, status;

	while ((opt = getopt_long(argc, argv, "c:", options, NULL)) != -1) {
		if (opt != 'c') {
			fputs(usage_text, stderr);
			return EXIT_BAD_CONFIG;
		}
		config_path = optarg;
	}
	if (optind < argc) {
		fprintf(stderr, "abusewatch top: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_BAD_CONFIG;
	}
	/* The same configuration as `run`: top reads the files that one writes. */
	if (!config_path && access(SYSTEM_CONFIG, F_OK) == 0)
		config_path = SYSTEM_CONFIG;
	if (load_config(config_path, &config))
		return EXIT_BAD_CONFIG;
	top.textfile = config->agent.textfile;
	if (config->agent.state_dir && config->agent.state_dir[0] &&
	    snprintf(firing_path, sizeof(firing_path), "%s/firing.json",
		     config->agent.state_dir) < (int)sizeof(firing_path))
		top.firing_path = firing_path;
	if (config->agent.hostname && config->agent.hostname[0])
		top.host = config->agent.hostname;
	/* Without room for the NUL: gethostname need not write one when it truncates. */
	else if (!gethostname(host, sizeof(host) - 1))
		top.host = host;
	else
		top.host = "?";
	status = top_run(&top);
	config_free(config);
	return status;
}

/* Removes the pinned probes of the agent with this configuration (pins.h). */
static int do_unpin(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ 0 },
	};
	const char *config_path = NULL, *state_dir;
	struct config *config = NULL;
	char dir[PATH_MAX];
	int opt, err, status;

	while ((opt = getopt_long(argc, argv, "c:", options, NULL)) != -1) {
		if (opt != 'c') {
			fputs(usage_text, stderr);
			return EXIT_BAD_CONFIG;
		}
		config_path = optarg;
	}
	if (optind < argc) {
		fprintf(stderr, "abusewatch unpin: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_BAD_CONFIG;
	}
	if (!config_path && access(SYSTEM_CONFIG, F_OK) == 0)
		config_path = SYSTEM_CONFIG;
	if (load_config(config_path, &config))
		return EXIT_BAD_CONFIG;
	state_dir = config->agent.state_dir;
	err = state_dir && state_dir[0] ? pins_dir_of(state_dir, dir, sizeof(dir)) : -ENOENT;
	if (err == -ENOENT || (!err && access(dir, F_OK))) {
		printf("nothing pinned for state_dir \"%s\"\n", state_dir ? state_dir : "");
		status = EXIT_OK;
	} else if (err || (err = pins_remove_dir(dir))) {
		fprintf(stderr, "abusewatch unpin: state_dir %s: %s\n", state_dir, strerror(-err));
		status = EXIT_NO_PROBES;
	} else {
		printf("removed %s\n", dir);
		status = EXIT_OK;
	}
	config_free(config);
	return status;
}

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "run", do_run },
	{ "check-config", do_check_config },
	{ "top", do_top },
	{ "unpin", do_unpin },
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		fputs(usage_text, stderr);
		return EXIT_BAD_CONFIG;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("abusewatch %s\n", ABUSEWATCH_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "abusewatch: unknown command \"%s\"\n\n%s", argv[1], usage_text);
	return EXIT_BAD_CONFIG;
}
