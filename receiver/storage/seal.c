/*
 * seal.c: the head's frozen samples into raw block files, and the thread
 * that seals on request (seal.h).
 *
 * Owns: the order of a seal's steps 2 and 3 and the block files' names.
 * Does not own the freeze (head.c, asked for through the owner's callback),
 * the block format (block_write.c) or the column codecs (chunk.c).
 *
 * The frozen series are written in the one series order the block writer
 * wants: their keys are copied and sorted once. A series' samples are split
 * by block period as they come; a writer per period is opened on first use
 * (late data an agent's spool replayed may touch many periods).
 */
#include "config.h" /* _GNU_SOURCE: qsort_r */

#include "receiver/storage/seal.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "receiver/storage/block_write.h"
#include "receiver/storage/chunk.h"
#include "receiver/storage/head.h"
#include "receiver/storage/storage.h"
#include "receiver/storage/wal.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/banned.h"

struct fkey {
	uint64_t off;
	uint32_t len;
	uint32_t id;
};

struct period {
	int64_t start;
	struct vg_block_writer *w;
	char path[4096];
	uint64_t series, samples;
};

struct seal_job {
	struct vg_buf keys;
	struct fkey *ids;
	size_t n;
	struct period *periods;
	size_t n_periods, cap_periods;
	struct vg_buf ts, vs;
};

static int fkey_cmp(const void *a, const void *b, void *arg)
{
	const struct fkey *x = a, *y = b;
	const uint8_t *keys = arg;

	return vg_series_key_cmp(keys + x->off, x->len, keys + y->off, y->len);
}

/* Copies the keys of the frozen ids, sorted in the one series order. */
static int collect_keys(struct vg_head *h, uint32_t n_frozen, struct seal_job *j)
{
	j->ids = malloc((n_frozen ? n_frozen : 1) * sizeof(*j->ids));
	if (j->ids == NULL)
		return VG_ENOMEM;
	vg_head_rdlock(h);
	for (uint32_t id = 0; id < n_frozen; id++) {
		const uint8_t *key;
		size_t len;

		vg_head_key_locked(h, id, &key, &len);
		if (len == 0)
			continue; /* an absent id */
		j->ids[j->n++] = (struct fkey){ j->keys.len, (uint32_t)len, id };
		vg_buf_append(&j->keys, key, len);
	}
	vg_head_unlock(h);
	if (vg_buf_failed(&j->keys))
		return VG_ENOMEM;
	if (j->n > 1)
		qsort_r(j->ids, j->n, sizeof(*j->ids), fkey_cmp, j->keys.data);
	return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static struct period *get_period(struct seal_job *j, const char *dir, int64_t start,
				 int64_t period_ms, int64_t seal_ms, struct vg_err *err)
{
	struct vg_block_writer_options o = { .tier = VG_TIER_RAW, .min_t = start,
					     .max_t = start + period_ms };
	struct period *p;

	for (size_t i = 0; i < j->n_periods; i++)
		if (j->periods[i].start == start)
			return &j->periods[i];
	if (j->n_periods == j->cap_periods) {
		size_t cap = j->cap_periods ? j->cap_periods * 2 : 8;
		struct period *np = realloc(j->periods, cap * sizeof(*np));
		if (np == NULL) {
			vg_err_set(err, VG_ENOMEM, "out of memory sealing");
			return NULL;
		}
		j->periods = np;
		j->cap_periods = cap;
	}
	p = &j->periods[j->n_periods];
	memset(p, 0, sizeof(*p));
	p->start = start;
	snprintf(p->path, sizeof(p->path), "%s/blocks/raw/%013" PRId64 "-%013" PRId64 "-%013" PRId64 ".vgb",
		 dir, start, start + period_ms, seal_ms);
	if (vg_block_writer_open(p->path, &o, &p->w, err) != 0)
		return NULL;
	j->n_periods++;
	return p;
}

/* Adds samples[from, to) of one series, all in one period, to its block. */
static int add_run(struct seal_job *j, struct period *p, const uint8_t *key, size_t key_len,
		   const struct vg_samples *smp, size_t from, size_t to, struct vg_err *err)
{
	struct vg_block_col cols[VG_BLOCK_RAW_COLUMNS];
	size_t n = to - from;

	vg_buf_reset(&j->ts);
	vg_buf_reset(&j->vs);
	if (vg_col_encode_ts(smp->ts_ms + from, n, &j->ts) != 0 ||
	    vg_col_encode_f64(smp->values + from, n, &j->vs) != 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory encoding a block column");
	cols[0] = (struct vg_block_col){ j->ts.data, j->ts.len };
	cols[1] = (struct vg_block_col){ j->vs.data, j->vs.len };
	p->series++;
	p->samples += n;
	return vg_block_writer_add(p->w, key, key_len, smp->ts_ms[from], smp->ts_ms[to - 1], n, cols,
				   err);
}

static void job_release(struct seal_job *j, bool is_abort)
{
	for (size_t i = 0; i < j->n_periods; i++)
		if (is_abort && j->periods[i].w)
			vg_block_writer_abort(j->periods[i].w);
	free(j->periods);
	free(j->ids);
	vg_buf_release(&j->keys);
	vg_buf_release(&j->ts);
	vg_buf_release(&j->vs);
}

int vg_seal_frozen(struct vg_head *h, struct vg_storage *st, const char *data_dir,
		   int64_t period_ms, int64_t seal_ms, struct vg_seal_stats *out, struct vg_err *err)
{
	struct seal_job j = { VG_BUF_INIT, NULL, 0, NULL, 0, 0, VG_BUF_INIT, VG_BUF_INIT };
	struct vg_samples smp = { 0 };
	uint32_t n_frozen = vg_head_frozen_series(h);
	struct vg_seal_stats stats = { 0 };
	int rc = 0;

	if (out)
		*out = stats;
	if (period_ms <= 0)
		return vg_err_set(err, VG_EINVAL, "block period must be positive");
	if (n_frozen == 0) {
		vg_head_drop_frozen(h); /* an empty head froze nothing */
		return 0;
	}
	if ((rc = collect_keys(h, n_frozen, &j)) != 0) {
		job_release(&j, true);
		return vg_err_set(err, rc, "out of memory sealing");
	}
	for (size_t i = 0; rc == 0 && i < j.n; i++) {
		const uint8_t *key = j.keys.data + j.ids[i].off;
		size_t from = 0;

		if ((rc = vg_head_read_frozen(h, j.ids[i].id, &smp)) != 0 ||
		    (rc = vg_storage_cut_deleted(st, key, j.ids[i].len, &smp)) != 0) {
			vg_err_set(err, rc, "reading the frozen head: %s", vg_strerror(rc));
			break;
		}
		while (rc == 0 && from < smp.n) {
			int64_t start = floor_div(smp.ts_ms[from], period_ms) * period_ms;
			size_t to = from + 1;
			struct period *p;

			while (to < smp.n && smp.ts_ms[to] < start + period_ms)
				to++;
			if ((p = get_period(&j, data_dir, start, period_ms, seal_ms, err)) == NULL)
				rc = err ? err->code : VG_EIO;
			else
				rc = add_run(&j, p, key, j.ids[i].len, &smp, from, to, err);
			from = to;
		}
	}
	vg_samples_release(&smp);
	if (rc != 0) {
		job_release(&j, true);
		return rc;
	}
	/* Publish every block, then serve them, then forget the frozen set:
	 * at each moment a query finds every sample somewhere. */
	for (size_t i = 0; i < j.n_periods; i++) {
		struct period *p = &j.periods[i];
		struct vg_block_write_stats ws;
		struct vg_block_writer *w = p->w;

		p->w = NULL;
		if (rc == 0) {
			rc = vg_block_writer_finish(w, &ws, err);
			if (rc == 0) {
				stats.blocks++;
				stats.series += p->series;
				stats.samples += p->samples;
				stats.bytes += ws.file_bytes;
			}
		} else {
			vg_block_writer_abort(w);
		}
	}
	for (size_t i = 0; rc == 0 && i < j.n_periods; i++)
		rc = vg_storage_add_block(st, j.periods[i].path, err);
	if (rc != 0) {
		/* Files already published hold the same samples as the frozen
		 * set, which stays: a retry writes them again, reads merge. */
		job_release(&j, false);
		return rc;
	}
	job_release(&j, false);
	vg_head_drop_frozen(h);
	if (out)
		*out = stats;
	return 0;
}

/* --- the sealer thread ----------------------------------------------------- */

struct request {
	struct request *next;
	void (*done)(void *arg, int rc, const char *msg);
	void *arg;
};

struct vg_sealer {
	struct vg_sealer_options o;
	char *data_dir;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct request *queue; /* under mu */
	bool is_stopping;      /* under mu */
	struct vg_complaint complaint; /* the sealer's thread only */
	uint32_t wal_segno;    /* the sealer's: where the pending freeze started */
};

/* One seal: freeze (unless a failed seal left a frozen set), write, serve,
 * then cut the WAL below the segment the freeze started. */
static int run_seal(struct vg_sealer *s, struct vg_err *err)
{
	struct vg_seal_stats st;
	int rc;

	if (vg_head_frozen_series(s->o.head) == 0) {
		uint32_t segno = 0;
		if ((rc = s->o.freeze(s->o.freeze_arg, &segno, err)) != 0)
			return rc;
		s->wal_segno = segno;
	}
	rc = vg_seal_frozen(s->o.head, s->o.storage, s->data_dir, s->o.period_ms, vg_clock_now_ms(),
			    &st, err);
	if (rc != 0)
		return rc;
	if (s->wal_segno != 0 && s->o.wal != NULL) {
		if ((rc = vg_wal_remove_before(s->o.wal, s->wal_segno, err)) != 0)
			return rc;
		s->wal_segno = 0;
	}
	vg_info("sealed the head: %" PRIu64 " blocks, %" PRIu64 " series, %" PRIu64 " samples, %" PRIu64 " bytes",
		st.blocks, st.series, st.samples, st.bytes);
	return 0;
}

/* Waits for a request, or until the retry of a failed seal is due
 * (retry_ms > 0: that many ms from now). Returns with mu held; false when
 * stopping. */
static bool wait_work_locked(struct vg_sealer *s, int64_t retry_ms)
{
	struct timespec ts;

	if (retry_ms <= 0) {
		while (s->queue == NULL && !s->is_stopping)
			pthread_cond_wait(&s->cv, &s->mu);
		return !s->is_stopping || s->queue != NULL;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(retry_ms / 1000);
	ts.tv_nsec += (long)(retry_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (s->queue == NULL && !s->is_stopping)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) != 0)
			break;
	return !s->is_stopping || s->queue != NULL;
}

static void *sealer_main(void *arg)
{
	struct vg_sealer *s = arg;
	int64_t retry_ms = 0;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct request *batch, *next;
		struct vg_err err;
		int rc;

		if (!wait_work_locked(s, retry_ms))
			break;
		/* Every request waiting now is answered by this one seal; with
		 * none, this is the retry of one that failed (a full disk):
		 * what it froze stays frozen, and the retry writes it. */
		batch = s->queue;
		s->queue = NULL;
		pthread_mutex_unlock(&s->mu);
		err.msg[0] = '\0';
		rc = run_seal(s, &err);
		if (rc != 0) {
			retry_ms = retry_ms ? retry_ms * 2 : VG_SEAL_RETRY_MIN_MS;
			if (retry_ms > VG_SEAL_RETRY_MAX_MS)
				retry_ms = VG_SEAL_RETRY_MAX_MS;
			vg_log_complain(&s->complaint, VG_LOG_ERROR, "sealing the head: %s; trying again in %lld ms",
					err.msg, (long long)retry_ms);
		} else {
			retry_ms = 0;
			vg_log_relief(&s->complaint, "sealing works again");
		}
		for (; batch; batch = next) {
			next = batch->next;
			batch->done(batch->arg, rc, rc ? err.msg : "");
			free(batch);
		}
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int vg_sealer_start(const struct vg_sealer_options *opts, struct vg_sealer **out,
		    struct vg_err *err)
{
	struct vg_sealer *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (s == NULL || (s->data_dir = strdup(opts->data_dir)) == NULL) {
		free(s);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	s->o = *opts;
	s->o.data_dir = s->data_dir;
	if (s->o.period_ms <= 0)
		s->o.period_ms = VG_SEAL_DEFAULT_PERIOD_MS;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if ((rc = pthread_create(&s->thread, NULL, sealer_main, s)) != 0) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
		free(s->data_dir);
		free(s);
		return vg_err_set(err, VG_ENOMEM, "cannot start the sealer thread: %s", strerror(rc));
	}
	*out = s;
	return 0;
}

int vg_sealer_request(struct vg_sealer *s, void (*done)(void *arg, int rc, const char *msg),
		      void *arg)
{
	struct request *r = malloc(sizeof(*r));

	if (r == NULL)
		return VG_ENOMEM;
	r->done = done;
	r->arg = arg;
	pthread_mutex_lock(&s->mu);
	if (s->is_stopping) {
		pthread_mutex_unlock(&s->mu);
		free(r);
		return VG_EINVAL;
	}
	r->next = s->queue;
	s->queue = r;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void vg_sealer_stop(struct vg_sealer *s)
{
	struct request *r, *next;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->is_stopping = true;
	r = s->queue;
	s->queue = NULL;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (; r; r = next) {
		next = r->next;
		r->done(r->arg, VG_EINVAL, "the receiver is stopping");
		free(r);
	}
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->data_dir);
	free(s);
}
