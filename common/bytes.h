/*
 * bytes.h — the one set of little-endian and varint helpers of the tree
 * outside the core (traces/FORMAT.md, "Conventions"): fixed-width
 * little-endian stores and loads, unsigned LEB128 varints and zigzag
 * deltas.  Used by the record codec, the live-stream packets, the trace
 * library, the hypervisor's Multiboot and Linux loaders and the kernel
 * image reader.  Every multi-byte value written to a file or a stream goes
 * through these; no struct is ever written whole.
 */
#ifndef SVT_BYTES_H
#define SVT_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline void svt_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void svt_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void svt_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t svt_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t svt_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t svt_get64(const uint8_t *p)
{
	return (uint64_t)svt_get32(p) | (uint64_t)svt_get32(p + 4) << 32;
}

/* Bytes svt_putv writes for v. */
static inline size_t svt_vlen(uint64_t v)
{
	/* 7 bits a byte: the index of the top bit (of v | 1: 0 takes a
	 * byte), over seven, plus one; x / 7 is x * 37 >> 8 for x < 71 (no
	 * branch, no division: the recorder asks for every word it encodes) */
	unsigned top = 63u - (unsigned)__builtin_clzll(v | 1);
	return ((top + 7u) * 37u) >> 8;
}

/* Unsigned LEB128: 7 bits a byte, low first, high bit = more.  At most 10
 * bytes; returns the bytes written. */
static inline size_t svt_putv(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* Decode a varint at *p (before end); false if it runs past end, is longer
 * than 10 bytes, or overflows 64 bits. */
static inline bool svt_getv(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	const uint8_t *q = *p;
	uint64_t r = 0;
	/* One byte is the common case (most deltas and lengths are small):
	 * no loop for it. */
	if (q < end && *q < 0x80) {
		*v = *q;
		*p = q + 1;
		return true;
	}
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (q == end)
			return false;
		uint8_t b = *q++;
		if (shift == 63 && b > 1)
			return false;
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*p = q;
			*v = r;
			return true;
		}
	}
	return false;
}

static inline uint64_t svt_zz(uint64_t delta)      /* zigzag of a two's complement delta */
{
	return (delta << 1) ^ (uint64_t)-(int64_t)(delta >> 63);
}

static inline uint64_t svt_unzz(uint64_t z)
{
	return (z >> 1) ^ (uint64_t)-(int64_t)(z & 1);
}

/* ---- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), crc32c.c --- */

/* svt_crc32c(0, p, n) is the CRC of p[0..n); pass a previous result to
 * extend.  Uses SSE4.2's crc32 instruction where the CPU has it. */
uint32_t svt_crc32c(uint32_t crc, const void *p, size_t n);
/* The portable path alone (the tests compare it with the hardware one). */
uint32_t svt_crc32c_soft(uint32_t crc, const void *p, size_t n);

#endif /* SVT_BYTES_H */
