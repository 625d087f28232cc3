/*
 * synth-pkeys.c — the "pkeys" workload (synth.h): a kernel and its
 * processes using protection keys (SDM Vol. 3A 4.6.2), 4level and 5level.
 *
 * The kernel sets CR4.PKE once; every round a process maps a few writable
 * pages (demand faults, written so that they are dirty), gives them keys
 * (leaves rewritten, each flushed with INVLPG, as pkey_mprotect does) and
 * makes reads and writes at CPL 3 and, with SMAP off or RFLAGS.AC set,
 * at CPL 0, under PKRU values it writes with WRPKRU (no exit: the CPU uses
 * the guest's PKRU as it is; every change is logged before the next
 * action, so regeneration knows PKRU at every access).  Most PKRU values
 * leave key 0 allowed and forbid other keys, so that a shadow leaf that
 * lost its key (key 0) lets through what bare metal refuses.  Also: a
 * key changed under a page the TLB holds, flushed with INVLPG, and the new
 * key checked; a fetch from user text whose key PKRU forbids (fetches are
 * not checked against PKRU); and a CR0.WP=0 window where a supervisor
 * write ignores PKRU.WD.  Every outcome is checked against bare metal: an
 * access that faults must fault with the error code bare metal gives (P,
 * W/R, U/S, PK) at CR2 the address; one bare metal allows must go through.
 */
#include <stdio.h>

#include "synth.h"

#define E_P             SVT_PTE_P
#define E_RW            SVT_PTE_RW
#define E_US            SVT_PTE_US
#define E_D             SVT_PTE_D
#define PKEY_SHIFT      59
#define PKEY_MASK       (0xfull << PKEY_SHIFT)
#define RFLAGS_AC       (1ull << 18)

/* code sites, for the trace: the kernel's and the process's */
#define SITE_PKEYS      0x1800
#define SITE_UPKEYS     0x402000

/* The CPU features synth runs the core with and writes in the header
 * (synth-work.c, synth-write.c).  Without SVT_FEAT_CR4_KNOWN every
 * optional CR4 bit, PKE included, counts as present (svt.h). */

static bool pke_offered(void)
{
	return (SYN_FEATURES & SVT_FEAT_CR4_KNOWN) == 0 || (SYN_FEATURES & SVT_CR4_PKE) != 0;
}

static unsigned key_of(uint64_t e)
{
	return (unsigned)((e & PKEY_MASK) >> PKEY_SHIFT);
}

/* WRPKRU */
static void wrpkru(struct syn *s, uint32_t v)
{
	s->pkru = v;
}

/* A PKRU value: usually key 0 allowed and the rest random (Linux's
 * default forbids every key but 0 to be read), sometimes anything. */
static uint32_t some_pkru(struct syn *s)
{
	uint32_t v = (uint32_t)syn_rand(s);
	switch (syn_below(s, 4)) {
	case 0:
		return v;
	case 1:
		return 0x55555554u;
	default:
		return v & ~3u;
	}
}

/* The error code bare metal gives a data access k at cpl to a present,
 * writable, dirty user page with leaf e under the guest's PKRU, CR0.WP,
 * SMAP and RFLAGS.AC; 0 if it goes through. */
static uint32_t expect(const struct syn *s, uint64_t e, enum svt_access_kind k, unsigned cpl)
{
	unsigned key = key_of(e);
	bool write = k == SVT_ACC_WRITE;
	bool ad = (s->pkru >> (2 * key)) & 1, wd = (s->pkru >> (2 * key + 1)) & 1;
	bool smap = cpl < 3 && (s->cr4 & SVT_CR4_SMAP) && !(s->rflags & RFLAGS_AC);
	bool pk = (s->cr4 & SVT_CR4_PKE) && (ad || (wd && write && (cpl == 3 ||
								   (s->cr0 & SVT_CR0_WP))));
	if (!smap && !pk)
		return 0;
	return SVT_PFEC_P | (write ? SVT_PFEC_W : 0) | (cpl == 3 ? SVT_PFEC_U : 0) |
	       (pk ? SVT_PFEC_PK : 0);
}

static const char *kind_name(enum svt_access_kind k)
{
	return k == SVT_ACC_WRITE ? "write" : k == SVT_ACC_FETCH ? "fetch" : "read";
}

/* One access whose outcome bare metal decides: want, the #PF error code
 * (0: it goes through). */
static void check(struct syn *s, uint64_t va, uint64_t e, enum svt_access_kind k, unsigned cpl,
		  uint32_t want, const char *what)
{
	uint32_t ec = 0;
	uint64_t cr2 = 0;
	int r = syn_access(s, va, k, cpl, 8, s->rounds, cpl == 3 ? SITE_UPKEYS :
			   syn_ktext(s, SITE_PKEYS), &ec, &cr2);
	if (r < 0 || (r == 0 && !want) || (r == 1 && ec == want && cr2 == va))
		return;
	char acc[160];
	snprintf(acc, sizeof(acc), "%s: a %s of %#llx at CPL %u (key %u, PKRU %#x)", what,
		 kind_name(k), (unsigned long long)va, cpl, key_of(e), s->pkru);
	if (r == 0)
		syn_fail(s, "%s went through; bare metal gives #PF %#x", acc, want);
	else if (!want)
		syn_fail(s, "%s took #PF %#x at %#llx; bare metal lets it through", acc, ec,
			 (unsigned long long)cr2);
	else
		syn_fail(s, "%s: #PF %#x at %#llx; bare metal gives #PF %#x at %#llx", acc, ec,
			 (unsigned long long)cr2, want, (unsigned long long)va);
}

/* A data access at cpl to page va (leaf at gpa pte), checked. */
static void probe(struct syn *s, uint64_t va, uint64_t pte, enum svt_access_kind k, unsigned cpl,
		  const char *what)
{
	uint64_t e = syn_read_entry(s, pte);
	if ((e & (E_P | E_RW | E_US | E_D)) != (E_P | E_RW | E_US | E_D))
		return;         /* not the page expect() knows */
	check(s, va + 8 * syn_below(s, 512), e, k, cpl, expect(s, e, k, cpl), what);
}

/* Give page va (leaf at gpa pte) key `key`; INVLPG. */
static bool set_key(struct syn *s, uint64_t va, uint64_t pte, unsigned key)
{
	uint64_t e = syn_read_entry(s, pte);
	if (!(e & E_P) || !syn_write_entry(s, pte, (e & ~PKEY_MASK) | (uint64_t)key << PKEY_SHIFT))
		return false;
	syn_invlpg(s, va);
	return !s->failed;
}

/* A process running, with PKRU allowing key 0 (the helpers' demand faults
 * and copy-on-write touch key-0 pages only) and a new writable mapping of
 * n pages, each written once (present and dirty); the mapping's index. */
static int setup(struct syn *s, int *pp, unsigned n)
{
	wrpkru(s, 0x55555554u);
	return syn_fresh_mapping(s, pp, n);
}

/* Keys and PKRU at random: reads and writes at CPL 3 and CPL 0. */
static void accesses(struct syn *s, const uint64_t *va, const uint64_t *pte, unsigned n)
{
	for (unsigned j = 0; j < n && !s->failed; j++)
		set_key(s, va[j], pte[j], (unsigned)syn_below(s, 16));
	bool smap = syn_below(s, 2);
	uint64_t cr4 = smap ? s->cr4 | SVT_CR4_SMAP : s->cr4 & ~SVT_CR4_SMAP;
	if (!s->failed && cr4 != s->cr4 && syn_cr(s, SVT_TRACE_CR4, cr4) != 0)
		return;
	for (unsigned t = 0; t < 3 * n && !s->failed; t++) {
		if (syn_below(s, 2))
			wrpkru(s, some_pkru(s));
		unsigned j = (unsigned)syn_below(s, n);
		unsigned cpl = syn_below(s, 3) ? 3 : 0;
		enum svt_access_kind k = syn_below(s, 2) ? SVT_ACC_WRITE : SVT_ACC_READ;
		if (cpl == 0 && smap)
			s->rflags |= RFLAGS_AC;         /* STAC */
		probe(s, va[j], pte[j], k, cpl, cpl == 3 ? "user access" : "kernel access to user");
		s->rflags &= ~RFLAGS_AC;                /* CLAC */
	}
}

/* A key changed under a page the TLB holds: read under the old key, the
 * leaf rewritten with a new one, INVLPG; PKRU allows one key and forbids
 * the other, and key 0 stays allowed (a shadow leaf that kept the old key
 * or lost its key would let the read through, or refuse it). */
static void rekey(struct syn *s, uint64_t va, uint64_t pte)
{
	unsigned a = (unsigned)syn_below(s, 16), b = 1 + (unsigned)syn_below(s, 15);
	if (a == b)
		a = 0;
	if (!set_key(s, va, pte, a))
		return;
	uint32_t pkru = (uint32_t)syn_rand(s) & ~(3u | 3u << (2 * a) | 3u << (2 * b));
	wrpkru(s, pkru | 1u << (2 * b));                /* b forbidden, a allowed */
	probe(s, va, pte, SVT_ACC_READ, 3, "a read under the old key");
	if (!set_key(s, va, pte, b))
		return;
	probe(s, va, pte, SVT_ACC_READ, 3, "a read after the key changed and INVLPG");
	probe(s, va, pte, SVT_ACC_WRITE, 3, "a write after the key changed and INVLPG");
	/* and back: a forbidden, b allowed */
	if (a) {
		wrpkru(s, pkru | 1u << (2 * a));
		if (set_key(s, va, pte, a))
			probe(s, va, pte, SVT_ACC_READ, 3, "a read after the key changed back");
	}
}

/* User text with a key PKRU forbids: fetches go through (PKRU is for
 * data accesses only), a read faults with PK. */
static void text(struct syn *s, int p)
{
	const struct syn_proc *pr = &s->proc[p];
	for (unsigned v = 0; v < pr->nvma && !s->failed; v++) {
		const struct syn_vma *m = &pr->vma[v];
		if (!m->x || m->w)
			continue;
		uint64_t va = m->va + syn_below(s, m->pages) * 4096;
		if (!syn_user(s, va, SVT_ACC_FETCH))
			return;
		uint64_t pte = syn_pte(s, pr->root, va, false);
		unsigned key = 1 + (unsigned)syn_below(s, 15);
		if (!pte || !set_key(s, va, pte, key))
			return;
		wrpkru(s, (3u << (2 * key)) | ((uint32_t)syn_rand(s) & ~3u));
		check(s, va, syn_read_entry(s, pte), SVT_ACC_FETCH, 3, 0,
		      "a fetch from user text whose key PKRU forbids");
		check(s, va, syn_read_entry(s, pte), SVT_ACC_READ, 3,
		      SVT_PFEC_P | SVT_PFEC_U | SVT_PFEC_PK,
		      "a read of user text whose key PKRU forbids");
		/* back to key 0: exec and fork reuse the text */
		set_key(s, va, pte, 0);
		return;
	}
}

/* CR0.WP=0: a supervisor write ignores PKRU.WD (not AD); WP=1 again. */
static void wp0(struct syn *s, const uint64_t *va, const uint64_t *pte, unsigned n)
{
	unsigned j = (unsigned)syn_below(s, n);
	unsigned key = 1 + (unsigned)syn_below(s, 15);
	if (!set_key(s, va[j], pte[j], key))
		return;
	if (s->cr4 & SVT_CR4_SMAP)
		s->rflags |= RFLAGS_AC;
	wrpkru(s, 2u << (2 * key));                     /* WD only */
	probe(s, va[j], pte[j], SVT_ACC_WRITE, 0, "with CR0.WP=1 a kernel write (PKRU.WD)");
	if (!s->failed && syn_cr(s, SVT_TRACE_CR0, s->cr0 & ~SVT_CR0_WP) == 0) {
		probe(s, va[j], pte[j], SVT_ACC_WRITE, 0, "with CR0.WP=0 a kernel write (PKRU.WD)");
		probe(s, va[j], pte[j], SVT_ACC_WRITE, 3, "with CR0.WP=0 a user write (PKRU.WD)");
		wrpkru(s, 1u << (2 * key));             /* AD */
		probe(s, va[j], pte[j], SVT_ACC_WRITE, 0, "with CR0.WP=0 a kernel write (PKRU.AD)");
		if (!s->failed)
			syn_cr(s, SVT_TRACE_CR0, s->cr0 | SVT_CR0_WP);
	}
	s->rflags &= ~RFLAGS_AC;
}

void syn_w_pkeys(struct syn *s)
{
	if (!(s->cr4 & SVT_CR4_PKE)) {
		if (!s->ia32e || !pke_offered()) {
			syn_fail(s, "protection keys need 4level or 5level paging and CR4.PKE");
			return;
		}
		if (syn_cr(s, SVT_TRACE_CR4, s->cr4 | SVT_CR4_PKE) != 0)
			return;
	}
	unsigned n = 4 + (unsigned)syn_below(s, 5);
	int p;
	int i = setup(s, &p, n);
	if (i < 0)
		return;
	uint64_t va[8], pte[8];
	const struct syn_vma *m = &s->proc[p].vma[i];
	for (unsigned j = 0; j < n; j++) {
		va[j] = m->va + j * 4096;
		pte[j] = syn_pte(s, s->proc[p].root, va[j], false);
		if (!pte[j])
			return (void)syn_fail(s, "page %#llx written, yet no page table maps it",
					      (unsigned long long)va[j]);
	}
	accesses(s, va, pte, n);
	switch (syn_below(s, 4)) {
	case 0: {
		unsigned j = (unsigned)syn_below(s, n);
		rekey(s, va[j], pte[j]);
		break;
	}
	case 1:
		text(s, p);
		break;
	case 2:
		wp0(s, va, pte, n);
		break;
	default:
		break;
	}
	wrpkru(s, 0x55555554u);
}
