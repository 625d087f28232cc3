/*
 * common_deps.h — everything the shared record/replay layer (common/)
 * takes from outside the core, in one place, as zstd's zstd_deps.h does:
 * the four memory primitives GCC requires of every freestanding
 * environment (memcpy, memmove, memset, memcmp; the hypervisor's vmx/lib.c
 * provides them, libc does in the hosted build).  Nothing else: no stdio,
 * no allocation, no other libc function.  tests/freestanding-symbols.sh
 * checks the freestanding build against exactly this list.
 */
#ifndef SVT_COMMON_DEPS_H
#define SVT_COMMON_DEPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if __STDC_HOSTED__
#include <string.h>
#else
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#endif

/* Bytes of a NUL-terminated string, at most max (no strlen: not one of the four). */
static inline size_t svt_strnlen(const char *s, size_t max)
{
	size_t n = 0;
	while (n < max && s[n])
		n++;
	return n;
}

/* The clock of the recorder's profile: the time-stamp counter in a build
 * with SVT_PROFILE (the hypervisor's), else 0 (and the profile code folds
 * away).  A compiler builtin, no asm. */
#if defined(SVT_PROFILE) && defined(__x86_64__)
#define SVT_PROFILING 1
static inline uint64_t svt_ticks(void) { return __builtin_ia32_rdtsc(); }
#else
#define SVT_PROFILING 0
static inline uint64_t svt_ticks(void) { return 0; }
#endif

/* Whether n bytes at p hold a NUL (no memchr: not one of the four). */
static inline bool svt_has_nul(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] == 0)
			return true;
	return false;
}

#endif /* SVT_COMMON_DEPS_H */
