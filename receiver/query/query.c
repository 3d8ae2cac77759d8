/*
 * query.c: instant, range and series queries of selectors over the head
 * (query.h), with Prometheus's semantics (promql-subset.md "Instant selector
 * at evaluation time t"):
 *  - at time t a series yields its newest sample with timestamp in
 *    (t - lookback, t], stamped t; nothing if that sample is a staleness
 *    marker (the NaN with bits 0x7ff0000000000002);
 *  - a range query evaluates at start, start + step, ... <= end and refuses,
 *    with Prometheus's messages, end < start, step <= 0, and more than
 *    11,000 steps ((end - start) / step > 11000, Prometheus's own test);
 *  - results are sorted as Prometheus sorts label sets: label by label in
 *    name order, __name__ placed among the labels by its own name.
 *
 * Owns the evaluation and the result arrays; does not own the HTTP
 * encoding (http_api.c) nor the storage (head.c). The head's read lock is
 * held for one whole evaluation and everything returned is copied out, so
 * the caller formats without the lock.
 */
#include "receiver/query/query.h"
#include "receiver/storage/head.h"
#include "common/err.h"
#include "common/selector.h"
#include "common/series.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define KEY_SEP 0xFF
#define STALE_NAN_BITS 0x7ff0000000000002ULL

static bool is_stale(double v)
{
	uint64_t b;

	memcpy(&b, &v, sizeof(b));
	return b == STALE_NAN_BITS;
}

/* a - b without wrapping below INT64_MIN (b >= 0). */
static int64_t sub_sat(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_sub_overflow(a, b, &r))
		return INT64_MIN;
	return r;
}

/* First index in ts[0..n) with ts[i] > t. */
static size_t upper_bound(const int64_t *ts, size_t n, int64_t t)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ts[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The first millisecond after t: windows open on the left. */
static int64_t after(int64_t t)
{
	return t == INT64_MAX ? t : t + 1;
}

/* --- ordering of label sets --------------------------------------------- */

/*
 * Walks a series key (name 0xFF (lname 0xFF lvalue 0xFF)*) yielding its
 * label pairs in Prometheus's order: the labels are already sorted by name,
 * and the metric name is yielded as ("__name__", name) where that name
 * sorts (after upper-case names, before lower-case ones).
 */
struct label_iter {
	const uint8_t *p, *end;
	struct vg_str metric;
	bool is_name_done;
};

static void label_iter_init(struct label_iter *it, const uint8_t *key, size_t len)
{
	const uint8_t *sep = memchr(key, KEY_SEP, len);

	it->end = key + len;
	if (sep == NULL) { /* not a key: yield nothing */
		it->p = it->end;
		it->is_name_done = true;
		return;
	}
	it->metric = (struct vg_str){ (const char *)key, (uint32_t)(sep - key) };
	it->p = sep + 1;
	it->is_name_done = false;
}

/* Reads the next label of the key at it->p without consuming it. */
static bool peek_label(const struct label_iter *it, struct vg_str *name, struct vg_str *value,
		       const uint8_t **after)
{
	const uint8_t *s1, *s2;

	if (it->p >= it->end)
		return false;
	s1 = memchr(it->p, KEY_SEP, (size_t)(it->end - it->p));
	if (s1 == NULL)
		return false;
	s2 = memchr(s1 + 1, KEY_SEP, (size_t)(it->end - s1 - 1));
	if (s2 == NULL)
		return false;
	*name = (struct vg_str){ (const char *)it->p, (uint32_t)(s1 - it->p) };
	*value = (struct vg_str){ (const char *)s1 + 1, (uint32_t)(s2 - s1 - 1) };
	*after = s2 + 1;
	return true;
}

static bool label_iter_next(struct label_iter *it, struct vg_str *name, struct vg_str *value)
{
	static const struct vg_str name_label = { "__name__", 8 };
	struct vg_str ln, lv;
	const uint8_t *after;
	bool has_label = peek_label(it, &ln, &lv, &after);

	if (!it->is_name_done && (!has_label || vg_str_cmp(name_label, ln) < 0)) {
		it->is_name_done = true;
		if (it->metric.len == 0) /* no name: nothing to yield */
			return label_iter_next(it, name, value);
		*name = name_label;
		*value = it->metric;
		return true;
	}
	if (!has_label)
		return false;
	it->p = after;
	*name = ln;
	*value = lv;
	return true;
}

/* Prometheus's labels.Compare over two keys. */
static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	struct label_iter ia, ib;

	label_iter_init(&ia, a, alen);
	label_iter_init(&ib, b, blen);
	for (;;) {
		struct vg_str an, av, bn, bv;
		bool has_a = label_iter_next(&ia, &an, &av);
		bool has_b = label_iter_next(&ib, &bn, &bv);
		int c;

		if (!has_a || !has_b)
			return has_a ? 1 : has_b ? -1 : 0;
		if ((c = vg_str_cmp(an, bn)) != 0)
			return c;
		if ((c = vg_str_cmp(av, bv)) != 0)
			return c;
	}
}

static int series_cmp(const void *x, const void *y)
{
	const struct vg_query_series *a = x, *b = y;

	return key_cmp(a->key, a->key_len, b->key, b->key_len);
}

/* --- results ------------------------------------------------------------ */

void vg_query_result_release(struct vg_query_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->series[i].key);
		free(r->series[i].ts_ms);
		free(r->series[i].values);
	}
	free(r->series);
	r->series = NULL;
	r->n = 0;
}

/* Appends a series with a copy of the head's key of id and of n points. */
static int result_add_locked(struct vg_query_result *r, size_t *cap, struct vg_head *h, uint32_t id,
			     const int64_t *ts, const double *vals, size_t n)
{
	struct vg_query_series *qs;
	const uint8_t *key;
	size_t key_len;

	if (r->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		void *p = realloc(r->series, ncap * sizeof(*r->series));
		if (p == NULL)
			return VG_ENOMEM;
		r->series = p;
		*cap = ncap;
	}
	vg_head_key_locked(h, id, &key, &key_len);
	qs = &r->series[r->n];
	memset(qs, 0, sizeof(*qs));
	qs->key = malloc(key_len ? key_len : 1);
	if (qs->key == NULL)
		return VG_ENOMEM;
	if (key_len)
		memcpy(qs->key, key, key_len);
	qs->key_len = key_len;
	if (n > 0) {
		qs->ts_ms = malloc(n * sizeof(*qs->ts_ms));
		qs->values = malloc(n * sizeof(*qs->values));
		if (qs->ts_ms == NULL || qs->values == NULL) {
			free(qs->key);
			free(qs->ts_ms);
			free(qs->values);
			return VG_ENOMEM;
		}
		memcpy(qs->ts_ms, ts, n * sizeof(*ts));
		memcpy(qs->values, vals, n * sizeof(*vals));
		qs->n = n;
	}
	r->n++;
	return 0;
}

static void result_sort(struct vg_query_result *r)
{
	if (r->n > 1)
		qsort(r->series, r->n, sizeof(*r->series), series_cmp);
}

/* --- queries ------------------------------------------------------------ */

int vg_query_instant(struct vg_head *h, const struct vg_selector *sel, int64_t t_ms,
		     int64_t lookback_ms, struct vg_query_result *out, struct vg_err *err)
{
	uint32_t *ids = NULL;
	size_t n_ids = 0, cap = 0;
	int64_t from = sub_sat(t_ms, lookback_ms);
	struct vg_samples smp = { 0 };
	int rc;

	out->n = 0;
	out->series = NULL;
	if (lookback_ms <= 0)
		return vg_err_set(err, VG_EINVAL, "lookback delta must be positive");
	vg_head_rdlock(h);
	rc = vg_head_select_locked(h, sel, &ids, &n_ids);
	vg_head_unlock(h);
	/* One series at a time under the read lock: the writer, which takes
	 * it only to create a series, waits for one series at most. */
	for (size_t i = 0; rc == 0 && i < n_ids; i++) {
		size_t n;

		vg_head_rdlock(h);
		/* Only the window can hold the point. */
		rc = vg_head_read_locked(h, ids[i], after(from), t_ms, &smp);
		n = smp.n;
		if (rc == 0 && n > 0 && !is_stale(smp.values[n - 1]))
			rc = result_add_locked(out, &cap, h, ids[i], &t_ms, &smp.values[n - 1], 1);
		vg_head_unlock(h);
	}
	vg_samples_release(&smp);
	free(ids);
	if (rc != 0) {
		vg_query_result_release(out);
		return vg_err_set(err, rc, "out of memory evaluating an instant query");
	}
	result_sort(out);
	return 0;
}

/* The points of one series at start + k * step, k in [0, n_steps), into
 * pts/vals; returns how many. One forward walk over the samples. */
static size_t eval_range(const int64_t *ts, const double *vals, size_t n, int64_t start_ms,
			 int64_t step_ms, uint64_t n_steps, int64_t lookback_ms, int64_t *pts,
			 double *pvals)
{
	size_t out = 0, j = upper_bound(ts, n, start_ms);

	for (uint64_t k = 0; k < n_steps; k++) {
		int64_t t = start_ms + (int64_t)k * step_ms;

		while (j < n && ts[j] <= t)
			j++;
		if (j > 0 && ts[j - 1] > sub_sat(t, lookback_ms)) {
			if (!is_stale(vals[j - 1])) {
				pts[out] = t;
				pvals[out] = vals[j - 1];
				out++;
			}
			continue;
		}
		/* Nothing in the window: skip to the first step that reaches
		 * the next sample, if any. */
		if (j == n)
			break;
		uint64_t d = (uint64_t)ts[j] - (uint64_t)start_ms;
		uint64_t k2 = d / (uint64_t)step_ms + (d % (uint64_t)step_ms != 0);
		if (k2 > k + 1)
			k = k2 - 1;
	}
	return out;
}

int vg_query_range(struct vg_head *h, const struct vg_selector *sel, int64_t start_ms,
		   int64_t end_ms, int64_t step_ms, int64_t lookback_ms,
		   struct vg_query_result *out, struct vg_err *err)
{
	uint32_t *ids = NULL;
	size_t n_ids = 0, cap = 0;
	uint64_t n_steps;
	int64_t *pts = NULL;
	double *pvals = NULL;
	struct vg_samples smp = { 0 };
	int rc = 0;

	out->n = 0;
	out->series = NULL;
	if (end_ms < start_ms)
		return vg_err_set(err, VG_EINVAL, "end timestamp must not be before start time");
	if (step_ms <= 0)
		return vg_err_set(err, VG_EINVAL,
				  "zero or negative query resolution step widths are not accepted. "
				  "Try a positive integer");
	n_steps = ((uint64_t)end_ms - (uint64_t)start_ms) / (uint64_t)step_ms;
	if (n_steps > VG_QUERY_MAX_POINTS)
		return vg_err_set(err, VG_EINVAL,
				  "exceeded maximum resolution of 11,000 points per timeseries. "
				  "Try decreasing the query resolution (?step=XX)");
	if (lookback_ms <= 0)
		return vg_err_set(err, VG_EINVAL, "lookback delta must be positive");
	n_steps++;
	pts = malloc(n_steps * sizeof(*pts));
	pvals = malloc(n_steps * sizeof(*pvals));
	if (pts == NULL || pvals == NULL) {
		rc = VG_ENOMEM;
		goto out;
	}

	vg_head_rdlock(h);
	rc = vg_head_select_locked(h, sel, &ids, &n_ids);
	vg_head_unlock(h);
	for (size_t i = 0; rc == 0 && i < n_ids; i++) {
		size_t got = 0;

		vg_head_rdlock(h);
		/* Only samples some step can see. */
		rc = vg_head_read_locked(h, ids[i], after(sub_sat(start_ms, lookback_ms)), end_ms,
					 &smp);
		if (rc == 0 && smp.n > 0)
			got = eval_range(smp.ts_ms, smp.values, smp.n, start_ms, step_ms, n_steps,
					 lookback_ms, pts, pvals);
		if (got > 0)
			rc = result_add_locked(out, &cap, h, ids[i], pts, pvals, got);
		vg_head_unlock(h);
	}
	vg_samples_release(&smp);
out:
	free(ids);
	free(pts);
	free(pvals);
	if (rc != 0) {
		vg_query_result_release(out);
		return vg_err_set(err, rc, "out of memory evaluating a range query");
	}
	result_sort(out);
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int vg_query_series(struct vg_head *h, struct vg_selector *const *sels, size_t n_sels,
		    int64_t start_ms, int64_t end_ms, struct vg_query_result *out,
		    struct vg_err *err)
{
	uint32_t *all = NULL;
	size_t n_all = 0, cap_all = 0, cap = 0;
	struct vg_samples smp = { 0 };
	int rc = 0;

	out->n = 0;
	out->series = NULL;
	vg_head_rdlock(h);
	for (size_t s = 0; rc == 0 && s < n_sels; s++) {
		uint32_t *ids;
		size_t n_ids;

		rc = vg_head_select_locked(h, sels[s], &ids, &n_ids);
		if (rc != 0 || n_ids == 0)
			continue;
		if (n_all + n_ids > cap_all) {
			size_t ncap = cap_all ? cap_all : 64;
			void *p;
			while (ncap < n_all + n_ids)
				ncap *= 2;
			p = realloc(all, ncap * sizeof(*all));
			if (p == NULL) {
				free(ids);
				rc = VG_ENOMEM;
				break;
			}
			all = p;
			cap_all = ncap;
		}
		memcpy(all + n_all, ids, n_ids * sizeof(*ids));
		n_all += n_ids;
		free(ids);
	}
	/* Several selectors may pick the same series: sort, keep one each. */
	if (rc == 0 && n_sels > 1 && n_all > 1)
		qsort(all, n_all, sizeof(*all), id_cmp);
	vg_head_unlock(h);
	for (size_t i = 0; rc == 0 && i < n_all; i++) {
		if (i > 0 && all[i] == all[i - 1])
			continue;
		vg_head_rdlock(h);
		rc = vg_head_read_locked(h, all[i], start_ms, end_ms, &smp);
		if (rc == 0 && smp.n > 0)
			rc = result_add_locked(out, &cap, h, all[i], NULL, NULL, 0);
		vg_head_unlock(h);
	}
	vg_samples_release(&smp);
	free(all);
	if (rc != 0) {
		vg_query_result_release(out);
		return vg_err_set(err, rc, "out of memory listing series");
	}
	result_sort(out);
	return 0;
}
