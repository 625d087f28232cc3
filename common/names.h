/*
 * names.h — the one table of names for the values traces and results
 * speak in: record types, fault outcomes, control registers, lost-event
 * reasons, mark kinds, register slots and paging modes.  Printers, the
 * reader's messages, replay, exports and the command line all take their
 * words from here, so a value is spelled the same everywhere.
 */
#ifndef SVT_NAMES_H
#define SVT_NAMES_H

#include "trace_event.h"

/* "FAULT", "CR_WRITE", ...; "UNKNOWN" for other values. */
const char *svt_trace_type_name(unsigned type);
/* "fixed", "inject", "emulated", "mmio", "retry"; "?" otherwise. */
const char *svt_trace_outcome_name(unsigned outcome);
/* "cr0", "cr3", "cr4", "efer"; "?" otherwise. */
const char *svt_trace_cr_name(unsigned reg);
/* "unspecified", "buffer", "transport", "gap"; "?" otherwise. */
const char *svt_trace_lost_name(unsigned reason);
/* "phase", "console", "note"; "?" otherwise. */
const char *svt_trace_mark_name(unsigned kind);
/* Slot i of the register file (TR_NREGS slots): "rax" ... "gs_base"; "?" otherwise. */
const char *svt_reg_name(unsigned i);
/* enum svt_trace_guest_kind and enum svt_trace_guest_op ("?" if unknown) */
const char *svt_guest_kind_name(unsigned kind);
const char *svt_guest_op_name(unsigned op);
/* "none", "2level", "pae", "4level", "5level"; "?" otherwise. */
const char *svt_mode_name(int mode);
/* The mode a name above (other than "none") stands for, or -1. */
int svt_mode_parse(const char *s);
/* The names svt_mode_parse takes, as options and experiment files spell
 * them: "2level", "pae", "4level", "5level", NULL. */
extern const char *const svt_mode_words[];

#endif /* SVT_NAMES_H */
