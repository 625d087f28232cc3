/*
 * replay.c — the replay engine (replay.h): a trace through a fresh core,
 * decisions compared, invariants checked, results stored.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "config.h"
#include "policy.h"
#include "progress.h"
#include "replay_int.h"
#include "sim.h"
#include "synth.h"
#include "trace_int.h"

const char *const svt_audit_names[] = {
	[SVT_AUDIT_NONE] = "none", [SVT_AUDIT_FAULTS] = "faults",
	[SVT_AUDIT_PERIODIC] = "periodic", [SVT_AUDIT_FULL] = "full", [SVT_AUDIT_FULL + 1] = NULL,
};

const char *svt_audit_name(enum svt_audit_level a)
{
	return (unsigned)a <= SVT_AUDIT_FULL ? svt_audit_names[a] : "?";
}

int svt_audit_parse(const char *s)
{
	for (int i = 0; svt_audit_names[i]; i++)
		if (strcmp(s, svt_audit_names[i]) == 0)
			return i;
	if (s[0] >= '0' && s[0] <= '3' && s[1] == '\0')
		return s[0] - '0';
	return -1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A write to the results database that failed: the first failure is kept
 * for the summary (the run's results are then not all stored: exit 3). */
static void stored(struct rp *p, int rc)
{
	if (rc != 0 && p->res->store_error[0] == '\0')
		snprintf(p->res->store_error, sizeof(p->res->store_error), "%s",
			 svt_db_error(p->cfg->db));
}

void rp_violation(struct rp *p, enum svt_invariant inv, uint64_t va, uint64_t gfn, unsigned level,
		  uint64_t ge, uint64_t se, const char *what)
{
	struct svt_replay_result *res = p->res;
	uint64_t n = res->violations + res->divergences;

	if (!p->checking)
		return;         /* before the range: the state is rebuilt, not checked */
	if (res->first_violation < 0)
		res->first_violation = (int64_t)p->seq;
	if (p->cfg->on_violation && p->cfg->on_violation(p->cfg->hook_ctx, p->seq, inv, va, gfn))
		p->hook_stop = true;
	if (inv == SVT_INV_REPLAY) {
		if (res->divergences++ == 0)
			res->first_divergence = (int64_t)p->seq;
	} else {
		res->violations++;
	}
	if (n < p->cfg->show && p->cfg->out)    /* (not onto a status line) */
		svt_progress_print(p->cfg->progress, p->cfg->out, "%s: event %" PRIu64 ": %s va %#"
			PRIx64 " gfn %#" PRIx64 " level %u guest %#" PRIx64 " shadow %#" PRIx64
			": %s\n", p->cfg->path, p->seq, svt_invariant_name(inv), va, gfn, level, ge,
			se, what);
	if (n < p->cfg->store && p->run > 0) {
		struct svt_db_violation v = {
			.seq = p->seq, .invariant = svt_invariant_name(inv), .va = va, .gfn = gfn,
			.level = level, .guest_entry = ge, .shadow_entry = se, .what = what,
			.from_seq = p->reset_seq, .to_seq = p->seq,
		};
		stored(p, svt_db_violation(p->cfg->db, p->run, &v));
	}
}

void rp_guest_write(struct rp *p, uint64_t gpa, const void *buf, unsigned len)
{
	rp_note_write(p, gpa, len);
	svt_gmem_write(&p->mach.mem, gpa, buf, len);
	if (!p->same_policy)
		svt_mmu_guest_wrote(p->mmu, gpa, len);
	else if (p->cfg->audit == SVT_AUDIT_FULL)
		svt_mmu_audit_note(p->mmu, gpa, len);
}

/* The core's writes to guest memory (its environment's write_gpa, ctx the
 * machine in struct rp): noted, then made as the machine makes them. */
static int core_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct rp *p = (struct rp *)(void *)((char *)ctx - offsetof(struct rp, mach));
	rp_note_write(p, gpa, len);
	return p->core_write(ctx, gpa, buf, len);
}

static void on_event(void *ctx, const struct svt_event *ev)
{
	struct rp *p = ctx;
	if (ev->kind == SVT_EV_RESET)
		p->reset_seq = p->seq;
}

/* The core's own audit (svt_mmu_audit), its violations reported. */
static void audit_core(struct rp *p, unsigned what)
{
	unsigned n = svt_mmu_audit(p->mmu, what, p->vbuf, RP_AUDIT_MAX);
	for (unsigned i = 0; i < n && i < RP_AUDIT_MAX; i++) {
		const struct svt_violation *v = &p->vbuf[i];
		rp_violation(p, v->inv, v->va, svt_gfn_x(v->gfn), v->level, v->guest_entry,
			     v->shadow_entry, v->what);
	}
	if (n > RP_AUDIT_MAX)
		p->res->violations += n - RP_AUDIT_MAX;
}

static void audit(struct rp *p, unsigned what)
{
	/* the hardware view's write protection: a walk of every table, so at
	 * level full as often as at periodic, not after every input */
	if (!(what & SVT_AUDIT_INCR) || p->inputs_since_audit % RP_PERIODIC == 0)
		rp_check_wp(p);
	audit_core(p, what);
}

static void audit_va(struct rp *p, uint64_t va)
{
	unsigned n = svt_mmu_audit_va(p->mmu, va, p->vbuf, RP_AUDIT_MAX);
	for (unsigned i = 0; i < n && i < RP_AUDIT_MAX; i++) {
		const struct svt_violation *v = &p->vbuf[i];
		rp_violation(p, v->inv, v->va, svt_gfn_x(v->gfn), v->level, v->guest_entry,
			     v->shadow_entry, v->what);
	}
}

/* After each input: the audits the level asks for. */
static void after_input(struct rp *p)
{
	if (p->checking)
		p->res->inputs++;
	if (p->cfg->audit == SVT_AUDIT_FULL) {
		/* what this input changed; the whole audit now and then */
		bool whole = ++p->inputs_since_audit >= RP_FULL_WHOLE;
		if (whole)
			p->inputs_since_audit = 0;
		if (p->checking && p->audit_whole)
			audit_core(p, SVT_AUDIT_ALL);   /* INV-WP without the core as below */
		else if (p->checking)
			audit(p, whole ? SVT_AUDIT_ALL : SVT_AUDIT_ALL | SVT_AUDIT_INCR);
		if (p->checking && p->audit_whole &&
		    (whole || p->inputs_since_audit % RP_PERIODIC == 0))
			rp_check_wp(p);
	} else if (p->cfg->audit == SVT_AUDIT_PERIODIC && ++p->inputs_since_audit >= RP_PERIODIC) {
		p->inputs_since_audit = 0;
		if (p->checking)
			audit(p, SVT_AUDIT_ALL);
	}
}

/* The counters over an interval: how much each COUNT grew since then, and
 * each LEVEL as it is now (SVT_COUNTERS). */
static void counters_since(struct svt_counters *d, const struct svt_counters *now,
			   const struct svt_counters *then)
{
#define SINCE(name, kind, what) \
	d->name = SVT_CTR_##kind == SVT_CTR_LEVEL ? now->name : now->name - then->name;
	SVT_COUNTERS(SINCE)
#undef SINCE
}

static void timeline(struct rp *p, bool last)
{
	const struct svt_counters *c = svt_mmu_counters(p->mmu);
	if (p->iv_events == 0 || p->run <= 0)
		goto reset;
	if (!last && p->iv_events < RP_INTERVAL)
		return;
	struct svt_db_interval iv = {
		.first_seq = p->iv_first, .last_seq = p->seq, .events = p->iv_events,
	};
	counters_since(&iv.ctr, c, &p->last);
	stored(p, svt_db_interval(p->cfg->db, p->run, &iv));
reset:
	if (last || p->iv_events >= RP_INTERVAL || p->iv_events == 0) {
		p->last = *c;
		p->iv_first = p->seq + 1;
		p->iv_events = 0;
	}
}

static bool regs_equal(const struct svt_emu_regs *a, const struct svt_emu_regs *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* An input (not STEP_DONE) while the step a fault asked for is open: the
 * producer ran the guest on without ending it (its grant stood, letting
 * the supervisor past SMAP or the keys), and the core ends it now. */
static void step_unended(struct rp *p)
{
	if (!p->step_open)
		return;
	p->step_open = false;
	if (!p->same_policy || p->res->lost)
		return;
	snprintf(p->what, sizeof(p->what), "event %" PRIu64 " asked for one step "
		 "(svt_fault_result.step) and the next input came with no STEP_DONE before it: "
		 "the grant for the step stood past it", p->step_seq);
	rp_violation(p, SVT_INV_REPLAY, p->nstep ? p->step[0].acc.va : 0, 0, 0, 0, 0, p->what);
}

/* A fault the replayed core answered while a step was open or for one
 * (svt_fault_result.step): the step's bookkeeping.  A fault in a step is
 * its instruction or delivery faulting again; answered FIXED or RETRY it
 * goes on, otherwise the core has ended it (svt.h). */
static void step_fault(struct rp *p, const struct svt_trace_fault *tf)
{
	if (p->step_open && p->fo != SVT_PF_FIXED && p->fo != SVT_PF_RETRY)
		p->step_open = false;
	if (!p->fres.step)
		return;
	if (!p->step_open) {
		p->step_open = true;
		p->step_seq = p->seq;
		p->nstep = 0;
	}
	struct rp_step_page *sp = &p->step[p->nstep % RP_STEP_PAGES];
	rp_fault_access(tf, &sp->acc);
	sp->rflags = tf->rflags;
	sp->pkru = tf->pkru;
	sp->seq = p->seq;
	p->nstep++;
}

/*
 * Forward progress in a step: no access the step was granted for may be
 * refused by the shadows that map it when a fault in it is fixed, for the
 * instruction or delivery runs again from its start and needs them all.
 * A core that takes the first page's grant back for the second's (seeded
 * bug 87) has the two fault in turn for ever.  (A translation the fault's
 * handling evicted faults as not present and is granted again: not this.)
 */
static void step_check_kept(struct rp *p)
{
	/* (more grants than one instruction or delivery needs, RP_STEP_PAGES:
	 * which of them the core still holds is its own affair; not judged) */
	unsigned n = p->nstep <= RP_STEP_PAGES ? p->nstep : 0;
	for (unsigned i = 0; p->step_open && i < n; i++) {
		const struct rp_step_page *sp = &p->step[i];
		if (sp->seq == p->seq ||
		    !rp_shadow_refuses_present(p, &sp->acc, sp->rflags, sp->pkru))
			continue;
		snprintf(p->what, sizeof(p->what), "a fault in the step event %" PRIu64 " asked "
			 "for, answered FIXED, took back the step's grant for the %s at %#" PRIx64
			 " (event %" PRIu64 "): the step's instruction or delivery, run again, "
			 "faults there again, and the two follow each other for ever", p->step_seq,
			 sp->acc.kind == SVT_ACC_WRITE ? "write" : "access", sp->acc.va, sp->seq);
		rp_violation(p, SVT_INV_PROGRESS, sp->acc.va, 0, 0, 0, 0, p->what);
	}
}

/* Any input but a FAULT ends a run of the same fault (forward progress). */
static void progress_reset(struct rp *p)
{
	p->streak = 0;
}

/* INV-PROGRESS: a fault that comes back again and again although the core
 * says each time that it fixed it or that the guest should retry, with
 * nothing else happening: a livelock, reported once per run of them. */
static void progress_check(struct rp *p, const struct svt_trace_fault *tf, enum svt_pf_outcome o)
{
	if (o != SVT_PF_FIXED && o != SVT_PF_RETRY) {
		p->streak = 0;
		return;
	}
	if (p->streak && tf->va == p->streak_va && tf->error_code == p->streak_ec &&
	    tf->cpl == p->streak_cpl) {
		if (++p->streak == RP_PROGRESS_MAX) {
			snprintf(p->what, sizeof(p->what),
				 "the same #PF (error code %#x, CPL %u) came %u times in a row "
				 "with no other input, each answered %s: no forward progress",
				 tf->error_code, tf->cpl, RP_PROGRESS_MAX,
				 svt_trace_outcome_name(o));
			rp_violation(p, SVT_INV_PROGRESS, tf->va, 0, 0, 0, 0, p->what);
		}
		return;
	}
	p->streak = 1;
	p->streak_va = tf->va;
	p->streak_ec = tf->error_code;
	p->streak_cpl = tf->cpl;
}

static void fault(struct rp *p, const struct svt_trace_fault *tf)
{
	struct svt_fault f;

	if (p->same_policy)
		p->fault.va = tf->va;   /* all a decision's report needs */
	else
		p->fault = *tf;         /* the retried write may need it all */
	p->pending = SVT_TRACE_FAULT;
	p->pending_seq = p->seq;
	p->pending_skipped = false;
	if (!p->same_policy) {
		/* Would this exit have happened under this policy at all? */
		struct svt_access acc;
		uint64_t mpa;
		rp_fault_access(tf, &acc);
		if (rp_shadow_allows(p, &acc, tf->rflags, tf->pkru, &mpa)) {
			p->pending_skipped = true;
			p->res->skipped++;
			progress_reset(p);
			return;
		}
	}
	p->hw_refused = false;
	if (p->streak && tf->va == p->streak_va && tf->error_code == p->streak_ec &&
	    tf->cpl == p->streak_cpl && !(tf->error_code & (SVT_PFEC_U | SVT_PFEC_I))) {
		/* the same supervisor data fault again at once (nothing between) */
		struct svt_access acc;
		uint64_t mpa;
		rp_fault_access(tf, &acc);
		p->hw_refused = rp_shadow_allows(p, &acc, tf->rflags, tf->pkru, &mpa);
	}
	svt_trace_fault_to_core(tf, &p->regs, &f);
	if (p->cfg->audit >= SVT_AUDIT_PERIODIC)
		rp_note_wfault(p, tf);  /* for INV-WP (rp_check_wp), checked at these levels */
	bool check = p->cfg->audit >= SVT_AUDIT_FAULTS && p->checking;
	if (check) {
		rp_shadow_before(p, tf);
		rp_ad_before(p, tf);
	}
	p->fo = svt_mmu_page_fault(p->mmu, &f, &p->fres);
	step_fault(p, tf);
	progress_check(p, tf, p->fo);
	if (p->fres.stuck) {
		/* the core gave up on it: live, the hypervisor stopped the guest */
		snprintf(p->what, sizeof(p->what), "the same #PF (error code %#x, CPL %u) answered "
			 "RETRY %u times in a row with no other input: the core reports it stuck, "
			 "and the guest stops here", tf->error_code, tf->cpl, SVT_PF_STUCK_AFTER);
		rp_violation(p, SVT_INV_PROGRESS, tf->va, 0, 0, 0, 0, p->what);
	}
	if (check) {
		if (p->fo == SVT_PF_INJECT) {
			rp_check_inject(p, tf, &p->fres);
		} else if (p->fo == SVT_PF_FIXED) {
			rp_check_fixed(p, tf);
		} else if (p->fo == SVT_PF_MMIO) {
			rp_check_mmio(p, tf, &p->fres);
		}
		rp_shadow_after(p, tf, p->fo);
		rp_check_ad(p, tf, p->fo);
		audit_va(p, tf->va);
		if (p->fo == SVT_PF_FIXED)
			step_check_kept(p);
	}
	after_input(p);
}

static void decision(struct rp *p, const struct svt_trace_decision *d)
{
	char rec[120], got[120];

	if (d->input == SVT_TRACE_FAULT) {
		bool recorded_write = d->outcome == SVT_PF_EMULATED;
		bool ours_write = !p->pending_skipped && p->fo == SVT_PF_EMULATED;
		if (!p->same_policy) {
			/* The guest's write happened either way: do it if this core did not. */
			if (recorded_write && !ours_write)
				rp_bare_write(p, &p->fault);
			return;
		}
		if (d->outcome == p->fo && d->error_code == p->fres.error_code &&
		    d->cr2 == p->fres.cr2 && d->gpa == p->fres.gpa &&
		    (!d->has_regs || regs_equal(&d->regs, &p->regs)))
			return;
		snprintf(rec, sizeof(rec), "%s ec %#x cr2 %#" PRIx64 " gpa %#" PRIx64,
			 svt_trace_outcome_name(d->outcome), d->error_code, d->cr2, d->gpa);
		snprintf(got, sizeof(got), "%s ec %#x cr2 %#" PRIx64 " gpa %#" PRIx64,
			 svt_trace_outcome_name(p->fo), p->fres.error_code, p->fres.cr2,
			 p->fres.gpa);
		if (d->outcome == p->fo && strcmp(rec, got) == 0)
			snprintf(got + strlen(got), sizeof(got) - strlen(got), ", other registers");
	} else {
		if (!p->same_policy || d->rc == p->rc)
			return;
		snprintf(rec, sizeof(rec), "rc %d", d->rc);
		snprintf(got, sizeof(got), "rc %d", p->rc);
	}
	snprintf(p->what, sizeof(p->what),
		 "decision for event %" PRIu64 " (%s) differs: recorded %s, replay %s",
		 p->pending_seq, svt_trace_type_name(d->input), rec, got);
	rp_violation(p, SVT_INV_REPLAY, p->fault.va, 0, 0, 0, 0, p->what);
}

/*
 * After an accepted CR write: the flushes the SDM attaches to it
 * ("Invalidation of TLBs and paging-structure caches"): a CR3 load
 * flushes the new context's non-global translations unless CR4.PCIDE and
 * bit 63 say not to; a CR4 write that changes PAE, PGE, PSE or SMEP, or
 * clears PCIDE, flushes everything.  Then the whole address space is
 * judged (rp_check_tree).
 */
static void cr_flushed(struct rp *p, unsigned reg, uint64_t val, uint64_t old_cr4)
{
	const struct svt_regs *g = svt_mmu_guest_regs(p->mmu);
	if (p->cfg->audit < SVT_AUDIT_PERIODIC)
		return;
	if (reg == SVT_TRACE_CR3) {
		if (!((g->cr4 & SVT_CR4_PCIDE) && (val >> 63)))
			rp_check_tree(p, "a CR3 load that flushes", true);
	} else if (reg == SVT_TRACE_CR4) {
		uint64_t ch = old_cr4 ^ g->cr4;
		if ((ch & (SVT_CR4_PAE | SVT_CR4_PGE | SVT_CR4_PSE | SVT_CR4_SMEP)) ||
		    ((ch & SVT_CR4_PCIDE) && !(g->cr4 & SVT_CR4_PCIDE)))
			rp_check_tree(p, "a CR4 write that flushes", false);
	}
}

/* One event; false on a trace that makes no sense (message in res). */
static bool event(struct rp *p, const struct svt_trace_event *ev)
{
	int rc;

	switch (ev->type) {
	case SVT_TRACE_MEM:
		if (p->same_policy) {
			rp_note_write(p, ev->u.mem.gpa, ev->u.mem.len);
			svt_gmem_write(&p->mach.mem, ev->u.mem.gpa, ev->u.mem.data, ev->u.mem.len);
			if (p->cfg->audit == SVT_AUDIT_FULL)
				svt_mmu_audit_note(p->mmu, ev->u.mem.gpa, ev->u.mem.len);
		} else {
			uint8_t cur[SVT_TRACE_MAX_MEM];
			svt_gmem_read(&p->mach.mem, ev->u.mem.gpa, cur, ev->u.mem.len);
			if (memcmp(cur, ev->u.mem.data, ev->u.mem.len) != 0)
				rp_guest_write(p, ev->u.mem.gpa, ev->u.mem.data, ev->u.mem.len);
		}
		return true;
	case SVT_TRACE_FAULT:
		rp_cpu_input(p);
		fault(p, &ev->u.fault);         /* (a fault may come in a step: step_fault()) */
		return true;
	case SVT_TRACE_CR_WRITE: {
		struct crm_out pred;
		uint64_t cr4 = svt_mmu_guest_regs(p->mmu)->cr4;
		rp_cpu_input(p);
		step_unended(p);
		progress_reset(p);
		if (p->cfg->audit >= SVT_AUDIT_FAULTS)
			rp_cr_predict(p, ev->u.cr.reg, ev->u.cr.val, ev->u.cr.code64, &pred);
		rc = svt_trace_cr_apply(p->mmu, ev->u.cr.reg, ev->u.cr.val, ev->u.cr.code64);
		p->rc = rc;
		if (p->cfg->audit >= SVT_AUDIT_FAULTS)
			rp_check_cr(p, ev->u.cr.reg, ev->u.cr.val, rc, &pred);
		if (rc == 0 && (ev->u.cr.reg == SVT_TRACE_CR3 ||
				(ev->u.cr.reg == SVT_TRACE_CR4 &&
				 svt_mmu_guest_regs(p->mmu)->cr4 != cr4)))
			rp_unsync_flushed(p);   /* (the core resyncs at every one: mmu_oos.c) */
		if (rc == 0 && p->cfg->audit >= SVT_AUDIT_FAULTS && p->checking)
			cr_flushed(p, ev->u.cr.reg, ev->u.cr.val, cr4);
		p->pending = SVT_TRACE_CR_WRITE;
		p->pending_seq = p->seq;
		after_input(p);
		return true;
	}
	case SVT_TRACE_INVLPG:
		rp_cpu_input(p);
		step_unended(p);
		progress_reset(p);
		svt_mmu_invlpg(p->mmu, ev->u.invlpg_va);
		rp_unsync_flushed(p);
		if (p->cfg->audit >= SVT_AUDIT_FAULTS && p->checking)
			rp_check_flushed(p, ev->u.invlpg_va, "INVLPG");
		p->pending = SVT_TRACE_UNKNOWN;
		after_input(p);
		return true;
	case SVT_TRACE_INVPCID:
		rp_cpu_input(p);
		step_unended(p);
		progress_reset(p);
		p->rc = svt_mmu_invpcid(p->mmu, ev->u.invpcid.type, ev->u.invpcid.pcid,
					ev->u.invpcid.va);
		if (p->rc == 0)
			rp_unsync_flushed(p);
		if (p->rc == 0 && ev->u.invpcid.type == 0 && p->cfg->audit >= SVT_AUDIT_FAULTS &&
		    p->checking) {
			/* one address, in the PCID it names: binding now only if current */
			const struct svt_regs *g = svt_mmu_guest_regs(p->mmu);
			uint64_t cur = (g->cr4 & SVT_CR4_PCIDE) ? (g->cr3 & 0xfff) : 0;
			if (ev->u.invpcid.pcid == cur)
				rp_check_flushed(p, ev->u.invpcid.va, "INVPCID");
		}
		if (p->rc == 0 && p->cfg->audit >= SVT_AUDIT_FAULTS && p->checking) {
			/* a context, in the PCID it names: binding now only if
			 * current; every context always */
			const struct svt_regs *g = svt_mmu_guest_regs(p->mmu);
			uint64_t cur = (g->cr4 & SVT_CR4_PCIDE) ? (g->cr3 & 0xfff) : 0;
			unsigned t = ev->u.invpcid.type;
			if (t == 1 && ev->u.invpcid.pcid == cur)
				rp_check_tree(p, "INVPCID of the current context", true);
			else if (t == 2 || t == 3)
				rp_check_tree(p, t == 2 ? "INVPCID of everything" :
					      "INVPCID of every context", t == 3);
		}
		p->pending = SVT_TRACE_INVPCID;
		p->pending_seq = p->seq;
		after_input(p);
		return true;
	case SVT_TRACE_FLUSH_ALL:
		rp_cpu_input(p);
		step_unended(p);
		progress_reset(p);
		svt_mmu_flush_all(p->mmu);
		rp_unsync_flushed(p);
		if (p->cfg->audit >= SVT_AUDIT_PERIODIC && p->checking)
			rp_check_tree(p, "a flush of everything", false);
		p->pending = SVT_TRACE_UNKNOWN;
		after_input(p);
		return true;
	case SVT_TRACE_DECISION:
		if (p->pending != ev->u.decision.input) {
			snprintf(p->res->message, sizeof(p->res->message),
				 "%s: event %" PRIu64 ": a decision for %s follows no such input",
				 p->cfg->path, p->seq, svt_trace_type_name(ev->u.decision.input));
			return false;
		}
		decision(p, &ev->u.decision);
		rp_cpu_decision(p, &ev->u.decision);
		p->pending = SVT_TRACE_UNKNOWN;
		return true;
	case SVT_TRACE_CPU:
		rp_cpu_record(p, &ev->u.cpu);
		return true;
	case SVT_TRACE_STEP_DONE:
		/* The exit after the step a fault asked for (the monitor trap
		 * flag's, or any other first): the grant ends, and from here the
		 * shadows are judged without it.  (Not progress: the same fault
		 * granted a step again and again is a livelock too.) */
		if (!p->step_open && p->same_policy && !p->res->lost) {
			snprintf(p->what, sizeof(p->what),
				 "a STEP_DONE where the core asked for no step");
			rp_violation(p, SVT_INV_REPLAY, 0, 0, 0, 0, 0, p->what);
		}
		p->step_open = false;
		svt_mmu_step_done(p->mmu);
		if (p->cfg->audit >= SVT_AUDIT_FAULTS && p->checking)
			rp_check_tree(p, "the end of a step", false);
		p->pending = SVT_TRACE_UNKNOWN;
		after_input(p);
		return true;
	case SVT_TRACE_LOST:
		progress_reset(p);      /* what was lost may have been anything */
		p->step_open = false;
		if (p->res->lost == 0 && p->cfg->out)
			svt_progress_print(p->cfg->progress, p->cfg->out, "%s: event %" PRIu64 ": %"
					   PRIu64 " events lost; "
				"decisions after this point may differ for that reason\n",
				p->cfg->path, p->seq, ev->u.lost.count);
		p->res->lost += ev->u.lost.count;
		p->pending = SVT_TRACE_UNKNOWN;
		p->inj_vector = -1;
		return true;
	default:
		return true;    /* MARK, and types this reader does not know */
	}
}

static int setup(struct rp *p)
{
	const struct svt_trace_header *h = p->h;
	struct svt_mmu_config mc;
	struct svt_replay_result *res = p->res;

	svt_trace_mmu_config(h, &mc);
	svt_policy_format(&h->policy, h->pool_frames, res->recorded, sizeof(res->recorded));
	if (p->cfg->policy_given && p->cfg->policy_spec) {
		/* the named knobs of the recorded policy (policy.h keeps the rest) */
		char why[160];
		const char *spec = p->cfg->policy_spec;
		if (svt_policy_parse_n(spec, strlen(spec), &mc.policy, &mc.pool_frames, NULL,
				       SVT_POLICY_MAX_POOL, why, sizeof(why)) != 0) {
			snprintf(res->message, sizeof(res->message), "%s: policy '%s': %s",
				 p->cfg->path, spec, why);
			return -1;
		}
	} else if (p->cfg->policy_given) {
		mc.policy = p->cfg->policy;
		mc.pool_frames = p->cfg->pool;
	}
	p->same_policy = !p->cfg->policy_given ||
		(mc.pool_frames == h->pool_frames && mc.policy.oos == h->policy.oos &&
		 mc.policy.prefetch == h->policy.prefetch &&
		 mc.policy.emulate == h->policy.emulate &&
		 mc.policy.early_unshadow == h->policy.early_unshadow);
	svt_policy_format(&mc.policy, mc.pool_frames, res->policy, sizeof(res->policy));
	p->prefetch = mc.policy.prefetch;
	p->oos = mc.policy.oos;
	p->mc_policy = mc.policy;
	p->mc_pool = mc.pool_frames;
	crm_reset(&p->crm);
	p->inj_vector = -1;
	if (h->features & SVT_FEAT_CR4_KNOWN)
		p->crm.cr4_have = h->features & CRM_CR4_OPTIONAL;
	if (h->guest_frames > SVT_GMEM_MAX_FRAMES) {
		snprintf(res->message, sizeof(res->message),
			 "%s: the guest has %" PRIu64 " frames; replay handles up to %llu",
			 p->cfg->path, h->guest_frames, (unsigned long long)SVT_GMEM_MAX_FRAMES);
		return -1;
	}
	if (svt_machine_init(&p->mach, h->guest_frames, mc.pool_frames) != 0) {
		snprintf(res->message, sizeof(res->message), "%s: out of memory", p->cfg->path);
		return -1;
	}
	svt_machine_set_ram(&p->mach, h->ram, h->nram);
	svt_machine_set_devices(&p->mach, h->devices, h->ndevices);
	p->mach.on_event = on_event;
	p->mach.cb_ctx = p;
	svt_machine_hw_env(&p->mach, &p->hwenv);
	p->hwenv.read_gpa = rp_hw_read;
	/* guest memory's writes kept track of for the checks of whole shadow
	 * tables (audit level faults and up), where nobody else is handed the
	 * memory (the reducer's hooks) and it is not too large */
	if (p->cfg->audit >= SVT_AUDIT_FAULTS && !p->cfg->on_mem && !p->cfg->at_from &&
	    h->guest_frames <= RP_GW_MAX_FRAMES) {
		p->gw_frames = h->guest_frames;
		p->gw_when = calloc(h->guest_frames ? h->guest_frames : 1, sizeof(*p->gw_when));
	}
	if (p->gw_when) {
		p->core_write = p->mach.env.write_gpa;
		p->mach.env.write_gpa = core_write;
	}
	size_t len = svt_mmu_storage_size(&mc);
	p->store = len ? aligned_alloc(64, (len + 63) & ~(size_t)63) : NULL;
	if (!p->store ||
	    !(p->mmu = svt_mmu_init(p->store, len, &mc, &p->mach.env, p->mach.pool_mfns))) {
		snprintf(res->message, sizeof(res->message),
			 "%s: the header's configuration cannot start a core (pool %u "
			 "frames, %" PRIu64 " guest frames, MAXPHYADDR %u)", p->cfg->path,
			 mc.pool_frames, h->guest_frames, h->maxphyaddr);
		return -1;
	}
	p->last = *svt_mmu_counters(p->mmu);
	return 0;
}

/*
 * A what-if on a trace that logged the guest's actions: the guest run
 * again against the core under this policy (synth.h, syn_regenerate), and
 * that trace replayed in place of the file.  Not for a range or the
 * reducer's hooks (their event numbers are the file's).  When the guest
 * would have taken another path, or the run fails, the replay goes on
 * with the file as recorded (an approximate what-if) and regen_why says
 * why; false only when stopped.
 */
static bool regenerate(struct rp *p)
{
	const struct svt_replay_config *cfg = p->cfg;
	if (p->same_policy || !(p->h->evidence & SVT_EVIDENCE_ACTIONS) || cfg->at_from ||
	    cfg->on_violation || cfg->on_mem)
		return true;
	if (cfg->from != 0 || cfg->to_set) {
		snprintf(p->regen_why, sizeof(p->regen_why), "a range (--from, --to) is of the "
			 "file's events");
		return true;
	}
	struct syn_regen rg = {
		.path = cfg->path, .mem = cfg->mem, .mem_len = cfg->mem_len,
		.policy = p->mc_policy, .pool = p->mc_pool, .stop = cfg->stop,
	};
	char why[sizeof(p->regen_why)];
	int rc = syn_regenerate(&rg, &p->regen, &p->regen_len, why, sizeof(why));
	if (rc == 2)
		return false;
	if (rc != 0) {
		snprintf(p->regen_why, sizeof(p->regen_why), "%s", why);
		p->regen_diverged = rc == 1;
		return true;
	}
	struct svt_trace_error err;
	struct svt_trace_reader *r = svt_trace_open_mem(p->regen, p->regen_len, cfg->path, 0, &err);
	if (!r) {
		snprintf(p->regen_why, sizeof(p->regen_why), "%.500s", err.msg);
		return true;
	}
	p->r_file = p->r;
	p->r = r;
	p->h = svt_trace_reader_header(r);
	p->same_policy = true;
	p->regenerated = true;
	return true;
}

bool svt_replay_checksum(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "rb");
	uint8_t buf[65536];
	uint32_t crc = 0;
	size_t n;
	bool ok;

	snprintf(out, len, "unknown");
	if (!f)
		return false;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		crc = svt_crc32c(crc, buf, n);
	ok = !ferror(f);
	if (ok)
		snprintf(out, len, "crc32c:%08x", crc);
	fclose(f);
	return ok;
}

/* The range asked for must lie in the trace (when its length is known). */
static bool range_fits(struct rp *p, const struct svt_trace_info *info)
{
	const struct svt_replay_config *cfg = p->cfg;
	char *msg = p->res->message;
	size_t len = sizeof(p->res->message);
	const char *what = NULL;
	uint64_t n = 0;

	if (cfg->to_set && cfg->to < cfg->from) {
		snprintf(msg, len, "%s: --from %" PRIu64 " is after --to %" PRIu64, cfg->path,
			 cfg->from, cfg->to);
		return false;
	}
	if (!info->indexed || (cfg->from == 0 && !cfg->to_set))
		return true;    /* unknown length: reading ends where the trace does */
	if (cfg->from >= info->events)
		what = "--from", n = cfg->from;
	else if (cfg->to_set && cfg->to >= info->events)
		what = "--to", n = cfg->to;
	if (!what)
		return true;
	snprintf(msg, len, "%s: %s %" PRIu64 " is beyond the end: the trace has %" PRIu64
		 " events (0..%" PRIu64 ")", cfg->path, what, n, info->events,
		 info->events ? info->events - 1 : 0);
	return false;
}

/* The state the range starts from, for the at_from hook. */
static void at_from(struct rp *p)
{
	if (!p->cfg->at_from)
		return;
	struct svt_replay_state st = {
		.seq = p->cfg->from, .mem = &p->mach.mem, .regs = svt_mmu_guest_regs(p->mmu),
		.header = p->h,
	};
	p->cfg->at_from(p->cfg->hook_ctx, &st);
}

static void mem_hook(void *ctx, uint64_t gpa, size_t len, bool write)
{
	struct rp *p = ctx;
	p->cfg->on_mem(p->cfg->hook_ctx, p->seq, gpa, len, write);
}

/* replay -j 1's status line (progress.h): this trace's events so far */
static void progress(const struct rp *p, uint64_t total, double t0)
{
	const char *name = strrchr(p->cfg->path, '/');
	uint64_t done = p->seq < total ? p->seq : total;
	double t = now() - t0;
	char eta[32];

	svt_progress_eta(eta, sizeof(eta), done, total, t);
	svt_progress_draw(p->cfg->progress, "replay %s: %" PRIu64 "/%" PRIu64 " events (%.0f%%), "
			  "%.2f M/s, %" PRIu64 " violations, ETA %s",
			  name ? name + 1 : p->cfg->path, done, total,
			  total ? 100.0 * (double)done / (double)total : 0.0,
			  t > 0 ? (double)done / t / 1e6 : 0.0,
			  p->res->violations + p->res->divergences, eta);
}

int svt_replay(const struct svt_replay_config *cfg, struct svt_replay_result *res)
{
	struct rp *p = calloc(1, sizeof(*p));
	struct svt_trace_error err;
	struct svt_trace_info info;
	int exit_status = 3;

	memset(res, 0, sizeof(*res));
	res->first_divergence = -1;
	res->first_violation = -1;
	res->status = SVT_RUN_BAD_INPUT;
	if (!p) {
		snprintf(res->message, sizeof(res->message), "%s: out of memory", cfg->path);
		return exit_status;
	}
	p->cfg = cfg;
	const char *aw = getenv("SVT_AUDIT_WHOLE");
	p->audit_whole = aw && strcmp(aw, "1") == 0;
	p->res = res;
	double t0 = now();
	p->r = cfg->mem ? svt_trace_open_mem(cfg->mem, cfg->mem_len, cfg->path, 0, &err) :
			  svt_trace_open(cfg->path, 0, &err);
	if (!p->r) {
		snprintf(res->message, sizeof(res->message), "%s", err.msg);
		free(p);
		return exit_status;
	}
	p->h = svt_trace_reader_header(p->r);
	if (svt_trace_info(p->r, &info) != SVT_TRACE_OK)
		info.events = 0;
	if (!range_fits(p, &info)) {
		svt_trace_close(p->r);
		free(p);
		return SVT_EXIT_USAGE;
	}
	bool ok = setup(p) == 0;
	if (ok && cfg->on_mem) {
		p->mach.mem.hook = mem_hook;
		p->mach.mem.hook_ctx = p;
	}
	if (cfg->db) {
		char sum[32];
		if (cfg->mem)
			snprintf(sum, sizeof(sum), "crc32c:%08x",
				 svt_crc32c(0, cfg->mem, cfg->mem_len));
		else
			svt_replay_checksum(cfg->path, sum, sizeof(sum));
		const char *g = p->h->guest ? p->h->guest : "";
		const char *w = strstr(g, "workload=");
		char wl[64] = "";
		if (w)
			sscanf(w + 9, "%63[^ ]", wl);
		struct svt_db_run run = {
			.trace = cfg->path, .trace_checksum = sum, .guest = g, .workload = wl,
			.policy = res->policy, .recorded_policy = p->same_policy,
			.audit = svt_audit_name(cfg->audit), .tool_version = svt_tool_version(),
			.trace_events = info.events,
		};
		p->run = svt_db_run_begin(cfg->db, &run);
		if (p->run <= 0)
			stored(p, -1);
	}
	struct svt_trace_event ev;
	int st = SVT_TRACE_OK;
	bool stopped = false, range_done = false, first_stop = false;
	if (ok && !regenerate(p))
		stopped = true;         /* interrupted while regenerating */
	uint64_t seen = 0, published = 0;
	p->checking = cfg->from == 0;
	if (ok && p->checking)
		at_from(p);
	while (ok && !stopped) {
		st = svt_trace_next(p->r, &ev);
		if (st != SVT_TRACE_OK)
			break;
		if (cfg->to_set && ev.seq > cfg->to) {
			range_done = true;
			break;
		}
		p->seq = ev.seq;
		uint64_t span = svt_trace_event_span(&ev);      /* event() leaves ev as it is */
		if (!p->checking && ev.seq + span > cfg->from) {
			p->checking = true;
			at_from(p);
		}
		if (!event(p, &ev)) {
			ok = false;
			break;
		}
		seen += span;
		if (p->checking)
			res->events += span;
		p->iv_events += span;
		if ((cfg->stop_at_first && res->first_violation >= 0) || p->hook_stop) {
			first_stop = true;
			break;
		}
		if ((seen & 0xff) == 0 && cfg->deadline > 0 && now() >= cfg->deadline) {
			stopped = true;
			break;
		}
		if ((seen & 0xfff) == 0 || span > 1) {
			if (cfg->stop && *cfg->stop) {
				stopped = true;
				break;
			}
			timeline(p, false);
			if (cfg->events_seen) {
				__atomic_fetch_add(cfg->events_seen, seen - published,
						   __ATOMIC_RELAXED);
				published = seen;
			}
			if (cfg->draw && svt_progress_due(cfg->progress))
				progress(p, info.events, t0);
		}
	}
	if (cfg->draw)
		svt_progress_end(cfg->progress);
	if (cfg->events_seen)
		__atomic_fetch_add(cfg->events_seen, seen - published, __ATOMIC_RELAXED);
	if (ok && !stopped && !range_done && !first_stop && st != SVT_TRACE_END) {
		snprintf(res->message, sizeof(res->message), "%s",
			 svt_trace_reader_error(p->r)->msg);
		ok = false;
	}
	if (p->mmu) {
		/* the end-of-trace audit: only where the range reached the end */
		if (ok && !stopped && !range_done && !first_stop && p->checking &&
		    cfg->audit >= SVT_AUDIT_PERIODIC)
			audit(p, SVT_AUDIT_ALL);
		timeline(p, true);
		res->counters = *svt_mmu_counters(p->mmu);
		/* under another policy: the recording's counters too (whatif.h),
		 * unless the reducer is driving (it needs no label) */
		struct svt_counters rec_ctr;
		double t_rec = now();
		bool have_rec = !p->same_policy && !p->regenerated && ok && !stopped &&
			!first_stop && !p->hook_stop &&
			!cfg->at_from && !cfg->on_violation && !cfg->on_mem &&
			svt_whatif_recorded(cfg, &rec_ctr);
		t0 += now() - t_rec;    /* the run's time is this replay's own */
		struct svt_whatif_in wi = {
			.rec = p->h->policy, .rec_pool = p->h->pool_frames, .pol = p->mc_policy,
			.pool = p->mc_pool, .c = &res->counters, .rc = have_rec ? &rec_ctr : NULL,
			.skipped = res->skipped, .lost = res->lost,
		};
		res->whatif = svt_whatif_judge(&wi, res->whatif_why, sizeof(res->whatif_why));
		if (p->regenerated) {
			res->whatif = SVT_WHATIF_EXACT;
			snprintf(res->whatif_why, sizeof(res->whatif_why),
				 "regenerated: the guest's actions, logged in the trace, run again "
				 "against the core under this policy on the hardware model that "
				 "recorded them, which is what recording under it measures (event "
				 "numbers are the regenerated trace's: `shadowvt synth --like` "
				 "writes it)");
		} else if (p->regen_diverged) {
			/* whatever the file's inputs say, recording differs */
			res->whatif = SVT_WHATIF_APPROX;
			snprintf(res->whatif_why, sizeof(res->whatif_why),
				 "not regenerated: %s; the file's inputs replayed instead, no "
				 "error bound", p->regen_why);
		} else if (p->regen_why[0] && res->whatif == SVT_WHATIF_APPROX) {
			size_t n = strlen(res->whatif_why);
			snprintf(res->whatif_why + n, sizeof(res->whatif_why) - n,
				 "; not regenerated: %s", p->regen_why);
		}
	}
	res->seconds = now() - t0;
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		res->peak_rss_kb = (uint64_t)ru.ru_maxrss;
	if (!ok) {
		res->status = SVT_RUN_BAD_INPUT;
		exit_status = 3;
	} else if (stopped) {
		res->status = SVT_RUN_INCOMPLETE;
		snprintf(res->message, sizeof(res->message),
			 "interrupted at event %" PRIu64, p->seq);
		exit_status = 1;
	} else if (res->violations || res->divergences) {
		res->status = SVT_RUN_VIOLATIONS;
		exit_status = 1;
	} else {
		res->status = SVT_RUN_CLEAN;
		exit_status = 0;
	}
	if (p->run > 0) {
		/* the core's counters, then the replay's own */
		const struct { const char *n; uint64_t v; } cs[] = {
			{ "skipped_faults", res->skipped }, { "lost_events", res->lost },
			{ "inputs", res->inputs }, { "peak_rss_kb", res->peak_rss_kb },
		};
		stored(p, svt_db_counters(cfg->db, p->run, &res->counters));
		for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++)
			stored(p, svt_db_counter(cfg->db, p->run, cs[i].n, cs[i].v));
		/* a run whose results were not all stored says so in its message */
		char msg[sizeof(res->message) + sizeof(res->store_error) + 32];
		snprintf(msg, sizeof(msg), "%s%s%s%s", res->message,
			 res->store_error[0] && res->message[0] ? "; " : "",
			 res->store_error[0] ? "not all results stored: " : "", res->store_error);
		struct svt_db_run_end e = {
			.status = res->status, .events = res->events,
			.violations = res->violations + res->divergences,
			.divergence_seq = res->first_divergence, .seconds = res->seconds,
			.message = msg, .whatif = p->mmu ? svt_whatif_name(res->whatif) : NULL,
		};
		stored(p, svt_db_run_end(cfg->db, p->run, &e));
		res->run = p->run;
	}
	svt_trace_close(p->r);
	if (p->r_file)
		svt_trace_close(p->r_file);
	free(p->regen);
	svt_machine_free(&p->mach);
	free(p->tseen);
	free(p->gw_when);
	free(p->store);
	free(p);
	return exit_status;
}
