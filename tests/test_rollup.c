/*
 * test_rollup.c: rollup buckets (receiver/storage/rollup.c) against the
 * raw samples they come from, their block columns, and reads through the
 * storage's read interface that stitch the head, raw blocks and rollup
 * blocks, before and after compaction (compact.c).
 */
#include "common/buf.h"
#include "common/err.h"
#include "promql/parse.h"
#include "common/log.h"
#include "common/selector.h"
#include "common/series.h"
#include "receiver/storage/block_read.h"
#include "receiver/storage/compact.h"
#include "receiver/storage/head.h"
#include "receiver/storage/retention.h"
#include "receiver/storage/rollup.h"
#include "receiver/storage/seal.h"
#include "receiver/storage/storage.h"
#include "harness.h"

#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)
#define T0 1764028800000LL /* a day boundary */

struct series_gen {
	int64_t *ts;
	double *v;
	size_t n;
};

static uint64_t rng_state = 42;
static double rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

enum kind { GAUGE, COUNTER_RESETS, GAPS };

/* n samples every step_ms from t0, of a kind. */
static void gen(struct series_gen *g, enum kind k, int64_t t0, int64_t step_ms, size_t n)
{
	double c = 1000;

	g->ts = malloc(n * sizeof(*g->ts));
	g->v = malloc(n * sizeof(*g->v));
	ck_assert(g->ts && g->v);
	g->n = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t t = t0 + (int64_t)i * step_ms;
		if (k == GAPS && (i / 50) % 3 == 1)
			continue; /* a gap of 50 steps in every 150 */
		double v;
		if (k == GAUGE) {
			v = floor(rnd() * 100000) / 100 - 300;
		} else {
			c += floor(rnd() * 500) / 10;
			if (rnd() < 0.01)
				c = floor(rnd() * 10); /* a reset */
			v = c;
		}
		g->ts[g->n] = t;
		g->v[g->n++] = v;
	}
}

static void gen_free(struct series_gen *g)
{
	free(g->ts);
	free(g->v);
}

static bool near(double a, double b)
{
	return fabs(a - b) <= 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

static int64_t floor_to(int64_t t, int64_t w)
{
	return (t / w - (t % w < 0)) * w;
}

/* Each bucket against the samples in its window, computed here plainly. */
static void check_buckets(const struct series_gen *g, const struct vg_bucket *b, size_t nb,
			  int64_t width)
{
	size_t i = 0;

	for (size_t k = 0; k < nb; k++) {
		double mn = INFINITY, mx = -INFINITY, sum = 0, inc = 0;
		size_t from = i;

		ck_assert_int_eq(b[k].width_ms, width);
		ck_assert_int_eq(b[k].t_ms, floor_to(g->ts[i], width));
		while (i < g->n && g->ts[i] < b[k].t_ms + width) {
			mn = fmin(mn, g->v[i]);
			mx = fmax(mx, g->v[i]);
			sum += g->v[i];
			if (i > from)
				inc += g->v[i] >= g->v[i - 1] ? g->v[i] - g->v[i - 1] : g->v[i];
			i++;
		}
		ck_assert_uint_eq(b[k].count, i - from);
		ck_assert(b[k].min == mn && b[k].max == mx);
		ck_assert(b[k].first == g->v[from] && b[k].last == g->v[i - 1]);
		ck_assert_msg(near(b[k].sum, sum), "bucket %zu sum %.17g want %.17g", k, b[k].sum, sum);
		ck_assert_msg(near(b[k].increase, inc), "bucket %zu increase %.17g want %.17g", k,
			      b[k].increase, inc);
	}
	ck_assert_uint_eq(i, g->n);
}

/* The raw increase over all samples, resets counted as Prometheus does. */
static double raw_increase(const struct series_gen *g)
{
	double inc = 0;

	for (size_t i = 1; i < g->n; i++)
		inc += g->v[i] >= g->v[i - 1] ? g->v[i] - g->v[i - 1] : g->v[i];
	return inc;
}

START_TEST(test_rollup_buckets_equal_raw_aggregates_for_gauges_counters_and_gaps)
{
	for (int k = GAUGE; k <= GAPS; k++) {
		struct series_gen g;
		struct vg_buckets m = { 0 }, h = { 0 }, hc = { 0 };
		double total = 0;

		gen(&g, (enum kind)k, T0 + 7000, 10000, 3 * 8640 / 4); /* 18 h */
		ck_assert_int_eq(vg_rollup_compute(g.ts, g.v, g.n, MIN_MS, &m), 0);
		ck_assert_int_eq(vg_rollup_compute(g.ts, g.v, g.n, HOUR_MS, &h), 0);
		check_buckets(&g, m.v, m.n, MIN_MS);
		check_buckets(&g, h.v, h.n, HOUR_MS);
		/* 1h from 1m is the same as 1h from the samples. */
		ck_assert_int_eq(vg_rollup_coarsen(m.v, m.n, HOUR_MS, &hc), 0);
		ck_assert_uint_eq(hc.n, h.n);
		for (size_t i = 0; i < h.n; i++) {
			ck_assert_int_eq(hc.v[i].t_ms, h.v[i].t_ms);
			ck_assert_uint_eq(hc.v[i].count, h.v[i].count);
			ck_assert(hc.v[i].min == h.v[i].min && hc.v[i].max == h.v[i].max);
			ck_assert(hc.v[i].first == h.v[i].first && hc.v[i].last == h.v[i].last);
			ck_assert(near(hc.v[i].sum, h.v[i].sum) && near(hc.v[i].increase, h.v[i].increase));
		}
		/* Linked, the increases add up to the raw increase, resets included. */
		vg_rollup_link(m.v, m.n);
		for (size_t i = 0; i < m.n; i++)
			total += m.v[i].increase;
		ck_assert_msg(near(total, raw_increase(&g)), "kind %d: %.17g want %.17g", k, total,
			      raw_increase(&g));
		vg_buckets_release(&m);
		vg_buckets_release(&h);
		vg_buckets_release(&hc);
		gen_free(&g);
	}
}
END_TEST

START_TEST(test_rollup_columns_round_trip_bit_for_bit_and_refuse_damage)
{
	struct series_gen g;
	struct vg_buckets b = { 0 }, out = { 0 };
	struct vg_buf buf = VG_BUF_INIT;
	size_t offs[VG_BLOCK_ROLLUP_COLUMNS], lens[VG_BLOCK_ROLLUP_COLUMNS];
	struct vg_block_col cols[VG_BLOCK_ROLLUP_COLUMNS];
	struct vg_err err;

	gen(&g, COUNTER_RESETS, T0, 10000, 4000);
	g.v[10] = NAN;
	g.v[500] = INFINITY;
	g.v[900] = -0.0;
	g.v[1500] = 1e300;
	g.v[1501] = 0.1 + 0.2;
	ck_assert_int_eq(vg_rollup_compute(g.ts, g.v, g.n, MIN_MS, &b), 0);
	ck_assert_int_eq(vg_rollup_encode(b.v, b.n, &buf, offs, lens), 0);
	for (int c = 0; c < VG_BLOCK_ROLLUP_COLUMNS; c++)
		cols[c] = (struct vg_block_col){ buf.data + offs[c], lens[c] };
	ck_assert_int_eq(vg_rollup_decode(cols, MIN_MS, &out, &err), 0);
	ck_assert_uint_eq(out.n, b.n);
	ck_assert(memcmp(out.v, b.v, b.n * sizeof(*b.v)) == 0);
	/* Every column cut short is damage, reported, never a crash. */
	for (int c = 0; c < VG_BLOCK_ROLLUP_COLUMNS; c++) {
		struct vg_block_col cut[VG_BLOCK_ROLLUP_COLUMNS];
		memcpy(cut, cols, sizeof(cut));
		cut[c].len = cut[c].len / 2;
		out.n = 0;
		ck_assert_int_ne(vg_rollup_decode(cut, MIN_MS, &out, &err), 0);
	}
	vg_buf_release(&buf);
	vg_buckets_release(&b);
	vg_buckets_release(&out);
	gen_free(&g);
}
END_TEST

/* A decimal series of a shape, in hundredths: 0 a counter without resets,
 * 1 a random walk, 2 a walk whose last sample of each minute stands
 * 10,000 above it, 3 noise about 10,000, 4 a walk with one NaN. */
static void gen_shape(struct series_gen *g, int shape, size_t n)
{
	int64_t c = 1000000;

	g->ts = malloc(n * sizeof(*g->ts));
	g->v = malloc(n * sizeof(*g->v));
	ck_assert(g->ts && g->v);
	for (size_t i = 0; i < n; i++) {
		int64_t step = (int64_t)floor(rnd() * 200) - 100;
		c = shape == 0 ? c + step + 100 : shape == 3 ? 1000000 + step : c + step;
		g->ts[i] = T0 + (int64_t)i * 10000;
		g->v[i] = (double)(c + (shape == 2 && i % 6 == 5 ? 1000000 : 0)) / 100;
	}
	if (shape == 4)
		g->v[n / 2] = NAN;
	g->n = n;
}

/* Each rollup layout (the column encodings of chunk.c; first and last
 * apart, 0x40 and 0x41; the increase against the down steps, 0x42, of
 * either reference) is chosen for some shape, decodes bit for bit, and
 * each damage of its columns is refused with a message. */
START_TEST(test_rollup_layouts_round_trip_and_refuse_damage)
{
	bool seen_plain = false, seen_pair = false, seen_downs[2] = { false, false };

	for (int shape = 0; shape < 5; shape++)
		for (int w = 0; w < 2; w++) {
			struct series_gen g;
			struct vg_buckets b = { 0 }, out = { 0 };
			struct vg_buf buf = VG_BUF_INIT;
			size_t offs[VG_BLOCK_ROLLUP_COLUMNS], lens[VG_BLOCK_ROLLUP_COLUMNS];
			struct vg_block_col cols[VG_BLOCK_ROLLUP_COLUMNS], bad[VG_BLOCK_ROLLUP_COLUMNS];
			struct vg_err err;
			int64_t width = w ? HOUR_MS : MIN_MS;
			const int lc = VG_ROLLUP_COL_LAST, fc = VG_ROLLUP_COL_FIRST, ic = VG_ROLLUP_COL_INCREASE;

			gen_shape(&g, shape, 8640 * 2);
			ck_assert_int_eq(vg_rollup_compute(g.ts, g.v, g.n, width, &b), 0);
			ck_assert_int_eq(vg_rollup_encode(b.v, b.n, &buf, offs, lens), 0);
			for (int c = 0; c < VG_BLOCK_ROLLUP_COLUMNS; c++)
				cols[c] = (struct vg_block_col){ buf.data + offs[c], lens[c] };
			ck_assert_int_eq(vg_rollup_decode(cols, width, &out, &err), 0);
			ck_assert_uint_eq(out.n, b.n);
			ck_assert(memcmp(out.v, b.v, b.n * sizeof(*b.v)) == 0);
			uint8_t tl = cols[lc].p[0], tf = cols[fc].p[0], ti = cols[ic].p[0];
			ck_assert((tl == 0x40) == (tf == 0x41));
			seen_pair |= tl == 0x40;
			seen_plain |= tl != 0x40 && ti != 0x42;
			if (ti == 0x42) {
				uint8_t kind = cols[ic].p[2 + vg_uvarint_len(b.n)];
				ck_assert_uint_le(kind, 1);
				seen_downs[kind] = true;
			}
			if (shape == 4)
				ck_assert(tl != 0x40 && ti != 0x42); /* no common decimal scale */
			/* Cut short anywhere, or one byte too long: refused. */
			for (int c = lc; c < VG_BLOCK_ROLLUP_COLUMNS; c++) {
				uint8_t *longer = malloc(cols[c].len + 1);
				ck_assert_ptr_nonnull(longer);
				memcpy(longer, cols[c].p, cols[c].len);
				longer[cols[c].len] = 0;
				for (size_t cut = 0; cut <= cols[c].len; cut += cut < 16 ? 1 : 97) {
					memcpy(bad, cols, sizeof(bad));
					bad[c].len = cut == cols[c].len ? cut + 1 : cut;
					bad[c].p = longer;
					out.n = 0;
					err.msg[0] = '\0';
					if ((c == lc && tl == 0x40) || (c == fc && tf == 0x41) || (c == ic && ti == 0x42) ||
					    cut < cols[c].len) {
						ck_assert_int_ne(vg_rollup_decode(bad, width, &out, &err), 0);
						ck_assert(err.msg[0] != '\0');
					}
				}
				free(longer);
			}
			/* A mark without the pair, or the pair without its mark. */
			memcpy(bad, cols, sizeof(bad));
			if (tl == 0x40)
				bad[fc] = bad[ic];
			else
				bad[fc] = (struct vg_block_col){ (const uint8_t *)"\x41\x01", 2 };
			ck_assert_int_ne(vg_rollup_decode(bad, width, &out, &err), 0);
			/* Every byte of the new layouts changed: never a crash. */
			for (int c = lc; c <= ic; c++) {
				if (!(c == lc && tl == 0x40) && !(c == ic && ti == 0x42))
					continue;
				uint8_t *copy = malloc(cols[c].len);
				ck_assert_ptr_nonnull(copy);
				for (size_t i = 0; i < cols[c].len && i < 64; i++) {
					memcpy(copy, cols[c].p, cols[c].len);
					copy[i] ^= 0x5a;
					memcpy(bad, cols, sizeof(bad));
					bad[c].p = copy;
					out.n = 0;
					(void)vg_rollup_decode(bad, width, &out, &err);
				}
				free(copy);
			}
			vg_buf_release(&buf);
			vg_buckets_release(&b);
			vg_buckets_release(&out);
			gen_free(&g);
		}
	ck_assert(seen_plain && seen_pair && seen_downs[0] && seen_downs[1]);
}
END_TEST

/* --- through the storage ------------------------------------------------- */

static uint32_t head_add(struct vg_head *h, const char *inst)
{
	struct vg_series s;
	uint32_t id;
	bool is_new;

	vg_series_init(&s, "m");
	ck_assert_int_eq(vg_series_add(&s, "instance", inst), 0);
	ck_assert_int_eq(vg_series_canonicalize(&s, NULL), 0);
	ck_assert_int_eq(vg_head_get_or_create(h, &s, vg_series_hash(&s), &id, &is_new), 0);
	return id;
}

static void put(struct vg_head *h, uint32_t id, const struct series_gen *g, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		ck_assert_int_eq(vg_head_append(h, 1, &id, &g->ts[i], &g->v[i]), 0);
}

static void seal_at(struct vg_head *h, struct vg_storage *st, const char *dir, int64_t now)
{
	struct vg_err err;

	ck_assert_int_eq(vg_head_freeze(h), 0);
	ck_assert_msg(vg_seal_frozen(h, st, dir, 2 * HOUR_MS, now, NULL, NULL, &err) == 0, "%s", err.msg);
}

/* Reads the one series m{instance="a"} at res over [a, b]. */
static void read_buckets(struct vg_storage *st, int64_t res, int64_t a, int64_t b,
			 struct vg_buckets *out)
{
	struct vg_selector sel;
	struct vg_storage_set *set;
	struct vg_err err;

	ck_assert_int_eq(vg_promql_parse_selector("m{instance=\"a\"}", strlen("m{instance=\"a\"}"), &sel, NULL, &err), 0);
	ck_assert_msg(vg_storage_select(st, &sel, a, b, res, &set, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(vg_storage_set_len(set), 1);
	ck_assert_msg(vg_storage_set_read_buckets(set, 0, a, b, out, &err) == 0, "%s", err.msg);
	vg_storage_set_free(set);
	vg_selector_release(&sel);
}

static size_t read_raw_n(struct vg_storage *st, int64_t a, int64_t b)
{
	struct vg_selector sel;
	struct vg_storage_set *set;
	struct vg_samples smp = { 0 };
	struct vg_err err;
	size_t n = 0;

	ck_assert_int_eq(vg_promql_parse_selector("m{instance=\"a\"}", strlen("m{instance=\"a\"}"), &sel, NULL, &err), 0);
	ck_assert_int_eq(vg_storage_select(st, &sel, a, b, VG_STORAGE_RES_RAW, &set, &err), 0);
	if (vg_storage_set_len(set) == 1) {
		ck_assert_int_eq(vg_storage_set_read(set, 0, a, b, &smp, &err), 0);
		n = smp.n;
	}
	vg_samples_release(&smp);
	vg_storage_set_free(set);
	vg_selector_release(&sel);
	return n;
}

/* got and want bucket for bucket: sums and increases to float rounding. */
static void assert_same_buckets(const struct vg_buckets *got, const struct vg_buckets *want)
{
	ck_assert_uint_eq(got->n, want->n);
	for (size_t i = 0; i < want->n; i++) {
		ck_assert_int_eq(got->v[i].t_ms, want->v[i].t_ms);
		ck_assert_uint_eq(got->v[i].count, want->v[i].count);
		ck_assert(got->v[i].min == want->v[i].min && got->v[i].max == want->v[i].max);
		ck_assert(got->v[i].first == want->v[i].first && got->v[i].last == want->v[i].last);
		ck_assert_msg(near(got->v[i].sum, want->v[i].sum), "bucket %zu", i);
		ck_assert_msg(near(got->v[i].increase, want->v[i].increase), "bucket %zu: %.17g want %.17g",
			      i, got->v[i].increase, want->v[i].increase);
	}
}

/* Buckets read through the storage equal buckets computed from the
 * samples, linked: no gap, no double count where tiers meet. */
static void check_read(struct vg_storage *st, const struct series_gen *g, int64_t res)
{
	struct vg_buckets got = { 0 }, want = { 0 };

	read_buckets(st, res, g->ts[0], g->ts[g->n - 1], &got);
	ck_assert_int_eq(vg_rollup_compute(g->ts, g->v, g->n, res, &want), 0);
	vg_rollup_link(want.v, want.n);
	assert_same_buckets(&got, &want);
	vg_buckets_release(&got);
	vg_buckets_release(&want);
}

START_TEST(test_rollup_reads_stitch_head_raw_and_rollups_before_and_after_compaction)
{
	struct vg_head *h = vg_head_new();
	struct vg_storage_options so = { NULL, h };
	struct vg_storage *st;
	struct series_gen g;
	struct vg_compact_stats cs;
	struct vg_err err;
	char *dir = vg_t_tmpdir("vigil-rollup");
	uint32_t id;
	size_t third;

	vg_log_set_level(VG_LOG_ERROR);
	so.data_dir = dir;
	ck_assert_int_eq(vg_storage_open(&so, &st, &err), 0);
	id = head_add(h, "a");
	gen(&g, COUNTER_RESETS, T0 + 5000, 10000, 3 * 8640); /* three days */
	third = g.n / 3;
	/* Two seals of a day each... */
	put(h, id, &g, 0, third);
	seal_at(h, st, dir, T0 + 2 * DAY_MS);
	put(h, id, &g, third, 2 * third);
	seal_at(h, st, dir, T0 + 2 * DAY_MS);
	/* ... and the last day in the head. */
	put(h, id, &g, 2 * third, g.n);
	ck_assert_uint_eq(read_raw_n(st, INT64_MIN, INT64_MAX), g.n);
	check_read(st, &g, VG_STORAGE_RES_1M);
	check_read(st, &g, VG_STORAGE_RES_1H);

	/* Compaction joins the two complete days with their rollups made
	 * again from the merged samples: the same answers. */
	{
		struct vg_compact_options co = { dir, NULL, 2 * HOUR_MS, T0 + 3 * DAY_MS, 0 };
		ck_assert_msg(vg_compact_run(st, &co, &cs, &err) == 0, "%s", err.msg);
		ck_assert_uint_eq(cs.windows, 2);
	}
	ck_assert_uint_eq(read_raw_n(st, INT64_MIN, INT64_MAX), g.n);
	check_read(st, &g, VG_STORAGE_RES_1M);
	check_read(st, &g, VG_STORAGE_RES_1H);

	/* Reopened: the same, from the files alone plus the head. */
	vg_storage_close(st);
	ck_assert_int_eq(vg_storage_open(&so, &st, &err), 0);
	check_read(st, &g, VG_STORAGE_RES_1H);

	/* Retention a day and a half later: the first day's raw block goes,
	 * its rollups stay, and the 1h read is still whole. */
	ck_assert_int_eq(vg_retention_apply(st, NULL, T0 + DAY_MS + 7 * DAY_MS, NULL, &err), 0);
	ck_assert_uint_lt(read_raw_n(st, INT64_MIN, INT64_MAX), g.n);
	check_read(st, &g, VG_STORAGE_RES_1H);
	check_read(st, &g, VG_STORAGE_RES_1M);

	vg_storage_close(st);
	vg_head_free(h);
	gen_free(&g);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

/* Samples older than the raw retention (an import of history) are sealed
 * into the rollup tiers only; those past the 1m retention into 1h only. */
START_TEST(test_rollup_old_samples_go_to_the_rollup_tiers_that_cover_them)
{
	struct vg_head *h = vg_head_new();
	struct vg_storage_options so = { NULL, h };
	struct vg_storage *st;
	struct vg_storage_stats ss;
	struct series_gen g;
	struct vg_err err;
	char *dir = vg_t_tmpdir("vigil-rollup");
	uint32_t id;

	vg_log_set_level(VG_LOG_ERROR);
	so.data_dir = dir;
	ck_assert_int_eq(vg_storage_open(&so, &st, &err), 0);
	id = head_add(h, "a");
	gen(&g, GAUGE, T0, 600000, 144 * 2); /* two days at 10 min */
	put(h, id, &g, 0, g.n);
	/* Now is 20 days later: raw is gone, 1m and 1h still cover them. */
	seal_at(h, st, dir, T0 + 20 * DAY_MS);
	vg_storage_stats(st, &ss);
	ck_assert_uint_eq(ss.tier[VG_TIER_RAW].blocks, 0);
	ck_assert_uint_gt(ss.tier[VG_TIER_1M].blocks, 0);
	ck_assert_uint_gt(ss.tier[VG_TIER_1H].blocks, 0);
	ck_assert_uint_eq(read_raw_n(st, INT64_MIN, INT64_MAX), 0);
	check_read(st, &g, VG_STORAGE_RES_1H);
	check_read(st, &g, VG_STORAGE_RES_1M);
	/* Compacted (rollup windows past the raw retention), the same. */
	{
		struct vg_compact_options co = { dir, NULL, 2 * HOUR_MS, T0 + 20 * DAY_MS, 0 };
		ck_assert_int_eq(vg_compact_run(st, &co, NULL, &err), 0);
	}
	vg_storage_stats(st, &ss);
	ck_assert_uint_eq(ss.tier[VG_TIER_1M].blocks, 2);
	check_read(st, &g, VG_STORAGE_RES_1H);
	check_read(st, &g, VG_STORAGE_RES_1M);

	/* 100 days later: only the 1h tier holds them; a 1m read gets its
	 * 1h buckets rather than nothing. */
	ck_assert_int_eq(vg_retention_apply(st, NULL, T0 + 100 * DAY_MS, NULL, &err), 0);
	vg_storage_stats(st, &ss);
	ck_assert_uint_eq(ss.tier[VG_TIER_1M].blocks, 0);
	{
		struct vg_buckets got = { 0 };
		uint64_t n = 0;
		read_buckets(st, VG_STORAGE_RES_1M, g.ts[0], g.ts[g.n - 1], &got);
		ck_assert_uint_eq(got.n, 48);
		for (size_t i = 0; i < got.n; i++) {
			ck_assert_int_eq(got.v[i].width_ms, HOUR_MS);
			n += got.v[i].count;
		}
		ck_assert_uint_eq(n, g.n);
		vg_buckets_release(&got);
	}
	vg_storage_close(st);
	vg_head_free(h);
	gen_free(&g);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

/* Blocks of one tier that overlap (a second seal of the same hours, from
 * late samples) are merged bucket by bucket, joined where both have a
 * bucket (vg_rollup_join: the newer block's first and last). */
START_TEST(test_rollup_overlapping_blocks_of_a_tier_merge)
{
	struct vg_head *h = vg_head_new();
	struct vg_storage_options so = { NULL, h };
	struct vg_storage *st;
	struct vg_storage_stats ss;
	struct series_gen g, odd, even;
	struct vg_err err;
	char *dir = vg_t_tmpdir("vigil-rollup");
	uint32_t id;

	vg_log_set_level(VG_LOG_ERROR);
	so.data_dir = dir;
	ck_assert_int_eq(vg_storage_open(&so, &st, &err), 0);
	id = head_add(h, "a");
	gen(&g, GAUGE, T0, 600000, 144 * 2); /* two days at 10 min */
	memset(&odd, 0, sizeof(odd));
	memset(&even, 0, sizeof(even));
	odd.ts = malloc(g.n * sizeof(*odd.ts));
	odd.v = malloc(g.n * sizeof(*odd.v));
	even.ts = malloc(g.n * sizeof(*even.ts));
	even.v = malloc(g.n * sizeof(*even.v));
	for (size_t i = 0; i < g.n; i++) {
		struct series_gen *x = i % 2 ? &odd : &even;
		x->ts[x->n] = g.ts[i];
		x->v[x->n++] = g.v[i];
	}
	/* Past the raw retention: rollups only, twice over the same hours. */
	put(h, id, &even, 0, even.n);
	seal_at(h, st, dir, T0 + 20 * DAY_MS);
	put(h, id, &odd, 0, odd.n);
	seal_at(h, st, dir, T0 + 20 * DAY_MS);
	vg_storage_stats(st, &ss);
	ck_assert_uint_eq(ss.tier[VG_TIER_RAW].blocks, 0);
	ck_assert_uint_ge(ss.tier[VG_TIER_1H].blocks, 2);
	for (int w = 0; w < 2; w++) {
		int64_t res = w ? VG_STORAGE_RES_1H : VG_STORAGE_RES_1M;
		struct vg_buckets got = { 0 }, a = { 0 }, b = { 0 }, want = { 0 };
		size_t i = 0, j = 0;

		/* What the two seals' buckets make, joined where they share a
		 * start (the newer, odd, block's first and last). */
		ck_assert_int_eq(vg_rollup_compute(even.ts, even.v, even.n, res, &a), 0);
		ck_assert_int_eq(vg_rollup_compute(odd.ts, odd.v, odd.n, res, &b), 0);
		ck_assert_int_eq(vg_buckets_reserve(&want, a.n + b.n), 0);
		while (i < a.n || j < b.n) {
			if (j == b.n || (i < a.n && a.v[i].t_ms < b.v[j].t_ms)) {
				want.v[want.n++] = a.v[i++];
			} else if (i == a.n || b.v[j].t_ms < a.v[i].t_ms) {
				want.v[want.n++] = b.v[j++];
			} else {
				want.v[want.n] = a.v[i++];
				vg_rollup_join(&want.v[want.n++], &b.v[j++], 0);
			}
		}
		vg_rollup_link(want.v, want.n);
		read_buckets(st, res, g.ts[0], g.ts[g.n - 1], &got);
		assert_same_buckets(&got, &want);
		vg_buckets_release(&got);
		vg_buckets_release(&a);
		vg_buckets_release(&b);
		vg_buckets_release(&want);
	}
	vg_storage_close(st);
	vg_head_free(h);
	gen_free(&g);
	gen_free(&odd);
	gen_free(&even);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rollup");
	TCase *tc = tcase_create("rollup");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rollup_buckets_equal_raw_aggregates_for_gauges_counters_and_gaps);
	tcase_add_test(tc, test_rollup_columns_round_trip_bit_for_bit_and_refuse_damage);
	tcase_add_test(tc, test_rollup_layouts_round_trip_and_refuse_damage);
	tcase_add_test(tc, test_rollup_reads_stitch_head_raw_and_rollups_before_and_after_compaction);
	tcase_add_test(tc, test_rollup_old_samples_go_to_the_rollup_tiers_that_cover_them);
	tcase_add_test(tc, test_rollup_overlapping_blocks_of_a_tier_merge);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
