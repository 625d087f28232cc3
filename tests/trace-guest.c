/*
 * trace-guest.c — a plausible guest's event stream for measuring trace
 * size and speed (tg_guest_events in trace-gen.h).  Not a model of a real
 * kernel, just its shape: four processes touching memory mostly page after
 * page from a handful of code sites, so each fault is followed by the
 * page-table entry the core had to read (sequential frames within a
 * table, a fresh page table now and then) and its decision; page-table
 * writes caught by write protection and emulated; context switches with
 * CR3 loads; INVLPG after unmapping; whole page tables zeroed or copied
 * (fork).
 */
#include <string.h>

#include "trace-gen.h"

struct proc {
	uint64_t cr3;
	uint64_t next_va;       /* the next page this process touches */
	uint64_t pt_gpa;        /* the current page table */
	uint64_t frame;         /* the next frame it maps */
	struct svt_emu_regs regs;
};

static const uint64_t sites[8] = {
	0xffffffff81234560ull, 0xffffffff81234577ull, 0x401a20, 0x401a38,
	0x7f3c12345670ull, 0x7f3c12345688ull, 0xffffffff8109abc0ull, 0x402000,
};

/* mov %rax,(%rdi) — what a kernel writes a page-table entry with. */
static const uint8_t pte_store[] = { 0x48, 0x89, 0x07 };

static void add(struct tg_events *out, struct svt_trace_event *ev)
{
	tg_push(out, ev);
	memset(ev, 0, sizeof(*ev));
}

void tg_guest_events(uint64_t seed, size_t n, struct tg_events *out)
{
	struct tg_rng g = { seed };
	struct proc procs[4];
	struct svt_trace_event ev;
	static uint8_t page[4096];
	unsigned cur = 0;

	memset(&ev, 0, sizeof(ev));
	for (unsigned i = 0; i < 4; i++) {
		struct proc *p = &procs[i];
		memset(p, 0, sizeof(*p));
		p->cr3 = 0x1000000ull + i * 0x10000;
		p->next_va = 0x7f0000000000ull + i * 0x100000000ull;
		p->pt_gpa = 0x2000000ull + i * 0x100000;
		p->frame = 0x40000 + i * 0x10000;
		p->regs.gpr[SVT_EMU_RSP] = 0x7ffd00001000ull - i * 0x10000;
		p->regs.rflags = 0x246;
		p->regs.seg_base[SVT_EMU_FS] = 0x7f3c00000740ull + i * 0x1000;
	}
	while (out->n < n) {
		struct proc *p = &procs[cur];
		unsigned r = (unsigned)tg_below(&g, 1000);

		if (r < 5) {                    /* context switch */
			cur = (cur + 1 + (unsigned)tg_below(&g, 3)) % 4;
			ev.type = SVT_TRACE_CR_WRITE;
			ev.u.cr.reg = SVT_TRACE_CR3;
			ev.u.cr.val = procs[cur].cr3;
			add(out, &ev);
			ev.type = SVT_TRACE_DECISION;
			ev.u.decision.input = SVT_TRACE_CR_WRITE;
			add(out, &ev);
			continue;
		}
		if (r < 8) {                    /* munmap: INVLPG */
			ev.type = SVT_TRACE_INVLPG;
			ev.u.invlpg_va = p->next_va - 4096 * (1 + tg_below(&g, 16));
			add(out, &ev);
			continue;
		}
		if (r < 10) {                   /* a new page table: zeroed, or a fork's copy */
			p->pt_gpa += 4096;
			if (r == 9)
				for (unsigned i = 0; i < 512; i++) {
					uint64_t e = (p->frame + i) << 12 | 0x25;
					for (int b = 0; b < 8; b++)
						page[8 * i + b] = (uint8_t)(e >> (8 * b));
				}
			else
				memset(page, 0, sizeof(page));
			ev.type = SVT_TRACE_MEM;
			ev.u.mem.gpa = p->pt_gpa;
			ev.u.mem.len = 4096;
			ev.u.mem.data = page;
			add(out, &ev);
			continue;
		}

		/* A fault on the next page, from one of the code sites. */
		bool pt_write = r < 150;
		unsigned site = (unsigned)tg_below(&g, 8);
		uint64_t va = p->next_va;
		if (tg_below(&g, 8) != 0)
			p->next_va += 4096;
		else
			p->next_va += 4096 * (1 + tg_below(&g, 64));
		p->regs.rip = sites[site];
		p->regs.gpr[SVT_EMU_RAX] = pt_write ? (p->frame << 12 | 0x67) : va;
		p->regs.gpr[SVT_EMU_RDI] = pt_write ? p->pt_gpa + ((va >> 12) & 511) * 8 : va;
		p->regs.gpr[SVT_EMU_RCX] += 1;
		if (tg_below(&g, 4) == 0)
			p->regs.rflags = 0x202 | (tg_below(&g, 2) ? 0x44 : 0x80);

		/* What the core will read that the replayer cannot know (the
		 * guest wrote the entry without a fault), before the fault. */
		if (!pt_write) {
			if (((va >> 12) & 511) == 0) {
				p->pt_gpa += 4096;
				ev.type = SVT_TRACE_MEM;    /* the new table's PDE */
				uint64_t pde = p->pt_gpa | 0x67;
				uint8_t b8[8];
				for (int b = 0; b < 8; b++)
					b8[b] = (uint8_t)(pde >> (8 * b));
				ev.u.mem.gpa = 0x3000000ull + cur * 0x1000 + ((va >> 21) & 511) * 8;
				ev.u.mem.len = 8;
				ev.u.mem.data = b8;
				add(out, &ev);
			}
			uint64_t pte = p->frame++ << 12 | 0x67;
			if (tg_below(&g, 10) == 0)
				p->frame += tg_below(&g, 1000);
			uint8_t b8[8];
			for (int b = 0; b < 8; b++)
				b8[b] = (uint8_t)(pte >> (8 * b));
			ev.type = SVT_TRACE_MEM;
			ev.u.mem.gpa = p->pt_gpa + ((va >> 12) & 511) * 8;
			ev.u.mem.len = 8;
			ev.u.mem.data = b8;
			add(out, &ev);
		}

		ev.type = SVT_TRACE_FAULT;
		struct svt_trace_fault *f = &ev.u.fault;
		f->va = pt_write ? 0xffff888000000000ull + p->regs.gpr[SVT_EMU_RDI] : va;
		f->error_code = pt_write ? 0x3 : (site < 2 || site == 6 ? 0x2 : 0x6);
		f->cpl = (site < 2 || site == 6 || pt_write) ? 0 : 3;
		f->code_bits = 64;
		f->rflags = p->regs.rflags;
		f->pkru = 0x55555554;
		f->has_regs = true;
		f->regs = p->regs;
		if (pt_write) {
			f->insn_len = sizeof(pte_store);
			memcpy(f->insn, pte_store, sizeof(pte_store));
		}
		add(out, &ev);

		ev.type = SVT_TRACE_DECISION;
		struct svt_trace_decision *d = &ev.u.decision;
		d->input = SVT_TRACE_FAULT;
		if (pt_write) {
			d->outcome = SVT_PF_EMULATED;
			d->has_regs = true;
			d->regs = p->regs;
			d->regs.rip += sizeof(pte_store);
			p->regs.rip = d->regs.rip;
		} else if (tg_below(&g, 50) == 0) {
			d->outcome = SVT_PF_INJECT;
			d->error_code = 0x6;
			d->cr2 = va;
		} else {
			d->outcome = SVT_PF_FIXED;
		}
		add(out, &ev);
	}
}
