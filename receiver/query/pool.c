/*
 * pool.c: the query worker pool (pool.h).
 *
 * Owns max_concurrency threads, a FIFO of waiting jobs (at most max_queued)
 * and the stop flag. Each worker takes the oldest job, runs it, calls its
 * done and takes the next; it sleeps on a condition variable while the
 * queue is empty. Stop sets the flag under the mutex and wakes every
 * worker: a running job sees the flag through the evaluator's checks
 * (query.h) and ends early; an idle worker sees it and returns.
 *
 * Invariant: mu guards head, tail, n_queued, n_running, n_busy, n_threads and
 * is_stopping's transitions; is_stopping is also atomic so that
 * evaluations read it without the mutex. Nothing is called back with mu
 * held.
 */
#include "receiver/query/pool.h"
#include "common/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/banned.h"

#define MAX_CONCURRENCY_DEFAULT 20 /* Prometheus's --query.max-concurrency */

struct vg_query_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct vg_query_job *head, *tail; /* under mu */
	unsigned n_queued, n_running;     /* under mu; running: till run returns */
	unsigned n_busy;                  /* under mu: workers with a job, till its done returns */
	unsigned max_queued;
	_Atomic bool is_stopping;         /* set under mu, read anywhere */
	pthread_t *threads;
	unsigned n_threads;               /* started */
};

unsigned vg_query_pool_default_concurrency(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	n *= 2;
	return n > MAX_CONCURRENCY_DEFAULT ? MAX_CONCURRENCY_DEFAULT : (unsigned)n;
}

static void *worker(void *arg)
{
	struct vg_query_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct vg_query_job *job;

		while (p->head == NULL && !atomic_load(&p->is_stopping))
			pthread_cond_wait(&p->cv, &p->mu);
		if (atomic_load(&p->is_stopping))
			break;
		job = p->head;
		p->head = job->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->n_queued--;
		p->n_running++;
		p->n_busy++;
		pthread_mutex_unlock(&p->mu);
		job->next = NULL;
		job->run(job, &p->is_stopping);
		/* Not running from here: done hands the answer over, and a
		 * client that has it may ask /metrics at once. */
		pthread_mutex_lock(&p->mu);
		p->n_running--;
		pthread_mutex_unlock(&p->mu);
		job->done(job, true);
		pthread_mutex_lock(&p->mu);
		p->n_busy--;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int vg_query_pool_start(const struct vg_query_pool_options *opts, struct vg_query_pool **out,
			struct vg_err *err)
{
	struct vg_query_pool *p;

	*out = NULL;
	if (opts->max_concurrency == 0)
		return vg_err_set(err, VG_EINVAL, "query.max_concurrency must be at least 1");
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory starting the query workers");
	p->max_queued = opts->max_queued;
	atomic_init(&p->is_stopping, false);
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p);
		return vg_err_set(err, VG_EIO, "cannot create the query pool's mutex");
	}
	if (pthread_cond_init(&p->cv, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		free(p);
		return vg_err_set(err, VG_EIO, "cannot create the query pool's condition");
	}
	if ((p->threads = calloc(opts->max_concurrency, sizeof(*p->threads))) == NULL) {
		vg_query_pool_free(p);
		return vg_err_set(err, VG_ENOMEM, "out of memory starting the query workers");
	}
	for (unsigned i = 0; i < opts->max_concurrency; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
			vg_query_pool_free(p);
			return vg_err_set(err, VG_EIO, "cannot start query worker %u of %u", i + 1,
					  opts->max_concurrency);
		}
		p->n_threads++;
	}
	*out = p;
	return 0;
}

int vg_query_pool_submit(struct vg_query_pool *p, struct vg_query_job *job)
{
	int rc = 0;

	job->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (atomic_load(&p->is_stopping)) {
		rc = VG_EAGAIN;
	} else if (p->n_busy + p->n_queued >= p->n_threads + p->max_queued) {
		/* Every worker busy (or about to be) and the queue full. */
		rc = VG_ELIMIT;
	} else {
		if (p->tail)
			p->tail->next = job;
		else
			p->head = job;
		p->tail = job;
		p->n_queued++;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void vg_query_pool_counts(struct vg_query_pool *p, unsigned *running, unsigned *queued)
{
	pthread_mutex_lock(&p->mu);
	*running = p->n_running;
	*queued = p->n_queued;
	pthread_mutex_unlock(&p->mu);
}

void vg_query_pool_stop(struct vg_query_pool *p)
{
	struct vg_query_job *job;
	unsigned n_threads;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->is_stopping, true);
	pthread_cond_broadcast(&p->cv);
	n_threads = p->n_threads;
	p->n_threads = 0;
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < n_threads; i++)
		pthread_join(p->threads[i], NULL);
	/* No worker left, and submit refuses: the queue is this thread's. */
	pthread_mutex_lock(&p->mu);
	job = p->head;
	p->head = p->tail = NULL;
	p->n_queued = 0;
	pthread_mutex_unlock(&p->mu);
	while (job != NULL) {
		struct vg_query_job *next = job->next;
		job->next = NULL;
		job->done(job, false);
		job = next;
	}
}

void vg_query_pool_free(struct vg_query_pool *p)
{
	if (p == NULL)
		return;
	vg_query_pool_stop(p);
	free(p->threads);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
