/*
 * cmd-walk.c — `shadowvt walk`: translate one linear address through a
 * guest-physical memory image, as the CPU would, and show every level.
 * Its --json output is a stable interface (shadowvt(1)).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

const char *svt_mode_name(enum svt_mode m)
{
	switch (m) {
	case SVT_MODE_NONE: return "none";
	case SVT_MODE_2LEVEL: return "2-level";
	case SVT_MODE_PAE: return "PAE";
	case SVT_MODE_4LEVEL: return "4-level";
	case SVT_MODE_5LEVEL: return "5-level";
	case SVT_MODE_INVALID: break;
	}
	return "invalid";
}

const char *svt_access_name(enum svt_access_kind k)
{
	return k == SVT_ACC_WRITE ? "write" : k == SVT_ACC_FETCH ? "fetch" : "read";
}

static const char *level_name(enum svt_mode m, unsigned level)
{
	static const char *const names[] = { "", "PTE", "PDE", "PDPTE", "PML4E", "PML5E" };

	if (m == SVT_MODE_2LEVEL && level == 2)
		return "PDE";
	return level <= 5 ? names[level] : "?";
}

/* The entry's flags by name, for one level of a walk. */
static void entry_flags(const struct svt_walk_level *l, const char *out[16], unsigned *n)
{
	static const struct { uint64_t bit; const char *name; } bits[] = {
		{ SVT_PTE_P, "P" }, { SVT_PTE_RW, "RW" }, { SVT_PTE_US, "US" },
		{ SVT_PTE_PWT, "PWT" }, { SVT_PTE_PCD, "PCD" }, { SVT_PTE_A, "A" },
		{ SVT_PTE_D, "D" }, { SVT_PTE_PS, "PS" }, { SVT_PTE_G, "G" },
		{ SVT_PTE_XD, "XD" },
	};
	*n = 0;
	for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		if (bits[i].bit == SVT_PTE_XD && l->size == 4)
			continue;
		if (l->entry & bits[i].bit)
			out[(*n)++] = bits[i].name;
	}
}

static void print_pfec(FILE *f, uint32_t ec)
{
	static const char *const names[] = { "P", "W", "U", "RSVD", "I", "PK" };
	const char *sep = " (";

	fprintf(f, "0x%" PRIx32, ec);
	for (unsigned i = 0; i < 6; i++) {
		if (ec & (1u << i)) {
			fprintf(f, "%s%s", sep, names[i]);
			sep = " ";
		}
	}
	if (ec != 0)
		fputc(')', f);
}

static const char *size_name(uint64_t sz)
{
	switch (sz) {
	case 4096: return "4 KiB";
	case 2u << 20: return "2 MiB";
	case 4u << 20: return "4 MiB";
	case 1u << 30: return "1 GiB";
	}
	return "?";
}

void svt_walk_print_text(FILE *f, const struct svt_regs *r, const struct svt_access *acc,
			 const struct svt_walk *w)
{
	fprintf(f, "%s paging, %s of 0x%" PRIx64 " at CPL %u%s\n", svt_mode_name(w->mode),
		svt_access_name(acc->kind), acc->va, acc->cpl,
		acc->implicit ? " (implicit supervisor access)" : "");
	for (unsigned i = 0; i < w->nlevels; i++) {
		const struct svt_walk_level *l = &w->lv[i];
		const char *fl[16];
		unsigned n;

		entry_flags(l, fl, &n);
		fprintf(f, "  %-5s @0x%08" PRIx64 " = 0x%0*" PRIx64 " ", level_name(w->mode, l->level),
			l->entry_gpa, l->size == 4 ? 8 : 16, l->entry);
		for (unsigned j = 0; j < n; j++)
			fprintf(f, " %s", fl[j]);
		if (l->leaf && w->mode >= SVT_MODE_4LEVEL)
			fprintf(f, " key=%u", (unsigned)((l->entry >> 59) & 0xf));
		if (w->status == SVT_WALK_PF && (w->error_code & SVT_PFEC_RSVD) &&
		    i + 1 == w->nlevels) {
			bool ps = (l->entry & SVT_PTE_PS) &&
				((l->level == 2 && (w->mode != SVT_MODE_2LEVEL || (r->cr4 & SVT_CR4_PSE))) ||
				 (l->level == 3 && w->mode >= SVT_MODE_4LEVEL));
			fprintf(f, " reserved-bits=0x%" PRIx64,
				l->entry & svt_rsvd_mask(r, w->mode, l->level, ps));
		}
		fprintf(f, "%s  [rights %c%c%c]\n", l->leaf ? " (leaf)" : "",
			l->rights & SVT_RIGHT_W ? 'W' : '-', l->rights & SVT_RIGHT_U ? 'U' : '-',
			l->rights & SVT_RIGHT_X ? 'X' : '-');
	}
	switch (w->status) {
	case SVT_WALK_OK:
		fprintf(f, "=> gpa 0x%" PRIx64 " (%s page)\n", w->gpa, size_name(w->page_size));
		for (unsigned i = 0; i < w->nad; i++)
			fprintf(f, "   sets %s%s at 0x%" PRIx64 ": 0x%" PRIx64 " -> 0x%" PRIx64 "\n",
				(w->ad[i].new & ~w->ad[i].old) & SVT_PTE_A ? "A" : "",
				(w->ad[i].new & ~w->ad[i].old) & SVT_PTE_D ? "D" : "",
				w->ad[i].gpa, w->ad[i].old, w->ad[i].new);
		break;
	case SVT_WALK_PF:
		fprintf(f, "=> #PF error code ");
		print_pfec(f, w->error_code);
		fprintf(f, ", CR2 0x%" PRIx64 "\n", w->cr2);
		break;
	case SVT_WALK_GP:
		fprintf(f, "=> #GP: %s\n", w->mode == SVT_MODE_INVALID ?
			"invalid paging register state" : "non-canonical address");
		break;
	case SVT_WALK_ENV:
		fprintf(f, "=> guest memory could not be read\n");
		break;
	}
}

void svt_walk_print_json(FILE *f, const struct svt_walk *w)
{
	if (w->status == SVT_WALK_GP) {
		fprintf(f, "{\"fault\": true, \"vector\": \"#GP\", \"error_code\": \"0x0\", "
			"\"reason\": \"%s\"}\n", w->mode == SVT_MODE_INVALID ?
			"invalid paging register state" : "non-canonical address");
		return;
	}
	if (w->status == SVT_WALK_OK) {
		fprintf(f, "{\"fault\": false, \"gpa\": \"0x%" PRIx64 "\", \"page_size\": %" PRIu64
			", \"ad_updates\": [", w->gpa, w->page_size);
		for (unsigned i = 0; i < w->nad; i++)
			fprintf(f, "%s{\"gpa\": \"0x%" PRIx64 "\", \"old\": \"0x%" PRIx64 "\", \"new\": \"0x%"
				PRIx64 "\"}", i ? ", " : "", w->ad[i].gpa, w->ad[i].old, w->ad[i].new);
		fputs("]", f);
	} else {
		fprintf(f, "{\"fault\": true, \"error_code\": \"0x%" PRIx32 "\", \"cr2\": \"0x%" PRIx64 "\"",
			w->error_code, w->cr2);
	}
	fprintf(f, ", \"mode\": \"%s\", \"levels\": [", svt_mode_name(w->mode));
	for (unsigned i = 0; i < w->nlevels; i++) {
		const struct svt_walk_level *l = &w->lv[i];
		const char *fl[16];
		unsigned n;

		entry_flags(l, fl, &n);
		fprintf(f, "%s{\"level\": %u, \"name\": \"%s\", \"table\": \"0x%" PRIx64 "\", "
			"\"gpa\": \"0x%" PRIx64 "\", \"entry\": \"0x%" PRIx64 "\", \"leaf\": %s, \"flags\": [",
			i ? ", " : "", l->level, level_name(w->mode, l->level), l->table,
			l->entry_gpa, l->entry, l->leaf ? "true" : "false");
		for (unsigned j = 0; j < n; j++)
			fprintf(f, "%s\"%s\"", j ? ", " : "", fl[j]);
		fprintf(f, "], \"rights\": {\"write\": %s, \"user\": %s, \"execute\": %s}}",
			l->rights & SVT_RIGHT_W ? "true" : "false",
			l->rights & SVT_RIGHT_U ? "true" : "false",
			l->rights & SVT_RIGHT_X ? "true" : "false");
	}
	fputs("]}\n", f);
}

enum {
	OPT_MEM = 256, OPT_VA, OPT_ACCESS, OPT_CR0, OPT_CR3, OPT_CR4, OPT_EFER, OPT_PKRU,
	OPT_CPL, OPT_RFLAGS, OPT_IMPLICIT, OPT_MAXPHYADDR, OPT_JSON, OPT_WRITE_BACK, OPT_NO_1G,
};

static int cmd_walk_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mem", required_argument, NULL, OPT_MEM },
		{ "va", required_argument, NULL, OPT_VA },
		{ "access", required_argument, NULL, OPT_ACCESS },
		{ "cr0", required_argument, NULL, OPT_CR0 },
		{ "cr3", required_argument, NULL, OPT_CR3 },
		{ "cr4", required_argument, NULL, OPT_CR4 },
		{ "efer", required_argument, NULL, OPT_EFER },
		{ "pkru", required_argument, NULL, OPT_PKRU },
		{ "cpl", required_argument, NULL, OPT_CPL },
		{ "rflags", required_argument, NULL, OPT_RFLAGS },
		{ "implicit", no_argument, NULL, OPT_IMPLICIT },
		{ "maxphyaddr", required_argument, NULL, OPT_MAXPHYADDR },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "write-back", no_argument, NULL, OPT_WRITE_BACK },
		{ "no-1g", no_argument, NULL, OPT_NO_1G },
		{ NULL, 0, NULL, 0 },
	};
	const struct svt_cmd *cmd = &svt_cmd_walk;
	const char *mem = NULL, *access = NULL;
	bool have_va = false, json = false, write_back = false;
	struct svt_regs r;
	struct svt_access acc = { 0 };
	uint64_t v;
	int c;

	svt_demo_regs(&r);      /* the defaults: 4-level, WP, NXE, as documented */
	r.cr3 = 0;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		const char *name = c >= OPT_MEM && c <= OPT_NO_1G ? opts[c - OPT_MEM].name : NULL;

		switch (c) {
		case OPT_MEM: mem = optarg; continue;
		case OPT_ACCESS: access = optarg; continue;
		case OPT_IMPLICIT: acc.implicit = true; continue;
		case OPT_JSON: json = true; continue;
		case OPT_WRITE_BACK: write_back = true; continue;
		case OPT_NO_1G: r.features &= ~SVT_FEAT_1GPAGE; continue;
		case '?':
			if (optopt != 0 && optopt >= OPT_MEM && optopt <= OPT_NO_1G)
				return svt_usage(cmd, "option --%s needs a value",
						 opts[optopt - OPT_MEM].name);
			return svt_usage(cmd, "unknown option '%s'", argv[optind - 1]);
		default:
			break;
		}
		if (name == NULL || !svt_parse_u64(optarg, &v))
			return svt_usage(cmd, "--%s: '%s' is not a number", name ? name : "?", optarg);
		switch (c) {
		case OPT_VA: acc.va = v; have_va = true; break;
		case OPT_CR0: r.cr0 = v; break;
		case OPT_CR3: r.cr3 = v; break;
		case OPT_CR4: r.cr4 = v; break;
		case OPT_EFER: r.efer = v; break;
		case OPT_RFLAGS: r.rflags = v; break;
		case OPT_PKRU:
			if (v > UINT32_MAX)
				return svt_usage(cmd, "--pkru: %s does not fit in 32 bits", optarg);
			r.pkru = (uint32_t)v;
			break;
		case OPT_CPL:
			if (v > 3)
				return svt_usage(cmd, "--cpl: %s is not 0-3", optarg);
			acc.cpl = (uint8_t)v;
			break;
		case OPT_MAXPHYADDR:
			if (v < 32 || v > 52)
				return svt_usage(cmd, "--maxphyaddr: %s is not 32-52", optarg);
			r.maxphyaddr = (uint8_t)v;
			break;
		}
	}
	if (optind != argc)
		return svt_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (mem == NULL)
		return svt_usage(cmd, "--mem IMAGE is required");
	if (!have_va)
		return svt_usage(cmd, "--va ADDR is required");
	if (access == NULL)
		return svt_usage(cmd, "--access read|write|fetch is required");
	if (strcmp(access, "read") == 0)
		acc.kind = SVT_ACC_READ;
	else if (strcmp(access, "write") == 0)
		acc.kind = SVT_ACC_WRITE;
	else if (strcmp(access, "fetch") == 0)
		acc.kind = SVT_ACC_FETCH;
	else
		return svt_usage(cmd, "--access: '%s' is not read, write or fetch", access);
	if (acc.implicit && acc.kind == SVT_ACC_FETCH)
		return svt_usage(cmd, "--implicit applies to data accesses only");

	enum svt_mode mode = svt_paging_mode(&r);
	if (mode == SVT_MODE_INVALID)
		return svt_usage(cmd, "CR0=0x%" PRIx64 " CR4=0x%" PRIx64 " EFER=0x%" PRIx64
				 " is not a state a CPU can be in (CR0.PG without CR0.PE, "
				 "or long mode without CR4.PAE)", r.cr0, r.cr4, r.efer);
	if ((mode == SVT_MODE_2LEVEL || mode == SVT_MODE_PAE || mode == SVT_MODE_NONE) &&
	    acc.va > UINT32_MAX)
		return svt_usage(cmd, "--va 0x%" PRIx64 ": linear addresses are 32 bits in %s mode",
				 acc.va, svt_mode_name(mode));

	struct svt_image img;
	struct svt_env env;
	if (svt_image_open(&img, mem, write_back) != 0) {
		svt_err("%s: cannot open: %s", mem, strerror(errno));
		return SVT_EXIT_INPUT;
	}
	svt_image_env(&img, &env);

	int rc = SVT_EXIT_OK;
	if (mode == SVT_MODE_PAE) {
		int lr = svt_pae_load_pdptes(&env, &r);
		if (lr == -1) {
			if (json)
				printf("{\"fault\": true, \"vector\": \"#GP\", \"error_code\": \"0x0\", "
				       "\"reason\": \"a PDPTE has reserved bits set\"}\n");
			else
				printf("PAE paging: a present PDPTE at 0x%" PRIx64 " has reserved bits set;"
				       " loading CR3 would raise #GP\n", r.cr3 & 0xffffffe0u);
			rc = SVT_EXIT_NEGATIVE;
			goto out;
		}
		if (lr != 0)
			goto env_fail;
	}

	struct svt_walk w;
	switch (svt_walk(&env, &r, &acc, write_back ? SVT_WALK_SET_AD : 0, &w)) {
	case SVT_WALK_OK:
		break;
	case SVT_WALK_PF:
	case SVT_WALK_GP:
		rc = SVT_EXIT_NEGATIVE;
		break;
	case SVT_WALK_ENV:
		goto env_fail;
	}
	if (json)
		svt_walk_print_json(stdout, &w);
	else
		svt_walk_print_text(stdout, &r, &acc, &w);
	goto out;

env_fail:
	svt_err("%s: %s guest-physical 0x%" PRIx64 " (file offset %" PRIu64 "): %s", mem,
		write_back ? "cannot access" : "cannot read", img.err_gpa, img.err_gpa,
		strerror(img.err));
	rc = SVT_EXIT_INPUT;
out:
	svt_image_close(&img);
	if (fflush(stdout) != 0)
		rc = SVT_EXIT_INPUT;
	return rc;
}

const struct svt_cmd svt_cmd_walk = {
	.name = "walk",
	.usage = "--mem IMAGE --va ADDR --access read|write|fetch\n"
		 "       [--cr0 X] [--cr3 X] [--cr4 X] [--efer X] [--pkru X] [--cpl 0-3]\n"
		 "       [--rflags X] [--implicit] [--maxphyaddr N] [--no-1g] [--json] [--write-back]",
	.summary = "translate one linear address through a guest memory image",
	.exec = cmd_walk_exec,
};
