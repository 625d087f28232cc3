/*
 * svt-mark.c — a phase marker for the Linux workload (guests/linux/init):
 * `svt-mark NAME` prints "shadowvt-mark NAME tsc=T" on standard output
 * (T the time-stamp counter: under Bochs, instructions so far) and, where
 * it may (ioperm: root), writes "NAME\n" to I/O port 0x8a8, which the
 * shadowvt hypervisor takes as the start of a phase: it logs the exits
 * of the phase that ended and records a MARK in the trace.  Natively
 * nothing answers the port and the writes are lost.  Static, no libc
 * beyond what glibc's static archive gives.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>

#define MARK_PORT 0x8a8

int main(int argc, char **argv)
{
	if (argc != 2 || strlen(argv[1]) == 0 || strlen(argv[1]) > 200) {
		fprintf(stderr, "usage: svt-mark NAME\n");
		return 2;
	}
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	printf("shadowvt-mark %s tsc=%llu\n", argv[1], (unsigned long long)hi << 32 | lo);
	fflush(stdout);
	if (ioperm(MARK_PORT, 1, 1) == 0) {
		for (const char *p = argv[1]; *p; p++)
			outb((unsigned char)*p, MARK_PORT);
		outb('\n', MARK_PORT);
	}
	return 0;
}
