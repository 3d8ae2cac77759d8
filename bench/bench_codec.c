/*
 * bench_codec.c: the sample codecs (receiver/storage/chunk.c), measured on
 * bench_ingest's dataset.
 *
 * Generates H hosts x 100 node-style series (bench_ingest's host_series and
 * value model: per-mode CPU counters, memory and filesystem gauges, disk and
 * network counters, load, per-status request counters, queue depths,
 * constants) at a 10 s interval from a fixed seed, in three variants:
 *   float    bench_ingest's model as written: counters and gauges step in
 *            binary floating point, so values drift off the decimal grid
 *            (1234.5600000000002) after a few steps;
 *   decimal  the same model kept in exact hundredths, each value the double
 *            nearest its decimal text, as an agent parsing /proc or a text
 *            exposition sends it;
 *   noisy    decimal, and every gauge sample carries random noise in its
 *            last two decimals (211221.16, 8123456789.37).
 * For each it prints bytes per sample of the head chunk in XOR and decimal
 * modes per metric kind, head bytes per series at 720 samples, block
 * columns before and after zstd, encode and decode speed; then rollup
 * buckets (1m, 1h) over 7 days of the noisy variant, as the tiers encode
 * them (receiver/storage/rollup.c), in all and per column. Ends with a
 * RESULT line (noisy variant; rollups of the decimal one too; the reads of
 * the float variant, whose counters take the ULP mode, as bench_query's).
 *
 *   bench_codec [--hosts H] [--samples N] [--rollup-hosts R] [--seed S]
 */
#include "config.h"

#include "common/buf.h"
#include "common/err.h"
#include "receiver/storage/chunk.h"
#include "receiver/storage/rollup.h"

#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#define SERIES 100
#define STEP_MS 10000
#define T0_MS 1764000000000LL

enum kind { K_CPU, K_MEM, K_FS, K_CONST, K_DISKNET, K_LOAD, K_HTTP, K_QUEUE, K_N };
static const char *const kind_name[K_N] = { "cpu counters", "memory gauges", "filesystem gauges",
					    "constants", "disk/net counters", "load gauges",
					    "request counters", "queue depths" };

enum variant { V_FLOAT, V_DECIMAL, V_NOISY, V_N };
static const char *const variant_name[V_N] = { "float", "decimal", "noisy" };

struct rng {
	uint64_t s;
};

static double rnd(struct rng *r)
{
	/* xorshift64*, as bench_ingest */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (double)((r->s * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

struct gen {
	enum kind kind[SERIES];
	double incr[SERIES]; /* > 0 counter step scale, 0 gauge, < 0 constant */
	double v[SERIES];    /* float variant state */
	int64_t c[SERIES];   /* hundredths, decimal variants' state */
};

/* host_series's order and start values (bench/bench_ingest.c). */
static void gen_init(struct gen *g, struct rng *r)
{
	int n = 0;
#define ADD(k, inc, start)                                   \
	do {                                                 \
		double s_ = (start);                         \
		g->kind[n] = (k);                            \
		g->incr[n] = (inc);                          \
		g->v[n] = s_;                                \
		g->c[n] = (int64_t)llround(s_ * 100);        \
		n++;                                         \
	} while (0)
	for (int c = 0; c < 6; c++)
		for (int m = 0; m < 8; m++)
			ADD(K_CPU, m == 3 ? 9.0 : 1.0, floor(rnd(r) * 1e6) / 100);
	for (int i = 0; i < 10; i++)
		ADD(K_MEM, 0, floor(rnd(r) * 16e9 / 4096) * 4096);
	for (int i = 0; i < 3; i++)
		for (int f = 0; f < 3; f++) {
			double s = floor(rnd(r) * 1e12 / 4096) * 4096;
			if (f == 0)
				ADD(K_CONST, -1, s);
			else
				ADD(K_FS, 0, s);
		}
	for (int d = 0; d < 2; d++) {
		ADD(K_DISKNET, 4096 * 50, 0);
		ADD(K_DISKNET, 4096 * 80, 0);
		ADD(K_DISKNET, 1e6, 0);
		ADD(K_DISKNET, 8e5, 0);
	}
	for (int i = 0; i < 3; i++)
		ADD(K_LOAD, 0, floor(rnd(r) * 400) / 100);
	for (int i = 0; i < 3; i++)
		for (int c = 0; c < 3; c++)
			ADD(K_HTTP, c == 0 ? 500 : c == 1 ? 5 : 1, 0);
	for (int q = 0; q < 10; q++)
		ADD(K_QUEUE, 0, floor(rnd(r) * 100));
	for (int i = 0; i < 3; i++)
		ADD(K_CONST, -1, i == 1 ? 1764000000 : i == 2 ? 6 : 0);
#undef ADD
	if (n != SERIES) {
		fprintf(stderr, "bench_codec: %d series per host\n", n);
		exit(1);
	}
}

/* One interval: bench_ingest's host_batch, in the variant's arithmetic. */
static void gen_step(struct gen *g, struct rng *r, enum variant var, double *out)
{
	for (int i = 0; i < SERIES; i++) {
		if (var == V_FLOAT) {
			double v = g->v[i];
			if (g->incr[i] > 0)
				v += floor(rnd(r) * g->incr[i] * 100) / 100;
			else if (g->incr[i] == 0)
				v = fabs(v + floor((rnd(r) - 0.5) * 200) * (v > 1e6 ? 4096 : 0.01));
			g->v[i] = v;
			out[i] = v;
			continue;
		}
		int64_t c = g->c[i];
		if (g->incr[i] > 0)
			c += (int64_t)floor(rnd(r) * g->incr[i] * 100);
		else if (g->incr[i] == 0)
			c = llabs(c + (int64_t)floor((rnd(r) - 0.5) * 200) * (c > 100000000 ? 409600 : 1));
		g->c[i] = c;
		if (var == V_NOISY && g->incr[i] == 0)
			c += (int64_t)(rnd(r) * 100);
		out[i] = (double)c / 100;
	}
}

/* values[s * n + t] for one host. */
static void gen_host(uint64_t seed, uint32_t host, enum variant var, size_t n, double *values)
{
	struct rng r = { seed ^ (0x9E3779B97F4A7C15ULL * (host + 1)) };
	struct gen g;
	double row[SERIES];

	gen_init(&g, &r);
	for (size_t t = 0; t < n; t++) {
		gen_step(&g, &r, var, row);
		for (int s = 0; s < SERIES; s++)
			values[(size_t)s * n + t] = row[s];
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Bytes of a heap allocation as malloc holds it: usable size + its header. */
static size_t heap_bytes(void *p)
{
	return p ? malloc_usable_size(p) + sizeof(size_t) : 0;
}

struct kind_stats {
	double xor_bytes, dec_bytes, best_bytes, samples;
	size_t dec_ok, ulp_ok, chunks;
};

struct figures {
	double head_bps;            /* finished head chunks, bytes per sample */
	double head_series_240;     /* bytes per series at 720 samples, 240 a chunk */
	double head_series_120;
	double col_bps, zstd3_bps, zstd9_bps;
	double append_sps, decode_sps, col_enc_sps, col_dec_sps;
	double read_open_ns, read_fin_ns; /* vg_chunk_decode, ns a sample */
	double floor_bps;
};

/* Appends n samples into chunks of at most cut samples, as the head would;
 * returns the heap bytes held (chunks finished when full, the last open). */
static size_t head_series(const int64_t *ts, const double *v, size_t n, size_t cut, size_t *payload)
{
	struct vg_chunk_enc e[16];
	size_t nc = 0, bytes = 0;

	*payload = 0;
	vg_chunk_enc_init(&e[0]);
	for (size_t i = 0; i < n; i++) {
		if (vg_chunk_enc_samples(&e[nc]) == cut) {
			(void)vg_chunk_enc_finish(&e[nc]);
			vg_chunk_enc_init(&e[++nc]);
		}
		if (vg_chunk_enc_append(&e[nc], ts[i], v[i]) != 0) {
			fprintf(stderr, "bench_codec: append failed\n");
			exit(1);
		}
	}
	for (size_t c = 0; c <= nc; c++) {
		size_t len;
		(void)vg_chunk_enc_bytes(&e[c], &len);
		*payload += len;
		bytes += heap_bytes(e[c].buf);
		vg_chunk_enc_release(&e[c]);
	}
	return bytes;
}

/* Seconds vg_chunk_decode takes to read e's samples (a query's read),
 * checked against v[0..m); ts_out, v_out: room for a chunk. */
static double timed_read(const struct vg_chunk_enc *e, const double *v, size_t m, int64_t *ts_out, double *v_out)
{
	size_t len, got = 0;
	const uint8_t *p = vg_chunk_enc_bytes(e, &len);
	double t0 = now_s();

	if (vg_chunk_decode(p, len, INT64_MAX, SIZE_MAX, ts_out, v_out, &got, NULL) != 0 || got != m ||
	    memcmp(v_out, v, m * sizeof(double)) != 0) {
		fprintf(stderr, "bench_codec: chunk read failed\n");
		exit(1);
	}
	return now_s() - t0;
}

static void zstd_group(const struct vg_buf *b, double *z3, double *z9)
{
	size_t bound = ZSTD_compressBound(b->len);
	void *dst = malloc(bound);
	size_t r;

	r = ZSTD_compress(dst, bound, b->data, b->len, 3);
	*z3 += ZSTD_isError(r) ? (double)b->len : (double)r;
	r = ZSTD_compress(dst, bound, b->data, b->len, 9);
	*z9 += ZSTD_isError(r) ? (double)b->len : (double)r;
	free(dst);
}

static void run_variant(enum variant var, uint32_t hosts, size_t n, uint64_t seed, struct figures *f)
{
	struct kind_stats ks[K_N];
	double *values = malloc(sizeof(double) * SERIES * n);
	int64_t *ts = malloc(sizeof(int64_t) * n);
	size_t room = n > VG_CHUNK_MAX_SAMPLES ? n : VG_CHUNK_MAX_SAMPLES;
	int64_t *ts_out = malloc(sizeof(int64_t) * room);
	double *v_out = malloc(sizeof(double) * room);
	struct vg_buf group = VG_BUF_INIT;
	double total = 0, best = 0, col = 0, z3 = 0, z9 = 0;
	double t_append = 0, t_finish = 0, t_decode = 0, t_cenc = 0, t_cdec = 0, t_ropen = 0, t_rfin = 0;
	double h240 = 0, h120 = 0;
	size_t tags[256] = { 0 };

	struct gen g0;
	struct rng r0 = { 1 };

	gen_init(&g0, &r0); /* the kinds of the series */
	memset(ks, 0, sizeof(ks));
	for (size_t t = 0; t < n; t++)
		ts[t] = T0_MS + (int64_t)t * STEP_MS;
	for (uint32_t h = 0; h < hosts; h++) {
		gen_host(seed, h, var, n, values);
		vg_buf_reset(&group);
		for (int s = 0; s < SERIES; s++) {
			const double *v = values + (size_t)s * n;
			struct kind_stats *k = &ks[g0.kind[s]];

			/* head chunks of VG_CHUNK_MAX_SAMPLES, each finished three ways */
			for (size_t at = 0; at < n; at += VG_CHUNK_MAX_SAMPLES) {
				size_t m = n - at < VG_CHUNK_MAX_SAMPLES ? n - at : VG_CHUNK_MAX_SAMPLES;
				struct vg_chunk_enc e, ex, ed;
				struct vg_chunk_it it;
				size_t len;
				double t0 = now_s();

				vg_chunk_enc_init(&e);
				for (size_t i = 0; i < m; i++)
					(void)vg_chunk_enc_append(&e, ts[at + i], v[at + i]);
				double t1 = now_s();
				t_append += t1 - t0;
				/* the open chunk read as a query reads it */
				t_ropen += timed_read(&e, v + at, m, ts_out, v_out);
				t1 = now_s();
				(void)vg_chunk_enc_finish(&e);
				t_finish += now_s() - t1;
				t_rfin += timed_read(&e, v + at, m, ts_out, v_out);
				const uint8_t *p = vg_chunk_enc_bytes(&e, &len);
				t0 = now_s();
				size_t got = 0;
				if (vg_chunk_it_init(&it, p, len, NULL) == 0)
					while (vg_chunk_it_next(&it, &ts_out[got], &v_out[got]) == 1)
						got++;
				t_decode += now_s() - t0;
				if (got != m || memcmp(v_out, v + at, m * sizeof(double)) != 0) {
					fprintf(stderr, "bench_codec: head round trip failed\n");
					exit(1);
				}
				k->best_bytes += (double)len;
				k->samples += (double)m;
				k->chunks++;
				ex = e;
				ex.buf = malloc(e.cap);
				memcpy(ex.buf, e.buf, e.cap);
				ex.flags = 0;
				ed = ex;
				ed.buf = malloc(e.cap);
				memcpy(ed.buf, e.buf, e.cap);
				(void)vg_chunk_enc_finish_as(&ex, VG_CHUNK_XOR);
				(void)vg_chunk_enc_bytes(&ex, &len);
				k->xor_bytes += (double)len;
				if (vg_chunk_enc_finish_as(&ed, VG_CHUNK_DEC_DELTA) == 0) {
					size_t l1, l2;
					(void)vg_chunk_enc_bytes(&ed, &l1);
					(void)vg_chunk_enc_finish_as(&ed, VG_CHUNK_DEC_DOD);
					(void)vg_chunk_enc_bytes(&ed, &l2);
					k->dec_bytes += (double)(l1 < l2 ? l1 : l2);
					k->dec_ok++;
				} else if (vg_chunk_enc_finish_as(&ed, VG_CHUNK_DEC_ULP) == 0) {
					size_t l1;
					(void)vg_chunk_enc_bytes(&ed, &l1);
					k->dec_bytes += (double)l1;
					k->ulp_ok++;
				} else {
					k->dec_bytes += (double)len; /* no decimal form: XOR */
				}
				vg_chunk_enc_release(&e);
				vg_chunk_enc_release(&ex);
				vg_chunk_enc_release(&ed);
			}
			/* the head at 720 samples (or n), chunks of 240 and of 120 */
			size_t nh = n < 720 ? n : 720, payload;
			h240 += (double)head_series(ts, v, nh, VG_CHUNK_MAX_SAMPLES, &payload);
			h120 += (double)head_series(ts, v, nh, 120, &payload);

			/* block columns: 2 h of samples per series, ts and values */
			for (size_t at = 0; at < n; at += 720) {
				size_t m = n - at < 720 ? n - at : 720, before = group.len;
				double t0 = now_s();
				(void)vg_col_encode_ts(ts + at, m, &group);
				size_t vat = group.len;
				(void)vg_col_encode_f64(v + at, m, &group);
				t_cenc += now_s() - t0;
				tags[group.data[vat]]++;
				t0 = now_s();
				long a = vg_col_decode_ts(group.data + before, group.len - before, ts_out, m, NULL);
				long b = a > 0 ? vg_col_decode_f64(group.data + before + a,
								   group.len - before - (size_t)a, v_out, m, NULL)
					       : -1;
				t_cdec += now_s() - t0;
				if (b <= 0 || memcmp(v_out, v + at, m * sizeof(double)) != 0) {
					fprintf(stderr, "bench_codec: column round trip failed\n");
					exit(1);
				}
			}
		}
		col += (double)group.len;
		zstd_group(&group, &z3, &z9);
	}
	for (int k = 0; k < K_N; k++)
		total += ks[k].samples, best += ks[k].best_bytes;
	/* The model's information per sample: a counter steps by one of
	 * incr*100 equally likely hundredths, a gauge by one of 200, plus one
	 * of 100 noise values in the noisy variant; constants and regular
	 * timestamps carry none. */
	double floor_bits = 0;
	for (int s = 0; s < SERIES; s++)
		if (g0.incr[s] > 0)
			floor_bits += log2(g0.incr[s] * 100);
		else if (g0.incr[s] == 0)
			floor_bits += log2(200) + (var == V_NOISY ? log2(100) : 0);
	f->floor_bps = floor_bits / SERIES / 8;

	printf("\n== %s variant: %u hosts x %d series x %zu samples ==\n", variant_name[var], hosts,
	       SERIES, n);
	printf("head chunks of %d, bytes per sample by metric kind:\n", VG_CHUNK_MAX_SAMPLES);
	printf("  %-20s %8s %8s %8s  %s\n", "kind", "XOR", "decimal", "chosen", "chunks exact decimal / decimal+ULP");
	for (int k = 0; k < K_N; k++) {
		if (ks[k].samples == 0)
			continue;
		printf("  %-20s %8.3f %8.3f %8.3f  %3.0f%% / %3.0f%%\n", kind_name[k],
		       ks[k].xor_bytes / ks[k].samples, ks[k].dec_bytes / ks[k].samples,
		       ks[k].best_bytes / ks[k].samples, 100.0 * (double)ks[k].dec_ok / (double)ks[k].chunks,
		       100.0 * (double)ks[k].ulp_ok / (double)ks[k].chunks);
	}
	double x = 0, d = 0;
	for (int k = 0; k < K_N; k++)
		x += ks[k].xor_bytes, d += ks[k].dec_bytes;
	printf("  %-20s %8.3f %8.3f %8.3f\n", "all", x / total, d / total, best / total);
	printf("head bytes per series at %zu samples (heap, chunk bytes only): %.0f with chunks of %d, %.0f with chunks of 120\n",
	       n < 720 ? n : (size_t)720, h240 / (hosts * SERIES), VG_CHUNK_MAX_SAMPLES, h120 / (hosts * SERIES));
	printf("block columns (ts + values, 720 a column): %.3f bytes/sample; zstd -3 %.3f, zstd -9 %.3f (groups of one host's columns)\n",
	       col / total, z3 / total, z9 / total);
	if (var != V_FLOAT)
		printf("information floor of the model: %.3f bytes/sample\n", f->floor_bps);
	printf("value column encodings: const %zu, decimal delta %zu, decimal dod %zu, XOR %zu, decimal+ULP %zu "
	       "(of the decimals in long blocks: %zu, %zu, %zu)\n",
	       tags[0x10], tags[0x11] + tags[0x31], tags[0x12] + tags[0x32], tags[0x13], tags[0x14] + tags[0x34],
	       tags[0x31], tags[0x32], tags[0x34]);
	printf("speed (M samples/s): head append %.1f (%.0f ns a sample), finish %.1f, decode %.1f; columns encode %.1f, decode %.1f\n",
	       total / t_append / 1e6, t_append / total * 1e9, total / t_finish / 1e6, total / t_decode / 1e6,
	       total / t_cenc / 1e6, total / t_cdec / 1e6);
	printf("chunk reads (vg_chunk_decode, as a query reads the head): open chunks %.2f ns a sample, finished %.2f\n",
	       t_ropen / total * 1e9, t_rfin / total * 1e9);
	f->read_open_ns = t_ropen / total * 1e9;
	f->read_fin_ns = t_rfin / total * 1e9;
	f->head_bps = best / total;
	f->head_series_240 = h240 / (hosts * SERIES);
	f->head_series_120 = h120 / (hosts * SERIES);
	f->col_bps = col / total;
	f->zstd3_bps = z3 / total;
	f->zstd9_bps = z9 / total;
	f->append_sps = total / t_append;
	f->decode_sps = total / t_decode;
	f->col_enc_sps = total / t_cenc;
	f->col_dec_sps = total / t_cdec;
	vg_buf_release(&group);
	free(values);
	free(ts);
	free(ts_out);
	free(v_out);
}

/*
 * The information floor of the decimal variant's rollup buckets of c
 * samples, bytes per bucket (docs/performance.md, "The floor of the
 * rollups"). Per series, given the bucket before: first is one step from
 * the last before, log2 K bits (K the step's values: incr x 100 for a
 * counter, 200 for a gauge); last and sum are first plus the m = c - 1
 * inner steps s_j summed with weights 1 and m + 1 - j, a pair whose
 * entropy is that of a Gaussian of the same covariance (the sum of
 * uniform steps is near one), log2(2 pi e) + log2(det) / 2 with
 * det = sigma^4 m^2 (m^2 - 1) / 12, sigma^2 = (K^2 - 1) / 12; constants
 * are free, as are ts and count. A counter's min, max and increase
 * follow from first and last (no resets); a gauge's are not counted, so
 * this is a lower bound.
 */
static double rollup_floor_bytes(uint64_t seed, size_t c)
{
	struct rng r = { seed ^ 0x9E3779B97F4A7C15ULL };
	struct gen g;
	double bits = 0, m = (double)c - 1;

	gen_init(&g, &r);
	for (int s = 0; s < SERIES; s++) {
		if (g.incr[s] < 0)
			continue;
		double k = g.incr[s] > 0 ? g.incr[s] * 100 : 200, var = (k * k - 1) / 12;
		bits += log2(k);
		if (m >= 2)
			bits += log2(2 * M_PI * M_E) + log2(var * var * m * m * (m * m - 1) / 12) / 2;
		else if (m == 1)
			bits += log2(2 * M_PI * M_E * var) / 2;
	}
	return bits / SERIES / 8;
}

/* Bytes per bucket of the rollup columns as the tiers write them
 * (vg_rollup_compute, vg_rollup_encode), before and after zstd -3, one
 * host's series a group as the block writer groups them; per column too. */
static void run_rollups(uint32_t hosts, uint64_t seed, enum variant var, size_t days, int64_t width_ms,
			double *raw_bpb, double *z_bpb)
{
	size_t n = days * 8640;
	double *values = malloc(sizeof(double) * SERIES * n);
	int64_t *ts = malloc(sizeof(int64_t) * n);
	struct vg_buf group = VG_BUF_INIT, col_buf[VG_BLOCK_ROLLUP_COLUMNS];
	struct vg_buckets bk = { 0 };
	double bytes = 0, z3 = 0, z9 = 0, buckets = 0, col_z[VG_BLOCK_ROLLUP_COLUMNS] = { 0 };
	static const char *const col_name[VG_BLOCK_ROLLUP_COLUMNS] = { "ts", "count", "last", "first",
								     "min", "max", "sum", "increase" };

	for (int c = 0; c < VG_BLOCK_ROLLUP_COLUMNS; c++)
		vg_buf_init(&col_buf[c]);
	for (size_t i = 0; i < n; i++)
		ts[i] = T0_MS + (int64_t)i * STEP_MS;
	for (uint32_t h = 0; h < hosts; h++) {
		gen_host(seed, h, var, n, values);
		vg_buf_reset(&group);
		for (int c = 0; c < VG_BLOCK_ROLLUP_COLUMNS; c++)
			vg_buf_reset(&col_buf[c]);
		for (int s = 0; s < SERIES; s++) {
			size_t offs[VG_BLOCK_ROLLUP_COLUMNS], lens[VG_BLOCK_ROLLUP_COLUMNS], at = group.len;
			bk.n = 0;
			if (vg_rollup_compute(ts, values + (size_t)s * n, n, width_ms, &bk) != 0 ||
			    vg_rollup_encode(bk.v, bk.n, &group, offs, lens) != 0) {
				fprintf(stderr, "bench_codec: rollup encoding failed\n");
				exit(1);
			}
			(void)at;
			for (int c = 0; c < VG_BLOCK_ROLLUP_COLUMNS; c++)
				vg_buf_append(&col_buf[c], group.data + offs[c], lens[c]);
			buckets += (double)bk.n;
		}
		bytes += (double)group.len;
		zstd_group(&group, &z3, &z9);
		for (int c = 0; c < VG_BLOCK_ROLLUP_COLUMNS; c++) {
			double unused = 0;
			zstd_group(&col_buf[c], &col_z[c], &unused);
		}
	}
	printf("  %s %s buckets, per column (zstd -3 alone, bytes per bucket):", variant_name[var],
	       width_ms == 60000 ? "1m" : "1h");
	for (int c = 0; c < VG_BLOCK_ROLLUP_COLUMNS; c++)
		printf(" %s %.2f", col_name[c], col_z[c] / buckets);
	printf("\n");
	*raw_bpb = bytes / buckets;
	*z_bpb = z3 / buckets;
	vg_buf_release(&group);
	for (int c = 0; c < VG_BLOCK_ROLLUP_COLUMNS; c++)
		vg_buf_release(&col_buf[c]);
	vg_buckets_release(&bk);
	free(values);
	free(ts);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hosts", required_argument, NULL, 'h' },
		{ "samples", required_argument, NULL, 'n' },
		{ "rollup-hosts", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t hosts = 1000, rhosts = 5;
	size_t n = 720;
	uint64_t seed = 42;
	struct figures f[V_N];
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'h': hosts = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'r': rhosts = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: bench_codec [--hosts H] [--samples N] [--rollup-hosts R] [--seed S]\n");
			return 2;
		}
	}
	if (hosts == 0 || n == 0 || rhosts == 0) {
		fprintf(stderr, "bench_codec: hosts, samples and rollup hosts must be > 0\n");
		return 2;
	}
	printf("encoder state %zu bytes; raw sample 16 bytes (ts + value)\n", sizeof(struct vg_chunk_enc));
	for (int v = 0; v < V_N; v++)
		run_variant((enum variant)v, hosts, n, seed, &f[v]);

	double r1m, z1m_ref, r1h, z1h_ref, d1m, dz1m, d1h, dz1h;
	printf("\n== rollups of the noisy and decimal variants: %u hosts x %d series x 7 days ==\n", rhosts, SERIES);
	run_rollups(rhosts, seed, V_NOISY, 7, 60000, &r1m, &z1m_ref);
	run_rollups(rhosts, seed, V_NOISY, 7, 3600000, &r1h, &z1h_ref);
	run_rollups(rhosts, seed, V_DECIMAL, 7, 60000, &d1m, &dz1m);
	run_rollups(rhosts, seed, V_DECIMAL, 7, 3600000, &d1h, &dz1h);
	printf("columns ts, count, last, first, min, max, sum, increase (receiver/storage/rollup.c); bytes per bucket, zstd -3, one host's series a group:\n");
	printf("  noisy 1m buckets: %.2f (%.2f before zstd); decimal: %.2f (%.2f)\n", z1m_ref, r1m, dz1m, d1m);
	printf("  noisy 1h buckets: %.2f (%.2f before zstd); decimal: %.2f (%.2f)\n", z1h_ref, r1h, dz1h, d1h);
	double fl1m = rollup_floor_bytes(seed, 6), fl1h = rollup_floor_bytes(seed, 360);
	printf("information floor of the decimal model's buckets (first, last, sum): 1m %.2f, 1h %.2f bytes/bucket\n",
	       fl1m, fl1h);

	const struct figures *x = &f[V_NOISY];
	printf("RESULT head_bytes_per_sample=%.3f head_bytes_per_series_720=%.0f head_bytes_per_series_720_c120=%.0f "
	       "col_bytes_per_sample=%.3f col_zstd_bytes_per_sample=%.3f col_zstd9_bytes_per_sample=%.3f "
	       "decimal_col_zstd_bytes_per_sample=%.3f float_col_zstd_bytes_per_sample=%.3f "
	       "floor_bytes_per_sample=%.3f rollup_1m_bytes_per_bucket=%.2f rollup_1h_bytes_per_bucket=%.2f "
	       "decimal_rollup_1m_bytes_per_bucket=%.2f decimal_rollup_1h_bytes_per_bucket=%.2f "
	       "decimal_rollup_1m_floor_bytes_per_bucket=%.2f decimal_rollup_1h_floor_bytes_per_bucket=%.2f "
	       "append_msamples_s=%.1f decode_msamples_s=%.1f col_encode_msamples_s=%.1f col_decode_msamples_s=%.1f "
	       "float_read_open_ns=%.2f float_read_finished_ns=%.2f\n",
	       x->head_bps, x->head_series_240, x->head_series_120, x->col_bps, x->zstd3_bps, x->zstd9_bps,
	       f[V_DECIMAL].zstd3_bps, f[V_FLOAT].zstd3_bps, x->floor_bps, z1m_ref, z1h_ref, dz1m, dz1h, fl1m, fl1h, x->append_sps / 1e6, x->decode_sps / 1e6,
	       x->col_enc_sps / 1e6, x->col_dec_sps / 1e6, f[V_FLOAT].read_open_ns, f[V_FLOAT].read_fin_ns);
	return 0;
}
