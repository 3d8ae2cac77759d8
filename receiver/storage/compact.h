/*
 * compact.h: joining small blocks into larger ones and producing the
 * rollups of raw data from its merged samples (docs/storage-format.md,
 * "Compaction").
 *
 * Windows, aligned to the epoch: raw and 1m one day, 1h thirty days.
 *  - A raw window is compacted once it is complete (its end one block
 *    period behind now) and not yet past the raw retention, when it holds
 *    more than one raw block or one that is not compacted: its raw blocks
 *    are merged (a timestamp once, the newest block's sample), and from
 *    the merged samples one raw, one 1m and one 1h block of the window are
 *    written, which replace every block of those tiers in the window.
 *  - A 1m or 1h window wholly past the raw retention (rollup-only data:
 *    old imports) with more than one block of its tier is merged into one
 *    block (buckets of one start joined, rollup.h).
 * Every output is compacted (VG_BLOCK_F_COMPACTED) with a new stamp and
 * is published (rollups first, raw last) before the storage swaps it for
 * its inputs and deletes them; a crash between leaves inputs that the
 * next open removes (storage.h), so no state is half-done.
 *
 * Runs on the sealer's thread (seal.h), after a seal; one thread.
 */
#ifndef VG_COMPACT_H
#define VG_COMPACT_H

#include <stdint.h>

struct vg_err;
struct vg_retention;
struct vg_storage;

#define VG_COMPACT_RAW_WINDOW_MS (24LL * 3600 * 1000)
#define VG_COMPACT_1M_WINDOW_MS (24LL * 3600 * 1000)
#define VG_COMPACT_1H_WINDOW_MS (30LL * 24 * 3600 * 1000)

struct vg_compact_options {
	const char *data_dir;
	const struct vg_retention *retention; /* NULL: defaults */
	int64_t period_ms;                    /* the seal period */
	int64_t now_ms;                       /* the receiver's clock */
	/* For tests: sleep this long after publishing each output, so a
	 * test can kill the receiver between them. */
	int64_t testing_stall_ms;
};

struct vg_compact_stats {
	uint64_t windows, blocks_in, blocks_out, bytes_out;
};

/* Compacts every window that is due (see above). VG_EIO, VG_ENOMEM; on
 * failure the window being compacted is left as it was. */
int vg_compact_run(struct vg_storage *st, const struct vg_compact_options *o,
		   struct vg_compact_stats *out, struct vg_err *err);

#endif
