/*
 * crc32c.c — CRC-32C (Castagnoli), the checksum of every part of a trace
 * file and of every live-stream packet: the polynomial 0x1EDC6F41,
 * reflected (0x82F63B78), initial value and final XOR 0xFFFFFFFF, as in
 * iSCSI, ext4 and SSE4.2's crc32 instruction.
 * crc32c("123456789") = 0xE3069283.
 *
 * One implementation for the hypervisor and the host tool.  The portable
 * path is a byte at a time through a table the preprocessor computes (so
 * nothing is initialised at run time and nothing races); on x86-64 with
 * SSE4.2 the crc32 instruction does eight bytes at a time.  Both give the
 * same result, which a test checks.
 */
#include "bytes.h"
#include "common_deps.h"

#define CRC_POLY 0x82F63B78u
#define CRC_1(c) (((c) >> 1) ^ (((c) & 1u) ? CRC_POLY : 0u))
#define CRC_8(c) CRC_1(CRC_1(CRC_1(CRC_1(CRC_1(CRC_1(CRC_1(CRC_1((uint32_t)(c)))))))))
#define CRC_R2(n) CRC_8(n), CRC_8((n) + 1)
#define CRC_R4(n) CRC_R2(n), CRC_R2((n) + 2)
#define CRC_R8(n) CRC_R4(n), CRC_R4((n) + 4)
#define CRC_R16(n) CRC_R8(n), CRC_R8((n) + 8)
#define CRC_R32(n) CRC_R16(n), CRC_R16((n) + 16)
#define CRC_R64(n) CRC_R32(n), CRC_R32((n) + 32)
#define CRC_R128(n) CRC_R64(n), CRC_R64((n) + 64)

static const uint32_t crc_table[256] = { CRC_R128(0u), CRC_R128(128u) };

_Static_assert(sizeof(crc_table) == 256 * sizeof(uint32_t), "one entry per byte value");

/* on the reflected, inverted register */
static uint32_t crc_soft(uint32_t c, const uint8_t *p, size_t n)
{
	while (n--)
		c = (c >> 8) ^ crc_table[(c ^ *p++) & 0xff];
	return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* 1: the CPU has SSE4.2's crc32; -1: it has not; 0: not asked yet.  Every
 * thread that asks finds the same answer, so a relaxed store is enough. */
static int have_hw;

static bool hw_crc(void)
{
	int h = __atomic_load_n(&have_hw, __ATOMIC_RELAXED);
	if (h == 0) {
		uint32_t a = 1, b, c = 0, d;
		__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
		h = (c >> 20) & 1 ? 1 : -1;
		__atomic_store_n(&have_hw, h, __ATOMIC_RELAXED);
	}
	return h > 0;
}

static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t v = crc;
	for (; n >= 8; n -= 8, p += 8) {
		uint64_t w;
		__builtin_memcpy(&w, p, 8);     /* the instruction takes the bytes in LE order */
		__asm__("crc32q %1, %0" : "+r"(v) : "rm"(w));
	}
	for (; n; n--, p++)
		__asm__("crc32b %1, %k0" : "+r"(v) : "rm"(*p));
	return (uint32_t)v;
}
#endif

uint32_t svt_crc32c(uint32_t crc, const void *p, size_t n)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (hw_crc())
		return ~crc_hw(~crc, p, n);
#endif
	return ~crc_soft(~crc, p, n);
}

uint32_t svt_crc32c_soft(uint32_t crc, const void *p, size_t n)
{
	return ~crc_soft(~crc, p, n);
}
