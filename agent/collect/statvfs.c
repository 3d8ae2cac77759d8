/*
 * statvfs.c: statvfs(3) that cannot stall the round.
 *
 * statvfs on a network mount whose server is gone blocks in the kernel
 * (NFS "hard" mounts forever), and a signal does not free the thread. So
 * the call runs on a worker thread and the round waits for it at most
 * timeout_ms. A worker that times out is abandoned: the pool forgets it,
 * the mount point goes on the stuck list, and the next call starts a fresh
 * worker. The abandoned worker, when its statvfs finally returns, takes the
 * mount point off the list and exits; until then calls for that mount point
 * fail at once (VG_EAGAIN) without another thread. At most MAX_STUCK workers
 * may be stuck; past that every call fails at once (VG_ELIMIT) rather than
 * pile up threads.
 *
 * Locking: one mutex, shared->mu, guards everything below marked [mu]: the
 * worker's request slot, the stuck list and the counts. The shared part is
 * reference counted (the pool and each worker hold one) because an
 * abandoned worker outlives the pool when the agent stops. Each worker has
 * its own condition variables; the waits use CLOCK_MONOTONIC.
 * docs/threads.md lists this thread with the agent's.
 */
#include "config.h"

#include "agent/collect/statvfs.h"
#include "common/err.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "common/banned.h"

#define MAX_STUCK 8

struct shared {
	pthread_mutex_t mu;
	int refs;                    /* [mu] the pool and each live worker */
	char *stuck[MAX_STUCK];      /* [mu] mount paths whose call has not returned */
	size_t n_stuck;              /* [mu] */
	int (*fn)(const char *, struct statvfs *);
};

struct worker {
	struct shared *sh;
	pthread_t thread;
	pthread_cond_t wake, done_cv;
	char path[PATH_MAX];         /* [mu] the request */
	bool has_request, is_done;   /* [mu] */
	bool is_abandoned, is_quit;  /* [mu] */
	int rc, errnum;              /* [mu] the answer */
	struct statvfs st;           /* [mu] */
};

struct vg_statvfs_pool {
	struct shared *sh;
	struct worker *w;            /* the current worker, or NULL; only the round's thread */
	int64_t timeout_ms;
};

static void shared_unref_locked(struct shared *sh)
{
	bool is_last = --sh->refs == 0;

	pthread_mutex_unlock(&sh->mu);
	if (!is_last)
		return;
	for (size_t i = 0; i < sh->n_stuck; i++)
		free(sh->stuck[i]);
	pthread_mutex_destroy(&sh->mu);
	free(sh);
}

static void worker_free(struct worker *w)
{
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->done_cv);
	free(w);
}

static void unstick_locked(struct shared *sh, const char *path)
{
	for (size_t i = 0; i < sh->n_stuck; i++)
		if (strcmp(sh->stuck[i], path) == 0) {
			free(sh->stuck[i]);
			sh->stuck[i] = sh->stuck[--sh->n_stuck];
			return;
		}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	char path[PATH_MAX];
	struct statvfs st;

	pthread_mutex_lock(&sh->mu);
	for (;;) {
		int rc, errnum;

		while (!w->has_request && !w->is_quit)
			pthread_cond_wait(&w->wake, &sh->mu);
		if (!w->has_request)
			break;
		memcpy(path, w->path, sizeof(path));
		pthread_mutex_unlock(&sh->mu);
		rc = sh->fn ? sh->fn(path, &st) : statvfs(path, &st);
		errnum = errno;
		pthread_mutex_lock(&sh->mu);
		w->has_request = false;
		if (w->is_abandoned) {
			unstick_locked(sh, path);
			break;
		}
		w->rc = rc;
		w->errnum = errnum;
		w->st = st;
		w->is_done = true;
		pthread_cond_signal(&w->done_cv);
	}
	if (w->is_abandoned) {
		/* Nobody joins an abandoned worker. */
		pthread_detach(pthread_self());
		worker_free(w);
	}
	shared_unref_locked(sh);
	return NULL;
}

static int worker_start(struct vg_statvfs_pool *p, struct vg_err *err)
{
	struct worker *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;
	int rc;

	if (w == NULL)
		return vg_err_set(err, VG_ENOMEM, "statvfs worker: out of memory");
	w->sh = p->sh;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, NULL);
	pthread_cond_init(&w->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&p->sh->mu);
	p->sh->refs++;
	pthread_mutex_unlock(&p->sh->mu);
	if ((rc = pthread_create(&w->thread, NULL, worker_main, w)) != 0) {
		pthread_mutex_lock(&p->sh->mu);
		p->sh->refs--;
		pthread_mutex_unlock(&p->sh->mu);
		worker_free(w);
		return vg_err_set(err, VG_EIO, "statvfs worker: pthread_create: %s", strerror(rc));
	}
	p->w = w;
	return 0;
}

int vg_statvfs_pool_new(int64_t timeout_ms, int (*fn)(const char *, struct statvfs *),
			struct vg_statvfs_pool **out, struct vg_err *err)
{
	struct vg_statvfs_pool *p = calloc(1, sizeof(*p));
	struct shared *sh = calloc(1, sizeof(*sh));

	*out = NULL;
	if (p == NULL || sh == NULL) {
		free(p);
		free(sh);
		return vg_err_set(err, VG_ENOMEM, "statvfs pool: out of memory");
	}
	pthread_mutex_init(&sh->mu, NULL);
	sh->refs = 1;
	sh->fn = fn;
	p->sh = sh;
	p->timeout_ms = timeout_ms;
	*out = p;
	return 0;
}

void vg_statvfs_pool_free(struct vg_statvfs_pool *p)
{
	if (p == NULL)
		return;
	if (p->w != NULL) {
		pthread_mutex_lock(&p->sh->mu);
		p->w->is_quit = true;
		pthread_cond_signal(&p->w->wake);
		pthread_mutex_unlock(&p->sh->mu);
		pthread_join(p->w->thread, NULL);
		worker_free(p->w);
	}
	pthread_mutex_lock(&p->sh->mu);
	shared_unref_locked(p->sh);
	free(p);
}

size_t vg_statvfs_pool_stuck(struct vg_statvfs_pool *p)
{
	size_t n;

	if (p == NULL)
		return 0;
	pthread_mutex_lock(&p->sh->mu);
	n = p->sh->n_stuck;
	pthread_mutex_unlock(&p->sh->mu);
	return n;
}

int vg_statvfs_pool_call(struct vg_statvfs_pool *p, const char *path, struct statvfs *st,
			 struct vg_err *err)
{
	struct shared *sh;
	struct timespec deadline;
	struct worker *w;
	char *copy;
	int rc;

	if (p == NULL) {
		if (statvfs(path, st) == 0)
			return 0;
		return vg_err_set(err, VG_EIO, "statvfs %s: %s", path, strerror(errno));
	}
	sh = p->sh;
	if (strlen(path) >= PATH_MAX)
		return vg_err_set(err, VG_ELIMIT, "statvfs %.200s...: path too long", path);
	pthread_mutex_lock(&sh->mu);
	for (size_t i = 0; i < sh->n_stuck; i++)
		if (strcmp(sh->stuck[i], path) == 0) {
			pthread_mutex_unlock(&sh->mu);
			return vg_err_set(err, VG_EAGAIN, "statvfs %s: an earlier call has not returned; skipped",
					  path);
		}
	if (sh->n_stuck == MAX_STUCK) {
		pthread_mutex_unlock(&sh->mu);
		return vg_err_set(err, VG_ELIMIT, "statvfs %s: %d mounts do not answer; skipped", path,
				  MAX_STUCK);
	}
	pthread_mutex_unlock(&sh->mu);
	if (p->w == NULL && (rc = worker_start(p, err)) != 0)
		return rc;
	w = p->w;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += p->timeout_ms / 1000;
	deadline.tv_nsec += (p->timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&sh->mu);
	memcpy(w->path, path, strlen(path) + 1);
	w->has_request = true;
	w->is_done = false;
	pthread_cond_signal(&w->wake);
	while (!w->is_done)
		if (pthread_cond_timedwait(&w->done_cv, &sh->mu, &deadline) == ETIMEDOUT && !w->is_done)
			break;
	if (w->is_done) {
		w->is_done = false;
		rc = w->rc;
		*st = w->st;
		if (rc != 0)
			vg_err_set(err, VG_EIO, "statvfs %s: %s", path, strerror(w->errnum));
		pthread_mutex_unlock(&sh->mu);
		return rc == 0 ? 0 : VG_EIO;
	}
	/* Abandon the worker; it cleans up after itself when the call returns. */
	copy = strdup(path);
	if (copy != NULL)
		sh->stuck[sh->n_stuck++] = copy;
	w->is_abandoned = true;
	p->w = NULL;
	pthread_mutex_unlock(&sh->mu);
	return vg_err_set(err, VG_EAGAIN, "statvfs %s: no answer within %lld ms; skipped until it answers",
			  path, (long long)p->timeout_ms);
}
