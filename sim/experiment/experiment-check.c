/*
 * experiment-check.c — the experiment file's elements and attributes as a
 * table (the same rules as schema/experiment.rng, with messages that say
 * what was expected), checked over the whole tree; then the tree made into
 * the plain struct svt_experiment with the checks no schema can make:
 * unique names, known workloads and shipped guests, policy strings, sweeps
 * expanded, files present (experiment.h).
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

/* ---- the table ------------------------------------------------------------ */

enum atype {
	A_NAME,         /* [A-Za-z0-9][A-Za-z0-9._+=,-]{0,127} */
	A_WORD,         /* an XML NCName (ASCII here) */
	A_PATH,         /* non-empty */
	A_STRING,       /* anything */
	A_INT,          /* decimal, min..max */
	A_ENUM,         /* one of choices */
	A_POLICY,       /* a policy string (shadowvt(1) POLICIES) */
	A_LIST,         /* whitespace-separated integers, each min..max */
};

struct attr_spec {
	const char *name;
	enum atype type;
	bool required;
	uint64_t min, max;
	const char *const *choices;
};

enum { T_NONE, T_TEXT, T_POLICY };     /* what text an element holds */

#define MAX_STRING      4000    /* bytes of a path or the guest's arguments */

struct elem_spec {
	const char *name;
	const struct attr_spec *attrs;
	int text;
};

static const char *const audit_levels[] = { "none", "faults", "periodic", "full", NULL };
static const char *const engines[] = { "bochs", "qemu-kvm", NULL };

#define NAME_REQ { "name", A_NAME, true, 0, 0, NULL }
#define NAME_OPT { "name", A_NAME, false, 0, 0, NULL }
#define END { NULL, A_STRING, false, 0, 0, NULL }

static const struct attr_spec a_experiment[] = { NAME_OPT, END };
static const struct attr_spec a_none[] = { END };
static const struct attr_spec a_results[] = {
	{ "db", A_PATH, false, 0, 0, NULL }, { "traces", A_PATH, false, 0, 0, NULL }, END };
static const struct attr_spec a_audit[] = { { "level", A_ENUM, true, 0, 0, audit_levels }, END };
static const struct attr_spec a_engine[] = {
	{ "name", A_ENUM, false, 0, 0, engines },
	{ "timeout", A_INT, false, 1, 86400, NULL }, END };
static const struct attr_spec a_execution[] = {
	{ "partition", A_WORD, false, 0, 0, NULL }, { "array-max", A_INT, false, 1, 100000, NULL },
	{ "time", A_STRING, false, 0, 0, NULL }, { "mem", A_STRING, false, 0, 0, NULL }, END };
static const struct attr_spec a_synth[] = {
	NAME_REQ,
	{ "workload", A_WORD, true, 0, 0, NULL },
	{ "mode", A_ENUM, false, 0, 0, svt_mode_words },
	{ "events", A_INT, false, 1, 1000000000000ull, NULL },
	{ "seed", A_INT, false, 0, UINT64_MAX, NULL },
	{ "policy", A_POLICY, false, 0, 0, NULL },
	{ "frames", A_INT, false, 4096, 262144, NULL },
	{ "level", A_INT, false, 0, 19, NULL },
	{ "frame-size", A_INT, false, SVT_TRACE_FRAME_MIN, SVT_TRACE_FRAME_MAX, NULL },
	END };
static const struct attr_spec a_guest[] = {
	NAME_REQ,
	{ "shipped", A_WORD, false, 0, 0, NULL },
	{ "kernel", A_PATH, false, 0, 0, NULL },
	{ "args", A_STRING, false, 0, 0, NULL },
	{ "policy", A_POLICY, false, 0, 0, NULL },
	END };
static const struct attr_spec a_trace[] = { NAME_REQ, { "path", A_PATH, true, 0, 0, NULL }, END };
static const struct attr_spec a_recorded[] = { NAME_OPT, END };
static const struct attr_spec a_policy[] = { NAME_OPT, END };
static const struct attr_spec a_sweep[] = {
	{ "base", A_POLICY, false, 0, 0, NULL },
	{ "oos", A_LIST, false, 0, SVT_POLICY_MAX_OOS, NULL },
	{ "prefetch", A_LIST, false, 0, SVT_POLICY_MAX_PREFETCH, NULL },
	{ "emulate", A_LIST, false, 0, 1, NULL },
	{ "early", A_LIST, false, 0, 1, NULL },
	{ "pool", A_LIST, false, SVT_POLICY_MIN_POOL, SVT_POLICY_MAX_POOL, NULL },
	END };

/* experiment's children: settings (at most one each), inputs (one or more),
 * policies (at most one); policies' children. */
static const struct elem_spec settings[] = {
	{ "description", a_none, T_TEXT }, { "results", a_results, T_NONE },
	{ "audit", a_audit, T_NONE }, { "engine", a_engine, T_NONE },
	{ "policies", a_none, T_NONE }, { "execution", a_execution, T_NONE }, { NULL, NULL, 0 } };
static const struct elem_spec inputs[] = {
	{ "synth", a_synth, T_NONE }, { "guest", a_guest, T_NONE }, { "trace", a_trace, T_NONE },
	{ NULL, NULL, 0 } };
static const struct elem_spec policy_elems[] = {
	{ "recorded", a_recorded, T_NONE }, { "policy", a_policy, T_POLICY },
	{ "sweep", a_sweep, T_NONE }, { NULL, NULL, 0 } };

/* ---- values ------------------------------------------------------------------ */

static bool xml_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* s with leading and trailing XML whitespace removed, in place. */
char *exp_trim(char *s)
{
	size_t n = strlen(s);

	while (n && xml_space(s[n - 1]))
		s[--n] = '\0';
	while (xml_space(*s))
		s++;
	return s;
}

/* A decimal integer as XML Schema writes one (an optional +, leading zeros
 * allowed) in [min, max]. */
bool exp_parse_int(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '+')
		s++;
	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return v >= min && v <= max;
}

static bool is_name(const char *s)
{
	size_t n = 0;

	for (const char *p = s; *p; p++, n++) {
		bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9');
		if (!alnum && (n == 0 || !strchr("._+=,-", *p)))
			return false;
	}
	return n >= 1 && n <= 128;
}

static bool is_word(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("._-", *s)))
			return false;
	return true;
}

/* A policy string over *p and *pool, with why it is not one (common/policy.h). */
bool exp_parse_policy(const char *spec, struct svt_policy *p, unsigned *pool, char *why, size_t len)
{
	return svt_policy_parse_n(spec, strlen(spec), p, pool, NULL, SVT_POLICY_MAX_POOL,
				  why, len) == 0;
}

static void list_choices(char *buf, size_t len, const char *const *choices)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned i = 0; choices[i] && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s",
				      i == 0 ? "" : choices[i + 1] ? ", " : " or ", choices[i]);
}

/* ---- the structure --------------------------------------------------------- */

static bool in_ns(const xmlNode *n)
{
	return n->ns && n->ns->href && strcmp((const char *)n->ns->href, SVT_EXP_NAMESPACE) == 0;
}

static const struct elem_spec *find_elem(const struct elem_spec *set, const xmlNode *n)
{
	for (; set->name; set++)
		if (strcmp(set->name, (const char *)n->name) == 0)
			return set;
	return NULL;
}

static char *attr_value(const xmlAttr *a)
{
	xmlChar *v = xmlNodeListGetString(a->doc, a->children, 1);
	char *s = strdup(v ? (const char *)v : "");

	xmlFree(v);
	return s;
}

static void check_value(struct exp_ctx *c, const xmlNode *n, const struct attr_spec *s, char *raw)
{
	char *v = s->type == A_NAME || s->type == A_PATH || s->type == A_STRING ? raw :
		exp_trim(raw);
	long line = exp_line(n);
	char why[300], list[100];
	struct svt_policy p;
	unsigned pool;
	uint64_t x;

	switch (s->type) {
	case A_NAME:
		if (!is_name(v))
			exp_error(c, line,
				  "<%s %s=\"%.60s\">: expected a name: a letter or digit, then "
				  "letters, digits and . _ - + = , (at most 128 characters)",
				  n->name, s->name, v);
		break;
	case A_WORD:
		if (!is_word(v))
			exp_error(c, line,
				  "<%s %s=\"%.60s\">: expected a name (letters, digits, . _ -)",
				  n->name, s->name, v);
		break;
	case A_PATH:
		if (!*v || strlen(v) > MAX_STRING)
			exp_error(c, line,
				  "<%s %s=\"%.60s\">: expected a file name of 1 to %u bytes",
				  n->name, s->name, v, MAX_STRING);
		break;
	case A_STRING:
		if (strlen(v) > MAX_STRING)
			exp_error(c, line,
				  "<%s %s=\"%.60s...\">: expected at most %u bytes", n->name,
				  s->name, v, MAX_STRING);
		break;
	case A_INT:
		if (!exp_parse_int(v, s->min, s->max, &x))
			exp_error(c, line, "<%s %s=\"%.60s\">: expected an integer from %" PRIu64
				  " to %" PRIu64, n->name, s->name, v, s->min, s->max);
		break;
	case A_ENUM:
		for (unsigned i = 0; s->choices[i]; i++)
			if (strcmp(v, s->choices[i]) == 0)
				return;
		list_choices(list, sizeof(list), s->choices);
		exp_error(c, line, "<%s %s=\"%.60s\">: expected %s", n->name, s->name, v, list);
		break;
	case A_POLICY:
		svt_default_policy(&p, &pool);
		if (!exp_parse_policy(v, &p, &pool, why, sizeof(why)))
			exp_error(c, line, "<%s %s=\"%.60s\">: %s", n->name, s->name, v, why);
		break;
	case A_LIST: {
		char *save = NULL, *tok = strtok_r(v, " \t\r\n", &save);
		if (!tok)
			exp_error(c, line,
				  "<%s %s=\"\">: expected one or more values from %" PRIu64 " to "
				  "%" PRIu64 ", separated by spaces", n->name, s->name,
				  s->min, s->max);
		for (; tok; tok = strtok_r(NULL, " \t\r\n", &save))
			if (!exp_parse_int(tok, s->min, s->max, &x)) {
				exp_error(c, line,
					  "<%s %s=\"...\">: bad value '%.40s' for policy knob %s: "
					  "expected values from %" PRIu64 " to %" PRIu64 ", "
					  "separated by spaces", n->name, s->name, tok, s->name,
					  s->min, s->max);
				break;
			}
		break;
	}
	}
}

static void check_attrs(struct exp_ctx *c, const xmlNode *n, const struct attr_spec *spec)
{
	for (const xmlAttr *a = n->properties; a; a = a->next) {
		const struct attr_spec *s = spec;
		while (s->name && (a->ns || strcmp(s->name, (const char *)a->name) != 0))
			s++;
		if (!s->name) {
			char names[200] = "";
			size_t k = 0;
			for (s = spec; s->name && k < sizeof(names); s++)
				k += (size_t)snprintf(names + k, sizeof(names) - k, "%s%s",
						      s == spec ? "" : s[1].name ? ", " :
						      " or ", s->name);
			exp_error(c, exp_line(n),
				  "<%s>: unknown attribute '%s%s%s': expected %s", n->name,
				  a->ns && a->ns->prefix ? (const char *)a->ns->prefix : "",
				  a->ns && a->ns->prefix ? ":" : "", a->name,
				  spec->name ? names : "no attributes");
			continue;
		}
		char *v = attr_value(a);
		if (!v) {
			exp_error(c, exp_line(n), "out of memory");
			return;
		}
		check_value(c, n, s, v);
		free(v);
	}
	for (const struct attr_spec *s = spec; s->name; s++)
		if (s->required && !xmlHasNsProp(n, (const xmlChar *)s->name, NULL))
			exp_error(c, exp_line(n), "<%s>: missing attribute '%s'", n->name, s->name);
}

/* The text and child elements of n: which elements, and what text. */
static void check_content(struct exp_ctx *c, xmlNode *n, const struct elem_spec *children,
			  const struct elem_spec *more, const char *expected, int text)
{
	bool have_text = false;

	for (xmlNode *k = n->children; k; k = k->next) {
		if (k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) {
			const char *t = (const char *)k->content;
			while (t && xml_space(*t))
				t++;
			if (!t || !*t)
				continue;
			have_text = true;
			if (text == T_NONE)
				exp_error(c, exp_line(k),
					  "<%s>: unexpected text '%.30s': expected %s", n->name,
					  t, expected);
		} else if (k->type == XML_ELEMENT_NODE) {
			if (!children || !in_ns(k) ||
			    (!find_elem(children, k) && (!more || !find_elem(more, k))))
				exp_error(c, exp_line(k),
					  "<%s%s%s>: unexpected element in <%s>: expected %s",
					  k->ns && k->ns->prefix ? (const char *)k->ns->prefix : "",
					  k->ns && k->ns->prefix ? ":" : "", k->name,
					  n->name, expected);
		} else if (k->type == XML_ENTITY_REF_NODE) {
			exp_error(c, exp_line(n),
				  "<%s>: entity references are not allowed", n->name);
		}
	}
	if (text == T_POLICY) {
		xmlChar *v = xmlNodeGetContent(n);
		char *raw = strdup(v ? (const char *)v : ""), why[300];
		struct svt_policy p;
		unsigned pool;

		xmlFree(v);
		if (!raw)
			return;
		svt_default_policy(&p, &pool);
		if (!have_text)
			exp_error(c, exp_line(n),
				  "<%s>: expected a policy string as its text, such as "
				  "oos=0,prefetch=0", n->name);
		else if (!exp_parse_policy(exp_trim(raw), &p, &pool, why, sizeof(why)))
			exp_error(c, exp_line(n), "<%s>: %s", n->name, why);
		free(raw);
	}
}

/* Only digits and the separators given, starting with a digit. */
static bool digits_and(const char *s, const char *seps, size_t max)
{
	if (*s < '0' || *s > '9' || strlen(s) > max)
		return false;
	for (; *s; s++)
		if ((*s < '0' || *s > '9') && !strchr(seps, *s))
			return false;
	return true;
}

/* <execution time mem>: as sbatch takes them ("90", "1-12:00:00"; "4000", "4G"). */
static void check_execution(struct exp_ctx *c, xmlNode *k)
{
	xmlChar *t = xmlGetNoNsProp(k, (const xmlChar *)"time");
	xmlChar *m = xmlGetNoNsProp(k, (const xmlChar *)"mem");
	size_t ml = m ? strlen((const char *)m) : 0;

	if (t && !digits_and((const char *)t, ":-", 16))
		exp_error(c, exp_line(k), "<execution time=\"%.40s\">: expected a Slurm time limit "
			  "(minutes, or [D-]HH:MM:SS)", (const char *)t);
	if (m && (ml == 0 || !(digits_and((const char *)m, "", 15) ||
			       (ml > 1 && strchr("KMGT", m[ml - 1]) && (m[ml - 1] = '\0', 1) &&
				digits_and((const char *)m, "", 15)))))
		exp_error(c, exp_line(k),
			  "<execution mem=...>: expected megabytes, or a number with K, M, G or T");
	xmlFree(t);
	xmlFree(m);
}

bool exp_is_root(const xmlNode *root)
{
	return strcmp((const char *)root->name, "experiment") == 0 && in_ns(root);
}

unsigned exp_check_structure(struct exp_ctx *c, xmlNode *root)
{
	unsigned before = c->nerrors, count[6] = { 0 }, ninputs = 0;

	if (!exp_is_root(root)) {
		exp_error(c, exp_line(root), "the root element is <%s> %s%s: expected <experiment "
			  "xmlns=\"%s\">", root->name,
			  root->ns && root->ns->href ? "in namespace " : "in no namespace",
			  root->ns && root->ns->href ? (const char *)root->ns->href : "",
			  SVT_EXP_NAMESPACE);
		return c->nerrors - before;
	}
	check_attrs(c, root, a_experiment);
	check_content(c, root, settings, inputs, "description, results, audit, engine, policies, "
		      "execution, synth, guest or trace", T_NONE);
	for (xmlNode *k = root->children; k; k = k->next) {
		const struct elem_spec *s;
		if (k->type != XML_ELEMENT_NODE || !in_ns(k))
			continue;
		if ((s = find_elem(inputs, k))) {
			ninputs++;
			check_attrs(c, k, s->attrs);
			check_content(c, k, NULL, NULL, "no content", T_NONE);
			if (strcmp(s->name, "guest") == 0 &&
			    !xmlHasNsProp(k, (const xmlChar *)"shipped", NULL) ==
			    !xmlHasNsProp(k, (const xmlChar *)"kernel", NULL))
				exp_error(c, exp_line(k),
					  "<guest>: expected exactly one of the attributes "
					  "'shipped' (a shipped guest) and 'kernel' (a Multiboot "
					  "kernel file)");
			continue;
		}
		if (!(s = find_elem(settings, k)))
			continue;
		unsigned i = (unsigned)(s - settings);
		if (++count[i] == 2)
			exp_error(c, exp_line(k),
				  "<%s>: given twice: expected at most one", s->name);
		check_attrs(c, k, s->attrs);
		if (strcmp(s->name, "execution") == 0)
			check_execution(c, k);
		if (strcmp(s->name, "policies") != 0) {
			check_content(c, k, NULL, NULL, "no content", s->text);
			continue;
		}
		unsigned np = 0;
		check_content(c, k, policy_elems, NULL, "recorded, policy or sweep", T_NONE);
		for (xmlNode *q = k->children; q; q = q->next) {
			const struct elem_spec *ps;
			if (q->type != XML_ELEMENT_NODE || !in_ns(q) ||
			    !(ps = find_elem(policy_elems, q)))
				continue;
			np++;
			check_attrs(c, q, ps->attrs);
			check_content(c, q, NULL, NULL, "no elements", ps->text);
		}
		if (np == 0)
			exp_error(c, exp_line(k),
				  "<policies>: expected one or more of recorded, policy and sweep");
	}
	if (ninputs == 0)
		exp_error(c, exp_line(root),
			  "<experiment>: no inputs: expected one or more of synth, guest "
			  "and trace");
	return c->nerrors - before;
}
