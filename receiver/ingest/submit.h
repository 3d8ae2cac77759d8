/*
 * submit.h: batches of samples handed to the ingest thread from other
 * threads (the HTTP import endpoint today), so that they reach storage
 * through the same write path as agent batches: the WAL, then the head,
 * and a completion only after the WAL sync that covers them.
 *
 * Two sides, each on its own thread and event base (STYLE.md: one base
 * per thread, work handed over through a queue plus event_active):
 *  - a producer (struct vg_submit_client, one per producing thread) fills a
 *    struct vg_submit_batch and enqueues it with a completion callback;
 *  - the consumer (ingest.c) is woken on its base, takes every queued
 *    batch (vg_submit_take), stores it, and calls vg_submit_done, which
 *    hands the batch back to its client's base where the completion
 *    callback runs: at once for a batch stored (in the WAL's buffer and
 *    the head), or, for a batch marked needs_sync, only after a WAL sync
 *    that began after it was stored. Batches are stored in queue order, so
 *    a needs_sync batch (even an empty one) completes only when everything
 *    enqueued before it is durable: a producer marks the last batch of a
 *    request and answers its client after that completion. Memory then
 *    waits for storing only, not for the disk.
 *
 * Invariants:
 *  - The queue is bounded (max_queued batches): vg_submit_enqueue answers
 *    VG_EAGAIN when it is full and the client's on_room callback runs (on
 *    the client's base) once the consumer has taken batches, so a producer
 *    stops reading its input instead of growing memory.
 *  - A batch belongs to exactly one side at a time: the producer until
 *    enqueue returns 0, the consumer until vg_submit_done, the producer
 *    again when its completion callback runs.
 *  - Every enqueued batch is completed exactly once, also at shutdown
 *    (vg_submit_close hands the consumer what is left).
 *
 * Lock: one mutex per queue (struct vg_submit.mu) and one per client
 * (done list); never both held, never held while calling back.
 */
#ifndef VG_SUBMIT_H
#define VG_SUBMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

struct event_base;
struct vg_series;

struct vg_submit;
struct vg_submit_client;

/* Bounds of one batch: the producer submits when either is reached. */
#define VG_SUBMIT_BATCH_SAMPLES 16384
#define VG_SUBMIT_BATCH_KEY_BYTES (1u << 20)

/* One distinct series of a batch: its key (series.h) in keys. */
struct vg_submit_series {
	size_t key_off;
	uint32_t key_len;
	uint64_t hash;
};

struct vg_submit_batch {
	/* Filled by the producer (vg_submit_batch_add). */
	struct vg_buf keys;
	struct vg_submit_series *series;
	uint32_t n_series, cap_series;
	uint32_t *slots;     /* open addressing on hash: series index + 1, 0 free */
	uint32_t cap_slots;
	uint32_t *series_of; /* per sample: index into series */
	int64_t *ts_ms;
	double *values;
	size_t n, cap;
	bool needs_sync;         /* complete after a covering WAL sync */
	/* Filled by the consumer before completion. */
	int rc;                  /* 0: stored (and durable, with needs_sync) */
	char error[VG_ERR_MSG_MAX];
	uint64_t series_created; /* series new to storage */
	/* The completion. */
	void (*done)(struct vg_submit_batch *b, void *arg);
	void *done_arg;
	struct vg_submit_client *client;
	struct vg_submit_batch *next; /* queue and list link */
};

/* Lifecycle of a batch (producer side): new, add, enqueue, and in the
 * completion reset and reuse it, or free it. */
struct vg_submit_batch *vg_submit_batch_new(void);
void vg_submit_batch_reset(struct vg_submit_batch *b);
void vg_submit_batch_free(struct vg_submit_batch *b);
/* Adds one sample of canonical s (hash: vg_series_hash(s)). VG_ENOMEM. */
int vg_submit_batch_add(struct vg_submit_batch *b, const struct vg_series *s, uint64_t hash, int64_t ts_ms,
			double value);
/* Whether the batch reached a bound and should be submitted. */
bool vg_submit_batch_is_full(const struct vg_submit_batch *b);

/* --- the queue (created by whoever wires the threads: main.c) --- */

/* A queue consumed on consumer_base (borrowed; the consumer's thread). */
int vg_submit_new(struct event_base *consumer_base, size_t max_queued, struct vg_submit **out,
		  struct vg_err *err);
/* Frees the queue's event; call before the consumer's base is freed when
 * the queue must outlive it (vg_submit_free does it too). */
void vg_submit_stop(struct vg_submit *q);
/* Frees the queue; call after both sides are gone (after
 * vg_submit_client_free), and before the consumer's base is freed unless
 * vg_submit_stop came first. Batches still queued are freed without
 * completion. */
void vg_submit_free(struct vg_submit *q);

/* --- consumer side (ingest.c), on consumer_base's thread --- */

/* on_ready(arg) runs on consumer_base whenever batches were enqueued. */
void vg_submit_set_consumer(struct vg_submit *q, void (*on_ready)(void *arg), void *arg);
/* Takes every queued batch, in order (a list through ->next), and wakes
 * producers waiting for room. */
struct vg_submit_batch *vg_submit_take(struct vg_submit *q);
/* Hands b (rc, error, series_created filled) back to its client. */
void vg_submit_done(struct vg_submit_batch *b);
/* Refuses every later enqueue (VG_EIO) and returns what is still queued,
 * for the consumer to store or fail and complete. */
struct vg_submit_batch *vg_submit_close(struct vg_submit *q);

/* --- producer side, on the client's base --- */

/* A client on producer_base (borrowed). on_room(arg) runs there after a
 * VG_EAGAIN once the queue has room again. */
int vg_submit_client_new(struct vg_submit *q, struct event_base *producer_base,
			 void (*on_room)(void *arg), void *room_arg, struct vg_submit_client **out,
			 struct vg_err *err);
/* Stops the client's event; call before producer_base is freed. Batches
 * completed but not yet delivered stay in the client for vg_submit_client_free. */
void vg_submit_client_stop(struct vg_submit_client *c);
/* Frees the client; undelivered completions run first (on the caller's
 * thread), so their owners can free what they hold. */
void vg_submit_client_free(struct vg_submit_client *c);

/* Enqueues b; done(b, arg) runs on the client's base after the consumer
 * completed it. 0; VG_EAGAIN when the queue is full (b stays the
 * caller's, on_room follows); VG_EIO once the queue is closed. */
int vg_submit_enqueue(struct vg_submit_client *c, struct vg_submit_batch *b,
		      void (*done)(struct vg_submit_batch *b, void *arg), void *arg);

#endif
