/*
 * test-whatif.c — the what-if label's rules (sim/replay/whatif.c) on
 * hand-made counters: which differences are judged exact, with the
 * recording's counters and without them, and what the sentence says.
 * tests/whatif.sh checks the labels against recordings.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "whatif.h"

static const struct svt_policy def = { .oos = 2, .prefetch = 8, .emulate = true,
				       .early_unshadow = true };
static const struct svt_policy off = { .oos = 0, .prefetch = 0, .emulate = true,
				       .early_unshadow = false };

static enum svt_whatif judge(struct svt_policy rec, unsigned rec_pool, struct svt_policy pol,
			     unsigned pool, const struct svt_counters *c,
			     const struct svt_counters *rc, uint64_t skipped, char *why)
{
	struct svt_whatif_in in = { .rec = rec, .rec_pool = rec_pool, .pol = pol, .pool = pool,
				    .c = c, .rc = rc, .skipped = skipped };
	return svt_whatif_judge(&in, why, 400);
}

Test(whatif, names)
{
	cr_assert_str_eq(svt_whatif_name(SVT_WHATIF_RECORDED), "recorded");
	cr_assert_str_eq(svt_whatif_name(SVT_WHATIF_EXACT), "exact");
	cr_assert_str_eq(svt_whatif_name(SVT_WHATIF_APPROX), "approximate");
	cr_assert_str_eq(svt_whatif_name((enum svt_whatif)7), "?");
}

Test(whatif, recorded)
{
	struct svt_counters c = { .oos = 5, .evictions = 3 };
	char why[400];
	cr_assert_eq(judge(def, 512, def, 512, &c, NULL, 0, why), SVT_WHATIF_RECORDED);
	cr_assert_eq(judge(def, 512, def, 256, &c, NULL, 0, why), SVT_WHATIF_APPROX,
		     "a smaller pool that evicted");
	cr_assert(strstr(why, "pool differs from the recording's") != NULL, "%s", why);
}

Test(whatif, without_the_recordings_counters)
{
	struct svt_counters idle = { 0 }, busy = { .oos = 1, .prefetched = 1, .early_unshadows = 1 };
	struct svt_policy p = off;
	char why[400];

	/* a mechanism R lacks that never acted here */
	p.oos = 8, p.prefetch = 4, p.early_unshadow = true;
	cr_assert_eq(judge(off, 512, p, 512, &idle, NULL, 0, why), SVT_WHATIF_EXACT, "%s", why);
	cr_assert_eq(judge(off, 512, p, 512, &busy, NULL, 0, why), SVT_WHATIF_APPROX);
	cr_assert(strstr(why, "oos, prefetch, early differ") != NULL, "%s", why);
	/* one R has: not known without R's counters */
	cr_assert_eq(judge(p, 512, off, 512, &idle, NULL, 0, why), SVT_WHATIF_APPROX);
	/* the pool: smaller and idle is exact, larger is not known */
	cr_assert_eq(judge(def, 512, def, 64, &idle, NULL, 0, why), SVT_WHATIF_EXACT);
	cr_assert_eq(judge(def, 512, def, 2048, &idle, NULL, 0, why), SVT_WHATIF_APPROX);
	/* emulate needs R's counters */
	p = def, p.emulate = false;
	cr_assert_eq(judge(def, 512, p, 512, &idle, NULL, 0, why), SVT_WHATIF_APPROX);
	/* a skipped fault is never exact */
	cr_assert_eq(judge(def, 512, def, 64, &idle, NULL, 1, why), SVT_WHATIF_APPROX);
	cr_assert(strstr(why, "1 recorded faults skipped") != NULL, "%s", why);
}

Test(whatif, with_the_recordings_counters)
{
	struct svt_counters idle = { 0 }, rec_early = { .early_unshadows = 2 };
	struct svt_counters rec_evict = { .evictions = 1 }, rec_emul = { .emulated = 1 };
	struct svt_policy p = def;
	char why[400];

	p.early_unshadow = false;
	cr_assert_eq(judge(def, 512, p, 512, &idle, &idle, 0, why), SVT_WHATIF_EXACT, "%s", why);
	cr_assert(strstr(why, "acted neither in this replay nor under the recorded policy") != NULL);
	cr_assert_eq(judge(def, 512, p, 512, &idle, &rec_early, 0, why), SVT_WHATIF_APPROX,
		     "R unshadowed early");
	cr_assert_eq(judge(def, 512, def, 2048, &idle, &idle, 0, why), SVT_WHATIF_EXACT,
		     "a larger pool, no eviction under either");
	cr_assert_eq(judge(def, 512, def, 2048, &idle, &rec_evict, 0, why), SVT_WHATIF_APPROX,
		     "R evicted");
	p = def, p.emulate = false;
	cr_assert_eq(judge(def, 512, p, 512, &idle, &idle, 0, why), SVT_WHATIF_EXACT);
	cr_assert_eq(judge(def, 512, p, 512, &idle, &rec_emul, 0, why), SVT_WHATIF_APPROX);
	p = def, p.oos = 8;
	struct svt_counters oos1 = { .oos = 1 };
	cr_assert_eq(judge(def, 512, p, 512, &oos1, &idle, 0, why), SVT_WHATIF_APPROX,
		     "P took a page out of sync");
}
