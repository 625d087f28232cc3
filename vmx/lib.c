/*
 * lib.c — what the hypervisor needs of a C library: memory functions the
 * compiler may call, the serial ports, a small printf, power-off.
 */
#include <stdarg.h>

#include "hv.h"

#define COM_LOG 0x3e8                   /* COM3: the hypervisor's log */

/* The string instructions: one instruction for a whole page clear or
 * copy (fast-string microcode on hardware; under Bochs, far fewer
 * instructions than a byte loop). */
void *memset(void *d, int c, size_t n)
{
	void *p = d;
	size_t q = n >> 3, r = n & 7;
	uint64_t v = (uint8_t)c * 0x0101010101010101ull;
	__asm__ volatile("cld; rep stosq" : "+D"(p), "+c"(q) : "a"(v) : "memory");
	__asm__ volatile("rep stosb" : "+D"(p), "+c"(r) : "a"(v) : "memory");
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *p = d;
	size_t q = n >> 3, r = n & 7;
	__asm__ volatile("cld; rep movsq" : "+D"(p), "+S"(s), "+c"(q) :: "memory");
	__asm__ volatile("rep movsb" : "+D"(p), "+S"(s), "+c"(r) :: "memory");
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	uint8_t *p = d;
	const uint8_t *q = s;
	if (p < q)
		return memcpy(d, s, n);
	while (n--)
		p[n] = q[n];
	return d;
}

void *memchr(const void *s, int c, size_t n)
{
	const uint8_t *p = s;
	for (; n--; p++)
		if (*p == (uint8_t)c)
			return (void *)p;
	return NULL;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *p = a, *q = b;
	/* eight bytes at a time while they agree, one string instruction
	 * (the recorder compares whole 512-byte blocks of page tables with
	 * its mirror: under Bochs a tick per word, not a loop's five) */
	size_t w = n >> 3, left = w;
	if (w) {
		__asm__ volatile("cld; repe cmpsq" : "+S"(p), "+D"(q), "+c"(left)
				 :: "memory", "cc");
		uint64_t x, y;          /* the last pair compared: if it differs, back to it */
		__builtin_memcpy(&x, p - 8, 8);
		__builtin_memcpy(&y, q - 8, 8);
		if (x != y)
			p -= 8, q -= 8, left++;
		n = (n & 7) + left * 8;
	}
	for (; n--; p++, q++)
		if (*p != *q)
			return *p < *q ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

void serial_init(uint16_t base)
{
	outb(base + 1, 0x00);   /* no interrupts */
	outb(base + 3, 0x80);   /* DLAB */
	outb(base + 0, 0x01);   /* 115200 baud */
	outb(base + 1, 0x00);
	outb(base + 3, 0x03);   /* 8N1 */
	outb(base + 2, 0xc7);   /* FIFO */
	outb(base + 4, 0x03);
}

void serial_putc(uint16_t base, char c)
{
	while (!(inb(base + 5) & 0x20))
		;
	outb(base, (uint8_t)c);
}

/* Wait until the last byte has left (LSR.TEMT), or it is lost at power-off. */
void serial_drain(uint16_t base)
{
	while (!(inb(base + 5) & 0x40))
		;
}

static void put(char c)
{
	if (c == '\n')
		serial_putc(COM_LOG, '\r');
	serial_putc(COM_LOG, c);
}

static void put_u(uint64_t v, unsigned base, int width, char pad)
{
	char buf[24];
	int n = 0;
	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n < width--)
		put(pad);
	while (n)
		put(buf[--n]);
}

static void vprint(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(*fmt);
			continue;
		}
		int width = 0, lng = 0;
		char pad = ' ';
		fmt++;
		if (*fmt == '#') {
			put('0');
			put('x');
			fmt++;
		}
		if (*fmt == '0')
			pad = '0', fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l')
			lng++, fmt++;
		switch (*fmt) {
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			if (v < 0)
				put('-'), v = -v;
			put_u((uint64_t)v, 10, width, pad);
			break;
		}
		case 'u':
			put_u(lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, pad);
			break;
		case 'x':
			put_u(lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			while (s && *s)
				put(*s++);
			break;
		}
		case 'c':
			put((char)va_arg(ap, int));
			break;
		default:
			put('%');
			put(*fmt);
		}
	}
}

void hv_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
}

void hv_poweroff(int code)
{
	serial_drain(COM_LOG);
	serial_drain(0x2f8);
	serial_drain(0x3f8);
	/* isa-debug-exit (QEMU), then ACPI S5 (Bochs, QEMU PIIX), then Bochs's
	 * shutdown port; whatever the machine has. */
	outb(0xf4, (uint8_t)code);
	outw(0xb004, 0x2000);
	outw(0x604, 0x2000);
	const char *s = "Shutdown";
	while (*s)
		outb(0x8900, (uint8_t)*s++);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void hv_panic(const char *fmt, ...)
{
	va_list ap;
	hv_printf("hv: PANIC: ");
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	hv_printf("\n");
	hv_poweroff(3);
}
