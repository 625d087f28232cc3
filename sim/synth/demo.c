/*
 * demo.c — the built-in demo guest: a small 4-level page table in six
 * pages of guest-physical memory, and a tour of accesses through it that
 * shows every kind of outcome (4 KiB, 2 MiB and 1 GiB translations, A/D
 * updates, and not-present, protection, NX, reserved-bit and supervisor
 * faults).  `shadowvt demo` walks the tour; `shadowvt demo -o FILE` writes
 * the image for `shadowvt walk --mem`.
 */
#include <string.h>

#include "demo.h"

#define PML4    0x1000u
#define PDPT    0x2000u
#define PD      0x3000u
#define PT      0x4000u
#define DATA    0x5000u

static void put64(uint8_t *mem, uint64_t gpa, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		mem[gpa + i] = (uint8_t)(v >> (8 * i));
}

void svt_demo_build(uint8_t *mem)
{
	const uint64_t P = SVT_PTE_P, RW = SVT_PTE_RW, US = SVT_PTE_US,
		A = SVT_PTE_A, D = SVT_PTE_D, PS = SVT_PTE_PS, XD = SVT_PTE_XD;

	memset(mem, 0, SVT_DEMO_SIZE);
	/* Low half, user-accessible; A clear so the first walk sets it. */
	put64(mem, PML4 + 8 * 0, PDPT | P | RW | US);
	/* 0xffff800000000000: the same PDPT, supervisor only. */
	put64(mem, PML4 + 8 * 256, PDPT | P | RW | A);
	put64(mem, PDPT + 8 * 0, PD | P | RW | US | A);
	/* 0x40000000: a 1 GiB supervisor page. */
	put64(mem, PDPT + 8 * 1, 0x40000000u | P | RW | PS | A | D);
	/* 0x400000: a page table of 4 KiB pages. */
	put64(mem, PD + 8 * 2, PT | P | RW | US | A);
	/* 0x600000: a 2 MiB supervisor page, not yet dirty. */
	put64(mem, PD + 8 * 3, 0x200000u | P | RW | PS | A);
	/* 0x800000: bit 51 is reserved with MAXPHYADDR 46. */
	put64(mem, PD + 8 * 4, PT | P | RW | US | A | (1ull << 51));
	/* 0x400000: user, read-only; 0x401000 absent; 0x402000 user data, NX. */
	put64(mem, PT + 8 * 0, DATA | P | US);
	put64(mem, PT + 8 * 2, DATA | P | RW | US | A | D | XD);
	memcpy(mem + DATA, "shadowvt demo page", 18);
}

void svt_demo_regs(struct svt_regs *r)
{
	memset(r, 0, sizeof(*r));
	r->cr0 = SVT_CR0_PE | SVT_CR0_WP | SVT_CR0_PG;
	r->cr3 = PML4;
	r->cr4 = SVT_CR4_PAE;
	r->efer = SVT_EFER_LME | SVT_EFER_LMA | SVT_EFER_NXE;
	r->rflags = 0x2;
	r->maxphyaddr = 46;
	r->features = SVT_FEAT_1GPAGE;
}

const struct svt_demo_stop svt_demo_tour[] = {
	{ 0x400123, SVT_ACC_READ, 3, "user read of a user page: sets A on the path" },
	{ 0x400123, SVT_ACC_WRITE, 3, "user write to a read-only page" },
	{ 0x400123, SVT_ACC_WRITE, 0, "supervisor write to a read-only page, CR0.WP=1" },
	{ 0x401000, SVT_ACC_READ, 3, "a page that is not present" },
	{ 0x402000, SVT_ACC_FETCH, 3, "instruction fetch from an NX page" },
	{ 0x600010, SVT_ACC_WRITE, 0, "write through a 2 MiB page: sets D" },
	{ 0x40001000, SVT_ACC_READ, 0, "read through a 1 GiB page" },
	{ 0x800000, SVT_ACC_READ, 0, "a PDE with a reserved bit set" },
	{ 0xffff800000400123, SVT_ACC_READ, 3, "user read of a supervisor-only address" },
};
const unsigned svt_demo_tour_len = sizeof(svt_demo_tour) / sizeof(svt_demo_tour[0]);
