/*
 * tombstone.h: deleted ranges of series (POST
 * /api/v1/admin/tsdb/delete_series), applied when samples are read and
 * when the head is sealed, so that what was deleted never shows again:
 * not from the head, not from a block, not from the WAL after a replay.
 *
 * A tombstone is a series selector (the text the operator gave, as
 * common/selector.h parses it) and a time range [min_t, max_t], both ends
 * included, in ms: every sample of every series the selector matches whose
 * timestamp lies in the range is deleted. The list lives in one file,
 * <data_dir>/tombstones (docs/storage-format.md, "Tombstones"), replaced
 * atomically (common/fs.h) before vg_tombstones_add returns: a delete that
 * answered is durable, and a crash leaves the old list or the new one.
 * Block files are never changed in place; a block written later (a seal, a
 * compaction) leaves out what the list deletes (vg_tombstones_cut). The
 * list is kept: tombstones are few and small.
 *
 * Threads: any thread reads (vg_tombstones_match) and adds; a mutex, taken
 * for list operations only, never across I/O, guards the list; nothing is
 * taken while holding it (a leaf, docs/threads.md).
 */
#ifndef VG_TOMBSTONE_H
#define VG_TOMBSTONE_H

#include <stddef.h>
#include <stdint.h>

#include "common/series.h"

struct vg_err;
struct vg_samples;
struct vg_selector;

struct vg_tombstones;

/* A deleted range, both ends included (ms). */
struct vg_interval {
	int64_t min_t, max_t;
};

/* Limits, checked when adding and again, before allocating, when reading
 * the file. */
#define VG_TOMBSTONES_MAX 65536             /* tombstones in the list */
#define VG_TOMBSTONE_MAX_SELECTOR (64u << 10) /* bytes of one selector */
#define VG_TOMBSTONES_MAX_FILE (64u << 20)  /* bytes of the file */

/*
 * Loads <data_dir>/tombstones (none: an empty list; data_dir NULL: a list
 * in memory only). A damaged file fails the open with its name and the
 * fault (VG_EINVAL; VG_EVERSION for a newer format), because serving
 * without it would show deleted data again. On failure *out is NULL.
 */
int vg_tombstones_open(const char *data_dir, struct vg_tombstones **out, struct vg_err *err);
void vg_tombstones_free(struct vg_tombstones *t);

/*
 * Adds one tombstone per selector (n >= 1, each with a matcher), all with the
 * range [min_t, max_t] (min_t <= max_t), and makes the list durable before
 * returning 0. VG_EINVAL for a bad selector or range, VG_ELIMIT past the
 * limits, VG_EIO when the file cannot be written (the list is then as it
 * was).
 */
int vg_tombstones_add(struct vg_tombstones *t, const struct vg_selector *selectors, size_t n,
		      int64_t min_t, int64_t max_t, struct vg_err *err);

/* Tombstones in the list. */
size_t vg_tombstones_len(struct vg_tombstones *t);

/*
 * The ranges deleted from the series of key (series.h form), appended to
 * the array *iv (n used, cap allocated; grown with realloc, the caller
 * frees it). 0 or VG_ENOMEM.
 */
int vg_tombstones_match(struct vg_tombstones *t, const uint8_t *key, size_t key_len,
			struct vg_interval **iv, size_t *n, size_t *cap);

/* Removes from s (ascending) the samples inside any of the n ranges. */
void vg_tombstones_cut(const struct vg_interval *iv, size_t n, struct vg_samples *s);

/*
 * The file's decoder, for the fuzz target: checks p[0..len) as a
 * tombstones file and calls each(arg, selector, min_t, max_t) for every
 * tombstone (the selector's encoded matchers, a view into p, already
 * decoded once). 0,
 * VG_EINVAL with the offset of the fault, VG_EVERSION, or a non-zero
 * return of each.
 */
int vg_tombstones_decode(const uint8_t *p, size_t len,
			 int (*each)(void *arg, struct vg_str matchers, int64_t min_t, int64_t max_t),
			 void *arg, struct vg_err *err);

#endif
