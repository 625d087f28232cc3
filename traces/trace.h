/*
 * trace.h — reading and writing shadowvt trace files (traces/FORMAT.md,
 * shadowvt-trace(5)).
 *
 * A trace is a file header, a sequence of independent frames of typed,
 * length-prefixed records (each frame compressed on its own with zstd, its
 * delta state reset, and checksummed), a seek index and a trailer with
 * totals.  The writer turns struct svt_trace_event values into frames and
 * hands the bytes to a sink (a file, a FILE *, or a callback), so the frame
 * builder does not depend on where the bytes go.  The reader streams events
 * from a file or a memory buffer, seeks to any event through the index, and
 * reports every problem with the file name, frame number, byte offset and
 * event number: it never crashes on bad input, never loops, and never
 * allocates more than a frame's declared size (bounded by
 * SVT_TRACE_MAX_CONTENT).
 *
 * Every function that can fail returns an enum svt_trace_status (negative
 * on failure) and fills a struct svt_trace_error.
 */
#ifndef SVT_TRACE_H
#define SVT_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "svt.h"
#include "trace_event.h"

/* ---- versions and limits ---------------------------------------------- */

#define SVT_TRACE_MAJOR         1
#define SVT_TRACE_MINOR         6

#define SVT_TRACE_MAX_CONTENT   (16u << 20)     /* uncompressed bytes in one frame */
#define SVT_TRACE_MAX_HEADER    (1u << 20)      /* bytes of the file header */
#define SVT_TRACE_MAX_STRING    4096            /* bytes of a header string */
#define SVT_TRACE_MAX_RANGES    16384           /* guest RAM ranges */
#define SVT_TRACE_FRAME_DEFAULT (1u << 20)      /* writer's frame target */
#define SVT_TRACE_FRAME_MIN     64
#define SVT_TRACE_FRAME_MAX     (8u << 20)

#define SVT_TRACE_NONE          (~0ull)         /* "not known" in error fields */

/* ---- status and errors ------------------------------------------------- */

enum svt_trace_status {
	SVT_TRACE_OK = 0,       /* done; svt_trace_next: an event was returned */
	SVT_TRACE_END = 1,      /* svt_trace_next: no more events, file complete */
	SVT_TRACE_EINPUT = -1,  /* the file is not a valid trace (damaged, truncated, ...) */
	SVT_TRACE_EIO = -2,     /* reading or writing failed (errno in the message) */
	SVT_TRACE_EARG = -3,    /* the caller passed something invalid */
	SVT_TRACE_ENOMEM = -4,  /* out of memory */
};

/*
 * A failure, with where it happened.  msg is the whole message, ready to
 * print: "FILE: frame F at offset O, event N: what went wrong".  Fields
 * that do not apply are SVT_TRACE_NONE.
 */
struct svt_trace_error {
	int status;             /* enum svt_trace_status */
	uint64_t frame;         /* frame number (0 = first frame) */
	uint64_t offset;        /* byte offset in the file */
	uint64_t seq;           /* event number */
	char msg[640];
};

/* ---- the file header --------------------------------------------------- */

/*
 * What the recording ran on and with: enough to build the core's
 * configuration for replay (svt_trace_mmu_config) and to describe the run.
 * Strings are NUL-terminated UTF-8 of at most SVT_TRACE_MAX_STRING bytes;
 * NULL counts as "".  In a header returned by the reader every pointer is
 * owned by the reader and lives until svt_trace_close.
 */
struct svt_trace_header {
	uint16_t major, minor;          /* reader: the file's; writer: ignored */
	const char *producer;           /* program and version that wrote the trace */
	const char *cpu_model;          /* the CPU it was recorded on ("synthetic") */
	const char *guest;              /* free-text description of the guest */
	uint8_t maxphyaddr;             /* 32..52 */
	uint32_t features;              /* SVT_FEAT_* */
	uint64_t guest_frames;          /* guest RAM lies in frames [0, guest_frames) */
	const struct svt_trace_range *ram;      /* which of those are RAM: sorted, */
	size_t nram;                            /* disjoint ranges */
	/* Device frames the hypervisor passed through to the guest (mapped
	 * 1:1, never RAM, never write-protected): sorted, disjoint ranges
	 * that overlap no RAM range, anywhere below 2^(maxphyaddr-12). */
	const struct svt_trace_range *devices;
	size_t ndevices;
	struct svt_policy policy;       /* the policy the recording ran with */
	uint32_t pool_frames;           /* shadow pool size, >= 16 */
	uint32_t links, root_cache;     /* as in struct svt_mmu_config; 0: default */
	uint32_t frame_size;            /* reader: the writer's frame target; writer: ignored */
	uint32_t evidence;              /* SVT_EVIDENCE_* the recorder logged; 0: none */
};

/* The core configuration the recording ran with. */
void svt_trace_mmu_config(const struct svt_trace_header *h, struct svt_mmu_config *cfg);

/* ---- the writer ---------------------------------------------------------- */

struct svt_trace_writer;

/* Where a writer's bytes go: return 0, or -1 with errno set. */
typedef int (*svt_trace_sink_fn)(void *ctx, const void *buf, size_t len);

/*
 * Start a trace.  level: 0 stores frames uncompressed, 1..22 is the zstd
 * level (1..3 while recording).  The header is validated (SVT_TRACE_EARG
 * with the reason) and encoded now, and written with the first frame, at
 * a flush or at close.  Return NULL on failure, with *err filled.  _open
 * creates or truncates path; _open_file writes to f (not closed by the
 * writer); _open_sink hands every byte to fn.  name is what messages call
 * the output.
 */
struct svt_trace_writer *svt_trace_writer_open(const char *path, const struct svt_trace_header *h,
					       int level, struct svt_trace_error *err);
struct svt_trace_writer *svt_trace_writer_open_file(FILE *f, const char *name,
						    const struct svt_trace_header *h, int level,
						    struct svt_trace_error *err);
struct svt_trace_writer *svt_trace_writer_open_sink(svt_trace_sink_fn fn, void *ctx,
						    const char *name,
						    const struct svt_trace_header *h, int level,
						    struct svt_trace_error *err);

/* Frame target in uncompressed bytes (SVT_TRACE_FRAME_MIN..MAX); only
 * before the first event or flush. */
int svt_trace_writer_set_frame_size(struct svt_trace_writer *w, size_t bytes);

/* Append one event (ev->seq is ignored).  An invalid event is refused with
 * SVT_TRACE_EARG and the writer stays usable; an I/O failure is final. */
int svt_trace_write(struct svt_trace_writer *w, const struct svt_trace_event *ev);

/* End the current frame now, so that a reader at the other end sees its
 * events promptly (sending the header first if it has not gone yet); an
 * empty frame is not written.  Flushes the FILE * of _open. */
int svt_trace_writer_flush(struct svt_trace_writer *w);

/* The sequence number the next event will get. */
uint64_t svt_trace_writer_seq(const struct svt_trace_writer *w);

/* The last failure (status SVT_TRACE_OK if none). */
const struct svt_trace_error *svt_trace_writer_error(const struct svt_trace_writer *w);

/*
 * Flush the last frame, write the index and the trailer, close the file
 * (for _open; flush f for _open_file) and free the writer.  Returns the
 * first failure the writer met (a refused event is not one: the file is
 * still good), with *err filled (err may be NULL).
 */
int svt_trace_writer_close(struct svt_trace_writer *w, struct svt_trace_error *err);

/* ---- the reader ---------------------------------------------------------- */

struct svt_trace_reader;

/* svt_trace_open flags */
#define SVT_TRACE_NO_CRC  (1u << 0)   /* skip checksum verification (fuzzing) */

/*
 * Open a trace and validate its header, trailer and index.  A damaged or
 * missing trailer or index still allows reading from the start (and
 * seeking, by scanning frame headers); svt_trace_reader_warning() then says
 * why, and reading ends with an error instead of SVT_TRACE_END, since the
 * file cannot be known to be complete.  NULL on failure with *err filled.
 * _open_mem reads a buffer that must outlive the reader.
 */
struct svt_trace_reader *svt_trace_open(const char *path, unsigned flags,
					struct svt_trace_error *err);
struct svt_trace_reader *svt_trace_open_mem(const void *buf, size_t len, const char *name,
					    unsigned flags, struct svt_trace_error *err);

const struct svt_trace_header *svt_trace_reader_header(const struct svt_trace_reader *r);

/* NULL, or why the trailer or index could not be used. */
const char *svt_trace_reader_warning(const struct svt_trace_reader *r);

/*
 * The next event: SVT_TRACE_OK (filled *ev), SVT_TRACE_END, or an error
 * (svt_trace_reader_error says what and where).  Pointers in *ev stay
 * valid until the next call on the reader.  A gap between frames is
 * returned as a LOST event with reason SVT_TRACE_LOST_GAP.  After an error
 * next keeps returning it until a successful seek.
 */
int svt_trace_next(struct svt_trace_reader *r, struct svt_trace_event *ev);

/*
 * Position so that the next event returned is the one with sequence number
 * seq, or the LOST event covering it.  seq == the total is the end;
 * beyond it is SVT_TRACE_EARG.  Decodes only the frame holding seq.
 */
int svt_trace_seek(struct svt_trace_reader *r, uint64_t seq);

const struct svt_trace_error *svt_trace_reader_error(const struct svt_trace_reader *r);

struct svt_trace_info {
	uint16_t major, minor;
	uint64_t file_size;
	bool indexed;           /* the trailer and index are valid */
	uint64_t frames;        /* from the index, or by scanning frame headers */
	uint64_t events;        /* sequence numbers (lost events included) */
	uint64_t records;       /* records in the file (indexed only; else 0) */
	uint64_t lost;          /* events lost, by LOST records (indexed only) */
	uint64_t counts[SVT_TRACE_NTYPES];      /* records per type (indexed only) */
	uint64_t unknown_seen;  /* records of unknown type the reader met so far */
	double bytes_per_event; /* file_size / events */
};

/* Fill *info (may scan frame headers when the file has no usable index). */
int svt_trace_info(struct svt_trace_reader *r, struct svt_trace_info *info);

/*
 * Check the whole file frame by frame without decoding its records: every
 * frame's header and its checksum, the checksum of its stored bytes, its
 * decompression and the checksum of its content; the frames against the
 * index, entry by entry; and the frame, event and record totals against
 * the trailer.  SVT_TRACE_OK, or the first failure (svt_trace_reader_error
 * says what and where; a file whose trailer or index is unusable fails
 * here too).  *frames: the frames that passed.  The reader is then back
 * at the first event, as after opening; after a failure svt_trace_next
 * returns it until a seek.
 */
int svt_trace_verify_frames(struct svt_trace_reader *r, uint64_t *frames);

void svt_trace_close(struct svt_trace_reader *r);

/* ---- printing ------------------------------------------------------------ */

/* One event on one line (text or a JSON object), newline included. */
void svt_trace_dump_event(FILE *f, const struct svt_trace_event *ev, bool json);
/* The header and totals (text: "key: value" lines; JSON: one object). */
void svt_trace_dump_info(FILE *f, const struct svt_trace_header *h,
			 const struct svt_trace_info *info, bool json);

#endif /* SVT_TRACE_H */
