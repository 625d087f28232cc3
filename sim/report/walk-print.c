/*
 * walk-print.c — a guest page-table walk (svt_walk) printed as
 * `shadowvt walk` and `shadowvt demo` show it: as text, every level with
 * its entry, flags and rights and then the result, or as the JSON object
 * of shadowvt(1), "JSON output of walk" (a stable interface).  Modes are
 * spelled as everywhere else (common/names.h: "4level", "pae", ...).
 */
#include <inttypes.h>
#include <stdio.h>

#include "names.h"
#include "walk-print.h"

static const char *access_name(enum svt_access_kind k)
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
		access_name(acc->kind), acc->va, acc->cpl,
		acc->implicit ? " (implicit supervisor access)" : "");
	for (unsigned i = 0; i < w->nlevels; i++) {
		const struct svt_walk_level *l = &w->lv[i];
		const char *fl[16];
		unsigned n;

		entry_flags(l, fl, &n);
		fprintf(f, "  %-5s @0x%08" PRIx64 " = 0x%0*" PRIx64 " ",
			level_name(w->mode, l->level), l->entry_gpa,
			l->size == 4 ? 8 : 16, l->entry);
		for (unsigned j = 0; j < n; j++)
			fprintf(f, " %s", fl[j]);
		if (l->leaf && w->mode >= SVT_MODE_4LEVEL)
			fprintf(f, " key=%u", (unsigned)((l->entry >> 59) & 0xf));
		if (w->status == SVT_WALK_PF && (w->error_code & SVT_PFEC_RSVD) &&
		    i + 1 == w->nlevels) {
			bool ps = (l->entry & SVT_PTE_PS) &&
				((l->level == 2 &&
				  (w->mode != SVT_MODE_2LEVEL || (r->cr4 & SVT_CR4_PSE))) ||
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
			fprintf(f,
				"   sets %s%s at 0x%" PRIx64 ": 0x%" PRIx64 " -> 0x%" PRIx64 "\n",
				(w->ad[i].new & ~w->ad[i].old) & SVT_PTE_A ? "A" : "",
				(w->ad[i].new & ~w->ad[i].old) & SVT_PTE_D ? "D" : "", w->ad[i].gpa,
				w->ad[i].old, w->ad[i].new);
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
			fprintf(f,
				"%s{\"gpa\": \"0x%" PRIx64 "\", \"old\": \"0x%" PRIx64 "\", "
				"\"new\": \"0x%" PRIx64 "\"}", i ? ", " : "", w->ad[i].gpa,
				w->ad[i].old, w->ad[i].new);
		fputs("]", f);
	} else {
		fprintf(f,
			"{\"fault\": true, \"error_code\": \"0x%" PRIx32 "\", \"cr2\": "
			"\"0x%" PRIx64 "\"", w->error_code, w->cr2);
	}
	fprintf(f, ", \"mode\": \"%s\", \"levels\": [", svt_mode_name(w->mode));
	for (unsigned i = 0; i < w->nlevels; i++) {
		const struct svt_walk_level *l = &w->lv[i];
		const char *fl[16];
		unsigned n;

		entry_flags(l, fl, &n);
		fprintf(f, "%s{\"level\": %u, \"name\": \"%s\", \"table\": \"0x%" PRIx64 "\", "
			"\"gpa\": \"0x%" PRIx64 "\", \"entry\": \"0x%" PRIx64 "\", \"leaf\": %s, "
			"\"flags\": [", i ? ", " : "", l->level,
			level_name(w->mode, l->level), l->table, l->entry_gpa, l->entry,
			l->leaf ? "true" : "false");
		for (unsigned j = 0; j < n; j++)
			fprintf(f, "%s\"%s\"", j ? ", " : "", fl[j]);
		fprintf(f, "], \"rights\": {\"write\": %s, \"user\": %s, \"execute\": %s}}",
			l->rights & SVT_RIGHT_W ? "true" : "false",
			l->rights & SVT_RIGHT_U ? "true" : "false",
			l->rights & SVT_RIGHT_X ? "true" : "false");
	}
	fputs("]}\n", f);
}
