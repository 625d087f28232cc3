/*
 * glib.h — what every shipped guest needs: port I/O, COM1 output that
 * waits for the UART, and power-off (ACPI S5, as Bochs and QEMU's PIIX
 * take it; under the hypervisor the port ends the run).
 */
#ifndef GUEST_GLIB_H
#define GUEST_GLIB_H

#include <stdint.h>

#include "../common/portio.h"

static inline void serial_init(void)
{
	outb(0x3f8 + 1, 0);
	outb(0x3f8 + 3, 0x80);
	outb(0x3f8, 1);         /* 115200 baud */
	outb(0x3f8 + 1, 0);
	outb(0x3f8 + 3, 3);
}

static inline void putc_(char c)
{
	while (!(inb(0x3f8 + 5) & 0x20))
		;
	outb(0x3f8, (uint8_t)c);
}

static inline void puts_(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			putc_('\r');
		putc_(*s);
	}
}

static inline void puthex(uint32_t v)
{
	puts_("0x");
	for (int i = 28; i >= 0; i -= 4)
		putc_("0123456789abcdef"[(v >> i) & 15]);
}

/* "guest: WHAT 0xVALUE" */
static inline void line(const char *what, uint32_t v)
{
	puts_("guest: ");
	puts_(what);
	puts_(" ");
	puthex(v);
	puts_("\n");
}

/* The TSC where the guest's entry code began (entry.S, entry64.S and
 * mbentry.S keep it). */
extern uint64_t guest_tsc0;

/*
 * "guest ticks: 0x..." on port 0xe9: the TSC ticks from the guest's entry
 * to here, what `make bench-live` counts.  Under Bochs a tick is an
 * instruction, and under the hypervisor the guest's TSC (neither offset
 * nor trapped) runs on through every exit, so the count is the guest's
 * instructions and the hypervisor's, without the loader's.  Bochs prints
 * what is written to the port on its standard output (port_e9_hack,
 * vmx/bochs-run.sh); QEMU without -debugcon and PCs ignore it.
 */
static inline void bench_ticks(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	uint64_t d = (((uint64_t)hi << 32) | lo) - guest_tsc0;
	for (const char *p = "guest ticks: 0x"; *p; p++)
		outb(0xe9, (uint8_t)*p);
	for (int s = 60; s >= 0; s -= 4)
		outb(0xe9, (uint8_t)"0123456789abcdef"[(d >> s) & 15]);
	outb(0xe9, '\n');
}

static inline __attribute__((noreturn)) void poweroff(void)
{
	while (!(inb(0x3f8 + 5) & 0x40))       /* the last byte has left */
		;
	bench_ticks();
	outw(0xb004, 0x2000);
	outw(0x604, 0x2000);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* A 32-bit IDT with only the #PF gate, to entry.S's pf_entry (which
 * calls the guest's pf_handler(error code, CR2)).  Not for long mode:
 * interrupts there need 64-bit code. */
extern char pf_entry[];
static inline void setup_pf_idt(void)
{
	static uint64_t idt[256] __attribute__((aligned(8)));
	uint32_t h = (uint32_t)(uintptr_t)pf_entry;
	idt[14] = (uint64_t)(h & 0xffff) | (uint64_t)0x08 << 16 | (uint64_t)0x8e00 << 32 |
		  (uint64_t)(h >> 16) << 48;
	struct __attribute__((packed)) { uint16_t lim; uint32_t base; } d = {
		sizeof(idt) - 1, (uint32_t)(uintptr_t)idt };
	__asm__ volatile("lidt %0" :: "m"(d));
}

#endif
