/*
 * replay-cpu.c — INV-CPU: what a hypervisor showed its guest of the
 * processor outside paging, judged from the CPU records of a trace with
 * SVT_EVIDENCE_CPU (traces/FORMAT.md, "CPU").  None of it is a core input,
 * so the core under test has no say; the judge is the SDM's rules, with
 * the control registers as the control-register model (crmodel.h) has
 * them and the CPU features the trace's header states:
 *  - CPUID.1:ECX.OSXSAVE[27] and CPUID.(7,0):ECX.OSPKE[4] mirror CR4.OSXSAVE
 *    and CR4.PKE (SDM Vol. 2A CPUID);
 *  - where the header says which optional CR4 features the CPU has
 *    (SVT_FEAT_CR4_KNOWN), CPUID reports exactly those: a CR4 bit may be
 *    set iff CPUID enumerates its feature (SDM Vol. 3A 2.5);
 *  - every fault-class exception delivered to the guest pushes RFLAGS with
 *    RF set (SDM Vol. 3A 18.3.1.1), so the return to the faulting
 *    instruction does not hit its own instruction breakpoint again;
 *  - the exception a recorded decision asks for (a #PF the core injects,
 *    a #GP for a CR write or INVPCID the core refused) is the one
 *    delivered, with its error code and CR2, before the next input (a #DF
 *    in its place is not judged).
 */
#include <inttypes.h>
#include <stdio.h>

#include "replay_int.h"

#define RFLAGS_RF       (1ull << 16)

static bool cpu_checking(const struct rp *p)
{
	return (p->h->evidence & SVT_EVIDENCE_CPU) && p->cfg->audit >= SVT_AUDIT_FAULTS &&
	       p->checking;
}

/* Fault-class exceptions (SDM Vol. 3A Table 6-1): #DE #BR #UD #NM #TS #NP
 * #SS #GP #PF #MF #AC #XM #VE #CP.  #DB is a fault or a trap by its cause,
 * and not judged. */
static bool fault_class(unsigned v)
{
	return v < 32 && ((0x3b7ce1u >> v) & 1);
}

static const char *const vector_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "vector 9", "#TS", "#NP",
	"#SS", "#GP", "#PF", "vector 15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
	"vector 22", "vector 23", "vector 24", "vector 25", "vector 26", "vector 27",
	"vector 28", "vector 29", "vector 30", "vector 31",
};

void rp_cpu_input(struct rp *p)
{
	if (p->inj_vector < 0)
		return;
	if (cpu_checking(p)) {
		snprintf(p->what, sizeof(p->what), "the decision for event %" PRIu64 " asks for %s "
			 "(error code %#x, CR2 %#" PRIx64 "); none was delivered before the next "
			 "input", p->inj_seq, vector_names[p->inj_vector], p->inj_ec, p->inj_cr2);
		rp_violation(p, SVT_INV_CPU, p->inj_cr2, 0, 0, 0, 0, p->what);
	}
	p->inj_vector = -1;
}

void rp_cpu_decision(struct rp *p, const struct svt_trace_decision *d)
{
	p->inj_vector = -1;
	if (d->input == SVT_TRACE_FAULT && d->outcome == SVT_PF_INJECT) {
		p->inj_vector = 14;
		p->inj_ec = d->error_code;
		p->inj_cr2 = d->cr2;
	} else if (d->input != SVT_TRACE_FAULT && d->rc == SVT_E_GP) {
		p->inj_vector = 13;
		p->inj_ec = 0;
		p->inj_cr2 = 0;
	} else {
		return;
	}
	p->inj_seq = p->pending_seq;
}

/* An injected exception: RF, and the decided one if one was asked for. */
static void inject(struct rp *p, const struct svt_trace_cpu *c)
{
	if (fault_class(c->vector) && !(c->rflags & RFLAGS_RF)) {
		snprintf(p->what, sizeof(p->what),
			 "%s delivered with RFLAGS %#" PRIx64 ": RF clear; a fault pushes RFLAGS "
			 "with RF set (SDM Vol. 3A 18.3.1.1)", vector_names[c->vector], c->rflags);
		rp_violation(p, SVT_INV_CPU, c->cr2, 0, 0, 0, 0, p->what);
	}
	if (p->inj_vector < 0)
		return;         /* decided outside the core: only its form is judged */
	if (c->vector == 8) {
		/* a double fault in its place: whether the SDM's rule applies
		 * depends on the event being delivered, which no record holds */
		p->inj_vector = -1;
		return;
	}
	uint32_t ec = c->has_ec ? c->error_code : 0;
	if (c->vector != (unsigned)p->inj_vector || ec != p->inj_ec || c->cr2 != p->inj_cr2 ||
	    !c->has_ec) {
		snprintf(p->what, sizeof(p->what), "the decision for event %" PRIu64 " asks for %s "
			 "(error code %#x, CR2 %#" PRIx64 "); delivered: %s (error code %s%#x, "
			 "CR2 %#" PRIx64 ")", p->inj_seq, vector_names[p->inj_vector], p->inj_ec,
			 p->inj_cr2, vector_names[c->vector], c->has_ec ? "" : "none, ",
			 ec, c->cr2);
		rp_violation(p, SVT_INV_CPU, p->inj_cr2, 0, 0, 0, 0, p->what);
	}
	p->inj_vector = -1;
}

/* CPUID: the bits that mirror CR4, and the CR4 features enumerated. */
static const struct {
	uint32_t leaf;
	uint8_t reg, bit, cr4;
	const char *name;
} cr4_features[] = {
	{ 7, 2, 2, 11, "UMIP" }, { 7, 2, 16, 12, "LA57" }, { 1, 2, 6, 14, "SMX" },
	{ 7, 1, 0, 16, "FSGSBASE" }, { 1, 2, 17, 17, "PCID" }, { 1, 2, 26, 18, "XSAVE" },
	{ 7, 2, 23, 19, "KL" }, { 7, 1, 7, 20, "SMEP" }, { 7, 1, 20, 21, "SMAP" },
	{ 7, 2, 3, 22, "PKU" }, { 7, 2, 31, 24, "PKS" },
};
static const char *const reg_names[4] = { "EAX", "EBX", "ECX", "EDX" };

static void cpuid_bad(struct rp *p, const struct svt_trace_cpu *c, unsigned reg, unsigned bit,
		      const char *what)
{
	snprintf(p->what, sizeof(p->what), "CPUID.%#" PRIx32 "%s:%s[%u] is %u: %s",
		 c->leaf, c->leaf == 7 ? ".0" : "", reg_names[reg], bit, (c->out[reg] >> bit) & 1,
		 what);
	rp_violation(p, SVT_INV_CPU, 0, 0, 0, c->out[reg], 0, p->what);
}

static void cpuid(struct rp *p, const struct svt_trace_cpu *c)
{
	uint64_t cr4 = p->crm.cr4;
	char what[120];

	if (c->leaf == 1 && ((c->out[2] >> 27) & 1) != ((cr4 >> 18) & 1)) {
		snprintf(what, sizeof(what), "OSXSAVE must be CR4.OSXSAVE, which is %u",
			 (unsigned)((cr4 >> 18) & 1));
		cpuid_bad(p, c, 2, 27, what);
	}
	if (c->leaf == 7 && c->subleaf == 0 && ((c->out[2] >> 4) & 1) != ((cr4 >> 22) & 1)) {
		snprintf(what, sizeof(what), "OSPKE must be CR4.PKE, which is %u",
			 (unsigned)((cr4 >> 22) & 1));
		cpuid_bad(p, c, 2, 4, what);
	}
	if (!(p->h->features & SVT_FEAT_CR4_KNOWN) || (c->leaf == 7 && c->subleaf != 0))
		return;
	for (size_t i = 0; i < sizeof(cr4_features) / sizeof(cr4_features[0]); i++) {
		if (cr4_features[i].leaf != c->leaf)
			continue;
		unsigned has = (c->out[cr4_features[i].reg] >> cr4_features[i].bit) & 1;
		unsigned may = (unsigned)((p->crm.cr4_have >> cr4_features[i].cr4) & 1);
		if (has == may)
			continue;
		snprintf(what, sizeof(what),
			 "%s %s, but the CPU %s CR4 bit %u (the trace's header)",
			 cr4_features[i].name, has ? "enumerated" : "hidden",
			 may ? "accepts" : "refuses", cr4_features[i].cr4);
		cpuid_bad(p, c, cr4_features[i].reg, cr4_features[i].bit, what);
	}
	/* CET: CR4.CET exists with shadow stacks (ECX[7]) or indirect-branch tracking (EDX[20]) */
	if (c->leaf == 7) {
		unsigned has = ((c->out[2] >> 7) | (c->out[3] >> 20)) & 1;
		unsigned may = (unsigned)((p->crm.cr4_have >> 23) & 1);
		if (has != may) {
			snprintf(what, sizeof(what),
				 "CET %s, but the CPU %s CR4 bit 23 (the trace's header)",
				 has ? "enumerated" : "hidden", may ? "accepts" : "refuses");
			cpuid_bad(p, c, has && !((c->out[2] >> 7) & 1) ? 3 : 2,
				  has && !((c->out[2] >> 7) & 1) ? 20 : 7, what);
		}
	}
}

void rp_cpu_record(struct rp *p, const struct svt_trace_cpu *c)
{
	if (!cpu_checking(p)) {
		p->inj_vector = -1;
		return;
	}
	if (c->kind == SVT_CPU_CPUID)
		cpuid(p, c);
	else
		inject(p, c);
}
