/*
 * crmodel.c — the MOV-to-CR and WRMSR-to-EFER rules of the Intel SDM, as an
 * independent second opinion on the shadow MMU's control-register
 * decisions (crmodel.h).  Every rule is one test below with the SDM
 * passage it comes from; the #GP rules come first, then the cases the
 * model does not judge, then the state the write reaches (IA32_EFER.LMA,
 * the PDPTE registers).  It shares no code with src/.
 */
#include <string.h>

#include "crmodel.h"

#define CR0_PE  (1ull << 0)
#define CR0_WP  (1ull << 16)
#define CR0_NW  (1ull << 29)
#define CR0_CD  (1ull << 30)
#define CR0_PG  (1ull << 31)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_PGE (1ull << 7)
#define CR4_LA57 (1ull << 12)
#define CR4_PCIDE (1ull << 17)
#define CR4_SMEP (1ull << 20)
#define CR4_CET (1ull << 23)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define CR3_NOFLUSH (1ull << 63)

void crm_reset(struct crm_regs *r)
{
	memset(r, 0, sizeof(*r));
	r->cr0 = CRM_CR0_RESET;
	r->cr4_have = CRM_CR4_OPTIONAL;
}

const char *crm_reg_name(enum crm_reg reg)
{
	switch (reg) {
	case CRM_CR0: return "CR0";
	case CRM_CR3: return "CR3";
	case CRM_CR4: return "CR4";
	case CRM_EFER: return "EFER";
	}
	return "?";
}

static struct rm_cpu cpu_of(const struct crm_regs *r, unsigned maxphyaddr)
{
	struct rm_cpu c;
	memset(&c, 0, sizeof(c));
	c.cr0 = r->cr0;
	c.cr3 = r->cr3;
	c.cr4 = r->cr4;
	c.efer = r->efer;
	c.maxphyaddr = maxphyaddr;
	memcpy(c.pdptr, r->pdpte, sizeof(c.pdptr));
	return c;
}

enum rm_paging crm_paging(const struct crm_regs *r)
{
	struct rm_cpu c = cpu_of(r, 52);
	return rm_paging_of(&c);
}

/* SDM 4.1.1: PAE paging is in use when CR0.PG = 1, CR4.PAE = 1 and
 * IA32_EFER.LME = 0 (LMA is then 0 too). */
static bool pae_paging(const struct crm_regs *r)
{
	return (r->cr0 & CR0_PG) && (r->cr4 & CR4_PAE) && !(r->efer & (EFER_LME | EFER_LMA));
}

/* Bits maxphyaddr..63 (the address bits a processor does not have). */
static uint64_t above(unsigned maxphyaddr)
{
	return maxphyaddr >= 64 ? 0 : ~0ull << maxphyaddr;
}

static void gp(struct crm_out *out, const char *rule)
{
	out->verdict = CRM_GP;
	out->rule = rule;
}

static void unjudged(struct crm_out *out, const char *why)
{
	out->verdict = CRM_UNJUDGED;
	out->rule = why;
}

/* MOV to CR0 (SDM Vol. 2B MOV; Vol. 3A 2.5, 4.1.2, 4.10.1, 9.8.5). */
static void write_cr0(const struct crm_regs *cur, uint64_t val, enum crm_code code,
		      struct crm_out *out)
{
	uint64_t old = cur->cr0;
	bool lma = (cur->efer & EFER_LMA) != 0;

	if (val >> 32) {
		gp(out, "CR0 bits 63:32 are reserved (SDM Vol. 3A 2.5)");
		return;
	}
	if ((val & CR0_PG) && !(val & CR0_PE)) {
		gp(out, "CR0.PG set with CR0.PE clear");
		return;
	}
	if ((val & CR0_NW) && !(val & CR0_CD)) {
		gp(out, "CR0.NW set with CR0.CD clear");
		return;
	}
	if ((val & CR0_PG) && !(old & CR0_PG) && (cur->efer & EFER_LME) && !(cur->cr4 & CR4_PAE)) {
		gp(out,
		   "paging enabled with IA32_EFER.LME = 1 and CR4.PAE = 0 (SDM Vol. 3A 4.1.2)");
		return;
	}
	if (!(val & CR0_PG) && (old & CR0_PG) && (cur->cr4 & CR4_PCIDE)) {
		gp(out, "CR0.PG cleared while CR4.PCIDE = 1 (SDM Vol. 3A 4.10.1)");
		return;
	}
	if (!(val & CR0_WP) && (cur->cr4 & CR4_CET)) {
		gp(out, "CR0.WP cleared while CR4.CET = 1 (SDM Vol. 3A 2.5)");
		return;
	}
	if (!(val & CR0_PG) && (old & CR0_PG) && lma && code == CRM_CODE_64) {
		gp(out, "CR0.PG cleared in 64-bit mode (SDM Vol. 2B MOV)");
		return;
	}
	if (!(val & CR0_PG) && (old & CR0_PG) && lma && code == CRM_CODE_UNKNOWN) {
		unjudged(out, "CR0.PG cleared in IA-32e mode: #GP in 64-bit mode, allowed in "
			 "compatibility mode, and the trace does not say which (CS.L)");
		return;
	}
	out->next.cr0 = val;
	/* SDM 9.8.5: setting PG with LME = 1 activates IA-32e mode; clearing
	 * PG leaves it */
	if ((val & CR0_PG) && !(old & CR0_PG) && (cur->efer & EFER_LME))
		out->next.efer |= EFER_LMA;
	if (!(val & CR0_PG))
		out->next.efer &= ~EFER_LMA;
	/* SDM 4.4.1: the PDPTEs are loaded when PAE paging is in use after
	 * the write and it changes CD, NW or PG */
	out->pdptes_loaded = pae_paging(&out->next) && ((old ^ val) & (CR0_CD | CR0_NW | CR0_PG));
}

/* MOV to CR3 (SDM Vol. 2B MOV; Vol. 3A 4.5, 4.10.4.1). */
static void write_cr3(const struct crm_regs *cur, unsigned maxphyaddr, uint64_t val,
		      struct crm_out *out)
{
	bool lma = (cur->efer & EFER_LMA) != 0;

	if (lma) {
		/* With CR4.PCIDE = 1, bit 63 asks for no flush and is not
		 * written: it is reserved and always 0 in CR3.  Otherwise it
		 * is one of the reserved bits 63:MAXPHYADDR. */
		if (cur->cr4 & CR4_PCIDE)
			val &= ~CR3_NOFLUSH;
		uint64_t rsvd = val & above(maxphyaddr);
		if (rsvd & ~CRM_CR3_MAYBE) {
			gp(out, "CR3 bits 63:MAXPHYADDR are reserved in IA-32e mode");
			return;
		}
		if (rsvd) {
			unjudged(out, "CR3 bits 62:61 (LAM) set: reserved unless the processor "
				 "has LAM, which the trace does not say");
			return;
		}
	} else {
		/* Outside IA-32e mode the operand is 32 bits. */
		val &= 0xffffffffull;
	}
	out->next.cr3 = val;
	/* SDM 4.4.1: every MOV to CR3 while PAE paging is in use loads them */
	out->pdptes_loaded = pae_paging(&out->next);
}

/* MOV to CR4 (SDM Vol. 2B MOV; Vol. 3A 2.5, 4.1.1, 4.1.2, 4.10.1). */
static void write_cr4(const struct crm_regs *cur, uint64_t val, struct crm_out *out)
{
	uint64_t old = cur->cr4;
	bool lma = (cur->efer & EFER_LMA) != 0;

	if (val & ~(CRM_CR4_FEATURES | CRM_CR4_MAYBE)) {
		gp(out, "a reserved CR4 bit set (SDM Vol. 3A 2.5)");
		return;
	}
	if (val & CRM_CR4_OPTIONAL & ~cur->cr4_have) {
		gp(out,
		   "a CR4 bit set for a feature the processor does not have (SDM Vol. 3A 2.5)");
		return;
	}
	if (lma && !(val & CR4_PAE)) {
		gp(out, "CR4.PAE cleared in IA-32e mode (SDM Vol. 3A 4.1.2)");
		return;
	}
	if (lma && ((old ^ val) & CR4_LA57)) {
		gp(out, "CR4.LA57 changed in IA-32e mode (SDM Vol. 3A 4.1.1)");
		return;
	}
	if ((val & CR4_PCIDE) && !(old & CR4_PCIDE)) {
		if (!lma) {
			gp(out, "CR4.PCIDE set outside IA-32e mode (SDM Vol. 3A 4.10.1)");
			return;
		}
		if (cur->cr3 & 0xfff) {
			gp(out, "CR4.PCIDE set with CR3[11:0] != 0 (SDM Vol. 3A 4.10.1)");
			return;
		}
	}
	if ((val & CR4_CET) && !(cur->cr0 & CR0_WP)) {
		gp(out, "CR4.CET set while CR0.WP = 0 (SDM Vol. 3A 2.5)");
		return;
	}
	if (val & CRM_CR4_MAYBE) {
		unjudged(out, "a CR4 bit only some processors have (VMXE, UINTR, LASS, "
			 "LAM_SUP, FRED): the trace does not say whether this one does");
		return;
	}
	out->next.cr4 = val;
	/* SDM 4.4.1: loaded when PAE paging is in use after the write and it
	 * changes PAE, PGE, PSE or SMEP */
	out->pdptes_loaded = pae_paging(&out->next) &&
			     ((old ^ val) & (CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP));
}

/* WRMSR to IA32_EFER (SDM Vol. 2B WRMSR; Vol. 3A 2.2.1, 4.1.2; Vol. 4
 * Table 2-2).  LMA is read-only: a write leaves it as it is (Bochs and KVM
 * read the SDM so too). */
static void write_efer(const struct crm_regs *cur, uint64_t val, struct crm_out *out)
{
	if (val & ~(CRM_EFER_DEFINED | CRM_EFER_MAYBE)) {
		gp(out, "a reserved IA32_EFER bit set");
		return;
	}
	if ((cur->cr0 & CR0_PG) && ((val ^ cur->efer) & EFER_LME)) {
		gp(out, "IA32_EFER.LME changed while CR0.PG = 1 (SDM Vol. 3A 4.1.2)");
		return;
	}
	if (val & CRM_EFER_MAYBE) {
		unjudged(out, "an IA32_EFER bit only other vendors' processors define: the "
			 "trace does not say which processor this is");
		return;
	}
	out->next.efer = (val & ~EFER_LMA) | (cur->efer & EFER_LMA);
}

void crm_write(const struct crm_regs *cur, unsigned maxphyaddr, enum crm_reg reg, uint64_t val,
	       enum crm_code code, rm_load_fn load, void *ctx, struct crm_out *out)
{
	out->verdict = CRM_ACCEPT;
	out->rule = NULL;
	out->pdptes_loaded = false;
	out->next = *cur;
	switch (reg) {
	case CRM_CR0:
		write_cr0(cur, val, code, out);
		break;
	case CRM_CR3:
		write_cr3(cur, maxphyaddr, val, out);
		break;
	case CRM_CR4:
		write_cr4(cur, val, out);
		break;
	case CRM_EFER:
		write_efer(cur, val, out);
		break;
	}
	if (out->verdict != CRM_ACCEPT || !out->pdptes_loaded)
		return;
	/* SDM 4.4.1: a present PDPTE with a reserved bit set (2:1, 8:5,
	 * 63:MAXPHYADDR) makes the write #GP, and nothing is loaded */
	struct rm_cpu c = cpu_of(&out->next, maxphyaddr);
	int rc = rm_pae_load(&c, load, ctx, out->next.pdpte);
	if (rc == -1)
		gp(out, "a present PAE PDPTE has a reserved bit set (SDM Vol. 3A 4.4.1)");
	else if (rc != 0)
		unjudged(out, "the PDPTEs cannot be read");
}
