/*
 * test-cpucheck.c — INV-CPU (sim/replay/replay-cpu.c): what a hypervisor
 * showed its guest outside paging, from the CPU records of traces made
 * here as the hypervisor makes them (EVIDENCE `cpu`): the CPUID bits that
 * mirror CR4 and the CR4 features CPUID enumerates, RF in the RFLAGS an
 * injected fault pushes, and the exception a decision asks for being the
 * one delivered.  Each rule once kept (clean) and once broken (reported,
 * with the sentence a user reads); a trace without the evidence, or a
 * replay below audit level `faults`, judges nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay-mem.h"
#include "replay.h"
#include "trace-gen.h"
#include "trace.h"

#define OK(x) cr_assert_eq((x), SVT_TRACE_OK)
#define RF (1ull << 16)

/* What a trace holds after paging is on (4-level, empty PML4 at 0x1000). */
struct step {
	char kind;              /* 'c' CPUID, 'i' inject, 'f' fault + its decision, '4' CR4 write
				 * + its decision, 'n' INVLPG */
	uint32_t leaf, sub, out[4];
	unsigned vector;
	bool has_ec;
	uint32_t ec;
	uint64_t cr2, rflags, va, val;
	int rc;                 /* '4': the decision's rc */
};

static struct tg_buf make(const struct step *s, size_t n, uint32_t evidence, uint32_t features)
{
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	struct svt_trace_writer *w = tg_open_guest_ev(&b, "a hypervisor's guest", 1024, 46,
						      evidence, features);
	cr_assert_not_null(w);
	OK(tg_put_mem64(w, 0x1000, 0));
	OK(tg_put_paging_4level(w, 0x1000));
	for (size_t i = 0; i < n; i++) {
		struct svt_trace_event ev;
		memset(&ev, 0, sizeof(ev));
		switch (s[i].kind) {
		case 'c':
			ev.type = SVT_TRACE_CPU;
			ev.u.cpu.kind = SVT_CPU_CPUID;
			ev.u.cpu.leaf = s[i].leaf;
			ev.u.cpu.subleaf = s[i].sub;
			memcpy(ev.u.cpu.out, s[i].out, sizeof(ev.u.cpu.out));
			OK(svt_trace_write(w, &ev));
			break;
		case 'i':
			ev.type = SVT_TRACE_CPU;
			ev.u.cpu.kind = SVT_CPU_INJECT;
			ev.u.cpu.vector = (uint8_t)s[i].vector;
			ev.u.cpu.has_ec = s[i].has_ec;
			ev.u.cpu.error_code = s[i].ec;
			ev.u.cpu.cr2 = s[i].cr2;
			ev.u.cpu.rflags = s[i].rflags;
			OK(svt_trace_write(w, &ev));
			break;
		case 'f':       /* a supervisor read of an unmapped address: the core injects */
			OK(tg_put_fault(w, s[i].va, 0));
			ev.type = SVT_TRACE_DECISION;
			ev.u.decision.input = SVT_TRACE_FAULT;
			ev.u.decision.outcome = SVT_PF_INJECT;
			ev.u.decision.error_code = 0;
			ev.u.decision.cr2 = s[i].va;
			OK(svt_trace_write(w, &ev));
			break;
		case '4':
			OK(tg_put_cr(w, SVT_TRACE_CR4, s[i].val));
			ev.type = SVT_TRACE_DECISION;
			ev.u.decision.input = SVT_TRACE_CR_WRITE;
			ev.u.decision.rc = s[i].rc;
			OK(svt_trace_write(w, &ev));
			break;
		case 'n':
			OK(tg_put_invlpg(w, s[i].va));
			break;
		default:
			cr_assert_fail("bad step %c", s[i].kind);
		}
	}
	cr_assert_eq(svt_trace_writer_close(w, &err), SVT_TRACE_OK, "%s", err.msg);
	return b;
}

/* Replay at `audit`: the report (to free); res. */
static char *replay(const struct step *s, size_t n, uint32_t evidence, uint32_t features,
		    enum svt_audit_level audit, struct svt_replay_result *res)
{
	struct tg_buf b = make(s, n, evidence, features);
	char *out = replay_mem(&b, audit, res);
	free(b.p);
	return out;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define EV (SVT_EVIDENCE_CPU | SVT_EVIDENCE_MODE)

/* CR4 = PAE | OSXSAVE | PKE (0x20 | 1 << 18 | 1 << 22) after the paging setup. */
#define CR4_ON  (0x20u | (1u << 18) | (1u << 22))

Test(cpucheck, cpuid_mirrors_cr4)
{
	const struct step good[] = {
		{ .kind = 'c', .leaf = 1, .out = { 0, 0, 1u << 26, 0 } },        /* OSXSAVE 0 */
		{ .kind = 'c', .leaf = 7, .out = { 0, 0, 1u << 3, 0 } },         /* OSPKE 0 */
		{ .kind = '4', .val = CR4_ON },
		{ .kind = 'c', .leaf = 1, .out = { 0, 0, (1u << 26) | (1u << 27), 0 } },
		{ .kind = 'c', .leaf = 7, .out = { 0, 0, (1u << 3) | (1u << 4), 0 } },
		/* other subleaf */
		{ .kind = 'c', .leaf = 7, .sub = 1, .out = { 0, 0, 0, 0 } },
	};
	struct svt_replay_result res;
	char *out = replay(good, N(good), EV, 0, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(res.violations, 0, "%s", out);
	cr_assert_eq(res.status, SVT_RUN_CLEAN, "%s", out);
	free(out);

	/* the hypervisor's CR4 shown instead of the guest's: OSXSAVE set before
	 * the guest set CR4.OSXSAVE, OSPKE clear after it set CR4.PKE */
	const struct step bad[] = {
		{ .kind = 'c', .leaf = 1, .out = { 0, 0, (1u << 26) | (1u << 27), 0 } },
		{ .kind = '4', .val = CR4_ON },
		{ .kind = 'c', .leaf = 7, .out = { 0, 0, 1u << 3, 0 } },
	};
	out = replay(bad, N(bad), EV, 0, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CPU"), 2, "%s", out);
	cr_assert_not_null(strstr(out, "CPUID.0x1:ECX[27] is 1: OSXSAVE must be CR4.OSXSAVE, which "
				  "is 0"), "%s", out);
	cr_assert_not_null(strstr(out,
				  "CPUID.0x7.0:ECX[4] is 0: OSPKE must be CR4.PKE, which is 1"),
			   "%s", out);
	cr_assert_eq(res.status, SVT_RUN_VIOLATIONS);
	free(out);

	/* not judged without the evidence, or below audit level faults */
	out = replay(bad, N(bad), SVT_EVIDENCE_MODE, 0, SVT_AUDIT_FULL, &res);
	cr_assert_eq(tg_count(out, "INV-CPU"), 0, "%s", out);
	free(out);
	out = replay(bad, N(bad), EV, 0, SVT_AUDIT_NONE, &res);
	cr_assert_eq(tg_count(out, "INV-CPU"), 0, "%s", out);
	free(out);
}

/* Where the header says which optional CR4 features the CPU has, CPUID
 * enumerates exactly those (here: SMEP and PCID only). */
Test(cpucheck, cpuid_features_match_the_header)
{
	uint32_t feat = SVT_FEAT_CR4_KNOWN | (1u << 20) | (1u << 17);
	const struct step good[] = {
		{ .kind = 'c', .leaf = 1, .out = { 0, 0, 1u << 17, 0 } },
		{ .kind = 'c', .leaf = 7, .out = { 0, 1u << 7, 0, 0 } },
	};
	struct svt_replay_result res;
	char *out = replay(good, N(good), EV, feat, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(res.violations, 0, "%s", out);
	free(out);

	const struct step bad[] = {
		{ .kind = 'c', .leaf = 1, .out = { 0, 0, 0, 0 } },                /* PCID hidden */
		{ .kind = 'c', .leaf = 7, .out = { 0, (1u << 7) | (1u << 20), 0, 0 } }, /* SMAP */
		{ .kind = 'c', .leaf = 7, .out = { 0, 1u << 7, 0, 1u << 20 } },   /* CET (IBT) */
	};
	out = replay(bad, N(bad), EV, feat, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CPU"), 3, "%s", out);
	cr_assert_not_null(strstr(out, "CPUID.0x1:ECX[17] is 0: PCID hidden, but the CPU accepts "
				  "CR4 bit 17"), "%s", out);
	cr_assert_not_null(strstr(out, "CPUID.0x7.0:EBX[20] is 1: SMAP enumerated, but the CPU "
				  "refuses CR4 bit 21"), "%s", out);
	cr_assert_not_null(strstr(out, "CPUID.0x7.0:EDX[20] is 1: CET enumerated"), "%s", out);
	free(out);

	/* a header that does not say: only the mirrored bits are judged */
	out = replay(bad, N(bad), EV, 0, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CPU"), 0, "%s", out);
	free(out);
}

/* The #PF the core decided, delivered with its error code and CR2 and RF
 * set; then every way it can go wrong. */
Test(cpucheck, injected_page_fault)
{
	const uint64_t va = 0x7000;
	const struct step good[] = {
		{ .kind = 'f', .va = va },
		{ .kind = 'i', .vector = 14, .has_ec = true, .ec = 0, .cr2 = va,
		  .rflags = 0x2 | RF },
		{ .kind = 'n', .va = va },
	};
	struct svt_replay_result res;
	char *out = replay(good, N(good), EV, 0, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(res.violations, 0, "%s", out);
	cr_assert_eq(res.status, SVT_RUN_CLEAN, "%s", out);
	free(out);

	const struct step no_rf[] = {
		{ .kind = 'f', .va = va },
		{ .kind = 'i', .vector = 14, .has_ec = true, .ec = 0, .cr2 = va, .rflags = 0x2 },
	};
	out = replay(no_rf, N(no_rf), EV, 0, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CPU"), 1, "%s", out);
	cr_assert_not_null(strstr(out, "#PF delivered with RFLAGS 0x2: RF clear; a fault pushes "
				  "RFLAGS with RF set"), "%s", out);
	free(out);

	const struct step wrong[] = {
		{ .kind = 'f', .va = va },
		{ .kind = 'i', .vector = 14, .has_ec = true, .ec = 2, .cr2 = va + 8, .rflags = RF },
	};
	out = replay(wrong, N(wrong), EV, 0, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CPU"), 1, "%s", out);
	cr_assert_not_null(strstr(out, "asks for #PF (error code 0, CR2 0x7000); delivered: #PF "
				  "(error code 0x2, CR2 0x7008)"), "%s", out);
	free(out);

	const struct step lost[] = {
		{ .kind = 'f', .va = va },
		{ .kind = 'n', .va = va },
	};
	out = replay(lost, N(lost), EV, 0, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CPU"), 1, "%s", out);
	cr_assert_not_null(strstr(out, "asks for #PF (error code 0, CR2 0x7000); none was "
				  "delivered before the next input"), "%s", out);
	free(out);
	/* a double fault in its place is not judged (the event it interrupted
	 * is not in the trace) */
	const struct step df[] = {
		{ .kind = 'f', .va = va },
		{ .kind = 'i', .vector = 8, .has_ec = true, .rflags = 0x2 },
		{ .kind = 'n', .va = va },
	};
	out = replay(df, N(df), EV, 0, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CPU"), 0, "%s", out);
	free(out);
	/* a trace without the evidence: nothing to judge */
	out = replay(lost, N(lost), SVT_EVIDENCE_MODE, 0, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CPU"), 0, "%s", out);
	free(out);
}

/* A CR write the core refuses is a #GP(0) delivered; exceptions the
 * hypervisor raises on its own (no decision) are judged for RF only. */
Test(cpucheck, general_protection)
{
	const struct step good[] = {
		{ .kind = '4', .val = 0x20 | (1ull << 15), .rc = -13 },      /* reserved bit */
		{ .kind = 'i', .vector = 13, .has_ec = true, .ec = 0, .rflags = RF },
		{ .kind = 'i', .vector = 6, .rflags = RF },                    /* #UD of its own */
		{ .kind = 'i', .vector = 3, .rflags = 0 },                     /* a trap: no RF */
		{ .kind = 'n', .va = 0 },
	};
	struct svt_replay_result res;
	char *out = replay(good, N(good), EV, 0, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(res.violations, 0, "%s", out);
	free(out);

	const struct step bad[] = {
		{ .kind = '4', .val = 0x20 | (1ull << 15), .rc = -13 },
		{ .kind = 'i', .vector = 6, .rflags = RF },                    /* not the #GP */
		{ .kind = 'i', .vector = 13, .has_ec = true, .rflags = 0 },    /* no RF */
	};
	out = replay(bad, N(bad), EV, 0, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "INV-CPU"), 2, "%s", out);
	cr_assert_not_null(strstr(out, "asks for #GP (error code 0, CR2 0); delivered: #UD (error "
				  "code none, 0, CR2 0)"), "%s", out);
	cr_assert_not_null(strstr(out, "#GP delivered with RFLAGS 0: RF clear"), "%s", out);
	free(out);
}
