/*
 * test-common.c — the shared record/replay layer's small pieces, each
 * against values fixed outside the code: policy strings (the limits of
 * shadowvt(1), POLICIES), the name tables, the live stream's HELLO and
 * END payloads against the byte layout of traces/FORMAT.md, and CRC-32C
 * against the iSCSI test vectors (RFC 3720, B.4).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "bytes.h"
#include "names.h"
#include "policy.h"
#include "stream_fmt.h"

static int parse(const char *s, struct svt_policy *p, unsigned *pool, unsigned *roots, char *why)
{
	return svt_policy_parse_n(s, strlen(s), p, pool, roots, SVT_POLICY_MAX_POOL, why, 160);
}

Test(policy, defaults_are_the_documented_ones)
{
	struct svt_policy p;
	unsigned pool, roots;
	char buf[128];
	svt_default_policy(&p, &pool);
	svt_policy_format(&p, pool, buf, sizeof(buf));
	cr_assert_str_eq(buf, "oos=2,prefetch=8,emulate=1,early=1,pool=512");
	svt_policy_default_hv(&p, &pool, &roots);
	svt_policy_format(&p, pool, buf, sizeof(buf));
	cr_assert_str_eq(buf, "oos=8,prefetch=4,emulate=1,early=1,pool=2048");
	cr_assert_eq(roots, 32);
}

Test(policy, keys_in_any_order_and_subsets)
{
	struct svt_policy p;
	unsigned pool, roots = 7;
	char why[160] = "", buf[128];
	svt_default_policy(&p, &pool);
	cr_assert_eq(parse("pool=64,oos=0", &p, &pool, NULL, why), 0, "%s", why);
	svt_policy_format(&p, pool, buf, sizeof(buf));
	cr_assert_str_eq(buf, "oos=0,prefetch=8,emulate=1,early=1,pool=64");
	cr_assert_eq(parse("early=0,emulate=0,prefetch=511,oos=16,roots=64", &p, &pool,
			   &roots, why),
		     0, "%s", why);
	svt_policy_format(&p, pool, buf, sizeof(buf));
	cr_assert_str_eq(buf, "oos=16,prefetch=511,emulate=0,early=0,pool=64");
	cr_assert_eq(roots, 64);
}

Test(policy, errors_name_the_key_and_range_and_change_nothing)
{
	static const struct { const char *in, *why; } bad[] = {
		{ "oos=17", "oos=17: out of range 0..16" },
		{ "prefetch=512", "prefetch=512: out of range 0..511" },
		{ "pool=15", "pool=15: out of range 16..65536" },
		{ "pool=99999999999", "pool=99999999999: out of range 16..65536" },
		{ "emulate=2", "emulate=2: out of range 0..1" },
		{ "roots=0", "roots=0: out of range 1..64" },
		{ "oos=1,", "a comma ends the policy" },
		{ "oos", "'oos' is not KEY=VALUE" },
		{ "=3", "'=3' is not KEY=VALUE" },
		{ "oos=", "oos=: no value (a number in 0..16)" },
		{ "oos=0x2", "oos=0x2: not a decimal number in 0..16" },
		{ "oos=-1", "oos=-1: not a decimal number in 0..16" },
		{ "pool=1k", "pool=1k: not a decimal number in 16..65536" },
		{ "bogus=1", "unknown key 'bogus' (oos, prefetch, emulate, early, pool, roots)" },
		{ "", "empty policy" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct svt_policy p, q;
		unsigned pool, pool0, roots = 5;
		char why[160] = "";
		svt_default_policy(&p, &pool);
		q = p, pool0 = pool;
		cr_assert_eq(parse(bad[i].in, &p, &pool, &roots, why), -1,
			     "'%s' accepted", bad[i].in);
		cr_assert_str_eq(why, bad[i].why);
		cr_assert(memcmp(&p, &q, sizeof(p)) == 0 && pool == pool0 && roots == 5,
			  "'%s' changed the policy", bad[i].in);
	}
	/* roots only where the caller takes it; the pool's limit is the caller's */
	struct svt_policy p;
	unsigned pool;
	char why[160];
	svt_default_policy(&p, &pool);
	cr_assert_eq(parse("roots=4", &p, &pool, NULL, why), -1);
	cr_assert_str_eq(why, "unknown key 'roots' (oos, prefetch, emulate, early, pool)");
	cr_assert_eq(svt_policy_parse_n("pool=4096", 9, &p, &pool, NULL, SVT_POLICY_HV_POOL,
					why, 160), -1);
	cr_assert_str_eq(why, "pool=4096: out of range 16..2048");
	cr_assert_eq(svt_policy_parse_n("pool=", 5, &p, &pool, NULL, SVT_POLICY_HV_POOL, why, 160),
		     -1);
	cr_assert_str_eq(why, "pool=: no value (a number in 16..2048)");
	/* only the first n bytes: the hypervisor's command line goes on */
	cr_assert_eq(svt_policy_parse_n("oos=3 verbose", 5, &p, &pool, NULL, 2048, why, 160), 0);
	cr_assert_eq(p.oos, 3);
	/* a message cut to the buffer, terminated */
	cr_assert_eq(svt_policy_parse_n("oos=17", 6, &p, &pool, NULL, 2048, why, 5), -1);
	cr_assert_str_eq(why, "oos=");
}

Test(policy, format_truncates_and_reports_the_length)
{
	struct svt_policy p;
	unsigned pool;
	char buf[8];
	svt_default_policy(&p, &pool);
	size_t n = svt_policy_format(&p, pool, buf, sizeof(buf));
	cr_assert_eq(n, strlen("oos=2,prefetch=8,emulate=1,early=1,pool=512"));
	cr_assert_str_eq(buf, "oos=2,p");
}

Test(names, tables)
{
	cr_assert_str_eq(svt_trace_type_name(SVT_TRACE_DECISION), "DECISION");
	cr_assert_str_eq(svt_trace_type_name(99), "UNKNOWN");
	cr_assert_str_eq(svt_trace_outcome_name(SVT_PF_INJECT), "inject");
	cr_assert_str_eq(svt_trace_outcome_name(SVT_PF_RETRY + 1), "?");
	cr_assert_str_eq(svt_trace_cr_name(SVT_TRACE_EFER), "efer");
	cr_assert_str_eq(svt_trace_lost_name(SVT_TRACE_LOST_GAP), "gap");
	cr_assert_str_eq(svt_trace_mark_name(SVT_TRACE_MARK_NOTE), "note");
	cr_assert_str_eq(svt_reg_name(17), "rflags");
	cr_assert_str_eq(svt_reg_name(24), "?");
	cr_assert_str_eq(svt_mode_name(SVT_MODE_4LEVEL), "4level");
	cr_assert_str_eq(svt_mode_name(1), "?");
	cr_assert_str_eq(svt_mode_name(-1), "?");
	static const char *const modes[] = { "2level", "pae", "4level", "5level" };
	for (int i = 0; i < 4; i++)
		cr_assert_eq(svt_mode_parse(modes[i]), SVT_MODE_2LEVEL + i);
	cr_assert_eq(svt_mode_parse("4-level"), -1);
	cr_assert_eq(svt_mode_parse("4leve"), -1);
	cr_assert_eq(svt_mode_parse("4levels"), -1);
	cr_assert_eq(svt_mode_parse("none"), -1);
	cr_assert_eq(svt_mode_parse(""), -1);
}

/* HELLO as traces/FORMAT.md lays it out, byte by byte. */
Test(stream, hello_layout_and_round_trip)
{
	static const struct svt_trace_range dev[2] = { { 0xfee00, 1 }, { 0xfec00, 2 } };
	struct svt_stream_hello h = {
		.maxphyaddr = 39, .features = 1, .guest_frames = 0x12345, .pool_frames = 2048,
		.links = 131072, .root_cache = 32,
		.policy = { .oos = 8, .prefetch = 4, .emulate = true, .early_unshadow = false },
		.guest = "linux", .guest_len = 5, .has_cpu = true, .cpu = "Intel", .cpu_len = 5,
		.devices = dev, .ndevices = 2, .evidence = SVT_EVIDENCE_WALK,
	};
	uint8_t p[SVT_STREAM_HELLO_MAX];
	size_t n = svt_stream_hello_put(&h, p);
	cr_assert_eq(n, 32 + 5 + 1 + 5 + 2 + 32 + 4 + 4);
	cr_assert_eq(p[0], 39);
	cr_assert_eq(svt_get64(p + 5), 0x12345);
	cr_assert_eq(svt_get32(p + 13), 2048);
	cr_assert_eq(svt_get32(p + 21), 8);
	cr_assert_eq(svt_get32(p + 25), 4);
	cr_assert_eq(p[29], 1);
	cr_assert_eq(p[30], 0);
	cr_assert_eq(p[31], 5);
	cr_assert(memcmp(p + 32, "linux", 5) == 0);
	cr_assert_eq(p[37], 5);
	cr_assert_eq(svt_get16(p + 43), 2);
	cr_assert_eq(svt_get64(p + 45), 0xfee00);
	cr_assert_eq(svt_get32(p + n - 8), 32);
	cr_assert_eq(svt_get32(p + n - 4), SVT_EVIDENCE_WALK);

	struct svt_stream_hello g;
	struct svt_trace_range got[SVT_STREAM_MAX_DEVICES];
	cr_assert_null(svt_stream_hello_get(p, (uint32_t)n, &g, got));
	cr_assert_eq(g.guest_frames, 0x12345);
	cr_assert_eq(g.policy.oos, 8);
	cr_assert(g.policy.emulate && !g.policy.early_unshadow);
	cr_assert(g.has_cpu && g.cpu_len == 5 && memcmp(g.cpu, "Intel", 5) == 0);
	cr_assert_eq(g.ndevices, 2);
	cr_assert_eq(got[1].gfn, 0xfec00);
	cr_assert_eq(got[1].count, 2);
	cr_assert_eq(g.root_cache, 32);
	cr_assert_eq(g.evidence, SVT_EVIDENCE_WALK);
	/* a hypervisor from before evidence: HELLO ends after the root cache */
	cr_assert_null(svt_stream_hello_get(p, (uint32_t)n - 4, &g, got));
	cr_assert(g.root_cache == 32 && g.evidence == 0);
	/* an old hypervisor's HELLO stops after the name */
	cr_assert_null(svt_stream_hello_get(p, 37, &g, got));
	cr_assert(!g.has_cpu && g.ndevices == 0 && g.root_cache == 0);
	/* cut anywhere inside the optional part: refused with a reason */
	cr_assert_not_null(svt_stream_hello_get(p, 38, &g, got));
	cr_assert_not_null(svt_stream_hello_get(p, 50, &g, got));
	cr_assert_not_null(svt_stream_hello_get(p, 20, &g, got));
	cr_assert_eq(g.nram, 0);         /* RAM is all of [0, guest frames) */
	/* RAM in ranges (RAM above 4 GiB): they follow the evidence */
	h.ram[0] = (struct svt_trace_range){ 0, 0xbd200 };
	h.ram[1] = (struct svt_trace_range){ 0x100000, 0x40000 };
	h.nram = 2;
	uint8_t q[SVT_STREAM_HELLO_MAX];
	size_t m = svt_stream_hello_put(&h, q);
	cr_assert_eq(m, n + 2 + 32);
	cr_assert_eq(svt_get16(q + n), 2);
	cr_assert_null(svt_stream_hello_get(q, (uint32_t)m, &g, got));
	cr_assert(g.nram == 2 && g.ram[1].gfn == 0x100000 && g.ram[1].count == 0x40000);
	cr_assert_not_null(svt_stream_hello_get(q, (uint32_t)m - 1, &g, got));
	cr_assert_not_null(svt_stream_hello_get(q, (uint32_t)n + 1, &g, got));
	/* more devices than a reader takes */
	svt_put16(p + 43, SVT_STREAM_MAX_DEVICES + 1);
	cr_assert_not_null(svt_stream_hello_get(p, (uint32_t)n, &g, got));
}

Test(stream, packets_and_end)
{
	uint8_t buf[SVT_STREAM_HDR + SVT_STREAM_END_MAX + SVT_STREAM_CRC];
	size_t len = svt_stream_end_put(4242, "the guest powered off", buf + SVT_STREAM_HDR);
	struct svt_stream_packet pk = { .type = SVT_STREAM_END, .no = 9, .first = 4242,
					.len = (uint32_t)len };
	svt_stream_header_put(buf, &pk);
	svt_put32(buf + SVT_STREAM_HDR + len,
		  svt_stream_crc(buf, buf + SVT_STREAM_HDR, (uint32_t)len));
	size_t n = SVT_STREAM_HDR + len + SVT_STREAM_CRC;
	cr_assert(memcmp(buf, "SVTL", 4) == 0);
	cr_assert_eq(svt_get32(buf + 8), 9);
	cr_assert_eq(svt_get32(buf + n - 4), svt_crc32c(0, buf, n - 4),
		     "CRC of header and payload");
	struct svt_stream_packet got;
	cr_assert(svt_stream_packet_get(buf, n, &got));
	cr_assert(got.type == SVT_STREAM_END && got.no == 9 && got.first == 4242 && got.len == len);
	uint64_t events;
	const char *v;
	size_t vl;
	cr_assert(svt_stream_end_get(buf + SVT_STREAM_HDR, got.len, &events, &v, &vl));
	cr_assert(events == 4242 && vl == 21 && memcmp(v, "the guest powered off", 21) == 0);
	cr_assert_not(svt_stream_end_get(buf + SVT_STREAM_HDR, 20, &events, &v, &vl));
	cr_assert_not(svt_stream_packet_get(buf, n - 1, &got), "a packet cut short");
	buf[30] ^= 1;
	cr_assert_not(svt_stream_packet_get(buf, n, &got), "a flipped bit");
}

/* RFC 3720 B.4 */
Test(crc32c, iscsi_vectors_both_paths)
{
	uint8_t b[48];
	memset(b, 0, 32);
	cr_assert_eq(svt_crc32c(0, b, 32), 0x8a9136aa);
	cr_assert_eq(svt_crc32c_soft(0, b, 32), 0x8a9136aa);
	memset(b, 0xff, 32);
	cr_assert_eq(svt_crc32c(0, b, 32), 0x62a8ab43);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	cr_assert_eq(svt_crc32c(0, b, 32), 0x46dd794e);
	cr_assert_eq(svt_crc32c_soft(0, b, 32), 0x46dd794e);
	cr_assert_eq(svt_crc32c(0, "123456789", 9), 0xe3069283);
	cr_assert_eq(svt_crc32c(0, b, 0), 0);
	/* extending a CRC is the CRC of the whole */
	cr_assert_eq(svt_crc32c(svt_crc32c(0, b, 13), b + 13, 19), 0x46dd794e);
}
