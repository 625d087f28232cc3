/*
 * ptheavy.c — a shipped guest that is all page-table work, the shape of a
 * Unix kernel forking: built for 2-level paging (MODE 2) and for PAE
 * (MODE 3), like paging.c.  A "parent" address space forks a child
 * FORKS times:
 *
 *   fork     the child's top level and user page tables are copies of
 *            the parent's, whole pages with `rep movsd`; every writable
 *            user leaf is made read-only in both (copy-on-write), the
 *            frame's reference count raised;
 *   child    writes some of its pages (CoW faults: the #PF handler copies
 *            the page with `rep movsd` and points the entry at the copy),
 *            touches a region with no page table yet (the handler takes a
 *            table and a page, both zeroed with `rep stosd`), and sums
 *            what it reads;
 *   exit     back in the parent, the child's tables are torn down: frames
 *            released, each page table zeroed with `rep stosd` as it goes
 *            back to the free list (and every frame again when taken);
 *   parent   writes some of its pages: a CoW fault on a frame no one else
 *            holds now just gives the write back.
 *
 * No PCID and no INVLPG: after each page-table edit (each entry a fault
 * handler fixes; each table the fork write-protects; each address-space
 * switch) the guest reloads CR3, the whole TLB.  With PAE, an entry is
 * written as two 32-bit halves, the high half first and the low half (with
 * P) last when it becomes present, as 32-bit Linux's set_pte does.
 *
 * Interrupts stay off and the free list is a stack, so every run does the
 * same thing: the guest prints its fault counts and checksums of what the
 * processes read, and they must be the same natively and under the
 * hypervisor.  Everything runs at CPL 0 with CR0.WP set.
 */
#include <stdint.h>

#include "glib.h"

#ifndef MODE
#error "build with -DMODE=2 or 3"
#endif

#if MODE == 2
typedef uint32_t pte_t;
#define NENT 1024
#define LARGE (4u << 20)
#elif MODE == 3
typedef uint64_t pte_t;
#define NENT 512
#define LARGE (2u << 20)
#else
#error "MODE 2 or 3 only"
#endif

#define P 1u
#define RW 2u
#define US 4u
#define PS 0x80u
#define FRAME_MASK 0xfffff000u

#define FORKS 240
#define NUPT 3                          /* user page tables copied at each fork */
#define NPG 48                          /* pages mapped in each */
#define USER_BASE 0x40000000u           /* the user region: its tables */
#define SPAN ((uint32_t)NENT * 4096u)   /* what one page table maps */
#define DEMAND_BASE (USER_BASE + NUPT * SPAN)   /* the child's table-less region */
#define IDENT_TOP (32u << 20)           /* identity map, large pages */
#define POOL_BASE (16u << 20)           /* frames handed out: [16 MiB, 32 MiB) */
#define POOL_FRAMES 4096u

#define barrier() __asm__ volatile("" ::: "memory")

static inline void set_cr3(uint32_t v)
{
	__asm__ volatile("mov %0, %%cr3" :: "r"(v) : "memory");
}

static inline void copy_page(uint32_t dst, uint32_t src)
{
	uint32_t d = dst, s = src, n = 1024;
	__asm__ volatile("cld; rep movsl" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
}

static inline void zero_page(uint32_t dst)
{
	uint32_t d = dst, n = 1024;
	__asm__ volatile("cld; rep stosl" : "+D"(d), "+c"(n) : "a"(0) : "memory");
}

/* ---- frames ------------------------------------------------------------------ */

static uint32_t free_stack[POOL_FRAMES];
static unsigned nfree;
static uint16_t refs[POOL_FRAMES];

static uint16_t *ref(uint32_t frame)
{
	return &refs[(frame - POOL_BASE) >> 12];
}

/* A frame from the free list, zeroed (a page table, or a page for a copy
 * about to be overwritten: zeroed all the same, as a kernel that clears
 * what it hands out). */
static uint32_t get_frame(void)
{
	if (nfree == 0) {
		puts_("guest: out of frames\n");
		poweroff();
	}
	uint32_t f = free_stack[--nfree];
	zero_page(f);
	*ref(f) = 1;
	return f;
}

static void put_frame(uint32_t f)
{
	free_stack[nfree++] = f;
}

/* ---- entries ----------------------------------------------------------------- */

static pte_t rd(const pte_t *e)
{
	return *(const volatile pte_t *)e;
}

/* Make an entry present: with PAE the high half first, the low half (P)
 * last, so the CPU never sees a present entry with a stale high half. */
static void set_pte(pte_t *e, uint32_t v)
{
#if MODE == 2
	*(volatile uint32_t *)e = v;
#else
	volatile uint32_t *h = (volatile uint32_t *)e;
	h[1] = 0;
	barrier();
	h[0] = v;
#endif
}

/* Clear RW: one read-modify-write of the low half. */
static void wrprotect(pte_t *e)
{
	__asm__ volatile("andl %1, %0" : "+m"(*(volatile uint32_t *)e) : "i"(~RW));
}

/* ---- address spaces ---------------------------------------------------------- */

#if MODE == 3
static pte_t kpd[512] __attribute__((aligned(4096)));      /* 0-1 GiB: shared */
#else
static pte_t ktop[1024] __attribute__((aligned(4096)));    /* the kernel's entries */
#endif

struct space {
	uint32_t cr3;           /* the top level (PAE: a PDPT at the start of a frame) */
	pte_t *dir;             /* the directory that holds the user PDEs */
};

static struct space parent, child, *cur;

static void switch_to(struct space *s)
{
	cur = s;
	set_cr3(s->cr3);
}

static void flush(void)
{
	set_cr3(cur->cr3);
}

/* The directory entry of va, and the page table it points to (0 if none). */
static pte_t *pde_of(struct space *s, uint32_t va)
{
#if MODE == 2
	return &s->dir[va >> 22];
#else
	return &s->dir[(va >> 21) & 511];
#endif
}

static pte_t *pte_of(struct space *s, uint32_t va)
{
	pte_t d = rd(pde_of(s, va));
	if (!(d & P))
		return 0;
	return (pte_t *)(uintptr_t)((uint32_t)d & FRAME_MASK) + ((va >> 12) & (NENT - 1));
}

static void new_space(struct space *s)
{
#if MODE == 2
	s->cr3 = get_frame();
	s->dir = (pte_t *)(uintptr_t)s->cr3;
	copy_page(s->cr3, (uint32_t)(uintptr_t)ktop);
#else
	s->cr3 = get_frame();                   /* the PDPT */
	uint32_t upd = get_frame();
	s->dir = (pte_t *)(uintptr_t)upd;
	pte_t *pdpt = (pte_t *)(uintptr_t)s->cr3;
	pdpt[0] = (pte_t)(uintptr_t)kpd | P;
	pdpt[1] = (pte_t)upd | P;
#endif
}

static uint32_t sum_pages;      /* checksums */

/* ---- the #PF handler ---------------------------------------------------------- */

static uint32_t cow_copies, cow_reuses, demand_tables, demand_pages;

uint32_t pf_handler(uint32_t ec, uint32_t cr2);
uint32_t pf_handler(uint32_t ec, uint32_t cr2)
{
	pte_t *pde = pde_of(cur, cr2);
	if (cr2 >= USER_BASE && cr2 < DEMAND_BASE + SPAN && ((ec & 2) || !(ec & 1))) {
		if (!(rd(pde) & P)) {           /* no table: a zeroed one */
			uint32_t t = get_frame();
			set_pte(pde, t | P | RW | US);
			demand_tables++;
		}
		pte_t *e = pte_of(cur, cr2);
		pte_t v = rd(e);
		if (!(v & P)) {                 /* demand: a zeroed page */
			set_pte(e, get_frame() | P | RW | US);
			demand_pages++;
		} else if (!(v & RW) && (ec & 2)) {     /* copy-on-write */
			uint32_t f = (uint32_t)v & FRAME_MASK;
			if (*ref(f) == 1) {
				set_pte(e, (uint32_t)v | RW);
				cow_reuses++;
			} else {
				uint32_t n = get_frame();
				copy_page(n, f);
				--*ref(f);
				set_pte(e, n | ((uint32_t)v & 0xfffu) | RW);
				cow_copies++;
			}
		} else {
			goto bad;
		}
		flush();
		return 0;
	}
bad:
	line("unexpected #PF at", cr2);
	line("error code", ec);
	poweroff();
}

/* ---- fork, exit ---------------------------------------------------------------- */

static void fork(void)
{
	new_space(&child);
#if MODE == 2
	copy_page(child.cr3, parent.cr3);       /* kernel and user PDEs alike */
#else
	copy_page((uint32_t)(uintptr_t)child.dir, (uint32_t)(uintptr_t)parent.dir);
#endif
	for (unsigned t = 0; t < NUPT; t++) {
		uint32_t va = USER_BASE + t * SPAN;
		pte_t *ppde = pde_of(&parent, va), *cpde = pde_of(&child, va);
		uint32_t pt = (uint32_t)rd(ppde) & FRAME_MASK, ct = get_frame();
		copy_page(ct, pt);
		set_pte(cpde, ct | P | RW | US);
		pte_t *pe = (pte_t *)(uintptr_t)pt, *ce = (pte_t *)(uintptr_t)ct;
		for (unsigned i = 0; i < NENT; i++) {
			pte_t v = rd(&pe[i]);
			if (!(v & P))
				continue;
			++*ref((uint32_t)v & FRAME_MASK);
			if (v & RW) {
				wrprotect(&pe[i]);
				wrprotect(&ce[i]);
			}
		}
		flush();        /* the parent's table changed: its TLB entries go */
	}
}

/* Tear down the child (the parent is current again). */
static void exit_child(void)
{
	for (unsigned t = 0; t <= NUPT; t++) {
		pte_t *pde = pde_of(&child, USER_BASE + t * SPAN);
		pte_t d = rd(pde);
		if (!(d & P))
			continue;
		pte_t *e = (pte_t *)(uintptr_t)((uint32_t)d & FRAME_MASK);
		for (unsigned i = 0; i < NENT; i++) {
			pte_t v = rd(&e[i]);
			if (!(v & P))
				continue;
			uint32_t f = (uint32_t)v & FRAME_MASK;
			if (--*ref(f) == 0)
				put_frame(f);
		}
		zero_page((uint32_t)(uintptr_t)e);
		put_frame((uint32_t)(uintptr_t)e);
	}
#if MODE == 3
	zero_page((uint32_t)(uintptr_t)child.dir);
	put_frame((uint32_t)(uintptr_t)child.dir);
#endif
	zero_page(child.cr3);
	put_frame(child.cr3);
}

/* Page k of the user region (k < NUPT * NPG). */
static volatile uint32_t *upage(unsigned k)
{
	return (volatile uint32_t *)(uintptr_t)(USER_BASE + (k / NPG) * SPAN + (k % NPG) * 4096u);
}

static uint32_t mix(uint32_t a, uint32_t b)
{
	return (a ^ b) * 0x9e3779b1u + (a >> 7);
}

static void child_run(unsigned n)
{
	/* writes: a few pages, a different few each time */
	for (unsigned j = 0; j < 6; j++) {
		unsigned k = (n * 7 + j * 23) % (NUPT * NPG);
		volatile uint32_t *p = upage(k);
		p[0] += n + j;
		p[512] = mix(p[0], k);
	}
	/* a region with no table yet: demand-zero tables and pages */
	for (unsigned j = 0; j < 3; j++) {
		volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)(DEMAND_BASE +
			((n + j * 5) % 64) * 4096u);
		sum_pages = mix(sum_pages, p[1]);
		p[1] = n;
	}
	/* reads */
	for (unsigned k = n % 4; k < NUPT * NPG; k += 4)
		sum_pages = mix(sum_pages, upage(k)[0] + upage(k)[512]);
}

static void parent_run(unsigned n)
{
	for (unsigned j = 0; j < 4; j++) {
		unsigned k = (n * 11 + j * 31) % (NUPT * NPG);
		volatile uint32_t *p = upage(k);
		p[0] ^= mix(n, j);
	}
}

/* ---- setup --------------------------------------------------------------------- */

static void paging_on(void)
{
	uint32_t cr0, cr4;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	cr4 |= MODE == 2 ? 0x10 : 0x20;         /* PSE, or PAE */
	__asm__ volatile("mov %0, %%cr4" :: "r"(cr4));
	set_cr3(parent.cr3);
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" :: "r"(cr0 | 0x80010000u) : "memory");   /* PG, WP */
}

void gmain(uint32_t magic, uint32_t info);
void gmain(uint32_t magic, uint32_t info)
{
	(void)magic, (void)info;
	serial_init();
	line("ptheavy, paging mode", MODE);
	for (unsigned i = POOL_FRAMES; i-- > 0;)
		free_stack[nfree++] = POOL_BASE + i * 4096u;
	/* the kernel: identity map of the first 32 MiB in large pages */
	for (uint32_t a = 0; a < IDENT_TOP; a += LARGE)
#if MODE == 2
		ktop[a / LARGE] = a | P | RW | PS;
#else
		kpd[a / LARGE] = a | P | RW | PS;
#endif
	new_space(&parent);
	for (unsigned t = 0; t < NUPT; t++) {
		uint32_t pt = get_frame();
		set_pte(pde_of(&parent, USER_BASE + t * SPAN), pt | P | RW | US);
		for (unsigned i = 0; i < NPG; i++) {
			uint32_t f = get_frame();
			((pte_t *)(uintptr_t)pt)[i] = f | P | RW | US;
			*(uint32_t *)(uintptr_t)f = t * NPG + i;    /* through the identity map */
		}
	}
	cur = &parent;
	paging_on();
	setup_pf_idt();
	unsigned start_free = nfree;
	for (unsigned n = 0; n < FORKS; n++) {
		fork();
		switch_to(&child);
		child_run(n);
		switch_to(&parent);
		exit_child();
		parent_run(n);
	}
	uint32_t sum_parent = 0;
	for (unsigned k = 0; k < NUPT * NPG; k++)
		sum_parent = mix(sum_parent, upage(k)[0]);
	line("forks", FORKS);
	line("copy-on-write copies", cow_copies);
	line("copy-on-write reuses", cow_reuses);
	line("demand-zero tables", demand_tables);
	line("demand-zero pages", demand_pages);
	line("child checksum", sum_pages);
	line("parent checksum", sum_parent);
	line("frames leaked", start_free - nfree);
	puts_("guest: done\n");
	poweroff();
}
