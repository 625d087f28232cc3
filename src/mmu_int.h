/*
 * mmu_int.h — internals of the shadow MMU, shared by mmu.c (shadow pages,
 * the pool, hash, links, control registers), mmu_fault.c (the fault path,
 * propagation, emulated page-table writes, out-of-sync pages) and
 * mmu_audit.c (the invariant checks).
 *
 * Layout of the world, in Xen's terms:
 *  - a shadow page ("sp") is one pool frame holding shadow entries; it
 *    shadows one guest table (type SH_L1..SH_L5, key: guest frame), or
 *    splinters part of a guest superpage (SH_FL1: 4 KiB entries for a
 *    2/4 MiB region; SH_FL2: 2 MiB entries for a 1 GiB region; key: base
 *    guest frame and protection key), or is a PAE root (four PDPTEs built
 *    from the guest's PDPTE registers), or the 1:1 root used while the
 *    guest's paging is off (SH_PHYS);
 *  - shadow tables have the guest's format (2-on-2, 3-on-3, 4-on-4,
 *    5-on-5); while paging is off the 1:1 tables use the 2-level format;
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
 *  - gfn_info.pt == number of SH_L1..SH_L5 shadows of the frame;
 *  - pool_used + free frames == pool_frames; same for links.
 */
#ifndef SVT_MMU_INT_H
#define SVT_MMU_INT_H

#include "walk_int.h"

enum sh_type {
	SH_FREE = 0,
	SH_L1 = 1, SH_L2, SH_L3, SH_L4, SH_L5,   /* shadow of a guest table at that level */
	SH_FL1,         /* splinter: 4 KiB entries of a guest 2/4 MiB page (or 2 MiB of a 1 GiB page) */
	SH_FL2,         /* splinter: 2 MiB entries of a guest 1 GiB page, pointing to FL1s */
	SH_PAE_ROOT,    /* PAE: four PDPTEs; key: CR3 >> 5 */
	SH_PHYS,        /* paging off: the 1:1 root (2-level format) */
	SH_NTYPES
};

static inline bool sh_is_table(unsigned type) { return type >= SH_L1 && type <= SH_L5; }

#define SP_NONE 0u      /* indices below are 1-based so 0 means "none" */

struct sh_page {
	uint64_t gfn;           /* key (see enum sh_type) */
	uint64_t mfn;           /* the pool frame */
	uint8_t *map;           /* where the core reaches it (env->map_mfn, once) */
	uint32_t hash_next;     /* next in bucket, or in the free list */
	uint32_t parents;       /* link list of parent entries */
	uint32_t refs;          /* parent entries pointing here */
	uint32_t stamp;         /* last use, for eviction */
	uint32_t busy;          /* == mmu->epoch: in use by the current operation */
	uint8_t type;           /* enum sh_type */
	uint8_t level;          /* paging level of its entries, 1..5 */
	uint8_t pkey;           /* FL1/FL2: protection key of the splintered page */
	uint8_t pins;           /* root cache and current root */
	uint16_t present;       /* entries with P set (sh_raw_set keeps it) */
	uint16_t lo, hi;        /* every entry with P set is in [lo, hi) (sh_raw_set) */
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
	uint8_t pad;
};

#define SVT_OOS_MAX 16
/*
 * A profile of the core's parts, for the hypervisor only (HACKING,
 * "make bench"): built with -DSVT_HV_PROF, each part adds its TSC ticks to
 * hv_prof2[] (defined in vmx/exit.c, printed with each phase): 0 the guest
 * walk, 1 the shadow walk, 2 page-table writes, 3 propagation, 4 prefetch,
 * 5 resyncs, 6 out-of-sync marks, 7 new roots.  Otherwise nothing.
 */
#ifdef SVT_HV_PROF
extern uint64_t hv_prof2[16];
static inline uint64_t prof_tsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}
#define PROF_BEGIN(v) uint64_t v = prof_tsc()
#define PROF_END(v, i) (hv_prof2[i] += prof_tsc() - (v))
#else
#define PROF_BEGIN(v) do { } while (0)
#define PROF_END(v, i) do { } while (0)
#endif
struct oos_slot {
	uint64_t gfn;
	uint32_t age;
	bool used;
};

#define SVT_ROOT_CACHE_MAX 64

struct svt_mmu {
	struct svt_env env;
	struct svt_mmu_config cfg;
	struct svt_regs g;              /* the guest's registers */
	enum svt_mode mode;             /* the guest's paging mode */
	enum svt_mode smode;            /* the shadow tables' format */
	unsigned esize;                 /* shadow entry size: 4 or 8 */
	unsigned nents;                 /* entries per shadow page: 1024 or 512 */
	struct svt_counters c;
	uint32_t clock;                 /* LRU stamps */
	uint32_t epoch;                 /* busy marks */
	uint32_t root;                  /* current root sp, 1-based */
	uint32_t roots[SVT_ROOT_CACHE_MAX];  /* cached roots, most recent first */
	unsigned nroots;

	struct sh_page *sp;             /* [pool_frames] */
	uint32_t *aux;                  /* [pool_frames * 1024] */
	uint32_t free_sp;
	uint32_t *hash;                 /* [nbuckets] */
	unsigned nbuckets;
	struct sh_link *links;          /* [nlinks] */
	uint32_t free_link;
	unsigned nlinks, links_used;
	struct gfn_info *gi;            /* [guest_frames] */
	struct oos_slot oos[SVT_OOS_MAX];
	uint8_t *snap;                  /* [SVT_OOS_MAX * 4096] */
	uint32_t oos_clock;

	/* early unshadow: the previous emulated page-table write */
	uint64_t last_wr_gfn;
	unsigned last_wr_zeroes;
	/* spurious-fault detection (see mmu_fault.c) */
	uint64_t last_spurious_va;
	uint32_t last_spurious_ec;
	uint64_t last_spurious_at;
};

static inline struct sh_page *SP(struct svt_mmu *m, uint32_t i) { return &m->sp[i - 1]; }
static inline uint32_t *sp_aux(struct svt_mmu *m, uint32_t i) { return &m->aux[(size_t)(i - 1) * 1024]; }

/* Shadow entry idx of shadow page spi (every fault reads several: inline). */
static inline uint64_t sh_get(struct svt_mmu *m, uint32_t spi, unsigned idx)
{
	const uint8_t *p = SP(m, spi)->map + (size_t)idx * m->esize;
	return m->esize == 8 ? svt_le_load(p, 8) : svt_le_load(p, 4);
}

/* The first of entries [from, to) of shadow page spi with P set, or to:
 * P is bit 0 of each entry's first byte. */
static inline unsigned sh_next_present(struct svt_mmu *m, uint32_t spi, unsigned from, unsigned to)
{
	const struct sh_page *sp = SP(m, spi);
	const uint8_t *p = sp->map;
	unsigned es = m->esize, end = to < sp->hi ? to : sp->hi;
	if (from < sp->lo)
		from = sp->lo;
	while (from < end && !(p[(size_t)from * es] & 1))
		from++;
	return from < end ? from : to;
}

/* mmu.c */
void sh_raw_set(struct svt_mmu *m, uint32_t spi, unsigned idx, uint64_t val);
uint64_t sh_frame(const struct svt_mmu *m, uint64_t e);
unsigned sp_nents(const struct svt_mmu *m, const struct sh_page *p);
void sh_set_leaf(struct svt_mmu *m, uint32_t spi, unsigned idx, uint64_t val, uint64_t gfn);
void sh_set_child(struct svt_mmu *m, uint32_t spi, unsigned idx, uint64_t val, uint32_t child);
void sh_clear(struct svt_mmu *m, uint32_t spi, unsigned idx);
uint32_t sp_lookup(struct svt_mmu *m, uint64_t gfn, unsigned type, unsigned pkey);
uint32_t sp_get(struct svt_mmu *m, uint64_t gfn, unsigned type, unsigned pkey, bool *made);
void sp_destroy(struct svt_mmu *m, uint32_t spi);
void sp_touch(struct svt_mmu *m, uint32_t spi);
bool gfn_is_ram(const struct svt_mmu *m, uint64_t gfn);
bool gfn_protected(const struct svt_mmu *m, uint64_t gfn);

/*
 * Deliberately broken cores, for the tests only (tests/broken-core.sh
 * shows replay catching each).  A build with SVT_BROKEN defined reads
 * which bug to have from svt_broken, which that build's main() sets:
 *   1: frames shadowed as L1 page tables are not write-protected;
 *   2: injected #PFs lose the U/S bit of their error code.
 * The real core has neither the variable nor the bugs.
 */
#ifdef SVT_BROKEN
extern unsigned svt_broken;
#define SVT_BUG(n) (svt_broken == (n))
#else
#define SVT_BUG(n) 0
#endif

/* Must writes to gfn fault?  Exactly when it is an in-sync page table. */
static inline bool gfn_wp(struct svt_mmu *m, uint64_t gfn)
{
	if (SVT_BUG(1) && sp_lookup(m, gfn, SH_L1, 0) != SP_NONE)
		return false;
	return gfn_protected(m, gfn);
}
uint64_t g_mfn(struct svt_mmu *m, uint64_t gfn);
void unshadow_gfn(struct svt_mmu *m, uint64_t gfn);
void wp_gfn(struct svt_mmu *m, uint64_t gfn, bool protect);
void mmu_event(struct svt_mmu *m, enum svt_event_kind k, uint64_t a, uint64_t b, uint64_t c);
int g_read_entry(struct svt_mmu *m, uint64_t gpa, unsigned size, uint64_t *val);
uint64_t g_table_entry(struct svt_mmu *m, const struct sh_page *p, unsigned idx, bool *ok);

/* mmu_fault.c */
uint64_t sh_leaf_from_guest(struct svt_mmu *m, uint64_t ge, uint64_t *gfn);
uint64_t sh_leaf_splinter(struct svt_mmu *m, uint64_t gfn, unsigned pkey);
uint64_t sh_nonleaf(struct svt_mmu *m, uint64_t ge, unsigned level, bool large, uint32_t child);
uint64_t g_frame_of(const struct svt_mmu *m, uint64_t ge, unsigned level);
bool g_entry_valid(struct svt_mmu *m, uint64_t ge, unsigned level, bool *large);
void oos_resync_all(struct svt_mmu *m);
void oos_resync_va(struct svt_mmu *m, uint64_t va);
void oos_resync_root(struct svt_mmu *m, uint32_t root);
void oos_resync_gfn(struct svt_mmu *m, uint64_t gfn);
void oos_drop(struct svt_mmu *m, uint64_t gfn);
int hw_walk(struct svt_mmu *m, const struct svt_access *acc, uint64_t rflags, uint32_t pkru,
	    struct svt_walk *w);

#endif
