/*
 * policy.c — policy strings (policy.h).  Freestanding: no stdio, numbers
 * written and read here, decimal only.
 */
#include "common_deps.h"
#include "policy.h"

void svt_default_policy(struct svt_policy *p, unsigned *pool)
{
	*p = (struct svt_policy){ .oos = 2, .prefetch = 8, .emulate = true,
				  .early_unshadow = true };
	*pool = 512;
}

void svt_policy_default_hv(struct svt_policy *p, unsigned *pool, unsigned *roots)
{
	*p = (struct svt_policy){ .oos = 8, .prefetch = 4, .emulate = true,
				  .early_unshadow = true };
	*pool = SVT_POLICY_HV_POOL;
	*roots = SVT_POLICY_HV_ROOTS;
}

/* A bounded string builder: never writes past len - 1, always terminates. */
struct sbuf {
	char *p;
	size_t len, used;       /* used: the full length, even past len */
};

/* n bytes of s (or up to its NUL, with n = SIZE_MAX). */
static void sb_strn(struct sbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++, b->used++)
		if (b->used + 1 < b->len)
			b->p[b->used] = s[i];
	if (b->len)
		b->p[b->used < b->len ? b->used : b->len - 1] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_strn(b, s, SIZE_MAX);
}

static void sb_num(struct sbuf *b, uint64_t v)
{
	char d[21];
	size_t i = sizeof(d) - 1;
	d[i] = '\0';
	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	sb_str(b, d + i);
}

size_t svt_policy_format(const struct svt_policy *p, unsigned pool, char *buf, size_t len)
{
	struct sbuf b = { buf, len, 0 };
	sb_str(&b, "oos="), sb_num(&b, p->oos);
	sb_str(&b, ",prefetch="), sb_num(&b, p->prefetch);
	sb_str(&b, ",emulate="), sb_num(&b, p->emulate ? 1 : 0);
	sb_str(&b, ",early="), sb_num(&b, p->early_unshadow ? 1 : 0);
	sb_str(&b, ",pool="), sb_num(&b, pool);
	return b.used;
}

enum { K_OOS, K_PREFETCH, K_EMULATE, K_EARLY, K_POOL, K_ROOTS, K_N };

static const struct {
	const char *name;
	uint64_t lo, hi;        /* hi of pool: the caller's max_pool */
} keys[K_N] = {
	[K_OOS] = { "oos", 0, SVT_POLICY_MAX_OOS },
	[K_PREFETCH] = { "prefetch", 0, SVT_POLICY_MAX_PREFETCH },
	[K_EMULATE] = { "emulate", 0, 1 },
	[K_EARLY] = { "early", 0, 1 },
	[K_POOL] = { "pool", SVT_POLICY_MIN_POOL, SVT_POLICY_MAX_POOL },
	[K_ROOTS] = { "roots", SVT_POLICY_MIN_ROOTS, SVT_POLICY_MAX_ROOTS },
};

static int fail(char *why, size_t whylen, const char *a, const char *s, size_t n, const char *b)
{
	struct sbuf sb = { why, whylen, 0 };
	sb_str(&sb, a);
	sb_strn(&sb, s, n);
	sb_str(&sb, b);
	return -1;
}

/* "ITEM: what LO..HI", closing a parenthesis what opened */
static int fail_range(char *why, size_t whylen, const char *s, size_t n, const char *what,
		      uint64_t lo, uint64_t hi)
{
	struct sbuf sb = { why, whylen, 0 };
	sb_strn(&sb, s, n);
	sb_str(&sb, what);
	sb_num(&sb, lo);
	sb_str(&sb, "..");
	sb_num(&sb, hi);
	for (const char *p = what; *p; p++)
		if (*p == '(')
			sb_str(&sb, ")");
	return -1;
}

int svt_policy_parse_n(const char *s, size_t n, struct svt_policy *p, unsigned *pool,
		       unsigned *roots, unsigned max_pool, char *why, size_t whylen)
{
	const char *end = s + n;
	if (n == 0)
		return fail(why, whylen, "empty policy", "", 0, "");
	/* parse into a copy: a bad policy changes nothing */
	struct svt_policy np = *p;
	unsigned npool = *pool, nroots = roots ? *roots : 0;
	while (s < end) {
		const char *k = s, *item_end = s;
		while (item_end < end && *item_end != ',')
			item_end++;
		size_t ilen = (size_t)(item_end - k);
		const char *eq = k;
		while (eq < item_end && *eq != '=')
			eq++;
		if (eq == item_end || eq == k)
			return fail(why, whylen, "'", k, ilen, "' is not KEY=VALUE");
		size_t klen = (size_t)(eq - k);
		unsigned key = K_N;
		for (unsigned i = 0; i < K_N; i++)
			if (svt_strnlen(keys[i].name, 16) == klen &&
			    memcmp(keys[i].name, k, klen) == 0)
				key = i;
		if (key == K_N || (key == K_ROOTS && !roots))
			return fail(why, whylen, "unknown key '", k, klen,
				    roots ? "' (oos, prefetch, emulate, early, pool, roots)"
					  : "' (oos, prefetch, emulate, early, pool)");
		uint64_t v = 0;
		const char *d = eq + 1;
		uint64_t hi = key == K_POOL ? max_pool : keys[key].hi;
		if (d == item_end)
			return fail_range(why, whylen, k, ilen, ": no value (a number in ",
					  keys[key].lo, hi);
		for (; d < item_end; d++) {
			if (*d < '0' || *d > '9')
				return fail_range(why, whylen, k, ilen,
						  ": not a decimal number in ", keys[key].lo, hi);
			v = v * 10 + (uint64_t)(*d - '0');
			if (v > 0xffffffffu)
				break;
		}
		if (v < keys[key].lo || v > hi)
			return fail_range(why, whylen, k, ilen, ": out of range ",
					  keys[key].lo, hi);
		switch (key) {
		case K_OOS: np.oos = (unsigned)v; break;
		case K_PREFETCH: np.prefetch = (unsigned)v; break;
		case K_EMULATE: np.emulate = v != 0; break;
		case K_EARLY: np.early_unshadow = v != 0; break;
		case K_POOL: npool = (unsigned)v; break;
		default: nroots = (unsigned)v; break;
		}
		s = item_end;
		if (s < end) {
			s++;            /* the comma */
			if (s == end)
				return fail(why, whylen, "a comma ends the policy", "", 0, "");
		}
	}
	*p = np;
	*pool = npool;
	if (roots)
		*roots = nroots;
	return 0;
}

int svt_policy_parse(const char *s, struct svt_policy *p, unsigned *pool)
{
	return svt_policy_parse_n(s, svt_strnlen(s, (size_t)-1), p, pool, NULL,
				  SVT_POLICY_MAX_POOL, NULL, 0);
}

void svt_policy_combo(unsigned i, struct svt_policy *p)
{
	p->oos = (i & 1) ? 2 : 0;
	p->prefetch = (i & 2) ? 8 : 0;
	p->emulate = (i & 4) != 0;
	p->early_unshadow = (i & 8) != 0;
}
