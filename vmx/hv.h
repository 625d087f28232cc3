/*
 * hv.h — the shadowvt hypervisor (vmx/): shared declarations.
 *
 * Freestanding, 64-bit, booted by a Multiboot loader (boot.S).  It runs one
 * guest, a Multiboot kernel given as the first module, with VT-x, EPT off
 * and unrestricted guest off: the shadow MMU core (src/, linked from
 * libsvtcore-fs.a) does all translation.  The hypervisor moves its image
 * (code, data, the shadow pool) and the core's storage (sized for the guest
 * RAM given) to the top of the machine's RAM below 4 GiB; guest RAM is
 * machine memory below it and the loader's usable RAM from 4 GiB up, both
 * 1:1, and the hypervisor's memory is never mapped into the guest.
 */
#ifndef HV_H
#define HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "policy.h"
#include "portio.h"
#include "svt.h"

/*
 * Seeded hypervisor bugs, for tests/hv-broken.sh only (make builds
 * vmx/hv-broken-N.elf with HV_BROKEN=N): differences from bare metal put
 * back, so that the checks are shown to catch them.
 *   1: CPUID.OSXSAVE and CPUID.OSPKE as the CPU answers in VMX root
 *      operation, mirroring the hypervisor's own CR4, not the guest's
 *      (exit.c; kvm-unit-tests found it; replay's INV-CPU)
 *   2: injected faults leave RFLAGS.RF as it was (exit.c; likewise)
 *   3: a VM exit saves the guest's IA32_PAT but does not load the
 *      hypervisor's (vmx.c; the end of hv.txt shows it, as
 *      tests/live-guests.sh reads it)
 */
#ifndef HV_BROKEN
#define HV_BROKEN 0
#endif

#define HV_BASE         0x1000000ul    /* the image's addresses (hv.ld, boot.S) */
#define HV_DMAP         0xffff800000000000ul    /* physical memory [0, 4 GiB), and high RAM */
#define HV_DMAP_MAX     (64ul << 30)    /* the direct map's reach (hv.c's tables for it) */

/* Where the image is in physical memory (hv_move), and the top of guest
 * RAM below 4 GiB: [0, hv_guest_top) less the legacy hole [0x9fc00, 1 MiB).
 * Guest RAM above 4 GiB, the loader's usable RAM there (PAE and 4-level
 * guests reach it): [hv_high_lo, hv_high_hi), empty when both are 0. */
extern uint64_t hv_phys, hv_guest_top, hv_high_lo, hv_high_hi;
#define HV_GUEST_TOP    hv_guest_top
extern uint8_t hv_end[];

/* [gpa, gpa + len) lies in guest RAM: one of its two ranges. */
static inline bool hv_is_ram(uint64_t gpa, uint64_t len)
{
	return (gpa < hv_guest_top && len <= hv_guest_top - gpa) ||
	       (gpa >= hv_high_lo && gpa < hv_high_hi && len <= hv_high_hi - gpa);
}
/* Guest frames the core and the trace cover: up to the top of guest RAM. */
static inline uint64_t hv_guest_frames(void)
{
	return (hv_high_hi ? hv_high_hi : hv_guest_top) >> 12;
}

/* Guest-physical (= machine) address to a pointer, through the direct map. */
static inline void *hv_gpa(uint64_t pa) { return (void *)(HV_DMAP + pa); }
/* A pointer into the image to its machine address. */
static inline uint64_t hv_pa(const void *p) { return (uintptr_t)p - HV_BASE + hv_phys; }
void hv_move(uint64_t dest, uint64_t size);
/* The shadow pool (8 MiB) and the top-level shadows kept pinned (a Linux
 * process with page-table isolation has two, and a fork storm switches
 * among a handful): common/policy.h's hypervisor defaults. */
#define HV_POOL_FRAMES  SVT_POLICY_HV_POOL
#define HV_MARK_PORT    0x8a8           /* a guest's phase marks (guests/linux/svt-mark.c) */

/* Guest general registers, in the encoding order of struct svt_emu_regs
 * (boot.S depends on the layout; rsp is in the VMCS). */
struct hv_gprs {
	uint64_t gpr[16];
};

/* A range of frames. */
struct hv_range {
	uint64_t gfn, count;
};

/* lib.c */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
void serial_init(uint16_t base);
void serial_putc(uint16_t base, char c);
void serial_drain(uint16_t base);
/* The hypervisor's log: COM3 (the guest owns COM1, the trace stream COM2). */
void hv_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void hv_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void hv_poweroff(int code);

/* mboot.c: the guest, loaded as a Multiboot loader would */
struct hv_guest {
	uint32_t entry;
	uint32_t magic;         /* EAX at the entry: the Multiboot 1 or 2 boot magic */
	uint32_t info;          /* guest-physical address of its Multiboot information
				   (Linux: its zero page) */
	const char *name;
	bool is_linux;             /* started in 64-bit mode by the Linux boot protocol */
	uint32_t linux_cr3, linux_gdt;
};
/* Copy the first module and its command line from where the loader left
 * them (before the hypervisor moves), then load it into guest RAM. */
bool hv_take_guest(uint32_t mb_info);
bool hv_load_guest(struct hv_guest *g);

/* linux.c: a vmlinux as the first module (the 64-bit boot protocol) */
bool hv_linux_probe(uint32_t mb_info);
bool hv_linux_take(uint32_t mb_info);
uint64_t hv_linux_modules_end(void);
bool hv_linux_load(struct hv_guest *g);

/* hv.c */
void hv_main(uint32_t magic, uint32_t info);

/* exit.c */
extern bool hv_verbose;
/* "strict-memory": an access to memory with nothing behind it stops the
 * guest, instead of reading all ones and dropping writes (mmio.c) */
extern bool hv_strict_memory;

/* mmio.c: an instruction whose access the core found to have nothing
 * behind it (SVT_PF_MMIO), performed as bare metal does: reads all ones,
 * writes dropped.  DONE: *regs updated (RIP past it, or for REP as far as
 * it got); FAULT: inject #PF(error_code) at cr2, *regs as the CPU leaves
 * them; UNHANDLED: nothing changed, not an instruction done here. */
enum hv_mmio_rc { HV_MMIO_DONE, HV_MMIO_FAULT, HV_MMIO_UNHANDLED };
struct hv_mmio_result {
	bool fault;
	uint32_t error_code;
	uint64_t cr2;
	unsigned len;           /* the instruction's length, where decoded */
	unsigned reads, writes; /* pieces read as all ones, writes dropped */
};
enum hv_mmio_rc hv_mmio(const struct svt_env *env, const struct svt_regs *paging, uint8_t cpl,
			bool write, struct svt_emu_regs *regs, int bits, const uint8_t *insn,
			unsigned insn_len, struct hv_mmio_result *out);
/* record.c */
extern bool hv_stream_lpt;              /* "stream=lpt": the trace stream on LPT1, else COM2 */

/* vmx.c: VMX on, the VMCS, and access to it */
void hv_vmx_setup(const struct hv_guest *g);
void hv_sync_hw(struct svt_mmu *mmu);
void hv_vmx_log_pat(void);                /* the guest's IA32_PAT and the hypervisor's, to the log */
/* TSC ticks spent per component of the exit path (printed per phase). */
enum { PROF_FETCH, PROF_CORE, PROF_READ, PROF_EMIT, PROF_STREAM, PROF_SYNC, PROF_N };
extern uint64_t hv_prof[PROF_N];
static inline uint64_t hv_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}
extern bool hv_invpcid, hv_rdtscp;      /* the guest may use them (else CPUID hides them) */
extern bool hv_act_hlt;                 /* a guest's HLT can wait in activity state HLT */
extern bool hv_mtf;                     /* the monitor trap flag may be set (a step, exit.c) */
/* The CR4 features the guest gets (svt.h's SVT_FEAT_CR4_*), from
 * IA32_VMX_CR4_FIXED1 and CPUID; sets hv_cr4_offered (the CR4 bits). */
uint32_t hv_cr4_features(void);
extern uint64_t hv_cr4_offered;
/* VMREAD and VMWRITE of the current VMCS (inline: an exit takes a dozen) */
static inline uint64_t hv_vmread(uint64_t field)
{
	uint64_t v;
	uint8_t fail;
	__asm__ volatile("vmread %2, %1; setna %0" : "=q"(fail), "=rm"(v) : "r"(field) : "cc");
	if (__builtin_expect(fail, 0))
		hv_panic("vmread %#lx failed", field);
	return v;
}

static inline void hv_vmwrite(uint64_t field, uint64_t val)
{
	uint8_t fail;
	__asm__ volatile("vmwrite %2, %1; setna %0" : "=q"(fail) : "r"(field), "rm"(val) : "cc");
	if (__builtin_expect(fail, 0))
		hv_panic("vmwrite %#lx = %#lx failed", field, val);
}
__attribute__((noreturn)) void hv_vmx_run(const struct hv_guest *g, struct svt_mmu *mmu,
					 const struct svt_env *env);
int vmx_run(struct hv_gprs *g, int launched);
void vmx_exit_entry(void);

#endif
