/*
 * test_pool.c: the query worker pool (receiver/query/pool.h) on its own:
 * every job submitted is done exactly once, at most max_concurrency run at
 * once, a full queue refuses, and stop cancels a running job through the
 * stop flag (without waiting for it to finish by itself) and hands queued
 * jobs back unrun.
 */
#include "config.h"

#include "receiver/query/pool.h"
#include "common/err.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/banned.h"

struct counts {
	_Atomic int running, most_running, runs, dones, dones_unrun;
	_Atomic bool is_released; /* jobs that wait for it may end */
};

struct job {
	struct vg_query_job job;
	struct counts *c;
	bool waits;     /* runs until released or stopped */
	bool was_stopped;
};

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void run(struct vg_query_job *j, const _Atomic bool *is_stopping)
{
	struct job *jb = (struct job *)j;
	struct counts *c = jb->c;
	int now = atomic_fetch_add(&c->running, 1) + 1, most = atomic_load(&c->most_running);

	while (now > most && !atomic_compare_exchange_weak(&c->most_running, &most, now))
		;
	/* Bounded: 20 s at most, whatever happens. */
	for (int i = 0; jb->waits && i < 20000; i++) {
		if (atomic_load(is_stopping)) {
			jb->was_stopped = true;
			break;
		}
		if (atomic_load(&c->is_released))
			break;
		sleep_ms(1);
	}
	atomic_fetch_add(&c->runs, 1);
	atomic_fetch_sub(&c->running, 1);
}

static void done(struct vg_query_job *j, bool is_run)
{
	struct job *jb = (struct job *)j;

	if (!is_run)
		atomic_fetch_add(&jb->c->dones_unrun, 1);
	atomic_fetch_add(&jb->c->dones, 1);
}

static void init_job(struct job *j, struct counts *c, bool waits)
{
	memset(j, 0, sizeof(*j));
	j->job.run = run;
	j->job.done = done;
	j->c = c;
	j->waits = waits;
}

/* Waits (10 s at most) until *v reaches want. */
static bool wait_for(_Atomic int *v, int want)
{
	for (int i = 0; i < 10000; i++) {
		if (atomic_load(v) >= want)
			return true;
		sleep_ms(1);
	}
	return false;
}

START_TEST(test_every_job_done_once_within_concurrency)
{
	enum { N = 200 };
	struct vg_query_pool_options o = { 3, N };
	struct vg_query_pool *p;
	struct counts c;
	struct job *jobs = calloc(N, sizeof(*jobs));
	struct vg_err err;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(vg_query_pool_start(&o, &p, &err), 0);
	for (int i = 0; i < N; i++) {
		init_job(&jobs[i], &c, false);
		ck_assert_int_eq(vg_query_pool_submit(p, &jobs[i].job), 0);
	}
	ck_assert(wait_for(&c.dones, N));
	vg_query_pool_free(p);
	ck_assert_int_eq(atomic_load(&c.runs), N);
	ck_assert_int_eq(atomic_load(&c.dones), N);
	ck_assert_int_eq(atomic_load(&c.dones_unrun), 0);
	ck_assert_int_le(atomic_load(&c.most_running), 3);
	free(jobs);
}
END_TEST

START_TEST(test_full_queue_refuses)
{
	struct vg_query_pool_options o = { 2, 1 };
	struct vg_query_pool *p;
	struct counts c;
	struct job j[4];
	struct vg_err err;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(vg_query_pool_start(&o, &p, &err), 0);
	for (int i = 0; i < 4; i++)
		init_job(&j[i], &c, true);
	/* Two run, one waits, the fourth is refused. */
	ck_assert_int_eq(vg_query_pool_submit(p, &j[0].job), 0);
	ck_assert_int_eq(vg_query_pool_submit(p, &j[1].job), 0);
	ck_assert_int_eq(vg_query_pool_submit(p, &j[2].job), 0);
	ck_assert_int_eq(vg_query_pool_submit(p, &j[3].job), VG_ELIMIT);
	ck_assert(wait_for(&c.running, 2));
	{
		unsigned running, queued;
		vg_query_pool_counts(p, &running, &queued);
		ck_assert_uint_eq(running, 2);
		ck_assert_uint_eq(queued, 1);
	}
	atomic_store(&c.is_released, true);
	ck_assert(wait_for(&c.dones, 3));
	/* Room again. */
	ck_assert_int_eq(vg_query_pool_submit(p, &j[3].job), 0);
	ck_assert(wait_for(&c.dones, 4));
	vg_query_pool_free(p);
	ck_assert_int_eq(atomic_load(&c.dones_unrun), 0);
}
END_TEST

START_TEST(test_stop_cancels_running_and_returns_queued)
{
	struct vg_query_pool_options o = { 1, 5 };
	struct vg_query_pool *p;
	struct counts c;
	struct job j[3];
	struct vg_err err;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(vg_query_pool_start(&o, &p, &err), 0);
	for (int i = 0; i < 3; i++) {
		init_job(&j[i], &c, true);
		ck_assert_int_eq(vg_query_pool_submit(p, &j[i].job), 0);
	}
	ck_assert(wait_for(&c.running, 1));
	/* Never released: only the stop flag ends the running one. */
	vg_query_pool_stop(p);
	ck_assert(j[0].was_stopped);
	ck_assert_int_eq(atomic_load(&c.runs), 1);
	ck_assert_int_eq(atomic_load(&c.dones), 3);
	ck_assert_int_eq(atomic_load(&c.dones_unrun), 2);
	/* Stopped: refuses, and stopping again is harmless. */
	ck_assert_int_eq(vg_query_pool_submit(p, &j[0].job), VG_EAGAIN);
	vg_query_pool_stop(p);
	vg_query_pool_free(p);
	ck_assert_int_eq(atomic_load(&c.dones), 3);
}
END_TEST

START_TEST(test_bad_options_and_default)
{
	struct vg_query_pool_options o = { 0, 1 };
	struct vg_query_pool *p = NULL;
	struct vg_err err;
	unsigned d = vg_query_pool_default_concurrency();

	ck_assert_int_eq(vg_query_pool_start(&o, &p, &err), VG_EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_uint_ge(d, 2);
	ck_assert_uint_le(d, 20);
	vg_query_pool_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");
	SRunner *sr;
	int nf;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_every_job_done_once_within_concurrency);
	tcase_add_test(tc, test_full_queue_refuses);
	tcase_add_test(tc, test_stop_cancels_running_and_returns_queued);
	tcase_add_test(tc, test_bad_options_and_default);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
