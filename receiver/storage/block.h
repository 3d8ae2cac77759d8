/*
 * block.h: what the block writer (block_write.h) and reader (block_read.h)
 * share: tiers, column counts, limits and the format's constants. The byte
 * layout is at the top of block_write.c and in docs/storage-format.md.
 *
 * A block is one immutable file holding the series of one tier over one
 * time range [min_t, max_t) (milliseconds since the epoch; max_t is
 * exclusive). Per series it holds a fixed number of columns, opaque byte
 * strings that the caller encodes (receiver/storage/chunk.c): 2 in the raw
 * tier (timestamps, values), 8 in the rollup tiers (rollup.h: ts, count,
 * last, first, min, max, sum, increase). The block knows their count, not their meaning.
 */
#ifndef VG_BLOCK_H
#define VG_BLOCK_H

#include <stddef.h>
#include <stdint.h>

enum vg_tier {
	VG_TIER_RAW = 0,
	VG_TIER_1M = 1,
	VG_TIER_1H = 2,
};
#define VG_TIER_COUNT 3

#define VG_BLOCK_RAW_COLUMNS 2
#define VG_BLOCK_ROLLUP_COLUMNS 8
#define VG_BLOCK_MAX_COLUMNS 16

/* Format version this code writes and the newest it reads. */
#define VG_BLOCK_VERSION 2

/* Header flags (format version 2). A compacted block replaces every block
 * of its tier that lies within its range and has a lower stamp (the third
 * number of its name): docs/storage-format.md, "Compaction". */
#define VG_BLOCK_F_COMPACTED 1u

/* Limits, checked by the writer and again by the reader before anything
 * is allocated from a length in the file. */
#define VG_BLOCK_MAX_SERIES_BYTES (64u << 20) /* one series' columns, in all */
#define VG_BLOCK_MAX_GROUP_BYTES (64u << 20)  /* a column group, uncompressed */
#define VG_BLOCK_DEFAULT_GROUP_BYTES (32u << 10) /* docs/performance.md, "Block files" */
#define VG_BLOCK_MAX_SECTION_BYTES 0xFFFFFFF0u /* index sections use u32 offsets */

/* The parts of a block file, as errors and struct vg_block_damage name them. */
enum vg_block_section {
	VG_BLOCK_SECTION_HEADER = 0,
	VG_BLOCK_SECTION_COLUMNS = 1,
	VG_BLOCK_SECTION_GROUPS = 2,
	VG_BLOCK_SECTION_SYMBOLS = 3,
	VG_BLOCK_SECTION_SERIES = 4,
	VG_BLOCK_SECTION_POSTINGS = 5,
	VG_BLOCK_SECTION_FOOTER = 6,
};

/* Columns per series in a tier: 2 for raw, 8 for 1m and 1h; 0 for a value
 * that is no tier. */
static inline unsigned vg_block_tier_columns(int tier)
{
	return tier == VG_TIER_RAW ? VG_BLOCK_RAW_COLUMNS :
	       tier == VG_TIER_1M || tier == VG_TIER_1H ? VG_BLOCK_ROLLUP_COLUMNS : 0;
}

/* "raw", "1m", "1h", or "?" */
static inline const char *vg_tier_name(int tier)
{
	return tier == VG_TIER_RAW ? "raw" : tier == VG_TIER_1M ? "1m" : tier == VG_TIER_1H ? "1h" : "?";
}

/* One column of one series: a view. */
struct vg_block_col {
	const uint8_t *p;
	size_t len;
};

#endif
