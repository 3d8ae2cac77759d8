/*
 * status.h: GET /api/v1/status/vigil, the receiver's state in one JSON
 * object for the status page and `vigil status` (docs/http-status.md):
 * ingest rate, series, the WAL, the blocks of each tier, queries, build
 * and members.
 *
 * Owns the JSON shape and the ingest rate window. Reads the counters of
 * stats.h, the head's counts and storage only through storage.h's
 * vg_storage_stats; changes nothing.
 *
 * The rate: a ring of (time, samples received) snapshots taken every
 * VG_STATUS_TICK_MS by the HTTP thread's timer; the rate answered is over
 * the oldest snapshot kept and now (a window of 60 to 70 s), or over the
 * time since start while the ring is not yet full. One thread only (the
 * HTTP thread) ticks and reads it.
 */
#ifndef VG_HTTP_STATUS_H
#define VG_HTTP_STATUS_H

#include <stdint.h>

struct vg_buf;
struct vg_head;
struct vg_stats;
struct vg_storage;

#define VG_STATUS_TICK_MS 10000
#define VG_STATUS_RATE_SLOTS 7 /* 60 s of history at 10 s a tick */

struct vg_status_rate {
	int64_t ms[VG_STATUS_RATE_SLOTS];
	uint64_t samples[VG_STATUS_RATE_SLOTS];
	unsigned n, next;
};

/* Empty window whose first point is (start_ms, 0): the receiver's start. */
void vg_status_rate_init(struct vg_status_rate *r, int64_t start_ms);
/* Records samples received so far at now_ms, dropping the oldest when full. */
void vg_status_rate_tick(struct vg_status_rate *r, int64_t now_ms, uint64_t samples);
/* Samples a second between the oldest point kept and (now_ms, samples);
 * *window_ms gets the span (0 and rate 0 when it is not positive). */
double vg_status_rate_get(const struct vg_status_rate *r, int64_t now_ms, uint64_t samples,
			  int64_t *window_ms);

struct vg_status_src {
	const struct vg_stats *stats;
	struct vg_head *head;
	struct vg_storage *storage;
	const struct vg_status_rate *rate;
	unsigned queries_running, queries_queued;
	int64_t now_ms;
};

/* Appends the whole answer, envelope included ({"status":"success",
 * "data":{...}}), to out. */
void vg_status_render(const struct vg_status_src *src, struct vg_buf *out);

#endif
