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
 * Not thread-safe: one thread owns a struct vg_wal.
 */
#ifndef VG_WAL_H
#define VG_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vg_err;

struct vg_wal;

/* File operations the WAL goes through, so a crash test can hold back,
 * drop or garble writes at a chosen sync (SQLite's test6.c is the model).
 * NULL fields take the system calls. */
struct vg_wal_fileops {
	ssize_t (*write)(int fd, const void *p, size_t n);
	int (*fdatasync)(int fd);
};

struct vg_wal_options {
	uint64_t segment_bytes;           /* start a new segment past this; default 64 MiB */
	const struct vg_wal_fileops *ops; /* NULL: the system calls */
};

/* A SAMPLES record: the batch one agent frame carried, after its refs were
 * resolved to head series ids. Arrays are parallel, n long. */
struct vg_wal_samples {
	uint64_t agent_hash; /* XXH3 of the agent identity from HELLO */
	uint64_t epoch;      /* the agent's epoch from HELLO */
	uint64_t seq;        /* the frame's sequence number */
	size_t n;
	const uint32_t *ids;
	const int64_t *ts_ms;
	const double *values;
};

struct vg_wal_replay_cb {
	/* A series was created with this id and key (series.h). */
	int (*series)(void *arg, uint32_t id, const uint8_t *key, size_t key_len);
	/* A batch; the arrays are valid during the call only. */
	int (*samples)(void *arg, const struct vg_wal_samples *s);
	void *arg;
};

struct vg_wal_stats {
	uint64_t records;
	uint64_t samples;
	uint64_t segments;
	uint64_t bytes;
	uint64_t corrupt_tails; /* damaged tails found and cut */
};

/*
 * Opens (creating if needed) the WAL in dir, replays it through cb (may be
 * NULL) and leaves it ready to append. A callback's non-zero return stops
 * replay and is returned.
 */
int vg_wal_open(const char *dir, const struct vg_wal_options *opts,
		const struct vg_wal_replay_cb *cb, struct vg_wal **out,
		struct vg_wal_stats *replayed, struct vg_err *err);
void vg_wal_close(struct vg_wal *w);

/* Append records to the current segment (buffered in the process until
 * vg_wal_sync, or until the buffer fills and is written). */
int vg_wal_append_series(struct vg_wal *w, uint32_t id, const uint8_t *key, size_t key_len,
			 struct vg_err *err);
int vg_wal_append_samples(struct vg_wal *w, const struct vg_wal_samples *s, struct vg_err *err);

/* Writes out what is buffered and fdatasyncs it; on return every record
 * appended before the call is durable. Rolls to a new segment when the
 * current one is past its size. */
int vg_wal_sync(struct vg_wal *w, struct vg_err *err);

void vg_wal_stats(const struct vg_wal *w, struct vg_wal_stats *out);

#endif
