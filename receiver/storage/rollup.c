/*
 * rollup.c: rollup buckets and their block columns (rollup.h; layout in
 * docs/storage-format.md, "Rollup buckets").
 *
 * Owns the aggregation of raw samples into buckets and the references
 * between rollup columns. Column order (enum vg_rollup_col): ts, count,
 * last, first, min, max, sum, increase. A reader decodes ts, count and
 * last plainly, then each later column against a reference built only from
 * columns decoded before it:
 *   first    against last of the bucket before (a counter's next bucket
 *            starts near where the last one ended)
 *   min      against the smaller of first and last (equal for a counter
 *            without reset)
 *   max      against the larger of first and last (likewise)
 *   sum      against count x (first + last) / 2 (decimal when both have
 *            a decimal form)
 *   increase against last - first (equal for a counter without reset)
 * so a counter's min, max and increase cost two bytes each per series.
 * Per series, last and first may instead be one column of first and last
 * apart (0x40, first then holding the mark 0x41), and increase one against
 * the down steps (0x42), when smaller (below, "Layouts of rollup.c's own").
 */
#include "receiver/storage/rollup.h"
#include "common/buf.h"
#include "common/err.h"
#include "receiver/storage/block_write.h"
#include "receiver/storage/chunk.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int vg_buckets_reserve(struct vg_buckets *b, size_t n)
{
	if (n <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < n)
		cap *= 2;
	struct vg_bucket *p = realloc(b->v, cap * sizeof(*p));
	if (p == NULL)
		return VG_ENOMEM;
	b->v = p;
	b->cap = cap;
	return 0;
}

void vg_buckets_release(struct vg_buckets *b)
{
	free(b->v);
	memset(b, 0, sizeof(*b));
}

int64_t vg_rollup_width(enum vg_tier tier)
{
	return tier == VG_TIER_1M ? VG_ROLLUP_1M_MS : tier == VG_TIER_1H ? VG_ROLLUP_1H_MS : 0;
}

static int64_t floor_to(int64_t t, int64_t w)
{
	int64_t q = t / w;
	if (t % w != 0 && t < 0)
		q--;
	return q * w;
}

static double step_increase(double prev, double cur)
{
	return cur >= prev ? cur - prev : cur;
}

/* One bucket of v[0..n), n >= 1. */
static void aggregate(const double *v, size_t n, struct vg_bucket *b)
{
	int k = vg_dec_scale(v, n);
	int64_t sum = 0, inc = 0, pm = 0;
	bool is_exact = k >= 0;

	b->count = n;
	b->min = b->max = b->first = v[0];
	b->last = v[n - 1];
	b->sum = 0;
	b->increase = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < b->min || b->min != b->min)
			b->min = v[i];
		if (v[i] > b->max || b->max != b->max)
			b->max = v[i];
		b->sum += v[i];
		if (i)
			b->increase += step_increase(v[i - 1], v[i]);
		if (is_exact) {
			int64_t m = 0;
			(void)vg_dec_int(v[i], k, &m);
			if (__builtin_add_overflow(sum, m, &sum))
				is_exact = false;
			if (i) {
				int64_t d = m >= pm ? m - pm : m;
				if (m >= pm && __builtin_sub_overflow(m, pm, &d))
					is_exact = false;
				if (__builtin_add_overflow(inc, d, &inc))
					is_exact = false;
			}
			pm = m;
		}
	}
	if (is_exact) {
		b->sum = vg_dec_double(sum, k);
		b->increase = vg_dec_double(inc, k);
	}
}

int vg_rollup_compute(const int64_t *ts, const double *v, size_t n, int64_t width_ms,
		      struct vg_buckets *out)
{
	size_t from = 0, base = out->n;

	while (from < n) {
		int64_t start = floor_to(ts[from], width_ms);
		size_t to = from + 1;

		while (to < n && ts[to] < start + width_ms)
			to++;
		if (vg_buckets_reserve(out, out->n + 1) != 0) {
			out->n = base;
			return VG_ENOMEM;
		}
		struct vg_bucket *b = &out->v[out->n++];
		b->t_ms = start;
		b->width_ms = width_ms;
		aggregate(v + from, to - from, b);
		from = to;
	}
	return 0;
}

int vg_rollup_coarsen(const struct vg_bucket *in, size_t n, int64_t width_ms,
		      struct vg_buckets *out)
{
	size_t from = 0, base = out->n;

	while (from < n) {
		int64_t start = floor_to(in[from].t_ms, width_ms);
		struct vg_bucket *b;

		if (vg_buckets_reserve(out, out->n + 1) != 0) {
			out->n = base;
			return VG_ENOMEM;
		}
		b = &out->v[out->n++];
		*b = in[from];
		b->t_ms = start;
		b->width_ms = width_ms;
		for (from++; from < n && in[from].t_ms < start + width_ms; from++) {
			const struct vg_bucket *x = &in[from];
			if (x->min < b->min)
				b->min = x->min;
			if (x->max > b->max)
				b->max = x->max;
			b->sum += x->sum;
			b->count += x->count;
			b->increase += step_increase(b->last, x->first) + x->increase;
			b->last = x->last;
		}
	}
	return 0;
}

void vg_rollup_join(struct vg_bucket *into, const struct vg_bucket *from, int is_into_newer)
{
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
	into->sum += from->sum;
	into->count += from->count;
	if (!is_into_newer) {
		into->first = from->first;
		into->last = from->last;
		into->increase = from->increase;
	}
}

void vg_rollup_link(struct vg_bucket *b, size_t n)
{
	for (size_t i = 1; i < n; i++)
		b[i].increase += step_increase(b[i - 1].last, b[i].first);
}

/* --- columns --------------------------------------------------------------- */

/* The references of rollup.c's opening comment, from decoded columns. */
static void ref_first(const double *last, size_t n, double *ref)
{
	for (size_t i = 0; i < n; i++)
		ref[i] = i ? last[i - 1] : last[0];
}

/* The smaller (or larger) of first and last: min and max are at most
 * (at least) both, so the difference has one sign and is 0 for counters. */
static void ref_bound(const double *first, const double *last, size_t n, bool is_upper, double *ref)
{
	for (size_t i = 0; i < n; i++)
		ref[i] = (first[i] < last[i]) != is_upper ? first[i] : last[i];
}

/* count x the middle of first and last: a counter's sum to within its
 * curvature, a gauge's to within its noise. */
static void ref_sum(const double *last, const double *first, const uint64_t *count, size_t n,
		    double *ref)
{
	for (size_t i = 0; i < n; i++) {
		double pair[2] = { last[i], first[i] };
		int k = vg_dec_scale(pair, 2);
		int64_t ml, mf, s, p;
		if (k >= 0 && vg_dec_int(last[i], k, &ml) && vg_dec_int(first[i], k, &mf) &&
		    count[i] <= INT64_MAX && !__builtin_add_overflow(ml, mf, &s) &&
		    !__builtin_mul_overflow(s, (int64_t)count[i], &p))
			ref[i] = vg_dec_double(p / 2, k);
		else
			ref[i] = (last[i] + first[i]) / 2 * (double)count[i];
	}
}

static void ref_increase(const double *last, const double *first, size_t n, double *ref)
{
	for (size_t i = 0; i < n; i++) {
		double pair[2] = { last[i], first[i] };
		int k = vg_dec_scale(pair, 2);
		int64_t ml, mf, d;
		if (k >= 0 && vg_dec_int(last[i], k, &ml) && vg_dec_int(first[i], k, &mf) &&
		    !__builtin_sub_overflow(ml, mf, &d))
			ref[i] = vg_dec_double(d, k);
		else
			ref[i] = last[i] - first[i];
	}
}

struct scratch {
	int64_t *ts;
	uint64_t *count;
	double *f[6]; /* last, first, min, max, sum, increase */
	double *ref;
	double *cat;  /* 4n: the values one scale is looked for in */
	int64_t *m[4]; /* decimal integers of the layouts below */
};

/* The encoder's (is_encode) or the decoder's arrays of n; the decoder's
 * layouts need two integer arrays and no cat. */
static int scratch_new(struct scratch *s, size_t n, bool is_encode)
{
	size_t m = n ? n : 1;

	memset(s, 0, sizeof(*s));
	s->ts = malloc(m * sizeof(*s->ts));
	s->count = malloc(m * sizeof(*s->count));
	s->ref = malloc(m * sizeof(double));
	s->cat = is_encode ? malloc(4 * m * sizeof(double)) : NULL;
	bool is_ok = s->ts && s->count && s->ref && (s->cat || !is_encode);
	for (int i = 0; i < 6; i++)
		is_ok = (s->f[i] = malloc(m * sizeof(double))) != NULL && is_ok;
	for (int i = 0; i < (is_encode ? 4 : 2); i++)
		is_ok = (s->m[i] = malloc(m * sizeof(int64_t))) != NULL && is_ok;
	return is_ok ? 0 : VG_ENOMEM;
}

static void scratch_free(struct scratch *s)
{
	free(s->ts);
	free(s->count);
	free(s->ref);
	free(s->cat);
	for (int i = 0; i < 6; i++)
		free(s->f[i]);
	for (int i = 0; i < 4; i++)
		free(s->m[i]);
}

/*
 * Layouts of rollup.c's own (tags 0x40..0x42, which chunk.c never writes),
 * each used for a series only when it is smaller than the column
 * encodings of chunk.c it replaces. All arithmetic on the decimal
 * integers wraps modulo 2^64, so any integers round-trip.
 *   0x40 in the last column: first and last apart, at one scale k:
 *        m(first) against m(last) of the bucket before, m(last) against
 *        m(first) of its own bucket (a counter's two parts of its steps);
 *   0x41 in the first column: "held by the last column" (0x40);
 *   0x42 in the increase column: m(increase) against m(last) - m(first)
 *        + D x R, D an integer column (the down steps of a gauge, each of
 *        which adds the value before it) and R m(first) or m(sum) / count.
 */
enum { TAG_PAIR = 0x40, TAG_IN_PAIR = 0x41, TAG_DOWNS = 0x42 };

static uint64_t wrap(int64_t m)
{
	return (uint64_t)m;
}

/* The smallest scale every value of the nv arrays has, -1 if none; the
 * arrays' integers at it into m[0..nv). */
static int common_scale(struct scratch *s, const double *const *v, int nv, size_t n)
{
	int k;

	for (int j = 0; j < nv; j++)
		memcpy(s->cat + (size_t)j * n, v[j], n * sizeof(double));
	if (n == 0 || (k = vg_dec_scale(s->cat, (size_t)nv * n)) < 0)
		return -1;
	for (int j = 0; j < nv; j++)
		for (size_t i = 0; i < n; i++)
			if (!vg_dec_int(v[j][i], k, &s->m[j][i]))
				return -1;
	return k;
}

/* 0x40: n, k, zz(m(first[0])), then the integer columns a (a[0] = 0) and
 * b. 1 when the values have no common decimal scale (nothing appended). */
static int put_pair(struct scratch *s, const double *first, const double *last, size_t n,
		    struct vg_buf *out)
{
	const double *v[2] = { first, last };
	int k = common_scale(s, v, 2, n), rc;
	int64_t *mf = s->m[0], *ml = s->m[1], *a = s->m[2], *b = s->m[3];

	if (k < 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		a[i] = i ? (int64_t)(wrap(mf[i]) - wrap(ml[i - 1])) : 0;
		b[i] = (int64_t)(wrap(ml[i]) - wrap(mf[i]));
	}
	vg_buf_putc(out, (char)TAG_PAIR);
	vg_buf_put_uvarint(out, n);
	vg_buf_putc(out, (char)k);
	vg_buf_put_uvarint(out, vg_zigzag(mf[0]));
	if ((rc = vg_col_encode_i64(a, n, out)) != 0 || (rc = vg_col_encode_i64(b, n, out)) != 0)
		return rc;
	return vg_buf_failed(out) ? VG_ENOMEM : 0;
}

/* R of bucket i for the 0x42 layout: m(first), or m(sum) / count. */
static int64_t downs_ref(int kind, int64_t mf, int64_t ms, uint64_t count)
{
	if (kind == 0)
		return mf;
	return count >= 1 && count <= INT64_MAX ? ms / (int64_t)count : 0;
}

/* 0x42 of reference kind (0 first, 1 the mean): n, k, kind, the integer
 * columns D and e. 1 when the values have no common scale. */
static int put_downs(struct scratch *s, const double *inc, const double *first, const double *last,
		     const double *sum, const uint64_t *count, size_t n, int kind, struct vg_buf *out)
{
	const double *v[4] = { first, last, inc, sum };
	int k = common_scale(s, v, kind ? 4 : 3, n), rc;
	int64_t *mf = s->m[0], *ml = s->m[1], *mi = s->m[2], *ms = s->m[3];

	if (k < 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		int64_t r = (int64_t)(wrap(mi[i]) - (wrap(ml[i]) - wrap(mf[i])));
		int64_t ref = downs_ref(kind, mf[i], kind ? ms[i] : 0, count[i]), d = 0;
		if (ref != 0) {
			double q = (double)r / (double)ref;
			d = q > 1e9 || q < -1e9 ? 0 : q >= 0 ? (int64_t)(q + 0.5) : -(int64_t)(0.5 - q);
		}
		mf[i] = d; /* D, then e in mi */
		mi[i] = (int64_t)(wrap(r) - wrap(d) * wrap(ref));
	}
	vg_buf_putc(out, (char)TAG_DOWNS);
	vg_buf_put_uvarint(out, n);
	vg_buf_putc(out, (char)k);
	vg_buf_putc(out, (char)kind);
	if ((rc = vg_col_encode_i64(mf, n, out)) != 0 || (rc = vg_col_encode_i64(mi, n, out)) != 0)
		return rc;
	return vg_buf_failed(out) ? VG_ENOMEM : 0;
}

/* The head of a 0x40/0x42 column: tag, n (must be want), k (0..18). The
 * bytes read, or 0 with err set. */
static size_t get_head(const uint8_t *p, size_t len, int tag, size_t want, int *k, struct vg_err *err)
{
	uint64_t n;
	size_t at = 1, u;

	if (len < 1 || p[0] != tag || (u = vg_get_uvarint(p + at, len - at, &n)) == 0) {
		vg_err_set(err, VG_EINVAL, "rollup column 0x%02x: truncated head", (unsigned)tag);
		return 0;
	}
	at += u;
	if (n != want) {
		vg_err_set(err, VG_EINVAL, "rollup column 0x%02x: %llu entries, expected %zu", (unsigned)tag,
			   (unsigned long long)n, want);
		return 0;
	}
	if (at >= len || p[at] > 18) {
		vg_err_set(err, VG_EINVAL, "rollup column 0x%02x: bad decimal scale", (unsigned)tag);
		return 0;
	}
	*k = p[at++];
	return at;
}

/* An integer column of n at p[at..len) into dst; the new offset, or 0. */
static size_t get_ints(const uint8_t *p, size_t len, size_t at, int64_t *dst, size_t n,
		       struct vg_err *err)
{
	long used = at < len ? vg_col_decode_i64(p + at, len - at, dst, n, err) : -1;

	if (used <= 0) {
		if (at >= len)
			vg_err_set(err, VG_EINVAL, "rollup column: truncated integer column");
		return 0;
	}
	return at + (size_t)used;
}

static int get_pair(const uint8_t *p, size_t len, size_t n, struct scratch *s, double *first,
		    double *last, struct vg_err *err)
{
	int k;
	uint64_t z;
	size_t at = get_head(p, len, TAG_PAIR, n, &k, err), u;
	int64_t *a = s->m[0], *b = s->m[1];

	if (at == 0)
		return VG_EINVAL;
	if ((u = vg_get_uvarint(p + at, len - at, &z)) == 0)
		return vg_err_set(err, VG_EINVAL, "rollup column 0x40: truncated first value");
	if ((at = get_ints(p, len, at + u, a, n, err)) == 0 || (at = get_ints(p, len, at, b, n, err)) == 0)
		return VG_EINVAL;
	if (at != len || (n && a[0] != 0))
		return vg_err_set(err, VG_EINVAL, "rollup column 0x40: %zu bytes after its end",
				  len - at);
	uint64_t f = wrap(vg_unzigzag(z)), l = 0;
	for (size_t i = 0; i < n; i++) {
		if (i)
			f = l + wrap(a[i]);
		l = f + wrap(b[i]);
		first[i] = vg_dec_double((int64_t)f, k);
		last[i] = vg_dec_double((int64_t)l, k);
	}
	return 0;
}

static int get_downs(const uint8_t *p, size_t len, size_t n, struct scratch *s, double *inc,
		     const double *first, const double *last, const double *sum,
		     const uint64_t *count, struct vg_err *err)
{
	int k, kind;
	size_t at = get_head(p, len, TAG_DOWNS, n, &k, err);
	int64_t *d = s->m[0], *e = s->m[1];

	if (at == 0)
		return VG_EINVAL;
	if (at >= len || p[at] > 1)
		return vg_err_set(err, VG_EINVAL, "rollup column 0x42: bad reference kind");
	kind = p[at++];
	if ((at = get_ints(p, len, at, d, n, err)) == 0 || (at = get_ints(p, len, at, e, n, err)) == 0)
		return VG_EINVAL;
	if (at != len)
		return vg_err_set(err, VG_EINVAL, "rollup column 0x42: %zu bytes after its end",
				  len - at);
	for (size_t i = 0; i < n; i++) {
		int64_t mf, ml, ms = 0;
		if (!vg_dec_int(first[i], k, &mf) || !vg_dec_int(last[i], k, &ml) ||
		    (kind && !vg_dec_int(sum[i], k, &ms)))
			return vg_err_set(err, VG_EINVAL,
					  "rollup column 0x42: bucket %zu has no decimal form at scale %d", i, k);
		uint64_t m = wrap(ml) - wrap(mf) + wrap(d[i]) * wrap(downs_ref(kind, mf, ms, count[i])) +
			     wrap(e[i]);
		inc[i] = vg_dec_double((int64_t)m, k);
	}
	return 0;
}

int vg_rollup_encode(const struct vg_bucket *b, size_t n, struct vg_buf *out,
		     size_t offs[VG_BLOCK_ROLLUP_COLUMNS], size_t lens[VG_BLOCK_ROLLUP_COLUMNS])
{
	struct scratch s;
	struct vg_buf alt = VG_BUF_INIT;
	int rc;
	double *last, *first;

	if (n > VG_COL_MAX_N)
		return VG_ELIMIT;
	if ((rc = scratch_new(&s, n, true)) != 0)
		goto out;
	last = s.f[0];
	first = s.f[1];
	for (size_t i = 0; i < n; i++) {
		s.ts[i] = b[i].t_ms;
		s.count[i] = b[i].count;
		last[i] = b[i].last;
		first[i] = b[i].first;
		s.f[2][i] = b[i].min;
		s.f[3][i] = b[i].max;
		s.f[4][i] = b[i].sum;
		s.f[5][i] = b[i].increase;
	}
#define COL(c, call)                                 \
	do {                                         \
		offs[c] = out->len;                  \
		if ((rc = (call)) != 0)              \
			goto out;                    \
		lens[c] = out->len - offs[c];        \
	} while (0)
	COL(VG_ROLLUP_COL_TS, vg_col_encode_ts(s.ts, n, out));
	COL(VG_ROLLUP_COL_COUNT, vg_col_encode_u64(s.count, n, out));
	COL(VG_ROLLUP_COL_LAST, vg_col_encode_f64(last, n, out));
	ref_first(last, n, s.ref);
	COL(VG_ROLLUP_COL_FIRST, vg_col_encode_f64_ref(first, s.ref, n, out));
	vg_buf_reset(&alt);
	if ((rc = put_pair(&s, first, last, n, &alt)) < 0)
		goto out;
	if (rc == 0 && alt.len + 1 + vg_uvarint_len(n) <
			       lens[VG_ROLLUP_COL_LAST] + lens[VG_ROLLUP_COL_FIRST]) {
		out->len = offs[VG_ROLLUP_COL_LAST];
		vg_buf_append(out, alt.data, alt.len);
		lens[VG_ROLLUP_COL_LAST] = alt.len;
		offs[VG_ROLLUP_COL_FIRST] = out->len;
		vg_buf_putc(out, (char)TAG_IN_PAIR);
		vg_buf_put_uvarint(out, n);
		lens[VG_ROLLUP_COL_FIRST] = out->len - offs[VG_ROLLUP_COL_FIRST];
	}
	rc = 0;
	ref_bound(first, last, n, false, s.ref);
	COL(VG_ROLLUP_COL_MIN, vg_col_encode_f64_ref(s.f[2], s.ref, n, out));
	ref_bound(first, last, n, true, s.ref);
	COL(VG_ROLLUP_COL_MAX, vg_col_encode_f64_ref(s.f[3], s.ref, n, out));
	ref_sum(last, first, s.count, n, s.ref);
	COL(VG_ROLLUP_COL_SUM, vg_col_encode_f64_ref(s.f[4], s.ref, n, out));
	ref_increase(last, first, n, s.ref);
	COL(VG_ROLLUP_COL_INCREASE, vg_col_encode_f64_ref(s.f[5], s.ref, n, out));
	for (int kind = 0; kind < 2; kind++) {
		vg_buf_reset(&alt);
		if ((rc = put_downs(&s, s.f[5], first, last, s.f[4], s.count, n, kind, &alt)) < 0)
			goto out;
		if (rc == 0 && alt.len < lens[VG_ROLLUP_COL_INCREASE]) {
			out->len = offs[VG_ROLLUP_COL_INCREASE];
			vg_buf_append(out, alt.data, alt.len);
			lens[VG_ROLLUP_COL_INCREASE] = alt.len;
		}
	}
	rc = vg_buf_failed(out) ? VG_ENOMEM : 0;
#undef COL
out:
	vg_buf_release(&alt);
	scratch_free(&s);
	return rc;
}

int vg_rollup_decode(const struct vg_block_col *cols, int64_t width_ms, struct vg_buckets *out,
		     struct vg_err *err)
{
	struct scratch s;
	size_t n;
	int rc;
	const struct vg_block_col *c = cols;

	if ((rc = vg_col_count(c[0].p, c[0].len, &n, err)) != 0)
		return rc;
	if (n > VG_COL_MAX_N)
		return vg_err_set(err, VG_EINVAL, "rollup series of %zu buckets", n);
	if (scratch_new(&s, n, false) != 0 || vg_buckets_reserve(out, out->n + n) != 0) {
		scratch_free(&s);
		return vg_err_set(err, VG_ENOMEM, "out of memory decoding rollups");
	}
	double *last = s.f[0], *first = s.f[1];
	const struct vg_block_col *cl = &c[VG_ROLLUP_COL_LAST], *cf = &c[VG_ROLLUP_COL_FIRST];
	if (vg_col_decode_ts(c[VG_ROLLUP_COL_TS].p, c[VG_ROLLUP_COL_TS].len, s.ts, n, err) < 0 ||
	    vg_col_decode_u64(c[VG_ROLLUP_COL_COUNT].p, c[VG_ROLLUP_COL_COUNT].len, s.count, n, err) < 0)
		goto bad;
	if (cl->len > 0 && cl->p[0] == TAG_PAIR) {
		uint64_t m;
		if (get_pair(cl->p, cl->len, n, &s, first, last, err) != 0)
			goto bad;
		if (cf->len != 1 + vg_uvarint_len(n) || cf->p[0] != TAG_IN_PAIR ||
		    vg_get_uvarint(cf->p + 1, cf->len - 1, &m) != cf->len - 1 || m != n) {
			vg_err_set(err, VG_EINVAL, "rollup first column: not the mark 0x41 of %zu entries", n);
			goto bad;
		}
	} else {
		if (vg_col_decode_f64(cl->p, cl->len, last, n, err) < 0)
			goto bad;
		ref_first(last, n, s.ref);
		if (vg_col_decode_f64_ref(cf->p, cf->len, s.ref, first, n, err) < 0)
			goto bad;
	}
	ref_bound(first, last, n, false, s.ref);
	if (vg_col_decode_f64_ref(c[VG_ROLLUP_COL_MIN].p, c[VG_ROLLUP_COL_MIN].len, s.ref, s.f[2], n,
				  err) < 0)
		goto bad;
	ref_bound(first, last, n, true, s.ref);
	if (vg_col_decode_f64_ref(c[VG_ROLLUP_COL_MAX].p, c[VG_ROLLUP_COL_MAX].len, s.ref, s.f[3], n,
				  err) < 0)
		goto bad;
	ref_sum(last, first, s.count, n, s.ref);
	if (vg_col_decode_f64_ref(c[VG_ROLLUP_COL_SUM].p, c[VG_ROLLUP_COL_SUM].len, s.ref, s.f[4], n,
				  err) < 0)
		goto bad;
	const struct vg_block_col *ci = &c[VG_ROLLUP_COL_INCREASE];
	if (ci->len > 0 && ci->p[0] == TAG_DOWNS) {
		if (get_downs(ci->p, ci->len, n, &s, s.f[5], first, last, s.f[4], s.count, err) != 0)
			goto bad;
	} else {
		ref_increase(last, first, n, s.ref);
		if (vg_col_decode_f64_ref(ci->p, ci->len, s.ref, s.f[5], n, err) < 0)
			goto bad;
	}
	for (size_t i = 0; i < n; i++) {
		if (s.count[i] == 0) {
			vg_err_set(err, VG_EINVAL, "bucket %zu holds no samples", i);
			goto bad;
		}
		out->v[out->n + i] = (struct vg_bucket){ s.ts[i], width_ms, s.count[i], s.f[2][i],
							 s.f[3][i], s.f[4][i], first[i], last[i],
							 s.f[5][i] };
	}
	out->n += n;
	scratch_free(&s);
	return 0;
bad:
	scratch_free(&s);
	return VG_EINVAL;
}

int vg_rollup_write_series(struct vg_block_writer *w, const uint8_t *key, size_t key_len,
			   const struct vg_bucket *b, size_t n, struct vg_buf *scratch,
			   struct vg_err *err)
{
	struct vg_block_col cols[VG_BLOCK_ROLLUP_COLUMNS];
	size_t offs[VG_BLOCK_ROLLUP_COLUMNS], lens[VG_BLOCK_ROLLUP_COLUMNS];
	int rc;

	vg_buf_reset(scratch);
	if ((rc = vg_rollup_encode(b, n, scratch, offs, lens)) != 0)
		return vg_err_set(err, rc, "encoding rollup columns: %s", vg_strerror(rc));
	for (int c = 0; c < VG_BLOCK_ROLLUP_COLUMNS; c++)
		cols[c] = (struct vg_block_col){ scratch->data + offs[c], lens[c] };
	return vg_block_writer_add(w, key, key_len, b[0].t_ms, b[n - 1].t_ms, n, cols, err);
}
