/*
 * hello.c — the first shipped test guest: 32-bit 2-level paging.  It
 * prints on COM1, builds a page directory and identity-maps its first
 * 8 MiB with 4 KiB pages, turns paging on with CR0.WP, remaps a page by
 * writing its page table (the write faults into the hypervisor and is
 * emulated), flushes it with INVLPG, reads through both mappings, and
 * powers off.  Natively and under the hypervisor it must print the same.
 */
#include <stdint.h>

#include "glib.h"

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt[2][1024] __attribute__((aligned(4096)));

/* entry.S's #PF entry calls this; this guest installs no IDT. */
uint32_t pf_handler(uint32_t ec, uint32_t cr2);
uint32_t pf_handler(uint32_t ec, uint32_t cr2)
{
	(void)ec;
	(void)cr2;
	poweroff();
}

void gmain(uint32_t magic, uint32_t info);

void gmain(uint32_t magic, uint32_t info)
{
	serial_init();
	puts_("guest: hello, magic ");
	puthex(magic);
	/* (the amount differs under the hypervisor: only whether it is given) */
	puts_(", memory map ");
	puts_((((volatile uint32_t *)(uintptr_t)info)[0] & 0x41) == 0x41 ? "given\n" : "missing\n");

	for (int t = 0; t < 2; t++) {
		for (int i = 0; i < 1024; i++)
			pt[t][i] = ((uint32_t)(t * 1024 + i) << 12) | 3;
		pd[t] = (uint32_t)(uintptr_t)pt[t] | 3;
	}
	__asm__ volatile("mov %0, %%cr3" :: "r"(pd));
	uint32_t cr0;
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" :: "r"(cr0 | 0x80010000u));
	puts_("guest: paging on\n");

	volatile uint32_t *a = (volatile uint32_t *)0x300000, *b = (volatile uint32_t *)0x301000;
	*a = 0x11111111;
	*b = 0x22222222;
	pt[0][0x300] = 0x301000 | 3;           /* 0x300000 now maps 0x301000 */
	__asm__ volatile("invlpg (%0)" :: "r"(a) : "memory");
	puts_("guest: remapped, reads ");
	puthex(*a);
	puts_("\n");
	pt[0][0x300] = 0x300000 | 3;
	__asm__ volatile("invlpg (%0)" :: "r"(a) : "memory");
	puts_("guest: restored, reads ");
	puthex(*a);
	puts_("\n");
	uint32_t cr3;
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	puts_("guest: cr3 reads ");
	puthex(cr3 == (uint32_t)(uintptr_t)pd);
	puts_("\nguest: done\n");
	poweroff();
}
