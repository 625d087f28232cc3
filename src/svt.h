/*
 * svt.h — the public interface of the shadowvt core.
 *
 * The core is freestanding C11: it includes only <stdint.h>, <stddef.h> and
 * <stdbool.h>, never allocates, and touches the outside world only through
 * the environment table (struct svt_env) its caller passes in.  The same
 * sources are built hosted (for sim/ and tests/) and freestanding (for the
 * hypervisor in vmx/).  This header is the only one sim/ and vmx/ include.
 *
 * This part of the interface is the guest page-table walker: one walker for
 * every x86 paging mode, exact to Intel SDM Vol. 3A ch. 4 (see docs/core.md
 * for the rules it implements and the choices where the SDM leaves room).
 */
#ifndef SVT_H
#define SVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- architectural bits the interface speaks in ---------------------- */

#define SVT_CR0_PE      (1ull << 0)
#define SVT_CR0_WP      (1ull << 16)
#define SVT_CR0_PG      (1ull << 31)

#define SVT_CR4_PSE     (1ull << 4)
#define SVT_CR4_PAE     (1ull << 5)
#define SVT_CR4_PGE     (1ull << 7)
#define SVT_CR4_LA57    (1ull << 12)
#define SVT_CR4_PCIDE   (1ull << 17)
#define SVT_CR4_SMEP    (1ull << 20)
#define SVT_CR4_SMAP    (1ull << 21)
#define SVT_CR4_PKE     (1ull << 22)

#define SVT_EFER_LME    (1ull << 8)
#define SVT_EFER_LMA    (1ull << 10)
#define SVT_EFER_NXE    (1ull << 11)

#define SVT_RFLAGS_AC   (1ull << 18)

/* Page-table entry bits common to every format. */
#define SVT_PTE_P       (1ull << 0)
#define SVT_PTE_RW      (1ull << 1)
#define SVT_PTE_US      (1ull << 2)
#define SVT_PTE_PWT     (1ull << 3)
#define SVT_PTE_PCD     (1ull << 4)
#define SVT_PTE_A       (1ull << 5)
#define SVT_PTE_D       (1ull << 6)
#define SVT_PTE_PS      (1ull << 7)
#define SVT_PTE_G       (1ull << 8)
#define SVT_PTE_XD      (1ull << 63)

/* #PF error code (SDM Vol. 3A 4.7). */
#define SVT_PFEC_P      (1u << 0)
#define SVT_PFEC_W      (1u << 1)
#define SVT_PFEC_U      (1u << 2)
#define SVT_PFEC_RSVD   (1u << 3)
#define SVT_PFEC_I      (1u << 4)
#define SVT_PFEC_PK     (1u << 5)

/* ---- the environment table ------------------------------------------- */

#define SVT_INVALID_MFN  (~0ull)

/* flush_tlb() kinds */
#define SVT_FLUSH_VA     0      /* translations of one linear address */
#define SVT_FLUSH_ALL    1      /* every translation, global ones included */

struct svt_event;

/*
 * Everything the core needs from the world.  The walker uses only
 * read_gpa and write_gpa; the shadow MMU uses all of them.
 *
 * read_gpa/write_gpa return 0 on success and a negative value if the
 * environment cannot perform the access at all (that is an environment
 * failure, reported as such, never a guest fault).  What guest-physical
 * addresses without RAM read as is the environment's decision, as it is the
 * platform's on bare metal.
 *
 * gfn_to_mfn: the machine frame backing a guest frame, or SVT_INVALID_MFN
 * when the guest frame is not RAM (device memory, or nothing): accesses
 * there are reported to the caller as MMIO.
 * map_mfn: a pointer through which the core reads and writes one of the
 * pool frames handed to svt_mmu_init() (4 KiB, little-endian entries,
 * 8-byte aligned); asked once per frame, at svt_mmu_init(), and used for
 * the core's whole life.
 * flush_tlb: drop the hardware's cached translations of the shadow tables
 * (SVT_FLUSH_VA for va, or SVT_FLUSH_ALL).
 * event: optional (may be NULL); told of every decision (struct svt_event).
 */
struct svt_env {
	void *ctx;
	int (*read_gpa)(void *ctx, uint64_t gpa, void *buf, size_t len);
	int (*write_gpa)(void *ctx, uint64_t gpa, const void *buf, size_t len);
	uint64_t (*gfn_to_mfn)(void *ctx, uint64_t gfn);
	void *(*map_mfn)(void *ctx, uint64_t mfn);
	void (*flush_tlb)(void *ctx, int kind, uint64_t va);
	void (*event)(void *ctx, const struct svt_event *ev);
};

/* ---- paging state ---------------------------------------------------- */

enum svt_mode {
	SVT_MODE_NONE = 0,      /* CR0.PG=0: linear = physical */
	SVT_MODE_2LEVEL = 2,    /* 32-bit paging */
	SVT_MODE_PAE = 3,       /* PAE paging */
	SVT_MODE_4LEVEL = 4,    /* 4-level paging (IA-32e) */
	SVT_MODE_5LEVEL = 5,    /* 5-level paging (IA-32e, CR4.LA57) */
	SVT_MODE_INVALID = -1,  /* a register combination no CPU can hold */
};

/* CPU features the walker depends on (CPUID-reported). */
#define SVT_FEAT_1GPAGE  (1u << 0)  /* CPUID.80000001H:EDX.Page1GB[26] */

/*
 * The registers that decide a translation.  pdpte[] matters only in PAE
 * mode: it holds the four PDPTEs as the CPU loaded them at the last CR3
 * load (svt_pae_load_pdptes() performs that load), not memory's current
 * contents.
 */
struct svt_regs {
	uint64_t cr0, cr3, cr4, efer, rflags;
	uint32_t pkru;
	uint32_t features;      /* SVT_FEAT_* */
	uint8_t maxphyaddr;     /* 32..52 */
	uint64_t pdpte[4];
};

enum svt_access_kind { SVT_ACC_READ = 0, SVT_ACC_WRITE = 1, SVT_ACC_FETCH = 2 };

struct svt_access {
	uint64_t va;                    /* linear address */
	enum svt_access_kind kind;
	uint8_t cpl;                    /* 0..3 */
	bool implicit;                  /* implicit supervisor-mode access (GDT, IDT, TSS, ...) */
};

/* Accumulated access rights, recorded per level and for the translation. */
#define SVT_RIGHT_W     (1u << 0)   /* R/W=1 at every level so far */
#define SVT_RIGHT_U     (1u << 1)   /* U/S=1 at every level so far */
#define SVT_RIGHT_X     (1u << 2)   /* no XD=1 (with EFER.NXE) at any level so far */

struct svt_walk_level {
	uint8_t level;          /* 5 PML5, 4 PML4, 3 PDPT, 2 PD, 1 PT */
	uint8_t size;           /* entry size in bytes: 4 or 8 */
	bool leaf;              /* this entry maps the page */
	uint8_t rights;         /* SVT_RIGHT_* accumulated through this entry */
	uint64_t table;         /* guest-physical address of the table */
	uint64_t entry_gpa;     /* guest-physical address of the entry */
	uint64_t entry;         /* the entry as read (before any A/D update) */
};

struct svt_ad_update {
	uint64_t gpa, old, new;
	uint8_t size;
};

enum svt_walk_status {
	SVT_WALK_OK = 0,        /* translated: gpa, page_size, rights valid */
	SVT_WALK_PF,            /* #PF: error_code, cr2 valid */
	SVT_WALK_GP,            /* #GP, not #PF: non-canonical address or invalid mode */
	SVT_WALK_ENV,           /* the environment failed a read or write */
};

#define SVT_WALK_MAX_LEVELS 5

struct svt_walk {
	enum svt_walk_status status;
	enum svt_mode mode;
	uint32_t error_code;
	uint64_t cr2;
	uint64_t gpa;
	uint64_t page_size;
	uint8_t rights;         /* SVT_RIGHT_* of the translation */
	uint8_t pkey;           /* protection key of the leaf (IA-32e), else 0 */
	uint8_t nlevels;        /* entries read, top level first */
	struct svt_walk_level lv[SVT_WALK_MAX_LEVELS];
	uint8_t nad;            /* A/D updates a successful walk makes, in order */
	struct svt_ad_update ad[SVT_WALK_MAX_LEVELS];
};

/* svt_walk() flags */
#define SVT_WALK_SET_AD  (1u << 0)  /* apply ad[] to guest memory through env */

/* The paging mode the registers select. */
enum svt_mode svt_paging_mode(const struct svt_regs *r);

/*
 * Translate one access as the CPU would.  Fills *w completely.  A/D updates
 * are computed for successful walks only (none on a faulting walk, see
 * docs/core.md) and written through env when SVT_WALK_SET_AD is given.
 * Returns w->status.
 */
enum svt_walk_status svt_walk(const struct svt_env *env, const struct svt_regs *r,
			      const struct svt_access *acc, unsigned flags,
			      struct svt_walk *w);

/*
 * PAE: load the four PDPTEs from the table CR3 points to, as MOV to CR3
 * does.  Returns 0, -1 if a present PDPTE has a reserved bit set (the load
 * would raise #GP; r->pdpte is left unchanged), or -2 on an environment
 * failure.
 */
int svt_pae_load_pdptes(const struct svt_env *env, struct svt_regs *r);

/* Reserved-bit mask of an entry (for decoders and audits). level as in
 * struct svt_walk_level; large: the entry has PS=1 where PS selects a page. */
uint64_t svt_rsvd_mask(const struct svt_regs *r, enum svt_mode mode,
		       unsigned level, bool large);

/* ======================================================================
 * The shadow MMU
 * ====================================================================== */

#include "emul.h"

/* Policies: every optimisation can be switched off alone (docs/core.md). */
struct svt_policy {
	unsigned oos;           /* out-of-sync L1 pages at once; 0: off */
	unsigned prefetch;      /* neighbouring L1 entries propagated per fault; 0: off */
	bool early_unshadow;    /* unshadow a page table the guest is clearing */
	bool emulate;           /* emulate page-table writes; false: unshadow on write */
};

struct svt_mmu_config {
	unsigned pool_frames;   /* shadow frames handed in; at least 16 */
	uint64_t guest_frames;  /* guest RAM lies in frames [0, guest_frames) */
	unsigned links;         /* reverse-map and back-pointer nodes; 0: pool_frames * 512 */
	unsigned root_cache;    /* previous top-level shadows kept; 0: 4 */
	uint8_t maxphyaddr;     /* the guest's MAXPHYADDR, 32..52 */
	uint32_t features;      /* SVT_FEAT_* */
	struct svt_policy policy;
};

struct svt_mmu;

/* Bytes of storage the core needs for cfg (one block, any alignment >= 8). */
size_t svt_mmu_storage_size(const struct svt_mmu_config *cfg);

/*
 * Start a shadow MMU in storage (svt_mmu_storage_size(cfg) bytes, 8-byte
 * aligned).  pool_mfns: cfg->pool_frames machine frames the core owns
 * from now on, reached through env->map_mfn.  The guest starts as after
 * reset: CR0 = 0x60000010 (paging off), CR3 = CR4 = EFER = 0.  Returns NULL
 * if cfg or storage is unusable.  env must outlive the MMU.
 */
struct svt_mmu *svt_mmu_init(void *storage, size_t len, const struct svt_mmu_config *cfg,
			     const struct svt_env *env, const uint64_t *pool_mfns);

/* Control-register writes.  Return 0, or SVT_E_GP when the CPU would raise
 * #GP instead (the register is then unchanged). */
#define SVT_E_GP  (-13)
int svt_mmu_write_cr0(struct svt_mmu *m, uint64_t val);
int svt_mmu_write_cr3(struct svt_mmu *m, uint64_t val);   /* PCID and bit 63 (no-flush) honoured */
int svt_mmu_write_cr4(struct svt_mmu *m, uint64_t val);
int svt_mmu_write_efer(struct svt_mmu *m, uint64_t val);
void svt_mmu_invlpg(struct svt_mmu *m, uint64_t va);
int svt_mmu_invpcid(struct svt_mmu *m, unsigned type, uint64_t pcid, uint64_t va);
void svt_mmu_flush_all(struct svt_mmu *m);

/*
 * Guest memory at [gpa, gpa + len) changed without a write fault the core
 * saw: a DMA write, or a replay under another policy than the recording's
 * applying the memory the recording logged.  Shadows of in-sync page
 * tables there are brought up to date, as after an emulated write.
 */
void svt_mmu_guest_wrote(struct svt_mmu *m, uint64_t gpa, uint64_t len);

/* The guest's own view of its paging registers (CR0, CR3, CR4, EFER, PDPTEs). */
const struct svt_regs *svt_mmu_guest_regs(const struct svt_mmu *m);

/*
 * What the hardware must run with now: the shadow root in CR3, and CR0,
 * CR4 and EFER as the hardware sees them (CR0.WP and PG always set, CR4.PGE
 * and PCIDE clear, paging on even while the guest's is off).  With VT-x the
 * guest reads its own values through the CR0/CR4 read shadows.
 */
struct svt_hw_state {
	uint64_t cr0, cr3, cr4, efer;
	enum svt_mode mode;     /* the paging mode the shadow tables are in */
};
void svt_mmu_hw_state(const struct svt_mmu *m, struct svt_hw_state *hw);

/* A #PF the hardware raised while walking the shadow tables. */
struct svt_fault {
	uint64_t va;            /* CR2 */
	uint32_t error_code;    /* the hardware's error code */
	uint8_t cpl;
	uint64_t rflags;        /* AC matters to SMAP */
	uint32_t pkru;
	/* The faulting instruction, for emulation; insn_len 0 if unknown. */
	struct svt_emu_regs *regs;      /* updated when the write is emulated */
	int code_bits;                  /* 16, 32 or 64 */
	const uint8_t *insn;
	unsigned insn_len;
};

enum svt_pf_outcome {
	SVT_PF_FIXED = 0,       /* the shadow now allows the access: re-run the guest */
	SVT_PF_INJECT,          /* inject #PF(error_code) with CR2 = cr2 */
	SVT_PF_EMULATED,        /* the instruction was performed; regs updated */
	SVT_PF_MMIO,            /* not RAM: the access is to device memory at gpa */
	SVT_PF_RETRY,           /* nothing to do: re-run the guest (a race, or a page unshadowed) */
};

struct svt_fault_result {
	enum svt_pf_outcome outcome;
	uint32_t error_code;    /* INJECT */
	uint64_t cr2;           /* INJECT */
	uint64_t gpa;           /* MMIO */
	/* RETRY because the fault came without registers and instruction
	 * (svt_fault.regs NULL) and this write is one to emulate: give
	 * them with the same fault when it comes again. */
	bool wants_regs;
	/* The outcome depended on the registers and the instruction (a write
	 * the core emulates, or would): where this is false, the fault is
	 * decided the same way without them, and a recorder may leave them
	 * out. */
	bool used_regs;
};

enum svt_pf_outcome svt_mmu_page_fault(struct svt_mmu *m, const struct svt_fault *f,
				       struct svt_fault_result *res);

/* Counters per outcome class. */
struct svt_counters {
	uint64_t faults;        /* svt_mmu_page_fault calls */
	uint64_t fixed;         /* shadow entries propagated (not A/D faults) */
	uint64_t ad_faults;     /* fixed by setting guest A/D bits */
	uint64_t injected;      /* #PF given to the guest */
	uint64_t emulated;      /* page-table writes emulated */
	uint64_t emulated_wp0;  /* CR0.WP=0 supervisor writes emulated */
	uint64_t mmio;
	uint64_t retries;
	uint64_t unshadows;     /* guest frames unshadowed */
	uint64_t early_unshadows;
	uint64_t oos;           /* pages taken out of sync */
	uint64_t resyncs;       /* out-of-sync pages brought back in sync */
	uint64_t resyncs_va;    /* entries resynced by INVLPG or INVPCID of one address */
	uint64_t cr3_noflush;   /* CR3 loads with the no-flush bit (nothing resynced) */
	uint64_t evictions;     /* shadow pages freed for lack of pool frames or links */
	uint64_t prefetched;    /* entries propagated by prefetch */
	uint64_t shadows_made;
	uint64_t resets;        /* every shadow dropped (paging mode changes) */
	uint64_t cr_writes, invlpgs, invpcids, flushes;
	uint64_t pool_used, pool_free;  /* now */
	uint64_t env_errors;    /* the environment failed or answered out of range */
};
const struct svt_counters *svt_mmu_counters(const struct svt_mmu *m);

/* ---- audits --------------------------------------------------------- */

enum svt_invariant {
	SVT_INV_PERM, SVT_INV_FRAME, SVT_INV_WP, SVT_INV_SYNC, SVT_INV_STRUCT,
	SVT_INV_FAULT, SVT_INV_REPLAY,
};
const char *svt_invariant_name(enum svt_invariant inv);   /* "INV-PERM", ... */

struct svt_violation {
	enum svt_invariant inv;
	uint64_t va;            /* linear address involved, if any */
	uint64_t gfn;           /* guest frame involved, if any */
	uint64_t shadow_mfn;    /* the shadow page holding the entry, if any */
	uint32_t index;         /* entry index in that shadow page */
	uint8_t level;
	uint64_t guest_entry;
	uint64_t shadow_entry;
	const char *what;       /* a sentence */
};

/* What svt_mmu_audit checks (SVT_AUDIT_ALL = everything). */
#define SVT_AUDIT_STRUCT  (1u << 0)   /* INV-STRUCT: hash, links, refcounts, pool */
#define SVT_AUDIT_ENTRIES (1u << 1)   /* INV-SYNC, INV-WP: every entry of every shadow */
#define SVT_AUDIT_WALK    (1u << 2)   /* INV-PERM, INV-FRAME: every translation of the current root */
#define SVT_AUDIT_ALL     (SVT_AUDIT_STRUCT | SVT_AUDIT_ENTRIES | SVT_AUDIT_WALK)

/* Check the invariants; store up to max violations in out; return how many
 * were found (which may exceed max). */
unsigned svt_mmu_audit(struct svt_mmu *m, unsigned what, struct svt_violation *out,
		       unsigned max);
/* INV-PERM and INV-FRAME for the translation of one address. */
unsigned svt_mmu_audit_va(struct svt_mmu *m, uint64_t va, struct svt_violation *out,
			  unsigned max);

/* ---- events (for tracing and replay) ---------------------------------- */

enum svt_event_kind {
	SVT_EV_FAULT,           /* a, b: va, error code; c: outcome */
	SVT_EV_SHADOW_NEW,      /* a: gfn, b: type, c: mfn */
	SVT_EV_SHADOW_FREE,     /* a: gfn, b: type, c: mfn */
	SVT_EV_UNSHADOW,        /* a: gfn */
	SVT_EV_OOS,             /* a: gfn */
	SVT_EV_RESYNC,          /* a: gfn */
	SVT_EV_EVICT,           /* a: gfn, b: type */
	SVT_EV_RESET,
};
struct svt_event {
	enum svt_event_kind kind;
	uint64_t a, b, c;
};

#endif /* SVT_H */
