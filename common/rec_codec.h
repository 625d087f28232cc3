/*
 * rec_codec.h — records, the unit of a trace's frames and of the live
 * stream's packets (traces/FORMAT.md, "Records"): the checks an event must
 * pass to be written, its compact encoding against a per-frame delta
 * state, and the exact inverse.  Freestanding: the hypervisor encodes with
 * it, the trace library and `shadowvt record` decode with it.
 */
#ifndef SVT_REC_CODEC_H
#define SVT_REC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "trace_event.h"

/* FAULT presence bits */
#define TR_F_ERR        0x01u
#define TR_F_MODE       0x02u
#define TR_F_RFLAGS     0x04u
#define TR_F_PKRU       0x08u
#define TR_F_INSN       0x10u
#define TR_F_REGS       0x20u
#define TR_F_ALL        0x3fu

/* FAULT extension bits (the varint appended since 1.5) */
#define TR_FX_DELIVERY  0x01u
#define TR_FX_TABLES    0x02u
#define TR_FX_ALL       0x03u

/* DECISION flag bits (above input and outcome) */
#define TR_D_REGS       0x01u
#define TR_D_INJECT     0x02u
#define TR_D_GPA        0x04u

/* CR_WRITE's mode flags, appended in 1.4 (absent: 0) */
#define TR_CR_CODE64    0x01u

/* MEM encodings (low two bits of the length-and-encoding varint) */
#define TR_MEM_RAW      0
#define TR_MEM_W64      1
#define TR_MEM_ZERO     2
#define TR_MEM_W32      3

#define TR_NREGS        24      /* gpr[16], rip, rflags, seg_base[6] */

/* The largest record the writer produces (MEM in 8-byte words, worst case). */
#define TR_MAX_RECORD   8192

/* ---- the per-frame delta state ------------------------------------------ */

struct tr_state {
	struct svt_trace_fault fault;   /* previous FAULT; regs: the delta base */
	uint64_t cr[4];
	uint64_t inv_va;
	uint64_t mem_next;              /* end of the previous MEM */
	uint64_t w64;                   /* last word of the previous W64 MEM */
	uint32_t w32;                   /* last word of the previous W32 MEM */
	uint64_t mark_time;
	uint64_t guest_va, guest_rip;   /* previous GUEST's address and code address */
};

void tr_state_reset(struct tr_state *st);

/* ---- records (rec-enc.c, rec-dec.c) ------------------------------------ */

/* NULL if ev can be written, else why not; tr_check_guest, tr_check_cpu:
 * a GUEST's, a CPU's payload. */
const char *tr_check_guest(const struct svt_trace_guest *g);
const char *tr_check_cpu(const struct svt_trace_cpu *c);
const char *tr_check_event(const struct svt_trace_event *ev);

/* Encode a checked event as one record at out (room for TR_MAX_RECORD
 * bytes), updating st; returns the record's size. */
size_t tr_encode(struct tr_state *st, const struct svt_trace_event *ev, uint8_t *out);

/*
 * Decode the record at *p (before end) into ev (seq not set), updating st
 * and advancing *p past the record.  membuf (SVT_TRACE_MAX_MEM bytes)
 * receives MEM contents stored in the word encodings (raw ones point into
 * the frame, zero-filled ones at a constant page of zeros).  On bad input returns
 * false with *why set.
 */
bool tr_decode(struct tr_state *st, const uint8_t **p, const uint8_t *end,
	       struct svt_trace_event *ev, uint8_t *membuf, const char **why);

#endif /* SVT_REC_CODEC_H */
