/*
 * mbimage.h — a Multiboot kernel image, read as a Multiboot loader reads
 * it (mbimage.c): the Multiboot 2 header (searched first: the first 32 KiB,
 * 8-byte aligned) or else the Multiboot 1 header (the first 8 KiB, 4-byte
 * aligned), then where its bytes go: the header's own addresses (the v1
 * a.out kludge, the v2 address tag) or else the ELF32 (i386) or ELF64
 * (x86-64) program headers.  The result is a load plan, checked field by
 * field against the file: every segment's bytes lie inside the file and
 * every address below 4 GiB, so a caller that copies by the plan reads
 * and writes nothing it did not bound.  Whether the addresses are RAM the
 * caller has is the caller's question (the hypervisor: vmx/mboot.c).
 *
 * Shared by the hypervisor's guest loader and `shadowvt record`'s check
 * before Bochs starts (sim/live/live-engine.c), and fuzzed
 * (tests/fuzz/fuzz-mbimage.c).  Freestanding: no libc at all.
 */
#ifndef SVT_MBIMAGE_H
#define SVT_MBIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SVT_MB1_MAGIC           0x1BADB002u     /* in the v1 header */
#define SVT_MB1_BOOT_MAGIC      0x2BADB002u     /* in EAX at the v1 entry */
#define SVT_MB2_MAGIC           0xE85250D6u     /* in the v2 header */
#define SVT_MB2_BOOT_MAGIC      0x36D76289u     /* in EAX at the v2 entry */
#define SVT_MB1_SEARCH          8192u
#define SVT_MB2_SEARCH          32768u
#define SVT_MB_SEGS_MAX         16u             /* loadable ELF segments we take */

/* How the bytes are placed. */
enum svt_mb_format {
	SVT_MB_ADDR = 1,        /* the header's addresses (v1 a.out kludge, v2 address tag) */
	SVT_MB_ELF32,
	SVT_MB_ELF64,
};

/* One piece to load: filesz bytes from the file at off to paddr, then
 * memsz - filesz zero bytes.  off + filesz <= the file's size and
 * paddr + memsz <= 4 GiB hold for every segment of a parsed image. */
struct svt_mb_seg {
	uint32_t off, filesz;
	uint32_t paddr, memsz;
};

/* Information tags of the v2 boot information (the types we may be asked for). */
enum {
	SVT_MB2_TAG_END = 0, SVT_MB2_TAG_CMDLINE = 1, SVT_MB2_TAG_LOADER = 2,
	SVT_MB2_TAG_MODULE = 3, SVT_MB2_TAG_MEMINFO = 4, SVT_MB2_TAG_MMAP = 6,
	SVT_MB2_TAG_ACPI_OLD = 14, SVT_MB2_TAG_ACPI_NEW = 15, SVT_MB2_TAG_LOAD_BASE = 21,
};

struct svt_mb_image {
	unsigned version;       /* 1 or 2 */
	enum svt_mb_format format;
	uint32_t header_off;    /* where the header is in the file */
	uint32_t entry;         /* physical address of the first instruction */
	unsigned nseg;
	struct svt_mb_seg seg[SVT_MB_SEGS_MAX];
	uint32_t lo;            /* lowest address loaded */
	uint64_t hi;            /* end of the highest (bss included); <= 4 GiB */
	bool align_modules;     /* v1 flag 0, v2 module alignment tag: modules on 4 KiB */
	bool want_meminfo;      /* v1 flag 1 */
	bool relocatable;       /* v2 relocatable tag (loaded at its link address all the same) */
	/* why it was refused: a sentence, and the file offset of the field
	 * at fault (SVT_MB_NO_OFFSET when it is not one field) */
	const char *err;
	uint32_t err_off;
};
#define SVT_MB_NO_OFFSET        0xffffffffu

/*
 * Read the n bytes of img as a Multiboot kernel.  0 and the load plan in
 * *im; or -1 with im->err (and im->err_off) saying why: no header; a bad
 * checksum is no header.  A v1 header's required flags other than 0
 * (module alignment) and 1 (memory information), a v2 tag this reader does
 * not support and is not marked optional, or an information request for
 * a tag the hypervisor does not give, are refused by name.
 */
int svt_mb_parse(const uint8_t *img, size_t n, struct svt_mb_image *im);

/* Is t an information tag the hypervisor gives a v2 guest? */
bool svt_mb2_tag_given(uint32_t t);

#endif
