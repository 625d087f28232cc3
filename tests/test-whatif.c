/*
 * test-whatif.c — the what-if label's rules (sim/replay/whatif.c) on
 * hand-made counters: which differences are judged exact, with the
 * recording's counters and without them, and what the sentence says; and
 * regeneration (sim/synth/synth-regen.c) on traces made here: a guest
 * whose logged outcome the core under the new policy gives is run again
 * (exact), one that would have seen another outcome, or whose actions
 * are not all in the trace, is not (approximate, and why).
 * tests/whatif.sh checks the labels against recordings.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "synth.h"
#include "trace-gen.h"
#include "trace.h"
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
	struct svt_counters idle = { 0 },
		busy = { .oos = 1, .prefetched = 1, .early_unshadows = 1 };
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
	cr_assert(strstr(why,
			 "acted neither in this replay nor under the recorded policy") != NULL);
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

/* ---- regeneration ---------------------------------------------------------- */

/* A guest with its actions logged: protected mode without paging, then a
 * read of 0x5000 at CPL 0 (no #PF on any core: nothing translates it),
 * the trace saying the guest saw one when inject is true; lost: events
 * lost after it. */
static struct tg_buf guest_trace(bool inject, bool lost)
{
	static const struct svt_trace_range ram[] = { { 0, 1024 } };
	struct svt_trace_header h = {
		.producer = "test-whatif", .cpu_model = "synthetic",
		.guest = "synth workload=none mode=4level", .maxphyaddr = 46,
		.guest_frames = 1024, .ram = ram, .nram = 1, .policy = def, .pool_frames = 64,
		.evidence = SVT_EVIDENCE_ACTIONS,
	};
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	struct svt_trace_writer *w = svt_trace_writer_open_sink(tg_sink, &b, "mem", &h, 0, &err);
	cr_assert_not_null(w, "%s", err.msg);
	struct svt_trace_event ev = { .type = SVT_TRACE_CR_WRITE };
	ev.u.cr.reg = SVT_TRACE_CR0;
	ev.u.cr.val = 0x11;     /* PE, ET */
	cr_assert_eq(svt_trace_write(w, &ev), SVT_TRACE_OK);
	memset(&ev, 0, sizeof(ev));
	ev.type = SVT_TRACE_GUEST;
	ev.u.guest.kind = SVT_GUEST_READ;
	ev.u.guest.va = 0x5000;
	if (inject) {
		ev.u.guest.flags = SVT_GUEST_INJECTED;
		ev.u.guest.cr2 = 0x5000;
	}
	cr_assert_eq(svt_trace_write(w, &ev), SVT_TRACE_OK);
	if (lost) {
		memset(&ev, 0, sizeof(ev));
		ev.type = SVT_TRACE_LOST;
		ev.u.lost.count = 3;
		cr_assert_eq(svt_trace_write(w, &ev), SVT_TRACE_OK);
	}
	cr_assert_eq(svt_trace_writer_close(w, &err), SVT_TRACE_OK, "%s", err.msg);
	return b;
}

/* Replayed under oos=0 (the trace's policy otherwise): the result. */
static struct svt_replay_result *whatif(const struct tg_buf *b)
{
	struct svt_replay_config cfg = {
		.path = "guest.svt", .mem = b->p, .mem_len = b->n, .policy_given = true,
		.policy_spec = "oos=0", .audit = SVT_AUDIT_FAULTS,
	};
	struct svt_replay_result *res = malloc(sizeof(*res));
	cr_assert_not_null(res);
	svt_replay(&cfg, res);
	return res;
}

Test(regenerate, same_outcome_is_exact)
{
	struct tg_buf b = guest_trace(false, false);
	void *out;
	size_t len;
	char err[600];
	struct syn_regen rg = { .path = "guest.svt", .mem = b.p, .mem_len = b.n,
				.policy = off, .pool = 64 };
	cr_assert_eq(syn_regenerate(&rg, &out, &len, err, sizeof(err)), 0, "%s", err);
	/* the regenerated trace: the read again, logged with its outcome */
	struct svt_trace_error e;
	struct svt_trace_reader *r = svt_trace_open_mem(out, len, "regen", 0, &e);
	cr_assert_not_null(r, "%s", e.msg);
	cr_assert_eq(svt_trace_reader_header(r)->policy.oos, 0);
	struct svt_trace_event ev;
	unsigned reads = 0;
	while (svt_trace_next(r, &ev) == SVT_TRACE_OK)
		if (ev.type == SVT_TRACE_GUEST && ev.u.guest.kind == SVT_GUEST_READ &&
		    ev.u.guest.va == 0x5000 && ev.u.guest.flags == 0)
			reads++;
	cr_assert_eq(reads, 1);
	svt_trace_close(r);
	free(out);

	struct svt_replay_result *res = whatif(&b);
	cr_assert_eq(res->status, SVT_RUN_CLEAN, "%s", res->message);
	cr_assert_eq(res->whatif, SVT_WHATIF_EXACT, "%s", res->whatif_why);
	cr_assert(strstr(res->whatif_why, "regenerated") != NULL, "%s", res->whatif_why);
	free(res);
	free(b.p);
}

Test(regenerate, another_outcome_is_not)
{
	struct tg_buf b = guest_trace(true, false);
	void *out;
	size_t len;
	char err[600];
	struct syn_regen rg = { .path = "guest.svt", .mem = b.p, .mem_len = b.n,
				.policy = off, .pool = 64 };
	cr_assert_eq(syn_regenerate(&rg, &out, &len, err, sizeof(err)), 1, "%s", err);
	cr_assert(strstr(err, "would have seen no #PF at 0x5000") != NULL, "%s", err);
	cr_assert_null(out);

	struct svt_replay_result *res = whatif(&b);
	cr_assert_eq(res->whatif, SVT_WHATIF_APPROX, "%s", res->whatif_why);
	cr_assert(strstr(res->whatif_why, "not regenerated: ") != NULL &&
		  strstr(res->whatif_why, "would have seen no #PF") != NULL, "%s", res->whatif_why);
	free(res);
	free(b.p);
}

Test(regenerate, lost_events_are_not)
{
	struct tg_buf b = guest_trace(false, true);
	struct svt_replay_result *res = whatif(&b);
	cr_assert_eq(res->whatif, SVT_WHATIF_APPROX, "%s", res->whatif_why);
	cr_assert(strstr(res->whatif_why, "events lost: the guest's actions are not all in the "
			 "trace") != NULL, "%s", res->whatif_why);
	free(res);
	free(b.p);
}

Test(regenerate, no_actions_logged)
{
	struct tg_buf b = guest_trace(false, false);
	/* the same events under a header without SVT_EVIDENCE_ACTIONS: the
	 * file's inputs replayed, judged by the label's rules */
	struct svt_trace_error e;
	struct svt_trace_reader *r = svt_trace_open_mem(b.p, b.n, "g", 0, &e);
	cr_assert_not_null(r);
	struct svt_trace_header h = *svt_trace_reader_header(r);
	h.evidence = 0;
	struct tg_buf c = { 0 };
	struct svt_trace_writer *w = svt_trace_writer_open_sink(tg_sink, &c, "mem", &h, 0, &e);
	cr_assert_not_null(w, "%s", e.msg);
	struct svt_trace_event ev;
	while (svt_trace_next(r, &ev) == SVT_TRACE_OK)
		cr_assert_eq(svt_trace_write(w, &ev), SVT_TRACE_OK);
	cr_assert_eq(svt_trace_writer_close(w, &e), SVT_TRACE_OK);
	svt_trace_close(r);
	void *out;
	size_t len;
	char err[600];
	struct syn_regen rg = { .path = "g.svt", .mem = c.p, .mem_len = c.n, .policy = off,
				.pool = 64 };
	cr_assert_eq(syn_regenerate(&rg, &out, &len, err, sizeof(err)), -1);
	cr_assert(strstr(err, "does not log the guest's actions") != NULL, "%s", err);
	struct svt_replay_result *res = whatif(&c);
	cr_assert(strstr(res->whatif_why, "regenerated") == NULL, "%s", res->whatif_why);
	free(res);
	free(b.p);
	free(c.p);
}
