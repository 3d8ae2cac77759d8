/*
 * planner.h: which tier answers a range function's window, and the value
 * of a function over rollup buckets (docs/query.md, "Tiers").
 *
 * Owns the choice of resolution per window and the arithmetic of range
 * functions over buckets. Reads only receiver/storage/storage.h (the
 * tiers' extents from vg_storage_stats); does not own selections or the
 * evaluator's values (eval.c).
 *
 * Invariants:
 *  - Raw is chosen for every function without a rollup form, and for a
 *    window that raw samples cover unless it is aligned to the bucket
 *    width, at least VG_PLAN_MIN_BUCKETS buckets long and within that
 *    tier's blocks: then the rollup answer equals the raw one (see
 *    vg_plan_eval for what "equal" means at the window's ends).
 *  - A window that reaches back before the oldest raw sample is read from
 *    the rollups (the storage stitches the tiers), so it has no gap where
 *    raw ends.
 */
#ifndef VG_PLANNER_H
#define VG_PLANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "receiver/storage/storage.h"

/* Buckets a window must span before rollups replace raw samples. */
#define VG_PLAN_MIN_BUCKETS 24

/* Range functions that have a rollup form. */
enum vg_plan_fn {
	VG_PLAN_FN_NONE = 0,
	VG_PLAN_FN_RATE,     /* Σ increase / window seconds */
	VG_PLAN_FN_INCREASE, /* Σ increase */
	VG_PLAN_FN_AVG,      /* Σ sum / Σ count */
	VG_PLAN_FN_MIN,
	VG_PLAN_FN_MAX,
	VG_PLAN_FN_COUNT,    /* Σ count */
	VG_PLAN_FN_SUM,      /* Σ sum */
	VG_PLAN_FN_LAST,     /* last of the last bucket */
	VG_PLAN_FN_FIRST,    /* first of the first bucket */
	VG_PLAN_FN_PRESENT,  /* 1 */
};

/* The rollup form of a PromQL function, VG_PLAN_FN_NONE without one. */
enum vg_plan_fn vg_plan_fn_of(const char *name);
/* Whether the function keeps the metric name (last and first do). */
bool vg_plan_fn_keeps_name(enum vg_plan_fn fn);

/* Where each tier holds data, as the storage says at one moment. */
struct vg_plan_tiers {
	int64_t raw_from_ms; /* raw samples from here on; INT64_MIN: everywhere */
	int64_t from_ms[VG_TIER_COUNT], to_ms[VG_TIER_COUNT]; /* a rollup tier's blocks; from > to: none */
};

void vg_plan_tiers_load(struct vg_storage *st, struct vg_plan_tiers *out);

/*
 * The resolution to read the window (a, b] of fn with: VG_STORAGE_RES_RAW,
 * VG_STORAGE_RES_1M or VG_STORAGE_RES_1H (the rules in docs/query.md).
 */
int64_t vg_plan_resolution(const struct vg_plan_tiers *t, enum vg_plan_fn fn, int64_t a, int64_t b);

/*
 * fn over the window (a, e] from a series' buckets b[0..n) (ascending,
 * increases linked as vg_storage_set_read_buckets gives them; they may
 * reach far beyond the window: a binary search finds it, so one read
 * serves every step of a range query). For the arithmetic
 * the window is taken as [a, e) in milliseconds: a bucket [t, t + width)
 * counts by the share of it that lies in [a, e), so in an aligned window
 * whole buckets count and the others not at all; min, max, first, last
 * and present take every bucket with a share. The increase of the first
 * bucket counted includes the step from the bucket before it only when
 * that one ends where it starts. false when nothing answers (no bucket
 * in the window; for rate and increase fewer than two samples).
 */
bool vg_plan_eval(enum vg_plan_fn fn, const struct vg_bucket *b, size_t n, int64_t a, int64_t w_end,
		  double *out);

#endif
