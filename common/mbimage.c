/*
 * mbimage.c — a Multiboot 1 or 2 kernel image to a load plan (mbimage.h),
 * from the two specifications (Multiboot 0.6.96, sections 3.1.1-3.1.3;
 * Multiboot2 2.0, sections 3.1.1-3.1.13), with GRUB's choices where the
 * specifications leave one open (its documented error cases):
 *
 *  - v1: header in the first 8 KiB, 4-byte aligned, magic + flags +
 *    checksum = 0.  Flag 16 (the a.out kludge) means the address fields
 *    are used even when the file is also ELF.  Required flags (0-15) we do
 *    not honour are refused, as GRUB refuses ones it does not know.
 *  - v2: header in the first 32 KiB, 8-byte aligned, magic + architecture
 *    (0: i386) + header_length + checksum = 0; tags 8-byte aligned, each
 *    at least 8 bytes, ending with the end tag, inside header_length.  A
 *    tag with flag 0 (optional) clear that we cannot honour is refused.
 *    The address tag needs the entry address tag; the entry address tag
 *    overrides the ELF entry.
 *  - ELF: little-endian, ET_EXEC, EM_386 (ELF32) or EM_X86_64 (ELF64),
 *    PT_LOAD segments with a non-zero p_memsz go to p_paddr; the entry is
 *    e_entry moved from the segment that holds it by virtual address to
 *    its physical address ("entry point isn't in a segment" otherwise).
 *
 * All arithmetic on file fields is done in 64 bits, and every field is
 * compared with the file's size before it is used as an offset.
 */
#include "bytes.h"
#include "mbimage.h"

static int refuse(struct svt_mb_image *im, const char *why, uint64_t off)
{
	im->err = why;
	im->err_off = off > 0xfffffffeu ? SVT_MB_NO_OFFSET : (uint32_t)off;
	return -1;
}

/* Add [paddr, paddr + memsz) to the plan. */
static int add_seg(struct svt_mb_image *im, uint64_t off, uint64_t filesz, uint64_t paddr,
		   uint64_t memsz, uint64_t field)
{
	if (im->nseg == SVT_MB_SEGS_MAX)
		return refuse(im, "more than 16 loadable segments", field);
	if (paddr >= (1ull << 32) || memsz > (1ull << 32) - paddr)
		return refuse(im, "a segment reaches above 4 GiB", field);
	struct svt_mb_seg *s = &im->seg[im->nseg++];
	s->off = (uint32_t)off;
	s->filesz = (uint32_t)filesz;
	s->paddr = (uint32_t)paddr;
	s->memsz = (uint32_t)memsz;
	if (im->nseg == 1 || paddr < im->lo)
		im->lo = (uint32_t)paddr;
	if (paddr + memsz > im->hi)
		im->hi = paddr + memsz;
	return 0;
}

/* The header's own addresses (v1 flag 16, v2 address tag): the file from
 * hoff - (header_addr - load_addr) to load_addr, up to load_end_addr (or
 * the file's end), zeroes to bss_end_addr.  field: the header_addr field's
 * offset (the three others follow it). */
static int load_addr(struct svt_mb_image *im, size_t n, uint32_t hoff, const uint8_t *f,
		     uint64_t field, bool v2)
{
	uint64_t header_addr = svt_get32(f), load = svt_get32(f + 4);
	uint64_t load_end = svt_get32(f + 8), bss_end = svt_get32(f + 12), off;

	if (v2 && load == 0xffffffffu) {        /* the file from its beginning */
		if (header_addr < hoff)
			return refuse(im, "header_addr is below the header's offset in the file",
				      field);
		load = header_addr - hoff;
		off = 0;
	} else {
		if (load > header_addr)
			return refuse(im, "load_addr is above header_addr", field + 4);
		if (header_addr - load > hoff)
			return refuse(im, "header_addr - load_addr is more than the header's "
				      "offset in the file", field);
		off = hoff - (header_addr - load);
	}
	uint64_t len = n - off;
	if (load_end) {
		if (load_end < load)
			return refuse(im, "load_end_addr is below load_addr", field + 8);
		if (load_end - load > n - off)
			return refuse(im, "load_end_addr - load_addr is more than the file holds",
				      field + 8);
		len = load_end - load;
	}
	if (len == 0)
		return refuse(im, "nothing to load", field);
	uint64_t mem = len;
	if (bss_end) {
		if (bss_end < load + len)
			return refuse(im, "bss_end_addr is below the end of the loaded data",
				      field + 12);
		mem = bss_end - load;
	}
	im->format = SVT_MB_ADDR;
	return add_seg(im, off, len, load, mem, field);
}

/* The ELF program headers, and the entry point translated by them. */
static int load_elf(struct svt_mb_image *im, const uint8_t *img, size_t n)
{
	if (n < 16 || svt_get32(img) != 0x464c457fu)
		return refuse(im, "no a.out addresses in the Multiboot header, and not an ELF file",
			      0);
	bool is64 = img[4] == 2;
	if ((img[4] != 1 && img[4] != 2) || img[5] != 1)
		return refuse(im, "an ELF file that is neither 32- nor 64-bit little-endian", 4);
	if (n < (is64 ? 64u : 52u))
		return refuse(im, "the ELF header is cut short", 0);
	if (svt_get16(img + 16) != 2)
		return refuse(im, "not an ELF executable (e_type is not ET_EXEC)", 16);
	if (svt_get16(img + 18) != (is64 ? 62 : 3))
		return refuse(im, is64 ? "an ELF64 file not for x86-64" :
			      "an ELF32 file not for i386", 18);
	uint64_t entry = is64 ? svt_get64(img + 24) : svt_get32(img + 24);
	uint64_t phoff = is64 ? svt_get64(img + 32) : svt_get32(img + 28);
	uint64_t phentsize = svt_get16(img + (is64 ? 54 : 42));
	uint64_t phnum = svt_get16(img + (is64 ? 56 : 44));
	uint64_t phfield = is64 ? 32 : 28;
	if (phentsize < (is64 ? 56u : 32u))
		return refuse(im, "e_phentsize is smaller than a program header", is64 ? 54 : 42);
	if (phoff > n || phnum * phentsize > n - phoff)
		return refuse(im, "the program headers lie outside the file", phfield);
	bool found = false;
	uint64_t pentry = 0;
	for (uint64_t i = 0; i < phnum; i++) {
		uint64_t at = phoff + i * phentsize;
		const uint8_t *ph = img + at;
		if (svt_get32(ph) != 1)         /* PT_LOAD */
			continue;
		uint64_t off, vaddr, paddr, filesz, memsz;
		if (is64) {
			off = svt_get64(ph + 8);
			vaddr = svt_get64(ph + 16);
			paddr = svt_get64(ph + 24);
			filesz = svt_get64(ph + 32);
			memsz = svt_get64(ph + 40);
		} else {
			off = svt_get32(ph + 4);
			vaddr = svt_get32(ph + 8);
			paddr = svt_get32(ph + 12);
			filesz = svt_get32(ph + 16);
			memsz = svt_get32(ph + 20);
		}
		if (memsz == 0)
			continue;
		if (filesz > memsz)
			return refuse(im, "a segment's p_filesz is more than its p_memsz", at);
		if (off > n || filesz > n - off)
			return refuse(im, "a segment's bytes lie outside the file", at);
		if (add_seg(im, off, filesz, paddr, memsz, at) != 0)
			return -1;
		if (!found && entry >= vaddr && entry - vaddr < memsz) {
			found = true;
			pentry = entry - vaddr + paddr;
		}
	}
	if (im->nseg == 0)
		return refuse(im, "no loadable segment", phfield);
	if (!found)
		return refuse(im, "the entry point is in no loadable segment", 24);
	if (pentry >= (1ull << 32))
		return refuse(im, "the entry point is above 4 GiB", 24);
	im->entry = (uint32_t)pentry;
	im->format = is64 ? SVT_MB_ELF64 : SVT_MB_ELF32;
	return 0;
}

static int parse_v1(const uint8_t *img, size_t n, uint32_t hoff, struct svt_mb_image *im)
{
	const uint8_t *h = img + hoff;
	uint32_t flags = svt_get32(h + 4);

	im->version = 1;
	im->header_off = hoff;
	if (flags & 0xfffcu)
		return refuse(im, (flags & 4) ? "the Multiboot header asks for a video mode "
			      "(flag 2), which the hypervisor does not set" :
			      "the Multiboot header has a required flag (3-15) no loader knows",
			      hoff + 4);
	im->align_modules = flags & 1;
	im->want_meminfo = flags & 2;
	if (!(flags & (1u << 16)))
		return load_elf(im, img, n);
	if (n - hoff < 32)
		return refuse(im, "the Multiboot header's address fields lie outside the file",
			      hoff);
	if (load_addr(im, n, hoff, h + 12, hoff + 12, false) != 0)
		return -1;
	im->entry = svt_get32(h + 28);
	return 0;
}

bool svt_mb2_tag_given(uint32_t t)
{
	return t == SVT_MB2_TAG_CMDLINE || t == SVT_MB2_TAG_LOADER || t == SVT_MB2_TAG_MODULE ||
	       t == SVT_MB2_TAG_MEMINFO || t == SVT_MB2_TAG_MMAP || t == SVT_MB2_TAG_ACPI_OLD ||
	       t == SVT_MB2_TAG_ACPI_NEW || t == SVT_MB2_TAG_LOAD_BASE;
}

/* Each header tag type (v2, 3.1.3-3.1.13): its least size, and whether we honour it. */
static const struct {
	uint8_t min;
	bool ok;
} tag_kinds[] = {
	[1] = { 8, true },      /* information request (checked type by type) */
	[2] = { 24, true },     /* address */
	[3] = { 12, true },     /* entry address */
	[4] = { 12, true },     /* console flags: there is only the text console */
	[5] = { 20, false },    /* framebuffer: the hypervisor sets no video mode */
	[6] = { 8, true },      /* module alignment: modules are always page-aligned */
	[7] = { 8, true },      /* EFI boot services: not an EFI machine, nothing to keep */
	[8] = { 12, true },     /* EFI i386 entry: not an EFI machine, not used */
	[9] = { 12, true },     /* EFI amd64 entry: likewise */
	[10] = { 24, true },    /* relocatable: loaded at its link address */
};

static int parse_v2(const uint8_t *img, size_t n, uint32_t hoff, uint32_t hlen,
		    struct svt_mb_image *im)
{
	const uint8_t *h = img + hoff;
	uint64_t addr_field = 0, entry = 0, rel_field = 0;
	bool has_addr = false, has_entry = false, ended = false;

	im->version = 2;
	im->header_off = hoff;
	for (uint64_t t = 16; !ended;) {
		uint64_t at = hoff + t;
		if (hlen - t < 8)
			return refuse(im, "the Multiboot2 header has no end tag inside "
				      "header_length", at);
		uint32_t type = svt_get16(h + t), tflags = svt_get16(h + t + 2);
		uint32_t size = svt_get32(h + t + 4);
		bool optional = tflags & 1;
		if (size < 8 || size > hlen - t)
			return refuse(im, "a Multiboot2 header tag's size is below 8 or past "
				      "header_length", at + 4);
		if (type == 0) {
			ended = true;
		} else if (type >= sizeof(tag_kinds) / sizeof(tag_kinds[0]) ||
			   !tag_kinds[type].min) {
			if (!optional)
				return refuse(im, "a Multiboot2 header tag of a type this loader "
					      "does not know, not marked optional", at);
		} else if (size < tag_kinds[type].min) {
			return refuse(im, "a Multiboot2 header tag shorter than its type needs",
				      at + 4);
		} else if (!tag_kinds[type].ok) {
			if (!optional)
				return refuse(im, "the Multiboot2 header asks for a framebuffer, "
					      "which the hypervisor does not set (the tag is not "
					      "optional)", at);
		} else if (type == 1) {
			for (uint64_t i = 8; i + 4 <= size; i += 4) {
				uint32_t want = svt_get32(h + t + i);
				if (!optional && !svt_mb2_tag_given(want))
					return refuse(im, "the Multiboot2 header requests an "
						      "information tag the hypervisor does not "
						      "give (not optional)", at + i);
			}
		} else if (type == 2) {
			has_addr = true;
			addr_field = at + 8;
		} else if (type == 3) {
			has_entry = true;
			entry = svt_get32(h + t + 8);
		} else if (type == 6) {
			im->align_modules = true;
		} else if (type == 10) {
			im->relocatable = true;
			rel_field = at;
		}
		t += (size + 7) & ~7ull;
		if (!ended && t > hlen)
			return refuse(im, "the Multiboot2 header has no end tag inside "
				      "header_length", at);
	}
	if (has_addr) {
		if (!has_entry)
			return refuse(im, "a Multiboot2 address tag without an entry address tag",
				      addr_field - 8);
		if (load_addr(im, n, hoff, img + addr_field, addr_field, true) != 0)
			return -1;
		im->entry = (uint32_t)entry;
	} else {
		if (load_elf(im, img, n) != 0)
			return -1;
		if (has_entry)
			im->entry = (uint32_t)entry;
	}
	if (im->relocatable) {
		const uint8_t *r = img + rel_field;
		uint64_t min = svt_get32(r + 8), max = svt_get32(r + 12);
		if (min > max || im->lo < min || im->hi > max)
			return refuse(im, "a relocatable image whose link addresses lie outside "
				      "its min_addr..max_addr (the hypervisor does not move it)",
				      rel_field + 8);
	}
	return 0;
}

int svt_mb_parse(const uint8_t *img, size_t n, struct svt_mb_image *im)
{
	*im = (struct svt_mb_image){ .err = "", .err_off = SVT_MB_NO_OFFSET };
	if (n > 0xffffffffu)
		return refuse(im, "the file is 4 GiB or larger", SVT_MB_NO_OFFSET);
	/* Multiboot2 first: a file with both headers is booted by its v2 header */
	for (uint64_t o = 0; o + 16 <= n && o + 16 <= SVT_MB2_SEARCH; o += 8) {
		const uint8_t *h = img + o;
		uint32_t len = svt_get32(h + 8);
		if (svt_get32(h) != SVT_MB2_MAGIC ||
		    (uint32_t)(svt_get32(h) + svt_get32(h + 4) + len + svt_get32(h + 12)) != 0)
			continue;
		if (svt_get32(h + 4) != 0)
			return refuse(im, "a Multiboot2 header for another architecture than i386",
				      o + 4);
		if (len < 24 || len > n - o || len > SVT_MB2_SEARCH - o)
			return refuse(im, "the Multiboot2 header_length is below 24 or reaches "
				      "past the file or its first 32 KiB", o + 8);
		return parse_v2(img, n, (uint32_t)o, len, im);
	}
	for (uint64_t o = 0; o + 12 <= n && o + 12 <= SVT_MB1_SEARCH; o += 4) {
		const uint8_t *h = img + o;
		if (svt_get32(h) == SVT_MB1_MAGIC &&
		    (uint32_t)(svt_get32(h) + svt_get32(h + 4) + svt_get32(h + 8)) == 0)
			return parse_v1(img, n, (uint32_t)o, im);
	}
	return refuse(im, "no Multiboot header (v2 in the first 32 KiB, v1 in the first 8 KiB)",
		      SVT_MB_NO_OFFSET);
}
