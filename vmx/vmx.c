/*
 * vmx.c — VMX operation: controls from the capability MSRs, the VMCS for a
 * guest entered as a Multiboot loader enters a kernel, and the VM-exit
 * handlers that hand #PF, CR accesses, INVLPG and EFER to the shadow MMU
 * core and apply its answers.
 */
#include "hv.h"

/* ---- MSRs and VMX instructions ------------------------------------------ */

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

#define vmwrite hv_vmwrite
#define vmread hv_vmread

#define MSR_FEATURE_CONTROL 0x3a
#define MSR_EFER            0xc0000080u
#define MSR_VMX_BASIC       0x480
#define MSR_VMX_CR0_FIXED0  0x486
#define MSR_VMX_CR0_FIXED1  0x487
#define MSR_VMX_CR4_FIXED0  0x488
#define MSR_VMX_CR4_FIXED1  0x489
#define MSR_VMX_TRUE_PIN    0x48d
#define MSR_VMX_TRUE_PROC   0x48e
#define MSR_VMX_TRUE_EXIT   0x48f
#define MSR_VMX_TRUE_ENTRY  0x490
#define MSR_VMX_PROC2       0x48b
#define MSR_VMX_MISC        0x485

/* VMCS fields (SDM Vol. 3D, appendix B) */
enum {
	G_ES_SEL = 0x800, G_CS_SEL = 0x802, G_SS_SEL = 0x804, G_DS_SEL = 0x806, G_FS_SEL = 0x808,
	G_GS_SEL = 0x80a, G_LDTR_SEL = 0x80c, G_TR_SEL = 0x80e,
	H_ES_SEL = 0xc00, H_CS_SEL = 0xc02, H_SS_SEL = 0xc04, H_DS_SEL = 0xc06, H_FS_SEL = 0xc08,
	H_GS_SEL = 0xc0a, H_TR_SEL = 0xc0c,
	IO_BITMAP_A = 0x2000, IO_BITMAP_B = 0x2002, MSR_BITMAP = 0x2004,
	LINK_PTR = 0x2800, G_EFER = 0x2806, H_EFER = 0x2c02,
	PIN_CTLS = 0x4000, PROC_CTLS = 0x4002, EXC_BITMAP = 0x4004, PF_MASK = 0x4006,
	PF_MATCH = 0x4008,
	CR3_TARGETS = 0x400a, EXIT_CTLS = 0x400c, EXIT_MSR_STORE = 0x400e, EXIT_MSR_LOAD = 0x4010,
	ENTRY_CTLS = 0x4012, ENTRY_MSR_LOAD = 0x4014, ENTRY_INTR = 0x4016, ENTRY_EC = 0x4018,
	ENTRY_ILEN = 0x401a,
	INSN_ERROR = 0x4400, EXIT_REASON = 0x4402, EXIT_INTR = 0x4404, EXIT_INTR_EC = 0x4406,
	IDT_VEC = 0x4408, EXIT_ILEN = 0x440c,
	G_ES_LIM = 0x4800, G_CS_LIM = 0x4802, G_SS_LIM = 0x4804, G_DS_LIM = 0x4806,
	G_FS_LIM = 0x4808,
	G_GS_LIM = 0x480a, G_LDTR_LIM = 0x480c, G_TR_LIM = 0x480e, G_GDTR_LIM = 0x4810,
	G_IDTR_LIM = 0x4812,
	G_ES_AR = 0x4814, G_CS_AR = 0x4816, G_SS_AR = 0x4818, G_DS_AR = 0x481a, G_FS_AR = 0x481c,
	G_GS_AR = 0x481e, G_LDTR_AR = 0x4820, G_TR_AR = 0x4822, G_INTR_STATE = 0x4824,
	G_ACTIVITY = 0x4826, G_SYSENTER_CS = 0x482a, H_SYSENTER_CS = 0x4c00,
	CR0_MASK = 0x6000, CR4_MASK = 0x6002, CR0_SHADOW = 0x6004, CR4_SHADOW = 0x6006,
	EXIT_QUAL = 0x6400,
	G_CR0 = 0x6800, G_CR3 = 0x6802, G_CR4 = 0x6804, G_ES_BASE = 0x6806, G_CS_BASE = 0x6808,
	G_SS_BASE = 0x680a, G_DS_BASE = 0x680c, G_FS_BASE = 0x680e, G_GS_BASE = 0x6810,
	G_LDTR_BASE = 0x6812, G_TR_BASE = 0x6814, G_GDTR_BASE = 0x6816, G_IDTR_BASE = 0x6818,
	G_DR7 = 0x681a, G_RSP = 0x681c, G_RIP = 0x681e, G_RFLAGS = 0x6820, G_PENDING_DBG = 0x6822,
	G_SYSENTER_ESP = 0x6824, G_SYSENTER_EIP = 0x6826,
	H_CR0 = 0x6c00, H_CR3 = 0x6c02, H_CR4 = 0x6c04, H_FS_BASE = 0x6c06, H_GS_BASE = 0x6c08,
	H_TR_BASE = 0x6c0a, H_GDTR_BASE = 0x6c0c, H_IDTR_BASE = 0x6c0e, H_SYSENTER_ESP = 0x6c10,
	H_SYSENTER_EIP = 0x6c12, H_RSP = 0x6c14, H_RIP = 0x6c16,
};

/* Controls we want (bits); the capability MSRs decide the rest. */
#define PROC_HLT        (1u << 7)
#define PROC_INVLPG     (1u << 9)
#define PROC_CR3_LOAD   (1u << 15)
#define PROC_CR3_STORE  (1u << 16)
#define PROC_IO_BITMAP  (1u << 25)
#define PROC_MTF        (1u << 27)     /* monitor trap flag: set per step (exit.c) */
#define PROC_MSR_BITMAP (1u << 28)
#define PROC_SECONDARY  (1u << 31)
#define PROC2_RDTSCP    (1u << 3)
#define PROC2_INVPCID   (1u << 12)
#define PROC2_CTLS      0x401e
#define EXIT_HOST64     (1u << 9)
#define EXIT_SAVE_PAT   (1u << 18)
#define EXIT_LOAD_PAT   (1u << 19)
#define ENTRY_LOAD_PAT  (1u << 14)
#define MSR_PAT         0x277
#define G_PAT           0x2804
#define H_PAT           0x2c00
#define EXIT_SAVE_EFER  (1u << 20)
#define EXIT_LOAD_EFER  (1u << 21)
#define ENTRY_IA32E     (1u << 9)
#define ENTRY_LOAD_EFER (1u << 15)

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs[4096] __attribute__((aligned(4096)));
static uint8_t io_bitmap[2][4096] __attribute__((aligned(4096)));
static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));
static uint8_t exit_stack[16384] __attribute__((aligned(16)));

extern uint8_t gdt[];
extern uint8_t hv_tss[];

static uint32_t adjust(uint32_t want, uint32_t msr)
{
	uint64_t cap = rdmsr(msr);
	uint32_t v = (want | (uint32_t)cap) & (uint32_t)(cap >> 32);
	if ((v & want) != want)
		hv_panic("VMX control MSR %#x does not allow %#x (allowed %#lx)", msr, want, cap);
	return v;
}

static uint64_t cr0_fixed(uint64_t v)
{
	return (v | rdmsr(MSR_VMX_CR0_FIXED0)) & rdmsr(MSR_VMX_CR0_FIXED1);
}

static uint64_t cr4_fixed(uint64_t v)
{
	return (v | rdmsr(MSR_VMX_CR4_FIXED0)) & rdmsr(MSR_VMX_CR4_FIXED1);
}

static void intercept_port(uint16_t port)
{
	io_bitmap[port >> 15][(port & 0x7fff) >> 3] |= (uint8_t)(1u << (port & 7));
}

static void vmx_on(void)
{
	uint32_t a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & (1u << 5)))
		hv_panic("this CPU has no VMX (CPUID.1:ECX.VMX = 0)");
	uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
	if (!(fc & 1))
		wrmsr(MSR_FEATURE_CONTROL, fc | 5);
	else if (!(fc & 4))
		hv_panic("VMX is disabled by the firmware (IA32_FEATURE_CONTROL locked)");
	uint64_t basic = rdmsr(MSR_VMX_BASIC);
	if (!(basic & (1ull << 55)))
		hv_panic("no TRUE VMX capability MSRs");
	uint64_t cr0, cr4;
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr0" :: "r"(cr0_fixed(cr0)));
	/* CR4.OSXSAVE where the CPU has XSAVE: XSETBV exits are carried out
	 * here */
	uint32_t ca, cb, cc, cd;
	__asm__ volatile("cpuid" : "=a"(ca), "=b"(cb), "=c"(cc), "=d"(cd) : "a"(1), "c"(0));
	if (cc & (1u << 26))
		cr4 |= 1u << 18;
	__asm__ volatile("mov %0, %%cr4" :: "r"(cr4_fixed(cr4 | (1u << 13))));
	*(uint32_t *)(void *)vmxon_region = (uint32_t)basic & 0x7fffffff;
	*(uint32_t *)(void *)vmcs = (uint32_t)basic & 0x7fffffff;
	uint64_t pa = hv_pa(vmxon_region);
	uint8_t fail;
	__asm__ volatile("vmxon %1; setna %0" : "=q"(fail) : "m"(pa) : "cc", "memory");
	if (fail)
		hv_panic("VMXON failed");
	pa = hv_pa(vmcs);
	__asm__ volatile("vmclear %1; setna %0" : "=q"(fail) : "m"(pa) : "cc", "memory");
	if (fail)
		hv_panic("VMCLEAR failed");
	__asm__ volatile("vmptrld %1; setna %0" : "=q"(fail) : "m"(pa) : "cc", "memory");
	if (fail)
		hv_panic("VMPTRLD failed");
}

static void host_state(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	vmwrite(H_CR0, v);
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	vmwrite(H_CR3, v);
	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	vmwrite(H_CR4, v);
	vmwrite(H_CS_SEL, 0x08);
	vmwrite(H_SS_SEL, 0x10);
	vmwrite(H_DS_SEL, 0x10);
	vmwrite(H_ES_SEL, 0x10);
	vmwrite(H_FS_SEL, 0);
	vmwrite(H_GS_SEL, 0);
	vmwrite(H_TR_SEL, 0x18);
	vmwrite(H_FS_BASE, 0);
	vmwrite(H_GS_BASE, 0);
	vmwrite(H_TR_BASE, (uintptr_t)hv_tss);
	vmwrite(H_GDTR_BASE, (uintptr_t)gdt);
	vmwrite(H_IDTR_BASE, 0);
	vmwrite(H_SYSENTER_CS, 0);
	vmwrite(H_SYSENTER_ESP, 0);
	vmwrite(H_SYSENTER_EIP, 0);
	vmwrite(H_EFER, rdmsr(MSR_EFER));
	vmwrite(H_RSP, (uintptr_t)(exit_stack + sizeof(exit_stack)));
	vmwrite(H_RIP, (uintptr_t)vmx_exit_entry);
}

static void seg(uint64_t sel_f, uint64_t base_f, uint64_t lim_f, uint64_t ar_f, uint16_t sel,
		uint32_t ar)
{
	vmwrite(sel_f, sel);
	vmwrite(base_f, 0);
	vmwrite(lim_f, 0xffffffff);
	vmwrite(ar_f, ar);
}

/* The guest as a Multiboot loader leaves it: flat 32-bit segments,
 * paging off, interrupts off. */
static void guest_state(const struct hv_guest *g)
{
	seg(G_CS_SEL, G_CS_BASE, G_CS_LIM, G_CS_AR, 0x08, 0xc09b);
	seg(G_DS_SEL, G_DS_BASE, G_DS_LIM, G_DS_AR, 0x10, 0xc093);
	seg(G_ES_SEL, G_ES_BASE, G_ES_LIM, G_ES_AR, 0x10, 0xc093);
	seg(G_SS_SEL, G_SS_BASE, G_SS_LIM, G_SS_AR, 0x10, 0xc093);
	seg(G_FS_SEL, G_FS_BASE, G_FS_LIM, G_FS_AR, 0x10, 0xc093);
	seg(G_GS_SEL, G_GS_BASE, G_GS_LIM, G_GS_AR, 0x10, 0xc093);
	vmwrite(G_LDTR_SEL, 0);
	vmwrite(G_LDTR_BASE, 0);
	vmwrite(G_LDTR_LIM, 0);
	vmwrite(G_LDTR_AR, 0x10000);            /* unusable */
	vmwrite(G_TR_SEL, 0);
	vmwrite(G_TR_BASE, 0);
	vmwrite(G_TR_LIM, 0x67);
	vmwrite(G_TR_AR, 0x8b);                 /* busy 32-bit TSS */
	vmwrite(G_GDTR_BASE, 0);
	vmwrite(G_GDTR_LIM, 0xffff);
	if (g->is_linux) {
		/* the 64-bit boot protocol: __BOOT_CS (0x10), __BOOT_DS (0x18)
		 * in the GDT the loader built */
		seg(G_CS_SEL, G_CS_BASE, G_CS_LIM, G_CS_AR, 0x10, 0xa09b);
		seg(G_DS_SEL, G_DS_BASE, G_DS_LIM, G_DS_AR, 0x18, 0xc093);
		seg(G_ES_SEL, G_ES_BASE, G_ES_LIM, G_ES_AR, 0x18, 0xc093);
		seg(G_SS_SEL, G_SS_BASE, G_SS_LIM, G_SS_AR, 0x18, 0xc093);
		seg(G_FS_SEL, G_FS_BASE, G_FS_LIM, G_FS_AR, 0x18, 0xc093);
		seg(G_GS_SEL, G_GS_BASE, G_GS_LIM, G_GS_AR, 0x18, 0xc093);
		vmwrite(G_GDTR_BASE, g->linux_gdt);
		vmwrite(G_GDTR_LIM, 0x1f);
	}
	vmwrite(G_IDTR_BASE, 0);
	vmwrite(G_IDTR_LIM, 0);
	vmwrite(G_DR7, 0x400);
	vmwrite(G_RFLAGS, 0x2);
	vmwrite(G_RIP, g->entry);
	vmwrite(G_RSP, 0);
	vmwrite(G_PENDING_DBG, 0);
	vmwrite(G_INTR_STATE, 0);
	vmwrite(G_ACTIVITY, 0);
	vmwrite(G_SYSENTER_CS, 0);
	vmwrite(G_SYSENTER_ESP, 0);
	vmwrite(G_SYSENTER_EIP, 0);
	vmwrite(LINK_PTR, ~0ull);
}

static uint32_t entry_ctls_base;
bool hv_invpcid, hv_rdtscp, hv_act_hlt, hv_mtf;
uint64_t hv_cr4_offered;

static void cpuid2(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

/*
 * The optional CR4 bits the guest may set: those VMX operation allows
 * (IA32_VMX_CR4_FIXED1), the CPU reports (CPUID) and this hypervisor
 * supports.  SMXE, KL, CET and PKS are never offered: their instructions
 * and MSRs (GETSEC, Key Locker, the CET and PKRS MSRs) are not virtualised
 * here, and CPUID hides them.
 */
uint32_t hv_cr4_features(void)
{
	uint32_t l1[4], l7[4] = { 0 }, l0[4];
	cpuid2(0, 0, l0);
	cpuid2(1, 0, l1);
	if (l0[0] >= 7)
		cpuid2(7, 0, l7);
	uint64_t cr4 = 0;
	cr4 |= (l7[2] & (1u << 2)) ? 1ull << 11 : 0;            /* UMIP */
	cr4 |= (l7[2] & (1u << 16)) ? 1ull << 12 : 0;           /* LA57 */
	cr4 |= (l7[1] & (1u << 0)) ? 1ull << 16 : 0;            /* FSGSBASE */
	cr4 |= (l1[2] & (1u << 17)) ? 1ull << 17 : 0;           /* PCIDE: CPUID.PCID */
	cr4 |= (l1[2] & (1u << 26)) ? 1ull << 18 : 0;           /* OSXSAVE: CPUID.XSAVE */
	cr4 |= (l7[1] & (1u << 7)) ? 1ull << 20 : 0;            /* SMEP */
	cr4 |= (l7[1] & (1u << 20)) ? 1ull << 21 : 0;           /* SMAP */
	cr4 |= (l7[2] & (1u << 3)) ? 1ull << 22 : 0;            /* PKE: CPUID.PKU */
	if (l1[2] & (1u << 5))          /* VMX (without it vmx_on() stops the machine) */
		cr4 &= rdmsr(MSR_VMX_CR4_FIXED1);
	hv_cr4_offered = cr4;
	return SVT_FEAT_CR4_KNOWN | (uint32_t)cr4;
}

/* After every call into the core: the hardware runs what the core says;
 * the guest reads its own CR0 and CR4 through the read shadows. */
void hv_sync_hw(struct svt_mmu *mmu)
{
	uint64_t t = hv_rdtsc();
	struct svt_hw_state hw;
	const struct svt_regs *g = svt_mmu_guest_regs(mmu);
	svt_mmu_hw_state(mmu, &hw);
	/* Most calls change nothing (a CR3 reload finds its root again):
	 * then the fields keep what they were last given, which nothing
	 * else writes and no VM exit changes (the guest changes none of
	 * these registers without an exit). */
	static struct svt_hw_state last;
	static uint64_t last_cr0, last_cr4;
	static bool written;
	if (written && hw.mode == last.mode && hw.cr0 == last.cr0 && hw.cr3 == last.cr3 &&
	    hw.cr4 == last.cr4 && hw.efer == last.efer && g->cr0 == last_cr0 &&
	    g->cr4 == last_cr4) {
		hv_prof[PROF_SYNC] += hv_rdtsc() - t;
		return;
	}
	last = hw;
	last_cr0 = g->cr0;
	last_cr4 = g->cr4;
	written = true;
	vmwrite(G_CR0, cr0_fixed(hw.cr0));
	vmwrite(G_CR3, hw.cr3);
	vmwrite(G_CR4, cr4_fixed(hw.cr4 | (1u << 13)));
	vmwrite(G_EFER, hw.efer);
	vmwrite(ENTRY_CTLS, entry_ctls_base | ((hw.efer & SVT_EFER_LMA) ? ENTRY_IA32E : 0));
	vmwrite(CR0_SHADOW, g->cr0);
	vmwrite(CR4_SHADOW, g->cr4);
	hv_prof[PROF_SYNC] += hv_rdtsc() - t;
}

static bool pat_switched;               /* IA32_PAT is switched per world */
static uint64_t pat_host0;              /* the hypervisor's, when it set up the VMCS */

/* At the end of a run: the guest's IA32_PAT (saved at its last exit) and
 * the hypervisor's, which the guest's WRMSRs must not have touched. */
void hv_vmx_log_pat(void)
{
	if (pat_switched)
		hv_printf("hv: IA32_PAT switched per world: the guest's %#016lx, the hypervisor's "
			  "%#016lx (%#016lx when it started the guest)\n", vmread(G_PAT),
			  rdmsr(MSR_PAT), pat_host0);
	else
		hv_printf("hv: IA32_PAT shared with the guest (the CPU cannot switch it): %#016lx\n",
			  rdmsr(MSR_PAT));
}

void hv_vmx_setup(const struct hv_guest *g)
{
	vmx_on();
	vmwrite(PIN_CTLS, adjust(0, MSR_VMX_TRUE_PIN));
	uint32_t proc = PROC_HLT | PROC_INVLPG | PROC_CR3_LOAD | PROC_CR3_STORE | PROC_IO_BITMAP |
			PROC_MSR_BITMAP;
	/* Secondary controls, where the CPU has them: INVPCID and RDTSCP
	 * work in the guest as on bare metal (INVPCID exits, since INVLPG
	 * exiting is on); EPT and unrestricted guest stay off. */
	if ((rdmsr(MSR_VMX_TRUE_PROC) >> 32) & PROC_SECONDARY) {
		uint64_t cap2 = rdmsr(MSR_VMX_PROC2);
		uint32_t want = (uint32_t)(cap2 >> 32) & (PROC2_INVPCID | PROC2_RDTSCP);
		proc |= PROC_SECONDARY;
		vmwrite(PROC2_CTLS, (want | (uint32_t)cap2) & (uint32_t)(cap2 >> 32));
		hv_invpcid = (want & PROC2_INVPCID) != 0;
		hv_rdtscp = (want & PROC2_RDTSCP) != 0;
	}
	vmwrite(PROC_CTLS, adjust(proc, MSR_VMX_TRUE_PROC));
	hv_act_hlt = (rdmsr(MSR_VMX_MISC) >> 6) & 1;    /* activity state HLT */
	hv_mtf = (rdmsr(MSR_VMX_TRUE_PROC) >> 32) & PROC_MTF;  /* may be set: a step (exit.c) */
	/* IA32_PAT is the guest's own where the CPU can switch it (it starts
	 * at its power-on value); else it is shared with the host, which
	 * uses only entry 0 (write-back). */
	uint32_t pat_exit = (uint32_t)(rdmsr(MSR_VMX_TRUE_EXIT) >> 32) &
			    (EXIT_SAVE_PAT | EXIT_LOAD_PAT);
	uint32_t pat_entry = (uint32_t)(rdmsr(MSR_VMX_TRUE_ENTRY) >> 32) & ENTRY_LOAD_PAT;
	bool pat = pat_exit == (EXIT_SAVE_PAT | EXIT_LOAD_PAT) && pat_entry;
	vmwrite(EXIT_CTLS, adjust(EXIT_HOST64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER |
				  (pat ? pat_exit & (HV_BROKEN == 3 ? ~EXIT_LOAD_PAT : ~0u) : 0),
				  MSR_VMX_TRUE_EXIT));
	entry_ctls_base = adjust(ENTRY_LOAD_EFER | (pat ? ENTRY_LOAD_PAT : 0), MSR_VMX_TRUE_ENTRY) &
			  ~ENTRY_IA32E;
	if (pat) {
		vmwrite(G_PAT, 0x0007040600070406ull);
		pat_host0 = rdmsr(MSR_PAT);
		vmwrite(H_PAT, pat_host0);
		pat_switched = true;
	}
	vmwrite(ENTRY_CTLS, entry_ctls_base);
	vmwrite(EXC_BITMAP, 1u << 14);          /* #PF */
	vmwrite(PF_MASK, 0);
	vmwrite(PF_MATCH, 0);
	vmwrite(CR3_TARGETS, 0);
	vmwrite(EXIT_MSR_STORE, 0);
	vmwrite(EXIT_MSR_LOAD, 0);
	vmwrite(ENTRY_MSR_LOAD, 0);
	vmwrite(ENTRY_INTR, 0);
	vmwrite(CR0_MASK, ~0ull);               /* every CR0/CR4 bit is the host's */
	vmwrite(CR4_MASK, ~0ull);
	/* power-off ports */
	intercept_port(0x8900);
	intercept_port(0xf4);
	intercept_port(0xb004);
	intercept_port(0x604);
	intercept_port(HV_MARK_PORT);
	vmwrite(IO_BITMAP_A, hv_pa(io_bitmap[0]));
	vmwrite(IO_BITMAP_B, hv_pa(io_bitmap[1]));
	/* EFER reads and writes (high MSRs: read bitmap at 1024, write at 3072) */
	msr_bitmap[1024 + (0x80 >> 3)] |= 1u << (0x80 & 7);
	msr_bitmap[3072 + (0x80 >> 3)] |= 1u << (0x80 & 7);
	vmwrite(MSR_BITMAP, hv_pa(msr_bitmap));
	host_state();
	guest_state(g);
}

