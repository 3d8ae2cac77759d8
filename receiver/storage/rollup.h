/*
 * rollup.h: rollup buckets (the 1m and 1h tiers): computing them from raw
 * samples, joining them, and their columns in a block file. The meaning of
 * every field and the column layout are in docs/storage-format.md
 * ("Rollup buckets").
 *
 * Owns the aggregation arithmetic and the rollup column order. Does not
 * own block files (block_write.c), tiers' ranges (seal.c, compact.c) or
 * the stitching of tiers (storage.c).
 *
 * Invariants:
 *  - A bucket covers [t_ms, t_ms + width_ms), width 60,000 (1m) or
 *    3,600,000 (1h); t_ms is a multiple of the width; count >= 1.
 *  - increase, as stored, is the bucket's *inner* increase: over each
 *    pair of consecutive samples (p, q) inside the bucket, q - p when
 *    q >= p, else q (a counter reset: the counter restarted from 0). The
 *    step from the sample before the bucket to its first one is not in
 *    it: first is kept so that a reader adds it from the bucket before
 *    (vg_rollup_link), whichever tier or block that one came from. So a
 *    block's buckets depend on its own samples only.
 *  - Sums and increases are summed as scaled decimals when every value of
 *    the bucket has a decimal form (chunk.h), so 0.1 + 0.2 is stored as
 *    0.3 and the columns stay compact; in binary doubles otherwise.
 */
#ifndef VG_ROLLUP_H
#define VG_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "receiver/storage/block.h"

struct vg_buf;
struct vg_err;

#define VG_ROLLUP_1M_MS (60LL * 1000)
#define VG_ROLLUP_1H_MS (3600LL * 1000)

/* One bucket, as the read interface yields it. */
struct vg_bucket {
	int64_t t_ms;      /* start */
	int64_t width_ms;  /* 60,000 or 3,600,000 */
	uint64_t count;    /* samples */
	double min, max, sum;
	double first, last; /* values of the first and the last sample */
	double increase;   /* inner increase (see above), or after vg_rollup_link
			      the increase from the sample before the bucket */
};

/* A growable array of buckets; zero it to init. */
struct vg_buckets {
	struct vg_bucket *v;
	size_t n, cap;
};
int vg_buckets_reserve(struct vg_buckets *b, size_t n);
void vg_buckets_release(struct vg_buckets *b);

/* Columns of a rollup series in a block, in this order. */
enum vg_rollup_col {
	VG_ROLLUP_COL_TS = 0,
	VG_ROLLUP_COL_COUNT,
	VG_ROLLUP_COL_LAST,
	VG_ROLLUP_COL_FIRST,
	VG_ROLLUP_COL_MIN,
	VG_ROLLUP_COL_MAX,
	VG_ROLLUP_COL_SUM,
	VG_ROLLUP_COL_INCREASE,
};

/* The tier's bucket width; 0 for raw. */
int64_t vg_rollup_width(enum vg_tier tier);

/*
 * Appends to out the buckets of width_ms of n samples (timestamps strictly
 * ascending). VG_ENOMEM (out keeps what it had).
 */
int vg_rollup_compute(const int64_t *ts, const double *v, size_t n, int64_t width_ms,
		      struct vg_buckets *out);

/*
 * Buckets of a finer width (ascending, inner increases) into buckets of
 * width_ms appended to out: min, max, sum and count add up; first and last
 * come from the first and last bucket; the increase is the inner ones
 * plus the steps between consecutive buckets. Exact: the same as
 * vg_rollup_compute on the samples. VG_ENOMEM.
 */
int vg_rollup_coarsen(const struct vg_bucket *in, size_t n, int64_t width_ms,
		      struct vg_buckets *out);

/*
 * Joins two buckets of one start that came from different blocks (data
 * that reached the receiver twice, more than the raw retention late):
 * min, max, sum and count combine exactly; first, last and the increase
 * are the newer source's (into's when is_into_newer). Only rollup-only
 * data (older than the raw retention) meets this; within the raw
 * retention rollups are recomputed from the merged raw samples.
 */
void vg_rollup_join(struct vg_bucket *into, const struct vg_bucket *from, int is_into_newer);

/* Adds to each bucket's increase the step from the bucket before (its last
 * to this first, reset-aware), from the second bucket on. */
void vg_rollup_link(struct vg_bucket *b, size_t n);

/*
 * The VG_BLOCK_ROLLUP_COLUMNS columns of n buckets, appended to out (one
 * buffer; offs[c], lens[c] say where column c lies). Some columns are
 * encoded against others (docs/storage-format.md). VG_ENOMEM, VG_ELIMIT.
 */
int vg_rollup_encode(const struct vg_bucket *b, size_t n, struct vg_buf *out,
		     size_t offs[VG_BLOCK_ROLLUP_COLUMNS], size_t lens[VG_BLOCK_ROLLUP_COLUMNS]);
/* The buckets of one block series' columns, width given, appended to out.
 * VG_EINVAL with a message for damage, VG_ENOMEM. */
int vg_rollup_decode(const struct vg_block_col *cols, int64_t width_ms, struct vg_buckets *out,
		     struct vg_err *err);

/* Adds one series' buckets (n >= 1, one width) to a rollup block writer
 * (block_write.h), encoded into scratch. As vg_block_writer_add. */
struct vg_block_writer;
int vg_rollup_write_series(struct vg_block_writer *w, const uint8_t *key, size_t key_len,
			   const struct vg_bucket *b, size_t n, struct vg_buf *scratch,
			   struct vg_err *err);

#endif
