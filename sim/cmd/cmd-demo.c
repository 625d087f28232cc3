/*
 * cmd-demo.c — `shadowvt demo`: walk the built-in demo guest's tour, or
 * write its memory image for use with `shadowvt walk --mem`.
 */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"
#include "outfile.h"
#include "sim.h"
#include "walk-print.h"

struct mem_ctx {
	uint8_t *mem;
};

static int mem_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct mem_ctx *m = ctx;

	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = gpa + i < SVT_DEMO_SIZE ? m->mem[gpa + i] : 0;
	return 0;
}

static int mem_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct mem_ctx *m = ctx;

	if (gpa >= SVT_DEMO_SIZE || len > SVT_DEMO_SIZE - gpa)
		return -1;
	memcpy(m->mem + gpa, buf, len);
	return 0;
}

static int write_image(const char *path, const uint8_t *mem)
{
	struct svt_outfile o;
	char why[PATH_MAX + 200];

	if (svt_outfile_open(&o, path, SVT_OUTFILE_SIGNALS, why, sizeof(why)) != 0) {
		svt_err("%s", why);
		return SVT_EXIT_INPUT;
	}
	fwrite(mem, 1, SVT_DEMO_SIZE, o.f);     /* a failure is the stream's error */
	if (svt_outfile_commit(&o, why, sizeof(why)) != 0) {
		svt_err("%s", why);
		return SVT_EXIT_INPUT;
	}
	/* the image went to standard output: nothing else may */
	if (strcmp(path, "-") == 0)
		return SVT_EXIT_OK;
	printf("wrote %s (%u bytes); walk it with:\n"
	       "  shadowvt walk --mem %s --cr3 0x1000 --va 0x400123 --access read --cpl 3\n"
	       "(the defaults select 4-level paging with MAXPHYADDR 46, as the demo uses)\n",
	       path, SVT_DEMO_SIZE, path);
	return SVT_EXIT_OK;
}

static const struct svt_opt demo_opts[] = {
	{ SVT_OPT_PATH("output", 'o', "IMAGE"),
	  .help = "write the demo's memory image instead (-: standard output)" },
	{ SVT_OPT_FLAG("json", 0), .help = "print each step as walk --json does" },
	{ .name = NULL },
};

static int cmd_demo_exec(const struct svt_args *a)
{
	const char *out = svt_args_str(a, "output", NULL);
	bool json = svt_args_has(a, "json");

	static uint8_t mem[SVT_DEMO_SIZE];
	svt_demo_build(mem);
	if (out != NULL)
		return write_image(out, mem);

	struct mem_ctx m = { mem };
	struct svt_env env = { .ctx = &m, .read_gpa = mem_read, .write_gpa = mem_write };
	struct svt_regs r;
	svt_demo_regs(&r);
	if (!json)
		printf("shadowvt demo: a 4-level guest page table (CR3=%#llx, MAXPHYADDR %u, "
		       "CR0.WP=1, EFER.NXE=1), walked as the CPU would.\n",
		       (unsigned long long)r.cr3, r.maxphyaddr);
	for (unsigned i = 0; i < svt_demo_tour_len; i++) {
		const struct svt_demo_stop *s = &svt_demo_tour[i];
		struct svt_access acc = { .va = s->va, .kind = s->kind, .cpl = s->cpl };
		struct svt_walk w;

		if (svt_walk(&env, &r, &acc, SVT_WALK_SET_AD, &w) == SVT_WALK_ENV) {
			svt_err("demo: environment failure at step %u", i + 1);
			return SVT_EXIT_INPUT;
		}
		if (json) {
			svt_walk_print_json(stdout, &w);
		} else {
			printf("\n[%u/%u] %s\n", i + 1, svt_demo_tour_len, s->what);
			svt_walk_print_text(stdout, &r, &acc, &w);
		}
	}
	return SVT_EXIT_OK;
}

const struct svt_cmd svt_cmd_demo = {
	.name = "demo",
	.summary = "walk the built-in demo page table, or write its image",
	.opts = demo_opts,
	.exec = cmd_demo_exec,
};
