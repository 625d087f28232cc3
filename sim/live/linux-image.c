/*
 * linux-image.c — the kernel's ELF image (vmlinux) out of a bzImage, for
 * `shadowvt record --kernel`: the hypervisor boots Linux by the 64-bit boot
 * protocol from the decompressed kernel, which saves the guest decompressing
 * itself (39 s of an 81 s boot under Bochs).
 *
 * A bzImage (Documentation/arch/x86/boot.rst) is a real-mode setup of
 * setup_sects + 1 sectors, then the protected-mode part; from protocol
 * 2.08 its header gives payload_offset and payload_length, the compressed
 * vmlinux, relative to the protected-mode part.  The payload is XZ, gzip or
 * zstd (liblzma, zlib, libzstd); LZMA, bzip2, LZO and LZ4 kernels are
 * refused by name.  An ELF file is taken as it is.  Everything read is
 * checked: a damaged or hostile image gives a message, never a crash.
 */
#include <lzma.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "bytes.h"
#include "linux-image.h"

size_t svt_linux_out_max = 512u << 20;         /* no kernel is this large */
#define OUT_MAX svt_linux_out_max

static bool is_vmlinux(const uint8_t *p, size_t n)
{
	return n >= 64 && memcmp(p, "\x7f" "ELF", 4) == 0 && p[4] == 2 && p[5] == 1 &&
	       p[18] == 62 && p[19] == 0;
}

static int fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -1;
}

/* Grow *out to hold at least need bytes. */
static bool grow(uint8_t **out, size_t *cap, size_t need)
{
	if (need <= *cap)
		return true;
	size_t c = *cap ? *cap : (OUT_MAX < (16u << 20) ? OUT_MAX : (16u << 20));
	while (c < need)
		c *= 2;
	if (c > OUT_MAX)
		c = OUT_MAX;
	if (c < need)
		return false;
	uint8_t *p = realloc(*out, c);
	if (!p)
		return false;
	*out = p;
	*cap = c;
	return true;
}

static int unxz(const uint8_t *in, size_t n, uint8_t **out, size_t *outlen, char *err,
		size_t errlen)
{
	lzma_stream s = LZMA_STREAM_INIT;
	size_t cap = 0;
	if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK)
		return fail(err, errlen, "the XZ decoder could not start");
	s.next_in = in;
	s.avail_in = n;
	lzma_ret r = LZMA_OK;
	while (r == LZMA_OK) {
		if (!grow(out, &cap, *outlen + (1u << 20))) {
			lzma_end(&s);
			return fail(err, errlen, "the kernel decompresses to more than 512 MiB");
		}
		s.next_out = *out + *outlen;
		s.avail_out = cap - *outlen;
		r = lzma_code(&s, LZMA_FINISH);
		*outlen = cap - s.avail_out;
		if (r == LZMA_BUF_ERROR && s.avail_out != 0)
			break;
		if (r == LZMA_BUF_ERROR)
			r = LZMA_OK;
	}
	lzma_end(&s);
	if (r != LZMA_STREAM_END)
		return fail(err, errlen, "the XZ payload is damaged or cut short");
	return 0;
}

static int ungz(const uint8_t *in, size_t n, uint8_t **out, size_t *outlen, char *err,
		size_t errlen)
{
	z_stream s;
	size_t cap = 0;
	memset(&s, 0, sizeof(s));
	if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK)
		return fail(err, errlen, "the gzip decoder could not start");
	s.next_in = (Bytef *)(uintptr_t)in;
	s.avail_in = n > UINT32_MAX ? UINT32_MAX : (uInt)n;
	int r = Z_OK;
	while (r == Z_OK) {
		if (!grow(out, &cap, *outlen + (1u << 20))) {
			inflateEnd(&s);
			return fail(err, errlen, "the kernel decompresses to more than 512 MiB");
		}
		s.next_out = *out + *outlen;
		s.avail_out = (uInt)(cap - *outlen > UINT32_MAX ? UINT32_MAX : cap - *outlen);
		size_t before = s.avail_out;
		r = inflate(&s, Z_NO_FLUSH);
		*outlen += before - s.avail_out;
		if (r == Z_BUF_ERROR && s.avail_in == 0)
			break;
		if (r == Z_BUF_ERROR)
			r = Z_OK;
	}
	inflateEnd(&s);
	if (r != Z_STREAM_END)
		return fail(err, errlen, "the gzip payload is damaged or cut short");
	return 0;
}

static int unzstd(const uint8_t *in, size_t n, uint8_t **out, size_t *outlen, char *err,
		  size_t errlen)
{
	ZSTD_DStream *d = ZSTD_createDStream();
	size_t cap = 0, r = 1;
	if (!d)
		return fail(err, errlen, "the zstd decoder could not start");
	ZSTD_inBuffer ib = { in, n, 0 };
	while (r != 0) {
		if (!grow(out, &cap, *outlen + (1u << 20))) {
			ZSTD_freeDStream(d);
			return fail(err, errlen, "the kernel decompresses to more than 512 MiB");
		}
		ZSTD_outBuffer ob = { *out, cap, *outlen };
		r = ZSTD_decompressStream(d, &ob, &ib);
		*outlen = ob.pos;
		if (ZSTD_isError(r) || (ib.pos == ib.size && ob.pos < ob.size && r != 0))
			break;
	}
	ZSTD_freeDStream(d);
	if (r != 0)
		return fail(err, errlen, "the zstd payload is damaged or cut short");
	return 0;
}

int svt_linux_vmlinux(const uint8_t *img, size_t n, uint8_t **out, size_t *outlen, char *err,
		      size_t errlen)
{
	*out = NULL;
	*outlen = 0;
	if (is_vmlinux(img, n)) {
		*out = malloc(n);
		if (!*out)
			return fail(err, errlen, "out of memory");
		memcpy(*out, img, n);
		*outlen = n;
		return 0;
	}
	if (n < 0x250 || svt_get32(img + 0x202) != 0x53726448)
		return fail(err, errlen,
			    "neither a bzImage (no \"HdrS\" at 0x202) nor an x86-64 ELF kernel");
	unsigned version = (unsigned)img[0x206] | (unsigned)img[0x207] << 8;
	if (version < 0x208)
		return fail(err, errlen, "boot protocol before 2.08: the header gives no payload");
	size_t setup = ((size_t)(img[0x1f1] ? img[0x1f1] : 4) + 1) * 512;
	uint32_t off = svt_get32(img + 0x248), len = svt_get32(img + 0x24c);
	if (setup > n || off > n - setup || len > n - setup - off || len < 8)
		return fail(err, errlen, "the payload lies outside the file");
	const uint8_t *p = img + setup + off;
	int rc;
	if (memcmp(p, "\xfd" "7zXZ\0", 6) == 0)
		rc = unxz(p, len, out, outlen, err, errlen);
	else if (p[0] == 0x1f && (p[1] == 0x8b || p[1] == 0x9e))
		rc = ungz(p, len, out, outlen, err, errlen);
	else if (svt_get32(p) == 0xfd2fb528u)
		rc = unzstd(p, len, out, outlen, err, errlen);
	else if (p[0] == 'B' && p[1] == 'Z' && p[2] == 'h')
		rc = fail(err, errlen, "a bzip2 kernel: rebuild it with XZ, gzip or zstd");
	else if (p[0] == 0x89 && p[1] == 'L' && p[2] == 'Z' && p[3] == 'O')
		rc = fail(err, errlen, "an LZO kernel: rebuild it with XZ, gzip or zstd");
	else if (svt_get32(p) == 0x184c2102u || svt_get32(p) == 0x184d2204u)
		rc = fail(err, errlen, "an LZ4 kernel: rebuild it with XZ, gzip or zstd");
	else if (p[0] == 0x5d && p[1] == 0)
		rc = fail(err, errlen, "an LZMA kernel: rebuild it with XZ, gzip or zstd");
	else
		rc = fail(err, errlen, "the payload's compression is not recognised");
	if (rc == 0 && !is_vmlinux(*out, *outlen))
		rc = fail(err, errlen, "the payload does not decompress to an x86-64 ELF kernel");
	if (rc != 0) {
		free(*out);
		*out = NULL;
		*outlen = 0;
	}
	return rc;
}
