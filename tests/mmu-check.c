/*
 * mmu-check.c — what the harness compares and reports: the log of recent
 * steps, the first failure, the guest's paging registers (core against
 * twin), guest memory (frame by frame, twin against machine), the core's
 * audits (every violation printed in full), and the failure report that
 * ends with the command rerunning the run.
 */
#include <stdarg.h>
#include <string.h>

#include "mmu-harness.h"

/* ---- log, failure, report --------------------------------------------- */

void mh_log(struct mh_machine *m, const char *fmt, ...)
{
	m->log_step[m->logn % MH_LOG_LINES] = m->step;
	char *line = m->log[m->logn++ % MH_LOG_LINES];
	int n = snprintf(line, MH_LOG_LEN, "%6llu  ", (unsigned long long)m->step);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, MH_LOG_LEN - (size_t)n, fmt, ap);
	va_end(ap);
	if (m->trace)
		fprintf(m->out, "%s\n", line);
}

bool mh_fail(struct mh_machine *m, const char *fmt, ...)
{
	if (m->failed)
		return false;
	m->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->what, sizeof(m->what), fmt, ap);
	va_end(ap);
	mh_log(m, "FAIL: %s", m->what);
	return false;
}

static bool pae_paging(const struct mh_machine *m)
{
	return (m->arch.cr0 & SVT_CR0_PG) && (m->arch.cr4 & SVT_CR4_PAE) && !mh_long_mode(m);
}

bool mh_check_regs(struct mh_machine *m)
{
	const struct svt_regs *r = svt_mmu_guest_regs(m->mmu);
	if (r->cr0 != m->arch.cr0 || r->cr3 != m->arch.cr3 || r->cr4 != m->arch.cr4 ||
	    r->efer != m->arch.efer)
		return mh_fail(m,
			       "guest registers differ: core CR0 %#llx CR3 %#llx CR4 %#llx "
			       "EFER %#llx, bare metal CR0 %#llx CR3 %#llx CR4 %#llx EFER %#llx",
			       (unsigned long long)r->cr0, (unsigned long long)r->cr3,
			       (unsigned long long)r->cr4, (unsigned long long)r->efer,
			       (unsigned long long)m->arch.cr0, (unsigned long long)m->arch.cr3,
			       (unsigned long long)m->arch.cr4, (unsigned long long)m->arch.efer);
	if (pae_paging(m))
		for (int i = 0; i < 4; i++)
			if (r->pdpte[i] != m->arch.pdpte[i])
				return mh_fail(m,
					       "PDPTE%d differs: core %#llx, bare metal %#llx", i,
					       (unsigned long long)r->pdpte[i],
					       (unsigned long long)m->arch.pdpte[i]);
	return true;
}

static bool cmp_frame(struct mh_machine *m, uint64_t gfn)
{
	const uint8_t *a = m->twin + gfn * MH_PAGE, *b = m->mem + m->g2m[gfn] * MH_PAGE;
	if (memcmp(a, b, MH_PAGE) == 0)
		return true;
	unsigned off = 0;
	while (a[off] == b[off])
		off++;
	off &= ~7u;
	return mh_fail(m,
		       "guest memory differs at gpa %#llx (mfn %#llx): bare metal %#llx, "
		       "machine %#llx", (unsigned long long)(gfn * MH_PAGE + off),
		       (unsigned long long)m->g2m[gfn],
		       (unsigned long long)mh_twin_read(m, gfn * MH_PAGE + off, 8),
		       (unsigned long long)(b[off] | (uint64_t)b[off + 1] << 8 |
					    (uint64_t)b[off + 2] << 16 |
					    (uint64_t)b[off + 3] << 24 |
					    (uint64_t)b[off + 4] << 32 |
					    (uint64_t)b[off + 5] << 40 |
					    (uint64_t)b[off + 6] << 48 |
					    (uint64_t)b[off + 7] << 56));
}

bool mh_check_memory(struct mh_machine *m, bool all)
{
	bool ok = true;
	if (all || m->touch_all) {
		for (uint64_t g = 0; g < m->gframes && ok; g++)
			if (mh_ram(m, g))
				ok = cmp_frame(m, g);
	} else {
		for (unsigned i = 0; i < m->ntouched && ok; i++)
			ok = cmp_frame(m, m->touched[i]);
	}
	m->ntouched = 0;
	m->touch_all = false;
	uint64_t core = svt_mmu_counters(m->mmu)->env_errors;
	if (ok && (core > 0 || m->env_errors))
		return mh_fail(m, "env_errors: core %llu, environment refused %llu",
			       (unsigned long long)core, (unsigned long long)m->env_errors);
	return ok;
}

static void log_violations(struct mh_machine *m, const struct svt_violation *v, unsigned n)
{
	for (unsigned i = 0; i < n && i < 4; i++)
		mh_log_walk(m, v[i].va);
	for (unsigned i = 0; i < n; i++)
		mh_log(m,
		       "%s va %#llx gfn %#llx shadow mfn %#llx index %u level %u guest %#llx "
		       "shadow %#llx: %s", svt_invariant_name(v[i].inv),
		       (unsigned long long)v[i].va, (unsigned long long)svt_gfn_x(v[i].gfn),
		       (unsigned long long)svt_mfn_x(v[i].shadow_mfn), v[i].index,
		       v[i].level, (unsigned long long)v[i].guest_entry,
		       (unsigned long long)v[i].shadow_entry, v[i].what ? v[i].what : "");
}

bool mh_audit_va(struct mh_machine *m, uint64_t va)
{
	struct svt_violation v[64];
	unsigned n = svt_mmu_audit_va(m->mmu, va, v, 64);
	if (!n)
		return true;
	log_violations(m, v, n < 8 ? n : 8);
	return mh_fail(m, "svt_mmu_audit_va(%#llx): %u violation(s), first %s",
		       (unsigned long long)va, n, svt_invariant_name(v[0].inv));
}

bool mh_audit_full(struct mh_machine *m)
{
	struct svt_violation v[512];
	unsigned n = svt_mmu_audit(m->mmu, SVT_AUDIT_ALL, v, 512);
	m->audits++;
	if (!n)
		return true;
	log_violations(m, v, n < 12 ? n : 12);
	return mh_fail(m, "svt_mmu_audit(ALL): %u violation(s), first %s", n,
		       svt_invariant_name(v[0].inv));
}

static const char *ev_name(enum svt_event_kind k)
{
	static const char *const n[] = { "fault", "shadow-new", "shadow-free", "unshadow",
					 "oos", "resync", "evict", "reset" };
	return (unsigned)k < sizeof(n) / sizeof(n[0]) ? n[k] : "?";
}

void mh_report(struct mh_machine *m)
{
	FILE *f = m->out;
	char pol[128];
	const struct svt_regs *r = svt_mmu_guest_regs(m->mmu);
	const struct svt_counters *c = svt_mmu_counters(m->mmu);

	mh_policy_string(&m->policy, m->pool, pol, sizeof(pol));
	fprintf(f, "==== shadow MMU model harness: FAILURE ====\n");
	fprintf(f, "mode %s, policy %s, seed %llu, step %llu\n", mh_mode_name(m->mode), pol,
		(unsigned long long)m->seed, (unsigned long long)m->step);
	fprintf(f, "what: %s\n", m->what);
	fprintf(f,
		"machine: %llu guest frames, hole at gfn %#llx+%llu, MAXPHYADDR %u, 1G pages %s\n",
		(unsigned long long)m->gframes, (unsigned long long)m->hole_lo,
		(unsigned long long)m->hole_n, m->maxphyaddr, m->gbpages ? "yes" : "no");
	fprintf(f,
		"bare metal: CR0 %#llx CR3 %#llx CR4 %#llx EFER %#llx PDPTE %#llx %#llx "
		"%#llx %#llx\n", (unsigned long long)m->arch.cr0, (unsigned long long)m->arch.cr3,
		(unsigned long long)m->arch.cr4, (unsigned long long)m->arch.efer,
		(unsigned long long)m->arch.pdpte[0], (unsigned long long)m->arch.pdpte[1],
		(unsigned long long)m->arch.pdpte[2], (unsigned long long)m->arch.pdpte[3]);
	fprintf(f, "core's guest view: CR0 %#llx CR3 %#llx CR4 %#llx EFER %#llx\n",
		(unsigned long long)r->cr0, (unsigned long long)r->cr3,
		(unsigned long long)r->cr4, (unsigned long long)r->efer);
	fprintf(f,
		"hardware: CR0 %#llx CR3 %#llx CR4 %#llx EFER %#llx mode %d; RFLAGS %#llx "
		"PKRU %#x\n", (unsigned long long)m->hw.cr0, (unsigned long long)m->hw.cr3,
		(unsigned long long)m->hw.cr4, (unsigned long long)m->hw.efer, (int)m->hw.mode,
		(unsigned long long)m->regs.rflags, m->pkru);
	fputs("counters:", f);
#define MH_COUNTER(name, kind, what) fprintf(f, " " #name " %llu", (unsigned long long)c->name);
	SVT_COUNTERS(MH_COUNTER)
#undef MH_COUNTER
	fputc('\n', f);
	/* the last 20 steps (as far as the log reaches), runs of one line
	 * repeated folded into one */
	unsigned first = m->logn > MH_LOG_LINES ? m->logn - MH_LOG_LINES : 0;
	while (first < m->logn && m->log_step[first % MH_LOG_LINES] + 20 < m->step)
		first++;
	fprintf(f, "last steps (oldest first):\n");
	for (unsigned i = first; i < m->logn;) {
		const char *l = m->log[i % MH_LOG_LINES];
		unsigned k = i + 1;
		while (k < m->logn && !strcmp(m->log[k % MH_LOG_LINES], l))
			k++;
		fprintf(f, "  %s\n", l);
		if (k - i > 1)
			fprintf(f, "  %6s  (the line above %u times)\n", "", k - i);
		i = k;
	}
	fprintf(f, "last core events (oldest first):\n");
	unsigned ef = m->evn > MH_EV_RING ? m->evn - MH_EV_RING : 0;
	for (unsigned i = ef; i < m->evn; i++) {
		const struct svt_event *e = &m->ev[i % MH_EV_RING];
		fprintf(f, "  %-11s a %#llx b %#llx c %#llx\n", ev_name(e->kind),
			(unsigned long long)e->a, (unsigned long long)e->b,
			(unsigned long long)e->c);
	}
	char ex[160] = "";
	if (m->expose == ~0u)
		snprintf(ex, sizeof(ex), " --strict");
	else
		for (unsigned n = 0, k = 0; n < 32; n++)
			if (m->expose & (1u << n))
				k += (unsigned)snprintf(ex + k, sizeof(ex) - k, "%sK%u",
							k ? "," : " --expose ", n);
	fprintf(f, "rerun: tests/mmu-soak --mode %s --policy %s --seed %llu --steps %llu%s\n",
		mh_mode_name(m->mode), pol, (unsigned long long)m->seed,
		(unsigned long long)m->step + 1, ex);
}
