/*
 * test_qtiers.c: range functions served from the rollup tiers
 * (receiver/query/planner.c) against the same functions over raw samples.
 *
 * Three days of a counter with resets, a gauge and a series that goes
 * stale for a while, every 10 s at 5 s past
 * the grid (so no sample lies on a bucket edge), go into two storages:
 * one that seals them (the receiver's own seal, compaction and retention,
 * their clock given as a time) into raw, 1m and 1h blocks, and one that
 * keeps them in its head only, which always answers from raw samples. The
 * same queries, instant and range, are evaluated on both: where raw
 * blocks exist and where retention left only the rollups. max, min,
 * count, last, first and present are equal; sum and avg are equal to
 * float rounding (summed in another order); rate and increase are within the counter's largest increase
 * between two samples at each end of the window (docs/query.md).
 */
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/series.h"
#include "promql/parse.h"
#include "receiver/query/eval.h"
#include "receiver/query/planner.h"
#include "receiver/storage/compact.h"
#include "receiver/storage/head.h"
#include "receiver/storage/retention.h"
#include "receiver/storage/seal.h"
#include "receiver/storage/storage.h"
#include "harness.h"

#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)
#define T0 1764028800000LL /* a day boundary */
#define STEP_MS 10000LL
#define DAYS 3
#define LOOKBACK_MS 300000LL

static uint64_t rng_state = 7;
static double rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

struct fixture {
	struct vg_head *h, *ref_h;
	struct vg_storage *st, *ref;
	char *dir;
	double max_step; /* the counter's largest increase between two samples */
};

static uint32_t head_add(struct vg_head *h, const char *name, const char *inst)
{
	struct vg_series s;
	uint32_t id;
	bool is_new;

	vg_series_init(&s, name);
	ck_assert_int_eq(vg_series_add(&s, "instance", inst), 0);
	ck_assert_int_eq(vg_series_canonicalize(&s, NULL), 0);
	ck_assert_int_eq(vg_head_get_or_create(h, &s, vg_series_hash(&s), &id, &is_new), 0);
	return id;
}

/* Writes the samples into both heads; seals and compacts the first at
 * now_ms, so only blocks hold them there. */
static void setup(struct fixture *f, int64_t now_ms)
{
	struct vg_storage_options so = { NULL, NULL };
	struct vg_compact_options co;
	struct vg_err err;
	uint32_t id[2][3];
	double c = 1000;

	vg_log_set_level(VG_LOG_ERROR);
	memset(f, 0, sizeof(*f));
	f->dir = vg_t_tmpdir("vigil-qtiers");
	f->h = vg_head_new();
	f->ref_h = vg_head_new();
	for (int k = 0; k < 2; k++) {
		struct vg_head *h = k ? f->ref_h : f->h;
		id[k][0] = head_add(h, "req_total", "a");
		id[k][1] = head_add(h, "temp", "a");
		id[k][2] = head_add(h, "gone", "a");
	}
	for (int64_t t = T0 + 5000; t < T0 + DAYS * DAY_MS; t += STEP_MS) {
		double inc = floor(rnd() * 500) / 10, g = floor(rnd() * 100000) / 100 - 300;
		c += inc;
		if (rnd() < 0.001)
			c = floor(rnd() * 10); /* a reset */
		else if (inc > f->max_step)
			f->max_step = inc;
		for (int k = 0; k < 2; k++) {
			struct vg_head *h = k ? f->ref_h : f->h;
			ck_assert_int_eq(vg_head_append(h, 1, &id[k][0], &t, &c), 0);
			ck_assert_int_eq(vg_head_append(h, 1, &id[k][1], &t, &g), 0);
		}
		/* gone: a staleness marker 30 minutes into the second day,
		 * then nothing for 20 minutes, then samples again */
		if (t >= T0 + DAY_MS + 30 * MIN_MS && t < T0 + DAY_MS + 50 * MIN_MS + 5000 &&
		    t != T0 + DAY_MS + 30 * MIN_MS + 5000)
			continue;
		{
			uint64_t bits = 0x7ff0000000000002ULL;
			double v = g;
			if (t == T0 + DAY_MS + 30 * MIN_MS + 5000)
				memcpy(&v, &bits, sizeof(v));
			for (int k = 0; k < 2; k++)
				ck_assert_int_eq(vg_head_append(k ? f->ref_h : f->h, 1, &id[k][2], &t, &v), 0);
		}
	}
	if (f->max_step < 10)
		f->max_step = 10; /* a reset's first sample, 0 to 9 */
	so.data_dir = f->dir;
	so.head = f->h;
	ck_assert_int_eq(vg_storage_open(&so, &f->st, &err), 0);
	so.data_dir = NULL;
	so.head = f->ref_h;
	ck_assert_int_eq(vg_storage_open(&so, &f->ref, &err), 0);
	ck_assert_int_eq(vg_head_freeze(f->h), 0);
	ck_assert_msg(vg_seal_frozen(f->h, f->st, f->dir, 2 * HOUR_MS, now_ms, NULL, NULL, &err) == 0, "%s",
		      err.msg);
	co = (struct vg_compact_options){ f->dir, NULL, 2 * HOUR_MS, now_ms, 0 };
	ck_assert_msg(vg_compact_run(f->st, &co, NULL, &err) == 0, "%s", err.msg);
}

static void teardown(struct fixture *f)
{
	vg_storage_close(f->st);
	vg_storage_close(f->ref);
	vg_head_free(f->h);
	vg_head_free(f->ref_h);
	vg_t_rmrf(f->dir);
	free(f->dir);
}

static void eval(struct vg_storage *st, const char *q, int64_t start, int64_t end, int64_t step,
		 struct vg_eval_result *r)
{
	struct vg_promql_node *n = NULL;
	struct vg_err err = { 0 };
	int rc;

	ck_assert_msg(vg_promql_parse(q, strlen(q), &n, NULL, &err) == 0, "%s: %s", q, err.msg);
	if (step > 0)
		rc = vg_eval_range(st, n, start, end, step, LOOKBACK_MS, r, &err);
	else
		rc = vg_eval_instant(st, n, start, LOOKBACK_MS, r, &err);
	ck_assert_msg(rc == 0, "%s: %s", q, err.msg);
	vg_promql_node_free(n);
}

/* The tolerance of fn's tier-served answer over a window of range_ms. */
static double tolerance(const struct fixture *f, const char *fn, int64_t range_ms, double want)
{
	double tol = 1e-9 * fmax(1.0, fabs(want));

	if (strcmp(fn, "increase") == 0)
		tol += 2 * f->max_step;
	else if (strcmp(fn, "rate") == 0)
		tol += 2 * f->max_step / ((double)range_ms / 1000.0);
	else if (strcmp(fn, "avg_over_time") == 0 || strcmp(fn, "sum_over_time") == 0)
		tol = 1e-12 * fmax(1.0, fabs(want)); /* sums in another order */
	else
		tol = 0; /* exact */
	return tol;
}

/* fn(metric[range]) on both storages, instant at t or a range query from
 * t to end at step: the same series, the same points, values within the
 * tolerance. Returns the points compared. */
static size_t compare(const struct fixture *f, const char *fn, const char *metric, const char *range,
		      int64_t range_ms, int64_t t, int64_t end, int64_t step)
{
	char q[200];
	struct vg_eval_result got, want;
	size_t points = 0;

	snprintf(q, sizeof(q), "%s(%s[%s])", fn, metric, range);
	eval(f->st, q, t, end, step, &got);
	eval(f->ref, q, t, end, step, &want);
	ck_assert_msg(got.series.n == want.series.n, "%s at %" PRId64 ": %zu series, raw %zu", q, t,
		      got.series.n, want.series.n);
	for (size_t i = 0; i < want.series.n; i++) {
		const struct vg_query_series *g = &got.series.series[i], *w = &want.series.series[i];
		ck_assert(g->key_len == w->key_len && memcmp(g->key, w->key, w->key_len) == 0);
		ck_assert_msg(g->n == w->n, "%s: %zu points, raw %zu", q, g->n, w->n);
		for (size_t k = 0; k < w->n; k++) {
			double tol = tolerance(f, fn, range_ms, w->values[k]);
			ck_assert_int_eq(g->ts_ms[k], w->ts_ms[k]);
			ck_assert_msg(fabs(g->values[k] - w->values[k]) <= tol,
				      "%s at %" PRId64 ": %.17g, raw %.17g (tolerance %g)", q, w->ts_ms[k],
				      g->values[k], w->values[k], tol);
			points++;
		}
	}
	vg_eval_result_release(&got);
	vg_eval_result_release(&want);
	return points;
}

static const char *const fns[] = {
	"rate", "increase", "avg_over_time", "min_over_time", "max_over_time", "count_over_time",
	"sum_over_time", "last_over_time", "first_over_time", "present_over_time",
};

/* Every function over windows of 1d (the 1h tier) and 30m (the 1m tier),
 * instant and as range queries. */
static void compare_all(const struct fixture *f)
{
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		const char *metric = strcmp(fns[i], "rate") == 0 || strcmp(fns[i], "increase") == 0 ?
					     "req_total" :
					     "temp";
		for (int m = 0; m < 2; m++) {
			const char *name = m ? "req_total" : metric;
			ck_assert_uint_eq(compare(f, fns[i], name, "1d", DAY_MS, T0 + 2 * DAY_MS, 0, 0), 1);
			ck_assert_uint_eq(compare(f, fns[i], name, "30m", 30 * MIN_MS, T0 + DAY_MS + 90 * MIN_MS, 0, 0),
					  1);
			/* A day of steps at 1h over 1d windows; six hours at 1m
			 * over 30m windows. */
			ck_assert_uint_eq(compare(f, fns[i], name, "1d", DAY_MS, T0 + DAY_MS, T0 + 2 * DAY_MS, HOUR_MS),
					  25);
			ck_assert_uint_eq(compare(f, fns[i], name, "30m", 30 * MIN_MS, T0 + DAY_MS,
						  T0 + DAY_MS + 6 * HOUR_MS, MIN_MS),
					  361);
		}
	}
}

START_TEST(test_qtiers_planner_chooses_the_tier_by_window)
{
	const int64_t now = T0 + 400 * DAY_MS;
	struct vg_plan_tiers t;
	size_t n_1h = 0;

	/* The default retention a year on: raw 7 days, 1m 30, 1h 365; the
	 * head holds the last two hours. */
	t.raw_from_ms = now - 7 * DAY_MS;
	t.from_ms[VG_TIER_RAW] = now - 7 * DAY_MS;
	t.to_ms[VG_TIER_RAW] = now - 2 * HOUR_MS;
	t.from_ms[VG_TIER_1M] = now - 30 * DAY_MS;
	t.to_ms[VG_TIER_1M] = now - 2 * HOUR_MS;
	t.from_ms[VG_TIER_1H] = now - 365 * DAY_MS;
	t.to_ms[VG_TIER_1H] = now - 2 * HOUR_MS;
	/* A year of max_over_time(x[1d]) at step 1d reads the 1h tier at
	 * every step but the last, which the head holds a part of. */
	for (int64_t b = now - 364 * DAY_MS; b <= now; b += DAY_MS) {
		int64_t res = vg_plan_resolution(&t, VG_PLAN_FN_MAX, b - DAY_MS, b);
		if (b == now)
			ck_assert_int_eq(res, VG_STORAGE_RES_RAW);
		else
			ck_assert_int_eq(res, VG_STORAGE_RES_1H);
		n_1h += res == VG_STORAGE_RES_1H;
	}
	ck_assert_uint_eq(n_1h, 364);
	/* Functions without a rollup form read raw. */
	ck_assert_int_eq(vg_plan_fn_of("quantile_over_time"), VG_PLAN_FN_NONE);
	ck_assert_int_eq(vg_plan_fn_of("stddev_over_time"), VG_PLAN_FN_NONE);
	ck_assert_int_eq(vg_plan_resolution(&t, VG_PLAN_FN_NONE, now - 100 * DAY_MS, now - 99 * DAY_MS),
			 VG_STORAGE_RES_RAW);
	/* Where raw exists: short or unaligned windows read raw... */
	ck_assert_int_eq(vg_plan_resolution(&t, VG_PLAN_FN_RATE, now - DAY_MS - 5 * MIN_MS, now - DAY_MS),
			 VG_STORAGE_RES_RAW);
	ck_assert_int_eq(vg_plan_resolution(&t, VG_PLAN_FN_MAX, now - 2 * DAY_MS + 1000, now - DAY_MS + 1000),
			 VG_STORAGE_RES_RAW);
	/* ... aligned ones of 24 buckets or more read that tier. */
	ck_assert_int_eq(vg_plan_resolution(&t, VG_PLAN_FN_MAX, now - DAY_MS - 30 * MIN_MS, now - DAY_MS),
			 VG_STORAGE_RES_1M);
	ck_assert_int_eq(vg_plan_resolution(&t, VG_PLAN_FN_MAX, now - DAY_MS - 23 * MIN_MS, now - DAY_MS),
			 VG_STORAGE_RES_RAW);
	/* Before raw: the rollups, whatever the window. */
	ck_assert_int_eq(vg_plan_resolution(&t, VG_PLAN_FN_RATE, now - 20 * DAY_MS - 5 * MIN_MS + 7,
					    now - 20 * DAY_MS + 7),
			 VG_STORAGE_RES_1M);
	ck_assert_int_eq(vg_plan_resolution(&t, VG_PLAN_FN_SUM, now - 9 * DAY_MS, now - 7 * DAY_MS),
			 VG_STORAGE_RES_1H);
}
END_TEST

START_TEST(test_qtiers_rollup_answers_equal_raw_ones_where_raw_exists)
{
	struct fixture f;
	struct vg_plan_tiers t;

	setup(&f, T0 + DAYS * DAY_MS + 3 * HOUR_MS);
	vg_plan_tiers_load(f.st, &t);
	ck_assert_int_eq(t.raw_from_ms, T0);
	ck_assert_int_eq(vg_plan_resolution(&t, VG_PLAN_FN_MAX, T0 + DAY_MS, T0 + 2 * DAY_MS),
			 VG_STORAGE_RES_1H);
	ck_assert_int_eq(vg_plan_resolution(&t, VG_PLAN_FN_MAX, T0 + DAY_MS, T0 + DAY_MS + 30 * MIN_MS),
			 VG_STORAGE_RES_1M);
	/* the head-only storage has no rollup blocks: raw */
	vg_plan_tiers_load(f.ref, &t);
	ck_assert_int_eq(vg_plan_resolution(&t, VG_PLAN_FN_MAX, T0 + DAY_MS, T0 + 2 * DAY_MS),
			 VG_STORAGE_RES_RAW);
	compare_all(&f);
	teardown(&f);
}
END_TEST

START_TEST(test_qtiers_rollup_answers_equal_raw_ones_where_only_rollups_are_left)
{
	struct fixture f;
	struct vg_plan_tiers t;
	struct vg_err err;

	setup(&f, T0 + DAYS * DAY_MS + 3 * HOUR_MS);
	/* Ten days on, retention removes the raw blocks; 1m and 1h stay. */
	ck_assert_int_eq(vg_retention_apply(f.st, NULL, T0 + (DAYS + 8) * DAY_MS, NULL, &err), 0);
	vg_plan_tiers_load(f.st, &t);
	ck_assert_int_eq(t.from_ms[VG_TIER_RAW], INT64_MAX);
	ck_assert_int_ge(t.raw_from_ms, T0 + DAYS * DAY_MS);
	compare_all(&f);
	{
		/* A window shorter than a bucket, off the grid: an answer,
		 * not nothing, where only rollups are. */
		struct vg_eval_result r;
		eval(f.st, "rate(req_total[5m])", T0 + DAY_MS + 7 * MIN_MS + 1234, 0, 0, &r);
		ck_assert_uint_eq(r.series.n, 1);
		ck_assert(r.series.series[0].values[0] > 0);
		vg_eval_result_release(&r);
		/* stddev_over_time has no rollup form: nothing without raw. */
		eval(f.st, "stddev_over_time(temp[1d])", T0 + 2 * DAY_MS, 0, 0, &r);
		ck_assert_uint_eq(r.series.n, 0);
		vg_eval_result_release(&r);
	}
	teardown(&f);
}
END_TEST

/* A range query that reads a selector once for all its steps gives what
 * evaluating each step alone gives: the same value at each step, and no
 * point where a step alone has none (gone's staleness marker and gap). */
START_TEST(test_qtiers_range_query_steps_equal_instant_queries)
{
	static const char *const qs[] = {
		"rate(req_total[5m])", "temp", "temp offset 7m", "max_over_time(temp[17m])",
		"sum(rate(req_total[2m])) by (instance)", "temp @ 1764115200", "max_over_time(temp[30m:1m])",
		"stddev_over_time(temp[1h])", "gone", "count_over_time(gone[5m])", "rate(gone[3m])",
		"last_over_time(gone[2m])",
	};
	struct fixture f;
	const int64_t start = T0 + DAY_MS + 12345, end = start + 2 * HOUR_MS, step = 70000;

	setup(&f, T0 + DAYS * DAY_MS + 3 * HOUR_MS);
	for (size_t i = 0; i < 2 * sizeof(qs) / sizeof(qs[0]); i++) {
		struct vg_storage *st = i % 2 ? f.st : f.ref;
		struct vg_eval_result r;
		size_t k = 0;
		size_t missing = 0;
		eval(st, qs[i / 2], start, end, step, &r);
		ck_assert_uint_eq(r.series.n, 1);
		for (int64_t t = start; t <= end; t += step) {
			struct vg_eval_result one;
			const struct vg_query_series *s = &r.series.series[0];
			eval(st, qs[i / 2], t, 0, 0, &one);
			ck_assert_uint_le(one.series.n, 1);
			if (one.series.n == 0) {
				ck_assert_msg(k == s->n || s->ts_ms[k] != t, "%s: a point at %" PRId64, qs[i / 2], t);
				missing++;
			} else {
				ck_assert_uint_lt(k, s->n);
				ck_assert_int_eq(s->ts_ms[k], t);
				ck_assert_msg(s->values[k] == one.series.series[0].values[0], "%s at %" PRId64,
					      qs[i / 2], t);
				k++;
			}
			vg_eval_result_release(&one);
		}
		ck_assert_uint_eq(k, r.series.series[0].n);
		if (strstr(qs[i / 2], "gone") && i % 2 == 0)
			ck_assert_uint_gt(missing, 0); /* the gap shows */
		vg_eval_result_release(&r);
	}
	teardown(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qtiers");
	TCase *tc = tcase_create("qtiers");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_qtiers_planner_chooses_the_tier_by_window);
	tcase_add_test(tc, test_qtiers_rollup_answers_equal_raw_ones_where_raw_exists);
	tcase_add_test(tc, test_qtiers_rollup_answers_equal_raw_ones_where_only_rollups_are_left);
	tcase_add_test(tc, test_qtiers_range_query_steps_equal_instant_queries);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
