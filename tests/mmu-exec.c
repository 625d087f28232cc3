/*
 * mmu-exec.c — one guest action on both sides, compared.
 *
 * Hardware side: a write instruction runs through svt_emulate() with memory
 * callbacks that translate through the hardware TLB and the shadow tables
 * (mmu-machine.c); a #PF there aborts the instruction and goes to
 * svt_mmu_page_fault(), whose outcome decides: re-execute (FIXED, RETRY),
 * done (EMULATED: the core performed it), #PF injected (INJECT), or a
 * device access (MMIO).  Bare-metal side: the same instruction through
 * svt_emulate() with callbacks that translate with the reference model
 * over the twin and set A/D there.  Both must end the same way, with the
 * same registers.  Control-register writes go to the core and to the twin,
 * whose #GP rules are written here from the SDM, independently of the core.
 */
#include <stdlib.h>
#include <string.h>

#include "mmu-harness.h"

/* Callback codes of our own, passed through svt_emulate(). */
enum { X_PF = 1000, X_GP, X_MMIO, X_BAD };

struct side {
	struct mh_machine *m;
	unsigned cpl;
	uint32_t ec;
	uint64_t cr2, gpa;
	/* bare metal: the device piece of a page-crossing access has nothing
	 * behind it (reads all ones, a write is dropped) */
	bool nothing;
	bool cross_dev;         /* stopped at the device piece of a crossing access */
	uint64_t first_dev;     /* the last access began in device memory here, else ~0 */
	struct mh_undo *undo;   /* where bare metal's writes are logged, or NULL */
	/* bare metal: the MOVS source just read (or_read), read again after
	 * the destination's translation (or_cmpxchg) */
	bool src_read;
	uint64_t src_la;
	unsigned src_len;
};

/* The bytes bare metal's writes replaced, newest last, to run it again. */
struct mh_undo {
	unsigned n, cap;
	struct { uint64_t gpa; unsigned len; uint8_t old[16]; } *w;
};

static bool undo_log(struct mh_undo *u, const uint8_t *twin, uint64_t gpa, unsigned len)
{
	for (unsigned off = 0; off < len; off += 16) {
		if (u->n == u->cap) {
			unsigned cap = u->cap ? 2 * u->cap : 64;
			void *w = realloc(u->w, cap * sizeof(*u->w));
			if (!w)
				return false;
			u->w = w;
			u->cap = cap;
		}
		unsigned n = len - off < 16 ? len - off : 16;
		u->w[u->n].gpa = gpa + off;
		u->w[u->n].len = n;
		memcpy(u->w[u->n].old, twin + gpa + off, n);
		u->n++;
	}
	return true;
}

static void undo_all(struct mh_undo *u, uint8_t *twin)
{
	while (u->n > 0) {
		u->n--;
		memcpy(twin + u->w[u->n].gpa, u->w[u->n].old, u->w[u->n].len);
	}
}

static const char *kind_name(enum svt_access_kind k)
{
	return k == SVT_ACC_WRITE ? "write" : k == SVT_ACC_FETCH ? "fetch" : "read";
}

static const char *outcome_name(enum svt_pf_outcome o)
{
	static const char *const n[] = { "FIXED", "INJECT", "EMULATED", "MMIO", "RETRY" };
	return (unsigned)o < 5 ? n[o] : "?";
}

static void end_str(const struct mh_end *e, char *buf, size_t len)
{
	switch (e->kind) {
	case MH_DONE: snprintf(buf, len, "done"); break;
	case MH_PF: snprintf(buf, len, "#PF(%#x) cr2 %#llx", e->ec,
			     (unsigned long long)e->cr2); break;
	case MH_GP: snprintf(buf, len, "#GP"); break;
	case MH_MMIO: snprintf(buf, len, "MMIO at %#llx", (unsigned long long)e->gpa); break;
	}
}

static bool same_end(const struct mh_end *a, const struct mh_end *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == MH_PF)
		return a->ec == b->ec && a->cr2 == b->cr2;
	if (a->kind == MH_MMIO)
		return a->gpa == b->gpa;
	return true;
}

/* When the core counted an env_error, log the guest's walk of va. */
static void log_env_errors(struct mh_machine *m, uint64_t env0, uint64_t va)
{
	if (svt_mmu_counters(m->mmu)->env_errors > env0)
		mh_log_walk(m, va);
}

/* ---- hardware-side memory ---------------------------------------------- */

static int hw_rw(struct side *s, uint64_t la, uint8_t *buf, unsigned len, enum svt_access_kind k,
		 const uint8_t *wbuf)
{
	struct mh_machine *m = s->m;
	unsigned done = 0;
	while (done < len) {
		uint64_t a = la + done, mpa;
		unsigned chunk = len - done, room = (unsigned)(MH_PAGE - (a & 0xfff));
		uint32_t ec;
		if (chunk > room)
			chunk = room;
		int r = mh_hw_translate(m, a, k, s->cpl, false, &mpa, &ec);
		if (r == 1) {
			s->ec = ec;
			s->cr2 = a;
			return X_PF;
		}
		if (r == 2)
			return X_GP;
		if (r < 0)
			return X_BAD;
		if (wbuf) {
			memcpy(m->mem + mpa, wbuf + done, chunk);
			mh_touch(m, m->m2g[mpa >> 12]);
		} else {
			memcpy(buf + done, m->mem + mpa, chunk);
		}
		done += chunk;
	}
	return 0;
}

static int hw_read(void *ctx, uint64_t la, void *buf, unsigned len, unsigned flags)
{
	return hw_rw(ctx, la, buf, len,
		     (flags & SVT_EMU_RD_DEST) ? SVT_ACC_WRITE : SVT_ACC_READ, NULL);
}

static int hw_cmpxchg(void *ctx, uint64_t la, const void *expect, const void *val, unsigned len)
{
	struct side *s = ctx;
	uint8_t cur[16];
	int r = hw_rw(s, la, cur, len, SVT_ACC_WRITE, NULL);
	if (r)
		return r;
	if (memcmp(cur, expect, len))
		return SVT_EMU_RETRY;
	return hw_rw(s, la, NULL, len, SVT_ACC_WRITE, val);
}

/* ---- bare-metal memory ----------------------------------------------------- */

/* Bare metal's translation of one piece: 0 with *gpa, else X_PF (the
 * fault noted in s) or X_GP; the first piece of an access that lands in
 * device memory is noted as s->first_dev. */
static int or_xlate(struct side *s, uint64_t la, enum svt_access_kind k, bool set_ad, bool first,
		    uint64_t *gpa)
{
	uint64_t cr2;
	uint32_t ec;
	int r = mh_or_translate(s->m, la, k, s->cpl, false, set_ad, gpa, &ec, &cr2);
	if (r == 0 && first && !mh_ram(s->m, *gpa >> 12))
		s->first_dev = *gpa;
	if (r == 1) {
		s->ec = ec;
		s->cr2 = cr2;
		return X_PF;
	}
	return r == 2 ? X_GP : 0;
}

static int or_rw(struct side *s, uint64_t la, uint8_t *buf, unsigned len, enum svt_access_kind k,
		 const uint8_t *wbuf)
{
	struct mh_machine *m = s->m;
	unsigned done = 0;
	uint64_t gpa[2];
	unsigned plen[2], n = 0;
	int r;

	/* A write that crosses into the next page is checked on both pages
	 * before any byte is written (SDM Vol. 3A 4.7: the #PF names the
	 * first page that does not allow it, CR2 its first byte there). */
	s->first_dev = ~0ull;
	if (wbuf && ((la + len - 1) ^ la) >> 12) {
		unsigned off2 = (unsigned)(MH_PAGE - (la & 0xfff));
		if ((r = or_xlate(s, la, k, false, true, &gpa[0])) ||
		    (r = or_xlate(s, la + off2, k, false, false, &gpa[1])))
			return r;
	}
	/*
	 * Where there is nothing behind device memory (s->nothing: see
	 * mh_insn), every piece is translated (A/D set) before any byte
	 * moves, as on the CPU: a write to a page table the second piece's
	 * walk uses does not change where that piece goes (len <= 16: two
	 * pieces at most).  Otherwise the access stops at the first device
	 * piece, before the next piece's walk (the device path, vmx/mmio.c,
	 * takes it from there).
	 */
	for (done = 0; done < len; n++) {
		uint64_t a = la + done;
		unsigned chunk = len - done, room = (unsigned)(MH_PAGE - (a & 0xfff));
		if (chunk > room)
			chunk = room;
		if (n == 2)
			return X_BAD;
		plen[n] = chunk;
		done += chunk;
		if ((s->nothing || n == 0) && (r = or_xlate(s, a, k, true, n == 0, &gpa[n])))
			return r;
	}
	done = 0;
	for (unsigned i = 0; i < n; done += plen[i++]) {
		if (i > 0 && !s->nothing && (r = or_xlate(s, la + done, k, true, false, &gpa[i])))
			return r;
		if (!mh_ram(m, gpa[i] >> 12) && s->nothing && plen[i] < len) {
			/* nothing behind it: reads all ones, a write is dropped */
			if (!wbuf)
				memset(buf + done, 0xff, plen[i]);
			continue;
		}
		if (!mh_ram(m, gpa[i] >> 12)) {
			s->gpa = gpa[i];
			s->cross_dev = plen[i] < len;
			return X_MMIO;
		}
		if (wbuf) {
			if (s->undo && !undo_log(s->undo, m->twin, gpa[i], plen[i]))
				return X_BAD;
			memcpy(m->twin + gpa[i], wbuf + done, plen[i]);
			mh_touch(m, gpa[i] >> 12);
		} else {
			memcpy(buf + done, m->twin + gpa[i], plen[i]);
		}
	}
	return 0;
}

/*
 * A read without SVT_EMU_RD_DEST is a MOVS source (emul.h).  The SDM does
 * not order the source's data read against the A/D updates of the
 * destination's translation; the hardware under shadow paging reads it
 * after them, for the core sets the guest's A (and D) at the destination's
 * fault, before the instruction runs again from its start.  So bare metal
 * reads it again once the destination is translated (or_cmpxchg()): a
 * MOVS whose source is the very entry that maps its destination copies it
 * with A and D set, both ways.
 */
static int or_read(void *ctx, uint64_t la, void *buf, unsigned len, unsigned flags)
{
	struct side *s = ctx;
	bool src = !(flags & SVT_EMU_RD_DEST);
	int r = or_rw(s, la, buf, len, src ? SVT_ACC_READ : SVT_ACC_WRITE, NULL);
	if (src) {
		s->src_read = r == 0;
		s->src_la = la;
		s->src_len = len;
	}
	return r;
}

static int or_cmpxchg(void *ctx, uint64_t la, const void *expect, const void *val, unsigned len)
{
	struct side *s = ctx;
	uint8_t cur[16], src[16];
	int r = or_rw(s, la, cur, len, SVT_ACC_WRITE, NULL);
	if (r)
		return r;
	if (memcmp(cur, expect, len))
		return SVT_EMU_RETRY;
	if (s->src_read && s->src_len == len) {
		s->src_read = false;
		if ((r = or_rw(s, s->src_la, src, len, SVT_ACC_READ, NULL)) != 0)
			return r;
		val = src;
	}
	return or_rw(s, la, NULL, len, SVT_ACC_WRITE, val);
}


/* Where va goes on bare metal, for failure messages. */
static const char *where(struct mh_machine *m, uint64_t va, enum svt_access_kind k, unsigned cpl,
			 bool implicit)
{
	static char buf[160];
	uint64_t gpa, cr2;
	uint32_t ec;
	int r = mh_or_translate(m, va, k, cpl, implicit, false, &gpa, &ec, &cr2);
	if (r == 1)
		snprintf(buf, sizeof(buf), "bare metal: #PF(%#x)", ec);
	else if (r == 2)
		snprintf(buf, sizeof(buf), "bare metal: #GP");
	else {
		const struct mh_os *os = m->os;
		uint64_t g = gpa >> 12;
		int t = os && g < m->gframes ? os->tab_of_gfn[g] : -1;
		snprintf(buf, sizeof(buf), "bare metal: gpa %#llx, %s%s%s; CR0.WP=%d",
			 (unsigned long long)gpa,
			 !mh_ram(m, g) ? "not RAM" : t < 0 ? "data" :
			 os->t[t].parent == -1 ? "a root table" : "a page table",
			 t >= 0 && os->t[t].parent == -1 && os->as[os->cur].used &&
			 os->as[os->cur].root == t ? " (the current one)" : "",
			 mh_or_walk_uses(m, va, g) ? " on the walk of this very address" : "",
			 (m->arch.cr0 & SVT_CR0_WP) != 0);
	}
	return buf;
}

/* ---- the fault loop ------------------------------------------------------ */

/* Hand one hardware #PF to the core.  Returns the outcome, or -1. */
static int core_fault(struct mh_machine *m, uint64_t va, uint32_t ec, unsigned cpl,
		      struct svt_emu_regs *regs, int bits, const uint8_t *insn, unsigned len,
		      bool in_delivery, const struct svt_dtables *dt, struct svt_fault_result *fr)
{
	struct svt_fault f = {
		.va = va, .error_code = ec, .cpl = (uint8_t)cpl, .rflags = regs->rflags,
		.pkru = m->pkru, .regs = regs, .code_bits = bits, .insn = insn, .insn_len = len,
		.in_delivery = in_delivery, .dt = dt,
	};
	/* (a #PF exit in a step is its access faulting again: it goes to the
	 * core with the step open, not ended first; svt.h) */
	enum svt_pf_outcome o = svt_mmu_page_fault(m->mmu, &f, fr);
	mh_vm_entry(m);
	mh_log(m, "    hw #PF va %#llx ec %#x -> %s%s", (unsigned long long)va, ec, outcome_name(o),
	       o == SVT_PF_INJECT ? " (inject)" : fr->step ? " for one step" : "");
	if (fr->step && o != SVT_PF_FIXED)
		return mh_fail(m, "svt_mmu_page_fault: a step asked for with outcome %s",
			       outcome_name(o)), -1;
	if (m->step_open && o != SVT_PF_FIXED && o != SVT_PF_RETRY)
		m->step_open = false;   /* the core ended it */
	m->step_open = m->step_open || fr->step;
	m->steps += fr->step;
	if (m->failed)
		return -1;
	if ((unsigned)o > SVT_PF_RETRY)
		return mh_fail(m, "svt_mmu_page_fault returned %d", (int)o), -1;
	/* the hypervisor stops the guest here (vmx/exit.c); bare metal goes on */
	if (fr->stuck && o != SVT_PF_RETRY)
		return mh_fail(m, "svt_mmu_page_fault: outcome %s reported stuck",
			       outcome_name(o)), -1;
	if (fr->stuck)
		return mh_fail(m,
			       "the core stopped the guest: #PF va %#llx ec %#x answered RETRY %u "
			       "times in a row", (unsigned long long)va, ec,
			       SVT_PF_STUCK_AFTER), -1;
	return (int)o;
}

static bool hw_exec(struct mh_machine *m, const uint8_t *insn, unsigned len, unsigned cpl,
		    int bits, struct svt_emu_regs *regs, struct mh_end *end)
{
	struct side s = { .m = m, .cpl = cpl };
	/* misaligned_ok: a write may cross into the next page (mh_gen_write) */
	struct svt_emu_mem mem = { .ctx = &s, .read = hw_read, .cmpxchg = hw_cmpxchg,
				   .misaligned_ok = true };
	uint64_t rip0 = regs->rip;
	unsigned tries = 0, chunks = 0;

	memset(end, 0, sizeof(*end));
	for (;;) {
		struct svt_emu_regs t = *regs;
		struct svt_emu_result res;
		int st = svt_emulate(&t, bits, insn, len, &mem, &res);
		if (st != X_PF)
			mh_vm_exit(m);  /* the instruction (or a REP chunk) done: a step ends */
		if (st == SVT_EMU_OK) {
			*regs = t;
			if (regs->rip != rip0)
				return true;
			if (++chunks > 64)
				return mh_fail(m, "hardware: REP instruction does not finish");
			continue;
		}
		if (st == X_GP) {
			*regs = t;
			end->kind = MH_GP;
			return true;
		}
		if (st == X_BAD || m->failed)
			return false;
		if (st != X_PF)
			return mh_fail(m,
				       "hardware: svt_emulate returned %d (harness encoding?)", st);
		*regs = t;      /* REP iterations done before the fault stay done */
		if (++tries > MH_MAX_TRIES)
			return mh_fail(m,
				       "livelock: the instruction at va %#llx faulted %u times "
				       "(last ec %#x; %s)", (unsigned long long)s.cr2,
				       tries - 1, s.ec, where(m, s.cr2, SVT_ACC_WRITE, cpl, false));
		struct svt_fault_result fr;
		int o = core_fault(m, s.cr2, s.ec, cpl, regs, bits, insn, len, false, NULL, &fr);
		switch (o) {
		case SVT_PF_FIXED:
		case SVT_PF_RETRY:
			break;
		case SVT_PF_INJECT:
			end->kind = MH_PF;
			end->ec = fr.error_code;
			end->cr2 = fr.cr2;
			return true;
		case SVT_PF_MMIO:
			end->kind = MH_MMIO;
			end->gpa = fr.gpa;
			return true;
		case SVT_PF_EMULATED:
			if (regs->rip != rip0)
				return true;
			break;
		default:
			return false;
		}
	}
}

static bool or_exec(struct mh_machine *m, const uint8_t *insn, unsigned len, unsigned cpl,
		    int bits, bool nothing, struct mh_undo *undo, bool *cross_dev,
		    uint64_t *first_dev, struct svt_emu_regs *regs, struct mh_end *end)
{
	struct side s = { .m = m, .cpl = cpl, .nothing = nothing, .undo = undo,
			  .first_dev = ~0ull };
	struct svt_emu_mem mem = { .ctx = &s, .read = or_read, .cmpxchg = or_cmpxchg,
				   .misaligned_ok = true };
	uint64_t rip0 = regs->rip;

	memset(end, 0, sizeof(*end));
	for (unsigned chunks = 0; chunks < 64; chunks++) {
		struct svt_emu_result res;
		int st = svt_emulate(regs, bits, insn, len, &mem, &res);
		switch (st) {
		case SVT_EMU_OK:
			if (regs->rip != rip0)
				return true;
			continue;
		case X_PF:
			end->kind = MH_PF;
			end->ec = s.ec;
			end->cr2 = s.cr2;
			*first_dev = s.first_dev;
			return true;
		case X_GP:
			end->kind = MH_GP;
			return true;
		case X_MMIO:
			end->kind = MH_MMIO;
			end->gpa = s.gpa;
			*cross_dev = s.cross_dev;
			return true;
		default:
			return mh_fail(m,
				       "bare metal: svt_emulate returned %d (harness "
				       "encoding?)", st);
		}
	}
	return mh_fail(m, "bare metal: REP instruction does not finish");
}

static bool same_regs(struct mh_machine *m, const struct svt_emu_regs *h,
		      const struct svt_emu_regs *o)
{
	for (int i = 0; i < 16; i++)
		if (h->gpr[i] != o->gpr[i])
			return mh_fail(m,
				       "register %d differs: hardware %#llx, bare metal %#llx", i,
				       (unsigned long long)h->gpr[i],
				       (unsigned long long)o->gpr[i]);
	if (h->rip != o->rip || h->rflags != o->rflags)
		return mh_fail(m, "RIP/RFLAGS differ: hardware %#llx/%#llx, bare metal %#llx/%#llx",
			       (unsigned long long)h->rip, (unsigned long long)h->rflags,
			       (unsigned long long)o->rip, (unsigned long long)o->rflags);
	return true;
}

bool mh_insn(struct mh_machine *m, const uint8_t *insn, unsigned len, unsigned cpl,
	     struct mh_end *end)
{
	int bits = mh_code_bits(m);
	struct svt_emu_regs hr = m->regs, orr = m->regs;
	struct mh_end he, oe;
	char a[64], b[64], hex[40] = "";

	m->accesses++;
	for (unsigned i = 0; i < len && i < 12; i++)
		snprintf(hex + 3 * i, 4, "%02x ", insn[i]);
	mh_log(m, "  insn [%s] cpl %u rdi %#llx rax %#llx rcx %#llx ac %d pkru %#x", hex, cpl,
	       (unsigned long long)m->regs.gpr[SVT_EMU_RDI],
	       (unsigned long long)m->regs.gpr[SVT_EMU_RAX],
	       (unsigned long long)m->regs.gpr[SVT_EMU_RCX],
	       (m->regs.rflags & SVT_RFLAGS_AC) != 0, m->pkru);
	uint64_t env0 = svt_mmu_counters(m->mmu)->env_errors;
	uint64_t dst = m->regs.gpr[SVT_EMU_RDI] & (bits == 64 ? ~0ull : 0xffffffffull);
	/* Bare metal stops at device memory: the device does the rest.  The
	 * device piece of a page-crossing access may instead be done by the
	 * core, which emulates the access with nothing behind that piece (as
	 * the hypervisor completes device accesses, vmx/mmio.c: all ones read,
	 * the write dropped); where the machine went past such a piece, or
	 * completed what bare metal did not, bare metal is run again from the
	 * start that way (every piece translated first), and must agree. */
	struct mh_undo undo = { 0 };
	struct svt_emu_regs orr0 = orr;
	bool cross_dev = false;
	uint64_t first_dev = ~0ull;
	bool ok = or_exec(m, insn, len, cpl, bits, false, &undo, &cross_dev, &first_dev,
			  &orr, &oe) &&
		  hw_exec(m, insn, len, cpl, bits, &hr, &he);
	if (ok && (cross_dev || he.kind == MH_DONE) && !same_end(&he, &oe)) {
		mh_log(m,
		       "    bare metal again: the device piece of a crossing access has nothing "
		       "behind it");
		undo_all(&undo, m->twin);
		orr = orr0;
		ok = or_exec(m, insn, len, cpl, bits, true, NULL, &cross_dev,
			     &first_dev, &orr, &oe);
	}
	free(undo.w);
	if (!ok)
		return false;
	/* A crossing write that begins in device memory and faults on its
	 * second page: the core answers MMIO for the first (right: that is
	 * where the access goes), and the hypervisor's device path, which
	 * this harness does not model, then meets the second page's #PF and
	 * injects it (vmx/mmio.c).  Nothing was written on either side. */
	if (he.kind == MH_MMIO && oe.kind == MH_PF && first_dev != ~0ull && he.gpa == first_dev) {
		mh_log(m,
		       "    (the device path takes it from here: bare metal's #PF is its "
		       "to raise)");
		oe = he;
	}
	log_env_errors(m, env0, dst);
	end_str(&oe, a, sizeof(a));
	end_str(&he, b, sizeof(b));
	mh_log(m, "    -> bare metal %s, machine %s", a, b);
	if (!same_end(&he, &oe))
		return mh_fail(m, "instruction [%s] at cpl %u: bare metal %s, machine %s",
			       hex, cpl, a, b);
	if (!same_regs(m, &hr, &orr))
		return false;
	m->regs = orr;
	*end = oe;
	return true;
}

/* ---- plain accesses ---------------------------------------------------------- */

/*
 * How the hypervisor hands the core a fault on a plain access (mh_data):
 * the hardware does not say whether a supervisor access was implicit, the
 * evidence around the fault does (docs/core.md, "Implicit supervisor
 * accesses").  An implicit access comes (1) with an instruction that makes
 * implicit accesses only (MOV DS, AX), (2) as a fault while an event is
 * delivered (no instruction; for a write the descriptor tables hold it),
 * or (3) with an instruction that makes both kinds (MOV DS, [rDI], IRET)
 * whose explicit operand lies elsewhere; an explicit read at CPL 0-2 with
 * no instruction, or with MOV DS, [rDI] whose operand is the access
 * itself.  Where given, the descriptor tables hold an implicit access (a
 * GDT around it) and never an explicit one.
 */
struct mh_pres {
	struct svt_emu_regs regs;       /* the registers the core is given */
	uint8_t insn[2];
	unsigned len;
	bool in_delivery;
	struct svt_dtables dt;
	bool has_dt;
	const char *what;
};

static void pick_pres(struct mh_machine *m, uint64_t va, unsigned size, bool write, bool implicit,
		      int bits, const struct svt_emu_regs *hr, struct mh_pres *p)
{
	static const uint8_t seg_load[] = { 0x8e, 0xd8 }, seg_mem[] = { 0x8e, 0x1f },
			     iret[] = { 0xcf };
	uint64_t mask = bits == 64 ? ~0ull : 0xffffffffull;
	/* its own random numbers, so that the guest's program (and an old
	 * seed's failure) does not change with how faults are handed over */
	struct mh_rng rng = { m->rng.s ^ va ^ 0x6b33u };
	unsigned r = (unsigned)mh_below(&rng, implicit ? 6 : 2);

	memset(p, 0, sizeof(*p));
	p->regs = *hr;
	p->what = "no evidence";
	if (implicit && r == 0) {
		memcpy(p->insn, seg_load, sizeof(seg_load));
		p->len = sizeof(seg_load);
		p->what = "MOV DS, AX";
	} else if (implicit && (r == 1 || r >= 4)) {         /* half of them */
		p->in_delivery = true;
		p->what = "event delivery";
	} else if (r == 2 || r == 3 || (!implicit && r == 1)) {
		/* the explicit operand: elsewhere for an implicit access,
		 * the access itself for an explicit one */
		uint64_t at = implicit ? (va + 0x1000) & mask : va;
		const uint8_t *b = r == 3 ? iret : seg_mem;
		p->len = r == 3 ? sizeof(iret) : sizeof(seg_mem);
		memcpy(p->insn, b, p->len);
		p->what = r == 3 ? "IRET" : "MOV DS, [rDI]";
		if (bits == 64) {
			p->regs.gpr[SVT_EMU_RDI] = p->regs.gpr[SVT_EMU_RSP] = at;
		} else {
			p->regs.gpr[SVT_EMU_RDI] = p->regs.gpr[SVT_EMU_RSP] = 0;
			p->regs.seg_base[SVT_EMU_DS] = p->regs.seg_base[SVT_EMU_SS] = at;
		}
	}
	/* the tables: always for a write during delivery (nothing else
	 * tells a descriptor's accessed bit from a push on the stack) */
	if ((p->in_delivery && write) || mh_pct(&rng, 50)) {
		uint64_t off = mh_below(&rng, 64);
		p->has_dt = true;
		for (unsigned t = 0; t < SVT_DT_COUNT; t++) {
			p->dt.base[t] = (va + 0x3000 + 0x1000 * t) & mask;
			p->dt.limit[t] = 0xff;
			p->dt.usable[t] = t != SVT_DT_LDT || mh_pct(&rng, 50);
		}
		if (implicit) {
			unsigned t = write ? SVT_DT_GDT : (unsigned)mh_below(&rng, SVT_DT_COUNT);
			if (t == SVT_DT_IDT && write)
				t = SVT_DT_TSS;
			p->dt.base[t] = (va - off) & mask;
			p->dt.limit[t] = (uint32_t)(off + size - 1 + mh_below(&rng, 64));
			p->dt.usable[t] = true;
		}
	}
}

bool mh_data(struct mh_machine *m, uint64_t va, unsigned size, enum svt_access_kind k,
	     unsigned cpl, bool implicit, const uint8_t *insn, unsigned insn_len,
	     uint64_t *val, struct mh_end *end)
{
	int bits = mh_code_bits(m);
	struct mh_end oe = { 0 }, he = { 0 };
	uint64_t ov = 0, hv = 0, gpa, cr2, mpa;
	uint32_t ec;
	struct svt_emu_regs hr = m->regs, orr = m->regs;
	char a[64], b[64];

	m->accesses++;
	mh_log(m, "  %s%s %u bytes at %#llx cpl %u ac %d pkru %#x%s", implicit ? "implicit " : "",
	       kind_name(k), size, (unsigned long long)va, cpl,
	       (m->regs.rflags & SVT_RFLAGS_AC) != 0, m->pkru, insn_len ? " (misaligned MOV)" : "");
	uint64_t env0 = svt_mmu_counters(m->mmu)->env_errors;
	/* bare metal */
	int r = mh_or_translate(m, va, k, cpl, implicit, true, &gpa, &ec, &cr2);
	if (r == 1) {
		oe.kind = MH_PF, oe.ec = ec, oe.cr2 = cr2;
	} else if (r == 2) {
		oe.kind = MH_GP;
	} else if (!mh_ram(m, gpa >> 12)) {
		oe.kind = MH_MMIO, oe.gpa = gpa;
	} else if (k == SVT_ACC_WRITE) {
		for (unsigned i = 0; i < size; i++)
			m->twin[gpa + i] = (uint8_t)(*val >> (8 * i));
		mh_touch(m, gpa >> 12);
		orr.rip += insn_len;
	} else {
		ov = mh_twin_read(m, gpa, size);
	}
	/* hardware */
	for (unsigned tries = 0;; tries++) {
		if (tries > MH_MAX_TRIES)
			return mh_fail(m,
				       "livelock: %s%s of %#llx at cpl %u faulted %u times (last "
				       "ec %#x; %s)",
				       implicit ? "implicit " : insn_len ? "misaligned " : "",
				       kind_name(k), (unsigned long long)va, cpl, tries - 1, ec,
				       where(m, va, k, cpl, implicit));
		r = mh_hw_translate(m, va, k, cpl, implicit, &mpa, &ec);
		if (r < 0)
			return false;
		if (r == 2) {
			he.kind = MH_GP;
			break;
		}
		if (r == 0) {
			if (k == SVT_ACC_WRITE) {
				for (unsigned i = 0; i < size; i++)
					m->mem[mpa + i] = (uint8_t)(*val >> (8 * i));
				mh_touch(m, m->m2g[mpa >> 12]);
				hr.rip += insn_len;
			} else {
				for (unsigned i = size; i-- > 0;)
					hv = (hv << 8) | m->mem[mpa + i];
			}
			break;
		}
		/* How the hypervisor would hand the core this fault
		 * (pick_pres()); a misaligned MOV comes as itself. */
		struct mh_pres pr;
		struct svt_fault_result fr;
		int o;
		if (insn_len || (!implicit && (k != SVT_ACC_READ || cpl == 3))) {
			o = core_fault(m, va, ec, cpl, &hr, bits, insn, insn_len, false, NULL, &fr);
		} else {
			pick_pres(m, va, size, k == SVT_ACC_WRITE, implicit, bits, &hr, &pr);
			mh_log(m, "    (as %s%s)", pr.what, pr.has_dt ? ", with the tables" : "");
			o = core_fault(m, va, ec, cpl, &pr.regs, bits, pr.len ? pr.insn : NULL,
				       pr.len, pr.in_delivery, pr.has_dt ? &pr.dt : NULL, &fr);
		}
		if (o < 0)
			return false;
		if (o == SVT_PF_INJECT) {
			he.kind = MH_PF, he.ec = fr.error_code, he.cr2 = fr.cr2;
			break;
		}
		if (o == SVT_PF_MMIO) {
			he.kind = MH_MMIO, he.gpa = fr.gpa;
			break;
		}
		if (o == SVT_PF_EMULATED) {
			if (k != SVT_ACC_WRITE || !insn_len)
				return mh_fail(m,
					       "the core emulated a %s%s it was given no "
					       "instruction for", implicit ? "implicit " : "",
					       kind_name(k));
			break;
		}
	}
	mh_vm_exit(m);          /* the access done: a step granted for it ends */
	log_env_errors(m, env0, va);
	end_str(&oe, a, sizeof(a));
	end_str(&he, b, sizeof(b));
	mh_log(m, "    -> bare metal %s, machine %s", a, b);
	if (!same_end(&he, &oe))
		return mh_fail(m, "%s%s of %u bytes at %#llx, cpl %u: bare metal %s, machine %s",
			       implicit ? "implicit " : "", kind_name(k), size,
			       (unsigned long long)va, cpl, a, b);
	if (oe.kind == MH_DONE && k != SVT_ACC_WRITE && hv != ov)
		return mh_fail(m, "%s of %u bytes at %#llx read %#llx, bare metal %#llx",
			       kind_name(k), size, (unsigned long long)va, (unsigned long long)hv,
			       (unsigned long long)ov);
	if (!same_regs(m, &hr, &orr))
		return false;
	m->regs = orr;
	if (k != SVT_ACC_WRITE)
		*val = ov;
	*end = oe;
	return true;
}

/* ---- an event's stack frame --------------------------------------------------- */

/*
 * An event delivered at CPL 0 pushes two quadwords onto its stack, at
 * va[0] and then va[1] (the stack grows down across a page boundary): the
 * CPU's own explicit supervisor writes, with no instruction.  Bare metal
 * translates them in order and writes both, or faults on the first it
 * cannot translate.  The hardware delivers the event again from its start
 * after each #PF the core fixes (handed over as a fault during delivery,
 * the descriptor tables elsewhere): a step's grant (K13) for the first
 * page must still hold when the second faults in the step, else the two
 * fault in turn for ever (seeded bug 87).
 */
bool mh_frame(struct mh_machine *m, const uint64_t va[2], const uint64_t val[2],
	      struct mh_end *end)
{
	int bits = mh_code_bits(m);
	uint64_t mask = bits == 64 ? ~0ull : 0xffffffffull;
	struct mh_end oe = { 0 }, he = { 0 };
	uint64_t gpa[2], mpa[2], cr2 = 0;
	uint32_t ec = 0;
	char a[64], b[64];

	m->accesses++;
	mh_log(m, "  frame: writes of 8 bytes at %#llx, then %#llx, cpl 0 ac %d pkru %#x "
	       "(delivery)", (unsigned long long)va[0], (unsigned long long)va[1],
	       (m->regs.rflags & SVT_RFLAGS_AC) != 0, m->pkru);
	uint64_t env0 = svt_mmu_counters(m->mmu)->env_errors;
	/* bare metal */
	for (unsigned i = 0; i < 2 && oe.kind == MH_DONE; i++) {
		int r = mh_or_translate(m, va[i], SVT_ACC_WRITE, 0, false, true, &gpa[i], &ec,
					&cr2);
		if (r == 1)
			oe.kind = MH_PF, oe.ec = ec, oe.cr2 = cr2;
		else if (r == 2)
			oe.kind = MH_GP;
		else if (!mh_ram(m, gpa[i] >> 12))
			oe.kind = MH_MMIO, oe.gpa = gpa[i];
	}
	for (unsigned i = 0; i < 2 && oe.kind == MH_DONE; i++) {
		for (unsigned j = 0; j < 8; j++)
			m->twin[gpa[i] + j] = (uint8_t)(val[i] >> (8 * j));
		mh_touch(m, gpa[i] >> 12);
	}
	/* hardware: the whole delivery again after each fault the core fixes */
	struct svt_emu_regs regs = m->regs;
	struct svt_dtables dt = { 0 };
	for (unsigned t = 0; t < SVT_DT_COUNT; t++) {
		dt.base[t] = (va[0] + 0x3000 + 0x1000 * t) & mask;
		dt.limit[t] = 0xff;
		dt.usable[t] = true;
	}
	for (unsigned tries = 0; he.kind == MH_DONE; tries++) {
		if (tries > MH_MAX_TRIES)
			return mh_fail(m, "livelock: a delivery's pushes at %#llx and %#llx "
				       "faulted %u times (last at %#llx, ec %#x)",
				       (unsigned long long)va[0], (unsigned long long)va[1],
				       tries - 1, (unsigned long long)cr2, ec);
		unsigned i = 0;
		int r = 0;
		for (; i < 2; i++) {
			r = mh_hw_translate(m, va[i], SVT_ACC_WRITE, 0, false, &mpa[i], &ec);
			if (r < 0)
				return false;
			if (r != 0)
				break;
		}
		if (i == 2) {
			for (i = 0; i < 2; i++) {
				for (unsigned j = 0; j < 8; j++)
					m->mem[mpa[i] + j] = (uint8_t)(val[i] >> (8 * j));
				mh_touch(m, m->m2g[mpa[i] >> 12]);
			}
			break;
		}
		if (r == 2) {
			he.kind = MH_GP;
			break;
		}
		cr2 = va[i];
		struct svt_fault_result fr;
		int o = core_fault(m, va[i], ec, 0, &regs, bits, NULL, 0, true, &dt, &fr);
		if (o < 0)
			return false;
		if (o == SVT_PF_INJECT)
			he.kind = MH_PF, he.ec = fr.error_code, he.cr2 = fr.cr2;
		else if (o == SVT_PF_MMIO)
			he.kind = MH_MMIO, he.gpa = fr.gpa;
		else if (o == SVT_PF_EMULATED)
			return mh_fail(m, "the core emulated a delivery's push it was given no "
				       "instruction for");
	}
	mh_vm_exit(m);          /* the delivery done: a step granted for it ends */
	log_env_errors(m, env0, va[0]);
	end_str(&oe, a, sizeof(a));
	end_str(&he, b, sizeof(b));
	mh_log(m, "    -> bare metal %s, machine %s", a, b);
	if (!same_end(&he, &oe))
		return mh_fail(m, "a delivery's pushes at %#llx and %#llx, cpl 0: bare metal %s, "
			       "machine %s", (unsigned long long)va[0], (unsigned long long)va[1],
			       a, b);
	*end = oe;
	return true;
}
