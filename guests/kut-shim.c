/*
 * guests/kut-shim.c — the one change kvm-unit-tests needs to boot on Bochs
 * 2.7, linked into each test by tests/kut.sh (ld --wrap=reset_apic); the
 * tests and their library are built unmodified from their own tree.
 *
 * The library resets the local APIC at boot by clearing IA32_APIC_BASE.EN
 * and setting it again.  Bochs 2.7 models the P6 rule that a globally
 * disabled APIC comes back only by reset: it ignores the second write, and
 * the first ICR write then spins on an all-ones busy bit.  So when the APIC
 * is already enabled in xAPIC mode (as firmware leaves it), this skips the
 * disable and does the rest of the reset: the xAPIC register operations
 * and the spurious-interrupt register.  Any other state (x2APIC, or
 * disabled) gets the library's own reset, which on Bochs fails the way it
 * would without the shim.  The same code runs natively and under the
 * hypervisor, so both sides see the same machine.
 *
 * Built against kvm-unit-tests' headers (for the per-CPU slot that holds
 * the APIC operations).  The operations table mirrors the layout of the
 * library's private `struct apic_ops` (lib/x86/apic.c at the commit in
 * ../shared/third-party/): four function pointers, read, write, ICR
 * write, ID.
 */
#include "libcflat.h"
#include "processor.h"
#include "smp.h"
#include "apic-defs.h"

void __real_reset_apic(void);
void __wrap_reset_apic(void);

struct shim_apic_ops {
	u32 (*reg_read)(unsigned reg);
	void (*reg_write)(unsigned reg, u32 val);
	void (*icr_write)(u32 val, u32 dest);
	u32 (*id)(void);
};

static volatile u32 *shim_reg(unsigned reg)
{
	return (volatile u32 *)(uintptr_t)(APIC_DEFAULT_PHYS_BASE + reg);
}

static u32 shim_read(unsigned reg)
{
	return *shim_reg(reg);
}

static void shim_write(unsigned reg, u32 val)
{
	*shim_reg(reg) = val;
}

static void shim_icr_write(u32 val, u32 dest)
{
	while (shim_read(APIC_ICR) & APIC_ICR_BUSY)
		;
	shim_write(APIC_ICR2, dest << 24);
	shim_write(APIC_ICR, val);
}

static u32 shim_id(void)
{
	return shim_read(APIC_ID) >> 24;
}

static const struct shim_apic_ops shim_xapic_ops = {
	.reg_read = shim_read,
	.reg_write = shim_write,
	.icr_write = shim_icr_write,
	.id = shim_id,
};

void __wrap_reset_apic(void)
{
	if ((rdmsr(MSR_IA32_APICBASE) & (APIC_EN | APIC_EXTD)) != APIC_EN) {
		__real_reset_apic();
		return;
	}
	this_cpu_write_apic_ops((void *)&shim_xapic_ops);
	shim_write(APIC_SPIV, 0x1ff);
}
