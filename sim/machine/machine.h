/*
 * machine.h — guest memory and machine frames for the host-side hosts of
 * the core (shadowvt synth and replay).
 *
 * Guest-physical memory is sparse: pages exist once written and read as
 * zero before that, and addresses outside guest RAM read as all ones and
 * ignore writes (the platform's choice, documented in shadowvt-trace(5):
 * a replayer does the same).  Machine frames: the shadow pool is frames
 * [SVT_POOL_MFN0, SVT_POOL_MFN0 + pool), guest RAM frame g is machine
 * frame g + ram_mfn0, so a shadow entry that holds a guest frame where a
 * machine frame belongs points at the wrong page (INV-FRAME sees it).
 */
#ifndef SVT_MACHINE_H
#define SVT_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svt.h"
#include "trace.h"

/* ---- sparse guest memory ----------------------------------------------- */

#define SVT_GMEM_CHUNK_BITS 16          /* pages per second-level table: 2^16 */
#define SVT_GMEM_MAX_FRAMES (1ull << 26)        /* 256 GiB of guest RAM */

struct svt_gmem {
	uint64_t frames;        /* RAM is [0, frames) */
	uint8_t ***chunk;       /* [frames >> CHUNK_BITS (rounded up)][1 << CHUNK_BITS] */
	size_t nchunks;
	uint64_t pages;         /* pages allocated */
	uint8_t **slabs;        /* pages come from slabs of SVT_GMEM_SLAB pages */
	size_t nslabs, slabcap;
	unsigned slab_used;     /* pages taken from the last slab */
	/* told of every read and write of RAM (NULL: nobody; replay's
	 * on_mem, which shadowvt reduce uses to keep only the memory read) */
	void (*hook)(void *ctx, uint64_t gpa, size_t len, bool write);
	void *hook_ctx;
};
#define SVT_GMEM_SLAB 256

int svt_gmem_init(struct svt_gmem *g, uint64_t frames);        /* 0 or -1 (ENOMEM) */
void svt_gmem_free(struct svt_gmem *g);
/* The page of gfn: NULL when not RAM, or when never written and !alloc
 * (or out of memory). */
uint8_t *svt_gmem_page(struct svt_gmem *g, uint64_t gfn, bool alloc);
/* Read/write len bytes at gpa (may cross pages); outside RAM reads zero
 * and drops writes.  write returns -1 only when out of memory. */
void svt_gmem_read(struct svt_gmem *g, uint64_t gpa, void *buf, size_t len);
int svt_gmem_write(struct svt_gmem *g, uint64_t gpa, const void *buf, size_t len);

/* ---- a machine: guest memory, the shadow pool, the core's environment -- */

#define SVT_POOL_MFN0 0x10ull

struct svt_machine {
	struct svt_gmem mem;
	uint8_t *pool;          /* pool_frames * 4096 */
	unsigned pool_frames;
	svt_mfn_t *pool_mfns;
	uint64_t ram_mfn0;      /* machine frame of guest frame 0 */
	const struct svt_trace_range *ram;      /* which frames are RAM (NULL: all) */
	size_t nram;
	const struct svt_trace_range *devices;  /* device frames passed through */
	size_t ndevices;
	bool oom;               /* a guest write could not allocate */
	/* told of flush_tlb and events (NULL: ignored) */
	void (*on_flush)(void *ctx, int kind, uint64_t va);
	void (*on_event)(void *ctx, const struct svt_event *ev);
	void *cb_ctx;
	struct svt_env env;     /* read/write guest memory, frames, pool, callbacks */
};

int svt_machine_init(struct svt_machine *m, uint64_t guest_frames, unsigned pool_frames);
void svt_machine_free(struct svt_machine *m);
/* Only these frames are RAM (sorted, disjoint; kept by reference); the
 * others are device memory (gfn_to_mfn answers SVT_INVALID_MFN). */
void svt_machine_set_ram(struct svt_machine *m, const struct svt_trace_range *ram, size_t nram);
/* These frames are devices the hypervisor passed through (sorted,
 * disjoint, no RAM; kept by reference): gfn_to_mfn maps them (machine
 * frame gfn + ram_mfn0, as RAM), reads of them give all ones and writes
 * are dropped, as for every frame that is not RAM. */
void svt_machine_set_devices(struct svt_machine *m, const struct svt_trace_range *dev, size_t n);
/* The guest frame of machine frame mfn, or ~0 when it is neither guest
 * RAM nor a passed-through device. */
uint64_t svt_machine_m2g(const struct svt_machine *m, uint64_t mfn);
/* Read machine memory (the pool, or guest RAM through its machine
 * frames): 0, or -1 when pa is neither. */
int svt_machine_read(struct svt_machine *m, uint64_t pa, void *buf, size_t len);
int svt_machine_write(struct svt_machine *m, uint64_t pa, const void *buf, size_t len);
/* An environment over machine memory, for walking the shadow tables as
 * the hardware does (svt_walk with the svt_hw_state registers). */
void svt_machine_hw_env(struct svt_machine *m, struct svt_env *env);

#endif /* SVT_MACHINE_H */
