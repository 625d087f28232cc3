/*
 * fuzz.h — shared by the fuzz targets: a byte reader over the fuzzer's
 * input (running out yields zeros, so every input is valid) and the check
 * that aborts with a message, which libFuzzer and the driver both report.
 */
#ifndef SVT_FUZZ_H
#define SVT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct fz {
	const uint8_t *p;
	size_t n, off;
};

static inline uint8_t fz_u8(struct fz *f)
{
	return f->off < f->n ? f->p[f->off++] : 0;
}

static inline uint64_t fz_u64(struct fz *f, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)fz_u8(f) << (8 * i);
	return v;
}

static inline int fz_more(const struct fz *f)
{
	return f->off < f->n;
}

/* A growing memory buffer, as a trace writer's sink (svt_trace_writer_open_sink). */
struct fz_sink {
	uint8_t *buf;
	size_t len, cap;
};

static inline int fz_sink_write(void *ctx, const void *p, size_t n)
{
	struct fz_sink *s = ctx;
	if (s->len + n > s->cap) {
		size_t c = s->cap ? s->cap * 2 : 65536;
		while (c < s->len + n)
			c *= 2;
		uint8_t *b = realloc(s->buf, c);
		if (!b)
			return -1;
		s->buf = b;
		s->cap = c;
	}
	for (size_t i = 0; i < n; i++)
		s->buf[s->len + i] = ((const uint8_t *)p)[i];
	s->len += n;
	return 0;
}

#define FZ_CHECK(cond, ...) do {                                                \
	if (!(cond)) {                                                          \
		fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__);                                   \
		fputc('\n', stderr);                                            \
		abort();                                                        \
	}                                                                       \
} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
