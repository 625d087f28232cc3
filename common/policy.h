/*
 * policy.h — policies as text, defined once for the hypervisor and the
 * host tool: "oos=N,prefetch=N,emulate=0|1,early=0|1,pool=N[,roots=N]"
 * (shadowvt(1), POLICIES), the limits of every key, and both default
 * policies: the host tool's (synth, replay, experiments) and the
 * hypervisor's.  Freestanding: vmx/hv.c parses its command line with it.
 */
#ifndef SVT_POLICY_H
#define SVT_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "svt.h"

/* Limits of each key (inclusive). */
#define SVT_POLICY_MAX_OOS      SVT_OOS_MAX     /* the core's out-of-sync slots */
#define SVT_POLICY_MAX_PREFETCH 511             /* the other entries of a table */
#define SVT_POLICY_MIN_POOL     SVT_POOL_MIN
#define SVT_POLICY_MAX_POOL     65536
#define SVT_POLICY_MIN_ROOTS    1
#define SVT_POLICY_MAX_ROOTS    64

/* The hypervisor's shadow pool (frames it reserves: 8 MiB) and root
 * shadows kept by default; a policy it runs with has pool <= HV_POOL. */
#define SVT_POLICY_HV_POOL      2048
#define SVT_POLICY_HV_ROOTS     32

/* The host tool's default: every optimisation on, a 512-frame pool. */
void svt_default_policy(struct svt_policy *p, unsigned *pool);
/* The hypervisor's default (measured on the Linux workload, docs/linux.md:
 * oos=8, prefetch=4), its whole pool, SVT_POLICY_HV_ROOTS roots. */
void svt_policy_default_hv(struct svt_policy *p, unsigned *pool, unsigned *roots);

/* The canonical form: "oos=N,prefetch=N,emulate=0|1,early=0|1,pool=N";
 * truncated to len - 1 bytes (len >= 1).  Returns the full length. */
size_t svt_policy_format(const struct svt_policy *p, unsigned pool, char *buf, size_t len);

/*
 * Parse the first n bytes of s: any non-empty subset of the keys, in any
 * order; keys not given keep their values in *p, *pool and *roots.
 * roots=N is accepted only where roots is not NULL; pool is at most
 * max_pool.  0, or -1 with a sentence in why (whylen bytes, may be 0)
 * naming the key and its range: "oos=17: out of range 0..16".
 */
int svt_policy_parse_n(const char *s, size_t n, struct svt_policy *p, unsigned *pool,
		       unsigned *roots, unsigned max_pool, char *why, size_t whylen);
/* The same for a whole string, without roots, pool up to SVT_POLICY_MAX_POOL. */
int svt_policy_parse(const char *s, struct svt_policy *p, unsigned *pool);

/* The 16 combinations of {oos 0/2, prefetch 0/8, emulate 0/1, early 0/1}. */
void svt_policy_combo(unsigned i, struct svt_policy *p);

#endif
