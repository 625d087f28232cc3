/*
 * mbinfo.c — the Multiboot-format guests (mb1-elf64, mb2-elf32, mb2-elf64):
 * print on COM1 what the loader handed over, in a form that must read the
 * same natively under GRUB and under the hypervisor: the boot magic, the
 * command line (GRUB's: the arguments after the kernel's path, without the
 * path), each module's command line, size,
 * alignment and first bytes, whether the memory information and a memory
 * map with RAM at 1 MiB are there, and (Multiboot2) the ACPI RSDP tag's
 * contents.  Then power off.  Addresses and memory sizes are not printed:
 * they differ by design (the hypervisor's memory is not the guest's).
 */
#include <stdint.h>

#include "glib.h"

#define MB1_BOOT_MAGIC 0x2BADB002u
#define MB2_BOOT_MAGIC 0x36D76289u

/* mbentry.S's code has no #PF entry; nothing here faults. */
void gmain(uint32_t magic, uint32_t info);

static uint32_t rd32(uint32_t a)
{
	return *(volatile uint32_t *)(uintptr_t)a;
}

static uint64_t rd64(uint32_t a)
{
	return rd32(a) | (uint64_t)rd32(a + 4) << 32;
}

static uint8_t rd8(uint32_t a)
{
	return *(volatile uint8_t *)(uintptr_t)a;
}

static void putdec(uint32_t v)
{
	char b[11];
	int i = 10;
	b[i] = 0;
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	puts_(b + i);
}

/* At most max bytes from a, printable ASCII as it is, the rest as '.',
 * up to a NUL. */
static void putbytes(uint32_t a, uint32_t max)
{
	for (uint32_t i = 0; i < max; i++) {
		char c = (char)rd8(a + i);
		if (!c)
			break;
		putc_(c >= 0x20 && c < 0x7f ? c : '.');
	}
}

static void cmdline(uint32_t a)
{
	puts_("guest: command line '");
	putbytes(a, 200);
	puts_("'\n");
}

static void module(unsigned k, uint32_t start, uint32_t end, uint32_t str)
{
	puts_("guest: module ");
	putdec(k);
	puts_(" '");
	if (str)
		putbytes(str, 100);
	puts_("' ");
	putdec(end - start);
	puts_(" bytes, page-aligned ");
	puts_(start & 0xfff ? "no" : "yes");
	puts_(": '");
	putbytes(start, end - start < 48 ? end - start : 48);
	puts_("'\n");
}

/* A memory map entry (base, length, type): is 1 MiB in usable RAM? */
static int ram_at_1m(uint64_t base, uint64_t len, uint32_t type)
{
	return type == 1 && base <= 0x100000 && base + len > 0x100000;
}

static void v1(uint32_t info)
{
	uint32_t flags = rd32(info);
	puts_("guest: multiboot1\n");
	puts_("guest: memory information ");
	puts_(flags & 1 ? "given\n" : "missing\n");
	if (flags & 4)
		cmdline(rd32(info + 16));
	else
		puts_("guest: no command line\n");
	uint32_t n = flags & 8 ? rd32(info + 20) : 0, mods = rd32(info + 24);
	puts_("guest: modules ");
	putdec(n);
	puts_("\n");
	for (uint32_t k = 0; k < n && k < 16; k++)
		module(k, rd32(mods + 16 * k), rd32(mods + 16 * k + 4), rd32(mods + 16 * k + 8));
	int ram = 0;
	if (flags & 0x40) {
		uint32_t len = rd32(info + 44), a = rd32(info + 48);
		for (uint32_t off = 0; off + 24 <= len; off += rd32(a + off) + 4)
			ram |= ram_at_1m(rd64(a + off + 4), rd64(a + off + 12), rd32(a + off + 20));
	}
	puts_("guest: memory map ");
	puts_(flags & 0x40 ? (ram ? "given, RAM at 1 MiB\n" : "given, no RAM at 1 MiB\n") :
	      "missing\n");
}

static void rsdp(uint32_t type, uint32_t a, uint32_t len)
{
	uint8_t sum = 0;
	for (uint32_t i = 0; i < 20 && i < len; i++)
		sum = (uint8_t)(sum + rd8(a + i));
	puts_("guest: ACPI RSDP tag ");
	putdec(type);
	puts_(": '");
	putbytes(a, 8);
	puts_("' checksum ");
	puts_(len >= 20 && sum == 0 ? "ok" : "bad");
	puts_(", revision ");
	putdec(len >= 20 ? rd8(a + 15) : 0);
	puts_(", OEM '");
	for (uint32_t i = 9; i < 15 && i < len; i++)
		putc_((char)rd8(a + i));
	puts_("', RSDT ");
	puthex(len >= 20 ? rd32(a + 16) : 0);
	puts_("\n");
}

static void v2(uint32_t info)
{
	uint32_t total = rd32(info), end = info + total;
	int have[32] = { 0 };
	uint32_t at[32] = { 0 };
	unsigned nmod = 0;

	puts_("guest: multiboot2, information ");
	puts_(info & 7 ? "misaligned\n" : "8-byte aligned\n");
	/* first pass: which tags, where (modules are printed in order below) */
	for (uint32_t t = info + 8; t + 8 <= end;) {
		uint32_t type = rd32(t), size = rd32(t + 4);
		if (type == 0 || size < 8)
			break;
		if (type < 32) {
			if (!have[type])
				at[type] = t;
			have[type]++;
		}
		t += (size + 7) & ~7u;
	}
	if (have[1])
		cmdline(at[1] + 8);
	else
		puts_("guest: no command line\n");
	puts_("guest: boot loader name ");
	puts_(have[2] ? "given\n" : "missing\n");
	puts_("guest: modules ");
	putdec((uint32_t)have[3]);
	puts_("\n");
	for (uint32_t t = info + 8; t + 8 <= end;) {
		uint32_t type = rd32(t), size = rd32(t + 4);
		if (type == 0 || size < 8)
			break;
		if (type == 3 && size >= 16)
			module(nmod++, rd32(t + 8), rd32(t + 12), t + 16);
		t += (size + 7) & ~7u;
	}
	puts_("guest: memory information ");
	puts_(have[4] ? "given\n" : "missing\n");
	int ram = 0;
	if (have[6]) {
		uint32_t t = at[6], size = rd32(t + 4), esz = rd32(t + 8);
		for (uint32_t e = 16; esz >= 24 && e + esz <= size; e += esz)
			ram |= ram_at_1m(rd64(t + e), rd64(t + e + 8), rd32(t + e + 16));
	}
	puts_("guest: memory map ");
	puts_(have[6] ? (ram ? "given, RAM at 1 MiB\n" : "given, no RAM at 1 MiB\n") : "missing\n");
	if (have[14])
		rsdp(14, at[14] + 8, rd32(at[14] + 4) - 8);
	if (have[15])
		rsdp(15, at[15] + 8, rd32(at[15] + 4) - 8);
	if (!have[14] && !have[15])
		puts_("guest: no ACPI RSDP tag\n");
}

void gmain(uint32_t magic, uint32_t info)
{
	serial_init();
	puts_("guest: hello, magic ");
	puthex(magic);
	puts_("\n");
	if (magic == MB1_BOOT_MAGIC)
		v1(info);
	else if (magic == MB2_BOOT_MAGIC)
		v2(info);
	puts_("guest: done\n");
	poweroff();
}
