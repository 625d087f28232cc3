/*
 * test-emul.c — the write emulator (src/emul.c) against the CPU it stands
 * in for.
 *
 * Most tests run each instruction twice from the same state: once under
 * svt_emulate() with an in-test memory, and once natively on the host (an
 * x86-64 Linux machine), then compare memory, every register and RFLAGS
 * (the flags the SDM leaves undefined are masked).  Native runs use a small
 * harness: the instruction is copied into an executable page at a fixed
 * address below 4 GiB, the registers and RFLAGS are loaded from a struct,
 * it executes, and they are stored back.  A far jump to the 32-bit user code
 * segment (0x23) runs 32-bit code natively, and an LDT 16-bit code segment
 * runs 16-bit code; LDT data segments give DS/ES/SS/GS known nonzero bases
 * so segment arithmetic and 16-bit addressing are checked natively too.
 * The data memory is three pages at a fixed address (linear address ==
 * host address).  The rest checks the contract by hand: SPLIT, UNHANDLED,
 * truncated and over-long instructions, FAULT and RETRY leaving the state
 * unchanged, REP page bounds, and the result record.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__x86_64__) && defined(__linux__)
#include <asm/ldt.h>
#include <asm/prctl.h>
#define HAVE_NATIVE 1
#else
#define HAVE_NATIVE 0
#endif

#include "emul.h"

#define RAX SVT_EMU_RAX
#define RCX SVT_EMU_RCX
#define RDX SVT_EMU_RDX
#define RBX SVT_EMU_RBX
#define RSP SVT_EMU_RSP
#define RBP SVT_EMU_RBP
#define RSI SVT_EMU_RSI
#define RDI SVT_EMU_RDI

#define MEMSZ 0x3000u
#define FL_ALL   SVT_EMU_ARITH_FLAGS
#define FL_LOGIC (FL_ALL & ~SVT_EMU_AF)
#define FL_BT    (SVT_EMU_CF | SVT_EMU_ZF)      /* OF SF AF PF undefined */

/* ---- the environment: data pages, code page, segments --------------------- */

static uint8_t *mem;            /* MEMSZ bytes at linear address membase */
static uint64_t membase;
static uint8_t *code;           /* the native code page, NULL if none */
static uint64_t codebase;
static bool have_ldt;           /* LDT segments below are installed */
static uint64_t fs_base;        /* the host's own FS base */

/* LDT selectors (TI=1, RPL=3) and their bases. */
#define SEL_FLAT   0x2b         /* Linux __USER_DS: base 0 */
#define SEL_MEM    0x07         /* base membase */
#define SEL_CODE16 0x0f         /* 16-bit code, base codebase */
#define SEL_HIGH   0x17         /* base 0xffff0000: for 4 GiB wrap-around */
#define SEL_MEM2   0x1f         /* base membase + 0x800 */

static uint64_t sel_base(unsigned sel)
{
	switch (sel) {
	case SEL_MEM: return membase;
	case SEL_HIGH: return 0xffff0000u;
	case SEL_MEM2: return membase + 0x800;
	default: return 0;
	}
}

static void *map_at(uint64_t addr, size_t len, int prot)
{
	void *p = mmap((void *)(uintptr_t)addr, len, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if ((uint64_t)(uintptr_t)p != addr) {
		munmap(p, len);
		return NULL;
	}
	return p;
}

#if HAVE_NATIVE
static bool ldt_set(unsigned entry, uint32_t base, unsigned limit, bool code16)
{
	struct user_desc d;

	memset(&d, 0, sizeof d);
	d.entry_number = entry;
	d.base_addr = base;
	d.limit = limit;
	d.seg_32bit = !code16;
	d.contents = code16 ? 2 : 0;
	d.limit_in_pages = !code16;
	d.useable = 1;
	return syscall(SYS_modify_ldt, 1, &d, sizeof d) == 0;
}
#endif

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

#if HAVE_NATIVE
struct nstate {
	uint64_t gpr[16];       /* offset 0 */
	uint64_t rflags;        /* 128 */
	uint64_t target;        /* 136: where to jump with the registers loaded */
	uint64_t ds_sel;        /* 144: loaded into DS and ES */
	uint64_t ss_sel;        /* 152 */
	uint64_t gs_sel;        /* 160: loaded into GS unless 0 */
};

void svt_test_native_enter(struct nstate *s);
extern char svt_test_native_exit[];

/*
 * Load every register from *s and jump to s->target; the code there ends
 * by jumping to svt_test_native_exit, which stores them back.  The host
 * stack pointer and segment selectors are kept in the asm's own data.
 */
__asm__(
	".text\n"
	".globl svt_test_native_enter\n"
	".hidden svt_test_native_enter\n"
	".type svt_test_native_enter, @function\n"
	"svt_test_native_enter:\n"
	"	push %rbx\n	push %rbp\n	push %r12\n	push %r13\n	push %r14\n	push %r15\n"
	"	mov %rsp, .Lnat_rsp(%rip)\n"
	"	mov %rdi, .Lnat_state(%rip)\n"
	"	mov 136(%rdi), %rax\n	mov %rax, .Lnat_target(%rip)\n"
	"	mov %ds, %eax\n	mov %eax, .Lnat_ds(%rip)\n"
	"	mov %es, %eax\n	mov %eax, .Lnat_es(%rip)\n"
	"	mov %ss, %eax\n	mov %eax, .Lnat_ss(%rip)\n"
	"	mov %gs, %eax\n	mov %eax, .Lnat_gs(%rip)\n"
	"	mov 144(%rdi), %rax\n	mov %eax, %ds\n	mov %eax, %es\n"
	"	mov 152(%rdi), %rax\n	mov %eax, %ss\n"
	"	mov 160(%rdi), %rax\n	test %eax, %eax\n	jz 1f\n	mov %eax, %gs\n1:\n"
	"	pushq 128(%rdi)\n	popfq\n"
	"	mov 0(%rdi), %rax\n	mov 8(%rdi), %rcx\n	mov 16(%rdi), %rdx\n"
	"	mov 24(%rdi), %rbx\n	mov 32(%rdi), %rsp\n	mov 40(%rdi), %rbp\n"
	"	mov 48(%rdi), %rsi\n	mov 64(%rdi), %r8\n	mov 72(%rdi), %r9\n"
	"	mov 80(%rdi), %r10\n	mov 88(%rdi), %r11\n	mov 96(%rdi), %r12\n"
	"	mov 104(%rdi), %r13\n	mov 112(%rdi), %r14\n	mov 120(%rdi), %r15\n"
	"	mov 56(%rdi), %rdi\n"
	"	jmp *.Lnat_target(%rip)\n"
	".size svt_test_native_enter, .-svt_test_native_enter\n"
	".globl svt_test_native_exit\n"
	".hidden svt_test_native_exit\n"
	"svt_test_native_exit:\n"
	"	mov %rdi, .Lnat_scratch(%rip)\n"
	"	mov .Lnat_state(%rip), %rdi\n"
	"	mov %rax, 0(%rdi)\n	mov %rcx, 8(%rdi)\n	mov %rdx, 16(%rdi)\n"
	"	mov %rbx, 24(%rdi)\n	mov %rsp, 32(%rdi)\n	mov %rbp, 40(%rdi)\n"
	"	mov %rsi, 48(%rdi)\n	mov %r8, 64(%rdi)\n	mov %r9, 72(%rdi)\n"
	"	mov %r10, 80(%rdi)\n	mov %r11, 88(%rdi)\n	mov %r12, 96(%rdi)\n"
	"	mov %r13, 104(%rdi)\n	mov %r14, 112(%rdi)\n	mov %r15, 120(%rdi)\n"
	"	mov .Lnat_rsp(%rip), %rsp\n"
	"	pushfq\n	popq 128(%rdi)\n"
	"	mov .Lnat_scratch(%rip), %rax\n	mov %rax, 56(%rdi)\n"
	"	cld\n"
	"	mov .Lnat_ss(%rip), %eax\n	mov %eax, %ss\n"
	"	mov .Lnat_ds(%rip), %eax\n	mov %eax, %ds\n"
	"	mov .Lnat_es(%rip), %eax\n	mov %eax, %es\n"
	"	mov 160(%rdi), %rax\n	test %eax, %eax\n	jz 2f\n"
	"	mov .Lnat_gs(%rip), %eax\n	mov %eax, %gs\n2:\n"
	"	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop %rbp\n	pop %rbx\n"
	"	ret\n"
	".data\n"
	".p2align 3\n"
	".Lnat_rsp: .quad 0\n.Lnat_state: .quad 0\n.Lnat_target: .quad 0\n.Lnat_scratch: .quad 0\n"
	".Lnat_ds: .quad 0\n.Lnat_es: .quad 0\n.Lnat_ss: .quad 0\n.Lnat_gs: .quad 0\n"
	".text\n");

/*
 * The code page: trampolines at fixed offsets, the instruction at 0x100.
 *   0x00  64-bit: ljmp *[0x10]      (into 32-bit code at 0x100)
 *   0x10  far pointer 0x23:codebase+0x100
 *   0x18  far pointer 0x33:codebase+0x20
 *   0x20  64-bit: jmp *[rip+0] -> svt_test_native_exit
 *   0x30  far pointer SEL_CODE16:0x100
 *   0x40  64-bit: ljmp *[0x30]      (into 16-bit code at offset 0x100)
 */
#define INSN_OFF 0x100

static void code_init(void)
{
	code[0x00] = 0xff; code[0x01] = 0x2c; code[0x02] = 0x25;
	put32(code + 0x03, (uint32_t)(codebase + 0x10));
	put32(code + 0x10, (uint32_t)(codebase + INSN_OFF));
	code[0x14] = 0x23; code[0x15] = 0;
	put32(code + 0x18, (uint32_t)(codebase + 0x20));
	code[0x1c] = 0x33; code[0x1d] = 0;
	code[0x20] = 0xff; code[0x21] = 0x25; put32(code + 0x22, 0);
	put64(code + 0x26, (uint64_t)(uintptr_t)svt_test_native_exit);
	put32(code + 0x30, INSN_OFF);
	code[0x34] = SEL_CODE16; code[0x35] = 0;
	code[0x40] = 0xff; code[0x41] = 0x2c; code[0x42] = 0x25;
	put32(code + 0x43, (uint32_t)(codebase + 0x30));
}
#endif

static void setup(void)
{
	static const uint64_t data_at[] = { 0x10000, 0x40000000, 0x60000000 };
	static const uint64_t code_at[] = { 0x50000000, 0x70000000 };

	for (size_t i = 0; !mem && i < sizeof data_at / sizeof data_at[0]; i++) {
		mem = map_at(data_at[i], MEMSZ, PROT_READ | PROT_WRITE);
		membase = data_at[i];
	}
	cr_assert_not_null(mem, "cannot map the test memory below 4 GiB");
#if HAVE_NATIVE
	for (size_t i = 0; !code && i < sizeof code_at / sizeof code_at[0]; i++) {
		code = map_at(code_at[i], 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
		codebase = code_at[i];
	}
	if (code)
		code_init();
	have_ldt = ldt_set(0, (uint32_t)membase, 0xfffff, false) &&
		ldt_set(1, (uint32_t)codebase, 0xffff, true) &&
		ldt_set(2, 0xffff0000u, 0xfffff, false) &&
		ldt_set(3, (uint32_t)(membase + 0x800), 0xfffff, false);
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs_base);
#else
	(void)code_at;
#endif
}

TestSuite(emul, .init = setup);

/* ---- deterministic random numbers ------------------------------------------ */

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t mask_of(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* 0, 1, -1, 0x7f.., 0x80.., and friends, then two random ones. */
static unsigned edge_values(unsigned size, uint64_t *v)
{
	uint64_t m = mask_of(size), msb = (m >> 1) + 1;
	unsigned n = 0;

	v[n++] = 0;
	v[n++] = 1;
	v[n++] = 2;
	v[n++] = m;
	v[n++] = m - 1;
	v[n++] = msb - 1;
	v[n++] = msb;
	v[n++] = msb + 1;
	v[n++] = 0x5555555555555555ull & m;
	v[n++] = 0xaaaaaaaaaaaaaaaaull & m;
	v[n++] = 0x0f;
	v[n++] = 0x10;
	v[n++] = 0xff & m;
	v[n++] = rnd() & m;
	v[n++] = rnd() & m;
	return n;
}

/* ---- the in-test memory ------------------------------------------------------ */

struct tmem {
	unsigned reads, dest_reads, cmpxchgs, writes;
	uint64_t fault_lo, fault_hi;    /* accesses touching [lo, hi) fault ... */
	unsigned fault_kinds;           /* ... if their kind is in this mask */
	unsigned retry_at;              /* cmpxchg number (1-based) to refuse */
	bool race;                      /* change memory after each dest read */
	unsigned contract;              /* broken promises of emul.h */
	bool have_dest;                 /* a dest read awaits its cmpxchg */
	uint64_t dest_la;
	unsigned dest_len;
	uint64_t last_la;
	unsigned last_len;
	uint8_t last_expect[16], last_val[16];
};
#define K_READ  1u
#define K_DEST  2u
#define K_WRITE 4u

static struct tmem tm;

static bool in_mem(uint64_t la, unsigned len)
{
	return la >= membase && la - membase <= MEMSZ - len;
}

static bool faulting(uint64_t la, unsigned len, unsigned kind)
{
	return (tm.fault_kinds & kind) && la < tm.fault_hi && la + len > tm.fault_lo;
}

static int t_read(void *ctx, uint64_t la, void *buf, unsigned len, unsigned flags)
{
	unsigned kind = flags & SVT_EMU_RD_DEST ? K_DEST : K_READ;

	cr_assert_eq(ctx, &tm);
	tm.reads++;
	if (len != 1 && len != 2 && len != 4 && len != 8 && len != 16)
		tm.contract++;
	if (!in_mem(la, len) || faulting(la, len, kind))
		return SVT_EMU_FAULT;
	memcpy(buf, mem + (la - membase), len);
	if (kind == K_DEST) {
		tm.dest_reads++;
		tm.have_dest = true;
		tm.dest_la = la;
		tm.dest_len = len;
		if (tm.race)
			mem[la - membase] ^= 0x5a;
	}
	return 0;
}

static int t_cmpxchg(void *ctx, uint64_t la, const void *expect, const void *val,
		     unsigned len)
{
	cr_assert_eq(ctx, &tm);
	tm.cmpxchgs++;
	/* emul.h: aligned, after a dest read of the same bytes. */
	if ((la & (len - 1)) || !tm.have_dest || tm.dest_la != la || tm.dest_len != len)
		tm.contract++;
	tm.have_dest = false;
	tm.last_la = la;
	tm.last_len = len;
	memcpy(tm.last_expect, expect, len);
	memcpy(tm.last_val, val, len);
	if (!in_mem(la, len) || faulting(la, len, K_WRITE))
		return SVT_EMU_FAULT;
	if (tm.retry_at && tm.cmpxchgs == tm.retry_at)
		return SVT_EMU_RETRY;
	if (memcmp(mem + (la - membase), expect, len) != 0)
		return SVT_EMU_RETRY;
	memcpy(mem + (la - membase), val, len);
	tm.writes++;
	return 0;
}

static const struct svt_emu_mem tmem_ops = { &tm, t_read, t_cmpxchg };

static void tm_reset(void)
{
	memset(&tm, 0, sizeof tm);
}

static int emu(struct svt_emu_regs *r, int bits, const uint8_t *insn, unsigned len,
	       struct svt_emu_result *res)
{
	return svt_emulate(r, bits, insn, len, &tmem_ops, res);
}

/* ---- building instructions ------------------------------------------------- */

struct enc {
	uint8_t b[32];
	unsigned n;
};

static void e8(struct enc *e, unsigned v)
{
	e->b[e->n++] = (uint8_t)v;
}

static void eimm(struct enc *e, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		e8(e, (unsigned)(v >> (8 * i)));
}

/* Operand-size prefixes for size in 64-bit code, plus REX bits R/X/B. */
static void esize(struct enc *e, unsigned size, unsigned rexbits)
{
	if (size == 2)
		e8(e, 0x66);
	if (size == 8 || rexbits)
		e8(e, 0x40 | (size == 8 ? 8 : 0) | rexbits);
}

static const char *hex(const uint8_t *b, unsigned n)
{
	static char s[3 * 32 + 1];
	unsigned k = 0;

	for (unsigned i = 0; i < n && i < 32; i++)
		k += (unsigned)snprintf(s + k, sizeof s - k, "%02x ", b[i]);
	s[k ? k - 1 : 0] = 0;
	return s;
}

/* ---- running natively and under the emulator ------------------------------- */

static void need_native(int bits)
{
#if HAVE_NATIVE
	if (!code)
		cr_skip_test("no executable page below 4 GiB");
	if (bits != 64 && !have_ldt)
		cr_skip_test("modify_ldt unavailable: no native 16/32-bit runs");
#else
	(void)bits;
	cr_skip_test("native comparison needs an x86-64 Linux host");
#endif
}

static uint64_t insn_rip(int bits)
{
	return bits == 16 ? INSN_OFF : codebase + INSN_OFF;
}

/* Segments of a native run in 16/32-bit code (64-bit code uses flat ones). */
static unsigned nat_ds = SEL_FLAT, nat_ss = SEL_FLAT, nat_gs;
static uint64_t gs_base64;      /* 64-bit code: GS base to set, 0: leave */

/* A register file for a test: random registers, a sane stack pointer, the
 * segment bases the native run will have, rip at the instruction. */
static void regs_init(struct svt_emu_regs *r, int bits)
{
	for (unsigned i = 0; i < 16; i++)
		r->gpr[i] = rnd();
	r->gpr[RSP] = membase + 0x2f00;
	r->rflags = 2 | (rnd() & FL_ALL);
	r->rip = insn_rip(bits);
	if (bits == 64) {
		/* Ignored in 64-bit code: garbage must not matter. */
		r->seg_base[SVT_EMU_ES] = 0x1000;
		r->seg_base[SVT_EMU_CS] = 0x2000;
		r->seg_base[SVT_EMU_SS] = 0x3000;
		r->seg_base[SVT_EMU_DS] = 0x4000;
		r->seg_base[SVT_EMU_FS] = fs_base;
		r->seg_base[SVT_EMU_GS] = gs_base64;
	} else {
		r->seg_base[SVT_EMU_ES] = sel_base(nat_ds);
		r->seg_base[SVT_EMU_CS] = bits == 16 ? codebase : 0;
		r->seg_base[SVT_EMU_SS] = sel_base(nat_ss);
		r->seg_base[SVT_EMU_DS] = sel_base(nat_ds);
		r->seg_base[SVT_EMU_FS] = 0;
		r->seg_base[SVT_EMU_GS] = nat_gs ? sel_base(nat_gs) : 0;
	}
}

static void fill_random(void)
{
	for (unsigned i = 0; i < MEMSZ; i++)
		mem[i] = (uint8_t)rnd();
}

#if HAVE_NATIVE
static void native_run(int bits, const uint8_t *insn, unsigned len,
		       const struct svt_emu_regs *r, struct nstate *s)
{
	uint8_t *p = code + INSN_OFF;

	memcpy(p, insn, len);
	p += len;
	if (bits == 64) {
		*p++ = 0xff; *p++ = 0x25; put32(p, 0); p += 4;
		put64(p, (uint64_t)(uintptr_t)svt_test_native_exit);
		s->target = codebase + INSN_OFF;
		s->ds_sel = s->ss_sel = SEL_FLAT;
		s->gs_sel = 0;
		if (gs_base64)
			syscall(SYS_arch_prctl, ARCH_SET_GS, gs_base64);
	} else {
		if (bits == 32) {       /* cs: ljmp *[codebase+0x18] */
			*p++ = 0x2e; *p++ = 0xff; *p++ = 0x2d;
			put32(p, (uint32_t)(codebase + 0x18));
			s->target = codebase;
		} else {                /* cs: o32 ljmp *[0x18] */
			*p++ = 0x2e; *p++ = 0x66; *p++ = 0xff; *p++ = 0x2e;
			*p++ = 0x18; *p++ = 0x00;
			s->target = codebase + 0x40;
		}
		s->ds_sel = nat_ds;
		s->ss_sel = nat_ss;
		s->gs_sel = nat_gs;
	}
	for (unsigned i = 0; i < 16; i++)
		s->gpr[i] = r->gpr[i];
	s->rflags = 2 | (r->rflags & (FL_ALL | SVT_EMU_DF));
	svt_test_native_enter(s);
}
#endif

static uint8_t init_mem[MEMSZ], emu_mem[MEMSZ];
static unsigned native_runs;

/*
 * Run insn from *in under the emulator (re-invoking it, as the guest would
 * re-execute, until a REP instruction completes) and natively; compare.
 * flags: the arithmetic flags the instruction defines.
 */
static void check_native(int bits, const uint8_t *insn, unsigned len,
			 const struct svt_emu_regs *in, uint64_t flags, const char *what)
{
#if HAVE_NATIVE
	struct svt_emu_regs e = *in;
	struct svt_emu_result res;
	struct nstate s;
	unsigned calls = 0;
	int rc;

	memcpy(init_mem, mem, MEMSZ);
	tm_reset();
	do {
		rc = emu(&e, bits, insn, len, &res);
		cr_assert_eq(rc, SVT_EMU_OK, "%s [%s]: svt_emulate returned %d (call %u)",
			     what, hex(insn, len), rc, calls);
		cr_assert_eq(res.len, len, "%s [%s]: length %u", what, hex(insn, len), res.len);
		cr_assert(res.complete || res.reps > 0, "%s [%s]: no progress", what, hex(insn, len));
	} while (!res.complete && ++calls < 10000);
	cr_assert_eq(tm.contract, 0, "%s [%s]: callback contract broken", what, hex(insn, len));
	memcpy(emu_mem, mem, MEMSZ);
	memcpy(mem, init_mem, MEMSZ);

	native_run(bits, insn, len, in, &s);
	native_runs++;

	for (unsigned i = 0; i < MEMSZ; i++)
		cr_assert_eq(emu_mem[i], mem[i],
			     "%s [%s]: memory at +%#x: emulated %#x, native %#x",
			     what, hex(insn, len), i, emu_mem[i], mem[i]);
	for (unsigned i = 0; i < (bits == 64 ? 16u : 8u); i++) {
		uint64_t m = bits == 64 ? ~0ull : 0xffffffffu;
		cr_assert_eq(e.gpr[i] & m, s.gpr[i] & m,
			     "%s [%s]: gpr %u: emulated %#llx, native %#llx (in %#llx)",
			     what, hex(insn, len), i, (unsigned long long)e.gpr[i],
			     (unsigned long long)s.gpr[i], (unsigned long long)in->gpr[i]);
	}
	flags |= SVT_EMU_DF;
	cr_assert_eq(e.rflags & flags, s.rflags & flags,
		     "%s [%s]: rflags emulated %#llx, native %#llx (in %#llx, compared %#llx)",
		     what, hex(insn, len), (unsigned long long)e.rflags,
		     (unsigned long long)s.rflags, (unsigned long long)in->rflags,
		     (unsigned long long)flags);
	cr_assert_eq(e.rip, in->rip + len, "%s [%s]: rip", what, hex(insn, len));
	for (unsigned i = 0; i < 6; i++)
		cr_assert_eq(e.seg_base[i], in->seg_base[i]);
	memcpy(mem, init_mem, MEMSZ);
#else
	(void)bits; (void)insn; (void)len; (void)in; (void)flags; (void)what;
#endif
}

/* Place a value of size bytes in memory at la. */
static void poke(uint64_t la, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		mem[la - membase + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t peek(uint64_t la, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = size; i-- > 0;)
		v = (v << 8) | mem[la - membase + i];
	return v;
}

static const unsigned sizes[] = { 1, 2, 4, 8 };

/* ---- arithmetic and logic, against the CPU ----------------------------------- */

static const struct {
	const char *name;
	unsigned ext;           /* opcode row (00 ADD ... 30 XOR) and group-1 /n */
	uint64_t flags;
} alu_ops[] = {
	{ "add", 0, FL_ALL }, { "or", 1, FL_LOGIC }, { "adc", 2, FL_ALL },
	{ "sbb", 3, FL_ALL }, { "and", 4, FL_LOGIC }, { "sub", 5, FL_ALL },
	{ "xor", 6, FL_LOGIC },
};

/* op [rbx], rcx (or r9 with REX.R): 00/01, 08/09, ... 30/31 */
Test(emul, alu_register_source_native)
{
	need_native(64);
	fill_random();
	for (size_t o = 0; o < sizeof alu_ops / sizeof alu_ops[0]; o++) {
		for (size_t z = 0; z < 4; z++) {
			unsigned size = sizes[z];
			uint64_t v[16];
			unsigned n = edge_values(size, v);

			for (unsigned i = 0; i < n; i++) {
				for (unsigned j = 0; j < n; j++) {
					struct svt_emu_regs r;
					struct enc e = { .n = 0 };
					bool lock = (i + j) & 1, r9 = (i + j) % 3 == 0;
					uint64_t dst = membase + 0x1000 + 8 * (rnd() % 256);

					regs_init(&r, 64);
					r.gpr[RBX] = dst;
					r.gpr[r9 ? 9 : RCX] = (rnd() & ~mask_of(size)) | v[j];
					r.rflags = 2 | (rnd() & FL_ALL);
					poke(dst, v[i], size);
					if (lock)
						e8(&e, 0xf0);
					esize(&e, size, r9 ? 4 : 0);
					e8(&e, alu_ops[o].ext * 8 + (size == 1 ? 0 : 1));
					e8(&e, 0x0b);   /* mod 00, reg rcx (r9 with REX.R), rm rbx */
					check_native(64, e.b, e.n, &r, alu_ops[o].flags, alu_ops[o].name);
					/* ADC/SBB: both carries in. */
					r.rflags ^= SVT_EMU_CF;
					check_native(64, e.b, e.n, &r, alu_ops[o].flags, alu_ops[o].name);
				}
			}
		}
	}
}

/* group 1: 80 /n ib, 81 /n iz, 83 /n ib (sign-extended) */
Test(emul, alu_immediate_native)
{
	need_native(64);
	fill_random();
	for (size_t o = 0; o < sizeof alu_ops / sizeof alu_ops[0]; o++) {
		for (size_t z = 0; z < 4; z++) {
			unsigned size = sizes[z];
			uint64_t v[16];
			unsigned n = edge_values(size, v);

			for (unsigned form = 0; form < 2; form++) {
				if (size == 1 && form == 1)
					continue;
				for (unsigned i = 0; i < n; i++) {
					for (unsigned j = 0; j < n; j++) {
						struct svt_emu_regs r;
						struct enc e = { .n = 0 };
						uint64_t dst = membase + 0x1000 + 8 * (rnd() % 256);
						unsigned disp = (unsigned)(rnd() & 0x78);

						regs_init(&r, 64);
						r.gpr[RBX] = dst - disp;
						poke(dst, v[i], size);
						if (j & 1)
							e8(&e, 0xf0);
						esize(&e, size, 0);
						if (size == 1)
							e8(&e, 0x80);
						else
							e8(&e, form == 0 ? 0x83 : 0x81);
						e8(&e, 0x43 | alu_ops[o].ext << 3);     /* [rbx+disp8] */
						e8(&e, disp);
						if (size == 1 || form == 0)
							eimm(&e, v[j], 1);
						else
							eimm(&e, v[j], size == 2 ? 2 : 4);
						check_native(64, e.b, e.n, &r, alu_ops[o].flags, alu_ops[o].name);
						r.rflags ^= SVT_EMU_CF;
						check_native(64, e.b, e.n, &r, alu_ops[o].flags, alu_ops[o].name);
					}
				}
			}
		}
	}
}

/* INC/DEC (FE/FF /0 /1), NOT/NEG (F6/F7 /2 /3) */
Test(emul, unary_native)
{
	static const struct { const char *name; unsigned op8, ext; uint64_t flags; } ops[] = {
		{ "inc", 0xfe, 0, FL_ALL }, { "dec", 0xfe, 1, FL_ALL },
		{ "not", 0xf6, 2, FL_ALL }, { "neg", 0xf6, 3, FL_ALL },
	};

	need_native(64);
	fill_random();
	for (size_t o = 0; o < 4; o++) {
		for (size_t z = 0; z < 4; z++) {
			unsigned size = sizes[z];
			uint64_t v[16];
			unsigned n = edge_values(size, v);

			for (unsigned i = 0; i < n; i++) {
				for (unsigned lock = 0; lock < 2; lock++) {
					struct svt_emu_regs r;
					struct enc e = { .n = 0 };
					uint64_t dst = membase + 0x1000 + 8 * (rnd() % 256);

					regs_init(&r, 64);
					r.gpr[RDI] = dst;
					poke(dst, v[i], size);
					if (lock)
						e8(&e, 0xf0);
					esize(&e, size, 0);
					e8(&e, ops[o].op8 + (size == 1 ? 0 : 1));
					e8(&e, 0x07 | ops[o].ext << 3);         /* [rdi] */
					check_native(64, e.b, e.n, &r, ops[o].flags, ops[o].name);
					r.rflags ^= FL_ALL;
					check_native(64, e.b, e.n, &r, ops[o].flags, ops[o].name);
				}
			}
		}
	}
}

/* XCHG (86/87) and XADD (0F C0/C1) */
Test(emul, xchg_xadd_native)
{
	need_native(64);
	fill_random();
	for (unsigned xadd = 0; xadd < 2; xadd++) {
		for (size_t z = 0; z < 4; z++) {
			unsigned size = sizes[z];
			uint64_t v[16];
			unsigned n = edge_values(size, v);

			for (unsigned i = 0; i < n; i++) {
				for (unsigned j = 0; j < n; j++) {
					struct svt_emu_regs r;
					struct enc e = { .n = 0 };
					uint64_t dst = membase + 0x1000 + 8 * (rnd() % 256);
					unsigned reg = (unsigned)(rnd() % 16);

					if (reg == RSP || reg == RBX)
						reg = RDX;
					regs_init(&r, 64);
					r.gpr[RBX] = dst;
					r.gpr[reg] = (rnd() & ~mask_of(size)) | v[j];
					poke(dst, v[i], size);
					if (j & 1)
						e8(&e, 0xf0);
					esize(&e, size, reg & 8 ? 4 : 0);
					if (xadd) {
						e8(&e, 0x0f);
						e8(&e, size == 1 ? 0xc0 : 0xc1);
					} else {
						e8(&e, size == 1 ? 0x86 : 0x87);
					}
					e8(&e, 0x03 | (reg & 7) << 3);
					check_native(64, e.b, e.n, &r, FL_ALL, xadd ? "xadd" : "xchg");
				}
			}
		}
	}
}

/* CMPXCHG (0F B0/B1), both outcomes; the accumulator's upper bits are
 * garbage so its write (zero-extending or not) is checked too. */
Test(emul, cmpxchg_native)
{
	need_native(64);
	fill_random();
	for (size_t z = 0; z < 4; z++) {
		unsigned size = sizes[z];
		uint64_t v[16];
		unsigned n = edge_values(size, v);

		for (unsigned i = 0; i < n; i++) {
			for (unsigned j = 0; j < n; j++) {
				for (unsigned equal = 0; equal < 2; equal++) {
					struct svt_emu_regs r;
					struct enc e = { .n = 0 };
					uint64_t dst = membase + 0x1000 + 8 * (rnd() % 256);

					regs_init(&r, 64);
					r.gpr[RSI] = dst;
					r.gpr[RDX] = rnd();
					r.gpr[RAX] = (rnd() & ~mask_of(size)) | (equal ? v[i] : v[j]);
					poke(dst, v[i], size);
					if (!(j & 1))
						e8(&e, 0xf0);
					esize(&e, size, 0);
					e8(&e, 0x0f);
					e8(&e, size == 1 ? 0xb0 : 0xb1);
					e8(&e, 0x16);                   /* [rsi], dl/dx/edx/rdx */
					check_native(64, e.b, e.n, &r, FL_ALL, "cmpxchg");
				}
			}
		}
	}
}

/* CMPXCHG8B and CMPXCHG16B (0F C7 /1, REX.W) */
Test(emul, cmpxchg8b_16b_native)
{
	need_native(64);
	fill_random();
	for (unsigned wide = 0; wide < 2; wide++) {
		uint64_t v[16];
		unsigned n = edge_values(8, v);

		for (unsigned i = 0; i < n; i++) {
			for (unsigned j = 0; j < n; j++) {
				for (unsigned how = 0; how < 4; how++) {
					struct svt_emu_regs r;
					struct enc e = { .n = 0 };
					uint64_t dst = membase + 0x1000 + 16 * (rnd() % 256);
					uint64_t lo = v[i], hi = v[j] ^ 0x0123456789abcdefull;

					regs_init(&r, 64);
					r.gpr[RDI] = dst - 0x40;
					poke(dst, lo, 8);
					poke(dst + 8, hi, 8);
					if (wide) {
						r.gpr[RAX] = lo;
						r.gpr[RDX] = hi;
					} else {
						r.gpr[RAX] = (rnd() << 32) | (lo & 0xffffffffu);
						r.gpr[RDX] = (rnd() << 32) | (lo >> 32);
					}
					/* how: 0 equal; 1 low half differs; 2 high half
					 * differs; 3 both differ */
					if (how & 1)
						r.gpr[RAX] ^= 1ull << (rnd() % (wide ? 64 : 32));
					if (how & 2)
						r.gpr[RDX] ^= 1ull << (rnd() % (wide ? 64 : 32));
					if (how == 0 && j == 1)
						r.gpr[RAX] = lo ^ (wide ? 0 : 1ull << 40);  /* garbage above EAX */
					if (i & 1)
						e8(&e, 0xf0);
					if (wide)
						e8(&e, 0x48);
					e8(&e, 0x0f);
					e8(&e, 0xc7);
					e8(&e, 0x4f);                   /* /1 [rdi+disp8] */
					e8(&e, 0x40);
					r.rflags = 2 | (rnd() & FL_ALL);
					check_native(64, e.b, e.n, &r, FL_ALL,
						     wide ? "cmpxchg16b" : "cmpxchg8b");
				}
			}
		}
	}
}

/* BTS/BTR/BTC with a register bit offset (0F AB/B3/BB): signed offsets
 * that address words below and above the operand. */
Test(emul, bt_register_offset_native)
{
	static const int64_t offs[] = {
		0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 1000, 32767,
		-1, -2, -15, -16, -17, -31, -32, -33, -63, -64, -65, -1000, -32768,
	};
	static const struct { const char *name; unsigned op; } ops[] = {
		{ "bts", 0xab }, { "btr", 0xb3 }, { "btc", 0xbb },
	};

	need_native(64);
	fill_random();
	for (size_t o = 0; o < 3; o++) {
		for (size_t z = 1; z < 4; z++) {
			unsigned size = sizes[z];

			for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
				for (unsigned lock = 0; lock < 2; lock++) {
					struct svt_emu_regs r;
					struct enc e = { .n = 0 };
					uint64_t off = (uint64_t)offs[k];

					if (size == 2 && (offs[k] > 32767 || offs[k] < -32768))
						continue;
					regs_init(&r, 64);
					r.gpr[RBX] = membase + 0x1800;
					/* bits above the operand size are ignored */
					r.gpr[RCX] = (rnd() & ~mask_of(size)) | (off & mask_of(size));
					r.rflags ^= FL_ALL * lock;
					if (lock)
						e8(&e, 0xf0);
					esize(&e, size, 0);
					e8(&e, 0x0f);
					e8(&e, ops[o].op);
					e8(&e, 0x0b);                   /* [rbx], cx/ecx/rcx */
					check_native(64, e.b, e.n, &r, FL_BT, ops[o].name);
				}
			}
		}
	}
}

/* 0F BA /5 /6 /7 ib: the immediate is taken modulo the operand size. */
Test(emul, bt_immediate_native)
{
	need_native(64);
	fill_random();
	for (unsigned ext = 5; ext <= 7; ext++) {
		for (size_t z = 1; z < 4; z++) {
			for (unsigned imm = 0; imm < 256; imm += 3) {
				struct svt_emu_regs r;
				struct enc e = { .n = 0 };

				regs_init(&r, 64);
				r.gpr[RBP] = membase + 0x1000 + 8 * (rnd() % 256);
				if (imm & 4)
					e8(&e, 0xf0);
				esize(&e, sizes[z], 0);
				e8(&e, 0x0f);
				e8(&e, 0xba);
				e8(&e, 0x45 | ext << 3);        /* [rbp+0] */
				e8(&e, 0);
				e8(&e, imm);
				check_native(64, e.b, e.n, &r, FL_BT, "bt* imm");
			}
		}
	}
}

/* MOV: 88/89 reg, C6/C7 imm (C7 with REX.W sign-extends imm32), A2/A3. */
Test(emul, mov_native)
{
	need_native(64);
	fill_random();
	for (size_t z = 0; z < 4; z++) {
		unsigned size = sizes[z];
		uint64_t v[16];
		unsigned n = edge_values(size, v);

		for (unsigned i = 0; i < n; i++) {
			for (unsigned form = 0; form < 4; form++) {
				struct svt_emu_regs r;
				struct enc e = { .n = 0 };
				uint64_t dst = membase + 0x1000 + 8 * (rnd() % 256);

				regs_init(&r, 64);
				r.gpr[RAX] = (rnd() & ~mask_of(size)) | v[i];
				switch (form) {
				case 0: /* mov [r12+disp32], eax (REX.B, SIB required) */
					r.gpr[12] = dst - 0x12345;
					esize(&e, size, 1);
					e8(&e, size == 1 ? 0x88 : 0x89);
					e8(&e, 0x84);
					e8(&e, 0x24);
					eimm(&e, 0x12345, 4);
					break;
				case 1: /* mov [r13+0], imm (REX.B, disp8 required) */
					r.gpr[13] = dst;
					esize(&e, size, 1);
					e8(&e, size == 1 ? 0xc6 : 0xc7);
					e8(&e, 0x45);
					e8(&e, 0);
					eimm(&e, v[(i + 3) % n], size == 1 ? 1 : size == 2 ? 2 : 4);
					break;
				case 2: /* mov moffs64, al/ax/eax/rax */
					esize(&e, size, 0);
					e8(&e, size == 1 ? 0xa2 : 0xa3);
					eimm(&e, dst, 8);
					break;
				case 3: /* addr32 mov moffs32, ... */
					e8(&e, 0x67);
					esize(&e, size, 0);
					e8(&e, size == 1 ? 0xa2 : 0xa3);
					eimm(&e, dst, 4);
					break;
				}
				check_native(64, e.b, e.n, &r, FL_ALL, "mov");
			}
		}
	}
}

/* ---- addressing: every ModRM/SIB form, against the CPU -------------------- */

/*
 * Build "mov byte [mem], reg8" (88 /r) with the given mod, rm, SIB byte and
 * REX bits (R/X/B), and set the registers it uses so that the address lands
 * at a random place in the middle page.  The register roles follow the
 * SDM's tables (Vol. 2, 2-2 and 2-3), restated here: no base with SIB
 * base 101 and mod 00, no index with index 100 (R12 is one), RIP-relative
 * for mod 00 rm 101 in 64-bit code, SS for rBP/rSP bases.
 */
static void addr32_case(int bits, bool a32, unsigned mod, unsigned rm, unsigned sib,
			unsigned rex, struct enc *e, struct svt_emu_regs *r)
{
	uint64_t target = membase + 0x1000 + rnd() % 0x800, ea, disp = 0, idx = 0;
	uint64_t amask = bits == 64 && !a32 ? ~0ull : 0xffffffffu;
	int base = -1, index = -1;
	unsigned scale = 0, dsz = mod == 1 ? 1 : mod == 2 ? 4 : 0, dpos;
	bool riprel = false;

	if (rm == 4) {
		index = (int)(((sib >> 3) & 7) | (rex & 2 ? 8 : 0));
		if (index == 4)
			index = -1;
		scale = sib >> 6;
		if ((sib & 7) == 5 && mod == 0)
			dsz = 4;
		else
			base = (int)((sib & 7) | (rex & 1 ? 8 : 0));
	} else if (rm == 5 && mod == 0) {
		dsz = 4;
		riprel = bits == 64;
	} else {
		base = (int)(rm | (rex & 1 ? 8 : 0));
	}
	ea = target;
	if (bits != 64)
		ea -= base == RSP || base == RBP ? r->seg_base[SVT_EMU_SS] : r->seg_base[SVT_EMU_DS];

	if (a32 || bits == 32)
		for (unsigned i = 0; i < 16; i++)     /* ignored upper halves */
			r->gpr[i] = rnd();
	r->gpr[RSP] = (r->gpr[RSP] & ~0xffffffffull) | (membase + 0x2f00);
	if (dsz == 1)
		disp = (uint64_t)(int64_t)(int8_t)rnd();
	else if (dsz == 4 && (base >= 0 || index >= 0))
		disp = (uint64_t)(int64_t)(int32_t)(rnd() % 0x10000) - 0x8000;
	if (index >= 0) {
		idx = rnd() % 0x100;
		r->gpr[index] = (r->gpr[index] & ~amask) | idx;
	}
	if (base >= 0 && base == index) {
		uint64_t v = (ea - disp) / (1 + (1u << scale));
		r->gpr[base] = (r->gpr[base] & ~amask) | v;
	} else if (base >= 0) {
		r->gpr[base] = (r->gpr[base] & ~amask) | ((ea - disp - (idx << scale)) & amask);
	} else if (!riprel) {
		disp = ea - (idx << scale);
	}

	if (a32)
		e8(e, 0x67);
	if (rex)
		e8(e, 0x40 | rex);
	e8(e, 0x88);
	e8(e, mod << 6 | (unsigned)(rnd() & 7) << 3 | rm);
	if (rm == 4)
		e8(e, sib);
	dpos = e->n;
	eimm(e, disp, dsz);
	if (riprel) {
		disp = ea - (r->rip + e->n);
		put32(e->b + dpos, (uint32_t)disp);
	}
}

static void sweep32(int bits, bool a32)
{
	unsigned nrex = bits == 64 ? 8 : 1;
	char what[64];

	fill_random();
	for (unsigned rex = 0; rex < nrex; rex++) {
		for (unsigned mod = 0; mod < 3; mod++) {
			for (unsigned rm = 0; rm < 8; rm++) {
				for (unsigned sib = 0; sib < (rm == 4 ? 256u : 1u); sib++) {
					struct svt_emu_regs r;
					struct enc e = { .n = 0 };

					regs_init(&r, bits);
					addr32_case(bits, a32, mod, rm, sib, rex, &e, &r);
					snprintf(what, sizeof what, "%d-bit code%s mod %u rm %u sib %#x rex %#x",
						 bits, a32 ? " addr32" : "", mod, rm, sib, rex);
					check_native(bits, e.b, e.n, &r, FL_ALL, what);
				}
			}
		}
	}
}

Test(emul, modrm_sib_64_native)
{
	need_native(64);
	sweep32(64, false);
}

Test(emul, modrm_sib_64_addr32_native)
{
	need_native(64);
	sweep32(64, true);
}

/* 32-bit code with DS/ES based at the memory and SS elsewhere, so a wrong
 * default segment for EBP/ESP bases shows. */
Test(emul, modrm_sib_32_native)
{
	need_native(32);
	nat_ds = SEL_MEM;
	nat_ss = SEL_MEM2;
	sweep32(32, false);
}

/* 16-bit addressing (SDM table 2-1): BX+SI ... BX, BP-based through SS,
 * disp16 alone for mod 00 rm 110, sums wrapping at 16 bits. */
static void addr16_case(int bits, unsigned mod, unsigned rm, struct enc *e,
			struct svt_emu_regs *r)
{
	static const int base[8] = { RBX, RBX, RBP, RBP, -1, -1, RBP, RBX };
	static const int index[8] = { RSI, RDI, RSI, RDI, RSI, RDI, -1, -1 };
	bool direct = mod == 0 && rm == 6;
	int b = direct ? -1 : base[rm], x = direct ? -1 : index[rm];
	uint64_t target = membase + 0x1000 + rnd() % 0x800;
	uint64_t ea = target - r->seg_base[b == RBP ? SVT_EMU_SS : SVT_EMU_DS];
	uint64_t disp = 0, a = 0;

	if (mod == 1)
		disp = (uint64_t)(int64_t)(int8_t)rnd();
	else if (mod == 2)
		disp = rnd() & 0xffff;
	if (x >= 0) {
		a = rnd() & 0xffff;
		r->gpr[x] = (r->gpr[x] & ~0xffffull) | a;
	}
	if (b >= 0)
		r->gpr[b] = (r->gpr[b] & ~0xffffull) | ((ea - disp - a) & 0xffff);
	if (direct)
		disp = ea;
	if (bits == 32)
		e8(e, 0x67);
	e8(e, 0x88);
	e8(e, mod << 6 | (unsigned)(rnd() & 7) << 3 | rm);
	eimm(e, disp, direct || mod == 2 ? 2 : mod);
}

static void sweep16(int bits)
{
	char what[64];

	nat_ds = SEL_MEM;
	nat_ss = SEL_MEM2;
	fill_random();
	for (unsigned round = 0; round < 16; round++) {
		for (unsigned mod = 0; mod < 3; mod++) {
			for (unsigned rm = 0; rm < 8; rm++) {
				struct svt_emu_regs r;
				struct enc e = { .n = 0 };

				regs_init(&r, bits);
				addr16_case(bits, mod, rm, &e, &r);
				snprintf(what, sizeof what, "%d-bit code addr16 mod %u rm %u", bits, mod, rm);
				check_native(bits, e.b, e.n, &r, FL_ALL, what);
			}
		}
	}
}

Test(emul, modrm_16_in_32bit_code_native)
{
	need_native(32);
	sweep16(32);
}

Test(emul, modrm_16_in_16bit_code_native)
{
	need_native(16);
	sweep16(16);
}

/* Byte registers: AH CH DH BH without REX, SPL BPL SIL DIL with it. */
Test(emul, byte_registers_native)
{
	need_native(64);
	fill_random();
	for (unsigned rex = 0; rex < 2; rex++) {
		for (unsigned reg = 0; reg < 8; reg++) {
			for (unsigned op = 0; op < 3; op++) {
				static const uint8_t opc[3][2] = { { 0x88, 0 }, { 0x00, 0 }, { 0x0f, 0xb0 } };
				struct svt_emu_regs r;
				struct enc e = { .n = 0 };
				unsigned base = reg == 7 ? RSI : RDI;

				regs_init(&r, 64);
				r.gpr[base] = membase + 0x1000 + rnd() % 0x1000;
				r.gpr[RAX] = peek(r.gpr[base], 1) | (rnd() << 8);  /* cmpxchg: equal */
				if (rex)
					e8(&e, 0x40);
				e8(&e, opc[op][0]);
				if (opc[op][1])
					e8(&e, opc[op][1]);
				e8(&e, reg << 3 | base);
				check_native(64, e.b, e.n, &r, FL_ALL, "byte register");
			}
		}
	}
}

/* Prefix combinations the decoder must get right. */
Test(emul, prefixes_native)
{
	static const struct { uint8_t b[16]; unsigned n; const char *what; } cases[] = {
		{ { 0x48, 0x66, 0x89, 0x0b }, 4, "REX before 66 is ignored" },
		{ { 0x66, 0x48, 0x89, 0x0b }, 4, "REX.W beats 66" },
		{ { 0x48, 0x40, 0x89, 0x0b }, 4, "only the last REX counts" },
		{ { 0x66, 0x66, 0x89, 0x0b }, 4, "66 twice" },
		{ { 0x67, 0x89, 0x0b }, 3, "addr32" },
		{ { 0x67, 0x48, 0x89, 0x0b }, 4, "addr32 REX.W" },
		{ { 0xf3, 0x89, 0x0b }, 3, "F3 on MOV (XRELEASE)" },
		{ { 0xf2, 0xf0, 0x01, 0x0b }, 4, "XACQUIRE LOCK ADD" },
		{ { 0xf0, 0xf3, 0x29, 0x0b }, 4, "LOCK XRELEASE SUB" },
		{ { 0xf0, 0xf0, 0x09, 0x0b }, 4, "LOCK twice" },
		{ { 0x26, 0x89, 0x0b }, 3, "ES ignored in 64-bit code" },
		{ { 0x2e, 0x89, 0x0b }, 3, "CS ignored in 64-bit code" },
		{ { 0x36, 0x89, 0x0b }, 3, "SS ignored in 64-bit code" },
		{ { 0x3e, 0x89, 0x0b }, 3, "DS ignored in 64-bit code" },
		{ { 0x26, 0x2e, 0x36, 0x3e, 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x48, 0x0f, 0xb1, 0x0b },
		  13, "many prefixes" },
		{ { 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x66, 0x0f, 0xba, 0x6b, 0x7f, 0x0d },
		  15, "15 bytes: bts [rbx+0x7f], 13" },
		{ { 0x45, 0x87, 0x0b }, 3, "REX.RB: xchg [r11], r9d" },
		{ { 0x4c, 0x01, 0x0c, 0x4b }, 4, "REX.WR SIB: add [rbx+rcx*2], r9" },
	};

	need_native(64);
	fill_random();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		for (unsigned round = 0; round < 8; round++) {
			struct svt_emu_regs r;

			regs_init(&r, 64);
			r.gpr[RBX] = (rnd() << 32) | (membase + 0x1000 + 8 * (rnd() % 64));
			if (!(cases[i].b[0] == 0x67 || cases[i].b[4] == 0x66))
				r.gpr[RBX] &= 0xffffffffu;
			r.gpr[RCX] = rnd() % 64;
			r.gpr[11] = r.gpr[RBX];
			r.gpr[RAX] = round & 1 ? peek(r.gpr[RBX] & 0xffffffffu, 8) : rnd();
			check_native(64, cases[i].b, cases[i].n, &r, FL_ALL, cases[i].what);
		}
	}
}

/* FS and GS bases apply in 64-bit code; a base plus an effective address
 * wraps at 2^64 (the FS case: the host's own TLS base, unchanged). */
Test(emul, fs_gs_native)
{
	need_native(64);
	gs_base64 = membase + 0x800;
	fill_random();
	for (unsigned round = 0; round < 64; round++) {
		struct svt_emu_regs r;
		uint64_t target = membase + 0x1000 + 8 * (rnd() % 256);
		static const uint8_t fs_mov[] = { 0x64, 0x48, 0x89, 0x0b };     /* mov fs:[rbx], rcx */
		static const uint8_t gs_add[] = { 0xf0, 0x65, 0x01, 0x0b };     /* lock add gs:[rbx], ecx */
		static const uint8_t gs_a32[] = { 0x65, 0x67, 0x88, 0x0b };     /* mov gs:[ebx], cl */
		static const uint8_t gs_moffs[] = { 0x65, 0x67, 0xa3, 0, 0, 0, 0 };
		uint8_t m[sizeof gs_moffs];

		regs_init(&r, 64);
		r.gpr[RBX] = target - fs_base;
		check_native(64, fs_mov, sizeof fs_mov, &r, FL_ALL, "fs mov");
		r.gpr[RBX] = target - gs_base64;
		check_native(64, gs_add, sizeof gs_add, &r, FL_ALL, "gs add");
		r.gpr[RBX] = (rnd() << 32) | (target - gs_base64);
		check_native(64, gs_a32, sizeof gs_a32, &r, FL_ALL, "gs addr32");
		memcpy(m, gs_moffs, sizeof m);
		put32(m + 3, (uint32_t)(target - gs_base64));
		check_native(64, m, sizeof m, &r, FL_ALL, "gs moffs32");
	}
}

/* 32-bit code: segment bases added and wrapping at 4 GiB, every override. */
Test(emul, segments_32_native)
{
	static const struct { uint8_t pfx; int seg; } ov[] = {
		{ 0, SVT_EMU_DS }, { 0x26, SVT_EMU_ES }, { 0x2e, SVT_EMU_CS },
		{ 0x36, SVT_EMU_SS }, { 0x3e, SVT_EMU_DS }, { 0x65, SVT_EMU_GS },
	};

	need_native(32);
	nat_ds = SEL_MEM;
	nat_ss = SEL_MEM2;
	fill_random();
	for (unsigned high = 0; high < 2; high++) {
		nat_gs = high ? SEL_HIGH : SEL_MEM2;    /* 0xffff0000 + ea wraps */
		for (size_t i = 0; i < sizeof ov / sizeof ov[0]; i++) {
			for (unsigned round = 0; round < 16; round++) {
				struct svt_emu_regs r;
				struct enc e = { .n = 0 };
				uint64_t target = membase + 0x1000 + 4 * (rnd() % 512);

				regs_init(&r, 32);
				r.gpr[RBX] = (target - r.seg_base[ov[i].seg]) & 0xffffffffu;
				if (ov[i].pfx)
					e8(&e, ov[i].pfx);
				e8(&e, round & 1 ? 0x01 : 0x89);    /* add/mov [ebx], ecx */
				e8(&e, 0x0b);
				check_native(32, e.b, e.n, &r, FL_ALL, "32-bit segment");
			}
		}
	}
}

/* The arithmetic again in 32-bit and 16-bit code (66 selects the other
 * operand size), with CMPXCHG8B. */
static void alu_small_code(int bits)
{
	nat_ds = SEL_MEM;
	nat_ss = SEL_MEM2;
	fill_random();
	for (size_t o = 0; o < sizeof alu_ops / sizeof alu_ops[0] + 3; o++) {
		for (size_t z = 0; z < 3; z++) {
			unsigned size = sizes[z];
			uint64_t v[16];
			unsigned n = edge_values(size, v);

			for (unsigned i = 0; i < n; i++) {
				for (unsigned j = 0; j < n; j += 2) {
					struct svt_emu_regs r;
					struct enc e = { .n = 0 };
					uint64_t off = 0x1000 + 8 * (rnd() % 256);
					const char *what;
					uint64_t flags = FL_ALL;

					regs_init(&r, bits);
					if (bits == 16)
						r.gpr[RBX] = (r.gpr[RBX] & ~0xffffull) | off;
					else
						r.gpr[RBX] = off;   /* DS base = membase */
					r.gpr[RCX] = (rnd() & ~mask_of(size)) | v[j];
					r.gpr[RAX] = (rnd() & ~mask_of(size)) | (j & 2 ? v[i] : v[j]);
					poke(membase + off, v[i], size);
					if (j & 4)
						e8(&e, 0xf0);
					if ((size == 2) != (bits == 16) && size != 1)
						e8(&e, 0x66);
					if (o < sizeof alu_ops / sizeof alu_ops[0]) {
						e8(&e, alu_ops[o].ext * 8 + (size == 1 ? 0 : 1));
						what = alu_ops[o].name;
						flags = alu_ops[o].flags;
					} else if (o == sizeof alu_ops / sizeof alu_ops[0]) {
						e8(&e, 0x0f);
						e8(&e, size == 1 ? 0xb0 : 0xb1);
						what = "cmpxchg";
					} else if (o == sizeof alu_ops / sizeof alu_ops[0] + 1) {
						e8(&e, size == 1 ? 0x86 : 0x87);
						what = "xchg";
					} else {
						if (size == 1)
							continue;
						e8(&e, 0x0f);
						e8(&e, 0xab);
						what = "bts";
						flags = FL_BT;
						r.gpr[RCX] = (r.gpr[RCX] & ~mask_of(size)) |
							((v[j] % 512 - 256) & mask_of(size));
					}
					e8(&e, bits == 16 ? 0x0f : 0x0b);  /* [bx], cx / [ebx], ecx */
					check_native(bits, e.b, e.n, &r, flags, what);
				}
			}
		}
	}
	/* cmpxchg8b [bx]/[ebx]: both outcomes */
	for (unsigned i = 0; i < 64; i++) {
		struct svt_emu_regs r;
		struct enc e = { .n = 0 };
		uint64_t off = 0x1000 + 8 * (rnd() % 256), old = rnd();

		regs_init(&r, bits);
		r.gpr[RBX] = bits == 16 ? (r.gpr[RBX] & ~0xffffull) | off : off;
		poke(membase + off, old, 8);
		if (i & 1) {
			r.gpr[RAX] = old & 0xffffffffu;
			r.gpr[RDX] = old >> 32;
		}
		e8(&e, 0xf0);
		e8(&e, 0x0f);
		e8(&e, 0xc7);
		e8(&e, bits == 16 ? 0x0f : 0x0b);
		check_native(bits, e.b, e.n, &r, FL_ALL, "cmpxchg8b");
	}
}

Test(emul, alu_32bit_code_native)
{
	need_native(32);
	alu_small_code(32);
}

Test(emul, alu_16bit_code_native)
{
	need_native(16);
	alu_small_code(16);
}

/* ---- STOS and MOVS, against the CPU ----------------------------------------- */

/*
 * One string instruction: size, REP or not (F3, or F2), DF, count, where
 * the destination and source start.  The emulator is re-invoked until the
 * instruction completes, as the guest re-executing it would.
 */
static void string_case(int bits, bool movs, unsigned size, unsigned rep, bool df,
			unsigned count, uint64_t dst, uint64_t src, bool a_alt, uint8_t seg)
{
	struct svt_emu_regs r;
	struct enc e = { .n = 0 };
	unsigned as = bits == 64 ? (a_alt ? 4 : 8) : bits == 32 ? (a_alt ? 2 : 4) : (a_alt ? 4 : 2);
	uint64_t am = mask_of(as);
	char what[96];

	regs_init(&r, bits);
	if (df)
		r.rflags |= SVT_EMU_DF;
	r.gpr[RDI] = (r.gpr[RDI] & ~am) | ((dst - r.seg_base[SVT_EMU_ES]) & am);
	r.gpr[RSI] = (r.gpr[RSI] & ~am) |
		((src - r.seg_base[seg == 0x65 ? SVT_EMU_GS : SVT_EMU_DS]) & am);
	r.gpr[RCX] = (r.gpr[RCX] & ~am) | count;
	if (seg)
		e8(&e, seg);
	if (rep)
		e8(&e, rep);
	if (a_alt)
		e8(&e, 0x67);
	if (size == 2 ? bits != 16 : size == 4 ? bits == 16 : false)
		e8(&e, 0x66);
	if (size == 8)
		e8(&e, 0x48);
	e8(&e, (movs ? 0xa4 : 0xaa) + (size > 1));
	snprintf(what, sizeof what, "%d-bit %s%u rep %#x df %d count %u dst +%#llx src +%#llx",
		 bits, movs ? "movs" : "stos", size, rep, df, count,
		 (unsigned long long)(dst - membase), (unsigned long long)(src - membase));
	check_native(bits, e.b, e.n, &r, FL_ALL, what);
}

Test(emul, string_64_native)
{
	static const unsigned counts[] = { 0, 1, 2, 3, 7, 16, 100 };

	need_native(64);
	fill_random();
	for (unsigned movs = 0; movs < 2; movs++) {
		for (size_t z = 0; z < 4; z++) {
			unsigned size = sizes[z];

			for (unsigned df = 0; df < 2; df++) {
				for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
					uint64_t mid = membase + 0x1000 + size * (rnd() % (0x800 / size)) + 0x400;
					uint64_t src = membase + 0x800 + rnd() % 0x1800;
					unsigned c = counts[k];

					string_case(64, movs, size, 0, df, c, mid, src, false, 0);
					string_case(64, movs, size, 0xf3, df, c, mid, src, false, 0);
					string_case(64, movs, size, 0xf2, df, c, mid, src, k & 1, 0);
					string_case(64, movs, size, 0xf3, df, c, mid, src, true,
						    movs && (k & 1) ? 0x65 : 0);
				}
				/* Crossing into the next (or previous) page: the
				 * emulator stops at the page and is re-invoked. */
				for (unsigned c = 1; c < 40; c += 3) {
					uint64_t edge = df ? membase + 0x2000 + size * (c / 2)
							   : membase + 0x1000 - size * (c / 2);
					string_case(64, movs, size, 0xf3, df, c, edge,
						    membase + 0x1000 + rnd() % 0x400, false, 0);
				}
			}
			/* Overlapping source and destination. */
			for (unsigned k = 0; k < 16; k++) {
				uint64_t d = membase + 0x1400 + size * (rnd() % 64);
				string_case(64, true, size, 0xf3, k & 1, 40,
					    d, d + (rnd() % 32) - 16, false, 0);
			}
		}
	}
}

Test(emul, string_32_16_native)
{
	need_native(32);
	nat_ds = SEL_MEM;
	nat_ss = SEL_MEM2;
	nat_gs = SEL_MEM2;
	fill_random();
	for (int bits = 16; bits <= 32; bits += 16) {
		for (unsigned movs = 0; movs < 2; movs++) {
			for (size_t z = 0; z < 3; z++) {
				unsigned size = sizes[z];

				for (unsigned k = 0; k < 24; k++) {
					uint64_t dst = membase + 0x1000 + size * (rnd() % (0x1000 / size));
					uint64_t src = membase + 0x800 + rnd() % 0x1800;
					unsigned c = (unsigned)(rnd() % 50);

					string_case(bits, movs, size, k & 1 ? 0xf3 : 0, k & 2, c, dst, src,
						    k & 4, movs && (k & 8) ? 0x65 : 0);
				}
			}
		}
	}
}
