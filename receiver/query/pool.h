/*
 * pool.h: the query worker pool: a fixed set of threads that run query
 * evaluations handed over by the HTTP thread, so that no evaluation runs
 * on the HTTP thread's event loop and at most max_concurrency run at once
 * (Prometheus's --query.max-concurrency); up to max_queued more wait in a
 * bounded queue, and past that vg_query_pool_submit refuses at once (the
 * HTTP API answers 503).
 *
 * Owns its threads, the queue of jobs waiting for one, and the stop flag
 * every running evaluation checks (struct vg_query_limits.is_stopping,
 * query.h). Does not own the jobs: a job is the caller's struct with a
 * struct vg_query_job in it. run is called on a worker; done is called
 * on a worker too, after run, or from vg_query_pool_stop for a job that
 * never ran (is_run false). done must hand the job back to the caller's
 * own thread (the HTTP API: event_active on an event its base owns) and
 * touch nothing else of that thread's: no evhttp, no event_base.
 *
 * Invariants:
 *  - every job submitted (0 returned) gets done exactly once, and after
 *    vg_query_pool_stop returns no worker runs or touches a job (the
 *    pool itself stays valid, refusing, until vg_query_pool_free);
 *  - vg_query_pool_stop does not wait for a running query to finish:
 *    it sets the stop flag, which the evaluator checks with its deadline
 *    at every series it loads and every step, and then joins.
 * Lock: one mutex (the queue, the stop state), never held while calling
 * run or done.
 */
#ifndef VG_POOL_H
#define VG_POOL_H

#include <stdatomic.h>
#include <stdbool.h>

struct vg_err;
struct vg_query_pool;

struct vg_query_job {
	/* Set by the caller before submitting. */
	void (*run)(struct vg_query_job *job, const _Atomic bool *is_stopping);
	void (*done)(struct vg_query_job *job, bool is_run);
	struct vg_query_job *next; /* the pool's, while queued */
};

struct vg_query_pool_options {
	unsigned max_concurrency; /* workers; at least 1 */
	unsigned max_queued;      /* jobs waiting for a worker; 0: none wait */
};

/* The default of max_concurrency: two per online CPU, between 2 and
 * Prometheus's 20. */
unsigned vg_query_pool_default_concurrency(void);

/* Starts the workers. VG_EINVAL, VG_ENOMEM, VG_EIO (a thread). */
int vg_query_pool_start(const struct vg_query_pool_options *opts, struct vg_query_pool **out,
			struct vg_err *err);
/* Queues job for a worker: 0, or VG_ELIMIT when max_queued jobs wait
 * already, or VG_EAGAIN once the pool is stopping; done is not called
 * for a job refused. Any thread. */
int vg_query_pool_submit(struct vg_query_pool *pool, struct vg_query_job *job);
/* Jobs running and waiting now (for /metrics). Any thread. */
void vg_query_pool_counts(struct vg_query_pool *pool, unsigned *running, unsigned *queued);
/* Sets the stop flag (running evaluations end at their next check), joins
 * the workers and calls done (is_run false) for every job still queued;
 * later submits answer VG_EAGAIN. Once, from one thread (the owner's);
 * again is a no-op. NULL is fine. */
void vg_query_pool_stop(struct vg_query_pool *pool);
/* vg_query_pool_stop, then frees the pool. NULL is fine. */
void vg_query_pool_free(struct vg_query_pool *pool);

#endif
