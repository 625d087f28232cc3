/*
 * mmu-run.c — one run of the harness (mh_run: boot, steps, the checks
 * after each, the final audit, the summary), and the names and policy
 * strings the command line and the reports use.
 */
#include <stdlib.h>
#include <string.h>

#include "mmu-harness.h"
#include "policy.h"

static const char *const mode_names[MH_MODE_COUNT] = { "none", "2level", "pae",
						       "4level", "5level" };

const char *mh_mode_name(enum mh_mode md)
{
	return (unsigned)md < MH_MODE_COUNT ? mode_names[md] : "?";
}

int mh_parse_mode(const char *s)
{
	for (int i = 0; i < MH_MODE_COUNT; i++)
		if (strcmp(s, mode_names[i]) == 0)
			return i;
	return -1;
}

void mh_policy_string(const struct svt_policy *p, unsigned pool, char *buf, size_t len)
{
	svt_policy_format(p, pool ? pool : MH_DEFAULT_POOL, buf, len);
}

int mh_parse_policy(const char *s, struct svt_policy *p, unsigned *pool)
{
	return svt_policy_parse(s, p, pool);
}

void mh_policy_combo(unsigned i, struct svt_policy *p)
{
	svt_policy_combo(i, p);
}

/* ---- the run --------------------------------------------------------------- */

#define FULL_AUDIT_EVERY 500
#define FULL_MEMORY_EVERY 256

bool mh_run(const struct mh_config *cfg, struct mh_result *res)
{
	struct mh_machine *m = mh_machine_new(cfg);
	memset(res, 0, sizeof(*res));
	if (!m || !(m->os = mh_os_new(m))) {
		snprintf(res->what, sizeof(res->what), "out of memory");
		if (m)
			mh_machine_free(m);
		return false;
	}
	/* $SVT_MH_NOAUDIT: only the comparisons with bare metal judge (to
	 * see what they catch on their own) */
	bool audits = getenv("SVT_MH_NOAUDIT") == NULL;
	m->step = 0;
	if (mh_os_boot(m))
		mh_check_memory(m, true);
	for (uint64_t s = 1; s < cfg->steps && !m->failed; s++) {
		uint64_t ava = 0;
		m->step = s;
		if (!mh_os_step(m, &ava) || m->failed) {
			mh_fail(m, "harness: a step gave up without a reason");
			break;
		}
		if (!mh_check_memory(m, s % FULL_MEMORY_EVERY == 0) ||
		    (audits && !mh_audit_va(m, ava)))
			break;
		if (audits && s % FULL_AUDIT_EVERY == 0 && !mh_audit_full(m))
			break;
	}
	if (!m->failed && (!audits || mh_audit_full(m)))
		mh_check_memory(m, true);
	const struct svt_counters *c = svt_mmu_counters(m->mmu);
	res->ok = !m->failed;
	res->steps = m->failed ? m->step : cfg->steps;
	res->accesses = m->accesses;
	res->faults = c->faults, res->injected = c->injected, res->emulated = c->emulated;
	res->mmio = c->mmio, res->oos = c->oos, res->resyncs = c->resyncs;
	res->evictions = c->evictions, res->unshadows = c->unshadows;
	res->early_unshadows = c->early_unshadows, res->prefetched = c->prefetched;
	res->tlb_flushes = m->tlb_flushes, res->audits = m->audits;
	if (m->failed) {
		snprintf(res->what, sizeof(res->what), "%s", m->what);
		mh_report(m);
	} else if (!cfg->quiet) {
		char pol[128];
		mh_policy_string(&m->policy, m->pool, pol, sizeof(pol));
		fprintf(m->out, "ok: mode %s policy %s seed %llu: %llu steps, %llu accesses, "
			"%llu faults (%llu injected, %llu emulated, %llu mmio), %llu oos, "
			"%llu evictions, %llu unshadows (%llu early), %llu prefetched, %llu steps "
			"granted\n",
			mh_mode_name(m->mode), pol, (unsigned long long)m->seed,
			(unsigned long long)res->steps, (unsigned long long)res->accesses,
			(unsigned long long)res->faults, (unsigned long long)res->injected,
			(unsigned long long)res->emulated, (unsigned long long)res->mmio,
			(unsigned long long)res->oos, (unsigned long long)res->evictions,
			(unsigned long long)res->unshadows,
			(unsigned long long)res->early_unshadows,
			(unsigned long long)res->prefetched, (unsigned long long)m->steps);
	}
	mh_os_free(m->os);
	mh_machine_free(m);
	return res->ok;
}
