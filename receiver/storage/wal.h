/*
 * wal.h: the receiver's write-ahead log: what makes an ACK a promise.
 * The byte layout is at the top of wal.c and in docs/wal.md.
 *
 * The WAL is a directory of numbered segment files. Records are appended to
 * the newest segment; vg_wal_sync makes everything appended so far durable
 * (fdatasync), and only after it returns may the receiver acknowledge the
 * batches those records hold (group commit: many appends, one sync).
 * Replay reads every segment in order and hands each record to callbacks;
 * a torn or corrupt tail (a crash mid-write) ends replay at the last good
 * record, is reported with file and offset, and is cut off so appends
 * continue from a clean end. Damage before the last segment's tail is
 * reported and replay continues with the next segment.
 *
 * Invariants the caller keeps:
 *  - Acknowledge a batch only after a vg_wal_sync that began after the
 *    batch's append returned 0.
 *  - After any append or sync fails with VG_EIO the WAL is broken: every
 *    later append and sync fails too, because after a failed write or fsync
 *    the kernel may have dropped the dirty pages while reporting the next
 *    fsync as good, so nothing not synced before the failure may ever be
 *    promised. Recovery (a full disk that has room again) never retries
 *    that data: the writer cuts the segment back to its last synced byte
 *    and starts a new segment, retrying with a growing pause until the
 *    disk takes it; vg_wal_resume then lets the owner append again. What
 *    was appended but not durable before the failure is gone: the owner
 *    must append again whatever it still needs (the SERIES records of
 *    series created since its last durable commit above all) and refuse
 *    the batches it held.
 *
 * Threads: one thread owns a struct vg_wal and makes every call but the
 * writer's callback. With vg_wal_start_writer, the files are written and
 * synced on a thread of the WAL's own, so the owner's event loop never
 * waits for the disk.
 */
#ifndef VG_WAL_H
#define VG_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vg_fileops;

struct vg_err;

struct vg_wal;

/* Limits, checked on append and again on read before anything is allocated. */
#define VG_WAL_MAX_RECORD_BYTES (64u << 20) /* body of one record */
#define VG_WAL_MAX_KEY_BYTES (64u << 10)    /* series key in a SERIES record */
#define VG_WAL_MAX_SAMPLES (4u << 20)       /* samples in one SAMPLES record */
#define VG_WAL_DEFAULT_SEGMENT_BYTES (64u << 20)

struct vg_wal_options {
	uint64_t segment_bytes;           /* start a new segment past this; 0: 64 MiB */
	/* The file operations the WAL goes through (common/fs.h), so a crash
	 * test can hold back, drop or garble writes at a chosen sync (SQLite's
	 * test6.c is the model): write for every byte the WAL writes, fdatasync
	 * for every flush, of segment files and of the directory alike. NULL:
	 * the system calls. */
	const struct vg_fileops *ops;
};

/* A SAMPLES record: the batch one agent frame carried, after its refs were
 * resolved to head series ids. Arrays are parallel, n long. Values are kept
 * bit for bit (NaN payloads such as the stale marker included). */
struct vg_wal_samples {
	uint64_t agent_hash; /* XXH3 of the agent identity from HELLO */
	uint64_t epoch;      /* the agent's epoch from HELLO */
	uint64_t seq;        /* the frame's sequence number */
	size_t n;            /* <= VG_WAL_MAX_SAMPLES */
	const uint32_t *ids;
	const int64_t *ts_ms;
	const double *values;
};

struct vg_wal_replay_cb {
	/* A series was created with this id and key (series.h); the key is
	 * valid during the call only. */
	int (*series)(void *arg, uint32_t id, const uint8_t *key, size_t key_len);
	/* A batch; the arrays are valid during the call only. */
	int (*samples)(void *arg, const struct vg_wal_samples *s);
	void *arg;
};

/*
 * In *replayed (from vg_wal_open): what replay read and found.
 * From vg_wal_stats: records, samples and syncs since open; segments and
 * bytes on disk now (bytes counts what is appended but still buffered);
 * the damage counters as replay found them.
 */
struct vg_wal_stats {
	uint64_t records;
	uint64_t appended_bytes;   /* record bytes appended since open (0 in replay) */
	uint64_t samples;
	uint64_t segments;         /* segment files (replay: files read) */
	uint64_t bytes;            /* segment bytes (replay: good bytes read) */
	uint64_t syncs;            /* fdatasyncs of appended data (0 in replay) */
	uint64_t write_failures;   /* writes, syncs or segment creations that failed */
	uint64_t recoveries;       /* times the WAL was recovered after one (vg_wal_resume) */
	uint64_t corrupt_tails;    /* damaged tails of the last segment found and cut */
	uint64_t damaged_segments; /* earlier segments whose rest was skipped */
	uint64_t bad_segments;     /* segment files skipped for a bad header */
	uint64_t missing_segments; /* numbers absent between two present (a hole)
				    * or files gone while the WAL was opened */
	uint64_t skipped_bytes;    /* bytes not replayed because of the above */
	uint32_t first_segment;    /* lowest segment number on disk */
	uint32_t last_segment;     /* the segment appends go to */
};

/*
 * Opens the WAL in dir (created with its parents if missing), replays it
 * through cb (may be NULL; records are still checked) and leaves it ready
 * to append. *replayed (may be NULL) gets what replay read. A callback's
 * non-zero return stops replay and is returned, with nothing cut or
 * created. A read error fails the open (VG_EIO): only what is read and
 * found damaged is ever cut. A segment of a newer format version fails the
 * open with VG_EVERSION. On failure *out is NULL.
 */
int vg_wal_open(const char *dir, const struct vg_wal_options *opts,
		const struct vg_wal_replay_cb *cb, struct vg_wal **out,
		struct vg_wal_stats *replayed, struct vg_err *err);

/* Closes the files and frees w (NULL is fine). Does no I/O: what was
 * appended since the last successful vg_wal_sync was never promised and may
 * or may not be found by the next open. Call vg_wal_sync first to keep it. */
void vg_wal_close(struct vg_wal *w);

/* Append records to the current segment (buffered in the process until
 * vg_wal_sync, or until the buffer passes 1 MiB and is written). VG_ELIMIT
 * for a key or batch past the limits above; VG_EIO (the WAL is then broken)
 * when writing the buffer out fails. */
int vg_wal_append_series(struct vg_wal *w, uint32_t id, const uint8_t *key, size_t key_len,
			 struct vg_err *err);
int vg_wal_append_samples(struct vg_wal *w, const struct vg_wal_samples *s, struct vg_err *err);

/* Writes out what is buffered and fdatasyncs it; on return 0 every record
 * appended before the call is durable. Then rolls to a new segment when the
 * current one is past segment_bytes (a record never spans segments). Cheap
 * when nothing was appended since the last sync. VG_EIO, with the file and
 * the errno text, when a write or fdatasync fails; the WAL is then broken
 * (see above) and every later call fails the same way. */
int vg_wal_sync(struct vg_wal *w, struct vg_err *err);

/*
 * Checkpoint support, for the caller that persists the head elsewhere:
 * vg_wal_roll syncs and starts a new segment; *segno_out (may be NULL) gets
 * its number, so every record appended before the call lies in segments
 * below it. vg_wal_remove_before deletes the segment files numbered below
 * segno (never the current one) and fsyncs the directory. The WAL does not
 * know what the records mean: the caller must have persisted, or appended
 * again, whatever it still needs from them (the SERIES records above all).
 */
int vg_wal_roll(struct vg_wal *w, uint32_t *segno_out, struct vg_err *err);
int vg_wal_remove_before(struct vg_wal *w, uint32_t segno, struct vg_err *err);

/*
 * Owner thread: 0 when the WAL is not broken or has just been made usable
 * again (appends go to a fresh segment; everything appended and not
 * durable before the failure is dropped, its tickets failed). VG_EIO with
 * the failure's text while the writer has not recovered yet (call again
 * later). Without a writer thread it makes one recovery attempt itself.
 * *failed_through gets the last ticket handed out so far: a failure
 * reported later for a ticket up to it is about what was dropped here.
 */
int vg_wal_resume(struct vg_wal *w, uint64_t *failed_through, struct vg_err *err);
/* Whether the WAL is broken now; if so err gets the failure's text. */
bool vg_wal_failure(struct vg_wal *w, struct vg_err *err);

/* Pause between recovery attempts: doubles from MIN to MAX. */
#define VG_WAL_RETRY_MIN_MS 10
#define VG_WAL_RETRY_MAX_MS 1000

/* Owner thread only. */
void vg_wal_stats(struct vg_wal *w, struct vg_wal_stats *out);

/*
 * The writer thread: after this, the owner thread never writes or syncs a
 * file itself. vg_wal_commit hands what was appended to the writer and
 * returns at once with a ticket (commits are numbered from 1); the writer
 * writes every queued commit in order, fdatasyncs once for all of them
 * (group commit) and calls on_durable(arg, ticket, 0) on its own thread
 * with the highest ticket now durable, or on_durable(arg, ticket, VG_EIO)
 * when a write or sync failed (the WAL is then broken, as above): every
 * ticket up to that one not reported durable before has failed and never
 * will be durable. Calls come in ticket order; a list that is partly
 * synced reports the durable part first. Tickets of commits made after a
 * vg_wal_resume are all higher than every failed one. The
 * callback must be quick and thread-safe (e.g. event_active on the owner's
 * event base). vg_wal_sync, vg_wal_roll still work, by waiting for their
 * ticket. The owner blocks in an append or commit only while more than
 * VG_WAL_MAX_QUEUED_BYTES wait to be written.
 */
#define VG_WAL_MAX_QUEUED_BYTES (64u << 20)
int vg_wal_start_writer(struct vg_wal *w, void (*on_durable)(void *arg, uint64_t ticket, int rc),
			void *arg, struct vg_err *err);
/* Writes what is queued, stops the writer thread and returns to writing on
 * the owner's thread; on_durable is not called after this returns. */
void vg_wal_stop_writer(struct vg_wal *w);
/* Returns the commit's ticket, or 0 when the WAL is broken. Without a
 * writer thread, writes and syncs before returning. */
uint64_t vg_wal_commit(struct vg_wal *w);

#endif
