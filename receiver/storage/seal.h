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

struct vg_err;
struct vg_head;
struct vg_storage;
struct vg_wal;

#define VG_SEAL_DEFAULT_PERIOD_MS (2LL * 3600 * 1000)
/* A seal that failed (a full disk) is tried again by the sealer after this
 * pause, doubling up to the maximum, until one succeeds. */
#define VG_SEAL_RETRY_MIN_MS 1000
#define VG_SEAL_RETRY_MAX_MS (5 * 60 * 1000)

struct vg_seal_stats {
	uint64_t blocks;   /* files written */
	uint64_t series;   /* series with samples, summed over blocks */
	uint64_t samples;
	uint64_t bytes;    /* of the files written */
};

/*
 * Step 2 alone: writes the head's frozen set into raw blocks under
 * <data_dir>/blocks/raw/, named <period start>-<period end>-<seal_ms>.vgb
 * (milliseconds), one per period_ms window that holds samples, adds each
 * to st, and drops the frozen set. On failure no new file is left, the
 * frozen set stays (reads still see it) and a later call may try again.
 * Without a frozen set it does nothing. Any thread.
 */
int vg_seal_frozen(struct vg_head *h, struct vg_storage *st, const char *data_dir,
		   int64_t period_ms, int64_t seal_ms, struct vg_seal_stats *out, struct vg_err *err);

struct vg_sealer;

struct vg_sealer_options {
	struct vg_head *head;       /* borrowed */
	struct vg_storage *storage; /* borrowed */
	struct vg_wal *wal;         /* borrowed: step 3 only (vg_wal_remove_before) */
	const char *data_dir;
	int64_t period_ms;          /* 0: VG_SEAL_DEFAULT_PERIOD_MS */
	/* Step 1, run on the WAL owner's thread by the owner: sets *wal_segno
	 * to S. Called from the sealer's thread, which waits for it. */
	int (*freeze)(void *arg, uint32_t *wal_segno, struct vg_err *err);
	void *freeze_arg;
};

int vg_sealer_start(const struct vg_sealer_options *opts, struct vg_sealer **out,
		    struct vg_err *err);
/* Asks for a seal. done(arg, rc, message) is called on the sealer's
 * thread when it has ended (message "" on success); requests made while
 * one runs are served by the next. VG_ENOMEM. */
int vg_sealer_request(struct vg_sealer *s, void (*done)(void *arg, int rc, const char *msg),
		      void *arg);
/* Ends the thread after the seal that runs, failing the requests still
 * waiting with VG_EINVAL; frees s (NULL is fine). */
void vg_sealer_stop(struct vg_sealer *s);

#endif
