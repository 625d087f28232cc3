/*
 * hvrec.h — the hypervisor's recording: the one recorder
 * (common/recorder.h) over the hypervisor's environment, its events sent
 * as live-stream packets (common/stream_fmt.h) on LPT1 or COM2.
 */
#ifndef HVREC_H
#define HVREC_H

#include "recorder.h"
#include "svt.h"

extern struct svt_recorder hv_rec;

/* Start recording: send HELLO (with the CPU's brand string and the device
 * ranges passed through); returns the environment the core must use. */
struct hv_range;
const struct svt_env *hvrec_init(const struct svt_env *raw, const struct svt_mmu_config *cfg,
				 const char *guest, const struct hv_range *dev, unsigned ndev);

/* Each calls the core and records the input, the memory it read, and the decision. */
static inline enum svt_pf_outcome hvrec_fault(struct svt_mmu *mmu, const struct svt_fault *f,
					      struct svt_fault_result *res)
{
	return svt_recorder_fault(&hv_rec, mmu, f, res);
}

static inline int hvrec_cr(struct svt_mmu *mmu, unsigned reg, uint64_t val)  /* enum svt_trace_cr */
{
	return svt_recorder_cr(&hv_rec, mmu, reg, val);
}

static inline int hvrec_cr_mode(struct svt_mmu *mmu, unsigned reg, uint64_t val, bool code64)
{
	return svt_recorder_cr_mode(&hv_rec, mmu, reg, val, code64);
}

/* A CPUID answered, an exception injected (EVIDENCE `cpu`). */
static inline void hvrec_cpu(const struct svt_trace_cpu *c)
{
	svt_recorder_cpu(&hv_rec, c);
}

static inline void hvrec_invlpg(struct svt_mmu *mmu, uint64_t va)
{
	svt_recorder_invlpg(&hv_rec, mmu, va);
}

static inline int hvrec_invpcid(struct svt_mmu *mmu, unsigned type, uint64_t pcid, uint64_t va)
{
	return svt_recorder_invpcid(&hv_rec, mmu, type, pcid, va);
}

/* The step a fault's decision asked for ended (the exit after it). */
static inline void hvrec_step_done(struct svt_mmu *mmu)
{
	svt_recorder_step_done(&hv_rec, mmu);
}

/* A phase mark from the guest (the mark port): a MARK record. */
static inline void hvrec_mark(const char *text, size_t len)
{
	svt_recorder_mark(&hv_rec, SVT_TRACE_MARK_PHASE, text, len);
}

/* Send what is buffered and the END packet (events, verdict). */
void hvrec_end(const char *verdict);

static inline uint64_t hvrec_events(void)
{
	return hv_rec.events;
}

/* The recorder's share of the exit path's profile into prof[] (hv.h's PROF_*). */
void hvrec_prof(uint64_t *prof);

#endif
