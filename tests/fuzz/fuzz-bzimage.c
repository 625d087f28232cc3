/*
 * fuzz-bzimage.c — the kernel-image reader (sim/live/linux-image.c) on
 * arbitrary input.  The first byte picks the shape: the raw bytes; or a
 * bzImage header ("HdrS", a protocol version, setup_sects, payload offset
 * and length from the input) around a payload that is the rest of the
 * input, or a real XZ, gzip or zstd stream of input bytes with a byte
 * flipped or cut short here and there.  Whatever comes in, the reader must
 * end with 0 and an x86-64 ELF of at most the output cap, or -1 with a
 * message; the cap is 4 MiB here so that compression bombs stay cheap.
 */
#include <lzma.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "fuzz.h"
#include "linux-image.h"

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size, 0 };
	static uint8_t img[1 << 17], raw[1 << 15];
	size_t n = 0;
	svt_linux_out_max = 4u << 20;
	unsigned shape = fz_u8(&f) % 5;
	if (shape == 0) {
		n = size > sizeof(img) ? sizeof(img) : size;
		memcpy(img, data, n);
	} else {
		/* the payload: what follows, maybe an ELF header first */
		size_t rn = 0;
		if (fz_u8(&f) & 1) {
			static const uint8_t elf[] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, 0 };
			memcpy(raw, elf, sizeof(elf));
			raw[18] = 62;
			rn = 64;
		}
		while (fz_more(&f) && rn < sizeof(raw))
			raw[rn++] = fz_u8(&f);
		unsigned setup = fz_u8(&f) & 7;
		size_t pm = ((size_t)(setup ? setup : 4) + 1) * 512, plen = 0;
		memset(img, 0, pm);
		put32(img + 0x202, 0x53726448);
		img[0x206] = (uint8_t)(fz_u8(&f) & 1 ? 0x0f : 0x05);
		img[0x207] = 2;
		img[0x1f1] = (uint8_t)setup;
		uint8_t *pl = img + pm;
		size_t room = sizeof(img) - pm;
		if (shape == 1) {
			plen = rn < room ? rn : room;
			memcpy(pl, raw, plen);
		} else if (shape == 2) {
			plen = room;
			if (lzma_easy_buffer_encode(0, LZMA_CHECK_CRC32, NULL, raw, rn, pl, &plen,
						    room) != LZMA_OK)
				plen = 0;
		} else if (shape == 3) {
			z_stream z;
			memset(&z, 0, sizeof(z));
			if (deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8,
					 Z_DEFAULT_STRATEGY) == Z_OK) {
				z.next_in = raw;
				z.avail_in = (uInt)rn;
				z.next_out = pl;
				z.avail_out = (uInt)room;
				deflate(&z, Z_FINISH);
				plen = room - z.avail_out;
				deflateEnd(&z);
			}
		} else {
			size_t r = ZSTD_compress(pl, room, raw, rn, 1);
			plen = ZSTD_isError(r) ? 0 : r;
		}
		unsigned mess = fz_u8(&f);
		if (plen && (mess & 3) == 1)
			pl[fz_u64(&f, 2) % plen] ^= (uint8_t)(1u << (fz_u8(&f) & 7));
		if (plen && (mess & 3) == 2)
			plen = fz_u64(&f, 2) % plen;
		uint32_t off = (mess & 4) ? (uint32_t)fz_u64(&f, 4) : 0;
		uint32_t len = (mess & 8) ? (uint32_t)fz_u64(&f, 4) : (uint32_t)plen;
		put32(img + 0x248, off);
		put32(img + 0x24c, len);
		n = pm + plen;
	}
	uint8_t *out = NULL;
	size_t outlen = 0;
	char err[200] = "";
	int rc = svt_linux_vmlinux(img, n, &out, &outlen, err, sizeof(err));
	FZ_CHECK(rc == 0 || rc == -1, "returned %d\n", rc);
	if (rc == 0) {
		FZ_CHECK(out && outlen >= 64 && outlen <= svt_linux_out_max + sizeof(img),
			 "output of %zu bytes\n", outlen);
		FZ_CHECK(memcmp(out, "\x7f" "ELF", 4) == 0 && out[4] == 2 && out[18] == 62,
			 "output is not an x86-64 ELF\n");
	} else {
		FZ_CHECK(out == NULL && err[0], "failure without a message or with output\n");
	}
	free(out);
	return 0;
}
