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
};

static int scratch_new(struct scratch *s, size_t n)
{
	size_t m = n ? n : 1;

	memset(s, 0, sizeof(*s));
	s->ts = malloc(m * sizeof(*s->ts));
	s->count = malloc(m * sizeof(*s->count));
	s->ref = malloc(m * sizeof(double));
	bool is_ok = s->ts && s->count && s->ref;
	for (int i = 0; i < 6; i++)
		is_ok = (s->f[i] = malloc(m * sizeof(double))) != NULL && is_ok;
	return is_ok ? 0 : VG_ENOMEM;
}

static void scratch_free(struct scratch *s)
{
	free(s->ts);
	free(s->count);
	free(s->ref);
	for (int i = 0; i < 6; i++)
		free(s->f[i]);
}

int vg_rollup_encode(const struct vg_bucket *b, size_t n, struct vg_buf *out,
		     size_t offs[VG_BLOCK_ROLLUP_COLUMNS], size_t lens[VG_BLOCK_ROLLUP_COLUMNS])
{
	struct scratch s;
	int rc;
	double *last, *first;

	if (n > VG_COL_MAX_N)
		return VG_ELIMIT;
	if ((rc = scratch_new(&s, n)) != 0)
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
	ref_bound(first, last, n, false, s.ref);
	COL(VG_ROLLUP_COL_MIN, vg_col_encode_f64_ref(s.f[2], s.ref, n, out));
	ref_bound(first, last, n, true, s.ref);
	COL(VG_ROLLUP_COL_MAX, vg_col_encode_f64_ref(s.f[3], s.ref, n, out));
	ref_sum(last, first, s.count, n, s.ref);
	COL(VG_ROLLUP_COL_SUM, vg_col_encode_f64_ref(s.f[4], s.ref, n, out));
	ref_increase(last, first, n, s.ref);
	COL(VG_ROLLUP_COL_INCREASE, vg_col_encode_f64_ref(s.f[5], s.ref, n, out));
#undef COL
out:
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
	if (scratch_new(&s, n) != 0 || vg_buckets_reserve(out, out->n + n) != 0) {
		scratch_free(&s);
		return vg_err_set(err, VG_ENOMEM, "out of memory decoding rollups");
	}
	double *last = s.f[0], *first = s.f[1];
	if (vg_col_decode_ts(c[VG_ROLLUP_COL_TS].p, c[VG_ROLLUP_COL_TS].len, s.ts, n, err) < 0 ||
	    vg_col_decode_u64(c[VG_ROLLUP_COL_COUNT].p, c[VG_ROLLUP_COL_COUNT].len, s.count, n, err) < 0 ||
	    vg_col_decode_f64(c[VG_ROLLUP_COL_LAST].p, c[VG_ROLLUP_COL_LAST].len, last, n, err) < 0)
		goto bad;
	ref_first(last, n, s.ref);
	if (vg_col_decode_f64_ref(c[VG_ROLLUP_COL_FIRST].p, c[VG_ROLLUP_COL_FIRST].len, s.ref, first, n,
				  err) < 0)
		goto bad;
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
	ref_increase(last, first, n, s.ref);
	if (vg_col_decode_f64_ref(c[VG_ROLLUP_COL_INCREASE].p, c[VG_ROLLUP_COL_INCREASE].len, s.ref,
				  s.f[5], n, err) < 0)
		goto bad;
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
