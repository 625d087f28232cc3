/*
 * mmu-machine.c — the simulated machine of the model-based harness: guest
 * RAM behind a fixed random permutation of machine frames, the shadow
 * pool, the environment table the core runs on, the "hardware" (a walk of
 * the shadow tables with the reference model, a TLB that caches its
 * translations across calls into the core, A/D updates in shadow entries)
 * and the bare-metal twin (a second copy of guest RAM translated by the
 * reference model directly).  Also the comparisons, the audits and the
 * failure report.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mmu-harness.h"
#include "refmodel.h"
#include "rng.h"

/* ---- randomness ----------------------------------------------------- */

uint64_t mh_rand(struct mh_rng *r)
{
	return svt_splitmix64(&r->s);
}

uint64_t mh_below(struct mh_rng *r, uint64_t n)
{
	return n ? mh_rand(r) % n : 0;
}

bool mh_pct(struct mh_rng *r, unsigned pct)
{
	return mh_below(r, 100) < pct;
}

/* ---- guest-physical memory ------------------------------------------ */

bool mh_ram(const struct mh_machine *m, uint64_t gfn)
{
	return gfn < m->gframes && m->g2m[gfn] != SVT_INVALID_MFN_RAW;
}

void mh_touch(struct mh_machine *m, uint64_t gfn)
{
	if (!mh_ram(m, gfn))
		return;
	for (unsigned i = 0; i < m->ntouched; i++)
		if (m->touched[i] == gfn)
			return;
	if (m->ntouched == MH_TOUCH_MAX)
		m->touch_all = true;
	else
		m->touched[m->ntouched++] = gfn;
}

uint64_t mh_twin_read(const struct mh_machine *m, uint64_t gpa, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = size; i-- > 0;) {
		uint64_t a = gpa + i;
		v = (v << 8) | (mh_ram(m, a >> 12) ? m->twin[a] : 0);
	}
	return v;
}

/* ---- the environment the core runs on ------------------------------- */

static uint64_t e_g2m(void *ctx, uint64_t gfn)
{
	struct mh_machine *m = ctx;
	return gfn < m->gframes ? m->g2m[gfn] : SVT_INVALID_MFN_RAW;
}

static svt_mfn_t e_gfn_to_mfn(void *ctx, svt_gfn_t gfn)
{
	return svt_mfn(e_g2m(ctx, svt_gfn_x(gfn)));
}

static int e_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct mh_machine *m = ctx;
	for (size_t i = 0; i < len; i++) {
		uint64_t mfn = e_g2m(m, (gpa + i) >> 12);
		((uint8_t *)buf)[i] = mfn == SVT_INVALID_MFN_RAW ? 0 :
			m->mem[mfn * MH_PAGE + ((gpa + i) & 0xfff)];
	}
	return 0;
}

static int e_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct mh_machine *m = ctx;
	for (size_t i = 0; i < len; i++) {
		uint64_t mfn = e_g2m(m, (gpa + i) >> 12);
		if (mfn == SVT_INVALID_MFN_RAW) {
			m->env_errors++;
			mh_fail(m, "the core wrote %zu bytes at gpa %#llx: not RAM", len,
				(unsigned long long)gpa);
			return -1;
		}
		m->mem[mfn * MH_PAGE + ((gpa + i) & 0xfff)] = ((const uint8_t *)buf)[i];
		mh_touch(m, (gpa + i) >> 12);
	}
	return 0;
}

static void *e_map(void *ctx, svt_mfn_t f)
{
	struct mh_machine *m = ctx;
	uint64_t mfn = svt_mfn_x(f);
	if (mfn < m->pool_base || mfn >= m->pool_base + m->pool) {
		m->env_errors++;
		mh_fail(m, "the core mapped mfn %#llx: not a pool frame", (unsigned long long)mfn);
		return NULL;
	}
	return m->mem + mfn * MH_PAGE;
}

static unsigned tlb_slot(uint64_t vpn)
{
	return (unsigned)((vpn ^ (vpn >> 7) ^ (vpn >> 17)) % MH_TLB_SLOTS);
}

static void tlb_flush_all(struct mh_machine *m)
{
	memset(m->tlb, 0, sizeof(m->tlb));
}

static void e_flush(void *ctx, int kind, uint64_t va)
{
	struct mh_machine *m = ctx;
	m->tlb_flushes++;
	if (kind == SVT_FLUSH_ALL) {
		tlb_flush_all(m);
		return;
	}
	if (m->hw.mode == SVT_MODE_2LEVEL || m->hw.mode == SVT_MODE_PAE)
		va &= 0xffffffffull;
	struct mh_tlbe *e = &m->tlb[tlb_slot(va >> 12)];
	if (e->valid && e->vpn == va >> 12)
		e->valid = false;
}

static void e_event(void *ctx, const struct svt_event *ev)
{
	struct mh_machine *m = ctx;
	m->ev[m->evn++ % MH_EV_RING] = *ev;
}

/* ---- setup ------------------------------------------------------------ */

struct mh_machine *mh_machine_new(const struct mh_config *cfg)
{
	struct mh_machine *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->mode = cfg->mode;
	m->policy = cfg->policy;
	m->pool = cfg->pool ? cfg->pool : MH_DEFAULT_POOL;
	m->seed = cfg->seed;
	m->expose = cfg->expose;
	m->trace = getenv("SVT_MH_TRACE") != NULL;
	m->out = cfg->out ? cfg->out : stderr;
	m->rng.s = cfg->seed * 0x2545f4914f6cdd1dull + 0x1234567;

	m->gframes = 256 + mh_below(&m->rng, 769);
	m->hole_n = 2 + mh_below(&m->rng, 5);
	m->hole_lo = m->gframes / 4 + mh_below(&m->rng, m->gframes / 2);
	m->maxphyaddr = 36 + (unsigned)mh_below(&m->rng, 11);
	m->gbpages = mh_pct(&m->rng, 90);

	/* RAM frames: a derangement of [16, 16 + gframes); the pool after a gap */
	uint64_t nram = m->gframes;
	m->pool_base = 16 + nram + 8;
	m->mframes = m->pool_base + m->pool;
	m->mem = malloc(m->mframes * MH_PAGE);
	m->twin = calloc(m->gframes, MH_PAGE);
	m->g2m = malloc(m->gframes * sizeof(uint64_t));
	m->m2g = malloc(m->mframes * sizeof(uint64_t));
	if (!m->mem || !m->twin || !m->g2m || !m->m2g) {
		mh_machine_free(m);
		return NULL;
	}
	for (uint64_t g = 0; g < nram; g++)
		m->g2m[g] = 16 + g;
	for (uint64_t g = nram; g-- > 1;) {
		uint64_t j = mh_below(&m->rng, g + 1), t = m->g2m[g];
		m->g2m[g] = m->g2m[j];
		m->g2m[j] = t;
	}
	for (uint64_t g = 0; g < nram; g++)
		if (m->g2m[g] == g) {
			uint64_t o = (g + 1) % nram, t = m->g2m[g];
			m->g2m[g] = m->g2m[o];
			m->g2m[o] = t;
		}
	for (uint64_t f = 0; f < m->mframes; f++)
		m->m2g[f] = ~0ull;
	for (uint64_t g = 0; g < nram; g++) {
		if (g >= m->hole_lo && g < m->hole_lo + m->hole_n) {
			m->g2m[g] = SVT_INVALID_MFN_RAW;
			continue;
		}
		m->m2g[m->g2m[g]] = g;
	}
	/* Everything starts as garbage; guest RAM is the same on both sides. */
	bool zero_pool = mh_pct(&m->rng, 50);
	for (uint64_t i = 0; i < m->mframes * MH_PAGE / 8; i++) {
		uint64_t v = mh_rand(&m->rng);
		memcpy(m->mem + i * 8, &v, 8);
	}
	if (zero_pool)
		memset(m->mem + m->pool_base * MH_PAGE, 0, m->pool * MH_PAGE);
	for (uint64_t g = 0; g < nram; g++)
		if (mh_ram(m, g))
			memcpy(m->twin + g * MH_PAGE, m->mem + m->g2m[g] * MH_PAGE, MH_PAGE);

	m->env = (struct svt_env){ .ctx = m, .read_gpa = e_read, .write_gpa = e_write,
				   .gfn_to_mfn = e_gfn_to_mfn, .map_mfn = e_map,
				   .flush_tlb = e_flush, .event = e_event };
	struct svt_mmu_config mc = {
		.pool_frames = m->pool, .guest_frames = m->gframes,
		.root_cache = mh_pct(&m->rng, 25) ? 1 + (unsigned)mh_below(&m->rng, 4) : 0,
		.maxphyaddr = (uint8_t)m->maxphyaddr,
		.features = m->gbpages ? SVT_FEAT_1GPAGE : 0, .policy = m->policy,
	};
	svt_mfn_t *mfns = malloc(m->pool * sizeof(svt_mfn_t));
	size_t sz = svt_mmu_storage_size(&mc);
	m->store = sz ? aligned_alloc(8, (sz + 7) & ~(size_t)7) : NULL;
	if (!mfns || !m->store) {
		free(mfns);
		mh_machine_free(m);
		return NULL;
	}
	for (unsigned i = 0; i < m->pool; i++)
		mfns[i] = svt_mfn(m->pool_base + i);
	m->mmu = svt_mmu_init(m->store, sz, &mc, &m->env, mfns);
	free(mfns);
	if (!m->mmu) {
		mh_machine_free(m);
		return NULL;
	}
	m->arch.cr0 = 0x60000010;
	for (unsigned i = 0; i < 16; i++)
		m->regs.gpr[i] = mh_rand(&m->rng) & 0xffffffffull;
	m->regs.rflags = 2;
	m->regs.rip = 0x100000;
	m->hw.cr3 = ~0ull;
	mh_vm_entry(m);
	return m;
}

void mh_machine_free(struct mh_machine *m)
{
	if (!m)
		return;
	free(m->store);
	free(m->mem);
	free(m->twin);
	free(m->g2m);
	free(m->m2g);
	free(m);
}

/* ---- the hardware ----------------------------------------------------- */

static bool mem_load(void *ctx, uint64_t pa, unsigned bytes, uint64_t *val)
{
	struct mh_machine *m = ctx;
	uint64_t v = 0;
	if (pa + bytes > m->mframes * MH_PAGE)
		return false;
	for (unsigned i = bytes; i-- > 0;)
		v = (v << 8) | m->mem[pa + i];
	*val = v;
	return true;
}

static bool synth_load(void *ctx, uint64_t pa, unsigned bytes, uint64_t *val)
{
	(void)pa, (void)bytes;
	*val = *(const uint64_t *)ctx;
	return true;
}

static struct rm_cpu hw_cpu(const struct mh_machine *m)
{
	struct rm_cpu c = {
		.cr0 = m->hw.cr0, .cr3 = m->hw.cr3, .cr4 = m->hw.cr4, .efer = m->hw.efer,
		.rflags = m->regs.rflags, .pkru = m->pkru, .maxphyaddr = 52, .gbpages = true,
	};
	memcpy(c.pdptr, m->hw_pdpte, sizeof(c.pdptr));
	return c;
}

static enum rm_op rm_op_of(enum svt_access_kind k)
{
	return k == SVT_ACC_WRITE ? RM_OP_WRITE : k == SVT_ACC_FETCH ? RM_OP_EXEC : RM_OP_READ;
}

void mh_vm_exit(struct mh_machine *m)
{
	if (!m->step_open)
		return;
	m->step_open = false;
	svt_mmu_step_done(m->mmu);
	mh_log(m, "    step done: the grant for it ends");
	mh_vm_entry(m);
}

void mh_vm_entry(struct mh_machine *m)
{
	struct svt_hw_state hs;
	svt_mmu_hw_state(m->mmu, &hs);
	if (hs.cr3 != m->hw.cr3 || hs.mode != m->hw.mode)
		tlb_flush_all(m);
	m->hw = hs;
	if (!(hs.cr0 & SVT_CR0_PG) || !(hs.cr0 & SVT_CR0_WP) ||
	    (hs.cr4 & (SVT_CR4_PGE | SVT_CR4_PCIDE | SVT_CR4_PSE))) {
		mh_fail(m, "hardware state breaks its contract: CR0 %#llx CR4 %#llx",
			(unsigned long long)hs.cr0, (unsigned long long)hs.cr4);
		return;
	}
	struct rm_cpu c = hw_cpu(m);
	static const enum rm_paging want[6] = { RM_PAGING_BAD, RM_PAGING_BAD, RM_PAGING_32,
						RM_PAGING_PAE, RM_PAGING_4L, RM_PAGING_5L };
	enum rm_paging p = rm_paging_of(&c);
	if ((unsigned)hs.mode > 5 || p != want[hs.mode]) {
		mh_fail(m, "hardware registers select %s paging, hw_state says mode %d",
			rm_paging_name(p), (int)hs.mode);
		return;
	}
	uint64_t root = (p == RM_PAGING_PAE ? hs.cr3 & 0xffffffe0ull : hs.cr3 & ~0xfffull) >> 12;
	if (p != RM_PAGING_4L && p != RM_PAGING_5L && (hs.cr3 >> 32))
		mh_fail(m, "32-bit hardware CR3 %#llx above 4 GiB", (unsigned long long)hs.cr3);
	else if (root < m->pool_base || root >= m->pool_base + m->pool)
		mh_fail(m, "hardware CR3 %#llx is not a pool frame", (unsigned long long)hs.cr3);
	else if (p == RM_PAGING_PAE && rm_pae_load(&c, mem_load, m, m->hw_pdpte) != 0)
		mh_fail(m, "the shadow PDPTEs at %#llx do not load", (unsigned long long)hs.cr3);
}

static bool in_pool(const struct mh_machine *m, uint64_t pa)
{
	return (pa >> 12) >= m->pool_base && (pa >> 12) < m->pool_base + m->pool;
}

int mh_hw_translate(struct mh_machine *m, uint64_t va, enum svt_access_kind k,
		    unsigned cpl, bool implicit, uint64_t *mpa, uint32_t *ec)
{
	struct rm_cpu c = hw_cpu(m);
	struct rm_req rq = { .la = va, .op = rm_op_of(k), .cpl = cpl, .implicit_sv = implicit };
	struct rm_out o;
	enum rm_paging p = rm_paging_of(&c);
	uint64_t la = (p == RM_PAGING_32 || p == RM_PAGING_PAE) ? va & 0xffffffffull : va;
	struct mh_tlbe *t = &m->tlb[tlb_slot(la >> 12)];

	if (t->valid && t->vpn == la >> 12) {
		/* Re-check the cached rights with the current CR0/CR4/EFER,
		 * RFLAGS.AC and PKRU: a walk of entries that carry exactly them. */
		bool ia32e = p == RM_PAGING_4L || p == RM_PAGING_5L;
		uint64_t v = (t->mfn << 12) | RM_E_P | RM_E_A | RM_E_D |
			(t->w ? RM_E_RW : 0) | (t->u ? RM_E_US : 0) |
			(!t->x && p != RM_PAGING_32 && (c.efer & RM_EFER_NXE) ? RM_E_XD : 0) |
			(ia32e ? (uint64_t)t->pkey << 59 : 0);
		for (int i = 0; i < 4; i++)
			c.pdptr[i] = (t->mfn << 12) | RM_E_P;
		rm_translate(&c, &rq, synth_load, &v, &o);
		if (o.kind == RM_GP)
			return 2;
		if (o.kind == RM_PF) {
			/* a #PF drops the faulting address (SDM 4.10.4.1) */
			t->valid = false;
			*ec = o.pfec;
			return 1;
		}
		if (o.kind != RM_OK)
			return mh_fail(m, "TLB rights check failed"), -1;
		if (k != SVT_ACC_WRITE || t->dirty) {
			*mpa = (t->mfn << 12) | (la & 0xfff);
			return 0;
		}
		t->valid = false;               /* a write through a clean entry re-walks */
		c = hw_cpu(m);
	}
	rm_translate(&c, &rq, mem_load, m, &o);
	if (o.kind == RM_MEMERR)
		return mh_fail(m, "the shadow walk of %#llx left machine memory",
			       (unsigned long long)va), -1;
	if (o.kind == RM_GP)
		return 2;
	if (o.kind == RM_PF) {
		*ec = o.pfec;
		return 1;
	}
	if (o.kind != RM_OK)
		return mh_fail(m, "hardware walk: no translation"), -1;
	for (unsigned i = 0; i < o.n; i++)
		if (!o.e[i].from_reg && !in_pool(m, o.e[i].pa))
			return mh_fail(m,
				       "shadow walk of %#llx reads level-%d table at %#llx "
				       "outside the pool", (unsigned long long)va, o.e[i].level,
				       (unsigned long long)o.e[i].table), -1;
	if (o.page_bytes != MH_PAGE)
		return mh_fail(m, "shadow maps %#llx with a %llu-byte page", (unsigned long long)va,
			       (unsigned long long)o.page_bytes), -1;
	if ((o.pa >> 12) >= m->mframes || m->m2g[o.pa >> 12] == ~0ull)
		return mh_fail(m,
			       "INV-FRAME (isolation): shadow maps %#llx to machine address %#llx, "
			       "not guest RAM", (unsigned long long)va,
			       (unsigned long long)o.pa), -1;
	for (unsigned i = 0; i < o.n; i++) {
		struct rm_ent *e = &o.e[i];
		if (e->from_reg || e->after == e->before)
			continue;
		for (unsigned b = 0; b < e->bytes; b++)
			m->mem[e->pa + b] = (uint8_t)(e->after >> (8 * b));
	}
	t->valid = true;
	t->vpn = la >> 12;
	t->mfn = o.pa >> 12;
	t->w = o.w, t->u = o.u, t->x = o.x;
	t->pkey = (uint8_t)o.pkey;
	t->dirty = (o.e[o.n - 1].after & RM_E_D) != 0;
	*mpa = o.pa;
	return 0;
}

/* ---- the bare-metal twin ---------------------------------------------- */

static bool twin_load(void *ctx, uint64_t pa, unsigned bytes, uint64_t *val)
{
	*val = mh_twin_read(ctx, pa, bytes);
	return true;
}

static struct rm_cpu or_cpu(const struct mh_machine *m)
{
	struct rm_cpu c = {
		.cr0 = m->arch.cr0, .cr3 = m->arch.cr3, .cr4 = m->arch.cr4, .efer = m->arch.efer,
		.rflags = m->regs.rflags, .pkru = m->pkru, .maxphyaddr = m->maxphyaddr,
		.gbpages = m->gbpages,
	};
	memcpy(c.pdptr, m->arch.pdpte, sizeof(c.pdptr));
	return c;
}

int mh_or_translate(struct mh_machine *m, uint64_t va, enum svt_access_kind k,
		    unsigned cpl, bool implicit, bool set_ad, uint64_t *gpa,
		    uint32_t *ec, uint64_t *cr2)
{
	struct rm_cpu c = or_cpu(m);
	struct rm_req rq = { .la = va, .op = rm_op_of(k), .cpl = cpl, .implicit_sv = implicit };
	struct rm_out o;

	rm_translate(&c, &rq, twin_load, m, &o);
	if (o.kind == RM_GP || o.kind == RM_MEMERR)
		return 2;
	if (o.kind == RM_PF) {
		*ec = o.pfec;
		*cr2 = o.cr2;
		return 1;
	}
	if (set_ad)
		for (unsigned i = 0; i < o.n; i++) {
			struct rm_ent *e = &o.e[i];
			if (e->from_reg || e->after == e->before || !mh_ram(m, e->pa >> 12))
				continue;
			for (unsigned b = 0; b < e->bytes; b++)
				m->twin[e->pa + b] = (uint8_t)(e->after >> (8 * b));
			mh_touch(m, e->pa >> 12);
		}
	*gpa = o.pa;
	return 0;
}

bool mh_or_sets_ad(struct mh_machine *m, uint64_t va, enum svt_access_kind k, unsigned cpl)
{
	struct rm_cpu c = or_cpu(m);
	struct rm_req rq = { .la = va, .op = rm_op_of(k), .cpl = cpl };
	struct rm_out o;
	rm_translate(&c, &rq, twin_load, m, &o);
	if (o.kind == RM_OK && !mh_ram(m, o.pa >> 12))
		return true;
	for (unsigned i = 0; o.kind == RM_OK && i < o.n; i++)
		if (!o.e[i].from_reg && o.e[i].after != o.e[i].before)
			return true;
	return false;
}

bool mh_or_walk_uses(struct mh_machine *m, uint64_t va, uint64_t gfn)
{
	struct rm_cpu c = or_cpu(m);
	struct rm_req rq = { .la = va, .op = RM_OP_READ, .cpl = 0 };
	struct rm_out o;
	rm_translate(&c, &rq, twin_load, m, &o);
	for (unsigned i = 0; i < o.n; i++)
		if (!o.e[i].from_reg && (o.e[i].table >> 12) == gfn)
			return true;
	return false;
}

bool mh_long_mode(const struct mh_machine *m)
{
	return (m->arch.efer & SVT_EFER_LMA) != 0;
}

int mh_code_bits(const struct mh_machine *m)
{
	return mh_long_mode(m) ? 64 : 32;
}

/* The bare-metal walk of va, entry by entry, into the log. */
void mh_log_walk(struct mh_machine *m, uint64_t va)
{
	struct rm_cpu c = or_cpu(m);
	struct rm_req rq = { .la = va, .op = RM_OP_READ, .cpl = 0 };
	struct rm_out o;
	char buf[MH_LOG_LEN];
	int n = 0;
	rm_translate(&c, &rq, twin_load, m, &o);
	for (unsigned i = 0; i < o.n && n < (int)sizeof(buf) - 40; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, " L%d@%#llx=%#llx", o.e[i].level,
			      (unsigned long long)o.e[i].pa, (unsigned long long)o.e[i].before);
	mh_log(m, "  bare-metal walk of %#llx (%s):%s", (unsigned long long)va,
	       o.kind == RM_OK ? "maps" : o.kind == RM_PF ? "#PF" : "#GP", n ? buf : " -");
}
