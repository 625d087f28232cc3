/*
 * perm.c — a shipped guest: the supervisor permission matrix under PAE
 * paging.  For every leaf entry with R/W, U/S and XD set or clear, under
 * CR0.WP 0 and 1 and CR4.SMEP 0 and 1 (where the CPU has SMEP), it reads,
 * writes and executes the page at CPL 0 and prints each outcome: the value
 * read, "ok", or the #PF error code and CR2.  The same guest natively and
 * under the hypervisor must print the same matrix.  (CPL 3 rows need a
 * ring-3 world this guest does not build yet.)
 */
#include <stdint.h>

#include "glib.h"

#define P 1ull
#define RW 2ull
#define US 4ull
#define XD (1ull << 63)

static uint64_t pdpt[4] __attribute__((aligned(32)));
static uint64_t pd[512] __attribute__((aligned(4096)));
static uint64_t pd2[512] __attribute__((aligned(4096)));      /* 1-2 GiB */
static uint64_t pt[4][512] __attribute__((aligned(4096)));

/* probes (entry.S): 0 if the access went through, 1 after a #PF */
int probe_read(uintptr_t va, uint32_t *val);
int probe_write(uintptr_t va, uint32_t val);
int probe_exec(uintptr_t va);
extern volatile uint32_t probe_armed;

static volatile uint32_t last_ec, last_cr2;

/* entry.S's #PF entry: an armed probe fault is recorded and the probe
 * abandoned; anything else is a failure. */
uint32_t pf_handler(uint32_t ec, uint32_t cr2);
uint32_t pf_handler(uint32_t ec, uint32_t cr2)
{
	last_ec = ec;
	last_cr2 = cr2;
	if (probe_armed)
		return 1;
	line("unexpected #PF at", cr2);
	line("error code", ec);
	poweroff();
}

#define TEST_VA 0x40000000u             /* the page under test: pt[3][0] maps it */

static void outcome(const char *what, int faulted, uint32_t val)
{
	puts_(what);
	if (faulted) {
		puts_(" #PF ec ");
		puthex(last_ec);
		puts_(" cr2 ");
		puthex(last_cr2);
	} else {
		puts_(" ok ");
		puthex(val);
	}
	puts_("\n");
}

void gmain(uint32_t magic, uint32_t info);
void gmain(uint32_t magic, uint32_t info)
{
	(void)magic;
	(void)info;
	serial_init();
	setup_pf_idt();

	uint32_t a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
	int smep = (b >> 7) & 1;
	line("SMEP", (uint32_t)smep);

	/* identity map of 6 MiB (pt[0..2]); pt[3] maps the page under test */
	for (unsigned t = 0; t < 3; t++) {
		for (unsigned i = 0; i < 512; i++)
			pt[t][i] = ((uint64_t)(t * 512 + i) << 12) | P | RW;
		pd[t] = (uint64_t)(uintptr_t)pt[t] | P | RW | US;
	}
	pd2[(TEST_VA >> 21) & 511] = (uint64_t)(uintptr_t)pt[3] | P | RW | US;
	pdpt[0] = (uint64_t)(uintptr_t)pd | P;
	pdpt[1] = (uint64_t)(uintptr_t)pd2 | P;
	/* the page under test: a `ret` at its start, a known word at +8 */
	volatile uint8_t *page = (volatile uint8_t *)0x500000;
	page[0] = 0xc3;
	*(volatile uint32_t *)(page + 8) = 0xc0ffee00;

	uint32_t cr4, cr0;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" :: "r"(cr4 | 0x20));
	__asm__ volatile("mov %0, %%cr3" :: "r"(pdpt));
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0000080u));
	__asm__ volatile("wrmsr" :: "a"(lo | 0x800), "d"(hi), "c"(0xc0000080u));    /* NXE */
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" :: "r"(cr0 | 0x80000000u) : "memory");
	line("paging on", 1);

	for (unsigned smep_on = 0; smep_on <= (unsigned)smep; smep_on++) {
		for (unsigned wp = 0; wp < 2; wp++) {
			__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
			cr0 = wp ? cr0 | 0x10000u : cr0 & ~0x10000u;
			__asm__ volatile("mov %0, %%cr0" :: "r"(cr0) : "memory");
			__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
			cr4 = smep_on ? cr4 | 0x100000u : cr4 & ~0x100000u;
			__asm__ volatile("mov %0, %%cr4" :: "r"(cr4) : "memory");
			for (unsigned f = 0; f < 8; f++) {
				uint64_t e = 0x500000 | P | ((f & 1) ? RW : 0) |
					     ((f & 2) ? US : 0) | ((f & 4) ? XD : 0);
				*(volatile uint64_t *)&pt[3][0] = e;
				__asm__ volatile("invlpg (%0)" :: "r"(TEST_VA) : "memory");
				puts_("guest: smep ");
				putc_((char)('0' + smep_on));
				puts_(" wp ");
				putc_((char)('0' + wp));
				puts_(f & 1 ? " rw" : " ro");
				puts_(f & 2 ? " user" : " supv");
				puts_(f & 4 ? " xd" : " x");
				puts_(":\n");
				uint32_t v = 0;
				int r = probe_read(TEST_VA + 8, &v);
				outcome("  read ", r, v);
				r = probe_write(TEST_VA + 12, 0x5a5a0000 | f);
				outcome("  write", r, 0);
				r = probe_exec(TEST_VA);
				outcome("  exec ", r, 0);
				/* A and D as the accesses left them */
				line("  entry flags",
				     (uint32_t)(*(volatile uint64_t *)&pt[3][0] & 0x67));
			}
		}
	}
	puts_("guest: done\n");
	poweroff();
}
