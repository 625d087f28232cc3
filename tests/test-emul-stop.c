/*
 * test-emul-stop.c — svt_emulate() with a cmpxchg callback that returns
 * SVT_EMU_STOP_AFTER (emul.h): the write is done, and a REP STOS/MOVS run
 * ends after that iteration as an interrupt would end it (rCX/rSI/rDI show
 * the progress, RIP stays on the instruction); outside a REP run it is the
 * same as 0.  The core uses it to let the guest zero the rest of a table it
 * has just unshadowed (src/mmu_ptwrite.c, early unshadow).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "emul.h"

#define BASE 0x10000u
static uint8_t mem[8192];
static unsigned writes, stop_at;

static int m_read(void *ctx, uint64_t la, void *buf, unsigned len, unsigned flags)
{
	(void)ctx, (void)flags;
	cr_assert(la >= BASE && la + len <= BASE + sizeof(mem), "read at %#llx",
		  (unsigned long long)la);
	memcpy(buf, mem + (la - BASE), len);
	return 0;
}

static int m_cmpxchg(void *ctx, uint64_t la, const void *expect, const void *val, unsigned len)
{
	(void)ctx;
	cr_assert(la >= BASE && la + len <= BASE + sizeof(mem));
	if (memcmp(mem + (la - BASE), expect, len) != 0)
		return SVT_EMU_RETRY;
	memcpy(mem + (la - BASE), val, len);
	return ++writes == stop_at ? SVT_EMU_STOP_AFTER : 0;
}

static const struct svt_emu_mem ops = { .ctx = NULL, .read = m_read, .cmpxchg = m_cmpxchg };

static void setup(void)
{
	memset(mem, 0xaa, sizeof(mem));
	writes = 0;
	stop_at = 0;
}

TestSuite(emul_stop, .init = setup);

/* REP STOSD (F3 AB), 32-bit code: stopped after the third of 16 dwords. */
Test(emul_stop, rep_stos_ends_after_the_stopping_write)
{
	static const uint8_t insn[] = { 0xf3, 0xab };
	struct svt_emu_regs r = { 0 };
	struct svt_emu_result res;

	r.gpr[SVT_EMU_RAX] = 0;
	r.gpr[SVT_EMU_RCX] = 16;
	r.gpr[SVT_EMU_RDI] = BASE;
	r.rip = 0x1000;
	stop_at = 3;
	cr_assert_eq(svt_emulate(&r, 32, insn, sizeof(insn), &ops, &res), SVT_EMU_OK);
	cr_assert_eq(res.reps, 3);
	cr_assert(!res.complete, "the run is not complete");
	cr_assert_eq(r.rip, 0x1000, "RIP stays on the instruction");
	cr_assert_eq(r.gpr[SVT_EMU_RCX], 13);
	cr_assert_eq(r.gpr[SVT_EMU_RDI], BASE + 12);
	for (unsigned i = 0; i < 12; i++)
		cr_assert_eq(mem[i], 0, "byte %u written", i);
	cr_assert_eq(mem[12], 0xaa, "nothing written past the stopping iteration");

	/* run again, as the guest does: the rest, to the end */
	stop_at = 0;
	cr_assert_eq(svt_emulate(&r, 32, insn, sizeof(insn), &ops, &res), SVT_EMU_OK);
	cr_assert(res.complete);
	cr_assert_eq(res.reps, 13);
	cr_assert_eq(r.rip, 0x1002);
	cr_assert_eq(r.gpr[SVT_EMU_RCX], 0);
	for (unsigned i = 0; i < 64; i++)
		cr_assert_eq(mem[i], 0, "byte %u written", i);
	cr_assert_eq(mem[64], 0xaa);
}

/* REP MOVSD (F3 A5): RSI moves with RDI; the last iteration's write stops it. */
Test(emul_stop, rep_movs_keeps_rsi_in_step)
{
	static const uint8_t insn[] = { 0xf3, 0xa5 };
	struct svt_emu_regs r = { 0 };
	struct svt_emu_result res;

	for (unsigned i = 0; i < 64; i++)
		mem[4096 + i] = (uint8_t)i;
	r.gpr[SVT_EMU_RCX] = 16;
	r.gpr[SVT_EMU_RSI] = BASE + 4096;
	r.gpr[SVT_EMU_RDI] = BASE;
	r.rip = 0x2000;
	stop_at = 5;
	cr_assert_eq(svt_emulate(&r, 32, insn, sizeof(insn), &ops, &res), SVT_EMU_OK);
	cr_assert_eq(res.reps, 5);
	cr_assert(!res.complete);
	cr_assert_eq(r.rip, 0x2000);
	cr_assert_eq(r.gpr[SVT_EMU_RCX], 11);
	cr_assert_eq(r.gpr[SVT_EMU_RSI], BASE + 4096 + 20);
	cr_assert_eq(r.gpr[SVT_EMU_RDI], BASE + 20);
	cr_assert(memcmp(mem, mem + 4096, 20) == 0);
	cr_assert_eq(mem[20], 0xaa);
}

/* The last iteration stopping ends the instruction as usual: RIP advances. */
Test(emul_stop, stop_on_the_last_iteration_completes)
{
	static const uint8_t insn[] = { 0xf3, 0xab };
	struct svt_emu_regs r = { 0 };
	struct svt_emu_result res;

	r.gpr[SVT_EMU_RCX] = 2;
	r.gpr[SVT_EMU_RDI] = BASE;
	r.rip = 0x1000;
	stop_at = 2;
	cr_assert_eq(svt_emulate(&r, 32, insn, sizeof(insn), &ops, &res), SVT_EMU_OK);
	cr_assert(res.complete);
	cr_assert_eq(r.rip, 0x1002);
	cr_assert_eq(r.gpr[SVT_EMU_RCX], 0);
}

/* Outside a REP run it is 0: MOV [EDI], EAX (89 07) and STOSD without REP complete. */
Test(emul_stop, outside_rep_it_is_success)
{
	static const uint8_t mov[] = { 0x89, 0x07 }, stos[] = { 0xab };
	struct svt_emu_regs r = { 0 };
	struct svt_emu_result res;

	r.gpr[SVT_EMU_RAX] = 0x11223344;
	r.gpr[SVT_EMU_RDI] = BASE;
	r.rip = 0x1000;
	stop_at = 1;
	cr_assert_eq(svt_emulate(&r, 32, mov, sizeof(mov), &ops, &res), SVT_EMU_OK);
	cr_assert(res.complete);
	cr_assert_eq(r.rip, 0x1002);
	cr_assert_eq(mem[0], 0x44);
	stop_at = 2;
	cr_assert_eq(svt_emulate(&r, 32, stos, sizeof(stos), &ops, &res), SVT_EMU_OK);
	cr_assert(res.complete);
	cr_assert_eq(r.rip, 0x1003);
	cr_assert_eq(r.gpr[SVT_EMU_RDI], BASE + 4);
}
