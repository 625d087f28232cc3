/*
 * walk_int.h — internals shared by the walker's per-mode instances.
 *
 * The walker is one template (walk_tmpl.h) compiled once per guest paging
 * mode, Xen-style: walk_l2.c, walk_l3.c, walk_l4.c and walk_l5.c each define
 * GUEST_LEVELS and include the template, which emits svt_walk_l<N>() and
 * svt_rsvd_mask_l<N>().  walk.c picks the mode and dispatches.
 */
#ifndef SVT_WALK_INT_H
#define SVT_WALK_INT_H

#include "svt.h"

/*
 * Deliberately broken cores, for the tests only (the list of bugs is in
 * mmu_int.h; `make mutants` runs them all).  A build with SVT_BROKEN
 * defined reads which bug to have from svt_broken, which that build's
 * main() sets; in the real core SVT_BUG(n) is the constant 0 and every
 * seeded bug compiles away.
 *
 * SVT_WALK_CORE marks the core's own calls of svt_walk() (its walks of the
 * guest's tables, and its model of the hardware's walk of the shadows), so
 * that a seeded walker bug (SVT_WBUG) changes what the core decides and not
 * what the modelled hardware that shares svt_walk() does (synth, replay);
 * in the real core it is 0 and those calls pass the flags they always did.
 */
#ifdef SVT_BROKEN
extern unsigned svt_broken;
#define SVT_BUG(n) (svt_broken == (n))
#define SVT_WALK_CORE (1u << 31)
#else
#define SVT_BUG(n) 0
#define SVT_WALK_CORE 0u
#endif
#define SVT_WBUG(n, flags) (SVT_BUG(n) && ((flags) & SVT_WALK_CORE))

/* Bits hi..lo inclusive; empty (0) when hi < lo. */
static inline uint64_t svt_bits(unsigned hi, unsigned lo)
{
	if (hi < lo || lo > 63)
		return 0;
	uint64_t top = hi >= 63 ? ~0ull : ((1ull << (hi + 1)) - 1);
	return top & ~((1ull << lo) - 1);
}

/* Guest memory is little-endian whatever the host is. */
static inline uint64_t svt_le_load(const uint8_t *p, unsigned size)
{
	/* Fixed sizes first: compilers turn these into one load. */
	if (size == 8)
		return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
		       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
		       (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
	if (size == 4)
		return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
		       (uint64_t)p[3] << 24;
	uint64_t v = 0;
	for (unsigned i = size; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

static inline void svt_le_store(uint8_t *p, uint64_t v, unsigned size)
{
	/* Fixed sizes written out: compilers merge these into one store
	 * (a loop they merge only when they happen to unroll it). */
	if (size == 8) {
		p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16);
		p[3] = (uint8_t)(v >> 24), p[4] = (uint8_t)(v >> 32), p[5] = (uint8_t)(v >> 40);
		p[6] = (uint8_t)(v >> 48), p[7] = (uint8_t)(v >> 56);
		return;
	}
	if (size == 4) {
		p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16);
		p[3] = (uint8_t)(v >> 24);
		return;
	}
	for (unsigned i = 0; i < size; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/*
 * The protection key of an IA-32e leaf: bits 62:59 (SDM Vol. 3A 4.6.2).
 * Invariants: the key lies in bits 62:52, which IA-32e entries ignore and
 * no frame number reaches (MAXPHYADDR is at most 52), below XD; its 16
 * values each have two bits of the 32-bit PKRU.
 */
#define SVT_PTE_PKEY_SHIFT 59
#define SVT_PTE_PKEY (0xfull << SVT_PTE_PKEY_SHIFT)
_Static_assert((SVT_PTE_PKEY & ((1ull << 52) - 1)) == 0, "the key lies above every frame bit");
_Static_assert((SVT_PTE_PKEY & SVT_PTE_XD) == 0, "the key lies below XD");
_Static_assert(2 * ((SVT_PTE_PKEY >> SVT_PTE_PKEY_SHIFT) + 1) == 8 * sizeof(uint32_t),
	       "PKRU has two bits per key");

static inline unsigned svt_pte_pkey(uint64_t e)
{
	return (unsigned)((e & SVT_PTE_PKEY) >> SVT_PTE_PKEY_SHIFT);
}

/* Error-code bits that describe the access itself (W/R, U/S, I/D). */
uint32_t svt_access_pfec(const struct svt_regs *r, const struct svt_access *acc);

/*
 * The access check of SDM Vol. 3A 4.6, from the accumulated rights of a
 * complete walk.  Returns the error-code bits of a protection fault
 * (SVT_PFEC_P and the access bits, plus SVT_PFEC_PK when a protection key
 * forbids the access), or 0 when the access is allowed.  Inline: every
 * successful walk ends here, and the call cost as much as the check.
 */
static inline uint32_t svt_check_rights(const struct svt_regs *r, const struct svt_access *acc,
					unsigned rights, bool ia32e, unsigned pkey)
{
	bool user = acc->cpl == 3 && !acc->implicit;
	bool uaddr = (rights & SVT_RIGHT_U) != 0;
	bool writable = (rights & SVT_RIGHT_W) != 0;
	bool wp = (r->cr0 & SVT_CR0_WP) != 0;
	bool deny = false, pk = false;

	switch (acc->kind) {
	case SVT_ACC_FETCH:
		if (!(rights & SVT_RIGHT_X))
			deny = true;
		else if (user)
			deny = !uaddr;
		else
			deny = uaddr && (r->cr4 & SVT_CR4_SMEP);
		break;
	case SVT_ACC_READ:
	case SVT_ACC_WRITE: {
		bool write = acc->kind == SVT_ACC_WRITE;
		if (user) {
			deny = !uaddr || (write && !writable);
		} else {
			bool smap_blocks = (r->cr4 & SVT_CR4_SMAP) &&
				(acc->implicit || !(r->rflags & SVT_RFLAGS_AC));
			deny = (uaddr && smap_blocks) || (write && wp && !writable);
		}
		/* Protection keys: data accesses to user-mode addresses (4.6.2). */
		if (ia32e && uaddr && (r->cr4 & SVT_CR4_PKE)) {
			bool ad = (r->pkru >> (2 * pkey)) & 1;
			bool wd = (r->pkru >> (2 * pkey + 1)) & 1;
			pk = ad || (wd && write && (user || wp));
		}
		break;
	}
	}
	if (!deny && !pk)
		return 0;
	return svt_access_pfec(r, acc) | SVT_PFEC_P | (pk ? SVT_PFEC_PK : 0);
}

/* svt_walk() for a caller that knows the mode: svt_paging_mode(r), which
 * the core keeps in its vCPU state (every fault walks: no need to work it
 * out again). */
enum svt_walk_status svt_walk_mode(const struct svt_env *env, const struct svt_regs *r,
				   enum svt_mode mode, const struct svt_access *acc, unsigned flags,
				   struct svt_walk *w);

enum svt_walk_status svt_walk_l2(const struct svt_env *, const struct svt_regs *,
				 const struct svt_access *, unsigned, struct svt_walk *);
enum svt_walk_status svt_walk_l3(const struct svt_env *, const struct svt_regs *,
				 const struct svt_access *, unsigned, struct svt_walk *);
enum svt_walk_status svt_walk_l4(const struct svt_env *, const struct svt_regs *,
				 const struct svt_access *, unsigned, struct svt_walk *);
enum svt_walk_status svt_walk_l5(const struct svt_env *, const struct svt_regs *,
				 const struct svt_access *, unsigned, struct svt_walk *);
uint64_t svt_rsvd_mask_l2(const struct svt_regs *, unsigned, bool);
uint64_t svt_rsvd_mask_l3(const struct svt_regs *, unsigned, bool);
uint64_t svt_rsvd_mask_l4(const struct svt_regs *, unsigned, bool);
uint64_t svt_rsvd_mask_l5(const struct svt_regs *, unsigned, bool);

#endif
