/*
 * rec-enc.c — events to records (traces/FORMAT.md, "Records"): the checks
 * an event must pass to be written, and its compact encoding against the
 * frame's delta state.  rec-dec.c is the exact inverse; a change to one
 * is a change to both and to the format document.
 */
#include "common_deps.h"
#include "rec_codec.h"

void tr_state_reset(struct tr_state *st)
{
	memset(st, 0, sizeof(*st));
	st->fault.code_bits = 64;
}

/* The register file as 24 slots: gpr[0..15], rip, rflags, seg_base[0..5],
 * which is the order of struct svt_emu_regs (one array of words). */
_Static_assert(sizeof(struct svt_emu_regs) == TR_NREGS * sizeof(uint64_t) &&
	       offsetof(struct svt_emu_regs, rip) == 16 * sizeof(uint64_t) &&
	       offsetof(struct svt_emu_regs, rflags) == 17 * sizeof(uint64_t) &&
	       offsetof(struct svt_emu_regs, seg_base) == 18 * sizeof(uint64_t),
	       "struct svt_emu_regs is the 24 slots in order");

/* Mask of changed slots, then zigzag(new - base) for each, low slot first
 * (the deltas are made in one pass, beside, and copied behind the mask). */
static uint8_t *enc_regs(uint8_t *p, const struct svt_emu_regs *r, const struct svt_emu_regs *base)
{
	uint64_t a[TR_NREGS], b[TR_NREGS];
	uint8_t d[TR_NREGS * 10];
	size_t n = 0;
	uint32_t mask = 0;

	memcpy(a, r, sizeof(a));
	memcpy(b, base, sizeof(b));
	for (unsigned i = 0; i < TR_NREGS; i++)
		if (a[i] != b[i]) {
			mask |= 1u << i;
			n += svt_putv(d + n, svt_zz(a[i] - b[i]));
		}
	p += svt_putv(p, mask);
	memcpy(p, d, n);
	return p + n;
}

static unsigned code_bits_code(uint8_t bits)
{
	return bits == 16 ? 0 : bits == 32 ? 1 : 2;
}

const char *tr_check_guest(const struct svt_trace_guest *g)
{
	if (g->kind >= SVT_GUEST_NKINDS)
		return "GUEST: unknown kind";
	if (g->flags & ~SVT_GUEST_FLAGS)
		return "GUEST: unknown flag bits";
	if (g->cpl > 3)
		return "GUEST: cpl above 3";
	bool access = g->kind <= SVT_GUEST_WRITE;
	if (!access && (g->cpl || (g->flags & SVT_GUEST_INJECTED)))
		return "GUEST: cpl or an injected fault on an action that is no access";
	if (g->kind == SVT_GUEST_WRITE) {
		if (g->op > SVT_GUEST_CMPXCHG16B)
			return "GUEST: unknown write instruction";
		if (g->op == SVT_GUEST_CMPXCHG16B ? g->size != 16 :
		    g->op == SVT_GUEST_CMPXCHG8B ? g->size != 8 :
		    g->size != 1 && g->size != 2 && g->size != 4 && g->size != 8)
			return "GUEST: write size not 1, 2, 4 or 8 (8 for CMPXCHG8B, 16 for "
			       "CMPXCHG16B)";
		if ((g->flags & SVT_GUEST_OK) && g->op < SVT_GUEST_CMPXCHG)
			return "GUEST: an exchange flagged on a write that compares nothing";
	} else if (g->op || g->size || (g->flags & SVT_GUEST_OK)) {
		return "GUEST: an instruction given for an action that is no write";
	}
	if ((g->flags & SVT_GUEST_PT) && g->kind != SVT_GUEST_CLEAR)
		return "GUEST: a page-table flag on an action that clears no page";
	if (g->kind == SVT_GUEST_PKRU && g->val[0] > UINT32_MAX)
		return "GUEST: PKRU above 32 bits";
	return NULL;
}

const char *tr_check_cpu(const struct svt_trace_cpu *c)
{
	if (c->kind >= SVT_CPU_NKINDS)
		return "CPU: unknown kind";
	if (c->kind == SVT_CPU_CPUID) {
		if (c->vector || c->has_ec || c->error_code || c->cr2 || c->rflags)
			return "CPU: an exception's fields given for a CPUID";
		return NULL;
	}
	if (c->vector > 31)
		return "CPU: exception vector above 31";
	if (c->leaf || c->subleaf || c->out[0] || c->out[1] || c->out[2] || c->out[3])
		return "CPU: CPUID fields given for an injected exception";
	if (!c->has_ec && c->error_code)
		return "CPU: an error code given for an exception without one";
	if (c->vector != 14 && c->cr2)
		return "CPU: CR2 given for an exception that is no #PF";
	return NULL;
}

const char *tr_check_event(const struct svt_trace_event *ev)
{
	switch (ev->type) {
	case SVT_TRACE_FAULT: {
		const struct svt_trace_fault *f = &ev->u.fault;
		if (f->cpl > 3)
			return "FAULT: cpl above 3";
		if (f->code_bits != 16 && f->code_bits != 32 && f->code_bits != 64)
			return "FAULT: code_bits not 16, 32 or 64";
		if (f->insn_len > SVT_TRACE_MAX_INSN)
			return "FAULT: instruction longer than 15 bytes";
		return NULL;
	}
	case SVT_TRACE_CR_WRITE:
		return ev->u.cr.reg > SVT_TRACE_EFER ? "CR_WRITE: unknown register" : NULL;
	case SVT_TRACE_INVLPG:
	case SVT_TRACE_FLUSH_ALL:
		return NULL;
	case SVT_TRACE_INVPCID:
		return ev->u.invpcid.type > 3 ? "INVPCID: type above 3" : NULL;
	case SVT_TRACE_MEM: {
		const struct svt_trace_mem *m = &ev->u.mem;
		if (m->len < 1 || m->len > SVT_TRACE_MAX_MEM)
			return "MEM: length not in 1..4096";
		if (m->data == NULL)
			return "MEM: no data";
		if (m->gpa >= (1ull << 52) || m->gpa + m->len > (1ull << 52))
			return "MEM: address beyond 2^52";
		return NULL;
	}
	case SVT_TRACE_DECISION: {
		const struct svt_trace_decision *d = &ev->u.decision;
		if (d->input == SVT_TRACE_FAULT) {
			if (d->outcome > SVT_PF_RETRY)
				return "DECISION: unknown outcome";
			if (d->rc != 0)
				return "DECISION: a fault's decision has no return code";
			return NULL;
		}
		if (d->input != SVT_TRACE_CR_WRITE && d->input != SVT_TRACE_INVPCID)
			return "DECISION: input is not FAULT, CR_WRITE or INVPCID";
		if (d->outcome != 0 || d->has_regs || d->error_code != 0 || d->cr2 != 0 ||
		    d->gpa != 0)
			return "DECISION: outcome, registers or addresses given for a non-fault";
		return NULL;
	}
	case SVT_TRACE_LOST:
		if (ev->u.lost.count == 0)
			return "LOST: count 0";
		if (ev->u.lost.reason == SVT_TRACE_LOST_GAP)
			return "LOST: reason GAP is the reader's own";
		return NULL;
	case SVT_TRACE_MARK:
		if (ev->u.mark.len > SVT_TRACE_MAX_MARK)
			return "MARK: text longer than 255 bytes";
		if (svt_has_nul(ev->u.mark.text, ev->u.mark.len))
			return "MARK: NUL in text";
		return NULL;
	case SVT_TRACE_GUEST:
		return tr_check_guest(&ev->u.guest);
	case SVT_TRACE_CPU:
		return tr_check_cpu(&ev->u.cpu);
	case SVT_TRACE_STEP_DONE:
		return NULL;
	case SVT_TRACE_UNKNOWN:
		if (ev->u.unknown.type < SVT_TRACE_NTYPES || ev->u.unknown.type > UINT32_MAX)
			return "UNKNOWN: type code not in 13..2^32-1";
		if (ev->u.unknown.len > SVT_TRACE_MAX_MEM)
			return "UNKNOWN: payload longer than 4096 bytes";
		if (ev->u.unknown.len > 0 && ev->u.unknown.data == NULL)
			return "UNKNOWN: no data";
		return NULL;
	}
	return "unknown event type";
}

/* kind | flags << 3 | cpl << 6, then what the kind has (FORMAT.md, GUEST) */
static uint8_t *enc_guest(struct tr_state *st, const struct svt_trace_guest *g, uint8_t *p)
{
	p += svt_putv(p, g->kind | (unsigned)g->flags << 3 | (unsigned)g->cpl << 6);
	if (g->kind != SVT_GUEST_RFLAGS && g->kind != SVT_GUEST_PKRU) {
		p += svt_putv(p, svt_zz(g->va - st->guest_va));
		st->guest_va = g->va;
	}
	if (g->kind == SVT_GUEST_WRITE) {
		*p++ = g->op;
		*p++ = g->size;
	}
	if (g->kind == SVT_GUEST_WRITE || g->kind == SVT_GUEST_CLEAR) {
		p += svt_putv(p, svt_zz(g->rip - st->guest_rip));
		st->guest_rip = g->rip;
	}
	if (g->kind >= SVT_GUEST_WRITE) {
		p += svt_putv(p, g->val[0]);
		if (g->size == 16)
			p += svt_putv(p, g->val[1]);
	}
	if (g->kind == SVT_GUEST_WRITE && g->op >= SVT_GUEST_CMPXCHG) {
		p += svt_putv(p, g->cmp[0]);
		if (g->size == 16)
			p += svt_putv(p, g->cmp[1]);
	}
	if (g->flags & SVT_GUEST_INJECTED) {
		p += svt_putv(p, g->error_code);
		p += svt_putv(p, svt_zz(g->cr2 - g->va));
	}
	return p;
}

static uint8_t *enc_fault(struct tr_state *st, const struct svt_trace_fault *f, uint8_t *p)
{
	struct svt_trace_fault *s = &st->fault;
	unsigned pres = 0;

	if (f->error_code != s->error_code)
		pres |= TR_F_ERR;
	if (f->cpl != s->cpl || f->code_bits != s->code_bits)
		pres |= TR_F_MODE;
	if (f->pkru != s->pkru)
		pres |= TR_F_PKRU;
	/* (most faults come without an instruction: no compare, no copy) */
	if (f->insn_len != s->insn_len ||
	    (f->insn_len && memcmp(f->insn, s->insn, f->insn_len) != 0))
		pres |= TR_F_INSN;
	if (f->has_regs)
		pres |= TR_F_REGS;
	if (f->rflags != (f->has_regs ? f->regs.rflags : s->rflags))
		pres |= TR_F_RFLAGS;

	p += svt_putv(p, pres);
	p += svt_putv(p, svt_zz(f->va - s->va));
	if (pres & TR_F_ERR)
		p += svt_putv(p, f->error_code);
	if (pres & TR_F_MODE)
		*p++ = (uint8_t)(f->cpl | code_bits_code(f->code_bits) << 2);
	if (pres & TR_F_PKRU)
		p += svt_putv(p, f->pkru);
	if (pres & TR_F_INSN) {
		*p++ = f->insn_len;
		memcpy(p, f->insn, f->insn_len);
		p += f->insn_len;
	}
	if (pres & TR_F_REGS) {
		p = enc_regs(p, &f->regs, &s->regs);
		s->regs = f->regs;
	}
	if (pres & TR_F_RFLAGS)
		p += svt_putv(p, f->rflags);
	/* since 1.5, only where there is something to say: a fault's
	 * evidence on implicit accesses, not delta-coded (it is rare) */
	if (f->in_delivery || f->has_dt) {
		p += svt_putv(p, (f->in_delivery ? TR_FX_DELIVERY : 0) |
				 (f->has_dt ? TR_FX_TABLES : 0));
		for (unsigned t = 0; f->has_dt && t < SVT_DT_COUNT; t++) {
			p += svt_putv(p, f->dt.base[t]);
			p += svt_putv(p, f->dt.usable[t] ? (uint64_t)f->dt.limit[t] + 1 : 0);
		}
	}

	s->va = f->va;
	s->error_code = f->error_code;
	s->cpl = f->cpl;
	s->code_bits = f->code_bits;
	s->pkru = f->pkru;
	s->insn_len = f->insn_len;
	if (f->insn_len)
		memcpy(s->insn, f->insn, f->insn_len);
	s->rflags = f->rflags;
	return p;
}

static bool all_zero(const uint8_t *b, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		if (svt_get64(b + i) != 0)
			return false;
	for (; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static inline uint64_t zz32(uint32_t delta)        /* zigzag of a 32-bit delta */
{
	return svt_zz((uint64_t)(int64_t)(int32_t)delta);
}

/* The data of a MEM of one 8-byte word (most are: an entry of a walk, a
 * word of a table that changed), encoded as the loop below encodes it,
 * in straight-line code: zero; else the smaller of one W64 delta and two
 * W32 deltas (W64 on a tie), where smaller than the 8 raw bytes; else raw. */
static uint8_t *enc_mem_word(struct tr_state *st, const uint8_t *d, uint8_t *p)
{
	uint64_t v = svt_get64(d);
	if (v == 0) {
		*p++ = 7u << 2 | TR_MEM_ZERO;
		return p;
	}
	uint32_t lo = (uint32_t)v, hi = (uint32_t)(v >> 32);
	uint64_t z64 = svt_zz(v - st->w64), z0 = zz32(lo - st->w32), z1 = zz32(hi - lo);
	size_t n64 = svt_vlen(z64), n32 = svt_vlen(z0) + svt_vlen(z1);
	if (n64 <= n32 && n64 < 8) {
		*p++ = 7u << 2 | TR_MEM_W64;
		p += svt_putv(p, z64);
		st->w64 = v;
		return p;
	}
	if (n32 < n64 && n32 < 8) {
		*p++ = 7u << 2 | TR_MEM_W32;
		p += svt_putv(p, z0);
		p += svt_putv(p, z1);
		st->w32 = hi;
		return p;
	}
	*p++ = 7u << 2 | TR_MEM_RAW;
	__builtin_memcpy(p, d, 8);
	return p + 8;
}

/* MEM: zigzag(gpa - mem_next), varint((len - 1) << 2 | encoding), data. */
static uint8_t *enc_mem(struct tr_state *st, const struct svt_trace_mem *m, uint8_t *p)
{
	const uint8_t *d = m->data;
	uint32_t len = m->len;

	p += svt_putv(p, svt_zz(m->gpa - st->mem_next));
	st->mem_next = m->gpa + len;
	if (len == 8)
		return enc_mem_word(st, d, p);
	if (all_zero(d, len)) {
		p += svt_putv(p, (uint64_t)(len - 1) << 2 | TR_MEM_ZERO);
		return p;
	}
	if (len % 4 == 0) {
		/* Words, each a zigzag delta from the one before: sequential
		 * page-table entries become one or two bytes each.  4-byte
		 * words suit 32-bit entries, 8-byte words 64-bit ones: the
		 * smaller of the two is used, and only where smaller than the
		 * raw bytes. */
		size_t n64 = 0, n32 = 0;
		uint64_t prev64 = st->w64;
		uint32_t prev32 = st->w32;
		if (len % 8 == 0) {
			/* both sizes from one load of each 8 bytes */
			for (uint32_t i = 0; i < len; i += 8) {
				uint64_t v = svt_get64(d + i);
				uint32_t lo = (uint32_t)v, hi = (uint32_t)(v >> 32);
				n32 += svt_vlen(zz32(lo - prev32)) + svt_vlen(zz32(hi - lo));
				n64 += svt_vlen(svt_zz(v - prev64));
				prev32 = hi;
				prev64 = v;
			}
		} else {
			n64 = SIZE_MAX;
			for (uint32_t i = 0; i < len; i += 4) {
				uint32_t v = svt_get32(d + i);
				n32 += svt_vlen(zz32(v - prev32));
				prev32 = v;
			}
		}
		bool w64 = n64 <= n32;
		size_t wn = w64 ? n64 : n32;
		if (wn < len) {
			p += svt_putv(p, (uint64_t)(len - 1) << 2 |
					 (w64 ? TR_MEM_W64 : TR_MEM_W32));
			if (w64) {
				uint64_t last = st->w64;
				for (uint32_t i = 0; i < len; i += 8) {
					uint64_t v = svt_get64(d + i);
					p += svt_putv(p, svt_zz(v - last));
					last = v;
				}
				st->w64 = last;
			} else {
				uint32_t last = st->w32;
				for (uint32_t i = 0; i < len; i += 4) {
					uint32_t v = svt_get32(d + i);
					p += svt_putv(p, zz32(v - last));
					last = v;
				}
				st->w32 = last;
			}
			return p;
		}
	}
	p += svt_putv(p, (uint64_t)(len - 1) << 2 | TR_MEM_RAW);
	memcpy(p, d, len);
	return p + len;
}

static uint8_t *enc_decision(struct tr_state *st, const struct svt_trace_decision *d, uint8_t *p)
{
	unsigned flags = 0;
	if (d->has_regs)
		flags |= TR_D_REGS;
	if (d->error_code != 0 || d->cr2 != 0)
		flags |= TR_D_INJECT;
	if (d->gpa != 0)
		flags |= TR_D_GPA;
	p += svt_putv(p, (uint64_t)d->input | (uint64_t)d->outcome << 4 | (uint64_t)flags << 7);
	if (d->input != SVT_TRACE_FAULT)
		p += svt_putv(p, svt_zz((uint64_t)(int64_t)d->rc));
	if (flags & TR_D_INJECT) {
		p += svt_putv(p, d->error_code);
		p += svt_putv(p, svt_zz(d->cr2 - st->fault.va));
	}
	if (flags & TR_D_GPA)
		p += svt_putv(p, d->gpa);
	if (flags & TR_D_REGS) {
		p = enc_regs(p, &d->regs, &st->fault.regs);
		st->fault.regs = d->regs;
	}
	return p;
}

/* kind, then CPUID: leaf, subleaf, EAX..EDX; INJECT: vector | has_ec << 5,
 * the error code if any, CR2 if vector 14, RFLAGS (FORMAT.md, CPU) */
static uint8_t *enc_cpu(const struct svt_trace_cpu *c, uint8_t *p)
{
	p += svt_putv(p, c->kind);
	if (c->kind == SVT_CPU_CPUID) {
		p += svt_putv(p, c->leaf);
		p += svt_putv(p, c->subleaf);
		for (unsigned i = 0; i < 4; i++)
			p += svt_putv(p, c->out[i]);
		return p;
	}
	p += svt_putv(p, (uint64_t)c->vector | (c->has_ec ? 1u << 5 : 0));
	if (c->has_ec)
		p += svt_putv(p, c->error_code);
	if (c->vector == 14)
		p += svt_putv(p, c->cr2);
	p += svt_putv(p, c->rflags);
	return p;
}

static uint8_t *enc_payload(struct tr_state *st, const struct svt_trace_event *ev, uint8_t *p)
{
	switch (ev->type) {
	case SVT_TRACE_FAULT:
		return enc_fault(st, &ev->u.fault, p);
	case SVT_TRACE_CR_WRITE: {
		unsigned r = ev->u.cr.reg;
		*p++ = (uint8_t)r;
		p += svt_putv(p, ev->u.cr.val ^ st->cr[r]);
		st->cr[r] = ev->u.cr.val;
		if (ev->u.cr.code64)
			*p++ = TR_CR_CODE64;    /* appended in 1.4; absent: 0 */
		return p;
	}
	case SVT_TRACE_INVLPG:
		p += svt_putv(p, svt_zz(ev->u.invlpg_va - st->inv_va));
		st->inv_va = ev->u.invlpg_va;
		return p;
	case SVT_TRACE_INVPCID:
		p += svt_putv(p, ev->u.invpcid.type);
		p += svt_putv(p, ev->u.invpcid.pcid);
		p += svt_putv(p, svt_zz(ev->u.invpcid.va - st->inv_va));
		st->inv_va = ev->u.invpcid.va;
		return p;
	case SVT_TRACE_FLUSH_ALL:
		return p;
	case SVT_TRACE_MEM:
		return enc_mem(st, &ev->u.mem, p);
	case SVT_TRACE_DECISION:
		return enc_decision(st, &ev->u.decision, p);
	case SVT_TRACE_LOST:
		p += svt_putv(p, ev->u.lost.count);
		p += svt_putv(p, ev->u.lost.reason);
		return p;
	case SVT_TRACE_MARK:
		p += svt_putv(p, svt_zz(ev->u.mark.time - st->mark_time));
		st->mark_time = ev->u.mark.time;
		p += svt_putv(p, ev->u.mark.kind);
		p += svt_putv(p, ev->u.mark.len);
		memcpy(p, ev->u.mark.text, ev->u.mark.len);
		return p + ev->u.mark.len;
	case SVT_TRACE_GUEST:
		return enc_guest(st, &ev->u.guest, p);
	case SVT_TRACE_CPU:
		return enc_cpu(&ev->u.cpu, p);
	case SVT_TRACE_STEP_DONE:
		return p;
	case SVT_TRACE_UNKNOWN:
		if (ev->u.unknown.len > 0)
			memcpy(p, ev->u.unknown.data, ev->u.unknown.len);
		return p + ev->u.unknown.len;
	}
	return p;
}

size_t tr_encode(struct tr_state *st, const struct svt_trace_event *ev, uint8_t *out)
{
	/* The payload goes after room for a one-byte type and length, which
	 * is what most records need; a longer header (at most 7 bytes: a
	 * type below 2^32, a length below 2^14) moves it up. */
	uint64_t type = ev->type == SVT_TRACE_UNKNOWN ? ev->u.unknown.type : (uint64_t)ev->type;
	uint8_t *pl = out + 2;
	size_t plen = (size_t)(enc_payload(st, ev, pl) - pl);
	if (type < 0x80 && plen < 0x80) {
		out[0] = (uint8_t)type;
		out[1] = (uint8_t)plen;
		return 2 + plen;
	}
	size_t h = svt_vlen(type) + svt_vlen(plen);
	memmove(out + h, pl, plen);
	svt_putv(svt_putv(out, type) + out, plen);
	return h + plen;
}
