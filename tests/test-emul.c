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
	"	push %rbx\n	push %rbp\n	push %r12\n"
	"	push %r13\n	push %r14\n	push %r15\n"
	"	mov %rsp, .Lnat_rsp(%rip)\n"
	"	mov %rdi, .Lnat_state(%rip)\n"
	"	mov 136(%rdi), %rax\n	mov %rax, .Lnat_target(%rip)\n"
	"	mov %ds, %eax\n	mov %eax, .Lnat_ds(%rip)\n"
	"	mov %es, %eax\n	mov %eax, .Lnat_es(%rip)\n"
	"	mov %ss, %eax\n	mov %eax, .Lnat_ss(%rip)\n"
	"	mov %gs, %eax\n	mov %eax, .Lnat_gs(%rip)\n"
	"	mov 144(%rdi), %rax\n	mov %eax, %ds\n	mov %eax, %es\n"
	"	mov 152(%rdi), %rax\n	mov %eax, %ss\n"
	"	mov 160(%rdi), %rax\n	test %eax, %eax\n"
	"	jz 1f\n	mov %eax, %gs\n1:\n"
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
	"	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop "
	"%rbp\n	pop %rbx\n"
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
	if (!mem) {     /* anywhere below 2 GiB will do */
		void *p = mmap(NULL, MEMSZ, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
		mem = p == MAP_FAILED ? NULL : p;
		membase = (uint64_t)(uintptr_t)mem;
	}
	cr_assert_not_null(mem, "cannot map the test memory below 4 GiB");
#if HAVE_NATIVE
	for (size_t i = 0; !code && i < sizeof code_at / sizeof code_at[0]; i++) {
		code = map_at(code_at[i], 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
		codebase = code_at[i];
	}
	if (!code) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
		code = p == MAP_FAILED ? NULL : p;
		codebase = (uint64_t)(uintptr_t)code;
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

static const struct svt_emu_mem tmem_ops = { &tm, t_read, t_cmpxchg, false };

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
		cr_assert_fail("no executable page below 4 GiB");
	if (bits != 64 && !have_ldt)
		cr_assert_fail("modify_ldt unavailable: no native 16/32-bit runs");
#else
	(void)bits;
	cr_assert_fail("native comparison needs an x86-64 Linux host");
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
		cr_assert(res.complete || res.reps > 0, "%s [%s]: no progress", what,
			  hex(insn, len));
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
					/* mod 00, reg rcx (r9 with REX.R), rm rbx */
					e8(&e, 0x0b);
					check_native(64, e.b, e.n, &r, alu_ops[o].flags,
						     alu_ops[o].name);
					/* ADC/SBB: both carries in. */
					r.rflags ^= SVT_EMU_CF;
					check_native(64, e.b, e.n, &r, alu_ops[o].flags,
						     alu_ops[o].name);
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
						/* [rbx+disp8] */
						e8(&e, 0x43 | alu_ops[o].ext << 3);
						e8(&e, disp);
						if (size == 1 || form == 0)
							eimm(&e, v[j], 1);
						else
							eimm(&e, v[j], size == 2 ? 2 : 4);
						check_native(64, e.b, e.n, &r, alu_ops[o].flags,
							     alu_ops[o].name);
						r.rflags ^= SVT_EMU_CF;
						check_native(64, e.b, e.n, &r, alu_ops[o].flags,
							     alu_ops[o].name);
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
					check_native(64, e.b, e.n, &r, FL_ALL,
						     xadd ? "xadd" : "xchg");
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
					r.gpr[RAX] = (rnd() & ~mask_of(size)) |
						(equal ? v[i] : v[j]);
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
						/* garbage above EAX */
						r.gpr[RAX] = lo ^ (wide ? 0 : 1ull << 40);
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
					r.gpr[RCX] = (rnd() & ~mask_of(size)) |
						     (off & mask_of(size));
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
		ea -= base == RSP || base == RBP ? r->seg_base[SVT_EMU_SS] :
			r->seg_base[SVT_EMU_DS];

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
					snprintf(what, sizeof what,
						 "%d-bit code%s mod %u rm %u sib %#x rex %#x", bits,
						 a32 ? " addr32" : "", mod, rm, sib, rex);
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
	if (x >= 0 && b >= 0) {
		a = rnd() & 0xffff;
		r->gpr[x] = (r->gpr[x] & ~0xffffull) | a;
		r->gpr[b] = (r->gpr[b] & ~0xffffull) | ((ea - disp - a) & 0xffff);
	} else if (b >= 0 || x >= 0) {
		int only = b >= 0 ? b : x;
		r->gpr[only] = (r->gpr[only] & ~0xffffull) | ((ea - disp) & 0xffff);
	}
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
				snprintf(what, sizeof what, "%d-bit code addr16 mod %u rm %u",
					 bits, mod, rm);
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
				static const uint8_t opc[3][2] = { { 0x88, 0 }, { 0x00, 0 },
								   { 0x0f, 0xb0 } };
				struct svt_emu_regs r;
				struct enc e = { .n = 0 };
				unsigned base = reg == 7 ? RSI : RDI;

				regs_init(&r, 64);
				r.gpr[base] = membase + 0x1000 + rnd() % 0x1000;
				/* cmpxchg: equal */
				r.gpr[RAX] = peek(r.gpr[base], 1) | (rnd() << 8);
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
	static const struct {
		uint8_t b[16];
		unsigned n;
		const char *what;
		uint64_t flags;
	} cases[] = {
		{ { 0x48, 0x66, 0x89, 0x0b }, 4, "REX before 66 is ignored", 0 },
		{ { 0x66, 0x48, 0x89, 0x0b }, 4, "REX.W beats 66", 0 },
		{ { 0x48, 0x40, 0x89, 0x0b }, 4, "only the last REX counts", 0 },
		{ { 0x66, 0x66, 0x89, 0x0b }, 4, "66 twice", 0 },
		{ { 0x67, 0x89, 0x0b }, 3, "addr32", 0 },
		{ { 0x67, 0x48, 0x89, 0x0b }, 4, "addr32 REX.W", 0 },
		{ { 0xf3, 0x89, 0x0b }, 3, "F3 on MOV (XRELEASE)", 0 },
		{ { 0xf2, 0xf0, 0x01, 0x0b }, 4, "XACQUIRE LOCK ADD", 0 },
		{ { 0xf0, 0xf3, 0x29, 0x0b }, 4, "LOCK XRELEASE SUB", 0 },
		{ { 0xf0, 0xf0, 0x09, 0x0b }, 4, "LOCK twice", FL_LOGIC },
		{ { 0x26, 0x89, 0x0b }, 3, "ES ignored in 64-bit code", 0 },
		{ { 0x2e, 0x89, 0x0b }, 3, "CS ignored in 64-bit code", 0 },
		{ { 0x36, 0x89, 0x0b }, 3, "SS ignored in 64-bit code", 0 },
		{ { 0x3e, 0x89, 0x0b }, 3, "DS ignored in 64-bit code", 0 },
		{ { 0x26, 0x2e, 0x36, 0x3e, 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x48, 0x0f, 0xb1, 0x0b },
		  13, "many prefixes", 0 },
		{ { 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x66, 0x0f, 0xba, 0x6b,
		    0x7e, 0x0d },
		  15, "15 bytes: bts [rbx+0x7e], 13", FL_BT },
		{ { 0x45, 0x87, 0x0b }, 3, "REX.RB: xchg [r11], r9d", 0 },
		{ { 0x4c, 0x01, 0x0c, 0x4b }, 4, "REX.WR SIB: add [rbx+rcx*2], r9", 0 },
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
			r.gpr[RCX] = 4 * (rnd() % 16);
			r.gpr[11] = r.gpr[RBX];
			r.gpr[RAX] = round & 1 ? peek(r.gpr[RBX] & 0xffffffffu, 8) : rnd();
			check_native(64, cases[i].b, cases[i].n, &r,
				     cases[i].flags ? cases[i].flags : FL_ALL, cases[i].what);
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
		/* mov fs:[rbx], rcx */
		static const uint8_t fs_mov[] = { 0x64, 0x48, 0x89, 0x0b };
		/* lock add gs:[rbx], ecx */
		static const uint8_t gs_add[] = { 0xf0, 0x65, 0x01, 0x0b };
		/* mov gs:[ebx], cl */
		static const uint8_t gs_a32[] = { 0x65, 0x67, 0x88, 0x0b };
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

/* Operands sharing a register: the source (or accumulator) is also the
 * base of the address, every register including R12/R13 and RSP. */
Test(emul, register_aliasing_native)
{
	static const struct { uint8_t op[2]; unsigned n; const char *what; } ops[] = {
		{ { 0x87 }, 1, "xchg" }, { { 0x0f, 0xc1 }, 2, "xadd" },
		{ { 0x0f, 0xb1 }, 2, "cmpxchg" }, { { 0x01 }, 1, "add" },
		{ { 0x89 }, 1, "mov" }, { { 0x31 }, 1, "xor" },
	};

	need_native(64);
	fill_random();
	for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
		for (unsigned reg = 0; reg < 16; reg++) {
			for (unsigned w = 0; w < 2; w++) {
				struct svt_emu_regs r;
				struct enc e = { .n = 0 };
				uint64_t la = membase + 0x1000 + 8 * (rnd() % 256);

				regs_init(&r, 64);
				r.gpr[reg] = la;
				if (reg != RAX && (rnd() & 1))
					r.gpr[RAX] = peek(la, 8);
				e8(&e, 0x40 | (w ? 8 : 0) | (reg & 8 ? 5 : 0));
				for (unsigned i = 0; i < ops[o].n; i++)
					e8(&e, ops[o].op[i]);
				if ((reg & 7) == 4) {           /* [rsp] / [r12]: SIB */
					e8(&e, (reg & 7) << 3 | 4);
					e8(&e, 0x24);
				} else if ((reg & 7) == 5) {    /* [rbp+0] / [r13+0] */
					e8(&e, 0x45 | (reg & 7) << 3);
					e8(&e, 0);
				} else {
					e8(&e, (reg & 7) << 3 | (reg & 7));
				}
				check_native(64, e.b, e.n, &r,
					     ops[o].op[0] == 0x31 ? FL_LOGIC : FL_ALL, ops[o].what);
			}
		}
	}
}

/* 64-bit code with 67: the effective address (also a BT word offset)
 * wraps at 32 bits before the GS base is added. */
Test(emul, addr32_wraps_before_base_native)
{
	static const uint8_t bts[] = { 0x65, 0x67, 0x0f, 0xab, 0x0b };       /* bts gs:[ebx], ecx */
	/* mov gs:[ebx+16], ecx */
	static const uint8_t mov[] = { 0x65, 0x67, 0x89, 0x4b, 0x10 };

	need_native(64);
	gs_base64 = membase + 0x1000;
	fill_random();
	for (unsigned i = 0; i < 64; i++) {
		struct svt_emu_regs r;
		uint64_t k = 1 + rnd() % 64;

		regs_init(&r, 64);
		r.gpr[RBX] = (rnd() << 32) | (0x100000000ull - 4 * k);
		r.gpr[RCX] = (rnd() << 32) | (32 * (k + rnd() % 64) + rnd() % 32);
		check_native(64, bts, sizeof bts, &r, FL_BT, "bts wrap");
		r.gpr[RBX] = (rnd() << 32) | (0x100000000ull - 4 * (rnd() % 4));
		check_native(64, mov, sizeof mov, &r, FL_ALL, "mov wrap");
	}
}

/* 82 is an alias of 80 outside 64-bit code. */
Test(emul, opcode_82_in_32bit_code_native)
{
	need_native(32);
	fill_random();
	for (unsigned ext = 0; ext < 7; ext++) {
		for (unsigned i = 0; i < 16; i++) {
			struct svt_emu_regs r;
			uint8_t b[] = { 0x82, (uint8_t)(0x03 | ext << 3), (uint8_t)rnd() };

			regs_init(&r, 32);
			r.gpr[RBX] = membase + 0x1000 + rnd() % 0x1000;
			check_native(32, b, sizeof b, &r, alu_ops[ext].flags, "82");
		}
	}
}

/* 32-bit code: segment bases added and wrapping at 4 GiB, every override
 * but CS (a write through CS raises #GP natively; see segment_bases). */
Test(emul, segments_32_native)
{
	static const struct { uint8_t pfx; int seg; } ov[] = {
		{ 0, SVT_EMU_DS }, { 0x26, SVT_EMU_ES }, { 0x36, SVT_EMU_SS },
		{ 0x3e, SVT_EMU_DS }, { 0x65, SVT_EMU_GS },
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
					r.gpr[RAX] = (rnd() & ~mask_of(size)) |
						(j & 2 ? v[i] : v[j]);
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
					/* [bx], cx / [ebx], ecx */
					e8(&e, bits == 16 ? 0x0f : 0x0b);
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
	uint64_t am = mask_of(as), es_base, src_base;
	char what[96];

	regs_init(&r, bits);
	if (df)
		r.rflags |= SVT_EMU_DF;
	if (bits == 64) {
		es_base = 0;
		src_base = seg == 0x65 ? gs_base64 : 0;
	} else {
		es_base = r.seg_base[SVT_EMU_ES];
		src_base = r.seg_base[seg == 0x65 ? SVT_EMU_GS : SVT_EMU_DS];
	}
	r.gpr[RDI] = (r.gpr[RDI] & ~am) | ((dst - es_base) & am);
	r.gpr[RSI] = (r.gpr[RSI] & ~am) | ((src - src_base) & am);
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
					uint64_t mid = membase + 0x1000 +
						       size * (rnd() % (0x800 / size)) + 0x400;
					uint64_t src = membase + 0x800 + rnd() % 0x1800;
					unsigned c = counts[k];

					string_case(64, movs, size, 0, df, c, mid, src, false, 0);
					string_case(64, movs, size, 0xf3, df, c, mid,
						    src, false, 0);
					string_case(64, movs, size, 0xf2, df, c, mid,
						    src, k & 1, 0);
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
					uint64_t dst = membase + 0x1000 +
						       size * (rnd() % (0x1000 / size));
					uint64_t src = membase + 0x800 + rnd() % 0x1800;
					unsigned c = (unsigned)(rnd() % 50);

					string_case(bits, movs, size, k & 1 ? 0xf3 : 0, k & 2,
						    c, dst, src, k & 4, movs && (k & 8) ? 0x65 : 0);
				}
			}
		}
	}
}

/* ---- the contract, by hand ----------------------------------------------------- */

/* Registers all pointing at the middle page, 16-aligned. */
static void regs_plain(struct svt_emu_regs *r, int bits)
{
	memset(r, 0, sizeof *r);
	for (unsigned i = 0; i < 16; i++)
		r->gpr[i] = membase + 0x1000 + 0x40 * i;
	r->rflags = 2;
	r->rip = bits == 16 ? 0x1000 : 0x401000;
}

static void assert_regs_equal(const struct svt_emu_regs *a, const struct svt_emu_regs *b,
			      const char *what)
{
	for (unsigned i = 0; i < 16; i++)
		cr_assert_eq(a->gpr[i], b->gpr[i], "%s: gpr %u changed", what, i);
	cr_assert_eq(a->rip, b->rip, "%s: rip changed", what);
	cr_assert_eq(a->rflags, b->rflags, "%s: rflags changed", what);
	for (unsigned i = 0; i < 6; i++)
		cr_assert_eq(a->seg_base[i], b->seg_base[i], "%s: segment base changed", what);
}

static void assert_result_clear(const struct svt_emu_result *res, const char *what)
{
	cr_assert(res->len == 0 && res->op == SVT_EMU_OP_NONE && res->opsize == 0 &&
		  res->addrsize == 0 && res->dst_size == 0 && !res->locked && !res->rep &&
		  !res->complete && res->dst_la == 0 && res->src_la == 0 &&
		  res->old[0] == 0 && res->old[1] == 0 && res->new[0] == 0 &&
		  res->new[1] == 0 && res->reps == 0, "%s: result not cleared", what);
}

/* An instruction must be refused with nothing touched. */
static void expect_unhandled(int bits, const uint8_t *insn, unsigned len, const char *what)
{
	struct svt_emu_regs r, before;
	struct svt_emu_result res;
	uint8_t *copy = malloc(len ? len : 1);  /* exact size: overreads trap under ASan */
	int rc;

	memcpy(copy, insn, len);
	regs_plain(&r, bits);
	before = r;
	memcpy(init_mem, mem, MEMSZ);
	tm_reset();
	memset(&res, 0xa5, sizeof res);
	rc = emu(&r, bits, copy, len, &res);
	free(copy);
	cr_assert_eq(rc, SVT_EMU_UNHANDLED, "%s [%s]: returned %d", what, hex(insn, len), rc);
	cr_assert_eq(tm.reads + tm.cmpxchgs, 0, "%s: callbacks called", what);
	assert_regs_equal(&r, &before, what);
	assert_result_clear(&res, what);
	cr_assert_eq(memcmp(init_mem, mem, MEMSZ), 0, "%s: memory changed", what);
}

Test(emul, unhandled_instructions)
{
	static const struct { int bits; uint8_t b[8]; unsigned n; const char *what; } cases[] = {
		{ 64, { 0x90 }, 1, "nop" },
		{ 64, { 0x8b, 0x03 }, 2, "mov load" },
		{ 64, { 0x0f, 0x0b }, 2, "ud2" },
		{ 64, { 0x80, 0x3b, 0x01 }, 3, "cmp byte [rbx], 1 (group 1 /7)" },
		{ 64, { 0x39, 0x0b }, 2, "cmp [rbx], ecx" },
		{ 64, { 0x85, 0x0b }, 2, "test [rbx], ecx" },
		{ 64, { 0x0f, 0xa3, 0x0b }, 3, "bt [rbx], ecx" },
		{ 64, { 0x0f, 0xba, 0x23, 0x05 }, 4, "bt [rbx], 5 (0F BA /4)" },
		{ 64, { 0x0f, 0xba, 0x03, 0x05 }, 4, "0F BA /0" },
		{ 64, { 0x89, 0xc8 }, 2, "mov eax, ecx (register destination)" },
		{ 64, { 0x01, 0xc8 }, 2, "add eax, ecx" },
		{ 64, { 0x87, 0xc8 }, 2, "xchg eax, ecx" },
		{ 64, { 0x0f, 0xb1, 0xc8 }, 3, "cmpxchg eax, ecx" },
		{ 64, { 0x0f, 0xab, 0xc8 }, 3, "bts eax, ecx" },
		{ 64, { 0x0f, 0xc7, 0xc8 }, 3, "0F C7 /1 with mod 3" },
		{ 64, { 0x0f, 0xc7, 0x33 }, 3, "0F C7 /6 (vmptrld)" },
		{ 64, { 0xf0, 0x01, 0xc8 }, 3, "lock add eax, ecx" },
		{ 64, { 0xf0, 0x89, 0x0b }, 3, "lock mov (#UD)" },
		{ 64, { 0xf0, 0xc7, 0x03, 1, 0, 0, 0 }, 7, "lock mov imm (#UD)" },
		{ 64, { 0xf0, 0xaa }, 2, "lock stos (#UD)" },
		{ 64, { 0xf0, 0xf3, 0xa5 }, 3, "lock rep movs (#UD)" },
		{ 64, { 0xf0, 0xa3, 0, 0, 0, 0, 0, 0 }, 8, "lock mov moffs (#UD)" },
		{ 64, { 0x82, 0x03, 0x01 }, 3, "82 in 64-bit code" },
		{ 64, { 0xc6, 0x0b, 0x01 }, 3, "C6 /1" },
		{ 64, { 0xc7, 0x0b, 1, 0, 0, 0 }, 6, "C7 /1" },
		{ 64, { 0xf6, 0x03, 0x01 }, 3, "test byte [rbx], 1 (F6 /0)" },
		{ 64, { 0xf7, 0x23 }, 2, "mul (F7 /4)" },
		{ 64, { 0xfe, 0x13 }, 2, "FE /2" },
		{ 64, { 0xff, 0x13 }, 2, "call [rbx] (FF /2)" },
		{ 64, { 0xff, 0x33 }, 2, "push [rbx] (FF /6)" },
		{ 64, { 0xa6 }, 1, "cmpsb" },
		{ 64, { 0xac }, 1, "lodsb" },
		{ 64, { 0xae }, 1, "scasb" },
		{ 64, { 0xc5, 0xf9, 0x7f, 0x03 }, 4, "VEX vmovdqa" },
		{ 64, { 0x62, 0xf1, 0x7d, 0x48, 0x7f, 0x03 }, 6, "EVEX" },
		{ 64, { 0x0f, 0x11, 0x03 }, 3, "movups store" },
		{ 64, { 0x8c, 0x1b }, 2, "mov [rbx], ds" },
		{ 64, { 0x0f, 0x90, 0x03 }, 3, "seto [rbx]" },
		{ 64, { 0x48 }, 1, "REX alone" },
		{ 64, { 0xf0 }, 1, "LOCK alone" },
		{ 64, { 0x0f }, 1, "0F alone" },
		{ 32, { 0x40, 0x89, 0x0b }, 3, "40 is INC EAX in 32-bit code" },
		{ 32, { 0x48, 0x89, 0x0b }, 3, "48 is DEC EAX in 32-bit code" },
		{ 16, { 0x0f, 0xc7, 0xc8 }, 3, "0F C7 mod 3 in 16-bit code" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_unhandled(cases[i].bits, cases[i].b, cases[i].n, cases[i].what);
}

Test(emul, unhandled_code_size)
{
	static const uint8_t mov[] = { 0x89, 0x0b };
	static const int bad[] = { 0, 8, 15, 17, 33, 63, 65, 128, -64 };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_unhandled(bad[i], mov, sizeof mov, "bad code_bits");
}

/* Valid instructions of many shapes: every shorter length is refused
 * (without reading past it), the full one and any longer buffer work. */
Test(emul, truncated_and_padded)
{
	static const struct { int bits; uint8_t b[16]; unsigned n; } cases[] = {
		{ 64, { 0x89, 0x0b }, 2 },
		{ 64, { 0xf0, 0x48, 0x0f, 0xb1, 0x0b }, 5 },
		{ 64, { 0x48, 0xc7, 0x83, 0x00, 0x01, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12 }, 11 },
		{ 64, { 0x66, 0x81, 0x43, 0x10, 0x34, 0x12 }, 6 },
		{ 64, { 0x83, 0x4c, 0x8b, 0x08, 0x7f }, 5 },
		{ 64, { 0x48, 0x0f, 0xc7, 0x0c, 0x25, 0, 0, 0, 0 }, 9 },   /* disp32 patched */
		{ 64, { 0x48, 0xa3, 0, 0, 0, 0, 0, 0, 0, 0 }, 10 },        /* moffs64 patched */
		{ 64, { 0x67, 0xa2, 0, 0, 0, 0 }, 6 },                     /* moffs32 patched */
		{ 64, { 0x0f, 0xba, 0x6b, 0x08, 0x21 }, 5 },
		{ 64, { 0xf3, 0x48, 0xab }, 3 },
		{ 32, { 0x66, 0xc7, 0x05, 0, 0, 0, 0, 0x34, 0x12 }, 9 },  /* disp32 patched */
		{ 16, { 0x67, 0x66, 0x89, 0x4b, 0x08 }, 5 },
		{ 16, { 0xc7, 0x47, 0x10, 0x34, 0x12 }, 5 },
	};

	fill_random();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t b[32];
		unsigned n = cases[i].n;

		memset(b, 0xcc, sizeof b);
		memcpy(b, cases[i].b, n);
		/* absolute addresses into the middle page */
		if (i == 5)
			put32(b + 5, (uint32_t)(membase + 0x1100));
		if (i == 6)
			put64(b + 2, membase + 0x1108);
		if (i == 7)
			put32(b + 2, (uint32_t)(membase + 0x1101));
		if (i == 10)
			put32(b + 3, (uint32_t)(membase + 0x1102));
		for (unsigned k = 0; k < n; k++)
			expect_unhandled(cases[i].bits, b, k, "truncated");
		for (unsigned extra = 0; extra <= 16; extra += 4) {
			struct svt_emu_regs r;
			struct svt_emu_result res;
			int rc;

			regs_plain(&r, cases[i].bits);
			r.gpr[RBX] = cases[i].bits == 16 ? 0x1000 : membase + 0x1000;
			r.seg_base[SVT_EMU_DS] = r.seg_base[SVT_EMU_ES] =
				cases[i].bits == 16 ? membase : 0;
			r.gpr[RDI] = cases[i].bits == 16 ? 0x1000 : membase + 0x1000;
			r.gpr[RCX] = 3;
			r.gpr[RDX] = peek(membase + 0x1108, 8);     /* cmpxchg16b */
			tm_reset();
			rc = emu(&r, cases[i].bits, b, n + extra, &res);
			cr_assert_eq(rc, SVT_EMU_OK, "case %zu [%s] +%u: %d", i,
				     hex(b, n), extra, rc);
			cr_assert_eq(res.len, n, "case %zu: length %u", i, res.len);
			cr_assert_eq(r.rip, (cases[i].bits == 16 ? 0x1000 : 0x401000) + n);
		}
	}
}

/* 15 bytes is the limit; the 16th byte makes it #GP, which we refuse. */
Test(emul, instruction_length_limit)
{
	uint8_t b[24];
	struct svt_emu_regs r;
	struct svt_emu_result res;

	for (unsigned npfx = 0; npfx <= 16; npfx++) {
		int rc;

		memset(b, 0x3e, sizeof b);
		b[npfx] = 0x89;
		b[npfx + 1] = 0x0b;
		regs_plain(&r, 64);
		tm_reset();
		if (npfx + 2 > 15) {
			expect_unhandled(64, b, npfx + 2, "over 15 bytes");
			expect_unhandled(64, b, sizeof b, "over 15 bytes, long buffer");
			continue;
		}
		rc = emu(&r, 64, b, sizeof b, &res);
		cr_assert_eq(rc, SVT_EMU_OK, "%u prefixes", npfx);
		cr_assert_eq(res.len, npfx + 2);
	}
	memset(b, 0x66, sizeof b);
	expect_unhandled(64, b, sizeof b, "prefixes only");
}

/* A write the caller cannot do as one aligned cmpxchg: SPLIT, untouched. */
static void expect_split(int bits, const uint8_t *insn, unsigned len,
			 const struct svt_emu_regs *in, uint64_t la, unsigned size,
			 const char *what)
{
	struct svt_emu_regs r = *in;
	struct svt_emu_result res;
	int rc;

	memcpy(init_mem, mem, MEMSZ);
	tm_reset();
	rc = emu(&r, bits, insn, len, &res);
	cr_assert_eq(rc, SVT_EMU_SPLIT, "%s [%s]: returned %d", what, hex(insn, len), rc);
	cr_assert_eq(tm.reads + tm.cmpxchgs, 0, "%s: callbacks called", what);
	assert_regs_equal(&r, in, what);
	cr_assert_eq(memcmp(init_mem, mem, MEMSZ), 0, "%s: memory changed", what);
	cr_assert_eq(res.len, len, "%s: len", what);
	cr_assert_eq(res.dst_la, la, "%s: dst_la %#llx", what, (unsigned long long)res.dst_la);
	cr_assert_eq(res.dst_size, size, "%s: dst_size", what);
	cr_assert(!res.complete);
}

Test(emul, split_misaligned_or_crossing)
{
	struct svt_emu_regs r;

	fill_random();
	for (size_t z = 1; z < 4; z++) {
		unsigned size = sizes[z];

		for (unsigned mis = 1; mis < size; mis++) {
			struct enc mov = { .n = 0 }, add = { .n = 0 }, bts = { .n = 0 };
			struct enc stos = { .n = 0 }, xchg = { .n = 0 };
			uint64_t la = membase + 0x1000 + 0x100 + mis;

			esize(&mov, size, 0); e8(&mov, 0x89); e8(&mov, 0x0b);
			e8(&add, 0xf0); esize(&add, size, 0); e8(&add, 0x83); e8(&add,
										 0x03); e8(&add, 1);
			esize(&xchg, size, 0); e8(&xchg, 0x87); e8(&xchg, 0x0b);
			esize(&stos, size, 0); e8(&stos, 0xab);
			esize(&bts, size, 0); e8(&bts, 0x0f); e8(&bts, 0xab); e8(&bts, 0x0b);
			regs_plain(&r, 64);
			r.gpr[RBX] = la;
			r.gpr[RDI] = la;
			r.gpr[RCX] = size * 8 * 3 + 1;     /* bts: three words up */
			expect_split(64, mov.b, mov.n, &r, la, size, "mov");
			expect_split(64, add.b, add.n, &r, la, size, "lock add");
			expect_split(64, xchg.b, xchg.n, &r, la, size, "xchg");
			expect_split(64, stos.b, stos.n, &r, la, size, "stos");
			expect_split(64, bts.b, bts.n, &r, la + 3 * size, size, "bts");
			/* crossing the page: misaligned by construction */
			r.gpr[RBX] = membase + 0x2000 - size + mis;
			expect_split(64, mov.b, mov.n, &r, r.gpr[RBX], size, "mov across pages");
		}
	}
	/* cmpxchg8b at 4 mod 8, cmpxchg16b at 8 mod 16 (#GP on the CPU) */
	{
		static const uint8_t c8[] = { 0xf0, 0x0f, 0xc7, 0x0b };
		static const uint8_t c16[] = { 0xf0, 0x48, 0x0f, 0xc7, 0x0b };

		regs_plain(&r, 64);
		r.gpr[RBX] = membase + 0x1004;
		expect_split(64, c8, sizeof c8, &r, r.gpr[RBX], 8, "cmpxchg8b");
		r.gpr[RBX] = membase + 0x1008;
		expect_split(64, c16, sizeof c16, &r, r.gpr[RBX], 16, "cmpxchg16b");
		r.gpr[RBX] = membase + 0x1ff8;
		expect_split(64, c16, sizeof c16, &r, r.gpr[RBX], 16, "cmpxchg16b across pages");
	}
	/* REP STOS whose first store is misaligned */
	{
		static const uint8_t rep_stosd[] = { 0xf3, 0xab };

		regs_plain(&r, 64);
		r.gpr[RDI] = membase + 0x1002;
		r.gpr[RCX] = 10;
		expect_split(64, rep_stosd, sizeof rep_stosd, &r, r.gpr[RDI], 4, "rep stosd");
	}
	/* aligned up to the end of a page is fine */
	{
		static const uint8_t mov64[] = { 0x48, 0x89, 0x0b };
		struct svt_emu_result res;

		regs_plain(&r, 64);
		r.gpr[RBX] = membase + 0x1ff8;
		tm_reset();
		cr_assert_eq(emu(&r, 64, mov64, sizeof mov64, &res), SVT_EMU_OK);
		cr_assert_eq(peek(membase + 0x1ff8, 8), r.gpr[RCX]);
	}
}

/* The instructions the FAULT/RETRY tests run: one of each kind. */
static const struct { uint8_t b[8]; unsigned n; unsigned size; const char *what; } kinds[] = {
	{ { 0x48, 0x89, 0x0b }, 3, 8, "mov" },
	{ { 0xc7, 0x03, 0x78, 0x56, 0x34, 0x12 }, 6, 4, "mov imm" },
	{ { 0x86, 0x0b }, 2, 1, "xchg" },
	{ { 0xf0, 0x0f, 0xb1, 0x0b }, 4, 4, "lock cmpxchg" },
	{ { 0xf0, 0x0f, 0xc7, 0x0b }, 4, 8, "lock cmpxchg8b" },
	{ { 0xf0, 0x48, 0x0f, 0xc7, 0x0b }, 5, 16, "lock cmpxchg16b" },
	{ { 0xf0, 0x66, 0x01, 0x0b }, 4, 2, "lock add" },
	{ { 0xf0, 0x48, 0x83, 0x23, 0xfe }, 5, 8, "lock and imm8" },
	{ { 0xf0, 0x0f, 0xc1, 0x0b }, 4, 4, "lock xadd" },
	{ { 0xf0, 0xfe, 0x03 }, 3, 1, "lock inc" },
	{ { 0xf0, 0x48, 0x0f, 0xab, 0x0b }, 5, 8, "lock bts" },
	{ { 0xf0, 0x0f, 0xba, 0x33, 0x05 }, 5, 4, "lock btr imm" },
	{ { 0x48, 0xab }, 2, 8, "stosq" },
	{ { 0xa5 }, 1, 4, "movsd" },
};

static void kind_regs(struct svt_emu_regs *r, unsigned k)
{
	regs_plain(r, 64);
	r->gpr[RBX] = membase + 0x1100;
	r->gpr[RDI] = membase + 0x1100;
	r->gpr[RSI] = membase + 0x2200;
	r->gpr[RCX] = 0x41;     /* bts: bit 1 of the second qword */
	r->gpr[RAX] = peek(membase + 0x1100, 8);   /* cmpxchg: equal */
	r->gpr[RDX] = peek(membase + 0x1108, 8);
	if (k == 4)
		r->gpr[RDX] = peek(membase + 0x1104, 4);
	r->rflags = 2 | SVT_EMU_AF | SVT_EMU_CF;
}

static uint64_t kind_la(unsigned k)
{
	return membase + 0x1100 + (k == 10 ? 8 : 0);
}

Test(emul, kinds_succeed)
{
	fill_random();
	for (unsigned k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		struct svt_emu_regs r;
		struct svt_emu_result res;
		int rc;

		kind_regs(&r, k);
		tm_reset();
		rc = emu(&r, 64, kinds[k].b, kinds[k].n, &res);
		cr_assert_eq(rc, SVT_EMU_OK, "%s: %d", kinds[k].what, rc);
		cr_assert_eq(res.dst_la, kind_la(k), "%s: dst_la", kinds[k].what);
		cr_assert_eq(res.dst_size, kinds[k].size, "%s: dst_size", kinds[k].what);
		cr_assert_eq(tm.cmpxchgs, 1, "%s: one cmpxchg", kinds[k].what);
		cr_assert_eq(tm.dest_reads, 1, "%s: one destination read", kinds[k].what);
		cr_assert_eq(tm.reads, 1u + (k == 13), "%s: reads", kinds[k].what);
		cr_assert_eq(tm.contract, 0);
	}
}

/* A fault on the destination read, on the write, or on the MOVS source:
 * FAULT, nothing changed. */
Test(emul, fault_leaves_state_unchanged)
{
	static const unsigned where[] = { K_DEST, K_WRITE, K_READ };

	fill_random();
	for (unsigned k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		for (unsigned w = 0; w < 3; w++) {
			struct svt_emu_regs r, before;
			struct svt_emu_result res;
			int rc;

			if (where[w] == K_READ && k != 13)
				continue;
			kind_regs(&r, k);
			before = r;
			memcpy(init_mem, mem, MEMSZ);
			tm_reset();
			tm.fault_kinds = where[w];
			tm.fault_lo = where[w] == K_READ ? membase + 0x2200 : kind_la(k);
			tm.fault_hi = tm.fault_lo + 1;
			rc = emu(&r, 64, kinds[k].b, kinds[k].n, &res);
			cr_assert_eq(rc, SVT_EMU_FAULT, "%s/%u: %d", kinds[k].what, w, rc);
			assert_regs_equal(&r, &before, kinds[k].what);
			cr_assert_eq(memcmp(init_mem, mem, MEMSZ), 0, "%s: memory", kinds[k].what);
			cr_assert_eq(tm.cmpxchgs, where[w] == K_WRITE, "%s: cmpxchgs",
				     kinds[k].what);
			cr_assert(!res.complete);
			cr_assert_eq(res.len, kinds[k].n);
		}
	}
}

/* Memory changed between the read and the cmpxchg (another vCPU): RETRY,
 * the other writer's value stays, nothing else changed. */
Test(emul, retry_leaves_state_unchanged)
{
	fill_random();
	for (unsigned k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		for (unsigned how = 0; how < 2; how++) {
			struct svt_emu_regs r, before;
			struct svt_emu_result res;
			uint64_t la = kind_la(k);
			int rc;

			kind_regs(&r, k);
			before = r;
			tm_reset();
			if (how == 0)
				tm.race = true;
			else
				tm.retry_at = 1;
			memcpy(init_mem, mem, MEMSZ);
			if (how == 0)
				init_mem[la - membase] ^= 0x5a;  /* what the race writes */
			rc = emu(&r, 64, kinds[k].b, kinds[k].n, &res);
			cr_assert_eq(rc, SVT_EMU_RETRY, "%s: %d", kinds[k].what, rc);
			assert_regs_equal(&r, &before, kinds[k].what);
			cr_assert_eq(memcmp(init_mem, mem, MEMSZ), 0, "%s: memory", kinds[k].what);
			cr_assert(!res.complete);
		}
	}
}

/* Other callback codes pass through unchanged, with nothing changed. */
static int read_env_error(void *ctx, uint64_t la, void *buf, unsigned len, unsigned flags)
{
	(void)ctx; (void)la; (void)buf; (void)len; (void)flags;
	return -7;
}

Test(emul, callback_error_passes_through)
{
	static const uint8_t mov[] = { 0x89, 0x0b };
	const struct svt_emu_mem bad = { &tm, read_env_error, t_cmpxchg, false };
	struct svt_emu_regs r, before;
	struct svt_emu_result res;

	regs_plain(&r, 64);
	before = r;
	cr_assert_eq(svt_emulate(&r, 64, mov, sizeof mov, &bad, &res), -7);
	assert_regs_equal(&r, &before, "env error");
}

/* CMPXCHG whose comparison fails writes the old value back (one cmpxchg
 * of old with old) and loads the accumulator. */
Test(emul, cmpxchg_failure_writes_back)
{
	static const uint8_t c32[] = { 0xf0, 0x0f, 0xb1, 0x0b };
	static const uint8_t c8b[] = { 0xf0, 0x0f, 0xc7, 0x0b };
	static const uint8_t c16b[] = { 0xf0, 0x48, 0x0f, 0xc7, 0x0b };
	struct svt_emu_regs r;
	struct svt_emu_result res;
	uint64_t la = membase + 0x1100;

	poke(la, 0x1111111122222222ull, 8);
	poke(la + 8, 0x3333333344444444ull, 8);

	regs_plain(&r, 64);
	r.gpr[RBX] = la;
	r.gpr[RAX] = 0xffffffff00000000ull;
	r.rflags = 2 | SVT_EMU_ZF;
	tm_reset();
	cr_assert_eq(emu(&r, 64, c32, sizeof c32, &res), SVT_EMU_OK);
	cr_assert_eq(tm.cmpxchgs, 1);
	cr_assert_eq(tm.last_len, 4);
	cr_assert_eq(memcmp(tm.last_expect, tm.last_val, 4), 0);
	cr_assert_eq(peek(la, 8), 0x1111111122222222ull);
	cr_assert_eq(r.gpr[RAX], 0x22222222, "EAX loaded, zero-extended");
	cr_assert_eq(r.rflags & SVT_EMU_ZF, 0);
	cr_assert_eq(res.old[0], 0x22222222);
	cr_assert_eq(res.new[0], 0x22222222);

	regs_plain(&r, 64);
	r.gpr[RBX] = la;
	r.gpr[RAX] = 0x22222222;
	r.gpr[RDX] = 0x11111110;
	tm_reset();
	cr_assert_eq(emu(&r, 64, c8b, sizeof c8b, &res), SVT_EMU_OK);
	cr_assert_eq(tm.last_len, 8);
	cr_assert_eq(memcmp(tm.last_expect, tm.last_val, 8), 0);
	cr_assert_eq(r.gpr[RAX], 0x22222222);
	cr_assert_eq(r.gpr[RDX], 0x11111111);
	cr_assert_eq(r.rflags & SVT_EMU_ZF, 0);

	regs_plain(&r, 64);
	r.gpr[RBX] = la;
	r.gpr[RAX] = 0x1111111122222222ull;
	r.gpr[RDX] = 0;
	r.rflags = 2 | SVT_EMU_ZF | SVT_EMU_CF | SVT_EMU_SF;
	tm_reset();
	cr_assert_eq(emu(&r, 64, c16b, sizeof c16b, &res), SVT_EMU_OK);
	cr_assert_eq(tm.last_len, 16);
	cr_assert_eq(memcmp(tm.last_expect, tm.last_val, 16), 0);
	cr_assert_eq(r.gpr[RDX], 0x3333333344444444ull);
	cr_assert_eq(r.rflags, 2 | SVT_EMU_CF | SVT_EMU_SF, "only ZF changes");
	cr_assert_eq(res.old[1], 0x3333333344444444ull);
	cr_assert_eq(res.new[1], 0x3333333344444444ull);
	cr_assert_eq(res.opsize, 16);
	cr_assert_eq(res.op, SVT_EMU_OP_CMPXCHG16B);
}

/* Undefined flags are left unchanged (emul.h): AF after AND/OR/XOR, all
 * but CF after BTS/BTR/BTC. */
Test(emul, undefined_flags_unchanged)
{
	static const uint8_t and[] = { 0x21, 0x0b };
	static const uint8_t bts[] = { 0x0f, 0xab, 0x0b };
	struct svt_emu_regs r;
	struct svt_emu_result res;
	uint64_t others = SVT_EMU_PF | SVT_EMU_AF | SVT_EMU_ZF | SVT_EMU_SF | SVT_EMU_OF;

	for (unsigned af = 0; af < 2; af++) {
		regs_plain(&r, 64);
		r.rflags = 2 | (af ? SVT_EMU_AF : 0);
		tm_reset();
		cr_assert_eq(emu(&r, 64, and, sizeof and, &res), SVT_EMU_OK);
		cr_assert_eq(r.rflags & SVT_EMU_AF, af ? SVT_EMU_AF : 0);
	}
	for (unsigned set = 0; set < 2; set++) {
		regs_plain(&r, 64);
		r.gpr[RCX] = 3;
		poke(r.gpr[RBX], 0, 4);
		r.rflags = 2 | (set ? others : 0);
		tm_reset();
		cr_assert_eq(emu(&r, 64, bts, sizeof bts, &res), SVT_EMU_OK);
		cr_assert_eq(r.rflags, 2 | (set ? others : 0), "CF=0, the rest unchanged");
		cr_assert_eq(peek(membase + 0x1000 + 0x40 * RBX, 4), 8);
	}
}

/* ---- REP: page bounds, restarts, faults midway -------------------------------- */

Test(emul, rep_stops_at_page_end)
{
	static const uint8_t rep_stosq[] = { 0xf3, 0x48, 0xab };
	struct svt_emu_regs r;
	struct svt_emu_result res;

	fill_random();
	regs_plain(&r, 64);
	r.gpr[RDI] = membase + 0x1f00;
	r.gpr[RCX] = 100;
	r.gpr[RAX] = 0x0123456789abcdefull;
	tm_reset();
	cr_assert_eq(emu(&r, 64, rep_stosq, sizeof rep_stosq, &res), SVT_EMU_OK);
	cr_assert_eq(res.reps, 32);
	cr_assert(!res.complete);
	cr_assert(res.rep);
	cr_assert_eq(r.rip, 0x401000, "RIP stays: the guest re-executes");
	cr_assert_eq(r.gpr[RCX], 68);
	cr_assert_eq(r.gpr[RDI], membase + 0x2000);
	cr_assert_eq(tm.cmpxchgs, 32);
	cr_assert_eq(peek(membase + 0x1ff8, 8), 0x0123456789abcdefull);
	cr_assert_neq(peek(membase + 0x2000, 8), 0x0123456789abcdefull);
	cr_assert_eq(res.dst_la, membase + 0x1ff8, "the last iteration");

	tm_reset();
	cr_assert_eq(emu(&r, 64, rep_stosq, sizeof rep_stosq, &res), SVT_EMU_OK);
	cr_assert_eq(res.reps, 68);
	cr_assert(res.complete);
	cr_assert_eq(r.rip, 0x401003);
	cr_assert_eq(r.gpr[RCX], 0);
	cr_assert_eq(r.gpr[RDI], membase + 0x2000 + 68 * 8);

	/* downwards */
	regs_plain(&r, 64);
	r.rflags |= SVT_EMU_DF;
	r.gpr[RDI] = membase + 0x1010;
	r.gpr[RCX] = 10;
	tm_reset();
	cr_assert_eq(emu(&r, 64, rep_stosq, sizeof rep_stosq, &res), SVT_EMU_OK);
	cr_assert_eq(res.reps, 3);
	cr_assert_eq(r.gpr[RDI], membase + 0x0ff8);
	cr_assert_eq(r.gpr[RCX], 7);
	cr_assert_eq(r.rip, 0x401000);
}

/* The MOVS source may cross pages: only the destination bounds a call. */
Test(emul, rep_movs_source_crosses)
{
	static const uint8_t rep_movsb[] = { 0xf3, 0xa4 };
	struct svt_emu_regs r;
	struct svt_emu_result res;

	fill_random();
	regs_plain(&r, 64);
	r.gpr[RSI] = membase + 0x0ff0;
	r.gpr[RDI] = membase + 0x1100;
	r.gpr[RCX] = 0x40;
	tm_reset();
	cr_assert_eq(emu(&r, 64, rep_movsb, sizeof rep_movsb, &res), SVT_EMU_OK);
	cr_assert(res.complete);
	cr_assert_eq(res.reps, 0x40);
	cr_assert_eq(memcmp(mem + 0x1100, mem + 0x0ff0, 0x40), 0);
	cr_assert_eq(res.src_la, membase + 0x0ff0 + 0x3f);
}

Test(emul, rep_count_zero)
{
	static const uint8_t insns[][3] = {
		{ 0xf3, 0xaa }, { 0xf3, 0x48, 0xa5 }, { 0xf2, 0xab }, { 0x67, 0xf3, 0xaa },
	};
	static const unsigned lens[] = { 2, 3, 2, 3 };

	for (unsigned i = 0; i < 4; i++) {
		struct svt_emu_regs r, before;
		struct svt_emu_result res;

		regs_plain(&r, 64);
		/* addr32: only ECX counts, and it is not written */
		r.gpr[RCX] = i == 3 ? 0xffffffff00000000ull : 0;
		r.gpr[RDI] = membase + 0x1003;          /* misaligned: never looked at */
		before = r;
		before.rip += lens[i];
		tm_reset();
		cr_assert_eq(emu(&r, 64, insns[i], lens[i], &res), SVT_EMU_OK);
		cr_assert_eq(tm.reads + tm.cmpxchgs, 0);
		cr_assert(res.complete);
		cr_assert(res.rep);
		cr_assert_eq(res.reps, 0);
		assert_regs_equal(&r, &before, "rep with count 0");
	}
	{       /* with 64-bit addresses, 2^64 - 2^32 is no zero count */
		struct svt_emu_regs r;
		struct svt_emu_result res;

		regs_plain(&r, 64);
		r.gpr[RCX] = 0xffffffff00000000ull;
		r.gpr[RDI] = membase + 0x1000;
		tm_reset();
		cr_assert_eq(emu(&r, 64, insns[0], lens[0], &res), SVT_EMU_OK);
		cr_assert_eq(res.reps, 0x1000);
		cr_assert(!res.complete);
		cr_assert_eq(r.gpr[RCX], 0xffffffff00000000ull - 0x1000);
	}
}

/* A fault or a retry midway: the iterations before it stay done. */
Test(emul, rep_fault_midway)
{
	static const uint8_t rep_stosb[] = { 0xf3, 0xaa };
	static const uint8_t rep_movsw[] = { 0xf3, 0x66, 0xa5 };

	for (unsigned how = 0; how < 4; how++) {
		struct svt_emu_regs r;
		struct svt_emu_result res;
		bool movs = how == 3;
		int rc;

		memset(mem, 0, MEMSZ);
		regs_plain(&r, 64);
		r.gpr[RDI] = membase + 0x1100;
		r.gpr[RSI] = membase + 0x2100;
		r.gpr[RCX] = 10;
		r.gpr[RAX] = 0x77;
		tm_reset();
		switch (how) {
		case 0: tm.fault_kinds = K_DEST; tm.fault_lo = membase + 0x1105; break;
		case 1: tm.fault_kinds = K_WRITE; tm.fault_lo = membase + 0x1105; break;
		case 2: tm.retry_at = 6; break;
		case 3: tm.fault_kinds = K_READ; tm.fault_lo = membase + 0x210a; break;
		}
		tm.fault_hi = tm.fault_lo + 1;
		rc = movs ? emu(&r, 64, rep_movsw, sizeof rep_movsw, &res)
			  : emu(&r, 64, rep_stosb, sizeof rep_stosb, &res);
		cr_assert_eq(rc, how == 2 ? SVT_EMU_RETRY : SVT_EMU_FAULT, "case %u: %d", how, rc);
		cr_assert_eq(res.reps, 5, "case %u: reps %llu", how, (unsigned long long)res.reps);
		cr_assert_eq(r.gpr[RCX], 5);
		cr_assert_eq(r.gpr[RDI], membase + 0x1100 + 5 * (movs ? 2 : 1));
		cr_assert_eq(r.gpr[RSI], membase + 0x2100 + (movs ? 10 : 0));
		cr_assert_eq(r.rip, 0x401000);
		cr_assert(!res.complete);
		if (!movs) {
			cr_assert_eq(peek(membase + 0x1100, 8), 0x7777777777ull);
		}
	}
}

/* ---- 16-bit code details ---------------------------------------------------------- */

/* DI wraps at 16 bits: the next store is in another page, so the call
 * stops; upper register bits are kept. */
Test(emul, rep_16bit_di_wraps)
{
	static const uint8_t rep_stosb[] = { 0xf3, 0xaa };
	struct svt_emu_regs r;
	struct svt_emu_result res;

	regs_plain(&r, 16);
	r.rip = 0x100;
	r.seg_base[SVT_EMU_ES] = membase + 0x1000 - 0xffff;
	r.gpr[RDI] = 0xdeadbeef0000ffffull;
	r.gpr[RCX] = 0xcafe000000010003ull;
	r.gpr[RAX] = 0x99;
	tm_reset();
	cr_assert_eq(emu(&r, 16, rep_stosb, sizeof rep_stosb, &res), SVT_EMU_OK);
	cr_assert_eq(res.reps, 1);
	cr_assert_eq(mem[0x1000], 0x99);
	cr_assert_eq(r.gpr[RDI], 0xdeadbeef00000000ull);
	cr_assert_eq(r.gpr[RCX], 0xcafe000000010002ull);
	cr_assert_eq(r.rip, 0x100);
	cr_assert_eq(res.addrsize, 2);
	cr_assert_eq(res.dst_la, membase + 0x1000);
}

/* IP and EIP wrap at the code size. */
Test(emul, rip_wraps_at_code_size)
{
	static const uint8_t mov16[] = { 0x89, 0x07 };           /* mov [bx], ax */
	static const uint8_t mov32[] = { 0x66, 0x89, 0x03 };     /* mov [ebx], ax */
	struct svt_emu_regs r;
	struct svt_emu_result res;

	regs_plain(&r, 16);
	r.rip = 0xffff;
	r.gpr[RBX] = 0x1000;
	r.seg_base[SVT_EMU_DS] = membase;
	tm_reset();
	cr_assert_eq(emu(&r, 16, mov16, sizeof mov16, &res), SVT_EMU_OK);
	cr_assert_eq(r.rip, 1);
	cr_assert_eq(res.dst_la, membase + 0x1000);
	cr_assert_eq(res.opsize, 2);

	regs_plain(&r, 32);
	r.rip = 0xfffffffe;
	tm_reset();
	cr_assert_eq(emu(&r, 32, mov32, sizeof mov32, &res), SVT_EMU_OK);
	cr_assert_eq(r.rip, 1);

	regs_plain(&r, 64);
	r.rip = 0xfffffffe;
	tm_reset();
	cr_assert_eq(emu(&r, 64, mov32, sizeof mov32, &res), SVT_EMU_OK);
	cr_assert_eq(r.rip, 0x100000001ull);
}

/* Bases the native runs cannot use: CS (writes through CS fault on the
 * CPU, the emulator leaves segment types to the caller) and FS in 32-bit
 * code; and in 64-bit code, ES/CS/SS/DS bases ignored, FS/GS not. */
Test(emul, segment_bases)
{
	static const struct { int bits; uint8_t pfx; int seg; } cases[] = {
		{ 32, 0x2e, SVT_EMU_CS }, { 32, 0x64, SVT_EMU_FS }, { 32, 0x65, SVT_EMU_GS },
		{ 32, 0x26, SVT_EMU_ES }, { 32, 0x36, SVT_EMU_SS }, { 32, 0x3e, SVT_EMU_DS },
		{ 16, 0x2e, SVT_EMU_CS }, { 16, 0x64, SVT_EMU_FS },
		{ 64, 0x26, -1 }, { 64, 0x2e, -1 }, { 64, 0x36, -1 }, { 64, 0x3e, -1 },
		{ 64, 0x64, SVT_EMU_FS }, { 64, 0x65, SVT_EMU_GS },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t b[3] = { cases[i].pfx, 0x89, cases[i].bits == 16 ? 0x0f : 0x0b };
		struct svt_emu_regs r;
		struct svt_emu_result res;
		uint64_t base = cases[i].seg < 0 ? 0 : 0x100 * (uint64_t)(i + 1);

		regs_plain(&r, cases[i].bits);
		for (unsigned s = 0; s < 6; s++)
			r.seg_base[s] = 0x7000 + 0x100 * s;   /* wrong ones */
		if (cases[i].seg >= 0)
			r.seg_base[cases[i].seg] = base;
		r.gpr[RBX] = membase + 0x1000 - base;
		if (cases[i].bits == 16) {
			r.seg_base[cases[i].seg] = membase + 0x1000 - 0x400;
			r.gpr[RBX] = 0x400;
		}
		tm_reset();
		cr_assert_eq(emu(&r, cases[i].bits, b, sizeof b, &res), SVT_EMU_OK, "case %zu", i);
		cr_assert_eq(res.dst_la, membase + 0x1000, "case %zu: %#llx", i,
			     (unsigned long long)res.dst_la);
	}
}

/* ---- the result record --------------------------------------------------------------- */

Test(emul, result_record)
{
	struct svt_emu_regs r;
	struct svt_emu_result res;

	{       /* lock cmpxchg [rbx+8], rcx: success */
		static const uint8_t b[] = { 0xf0, 0x48, 0x0f, 0xb1, 0x4b, 0x08 };

		regs_plain(&r, 64);
		poke(r.gpr[RBX] + 8, 0x1122334455667788ull, 8);
		r.gpr[RAX] = 0x1122334455667788ull;
		r.gpr[RCX] = 0x99;
		tm_reset();
		cr_assert_eq(emu(&r, 64, b, sizeof b, &res), SVT_EMU_OK);
		cr_assert_eq(res.len, 6);
		cr_assert_eq(res.op, SVT_EMU_OP_CMPXCHG);
		cr_assert_str_eq(svt_emu_op_name(res.op), "cmpxchg");
		cr_assert_eq(res.opsize, 8);
		cr_assert_eq(res.addrsize, 8);
		cr_assert_eq(res.dst_la, membase + 0x1000 + 0x40 * RBX + 8);
		cr_assert_eq(res.dst_size, 8);
		cr_assert(res.locked);
		cr_assert(!res.rep);
		cr_assert(res.complete);
		cr_assert_eq(res.old[0], 0x1122334455667788ull);
		cr_assert_eq(res.new[0], 0x99);
		cr_assert_eq(res.old[1], 0);
		cr_assert_eq(res.reps, 0);
		cr_assert(r.rflags & SVT_EMU_ZF);
	}
	{       /* xchg: locked without a prefix; 67: address size 4 */
		static const uint8_t b[] = { 0x67, 0x87, 0x0b };

		regs_plain(&r, 64);
		r.gpr[RBX] |= 0xabcd00000000ull;
		tm_reset();
		cr_assert_eq(emu(&r, 64, b, sizeof b, &res), SVT_EMU_OK);
		cr_assert(res.locked);
		cr_assert_eq(res.op, SVT_EMU_OP_XCHG);
		cr_assert_eq(res.addrsize, 4);
		cr_assert_eq(res.opsize, 4);
		cr_assert_eq(res.dst_la, membase + 0x1000 + 0x40 * RBX);
	}
	{       /* rep movsw in 32-bit code */
		static const uint8_t b[] = { 0xf3, 0x66, 0xa5 };

		regs_plain(&r, 32);
		r.gpr[RCX] = 4;
		poke(r.gpr[RSI], 0xbbbbaaaa, 4);
		tm_reset();
		cr_assert_eq(emu(&r, 32, b, sizeof b, &res), SVT_EMU_OK);
		cr_assert_eq(res.op, SVT_EMU_OP_MOVS);
		cr_assert(res.rep);
		cr_assert(!res.locked);
		cr_assert_eq(res.reps, 4);
		cr_assert_eq(res.opsize, 2);
		cr_assert_eq(res.addrsize, 4);
		cr_assert_eq(res.dst_size, 2);
		cr_assert_eq(res.src_la, membase + 0x1000 + 0x40 * RSI + 6);
		cr_assert_eq(res.dst_la, membase + 0x1000 + 0x40 * RDI + 6);
		cr_assert_eq(peek(membase + 0x1000 + 0x40 * RDI, 4), 0xbbbbaaaa);
	}
	{       /* plain stos: reps 1 */
		static const uint8_t b[] = { 0xaa };

		regs_plain(&r, 64);
		tm_reset();
		cr_assert_eq(emu(&r, 64, b, sizeof b, &res), SVT_EMU_OK);
		cr_assert_eq(res.reps, 1);
		cr_assert(!res.rep);
		cr_assert_eq(res.op, SVT_EMU_OP_STOS);
	}
	{       /* RIP-relative: relative to the end of the instruction,
		 * immediates included */
		uint8_t b[] = { 0x48, 0xc7, 0x05, 0, 0, 0, 0, 0x78, 0x56, 0x34, 0x12 };
		uint64_t target = membase + 0x1230;

		regs_plain(&r, 64);
		r.rip = membase + 0x2000;
		put32(b + 3, (uint32_t)(target - (r.rip + sizeof b)));
		tm_reset();
		cr_assert_eq(emu(&r, 64, b, sizeof b, &res), SVT_EMU_OK);
		cr_assert_eq(res.dst_la, target);
		cr_assert_eq(peek(target, 8), 0x12345678);
	}
}

Test(emul, op_names)
{
	for (unsigned i = 1; i < SVT_EMU_OP_COUNT; i++) {
		const char *n = svt_emu_op_name(i);

		cr_assert_neq(strcmp(n, "?"), 0, "op %u has no name", i);
		for (unsigned j = 1; j < i; j++)
			cr_assert_neq(strcmp(n, svt_emu_op_name(j)), 0,
				      "ops %u and %u share a name", i, j);
	}
	cr_assert_str_eq(svt_emu_op_name(SVT_EMU_OP_NONE), "?");
	cr_assert_str_eq(svt_emu_op_name(SVT_EMU_OP_COUNT), "?");
	cr_assert_str_eq(svt_emu_op_name(~0u), "?");
}

/* With misaligned_ok the same misaligned (and page-crossing) writes are
 * performed, through one cmpxchg at the misaligned address. */
Test(emul, misaligned_ok_performs_split_writes)
{
	static const uint8_t mov[] = { 0x48, 0x89, 0x07 };      /* mov [rdi], rax */
	struct svt_emu_mem ops = tmem_ops;
	struct svt_emu_regs r;
	struct svt_emu_result res;

	ops.misaligned_ok = true;
	fill_random();
	for (uint64_t off = 0xffb; off <= 0xfff; off++) {      /* 3 misaligned, 2 page-crossing */
		memset(&r, 0, sizeof r);
		r.gpr[SVT_EMU_RDI] = membase + off;
		r.gpr[SVT_EMU_RAX] = 0x1122334455667788ull + off;
		r.rip = 0x1000;
		tm_reset();
		cr_assert_eq(svt_emulate(&r, 64, mov, sizeof mov, &ops, &res), SVT_EMU_OK);
		cr_assert_eq(tm.cmpxchgs, 1);
		cr_assert_eq(tm.last_la, membase + off);
		cr_assert_eq(r.rip, 0x1003);
		uint64_t v;
		memcpy(&v, mem + off, 8);
		cr_assert_eq(v, 0x1122334455667788ull + off);
	}
	/* CMPXCHG16B must stay aligned: still SPLIT. */
	static const uint8_t c16[] = { 0xf0, 0x48, 0x0f, 0xc7, 0x0f };   /* lock cmpxchg16b [rdi] */
	memset(&r, 0, sizeof r);
	r.gpr[SVT_EMU_RDI] = membase + 8;
	tm_reset();
	cr_assert_eq(svt_emulate(&r, 64, c16, sizeof c16, &ops, &res), SVT_EMU_SPLIT);
}

/* svt_emu_modrm_la: the memory operand of an instruction the emulator
 * does not perform (src/mmu_implicit.c decodes segment loads with it). */
Test(emul, modrm_linear_address)
{
	struct svt_emu_regs r = { .rip = 0x1000 };
	uint64_t la;
	unsigned end;
	r.gpr[SVT_EMU_RDI] = 0x5000;
	r.gpr[SVT_EMU_RBP] = 0x20;
	r.gpr[SVT_EMU_RSI] = 0x3;
	r.seg_base[SVT_EMU_DS] = 0x100000;
	r.seg_base[SVT_EMU_SS] = 0x200000;
	r.seg_base[SVT_EMU_FS] = 0x7000000000ull;
	/* MOV DS, [EDI+0x10] (8E 5F 10), 32-bit: DS base + EDI + disp8 */
	static const uint8_t a[] = { 0x8e, 0x5f, 0x10 };
	cr_assert(svt_emu_modrm_la(&r, 32, a, 3, 1, 0, 4, -1, &la, &end));
	cr_assert_eq(la, 0x105010);
	cr_assert_eq(end, 3);
	/* 16-bit [BP+SI] (rm 2): SS by default */
	static const uint8_t b[] = { 0x8e, 0x1a };
	cr_assert(svt_emu_modrm_la(&r, 16, b, 2, 1, 0, 2, -1, &la, &end));
	cr_assert_eq(la, 0x200023);
	/* 64-bit: DS base ignored, FS override applies, RIP-relative counts
	 * from the end of the displacement: FF 1D disp32 (CALL far [RIP+8]) */
	static const uint8_t c[] = { 0xff, 0x1d, 0x08, 0x00, 0x00, 0x00 };
	cr_assert(svt_emu_modrm_la(&r, 64, c, 6, 1, 0, 8, -1, &la, &end));
	cr_assert_eq(la, 0x1000 + 6 + 8);
	cr_assert(svt_emu_modrm_la(&r, 64, a, 3, 1, 0, 8, SVT_EMU_FS, &la, &end));
	cr_assert_eq(la, 0x7000005010ull);
	/* a register operand, and a truncated displacement */
	static const uint8_t d[] = { 0x8e, 0xd8 };
	cr_assert(!svt_emu_modrm_la(&r, 32, d, 2, 1, 0, 4, -1, &la, &end));
	cr_assert(!svt_emu_modrm_la(&r, 32, a, 2, 1, 0, 4, -1, &la, &end));
}
