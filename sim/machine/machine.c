/*
 * machine.c — sparse guest memory, machine frames and the core's
 * environment for shadowvt synth and replay (machine.h).
 */
#include <stdlib.h>
#include <string.h>

#include "machine.h"

#define CHUNK_PAGES (1ull << SVT_GMEM_CHUNK_BITS)

int svt_gmem_init(struct svt_gmem *g, uint64_t frames)
{
	memset(g, 0, sizeof(*g));
	if (frames > SVT_GMEM_MAX_FRAMES)
		return -1;
	g->frames = frames;
	g->nchunks = (size_t)((frames + CHUNK_PAGES - 1) >> SVT_GMEM_CHUNK_BITS);
	if (g->nchunks == 0)
		return 0;
	g->chunk = calloc(g->nchunks, sizeof(*g->chunk));
	return g->chunk ? 0 : -1;
}

void svt_gmem_free(struct svt_gmem *g)
{
	for (size_t c = 0; c < g->nchunks; c++)
		free(g->chunk[c]);
	for (size_t i = 0; i < g->nslabs; i++)
		free(g->slabs[i]);
	free(g->slabs);
	free(g->chunk);
	memset(g, 0, sizeof(*g));
}

/* The page of RAM frame gfn (below g->frames) if it was ever written,
 * else NULL: svt_gmem_page(g, gfn, false), inline for the paths every
 * guest entry read and every logged write take. */
static inline uint8_t *gmem_have(const struct svt_gmem *g, uint64_t gfn)
{
	uint8_t **c = g->chunk[gfn >> SVT_GMEM_CHUNK_BITS];
	return c ? c[gfn & (CHUNK_PAGES - 1)] : NULL;
}

uint8_t *svt_gmem_page(struct svt_gmem *g, uint64_t gfn, bool alloc)
{
	if (gfn >= g->frames)
		return NULL;
	uint8_t **c = g->chunk[gfn >> SVT_GMEM_CHUNK_BITS];
	if (!c) {
		if (!alloc)
			return NULL;
		c = calloc(CHUNK_PAGES, sizeof(*c));
		if (!c)
			return NULL;
		g->chunk[gfn >> SVT_GMEM_CHUNK_BITS] = c;
	}
	uint8_t **slot = &c[gfn & (CHUNK_PAGES - 1)];
	if (!*slot && alloc) {
		/* Pages come from big zeroed slabs: few allocator calls, so
		 * replays in several threads do not queue on the address
		 * space's lock (-j). */
		if (g->nslabs == 0 || g->slab_used == SVT_GMEM_SLAB) {
			if (g->nslabs == g->slabcap) {
				size_t n = g->slabcap ? 2 * g->slabcap : 16;
				uint8_t **ns = realloc(g->slabs, n * sizeof(*ns));
				if (!ns)
					return NULL;
				g->slabs = ns;
				g->slabcap = n;
			}
			uint8_t *slab = calloc(SVT_GMEM_SLAB, 4096);
			if (!slab)
				return NULL;
			g->slabs[g->nslabs++] = slab;
			g->slab_used = 0;
		}
		*slot = g->slabs[g->nslabs - 1] + (size_t)g->slab_used++ * 4096;
		g->pages++;
	}
	return *slot;
}

void svt_gmem_read(struct svt_gmem *g, uint64_t gpa, void *buf, size_t len)
{
	uint8_t *out = buf;

	if (g->hook && gpa >> 12 < g->frames)
		g->hook(g->hook_ctx, gpa, len, false);
	if ((gpa & 0xfff) + len <= 4096 && gpa >> 12 < g->frames) {    /* the common case */
		const uint8_t *p = gmem_have(g, gpa >> 12);
		if (p)
			memcpy(out, p + (gpa & 0xfff), len);
		else
			memset(out, 0, len);
		return;
	}

	while (len > 0) {
		size_t off = gpa & 0xfff, n = 4096 - off;
		if (n > len)
			n = len;
		const uint8_t *p = svt_gmem_page(g, gpa >> 12, false);
		if (p)
			memcpy(out, p + off, n);
		else
			memset(out, 0, n);
		out += n;
		gpa += n;
		len -= n;
	}
}

int svt_gmem_write(struct svt_gmem *g, uint64_t gpa, const void *buf, size_t len)
{
	const uint8_t *in = buf;

	if (g->hook && gpa >> 12 < g->frames)
		g->hook(g->hook_ctx, gpa, len, true);
	if (len > 0 && (gpa & 0xfff) + len <= 4096 && gpa >> 12 < g->frames) {    /* common */
		uint8_t *p = gmem_have(g, gpa >> 12);
		if (!p && !(p = svt_gmem_page(g, gpa >> 12, true)))
			return -1;
		memcpy(p + (gpa & 0xfff), in, len);
		return 0;
	}
	while (len > 0) {
		size_t off = gpa & 0xfff, n = 4096 - off;
		if (n > len)
			n = len;
		if ((gpa >> 12) < g->frames) {
			uint8_t *p = svt_gmem_page(g, gpa >> 12, true);
			if (!p)
				return -1;
			memcpy(p + off, in, n);
		}
		in += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

/* ---- the machine ----------------------------------------------------------- */

static bool in_ranges(const struct svt_trace_range *r, size_t n, uint64_t gfn)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {       /* the last range starting at or below gfn */
		size_t mid = lo + (hi - lo) / 2;
		if (r[mid].gfn <= gfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && gfn - r[lo - 1].gfn < r[lo - 1].count;
}

static bool is_ram(const struct svt_machine *m, uint64_t gfn)
{
	return gfn < m->mem.frames && (!m->ram || in_ranges(m->ram, m->nram, gfn));
}

/* m_read() for what its fast path leaves: several pages, frames that are
 * not RAM, a hook to tell. */
static __attribute__((noinline)) int m_read_slow(struct svt_machine *m, uint64_t gpa, void *buf,
						 size_t len)
{
	if (!m->ram && (gpa >> 12) < m->mem.frames && ((gpa + len - 1) >> 12) < m->mem.frames) {
		svt_gmem_read(&m->mem, gpa, buf, len);
		return 0;
	}
	uint8_t *out = buf;
	while (len > 0) {
		size_t n = 4096 - (gpa & 0xfff);
		if (n > len)
			n = len;
		if (is_ram(m, gpa >> 12))
			svt_gmem_read(&m->mem, gpa, out, n);
		else
			memset(out, 0xff, n);
		gpa += n, out += n, len -= n;
	}
	return 0;
}

/* Guest RAM as written; anything else reads as all ones, as an absent
 * device does on bare metal (and as the hypervisor gives it the core). */
static int m_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct svt_machine *m = ctx;
	/* The core's reads are guest entries (every walk reads one a level):
	 * with all of RAM below frames and nobody watching, one page's bytes
	 * or zeros, a fixed-size copy for an 8-byte entry; the rest out of
	 * line, so that this path saves no registers. */
	if (m->ram || m->mem.hook || (gpa & 0xfff) + len > 4096 || gpa >> 12 >= m->mem.frames)
		return m_read_slow(m, gpa, buf, len);
	const uint8_t *p = gmem_have(&m->mem, gpa >> 12);
	if (len == 8 && p)
		memcpy(buf, p + (gpa & 0xfff), 8);
	else if (p)
		memcpy(buf, p + (gpa & 0xfff), len);
	else
		memset(buf, 0, len);
	return 0;
}

static int m_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct svt_machine *m = ctx;
	if (svt_gmem_write(&m->mem, gpa, buf, len) != 0) {
		m->oom = true;
		return -1;
	}
	return 0;
}

static svt_mfn_t m_g2m(void *ctx, svt_gfn_t g)
{
	struct svt_machine *m = ctx;
	uint64_t gfn = svt_gfn_x(g);
	if (!is_ram(m, gfn) && !(m->ndevices && in_ranges(m->devices, m->ndevices, gfn)))
		return SVT_INVALID_MFN;
	return svt_mfn(gfn + m->ram_mfn0);
}

void svt_machine_set_devices(struct svt_machine *m, const struct svt_trace_range *dev, size_t n)
{
	m->devices = dev;
	m->ndevices = n;
}

void svt_machine_set_ram(struct svt_machine *m, const struct svt_trace_range *ram, size_t nram)
{
	bool all = nram == 1 && ram[0].gfn == 0 && ram[0].count >= m->mem.frames;
	m->ram = all ? NULL : ram;
	m->nram = all ? 0 : nram;
}

static void *m_map(void *ctx, svt_mfn_t f)
{
	struct svt_machine *m = ctx;
	uint64_t mfn = svt_mfn_x(f);
	if (mfn < SVT_POOL_MFN0 || mfn - SVT_POOL_MFN0 >= m->pool_frames)
		return NULL;    /* the core maps only its pool frames */
	return m->pool + (mfn - SVT_POOL_MFN0) * 4096;
}

static void m_flush(void *ctx, int kind, uint64_t va)
{
	struct svt_machine *m = ctx;
	if (m->on_flush)
		m->on_flush(m->cb_ctx, kind, va);
}

static void m_event(void *ctx, const struct svt_event *ev)
{
	struct svt_machine *m = ctx;
	if (m->on_event)
		m->on_event(m->cb_ctx, ev);
}

int svt_machine_init(struct svt_machine *m, uint64_t guest_frames, unsigned pool_frames)
{
	memset(m, 0, sizeof(*m));
	if (svt_gmem_init(&m->mem, guest_frames) != 0)
		return -1;
	m->pool_frames = pool_frames;
	m->pool = calloc(pool_frames ? pool_frames : 1, 4096);
	m->pool_mfns = calloc(pool_frames ? pool_frames : 1, sizeof(*m->pool_mfns));
	if (!m->pool || !m->pool_mfns) {
		svt_machine_free(m);
		return -1;
	}
	for (unsigned i = 0; i < pool_frames; i++)
		m->pool_mfns[i] = svt_mfn(SVT_POOL_MFN0 + i);
	/* RAM right above the pool, on a 4 MiB boundary */
	m->ram_mfn0 = (SVT_POOL_MFN0 + pool_frames + 0x3ff) & ~0x3ffull;
	m->env = (struct svt_env){
		.ctx = m, .read_gpa = m_read, .write_gpa = m_write, .gfn_to_mfn = m_g2m,
		.map_mfn = m_map, .flush_tlb = m_flush, .event = m_event,
	};
	return 0;
}

void svt_machine_free(struct svt_machine *m)
{
	svt_gmem_free(&m->mem);
	free(m->pool);
	free(m->pool_mfns);
	m->pool = NULL;
	m->pool_mfns = NULL;
}

uint64_t svt_machine_m2g(const struct svt_machine *m, uint64_t mfn)
{
	if (mfn < m->ram_mfn0)
		return ~0ull;
	uint64_t gfn = mfn - m->ram_mfn0;
	if (gfn < m->mem.frames || (m->ndevices && in_ranges(m->devices, m->ndevices, gfn)))
		return gfn;
	return ~0ull;
}

static int machine_access(struct svt_machine *m, uint64_t pa, void *buf, size_t len, bool write)
{
	uint64_t mfn = pa >> 12;

	if (((pa + len - 1) >> 12) != mfn)
		return -1;      /* entries never cross pages */
	if (mfn >= SVT_POOL_MFN0 && mfn - SVT_POOL_MFN0 < m->pool_frames) {
		uint8_t *p = m->pool + (pa - SVT_POOL_MFN0 * 4096);
		if (write)
			memcpy(p, buf, len);
		else
			memcpy(buf, p, len);
		return 0;
	}
	uint64_t gfn = svt_machine_m2g(m, mfn);
	if (gfn == ~0ull)
		return -1;
	uint64_t gpa = (gfn << 12) | (pa & 0xfff);
	if (write)
		return m_write(m, gpa, buf, len);
	svt_gmem_read(&m->mem, gpa, buf, len);
	return 0;
}

int svt_machine_read(struct svt_machine *m, uint64_t pa, void *buf, size_t len)
{
	return machine_access(m, pa, buf, len, false);
}

int svt_machine_write(struct svt_machine *m, uint64_t pa, const void *buf, size_t len)
{
	return machine_access(m, pa, (void *)buf, len, true);
}

static int hw_read(void *ctx, uint64_t pa, void *buf, size_t len)
{
	return svt_machine_read(ctx, pa, buf, len);
}

static int hw_write(void *ctx, uint64_t pa, const void *buf, size_t len)
{
	return svt_machine_write(ctx, pa, buf, len);
}

void svt_machine_hw_env(struct svt_machine *m, struct svt_env *env)
{
	*env = (struct svt_env){ .ctx = m, .read_gpa = hw_read, .write_gpa = hw_write };
}
