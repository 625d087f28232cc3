/*
 * long64.c — the 64-bit test guest: 4-level paging from 64-bit code
 * (entry64.S turns long mode on).  Every step prints its outcome on COM1,
 * so the guest natively in Bochs and under the hypervisor must print the
 * same lines.  Each part runs only where CPUID offers what it needs, and
 * says so when it does not:
 *
 *   pages      a 1 GiB page and a 2 MiB page aliasing 4 KiB-mapped memory;
 *              the A and D bits the CPU sets in them
 *   demand     demand paging and copy-on-write by the #PF handler
 *   perm       the permission matrix: leaf R/W, U/S, XD x CPL 0 and 3 x
 *              CR0.WP x CR4.SMEP x CR4.SMAP x RFLAGS.AC; read, write,
 *              execute; the error code and the leaf's A/D bits after each
 *   ptwrite    page-table writes through the self-map (PML4 slot 510),
 *              one per instruction form the hypervisor's core emulates:
 *              MOV (64 and 32 bits), XCHG, CMPXCHG, CMPXCHG16B, XADD, OR,
 *              AND, ADD, SUB, XOR, INC, DEC, BTS, BTR, BTC, REP STOSQ,
 *              REP MOVSQ
 *   pcid       two address spaces under PCIDs 1 and 2 switched with
 *              no-flush CR3 writes; INVPCID of each type (0..3); global
 *              pages and CR4.PGE
 *   devices    the local APIC and the I/O APIC through uncached 2 MiB
 *              pages: device memory passes through the hypervisor
 *   k13        only with "k13" on the command line, with SMAP: under
 *              CR0.WP=0 and RFLAGS.AC=1, an INT delivered onto read-only
 *              user pages as the stack, its frame across the boundary of
 *              two (writes only WP=0 allows, with no instruction the
 *              hypervisor could emulate: the core lets them through for
 *              one step, K13, both pages in it); the RIP it pushed; then a
 *              supervisor read there with AC=0 (SMAP: #PF).  Opt-in: the
 *              step needs the monitor trap flag's exits, which Bochs 2.7
 *              does not deliver (tests/live-guests.sh)
 *   cpu        what the guest sees of the CPU's own state: CR0.ET; RFLAGS.RF
 *              in the image a #PF pushes; CPUID.1:ECX.OSXSAVE following
 *              CR4.OSXSAVE; with PKU, CPUID.7:ECX.OSPKE following CR4.PKE
 *              and a ring-3 read of a key-1 page under PKRU.AD (set with
 *              no exit); #GP for a reserved CR4 bit, with RF in what it
 *              pushes
 */
#include <stdint.h>

#include "glib.h"

#define P  1ull
#define RW 2ull
#define US 4ull
#define A  0x20ull
#define D  0x40ull
#define PS 0x80ull
#define G  0x100ull
#define XD (1ull << 63)
#define ADDR 0x000ffffffffff000ull

#define TEST_VA   0x80000000ull         /* pt_test: 512 4 KiB test pages */
#define ALIAS2M   0x80200000ull         /* a 2 MiB page */
#define ALIAS1G   0x40000000ull         /* a 1 GiB page onto [0, 1 GiB) */
#define SPACE_VA  0x8000000000ull       /* PML4 slot 1: differs per address space */
#define SELF      510ull                /* the self-map's PML4 slot */

extern char __user_start[], __user_end[], __ustack_start[], __image_end[];
extern uint64_t user_value;
int probe_read(uint64_t va, uint64_t *out);
int probe_write(uint64_t va, uint64_t val);
int probe_exec(uint64_t va);
int user_probe(int kind, uint64_t va, uint64_t val);
int probe_cr4(uint64_t val);
int probe_cr0(uint64_t val);
uint64_t k13_int(uint64_t top);
extern char k13_after[];
extern volatile uint64_t trap_rflags;
void gmain(uint32_t magic, uint32_t info);
void trap(uint64_t vec, uint64_t ec, uint64_t rip);
uint64_t pf_handler(uint64_t ec, uint64_t cr2, uint64_t from_user);

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt0[512] __attribute__((aligned(4096)));
static uint64_t pd0[512] __attribute__((aligned(4096)));
static uint64_t pt0[2][512] __attribute__((aligned(4096)));
static uint64_t pd_test[512] __attribute__((aligned(4096)));
static uint64_t pd_dev[512] __attribute__((aligned(4096)));
static uint64_t pt_test[512] __attribute__((aligned(4096)));
/* the second address space, and each space's slot-1 tables */
static uint64_t pml4_b[512] __attribute__((aligned(4096)));
static uint64_t sp_pdpt[2][512] __attribute__((aligned(4096)));
static uint64_t sp_pd[2][512] __attribute__((aligned(4096)));
static uint64_t sp_pt[2][512] __attribute__((aligned(4096)));
#define NFRAMES 40
static uint8_t frames[NFRAMES][4096] __attribute__((aligned(4096)));
static unsigned next_frame;

/* ---- output ------------------------------------------------------------------ */

static char buf[256];
static unsigned blen;

static void out(const char *s)
{
	while (*s && blen < sizeof(buf) - 1)
		buf[blen++] = *s++;
}

static void outx(uint64_t v)
{
	char t[19];
	int n = 0;
	do
		t[n++] = "0123456789abcdef"[v & 15];
	while ((v >>= 4) && n < 16);
	out("0x");
	while (n && blen < sizeof(buf) - 1)
		buf[blen++] = t[--n];
}

static void flush_line(void)
{
	buf[blen] = 0;
	puts_("guest: ");
	puts_(buf);
	puts_("\n");
	blen = 0;
}

static void say(const char *s)
{
	out(s);
	flush_line();
}

void trap(uint64_t vec, uint64_t ec, uint64_t rip)
{
	out("unexpected exception ");
	outx(vec);
	out(" error code ");
	outx(ec);
	out(" rip ");
	outx(rip);
	flush_line();
	poweroff();
}

/* ---- CPU ---------------------------------------------------------------------- */

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static inline uint64_t get_cr0(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}
static inline uint64_t get_cr4(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}
static inline void set_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" :: "r"(v) : "memory"); }
static inline void set_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" :: "r"(v) : "memory"); }
static inline void set_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" :: "r"(v) : "memory"); }
static inline void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" :: "r"(va) : "memory"); }

static inline void invpcid(uint64_t type, uint64_t pcid, uint64_t va)
{
	struct { uint64_t pcid, va; } d = { pcid, va };
	__asm__ volatile("invpcid %0, %1" :: "m"(d), "r"(type) : "memory");
}

static void set_ac(int on)
{
	uint64_t f;
	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	f = on ? f | (1ull << 18) : f & ~(1ull << 18);
	__asm__ volatile("pushq %0; popfq" :: "r"(f) : "cc", "memory");
}

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }

static uint64_t new_frame(uint64_t tag)
{
	if (next_frame >= NFRAMES) {
		say("out of frames");
		poweroff();
	}
	uint64_t *f = (uint64_t *)(void *)frames[next_frame++];
	for (int i = 0; i < 512; i++)
		f[i] = 0;
	f[0] = tag;
	return pa(f);
}

/* ---- #PF ------------------------------------------------------------------------ */

static volatile uint64_t last_ec, last_cr2;
static volatile int armed;              /* a probe is armed: abandon, do not fix */
static uint64_t demand_lo, demand_hi;   /* not-present pages the handler fills in */

uint64_t pf_handler(uint64_t ec, uint64_t cr2, uint64_t from_user)
{
	(void)from_user;
	last_ec = ec;
	last_cr2 = cr2;
	if (armed)
		return 1;
	if (cr2 >= demand_lo && cr2 < demand_hi) {
		uint64_t *e = &pt_test[(cr2 >> 12) & 511];
		out("#PF at ");
		outx(cr2);
		out(" error code ");
		outx(ec);
		if (!(*e & P)) {
			*e = new_frame(cr2 & ~0xfffull) | P | RW;
			out(": demand-paged");
		} else {
			uint64_t *from = (uint64_t *)(uintptr_t)(*e & ADDR);
			uint64_t to = new_frame(0);
			for (int i = 0; i < 512; i++)
				((uint64_t *)(uintptr_t)to)[i] = from[i];
			*e = to | P | RW;
			out(": copied on write");
		}
		flush_line();
		invlpg(cr2);
		return 0;
	}
	out("unexpected #PF at ");
	outx(cr2);
	out(" error code ");
	outx(ec);
	flush_line();
	poweroff();
}

/* The outcome of one probe: "ok" or "pf EC". */
static void outcome(int faulted)
{
	if (faulted) {
		out(" pf ");
		outx(last_ec);
		out(" cr2 ");
		outx(last_cr2);
	} else {
		out(" ok");
	}
}

static int kread(uint64_t va, uint64_t *v)
{
	armed = 1;
	int r = probe_read(va, v);
	armed = 0;
	return r;
}

static int kwrite(uint64_t va, uint64_t v)
{
	armed = 1;
	int r = probe_write(va, v);
	armed = 0;
	return r;
}

static int uprobe(int kind, uint64_t va, uint64_t v)
{
	armed = 1;
	int r = user_probe(kind, va, v);
	armed = 0;
	return r;
}

/* ---- the address space ---------------------------------------------------------- */

static int has_1g, has_smep, has_smap, has_pcid, has_invpcid, has_nx;

static void build_tables(void)
{
	uint64_t user_lo = pa(__user_start), user_hi = pa(__user_end);
	uint64_t us_lo = pa(__ustack_start);
	pml4[0] = pa(pdpt0) | P | RW | US;
	pml4[SELF] = pa(pml4) | P | RW;
	pdpt0[0] = pa(pd0) | P | RW | US;
	for (int i = 0; i < 2; i++)
		pd0[i] = pa(pt0[i]) | P | RW | US;
	for (uint64_t a = 0x1000; a < 0x400000; a += 0x1000) {
		uint64_t e = a | P | RW;
		if ((a >= user_lo && a < user_hi) || a == us_lo)
			e |= US;
		pt0[a >> 21][(a >> 12) & 511] = e;
	}
	for (int i = 2; i < 32; i++)            /* 4 MiB .. 64 MiB in 2 MiB pages */
		pd0[i] = ((uint64_t)i << 21) | P | RW | PS;
	if (has_1g)
		pdpt0[1] = 0 | P | RW | PS;     /* ALIAS1G */
	pdpt0[2] = pa(pd_test) | P | RW | US;
	pd_test[0] = pa(pt_test) | P | RW | US;
	set_cr3(pa(pml4));
}

static void part_pages(void)
{
	uint64_t f = new_frame(0x1111222233334444ull), v;
	if (has_1g) {
		int r = kread(ALIAS1G + f, &v);
		out("pages: read through a 1 GiB page");
		outcome(r);
		out(" ");
		outx(v);
		r = kwrite(ALIAS1G + f + 8, 0x5555);
		out(", write");
		outcome(r);
		out(", seen at 4 KiB ");
		outx(((uint64_t *)(uintptr_t)f)[1]);
		out(", PDPTE A/D ");
		outx(pdpt0[1] & (A | D));
		flush_line();
	} else {
		say("pages: no 1 GiB pages on this CPU");
	}
	pd_test[1] = (f & ~0x1fffffull) | P | RW | PS;
	invlpg(ALIAS2M);
	int r = kread(ALIAS2M + (f & 0x1fffff), &v);
	out("pages: read through a 2 MiB page");
	outcome(r);
	out(" ");
	outx(v);
	out(", PDE A/D ");
	outx(pd_test[1] & (A | D));
	r = kwrite(ALIAS2M + (f & 0x1fffff) + 16, 0x6666);
	out(", write");
	outcome(r);
	out(" ");
	outx(((uint64_t *)(uintptr_t)f)[2]);
	out(", PDE A/D ");
	outx(pd_test[1] & (A | D));
	flush_line();
}

static void part_demand(void)
{
	demand_lo = TEST_VA + 0x100000;
	demand_hi = demand_lo + 0x10000;
	uint64_t b = demand_lo;
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)b;
	uint64_t v = p[0];                              /* demand read */
	p[512] = v + 1;                                 /* demand write */
	uint64_t shared = new_frame(0xc0c0c0c0ull);
	pt_test[((b + 0x2000) >> 12) & 511] = shared | P;       /* read-only */
	invlpg(b + 0x2000);
	v = p[1024];
	p[1024] = v + 2;                                /* copy on write */
	out("demand: read ");
	outx(v);
	out(", the copy ");
	outx(p[1024]);
	out(", the original ");
	outx(*(uint64_t *)(uintptr_t)shared);
	flush_line();
}

/* ---- the permission matrix -------------------------------------------------------- */

static uint64_t perm_frame;

static void perm_set(unsigned f)
{
	uint64_t e = perm_frame | P;
	if (f & 1)
		e |= RW;
	if (f & 2)
		e |= US;
	if ((f & 4) && has_nx)
		e |= XD;
	pt_test[0] = e;
	invlpg(TEST_VA);
	invlpg(TEST_VA + 0x800);
}

static void perm_ad(void)
{
	out(" ad ");
	outx(pt_test[0] & (A | D));
}

static void part_perm(void)
{
	perm_frame = new_frame(0);
	uint8_t *code = (uint8_t *)(uintptr_t)perm_frame;
	/* mov $0x12345678,%eax; ret */
	const uint8_t insn[] = { 0xb8, 0x78, 0x56, 0x34, 0x12, 0xc3 };
	for (unsigned i = 0; i < sizeof(insn); i++)
		code[i] = insn[i];
	uint64_t cr0 = get_cr0(), cr4 = get_cr4(), v;
	for (unsigned f = 0; f < (has_nx ? 8u : 4u); f++) {
		perm_set(f);
		out("perm ");
		out(f & 1 ? "rw" : "ro");
		out(f & 2 ? " user" : " supv");
		out(f & 4 ? " xd" : "");
		out(" cpl3: read");
		int r0 = uprobe(0, TEST_VA + 0x800, 0);
		outcome(r0);
		if (!r0) {
			out(" ");
			outx(user_value);
		}
		perm_ad();
		perm_set(f);
		out("; write");
		outcome(uprobe(1, TEST_VA + 0x800, 0x77));
		perm_ad();
		perm_set(f);
		out("; exec");
		int r = uprobe(2, TEST_VA, 0);
		outcome(r);
		if (!r) {
			out(" ");
			outx(user_value);
		}
		flush_line();
		for (unsigned c = 0; c < 16; c++) {
			unsigned wp = c & 1, smep = (c >> 1) & 1, smap = (c >> 2) & 1;
			unsigned ac = (c >> 3) & 1;
			if ((smep && !has_smep) || (smap && !has_smap) || (ac && !smap))
				continue;
			set_cr0(wp ? cr0 | (1u << 16) : cr0 & ~(1ull << 16));
			set_cr4((cr4 & ~(3ull << 20)) | (uint64_t)smep << 20 |
				(uint64_t)smap << 21);
			set_ac(ac);
			perm_set(f);
			int rr = kread(TEST_VA + 0x800, &v);
			out("perm ");
			out(f & 1 ? "rw" : "ro");
			out(f & 2 ? " user" : " supv");
			out(f & 4 ? " xd" : "");
			out(" cpl0");
			out(wp ? " wp" : "");
			out(smep ? " smep" : "");
			out(smap ? " smap" : "");
			out(ac ? " ac" : "");
			out(": read");
			outcome(rr);
			if (!rr) {
				out(" ");
				outx(v);
			}
			perm_ad();
			perm_set(f);
			rr = kwrite(TEST_VA + 0x800, 0x88);
			out("; write");
			outcome(rr);
			perm_ad();
			perm_set(f);
			armed = 1;
			rr = probe_exec(TEST_VA);
			armed = 0;
			out("; exec");
			outcome(rr);
			set_ac(0);
			set_cr4(cr4);
			set_cr0(cr0);
			flush_line();
		}
	}
	pt_test[0] = 0;
	invlpg(TEST_VA);
}

/* ---- page-table writes through the self-map --------------------------------------- */

static volatile uint64_t *self_pte(uint64_t va)
{
	return (volatile uint64_t *)(uintptr_t)(0xffffff0000000000ull |
						((va >> 9) & 0x7ffffffff8ull));
}

static uint64_t fa, fb;                 /* two tagged frames, fb = fa + 4 KiB */

/* After a write to the PTE of va: the entry and what a read finds. */
static void pt_report(const char *form, uint64_t va, uint64_t extra)
{
	invlpg(va);
	uint64_t v = 0;
	int r = kread(va, &v);
	out("ptwrite ");
	out(form);
	out(": pte ");
	outx(pt_test[(va >> 12) & 511] & ~(A | D));
	out(", read");
	outcome(r);
	if (!r) {
		out(" ");
		outx(v);
	}
	if (extra != ~0ull) {
		out(", ");
		outx(extra);
	}
	flush_line();
}

static void part_ptwrite(void)
{
	fa = new_frame(0xaaaa);
	fb = new_frame(0xbbbb);
	if (fb != fa + 0x1000) {
		say("ptwrite: frames not adjacent");
		return;
	}
	uint64_t t = TEST_VA + 64 * 0x1000;
	unsigned i = 64;
#define NEXT(init) \
	(t = TEST_VA + (uint64_t)++i * 0x1000, pt_test[i] = (init), invlpg(t), self_pte(t))
	volatile uint64_t *e = self_pte(t);
	pt_test[i] = fa | P | RW;
	invlpg(t);
	*e = fb | P | RW;
	pt_report("mov", t, ~0ull);

	e = NEXT(fa | P | RW);
	__asm__ volatile("movl %1, %0" : "+m"(*(volatile uint32_t *)e) : "r"((uint32_t)(fb | P)));
	pt_report("mov32", t, ~0ull);

	e = NEXT(fa | P | RW);
	uint64_t x = fb | P;
	__asm__ volatile("xchgq %1, %0" : "+m"(*e), "+r"(x));
	pt_report("xchg", t, x);

	e = NEXT(fa | P | RW);
	uint64_t old = fa | P | RW;
	uint8_t ok;
	__asm__ volatile("lock cmpxchgq %3, %0; sete %1" : "+m"(*e), "=q"(ok), "+a"(old)
			 : "r"(fb | P | RW) : "cc");
	pt_report("cmpxchg", t, ok);
	old = 0x1234;
	__asm__ volatile("lock cmpxchgq %3, %0; sete %1" : "+m"(*e), "=q"(ok), "+a"(old)
			 : "r"(fa | P) : "cc");
	pt_report("cmpxchg-fail", t, old);

	if (!(i & 1))
		i++;
	e = NEXT(fa | P | RW);
	pt_test[i + 1] = fa | P;
	uint64_t lo = fa | P | RW, hi = fa | P;
	__asm__ volatile("lock cmpxchg16b %0; sete %1"
			 : "+m"(*(volatile __int128 *)e), "=q"(ok), "+a"(lo), "+d"(hi)
			 : "b"(fb | P), "c"(fb | P | RW) : "cc");
	pt_report("cmpxchg16b", t, ok);
	i++;
	t += 0x1000;
	pt_report("cmpxchg16b+8", t, ~0ull);

	e = NEXT(fa | P | RW);
	x = 0x1000;
	__asm__ volatile("lock xaddq %1, %0" : "+m"(*e), "+r"(x) :: "cc");
	pt_report("xadd", t, x);

	e = NEXT(fa | P);
	__asm__ volatile("lock orq $2, %0" : "+m"(*e) :: "cc");
	out("ptwrite or: write");
	invlpg(t);
	outcome(kwrite(t + 8, 1));
	flush_line();
	__asm__ volatile("lock andq $-3, %0" : "+m"(*e) :: "cc");
	invlpg(t);
	out("ptwrite and: write");
	outcome(kwrite(t + 8, 2));
	flush_line();

	e = NEXT(fa | P | RW);
	__asm__ volatile("addq $0x1000, %0" : "+m"(*e) :: "cc");
	pt_report("add", t, ~0ull);
	__asm__ volatile("subq $0x1000, %0" : "+m"(*e) :: "cc");
	pt_report("sub", t, ~0ull);
	__asm__ volatile("xorq $1, %0" : "+m"(*e) :: "cc");
	pt_report("xor", t, ~0ull);
	__asm__ volatile("lock incq %0" : "+m"(*e) :: "cc");
	pt_report("inc", t, ~0ull);
	__asm__ volatile("lock decq %0" : "+m"(*e) :: "cc");
	pt_report("dec", t, ~0ull);
	__asm__ volatile("lock btsq $0, %0" : "+m"(*e) :: "cc");
	pt_report("bts", t, ~0ull);
	__asm__ volatile("lock btrq $1, %0" : "+m"(*e) :: "cc");
	pt_report("btr", t, ~0ull);
	__asm__ volatile("lock btcq $12, %0" : "+m"(*e) :: "cc");
	pt_report("btc", t, ~0ull);

	/* REP STOSQ and REP MOVSQ over four entries each */
	i += 4;
	volatile uint64_t *d = self_pte(TEST_VA + (uint64_t)i * 0x1000);
	uint64_t n = 4, val = fb | P | RW;
	void *dp = (void *)(uintptr_t)d;
	__asm__ volatile("cld; rep stosq" : "+D"(dp), "+c"(n) : "a"(val) : "memory");
	for (unsigned k = 0; k < 4; k++)
		pt_report("rep-stos", TEST_VA + (uint64_t)(i + k) * 0x1000, ~0ull);
	i += 4;
	static const uint64_t flags[4] = { P, P | RW, 0, P | RW | XD };
	uint64_t tmpl[4];
	for (unsigned k = 0; k < 4; k++)
		tmpl[k] = (k & 1 ? fb : fa) | flags[k];
	dp = (void *)(uintptr_t)self_pte(TEST_VA + (uint64_t)i * 0x1000);
	void *sp = tmpl;
	n = 4;
	__asm__ volatile("cld; rep movsq" : "+D"(dp), "+S"(sp), "+c"(n) :: "memory");
	for (unsigned k = 0; k < 4; k++)
		pt_report("rep-movs", TEST_VA + (uint64_t)(i + k) * 0x1000, ~0ull);
#undef NEXT
}

/* ---- PCIDs, INVPCID, global pages ----------------------------------------------- */

#define NOFLUSH (1ull << 63)

static inline uint64_t get_cr3(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static void space_read(const char *what)
{
	uint64_t v = 0;
	int r = kread(SPACE_VA, &v);
	out("pcid ");
	out(what);
	out(": cr3 pcid ");
	outx(get_cr3() & 0xfff);
	out(", read");
	outcome(r);
	if (!r) {
		out(" ");
		outx(v);
	}
	uint64_t g = 0;
	r = kread(SPACE_VA + 0x1000, &g);
	out(", global page");
	outcome(r);
	if (!r) {
		out(" ");
		outx(g);
	}
	flush_line();
}

static void part_pcid(void)
{
	if (!has_pcid) {
		say("pcid: no PCIDs on this CPU");
		return;
	}
	uint64_t f[2], c = new_frame(0xcccc), dd = new_frame(0xdddd);
	uint64_t g1 = new_frame(0x6161), g2 = new_frame(0x6262);
	for (int k = 0; k < 2; k++) {
		f[k] = new_frame(0xa0a0 + (uint64_t)k);
		sp_pdpt[k][0] = pa(sp_pd[k]) | P | RW;
		sp_pd[k][0] = pa(sp_pt[k]) | P | RW;
		sp_pt[k][0] = f[k] | P | RW;
		sp_pt[k][1] = g1 | P | RW | G;
	}
	for (int k = 0; k < 512; k++)
		pml4_b[k] = pml4[k];
	pml4_b[SELF] = pa(pml4_b) | P | RW;
	pml4[1] = pa(sp_pdpt[0]) | P | RW;
	pml4_b[1] = pa(sp_pdpt[1]) | P | RW;
	uint64_t a = pa(pml4), b = pa(pml4_b), cr4 = get_cr4();
	set_cr3(a);
	set_cr4(cr4 | (1u << 7) | (1u << 17));         /* PGE, PCIDE */
	set_cr3(a | 1);
	space_read("A(1)");
	set_cr3(b | 2);
	space_read("B(2)");
	set_cr3(a | 1 | NOFLUSH);
	space_read("A(1) no flush");
	set_cr3(b | 2 | NOFLUSH);
	space_read("B(2) no flush");

	sp_pt[0][0] = c | P | RW;                       /* A's, while B runs */
	if (has_invpcid)
		invpcid(0, 1, SPACE_VA);
	set_cr3(a | 1 | (has_invpcid ? NOFLUSH : 0));
	space_read("A after INVPCID 0 (or a flush)");

	sp_pt[1][0] = dd | P | RW;                      /* B's, while A runs */
	if (has_invpcid)
		invpcid(1, 2, 0);
	set_cr3(b | 2 | (has_invpcid ? NOFLUSH : 0));
	space_read("B after INVPCID 1 (or a flush)");

	sp_pt[0][0] = f[0] | P | RW;
	if (has_invpcid)
		invpcid(3, 0, 0);
	set_cr3(a | 1 | (has_invpcid ? NOFLUSH : 0));
	space_read("A after INVPCID 3 (or a flush)");

	sp_pt[0][1] = sp_pt[1][1] = g2 | P | RW | G;
	if (has_invpcid) {
		invpcid(2, 0, 0);
	} else {
		set_cr4(get_cr4() & ~(1ull << 7));
		set_cr4(get_cr4() | (1u << 7));
	}
	space_read("A after INVPCID 2 (or a PGE toggle)");

	sp_pt[0][1] = sp_pt[1][1] = g1 | P | RW | G;
	invlpg(SPACE_VA + 0x1000);
	set_cr3(b | 2 | NOFLUSH);
	space_read("B after INVLPG of the global page in A");

	set_cr3(a);
	set_cr4(cr4);
	set_cr3(a);
	pml4[1] = 0;
	set_cr3(a);
}

/* ---- device memory ---------------------------------------------------------------- */

#define PWT 0x8ull
#define PCD 0x10ull

static void part_devices(void)
{
	pdpt0[3] = pa(pd_dev) | P | RW;
	pd_dev[(0xfec00000u >> 21) & 511] = 0xfec00000u | P | RW | PS | PCD | PWT;
	pd_dev[(0xfee00000u >> 21) & 511] = 0xfee00000u | P | RW | PS | PCD | PWT;
	invlpg(0xfec00000u);
	invlpg(0xfee00000u);
	volatile uint32_t *lapic = (volatile uint32_t *)(uintptr_t)0xfee00000u;
	volatile uint32_t *ioapic = (volatile uint32_t *)(uintptr_t)0xfec00000u;
	out("devices: local APIC id ");
	outx(lapic[0x20 / 4] >> 24);
	out(" version ");
	outx(lapic[0x30 / 4] & 0xff00ff);
	ioapic[0] = 1;                  /* IOREGSEL: the version register */
	out(", I/O APIC version ");
	outx(ioapic[0x10 / 4] & 0xff00ff);
	flush_line();
}

/* ---- the CPU's own state ------------------------------------------------------------ */

#define RF          (1ull << 16)
#define CR4_OSXSAVE (1ull << 18)
#define CR4_PKE     (1ull << 22)
#define CR4_RSVD15  (1ull << 15)
#define PKEY1       (1ull << 59)        /* protection key 1 in a leaf */
#define PK_SLOT     500ull              /* the pt_test entry of the key-1 page */

static inline void wrpkru(uint32_t v)
{
	/* WRPKRU */
	__asm__ volatile(".byte 0x0f, 0x01, 0xef" :: "a"(v), "c"(0), "d"(0) : "memory");
}

static void part_cpu(void)
{
	uint32_t r[4];
	uint64_t v, cr4 = get_cr4();
	set_cr0(get_cr0() & ~(1ull << 4));             /* ET is hard-wired to 1 */
	out("cpu: CR0.ET written 0 reads ");
	outx((get_cr0() >> 4) & 1);
	/* a #PF is a fault: the RFLAGS it pushes has RF set */
	trap_rflags = 0;
	int f = kread(0xc0000000ull, &v);               /* PDPT slot 3: not present */
	out(", #PF");
	outcome(f);
	out(" RF ");
	outx((trap_rflags & RF) >> 16);
	flush_line();
	cpuid(1, 0, r);
	if ((r[2] >> 26) & 1) {
		out("cpu: OSXSAVE ");
		outx((r[2] >> 27) & 1);
		set_cr4(cr4 | CR4_OSXSAVE);
		cpuid(1, 0, r);
		out(", with CR4.OSXSAVE ");
		outx((r[2] >> 27) & 1);
		set_cr4(cr4 & ~CR4_OSXSAVE);
		cpuid(1, 0, r);
		out(", without ");
		outx((r[2] >> 27) & 1);
		flush_line();
		set_cr4(cr4);
	} else {
		say("cpu: no XSAVE on this CPU");
	}
	cpuid(7, 0, r);
	if ((r[2] >> 3) & 1) {
		out("cpu: OSPKE ");
		outx((r[2] >> 4) & 1);
		set_cr4(cr4 | CR4_PKE);
		cpuid(7, 0, r);
		out(", with CR4.PKE ");
		outx((r[2] >> 4) & 1);
		/* a user page with key 1, read from ring 3: the shadow is built
		 * under PKRU 0; then PKRU.AD for key 1, set with no exit, must
		 * fault (the hypervisor reads PKRU at the exit), then not again */
		uint64_t va = TEST_VA + PK_SLOT * 0x1000;
		pt_test[PK_SLOT] = new_frame(0x7e7e) | P | RW | US | PKEY1;
		invlpg(va);
		wrpkru(0);
		out(", key 1 read");
		outcome(uprobe(0, va, 0));
		wrpkru(1u << 2);
		out(", with PKRU.AD1");
		outcome(uprobe(0, va, 0));
		wrpkru(0);
		out(", without");
		outcome(uprobe(0, va, 0));
		set_cr4(cr4);
		flush_line();
	} else {
		say("cpu: no PKU on this CPU");
	}
	/* a reserved CR4 bit: #GP, a fault, so RF is set in what it pushes
	 * (not tried under another hypervisor, CPUID.1:ECX[31]: QEMU 7.2's
	 * TCG does not raise the #GP and the guest hangs) */
	cpuid(1, 0, r);
	if (r[2] >> 31) {
		say("cpu: under another hypervisor: no CR4 probe");
		return;
	}
	trap_rflags = 0;
	f = probe_cr4(cr4 | CR4_RSVD15);
	out("cpu: CR4 bit 15 ");
	out(f ? "#GP RF " : "accepted ");
	outx((trap_rflags & RF) >> 16);
	flush_line();
	if (!f)
		set_cr4(cr4);
	/* clearing CR0.PG in 64-bit mode: #GP (SDM Vol. 2B MOV) */
	uint64_t cr0 = get_cr0();
	trap_rflags = 0;
	f = probe_cr0(cr0 & ~(1ull << 31));
	out("cpu: CR0.PG cleared in 64-bit mode: ");
	out(f ? "#GP RF " : "accepted ");
	outx((trap_rflags & RF) >> 16);
	flush_line();
	if (!f)
		set_cr0(cr0);
}

/* ---- K13: an event's push that only CR0.WP=0 allows, under SMAP ------------------ */

#define K13_SLOT    501ull              /* the pt_test entries of the stack pages: this, next */

static int want_k13;             /* "k13" on the command line */

/* Does the Multiboot (v1) command line hold word w?  (Read while the boot
 * tables map the low 1 GiB, where the loader put it.) */
static int cmdline_has(uint32_t info, const char *w)
{
	const volatile uint32_t *mbi = (const volatile uint32_t *)(uintptr_t)info;
	if (!info || !(mbi[0] & 4) || !mbi[4])
		return 0;
	for (const volatile char *c = (const volatile char *)(uintptr_t)mbi[4]; *c; c++) {
		unsigned i = 0;
		while (w[i] && c[i] == w[i])
			i++;
		if (!w[i] && (c[i] == 0 || c[i] == ' '))
			return 1;
	}
	return 0;
}

static void part_k13(void)
{
	if (!want_k13)
		return;
	if (!has_smap) {
		say("k13: no SMAP on this CPU");
		return;
	}
	uint64_t va = TEST_VA + K13_SLOT * 0x1000, cr0 = get_cr0(), cr4 = get_cr4(), v;
	pt_test[K13_SLOT] = new_frame(0) | P | US | A | D;     /* user, read-only */
	pt_test[K13_SLOT + 1] = new_frame(0) | P | US | A | D;
	invlpg(va);
	invlpg(va + 0x1000);
	set_cr4(cr4 | (1ull << 21));
	set_cr0(cr0 & ~(1ull << 16));
	set_ac(1);
	/* the frame: SS and RSP on the upper page (pushed first), RFLAGS, CS
	 * and RIP on this one */
	uint64_t rip = k13_int(va + 0x1010);
	volatile uint64_t *top = (volatile uint64_t *)(uintptr_t)(va + 0x1010);
	uint64_t cs = top[-4], ss = top[-1];
	set_ac(0);
	out("k13: INT onto a read-only user stack under CR0.WP=0, SMAP, AC=1: rip ");
	out(rip == pa(k13_after) ? "ok" : "wrong");
	out(", cs ");
	outx(cs);
	out(", ss ");
	outx(ss);
	out("; a read there with AC=0");
	outcome(kread(va + 0xff8, &v));
	flush_line();
	set_cr0(cr0);
	set_cr4(cr4);
	pt_test[K13_SLOT] = 0;
	pt_test[K13_SLOT + 1] = 0;
	invlpg(va);
	invlpg(va + 0x1000);
}

/* ---- main ------------------------------------------------------------------------ */

void gmain(uint32_t magic, uint32_t info)
{
	uint32_t r[4];
	serial_init();
	want_k13 = magic == 0x2BADB002u && cmdline_has(info, "k13");
	say("64-bit long mode");
	out("multiboot magic ");
	outx(magic);
	flush_line();
	cpuid(0x80000001u, 0, r);
	has_1g = (r[3] >> 26) & 1;
	has_nx = (r[3] >> 20) & 1;
	cpuid(1, 0, r);
	has_pcid = (r[2] >> 17) & 1;
	cpuid(0, 0, r);
	if (r[0] >= 7) {
		cpuid(7, 0, r);
		has_smep = (r[1] >> 7) & 1;
		has_smap = (r[1] >> 20) & 1;
		has_invpcid = (r[1] >> 10) & 1;
	}
	out("features: 1g ");
	outx((uint64_t)has_1g);
	out(" nx ");
	outx((uint64_t)has_nx);
	out(" smep ");
	outx((uint64_t)has_smep);
	out(" smap ");
	outx((uint64_t)has_smap);
	out(" pcid ");
	outx((uint64_t)has_pcid);
	out(" invpcid ");
	outx((uint64_t)has_invpcid);
	flush_line();
	if ((uint64_t)(uintptr_t)__image_end > 0x400000) {
		say("the image does not fit below 4 MiB");
		poweroff();
	}
	build_tables();
	set_cr0(get_cr0() | (1u << 16));              /* WP, as any OS with copy-on-write */
	part_pages();
	part_demand();
	part_perm();
	part_ptwrite();
	part_pcid();
	part_devices();
	part_k13();
	part_cpu();
	say("done");
	poweroff();
}
