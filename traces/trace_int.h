/*
 * trace_int.h — internals of the trace library shared by its files: the
 * on-disk constants of traces/FORMAT.md's file structure, and the codecs
 * of the file header, frame headers, the index and the trailer.  Records
 * themselves are encoded by the shared layer (common/rec_codec.h).
 * Nothing here is for users of traces/trace.h.
 */
#ifndef SVT_TRACE_INT_H
#define SVT_TRACE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <zstd.h>

#include "bytes.h"
#include "names.h"
#include "rec_codec.h"
#include "trace.h"

/* ---- on-disk constants (traces/FORMAT.md) ------------------------------ */

/* File magic: \x89 S V T \r \n \x1a \n — as PNG's, it catches 7-bit and
 * newline-translating transfers and stops `type` on DOS. */
extern const uint8_t svt_trace_file_magic[8];
extern const uint8_t svt_trace_end_magic[8];    /* "SVT-END\n" */

#define TR_FRAME_MAGIC   0x46545653u    /* "SVTF" */
#define TR_INDEX_MAGIC   0x49545653u    /* "SVTI" */
#define TR_TRAILER_MAGIC 0x54545653u    /* "SVTT" */

#define TR_FILE_FIXED    16     /* magic, major, minor, header_size */
#define TR_FRAME_HDR     48
#define TR_INDEX_FIXED   16     /* magic, reserved, count */
#define TR_INDEX_ENTRY   16
#define TR_TRAILER_FIXED 56     /* trailer before counts[] */
#define TR_TRAILER_TAIL  16     /* crc, trailer_size, end magic: the file's last bytes */
#define TR_MAX_NTYPES    64
#define TR_TRAILER_MAX   (TR_TRAILER_FIXED + 8 * TR_MAX_NTYPES + TR_TRAILER_TAIL)

#define TR_METHOD_STORED 0
#define TR_METHOD_ZSTD   1

/* header field tags */
enum {
	TR_H_PRODUCER = 1, TR_H_CPU_MODEL = 2, TR_H_GUEST = 3, TR_H_MACHINE = 4,
	TR_H_RAM = 5, TR_H_POLICY = 6, TR_H_FRAME_SIZE = 7, TR_H_DEVICE = 8, TR_H_EVIDENCE = 9,
};

/* ---- file header, frame header, index, trailer (trace-hdr.c) -------------- */

/* NULL if h can be written, else why not (also used on decoded headers). */
const char *tr_check_header(const struct svt_trace_header *h);

/* Encode a checked header; *out is malloc'd.  false: out of memory. */
bool tr_header_encode(const struct svt_trace_header *h, uint32_t frame_size,
		      uint8_t **out, size_t *len);

/* Change the frame size in an encoded header (and its checksum). */
void tr_header_set_frame_size(uint8_t *hdr, size_t len, uint32_t frame_size);

/* A decoded header and the memory it points into. */
struct tr_header_store {
	struct svt_trace_header h;
	char *strings[3];
	struct svt_trace_range *ram, *devices;
};

/* Length of the header from its first TR_FILE_FIXED bytes, or 0 with *why. */
uint32_t tr_header_size(const uint8_t *fixed, uint64_t file_size, const char **why);
/* Decode a whole header of len bytes.  Returns SVT_TRACE_OK, EINPUT (why),
 * or ENOMEM. */
int tr_header_decode(const uint8_t *p, size_t len, bool check_crc,
		     struct tr_header_store *hs, const char **why);
void tr_header_free(struct tr_header_store *hs);

struct tr_frame {
	uint8_t method;
	uint32_t stored_size, content_size;
	uint64_t first_seq, nseq;
	uint32_t nrec;
	uint32_t stored_crc, content_crc;
};

void tr_frame_encode(const struct tr_frame *f, uint8_t out[TR_FRAME_HDR]);
/* Decode and check a frame header (magic, header CRC unless !check_crc,
 * sizes); false with *why. */
bool tr_frame_decode(const uint8_t in[TR_FRAME_HDR], bool check_crc, struct tr_frame *f,
		     const char **why);

struct tr_index_entry {
	uint64_t offset, first_seq;
};

struct tr_trailer {
	uint64_t events, records, lost, frames;
	uint64_t index_offset, index_size;
	uint32_t ntypes;
	uint64_t counts[TR_MAX_NTYPES];
};

/* Bytes of the trailer with ntypes counts. */
static inline uint32_t tr_trailer_size(uint32_t ntypes)
{
	return TR_TRAILER_FIXED + 8 * ntypes + TR_TRAILER_TAIL;
}

void tr_trailer_encode(const struct tr_trailer *t, uint8_t *out);
/* From the file's last TR_TRAILER_TAIL bytes: the trailer's size, or 0. */
uint32_t tr_trailer_tail(const uint8_t tail[TR_TRAILER_TAIL], const char **why);
bool tr_trailer_decode(const uint8_t *p, uint32_t len, bool check_crc, struct tr_trailer *t,
		       const char **why);

/* The index: out gets TR_INDEX_FIXED + 16 * n + 4 bytes. */
void tr_index_encode(const struct tr_index_entry *e, uint64_t n, uint8_t *out);
bool tr_index_decode(const uint8_t *p, uint64_t len, bool check_crc, struct tr_index_entry *e,
		     uint64_t n, const char **why);

/* ---- errors (trace-write.c) ------------------------------------------------- */

/* Fill *e: "NAME: frame F, offset O, event N: message", leaving out the
 * parts that are SVT_TRACE_NONE. */
void tr_error_set(struct svt_trace_error *e, int status, const char *name, uint64_t frame,
		  uint64_t offset, uint64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* ---- the reader (trace-read.c: opening; trace-next.c: frames, events) ------ */

struct svt_trace_reader {
	char *name;
	unsigned flags;
	int fd;                         /* -1: reading mem */
	const uint8_t *mem;
	uint64_t size;                  /* file size */
	struct tr_header_store hs;
	uint64_t data_start;            /* the first frame's offset */
	uint64_t data_end;              /* frames end here: the index, or the end of the file */
	bool indexed;                   /* trailer and index valid */
	char warning[sizeof(((struct svt_trace_error *)0)->msg)];
	struct tr_trailer tr;
	struct tr_index_entry *index;   /* the file's, or built by scanning frame headers */
	uint64_t nindex, index_cap;
	uint64_t scan_off;              /* scanning continues here */
	uint64_t scan_seq;              /* end of the last scanned frame's events */
	const char *scan_stop;          /* why scanning stopped early, or NULL */
	bool scan_done;

	ZSTD_DCtx *dctx;
	uint8_t *sbuf, *cbuf;           /* stored bytes (read from fd), content */
	size_t scap, ccap;
	const uint8_t *cstart, *cp, *cend;      /* the current frame's content */
	struct tr_state st;
	struct tr_frame fr;
	bool in_frame;
	uint64_t frame_no, frame_off;   /* the current frame */
	uint64_t next_off, next_no;     /* the frame after it */
	uint64_t frame_nrec, frame_nseq;        /* decoded so far in the current frame */
	uint64_t seq;                   /* the next event's number */
	bool via_index;                 /* the next frame load follows a seek */
	bool full_pass;                 /* reading from the start: check totals at the end */
	uint64_t counts[SVT_TRACE_NTYPES];
	uint64_t unknown_seen;
	bool have_pending;
	struct svt_trace_event pending;
	struct svt_trace_error err;     /* sticky until a seek */
	uint8_t membuf[SVT_TRACE_MAX_MEM];
};

/* Read len bytes at off (inside the file): *out points at them (into buf
 * for a file, into the buffer for mem).  SVT_TRACE_OK or EIO in r->err. */
int tr_src_read(struct svt_trace_reader *r, uint64_t off, size_t len, uint8_t *buf,
		const uint8_t **out);
/* Set r->err (and return its status). */
int tr_rerr(struct svt_trace_reader *r, int status, uint64_t frame, uint64_t off, uint64_t seq,
	    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Scan frame headers until one covers seq (or all, with UINT64_MAX). */
void tr_scan(struct svt_trace_reader *r, uint64_t seq);

#endif /* SVT_TRACE_INT_H */
