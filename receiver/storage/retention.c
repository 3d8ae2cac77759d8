/*
 * retention.c: deleting blocks past their tier's retention or beyond the
 * size bound (retention.h).
 *
 * Owns the choice of blocks to delete; the deletion itself is a
 * vg_storage_swap with nothing added, so a reader sees a block or does
 * not, and a selection that holds one keeps reading it.
 */
#include "receiver/storage/retention.h"
#include "common/err.h"
#include "common/log.h"
#include "receiver/storage/block_read.h"
#include "receiver/storage/storage.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/banned.h"

int64_t vg_retention_of(const struct vg_retention *r, enum vg_tier tier)
{
	static const int64_t defaults[VG_TIER_COUNT] = { VG_RETENTION_DEFAULT_RAW_MS,
							 VG_RETENTION_DEFAULT_1M_MS,
							 VG_RETENTION_DEFAULT_1H_MS };

	if ((unsigned)tier >= VG_TIER_COUNT)
		return 0;
	return r && r->ms[tier] > 0 ? r->ms[tier] : defaults[tier];
}

static int max_t_cmp(const void *x, const void *y)
{
	struct vg_block_info a, b;

	vg_block_info(*(struct vg_block *const *)x, &a);
	vg_block_info(*(struct vg_block *const *)y, &b);
	if (a.max_t != b.max_t)
		return a.max_t < b.max_t ? -1 : 1;
	return a.tier < b.tier ? -1 : a.tier > b.tier;
}

int vg_retention_apply(struct vg_storage *st, const struct vg_retention *r, int64_t now_ms,
		       struct vg_retention_stats *out, struct vg_err *err)
{
	struct vg_retention_stats rs = { 0, 0, 0 };
	struct vg_block **all = NULL, **gone = NULL;
	size_t n = 0, n_gone = 0;
	uint64_t total = 0;
	int rc;

	if (out)
		*out = rs;
	if ((rc = vg_storage_blocks(st, &all, &n)) != 0)
		return vg_err_set(err, rc, "out of memory applying retention");
	if ((gone = malloc((n ? n : 1) * sizeof(*gone))) == NULL) {
		vg_storage_blocks_free(all, n);
		return vg_err_set(err, VG_ENOMEM, "out of memory applying retention");
	}
	qsort(all, n, sizeof(*all), max_t_cmp);
	for (size_t i = 0; i < n; i++) {
		struct vg_block_info bi;

		vg_block_info(all[i], &bi);
		if (bi.max_t <= now_ms - vg_retention_of(r, bi.tier)) {
			gone[n_gone++] = all[i];
			rs.blocks_by_age++;
			rs.bytes += bi.file_bytes;
		} else {
			total += bi.file_bytes;
		}
	}
	/* The size bound: the oldest of what is left, until it fits. */
	for (size_t i = 0; r && r->size_bytes > 0 && total > r->size_bytes && i < n; i++) {
		struct vg_block_info bi;
		bool is_gone = false;

		for (size_t j = 0; j < n_gone && !is_gone; j++)
			is_gone = gone[j] == all[i];
		if (is_gone)
			continue;
		vg_block_info(all[i], &bi);
		gone[n_gone++] = all[i];
		total -= bi.file_bytes;
		rs.blocks_by_size++;
		rs.bytes += bi.file_bytes;
	}
	if (n_gone > 0) {
		rc = vg_storage_swap(st, NULL, 0, gone, n_gone, err);
		if (rc == 0)
			vg_info("retention: deleted %" PRIu64 " blocks past their tier's age and %" PRIu64
				" beyond the size bound, %" PRIu64 " bytes",
				rs.blocks_by_age, rs.blocks_by_size, rs.bytes);
	}
	free(gone);
	vg_storage_blocks_free(all, n);
	if (rc == 0 && out)
		*out = rs;
	return rc;
}
