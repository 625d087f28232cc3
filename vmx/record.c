/*
 * record.c — the hypervisor's recorder (DESIGN.md, "Recording principle";
 * the live stream of traces/FORMAT.md).
 *
 * The core reads guest memory through this environment.  A sparse mirror
 * keeps, for the guest pages the core has read, what a replayer will know;
 * every byte the core reads that the mirror does not know, or knows to be
 * different, becomes a MEM record written before the input it served.  A
 * page evicted from the mirror is simply unknown again: the recorder may
 * log a value twice, never miss one.  Records are encoded with the trace
 * library's own record encoder (sim/trace-enc.c, built freestanding) into
 * packets sent on COM2: numbered, checksummed, the record state reset in
 * each, so `shadowvt record` can check them and rebuild the trace file.
 */
#include "hv.h"
#include "hvrec.h"
#include "trace_int.h"

#define COM_STREAM      0x2f8
#define LPT_STREAM      0x378
#define MIRROR_SLOTS    1024
#define MIRROR_HASH     2048
#define PKT_PAYLOAD     (16u << 10)
#define SPAN_MAX        1024

struct mslot {
	uint64_t gfn;
	int32_t next;           /* hash chain */
	bool used;
	bool ref;               /* looked up since the clock hand last passed */
	uint64_t known[64];     /* bit per 8-byte word: the mirror holds it */
	uint8_t data[4096];
};

static struct mslot mirror[MIRROR_SLOTS];
static int32_t hash_head[MIRROR_HASH];
static unsigned clock_hand;

static const struct svt_env *raw;
static struct svt_env rec_env;

static uint8_t pkt[16 + PKT_PAYLOAD + TR_MAX_RECORD + 4];
static size_t pkt_len;                  /* payload bytes so far */
static uint32_t pkt_no;
static uint64_t seq, pkt_first_seq;
static struct tr_state st;

/* pending MEM spans of the current core call */
static struct { uint64_t gpa; uint32_t len, off; } span[SPAN_MAX];
static unsigned nspan;
static uint8_t span_buf[64u << 10];
static size_t span_used;
static bool overflow;                   /* spans did not fit: log the reads again whole */

uint64_t hvrec_events(void) { return seq; }

/* CRC-32C, a byte at a time from a table made at the first call. */
static uint32_t crc_table[256];

static int have_crc32;                 /* SSE4.2's CRC32 instruction: 1 yes, -1 no, 0 unknown */

static uint32_t crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	if (have_crc32 == 0) {
		uint32_t a = 1, b, c = 0, d;
		__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
		have_crc32 = (c >> 20) & 1 ? 1 : -1;
	}
	if (have_crc32 > 0) {   /* the same polynomial, eight bytes at a time */
		uint64_t v = ~crc & 0xffffffffu;
		for (; n >= 8; n -= 8, p += 8) {
			uint64_t w;
			__builtin_memcpy(&w, p, 8);
			__asm__("crc32q %1, %0" : "+r"(v) : "rm"(w));
		}
		for (; n; n--, p++)
			__asm__("crc32b %1, %k0" : "+r"(v) : "rm"(*p));
		return ~(uint32_t)v;
	}
	if (crc_table[1] == 0)
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
			crc_table[i] = c;
		}
	crc = ~crc;
	while (n--)
		crc = (crc >> 8) ^ crc_table[(crc ^ *p++) & 0xff];
	return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

bool hv_stream_lpt;              /* the stream goes to LPT1, not COM2 */

/* The parallel port, as a printer port: wait while BUSY (status bit 7
 * reads 0), put the byte on the data lines, pulse STROBE. */
static void lpt_putc(uint8_t c)
{
	/* A port that stays busy (nothing wired, or a guest that took the
	 * port over) sends the rest of the stream to COM2; `shadowvt record`
	 * reads the two in that order. */
	for (unsigned polls = 0; __builtin_expect(!(inb(LPT_STREAM + 1) & 0x80), 0); polls++)
		if (polls == 1000000) {
			hv_printf("hv: LPT1 stays busy (status %#x, control %#x): the stream goes on "
				  "on COM2\n", inb(LPT_STREAM + 1), inb(LPT_STREAM + 2));
			hv_stream_lpt = false;
			serial_putc(COM_STREAM, (char)c);
			return;
		}
	outb(LPT_STREAM, c);
	outb(LPT_STREAM + 2, 0x0d);             /* STROBE, SELECT IN, INIT off */
	outb(LPT_STREAM + 2, 0x0c);
}

static void stream_putc(uint8_t c)
{
	if (hv_stream_lpt)
		lpt_putc(c);
	else
		serial_putc(COM_STREAM, (char)c);
}

/* Bytes out: on LPT1 a tight loop while the port is ready (Bochs's is
 * always ready), the careful path for the rest. */
static void stream_put(const uint8_t *p, size_t n)
{
	size_t i = 0;
	if (hv_stream_lpt)
		for (; i < n && (inb(LPT_STREAM + 1) & 0x80); i++) {
			outb(LPT_STREAM, p[i]);
			outb(LPT_STREAM + 2, 0x0d);
			outb(LPT_STREAM + 2, 0x0c);
		}
	for (; i < n; i++)
		stream_putc(p[i]);
}

/* One packet: "SVTL", type, packet number, first event, payload length,
 * payload, CRC-32C of everything before it. */
static void send_packet(unsigned type, const uint8_t *payload, size_t len, uint64_t first)
{
	uint8_t h[24];
	h[0] = 'S', h[1] = 'V', h[2] = 'T', h[3] = 'L';
	put32(h + 4, type);
	put32(h + 8, pkt_no++);
	put64(h + 12, first);
	put32(h + 20, (uint32_t)len);
	uint64_t t = hv_rdtsc();
	uint32_t crc = crc32c(crc32c(0, h, sizeof(h)), payload, len);
	uint8_t c[4];
	put32(c, crc);
	stream_put(h, sizeof(h));
	stream_put(payload, len);
	stream_put(c, 4);
	hv_prof[PROF_STREAM] += hv_rdtsc() - t;
}

static void flush_records(void)
{
	if (pkt_len == 0)
		return;
	send_packet(HVREC_RECORDS, pkt, pkt_len, pkt_first_seq);
	pkt_len = 0;
	tr_state_reset(&st);
}

static void emit(const struct svt_trace_event *ev)
{
	/* The events are this file's own, their fields bounded where they
	 * are made (a MARK's text, a span within one page): no
	 * tr_check_event() on this path, which every exit takes; `shadowvt
	 * record` checks each record as it rebuilds the trace. */
	uint64_t t = hv_rdtsc();
	if (pkt_len == 0)
		pkt_first_seq = seq;
	pkt_len += tr_encode(&st, ev, pkt + pkt_len);
	seq++;
	hv_prof[PROF_EMIT] += hv_rdtsc() - t;
	if (pkt_len >= PKT_PAYLOAD)
		flush_records();
}

/* ---- the mirror ---------------------------------------------------------- */

static int32_t last_slot = -1;         /* the slot slot_of() found last */

static struct mslot *slot_of(uint64_t gfn, bool make)
{
	/* a walk, a prefetch and a resync read one page again and again */
	if (last_slot >= 0 && mirror[last_slot].used && mirror[last_slot].gfn == gfn) {
		mirror[last_slot].ref = true;
		return &mirror[last_slot];
	}
	unsigned b = (unsigned)((gfn * 0x9e3779b97f4a7c15ull) >> 53) % MIRROR_HASH;
	for (int32_t i = hash_head[b]; i >= 0; i = mirror[i].next)
		if (mirror[i].gfn == gfn) {
			mirror[i].ref = true;
			last_slot = i;
			return &mirror[i];
		}
	if (!make)
		return NULL;
	/* take the next slot round the clock that was not looked up since
	 * the hand last passed (a second chance: the page tables the core
	 * reads again and again stay), dropping what it held */
	while (mirror[clock_hand].used && mirror[clock_hand].ref) {
		mirror[clock_hand].ref = false;
		clock_hand = (clock_hand + 1) % MIRROR_SLOTS;
	}
	struct mslot *s = &mirror[clock_hand];
	int32_t idx = (int32_t)clock_hand;
	clock_hand = (clock_hand + 1) % MIRROR_SLOTS;
	if (s->used) {
		unsigned ob = (unsigned)((s->gfn * 0x9e3779b97f4a7c15ull) >> 53) % MIRROR_HASH;
		for (int32_t *pp = &hash_head[ob]; *pp >= 0; pp = &mirror[*pp].next)
			if (*pp == idx) {
				*pp = s->next;
				break;
			}
	}
	s->used = true;
	s->ref = false;
	last_slot = idx;
	s->gfn = gfn;
	memset(s->known, 0, sizeof(s->known));
	s->next = hash_head[b];
	hash_head[b] = idx;
	return s;
}

static void pend(uint64_t gpa, const uint8_t *data, size_t len)
{
	if (nspan == SPAN_MAX || span_used + len > sizeof(span_buf)) {
		overflow = true;
		return;
	}
	if (nspan && span[nspan - 1].gpa + span[nspan - 1].len == gpa &&
	    span[nspan - 1].off + span[nspan - 1].len == span_used && ((gpa - 1) >> 12) == (gpa >> 12)) {
		span[nspan - 1].len += (uint32_t)len;
	} else {
		span[nspan].gpa = gpa;
		span[nspan].len = (uint32_t)len;
		span[nspan].off = (uint32_t)span_used;
		nspan++;
	}
	if (len == 8)
		__builtin_memcpy(span_buf + span_used, data, 8);
	else
		memcpy(span_buf + span_used, data, len);
	span_used += len;
}

static void flush_pending(void)
{
	for (unsigned i = 0; i < nspan; i++) {
		struct svt_trace_event ev = { .type = SVT_TRACE_MEM };
		ev.u.mem.gpa = span[i].gpa;
		ev.u.mem.len = span[i].len;
		ev.u.mem.data = span_buf + span[i].off;
		emit(&ev);
	}
	nspan = 0;
	span_used = 0;
}

/* Whole 8-byte words the core read: log those the mirror does not hold. */
static void note_read(uint64_t gpa, const uint8_t *buf, size_t len)
{
	uint64_t w0 = gpa & ~7ull, end = gpa + len;
	/* The common case: whole words within one page (a page-table entry,
	 * a run of them, a piece of a page), the page looked up once and
	 * each word compared as one. */
	if (len && !(gpa & 7) && !(len & 7) && ((end - 1) >> 12) == (gpa >> 12)) {
		struct mslot *s = slot_of(gpa >> 12, true);
		unsigned off = (unsigned)(gpa & 0xfff);
		size_t i = 0;
		while (i < len) {
			/* the read's part in this block of 64 words (one
			 * word of the known bits) */
			uint64_t *known = &s->known[off >> 9];
			size_t n = 512 - (off & 511);
			if (n > len - i)
				n = len - i;
			if (*known == ~0ull && memcmp(s->data + off, buf + i, n) == 0) {
				i += n, off += (unsigned)n;     /* all known, none changed */
				continue;
			}
			if (n == 512 && *known == 0) {
				/* nothing known (a page table seen for the
				 * first time): taken and logged whole */
				memcpy(s->data + off, buf + i, 512);
				*known = ~0ull;
				pend(gpa + i, buf + i, 512);
				i += n, off += (unsigned)n;
				continue;
			}
			for (size_t end1 = i + n; i < end1; i += 8, off += 8) {
				uint64_t m = 1ull << ((off >> 3) & 63);
				uint64_t now, had;
				__builtin_memcpy(&now, buf + i, 8);
				__builtin_memcpy(&had, s->data + off, 8);
				if ((*known & m) && now == had)
					continue;
				__builtin_memcpy(s->data + off, &now, 8);
				*known |= m;
				pend(gpa + i, buf + i, 8);
			}
		}
		return;
	}
	for (uint64_t w = w0; w < end; w += 8) {
		struct mslot *s = slot_of(w >> 12, true);
		unsigned off = (unsigned)(w & 0xfff), bit = off >> 3;
		uint8_t word[8];
		/* the word as it is now: the read bytes, the rest from RAM */
		raw->read_gpa(raw->ctx, w, word, 8);
		for (unsigned k = 0; k < 8; k++)
			if (w + k >= gpa && w + k < end)
				word[k] = buf[w + k - gpa];
		bool known = (s->known[bit >> 6] >> (bit & 63)) & 1;
		if (known && memcmp(s->data + off, word, 8) == 0)
			continue;
		memcpy(s->data + off, word, 8);
		s->known[bit >> 6] |= 1ull << (bit & 63);
		pend(w, word, 8);
	}
}

static int rec_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	(void)ctx;
	uint64_t t = hv_rdtsc();
	if (len == 8 && !(gpa & 7) && gpa < HV_GUEST_TOP && HV_GUEST_TOP - gpa >= 8) {
		/* one entry of a guest table (a walk reads them one by one):
		 * loaded, and checked against the mirror, as one word */
		uint64_t now = *(const uint64_t *)hv_gpa(gpa);
		__builtin_memcpy(buf, &now, 8);
		struct mslot *s = slot_of(gpa >> 12, true);
		unsigned off = (unsigned)(gpa & 0xfff);
		uint64_t *known = &s->known[off >> 9], m = 1ull << ((off >> 3) & 63), had;
		__builtin_memcpy(&had, s->data + off, 8);
		if (!(*known & m) || now != had) {
			__builtin_memcpy(s->data + off, &now, 8);
			*known |= m;
			pend(gpa, buf, 8);
		}
		hv_prof[PROF_READ] += hv_rdtsc() - t;
		return 0;
	}
	int rc = raw->read_gpa(raw->ctx, gpa, buf, len);
	if (rc == 0 && gpa < HV_GUEST_TOP)
		note_read(gpa, buf, len);
	hv_prof[PROF_READ] += hv_rdtsc() - t;
	return rc;
}

static int rec_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	(void)ctx;
	int rc = raw->write_gpa(raw->ctx, gpa, buf, len);
	/* the replayer's core makes the same write: keep the mirror with it */
	for (size_t i = 0; i < len; i++) {
		struct mslot *s = slot_of((gpa + i) >> 12, false);
		if (s)
			s->data[(gpa + i) & 0xfff] = ((const uint8_t *)buf)[i];
	}
	return rc;
}

static uint64_t rec_g2m(void *ctx, uint64_t gfn) { (void)ctx; return raw->gfn_to_mfn(raw->ctx, gfn); }
static void *rec_map(void *ctx, uint64_t mfn) { (void)ctx; return raw->map_mfn(raw->ctx, mfn); }
static void rec_flush(void *ctx, int kind, uint64_t va) { (void)ctx; raw->flush_tlb(raw->ctx, kind, va); }

const struct svt_env *hvrec_init(const struct svt_env *raw_env, const struct svt_mmu_config *cfg,
				 const char *guest, const struct hv_range *dev, unsigned ndev)
{
	raw = raw_env;
	for (int i = 0; i < MIRROR_HASH; i++)
		hash_head[i] = -1;
	tr_state_reset(&st);
	rec_env = (struct svt_env){ .read_gpa = rec_read, .write_gpa = rec_write, .gfn_to_mfn = rec_g2m,
				    .map_mfn = rec_map, .flush_tlb = rec_flush };
	/* HELLO: what the trace header needs */
	uint8_t p[2048];
	size_t n = 0;
	p[n++] = cfg->maxphyaddr;
	put32(p + n, cfg->features), n += 4;
	put64(p + n, cfg->guest_frames), n += 8;
	put32(p + n, cfg->pool_frames), n += 4;
	put32(p + n, cfg->links), n += 4;
	put32(p + n, cfg->policy.oos), n += 4;
	put32(p + n, cfg->policy.prefetch), n += 4;
	p[n++] = cfg->policy.emulate;
	p[n++] = cfg->policy.early_unshadow;
	size_t gl = strlen(guest);
	if (gl > 255)
		gl = 255;
	p[n++] = (uint8_t)gl;
	memcpy(p + n, guest, gl), n += gl;
	/* the CPU's brand string (CPUID 0x80000002..4), then the device ranges */
	uint32_t brand[12] = { 0 };
	for (uint32_t leaf = 0; leaf < 3; leaf++)
		__asm__ volatile("cpuid" : "=a"(brand[leaf * 4]), "=b"(brand[leaf * 4 + 1]),
				 "=c"(brand[leaf * 4 + 2]), "=d"(brand[leaf * 4 + 3])
				 : "a"(0x80000002u + leaf), "c"(0));
	const char *b = (const char *)brand;
	size_t bl = 0;
	while (bl < 48 && b[bl])
		bl++;
	while (bl > 0 && b[0] == ' ')
		b++, bl--;
	p[n++] = (uint8_t)bl;
	memcpy(p + n, b, bl), n += bl;
	p[n++] = (uint8_t)ndev;
	p[n++] = (uint8_t)(ndev >> 8);
	for (unsigned i = 0; i < ndev && n + 16 <= sizeof(p) - 4; i++) {
		put64(p + n, dev[i].gfn), n += 8;
		put64(p + n, dev[i].count), n += 8;
	}
	put32(p + n, cfg->root_cache), n += 4;
	send_packet(HVREC_HELLO, p, n, 0);
	return &rec_env;
}

static void input(const struct svt_trace_event *ev)
{
	flush_pending();
	if (overflow) {
		/* more reads than the span buffer holds: the words are noted
		 * in the mirror but not logged; forget them so the next read
		 * logs them (the replay may see this input differ) */
		for (unsigned i = 0; i < MIRROR_SLOTS; i++)
			mirror[i].used = false;
		for (int i = 0; i < MIRROR_HASH; i++)
			hash_head[i] = -1;
		overflow = false;
		struct svt_trace_event lost = { .type = SVT_TRACE_MARK };
		lost.u.mark.kind = SVT_TRACE_MARK_NOTE;
		memcpy(lost.u.mark.text, "recorder: memory log overflow", 29);
		lost.u.mark.len = 29;
		emit(&lost);
	}
	emit(ev);
}

/* The DECISION after a CR write or INVPCID: the core's return value
 * (built field by field: the whole event is 288 bytes, on every exit). */
static void decision(unsigned input_type, int rc)
{
	struct svt_trace_event d;
	d.type = SVT_TRACE_DECISION;
	d.u.decision.input = (uint8_t)input_type;
	d.u.decision.outcome = 0;
	d.u.decision.has_regs = false;
	d.u.decision.rc = rc;
	d.u.decision.error_code = 0;
	d.u.decision.cr2 = 0;
	d.u.decision.gpa = 0;
	emit(&d);
}

enum svt_pf_outcome hvrec_fault(struct svt_mmu *mmu, const struct svt_fault *f, struct svt_fault_result *res)
{
	struct svt_trace_event in, d;

	svt_trace_event_fault(f, &in);          /* the registers before the core changes them */
	uint64_t t = hv_rdtsc();
	enum svt_pf_outcome o = svt_mmu_page_fault(mmu, f, res);
	hv_prof[PROF_CORE] += hv_rdtsc() - t;
	if (!res->used_regs) {
		/* decided without them: a replay decides it the same way
		 * (most write faults are no page-table writes) */
		in.u.fault.has_regs = false;
		in.u.fault.insn_len = 0;
	}
	input(&in);
	svt_trace_event_decision(f, o, res, &d);
	emit(&d);
	return o;
}

int hvrec_cr(struct svt_mmu *mmu, unsigned reg, uint64_t val)
{
	struct svt_trace_event in;
	int rc;
	in.type = SVT_TRACE_CR_WRITE;
	in.u.cr.reg = (uint8_t)reg;
	in.u.cr.val = val;
	uint64_t t = hv_rdtsc();
	rc = svt_trace_cr_apply(mmu, reg, val);
	hv_prof[PROF_CORE] += hv_rdtsc() - t;
	input(&in);
	decision(SVT_TRACE_CR_WRITE, rc);
	return rc;
}

void hvrec_invlpg(struct svt_mmu *mmu, uint64_t va)
{
	struct svt_trace_event in;
	in.type = SVT_TRACE_INVLPG;
	in.u.invlpg_va = va;
	uint64_t t = hv_rdtsc();
	svt_mmu_invlpg(mmu, va);
	hv_prof[PROF_CORE] += hv_rdtsc() - t;
	input(&in);
}

int hvrec_invpcid(struct svt_mmu *mmu, unsigned type, uint64_t pcid, uint64_t va)
{
	struct svt_trace_event in = { .type = SVT_TRACE_INVPCID };
	in.u.invpcid.type = type;
	in.u.invpcid.pcid = pcid;
	in.u.invpcid.va = va;
	uint64_t t = hv_rdtsc();
	int rc = svt_mmu_invpcid(mmu, type, pcid, va);
	hv_prof[PROF_CORE] += hv_rdtsc() - t;
	input(&in);
	decision(SVT_TRACE_INVPCID, rc);
	return rc;
}

void hvrec_mark(const char *text, size_t len)
{
	struct svt_trace_event ev = { .type = SVT_TRACE_MARK };
	if (len > SVT_TRACE_MAX_MARK)
		len = SVT_TRACE_MAX_MARK;
	ev.u.mark.kind = SVT_TRACE_MARK_PHASE;
	memcpy(ev.u.mark.text, text, len);
	ev.u.mark.len = (uint16_t)len;
	emit(&ev);
}

void hvrec_end(const char *verdict)
{
	flush_records();
	uint8_t p[300];
	size_t n = 0;
	put64(p, seq), n += 8;
	size_t vl = strlen(verdict);
	if (vl > 255)
		vl = 255;
	p[n++] = (uint8_t)vl;
	memcpy(p + n, verdict, vl), n += vl;
	send_packet(HVREC_END, p, n, seq);
	if (hv_stream_lpt)
		while (!(inb(LPT_STREAM + 1) & 0x80))
			;
	else
		serial_drain(COM_STREAM);
}
