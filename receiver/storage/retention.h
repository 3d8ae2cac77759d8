/*
 * retention.h: which blocks the tiers keep (docs/storage-format.md,
 * "Retention").
 *
 * A block is deleted once wholly past its tier's retention: its max_t at
 * or before now - retention. With a size bound, the oldest blocks (by
 * max_t, any tier) are then deleted until all block files fit. Runs on the
 * sealer's thread (seal.h) at start, after every seal and every minute of
 * the receiver's clock, so it never races a seal or a compaction.
 */
#ifndef VG_RETENTION_H
#define VG_RETENTION_H

#include <stdint.h>

#include "receiver/storage/block.h"

struct vg_err;
struct vg_storage;

#define VG_RETENTION_DEFAULT_RAW_MS (7LL * 24 * 3600 * 1000)
#define VG_RETENTION_DEFAULT_1M_MS (30LL * 24 * 3600 * 1000)
#define VG_RETENTION_DEFAULT_1H_MS (365LL * 24 * 3600 * 1000)

struct vg_retention {
	int64_t ms[VG_TIER_COUNT]; /* per tier; 0 takes the default above */
	uint64_t size_bytes;       /* all block files; 0: no bound */
};

/* The retention of a tier, defaults applied. */
int64_t vg_retention_of(const struct vg_retention *r, enum vg_tier tier);

struct vg_retention_stats {
	uint64_t blocks_by_age, blocks_by_size, bytes;
};

/* Deletes what is past retention at now_ms (see above). r NULL: defaults.
 * VG_ENOMEM. */
int vg_retention_apply(struct vg_storage *st, const struct vg_retention *r, int64_t now_ms,
		       struct vg_retention_stats *out, struct vg_err *err);

#endif
