/*
 * emul.c — decoder and emulator for the memory-writing instructions a guest
 * kernel uses on its page tables (see emul.h for the contract).
 *
 * Decoding is table-driven: the prefixes are consumed first (legacy
 * prefixes, then REX in 64-bit code), the opcode selects a descriptor from
 * one_byte[] or two_byte[] (operation, operand form, operand-size and
 * immediate flags), groups pick the operation by ModRM.reg, and the ModRM,
 * SIB, displacement, immediate or moffs bytes complete the instruction and
 * its effective address.  Execution reads the destination, computes the new
 * value, RFLAGS and any register results on copies, and commits them only
 * after one cmpxchg of the destination succeeded, so every outcome other
 * than SVT_EMU_OK leaves the guest's state as it was (REP STOS/MOVS commit
 * per iteration, as the CPU does).  No libc, no allocation, no state
 * outside the arguments.
 */
#include "emul.h"
#include "walk_int.h"   /* SVT_BUG: the seeded bugs of test builds (mmu_int.h) */

#define MAX_INSN_LEN 15

/* ---- opcode descriptors ------------------------------------------------ */

/* Operand forms. */
enum form {
	F_NONE = 0,     /* not emulated */
	F_EG,           /* ModRM memory destination, ModRM.reg source */
	F_EI,           /* ModRM memory destination, immediate source */
	F_E,            /* ModRM memory destination alone */
	F_MOFFS,        /* absolute address (A2/A3), accumulator source */
	F_STOS,         /* ES:rDI destination, accumulator source */
	F_MOVS,         /* ES:rDI destination, seg:rSI source */
};

/* Descriptor flags. */
#define D_BYTE  0x01    /* 8-bit operand */
#define D_IB    0x02    /* imm8, sign-extended to the operand size */
#define D_IZ    0x04    /* imm16 or imm32 (by operand size), sign-extended */
#define D_NO64  0x08    /* invalid in 64-bit code */
#define D_CX8   0x10    /* CMPXCHG8B/16B: size 8, or 16 with REX.W */

/* Groups: the operation comes from ModRM.reg. */
enum group { G_NONE = 0, G_1, G_3, G_4, G_5, G_8, G_9, G_11, G_COUNT };

struct opdesc {
	uint8_t op;     /* enum svt_emu_op, unless grp is set */
	uint8_t form;   /* enum form */
	uint8_t flags;  /* D_* */
	uint8_t grp;    /* enum group */
};
_Static_assert(SVT_EMU_OP_COUNT - 1 <= UINT8_MAX && F_MOVS <= UINT8_MAX && G_COUNT - 1 <= UINT8_MAX,
	       "an opdesc's bytes hold an operation, a form and a group");

#define OP(op_, form_, fl_) { SVT_EMU_OP_##op_, (form_), (fl_), G_NONE }
#define GRP(g_, form_, fl_) { SVT_EMU_OP_NONE, (form_), (fl_), (g_) }

static const struct opdesc one_byte[256] = {
	[0x00] = OP(ADD, F_EG, D_BYTE),  [0x01] = OP(ADD, F_EG, 0),
	[0x08] = OP(OR, F_EG, D_BYTE),   [0x09] = OP(OR, F_EG, 0),
	[0x10] = OP(ADC, F_EG, D_BYTE),  [0x11] = OP(ADC, F_EG, 0),
	[0x18] = OP(SBB, F_EG, D_BYTE),  [0x19] = OP(SBB, F_EG, 0),
	[0x20] = OP(AND, F_EG, D_BYTE),  [0x21] = OP(AND, F_EG, 0),
	[0x28] = OP(SUB, F_EG, D_BYTE),  [0x29] = OP(SUB, F_EG, 0),
	[0x30] = OP(XOR, F_EG, D_BYTE),  [0x31] = OP(XOR, F_EG, 0),
	[0x80] = GRP(G_1, F_EI, D_BYTE | D_IB),
	[0x81] = GRP(G_1, F_EI, D_IZ),
	[0x82] = GRP(G_1, F_EI, D_BYTE | D_IB | D_NO64),
	[0x83] = GRP(G_1, F_EI, D_IB),
	[0x86] = OP(XCHG, F_EG, D_BYTE), [0x87] = OP(XCHG, F_EG, 0),
	[0x88] = OP(MOV, F_EG, D_BYTE),  [0x89] = OP(MOV, F_EG, 0),
	[0xa2] = OP(MOV, F_MOFFS, D_BYTE), [0xa3] = OP(MOV, F_MOFFS, 0),
	[0xa4] = OP(MOVS, F_MOVS, D_BYTE), [0xa5] = OP(MOVS, F_MOVS, 0),
	[0xaa] = OP(STOS, F_STOS, D_BYTE), [0xab] = OP(STOS, F_STOS, 0),
	[0xc6] = GRP(G_11, F_EI, D_BYTE | D_IB),
	[0xc7] = GRP(G_11, F_EI, D_IZ),
	[0xf6] = GRP(G_3, F_E, D_BYTE),  [0xf7] = GRP(G_3, F_E, 0),
	[0xfe] = GRP(G_4, F_E, D_BYTE),  [0xff] = GRP(G_5, F_E, 0),
};

static const struct opdesc two_byte[256] = {   /* 0F xx */
	[0xab] = OP(BTS, F_EG, 0),
	[0xb3] = OP(BTR, F_EG, 0),
	[0xbb] = OP(BTC, F_EG, 0),
	[0xb0] = OP(CMPXCHG, F_EG, D_BYTE), [0xb1] = OP(CMPXCHG, F_EG, 0),
	[0xba] = GRP(G_8, F_EI, D_IB),
	[0xc0] = OP(XADD, F_EG, D_BYTE), [0xc1] = OP(XADD, F_EG, 0),
	[0xc7] = GRP(G_9, F_E, D_CX8),
};

/* The operation of each group member; NONE where it does not write memory
 * (CMP, TEST, BT, CALL, ...) or is not an instruction. */
#define O(x) SVT_EMU_OP_##x
static const uint8_t group_ops[G_COUNT][8] = {
	[G_1] = { O(ADD), O(OR), O(ADC), O(SBB), O(AND), O(SUB), O(XOR), O(NONE) },
	[G_3] = { O(NONE), O(NONE), O(NOT), O(NEG) },
	[G_4] = { O(INC), O(DEC) },
	[G_5] = { O(INC), O(DEC) },
	[G_8] = { [5] = O(BTS), [6] = O(BTR), [7] = O(BTC) },
	[G_9] = { [1] = O(CMPXCHG8B) },
	[G_11] = { O(MOV) },
};
#undef O

/* Per operation: its name and whether LOCK may prefix it (elsewhere the
 * CPU raises #UD, which the guest is left to take). */
static const struct {
	const char *name;
	bool lockable;
} op_info[SVT_EMU_OP_COUNT] = {
	[SVT_EMU_OP_NONE] = { "?", false },
	[SVT_EMU_OP_MOV] = { "mov", false },
	[SVT_EMU_OP_XCHG] = { "xchg", true },
	[SVT_EMU_OP_CMPXCHG] = { "cmpxchg", true },
	[SVT_EMU_OP_CMPXCHG8B] = { "cmpxchg8b", true },
	[SVT_EMU_OP_CMPXCHG16B] = { "cmpxchg16b", true },
	[SVT_EMU_OP_XADD] = { "xadd", true },
	[SVT_EMU_OP_ADD] = { "add", true },
	[SVT_EMU_OP_OR] = { "or", true },
	[SVT_EMU_OP_ADC] = { "adc", true },
	[SVT_EMU_OP_SBB] = { "sbb", true },
	[SVT_EMU_OP_AND] = { "and", true },
	[SVT_EMU_OP_SUB] = { "sub", true },
	[SVT_EMU_OP_XOR] = { "xor", true },
	[SVT_EMU_OP_INC] = { "inc", true },
	[SVT_EMU_OP_DEC] = { "dec", true },
	[SVT_EMU_OP_NOT] = { "not", true },
	[SVT_EMU_OP_NEG] = { "neg", true },
	[SVT_EMU_OP_BTS] = { "bts", true },
	[SVT_EMU_OP_BTR] = { "btr", true },
	[SVT_EMU_OP_BTC] = { "btc", true },
	[SVT_EMU_OP_STOS] = { "stos", false },
	[SVT_EMU_OP_MOVS] = { "movs", false },
};

const char *svt_emu_op_name(unsigned op)
{
	return op < SVT_EMU_OP_COUNT ? op_info[op].name : "?";
}

/* ---- small helpers ----------------------------------------------------- */

static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* Sign-extend the low size bytes of v. */
static uint64_t sext(uint64_t v, unsigned size)
{
	uint64_t m = size_mask(size), sign = (m >> 1) + 1;

	v &= m;
	return (v ^ sign) - sign;
}

/* Arithmetic shift right of a 64-bit two's-complement value, 0 < n < 64. */
static uint64_t sar(uint64_t v, unsigned n)
{
	return (v >> n) | ((v >> 63) ? ~(~0ull >> n) : 0);
}

static uint64_t load_le(const uint8_t *b, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = n; i-- > 0;)
		v = (v << 8) | b[i];
	return v;
}

static void store_le(uint8_t *b, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

/* A register operand.  Without REX, byte registers 4-7 are AH, CH, DH, BH. */
static uint64_t reg_get(const uint64_t *gpr, unsigned reg, unsigned size, bool rex)
{
	if (size == 1 && !rex && reg >= 4 && reg < 8)
		return (gpr[reg - 4] >> 8) & 0xff;
	return gpr[reg] & size_mask(size);
}

/* Write a register operand: 8- and 16-bit writes keep the other bits,
 * 32-bit writes zero-extend (as in 64-bit mode). */
static void reg_set(uint64_t *gpr, unsigned reg, unsigned size, bool rex, uint64_t v)
{
	if (size == 1 && !rex && reg >= 4 && reg < 8)
		gpr[reg - 4] = (gpr[reg - 4] & ~0xff00ull) | ((v & 0xff) << 8);
	else if (size <= 2)
		gpr[reg] = (gpr[reg] & ~size_mask(size)) | (v & size_mask(size));
	else
		gpr[reg] = v & size_mask(size);
}

/* ---- flags ------------------------------------------------------------- */

#define LOGIC_FLAGS (SVT_EMU_CF | SVT_EMU_PF | SVT_EMU_ZF | SVT_EMU_SF | SVT_EMU_OF)

/* PF, ZF and SF of a result. */
static uint64_t flags_szp(uint64_t r, unsigned size)
{
	uint64_t f = 0, p = r & 0xff;

	r &= size_mask(size);
	p ^= p >> 4;
	p ^= p >> 2;
	p ^= p >> 1;
	if (!(p & 1))
		f |= SVT_EMU_PF;
	if (r == 0)
		f |= SVT_EMU_ZF;
	if ((r >> (8 * size - 1)) & 1)
		f |= SVT_EMU_SF;
	return f;
}

/* d + s + c: all six arithmetic flags. */
static uint64_t flags_add(uint64_t d, uint64_t s, uint64_t r, unsigned size)
{
	uint64_t msb = 1ull << (8 * size - 1);
	uint64_t f = flags_szp(r, size);

	if ((d ^ s ^ r) & 0x10)
		f |= SVT_EMU_AF;
	if (((d & s) | ((d | s) & ~r)) & msb)
		f |= SVT_EMU_CF;
	if ((d ^ r) & (s ^ r) & msb)
		f |= SVT_EMU_OF;
	return f;
}

/* d - s - b: all six arithmetic flags. */
static uint64_t flags_sub(uint64_t d, uint64_t s, uint64_t r, unsigned size)
{
	uint64_t msb = 1ull << (8 * size - 1);
	uint64_t f = flags_szp(r, size);

	if ((d ^ s ^ r) & 0x10)
		f |= SVT_EMU_AF;
	if (((~d & s) | (~(d ^ s) & r)) & msb)
		f |= SVT_EMU_CF;
	if ((d ^ s) & (d ^ r) & msb)
		f |= SVT_EMU_OF;
	return f;
}

/*
 * The value op leaves in a destination of size bytes holding d, with
 * source s (for BTS/BTR/BTC: the bit number, already reduced); updates
 * *rflags on the flags op defines.  Undefined flags are left unchanged.
 */
static uint64_t alu(unsigned op, uint64_t d, uint64_t s, unsigned size,
		    uint64_t *rflags)
{
	uint64_t m = size_mask(size);
	uint64_t cin = *rflags & SVT_EMU_CF ? 1 : 0;
	uint64_t r, f = 0, defined = SVT_EMU_ARITH_FLAGS;

	d &= m;
	s &= m;
	switch (op) {
	case SVT_EMU_OP_ADD:
	case SVT_EMU_OP_XADD:
		r = (d + s) & m;
		f = flags_add(d, s, r, size);
		break;
	case SVT_EMU_OP_ADC:
		r = (d + s + cin) & m;
		f = flags_add(d, s, r, size);
		break;
	case SVT_EMU_OP_INC:
		r = (d + 1) & m;
		f = flags_add(d, 1, r, size);
		defined &= ~SVT_EMU_CF;
		break;
	case SVT_EMU_OP_SUB:
		r = (d - s) & m;
		f = flags_sub(d, s, r, size);
		break;
	case SVT_EMU_OP_SBB:
		r = (d - s - cin) & m;
		f = flags_sub(d, s, r, size);
		break;
	case SVT_EMU_OP_DEC:
		r = (d - 1) & m;
		f = flags_sub(d, 1, r, size);
		defined &= ~SVT_EMU_CF;
		break;
	case SVT_EMU_OP_NEG:
		r = (0 - d) & m;
		f = flags_sub(0, d, r, size);
		break;
	case SVT_EMU_OP_AND:
		r = d & s;
		f = flags_szp(r, size);
		defined = LOGIC_FLAGS;          /* AF undefined: unchanged */
		break;
	case SVT_EMU_OP_OR:
		r = d | s;
		f = flags_szp(r, size);
		defined = LOGIC_FLAGS;
		break;
	case SVT_EMU_OP_XOR:
		r = d ^ s;
		f = flags_szp(r, size);
		defined = LOGIC_FLAGS;
		break;
	case SVT_EMU_OP_NOT:
		r = ~d & m;
		defined = 0;
		break;
	case SVT_EMU_OP_BTS:
	case SVT_EMU_OP_BTR:
	case SVT_EMU_OP_BTC:
		/* CF is the bit; OF, SF, AF, PF undefined, ZF unaffected. */
		f = (d >> s) & 1 ? SVT_EMU_CF : 0;
		defined = SVT_EMU_CF;
		if (op == SVT_EMU_OP_BTS)
			r = d | (1ull << s);
		else if (op == SVT_EMU_OP_BTR)
			r = d & ~(1ull << s);
		else
			r = d ^ (1ull << s);
		break;
	default:                                /* MOV, XCHG, STOS, MOVS */
		r = s;
		defined = 0;
		break;
	}
	*rflags = (*rflags & ~defined) | (f & defined);
	return r;
}

/* ---- decoding ---------------------------------------------------------- */

struct insn {
	unsigned len;
	uint8_t op, form, flags;
	uint8_t opsize, addrsize;       /* bytes */
	uint8_t rex;                    /* the REX byte, 0 if none */
	uint8_t reg;                    /* ModRM.reg with REX.R */
	bool lock, rep;
	int seg;                        /* segment of the memory operand */
	int seg_override;               /* -1: none */
	bool rip_rel;                   /* ea is relative to the next RIP */
	uint64_t ea;                    /* effective address (no segment) */
	uint64_t imm;
};

/* Bytes of the instruction, bounded by insn_len and the 15-byte limit. */
struct cursor {
	const uint8_t *b;
	unsigned pos, end;
};

static bool fetch(struct cursor *c, unsigned n, uint64_t *v)
{
	if (n > c->end - c->pos)
		return false;
	*v = load_le(c->b + c->pos, n);
	c->pos += n;
	return true;
}

static bool fetch_sext(struct cursor *c, unsigned n, uint64_t *v)
{
	if (!fetch(c, n, v))
		return false;
	*v = sext(*v, n);
	return true;
}

/* 16-bit ModRM addressing (mod != 3). */
static bool modrm16(struct cursor *c, const uint64_t *gpr, unsigned mod,
		    unsigned rm, struct insn *d)
{
	static const int8_t base[8] = { SVT_EMU_RBX, SVT_EMU_RBX, SVT_EMU_RBP, SVT_EMU_RBP,
					-1, -1, SVT_EMU_RBP, SVT_EMU_RBX };
	static const int8_t index[8] = { SVT_EMU_RSI, SVT_EMU_RDI, SVT_EMU_RSI, SVT_EMU_RDI,
					 SVT_EMU_RSI, SVT_EMU_RDI, -1, -1 };
	uint64_t ea = 0, disp = 0;

	if (mod == 0 && rm == 6) {
		if (!fetch(c, 2, &disp))
			return false;
	} else {
		if (base[rm] >= 0)
			ea += gpr[base[rm]];
		if (index[rm] >= 0)
			ea += gpr[index[rm]];
		if (base[rm] == SVT_EMU_RBP)
			d->seg = SVT_EMU_SS;
		if (mod == 1 && !fetch_sext(c, 1, &disp))
			return false;
		if (mod == 2 && !fetch(c, 2, &disp))
			return false;
	}
	d->ea = (ea + disp) & 0xffff;
	return true;
}

/* 32- and 64-bit ModRM/SIB addressing (mod != 3).  The address is masked
 * to the address size by the caller, once RIP-relative ones are known. */
static bool modrm32(struct cursor *c, const uint64_t *gpr, int code_bits,
		    unsigned mod, unsigned rm, struct insn *d)
{
	unsigned rex_b = d->rex & 1 ? 8 : 0, rex_x = d->rex & 2 ? 8 : 0;
	uint64_t ea = 0, disp = 0, v;
	int base = -1;

	if (rm == 4) {
		unsigned scale, index;

		if (!fetch(c, 1, &v))
			return false;
		scale = (unsigned)(v >> 6);
		index = (unsigned)((v >> 3) & 7) | rex_x;
		if (index != 4)         /* 4 without REX.X: no index (R12 is one) */
			ea += gpr[index] << scale;
		if ((v & 7) == 5 && mod == 0) {
			if (!fetch_sext(c, 4, &disp))   /* no base, disp32 */
				return false;
		} else {
			base = (int)(v & 7) | (int)rex_b;
		}
	} else if (rm == 5 && mod == 0) {
		if (!fetch_sext(c, 4, &disp))
			return false;
		d->rip_rel = code_bits == 64;   /* else an absolute disp32 */
	} else {
		base = (int)rm | (int)rex_b;
	}
	if (base >= 0) {
		ea += gpr[base];
		if (base == SVT_EMU_RSP || base == SVT_EMU_RBP)
			d->seg = SVT_EMU_SS;
	}
	if (mod == 1 && !fetch_sext(c, 1, &disp))
		return false;
	if (mod == 2 && !fetch_sext(c, 4, &disp))
		return false;
	d->ea = ea + disp;
	return true;
}

/*
 * Decode the instruction; false if it is not one this emulator performs
 * (or is malformed, truncated or too long).
 */
static bool decode(const struct svt_emu_regs *regs, int code_bits,
		   const uint8_t *insn, unsigned insn_len, struct insn *d)
{
	struct cursor c = { insn, 0, insn_len < MAX_INSN_LEN ? insn_len : MAX_INSN_LEN };
	const struct opdesc *desc;
	bool opsize_pfx = false, addrsize_pfx = false;
	uint64_t b, v;

	d->len = 0;
	d->op = SVT_EMU_OP_NONE;
	d->rex = 0;
	d->reg = 0;
	d->lock = false;
	d->rep = false;
	d->seg = SVT_EMU_DS;
	d->seg_override = -1;
	d->rip_rel = false;
	d->ea = 0;
	d->imm = 0;

	/* Prefixes.  A REX prefix counts only right before the opcode. */
	for (;;) {
		if (!fetch(&c, 1, &b))
			return false;
		if (code_bits == 64 && (b & 0xf0) == 0x40) {
			d->rex = (uint8_t)b;
			continue;
		}
		switch (b) {
		case 0x66: opsize_pfx = true; break;
		case 0x67: addrsize_pfx = true; break;
		case 0xf0: d->lock = true; break;
		case 0xf2: case 0xf3: d->rep = true; break;
		case 0x26: d->seg_override = SVT_EMU_ES; break;
		case 0x2e: d->seg_override = SVT_EMU_CS; break;
		case 0x36: d->seg_override = SVT_EMU_SS; break;
		case 0x3e: d->seg_override = SVT_EMU_DS; break;
		case 0x64: d->seg_override = SVT_EMU_FS; break;
		case 0x65: d->seg_override = SVT_EMU_GS; break;
		default: goto opcode;
		}
		d->rex = 0;
	}
opcode:
	if (b == 0x0f) {
		if (!fetch(&c, 1, &b))
			return false;
		desc = &two_byte[b];
	} else {
		desc = &one_byte[b];
	}
	if (desc->form == F_NONE || (code_bits == 64 && (desc->flags & D_NO64)))
		return false;
	d->form = desc->form;
	d->flags = desc->flags;
	d->op = desc->op;

	if (desc->flags & D_BYTE)
		d->opsize = 1;
	else if (d->rex & 8)
		d->opsize = 8;
	else
		d->opsize = (code_bits == 16) != opsize_pfx ? 2 : 4;
	if (code_bits == 64)
		d->addrsize = addrsize_pfx ? 4 : 8;
	else
		d->addrsize = (code_bits == 16) != addrsize_pfx ? 2 : 4;

	if (d->form == F_EG || d->form == F_EI || d->form == F_E) {
		unsigned mod, rm;

		if (!fetch(&c, 1, &v))
			return false;
		mod = (unsigned)(v >> 6);
		rm = (unsigned)(v & 7);
		d->reg = (uint8_t)(((v >> 3) & 7) | (d->rex & 4 ? 8 : 0));
		if (mod == 3)
			return false;           /* register destination */
		if (desc->grp != G_NONE)
			d->op = group_ops[desc->grp][(v >> 3) & 7];
		if (d->op == SVT_EMU_OP_NONE)
			return false;
		if (d->addrsize == 2 ? !modrm16(&c, regs->gpr, mod, rm, d)
				     : !modrm32(&c, regs->gpr, code_bits, mod, rm, d))
			return false;
	} else if (d->form == F_MOFFS) {
		if (!fetch(&c, d->addrsize, &d->ea))
			return false;
	}
	if (desc->flags & D_CX8) {
		d->opsize = d->rex & 8 ? 16 : 8;
		if (d->opsize == 16)
			d->op = SVT_EMU_OP_CMPXCHG16B;
	}
	if ((desc->flags & D_IB) && !fetch_sext(&c, 1, &d->imm))
		return false;
	if ((desc->flags & D_IZ) &&
	    !fetch_sext(&c, d->opsize == 2 ? 2 : 4, &d->imm))
		return false;

	if (d->lock && !op_info[d->op].lockable)
		return false;                   /* #UD on the CPU */
	d->len = c.pos;
	if (d->rip_rel)
		d->ea += regs->rip + d->len;
	d->ea &= size_mask(d->addrsize);
	if (d->seg_override >= 0)
		d->seg = d->seg_override;
	return true;
}

/* ---- execution --------------------------------------------------------- */

static uint64_t linear(const struct svt_emu_regs *regs, int code_bits,
		       int seg, uint64_t ea)
{
	if (code_bits == 64)
		return seg == SVT_EMU_FS || seg == SVT_EMU_GS ? regs->seg_base[seg] + ea : ea;
	return (regs->seg_base[seg] + ea) & 0xffffffffu;
}

bool svt_emu_modrm_la(const struct svt_emu_regs *regs, int code_bits, const uint8_t *insn,
		      unsigned insn_len, unsigned at, uint8_t rex, unsigned addrsize, int seg,
		      uint64_t *la, unsigned *end)
{
	struct cursor c = { insn, at, insn_len < MAX_INSN_LEN ? insn_len : MAX_INSN_LEN };
	struct insn d = { .rex = rex, .seg = SVT_EMU_DS };
	uint64_t v;

	if (c.pos > c.end || !fetch(&c, 1, &v) || v >> 6 == 3)
		return false;
	unsigned mod = (unsigned)(v >> 6), rm = (unsigned)(v & 7);
	if (addrsize == 2 ? !modrm16(&c, regs->gpr, mod, rm, &d)
			  : !modrm32(&c, regs->gpr, code_bits, mod, rm, &d))
		return false;
	if (d.rip_rel)
		d.ea += regs->rip + c.pos;
	*la = linear(regs, code_bits, seg >= 0 ? seg : d.seg, d.ea & size_mask(addrsize));
	*end = c.pos;
	return true;
}

/* A write the caller cannot take as one aligned cmpxchg. */
static bool split(uint64_t la, unsigned size)
{
	return (la & (size - 1)) != 0 || (la & 0xfff) + size > 0x1000;
}

static uint64_t next_rip(const struct svt_emu_regs *regs, int code_bits, unsigned len)
{
	uint64_t rip = regs->rip + len;

	return code_bits == 64 ? rip : rip & size_mask((unsigned)code_bits / 8);
}

/* Everything but REP STOS/MOVS: one read, one cmpxchg, then commit. */
static int exec_one(struct svt_emu_regs *regs, int code_bits, const struct insn *d,
		    const struct svt_emu_mem *mem, struct svt_emu_result *res)
{
	bool rex = d->rex != 0;
	unsigned size = d->opsize, half = size > 8 ? 8 : size;
	uint64_t gpr[16], rflags = regs->rflags;
	uint64_t ea = d->ea, src = 0, old[2], new[2];
	uint8_t oldb[16], newb[16];
	int rc;

	_Static_assert(sizeof(gpr) == sizeof(regs->gpr), "gpr is a copy of the register file");
	_Static_assert(sizeof(oldb) == sizeof(res->old), "oldb and newb hold old[] and new[]");
	for (unsigned i = 0; i < 16; i++)
		gpr[i] = regs->gpr[i];
	if (d->form == F_EG)
		src = reg_get(gpr, d->reg, size, rex);
	else if (d->form == F_EI)
		src = d->imm & size_mask(size);
	else if (d->form == F_MOFFS)
		src = gpr[SVT_EMU_RAX] & size_mask(size);

	if (d->op == SVT_EMU_OP_BTS || d->op == SVT_EMU_OP_BTR || d->op == SVT_EMU_OP_BTC) {
		unsigned log2bits = size == 2 ? 4 : size == 4 ? 5 : 6;

		/* A register bit offset is signed and may address outside the
		 * operand: the word it falls in is at ea + size * floor(off /
		 * bits).  An immediate one is taken modulo the operand size. */
		if (d->form == F_EG) {
			uint64_t off = sext(src, size);

			ea = (ea + (sar(off, log2bits) << (log2bits - 3))) &
				size_mask(d->addrsize);
		}
		src &= (1u << log2bits) - 1;
	}

	res->dst_la = linear(regs, code_bits, d->seg, ea);
	res->dst_size = (uint8_t)size;
	if (split(res->dst_la, size) && !(mem->misaligned_ok && size <= 8))
		return SVT_EMU_SPLIT;
	rc = mem->read(mem->ctx, res->dst_la, oldb, size, SVT_EMU_RD_DEST);
	if (rc != 0)
		return rc;
	old[0] = load_le(oldb, half);
	old[1] = size > 8 ? load_le(oldb + 8, 8) : 0;
	res->old[0] = old[0];
	res->old[1] = old[1];
	new[1] = 0;

	switch (d->op) {
	case SVT_EMU_OP_XCHG:
	case SVT_EMU_OP_XADD:
		new[0] = alu(d->op, old[0], src, size, &rflags);
		if (!(SVT_BUG(59) && d->op == SVT_EMU_OP_XCHG))
			reg_set(gpr, d->reg, size, rex, old[0]);
		break;
	case SVT_EMU_OP_CMPXCHG: {
		uint64_t acc = gpr[SVT_EMU_RAX] & size_mask(size);

		alu(SVT_EMU_OP_SUB, acc, old[0], size, &rflags);
		if (acc == old[0]) {
			new[0] = src;
		} else {
			new[0] = old[0];        /* written back, see emul.h */
			if (!SVT_BUG(57))
				reg_set(gpr, SVT_EMU_RAX, size, rex, old[0]);
		}
		break;
	}
	case SVT_EMU_OP_CMPXCHG8B:
	case SVT_EMU_OP_CMPXCHG16B: {
		unsigned h = size / 2;          /* 4 or 8: width of each register */
		uint64_t acc[2], val[2];

		if (h == 4) {
			acc[0] = (gpr[SVT_EMU_RAX] & 0xffffffffu) | gpr[SVT_EMU_RDX] << 32;
			val[0] = (gpr[SVT_EMU_RBX] & 0xffffffffu) | gpr[SVT_EMU_RCX] << 32;
			acc[1] = val[1] = 0;
		} else {
			acc[0] = gpr[SVT_EMU_RAX];
			acc[1] = gpr[SVT_EMU_RDX];
			val[0] = gpr[SVT_EMU_RBX];
			val[1] = gpr[SVT_EMU_RCX];
		}
		if (acc[0] == old[0] && acc[1] == old[1]) {
			new[0] = val[0];
			new[1] = val[1];
			rflags |= SVT_EMU_ZF;
		} else {
			new[0] = old[0];        /* written back, see emul.h */
			new[1] = old[1];
			rflags &= ~SVT_EMU_ZF;
			if (h == 4) {
				reg_set(gpr, SVT_EMU_RAX, 4, rex, old[0]);
				reg_set(gpr, SVT_EMU_RDX, 4, rex, old[0] >> 32);
			} else {
				gpr[SVT_EMU_RAX] = old[0];
				gpr[SVT_EMU_RDX] = old[1];
			}
		}
		break;
	}
	default:
		new[0] = alu(d->op, old[0], src, size, &rflags);
		break;
	}

	res->new[0] = new[0];
	res->new[1] = new[1];
	store_le(newb, new[0], half);
	if (size > 8)
		store_le(newb + 8, new[1], 8);
	rc = mem->cmpxchg(mem->ctx, res->dst_la, oldb, newb, size);
	if (rc != 0 && rc != SVT_EMU_STOP_AFTER)
		return rc;

	for (unsigned i = 0; i < 16; i++)
		regs->gpr[i] = gpr[i];
	regs->rflags = rflags;
	if (!SVT_BUG(58))
		regs->rip = next_rip(regs, code_bits, d->len);
	res->complete = true;
	return SVT_EMU_OK;
}

/* STOS and MOVS, with or without REP: state is committed per iteration. */
static int exec_string(struct svt_emu_regs *regs, int code_bits, const struct insn *d,
		       const struct svt_emu_mem *mem, struct svt_emu_result *res)
{
	unsigned size = d->opsize, as = d->addrsize;
	uint64_t am = size_mask(as);
	uint64_t step = regs->rflags & SVT_EMU_DF ? 0 - (uint64_t)size : size;
	uint64_t count = regs->gpr[SVT_EMU_RCX] & am, page = 0;
	uint8_t srcb[8], oldb[8];
	int rc;

	res->dst_size = (uint8_t)size;
	if (d->rep && count == 0) {
		regs->rip = next_rip(regs, code_bits, d->len);
		res->complete = true;
		return SVT_EMU_OK;
	}
	for (;;) {
		uint64_t di = regs->gpr[SVT_EMU_RDI] & am, si = regs->gpr[SVT_EMU_RSI] & am;
		uint64_t dla = linear(regs, code_bits, SVT_EMU_ES, di);

		/* Stop where the destination leaves the first one's page. */
		if (res->reps > 0 && (split(dla, size) || dla >> 12 != page))
			return SVT_EMU_OK;
		res->dst_la = dla;
		if (d->op == SVT_EMU_OP_MOVS)
			res->src_la = linear(regs, code_bits, d->seg, si);
		if (split(dla, size) && !mem->misaligned_ok)
			return SVT_EMU_SPLIT;
		page = dla >> 12;
		if (d->op == SVT_EMU_OP_MOVS) {
			rc = mem->read(mem->ctx, res->src_la, srcb, size, 0);
			if (rc != 0)
				return rc;
		} else {
			store_le(srcb, regs->gpr[SVT_EMU_RAX], size);
		}
		rc = mem->read(mem->ctx, dla, oldb, size, SVT_EMU_RD_DEST);
		if (rc != 0)
			return rc;
		res->old[0] = load_le(oldb, size);
		res->new[0] = load_le(srcb, size);
		rc = mem->cmpxchg(mem->ctx, dla, oldb, srcb, size);
		bool stop = rc == SVT_EMU_STOP_AFTER;
		if (rc != 0 && !stop)
			return rc;

		res->reps++;
		reg_set(regs->gpr, SVT_EMU_RDI, as, true, di + step);
		if (d->op == SVT_EMU_OP_MOVS)
			reg_set(regs->gpr, SVT_EMU_RSI, as, true, si + step);
		if (d->rep)
			reg_set(regs->gpr, SVT_EMU_RCX, as, true, --count);
		if (!d->rep || count == 0) {
			regs->rip = next_rip(regs, code_bits, d->len);
			res->complete = true;
			return SVT_EMU_OK;
		}
		if (stop)
			return SVT_EMU_OK;
	}
}

static void result_clear(struct svt_emu_result *res)
{
	res->len = 0;
	res->op = SVT_EMU_OP_NONE;
	res->opsize = 0;
	res->addrsize = 0;
	res->dst_size = 0;
	res->locked = false;
	res->rep = false;
	res->complete = false;
	res->dst_la = 0;
	res->src_la = 0;
	res->old[0] = res->old[1] = 0;
	res->new[0] = res->new[1] = 0;
	res->reps = 0;
}

int svt_emulate(struct svt_emu_regs *regs, int code_bits,
		const uint8_t *insn, unsigned insn_len,
		const struct svt_emu_mem *mem, struct svt_emu_result *res)
{
	struct insn d;

	result_clear(res);
	if (code_bits != 16 && code_bits != 32 && code_bits != 64)
		return SVT_EMU_UNHANDLED;
	if (!decode(regs, code_bits, insn, insn_len, &d))
		return SVT_EMU_UNHANDLED;

	res->len = (uint8_t)d.len;
	res->op = d.op;
	res->opsize = d.opsize;
	res->addrsize = d.addrsize;
	res->locked = d.lock || d.op == SVT_EMU_OP_XCHG;
	if (d.form == F_STOS || d.form == F_MOVS) {
		res->rep = d.rep;
		return exec_string(regs, code_bits, &d, mem, res);
	}
	return exec_one(regs, code_bits, &d, mem, res);
}
