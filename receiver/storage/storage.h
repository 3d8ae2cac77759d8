/*
 * storage.h: the one read interface of the storage engine. The query side
 * (receiver/query/) and the HTTP API read samples only through it; they
 * never take a storage lock themselves.
 *
 * A storage is the head (the recent samples, receiver/storage/head.h) and
 * the immutable block files under <data_dir>/blocks/<tier>/ (block.h). A
 * selection gives series by their label sets, each once however many
 * places hold it, in the one series order (vg_series_key_cmp); reading a
 * series merges its samples from every place into one ascending run, each
 * timestamp once (the head's sample wins over a block's, a newer block's
 * over an older one's).
 *
 * Blocks that fail their checks at open are reported once in the log (file,
 * section, offset), counted in vg_storage_stats, and left out; every other
 * block keeps serving. A block whose column group turns out damaged when
 * read fails that read with the block's message.
 *
 * Threads: any number of readers at once, each with its own selections.
 * The head has its own writer (ingest); blocks are added by the thread
 * that writes them (vg_storage_add_block).
 */
#ifndef VG_STORAGE_H
#define VG_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "common/series.h"
#include "receiver/storage/block.h"
#include "receiver/storage/rollup.h"
#include "receiver/storage/samples.h"

struct vg_block;
struct vg_err;
struct vg_head;
struct vg_samples;
struct vg_selector;

struct vg_storage;
struct vg_storage_set;

struct vg_storage_options {
	const char *data_dir;  /* blocks under <data_dir>/blocks; NULL: the head alone */
	struct vg_head *head;  /* borrowed, required */
};

/* What /metrics and `vigil status` report, per tier. */
struct vg_storage_tier_stats {
	uint64_t blocks;
	uint64_t bytes;          /* block files, index included */
	uint64_t points;         /* samples (raw) or buckets (rollups) */
	uint64_t series;         /* summed over blocks: a series in two blocks counts twice */
	int64_t oldest_ms;       /* min_t of the oldest block; 0 without blocks */
	int64_t newest_ms;       /* max_t of the newest block; 0 without blocks */
};

struct vg_storage_stats {
	struct vg_storage_tier_stats tier[VG_TIER_COUNT];
	uint64_t damaged_blocks; /* refused at open */
};

/* Opens the storage: the head given, and every block file found under
 * <data_dir>/blocks/{raw,1m,1h}/ (names ending in ".vgb"; "*.tmp" files a
 * crash left are removed). VG_EIO when a blocks directory cannot be read;
 * damaged blocks are not an error (see above). */
int vg_storage_open(const struct vg_storage_options *opts, struct vg_storage **out,
		    struct vg_err *err);
/* Frees st (not the head). A selection may outlive it: the blocks it names
 * stay mapped until it is freed; the head must outlive every selection. */
void vg_storage_close(struct vg_storage *st);

/* Opens the block file at path and adds it to what selections see. */
int vg_storage_add_block(struct vg_storage *st, const char *path, struct vg_err *err);

void vg_storage_stats(struct vg_storage *st, struct vg_storage_stats *out);

/* The stamp of a block file, the third number of its name
 * (<min_t>-<max_t>-<stamp>.vgb); 0 for another name. */
int64_t vg_storage_block_stamp(const char *path);
/* A stamp for new blocks: now_ms, or one more than any stamp seen when
 * that is not larger. Stamps only grow, whatever the clock does. */
int64_t vg_storage_next_stamp(struct vg_storage *st, int64_t now_ms);

/* Every block served now, a reference each, in a new array (by min_t);
 * free with vg_storage_blocks_free. VG_ENOMEM. */
int vg_storage_blocks(struct vg_storage *st, struct vg_block ***out, size_t *n);
void vg_storage_blocks_free(struct vg_block **v, size_t n);

/*
 * In one step for readers: serves the block files at add (published
 * already) and stops serving the blocks in remove, then deletes those
 * files (a selection that holds one reads on until it is freed). On
 * failure (a block that does not open, VG_ENOMEM) nothing changed.
 * Compaction and retention use it (compact.h).
 */
int vg_storage_swap(struct vg_storage *st, const char *const *add, size_t n_add,
		    struct vg_block *const *remove, size_t n_remove, struct vg_err *err);

/* Resolutions for vg_storage_select: the coarsest the caller can use. */
#define VG_STORAGE_RES_RAW 0
#define VG_STORAGE_RES_1M VG_ROLLUP_1M_MS
#define VG_STORAGE_RES_1H VG_ROLLUP_1H_MS

/*
 * The series matching sel that may have data in [min_t, max_t] (the head
 * is always asked; blocks whose range misses the interval are not), in a
 * new set the caller frees; a series whose samples in the range were all
 * deleted (vg_storage_delete) is left out. The selector is the calling
 * thread's.
 *
 * resolution_ms is the coarsest step the caller can use. Below 1m (0,
 * VG_STORAGE_RES_RAW): raw samples from the raw blocks and the head, read
 * with vg_storage_set_read. From 1m (VG_STORAGE_RES_1M) and from 1h
 * (VG_STORAGE_RES_1H): buckets of that width, read with
 * vg_storage_set_read_buckets, stitched from the tiers that hold each
 * part of the range (storage.c): the rollup tier of that width where it
 * has blocks, the finer tiers next (1m coarsened to 1h; raw blocks and
 * the head aggregated), and for 1m, where only the 1h tier still holds
 * the range, its 1h buckets (width_ms says so).
 */
int vg_storage_select(struct vg_storage *st, const struct vg_selector *sel, int64_t min_t,
		      int64_t max_t, int64_t resolution_ms, struct vg_storage_set **out,
		      struct vg_err *err);
size_t vg_storage_set_len(const struct vg_storage_set *set);
/* The key (series.h) of series i; valid until the set is freed. */
void vg_storage_set_key(const struct vg_storage_set *set, size_t i, const uint8_t **key,
			size_t *len);
/* The samples of series i in [min_t, max_t], merged, into out (replacing
 * what it held). VG_ENOMEM; VG_ECHECKSUM / VG_EINVAL for a damaged block,
 * with its message. */
int vg_storage_set_read(struct vg_storage_set *set, size_t i, int64_t min_t, int64_t max_t,
			struct vg_samples *out, struct vg_err *err);
/*
 * A reader of a raw selection's series for another thread than the one
 * that made the set: reads as vg_storage_set_read does, into scratch of
 * its own, so that two threads read one set's series at once (the set
 * itself is only read; each thread reads with its own reader or the set).
 * The set must outlive its readers. vg_storage_reader_new: VG_ENOMEM.
 */
struct vg_storage_reader;
int vg_storage_reader_new(struct vg_storage_set *set, struct vg_storage_reader **out);
int vg_storage_reader_read(struct vg_storage_reader *rd, size_t i, int64_t min_t, int64_t max_t,
			   struct vg_samples *out, struct vg_err *err);
void vg_storage_reader_free(struct vg_storage_reader *rd);
/*
 * The buckets of series i of a rollup selection that overlap [min_t, max_t]
 * (whole buckets), ascending, one per start, into out (replacing what it
 * held). Each instant comes from one tier, so nothing is counted twice
 * where tiers meet; increase includes the step from the bucket before in
 * the answer (vg_rollup_link), so summing increases over buckets gives
 * the raw increase over their samples, resets included. VG_EINVAL for a
 * raw selection or a damaged block; VG_ENOMEM.
 */
int vg_storage_set_read_buckets(struct vg_storage_set *set, size_t i, int64_t min_t, int64_t max_t,
				struct vg_buckets *out, struct vg_err *err);
void vg_storage_set_free(struct vg_storage_set *set);

/*
 * Deletes the samples in [min_t, max_t] (ms, both included) of every
 * series one of the selectors matches: a tombstone each (tombstone.h), durable in
 * <data_dir>/tombstones before this returns 0. Selections made after it
 * leave those samples out, from the head, the blocks and whatever the WAL
 * replays. VG_EINVAL, VG_ELIMIT, VG_EIO (with the file), VG_ENOMEM.
 */
int vg_storage_delete(struct vg_storage *st, const struct vg_selector *selectors, size_t n,
		      int64_t min_t, int64_t max_t, struct vg_err *err);
/* Removes from s (the samples of the series of key, ascending) what was
 * deleted: for a writer of blocks, so a block written now holds none of
 * it. 0 or VG_ENOMEM. */
int vg_storage_cut_deleted(struct vg_storage *st, const uint8_t *key, size_t key_len,
			   struct vg_samples *s);

/* Strings owned by the caller: v[i] point into bytes. */
struct vg_strset {
	struct vg_str *v;
	size_t n;
	char *bytes;
};
void vg_strset_release(struct vg_strset *s);

/* Every label name ("__name__" included), or every value of one label,
 * ascending, each once, from the head and every block. VG_ENOMEM. */
int vg_storage_label_names(struct vg_storage *st, struct vg_strset *out);
int vg_storage_label_values(struct vg_storage *st, const char *name, struct vg_strset *out);

#endif
