/*
 * synth.h — synthetic guests (shadowvt synth).
 *
 * A synthetic guest is a small operating-system model running over the
 * real core on a modelled VT-x machine, with no VT-x: the "hardware"
 * (synth-hw.c) walks the shadow tables the core built (with the CR0, CR3,
 * CR4 and EFER of svt_mmu_hw_state), caches translations in a TLB that
 * every VM exit flushes (VT-x without VPID), sets A/D bits in the shadow
 * entries, and hands each #PF to the core through the recording
 * environment (machine.h), so the trace holds exactly what a live
 * recording would.  The OS (synth-os.c) keeps real page tables in guest
 * memory and changes them with real write instructions through the
 * direct map (which fault and are emulated when the page is a shadowed
 * page table), handles the #PFs the core injects (demand paging,
 * copy-on-write), flushes with INVLPG and CR3 loads as the architecture
 * requires, and switches address spaces, with PCIDs when asked.  The
 * workloads (synth-work.c) drive the OS.
 *
 * A run is reproducible from (workload, mode, events, seed, policy, pool).
 */
#ifndef SVT_SYNTH_H
#define SVT_SYNTH_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "machine.h"
#include "names.h"
#include "rec-trace.h"
#include "svt.h"
#include "trace.h"

struct syn;

struct syn_workload {
	const char *name;
	const char *summary;
	bool need_ia32e;        /* PCIDs: 4level and 5level only */
	void (*step)(struct syn *s);    /* one round of the workload */
	bool pcid_ia32e;        /* PCIDs in 4level and 5level, none in the others */
	/* its guest makes accesses no GUEST record can say (syn_read_as):
	 * its traces log no actions (no SVT_EVIDENCE_ACTIONS) */
	bool no_actions;
};
extern const struct syn_workload syn_workloads[];
extern const unsigned syn_nworkloads;
const struct syn_workload *syn_find_workload(const char *name);

struct syn_config {
	const struct syn_workload *work;
	enum svt_mode mode;     /* 2, 3 (PAE), 4 or 5 */
	uint64_t events;        /* stop once the trace holds this many */
	uint64_t seed;
	struct svt_policy policy;
	unsigned pool;          /* shadow pool frames */
	uint64_t guest_frames;  /* guest RAM */
	int level;              /* zstd level */
	bool signals;           /* syn_write: SIGINT and SIGTERM leave the old file, exit 4
				 * (outfile.h; the synth command, not threads) */
	struct svt_counters *counters;  /* if not NULL: the core's counters at the end */
	/* The guest's actions (trace_event.h, SVT_EVIDENCE_ACTIONS): every
	 * trace synth writes logs them, but with no_actions below or a
	 * workload's (implicit: its reads are no GUEST record's).  actions:
	 * stop after this many (0: no limit; the hardware does nothing after
	 * it), so that another policy runs exactly the guest of a trace
	 * (synth --like).  guest: the header's guest string (NULL: made from
	 * the fields above). */
	uint64_t actions;
	const char *guest;
	bool no_actions;        /* log no actions (synth --no-actions) */
	/* Regeneration (synth-regen.c): not the workload but the actions of
	 * this trace, run against the core; stop: end early when set. */
	struct svt_trace_reader *script;
	volatile sig_atomic_t *stop;
	bool *diverged;         /* if not NULL: set when the guest saw another outcome */
	/* syn_write: the status line to draw (progress.h), or NULL */
	struct svt_progress *progress;
};

/* Run the synthetic guest, writing the trace to w.  Returns 0, or -1 with
 * a message in err (the guest or the core misbehaved, or the writer
 * failed). */
int syn_run(const struct syn_config *cfg, struct svt_trace_writer *w, char *err, size_t errlen);


/*
 * synth-regen.c: the guest of a trace that logged its actions
 * (SVT_EVIDENCE_ACTIONS), run again against the core under another
 * policy and pool on the same modelled hardware: the trace recording
 * that guest under them gives (docs/replay.md, "What-ifs").  The trace is
 * path, or mem (mem_len bytes) when mem is not NULL.  Returns 0 with the
 * new trace in *out (malloc'd, *out_len bytes); 1 when the guest would
 * have seen another outcome under this policy at some action (the
 * recording would take another path from there: message in err); 2 when
 * stopped; -1 on failure (bad trace, no actions logged, out of memory:
 * message in err).
 */
struct syn_regen {
	const char *path;
	const void *mem;
	size_t mem_len;
	struct svt_policy policy;
	unsigned pool;
	volatile sig_atomic_t *stop;
};
int syn_regenerate(const struct syn_regen *rg, void **out, size_t *out_len, char *err,
		   size_t errlen);
/* synth --like: cfg's workload, mode, seed, frames and guest string (in
 * guest) those of the synth trace at path, with no event limit and its
 * number of actions (every GUEST record but RFLAGS and PKRU, every CR_WRITE,
 * INVLPG and INVPCID) as the limit, so that syn_write runs exactly its
 * guest (under cfg's policy).  0, or -1 with a message. */
int syn_like(const char *path, struct syn_config *cfg, char *guest, size_t guestlen, char *err,
	     size_t errlen);

/* synth-write.c: run the synthetic guest into the trace file out ("-": stdout)
 * with the header shadowvt synth writes, frames of frame_size bytes (0:
 * the default).  Returns an SVT_EXIT_* status: OK; USAGE (the writer
 * refused the arguments), INPUT (the file could not be written) or
 * NEGATIVE (the guest or the core misbehaved; the trace so far is
 * closed), with the message in err.  *events: the events written. */
int syn_write(const struct syn_config *cfg, const char *out, uint64_t frame_size, uint64_t *events,
	      char *err, size_t errlen);

/* ======================================================================
 * Internal
 * ====================================================================== */

#define SYN_MAX_PROCS   48
#define SYN_MAX_VMAS    24
#define SYN_TLB         256

struct syn_vma {
	uint64_t va, pages;
	bool w, x;
};

struct syn_proc {
	bool used;
	uint64_t root;          /* gpa of the top-level table (PAE: the PDPT) */
	uint16_t pcid;
	bool stale;             /* its entries changed while it was not running */
	struct syn_vma vma[SYN_MAX_VMAS];
	unsigned nvma;
	uint64_t brk;           /* next free user address */
};

struct syn_tlbe {
	bool valid, w, u, x, dirty;
	uint8_t pkey;           /* the shadow leaf's protection key (IA-32e) */
	uint64_t vpn, mfn;
};

enum syn_fstate { SYN_F_FREE, SYN_F_KERNEL, SYN_F_DATA, SYN_F_PT };

struct syn {
	const struct syn_config *cfg;
	char *err;
	size_t errlen;
	bool failed;
	uint64_t rng;
	/* the machine and the core */
	struct svt_machine mach;
	struct svt_rec_trace rec;
	void *store;
	struct svt_mmu *mmu;
	struct svt_hw_state hw;
	struct svt_env hwenv;
	struct syn_tlbe tlb[SYN_TLB];
	struct svt_emu_regs regs;
	/* the guest's paging shape */
	int levels;             /* 2, 3 (PAE), 4, 5 */
	unsigned esize;         /* bytes per entry */
	bool ia32e;
	bool compat;            /* the kernel runs compatibility-mode code (CR writes' mode) */
	uint64_t dmap;          /* direct map: gpa x at dmap + x */
	uint64_t ubase, utop;   /* user address space */
	uint64_t cr0, cr3, cr4, efer;
	uint64_t rflags;        /* the guest's RFLAGS (AC: STAC/CLAC) */
	uint32_t pkru;          /* the guest's PKRU (WRPKRU is no exit: the CPU uses it as is) */
	/* frames */
	uint8_t *fstate;        /* enum syn_fstate per guest frame */
	uint8_t *ptever;        /* per guest frame: ever a page table (store evidence) */
	uint16_t *fref;         /* mappings of a data frame (copy-on-write) */
	uint64_t *freel;
	uint64_t nfree;
	/* address spaces */
	uint64_t kroot;         /* the kernel's own root (the master copy of the kernel half) */
	struct syn_proc proc[SYN_MAX_PROCS];
	int cur;                /* running process, -1: the kernel's root */
	bool pcid;              /* CR4.PCIDE in use */
	uint16_t next_pcid;
	/* statistics */
	uint64_t accesses, injected, cow, demand, forks, execs, exits, switches;
	bool emulated;          /* the last syn_access was emulated by the core */
	unsigned rounds;
	/* the kernel's 4 KiB mapping area (synth-kernel.c): its page table
	 * (0: not made yet, 1: no room for it) and address */
	uint64_t vmap_pt, vmap_va;
	/* the action log (SVT_EVIDENCE_ACTIONS) */
	uint64_t actions;       /* actions done (GUEST, CR_WRITE, INVLPG, INVPCID) */
	uint64_t act_rflags;    /* RFLAGS as the log last gave it */
	uint32_t act_pkru;      /* PKRU as the log last gave it */
	bool in_clear;          /* inside syn_clear: its stores are not actions of their own */
	bool diverged;          /* regeneration: the guest saw another outcome */
};

/* A write instruction of the guest, [rDI] its memory operand. */
enum syn_insn_op {
	SYN_MOV,        /* MOV r/m, rAX */
	SYN_XCHG,       /* XCHG r/m, rAX: old gets what memory held */
	SYN_CMPXCHG,    /* LOCK CMPXCHG r/m, rCX: rAX = cmp */
	SYN_CMPXCHG8B,  /* LOCK CMPXCHG8B: EDX:EAX = cmp, ECX:EBX = val */
	SYN_CMPXCHG16B, /* LOCK CMPXCHG16B (64-bit code): RDX:RAX = cmp, RCX:RBX = val */
};
struct syn_insn {
	enum syn_insn_op op;
	uint64_t va;
	unsigned size;          /* bytes: 1 to 8, 16 for CMPXCHG16B */
	unsigned cpl;
	uint64_t rip;
	uint64_t val[2];        /* the source (low 8 bytes, high 8 bytes) */
	uint64_t cmp[2];        /* CMPXCHG*: the expected value */
	uint64_t old[2];        /* out, XCHG and failed CMPXCHG*: the register(s) after it */
	bool ok;                /* out, CMPXCHG*: ZF (the exchange happened) */
};

/* synth-hw.c: the hardware */
uint64_t syn_rand(struct syn *s);
uint64_t syn_below(struct syn *s, uint64_t n);
bool syn_fail(struct syn *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool syn_done(const struct syn *s);             /* enough events, or failed */
void syn_vm_entry(struct syn *s);               /* after every core call */
/* A guest access through the shadows, faults handed to the core until it
 * completes or the core injects a #PF.  Writes store size bytes of val
 * with a MOV at the code site rip.  Returns 0 done, 1 #PF injected
 * (*ec, *cr2), -1 failure. */
int syn_access(struct syn *s, uint64_t va, enum svt_access_kind k, unsigned cpl,
	       unsigned size, uint64_t val, uint64_t rip, uint32_t *ec, uint64_t *cr2);
/* A write instruction (may cross a page: both pages are translated first,
 * CR2 of a fault on the second is its first byte), performed by the
 * hardware or emulated by the core; returns as syn_access. */
int syn_insn(struct syn *s, struct syn_insn *in, uint32_t *ec, uint64_t *cr2);
int syn_cr(struct syn *s, enum svt_trace_cr reg, uint64_t val);
/* A read the CPU makes on its own terms: implicit (a descriptor table's,
 * an event delivery's; SMAP refuses it a user page whatever RFLAGS.AC
 * says) or not, and what the VM exit tells the core about it (the FAULT's
 * evidence: in_delivery, the tables, the instruction with its registers
 * where insn_len is not 0).  No guest action is logged (a GUEST record
 * cannot say any of it: the workloads that make these log none).
 * Returns as syn_access. */
struct syn_read {
	uint64_t va;
	unsigned cpl;
	bool implicit;
	bool in_delivery;
	const struct svt_dtables *dt;
	uint8_t insn[15];
	unsigned insn_len;
	struct svt_emu_regs regs;
};
int syn_read_as(struct syn *s, const struct syn_read *a, uint32_t *ec, uint64_t *cr2);
/* The same for a write of size bytes (up to 8, within a page) of val that
 * the CPU makes itself (a descriptor's accessed bit, an event's push): no
 * instruction ever goes with it (insn_len must be 0), the hardware
 * performs it once the shadows allow it. */
int syn_write_as(struct syn *s, const struct syn_read *a, unsigned size, uint64_t val,
		 uint32_t *ec, uint64_t *cr2);
/* clear_page: the kernel zeroes the frame at gpa through kva from code at
 * rip (the first store finds out whether the frame is still a shadowed
 * page table: then every store is a page-table write); pt: the frame
 * becomes a page table (store evidence).  false: failed. */
bool syn_clear(struct syn *s, uint64_t gpa, uint64_t kva, uint64_t rip, bool pt);
/* synth-regen.c: run the actions of cfg->script (syn_run calls it). */
void syn_pump(struct syn *s);
void syn_invlpg(struct syn *s, uint64_t va);
void syn_invpcid(struct syn *s, unsigned type, uint64_t pcid, uint64_t va);
/* A control-register write bare metal refuses with #GP, on purpose: false
 * (and the run failed) if the core accepts it. */
bool syn_cr_probe(struct syn *s, enum svt_trace_cr reg, uint64_t val, const char *what);

/* synth-work.c: the workloads' building blocks */
int syn_nprocs(const struct syn *s);
int syn_random_proc(struct syn *s);             /* -1 if none */
int syn_spawn(struct syn *s);                   /* a new process with an image touched a little */
/* A process (one of a few, one exited now and then) with a new mapping of n
 * pages, each written once, running; its index in *pp, the mapping's
 * index returned (-1: failed). */
int syn_fresh_mapping(struct syn *s, int *pp, unsigned n);

/* synth-kernel.c: the workloads that reach the core's less common paths */
void syn_w_atomic(struct syn *s);
void syn_w_protect(struct syn *s);

/* synth-pkeys.c: protection keys (4level and 5level) */
void syn_w_pkeys(struct syn *s);

/* synth-implicit.c: implicit supervisor accesses under SMAP */
void syn_w_implicit(struct syn *s);

/* The synthetic CPU: 1 GiB pages, and every optional CR4 feature but Key
 * Locker (bit 19) and PKS (bit 24), which the guest never uses (a CR4
 * write setting either is #GP, and the protect workload tries it). */
#define SYN_FEATURES    (SVT_FEAT_1GPAGE | SVT_FEAT_CR4_KNOWN | \
			 (SVT_FEAT_CR4_OPTIONAL & ~((1u << 19) | (1u << 24))))

/* synth-os.c: the operating system */
bool syn_boot(struct syn *s);
/* The guest stored len bytes at gpa (store evidence, trace_event.h:
 * logged if the frame is or was a page table). */
void syn_stored(struct syn *s, uint64_t gpa, unsigned len);
uint64_t syn_alloc(struct syn *s, enum syn_fstate st);  /* a zeroed frame's gpa, 0 if none */
void syn_free(struct syn *s, uint64_t gpa);
uint64_t syn_read_entry(struct syn *s, uint64_t gpa);
bool syn_write_entry(struct syn *s, uint64_t gpa, uint64_t val);
unsigned syn_idx(const struct syn *s, int lv, uint64_t va);
unsigned syn_nent(const struct syn *s, int lv);
/* The level-1 entry of va in root (gpa), made on the way if create; 0 if none. */
/* The gpa of the level-`level` entry of va under root, the tables above
 * made on the way if create; 0 if absent (not create) or under a large
 * page.  syn_pte() is level 1. */
uint64_t syn_entry(struct syn *s, uint64_t root, uint64_t va, int level, bool create);
uint64_t syn_pte(struct syn *s, uint64_t root, uint64_t va, bool create);
uint64_t syn_leaf(struct syn *s, uint64_t gfn, bool w, bool u, bool x);
int syn_new_proc(struct syn *s);                /* -1 if none free */
void syn_switch(struct syn *s, int p);
void syn_unmap_range(struct syn *s, int p, uint64_t va, uint64_t pages, bool free_tables);
void syn_exit_proc(struct syn *s, int p);
int syn_fork(struct syn *s, int parent);
bool syn_add_vma(struct syn *s, int p, uint64_t pages, bool w, bool x, uint64_t *va);
void syn_drop_vma(struct syn *s, int p, unsigned i);
/* A user access in the running process; handles the #PFs it injects as
 * the OS would.  false: the process touched nothing it owns (killed). */
bool syn_user(struct syn *s, uint64_t va, enum svt_access_kind k);
/* The same at any CPL (a kernel's access to user memory: put_user with
 * RFLAGS.AC set under SMAP). */
bool syn_user_at(struct syn *s, uint64_t va, enum svt_access_kind k, unsigned cpl);
uint32_t syn_expect_ec(const struct syn *s, enum svt_access_kind k, unsigned cpl, bool present);
uint64_t syn_ktext(const struct syn *s, uint64_t site);       /* a kernel code address */
uint64_t syn_frame_mask(const struct syn *s);
uint64_t syn_kva(const struct syn *s, uint64_t gpa);          /* through the direct map */
uint64_t syn_table_entry(const struct syn *s, uint64_t t, int lv, bool user);
void syn_reload_cr3(struct syn *s);
void syn_touch_vma(struct syn *s, int p, unsigned i, unsigned n);

#endif /* SVT_SYNTH_H */
