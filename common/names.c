/*
 * names.c — the name tables of names.h.
 */
#include "common_deps.h"
#include "names.h"

static const char *const type_names[SVT_TRACE_NTYPES] = {
	[SVT_TRACE_UNKNOWN] = "UNKNOWN",     [SVT_TRACE_FAULT] = "FAULT",
	[SVT_TRACE_CR_WRITE] = "CR_WRITE",   [SVT_TRACE_INVLPG] = "INVLPG",
	[SVT_TRACE_INVPCID] = "INVPCID",     [SVT_TRACE_FLUSH_ALL] = "FLUSH_ALL",
	[SVT_TRACE_MEM] = "MEM",             [SVT_TRACE_DECISION] = "DECISION",
	[SVT_TRACE_LOST] = "LOST",           [SVT_TRACE_MARK] = "MARK",
	[SVT_TRACE_GUEST] = "GUEST",         [SVT_TRACE_CPU] = "CPU",
	[SVT_TRACE_STEP_DONE] = "STEP_DONE",
};

static const char *const outcome_names[] = {
	[SVT_PF_FIXED] = "fixed", [SVT_PF_INJECT] = "inject", [SVT_PF_EMULATED] = "emulated",
	[SVT_PF_MMIO] = "mmio", [SVT_PF_RETRY] = "retry",
};

static const char *const cr_names[] = {
	[SVT_TRACE_CR0] = "cr0", [SVT_TRACE_CR3] = "cr3", [SVT_TRACE_CR4] = "cr4",
	[SVT_TRACE_EFER] = "efer",
};

static const char *const lost_names[] = {
	[SVT_TRACE_LOST_UNSPEC] = "unspecified", [SVT_TRACE_LOST_BUFFER] = "buffer",
	[SVT_TRACE_LOST_TRANSPORT] = "transport", [SVT_TRACE_LOST_GAP] = "gap",
};

static const char *const mark_names[] = {
	[SVT_TRACE_MARK_PHASE] = "phase", [SVT_TRACE_MARK_CONSOLE] = "console",
	[SVT_TRACE_MARK_NOTE] = "note",
};

static const char *const guest_kind_names[] = {
	[SVT_GUEST_READ] = "read", [SVT_GUEST_FETCH] = "fetch", [SVT_GUEST_WRITE] = "write",
	[SVT_GUEST_CLEAR] = "clear", [SVT_GUEST_RFLAGS] = "rflags", [SVT_GUEST_PKRU] = "pkru",
};

static const char *const guest_op_names[] = {
	[SVT_GUEST_MOV] = "mov", [SVT_GUEST_XCHG] = "xchg", [SVT_GUEST_CMPXCHG] = "cmpxchg",
	[SVT_GUEST_CMPXCHG8B] = "cmpxchg8b", [SVT_GUEST_CMPXCHG16B] = "cmpxchg16b",
};

/* the order of struct svt_emu_regs (trace_event.h asserts it) */
static const char *const reg_names[] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11",
	"r12", "r13", "r14", "r15", "rip", "rflags", "es_base", "cs_base", "ss_base",
	"ds_base", "fs_base", "gs_base",
};
_Static_assert(sizeof(reg_names) / sizeof(reg_names[0]) ==
	       sizeof(struct svt_emu_regs) / sizeof(uint64_t), "a name for every register slot");

static const char *const mode_names[] = {
	[SVT_MODE_NONE] = "none", [SVT_MODE_2LEVEL] = "2level", [SVT_MODE_PAE] = "pae",
	[SVT_MODE_4LEVEL] = "4level", [SVT_MODE_5LEVEL] = "5level",
};

const char *const svt_mode_words[] = { "2level", "pae", "4level", "5level", NULL };
_Static_assert(SVT_MODE_PAE == SVT_MODE_2LEVEL + 1 && SVT_MODE_4LEVEL == SVT_MODE_2LEVEL + 2 &&
	       SVT_MODE_5LEVEL == SVT_MODE_2LEVEL + 3, "svt_mode_words[i] is mode 2level + i");

#define NAME_OF(tab, v) ((v) < sizeof(tab) / sizeof((tab)[0]) && (tab)[v] ? (tab)[v] : "?")

const char *svt_trace_type_name(unsigned type)
{
	return type < SVT_TRACE_NTYPES ? type_names[type] : "UNKNOWN";
}

const char *svt_trace_outcome_name(unsigned outcome) { return NAME_OF(outcome_names, outcome); }
const char *svt_trace_cr_name(unsigned reg) { return NAME_OF(cr_names, reg); }
const char *svt_trace_lost_name(unsigned reason) { return NAME_OF(lost_names, reason); }
const char *svt_trace_mark_name(unsigned kind) { return NAME_OF(mark_names, kind); }
const char *svt_reg_name(unsigned i) { return NAME_OF(reg_names, i); }
const char *svt_guest_kind_name(unsigned kind) { return NAME_OF(guest_kind_names, kind); }
const char *svt_guest_op_name(unsigned op) { return NAME_OF(guest_op_names, op); }

const char *svt_mode_name(int mode)
{
	return mode < 0 ? "?" : NAME_OF(mode_names, (unsigned)mode);
}

int svt_mode_parse(const char *s)
{
	/* svt_mode_words lists the modes from SVT_MODE_2LEVEL on, in order */
	for (int i = 0; svt_mode_words[i]; i++) {
		const char *a = s, *b = svt_mode_words[i];
		while (*a && *a == *b)
			a++, b++;
		if (*a == '\0' && *b == '\0')
			return SVT_MODE_2LEVEL + i;
	}
	return -1;
}
