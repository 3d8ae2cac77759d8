/*
 * planner.c: the tier a range function's window is read from, and range
 * functions over rollup buckets (planner.h; the rules in docs/query.md,
 * "Tiers").
 *
 * Owns the resolution rule and the bucket arithmetic. Reads the tiers'
 * extents through storage.h only (vg_storage_stats), once per query.
 */
#include "receiver/query/planner.h"

#include <math.h>
#include <string.h>

#include "common/banned.h"

static const struct {
	const char *name;
	enum vg_plan_fn fn;
} rollup_fns[] = {
	{ "rate", VG_PLAN_FN_RATE },
	{ "increase", VG_PLAN_FN_INCREASE },
	{ "avg_over_time", VG_PLAN_FN_AVG },
	{ "min_over_time", VG_PLAN_FN_MIN },
	{ "max_over_time", VG_PLAN_FN_MAX },
	{ "count_over_time", VG_PLAN_FN_COUNT },
	{ "sum_over_time", VG_PLAN_FN_SUM },
	{ "last_over_time", VG_PLAN_FN_LAST },
	{ "first_over_time", VG_PLAN_FN_FIRST },
	{ "present_over_time", VG_PLAN_FN_PRESENT },
};

enum vg_plan_fn vg_plan_fn_of(const char *name)
{
	/* Asked at every step of a range query: the first letter first. */
	for (size_t i = 0; i < sizeof(rollup_fns) / sizeof(rollup_fns[0]); i++)
		if (name[0] == rollup_fns[i].name[0] && strcmp(name, rollup_fns[i].name) == 0)
			return rollup_fns[i].fn;
	return VG_PLAN_FN_NONE;
}

bool vg_plan_fn_keeps_name(enum vg_plan_fn fn)
{
	return fn == VG_PLAN_FN_LAST || fn == VG_PLAN_FN_FIRST;
}

void vg_plan_tiers_load(struct vg_storage *st, struct vg_plan_tiers *out)
{
	struct vg_storage_stats ss;
	int64_t newest = INT64_MIN;
	bool has_blocks = false;

	vg_storage_stats(st, &ss);
	for (int k = 0; k < VG_TIER_COUNT; k++) {
		const struct vg_storage_tier_stats *ts = &ss.tier[k];
		out->from_ms[k] = ts->blocks ? ts->oldest_ms : INT64_MAX;
		out->to_ms[k] = ts->blocks ? ts->newest_ms : INT64_MIN;
		if (ts->blocks) {
			has_blocks = true;
			if (ts->newest_ms > newest)
				newest = ts->newest_ms;
		}
	}
	/* Raw is the raw blocks and the head, which holds what came after
	 * the newest block of any tier (storage.h). */
	if (ss.tier[VG_TIER_RAW].blocks)
		out->raw_from_ms = ss.tier[VG_TIER_RAW].oldest_ms;
	else
		out->raw_from_ms = has_blocks ? newest : INT64_MIN;
}

static bool is_aligned(int64_t t, int64_t w)
{
	return t % w == 0;
}

static int tier_of(int64_t w)
{
	return w == VG_STORAGE_RES_1H ? VG_TIER_1H : VG_TIER_1M;
}

int64_t vg_plan_resolution(const struct vg_plan_tiers *t, enum vg_plan_fn fn, int64_t a, int64_t b)
{
	static const int64_t widths[] = { VG_STORAGE_RES_1H, VG_STORAGE_RES_1M };
	int64_t range;

	if (fn == VG_PLAN_FN_NONE || b <= a || __builtin_sub_overflow(b, a, &range))
		return VG_STORAGE_RES_RAW;
	if (a < t->raw_from_ms) {
		/* Raw does not reach back so far: the rollups answer, stitched
		 * with what raw there is. The coarsest width the window's ends
		 * fall on (the same answer as a finer one, from fewer buckets);
		 * off the grid, 1h for windows of a day or more. */
		if ((is_aligned(a, VG_STORAGE_RES_1H) && is_aligned(b, VG_STORAGE_RES_1H)) ||
		    (!(is_aligned(a, VG_STORAGE_RES_1M) && is_aligned(b, VG_STORAGE_RES_1M)) &&
		     range >= VG_PLAN_MIN_BUCKETS * VG_STORAGE_RES_1H))
			return VG_STORAGE_RES_1H;
		return VG_STORAGE_RES_1M;
	}
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		int64_t w = widths[i];
		int k = tier_of(w);
		if (is_aligned(a, w) && is_aligned(b, w) && range >= VG_PLAN_MIN_BUCKETS * w &&
		    t->from_ms[k] <= a && t->to_ms[k] >= b)
			return w;
	}
	return VG_STORAGE_RES_RAW;
}

/* The first bucket of b[0..n) that ends after a. */
static size_t first_ending_after(const struct vg_bucket *b, size_t n, int64_t a)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b[mid].t_ms + b[mid].width_ms <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static double step_increase(double prev, double cur)
{
	return cur >= prev ? cur - prev : cur;
}

bool vg_plan_eval(enum vg_plan_fn fn, const struct vg_bucket *b, size_t n, int64_t a, int64_t e,
		  double *out)
{
	size_t i0 = first_ending_after(b, n, a), i;
	double count = 0, sum = 0, inc = 0, acc = NAN, first = NAN, last = NAN;
	uint64_t samples = 0;
	bool is_linked = false;

	if (e <= a)
		return false;
	for (i = i0; i < n && b[i].t_ms < e; i++) {
		const struct vg_bucket *x = &b[i];
		int64_t lo = x->t_ms > a ? x->t_ms : a;
		int64_t hi = x->t_ms + x->width_ms < e ? x->t_ms + x->width_ms : e;
		double share = hi - lo >= x->width_ms ? 1.0 : (double)(hi - lo) / (double)x->width_ms;
		double xi = x->increase;

		if (i == i0 && i > 0) {
			/* Linked to the bucket before (vg_rollup_link): keep that
			 * step only from an adjacent bucket. */
			const struct vg_bucket *p = &b[i - 1];
			if (p->t_ms + p->width_ms == x->t_ms)
				is_linked = true;
			else
				xi -= step_increase(p->last, x->first);
		}
		if (i == i0) {
			first = x->first;
			acc = fn == VG_PLAN_FN_MIN ? x->min : x->max;
		} else if (fn == VG_PLAN_FN_MIN ? (isnan(acc) || x->min < acc) : (isnan(acc) || x->max > acc)) {
			acc = fn == VG_PLAN_FN_MIN ? x->min : x->max;
		}
		last = x->last;
		count += share * (double)x->count;
		sum += share * x->sum;
		inc += share * xi;
		samples += x->count;
	}
	if (i == i0)
		return false;
	switch (fn) {
	case VG_PLAN_FN_RATE:
	case VG_PLAN_FN_INCREASE:
		if (samples + (is_linked ? 1 : 0) < 2)
			return false;
		*out = fn == VG_PLAN_FN_RATE ? inc / ((double)(e - a) / 1000.0) : inc;
		return true;
	case VG_PLAN_FN_AVG: *out = sum / count; return true;
	case VG_PLAN_FN_MIN:
	case VG_PLAN_FN_MAX: *out = acc; return true;
	case VG_PLAN_FN_COUNT: *out = count; return true;
	case VG_PLAN_FN_SUM: *out = sum; return true;
	case VG_PLAN_FN_LAST: *out = last; return true;
	case VG_PLAN_FN_FIRST: *out = first; return true;
	case VG_PLAN_FN_PRESENT: *out = 1; return true;
	case VG_PLAN_FN_NONE: break;
	}
	return false;
}
