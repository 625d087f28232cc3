/*
 * ram-env.c — the recorder tests' machine (ram-env.h).
 */
#include "ram-env.h"

static int env_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	const struct ram_env *r = ctx;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = gpa + i < r->frames * 4096 ? r->ram[gpa + i] : 0xff;
	return 0;
}

static int env_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct ram_env *r = ctx;
	for (size_t i = 0; i < len; i++)
		if (gpa + i < r->frames * 4096)
			r->ram[gpa + i] = ((const uint8_t *)buf)[i];
	return 0;
}

static svt_mfn_t env_g2m(void *ctx, svt_gfn_t gfn)
{
	const struct ram_env *r = ctx;
	return svt_gfn_x(gfn) < r->frames ? svt_mfn(svt_gfn_x(gfn)) : SVT_INVALID_MFN;
}

static void *env_map(void *ctx, svt_mfn_t f)
{
	const struct ram_env *r = ctx;
	uint64_t mfn = svt_mfn_x(f);
	return mfn >= r->pool_mfn0 && mfn < r->pool_mfn0 + r->npool ?
		r->pool[mfn - r->pool_mfn0] : NULL;
}

static void env_flush(void *ctx, int kind, uint64_t va)
{
	(void)ctx, (void)kind, (void)va;
}

void ram_env_make(struct ram_env *r, struct svt_env *env, svt_mfn_t *mfns)
{
	*env = (struct svt_env){
		.ctx = r, .read_gpa = env_read, .write_gpa = env_write, .gfn_to_mfn = env_g2m,
		.map_mfn = env_map, .flush_tlb = env_flush,
	};
	for (unsigned i = 0; i < r->npool; i++)
		mfns[i] = svt_mfn(r->pool_mfn0 + i);
}
