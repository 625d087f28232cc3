/*
 * replay_int.h — shared by replay.c and replay-check.c only.
 */
#ifndef SVT_REPLAY_INT_H
#define SVT_REPLAY_INT_H

#include <stdio.h>

#include "crmodel.h"
#include "refmodel.h"
#include "machine.h"
#include "replay.h"
#include "trace.h"

#define RP_INTERVAL     65536   /* events per timeline row */
#define RP_PERIODIC     4096    /* inputs between audits at SVT_AUDIT_PERIODIC */
#define RP_FULL_WHOLE   65536   /* inputs between whole audits at SVT_AUDIT_FULL */
/* SVT_AUDIT_WHOLE=1 in the environment: at SVT_AUDIT_FULL the whole audit
 * after every input, as before the incremental one (its oracle in the tests) */
#define RP_AUDIT_MAX    64
/* INV-PROGRESS: this many times in a row the same fault (address, error
 * code, CPL), each answered fixed or retry, with no other input between,
 * is a livelock.  No architectural reason repeats a fault so: a fixed
 * fault's access goes through, and the core's legitimate retries (a race,
 * an unshadowed page, registers asked for) end after one or two. */
#define RP_PROGRESS_MAX 64
#define RP_GW_MAX_FRAMES (1u << 22)      /* struct rp's gw_when: up to 16 GiB of guest RAM */
#define RP_L1_ENTRIES   1024    /* the most entries an L1 table has (32-bit paging) */
#define RP_UNSYNC_MAX   64      /* frames INV-WP lets be writable until a flush (struct rp) */

/* The hardware as the core sets it up now: its registers (with the PAE
 * PDPTE registers loaded from the shadow root), and whether it can walk
 * (replay-check.c). */
struct hw_view {
	struct svt_regs r;
	enum svt_mode mode;
	bool ok;
};

/* The pages one step's grant is kept for (one instruction or event
 * delivery writes at most two that need it). */
#define RP_STEP_PAGES 4

struct rp {
	const struct svt_replay_config *cfg;
	struct svt_replay_result *res;
	struct svt_trace_reader *r;
	const struct svt_trace_header *h;
	struct svt_machine mach;
	struct svt_env hwenv;
	void *store;
	struct svt_mmu *mmu;
	bool same_policy;
	/* a what-if run by regenerating the trace under the policy (whatif.h):
	 * the regenerated trace (replayed in place of the file), or why not */
	bool audit_whole;       /* SVT_AUDIT_WHOLE (RP_FULL_WHOLE) */
	bool regenerated;
	bool regen_diverged;    /* the guest would have taken another path */
	struct svt_trace_reader *r_file;        /* the file's reader, kept open (the
						 * machine holds its header's ranges) */
	void *regen;
	size_t regen_len;
	char regen_why[600];
	int64_t run;            /* database run, or 0 */
	uint64_t seq;           /* the event being replayed */
	bool checking;          /* seq is in the range checked (cfg->from, cfg->to) */
	bool hook_stop;         /* cfg->on_violation asked to end the run */
	uint64_t reset_seq;     /* the last input after which the core had no shadows */
	/* the input the next DECISION answers */
	enum svt_trace_type pending;
	uint64_t pending_seq;
	bool pending_skipped;
	enum svt_pf_outcome fo;
	struct svt_fault_result fres;
	int rc;
	struct svt_trace_fault fault;   /* copy of the last FAULT */
	/* a step the replayed core asked for (svt_fault_result.step) at event
	 * step_seq: open until a STEP_DONE, or a fault in it answered neither
	 * FIXED nor RETRY; its grant is allowed only then (check_entry()),
	 * for the faults in it that asked for it (nstep of them, the last
	 * RP_STEP_PAGES kept): their accesses must stay allowed while the
	 * step lasts (rp_check_step_kept()) */
	bool step_open;
	uint64_t step_seq;
	unsigned nstep;
	struct rp_step_page {
		struct svt_access acc;
		uint64_t rflags, seq;
		uint32_t pkru;
	} step[RP_STEP_PAGES];
	/* forward progress: the same fault in a row, each fixed or retried */
	uint64_t streak_va;
	uint32_t streak_ec;
	uint8_t streak_cpl;
	uint64_t streak;                /* 0: no fault since the last other input */
	/* the fault came again at once, and the shadows (as the hardware
	 * walks them for the explicit reading) already allowed it: the
	 * hardware's own word that the access is not the explicit one (a
	 * #PF drops the stale translations of its address, SDM Vol. 3A
	 * 4.10.4.2), read by rp_check_inject */
	bool hw_refused;
	struct svt_emu_regs regs;       /* its registers, updated by the core */
	/* INV-CR: the control registers as the model of crmodel.h has them */
	struct crm_regs crm;
	/* INV-CPU: the exception a recorded decision asks the producer to
	 * deliver (vector, -1 none), at event inj_seq, not yet seen delivered */
	int inj_vector;
	uint32_t inj_ec;
	uint64_t inj_cr2, inj_seq;
	/* prefetched neighbours of the fault being decided: entries [nb_lo,
	 * nb_hi) of its L1 table (nb_idx its own), the linear address of the
	 * table's entry 0, and which of them the shadow L1 table the hardware
	 * reached before it had present */
	unsigned prefetch;              /* the replay's policy's prefetch window */
	unsigned oos;                   /* the replay's policy's out-of-sync pages */
	/* INV-WP: guest frames a write fault since the last flush targeted
	 * through a walk that reads them, or where only CR0.WP=0 allowed it
	 * (rp_note_wfault()): tables there may be writable until the next
	 * flush, whatever the policy (docs/core.md, "Guest page-table
	 * writes"); the last RP_UNSYNC_MAX of them */
	uint64_t unsync[RP_UNSYNC_MAX];
	unsigned nunsync;
	struct svt_policy mc_policy;    /* the replay's policy and pool (whatif.h) */
	unsigned mc_pool;
	unsigned nb_lo, nb_hi, nb_idx;
	uint64_t nb_base;
	uint64_t nb_table;              /* the shadow L1 table then (machine address), or 0 */
	bool nb_mapped[RP_L1_ENTRIES];
	/* sync before link: the level-2 shadow table the hardware's walk of
	 * the fault's address read before the fault (0: none), and its entry */
	uint64_t lk_t2, lk_e2;
	/* A/D: the reference walk of the fault's access before the core ran */
	struct rm_out ad_ref;
	struct rm_cpu ad_cpu;           /* the registers it walked with */
	/* rp_check_fixed's hardware walk of the fault's access after the core
	 * ran (fx_known), which rp_check_ad reads again: whether it went through */
	bool fx_known, fx_through;
	/* and that walk itself, in that view, which rp_shadow_after reads */
	struct hw_view fx_view;
	enum svt_walk_status fx_st;
	struct svt_walk fx_walk;
	/* whole-address-space checks: the shadow L1 tables found agreeing
	 * (replay-check.c, struct tree_seen), ntseen slots, one per pool frame
	 * up to RP_TREE_SEEN */
	struct tree_seen *tseen;
	unsigned ntseen;
	/* every write to guest memory the replay sees (its own, and the
	 * core's through the machine's write_gpa, its only way there: it maps
	 * only pool frames): per guest frame below gw_frames, the value of
	 * gw_clock after its last write (rp_note_write); NULL: not kept */
	uint64_t *gw_when;
	uint64_t gw_frames, gw_clock;
	int (*core_write)(void *ctx, uint64_t gpa, const void *buf, size_t len);
	/* timeline */
	struct svt_counters last;
	uint64_t iv_first, iv_events, iv_inputs_cr, iv_invlpg;
	uint64_t inputs_since_audit;
	/* reports */
	char what[300];
	struct svt_violation vbuf[RP_AUDIT_MAX];
};

/* Guest memory [gpa, gpa + len) is being written (struct rp's gw_when). */
static inline void rp_note_write(struct rp *p, uint64_t gpa, size_t len)
{
	if (!p->gw_when || len == 0)
		return;
	uint64_t f = gpa >> 12, last = f + ((gpa & 0xfff) + len - 1) / 4096;
	p->gw_clock++;
	for (; f <= last && f < p->gw_frames; f++)
		p->gw_when[f] = p->gw_clock;
}

void rp_violation(struct rp *p, enum svt_invariant inv, uint64_t va, uint64_t gfn, unsigned level,
		  uint64_t ge, uint64_t se, const char *what);
/* Guest memory changes the replay performs itself (bare-metal A/D, the
 * guest's retried writes): memory, and the core told under another policy. */
void rp_guest_write(struct rp *p, uint64_t gpa, const void *buf, unsigned len);

/* The hardware's reads for its walks of the shadows (p->hwenv.read_gpa,
 * ctx the machine): svt_machine_hw_env's, faster for pool entries. */
int rp_hw_read(void *ctx, uint64_t pa, void *buf, size_t len);
/* The access a recorded fault stands for: the error code says which, and
 * for a supervisor data access replay's own rule (implicit.c) whether it
 * is implicit.  true where the evidence leaves both readings open: acc is
 * then the one SMAP allows more (explicit), rp_implicit_reading() the
 * other. */
bool rp_fault_access(const struct svt_trace_fault *f, struct svt_access *acc);
void rp_implicit_reading(struct svt_access *acc);
/* implicit.c: was the supervisor data access of fault f (a write, or not)
 * an implicit one?  From the evidence the record holds; see there. */
enum rp_sv { RP_SV_EXPLICIT, RP_SV_IMPLICIT, RP_SV_EITHER };
enum rp_sv rp_sv_kind(const struct svt_trace_fault *f, bool write);
void rp_check_inject(struct rp *p, const struct svt_trace_fault *f,
		     const struct svt_fault_result *res);
void rp_check_fixed(struct rp *p, const struct svt_trace_fault *f);
/* A fault answered MMIO: bare metal's walk reaches the core's gpa, and
 * nothing is there (INV-FAULT, INV-FRAME). */
void rp_check_mmio(struct rp *p, const struct svt_trace_fault *f,
		   const struct svt_fault_result *res);
/* INV-SYNC for va after a flush of it (flush: "INVLPG", "INVPCID"). */
void rp_check_flushed(struct rp *p, uint64_t va, const char *flush);
bool rp_shadow_allows(struct rp *p, const struct svt_access *acc, uint64_t rflags, uint32_t pkru,
		      uint64_t *mpa);
/* The hardware's walk of the shadows refuses the access where they map
 * it (a protection fault, P set in the error code: not a missing entry). */
bool rp_shadow_refuses_present(struct rp *p, const struct svt_access *acc, uint64_t rflags,
			       uint32_t pkru);
bool rp_bare_write(struct rp *p, const struct svt_trace_fault *f);
/* Before a fault, at audit level faults and up: one walk of the shadows
 * for its address notes which entries of the prefetch window around its
 * L1 entry they map, and the level-2 entry on the way.  After a FIXED or
 * RETRY fault, one walk again: the neighbours a FIXED fault mapped
 * (prefetched) checked against the reference walker (INV-PERM: rights and
 * A/D, INV-FRAME: the frame), and a shadow L1 newly linked at that level-2
 * entry checked whole (sync before link, INV-SYNC). */
void rp_shadow_before(struct rp *p, const struct svt_trace_fault *f);
void rp_shadow_after(struct rp *p, const struct svt_trace_fault *f, enum svt_pf_outcome o);
/* A/D bits at a fault: the reference walk before the core runs; after it,
 * the guest's entries on that walk against what bare metal sets. */
void rp_ad_before(struct rp *p, const struct svt_trace_fault *f);
void rp_check_ad(struct rp *p, const struct svt_trace_fault *f, enum svt_pf_outcome o);
/* INV-SYNC after a flush of the whole address space (flush names it):
 * every leaf of the current shadows against the reference walker;
 * keep_global exempts the hardware's global translations. */
void rp_check_tree(struct rp *p, const char *flush, bool keep_global);
/* INV-WP judged without the core: the guest tables the current shadows
 * rest on (reference walks) are never writable through them, but for at
 * most the policy's out-of-sync count of L1 tables. */
void rp_check_wp(struct rp *p);
void rp_note_wfault(struct rp *p, const struct svt_trace_fault *f);
void rp_unsync_flushed(struct rp *p);
/* INV-CR: the model's verdict on a CR write, taken before the core sees
 * it; then the core's answer (rc) and registers judged by it. */
void rp_cr_predict(struct rp *p, unsigned reg, uint64_t val, bool code64,
		   struct crm_out *pred);
void rp_check_cr(struct rp *p, unsigned reg, uint64_t val, int rc, const struct crm_out *pred);
/* INV-CPU (replay-cpu.c), at audit level faults and up, for traces with
 * SVT_EVIDENCE_CPU: rp_cpu_decision after each recorded DECISION notes the
 * exception it asks for; rp_cpu_record judges a CPU record (CPUID against
 * the model's CR4 and the header's CPU features; an injection's RF and
 * whether it is the one decided); rp_cpu_input before each input reports
 * a decided exception that was never delivered. */
void rp_cpu_decision(struct rp *p, const struct svt_trace_decision *d);
void rp_cpu_record(struct rp *p, const struct svt_trace_cpu *c);
void rp_cpu_input(struct rp *p);

#endif
