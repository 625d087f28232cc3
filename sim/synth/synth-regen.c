/*
 * synth-regen.c — a synthetic guest run again from its trace under
 * another policy (synth.h, syn_regenerate; docs/replay.md, "What-ifs").
 *
 * A trace with SVT_EVIDENCE_ACTIONS holds the guest's whole part of the
 * run: every access and write instruction it made (with the outcome it
 * saw), every page it cleared, its RFLAGS and PKRU, and the CR writes, INVLPGs and
 * INVPCIDs, which every policy takes as exits alike.  What the core made
 * of them (FAULT, DECISION, MEM) depends on the policy and is not used.
 * Running those actions on the same modelled hardware (synth-hw.c: the
 * shadow walk, the TLB every exit drops, the instruction encoder) against
 * a core under policy P gives the faults, emulations and evictions that
 * recording the guest under P gives, as long as the guest would have done
 * the same under P.  It would: the synthetic OS decides from its random
 * numbers and from what the hardware told it (an injected #PF, a CMPXCHG's
 * result), and both are checked here action by action against what the
 * trace says the guest saw; the first difference ends the run (return 1).
 */
#define _POSIX_C_SOURCE 200809L        /* open_memstream */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "synth.h"

/* The guest saw something else here than in the trace. */
static void diverged(struct syn *s, uint64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void diverged(struct syn *s, uint64_t seq, const char *fmt, ...)
{
	if (s->failed)
		return;
	char what[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	s->diverged = true;
	syn_fail(s, "at the trace's event %" PRIu64 " the guest would have seen %s "
		 "under this policy: a recording under it takes another path from "
		 "there", seq, what);
}

static const enum syn_insn_op insn_ops[] = {
	[SVT_GUEST_MOV] = SYN_MOV, [SVT_GUEST_XCHG] = SYN_XCHG, [SVT_GUEST_CMPXCHG] = SYN_CMPXCHG,
	[SVT_GUEST_CMPXCHG8B] = SYN_CMPXCHG8B, [SVT_GUEST_CMPXCHG16B] = SYN_CMPXCHG16B,
};

/* One GUEST record: the action again, and the outcome compared. */
static void action(struct syn *s, const struct svt_trace_guest *g, uint64_t seq)
{
	uint32_t ec = 0;
	uint64_t cr2 = 0;
	int r;
	bool ok = false;

	switch (g->kind) {
	case SVT_GUEST_RFLAGS:
		s->rflags = g->val[0];
		return;
	case SVT_GUEST_PKRU:
		s->pkru = (uint32_t)g->val[0];  /* below 2^32: the decoder checks */
		return;
	case SVT_GUEST_CLEAR:
		if ((g->val[0] & 0xfff) || (g->val[0] >> 12) >= s->cfg->guest_frames) {
			syn_fail(s,
				 "event %" PRIu64 ": a page clear at %#" PRIx64 ", not a frame of "
				 "the guest's RAM", seq, g->val[0]);
			return;
		}
		syn_clear(s, g->val[0], g->va, g->rip, (g->flags & SVT_GUEST_PT) != 0);
		return;
	case SVT_GUEST_READ:
	case SVT_GUEST_FETCH:
		r = syn_access(s, g->va, g->kind == SVT_GUEST_FETCH ? SVT_ACC_FETCH : SVT_ACC_READ,
			       g->cpl, 0, 0, 0, &ec, &cr2);
		break;
	default: {
		struct syn_insn in = {
			.op = insn_ops[g->op], .va = g->va, .size = g->size, .cpl = g->cpl,
			.rip = g->rip, .val = { g->val[0], g->val[1] },
			.cmp = { g->cmp[0], g->cmp[1] },
		};
		r = syn_insn(s, &in, &ec, &cr2);
		ok = in.ok;
		break;
	}
	}
	if (r < 0)
		return;
	bool inj = (g->flags & SVT_GUEST_INJECTED) != 0;
	if ((r == 1) != inj)
		diverged(s, seq, "%s at %#" PRIx64 " (a %s)", r == 1 ? "a #PF" : "no #PF", g->va,
			 svt_guest_kind_name(g->kind));
	else if (inj && (ec != g->error_code || cr2 != g->cr2))
		diverged(s, seq, "#PF error code %#x CR2 %#" PRIx64 " where the trace has %#x %#"
			 PRIx64, ec, cr2, g->error_code, g->cr2);
	else if (g->kind == SVT_GUEST_WRITE && g->op >= SVT_GUEST_CMPXCHG &&
		 ok != ((g->flags & SVT_GUEST_OK) != 0))
		diverged(s, seq, "a %s at %#" PRIx64 " %s", svt_guest_op_name(g->op), g->va,
			 ok ? "exchange" : "fail to exchange");
}

void syn_pump(struct syn *s)
{
	struct svt_trace_reader *r = s->cfg->script;
	struct svt_trace_event ev;
	int rc = 0;             /* what the core said to the last CR_WRITE or INVPCID */
	unsigned n = 0;

	for (;;) {
		if (s->failed || s->rec.failed)
			return;
		if ((++n & 0xfff) == 0 && s->cfg->stop && *s->cfg->stop) {
			syn_fail(s, "interrupted");
			return;
		}
		int st = svt_trace_next(r, &ev);
		if (st == SVT_TRACE_END)
			return;
		if (st != SVT_TRACE_OK) {
			syn_fail(s, "%s", svt_trace_reader_error(r)->msg);
			return;
		}
		switch (ev.type) {
		case SVT_TRACE_GUEST:
			action(s, &ev.u.guest, ev.seq);
			break;
		case SVT_TRACE_CR_WRITE: {
			/* syn_cr, which would refuse a refusal */
			s->actions++;
			rc = svt_recorder_cr_mode(&s->rec.r, s->mmu, ev.u.cr.reg, ev.u.cr.val,
						  ev.u.cr.code64);
			syn_vm_entry(s);
			const struct svt_regs *g = svt_mmu_guest_regs(s->mmu);
			s->cr0 = g->cr0;
			s->cr3 = g->cr3;
			s->cr4 = g->cr4;
			s->efer = g->efer;
			break;
		}
		case SVT_TRACE_INVLPG:
			syn_invlpg(s, ev.u.invlpg_va);
			break;
		case SVT_TRACE_INVPCID:
			s->actions++;
			rc = svt_recorder_invpcid(&s->rec.r, s->mmu, ev.u.invpcid.type,
						  ev.u.invpcid.pcid, ev.u.invpcid.va);
			syn_vm_entry(s);
			break;
		case SVT_TRACE_DECISION:
			if (ev.u.decision.input == SVT_TRACE_FAULT)
				break;
			if ((rc == 0) != (ev.u.decision.rc == 0))
				diverged(s, ev.seq, "its %s %s",
					 ev.u.decision.input == SVT_TRACE_INVPCID ? "INVPCID" :
					 "control-register write",
					 rc == 0 ? "accepted" : "refused");
			break;
		case SVT_TRACE_MARK:
			svt_recorder_mark(&s->rec.r, ev.u.mark.kind, ev.u.mark.text, ev.u.mark.len);
			break;
		case SVT_TRACE_FLUSH_ALL:
			syn_fail(s, "event %" PRIu64 ": a FLUSH_ALL, which no synthetic guest does",
				 ev.seq);
			return;
		case SVT_TRACE_LOST:
			syn_fail(s,
				 "event %" PRIu64 ": %" PRIu64 " events lost: the guest's actions "
				 "are not all in the trace", ev.seq, ev.u.lost.count);
			return;
		default:
			break;  /* FAULT, MEM, and types this reader does not know */
		}
	}
}

int syn_regenerate(const struct syn_regen *rg, void **out, size_t *out_len, char *err,
		   size_t errlen)
{
	struct svt_trace_error terr;
	struct svt_trace_reader *r = rg->mem ?
		svt_trace_open_mem(rg->mem, rg->mem_len, rg->path, 0, &terr) :
		svt_trace_open(rg->path, 0, &terr);
	*out = NULL;
	*out_len = 0;
	if (!r) {
		snprintf(err, errlen, "%s", terr.msg);
		return -1;
	}
	const struct svt_trace_header *h = svt_trace_reader_header(r);
	if (!(h->evidence & SVT_EVIDENCE_ACTIONS)) {
		snprintf(err, errlen, "%s: the trace does not log the guest's actions", rg->path);
		svt_trace_close(r);
		return -1;
	}
	/* the header is the trace's, but for the policy and the pool */
	bool div = false;
	struct svt_trace_header nh = *h;
	nh.policy = rg->policy;
	nh.pool_frames = rg->pool;
	/* (the mode is the guest's to set by its CR writes: the hardware
	 * model reads only what the core gives it) */
	struct syn_config cfg = {
		.mode = SVT_MODE_4LEVEL, .events = UINT64_MAX, .policy = rg->policy,
		.pool = rg->pool, .guest_frames = h->guest_frames, .level = 1,
		.script = r, .stop = rg->stop, .diverged = &div,
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct svt_trace_writer *w = f ? svt_trace_writer_open_file(f, "the regenerated trace", &nh,
								    cfg.level, &terr) : NULL;
	if (!w) {
		snprintf(err, errlen, "%s", f ? terr.msg : "out of memory");
		if (f)
			fclose(f);
		free(buf);
		svt_trace_close(r);
		return -1;
	}
	char why[512] = "";
	int rc = syn_run(&cfg, w, why, sizeof(why));
	bool stopped = rc != 0 && rg->stop && *rg->stop;
	bool closed = svt_trace_writer_close(w, &terr) == SVT_TRACE_OK;
	bool flushed = fclose(f) == 0;
	svt_trace_close(r);
	if (rc != 0 || !closed || !flushed) {
		snprintf(err, errlen, "%s", rc != 0 ? why : closed ? "out of memory" : terr.msg);
		free(buf);
		return stopped ? 2 : div ? 1 : -1;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

int syn_like(const char *path, struct syn_config *cfg, char *guest, size_t guestlen, char *err,
	     size_t errlen)
{
	struct svt_trace_error terr;
	struct svt_trace_reader *r = svt_trace_open(path, 0, &terr);
	if (!r) {
		snprintf(err, errlen, "%s", terr.msg);
		return -1;
	}
	const struct svt_trace_header *h = svt_trace_reader_header(r);
	char work[64] = "", mode[16] = "";
	uint64_t seed = 0;
	const char *g = h->guest ? h->guest : "";
	const char *w = strstr(g, "workload="), *m = strstr(g, " mode="), *sd = strstr(g, " seed=");
	int rc = -1;
	if (strncmp(g, "synth ", 6) != 0 || !w || !m || !sd ||
	    sscanf(w + 9, "%63[^ ]", work) != 1 || sscanf(m + 6, "%15[^ ]", mode) != 1 ||
	    sscanf(sd + 6, "%" SCNu64, &seed) != 1) {
		snprintf(err, errlen, "%s: not a trace of shadowvt synth (guest '%s')", path, g);
		goto out;
	}
	if (!(h->evidence & SVT_EVIDENCE_ACTIONS)) {
		snprintf(err, errlen, "%s: the trace does not log the guest's actions (an older "
			 "shadowvt, synth --no-actions or a workload that logs none made it): its "
			 "guest cannot be run again exactly", path);
		goto out;
	}
	cfg->work = syn_find_workload(work);
	int md = svt_mode_parse(mode);
	if (!cfg->work || md <= 0) {
		snprintf(err, errlen,
			 "%s: workload '%s' or mode '%s' unknown to this shadowvt", path,
			 work, mode);
		goto out;
	}
	cfg->mode = (enum svt_mode)md;
	cfg->seed = seed;
	cfg->guest_frames = h->guest_frames;
	cfg->events = UINT64_MAX;
	snprintf(guest, guestlen, "%s", g);
	cfg->guest = guest;
	/* the actions: every GUEST but RFLAGS and PKRU, every CR_WRITE, INVLPG, INVPCID */
	struct svt_trace_event ev;
	uint64_t n = 0;
	int st;
	while ((st = svt_trace_next(r, &ev)) == SVT_TRACE_OK) {
		if ((ev.type == SVT_TRACE_GUEST && ev.u.guest.kind != SVT_GUEST_RFLAGS &&
		     ev.u.guest.kind != SVT_GUEST_PKRU) ||
		    ev.type == SVT_TRACE_CR_WRITE || ev.type == SVT_TRACE_INVLPG ||
		    ev.type == SVT_TRACE_INVPCID)
			n++;
		if (ev.type == SVT_TRACE_LOST) {
			snprintf(err, errlen,
				 "%s: event %" PRIu64 ": events lost: the guest's actions are not "
				 "all in the trace", path, ev.seq);
			goto out;
		}
	}
	if (st != SVT_TRACE_END) {
		snprintf(err, errlen, "%s", svt_trace_reader_error(r)->msg);
		goto out;
	}
	if (n == 0) {
		snprintf(err, errlen, "%s: no guest action in the trace", path);
		goto out;
	}
	cfg->actions = n;
	rc = 0;
out:
	svt_trace_close(r);
	return rc;
}
