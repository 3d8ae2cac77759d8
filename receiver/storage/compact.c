/*
 * compact.c: compaction of block windows (compact.h; the rules and the
 * crash cases are in docs/storage-format.md, "Compaction").
 *
 * Owns the choice of windows, the merge of their blocks and the order of
 * publication. Does not own the block format (block_write.c), the bucket
 * arithmetic (rollup.c) or the block list (storage.c, vg_storage_swap).
 *
 * The merge walks the input blocks side by side in the one series order
 * (every block is sorted by it): at each step the smallest current key is
 * read from every input that holds it, so memory is one series at a time
 * plus the writers' indexes, whatever the window holds.
 */
#include "receiver/storage/compact.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/series.h"
#include "receiver/storage/block_read.h"
#include "receiver/storage/block_write.h"
#include "receiver/storage/chunk.h"
#include "receiver/storage/head.h"
#include "receiver/storage/retention.h"
#include "receiver/storage/rollup.h"
#include "receiver/storage/storage.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/banned.h"

struct input {
	struct vg_block *b;
	int64_t stamp;
	uint32_t idx, n;
	struct vg_buf key;
};

struct out_block {
	struct vg_block_writer *w;
	char path[4096];
	uint64_t series;
};

struct pt {
	int64_t t;
	double v;
	int64_t stamp;
};

struct job {
	struct input *in;
	size_t n_in;
	struct vg_block_cursor *cursor;
	struct vg_samples cols;
	struct pt *pts;
	size_t cap_pts;
	struct vg_samples merged;
	struct vg_buckets bk, tmp;
	struct vg_buf scratch, ts, vs;
};

static int64_t floor_to(int64_t t, int64_t w)
{
	int64_t q = t / w;
	if (t % w != 0 && t < 0)
		q--;
	return q * w;
}

static void stall(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	if (ms > 0)
		nanosleep(&ts, NULL);
}

static int out_open(struct out_block *o, const char *dir, enum vg_tier tier, int64_t a, int64_t b,
		    int64_t stamp, struct vg_err *err)
{
	struct vg_block_writer_options wo = { .tier = tier, .min_t = a, .max_t = b,
					      .flags = VG_BLOCK_F_COMPACTED };

	snprintf(o->path, sizeof(o->path), "%s/blocks/%s/%013" PRId64 "-%013" PRId64 "-%013" PRId64 ".vgb",
		 dir, vg_tier_name(tier), a, b, stamp);
	o->series = 0;
	return vg_block_writer_open(o->path, &wo, &o->w, err);
}

static void job_release(struct job *j)
{
	for (size_t i = 0; i < j->n_in; i++)
		vg_buf_release(&j->in[i].key);
	free(j->in);
	vg_block_cursor_free(j->cursor);
	vg_samples_release(&j->cols);
	vg_samples_release(&j->merged);
	free(j->pts);
	vg_buckets_release(&j->bk);
	vg_buckets_release(&j->tmp);
	vg_buf_release(&j->scratch);
	vg_buf_release(&j->ts);
	vg_buf_release(&j->vs);
}

static int load_key(struct input *in)
{
	vg_buf_reset(&in->key);
	return in->idx < in->n ? vg_block_series_key(in->b, in->idx, &in->key) : 0;
}

/* The smallest current key among inputs; false when all are done. */
static bool next_key(struct job *j, const uint8_t **key, size_t *len)
{
	const struct input *best = NULL;

	for (size_t i = 0; i < j->n_in; i++) {
		const struct input *in = &j->in[i];
		if (in->idx >= in->n)
			continue;
		if (best == NULL ||
		    vg_series_key_cmp(in->key.data, in->key.len, best->key.data, best->key.len) < 0)
			best = in;
	}
	if (best == NULL)
		return false;
	*key = best->key.data;
	*len = best->key.len;
	return true;
}

static bool is_current(const struct input *in, const uint8_t *key, size_t len)
{
	return in->idx < in->n && in->key.len == len && memcmp(in->key.data, key, len) == 0;
}

static int pt_cmp(const void *x, const void *y)
{
	const struct pt *a = x, *b = y;

	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	return a->stamp > b->stamp ? -1 : a->stamp < b->stamp; /* newest first */
}

/* The raw samples of key from every input holding it, a timestamp once
 * (the newest block's), into j->merged. */
static int merge_raw(struct job *j, const uint8_t *key, size_t len, struct vg_err *err)
{
	size_t np = 0;
	int rc;

	for (size_t i = 0; i < j->n_in; i++) {
		struct input *in = &j->in[i];
		struct vg_block_col cols[VG_BLOCK_MAX_COLUMNS];
		size_t cnt;

		if (!is_current(in, key, len))
			continue;
		if ((rc = vg_block_read_columns(in->b, in->idx, j->cursor, cols, err)) != 0)
			return rc;
		if ((rc = vg_col_count(cols[0].p, cols[0].len, &cnt, err)) != 0)
			return rc;
		if (cnt > VG_COL_MAX_N || vg_samples_reserve(&j->cols, cnt) != 0)
			return vg_err_set(err, VG_ENOMEM, "%s: series %u: cannot hold %zu samples",
					  vg_block_name(in->b), in->idx, cnt);
		if (vg_col_decode_ts(cols[0].p, cols[0].len, j->cols.ts_ms, cnt, err) < 0 ||
		    vg_col_decode_f64(cols[1].p, cols[1].len, j->cols.values, cnt, err) < 0) {
			vg_err_prefix(err, "%s: series %u", vg_block_name(in->b), in->idx);
			return VG_EINVAL;
		}
		if (np + cnt > j->cap_pts) {
			size_t cap = j->cap_pts ? j->cap_pts : 1024;
			while (cap < np + cnt)
				cap *= 2;
			struct pt *p = realloc(j->pts, cap * sizeof(*p));
			if (p == NULL)
				return vg_err_set(err, VG_ENOMEM, "out of memory merging samples");
			j->pts = p;
			j->cap_pts = cap;
		}
		for (size_t k = 0; k < cnt; k++)
			j->pts[np++] = (struct pt){ j->cols.ts_ms[k], j->cols.values[k], in->stamp };
	}
	qsort(j->pts, np, sizeof(*j->pts), pt_cmp);
	if (vg_samples_reserve(&j->merged, np) != 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory merging samples");
	j->merged.n = 0;
	for (size_t k = 0; k < np; k++) {
		if (j->merged.n && j->merged.ts_ms[j->merged.n - 1] == j->pts[k].t)
			continue;
		j->merged.ts_ms[j->merged.n] = j->pts[k].t;
		j->merged.values[j->merged.n++] = j->pts[k].v;
	}
	return 0;
}

static int add_raw(struct job *j, struct out_block *o, const uint8_t *key, size_t len,
		   struct vg_err *err)
{
	const struct vg_samples *m = &j->merged;
	struct vg_block_col cols[VG_BLOCK_RAW_COLUMNS];

	vg_buf_reset(&j->ts);
	vg_buf_reset(&j->vs);
	if (vg_col_encode_ts(m->ts_ms, m->n, &j->ts) != 0 ||
	    vg_col_encode_f64(m->values, m->n, &j->vs) != 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory encoding a block column");
	cols[0] = (struct vg_block_col){ j->ts.data, j->ts.len };
	cols[1] = (struct vg_block_col){ j->vs.data, j->vs.len };
	o->series++;
	return vg_block_writer_add(o->w, key, len, m->ts_ms[0], m->ts_ms[m->n - 1], m->n, cols, err);
}

/* The buckets of key from every input holding it, joined by start (the
 * newer stamp's first and last), into j->bk. */
static int merge_buckets(struct job *j, const uint8_t *key, size_t len, int64_t width,
			 struct vg_err *err)
{
	int rc;

	j->bk.n = 0;
	/* Inputs are in ascending stamp order (see run_window). */
	for (size_t i = 0; i < j->n_in; i++) {
		struct input *in = &j->in[i];
		struct vg_block_col cols[VG_BLOCK_MAX_COLUMNS];
		size_t a = 0, k = 0, n_old;

		if (!is_current(in, key, len))
			continue;
		if ((rc = vg_block_read_columns(in->b, in->idx, j->cursor, cols, err)) != 0)
			return rc;
		j->tmp.n = 0;
		if ((rc = vg_rollup_decode(cols, width, &j->tmp, err)) != 0) {
			vg_err_prefix(err, "%s: series %u", vg_block_name(in->b), in->idx);
			return rc;
		}
		/* Merge two ascending runs: j->bk (older) and j->tmp (newer). */
		n_old = j->bk.n;
		struct vg_bucket *old = malloc((n_old ? n_old : 1) * sizeof(*old));
		if (old == NULL || vg_buckets_reserve(&j->bk, n_old + j->tmp.n) != 0) {
			free(old);
			return vg_err_set(err, VG_ENOMEM, "out of memory merging buckets");
		}
		memcpy(old, j->bk.v, n_old * sizeof(*old));
		j->bk.n = 0;
		while (a < n_old || k < j->tmp.n) {
			if (k >= j->tmp.n || (a < n_old && old[a].t_ms < j->tmp.v[k].t_ms)) {
				j->bk.v[j->bk.n++] = old[a++];
			} else if (a >= n_old || j->tmp.v[k].t_ms < old[a].t_ms) {
				j->bk.v[j->bk.n++] = j->tmp.v[k++];
			} else {
				struct vg_bucket x = old[a++];
				vg_rollup_join(&x, &j->tmp.v[k++], 0);
				j->bk.v[j->bk.n++] = x;
			}
		}
		free(old);
	}
	return 0;
}

static int stamp_cmp(const void *x, const void *y)
{
	const struct input *a = x, *b = y;
	return a->stamp < b->stamp ? -1 : a->stamp > b->stamp;
}

/*
 * Compacts one window [a, b): inputs are the blocks of tier `tier` in it;
 * replaced are the inputs and, for a raw window, the rollup blocks in it.
 */
static int run_window(struct vg_storage *st, const struct vg_compact_options *o, enum vg_tier tier,
		      int64_t a, int64_t b, struct vg_block **all, size_t n_all,
		      struct vg_compact_stats *cs, struct vg_err *err)
{
	struct job j;
	struct out_block outs[VG_TIER_COUNT];
	bool has_out[VG_TIER_COUNT] = { false, false, false };
	struct vg_block **replaced = NULL;
	const char *paths[VG_TIER_COUNT];
	size_t n_replaced = 0, n_paths = 0;
	int64_t stamp = vg_storage_next_stamp(st, o->now_ms);
	const uint8_t *key;
	size_t len;
	int rc = 0;

	memset(&j, 0, sizeof(j));
	memset(outs, 0, sizeof(outs));
	j.in = calloc(n_all ? n_all : 1, sizeof(*j.in));
	replaced = calloc(n_all ? n_all : 1, sizeof(*replaced));
	j.cursor = vg_block_cursor_new();
	if (j.in == NULL || replaced == NULL || j.cursor == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory compacting");
		goto out;
	}
	for (size_t i = 0; i < n_all; i++) {
		struct vg_block_info bi;

		vg_block_info(all[i], &bi);
		if (bi.min_t < a || bi.max_t > b)
			continue;
		if (bi.tier == tier) {
			struct input *in = &j.in[j.n_in++];
			in->b = all[i];
			in->stamp = vg_storage_block_stamp(vg_block_name(all[i]));
			in->n = bi.n_series;
			vg_buf_init(&in->key);
			replaced[n_replaced++] = all[i];
		} else if (tier == VG_TIER_RAW && bi.tier != VG_TIER_RAW) {
			replaced[n_replaced++] = all[i];
		}
	}
	qsort(j.in, j.n_in, sizeof(*j.in), stamp_cmp);
	for (size_t i = 0; i < j.n_in; i++)
		if (load_key(&j.in[i]) != 0) {
			rc = vg_err_set(err, VG_ENOMEM, "out of memory compacting");
			goto out;
		}
	/* Outputs: a raw window makes its rollups too, while their tiers keep
	 * the window. */
	for (int t = 0; t < VG_TIER_COUNT; t++) {
		bool is_wanted = tier == VG_TIER_RAW ? b > o->now_ms - vg_retention_of(o->retention, t)
						     : t == (int)tier;
		if (!is_wanted)
			continue;
		if ((rc = out_open(&outs[t], o->data_dir, (enum vg_tier)t, a, b, stamp, err)) != 0)
			goto out;
		has_out[t] = true;
	}
	while (rc == 0 && next_key(&j, &key, &len)) {
		uint8_t kbuf[VG_SERIES_MAX_KEY];

		memcpy(kbuf, key, len); /* the input's buffer moves on below */
		if (tier == VG_TIER_RAW) {
			rc = merge_raw(&j, kbuf, len, err);
			/* What delete_series removed leaves the blocks here. */
			if (rc == 0 && (rc = vg_storage_cut_deleted(st, kbuf, len, &j.merged)) != 0)
				vg_err_set(err, rc, "out of memory compacting");
			if (rc == 0 && j.merged.n > 0) {
				if (has_out[VG_TIER_RAW])
					rc = add_raw(&j, &outs[VG_TIER_RAW], kbuf, len, err);
				for (int t = VG_TIER_1M; rc == 0 && t <= VG_TIER_1H; t++) {
					if (!has_out[t])
						continue;
					j.bk.n = 0;
					if (vg_rollup_compute(j.merged.ts_ms, j.merged.values, j.merged.n,
							      vg_rollup_width((enum vg_tier)t), &j.bk) != 0) {
						rc = vg_err_set(err, VG_ENOMEM, "out of memory computing rollups");
						break;
					}
					outs[t].series++;
					rc = vg_rollup_write_series(outs[t].w, kbuf, len, j.bk.v, j.bk.n,
								    &j.scratch, err);
				}
			}
		} else {
			rc = merge_buckets(&j, kbuf, len, vg_rollup_width(tier), err);
			if (rc == 0 && j.bk.n > 0) {
				outs[tier].series++;
				rc = vg_rollup_write_series(outs[tier].w, kbuf, len, j.bk.v, j.bk.n,
							    &j.scratch, err);
			}
		}
		for (size_t i = 0; rc == 0 && i < j.n_in; i++)
			if (is_current(&j.in[i], kbuf, len)) {
				j.in[i].idx++;
				if (load_key(&j.in[i]) != 0)
					rc = vg_err_set(err, VG_ENOMEM, "out of memory compacting");
			}
	}
	if (rc != 0)
		goto out;
	/* Publish rollups first, raw last (compact.h), then swap. */
	for (int k = 0; k < VG_TIER_COUNT; k++) {
		int t = (k + 1) % VG_TIER_COUNT; /* 1m, 1h, raw */
		struct vg_block_write_stats ws;
		struct vg_block_writer *w = outs[t].w;

		if (!has_out[t])
			continue;
		outs[t].w = NULL;
		if (outs[t].series == 0) {
			vg_block_writer_abort(w);
			continue;
		}
		if ((rc = vg_block_writer_finish(w, &ws, err)) != 0)
			goto out;
		paths[n_paths++] = outs[t].path;
		cs->blocks_out++;
		cs->bytes_out += ws.file_bytes;
		stall(o->testing_stall_ms);
	}
	if ((rc = vg_storage_swap(st, paths, n_paths, replaced, n_replaced, err)) != 0)
		goto out;
	cs->windows++;
	cs->blocks_in += n_replaced;
	vg_info("compacted %s window %" PRId64 "-%" PRId64 ": %zu blocks into %zu", vg_tier_name(tier), a,
		b, n_replaced, n_paths);
out:
	if (rc != 0) {
		/* Outputs not yet served are removed: the inputs stay whole. */
		for (size_t i = 0; i < n_paths; i++)
			(void)remove(paths[i]);
	}
	for (int t = 0; t < VG_TIER_COUNT; t++)
		vg_block_writer_abort(outs[t].w);
	job_release(&j);
	free(replaced);
	return rc;
}

/* Whether the window [a, b) of tier is due (compact.h). */
static bool is_due(const struct vg_compact_options *o, enum vg_tier tier, int64_t a, int64_t b,
		   struct vg_block **all, size_t n_all)
{
	int64_t raw_edge = o->now_ms - vg_retention_of(o->retention, VG_TIER_RAW);
	size_t n = 0;
	bool is_single_compacted = false;

	if (tier == VG_TIER_RAW ? (b + o->period_ms > o->now_ms || b <= raw_edge) : b > raw_edge)
		return false;
	for (size_t i = 0; i < n_all; i++) {
		struct vg_block_info bi;
		vg_block_info(all[i], &bi);
		if (bi.tier != tier || bi.min_t < a || bi.max_t > b)
			continue;
		n++;
		is_single_compacted = (bi.flags & VG_BLOCK_F_COMPACTED) && bi.min_t == a && bi.max_t == b;
	}
	return tier == VG_TIER_RAW ? n > 1 || (n == 1 && !is_single_compacted) : n > 1;
}

int vg_compact_run(struct vg_storage *st, const struct vg_compact_options *o,
		   struct vg_compact_stats *out, struct vg_err *err)
{
	static const int64_t windows[VG_TIER_COUNT] = { VG_COMPACT_RAW_WINDOW_MS,
							VG_COMPACT_1M_WINDOW_MS,
							VG_COMPACT_1H_WINDOW_MS };
	struct vg_compact_stats cs = { 0, 0, 0, 0 };
	int rc = 0;

	for (int t = 0; rc == 0 && t < VG_TIER_COUNT; t++) {
		struct vg_block **all = NULL;
		size_t n_all = 0;
		int64_t last_a = INT64_MIN;
		bool is_more = true;

		/* One window at a time, the list read again after each. */
		while (rc == 0 && is_more) {
			is_more = false;
			if ((rc = vg_storage_blocks(st, &all, &n_all)) != 0) {
				rc = vg_err_set(err, rc, "out of memory compacting");
				break;
			}
			for (size_t i = 0; i < n_all; i++) {
				struct vg_block_info bi;
				int64_t a, b;

				vg_block_info(all[i], &bi);
				if ((int)bi.tier != t)
					continue;
				a = floor_to(bi.min_t, windows[t]);
				b = a + windows[t];
				if (a <= last_a || bi.max_t > b || !is_due(o, (enum vg_tier)t, a, b, all, n_all))
					continue;
				last_a = a;
				rc = run_window(st, o, (enum vg_tier)t, a, b, all, n_all, &cs, err);
				is_more = rc == 0;
				break;
			}
			vg_storage_blocks_free(all, n_all);
		}
	}
	if (out)
		*out = cs;
	return rc;
}
