/*
 * whatif.c — the label of a replay under another policy (whatif.h): which
 * knobs differ from the recording's, and whether the replay shows that
 * none of the differences acted.
 *
 * Why the exact cases are exact.  The core is deterministic: given the
 * same inputs and the same state it decides the same.  Each knob changes
 * the core's state only when the mechanism it governs acts, and each
 * action is counted: out-of-sync slots (oos), prefetch (prefetched),
 * early unshadow (early_unshadows), emulate or unshadow a page-table
 * write (emulated, emulated_wp0, unshadows), the pool's frames and links
 * (evictions).  Fed the same inputs, the cores under P and under R stay
 * equal until one of them acts where the other would not; if the
 * mechanism of every knob that differs acted in neither (this replay's
 * counters, and the trace's replayed under R), they never part: the core
 * under P decided every recorded input as R did, no fault was skipped,
 * and the guest, seeing the same exits and the same answers, would have
 * done the same under P.  Recording under P therefore gives the same
 * inputs and the same counters.  Without R's counters, a mechanism R
 * lacks (oos, prefetch or early 0) cannot have acted under R, and a
 * smaller pool than R's that never evicted here cannot have evicted
 * under R (the same state needs no more frames under a larger pool).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "whatif.h"

const char *svt_whatif_name(enum svt_whatif w)
{
	switch (w) {
	case SVT_WHATIF_RECORDED: return "recorded";
	case SVT_WHATIF_EXACT: return "exact";
	case SVT_WHATIF_APPROX: return "approximate";
	}
	return "?";
}

/* Append to why (a sentence being built). */
static void add(char *why, size_t len, const char *s)
{
	size_t n = strlen(why);
	if (n + 1 < len)
		snprintf(why + n, len - n, "%s", s);
}

enum svt_whatif svt_whatif_judge(const struct svt_whatif_in *in, char *why, size_t len)
{
	const struct svt_policy *r = &in->rec, *p = &in->pol;
	const struct svt_counters *c = in->c;
	bool exact = true;
	char bad[200] = "";

	if (len)
		why[0] = '\0';
	if (p->oos == r->oos && p->prefetch == r->prefetch && p->emulate == r->emulate &&
	    p->early_unshadow == r->early_unshadow && in->pool == in->rec_pool) {
		add(why, len, "the trace's own policy: the recording's counters");
		return SVT_WHATIF_RECORDED;
	}
	/* each knob that differs: its mechanism acted in neither core, or not
	 * known (rc: the recording's counters, when there are) */
	const struct svt_counters *rc = in->rc;
	bool oos_idle = c->oos == 0 && (rc ? rc->oos == 0 : r->oos == 0);
	bool pf_idle = c->prefetched == 0 && (rc ? rc->prefetched == 0 : r->prefetch == 0);
	bool early_idle = c->early_unshadows == 0 &&
		(rc ? rc->early_unshadows == 0 : !r->early_unshadow);
	bool emul_idle = rc && c->emulated == 0 && c->emulated_wp0 == 0 && c->unshadows == 0 &&
		rc->emulated == 0 && rc->emulated_wp0 == 0 && rc->unshadows == 0;
	bool pool_idle = c->evictions == 0 && (rc ? rc->evictions == 0 : in->pool < in->rec_pool);
	if (p->oos != r->oos && !oos_idle)
		exact = false, add(bad, sizeof(bad), bad[0] ? ", oos" : "oos");
	if (p->prefetch != r->prefetch && !pf_idle)
		exact = false, add(bad, sizeof(bad), bad[0] ? ", prefetch" : "prefetch");
	if (p->early_unshadow != r->early_unshadow && !early_idle)
		exact = false, add(bad, sizeof(bad), bad[0] ? ", early" : "early");
	if (p->emulate != r->emulate && !emul_idle)
		exact = false, add(bad, sizeof(bad), bad[0] ? ", emulate" : "emulate");
	if (in->pool != in->rec_pool && !pool_idle)
		exact = false, add(bad, sizeof(bad), bad[0] ? ", pool" : "pool");
	if (exact && in->skipped == 0 && in->lost == 0) {
		add(why, len,
		    rc ?
		    "the knobs that differ from the recording's acted neither in this replay nor "
		    "under the recorded policy: recording under this policy gives these counters" :
		    "the knobs that differ from the recording's never acted in this replay: "
		    "recording under this policy gives these counters");
		return SVT_WHATIF_EXACT;
	}
	char s[400];
	if (!exact)
		snprintf(s, sizeof(s),
			 "a trace holds only the exits its own policy took: this replay drops "
			 "exits the policy avoids (%llu skipped) but cannot make the exits it "
			 "would add (%s differ%s from the recording's and may have acted); no "
			 "error bound", (unsigned long long)in->skipped, bad,
			 strchr(bad, ',') ? "" : "s");
	else
		snprintf(s, sizeof(s),
			 "%llu recorded faults skipped and %llu events lost: the guest may have "
			 "run otherwise under this policy; no error bound",
			 (unsigned long long)in->skipped, (unsigned long long)in->lost);
	add(why, len, s);
	return SVT_WHATIF_APPROX;
}

bool svt_whatif_recorded(const struct svt_replay_config *cfg, struct svt_counters *out)
{
	struct svt_replay_config rc = {
		.path = cfg->path, .mem = cfg->mem, .mem_len = cfg->mem_len,
		.audit = SVT_AUDIT_NONE, .stop = cfg->stop, .deadline = cfg->deadline,
		.to = cfg->to, .to_set = cfg->to_set,
	};
	struct svt_replay_result *res = malloc(sizeof(*res));
	bool ok;

	if (res == NULL)
		return false;
	svt_replay(&rc, res);
	ok = res->status == SVT_RUN_CLEAN || res->status == SVT_RUN_VIOLATIONS;
	if (ok)
		*out = res->counters;
	free(res);
	return ok;
}
