/*
 * hello.c — the first shipped test guest: 32-bit 2-level paging.  It
 * prints on COM1, builds a page directory and identity-maps its first
 * 8 MiB with 4 KiB pages, turns paging on with CR0.WP, remaps a page by
 * writing its page table (the write faults into the hypervisor and is
 * emulated), flushes it with INVLPG, reads through both mappings, then
 * waits with STI; HLT for three timer interrupts (the PIT through the
 * PIC: interrupts and HLT pass through the hypervisor), and powers off.
 * Natively and under the hypervisor it must print the same.
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

/* IRQ 0 at vector 0x20: count, end of interrupt, return. */
volatile uint32_t timer_ticks;
extern char irq0_entry[];
__asm__(".text\n"
	"irq0_entry:\n"
	"	pushl %eax\n"
	"	incl timer_ticks\n"
	"	movb $0x20, %al\n"
	"	outb %al, $0x20\n"
	"	popl %eax\n"
	"	iret\n");

static void timer_wait(void)
{
	static uint64_t idt[0x21] __attribute__((aligned(8)));
	uint32_t h = (uint32_t)(uintptr_t)irq0_entry;
	idt[0x20] = (uint64_t)(h & 0xffff) | (uint64_t)0x08 << 16 | (uint64_t)0x8e00 << 32 |
		    (uint64_t)(h >> 16) << 48;
	struct __attribute__((packed)) { uint16_t lim; uint32_t base; } d = {
		sizeof(idt) - 1, (uint32_t)(uintptr_t)idt };
	__asm__ volatile("lidt %0" :: "m"(d));
	/* the PIC: IRQs 0-7 at vectors 0x20-0x27, all but IRQ 0 masked */
	outb(0x20, 0x11), outb(0xa0, 0x11);
	outb(0x21, 0x20), outb(0xa1, 0x28);
	outb(0x21, 4), outb(0xa1, 2);
	outb(0x21, 1), outb(0xa1, 1);
	outb(0x21, 0xfe), outb(0xa1, 0xff);
	/* the PIT: channel 0, rate generator, 100 Hz */
	outb(0x43, 0x34);
	outb(0x40, 11932 & 0xff);
	outb(0x40, 11932 >> 8);
	unsigned halts = 0;
	while (timer_ticks < 3) {
		__asm__ volatile("sti; hlt; cli" ::: "memory");
		halts++;
	}
	outb(0x21, 0xff);
	puts_("guest: woken by the timer ");
	puthex(timer_ticks);
	puts_(" times, ");
	puts_(halts == 3 ? "each HLT waited for one\n" : "HLT returned early\n");
}

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
	puts_("\n");
	timer_wait();
	puts_("guest: done\n");
	poweroff();
}
