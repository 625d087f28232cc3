/*
 * recorder.h — the one recorder (DESIGN.md, "Recording principle"), used
 * by the hypervisor (vmx/record.c), by `shadowvt synth` and by any other
 * producer of traces, so that synthetic traces go through exactly the
 * code live ones do.
 *
 * The recorder wraps the core's environment table.  The core reads guest
 * memory through it; a bounded mirror keeps, for the guest pages the core
 * has read, what a replayer will know (the MEM records so far and the
 * core's own writes), and every 8-byte word the core reads that the
 * mirror does not hold, or holds with another value, becomes a MEM record.
 * A page evicted from the mirror (second-chance clock) is simply unknown
 * again: the recorder may log a value twice, never miss one.  The
 * svt_recorder_* calls hand one input to the core and emit, in order, the
 * MEM records its reads produced, the input, and the core's decision
 * (traces/FORMAT.md, "Order and meaning").  Events go to the caller's
 * emit function: the hypervisor encodes them into stream packets, synth
 * into a trace writer.
 *
 * Freestanding and allocation-free: the caller provides the mirror's
 * storage.  Single-threaded: one recorder per core instance.
 */
#ifndef SVT_RECORDER_H
#define SVT_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svt.h"
#include "trace_event.h"

/* One mirrored guest page. */
struct svt_rec_slot {
	uint64_t gfn;
	int32_t next;           /* hash chain */
	bool used;
	bool ref;               /* looked up since the clock hand last passed */
	uint64_t known[64];     /* bit per 8-byte word: the mirror holds it */
	uint8_t data[4096];
};

#define SVT_REC_SLOTS_DEFAULT 1024
#define SVT_REC_OOS_MAX 16             /* out-of-sync tables the table evidence covers */
				       /* 4.6 MiB of mirror: the hypervisor's */

/* Where the recorder's time went, in time-stamp-counter ticks, in a
 * build with SVT_PROFILE defined (the hypervisor's); else zeros. */
enum { SVT_REC_PROF_CORE, SVT_REC_PROF_READ, SVT_REC_PROF_N };

struct svt_recorder_config {
	const struct svt_env *raw;      /* the environment the core would use without us */
	struct svt_rec_slot *slots;     /* the mirror: nslots pages */
	unsigned nslots;                /* >= 1 */
	int32_t *hash;                  /* nhash heads; nhash a power of two */
	unsigned nhash;
	/* Reads of guest-physical addresses below this are noted (guest
	 * RAM); a replayer knows what lies above (all ones). */
	uint64_t note_limit;
	/* Optional: guest memory [0, note_limit) readable at direct + gpa,
	 * for the one-entry fast path (a walk reads entries one by one).
	 * NULL: every read goes through raw. */
	const uint8_t *direct;
	/* Evidence the recorder logs besides what the core reads
	 * (SVT_EVIDENCE_*; traces/FORMAT.md, "Evidence"). */
	uint32_t evidence;
	/* Receives every event, in order; ev is valid during the call only. */
	void (*emit)(void *ctx, const struct svt_trace_event *ev);
	void *emit_ctx;
};

struct svt_recorder {
	struct svt_recorder_config c;
	struct svt_env env;             /* hand this to svt_mmu_init */
	unsigned clock_hand;
	unsigned hash_shift;            /* 64 - log2(nhash) */
	int32_t last_slot;              /* the slot slot_of() found last */
	int32_t prev_slot;              /* and the one before; -1: none */
	/* the open MEM span: bytes of one page the core read, not yet emitted */
	uint64_t span_gpa;
	uint32_t span_len;
	uint8_t span[SVT_TRACE_MAX_MEM];
	uint64_t events;                /* events emitted */
	uint64_t mem_bytes;             /* bytes of MEM data emitted */
	uint64_t evictions;             /* mirror pages dropped for others */
	uint64_t prof[SVT_REC_PROF_N];
	/* The guest's paging registers as its accepted CR writes left them
	 * (the recorder's own view, for the evidence walks). */
	uint64_t cr0, cr3, cr4, efer;
	uint64_t evidence_reads;        /* entries read for evidence */
	uint64_t evidence_tables;       /* tables compared at flushes */
	/* the guest frames the core last let out of sync (SVT_EV_OOS), for
	 * the table evidence; ~0: none */
	uint64_t oos[SVT_REC_OOS_MAX];
	unsigned oos_next;
	/* The FAULT and DECISION events of the last fault, kept: what they
	 * hold of an instruction, registers or tables is cleared only after
	 * a fault that had some (most have none; the events are 300 bytes) */
	struct svt_trace_event fault_ev, decision_ev;
	bool fault_extra, decision_regs;
	/* The DECISION of a CR write or INVPCID (decision_rc()): its
	 * registers never set, so they read as zero, as the format says */
	struct svt_trace_event rc_ev;
};

/* Start: the mirror empty.  Returns false if cfg is unusable. */
bool svt_recorder_init(struct svt_recorder *r, const struct svt_recorder_config *cfg);
/* The environment the core must be given (reads noted, writes mirrored). */
const struct svt_env *svt_recorder_env(const struct svt_recorder *r);

/* Each hands one input to the core and records it; the return values are
 * the core's.  A FAULT decided without the registers and instruction
 * (res->used_regs false) is recorded without them, unless it is a
 * supervisor data fault under the guest's CR4.SMAP with RFLAGS.AC=1 that
 * came with the delivery flag or the tables (replay's implicit-access
 * rule reads them, whatever the core made of the fault). */
enum svt_pf_outcome svt_recorder_fault(struct svt_recorder *r, struct svt_mmu *m,
				       const struct svt_fault *f, struct svt_fault_result *res);
int svt_recorder_cr(struct svt_recorder *r, struct svt_mmu *m, unsigned reg, uint64_t val);
/* As svt_recorder_cr, saying whether the write came from 64-bit mode
 * (svt_mmu_write_cr0_mode(); recorded either way). */
int svt_recorder_cr_mode(struct svt_recorder *r, struct svt_mmu *m, unsigned reg, uint64_t val,
			 bool code64);
void svt_recorder_invlpg(struct svt_recorder *r, struct svt_mmu *m, uint64_t va);
int svt_recorder_invpcid(struct svt_recorder *r, struct svt_mmu *m, unsigned type, uint64_t pcid,
			 uint64_t va);
void svt_recorder_flush_all(struct svt_recorder *r, struct svt_mmu *m);
/* The step the last fault's decision asked for (svt_fault_result.step)
 * ended, at the next VM exit: svt_mmu_step_done(), recorded as STEP_DONE. */
void svt_recorder_step_done(struct svt_recorder *r, struct svt_mmu *m);
/* The guest stored len bytes at gpa outside the core (memory already
 * holds them): with SVT_EVIDENCE_STORES, the words that changed what a
 * replayer knows are logged ahead of the next input.  The producer calls
 * it for the frames the evidence covers (trace_event.h). */
void svt_recorder_guest_store(struct svt_recorder *r, uint64_t gpa, size_t len);
/* A MARK (enum svt_trace_mark_kind) with len bytes of text (cut at
 * SVT_TRACE_MAX_MARK; no NUL inside). */
void svt_recorder_mark(struct svt_recorder *r, unsigned kind, const char *text, size_t len);
/* With SVT_EVIDENCE_ACTIONS: an action of the guest, after it was done
 * (trace_event.h, struct svt_trace_guest); nothing otherwise. */
void svt_recorder_guest_action(struct svt_recorder *r, const struct svt_trace_guest *g);
/* With SVT_EVIDENCE_CPU: a CPUID the producer answered or an exception it
 * injected (trace_event.h, struct svt_trace_cpu); nothing otherwise. */
void svt_recorder_cpu(struct svt_recorder *r, const struct svt_trace_cpu *c);

#endif /* SVT_RECORDER_H */
