/*
 * paging.c — a shipped test guest, built once per paging mode (MODE 2:
 * 32-bit 2-level, 3: PAE, 4: 4-level, entered from 32-bit code by turning
 * on long mode, then running in compatibility mode).  It prints the outcome
 * of every step on COM1, so the same guest natively in Bochs and under the
 * hypervisor must print the same lines:
 *
 *   identity map of the first 8 MiB in 4 KiB pages; a large page (4 MiB,
 *   or 2 MiB); the accessed and dirty bits the CPU sets; a page-table
 *   write that remaps a page, then INVLPG; a second address space and CR3
 *   switches; a self-mapped (recursive) page table read and written
 *   through itself (2-level); and, where the guest has an IDT (2-level and
 *   PAE: interrupts in long mode need 64-bit code), a #PF handler for
 *   demand paging and copy-on-write, printing CR2 and the error code.
 *   Memory types: the large page is write-through by its PAT bit (bit 12
 *   of a large-page entry) and PWT, PAT index 5; the 4 KiB page at
 *   0x302000 is uncached (PCD PWT, index 3).  The shadows must carry both
 *   (the replay's INV-FRAME compares them with the guest's leaves).  The
 *   guest sets its own IA32_PAT first (entry 1 write-combining) and reads
 *   it back.
 */
#include <stdint.h>

#include "glib.h"

#ifndef MODE
#error "build with -DMODE=2, 3 or 4"
#endif

#if MODE == 2
typedef uint32_t pte_t;
#define NENT 1024
#define LARGE (4u << 20)
#else
typedef uint64_t pte_t;
#define NENT 512
#define LARGE (2u << 20)
#endif

#define P 1u
#define RW 2u
#define US 4u
#define A 0x20u
#define D 0x40u
#define PS 0x80u
#define PWT 0x8u
#define PCD 0x10u
#define PAT_LARGE 0x1000u       /* the PAT bit of an entry that maps a large page */

static inline void invlpg(uintptr_t va)
{
	__asm__ volatile("invlpg (%0)" :: "r"(va) : "memory");
}

static inline void set_cr3(uintptr_t v)
{
	__asm__ volatile("mov %0, %%cr3" :: "r"(v) : "memory");
}

/* tables: [0] top level, then one per level below, the identity PTs */
static pte_t top[NENT] __attribute__((aligned(4096)));
static pte_t top2[NENT] __attribute__((aligned(4096)));
#if MODE == 4
static pte_t pdpt[512] __attribute__((aligned(4096)));
#endif
#if MODE >= 3
static pte_t pd[512] __attribute__((aligned(4096)));
static pte_t pd2[512] __attribute__((aligned(4096)));
#endif
#define NPT (8u * 1024 * 1024 / 4096 / NENT)
static pte_t pt[NPT][NENT] __attribute__((aligned(4096)));
static pte_t ptx[NENT] __attribute__((aligned(4096)));  /* for 0x50000000.. */

/* the directory holding the PDEs: top (2-level) or pd */
static pte_t *dir(void)
{
#if MODE == 2
	return top;
#else
	return pd;
#endif
}

/* ---- the #PF handler (2-level and PAE) -------------------------------------- */

static volatile uint32_t last_cr2, last_ec, faults;

uint32_t pf_handler(uint32_t ec, uint32_t cr2);
uint32_t pf_handler(uint32_t ec, uint32_t cr2)
{
	faults++;
	last_cr2 = cr2;
	last_ec = ec;
	if ((cr2 >> 22) == (0x50000000u >> 22) || (cr2 >> 21) == (0x50000000u >> 21)) {
		unsigned i = (cr2 >> 12) & (NENT - 1);
		if (!(ptx[i] & P))
			ptx[i] = (pte_t)(0x600000 + i * 4096) | P | RW;       /* demand */
		else
			ptx[i] |= RW;                   /* copy-on-write done */
		invlpg(cr2);
		return 0;
	}
	line("unexpected #PF at", cr2);
	line("error code", ec);
	poweroff();
}

/* Entries are read with volatile loads: the CPU, not the program, sets A and D. */
static pte_t rd(const pte_t *e)
{
	return *(const volatile pte_t *)e;
}

/* ---- the steps --------------------------------------------------------------- */

static void build(void)
{
	for (unsigned t = 0; t < NPT; t++)
		for (unsigned i = 0; i < NENT; i++)
			pt[t][i] = (pte_t)((t * NENT + i) * 4096u) | P | RW;
	pt[0x302000 / 4096 / NENT][(0x302000 / 4096) % NENT] |= PCD | PWT;      /* UC */
	pte_t *d = dir();
	for (unsigned t = 0; t < NPT; t++)
		d[t] = (pte_t)(uintptr_t)pt[t] | P | RW;
	/* a large page at 1 GiB + 0x10000000 mapping physical 0x400000 (or 0x400000 aligned) */
	d[(0x50000000u / LARGE) % NENT - 1] = (pte_t)0x400000 | P | RW | PS | PAT_LARGE | PWT;
	d[(0x50000000u / LARGE) % NENT] = (pte_t)(uintptr_t)ptx | P | RW;
#if MODE == 2
	top[1023] = (pte_t)(uintptr_t)top | P | RW;     /* self-map */
#elif MODE == 3
	top[0] = (pte_t)(uintptr_t)pd | P;              /* PDPT: 0-1 GiB */
	top[1] = (pte_t)(uintptr_t)pd2 | P;             /* 1-2 GiB: 0x50000000 lives here */
#else
	top[0] = (pte_t)(uintptr_t)pdpt | P | RW;
	pdpt[0] = (pte_t)(uintptr_t)pd | P | RW;
	pdpt[1] = (pte_t)(uintptr_t)pd2 | P | RW;
#endif
#if MODE >= 3
	/* 0x50000000 is in the second GiB: its PDEs are in pd2 */
	pd2[((0x50000000u - 0x40000000u) / LARGE) - 1] =
		(pte_t)0x400000 | P | RW | PS | PAT_LARGE | PWT;
	pd2[(0x50000000u - 0x40000000u) / LARGE] = (pte_t)(uintptr_t)ptx | P | RW;
	pd[(0x50000000u / LARGE) % NENT - 1] = 0;
	pd[(0x50000000u / LARGE) % NENT] = 0;
#endif
}

static void paging_on(void)
{
	uint32_t cr0, cr4;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
#if MODE == 2
	cr4 |= 0x10;                    /* PSE */
#else
	cr4 |= 0x20;                    /* PAE */
#endif
	__asm__ volatile("mov %0, %%cr4" :: "r"(cr4));
	set_cr3((uintptr_t)top);
#if MODE == 4
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0000080u));
	lo |= 0x100;                    /* LME */
	__asm__ volatile("wrmsr" :: "a"(lo), "d"(hi), "c"(0xc0000080u));
#endif
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" :: "r"(cr0 | 0x80010000u) : "memory");
#if MODE == 4
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0000080u));
	line("EFER.LMA", (lo >> 10) & 1);
#endif
}

/* The guest's own PAT: entry 1 (PWT alone) write-combining, the others
 * their power-on types.  No mapping here uses entry 1 (the large page is
 * entry 5, the uncached page entry 3); under the hypervisor the value must
 * stay the guest's, apart from the hypervisor's own (tests/live-guests.sh
 * reads both from hv.txt). */
#define GUEST_PAT 0x0007040600070106ull

static void set_pat(void)
{
	uint32_t lo, hi;
	__asm__ volatile("wrmsr" :: "a"((uint32_t)GUEST_PAT), "d"((uint32_t)(GUEST_PAT >> 32)),
			 "c"(0x277u));
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x277u));
	line("IA32_PAT, high half", hi);
	line("IA32_PAT, low half", lo);
}

void gmain(uint32_t magic, uint32_t info);
void gmain(uint32_t magic, uint32_t info)
{
	(void)info;
	serial_init();
	line("paging mode", MODE);
	line("multiboot magic", magic);
	set_pat();
	*(volatile uint32_t *)0x400010 = 0xfeedf00d;    /* seen later through the large page */
	build();
	paging_on();
	line("paging on, cr0.pg", 1);

	/* accessed and dirty bits */
	volatile uint32_t *x = (volatile uint32_t *)0x300000;
	uint32_t v = *x;
	(void)v;
	line("PTE after a read (A D)",
	     (uint32_t)(rd(&pt[0x300000 / 4096 / NENT][(0x300000 / 4096) % NENT]) & (A | D)));
	*x = 0x11111111;
	line("PTE after a write (A D)",
	     (uint32_t)(rd(&pt[0x300000 / 4096 / NENT][(0x300000 / 4096) % NENT]) & (A | D)));

	/* the large page */
	line("large page reads", *(volatile uint32_t *)(0x50000000u - LARGE + 0x10));
	line("large PDE A D", (uint32_t)(rd(
#if MODE == 2
		&top[(0x50000000u - LARGE) >> 22]
#else
		&pd2[((0x50000000u - 0x40000000u) / LARGE) - 1]
#endif
		) & (A | D)));

	/* the uncached page (the large page above is write-through) */
	*(volatile uint32_t *)0x302010 = 0x55555555;
	line("uncached page reads", *(volatile uint32_t *)0x302010);

	/* remap through a page-table write, then INVLPG */
	volatile uint32_t *b = (volatile uint32_t *)0x301000;
	*b = 0x22222222;
	pte_t *e = &pt[0x300000 / 4096 / NENT][(0x300000 / 4096) % NENT];
	*e = (pte_t)0x301000 | P | RW;
	invlpg(0x300000);
	line("remapped, reads", *x);
	*e = (pte_t)0x300000 | P | RW;
	invlpg(0x300000);
	line("restored, reads", *x);

	/* a second address space: 0x300000 maps 0x301000 there */
	for (unsigned i = 0; i < NENT; i++)
		top2[i] = top[i];
	static pte_t pt2[NENT] __attribute__((aligned(4096)));
	for (unsigned i = 0; i < NENT; i++)
		pt2[i] = pt[0x300000 / 4096 / NENT][i];
	pt2[(0x300000 / 4096) % NENT] = (pte_t)0x301000 | P | RW;
#if MODE == 2
	top2[0x300000 >> 22] = (pte_t)(uintptr_t)pt2 | P | RW;
	set_cr3((uintptr_t)top2);
#elif MODE == 3
	pd2[511] = 0;   /* (unused) */
	static pte_t pdx[512] __attribute__((aligned(4096)));
	for (unsigned i = 0; i < 512; i++)
		pdx[i] = pd[i];
	pdx[0x300000 / LARGE] = (pte_t)(uintptr_t)pt2 | P | RW;
	top2[0] = (pte_t)(uintptr_t)pdx | P;
	set_cr3((uintptr_t)top2);
#else
	static pte_t pdx[512] __attribute__((aligned(4096)));
	static pte_t pdptx[512] __attribute__((aligned(4096)));
	for (unsigned i = 0; i < 512; i++)
		pdx[i] = pd[i], pdptx[i] = pdpt[i];
	pdx[0x300000 / LARGE] = (pte_t)(uintptr_t)pt2 | P | RW;
	pdptx[0] = (pte_t)(uintptr_t)pdx | P | RW;
	top2[0] = (pte_t)(uintptr_t)pdptx | P | RW;
	set_cr3((uintptr_t)top2);
#endif
	line("second address space reads", *x);
	set_cr3((uintptr_t)top);
	line("first address space reads", *x);
	set_cr3((uintptr_t)top2);
	line("and the second again", *x);
	set_cr3((uintptr_t)top);

#if MODE == 2
	/* the self-map: the PDE of 0x300000 at 0xfffff000 + 4 * (va >> 22),
	 * its PTE at 0xffc00000 + 4 * (va >> 12) */
	volatile uint32_t *self_pte = (volatile uint32_t *)(0xffc00000u + 4 * (0x300000u >> 12));
	line("PTE through the self-map", *self_pte & ~(A | D));
	*self_pte = 0x301000 | P | RW;
	invlpg(0x300000);
	line("remapped through the self-map, reads", *x);
	*self_pte = 0x300000 | P | RW;
	invlpg(0x300000);
	line("restored through the self-map, reads", *x);
#endif

#if MODE <= 3
	setup_pf_idt();
	volatile uint32_t *dm = (volatile uint32_t *)0x50003000;
	*dm = 0x33333333;               /* not present: the handler maps it */
	line("demand-paged write, #PF CR2", last_cr2);
	line("its error code", last_ec);
	line("reads back", *dm);
	unsigned i = (0x50004000u >> 12) & (NENT - 1);
	ptx[i] = (pte_t)(0x600000 + i * 4096) | P;      /* read-only */
	invlpg(0x50004000);
	line("read-only page reads", *(volatile uint32_t *)0x50004000);
	*(volatile uint32_t *)0x50004000 = 0x44444444;  /* #PF: protection, write */
	line("copy-on-write #PF CR2", last_cr2);
	line("its error code", last_ec);
	line("faults taken", faults);
#endif
	puts_("guest: done\n");
	poweroff();
}
