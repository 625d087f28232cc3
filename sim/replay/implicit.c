/*
 * implicit.c — replay's own answer to "was this supervisor access an
 * implicit one?", from the evidence a FAULT record holds (traces/FORMAT.md
 * 1.5), written from the SDM and not from the core's src/mmu_implicit.c
 * (a check that reuses the code it checks is no check).
 *
 * SDM Vol. 3A 4.6 ("Access Rights"): some operations implicitly access
 * system data structures with linear addresses (the GDT or LDT to load a
 * segment descriptor, the IDT when delivering an interrupt or exception,
 * the TSS on a task switch or a change of CPL); those accesses are
 * implicit supervisor-mode accesses whatever the CPL, and under CR4.SMAP
 * they may touch no user-mode page whatever RFLAGS.AC says.  Other
 * accesses made while CPL < 3 are explicit ones, which AC=1 lets through.
 * So an access is implicit exactly when it is an access of the operation
 * itself to a system data structure, which replay judges by address:
 *
 * - during event delivery (in_delivery): every read is implicit (the
 *   delivery reads the IDT gate, the GDT or LDT descriptors of the handler's
 *   CS and SS, the TSS for the new stack, a task gate's TSSs, and nothing
 *   else); a write inside the GDT, LDT or current TSS (an accessed or busy
 *   bit, a task switch's save) is implicit; any other write is a push onto
 *   the handler's stack, which the SDM counts among the "other accesses":
 *   explicit under the interrupted code's RFLAGS.AC (the protected-mode
 *   paths of INT n clear AC nowhere before the pushes).  Only when the
 *   interrupted code ran at CPL 3 does the SDM leave it unsaid whether the
 *   push, made for the handler before CPL changes in its pseudo-code,
 *   counts as a CPL < 3 access: either reading is accepted there;
 * - with the instruction (insn and registers): an instruction that loads a
 *   segment descriptor or switches tasks (MOV Sreg, POP Sreg, LDS and its
 *   kin, LLDT, LTR, VERR, VERW, LAR, LSL, far JMP, CALL and RET, IRET) makes
 *   implicit accesses; its explicit ones are its memory operand and its
 *   stack slots, whose linear ranges replay computes.  An access in a
 *   system data structure and in no explicit range is implicit; in an
 *   explicit range and in no table, explicit; in both (a stack inside the
 *   GDT, the slack of a range sized for the widest case), undecidable from
 *   the address: either reading is accepted.  A read in neither is a task
 *   switch's read of the new TSS (implicit); a write in neither is a push
 *   onto a call gate's new stack or a nested task's link field: either;
 *   any other instruction makes no implicit access;
 * - without the tables (has_dt false) an instruction whose every access is
 *   implicit (a selector from a register; JMP ptr16:16/32) is judged
 *   implicit; for the others an access in an explicit range is taken for
 *   explicit, as replay always took it (an operand inside a table is not
 *   seen), a read outside every range for implicit, a write there for
 *   either;
 * - without any of it (no delivery flag, no instruction: traces before
 *   1.5, synth's plain reads): explicit, as replay always took them.
 *
 * Ranges are built for both stack widths (16 and 32 bits, outside 64-bit
 * code): the record does not say SS.B.  Linear addresses wrap at 32 bits
 * outside 64-bit code.
 */
#include "replay_int.h"
#include "emul.h"

#define NR 8

struct ranges {
	unsigned n;
	uint64_t lo[NR], len[NR];
	bool write[NR];
};

static void range(struct ranges *x, uint64_t lo, uint64_t len, bool write)
{
	if (x->n < NR) {
		x->lo[x->n] = lo;
		x->len[x->n] = len;
		x->write[x->n] = write;
		x->n++;
	}
}

/* va in [lo, lo + len), wrapping at mask */
static bool in(uint64_t va, uint64_t lo, uint64_t len, uint64_t mask)
{
	return ((va - lo) & mask) < len;
}

/* The stack bytes [SS.base + rSP - below, + len), under every stack width
 * the code may have (16 or 32 bits outside 64-bit code: SS.B is not in the
 * record).  A call gate copies up to 31 parameters of 4 bytes (32-bit
 * gate; 16-bit ones copy 2) from the old stack. */
static void stack(struct ranges *x, const struct svt_trace_fault *f, uint64_t below,
		  uint64_t len, bool write, uint64_t mask)
{
	const struct svt_emu_regs *r = &f->regs;
	uint64_t rsp = r->gpr[SVT_EMU_RSP];
	if (f->code_bits == 64) {
		range(x, rsp - below, len, write);
		return;
	}
	uint64_t ss = r->seg_base[SVT_EMU_SS];
	range(x, (ss + ((rsp - below) & 0xffff)) & mask, len, write);
	range(x, (ss + ((rsp - below) & 0xffffffffull)) & mask, len, write);
}

/*
 * The linear address of the ModRM memory operand at b[at] (the ModRM
 * byte), SDM Vol. 2A 2.1.5 and 2.2.1.6; false if the bytes run out.
 */
static bool modrm_la(const struct svt_trace_fault *f, unsigned at, unsigned len, uint8_t rex,
		     bool a16, bool a32, int seg, uint64_t *la)
{
	const uint8_t *b = f->insn;
	const struct svt_emu_regs *r = &f->regs;
	const uint64_t *g = r->gpr;
	unsigned mod = b[at] >> 6, rm = b[at] & 7, p = at + 1;
	uint64_t ea = 0;
	int dseg = SVT_EMU_DS;

	if (a16) {
		static const int base[8][2] = {
			{ SVT_EMU_RBX, SVT_EMU_RSI }, { SVT_EMU_RBX, SVT_EMU_RDI },
			{ SVT_EMU_RBP, SVT_EMU_RSI }, { SVT_EMU_RBP, SVT_EMU_RDI },
			{ SVT_EMU_RSI, -1 }, { SVT_EMU_RDI, -1 }, { SVT_EMU_RBP, -1 },
			{ SVT_EMU_RBX, -1 },
		};
		int64_t disp = 0;
		if (mod == 0 && rm == 6) {
			if (p + 2 > len)
				return false;
			disp = (int16_t)(b[p] | b[p + 1] << 8);
		} else {
			ea = g[base[rm][0]] + (base[rm][1] >= 0 ? g[base[rm][1]] : 0);
			if (base[rm][0] == SVT_EMU_RBP)
				dseg = SVT_EMU_SS;
			if (mod == 1) {
				if (p + 1 > len)
					return false;
				disp = (int8_t)b[p];
			} else if (mod == 2) {
				if (p + 2 > len)
					return false;
				disp = (int16_t)(b[p] | b[p + 1] << 8);
			}
		}
		ea = (ea + (uint64_t)disp) & 0xffff;
	} else {
		unsigned dlen = mod == 1 ? 1 : mod == 2 ? 4 : 0;
		bool riprel = false;
		if (rm == 4) {                          /* SIB */
			if (p + 1 > len)
				return false;
			uint8_t sib = b[p++];
			unsigned sc = sib >> 6, idx = ((sib >> 3) & 7) | (rex & 2 ? 8 : 0);
			unsigned bs = (sib & 7) | (rex & 1 ? 8 : 0);
			if (idx != SVT_EMU_RSP)
				ea += g[idx] << sc;
			if ((sib & 7) == 5 && mod == 0) {
				dlen = 4;
			} else {
				ea += g[bs];
				if (bs == SVT_EMU_RSP || bs == SVT_EMU_RBP)
					dseg = SVT_EMU_SS;
			}
		} else if (rm == 5 && mod == 0) {
			dlen = 4;
			riprel = f->code_bits == 64;
		} else {
			unsigned bs = rm | (rex & 1 ? 8 : 0);
			ea += g[bs];
			if (bs == SVT_EMU_RBP)
				dseg = SVT_EMU_SS;
		}
		if (p + dlen > len)
			return false;
		int64_t disp = dlen == 1 ? (int8_t)b[p] : dlen == 4 ?
			       (int32_t)(b[p] | b[p + 1] << 8 | b[p + 2] << 16 |
					 (uint32_t)b[p + 3] << 24) : 0;
		ea += (uint64_t)disp;
		/* (none of the instructions asked about has an immediate
		 * after its ModRM operand) */
		if (riprel)
			ea += r->rip + p + dlen;
		if (a32)
			ea &= 0xffffffffull;
	}
	int s = seg >= 0 ? seg : dseg;
	uint64_t base = r->seg_base[s];
	if (f->code_bits == 64)
		base = s == SVT_EMU_FS || s == SVT_EMU_GS ? base : 0;
	*la = base + ea;
	if (f->code_bits != 64)
		*la &= 0xffffffffull;
	return true;
}

enum shape {
	NONE,           /* no implicit access */
	ONLY,           /* implicit accesses only */
	BOTH,           /* implicit and explicit ones (ranges) */
	BOTH_OPEN,      /* the same, with explicit writes the ranges may miss */
};

/* What the instruction's accesses are, and the linear ranges of its
 * explicit ones (SDM Vol. 2A, each instruction's Operation). */
static enum shape decode(const struct svt_trace_fault *f, struct ranges *x)
{
	const uint8_t *b = f->insn;
	unsigned len = f->insn_len, i = 0;
	bool l64 = f->code_bits == 64, o16 = f->code_bits == 16, a16 = f->code_bits == 16;
	int seg = -1;
	uint8_t rex = 0;
	uint64_t mask = l64 ? ~0ull : 0xffffffffull;

	x->n = 0;
	if (len > SVT_TRACE_MAX_INSN)
		len = SVT_TRACE_MAX_INSN;
	for (; i < len; i++) {
		uint8_t c = b[i];
		if (c == 0x66)
			o16 = f->code_bits != 16;
		else if (c == 0x67)
			a16 = f->code_bits == 32;
		else if (c == 0x26 || c == 0x2e || c == 0x36 || c == 0x3e)
			seg = (int[]){ SVT_EMU_ES, SVT_EMU_CS, SVT_EMU_SS,
				       SVT_EMU_DS }[(c >> 3) & 3];
		else if (c == 0x64 || c == 0x65)
			seg = c == 0x64 ? SVT_EMU_FS : SVT_EMU_GS;
		else if (c != 0xf0 && c != 0xf2 && c != 0xf3)
			break;
	}
	if (l64 && i < len && (b[i] & 0xf0) == 0x40)
		rex = b[i++];
	if (i >= len)
		return NONE;
	/* address size: 64-bit code 64 (32 with 67), else 16 or 32 */
	bool a32 = !l64 && !a16;
	for (unsigned k = 0; l64 && k < i; k++)
		if (b[k] == 0x67)
			a32 = true;
	unsigned osz = rex & 8 ? 8 : o16 ? 2 : 4;       /* operand size */
	uint8_t op = b[i];
	bool two = op == 0x0f;
	uint8_t op2 = two && i + 1 < len ? b[i + 1] : 0;
	unsigned at = two ? i + 2 : i + 1;              /* ModRM */
	bool have_modrm = at < len;
	bool mod3 = have_modrm && b[at] >> 6 == 3;
	unsigned reg = have_modrm ? (b[at] >> 3) & 7 : 0;
	unsigned opnd = 0;                              /* bytes of the memory operand */
	enum shape sh = NONE;

	if (!two && op == 0x8e && have_modrm) {                 /* MOV Sreg, r/m16 */
		sh = mod3 ? ONLY : BOTH;
		opnd = 2;
	} else if (two && op2 == 0x00 && have_modrm && reg >= 2 && reg <= 5) {
		sh = mod3 ? ONLY : BOTH;                        /* LLDT LTR VERR VERW */
		opnd = 2;
	} else if (two && (op2 == 0x02 || op2 == 0x03) && have_modrm) {
		sh = mod3 ? ONLY : BOTH;                        /* LAR, LSL */
		opnd = 2;
	} else if (!l64 && (op == 0xc4 || op == 0xc5) && have_modrm && !mod3) {
		sh = BOTH;                                      /* LES, LDS */
		opnd = osz + 2;
	} else if (two && (op2 == 0xb2 || op2 == 0xb4 || op2 == 0xb5) && have_modrm && !mod3) {
		sh = BOTH;                                      /* LSS, LFS, LGS */
		opnd = osz + 2;
	} else if (!l64 && op == 0xea) {                        /* JMP ptr16:16/32 */
		sh = ONLY;
	} else if (!l64 && op == 0x9a) {                        /* CALL ptr16:16/32 */
		sh = BOTH_OPEN;
		stack(x, f, 2 * osz, 2 * osz, true, mask);      /* CS, EIP */
		stack(x, f, 0, 31 * 4, false, mask);            /* a call gate's parameters */
	} else if (!two && op == 0xff && have_modrm && !mod3 && (reg == 3 || reg == 5)) {
		sh = reg == 3 ? BOTH_OPEN : BOTH;               /* CALL/JMP m16:16/32/64 */
		opnd = osz + 2;
		if (reg == 3) {
			unsigned slot = l64 ? 8 : osz;
			stack(x, f, 2 * slot, 2 * slot, true, mask);
			stack(x, f, 0, 31 * 4, false, mask);
		}
	} else if (!l64 && (op == 0x07 || op == 0x17 || op == 0x1f)) {
		sh = BOTH;                                      /* POP ES, SS, DS */
		stack(x, f, 0, osz, false, mask);
	} else if (two && (op2 == 0xa1 || op2 == 0xa9)) {       /* POP FS, GS */
		sh = BOTH;
		stack(x, f, 0, l64 && !o16 ? 8 : osz, false, mask);
	} else if (!two && op == 0xcf) {                        /* IRET */
		sh = BOTH;
		/* 64-bit: RIP CS RFLAGS RSP SS; else up to 9 slots (a return
		 * to virtual-8086 mode) */
		stack(x, f, 0, (l64 ? 5 : 9) * (uint64_t)osz, false, mask);
	} else if (!two && (op == 0xca || op == 0xcb)) {        /* RET far [imm16] */
		uint64_t imm = op == 0xca && i + 2 < len ? (uint64_t)(b[i + 1] | b[i + 2] << 8) : 0;
		sh = BOTH;
		stack(x, f, 0, 4ull * osz + imm, false, mask);
	}
	if (opnd && sh == BOTH) {
		uint64_t la;
		if (!modrm_la(f, at, len, rex, a16, a32, seg, &la))
			return NONE;    /* the operand not known: nothing to tell by */
		range(x, la, opnd, false);
	}
	return sh;
}

enum rp_sv rp_sv_kind(const struct svt_trace_fault *f, bool write)
{
	uint64_t va = f->va;
	uint64_t mask = f->code_bits == 64 ? ~0ull : 0xffffffffull;
	bool in_table = false;

	if (f->has_dt)
		for (unsigned t = 0; t < SVT_DT_COUNT; t++) {
			if (!f->dt.usable[t] || (write && t == SVT_DT_IDT))
				continue;       /* the processor never writes the IDT */
			if (in(va, f->dt.base[t], (uint64_t)f->dt.limit[t] + 1, mask))
				in_table = true;
		}
	if (f->in_delivery) {
		if (!write || in_table)
			return RP_SV_IMPLICIT;
		if (f->cpl == 3)
			return RP_SV_EITHER;    /* a push for the handler, from CPL 3 */
		return f->has_dt ? RP_SV_EXPLICIT : RP_SV_EITHER;
	}
	if (!f->has_regs || f->insn_len == 0)
		return RP_SV_EXPLICIT;
	struct ranges x;
	enum shape sh = decode(f, &x);
	if (sh == NONE)
		return RP_SV_EXPLICIT;
	if (sh == ONLY)
		return RP_SV_IMPLICIT;
	bool in_range = false;
	for (unsigned k = 0; k < x.n; k++)
		if ((!write || x.write[k]) && in(va, x.lo[k], x.len[k], mask))
			in_range = true;
	if (!f->has_dt)
		return in_range ? RP_SV_EXPLICIT : write ? RP_SV_EITHER : RP_SV_IMPLICIT;
	if (in_table)
		return in_range ? RP_SV_EITHER : RP_SV_IMPLICIT;
	if (in_range)
		return RP_SV_EXPLICIT;
	return write ? RP_SV_EITHER : RP_SV_IMPLICIT;
}
