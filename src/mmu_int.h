/*
 * mmu_int.h — internals of the shadow MMU, shared by mmu.c (shadow pages,
 * the pool, hash, links, control registers), mmu_fault.c (the fault path,
 * shadow entries from guest entries, propagation), mmu_oos.c (out-of-sync
 * pages), mmu_ptwrite.c (guest writes to page tables: emulation,
 * unshadowing) and mmu_audit.c (the invariant checks).
 *
 * Layout of the world, in Xen's terms:
 *  - a shadow page ("sp") is one pool frame holding shadow entries; it
 *    shadows one guest table (type SH_L1..SH_L5, key: guest frame), or
 *    splinters part of a guest superpage (SH_FL1: 4 KiB entries for a
 *    2/4 MiB region; SH_FL2: 2 MiB entries for a 1 GiB region; key: base
 *    guest frame and protection key), or is a PAE root (four PDPTEs built
 *    from the guest's PDPTE registers), or the PDPT above a 2-level
 *    guest's top level (SH_PDPT), or the 1:1 root used while the guest's
 *    paging is off (SH_PHYS);
 *  - shadow tables have the PAE format or wider: 2-on-3 (Xen's name; a
 *    2-level guest's 1024-entry tables each shadowed by several 512-entry
 *    pages, its parts: see "2-on-3" below), 3-on-3, 4-on-4, 5-on-5; only
 *    the 1:1 tables used while paging is off have the 2-level format;
 *  - every present shadow entry has a note in aux[]: for leaf entries the
 *    guest frame it maps (the reverse map is keyed by it), for non-leaf
 *    entries the index of the child sp;
 *  - links are the nodes of two kinds of list: the reverse map of a guest
 *    frame (every shadow leaf mapping it) and the parents of an sp (every
 *    shadow entry pointing to it: the back-pointers used to unshadow and
 *    evict);
 *  - gfn_info is the frame table: reverse-map head, how many table-type
 *    shadows the frame has (>0: it is a page table and must stay read-only
 *    in every shadow, unless out of sync), its out-of-sync slot.
 *
 * Invariants (checked by mmu_audit.c):
 *  - sp->refs == number of present shadow entries pointing to sp ==
 *    length of sp's parent list;
 *  - a leaf entry is present iff it is on the reverse map of aux[] gfn;
 *  - gfn_info.pt == number of SH_L1..SH_L5 shadow pages of the frame
 *    (every part counted);
 *  - pool_used + free frames == pool_frames; same for links.
 */
#ifndef SVT_MMU_INT_H
#define SVT_MMU_INT_H

#include "walk_int.h"

enum sh_type {
	SH_FREE = 0,
	SH_L1 = 1, SH_L2, SH_L3, SH_L4, SH_L5,   /* shadow of a guest table at that level */
	SH_FL1,         /* splinter: 4 KiB entries of a guest 2/4 MiB page (or 2 MiB of a
			 * 1 GiB page) */
	SH_FL2,         /* splinter: 2 MiB entries of a guest 1 GiB page, pointing to FL1s */
	SH_PAE_ROOT,    /* PAE: four PDPTEs; key: CR3 >> 5 */
	SH_PHYS,        /* paging off: the 1:1 root (2-level format) */
	SH_PDPT,        /* 2-on-3: the root, four PDPTEs pointing to the parts of the
			 * guest's top-level table (key: its frame); built from nothing
			 * the guest wrote, so not a table type */
	SH_NTYPES
};
/* Invariant: SH_Ln == n, so the shadow one level down is type level - 1
 * (propagation asks for it so) and a table type is its own level. */
_Static_assert(SH_L1 == 1 && SH_L2 == 2 && SH_L3 == 3 && SH_L4 == 4 && SH_L5 == 5,
	       "SH_Ln is n");

static inline bool sh_is_table(unsigned type) { return type >= SH_L1 && type <= SH_L5; }

#define SP_NONE 0u      /* indices below are 1-based so 0 means "none" */

/*
 * Sizes.  A shadow page is one 4 KiB pool frame: 1024 4-byte entries in
 * the 2-level format, 512 8-byte ones otherwise (nents; a power of two,
 * so nents - 1 masks an index).  Storage is counted in SH_MAX_ENTRIES per
 * shadow page (aux[]), the pool in at most SH_POOL_MAX frames, the links
 * by default SH_LINKS_PER_FRAME per pool frame.
 */
#define SH_PAGE_SIZE 4096u
#define SH_MAX_ENTRIES 1024u
#define SH_POOL_MAX (1u << 24)
#define SH_LINKS_PER_FRAME 512u
_Static_assert(SH_MAX_ENTRIES * 4 == SH_PAGE_SIZE && 512 * 8 == SH_PAGE_SIZE,
	       "a shadow page is one frame of 1024 4-byte or 512 8-byte entries");
_Static_assert((SH_MAX_ENTRIES & (SH_MAX_ENTRIES - 1)) == 0 && (512 & (512 - 1)) == 0,
	       "entries per shadow page are a power of two");

/*
 * Entries are typed as Xen types them, so that a guest entry cannot be
 * stored where a shadow entry is meant or the other way round: g_entry_t
 * is an entry of the guest's tables as the guest wrote it (4 or 8 bytes,
 * widened), sh_entry_t an entry of a shadow page as the hardware reads
 * it.  One 64-bit member each, passed in a register like the number.
 */
typedef struct { uint64_t ge; } g_entry_t;
typedef struct { uint64_t se; } sh_entry_t;
static inline g_entry_t g_entry(uint64_t x) { return (g_entry_t){ x }; }
static inline uint64_t g_entry_x(g_entry_t e) { return e.ge; }
static inline sh_entry_t sh_entry(uint64_t x) { return (sh_entry_t){ x }; }
static inline uint64_t sh_entry_x(sh_entry_t e) { return e.se; }
static inline bool sh_present(sh_entry_t e) { return (e.se & SVT_PTE_P) != 0; }
#define SH_ENTRY_NONE ((sh_entry_t){ 0 })

struct sh_page {
	uint64_t gfn;           /* key (see enum sh_type): a guest frame, or CR3 >> 5 */
	svt_mfn_t mfn;          /* the pool frame */
	uint8_t *map;           /* where the core reaches it (env->map_mfn, once) */
	uint32_t hash_next;     /* next in bucket, or in the free list */
	uint32_t parents;       /* link list of parent entries */
	uint32_t refs;          /* parent entries pointing here */
	uint64_t stamp;         /* last use, for eviction */
	uint32_t busy;          /* == d.epoch: in use by the current operation */
	uint8_t type;           /* enum sh_type */
	uint8_t level;          /* paging level of its entries, 1..5 */
	uint8_t sub;            /* key: FL1/FL2: the splintered page's key, sh_splinter_key();
				 * SH_L1/SH_L2 with 2-on-3: the part; else 0 */
	uint8_t pins;           /* root cache and current root */
	uint16_t present;       /* entries with P set (sh_raw_set keeps it) */
	uint16_t lo, hi;        /* every entry with P set is in [lo, hi) (sh_raw_set) */
	uint8_t alogged;        /* incremental audit: 1 in its log, 2 above a page in it */
	uint8_t aused;          /* ... in use at the last audit, */
	uint16_t aleaves;       /* ... with this many RAM leaves */
	uint64_t actx;          /* ... translations under it found clean in this context, 0: none
				 * (mmu_audit.c, audit_ctx()) */
	uint32_t fdepth;        /* free: its depth in the free list (1: the bottom) */
};

/* How many of the oldest shadow pages evict_pick() remembers from a scan
 * of the pool (more than the cached roots, which are pinned). */
#define EVICT_MEMO 128

/* evict_pick()'s memo: the oldest pages in use when it last scanned the
 * pool, oldest first, with their stamps then; [pos, n) not yet found
 * gone. */
struct evict_memo {
	uint32_t n, pos;
	uint32_t spi[EVICT_MEMO];
	uint64_t stamp[EVICT_MEMO];
};

struct sh_link {
	uint32_t next;          /* 1-based, 0 = end */
	uint32_t sp;            /* 1-based sp */
	uint32_t idx;           /* entry index in sp */
};

struct gfn_info {
	uint32_t rmap;          /* link list of shadow leaves mapping this frame */
	uint16_t pt;            /* table-type shadows of this frame */
	uint8_t oos;            /* out-of-sync slot + 1, or 0 */
	uint8_t forced;         /* unsynced for a write nothing could perform (mmu_oos.c) */
	uint8_t alogged;        /* incremental audit: in its log */
	uint32_t armap;         /* ... reverse-map nodes at the last audit */
};

/*
 * Invariants of the fields above:
 *  - sh_page.present, lo and hi count and bound entry indices up to
 *    SH_MAX_ENTRIES in 16 bits (lo == SH_MAX_ENTRIES, hi == 0: empty);
 *  - sh_page.type holds an enum sh_type, gfn_info.pt at most one shadow
 *    per table type and part (2-on-3: L1 two, L2 four), gfn_info.oos a
 *    slot + 1 of SVT_OOS_MAX;
 *  - shadow-page and link indices are 1-based uint32_t (0: none), and aux[]
 *    notes a child's index or a frame below 2^32 in a uint32_t: the pool
 *    and the links number below 2^32 (layout_of() refuses more);
 *  - everything is carved out of 8-byte-aligned storage (svt_mmu_init).
 */
_Static_assert(SH_MAX_ENTRIES <= UINT16_MAX, "entry counts and bounds fit 16 bits");
_Static_assert(SH_NTYPES - 1 <= UINT8_MAX, "sh_page.type holds every type");
_Static_assert(2 + 4 + (SH_L5 - SH_L2) <= UINT16_MAX,
	       "gfn_info.pt counts every part of every table type");
_Static_assert((uint64_t)SH_POOL_MAX < UINT32_MAX, "shadow-page indices fit 32 bits");
_Static_assert(_Alignof(struct sh_page) <= 8 && _Alignof(struct sh_link) <= 8 &&
	       _Alignof(struct gfn_info) <= 8, "carved from 8-byte-aligned storage");
_Static_assert(SVT_OOS_MAX + 1 <= UINT8_MAX, "gfn_info.oos holds a slot + 1 (SVT_OOS_MAX: svt.h)");

/*
 * The profile (svt_mmu_prof(), HACKING "make bench"): between
 * PROF_BEGIN(m, t) and PROF_END(m, t, part) runs one part of the MMU
 * (enum svt_prof_part); with env.ticks given, PROF_END adds the ticks it
 * took to prof[part].  Without a clock a part costs two tests of a
 * register.
 */
#define PROF_BEGIN(m, t) \
	uint64_t (*const t##_clock)(void *) = (m)->d.env.ticks; \
	uint64_t t = t##_clock ? t##_clock((m)->d.env.ctx) : 0
#define PROF_END(m, t, part) \
	do { \
		if (t##_clock) \
			(m)->d.prof[part] += t##_clock((m)->d.env.ctx) - (t); \
	} while (0)

struct oos_slot {
	uint64_t gfn;
	uint32_t age;
	bool used;
	/* resync_root()'s memo, good while d.link_gen is reach_gen: for
	 * root reach_root, 0 none, 1 no shadow of the page, 2 a shadow the
	 * root does not reach, 3 one it reaches */
	uint8_t reach;
	uint32_t reach_root;
	uint64_t reach_gen;
	/* oos_l1()'s memo, the page's L1 shadow per part: an index is good
	 * while that page still has the key; SP_NONE while d.link_gen + 1
	 * is l1_none (a shadow page made is a link change, but for an L1 of
	 * a page in sync: sp_get() brings a page back in sync before it
	 * makes a shadow of it, so no L1 is made for a page out of sync) */
	uint32_t l1[2];
	uint64_t l1_none[2];
};

/*
 * Tables unsynced by force (mmu_oos.c, oos_force()): a write that must be
 * emulated but cannot be (no instruction comes with it: an implicit write
 * by the CPU) to a page table on the write's own walk or to the current
 * top level, of any level, is let through by making the table writable in
 * every shadow until the next flush of any kind.  At most OOS_FORCED_MAX at
 * once (a page-crossing implicit write may need two).
 */
#define OOS_FORCED_MAX 2

#define SVT_ROOT_CACHE_MAX 64
_Static_assert(SVT_ROOT_CACHE_MAX >= 4, "the default root cache (4) fits");

/*
 * The incremental audit's log (svt_mmu_audit() with SVT_AUDIT_INCR, in
 * mmu_audit.c): what changed since the last audit.  The core notes every
 * shadow page whose entries, keys, links or counts it changes and every
 * guest frame whose reverse map, frame-table entry or snapshot it changes
 * or whose memory it writes (audit_sp_dirty(), audit_gfn_dirty()), once
 * each (alogged); a full log (overflow) makes the next audit a whole one.
 * The free-link list is a stack whose nodes each hold their depth in idx
 * (link_alloc(), list_del()): lo_depth is the deepest node taken off it
 * since the last audit, so everything below it is as that audit saw it.
 * The free list of shadow pages likewise (sh_page.fdepth, sp_lo, sp_head).
 * The rest is the audit's own: the totals and registers it last saw.
 */
#define AUDIT_LOG_SP  1024
#define AUDIT_LOG_GFN 2048
struct audit_log {
	uint32_t sp[AUDIT_LOG_SP];
	uint64_t gfn[AUDIT_LOG_GFN];
	unsigned nsp, ngfn;
	bool overflow;
	bool valid;             /* a whole audit has set what follows */
	uint32_t lo_depth;      /* UINT32_MAX: nothing taken */
	uint32_t head_depth;    /* free links at the last audit */
	uint32_t sp_lo;         /* the deepest free shadow page taken since, UINT32_MAX: none */
	uint32_t sp_head;       /* free shadow pages at the last audit */
	uint64_t used, leaves, rmaps;
	uint64_t cr0, cr3, cr4, efer, pdpte[4];
	uint32_t root;
	enum svt_mode mode;
};

/*
 * The state, in two parts: what the machine shares (struct mmu_domain:
 * the pool and its shadow pages, the hash, the links, the frame table,
 * the out-of-sync set, the counters and the profile) and what belongs to
 * one virtual CPU (struct mmu_vcpu: its registers and paging mode, its
 * current root and root cache, the memos of its last faults).  Today
 * there is one of each, in one struct svt_mmu, so that the fault path
 * reaches both at fixed offsets from one pointer (no indirection).
 *
 * Rules — the core is single-threaded today; a caller with several
 * vCPUs (one struct mmu_vcpu each, all sharing one struct mmu_domain)
 * must keep them:
 *  - the domain part has one lock, which a caller holds across every
 *    svt_mmu_* call but svt_mmu_guest_regs() and svt_mmu_hw_state(); the
 *    core takes no lock itself and never waits;
 *  - a vCPU's part is written only by the call running that vCPU, and
 *    only under the domain lock for root, roots[] and nroots: domain code
 *    reads them (sp_destroy() takes a page out of the root cache and
 *    drops it as the current root, evict_one() gives up cached roots,
 *    unshadow_gfn() empties the current root rather than freeing it,
 *    reset_all() unpins every root), and would then visit every vCPU's;
 *  - svt_mmu_guest_regs() and svt_mmu_hw_state() read their vCPU's part,
 *    the shadow format and the pool frame of its root (fixed since
 *    svt_mmu_init()), nothing a fault changes under them;
 *  - shadow entries are computed from the faulting vCPU's registers
 *    (mode, CR4.PSE, EFER.NXE, MAXPHYADDR) but shared by all: every vCPU
 *    must agree on those (a change of any drops every shadow, reset_all());
 *    smode, esize, nents and gesize, the format of every shadow page and
 *    of the tables it shadows, are the domain's for that reason;
 *  - env.flush_tlb() must then drop the translation on every CPU that
 *    runs on these shadows, not only the caller's.
 *
 * Which functions touch which part: the pool, hash, links, write
 * protection and unshadowing (mmu.c), out-of-sync pages (mmu_oos.c) and
 * the STRUCT audit touch the domain, reading the roots as above;
 * computing entries (mmu_fault.c, and through it write protection,
 * revalidation, resyncs, the ENTRIES and WALK audits) reads the vCPU's
 * registers; the control registers and roots (apply_regs(), set_root(),
 * root_and_flush()) and the fault path touch both; the fault path's
 * memos (spurious, retry, last_wr_*) are the vCPU's alone (though their
 * `at` counts in d.c.faults, which with several vCPUs would be a count
 * of the vCPU's own faults).
 */
struct mmu_domain {
	struct svt_env env;
	struct svt_mmu_config cfg;
	enum svt_mode smode;            /* the shadow tables' format */
	unsigned esize;                 /* shadow entry size: 4 or 8 */
	unsigned nents;                 /* entries per shadow page: 1024 or 512 */
	unsigned gesize;                /* guest entry size: 4 (2-level guests) or 8 */
	struct svt_counters c;
	uint64_t prof[SVT_PROF_N];      /* svt_mmu_prof() */
	uint64_t clock;                 /* LRU stamps */
	struct evict_memo ev;
	uint32_t epoch;                 /* busy marks: one per operation */

	struct sh_page *sp;             /* [pool_frames] */
	uint32_t *aux;                  /* [pool_frames * SH_MAX_ENTRIES] */
	uint32_t free_sp;
	uint32_t *hash;                 /* [nbuckets] */
	unsigned nbuckets;
	struct sh_link *links;          /* [nlinks] */
	uint32_t free_link;
	unsigned nlinks, links_used;
	struct gfn_info *gi;            /* [guest_frames] */
	struct oos_slot oos[SVT_OOS_MAX];
	uint64_t forced[OOS_FORCED_MAX];  /* frames unsynced by force, ~0: none (oos_force()) */
	bool wp0_granted;               /* leaves made writable for CR0.WP=0 exist (wp0_grant()) */
	uint8_t *snap;                  /* [SVT_OOS_MAX * SH_PAGE_SIZE] */
	uint32_t oos_clock;
	/* bumped when a shadow page other than a splinter is made or freed
	 * or gains or loses a parent entry: what sp_reaches() and the
	 * lookup of an L1's shadows depend on (struct oos_slot) */
	uint64_t link_gen;
	struct audit_log al;
};

/* A fault the fault path remembers, for its two bounds on re-running the
 * same fault with nothing between (spurious faults in svt_mmu_page_fault(),
 * stuck ones in pf_done(); fault_memo_next(), fault_memo_count()). */
struct fault_memo {
	uint64_t va;
	uint32_t ec;                    /* its error code */
	uint64_t at;                    /* d.c.faults at that fault */
	uint32_t epoch;                 /* d.epoch at that fault */
	unsigned repeats;               /* times it came again at once, nothing between */
};

/* A step's grant: the pages one instruction or event delivery may need it
 * for (an event's stack frame crosses at most one page boundary), and the
 * shadow entries their paths may change. */
#define MMU_STEP_PAGES 4
#define MMU_STEP_MAX (5 * MMU_STEP_PAGES)

struct mmu_vcpu {
	struct svt_regs g;              /* the guest's registers */
	enum svt_mode mode;             /* the guest's paging mode */
	uint32_t root;                  /* current root sp, 1-based */
	/* the PAE root set_root() last linked, and the PDPTEs it linked it
	 * from (pae_root_current()) */
	uint32_t pae_built_root;
	uint64_t pae_built[4];
	uint32_t roots[SVT_ROOT_CACHE_MAX];  /* cached roots, most recent first */
	unsigned nroots;

	/* early unshadow: the previous emulated page-table write */
	uint64_t last_wr_gfn;
	unsigned last_wr_zeroes;
	/* d.epoch of the last fault whose emulation wrote guest memory: its
	 * own walk no longer stands for the emulator's (mmu_ptwrite.c) */
	uint32_t emu_wrote_epoch;
	/* spurious-fault detection (see mmu_fault.c): the last such fault */
	struct fault_memo spurious;
	/* stuck-fault detection (pf_done(); svt_fault_result.stuck): the last
	 * RETRY; its repeats are the RETRYs of it in a row, less one */
	struct fault_memo retry;
	bool retry_spurious;            /* this fault's RETRY is a spurious fault's (bounded) */
	/* a step's grant (svt_fault_result.step): the shadow entries
	 * wp0_grant() changed, as they were (old) and as it made them (now),
	 * the page's key, and the address each was changed for, until
	 * svt_mmu_step_done(); nstep_va addresses */
	bool step_open;
	unsigned nstep, nstep_va;
	struct {
		uint64_t va, gfn;
		uint32_t spi;
		uint16_t idx;
		uint8_t level, type, sub;
		sh_entry_t old, now;
	} step[MMU_STEP_MAX];
};

/* mmu_fault.c: a step's grant (the shadow levels one path can change) */
void step_revoke_from(struct svt_mmu *m, unsigned from);
static inline void step_revoke(struct svt_mmu *m)
{
	step_revoke_from(m, 0);
}
bool step_covers(const struct svt_mmu *m, uint64_t va);

/* The times in a row the same fault, allowed by the guest's walk and by the
 * shadow, is re-run before it is injected as the hardware reported it. */
#define MMU_SPURIOUS_MAX 4

struct svt_mmu {
	struct mmu_domain d;            /* machine-wide: under the domain lock */
	struct mmu_vcpu v;              /* this vCPU's */
};

static inline struct sh_page *SP(struct svt_mmu *m, uint32_t i) { return &m->d.sp[i - 1]; }
static inline uint32_t *sp_aux(struct svt_mmu *m, uint32_t i)
{
	return &m->d.aux[(size_t)(i - 1) * SH_MAX_ENTRIES];
}

/* Shadow entry idx of shadow page spi (every fault reads several: inline). */
static inline sh_entry_t sh_get(struct svt_mmu *m, uint32_t spi, unsigned idx)
{
	const uint8_t *p = SP(m, spi)->map + (size_t)idx * m->d.esize;
	return sh_entry(m->d.esize == 8 ? svt_le_load(p, 8) : svt_le_load(p, 4));
}

/* The first of entries [from, to) of shadow page spi with P set, or to:
 * P is bit 0 of each entry's first byte (little-endian entries). */
_Static_assert(SVT_PTE_P == 1, "P is bit 0: an entry's first byte says if it is present");
static inline unsigned sh_next_present(struct svt_mmu *m, uint32_t spi, unsigned from, unsigned to)
{
	const struct sh_page *sp = SP(m, spi);
	const uint8_t *p = sp->map;
	unsigned es = m->d.esize, end = to < sp->hi ? to : sp->hi;
	if (from < sp->lo)
		from = sp->lo;
	while (from < end && !(p[(size_t)from * es] & 1))
		from++;
	return from < end ? from : to;
}

/*
 * 2-on-3 (Xen's name): a 2-level guest runs on PAE-format shadows, so that
 * the hardware runs with EFER.NXE on and every fetch fault carries I/D.  A
 * guest table of 1024 4-byte entries is shadowed by several pages of 512
 * 8-byte entries, its parts (sh_page.sub; each part is an ordinary shadow
 * page with its own hash entry, parents, reverse-map nodes and count in
 * gfn_info.pt, made on demand):
 *  - a guest L1 by two: part h shadows guest entries 512h..512h+511, one
 *    to one (each maps 4 KiB);
 *  - a guest L2 by four: part q shadows guest entries 256q..256q+255, each
 *    by two shadow entries (2 MiB each): shadow entry j of part q is the
 *    half j & 1 of guest entry 256q + j / 2, and points to part j & 1 of
 *    the guest L1's shadow (or, for a 4 MiB page, to the FL1 of its
 *    2 MiB half);
 *  - the root is an SH_PDPT keyed by the guest L2's frame, its entry q
 *    pointing to part q (linked on demand, as PAE roots' children are).
 * The shadow indices of an address are then the PAE format's, and the
 * part of a table for va is its shadow index one level up: for L1,
 * va[21]; for L2, va[31:30].  Every other guest has one part per table
 * (sub 0): sh_parts() 1, sh_span() 1, and sh_gidx() the identity.
 */
static inline bool sh_2on3(const struct svt_mmu *m) { return m->d.gesize == 4 && m->d.esize == 8; }
/* How many parts a guest table shadowed as type has. */
static inline unsigned sh_parts(const struct svt_mmu *m, unsigned type)
{
	return !sh_2on3(m) ? 1 : type == SH_L1 ? 2 : type == SH_L2 ? 4 : 1;
}
/* How many shadow entries shadow one guest entry of a table of type. */
static inline unsigned sh_span(const struct svt_mmu *m, unsigned type)
{
	return sh_2on3(m) && type == SH_L2 ? 2 : 1;
}
/* The guest entry (its index in the guest table) that entry idx of table
 * shadow page p shadows. */
static inline unsigned sh_gidx(const struct svt_mmu *m, const struct sh_page *p, unsigned idx)
{
	unsigned span = sh_span(m, p->type);
	return p->sub * (m->d.nents / span) + idx / span;
}
/* The part of a table of type shadowing guest entry gidx, and the first of
 * its sh_span() shadow entries there. */
static inline unsigned sh_part_of(const struct svt_mmu *m, unsigned type, unsigned gidx)
{
	return gidx / (m->d.nents / sh_span(m, type));
}
static inline unsigned sh_slot_of(const struct svt_mmu *m, unsigned type, unsigned gidx)
{
	unsigned span = sh_span(m, type);
	return gidx % (m->d.nents / span) * span;
}
/* The part of the child (a table type) that non-leaf entry idx of a
 * table-type page points to. */
static inline unsigned sh_child_part(const struct svt_mmu *m, unsigned type, unsigned idx)
{
	return sh_span(m, type) == 2 ? idx & 1 : 0;
}

/* The highest table type a shadow page can have now: one per level of the
 * guest's tables (a PAE guest's PDPTEs are its SH_PAE_ROOT, a 2-level
 * guest's two levels are shadowed in the PAE format; paging off has none).
 * A change of mode drops every shadow (reset_all()), so no type of another
 * mode is left behind; looking for one would only cost a hash lookup. */
static inline unsigned sh_top_table(const struct svt_mmu *m)
{
	switch (m->d.smode) {
	case SVT_MODE_5LEVEL: return SH_L5;
	case SVT_MODE_4LEVEL: return SH_L4;
	case SVT_MODE_PAE: return SH_L2;
	default: return 0;
	}
}

/* Note a change for the incremental audit (struct audit_log). */
static inline void audit_sp_dirty(struct svt_mmu *m, uint32_t spi)
{
	struct sh_page *p = SP(m, spi);
	if (p->alogged == 1)
		return;
	if (p->alogged == 0 && m->d.al.nsp < AUDIT_LOG_SP)
		m->d.al.sp[m->d.al.nsp++] = spi;
	else if (p->alogged == 0)
		m->d.al.overflow = true;
	p->alogged = 1;
}
static inline void audit_gfn_dirty(struct svt_mmu *m, uint64_t gfn)
{
	if (gfn >= m->d.cfg.guest_frames || m->d.gi[gfn].alogged)
		return;
	m->d.gi[gfn].alogged = 1;
	if (m->d.al.ngfn < AUDIT_LOG_GFN)
		m->d.al.gfn[m->d.al.ngfn++] = gfn;
	else
		m->d.al.overflow = true;
}

/* mmu.c */
void sh_raw_set(struct svt_mmu *m, uint32_t spi, unsigned idx, sh_entry_t val);
uint64_t sh_frame(const struct svt_mmu *m, sh_entry_t e);
unsigned sp_nents(const struct svt_mmu *m, const struct sh_page *p);
void sh_set_leaf(struct svt_mmu *m, uint32_t spi, unsigned idx, sh_entry_t val, svt_gfn_t gfn);
void sh_set_child(struct svt_mmu *m, uint32_t spi, unsigned idx, sh_entry_t val, uint32_t child);
void sh_clear(struct svt_mmu *m, uint32_t spi, unsigned idx);
uint32_t sp_lookup(struct svt_mmu *m, uint64_t gfn, unsigned type, unsigned sub);
uint32_t sp_get(struct svt_mmu *m, uint64_t gfn, unsigned type, unsigned sub, bool *made);
void sp_destroy(struct svt_mmu *m, uint32_t spi);
void sp_touch(struct svt_mmu *m, uint32_t spi);

/* Is gfn guest RAM (and so in the frame table)? */
static inline bool gfn_is_ram(const struct svt_mmu *m, uint64_t gfn)
{
	return gfn < m->d.cfg.guest_frames;
}

/* How many parts of gfn's shadow as type exist. */
static inline unsigned sp_nparts(struct svt_mmu *m, uint64_t gfn, unsigned type)
{
	unsigned n = 0;
	for (unsigned part = 0; part < sh_parts(m, type); part++)
		n += sp_lookup(m, gfn, type, part) != SP_NONE;
	return n;
}

/* A guest frame that must be read-only in every shadow: an in-sync page table. */
static inline bool gfn_protected(const struct svt_mmu *m, uint64_t gfn)
{
	return gfn_is_ram(m, gfn) && m->d.gi[gfn].pt > 0 && m->d.gi[gfn].oos == 0 &&
	       !m->d.gi[gfn].forced;
}

/*
 * Deliberately broken cores, for the tests only: each bug is a one- or
 * two-line deviation guarded by SVT_BUG(n) (walk_int.h; the walker's by
 * SVT_WBUG(n, flags), which touches only the core's own walks).  A build
 * with SVT_BROKEN defined reads n from svt_broken, which that build's main()
 * sets from $SVT_BROKEN; the real core has neither the variable nor the
 * bugs.  tests/broken-core.sh shows replay catching 1 and 2; `make mutants`
 * (tests/mutants.sh, which reads this list: keep one line per bug, "n:
 * text") runs every one through synth, replay and the model harness, and
 * tests/mutants-survivors.md explains those the product misses.
 *   1: frames shadowed as L1 page tables are not write-protected
 *   2: injected #PFs lose the U/S bit of their error code
 *   3: walker: the U/S bit of non-leaf guest entries is ignored
 *   4: walker: the R/W bit of non-leaf guest entries is ignored
 *   5: walker: the XD bit of non-leaf guest entries is ignored
 *   6: walker: reserved-bit faults are reported without RSVD in the error code
 *   7: walker: a successful walk sets A in the leaf only, not in the upper levels
 *   8: walker: reads set D in the leaf as writes do
 *   9: walker: a write sets D only when the leaf's A was clear
 *  10: walker: CR0.WP=0 ignored, supervisor writes to read-only pages fault
 *  11: walker: SMEP ignored, supervisor fetches from user pages allowed
 *  12: walker: RFLAGS.AC ignored, SMAP blocks every supervisor data access to user pages
 *  13: walker: protection-key faults lose the PK bit of the error code
 *  14: injected #PFs keep the hardware's I/D bit (forced NXE), not the guest walk's
 *  15: the fault path ignores the I/D bit: fetch faults are handled as reads
 *  16: CR2 of a fault on the 2nd page of a page-crossing emulated write is its 1st byte
 *  17: a PAE CR3 load of the value CR3 already holds does not reload the PDPTEs
 *  18: a PAE CR3 load whose PDPTEs have reserved bits set is accepted (old PDPTEs kept)
 *  19: CR4 writes that change PGE, PSE or SMEP do not reload the PAE PDPTEs
 *  20: the fault path propagates without setting the guest's A/D bits
 *  21: shadow leaves are writable while the guest's D bit is clear
 *  22: a splintered large page is writable before the guest's D bit is set
 *  23: non-leaf shadow entries are always user-accessible (guest U/S not copied)
 *  24: non-leaf shadow entries never carry XD (guest NX not copied)
 *  25: PAE shadow leaves never carry XD
 *  26: protection keys are not copied to shadow leaves
 *  27: a large page is splintered from its 2 MiB-aligned base (wrong for 4 MiB and 1 GiB)
 *  28: the 2 MiB pieces of a 1 GiB page are splintered 1 MiB apart
 *  29: guest entries count as valid without their A bit
 *  30: a frame that becomes a page table is not write-protected where already mapped
 *  31: write protection skips splinter (FL1) leaves
 *  32: a shadow leaf re-pointed to another frame stays on the old frame's reverse map
 *  33: linking a child shadow does not count the reference
 *  34: unshadowing a frame drops only its L1 shadow
 *  35: freeing a table shadow does not lower the frame's page-table count
 *  36: an out-of-sync L1 is linked under a new parent without a resync
 *  37: INVLPG resyncs index va[20:12] (the wrong entry of a 2-level out-of-sync page)
 *  38: INVLPG resyncs nothing
 *  39: a CR3 load that flushes resyncs nothing
 *  40: a CR3 load that flushes resyncs only out-of-sync pages linked right under the root
 *  41: with CR4.PCIDE every CR3 load is taken as no-flush
 *  42: a resync compares only the low 32 bits of 8-byte entries
 *  43: CR4 writes resync and flush nothing
 *  44: an out-of-sync page is shadowed as another level without a resync
 *  45: INVPCID of one address resyncs nothing
 *  46: prefetch installs entries the guest has not accessed (A clear)
 *  47: prefetch in a splinter maps every neighbour to the faulting page's frame
 *  48: eviction may free a shadow page in use by the current operation
 *  49: early unshadow after a single write of zero
 *  50: an emulated page-table write does not revalidate the shadows
 *  51: revalidation never clears a non-leaf shadow entry
 *  52: emulated writes are translated as reads (the guest's R/W not checked)
 *  53: emulated accesses do not set the guest's A/D bits
 *  54: supervisor writes only CR0.WP=0 allows are propagated, not emulated
 *  55: with emulation off, writes to the current top-level table unshadow it
 *  56: a write fault the core emulates is not marked as using the registers
 *  57: emulator: CMPXCHG on compare failure leaves the accumulator unchanged
 *  58: emulator: RIP is not advanced past an emulated instruction
 *  59: emulator: XCHG does not load the register with the old memory value
 *  60: paging off: the 1:1 tables are read-only
 *  61: MMIO: the reported guest-physical address loses its page offset
 *  62: a spurious fault repeated at once is retried again, never injected
 *  63: the hardware's CR0.WP is the guest's, not forced on
 *  64: the hardware's CR4 leaves out SMAP
 *  65: EFER.NXE is not forced on for PAE-format shadows
 *  66: an EFER.NXE change keeps the shadows
 *  67: a CR0.WP change resyncs and flushes nothing
 *  68: CR4 writes with reserved bits above bit 24 are accepted
 *  69: setting CR4.PCIDE while CR3[11:0] is not 0 is accepted
 *  70: changing EFER.LME while paging is on is accepted
 *  71: an IA-32e CR3 load with bits set above MAXPHYADDR is accepted
 *  72: clearing CR0.PG while CR4.PCIDE = 1 is accepted
 *  73: CR4.CET with CR0.WP = 0 is accepted (setting CET, or clearing WP under it)
 *  74: splinter leaves drop the guest large page's PAT bit (not moved from bit 12 to 7)
 *  75: clearing CR0.PG from 64-bit mode is accepted
 *  76: CR4 bits of features the CPU lacks are accepted (the CPU's features ignored)
 *  77: an emulated write crossing into memory with nothing behind it is not done (RETRY)
 *  78: an implicit supervisor access under SMAP with RFLAGS.AC=1 is taken for an explicit one
 *  79: an implicit write to a page table on its own walk or the top level is retried (RETRY)
 *  80: setting CR0.WP keeps the leaves made writable and supervisor-only for CR0.WP=0
 *  81: a read while an event is delivered (SMAP, AC=1) is taken for an explicit one
 *  82: an access in an explicit range of an instruction with both kinds is taken for implicit
 *  83: turning CR4.SMAP, PKE or SMEP on keeps the leaves granted for CR0.WP=0 (wp0_grant)
 *  84: a fault retried again and again with nothing between is never reported stuck
 *  85: the end of a step (svt_mmu_step_done) leaves its grant in place
 *  86: a write only CR0.WP=0 allows, under SMAP or keys, is retried, not granted a step (K13)
 *  87: a fault while a step is open ends the step first (two pages' grants alternate)
 *  88: eviction's memo of the oldest pages keeps the newest ones instead
 *  89: a PAE CR3 load that finds the root it linked last keeps it though a PDPTE changed
 *  90: a directory's shadow made, freed or linked leaves the CR3 load's memo of what a root reaches
 */

/* mmu_implicit.c: is the supervisor access at va (a write if write) that
 * f faulted on an implicit one?  wide: linear addresses are 64-bit. */
bool mmu_access_implicit(const struct svt_fault *f, bool write, uint64_t va, bool wide);

/* Must writes to gfn fault?  Exactly when it is an in-sync page table. */
static inline bool gfn_wp(struct svt_mmu *m, uint64_t gfn)
{
	if (SVT_BUG(1) && sp_nparts(m, gfn, SH_L1) != 0)
		return false;
	return gfn_protected(m, gfn);
}
svt_mfn_t g_mfn(struct svt_mmu *m, svt_gfn_t gfn);
void unshadow_gfn(struct svt_mmu *m, uint64_t gfn);
void wp_gfn(struct svt_mmu *m, uint64_t gfn, bool protect);
void mmu_event(struct svt_mmu *m, enum svt_event_kind k, uint64_t a, uint64_t b, uint64_t c);
int g_read_entry(struct svt_mmu *m, uint64_t gpa, unsigned size, g_entry_t *val);
g_entry_t g_table_entry(struct svt_mmu *m, const struct sh_page *p, unsigned idx, bool *ok);

/* The guest-physical address of the table or page a level-1 entry points to. */
static inline uint64_t g_frame(const struct svt_mmu *m, g_entry_t ge)
{
	return m->d.gesize == 4 ? (ge.ge & 0xfffff000u) :
				  (ge.ge & svt_bits(m->v.g.maxphyaddr - 1, 12));
}

/* mmu_fault.c: entries, propagation, the fault path */
sh_entry_t sh_leaf_from_guest(struct svt_mmu *m, g_entry_t ge, svt_gfn_t *gfn);
/* The memory type bits (SDM 4.9.2): PWT and PCD sit at bits 3 and 4 of
 * every entry that maps a page; PAT at bit 7 of a 4 KiB entry (every
 * shadow leaf), at bit 12 of one that maps a large page.  A splinter key
 * (sh_splinter_key) holds the protection key and the PAT index. */
#define SH_PTE_PAT        (1ull << 7)
#define SH_PTE_PAT_LARGE  (1ull << 12)
#define SH_PTE_MT         (SVT_PTE_PWT | SVT_PTE_PCD | SH_PTE_PAT)
#define SPLINTER_PKEY     0xfu
#define SPLINTER_MT_SHIFT 4
unsigned sh_splinter_key(const struct svt_mmu *m, g_entry_t ge);
sh_entry_t sh_leaf_splinter(struct svt_mmu *m, svt_gfn_t gfn, unsigned key);
sh_entry_t sh_nonleaf(struct svt_mmu *m, g_entry_t ge, unsigned level, bool large, uint32_t child);
uint64_t g_frame_of(const struct svt_mmu *m, g_entry_t ge, unsigned level);
bool g_entry_valid(struct svt_mmu *m, g_entry_t ge, unsigned level, bool *large);
int hw_walk(struct svt_mmu *m, const struct svt_access *acc, uint64_t rflags, uint32_t pkru,
	    struct svt_walk *w);
bool wp0_grantable(const struct svt_mmu *m, const struct svt_regs *regs, const struct svt_walk *w);

/* Is the fault at va with error code ec the one fm holds, come again as
 * the very next fault? */
static inline bool fault_memo_next(const struct svt_mmu *m, const struct fault_memo *fm,
				   uint64_t va, uint32_t ec)
{
	return fm->va == va && fm->ec == ec && fm->at + 1 == m->d.c.faults;
}

/* Remember this fault (va, ec) in fm and count it: a repeat if next (the
 * caller's fault_memo_next(), less any exception it makes) and nothing came
 * between (no other input moved the epoch since), else the first of a new
 * run.  Returns the faults in the run so far, this one included. */
static inline unsigned fault_memo_count(const struct svt_mmu *m, struct fault_memo *fm,
					uint64_t va, uint32_t ec, bool next)
{
	bool same = next && fm->epoch + 1 == m->d.epoch;
	fm->repeats = same ? fm->repeats + 1 : 0;
	fm->va = va;
	fm->ec = ec;
	fm->at = m->d.c.faults;
	fm->epoch = m->d.epoch;
	return fm->repeats + 1;
}

/* End a fault with outcome o (counted, reported); inject: with #PF(ec) at cr2.
 * (Every fault ends here: inline, as when they were one file's.)
 *
 * A RETRY of the fault the previous RETRY answered (same address and error
 * code), with no input between (the epoch moved once: this fault's), found
 * the core as that one left it, and so will the next: after
 * SVT_PF_STUCK_AFTER of them in a row the fault is stuck (res->stuck), and
 * the caller stops the guest rather than re-run it for ever.  A spurious
 * fault's RETRY is not counted, and ends a run: svt_mmu_page_fault()
 * injects such a fault after fewer (MMU_SPURIOUS_MAX). */
static inline enum svt_pf_outcome pf_done(struct svt_mmu *m, const struct svt_fault *f,
					   struct svt_fault_result *res, enum svt_pf_outcome o)
{
	bool spurious = m->v.retry_spurious;

	/* A fault while a step is open is its instruction or delivery
	 * faulting again: FIXED and RETRY run it again with the grant in
	 * place; anything else ends it here (svt_fault_result.step). */
	if (m->v.step_open && o != SVT_PF_FIXED && o != SVT_PF_RETRY)
		step_revoke(m);
	m->v.retry_spurious = false;
	res->outcome = o;
	switch (o) {
	case SVT_PF_INJECT: m->d.c.injected++; break;
	case SVT_PF_MMIO: m->d.c.mmio++; break;
	case SVT_PF_RETRY: m->d.c.retries++; break;
	default: break;
	}
	if (o == SVT_PF_RETRY && spurious) {
		m->v.retry.at = ~0ull;
	} else if (o == SVT_PF_RETRY) {
		bool again = fault_memo_next(m, &m->v.retry, f->va, f->error_code) && !SVT_BUG(84);
		if (fault_memo_count(m, &m->v.retry, f->va, f->error_code, again) >=
		    SVT_PF_STUCK_AFTER) {
			m->v.retry.at = ~0ull;          /* the next counts from one */
			res->stuck = true;
		}
	}
	mmu_event(m, SVT_EV_FAULT, f->va, f->error_code, o);
	return o;
}

static inline enum svt_pf_outcome pf_inject(struct svt_mmu *m, const struct svt_fault *f,
					     struct svt_fault_result *res, uint32_t ec,
					     uint64_t cr2)
{
	if (SVT_BUG(2))
		ec &= ~SVT_PFEC_U;
	res->error_code = ec;
	res->cr2 = cr2;
	return pf_done(m, f, res, SVT_PF_INJECT);
}

/* Any input while a step is open: a caller that did not end it
 * (svt_mmu_step_done()); its grant must not outlive the step. */
static inline void step_abandon(struct svt_mmu *m)
{
	if (m->v.step_open) {
		m->d.c.env_errors++;
		step_revoke(m);
	}
}

/* mmu_oos.c: out-of-sync pages */
void l1_install(struct svt_mmu *m, uint32_t spi, unsigned idx, g_entry_t ge);
/* Only an L1 page table, shadowed as nothing else, goes out of sync (every
 * page-table write asks: inline). */
static inline bool oos_eligible(struct svt_mmu *m, uint64_t gfn)
{
	return m->d.cfg.policy.oos > 0 && gfn_is_ram(m, gfn) && m->d.gi[gfn].pt >= 1 &&
	       m->d.gi[gfn].pt == sp_nparts(m, gfn, SH_L1);
}
void oos_mark(struct svt_mmu *m, uint64_t gfn);
void oos_resync_all(struct svt_mmu *m);
void oos_resync_va(struct svt_mmu *m, uint64_t va);
void oos_resync_root(struct svt_mmu *m, uint32_t root);
void oos_resync_gfn(struct svt_mmu *m, uint64_t gfn);
void oos_drop(struct svt_mmu *m, uint64_t gfn);
bool oos_force(struct svt_mmu *m, uint64_t gfn);
#define OOS_FORCED_ALL (~0ull)
void oos_forced_resync(struct svt_mmu *m, uint64_t gfn);   /* gfn, or OOS_FORCED_ALL */
void oos_forced_drop(struct svt_mmu *m, uint64_t gfn);
static inline bool gfn_forced(const struct svt_mmu *m, uint64_t gfn)
{
	return gfn_is_ram(m, gfn) && m->d.gi[gfn].forced;
}

/* mmu_ptwrite.c: writes to page tables.  pt_or_wp0_write() returns an
 * outcome (the fault is over), or PT_CONTINUE: propagate as for any
 * other page. */
#define PT_CONTINUE (-1)
#define PT_CONTINUE_WP0 (-2)    /* ... and then wp0_grant() the path */
#define PT_CONTINUE_STEP (-3)   /* ... and then wp0_grant() it for one step */
void pt_revalidate(struct svt_mmu *m, uint64_t gfn, unsigned off, unsigned len);
int pt_or_wp0_write(struct svt_mmu *m, const struct svt_fault *f,
		    struct svt_fault_result *res, const struct svt_regs *regs,
		    const struct svt_access *acc, const struct svt_walk *w, uint64_t gfn,
		    bool user);

#endif
