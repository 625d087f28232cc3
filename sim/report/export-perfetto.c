/*
 * export-perfetto.c — a trace as a Chrome/Perfetto trace-event JSON
 * timeline (`shadowvt export --format perfetto`; export.h).
 *
 * The document is {"displayTimeUnit":"ns","traceEvents":[...],"metadata":
 * {...}}, the metadata last because only the end knows whether the trace
 * read completely.  Process 1 is the guest; its tracks (tids) are:
 *
 *   1 exits           each input to the core (FAULT, CR_WRITE, INVLPG,
 *                     INVPCID, FLUSH_ALL) as a complete event ("X") named
 *                     by its class, lasting up to the event after its
 *                     DECISION (1 us without one), its decision in args
 *   2 core decisions  each DECISION as a 1 us complete event
 *   3 memory records  each MEM record as an instant event (--no-mem: none)
 *   4 markers         MARK and LOST as global instant events, paging-mode
 *                     changes, records of unknown types
 *
 * and counter events ("C", name "totals") sample the running totals every
 * SVT_EXPORT_COUNTER_EVERY records.  Clock: trace records carry no
 * timestamps (a MARK has one, and synthetic traces leave it 0), so ts is
 * the event's sequence number read as microseconds ("clock": "sequence"
 * in the metadata); a LOST record spans the numbers of the events it
 * stands for, so lost events show as a gap of their length.
 *
 * Only the input waiting for its DECISION is held; everything else is
 * written as it is read.
 */
#include <inttypes.h>
#include <string.h>

#include "config.h"
#include "export.h"
#include "names.h"

enum { TID_TOTALS = 0, TID_EXITS = 1, TID_DECISIONS = 2, TID_MEM = 3, TID_MARKS = 4, NTRACKS = 5 };

static const char *const track_names[NTRACKS] = {
	[TID_EXITS] = "exits", [TID_DECISIONS] = "core decisions",
	[TID_MEM] = "memory records", [TID_MARKS] = "markers",
};

static const char *const cr_names[] = { "MOV CR0", "MOV CR3", "MOV CR4", "WRMSR EFER" };
/* Names of #PF exits by access (read, write, fetch) and U/S. */
static const char *const fault_names[3][2] = {
	{ "#PF read supervisor", "#PF read user" },
	{ "#PF write supervisor", "#PF write user" },
	{ "#PF fetch supervisor", "#PF fetch user" },
};
/* Error-code bits by number, for "ec". */
static const char *const pfec_bits[16] = {
	"P", "W", "U", "RSVD", "I", "PK", "SS", "HLAT", NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	"SGX",
};

#define MAX_MODES 8

struct px {
	FILE *f;
	const struct svt_export_opts *o;
	struct svt_export_stats *st;
	uint64_t every, since;
	bool pending;                   /* an input waits for its DECISION */
	struct svt_trace_event in;
	/* running totals */
	uint64_t exits, faults, injected, emulated, gp, lost;
	/* the paging mode, from the CR writes; known only when reading from 0 */
	bool track_mode;
	struct svt_regs regs;
	enum svt_mode mode;
	unsigned nmodes;
	enum svt_mode modes[MAX_MODES]; /* modes entered, in order, each once */
};

/* Start one trace event: {"ph":..,"ts":..,"pid":1,"tid":..  */
static void ev_open(struct px *p, char ph, uint64_t ts, unsigned tid)
{
	if (p->st->written++)
		fputs(",\n", p->f);
	fprintf(p->f, "{\"ph\":\"%c\",\"ts\":%" PRIu64 ",\"pid\":1,\"tid\":%u", ph, ts, tid);
}

static void hex(FILE *f, const char *key, uint64_t v)
{
	fprintf(f, ",\"%s\":\"0x%" PRIx64 "\"", key, v);
}

static void tracks(struct px *p, const struct svt_trace_header *h)
{
	FILE *f = p->f;
	const char *guest = h->guest ? h->guest : "";

	ev_open(p, 'M', 0, 0);
	fputs(",\"name\":\"process_name\",\"args\":{\"name\":", f);
	if (*guest == '\0')
		fputs("\"guest\"", f);
	else
		svt_json_str(f, guest, strlen(guest));
	fputs("}}", f);
	for (unsigned t = TID_EXITS; t < NTRACKS; t++) {
		ev_open(p, 'M', 0, t);
		fprintf(f, ",\"name\":\"thread_name\",\"args\":{\"name\":\"%s\"}}", track_names[t]);
		ev_open(p, 'M', 0, t);
		fprintf(f, ",\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":%u}}", t);
	}
}

static void totals(struct px *p, uint64_t ts)
{
	ev_open(p, 'C', ts, TID_TOTALS);
	fprintf(p->f, ",\"name\":\"totals\",\"args\":{\"exits\":%" PRIu64 ",\"faults\":%" PRIu64
		",\"injected\":%" PRIu64 ",\"emulated\":%" PRIu64 ",\"lost\":%" PRIu64 "}}",
		p->exits, p->faults, p->injected, p->emulated, p->lost);
	p->since = 0;
}

static const char *exit_name(const struct svt_trace_event *ev)
{
	switch (ev->type) {
	case SVT_TRACE_FAULT: {
		uint32_t ec = ev->u.fault.error_code;
		unsigned acc = ec & SVT_PFEC_I ? 2 : ec & SVT_PFEC_W ? 1 : 0;
		return fault_names[acc][(ec & SVT_PFEC_U) != 0];
	}
	case SVT_TRACE_CR_WRITE:
		return ev->u.cr.reg < 4 ? cr_names[ev->u.cr.reg] : "MOV CR?";
	case SVT_TRACE_INVLPG:
		return "INVLPG";
	case SVT_TRACE_INVPCID:
		return "INVPCID";
	default:
		return "flush all";
	}
}

static const char *decision_name(const struct svt_trace_decision *d)
{
	if (d->input == SVT_TRACE_FAULT)
		return svt_trace_outcome_name(d->outcome);
	return d->rc == 0 ? "ok" : d->rc == SVT_E_GP ? "#GP" : "error";
}

/* The error code's bits as "P|W|U". */
static void pfec(FILE *f, uint32_t ec)
{
	bool first = true;

	fputs(",\"ec\":\"", f);
	for (unsigned b = 0; b < 32; b++) {
		if (!(ec >> b & 1))
			continue;
		if (!first)
			putc('|', f);
		first = false;
		if (b < 16 && pfec_bits[b])
			fputs(pfec_bits[b], f);
		else
			fprintf(f, "bit%u", b);
	}
	putc('"', f);
}

/* A paging mode as common/names.h spells it; "invalid" for the register
 * state no CPU can hold, which a damaged or hostile trace may reach. */
static const char *mode_name(enum svt_mode m)
{
	return m == SVT_MODE_INVALID ? "invalid" : svt_mode_name(m);
}

/* Apply a CR write that took effect; the new mode's name if it changed. */
static const char *cr_apply(struct px *p, const struct svt_trace_cr_write *cr)
{
	if (!p->track_mode)
		return NULL;
	switch (cr->reg) {
	case SVT_TRACE_CR0: p->regs.cr0 = cr->val; break;
	case SVT_TRACE_CR4: p->regs.cr4 = cr->val; break;
	case SVT_TRACE_EFER: p->regs.efer = cr->val; break;
	default: return NULL;
	}
	enum svt_mode m = svt_paging_mode(&p->regs);
	if (m == p->mode)
		return NULL;
	p->mode = m;
	bool seen = false;
	for (unsigned i = 0; i < p->nmodes; i++)
		seen |= p->modes[i] == m;
	if (!seen && p->nmodes < MAX_MODES)
		p->modes[p->nmodes++] = m;
	return mode_name(m);
}

/* Write the pending input, with its DECISION d (at sequence number dseq) or none. */
static void flush_exit(struct px *p, const struct svt_trace_decision *d, uint64_t dseq)
{
	const struct svt_trace_event *ev = &p->in;
	const char *mode = NULL;
	FILE *f = p->f;

	if (!p->pending)
		return;
	p->pending = false;
	ev_open(p, 'X', ev->seq, TID_EXITS);
	fprintf(f,
		",\"dur\":%" PRIu64 ",\"cat\":\"exit\",\"name\":\"%s\",\"args\":{\"seq\":%" PRIu64,
		d ? dseq - ev->seq + 1 : 1, exit_name(ev), ev->seq);
	switch (ev->type) {
	case SVT_TRACE_FAULT: {
		const struct svt_trace_fault *x = &ev->u.fault;
		hex(f, "va", x->va);
		hex(f, "error_code", x->error_code);
		pfec(f, x->error_code);
		fprintf(f, ",\"cpl\":%u", x->cpl);
		if (x->has_regs)
			hex(f, "rip", x->regs.rip);
		if (d == NULL)
			break;
		fprintf(f, ",\"outcome\":\"%s\"", decision_name(d));
		if (d->outcome == SVT_PF_INJECT) {
			hex(f, "inject_error_code", d->error_code);
			hex(f, "cr2", d->cr2);
		} else if (d->outcome == SVT_PF_MMIO) {
			hex(f, "gpa", d->gpa);
		} else if (d->outcome == SVT_PF_EMULATED && d->has_regs) {
			hex(f, "rip_after", d->regs.rip);
		}
		break;
	}
	case SVT_TRACE_CR_WRITE:
		hex(f, "value", ev->u.cr.val);
		if (d != NULL)
			fprintf(f, ",\"outcome\":\"%s\",\"rc\":%" PRId32, decision_name(d), d->rc);
		if (d == NULL || d->rc == 0)
			mode = cr_apply(p, &ev->u.cr);
		if (mode != NULL)
			fprintf(f, ",\"mode\":\"%s\"", mode);
		break;
	case SVT_TRACE_INVLPG:
		hex(f, "va", ev->u.invlpg_va);
		break;
	case SVT_TRACE_INVPCID:
		fprintf(f, ",\"type\":%" PRIu32, ev->u.invpcid.type);
		hex(f, "pcid", ev->u.invpcid.pcid);
		hex(f, "va", ev->u.invpcid.va);
		if (d != NULL)
			fprintf(f, ",\"outcome\":\"%s\",\"rc\":%" PRId32, decision_name(d), d->rc);
		break;
	default:
		break;
	}
	fputs("}}", f);
	if (mode != NULL) {
		ev_open(p, 'i', ev->seq, TID_MARKS);
		fprintf(f, ",\"s\":\"g\",\"cat\":\"mode\",\"name\":\"paging: %s\","
			"\"args\":{\"seq\":%" PRIu64 "}}", mode, ev->seq);
	}
}

static void decision(struct px *p, const struct svt_trace_event *ev)
{
	const struct svt_trace_decision *d = &ev->u.decision;
	FILE *f = p->f;

	if (d->input == SVT_TRACE_FAULT) {
		p->injected += d->outcome == SVT_PF_INJECT;
		p->emulated += d->outcome == SVT_PF_EMULATED;
	} else {
		p->gp += d->rc == SVT_E_GP;
	}
	if (p->pending && p->in.type == (enum svt_trace_type)d->input)
		flush_exit(p, d, ev->seq);
	else
		flush_exit(p, NULL, 0);
	ev_open(p, 'X', ev->seq, TID_DECISIONS);
	fprintf(f, ",\"dur\":1,\"cat\":\"decision\",\"name\":\"%s\",\"args\":{\"seq\":%" PRIu64
		",\"input\":\"%s\"", decision_name(d), ev->seq, svt_trace_type_name(d->input));
	if (d->input != SVT_TRACE_FAULT) {
		fprintf(f, ",\"rc\":%" PRId32, d->rc);
	} else if (d->outcome == SVT_PF_INJECT) {
		hex(f, "error_code", d->error_code);
		hex(f, "cr2", d->cr2);
	} else if (d->outcome == SVT_PF_MMIO) {
		hex(f, "gpa", d->gpa);
	}
	fputs("}}", f);
}

static void one(struct px *p, const struct svt_trace_event *ev)
{
	FILE *f = p->f;

	switch (ev->type) {
	case SVT_TRACE_FAULT:
	case SVT_TRACE_CR_WRITE:
	case SVT_TRACE_INVLPG:
	case SVT_TRACE_INVPCID:
	case SVT_TRACE_FLUSH_ALL:
		flush_exit(p, NULL, 0);
		p->in = *ev;
		p->pending = true;
		p->exits++;
		p->faults += ev->type == SVT_TRACE_FAULT;
		break;
	case SVT_TRACE_DECISION:
		decision(p, ev);
		break;
	case SVT_TRACE_MEM:
		if (p->o->no_mem)
			break;
		ev_open(p, 'i', ev->seq, TID_MEM);
		fprintf(f,
			",\"s\":\"t\",\"cat\":\"mem\",\"name\":\"MEM\",\"args\":{\"seq\":%" PRIu64,
			ev->seq);
		hex(f, "gpa", ev->u.mem.gpa);
		fprintf(f, ",\"len\":%" PRIu32 "}}", ev->u.mem.len);
		break;
	case SVT_TRACE_GUEST: {
		/* the guest's actions beside its memory (--no-mem: neither) */
		const struct svt_trace_guest *g = &ev->u.guest;
		if (p->o->no_mem)
			break;
		ev_open(p, 'i', ev->seq, TID_MEM);
		fprintf(f,
			",\"s\":\"t\",\"cat\":\"guest\",\"name\":\"%s\",\"args\":{\"seq\":%" PRIu64,
			svt_guest_kind_name(g->kind), ev->seq);
		if (g->kind == SVT_GUEST_RFLAGS)
			hex(f, "rflags", g->val[0]);
		else if (g->kind == SVT_GUEST_PKRU)
			hex(f, "pkru", g->val[0]);
		else
			hex(f, "va", g->va);
		if (g->flags & SVT_GUEST_INJECTED)
			fprintf(f, ",\"injected_ec\":%" PRIu32, g->error_code);
		fputs("}}", f);
		break;
	}
	case SVT_TRACE_LOST:
		p->lost += ev->u.lost.count;
		ev_open(p, 'i', ev->seq, TID_MARKS);
		fprintf(f, ",\"s\":\"g\",\"cat\":\"lost\",\"name\":\"LOST %" PRIu64 " events\","
			"\"args\":{\"seq\":%" PRIu64 ",\"count\":%" PRIu64 ",\"reason\":\"%s\"}}",
			ev->u.lost.count, ev->seq, ev->u.lost.count,
			svt_trace_lost_name(ev->u.lost.reason));
		break;
	case SVT_TRACE_MARK: {
		const struct svt_trace_mark *m = &ev->u.mark;
		ev_open(p, 'i', ev->seq, TID_MARKS);
		fputs(",\"s\":\"g\",\"cat\":\"mark\",\"name\":", f);
		if (m->len == 0)
			fputs("\"MARK\"", f);
		else
			svt_json_str(f, m->text, m->len);
		fprintf(f,
			",\"args\":{\"seq\":%" PRIu64 ",\"kind\":\"%s\",\"time_ns\":%" PRIu64 "}}",
			ev->seq, svt_trace_mark_name(m->kind), m->time);
		break;
	}
	case SVT_TRACE_CPU: {
		/* what the hypervisor showed the guest: on the decisions' track */
		const struct svt_trace_cpu *c = &ev->u.cpu;
		ev_open(p, 'i', ev->seq, TID_DECISIONS);
		if (c->kind == SVT_CPU_CPUID) {
			fprintf(f, ",\"s\":\"t\",\"cat\":\"cpu\",\"name\":\"CPUID\","
				"\"args\":{\"seq\":%" PRIu64, ev->seq);
			hex(f, "leaf", c->leaf);
			hex(f, "subleaf", c->subleaf);
			hex(f, "ecx", c->out[2]);
		} else {
			fprintf(f, ",\"s\":\"t\",\"cat\":\"cpu\",\"name\":\"inject %u\",\"args\":"
				"{\"seq\":%" PRIu64, c->vector, ev->seq);
			if (c->has_ec)
				hex(f, "error_code", c->error_code);
			hex(f, "rflags", c->rflags);
		}
		fputs("}}", f);
		break;
	}
	default:
		ev_open(p, 'i', ev->seq, TID_MARKS);
		fprintf(f, ",\"s\":\"t\",\"cat\":\"unknown\",\"name\":\"unknown record\",\"args\":"
			"{\"seq\":%" PRIu64 ",\"type\":%" PRIu64 ",\"len\":%" PRIu32 "}}", ev->seq,
			ev->u.unknown.type, ev->u.unknown.len);
		break;
	}
}

static void str_field(FILE *f, const char *key, const char *s)
{
	fprintf(f, ",\"%s\":", key);
	svt_json_str(f, s ? s : "", s ? strlen(s) : 0);
}

static void metadata(struct px *p, struct svt_trace_reader *r, const struct svt_trace_info *in,
		     int rc)
{
	const struct svt_trace_header *h = svt_trace_reader_header(r);
	const char *warn = svt_trace_reader_warning(r);
	const struct svt_export_opts *o = p->o;
	FILE *f = p->f;

	fputs("{\"exporter\":\"shadowvt " PACKAGE_VERSION " export\"", f);
	str_field(f, "trace", o->name);
	fprintf(f, ",\"trace_version\":\"%u.%u\"", h->major, h->minor);
	str_field(f, "producer", h->producer);
	str_field(f, "cpu_model", h->cpu_model);
	str_field(f, "guest", h->guest);
	fprintf(f, ",\"maxphyaddr\":%u", h->maxphyaddr);
	hex(f, "features", h->features);
	fprintf(f, ",\"guest_frames\":%" PRIu64 ",\"policy\":{\"oos\":%u,\"prefetch\":%u,"
		"\"early_unshadow\":%s,\"emulate\":%s,\"pool_frames\":%" PRIu32
		",\"links\":%" PRIu32 ",\"root_cache\":%" PRIu32 "}", h->guest_frames,
		h->policy.oos, h->policy.prefetch, h->policy.early_unshadow ? "true" : "false",
		h->policy.emulate ? "true" : "false", h->pool_frames, h->links, h->root_cache);
	fprintf(f, ",\"events\":%" PRIu64 ",\"indexed\":%s,\"from\":%" PRIu64, in->events,
		in->indexed ? "true" : "false", o->from);
	if (o->to == UINT64_MAX)
		fputs(",\"to\":null", f);
	else
		fprintf(f, ",\"to\":%" PRIu64, o->to);
	fprintf(f, ",\"mem_records\":%s,\"records_exported\":%" PRIu64 ",\"totals\":{\"exits\":%"
		PRIu64 ",\"faults\":%" PRIu64 ",\"injected\":%" PRIu64 ",\"emulated\":%" PRIu64
		",\"gp\":%" PRIu64 ",\"lost\":%" PRIu64 "}", o->no_mem ? "false" : "true",
		p->st->records, p->exits, p->faults, p->injected, p->emulated, p->gp, p->lost);
	fputs(",\"paging_modes\":", f);
	if (p->track_mode) {
		putc('[', f);
		for (unsigned i = 0; i < p->nmodes; i++)
			fprintf(f, "%s\"%s\"", i ? "," : "", mode_name(p->modes[i]));
		putc(']', f);
	} else {
		fputs("null", f);
	}
	fputs(",\"clock\":\"sequence\",\"clock_note\":\"trace records carry no timestamps: ts is "
	      "the event's sequence number in microseconds\",\"counter_every\":", f);
	fprintf(f, "%" PRIu64 ",\"complete\":%s,\"error\":", p->every,
		rc == SVT_TRACE_END ? "true" : "false");
	if (rc == SVT_TRACE_END) {
		fputs("null", f);
	} else {
		const char *msg = svt_trace_reader_error(r)->msg;
		svt_json_str(f, msg, strlen(msg));
	}
	fputs(",\"warning\":", f);
	if (warn)
		svt_json_str(f, warn, strlen(warn));
	else
		fputs("null", f);
	putc('}', f);
}

int svt_export_perfetto(struct svt_trace_reader *r, const struct svt_trace_info *info,
			const struct svt_export_opts *o, FILE *f, struct svt_export_stats *st)
{
	struct px p = {
		.f = f, .o = o, .st = st,
		.every = o->counter_every ? o->counter_every : SVT_EXPORT_COUNTER_EVERY,
		.track_mode = o->from == 0,
		.mode = SVT_MODE_NONE, .nmodes = 1, .modes = { SVT_MODE_NONE },
	};
	struct svt_trace_event ev;
	uint64_t last = 0;
	int rc = SVT_TRACE_OK;

	memset(st, 0, sizeof(*st));
	p.regs.maxphyaddr = svt_trace_reader_header(r)->maxphyaddr;
	p.regs.features = svt_trace_reader_header(r)->features;
	fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", f);
	tracks(&p, svt_trace_reader_header(r));
	if (o->from > 0)
		rc = svt_trace_seek(r, o->from);
	while (rc == SVT_TRACE_OK) {
		rc = svt_trace_next(r, &ev);
		if (rc != SVT_TRACE_OK)
			break;
		if (ev.seq > o->to) {
			rc = SVT_TRACE_END;
			break;
		}
		if (st->records++ == 0)
			totals(&p, ev.seq);
		one(&p, &ev);
		last = ev.seq;
		if (++p.since >= p.every)
			totals(&p, ev.seq);
		if (o->progress && (st->records & 1023) == 0)
			o->progress(o->progress_ctx, ev.seq);
	}
	flush_exit(&p, NULL, 0);
	if (p.since > 0)
		totals(&p, last);
	st->complete = rc == SVT_TRACE_END;
	fputs("\n],\n\"metadata\":", f);
	metadata(&p, r, info, rc);
	fputs("}\n", f);
	return rc == SVT_TRACE_END ? SVT_TRACE_OK : rc;
}
