/*
 * cmd-walk.c — `shadowvt walk`: translate one linear address through a
 * guest-physical memory image, as the CPU would, and show every level.
 * Its --json output is a stable interface (shadowvt(1)).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"
#include "image.h"
#include "names.h"
#include "sim.h"
#include "walk-print.h"

static const char *const access_words[] = { "read", "write", "fetch", NULL };
static const enum svt_access_kind access_kinds[] = { SVT_ACC_READ, SVT_ACC_WRITE, SVT_ACC_FETCH };

static const struct svt_opt walk_opts[] = {
	{ SVT_OPT_PATH("mem", 0, "IMAGE"), .flags = SVT_OPT_REQUIRED,
	  .help = "the raw guest-physical memory image" },
	{ SVT_OPT_HEX("va", 0, "ADDR", 0, UINT64_MAX), .flags = SVT_OPT_REQUIRED,
	  .help = "the linear address" },
	{ SVT_OPT_WORD("access", 0, access_words), .flags = SVT_OPT_REQUIRED,
	  .help = "the kind of access" },
	{ SVT_OPT_HEX("cr0", 0, "X", 0, UINT64_MAX), .help = "CR0 (default 0x80010001)" },
	{ SVT_OPT_HEX("cr3", 0, "X", 0, UINT64_MAX), .help = "CR3 (default 0)" },
	{ SVT_OPT_HEX("cr4", 0, "X", 0, UINT64_MAX), .help = "CR4 (default 0x20)" },
	{ SVT_OPT_HEX("efer", 0, "X", 0, UINT64_MAX), .help = "EFER (default 0xd00)" },
	{ SVT_OPT_HEX("pkru", 0, "X", 0, UINT32_MAX), .help = "PKRU (default 0)" },
	{ SVT_OPT_NUM("cpl", 0, "0-3", 0, 3), .help = "the current privilege level (default 0)" },
	{ SVT_OPT_HEX("rflags", 0, "X", 0, UINT64_MAX),
	  .help = "RFLAGS (default 0x2; AC matters)" },
	{ SVT_OPT_FLAG("implicit", 0), .help = "an implicit supervisor-mode data access" },
	{ SVT_OPT_NUM("maxphyaddr", 0, "N", 32, 52),
	  .help = "the physical-address width (default 46)" },
	{ SVT_OPT_FLAG("no-1g", 0), .help = "the CPU has no 1 GiB pages" },
	{ SVT_OPT_FLAG("json", 0), .help = "print one JSON object" },
	{ SVT_OPT_FLAG("write-back", 0),
	  .help = "apply the accessed and dirty updates to the image" },
	{ .name = NULL },
};

static int cmd_walk_exec(const struct svt_args *a)
{
	const struct svt_cmd *cmd = &svt_cmd_walk;
	const char *mem = svt_args_str(a, "mem", NULL);
	bool json = svt_args_has(a, "json"), write_back = svt_args_has(a, "write-back");
	struct svt_access acc = {
		.va = svt_args_num(a, "va", 0),
		.kind = access_kinds[svt_args_word(a, "access", 0)],
		.cpl = (uint8_t)svt_args_num(a, "cpl", 0),
		.implicit = svt_args_has(a, "implicit"),
	};
	struct svt_regs r;

	svt_demo_regs(&r);      /* the defaults: 4-level, WP, NXE, as documented */
	r.cr0 = svt_args_num(a, "cr0", r.cr0);
	r.cr3 = svt_args_num(a, "cr3", 0);
	r.cr4 = svt_args_num(a, "cr4", r.cr4);
	r.efer = svt_args_num(a, "efer", r.efer);
	r.pkru = (uint32_t)svt_args_num(a, "pkru", r.pkru);
	r.rflags = svt_args_num(a, "rflags", r.rflags);
	r.maxphyaddr = (uint8_t)svt_args_num(a, "maxphyaddr", r.maxphyaddr);
	if (svt_args_has(a, "no-1g"))
		r.features &= ~SVT_FEAT_1GPAGE;
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
				printf("{\"fault\": true, \"vector\": \"#GP\", "
				       "\"error_code\": \"0x0\", \"reason\": \"a PDPTE has "
				       "reserved bits set\"}\n");
			else
				printf("%s paging: a present PDPTE at 0x%" PRIx64 " has reserved"
				       " bits set; loading CR3 would raise #GP\n",
				       svt_mode_name(mode), r.cr3 & 0xffffffe0u);
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
	.summary = "translate one linear address through a guest memory image",
	.opts = walk_opts,
	.exec = cmd_walk_exec,
};
