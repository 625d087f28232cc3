/*
 * shadowvt.c — the shadowvt command: parse a subcommand's arguments
 * against its declared options (args.h) and run it.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "sim.h"

static const struct svt_cmd *const commands[] = {
	&svt_cmd_cut,
	&svt_cmd_demo,
	&svt_cmd_dump,
	&svt_cmd_export,
	&svt_cmd_info,
	&svt_cmd_query,
	&svt_cmd_record,
	&svt_cmd_reduce,
	&svt_cmd_replay,
	&svt_cmd_report,
	&svt_cmd_run,
	&svt_cmd_synth,
	&svt_cmd_verify,
	&svt_cmd_walk,
};

static void usage(FILE *f)
{
	fprintf(f, "usage: shadowvt COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f,
		"\n'shadowvt COMMAND --help' shows a command's usage; shadowvt(1) has the rest.\n");
}

#ifdef SVT_BROKEN
/* The deliberately broken test build (src/mmu_int.h): $SVT_BROKEN picks the bug. */
#include <stdlib.h>
unsigned svt_broken;
#endif

int main(int argc, char **argv)
{
#ifdef SVT_BROKEN
	const char *bug = getenv("SVT_BROKEN");
	svt_broken = bug ? (unsigned)atoi(bug) : 1;
#endif
	if (argc < 2) {
		usage(stderr);
		return SVT_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return SVT_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("shadowvt %s\nbuild %s\n", PACKAGE_VERSION, svt_build_id());
		return SVT_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct svt_cmd *cmd = commands[i];
		struct svt_args a;
		int rc;

		if (strcmp(argv[1], cmd->name) != 0)
			continue;
		switch (svt_args_parse(cmd, argc - 2, argv + 2, &a)) {
		case SVT_ARGS_HELP:
			svt_args_help(cmd, stdout);
			rc = SVT_EXIT_OK;
			break;
		case SVT_ARGS_BAD:
			rc = svt_usage(cmd, "%s", a.err);
			break;
		default:
			rc = cmd->exec(&a);
			break;
		}
		svt_args_free(&a);
		return rc;
	}
	fprintf(stderr, "shadowvt: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return SVT_EXIT_USAGE;
}
