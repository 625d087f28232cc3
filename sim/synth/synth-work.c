/*
 * synth-work.c — the synthetic workloads and the run loop (synth.h).
 */
#include <stdlib.h>
#include <string.h>

#include "synth.h"

int syn_nprocs(const struct syn *s)
{
	int n = 0;
	for (int p = 0; p < SYN_MAX_PROCS; p++)
		n += s->proc[p].used;
	return n;
}

int syn_random_proc(struct syn *s)
{
	int n = syn_nprocs(s);
	if (n == 0)
		return -1;
	int k = (int)syn_below(s, (uint64_t)n);
	for (int p = 0; p < SYN_MAX_PROCS; p++)
		if (s->proc[p].used && k-- == 0)
			return p;
	return -1;
}

/* A process image: text, data, stack; touched a little. */
static bool image(struct syn *s, int p)
{
	uint64_t va;
	if (!syn_add_vma(s, p, 8 + syn_below(s, 24), false, true, &va) ||
	    !syn_add_vma(s, p, 8 + syn_below(s, 40), true, false, &va) ||
	    !syn_add_vma(s, p, 4 + syn_below(s, 8), true, false, &va))
		return false;
	for (unsigned i = 0; i < s->proc[p].nvma && !s->failed; i++)
		syn_touch_vma(s, p, i, 2 + (unsigned)syn_below(s, 8));
	return !s->failed;
}

int syn_spawn(struct syn *s)
{
	int p = syn_new_proc(s);
	if (p < 0 || !image(s, p))
		return -1;
	return p;
}

int syn_fresh_mapping(struct syn *s, int *pp, unsigned n)
{
	if (syn_nprocs(s) >= 6)
		syn_exit_proc(s, syn_random_proc(s));
	int p = syn_nprocs(s) < 3 ? syn_spawn(s) : syn_random_proc(s);
	if (p < 0 || s->failed)
		return -1;
	struct syn_proc *pr = &s->proc[p];
	while (pr->nvma > 6 && !s->failed)
		syn_drop_vma(s, p, 3 + (unsigned)syn_below(s, pr->nvma - 3));
	uint64_t va;
	if (s->failed || !syn_add_vma(s, p, n, true, false, &va))
		return -1;
	syn_switch(s, p);
	for (unsigned k = 0; k < n && !s->failed; k++)
		syn_user(s, va + k * 4096, SVT_ACC_WRITE);
	*pp = p;
	return s->failed ? -1 : (int)pr->nvma - 1;
}

/* fork, copy-on-write, maybe exec, exit */
static void w_fork(struct syn *s)
{
	int parent = syn_random_proc(s);
	if (parent < 0 || syn_nprocs(s) >= 12) {
		if (syn_nprocs(s) >= 12)
			syn_exit_proc(s, syn_random_proc(s));
		if (syn_spawn(s) < 0)
			return;
		parent = syn_random_proc(s);
	}
	syn_touch_vma(s, parent, (unsigned)syn_below(s, s->proc[parent].nvma), 4);
	int c = syn_fork(s, parent);
	if (c < 0)
		return;
	/* the child writes its data and stack: copy-on-write faults */
	for (unsigned i = 0; i < s->proc[c].nvma && !s->failed; i++)
		syn_touch_vma(s, c, i, 6);
	if (syn_below(s, 2)) {
		while (s->proc[c].nvma > 0 && !s->failed)
			syn_drop_vma(s, c, s->proc[c].nvma - 1);
		s->execs++;
		image(s, c);
	}
	if (syn_below(s, 4))
		syn_exit_proc(s, c);
	syn_switch(s, parent);
	syn_touch_vma(s, parent, (unsigned)syn_below(s, s->proc[parent].nvma), 4);
}

/* mmap / touch / munmap churn in a few processes */
static void w_mmap(struct syn *s)
{
	int p = syn_nprocs(s) < 3 ? syn_spawn(s) : syn_random_proc(s);
	if (p < 0)
		return;
	uint64_t va;
	if (s->proc[p].nvma < SYN_MAX_VMAS - 2 &&
	    syn_add_vma(s, p, 1 + syn_below(s, 64), syn_below(s, 4) != 0, false, &va)) {
		unsigned i = s->proc[p].nvma - 1;
		syn_touch_vma(s, p, i, 1 + (unsigned)syn_below(s, 2 * s->proc[p].vma[i].pages));
	}
	if (s->proc[p].nvma > 3 && syn_below(s, 3) != 0) {
		syn_switch(s, p);
		syn_drop_vma(s, p, 3 + (unsigned)syn_below(s, s->proc[p].nvma - 3));
	}
}

/* many address spaces, round robin-ish */
static void w_spaces(struct syn *s)
{
	if (syn_nprocs(s) < 24) {
		syn_spawn(s);
		return;
	}
	int p = syn_random_proc(s);
	for (unsigned k = 0; k < 4 && !s->failed; k++)
		syn_touch_vma(s, p, (unsigned)syn_below(s, s->proc[p].nvma), 2);
	if (syn_below(s, 20) == 0)
		w_mmap(s);
}

/* The kernel reshapes its direct map: split a large page into a page
 * table (as set_memory_* does), change rights in it, merge it back. */
static void w_directmap(struct syn *s)
{
	uint64_t big = s->esize == 4 ? 1024 : 512;
	uint64_t n = s->cfg->guest_frames / big;
	uint64_t i = 1 + syn_below(s, n - 1);
	uint64_t va = s->dmap + i * big * 4096;
	uint64_t pd;

	if (s->levels == 2) {
		pd = s->kroot;
	} else {
		uint64_t table = s->kroot;
		for (int lv = s->levels; lv >= 3; lv--) {
			uint64_t e = syn_read_entry(s,
						    table +
						    (uint64_t)syn_idx(s, lv, va) * s->esize);
			table = e & (s->esize == 4 ? 0xfffff000ull : 0x000ffffffffff000ull);
		}
		pd = table;
	}
	uint64_t pde_gpa = pd + (uint64_t)syn_idx(s, 2, va) * s->esize;
	uint64_t pde = syn_read_entry(s, pde_gpa);
	uint64_t base = i * big * 4096;
	uint64_t flags = SVT_PTE_P | SVT_PTE_RW | SVT_PTE_A | SVT_PTE_D | (1ull << 8);
	if (s->esize == 8)
		flags |= SVT_PTE_XD;

	/* the kernel uses the region: reads anywhere, writes to free frames
	 * only (the others belong to someone) */
	for (unsigned k = 0; k < 8 && !s->failed; k++) {
		uint32_t ec;
		uint64_t cr2, j = syn_below(s, big);
		bool w = syn_below(s, 2) && s->fstate[i * big + j] == SYN_F_FREE;
		syn_access(s, va + j * 4096, w ? SVT_ACC_WRITE : SVT_ACC_READ, 0, 4, k,
			   s->dmap + 0x102000, &ec, &cr2);
	}
	if (pde & SVT_PTE_PS) {
		uint64_t pt = syn_alloc(s, SYN_F_PT);
		if (!pt)
			return;
		for (uint64_t j = 0; j < big && !s->failed; j++)
			syn_write_entry(s, pt + j * s->esize, (base + j * 4096) | flags);
		uint64_t ne = pt | SVT_PTE_P | SVT_PTE_RW | SVT_PTE_A;
		syn_write_entry(s, pde_gpa, ne);
		if (s->levels == 2)     /* the kernel half lives in every root */
			for (int p = 0; p < SYN_MAX_PROCS; p++)
				if (s->proc[p].used)
					syn_write_entry(s,
							s->proc[p].root + (pde_gpa - s->kroot), ne);
		/* flush the global entries: CR4.PGE off and on */
		syn_cr(s, SVT_TRACE_CR4, s->cr4 & ~SVT_CR4_PGE);
		syn_cr(s, SVT_TRACE_CR4, s->cr4 | SVT_CR4_PGE);
		/* set_memory_ro on a few pages, used, then back */
		uint64_t j0 = syn_below(s, big - 4);
		for (uint64_t j = j0; j < j0 + 4 && !s->failed; j++) {
			syn_write_entry(s, pt + j * s->esize,
					((base + j * 4096) | flags) & ~SVT_PTE_RW);
			syn_invlpg(s, va + j * 4096);
		}
		for (uint64_t j = j0; j < j0 + 4 && !s->failed; j++) {
			uint32_t ec;
			uint64_t cr2;
			syn_access(s, va + j * 4096, SVT_ACC_READ, 0, 4, 0,
				   s->dmap + 0x103000, &ec, &cr2);
			syn_write_entry(s, pt + j * s->esize, (base + j * 4096) | flags);
			syn_invlpg(s, va + j * 4096);
		}
	} else if (pde & SVT_PTE_P) {
		/* merge back into one large page */
		uint64_t pt = pde & (s->esize == 4 ? 0xfffff000ull : 0x000ffffffffff000ull);
		uint64_t ne = base | flags | SVT_PTE_PS;
		syn_write_entry(s, pde_gpa, ne);
		if (s->levels == 2)
			for (int p = 0; p < SYN_MAX_PROCS; p++)
				if (s->proc[p].used)
					syn_write_entry(s,
							s->proc[p].root + (pde_gpa - s->kroot), ne);
		syn_cr(s, SVT_TRACE_CR4, s->cr4 & ~SVT_CR4_PGE);
		syn_cr(s, SVT_TRACE_CR4, s->cr4 | SVT_CR4_PGE);
		syn_free(s, pt);
	}
}

/* Deep, sparse address spaces built and torn down. */
static void w_teardown(struct syn *s)
{
	int p = syn_new_proc(s);
	if (p < 0) {
		syn_exit_proc(s, syn_random_proc(s));
		return;
	}
	struct syn_proc *pr = &s->proc[p];
	uint64_t span = s->utop - s->ubase;
	for (unsigned v = 0; v < 10 && !s->failed; v++) {
		pr->brk = s->ubase + (syn_below(s, span >> 21) << 21);
		uint64_t va;
		if (syn_add_vma(s, p, 1 + syn_below(s, 8), true, false, &va))
			syn_touch_vma(s, p, pr->nvma - 1, 4);
	}
	syn_exit_proc(s, p);
}

static void w_mix(struct syn *s)
{
	static void (*const f[])(struct syn *) = { w_fork, w_mmap, w_spaces, w_directmap,
						   w_teardown };
	f[syn_below(s, sizeof(f) / sizeof(f[0]))](s);
}

const struct syn_workload syn_workloads[] = {
	{ "fork",
	  "fork/exec/exit churn: copy-on-write faults, address spaces made and torn down",
	  false, w_fork, false, false },
	{ "mmap",
	  "mmap/touch/munmap churn in a few processes: demand faults, page tables freed",
	  false, w_mmap, false, false },
	{ "spaces",
	  "24 address spaces with context switches (CR3 loads, shadow root cache)",
	  false, w_spaces, false, false },
	{ "spaces-pcid",
	  "the same with PCIDs and no-flush CR3 loads (4level and 5level only)",
	  true, w_spaces, false, false },
	{ "directmap",
	  "a kernel splitting, write-protecting and merging large pages of its direct map",
	  false, w_directmap, false, false },
	{ "teardown",
	  "deep sparse address spaces built, used and torn down (early unshadow)",
	  false, w_teardown, false, false },
	{ "mix", "all of the above, interleaved", false, w_mix, false, false },
	{ "atomic",
	  "entries changed with CMPXCHG, 8B, 16B (compare failures) and cleared with XCHG, leaves "
	  "repointed, touches right after INVLPG, one table under two parents, PCID flushes", false,
	  syn_w_atomic, true, false },
	{ "protect",
	  "a CR0.WP=0 window, SMEP/SMAP with STAC/CLAC, EFER.NXE in 2level, PDPT edits and a CR4 "
	  "toggle, a page directory moved under its CR3, page-crossing copies into page tables",
	  false, syn_w_protect, false, false },
	{ "pkeys",
	  "protection keys (4level and 5level only, with PCIDs): keys set and changed under "
	  "INVLPG, user and kernel reads and writes under WRPKRU values, a CR0.WP=0 window", true,
	  syn_w_pkeys, false, false },
	{ "implicit",
	  "descriptor tables and an IDT in user pages under SMAP: implicit reads (event delivery, "
	  "segment loads) and explicit ones, RFLAGS.AC 0 and 1, CPL 0 and 3; logs no actions",
	  false, syn_w_implicit, false, true },
};
const unsigned syn_nworkloads = sizeof(syn_workloads) / sizeof(syn_workloads[0]);

const struct syn_workload *syn_find_workload(const char *name)
{
	for (unsigned i = 0; i < syn_nworkloads; i++)
		if (strcmp(syn_workloads[i].name, name) == 0)
			return &syn_workloads[i];
	return NULL;
}

int syn_run(const struct syn_config *cfg, struct svt_trace_writer *w, char *err, size_t errlen)
{
	struct syn *s = calloc(1, sizeof(*s));
	int rc = -1;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->cfg = cfg;
	s->err = err;
	s->errlen = errlen;
	s->rng = cfg->seed;
	s->levels = (int)cfg->mode;
	s->esize = cfg->mode == SVT_MODE_2LEVEL ? 4 : 8;
	s->ia32e = cfg->mode >= SVT_MODE_4LEVEL;
	s->pcid = cfg->work && (cfg->work->need_ia32e || (cfg->work->pcid_ia32e && s->ia32e));
	s->rflags = 0x2;
	s->act_rflags = s->rflags;
	s->next_pcid = 1;
	switch (cfg->mode) {
	case SVT_MODE_2LEVEL:
	case SVT_MODE_PAE:
		s->dmap = 0xc0000000ull;
		s->ubase = 0x08000000ull;
		s->utop = 0xbf000000ull;
		break;
	case SVT_MODE_4LEVEL:
		s->dmap = 0xffff888000000000ull;
		s->ubase = 0x400000ull;
		s->utop = 0x7ff000000000ull;
		break;
	default:
		s->dmap = 0xff11000000000000ull;
		s->ubase = 0x400000ull;
		s->utop = 0x00fff00000000000ull;
		break;
	}
	struct svt_mmu_config mc = {
		.pool_frames = cfg->pool, .guest_frames = cfg->guest_frames, .maxphyaddr = 46,
		.features = SYN_FEATURES, .policy = cfg->policy,
	};
	s->fstate = calloc(cfg->guest_frames, 1);
	s->ptever = calloc(cfg->guest_frames, 1);
	s->fref = calloc(cfg->guest_frames, sizeof(*s->fref));
	s->freel = calloc(cfg->guest_frames, sizeof(*s->freel));
	if (!s->fstate || !s->ptever || !s->fref || !s->freel ||
	    svt_machine_init(&s->mach, cfg->guest_frames, cfg->pool) != 0 ||
	    svt_rec_trace_init(&s->rec, &s->mach, w) != 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (cfg->no_actions || (cfg->work && cfg->work->no_actions))
		s->rec.r.c.evidence &= ~SVT_EVIDENCE_ACTIONS;
	svt_machine_hw_env(&s->mach, &s->hwenv);
	size_t len = svt_mmu_storage_size(&mc);
	s->store = aligned_alloc(64, (len + 63) & ~(size_t)63);
	if (!s->store ||
	    !(s->mmu = svt_mmu_init(s->store, len, &mc, svt_recorder_env(&s->rec.r),
				    s->mach.pool_mfns))) {
		snprintf(err, errlen, "cannot start the core (pool %u frames)", cfg->pool);
		goto out;
	}
	syn_vm_entry(s);
	if (cfg->script) {
		syn_pump(s);
	} else if (syn_boot(s)) {
		while (!syn_done(s)) {
			cfg->work->step(s);
			s->rounds++;
		}
	}
	if (cfg->counters && s->mmu)
		*cfg->counters = *svt_mmu_counters(s->mmu);
	if (cfg->diverged)
		*cfg->diverged = s->diverged;
	if (s->rec.failed && !s->failed) {
		const struct svt_trace_error *e = svt_trace_writer_error(w);
		snprintf(err, errlen, "%s", e->status ? e->msg : "out of memory while recording");
	} else if (s->mach.oom && !s->failed) {
		snprintf(err, errlen, "out of host memory");
	} else if (!s->failed) {
		rc = 0;
	}
out:
	svt_rec_trace_free(&s->rec);
	svt_machine_free(&s->mach);
	free(s->store);
	free(s->fstate);
	free(s->ptever);
	free(s->fref);
	free(s->freel);
	free(s);
	return rc;
}
