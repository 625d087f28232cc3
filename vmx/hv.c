/*
 * hv.c — the hypervisor's main: serial ports, the guest, the shadow MMU
 * core and its environment, then VMX (exit.c).
 */
#include "hv.h"

#define GUEST_FRAMES (HV_GUEST_TOP >> 12)

extern uint8_t hv_end[];

static uint8_t pool[HV_POOL_FRAMES][4096] __attribute__((aligned(4096)));
static uint64_t pool_mfns[HV_POOL_FRAMES];
static uint8_t core_store[12u << 20] __attribute__((aligned(64)));

/* Guest RAM is machine memory below the hypervisor, 1:1. */
static bool ram_range(uint64_t gpa, size_t len)
{
	return gpa < HV_GUEST_TOP && len <= HV_GUEST_TOP - gpa;
}

static int env_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	(void)ctx;
	if (!ram_range(gpa, len)) {
		memset(buf, 0xff, len);         /* nothing there: reads as all ones */
		return 0;
	}
	memcpy(buf, (const void *)(uintptr_t)gpa, len);
	return 0;
}

static int env_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	(void)ctx;
	if (ram_range(gpa, len))
		memcpy((void *)(uintptr_t)gpa, buf, len);
	return 0;
}

static uint64_t env_g2m(void *ctx, uint64_t gfn)
{
	(void)ctx;
	return gfn < GUEST_FRAMES ? gfn : SVT_INVALID_MFN;
}

static void *env_map(void *ctx, uint64_t mfn)
{
	(void)ctx;
	return (void *)(uintptr_t)(mfn << 12);
}

/* Without VPID every VM entry and exit flushes the TLB: nothing to do. */
static void env_flush(void *ctx, int kind, uint64_t va)
{
	(void)ctx;
	(void)kind;
	(void)va;
}

static const struct svt_env env = {
	.read_gpa = env_read, .write_gpa = env_write, .gfn_to_mfn = env_g2m,
	.map_mfn = env_map, .flush_tlb = env_flush,
};

void hv_main(uint32_t magic, uint32_t info)
{
	serial_init(0x3f8);
	serial_init(0x2f8);
	hv_printf("hv: shadowvt hypervisor, image %#lx..%#lx\n", HV_BASE, (uint64_t)(uintptr_t)hv_end);
	if (magic != 0x2badb002u)
		hv_panic("not started by a Multiboot loader (EAX %#x)", magic);
	if ((uintptr_t)hv_end > 0x8000000)
		hv_panic("the image ends above 128 MiB");
	const uint8_t *mbi = (const uint8_t *)(uintptr_t)info;
	const char *cmd = (mbi[0] & 4) ? (const char *)(uintptr_t)*(const uint32_t *)(const void *)(mbi + 16) : "";
	for (const char *c = cmd; *c; c++)
		if (memcmp(c, "verbose", 7) == 0)
			hv_verbose = true;
	struct hv_guest g;
	if (!hv_load_guest(info, &g))
		hv_poweroff(3);
	hv_printf("hv: guest '%s', entry %#x\n", g.name, g.entry);

	for (unsigned i = 0; i < HV_POOL_FRAMES; i++)
		pool_mfns[i] = (uintptr_t)pool[i] >> 12;
	struct svt_mmu_config cfg = {
		.pool_frames = HV_POOL_FRAMES, .guest_frames = GUEST_FRAMES, .maxphyaddr = 36,
		.links = HV_POOL_FRAMES * 64,
		.policy = { .oos = 2, .prefetch = 8, .emulate = true, .early_unshadow = true },
	};
	size_t need = svt_mmu_storage_size(&cfg);
	if (need > sizeof(core_store))
		hv_panic("the core needs %lu bytes of storage", (uint64_t)need);
	struct svt_mmu *mmu = svt_mmu_init(core_store, sizeof(core_store), &cfg, &env, pool_mfns);
	if (!mmu)
		hv_panic("the core refused its configuration");
	hv_vmx_run(&g, mmu, &env);
}
