/*
 * fuzz-emul.c — the write emulator on arbitrary instruction bytes,
 * registers and code sizes (the bytes come from the guest: outside input).
 * Checks the contract of emul.h: never more than 15 bytes; UNHANDLED and
 * SPLIT change nothing and call nothing; OK advances RIP by the length
 * (unless a REP stopped early) and writes only through cmpxchg, aligned,
 * inside the memory it was given.
 */
#include <string.h>

#include "emul.h"
#include "fuzz.h"

#define BASE 0x10000ull
#define SIZE (3 * 4096)

struct emem {
	uint8_t b[SIZE];
	unsigned calls;
	int fail_at;    /* callback number that faults, or -1 */
};

static int e_read(void *ctx, uint64_t la, void *buf, unsigned len, unsigned flags)
{
	struct emem *m = ctx;
	(void)flags;
	if (m->calls++ == (unsigned)m->fail_at)
		return SVT_EMU_FAULT;
	for (unsigned i = 0; i < len; i++) {
		uint64_t a = la + i;
		((uint8_t *)buf)[i] = a >= BASE && a < BASE + SIZE ? m->b[a - BASE] : 0xcc;
	}
	return 0;
}

static int e_cmpxchg(void *ctx, uint64_t la, const void *expect, const void *val, unsigned len)
{
	struct emem *m = ctx;
	FZ_CHECK(len == 1 || len == 2 || len == 4 || len == 8 || len == 16, "len %u", len);
	FZ_CHECK((la & (len - 1)) == 0, "misaligned cmpxchg at %#llx", (unsigned long long)la);
	if (m->calls++ == (unsigned)m->fail_at)
		return SVT_EMU_RETRY;
	if (la < BASE || la + len > BASE + SIZE)
		return SVT_EMU_FAULT;
	if (memcmp(m->b + (la - BASE), expect, len) != 0)
		return SVT_EMU_RETRY;
	memcpy(m->b + (la - BASE), val, len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct emem mem;
	struct fz f = { data, size, 0 };
	struct svt_emu_regs regs, before;
	static const int bits[4] = { 64, 32, 16, 64 };
	uint8_t insn[20];

	memset(&mem, 0, sizeof(mem));
	int code_bits = bits[fz_u8(&f) & 3];
	unsigned len = fz_u8(&f) % 21;
	mem.fail_at = (int)(fz_u8(&f) % 8) - 4;
	for (unsigned i = 0; i < sizeof(insn); i++)
		insn[i] = fz_u8(&f);
	for (unsigned i = 0; i < 16; i++) {
		/* registers mostly point into the memory, sometimes anywhere */
		uint64_t v = fz_u64(&f, 2);
		regs.gpr[i] = (v & 0x8000) ? fz_u64(&f, 8) : BASE + (v % SIZE);
	}
	regs.rip = fz_u64(&f, 4);
	regs.rflags = 2 | (fz_u64(&f, 2) & 0xcd5);
	for (unsigned i = 0; i < 6; i++)
		regs.seg_base[i] = (fz_u8(&f) & 1) ? fz_u64(&f, 2) : 0;
	for (unsigned i = 0; i < SIZE && fz_more(&f); i++)
		mem.b[i] = fz_u8(&f);
	before = regs;

	struct svt_emu_mem em = { .ctx = &mem, .read = e_read, .cmpxchg = e_cmpxchg };
	struct svt_emu_result res;
	int rc = svt_emulate(&regs, code_bits, insn, len, &em, &res);

	FZ_CHECK(rc >= SVT_EMU_OK && rc <= SVT_EMU_RETRY, "status %d", rc);
	FZ_CHECK(res.len <= 15 && res.len <= len, "length %u of %u", res.len, len);
	switch (rc) {
	case SVT_EMU_UNHANDLED:
	case SVT_EMU_SPLIT:
		FZ_CHECK(memcmp(&regs, &before, sizeof(regs)) == 0, "registers changed");
		FZ_CHECK(mem.calls == 0, "callbacks called");
		break;
	case SVT_EMU_OK: {
		uint64_t mask = code_bits == 64 ? ~0ull : code_bits == 32 ?
			0xffffffffull : 0xffffull;
		if (res.complete)
			FZ_CHECK(regs.rip == ((before.rip + res.len) & mask),
				 "RIP not advanced by the length");
		else
			FZ_CHECK(res.rep && regs.rip == before.rip, "incomplete but not a REP");
		FZ_CHECK(res.op != SVT_EMU_OP_NONE && res.op < SVT_EMU_OP_COUNT, "op %u", res.op);
		FZ_CHECK(svt_emu_op_name(res.op)[0] != '?', "op name");
		break;
	}
	default:
		if (!res.rep)
			FZ_CHECK(regs.rip == before.rip, "RIP moved on a failure");
		break;
	}
	return 0;
}
