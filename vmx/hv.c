/*
 * hv.c — the hypervisor's main: serial ports, the guest, the shadow MMU
 * core and its environment, then VMX (exit.c).
 */
#include "hv.h"
#include "hvrec.h"
#include "policy.h"

uint64_t hv_phys = HV_BASE, hv_guest_top = HV_BASE, hv_high_lo, hv_high_hi;

/* The shadow pool is in the image, which stays below 4 GiB: a 32-bit
 * (2-level) shadow can point only at frames there. */
static uint8_t pool[HV_POOL_FRAMES][4096] __attribute__((aligned(4096)));
static svt_mfn_t pool_mfns[HV_POOL_FRAMES];
/* The core's storage: svt_mmu_storage_size() for the guest RAM given,
 * taken from RAM next to the image (move_up), reached through the direct
 * map; it grows with the guest's frames, so it is no part of the image. */
static uint64_t store_pa, store_len;

/* The direct map beyond 4 GiB (boot.S maps [0, 4 GiB)): one directory of
 * 2 MiB pages per GiB up to HV_DMAP_MAX, hung in boot.S's dmap_pdpt. */
extern uint64_t dmap_pdpt[512];
static uint64_t dmap_high[HV_DMAP_MAX / (1ull << 30) - 4][512] __attribute__((aligned(4096)));

/* Guest RAM is machine memory below the hypervisor and from 4 GiB up, 1:1. */
static bool ram_range(uint64_t gpa, size_t len)
{
	return hv_is_ram(gpa, len);
}

static int env_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	(void)ctx;
	if (!ram_range(gpa, len)) {
		memset(buf, 0xff, len);         /* nothing there: reads as all ones */
		return 0;
	}
	memcpy(buf, hv_gpa(gpa), len);
	return 0;
}

static int env_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	(void)ctx;
	if (ram_range(gpa, len))
		memcpy(hv_gpa(gpa), buf, len);
	return 0;
}

/* Device memory the guest may map (1:1): every frame below 4 GiB that the
 * loader's map does not call usable RAM, above guest RAM (dev_ranges). */
#define HV_MAX_DEVICES 32
static struct hv_range dev[HV_MAX_DEVICES];
static unsigned ndev;

static bool is_device(uint64_t gfn)
{
	for (unsigned i = 0; i < ndev; i++)
		if (gfn - dev[i].gfn < dev[i].count)
			return true;
	return false;
}

static svt_mfn_t env_g2m(void *ctx, svt_gfn_t g)
{
	(void)ctx;
	uint64_t gfn = svt_gfn_x(g);
	bool ram = gfn < hv_guest_top >> 12 || (gfn >= hv_high_lo >> 12 && gfn < hv_high_hi >> 12);
	return ram || is_device(gfn) ? svt_mfn(gfn) : SVT_INVALID_MFN;
}

static void *env_map(void *ctx, svt_mfn_t mfn)
{
	(void)ctx;
	uint64_t pa = svt_mfn_x(mfn) << 12;
	if (pa >= hv_phys && pa < hv_phys + (uint64_t)(hv_end - (uint8_t *)HV_BASE))
		return (void *)(uintptr_t)(pa - hv_phys + HV_BASE);        /* the pool */
	return hv_gpa(pa);
}

/* Without VPID every VM entry and exit flushes the TLB: nothing to do. */
static void env_flush(void *ctx, int kind, uint64_t va)
{
	(void)ctx;
	(void)kind;
	(void)va;
}

#ifdef SVT_HV_PROF
/* The core's clock for its profile (svt_mmu_prof(), printed per phase). */
static uint64_t env_ticks(void *ctx)
{
	(void)ctx;
	return hv_rdtsc();
}
#endif

static const struct svt_env env = {
	.read_gpa = env_read, .write_gpa = env_write, .gfn_to_mfn = env_g2m,
	.map_mfn = env_map, .flush_tlb = env_flush,
#ifdef SVT_HV_PROF
	.ticks = env_ticks,
#endif
};

/* The loader's usable RAM regions below 4 GiB (clipped there), and those
 * from 4 GiB up, read once before the move, which may overwrite where the
 * loader left its map. */
static uint64_t ram_b[64], ram_e[64], high_b[64], high_e[64];
static unsigned nram, nhigh;

static void read_ram_map(const uint8_t *mbi)
{
	if (!(svt_get32(mbi) & (1u << 6)))
		return;
	uint32_t len = svt_get32(mbi + 44), addr = svt_get32(mbi + 48);
	for (uint32_t off = 0; off + 24 <= len;) {
		const uint8_t *e = hv_gpa((uint64_t)addr + off);
		uint64_t b = svt_get64(e + 4), l = svt_get64(e + 12);
		uint64_t end = b + l < b ? ~0ull : b + l;
		off += svt_get32(e) + 4;
		if (svt_get32(e + 20) != 1)
			continue;
		uint64_t lo_end = end > (4ull << 30) ? (4ull << 30) : end;
		if (b < lo_end && nram < 64) {
			ram_b[nram] = b;
			ram_e[nram] = lo_end;
			nram++;
		}
		uint64_t hi_b = b > (4ull << 30) ? b : (4ull << 30);
		if (hi_b < end && nhigh < 64) {
			high_b[nhigh] = hi_b;
			high_e[nhigh] = end;
			nhigh++;
		}
	}
}

/* Guest RAM above 4 GiB: the lowest usable region there and those that
 * continue it, in whole frames, as far as the direct map reaches. */
static void high_range(void)
{
	uint64_t lo = ~0ull, hi = 0;
	for (unsigned i = 0; i < nhigh; i++)
		if (high_b[i] < lo) {
			lo = high_b[i];
			hi = high_e[i];
		}
	for (bool grew = nhigh > 0; grew;) {
		grew = false;
		for (unsigned i = 0; i < nhigh; i++)
			if (high_b[i] <= hi && high_e[i] > hi) {
				hi = high_e[i];
				grew = true;
			}
	}
	lo = (lo + 4095) & ~4095ull;
	if (hi > HV_DMAP_MAX) {
		hv_printf("hv: RAM above %#lx left out (the direct map's reach)\n", HV_DMAP_MAX);
		hi = HV_DMAP_MAX;
	}
	hi &= ~4095ull;
	if (nhigh == 0 || lo >= hi)
		return;
	hv_high_lo = lo;
	hv_high_hi = hi;
}

/* Extend the direct map over [4 GiB, hv_high_hi), once the image has
 * moved (its tables are the copy's; hv_pa gives their new place). */
static void map_high(void)
{
	if (!hv_high_hi)
		return;
	for (uint64_t gib = 4; gib << 30 < hv_high_hi; gib++) {
		uint64_t *pd = dmap_high[gib - 4];
		for (uint64_t i = 0; i < 512; i++)
			pd[i] = (gib << 30 | i << 21) | 0x83;   /* P, RW, PS */
		dmap_pdpt[gib] = hv_pa(pd) | 3;
	}
	uint64_t cr3;
	__asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) :: "memory");
	hv_printf("hv: guest RAM above 4 GiB: %#lx..%#lx\n", hv_high_lo, hv_high_hi - 1);
}

/* The gaps between the usable RAM regions from guest RAM's top to 4 GiB,
 * in whole frames: the device ranges. */
static void dev_ranges(void)
{
	uint64_t at = hv_guest_top;     /* the lowest address not yet placed */
	for (;;) {
		/* the usable region that covers at, or else the next one above */
		uint64_t next = 4ull << 30, next_end = 0;
		bool covered = false;
		for (unsigned i = 0; i < nram; i++) {
			if (ram_b[i] <= at && ram_e[i] > at) {
				covered = true;
				at = ram_e[i];
				break;
			}
			if (ram_b[i] > at && ram_b[i] < next) {
				next = ram_b[i];
				next_end = ram_e[i];
			}
		}
		if (covered)
			continue;
		uint64_t f0 = (at + 4095) >> 12, f1 = next >> 12;
		if (f1 > f0 && ndev < HV_MAX_DEVICES) {
			dev[ndev].gfn = f0;
			dev[ndev].count = f1 - f0;
			ndev++;
		}
		if (next_end == 0)
			break;
		at = next_end;
	}
	for (unsigned i = 0; i < ndev; i++)
		hv_printf("hv: device memory %#lx..%#lx passed through\n", dev[i].gfn << 12,
			  ((dev[i].gfn + dev[i].count) << 12) - 1);
}

/* The usable RAM region below 4 GiB with the highest end. */
static void top_region(uint64_t *b, uint64_t *e)
{
	*b = *e = 0;
	for (unsigned i = 0; i < nram; i++)
		if (ram_e[i] > *e) {
			*b = ram_b[i];
			*e = ram_e[i];
		}
}

/*
 * Move the image, and after it store bytes of the core's storage, to the
 * top of the highest usable RAM region below 4 GiB, if that region also
 * holds [1 MiB, the new place) (the guest's RAM) and the new place
 * overlaps neither where the image is now nor a Linux guest's modules;
 * else stay, the storage right above the image, where there must be RAM.
 * Sets hv_phys, hv_guest_top and the storage's place.
 */
static void move_up(uint64_t store)
{
	uint64_t size = (uint64_t)(hv_end - (uint8_t *)HV_BASE), best_b, best_e;
	top_region(&best_b, &best_e);
	store = (store + 0x1fffff) & ~0x1fffffull;
	store_len = store;
	uint64_t dest = best_e >= size + store ? (best_e - size - store) & ~0x1fffffull : 0;
	if (best_e == 0 || best_b > 0x100000 || dest < best_b || dest < HV_BASE + size ||
	    dest < hv_linux_modules_end()) {
		hv_printf("hv: staying at %#lx (no room at the top of RAM)\n", HV_BASE);
		hv_guest_top = HV_BASE;
		store_pa = HV_BASE + size;
		bool fits = false;
		for (unsigned i = 0; i < nram; i++)
			fits |= ram_b[i] <= store_pa && store_pa + store <= ram_e[i];
		if (!fits)
			hv_panic("no RAM for the core's %lu bytes of storage above the image "
				 "(%#lx)", store, store_pa);
		return;
	}
	hv_move(dest, size);
	hv_phys = dest;
	hv_guest_top = dest;
	store_pa = dest + size;
	hv_printf("hv: moved to %#lx..%#lx, the core's storage %#lx..%#lx; guest RAM below\n", dest,
		  dest + size, store_pa, store_pa + store);
}

void hv_main(uint32_t magic, uint32_t info)
{
	serial_init(0x3f8);
	serial_init(0x2f8);
	serial_init(0x3e8);
	hv_printf("hv: shadowvt hypervisor, image %#lx..%#lx\n", HV_BASE,
		  (uint64_t)(uintptr_t)hv_end);
	if (magic != 0x2badb002u)
		hv_panic("not started by a Multiboot loader (EAX %#x)", magic);
	const uint8_t *mbi = hv_gpa(info);
	const char *cmd = (mbi[0] & 4) ? (const char *)hv_gpa(svt_get32(mbi + 16)) : "";
	struct svt_policy policy;
	unsigned pool_frames, roots;
	svt_policy_default_hv(&policy, &pool_frames, &roots);
	for (const char *c = cmd; *c; c++) {
		if (memcmp(c, "verbose", 7) == 0)
			hv_verbose = true;
		if (memcmp(c, "stream=lpt", 10) == 0)
			hv_stream_lpt = true;
		if (memcmp(c, "strict-memory", 13) == 0)
			hv_strict_memory = true;
		if (memcmp(c, "policy=", 7) == 0) {
			/* "policy=SPEC" up to a blank (shadowvt(1), POLICIES) */
			size_t n = 0;
			char why[160];
			while (c[7 + n] && c[7 + n] != ' ')
				n++;
			if (svt_policy_parse_n(c + 7, n, &policy, &pool_frames, &roots,
					       HV_POOL_FRAMES, why, sizeof(why)) != 0)
				hv_panic("bad policy on the command line: %s", why);
		}
	}
	/* the module and the command lines are taken before the move, which
	 * may overwrite where the loader left them */
	/* "linux" on the command line: the first module is a vmlinux, booted
	 * by the Linux boot protocol (a 64-bit Multiboot kernel is an ELF64
	 * file too, so the file alone does not say) */
	bool is_linux = false;
	for (const char *c = cmd; *c; c++)
		if (memcmp(c, "linux", 5) == 0 && (c == cmd || c[-1] == ' ') &&
		    (c[5] == 0 || c[5] == ' '))
			is_linux = true;
	if (is_linux && !hv_linux_probe(info))
		hv_panic("\"linux\" given, but the first module is not an x86-64 ELF kernel");
	if (!(is_linux ? hv_linux_take(info) : hv_take_guest(info)))
		hv_poweroff(3);
	read_ram_map(mbi);
	high_range();

	uint32_t a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000u), "c"(0));
	uint8_t maxphy = 36;
	uint32_t features = 0;
	if (a >= 0x80000008u) {
		__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
				 : "a"(0x80000008u), "c"(0));
		maxphy = (uint8_t)a;
	}
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000001u), "c"(0));
	if (d & (1u << 26))
		features |= SVT_FEAT_1GPAGE;
	features |= hv_cr4_features();
	/* the storage for as many frames as guest RAM can have: up to the top
	 * of RAM (the move takes some below 4 GiB; the core then gets less) */
	uint64_t top_b, top_e;
	top_region(&top_b, &top_e);
	struct svt_mmu_config cfg = {
		.pool_frames = pool_frames, .guest_frames = (hv_high_hi ? hv_high_hi : top_e) >> 12,
		.maxphyaddr = maxphy, .features = features, .links = pool_frames * 64,
		.policy = policy, .root_cache = roots,
	};
	move_up(svt_mmu_storage_size(&cfg));
	map_high();
	dev_ranges();
	struct hv_guest g = { 0 };
	if (is_linux && hv_phys < hv_linux_modules_end())
		hv_panic("not enough RAM to move above the kernel's modules (they end at %#lx)",
			 hv_linux_modules_end());
	if (!(is_linux ? hv_linux_load(&g) : hv_load_guest(&g)))
		hv_poweroff(3);
	hv_printf("hv: guest '%s', entry %#x\n", g.name, g.entry);

	for (unsigned i = 0; i < HV_POOL_FRAMES; i++)
		pool_mfns[i] = svt_mfn(hv_pa(pool[i]) >> 12);
	cfg.guest_frames = hv_guest_frames();
	size_t need = svt_mmu_storage_size(&cfg);
	if (need > store_len)           /* cannot be: fewer frames need no more */
		hv_panic("the core needs %lu bytes of storage, %lu taken", (uint64_t)need,
			 store_len);
	const struct svt_env *renv = hvrec_init(&env, &cfg, g.name, dev, ndev);
	struct svt_mmu *mmu = svt_mmu_init(hv_gpa(store_pa), store_len, &cfg, renv, pool_mfns);
	if (!mmu)
		hv_panic("the core refused its configuration");
	hv_vmx_run(&g, mmu, &env);
}
