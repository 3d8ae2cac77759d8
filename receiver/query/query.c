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
 * encoding (http_api.c) nor the storage, which it reads only through
 * storage.h: a selection, then one series at a time. Everything returned
 * is copied out, so the caller formats holding nothing.
 */
#include "receiver/query/query.h"
#include "receiver/storage/storage.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/selector.h"
#include "common/series.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

size_t vg_query_upper_bound(const int64_t *ts, size_t n, int64_t t)
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

static int series_cmp(const void *x, const void *y)
{
	const struct vg_query_series *a = x, *b = y;

	return vg_series_key_cmp(a->key, a->key_len, b->key, b->key_len);
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

/* Appends a series with a copy of its key and of n points. */
static int result_add(struct vg_query_result *r, size_t *cap, const uint8_t *key, size_t key_len,
		      const int64_t *ts, const double *vals, size_t n)
{
	struct vg_query_series *qs;

	if (r->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		void *p = realloc(r->series, ncap * sizeof(*r->series));
		if (p == NULL)
			return VG_ENOMEM;
		r->series = p;
		*cap = ncap;
	}
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

/* The message of a failed read, or of running out of memory. */
static int query_fail(struct vg_query_result *out, int rc, struct vg_err *err, const char *what)
{
	vg_query_result_release(out);
	if (rc == VG_ENOMEM)
		return vg_err_set(err, rc, "out of memory %s", what);
	return rc;
}

int vg_query_instant(struct vg_storage *st, const struct vg_selector *sel, int64_t t_ms,
		     int64_t lookback_ms, struct vg_query_result *out, struct vg_err *err)
{
	int64_t from = after(vg_query_sub_sat(t_ms, lookback_ms));
	struct vg_storage_set *set = NULL;
	struct vg_samples smp = { 0 };
	size_t cap = 0;
	int rc;

	out->n = 0;
	out->series = NULL;
	if (lookback_ms <= 0)
		return vg_err_set(err, VG_EINVAL, "lookback delta must be positive");
	if ((rc = vg_storage_select(st, sel, from, t_ms, VG_STORAGE_RES_RAW, &set, err)) != 0)
		return query_fail(out, rc, err, "evaluating an instant query");
	for (size_t i = 0; rc == 0 && i < vg_storage_set_len(set); i++) {
		const uint8_t *key;
		size_t len, n;

		/* Only the window can hold the point. */
		rc = vg_storage_set_read(set, i, from, t_ms, &smp, err);
		n = smp.n;
		if (rc != 0 || n == 0 || vg_query_is_stale(smp.values[n - 1]))
			continue;
		vg_storage_set_key(set, i, &key, &len);
		rc = result_add(out, &cap, key, len, &t_ms, &smp.values[n - 1], 1);
	}
	vg_samples_release(&smp);
	vg_storage_set_free(set);
	if (rc != 0)
		return query_fail(out, rc, err, "evaluating an instant query");
	/* A selection comes in the one series order already. */
	return 0;
}

/* The points of one series at start + k * step, k in [0, n_steps), into
 * pts/vals; returns how many. One forward walk over the samples. */
static size_t eval_range(const int64_t *ts, const double *vals, size_t n, int64_t start_ms,
			 int64_t step_ms, uint64_t n_steps, int64_t lookback_ms, int64_t *pts,
			 double *pvals)
{
	size_t out = 0, j = vg_query_upper_bound(ts, n, start_ms);

	for (uint64_t k = 0; k < n_steps; k++) {
		int64_t t = start_ms + (int64_t)k * step_ms;

		while (j < n && ts[j] <= t)
			j++;
		if (j > 0 && ts[j - 1] > vg_query_sub_sat(t, lookback_ms)) {
			if (!vg_query_is_stale(vals[j - 1])) {
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

int vg_query_check_range(int64_t start_ms, int64_t end_ms, int64_t step_ms, int64_t lookback_ms,
			 uint64_t *n_steps, struct vg_err *err)
{
	if (end_ms < start_ms)
		return vg_err_set(err, VG_EINVAL, "end timestamp must not be before start time");
	if (step_ms <= 0)
		return vg_err_set(err, VG_EINVAL,
				  "zero or negative query resolution step widths are not accepted. "
				  "Try a positive integer");
	*n_steps = ((uint64_t)end_ms - (uint64_t)start_ms) / (uint64_t)step_ms;
	if (*n_steps > VG_QUERY_MAX_POINTS)
		return vg_err_set(err, VG_EINVAL,
				  "exceeded maximum resolution of 11,000 points per timeseries. "
				  "Try decreasing the query resolution (?step=XX)");
	if (lookback_ms <= 0)
		return vg_err_set(err, VG_EINVAL, "lookback delta must be positive");
	(*n_steps)++;
	return 0;
}

int vg_query_range_limited(struct vg_storage *st, const struct vg_selector *sel, int64_t start_ms,
			   int64_t end_ms, int64_t step_ms, int64_t lookback_ms,
			   struct vg_query_limits *lim, struct vg_query_result *out,
			   struct vg_err *err)
{
	struct vg_storage_set *set = NULL;
	struct vg_samples smp = { 0 };
	int64_t from = after(vg_query_sub_sat(start_ms, lookback_ms));
	uint64_t n_steps, held = 0;
	int64_t *pts = NULL;
	double *pvals = NULL;
	size_t cap = 0;
	int rc = 0;

	out->n = 0;
	out->series = NULL;
	if ((rc = vg_query_check_range(start_ms, end_ms, step_ms, lookback_ms, &n_steps, err)) != 0)
		return rc;
	pts = malloc(n_steps * sizeof(*pts));
	pvals = malloc(n_steps * sizeof(*pvals));
	if (pts == NULL || pvals == NULL)
		rc = VG_ENOMEM;
	if (rc == 0)
		rc = vg_storage_select(st, sel, from, end_ms, VG_STORAGE_RES_RAW, &set, err);
	if (rc == 0)
		rc = vg_query_limits_series(lim, vg_storage_set_len(set), err);
	for (size_t i = 0; rc == 0 && i < vg_storage_set_len(set); i++) {
		const uint8_t *key;
		size_t len, got;

		/* Only samples some step can see. */
		rc = vg_storage_set_read(set, i, from, end_ms, &smp, err);
		if (rc != 0 || smp.n == 0 || (rc = vg_query_limits_hold(lim, held + smp.n, err)) != 0)
			continue;
		got = eval_range(smp.ts_ms, smp.values, smp.n, start_ms, step_ms, n_steps, lookback_ms,
				 pts, pvals);
		held += got;
		if (got == 0)
			continue;
		vg_storage_set_key(set, i, &key, &len);
		rc = result_add(out, &cap, key, len, pts, pvals, got);
	}
	vg_samples_release(&smp);
	vg_storage_set_free(set);
	free(pts);
	free(pvals);
	if (rc != 0)
		return query_fail(out, rc, err, "evaluating a range query");
	return vg_query_limits_hold(lim, held, err) == 0 ? 0 : query_fail(out, VG_ELIMIT, err, "");
}

int vg_query_range(struct vg_storage *st, const struct vg_selector *sel, int64_t start_ms,
		   int64_t end_ms, int64_t step_ms, int64_t lookback_ms,
		   struct vg_query_result *out, struct vg_err *err)
{
	return vg_query_range_limited(st, sel, start_ms, end_ms, step_ms, lookback_ms, NULL, out, err);
}

int vg_query_series(struct vg_storage *st, struct vg_selector *const *sels, size_t n_sels,
		    int64_t start_ms, int64_t end_ms, struct vg_query_result *out,
		    struct vg_err *err)
{
	struct vg_samples smp = { 0 };
	size_t cap = 0, kept = 0;
	int rc = 0;

	out->n = 0;
	out->series = NULL;
	for (size_t s = 0; rc == 0 && s < n_sels; s++) {
		struct vg_storage_set *set = NULL;

		rc = vg_storage_select(st, sels[s], start_ms, end_ms, VG_STORAGE_RES_RAW, &set, err);
		for (size_t i = 0; rc == 0 && i < vg_storage_set_len(set); i++) {
			const uint8_t *key;
			size_t len;

			rc = vg_storage_set_read(set, i, start_ms, end_ms, &smp, err);
			if (rc != 0 || smp.n == 0)
				continue;
			vg_storage_set_key(set, i, &key, &len);
			rc = result_add(out, &cap, key, len, NULL, NULL, 0);
		}
		vg_storage_set_free(set);
	}
	vg_samples_release(&smp);
	if (rc != 0)
		return query_fail(out, rc, err, "listing series");
	/* Several selectors may pick the same series: sort, keep one each. */
	if (n_sels > 1 && out->n > 1) {
		result_sort(out);
		for (size_t i = 0; i < out->n; i++) {
			if (kept > 0 && series_cmp(&out->series[kept - 1], &out->series[i]) == 0) {
				free(out->series[i].key);
				continue;
			}
			out->series[kept++] = out->series[i];
		}
		out->n = kept;
	}
	return 0;
}

/* --- limits (query.h) ----------------------------------------------------- */

int vg_query_limits_check(struct vg_query_limits *lim, struct vg_err *err)
{
	if (lim == NULL)
		return 0;
	if (lim->is_stopping != NULL && atomic_load_explicit(lim->is_stopping, memory_order_relaxed)) {
		lim->hit = VG_QUERY_HIT_CANCELED;
		return vg_err_set(err, VG_ELIMIT, "query was canceled in expression evaluation");
	}
	if (lim->is_client_gone != NULL &&
	    atomic_load_explicit(lim->is_client_gone, memory_order_relaxed)) {
		lim->hit = VG_QUERY_HIT_CLIENT_GONE;
		return vg_err_set(err, VG_ELIMIT, "query was canceled: its client closed the connection");
	}
	if (lim->deadline_ms != 0 && vg_clock_mono_ms() >= lim->deadline_ms) {
		lim->hit = VG_QUERY_HIT_TIMEOUT;
		return vg_err_set(err, VG_ELIMIT, "query timed out in expression evaluation");
	}
	return 0;
}

int vg_query_limits_hold(struct vg_query_limits *lim, uint64_t n, struct vg_err *err)
{
	if (lim == NULL)
		return 0;
	lim->samples = n;
	if (n > lim->peak_samples)
		lim->peak_samples = n;
	if (lim->max_samples != 0 && n > lim->max_samples) {
		lim->hit = VG_QUERY_HIT_SAMPLES;
		return vg_err_set(err, VG_ELIMIT,
				  "query processing would load too many samples into memory in query execution");
	}
	return vg_query_limits_check(lim, err);
}

int vg_query_limits_add(struct vg_query_limits *lim, uint64_t n, struct vg_err *err)
{
	if (lim == NULL)
		return 0;
	return vg_query_limits_hold(lim, lim->samples > UINT64_MAX - n ? UINT64_MAX : lim->samples + n, err);
}

int vg_query_limits_series(struct vg_query_limits *lim, size_t n, struct vg_err *err)
{
	if (lim == NULL)
		return 0;
	if (lim->max_series != 0 && n > lim->max_series) {
		lim->hit = VG_QUERY_HIT_SERIES;
		return vg_err_set(err, VG_ELIMIT,
				  "query processing would load too many series into memory in query execution: "
				  "a selector matches %zu series, the limit is %" PRIu64 " (query.max_series)",
				  n, lim->max_series);
	}
	return vg_query_limits_check(lim, err);
}
