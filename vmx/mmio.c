/*
 * mmio.c — guest accesses to guest-physical memory with nothing behind it
 * (neither guest RAM nor a device passed through: the hypervisor's own
 * memory, RAM that is not the guest's, addresses above the machine's
 * memory), performed as bare metal performs them: a read gives all ones, a
 * write is dropped.
 *
 * The core decides such an access (SVT_PF_MMIO, with the guest-physical
 * address), and its decision is recorded and replayed like any other; the
 * instruction is then completed here.  A write goes to the core's own write
 * emulator (svt_emulate(): MOV, the ALU and bit-test forms, XCHG, CMPXCHG,
 * STOS, MOVS, ...), whose memory callbacks read all ones from and drop
 * writes to such memory.  A read is decoded here: MOV r, m (1, 2, 4 and 8
 * bytes, and the moffs forms A0/A1), MOVZX, MOVSX, MOVSXD and LODS without
 * REP, with 32- and 64-bit addressing.  Anything else, and any operand in
 * guest RAM that the instruction would write (a MOVS into RAM), is left
 * undone: the caller stops the guest and names the instruction's bytes.
 * The hypervisor never writes guest RAM here, so the core's view of the
 * guest's page tables cannot go stale behind its back.
 */
#include "hv.h"

struct ctx {
	const struct svt_env *env;
	struct svt_regs r;      /* the guest's paging registers, for its walks */
	uint8_t cpl;
	struct hv_mmio_result *out;
};

enum { CB_RAM_WRITE = 100, CB_DEVICE };    /* callback codes of our own (emul.h allows them) */

/* Where the guest's access to la goes: 0 with *gpa, or SVT_EMU_FAULT with
 * the #PF the guest gets recorded in c->out. */
static int translate(struct ctx *c, uint64_t la, enum svt_access_kind kind, uint64_t *gpa)
{
	if (!(c->r.cr0 & SVT_CR0_PG)) {
		*gpa = la & 0xffffffffu;
		return 0;
	}
	struct svt_access acc = { .va = la, .kind = kind, .cpl = c->cpl };
	struct svt_walk w;
	int rc = svt_walk(c->env, &c->r, &acc, 0, &w);
	if (rc == SVT_WALK_OK) {
		*gpa = w.gpa;
		return 0;
	}
	if (rc == SVT_WALK_PF) {
		c->out->fault = true;
		c->out->error_code = w.error_code;
		c->out->cr2 = w.cr2;
		return SVT_EMU_FAULT;
	}
	return CB_DEVICE;               /* #GP or an environment failure: not emulated */
}

static bool nothing_there(const struct ctx *c, uint64_t gpa)
{
	return !svt_mfn_valid(c->env->gfn_to_mfn(c->env->ctx, svt_gfn(gpa >> 12)));
}

/* Read len bytes at la, page by page: all ones where there is nothing,
 * the guest's RAM where it is RAM; a device operand is not emulated (the
 * hypervisor does not read device registers on the guest's behalf). */
static int read_la(struct ctx *c, uint64_t la, uint8_t *buf, unsigned len,
		   enum svt_access_kind kind)
{
	while (len) {
		unsigned chunk = 4096 - (unsigned)(la & 0xfff);
		if (chunk > len)
			chunk = len;
		uint64_t gpa;
		int rc = translate(c, la, kind, &gpa);
		if (rc)
			return rc;
		if (nothing_there(c, gpa)) {
			memset(buf, 0xff, chunk);
			c->out->reads++;
		} else if (hv_is_ram(gpa, chunk)) {     /* either range: below 4 GiB or above */
			c->env->read_gpa(c->env->ctx, gpa, buf, chunk);
		} else {
			return CB_DEVICE;
		}
		la += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

static int emu_read(void *ctx, uint64_t la, void *buf, unsigned len, unsigned flags)
{
	struct ctx *c = ctx;
	return read_la(c, la, buf, len, (flags & SVT_EMU_RD_DEST) ? SVT_ACC_WRITE : SVT_ACC_READ);
}

/* The write half: dropped where there is nothing; never done to RAM. */
static int emu_cmpxchg(void *ctx, uint64_t la, const void *expect, const void *val, unsigned len)
{
	struct ctx *c = ctx;
	(void)expect;
	(void)val;
	while (len) {
		unsigned chunk = 4096 - (unsigned)(la & 0xfff);
		if (chunk > len)
			chunk = len;
		uint64_t gpa;
		int rc = translate(c, la, SVT_ACC_WRITE, &gpa);
		if (rc)
			return rc;
		if (!nothing_there(c, gpa))
			return hv_is_ram(gpa, chunk) ? CB_RAM_WRITE : CB_DEVICE;
		c->out->writes++;
		la += chunk;
		len -= chunk;
	}
	return 0;
}

/* ---- loads ---------------------------------------------------------- */

struct insn {
	unsigned osize, asize, len;
	int seg;                /* enum svt_emu_seg */
	uint8_t rex;
	bool rep;
};

static uint64_t gpr_val(const struct svt_emu_regs *regs, unsigned n, unsigned size)
{
	uint64_t v = regs->gpr[n];
	return size == 8 ? v : size == 4 ? (uint32_t)v : (uint16_t)v;
}

/* The linear address of the ModRM memory operand at insn[at]; false for a
 * register operand or 16-bit addressing. */
static bool modrm_la(const struct svt_emu_regs *regs, int bits, const uint8_t *b, unsigned n,
		     struct insn *d, unsigned *reg, uint64_t *la)
{
	unsigned at = d->len;
	if (at >= n)
		return false;
	uint8_t modrm = b[at++];
	unsigned mod = modrm >> 6, rm = modrm & 7;
	*reg = ((modrm >> 3) & 7) | ((d->rex & 4) ? 8 : 0);
	if (mod == 3 || d->asize == 2)
		return false;
	uint64_t ea = 0;
	bool riprel = false, ss = false;
	if (rm == 4) {
		if (at >= n)
			return false;
		uint8_t sib = b[at++];
		unsigned idx = ((sib >> 3) & 7) | ((d->rex & 2) ? 8 : 0);
		unsigned base = (sib & 7) | ((d->rex & 1) ? 8 : 0);
		if (idx != 4)
			ea += gpr_val(regs, idx, d->asize) << (sib >> 6);
		if ((sib & 7) == 5 && mod == 0) {
			mod = 4;        /* disp32, no base */
		} else {
			ea += gpr_val(regs, base, d->asize);
			ss = (base & 7) == 4 || (base & 7) == 5;
		}
	} else if (rm == 5 && mod == 0) {
		riprel = bits == 64;
		mod = 4;
	} else {
		unsigned base = rm | ((d->rex & 1) ? 8 : 0);
		ea += gpr_val(regs, base, d->asize);
		ss = rm == 5;
	}
	unsigned dlen = mod == 1 ? 1 : (mod == 2 || mod == 4) ? 4 : 0;
	if (at + dlen > n)
		return false;
	int64_t disp = dlen == 1 ? (int8_t)b[at] : dlen == 4 ? (int32_t)svt_get32(b + at) : 0;
	at += dlen;
	d->len = at;
	ea += (uint64_t)disp;
	if (riprel)
		ea += regs->rip + at;   /* loads carry no immediate: at is the length */
	if (d->asize == 4)
		ea &= 0xffffffffu;
	if (d->seg < 0)
		d->seg = ss ? SVT_EMU_SS : SVT_EMU_DS;
	*la = ea;
	return true;
}

static uint64_t seg_base(const struct svt_emu_regs *regs, int bits, int seg)
{
	if (bits == 64 && seg != SVT_EMU_FS && seg != SVT_EMU_GS)
		return 0;
	return regs->seg_base[seg];
}

/* Write a loaded value to a register: 8-bit registers 4-7 without REX are
 * AH..BH, 16-bit writes keep the rest, 32-bit ones zero-extend (emul.h's
 * convention). */
static void set_gpr(struct svt_emu_regs *regs, unsigned n, unsigned size, bool rex, uint64_t v)
{
	uint64_t *g = &regs->gpr[n];
	if (size == 1 && !rex && n >= 4 && n < 8)
		regs->gpr[n - 4] = (regs->gpr[n - 4] & ~0xff00ull) | (v & 0xff) << 8;
	else if (size == 1)
		*g = (*g & ~0xffull) | (v & 0xff);
	else if (size == 2)
		*g = (*g & ~0xffffull) | (v & 0xffff);
	else if (size == 4)
		*g = (uint32_t)v;
	else
		*g = v;
}

static uint64_t extend(uint64_t v, unsigned size, bool sign)
{
	unsigned sh = 64 - 8 * size;
	return sign ? (uint64_t)((int64_t)(v << sh) >> sh) : (v << sh) >> sh;
}

static enum hv_mmio_rc load(struct ctx *c, struct svt_emu_regs *regs, int bits, const uint8_t *b,
			    unsigned n)
{
	struct insn d = { .osize = bits == 16 ? 2 : 4, .asize = bits / 8, .seg = -1 };
	for (; d.len < n && d.len < 15; d.len++) {
		uint8_t p = b[d.len];
		if (p == 0x66)
			d.osize = bits == 16 ? 4 : 2;
		else if (p == 0x67)
			d.asize = bits == 64 ? 4 : bits == 32 ? 2 : 4;
		else if (p == 0xf2 || p == 0xf3)
			d.rep = true;
		else if (p == 0x26 || p == 0x2e || p == 0x36 || p == 0x3e)
			d.seg = (p >> 3) & 3;   /* ES CS SS DS */
		else if (p == 0x64 || p == 0x65)
			d.seg = p == 0x64 ? SVT_EMU_FS : SVT_EMU_GS;
		else
			break;
	}
	if (bits == 64 && d.len < n && (b[d.len] & 0xf0) == 0x40)
		d.rex = b[d.len++];
	if (d.rex & 8)
		d.osize = 8;
	if (d.len >= n)
		return HV_MMIO_UNHANDLED;
	uint8_t op = b[d.len++];
	unsigned size, reg = 0, dsize;  /* bytes read; destination register size */
	bool sign = false, lods = false;
	uint64_t la;
	if (op == 0x0f && d.len < n) {
		uint8_t op2 = b[d.len++];
		if (op2 != 0xb6 && op2 != 0xb7 && op2 != 0xbe && op2 != 0xbf)
			return HV_MMIO_UNHANDLED;
		size = (op2 & 1) ? 2 : 1;
		sign = op2 >= 0xbe;
		dsize = d.osize;
		if (!modrm_la(regs, bits, b, n, &d, &reg, &la))
			return HV_MMIO_UNHANDLED;
	} else if (op == 0x8a || op == 0x8b || (op == 0x63 && bits == 64)) {
		size = op == 0x8a ? 1 : op == 0x63 ? 4 : d.osize;
		dsize = op == 0x8a ? 1 : d.osize;
		sign = op == 0x63;
		if (!modrm_la(regs, bits, b, n, &d, &reg, &la))
			return HV_MMIO_UNHANDLED;
	} else if (op == 0xa0 || op == 0xa1) {
		size = dsize = op == 0xa0 ? 1 : d.osize;
		if (d.len + d.asize > n)
			return HV_MMIO_UNHANDLED;
		la = d.asize == 8 ? svt_get64(b + d.len) : d.asize == 4 ? svt_get32(b + d.len) :
			svt_get16(b + d.len);
		d.len += d.asize;
		if (d.seg < 0)
			d.seg = SVT_EMU_DS;
	} else if ((op == 0xac || op == 0xad) && !d.rep && d.asize != 2) {
		size = dsize = op == 0xac ? 1 : d.osize;
		lods = true;
		la = gpr_val(regs, SVT_EMU_RSI, d.asize);
		if (d.seg < 0)
			d.seg = SVT_EMU_DS;
	} else {
		return HV_MMIO_UNHANDLED;
	}
	if (d.seg == SVT_EMU_CS && bits != 64)
		return HV_MMIO_UNHANDLED;       /* a read through CS: not worth the checks */
	la += seg_base(regs, bits, d.seg);
	if (bits != 64)
		la &= 0xffffffffu;
	uint8_t buf[8];
	int rc = read_la(c, la, buf, size, SVT_ACC_READ);
	if (rc == SVT_EMU_FAULT)
		return HV_MMIO_FAULT;
	if (rc)
		return HV_MMIO_UNHANDLED;
	uint64_t v = 0;
	for (unsigned i = size; i-- > 0;)
		v = v << 8 | buf[i];
	v = extend(v, size, sign);
	set_gpr(regs, lods ? SVT_EMU_RAX : reg, dsize, d.rex != 0, v);
	if (lods) {
		uint64_t step = (regs->rflags & SVT_EMU_DF) ? -(uint64_t)size : size;
		set_gpr(regs, SVT_EMU_RSI, d.asize, true, regs->gpr[SVT_EMU_RSI] + step);
	}
	regs->rip += d.len;
	if (bits != 64)
		regs->rip &= 0xffffffffu;
	c->out->len = d.len;
	return HV_MMIO_DONE;
}

enum hv_mmio_rc hv_mmio(const struct svt_env *env, const struct svt_regs *paging, uint8_t cpl,
			bool write, struct svt_emu_regs *regs, int bits, const uint8_t *insn,
			unsigned insn_len, struct hv_mmio_result *out)
{
	struct ctx c = { .env = env, .r = *paging, .cpl = cpl, .out = out };
	c.r.rflags = regs->rflags;
	*out = (struct hv_mmio_result){ 0 };
	if (!write)
		return load(&c, regs, bits, insn, insn_len);
	const struct svt_emu_mem mem = {
		.ctx = &c, .read = emu_read, .cmpxchg = emu_cmpxchg, .misaligned_ok = true,
	};
	struct svt_emu_result er;
	struct svt_emu_regs r = *regs;
	int rc = svt_emulate(&r, bits, insn, insn_len, &mem, &er);
	out->len = er.len;
	if (rc == SVT_EMU_FAULT && out->fault) {
		*regs = r;      /* REP: the iterations before the fault stay done, as on the CPU */
		return HV_MMIO_FAULT;
	}
	if (rc != SVT_EMU_OK)
		return HV_MMIO_UNHANDLED;
	*regs = r;
	return HV_MMIO_DONE;
}
