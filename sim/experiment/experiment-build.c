/*
 * experiment-build.c — a checked experiment tree made into the plain
 * struct svt_experiment (experiment.h), with the checks the schema cannot
 * make, each reported with the line of its element: names unique among
 * the inputs and among the policies; the synth workload known and its mode
 * one it runs in; the shipped guest known and built; kernel and trace
 * files present; sweeps expanded (a point equal to another policy is
 * dropped); the engine one that can record.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiment_int.h"
#include "policy.h"
#include "sim.h"
#include "synth.h"

#ifndef SVT_BUILDDIR            /* a build outside the Makefile (make fuzz) */
#define SVT_BUILDDIR "/nonexistent"
#endif

#define DEFAULT_EVENTS  200000          /* as shadowvt synth */
#define DEFAULT_FRAMES  32768
#define DEFAULT_TIMEOUT 300             /* as shadowvt record */

const char *const svt_exp_shipped[] = {
	"hello", "paging-2level", "paging-pae", "paging-4level", "perm", "long64", "hostile",
	"null", NULL,
};

char *svt_exp_shipped_kernel(const char *name)
{
	char path[4200];

	for (unsigned i = 0; svt_exp_shipped[i]; i++)
		if (strcmp(name, svt_exp_shipped[i]) == 0) {
			snprintf(path, sizeof(path), "%s/guests/%s.elf", SVT_BUILDDIR, name);
			return strdup(path);
		}
	return NULL;
}

void svt_exp_policy_name(const struct svt_policy *p, unsigned pool, char *buf, size_t len)
{
	struct svt_policy d;
	unsigned dpool;
	size_t n = 0;

	svt_default_policy(&d, &dpool);
	const struct { const char *k; unsigned v, dv; } kv[] = {
		{ "oos", p->oos, d.oos }, { "prefetch", p->prefetch, d.prefetch },
		{ "emulate", p->emulate, d.emulate },
		{ "early", p->early_unshadow, d.early_unshadow }, { "pool", pool, dpool },
	};
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (kv[i].v != kv[i].dv && n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s=%u", n ? "," : "",
					      kv[i].k, kv[i].v);
	if (n == 0)
		snprintf(buf, len, "default");
}

/* ---- helpers --------------------------------------------------------------- */

struct build {
	struct exp_ctx *c;
	struct svt_experiment *e;
	bool oom;
};

/* An element of the experiment namespace (one outside it is the table's to report). */
static bool is(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0 && n->ns &&
	       n->ns->href && strcmp((const char *)n->ns->href, SVT_EXP_NAMESPACE) == 0;
}

static char *xdup(struct build *b, const char *s)
{
	char *d = strdup(s);

	if (!d)
		b->oom = true;
	return d;
}

/* An attribute's value (trimmed unless raw), or NULL if absent. */
static char *get(struct build *b, const xmlNode *n, const char *name, bool raw)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	char *s;

	if (!v)
		return NULL;
	s = xdup(b, (const char *)v);
	xmlFree(v);
	if (s && !raw) {
		char *t = exp_trim(s);
		memmove(s, t, strlen(t) + 1);
	}
	return s;
}

static uint64_t get_int(struct build *b, const xmlNode *n, const char *name, uint64_t def)
{
	char *s = get(b, n, name, false);
	uint64_t v = def;

	if (s && !exp_parse_int(s, 0, UINT64_MAX, &v))
		v = def;                /* the table reported it */
	free(s);
	return v;
}

static char *join(struct build *b, const char *dir, const char *p)
{
	size_t n = strlen(dir) + strlen(p) + 2;
	char *s = malloc(n);

	if (!s) {
		b->oom = true;
		return NULL;
	}
	if (p[0] == '/')
		snprintf(s, n, "%s", p);
	else
		snprintf(s, n, "%s/%s", dir, p);
	return s;
}

static bool readable(struct build *b, const xmlNode *n, const char *what, const char *path)
{
	if (access(path, R_OK) == 0)
		return true;
	exp_error(b->c, exp_line(n),
		  "<%s>: %s %s: %s: expected an existing, readable file", n->name, what, path,
		  strerror(errno));
	return false;
}

/* ---- inputs ------------------------------------------------------------------ */

static void synth(struct build *b, const xmlNode *n, struct svt_exp_input *in)
{
	char *mode = get(b, n, "mode", false), *pol = get(b, n, "policy", false), why[300];
	const struct syn_workload *w = NULL;
	int m = mode ? svt_mode_parse(mode) : -1;

	in->kind = SVT_EXP_SYNTH;
	in->workload = get(b, n, "workload", false);
	in->mode = m >= 0 ? (enum svt_mode)m : SVT_MODE_4LEVEL;       /* a bad one: the table's */
	in->events = get_int(b, n, "events", DEFAULT_EVENTS);
	in->seed = get_int(b, n, "seed", 1);
	in->frames = get_int(b, n, "frames", DEFAULT_FRAMES);
	in->level = (int)get_int(b, n, "level", 3);
	in->frame_size = get_int(b, n, "frame-size", 0);
	svt_default_policy(&in->policy, &in->pool);
	in->policy_given = pol != NULL;
	if (pol && !exp_parse_policy(pol, &in->policy, &in->pool, why, sizeof(why)))
		svt_default_policy(&in->policy, &in->pool);     /* the table reported it */
	if (in->workload && !(w = syn_find_workload(in->workload))) {
		char list[300];
		size_t k = 0;
		for (unsigned i = 0; i < syn_nworkloads && k < sizeof(list); i++)
			k += (size_t)snprintf(list + k, sizeof(list) - k, "%s%s", i == 0 ? "" :
					      i + 1 == syn_nworkloads ? " or " : ", ",
					      syn_workloads[i].name);
		exp_error(b->c, exp_line(n),
			  "<synth workload=\"%s\">: unknown workload: expected %s",
			  in->workload, list);
	} else if (in->workload && w->need_ia32e && mode && m >= 0 && in->mode < SVT_MODE_4LEVEL) {
		exp_error(b->c, exp_line(n),
			  "<synth workload=\"%s\" mode=\"%s\">: this workload uses PCIDs: expected "
			  "mode 4level or 5level", in->workload, mode);
	}
	if (in->mode == SVT_MODE_2LEVEL && in->frames + in->pool > 0xf0000)
		exp_error(b->c, exp_line(n),
			  "<synth>: a 2level guest must fit below 4 GiB: expected frames plus the "
			  "policy's pool at most %u", 0xf0000);
	free(mode);
	free(pol);
}

static void guest(struct build *b, const xmlNode *n, struct svt_exp_input *in)
{
	char *kernel = get(b, n, "kernel", true), *pol = get(b, n, "policy", false), why[300];

	in->kind = SVT_EXP_GUEST;
	in->shipped = get(b, n, "shipped", false);
	in->args = get(b, n, "args", true);
	if (!in->args)
		in->args = xdup(b, "");
	svt_default_policy(&in->policy, &in->pool);
	in->policy_given = pol != NULL;
	if (pol && !exp_parse_policy(pol, &in->policy, &in->pool, why, sizeof(why)))
		svt_default_policy(&in->policy, &in->pool);     /* the table reported it */
	if (in->shipped) {
		if (!(in->kernel = svt_exp_shipped_kernel(in->shipped))) {
			char list[300];
			size_t k = 0;
			for (unsigned i = 0; svt_exp_shipped[i] && k < sizeof(list); i++)
				k += (size_t)snprintf(list + k, sizeof(list) - k, "%s%s",
						      i == 0 ? "" : svt_exp_shipped[i + 1] ? ", " :
						      " or ", svt_exp_shipped[i]);
			exp_error(b->c, exp_line(n),
				  "<guest shipped=\"%s\">: unknown shipped guest: expected %s",
				  in->shipped, list);
		} else if (access(in->kernel, R_OK) != 0) {
			exp_error(b->c, exp_line(n),
				  "<guest shipped=\"%s\">: %s: %s: the shipped guests are in the "
				  "build tree (make builds them)", in->shipped, in->kernel,
				  strerror(errno));
		}
	} else if (kernel) {
		if ((in->kernel = join(b, b->c->dir, kernel)))
			readable(b, n, "kernel", in->kernel);
	}
	free(kernel);
	free(pol);
}

static void trace(struct build *b, const xmlNode *n, struct svt_exp_input *in)
{
	char *path = get(b, n, "path", true);

	in->kind = SVT_EXP_TRACE;
	if (path && (in->path = join(b, b->c->dir, path)))
		readable(b, n, "trace", in->path);
	free(path);
}

/* ---- policies -------------------------------------------------------------- */

static struct svt_exp_policy *add_policy(struct build *b, const xmlNode *n, const char *name)
{
	struct svt_experiment *e = b->e;

	if (e->npolicies == SVT_EXP_MAX_POLICIES) {
		exp_error(b->c, exp_line(n), "<%s>: more than %u policies: expected fewer", n->name,
			  SVT_EXP_MAX_POLICIES);
		return NULL;
	}
	struct svt_exp_policy *p = &e->policies[e->npolicies++];
	memset(p, 0, sizeof(*p));
	p->line = (unsigned)exp_line(n);
	p->name = xdup(b, name);
	return p;
}

static const struct svt_exp_policy *find_canon(const struct svt_experiment *e, const char *canon)
{
	for (size_t i = 0; i < e->npolicies; i++)
		if (!e->policies[i].recorded && strcmp(e->policies[i].canon, canon) == 0)
			return &e->policies[i];
	return NULL;
}

/* Values of one sweep knob: the list, or the base's value alone. */
static unsigned knob_values(struct build *b, const xmlNode *n, const char *knob, unsigned base,
			    unsigned *vals)
{
	char *s = get(b, n, knob, false), *save = NULL;
	unsigned k = 0;
	uint64_t v;

	if (!s) {
		vals[0] = base;
		return 1;
	}
	for (char *t = strtok_r(s, " \t\r\n", &save); t && k < SVT_EXP_MAX_POLICIES;
	     t = strtok_r(NULL, " \t\r\n", &save))
		if (exp_parse_int(t, 0, UINT32_MAX, &v))
			vals[k++] = (unsigned)v;
	free(s);
	return k ? k : (vals[0] = base, 1);
}

/* A sweep's points: the cartesian product of its knobs' values (oos
 * outermost, pool innermost); a point equal to a policy already listed is
 * dropped. */
static void sweep(struct build *b, const xmlNode *n)
{
	static const char *const names[5] = { "oos", "prefetch", "emulate", "early", "pool" };
	unsigned vals[5][SVT_EXP_MAX_POLICIES], nv[5], idx[5] = { 0 };
	char *base = get(b, n, "base", false), why[300], name[128];
	struct svt_policy bp;
	unsigned bpool;
	uint64_t total = 1;

	svt_default_policy(&bp, &bpool);
	if (base && !exp_parse_policy(base, &bp, &bpool, why, sizeof(why)))
		svt_default_policy(&bp, &bpool);                /* the table reported it */
	free(base);
	const unsigned bv[5] = { bp.oos, bp.prefetch, bp.emulate, bp.early_unshadow, bpool };
	for (int k = 0; k < 5; k++) {
		nv[k] = knob_values(b, n, names[k], bv[k], vals[k]);
		total *= nv[k];
	}
	if (total > SVT_EXP_MAX_POLICIES) {
		exp_error(b->c, exp_line(n),
			  "<sweep>: %" PRIu64 " combinations: expected at most %u", total,
			  SVT_EXP_MAX_POLICIES);
		return;
	}
	for (uint64_t i = 0; i < total; i++) {
		struct svt_policy p = { .oos = vals[0][idx[0]], .prefetch = vals[1][idx[1]],
					.emulate = vals[2][idx[2]] != 0,
					.early_unshadow = vals[3][idx[3]] != 0 };
		unsigned pool = vals[4][idx[4]];
		char canon[128];

		svt_policy_format(&p, pool, canon, sizeof(canon));
		if (find_canon(b->e, canon)) {
			b->e->sweep_dropped++;
		} else {
			svt_exp_policy_name(&p, pool, name, sizeof(name));
			struct svt_exp_policy *q = add_policy(b, n, name);
			if (!q)
				return;
			q->policy = p;
			q->pool = pool;
			snprintf(q->canon, sizeof(q->canon), "%s", canon);
		}
		for (int k = 4; k >= 0 && ++idx[k] == nv[k]; k--)
			idx[k] = 0;
	}
}

/* The named policies (recorded and policy) in the order given, then each
 * sweep's points. */
static void policies(struct build *b, const xmlNode *list)
{
	struct svt_experiment *e = b->e;
	char name[128], why[300];

	if (!(e->policies = calloc(SVT_EXP_MAX_POLICIES, sizeof(*e->policies)))) {
		b->oom = true;
		return;
	}
	if (!list) {
		struct svt_exp_policy *p = add_policy(b, NULL, "recorded");
		p->recorded = true;
		return;
	}
	for (const xmlNode *n = list->children; n; n = n->next) {
		char *nm = is(n, "recorded") || is(n, "policy") ? get(b, n, "name", true) : NULL;
		struct svt_exp_policy *p;
		if (is(n, "recorded")) {
			if ((p = add_policy(b, n, nm ? nm : "recorded")))
				p->recorded = true;
		} else if (is(n, "policy")) {
			xmlChar *v = xmlNodeGetContent(n);
			char *spec = xdup(b, v ? (const char *)v : "");
			struct svt_policy pol;
			unsigned pool;
			xmlFree(v);
			svt_default_policy(&pol, &pool);
			if (spec &&
			    !exp_parse_policy(exp_trim(spec), &pol, &pool, why, sizeof(why)))
				svt_default_policy(&pol, &pool);        /* the table reported it */
			svt_exp_policy_name(&pol, pool, name, sizeof(name));
			if ((p = add_policy(b, n, nm ? nm : name))) {
				p->policy = pol;
				p->pool = pool;
				svt_policy_format(&pol, pool, p->canon, sizeof(p->canon));
			}
			free(spec);
		}
		free(nm);
	}
	for (size_t i = 0; i < e->npolicies; i++)
		for (size_t j = 0; j < i; j++)
			if (e->policies[i].recorded == e->policies[j].recorded &&
			    strcmp(e->policies[i].canon, e->policies[j].canon) == 0)
				exp_error(b->c, e->policies[i].line,
					  "policy '%s' is the same policy as '%s' (line %u): "
					  "expected each policy once", e->policies[i].name,
					  e->policies[j].name, e->policies[j].line);
	for (const xmlNode *n = list->children; n; n = n->next)
		if (is(n, "sweep"))
			sweep(b, n);
}

/* ---- the experiment ---------------------------------------------------------- */

static void unique(struct build *b, const char *what, const char *name, unsigned line,
		   const char *other, unsigned other_line)
{
	if (name && other && strcmp(name, other) == 0)
		exp_error(b->c, line,
			  "%s name '%s' is already used at line %u: expected names unique among "
			  "the %s", what, name, other_line,
			  strcmp(what, "input") == 0 ? "inputs" : "policies");
}

struct svt_experiment *exp_build(struct exp_ctx *c, xmlNode *root)
{
	struct svt_experiment *e = calloc(1, sizeof(*e));
	struct build b = { .c = c, .e = e };
	const xmlNode *list = NULL;
	unsigned before = c->nerrors;
	char *db = NULL, *traces = NULL;

	if (!e || !(e->inputs = calloc(SVT_EXP_MAX_INPUTS, sizeof(*e->inputs)))) {
		exp_error(c, 0, "out of memory");
		svt_exp_free(e);
		return NULL;
	}
	e->file = xdup(&b, c->file);
	e->audit = SVT_AUDIT_FAULTS;
	e->engine = xdup(&b, "bochs");
	e->timeout = DEFAULT_TIMEOUT;
	if (!(e->name = get(&b, root, "name", true))) {
		const char *base = strrchr(c->file, '/') ? strrchr(c->file, '/') + 1 : c->file;
		size_t n = strlen(base);
		if ((e->name = xdup(&b, base)) && n > 4 && strcmp(base + n - 4, ".xml") == 0)
			e->name[n - 4] = '\0';
	}
	for (const xmlNode *n = root->children; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (is(n, "description")) {
			/* a repeated element is the table's to report: the last one counts */
			xmlChar *v = xmlNodeGetContent(n);
			free(e->description);
			e->description = xdup(&b, v ? (const char *)v : "");
			xmlFree(v);
		} else if (is(n, "results")) {
			free(db);
			free(traces);
			db = get(&b, n, "db", true);
			traces = get(&b, n, "traces", true);
		} else if (is(n, "audit")) {
			char *v = get(&b, n, "level", false);
			int lv = v ? svt_audit_parse(v) : -1;
			e->audit = lv >= 0 ? (enum svt_audit_level)lv : SVT_AUDIT_FAULTS;
			free(v);
		} else if (is(n, "engine")) {
			char *v = get(&b, n, "name", false);
			if (v) {
				free(e->engine);
				e->engine = v;
			}
			e->engine_line = (unsigned)exp_line(n);
			e->timeout = get_int(&b, n, "timeout", DEFAULT_TIMEOUT);
		} else if (is(n, "execution")) {
			free(e->partition);
			free(e->time);
			free(e->mem);
			e->partition = get(&b, n, "partition", false);
			e->time = get(&b, n, "time", false);
			e->mem = get(&b, n, "mem", false);
			e->array_max = (unsigned)get_int(&b, n, "array-max", 0);
		} else if (is(n, "policies")) {
			list = n;
		} else if (is(n, "synth") || is(n, "guest") || is(n, "trace")) {
			if (e->ninputs == SVT_EXP_MAX_INPUTS) {
				exp_error(c, exp_line(n),
					  "<%s>: more than %u inputs: expected fewer", n->name,
					  SVT_EXP_MAX_INPUTS);
				break;
			}
			struct svt_exp_input *in = &e->inputs[e->ninputs++];
			in->name = get(&b, n, "name", true);
			in->line = (unsigned)exp_line(n);
			if (is(n, "synth"))
				synth(&b, n, in);
			else if (is(n, "guest"))
				guest(&b, n, in);
			else
				trace(&b, n, in);
			for (size_t j = 0; j + 1 < e->ninputs; j++)
				unique(&b, "input", in->name, in->line, e->inputs[j].name,
				       e->inputs[j].line);
		}
	}
	for (size_t i = 0; i < e->ninputs; i++)
		if (e->inputs[i].kind == SVT_EXP_GUEST && e->engine &&
		    strcmp(e->engine, "qemu-kvm") == 0) {
			exp_error(c, e->engine_line,
				  "<engine name=\"%s\">: this shadowvt records guests under Bochs "
				  "only: expected bochs (the guest at line %u needs recording)",
				  e->engine, e->inputs[i].line);
			break;
		}
	policies(&b, list);
	for (size_t i = 0; i < e->npolicies; i++)
		for (size_t j = 0; j < i; j++)
			unique(&b, "policy", e->policies[i].name, e->policies[i].line,
			       e->policies[j].name, e->policies[j].line);
	const char *base = c->results_dir ? c->results_dir : c->dir;
	e->db = join(&b, base, db ? db : "results.db");
	e->traces = join(&b, base, traces ? traces : "traces");
	free(db);
	free(traces);
	if (b.oom)
		exp_error(c, 0, "out of memory");
	if (c->nerrors != before) {
		svt_exp_free(e);
		return NULL;
	}
	return e;
}
