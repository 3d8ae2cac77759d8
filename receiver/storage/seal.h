/*
 * seal.h: sealing the head into raw block files.
 *
 * A seal is three steps, in this order, and a crash between any two loses
 * nothing (docs/storage-format.md, "Sealing"):
 *  1. on the WAL's owner thread: roll the WAL to a new segment S, freeze
 *     the head (head.h), append a checkpoint (every series record and the
 *     retry table) to segment S and sync it. Everything frozen lies in
 *     segments below S. (The ingest side does this: it owns the WAL.)
 *  2. here, on the sealer's thread: write the frozen samples into one raw
 *     block per block period they fall in, publish each (temporary name,
 *     fdatasync, rename, directory fdatasync), add it to the storage, and
 *     drop the frozen set; queries see the samples throughout.
 *  3. delete the WAL segments below S.
 * A crash before 3 replays segments below S again: their samples are then
 * in the head and in a block, and reads merge the two.
 *
 * struct vg_sealer runs step 2 and 3 on a thread of its own and asks its
 * owner for step 1 through a callback, so the storage layer needs to know
 * nothing of ingest.
 */
#ifndef VG_SEAL_H
#define VG_SEAL_H

#include <stdint.h>

struct vg_clock;
struct vg_err;
struct vg_head;
struct vg_retention;
struct vg_storage;
struct vg_wal;

#define VG_SEAL_DEFAULT_PERIOD_MS (2LL * 3600 * 1000)
/* A seal that failed (a full disk) is tried again by the sealer after this
 * pause, doubling up to the maximum, until one succeeds. */
#define VG_SEAL_RETRY_MIN_MS 1000
#define VG_SEAL_RETRY_MAX_MS (5 * 60 * 1000)
/* Compaction and retention run this often on the receiver's clock. */
#define VG_SEAL_MAINTENANCE_MS (60LL * 1000)

struct vg_seal_stats {
	uint64_t blocks;   /* files written */
	uint64_t series;   /* series with samples, summed over blocks */
	uint64_t samples;
	uint64_t bytes;    /* of the files written */
	uint64_t rollup_blocks; /* of blocks, those of the 1m and 1h tiers */
};

/*
 * Step 2 alone: writes the head's frozen set into blocks under
 * <data_dir>/blocks/<tier>/, named <period start>-<period end>-<stamp>.vgb
 * (milliseconds; the stamp from vg_storage_next_stamp(now_ms)), per
 * period_ms window (whole hours) that holds samples: a raw block, and 1m
 * and 1h blocks of the same samples, as seal.c's opening comment says
 * (retention: NULL for the defaults; now_ms is the receiver's clock).
 * Serves them all at once and drops the frozen set. On failure no new
 * file is left, the frozen set stays (reads still see it) and a later
 * call may try again. Without a frozen set it does nothing. Any thread.
 */
int vg_seal_frozen(struct vg_head *h, struct vg_storage *st, const char *data_dir,
		   int64_t period_ms, int64_t now_ms, const struct vg_retention *retention,
		   struct vg_seal_stats *out, struct vg_err *err);

struct vg_sealer;

struct vg_sealer_options {
	struct vg_head *head;       /* borrowed */
	struct vg_storage *storage; /* borrowed */
	struct vg_wal *wal;         /* borrowed: step 3 only (vg_wal_remove_before) */
	const char *data_dir;
	int64_t period_ms;          /* 0: VG_SEAL_DEFAULT_PERIOD_MS; whole hours */
	struct vg_clock *clock;     /* borrowed; NULL: the real clock */
	const struct vg_retention *retention; /* borrowed; NULL: the defaults */
	int64_t testing_compact_stall_ms; /* compact.h; 0 in production */
	/* Step 1, run on the WAL owner's thread by the owner: sets *wal_segno
	 * to S. Called from the sealer's thread, which waits for it. */
	int (*freeze)(void *arg, uint32_t *wal_segno, struct vg_err *err);
	void *freeze_arg;
};

int vg_sealer_start(const struct vg_sealer_options *opts, struct vg_sealer **out,
		    struct vg_err *err);
/* Asks for a seal. done(arg, rc, message) is called on the sealer's
 * thread when it has ended and, after a seal that succeeded, compaction
 * and retention have run (message "" on success); requests made while
 * one runs are served by the next. VG_ENOMEM. Besides seals, the thread
 * runs compaction and retention at start and every
 * VG_SEAL_MAINTENANCE_MS of the receiver's clock (checked each second). */
int vg_sealer_request(struct vg_sealer *s, void (*done)(void *arg, int rc, const char *msg),
		      void *arg);
/* Ends the thread after the seal that runs, failing the requests still
 * waiting with VG_EINVAL; frees s (NULL is fine). */
void vg_sealer_stop(struct vg_sealer *s);

#endif
