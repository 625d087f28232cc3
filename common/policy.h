/*
 * policy.h — policy strings (shadowvt(1), POLICIES).
 */
#ifndef SVT_POLICY_H
#define SVT_POLICY_H

#include <stddef.h>

#include "svt.h"

#define SVT_POLICY_MAX_OOS  16          /* the core's out-of-sync slots */
#define SVT_POLICY_MAX_POOL 65536

/* The canonical form: "oos=N,prefetch=N,emulate=0|1,early=0|1,pool=N". */
void svt_policy_format(const struct svt_policy *p, unsigned pool, char *buf, size_t len);
/* Any non-empty subset of those keys, in any order; keys not given keep
 * their values in *p and *pool.  0, or -1 when s is not a policy. */
int svt_policy_parse(const char *s, struct svt_policy *p, unsigned *pool);
/* The 16 combinations of {oos 0/2, prefetch 0/8, emulate 0/1, early 0/1}. */
void svt_policy_combo(unsigned i, struct svt_policy *p);

#endif
