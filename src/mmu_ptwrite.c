/*
 * mmu_ptwrite.c — guest writes to the guest's own page tables.  A write
 * fault on a write-protected page table (or a supervisor write the
 * shadows cannot express under CR0.WP=0) is, by policy, taken out of sync
 * (mmu_oos.c), emulated, or answered by unshadowing the frame.  Emulation
 * decodes the instruction with svt_emulate(); its memory callbacks walk the
 * guest's tables with the faulting access's privilege, so a write bare
 * metal would fault on injects that fault instead (Xen's
 * emulate_map_dest); the write is one compare-and-exchange of guest
 * memory, and the shadow entries it covers are re-validated.  Also here:
 * svt_mmu_guest_wrote() (writes the core did not see) and the
 * early-unshadow heuristic.
 */
#include "mmu_int.h"

/* ---- emulation of guest writes ------------------------------------------ */

/* Is gfn the guest table the current root shadows (through a 2-on-3
 * PDPT's parts)? */
static bool is_root_gfn(struct svt_mmu *m, uint64_t gfn)
{
	const struct sh_page *r = m->v.root != SP_NONE ? SP(m, m->v.root) : NULL;
	return r && (sh_is_table(r->type) || r->type == SH_PDPT) && r->gfn == gfn;
}

struct emu_ctx {
	struct svt_mmu *m;
	struct svt_regs regs;           /* the guest's, with the fault's RFLAGS/PKRU */
	uint8_t cpl;
	bool implicit;
	uint32_t ec;                    /* the #PF a callback raised */
	uint64_t cr2;
	bool mmio;                      /* a callback met device memory */
	uint64_t early_gfn;             /* unshadow after the write */
	bool may_stop;                  /* the write's table may be unshadowed (not a must) */
	bool read_src;                  /* the instruction read a source (MOVS) */
	/* The fault's own walk of fw_va (a write, these registers, this
	 * privilege), for the first translation in its page (emu_xlate()) */
	const struct svt_walk *fw;
	uint64_t fw_va;
	/* The destination as emu_read() just read it, when in one page:
	 * where it is and what it held, for the cmpxchg that follows */
	bool dst_known;
	uint64_t dst_la, dst_gpa;
	unsigned dst_len;
	uint8_t dst[16];
};

#define EMU_NOT_RAM 0x100               /* callback code: not RAM, do not emulate */
#define EMU_NOTHING 0x102               /* emu_xlate(): a frame with nothing behind it */

static int emu_xlate(struct emu_ctx *x, uint64_t la, enum svt_access_kind kind, uint64_t *gpa)
{
	struct svt_mmu *m = x->m;
	struct svt_access acc = { .va = la, .kind = kind, .cpl = x->cpl, .implicit = x->implicit };
	struct svt_walk w;

	if (m->v.mode == SVT_MODE_NONE) {
		*gpa = la & 0xffffffffu;
	} else if (x->fw != NULL && kind == SVT_ACC_WRITE && la >> 12 == x->fw_va >> 12 &&
		   m->v.emu_wrote_epoch != m->d.epoch) {
		/*
		 * The fault's walk was this walk: the same registers, access and
		 * page, and nothing has written guest memory since but A/D
		 * updates (its own, which the fault path applies before it
		 * emulates a write that propagation made a page-table write),
		 * which only set bits: no emulated write of this fault yet
		 * (emu_wrote_epoch).  Its translation is taken, once, with the
		 * A/D updates the walk here would make: those not in memory.
		 * Only for the first translation: the write may change the walk.
		 */
		const struct svt_walk *fw = x->fw;
		x->fw = NULL;
		for (unsigned i = 0; i < fw->nad && !SVT_BUG(53); i++) {
			const struct svt_ad_update *u = &fw->ad[i];
			uint8_t raw[8];
			if (m->d.env.read_gpa(m->d.env.ctx, u->gpa, raw, u->size) == 0 &&
			    svt_le_load(raw, u->size) == u->new)
				continue;
			svt_le_store(raw, u->new, u->size);
			if (m->d.env.write_gpa(m->d.env.ctx, u->gpa, raw, u->size) != 0) {
				m->d.c.env_errors++;
				x->mmio = true;
				return EMU_NOT_RAM;
			}
		}
		*gpa = (fw->gpa & ~0xfffull) | (la & 0xfff);
	} else {
		x->fw = NULL;
		switch (svt_walk(&m->d.env, &x->regs, &acc,
				 (SVT_BUG(53) ? 0 : SVT_WALK_SET_AD) | SVT_WALK_CORE, &w)) {
		case SVT_WALK_OK:
			*gpa = w.gpa;
			break;
		case SVT_WALK_PF:
			x->ec = w.error_code;
			x->cr2 = w.cr2;
			return SVT_EMU_FAULT;
		default:
			m->d.c.env_errors++;
			x->mmio = true;
			return EMU_NOT_RAM;
		}
	}
	if (!svt_mfn_valid(g_mfn(m, svt_gfn(*gpa >> 12))))
		return EMU_NOTHING;
	return 0;
}

/*
 * A page-crossing access whose piece has nothing behind it (neither RAM
 * nor a device: what the core answers MMIO for) is performed as bare metal
 * performs it: that piece reads all ones and drops what is written, the
 * other piece is done in RAM (vmx/mmio.c's rule, for the part the core
 * emulates).  An access wholly in such memory is not the core's to do: it
 * never reaches here as a page-table write, and a MOVS source there is
 * left to the caller (EMU_NOT_RAM).
 */
static void all_ones(uint8_t *b, unsigned n)
{
	while (n--)
		*b++ = 0xff;
}

static int emu_piece(struct emu_ctx *x, uint64_t la, enum svt_access_kind kind, bool crossing,
		     uint64_t *gpa, bool *nothing)
{
	int rc = emu_xlate(x, la, kind, gpa);
	*nothing = rc == EMU_NOTHING && crossing && !SVT_BUG(77);
	if (rc == EMU_NOTHING && !*nothing) {
		x->mmio = true;
		return EMU_NOT_RAM;
	}
	return *nothing ? 0 : rc;
}

static int emu_read(void *ctx, uint64_t la, void *buf, unsigned len, unsigned flags)
{
	struct emu_ctx *x = ctx;
	uint8_t *out = buf;
	unsigned done = 0;
	uint64_t mask = x->m->v.mode >= SVT_MODE_4LEVEL ? ~0ull : 0xffffffffull;

	x->dst_known = false;
	while (done < len) {
		uint64_t a = (la + done) & mask, gpa;
		unsigned chunk = 4096 - (unsigned)(a & 0xfff);
		if (chunk > len - done)
			chunk = len - done;
		bool nothing;
		int rc = emu_piece(x, a, (flags & SVT_EMU_RD_DEST) ? SVT_ACC_WRITE : SVT_ACC_READ,
				   chunk < len, &gpa, &nothing);
		if (rc)
			return rc;
		if (nothing)
			all_ones(out + done, chunk);
		else if (x->m->d.env.read_gpa(x->m->d.env.ctx, gpa, out + done, chunk) != 0) {
			x->m->d.c.env_errors++;
			return EMU_NOT_RAM;
		}
		done += chunk;
		if ((flags & SVT_EMU_RD_DEST) && chunk == len && len <= sizeof(x->dst)) {
			x->dst_known = true;
			x->dst_la = la;
			x->dst_len = len;
			x->dst_gpa = gpa;
			for (unsigned i = 0; i < len; i++)
				x->dst[i] = out[i];
		}
	}
	return 0;
}

/* The guest entry behind shadow entries of one guest entry, read once for
 * all of them (2-on-3: two per guest L2 entry), when first needed: nothing
 * the revalidation of one does writes guest memory. */
struct ge_once {
	bool read, ok;
	g_entry_t ge;
};

static g_entry_t ge_once_get(struct svt_mmu *m, uint32_t spi, unsigned idx, struct ge_once *c,
			     bool *ok)
{
	if (!c->read) {
		c->ge = g_table_entry(m, SP(m, spi), idx, &c->ok);
		c->read = true;
	}
	*ok = c->ok;
	return c->ge;
}

/* Bring entry idx of table shadow spi (type t) in line with its guest
 * entry (read through once); returns whether it changed. */
static bool revalidate_entry(struct svt_mmu *m, uint32_t spi, unsigned t, unsigned idx,
			     struct ge_once *once)
{
	uint64_t before = sh_entry_x(sh_get(m, spi, idx));
	bool ok, large;

	if (!(before & SVT_PTE_P)) {
		/* Absent stays absent until a fault, except that with
		 * prefetch on, a leaf the guest has just made valid
		 * (its own fault handler's write) is propagated now,
		 * saving the fault that would follow. */
		if (t != SH_L1 || !m->d.cfg.policy.prefetch)
			return false;
		g_entry_t ge = ge_once_get(m, spi, idx, once, &ok);
		if (ok && g_entry_valid(m, ge, 1, &large)) {
			l1_install(m, spi, idx, ge);
			m->d.c.prefetched += sh_present(sh_get(m, spi, idx));
		}
		return false;
	}
	g_entry_t ge = ge_once_get(m, spi, idx, once, &ok);
	if (t == SH_L1) {
		l1_install(m, spi, idx, ok ? ge : g_entry(0));
		return sh_entry_x(sh_get(m, spi, idx)) != before;
	}
	uint32_t c = SP_NONE;
	if (ok && g_entry_valid(m, ge, t, &large)) {
		if (!large)
			c = sp_lookup(m, g_frame(m, ge) >> 12, t - 1, sh_child_part(m, t, idx));
	}
	if (c != SP_NONE && c == sp_aux(m, spi)[idx])
		sh_set_child(m, spi, idx, sh_nonleaf(m, ge, t, false, c), c);
	else if (!SVT_BUG(51))
		sh_clear(m, spi, idx);
	return sh_entry_x(sh_get(m, spi, idx)) != before;
}

/* Bring the shadows of a guest page table in line with a write to it:
 * guest entries first..last, each shadowed by sh_span() entries of one
 * part of each shadow of the frame. */
void pt_revalidate(struct svt_mmu *m, uint64_t gfn, unsigned off, unsigned len)
{
	unsigned first = off / m->d.gesize, last = (off + len - 1) / m->d.gesize;
	unsigned gents = SH_PAGE_SIZE / m->d.gesize;
	bool changed = false;

	for (unsigned t = SH_L1; t <= sh_top_table(m); t++) {
		uint32_t spi = SP_NONE;
		unsigned part = ~0u;
		for (unsigned gi = first; gi <= last && gi < gents; gi++) {
			if (sh_part_of(m, t, gi) != part) {
				part = sh_part_of(m, t, gi);
				spi = sp_lookup(m, gfn, t, part);
				if (spi != SP_NONE)
					sp_touch(m, spi);
			}
			if (spi == SP_NONE)
				continue;
			unsigned s0 = sh_slot_of(m, t, gi);
			struct ge_once c = { .read = false };
			for (unsigned idx = s0; idx < s0 + sh_span(m, t); idx++)
				changed |= revalidate_entry(m, spi, t, idx, &c);
		}
	}
	if (changed)    /* a shadow entry the hardware may have cached changed */
		m->d.env.flush_tlb(m->d.env.ctx, SVT_FLUSH_ALL, 0);
}

void svt_mmu_guest_wrote(struct svt_mmu *m, uint64_t gpa, uint64_t len)
{
	while (len > 0) {
		uint64_t gfn = gpa >> 12;
		unsigned off = (unsigned)(gpa & 0xfff);
		unsigned n = 4096 - off;
		if (n > len)
			n = (unsigned)len;
		audit_gfn_dirty(m, gfn);
		if (gfn_protected(m, gfn))
			pt_revalidate(m, gfn, off, n);
		gpa += n;
		len -= n;
	}
}

/* Early unshadow: a page table the guest keeps clearing is being freed. */
static void note_pt_write(struct emu_ctx *x, uint64_t gfn, const uint8_t *val, unsigned len)
{
	struct svt_mmu *m = x->m;
	bool zero = true;

	for (unsigned i = 0; i < len; i++)
		zero = zero && val[i] == 0;
	if (zero && gfn == m->v.last_wr_gfn)
		m->v.last_wr_zeroes++;
	else
		m->v.last_wr_zeroes = zero;
	m->v.last_wr_gfn = gfn;
	if (m->d.cfg.policy.early_unshadow && m->v.last_wr_zeroes >= (SVT_BUG(49) ? 1u : 2u) &&
	    !is_root_gfn(m, gfn))
		x->early_gfn = gfn;
}

/*
 * The write itself: compare and store, as one step for the guest.  A
 * misaligned destination may cross into a second page; each piece is
 * translated (and permission-checked) on its own, and nothing is written
 * unless every piece still holds what was read.
 *
 * Invariant: the widest write is CMPXCHG16B's 16 bytes, so a write has
 * two pieces at most.
 */
#define EMU_MAX_WRITE 16
_Static_assert(EMU_MAX_WRITE == sizeof(((struct svt_emu_result *)0)->new),
	       "the widest write, CMPXCHG16B's");
_Static_assert(EMU_MAX_WRITE <= 4096, "a write crosses one page boundary at most");
_Static_assert(sizeof(((struct emu_ctx *)0)->dst) == EMU_MAX_WRITE, "emu_ctx.dst holds a write");

static int emu_cmpxchg(void *ctx, uint64_t la, const void *expect, const void *val, unsigned len)
{
	struct emu_ctx *x = ctx;
	struct svt_mmu *m = x->m;
	uint64_t mask = m->v.mode >= SVT_MODE_4LEVEL ? ~0ull : 0xffffffffull;
	uint64_t gpa[2];
	unsigned plen[2], n = 0, off = 0;
	bool nothing[2];
	uint8_t cur[EMU_MAX_WRITE];

	if (len > EMU_MAX_WRITE)
		return EMU_NOT_RAM;
	/*
	 * The emulator reads every destination (SVT_EMU_RD_DEST, translated
	 * as a write) right before this: within one page, that read's walk
	 * and bytes are what a second walk and read would give (its A/D
	 * writes are made, nothing else wrote since), so they are taken as
	 * they are.  A write across two pages is translated again: the second
	 * piece's walk may have set A/D bits in the first piece's bytes.
	 */
	bool known = x->dst_known && x->dst_la == la && x->dst_len == len;
	x->dst_known = false;
	if (known) {
		gpa[0] = x->dst_gpa;
		nothing[0] = false;
		plen[0] = len;
		n = 1;
		off = len;
		for (unsigned i = 0; i < len; i++)
			cur[i] = x->dst[i];
	}
	while (off < len) {
		uint64_t a = (la + off) & mask;
		unsigned chunk = 4096 - (unsigned)(a & 0xfff);
		if (chunk > len - off)
			chunk = len - off;
		int rc = emu_piece(x, a, SVT_BUG(52) ? SVT_ACC_READ : SVT_ACC_WRITE, chunk < len,
				   &gpa[n], &nothing[n]);
		if (rc && SVT_BUG(16) && rc == SVT_EMU_FAULT)
			x->cr2 = la;
		if (rc)
			return rc;
		if (nothing[n])
			all_ones(cur + off, chunk);
		else if (m->d.env.read_gpa(m->d.env.ctx, gpa[n], cur + off, chunk) != 0)
			return EMU_NOT_RAM;
		plen[n++] = chunk;
		off += chunk;
	}
	for (unsigned i = 0; i < len; i++)
		if (cur[i] != ((const uint8_t *)expect)[i])
			return SVT_EMU_RETRY;
	off = 0;
	m->v.emu_wrote_epoch = m->d.epoch;
	for (unsigned k = 0; k < n; k++) {
		if (nothing[k]) {       /* dropped, as bare metal drops it */
			off += plen[k];
			continue;
		}
		if (m->d.env.write_gpa(m->d.env.ctx, gpa[k], (const uint8_t *)val + off,
				       plen[k]) != 0) {
			m->d.c.env_errors++;
			return EMU_NOT_RAM;
		}
		uint64_t gfn = gpa[k] >> 12;
		audit_gfn_dirty(m, gfn);
		if (gfn_is_ram(m, gfn) && m->d.gi[gfn].pt > 0) {
			if (!SVT_BUG(50))
				pt_revalidate(m, gfn, (unsigned)(gpa[k] & 0xfff), plen[k]);
			note_pt_write(x, gfn, (const uint8_t *)val + off, plen[k]);
		}
		off += plen[k];
	}
	return 0;
}

/*
 * A write that made the early-unshadow heuristic fire ends a REP STOS run
 * there (SVT_EMU_STOP_AFTER): the table is about to be unshadowed, so the
 * guest runs the rest of the instruction itself, at full speed, instead of
 * the core emulating the rest of the page element by element (a guest
 * zeroing a freed table with `rep stosd` costs two emulated elements, not
 * 1024).  Not where unshadowing cannot let the guest go on (a write the
 * core must emulate: the table is on the write's own walk, or the current
 * top level), and not for MOVS, whose source's walk may use the table
 * (src_walk_uses()): the rest would shadow it again and fault, two
 * elements at a time.
 */
static int emu_read_src(void *ctx, uint64_t la, void *buf, unsigned len, unsigned flags)
{
	struct emu_ctx *x = ctx;

	if (!(flags & SVT_EMU_RD_DEST))
		x->read_src = true;
	return emu_read(ctx, la, buf, len, flags);
}

static int emu_cmpxchg_early(void *ctx, uint64_t la, const void *expect, const void *val,
			     unsigned len)
{
	struct emu_ctx *x = ctx;
	int rc = emu_cmpxchg(ctx, la, expect, val, len);

	if (rc == 0 && x->early_gfn != ~0ull && x->may_stop && !x->read_src)
		return SVT_EMU_STOP_AFTER;
	return rc;
}

/* ---- the decision ------------------------------------------------------- */

/* Is gfn one of the tables this walk went through? */
static bool on_walk(const struct svt_mmu *m, const struct svt_walk *w, uint64_t gfn)
{
	for (unsigned i = 0; i < w->nlevels; i++) {
		if (m->v.mode == SVT_MODE_PAE && w->lv[i].level == 3)
			continue;
		if (w->lv[i].table >> 12 == gfn)
			return true;
	}
	return false;
}

/*
 * Does the instruction read (a MOVS source) through a walk that uses page
 * table gfn?  Unshadowing gfn for its write would then loop for ever: the
 * read's fault shadows the table again, the write's fault unshadows it.
 * A dry run of the emulator: the first plain read stops it, after a walk
 * that sets no A/D bit; nothing is written, the registers are a copy.
 */
struct src_probe {
	struct svt_mmu *m;
	const struct svt_regs *regs;
	const struct svt_access *acc;
	uint64_t gfn;
	bool uses;
};

#define PROBE_STOP 0x101                /* callback code: the probe is over */

static int probe_read(void *ctx, uint64_t la, void *buf, unsigned len, unsigned flags)
{
	struct src_probe *p = ctx;
	struct svt_mmu *m = p->m;
	uint64_t mask = m->v.mode >= SVT_MODE_4LEVEL ? ~0ull : 0xffffffffull;

	(void)buf;
	if (flags & SVT_EMU_RD_DEST)
		return PROBE_STOP;      /* no source before the destination */
	for (unsigned k = 0; k < 2 && !p->uses; k++) {
		struct svt_access a = { .va = (la + (k ? len - 1 : 0)) & mask, .kind = SVT_ACC_READ,
					.cpl = p->acc->cpl, .implicit = p->acc->implicit };
		struct svt_walk w;
		struct svt_regs r = *p->regs;
		if (svt_walk(&m->d.env, &r, &a, SVT_WALK_CORE, &w) == SVT_WALK_OK)
			p->uses = on_walk(m, &w, p->gfn);
	}
	return PROBE_STOP;
}

static int probe_cmpxchg(void *ctx, uint64_t la, const void *expect, const void *val, unsigned len)
{
	(void)ctx, (void)la, (void)expect, (void)val, (void)len;
	return PROBE_STOP;
}

static bool src_walk_uses(struct svt_mmu *m, const struct svt_fault *f, const struct svt_regs *regs,
			  const struct svt_access *acc, uint64_t gfn)
{
	struct src_probe p = { .m = m, .regs = regs, .acc = acc, .gfn = gfn };
	struct svt_emu_mem mem = { .ctx = &p, .read = probe_read, .cmpxchg = probe_cmpxchg,
				   .misaligned_ok = true };
	struct svt_emu_regs r = *f->regs;
	struct svt_emu_result er;

	if (m->v.mode == SVT_MODE_NONE)
		return false;
	(void)svt_emulate(&r, f->code_bits, f->insn, f->insn_len, &mem, &er);
	return p.uses;
}

/*
 * A write the shadows must not let through: to a page table in sync, or a
 * supervisor write the guest allows under CR0.WP=0 that the hardware (WP=1)
 * forbids (a read-only page, or PKRU.WD).  Out of sync (policy), emulate,
 * or unshadow and go on (PT_CONTINUE: propagate as for any other page).
 */
int pt_or_wp0_write(struct svt_mmu *m, const struct svt_fault *f,
		    struct svt_fault_result *res, const struct svt_regs *regs,
		    const struct svt_access *acc, const struct svt_walk *w, uint64_t gfn,
		    bool user)
{
	bool write = acc->kind == SVT_ACC_WRITE;
	bool wp0 = false;

	if (write && !user && !(regs->cr0 & SVT_CR0_WP) && !SVT_BUG(54)) {
		struct svt_regs r1 = *regs;
		r1.cr0 |= SVT_CR0_WP;
		wp0 = svt_check_rights(&r1, acc, w->rights, m->v.mode >= SVT_MODE_4LEVEL,
				       w->pkey) != 0;
	}
	bool ptw = write && gfn_wp(m, gfn);
	if (!ptw && !wp0)
		return PT_CONTINUE;
	if (ptw && !wp0 && oos_eligible(m, gfn)) {
		oos_mark(m, gfn);
		return PT_CONTINUE;
	}
	/* Unshadowing cannot help with these: emulate whatever the policy. */
	bool must = wp0 || (is_root_gfn(m, gfn) && !SVT_BUG(55)) || on_walk(m, w, gfn);
	/* With emulation off, a MOVS whose source the table translates is
	 * emulated too (looking costs a decode, on an unshadow's path only). */
	if (!must && !m->d.cfg.policy.emulate && f->regs != NULL && f->insn != NULL &&
	    f->insn_len > 0)
		must = src_walk_uses(m, f, regs, acc, gfn);
	if ((m->d.cfg.policy.emulate || must) && !SVT_BUG(56))
		res->used_regs = true;  /* nothing before here looks at them */
	if ((m->d.cfg.policy.emulate || must) && f->regs == NULL) {
		/* A caller may leave the registers out where it expects no
		 * emulation (a user-mode write, say): ask for them, the
		 * guest runs the instruction again and faults again.
		 * Nothing has changed yet. */
		res->wants_regs = true;
		return pf_done(m, f, res, SVT_PF_RETRY);
	}
	if ((m->d.cfg.policy.emulate || must) && f->insn_len > 0 && f->insn != NULL &&
	    f->regs != NULL) {
		struct emu_ctx x = { .m = m, .regs = *regs, .cpl = acc->cpl,
				     .implicit = acc->implicit, .early_gfn = ~0ull,
				     .may_stop = !must, .fw = w, .fw_va = acc->va };
		struct svt_emu_mem mem = { .ctx = &x, .read = emu_read_src,
					   .cmpxchg = emu_cmpxchg_early, .misaligned_ok = true };
		struct svt_emu_result er;
		int rc = svt_emulate(f->regs, f->code_bits, f->insn, f->insn_len, &mem, &er);
		if (rc == SVT_EMU_OK) {
			if (ptw)
				m->d.c.emulated++;
			else
				m->d.c.emulated_wp0++;
			if (x.early_gfn != ~0ull) {
				unshadow_gfn(m, x.early_gfn);
				m->d.c.early_unshadows++;
				m->v.last_wr_gfn = ~0ull;
			}
			return pf_done(m, f, res, SVT_PF_EMULATED);
		}
		if (rc == SVT_EMU_FAULT)
			return pf_inject(m, f, res, x.ec, x.cr2);
		if (rc == SVT_EMU_RETRY)
			return pf_done(m, f, res, SVT_PF_RETRY);
		if (ptw && !must) {
			unshadow_gfn(m, gfn);   /* not an instruction we emulate */
			return pf_done(m, f, res, SVT_PF_RETRY);
		}
	}
	if (must) {
		/*
		 * Nothing can perform this write here: it came with no
		 * instruction (an implicit write by the CPU: a descriptor's
		 * accessed bit, an event's stack push) or with one the
		 * emulator does not know, and unshadowing would only shadow
		 * the table again.  The hardware performs it instead: a page
		 * table goes out of sync by force until the next flush
		 * (oos_force()), and a write CR0.WP=0 alone allows gets its
		 * path made writable and supervisor-only (wp0_grant(), after
		 * propagation): for good, or, where that would let later
		 * supervisor accesses past SMAP or the keys, for one step
		 * (svt_mmu_step_done(); docs/core.md, "Closed: ...").
		 */
		bool step = wp0 && !wp0_grantable(m, regs, w);
		if (step && SVT_BUG(86)) {
			m->d.c.env_errors++;
			return pf_done(m, f, res, SVT_PF_RETRY);
		}
		if (ptw && !oos_force(m, gfn)) {
			m->d.c.env_errors++;
			return pf_done(m, f, res, SVT_PF_RETRY);
		}
		return step ? PT_CONTINUE_STEP : wp0 ? PT_CONTINUE_WP0 : PT_CONTINUE;
	}
	unshadow_gfn(m, gfn);
	return PT_CONTINUE;
}
