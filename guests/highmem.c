/*
 * highmem.c — a shipped guest that uses RAM above 4 GiB: 32-bit code with
 * PAE paging, whose entries reach past 4 GiB.  It prints the same lines
 * natively and under the hypervisor.  It finds the usable RAM above 4 GiB
 * in its Multiboot memory map (none: it says so and is done), then maps
 * that RAM and writes and reads it back through
 *
 *   a 2 MiB page at its start and one at its last 2 MiB;
 *   a page table that itself lies above 4 GiB (its A and D bits set by
 *   the CPU there), and again through a page directory above 4 GiB that
 *   maps the same frames with a 2 MiB page;
 *
 * and checks that RAM at 4 GiB is not RAM at 0 seen again.  Then it
 * touches RAM's last bytes and the nothing right above them with one
 * instruction: a read across the end of RAM (its RAM part, then all ones)
 * and a MOVS from RAM into nothing (dropped).  Under the hypervisor both
 * are completed by vmx/mmio.c, which must read the RAM part above 4 GiB.
 *
 * Built twice: with a Multiboot header (highmem.elf: the map is the
 * Multiboot information's) and, with -DMB2, a Multiboot2 header
 * (highmem-mb2.elf: the map is the memory map tag's).
 */
#include <stdbool.h>
#include <stdint.h>

#include "glib.h"

#define barrier() __asm__ volatile("" ::: "memory")

#define P  1ull
#define RW 2ull
#define A  0x20ull
#define D  0x40ull
#define PS 0x80ull
#define MB (1ull << 20)
#define MB1_BOOT_MAGIC 0x2BADB002u
#define MB2_BOOT_MAGIC 0x36D76289u

static uint64_t pdpt[4] __attribute__((aligned(32)));
static uint64_t pd0[512] __attribute__((aligned(4096)));       /* [0, 1 GiB) 1:1 */
static uint64_t pd1[512] __attribute__((aligned(4096)));       /* [1 GiB, 2 GiB): RAM above 4 GiB */

/* What the loader's memory map says: the lowest usable region at or above
 * 4 GiB (len 0: none), and whether any entry overlaps [probe, probe + 2 MiB). */
struct scan {
	uint64_t base, len, probe;
	bool overlaps;
};

static void consider(struct scan *s, uint64_t b, uint64_t l, uint32_t type)
{
	if (type == 1 && b >= (4ull << 30) && (s->len == 0 || b < s->base)) {
		s->base = b;
		s->len = l;
	}
	if (b < s->probe + 2 * MB && b + l > s->probe)
		s->overlaps = true;
}

/* Scan the map: Multiboot's, or Multiboot2's tag 6. */
static void scan_map(uint32_t magic, uint32_t info, struct scan *s)
{
	const uint8_t *mbi = (const uint8_t *)(uintptr_t)info;
	if (magic == MB2_BOOT_MAGIC) {
		uint32_t total = *(const uint32_t *)mbi;
		for (uint32_t t = 8; t + 16 <= total;) {
			uint32_t type = *(const uint32_t *)(mbi + t);
			uint32_t size = *(const uint32_t *)(mbi + t + 4);
			if (type == 0 || size < 8)
				break;
			uint32_t esz = *(const uint32_t *)(mbi + t + 8);
			for (uint32_t e = 16; type == 6 && esz >= 24 && e + esz <= size; e += esz)
				consider(s, *(const uint64_t *)(mbi + t + e),
					 *(const uint64_t *)(mbi + t + e + 8),
					 *(const uint32_t *)(mbi + t + e + 16));
			t += (size + 7) & ~7u;
		}
		return;
	}
	if (magic != MB1_BOOT_MAGIC || !(*(const uint32_t *)mbi & (1u << 6)))
		return;
	uint32_t n = *(const uint32_t *)(mbi + 44), addr = *(const uint32_t *)(mbi + 48);
	for (uint32_t off = 0; off + 24 <= n;) {
		const uint8_t *e = (const uint8_t *)(uintptr_t)(addr + off);
		consider(s, *(const uint64_t *)(e + 4), *(const uint64_t *)(e + 12),
			 *(const uint32_t *)(e + 20));
		off += *(const uint32_t *)e + 4;
	}
}

/* No fault is expected: one ends the run with where it was. */
uint32_t pf_handler(uint32_t ec, uint32_t cr2);
uint32_t pf_handler(uint32_t ec, uint32_t cr2)
{
	line("unexpected #PF at", cr2);
	line("error code", ec);
	poweroff();
}

void gmain(uint32_t magic, uint32_t info);
void gmain(uint32_t magic, uint32_t info)
{
	serial_init();
	setup_pf_idt();
	line("boot magic", magic);
	struct scan map = { 0 };
	scan_map(magic, info, &map);
	uint64_t base = map.base, len = map.len;
	line("RAM above 4 GiB, MiB", (uint32_t)(len / MB));
	if (len < 16 * MB || (base & (2 * MB - 1))) {
		line("RAM above 4 GiB usable here", 0);
		puts_("guest: done\n");
		poweroff();
	}
	line("it starts at MiB", (uint32_t)(base / MB));

	for (uint64_t i = 0; i < 512; i++)
		pd0[i] = i << 21 | P | RW | PS;
	pd1[0] = base | P | RW | PS;                            /* 0x40000000: its first 2 MiB */
	pd1[2] = (base + 2 * MB) | P | RW | PS;                 /* 0x40400000: the tables' frames */
	pd1[3] = (base + len - 2 * MB) | P | RW | PS;           /* 0x40600000: its last 2 MiB */
	pdpt[0] = (uint32_t)(uintptr_t)pd0 | P;
	pdpt[1] = (uint32_t)(uintptr_t)pd1 | P;
	uint32_t cr4, cr0;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" :: "r"(cr4 | 0x20));   /* PAE */
	__asm__ volatile("mov %0, %%cr3" :: "r"((uint32_t)(uintptr_t)pdpt) : "memory");
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" :: "r"(cr0 | 0x80010000u) : "memory");  /* PG, WP */
	line("PAE paging on", 1);

	/* 1. a word in each 4 KiB page of the first 2 MiB, and at the top */
	volatile uint32_t *first = (volatile uint32_t *)0x40000000u;
	for (uint32_t i = 0; i < 512; i++)
		first[i * 1024 + (i & 1023)] = 0x5a000000u | i;
	uint32_t bad = 0;
	for (uint32_t i = 0; i < 512; i++)
		bad += first[i * 1024 + (i & 1023)] != (0x5a000000u | i);
	line("first 2 MiB: 512 words read back, wrong", bad);
	volatile uint32_t *last = (volatile uint32_t *)(0x40600000u + 2 * MB - 4);
	*last = 0xc0ffee11;
	line("the last word of RAM reads", *last);

	/* 2. RAM at 4 GiB is not RAM at 0 again (an address cut to 32 bits) */
	volatile uint32_t *low = (volatile uint32_t *)0x1f0000u;
	*low = 0x11111111;
	first[0x1f0000 / 4] = 0x33333333;
	line("0x1f0000 after a write at its offset above 4 GiB reads", *low);
	line("... and that write reads", first[0x1f0000 / 4]);

	/* 3. a page table at base + 2 MiB, written through the 2 MiB window at
	 * 0x40400000, mapping base + 4 MiB.. at 0x40200000; a page directory at
	 * base + 2 MiB + 4 KiB mapping the same frames with a 2 MiB page at
	 * 0x80000000 (PDPT entry 2) */
	volatile uint64_t *pt = (volatile uint64_t *)0x40400000u;
	volatile uint64_t *pd2 = (volatile uint64_t *)0x40401000u;
	for (uint64_t i = 0; i < 512; i++) {
		pt[i] = (base + 4 * MB + (i << 12)) | P | RW;
		pd2[i] = 0;
	}
	pd2[0] = (base + 4 * MB) | P | RW | PS;
	barrier();
	pd1[1] = (base + 2 * MB) | P | RW;
	pdpt[2] = (base + 2 * MB + 4096) | P;
	barrier();
	__asm__ volatile("mov %0, %%cr3" :: "r"((uint32_t)(uintptr_t)pdpt) : "memory");
	volatile uint32_t *via_pt = (volatile uint32_t *)0x40200000u;
	volatile uint32_t *via_pd = (volatile uint32_t *)0x80000000u;
	for (uint32_t i = 0; i < 512; i++)
		via_pt[i * 1024 + 7] = 0xa5000000u | i;
	bad = 0;
	for (uint32_t i = 0; i < 512; i++)
		bad += via_pd[i * 1024 + 7] != (0xa5000000u | i);
	line("512 pages written through a table above 4 GiB, wrong through a directory there", bad);
	line("its first entry's A and D", (uint32_t)(pt[0] & (A | D)));
	pt[1] = (base + 4 * MB) | P | RW;               /* entry 1 now maps entry 0's frame */
	__asm__ volatile("invlpg (%0)" :: "r"(0x40201000u) : "memory");
	line("after an entry is rewritten, its page reads", via_pt[1024 + 7]);

	/* 4. the 2 MiB right above that RAM, at 0x40800000: nothing behind it
	 * where the map has nothing there (a machine whose RAM ends there) */
	struct scan above = { .probe = base + len };
	scan_map(magic, info, &above);
	if (!((base + len) & (2 * MB - 1)) && !above.overlaps) {
		pd1[4] = (base + len) | P | RW | PS;
		__asm__ volatile("mov %0, %%cr3" :: "r"((uint32_t)(uintptr_t)pdpt) : "memory");
		*last = 0x12345678;             /* RAM's last 4 bytes: 78 56 34 12 */
		uint32_t v, src = 0x407ffffcu, dst = 0x40800010u;
		__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(0x407ffffeu) : "memory");
		line("a read of RAM's last 2 bytes and 2 above them", v);
		__asm__ volatile("cld; movsl" : "+S"(src), "+D"(dst) :: "memory");
		line("MOVS from RAM's last word to above RAM: ESI advanced by", src - 0x407ffffcu);
		line("... and that word above RAM reads", *(volatile uint32_t *)0x40800010u);
	} else {
		line("memory right above that RAM is in the map", 1);
	}
	puts_("guest: done\n");
	poweroff();
}
