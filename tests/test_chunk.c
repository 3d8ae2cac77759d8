/* test_chunk.c: the sample codecs (receiver/storage/chunk.c): head chunks
 * and block columns round-trip every value bit for bit, and damaged bytes
 * give an error, never a crash or a read outside the bytes. */
#include "common/buf.h"
#include "common/err.h"
#include "receiver/storage/chunk.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t bits_of(double v)
{
	uint64_t u;

	memcpy(&u, &v, 8);
	return u;
}

static double from_bits(uint64_t u)
{
	double v;

	memcpy(&v, &u, 8);
	return v;
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Every value the codecs must carry bit for bit. */
static double special(size_t i)
{
	static const uint64_t raw[] = {
		0x7ff8000000000000ULL, /* NaN */
		0x7ff0000000000002ULL, /* the stale marker's NaN payload */
		0xfff8000000000001ULL, /* a negative NaN with a payload */
		0x7ff0000000000000ULL, /* +Inf */
		0xfff0000000000000ULL, /* -Inf */
		0x8000000000000000ULL, /* -0.0 */
		0x0000000000000000ULL, /* 0 */
		0x0000000000000001ULL, /* smallest denormal */
		0x000fffffffffffffULL, /* largest denormal */
		0x7fefffffffffffffULL, /* DBL_MAX */
	};
	static const double dec[] = { 1e308, 1e-300, 211221.16, 0.1 + 0.2, 9007199254740993.0 * 4,
				      -123456789012345678.0, 1.5, -2.25, 3e18, 9.3e18, 0.1, 1e-18 };
	size_t nr = sizeof(raw) / sizeof(raw[0]);

	if (i < nr)
		return from_bits(raw[i]);
	return dec[(i - nr) % (sizeof(dec) / sizeof(dec[0]))];
}
#define N_SPECIAL 22

/* vg_chunk_decode of p[0..len) up to max_t, max_n: the first samples of
 * ts[], v[] (n of them), bit for bit. */
static void check_decode(const uint8_t *p, size_t len, const int64_t *ts, const double *v, size_t n,
			 int64_t max_t, size_t max_n)
{
	int64_t got_ts[VG_CHUNK_MAX_MERGED];
	double got_v[VG_CHUNK_MAX_MERGED];
	struct vg_err err;
	size_t want = 0, got;

	while (want < n && want < max_n && ts[want] <= max_t)
		want++;
	ck_assert_int_eq(vg_chunk_decode(p, len, max_t, max_n, got_ts, got_v, &got, &err), 0);
	ck_assert_uint_eq(got, want);
	/* One assertion for the run, not one a sample: in Check's fork mode
	 * each passing assertion is a write to the parent, which made this
	 * suite take minutes on a loaded machine. */
	size_t i = 0;
	while (i < got && got_ts[i] == ts[i] && bits_of(got_v[i]) == bits_of(v[i]))
		i++;
	if (i < got)
		ck_abort_msg("decoded sample %zu: %lld %016llx, want %lld %016llx", i, (long long)got_ts[i],
			     (unsigned long long)bits_of(got_v[i]), (long long)ts[i],
			     (unsigned long long)bits_of(v[i]));
}

/* Decodes a chunk and checks it against ts[], v[] bit for bit: by the
 * iterator, and by vg_chunk_decode whole and cut by time and by count
 * (each cut inside its runs of steady samples too). */
static void check_chunk(const uint8_t *p, size_t len, const int64_t *ts, const double *v, size_t n)
{
	struct vg_chunk_it it;
	struct vg_err err;
	int64_t t;
	double x;
	size_t i = 0;
	int rc;

	check_decode(p, len, ts, v, n, INT64_MAX, SIZE_MAX);
	for (size_t cut = 0; cut < n; cut += 1 + n / 7) {
		check_decode(p, len, ts, v, n, ts[cut], SIZE_MAX);
		if (ts[cut] > INT64_MIN)
			check_decode(p, len, ts, v, n, ts[cut] - 1, SIZE_MAX);
		check_decode(p, len, ts, v, n, INT64_MAX, cut);
	}

	ck_assert_int_eq(vg_chunk_it_init(&it, p, len, &err), 0);
	while ((rc = vg_chunk_it_next(&it, &t, &x)) == 1) {
		if (i >= n || t != ts[i] || bits_of(x) != bits_of(v[i]))
			ck_abort_msg("sample %zu of %zu: %lld %016llx, want %lld %016llx", i, n, (long long)t,
				     (unsigned long long)bits_of(x), (long long)(i < n ? ts[i] : 0),
				     (unsigned long long)(i < n ? bits_of(v[i]) : 0));
		i++;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(i, n);
}

/* Appends all samples, checking after every append that a copy of the
 * bytes decodes to everything so far; then finishes and checks again. */
static void round_trip_head(const int64_t *ts, const double *v, size_t n)
{
	struct vg_chunk_enc e;
	const uint8_t *p;
	size_t len;

	vg_chunk_enc_init(&e);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(vg_chunk_enc_append(&e, ts[i], v[i]), 0);
		ck_assert_uint_eq(vg_chunk_enc_samples(&e), i + 1);
		p = vg_chunk_enc_bytes(&e, &len);
		uint8_t *copy = malloc(len);
		memcpy(copy, p, len);
		check_chunk(copy, len, ts, v, i + 1);
		free(copy);
	}
	ck_assert_int_eq(vg_chunk_enc_min_ts(&e), ts[0]);
	ck_assert_int_eq(vg_chunk_enc_max_ts(&e), ts[n - 1]);
	ck_assert_int_eq(vg_chunk_enc_finish(&e), 0);
	ck_assert_int_eq(vg_chunk_enc_min_ts(&e), ts[0]);
	ck_assert_int_eq(vg_chunk_enc_max_ts(&e), ts[n - 1]);
	ck_assert(vg_chunk_enc_is_finished(&e));
	p = vg_chunk_enc_bytes(&e, &len);
	uint8_t *copy = malloc(len);
	memcpy(copy, p, len);
	check_chunk(copy, len, ts, v, n);
	free(copy);
	ck_assert_int_eq(vg_chunk_enc_append(&e, ts[n - 1] < INT64_MAX ? ts[n - 1] + 1 : ts[n - 1], 1.0), VG_EINVAL);
	vg_chunk_enc_release(&e);
}

START_TEST(test_head_decimal_regular)
{
	int64_t ts[VG_CHUNK_MAX_SAMPLES];
	double v[VG_CHUNK_MAX_SAMPLES];
	int64_t cents = 21122116;
	struct vg_chunk_enc e;
	int scale;

	for (size_t i = 0; i < VG_CHUNK_MAX_SAMPLES; i++) {
		ts[i] = 1764000000000 + (int64_t)i * 10000;
		cents += (int64_t)(next_rand() % 2000) - 1000;
		v[i] = (double)cents / 100;
	}
	round_trip_head(ts, v, VG_CHUNK_MAX_SAMPLES);
	vg_chunk_enc_init(&e);
	for (size_t i = 0; i < VG_CHUNK_MAX_SAMPLES; i++)
		ck_assert_int_eq(vg_chunk_enc_append(&e, ts[i], v[i]), 0);
	ck_assert_int_ne(vg_chunk_enc_mode(&e, &scale), VG_CHUNK_XOR);
	ck_assert_int_eq(scale, 2);
	/* regular steps cost a bit, values ~13: well under 3 bytes a sample */
	size_t len;
	(void)vg_chunk_enc_bytes(&e, &len);
	ck_assert_uint_lt(len, 3 * VG_CHUNK_MAX_SAMPLES);
	ck_assert_int_eq(vg_chunk_enc_append(&e, ts[VG_CHUNK_MAX_SAMPLES - 1] + 10000, 1), VG_ELIMIT);
	vg_chunk_enc_release(&e);
}
END_TEST

START_TEST(test_head_special_values_xor)
{
	int64_t ts[N_SPECIAL * 2];
	double v[N_SPECIAL * 2];
	struct vg_chunk_enc e;

	for (size_t i = 0; i < N_SPECIAL * 2; i++) {
		ts[i] = 1000 + (int64_t)i * 15000;
		v[i] = special(i % N_SPECIAL);
	}
	round_trip_head(ts, v, N_SPECIAL * 2);
	/* each alone, and after a decimal start (the fallback re-encodes) */
	for (size_t i = 0; i < N_SPECIAL; i++) {
		int64_t t2[3] = { 5, 10, 20 };
		double v2[3] = { 1.25, special(i), 7 };
		round_trip_head(t2, v2, 3);
		round_trip_head(t2 + 1, v2 + 1, 1);
	}
	vg_chunk_enc_init(&e);
	ck_assert_int_eq(vg_chunk_enc_append(&e, 1, 1.5), 0);
	ck_assert_int_eq(vg_chunk_enc_mode(&e, NULL), VG_CHUNK_DEC_DELTA);
	ck_assert_int_eq(vg_chunk_enc_append(&e, 2, from_bits(0x7ff0000000000002ULL)), 0);
	ck_assert_int_eq(vg_chunk_enc_mode(&e, NULL), VG_CHUNK_XOR);
	vg_chunk_enc_release(&e);
}
END_TEST

START_TEST(test_head_scale_grows)
{
	int64_t ts[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	double v[8] = { 1, 2, 2.5, 2.25, 2.125, 1e6, 211221.16, 0.1 + 0.2 };
	struct vg_chunk_enc e;
	int scale;

	round_trip_head(ts, v, 8);
	vg_chunk_enc_init(&e);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(vg_chunk_enc_append(&e, ts[i], v[i]), 0);
	ck_assert_int_ne(vg_chunk_enc_mode(&e, &scale), VG_CHUNK_XOR);
	ck_assert_int_eq(scale, 3);
	vg_chunk_enc_release(&e);
}
END_TEST

START_TEST(test_head_timestamps_irregular_and_extremes)
{
	int64_t ts[200];
	double v[200];
	int64_t t = -5000000;

	for (size_t i = 0; i < 200; i++) {
		/* jitter, gaps of hours, a step of exactly the maximum */
		t += i == 50 ? VG_CHUNK_MAX_STEP_MS : i % 17 == 0 ? 3600000 : 9990 + (int64_t)(next_rand() % 21);
		ts[i] = t;
		v[i] = (double)(i % 7);
	}
	round_trip_head(ts, v, 200);
	int64_t lo[3] = { INT64_MIN, INT64_MIN + 1, INT64_MIN + 1000 };
	int64_t hi[3] = { INT64_MAX - 1000, INT64_MAX - 1, INT64_MAX };
	double vv[3] = { 1, 2, 3 };
	round_trip_head(lo, vv, 3);
	round_trip_head(hi, vv, 3);
}
END_TEST

START_TEST(test_head_refusals_leave_chunk_unchanged)
{
	struct vg_chunk_enc e;
	const uint8_t *p;
	size_t len, len2;
	uint8_t before[64];

	vg_chunk_enc_init(&e);
	p = vg_chunk_enc_bytes(&e, &len);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(vg_chunk_enc_samples(&e), 0);
	ck_assert_int_eq(vg_chunk_enc_append(&e, 100, 1), 0);
	ck_assert_int_eq(vg_chunk_enc_append(&e, 200, 2), 0);
	p = vg_chunk_enc_bytes(&e, &len);
	memcpy(before, p, len);
	ck_assert_int_eq(vg_chunk_enc_append(&e, 200, 3), VG_EINVAL);
	ck_assert_int_eq(vg_chunk_enc_append(&e, 150, 3), VG_EINVAL);
	ck_assert_int_eq(vg_chunk_enc_append(&e, 200 + (int64_t)VG_CHUNK_MAX_STEP_MS + 1, 3), VG_ELIMIT);
	p = vg_chunk_enc_bytes(&e, &len2);
	ck_assert_uint_eq(len, len2);
	ck_assert_mem_eq(before, p, len);
	ck_assert_uint_eq(vg_chunk_enc_samples(&e), 2);
	ck_assert_int_eq(vg_chunk_enc_max_ts(&e), 200);
	ck_assert_int_eq(vg_chunk_enc_append(&e, 300, 3), 0);
	int64_t ts[3] = { 100, 200, 300 };
	double v[3] = { 1, 2, 3 };
	p = vg_chunk_enc_bytes(&e, &len);
	check_chunk(p, len, ts, v, 3);
	vg_chunk_enc_release(&e);
	ck_assert_int_eq(vg_chunk_enc_finish(&e), 0); /* empty: nothing to do */
}
END_TEST

START_TEST(test_head_counters_with_resets_finish_picks_smallest)
{
	int64_t ts[VG_CHUNK_MAX_SAMPLES];
	double v[VG_CHUNK_MAX_SAMPLES];
	double c = 0;
	struct vg_chunk_enc e;
	const uint8_t *p;
	size_t len_open, len_final, cap_open;

	for (size_t i = 0; i < VG_CHUNK_MAX_SAMPLES; i++) {
		ts[i] = (int64_t)i * 10000;
		c = i % 60 == 59 ? 0 : c + 4096.0 * (double)(next_rand() % 100);
		v[i] = c;
	}
	round_trip_head(ts, v, VG_CHUNK_MAX_SAMPLES);
	vg_chunk_enc_init(&e);
	for (size_t i = 0; i < VG_CHUNK_MAX_SAMPLES; i++)
		ck_assert_int_eq(vg_chunk_enc_append(&e, ts[i], v[i]), 0);
	(void)vg_chunk_enc_bytes(&e, &len_open);
	cap_open = e.cap;
	ck_assert_uint_ge(cap_open, len_open);
	ck_assert_uint_lt(cap_open - len_open, 32);
	ck_assert_int_eq(vg_chunk_enc_finish(&e), 0);
	(void)vg_chunk_enc_bytes(&e, &len_final);
	ck_assert_uint_le(len_final, len_open);
	ck_assert_uint_eq(e.cap, len_final);
	p = vg_chunk_enc_bytes(&e, &len_final);
	check_chunk(p, len_final, ts, v, VG_CHUNK_MAX_SAMPLES);
	vg_chunk_enc_release(&e);
	/* a steady counter: the columns' delta-of-delta wins at finish, a
	 * few bytes for the whole chunk */
	for (size_t i = 0; i < VG_CHUNK_MAX_SAMPLES; i++)
		v[i] = 1e9 + 1234567.0 * (double)i;
	vg_chunk_enc_init(&e);
	for (size_t i = 0; i < VG_CHUNK_MAX_SAMPLES; i++)
		ck_assert_int_eq(vg_chunk_enc_append(&e, ts[i], v[i]), 0);
	ck_assert_int_eq(vg_chunk_enc_finish(&e), 0);
	ck_assert_int_eq(vg_chunk_enc_mode(&e, NULL), VG_CHUNK_COLS);
	p = vg_chunk_enc_bytes(&e, &len_final);
	ck_assert_uint_lt(len_final, 40);
	check_chunk(p, len_final, ts, v, VG_CHUNK_MAX_SAMPLES);
	vg_chunk_enc_release(&e);
}
END_TEST

START_TEST(test_head_constant_and_struct_size)
{
	int64_t ts[VG_CHUNK_MAX_SAMPLES];
	double v[VG_CHUNK_MAX_SAMPLES];
	struct vg_chunk_enc e;
	size_t len;

	ck_assert_uint_le(sizeof(struct vg_chunk_enc), 48);
	for (size_t i = 0; i < VG_CHUNK_MAX_SAMPLES; i++) {
		ts[i] = 1764000000000 + (int64_t)i * 10000;
		v[i] = 1764000000;
	}
	round_trip_head(ts, v, VG_CHUNK_MAX_SAMPLES);
	vg_chunk_enc_init(&e);
	for (size_t i = 0; i < VG_CHUNK_MAX_SAMPLES; i++)
		ck_assert_int_eq(vg_chunk_enc_append(&e, ts[i], v[i]), 0);
	ck_assert_int_eq(vg_chunk_enc_finish(&e), 0);
	(void)vg_chunk_enc_bytes(&e, &len);
	/* two bits a sample and the first sample's full form */
	ck_assert_uint_le(len, 2 * VG_CHUNK_MAX_SAMPLES / 8 + 24);
	vg_chunk_enc_release(&e);
}
END_TEST

START_TEST(test_head_seek)
{
	struct vg_chunk_enc e;
	struct vg_chunk_it it;
	const uint8_t *p;
	size_t len;
	int64_t t;
	double v;

	vg_chunk_enc_init(&e);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(vg_chunk_enc_append(&e, i * 10, i * 0.5), 0);
	p = vg_chunk_enc_bytes(&e, &len);
	ck_assert_int_eq(vg_chunk_it_init(&it, p, len, NULL), 0);
	ck_assert_int_eq(vg_chunk_it_seek(&it, 455, &t, &v), 1);
	ck_assert_int_eq(t, 460);
	ck_assert(v == 23.0);
	ck_assert_int_eq(vg_chunk_it_seek(&it, 460, &t, &v), 1); /* already past: the next */
	ck_assert_int_eq(t, 470);
	ck_assert_int_eq(vg_chunk_it_seek(&it, 100000, &t, &v), 0);
	vg_chunk_enc_release(&e);
}
END_TEST

/* Runs the iterator to its end; returns the result of the last call. */
static int drain(const uint8_t *p, size_t len, size_t *count)
{
	struct vg_chunk_it it;
	struct vg_err err;
	int64_t t;
	double v;
	int rc;

	*count = 0;
	if ((rc = vg_chunk_it_init(&it, p, len, &err)) != 0) {
		ck_assert_str_ne(err.msg, "");
		return rc;
	}
	while ((rc = vg_chunk_it_next(&it, &t, &v)) == 1)
		(*count)++;
	if (rc < 0) {
		ck_assert_str_ne(err.msg, "");
		ck_assert_int_eq(vg_chunk_it_next(&it, &t, &v), rc); /* stays failed */
	}
	return rc;
}

/* A counter stepping by random amounts and a gauge stepping by pages, as
 * node metrics do: the columns take the blocks' minimum and gcd out of the
 * deltas, so finishing stores them in fewer bytes than any bit-stream
 * mode; read back whole, up to a time, a count, and through the iterator;
 * every prefix and a trailing byte are damage, reported at init. */
START_TEST(test_head_finished_in_columns)
{
	int64_t ts[VG_CHUNK_MAX_SAMPLES], ts2[VG_CHUNK_MAX_SAMPLES];
	double v[VG_CHUNK_MAX_SAMPLES], v2[VG_CHUNK_MAX_SAMPLES];
	struct vg_chunk_enc e, x;
	struct vg_err err;
	const uint8_t *p;
	size_t len, len_x, n, count;
	int64_t cents = 123456;

	for (int kind = 0; kind < 2; kind++) {
		for (size_t i = 0; i < VG_CHUNK_MAX_SAMPLES; i++) {
			ts[i] = 1764000000000 + (int64_t)i * 10000;
			cents = kind == 0 ? cents + (int64_t)(next_rand() % 100)
					  : 409600000000 + 409600 * (int64_t)(next_rand() % 200);
			v[i] = (double)cents / 100;
		}
		round_trip_head(ts, v, VG_CHUNK_MAX_SAMPLES);
		vg_chunk_enc_init(&e);
		for (size_t i = 0; i < VG_CHUNK_MAX_SAMPLES; i++)
			ck_assert_int_eq(vg_chunk_enc_append(&e, ts[i], v[i]), 0);
		ck_assert_int_eq(vg_chunk_enc_finish(&e), 0);
		ck_assert_int_eq(vg_chunk_enc_mode(&e, NULL), VG_CHUNK_COLS);
		p = vg_chunk_enc_bytes(&e, &len);
		ck_assert_uint_eq(vg_chunk_enc_alloc_bytes(&e), len);
		for (int mode = VG_CHUNK_XOR; mode <= VG_CHUNK_DEC_DOD; mode++) {
			vg_chunk_enc_init(&x);
			for (size_t i = 0; i < VG_CHUNK_MAX_SAMPLES; i++)
				ck_assert_int_eq(vg_chunk_enc_append(&x, ts[i], v[i]), 0);
			ck_assert_int_eq(vg_chunk_enc_finish_as(&x, (enum vg_chunk_mode)mode), 0);
			(void)vg_chunk_enc_bytes(&x, &len_x);
			ck_assert_uint_lt(len, len_x);
			vg_chunk_enc_release(&x);
		}
		check_chunk(p, len, ts, v, VG_CHUNK_MAX_SAMPLES);
		ck_assert_int_eq(vg_chunk_decode(p, len, ts[99], SIZE_MAX, ts2, v2, &n, &err), 0);
		ck_assert_uint_eq(n, 100);
		ck_assert_int_eq(vg_chunk_decode(p, len, INT64_MAX, 7, ts2, v2, &n, &err), 0);
		ck_assert_uint_eq(n, 7);
		ck_assert_int_eq(ts2[6], ts[6]);
		ck_assert(bits_of(v2[6]) == bits_of(v[6]));
		for (size_t l = 0; l < len; l++) {
			uint8_t *cut = malloc(l ? l : 1);
			memcpy(cut, p, l);
			ck_assert_int_lt(drain(cut, l, &count), 0);
			ck_assert_int_ne(vg_chunk_decode(cut, l, INT64_MAX, SIZE_MAX, ts2, v2, &n, &err), 0);
			ck_assert_str_ne(err.msg, "");
			free(cut);
		}
		uint8_t *longer = malloc(len + 1);
		memcpy(longer, p, len);
		longer[len] = 0;
		ck_assert_int_eq(drain(longer, len + 1, &count), VG_EINVAL);
		ck_assert_int_eq(vg_chunk_decode(longer, len + 1, INT64_MAX, SIZE_MAX, ts2, v2, &n, &err), VG_EINVAL);
		free(longer);
		vg_chunk_enc_release(&e);
	}
}
END_TEST


/* Regular timestamps, in each value mode, open and finished: the decoders'
 * fast paths (a column of one step, runs of steady samples) and their
 * edges (the end of int64, a step that changes, a width that changes). */
START_TEST(test_head_steady_runs)
{
	static const int64_t starts[] = { 1764000000000, INT64_MAX - (VG_CHUNK_MAX_SAMPLES - 1) * 10000LL, -5000 };
	int64_t ts[VG_CHUNK_MAX_SAMPLES];
	double v[VG_CHUNK_MAX_SAMPLES];

	for (size_t si = 0; si < sizeof(starts) / sizeof(*starts); si++) {
		for (int kind = 0; kind < 5; kind++) {
			double f = 7359.67;
			int64_t cents = 123456;
			for (size_t i = 0; i < VG_CHUNK_MAX_SAMPLES; i++) {
				/* kind 3: one step shorter in the middle */
				ts[i] = starts[si] + (int64_t)i * 10000 - (kind == 3 && i >= 120 ? 5000 : 0);
				switch (kind) {
				case 0: /* a float sum drifting off its decimals: ULP mode */
					v[i] = f += (double)(next_rand() % 100) / 100;
					break;
				case 1: /* cents: decimal delta */
				case 3:
					v[i] = (double)(cents += (int64_t)(next_rand() % 100)) / 100;
					break;
				case 2: /* a straight line: decimal delta-of-delta */
					v[i] = (double)(cents += 25) / 100;
					break;
				default: /* small steps, then a wide one, then small */
					v[i] = (double)(cents += i == 60 ? 1000000007 : (int64_t)(next_rand() % 3)) / 100;
				}
			}
			round_trip_head(ts, v, VG_CHUNK_MAX_SAMPLES);
		}
	}
}
END_TEST

/* A column of one step that would pass the end of int64: damage. */
START_TEST(test_col_regular_step_wraps)
{
	uint8_t p[64];
	size_t len = 0, n;
	int64_t ts[VG_CHUNK_MAX_SAMPLES];
	double v[VG_CHUNK_MAX_SAMPLES];
	struct vg_err err;
	struct vg_buf b = VG_BUF_INIT;
	int64_t x0 = INT64_MAX - 5;

	p[len++] = VG_CHUNK_VERSION;
	p[len++] = VG_CHUNK_COLS;
	p[len++] = 0;
	p[len++] = 0;
	p[len++] = 3;
	/* timestamps: dod, 3 entries, x0, step 3, one block of zeros */
	vg_buf_putc(&b, 0x03);
	vg_buf_put_uvarint(&b, 3);
	vg_buf_put_uvarint(&b, vg_zigzag(x0));
	vg_buf_put_uvarint(&b, vg_zigzag(3));
	vg_buf_put_uvarint(&b, 0);
	vg_buf_put_uvarint(&b, 1);
	vg_buf_putc(&b, 0);
	ck_assert_int_eq(vg_col_encode_f64((const double[]){ 1, 1, 1 }, 3, &b), 0);
	ck_assert(!vg_buf_failed(&b));
	memcpy(p + len, b.data, b.len);
	len += b.len;
	ck_assert_int_eq(vg_chunk_decode(p, len, INT64_MAX, SIZE_MAX, ts, v, &n, &err), VG_EINVAL);
	ck_assert_str_ne(err.msg, "");
	vg_buf_release(&b);
}
END_TEST

START_TEST(test_head_truncated_and_garbled)
{
	struct vg_chunk_enc e;
	const uint8_t *p;
	size_t len, count;

	vg_chunk_enc_init(&e);
	for (int i = 0; i < 120; i++)
		ck_assert_int_eq(vg_chunk_enc_append(&e, 1000 + i * 10000 + (i % 3), special((size_t)i % N_SPECIAL)), 0);
	p = vg_chunk_enc_bytes(&e, &len);
	/* every prefix, each in an exact-size allocation so ASan sees overreads */
	for (size_t l = 0; l < len; l++) {
		uint8_t *cut = malloc(l ? l : 1);
		memcpy(cut, p, l);
		int rc = drain(cut, l, &count);
		ck_assert_int_lt(rc, 0);
		free(cut);
	}
	ck_assert_int_eq(drain(p, len, &count), 0);
	ck_assert_uint_eq(count, 120);
	/* flipped bits: an error or some samples, never a crash */
	uint8_t *g = malloc(len);
	for (int round = 0; round < 2000; round++) {
		memcpy(g, p, len);
		for (int f = 0; f < 1 + round % 4; f++)
			g[next_rand() % len] ^= (uint8_t)(1u << (next_rand() % 8));
		(void)drain(g, len, &count);
		ck_assert_uint_le(count, VG_CHUNK_MAX_SAMPLES);
	}
	free(g);
	/* header damage */
	uint8_t h[16];
	memcpy(h, p, sizeof(h));
	h[0] = 2;
	ck_assert_int_eq(drain(h, sizeof(h), &count), VG_EVERSION);
	memcpy(h, p, sizeof(h));
	h[1] = 4;
	ck_assert_int_eq(drain(h, sizeof(h), &count), VG_EINVAL);
	memcpy(h, p, sizeof(h));
	h[3] = 0xff;
	ck_assert_int_eq(drain(h, sizeof(h), &count), VG_EINVAL);
	h[3] = 0;
	h[4] = 0;
	ck_assert_int_eq(drain(h, sizeof(h), &count), VG_EINVAL);
	/* random bytes with a valid header */
	uint8_t r[64];
	for (int round = 0; round < 2000; round++) {
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (uint8_t)next_rand();
		r[0] = VG_CHUNK_VERSION;
		r[1] = (uint8_t)(round % 4);
		r[2] = r[1] ? (uint8_t)(round % 19) : 0;
		(void)drain(r, sizeof(r), &count);
	}
	vg_chunk_enc_release(&e);
}
END_TEST

/* ---- columns ------------------------------------------------------------ */

static void rt_ts(const int64_t *ts, size_t n)
{
	struct vg_buf b = VG_BUF_INIT;
	int64_t *out = malloc((n + 1) * sizeof(*out));
	struct vg_err err;
	size_t cnt;

	ck_assert_int_eq(vg_col_encode_ts(ts, n, &b), 0);
	vg_buf_putc(&b, 'X'); /* trailing bytes are not the column's */
	ck_assert_int_eq(vg_col_decode_ts(b.data, b.len, out, n, &err), (long)b.len - 1);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(out[i], ts[i]);
	ck_assert_int_eq(vg_col_count(b.data, b.len, &cnt, NULL), 0);
	ck_assert_uint_eq(cnt, n);
	ck_assert_int_lt(vg_col_decode_ts(b.data, b.len, out, n + 1, &err), 0);
	ck_assert_str_ne(err.msg, "");
	free(out);
	vg_buf_release(&b);
}

static void rt_i64(const int64_t *x, size_t n)
{
	struct vg_buf b = VG_BUF_INIT;
	int64_t *out = malloc((n ? n : 1) * sizeof(*out));
	uint64_t *ux = malloc((n ? n : 1) * sizeof(*ux));
	uint64_t *uout = malloc((n ? n : 1) * sizeof(*uout));

	ck_assert_int_eq(vg_col_encode_i64(x, n, &b), 0);
	ck_assert_int_eq(vg_col_decode_i64(b.data, b.len, out, n, NULL), (long)b.len);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(out[i], x[i]);
	vg_buf_reset(&b);
	for (size_t i = 0; i < n; i++)
		ux[i] = (uint64_t)x[i] ^ 0x8000000000000000ULL;
	ck_assert_int_eq(vg_col_encode_u64(ux, n, &b), 0);
	ck_assert_int_eq(vg_col_decode_u64(b.data, b.len, uout, n, NULL), (long)b.len);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(uout[i], ux[i]);
	free(out);
	free(ux);
	free(uout);
	vg_buf_release(&b);
}

static size_t rt_f64(const double *v, size_t n)
{
	struct vg_buf b = VG_BUF_INIT;
	double *out = malloc((n ? n : 1) * sizeof(*out));
	size_t len;

	ck_assert_int_eq(vg_col_encode_f64(v, n, &b), 0);
	ck_assert_int_eq(vg_col_decode_f64(b.data, b.len, out, n, NULL), (long)b.len);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(bits_of(out[i]) == bits_of(v[i]), "entry %zu", i);
	len = b.len;
	free(out);
	vg_buf_release(&b);
	return len;
}

START_TEST(test_col_ts_round_trips)
{
	int64_t ts[1000] = { 0 };

	rt_ts(ts, 0);
	ts[0] = 1764000000000;
	rt_ts(ts, 1);
	for (size_t i = 1; i < 1000; i++)
		ts[i] = ts[i - 1] + 10000;
	rt_ts(ts, 1000);
	for (size_t i = 1; i < 1000; i++)
		ts[i] = ts[i - 1] + (i % 100 == 0 ? 86400000 : 9995 + (int64_t)(next_rand() % 11));
	rt_ts(ts, 1000);
	int64_t ext[4] = { INT64_MIN, -1, 0, INT64_MAX };
	rt_ts(ext, 4);
	int64_t desc[3] = { 3, 2, 1 }, dup[3] = { 1, 1, 2 };
	struct vg_buf b = VG_BUF_INIT;
	ck_assert_int_eq(vg_col_encode_ts(desc, 3, &b), VG_EINVAL);
	ck_assert_int_eq(vg_col_encode_ts(dup, 3, &b), VG_EINVAL);
	ck_assert_uint_eq(b.len, 0);
	/* an integer column that falls is damage when read as timestamps */
	int64_t out[3];
	struct vg_err err;
	ck_assert_int_eq(vg_col_encode_i64(desc, 3, &b), 0);
	ck_assert_int_eq(vg_col_decode_ts(b.data, b.len, out, 3, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "not after"));
	vg_buf_release(&b);
}
END_TEST

START_TEST(test_col_int_round_trips)
{
	int64_t x[700] = { 0 };

	rt_i64(x, 0);
	int64_t ext[8] = { INT64_MIN, INT64_MAX, 0, -1, INT64_MIN, INT64_MAX, 1, INT64_MAX };
	rt_i64(ext, 8);
	for (size_t i = 0; i < 700; i++)
		x[i] = (int64_t)next_rand();
	rt_i64(x, 700);
	for (size_t i = 0; i < 700; i++)
		x[i] = 6; /* a count column */
	rt_i64(x, 700);
	for (size_t i = 0; i < 700; i++)
		x[i] = i % 200 == 0 ? 0 : x[i - 1] + (int64_t)(next_rand() % 1000);
	rt_i64(x, 700);
	/* a constant column costs a few bytes per block of 128 */
	struct vg_buf b = VG_BUF_INIT;
	for (size_t i = 0; i < 700; i++)
		x[i] = 6;
	ck_assert_int_eq(vg_col_encode_i64(x, 700, &b), 0);
	ck_assert_uint_lt(b.len, 30);
	vg_buf_release(&b);
}
END_TEST

START_TEST(test_col_f64_round_trips)
{
	double v[720] = { 0 };
	struct vg_buf b = VG_BUF_INIT;

	rt_f64(v, 0);
	for (size_t i = 0; i < N_SPECIAL * 3; i++)
		v[i] = special(i % N_SPECIAL);
	rt_f64(v, N_SPECIAL * 3);
	for (size_t i = 0; i < N_SPECIAL; i++) {
		double one[2] = { special(i), special(i) };
		rt_f64(one, 1);
		rt_f64(one, 2);
	}
	/* constant: tag and 8 bytes */
	for (size_t i = 0; i < 720; i++)
		v[i] = 211221.16;
	ck_assert_uint_eq(rt_f64(v, 720), 1 + 2 + 8);
	/* decimals with noise of 200 steps: about a byte a value, not 8 */
	int64_t cents = 21122116;
	for (size_t i = 0; i < 720; i++) {
		cents += (int64_t)(next_rand() % 200) - 100;
		v[i] = (double)cents / 100;
	}
	ck_assert_uint_lt(rt_f64(v, 720), 800);
	ck_assert_int_eq(vg_col_encode_f64(v, 720, &b), 0);
	ck_assert_int_eq(b.data[0], 0x31); /* delta, one long block */
	vg_buf_release(&b);
	/* counters with resets, integers beyond 2^53 */
	for (size_t i = 0; i < 720; i++)
		v[i] = i % 100 == 0 ? 0 : v[i - 1] + 4096.0 * (double)(next_rand() % 50);
	rt_f64(v, 720);
	for (size_t i = 0; i < 720; i++)
		v[i] = 9007199254740992.0 * 8 + 16.0 * (double)i;
	rt_f64(v, 720);
	/* values that fit no scale together: 0.1+0.2 needs 17 digits */
	for (size_t i = 0; i < 720; i++)
		v[i] = i % 2 ? 0.1 + 0.2 : 1e-300;
	rt_f64(v, 720);
}
END_TEST

/* Every prefix of a column fails cleanly; random damage never crashes.
 * kind: 0 ts, 1 i64, 2 f64, 3 f64 against the reference hostile_ref. */
static void hostile_col(const uint8_t *p, size_t len, size_t n, int kind, const double *hostile_ref)
{
	void *out = malloc((n ? n : 1) * 8);

	for (size_t l = 0; l < len; l++) {
		uint8_t *cut = malloc(l ? l : 1);
		struct vg_err err;
		long rc;
		memcpy(cut, p, l);
		rc = kind == 0 ? vg_col_decode_ts(cut, l, out, n, &err)
		   : kind == 1 ? vg_col_decode_i64(cut, l, out, n, &err)
		   : kind == 2 ? vg_col_decode_f64(cut, l, out, n, &err)
			       : vg_col_decode_f64_ref(cut, l, hostile_ref, out, n, &err);
		ck_assert_msg(rc < 0, "prefix %zu of %zu decoded", l, len);
		ck_assert_str_ne(err.msg, "");
		free(cut);
	}
	uint8_t *g = malloc(len);
	for (int round = 0; round < 1000; round++) {
		memcpy(g, p, len);
		g[next_rand() % len] ^= (uint8_t)(1u << (next_rand() % 8));
		long rc = kind == 0 ? vg_col_decode_ts(g, len, out, n, NULL)
			: kind == 1 ? vg_col_decode_i64(g, len, out, n, NULL)
			: kind == 2 ? vg_col_decode_f64(g, len, out, n, NULL)
				    : vg_col_decode_f64_ref(g, len, hostile_ref, out, n, NULL);
		ck_assert(rc < 0 || (size_t)rc <= len);
	}
	free(g);
	free(out);
}

START_TEST(test_col_truncated_and_garbled)
{
	int64_t ts[300];
	double v[300];
	struct vg_buf b = VG_BUF_INIT;

	for (size_t i = 0; i < 300; i++) {
		ts[i] = 1764000000000 + (int64_t)i * 10000 + (int64_t)(next_rand() % 5);
		v[i] = i % 3 ? (double)(next_rand() % 100000) / 100 : special(i % N_SPECIAL);
	}
	ck_assert_int_eq(vg_col_encode_ts(ts, 300, &b), 0);
	hostile_col(b.data, b.len, 300, 0, NULL);
	vg_buf_reset(&b);
	ck_assert_int_eq(vg_col_encode_i64(ts, 300, &b), 0);
	hostile_col(b.data, b.len, 300, 1, NULL);
	vg_buf_reset(&b);
	ck_assert_int_eq(vg_col_encode_f64(v, 300, &b), 0);
	ck_assert_int_eq(b.data[0], 0x13); /* NaNs among them: XOR */
	hostile_col(b.data, b.len, 300, 2, NULL);
	vg_buf_reset(&b);
	for (size_t i = 0; i < 300; i++)
		v[i] = (double)(next_rand() % 100000) / 100;
	ck_assert_int_eq(vg_col_encode_f64(v, 300, &b), 0);
	hostile_col(b.data, b.len, 300, 2, NULL);
	vg_buf_reset(&b);

	/* hostile headers: unknown tags, huge counts, absurd blocks */
	static const uint8_t bad[][12] = {
		{ 0x7f, 1, 0 },
		{ 0x02, 0xff, 0xff, 0xff, 0xff, 0x0f },
		{ 0x01, 2, 0, 0, 64 },             /* gcd 0 */
		{ 0x01, 2, 0, 1, 65 },             /* width 65 */
		{ 0x01, 2, 0, 1, 64, 1, 2, 3 },    /* 16 bytes promised, 3 there */
		{ 0x11, 2, 19, 0, 0, 1, 0 },       /* scale 19 */
		{ 0x13, 2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 },
		{ 0x13, 2, 1, 0x80 },              /* '10' before any window */
	};
	double out[2];
	int64_t iout[2];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vg_err err;
		ck_assert_int_lt(vg_col_decode_f64(bad[i], sizeof(bad[i]), out, 2, &err), 0);
		ck_assert_int_lt(vg_col_decode_i64(bad[i], sizeof(bad[i]), iout, 2, &err), 0);
	}
	size_t cnt;
	ck_assert_int_eq(vg_col_count(bad[1], sizeof(bad[1]), &cnt, NULL), VG_EINVAL);
	ck_assert_int_eq(vg_col_count(bad[0], 1, &cnt, NULL), VG_EINVAL);
	vg_buf_release(&b);
}
END_TEST

/* Values summed in binary floating point drift a few units in the last
 * place off their decimal (1234.5600000000002): the ULP mode keeps them
 * compact and exact. */
/* The tag an encoder chose for x[0..n), after a round trip. */
static unsigned rt_i64_tag(const int64_t *x, size_t n)
{
	struct vg_buf b = VG_BUF_INIT;
	unsigned tag;

	rt_i64(x, n);
	ck_assert_int_eq(vg_col_encode_i64(x, n, &b), 0);
	tag = b.data[0];
	vg_buf_release(&b);
	return tag;
}

static unsigned rt_f64_tag(const double *v, size_t n)
{
	struct vg_buf b = VG_BUF_INIT;
	unsigned tag;

	rt_f64(v, n);
	ck_assert_int_eq(vg_col_encode_f64(v, n, &b), 0);
	tag = b.data[0];
	vg_buf_release(&b);
	return tag;
}

/* Regular columns (tag 0x04): entries that step evenly are x0 and the
 * step; written whenever they apply, read back, damage refused. */
START_TEST(test_col_regular)
{
	static const uint8_t regular[] = { 0x04, 0xd0, 0x05, 0x80, 0xa0, 0xbf, 0xe9, 0xd6, 0x66,
					   0xa0, 0x9c, 0x01 };
	int64_t x[720], out[720];
	struct vg_buf b = VG_BUF_INIT;
	struct vg_err err;

	/* 720 timestamps at 10 s: storage-format.md's example, 12 bytes */
	for (size_t i = 0; i < 720; i++)
		x[i] = 1764000000000 + (int64_t)i * 10000;
	rt_ts(x, 720);
	ck_assert_int_eq(vg_col_encode_ts(x, 720, &b), 0);
	ck_assert_uint_eq(b.len, sizeof(regular));
	ck_assert_mem_eq(b.data, regular, sizeof(regular));
	rt_ts(x, 2);
	vg_buf_reset(&b);
	ck_assert_int_eq(vg_col_encode_ts(x, 1, &b), 0);
	ck_assert_uint_ne(b.data[0], 0x04); /* one entry has no step */
	/* one timestamp off the grid: blocks again */
	x[400] += 1;
	rt_ts(x, 720);
	vg_buf_reset(&b);
	ck_assert_int_eq(vg_col_encode_ts(x, 720, &b), 0);
	ck_assert_uint_ne(b.data[0], 0x04);

	/* integers: constant, falling, and wrapping past the end of int64 */
	for (size_t i = 0; i < 100; i++)
		x[i] = 42;
	rt_i64(x, 100);
	for (size_t i = 0; i < 100; i++)
		x[i] = 1000 - 3 * (int64_t)i;
	rt_i64(x, 100);
	x[0] = INT64_MAX - 1;
	x[1] = INT64_MAX;
	x[2] = INT64_MIN;
	x[3] = INT64_MIN + 1;
	rt_i64(x, 4);
	vg_buf_reset(&b);
	ck_assert_int_eq(vg_col_encode_i64(x, 4, &b), 0);
	ck_assert_uint_eq(b.data[0], 0x04);

	/* damage: a timestamp step of 0 or below, truncation, another count,
	 * the unknown long twin 0x24 */
	ck_assert_int_lt(vg_col_decode_ts((const uint8_t *)"\x04\x03\x0a\x00", 4, out, 3, &err), 0);
	ck_assert_int_lt(vg_col_decode_ts((const uint8_t *)"\x04\x03\x0a\x01", 4, out, 3, &err), 0);
	ck_assert_int_eq(vg_col_decode_ts((const uint8_t *)"\x04\x03\x0a\x02", 4, out, 3, &err), 4);
	ck_assert_int_eq(out[2], 7);
	for (size_t len = 1; len < sizeof(regular); len++)
		ck_assert_int_lt(vg_col_decode_ts(regular, len, out, 720, &err), 0);
	ck_assert_int_lt(vg_col_decode_ts(regular, sizeof(regular), out, 719, &err), 0);
	ck_assert_int_lt(vg_col_decode_i64((const uint8_t *)"\x24\x03\x0a\x02", 4, out, 3, &err), 0);
	vg_buf_release(&b);
}
END_TEST

/* Long PACK blocks (tags 0x21-0x23, 0x31, 0x32, 0x34): chosen only when
 * strictly smaller, every width and block boundary decoded back, the old
 * short tags still read, damage refused. */
START_TEST(test_col_long_blocks)
{
	static const uint8_t regular[] = { 0x22, 0xd0, 0x05, 0x80, 0xa0, 0xbf, 0xe9, 0xd6, 0x66,
					   0xa0, 0x9c, 0x01, 0x01, 0x00 };
	static const size_t counts[] = { 1, 2, 7, 8, 9, 127, 128, 129, 720, 1023, 1024, 1025, 2500 };
	int64_t *x = malloc(2500 * sizeof(*x)), *out = malloc(2500 * sizeof(*out));
	double *v = malloc(2500 * sizeof(*v));
	struct vg_buf b = VG_BUF_INIT;
	struct vg_err err;

	/* 720 timestamps at 10 s, as written before regular columns (tag
	 * 0x04, test_col_regular): the bytes of storage-format.md's example,
	 * which still read */
	for (size_t i = 0; i < 720; i++)
		x[i] = 1764000000000 + (int64_t)i * 10000;
	rt_ts(x, 720);
	ck_assert_int_eq(vg_col_decode_ts(regular, sizeof(regular), out, 720, &err), (long)sizeof(regular));
	for (size_t i = 0; i < 720; i++)
		ck_assert_int_eq(out[i], x[i]);
	/* the same column as written before long blocks (tag 0x03: zz(x0),
	 * zz(10000), six blocks of base 0, gcd 1, width 0) still reads */
	vg_buf_reset(&b);
	vg_buf_append(&b, "\x03", 1);
	vg_buf_append(&b, regular + 1, 11);
	for (int i = 0; i < 6; i++)
		vg_buf_append(&b, "\x00\x01\x00", 3);
	ck_assert_int_eq(vg_col_decode_ts(b.data, b.len, out, 720, &err), (long)b.len);
	for (size_t i = 0; i < 720; i++)
		ck_assert_int_eq(out[i], x[i]);
	vg_buf_reset(&b);

	/* every width, at counts around the block sizes: plain entries of
	 * exactly w bits (one at the top of the range) */
	for (unsigned w = 1; w <= 64; w++) {
		for (size_t c = 0; c < sizeof(counts) / sizeof(*counts); c++) {
			size_t n = counts[c];
			uint64_t mask = w == 64 ? ~0ULL : (1ULL << w) - 1;
			for (size_t i = 0; i < n; i++)
				x[i] = (int64_t)(next_rand() & mask);
			x[n / 2] = (int64_t)mask;
			rt_i64(x, n);
			if (w > 48)
				continue;
			for (size_t i = 1; i < n; i++) /* and as rising timestamps */
				x[i] = x[i - 1] + 1 + (int64_t)(next_rand() & (mask >> 1));
			rt_ts(x, n);
		}
	}
	/* random small integers: plain, one long block */
	for (size_t i = 0; i < 720; i++)
		x[i] = (int64_t)(next_rand() % 1000);
	ck_assert_uint_eq(rt_i64_tag(x, 720), 0x21);
	/* random steps: delta, long */
	for (size_t i = 1; i < 720; i++)
		x[i] = x[i - 1] + (int64_t)(next_rand() % 1000);
	ck_assert_uint_eq(rt_i64_tag(x, 720), 0x22);
	/* one outlier would widen every entry of a long block: short kept */
	for (size_t i = 0; i < 720; i++)
		x[i] = (int64_t)(next_rand() % 4);
	x[700] = INT64_MAX;
	ck_assert_uint_eq(rt_i64_tag(x, 720), 0x01);
	/* extremes wrap */
	for (size_t i = 0; i < 2500; i++)
		x[i] = i % 2 ? INT64_MIN + (int64_t)(next_rand() % 3) : INT64_MAX - (int64_t)(next_rand() % 3);
	rt_i64(x, 2500);

	/* values: a straight line (dod), tiny and huge decimals, long
	 * decimals, counters with resets; specials stay XOR */
	int64_t cents = 123456, rate = 2500;
	for (size_t i = 0; i < 720; i++) /* a rate that drifts: dod */
		v[i] = (double)(cents += rate += (int64_t)(next_rand() % 3) - 1) / 100;
	ck_assert_uint_eq(rt_f64_tag(v, 720), 0x32);
	for (size_t i = 0; i < 720; i++)
		v[i] = (double)(int64_t)(1000 + next_rand() % 100000) / 1e18;
	ck_assert_int_eq(vg_dec_scale(v, 720), 18);
	ck_assert_uint_eq(rt_f64_tag(v, 720) & 0x20, 0x20);
	for (size_t i = 0; i < 720; i++)
		v[i] = 4096.0 * (double)(int64_t)(200000000000000ULL + next_rand() % 1000);
	ck_assert_uint_eq(rt_f64_tag(v, 720) & 0x20, 0x20);
	for (size_t i = 0; i < 720; i++)
		v[i] = 1234.567890123 + (double)(int64_t)(next_rand() % 1000) * 1e-9;
	rt_f64(v, 720);
	for (size_t i = 0; i < 2500; i++)
		v[i] = i % 300 == 0 ? 0 : v[i - 1] + (double)(next_rand() % 500) / 100;
	rt_f64(v, 2500);
	for (size_t i = 0; i < 720; i++)
		v[i] = (double)(next_rand() % 5000) / 100;
	ck_assert_uint_eq(rt_f64_tag(v, 720), 0x31);
	v[100] = NAN;
	v[200] = -0.0;
	v[300] = INFINITY;
	v[400] = -INFINITY;
	ck_assert_uint_eq(rt_f64_tag(v, 720), 0x13);

	/* truncated and garbled long columns */
	for (size_t i = 0; i < 720; i++)
		x[i] = 1764000000000 + (int64_t)i * 10000 + (int64_t)(next_rand() % 7);
	ck_assert_int_eq(vg_col_encode_ts(x, 720, &b), 0);
	ck_assert_uint_eq(b.data[0] & 0x20, 0x20);
	hostile_col(b.data, b.len, 720, 0, NULL);
	vg_buf_reset(&b);
	for (size_t i = 0; i < 720; i++)
		v[i] = (double)(next_rand() % 5000) / 100;
	ck_assert_int_eq(vg_col_encode_f64(v, 720, &b), 0);
	ck_assert_uint_eq(b.data[0], 0x31);
	hostile_col(b.data, b.len, 720, 2, NULL);
	vg_buf_reset(&b);
	static const uint8_t bad[][12] = {
		{ 0x21, 2, 0, 0, 1 },              /* gcd 0 */
		{ 0x21, 2, 0, 1, 65 },             /* width 65 */
		{ 0x22, 3, 0, 0, 1, 64, 1, 2, 3 }, /* 16 bytes promised, 3 there */
		{ 0x23, 3, 0, 0, 0, 1, 70 },       /* width 70 */
		{ 0x31, 2, 19, 0, 0, 1, 0 },       /* scale 19 */
		{ 0x34, 2, 2, 0, 0, 1, 0 },        /* the second body missing */
		{ 0x24, 1, 0 },                    /* unknown tags */
		{ 0x33, 1, 0, 0 },
		{ 0x20, 1, 0, 0 },
	};
	double dout[3];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_lt(vg_col_decode_f64(bad[i], sizeof(bad[i]), dout, bad[i][1], &err), 0);
		ck_assert_str_ne(err.msg, "");
		ck_assert_int_lt(vg_col_decode_i64(bad[i], sizeof(bad[i]), out, bad[i][1], &err), 0);
		ck_assert_str_ne(err.msg, "");
	}
	ck_assert_int_eq(vg_col_decode_i64(bad[6], sizeof(bad[6]), out, 1, NULL), VG_EVERSION);
	ck_assert_int_eq(vg_col_decode_f64(bad[7], sizeof(bad[7]), dout, 1, NULL), VG_EVERSION);

	/* merged chunks in columns carry the long tags: every decode path */
	for (size_t i = 0; i < 720; i++) {
		x[i] = 1764000000000 + (int64_t)i * 10000;
		v[i] = (double)(cents += (int64_t)(next_rand() % 100)) / 100;
	}
	ck_assert_int_eq(vg_chunk_encode_cols(x, v, 720, &b), 0);
	ck_assert_uint_eq(b.data[5], 0x04); /* a regular timestamp column */
	check_chunk(b.data, b.len, x, v, 720);
	/* timestamps a few ms off the grid: a long delta column */
	for (size_t i = 0; i < 720; i++)
		x[i] = 1764000000000 + (int64_t)i * 10000 + (int64_t)(next_rand() % 4);
	vg_buf_reset(&b);
	ck_assert_int_eq(vg_chunk_encode_cols(x, v, 720, &b), 0);
	ck_assert(b.data[5] == 0x22 || b.data[5] == 0x23);
	check_chunk(b.data, b.len, x, v, 720);
	vg_buf_release(&b);
	free(x);
	free(out);
	free(v);
}
END_TEST

START_TEST(test_float_drift_ulp_mode)
{
	int64_t ts[VG_CHUNK_MAX_SAMPLES];
	double v[VG_CHUNK_MAX_SAMPLES], x = 5000.12;
	struct vg_chunk_enc e;
	struct vg_buf b = VG_BUF_INIT;
	const uint8_t *p;
	size_t len;
	int scale;

	for (size_t i = 0; i < VG_CHUNK_MAX_SAMPLES; i++) {
		x += (double)(next_rand() % 100) / 100;
		ts[i] = (int64_t)i * 10000;
		v[i] = x;
	}
	ck_assert_int_gt(vg_dec_scale(v, VG_CHUNK_MAX_SAMPLES), 2); /* no exact short form */
	round_trip_head(ts, v, VG_CHUNK_MAX_SAMPLES);
	vg_chunk_enc_init(&e);
	for (size_t i = 0; i < VG_CHUNK_MAX_SAMPLES; i++)
		ck_assert_int_eq(vg_chunk_enc_append(&e, ts[i], v[i]), 0);
	ck_assert_int_eq(vg_chunk_enc_mode(&e, &scale), VG_CHUNK_DEC_ULP);
	ck_assert_int_eq(scale, 2);
	ck_assert_int_eq(vg_chunk_enc_finish(&e), 0);
	p = vg_chunk_enc_bytes(&e, &len);
	check_chunk(p, len, ts, v, VG_CHUNK_MAX_SAMPLES);
	ck_assert_uint_lt(len, 3 * VG_CHUNK_MAX_SAMPLES); /* XOR takes about 6 a sample */
	vg_chunk_enc_release(&e);
	ck_assert_uint_lt(rt_f64(v, VG_CHUNK_MAX_SAMPLES), 3 * VG_CHUNK_MAX_SAMPLES);
	ck_assert_int_eq(vg_col_encode_f64(v, VG_CHUNK_MAX_SAMPLES, &b), 0);
	ck_assert_int_eq(b.data[0], 0x34); /* ULP, long blocks */
	vg_buf_release(&b);
	/* a chunk that starts exact and then drifts re-encodes itself */
	double w[4] = { 0.1, 0.2, 0.1 + 0.2, 0.1 + 0.2 + 0.3 };
	int64_t t4[4] = { 1, 2, 3, 4 };
	round_trip_head(t4, w, 4);
	ck_assert_uint_gt(rt_f64(w, 4), 0);
}
END_TEST

START_TEST(test_col_f64_against_reference)
{
	double last[300], max[300], sum[300], out[300], odd[300];
	struct vg_buf b = VG_BUF_INIT;
	struct vg_err err;
	int64_t c = 100000;
	size_t plain;

	for (size_t i = 0; i < 300; i++) {
		c += (int64_t)(next_rand() % 1000);
		last[i] = max[i] = (double)c / 100;
		sum[i] = (double)(6 * c - (int64_t)(next_rand() % 3000)) / 100;
		odd[i] = special(i % N_SPECIAL);
	}
	/* equal to the reference: tag and count */
	ck_assert_int_eq(vg_col_encode_f64_ref(max, last, 300, &b), 0);
	ck_assert_uint_eq(b.len, 3);
	ck_assert_int_eq(vg_col_decode_f64_ref(b.data, b.len, last, out, 300, &err), 3);
	ck_assert_mem_eq(out, max, sizeof(out));
	ck_assert_int_lt(vg_col_decode_f64(b.data, b.len, out, 300, &err), 0); /* needs its reference */
	ck_assert_ptr_nonnull(strstr(err.msg, "reference"));
	/* close to 6 x last: the difference is smaller than the plain column */
	double six[300];
	for (size_t i = 0; i < 300; i++)
		six[i] = vg_dec_double(6 * (int64_t)llround(last[i] * 100), 2);
	vg_buf_reset(&b);
	ck_assert_int_eq(vg_col_encode_f64(sum, 300, &b), 0);
	plain = b.len;
	vg_buf_reset(&b);
	ck_assert_int_eq(vg_col_encode_f64_ref(sum, six, 300, &b), 0);
	ck_assert_uint_lt(b.len, plain);
	ck_assert_int_eq(vg_col_decode_f64_ref(b.data, b.len, six, out, 300, NULL), (long)b.len);
	for (size_t i = 0; i < 300; i++)
		ck_assert(bits_of(out[i]) == bits_of(sum[i]));
	/* the wrong reference is found out, not silently decoded */
	ck_assert_int_lt(vg_col_decode_f64_ref(b.data, b.len, odd, out, 300, &err), 0);
	hostile_col(b.data, b.len, 300, 3, six);
	/* no decimal form: the plain encoding, which the ref decoder reads too */
	vg_buf_reset(&b);
	ck_assert_int_eq(vg_col_encode_f64_ref(odd, last, 300, &b), 0);
	ck_assert_int_eq(vg_col_decode_f64_ref(b.data, b.len, last, out, 300, NULL), (long)b.len);
	for (size_t i = 0; i < 300; i++)
		ck_assert(bits_of(out[i]) == bits_of(odd[i]));
	vg_buf_release(&b);
}
END_TEST

START_TEST(test_dec_helpers)
{
	double v[3] = { 0.1, 0.2, 211221.16 };
	int64_t m, sum = 0;
	int k = vg_dec_scale(v, 3);

	ck_assert_int_eq(k, 2);
	for (int i = 0; i < 3; i++) {
		ck_assert(vg_dec_int(v[i], k, &m));
		sum += m;
	}
	ck_assert(vg_dec_double(sum, k) == 211221.46); /* 0.1 + 0.2 + 211221.16 in decimal */
	ck_assert(!vg_dec_int(0.1 + 0.2, 2, &m));
	ck_assert(!vg_dec_int(-0.0, 0, &m));
	ck_assert(!vg_dec_int(NAN, 0, &m));
	ck_assert(!vg_dec_int(1.0, 19, &m));
	double bad[2] = { 1, INFINITY };
	ck_assert_int_eq(vg_dec_scale(bad, 2), -1);
}
END_TEST

static Suite *chunk_suite(void)
{
	Suite *s = suite_create("chunk");
	TCase *tc = tcase_create("head");

	tcase_add_test(tc, test_head_decimal_regular);
	tcase_add_test(tc, test_head_special_values_xor);
	tcase_add_test(tc, test_head_scale_grows);
	tcase_add_test(tc, test_head_timestamps_irregular_and_extremes);
	tcase_add_test(tc, test_head_refusals_leave_chunk_unchanged);
	tcase_add_test(tc, test_head_counters_with_resets_finish_picks_smallest);
	tcase_add_test(tc, test_head_finished_in_columns);
	tcase_add_test(tc, test_head_constant_and_struct_size);
	tcase_add_test(tc, test_head_seek);
	tcase_add_test(tc, test_head_truncated_and_garbled);
	tcase_add_test(tc, test_head_steady_runs);
	tcase_add_test(tc, test_col_regular_step_wraps);
	suite_add_tcase(s, tc);
	tc = tcase_create("columns");
	tcase_add_test(tc, test_col_ts_round_trips);
	tcase_add_test(tc, test_col_int_round_trips);
	tcase_add_test(tc, test_col_f64_round_trips);
	tcase_add_test(tc, test_col_truncated_and_garbled);
	tcase_add_test(tc, test_col_long_blocks);
	tcase_add_test(tc, test_col_regular);
	tcase_add_test(tc, test_float_drift_ulp_mode);
	tcase_add_test(tc, test_col_f64_against_reference);
	tcase_add_test(tc, test_dec_helpers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(chunk_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
