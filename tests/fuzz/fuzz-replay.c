/*
 * fuzz-replay.c — the replay engine (sim/replay/) on hostile traces:
 * well-formed files whose contents make no sense.  The input picks the
 * header (guest size, RAM map, pool, policy), whether the replay uses the
 * recorded policy or another, the audit level, and then a stream of
 * events of every type with arbitrary fields (memory anywhere, faults at
 * any address with any error code, instructions of random bytes, control
 * register values no CPU accepts, decisions that answer nothing or the
 * wrong input, lost events).  The trace is written with the real writer
 * into memory and replayed from there.  The replay must end with a
 * documented status (0, 1 or 3), a message when it says bad input, and
 * never crash, hang or leak.
 */
#include <string.h>

#include "fuzz.h"
#include "replay.h"
#include "trace.h"

static void event(struct fz *f, struct svt_trace_event *ev, uint8_t *mem, uint64_t frames)
{
	memset(ev, 0, sizeof(*ev));
	switch (fz_u8(f) % 12) {
	case 0:
	case 1:
		ev->type = SVT_TRACE_MEM;
		ev->u.mem.gpa = fz_u8(f) & 1 ? fz_u64(f, 3) % ((frames + 2) << 12) : fz_u64(f, 7);
		ev->u.mem.gpa &= (1ull << 51) - 1;
		ev->u.mem.len = 1 + fz_u8(f) % 64;
		for (unsigned i = 0; i < ev->u.mem.len; i++)
			mem[i] = fz_u8(f);
		ev->u.mem.data = mem;
		break;
	case 2:
	case 3: {
		struct svt_trace_fault *t = &ev->u.fault;
		ev->type = SVT_TRACE_FAULT;
		t->va = fz_u8(f) & 1 ? fz_u64(f, 8) : fz_u64(f, 4);
		t->error_code = fz_u8(f) & 0x3f;
		t->cpl = fz_u8(f) & 3;
		t->code_bits = (uint8_t[]){ 16, 32, 64, 64 }[fz_u8(f) & 3];
		t->rflags = fz_u64(f, 3);
		t->pkru = (uint32_t)fz_u64(f, 4);
		if (fz_u8(f) & 1) {
			t->has_regs = true;
			t->insn_len = (uint8_t)(fz_u8(f) % 16);
			for (unsigned i = 0; i < t->insn_len; i++)
				t->insn[i] = fz_u8(f);
			for (unsigned i = 0; i < 16; i++)
				t->regs.gpr[i] = fz_u8(f) & 1 ? fz_u64(f, 8) : fz_u8(f);
			t->regs.rip = fz_u64(f, 8);
		}
		break;
	}
	case 4:
		ev->type = SVT_TRACE_CR_WRITE;
		ev->u.cr.reg = fz_u8(f) & 3;
		ev->u.cr.val = fz_u8(f) & 1 ? fz_u64(f, 8) : fz_u64(f, 3) << 12 | fz_u64(f, 1);
		break;
	case 5:
		ev->type = SVT_TRACE_INVLPG;
		ev->u.invlpg_va = fz_u64(f, 8);
		break;
	case 6:
		ev->type = SVT_TRACE_INVPCID;
		ev->u.invpcid.type = fz_u8(f) & 3;
		ev->u.invpcid.pcid = fz_u64(f, 2);
		ev->u.invpcid.va = fz_u64(f, 8);
		break;
	case 7:
		ev->type = SVT_TRACE_DECISION;
		ev->u.decision.input = (uint8_t[]){ SVT_TRACE_FAULT, SVT_TRACE_CR_WRITE,
						    SVT_TRACE_INVPCID,
						    SVT_TRACE_FAULT }[fz_u8(f) & 3];
		if (ev->u.decision.input == SVT_TRACE_FAULT) {
			ev->u.decision.outcome = fz_u8(f) % 5;
			ev->u.decision.error_code = fz_u8(f);
			ev->u.decision.cr2 = fz_u64(f, 8);
		} else {
			ev->u.decision.rc = fz_u8(f) & 1 ? -13 : 0;
		}
		break;
	case 8:
		ev->type = SVT_TRACE_LOST;
		ev->u.lost.count = 1 + fz_u8(f);
		ev->u.lost.reason = fz_u8(f) % 3;
		break;
	case 9: {
		/* a guest action (what a what-if regenerates from), valid or not */
		struct svt_trace_guest *g = &ev->u.guest;
		ev->type = SVT_TRACE_GUEST;
		g->kind = fz_u8(f) % (SVT_GUEST_NKINDS + 1);
		g->cpl = fz_u8(f) & 3;
		g->va = fz_u8(f) & 1 ? fz_u64(f, 8) : fz_u64(f, 3) % ((frames + 2) << 12);
		g->rip = fz_u64(f, 8);
		g->val[0] = fz_u8(f) & 1 ? fz_u64(f, 8) : (fz_u64(f, 3) % ((frames + 2) << 12));
		g->cmp[0] = fz_u64(f, 8);
		if (g->kind == SVT_GUEST_WRITE) {
			g->op = fz_u8(f) % 6;
			g->size = (uint8_t[]){ 1, 2, 4, 8, 16, 3 }[fz_u8(f) % 6];
		} else if (g->kind != SVT_GUEST_READ && g->kind != SVT_GUEST_FETCH) {
			g->cpl = 0;
		}
		g->flags = fz_u8(f) & 7;
		g->error_code = fz_u8(f);
		g->cr2 = fz_u64(f, 8);
		break;
	}
	case 10:
		ev->type = SVT_TRACE_STEP_DONE;        /* where a step is open, or not */
		break;
	default:
		ev->type = SVT_TRACE_FLUSH_ALL;
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size, 0 };
	struct svt_trace_range ram[3];
	uint64_t frames = 16 + fz_u64(&f, 2) % 4096;
	size_t nram = 1 + fz_u8(&f) % 3;
	uint64_t at = 0;
	for (size_t i = 0; i < nram; i++) {
		ram[i].gfn = at + fz_u8(&f) % 64;
		ram[i].count = 1 + fz_u64(&f, 2) % frames;
		at = ram[i].gfn + ram[i].count;
	}
	if (at > frames)
		frames = at;
	uint8_t pb = fz_u8(&f);
	struct svt_trace_header h = {
		.producer = "fuzz-replay", .cpu_model = "fuzz", .guest = "hostile",
		.maxphyaddr = (uint8_t)(32 + fz_u8(&f) % 21), .features = fz_u8(&f) & 1,
		.guest_frames = frames, .ram = ram, .nram = nram,
		.policy = { .oos = pb & 3, .prefetch = (pb >> 2) & 15, .emulate = (pb >> 6) & 1,
			    .early_unshadow = pb >> 7 },
		.pool_frames = 16 + fz_u8(&f) % 48,
		.evidence = fz_u8(&f) & 1 ? SVT_EVIDENCE_ACTIONS : 0,
	};
	struct fz_sink s = { 0 };
	struct svt_trace_error err;
	struct svt_trace_writer *w = svt_trace_writer_open_sink(fz_sink_write, &s, "fuzz",
								&h, 0, &err);
	FZ_CHECK(w != NULL, "writer: %s\n", err.msg);
	svt_trace_writer_set_frame_size(w, 256 + fz_u8(&f) * 16);
	uint8_t cfgb = fz_u8(&f);
	uint8_t mem[64];
	for (unsigned n = 0; n < 400 && fz_more(&f); n++) {
		struct svt_trace_event ev;
		event(&f, &ev, mem, frames);
		svt_trace_write(w, &ev);        /* an invalid event is refused: fine */
	}
	FZ_CHECK(svt_trace_writer_close(w, &err) == SVT_TRACE_OK, "close: %s\n", err.msg);

	struct svt_replay_config cfg = {
		.path = "hostile.svt", .mem = s.buf, .mem_len = s.len,
		.audit = (enum svt_audit_level)(cfgb & 3),
		.policy_given = (cfgb >> 2) & 1, .pool = 16 + (cfgb >> 3),
		.policy = { .oos = (cfgb >> 3) & 1, .prefetch = cfgb >> 4, .emulate = cfgb & 1 },
	};
	struct svt_replay_result *res = malloc(sizeof(*res));
	FZ_CHECK(res != NULL, "malloc\n");
	int st = svt_replay(&cfg, res);
	FZ_CHECK(st == 0 || st == 1 || st == 3, "replay status %d\n", st);
	FZ_CHECK(st != 3 || res->message[0] != '\0', "bad input without a message\n");
	FZ_CHECK(st != 0 || (res->violations == 0 && res->divergences == 0),
		 "clean with violations\n");
	free(res);
	free(s.buf);
	return 0;
}
