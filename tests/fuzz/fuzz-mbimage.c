/*
 * fuzz-mbimage.c — the Multiboot image reader (common/mbimage.c, which the
 * hypervisor loads guests with and `shadowvt record` checks them with) on
 * arbitrary input.  The first byte picks the shape: the raw bytes; a
 * Multiboot (v1) header at a fuzzed offset with fuzzed flags and address
 * fields; or a Multiboot2 header with a run of fuzzed tags; each of the
 * last two mostly after an ELF32 or ELF64 header whose program headers are
 * fuzzed.  Fields are mostly plausible (so that the reader gets past its
 * first checks) and one time in eight anything.  The image is copied into
 * a buffer of exactly its size, so that the sanitizer sees any read past
 * it.  Whatever comes in, the reader must end with -1 and a reason, or 0
 * and a plan whose every segment lies inside the file and below 4 GiB.
 */
#include <string.h>

#include "bytes.h"
#include "fuzz.h"
#include "mbimage.h"

/* Mostly the plausible value, one time in eight any value at all. */
static uint64_t pick(struct fz *f, uint64_t plausible, unsigned bytes)
{
	return (fz_u8(f) & 7) ? plausible : fz_u64(f, bytes);
}

static void elf_header(struct fz *f, uint8_t *img, size_t n)
{
	bool is64 = fz_u8(f) & 1;
	unsigned phnum = fz_u8(f) % 16 == 15 ? 17 : fz_u8(f) % 5, phoff = is64 ? 64 : 52,
		phsz = is64 ? 56 : 32, w = is64 ? 8 : 4;
	if (n < phoff + phnum * phsz + 64)
		return;
	memcpy(img, "\x7f" "ELF", 4);
	img[4] = (uint8_t)pick(f, is64 ? 2 : 1, 1);
	img[5] = (uint8_t)pick(f, 1, 1);
	svt_put16(img + 16, (uint16_t)pick(f, 2, 2));
	svt_put16(img + 18, (uint16_t)pick(f, is64 ? 62 : 3, 2));
	uint64_t entry = pick(f, 0x100000 + fz_u64(f, 1), w);
	if (is64) {
		svt_put64(img + 24, entry);
		svt_put64(img + 32, pick(f, phoff, 8));
		svt_put16(img + 54, (uint16_t)pick(f, phsz, 2));
		svt_put16(img + 56, (uint16_t)pick(f, phnum, 2));
	} else {
		svt_put32(img + 24, (uint32_t)entry);
		svt_put32(img + 28, (uint32_t)pick(f, phoff, 4));
		svt_put16(img + 42, (uint16_t)pick(f, phsz, 2));
		svt_put16(img + 44, (uint16_t)pick(f, phnum, 2));
	}
	uint64_t vbase = 0x100000, pbase = pick(f, 0x100000, w);
	for (unsigned i = 0; i < phnum; i++) {
		uint8_t *ph = img + phoff + i * phsz;
		uint64_t off = pick(f, fz_u64(f, 2) % n, w);
		uint64_t filesz = pick(f, off < n ? fz_u64(f, 2) % (n - off + 1) : 0, w);
		uint64_t memsz = pick(f, filesz + fz_u64(f, 2), w);
		uint64_t vaddr = vbase + 0x1000 * i, paddr = pbase + 0x1000 * i;
		svt_put32(ph, (uint32_t)pick(f, 1, 4));
		if (is64) {
			svt_put64(ph + 8, off);
			svt_put64(ph + 16, vaddr);
			svt_put64(ph + 24, paddr);
			svt_put64(ph + 32, filesz);
			svt_put64(ph + 40, memsz);
		} else {
			svt_put32(ph + 4, (uint32_t)off);
			svt_put32(ph + 8, (uint32_t)vaddr);
			svt_put32(ph + 12, (uint32_t)paddr);
			svt_put32(ph + 16, (uint32_t)filesz);
			svt_put32(ph + 20, (uint32_t)memsz);
		}
	}
}

/* A v1 header at at: flags, then the a.out kludge's fields for a load at
 * 1 MiB from the file's start (mostly), one time in eight anything. */
static void mb1_header(struct fz *f, uint8_t *img, size_t n, size_t at)
{
	static const uint32_t flags[] = { 0, 1, 2, 3, 0x10000, 0x10001, 0x10003, 4, 0x80 };
	uint32_t fl = (uint32_t)pick(f, flags[fz_u8(f) % 9], 4);
	uint32_t base = 0x100000, end = base + (uint32_t)(fz_u64(f, 2) % (n + 16));
	svt_put32(img + at, SVT_MB1_MAGIC);
	svt_put32(img + at + 4, fl);
	svt_put32(img + at + 8, (uint32_t)-(SVT_MB1_MAGIC + fl));
	svt_put32(img + at + 12, (uint32_t)pick(f, base + at, 4));
	svt_put32(img + at + 16, (uint32_t)pick(f, base, 4));
	svt_put32(img + at + 20, (uint32_t)pick(f, fz_u8(f) & 1 ? 0 : end, 4));
	svt_put32(img + at + 24, (uint32_t)pick(f, fz_u8(f) & 1 ? 0 : end + fz_u64(f, 2), 4));
	svt_put32(img + at + 28, (uint32_t)pick(f, base + at + 32, 4));
}

/* A v2 header at at: a run of tags of the known types and some others,
 * with plausible contents, and the end tag (mostly). */
static void mb2_header(struct fz *f, uint8_t *img, size_t n, size_t at)
{
	static const uint8_t sizes[] = { 8, 12, 24, 12, 12, 20, 8, 8, 12, 12, 24, 8 };
	size_t t = 16;
	unsigned ntags = fz_u8(f) % 6;
	for (unsigned k = 0; k <= ntags && at + t + 40 <= n; k++) {
		unsigned type = k == ntags ? 0 : fz_u8(f) % 12;
		uint32_t len = type == 1 ? 8 + 4 * (fz_u8(f) % 4) : sizes[type];
		len = (uint32_t)pick(f, len, 1);
		if (at + t + len + 8 > n)
			break;
		svt_put16(img + at + t, (uint16_t)type);
		svt_put16(img + at + t + 2, fz_u8(f) & 1);
		svt_put32(img + at + t + 4, (uint32_t)pick(f, len, 4));
		if (type == 1)
			for (unsigned i = 8; i + 4 <= len; i += 4)
				svt_put32(img + at + t + i, (uint32_t)pick(f, fz_u8(f) % 22, 4));
		if (type == 2) {        /* address: header at 1 MiB + at, from the file's start */
			uint32_t base = 0x100000, end = base + (uint32_t)(fz_u64(f, 2) % (n + 16));
			svt_put32(img + at + t + 8, (uint32_t)pick(f, base + at, 4));
			svt_put32(img + at + t + 12,
				  (uint32_t)pick(f, fz_u8(f) & 1 ? 0xffffffffu : base, 4));
			svt_put32(img + at + t + 16, (uint32_t)pick(f, fz_u8(f) & 1 ? 0 : end, 4));
			svt_put32(img + at + t + 20,
				  (uint32_t)pick(f, fz_u8(f) & 1 ? 0 : end + 64, 4));
		}
		if (type == 3)
			svt_put32(img + at + t + 8, (uint32_t)pick(f, 0x100000 + at, 4));
		if (type == 10) {       /* relocatable: min, max, align, preference */
			svt_put32(img + at + t + 8, (uint32_t)pick(f, 0x100000, 4));
			svt_put32(img + at + t + 12, (uint32_t)pick(f, 0x10000000, 4));
		}
		t += (len + 7) & ~7u;
		if (type == 0)
			break;
	}
	uint32_t hlen = (uint32_t)pick(f, t, 4), arch = (uint32_t)pick(f, 0, 4);
	svt_put32(img + at, SVT_MB2_MAGIC);
	svt_put32(img + at + 4, arch);
	svt_put32(img + at + 8, hlen);
	svt_put32(img + at + 12, (uint32_t)-(SVT_MB2_MAGIC + arch + hlen));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t img[40000];
	struct fz f = { data, size, 0 };
	size_t n;
	unsigned shape = fz_u8(&f) % 3;

	if (shape == 0) {
		n = size > sizeof(img) ? sizeof(img) : size;
		memcpy(img, data, n);
	} else {
		n = 128 + fz_u64(&f, 2) % (sizeof(img) - 128);
		memset(img, 0, n);
		if (fz_u8(&f) % 4)
			elf_header(&f, img, n);
		size_t at = 512 + fz_u64(&f, 2) % (shape == 1 ? 8192 : 32768);
		at &= shape == 1 ? ~(size_t)3 : ~(size_t)7;
		if (shape == 1 && at + 32 <= n)
			mb1_header(&f, img, n, at);
		else if (shape == 2 && at + 64 <= n)
			mb2_header(&f, img, n, at);
	}
	uint8_t *exact = malloc(n ? n : 1);
	FZ_CHECK(exact != NULL, "out of memory\n");
	memcpy(exact, img, n);
	struct svt_mb_image im;
	int rc = svt_mb_parse(exact, n, &im);
	FZ_CHECK(rc == 0 || rc == -1, "returned %d\n", rc);
	if (rc != 0) {
		FZ_CHECK(im.err && im.err[0], "refused without a reason\n");
		FZ_CHECK(im.err_off == SVT_MB_NO_OFFSET || im.err_off < n,
			 "reason at offset %u of %zu\n", im.err_off, n);
	} else {
		FZ_CHECK(im.version == 1 || im.version == 2, "version %u\n", im.version);
		FZ_CHECK(im.format >= SVT_MB_ADDR && im.format <= SVT_MB_ELF64,
			 "format %d\n", im.format);
		FZ_CHECK(im.nseg >= 1 && im.nseg <= SVT_MB_SEGS_MAX, "%u segments\n", im.nseg);
		FZ_CHECK(im.header_off < n, "header at %u of %zu\n", im.header_off, n);
		uint64_t lo = UINT64_MAX, hi = 0;
		for (unsigned i = 0; i < im.nseg; i++) {
			const struct svt_mb_seg *s = &im.seg[i];
			FZ_CHECK((uint64_t)s->off + s->filesz <= n,
				 "segment %u: bytes %u+%u of %zu\n", i, s->off, s->filesz, n);
			FZ_CHECK(s->filesz <= s->memsz, "segment %u: filesz over memsz\n", i);
			FZ_CHECK((uint64_t)s->paddr + s->memsz <= (1ull << 32),
				 "segment %u above 4 GiB\n", i);
			lo = s->paddr < lo ? s->paddr : lo;
			hi = s->paddr + (uint64_t)s->memsz > hi ?
				s->paddr + (uint64_t)s->memsz : hi;
		}
		FZ_CHECK(lo == im.lo && hi == im.hi,
			 "lo/hi %#x/%#llx, segments say %#llx/%#llx\n", im.lo,
			 (unsigned long long)im.hi, (unsigned long long)lo, (unsigned long long)hi);
		if (im.version == 1 && im.format != SVT_MB_ADDR) {
			bool in = false;
			for (unsigned i = 0; i < im.nseg; i++)
				in |= im.entry - im.seg[i].paddr < im.seg[i].memsz;
			FZ_CHECK(in, "ELF entry %#x in no segment\n", im.entry);
		}
	}
	free(exact);
	return 0;
}
