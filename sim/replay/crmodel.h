/*
 * crmodel.h — an independent model of the control-register writes a
 * shadow MMU must judge: MOV to CR0, CR3 and CR4 and WRMSR to IA32_EFER,
 * written from the Intel SDM (Vol. 2B, "MOV—Move to/from Control
 * Registers" and its #GP conditions; Vol. 3A 2.2.1 and 2.5, the control
 * registers and IA32_EFER; 4.1.1 and 4.1.2, paging modes and their
 * transitions; 4.4.1, the PDPTE loads; 4.10.1, PCIDs; 9.8.5, entering and
 * leaving IA-32e mode).  `shadowvt replay` judges every CR_WRITE with it
 * (INV-CR): whether the write raises #GP, and the registers and paging
 * mode it reaches.
 *
 * Like refmodel.h it shares no code and no types with src/ and never calls
 * the core: a decision must not be judged by the code that made it.  It
 * uses refmodel.c (the same independent model) for the PDPTE load of PAE
 * paging and for the paging mode.
 *
 * Where the answer depends on what a trace does not hold, the model does
 * not judge (CRM_UNJUDGED, with the reason): clearing CR0.PG in IA-32e
 * mode (#GP in 64-bit mode, legal in compatibility mode) where the trace
 * does not say which (CS.L: EVIDENCE bit `mode`), and setting a CR4, CR3
 * or EFER bit that exists only on some processors whose presence the
 * trace does not record (CPUID).  The CR4 features the model takes as
 * present are CRM_CR4_FEATURES, less the optional ones the trace says the
 * processor lacks (crm_regs.cr4_have).
 */
#ifndef CRMODEL_H
#define CRMODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "refmodel.h"

/* The registers, numbered as the trace's CR_WRITE numbers them. */
enum crm_reg { CRM_CR0 = 0, CRM_CR3 = 1, CRM_CR4 = 2, CRM_EFER = 3 };

/* CR0 after reset (SDM Vol. 3A 9.1.1, Table 9-1): CD, NW, ET. */
#define CRM_CR0_RESET   0x60000010ull

/*
 * The CR0 bits the model compares: PE MP EM TS NE WP AM NW CD PG.  ET
 * (bit 4) is hard-wired to 1 on P6 and later processors and the other
 * bits of 31:0 are reserved; what they read back as after a write is the
 * implementation's (writing them raises nothing), and paging does not
 * depend on them, so they are not judged.
 */
#define CRM_CR0_JUDGED  0xe005002full

/*
 * CR4 features the model takes the processor to have (the trace records
 * no CPUID; these are the ones the shadow MMU implements): VME PVI TSD DE
 * PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT UMIP LA57 (12:0), SMXE (14),
 * FSGSBASE PCIDE OSXSAVE KL SMEP SMAP PKE CET PKS (24:16).
 */
#define CRM_CR4_FEATURES 0x1ff5fffull
/* CR4 bits defined for some processors only, whose presence the trace
 * does not say: VMXE (13), UINTR (25), LASS (27), LAM_SUP (28), FRED (32).
 * Every other bit is reserved on every processor. */
#define CRM_CR4_MAYBE   ((1ull << 13) | (1ull << 25) | (1ull << 27) | (1ull << 28) | (1ull << 32))

/* IA32_EFER bits Intel defines: SCE (0), LME (8), LMA (10), NXE (11). */
#define CRM_EFER_DEFINED 0xd01ull
/* Bits defined by other vendors' processors only (AMD: SVME, LMSLE,
 * FFXSR, TCE, MCOMMIT, INTWB, UAIE, AIBRSE); reserved on Intel's. */
#define CRM_EFER_MAYBE  0x36f000ull

/* CR3 bits 62:61 (LAM_U57, LAM_U48) exist only with LAM. */
#define CRM_CR3_MAYBE   (3ull << 61)

/* The CR4 bits for features some processors lack (CPUID says which):
 * UMIP (11, CPUID.7.0:ECX[2]), LA57 (12, 7.0:ECX[16]), SMXE (14, 1:ECX[6]),
 * FSGSBASE (16, 7.0:EBX[0]), PCIDE (17, 1:ECX[17]), OSXSAVE (18,
 * 1:ECX[26]), KL (19, 7.0:ECX[23]), SMEP (20, 7.0:EBX[7]), SMAP (21,
 * 7.0:EBX[20]), PKE (22, 7.0:ECX[3]), CET (23, 7.0:ECX[7]), PKS (24,
 * 7.0:ECX[31]).  Setting one the processor lacks is #GP. */
#define CRM_CR4_OPTIONAL 0x1ff5800ull

struct crm_regs {
	uint64_t cr0, cr3, cr4, efer;
	uint64_t pdpte[4];      /* PAE: the PDPTE registers as last loaded */
	/* the optional CR4 features the processor has (CRM_CR4_OPTIONAL
	 * bits; crm_reset: all of them, where the trace does not say) */
	uint64_t cr4_have;
};

enum crm_verdict {
	CRM_ACCEPT,             /* the write completes: next holds the registers after it */
	CRM_GP,                 /* #GP(0): no register changes */
	CRM_UNJUDGED,           /* the answer depends on what the trace does not hold */
};

struct crm_out {
	enum crm_verdict verdict;
	const char *rule;       /* CRM_GP: the rule the write breaks; CRM_UNJUDGED: why
				 * not judged; CRM_ACCEPT: NULL */
	bool pdptes_loaded;     /* CRM_ACCEPT: the write loaded the PDPTE registers */
	struct crm_regs next;   /* CRM_ACCEPT: the registers after the write */
};

/* The registers after reset: CR0 = 0x60000010, CR3 = CR4 = EFER = 0;
 * every optional CR4 feature present (set cr4_have after it where the
 * trace says which the processor has). */
void crm_reset(struct crm_regs *r);

/* Which code the write came from: the trace says (SVT_EVIDENCE_MODE) or not. */
enum crm_code { CRM_CODE_UNKNOWN, CRM_CODE_OTHER, CRM_CODE_64 };

/*
 * Judge a write of val to reg from code `code`, the registers being *cur
 * and the guest's MAXPHYADDR maxphyaddr (32..52).  Guest-physical memory is read through
 * load (refmodel.h) only for the four PDPTEs of a write that makes or
 * keeps PAE paging active and must load them.
 */
void crm_write(const struct crm_regs *cur, unsigned maxphyaddr, enum crm_reg reg, uint64_t val,
	       enum crm_code code, rm_load_fn load, void *ctx, struct crm_out *out);

/* The paging mode the registers select (refmodel.c's rm_paging_of). */
enum rm_paging crm_paging(const struct crm_regs *r);

/* "CR0", "CR3", "CR4", "EFER". */
const char *crm_reg_name(enum crm_reg reg);

#endif /* CRMODEL_H */
