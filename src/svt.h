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
#define SVT_CR0_ET      (1ull << 4)
#define SVT_CR0_WP      (1ull << 16)
#define SVT_CR0_PG      (1ull << 31)

#define SVT_CR4_PSE     (1ull << 4)
#define SVT_CR4_PAE     (1ull << 5)
#define SVT_CR4_PGE     (1ull << 7)
#define SVT_CR4_LA57    (1ull << 12)
#define SVT_CR4_PCIDE   (1ull << 17)
#define SVT_CR4_OSXSAVE (1ull << 18)
#define SVT_CR4_SMEP    (1ull << 20)
#define SVT_CR4_SMAP    (1ull << 21)
#define SVT_CR4_PKE     (1ull << 22)
#define SVT_CR4_CET     (1ull << 23)

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

/* ---- frame numbers ---------------------------------------------------- */

/*
 * Guest frame numbers (guest-physical address >> 12) and machine frame
 * numbers (the frames the hardware walks and maps) are different types,
 * as Xen's gfn_t and mfn_t are, so that one cannot be passed where the
 * other is meant.  Each is one 64-bit member: it is passed and returned in
 * a register like the number itself, at no cost.  svt_gfn(x) and
 * svt_mfn(x) make one, svt_gfn_x() and svt_mfn_x() give the number back.
 */
typedef struct { uint64_t gfn; } svt_gfn_t;
typedef struct { uint64_t mfn; } svt_mfn_t;
_Static_assert(sizeof(svt_gfn_t) == sizeof(uint64_t) && sizeof(svt_mfn_t) == sizeof(uint64_t),
	       "a frame number is its 64 bits and nothing else");

static inline svt_gfn_t svt_gfn(uint64_t x) { return (svt_gfn_t){ x }; }
static inline uint64_t svt_gfn_x(svt_gfn_t g) { return g.gfn; }
static inline bool svt_gfn_eq(svt_gfn_t a, svt_gfn_t b) { return a.gfn == b.gfn; }
static inline svt_mfn_t svt_mfn(uint64_t x) { return (svt_mfn_t){ x }; }
static inline uint64_t svt_mfn_x(svt_mfn_t m) { return m.mfn; }
static inline bool svt_mfn_eq(svt_mfn_t a, svt_mfn_t b) { return a.mfn == b.mfn; }

/* No machine frame: what gfn_to_mfn answers for a frame that is not RAM. */
#define SVT_INVALID_MFN_RAW  (~0ull)
#define SVT_INVALID_MFN      ((svt_mfn_t){ SVT_INVALID_MFN_RAW })
static inline bool svt_mfn_valid(svt_mfn_t m) { return m.mfn != SVT_INVALID_MFN_RAW; }

/*
 * How many of the first n 8-byte words at a and b are equal, counted from
 * the start (the core's resync against its snapshot, a recorder's mirror
 * against memory).  Built freestanding for x86-64 (the hypervisor) it is
 * one `repe cmpsq`, a tick a word under Bochs where a loop takes five.
 */
static inline size_t svt_same_words(const void *a, const void *b, size_t n)
{
	const uint8_t *p = (const uint8_t *)a, *q = (const uint8_t *)b;
#if !__STDC_HOSTED__ && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	size_t left = n;
	if (n == 0)
		return 0;
	__asm__ volatile("cld; repe cmpsq" : "+S"(p), "+D"(q), "+c"(left) :: "memory", "cc");
	/* stopped at the end, or past the first pair that differs */
	uint64_t x, y;
	__builtin_memcpy(&x, p - 8, 8);
	__builtin_memcpy(&y, q - 8, 8);
	return x != y ? n - left - 1 : n;
#else
	size_t k = 0;
	for (; k < n; k++) {
		uint64_t x, y;
		__builtin_memcpy(&x, p + 8 * k, 8);
		__builtin_memcpy(&y, q + 8 * k, 8);
		if (x != y)
			break;
	}
	return k;
#endif
}

/* ---- the environment table ------------------------------------------- */

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
 * ticks: optional (may be NULL); a clock in any unit that only goes up
 * (the hypervisor's profile build gives the TSC).  Given, the MMU adds the
 * ticks each of its parts takes to svt_mmu_prof(); NULL, it profiles
 * nothing.
 */
struct svt_env {
	void *ctx;
	int (*read_gpa)(void *ctx, uint64_t gpa, void *buf, size_t len);
	int (*write_gpa)(void *ctx, uint64_t gpa, const void *buf, size_t len);
	svt_mfn_t (*gfn_to_mfn)(void *ctx, svt_gfn_t gfn);
	void *(*map_mfn)(void *ctx, svt_mfn_t mfn);
	void (*flush_tlb)(void *ctx, int kind, uint64_t va);
	void (*event)(void *ctx, const struct svt_event *ev);
	uint64_t (*ticks)(void *ctx);
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
/*
 * Invariants: a paging mode's value is its number of levels, so the modes
 * compare in order of depth (mode >= SVT_MODE_4LEVEL: IA-32e), and
 * SVT_MODE_NONE sorts below them all.
 */
_Static_assert(SVT_MODE_NONE < SVT_MODE_2LEVEL && SVT_MODE_2LEVEL == 2 && SVT_MODE_PAE == 3 &&
	       SVT_MODE_4LEVEL == 4 && SVT_MODE_5LEVEL == 5, "modes are numbered by their levels");

/* CPU features the walker depends on (CPUID-reported). */
#define SVT_FEAT_1GPAGE  (1u << 0)  /* CPUID.80000001H:EDX.Page1GB[26] */
/*
 * The CR4 bits the CPU has, for the shadow MMU's MOV-to-CR4 checks.  CR4
 * bits 10:0 exist on every CPU the core runs on; the others it knows are
 * optional (SVT_FEAT_CR4_OPTIONAL: UMIP, LA57, SMXE, FSGSBASE, PCIDE,
 * OSXSAVE, KL, SMEP, SMAP, PKE, CET, PKS).  With SVT_FEAT_CR4_KNOWN, the
 * features word's bits at those CR4 positions say which of them the CPU
 * (as the hypervisor offers it: IA32_VMX_CR4_FIXED1 and CPUID) has, and a
 * write setting one it lacks raises #GP.  Without it every optional bit
 * counts as present (configurations and traces from before the field).
 */
#define SVT_FEAT_CR4_KNOWN     (1u << 1)
#define SVT_FEAT_CR4_OPTIONAL  0x1ff5800u
#define SVT_FEAT_ALL           (SVT_FEAT_1GPAGE | SVT_FEAT_CR4_KNOWN | SVT_FEAT_CR4_OPTIONAL)
_Static_assert((SVT_FEAT_CR4_OPTIONAL & (SVT_FEAT_1GPAGE | SVT_FEAT_CR4_KNOWN)) == 0,
	       "the CR4 feature bits sit at their CR4 positions, clear of the others");

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
_Static_assert((SVT_RIGHT_W | SVT_RIGHT_U | SVT_RIGHT_X) <= UINT8_MAX,
	       "rights fit the uint8_t fields");

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

/* Invariant: one entry per level of the deepest mode fits lv[] and ad[]. */
#define SVT_WALK_MAX_LEVELS 5
_Static_assert(SVT_WALK_MAX_LEVELS == SVT_MODE_5LEVEL, "a walk reads at most one entry per level");

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
#define SVT_OOS_MAX      16     /* the most pages out of sync at once (policy.oos) */
#define SVT_POOL_MIN     16     /* the fewest shadow frames the core accepts */
struct svt_policy {
	unsigned oos;           /* out-of-sync L1 pages at once; 0: off */
	unsigned prefetch;      /* neighbouring L1 entries propagated per fault; 0: off */
	bool early_unshadow;    /* unshadow a page table the guest is clearing */
	bool emulate;           /* emulate page-table writes; false: unshadow on write */
};

struct svt_mmu_config {
	unsigned pool_frames;   /* shadow frames handed in; SVT_POOL_MIN .. 2^24 */
	uint64_t guest_frames;  /* guest RAM lies in frames [0, guest_frames) */
	unsigned links;         /* reverse-map and back-pointer nodes; 0: pool_frames * 512
				 * (either way fewer than 2^32 - 1) */
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
			     const struct svt_env *env, const svt_mfn_t *pool_mfns);

/*
 * Control-register writes.  Return 0, or SVT_E_GP when the CPU would raise
 * #GP instead (the register is then unchanged).  The rules are the SDM's
 * for MOV to CR and WRMSR (docs/core.md, "Control registers"); CR4 bits
 * are checked against the CPU's (SVT_FEAT_CR4_KNOWN).  CR0.ET reads 1
 * whatever is written.  svt_mmu_write_cr0() is a write from outside
 * 64-bit mode (or one whose mode the caller does not know);
 * svt_mmu_write_cr0_mode() says whether it came from 64-bit mode (IA-32e
 * mode with CS.L = 1), where clearing CR0.PG raises #GP.
 */
#define SVT_E_GP  (-13)
int svt_mmu_write_cr0(struct svt_mmu *m, uint64_t val);
int svt_mmu_write_cr0_mode(struct svt_mmu *m, uint64_t val, bool code64);
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
 * and PCIDE clear, paging on even while the guest's is off; a 2-level guest
 * runs on PAE-format shadows, so CR4.PAE and EFER.NXE are set for it, and a
 * caller loads the PDPTEs from the hardware CR3 as VM entry does with EPT
 * off).  With VT-x the guest reads its own values through the CR0/CR4 read
 * shadows.
 */
struct svt_hw_state {
	uint64_t cr0, cr3, cr4, efer;
	enum svt_mode mode;     /* the paging mode the shadow tables are in */
};
void svt_mmu_hw_state(const struct svt_mmu *m, struct svt_hw_state *hw);

/* A #PF the hardware raised while walking the shadow tables. */
/*
 * The descriptor tables' linear ranges, from GDTR, LDTR, IDTR and TR: the
 * system data structures whose accesses are implicit supervisor-mode
 * accesses (SDM Vol. 3A 4.6).  A table is [base, base + limit]; one not
 * usable (a null LDTR or TR) has usable false.
 */
enum svt_dtable { SVT_DT_GDT, SVT_DT_LDT, SVT_DT_IDT, SVT_DT_TSS, SVT_DT_COUNT };
struct svt_dtables {
	uint64_t base[SVT_DT_COUNT];
	uint32_t limit[SVT_DT_COUNT];
	bool usable[SVT_DT_COUNT];
};

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
	/* Evidence for telling an implicit supervisor access under SMAP with
	 * RFLAGS.AC=1 (docs/core.md, "Implicit supervisor accesses"): the
	 * fault came while an event was delivered (the VM exit's
	 * IDT-vectoring information was valid; no instruction is its own),
	 * and the descriptor tables, NULL if not known. */
	bool in_delivery;
	const struct svt_dtables *dt;
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
	 * them with the same fault when it comes again.  (A supervisor
	 * access under SMAP with RFLAGS.AC=1 is told implicit by its
	 * instruction only when they come with it, or by in_delivery and
	 * dt: the hypervisor gives them there unasked.) */
	bool wants_regs;
	/* The outcome depended on the registers and the instruction (a write
	 * the core emulates, or would): where this is false, the fault is
	 * decided the same way without them, and a recorder may leave them
	 * out. */
	bool used_regs;
	/* FIXED, for one step only: a supervisor write that only the guest's
	 * CR0.WP=0 allows, under CR4.SMAP or protection keys, which came
	 * without an instruction to emulate (an event's stack push, say).  Its
	 * path is writable and supervisor-only for now, which would let later
	 * supervisor accesses past SMAP and the keys: run the guest for exactly
	 * one instruction or event delivery (the VMX monitor trap flag) and
	 * call svt_mmu_step_done() at the next VM exit, before anything else
	 * goes to the core; but a #PF exit before the step's end is its
	 * instruction or delivery faulting again (on a second page, say): it
	 * goes to svt_mmu_page_fault() with the step open.  Answered FIXED or
	 * RETRY, the step goes on (with this fault's grant added where step is
	 * set again); answered otherwise, the core has ended it. */
	bool step;
	/* RETRY, and the guest cannot get past this fault: the core has now
	 * answered RETRY to the same fault (address, error code)
	 * SVT_PF_STUCK_AFTER times in a row with no other input between, and
	 * each found the core as the one before left it, so running the guest
	 * again would loop for ever (an environment error, a pool the fault
	 * cannot make room in, registers asked for and never given).  The
	 * caller stops the guest (docs/core.md, "Faults the core cannot
	 * explain": the hypervisor ends the run with a verdict saying so). */
	bool stuck;
};

/* The RETRYs of one fault in a row, nothing between, that make it stuck. */
#define SVT_PF_STUCK_AFTER 16

/* The step a fault asked for (svt_fault_result.step) has ended: the
 * entries granted for it are put back as they were (and the translations
 * the hardware may hold through them flushed), so that the next access
 * meets SMAP and the keys again.  Nothing happens when no step is open.  An
 * input: recorded (STEP_DONE) and replayed.  Any other input but a fault
 * that comes while a step is open ends it first, counting an env_errors. */
void svt_mmu_step_done(struct svt_mmu *m);

enum svt_pf_outcome svt_mmu_page_fault(struct svt_mmu *m, const struct svt_fault *f,
				       struct svt_fault_result *res);

/*
 * The core's counters, one line each: X(name, kind, what).  kind is COUNT
 * (how many times something happened since svt_mmu_init: a timeline
 * interval holds how much it grew) or LEVEL (a quantity now, such as pool
 * frames in use: an interval holds its value at the interval's end); what
 * is a one-line description.  Everything that lists the counters is
 * generated from this list: struct svt_counters below, replay's timeline
 * intervals and final counters, the results database's timeline INSERT
 * and its reads (sim/db*.c).  schema/results.sql has a timeline column
 * for each and shadowvt(1) lists them (Counters); tests/test-db-counters.c
 * checks that both agree with this list.  Adding a counter is a line here,
 * a schema migration (the column: schema/results.sql and a step in
 * sim/results/db.c) and its line in the manual.
 */
#define SVT_COUNTERS(X) \
	X(faults,          COUNT, "page faults handed to the core (svt_mmu_page_fault calls)") \
	X(fixed,           COUNT, "faults fixed by propagating a shadow entry (not A/D faults)") \
	X(ad_faults,       COUNT, "faults fixed by setting the guest's A/D bits") \
	X(injected,        COUNT, "faults reflected to the guest as a #PF") \
	X(emulated,        COUNT, "guest page-table writes emulated") \
	X(emulated_wp0,    COUNT, "supervisor writes emulated under CR0.WP=0") \
	X(mmio,            COUNT, "faults on device memory, not RAM") \
	X(retries,         COUNT, "faults with nothing to do: the guest runs the access again") \
	X(unshadows,       COUNT, "guest frames unshadowed") \
	X(early_unshadows, COUNT, "guest frames unshadowed as soon as the guest cleared them") \
	X(oos,             COUNT, "pages taken out of sync") \
	X(resyncs,         COUNT, "out-of-sync pages brought back in sync") \
	X(resyncs_va,      COUNT, "entries resynced by an INVLPG or INVPCID of one address") \
	X(cr3_noflush,     COUNT, "CR3 loads with the no-flush bit (nothing resynced)") \
	X(evictions,       COUNT, "shadow pages freed for lack of pool frames or links") \
	X(prefetched,      COUNT, "entries propagated by prefetch") \
	X(shadows_made,    COUNT, "shadow pages made") \
	X(resets,          COUNT, "times every shadow was dropped (paging mode changes)") \
	X(cr_writes,       COUNT, "CR0, CR3, CR4 and EFER writes") \
	X(invlpgs,         COUNT, "INVLPG exits") \
	X(invpcids,        COUNT, "INVPCID exits") \
	X(flushes,         COUNT, "whole-TLB flushes") \
	X(pool_used,       LEVEL, "pool frames in use: the shadow pages") \
	X(pool_free,       LEVEL, "pool frames free") \
	X(env_errors,      COUNT, "environment failures and bad answers, failed internal checks: " \
				   "stays 0")

enum svt_counter_kind {
	SVT_CTR_COUNT,          /* grows: per interval, the increase */
	SVT_CTR_LEVEL,          /* a level now: per interval, the value at its end */
};

struct svt_counters {
#define SVT_COUNTER_FIELD(name, kind, what) uint64_t name;
	SVT_COUNTERS(SVT_COUNTER_FIELD)
#undef SVT_COUNTER_FIELD
};

/* SVT_NCOUNTERS: how many; SVT_CTR_I_name: each one's place in the list. */
enum {
#define SVT_COUNTER_INDEX(name, kind, what) SVT_CTR_I_##name,
	SVT_COUNTERS(SVT_COUNTER_INDEX)
#undef SVT_COUNTER_INDEX
	SVT_NCOUNTERS
};

const struct svt_counters *svt_mmu_counters(const struct svt_mmu *m);

/*
 * The profile: with svt_env.ticks given, the ticks spent in each part of
 * the MMU since svt_mmu_init(), indexed by enum svt_prof_part (all 0
 * without a clock).  Parts nest: prefetch is inside propagation, marks
 * out of sync inside page-table writes, resyncs inside whatever flushed.
 */
enum svt_prof_part {
	SVT_PROF_GWALK,         /* a fault's walk of the guest's tables */
	SVT_PROF_SWALK,         /* a fault's walk of the shadows (do they allow it already?) */
	SVT_PROF_PTWRITE,       /* writes the shadows must not let through: emulate, unshadow,
				 * out of sync */
	SVT_PROF_PROPAGATE,     /* propagation into the shadows */
	SVT_PROF_PREFETCH,      /* prefetch of neighbouring L1 entries */
	SVT_PROF_RESYNC,        /* out-of-sync pages brought back in sync */
	SVT_PROF_OOS,           /* pages taken out of sync */
	SVT_PROF_ROOT,          /* new roots (CR3 loads) */
	SVT_PROF_N
};
const uint64_t *svt_mmu_prof(const struct svt_mmu *m);

/* ---- audits --------------------------------------------------------- */

enum svt_invariant {
	SVT_INV_PERM, SVT_INV_FRAME, SVT_INV_WP, SVT_INV_SYNC, SVT_INV_STRUCT,
	SVT_INV_FAULT, SVT_INV_REPLAY, SVT_INV_PROGRESS, SVT_INV_CR, SVT_INV_CPU,
};
const char *svt_invariant_name(enum svt_invariant inv);   /* "INV-PERM", ... */

struct svt_violation {
	enum svt_invariant inv;
	uint64_t va;            /* linear address involved, if any */
	svt_gfn_t gfn;          /* guest frame involved, if any (else 0) */
	svt_mfn_t shadow_mfn;   /* the shadow page holding the entry, if any (else 0) */
	uint32_t index;         /* entry index in that shadow page */
	uint8_t level;
	uint64_t guest_entry;
	uint64_t shadow_entry;
	const char *what;       /* a sentence */
};

/* What svt_mmu_audit checks (SVT_AUDIT_ALL = everything). */
#define SVT_AUDIT_STRUCT  (1u << 0)   /* INV-STRUCT: hash, links, refcounts, pool */
#define SVT_AUDIT_ENTRIES (1u << 1)   /* INV-SYNC, INV-WP: every entry of every shadow */
#define SVT_AUDIT_WALK    (1u << 2)   /* INV-PERM, INV-FRAME: every translation of the
				       * current root */
#define SVT_AUDIT_ALL     (SVT_AUDIT_STRUCT | SVT_AUDIT_ENTRIES | SVT_AUDIT_WALK)
/* With SVT_AUDIT_ALL: only what changed since the last audit with all
 * three (the shadow pages, links and frames the core changed, the frames
 * noted by svt_mmu_audit_note(); after a new root or CR3 the translations
 * under every shadow table not found clean before from the same place
 * with the same rights above it; after a CR0, CR4 or EFER change every
 * entry and translation), and the whole audit where the core's log of
 * changes overflowed or the paging mode changed.  From a state the last audit found clean it
 * finds a violation exactly when the whole audit would; a violation that
 * stays is reported when it appears, not again. */
#define SVT_AUDIT_INCR    (1u << 3)

/* Check the invariants; store up to max violations in out; return how many
 * were found (which may exceed max). */
unsigned svt_mmu_audit(struct svt_mmu *m, unsigned what, struct svt_violation *out,
		       unsigned max);
/* Guest memory [gpa, gpa + len) changed behind the core (a trace's memory
 * records): the next incremental audit checks what it feeds. */
void svt_mmu_audit_note(struct svt_mmu *m, uint64_t gpa, uint64_t len);
/* INV-PERM and INV-FRAME for the translation of one address. */
unsigned svt_mmu_audit_va(struct svt_mmu *m, uint64_t va, struct svt_violation *out,
			  unsigned max);

/* ---- events (for tracing and replay) ---------------------------------- */

enum svt_event_kind {
	SVT_EV_FAULT,           /* a, b: va, error code; c: outcome */
	SVT_EV_SHADOW_NEW,      /* a: gfn, b: type, c: mfn */
	SVT_EV_SHADOW_FREE,     /* a: gfn, b: type, c: mfn */
	SVT_EV_UNSHADOW,        /* a: gfn */
	SVT_EV_OOS,             /* a: gfn; b: 1 if unsynced by force (any level, until the
				 * next flush: docs/core.md), 0 by the policy */
	SVT_EV_RESYNC,          /* a: gfn; b: 1 if it stays out of sync, 0 if protected again;
				 * c: 1 for a table unsynced by force */
	SVT_EV_EVICT,           /* a: gfn, b: type */
	SVT_EV_RESET,
};
/* a, b and c are plain numbers, frame numbers among them (svt_gfn_x(),
 * svt_mfn_x()): an event is data for a trace, not an interface. */
struct svt_event {
	enum svt_event_kind kind;
	uint64_t a, b, c;
};

#endif /* SVT_H */
