/*
 * fuzz-walk.c — differential fuzzing of the guest walker against the
 * independent SDM model (sim/replay/refmodel.c) on hostile page tables: any
 * registers, any access, and memory whose entries the input chooses
 * (mostly pointing into a small RAM so walks go deep, with loops and
 * self-references, and any flag and reserved bits).  Both must agree on
 * everything: outcome, error code, CR2, gpa, page size, entries read and
 * A/D updates.
 */
#include <string.h>

#include "fuzz.h"
#include "refmodel.h"
#include "svt.h"

#define NPAGES 8

struct fmem {
	uint8_t b[NPAGES * 4096];
};

/* RAM is frames 0..NPAGES-1; everything else reads as zero. */
static int f_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct fmem *m = ctx;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = gpa + i < sizeof(m->b) ? m->b[gpa + i] : 0;
	return 0;
}

static int f_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct fmem *m = ctx;
	for (size_t i = 0; i < len; i++)
		if (gpa + i < sizeof(m->b))
			m->b[gpa + i] = ((const uint8_t *)buf)[i];
	return 0;
}

static bool rm_load(void *ctx, uint64_t pa, unsigned bytes, uint64_t *val)
{
	uint8_t raw[8];
	f_read(ctx, pa, raw, bytes);
	*val = 0;
	for (unsigned i = bytes; i-- > 0;)
		*val = (*val << 8) | raw[i];
	return true;
}

/* An entry from 3 input bytes: frame in RAM, flags, sometimes high bits. */
static uint64_t entry_from(struct fz *f)
{
	uint8_t a = fz_u8(f), b = fz_u8(f), c = fz_u8(f);
	uint64_t e = ((uint64_t)(a % NPAGES) << 12) | b;
	if (c & 1)
		e |= (uint64_t)(c >> 1) << 56;          /* XD, keys, reserved 62:56 */
	if (c & 0x80)
		e |= 1ull << (13 + (a >> 3) % 39);      /* a stray bit 13..51 */
	return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fmem mem;
	struct fz f = { data, size, 0 };
	struct svt_regs r;

	memset(&r, 0, sizeof(r));
	uint8_t sel = fz_u8(&f);
	r.cr0 = SVT_CR0_PE | SVT_CR0_PG | ((sel & 1) ? SVT_CR0_WP : 0);
	r.cr4 = fz_u64(&f, 4) & (SVT_CR4_PSE | SVT_CR4_PAE | SVT_CR4_LA57 | SVT_CR4_SMEP |
				SVT_CR4_SMAP | SVT_CR4_PKE);
	r.efer = fz_u8(&f) & 1 ? SVT_EFER_NXE : 0;
	if (r.cr4 & SVT_CR4_PAE && (sel & 2))
		r.efer |= SVT_EFER_LME | SVT_EFER_LMA;
	r.rflags = (sel & 4) ? SVT_RFLAGS_AC : 0;
	r.pkru = (uint32_t)fz_u64(&f, 4);
	r.maxphyaddr = (uint8_t)(32 + fz_u8(&f) % 21);
	r.features = (sel & 8) ? SVT_FEAT_1GPAGE : 0;
	r.cr3 = ((uint64_t)(fz_u8(&f) % NPAGES) << 12) | (fz_u8(&f) & 0xe0);
	struct svt_access acc = {
		.va = fz_u64(&f, 8),
		.kind = (enum svt_access_kind)(fz_u8(&f) % 3),
		.cpl = (uint8_t)(fz_u8(&f) & 3),
	};
	acc.implicit = acc.kind != SVT_ACC_FETCH && (sel & 16);
	if (!(sel & 32))
		acc.va &= 0x0000ffffffffffffull;        /* mostly canonical */
	memset(&mem, 0, sizeof(mem));
	for (unsigned i = 0; i < NPAGES * 512 && fz_more(&f); i++) {
		uint64_t e = entry_from(&f);
		for (unsigned k = 0; k < 8; k++)
			mem.b[i * 8 + k] = (uint8_t)(e >> (8 * k));
	}

	enum svt_mode mode = svt_paging_mode(&r);
	if (mode == SVT_MODE_INVALID)
		return 0;
	if (mode <= SVT_MODE_PAE)
		acc.va &= 0xffffffffu;
	struct svt_env env = { .ctx = &mem, .read_gpa = f_read, .write_gpa = f_write };
	struct rm_cpu cpu = { .cr0 = r.cr0, .cr3 = r.cr3, .cr4 = r.cr4, .efer = r.efer,
			      .rflags = r.rflags, .pkru = r.pkru, .maxphyaddr = r.maxphyaddr,
			      .gbpages = (r.features & SVT_FEAT_1GPAGE) != 0 };
	if (mode == SVT_MODE_PAE) {
		int a = svt_pae_load_pdptes(&env, &r);
		int b = rm_pae_load(&cpu, rm_load, &mem, cpu.pdptr);
		FZ_CHECK(a == b, "PDPTE load: walker %d model %d", a, b);
		if (a != 0)
			return 0;
	}
	struct rm_req req = { .la = acc.va, .op = (enum rm_op)acc.kind, .cpl = acc.cpl,
			      .implicit_sv = acc.implicit };
	struct rm_out want;
	rm_translate(&cpu, &req, rm_load, &mem, &want);

	struct svt_walk w;
	enum svt_walk_status st = svt_walk(&env, &r, &acc, SVT_WALK_SET_AD, &w);
	switch (want.kind) {
	case RM_OK:
		FZ_CHECK(st == SVT_WALK_OK, "walker %d, model translates", st);
		if (mode == SVT_MODE_NONE)
			break;
		FZ_CHECK(w.gpa == want.pa, "gpa %#llx vs %#llx", (unsigned long long)w.gpa,
			 (unsigned long long)want.pa);
		FZ_CHECK(w.page_size == want.page_bytes, "page size");
		break;
	case RM_PF:
		FZ_CHECK(st == SVT_WALK_PF, "walker %d, model faults", st);
		FZ_CHECK(w.error_code == want.pfec, "error code %#x vs %#x",
			 w.error_code, want.pfec);
		FZ_CHECK(w.cr2 == want.cr2, "cr2");
		break;
	case RM_GP:
		FZ_CHECK(st == SVT_WALK_GP, "walker %d, model #GP", st);
		break;
	case RM_MEMERR:
		FZ_CHECK(0, "the model could not read memory");
	}
	/* Entries read and the A/D updates made. */
	unsigned n = 0;
	for (unsigned i = 0; i < want.n; i++) {
		if (want.e[i].from_reg)
			continue;
		FZ_CHECK(n < w.nlevels, "walker read fewer entries");
		while (n < w.nlevels && mode == SVT_MODE_PAE && w.lv[n].level == 3)
			n++;
		FZ_CHECK(w.lv[n].entry_gpa == want.e[i].pa, "entry address level %d",
			 want.e[i].level);
		FZ_CHECK(w.lv[n].entry == want.e[i].before, "entry value level %d",
			 want.e[i].level);
		/* An entry used at two levels (a loop) ends as its last use says. */
		unsigned last = i;
		for (unsigned j = i + 1; j < want.n; j++)
			if (!want.e[j].from_reg && want.e[j].pa == want.e[i].pa)
				last = j;
		uint64_t now = 0;
		rm_load(&mem, want.e[i].pa, want.e[i].bytes, &now);
		FZ_CHECK(now == (want.kind == RM_OK ? want.e[last].after : want.e[i].before),
			 "entry after the walk, level %d", want.e[i].level);
		n++;
	}
	return 0;
}
