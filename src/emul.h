/*
 * emul.h — the interface of the write emulator: decode one x86 instruction
 * that writes memory and perform it on the guest's behalf.
 *
 * The shadow MMU write-protects every guest page it shadows as a page
 * table; when the guest writes to one, the core emulates the faulting
 * instruction instead of letting it run (as Xen's x86_emulate does for
 * sh_page_fault), so it sees the old and the new value of the entry and can
 * update its shadows.  svt_emulate() handles the instructions a kernel uses
 * to write page-table entries: MOV, XCHG, CMPXCHG, CMPXCHG8B/16B, the
 * LOCK-able ALU and bit-test-and-modify forms, INC/DEC/NOT/NEG, XADD, and
 * STOS/MOVS with and without REP, at every operand size, in 16-, 32- and
 * 64-bit code.  Memory is reached only through the two callbacks of struct
 * svt_emu_mem, which work on linear addresses and in which the caller
 * checks the guest's own permissions; the destination is written with one
 * compare-and-exchange so the write is as atomic as the real instruction's.
 * Each choice the emulator makes where the SDM leaves room is stated next
 * to the declaration it concerns.
 */
#ifndef SVT_EMUL_H
#define SVT_EMUL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- results ---------------------------------------------------------- */

/*
 * What svt_emulate() returns.  SVT_EMU_FAULT and SVT_EMU_RETRY are also
 * what the callbacks return.
 */
enum svt_emu_status {
	/* Done: memory written, registers, RFLAGS and RIP updated (for REP,
	 * RIP only once the count reached 0; see below). */
	SVT_EMU_OK = 0,
	/* Not an instruction this emulator performs (unknown opcode, register
	 * destination, LOCK where the CPU raises #UD, ...), or malformed, or
	 * longer than 15 bytes, or insn_len too short for it.  Nothing was
	 * changed and no callback was called.  res->len and res->op are 0. */
	SVT_EMU_UNHANDLED,
	/* The write is misaligned to its size (so it may cross a page, and
	 * is not one cmpxchg on the caller's side): nothing was changed and
	 * no callback was called.  The caller unshadows instead.  A misaligned
	 * CMPXCHG16B, which raises #GP on the CPU, is reported this way too. */
	SVT_EMU_SPLIT,
	/* A callback reported a fault; the callee has recorded the #PF to
	 * inject. */
	SVT_EMU_FAULT,
	/* cmpxchg found memory no longer holding the value read before: the
	 * write was not done.  The caller re-runs the guest, which re-executes
	 * the instruction. */
	SVT_EMU_RETRY,
};
/*
 * cmpxchg may also return SVT_EMU_STOP_AFTER: the write was done (as for
 * 0), and a REP STOS/MOVS run ends after this iteration, as an interrupt
 * between iterations would end it: rCX/rSI/rDI show the progress, RIP stays
 * on the instruction, and the guest runs the rest itself (the caller has
 * stopped intercepting the destination, say).  Elsewhere it is 0.
 * svt_emulate() never returns it, and a callback's codes of its own
 * (below) must differ from it.
 */
#define SVT_EMU_STOP_AFTER 0x7f

/*
 * After FAULT or RETRY, the architectural state is the one the CPU leaves
 * at a fault: for every instruction but REP STOS/MOVS nothing was changed;
 * for those, the res->reps iterations completed before the failing one
 * stay done (memory, RCX, RSI, RDI updated) and RIP still points at the
 * instruction.  A callback returning any other nonzero value is treated
 * like FAULT (same state), and that value is returned unchanged.
 */

/* ---- the register file ------------------------------------------------- */

enum svt_emu_gpr {
	SVT_EMU_RAX, SVT_EMU_RCX, SVT_EMU_RDX, SVT_EMU_RBX,
	SVT_EMU_RSP, SVT_EMU_RBP, SVT_EMU_RSI, SVT_EMU_RDI,
	SVT_EMU_R8, SVT_EMU_R9, SVT_EMU_R10, SVT_EMU_R11,
	SVT_EMU_R12, SVT_EMU_R13, SVT_EMU_R14, SVT_EMU_R15,
};

enum svt_emu_seg {
	SVT_EMU_ES, SVT_EMU_CS, SVT_EMU_SS, SVT_EMU_DS, SVT_EMU_FS, SVT_EMU_GS,
};

/*
 * The guest's registers.  seg_base[] holds the segment bases; in 64-bit
 * code only FS and GS bases apply (the others count as 0 whatever they
 * hold).  Segment limits and types are not checked: the guest kernels this
 * serves use flat segments.  Writes of 32-bit registers zero-extend into
 * the upper half, as in 64-bit mode; 8- and 16-bit writes keep the rest.
 */
struct svt_emu_regs {
	uint64_t gpr[16];       /* indexed by enum svt_emu_gpr */
	uint64_t rip, rflags;
	uint64_t seg_base[6];   /* indexed by enum svt_emu_seg */
};
_Static_assert(sizeof(((struct svt_emu_regs *)0)->gpr) == (SVT_EMU_R15 + 1) * sizeof(uint64_t),
	       "gpr[] has one slot per enum svt_emu_gpr");
_Static_assert(sizeof(((struct svt_emu_regs *)0)->seg_base) == (SVT_EMU_GS + 1) * sizeof(uint64_t),
	       "seg_base[] has one slot per enum svt_emu_seg");

#define SVT_EMU_CF  (1ull << 0)
#define SVT_EMU_PF  (1ull << 2)
#define SVT_EMU_AF  (1ull << 4)
#define SVT_EMU_ZF  (1ull << 6)
#define SVT_EMU_SF  (1ull << 7)
#define SVT_EMU_DF  (1ull << 10)
#define SVT_EMU_OF  (1ull << 11)
#define SVT_EMU_ARITH_FLAGS (SVT_EMU_CF | SVT_EMU_PF | SVT_EMU_AF | \
			     SVT_EMU_ZF | SVT_EMU_SF | SVT_EMU_OF)

/* ---- memory ------------------------------------------------------------ */

/* read() flags */
#define SVT_EMU_RD_DEST  (1u << 0)  /* reads the destination of the write
				     * that follows: check (and fault) as a
				     * write, as the CPU's read-modify-write
				     * does; without it, a plain data read */

/*
 * Guest memory, by linear address.  Both callbacks return 0,
 * SVT_EMU_FAULT after recording the #PF the guest gets (the callee does the
 * guest's permission check), or, for cmpxchg, SVT_EMU_RETRY if memory no
 * longer holds *expect (nothing is then written).  len is 1, 2, 4, 8 or 16;
 * buffers are little-endian guest byte order.  Every write goes through
 * cmpxchg, at an address aligned to len (unless misaligned_ok), after a read of the same bytes
 * with SVT_EMU_RD_DEST.  A read without that flag (the MOVS source) may be
 * misaligned and cross a page.  The emulator checks neither canonical
 * form nor segment limits: a callee that finds la non-canonical may return
 * a code of its own, which svt_emulate() passes through.
 */
struct svt_emu_mem {
	void *ctx;
	int (*read)(void *ctx, uint64_t la, void *buf, unsigned len,
		    unsigned flags);
	int (*cmpxchg)(void *ctx, uint64_t la, const void *expect,
		       const void *val, unsigned len);
	/* The callbacks accept misaligned and page-crossing destinations
	 * (up to 8 bytes): the emulator then performs such writes instead of
	 * returning SVT_EMU_SPLIT.  A misaligned CMPXCHG16B is still SPLIT. */
	bool misaligned_ok;
};

/* ---- what was emulated ------------------------------------------------- */

enum svt_emu_op {
	SVT_EMU_OP_NONE = 0,
	SVT_EMU_OP_MOV,
	SVT_EMU_OP_XCHG,
	SVT_EMU_OP_CMPXCHG,
	SVT_EMU_OP_CMPXCHG8B,
	SVT_EMU_OP_CMPXCHG16B,
	SVT_EMU_OP_XADD,
	SVT_EMU_OP_ADD,
	SVT_EMU_OP_OR,
	SVT_EMU_OP_ADC,
	SVT_EMU_OP_SBB,
	SVT_EMU_OP_AND,
	SVT_EMU_OP_SUB,
	SVT_EMU_OP_XOR,
	SVT_EMU_OP_INC,
	SVT_EMU_OP_DEC,
	SVT_EMU_OP_NOT,
	SVT_EMU_OP_NEG,
	SVT_EMU_OP_BTS,
	SVT_EMU_OP_BTR,
	SVT_EMU_OP_BTC,
	SVT_EMU_OP_STOS,
	SVT_EMU_OP_MOVS,
	SVT_EMU_OP_COUNT
};
_Static_assert(SVT_EMU_OP_COUNT - 1 <= UINT8_MAX, "svt_emu_result.op holds every operation");

/*
 * The decoded instruction and what it did.  Filled on every return; after
 * SVT_EMU_UNHANDLED everything is 0.  After SPLIT, FAULT and RETRY the
 * decode fields (len .. dst_size, src_la) are valid, old/new only as far as
 * the emulator got.  For REP, dst_la, src_la, old and new describe the last
 * iteration attempted.
 */
struct svt_emu_result {
	uint8_t len;            /* instruction length in bytes */
	uint8_t op;             /* enum svt_emu_op */
	uint8_t opsize;         /* operand size in bytes: 1, 2, 4, 8 (16 for
				 * CMPXCHG16B, 8 for CMPXCHG8B) */
	uint8_t addrsize;       /* address size in bytes: 2, 4, 8 */
	uint8_t dst_size;       /* bytes written at dst_la */
	bool locked;            /* LOCK prefix, or XCHG's implicit lock */
	bool rep;               /* REP STOS/MOVS (F3, or F2 which acts the same) */
	bool complete;          /* the instruction finished: RIP advanced */
	uint64_t dst_la;        /* linear address written */
	uint64_t src_la;        /* MOVS: linear address read */
	uint64_t old[2];        /* destination before (little-endian, [1] only
				 * for CMPXCHG16B) */
	uint64_t new[2];        /* destination after (== old if CMPXCHG failed) */
	uint64_t reps;          /* STOS/MOVS: iterations done by this call
				 * (1 without REP) */
};
_Static_assert(sizeof(((struct svt_emu_result *)0)->old) == 16 &&
	       sizeof(((struct svt_emu_result *)0)->new) == 16,
	       "old and new hold CMPXCHG16B's 16 bytes");

/*
 * Emulate the instruction at insn[0 .. insn_len) as the CPU would execute
 * it with *regs in code_bits-bit code (16, 32 or 64).  regs->rip is the
 * instruction's address; on success it is advanced by res->len (wrapping at
 * the code size).
 *
 * Flags are exactly the CPU's where the SDM defines them; where it leaves a
 * flag undefined (AF after AND/OR/XOR, everything but CF after BTS/BTR/BTC)
 * the flag is left unchanged.
 *
 * CMPXCHG, CMPXCHG8B and CMPXCHG16B whose comparison fails still write the
 * destination, with the value it held (the CPU's locked cycle does the
 * same): cmpxchg(old, old) is called so the caller sees, and checks, the
 * write access; then the accumulator (EDX:EAX, RDX:RAX) receives the old
 * value.
 *
 * REP STOS/MOVS (F3 or F2) do iterations while the destination stays in
 * the 4 KiB page of the first one (and until a cmpxchg returns
 * SVT_EMU_STOP_AFTER), each with its own cmpxchg, and update rCX/rSI/rDI
 * (width from the address size).  RIP advances only once the
 * count reaches 0, otherwise the guest re-executes the instruction for the
 * rest; a count of 0 does nothing but advance RIP.
 *
 * Returns an enum svt_emu_status (or a callback's own nonzero code, above).
 */
int svt_emulate(struct svt_emu_regs *regs, int code_bits,
		const uint8_t *insn, unsigned insn_len,
		const struct svt_emu_mem *mem, struct svt_emu_result *res);

/*
 * The linear address of the ModRM memory operand at insn[at] (ModRM, then
 * SIB and displacement) of an instruction svt_emulate does not perform (a
 * segment load from memory: src/mmu_implicit.c).  rex is the REX byte (0 if
 * none), addrsize 2, 4 or 8, seg an enum svt_emu_seg or -1 for the default
 * (DS; SS with an rSP or rBP base).  A RIP-relative address counts from the
 * end of the displacement (no immediate follows in those instructions).
 * *end is the offset after the displacement.  False for a register operand
 * (mod 3) or bytes missing.
 */
bool svt_emu_modrm_la(const struct svt_emu_regs *regs, int code_bits, const uint8_t *insn,
		      unsigned insn_len, unsigned at, uint8_t rex, unsigned addrsize, int seg,
		      uint64_t *la, unsigned *end);

/* "mov", "cmpxchg8b", ... for an enum svt_emu_op; "?" if out of range. */
const char *svt_emu_op_name(unsigned op);

#endif /* SVT_EMUL_H */
