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
 * by block period as they come; writers per period are opened on first use
 * (late data an agent's spool replayed may touch many periods): a raw one,
 * and 1m and 1h ones with the buckets of the same samples, unless
 *  - the period's day is past the raw retention: no raw block (imports of
 *    old samples live in the rollup tiers only), and a rollup tier whose
 *    retention the period is past gets none either;
 *  - raw blocks of the period exist already (late data, or samples a WAL
 *    replay brought back after a crash): raw only, since rollups of part
 *    of the period would count the rest twice or not at all; compaction
 *    computes the window's rollups from its merged raw samples.
 * Raw blocks are published before rollups, so a crash between leaves raw
 * without rollups (the case above), never rollups twice.
 *
 * The sealer's thread also runs compaction and retention (compact.h,
 * retention.h): after each seal, at start and each minute of the
 * receiver's clock, so one thread changes the block list at a time.
 */
#include "config.h" /* _GNU_SOURCE: qsort_r */

#include "receiver/storage/seal.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "receiver/storage/block_write.h"
#include "receiver/storage/block_read.h"
#include "receiver/storage/chunk.h"
#include "receiver/storage/compact.h"
#include "receiver/storage/head.h"
#include "receiver/storage/retention.h"
#include "receiver/storage/rollup.h"
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

/* One block being written: a tier and a window. */
struct period {
	int tier;
	int64_t start, end;
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
	struct vg_buf ts, vs, scratch;
	struct vg_buckets bk;
	struct vg_block **blocks; /* the storage's, when the seal began */
	size_t n_blocks;
	const struct vg_retention *retention;
	int64_t now_ms, period_ms;
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
		size_t off = j->keys.len;

		if (vg_head_series_key_locked(h, id, &j->keys) != 0)
			break;
		if (j->keys.len == off)
			continue; /* an absent id */
		j->ids[j->n++] = (struct fkey){ off, (uint32_t)(j->keys.len - off), id };
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

/* Whether raw blocks of the period [a, b) are served already. */
static bool has_raw(const struct seal_job *j, int64_t a, int64_t b)
{
	for (size_t i = 0; i < j->n_blocks; i++) {
		struct vg_block_info bi;
		vg_block_info(j->blocks[i], &bi);
		if (bi.tier == VG_TIER_RAW && bi.min_t < b && bi.max_t > a)
			return true;
	}
	return false;
}

/* Where a sample at t goes in tier `tier`: *start, *end of its block's
 * window, and whether that tier gets a block there at all. Raw-retention
 * days: the block period, for every tier. Older days (history): the
 * rollup tier's compaction window, cut at the raw-retention day edge, so
 * an import of a year is a few hundred files rather than thousands. */
static bool window_of(const struct seal_job *j, int tier, int64_t t, int64_t *start, int64_t *end)
{
	static const int64_t windows[VG_TIER_COUNT] = { VG_COMPACT_RAW_WINDOW_MS,
							VG_COMPACT_1M_WINDOW_MS,
							VG_COMPACT_1H_WINDOW_MS };
	int64_t day = floor_div(t, VG_COMPACT_RAW_WINDOW_MS) * VG_COMPACT_RAW_WINDOW_MS;
	int64_t raw_edge = j->now_ms - vg_retention_of(j->retention, VG_TIER_RAW);
	bool is_raw = day + VG_COMPACT_RAW_WINDOW_MS > raw_edge;

	if (is_raw) {
		*start = floor_div(t, j->period_ms) * j->period_ms;
		*end = *start + j->period_ms;
		if (tier != VG_TIER_RAW && has_raw(j, *start, *end))
			return false; /* compaction makes these rollups */
	} else {
		int64_t edge = floor_div(raw_edge, VG_COMPACT_RAW_WINDOW_MS) * VG_COMPACT_RAW_WINDOW_MS;
		*start = floor_div(t, windows[tier]) * windows[tier];
		*end = *start + windows[tier];
		if (*end > edge)
			*end = edge;
		if (tier == VG_TIER_RAW)
			return false;
	}
	return tier == VG_TIER_RAW || *end > j->now_ms - vg_retention_of(j->retention, tier);
}

static struct period *get_period(struct seal_job *j, const char *dir, int tier, int64_t start,
				 int64_t end, int64_t seal_ms, struct vg_err *err)
{
	struct vg_block_writer_options o = { .tier = (enum vg_tier)tier, .min_t = start, .max_t = end };
	struct period *p;

	for (size_t i = j->n_periods; i > 0; i--)
		if (j->periods[i - 1].tier == tier && j->periods[i - 1].start == start)
			return &j->periods[i - 1];
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
	p->tier = tier;
	p->start = start;
	p->end = end;
	snprintf(p->path, sizeof(p->path), "%s/blocks/%s/%013" PRId64 "-%013" PRId64 "-%013" PRId64 ".vgb",
		 dir, vg_tier_name(tier), start, end, seal_ms);
	if (vg_block_writer_open(p->path, &o, &p->w, err) != 0)
		return NULL;
	j->n_periods++;
	return p;
}

/* Adds samples[from, to) of one series, all in p's window, to p. */
static int add_run(struct seal_job *j, struct period *p, const uint8_t *key, size_t key_len,
		   const struct vg_samples *smp, size_t from, size_t to, struct vg_err *err)
{
	struct vg_block_col cols[VG_BLOCK_RAW_COLUMNS];
	size_t n = to - from;

	p->series++;
	p->samples += n;
	if (p->tier == VG_TIER_RAW) {
		vg_buf_reset(&j->ts);
		vg_buf_reset(&j->vs);
		if (vg_col_encode_ts(smp->ts_ms + from, n, &j->ts) != 0 ||
		    vg_col_encode_f64(smp->values + from, n, &j->vs) != 0)
			return vg_err_set(err, VG_ENOMEM, "out of memory encoding a block column");
		cols[0] = (struct vg_block_col){ j->ts.data, j->ts.len };
		cols[1] = (struct vg_block_col){ j->vs.data, j->vs.len };
		return vg_block_writer_add(p->w, key, key_len, smp->ts_ms[from], smp->ts_ms[to - 1], n,
					   cols, err);
	}
	j->bk.n = 0;
	if (vg_rollup_compute(smp->ts_ms + from, smp->values + from, n,
			      vg_rollup_width((enum vg_tier)p->tier), &j->bk) != 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory computing rollups");
	return vg_rollup_write_series(p->w, key, key_len, j->bk.v, j->bk.n, &j->scratch, err);
}

static void job_release(struct seal_job *j, bool is_abort)
{
	for (size_t i = 0; i < j->n_periods; i++)
		if (is_abort && j->periods[i].w)
			vg_block_writer_abort(j->periods[i].w);
	vg_storage_blocks_free(j->blocks, j->n_blocks);
	vg_buf_release(&j->scratch);
	vg_buckets_release(&j->bk);
	free(j->periods);
	free(j->ids);
	vg_buf_release(&j->keys);
	vg_buf_release(&j->ts);
	vg_buf_release(&j->vs);
}

int vg_seal_frozen(struct vg_head *h, struct vg_storage *st, const char *data_dir,
		   int64_t period_ms, int64_t now_ms, const struct vg_retention *retention,
		   struct vg_seal_stats *out, struct vg_err *err)
{
	struct seal_job j;
	struct vg_samples smp = { 0 };
	uint32_t n_frozen = vg_head_frozen_series(h);
	struct vg_seal_stats stats = { 0 };
	const char **paths = NULL;
	size_t n_paths = 0;
	int64_t seal_ms;
	int rc = 0;

	memset(&j, 0, sizeof(j));
	vg_buf_init(&j.keys);
	vg_buf_init(&j.ts);
	vg_buf_init(&j.vs);
	vg_buf_init(&j.scratch);
	j.retention = retention;
	j.now_ms = now_ms;
	j.period_ms = period_ms;
	if (out)
		*out = stats;
	if (period_ms <= 0 || period_ms % VG_ROLLUP_1H_MS != 0)
		return vg_err_set(err, VG_EINVAL, "block period must be a positive number of hours");
	if (n_frozen == 0) {
		vg_head_drop_frozen(h); /* an empty head froze nothing */
		return 0;
	}
	seal_ms = vg_storage_next_stamp(st, now_ms);
	if ((rc = collect_keys(h, n_frozen, &j)) != 0 ||
	    (rc = vg_storage_blocks(st, &j.blocks, &j.n_blocks)) != 0) {
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
		for (int t = 0; rc == 0 && t < VG_TIER_COUNT; t++) {
			for (from = 0; rc == 0 && from < smp.n;) {
				int64_t start = 0, end = 0;
				bool is_wanted = window_of(&j, t, smp.ts_ms[from], &start, &end);
				size_t to = from + 1;
				struct period *p;

				while (to < smp.n && smp.ts_ms[to] < end)
					to++;
				if (is_wanted) {
					if ((p = get_period(&j, data_dir, t, start, end, seal_ms, err)) == NULL)
						rc = err ? err->code : VG_EIO;
					else
						rc = add_run(&j, p, key, j.ids[i].len, &smp, from, to, err);
				}
				from = to;
			}
		}
	}
	vg_samples_release(&smp);
	if (rc == 0 && (paths = malloc((j.n_periods + 1) * sizeof(*paths))) == NULL)
		rc = vg_err_set(err, VG_ENOMEM, "out of memory sealing");
	if (rc != 0) {
		job_release(&j, true);
		return rc;
	}
	/* Publish every block, raw first, then serve them all at once, then
	 * forget the frozen set: at each moment a query finds every sample
	 * somewhere. */
	for (int t = 0; t < VG_TIER_COUNT; t++) {
		for (size_t i = 0; i < j.n_periods; i++) {
			struct period *p = &j.periods[i];
			struct vg_block_write_stats ws;
			struct vg_block_writer *w = p->w;

			if (p->tier != t || w == NULL)
				continue;
			p->w = NULL;
			if (rc != 0) {
				vg_block_writer_abort(w);
				continue;
			}
			rc = vg_block_writer_finish(w, &ws, err);
			if (rc == 0) {
				paths[n_paths++] = p->path;
				stats.blocks++;
				stats.bytes += ws.file_bytes;
				if (t == VG_TIER_RAW) {
					stats.series += p->series;
					stats.samples += p->samples;
				} else {
					stats.rollup_blocks++;
				}
			}
		}
	}
	if (rc == 0)
		rc = vg_storage_swap(st, paths, n_paths, NULL, 0, err);
	if (rc != 0) {
		/* No file of this attempt is served: remove them all, keep the
		 * frozen set for a retry. */
		for (size_t i = 0; i < n_paths; i++)
			(void)remove(paths[i]);
		free(paths);
		job_release(&j, false);
		return rc;
	}
	free(paths);
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
	int64_t last_maint_ms; /* the sealer's: the clock at the last maintenance */
	bool has_maint;
};

/* Compaction, then retention, at the clock's now. Logged, not returned:
 * a seal's answer does not depend on them. */
static void maintain(struct vg_sealer *s)
{
	int64_t now = vg_clock_now(s->o.clock);
	struct vg_compact_options co = { s->data_dir, s->o.retention, s->o.period_ms, now,
					 s->o.testing_compact_stall_ms };
	struct vg_err err;

	err.msg[0] = '\0';
	if (vg_compact_run(s->o.storage, &co, NULL, &err) != 0)
		vg_error("compaction: %s", err.msg);
	err.msg[0] = '\0';
	if (vg_retention_apply(s->o.storage, s->o.retention, now, NULL, &err) != 0)
		vg_error("retention: %s", err.msg);
	s->last_maint_ms = now;
	s->has_maint = true;
}

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
	rc = vg_seal_frozen(s->o.head, s->o.storage, s->data_dir, s->o.period_ms,
			    vg_clock_now(s->o.clock), s->o.retention, &st, err);
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

/* Maintenance is due a minute of the receiver's clock after the last (or
 * at once when that clock went back). */
static bool is_maint_due(struct vg_sealer *s)
{
	int64_t now = vg_clock_now(s->o.clock);

	return !s->has_maint || now - s->last_maint_ms >= VG_SEAL_MAINTENANCE_MS ||
	       now < s->last_maint_ms;
}

/* Waits for a request, or until the retry of a failed seal is due
 * (retry_at_ms > 0: then, on the monotonic clock), running maintenance
 * whenever it is due meanwhile. Returns with mu held; false when
 * stopping. */
static bool wait_work_locked(struct vg_sealer *s, int64_t retry_at_ms)
{
	while (s->queue == NULL && !s->is_stopping) {
		struct timespec until;

		if (retry_at_ms > 0 && vg_clock_mono_ms() >= retry_at_ms)
			return true;
		if (is_maint_due(s)) {
			pthread_mutex_unlock(&s->mu);
			maintain(s);
			pthread_mutex_lock(&s->mu);
			continue;
		}
		/* A second on the monotonic clock: a driven clock moves
		 * without telling anyone. */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&s->cv, &s->mu, &until);
	}
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

		if (!wait_work_locked(s, retry_ms ? vg_clock_mono_ms() + retry_ms : 0))
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
			maintain(s);
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
	if (s->o.period_ms % VG_ROLLUP_1H_MS != 0) {
		free(s->data_dir);
		free(s);
		return vg_err_set(err, VG_EINVAL, "the block period must be a whole number of hours");
	}
	pthread_mutex_init(&s->mu, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
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
