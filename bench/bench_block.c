/*
 * bench_block.c: block files (receiver/storage/block_write.c,
 * block_read.c), measured.
 *
 * Builds a raw block of N series named as a fleet's are (100 node-style
 * metrics per host, labels instance, job, pool, and mode/cpu/device on
 * some), each with P points in two columns that stand in for the chunk
 * codecs' output: timestamps as delta-of-delta varints (10 s steps with
 * some jitter) and values as zigzag varints of scaled-decimal deltas (a
 * random walk; counters only rise). The columns are opaque to the block,
 * so what is measured is the block's own work: grouping and zstd, the
 * index, checks at open, selection and reads.
 *
 * Prints: write speed (series/s, MB/s of column bytes), file bytes, index
 * bytes per series (symbols, series table, postings, group table, header
 * and footer), open time (checks included), select times, read speed of
 * every series through one cursor, the time to read one series from a
 * random place (its whole group decompressed), and the same figures for
 * other group sizes.
 *
 *   bench_block [--series N] [--points P] [--dir DIR]
 */
#include "config.h"

#include "bench/bench_util.h"
#include "receiver/storage/block_read.h"
#include "receiver/storage/block_write.h"
#include "receiver/storage/postings.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/selector.h"
#include "promql/parse.h"
#include "common/series.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define METRICS_PER_HOST 100

struct bseries {
	uint8_t *key;
	size_t key_len;
};

static int key_cmp(const void *a, const void *b)
{
	const struct bseries *x = a, *y = b;

	return vg_series_key_cmp(x->key, x->key_len, y->key, y->key_len);
}

/* Series m of host h: a node_exporter-like name and labels. */
static void make_key(size_t h, size_t m, struct vg_buf *out)
{
	static const char *const fam[] = { "node_cpu_seconds_total", "node_filesystem_avail_bytes",
					   "node_network_receive_bytes_total", "node_disk_io_time_seconds_total",
					   "http_requests_total" };
	static const char *const modes[] = { "idle", "user", "system", "iowait", "irq", "softirq",
					     "steal", "nice" };
	char inst[64], pool[32], cpu[16], dev[16], other[64];
	struct vg_series s;

	snprintf(inst, sizeof(inst), "host-%05zu.example.net:9100", h);
	snprintf(pool, sizeof(pool), "pool-%03zu", h / 100);
	if (m < 32) { /* 4 cpus x 8 modes */
		vg_series_init(&s, fam[0]);
		snprintf(cpu, sizeof(cpu), "%zu", m / 8);
		vg_series_add(&s, "cpu", cpu);
		vg_series_add(&s, "mode", modes[m % 8]);
	} else if (m < 56) {
		vg_series_init(&s, fam[1 + (m - 32) / 8]);
		snprintf(dev, sizeof(dev), "sd%c", (char)('a' + (m - 32) % 8));
		vg_series_add(&s, "device", dev);
	} else if (m < 62) {
		vg_series_init(&s, fam[4]);
		vg_series_add(&s, "code", (m - 56) % 3 == 0 ? "200" : (m - 56) % 3 == 1 ? "404" : "500");
		vg_series_add(&s, "method", m < 59 ? "GET" : "POST");
	} else {
		snprintf(other, sizeof(other), "node_metric_%02zu", m - 62);
		vg_series_init(&s, other);
	}
	vg_series_add(&s, "instance", inst);
	vg_series_add(&s, "job", "node");
	vg_series_add(&s, "pool", pool);
	if (vg_series_canonicalize(&s, NULL) != 0)
		abort();
	vg_series_key(&s, out);
}

/* The stand-in columns of one series: P points from t0. */
static void make_columns(struct vg_bench_rng *rng, size_t points, int64_t t0, bool is_counter, struct vg_buf *ts,
			 struct vg_buf *vals)
{
	uint8_t tmp[16];
	int64_t prev_delta = 10000;

	vg_buf_reset(ts);
	vg_buf_reset(vals);
	vg_buf_append(ts, tmp, (size_t)(vg_put_uvarint(tmp, (uint64_t)t0) - tmp));
	for (size_t i = 1; i < points; i++) {
		int64_t delta = 10000;
		if (vg_bench_rng_u64(rng) % 8 == 0)
			delta += (int64_t)(vg_bench_rng_u64(rng) % 21) - 10;
		vg_buf_append(ts, tmp, (size_t)(vg_put_uvarint(tmp, vg_zigzag(delta - prev_delta)) - tmp));
		prev_delta = delta;
	}
	for (size_t i = 0; i < points; i++) {
		int64_t d = is_counter ? (int64_t)(vg_bench_rng_u64(rng) % 5000)
				       : (int64_t)(vg_bench_rng_u64(rng) % 2001) - 1000;
		vg_buf_append(vals, tmp, (size_t)(vg_put_uvarint(tmp, vg_zigzag(d)) - tmp));
	}
}

struct run {
	size_t group_bytes;
	double write_s, open_s, read_all_s, read_one_us;
	struct vg_block_write_stats st;
};

static void run_one(const char *path, const struct bseries *ser, size_t n, size_t points,
		    size_t group_bytes, struct run *r, bool is_main)
{
	struct vg_block_writer_options o = { VG_TIER_RAW, 0, 7200000, group_bytes, 0, NULL, 0 };
	struct vg_buf ts = VG_BUF_INIT, vals = VG_BUF_INIT;
	struct vg_block_col cols[VG_BLOCK_MAX_COLUMNS];
	struct vg_block_writer *w;
	struct vg_block_cursor *c;
	struct vg_block *b;
	struct vg_err err;
	double t0, gen_s = 0;
	int opens = 0;
	struct vg_bench_rng rng = { 0x9E3779B97F4A7C15ull };

	r->group_bytes = group_bytes;
	t0 = vg_bench_now_s();
	if (vg_block_writer_open(path, &o, &w, &err) != 0)
		vg_bench_die("open writer", &err);
	for (size_t i = 0; i < n; i++) {
		double g0 = vg_bench_now_s();
		make_columns(&rng, points, 1000 + (int64_t)(i % 7), i % 3 == 0, &ts, &vals);
		gen_s += vg_bench_now_s() - g0;
		cols[0] = (struct vg_block_col){ ts.data, ts.len };
		cols[1] = (struct vg_block_col){ vals.data, vals.len };
		if (vg_block_writer_add(w, ser[i].key, ser[i].key_len, 1000, 1000 + 10000 * (int64_t)(points - 1),
					points, cols, &err) != 0)
			vg_bench_die("add", &err);
	}
	if (vg_block_writer_finish(w, &r->st, &err) != 0)
		vg_bench_die("finish", &err);
	r->write_s = vg_bench_now_s() - t0 - gen_s;

	t0 = vg_bench_now_s();
	do {
		if (vg_block_open(path, &b, NULL, &err) != 0)
			vg_bench_die("open", &err);
		if (++opens < 5)
			vg_block_close(b);
	} while (opens < 5);
	r->open_s = (vg_bench_now_s() - t0) / opens;

	c = vg_block_cursor_new();
	t0 = vg_bench_now_s();
	for (uint32_t i = 0; i < n; i++)
		if (vg_block_read_columns(b, i, c, cols, &err) != 0)
			vg_bench_die("read", &err);
	r->read_all_s = vg_bench_now_s() - t0;
	/* One series at a time from random places: each read decompresses
	 * the series' group (the cursor's zstd context is reused, as one
	 * query's is). */
	t0 = vg_bench_now_s();
	for (int k = 0; k < 2000; k++)
		if (vg_block_read_columns(b, (uint32_t)(vg_bench_rng_u64(&rng) % n), c, cols, &err) != 0)
			vg_bench_die("read", &err);
	r->read_one_us = (vg_bench_now_s() - t0) / 2000 * 1e6;

	if (is_main) {
		static const char *const qs[] = {
			"node_cpu_seconds_total{instance=\"host-00042.example.net:9100\"}",
			"node_cpu_seconds_total{mode!=\"idle\"}",
			"{__name__=~\"node_.+\",pool=\"pool-003\"}",
			"{__name__=~\"node_metric_1.\"}",
			"http_requests_total{code=~\"5..\"}",
		};
		printf("select (index only, ids of the matching series):\n");
		for (size_t q = 0; q < sizeof(qs) / sizeof(qs[0]); q++) {
			struct vg_postings ids = VG_POSTINGS_INIT;
			struct vg_selector sel;
			int reps = 0;
			double s0;

			if (vg_promql_parse_selector(qs[q], strlen(qs[q]), &sel, NULL, &err) != 0)
				vg_bench_die("parse", &err);
			s0 = vg_bench_now_s();
			do {
				if (vg_block_select(b, &sel, &ids, &err) != 0)
					vg_bench_die("select", &err);
				reps++;
			} while (vg_bench_now_s() - s0 < 0.2);
			printf("  %-66s %8zu series %10.1f us\n", qs[q], ids.n,
			       (vg_bench_now_s() - s0) / reps * 1e6);
			vg_selector_release(&sel);
			vg_postings_release(&ids);
		}
	}
	vg_block_cursor_free(c);
	vg_block_close(b);
	unlink(path);
	vg_buf_release(&ts);
	vg_buf_release(&vals);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "series", required_argument, NULL, 's' },
		{ "points", required_argument, NULL, 'p' },
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	static const size_t groups[] = { 16384, 32768, 65536, 262144 };
	size_t n = 100000, points = 720;
	const char *dir = NULL;
	char tmpl[4096], path[4200];
	struct vg_buf k = VG_BUF_INIT;
	struct bseries *ser;
	struct run runs[4];
	struct vg_bench_result result = VG_BENCH_RESULT_INIT;
	int opt;

	while ((opt = getopt_long(argc, argv, "s:p:d:", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': n = strtoul(optarg, NULL, 10); break;
		case 'p': points = strtoul(optarg, NULL, 10); break;
		case 'd': dir = optarg; break;
		default:
			fprintf(stderr, "usage: bench_block [--series N] [--points P] [--dir DIR]\n");
			return 2;
		}
	}
	if (n == 0 || points == 0) {
		fprintf(stderr, "bench_block: --series and --points must be positive\n");
		return 2;
	}
	if (dir == NULL) {
		if (vg_bench_tmpdir("block", tmpl, sizeof(tmpl)) != 0)
			return 1;
		dir = tmpl;
	}
	snprintf(path, sizeof(path), "%s/bench.vgb", dir);

	ser = calloc(n, sizeof(*ser));
	if (ser == NULL)
		return 1;
	for (size_t i = 0; i < n; i++) {
		vg_buf_reset(&k);
		make_key(i / METRICS_PER_HOST, i % METRICS_PER_HOST, &k);
		ser[i].key = malloc(k.len);
		if (ser[i].key == NULL)
			return 1;
		memcpy(ser[i].key, k.data, k.len);
		ser[i].key_len = k.len;
	}
	qsort(ser, n, sizeof(*ser), key_cmp);

	printf("block of %zu series x %zu points, raw tier, 2 columns\n", n, points);
	for (int g = 0; g < 4; g++)
		run_one(path, ser, n, points, groups[g], &runs[g], groups[g] == VG_BLOCK_DEFAULT_GROUP_BYTES);
	printf("%10s %10s %12s %12s %10s %10s %12s %12s %12s\n", "group", "write s", "series/s",
	       "col MB/s", "file MB", "idx B/ser", "open ms", "read-all s", "read-1 us");
	for (int g = 0; g < 4; g++) {
		struct run *r = &runs[g];
		printf("%10zu %10.3f %12.0f %12.1f %10.2f %10.1f %12.2f %12.3f %12.1f\n", r->group_bytes,
		       r->write_s, (double)n / r->write_s, (double)r->st.column_bytes / r->write_s / 1e6,
		       (double)r->st.file_bytes / 1e6, (double)r->st.index_bytes / (double)n,
		       r->open_s * 1e3, r->read_all_s, r->read_one_us);
	}
	{
		struct run *r = &runs[1]; /* the default group size */
		printf("column bytes %.2f MB -> %.2f MB in %" PRIu64 " zstd groups (%.3f); %" PRIu64
		       " symbols, %" PRIu64 " label pairs\n",
		       (double)r->st.column_bytes / 1e6, (double)r->st.columns_section_bytes / 1e6,
		       r->st.n_groups,
		       (double)r->st.columns_section_bytes / (double)r->st.column_bytes, r->st.n_symbols,
		       r->st.n_pairs);
		vg_bench_result_add(&result, "series=%zu points=%zu write_series_per_s=%.0f write_col_mb_per_s=%.1f "
				    "open_ms=%.2f read_all_series_per_s=%.0f read_one_us=%.1f "
				    "index_bytes_per_series=%.1f file_bytes=%" PRIu64,
				    n, points, (double)n / r->write_s, (double)r->st.column_bytes / r->write_s / 1e6,
				    r->open_s * 1e3, (double)n / r->read_all_s, r->read_one_us,
				    (double)r->st.index_bytes / (double)n, r->st.file_bytes);
		vg_bench_result_print(&result);
	}
	for (size_t i = 0; i < n; i++)
		free(ser[i].key);
	free(ser);
	vg_buf_release(&k);
	if (dir == tmpl)
		rmdir(tmpl);
	return 0;
}
