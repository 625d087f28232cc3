/*
 * policy.c — policy strings: "oos=N,prefetch=N,emulate=0|1,early=0|1,pool=N"
 * (shadowvt(1), POLICIES).  Shared by the command and the test harness.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

void svt_policy_format(const struct svt_policy *p, unsigned pool, char *buf, size_t len)
{
	snprintf(buf, len, "oos=%u,prefetch=%u,emulate=%d,early=%d,pool=%u", p->oos, p->prefetch,
		 p->emulate ? 1 : 0, p->early_unshadow ? 1 : 0, pool);
}

int svt_policy_parse(const char *s, struct svt_policy *p, unsigned *pool)
{
	if (*s == '\0')
		return -1;
	while (*s) {
		const char *eq = strchr(s, '='), *comma = strchr(s, ',');
		char *end;
		if (!eq || (comma && comma < eq) || eq[1] < '0' || eq[1] > '9')
			return -1;
		size_t klen = (size_t)(eq - s);
		unsigned long v = strtoul(eq + 1, &end, 10);
		if (end == eq + 1 || (*end && *end != ',') || (*end == ',' && end[1] == '\0'))
			return -1;
		if (klen == 3 && !strncmp(s, "oos", 3) && v <= SVT_POLICY_MAX_OOS)
			p->oos = (unsigned)v;
		else if (klen == 8 && !strncmp(s, "prefetch", 8) && v <= 511)
			p->prefetch = (unsigned)v;
		else if (klen == 7 && !strncmp(s, "emulate", 7) && v <= 1)
			p->emulate = v;
		else if (klen == 5 && !strncmp(s, "early", 5) && v <= 1)
			p->early_unshadow = v;
		else if (klen == 4 && !strncmp(s, "pool", 4) && v >= 16 && v <= SVT_POLICY_MAX_POOL)
			*pool = (unsigned)v;
		else
			return -1;
		s = *end ? end + 1 : end;
	}
	return 0;
}

void svt_policy_combo(unsigned i, struct svt_policy *p)
{
	p->oos = (i & 1) ? 2 : 0;
	p->prefetch = (i & 2) ? 8 : 0;
	p->emulate = (i & 4) != 0;
	p->early_unshadow = (i & 8) != 0;
}
