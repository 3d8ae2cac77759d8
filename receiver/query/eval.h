/*
 * eval.h: the PromQL evaluator, over a tree from promql/parse.h, reading
 * the storage only through receiver/storage/storage.h.
 *
 * Semantics are Prometheus 3's (../shared/interfaces/promql-subset.md):
 * instant selectors take the newest sample in (t - offset - lookback,
 * t - offset], range selectors every sample in (t - offset - range,
 * t - offset] (windows open on the left), @ pins t; staleness markers end
 * a series. A range query evaluates the expression at start, start + step,
 * ... <= end, each step as an instant query.
 *
 * This first version evaluates: number and string literals, instant and
 * range selectors with offset and @, subqueries (steps at multiples of the
 * step from the epoch, default 1m), parentheses, unary minus, arithmetic
 * and comparison operators (with bool) between scalars and vectors with
 * vector matching (on, ignoring, group_left, group_right), the set
 * operators and, or, unless, the aggregations sum, avg, min, max, count,
 * group, stddev, stdvar, topk, bottomk, quantile, count_values, limitk
 * and limit_ratio (Prometheus 3's: the first k of a group in input order;
 * the series whose label hash falls in the ratio) with by and without,
 * and the functions rate, irate, increase, delta, idelta,
 * resets, changes, deriv, predict_linear, absent, absent_over_time, the
 * avg/min/max/sum/count/last/first/present/stddev/stdvar/quantile/mad
 * _over_time family, abs, ceil, floor,
 * exp, ln, log2, log10, sqrt, sgn, clamp, clamp_min, clamp_max,
 * histogram_quantile (classic le buckets), timestamp, label_join,
 * label_replace (Go's $1/${name} expansion), the
 * date functions (day_of_month ... year, UTC), round, the trigonometric
 * functions, deg, rad, pi, sort, sort_desc, sort_by_label and
 * sort_by_label_desc (natural order of label values), time, vector and
 * scalar. An instant vector comes out sorted by label set, except after
 * sort, sort_desc, sort_by_label(_desc), topk and bottomk (their order, as
 * Prometheus answers).
 * Anything else
 * the parser accepts is refused with VG_EINVAL and "... is not supported by
 * this version of the engine" rather than given a wrong answer.
 *
 * Range functions with a rollup form read the 1m or 1h tier where the
 * planner says so (planner.h, docs/query.md "Tiers"). A range query
 * selects and reads each selector once for all its steps (span.h).
 *
 * Limits (vg_eval_*_limited, struct vg_query_limits in query.h): the
 * deadline and the stop flag are checked at every series loaded and every
 * step; the samples held and the series of each selection are counted
 * where samples are loaded, a span's included.
 */
#ifndef VG_EVAL_H
#define VG_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "promql/ast.h"
#include "receiver/query/query.h"

struct vg_err;
struct vg_storage;

struct vg_eval_result {
	enum vg_promql_type type;
	double scalar;      /* VG_PROMQL_SCALAR */
	char *str;          /* VG_PROMQL_STRING, owned */
	size_t str_len;
	/* VG_PROMQL_VECTOR: one point per series, stamped t;
	 * VG_PROMQL_MATRIX: the samples of each series (or, for a range
	 * query, the point of each step). Sorted by label set. A series
	 * without a metric name has an empty name in its key. */
	struct vg_query_result series;
	/* For the API's stats: the samples read from storage, summed over
	 * every step (Prometheus's totalQueryableSamples), and the most held
	 * at once (peakSamples: those read for one step plus the points kept
	 * from the steps before). */
	uint64_t samples_total, samples_peak;
};

/* Evaluates expr at t_ms. VG_EINVAL with the message of an evaluation
 * error (Prometheus's words where it has them), VG_ENOMEM, or a storage
 * error. */
int vg_eval_instant(struct vg_storage *st, const struct vg_promql_node *expr, int64_t t_ms,
		    int64_t lookback_ms, struct vg_eval_result *out, struct vg_err *err);

/* Evaluates expr (of type scalar or instant vector) at start, start +
 * step, ... <= end; the result is a matrix (a scalar becomes a series
 * without labels). The same checks of end, step and points as
 * vg_query_range. */
int vg_eval_range(struct vg_storage *st, const struct vg_promql_node *expr, int64_t start_ms,
		  int64_t end_ms, int64_t step_ms, int64_t lookback_ms, struct vg_eval_result *out,
		  struct vg_err *err);

/* vg_eval_instant and vg_eval_range within lim (query.h; NULL: none):
 * VG_ELIMIT with Prometheus's message, and lim->hit saying which limit,
 * once the deadline passed, lim->is_stopping was set, or a selection or
 * the samples held went past their limit. */
int vg_eval_instant_limited(struct vg_storage *st, const struct vg_promql_node *expr, int64_t t_ms,
			    int64_t lookback_ms, struct vg_query_limits *lim, struct vg_eval_result *out,
			    struct vg_err *err);
int vg_eval_range_limited(struct vg_storage *st, const struct vg_promql_node *expr, int64_t start_ms,
			  int64_t end_ms, int64_t step_ms, int64_t lookback_ms,
			  struct vg_query_limits *lim, struct vg_eval_result *out, struct vg_err *err);

void vg_eval_result_release(struct vg_eval_result *r);

#endif
