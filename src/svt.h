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

/*
 * Everything the core needs from the world.  Later parts of the core add
 * members; the walker uses only these two.  Both return 0 on success and a
 * negative value if the environment cannot perform the access at all (that
 * is an environment failure, reported as SVT_WALK_ENV, never a guest fault).
 * What guest-physical addresses without RAM read as is the environment's
 * decision, as it is the platform's on bare metal.
 */
struct svt_env {
	void *ctx;
	int (*read_gpa)(void *ctx, uint64_t gpa, void *buf, size_t len);
	int (*write_gpa)(void *ctx, uint64_t gpa, const void *buf, size_t len);
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

#endif /* SVT_H */
