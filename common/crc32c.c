/*
 * trace-crc.c — CRC-32C (Castagnoli), the checksum of every part of a
 * trace file: the polynomial 0x1EDC6F41, reflected (0x82F63B78), initial
 * value and final XOR 0xFFFFFFFF, as in iSCSI, ext4 and SSE4.2's crc32
 * instruction.  crc32c("123456789") = 0xE3069283.
 *
 * Portable path: slicing-by-8 tables built once (pthread_once).  On x86-64
 * with SSE4.2 the crc32 instruction is used instead; both give the same
 * result, which a test checks.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "trace_int.h"

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static uint32_t (*crc_fn)(uint32_t, const uint8_t *, size_t);

static uint32_t crc_soft(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n > 0 && ((uintptr_t)p & 7) != 0) {
		crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		n--;
	}
	while (n >= 8) {
		uint32_t lo = crc ^ tr_get32(p), hi = tr_get32(p + 4);
		crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
		      table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
		      table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
		      table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_HW_CRC 1
__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t c = crc;
	while (n > 0 && ((uintptr_t)p & 7) != 0) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		n--;
	}
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);       /* the instruction takes the bytes in LE order */
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}
#endif

static void table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (uint32_t)-(int32_t)(c & 1));
		table[0][i] = c;
	}
	for (int t = 1; t < 8; t++)
		for (int i = 0; i < 256; i++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
	crc_fn = crc_soft;
#ifdef HAVE_HW_CRC
	/* The hardware path assumes a little-endian host for the memcpy above;
	 * x86-64 is one. */
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2"))
		crc_fn = crc_hw;
#endif
}

uint32_t svt_crc32c(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&table_once, table_init);
	return ~crc_fn(~crc, p, n);
}

uint32_t svt_crc32c_soft(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&table_once, table_init);
	return ~crc_soft(~crc, p, n);
}
