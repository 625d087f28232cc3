/*
 * mmu_implicit.c — was a supervisor access the hardware faulted on an
 * implicit one?  SDM Vol. 3A 4.6: accesses to the system data structures
 * (the GDT or LDT to load a segment descriptor, the IDT to deliver an
 * event, the TSS on a task switch or a change of CPL) are implicit
 * supervisor-mode accesses whatever the CPL, and SMAP forbids them to a
 * user page whatever RFLAGS.AC says; every other access at CPL 0-2 is
 * explicit, and RFLAGS.AC=1 lets it through.  The hardware's error code
 * does not tell the two apart, so where it matters (a supervisor data
 * access at CPL 0-2 under SMAP with AC=1 that only AC allows) the fault
 * handler asks here, with the evidence the caller gave: whether the fault
 * came while an event was delivered, the instruction and its registers,
 * the descriptor tables.  docs/core.md, "Implicit supervisor accesses",
 * states the rule; anything this cannot settle is taken for explicit, as
 * before the rule existed.
 */
#include "mmu_int.h"
#include "emul.h"

/* The explicit accesses an instruction makes: linear ranges [lo, lo + n). */
struct xranges {
	unsigned n;
	struct { uint64_t lo, n; bool write; } r[3];
	bool implicit;          /* it makes implicit accesses too (or only) */
	bool unknown_writes;    /* explicit writes outside r[] (a call gate's new stack) */
};

static void add(struct xranges *x, uint64_t lo, uint64_t n, bool write)
{
	x->r[x->n].lo = lo;
	x->r[x->n].n = n;
	x->r[x->n].write = write;
	x->n++;
}

/* Is va in [lo, lo + n), linear addresses wrapping at mask? */
static bool within(uint64_t va, uint64_t lo, uint64_t n, uint64_t mask)
{
	return ((va - lo) & mask) < n;
}

/*
 * Decode the instruction far enough to know whether it makes implicit
 * accesses, and the linear ranges of its explicit ones.  The stack is at
 * SS.base + rSP, rSP as wide as the code (the caller has no SS.B; a 16-bit
 * stack under 32-bit code, or the reverse, is not told).  Ranges may be
 * wider than the access (a far CALL's pushes: two slots of 8 bytes,
 * whatever the gate's size; IRET's pops: as many as a return to
 * virtual-8086 mode makes): an access in the surplus is taken for explicit.
 */
static void decode(const struct svt_fault *f, struct xranges *x)
{
	const uint8_t *b = f->insn;
	unsigned len = f->insn_len < 15 ? f->insn_len : 15, i = 0, end;
	int bits = f->code_bits, seg = -1;
	bool p66 = false, p67 = false;
	uint8_t rex = 0;
	uint64_t la;

	x->n = 0;
	x->implicit = false;
	x->unknown_writes = false;
	for (; i < len; i++) {
		switch (b[i]) {
		case 0x66: p66 = true; continue;
		case 0x67: p67 = true; continue;
		case 0xf0: case 0xf2: case 0xf3: continue;
		case 0x26: seg = SVT_EMU_ES; continue;
		case 0x2e: seg = SVT_EMU_CS; continue;
		case 0x36: seg = SVT_EMU_SS; continue;
		case 0x3e: seg = SVT_EMU_DS; continue;
		case 0x64: seg = SVT_EMU_FS; continue;
		case 0x65: seg = SVT_EMU_GS; continue;
		}
		break;
	}
	if (bits == 64 && i < len && (b[i] & 0xf0) == 0x40)
		rex = b[i++];
	if (i >= len)
		return;
	unsigned o = rex & 8 ? 8 : (bits == 16) != p66 ? 2 : 4;        /* operand size */
	unsigned as = bits == 64 ? (p67 ? 4 : 8) : (bits == 16) != p67 ? 2 : 4;
	const struct svt_emu_regs *r = f->regs;
	uint64_t mask = bits == 64 ? ~0ull : 0xffffffffull;
	uint64_t spmask = bits == 64 ? ~0ull : bits == 32 ? 0xffffffffull : 0xffffull;
	uint64_t rsp = r ? r->gpr[SVT_EMU_RSP] & spmask : 0;
	uint64_t sp = r ? ((bits == 64 ? 0 : r->seg_base[SVT_EMU_SS]) + rsp) & mask : 0;
	bool l64 = bits == 64;
	uint8_t op = b[i], op2 = i + 1 < len ? b[i + 1] : 0;
	unsigned at = op == 0x0f ? i + 2 : i + 1;        /* the ModRM byte, where there is one */
	bool mod3 = at < len && b[at] >> 6 == 3;
	unsigned reg = at < len ? (b[at] >> 3) & 7 : 8;
	unsigned opnd = 0;                               /* bytes of the memory operand read */

	if (op == 0xea && !l64) {                       /* JMP ptr16:16/32 */
		x->implicit = true;
	} else if (op == 0x9a && !l64) {                /* CALL ptr16:16/32 */
		x->implicit = true;
		x->unknown_writes = true;
	} else if (op == 0x8e) {                        /* MOV Sreg, r/m16 */
		x->implicit = true;
		opnd = mod3 ? 0 : 2;
	} else if ((op == 0xc4 || op == 0xc5) && !l64) { /* LES, LDS (VEX in 64-bit mode) */
		x->implicit = !mod3;
		opnd = mod3 ? 0 : o + 2;
	} else if ((op == 0x07 || op == 0x17 || op == 0x1f) && !l64) {      /* POP ES/SS/DS */
		x->implicit = true;
		if (r)
			add(x, sp, o, false);
	} else if (op == 0xcf) {                        /* IRET */
		x->implicit = true;
		if (r)
			add(x, sp, (uint64_t)(l64 ? 5 : 9) * o, false);
	} else if (op == 0xca || op == 0xcb) {          /* RET far [imm16] */
		uint64_t imm = op == 0xca && i + 2 < len ?
			       (uint64_t)b[i + 1] | (uint64_t)b[i + 2] << 8 : 0;
		x->implicit = true;
		if (r)
			add(x, sp, 4ull * o + imm, false);
	} else if (op == 0xff && (reg == 3 || reg == 5) && !mod3 && at < len) {
		x->implicit = true;                     /* CALL/JMP m16:16/32/64 */
		opnd = o + 2;
		if (reg == 3) {
			x->unknown_writes = true;
			if (r)
				add(x, (sp - 16) & mask, 16, true);
		}
	} else if (op == 0x0f && i + 1 < len) {
		if (op2 == 0x00 && reg >= 2 && reg <= 5) {             /* LLDT LTR VERR VERW */
			x->implicit = true;
			opnd = mod3 ? 0 : 2;
		} else if (op2 == 0x02 || op2 == 0x03) {               /* LAR, LSL */
			x->implicit = true;
			opnd = mod3 ? 0 : 2;
		} else if (op2 == 0xb2 || op2 == 0xb4 || op2 == 0xb5) { /* LSS, LFS, LGS */
			x->implicit = !mod3;
			opnd = mod3 ? 0 : o + 2;
		} else if (op2 == 0xa1 || op2 == 0xa9) {               /* POP FS/GS */
			x->implicit = true;
			if (r)
				add(x, sp, l64 && !p66 ? 8 : o, false);
		}
	}
	if (op == 0xff && reg == 3 && r)
		/* a call gate to an inner level copies up to 31 parameters
		 * from the old stack (32-bit gates: 4 bytes each) */
		add(x, sp, 31 * 4, false);
	if (op == 0x9a && !l64 && r) {
		add(x, (sp - 16) & mask, 16, true);
		add(x, sp, 31 * 4, false);
	}
	if (opnd) {
		if (r && svt_emu_modrm_la(r, bits, b, len, at, rex, as, seg, &la, &end))
			add(x, la, opnd, false);
		else
			x->implicit = false;            /* the operand not known: explicit */
	}
}

bool mmu_access_implicit(const struct svt_fault *f, bool write, uint64_t va, bool wide)
{
	uint64_t mask = wide ? ~0ull : 0xffffffffull;
	const struct svt_dtables *dt = f->dt;
	bool in_sys = false;

	/* The system data structures: the IDT is only ever read. */
	for (unsigned t = 0; dt && t < SVT_DT_COUNT; t++)
		if (dt->usable[t] && !(write && t == SVT_DT_IDT) &&
		    within(va, dt->base[t], (uint64_t)dt->limit[t] + 1, mask))
			in_sys = true;
	if (f->in_delivery) {
		/* Delivering an event reads only system data structures (the
		 * IDT gate, GDT or LDT descriptors, the TSS's stack pointer,
		 * a task switch's TSSs); it writes the handler's stack, an
		 * explicit access, and accessed and busy bits in descriptors
		 * and a task switch's TSS, implicit ones. */
		if (!write)
			return !SVT_BUG(81);
		return in_sys;
	}
	if (f->insn == NULL || f->insn_len == 0)
		return false;
	struct xranges x;
	decode(f, &x);
	if (!x.implicit)
		return false;
	for (unsigned k = 0; k < x.n; k++)
		if (within(va, x.r[k].lo, x.r[k].n, mask) && (!write || x.r[k].write) &&
		    !SVT_BUG(82))
			return false;
	if (x.n == 0 && !x.unknown_writes)
		return true;                    /* implicit accesses only */
	/* Both kinds: an access outside every explicit range is an implicit
	 * one, a write only where the instruction makes no explicit write
	 * the ranges miss (a call gate's pushes on the new stack); the
	 * tables, where given, must hold it. */
	if (dt)
		return in_sys;
	return !(write && x.unknown_writes);
}
