/*
 * hostile.c — a shipped guest that treats its page tables badly, to show
 * the hypervisor contains it.  32-bit 2-level paging with a #PF handler.
 * The first part must print the same natively and under the hypervisor:
 *
 *   a large page with a reserved bit (#PF with RSVD); a page directory
 *   that maps itself (a walk that loops back to its own table); more page
 *   tables than the shadow pool holds (3 address spaces of 700 tables);
 *   a storm of writes to one entry; a page table written through a second,
 *   data mapping of the same frame.
 *
 * Then it reads and writes memory with nothing behind it, as bare metal
 * does: the first address above 1 MiB that its memory map does not cover
 * (natively the end of the machine's memory; under the hypervisor, the
 * hypervisor's own image) and 4 GiB.  Reads give all ones and writes are
 * dropped, natively and under the hypervisor alike, and the guest
 * finishes: the hypervisor is untouched.
 *
 * With usable RAM above 4 GiB in its map (a Bochs machine of more than
 * 4 GiB; all through PSE-36 pages) the accesses to nothing go to the top
 * of that RAM instead: natively in Bochs the first hole above 1 MiB is
 * then at 3 GiB, where Bochs has RAM (it backs the addresses below its
 * memory size that no device claims), so only above the top of RAM is
 * there nothing both ways.
 * Then it writes the first hole (under the hypervisor its image: the
 * write dropped) and the gap from the top of RAM below 4 GiB, rounded up
 * to 1 GiB (RAM in Bochs, passed through by the hypervisor), and writes
 * and reads back RAM above 4 GiB at its start and its last word.
 */
#include <stdbool.h>
#include <stdint.h>

#include "glib.h"

/* Page-table stores must happen before the accesses that depend on them:
 * the compiler does not know the CPU reads them. */
#define barrier() __asm__ volatile("" ::: "memory")

static inline void invlpg(uintptr_t va) { __asm__ volatile("invlpg (%0)" :: "r"(va) : "memory"); }
static inline void set_cr3(uintptr_t v) { __asm__ volatile("mov %0, %%cr3" :: "r"(v) : "memory"); }

#define P 1u
#define RW 2u
#define PS 0x80u
#define NSPACES 3
#define NTABLES 700

static uint32_t pd[NSPACES][1024] __attribute__((aligned(4096)));
#define NIDENT 8                        /* identity map: 32 MiB */
static uint32_t ident[NIDENT][1024] __attribute__((aligned(4096)));
/* the many tables live in guest RAM from 16 MiB on (not in the image) */
#define TABLES_BASE 0x1000000u

static volatile uint32_t last_ec, last_cr2, faults;
static volatile uint32_t *volatile fix_pde;

uint32_t pf_handler(uint32_t ec, uint32_t cr2);
uint32_t pf_handler(uint32_t ec, uint32_t cr2)
{
	faults++;
	last_ec = ec;
	last_cr2 = cr2;
	if (fix_pde) {                  /* clear the reserved bit and go on */
		*fix_pde &= ~(1u << 21);
		fix_pde = 0;
		invlpg(cr2);
		return 0;
	}
	line("unexpected #PF at", cr2);
	line("error code", ec);
	poweroff();
}

/* What the loader's memory map says: the first address at or above 1 MiB
 * that no entry covers, whatever the entry's type (0 without a map or at
 * 4 GiB and above); the end of the highest usable entry below 4 GiB; the
 * lowest usable entry at or above 4 GiB and the end of the highest one
 * (high_len 0: none). */
struct map {
	uint32_t hole, low_top;
	uint64_t high_base, high_len, high_top;
};

static void scan_map(uint32_t info, struct map *m)
{
	const uint8_t *mbi = (const uint8_t *)(uintptr_t)info;
	*m = (struct map){ 0 };
	if (!(*(const uint32_t *)mbi & (1u << 6)))
		return;
	uint32_t len = *(const uint32_t *)(mbi + 44), addr = *(const uint32_t *)(mbi + 48);
	uint64_t at = 0x100000;
	for (bool moved = true; moved;) {
		moved = false;
		for (uint32_t off = 0; off + 24 <= len;) {
			const uint8_t *e = (const uint8_t *)(uintptr_t)(addr + off);
			uint64_t b = *(const uint64_t *)(e + 4), l = *(const uint64_t *)(e + 12);
			if (b <= at && at < b + l) {
				at = b + l;
				moved = true;
			}
			off += *(const uint32_t *)e + 4;
		}
	}
	m->hole = at >= (1ull << 32) ? 0 : (uint32_t)at;
	for (uint32_t off = 0; off + 24 <= len;) {
		const uint8_t *e = (const uint8_t *)(uintptr_t)(addr + off);
		uint64_t b = *(const uint64_t *)(e + 4), l = *(const uint64_t *)(e + 12);
		uint32_t type = *(const uint32_t *)(e + 20);
		off += *(const uint32_t *)e + 4;
		if (type != 1 || l == 0)
			continue;
		if (b < (1ull << 32) && b + l > m->low_top)
			m->low_top = b + l >= (1ull << 32) ? 0xfffff000u : (uint32_t)(b + l);
		if (b >= (1ull << 32) && (m->high_len == 0 || b < m->high_base)) {
			m->high_base = b;
			m->high_len = l;
		}
		if (b >= (1ull << 32) && b + l > m->high_top)
			m->high_top = b + l;
	}
}

/* Map the 4 MiB page holding physical PA (below 2^40: PSE-36 bits 13..20)
 * at directory entry PDE of space 0; the address PA has there. */
static volatile uint32_t *map_large(unsigned pde, uint64_t pa)
{
	pd[0][pde] = ((uint32_t)pa & 0xffc00000u) | (uint32_t)(pa >> 32) << 13 | P | RW | PS;
	invlpg((uintptr_t)pde << 22);
	barrier();
	return (volatile uint32_t *)(((uintptr_t)pde << 22) + ((uint32_t)pa & 0x3fffffu));
}

void gmain(uint32_t magic, uint32_t info);
void gmain(uint32_t magic, uint32_t info)
{
	(void)magic;
	serial_init();
	struct map m;
	scan_map(info, &m);
	uint32_t hole = m.hole;
	setup_pf_idt();

	/* identity map of 32 MiB, in every address space */
	for (unsigned t = 0; t < NIDENT; t++)
		for (unsigned i = 0; i < 1024; i++)
			ident[t][i] = ((t * 1024 + i) << 12) | P | RW;
	for (unsigned s = 0; s < NSPACES; s++)
		for (unsigned t = 0; t < NIDENT; t++)
			pd[s][t] = (uint32_t)(uintptr_t)ident[t] | P | RW;
	*(volatile uint32_t *)0x800000 = 0x5eed0001;    /* seen through the large page */
	uint32_t cr4;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" :: "r"(cr4 | 0x10));   /* PSE */
	set_cr3((uintptr_t)pd[0]);
	uint32_t cr0;
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" :: "r"(cr0 | 0x80010000u) : "memory");
	line("paging on", 1);

	/* 1. a 4 MiB page at 0xe0000000 with reserved bit 21 set */
	pd[0][0x380] = 0x800000 | P | RW | PS | (1u << 21);
	fix_pde = &pd[0][0x380];
	barrier();
	line("reserved-bit large page reads", *(volatile uint32_t *)0xe0000000);
	line("its #PF error code", last_ec);

	/* 2. the directory maps itself: 0xe4000000 + 4 KiB * i is the i-th table */
	pd[0][0x390] = (uint32_t)(uintptr_t)pd[0] | P | RW;
	barrier();
	line("self-mapped directory: entry 0 through itself",
	     *(volatile uint32_t *)0xe4000000 & ~0x60u);
	line("... and its own entry", *(volatile uint32_t *)(0xe4000000u + 0x390 * 4) & ~0x60u);

	/* 3. more tables than the pool: each space maps NTABLES tables, one
	 * page touched through each (tables at 16 MiB + 4 KiB * n, each
	 * mapping its own frame) */
	uint32_t sum = 0;
	for (unsigned s = 0; s < NSPACES; s++) {
		for (unsigned t = 0; t < NTABLES; t++) {
			uint32_t tab = TABLES_BASE + (s * NTABLES + t) * 4096u;
			volatile uint32_t *pt = (volatile uint32_t *)(uintptr_t)tab;
			for (unsigned i = 0; i < 1024; i++)
				pt[i] = 0;
			pt[0] = tab | P | RW;   /* the table's first page is the table itself */
			pd[s][NIDENT + t] = tab | P | RW;
		}
	}
	barrier();
	for (unsigned round = 0; round < 2; round++)
		for (unsigned s = 0; s < NSPACES; s++) {
			set_cr3((uintptr_t)pd[s]);
			for (unsigned t = 0; t < NTABLES; t++)
				sum += *(volatile uint32_t *)((NIDENT + t) << 22) & ~0x60u;
		}
	set_cr3((uintptr_t)pd[0]);
	line("2100 tables read back, checksum", sum);

	/* 4. a storm of writes to one entry, then one flush */
	volatile uint32_t *e = &ident[0][0x300];
	for (unsigned i = 0; i < 2000; i++)
		*e = ((0x300 + (i & 1)) << 12) | P | RW;
	*e = (0x301u << 12) | P | RW;
	*(volatile uint32_t *)0x301000 = 0xabcd0301;
	invlpg(0x300000);
	line("after the storm 0x300000 reads", *(volatile uint32_t *)0x300000);
	*e = (0x300u << 12) | P | RW;
	invlpg(0x300000);

	/* 5. a page table written through a data alias: table 0 of space 0
	 * (mapping 0x02000000..), also mapped as data at 0x00407000 */
	uint32_t tab0 = TABLES_BASE;
	ident[1][7] = tab0 | P | RW;
	invlpg(0x407000);
	volatile uint32_t *alias = (volatile uint32_t *)0x407000;
	barrier();
	alias[1] = 0x301000 | P | RW;   /* table 0, entry 1: 0x02001000 -> 0x301000 */
	invlpg(0x02001000);
	line("entry written through an alias maps", *(volatile uint32_t *)0x02001000);
	line("faults taken", faults);

	/* 6. memory with nothing behind it: the first address above 1 MiB
	 * that no entry of the memory map covers (natively the end of the
	 * machine's memory; under the hypervisor its own image), or with RAM
	 * above 4 GiB the top of that RAM; and 4 GiB, all through PSE-36
	 * large pages.  Bare metal reads all ones there and drops writes; so
	 * must the hypervisor, and the guest goes on. */
	uint64_t none = m.high_len ? m.high_top : hole;
	volatile uint32_t *nothing = map_large(0x3a0, none);
	if (m.high_len)
		line("nothing above RAM above 4 GiB, 4 MiB aligned", !(m.high_top & 0x3fffff));
	else
		line("memory map has a hole above 1 MiB, 4 MiB aligned",
		     hole > 0x100000 && !(hole & 0x3fffff));
	line("nothing there: 4-byte read", nothing[0]);
	nothing[1] = 0x12345678;
	line("after a write of 0x12345678, reads", nothing[1]);
	uint32_t v;
	__asm__ volatile("movzbl 9(%1), %0" : "=r"(v) : "r"(nothing) : "memory");
	line("movzx of a byte", v);
	__asm__ volatile("movswl 10(%1), %0" : "=r"(v) : "r"(nothing) : "memory");
	line("movsx of a word", v);
	v = 0x11223344;
	__asm__ volatile("movb 12(%1), %b0" : "+q"(v) : "r"(nothing) : "memory");
	line("mov of a byte into a register's low byte", v);
	v = 0x11223344;
	__asm__ volatile("movw 12(%1), %w0" : "+r"(v) : "r"(nothing) : "memory");
	line("mov of a word into a register's low half", v);
	uint32_t esi = (uint32_t)(uintptr_t)&nothing[8];
	__asm__ volatile("cld; lodsl" : "=a"(v), "+S"(esi) :: "memory");
	line("lodsd", v);
	line("... advances esi by", esi - (uint32_t)(uintptr_t)&nothing[8]);
	uint32_t edi = (uint32_t)(uintptr_t)&nothing[16], ecx = 8;
	__asm__ volatile("cld; rep stosl" : "+D"(edi), "+c"(ecx) : "a"(0xa5a5a5a5u) : "memory");
	line("rep stosd of 8: ecx after", ecx);
	line("... then reads", nothing[20]);
	__asm__ volatile("lock orl $1, (%0)" :: "r"(&nothing[24]) : "memory");
	line("lock or, then reads", nothing[24]);
	volatile uint32_t *high = map_large(0x3a1, 1ull << 32);
	high[3] = 0x5a5a5a5a;
	line("at 4 GiB (PSE-36): read after a write", high[3]);

	/* 7. with RAM above 4 GiB: the first hole above 1 MiB (natively 3 GiB,
	 * RAM in Bochs; under the hypervisor its image, the write dropped:
	 * both ways a write reads back as written or as all ones), the gap
	 * above the RAM below 4 GiB (RAM in Bochs), and that RAM's last word,
	 * which must not be seen 4 GiB lower. */
	line("RAM above 4 GiB, MiB", (uint32_t)(m.high_len >> 20));
	if (m.high_len) {
		volatile uint32_t *h = map_large(0x3a2, hole);
		h[0] = 0x600dcafe;
		v = h[0];
		line("first hole above 1 MiB: a write reads back as written or all ones",
		     v == 0x600dcafe || v == 0xffffffffu);
		uint64_t gap = ((uint64_t)m.low_top + 0x3fffffff) & ~0x3fffffffull;
		if (gap < (1ull << 32)) {
			volatile uint32_t *g = map_large(0x3a3, gap + 0x1000);
			g[0] = 0x9a9a0001;
			line("above the RAM below 4 GiB, at 1 GiB granularity: read after a write",
			     g[0]);
		}
		volatile uint32_t *last = map_large(0x3a4, m.high_top - 4);
		volatile uint32_t *low = map_large(0x3a5, (m.high_top - 4) & 0xffffffffu);
		uint32_t was = *low;
		last[0] = 0x0badf00d;
		line("RAM's last word above 4 GiB: read after a write", last[0]);
		line("... and 4 GiB lower it is unchanged", *low == was);
	}
	puts_("guest: done\n");
	poweroff();
}
