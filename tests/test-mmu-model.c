/*
 * test-mmu-model.c — the model-based harness (mmu-harness.h) in `make
 * check`: every guest scenario (paging off, 2-level, PAE, 4-level,
 * 5-level) under each of the 16 policy combinations of {oos 0/2,
 * prefetch 0/8, emulate 0/1, early 0/1} with the default pool, plus runs
 * with a pool of 16-24 frames that keep evicting.  Each test is one
 * scenario and half of the policies, so Criterion spreads them over the
 * cores.  About 1,000,000 steps in all; SVT_SOAK_STEPS sets the steps of
 * one run (default 12500; the small-pool runs do half).  A failure prints
 * the harness's report (the last steps, the violations) and the command
 * that reruns it: tests/mmu-soak --mode M --policy P --seed S --steps N.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "mmu-harness.h"

#define STEPS_PER_RUN 12500

static uint64_t steps_per_run(void)
{
	const char *s = getenv("SVT_SOAK_STEPS");
	char *end;
	if (s && *s) {
		unsigned long long v = strtoull(s, &end, 0);
		if (!*end && v > 0)
			return v;
	}
	return STEPS_PER_RUN;
}

static unsigned one_run(enum mh_mode mode, unsigned combo, unsigned pool, uint64_t seed,
			uint64_t steps, uint64_t *total)
{
	struct mh_config cfg = { .mode = mode, .pool = pool, .seed = seed, .steps = steps,
				 .out = stderr, .quiet = true };
	struct mh_result res;
	char pol[128];

	mh_policy_combo(combo, &cfg.policy);
	mh_policy_string(&cfg.policy, pool, pol, sizeof(pol));
	bool ok = mh_run(&cfg, &res);
	*total += res.steps;
	if (ok)
		return 0;
	cr_log_error("mode %s policy %s seed %llu: %s\n"
		     "rerun: tests/mmu-soak --mode %s --policy %s --seed %llu --steps %llu",
		     mh_mode_name(mode), pol, (unsigned long long)seed, res.what,
		     mh_mode_name(mode), pol, (unsigned long long)seed,
		     (unsigned long long)res.steps + 1);
	return 1;
}

/* Half `half` of the policy combinations for one scenario, and two runs
 * with a small pool. */
static void run_half(enum mh_mode mode, unsigned half)
{
	uint64_t steps = steps_per_run(), total = 0;
	unsigned failed = 0, runs = 0;

	for (unsigned i = half * 8; i < half * 8 + 8; i++, runs++)
		failed += one_run(mode, i, 0, 1000u * (unsigned)mode + i + 1, steps, &total);
	for (unsigned k = 0; k < 2; k++, runs++) {
		unsigned combo = (half * 8 + k * 5 + (unsigned)mode) % 16;
		unsigned pool = 16 + (half * 4 + k * 3 + (unsigned)mode) % 9;
		failed += one_run(mode, combo, pool, 5000u + 100u * (unsigned)mode + half * 2 + k,
				  steps / 2 ? steps / 2 : 1, &total);
	}
	fprintf(stderr,
		"mmu-model: mode %s, policies %u-%u and 2 small pools: %u runs, %llu steps, "
		"%u failed\n", mh_mode_name(mode), half * 8, half * 8 + 7, runs,
		(unsigned long long)total, failed);
	cr_assert_eq(failed, 0, "%u of %u runs failed (reports above)", failed, runs);
}

TestSuite(mmu_model, .timeout = 0);

Test(mmu_model, paging_off_a) { run_half(MH_MODE_NONE, 0); }
Test(mmu_model, paging_off_b) { run_half(MH_MODE_NONE, 1); }
Test(mmu_model, two_level_a) { run_half(MH_MODE_2LEVEL, 0); }
Test(mmu_model, two_level_b) { run_half(MH_MODE_2LEVEL, 1); }
Test(mmu_model, pae_a) { run_half(MH_MODE_PAE, 0); }
Test(mmu_model, pae_b) { run_half(MH_MODE_PAE, 1); }
Test(mmu_model, four_level_a) { run_half(MH_MODE_4LEVEL, 0); }
Test(mmu_model, four_level_b) { run_half(MH_MODE_4LEVEL, 1); }
Test(mmu_model, five_level_a) { run_half(MH_MODE_5LEVEL, 0); }
Test(mmu_model, five_level_b) { run_half(MH_MODE_5LEVEL, 1); }
