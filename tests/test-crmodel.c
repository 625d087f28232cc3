/*
 * test-crmodel.c — INV-CR and the prefetched-neighbour check of replay.
 * The control-register model (sim/replay/crmodel.c) on hand-worked write
 * sequences from the SDM, each with the #GP or the registers and paging
 * mode the SDM gives; then traces made here (the trace writer, in memory)
 * replayed through the real core: writes the core and the SDM agree on,
 * accepted or refused, replay clean; the writes where the core accepts what
 * the SDM refuses are INV-CR violations, one each; what the model does not
 * judge is not reported; and faults whose neighbours the core prefetches
 * (4 KiB entries with and without A and D, a splintered 2 MiB page) replay
 * clean with the neighbour check on.  Then the core alone against the
 * model: every one-bit change of CR0, CR4 and IA32_EFER from seven
 * register states, decided alike; the CR4 bits the CPU lacks; clearing
 * CR0.PG from 64-bit mode.  The core is built with SVT_BROKEN (the tests
 * choose svt_broken; 0 is the real core) so that INV-CR is shown to catch
 * the control-register bugs 72 and 73 (src/mmu_int.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crmodel.h"
#include "replay-mem.h"
#include "replay.h"
#include "trace-gen.h"
#include "trace.h"

#define CR0_PE  0x1ull
#define CR0_ET  0x10ull
#define CR0_WP  (1ull << 16)
#define CR0_NW  (1ull << 29)
#define CR0_CD  (1ull << 30)
#define CR0_PG  (1ull << 31)
#define CR4_PSE 0x10ull
#define CR4_PAE 0x20ull
#define CR4_PGE 0x80ull
#define CR4_OSFXSR 0x200ull
#define CR4_LA57 (1ull << 12)
#define CR4_VMXE (1ull << 13)
#define CR4_PCIDE (1ull << 17)
#define CR4_SMEP (1ull << 20)
#define CR4_CET (1ull << 23)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define CR4_SMAP (1ull << 21)
#define CR4_PKE (1ull << 22)

unsigned svt_broken;            /* the core's seeded bug (src/walk_int.h); 0: none */

/* ---- the model alone -------------------------------------------------------- */

/* Guest memory for the PDPTE loads: 64 KiB, little-endian words. */
static uint8_t ram[65536];

static bool load(void *ctx, uint64_t pa, unsigned bytes, uint64_t *val)
{
	(void)ctx;
	*val = 0;
	if (pa + bytes > sizeof(ram))
		return false;
	for (unsigned i = 0; i < bytes; i++)
		*val |= (uint64_t)ram[pa + i] << (8 * i);
	return true;
}

static void poke(uint64_t pa, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		ram[pa + i] = (uint8_t)(v >> (8 * i));
}

struct m {
	struct crm_regs r;
	unsigned maxphy;
	enum crm_code code;     /* the code the writes come from (unknown: 0) */
};

/* Write; on acceptance the registers move on. */
static enum crm_verdict wr(struct m *m, enum crm_reg reg, uint64_t val, struct crm_out *o)
{
	crm_write(&m->r, m->maxphy, reg, val, m->code, load, NULL, o);
	if (o->verdict == CRM_ACCEPT)
		m->r = o->next;
	return o->verdict;
}

static void accept(struct m *m, enum crm_reg reg, uint64_t val)
{
	struct crm_out o;
	cr_assert_eq(wr(m, reg, val, &o), CRM_ACCEPT, "%s <- %#llx: %s", crm_reg_name(reg),
		     (unsigned long long)val, o.rule ? o.rule : "");
}

static void refuse(struct m *m, enum crm_reg reg, uint64_t val, const char *rule)
{
	struct crm_out o;
	struct crm_regs before = m->r;
	cr_assert_eq(wr(m, reg, val, &o), CRM_GP, "%s <- %#llx: expected #GP (%s)",
		     crm_reg_name(reg), (unsigned long long)val, rule);
	cr_assert_not_null(strstr(o.rule, rule), "rule '%s', expected '%s'", o.rule, rule);
	cr_assert_eq(memcmp(&before, &m->r, sizeof(before)), 0, "a #GP changes nothing");
}

static void unjudged(struct m *m, enum crm_reg reg, uint64_t val)
{
	struct crm_out o;
	cr_assert_eq(wr(m, reg, val, &o), CRM_UNJUDGED, "%s <- %#llx", crm_reg_name(reg),
		     (unsigned long long)val);
	cr_assert_not_null(o.rule);
}

static struct m fresh(unsigned maxphy)
{
	struct m m = { .maxphy = maxphy };
	crm_reset(&m.r);
	memset(ram, 0, sizeof(ram));
	return m;
}

Test(crmodel, reset)
{
	struct m m = fresh(36);
	cr_assert_eq(m.r.cr0, 0x60000010);
	cr_assert_eq(m.r.cr3 | m.r.cr4 | m.r.efer, 0);
	cr_assert_eq(crm_paging(&m.r), RM_PAGING_OFF);
}

/* The optional CR4 features: where the trace says the processor lacks
 * one, setting it is #GP; the others, and those it has, are accepted. */
Test(crmodel, cr4_features_the_processor_lacks)
{
	struct m m = fresh(36);
	m.r.cr4_have = (1ull << 20) | (1ull << 18);             /* SMEP and OSXSAVE only */
	accept(&m, CRM_CR4, (1ull << 20) | (1ull << 18) | 0x7ff);
	refuse(&m, CRM_CR4, m.r.cr4 | (1ull << 21), "feature the processor does not have");
	refuse(&m, CRM_CR4, m.r.cr4 | (1ull << 22), "feature the processor does not have");
	refuse(&m, CRM_CR4, m.r.cr4 | (1ull << 12), "feature the processor does not have");
	m = fresh(36);
	accept(&m, CRM_CR4, (1ull << 21) | (1ull << 22) | (1ull << 12) | 0x7ff);   /* all present */
}

/* SDM Vol. 2B MOV to CR0: invalid combinations and reserved bits 63:32. */
Test(crmodel, cr0_combinations)
{
	struct m m = fresh(36);
	refuse(&m, CRM_CR0, CR0_PG | CR0_ET, "CR0.PG set with CR0.PE clear");
	refuse(&m, CRM_CR0, CR0_NW | CR0_PE, "CR0.NW set with CR0.CD clear");
	refuse(&m, CRM_CR0, (1ull << 32) | CR0_PE, "63:32");
	accept(&m, CRM_CR0, CR0_CD | CR0_NW | CR0_PE);          /* both: fine */
	accept(&m, CRM_CR0, CR0_PE | CR0_ET);
	accept(&m, CRM_CR0, CR0_PE | (1ull << 10));             /* a reserved bit of 31:0: no #GP */
	cr_assert_eq(crm_paging(&m.r), RM_PAGING_OFF);
}

/* 32-bit paging, then PAE paging by CR4.PAE with CR0.PG = 1 (SDM 4.1.2),
 * loading the PDPTEs (4.4.1); reserved PDPTE bits 2:1, 8:5, 63:M. */
Test(crmodel, pae_pdptes)
{
	struct m m = fresh(36);
	struct crm_out o;

	poke(0x1000, 0x2000 | 1);
	poke(0x1008, 0xdead0006);               /* not present: its bits are not checked */
	accept(&m, CRM_CR3, 0x1000);
	accept(&m, CRM_CR0, CR0_PG | CR0_PE | CR0_ET);
	cr_assert_eq(crm_paging(&m.r), RM_PAGING_32);
	cr_assert_eq(wr(&m, CRM_CR4, CR4_PAE, &o), CRM_ACCEPT);
	cr_assert(o.pdptes_loaded);
	cr_assert_eq(m.r.pdpte[0], 0x2001);
	cr_assert_eq(m.r.pdpte[1], 0xdead0006);
	cr_assert_eq(crm_paging(&m.r), RM_PAGING_PAE);

	/* MOV to CR3 in PAE paging loads them; a reserved bit in a present one is #GP */
	const uint64_t bad[] = { 1ull << 1, 1ull << 2, 1ull << 5, 1ull << 8, 1ull << 36,
				 1ull << 63 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		poke(0x5000 + 8 * (i % 4), 0x3000 | 1 | bad[i]);
		refuse(&m, CRM_CR3, 0x5000, "PDPTE");
		poke(0x5000 + 8 * (i % 4), 0);
	}
	poke(0x5018, 0x3000 | 1 | (1ull << 35));        /* below MAXPHYADDR: an address bit */
	cr_assert_eq(wr(&m, CRM_CR3, 0x5000, &o), CRM_ACCEPT);
	cr_assert_eq(m.r.pdpte[3], 0x3000 | 1 | (1ull << 35));
	cr_assert_eq(m.r.pdpte[0], 0);

	/* CR4 writes reload them when they change PAE, PGE, PSE or SMEP;
	 * CR0 writes when they change PG, CD or NW */
	poke(0x5000, 0x7000 | 1);
	cr_assert_eq(wr(&m, CRM_CR4, CR4_PAE | CR4_OSFXSR, &o), CRM_ACCEPT);
	cr_assert(!o.pdptes_loaded);
	cr_assert_eq(m.r.pdpte[0], 0, "not reloaded");
	cr_assert_eq(wr(&m, CRM_CR0, m.r.cr0 | CR0_WP, &o), CRM_ACCEPT);
	cr_assert(!o.pdptes_loaded);
	const uint64_t cr4s[] = { CR4_PAE | CR4_PGE, CR4_PAE | CR4_PGE | CR4_PSE,
				  CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP };
	for (size_t i = 0; i < 3; i++) {
		poke(0x5000, 0x7000 | 1 | (i << 12));
		cr_assert_eq(wr(&m, CRM_CR4, cr4s[i], &o), CRM_ACCEPT);
		cr_assert(o.pdptes_loaded);
		cr_assert_eq(m.r.pdpte[0], 0x7001 | (i << 12));
	}
	poke(0x5000, 0x7000 | 1 | 2);
	refuse(&m, CRM_CR4, CR4_PAE, "PDPTE");  /* clearing PGE, PSE, SMEP reloads: bad now */
	refuse(&m, CRM_CR0, m.r.cr0 | CR0_CD, "PDPTE");
	poke(0x5000, 0x9001);
	cr_assert_eq(wr(&m, CRM_CR0, m.r.cr0 | CR0_CD, &o), CRM_ACCEPT);
	cr_assert(o.pdptes_loaded);
	cr_assert_eq(m.r.pdpte[0], 0x9001);

	/* Outside IA-32e mode CR3 takes 32 bits */
	accept(&m, CRM_CR0, CR0_PE);
	accept(&m, CRM_CR3, (1ull << 40) | 0x5000);
	cr_assert_eq(m.r.cr3, 0x5000);
	/* turning PAE paging on from off loads them too */
	poke(0x5000, 0x9001 | 4);
	refuse(&m, CRM_CR0, CR0_PG | CR0_PE, "PDPTE");
	poke(0x5000, 0x9001);
	accept(&m, CRM_CR0, CR0_PG | CR0_PE);
	cr_assert_eq(crm_paging(&m.r), RM_PAGING_PAE);
}

/* IA-32e mode: entering it (SDM 9.8.5), and what it forbids (4.1.2). */
Test(crmodel, ia32e)
{
	struct m m = fresh(36);
	struct crm_out o;

	accept(&m, CRM_EFER, EFER_LME | EFER_NXE);
	refuse(&m, CRM_CR0, CR0_PG | CR0_PE, "CR4.PAE = 0");
	accept(&m, CRM_CR4, CR4_PAE);
	accept(&m, CRM_CR3, 0x1000);
	accept(&m, CRM_CR0, CR0_PG | CR0_WP | CR0_PE);
	cr_assert_eq(m.r.efer, EFER_LME | EFER_LMA | EFER_NXE, "LMA set");
	cr_assert_eq(crm_paging(&m.r), RM_PAGING_4L);
	refuse(&m, CRM_EFER, EFER_NXE, "IA32_EFER.LME changed while CR0.PG = 1");
	refuse(&m, CRM_CR4, 0, "CR4.PAE cleared in IA-32e mode");
	refuse(&m, CRM_CR4, CR4_PAE | CR4_LA57, "CR4.LA57 changed in IA-32e mode");
	accept(&m, CRM_EFER, EFER_LME);                 /* LMA written 0: read-only, kept */
	cr_assert_eq(m.r.efer, EFER_LME | EFER_LMA);
	/* CR3: bits 63:MAXPHYADDR reserved; 62:61 (LAM) depend on the CPU */
	refuse(&m, CRM_CR3, (1ull << 36) | 0x1000, "63:MAXPHYADDR");
	/* no PCIDs: bit 63 reserved */
	refuse(&m, CRM_CR3, (1ull << 63) | 0x1000, "63:MAXPHYADDR");
	unjudged(&m, CRM_CR3, (1ull << 61) | 0x1000);
	accept(&m, CRM_CR3, (1ull << 35) | 0x1fff);
	cr_assert_eq(m.r.cr3, (1ull << 35) | 0x1fff, "64 bits kept");
	/* 5-level paging is chosen before paging is turned on */
	accept(&m, CRM_CR3, 0x1000);
	unjudged(&m, CRM_CR0, CR0_PE);                  /* 64-bit or compatibility mode? */
	m.r.cr0 = CR0_PE;                               /* as from compatibility mode */
	m.r.efer &= ~EFER_LMA;
	accept(&m, CRM_CR4, CR4_PAE | CR4_LA57);
	cr_assert_eq(wr(&m, CRM_CR0, CR0_PG | CR0_PE, &o), CRM_ACCEPT);
	cr_assert_eq(crm_paging(&m.r), RM_PAGING_5L);
	cr_assert(!o.pdptes_loaded);
}

/* Clearing CR0.PG in IA-32e mode where the trace says the code's mode:
 * #GP from 64-bit mode, leaving IA-32e mode from compatibility mode. */
Test(crmodel, paging_off_mode_known)
{
	struct m m = fresh(36);
	accept(&m, CRM_EFER, EFER_LME);
	accept(&m, CRM_CR4, CR4_PAE);
	accept(&m, CRM_CR3, 0x1000);
	accept(&m, CRM_CR0, CR0_PG | CR0_PE);
	m.code = CRM_CODE_64;
	refuse(&m, CRM_CR0, CR0_PE, "CR0.PG cleared in 64-bit mode");
	accept(&m, CRM_CR0, CR0_PG | CR0_WP | CR0_PE);  /* other CR0 bits: fine */
	m.code = CRM_CODE_OTHER;
	accept(&m, CRM_CR0, CR0_PE);
	cr_assert_eq(m.r.efer, EFER_LME, "IA-32e mode left: LMA clear");
	cr_assert_eq(crm_paging(&m.r), RM_PAGING_OFF);
	/* outside IA-32e mode there is no 64-bit mode to refuse it */
	m.code = CRM_CODE_64;
	accept(&m, CRM_EFER, 0);
	accept(&m, CRM_CR4, 0);
	accept(&m, CRM_CR0, CR0_PG | CR0_PE);
	accept(&m, CRM_CR0, CR0_PE);
}

/* PCIDs (SDM 4.10.1, 4.10.4.1). */
Test(crmodel, pcide)
{
	struct m m = fresh(46);

	refuse(&m, CRM_CR4, CR4_PCIDE | CR4_PAE, "outside IA-32e mode");
	accept(&m, CRM_CR4, CR4_PAE);
	accept(&m, CRM_EFER, EFER_LME);
	accept(&m, CRM_CR3, 0x1008);                    /* PWT: bit 3 */
	accept(&m, CRM_CR0, CR0_PG | CR0_PE);
	refuse(&m, CRM_CR4, CR4_PCIDE | CR4_PAE, "CR3[11:0] != 0");
	accept(&m, CRM_CR3, 0x1000);
	accept(&m, CRM_CR4, CR4_PCIDE | CR4_PAE);
	accept(&m, CRM_CR3, (1ull << 63) | 0x2005);     /* no-flush: bit 63 not written */
	cr_assert_eq(m.r.cr3, 0x2005);
	accept(&m, CRM_CR4, CR4_PCIDE | CR4_PAE);       /* already set: CR3[11:0] does not matter */
	refuse(&m, CRM_CR0, CR0_PE, "CR0.PG cleared while CR4.PCIDE = 1");
	accept(&m, CRM_CR4, CR4_PAE);                   /* clearing PCIDE is always allowed */
	unjudged(&m, CRM_CR0, CR0_PE);
}

/* Reserved and CPU-dependent bits of CR4 and IA32_EFER; CET and CR0.WP. */
Test(crmodel, reserved_bits)
{
	struct m m = fresh(36);

	refuse(&m, CRM_CR4, 1ull << 15, "reserved CR4 bit");
	refuse(&m, CRM_CR4, 1ull << 26, "reserved CR4 bit");
	refuse(&m, CRM_CR4, 1ull << 40, "reserved CR4 bit");
	unjudged(&m, CRM_CR4, CR4_VMXE);
	unjudged(&m, CRM_CR4, 1ull << 32);              /* FRED */
	accept(&m, CRM_CR4, 0x1ff5fff & ~(CR4_PCIDE | CR4_CET | CR4_LA57));
	refuse(&m, CRM_EFER, 1ull << 1, "reserved IA32_EFER bit");
	refuse(&m, CRM_EFER, 1ull << 9, "reserved IA32_EFER bit");
	refuse(&m, CRM_EFER, 1ull << 32, "reserved IA32_EFER bit");
	unjudged(&m, CRM_EFER, 1ull << 14);             /* AMD's FFXSR */
	accept(&m, CRM_EFER, 1 | EFER_NXE);
	/* CET needs CR0.WP, and CR0.WP cannot be cleared under CET */
	accept(&m, CRM_CR4, 0);
	accept(&m, CRM_CR0, CR0_PE);
	refuse(&m, CRM_CR4, CR4_CET, "CR4.CET set while CR0.WP = 0");
	accept(&m, CRM_CR0, CR0_PE | CR0_WP);
	accept(&m, CRM_CR4, CR4_CET);
	refuse(&m, CRM_CR0, CR0_PE, "CR0.WP cleared while CR4.CET = 1");
	/* a write that breaks a rule and sets a CPU-dependent bit is #GP all the same */
	refuse(&m, CRM_CR4, CR4_VMXE | (1ull << 15), "reserved CR4 bit");
}

/* ---- traces through the real core ------------------------------------------- */

#define OK(x) cr_assert_eq((x), SVT_TRACE_OK)

/*
 * A trace of `script`: "m GPA VALUE" (a MEM record), "0|3|4|e VALUE" (a
 * write of CR0, CR3, CR4 or EFER), "x VALUE" (a write of CR0 from 64-bit
 * mode), "f VA ERRORCODE" (a fault), separated by ';', numbers in
 * hexadecimal.  MAXPHYADDR 36, prefetch 8; the header claims `evidence`.
 */
static uint32_t evidence, hdr_features;

static struct tg_buf make(const char *script)
{
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	struct svt_trace_writer *w = tg_open_guest_ev(&b, "control registers", 4096, 36, evidence,
						      hdr_features);
	cr_assert_not_null(w);
	for (const char *s = script; *s;) {
		while (*s == ' ' || *s == ';')
			s++;
		if (!*s)
			break;
		char c = *s++;
		uint64_t a = strtoull(s, (char **)&s, 16), v = 0;
		if (c == 'm' || c == 'f')
			v = strtoull(s, (char **)&s, 16);
		switch (c) {
		case 'm': OK(tg_put_mem64(w, a, v)); break;
		case 'f': OK(tg_put_fault(w, a, (uint32_t)v)); break;
		case '0': OK(tg_put_cr(w, SVT_TRACE_CR0, a)); break;
		case '3': OK(tg_put_cr(w, SVT_TRACE_CR3, a)); break;
		case '4': OK(tg_put_cr(w, SVT_TRACE_CR4, a)); break;
		case 'e': OK(tg_put_cr(w, SVT_TRACE_EFER, a)); break;
		case 'x': {
			struct svt_trace_event ev = { .type = SVT_TRACE_CR_WRITE };
			ev.u.cr.reg = SVT_TRACE_CR0;
			ev.u.cr.code64 = true;
			ev.u.cr.val = a;
			OK(svt_trace_write(w, &ev));
			break;
		}
		default: cr_assert_fail("bad script at '%s'", s - 1);
		}
	}
	cr_assert_eq(svt_trace_writer_close(w, &err), SVT_TRACE_OK, "%s", err.msg);
	return b;
}

/* Replay at `audit`; the printed report in *out (to free), the result in res. */
static char *replay(const char *script, enum svt_audit_level audit, struct svt_replay_result *res)
{
	struct tg_buf b = make(script);
	char *out = replay_mem(&b, audit, res);
	free(b.p);
	return out;
}

/* Every rule the core and the SDM agree on, accepted and refused: clean. */
Test(crmodel_replay, agreement_is_clean)
{
	const char *script =
		/* PG without PE, NW without CD, 63:32 */
		"0 80000010; 0 20000011; 0 100000011;"
		"m 1000 2001; 3 1000; 0 80000011;"              /* 32-bit paging */
		"4 20;"                                         /* PAE paging: PDPTEs loaded */
		"m 5000 3003; 3 5000;"                          /* a reserved PDPTE bit: #GP */
		"m 5000 1000003001; 3 5000;"                    /* bit 36 of 36: #GP */
		"m 5000 3001; 3 5000; 4 a0;"                    /* PGE: reloaded */
		"0 11; 4 20020;"                                /* PCIDE outside IA-32e: #GP */
		"e 900; 0 80010011;"                            /* IA-32e */
		"e 800; 4 0; 4 1020;"                           /* LME with PG, PAE, LA57: #GP */
		"3 1001; 4 20020;"                              /* PCIDE with CR3[11:0] != 0: #GP */
		"3 1000; 4 20020; 3 8000000000001005;"          /* PCIDs, a no-flush load */
		"3 1000001000;"                                 /* above MAXPHYADDR: #GP */
		/* reserved CR4 and EFER bits: #GP */
		"4 10000020020; 4 28020; e 902;"
		"4 320020; 3 1000;"                             /* SMEP, SMAP */
		"0 11;"                                         /* PG cleared under PCIDE: #GP */
		/* CET without WP: #GP, with */
		"4 320020; 0 80000011; 4 820020; 0 80010011; 4 820020;"
		"0 80000011;";                                  /* WP cleared under CET: #GP */
	struct svt_replay_result res;
	svt_broken = 0;
	char *out = replay(script, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CR"), 0, "%s", out);
	cr_assert_eq(res.violations, 0, "%s", out);
	cr_assert_eq(res.status, SVT_RUN_CLEAN, "%s", out);
	free(out);
}

/*
 * Cores that accept what the SDM refuses (the seeded bugs 72: CR0.PG
 * cleared while CR4.PCIDE = 1, SDM 4.10.1; 73: CR4.CET set while CR0.WP
 * = 0 and CR0.WP cleared while CR4.CET = 1, SDM 2.5), and the real core on
 * the same traces.  Each wrong acceptance is one INV-CR; after one the
 * model goes on from the core's registers, so what follows is judged
 * from there and is clean.
 */
Test(crmodel_replay, core_accepts_what_the_sdm_refuses)
{
	const char *pcid = "m 1000 2007; 4 20; e 100; 3 1000; 0 80010011; 4 20020;"
			   "0 11;"                              /* PG cleared under PCIDE */
			   /* on from the core's state: clean */
			   "4 20; 0 80010011; 4 20020;";
	struct svt_replay_result res;
	svt_broken = 72;
	char *out = replay(pcid, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CR"), 1, "%s", out);
	cr_assert_not_null(strstr(out,
				  "MOV of 0x11 to CR0: the core accepted it; the SDM raises #GP: "
				  "CR0.PG cleared while CR4.PCIDE = 1"), "%s", out);
	cr_assert_eq(res.violations, 1);
	cr_assert_eq(res.status, SVT_RUN_VIOLATIONS);
	free(out);

	/* at audit level none nothing is judged */
	out = replay(pcid, SVT_AUDIT_NONE, &res);
	cr_assert_eq(tg_count(out, "INV-CR"), 0, "%s", out);
	cr_assert_eq(res.violations, 0);
	free(out);

	const char *cet = "0 11; 4 800000;"                    /* CET with WP clear */
			  "0 10011; 4 800000; 0 11;";           /* WP cleared under CET */
	svt_broken = 73;
	out = replay(cet, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CR"), 2, "%s", out);
	cr_assert_not_null(strstr(out, "CR4.CET set while CR0.WP = 0"), "%s", out);
	cr_assert_not_null(strstr(out, "CR0.WP cleared while CR4.CET = 1"), "%s", out);
	free(out);

	/* the real core refuses all three: clean */
	svt_broken = 0;
	out = replay(pcid, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CR"), 0, "%s", out);
	cr_assert_eq(res.status, SVT_RUN_CLEAN, "%s", out);
	free(out);
	out = replay(cet, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CR"), 0, "%s", out);
	cr_assert_eq(res.status, SVT_RUN_CLEAN, "%s", out);
	free(out);
}

/*
 * A trace that says the mode of each CR write (EVIDENCE `mode`): clearing
 * CR0.PG from 64-bit mode is judged.  The real core refuses it (the model
 * agrees: clean); a core with seeded bug 75 accepts it: INV-CR.  From
 * compatibility mode both accept, and leave IA-32e mode.
 */
Test(crmodel_replay, paging_off_from_64_bit_mode)
{
	const char *script = "m 1000 2007; 4 20; e 100; 3 1000; 0 80010011;"
			     "x 10011;"                 /* from 64-bit mode: #GP */
			     "0 10011;"                 /* from compatibility mode: off */
			     "0 80010011; x 80000011;"; /* on again; WP cleared: fine */
	struct svt_replay_result res;
	evidence = SVT_EVIDENCE_MODE;
	svt_broken = 0;
	char *out = replay(script, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CR"), 0, "%s", out);
	cr_assert_eq(res.status, SVT_RUN_CLEAN, "%s", out);
	free(out);
	svt_broken = 75;
	out = replay(script, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CR"), 1, "%s", out);
	cr_assert_not_null(strstr(out,
				  "MOV of 0x10011 to CR0: the core accepted it; the SDM raises "
				  "#GP: CR0.PG cleared in 64-bit mode"), "%s", out);
	free(out);
	/* the same bug, paging turned off from compatibility mode: right */
	out = replay("m 1000 2007; 4 20; e 100; 3 1000; 0 80010011; 0 10011;", SVT_AUDIT_FAULTS,
		     &res);
	cr_assert_eq(tg_count(out, "INV-CR"), 0, "%s", out);
	cr_assert_eq(res.status, SVT_RUN_CLEAN, "%s", out);
	free(out);
	evidence = 0;
	svt_broken = 0;
}

/*
 * A trace whose header says which optional CR4 features the CPU has (here
 * SMEP alone): setting a bit of one it lacks is #GP.  The real core agrees;
 * a core that ignores the CPU's features (seeded bug 76) accepts CR4.PKE
 * and CR4.SMAP and is INV-CR twice; without the header's word the same
 * trace is clean, every feature counting as present.
 */
Test(crmodel_replay, cr4_features_the_cpu_lacks)
{
	const char *script = "4 100020;"            /* SMEP: the CPU has it */
			     "4 500020;"            /* PKE: it does not */
			     "4 300020;";           /* SMAP: nor that */
	struct svt_replay_result res;
	hdr_features = SVT_FEAT_CR4_KNOWN | SVT_CR4_SMEP;
	svt_broken = 0;
	char *out = replay(script, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CR"), 0, "%s", out);
	cr_assert_eq(res.status, SVT_RUN_CLEAN, "%s", out);
	free(out);
	svt_broken = 76;
	out = replay(script, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CR"), 2, "%s", out);
	cr_assert_not_null(strstr(out,
				  "MOV of 0x500020 to CR4: the core accepted it; the SDM raises "
				  "#GP"), "%s", out);
	free(out);
	hdr_features = 0;
	out = replay(script, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CR"), 0, "%s", out);
	free(out);
	svt_broken = 0;
}

/* What the trace cannot settle is not judged, and the model then goes on
 * from the core's registers. */
Test(crmodel_replay, unjudged_writes_are_not_reported)
{
	const char *script =
		"m 1000 2007; 4 20; e 100; 3 1000; 0 80010011;"
		"0 10011;"                                      /* PG cleared in IA-32e: CS.L? */
		"4 2020; 4 20;"                                 /* VMXE (the core refuses) */
		"e 4100; e 4900;"                               /* AMD's FFXSR (the core accepts) */
		"3 1000; 0 80010011; 3 6000000000001000;";      /* LAM bits (the core refuses) */
	struct svt_replay_result res;
	char *out = replay(script, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CR"), 0, "%s", out);
	cr_assert_eq(res.violations, 0, "%s", out);
	free(out);
}

/*
 * A fixed fault's neighbours the core prefetched are checked against the
 * reference walker (4-level, prefetch 8: four entries on each side).  PT
 * entries: [0] the faulting page, [1] accessed and dirty, [2] accessed,
 * clean, read-only, [3] present but not accessed (never prefetched), [4]
 * a user page, [5] the page table itself (write-protected), [6] absent;
 * then a 2 MiB page, splintered, whose neighbours map consecutive frames.
 * A correct core replays clean.
 */
Test(crmodel_replay, prefetched_neighbours_clean)
{
	const char *script =
		"m 1000 2007; m 2000 3007; m 3010 4007;"        /* PD[2]: 0x400000 */
		"m 4000 9067; m 4008 a067; m 4010 b025; m 4018 c007; m 4020 d067; m 4028 4063;"
		"m 3018 e000e7;"                                /* PD[3]: 2 MiB at 0xe00000 */
		"4 20; e 900; 3 1000; 0 80010011;"
		"f 400000 4; f 401000 6; f 402000 4; f 403000 4; f 404000 4;"
		"f 602000 0; f 605000 2;"
		"f 400000 6;";
	struct svt_replay_result res;
	char *out = replay(script, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(res.violations, 0, "%s", out);
	cr_assert_eq(res.counters.prefetched > 0, true, "the core prefetched");
	free(out);
}

/* ---- the core alone against the model ---------------------------------------- */

/* Guest RAM for the core: ram[] above (16 frames, 1:1); its shadow pool. */
#define POOL 32
static uint8_t pool[POOL][4096] __attribute__((aligned(4096)));

static int c_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	(void)ctx;
	if (gpa + len > sizeof(ram))
		return -1;
	memcpy(buf, ram + gpa, len);
	return 0;
}

static int c_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	(void)ctx;
	if (gpa + len > sizeof(ram))
		return -1;
	memcpy(ram + gpa, buf, len);
	return 0;
}

static svt_mfn_t c_g2m(void *ctx, svt_gfn_t g)
{
	(void)ctx;
	return svt_gfn_x(g) < sizeof(ram) / 4096 ? svt_mfn(svt_gfn_x(g)) : SVT_INVALID_MFN;
}

static void *c_map(void *ctx, svt_mfn_t f)
{
	(void)ctx;
	uint64_t i = svt_mfn_x(f) - 0x1000;
	return i < POOL ? pool[i] : NULL;
}

static void c_flush(void *ctx, int kind, uint64_t va)
{
	(void)ctx, (void)kind, (void)va;
}

static const struct svt_env cenv = {
	.read_gpa = c_read, .write_gpa = c_write, .gfn_to_mfn = c_g2m, .map_mfn = c_map,
	.flush_tlb = c_flush,
};

/* A core as after reset, with the features given. */
static struct svt_mmu *core(uint32_t features, void **store)
{
	struct svt_mmu_config cfg = {
		.pool_frames = POOL, .guest_frames = sizeof(ram) / 4096, .maxphyaddr = 36,
		.features = features, .policy = { .emulate = true },
	};
	svt_mfn_t mfns[POOL];
	for (unsigned i = 0; i < POOL; i++)
		mfns[i] = svt_mfn(0x1000 + i);
	size_t sz = svt_mmu_storage_size(&cfg);
	*store = aligned_alloc(8, (sz + 7) & ~(size_t)7);
	cr_assert_not_null(*store);
	struct svt_mmu *m = svt_mmu_init(*store, sz, &cfg, &cenv, mfns);
	cr_assert_not_null(m);
	return m;
}

static int core_write(struct svt_mmu *m, enum crm_reg reg, uint64_t val)
{
	switch (reg) {
	case CRM_CR0: return svt_mmu_write_cr0(m, val);
	case CRM_CR3: return svt_mmu_write_cr3(m, val);
	case CRM_CR4: return svt_mmu_write_cr4(m, val);
	case CRM_EFER: return svt_mmu_write_efer(m, val);
	}
	return 1;
}

static int mode_of(enum rm_paging p)
{
	switch (p) {
	case RM_PAGING_OFF: return SVT_MODE_NONE;
	case RM_PAGING_32: return SVT_MODE_2LEVEL;
	case RM_PAGING_PAE: return SVT_MODE_PAE;
	case RM_PAGING_4L: return SVT_MODE_4LEVEL;
	case RM_PAGING_5L: return SVT_MODE_5LEVEL;
	case RM_PAGING_BAD: break;
	}
	return SVT_MODE_INVALID;
}

struct crw {
	enum crm_reg reg;
	uint64_t val;
};

/* Register states to start from, each reached by writes both sides accept. */
static const struct crw states[][6] = {
	{ { CRM_CR0, CR0_PE | CR0_ET } },                                       /* protected mode */
	{ { CRM_CR3, 0x1000 },
	  { CRM_CR0, CR0_PG | CR0_WP | CR0_PE | CR0_ET } },                     /* 32-bit paging */
	{ { CRM_CR4, CR4_PAE }, { CRM_CR3, 0x2000 },
	  { CRM_CR0, CR0_PG | CR0_PE | CR0_ET } },                              /* PAE paging */
	{ { CRM_EFER, EFER_LME | EFER_NXE }, { CRM_CR4, CR4_PAE }, { CRM_CR3, 0x1000 },
	  { CRM_CR0, CR0_PG | CR0_WP | CR0_PE | CR0_ET } },                     /* 4-level */
	{ { CRM_EFER, EFER_LME }, { CRM_CR4, CR4_PAE }, { CRM_CR3, 0x1000 },
	  { CRM_CR0, CR0_PG | CR0_PE | CR0_ET }, { CRM_CR4, CR4_PAE | CR4_PCIDE } }, /* PCIDs */
	{ { CRM_EFER, EFER_LME }, { CRM_CR4, CR4_PAE }, { CRM_CR3, 0x1000 },
	  { CRM_CR0, CR0_PG | CR0_WP | CR0_PE | CR0_ET },
	  { CRM_CR4, CR4_PAE | CR4_CET | CR4_SMEP } },                          /* CET */
	{ { CRM_CR0, CR0_WP | CR0_PE | CR0_ET },
	  { CRM_CR4, CR4_CET | CR4_PSE } },                                     /* CET, no paging */
};

static void start(struct m *md, struct svt_mmu **c, void **store, unsigned s)
{
	*md = fresh(36);
	poke(0x2000, 0x3001);                   /* a PAE PDPTE */
	*c = core(SVT_FEAT_1GPAGE, store);
	for (unsigned i = 0; i < 6 && states[s][i].val; i++) {
		accept(md, states[s][i].reg, states[s][i].val);
		cr_assert_eq(core_write(*c, states[s][i].reg, states[s][i].val), 0,
			     "state %u write %u", s, i);
	}
}

/*
 * Every one-bit change of CR0 (bits 32:0), CR4 (32:0 and 40) and IA32_EFER
 * (15:0 and 32) from each state: the core raises #GP exactly where the
 * model does, and where both accept, the registers and paging mode agree.
 */
Test(crmodel_core, one_bit_changes_agree)
{
	unsigned judged = 0, gps = 0, accepts = 0;
	svt_broken = 0;
	for (unsigned s = 0; s < sizeof(states) / sizeof(states[0]); s++) {
		for (unsigned k = 0; k < 3 * 42; k++) {
			enum crm_reg reg = k < 42 ? CRM_CR0 : k < 84 ? CRM_CR4 : CRM_EFER;
			unsigned bit = k % 42;
			if (bit > 32 && !(reg == CRM_CR4 && bit == 40))
				continue;
			if (reg == CRM_EFER && bit > 15 && bit != 32)
				continue;
			struct m md;
			struct svt_mmu *c;
			void *store;
			start(&md, &c, &store, s);
			uint64_t cur = reg == CRM_CR0 ? md.r.cr0 : reg == CRM_CR4 ?
				md.r.cr4 : md.r.efer;
			uint64_t val = cur ^ (1ull << bit);
			struct crm_out o;
			crm_write(&md.r, md.maxphy, reg, val, CRM_CODE_UNKNOWN, load, NULL, &o);
			int rc = core_write(c, reg, val);
			const struct svt_regs *g = svt_mmu_guest_regs(c);
			if (o.verdict == CRM_GP) {
				cr_assert_eq(rc, SVT_E_GP,
					     "state %u: %s <- %#llx: the SDM raises #GP (%s), "
					     "the core accepts", s, crm_reg_name(reg),
					     (unsigned long long)val, o.rule);
				gps++;
			} else if (o.verdict == CRM_ACCEPT) {
				cr_assert_eq(rc, 0, "state %u: %s <- %#llx: the core raises #GP", s,
					     crm_reg_name(reg), (unsigned long long)val);
				cr_assert_eq(g->cr0 & CRM_CR0_JUDGED, o.next.cr0 & CRM_CR0_JUDGED);
				cr_assert_eq(g->cr4, o.next.cr4);
				cr_assert_eq(g->efer, o.next.efer);
				cr_assert_eq(g->cr3, o.next.cr3);
				cr_assert_eq(svt_paging_mode(g), mode_of(crm_paging(&o.next)),
					     "state %u: %s <- %#llx", s, crm_reg_name(reg),
					     (unsigned long long)val);
				cr_assert(g->cr0 & CR0_ET, "CR0.ET reads 1");
				accepts++;
			}
			judged += o.verdict != CRM_UNJUDGED;
			free(store);
		}
	}
	/* the sweep judged what it is meant to, both ways */
	cr_assert_geq(judged, 520, "%u", judged);
	cr_assert_geq(gps, 140, "%u", gps);
	cr_assert_geq(accepts, 370, "%u", accepts);
}

/* The CR4 bits the CPU lacks raise #GP; without SVT_FEAT_CR4_KNOWN every
 * bit the core implements counts as present (old traces). */
Test(crmodel_core, cr4_features_of_the_cpu)
{
	void *store;
	svt_broken = 0;
	struct svt_mmu *c = core(SVT_FEAT_1GPAGE | SVT_FEAT_CR4_KNOWN | SVT_CR4_SMEP, &store);
	cr_assert_eq(svt_mmu_write_cr4(c, SVT_CR4_SMEP | CR4_PSE | 0x7ff), 0, "bits 10:0 and SMEP");
	cr_assert_eq(svt_mmu_write_cr4(c, SVT_CR4_SMEP | CR4_SMAP), SVT_E_GP, "no SMAP");
	cr_assert_eq(svt_mmu_write_cr4(c, CR4_PKE), SVT_E_GP, "no PKU");
	cr_assert_eq(svt_mmu_write_cr4(c, SVT_CR4_OSXSAVE), SVT_E_GP, "no XSAVE");
	cr_assert_eq(svt_mmu_write_cr4(c, CR4_LA57), SVT_E_GP, "no LA57");
	cr_assert_eq(svt_mmu_guest_regs(c)->cr4, SVT_CR4_SMEP | CR4_PSE | 0x7ff, "unchanged");
	free(store);
	c = core(SVT_FEAT_1GPAGE | SVT_FEAT_CR4_KNOWN | SVT_FEAT_CR4_OPTIONAL, &store);
	cr_assert_eq(svt_mmu_write_cr4(c, CR4_PKE | CR4_SMAP | SVT_CR4_OSXSAVE), 0);
	cr_assert_eq(svt_mmu_write_cr4(c, 1ull << 13), SVT_E_GP, "VMXE is never offered");
	cr_assert_eq(svt_mmu_write_cr4(c, 1ull << 15), SVT_E_GP, "bit 15 is reserved");
	free(store);
	c = core(SVT_FEAT_1GPAGE, &store);
	cr_assert_eq(svt_mmu_write_cr4(c, CR4_PKE | CR4_SMAP | SVT_CR4_OSXSAVE), 0, "old traces");
	cr_assert_eq(svt_mmu_write_cr4(c, 1ull << 25), SVT_E_GP);
	free(store);
}

/* Clearing CR0.PG in IA-32e mode: #GP from 64-bit mode, allowed from
 * compatibility mode (SDM Vol. 2B MOV); the mode comes from the caller. */
Test(crmodel_core, paging_off_from_64_bit_mode)
{
	void *store;
	svt_broken = 0;
	memset(ram, 0, sizeof(ram));
	struct svt_mmu *c = core(SVT_FEAT_1GPAGE, &store);
	cr_assert_eq(svt_mmu_write_efer(c, EFER_LME), 0);
	cr_assert_eq(svt_mmu_write_cr4(c, CR4_PAE), 0);
	cr_assert_eq(svt_mmu_write_cr3(c, 0x1000), 0);
	cr_assert_eq(svt_mmu_write_cr0_mode(c, CR0_PG | CR0_PE, true), 0, "turning paging on");
	cr_assert_eq(svt_mmu_write_cr0_mode(c, CR0_PE, true), SVT_E_GP, "64-bit mode");
	cr_assert_eq(svt_paging_mode(svt_mmu_guest_regs(c)), SVT_MODE_4LEVEL);
	cr_assert_eq(svt_mmu_write_cr0_mode(c, CR0_PE, false), 0, "compatibility mode");
	cr_assert_eq(svt_mmu_guest_regs(c)->efer, EFER_LME, "IA-32e mode left");
	cr_assert_eq(svt_mmu_guest_regs(c)->cr0, CR0_PE | CR0_ET, "ET reads 1");
	/* outside IA-32e mode, 64-bit mode cannot be: no #GP */
	cr_assert_eq(svt_mmu_write_efer(c, 0), 0);
	cr_assert_eq(svt_mmu_write_cr4(c, 0), 0);
	cr_assert_eq(svt_mmu_write_cr0_mode(c, CR0_PG | CR0_PE, false), 0);
	cr_assert_eq(svt_mmu_write_cr0_mode(c, CR0_PE, true), 0);
	free(store);
}
