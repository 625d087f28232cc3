/*
 * mmu-insn.c — the write instructions the random guest executes, encoded
 * as a kernel's compiler would emit them: MOV r/m and MOV imm, XCHG,
 * LOCK CMPXCHG, LOCK CMPXCHG8B and CMPXCHG16B, the LOCK-able ALU forms, BTS/BTR with an
 * immediate, STOS and MOVS with and without REP.  The destination is
 * always [rDI] (ModRM mod=00 rm=111); the encoder also loads the registers
 * the instruction reads into m->regs, so the caller only says what to
 * write where.  64-bit code may use REX.W and R8-R11; 32-bit code has no
 * 64-bit operands (CMPXCHG8B is the way it writes 8 bytes atomically).
 */
#include <string.h>

#include "mmu-harness.h"

const char *mh_wop_name(enum mh_wop op)
{
	static const char *const n[MH_W_COUNT] = {
		"mov", "mov-imm", "xchg", "cmpxchg", "cmpxchg8b", "or", "and", "xor", "add",
		"sub", "bts", "btr", "stos", "movs", "cmpxchg16b",
	};
	return (unsigned)op < MH_W_COUNT ? n[op] : "?";
}

struct enc {
	uint8_t *b;
	unsigned n;
};

static void put(struct enc *e, uint8_t x)
{
	e->b[e->n++] = x;
}

static void put_imm(struct enc *e, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		put(e, (uint8_t)(v >> (8 * i)));
}

/* Operand-size prefixes: 66 for 16-bit, REX(.W, .R) as needed. */
static void put_size(struct enc *e, unsigned size, unsigned reg)
{
	uint8_t rex = 0x40;
	if (size == 2)
		put(e, 0x66);
	if (size == 8)
		rex |= 0x08;
	if (reg >= 8)
		rex |= 0x04;
	if (rex != 0x40)
		put(e, rex);
}

static uint8_t modrm_rdi(unsigned reg)
{
	return (uint8_t)(((reg & 7) << 3) | 7);
}

/* A register other than rAX (and, for 8-bit, one with a low byte that
 * needs no REX): the source operand. */
static unsigned pick_reg(struct mh_machine *m, unsigned size, int bits, bool not_rax)
{
	static const unsigned lo[] = { 0, 1, 2, 3 };
	static const unsigned hi[] = { 8, 9, 10, 11 };
	unsigned r;
	do {
		if (bits == 64 && size != 1 && mh_pct(&m->rng, 25))
			r = hi[mh_below(&m->rng, 4)];
		else
			r = lo[mh_below(&m->rng, 4)];
	} while (not_rax && r == 0);
	return r;
}

/* Set a register: in 32-bit code the upper half is left zero. */
static void set_reg(struct mh_machine *m, unsigned r, uint64_t v, int bits)
{
	m->regs.gpr[r] = bits == 64 ? v : v & 0xffffffffull;
}

bool mh_encode(struct mh_machine *m, enum mh_wop op, unsigned size, int bits,
	       uint64_t va, uint64_t src, uint64_t cmp, uint64_t count,
	       uint64_t src_va, struct mh_insn *out)
{
	struct enc e = { out->b, 0 };
	bool lock = mh_pct(&m->rng, 80);
	unsigned r;

	if (op == MH_W_CMPXCHG16B) {
		/* 64-bit code, 16 aligned bytes: RDX:RAX the comparand, RCX:RBX
		 * the source; cmp and src are the low quadwords, the caller sets
		 * RDX and RCX */
		if (bits != 64 || size != 16 || (va & 15))
			return false;
		set_reg(m, SVT_EMU_RDI, va, bits);
		m->regs.gpr[SVT_EMU_RAX] = cmp;
		m->regs.gpr[SVT_EMU_RBX] = src;
		if (lock)
			put(&e, 0xf0);
		put(&e, 0x48);
		put(&e, 0x0f);
		put(&e, 0xc7);
		put(&e, modrm_rdi(1));
		out->len = e.n;
		return true;
	}
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return false;
	if (bits == 32 && size == 8 && op != MH_W_CMPXCHG8B)
		return false;
	set_reg(m, SVT_EMU_RDI, va, bits);
	switch (op) {
	case MH_W_MOV:
	case MH_W_XCHG:
		r = pick_reg(m, size, bits, false);
		set_reg(m, r, src, bits);
		put_size(&e, size, r);
		put(&e, (uint8_t)((op == MH_W_MOV ? 0x88 : 0x86) + (size != 1)));
		put(&e, modrm_rdi(r));
		break;
	case MH_W_MOVI:
		if (size == 8 && (uint64_t)(int64_t)(int32_t)src != src)
			return false;
		put_size(&e, size, 0);
		put(&e, size == 1 ? 0xc6 : 0xc7);
		put(&e, modrm_rdi(0));
		put_imm(&e, src, size == 8 ? 4 : size);
		break;
	case MH_W_CMPXCHG:
		r = pick_reg(m, size, bits, true);
		set_reg(m, SVT_EMU_RAX, cmp, bits);
		set_reg(m, r, src, bits);
		if (lock)
			put(&e, 0xf0);
		put_size(&e, size, r);
		put(&e, 0x0f);
		put(&e, size == 1 ? 0xb0 : 0xb1);
		put(&e, modrm_rdi(r));
		break;
	case MH_W_CMPXCHG8B:
		if (size != 8)
			return false;
		m->regs.gpr[SVT_EMU_RAX] = cmp & 0xffffffffull;
		m->regs.gpr[SVT_EMU_RDX] = cmp >> 32;
		m->regs.gpr[SVT_EMU_RBX] = src & 0xffffffffull;
		m->regs.gpr[SVT_EMU_RCX] = src >> 32;
		if (lock)
			put(&e, 0xf0);
		put(&e, 0x0f);
		put(&e, 0xc7);
		put(&e, modrm_rdi(1));
		break;
	case MH_W_OR:
	case MH_W_AND:
	case MH_W_XOR:
	case MH_W_ADD:
	case MH_W_SUB: {
		static const uint8_t base[] = { [MH_W_OR] = 0x08, [MH_W_AND] = 0x20,
						[MH_W_XOR] = 0x30, [MH_W_ADD] = 0x00,
						[MH_W_SUB] = 0x28 };
		r = pick_reg(m, size, bits, false);
		set_reg(m, r, src, bits);
		if (lock)
			put(&e, 0xf0);
		put_size(&e, size, r);
		put(&e, (uint8_t)(base[op] + (size != 1)));
		put(&e, modrm_rdi(r));
		break;
	}
	case MH_W_BTS:
	case MH_W_BTR:
		if (size == 1)
			return false;
		if (lock)
			put(&e, 0xf0);
		put_size(&e, size, 0);
		put(&e, 0x0f);
		put(&e, 0xba);
		put(&e, modrm_rdi(op == MH_W_BTS ? 5 : 6));
		put(&e, (uint8_t)(src & (8 * size - 1)));
		break;
	case MH_W_STOS:
	case MH_W_MOVS:
		if (op == MH_W_STOS)
			set_reg(m, SVT_EMU_RAX, src, bits);
		else
			set_reg(m, SVT_EMU_RSI, src_va, bits);
		if (count) {
			set_reg(m, SVT_EMU_RCX, count, bits);
			put(&e, 0xf3);
		}
		put_size(&e, size, 0);
		put(&e, (uint8_t)((op == MH_W_STOS ? 0xaa : 0xa4) + (size != 1)));
		break;
	default:
		return false;
	}
	out->len = e.n;
	return true;
}

void mh_encode_mov(struct mh_machine *m, unsigned size, int bits, uint64_t va,
		   uint64_t val, struct mh_insn *out)
{
	struct enc e = { out->b, 0 };
	set_reg(m, SVT_EMU_RDI, va, bits);
	set_reg(m, SVT_EMU_RAX, val, bits);
	put_size(&e, size, 0);
	put(&e, size == 1 ? 0x88 : 0x89);
	put(&e, modrm_rdi(0));
	out->len = e.n;
}
