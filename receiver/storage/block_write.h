/*
 * block_write.h: writing one immutable block file (block.h).
 *
 * The caller opens a writer for a final path, adds the series in strictly
 * ascending vg_series_key_cmp order (the one series order, series.h: the
 * head sorts its series once when sealing; compaction merges blocks that
 * are each in that order), and finishes. Column bytes stream to a
 * temporary file next to the final one ("<path>.tmp") as they come, in
 * zstd-compressed groups; only the index (symbols, per-series labels as
 * symbol refs and locations, postings) stays in memory until finish writes
 * it, fdatasyncs the file, renames it to path and fdatasyncs the
 * directory (common/fs.h). Memory while writing: about 8 bytes per series
 * plus 4 per label pair plus ~16 for times, counts and locations, the
 * distinct strings once, and one column group (32 KiB by default) with its
 * compressed copy; at finish 4 more bytes per label pair for the postings.
 *
 * Why sorted input: series indexes in the block are then in the order
 * queries return series, postings come out ascending with no sort, a
 * reader finds a series by key with a binary search, and series that are
 * selected together (one metric) lie in the same few column groups.
 *
 * Failure: a write, fdatasync or rename that fails (ENOSPC above all)
 * makes the writer fail for good; vg_block_writer_finish then returns the
 * error, and finish or vg_block_writer_abort removes the temporary file, so
 * a failed block leaves no file and every earlier file as it was. A
 * "<path>.tmp" left by a crash is never a block: the caller removes such
 * names when it starts (an open writer truncates its own).
 *
 * One thread uses a writer.
 */
#ifndef VG_BLOCK_WRITE_H
#define VG_BLOCK_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "receiver/storage/block.h"

struct vg_err;
struct vg_fileops;

struct vg_block_writer;

struct vg_block_writer_options {
	enum vg_tier tier;
	int64_t min_t, max_t;          /* the block's range [min_t, max_t), ms; min_t < max_t */
	size_t group_bytes;            /* uncompressed bytes per column group; 0: 32 KiB */
	int zstd_level;                /* 0: 3 */
	const struct vg_fileops *ops;  /* NULL: the system calls */
	unsigned flags;                /* VG_BLOCK_F_* (block.h) */
};

/* What a finished block holds (from vg_block_writer_finish). */
struct vg_block_write_stats {
	uint64_t n_series;
	uint64_t n_points;       /* sum of the series' point counts */
	uint64_t n_groups;       /* column groups (zstd frames) */
	uint64_t n_symbols;
	uint64_t n_pairs;        /* distinct label pairs, "__name__" included */
	uint64_t column_bytes;   /* columns as given */
	uint64_t file_bytes;     /* the whole file */
	uint64_t columns_section_bytes; /* compressed columns */
	uint64_t index_bytes;    /* file_bytes - columns_section_bytes */
};

/* Opens a writer for path (its directory must exist): creates or truncates
 * "<path>.tmp". VG_EINVAL for bad options; VG_EIO. */
int vg_block_writer_open(const char *path, const struct vg_block_writer_options *opts,
			 struct vg_block_writer **out, struct vg_err *err);

/*
 * Adds one series: key in series.h's key form (canonical), its first and
 * last timestamps (min_t <= max_t, both in the block's range), its number
 * of points, and exactly vg_block_tier_columns(tier) columns (any may be
 * empty). The bytes are copied; nothing is kept from the arguments.
 * VG_EINVAL (the writer stays usable, nothing was added) for a key that is
 * not canonical or not after the previous one, times outside the range, or
 * min_t > max_t; VG_ELIMIT for more than VG_BLOCK_MAX_SERIES_BYTES of
 * columns, or past 2^32 - 1 series; VG_EIO (the writer has failed) when
 * writing out a group fails; VG_ENOMEM.
 */
int vg_block_writer_add(struct vg_block_writer *w, const uint8_t *key, size_t key_len,
			int64_t min_t, int64_t max_t, uint64_t n_points,
			const struct vg_block_col *cols, struct vg_err *err);

/*
 * Writes the index and footer, fdatasyncs, renames to the final path and
 * fdatasyncs the directory; frees w either way. On failure the temporary
 * file is gone and the final path is as it was, except when only the last
 * step (the directory fdatasync) failed: then the whole block is in place
 * under the final name but may not survive a crash, and VG_EIO says so.
 * st (may be NULL) gets the figures of the block written.
 */
int vg_block_writer_finish(struct vg_block_writer *w, struct vg_block_write_stats *st,
			   struct vg_err *err);

/* Drops the block being written: closes and removes the temporary file,
 * frees w (NULL is fine). */
void vg_block_writer_abort(struct vg_block_writer *w);

#endif
