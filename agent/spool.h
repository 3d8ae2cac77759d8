/*
 * spool.h: the batches an agent has encoded and a receiver has not yet
 * acknowledged, oldest first.
 *
 * A batch is a whole SAMPLES frame with its seq, the number of dictionary
 * refs it needs defined (refs [0, n_refs)) and its sample count. Batches
 * are appended in seq order and leave only from the front: on an ACK
 * covering them, on overflow (the oldest go first, counted and logged
 * once), or when the receiver refuses the first one. A read cursor walks
 * the batches not yet sent on the current connection; a reconnect rewinds
 * it to the oldest.
 *
 * Two backings behind one interface: memory only (dir NULL: what the
 * process holds goes with it), or a directory on disk, where batches
 * survive a crash or restart of the agent. On disk the spool also keeps
 * what a restarted agent needs to send them as they were: the epoch, the
 * next seq, and every dictionary key in ref order, so the refs inside the
 * stored frames still mean the same series and the receiver's retry dedup
 * by (agent, epoch, seq) still holds. The file format and the recovery
 * rules are at the top of spool.c.
 *
 * Invariant: nothing leaves the spool uncounted: every batch is either
 * still in it, acknowledged, or in batches_dropped.
 */
#ifndef VG_SPOOL_H
#define VG_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_dict;
struct vg_err;

struct vg_spool_options {
	const char *dir;    /* NULL: memory only */
	uint64_t max_bytes; /* bound on the bytes the batches take */
};

/* What an agent continues from: the spool's epoch and next seq. */
struct vg_spool_resume {
	uint64_t epoch;
	uint64_t next_seq;
	uint64_t batches;  /* unacknowledged batches found on disk */
	bool is_resumed;   /* false: a new epoch (empty or new spool) */
};

struct vg_spool_batch {
	uint64_t seq;
	uint32_t n_refs;
	uint32_t n_samples;
	size_t len;
	const uint8_t *frame; /* borrowed: valid until the next call on the spool */
};

struct vg_spool_stats {
	uint64_t batches;         /* unacknowledged, in the spool */
	uint64_t bytes;
	uint64_t batches_dropped; /* overflow or refused */
	uint64_t samples_dropped;
};

struct vg_spool;

/*
 * Opens (creating) the spool. dict must be empty: the keys of a resumed
 * spool are added to it in ref order. VG_EIO with the path when the
 * directory cannot be used; damage inside it is not an error: what cannot
 * be read back is dropped, logged and counted in batches_dropped.
 */
int vg_spool_open(const struct vg_spool_options *opts, struct vg_dict *dict, struct vg_spool **out,
		  struct vg_spool_resume *resume, struct vg_err *err);
void vg_spool_free(struct vg_spool *sp);

/* Records a new dictionary key (the next ref); on disk, before any batch
 * that needs it. A no-op for memory spools. */
int vg_spool_add_series(struct vg_spool *sp, const uint8_t *key, size_t len, struct vg_err *err);

/* Appends a copy of b (b->seq above every seq in the spool), then drops
 * the oldest batches while over the bound (never b itself). */
int vg_spool_append(struct vg_spool *sp, const struct vg_spool_batch *b, struct vg_err *err);

/* Drops every batch with seq <= seq; returns how many. */
uint64_t vg_spool_ack(struct vg_spool *sp, uint64_t seq);
/* Drops the first batch if its seq is seq (the receiver refused it for
 * good); counted as dropped. Returns whether it did. */
bool vg_spool_refuse(struct vg_spool *sp, uint64_t seq);

/* The read cursor: rewind to the oldest batch; next gives the batch after
 * the last one read (0), or says there is none (1), or fails (< 0). */
void vg_spool_rewind(struct vg_spool *sp);
int vg_spool_next(struct vg_spool *sp, struct vg_spool_batch *out, struct vg_err *err);

bool vg_spool_is_empty(const struct vg_spool *sp);
/* The seq of the oldest batch; 0 when empty. */
uint64_t vg_spool_first_seq(const struct vg_spool *sp);
void vg_spool_get_stats(const struct vg_spool *sp, struct vg_spool_stats *out);

#endif
