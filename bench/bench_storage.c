/*
 * bench_storage.c: the rollup tiers through the storage engine, measured.
 *
 * Writes a year of 1h rollup blocks as compaction leaves them (thirty-day
 * windows, compacted) for S series named as a fleet's are (host x 100
 * metrics: counters with resets now and then, gauges with noise in their
 * last two decimals, constants), their buckets computed from one sample a
 * minute (vg_rollup_compute); and one day of 1m blocks. Then opens the
 * directory as the receiver does and reads one series over the year at
 * 1h resolution through vg_storage_select (select and read, the median of
 * R runs), and one over the day at 1m.
 *
 * Prints file bytes per bucket in each tier (index included) and the read
 * times; ends with a RESULT line.
 *
 *   bench_storage [--hosts H] [--runs R] [--dir DIR]
 */
#include "config.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/selector.h"
#include "common/series.h"
#include "promql/parse.h"
#include "receiver/storage/block_write.h"
#include "receiver/storage/head.h"
#include "receiver/storage/rollup.h"
#include "receiver/storage/storage.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define METRICS 100
#define DAY_MS (24LL * 3600 * 1000)
#define WINDOW_MS (30 * DAY_MS)
#define T0_MS 1732924800000LL /* a multiple of thirty days */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct rng {
	uint64_t s;
};

static double rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (double)((r->s * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static void die(const char *what, const struct vg_err *err)
{
	fprintf(stderr, "bench_storage: %s: %s\n", what, err ? err->msg : "");
	exit(1);
}

/* Samples of metric m of host h over [from, to), one a minute, in hundredths. */
static size_t gen(uint32_t h, int m, int64_t from, int64_t to, int64_t *ts, double *v)
{
	struct rng r = { 0x9E3779B97F4A7C15ULL ^ ((uint64_t)h << 20) ^ (uint64_t)m ^ (uint64_t)from };
	int64_t c = (int64_t)(rnd(&r) * 1e6), base = (int64_t)(rnd(&r) * 1e9);
	size_t n = 0;

	for (int64_t t = from; t < to; t += 60000) {
		if (m < 60) { /* counters */
			c += (int64_t)(rnd(&r) * 1000);
			if (rnd(&r) < 1e-5)
				c = 0;
			v[n] = (double)c / 100;
		} else if (m < 94) { /* gauges with noise */
			v[n] = (double)(base + (int64_t)(rnd(&r) * 100)) / 100;
		} else {
			v[n] = (double)base / 100;
		}
		ts[n++] = t;
	}
	return n;
}

static void key_of(uint32_t h, int m, struct vg_buf *out)
{
	char host[32], name[32];
	struct vg_series s;

	snprintf(host, sizeof(host), "host-%05u", h);
	snprintf(name, sizeof(name), "node_metric_%02d", m);
	vg_series_init(&s, name);
	if (vg_series_add(&s, "instance", host) != 0 || vg_series_add(&s, "job", "node") != 0 ||
	    vg_series_canonicalize(&s, NULL) != 0)
		die("series", NULL);
	vg_buf_reset(out);
	vg_series_key(&s, out);
}

struct key {
	uint32_t h;
	int m;
	struct vg_buf k;
};

static int key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	return vg_series_key_cmp(x->k.data, x->k.len, y->k.data, y->k.len);
}

/* One block of tier over [a, b) for every series; returns its file bytes
 * and adds its buckets to *buckets. */
static uint64_t write_block(const char *dir, enum vg_tier tier, int64_t a, int64_t b,
			    const struct key *keys, size_t n_keys, double *buckets)
{
	struct vg_block_writer_options o = { .tier = tier, .min_t = a, .max_t = b,
					     .flags = VG_BLOCK_F_COMPACTED };
	size_t cap = (size_t)((b - a) / 60000);
	int64_t *ts = malloc(cap * sizeof(*ts));
	double *v = malloc(cap * sizeof(*v));
	struct vg_buckets bk = { 0 };
	struct vg_buf scratch = VG_BUF_INIT;
	struct vg_block_write_stats ws;
	struct vg_block_writer *w;
	struct vg_err err;
	char path[4096];

	snprintf(path, sizeof(path), "%s/blocks/%s/%013" PRId64 "-%013" PRId64 "-%013" PRId64 ".vgb", dir,
		 vg_tier_name(tier), a, b, b);
	if (ts == NULL || v == NULL || vg_block_writer_open(path, &o, &w, &err) != 0)
		die("open a block", &err);
	for (size_t i = 0; i < n_keys; i++) {
		size_t n = gen(keys[i].h, keys[i].m, a, b, ts, v);
		bk.n = 0;
		if (vg_rollup_compute(ts, v, n, vg_rollup_width(tier), &bk) != 0 ||
		    vg_rollup_write_series(w, keys[i].k.data, keys[i].k.len, bk.v, bk.n, &scratch, &err) != 0)
			die("write a series", &err);
		*buckets += (double)bk.n;
	}
	if (vg_block_writer_finish(w, &ws, &err) != 0)
		die("finish a block", &err);
	vg_buckets_release(&bk);
	vg_buf_release(&scratch);
	free(ts);
	free(v);
	return ws.file_bytes;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median time (ms) of reading one series over [a, b] at res. */
static double time_read(struct vg_storage *st, const char *q, int64_t a, int64_t b, int64_t res,
			int runs, size_t *n_buckets)
{
	double *t = malloc((size_t)runs * sizeof(*t)), med;
	struct vg_buckets out = { 0 };
	struct vg_selector sel;
	struct vg_err err;

	if (t == NULL || vg_promql_parse_selector(q, strlen(q), &sel, NULL, &err) != 0)
		die("selector", &err);
	for (int r = 0; r < runs; r++) {
		struct vg_storage_set *set;
		double t0 = now_s();
		if (vg_storage_select(st, &sel, a, b, res, &set, &err) != 0 || vg_storage_set_len(set) != 1 ||
		    vg_storage_set_read_buckets(set, 0, a, b, &out, &err) != 0)
			die("read", &err);
		vg_storage_set_free(set);
		t[r] = (now_s() - t0) * 1000;
	}
	*n_buckets = out.n;
	qsort(t, (size_t)runs, sizeof(*t), dbl_cmp);
	med = t[runs / 2];
	vg_buckets_release(&out);
	vg_selector_release(&sel);
	free(t);
	return med;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hosts", required_argument, NULL, 'h' },
		{ "runs", required_argument, NULL, 'r' },
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t hosts = 10;
	int runs = 50, c;
	char dir[4096] = "", sub[4200];
	struct key *keys;
	size_t n_keys;
	double b1h = 0, b1m = 0;
	uint64_t f1h = 0, f1m = 0;
	struct vg_head *head;
	struct vg_storage *st = NULL;
	struct vg_storage_options so;
	struct vg_err err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'h': hosts = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'r': runs = atoi(optarg); break;
		case 'd': snprintf(dir, sizeof(dir), "%s", optarg); break;
		default:
			fprintf(stderr, "usage: bench_storage [--hosts H] [--runs R] [--dir DIR]\n");
			return 2;
		}
	}
	if (hosts == 0 || runs <= 0) {
		fprintf(stderr, "bench_storage: hosts and runs must be > 0\n");
		return 2;
	}
	vg_log_set_level(VG_LOG_ERROR);
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/bench-storage-XXXXXX");
		if (mkdtemp(dir) == NULL)
			die("mkdtemp", NULL);
	}
	for (int t = 0; t < VG_TIER_COUNT; t++) {
		snprintf(sub, sizeof(sub), "%s/blocks/%s", dir, vg_tier_name(t));
		if (vg_fs_mkdir_p(sub, NULL, &err) != 0)
			die("mkdir", &err);
	}
	n_keys = (size_t)hosts * METRICS;
	keys = calloc(n_keys, sizeof(*keys));
	if (keys == NULL)
		die("out of memory", NULL);
	for (uint32_t h = 0; h < hosts; h++)
		for (int m = 0; m < METRICS; m++) {
			struct key *k = &keys[(size_t)h * METRICS + (size_t)m];
			k->h = h;
			k->m = m;
			vg_buf_init(&k->k);
			key_of(h, m, &k->k);
		}
	qsort(keys, n_keys, sizeof(*keys), key_cmp);
	printf("%zu series: a year of 1h blocks (13 thirty-day windows), a day of 1m\n", n_keys);
	for (int w = 0; w < 13; w++)
		f1h += write_block(dir, VG_TIER_1H, T0_MS + w * WINDOW_MS, T0_MS + (w + 1) * WINDOW_MS, keys,
				   n_keys, &b1h);
	f1m = write_block(dir, VG_TIER_1M, T0_MS + 12 * WINDOW_MS, T0_MS + 12 * WINDOW_MS + DAY_MS, keys,
			  n_keys, &b1m);
	printf("file bytes per bucket, index included: 1h %.2f, 1m %.2f\n", (double)f1h / b1h,
	       (double)f1m / b1m);

	head = vg_head_new();
	so.data_dir = dir;
	so.head = head;
	if (head == NULL || vg_storage_open(&so, &st, &err) != 0)
		die("open the storage", &err);
	size_t nb_year, nb_day;
	double year_ms = time_read(st, "node_metric_07{instance=\"host-00003\"}", T0_MS,
				   T0_MS + 365 * DAY_MS - 1, VG_STORAGE_RES_1H, runs, &nb_year);
	double day_ms = time_read(st, "node_metric_07{instance=\"host-00003\"}", T0_MS + 12 * WINDOW_MS,
				  T0_MS + 12 * WINDOW_MS + DAY_MS - 1, VG_STORAGE_RES_1M, runs, &nb_day);
	printf("one series over a year at 1h: %zu buckets, %.3f ms (median of %d, select and read)\n",
	       nb_year, year_ms, runs);
	printf("one series over a day at 1m: %zu buckets, %.3f ms\n", nb_day, day_ms);
	printf("RESULT series=%zu file_bytes_per_1h_bucket=%.2f file_bytes_per_1m_bucket=%.2f "
	       "year_read_1h_ms=%.3f year_read_buckets=%zu day_read_1m_ms=%.3f\n",
	       n_keys, (double)f1h / b1h, (double)f1m / b1m, year_ms, nb_year, day_ms);
	vg_storage_close(st);
	vg_head_free(head);
	for (size_t i = 0; i < n_keys; i++)
		vg_buf_release(&keys[i].k);
	free(keys);
	return 0;
}
