/*
 * mmu-cr.c — control-register writes, INVLPG, INVPCID and the hypervisor's
 * flush, on both sides.  The bare-metal twin's rules are written here from
 * the SDM (Vol. 2: MOV to CR0/CR3/CR4, WRMSR to IA32_EFER, INVPCID; Vol. 3
 * 4.4.1: when MOV to CR0/CR4/CR3 loads the PAE PDPTEs), independently of
 * the core; the core's answer (0 or SVT_E_GP) must agree, and on #GP the
 * twin's registers stay as they were.
 */
#include <string.h>

#include "mmu-harness.h"
#include "refmodel.h"

/* ---- control registers, from the SDM (Vol. 2 MOV CR, WRMSR; Vol. 3 4.4.1) ---- */

#define CR0_CD (1ull << 30)
#define CR0_NW (1ull << 29)
#define CR4_KNOWN (SVT_CR4_PSE | SVT_CR4_PAE | SVT_CR4_PGE | SVT_CR4_LA57 | SVT_CR4_PCIDE | \
		   SVT_CR4_SMEP | SVT_CR4_SMAP | SVT_CR4_PKE)

static bool twin_load(void *ctx, uint64_t pa, unsigned bytes, uint64_t *val)
{
	*val = mh_twin_read(ctx, pa, bytes);
	return true;
}

/* Load the PDPTEs for the registers in *a; false = #GP. */
static bool or_load_pdptes(struct mh_machine *m, struct mh_arch *a)
{
	struct rm_cpu c = { .cr0 = a->cr0, .cr3 = a->cr3, .cr4 = a->cr4, .efer = a->efer,
			    .maxphyaddr = m->maxphyaddr, .gbpages = m->gbpages };
	return rm_pae_load(&c, twin_load, m, a->pdpte) == 0;
}

static bool pae_after(const struct mh_arch *a)
{
	return (a->cr0 & SVT_CR0_PG) && (a->cr4 & SVT_CR4_PAE) && !(a->efer & SVT_EFER_LMA);
}

/* The bare-metal write; false = #GP (then *n is meaningless). */
static bool or_cr(struct mh_machine *m, int which, uint64_t val, struct mh_arch *n)
{
	const struct mh_arch *o = &m->arch;
	bool lma = (o->efer & SVT_EFER_LMA) != 0;

	*n = *o;
	switch (which) {
	case 0:
		if (val >> 32)
			return false;
		if ((val & SVT_CR0_PG) && !(val & SVT_CR0_PE))
			return false;
		if ((val & CR0_NW) && !(val & CR0_CD))
			return false;
		n->cr0 = val;
		if ((val & SVT_CR0_PG) && !(o->cr0 & SVT_CR0_PG) && (o->efer & SVT_EFER_LME)) {
			if (!(o->cr4 & SVT_CR4_PAE))
				return false;
			n->efer |= SVT_EFER_LMA;
		}
		if (!(val & SVT_CR0_PG))
			n->efer &= ~SVT_EFER_LMA;
		if (pae_after(n) && ((val ^ o->cr0) & (SVT_CR0_PG | CR0_CD | CR0_NW)))
			return or_load_pdptes(m, n);
		return true;
	case 4:
		if (val & ~CR4_KNOWN)
			return false;
		if (lma && !(val & SVT_CR4_PAE))
			return false;
		if (lma && ((val ^ o->cr4) & SVT_CR4_LA57))
			return false;
		if ((val & SVT_CR4_PCIDE) && !(o->cr4 & SVT_CR4_PCIDE) &&
		    (!lma || (o->cr3 & 0xfff)))
			return false;
		n->cr4 = val;
		if (pae_after(n) &&
		    ((val ^ o->cr4) & (SVT_CR4_PAE | SVT_CR4_PGE | SVT_CR4_PSE | SVT_CR4_SMEP)))
			return or_load_pdptes(m, n);
		return true;
	case 3:
		if (lma) {
			if (o->cr4 & SVT_CR4_PCIDE)
				val &= ~(1ull << 63);
			if (val >> m->maxphyaddr)
				return false;
		}
		n->cr3 = val;
		if (pae_after(n))
			return or_load_pdptes(m, n);
		return true;
	case 8:
		if (val & ~(SVT_EFER_LME | SVT_EFER_NXE | SVT_EFER_LMA))
			return false;
		if (((val ^ o->efer) & SVT_EFER_LME) && (o->cr0 & SVT_CR0_PG))
			return false;
		n->efer = (val & (SVT_EFER_LME | SVT_EFER_NXE)) | (o->efer & SVT_EFER_LMA);
		return true;
	}
	return false;
}

int mh_cr(struct mh_machine *m, int which, uint64_t val)
{
	struct mh_arch n;
	bool ok = or_cr(m, which, val, &n);
	int r;

	mh_vm_exit(m);
	switch (which) {
	case 0: r = svt_mmu_write_cr0(m->mmu, val); break;
	case 3: r = svt_mmu_write_cr3(m->mmu, val); break;
	case 4: r = svt_mmu_write_cr4(m->mmu, val); break;
	default: r = svt_mmu_write_efer(m->mmu, val); break;
	}
	mh_vm_entry(m);
	mh_log(m, "  %s <- %#llx: core %s, SDM %s", which == 8 ? "EFER" : which == 0 ? "CR0" :
	       which == 3 ? "CR3" : "CR4", (unsigned long long)val,
	       r == 0 ? "ok" : r == SVT_E_GP ? "#GP" : "?", ok ? "ok" : "#GP");
	if (m->failed)
		return -1;
	if ((r != 0 && r != SVT_E_GP) || (r == 0) != ok)
		return mh_fail(m, "write of %#llx to %s: core returns %d, the SDM says %s",
			       (unsigned long long)val, which == 8 ? "EFER" : which == 0 ? "CR0" :
			       which == 3 ? "CR3" : "CR4", r, ok ? "no fault" : "#GP"), -1;
	if (ok)
		m->arch = n;
	if (!mh_check_regs(m))
		return -1;
	return ok ? 0 : SVT_E_GP;
}

bool mh_invlpg(struct mh_machine *m, uint64_t va)
{
	mh_vm_exit(m);
	svt_mmu_invlpg(m->mmu, va);
	mh_vm_entry(m);
	mh_log(m, "  INVLPG %#llx", (unsigned long long)va);
	return !m->failed;
}

static bool canonical(uint64_t va, unsigned width)
{
	int64_t s = (int64_t)(va << (64 - width)) >> (64 - width);
	return (uint64_t)s == va;
}

int mh_invpcid(struct mh_machine *m, unsigned type, uint64_t pcid, uint64_t va)
{
	bool gp = type > 3 || pcid > 0xfff ||
		  (type == 0 && !canonical(va, (m->arch.cr4 & SVT_CR4_LA57) ? 57 : 48)) ||
		  (type <= 1 && !(m->arch.cr4 & SVT_CR4_PCIDE) && pcid != 0);
	mh_vm_exit(m);
	int r = svt_mmu_invpcid(m->mmu, type, pcid, va);
	mh_vm_entry(m);
	mh_log(m, "  INVPCID type %u pcid %#llx va %#llx: core %d, SDM %s", type,
	       (unsigned long long)pcid, (unsigned long long)va, r, gp ? "#GP" : "ok");
	if (m->failed)
		return -1;
	if ((r != 0 && r != SVT_E_GP) || (r == SVT_E_GP) != gp)
		return mh_fail(m,
			       "INVPCID type %u pcid %#llx va %#llx: core returns %d, the "
			       "SDM says %s", type, (unsigned long long)pcid,
			       (unsigned long long)va, r, gp ? "#GP" : "no fault"), -1;
	return r;
}

bool mh_flush_all(struct mh_machine *m)
{
	mh_vm_exit(m);
	svt_mmu_flush_all(m->mmu);
	mh_vm_entry(m);
	mh_log(m, "  hypervisor flush of all shadows");
	return !m->failed;
}
