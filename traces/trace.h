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

/* ---- versions and limits ---------------------------------------------- */

#define SVT_TRACE_MAJOR         1
#define SVT_TRACE_MINOR         0

#define SVT_TRACE_MAX_CONTENT   (16u << 20)     /* uncompressed bytes in one frame */
#define SVT_TRACE_MAX_HEADER    (1u << 20)      /* bytes of the file header */
#define SVT_TRACE_MAX_STRING    4096            /* bytes of a header string */
#define SVT_TRACE_MAX_RANGES    16384           /* guest RAM ranges */
#define SVT_TRACE_MAX_MEM       4096            /* bytes of one MEM record */
#define SVT_TRACE_MAX_INSN      15
#define SVT_TRACE_MAX_MARK      255             /* bytes of a MARK's text */
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

struct svt_trace_range {
	uint64_t gfn;           /* first guest frame */
	uint64_t count;         /* frames; at least 1 */
};

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
};

/* The core configuration the recording ran with. */
void svt_trace_mmu_config(const struct svt_trace_header *h, struct svt_mmu_config *cfg);

/* ---- events -------------------------------------------------------------- */

/* Record types; the numbers are the on-disk type codes. */
enum svt_trace_type {
	SVT_TRACE_UNKNOWN = 0,  /* a type this reader does not know: not interpreted */
	SVT_TRACE_FAULT = 1,    /* a #PF handed to svt_mmu_page_fault */
	SVT_TRACE_CR_WRITE = 2, /* svt_mmu_write_cr0/cr3/cr4/efer */
	SVT_TRACE_INVLPG = 3,
	SVT_TRACE_INVPCID = 4,
	SVT_TRACE_FLUSH_ALL = 5,
	SVT_TRACE_MEM = 6,      /* guest memory contents the replayer cannot know */
	SVT_TRACE_DECISION = 7, /* the core's answer to the preceding input */
	SVT_TRACE_LOST = 8,     /* events the recorder dropped, or a gap in the file */
	SVT_TRACE_MARK = 9,     /* a timestamped phase or console marker */
};
#define SVT_TRACE_NTYPES 10     /* counts[] is indexed by type; [0] counts unknown types */

enum svt_trace_cr { SVT_TRACE_CR0 = 0, SVT_TRACE_CR3 = 1, SVT_TRACE_CR4 = 2, SVT_TRACE_EFER = 3 };

/* Why events were lost. */
enum svt_trace_lost_reason {
	SVT_TRACE_LOST_UNSPEC = 0,
	SVT_TRACE_LOST_BUFFER = 1,      /* the recorder's buffer was full */
	SVT_TRACE_LOST_TRANSPORT = 2,   /* the link to the recorder lost data */
	SVT_TRACE_LOST_GAP = 3,         /* reader only: frames missing from the file */
};

/* MARK kinds */
enum svt_trace_mark_kind { SVT_TRACE_MARK_PHASE = 0, SVT_TRACE_MARK_CONSOLE = 1, SVT_TRACE_MARK_NOTE = 2 };

/*
 * A FAULT: struct svt_fault by value.  Without has_regs (no register file
 * and no instruction known) regs reads as all zero.
 */
struct svt_trace_fault {
	uint64_t va;
	uint32_t error_code;
	uint8_t cpl;            /* 0..3 */
	uint8_t code_bits;      /* 16, 32 or 64 */
	uint8_t insn_len;       /* 0..15 */
	bool has_regs;
	uint64_t rflags;
	uint32_t pkru;
	uint8_t insn[SVT_TRACE_MAX_INSN];
	struct svt_emu_regs regs;
};

struct svt_trace_cr_write {
	uint8_t reg;            /* enum svt_trace_cr */
	uint64_t val;
};

struct svt_trace_invpcid {
	uint32_t type;          /* 0..3 */
	uint64_t pcid, va;
};

/* data: len bytes, owned by the reader (until the next call on it) or the caller. */
struct svt_trace_mem {
	uint64_t gpa;
	uint32_t len;           /* 1..4096 */
	const uint8_t *data;
};

/*
 * A DECISION answers the input event before it (input says which kind).
 * FAULT: outcome, error_code/cr2 (INJECT), gpa (MMIO), regs after
 * emulation (has_regs); fields that do not apply are 0.  CR_WRITE and
 * INVPCID: rc (0 or SVT_E_GP).
 */
struct svt_trace_decision {
	uint8_t input;          /* SVT_TRACE_FAULT, SVT_TRACE_CR_WRITE or SVT_TRACE_INVPCID */
	uint8_t outcome;        /* enum svt_pf_outcome */
	bool has_regs;
	int32_t rc;
	uint32_t error_code;
	uint64_t cr2, gpa;
	struct svt_emu_regs regs;
};

/* count events are lost from this event's sequence number on. */
struct svt_trace_lost {
	uint64_t count;         /* >= 1 */
	uint32_t reason;        /* enum svt_trace_lost_reason */
};

struct svt_trace_mark {
	uint64_t time;          /* nanoseconds since the recording started; 0 unknown */
	uint32_t kind;          /* enum svt_trace_mark_kind */
	uint16_t len;           /* bytes of text, <= 255 */
	char text[SVT_TRACE_MAX_MARK + 1];      /* NUL-terminated, no NUL inside */
};

/* A record of a type this reader does not know; written as is by the writer. */
struct svt_trace_unknown {
	uint64_t type;          /* on-disk type code, >= SVT_TRACE_NTYPES */
	uint32_t len;
	const uint8_t *data;
};

/*
 * One event.  seq is its sequence number: every record takes one, a LOST
 * record takes count (the numbers of the events it stands for), so seq is
 * the event's position in the recorder's stream.  The writer assigns seq
 * and ignores the caller's.
 */
struct svt_trace_event {
	enum svt_trace_type type;
	uint64_t seq;
	union {
		struct svt_trace_fault fault;
		struct svt_trace_cr_write cr;
		uint64_t invlpg_va;
		struct svt_trace_invpcid invpcid;
		struct svt_trace_mem mem;
		struct svt_trace_decision decision;
		struct svt_trace_lost lost;
		struct svt_trace_mark mark;
		struct svt_trace_unknown unknown;
	} u;
};

/* Sequence numbers the event takes: lost.count for LOST, else 1. */
uint64_t svt_trace_event_span(const struct svt_trace_event *ev);

/* A FAULT event as the core's struct svt_fault.  When the event has
 * registers they are copied to *regs and f->regs points there; else
 * f->regs is NULL and *regs is left alone. */
void svt_trace_fault_to_core(const struct svt_trace_fault *tf, struct svt_emu_regs *regs,
			     struct svt_fault *f);

/* For recorders: the FAULT event of a fault about to be handed to the
 * core (registers as they are before it), and the DECISION answering it
 * (f->regs, if any, now the registers after the core's emulation). */
void svt_trace_event_fault(const struct svt_fault *f, struct svt_trace_event *ev);
void svt_trace_event_decision(const struct svt_fault *f, enum svt_pf_outcome o,
			      const struct svt_fault_result *res, struct svt_trace_event *ev);
/* Hand a CR_WRITE (enum svt_trace_cr) to the core: its return value. */
int svt_trace_cr_apply(struct svt_mmu *m, unsigned reg, uint64_t val);

/* "FAULT", "CR_WRITE", ...; "UNKNOWN" otherwise. */
const char *svt_trace_type_name(unsigned type);
/* "fixed", "inject", "emulated", "mmio", "retry"; "?" otherwise. */
const char *svt_trace_outcome_name(unsigned outcome);

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

void svt_trace_close(struct svt_trace_reader *r);

/* ---- printing ------------------------------------------------------------ */

/* One event on one line (text or a JSON object), newline included. */
void svt_trace_dump_event(FILE *f, const struct svt_trace_event *ev, bool json);
/* The header and totals (text: "key: value" lines; JSON: one object). */
void svt_trace_dump_info(FILE *f, const struct svt_trace_header *h,
			 const struct svt_trace_info *info, bool json);

#endif /* SVT_TRACE_H */
