/*
 * rec-dec.c — records to events, the inverse of rec-enc.c.  Every read
 * is bounded by the record's payload, which is bounded by the frame; every
 * value is range-checked before it is used, so a hostile frame yields a
 * reason ("MEM: length 0") and never a read outside the buffer.  Payload
 * bytes after the fields a type defines are ignored (a later minor version
 * may append fields).
 */
#include "common_deps.h"
#include "rec_codec.h"

#define NEED(cond, msg) do { if (!(cond)) { *why = (msg); return false; } } while (0)

static inline uint64_t *reg_slot(struct svt_emu_regs *r, unsigned i)
{
	if (i < 16)
		return &r->gpr[i];
	if (i == 16)
		return &r->rip;
	if (i == 17)
		return &r->rflags;
	return &r->seg_base[i - 18];
}

/*
 * Registers absent from a record read as zero.  Stored as 16-byte pieces
 * rather than by one memset of the struct: the compiler makes that a
 * string store, whose start-up cost was a quarter of decoding a FAULT or
 * a DECISION.
 */
static inline void zero_regs(struct svt_emu_regs *r)
{
	uint64_t *w = r->gpr;
	_Static_assert(sizeof(*r) == 24 * sizeof(uint64_t) && offsetof(struct svt_emu_regs, rip) ==
		       16 * sizeof(uint64_t), "struct svt_emu_regs is 24 words, gpr[] first");
#pragma GCC unroll 8
	for (unsigned i = 0; i < 16; i += 2)
		w[i] = 0, w[i + 1] = 0;
	r->rip = 0, r->rflags = 0;
	for (unsigned i = 0; i < 6; i += 2)
		r->seg_base[i] = 0, r->seg_base[i + 1] = 0;
}

static bool dec_regs(const uint8_t **p, const uint8_t *end, struct svt_emu_regs *r,
		     const struct svt_emu_regs *base, const char **why)
{
	uint64_t mask, v;
	NEED(svt_getv(p, end, &mask), "register mask runs past the record");
	NEED(mask < (1ull << TR_NREGS), "register mask has bits above 23");
	*r = *base;
	for (uint64_t left = mask; left != 0; left &= left - 1) {      /* the set bits, low first */
		unsigned i = (unsigned)__builtin_ctzll(left);
		NEED(svt_getv(p, end, &v), "register delta runs past the record");
		*reg_slot(r, i) += svt_unzz(v);
	}
	return true;
}

static bool dec_fault(struct tr_state *st, const uint8_t *p, const uint8_t *end,
		      struct svt_trace_fault *f, const char **why)
{
	struct svt_trace_fault *s = &st->fault;
	uint64_t pres, v;

	NEED(svt_getv(&p, end, &pres), "FAULT: truncated");
	NEED(!(pres & ~(uint64_t)TR_F_ALL), "FAULT: unknown presence bits");
	NEED(svt_getv(&p, end, &v), "FAULT: truncated address");
	/* every field, as a memset of the struct and the copies below would
	 * leave it (zero_regs()) */
	zero_regs(&f->regs);
	f->rflags = 0;
	f->va = s->va + svt_unzz(v);
	f->error_code = s->error_code;
	f->cpl = s->cpl;
	f->code_bits = s->code_bits;
	f->pkru = s->pkru;
	f->insn_len = s->insn_len;
	f->has_regs = false;
	/* the whole array: st's bytes after insn_len are zero (below), and
	 * a copy of a fixed size is two moves where one of insn_len bytes
	 * was a string move, whose start-up cost showed in every FAULT */
	memcpy(f->insn, s->insn, sizeof(f->insn));
	if (pres & TR_F_ERR) {
		NEED(svt_getv(&p, end, &v), "FAULT: truncated error code");
		NEED(v <= UINT32_MAX, "FAULT: error code above 32 bits");
		f->error_code = (uint32_t)v;
	}
	if (pres & TR_F_MODE) {
		NEED(p < end, "FAULT: truncated mode");
		uint8_t m = *p++;
		NEED((m & 0xf0) == 0 && (m >> 2) != 3, "FAULT: bad mode byte");
		f->cpl = m & 3;
		f->code_bits = (uint8_t)(16u << (m >> 2));
	}
	if (pres & TR_F_PKRU) {
		NEED(svt_getv(&p, end, &v), "FAULT: truncated PKRU");
		NEED(v <= UINT32_MAX, "FAULT: PKRU above 32 bits");
		f->pkru = (uint32_t)v;
	}
	if (pres & TR_F_INSN) {
		NEED(p < end, "FAULT: truncated instruction");
		uint8_t n = *p++;
		NEED(n <= SVT_TRACE_MAX_INSN, "FAULT: instruction longer than 15 bytes");
		NEED((size_t)(end - p) >= n, "FAULT: instruction runs past the record");
		memset(f->insn, 0, sizeof(f->insn));
		memcpy(f->insn, p, n);
		f->insn_len = n;
		p += n;
	}
	if (pres & TR_F_REGS) {
		if (!dec_regs(&p, end, &f->regs, &s->regs, why))
			return false;
		f->has_regs = true;
		s->regs = f->regs;
	}
	f->rflags = f->has_regs ? f->regs.rflags : s->rflags;
	if (pres & TR_F_RFLAGS)
		NEED(svt_getv(&p, end, &f->rflags), "FAULT: truncated RFLAGS");
	f->in_delivery = false;
	f->has_dt = false;
	memset(&f->dt, 0, sizeof(f->dt));
	if (p < end) {                  /* since 1.5 */
		NEED(svt_getv(&p, end, &v), "FAULT: truncated extension");
		NEED(!(v & ~(uint64_t)TR_FX_ALL), "FAULT: unknown extension bits");
		f->in_delivery = (v & TR_FX_DELIVERY) != 0;
		f->has_dt = (v & TR_FX_TABLES) != 0;
		for (unsigned t = 0; f->has_dt && t < SVT_DT_COUNT; t++) {
			uint64_t lim;
			NEED(svt_getv(&p, end, &f->dt.base[t]), "FAULT: truncated table base");
			NEED(svt_getv(&p, end, &lim), "FAULT: truncated table limit");
			NEED(lim <= (uint64_t)UINT32_MAX + 1, "FAULT: table limit above 32 bits");
			f->dt.usable[t] = lim != 0;
			f->dt.limit[t] = lim ? (uint32_t)(lim - 1) : 0;
		}
	}

	s->va = f->va;
	s->error_code = f->error_code;
	s->cpl = f->cpl;
	s->code_bits = f->code_bits;
	s->pkru = f->pkru;
	s->insn_len = f->insn_len;
	memcpy(s->insn, f->insn, sizeof(s->insn));     /* zero after insn_len, as f's */
	s->rflags = f->rflags;
	return true;
}

static bool dec_mem(struct tr_state *st, const uint8_t *p, const uint8_t *end,
		    struct svt_trace_mem *m, uint8_t *membuf, const char **why)
{
	uint64_t v, le;

	NEED(svt_getv(&p, end, &v), "MEM: truncated address");
	NEED(svt_getv(&p, end, &le), "MEM: truncated length");
	NEED(le >> 2 < SVT_TRACE_MAX_MEM, "MEM: length above 4096");
	m->gpa = st->mem_next + svt_unzz(v);
	m->len = (uint32_t)(le >> 2) + 1;
	NEED(m->gpa < (1ull << 52) && m->gpa + m->len <= (1ull << 52), "MEM: address beyond 2^52");
	st->mem_next = m->gpa + m->len;

	switch (le & 3) {
	case TR_MEM_RAW:
		NEED((size_t)(end - p) >= m->len, "MEM: data runs past the record");
		m->data = p;
		return true;
	case TR_MEM_ZERO: {
		static const uint8_t zeros[SVT_TRACE_MAX_MEM];     /* not cleared per record */
		m->data = zeros;
		return true;
	}
	case TR_MEM_W64: {
		NEED(m->len % 8 == 0, "MEM: 8-byte word encoding of a length not a multiple of 8");
		uint64_t w = st->w64;
		for (uint32_t i = 0; i < m->len; i += 8) {
			NEED(svt_getv(&p, end, &v), "MEM: word runs past the record");
			w += svt_unzz(v);
			svt_put64(membuf + i, w);
		}
		st->w64 = w;
		m->data = membuf;
		return true;
	}
	default: {  /* TR_MEM_W32 */
		NEED(m->len % 4 == 0, "MEM: 4-byte word encoding of a length not a multiple of 4");
		uint32_t w = st->w32;
		for (uint32_t i = 0; i < m->len; i += 4) {
			NEED(svt_getv(&p, end, &v), "MEM: word runs past the record");
			uint64_t d = svt_unzz(v);
			NEED((int64_t)d >= INT32_MIN && (int64_t)d <= INT32_MAX,
			     "MEM: 4-byte word delta out of range");
			w += (uint32_t)d;
			svt_put32(membuf + i, w);
		}
		st->w32 = w;
		m->data = membuf;
		return true;
	}
	}
}

static bool dec_guest(struct tr_state *st, const uint8_t *p, const uint8_t *end,
		      struct svt_trace_guest *g, const char **why)
{
	uint64_t head, v;

	memset(g, 0, sizeof(*g));
	NEED(svt_getv(&p, end, &head), "GUEST: truncated");
	NEED(head < 256, "GUEST: head above 8 bits");
	g->kind = head & 7;
	g->flags = (head >> 3) & 7;
	g->cpl = (uint8_t)(head >> 6);
	NEED(g->kind < SVT_GUEST_NKINDS, "GUEST: unknown kind");
	if (g->kind != SVT_GUEST_RFLAGS && g->kind != SVT_GUEST_PKRU) {
		NEED(svt_getv(&p, end, &v), "GUEST: truncated address");
		g->va = st->guest_va += svt_unzz(v);
	}
	if (g->kind == SVT_GUEST_WRITE) {
		NEED(end - p >= 2, "GUEST: truncated instruction");
		g->op = *p++;
		g->size = *p++;
	}
	if (g->kind == SVT_GUEST_WRITE || g->kind == SVT_GUEST_CLEAR) {
		NEED(svt_getv(&p, end, &v), "GUEST: truncated code address");
		g->rip = st->guest_rip += svt_unzz(v);
	}
	if (g->kind >= SVT_GUEST_WRITE) {
		NEED(svt_getv(&p, end, &g->val[0]), "GUEST: truncated value");
		if (g->size == 16)
			NEED(svt_getv(&p, end, &g->val[1]), "GUEST: truncated value");
	}
	if (g->kind == SVT_GUEST_WRITE && g->op >= SVT_GUEST_CMPXCHG) {
		NEED(svt_getv(&p, end, &g->cmp[0]), "GUEST: truncated compare value");
		if (g->size == 16)
			NEED(svt_getv(&p, end, &g->cmp[1]), "GUEST: truncated compare value");
	}
	if (g->flags & SVT_GUEST_INJECTED) {
		NEED(svt_getv(&p, end, &v), "GUEST: truncated error code");
		NEED(v <= UINT32_MAX, "GUEST: error code above 32 bits");
		g->error_code = (uint32_t)v;
		NEED(svt_getv(&p, end, &v), "GUEST: truncated CR2");
		g->cr2 = g->va + svt_unzz(v);
	}
	const char *bad = tr_check_guest(g);
	NEED(bad == NULL, bad);
	return true;
}

static bool dec_cpu(const uint8_t *p, const uint8_t *end, struct svt_trace_cpu *c,
		    const char **why)
{
	uint64_t v;

	memset(c, 0, sizeof(*c));
	NEED(svt_getv(&p, end, &v), "CPU: truncated");
	NEED(v < SVT_CPU_NKINDS, "CPU: unknown kind");
	c->kind = (uint8_t)v;
	if (c->kind == SVT_CPU_CPUID) {
		NEED(svt_getv(&p, end, &v), "CPU: truncated leaf");
		NEED(v <= UINT32_MAX, "CPU: leaf above 32 bits");
		c->leaf = (uint32_t)v;
		NEED(svt_getv(&p, end, &v), "CPU: truncated subleaf");
		NEED(v <= UINT32_MAX, "CPU: subleaf above 32 bits");
		c->subleaf = (uint32_t)v;
		for (unsigned i = 0; i < 4; i++) {
			NEED(svt_getv(&p, end, &v), "CPU: truncated CPUID result");
			NEED(v <= UINT32_MAX, "CPU: CPUID result above 32 bits");
			c->out[i] = (uint32_t)v;
		}
		return true;
	}
	NEED(svt_getv(&p, end, &v), "CPU: truncated vector");
	NEED(v < 64, "CPU: vector above 31 or unknown flag bits");
	c->vector = (uint8_t)(v & 31);
	c->has_ec = (v >> 5) & 1;
	if (c->has_ec) {
		NEED(svt_getv(&p, end, &v), "CPU: truncated error code");
		NEED(v <= UINT32_MAX, "CPU: error code above 32 bits");
		c->error_code = (uint32_t)v;
	}
	if (c->vector == 14)
		NEED(svt_getv(&p, end, &c->cr2), "CPU: truncated CR2");
	NEED(svt_getv(&p, end, &c->rflags), "CPU: truncated RFLAGS");
	return true;
}

static bool dec_decision(struct tr_state *st, const uint8_t *p, const uint8_t *end,
			 struct svt_trace_decision *d, const char **why)
{
	uint64_t head, v;

	NEED(svt_getv(&p, end, &head), "DECISION: truncated");
	NEED(head < (1u << 10), "DECISION: unknown flag bits");
	/* every field, as a memset of the struct would leave it (zero_regs()) */
	zero_regs(&d->regs);
	d->rc = 0;
	d->error_code = 0;
	d->cr2 = 0;
	d->gpa = 0;
	d->has_regs = false;
	d->input = head & 15;
	d->outcome = (head >> 4) & 7;
	unsigned flags = (unsigned)(head >> 7);
	if (d->input == SVT_TRACE_FAULT) {
		NEED(d->outcome <= SVT_PF_RETRY, "DECISION: unknown fault outcome");
	} else {
		NEED(d->input == SVT_TRACE_CR_WRITE || d->input == SVT_TRACE_INVPCID,
		     "DECISION: input is not FAULT, CR_WRITE or INVPCID");
		NEED(d->outcome == 0 && flags == 0, "DECISION: fault fields on a non-fault");
		NEED(svt_getv(&p, end, &v), "DECISION: truncated return code");
		v = svt_unzz(v);
		NEED((int64_t)v >= INT32_MIN && (int64_t)v <= INT32_MAX,
		     "DECISION: return code out of range");
		d->rc = (int32_t)(int64_t)v;
	}
	if (flags & TR_D_INJECT) {
		NEED(svt_getv(&p, end, &v), "DECISION: truncated error code");
		NEED(v <= UINT32_MAX, "DECISION: error code above 32 bits");
		d->error_code = (uint32_t)v;
		NEED(svt_getv(&p, end, &v), "DECISION: truncated CR2");
		d->cr2 = st->fault.va + svt_unzz(v);
	}
	if (flags & TR_D_GPA)
		NEED(svt_getv(&p, end, &d->gpa), "DECISION: truncated gpa");
	if (flags & TR_D_REGS) {
		if (!dec_regs(&p, end, &d->regs, &st->fault.regs, why))
			return false;
		d->has_regs = true;
		st->fault.regs = d->regs;
	}
	return true;
}

static bool dec_payload(struct tr_state *st, uint64_t type, const uint8_t *p, const uint8_t *end,
			struct svt_trace_event *ev, uint8_t *membuf, const char **why)
{
	uint64_t v;

	switch (type) {
	case SVT_TRACE_FAULT:
		return dec_fault(st, p, end, &ev->u.fault, why);
	case SVT_TRACE_CR_WRITE:
		NEED(p < end, "CR_WRITE: truncated");
		ev->u.cr.reg = *p++;
		NEED(ev->u.cr.reg <= SVT_TRACE_EFER, "CR_WRITE: unknown register");
		NEED(svt_getv(&p, end, &v), "CR_WRITE: truncated value");
		ev->u.cr.val = st->cr[ev->u.cr.reg] ^ v;
		st->cr[ev->u.cr.reg] = ev->u.cr.val;
		ev->u.cr.code64 = false;
		if (p < end) {          /* the mode flags, appended in 1.4 */
			NEED(svt_getv(&p, end, &v), "CR_WRITE: truncated mode");
			NEED(!(v & ~(uint64_t)TR_CR_CODE64), "CR_WRITE: unknown mode bits");
			ev->u.cr.code64 = (v & TR_CR_CODE64) != 0;
		}
		return true;
	case SVT_TRACE_INVLPG:
		NEED(svt_getv(&p, end, &v), "INVLPG: truncated");
		ev->u.invlpg_va = st->inv_va += svt_unzz(v);
		return true;
	case SVT_TRACE_INVPCID:
		NEED(svt_getv(&p, end, &v), "INVPCID: truncated type");
		NEED(v <= 3, "INVPCID: type above 3");
		ev->u.invpcid.type = (uint32_t)v;
		NEED(svt_getv(&p, end, &ev->u.invpcid.pcid), "INVPCID: truncated PCID");
		NEED(svt_getv(&p, end, &v), "INVPCID: truncated address");
		ev->u.invpcid.va = st->inv_va += svt_unzz(v);
		return true;
	case SVT_TRACE_FLUSH_ALL:
		return true;
	case SVT_TRACE_MEM:
		return dec_mem(st, p, end, &ev->u.mem, membuf, why);
	case SVT_TRACE_DECISION:
		return dec_decision(st, p, end, &ev->u.decision, why);
	case SVT_TRACE_LOST:
		NEED(svt_getv(&p, end, &ev->u.lost.count), "LOST: truncated count");
		NEED(ev->u.lost.count > 0, "LOST: count 0");
		NEED(svt_getv(&p, end, &v), "LOST: truncated reason");
		NEED(v <= UINT32_MAX && v != SVT_TRACE_LOST_GAP, "LOST: bad reason");
		ev->u.lost.reason = (uint32_t)v;
		return true;
	case SVT_TRACE_GUEST:
		return dec_guest(st, p, end, &ev->u.guest, why);
	case SVT_TRACE_CPU:
		return dec_cpu(p, end, &ev->u.cpu, why);
	case SVT_TRACE_STEP_DONE:
		return true;    /* (no fields: a later minor's appended ones are ignored) */
	case SVT_TRACE_MARK: {
		struct svt_trace_mark *m = &ev->u.mark;
		NEED(svt_getv(&p, end, &v), "MARK: truncated time");
		m->time = st->mark_time += svt_unzz(v);
		NEED(svt_getv(&p, end, &v), "MARK: truncated kind");
		NEED(v <= UINT32_MAX, "MARK: kind above 32 bits");
		m->kind = (uint32_t)v;
		NEED(svt_getv(&p, end, &v), "MARK: truncated length");
		NEED(v <= SVT_TRACE_MAX_MARK, "MARK: text longer than 255 bytes");
		NEED((uint64_t)(end - p) >= v, "MARK: text runs past the record");
		NEED(!svt_has_nul(p, (size_t)v), "MARK: NUL in text");
		m->len = (uint16_t)v;
		memcpy(m->text, p, m->len);
		m->text[m->len] = '\0';
		return true;
	}
	}
	*why = "record type 0 is reserved";
	return false;
}

bool tr_decode(struct tr_state *st, const uint8_t **pp, const uint8_t *end,
	       struct svt_trace_event *ev, uint8_t *membuf, const char **why)
{
	const uint8_t *p = *pp;
	uint64_t type, len;

	NEED(svt_getv(&p, end, &type), "record type runs past the frame");
	NEED(svt_getv(&p, end, &len), "record length runs past the frame");
	NEED(len <= (uint64_t)(end - p), "record length runs past the frame");
	if (type >= SVT_TRACE_NTYPES) {
		NEED(type <= UINT32_MAX, "record type above 2^32-1");
		ev->type = SVT_TRACE_UNKNOWN;
		ev->u.unknown.type = type;
		ev->u.unknown.len = (uint32_t)len;
		ev->u.unknown.data = p;
	} else {
		ev->type = (enum svt_trace_type)type;
		if (!dec_payload(st, type, p, p + len, ev, membuf, why))
			return false;
	}
	*pp = p + len;
	return true;
}
