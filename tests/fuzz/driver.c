/*
 * driver.c — runs a libFuzzer target without libFuzzer, so `make check`
 * exercises every fuzz target deterministically: each file named on the
 * command line is one input; with none, FUZZ_RUNS (default 20000) inputs
 * from a fixed-seed generator, of lengths up to FUZZ_MAXLEN (4096).
 * `make fuzz` builds the same targets with clang's -fsanitize=fuzzer.
 * Output is TAP, for automake's driver; a failed check aborts, which the
 * driver reports as an error.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "rng.h"

static uint64_t rng = 0x5eed5eed12345678ull;

static uint64_t next(void)
{
	return svt_splitmix64(&rng);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			FILE *f = fopen(argv[i], "rb");
			static uint8_t buf[1 << 20];
			if (f == NULL) {
				perror(argv[i]);
				return 2;
			}
			size_t n = fread(buf, 1, sizeof(buf), f);
			fclose(f);
			LLVMFuzzerTestOneInput(buf, n);
		}
		printf("1..1\nok 1 - %d input file(s) ran clean\n", argc - 1);
		return 0;
	}
	const char *e = getenv("FUZZ_RUNS");
	long runs = e ? atol(e) : 20000;
	e = getenv("FUZZ_MAXLEN");
	size_t maxlen = e ? (size_t)atol(e) : 4096;
	uint8_t *buf = malloc(maxlen + 1);
	if (buf == NULL)
		return 2;
	for (long r = 0; r < runs; r++) {
		size_t n = (size_t)(next() % (maxlen + 1));
		for (size_t i = 0; i < n; i += 8) {
			uint64_t v = next();
			for (size_t j = 0; j < 8 && i + j < n; j++)
				buf[i + j] = (uint8_t)(v >> (8 * j));
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	free(buf);
	printf("1..1\nok 1 - %ld generated inputs ran clean\n", runs);
	return 0;
}
