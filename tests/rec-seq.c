/*
 * rec-seq.c — one fixed sequence of inputs through the one recorder
 * (common/recorder.c) and the core, its events encoded as the
 * hypervisor's packets encode them (common/rec_codec.h), the bytes on
 * stdout and a summary line on stderr.  Built twice: against the hosted
 * builds of common/ and src/ (tests/rec-seq-hosted) and against the
 * freestanding ones the hypervisor links (tests/rec-seq-fs);
 * tests/recorder-builds.sh checks the two give the same bytes.
 *
 * The guest: 4-level paging over 16 MiB of RAM, its page tables mapped
 * at 8 MiB so that it writes them through the core's emulator, changing
 * entries behind the core's back between inputs as a guest does, with
 * INVLPG, CR3 reloads and marks; the mirror holds 4 pages, so it evicts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ram-env.h"
#include "rec_codec.h"
#include "recorder.h"

#define FRAMES     4096                 /* 16 MiB of guest RAM */
#define POOL       64
#define POOL_MFN0  0x100000ull
#define STEPS      6000

static uint8_t *ram;
static uint8_t pool[POOL][4096];
static svt_mfn_t pool_mfns[POOL];

static struct ram_env re;
static struct svt_env raw;

/* the encoded stream, packet by packet as vmx/record.c makes it */
static uint8_t out[64u << 20];
static size_t out_len, pkt_start;
static struct tr_state st;
static unsigned records[SVT_TRACE_NTYPES];

static void emit(void *ctx, const struct svt_trace_event *ev)
{
	(void)ctx;
	if (out_len + TR_MAX_RECORD > sizeof(out)) {
		fprintf(stderr, "rec-seq: output buffer full\n");
		exit(1);
	}
	out_len += tr_encode(&st, ev, out + out_len);
	records[ev->type < SVT_TRACE_NTYPES ? ev->type : 0]++;
	if (out_len - pkt_start >= 4096) {      /* a packet ends: the delta state resets */
		pkt_start = out_len;
		tr_state_reset(&st);
	}
}

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint32_t next(uint32_t n)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)((rng >> 33) % n);
}

static void put_entry(uint64_t gpa, uint64_t v)
{
	memcpy(ram + gpa, &v, 8);
}

int main(void)
{
	static struct svt_rec_slot slots[4];
	static int32_t hash[4];
	static uint64_t store[4u << 20];
	struct svt_recorder r;

	ram = calloc(FRAMES, 4096);
	if (!ram)
		return 1;
	/* PML4 at frame 1, PDPT 2, PD 3, page tables 4..11 (VA 0..16 MiB);
	 * VA 8 MiB + 4 KiB * i maps page table i, writable */
	put_entry(0x1000, 0x2000 | 7);
	put_entry(0x2000, 0x3000 | 7);
	for (uint64_t i = 0; i < 8; i++)
		put_entry(0x3000 + 8 * i, ((4 + i) << 12) | 7);
	for (uint64_t p = 0; p < 8 * 512; p++) {
		uint64_t e = ((16 + next(FRAMES - 16)) << 12) | 1 | (next(2) << 1) |
			(next(4) ? 4 : 0);
		if (!next(8))
			e = 0;
		put_entry(0x4000 + 8 * p, e);
	}
	for (uint64_t i = 0; i < 8; i++)
		put_entry(0x4000 + 8 * (2048 + i), ((4 + i) << 12) | 7);

	tr_state_reset(&st);
	re = (struct ram_env){ .ram = ram, .frames = FRAMES, .pool = pool, .npool = POOL,
			       .pool_mfn0 = POOL_MFN0 };
	ram_env_make(&re, &raw, pool_mfns);
	struct svt_recorder_config rc = {
		.raw = &raw, .slots = slots, .nslots = 4, .hash = hash, .nhash = 4,
		.note_limit = FRAMES * 4096ull, .emit = emit,
		.evidence = SVT_EVIDENCE_WALK | SVT_EVIDENCE_TABLES,
		.direct = ram,          /* as the hypervisor gives it */
	};
	if (!svt_recorder_init(&r, &rc))
		return 1;
	struct svt_mmu_config mc = {
		.pool_frames = POOL, .guest_frames = FRAMES, .maxphyaddr = 40,
		.policy = { .oos = 2, .prefetch = 8, .emulate = true, .early_unshadow = true },
	};
	if (svt_mmu_storage_size(&mc) > sizeof(store))
		return 1;
	struct svt_mmu *m = svt_mmu_init(store, sizeof(store), &mc,
					 svt_recorder_env(&r), pool_mfns);
	if (!m)
		return 1;
	svt_recorder_cr(&r, m, SVT_TRACE_CR4, 0x20);
	svt_recorder_cr(&r, m, SVT_TRACE_EFER, 0x100);
	svt_recorder_cr(&r, m, SVT_TRACE_CR3, 0x1000);
	svt_recorder_cr(&r, m, SVT_TRACE_CR0, 0x80010011);
	svt_recorder_mark(&r, SVT_TRACE_MARK_PHASE, "paging on", 9);

	static const uint8_t mov[3] = { 0x48, 0x89, 0x18 };     /* mov [rax], rbx */
	for (unsigned step = 0; step < STEPS; step++) {
		unsigned k = next(100);
		struct svt_fault_result res;
		if (k < 50) {           /* an access somewhere */
			bool w = next(2), u = next(2);
			struct svt_fault f = {
				.va = (uint64_t)next(FRAMES) << 12 | next(4096), .cpl = u ? 3 : 0,
				.error_code = (w ? SVT_PFEC_W : 0) | (u ? SVT_PFEC_U : 0) | next(2),
				.code_bits = 64,
			};
			svt_recorder_fault(&r, m, &f, &res);
		} else if (k < 70) {    /* the guest writes a page-table entry, through the core */
			struct svt_emu_regs regs = { 0 };
			uint64_t va = (8ull << 20) + ((uint64_t)next(8) << 12) + 8 * next(512);
			regs.gpr[0] = va;
			regs.gpr[3] = ((16 + (uint64_t)next(FRAMES - 16)) << 12) | next(8);
			regs.rip = 0x400000;
			struct svt_fault f = {
				.va = va, .error_code = SVT_PFEC_P | SVT_PFEC_W, .code_bits = 64,
				.regs = &regs, .insn = mov, .insn_len = sizeof(mov),
			};
			svt_recorder_fault(&r, m, &f, &res);
		} else if (k < 85) {    /* ... or behind the core's back (out-of-sync pages) */
			uint64_t p = next(8 * 512);
			if (p < 2048 || p >= 2056)
				put_entry(0x4000 + 8 * p,
					  ((16 + (uint64_t)next(FRAMES - 16)) << 12) |
					  (next(8) | 1));
		} else if (k < 92) {
			svt_recorder_invlpg(&r, m, (uint64_t)next(FRAMES) << 12);
		} else if (k < 97) {
			svt_recorder_cr(&r, m, SVT_TRACE_CR3, 0x1000);
		} else if (k < 99) {
			svt_recorder_invpcid(&r, m, next(4), 0, (uint64_t)next(FRAMES) << 12);
		} else {
			svt_recorder_mark(&r, SVT_TRACE_MARK_NOTE, "step", 4);
		}
	}
	if (fwrite(out, 1, out_len, stdout) != out_len)
		return 1;
	fprintf(stderr, "bytes %zu events %llu faults %u mem %u mem_bytes %llu evictions %llu "
		"evidence_reads %llu\n", out_len, (unsigned long long)r.events,
		records[SVT_TRACE_FAULT], records[SVT_TRACE_MEM], (unsigned long long)r.mem_bytes,
		(unsigned long long)r.evictions, (unsigned long long)r.evidence_reads);
	free(ram);
	return 0;
}
