/*
 * trace_event.h — the event model of shadowvt traces (traces/FORMAT.md,
 * "Records"; shadowvt-trace(5)): one struct per record type, the events a
 * recorder produces and a replayer consumes, and the adapters between
 * events and the core's own types.  Freestanding: part of the shared
 * record/replay layer (common/), used alike by the hypervisor, the trace
 * library and the host tool.
 */
#ifndef SVT_TRACE_EVENT_H
#define SVT_TRACE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svt.h"

/*
 * Evidence a recorder logs independently of what the core reads (the
 * header's EVIDENCE field; traces/FORMAT.md, "Evidence"), as MEM records
 * ahead of the input:
 * SVT_EVIDENCE_WALK: at each FAULT, and at each INVLPG and single-address
 * INVPCID, every entry of the guest's page walk for the address, as the
 * guest's paging registers select it, down to the leaf or the first
 * entry that is not present.
 * SVT_EVIDENCE_STORES: the guest's own stores to every frame the guest
 * uses, or has used, as a page table (the producer knows which: synth's
 * guest OS does), each logged as it happens, so that the replayer's copy
 * of every page table is the guest's at every input, out-of-sync pages
 * included.  The hypervisor cannot see such stores and does not claim it.
 * SVT_EVIDENCE_TABLES: at each flush of a whole address space the core
 * accepted (a CR3 load that flushes, a CR4 write that flushes, INVPCID of
 * a context or of everything, FLUSH_ALL), every guest page table the core
 * let out of sync (the last 16 it reported) whose words the replayer
 * holds: each such word that changed since, logged again.
 */
#define SVT_EVIDENCE_WALK       (1u << 0)
#define SVT_EVIDENCE_STORES     (1u << 1)
#define SVT_EVIDENCE_TABLES     (1u << 2)
/*
 * SVT_EVIDENCE_ACTIONS: every action of the guest at the hardware's
 * interface, whatever the core made of it, as GUEST records (and the
 * CR_WRITE, INVLPG and INVPCID records every policy takes alike): each
 * read, fetch and write instruction with the outcome the guest saw, its
 * RFLAGS, each page cleared.  The guest's part of the run, complete: a
 * replayer can run it against a core under another policy on the same
 * hardware model and get the exits recording under that policy takes
 * (docs/replay.md, "What-ifs").  Only a producer that sees every access
 * can log it (synth does; the hypervisor cannot).
 */
#define SVT_EVIDENCE_ACTIONS    (1u << 3)
/*
 * SVT_EVIDENCE_MODE: every CR_WRITE says whether the instruction ran in
 * 64-bit mode (IA-32e mode with CS.L = 1), where clearing CR0.PG raises
 * #GP; without it a replayer cannot judge such a write.
 * SVT_EVIDENCE_CPU: CPU records: what the producer showed the guest of the
 * processor besides paging, decided outside the core: each CPUID it
 * answered (leaf, subleaf, the four registers the guest got) and each
 * exception it injected (vector, error code, CR2 of a #PF, the RFLAGS the
 * delivery pushes).  The hypervisor logs both; synth neither.
 */
#define SVT_EVIDENCE_MODE       (1u << 4)
#define SVT_EVIDENCE_CPU        (1u << 5)
#define SVT_EVIDENCE_KNOWN      (SVT_EVIDENCE_WALK | SVT_EVIDENCE_STORES | SVT_EVIDENCE_TABLES | \
				 SVT_EVIDENCE_ACTIONS | SVT_EVIDENCE_MODE | SVT_EVIDENCE_CPU)

/* A range of guest frames (RAM or devices, in headers and HELLO). */
struct svt_trace_range {
	uint64_t gfn;           /* first guest frame */
	uint64_t count;         /* frames; at least 1 */
};

#define SVT_TRACE_MAX_MEM       4096            /* bytes of one MEM record */
#define SVT_TRACE_MAX_INSN      15
#define SVT_TRACE_MAX_MARK      255             /* bytes of a MARK's text */

/* ---- events -------------------------------------------------------------- */

/* Record types; the numbers are the on-disk type codes. */
enum svt_trace_type {
	SVT_TRACE_UNKNOWN = 0,  /* a type this reader does not know: not interpreted */
	SVT_TRACE_FAULT = 1,    /* a #PF handed to svt_mmu_page_fault */
	SVT_TRACE_CR_WRITE = 2, /* svt_mmu_write_cr0/cr3/cr4/efer */
	SVT_TRACE_INVLPG = 3,
	SVT_TRACE_INVPCID = 4,
	SVT_TRACE_FLUSH_ALL = 5,
	SVT_TRACE_MEM = 6,      /* guest memory contents the replayer cannot know */
	SVT_TRACE_DECISION = 7, /* the core's answer to the preceding input */
	SVT_TRACE_LOST = 8,     /* events the recorder dropped, or a gap in the file */
	SVT_TRACE_MARK = 9,     /* a timestamped phase or console marker */
	SVT_TRACE_GUEST = 10,   /* an action of the guest (SVT_EVIDENCE_ACTIONS) */
	SVT_TRACE_CPU = 11,     /* CPUID answered, an exception injected (SVT_EVIDENCE_CPU) */
	SVT_TRACE_STEP_DONE = 12, /* svt_mmu_step_done: the step a FAULT's decision asked
				   * for ended */
};
#define SVT_TRACE_NTYPES 13     /* counts[] is indexed by type; [0] counts unknown types */

enum svt_trace_cr { SVT_TRACE_CR0 = 0, SVT_TRACE_CR3 = 1, SVT_TRACE_CR4 = 2, SVT_TRACE_EFER = 3 };

/* Why events were lost. */
enum svt_trace_lost_reason {
	SVT_TRACE_LOST_UNSPEC = 0,
	SVT_TRACE_LOST_BUFFER = 1,      /* the recorder's buffer was full */
	SVT_TRACE_LOST_TRANSPORT = 2,   /* the link to the recorder lost data */
	SVT_TRACE_LOST_GAP = 3,         /* reader only: frames missing from the file */
};

/* MARK kinds */
enum svt_trace_mark_kind {
	SVT_TRACE_MARK_PHASE = 0, SVT_TRACE_MARK_CONSOLE = 1, SVT_TRACE_MARK_NOTE = 2
};

/*
 * A FAULT: struct svt_fault by value.  Without has_regs (no register file
 * and no instruction known) regs reads as all zero in a decoded record;
 * a producer's event may hold what it was given there (the recorder's,
 * when the core decided without them: svt_recorder_fault()), which no
 * writer or reader looks at.
 */
struct svt_trace_fault {
	uint64_t va;
	uint32_t error_code;
	uint8_t cpl;            /* 0..3 */
	uint8_t code_bits;      /* 16, 32 or 64 */
	uint8_t insn_len;       /* 0..15 */
	bool has_regs;
	uint64_t rflags;
	uint32_t pkru;
	uint8_t insn[SVT_TRACE_MAX_INSN];
	struct svt_emu_regs regs;
	/* since 1.5: svt_fault.in_delivery and .dt (has_dt: not NULL) */
	bool in_delivery;
	bool has_dt;
	struct svt_dtables dt;
};

struct svt_trace_cr_write {
	uint8_t reg;            /* enum svt_trace_cr */
	bool code64;            /* from 64-bit mode (meaningful under SVT_EVIDENCE_MODE) */
	uint64_t val;
};

struct svt_trace_invpcid {
	uint32_t type;          /* 0..3 */
	uint64_t pcid, va;
};

/* data: len bytes, owned by the reader (until the next call on it) or the caller. */
struct svt_trace_mem {
	uint64_t gpa;
	uint32_t len;           /* 1..4096 */
	const uint8_t *data;
};

/*
 * A DECISION answers the input event before it (input says which kind).
 * FAULT: outcome, error_code/cr2 (INJECT), gpa (MMIO), regs after
 * emulation (has_regs); fields that do not apply are 0.  CR_WRITE and
 * INVPCID: rc (0 or SVT_E_GP).
 */
struct svt_trace_decision {
	uint8_t input;          /* SVT_TRACE_FAULT, SVT_TRACE_CR_WRITE or SVT_TRACE_INVPCID */
	uint8_t outcome;        /* enum svt_pf_outcome */
	bool has_regs;
	int32_t rc;
	uint32_t error_code;
	uint64_t cr2, gpa;
	struct svt_emu_regs regs;
};

/* count events are lost from this event's sequence number on. */
struct svt_trace_lost {
	uint64_t count;         /* >= 1 */
	uint32_t reason;        /* enum svt_trace_lost_reason */
};

struct svt_trace_mark {
	uint64_t time;          /* nanoseconds since the recording started; 0 unknown */
	uint32_t kind;          /* enum svt_trace_mark_kind */
	uint16_t len;           /* bytes of text, <= 255 */
	char text[SVT_TRACE_MAX_MARK + 1];      /* NUL-terminated, no NUL inside */
};

/*
 * A GUEST record (SVT_EVIDENCE_ACTIONS), logged after the action with the
 * outcome the guest saw, so after the FAULT records it caused.
 * READ, FETCH: an access of va at cpl.  WRITE: a write instruction whose
 * memory operand is va (op, size bytes, at code address rip; val the
 * source, cmp the expected value of the CMPXCHG forms; 16 bytes only for
 * CMPXCHG16B).  CLEAR: the kernel clears the frame at gpa val[0], at
 * kernel address va, from code at rip (a clear_page: SVT_GUEST_PT if the
 * frame becomes a page table).  RFLAGS: the guest's RFLAGS is val[0] from
 * here on.  PKRU: the guest's PKRU is val[0] (below 2^32) from here on (a
 * WRPKRU, which is no exit).  Outcome flags: SVT_GUEST_INJECTED (a #PF,
 * error_code and cr2 delivered to the guest), SVT_GUEST_OK (a CMPXCHG form
 * exchanged).
 */
enum svt_trace_guest_kind {
	SVT_GUEST_READ = 0, SVT_GUEST_FETCH = 1, SVT_GUEST_WRITE = 2, SVT_GUEST_CLEAR = 3,
	SVT_GUEST_RFLAGS = 4, SVT_GUEST_PKRU = 5,
};
#define SVT_GUEST_NKINDS        6
enum svt_trace_guest_op {
	SVT_GUEST_MOV = 0, SVT_GUEST_XCHG = 1, SVT_GUEST_CMPXCHG = 2, SVT_GUEST_CMPXCHG8B = 3,
	SVT_GUEST_CMPXCHG16B = 4,
};
#define SVT_GUEST_INJECTED      0x01u
#define SVT_GUEST_OK            0x02u
#define SVT_GUEST_PT            0x04u
#define SVT_GUEST_FLAGS         0x07u
struct svt_trace_guest {
	uint8_t kind;           /* enum svt_trace_guest_kind */
	uint8_t op;             /* WRITE: enum svt_trace_guest_op; else 0 */
	uint8_t size;           /* WRITE: 1, 2, 4, 8 or 16 (CMPXCHG16B); else 0 */
	uint8_t cpl;            /* READ, FETCH, WRITE: 0..3; else 0 */
	uint8_t flags;          /* SVT_GUEST_* */
	uint32_t error_code;    /* INJECTED */
	uint64_t va, rip, cr2;  /* cr2: INJECTED */
	uint64_t val[2], cmp[2];
};

/*
 * A CPU record (SVT_EVIDENCE_CPU), logged once the producer has decided
 * it, after the input and DECISION it follows from, if any.
 * CPUID: the guest executed CPUID with EAX = leaf, ECX = subleaf and got
 * out[] = EAX, EBX, ECX, EDX.
 * INJECT: the producer delivered exception `vector` (0..31) to the guest,
 * with error_code if has_ec, CR2 = cr2 for a #PF (vector 14; else 0),
 * the delivery pushing RFLAGS = rflags.
 */
enum svt_trace_cpu_kind { SVT_CPU_CPUID = 0, SVT_CPU_INJECT = 1 };
#define SVT_CPU_NKINDS          2
struct svt_trace_cpu {
	uint8_t kind;           /* enum svt_trace_cpu_kind */
	uint8_t vector;         /* INJECT */
	bool has_ec;            /* INJECT */
	uint32_t leaf, subleaf; /* CPUID */
	uint32_t out[4];        /* CPUID: EAX EBX ECX EDX */
	uint32_t error_code;    /* INJECT, has_ec */
	uint64_t cr2;           /* INJECT of vector 14 */
	uint64_t rflags;        /* INJECT */
};

/* A record of a type this reader does not know; written as is by the writer. */
struct svt_trace_unknown {
	uint64_t type;          /* on-disk type code, >= SVT_TRACE_NTYPES */
	uint32_t len;
	const uint8_t *data;
};

/*
 * One event.  seq is its sequence number: every record takes one, a LOST
 * record takes count (the numbers of the events it stands for), so seq is
 * the event's position in the recorder's stream.  The writer assigns seq
 * and ignores the caller's.
 */
struct svt_trace_event {
	enum svt_trace_type type;
	uint64_t seq;
	union {
		struct svt_trace_fault fault;
		struct svt_trace_cr_write cr;
		uint64_t invlpg_va;
		struct svt_trace_invpcid invpcid;
		struct svt_trace_mem mem;
		struct svt_trace_decision decision;
		struct svt_trace_lost lost;
		struct svt_trace_mark mark;
		struct svt_trace_guest guest;
		struct svt_trace_cpu cpu;
		struct svt_trace_unknown unknown;
	} u;
};

/* Sequence numbers the event takes: lost.count for LOST, else 1 (inline:
 * the hypervisor's recorder asks on every event it emits). */
static inline uint64_t svt_trace_event_span(const struct svt_trace_event *ev)
{
	return ev->type == SVT_TRACE_LOST ? ev->u.lost.count : 1;
}

/* A FAULT event as the core's struct svt_fault.  When the event has
 * registers they are copied to *regs and f->regs points there; else
 * f->regs is NULL and *regs is left alone. */
void svt_trace_fault_to_core(const struct svt_trace_fault *tf, struct svt_emu_regs *regs,
			     struct svt_fault *f);

/* For recorders: the FAULT event of a fault about to be handed to the
 * core (registers as they are before it), and the DECISION answering it
 * (f->regs, if any, now the registers after the core's emulation). */
void svt_trace_event_fault(const struct svt_fault *f, struct svt_trace_event *ev);
/* The part of svt_trace_event_fault() every fault has: the type and the
 * fault's address, error code, CPL, code size, RFLAGS and PKRU. */
static inline void svt_trace_event_fault_head(const struct svt_fault *f,
					      struct svt_trace_event *ev)
{
	struct svt_trace_fault *t = &ev->u.fault;
	ev->type = SVT_TRACE_FAULT;
	ev->seq = 0;
	t->va = f->va;
	t->error_code = f->error_code;
	t->cpl = f->cpl;
	t->code_bits = (uint8_t)f->code_bits;
	t->rflags = f->rflags;
	t->pkru = f->pkru;
}
void svt_trace_event_decision(const struct svt_fault *f, enum svt_pf_outcome o,
			      const struct svt_fault_result *res, struct svt_trace_event *ev);
/* The part of svt_trace_event_decision() every decision has: all but the
 * registers (has_regs false). */
static inline void svt_trace_event_decision_head(enum svt_pf_outcome o,
						 const struct svt_fault_result *res,
						 struct svt_trace_event *ev)
{
	struct svt_trace_decision *d = &ev->u.decision;
	ev->type = SVT_TRACE_DECISION;
	ev->seq = 0;
	d->input = SVT_TRACE_FAULT;
	d->outcome = (uint8_t)o;
	d->rc = 0;
	d->error_code = res->error_code;
	d->cr2 = res->cr2;
	d->gpa = res->gpa;
	d->has_regs = false;
}
/* Hand a CR_WRITE (enum svt_trace_cr) to the core: its return value.
 * code64: the write came from 64-bit mode (false where unknown). */
int svt_trace_cr_apply(struct svt_mmu *m, unsigned reg, uint64_t val, bool code64);


#endif /* SVT_TRACE_EVENT_H */
