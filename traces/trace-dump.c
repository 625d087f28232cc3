/*
 * trace-dump.c — events and headers as text: one event per line, either
 * "SEQ TYPE key=value ..." for people or one JSON object for programs
 * (64-bit values as "0x..." strings so no consumer rounds them; strings
 * escaped to ASCII).  `shadowvt dump` and `shadowvt info` print with these.
 */
#include <inttypes.h>

#include "trace_int.h"

/* SVT_EVIDENCE_* bit by bit (traces/FORMAT.md, "Evidence") */
static const char *const evidence_names[] = {
	"walk", "stores", "tables", "actions", "mode", "cpu",
};
#define NEVIDENCE (sizeof(evidence_names) / sizeof(evidence_names[0]))
_Static_assert(SVT_EVIDENCE_KNOWN == (1u << NEVIDENCE) - 1, "a name for every kind of evidence");

static uint64_t reg_at(const struct svt_emu_regs *r, unsigned i)
{
	return i < 16 ? r->gpr[i] : i == 16 ? r->rip : i == 17 ? r->rflags : r->seg_base[i - 18];
}

/* A quoted string of n bytes: quotes and backslashes escaped, everything
 * outside printable ASCII written with esc (JSON: \u00XX; text: \xNN). */
static void quoted(FILE *f, const char *s, size_t n, const char *esc)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, esc, c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_str(FILE *f, const char *s, size_t n)
{
	quoted(f, s, n, "\\u%04x");
}

static void text_str(FILE *f, const char *s, size_t n)
{
	quoted(f, s, n, "\\x%02x");
}

static void hex_bytes(FILE *f, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", b[i]);
}

static void regs_json(FILE *f, const struct svt_emu_regs *r)
{
	fputc('{', f);
	for (unsigned i = 0; i < 24; i++)
		fprintf(f, "%s\"%s\":\"0x%" PRIx64 "\"", i ? "," : "", svt_reg_name(i),
			reg_at(r, i));
	fputc('}', f);
}

/* FAULT's descriptor tables (svt_fault.dt), by enum svt_dtable */
static const char *const dt_name[SVT_DT_COUNT] = { "gdt", "ldt", "idt", "tss" };

static void dump_json(FILE *f, const struct svt_trace_event *ev)
{
	fprintf(f, "{\"seq\":%" PRIu64 ",\"type\":\"%s\"", ev->seq, svt_trace_type_name(ev->type));
	switch (ev->type) {
	case SVT_TRACE_FAULT: {
		const struct svt_trace_fault *x = &ev->u.fault;
		fprintf(f, ",\"va\":\"0x%" PRIx64 "\",\"error_code\":\"0x%" PRIx32 "\",\"cpl\":%u,"
			"\"code_bits\":%u,\"rflags\":\"0x%" PRIx64 "\",\"pkru\":\"0x%" PRIx32 "\","
			"\"insn\":\"", x->va, x->error_code, x->cpl, x->code_bits, x->rflags,
			x->pkru);
		hex_bytes(f, x->insn, x->insn_len);
		fputc('"', f);
		if (x->has_regs) {
			fputs(",\"regs\":", f);
			regs_json(f, &x->regs);
		}
		if (x->in_delivery)
			fputs(",\"delivery\":true", f);
		for (unsigned t = 0; x->has_dt && t < SVT_DT_COUNT; t++)
			if (x->dt.usable[t])
				fprintf(f, ",\"%s\":{\"base\":\"0x%" PRIx64 "\","
					"\"limit\":\"0x%" PRIx32 "\"}",
					dt_name[t], x->dt.base[t], x->dt.limit[t]);
			else
				fprintf(f, ",\"%s\":null", dt_name[t]);
		break;
	}
	case SVT_TRACE_CR_WRITE:
		fprintf(f, ",\"reg\":\"%s\",\"value\":\"0x%" PRIx64 "\"",
			svt_trace_cr_name(ev->u.cr.reg), ev->u.cr.val);
		if (ev->u.cr.code64)
			fputs(",\"code64\":true", f);
		break;
	case SVT_TRACE_INVLPG:
		fprintf(f, ",\"va\":\"0x%" PRIx64 "\"", ev->u.invlpg_va);
		break;
	case SVT_TRACE_INVPCID:
		fprintf(f, ",\"invpcid_type\":%" PRIu32 ",\"pcid\":\"0x%" PRIx64 "\",\"va\":\"0x%"
			PRIx64 "\"", ev->u.invpcid.type, ev->u.invpcid.pcid, ev->u.invpcid.va);
		break;
	case SVT_TRACE_FLUSH_ALL:
		break;
	case SVT_TRACE_MEM:
		fprintf(f, ",\"gpa\":\"0x%" PRIx64 "\",\"len\":%" PRIu32 ",\"data\":\"",
			ev->u.mem.gpa, ev->u.mem.len);
		hex_bytes(f, ev->u.mem.data, ev->u.mem.len);
		fputc('"', f);
		break;
	case SVT_TRACE_DECISION: {
		const struct svt_trace_decision *d = &ev->u.decision;
		fprintf(f, ",\"input\":\"%s\"", svt_trace_type_name(d->input));
		if (d->input != SVT_TRACE_FAULT) {
			fprintf(f, ",\"rc\":%" PRId32, d->rc);
			break;
		}
		fprintf(f, ",\"outcome\":\"%s\",\"error_code\":\"0x%" PRIx32 "\",\"cr2\":\"0x%"
			PRIx64 "\",\"gpa\":\"0x%" PRIx64 "\"", svt_trace_outcome_name(d->outcome),
			d->error_code, d->cr2, d->gpa);
		if (d->has_regs) {
			fputs(",\"regs\":", f);
			regs_json(f, &d->regs);
		}
		break;
	}
	case SVT_TRACE_LOST:
		fprintf(f, ",\"count\":%" PRIu64 ",\"reason\":\"%s\"", ev->u.lost.count,
			svt_trace_lost_name(ev->u.lost.reason));
		break;
	case SVT_TRACE_MARK:
		fprintf(f, ",\"time\":%" PRIu64 ",\"kind\":\"%s\",\"text\":", ev->u.mark.time,
			svt_trace_mark_name(ev->u.mark.kind));
		json_str(f, ev->u.mark.text, ev->u.mark.len);
		break;
	case SVT_TRACE_GUEST: {
		const struct svt_trace_guest *g = &ev->u.guest;
		fprintf(f, ",\"kind\":\"%s\"", svt_guest_kind_name(g->kind));
		if (g->kind != SVT_GUEST_RFLAGS && g->kind != SVT_GUEST_PKRU)
			fprintf(f, ",\"va\":\"0x%" PRIx64 "\"", g->va);
		if (g->kind <= SVT_GUEST_WRITE)
			fprintf(f, ",\"cpl\":%u", g->cpl);
		if (g->kind == SVT_GUEST_WRITE)
			fprintf(f, ",\"op\":\"%s\",\"size\":%u", svt_guest_op_name(g->op), g->size);
		if (g->kind == SVT_GUEST_WRITE || g->kind == SVT_GUEST_CLEAR)
			fprintf(f, ",\"rip\":\"0x%" PRIx64 "\"", g->rip);
		if (g->kind >= SVT_GUEST_WRITE)
			fprintf(f, ",\"val\":\"0x%" PRIx64 "\"", g->val[0]);
		if (g->size == 16)
			fprintf(f, ",\"val_hi\":\"0x%" PRIx64 "\"", g->val[1]);
		if (g->kind == SVT_GUEST_WRITE && g->op >= SVT_GUEST_CMPXCHG) {
			fprintf(f, ",\"cmp\":\"0x%" PRIx64 "\",\"exchanged\":%s", g->cmp[0],
				(g->flags & SVT_GUEST_OK) ? "true" : "false");
			if (g->size == 16)
				fprintf(f, ",\"cmp_hi\":\"0x%" PRIx64 "\"", g->cmp[1]);
		}
		if (g->kind == SVT_GUEST_CLEAR)
			fprintf(f, ",\"page_table\":%s",
				(g->flags & SVT_GUEST_PT) ? "true" : "false");
		if (g->flags & SVT_GUEST_INJECTED)
			fprintf(f, ",\"injected_ec\":\"0x%" PRIx32 "\",\"injected_cr2\":\"0x%"
				PRIx64 "\"", g->error_code, g->cr2);
		break;
	}
	case SVT_TRACE_CPU: {
		const struct svt_trace_cpu *c = &ev->u.cpu;
		if (c->kind == SVT_CPU_CPUID) {
			fprintf(f, ",\"kind\":\"cpuid\",\"leaf\":\"0x%" PRIx32
				"\",\"subleaf\":\"0x%" PRIx32 "\",\"eax\":\"0x%" PRIx32
				"\",\"ebx\":\"0x%" PRIx32 "\",\"ecx\":\"0x%" PRIx32
				"\",\"edx\":\"0x%" PRIx32 "\"", c->leaf, c->subleaf, c->out[0],
				c->out[1], c->out[2], c->out[3]);
			break;
		}
		fprintf(f, ",\"kind\":\"inject\",\"vector\":%u", c->vector);
		if (c->has_ec)
			fprintf(f, ",\"error_code\":\"0x%" PRIx32 "\"", c->error_code);
		if (c->vector == 14)
			fprintf(f, ",\"cr2\":\"0x%" PRIx64 "\"", c->cr2);
		fprintf(f, ",\"rflags\":\"0x%" PRIx64 "\"", c->rflags);
		break;
	}
	case SVT_TRACE_STEP_DONE:       /* nothing but its type */
		break;
	case SVT_TRACE_UNKNOWN:
		fprintf(f, ",\"code\":%" PRIu64 ",\"len\":%" PRIu32, ev->u.unknown.type,
			ev->u.unknown.len);
		break;
	}
	fputs("}\n", f);
}

/* The registers a reader of a one-line dump wants: where the code and stack are. */
static void regs_text(FILE *f, const struct svt_emu_regs *r)
{
	fprintf(f, " rip=0x%" PRIx64 " rsp=0x%" PRIx64, r->rip, r->gpr[SVT_EMU_RSP]);
}

static void dump_text(FILE *f, const struct svt_trace_event *ev)
{
	fprintf(f, "%" PRIu64 " %s", ev->seq, svt_trace_type_name(ev->type));
	switch (ev->type) {
	case SVT_TRACE_FAULT: {
		const struct svt_trace_fault *x = &ev->u.fault;
		fprintf(f, " va=0x%" PRIx64 " ec=0x%" PRIx32 " cpl=%u bits=%u rflags=0x%" PRIx64,
			x->va, x->error_code, x->cpl, x->code_bits, x->rflags);
		if (x->pkru)
			fprintf(f, " pkru=0x%" PRIx32, x->pkru);
		if (x->insn_len) {
			fputs(" insn=", f);
			hex_bytes(f, x->insn, x->insn_len);
		}
		if (x->has_regs)
			regs_text(f, &x->regs);
		if (x->in_delivery)
			fputs(" delivery", f);
		for (unsigned t = 0; x->has_dt && t < SVT_DT_COUNT; t++)
			if (x->dt.usable[t])
				fprintf(f, " %s=0x%" PRIx64 "+0x%" PRIx32, dt_name[t],
					x->dt.base[t], x->dt.limit[t]);
			else
				fprintf(f, " %s=none", dt_name[t]);
		break;
	}
	case SVT_TRACE_CR_WRITE:
		fprintf(f, " %s=0x%" PRIx64 "%s", svt_trace_cr_name(ev->u.cr.reg), ev->u.cr.val,
			ev->u.cr.code64 ? " 64-bit" : "");
		break;
	case SVT_TRACE_INVLPG:
		fprintf(f, " va=0x%" PRIx64, ev->u.invlpg_va);
		break;
	case SVT_TRACE_INVPCID:
		fprintf(f, " type=%" PRIu32 " pcid=0x%" PRIx64 " va=0x%" PRIx64, ev->u.invpcid.type,
			ev->u.invpcid.pcid, ev->u.invpcid.va);
		break;
	case SVT_TRACE_FLUSH_ALL:
		break;
	case SVT_TRACE_MEM: {
		const struct svt_trace_mem *m = &ev->u.mem;
		fprintf(f, " gpa=0x%" PRIx64 " len=%" PRIu32, m->gpa, m->len);
		if (m->len % 8 == 0 && m->len <= 32) {
			for (uint32_t i = 0; i < m->len; i += 8)
				fprintf(f, " 0x%016" PRIx64, svt_get64(m->data + i));
		} else {
			fputs(" data=", f);
			hex_bytes(f, m->data, m->len < 32 ? m->len : 32);
			if (m->len > 32)
				fputs("...", f);
		}
		break;
	}
	case SVT_TRACE_DECISION: {
		const struct svt_trace_decision *d = &ev->u.decision;
		if (d->input != SVT_TRACE_FAULT) {
			fprintf(f, " %s rc=%" PRId32, svt_trace_type_name(d->input), d->rc);
			break;
		}
		fprintf(f, " %s", svt_trace_outcome_name(d->outcome));
		if (d->error_code || d->cr2)
			fprintf(f, " ec=0x%" PRIx32 " cr2=0x%" PRIx64, d->error_code, d->cr2);
		if (d->gpa)
			fprintf(f, " gpa=0x%" PRIx64, d->gpa);
		if (d->has_regs)
			regs_text(f, &d->regs);
		break;
	}
	case SVT_TRACE_LOST:
		fprintf(f, " count=%" PRIu64 " reason=%s", ev->u.lost.count,
			svt_trace_lost_name(ev->u.lost.reason));
		break;
	case SVT_TRACE_MARK:
		fprintf(f, " time=%" PRIu64 " kind=%s text=", ev->u.mark.time,
			svt_trace_mark_name(ev->u.mark.kind));
		text_str(f, ev->u.mark.text, ev->u.mark.len);
		break;
	case SVT_TRACE_GUEST: {
		const struct svt_trace_guest *g = &ev->u.guest;
		fprintf(f, " %s", svt_guest_kind_name(g->kind));
		if (g->kind == SVT_GUEST_WRITE)
			fprintf(f, " %s/%u", svt_guest_op_name(g->op), g->size);
		if (g->kind != SVT_GUEST_RFLAGS && g->kind != SVT_GUEST_PKRU)
			fprintf(f, " va=0x%" PRIx64, g->va);
		if (g->kind <= SVT_GUEST_WRITE)
			fprintf(f, " cpl=%u", g->cpl);
		if (g->kind == SVT_GUEST_WRITE || g->kind == SVT_GUEST_CLEAR)
			fprintf(f, " rip=0x%" PRIx64, g->rip);
		if (g->kind == SVT_GUEST_CLEAR)
			fprintf(f, " gpa=0x%" PRIx64 "%s", g->val[0],
				(g->flags & SVT_GUEST_PT) ? " page-table" : "");
		else if (g->kind >= SVT_GUEST_WRITE)
			fprintf(f, " val=0x%" PRIx64, g->val[0]);
		if (g->kind == SVT_GUEST_WRITE && g->op >= SVT_GUEST_CMPXCHG)
			fprintf(f, " cmp=0x%" PRIx64 " %s", g->cmp[0],
				(g->flags & SVT_GUEST_OK) ? "exchanged" : "unequal");
		if (g->flags & SVT_GUEST_INJECTED)
			fprintf(f, " injected ec=0x%" PRIx32 " cr2=0x%" PRIx64, g->error_code,
				g->cr2);
		break;
	}
	case SVT_TRACE_CPU: {
		const struct svt_trace_cpu *c = &ev->u.cpu;
		if (c->kind == SVT_CPU_CPUID) {
			fprintf(f, " cpuid leaf=0x%" PRIx32 " sub=0x%" PRIx32 " eax=0x%" PRIx32
				" ebx=0x%" PRIx32 " ecx=0x%" PRIx32 " edx=0x%" PRIx32, c->leaf,
				c->subleaf, c->out[0], c->out[1], c->out[2], c->out[3]);
			break;
		}
		fprintf(f, " inject vector=%u", c->vector);
		if (c->has_ec)
			fprintf(f, " ec=0x%" PRIx32, c->error_code);
		if (c->vector == 14)
			fprintf(f, " cr2=0x%" PRIx64, c->cr2);
		fprintf(f, " rflags=0x%" PRIx64, c->rflags);
		break;
	}
	case SVT_TRACE_STEP_DONE:
		break;
	case SVT_TRACE_UNKNOWN:
		fprintf(f, " code=%" PRIu64 " len=%" PRIu32, ev->u.unknown.type, ev->u.unknown.len);
		break;
	}
	fputc('\n', f);
}

void svt_trace_dump_event(FILE *f, const struct svt_trace_event *ev, bool json)
{
	if (json)
		dump_json(f, ev);
	else
		dump_text(f, ev);
}

static void info_json(FILE *f, const struct svt_trace_header *h, const struct svt_trace_info *in)
{
	fprintf(f, "{\"version\":\"%u.%u\",\"producer\":", in->major, in->minor);
	json_str(f, h->producer, strlen(h->producer));
	fputs(",\"cpu_model\":", f);
	json_str(f, h->cpu_model, strlen(h->cpu_model));
	fputs(",\"guest\":", f);
	json_str(f, h->guest, strlen(h->guest));
	fprintf(f, ",\"maxphyaddr\":%u,\"features\":\"0x%" PRIx32 "\",\"guest_frames\":%" PRIu64
		",\"ram\":[", h->maxphyaddr, h->features, h->guest_frames);
	for (size_t i = 0; i < h->nram; i++)
		fprintf(f, "%s{\"gfn\":%" PRIu64 ",\"count\":%" PRIu64 "}", i ? "," : "",
			h->ram[i].gfn, h->ram[i].count);
	fputs("],\"devices\":[", f);
	for (size_t i = 0; i < h->ndevices; i++)
		fprintf(f, "%s{\"gfn\":%" PRIu64 ",\"count\":%" PRIu64 "}", i ? "," : "",
			h->devices[i].gfn, h->devices[i].count);
	fprintf(f, "],\"policy\":{\"oos\":%u,\"prefetch\":%u,\"early_unshadow\":%s,\"emulate\":%s},"
		"\"pool_frames\":%" PRIu32 ",\"links\":%" PRIu32 ",\"root_cache\":%" PRIu32
		",\"frame_size\":%" PRIu32, h->policy.oos, h->policy.prefetch,
		h->policy.early_unshadow ? "true" : "false", h->policy.emulate ? "true" : "false",
		h->pool_frames, h->links, h->root_cache, h->frame_size);
	fprintf(f, ",\"evidence\":[");
	for (unsigned i = 0, n = 0; i < NEVIDENCE; i++)
		if (h->evidence & (1u << i))
			fprintf(f, "%s\"%s\"", n++ ? "," : "", evidence_names[i]);
	fprintf(f, "]");
	fprintf(f, ",\"file_size\":%" PRIu64 ",\"indexed\":%s,\"frames\":%" PRIu64
		",\"events\":%" PRIu64 ",\"records\":%" PRIu64 ",\"lost\":%" PRIu64
		",\"bytes_per_event\":%.3f,\"counts\":{", in->file_size,
		in->indexed ? "true" : "false", in->frames, in->events, in->records, in->lost,
		in->bytes_per_event);
	for (unsigned t = 0; t < SVT_TRACE_NTYPES; t++)
		fprintf(f, "%s\"%s\":%" PRIu64, t ? "," : "", svt_trace_type_name(t),
			in->counts[t]);
	fputs("}}\n", f);
}

void svt_trace_dump_info(FILE *f, const struct svt_trace_header *h,
			 const struct svt_trace_info *in, bool json)
{
	uint64_t ram = 0;
	if (json) {
		info_json(f, h, in);
		return;
	}
	for (size_t i = 0; i < h->nram; i++)
		ram += h->ram[i].count;
	fprintf(f, "format:          %u.%u\nproducer:        ", in->major, in->minor);
	text_str(f, h->producer, strlen(h->producer));
	fputs("\ncpu model:       ", f);
	text_str(f, h->cpu_model, strlen(h->cpu_model));
	fputs("\nguest:           ", f);
	text_str(f, h->guest, strlen(h->guest));
	fprintf(f, "\nmaxphyaddr:      %u\nfeatures:        0x%" PRIx32 "\n"
		"guest frames:    %" PRIu64 " (%" PRIu64 " RAM in %zu range(s))\n",
		h->maxphyaddr, h->features, h->guest_frames, ram, h->nram);
	for (size_t i = 0; i < h->ndevices; i++)
		fprintf(f, "device frames:   %#" PRIx64 "..%#" PRIx64 " (passed through)\n",
			h->devices[i].gfn, h->devices[i].gfn + h->devices[i].count - 1);
	fprintf(f, "policy:          oos=%u prefetch=%u early_unshadow=%s emulate=%s\n"
		"pool frames:     %" PRIu32 " (links %" PRIu32 ", root cache %" PRIu32 ")\n",
		h->policy.oos, h->policy.prefetch, h->policy.early_unshadow ? "on" : "off",
		h->policy.emulate ? "on" : "off", h->pool_frames, h->links, h->root_cache);
	fprintf(f, "evidence:       ");
	for (unsigned i = 0; i < NEVIDENCE; i++)
		if (h->evidence & (1u << i))
			fprintf(f, " %s", evidence_names[i]);
	fprintf(f, "%s%s\n", (h->evidence & SVT_EVIDENCE_KNOWN) ? "" : " none",
		(h->evidence & ~SVT_EVIDENCE_KNOWN) ?
		" (and kinds this reader does not know)" : "");
	fprintf(f, "file size:       %" PRIu64 " bytes\nindex:           %s\n"
		"frames:          %" PRIu64 " (target %" PRIu32 " bytes)\n"
		"events:          %" PRIu64 "\n",
		in->file_size, in->indexed ? "valid" : "missing or damaged", in->frames,
		h->frame_size, in->events);
	if (in->indexed) {
		fprintf(f, "records:         %" PRIu64 "\nlost events:     %" PRIu64 "\n",
			in->records, in->lost);
		for (unsigned t = 1; t < SVT_TRACE_NTYPES; t++)
			fprintf(f, "  %-14s %" PRIu64 "\n", svt_trace_type_name(t), in->counts[t]);
		if (in->counts[0])
			fprintf(f, "  %-14s %" PRIu64 "\n", "unknown types", in->counts[0]);
	}
	fprintf(f, "bytes per event: %.3f\n", in->bytes_per_event);
}
