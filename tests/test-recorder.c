/*
 * test-recorder.c — the one recorder's evidence (common/recorder.c,
 * traces/FORMAT.md "Evidence"): at a fault, an INVLPG and a single-address
 * INVPCID it logs every entry of the guest's walk for the address, in
 * each paging mode, whether or not the core reads it.  The entry
 * addresses expected are worked out here by hand from the SDM's table
 * layouts, not by any walker.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ram-env.h"
#include "recorder.h"

#define FRAMES    1024
#define POOL      64
#define POOL_MFN0 0x100000ull

static uint8_t *ram;
static uint8_t pool[POOL][4096];

static struct ram_env re;
static struct svt_env raw;

/* the events, as (type, MEM range) */
static struct {
	int type; uint64_t gpa; uint32_t len; uint8_t data[4096];
	bool delivery, has_dt;  /* FAULT */
} evs[4096];
static unsigned nev;
/* the last FAULT and DECISION, whole */
static struct svt_trace_event last_fault, last_decision;

static void emit(void *ctx, const struct svt_trace_event *ev)
{
	(void)ctx;
	if (ev->type == SVT_TRACE_FAULT)
		last_fault = *ev;
	if (ev->type == SVT_TRACE_DECISION)
		last_decision = *ev;
	cr_assert_lt(nev, 4096);
	evs[nev].type = ev->type;
	if (ev->type == SVT_TRACE_MEM) {
		evs[nev].gpa = ev->u.mem.gpa;
		evs[nev].len = ev->u.mem.len;
		memcpy(evs[nev].data, ev->u.mem.data, ev->u.mem.len);
	}
	if (ev->type == SVT_TRACE_FAULT) {
		evs[nev].delivery = ev->u.fault.in_delivery;
		evs[nev].has_dt = ev->u.fault.has_dt;
	}
	nev++;
}

static struct svt_recorder rec;
static struct svt_rec_slot slots[64];
static int32_t hash[64];
static uint64_t store[1u << 20];
static struct svt_mmu *mmu;

/* direct: give the recorder guest RAM as a direct map (the hypervisor's
 * way), else every read goes through the environment (synth's). */
static bool direct;
static unsigned policy_oos = 2;         /* the core's oos policy */

static void start(uint32_t evidence)
{
	static svt_mfn_t pool_mfns[POOL];
	free(ram);
	ram = calloc(FRAMES, 4096);
	cr_assert_not_null(ram);
	nev = 0;
	re = (struct ram_env){ .ram = ram, .frames = FRAMES, .pool = pool, .npool = POOL,
			       .pool_mfn0 = POOL_MFN0 };
	ram_env_make(&re, &raw, pool_mfns);
	struct svt_recorder_config rc = {
		.raw = &raw, .slots = slots, .nslots = 64, .hash = hash, .nhash = 64,
		.note_limit = FRAMES * 4096ull, .emit = emit, .evidence = evidence,
		.direct = direct ? ram : NULL,
	};
	cr_assert(svt_recorder_init(&rec, &rc));
	struct svt_mmu_config mc = {
		.pool_frames = POOL, .guest_frames = FRAMES, .maxphyaddr = 40,
		.policy = { .oos = policy_oos, .prefetch = 0, .emulate = true,
			    .early_unshadow = false },
	};
	cr_assert_leq(svt_mmu_storage_size(&mc), sizeof(store));
	mmu = svt_mmu_init(store, sizeof(store), &mc, svt_recorder_env(&rec), pool_mfns);
	cr_assert_not_null(mmu);
}

static void put(uint64_t gpa, uint64_t v, unsigned size)
{
	memcpy(ram + gpa, &v, size);
}

/* Whether a replayer, having applied every MEM record before event index
 * `before`, knows [gpa, gpa+size) to hold v: the last record covering
 * it says so (`from` is unused history: kept for the call sites). */
static bool logged(unsigned from, unsigned before, uint64_t gpa, unsigned size, uint64_t v)
{
	(void)from;
	for (unsigned i = before; i-- > 0;)
		if (evs[i].type == SVT_TRACE_MEM && evs[i].gpa <= gpa &&
		    gpa + size <= evs[i].gpa + evs[i].len) {
			uint64_t got = 0;
			memcpy(&got, evs[i].data + (gpa - evs[i].gpa), size);
			return got == v;
		}
	return false;
}

static unsigned index_of(int type, unsigned from)
{
	for (unsigned i = from; i < nev; i++)
		if (evs[i].type == type)
			return i;
	cr_assert_fail("no event of type %d after %u", type, from);
	return 0;
}

static void fault(uint64_t va, uint32_t ec)
{
	struct svt_fault f = { .va = va, .error_code = ec, .code_bits = 64 };
	struct svt_fault_result res;
	svt_recorder_fault(&rec, mmu, &f, &res);
}

/* 4-level: PML4 at 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000; va 0x40201000
 * is PML4[0] PDPT[1] PD[1] PT[1]. */
static const uint64_t VA4 = (1ull << 30) | (1ull << 21) | (1ull << 12);

static void build_4level(void)
{
	put(0x1000, 0x2000 | 7, 8);
	put(0x2000 + 8, 0x3000 | 7, 8);
	put(0x3000 + 8, 0x4000 | 7, 8);
	put(0x4000 + 8, 0x9000 | 7, 8);
	svt_recorder_cr(&rec, mmu, SVT_TRACE_CR4, 0x20);
	svt_recorder_cr(&rec, mmu, SVT_TRACE_EFER, 0x100);
	svt_recorder_cr(&rec, mmu, SVT_TRACE_CR3, 0x1000);
	svt_recorder_cr(&rec, mmu, SVT_TRACE_CR0, 0x80010011);
}

Test(evidence, fault_logs_the_whole_walk_first)
{
	for (int d = 0; d < 2; d++) {
	direct = d;
	start(SVT_EVIDENCE_WALK);
	build_4level();
	unsigned from = nev;
	fault(VA4, SVT_PFEC_W);
	unsigned in = index_of(SVT_TRACE_FAULT, from);
	cr_assert(logged(from, in, 0x1000, 8, 0x2000 | 7), "PML4E");
	cr_assert(logged(from, in, 0x2000 + 8, 8, 0x3000 | 7), "PDPTE");
	cr_assert(logged(from, in, 0x3000 + 8, 8, 0x4000 | 7), "PDE");
	cr_assert(logged(from, in, 0x4000 + 8, 8, 0x9000 | 7), "PTE");
	cr_assert_eq(rec.evidence_reads, 4);
	}
}

/* The entry changed behind the core's back: at the guest's INVLPG the
 * recorder logs its new value whether the core reads it or not; without
 * evidence, the core's own reads do not log it (so the evidence is what
 * an independent check would otherwise lack). */
Test(evidence, invlpg_logs_what_the_core_does_not_read)
{
	for (int ev = 1; ev >= 0; ev--) {
		start(ev ? SVT_EVIDENCE_WALK : 0);
		build_4level();
		fault(VA4, SVT_PFEC_W);
		put(0x4000 + 8, 0xa000 | 5, 8);          /* repointed, read-only now */
		unsigned from = nev;
		svt_recorder_invlpg(&rec, mmu, VA4);
		unsigned in = index_of(SVT_TRACE_INVLPG, from);
		if (ev)
			cr_assert(logged(from, in, 0x4000 + 8, 8, 0xa000 | 5),
				  "the new PTE is logged before the INVLPG");
		else
			cr_assert_not(logged(from, in, 0x4000 + 8, 8, 0xa000 | 5),
				      "without evidence the core itself logged the PTE: "
				      "this test no "
				      "longer shows what evidence adds");
	}
	/* INVPCID of one address likewise; of all contexts, no walk */
	start(SVT_EVIDENCE_WALK);
	build_4level();
	uint64_t before = rec.evidence_reads;
	svt_recorder_invpcid(&rec, mmu, 0, 0, VA4);
	cr_assert_eq(rec.evidence_reads - before, 4);
	before = rec.evidence_reads;
	svt_recorder_invpcid(&rec, mmu, 2, 0, 0);
	cr_assert_eq(rec.evidence_reads, before);
}

Test(evidence, stops_at_not_present_and_large_pages)
{
	start(SVT_EVIDENCE_WALK);
	build_4level();
	put(0x3000 + 8, 0x200000 | 0x87, 8);     /* PD[1]: a 2 MiB page */
	uint64_t before = rec.evidence_reads;
	fault(VA4, 0);
	cr_assert_eq(rec.evidence_reads - before, 3, "PML4E, PDPTE, PDE (PS)");
	before = rec.evidence_reads;
	fault(VA4 + (1ull << 39), 0);           /* PML4[1]: not present */
	cr_assert_eq(rec.evidence_reads - before, 1);
	put(0x2000 + 8, 0x40000000 | 0x87, 8);   /* PDPT[1]: a 1 GiB page */
	before = rec.evidence_reads;
	fault(VA4, 0);
	cr_assert_eq(rec.evidence_reads - before, 2, "PML4E, PDPTE (PS)");
}

Test(evidence, two_level_and_pae)
{
	for (int d = 0; d < 2; d++) {
	direct = d;
	/* 32-bit paging: PD at 0x1000, PT at 0x2000; va 0x00401000 is PD[1] PT[1] */
	start(SVT_EVIDENCE_WALK);
	put(0x1000 + 4, 0x2000 | 7, 4);
	put(0x2000 + 4, 0x9000 | 7, 4);
	put(0x1000 + 8, 0x800000 | 0x87, 4);     /* PD[2]: 4 MiB, with CR4.PSE */
	svt_recorder_cr(&rec, mmu, SVT_TRACE_CR4, 0x10);
	svt_recorder_cr(&rec, mmu, SVT_TRACE_CR3, 0x1000);
	svt_recorder_cr(&rec, mmu, SVT_TRACE_CR0, 0x80010011);
	unsigned from = nev;
	fault(0x00401000, 0);
	unsigned in = index_of(SVT_TRACE_FAULT, from);
	cr_assert(logged(from, in, 0x1004, 4, 0x2000 | 7));
	cr_assert(logged(from, in, 0x2004, 4, 0x9000 | 7));
	uint64_t before = rec.evidence_reads;
	fault(0x00800000, 0);
	cr_assert_eq(rec.evidence_reads - before, 1, "a 4 MiB page stops at the PDE");

	/* PAE: PDPT at 0x1020 (32-byte aligned), PD 0x3000, PT 0x4000;
	 * va 0x40201000 is PDPT[1] PD[1] PT[1] */
	start(SVT_EVIDENCE_WALK);
	put(0x1020 + 8, 0x3000 | 1, 8);
	put(0x3000 + 8, 0x4000 | 7, 8);
	put(0x4000 + 8, 0x9000 | 7, 8);
	svt_recorder_cr(&rec, mmu, SVT_TRACE_CR4, 0x20);
	svt_recorder_cr(&rec, mmu, SVT_TRACE_CR3, 0x1020);
	svt_recorder_cr(&rec, mmu, SVT_TRACE_CR0, 0x80010011);
	from = nev;
	fault(VA4, 0);
	in = index_of(SVT_TRACE_FAULT, from);
	cr_assert(logged(from, in, 0x1028, 8, 0x3000 | 1), "PDPTE");
	cr_assert(logged(from, in, 0x3008, 8, 0x4000 | 7), "PDE");
	cr_assert(logged(from, in, 0x4008, 8, 0x9000 | 7), "PTE");
	}
}

Test(evidence, none_without_paging_or_when_off)
{
	start(SVT_EVIDENCE_WALK);
	fault(0x5000, 0);                       /* paging off */
	cr_assert_eq(rec.evidence_reads, 0);
	start(0);
	build_4level();
	fault(VA4, 0);
	cr_assert_eq(rec.evidence_reads, 0);
	/* a CR write the core refuses does not change the recorder's view */
	start(SVT_EVIDENCE_WALK);
	build_4level();
	cr_assert_eq(svt_recorder_cr(&rec, mmu, SVT_TRACE_CR4, 0), SVT_E_GP,
		     "clearing CR4.PAE in IA-32e mode is #GP");
	uint64_t before = rec.evidence_reads;
	fault(VA4, 0);
	cr_assert_eq(rec.evidence_reads - before, 4, "still walking with paging on");
}

/* Store evidence: a guest store the core never sees (an out-of-sync page
 * table) reaches the replayer before the next input, word by word where
 * the value changed; an unchanged word, or evidence off, logs nothing. */
Test(evidence, stores_reach_the_replayer_before_the_next_input)
{
	for (int on = 0; on < 2; on++) {
		start(on ? SVT_EVIDENCE_STORES : 0);
		build_4level();
		fault(VA4, 0);                  /* the PT is read: the mirror holds it */
		unsigned mark = nev;
		put(0x4000 + 16, 0xa000 | 7, 8);        /* behind the core's back */
		/* 0x4008 (PT[1], read by the fault) stored again unchanged */
		svt_recorder_guest_store(&rec, 0x4000 + 8, 16);
		svt_recorder_invlpg(&rec, mmu, VA4 + 0x1000 * 5);
		unsigned inv = index_of(SVT_TRACE_INVLPG, mark);
		cr_assert_eq(logged(mark, inv, 0x4000 + 16, 8, 0xa000 | 7), on == 1,
			     "the changed word is logged ahead of the input (evidence %s)",
			     on ? "on" : "off");
		unsigned words = 0;    /* of the two stored (the core's own reads aside) */
		for (unsigned i = mark; i < inv; i++)
			if (evs[i].type == SVT_TRACE_MEM)
				for (uint64_t w = evs[i].gpa; w < evs[i].gpa + evs[i].len; w += 8)
					words += w == 0x4008 || w == 0x4010;
		cr_assert_eq(words, on ? 1u : 0u, "only the changed word: %u words logged", words);
		/* logged once: the core's later read of it adds nothing */
		mark = nev;
		fault(VA4 + 0x1000, 0);
		unsigned f = index_of(SVT_TRACE_FAULT, mark);
		for (unsigned i = mark; i < f && on; i++)
			cr_assert(!(evs[i].type == SVT_TRACE_MEM && evs[i].gpa <= 0x4010 &&
				    evs[i].gpa + evs[i].len > 0x4010), "logged twice");
	}
	/* a store outside RAM is not logged (a replayer knows what lies there) */
	start(SVT_EVIDENCE_STORES);
	unsigned mark = nev;
	svt_recorder_guest_store(&rec, FRAMES * 4096ull, 8);
	svt_recorder_flush_all(&rec, mmu);
	cr_assert_eq(index_of(SVT_TRACE_FLUSH_ALL, mark), mark, "nothing before the input");
}

/* Table evidence: at a CR3 load that flushes, a word of an out-of-sync
 * table that the replayer holds and that the guest changed without an
 * exit is logged before the CR_WRITE; not at a PCID load with the
 * no-flush bit, and not without the evidence. */
static const uint64_t VA_PT = (1ull << 30) | (2ull << 21);      /* maps the PT */

static void make_pt_out_of_sync(void);

static void pt_out_of_sync(void)
{
	build_4level();
	make_pt_out_of_sync();
}

static void make_pt_out_of_sync(void)
{
	put(0x3000 + 2 * 8, 0x5000 | 7, 8);     /* PD[2]: a second PT, */
	put(0x5000, 0x4000 | 7, 8);             /* mapping the first, writable, at VA_PT */
	fault(VA4, 0);                          /* PT[1] read: the replayer holds it */
	fault(VA_PT, 0);                        /* a read of the PT through VA_PT */
	fault(VA_PT + 8, SVT_PFEC_P | SVT_PFEC_W);      /* the guest writes its PT */
	bool oos = false;
	for (unsigned i = 0; i < SVT_REC_OOS_MAX; i++)
		oos |= rec.oos[i] == 4;
	cr_assert(oos, "the core let the PT out of sync (policy oos=2)");
}

Test(evidence, a_flushing_cr3_load_logs_the_out_of_sync_tables)
{
	for (int on = 0; on < 2; on++) {
		start(on ? SVT_EVIDENCE_TABLES : 0);
		pt_out_of_sync();
		/* PT[3]: the replayer holds it (the core's snapshot read its
		 * block).  The new root (an empty PML4 at 0x6000) does not reach
		 * the PT, so a core resyncs nothing there: only the evidence,
		 * which follows every out-of-sync table, tells the replayer */
		put(0x4000 + 24, 0xb000 | 7, 8);
		unsigned from = nev;
		cr_assert_eq(svt_recorder_cr(&rec, mmu, SVT_TRACE_CR3, 0x6000), 0);
		unsigned in = index_of(SVT_TRACE_CR_WRITE, from);
		cr_assert_eq(logged(from, in, 0x4000 + 24, 8, 0xb000 | 7), on == 1,
			     "the changed PTE logged before a flushing CR3 load (evidence %s)",
			     on ? "on" : "off");
		cr_assert_eq(rec.evidence_tables, on ? 1u : 0u, "tables compared: %llu",
			     (unsigned long long)rec.evidence_tables);
	}
	/* PCIDs: the no-flush bit keeps every translation, so no evidence */
	start(SVT_EVIDENCE_TABLES);
	build_4level();
	cr_assert_eq(svt_recorder_cr(&rec, mmu, SVT_TRACE_CR4, 0x20 | (1u << 17)), 0, "CR4.PCIDE");
	make_pt_out_of_sync();
	cr_assert_eq(rec.evidence_tables, 0, "nothing flushed yet");
	put(0x4000 + 24, 0xb000 | 7, 8);
	unsigned from = nev;
	cr_assert_eq(svt_recorder_cr(&rec, mmu, SVT_TRACE_CR3, 0x6000 | (1ull << 63)), 0);
	cr_assert_not(logged(from, index_of(SVT_TRACE_CR_WRITE, from), 0x4000 + 24, 8, 0xb000 | 7));
	cr_assert_eq(rec.evidence_tables, 0);
	/* INVPCID of every context is a flush of everything */
	from = nev;
	cr_assert_eq(svt_recorder_invpcid(&rec, mmu, 2, 0, 0), 0);
	cr_assert(logged(from, index_of(SVT_TRACE_INVPCID, from), 0x4000 + 24, 8, 0xb000 | 7));
	cr_assert_eq(rec.evidence_tables, 1);
	/* a word in a block nobody read: the replayer holds nothing to be stale */
	start(SVT_EVIDENCE_TABLES);
	pt_out_of_sync();
	put(0x4000 + 2048, 0xc000 | 7, 8);
	from = nev;
	svt_recorder_flush_all(&rec, mmu);
	cr_assert_eq(rec.evidence_tables, 1);
	cr_assert_not(logged(from, index_of(SVT_TRACE_FLUSH_ALL, from), 0x4000 + 2048, 8,
			     0xc000 | 7));
}

/* A fault's evidence on implicit accesses (delivery, the descriptor
 * tables) is recorded where the core's decision depended on it, as the
 * registers are, and left out where it did not. */
Test(recorder, implicit_access_evidence_kept_where_used)
{
	start(0);
	build_4level();
	svt_recorder_cr(&rec, mmu, SVT_TRACE_CR4, 0x20 | SVT_CR4_SMAP);
	struct svt_emu_regs regs = { .rflags = 2 | SVT_RFLAGS_AC };
	struct svt_dtables dt = { .base = { 0x5000 }, .limit = { 0xff }, .usable = { true } };
	struct svt_fault f = { .va = VA4, .code_bits = 64, .rflags = regs.rflags, .regs = &regs,
			       .in_delivery = true, .dt = &dt };
	struct svt_fault_result res;
	unsigned from = nev;
	/* a read of a user page during delivery at CPL 0 with AC=1: implicit */
	cr_assert_eq(svt_recorder_fault(&rec, mmu, &f, &res), SVT_PF_INJECT);
	cr_assert(res.used_regs);
	unsigned i = index_of(SVT_TRACE_FAULT, from);
	cr_assert(evs[i].delivery && evs[i].has_dt, "kept: the decision depended on it");
	/* the same with AC=0: SMAP decides alone, nothing of it is kept */
	f.rflags = regs.rflags = 2;
	from = nev;
	cr_assert_eq(svt_recorder_fault(&rec, mmu, &f, &res), SVT_PF_INJECT);
	cr_assert(!res.used_regs);
	i = index_of(SVT_TRACE_FAULT, from);
	cr_assert(!evs[i].delivery && !evs[i].has_dt, "left out: decided without it");
}

/*
 * A read of a block of words the mirror holds, some of which memory now
 * holds with other values (a table the guest wrote, read again by a
 * resync): exactly the changed words are logged, adjacent ones as one
 * record; a read of it unchanged logs nothing; a read of part of a block
 * never makes the rest known.  Both ways of reading (the direct map, the
 * environment).
 */
Test(mirror, a_known_block_logs_only_the_changed_words)
{
	for (int d = 0; d < 2; d++) {
		direct = d == 1;
		start(0);
		const struct svt_env *env = svt_recorder_env(&rec);
		uint8_t buf[512];
		for (unsigned k = 0; k < 64; k++)
			put(0x5000 + 8 * k, 0x10000 * (k + 1) | 7, 8);
		cr_assert_eq(env->read_gpa(env->ctx, 0x5000, buf, 512), 0);
		svt_recorder_mark(&rec, SVT_TRACE_MARK_NOTE, "x", 1);   /* closes the open span */
		cr_assert_eq(nev, 2);
		cr_assert(evs[0].type == SVT_TRACE_MEM && evs[0].gpa == 0x5000 && evs[0].len == 512,
			  "a block first seen: logged whole");
		/* words 3, 10 and 11, 63 change; 20 is written with its value */
		put(0x5000 + 8 * 3, 0x123007, 8);
		put(0x5000 + 8 * 10, 0, 8);
		put(0x5000 + 8 * 11, 0xfff007, 8);
		put(0x5000 + 8 * 63, 0x8000000000abc007ull, 8);
		put(0x5000 + 8 * 20, 0x10000 * 21 | 7, 8);
		unsigned from = nev;
		cr_assert_eq(env->read_gpa(env->ctx, 0x5000, buf, 512), 0);
		svt_recorder_mark(&rec, SVT_TRACE_MARK_NOTE, "x", 1);
		cr_assert_eq(nev - from, 4, "three records and the mark: %u events", nev - from);
		static const struct { uint64_t gpa; uint32_t len; } want[3] = {
			{ 0x5000 + 8 * 3, 8 }, { 0x5000 + 8 * 10, 16 }, { 0x5000 + 8 * 63, 8 },
		};
		for (unsigned i = 0; i < 3; i++) {
			cr_assert(evs[from + i].type == SVT_TRACE_MEM &&
				  evs[from + i].gpa == want[i].gpa &&
				  evs[from + i].len == want[i].len,
				  "record %u: gpa %#llx len %u", i,
				  (unsigned long long)evs[from + i].gpa, evs[from + i].len);
			cr_assert_eq(memcmp(evs[from + i].data, ram + want[i].gpa, want[i].len), 0);
		}
		from = nev;
		cr_assert_eq(env->read_gpa(env->ctx, 0x5000, buf, 512), 0);
		svt_recorder_mark(&rec, SVT_TRACE_MARK_NOTE, "x", 1);
		cr_assert_eq(nev - from, 1, "read again unchanged: nothing logged");
		/* the next block: words 64..67 read, then 64..71 with 70 changed
		 * (68..71 unknown: logged, as is 70, in one run with them) */
		cr_assert_eq(env->read_gpa(env->ctx, 0x5200, buf, 32), 0);
		svt_recorder_mark(&rec, SVT_TRACE_MARK_NOTE, "x", 1);
		put(0x5200 + 8 * 6, 0x77007, 8);
		from = nev;
		cr_assert_eq(env->read_gpa(env->ctx, 0x5200, buf, 64), 0);
		svt_recorder_mark(&rec, SVT_TRACE_MARK_NOTE, "x", 1);
		cr_assert_eq(nev - from, 2);
		cr_assert(evs[from].type == SVT_TRACE_MEM && evs[from].gpa == 0x5220 &&
			  evs[from].len == 32 && memcmp(evs[from].data, ram + 0x5220, 32) == 0);
	}
	direct = false;
}

/* Whether two FAULT events agree in every field (the instruction, the
 * registers and the tables whole, whatever the flags say). */
static bool same_fault(const struct svt_trace_fault *a, const struct svt_trace_fault *b)
{
	if (a->va != b->va || a->error_code != b->error_code || a->cpl != b->cpl ||
	    a->code_bits != b->code_bits || a->insn_len != b->insn_len ||
	    a->has_regs != b->has_regs || a->rflags != b->rflags || a->pkru != b->pkru ||
	    memcmp(a->insn, b->insn, sizeof(a->insn)) != 0 ||
	    memcmp(&a->regs, &b->regs, sizeof(a->regs)) != 0 || a->in_delivery != b->in_delivery ||
	    a->has_dt != b->has_dt)
		return false;
	for (unsigned t = 0; t < SVT_DT_COUNT; t++)
		if (a->dt.base[t] != b->dt.base[t] || a->dt.limit[t] != b->dt.limit[t] ||
		    a->dt.usable[t] != b->dt.usable[t])
			return false;
	return true;
}

/*
 * The recorder keeps its FAULT and DECISION events from one fault to the
 * next: each is still what the adapters (svt_trace_event_fault,
 * svt_trace_event_decision) make of the fault, field for field, after a
 * fault with an instruction, registers and tables, after one without,
 * and after an emulated write whose decision has the registers.
 */
Test(recorder, kept_events_are_the_adapters_events)
{
	policy_oos = 0;         /* the write to the PT below is emulated */
	start(0);
	build_4level();
	put(0x3000 + 2 * 8, 0x5000 | 7, 8);     /* VA_PT maps the PT, writable */
	put(0x5000, 0x4000 | 7, 8);
	static const uint8_t mov[3] = { 0x48, 0x89, 0x18 };     /* mov [rax], rbx */
	struct svt_emu_regs regs = { .rip = 0x7000, .rflags = 2 };
	regs.gpr[0] = VA_PT + 8;
	regs.gpr[3] = 0xa000 | 7;
	struct svt_dtables dt = { .base = { 0x5000, 0, 0x6000, 0x7000 },
				  .limit = { 0xff, 0, 0xfff, 0x67 },
				  .usable = { true, false, true, true } };
	struct {
		uint64_t va;
		uint32_t ec;
		bool regs, dt;
	} seq[] = {
		{ VA4, 0, true, true },                 /* all of them, decided without */
		{ VA4 + 0x1000, 0, false, false },      /* none, after all */
		{ VA4 + 0x2000, 0, false, false },      /* none, after none */
		{ VA_PT, 0, false, true },              /* the PT read through VA_PT */
		{ VA_PT + 8, SVT_PFEC_P | SVT_PFEC_W, true, false },    /* emulated */
		{ VA4 + 0x3000, 0, false, false },      /* none, after registers */
		{ VA4 + 0x4000, SVT_PFEC_W, false, false },
	};
	bool emulated = false;
	for (unsigned i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		struct svt_emu_regs r = regs;
		struct svt_fault f = { .va = seq[i].va, .error_code = seq[i].ec, .code_bits = 64,
				       .rflags = 2, .regs = seq[i].regs ? &r : NULL,
				       .insn = seq[i].regs ? mov : NULL,
				       .insn_len = seq[i].regs ? 3 : 0,
				       .dt = seq[i].dt ? &dt : NULL };
		struct svt_trace_event want, want_d;
		memset(&want, 0, sizeof(want));
		memset(&want_d, 0, sizeof(want_d));
		svt_trace_event_fault(&f, &want);
		struct svt_fault_result res;
		enum svt_pf_outcome o = svt_recorder_fault(&rec, mmu, &f, &res);
		if (!res.used_regs) {   /* as the recorder records a fault decided without them */
			want.u.fault.has_regs = false;
			want.u.fault.insn_len = 0;
			want.u.fault.in_delivery = false;
			want.u.fault.has_dt = false;
		}
		svt_trace_event_decision(&f, o, &res, &want_d);
		cr_assert(same_fault(&last_fault.u.fault, &want.u.fault), "fault %u", i);
		const struct svt_trace_decision *a = &last_decision.u.decision,
			*b = &want_d.u.decision;
		cr_assert(a->input == b->input && a->outcome == b->outcome &&
			  a->has_regs == b->has_regs && a->rc == b->rc &&
			  a->error_code == b->error_code && a->cr2 == b->cr2 && a->gpa == b->gpa &&
			  memcmp(&a->regs, &b->regs, sizeof(a->regs)) == 0, "decision %u", i);
		if (o == SVT_PF_EMULATED) {
			emulated = true;
			cr_assert(a->has_regs && a->regs.rip == 0x7003,
				  "the registers after the write");
		}
	}
	cr_assert(emulated, "the write to the PT was emulated");
	/* a CR write's DECISION right after: no registers, and they read as
	 * zero (traces/FORMAT.md; trace_event.h) */
	cr_assert_eq(svt_recorder_cr(&rec, mmu, SVT_TRACE_CR3, 0x1000), 0);
	const struct svt_trace_decision *d = &last_decision.u.decision;
	static const struct svt_emu_regs zero;
	cr_assert(d->input == SVT_TRACE_CR_WRITE && !d->has_regs && d->rc == 0);
	cr_assert(memcmp(&d->regs, &zero, sizeof(zero)) == 0, "a CR write's registers read as 0");
	policy_oos = 2;
}
