/*
 * synth-implicit.c — the "implicit" workload (synth.h): implicit
 * supervisor-mode accesses under SMAP (SDM Vol. 3A 4.6), the ones the
 * hardware's #PF does not tell from explicit ones.
 *
 * A kernel that puts a system data structure in a user page (a guest bug,
 * or an attack: an IDT or GDT the user can write) and reads it as the CPU
 * does: the IDT gate read while an event is delivered, the descriptor read
 * of MOV DS, AX from a GDT there, at CPL 0 and 3, RFLAGS.AC 0 and 1; and
 * next to them explicit reads of the same pages: the memory operand of
 * MOV DS, [rDI] (an instruction with both kinds of access; the tables
 * elsewhere, not given, or the GDT on the operand's page), a plain read.
 * The exit gives the core what a hypervisor gives (FAULT's in_delivery,
 * the descriptor tables, the instruction and registers: traces/FORMAT.md
 * 1.5), except in one shape in which an implicit read comes with nothing
 * said about it, as from a hypervisor older than that (the core can tell
 * it only by the same fault coming again at once).  The hardware
 * (synth-hw.c, syn_read_as) decides each access itself, knowing which kind
 * it makes: SMAP (CR4.SMAP, on in three rounds of four) refuses an
 * implicit access to a user page whatever AC says, an explicit one at CPL
 * 0 only with AC=0.  Every outcome is checked against that: a #PF with the
 * error code bare metal gives (P; U/S clear for an implicit access at CPL
 * 3 too) at CR2 the address, or none; and the leaf's A bit, cleared and
 * flushed first in half the accesses: a walk that faults sets none, one
 * that goes through sets it (not checked where no evidence came: the core
 * cannot know the access was implicit before it repeats, docs/core.md
 * "Known limitations").  In one round of four, instead: a CR0.WP=0 window
 * with SMAP off in which the CPU sets a descriptor's accessed bit (an
 * implicit write, no instruction) in a GDT on a read-only user page,
 * closed by CR0.WP=1 or CR4.SMAP on, and a kernel access there that must
 * then fault; or the CPU's write to the top-level page table (a table on
 * its own walk).  These accesses are no GUEST record's: the workload's
 * traces log no actions.
 */
#include <stdio.h>
#include <string.h>

#include "emul.h"
#include "synth.h"

#define E_P             SVT_PTE_P
#define E_US            SVT_PTE_US
#define E_A             SVT_PTE_A
#define E_RW            SVT_PTE_RW
#define E_D             SVT_PTE_D
#define RFLAGS_AC       (1ull << 18)
#define SITE_IMPLICIT   0x1900          /* the kernel's code site */

enum shape {
	DELIVERY,       /* an IDT gate read during event delivery (implicit) */
	SEG_REG,        /* MOV DS, AX: the GDT descriptor read (implicit) */
	SEG_MEM,        /* MOV DS, [rDI]: its operand read (explicit) */
	PLAIN,          /* a read with nothing said (explicit) */
	BARE,           /* an IDT gate read with nothing said (implicit) */
	NSHAPES
};
static const char *const shape_names[NSHAPES] = {
	"an IDT read during event delivery", "the descriptor read of MOV DS, AX",
	"the operand read of MOV DS, [rDI]", "a plain read",
	"an IDT read the exit says nothing of",
};


/* The tables as the exit gives them: the one the access reads (table t)
 * at the user page's base, the others in the kernel's direct map. */
static void tables(const struct syn *s, struct svt_dtables *dt, int t, uint64_t page)
{
	memset(dt, 0, sizeof(*dt));
	dt->base[SVT_DT_GDT] = syn_kva(s, 0x1000);
	dt->limit[SVT_DT_GDT] = 0xfff;
	dt->usable[SVT_DT_GDT] = true;
	dt->base[SVT_DT_IDT] = syn_kva(s, 0x2000);
	dt->limit[SVT_DT_IDT] = 0xfff;
	dt->usable[SVT_DT_IDT] = true;
	dt->base[SVT_DT_TSS] = syn_kva(s, 0x3000);
	dt->limit[SVT_DT_TSS] = 0x67;
	dt->usable[SVT_DT_TSS] = true;
	if (t >= 0)
		dt->base[t] = page;
}

/* One read of va (leaf at gpa pte) in shape sh at cpl, checked. */
static void one(struct syn *s, uint64_t va, uint64_t pte, enum shape sh, unsigned cpl)
{
	uint64_t page = va & ~0xfffull;
	struct svt_dtables dt;
	struct syn_read a = { .va = va, .cpl = cpl };

	switch (sh) {
	case DELIVERY:
		a.implicit = true;
		a.in_delivery = true;
		tables(s, &dt, SVT_DT_IDT, page);
		a.dt = &dt;
		break;
	case SEG_REG:
		a.implicit = true;
		tables(s, &dt, SVT_DT_GDT, page);
		a.dt = &dt;
		a.regs.gpr[SVT_EMU_RAX] = va & 0xff8;   /* the selector: GDT, RPL 0 */
		a.insn[0] = 0x8e;                       /* MOV DS, AX */
		a.insn[1] = 0xd8;
		a.insn_len = 2;
		break;
	case SEG_MEM:
		/* the tables elsewhere, not given, or the GDT on the
		 * operand's page (the operand in it: still explicit) */
		switch (syn_below(s, 3)) {
		case 0:
			tables(s, &dt, -1, page);
			a.dt = &dt;
			break;
		case 1:
			tables(s, &dt, SVT_DT_GDT, page);
			a.dt = &dt;
			break;
		default:
			break;
		}
		a.regs.gpr[SVT_EMU_RDI] = va;
		a.insn[0] = 0x8e;                       /* MOV DS, [rDI] */
		a.insn[1] = 0x1f;
		a.insn_len = 2;
		break;
	case PLAIN:
		break;
	case BARE:
		a.implicit = true;
		break;
	default:
		return;
	}
	bool clear_a = syn_below(s, 2);
	if (clear_a) {
		/* page aging: A cleared, flushed */
		uint64_t e = syn_read_entry(s, pte);
		if (!syn_write_entry(s, pte, e & ~E_A))
			return;
		syn_invlpg(s, va);
		if (s->failed)
			return;
	}
	/* bare metal: SMAP refuses a supervisor access (any implicit one, an
	 * explicit one below CPL 3) to a user page unless it is explicit and
	 * RFLAGS.AC = 1 */
	bool sv = a.implicit || cpl < 3;
	bool smap = (s->cr4 & SVT_CR4_SMAP) && sv && (a.implicit || !(s->rflags & RFLAGS_AC));
	uint32_t want = smap ? SVT_PFEC_P | (sv ? 0 : SVT_PFEC_U) : 0;
	uint32_t ec = 0;
	uint64_t cr2 = 0;
	int r = syn_read_as(s, &a, &ec, &cr2);
	if (r < 0)
		return;
	char acc[200];
	snprintf(acc, sizeof(acc), "%s at %#llx (CPL %u, RFLAGS.AC %u, CR4.SMAP %u)",
		 shape_names[sh], (unsigned long long)va, cpl, (s->rflags & RFLAGS_AC) ? 1 : 0,
		 (s->cr4 & SVT_CR4_SMAP) ? 1 : 0);
	if (r == 0 && want) {
		syn_fail(s, "%s went through; bare metal gives #PF %#x", acc, want);
		return;
	}
	if (r == 1 && !want) {
		syn_fail(s, "%s took #PF %#x at %#llx; bare metal lets it through", acc, ec,
			 (unsigned long long)cr2);
		return;
	}
	if (r == 1 && (ec != want || cr2 != va)) {
		syn_fail(s, "%s: #PF %#x at %#llx; bare metal gives #PF %#x at %#llx", acc, ec,
			 (unsigned long long)cr2, want, (unsigned long long)va);
		return;
	}
	uint64_t e = syn_read_entry(s, pte);
	if (r == 0 && !(e & E_A))
		syn_fail(s, "%s went through, but its leaf at %#llx is %#llx (bare metal: A set)",
			 acc, (unsigned long long)pte, (unsigned long long)e);
	else if (r == 1 && clear_a && sh != BARE && (e & E_A))
		syn_fail(s, "%s faulted, but its leaf at %#llx is %#llx: A set, which bare metal's "
			 "walk that faults does not", acc, (unsigned long long)pte,
			 (unsigned long long)e);
}

/* A probe bare metal refuses: #PF want at va. */
static void refused(struct syn *s, uint64_t va, enum svt_access_kind k, uint32_t want,
		    const char *what)
{
	uint32_t ec = 0;
	uint64_t cr2 = 0;
	int r = syn_access(s, va, k, 0, 4, 0x5a5a5a5a, syn_ktext(s, SITE_IMPLICIT), &ec, &cr2);
	if (r == 0)
		syn_fail(s, "%s at %#llx went through; bare metal gives #PF %#x", what,
			 (unsigned long long)va, want);
	else if (r == 1 && (ec != want || cr2 != va))
		syn_fail(s, "%s at %#llx: #PF %#x at %#llx; bare metal gives #PF %#x", what,
			 (unsigned long long)va, ec, (unsigned long long)cr2, want);
}

/*
 * CR0.WP=0 with SMAP off: the CPU sets a descriptor's accessed bit (an
 * implicit write, no instruction) in a GDT on a read-only user page, which
 * bare metal lets through (a supervisor write to a read-only page under
 * CR0.WP=0, SDM Vol. 3A 4.6), A and D set in the leaf; then the window
 * closes, by CR0.WP=1 (a kernel write there must fault, P|W) or by
 * CR4.SMAP on (a kernel read with AC=0 must fault, P), whatever the core
 * did to let the CPU's write through.
 */
static void wp0(struct syn *s, uint64_t va, uint64_t pte)
{
	uint64_t e = syn_read_entry(s, pte);
	if ((e & (E_P | E_US | E_RW)) != (E_P | E_US | E_RW))
		return;
	if ((s->cr4 & SVT_CR4_SMAP) && syn_cr(s, SVT_TRACE_CR4, s->cr4 & ~SVT_CR4_SMAP) != 0)
		return;
	if (!syn_write_entry(s, pte, e & ~E_RW))
		return;
	syn_invlpg(s, va);
	if (s->failed || syn_cr(s, SVT_TRACE_CR0, s->cr0 & ~SVT_CR0_WP) != 0)
		return;
	struct svt_dtables dt;
	tables(s, &dt, SVT_DT_GDT, va & ~0xfffull);
	struct syn_read a = { .va = (va & ~7ull) + 5, .cpl = 0, .implicit = true, .dt = &dt };
	uint32_t ec = 0;
	uint64_t cr2 = 0;
	int r = syn_write_as(s, &a, 1, 0x93, &ec, &cr2);       /* a data segment, accessed */
	if (r == 1)
		syn_fail(s, "with CR0.WP=0 the CPU's write of a descriptor's accessed bit at %#llx "
			 "(read-only user page, SMAP off) took #PF %#x; bare metal lets it through",
			 (unsigned long long)a.va, ec);
	if (s->failed)
		return;
	e = syn_read_entry(s, pte);
	if ((e & (E_A | E_D)) != (E_A | E_D))
		syn_fail(s, "the CPU's write at %#llx went through, but its leaf at %#llx is %#llx "
			 "(bare metal: A and D set)", (unsigned long long)a.va,
			 (unsigned long long)pte, (unsigned long long)e);
	else if (syn_below(s, 2)) {
		if (syn_cr(s, SVT_TRACE_CR0, s->cr0 | SVT_CR0_WP) == 0)
			refused(s, va, SVT_ACC_WRITE, SVT_PFEC_P | SVT_PFEC_W,
				"with CR0.WP=1 again, a kernel write to read-only");
	} else if (syn_cr(s, SVT_TRACE_CR4, s->cr4 | SVT_CR4_SMAP) == 0) {
		refused(s, va, SVT_ACC_READ, SVT_PFEC_P,
			"with CR4.SMAP on, a kernel read (RFLAGS.AC=0) of user");
	}
	if (!s->failed && !(s->cr0 & SVT_CR0_WP))
		syn_cr(s, SVT_TRACE_CR0, s->cr0 | SVT_CR0_WP);
	if (!s->failed && syn_write_entry(s, pte, syn_read_entry(s, pte) | E_RW))
		syn_invlpg(s, va);
}

/*
 * The CPU's write (no instruction) to the top-level page table itself,
 * through the direct map (a GDT put there, a descriptor's accessed bit: a
 * zero byte of an unused entry written with zero): a table on the write's
 * own walk, which the core cannot emulate and must let the hardware
 * perform.  Bare metal performs it; the entry must still be 0 after.
 * Not in PAE paging, whose top level is the PDPTE registers.
 */
static void own_table(struct syn *s)
{
	if (s->levels == 3)
		return;
	uint64_t root = s->cr3 & syn_frame_mask(s);
	unsigned n = syn_nent(s, s->levels), idx = (unsigned)syn_below(s, n), k;
	for (k = 0; k < n && syn_read_entry(s, root + ((idx + k) % n) * s->esize) != 0; k++)
		;
	if (k == n)
		return;
	uint64_t gpa = root + ((idx + k) % n) * s->esize;
	struct svt_dtables dt;
	tables(s, &dt, SVT_DT_GDT, syn_kva(s, root));
	struct syn_read a = { .va = syn_kva(s, gpa), .cpl = 0, .implicit = true, .dt = &dt };
	uint32_t ec = 0;
	uint64_t cr2 = 0;
	if (syn_write_as(s, &a, 1, 0, &ec, &cr2) == 1)
		syn_fail(s, "the CPU's write at %#llx, in the top-level page table, took #PF %#x; "
			 "bare metal lets it through", (unsigned long long)a.va, ec);
	else if (!s->failed && syn_read_entry(s, gpa) != 0)
		syn_fail(s, "the CPU wrote 0 at %#llx, yet the entry holds %#llx",
			 (unsigned long long)a.va, (unsigned long long)syn_read_entry(s, gpa));
}

void syn_w_implicit(struct syn *s)
{
	unsigned n = 2 + (unsigned)syn_below(s, 3);
	int p;
	int i = syn_fresh_mapping(s, &p, n);
	if (i < 0)
		return;
	bool smap = syn_below(s, 4) != 0;
	uint64_t cr4 = smap ? s->cr4 | SVT_CR4_SMAP : s->cr4 & ~SVT_CR4_SMAP;
	if (cr4 != s->cr4 && syn_cr(s, SVT_TRACE_CR4, cr4) != 0)
		return;
	const struct syn_vma *m = &s->proc[p].vma[i];
	if (syn_below(s, 4) == 0) {
		uint64_t va = m->va + syn_below(s, n) * 4096 + 8 * syn_below(s, 512);
		uint64_t pte = syn_pte(s, s->proc[p].root, va, false);
		if (syn_below(s, 2))
			own_table(s);
		else if (pte)
			wp0(s, va, pte);
		return;
	}
	for (unsigned t = 0; t < 4 * n && !s->failed; t++) {
		uint64_t va = m->va + syn_below(s, n) * 4096 + 8 * syn_below(s, 512);
		uint64_t pte = syn_pte(s, s->proc[p].root, va, false);
		uint64_t e = pte ? syn_read_entry(s, pte) : 0;
		if ((e & (E_P | E_US)) != (E_P | E_US))
			continue;
		if (syn_below(s, 2))
			s->rflags |= RFLAGS_AC;         /* STAC */
		unsigned cpl = syn_below(s, 4) ? 0 : 3;
		one(s, va, pte, (enum shape)syn_below(s, NSHAPES), cpl);
		s->rflags &= ~RFLAGS_AC;                /* CLAC */
	}
}
