/*
 * fuzz-experiment.c — the experiment-file reader (sim/experiment/) on
 * arbitrary input.  An input whose first byte is even (an XML file starts
 * with '<') is the file itself; one whose first byte is odd is a list of
 * choices that assemble a plausible experiment (the right
 * root or a wrong one, elements and attributes from the format, values
 * good and bad, a DOCTYPE, entities, stray text), so the schema, the
 * element table and the semantic checks all see it.  Whatever comes in,
 * the reader must return an experiment or NULL; NULL only with at least
 * one message, and every message "fuzz.xml:LINE: ..." or "fuzz.xml: ...";
 * an experiment it returns must hold what the format promises (inputs and
 * policies, unique names, canonical policies that parse).
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "experiment.h"
#include "fuzz.h"
#include "policy.h"

/* Slots in the element templates, each filled with a good value of its
 * kind most of the time and with anything the rest. */
enum { S_NAME, S_WORK, S_MODE, S_INT, S_POL, S_GUEST, S_PATH, S_AUDIT, S_ENGINE, S_LIST, S_BOOL,
       S_POOL, S_TEXT, NSLOT };

static const struct { const char *fmt; unsigned char slot[5]; } elems[] = {
	{ "<synth name=\"%s\" workload=\"%s\" mode=\"%s\" events=\"%s\"/>",
	  { S_NAME, S_WORK, S_MODE, S_INT } },
	{ "<synth name=\"%s\" workload=\"%s\" seed=\"%s\" policy=\"%s\"/>",
	  { S_NAME, S_WORK, S_INT, S_POL } },
	{ "<guest name=\"%s\" shipped=\"%s\" args=\"%s\"/>", { S_NAME, S_GUEST, S_TEXT } },
	{ "<guest name=\"%s\" kernel=\"%s\" policy=\"%s\"/>", { S_NAME, S_PATH, S_POL } },
	{ "<trace name=\"%s\" path=\"%s\"/>", { S_NAME, S_PATH } },
	{ "<results db=\"%s\" traces=\"%s\"/>", { S_PATH, S_PATH } },
	{ "<audit level=\"%s\"/>", { S_AUDIT } },
	{ "<engine name=\"%s\" timeout=\"%s\"/>", { S_ENGINE, S_INT } },
	{ "<policies><recorded/><policy name=\"%s\">%s</policy></policies>", { S_NAME, S_POL } },
	{ "<policies><sweep oos=\"%s\" prefetch=\"%s\" base=\"%s\"/><policy>%s</policy></policies>",
	  { S_LIST, S_LIST, S_POL, S_POL } },
	{ "<policies><sweep pool=\"%s\" emulate=\"%s\" early=\"%s\"/></policies>",
	  { S_POOL, S_BOOL, S_BOOL } },
	{ "<description>%s</description>", { S_TEXT } },
	{ "<foo bar=\"%s\"/>", { S_TEXT } },
	{ "text %s", { S_TEXT } },
	{ "<!-- %s -->", { S_TEXT } },
	{ "&ent;", { S_TEXT } },
	{ "<synth name=\"%s\" workload=\"%s\" frames=\"%s\" level=\"%s\" frame-size=\"%s\"/>",
	  { S_NAME, S_WORK, S_INT, S_INT, S_INT } },
};
#define NELEMS (sizeof(elems) / sizeof(elems[0]))

static const char *const good[NSLOT][8] = {
	[S_NAME] = { "a", "b", "c", "fork-4level", "x.y", "p=1", "Z9", "d" },
	[S_WORK] = { "fork", "mmap", "mix", "spaces", "spaces-pcid", "directmap",
		     "teardown", "mix" },
	[S_MODE] = { "2level", "pae", "4level", "5level", " pae ", "4level", "pae", "4level" },
	[S_INT] = { "4096", "20000", "3", "0", "+7", "0600", "262144", "8388608" },
	[S_POL] = { "oos=0", "oos=0,prefetch=0,emulate=0,early=0", "pool=16", "early=0",
		    "prefetch=511", "pool=65536,oos=16", "emulate=0", "oos=2" },
	[S_GUEST] = { "perm", "hello", "hostile", "null", "paging-pae", "paging-2level",
		      "perm", "null" },
	[S_PATH] = { "k.elf", "x.svt", "/etc/hostname", "r.db", "out/traces", "/", "a b", "t" },
	[S_AUDIT] = { "none", "faults", "periodic", "full", "full", "none", "faults", "periodic" },
	[S_ENGINE] = { "bochs", "qemu-kvm", "bochs", "bochs", "bochs", "bochs",
		       "qemu-kvm", "bochs" },
	[S_LIST] = { "0", "0 2", "0 8 16", " 1 ", "2 2", "0 1 2 3", "16", "4" },
	[S_BOOL] = { "0", "1", "0 1", "1 0", " 0 ", "1 1", "0", "1" },
	[S_POOL] = { "16", "512", "16 64", "65536", "100 200", "16", "512", "1024" },
	[S_TEXT] = { "", "hello", "&amp;", "a&lt;b", "\xc3\xa9", "x", "&#10;", "y z" },
};

static const char *const bad[] = {
	"", "nope", "1x0", "-1", "99999999999999999999999", "oos=99", "foo=1", "oos=",
	"oos=1,,early=0", "3level", "\xff", "]]>", "&amp;", " ", "0 x", "8", "600", "a/b", "x y",
};
#define NBAD (sizeof(bad) / sizeof(bad[0]))

static size_t build(struct fz *f, char *out, size_t cap)
{
	static const char *const heads[] = {
		"<?xml version=\"1.0\"?>\n<experiment xmlns=\"" SVT_EXP_NAMESPACE
		"\" name=\"fz\">\n",
		"<experiment xmlns=\"" SVT_EXP_NAMESPACE "\">\n",
		"<experiment>\n",
		"<!DOCTYPE experiment [<!ENTITY ent SYSTEM \"file:///etc/passwd\">]>\n"
		"<experiment xmlns=\"" SVT_EXP_NAMESPACE "\">\n",
		"<other xmlns=\"" SVT_EXP_NAMESPACE "\">\n",
	};
	uint8_t hb = fz_u8(f);
	unsigned h = hb < 200 ? 0 : hb < 230 ? 1 : 2 + hb % 3;
	unsigned count = 1 + fz_u8(f) % 8;
	size_t n = (size_t)snprintf(out, cap, "%s", heads[h]);

	for (unsigned e = 0; e < count && fz_more(f) && n + 600 < cap; e++) {
		uint8_t eb = fz_u8(f);
		/* mostly inputs and policies, sometimes anything */
		unsigned which = eb < 128 ? eb % 2 : eb < 160 ? 16 : eb % NELEMS;
		const char *v[5];
		for (int i = 0; i < 5; i++) {
			uint8_t b = fz_u8(f);
			v[i] = b < 240 ? good[elems[which].slot[i]][b % 8] : bad[b % NBAD];
		}
		n += (size_t)snprintf(out + n, cap - n, elems[which].fmt, v[0], v[1], v[2],
				      v[3], v[4]);
		out[n++] = '\n';
	}
	n += (size_t)snprintf(out + n, cap - n, "%s", h == 4 ? "</other>\n" : "</experiment>\n");
	if (fz_u8(f) == 7 && n > 2)             /* sometimes cut short */
		n = fz_u64(f, 2) % n;
	return n;
}

/* Every line of the messages names the file. */
static unsigned check_messages(const char *msgs, size_t len)
{
	unsigned lines = 0;

	for (size_t i = 0; i < len;) {
		const char *nl = memchr(msgs + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - msgs) : len;
		FZ_CHECK(strncmp(msgs + i, "fuzz.xml:", 9) == 0,
			 "a message without the file: %.*s\n", (int)(end - i), msgs + i);
		lines++;
		i = end + 1;
	}
	return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size, 0 };
	static char doc[1 << 16];
	const char *buf = doc;
	size_t n;

	if (size == 0 || !(data[0] & 1)) {      /* '<' is even: a file as it is */
		buf = (const char *)data;
		n = size;
	} else {
		f.off = 1;
		n = build(&f, doc, sizeof(doc));
	}
	char *msgs = NULL;
	size_t mlen = 0;
	FILE *err = open_memstream(&msgs, &mlen);
	FZ_CHECK(err != NULL, "open_memstream\n");
	struct svt_experiment *e = svt_exp_load_mem(buf, n, "fuzz.xml",
						    "/nonexistent-fuzz", NULL, err);
	fclose(err);
	unsigned lines = check_messages(msgs, mlen);
	if (!e) {
		FZ_CHECK(lines > 0, "refused without a message\n");
	} else {
		FZ_CHECK(e->ninputs >= 1 && e->npolicies >= 1,
			 "%zu inputs, %zu policies\n", e->ninputs, e->npolicies);
		FZ_CHECK(e->db && e->traces && e->name && e->engine, "a path or name missing\n");
		for (size_t i = 0; i < e->ninputs; i++) {
			FZ_CHECK(e->inputs[i].name && e->inputs[i].name[0],
				 "input %zu has no name\n", i);
			for (size_t j = 0; j < i; j++)
				FZ_CHECK(strcmp(e->inputs[i].name, e->inputs[j].name) != 0,
					 "input name %s twice\n", e->inputs[i].name);
		}
		for (size_t i = 0; i < e->npolicies; i++) {
			const struct svt_exp_policy *p = &e->policies[i];
			struct svt_policy q;
			unsigned pool;
			FZ_CHECK(p->name && p->name[0], "policy %zu has no name\n", i);
			FZ_CHECK(p->recorded || svt_policy_parse(p->canon, &q, &pool) == 0,
				 "policy %s: canonical '%s' does not parse\n", p->name, p->canon);
			for (size_t j = 0; j < i; j++)
				FZ_CHECK(strcmp(p->name, e->policies[j].name) != 0 &&
					 (p->recorded ||
					  strcmp(p->canon, e->policies[j].canon) != 0),
					 "policy %s twice\n", p->name);
		}
		svt_exp_free(e);
	}
	free(msgs);
	return 0;
}
