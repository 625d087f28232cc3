/*
 * recorder.c — the one recorder (recorder.h).
 */
#include "common_deps.h"
#include "recorder.h"

#define PROF_START() (SVT_PROFILING ? svt_ticks() : 0)
#define PROF_END(r, part, t0) \
	do { if (SVT_PROFILING) (r)->prof[part] += svt_ticks() - (t0); } while (0)

static inline void emit(struct svt_recorder *r, const struct svt_trace_event *ev)
{
	r->c.emit(r->c.emit_ctx, ev);
	r->events += svt_trace_event_span(ev);
}

/* ---- MEM spans ----------------------------------------------------------- */

/* Emit the open span as one MEM record. */
static void span_flush(struct svt_recorder *r)
{
	if (r->span_len == 0)
		return;
	struct svt_trace_event ev;
	ev.type = SVT_TRACE_MEM;
	ev.seq = 0;
	ev.u.mem.gpa = r->span_gpa;
	ev.u.mem.len = r->span_len;
	ev.u.mem.data = r->span;
	r->mem_bytes += r->span_len;
	r->span_len = 0;
	emit(r, &ev);
}

/*
 * Bytes [gpa, gpa + len) of one page hold data (read from the truth):
 * they extend the open span when they follow it in the same page, else
 * the open span goes out and they open the next.  A MEM record written
 * before the input it serves is all the order needs (the replayer applies
 * every MEM before the input), so spans go out as soon as they close.
 */
static void pend(struct svt_recorder *r, uint64_t gpa, const uint8_t *data, size_t len)
{
	if (r->span_len == 0 || r->span_gpa + r->span_len != gpa || (gpa & 0xfff) == 0) {
		span_flush(r);
		r->span_gpa = gpa;
	}
	if (len == 8)
		__builtin_memcpy(r->span + r->span_len, data, 8);
	else
		memcpy(r->span + r->span_len, data, len);
	r->span_len += (uint32_t)len;
}

/* ---- the mirror ---------------------------------------------------------- */

static inline unsigned bucket(const struct svt_recorder *r, uint64_t gfn)
{
	/* the top bits of a multiplicative hash */
	return (unsigned)((gfn * 0x9e3779b97f4a7c15ull) >> r->hash_shift);
}

static struct svt_rec_slot *slot_find(struct svt_recorder *r, uint64_t gfn, bool make);

/* The slot of gfn, looked up (and made, if make): the two slots found
 * last first, in line, then the hash.  Every way marks it looked up. */
static inline struct svt_rec_slot *slot_of(struct svt_recorder *r, uint64_t gfn, bool make)
{
	struct svt_rec_slot *sl = r->c.slots;
	/* a walk, a prefetch and a resync read one page again and again; a
	 * walk's evidence and the core's own walk read two pages in turn */
	if (r->last_slot >= 0 && sl[r->last_slot].used && sl[r->last_slot].gfn == gfn) {
		sl[r->last_slot].ref = true;
		return &sl[r->last_slot];
	}
	int32_t p = r->prev_slot;
	if (p >= 0 && sl[p].used && sl[p].gfn == gfn) {
		sl[p].ref = true;
		r->prev_slot = r->last_slot;
		r->last_slot = p;
		return &sl[p];
	}
	return slot_find(r, gfn, make);
}

static struct svt_rec_slot *slot_find(struct svt_recorder *r, uint64_t gfn, bool make)
{
	struct svt_rec_slot *sl = r->c.slots;
	unsigned b = bucket(r, gfn);
	for (int32_t i = r->c.hash[b]; i >= 0; i = sl[i].next)
		if (sl[i].gfn == gfn) {
			sl[i].ref = true;
			r->prev_slot = r->last_slot;
			r->last_slot = i;
			return &sl[i];
		}
	if (!make)
		return NULL;
	/* take the next slot round the clock that was not looked up since
	 * the hand last passed (a second chance: the page tables the core
	 * reads again and again stay), dropping what it held */
	while (sl[r->clock_hand].used && sl[r->clock_hand].ref) {
		sl[r->clock_hand].ref = false;
		r->clock_hand = (r->clock_hand + 1) % r->c.nslots;
	}
	int32_t idx = (int32_t)r->clock_hand;
	struct svt_rec_slot *s = &sl[idx];
	r->clock_hand = (r->clock_hand + 1) % r->c.nslots;
	if (s->used) {
		r->evictions++;
		for (int32_t *pp = &r->c.hash[bucket(r, s->gfn)]; *pp >= 0; pp = &sl[*pp].next)
			if (*pp == idx) {
				*pp = s->next;
				break;
			}
	}
	s->used = true;
	s->ref = false;
	s->gfn = gfn;
	memset(s->known, 0, sizeof(s->known));
	s->next = r->c.hash[b];
	r->c.hash[b] = idx;
	r->prev_slot = r->last_slot;
	r->last_slot = idx;
	return s;
}

/* One whole word at gpa (8-aligned, in one page) the core read: logged
 * unless the mirror holds it with this value. */
static inline void note_word(struct svt_recorder *r, struct svt_rec_slot *s, uint64_t gpa,
			     uint64_t now)
{
	unsigned off = (unsigned)(gpa & 0xfff);
	uint64_t *known = &s->known[off >> 9], m = 1ull << ((off >> 3) & 63), had;
	__builtin_memcpy(&had, s->data + off, 8);
	if (!(*known & m) || now != had) {
		__builtin_memcpy(s->data + off, &now, 8);
		*known |= m;
		uint8_t b[8];
		__builtin_memcpy(b, &now, 8);
		pend(r, gpa, b, 8);
	}
}

/* Whole 8-byte words the core read: log those the mirror does not hold. */
static void note_read(struct svt_recorder *r, uint64_t gpa, const uint8_t *buf, size_t len)
{
	uint64_t end = gpa + len;
	/* The common case: whole words within one page (a page-table entry,
	 * a run of them, a piece of a page), the page looked up once and
	 * each word compared as one. */
	if (len && !(gpa & 7) && !(len & 7) && ((end - 1) >> 12) == (gpa >> 12)) {
		struct svt_rec_slot *s = slot_of(r, gpa >> 12, true);
		unsigned off = (unsigned)(gpa & 0xfff);
		size_t i = 0;
		while (i < len) {
			/* the read's part in this block of 64 words (one
			 * word of the known bits) */
			uint64_t *known = &s->known[off >> 9];
			size_t n = 512 - (off & 511);
			if (n > len - i)
				n = len - i;
			/* the words of the block the read covers: a read of part
			 * of a block (a resync reads from the first present
			 * entry to the last) never makes the others known */
			uint64_t want = n == 512 ? ~0ull :
				((1ull << (n >> 3)) - 1) << ((off >> 3) & 63);
			if ((*known & want) == want) {
				/* all known: the words that differ now (a table
				 * the guest wrote), if any, as note_word() takes
				 * them, each run of equal ones passed in one */
				for (size_t end1 = i + n;;) {
					size_t k = svt_same_words(s->data + off, buf + i,
								  (end1 - i) >> 3);
					i += 8 * k, off += 8 * (unsigned)k;
					if (i == end1)
						break;
					/* the run of words that differ, one by one
					 * (a table copied whole differs in every
					 * word: no compare started for each) */
					uint64_t now, had;
					do {
						__builtin_memcpy(s->data + off, buf + i, 8);
						pend(r, gpa + i, buf + i, 8);
						i += 8, off += 8;
						if (i == end1)
							break;
						__builtin_memcpy(&now, buf + i, 8);
						__builtin_memcpy(&had, s->data + off, 8);
					} while (now != had);
					if (i == end1)
						break;
				}
				continue;
			}
			if (n == 512 && *known == 0) {
				/* nothing known (a page table seen for the
				 * first time): taken and logged whole */
				memcpy(s->data + off, buf + i, 512);
				*known = ~0ull;
				pend(r, gpa + i, buf + i, 512);
				i += n, off += (unsigned)n;
				continue;
			}
			for (size_t end1 = i + n; i < end1; i += 8, off += 8) {
				uint64_t now;
				__builtin_memcpy(&now, buf + i, 8);
				note_word(r, s, gpa + i, now);
			}
		}
		return;
	}
	/* Anything else: word by word, each completed from memory. */
	for (uint64_t w = gpa & ~7ull; w < end; w += 8) {
		if (w >= r->c.note_limit)
			break;
		struct svt_rec_slot *s = slot_of(r, w >> 12, true);
		uint8_t word[8];
		/* the word as it is now: the read bytes, the rest from RAM */
		r->c.raw->read_gpa(r->c.raw->ctx, w, word, 8);
		for (unsigned k = 0; k < 8; k++)
			if (w + k >= gpa && w + k < end)
				word[k] = buf[w + k - gpa];
		uint64_t now;
		__builtin_memcpy(&now, word, 8);
		note_word(r, s, w, now);
	}
}

/* ---- the environment the core sees -------------------------------------- */

static int rec_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct svt_recorder *r = ctx;
	uint64_t t = PROF_START();
	if (len == 8 && !(gpa & 7) && r->c.direct && gpa < r->c.note_limit &&
	    r->c.note_limit - gpa >= 8) {
		/* one entry of a guest table (a walk reads them one by one):
		 * loaded, and checked against the mirror, as one word */
		uint64_t now;
		__builtin_memcpy(&now, r->c.direct + gpa, 8);
		__builtin_memcpy(buf, &now, 8);
		note_word(r, slot_of(r, gpa >> 12, true), gpa, now);
		PROF_END(r, SVT_REC_PROF_READ, t);
		return 0;
	}
	if (len == 4 && !(gpa & 3) && r->c.direct && gpa < r->c.note_limit &&
	    r->c.note_limit - gpa >= 8) {
		/* one entry of a 2-level table: the aligned word holding it,
		 * noted as note_read() notes a part of a word (the whole word
		 * as memory holds it) */
		uint64_t w = gpa & ~7ull, now;
		__builtin_memcpy(&now, r->c.direct + w, 8);
		__builtin_memcpy(buf, (const uint8_t *)&now + (gpa & 4), 4);
		note_word(r, slot_of(r, w >> 12, true), w, now);
		PROF_END(r, SVT_REC_PROF_READ, t);
		return 0;
	}
	uint64_t w = gpa & ~7ull, we = (gpa + len + 7) & ~7ull;
	if (len && r->c.direct && gpa < r->c.note_limit && r->c.note_limit - w >= we - w &&
	    ((we - 1) >> 12) == (gpa >> 12)) {
		/* entries in one page (a prefetch, a resync): the whole words
		 * holding them, as memory holds them, noted as one run (4-byte
		 * entries need not start or end on a word) */
		memcpy(buf, r->c.direct + gpa, len);
		note_read(r, w, r->c.direct + w, we - w);
		PROF_END(r, SVT_REC_PROF_READ, t);
		return 0;
	}
	int rc = r->c.raw->read_gpa(r->c.raw->ctx, gpa, buf, len);
	if (rc == 0 && gpa < r->c.note_limit)
		note_read(r, gpa, buf, len);
	PROF_END(r, SVT_REC_PROF_READ, t);
	return rc;
}

static int rec_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct svt_recorder *r = ctx;
	int rc = r->c.raw->write_gpa(r->c.raw->ctx, gpa, buf, len);
	/* the replayer's core makes the same write: keep the mirror with it
	 * (most are an A or D bit: one entry, the page looked up once) */
	for (size_t i = 0; i < len;) {
		size_t n = 4096 - ((gpa + i) & 0xfff);
		if (n > len - i)
			n = len - i;
		struct svt_rec_slot *s = slot_of(r, (gpa + i) >> 12, false);
		if (s)
			memcpy(s->data + ((gpa + i) & 0xfff), (const uint8_t *)buf + i, n);
		i += n;
	}
	return rc;
}

static svt_mfn_t rec_g2m(void *ctx, svt_gfn_t gfn)
{
	const struct svt_env *raw = ((struct svt_recorder *)ctx)->c.raw;
	return raw->gfn_to_mfn(raw->ctx, gfn);
}

static void *rec_map(void *ctx, svt_mfn_t mfn)
{
	const struct svt_env *raw = ((struct svt_recorder *)ctx)->c.raw;
	return raw->map_mfn(raw->ctx, mfn);
}

static void rec_flush(void *ctx, int kind, uint64_t va)
{
	const struct svt_env *raw = ((struct svt_recorder *)ctx)->c.raw;
	raw->flush_tlb(raw->ctx, kind, va);
}

static void rec_event(void *ctx, const struct svt_event *ev)
{
	struct svt_recorder *r = ctx;
	const struct svt_env *raw = r->c.raw;
	/* the tables out of sync, for the table evidence */
	if (ev->kind == SVT_EV_OOS) {
		r->oos[r->oos_next] = ev->a;
		r->oos_next = (r->oos_next + 1) % SVT_REC_OOS_MAX;
	} else if (ev->kind == SVT_EV_UNSHADOW || ev->kind == SVT_EV_RESET ||
		   (ev->kind == SVT_EV_RESYNC && ev->b == 0) ||
		   (ev->kind == SVT_EV_SHADOW_FREE && ev->b == 1)) {
		for (unsigned i = 0; i < SVT_REC_OOS_MAX; i++)
			if (ev->kind == SVT_EV_RESET || r->oos[i] == ev->a)
				r->oos[i] = ~0ull;
	}
	if (raw->event)
		raw->event(raw->ctx, ev);
}

static uint64_t rec_ticks(void *ctx)
{
	const struct svt_env *raw = ((struct svt_recorder *)ctx)->c.raw;
	return raw->ticks(raw->ctx);
}

bool svt_recorder_init(struct svt_recorder *r, const struct svt_recorder_config *cfg)
{
	if (!cfg->raw || !cfg->slots || cfg->nslots == 0 || cfg->nslots > INT32_MAX || !cfg->hash ||
	    cfg->nhash < 2 || (cfg->nhash & (cfg->nhash - 1)) != 0 || !cfg->emit)
		return false;
	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < SVT_REC_OOS_MAX; i++)
		r->oos[i] = ~0ull;
	r->c = *cfg;
	r->last_slot = -1;
	r->prev_slot = -1;
	r->hash_shift = 64;
	for (unsigned n = cfg->nhash; n > 1; n >>= 1)
		r->hash_shift--;
	for (unsigned i = 0; i < cfg->nhash; i++)
		cfg->hash[i] = -1;
	for (unsigned i = 0; i < cfg->nslots; i++)
		cfg->slots[i].used = false;
	r->env = (struct svt_env){
		.ctx = r, .read_gpa = rec_read, .write_gpa = rec_write, .gfn_to_mfn = rec_g2m,
		.map_mfn = rec_map, .flush_tlb = rec_flush,
		.event = rec_event,     /* the table evidence follows out-of-sync pages */
		.ticks = cfg->raw->ticks ? rec_ticks : NULL,
	};
	return true;
}

const struct svt_env *svt_recorder_env(const struct svt_recorder *r)
{
	return &r->env;
}

/* ---- evidence: the guest's walk, read without the core ------------------ */

/* One entry of the walk (size 4 or 8 at gpa), noted through the mirror
 * like a read of the core's; *e gets its value, 0 if it cannot be read. */
static inline void evidence_entry(struct svt_recorder *r, uint64_t gpa, unsigned size, uint64_t *e)
{
	uint8_t b[8] = { 0 };
	*e = 0;
	if (gpa >= r->c.note_limit || r->c.note_limit - gpa < 8)
		return;         /* not RAM: a replayer reads all ones there too */
	r->evidence_reads++;
	if (r->c.direct) {
		/* the whole aligned word holding the entry, as the core's
		 * single-entry reads are noted (rec_read) */
		uint64_t w = gpa & ~7ull, now;
		__builtin_memcpy(&now, r->c.direct + w, 8);
		note_word(r, slot_of(r, w >> 12, true), w, now);
		*e = size == 8 ? now : (uint32_t)(now >> (8 * (gpa & 4)));
		return;
	}
	if (r->c.raw->read_gpa(r->c.raw->ctx, gpa, b, size) != 0)
		return;
	note_read(r, gpa, b, size);
	for (unsigned i = 0; i < size; i++)
		*e |= (uint64_t)b[i] << (8 * i);
}

/*
 * The guest's page walk for va, entry by entry, from the paging registers
 * the recorder saw accepted: what a reference walker needs to judge the
 * core's answer, read whether or not the core reads it.  Only the
 * structure of the walk (which entry each level selects, where it stops)
 * is followed here; no rights, no reserved bits: judging is the replay's.
 */
static void walk_entries(struct svt_recorder *r, uint64_t va);

static void evidence_walk(struct svt_recorder *r, uint64_t va)
{
	if (!(r->c.evidence & SVT_EVIDENCE_WALK) || !(r->cr0 & (1ull << 31)))
		return;         /* paging off: no walk */
	uint64_t t = PROF_START();
	walk_entries(r, va);
	PROF_END(r, SVT_REC_PROF_READ, t);
}

static void walk_entries(struct svt_recorder *r, uint64_t va)
{
	const uint64_t P = 1, PS = 1ull << 7, ADDR = 0x000ffffffffff000ull;
	uint64_t e;
	if (!(r->cr4 & (1ull << 5))) {
		/* 32-bit paging: PDE, then PTE unless a 4 MiB page (CR4.PSE) */
		evidence_entry(r, (r->cr3 & 0xfffff000u) + ((va >> 22) & 0x3ff) * 4, 4, &e);
		if ((e & P) && !((e & PS) && (r->cr4 & (1ull << 4))))
			evidence_entry(r, (e & 0xfffff000u) + ((va >> 12) & 0x3ff) * 4, 4, &e);
		return;
	}
	uint64_t table;
	int level;
	if (!(r->efer & (1ull << 8))) {
		/* PAE: the PDPTE (as memory holds it now), then the PD and PT */
		evidence_entry(r, (r->cr3 & 0xffffffe0u) + ((va >> 30) & 3) * 8, 8, &e);
		if (!(e & P))
			return;
		table = e & ADDR;
		level = 2;
	} else {
		level = (r->cr4 & (1ull << 12)) ? 5 : 4;        /* CR4.LA57 */
		table = r->cr3 & ADDR;
	}
	for (; level >= 1; level--) {
		evidence_entry(r, table + ((va >> (12 + 9 * (level - 1))) & 511) * 8, 8, &e);
		if (!(e & P) || (level <= 3 && level >= 2 && (e & PS)))
			return;
		table = e & ADDR;
	}
}

/* ---- evidence: the guest's own stores ----------------------------------- */

void svt_recorder_guest_store(struct svt_recorder *r, uint64_t gpa, size_t len)
{
	if (!(r->c.evidence & SVT_EVIDENCE_STORES) || len == 0)
		return;
	uint64_t t = PROF_START();
	for (uint64_t w = gpa & ~7ull; w < gpa + len; w += 8) {
		uint64_t now;
		if (w >= r->c.note_limit || r->c.note_limit - w < 8)
			break;  /* not RAM: a replayer knows what lies there */
		if (r->c.direct)
			__builtin_memcpy(&now, r->c.direct + w, 8);
		else if (r->c.raw->read_gpa(r->c.raw->ctx, w, &now, 8) != 0)
			continue;
		note_word(r, slot_of(r, w >> 12, true), w, now);
	}
	PROF_END(r, SVT_REC_PROF_READ, t);
}

/* ---- evidence: the tables a flush makes current ------------------------- */

/*
 * The words of the guest table at gpa (bytes of it from there) that the
 * mirror holds: each one that memory now holds with another value is
 * logged again (note_word).  What the mirror does not hold the replayer
 * does not know either, and nothing it knows of this table is left stale.
 */
static void table_known(struct svt_recorder *r, struct svt_rec_slot *s, uint64_t gpa, unsigned len)
{
	unsigned off = (unsigned)(gpa & 0xfff), end = off + len;
	if (r->c.direct && off == 0 && len == 4096) {
		/* a block of 64 words at a time: most blocks are unknown, or
		 * known and unchanged (one compare of the block,
		 * svt_same_words()); else the known words where memory
		 * differs */
		const uint8_t *mem = r->c.direct + gpa;
		for (unsigned b = 0; b < 8; b++) {
			uint64_t known = s->known[b];
			unsigned o = b * 512;
			if (!known)
				continue;
			for (unsigned k = 0;;) {
				/* past the equal words, to the next that differs */
				size_t same = svt_same_words(mem + o, s->data + o, 64 - k);
				k += (unsigned)same, o += 8 * (unsigned)same;
				if (k == 64)
					break;
				uint64_t now;
				__builtin_memcpy(&now, mem + o, 8);
				if (known >> k & 1)
					note_word(r, s, gpa + o, now);
				k++, o += 8;
			}
		}
		return;
	}
	for (; off < end; off += 8) {
		uint64_t bit = 1ull << ((off >> 3) & 63), now;
		if (!(s->known[off >> 9] & bit))
			continue;
		uint64_t w = (gpa & ~0xfffull) + off;
		if (r->c.direct)
			__builtin_memcpy(&now, r->c.direct + w, 8);
		else if (r->c.raw->read_gpa(r->c.raw->ctx, w, &now, 8) != 0)
			continue;
		note_word(r, s, w, now);
	}
}

/*
 * After a flush of the whole address space the core accepted: the guest
 * tables that changed without exits, i.e. those the core let out of sync
 * (the last SVT_REC_OOS_MAX of its SVT_EV_OOS events, while shadowed),
 * as they were before the input (oos: the core may protect them again):
 * the words of each that the replayer holds, logged again where memory
 * now differs.  A table the core left writable without saying so is
 * INV-WP's to find (shadowed in-sync tables are read-only).
 */
static void evidence_tables(struct svt_recorder *r, const uint64_t *oos)
{
	if (!(r->c.evidence & SVT_EVIDENCE_TABLES))
		return;
	uint64_t t = PROF_START();
	for (unsigned i = 0; i < SVT_REC_OOS_MAX; i++) {
		uint64_t gfn = oos[i];
		if (gfn == ~0ull || (gfn << 12) >= r->c.note_limit)
			continue;
		/* (the hash at once: the slots found last are rarely these) */
		struct svt_rec_slot *s = slot_find(r, gfn, false);
		if (!s)
			continue;       /* the replayer knows nothing of it to be stale */
		r->evidence_tables++;
		table_known(r, s, gfn << 12, 4096);
	}
	PROF_END(r, SVT_REC_PROF_READ, t);
}

/* ---- inputs -------------------------------------------------------------- */

/* An event (an input, or a GUEST or CPU record), after the MEM records of
 * the reads before it. */
static void input(struct svt_recorder *r, const struct svt_trace_event *ev)
{
	span_flush(r);
	emit(r, ev);
}

/* The DECISION after a CR write or INVPCID: the core's return value
 * (set field by field in r->rc_ev: the whole event is 288 bytes, and its
 * registers, never set, read as zero). */
static void decision_rc(struct svt_recorder *r, unsigned input_type, int rc)
{
	struct svt_trace_event *d = &r->rc_ev;
	d->type = SVT_TRACE_DECISION;
	d->seq = 0;
	d->u.decision.input = (uint8_t)input_type;
	d->u.decision.outcome = 0;
	d->u.decision.has_regs = false;
	d->u.decision.rc = rc;
	d->u.decision.error_code = 0;
	d->u.decision.cr2 = 0;
	d->u.decision.gpa = 0;
	emit(r, d);
}

/*
 * The FAULT event of f into r->fault_ev, as svt_trace_event_fault() makes
 * it; where neither f nor the fault before had an instruction, registers
 * or tables, those parts already read as zero: only the fields are set.
 */
static void fault_event(struct svt_recorder *r, const struct svt_fault *f)
{
	struct svt_trace_event *ev = &r->fault_ev;
	struct svt_trace_fault *t = &ev->u.fault;
	bool extra = (f->insn && f->insn_len > 0) || f->regs || f->dt;
	if (extra || r->fault_extra) {
		svt_trace_event_fault(f, ev);
		r->fault_extra = extra;
		return;
	}
	svt_trace_event_fault_head(f, ev);
	t->insn_len = 0;
	t->has_regs = false;
	t->in_delivery = f->in_delivery;
	t->has_dt = false;
}

/* The DECISION on f into r->decision_ev, as svt_trace_event_decision()
 * makes it; the registers cleared only after a decision that had them. */
static void decision_event(struct svt_recorder *r, const struct svt_fault *f,
			   enum svt_pf_outcome o, const struct svt_fault_result *res)
{
	bool regs = o == SVT_PF_EMULATED && f->regs;
	if (regs || r->decision_regs) {
		svt_trace_event_decision(f, o, res, &r->decision_ev);
		r->decision_regs = regs;
		return;
	}
	svt_trace_event_decision_head(o, res, &r->decision_ev);
}

enum svt_pf_outcome svt_recorder_fault(struct svt_recorder *r, struct svt_mmu *m,
				       const struct svt_fault *f, struct svt_fault_result *res)
{
	struct svt_trace_event *in = &r->fault_ev;

	fault_event(r, f);                      /* the registers before the core changes them */
	evidence_walk(r, f->va);
	/* A supervisor data access under SMAP with RFLAGS.AC=1 is allowed if
	 * explicit and refused if implicit (docs/core.md, "Implicit
	 * supervisor accesses"): whatever the core made of it, a replay
	 * judges it by the evidence (sim/replay/implicit.c), so what the
	 * caller gave for it stays. */
	bool sv_question = (f->in_delivery || f->dt) &&
			   !(f->error_code & (SVT_PFEC_U | SVT_PFEC_I)) &&
			   (f->rflags & SVT_RFLAGS_AC) &&
			   (svt_mmu_guest_regs(m)->cr4 & SVT_CR4_SMAP);
	uint64_t t = PROF_START();
	enum svt_pf_outcome o = svt_mmu_page_fault(m, f, res);
	PROF_END(r, SVT_REC_PROF_CORE, t);
	if (!res->used_regs && !sv_question) {
		/* decided without them: a replay decides it the same way
		 * (most write faults are no page-table writes) */
		in->u.fault.has_regs = false;
		in->u.fault.insn_len = 0;
		in->u.fault.in_delivery = false;
		in->u.fault.has_dt = false;
	}
	input(r, in);
	decision_event(r, f, o, res);
	emit(r, &r->decision_ev);
	return o;
}

int svt_recorder_cr(struct svt_recorder *r, struct svt_mmu *m, unsigned reg, uint64_t val)
{
	return svt_recorder_cr_mode(r, m, reg, val, false);
}

int svt_recorder_cr_mode(struct svt_recorder *r, struct svt_mmu *m, unsigned reg, uint64_t val,
			 bool code64)
{
	struct svt_trace_event in;
	in.type = SVT_TRACE_CR_WRITE;
	in.seq = 0;
	in.u.cr.reg = (uint8_t)reg;
	in.u.cr.code64 = code64;
	in.u.cr.val = val;
	uint64_t oos[SVT_REC_OOS_MAX];
	memcpy(oos, r->oos, sizeof(oos));
	uint64_t t = PROF_START();
	int rc = svt_trace_cr_apply(m, reg, val, code64);
	PROF_END(r, SVT_REC_PROF_CORE, t);
	if (rc == 0) {
		uint64_t cr4 = r->cr4;
		switch (reg) {
		case SVT_TRACE_CR0: r->cr0 = val; break;
		case SVT_TRACE_CR3: r->cr3 = val; break;
		case SVT_TRACE_CR4: r->cr4 = val; break;
		default: r->efer = val; break;
		}
		/* the flushes of the SDM's "Invalidation of TLBs and
		 * paging-structure caches" that cover the whole address space */
		uint64_t ch = cr4 ^ r->cr4;
		const uint64_t PSE = 1u << 4, PAE = 1u << 5, PGE = 1u << 7, PCIDE = 1u << 17,
			       SMEP = 1u << 20;
		if ((reg == SVT_TRACE_CR3 && !((r->cr4 & PCIDE) && (val >> 63))) ||
		    (reg == SVT_TRACE_CR4 && ((ch & (PSE | PAE | PGE | SMEP)) ||
					      ((ch & PCIDE) && !(r->cr4 & PCIDE)))))
			evidence_tables(r, oos);
	}
	input(r, &in);
	decision_rc(r, SVT_TRACE_CR_WRITE, rc);
	return rc;
}

void svt_recorder_invlpg(struct svt_recorder *r, struct svt_mmu *m, uint64_t va)
{
	struct svt_trace_event in;
	in.type = SVT_TRACE_INVLPG;
	in.seq = 0;
	in.u.invlpg_va = va;
	evidence_walk(r, va);
	uint64_t t = PROF_START();
	svt_mmu_invlpg(m, va);
	PROF_END(r, SVT_REC_PROF_CORE, t);
	input(r, &in);
}

int svt_recorder_invpcid(struct svt_recorder *r, struct svt_mmu *m, unsigned type, uint64_t pcid,
			 uint64_t va)
{
	struct svt_trace_event in;
	in.type = SVT_TRACE_INVPCID;
	in.seq = 0;
	in.u.invpcid.type = type;
	in.u.invpcid.pcid = pcid;
	in.u.invpcid.va = va;
	if (type == 0)          /* one address */
		evidence_walk(r, va);
	uint64_t oos[SVT_REC_OOS_MAX];
	memcpy(oos, r->oos, sizeof(oos));
	uint64_t t = PROF_START();
	int rc = svt_mmu_invpcid(m, type, pcid, va);
	PROF_END(r, SVT_REC_PROF_CORE, t);
	if (rc == 0 && type >= 1 && type <= 3)
		evidence_tables(r, oos);        /* a context, or every context */
	input(r, &in);
	decision_rc(r, SVT_TRACE_INVPCID, rc);
	return rc;
}

void svt_recorder_flush_all(struct svt_recorder *r, struct svt_mmu *m)
{
	struct svt_trace_event in;
	in.type = SVT_TRACE_FLUSH_ALL;
	in.seq = 0;
	uint64_t oos[SVT_REC_OOS_MAX];
	memcpy(oos, r->oos, sizeof(oos));
	uint64_t t = PROF_START();
	svt_mmu_flush_all(m);
	PROF_END(r, SVT_REC_PROF_CORE, t);
	evidence_tables(r, oos);
	input(r, &in);
}

void svt_recorder_step_done(struct svt_recorder *r, struct svt_mmu *m)
{
	struct svt_trace_event in;
	in.type = SVT_TRACE_STEP_DONE;
	in.seq = 0;
	uint64_t t = PROF_START();
	svt_mmu_step_done(m);   /* (reads no guest memory: it puts shadow entries back) */
	PROF_END(r, SVT_REC_PROF_CORE, t);
	input(r, &in);
}

void svt_recorder_mark(struct svt_recorder *r, unsigned kind, const char *text, size_t len)
{
	struct svt_trace_event ev;
	ev.type = SVT_TRACE_MARK;
	ev.seq = 0;
	ev.u.mark.time = 0;
	ev.u.mark.kind = kind;
	if (len > SVT_TRACE_MAX_MARK)
		len = SVT_TRACE_MAX_MARK;
	size_t n = 0;
	while (n < len && text[n])
		n++;
	memcpy(ev.u.mark.text, text, n);
	ev.u.mark.text[n] = '\0';
	ev.u.mark.len = (uint16_t)n;
	span_flush(r);
	emit(r, &ev);
}

void svt_recorder_guest_action(struct svt_recorder *r, const struct svt_trace_guest *g)
{
	if (!(r->c.evidence & SVT_EVIDENCE_ACTIONS))
		return;
	struct svt_trace_event ev;      /* field by field: this is every guest action */
	ev.type = SVT_TRACE_GUEST;
	ev.seq = 0;
	ev.u.guest = *g;
	input(r, &ev);
}

void svt_recorder_cpu(struct svt_recorder *r, const struct svt_trace_cpu *c)
{
	if (!(r->c.evidence & SVT_EVIDENCE_CPU))
		return;
	struct svt_trace_event ev;
	ev.type = SVT_TRACE_CPU;
	ev.seq = 0;
	ev.u.cpu = *c;
	input(r, &ev);
}
