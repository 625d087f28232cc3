/*
 * hvrec.h — the hypervisor's recorder (record.c) and the live stream's
 * packet types (traces/FORMAT.md, "The live stream").
 */
#ifndef HVREC_H
#define HVREC_H

#include "svt.h"

enum { HVREC_HELLO = 1, HVREC_RECORDS = 2, HVREC_END = 3 };

/* Start recording: send HELLO (with the CPU's brand string and the device
 * ranges passed through); returns the environment the core must use. */
struct hv_range;
const struct svt_env *hvrec_init(const struct svt_env *raw, const struct svt_mmu_config *cfg,
				 const char *guest, const struct hv_range *dev, unsigned ndev);
/* Each calls the core and records the input, the memory it read, and the decision. */
enum svt_pf_outcome hvrec_fault(struct svt_mmu *mmu, const struct svt_fault *f,
				struct svt_fault_result *res);
int hvrec_cr(struct svt_mmu *mmu, unsigned reg, uint64_t val);       /* enum svt_trace_cr */
void hvrec_invlpg(struct svt_mmu *mmu, uint64_t va);
int hvrec_invpcid(struct svt_mmu *mmu, unsigned type, uint64_t pcid, uint64_t va);
/* A phase mark from the guest (the mark port): a MARK record. */
void hvrec_mark(const char *text, size_t len);
/* Send what is buffered and the END packet (events, verdict). */
void hvrec_end(const char *verdict);
uint64_t hvrec_events(void);

#endif
