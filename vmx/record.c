/*
 * record.c — the hypervisor's recording (hvrec.h): the one recorder
 * (common/recorder.c) over the hypervisor's environment, with the mirror
 * in static storage, and its events encoded (common/rec_codec.h) into
 * live-stream packets (common/stream_fmt.h) sent on LPT1 or COM2:
 * numbered, checksummed, the record state reset in each, so `shadowvt
 * record` can check them and rebuild the trace file.
 */
#include "hv.h"
#include "hvrec.h"
#include "rec_codec.h"
#include "stream_fmt.h"

#define COM_STREAM      0x2f8
#define LPT_STREAM      0x378
#define MIRROR_HASH     2048
#define PKT_PAYLOAD     (16u << 10)

_Static_assert(PKT_PAYLOAD + TR_MAX_RECORD <= SVT_STREAM_MAX_PAYLOAD,
	       "a packet never outgrows what the reader takes");

struct svt_recorder hv_rec;
static struct svt_rec_slot mirror[SVT_REC_SLOTS_DEFAULT];
static int32_t hash_head[MIRROR_HASH];

static uint8_t pkt[SVT_STREAM_HDR + PKT_PAYLOAD + TR_MAX_RECORD + SVT_STREAM_CRC];
static size_t pkt_len;                  /* payload bytes so far */
static uint32_t pkt_no;
static uint64_t seq, pkt_first_seq;
static struct tr_state st;

bool hv_stream_lpt;              /* the stream goes to LPT1, not COM2 */

/* The parallel port, as a printer port: wait while BUSY (status bit 7
 * reads 0), put the byte on the data lines, pulse STROBE. */
static void lpt_putc(uint8_t c)
{
	/* A port that stays busy (nothing wired, or a guest that took the
	 * port over) sends the rest of the stream to COM2; `shadowvt record`
	 * reads the two in that order. */
	for (unsigned polls = 0; __builtin_expect(!(inb(LPT_STREAM + 1) & 0x80), 0); polls++)
		if (polls == 1000000) {
			hv_printf("hv: LPT1 stays busy (status %#x, control %#x): the stream goes "
				  "on on COM2\n", inb(LPT_STREAM + 1), inb(LPT_STREAM + 2));
			hv_stream_lpt = false;
			serial_putc(COM_STREAM, (char)c);
			return;
		}
	outb(LPT_STREAM, c);
	outb(LPT_STREAM + 2, 0x0d);             /* STROBE, SELECT IN, INIT off */
	outb(LPT_STREAM + 2, 0x0c);
}

static void stream_putc(uint8_t c)
{
	if (hv_stream_lpt)
		lpt_putc(c);
	else
		serial_putc(COM_STREAM, (char)c);
}

/*
 * Bytes out: on LPT1 a tight loop while the port is ready (Bochs's is
 * always ready), the careful path for the rest.  The loop is lpt_putc()'s
 * handshake for each byte, in twelve instructions: the status (BUSY,
 * bit 7, is the sign of the byte read), the data byte straight from
 * memory (OUTSB), the STROBE pulse, DX stepped between the three ports.
 */
static void stream_put(const uint8_t *p, size_t n)
{
	size_t left = n;
	if (hv_stream_lpt && n) {
		uint32_t port = LPT_STREAM + 1;        /* EDX: the loop steps it */
		__asm__ volatile("cld\n"
				 "1:\tinb %%dx, %%al\n\t"        /* status */
				 "testb %%al, %%al\n\t"
				 "jns 2f\n\t"                   /* busy: the careful path */
				 "decl %%edx\n\t"
				 "outsb\n\t"                    /* data, from *p++ */
				 "addl $2, %%edx\n\t"
				 "movb $0x0d, %%al\n\t"         /* lpt_putc()'s 0x0d: STROBE on */
				 "outb %%al, %%dx\n\t"
				 "decb %%al\n\t"                /* 0x0c: STROBE off */
				 "outb %%al, %%dx\n\t"
				 "decl %%edx\n\t"
				 "loop 1b\n"
				 "2:"
				 : "+S"(p), "+c"(left), "+d"(port) : : "rax", "memory", "cc");
	}
	for (; left; left--)
		stream_putc(*p++);
}

/* One packet: header, payload, CRC-32C of both. */
static void send_packet(unsigned type, const uint8_t *payload, size_t len, uint64_t first)
{
	uint8_t h[SVT_STREAM_HDR], c[SVT_STREAM_CRC];
	struct svt_stream_packet pk = { .type = type, .no = pkt_no++, .first = first,
					.len = (uint32_t)len };
	svt_stream_header_put(h, &pk);
	uint64_t t = hv_rdtsc();
	svt_put32(c, svt_stream_crc(h, payload, (uint32_t)len));
	stream_put(h, sizeof(h));
	stream_put(payload, len);
	stream_put(c, sizeof(c));
	hv_prof[PROF_STREAM] += hv_rdtsc() - t;
}

static void flush_records(void)
{
	if (pkt_len == 0)
		return;
	send_packet(SVT_STREAM_RECORDS, pkt, pkt_len, pkt_first_seq);
	pkt_len = 0;
	tr_state_reset(&st);
}

/* The recorder's emit: each event encoded into the packet being filled. */
static void emit(void *ctx, const struct svt_trace_event *ev)
{
	(void)ctx;
	/* The recorder's events have their fields bounded where they are
	 * made (a MARK's text, a span within one page): no
	 * tr_check_event() on this path, which every exit takes; `shadowvt
	 * record` checks each record as it rebuilds the trace. */
	uint64_t t = hv_rdtsc();
	if (pkt_len == 0)
		pkt_first_seq = seq;
	pkt_len += tr_encode(&st, ev, pkt + pkt_len);
	seq += svt_trace_event_span(ev);
	hv_prof[PROF_EMIT] += hv_rdtsc() - t;
	if (pkt_len >= PKT_PAYLOAD)
		flush_records();
}

void hvrec_prof(uint64_t *prof)
{
	prof[PROF_CORE] = hv_rec.prof[SVT_REC_PROF_CORE];
	prof[PROF_READ] = hv_rec.prof[SVT_REC_PROF_READ];
}

/* The evidence the hypervisor logs: the walk at faults and flushes of one
 * address, and the tables a flush of the whole address space makes
 * current (it cannot see the guest's stores); the mode of every CR write;
 * every CPUID it answered and exception it injected. */
#define HV_EVIDENCE (SVT_EVIDENCE_WALK | SVT_EVIDENCE_TABLES | SVT_EVIDENCE_MODE | \
		     SVT_EVIDENCE_CPU)

const struct svt_env *hvrec_init(const struct svt_env *raw, const struct svt_mmu_config *cfg,
				 const char *guest, const struct hv_range *dev, unsigned ndev)
{
	tr_state_reset(&st);
	struct svt_recorder_config rc = {
		.raw = raw, .slots = mirror, .nslots = SVT_REC_SLOTS_DEFAULT, .hash = hash_head,
		.nhash = MIRROR_HASH, .note_limit = HV_GUEST_TOP, .direct = hv_gpa(0), .emit = emit,
		.evidence = HV_EVIDENCE,
	};
	/* RAM above 4 GiB: note every read below its top, each through the
	 * hypervisor's environment (all ones where there is no RAM), not the
	 * direct map, which holds the hypervisor and devices in between */
	if (hv_high_hi) {
		rc.note_limit = hv_high_hi;
		rc.direct = NULL;
	}
	if (!svt_recorder_init(&hv_rec, &rc))
		hv_panic("the recorder refused its configuration");
	/* HELLO: what the trace header needs, the CPU's brand string
	 * (CPUID 0x80000002..4) and the device ranges */
	uint32_t brand[12] = { 0 };
	for (uint32_t leaf = 0; leaf < 3; leaf++)
		__asm__ volatile("cpuid" : "=a"(brand[leaf * 4]), "=b"(brand[leaf * 4 + 1]),
				 "=c"(brand[leaf * 4 + 2]), "=d"(brand[leaf * 4 + 3])
				 : "a"(0x80000002u + leaf), "c"(0));
	const char *b = (const char *)brand;
	size_t bl = 0;
	while (bl < 48 && b[bl])
		bl++;
	while (bl > 0 && b[0] == ' ')
		b++, bl--;
	static struct svt_trace_range devr[SVT_STREAM_MAX_DEVICES];
	size_t nd = ndev < SVT_STREAM_MAX_DEVICES ? ndev : SVT_STREAM_MAX_DEVICES;
	for (size_t i = 0; i < nd; i++)
		devr[i] = (struct svt_trace_range){ .gfn = dev[i].gfn, .count = dev[i].count };
	struct svt_stream_hello hl = {
		.maxphyaddr = cfg->maxphyaddr, .features = cfg->features,
		.guest_frames = cfg->guest_frames, .pool_frames = cfg->pool_frames,
		.links = cfg->links, .root_cache = cfg->root_cache, .policy = cfg->policy,
		.guest = guest, .guest_len = strlen(guest), .has_cpu = true, .cpu = b,
		.cpu_len = bl, .devices = devr, .ndevices = nd, .evidence = HV_EVIDENCE,
	};
	if (hv_high_hi) {       /* RAM below the hypervisor, and above 4 GiB */
		hl.ram[0] = (struct svt_trace_range){ .gfn = 0, .count = HV_GUEST_TOP >> 12 };
		hl.ram[1] = (struct svt_trace_range){ .gfn = hv_high_lo >> 12,
						      .count = (hv_high_hi - hv_high_lo) >> 12 };
		hl.nram = 2;
	}
	static uint8_t p[SVT_STREAM_HELLO_MAX];
	send_packet(SVT_STREAM_HELLO, p, svt_stream_hello_put(&hl, p), 0);
	return svt_recorder_env(&hv_rec);
}

void hvrec_end(const char *verdict)
{
	flush_records();
	uint8_t p[SVT_STREAM_END_MAX];
	send_packet(SVT_STREAM_END, p, svt_stream_end_put(seq, verdict, p), seq);
	if (hv_stream_lpt)
		while (!(inb(LPT_STREAM + 1) & 0x80))
			;
	else
		serial_drain(COM_STREAM);
}
