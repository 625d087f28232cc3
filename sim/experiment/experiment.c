/*
 * experiment.c — reading an experiment file (experiment.h): the file into
 * memory (size capped), libxml2's parser on it with every door shut (no
 * network, no DTD loading, no entity substitution, and a DOCTYPE stops the
 * parse), the RELAX NG schema compiled into the program (schema/
 * experiment.rng, experiment-rng.c), and every message libxml2 has routed
 * to us as "FILE:LINE: ..." instead of its own stderr handler.
 *
 * The schema is the definition of the format; its messages are libxml2's,
 * which often do not say what was expected ("Element synth failed to
 * validate attributes").  So the tree is also checked against the element
 * table of experiment-check.c, which says exactly what is wrong and where;
 * libxml2's schema messages are printed only for a problem the table did
 * not explain.  Either way the file is refused.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/xmlerror.h>

#include "experiment_int.h"

#define MAX_SCHEMA_MSGS 20

static void put(const struct exp_ctx *c, long line, const char *msg)
{
	if (line > 0)
		fprintf(c->err, "%s:%ld: %s\n", c->file, line, msg);
	else
		fprintf(c->err, "%s: %s\n", c->file, msg);
}

void exp_error(struct exp_ctx *c, long line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	c->nerrors++;
	if (!c->err)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one line per message, whatever the file held */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if (!c->msgs)
		c->msgs = calloc(EXP_KEEP, sizeof(*c->msgs));
	if (!c->msgs) {                 /* no memory to sort them: as they come */
		if (c->nerrors <= SVT_EXP_MAX_ERRORS)
			put(c, line, msg);
		return;
	}
	if (c->nmsgs < EXP_KEEP) {
		struct exp_msg *m = &c->msgs[c->nmsgs];
		m->line = line > 0 ? line : 0;
		m->order = c->nmsgs++;
		snprintf(m->text, sizeof(m->text), "%s", msg);
	}
}

static int by_line(const void *a, const void *b)
{
	const struct exp_msg *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

void exp_flush(struct exp_ctx *c)
{
	unsigned shown = 0, same = 0;

	if (!c->msgs)
		return;
	qsort(c->msgs, c->nmsgs, sizeof(*c->msgs), by_line);
	for (unsigned i = 0; i < c->nmsgs; i++) {
		const struct exp_msg *m = &c->msgs[i];
		if (i > 0 && m->line == m[-1].line && strcmp(m->text, m[-1].text) == 0) {
			same++;
			continue;
		}
		if (shown++ < SVT_EXP_MAX_ERRORS)
			put(c, m->line, m->text);
	}
	if (c->nerrors - same > SVT_EXP_MAX_ERRORS)
		fprintf(c->err, "%s: %u more problems not shown\n", c->file,
			c->nerrors - same - SVT_EXP_MAX_ERRORS);
	free(c->msgs);
	c->msgs = NULL;
	c->nmsgs = 0;
}

long exp_line(const xmlNode *n)
{
	long l = n ? xmlGetLineNo(n) : -1;
	return l > 0 ? l : 1;
}

/* ---- libxml2's messages ---------------------------------------------------- */

struct schema_msg {
	long line;
	char text[300];
};

struct load {
	struct exp_ctx *c;
	bool validating;                /* collect schema messages instead of printing */
	bool doctype;
	struct schema_msg msgs[MAX_SCHEMA_MSGS];
	unsigned nmsgs;
	char generic[512];              /* a generic message being assembled */
	size_t glen;
};

/* libxml2's message text without its trailing newline, control characters
 * made spaces. */
static void clean(char *out, size_t len, const char *msg)
{
	size_t n = 0;

	for (; msg && *msg && n + 1 < len; msg++)
		out[n++] = (unsigned char)*msg < 0x20 ? ' ' : *msg;
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

static void on_error(void *ctx, xmlErrorPtr e)
{
	struct load *l = ctx;
	char text[300];
	long line = e->line;

	if (line <= 0 && e->node)
		line = exp_line(e->node);
	clean(text, sizeof(text), e->message);
	if (l->validating) {
		if (l->nmsgs < MAX_SCHEMA_MSGS) {
			l->msgs[l->nmsgs].line = line;
			snprintf(l->msgs[l->nmsgs].text, sizeof(l->msgs[0].text), "%s", text);
			l->nmsgs++;
		}
		return;
	}
	if (e->level == XML_ERR_WARNING) {
		if (l->c->err)
			fprintf(l->c->err, "%s:%ld: warning: %s\n", l->c->file,
				line > 0 ? line : 1, text);
		return;
	}
	exp_error(l->c, line > 0 ? line : 1, "not well-formed XML: %s", text);
}

/* Messages libxml2 sends past the structured handler: assembled a line at a
 * time and printed with the file name. */
static void on_generic(void *ctx, const char *fmt, ...)
{
	struct load *l = ctx;
	char part[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(part, sizeof(part), fmt, ap);
	va_end(ap);
	for (const char *p = part; *p; p++) {
		if (*p != '\n' && l->glen + 1 < sizeof(l->generic)) {
			l->generic[l->glen++] = *p;
			continue;
		}
		if (*p != '\n')
			continue;
		l->generic[l->glen] = '\0';
		if (l->glen && l->c->err)
			fprintf(l->c->err, "%s: libxml2: %s\n", l->c->file, l->generic);
		l->glen = 0;
	}
}

/* The SAX internalSubset event: a DOCTYPE.  Refused before anything in it
 * (entity declarations, an external subset) is looked at. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *public_id,
		       const xmlChar *system_id)
{
	xmlParserCtxtPtr p = ctx;
	struct load *l = p->_private;

	(void)name;
	exp_error(l->c, p->input ? p->input->line : 1,
		  "a DOCTYPE is not allowed in an experiment file%s: expected the "
		  "<experiment> element with no DTD and no entity declarations",
		  public_id || system_id ? " (this one names an external DTD)" : "");
	l->doctype = true;
	xmlStopParser(p);
}

/* ---- loading ------------------------------------------------------------ */

static xmlDocPtr parse(struct load *l, const char *buf, size_t len)
{
	xmlParserCtxtPtr p = xmlNewParserCtxt();
	xmlDocPtr doc;

	if (!p) {
		exp_error(l->c, 0, "out of memory");
		return NULL;
	}
	p->_private = l;
	p->sax->internalSubset = on_doctype;
	/* Not XML_PARSE_NOENT, DTDLOAD, DTDATTR, DTDVALID or XINCLUDE. */
	doc = xmlCtxtReadMemory(p, buf, (int)len, l->c->file, NULL,
				XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES);
	if (doc && (l->doctype || !p->wellFormed || l->c->nerrors)) {
		xmlFreeDoc(doc);
		doc = NULL;
	}
	if (!doc && l->c->nerrors == 0)
		exp_error(l->c, p->input ? p->input->line : 1, "not well-formed XML");
	xmlFreeParserCtxt(p);
	return doc;
}

/* Validate against the built-in schema; messages are collected in l.
 * 1 valid, 0 not, -1 the schema itself failed. */
static int validate(struct load *l, xmlDocPtr doc)
{
	xmlRelaxNGParserCtxtPtr pc;
	xmlRelaxNGValidCtxtPtr vc;
	xmlRelaxNGPtr schema;
	int rc;

	pc = xmlRelaxNGNewMemParserCtxt(svt_experiment_rng, (int)strlen(svt_experiment_rng));
	if (!pc)
		return -1;
	xmlRelaxNGSetParserStructuredErrors(pc, on_error, l);
	schema = xmlRelaxNGParse(pc);
	xmlRelaxNGFreeParserCtxt(pc);
	if (!schema)
		return -1;
	vc = xmlRelaxNGNewValidCtxt(schema);
	if (!vc) {
		xmlRelaxNGFree(schema);
		return -1;
	}
	xmlRelaxNGSetValidStructuredErrors(vc, on_error, l);
	rc = xmlRelaxNGValidateDoc(vc, doc);
	xmlRelaxNGFreeValidCtxt(vc);
	xmlRelaxNGFree(schema);
	return rc == 0 ? 1 : rc > 0 ? 0 : -1;
}

struct svt_experiment *svt_exp_load_mem(const char *buf, size_t len, const char *name,
					const char *dir, const char *results_dir, FILE *err)
{
	struct exp_ctx c = { .file = name, .dir = dir, .results_dir = results_dir, .err = err };
	struct load *l = calloc(1, sizeof(*l));
	struct svt_experiment *e = NULL;
	xmlDocPtr doc = NULL;

	if (!l) {
		exp_error(&c, 0, "out of memory");
		exp_flush(&c);
		return NULL;
	}
	l->c = &c;
	if (len > SVT_EXP_MAX_BYTES) {
		exp_error(&c, 1, "the file is %zu bytes; an experiment file is at most %u", len,
			  SVT_EXP_MAX_BYTES);
		exp_flush(&c);
		free(l);
		return NULL;
	}
	xmlInitParser();
	xmlSetStructuredErrorFunc(l, on_error);
	xmlSetGenericErrorFunc(l, on_generic);
	if (!(doc = parse(l, buf, len)))
		goto out;
	xmlNodePtr root = xmlDocGetRootElement(doc);
	if (!root) {
		exp_error(&c, 1, "no root element: expected <experiment xmlns=\"%s\">",
			  SVT_EXP_NAMESPACE);
		goto out;
	}
	l->validating = true;
	int valid = validate(l, doc);
	l->validating = false;
	if (valid < 0) {
		exp_error(&c, 0, "the built-in schema (schema/experiment.rng) cannot be used%s%s",
			  l->nmsgs ? ": " : "", l->nmsgs ? l->msgs[0].text : "");
		goto out;
	}
	/* Every problem in one pass: the table's, libxml2's where the table
	 * found none, and the checks no schema makes, each on its own element. */
	if (exp_check_structure(&c, root) == 0 && !valid) {
		for (unsigned i = 0; i < l->nmsgs; i++)
			exp_error(&c, l->msgs[i].line > 0 ? l->msgs[i].line : exp_line(root),
				  "does not match schema/experiment.rng: %s", l->msgs[i].text);
		if (l->nmsgs == 0)
			exp_error(&c, exp_line(root), "does not match schema/experiment.rng");
	}
	if (exp_is_root(root))
		e = exp_build(&c, root);
	if (c.nerrors) {
		svt_exp_free(e);
		e = NULL;
	}
out:
	exp_flush(&c);
	if (l->glen && err) {           /* a generic message without its newline */
		l->generic[l->glen] = '\0';
		fprintf(err, "%s: libxml2: %s\n", name, l->generic);
	}
	xmlSetStructuredErrorFunc(NULL, NULL);
	xmlSetGenericErrorFunc(NULL, NULL);
	xmlFreeDoc(doc);
	free(l);
	return e;
}

struct svt_experiment *svt_exp_load(const char *path, const char *results_dir, FILE *err)
{
	struct exp_ctx c = { .file = path, .err = err };
	struct stat sb;
	char *buf = NULL, *dir = NULL, *slash;
	ssize_t n = 0;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) != 0) {
		exp_error(&c, 0, "cannot read: %s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		exp_error(&c, 0, "not a regular file");
		goto fail;
	}
	if ((size_t)sb.st_size > SVT_EXP_MAX_BYTES) {
		exp_error(&c, 1, "the file is %lld bytes; an experiment file is at most %u",
			  (long long)sb.st_size, SVT_EXP_MAX_BYTES);
		goto fail;
	}
	if (!(buf = malloc(SVT_EXP_MAX_BYTES + 1)) || !(dir = strdup(path))) {
		exp_error(&c, 0, "out of memory");
		goto fail;
	}
	while (got <= SVT_EXP_MAX_BYTES &&
	       (n = read(fd, buf + got, SVT_EXP_MAX_BYTES + 1 - got)) > 0)
		got += (size_t)n;
	if (n < 0) {
		exp_error(&c, 0, "cannot read: %s", strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	struct svt_experiment *e = svt_exp_load_mem(buf, got, path, dir, results_dir, err);
	free(buf);
	free(dir);
	return e;
fail:
	exp_flush(&c);
	if (fd >= 0)
		close(fd);
	free(buf);
	free(dir);
	return NULL;
}

void svt_exp_free(struct svt_experiment *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->ninputs; i++) {
		struct svt_exp_input *in = &e->inputs[i];
		free(in->name);
		free(in->workload);
		free(in->shipped);
		free(in->kernel);
		free(in->args);
		free(in->path);
	}
	for (size_t i = 0; i < e->npolicies; i++)
		free(e->policies[i].name);
	free(e->inputs);
	free(e->policies);
	free(e->file);
	free(e->name);
	free(e->description);
	free(e->db);
	free(e->traces);
	free(e->engine);
	free(e->partition);
	free(e->time);
	free(e->mem);
	free(e);
}
