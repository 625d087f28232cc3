/*
 * svt-mmap.c — mmap/munmap churn for the Linux workload: `svt-mmap N`
 * maps N anonymous regions of 1 to 64 pages in turn, touches every page
 * (a write: a fresh page table entry each), changes half of them to
 * read-only and back (mprotect), and unmaps them; a fixed pseudo-random
 * sequence, so every run makes the same calls.  Prints the checksum of
 * what it read back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	uint64_t x = 0x9e3779b97f4a7c15ull, sum = 0;
	for (long i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t pages = 1 + (size_t)(x % 64), len = pages * 4096;
		volatile uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		for (size_t k = 0; k < pages; k++)
			p[k * 4096] = (uint8_t)(i + k);
		if (i & 1) {
			mprotect((void *)p, len, PROT_READ);
			for (size_t k = 0; k < pages; k++)
				sum += p[k * 4096];
			mprotect((void *)p, len, PROT_READ | PROT_WRITE);
		}
		munmap((void *)p, len);
	}
	printf("svt-mmap: %ld regions, checksum %llu\n", n, (unsigned long long)sum);
	return 0;
}
