/*
 * exit.c — the VM-exit loop: each exit is handed to the shadow MMU core
 * (or handled here: CPUID, HLT, the power-off ports) and its answer
 * applied: re-run, inject #PF with CR2, or an emulated write with the
 * registers and RIP advanced.
 */
#include "hv.h"
#include "hvrec.h"

enum {
	EXIT_REASON = 0x4402, EXIT_INTR = 0x4404, EXIT_INTR_EC = 0x4406, EXIT_ILEN = 0x440c,
	EXIT_QUAL = 0x6400, EXIT_INSN_INFO = 0x440e, INSN_ERROR = 0x4400, IDT_INFO = 0x4408,
	IDT_EC = 0x440a, ENTRY_ILEN = 0x401a, PROC_CTLS_F = 0x4002, ENTRY_INTR = 0x4016,
	ENTRY_EC = 0x4018,
	G_RIP = 0x681e, G_RSP = 0x681c, G_RFLAGS = 0x6820, G_CS_AR = 0x4816, G_SS_AR = 0x4818,
	G_ES_BASE = 0x6806, G_INTR_STATE = 0x4824, G_ACTIVITY = 0x4826,
	G_LDTR_LIM = 0x480c, G_TR_LIM = 0x480e, G_GDTR_LIM = 0x4810, G_IDTR_LIM = 0x4812,
	G_LDTR_BASE = 0x6812, G_TR_BASE = 0x6814, G_GDTR_BASE = 0x6816, G_IDTR_BASE = 0x6818,
	G_LDTR_AR = 0x4820, G_TR_AR = 0x4822,
};

#define RFLAGS_RF       (1ull << 16)
#define CR4_PKE         (1ull << 22)

enum {
	R_EXCEPTION = 0, R_EXTINT = 1, R_TRIPLE = 2, R_CPUID = 10, R_HLT = 12, R_INVLPG = 14,
	R_CR = 28, R_IO = 30, R_RDMSR = 31, R_WRMSR = 32, R_BAD_GUEST = 33, R_XSETBV = 55,
	R_INVPCID = 58, R_INTR_WINDOW = 7, R_MTF = 37,
};

#define PROC_MTF        (1u << 27)      /* the monitor trap flag (SDM Vol. 3C 25.5.2) */

static struct hv_gprs gprs;
/* The core granted the last fault one step (svt_fault_result.step): the
 * monitor trap flag is set, and the next exit of any kind ends the step;
 * step_rip is where the guest was then. */
static bool step_armed;
static uint64_t step_rip;
bool hv_verbose;                /* log every exit (the hypervisor's command line says "verbose") */
bool hv_strict_memory;          /* "strict-memory" on the command line */
static uint64_t nothing_reads, nothing_writes;  /* pieces read as all ones, writes dropped */
static uint64_t exits[64];
static uint64_t exit_ticks[64];         /* TSC ticks in the hypervisor per exit reason */
/* Two kinds of exit counted apart (`make bench-live` prints ticks per
 * each): #PF exits the core answered with an emulated page-table write
 * (its counter `emulated` grew), and MOV to CR3. */
static uint64_t ptw_exits, ptw_ticks, cr3_exits, cr3_ticks;
enum exit_kind { KIND_OTHER, KIND_PTW, KIND_CR3 };
static enum exit_kind exit_kind;
/* #PF exits by the core's answer (enum svt_pf_outcome) and the access
 * (read, write, fetch), with their ticks: what each kind of fault costs,
 * from one that changes nothing in the shadows (an injection) up
 * (`make bench-live` prints ticks per each). */
#define PF_ANSWERS (SVT_PF_RETRY + 1)
static const char *const pf_answer[PF_ANSWERS] = {
	[SVT_PF_FIXED] = "fixed", [SVT_PF_INJECT] = "inject", [SVT_PF_EMULATED] = "emulated",
	[SVT_PF_MMIO] = "mmio", [SVT_PF_RETRY] = "retry",
};
static const char *const pf_access[3] = { "read", "write", "fetch" };
static uint64_t pf_exits[PF_ANSWERS][3], pf_ticks[PF_ANSWERS][3];
static int pf_cell = -1;                /* this exit's: answer * 3 + access, or -1 */

#define rdtsc hv_rdtsc
uint64_t hv_prof[PROF_N];
#ifdef SVT_HV_PROF
static const uint64_t *hv_prof2;        /* the core's profile, svt_mmu_prof() */
#endif
static uint64_t phase_prof[PROF_N];
#ifdef SVT_HV_PROF
/* Per kind of exit (0 #PF, 1 CR3 load, 2 the rest, then #PF exits again
 * by answer and access, pf_cell), printed at the end: the parts of
 * hv_prof[], then ticks and exits; the core's parts.  A guest that marks
 * no phases still shows where each kind's ticks go. */
#define KPROF_KINDS (3 + PF_ANSWERS * 3)
static uint64_t kprof[KPROF_KINDS][PROF_N + 2], kprof2[KPROF_KINDS][SVT_PROF_N];

/* One exit of kind kk: the parts since k0 (hv_prof[]) and c0 (the core's), dt ticks. */
static void kprof_add(unsigned kk, const uint64_t *k0, const uint64_t *c0, uint64_t dt)
{
	for (int i = 0; i < PROF_N; i++)
		kprof[kk][i] += hv_prof[i] - k0[i];
	for (int i = 0; i < SVT_PROF_N; i++)
		kprof2[kk][i] += hv_prof2[i] - c0[i];
	kprof[kk][PROF_N] += dt;
	kprof[kk][PROF_N + 1]++;
}
#endif
static const char *const pname[PROF_N] = { "fetch", "core", "read", "emit", "stream", "sync" };

/* Past the instruction that exited; as it completed, any blocking by
 * STI or MOV SS it was under ends (SDM Vol. 3C, 27.3.1.5 says why), and
 * so does RFLAGS.RF (the CPU clears it when an instruction completes,
 * SDM Vol. 3A 18.3.1.1: set by a fault the instruction took before, it
 * must not hide the next instruction's breakpoint). */
static void advance(void)
{
	hv_vmwrite(G_RIP, hv_vmread(G_RIP) + hv_vmread(EXIT_ILEN));
	uint64_t is = hv_vmread(G_INTR_STATE);
	if (is & 3)
		hv_vmwrite(G_INTR_STATE, is & ~3ull);
	uint64_t fl = hv_vmread(G_RFLAGS);
	if (fl & RFLAGS_RF)
		hv_vmwrite(G_RFLAGS, fl & ~RFLAGS_RF);
}

/*
 * Inject a fault-class hardware exception with its error code.  The CPU
 * sets RFLAGS.RF in the RFLAGS image it pushes for a fault (SDM Vol. 3A
 * 18.3.1.1; code breakpoints and #DB excepted), so that the return to the
 * faulting instruction skips its instruction breakpoints; an injected
 * event pushes the guest's RFLAGS as the VMCS holds it, so RF is set
 * there first (KVM does the same for every fault it injects).
 */
static void inject_fault(unsigned vector, uint32_t ec)
{
	hv_vmwrite(ENTRY_INTR, 0x80000b00u | vector);   /* valid, hardware exception, error code */
	hv_vmwrite(ENTRY_EC, ec);
	if (HV_BROKEN != 2)
		hv_vmwrite(G_RFLAGS, hv_vmread(G_RFLAGS) | RFLAGS_RF);
}

static void inject_gp(void)
{
	inject_fault(13, 0);
}

static void inject_pf(uint32_t ec, uint64_t cr2)
{
	inject_fault(14, ec);
	__asm__ volatile("mov %0, %%cr2" :: "r"(cr2));
}

static bool marked;
static void log_phase(void);

static __attribute__((noreturn)) void finish(const char *why, int code)
{
	if (marked)
		log_phase();
	/* what sending the trace's end costs: after the guest's own count
	 * of its run (glib.h's bench_ticks()), `make bench-live` adds it */
	uint64_t t = rdtsc();
	hvrec_end(why);
	t = rdtsc() - t;
	hv_printf("hv: %s (%lu events recorded)\n", why, hvrec_events());
	hv_printf("hv: the trace's end sent in %lu ticks\n", t);
	if (nothing_reads || nothing_writes)
		hv_printf("hv: memory with nothing behind it: %lu reads gave all ones, %lu writes "
			  "dropped\n", nothing_reads, nothing_writes);
	hv_vmx_log_pat();
	hv_printf("hv: exits:");
	for (int i = 0; i < 64; i++)
		if (exits[i])
			hv_printf(" %d=%lu", i, exits[i]);
	hv_printf("\n");
	/* TSC ticks from each exit to the next VM entry, per exit reason
	 * (under Bochs, instructions: see `make bench-live`) */
	hv_printf("hv: exit ticks:");
	for (int i = 0; i < 64; i++)
		if (exits[i])
			hv_printf(" %d=%lu", i, exit_ticks[i]);
	hv_printf("\n");
	hv_printf("hv: page-table writes emulated: %lu exits, %lu ticks; CR3 loads: %lu exits, "
		  "%lu ticks\n", ptw_exits, ptw_ticks, cr3_exits, cr3_ticks);
	hv_printf("hv: #PF exits by answer (exits, ticks):");
	for (int a = 0; a < PF_ANSWERS; a++)
		for (int k = 0; k < 3; k++)
			if (pf_exits[a][k])
				hv_printf(" %s.%s %lu %lu;", pf_answer[a], pf_access[k],
					  pf_exits[a][k], pf_ticks[a][k]);
	hv_printf("\n");
	hvrec_prof(hv_prof);
	hv_printf("hv: profile:");
	for (int i = 0; i < PROF_N; i++)
		hv_printf(" %s=%lu", pname[i], hv_prof[i]);
#ifdef SVT_HV_PROF
	hv_printf("; core:");
	for (int i = 0; i < SVT_PROF_N; i++)
		hv_printf(" %d=%lu", i, hv_prof2[i]);
#endif
	hv_printf("\n");
#ifdef SVT_HV_PROF
	for (int k = 0; k < KPROF_KINDS; k++) {
		uint64_t n = kprof[k][PROF_N + 1] ? kprof[k][PROF_N + 1] : 1;
		if (k >= 3 && kprof[k][PROF_N + 1] == 0)
			continue;
		if (k < 3)
			hv_printf("hv: kind %s: %lu exits, %lu/exit;",
				  k == 0 ? "pf" : k == 1 ? "cr3" : "other", kprof[k][PROF_N + 1],
				  kprof[k][PROF_N] / n);
		else
			hv_printf("hv: kind pf %s.%s: %lu exits, %lu/exit;",
				  pf_answer[(k - 3) / 3], pf_access[(k - 3) % 3],
				  kprof[k][PROF_N + 1], kprof[k][PROF_N] / n);
		for (int i = 0; i < PROF_N; i++)
			hv_printf(" %s=%lu", pname[i], kprof[k][i] / n);
		hv_printf("; core:");
		for (int i = 0; i < SVT_PROF_N; i++)
			hv_printf(" %d=%lu", i, kprof2[k][i] / n);
		hv_printf("\n");
	}
#endif
	hv_poweroff(code);
}

static int code_bits(void)
{
	uint64_t ar = hv_vmread(G_CS_AR);
	if (ar & (1u << 13))
		return 64;
	return (ar & (1u << 14)) ? 32 : 16;
}

/* Read the faulting instruction through the guest's own translation. */
static unsigned fetch_insn(struct svt_mmu *mmu, const struct svt_env *env, uint64_t la,
			   uint8_t *buf)
{
	struct svt_regs r = *svt_mmu_guest_regs(mmu);
	unsigned n = 0;
	while (n < 15) {
		struct svt_access acc = { .va = la + n, .kind = SVT_ACC_FETCH, .cpl = 0 };
		struct svt_walk w;
		uint64_t gpa = la + n;
		if (r.cr0 & SVT_CR0_PG) {
			if (svt_walk(env, &r, &acc, 0, &w) != SVT_WALK_OK)
				break;
			gpa = w.gpa;
		}
		unsigned chunk = 4096 - (unsigned)(gpa & 0xfff);
		if (chunk > 15 - n)
			chunk = 15 - n;
		if (env->read_gpa(env->ctx, gpa, buf + n, chunk) != 0)
			break;
		n += chunk;
	}
	return n;
}

static bool wants_regs;         /* the core asked for the registers with the next write fault */

/*
 * The guest's PKRU.  VM exits do not switch PKRU, so after an exit the
 * register still holds the guest's value; RDPKRU needs CR4.PKE, which the
 * hypervisor's own CR4 leaves clear (its pages would otherwise be checked
 * against the guest's keys), so PKE is set around the one instruction.
 * Only a guest with CR4.PKE = 1 has keys that matter (the core accepts
 * that bit only where the CPU has PKU).
 */
static uint32_t guest_pkru(const struct svt_regs *g)
{
	if (!(g->cr4 & CR4_PKE))
		return 0;
	uint64_t cr4;
	uint32_t a, d;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" :: "r"(cr4 | CR4_PKE));
	__asm__ volatile(".byte 0x0f, 0x01, 0xee" : "=a"(a), "=d"(d) : "c"(0));     /* RDPKRU */
	__asm__ volatile("mov %0, %%cr4" :: "r"(cr4));
	return a;
}

/*
 * An access the core found to have nothing behind it (SVT_PF_MMIO: not
 * guest RAM, not a device passed through; the hypervisor's own memory is
 * such a place for the guest).  Bare metal reads all ones there and drops
 * the write, and so does mmio.c, with the instruction's registers; the
 * core's decision is already in the trace.  With "strict-memory", or for an
 * access the hypervisor cannot complete (a fetch, an event's delivery, an
 * instruction mmio.c does not do), the guest is stopped.
 */
static void nothing_there(struct svt_mmu *mmu, const struct svt_env *env, struct svt_fault *f,
			  struct svt_emu_regs *regs, uint8_t *insn, uint64_t gpa, bool in_delivery)
{
	uint64_t rip = hv_vmread(G_RIP);
	const char *why = NULL;

	if (hv_strict_memory) {
		hv_printf("hv: access to gpa %#lx at rip %#lx\n", gpa, rip);
		finish("the guest touched memory outside its RAM: stopped", 4);
	}
	if (!f->regs) {                 /* a read, or a user-mode write: take them now */
		for (int i = 0; i < 16; i++)
			regs->gpr[i] = gprs.gpr[i];
		regs->gpr[4] = hv_vmread(G_RSP);
		regs->rip = rip;
		regs->rflags = f->rflags;
		for (int s = 0; s < 6; s++)
			regs->seg_base[s] = hv_vmread(G_ES_BASE + 2 * (uint64_t)s);
		f->insn_len = in_delivery ? 0 : fetch_insn(mmu, env, regs->seg_base[1] + rip, insn);
	}
	uint64_t ip = regs->seg_base[1] + rip;
	struct hv_mmio_result mr = { 0 };
	enum hv_mmio_rc rc = HV_MMIO_UNHANDLED;
	if (in_delivery)
		why = "while delivering an event (the IDT, the TSS or the stack)";
	else if ((f->error_code & SVT_PFEC_I) || (f->va >= ip && f->va - ip < 15))
		why = "by fetching an instruction there";
	else
		rc = hv_mmio(env, svt_mmu_guest_regs(mmu), f->cpl,
			     (f->error_code & SVT_PFEC_W) != 0, regs, f->code_bits, insn,
			     f->insn_len, &mr);
	if (rc == HV_MMIO_UNHANDLED) {
		char bytes[15 * 3 + 1] = "", *p = bytes;
		for (unsigned i = 0; i < f->insn_len; i++, p += 3) {
			p[0] = "0123456789abcdef"[insn[i] >> 4];
			p[1] = "0123456789abcdef"[insn[i] & 15];
			p[2] = i + 1 < f->insn_len ? ' ' : 0;
		}
		hv_printf("hv: access to gpa %#lx at rip %#lx %s; instruction bytes: %s\n",
			  gpa, rip,
			  why ? why : "by an instruction the hypervisor does not emulate there",
			  f->insn_len ? bytes : "(none)");
		finish("the guest touched memory with nothing behind it by an instruction "
		       "not emulated: stopped", 4);
	}
	nothing_reads += mr.reads;
	nothing_writes += mr.writes;
	if (hv_verbose)
		hv_printf("hv: nothing at gpa %#lx: rip %#lx, %u read as ones, %u writes "
			  "dropped%s\n", gpa, rip, mr.reads, mr.writes,
			  rc == HV_MMIO_FAULT ? ", then #PF" : "");
	for (int i = 0; i < 16; i++)
		if (i != 4)
			gprs.gpr[i] = regs->gpr[i];
	hv_vmwrite(G_RSP, regs->gpr[4]);
	if (rc == HV_MMIO_FAULT) {
		hv_vmwrite(G_RFLAGS, regs->rflags);
		inject_pf(mr.error_code, mr.cr2);
		return;
	}
	hv_vmwrite(G_RIP, regs->rip);
	hv_vmwrite(G_RFLAGS, regs->rflags & ~RFLAGS_RF);        /* completed: as advance() */
}

static void page_fault(struct svt_mmu *mmu, const struct svt_env *env, bool in_delivery)
{
	struct svt_emu_regs regs;
	uint8_t insn[15];
	uint64_t cr2 = hv_vmread(EXIT_QUAL);
	uint32_t ec = (uint32_t)hv_vmread(EXIT_INTR_EC);
	struct svt_fault f = {
		.va = cr2, .error_code = ec, .cpl = (uint8_t)((hv_vmread(G_SS_AR) >> 5) & 3),
		.rflags = hv_vmread(G_RFLAGS), .code_bits = code_bits(), .insn = insn,
		.pkru = guest_pkru(svt_mmu_guest_regs(mmu)),
	};
	/* Only a write is ever emulated (under any policy), so only a write
	 * comes with the registers and the instruction (a fault while an
	 * event was being delivered, on the IDT or the stack, is not the
	 * instruction's own and is not to be emulated).  A user-mode write
	 * comes without them (guests seldom let user code write their page
	 * tables), unless the core asked for them at the last fault.  A
	 * supervisor access under SMAP with RFLAGS.AC=1 comes with them too,
	 * and with whether an event was being delivered and the descriptor
	 * tables: the core may need them to tell an implicit access. */
	bool smap_ac = !(ec & 4) && (f.rflags & SVT_RFLAGS_AC) &&
		       (svt_mmu_guest_regs(mmu)->cr4 & SVT_CR4_SMAP);
	struct svt_dtables dt;
	if (smap_ac) {
		static const uint32_t base[SVT_DT_COUNT] = { G_GDTR_BASE, G_LDTR_BASE, G_IDTR_BASE,
							     G_TR_BASE };
		static const uint32_t lim[SVT_DT_COUNT] = { G_GDTR_LIM, G_LDTR_LIM, G_IDTR_LIM,
							    G_TR_LIM };
		for (unsigned t = 0; t < SVT_DT_COUNT; t++) {
			dt.base[t] = hv_vmread(base[t]);
			dt.limit[t] = (uint32_t)hv_vmread(lim[t]);
			dt.usable[t] = true;
		}
		/* (AR bit 16: unusable, a null selector) */
		dt.usable[SVT_DT_LDT] = !(hv_vmread(G_LDTR_AR) & 0x10000);
		dt.usable[SVT_DT_TSS] = !(hv_vmread(G_TR_AR) & 0x10000);
		f.in_delivery = in_delivery;
		f.dt = &dt;
	}
	if (((ec & 2) && !(ec & 4)) || wants_regs || smap_ac) {
		for (int i = 0; i < 16; i++)
			regs.gpr[i] = gprs.gpr[i];
		regs.gpr[4] = hv_vmread(G_RSP);
		regs.rip = hv_vmread(G_RIP);
		regs.rflags = f.rflags;
		for (int s = 0; s < 6; s++)
			regs.seg_base[s] = hv_vmread(G_ES_BASE + 2 * (uint64_t)s);
		f.regs = &regs;
		uint64_t t = rdtsc();
		f.insn_len = in_delivery ? 0 :
			     fetch_insn(mmu, env, regs.seg_base[1] + regs.rip, insn);
		hv_prof[PROF_FETCH] += rdtsc() - t;
	}
	struct svt_fault_result res;
	uint64_t emulated = svt_mmu_counters(mmu)->emulated;
	enum svt_pf_outcome o = hvrec_fault(mmu, &f, &res);
	if (svt_mmu_counters(mmu)->emulated != emulated)
		exit_kind = KIND_PTW;
	if ((unsigned)o < PF_ANSWERS)
		pf_cell = (int)o * 3 + ((ec & 0x10) ? 2 : (ec & 2) ? 1 : 0);
	wants_regs = res.wants_regs;
	if (res.step && !step_armed) {
		/* One instruction, or the delivery of the event that faulted
		 * (complete_events() delivers it again at this entry): the
		 * MTF exit comes after it, before the handler's first
		 * instruction where an event is delivered (SDM Vol. 3C
		 * 25.5.2), unless another exit comes first. */
		if (!hv_mtf)
			finish("the guest stopped: the core let a write through for one step, and "
			       "this CPU has no monitor trap flag to end it", 2);
		step_armed = true;
		step_rip = hv_vmread(G_RIP);
		hv_vmwrite(PROC_CTLS_F, hv_vmread(PROC_CTLS_F) | PROC_MTF);
	} else if (step_armed && o != SVT_PF_FIXED && o != SVT_PF_RETRY) {
		/* a fault in the step that the core answered otherwise: it
		 * has ended the step itself (nothing to record) */
		step_armed = false;
		hv_vmwrite(PROC_CTLS_F, hv_vmread(PROC_CTLS_F) & ~(uint64_t)PROC_MTF);
	}
	if (res.stuck) {
		/* Running the guest again would fault the same way for ever:
		 * stop with a verdict, the trace complete up to here. */
		hv_printf("hv: #PF at va %#lx, error code %#x, rip %#lx: retried %u times in a "
			  "row\n", cr2, ec, hv_vmread(G_RIP), SVT_PF_STUCK_AFTER);
		finish("the guest stopped: a page fault the core retried again and again", 2);
	}
	switch (o) {
	case SVT_PF_FIXED:
	case SVT_PF_RETRY:
		break;
	case SVT_PF_EMULATED:
		for (int i = 0; i < 16; i++)
			if (i != 4)
				gprs.gpr[i] = regs.gpr[i];
		hv_vmwrite(G_RSP, regs.gpr[4]);
		hv_vmwrite(G_RIP, regs.rip);
		hv_vmwrite(G_RFLAGS, regs.rflags & ~RFLAGS_RF);        /* completed: as advance() */
		break;
	case SVT_PF_INJECT:
		inject_pf(res.error_code, res.cr2);
		break;
	case SVT_PF_MMIO:
		nothing_there(mmu, env, &f, &regs, insn, res.gpa, in_delivery);
		break;
	}
}

static uint64_t *gpr_of(unsigned n)
{
	return &gprs.gpr[n & 15];
}

static void cr_access(struct svt_mmu *mmu)
{
	uint64_t q = hv_vmread(EXIT_QUAL);
	unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
	const struct svt_regs *g = svt_mmu_guest_regs(mmu);
	uint64_t val = reg == 4 ? hv_vmread(G_RSP) : *gpr_of(reg);
	int rc = 0;

	if (type == 1) {                /* MOV from CR3 (CR0/CR4 reads are shadowed) */
		if (reg == 4)
			hv_vmwrite(G_RSP, g->cr3);
		else
			*gpr_of(reg) = g->cr3;
		advance();
		return;
	}
	/* The mode goes to the core and into the trace (EVIDENCE `mode`):
	 * clearing CR0.PG from 64-bit mode is #GP (SDM Vol. 2B MOV), the
	 * core's rule, judged in replay by the control-register model. */
	bool code64 = code_bits() == 64;
	if (type == 0) {
		if (!code64)
			val &= 0xffffffffu;
		if (cr == 0) {
			rc = hvrec_cr_mode(mmu, 0, val, code64);
		} else if (cr == 3) {
			rc = hvrec_cr_mode(mmu, 1, val, code64);
			exit_kind = KIND_CR3;
		} else if (cr == 4) {
			rc = hvrec_cr_mode(mmu, 2, val, code64);
		}
	} else if (type == 2) {         /* CLTS */
		rc = hvrec_cr_mode(mmu, 0, g->cr0 & ~8ull, code64);
	} else {                        /* LMSW: PE can be set, not cleared; MP, EM, TS */
		uint64_t src = (q >> 16) & 0xf;
		rc = hvrec_cr_mode(mmu, 0, (g->cr0 & ~0xeull) | src | (g->cr0 & 1), code64);
	}
	if (rc == SVT_E_GP)
		inject_gp();
	else
		advance();
	hv_sync_hw(mmu);
}

/* CPUID bits of the optional CR4 features (vmx.c's hv_cr4_features()):
 * hidden where the guest cannot set the CR4 bit. */
static const struct { uint8_t cr4, leaf, reg, bit; } cr4_cpuid[] = {
	{ 11, 7, 2, 2 },        /* UMIP */
	{ 12, 7, 2, 16 },       /* LA57 */
	{ 14, 1, 2, 6 },        /* SMXE: SMX */
	{ 16, 7, 1, 0 },        /* FSGSBASE */
	{ 17, 1, 2, 17 },       /* PCIDE: PCID */
	{ 18, 1, 2, 26 },       /* OSXSAVE: XSAVE */
	{ 19, 7, 2, 23 },       /* KL */
	{ 20, 7, 1, 7 },        /* SMEP */
	{ 21, 7, 1, 20 },       /* SMAP */
	{ 22, 7, 2, 3 },        /* PKE: PKU */
	{ 23, 7, 2, 7 },        /* CET: CET_SS */
	{ 23, 7, 3, 20 },       /* CET: IBT */
	{ 24, 7, 2, 31 },       /* PKS */
};

/*
 * CPUID as the CPU answers, less what the guest cannot use here (VMX,
 * INVPCID and RDTSCP without their controls, the CR4 features not
 * offered), and with the bits that mirror CR4 showing the guest's CR4, not
 * the hypervisor's: CPUID.1:ECX.OSXSAVE[27] (CR4.OSXSAVE) and
 * CPUID.7.0:ECX.OSPKE[4] (CR4.PKE).
 */
static void cpuid(const struct svt_mmu *mmu)
{
	uint32_t leaf = (uint32_t)gprs.gpr[0], sub = (uint32_t)gprs.gpr[1];
	uint32_t r[4] = { leaf, 0, sub, 0 };    /* EAX EBX ECX EDX */
	uint64_t cr4 = svt_mmu_guest_regs(mmu)->cr4;
	__asm__ volatile("cpuid" : "+a"(r[0]), "=b"(r[1]), "+c"(r[2]), "=d"(r[3]));
	if (leaf == 1 || (leaf == 7 && sub == 0))
		for (unsigned i = 0; i < sizeof(cr4_cpuid) / sizeof(cr4_cpuid[0]); i++)
			if (cr4_cpuid[i].leaf == leaf &&
			    !((hv_cr4_offered >> cr4_cpuid[i].cr4) & 1))
				r[cr4_cpuid[i].reg] &= ~(1u << cr4_cpuid[i].bit);
	if (leaf == 1) {
		r[2] &= ~(1u << 5);                     /* no VMX */
		if (HV_BROKEN != 1)
			r[2] = (r[2] & ~(1u << 27)) | ((cr4 & SVT_CR4_OSXSAVE) ? 1u << 27 : 0);
	}
	if (leaf == 7 && sub == 0) {
		if (!hv_invpcid)
			r[1] &= ~(1u << 10);            /* INVPCID would #UD in the guest */
		if (HV_BROKEN != 1)
			r[2] = (r[2] & ~(1u << 4)) | ((cr4 & SVT_CR4_PKE) ? 1u << 4 : 0);
	}
	if (leaf == 0x80000001u && !hv_rdtscp)
		r[3] &= ~(1u << 27);                    /* so would RDTSCP */
	gprs.gpr[0] = r[0];
	gprs.gpr[3] = r[1];
	gprs.gpr[1] = r[2];
	gprs.gpr[2] = r[3];
	struct svt_trace_cpu c = { .kind = SVT_CPU_CPUID, .leaf = leaf, .subleaf = sub,
				   .out = { r[0], r[1], r[2], r[3] } };
	hvrec_cpu(&c);          /* what the guest got (EVIDENCE `cpu`) */
	advance();
}

/* INVPCID (it exits because INVLPG exiting is on): its descriptor is
 * read through the guest's translation; a descriptor the guest cannot
 * read gets the #PF bare metal would give. */
static void invpcid(struct svt_mmu *mmu, const struct svt_env *env)
{
	uint64_t info = hv_vmread(EXIT_INSN_INFO), disp = hv_vmread(EXIT_QUAL);
	unsigned seg = (info >> 15) & 7, asize = (info >> 7) & 7;
	uint64_t la = disp;
	if (!(info & (1u << 22)))
		la += *gpr_of((info >> 18) & 15) << (info & 3);
	if (!(info & (1u << 27)))
		la += ((info >> 23) & 15) == 4 ? hv_vmread(G_RSP) : *gpr_of((info >> 23) & 15);
	if (asize == 1)
		la &= 0xffffffffu;
	else if (asize == 0)
		la &= 0xffffu;
	if (code_bits() != 64 || seg >= 4)
		la += hv_vmread(G_ES_BASE + 2 * (uint64_t)seg);
	if (code_bits() != 64)
		la &= 0xffffffffu;
	uint64_t type = *gpr_of(info >> 28);
	if (code_bits() != 64)
		type &= 0xffffffffu;
	struct svt_regs r = *svt_mmu_guest_regs(mmu);
	uint8_t desc[16];
	for (unsigned n = 0; n < 16;) {
		struct svt_access acc = { .va = la + n, .kind = SVT_ACC_READ, .cpl = 0 };
		struct svt_walk w;
		uint64_t gpa = la + n;
		if (r.cr0 & SVT_CR0_PG) {
			if (svt_walk(env, &r, &acc, 0, &w) != SVT_WALK_OK) {
				inject_pf(w.error_code, w.cr2);
				return;
			}
			gpa = w.gpa;
		}
		unsigned chunk = 4096 - (unsigned)(gpa & 0xfff);
		if (chunk > 16 - n)
			chunk = 16 - n;
		if (env->read_gpa(env->ctx, gpa, desc + n, chunk) != 0) {
			hv_printf("hv: INVPCID descriptor at gpa %#lx outside guest RAM\n", gpa);
			finish("the guest touched memory outside its RAM: stopped", 4);
		}
		n += chunk;
	}
	uint64_t pcid = 0, va = 0;
	for (int i = 7; i >= 0; i--) {
		pcid = pcid << 8 | desc[i];
		va = va << 8 | desc[8 + i];
	}
	if (type > 3 || pcid > 0xfff)   /* reserved bits: #GP before the core sees it */
		inject_gp();
	else if (hvrec_invpcid(mmu, (unsigned)type, pcid, va) == SVT_E_GP)
		inject_gp();
	else
		advance();
	hv_sync_hw(mmu);
}

/* XSETBV for the guest, with the checks bare metal makes (SDM Vol. 2D
 * XSETBV, Vol. 1 13.3; a bad value would #GP the hypervisor itself): CPL 0,
 * XCR0 only, x87 always, AVX only with SSE, AVX-512's three components
 * together and only with AVX, MPX's two together, AMX's two together, only
 * components the CPU has.  (Without CR4.OSXSAVE the CPU raises #UD before
 * the exit: the guest's CR4.OSXSAVE is the hardware's.) */
static void xsetbv(void)
{
	uint32_t a = 0xd, b, c = 0, d;
	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	uint64_t have = (uint64_t)d << 32 | a;
	uint64_t val = (gprs.gpr[2] & 0xffffffffu) << 32 | (gprs.gpr[0] & 0xffffffffu);
	uint64_t avx512 = val & 0xe0, mpx = val & 0x18, amx = val & 0x60000;
	if ((uint32_t)gprs.gpr[1] != 0 || (val & ~have) || !(val & 1) || (val & 6) == 4 ||
	    (avx512 && (avx512 != 0xe0 || (val & 6) != 6)) || (mpx && mpx != 0x18) ||
	    (amx && amx != 0x60000) || ((hv_vmread(G_SS_AR) >> 5) & 3) != 0) {
		inject_gp();
		return;
	}
	__asm__ volatile("xsetbv" :: "c"(0), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)));
	advance();
}

/* The mark port: a line written a byte at a time names the phase that
 * starts; the phase that ends is logged with its exits and ticks. */
static char mark_buf[128];
static unsigned mark_len;
static char phase[128] = "start";
static uint64_t phase_tsc, phase_exits[64], phase_ticks[64];
static uint64_t log_ticks;      /* ticks this exit spent logging a phase: counted in neither */

static void mark_byte(uint8_t c)
{
	if (c != '\n') {
		if (mark_len < sizeof(mark_buf) - 1 && c >= 0x20 && c < 0x7f)
			mark_buf[mark_len++] = (char)c;
		return;
	}
	mark_buf[mark_len] = 0;
	if (!marked)
		phase_tsc = 0;
	marked = true;
	log_phase();
	memcpy(phase, mark_buf, mark_len + 1);
	hvrec_mark(mark_buf, mark_len);
	mark_len = 0;
}

static void log_phase(void)
{
	uint64_t now = rdtsc();
	hvrec_prof(hv_prof);
	hv_printf("hv: phase %s: %lu ticks; exits:", phase, now - phase_tsc);
	for (int i = 0; i < 64; i++)
		if (exits[i] - phase_exits[i])
			hv_printf(" %d=%lu", i, exits[i] - phase_exits[i]);
	hv_printf("; exit ticks:");
	for (int i = 0; i < 64; i++)
		if (exits[i] - phase_exits[i])
			hv_printf(" %d=%lu", i, exit_ticks[i] - phase_ticks[i]);
	hv_printf("; profile:");
	for (int i = 0; i < PROF_N; i++)
		hv_printf(" %s=%lu", pname[i], hv_prof[i] - phase_prof[i]);
#ifdef SVT_HV_PROF
	static uint64_t last2[SVT_PROF_N];
	hv_printf("; core:");
	for (int i = 0; i < SVT_PROF_N; i++)
		hv_printf(" %d=%lu", i, hv_prof2[i] - last2[i]);
	memcpy(last2, hv_prof2, sizeof(last2));
#endif
	hv_printf("\n");
	memcpy(phase_prof, hv_prof, sizeof(hv_prof));
	memcpy(phase_exits, exits, sizeof(exits));
	memcpy(phase_ticks, exit_ticks, sizeof(exit_ticks));
	/* the next phase starts once this line is out (the serial port
	 * is slow): the mark's own cost stays out of both */
	phase_tsc = rdtsc();
	log_ticks += phase_tsc - now;
}

/*
 * I/O to the intercepted ports (vmx.c: the power-off ports).  A write that
 * powers off ends the run: ACPI PM1 control with SLP_EN (bit 13), QEMU's
 * isa-debug-exit, Bochs's 0x8900 "Shutdown" (the last letter, 'n').  Any
 * other access is carried out for the guest, as if not intercepted.
 */
static void io(uint64_t q)
{
	unsigned size = (unsigned)(q & 7) + 1, port = (unsigned)(q >> 16) & 0xffff;
	bool in = (q >> 3) & 1, string = (q >> 4) & 1;
	uint32_t v = (uint32_t)gprs.gpr[0];
	if (string || (q >> 5) & 1) {
		hv_printf("hv: string I/O to port %#x at rip %#lx\n", port, hv_vmread(G_RIP));
		finish("the guest stopped: string I/O to an intercepted port", 2);
	}
	if (port == HV_MARK_PORT) {
		if (!in && size == 1)
			mark_byte((uint8_t)v);
		else if (in)
			gprs.gpr[0] |= (1ull << (8 * size)) - 1;        /* nothing there */
		advance();
		return;
	}
	if (!in) {
		bool off = port == 0xf4 ||
			   ((port == 0xb004 || port == 0x604) && size >= 2 && (v & 0x2000)) ||
			   (port == 0x8900 && (v & 0xff) == 'n');
		if (off) {
			hv_printf("hv: power-off write %#x to port %#x\n", v, port);
			finish("the guest powered off", 0);
		}
		if (size == 1)
			outb((uint16_t)port, (uint8_t)v);
		else if (size == 2)
			outw((uint16_t)port, (uint16_t)v);
		else
			__asm__ volatile("outl %0, %1" :: "a"(v), "Nd"((uint16_t)port));
	} else {
		uint32_t r;
		if (size == 1) {
			r = inb((uint16_t)port);
			gprs.gpr[0] = (gprs.gpr[0] & ~0xffull) | r;
		} else if (size == 2) {
			uint16_t w;
			__asm__ volatile("inw %1, %0" : "=a"(w) : "Nd"((uint16_t)port));
			gprs.gpr[0] = (gprs.gpr[0] & ~0xffffull) | w;
		} else {
			__asm__ volatile("inl %1, %0" : "=a"(r) : "Nd"((uint16_t)port));
			gprs.gpr[0] = r;        /* a 32-bit IN clears the upper half */
		}
	}
	advance();
}

static void msr(struct svt_mmu *mmu, bool write)
{
	uint32_t n = (uint32_t)gprs.gpr[1];
	if (n != 0xc0000080u) {
		inject_gp();
		return;
	}
	if (write) {
		uint64_t v = (gprs.gpr[2] << 32) | (uint32_t)gprs.gpr[0];
		if (hvrec_cr_mode(mmu, 3, v, code_bits() == 64) == SVT_E_GP) {
			inject_gp();
			return;
		}
		hv_sync_hw(mmu);
	} else {
		uint64_t v = svt_mmu_guest_regs(mmu)->efer;
		gprs.gpr[0] = (uint32_t)v;
		gprs.gpr[2] = v >> 32;
	}
	advance();
}

/*
 * Events cut short by a VM exit (the IDT-vectoring information: a #PF on
 * the IDT or the stack while an interrupt was being delivered) are
 * delivered again, or the guest loses them.  When this exit injects a #PF
 * of its own, an external interrupt or NMI is held and delivered once the
 * guest can take it (interrupt-window exiting); an exception becomes #DF
 * where the SDM's double-fault rules say so, and is otherwise dropped (a
 * fault recurs, a software interrupt re-executes).
 */
static uint32_t held;                   /* a held event's IDT-vectoring information */

static bool contributory(unsigned v)
{
	return v == 0 || (v >= 10 && v <= 13);
}

static void window(bool on)
{
	uint64_t c = hv_vmread(PROC_CTLS_F);
	hv_vmwrite(PROC_CTLS_F, on ? c | 4u : c & ~4ull);
}

static void complete_events(uint32_t vec)
{
	uint32_t inj = (uint32_t)hv_vmread(ENTRY_INTR);
	if (vec & 0x80000000u) {
		unsigned type = (vec >> 8) & 7, v = vec & 0xff;
		vec &= ~(1u << 12);
		if (!(inj & 0x80000000u)) {
			hv_vmwrite(ENTRY_INTR, vec);
			if (vec & (1u << 11))
				hv_vmwrite(ENTRY_EC, hv_vmread(IDT_EC));
			if (type == 4 || type == 5 || type == 6)
				hv_vmwrite(ENTRY_ILEN, hv_vmread(EXIT_ILEN));
			return;
		}
		if (type == 0 || type == 2) {
			held = vec;
		} else if (type == 3 && (inj & 0xff) == 14 && (v == 14 || contributory(v))) {
			hv_vmwrite(ENTRY_INTR, 0x80000b08u);    /* #DF, error code 0 */
			hv_vmwrite(ENTRY_EC, 0);
		}
	}
	if (!held)
		return;
	if (hv_vmread(ENTRY_INTR) & 0x80000000u) {     /* this entry delivers another event */
		window(true);
		return;
	}
	bool nmi = ((held >> 8) & 7) == 2;
	if (nmi || ((hv_vmread(G_RFLAGS) & 0x200) && !(hv_vmread(G_INTR_STATE) & 3))) {
		hv_vmwrite(ENTRY_INTR, held);
		held = 0;
		window(false);
	} else {
		window(true);
	}
}

/* The hardware exception this entry delivers, as the guest will get it
 * (EVIDENCE `cpu`): whichever path chose it (the core's decision, the
 * hypervisor's own #GP, a #DF or a re-delivery by complete_events). */
static void log_injection(void)
{
	uint32_t inj = (uint32_t)hv_vmread(ENTRY_INTR);
	if (!(inj & 0x80000000u) || ((inj >> 8) & 7) != 3)
		return;
	struct svt_trace_cpu c = { .kind = SVT_CPU_INJECT, .vector = (uint8_t)(inj & 31),
				   .has_ec = (inj >> 11) & 1, .rflags = hv_vmread(G_RFLAGS) };
	if (c.has_ec)
		c.error_code = (uint32_t)hv_vmread(ENTRY_EC);
	if (c.vector == 14)
		__asm__ volatile("mov %%cr2, %0" : "=r"(c.cr2));
	hvrec_cpu(&c);
}

void hv_vmx_run(const struct hv_guest *g, struct svt_mmu *mmu, const struct svt_env *env)
{
#ifdef SVT_HV_PROF
	hv_prof2 = svt_mmu_prof(mmu);
#endif
	hv_vmx_setup(g);
	/* The guest starts as a Multiboot loader leaves it: protected mode
	 * (CR0.PE, ET), paging off.  The core starts from reset: tell it. */
	if (hvrec_cr(mmu, 0, 0x11) != 0)
		hv_panic("the core refused the Multiboot CR0");
	if (g->is_linux) {
		/* long mode with the loader's page tables, as the 64-bit boot
		 * protocol wants it: the core is told in the order a loader
		 * would write them */
		if (hvrec_cr(mmu, 3, 0x100) != 0 || hvrec_cr(mmu, 2, 0x20) != 0 ||
		    hvrec_cr(mmu, 1, g->linux_cr3) != 0 || hvrec_cr(mmu, 0, 0x80000011u) != 0)
			hv_panic("the core refused long mode for the Linux entry");
		gprs.gpr[6] = g->info;          /* RSI: the zero page */
	} else {
		gprs.gpr[0] = g->magic;
		gprs.gpr[3] = g->info;
	}
	hv_sync_hw(mmu);
	hv_printf("hv: starting the guest at %#x\n", g->entry);
	for (int launched = 0;; launched = 1) {
		int rc = vmx_run(&gprs, launched);
		if (rc != 0)
			hv_panic("VM%s failed (%s), instruction error %lu",
				 launched ? "RESUME" : "LAUNCH",
				 rc == 1 ? "no current VMCS" : "VMfailValid",
				 rc == 2 ? hv_vmread(INSN_ERROR) : (uint64_t)0);
#ifdef SVT_HV_PROF
		uint64_t k0[PROF_N], c0[SVT_PROF_N];
		hvrec_prof(hv_prof);
		memcpy(k0, hv_prof, sizeof(k0));
		memcpy(c0, hv_prof2, sizeof(c0));
#endif
		uint64_t t0 = rdtsc();
		uint32_t reason = (uint32_t)hv_vmread(EXIT_REASON);
		uint32_t vectoring = (uint32_t)hv_vmread(IDT_INFO);
		exits[reason & 63]++;
		if (step_armed && (reason & 0xffff) == R_EXCEPTION &&
		    (hv_vmread(EXIT_INTR) & 0xff) == 14 && hv_vmread(G_RIP) == step_rip) {
			/* A #PF before the MTF exit: the stepped instruction
			 * (or delivery) faulted again, on a second page say.
			 * The step goes on: the fault goes to the core with
			 * it open (svt_fault_result.step), not ended first, so
			 * that two pages do not take the grant from each other
			 * in turn. */
		} else if (step_armed) {
			/* the step ended (the MTF exit, or any exit before it):
			 * the core takes its grant back before anything else */
			step_armed = false;
			hv_vmwrite(PROC_CTLS_F, hv_vmread(PROC_CTLS_F) & ~(uint64_t)PROC_MTF);
			hvrec_step_done(mmu);
			/* Another exit before the MTF exit comes at the stepped
			 * instruction (or event delivery) itself, RIP unmoved.
			 * Elsewhere, the guest ran past the step with the grant
			 * in place: a CPU that offers the control but never
			 * exits for it (Bochs 2.7: docs/hypervisor.md). */
			if ((reason & 0xffff) != R_MTF && hv_vmread(G_RIP) != step_rip) {
				hv_printf("hv: a step granted at rip %#lx ended at exit %u at rip "
					  "%#lx, not at the monitor trap flag's exit\n", step_rip,
					  reason & 0xffff, hv_vmread(G_RIP));
				finish("the guest stopped: the CPU did not end a step with the "
				       "monitor trap flag's exit", 2);
			}
		}
		if (hv_verbose)
			hv_printf("hv: exit %u rip %#lx qual %#lx intr %#lx ec %#lx\n",
				  reason & 0xffff, hv_vmread(G_RIP), hv_vmread(EXIT_QUAL),
				  hv_vmread(EXIT_INTR), hv_vmread(EXIT_INTR_EC));
		if (reason & 0x80000000u) {
			/* the guest's state is one no CPU runs (reason 33) or its
			 * MSR loading failed (34): the guest has crashed */
			hv_printf("hv: VM entry failed, reason %u, qualification %#lx, rip %#lx\n",
				  reason & 0xffff, hv_vmread(EXIT_QUAL), hv_vmread(G_RIP));
			finish("the guest crashed: VM entry failed on its state", 2);
		}
		switch (reason & 0xffff) {
		case R_EXCEPTION:
			if ((hv_vmread(EXIT_INTR) & 0xff) != 14) {
				hv_printf("hv: exception exit %#lx at rip %#lx\n",
					  hv_vmread(EXIT_INTR), hv_vmread(G_RIP));
				finish("the guest crashed: an exception the hypervisor does not "
				       "take", 2);
			}
			page_fault(mmu, env, (vectoring & 0x80000000u) != 0);
			break;
		case R_CR:
			cr_access(mmu);
			break;
		case R_INVLPG:
			hvrec_invlpg(mmu, hv_vmread(EXIT_QUAL));
			hv_sync_hw(mmu);
			advance();
			break;
		case R_CPUID:
			cpuid(mmu);
			break;
		case R_INTR_WINDOW:             /* a held interrupt may go in now */
			break;
		case R_MTF:                     /* a step's end: done above */
			break;
		case R_INVPCID:
			invpcid(mmu, env);
			break;
		case R_RDMSR:
			msr(mmu, false);
			break;
		case R_WRMSR:
			msr(mmu, true);
			break;
		case R_HLT:
			if (!(hv_vmread(G_RFLAGS) & 0x200))
				finish("the guest halted with interrupts off", 0);
			/* The guest sleeps in VMX non-root mode until an
			 * interrupt (they are not intercepted) wakes it. */
			advance();
			if (hv_act_hlt)
				hv_vmwrite(G_ACTIVITY, 1);
			break;
		case R_IO:
			io(hv_vmread(EXIT_QUAL));
			break;
		case R_TRIPLE:
			finish("the guest triple-faulted", 2);
		case R_XSETBV:
			xsetbv();
			break;
		default:
			/* an exit these controls should never cause (or a
			 * guest-crash exit other than a triple fault) */
			hv_printf("hv: unhandled VM exit %u at rip %#lx, qualification %#lx\n",
				  reason & 0xffff, hv_vmread(G_RIP), hv_vmread(EXIT_QUAL));
			finish("the guest stopped: a VM exit the hypervisor does not handle", 2);
		}
		complete_events(vectoring);
		log_injection();
		uint64_t dt = rdtsc() - t0 - log_ticks;
		exit_ticks[reason & 63] += dt;
		if (exit_kind == KIND_PTW) {
			ptw_exits++;
			ptw_ticks += dt;
		} else if (exit_kind == KIND_CR3) {
			cr3_exits++;
			cr3_ticks += dt;
		}
#ifdef SVT_HV_PROF
		{
			hvrec_prof(hv_prof);
			kprof_add(exit_kind == KIND_CR3 ? 1 : (reason & 0xffff) == 0 ? 0 : 2, k0, c0, dt);
			if (pf_cell >= 0)
				kprof_add(3 + (unsigned)pf_cell, k0, c0, dt);
		}
#endif
		if (pf_cell >= 0) {
			pf_exits[pf_cell / 3][pf_cell % 3]++;
			pf_ticks[pf_cell / 3][pf_cell % 3] += dt;
			pf_cell = -1;
		}
		exit_kind = KIND_OTHER;
		log_ticks = 0;
	}
}
