/*
 * refmodel.h — an independent reference model of IA-32 / Intel 64 paging
 * (Intel SDM Vol. 3A, chapter 4).  The tests compare the core's walker
 * against it, and `shadowvt replay` checks every injected #PF with it
 * (INV-FAULT) and every shadow leaf it judges (INV-PERM, INV-FRAME: the
 * frame, the rights and the memory type).
 *
 * It shares no code and no types with src/: it must stay an independent
 * second opinion, so it never calls the core.  It is written for clarity, not
 * speed: every paging-structure entry format is a row of a table
 * (refmodel.c), and a translation is a loop over a per-mode list of levels.
 *
 * Architectural constants are spelled out again here (RM_*) on purpose.
 */
#ifndef REFMODEL_H
#define REFMODEL_H

#include <stdbool.h>
#include <stdint.h>

#define RM_CR0_PE       (1ull << 0)
#define RM_CR0_WP       (1ull << 16)
#define RM_CR0_PG       (1ull << 31)
#define RM_CR4_PSE      (1ull << 4)
#define RM_CR4_PAE      (1ull << 5)
#define RM_CR4_LA57     (1ull << 12)
#define RM_CR4_PCIDE    (1ull << 17)
#define RM_CR4_SMEP     (1ull << 20)
#define RM_CR4_SMAP     (1ull << 21)
#define RM_CR4_PKE      (1ull << 22)
#define RM_EFER_LME     (1ull << 8)
#define RM_EFER_LMA     (1ull << 10)
#define RM_EFER_NXE     (1ull << 11)
#define RM_RFLAGS_AC    (1ull << 18)

/* Entry bits the model names (same positions in 4- and 8-byte entries). */
#define RM_E_P          (1ull << 0)
#define RM_E_RW         (1ull << 1)
#define RM_E_US         (1ull << 2)
#define RM_E_A          (1ull << 5)
#define RM_E_D          (1ull << 6)
#define RM_E_PS         (1ull << 7)
#define RM_E_XD         (1ull << 63)
/* Memory type (SDM 4.9.2, 11.12.3): the PAT index is PAT:PCD:PWT, with the
 * PAT bit at bit 7 of a 4 KiB entry (PTE) and at bit 12 of an entry that
 * maps a larger page (where bit 7 is PS). */
#define RM_E_PWT        (1ull << 3)
#define RM_E_PCD        (1ull << 4)
#define RM_PAT_BIT_4K   7
#define RM_PAT_BIT_BIG  12

/* #PF error code bits (SDM 4.7). */
#define RM_PF_P         (1u << 0)
#define RM_PF_W         (1u << 1)
#define RM_PF_U         (1u << 2)
#define RM_PF_RSVD      (1u << 3)
#define RM_PF_I         (1u << 4)
#define RM_PF_PK        (1u << 5)

enum rm_paging {
	RM_PAGING_OFF,          /* CR0.PG = 0 */
	RM_PAGING_32,           /* 32-bit paging */
	RM_PAGING_PAE,          /* PAE paging */
	RM_PAGING_4L,           /* 4-level paging */
	RM_PAGING_5L,           /* 5-level paging */
	RM_PAGING_BAD,          /* IA-32e requested without CR4.PAE */
};

/* Processor state the model looks at. */
struct rm_cpu {
	uint64_t cr0, cr3, cr4, efer, rflags;
	uint32_t pkru;
	unsigned maxphyaddr;    /* MAXPHYADDR, 32..52 */
	bool gbpages;           /* 1-GByte pages supported */
	uint64_t pdptr[4];      /* PAE: the PDPTE registers */
};

enum rm_op { RM_OP_READ, RM_OP_WRITE, RM_OP_EXEC };

struct rm_req {
	uint64_t la;            /* linear address */
	enum rm_op op;
	unsigned cpl;           /* 0..3 */
	bool implicit_sv;       /* implicit supervisor-mode access */
};

/*
 * Reads `bytes` (4 or 8) little-endian bytes of guest-physical memory at pa
 * into *val.  Returns false if the memory cannot be read at all.
 */
typedef bool (*rm_load_fn)(void *ctx, uint64_t pa, unsigned bytes, uint64_t *val);

enum rm_kind {
	RM_OK,                  /* translated */
	RM_PF,                  /* page fault */
	RM_GP,                  /* #GP (non-canonical address, impossible mode) */
	RM_MEMERR,              /* the load callback failed */
};

/* One paging-structure entry the translation used. */
struct rm_ent {
	int level;              /* 5..1 (PML5E .. PTE) */
	unsigned bytes;         /* 4 or 8 */
	bool from_reg;          /* PAE PDPTE: taken from the PDPTE registers */
	bool leaf;              /* this entry maps the page */
	uint64_t table;         /* physical address of the table holding it */
	uint64_t pa;            /* physical address of the entry */
	uint64_t before;        /* value read */
	uint64_t after;         /* expected value once the access completes */
	bool w, u, x;           /* rights accumulated through this entry */
};

struct rm_out {
	enum rm_kind kind;
	enum rm_paging paging;
	uint32_t pfec;          /* RM_PF: error code */
	uint64_t cr2;           /* RM_PF: faulting linear address */
	uint64_t pa;            /* RM_OK: physical address */
	uint64_t page_bytes;    /* RM_OK with paging: 4K, 2M, 4M or 1G */
	bool w, u, x;           /* RM_OK with paging: rights of the translation */
	unsigned pkey;          /* RM_OK, IA-32e: protection key of the leaf */
	unsigned pat_index;     /* RM_OK: the leaf's PAT index (PAT:PCD:PWT, 0..7); 0 with
				   paging off, where the PAT is not used (SDM 11.12.3) */
	unsigned n;             /* entries read, top first (e[n..]: undefined) */
	struct rm_ent e[5];
};

enum rm_paging rm_paging_of(const struct rm_cpu *cpu);

/* The PAT index (PAT:PCD:PWT) an entry that maps a page selects, its PAT
 * bit at bit pat_bit (RM_PAT_BIT_4K or RM_PAT_BIT_BIG). */
unsigned rm_pat_index(uint64_t e, int pat_bit);
const char *rm_paging_name(enum rm_paging p);

/* Translate one access.  Never modifies memory: the A/D bits the access
 * would set are reported in e[].after. */
void rm_translate(const struct rm_cpu *cpu, const struct rm_req *req,
		  rm_load_fn load, void *ctx, struct rm_out *out);

/*
 * MOV to CR3 in PAE mode: read the four PDPTEs at CR3[31:5].  Returns 0 and
 * fills pdptr[] on success, -1 (pdptr[] untouched) if a present PDPTE has a
 * reserved bit set (#GP), -2 if the load callback failed.
 */
int rm_pae_load(const struct rm_cpu *cpu, rm_load_fn load, void *ctx,
		uint64_t pdptr[4]);

/*
 * The reserved bits of an entry at `level` of `paging`, with `big` = the
 * entry has PS=1 and maps a page there (2-level: needs CR4.PSE; IA-32e
 * level 3: needs 1-GByte pages).  For an IA-32e PML5E/PML4E, and a PDPTE
 * without 1-GByte page support, bit 7 (PS) is included.  A `big` request
 * at a level where no page can be mapped answers as for !big.
 */
uint64_t rm_rsvd_bits(const struct rm_cpu *cpu, enum rm_paging paging,
		      int level, bool big);

#endif /* REFMODEL_H */
