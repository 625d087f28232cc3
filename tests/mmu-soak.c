/*
 * mmu-soak.c — the model-based harness from the command line: longer or
 * targeted runs than `make check` does, and the rerun command every
 * failure report ends with.
 *
 *   tests/mmu-soak [--mode none|2level|pae|4level|5level|all]
 *                  [--policy oos=N,prefetch=N,emulate=0|1,early=0|1,pool=N | all]
 *                  [--seed S] [--steps N] [--runs K] [--quiet]
 *                  [--strict | --expose K1,K2,...]
 *
 * --policy all runs the 16 combinations of {oos 0/2, prefetch 0/8,
 * emulate 0/1, early 0/1} (with the pool given by a previous --policy
 * pool=N, or the default); --runs K repeats each with seeds S .. S+K-1.
 * By default the guest steers around the known core limitations (listed in
 * mmu-access.c: none today); --expose Kn,... lets it run into the ones
 * named, --strict into all of them.  Closed ones (K2, K7, K12, K13, ...)
 * are no longer steered around, so exposing them changes nothing:
 * `--expose K2,K7` runs what the default runs.
 * Steps default to $SVT_SOAK_STEPS, else 20000.  $SVT_MH_TRACE prints
 * every log line as it happens; $SVT_MH_NOAUDIT leaves the core's audits
 * out (only the comparisons with bare metal judge).  Exit status: 0 every
 * run passed, 1 a run failed (its report is on stderr), 2 bad arguments.
 * Built over a deliberately broken core (tests/mmu-soak-broken, for `make
 * mutants`), $SVT_BROKEN picks the seeded bug (src/mmu_int.h; 0: none).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mmu-harness.h"

#ifdef SVT_BROKEN
unsigned svt_broken;            /* the seeded bug (src/walk_int.h) */
#endif

static int usage(const char *why)
{
	fprintf(stderr, "mmu-soak: %s\n"
		"usage: mmu-soak [--mode none|2level|pae|4level|5level|all]\n"
		"                [--policy oos=N,prefetch=N,emulate=0|1,early=0|1,pool=N | all]\n"
		"                [--seed S] [--steps N] [--runs K] [--quiet]\n"
		"                [--strict | --expose K1,K2,...]\n", why);
	return 2;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	if (!s || !*s)
		return -1;
	*v = strtoull(s, &end, 0);
	return *end ? -1 : 0;
}

int main(int argc, char **argv)
{
	int mode = -1;                  /* -1: all */
	bool all_policies = true, quiet = false;
	uint32_t expose = 0;
	struct svt_policy pol = { .emulate = true };
	unsigned pool = 0;
	uint64_t seed = 1, steps = 20000, runs = 1;
	const char *env = getenv("SVT_SOAK_STEPS");
#ifdef SVT_BROKEN
	const char *bug = getenv("SVT_BROKEN");
	svt_broken = bug ? (unsigned)atoi(bug) : 0;
#endif

	if (env && parse_u64(env, &steps) != 0)
		return usage("SVT_SOAK_STEPS is not a number");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--quiet") || !strcmp(a, "--strict")) {
			quiet |= !strcmp(a, "--quiet");
			if (!strcmp(a, "--strict"))
				expose = ~0u;
			continue;
		}
		if (!v)
			return usage("missing value");
		i++;
		if (!strcmp(a, "--mode")) {
			mode = strcmp(v, "all") ? mh_parse_mode(v) : -1;
			if (mode < 0 && strcmp(v, "all"))
				return usage("unknown mode");
		} else if (!strcmp(a, "--policy")) {
			all_policies = !strcmp(v, "all");
			if (!all_policies && mh_parse_policy(v, &pol, &pool) != 0)
				return usage("bad policy");
		} else if (!strcmp(a, "--seed")) {
			if (parse_u64(v, &seed))
				return usage("bad seed");
		} else if (!strcmp(a, "--steps")) {
			if (parse_u64(v, &steps) || !steps)
				return usage("bad step count");
		} else if (!strcmp(a, "--expose")) {
			for (const char *p = v; *p;) {
				char *end;
				if (*p != 'K' && *p != 'k')
					return usage("--expose takes K1,K2,...");
				unsigned long n = strtoul(p + 1, &end, 10);
				if (end == p + 1 || n > 31 || (*end && *end != ','))
					return usage("--expose takes K1,K2,...");
				expose |= 1u << n;
				p = *end ? end + 1 : end;
			}
		} else if (!strcmp(a, "--runs")) {
			if (parse_u64(v, &runs) || !runs)
				return usage("bad run count");
		} else {
			return usage("unknown option");
		}
	}

	unsigned failures = 0, total = 0;
	uint64_t all_steps = 0;
	clock_t t0 = clock();
	for (int md = 0; md < MH_MODE_COUNT; md++) {
		if (mode >= 0 && md != mode)
			continue;
		for (unsigned pi = 0; pi < (all_policies ? 16u : 1u); pi++) {
			struct mh_config cfg = { .mode = (enum mh_mode)md, .policy = pol,
						 .pool = pool, .steps = steps, .quiet = quiet,
						 .expose = expose };
			if (all_policies)
				mh_policy_combo(pi, &cfg.policy);
			for (uint64_t k = 0; k < runs; k++) {
				struct mh_result res;
				cfg.seed = seed + k;
				total++;
				if (!mh_run(&cfg, &res))
					failures++;
				all_steps += res.steps;
			}
		}
	}
	printf("mmu-soak: %u run(s), %llu steps, %u failed, %.1f s\n", total,
	       (unsigned long long)all_steps, failures, (double)(clock() - t0) / CLOCKS_PER_SEC);
	return failures ? 1 : 0;
}
