/*
 * query.h: evaluation of selectors over the storage, with PromQL's semantics
 * (../shared/interfaces/promql-subset.md "Instant selector at evaluation
 * time t"): at each evaluation time t a series yields its newest sample in
 * (t - lookback, t], stamped t, read through storage.h, so the head and the
 * block files answer alike. The HTTP API formats the results; the PromQL
 * engine of a later issue evaluates its selectors through this same module.
 */
#ifndef VG_QUERY_H
#define VG_QUERY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct vg_err;
struct vg_storage;
struct vg_selector;

#define VG_QUERY_MAX_POINTS 11000 /* per series, as Prometheus */

/* Whether v is a staleness marker: the NaN with bits 0x7ff0000000000002
 * (an ordinary NaN is a value). */
static inline bool vg_query_is_stale(double v)
{
	uint64_t b;

	memcpy(&b, &v, sizeof(b));
	return b == 0x7ff0000000000002ULL;
}

/* a - b, saturating at the ends of int64_t (times near the ends). */
static inline int64_t vg_query_sub_sat(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_sub_overflow(a, b, &r))
		return b > 0 ? INT64_MIN : INT64_MAX;
	return r;
}

struct vg_query_series {
	uint8_t *key;      /* the series key (series.h), owned */
	size_t key_len;
	size_t n;          /* points */
	int64_t *ts_ms;    /* owned */
	double *values;    /* owned */
};

struct vg_query_result {
	size_t n;
	struct vg_query_series *series; /* sorted by label set; no empty series */
};

/* Instant query at t: one point per matching series that has a sample in
 * (t - lookback, t]. */
int vg_query_instant(struct vg_storage *st, const struct vg_selector *sel, int64_t t_ms,
		     int64_t lookback_ms, struct vg_query_result *out, struct vg_err *err);

/* Range query: points at start, start+step, ... <= end. VG_EINVAL (with
 * Prometheus's message) when end < start, step <= 0 or
 * (end - start) / step > VG_QUERY_MAX_POINTS (Prometheus's own test, so at
 * most one point more than that). lookback_ms must be > 0 (here and in
 * vg_query_instant). */
int vg_query_range(struct vg_storage *st, const struct vg_selector *sel, int64_t start_ms,
		   int64_t end_ms, int64_t step_ms, int64_t lookback_ms,
		   struct vg_query_result *out, struct vg_err *err);

/* The checks of vg_query_range, for every range query: 0 and the number
 * of steps in *n_steps, or VG_EINVAL with Prometheus's message. */
int vg_query_check_range(int64_t start_ms, int64_t end_ms, int64_t step_ms, int64_t lookback_ms,
			 uint64_t *n_steps, struct vg_err *err);

/* Series matching any of sels with a sample in [start, end], sorted,
 * duplicates removed; only key and key_len are set. */
int vg_query_series(struct vg_storage *st, struct vg_selector *const *sels, size_t n_sels,
		    int64_t start_ms, int64_t end_ms, struct vg_query_result *out,
		    struct vg_err *err);

void vg_query_result_release(struct vg_query_result *r);

/* The first index in ts[0..n) (ascending) with ts[i] > t. */
size_t vg_query_upper_bound(const int64_t *ts, size_t n, int64_t t);
/*
 * The limits of one query's evaluation and what it has used so far
 * (vigil-receiver.yaml(5), "query"). A struct per query, owned by the
 * thread that evaluates it; the fields another thread touches are the
 * flags is_stopping and is_client_gone point at, which that thread sets
 * (atomically) to stop the evaluation at its next check: the receiver
 * stops, or the query's client closed its connection. Checks sit where samples are
 * loaded and at each step: the deadline and the flag, then the counts.
 * A check that fails sets hit (so the caller can answer with the error
 * type Prometheus gives: a timeout, too many samples...) and returns
 * VG_ELIMIT with Prometheus's message.
 *
 * samples counts what the query holds: the points a range query has
 * produced so far plus whatever the current step loaded (an upper bound,
 * since a step's inputs are freed as it goes), as Prometheus's
 * --query.max-samples counts them; an instant query counts everything it
 * loaded.
 */
enum vg_query_hit {
	VG_QUERY_HIT_NONE = 0,
	VG_QUERY_HIT_TIMEOUT,  /* deadline passed: 503 timeout */
	VG_QUERY_HIT_CANCELED, /* is_stopping set: the receiver stops */
	VG_QUERY_HIT_SAMPLES,  /* max_samples: 422 execution */
	VG_QUERY_HIT_SERIES,   /* max_series: 422 execution */
	VG_QUERY_HIT_CLIENT_GONE, /* is_client_gone set: nobody waits for it */
};

struct vg_query_limits {
	int64_t deadline_ms;  /* on vg_clock_mono_ms; 0: none */
	uint64_t max_samples; /* held at once; 0: no limit */
	uint64_t max_series;  /* in one selection; 0: no limit */
	const _Atomic bool *is_stopping; /* NULL: never */
	const _Atomic bool *is_client_gone; /* NULL: never; set by the HTTP thread */
	/* What was used, and why evaluation stopped. */
	uint64_t samples;      /* held now */
	uint64_t peak_samples; /* the most held at once */
	enum vg_query_hit hit;
};

/* The deadline and the stop flag; lim NULL: 0. */
int vg_query_limits_check(struct vg_query_limits *lim, struct vg_err *err);
/* Counts n more samples held, then vg_query_limits_check. */
int vg_query_limits_add(struct vg_query_limits *lim, uint64_t n, struct vg_err *err);
/* Sets the samples held to n (a range query's output so far, at the start
 * of a step), then vg_query_limits_check. */
int vg_query_limits_hold(struct vg_query_limits *lim, uint64_t n, struct vg_err *err);
/* A selection of n series. */
int vg_query_limits_series(struct vg_query_limits *lim, size_t n, struct vg_err *err);

/* vg_query_range within lim (NULL: none). */
int vg_query_range_limited(struct vg_storage *st, const struct vg_selector *sel, int64_t start_ms,
			   int64_t end_ms, int64_t step_ms, int64_t lookback_ms,
			   struct vg_query_limits *lim, struct vg_query_result *out,
			   struct vg_err *err);

#endif
