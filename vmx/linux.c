/*
 * linux.c — a Linux kernel as the guest, by the x86 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"): the first
 * module is the kernel's ELF image (vmlinux: `shadowvt record --kernel`
 * takes it out of a bzImage), the second, if any, its initrd; the first
 * module's command line is the kernel's.  The hypervisor does what a boot
 * loader does: the PT_LOAD segments at their physical addresses, the
 * initrd at the top of guest RAM, a zero page (struct boot_params) with
 * the command line, the initrd and an E820 map without the hypervisor,
 * page tables mapping the first 4 GiB 1:1, a GDT with __BOOT_CS (0x10) and
 * __BOOT_DS (0x18), and entry in 64-bit mode at the ELF entry point with
 * RSI = the zero page.
 *
 * The modules are found before the hypervisor moves (they are not copied:
 * a kernel is tens of MiB), and must lie below where it moves to.
 */
#include "hv.h"

/* guest-physical layout below 1 MiB (Linux keeps the first MiB for itself) */
#define LX_PML4         0x10000u
#define LX_PDPT         0x11000u
#define LX_PD           0x12000u        /* 4 pages: [0, 4 GiB) in 2 MiB pages */
#define LX_GDT          0x16000u
#define LX_ZERO_PAGE    0x17000u
#define LX_CMDLINE      0x18000u
#define LX_CMDLINE_MAX  2048u

struct module {
	uint64_t start, end;
};
static struct module mods[2];
static unsigned nmods;
static char cmdline[LX_CMDLINE_MAX];
static uint8_t mmap_copy[128 * 24];     /* the loader's memory map, taken early */
static uint32_t mmap_len;


/* Is the first module an x86-64 ELF executable (a vmlinux)? */
bool hv_linux_probe(uint32_t mb_info)
{
	const uint8_t *mbi = hv_gpa(mb_info);
	if (!(svt_get32(mbi) & (1u << 3)) || svt_get32(mbi + 20) == 0)
		return false;
	const uint8_t *mod = hv_gpa(svt_get32(mbi + 24));
	uint32_t start = svt_get32(mod), end = svt_get32(mod + 4);
	if (end < start + 64)
		return false;
	const uint8_t *e = hv_gpa(start);
	return svt_get32(e) == 0x464c457fu && e[4] == 2 && e[5] == 1 && svt_get16(e + 16) == 2 &&
	       svt_get16(e + 18) == 62;
}

bool hv_linux_take(uint32_t mb_info)
{
	const uint8_t *mbi = hv_gpa(mb_info);
	uint32_t count = svt_get32(mbi + 20);
	const uint8_t *mod = hv_gpa(svt_get32(mbi + 24));
	nmods = count > 2 ? 2 : count;
	for (unsigned i = 0; i < nmods; i++) {
		mods[i].start = svt_get32(mod + 16 * i);
		mods[i].end = svt_get32(mod + 16 * i + 4);
	}
	uint32_t str = svt_get32(mod + 8);
	const char *c = str ? (const char *)hv_gpa(str) : "";
	/* GRUB gives the module's own name first: the kernel's command line
	 * is what follows it */
	while (*c && *c != ' ')
		c++;
	while (*c == ' ')
		c++;
	size_t n = strlen(c);
	if (n > LX_CMDLINE_MAX - 1)
		n = LX_CMDLINE_MAX - 1;
	memcpy(cmdline, c, n);
	cmdline[n] = 0;
	if (svt_get32(mbi) & (1u << 6)) {
		mmap_len = svt_get32(mbi + 44);
		if (mmap_len > sizeof(mmap_copy))
			mmap_len = sizeof(mmap_copy);
		memcpy(mmap_copy, hv_gpa(svt_get32(mbi + 48)), mmap_len);
	}
	return true;
}

uint64_t hv_linux_modules_end(void)
{
	uint64_t e = 0;
	for (unsigned i = 0; i < nmods; i++)
		if (mods[i].end > e)
			e = mods[i].end;
	return e;
}

static void e820_put(uint8_t *table, unsigned *n, uint64_t b, uint64_t l, uint32_t type)
{
	if (*n >= 128)
		return;
	svt_put64(table + 20 * *n, b);
	svt_put64(table + 20 * *n + 8, l);
	svt_put32(table + 20 * *n + 16, type);
	(*n)++;
}

/* The E820 map the guest sees: the loader's, with usable RAM cut to guest
 * RAM (below the hypervisor, and the range above 4 GiB); the hypervisor's
 * memory is left out (neither RAM nor reserved). */
static unsigned e820(uint8_t *table)
{
	unsigned n = 0;
	for (uint32_t off = 0; off + 24 <= mmap_len;) {
		const uint8_t *e = mmap_copy + off;
		uint64_t b = svt_get64(e + 4), l = svt_get64(e + 12);
		uint32_t type = svt_get32(e + 20);
		off += svt_get32(e) + 4;
		if (type != 1) {
			e820_put(table, &n, b, l, type);
			continue;
		}
		uint64_t end = b + l < b ? ~0ull : b + l;
		if (b < hv_guest_top)
			e820_put(table, &n, b, (end < hv_guest_top ? end : hv_guest_top) - b, 1);
		/* the part in guest RAM above 4 GiB (none when hv_high_hi is 0) */
		uint64_t hb = b > hv_high_lo ? b : hv_high_lo;
		uint64_t he = end < hv_high_hi ? end : hv_high_hi;
		if (hb < he)
			e820_put(table, &n, hb, he - hb, 1);
	}
	return n;
}

bool hv_linux_load(struct hv_guest *g)
{
	uint64_t ksize = mods[0].end - mods[0].start;
	uint64_t isize = nmods > 1 ? mods[1].end - mods[1].start : 0;

	/* The kernel's segments go low (16 MiB up), where GRUB may have put
	 * the modules: first move both to the top of guest RAM. */
	uint64_t itop = (hv_guest_top - isize) & ~0xfffull;
	uint64_t kcopy = (itop - ksize) & ~0xfffull;
	if (isize)
		memmove(hv_gpa(itop), hv_gpa(mods[1].start), isize);
	memmove(hv_gpa(kcopy), hv_gpa(mods[0].start), ksize);

	const uint8_t *elf = hv_gpa(kcopy);
	uint64_t phoff = svt_get64(elf + 32);
	uint16_t phentsize = svt_get16(elf + 54), phnum = svt_get16(elf + 56);
	if (phentsize < 56 || phoff + (uint64_t)phnum * phentsize > ksize) {
		hv_printf("hv: the kernel's program headers are unusable\n");
		return false;
	}
	uint64_t kend = 0;
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = elf + phoff + (uint64_t)i * phentsize;
		if (svt_get32(ph) != 1)
			continue;
		uint64_t off = svt_get64(ph + 8), pa = svt_get64(ph + 24);
		uint64_t filesz = svt_get64(ph + 32), memsz = svt_get64(ph + 40);
		if (filesz > memsz || off + filesz > ksize || pa < 0x100000 || pa + memsz > kcopy) {
			hv_printf("hv: kernel segment %u (%#lx, %#lx bytes) does not fit in guest "
				  "RAM\n", i, pa, memsz);
			return false;
		}
		memmove(hv_gpa(pa), elf + off, filesz);
		memset(hv_gpa(pa + filesz), 0, memsz - filesz);
		if (pa + memsz > kend)
			kend = pa + memsz;
	}
	g->entry = svt_get64(elf + 24);
	hv_printf("hv: Linux kernel %#lx..%#lx, entry %#x, initrd %#lx (%lu bytes), command "
		  "line '%s'\n", (uint64_t)0x1000000, kend, g->entry, isize ? itop : 0, isize,
		  cmdline);

	/* page tables: [0, 4 GiB) 1:1 in 2 MiB pages */
	uint8_t *pml4 = hv_gpa(LX_PML4), *pdpt = hv_gpa(LX_PDPT), *pd = hv_gpa(LX_PD);
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	svt_put64(pml4, LX_PDPT | 3);
	for (unsigned i = 0; i < 4; i++)
		svt_put64(pdpt + 8 * i, (LX_PD + 4096u * i) | 3);
	for (uint64_t i = 0; i < 2048; i++)
		svt_put64(pd + 8 * i, (i << 21) | 0x83);
	/* GDT: __BOOT_CS 0x10 (64-bit code), __BOOT_DS 0x18 */
	uint8_t *gdt = hv_gpa(LX_GDT);
	memset(gdt, 0, 32);
	svt_put64(gdt + 0x10, 0x00af9a000000ffffull);
	svt_put64(gdt + 0x18, 0x00cf92000000ffffull);

	/* the zero page */
	uint8_t *zp = hv_gpa(LX_ZERO_PAGE);
	memset(zp, 0, 4096);
	zp[0x1e8] = (uint8_t)e820(zp + 0x2d0);     /* e820_entries, e820_table */
	zp[0x1f1] = 0;                                  /* setup_sects */
	svt_put16(zp + 0x1fe, 0xaa55);                       /* boot_flag */
	svt_put32(zp + 0x202, 0x53726448);                   /* "HdrS" */
	svt_put16(zp + 0x206, 0x020f);                       /* protocol 2.15 */
	zp[0x210] = 0xff;                               /* type_of_loader: undefined */
	zp[0x211] = 0x01;                               /* loadflags: LOADED_HIGH */
	svt_put32(zp + 0x214, 0x1000000);                    /* code32_start */
	svt_put32(zp + 0x218, (uint32_t)(isize ? itop : 0)); /* ramdisk_image */
	svt_put32(zp + 0x21c, (uint32_t)isize);              /* ramdisk_size */
	svt_put32(zp + 0x228, LX_CMDLINE);                   /* cmd_line_ptr */
	svt_put32(zp + 0x238, LX_CMDLINE_MAX - 1);           /* cmdline_size */
	svt_put32(zp + 0x0c0, (uint32_t)((isize ? itop : 0) >> 32));  /* ext_ramdisk_image */
	memcpy(hv_gpa(LX_CMDLINE), cmdline, strlen(cmdline) + 1);

	g->info = LX_ZERO_PAGE;
	g->linux_cr3 = LX_PML4;
	g->linux_gdt = LX_GDT;
	g->is_linux = true;
	g->name = "Linux";
	return true;
}
