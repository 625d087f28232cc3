/*
 * mboot.c — the guest kernel, loaded as GRUB's `multiboot` and
 * `multiboot2` commands would load it: from the first module GRUB gave the
 * hypervisor, by the load plan common/mbimage.c reads from its Multiboot 2
 * or Multiboot 1 header (the header's addresses, else its ELF32 or ELF64
 * program headers), into guest RAM; the hypervisor's further modules
 * become the guest's modules, page-aligned above the kernel; and the boot
 * information (v1 structure or v2 tags: command line, modules, memory
 * information, a memory map that shows only guest RAM, below 4 GiB and
 * above, for v2 the ACPI RSDP the BIOS left and the load base) in
 * [0x9000, 0xb000), which the kernel may not load over.  The first
 * module's command line is the guest's name (the trace's) and, past its
 * first word, the guest's command line, as GRUB gives a kernel its
 * arguments without its path.
 *
 * The image is hostile input: the plan is bounded against the file by
 * the parser and against guest RAM here, before a byte is copied.
 */
#include "hv.h"
#include "mbimage.h"

#define BOOT_LO         0x9000u         /* the boot information area */
#define BOOT_HI         0xb000u
#define MB1_INFO        0x9000u         /* v1: the structure (0x78 bytes), */
#define MB1_MMAP        0x9100u         /* its memory map (2 or 3 entries), */
#define MB1_MODS        0x9200u         /* module list (16 entries), */
#define MB1_CMDLINE     0x9300u         /* command line (1 KiB), */
#define MB1_STRS        0x9700u         /* module command lines (16 x 128), */
#define MB1_LOADER      0x9f00u         /* boot loader name */
#define MB2_INFO        0x9000u         /* v2: the tags, up to BOOT_HI */
#define LEGACY_LO       0x9fc00u        /* not RAM: EBDA, VGA, ROMs */
#define LEGACY_HI       0x100000u
#define STAGE_MAX       (4u << 20)      /* the kernel and its modules together */
#define MODS_MAX        16u
#define MOD_STR_MAX     128u
#define CMDLINE_MAX     1024u
#define LOADER_NAME     "shadowvt"

/* What hv_take_guest copied before the hypervisor moved. */
static uint8_t stage[STAGE_MAX] __attribute__((aligned(4096)));
static uint32_t kernel_size;
static struct {
	uint32_t off, size;     /* in stage */
	uint32_t gpa;           /* where it went in guest RAM */
	char str[MOD_STR_MAX];
} mods[MODS_MAX];
static unsigned nmods;
static char guest_name[CMDLINE_MAX];    /* the first module's command line */

static uint64_t align4k(uint64_t a)
{
	return (a + 4095) & ~4095ull;
}

/* Guest RAM, not the boot information area, not the legacy hole. */
static bool loadable(uint64_t a, uint64_t len)
{
	return a >= 0x1000 && len <= HV_GUEST_TOP && a <= HV_GUEST_TOP - len &&
	       (a + len <= BOOT_LO || a >= BOOT_HI) && (a + len <= LEGACY_LO || a >= LEGACY_HI);
}

static bool copy_str(char *to, size_t cap, uint32_t from, const char *what)
{
	const char *s = from ? (const char *)hv_gpa(from) : "";
	size_t n = strlen(s);
	if (n >= cap) {
		hv_printf("hv: %s is longer than %u bytes\n", what, (unsigned)cap - 1);
		return false;
	}
	memcpy(to, s, n + 1);
	return true;
}

bool hv_take_guest(uint32_t mb_info)
{
	const uint8_t *mbi = hv_gpa(mb_info);
	uint32_t count = (svt_get32(mbi) & (1u << 3)) ? svt_get32(mbi + 20) : 0;
	if (count == 0) {
		hv_printf("hv: no guest kernel: give it as the first Multiboot module\n");
		return false;
	}
	if (count - 1 > MODS_MAX) {
		hv_printf("hv: %u guest modules: the hypervisor passes at most %u\n", count - 1,
			  MODS_MAX);
		return false;
	}
	const uint8_t *list = hv_gpa(svt_get32(mbi + 24));
	uint32_t used = 0;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *m = list + 16 * i;
		uint32_t start = svt_get32(m), end = svt_get32(m + 4);
		if (end < start || (i == 0 && end == start) || end - start > STAGE_MAX - used) {
			hv_printf("hv: the guest kernel is empty, or it and its modules are larger "
				  "than %u bytes together\n", STAGE_MAX);
			return false;
		}
		memcpy(stage + used, hv_gpa(start), end - start);
		if (i == 0) {
			kernel_size = end - start;
			if (!copy_str(guest_name, sizeof(guest_name), svt_get32(m + 8),
				      "the guest's command line"))
				return false;
		} else {
			mods[i - 1].off = used;
			mods[i - 1].size = end - start;
			if (!copy_str(mods[i - 1].str, MOD_STR_MAX, svt_get32(m + 8),
				      "a guest module's command line"))
				return false;
		}
		used += end - start;
	}
	nmods = count - 1;
	return true;
}

/* The guest's command line: its module's, past the first word (its name). */
static const char *guest_args(void)
{
	const char *c = guest_name;
	while (*c && *c != ' ')
		c++;
	while (*c == ' ')
		c++;
	return c;
}

/* The ACPI RSDP the BIOS left, as GRUB finds it (the EBDA's first KiB,
 * then 0xe0000-0xfffff on 16-byte boundaries): a revision-0 RSDP (the
 * v1 20 bytes, checksummed) or a later one (length bytes, both checksums). */
static uint8_t sum8(const uint8_t *p, uint32_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static const uint8_t *find_rsdp(uint32_t *len)
{
	uint32_t ebda = (uint32_t)svt_get16(hv_gpa(0x40e)) << 4;
	uint32_t ranges[2][2] = { { ebda, ebda + 1024 }, { 0xe0000, 0x100000 } };
	for (int r = ebda >= 0x80000 && ebda < LEGACY_HI - 1024 ? 0 : 1; r < 2; r++)
		for (uint32_t a = ranges[r][0]; a + 36 <= ranges[r][1]; a += 16) {
			const uint8_t *p = hv_gpa(a);
			if (memcmp(p, "RSD PTR ", 8) != 0 || sum8(p, 20) != 0)
				continue;
			if (p[15] == 0) {
				*len = 20;
				return p;
			}
			uint32_t l = svt_get32(p + 20);
			if (l >= 36 && l <= 256 && a + l <= ranges[r][1] && sum8(p, l) == 0) {
				*len = l;
				return p;
			}
		}
	return NULL;
}

static void mmap_entry(uint8_t *e, uint64_t base, uint64_t len)
{
	svt_put64(e, base);
	svt_put64(e + 8, len);
	svt_put32(e + 16, 1);           /* available */
	svt_put32(e + 20, 0);
}

/* The map's entries, stride bytes apart from at: guest RAM below the
 * legacy hole, from 1 MiB to the hypervisor, and above 4 GiB if the guest
 * has RAM there.  Returns how many. */
static unsigned mmap_ram(uint8_t *at, unsigned stride)
{
	mmap_entry(at, 0, LEGACY_LO);
	mmap_entry(at + stride, LEGACY_HI, HV_GUEST_TOP - LEGACY_HI);
	if (!hv_high_hi)
		return 2;
	mmap_entry(at + 2 * stride, hv_high_lo, hv_high_hi - hv_high_lo);
	return 3;
}

/* v1 (Multiboot 0.6.96, 3.3): memory, command line, modules, map, loader name. */
static uint32_t info_v1(void)
{
	uint8_t *info = hv_gpa(MB1_INFO);
	memset(hv_gpa(BOOT_LO), 0, BOOT_HI - BOOT_LO);
	svt_put32(info, (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
	svt_put32(info + 4, 639);
	svt_put32(info + 8, (uint32_t)((HV_GUEST_TOP - 0x100000) / 1024));
	const char *args = guest_args();
	memcpy(hv_gpa(MB1_CMDLINE), args, strlen(args) + 1);
	svt_put32(info + 16, MB1_CMDLINE);
	svt_put32(info + 20, nmods);
	svt_put32(info + 24, MB1_MODS);
	for (unsigned i = 0; i < nmods; i++) {
		uint8_t *m = hv_gpa(MB1_MODS + 16 * i);
		uint32_t str = MB1_STRS + MOD_STR_MAX * i;
		memcpy(hv_gpa(str), mods[i].str, strlen(mods[i].str) + 1);
		svt_put32(m, mods[i].gpa);
		svt_put32(m + 4, mods[i].gpa + mods[i].size);
		svt_put32(m + 8, str);
	}
	/* v1 entries are a size word (20) and 20 bytes: mmap_entry's fourth
	 * word (reserved, v2) lands on the next size word, written after it */
	unsigned n = mmap_ram(hv_gpa(MB1_MMAP + 4), 24);
	for (unsigned i = 0; i < n; i++)
		svt_put32(hv_gpa(MB1_MMAP + 24 * i), 20);
	svt_put32(info + 44, 24 * n);
	svt_put32(info + 48, MB1_MMAP);
	memcpy(hv_gpa(MB1_LOADER), LOADER_NAME, sizeof(LOADER_NAME));
	svt_put32(info + 64, MB1_LOADER);
	return MB1_INFO;
}

/* v2 tags (Multiboot2 2.0, 3.6), appended at *at; false if they would
 * pass BOOT_HI (they cannot with the limits above; checked all the same). */
static bool tag(uint32_t *at, uint32_t type, const void *body, uint32_t len)
{
	uint32_t size = 8 + len;
	if (size > BOOT_HI - *at)
		return false;
	uint8_t *t = hv_gpa(*at);
	svt_put32(t, type);
	svt_put32(t + 4, size);
	if (len)
		memcpy(t + 8, body, len);
	*at += (size + 7) & ~7u;
	return true;
}

static uint32_t info_v2(uint32_t load_base)
{
	uint32_t at = MB2_INFO + 8;
	uint8_t b[16 + 3 * 24];
	bool ok = true;

	memset(hv_gpa(BOOT_LO), 0, BOOT_HI - BOOT_LO);
	const char *args = guest_args();
	ok &= tag(&at, SVT_MB2_TAG_CMDLINE, args, (uint32_t)strlen(args) + 1);
	ok &= tag(&at, SVT_MB2_TAG_LOADER, LOADER_NAME, sizeof(LOADER_NAME));
	for (unsigned i = 0; i < nmods && ok; i++) {
		uint8_t m[8 + MOD_STR_MAX];
		uint32_t sl = (uint32_t)strlen(mods[i].str) + 1;
		svt_put32(m, mods[i].gpa);
		svt_put32(m + 4, mods[i].gpa + mods[i].size);
		memcpy(m + 8, mods[i].str, sl);
		ok &= tag(&at, SVT_MB2_TAG_MODULE, m, 8 + sl);
	}
	svt_put32(b, 639);
	svt_put32(b + 4, (uint32_t)((HV_GUEST_TOP - 0x100000) / 1024));
	ok &= tag(&at, SVT_MB2_TAG_MEMINFO, b, 8);
	svt_put32(b, 24);               /* entry_size */
	svt_put32(b + 4, 0);            /* entry_version */
	ok &= tag(&at, SVT_MB2_TAG_MMAP, b, 8 + 24 * mmap_ram(b + 8, 24));
	uint32_t rlen;
	const uint8_t *rsdp = find_rsdp(&rlen);
	if (rsdp)
		ok &= tag(&at, rlen == 20 ? SVT_MB2_TAG_ACPI_OLD : SVT_MB2_TAG_ACPI_NEW, rsdp,
			  rlen);
	svt_put32(b, load_base);
	ok &= tag(&at, SVT_MB2_TAG_LOAD_BASE, b, 4);
	ok &= tag(&at, SVT_MB2_TAG_END, NULL, 0);
	if (!ok)
		hv_panic("the Multiboot2 information does not fit below %#x", BOOT_HI);
	svt_put32(hv_gpa(MB2_INFO), at - MB2_INFO);
	svt_put32(hv_gpa(MB2_INFO + 4), 0);
	return MB2_INFO;
}

bool hv_load_guest(struct hv_guest *g)
{
	static const char *const how[] = { "", "its header's addresses", "ELF32", "ELF64" };
	struct svt_mb_image im;

	g->name = guest_name;
	if (svt_mb_parse(stage, kernel_size, &im) != 0) {
		if (im.err_off == SVT_MB_NO_OFFSET)
			hv_printf("hv: the guest is not a Multiboot kernel we load: %s\n", im.err);
		else
			hv_printf("hv: the guest is not a Multiboot kernel we load: %s (file "
				  "offset %#x)\n", im.err, im.err_off);
		return false;
	}
	for (unsigned i = 0; i < im.nseg; i++) {
		const struct svt_mb_seg *s = &im.seg[i];
		if (!loadable(s->paddr, s->memsz)) {
			hv_printf("hv: the guest loads %#x..%#lx, not guest RAM (%#x..%#lx less "
				  "%#x..%#x and %#x..%#x)\n", s->paddr,
				  (uint64_t)s->paddr + s->memsz,
				  0x1000, HV_GUEST_TOP, BOOT_LO, BOOT_HI, LEGACY_LO, LEGACY_HI);
			return false;
		}
	}
	for (unsigned i = 0; i < im.nseg; i++) {
		const struct svt_mb_seg *s = &im.seg[i];
		memcpy(hv_gpa(s->paddr), stage + s->off, s->filesz);
		memset(hv_gpa((uint64_t)s->paddr + s->filesz), 0, s->memsz - s->filesz);
	}
	/* the modules: page-aligned from 1 MiB or the kernel's end */
	uint64_t at = align4k(im.hi > LEGACY_HI ? im.hi : LEGACY_HI);
	for (unsigned i = 0; i < nmods; i++) {
		if (!loadable(at, mods[i].size ? mods[i].size : 1)) {
			hv_printf("hv: guest module %u (%u bytes) does not fit in guest RAM above "
				  "%#lx\n", i, mods[i].size, at);
			return false;
		}
		mods[i].gpa = (uint32_t)at;
		memcpy(hv_gpa(at), stage + mods[i].off, mods[i].size);
		at = align4k(at + mods[i].size);
	}
	g->entry = im.entry;
	g->magic = im.version == 2 ? SVT_MB2_BOOT_MAGIC : SVT_MB1_BOOT_MAGIC;
	g->info = im.version == 2 ? info_v2(im.lo) : info_v1();
	hv_printf("hv: guest loaded by Multiboot%s (%s), %u segment%s, %u module%s\n",
		  im.version == 2 ? "2" : "", how[im.format], im.nseg, im.nseg == 1 ? "" : "s",
		  nmods, nmods == 1 ? "" : "s");
	return true;
}
