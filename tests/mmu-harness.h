/*
 * mmu-harness.h — a model-based test harness for the shadow MMU core.
 *
 * The harness hosts the core (src/svt.h, "shadow MMU") in a small simulated
 * machine and drives it the way VT-x hardware and a random guest operating
 * system would: a "hardware" that walks the shadow tables with the
 * reference model (tests/refmodel.h), caches translations in a TLB, sets
 * A/D bits in shadow entries and hands #PFs to svt_mmu_page_fault(); and a
 * guest OS that boots, builds and tears down page tables through real
 * write instructions, switches address spaces and paging modes and
 * toggles control-register bits.  Every step is also run on a bare-metal
 * twin (a second copy of guest RAM, translated by the reference model
 * directly, instructions executed by svt_emulate()), and the two must agree
 * exactly: outcome, #PF error code and CR2, values read, registers, and
 * guest memory.  The core's own audits must report nothing.
 *
 * One run is (mode, policy, pool size, seed, steps) and is reproducible
 * from those five values alone (and the known core bugs it is told to run
 * into: mh_config.expose).
 *
 * Files: mmu-machine.c (the machine, the environment, the hardware walk
 * and TLB, the bare-metal twin), mmu-check.c (comparisons, audits, the
 * failure report), mmu-exec.c (instructions and accesses on both sides,
 * the fault loop), mmu-cr.c (control registers, INVLPG, INVPCID and their
 * #GP rules), mmu-insn.c (instruction encodings), mmu-guest.c (the guest
 * OS's page tables and flush discipline), mmu-boot.c (address spaces,
 * booting), mmu-access.c (the guest's accesses; the known core bugs it
 * steers around), mmu-steps.c (the other steps), mmu-run.c (mh_run,
 * names, policies); mmu-soak.c is the command line, test-mmu-model.c the
 * Criterion suite.
 */
#ifndef MMU_HARNESS_H
#define MMU_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "svt.h"

/* Guest scenarios (what kind of paging the random guest uses). */
enum mh_mode {
	MH_MODE_NONE,           /* long stretches with paging off; turned on
				   (32-bit or PAE) and off again */
	MH_MODE_2LEVEL,         /* 32-bit paging with CR4.PSE 4 MiB pages */
	MH_MODE_PAE,            /* PAE paging, 2 MiB pages */
	MH_MODE_4LEVEL,         /* 4-level, 2 MiB and 1 GiB pages, PCIDs */
	MH_MODE_5LEVEL,         /* 5-level */
	MH_MODE_COUNT
};

struct mh_config {
	enum mh_mode mode;
	struct svt_policy policy;
	unsigned pool;          /* shadow pool frames; 0: the default (512) */
	uint64_t seed;
	uint64_t steps;         /* guest steps to run */
	FILE *out;              /* failure reports and progress; NULL: stderr */
	bool quiet;             /* no summary line on success */
	uint32_t expose;        /* known core bugs (bit n: Kn, listed in
				   mmu-access.c) the guest does not steer
				   around; ~0: all ("strict") */
};

struct mh_result {
	bool ok;
	uint64_t steps;         /* steps completed */
	uint64_t accesses;      /* data accesses and write instructions compared */
	uint64_t faults, injected, emulated, mmio, oos, resyncs, evictions;
	uint64_t unshadows, early_unshadows, prefetched, tlb_flushes;
	uint64_t audits;        /* full audits run */
	char what[512];         /* on failure: the first line of the report */
};

/* Run one model run.  Returns true on success.  On failure the full report
 * (log of the last steps, violations, rerun command) goes to cfg->out. */
bool mh_run(const struct mh_config *cfg, struct mh_result *res);

/* Names and parsing for the command line and reports. */
const char *mh_mode_name(enum mh_mode m);
int mh_parse_mode(const char *s);       /* -1 if unknown */
/* "oos=N,prefetch=N,emulate=0|1,early=0|1,pool=N" (any subset, any order;
 * missing keys keep their values in *p / *pool).  Returns 0 or -1. */
int mh_parse_policy(const char *s, struct svt_policy *p, unsigned *pool);
/* The canonical policy string (the format mh_parse_policy reads). */
void mh_policy_string(const struct svt_policy *p, unsigned pool, char *buf, size_t len);

/* The 16 policy combinations of {oos 0/2, prefetch 0/8, emulate 0/1,
 * early 0/1}; i in [0, 16). */
void mh_policy_combo(unsigned i, struct svt_policy *p);

#define MH_DEFAULT_POOL 512

/* ======================================================================
 * Internal: shared by the harness's own files only.
 * ====================================================================== */

#ifdef __GNUC__
#define MH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MH_PRINTF(a, b)
#endif

/* splitmix64: the only source of randomness. */
struct mh_rng {
	uint64_t s;
};
uint64_t mh_rand(struct mh_rng *r);
uint64_t mh_below(struct mh_rng *r, uint64_t n);        /* [0, n), n > 0 */
bool mh_pct(struct mh_rng *r, unsigned pct);            /* true pct% of the time */

#define MH_PAGE         4096ull
#define MH_TLB_SLOTS    128     /* direct-mapped hardware TLB */
#define MH_TOUCH_MAX    64      /* frames tracked per step before "all" */
#define MH_LOG_LINES    400
#define MH_LOG_LEN      200
#define MH_EV_RING      16
#define MH_MAX_TRIES    32      /* re-executions of one access before livelock */

/* How one guest action ended (compared between hardware and bare metal). */
enum mh_kind { MH_DONE, MH_PF, MH_GP, MH_MMIO };
struct mh_end {
	enum mh_kind kind;
	uint32_t ec;            /* MH_PF */
	uint64_t cr2;           /* MH_PF */
	uint64_t gpa;           /* MH_MMIO */
};

struct mh_tlbe {
	bool valid, w, u, x, dirty;
	uint8_t pkey;
	uint64_t vpn, mfn;
};

/* The guest's paging registers as the bare-metal twin holds them. */
struct mh_arch {
	uint64_t cr0, cr3, cr4, efer;
	uint64_t pdpte[4];
};

struct mh_os;

struct mh_machine {
	/* the run */
	enum mh_mode mode;
	struct svt_policy policy;
	unsigned pool;
	uint64_t seed, step;
	uint32_t expose;        /* see struct mh_config */
	bool trace;             /* $SVT_MH_TRACE: every log line as it happens */
	FILE *out;
	struct mh_rng rng;
	/* guest-physical layout: RAM is [0, gframes) less the hole */
	uint64_t gframes, hole_lo, hole_n;
	unsigned maxphyaddr;
	bool gbpages;
	/* machine memory: RAM frames permuted, then the pool */
	uint8_t *mem;
	uint64_t mframes, pool_base;
	uint64_t *g2m, *m2g;
	/* the bare-metal twin */
	uint8_t *twin;
	struct mh_arch arch;
	/* the core */
	struct svt_env env;
	void *store;
	struct svt_mmu *mmu;
	uint64_t env_errors;    /* environment calls refused */
	/* the hardware */
	struct svt_hw_state hw;
	uint64_t hw_pdpte[4];
	/* the core granted a step (svt_fault_result.step): the hypervisor's
	 * monitor trap flag is armed, svt_mmu_step_done() at the next exit */
	bool step_open;
	uint64_t steps;         /* steps granted (statistics) */
	struct mh_tlbe tlb[MH_TLB_SLOTS];
	/* the context of the current access, the same on both sides */
	struct svt_emu_regs regs;
	uint32_t pkru;
	bool force_cross;       /* mh_gen_write: cross from the page given into the next */
	/* guest frames written during the current step */
	uint64_t touched[MH_TOUCH_MAX];
	unsigned ntouched;
	bool touch_all;
	/* the recent past, for the failure report */
	char log[MH_LOG_LINES][MH_LOG_LEN];
	uint64_t log_step[MH_LOG_LINES];
	unsigned logn;
	struct svt_event ev[MH_EV_RING];
	unsigned evn;
	/* the first failure */
	bool failed;
	char what[512];
	/* statistics */
	uint64_t accesses, tlb_flushes, audits;
	/* the guest OS */
	struct mh_os *os;
};

/* Steer around known core bug Kn? */
static inline bool mh_avoid(const struct mh_machine *m, unsigned n)
{
	return !(m->expose & (1u << n));
}

/* ---- mmu-machine.c -------------------------------------------------- */

struct mh_machine *mh_machine_new(const struct mh_config *cfg);
void mh_machine_free(struct mh_machine *m);
bool mh_ram(const struct mh_machine *m, uint64_t gfn);
void mh_touch(struct mh_machine *m, uint64_t gfn);
/* The twin's memory (bare metal); non-RAM reads as 0. */
uint64_t mh_twin_read(const struct mh_machine *m, uint64_t gpa, unsigned size);
/* After every call into the core (a VM entry): the hardware takes the
 * state svt_mmu_hw_state() gives and loads PAE PDPTEs from it. */
void mh_vm_entry(struct mh_machine *m);
/* A VM exit (the next input to the core, or the end of the instruction or
 * event delivery a step was granted for: the monitor trap flag's exit):
 * the hypervisor ends an open step first (svt_mmu_step_done()). */
void mh_vm_exit(struct mh_machine *m);
/* Hardware translation through the TLB and the shadow tables.  Returns 0
 * (machine address in *mpa), 1 (#PF, error code in *ec) or 2 (#GP); -1
 * after recording a harness failure. */
int mh_hw_translate(struct mh_machine *m, uint64_t va, enum svt_access_kind k,
		    unsigned cpl, bool implicit, uint64_t *mpa, uint32_t *ec);
/* Bare-metal translation over the twin; set_ad applies the A/D updates.
 * Returns 0 (guest-physical address in *gpa), 1 (#PF, *ec, cr2 = va
 * truncated as the mode does in *cr2) or 2 (#GP). */
int mh_or_translate(struct mh_machine *m, uint64_t va, enum svt_access_kind k,
		    unsigned cpl, bool implicit, bool set_ad, uint64_t *gpa,
		    uint32_t *ec, uint64_t *cr2);
/* Would an explicit access at cpl set A/D anywhere, or reach a device
 * (bare metal)? */
bool mh_or_sets_ad(struct mh_machine *m, uint64_t va, enum svt_access_kind k, unsigned cpl);
/* Does the bare-metal walk of va read a table in frame gfn? */
bool mh_or_walk_uses(struct mh_machine *m, uint64_t va, uint64_t gfn);
bool mh_long_mode(const struct mh_machine *m);          /* guest EFER.LMA */
int mh_code_bits(const struct mh_machine *m);           /* 64 in long mode, else 32 */
void mh_log(struct mh_machine *m, const char *fmt, ...) MH_PRINTF(2, 3);
/* Record the first failure (one line); always returns false. */
bool mh_fail(struct mh_machine *m, const char *fmt, ...) MH_PRINTF(2, 3);
bool mh_check_memory(struct mh_machine *m, bool all);
void mh_log_walk(struct mh_machine *m, uint64_t va);    /* bare-metal walk into the log */
bool mh_check_regs(struct mh_machine *m);               /* guest paging registers */
bool mh_audit_va(struct mh_machine *m, uint64_t va);
bool mh_audit_full(struct mh_machine *m);
void mh_report(struct mh_machine *m);

/* ---- mmu-exec.c ------------------------------------------------------ */

/* Execute one write instruction (insn[0..len)) on both sides, starting
 * from m->regs, and compare.  On success m->regs holds the result.
 * Returns false after recording a failure. */
bool mh_insn(struct mh_machine *m, const uint8_t *insn, unsigned len,
	     unsigned cpl, struct mh_end *end);
/* A plain access of size bytes (reads and fetches; implicit writes;
 * misaligned writes, given with the MOV that performs them).  *val: the
 * value written, or the value read back. */
bool mh_data(struct mh_machine *m, uint64_t va, unsigned size, enum svt_access_kind k,
	     unsigned cpl, bool implicit, const uint8_t *insn, unsigned insn_len,
	     uint64_t *val, struct mh_end *end);
/* An event's delivery at CPL 0 pushing val[0] at va[0], then val[1] at
 * va[1] (8 bytes each, no instruction), on both sides, and compare. */
bool mh_frame(struct mh_machine *m, const uint64_t va[2], const uint64_t val[2],
	      struct mh_end *end);
/* Control registers: which is 0, 3, 4 or 8 (EFER).  Returns 0, SVT_E_GP
 * when the SDM says #GP (core and twin agreed), or -1 after a failure. */
int mh_cr(struct mh_machine *m, int which, uint64_t val);
bool mh_invlpg(struct mh_machine *m, uint64_t va);
int mh_invpcid(struct mh_machine *m, unsigned type, uint64_t pcid, uint64_t va);
bool mh_flush_all(struct mh_machine *m);

/* ---- mmu-insn.c ------------------------------------------------------ */

struct mh_insn {
	uint8_t b[16];
	unsigned len;
};

/* Write instructions the generator uses (operand registers are set in
 * m->regs by the encoder; the destination is [rDI]). */
enum mh_wop {
	MH_W_MOV, MH_W_MOVI, MH_W_XCHG, MH_W_CMPXCHG, MH_W_CMPXCHG8B,
	MH_W_OR, MH_W_AND, MH_W_XOR, MH_W_ADD, MH_W_SUB, MH_W_BTS, MH_W_BTR,
	MH_W_STOS, MH_W_MOVS, MH_W_CMPXCHG16B, MH_W_COUNT
};
const char *mh_wop_name(enum mh_wop op);
/* Encode `op` of `size` bytes writing to va in code of `bits`; src is the
 * register operand / immediate / accumulator as the op needs, cmp the
 * comparand (CMPXCHG), count the REP count (0: no REP), src_va the MOVS
 * source.  Sets the registers the instruction reads.  Returns false if
 * the combination cannot be encoded (the caller picks another). */
bool mh_encode(struct mh_machine *m, enum mh_wop op, unsigned size, int bits,
	       uint64_t va, uint64_t src, uint64_t cmp, uint64_t count,
	       uint64_t src_va, struct mh_insn *out);
/* The plain MOV [rDI], reg of `size` bytes (for misaligned writes). */
void mh_encode_mov(struct mh_machine *m, unsigned size, int bits, uint64_t va,
		   uint64_t val, struct mh_insn *out);

/* ---- mmu-guest.c: the guest OS's page tables -------------------------- */

#define MH_MAX_TABLES   384
#define MH_MAX_AS       6
#define MH_MAX_MAPS     256
#define MH_MAX_PEND     6
#define MH_KROOT        (-2)    /* parent of a table linked from the kernel
				   half of every address space's root */

enum mh_fstate { MH_F_DATA, MH_F_TABLE, MH_F_HOLE };

/* One guest page table as the OS built it (the OS's intent; memory may
 * differ in A/D bits, and in garbage the random accesses wrote). */
struct mh_table {
	bool used;
	bool prot;              /* a root or the direct map: never freed, only
				   written with what it already holds */
	int level;              /* 1: page table ... levels: root */
	int as;                 /* owning address space; -1: kernel, shared */
	int parent;             /* table index, -1 for a root, or MH_KROOT */
	unsigned pidx;          /* index in the parent */
	uint64_t gpa;           /* PAE root: the 32-byte PDPT */
	uint64_t va_base;
	uint64_t e[1024];
	int16_t child[1024];
};

struct mh_as {
	bool used;
	int root;
	uint16_t pcid;
	/* INVLPGs owed before the next access (flush discipline) */
	unsigned npend;
	uint64_t pend[MH_MAX_PEND];
	bool pend_full;         /* a full flush is owed */
	bool pend_kernel;       /* ... some of it for kernel (maybe global) entries */
};

struct mh_map {
	int as;                 /* -1: kernel */
	uint64_t va, size;
};

struct mh_os {
	int levels;             /* 0 (no tables), 2, 3 (PAE), 4, 5 */
	unsigned esize;
	bool pse;               /* 2-level: 4 MiB pages in use */
	bool dmap_large;        /* the direct map has large pages */
	bool quiet_flags;       /* building the direct map: no random rights */
	uint64_t dmap, kdyn;    /* direct map and kernel mappings */
	uint64_t ubase[4];
	unsigned nubase;
	struct mh_table *t;     /* [MH_MAX_TABLES] */
	int16_t *tab_of_gfn;
	uint8_t *fstate;
	struct mh_as as[MH_MAX_AS];
	int cur;
	uint64_t kroot_e[1024];
	int16_t kroot_child[1024];
	struct mh_map maps[MH_MAX_MAPS];
	unsigned nmaps;
	uint64_t recent_gfn[16];
	unsigned nrecent;
	uint64_t recent_va[8];  /* pages accessed lately */
	unsigned nrecent_va;
};

struct mh_os *mh_os_new(struct mh_machine *m);
void mh_os_free(struct mh_os *os);
unsigned mh_os_shift(const struct mh_os *os, int lv);
unsigned mh_os_nent(const struct mh_os *os, int lv);
unsigned mh_os_idx(const struct mh_os *os, int lv, uint64_t va);
bool mh_os_large_ok(const struct mh_machine *m, int lv);
bool mh_os_kernel_idx(const struct mh_os *os, unsigned root_idx);
uint64_t mh_os_canon(const struct mh_os *os, uint64_t va);
uint64_t mh_os_pt_va(const struct mh_machine *m, uint64_t gpa);
/* Build the tables for `levels` (paging off) and turn paging on. */
bool mh_os_paging_on(struct mh_machine *m, int levels);
/* A random leaf entry (frame and rights) for level lv. */
uint64_t mh_os_leaf(struct mh_machine *m, bool user, int lv);
/* The table at level lv holding va's entry in address space as (-1:
 * the kernel half), created on the way if `create`; -1 if none. */
int mh_os_table(struct mh_machine *m, int as, uint64_t va, int lv, bool create);
bool mh_os_write_entry(struct mh_machine *m, int t, unsigned i, uint64_t val);
/* The kernel half of the root: written in every address space's root. */
bool mh_os_write_kroot(struct mh_machine *m, unsigned i, uint64_t val, int child);
/* Forget table t and everything below it (already unlinked). */
void mh_os_release(struct mh_machine *m, int t);
void mh_os_clear_pending(struct mh_as *s);
bool mh_os_map(struct mh_machine *m, int as, uint64_t va, int lv, uint64_t val);
bool mh_os_free_table(struct mh_machine *m, int t, bool clear_first);
int mh_os_new_root(struct mh_machine *m, int as);     /* zeroed, not linked */
int mh_os_new_as(struct mh_machine *m);
bool mh_os_destroy_as(struct mh_machine *m, int a);
bool mh_os_switch(struct mh_machine *m, int a, bool reload_only);
bool mh_os_zero(struct mh_machine *m, uint64_t gpa, uint64_t bytes);
/* The flush discipline: settle what the current address space owes. */
bool mh_os_flush_pending(struct mh_machine *m, bool required);
/* A full flush owed by address space a (-1: all). */
void mh_os_pend_full(struct mh_machine *m, int a, bool kernel);
/* Before a random write to gpa: may it change what is there? (false:
 * only a write that leaves memory as it is.)  Notes the flush it owes. */
bool mh_os_may_garble(struct mh_machine *m, uint64_t gpa);

/* mmu-boot.c: 32-bit protected mode, then paging as the run's mode says. */
bool mh_os_boot(struct mh_machine *m);

/* ---- mmu-access.c, mmu-steps.c: the random guest's steps ------------------ */

uint64_t mh_pick_page(struct mh_machine *m);    /* a page worth touching */
bool mh_gen_write(struct mh_machine *m, uint64_t page, unsigned cpl, uint64_t *va);
bool mh_step_access(struct mh_machine *m, uint64_t *va);
/* One random step of the guest; *audit_va: an address it used. */
bool mh_os_step(struct mh_machine *m, uint64_t *audit_va);

#endif /* MMU_HARNESS_H */
