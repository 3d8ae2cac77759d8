/*
 * test_head.c: the head (receiver/storage/head.c) and selector evaluation over it
 * (receiver/query/query.c): series ids, hash collisions, WAL restore, sample
 * order, postings selection, label listings, lookback edges, range steps and
 * errors, result order, series listing, and a 100k-series head.
 */
#include "receiver/storage/head.h"
#include "receiver/storage/chunk.h"
#include "receiver/query/query.h"
#include "receiver/storage/storage.h"
#include "receiver/storage/symtab.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/selector.h"
#include "promql/parse.h"
#include "common/series.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

/* Builds the canonical series name{k=v,...} (pairs end with NULL). */
/* The queries read through storage.h: a storage of the head alone. */
static struct vg_storage *storage_of(struct vg_head *h)
{
	struct vg_storage_options o = { NULL, h };
	struct vg_storage *st;

	ck_assert_int_eq(vg_storage_open(&o, &st, NULL), 0);
	return st;
}

static int q_instant(struct vg_head *h, const struct vg_selector *sel, int64_t t, int64_t lb,
		     struct vg_query_result *r, struct vg_err *err)
{
	struct vg_storage *st = storage_of(h);
	int rc = vg_query_instant(st, sel, t, lb, r, err);
	vg_storage_close(st);
	return rc;
}

static int q_range(struct vg_head *h, const struct vg_selector *sel, int64_t a, int64_t b,
		   int64_t step, int64_t lb, struct vg_query_result *r, struct vg_err *err)
{
	struct vg_storage *st = storage_of(h);
	int rc = vg_query_range(st, sel, a, b, step, lb, r, err);
	vg_storage_close(st);
	return rc;
}

static int q_series(struct vg_head *h, struct vg_selector *const *sels, size_t n, int64_t a,
		    int64_t b, struct vg_query_result *r, struct vg_err *err)
{
	struct vg_storage *st = storage_of(h);
	int rc = vg_query_series(st, sels, n, a, b, r, err);
	vg_storage_close(st);
	return rc;
}

static void make_series(struct vg_series *s, const char *name, va_list ap)
{
	const char *k;

	vg_series_init(s, name);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);
		ck_assert_int_eq(vg_series_add(s, k, v), 0);
	}
	ck_assert_int_eq(vg_series_canonicalize(s, NULL), 0);
}

static uint32_t add(struct vg_head *h, const char *name, ...)
{
	struct vg_series s;
	uint32_t id;
	bool is_new;
	va_list ap;

	va_start(ap, name);
	make_series(&s, name, ap);
	va_end(ap);
	ck_assert_int_eq(vg_head_get_or_create(h, &s, vg_series_hash(&s), &id, &is_new), 0);
	return id;
}

static void append1(struct vg_head *h, uint32_t id, int64_t ts, double v)
{
	ck_assert_int_eq(vg_head_append(h, 1, &id, &ts, &v), 0);
}

static size_t select_n(struct vg_head *h, const char *q, uint32_t **ids_out)
{
	struct vg_selector sel;
	struct vg_err err;
	uint32_t *ids;
	size_t n;

	ck_assert_msg(vg_promql_parse_selector(q, strlen(q), &sel, NULL, &err) == 0, "%s: %s", q, err.msg);
	vg_head_rdlock(h);
	ck_assert_int_eq(vg_head_select_locked(h, &sel, &ids, &n), 0);
	vg_head_unlock(h);
	vg_selector_release(&sel);
	for (size_t i = 1; i < n; i++)
		ck_assert_uint_lt(ids[i - 1], ids[i]);
	if (ids_out)
		*ids_out = ids;
	else
		free(ids);
	return n;
}

/* The key of series id formatted as name{a="1"}. */
static char *fmt_key(const uint8_t *key, size_t len)
{
	struct vg_series s;
	struct vg_buf b = VG_BUF_INIT;

	ck_assert_int_eq(vg_series_from_key(key, len, &s), 0);
	vg_series_format(&s, &b);
	return vg_buf_detach(&b, NULL);
}

static void check_result_names(const struct vg_query_result *r, const char *const *want, size_t n)
{
	ck_assert_uint_eq(r->n, n);
	for (size_t i = 0; i < n; i++) {
		char *got = fmt_key(r->series[i].key, r->series[i].key_len);
		ck_assert_str_eq(got, want[i]);
		free(got);
	}
}

static void parse_sel(const char *q, struct vg_selector *sel)
{
	struct vg_err err;

	ck_assert_msg(vg_promql_parse_selector(q, strlen(q), sel, NULL, &err) == 0, "%s: %s", q, err.msg);
}

/* --- series ---------------------------------------------------------------- */

START_TEST(test_head_ids_dense_and_stable)
{
	struct vg_head *h = vg_head_new();
	struct vg_series s;
	uint32_t id;
	bool is_new;

	ck_assert_uint_eq(add(h, "up", "job", "a", NULL), 0);
	ck_assert_uint_eq(add(h, "up", "job", "b", NULL), 1);
	ck_assert_uint_eq(add(h, "down", NULL), 2);
	/* Found again, not created. */
	ck_assert_uint_eq(add(h, "up", "job", "a", NULL), 0);
	ck_assert_uint_eq(add(h, "down", NULL), 2);
	ck_assert_uint_eq(vg_head_num_series(h), 3);

	vg_series_init(&s, "up");
	vg_series_add(&s, "job", "b");
	vg_series_canonicalize(&s, NULL);
	ck_assert_int_eq(vg_head_get_or_create(h, &s, vg_series_hash(&s), &id, &is_new), 0);
	ck_assert_uint_eq(id, 1);
	ck_assert(!is_new);
	vg_series_init(&s, "up");
	vg_series_add(&s, "job", "c");
	vg_series_canonicalize(&s, NULL);
	ck_assert_int_eq(vg_head_get_or_create(h, &s, vg_series_hash(&s), &id, &is_new), 0);
	ck_assert_uint_eq(id, 3);
	ck_assert(is_new);
	vg_head_free(h);
}
END_TEST

START_TEST(test_head_key_is_canonical_form)
{
	struct vg_head *h = vg_head_new();
	uint32_t id = add(h, "m", "b", "2", "a", "1", "c", "", NULL);
	struct vg_buf key = VG_BUF_INIT;
	char *s;

	vg_head_rdlock(h);
	ck_assert_int_eq(vg_head_series_key_locked(h, id, &key), 0);
	ck_assert_uint_eq(key.len, strlen("m\xff" "a\xff" "1\xff" "b\xff" "2\xff"));
	ck_assert(memcmp(key.data, "m\xff" "a\xff" "1\xff" "b\xff" "2\xff", key.len) == 0);
	s = fmt_key(key.data, key.len);
	vg_head_unlock(h);
	ck_assert_str_eq(s, "m{a=\"1\",b=\"2\"}");
	free(s);
	vg_buf_release(&key);
	vg_head_free(h);
}
END_TEST

/* Two different series given the same hash must stay two series. */
START_TEST(test_head_hash_collision_keeps_series_apart)
{
	struct vg_head *h = vg_head_new();
	struct vg_series a, b, c;
	uint32_t ida, idb, idc, again;
	bool is_new;
	const uint64_t same = 0x1234;

	vg_series_init(&a, "x");
	vg_series_add(&a, "k", "1");
	vg_series_canonicalize(&a, NULL);
	vg_series_init(&b, "x");
	vg_series_add(&b, "k", "2");
	vg_series_canonicalize(&b, NULL);
	vg_series_init(&c, "y");
	vg_series_canonicalize(&c, NULL);
	ck_assert_int_eq(vg_head_get_or_create(h, &a, same, &ida, &is_new), 0);
	ck_assert(is_new);
	ck_assert_int_eq(vg_head_get_or_create(h, &b, same, &idb, &is_new), 0);
	ck_assert(is_new);
	ck_assert_int_eq(vg_head_get_or_create(h, &c, same, &idc, &is_new), 0);
	ck_assert(is_new);
	ck_assert_uint_ne(ida, idb);
	ck_assert_uint_ne(idb, idc);
	ck_assert_int_eq(vg_head_get_or_create(h, &b, same, &again, &is_new), 0);
	ck_assert(!is_new);
	ck_assert_uint_eq(again, idb);
	ck_assert_int_eq(vg_head_get_or_create(h, &a, same, &again, &is_new), 0);
	ck_assert_uint_eq(again, ida);
	ck_assert_int_eq(vg_head_get_or_create(h, &c, same, &again, &is_new), 0);
	ck_assert_uint_eq(again, idc);
	ck_assert_uint_eq(select_n(h, "x{k=\"2\"}", NULL), 1);
	vg_head_free(h);
}
END_TEST

START_TEST(test_head_restore_recreates_ids)
{
	struct vg_head *h = vg_head_new();
	static const uint8_t k0[] = "up\xff" "job\xff" "a\xff";
	static const uint8_t k1[] = "up\xff" "job\xff" "b\xff";
	static const uint8_t unsorted[] = "up\xff" "z\xff" "1\xff" "a\xff" "2\xff";
	static const uint8_t empty_value[] = "up\xff" "a\xff" "\xff";
	static const uint8_t reserved[] = "up\xff" "__x\xff" "1\xff";
	static const uint8_t bad_name[] = "1up\xff";
	static const uint8_t truncated[] = "up\xff" "job\xff" "a";

	ck_assert_int_eq(vg_head_restore(h, 0, k0, sizeof(k0) - 1), 0);
	ck_assert_int_eq(vg_head_restore(h, 0, k0, sizeof(k0) - 1), 0);         /* the same record again */
	ck_assert_int_eq(vg_head_restore(h, 0, k1, sizeof(k1) - 1), VG_EINVAL); /* another key, same id */
	ck_assert_int_eq(vg_head_restore(h, 1, k0, sizeof(k0) - 1), VG_EINVAL); /* same key, another id */
	ck_assert_int_eq(vg_head_restore(h, 1, unsorted, sizeof(unsorted) - 1), VG_EINVAL);
	ck_assert_int_eq(vg_head_restore(h, 1, empty_value, sizeof(empty_value) - 1), VG_EINVAL);
	ck_assert_int_eq(vg_head_restore(h, 1, reserved, sizeof(reserved) - 1), VG_EINVAL);
	ck_assert_int_eq(vg_head_restore(h, 1, bad_name, sizeof(bad_name) - 1), VG_EINVAL);
	ck_assert_int_eq(vg_head_restore(h, 1, truncated, sizeof(truncated) - 1), VG_EINVAL);
	ck_assert_int_eq(vg_head_restore(h, 1, (const uint8_t *)"", 0), VG_EINVAL);
	ck_assert_int_eq(vg_head_restore(h, 1, k1, sizeof(k1) - 1), 0);
	ck_assert_uint_eq(vg_head_num_series(h), 2);
	/* The restored series are found by the ingest path and the index. */
	ck_assert_uint_eq(add(h, "up", "job", "b", NULL), 1);
	ck_assert_uint_eq(add(h, "up", "job", "a", NULL), 0);
	ck_assert_uint_eq(add(h, "up", "job", "c", NULL), 2);
	ck_assert_uint_eq(select_n(h, "up{job=\"b\"}", NULL), 1);
	ck_assert_uint_eq(select_n(h, "up", NULL), 3);
	vg_head_free(h);
}
END_TEST

/* A WAL that lost records to damage skips ids: the gap becomes absent
 * slots that nothing selects and nothing can append to. */
START_TEST(test_head_restore_with_gap_leaves_absent_ids)
{
	struct vg_head *h = vg_head_new();
	static const uint8_t k0[] = "up\xff" "job\xff" "a\xff";
	static const uint8_t k3[] = "up\xff" "job\xff" "d\xff";
	uint32_t ids[2] = { 1, 3 };
	int64_t ts[2] = { 1000, 1000 };
	double v[2] = { 1, 2 };

	ck_assert_int_eq(vg_head_restore(h, 0, k0, sizeof(k0) - 1), 0);
	ck_assert_int_eq(vg_head_restore(h, 3, k3, sizeof(k3) - 1), 0);
	ck_assert_uint_eq(vg_head_num_series(h), 2);
	ck_assert_uint_eq(vg_head_next_id(h), 4);
	ck_assert_uint_eq(select_n(h, "up", NULL), 2);
	ck_assert_uint_eq(select_n(h, "{job=~\".*\",__name__=~\".+\"}", NULL), 2);
	/* An absent id in a batch refuses the whole batch. */
	ck_assert_int_eq(vg_head_append(h, 2, ids, ts, v), VG_EINVAL);
	ck_assert_uint_eq(vg_head_num_samples(h), 0);
	ck_assert_int_eq(vg_head_append(h, 1, &ids[1], ts, v), 0);
	/* New series continue after the highest id. */
	ck_assert_uint_eq(add(h, "up", "job", "e", NULL), 4);
	vg_head_free(h);
}
END_TEST

/* --- samples ---------------------------------------------------------------- */

/* Reads every sample of id. */
static void read_all(struct vg_head *h, uint32_t id, struct vg_samples *out)
{
	vg_head_rdlock(h);
	ck_assert_int_eq(vg_head_read_locked(h, id, INT64_MIN, INT64_MAX, out), 0);
	vg_head_unlock(h);
}

START_TEST(test_head_out_of_order_merged_and_same_timestamp_stored_once)
{
	struct vg_head *h = vg_head_new();
	uint32_t id = add(h, "m", NULL);
	struct vg_samples smp = { 0 };

	append1(h, id, 10, 1.0);
	append1(h, id, 30, 3.0);
	append1(h, id, 20, 2.0);
	append1(h, id, 5, 0.5);
	ck_assert_uint_eq(vg_head_num_samples(h), 4);
	append1(h, id, 30, 33.0); /* the newest again: stored once */
	append1(h, id, 20, 22.0); /* a late one again: merged away on read */
	append1(h, id, 10, 11.0); /* a late copy of an in-order sample */
	read_all(h, id, &smp);
	ck_assert_uint_eq(smp.n, 4);
	ck_assert_int_eq(smp.ts_ms[0], 5);
	ck_assert_int_eq(smp.ts_ms[1], 10);
	ck_assert_int_eq(smp.ts_ms[2], 20);
	ck_assert_int_eq(smp.ts_ms[3], 30);
	ck_assert(smp.values[0] == 0.5 && smp.values[1] == 1.0 && smp.values[3] == 3.0);
	ck_assert(smp.values[2] == 2.0 || smp.values[2] == 22.0);
	vg_samples_release(&smp);
	vg_head_free(h);
}
END_TEST

START_TEST(test_head_growth_keeps_samples_in_order)
{
	struct vg_head *h = vg_head_new();
	uint32_t a = add(h, "a", NULL), b = add(h, "b", NULL);
	struct vg_samples smp = { 0 };

	/* a in order over many chunks; b entirely in descending order, so
	 * all but its first sample are late. */
	for (int64_t i = 0; i < 5000; i++) {
		append1(h, a, i * 10, (double)i);
		append1(h, b, (5000 - i) * 10, (double)(5000 - i));
	}
	read_all(h, a, &smp);
	ck_assert_uint_eq(smp.n, 5000);
	for (size_t i = 0; i < smp.n; i++)
		ck_assert(smp.ts_ms[i] == (int64_t)i * 10 && smp.values[i] == (double)i);
	read_all(h, b, &smp);
	ck_assert_uint_eq(smp.n, 5000);
	for (size_t i = 0; i < smp.n; i++)
		ck_assert(smp.ts_ms[i] == (int64_t)(i + 1) * 10 && smp.values[i] == (double)(i + 1));
	ck_assert_uint_eq(vg_head_num_samples(h), 10000);
	/* A window reads only what lies in it, from every kind of chunk. */
	vg_head_rdlock(h);
	ck_assert_int_eq(vg_head_read_locked(h, b, 20001, 20050, &smp), 0);
	ck_assert_uint_eq(smp.n, 5); /* both ends included */
	ck_assert_int_eq(smp.ts_ms[0], 20010);
	ck_assert_int_eq(smp.ts_ms[4], 20050);
	ck_assert_int_eq(vg_head_read_locked(h, a, 30, 20, &smp), 0);
	ck_assert_uint_eq(smp.n, 0);
	vg_head_unlock(h);
	vg_samples_release(&smp);
	vg_head_free(h);
}
END_TEST

/* Chunks whose time range does not fit 32 bits of milliseconds (each step
 * at the most a chunk takes): their newest sample is still found, in order
 * and late, and a window at its end still reads it. */
START_TEST(test_head_chunks_spanning_years_keep_their_ends)
{
	struct vg_head *h = vg_head_new();
	uint32_t a = add(h, "a", NULL), b = add(h, "b", NULL);
	const int64_t step = INT32_MAX, t0 = -(int64_t)100 * step;
	struct vg_samples smp = { 0 };
	int64_t end;

	for (int64_t i = 0; i < 300; i++)
		append1(h, a, t0 + i * step, (double)i);
	append1(h, b, 1000 * step, -1.0);
	for (int64_t i = 240; i > 0; i--) /* one late chunk, in descending order */
		append1(h, b, i * (step / 2), (double)i);
	read_all(h, a, &smp);
	ck_assert_uint_eq(smp.n, 300);
	for (size_t i = 0; i < smp.n; i++)
		ck_assert(smp.ts_ms[i] == t0 + (int64_t)i * step && smp.values[i] == (double)i);
	read_all(h, b, &smp);
	ck_assert_uint_eq(smp.n, 241);
	ck_assert_int_eq(smp.ts_ms[239], 240 * (step / 2));
	vg_head_rdlock(h);
	end = t0 + (VG_CHUNK_MAX_SAMPLES - 1) * step; /* the first chunk's last */
	ck_assert_int_eq(vg_head_read_locked(h, a, end, end, &smp), 0);
	ck_assert_uint_eq(smp.n, 1);
	ck_assert_int_eq(smp.ts_ms[0], end);
	ck_assert_int_eq(vg_head_read_locked(h, b, 240 * (step / 2), 240 * (step / 2), &smp), 0);
	ck_assert_uint_eq(smp.n, 1);
	ck_assert(smp.values[0] == 240.0);
	vg_head_unlock(h);
	/* The next in-order sample goes after the newest one. */
	append1(h, a, t0 + 300 * step, 300.0);
	read_all(h, a, &smp);
	ck_assert_uint_eq(smp.n, 301);
	vg_samples_release(&smp);
	vg_head_free(h);
}
END_TEST

START_TEST(test_head_values_bit_for_bit_across_gaps)
{
	static const uint64_t bits[] = {
		0x7ff0000000000002ULL, /* the stale marker */
		0x7ff8000000000000ULL, 0xfff0000000000000ULL, 0x7ff0000000000000ULL,
		0x8000000000000000ULL, 0x0000000000000001ULL, 0x7fefffffffffffffULL,
	};
	struct vg_head *h = vg_head_new();
	uint32_t id = add(h, "m", NULL);
	struct vg_samples smp = { 0 };
	int64_t t = 1700000000000LL;
	size_t n = 0;

	for (size_t k = 0; k < 1000; k++) {
		double v;
		if (k % 10 < 7) {
			memcpy(&v, &bits[k % 7], 8);
		} else {
			v = 211221.16 + (double)k / 100.0;
		}
		/* Now and then a gap longer than a chunk can span. */
		t += k % 250 == 249 ? 40LL * 24 * 3600 * 1000 : 10000;
		append1(h, id, t, v);
		n++;
	}
	read_all(h, id, &smp);
	ck_assert_uint_eq(smp.n, n);
	t = 1700000000000LL;
	for (size_t k = 0; k < n; k++) {
		double want;
		if (k % 10 < 7)
			memcpy(&want, &bits[k % 7], 8);
		else
			want = 211221.16 + (double)k / 100.0;
		t += k % 250 == 249 ? 40LL * 24 * 3600 * 1000 : 10000;
		ck_assert_int_eq(smp.ts_ms[k], t);
		ck_assert_mem_eq(&smp.values[k], &want, 8);
	}
	vg_samples_release(&smp);
	vg_head_free(h);
}
END_TEST

/* The value of sample k in the merge tests. Series 0: decimals at scale 2,
 * which merge into runs of VG_CHUNK_MAX_MERGED. Series 1: random doubles
 * (XOR floats) with every kind a chunk carries apart among them (the stale
 * marker, NaN, infinities, -0.0, denormals), except every third run of 240,
 * which is decimal: a merge that would make the columns larger than the
 * chunks apart (decimals stored as XOR floats) does not happen. */
static double merge_value(int series, size_t k)
{
	static const uint64_t bits[] = {
		0x7ff0000000000002ULL, 0x7ff8000000000000ULL, 0xfff0000000000000ULL,
		0x8000000000000000ULL, 0x0000000000000001ULL, 0x7fefffffffffffffULL,
	};
	uint64_t u = (k + 1) * 0x9E3779B97F4A7C15ULL;
	double v;

	if (series == 0 || (k / VG_CHUNK_MAX_SAMPLES) % 3 == 2)
		return 1000.0 + (double)k / 100.0;
	if (k % 5 == 0) {
		memcpy(&v, &bits[k % 6], 8);
		return v;
	}
	u = (u ^ (u >> 29)) * 0xBF58476D1CE4E5B9ULL;
	u = 0x3ff0000000000000ULL | (u >> 12); /* in [1, 2) */
	memcpy(&v, &u, 8);
	return v;
}

static void check_merge_samples(const struct vg_samples *smp, int series, int64_t t0, size_t first,
				size_t n)
{
	ck_assert_uint_eq(smp->n, n);
	for (size_t i = 0; i < n; i++) {
		double want = merge_value(series, first + i);
		ck_assert_int_eq(smp->ts_ms[i], t0 + (int64_t)(first + i) * 10000);
		ck_assert_mem_eq(&smp->values[i], &want, 8);
	}
}

/* The value of series i at sample k for the allocator's test: counters,
 * noisy gauges and (i % 7 == 0) floats without a decimal form, whose 720
 * samples take more than the slabs' largest class (malloc's). */
static double slab_value(uint32_t i, size_t k)
{
	uint64_t u = (k + 1) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)i * 0xD6E8FEB86659FD93ULL;

	if (i % 7 == 0)
		return (double)(u >> 11) / 9007199254740992.0;
	if (i % 2 == 0)
		return (double)(k * (i + 1)) / 100.0;
	return 500.0 + (double)((u >> 40) % 2000) / 10.0;
}

/* Every series of a fleet cuts and merges its chunks at the same sample:
 * the slabs the 240- and 480-sample chunks and the open buffers held
 * empty whole and are given back, so at 720 samples the allocator holds
 * little beyond the chunks; dropping the frozen set gives back nearly all
 * of it; every sample reads back as appended through that churn. */
START_TEST(test_head_chunk_slabs_empty_whole_and_are_given_back)
{
	enum { N = 3000 };
	const int64_t t0 = 1764000000000LL;
	struct vg_head *h = vg_head_new();
	struct vg_samples smp = { 0 };
	struct vg_head_mem m;
	uint32_t *ids = calloc(N, sizeof(*ids));
	int64_t ts[720];
	double v[720];
	char name[16];

	ck_assert_ptr_nonnull(ids);
	for (uint32_t i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "s%u", i);
		ids[i] = add(h, "m", "i", name, NULL);
	}
	for (size_t k = 0; k < 720; k++)
		for (uint32_t i = 0; i < N; i++)
			append1(h, ids[i], t0 + (int64_t)k * 10000, slab_value(i, k));
	vg_head_memory(h, &m);
	/* one chunk a series, but where merged columns would not be smaller */
	ck_assert_uint_ge(m.chunks, N);
	ck_assert_uint_lt(m.chunks, N + N / 100);
	ck_assert_uint_eq(m.open_chunks, 0);
	/* What the slabs hold is what the chunks asked for (less the large
	 * ones, in malloc's heap) and their waste: class rounding, slab tails,
	 * a partial page a class, the few empty slabs kept. Had the slabs of
	 * the freed chunks and buffers stayed, it would be 600 bytes a series
	 * more. */
	ck_assert_uint_le(m.alloc_resident - m.alloc_waste, m.chunk_bytes + m.chunk_headers);
	ck_assert_uint_lt(m.alloc_waste, (size_t)N * 100 + 4 * 65536);
	for (uint32_t i = 0; i < N; i++) {
		read_all(h, ids[i], &smp);
		ck_assert_uint_eq(smp.n, 720);
		for (size_t k = 0; k < 720; k++) {
			ts[k] = t0 + (int64_t)k * 10000;
			v[k] = slab_value(i, k);
		}
		ck_assert(memcmp(smp.ts_ms, ts, sizeof(ts)) == 0);
		ck_assert(memcmp(smp.values, v, sizeof(v)) == 0);
	}

	/* Sealed and dropped: only a sample a series since, in fresh slabs. */
	ck_assert_int_eq(vg_head_freeze(h), 0);
	for (uint32_t i = 0; i < N; i++)
		append1(h, ids[i], t0 + 720 * 10000LL, slab_value(i, 720));
	vg_head_drop_frozen(h);
	vg_head_memory(h, &m);
	ck_assert_uint_eq(m.chunks, 0);
	ck_assert_uint_lt(m.alloc_resident, (size_t)N * 64 + 8 * 65536);
	for (uint32_t i = 0; i < N; i += 97) {
		double want = slab_value(i, 720);
		read_all(h, ids[i], &smp);
		ck_assert_uint_eq(smp.n, 1);
		ck_assert_mem_eq(&smp.values[0], &want, 8);
	}
	vg_samples_release(&smp);
	vg_head_free(h);
	free(ids);
}
END_TEST

/* Finished chunks merge into one while they fit (VG_CHUNK_MAX_MERGED):
 * what is read back is what was appended, bit for bit, whole, by window
 * and by snapshot, and the head holds one chunk per merged run. */
START_TEST(test_head_merged_chunks_read_back_equal)
{
	struct vg_head *h = vg_head_new();
	uint32_t ids[2] = { add(h, "m", "k", "dec", NULL), add(h, "m", "k", "mixed", NULL) };
	struct vg_samples smp = { 0 };
	struct vg_head_mem mem;
	struct vg_head_snap snap[2];
	const int64_t t0 = 1764000000000LL;
	const size_t n = 2000;

	for (size_t k = 0; k < n; k++) {
		for (int i = 0; i < 2; i++)
			append1(h, ids[i], t0 + (int64_t)k * 10000, merge_value(i, k));
		if (k == 1000) {
			vg_head_rdlock(h);
			vg_head_snap_locked(h, ids[0], &snap[0]);
			vg_head_snap_locked(h, ids[1], &snap[1]);
			vg_head_unlock(h);
		}
	}
	vg_head_memory(h, &mem);
	/* decimals: 720 + 720 + 480 merged, 80 open; mixed: runs 0-1, 2,
	 * 3-4, 5, 6-7 (the decimal runs 2 and 5 stay apart), 80 open */
	ck_assert_uint_eq(mem.chunks, 3 + 5);
	ck_assert_uint_eq(mem.open_chunks, 2);
	for (int i = 0; i < 2; i++) {
		read_all(h, ids[i], &smp);
		check_merge_samples(&smp, i, t0, 0, n);
		vg_head_rdlock(h);
		/* a window inside a merged chunk, and one across three */
		ck_assert_int_eq(vg_head_read_locked(h, ids[i], t0 + 800 * 10000LL, t0 + 900 * 10000LL, &smp), 0);
		check_merge_samples(&smp, i, t0, 800, 101);
		ck_assert_int_eq(vg_head_read_locked(h, ids[i], t0 + 700 * 10000LL, t0 + 1500 * 10000LL, &smp), 0);
		check_merge_samples(&smp, i, t0, 700, 801);
		/* what the snapshot saw: 1,001 samples, its end now inside a
		 * merged chunk */
		ck_assert_int_eq(vg_head_read_snap_locked(h, ids[i], &snap[i], INT64_MIN, INT64_MAX, &smp), 0);
		check_merge_samples(&smp, i, t0, 0, 1001);
		vg_head_unlock(h);
	}
	/* frozen, then read from the frozen set: the same */
	ck_assert_int_eq(vg_head_freeze(h), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(vg_head_read_frozen(h, ids[i], &smp), 0);
		check_merge_samples(&smp, i, t0, 0, n);
	}
	vg_head_drop_frozen(h);
	vg_samples_release(&smp);
	vg_head_free(h);
}
END_TEST

/* Late samples into a series whose chunks are merged: new timestamps
 * between merged ones are read in place, repeats of merged ones are
 * stored once (the in-order sample wins), and a snapshot taken among
 * them sees only the late samples that came before it. */
START_TEST(test_head_late_samples_beside_merged_chunks)
{
	struct vg_head *h = vg_head_new();
	uint32_t id = add(h, "m", NULL);
	struct vg_samples smp = { 0 };
	struct vg_head_snap snap;
	const int64_t t0 = 1764000000000LL;
	size_t j;

	for (size_t k = 0; k < 1440; k++)
		append1(h, id, t0 + (int64_t)k * 10000, merge_value(1, k));
	/* 300 late samples halfway between merged ones, then repeats */
	for (size_t k = 0; k < 300; k++) {
		append1(h, id, t0 + (int64_t)(1300 - 4 * k) * 10000 + 5000, -(double)k);
		if (k == 149) {
			vg_head_rdlock(h);
			vg_head_snap_locked(h, id, &snap);
			vg_head_unlock(h);
		}
	}
	for (size_t k = 0; k < 1440; k += 3)
		append1(h, id, t0 + (int64_t)k * 10000, 7.0);
	read_all(h, id, &smp);
	ck_assert_uint_eq(smp.n, 1740);
	j = 0;
	for (size_t k = 0; k < 1440; k++) {
		double want = merge_value(1, k);
		int64_t t = t0 + (int64_t)k * 10000;
		ck_assert_int_eq(smp.ts_ms[j], t);
		ck_assert_mem_eq(&smp.values[j], &want, 8);
		j++;
		if (k <= 1300 && (1300 - k) % 4 == 0 && (1300 - k) / 4 < 300) {
			ck_assert_int_eq(smp.ts_ms[j], t + 5000);
			ck_assert(smp.values[j] == -(double)((1300 - k) / 4));
			j++;
		}
	}
	ck_assert_uint_eq(j, smp.n);
	vg_head_rdlock(h);
	ck_assert_int_eq(vg_head_read_snap_locked(h, id, &snap, INT64_MIN, INT64_MAX, &smp), 0);
	vg_head_unlock(h);
	ck_assert_uint_eq(smp.n, 1440 + 150);
	vg_samples_release(&smp);
	vg_head_free(h);
}
END_TEST

/* Late samples that fall outside every chunk, each older than the
 * series' newest: the late buffer is sorted into chunks every LATE_CHUNK
 * (240) samples, so it stays small while the chunks hold the data, both
 * when they fit one chunk's step (a) and when they are spread over more
 * than its widest (VG_CHUNK_MAX_STEP_MS, 24.8 days; a max_sample_age
 * above that lets agents send such data), where late_flush cuts the
 * buffer into a chunk each side of the gap (b). Every sample reads back,
 * in order; and snapshots taken mid-way, one inside a buffer and one just
 * after a flush, read exactly the samples stored before them, though the
 * samples they saw in the buffer were sorted into chunks since. */
static int64_t late_gap_t(int64_t t0, int64_t far, size_t k)
{
	return t0 + (k % 2 ? far : 0) + (int64_t)k * 1000;
}

START_TEST(test_head_late_samples_outside_every_chunk_bound_the_buffer)
{
	const int64_t day = 24LL * 3600 * 1000, t0 = 1764000000000LL;
	const size_t n_late = 2400, at[2] = { 1000, 1200 }; /* late samples before each snapshot */
	struct vg_head_mem m;
	struct vg_samples smp = { 0 };
	struct vg_head_snap snap[2];

	for (int wide = 0; wide < 2; wide++) {
		struct vg_head *h = vg_head_new();
		uint32_t id = add(h, "m", NULL);
		int64_t far = wide ? 30 * day : day; /* the gap between the two runs */

		append1(h, id, t0 + 60 * day, 1.0);
		for (size_t k = 0; k < n_late; k++) {
			append1(h, id, late_gap_t(t0, far, k), (double)k);
			for (int s = 0; s < 2; s++)
				if (k + 1 == at[s]) {
					vg_head_rdlock(h);
					vg_head_snap_locked(h, id, &snap[s]);
					vg_head_unlock(h);
				}
		}
		vg_head_memory(h, &m);
		ck_assert_msg(m.late <= 256 * 16 + 256, "(%c) late buffer %zu bytes", wide ? 'b' : 'a', m.late);
		read_all(h, id, &smp);
		ck_assert_uint_eq(smp.n, n_late + 1);
		for (size_t i = 1; i < smp.n; i++)
			ck_assert_int_lt(smp.ts_ms[i - 1], smp.ts_ms[i]);
		ck_assert_int_eq(smp.ts_ms[smp.n - 1], t0 + 60 * day);
		for (int s = 0; s < 2; s++) {
			size_t j = 0;

			vg_head_rdlock(h);
			ck_assert_int_eq(vg_head_read_snap_locked(h, id, &snap[s], INT64_MIN, INT64_MAX, &smp), 0);
			vg_head_unlock(h);
			ck_assert_uint_eq(smp.n, at[s] + 1);
			/* the even samples, then the odd ones past the gap, then
			 * the in-order one */
			for (int odd = 0; odd < 2; odd++)
				for (size_t k = (size_t)odd; k < at[s]; k += 2, j++) {
					ck_assert_int_eq(smp.ts_ms[j], late_gap_t(t0, far, k));
					ck_assert(smp.values[j] == (double)k);
				}
			ck_assert_int_eq(smp.ts_ms[j], t0 + 60 * day);
		}
		vg_samples_release(&smp);
		vg_head_free(h);
	}
}
END_TEST

START_TEST(test_head_append_unknown_id_fails_whole_batch)
{
	struct vg_head *h = vg_head_new();
	uint32_t ids[2] = { add(h, "m", NULL), 7 };
	int64_t ts[2] = { 1, 2 };
	double v[2] = { 1, 2 };

	ck_assert_int_eq(vg_head_append(h, 2, ids, ts, v), VG_EINVAL);
	ck_assert_uint_eq(vg_head_num_samples(h), 0);
	vg_head_free(h);
}
END_TEST

START_TEST(test_head_views_of_unknown_id_are_empty)
{
	struct vg_head *h = vg_head_new();
	struct vg_samples smp = { 0 };
	struct vg_buf key = VG_BUF_INIT;
	struct vg_series s;

	vg_head_rdlock(h);
	ck_assert_int_eq(vg_head_series_key_locked(h, 3, &key), 0);
	ck_assert_uint_eq(key.len, 0);
	ck_assert(!vg_head_series_locked(h, 3, &s));
	ck_assert_int_eq(vg_head_read_locked(h, 3, INT64_MIN, INT64_MAX, &smp), 0);
	ck_assert_uint_eq(smp.n, 0);
	vg_head_unlock(h);
	vg_samples_release(&smp);
	vg_head_free(h);
}
END_TEST

/* --- selection ---------------------------------------------------------------- */

static struct vg_head *fixture_head(void)
{
	struct vg_head *h = vg_head_new();

	add(h, "up", "job", "api", "instance", "a", NULL); /* 0 */
	add(h, "up", "job", "api", "instance", "b", NULL); /* 1 */
	add(h, "up", "job", "db", "instance", "c", NULL);  /* 2 */
	add(h, "down", "job", "api", NULL);                /* 3 */
	add(h, "up", "instance", "d", NULL);               /* 4: no job */
	return h;
}

START_TEST(test_head_select_equal_and_name)
{
	struct vg_head *h = fixture_head();
	uint32_t *ids;

	ck_assert_uint_eq(select_n(h, "up", NULL), 4);
	ck_assert_uint_eq(select_n(h, "up{job=\"api\"}", &ids), 2);
	ck_assert(ids[0] == 0 && ids[1] == 1);
	free(ids);
	ck_assert_uint_eq(select_n(h, "{job=\"api\"}", NULL), 3);
	ck_assert_uint_eq(select_n(h, "up{job=\"api\",instance=\"b\"}", &ids), 1);
	ck_assert_uint_eq(ids[0], 1);
	free(ids);
	ck_assert_uint_eq(select_n(h, "{__name__=\"down\"}", &ids), 1);
	ck_assert_uint_eq(ids[0], 3);
	free(ids);
	vg_head_free(h);
}
END_TEST

START_TEST(test_head_select_not_equal_and_regex)
{
	struct vg_head *h = fixture_head();
	uint32_t *ids;

	ck_assert_uint_eq(select_n(h, "up{job!=\"api\"}", &ids), 2);
	ck_assert(ids[0] == 2 && ids[1] == 4);
	free(ids);
	ck_assert_uint_eq(select_n(h, "up{job=~\"a.*\"}", NULL), 2);
	ck_assert_uint_eq(select_n(h, "up{job=~\"a\"}", NULL), 0); /* anchored */
	ck_assert_uint_eq(select_n(h, "up{job!~\"a.*\"}", &ids), 2);
	ck_assert(ids[0] == 2 && ids[1] == 4);
	free(ids);
	ck_assert_uint_eq(select_n(h, "{__name__=~\"up|down\"}", NULL), 5);
	ck_assert_uint_eq(select_n(h, "{__name__=~\"do.*\",job=\"api\"}", NULL), 1);
	ck_assert_uint_eq(select_n(h, "{__name__!=\"up\",job=~\".+\"}", NULL), 1);
	vg_head_free(h);
}
END_TEST

START_TEST(test_head_select_absent_label_matches_empty)
{
	struct vg_head *h = fixture_head();
	uint32_t *ids;

	ck_assert_uint_eq(select_n(h, "up{job=\"\"}", &ids), 1);
	ck_assert_uint_eq(ids[0], 4);
	free(ids);
	ck_assert_uint_eq(select_n(h, "up{job=~\"|db\"}", &ids), 2);
	ck_assert(ids[0] == 2 && ids[1] == 4);
	free(ids);
	ck_assert_uint_eq(select_n(h, "up{nosuch=\"\"}", NULL), 4);
	ck_assert_uint_eq(select_n(h, "up{nosuch!=\"\"}", NULL), 0);
	vg_head_free(h);
}
END_TEST

START_TEST(test_head_select_no_match)
{
	struct vg_head *h = fixture_head();
	uint32_t *ids = (uint32_t *)&ids;

	ck_assert_uint_eq(select_n(h, "nosuch", &ids), 0);
	ck_assert_ptr_null(ids);
	ck_assert_uint_eq(select_n(h, "up{job=\"nope\"}", NULL), 0);
	ck_assert_uint_eq(select_n(h, "up{job=\"api\",job=\"db\"}", NULL), 0);
	ck_assert_uint_eq(select_n(h, "up{job=\"api\",instance=\"c\"}", NULL), 0);
	/* A value equal to another label's value is not that pair. */
	ck_assert_uint_eq(select_n(h, "up{instance=\"api\"}", NULL), 0);
	vg_head_free(h);
}
END_TEST

START_TEST(test_head_select_empty_head)
{
	struct vg_head *h = vg_head_new();

	ck_assert_uint_eq(select_n(h, "{job=~\".+\"}", NULL), 0);
	ck_assert_uint_eq(select_n(h, "up", NULL), 0);
	vg_head_free(h);
}
END_TEST

START_TEST(test_head_label_names_and_values)
{
	struct vg_head *h = fixture_head();
	struct vg_str *v;
	size_t n;

	vg_head_rdlock(h);
	ck_assert_int_eq(vg_head_label_names_locked(h, &v, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert(vg_str_eq_c(v[0], "__name__") && vg_str_eq_c(v[1], "instance") &&
		  vg_str_eq_c(v[2], "job"));
	free(v);
	ck_assert_int_eq(vg_head_label_values_locked(h, "job", &v, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert(vg_str_eq_c(v[0], "api") && vg_str_eq_c(v[1], "db"));
	free(v);
	ck_assert_int_eq(vg_head_label_values_locked(h, "__name__", &v, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert(vg_str_eq_c(v[0], "down") && vg_str_eq_c(v[1], "up"));
	free(v);
	ck_assert_int_eq(vg_head_label_values_locked(h, "instance", &v, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert(vg_str_eq_c(v[0], "a") && vg_str_eq_c(v[3], "d"));
	free(v);
	ck_assert_int_eq(vg_head_label_values_locked(h, "nosuch", &v, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(v);
	vg_head_unlock(h);
	vg_head_free(h);
}
END_TEST

/* --- instant queries ------------------------------------------------------------ */

START_TEST(test_query_instant_lookback_edges)
{
	struct vg_head *h = vg_head_new();
	uint32_t id = add(h, "m", NULL);
	struct vg_selector sel;
	struct vg_query_result r;

	append1(h, id, 1000, 1.0);
	append1(h, id, 2000, 2.0);
	parse_sel("m", &sel);
	/* A sample exactly at t is included, stamped t. */
	ck_assert_int_eq(q_instant(h, &sel, 2000, 1000, &r, NULL), 0);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_uint_eq(r.series[0].n, 1);
	ck_assert_int_eq(r.series[0].ts_ms[0], 2000);
	ck_assert(r.series[0].values[0] == 2.0);
	vg_query_result_release(&r);
	/* Newest in (t - lookback, t]; stamped with t, not 2000. */
	ck_assert_int_eq(q_instant(h, &sel, 2999, 1000, &r, NULL), 0);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_int_eq(r.series[0].ts_ms[0], 2999);
	ck_assert(r.series[0].values[0] == 2.0);
	vg_query_result_release(&r);
	/* A sample exactly at t - lookback is outside. */
	ck_assert_int_eq(q_instant(h, &sel, 3000, 1000, &r, NULL), 0);
	ck_assert_uint_eq(r.n, 0);
	vg_query_result_release(&r);
	/* Between samples: the older one. Before all: nothing. */
	ck_assert_int_eq(q_instant(h, &sel, 1999, 5000, &r, NULL), 0);
	ck_assert_uint_eq(r.n, 1);
	ck_assert(r.series[0].values[0] == 1.0);
	vg_query_result_release(&r);
	ck_assert_int_eq(q_instant(h, &sel, 999, 5000, &r, NULL), 0);
	ck_assert_uint_eq(r.n, 0);
	vg_query_result_release(&r);
	vg_selector_release(&sel);
	vg_head_free(h);
}
END_TEST

START_TEST(test_query_instant_skips_staleness_marker)
{
	struct vg_head *h = vg_head_new();
	uint32_t stale = add(h, "m", "k", "stale", NULL), nan = add(h, "m", "k", "nan", NULL);
	uint64_t bits = 0x7ff0000000000002ULL;
	double marker;
	struct vg_selector sel;
	struct vg_query_result r;

	memcpy(&marker, &bits, sizeof(marker));
	append1(h, stale, 1000, 1.0);
	append1(h, stale, 2000, marker);
	append1(h, nan, 2000, NAN);
	parse_sel("m", &sel);
	ck_assert_int_eq(q_instant(h, &sel, 2500, 300000, &r, NULL), 0);
	ck_assert_uint_eq(r.n, 1); /* the ordinary NaN is a value */
	ck_assert(isnan(r.series[0].values[0]));
	vg_query_result_release(&r);
	vg_selector_release(&sel);
	vg_head_free(h);
}
END_TEST

START_TEST(test_query_results_sorted_as_prometheus_label_sets)
{
	struct vg_head *h = vg_head_new();
	struct vg_selector sel;
	struct vg_query_result r;
	/* Prometheus order: {Abc="x",__name__="m1"} < {__name__="m0",b="y"}
	 * < {__name__="m2"} < {__name__="m2",a="1"}; key bytes would say m0,
	 * m1, m2. */
	static const char *const want[] = { "m1{Abc=\"x\"}", "m0{b=\"y\"}", "m2", "m2{a=\"1\"}",
					    "m2{a=\"2\"}", "m2{b=\"0\"}" };

	append1(h, add(h, "m2", "b", "0", NULL), 1, 1);
	append1(h, add(h, "m2", "a", "2", NULL), 1, 1);
	append1(h, add(h, "m0", "b", "y", NULL), 1, 1);
	append1(h, add(h, "m2", NULL), 1, 1);
	append1(h, add(h, "m1", "Abc", "x", NULL), 1, 1);
	append1(h, add(h, "m2", "a", "1", NULL), 1, 1);
	parse_sel("{__name__=~\"m.\"}", &sel);
	ck_assert_int_eq(q_instant(h, &sel, 10, 1000, &r, NULL), 0);
	check_result_names(&r, want, 6);
	vg_query_result_release(&r);
	ck_assert_int_eq(q_range(h, &sel, 0, 10, 5, 1000, &r, NULL), 0);
	check_result_names(&r, want, 6);
	vg_query_result_release(&r);
	vg_selector_release(&sel);
	vg_head_free(h);
}
END_TEST

/* --- range queries ------------------------------------------------------------------ */

START_TEST(test_query_range_points_and_steps)
{
	struct vg_head *h = vg_head_new();
	uint32_t id = add(h, "m", NULL);
	struct vg_selector sel;
	struct vg_query_result r;

	/* Samples every 10 s at 0..100 s, value = seconds. */
	for (int i = 0; i <= 10; i++)
		append1(h, id, i * 10000, i * 10);
	parse_sel("m", &sel);
	/* Steps at 5, 15, ..., 35 s (end inclusive), start not aligned. */
	ck_assert_int_eq(q_range(h, &sel, 5000, 35000, 10000, 300000, &r, NULL), 0);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_uint_eq(r.series[0].n, 4);
	for (int k = 0; k < 4; k++) {
		ck_assert_int_eq(r.series[0].ts_ms[k], 5000 + k * 10000);
		ck_assert(r.series[0].values[k] == k * 10);
	}
	vg_query_result_release(&r);
	/* end not on a step: the last point is the last step <= end. */
	ck_assert_int_eq(q_range(h, &sel, 0, 29999, 10000, 300000, &r, NULL), 0);
	ck_assert_uint_eq(r.series[0].n, 3);
	ck_assert_int_eq(r.series[0].ts_ms[2], 20000);
	vg_query_result_release(&r);
	/* start == end: one point. */
	ck_assert_int_eq(q_range(h, &sel, 100000, 100000, 1, 300000, &r, NULL), 0);
	ck_assert_uint_eq(r.series[0].n, 1);
	ck_assert(r.series[0].values[0] == 100);
	vg_query_result_release(&r);
	/* A short lookback leaves gaps: step 5 s, lookback 3 s. Points at 0,
	 * 10, 20 s only (5 s is 5 s after a sample). */
	ck_assert_int_eq(q_range(h, &sel, 0, 20000, 5000, 3000, &r, NULL), 0);
	ck_assert_uint_eq(r.series[0].n, 3);
	ck_assert_int_eq(r.series[0].ts_ms[0], 0);
	ck_assert_int_eq(r.series[0].ts_ms[1], 10000);
	ck_assert_int_eq(r.series[0].ts_ms[2], 20000);
	vg_query_result_release(&r);
	/* Past the data by more than the lookback: nothing, series omitted. */
	ck_assert_int_eq(q_range(h, &sel, 500000, 600000, 10000, 300000, &r, NULL), 0);
	ck_assert_uint_eq(r.n, 0);
	vg_query_result_release(&r);
	/* Continues for lookback after the last sample (100 s): 100..395 s. */
	ck_assert_int_eq(q_range(h, &sel, 100000, 500000, 5000, 300000, &r, NULL), 0);
	ck_assert_uint_eq(r.series[0].n, 60);
	ck_assert_int_eq(r.series[0].ts_ms[59], 395000);
	vg_query_result_release(&r);
	vg_selector_release(&sel);
	vg_head_free(h);
}
END_TEST

/* A long gap between samples is skipped, and points resume exactly. */
START_TEST(test_query_range_gap_resumes_at_next_sample)
{
	struct vg_head *h = vg_head_new();
	uint32_t id = add(h, "m", NULL);
	struct vg_selector sel;
	struct vg_query_result r;

	append1(h, id, 0, 1);
	append1(h, id, 1000000, 2);
	parse_sel("m", &sel);
	ck_assert_int_eq(q_range(h, &sel, 0, 1002000, 1000, 1500, &r, NULL), 0);
	ck_assert_uint_eq(r.series[0].n, 4); /* 0, 1000 | 1000000, 1001000 */
	ck_assert_int_eq(r.series[0].ts_ms[0], 0);
	ck_assert_int_eq(r.series[0].ts_ms[1], 1000);
	ck_assert_int_eq(r.series[0].ts_ms[2], 1000000);
	ck_assert_int_eq(r.series[0].ts_ms[3], 1001000);
	ck_assert(r.series[0].values[2] == 2);
	vg_query_result_release(&r);
	vg_selector_release(&sel);
	vg_head_free(h);
}
END_TEST

START_TEST(test_query_range_errors_with_prometheus_messages)
{
	struct vg_head *h = vg_head_new();
	struct vg_selector sel;
	struct vg_query_result r;
	struct vg_err err;

	parse_sel("m", &sel);
	ck_assert_int_eq(q_range(h, &sel, 10, 9, 1, 300000, &r, &err), VG_EINVAL);
	ck_assert_str_eq(err.msg, "end timestamp must not be before start time");
	ck_assert_int_eq(q_range(h, &sel, 0, 10, 0, 300000, &r, &err), VG_EINVAL);
	ck_assert_str_eq(err.msg, "zero or negative query resolution step widths are not accepted. "
				  "Try a positive integer");
	ck_assert_int_eq(q_range(h, &sel, 0, 10, -5, 300000, &r, &err), VG_EINVAL);
	ck_assert_int_eq(q_range(h, &sel, 0, 11001, 1, 300000, &r, &err), VG_EINVAL);
	ck_assert_str_eq(err.msg, "exceeded maximum resolution of 11,000 points per timeseries. "
				  "Try decreasing the query resolution (?step=XX)");
	/* The whole int64 range does not overflow into a small count. */
	ck_assert_int_eq(q_range(h, &sel, INT64_MIN, INT64_MAX, 1000, 300000, &r, &err),
			 VG_EINVAL);
	/* Exactly 11000 steps is allowed, as in Prometheus. */
	ck_assert_int_eq(q_range(h, &sel, 0, 11000, 1, 300000, &r, &err), 0);
	vg_query_result_release(&r);
	vg_selector_release(&sel);
	vg_head_free(h);
}
END_TEST

/* --- series ------------------------------------------------------------------------- */

START_TEST(test_query_series_time_filter_and_dedup)
{
	struct vg_head *h = fixture_head();
	struct vg_selector s1, s2, s3;
	struct vg_selector *sels[3] = { &s1, &s2, &s3 };
	struct vg_query_result r;
	static const char *const all[] = { "down{job=\"api\"}", "up{instance=\"a\",job=\"api\"}",
					   "up{instance=\"b\",job=\"api\"}" };
	static const char *const late[] = { "up{instance=\"b\",job=\"api\"}" };

	append1(h, 0, 1000, 1);  /* up{a} */
	append1(h, 1, 5000, 1);  /* up{b} */
	append1(h, 3, 1000, 1);  /* down */
	/* series 2 and 4 have no samples */
	parse_sel("up{job=\"api\"}", &s1);
	parse_sel("{job=\"api\"}", &s2);
	parse_sel("up{instance=\"a\"}", &s3);
	ck_assert_int_eq(q_series(h, sels, 3, INT64_MIN, INT64_MAX, &r, NULL), 0);
	check_result_names(&r, all, 3);
	ck_assert_uint_eq(r.series[0].n, 0);
	ck_assert_ptr_null(r.series[0].ts_ms);
	vg_query_result_release(&r);
	/* [start, end] is closed on both sides. */
	ck_assert_int_eq(q_series(h, sels, 3, 1001, 5000, &r, NULL), 0);
	check_result_names(&r, late, 1);
	vg_query_result_release(&r);
	ck_assert_int_eq(q_series(h, sels, 3, 0, 999, &r, NULL), 0);
	ck_assert_uint_eq(r.n, 0);
	vg_query_result_release(&r);
	vg_selector_release(&s1);
	vg_selector_release(&s2);
	vg_selector_release(&s3);
	vg_head_free(h);
}
END_TEST

/* --- scale ----------------------------------------------------------------------------- */

START_TEST(test_head_many_series_select_stays_correct)
{
	enum { N = 100000 };
	struct vg_head *h = vg_head_new();
	char host[32], pool[32];
	uint32_t *ids;
	size_t n;

	for (uint32_t i = 0; i < N; i++) {
		snprintf(host, sizeof(host), "h%u", i);
		snprintf(pool, sizeof(pool), "p%u", i % 100);
		ck_assert_uint_eq(add(h, "node_load1", "host", host, "pool", pool, NULL), i);
		append1(h, i, 1000, (double)i);
	}
	ck_assert_uint_eq(vg_head_num_series(h), N);
	/* Every series is still found by hash after all the table growth. */
	for (uint32_t i = 0; i < N; i += 997) {
		snprintf(host, sizeof(host), "h%u", i);
		snprintf(pool, sizeof(pool), "p%u", i % 100);
		ck_assert_uint_eq(add(h, "node_load1", "host", host, "pool", pool, NULL), i);
	}
	ck_assert_uint_eq(vg_head_num_series(h), N);
	n = select_n(h, "node_load1{pool=\"p7\"}", &ids);
	ck_assert_uint_eq(n, N / 100);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(ids[i], 7 + 100 * i);
	free(ids);
	n = select_n(h, "node_load1{pool=\"p7\",host=\"h12307\"}", &ids);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(ids[0], 12307);
	free(ids);
	ck_assert_uint_eq(select_n(h, "node_load1{pool=\"p7\",host=\"h12308\"}", NULL), 0);
	/* h1, h10..h19, h100..h199, h1000..h1999, h10000..h19999 */
	ck_assert_uint_eq(select_n(h, "node_load1{host=~\"h1[0-9]*\"}", NULL), 11111);
	ck_assert_uint_eq(select_n(h, "{pool!=\"p0\",host=~\".+\"}", NULL), N - N / 100);
	vg_head_free(h);
}
END_TEST

/* --- concurrency ---------------------------------------------------------------------- */

static void *writer_main(void *arg)
{
	struct vg_head *h = arg;
	char host[32];

	for (uint32_t i = 0; i < 2000; i++) {
		snprintf(host, sizeof(host), "h%u", i);
		uint32_t id = add(h, "w", "host", host, NULL);
		for (int64_t t = 0; t < 20; t++)
			append1(h, id, t * 1000, (double)t);
	}
	return NULL;
}

/* Queries under the read lock while series and samples are added: every
 * answer is a consistent snapshot (a series seen has whole samples). */
START_TEST(test_head_queries_while_writer_appends)
{
	struct vg_head *h = vg_head_new();
	struct vg_selector sel;
	struct vg_query_result r;
	pthread_t th;
	size_t last = 0;

	parse_sel("w", &sel);
	ck_assert_int_eq(pthread_create(&th, NULL, writer_main, h), 0);
	for (int k = 0; k < 200; k++) {
		ck_assert_int_eq(q_range(h, &sel, 0, 19000, 1000, 300000, &r, NULL), 0);
		ck_assert_uint_ge(r.n, last);
		for (size_t i = 0; i < r.n; i++)
			for (size_t j = 0; j < r.series[i].n; j++)
				ck_assert_int_eq(r.series[i].ts_ms[j], (int64_t)j * 1000);
		last = r.n;
		vg_query_result_release(&r);
	}
	pthread_join(th, NULL);
	ck_assert_int_eq(q_instant(h, &sel, 19000, 300000, &r, NULL), 0);
	ck_assert_uint_eq(r.n, 2000);
	vg_query_result_release(&r);
	vg_selector_release(&sel);
	vg_head_free(h);
}
END_TEST

/* The writer appends across chunk boundaries, late samples among them, to
 * series that two readers read at the same time: every read is sorted,
 * each timestamp once, and a series never shrinks between reads. Under
 * ThreadSanitizer (./scripts/test) this is the stripe locks' test. */
#define CC_SERIES 500
#define CC_SAMPLES 600

struct cc_reader {
	struct vg_head *h;
	_Atomic int *is_done;
	size_t reads;
};

static void *cc_writer(void *arg)
{
	struct vg_head *h = arg;

	for (int64_t t = 0; t < CC_SAMPLES; t++)
		for (uint32_t id = 0; id < CC_SERIES; id++) {
			/* Every 7th sample of a series arrives one step late. */
			int64_t ts = t % 7 == 5 ? (t + 1) * 1000 : t % 7 == 6 ? (t - 1) * 1000 : t * 1000;
			append1(h, id, ts, (double)ts);
		}
	return NULL;
}

static void *cc_reader_main(void *arg)
{
	struct cc_reader *r = arg;
	struct vg_samples smp = { 0 };
	size_t seen[CC_SERIES] = { 0 };

	while (!atomic_load(r->is_done)) {
		for (uint32_t id = 0; id < CC_SERIES; id += 7) {
			vg_head_rdlock(r->h);
			ck_assert_int_eq(vg_head_read_locked(r->h, id, INT64_MIN, INT64_MAX, &smp), 0);
			vg_head_unlock(r->h);
			for (size_t j = 1; j < smp.n; j++)
				ck_assert_int_lt(smp.ts_ms[j - 1], smp.ts_ms[j]);
			for (size_t j = 0; j < smp.n; j++)
				ck_assert(smp.values[j] == (double)smp.ts_ms[j]);
			ck_assert_uint_ge(smp.n, seen[id]);
			seen[id] = smp.n;
			r->reads++;
		}
	}
	vg_samples_release(&smp);
	return NULL;
}

/* Creates n series name{host="h<i>"} (ids 0..n-1), runs writer on h and
 * two readers beside it until the writer is done. */
static void run_writer_and_readers(struct vg_head *h, uint32_t n, const char *name,
				   void *(*writer)(void *), void *(*reader)(void *))
{
	struct cc_reader rd[2];
	_Atomic int is_done = 0;
	pthread_t w, t[2];
	char host[32];

	for (uint32_t i = 0; i < n; i++) {
		snprintf(host, sizeof(host), "h%u", i);
		ck_assert_uint_eq(add(h, name, "host", host, NULL), i);
	}
	for (int i = 0; i < 2; i++) {
		rd[i] = (struct cc_reader){ h, &is_done, 0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader, &rd[i]), 0);
	}
	ck_assert_int_eq(pthread_create(&w, NULL, writer, h), 0);
	pthread_join(w, NULL);
	atomic_store(&is_done, 1);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		ck_assert_uint_gt(rd[i].reads, 0);
	}
}

START_TEST(test_head_readers_and_writer_across_chunks)
{
	struct vg_head *h = vg_head_new();
	struct vg_samples smp = { 0 };

	run_writer_and_readers(h, CC_SERIES, "cc", cc_writer, cc_reader_main);
	for (uint32_t id = 0; id < CC_SERIES; id++) {
		read_all(h, id, &smp);
		ck_assert_uint_eq(smp.n, CC_SAMPLES);
		for (size_t j = 0; j < smp.n; j++)
			ck_assert_int_eq(smp.ts_ms[j], (int64_t)j * 1000);
	}
	vg_samples_release(&smp);
	vg_head_free(h);
}
END_TEST

/* Readers with snapshots while the writer's appends merge chunks: each
 * read returns exactly the samples its snapshot counted, in order, never a
 * half-merged chunk. Under ThreadSanitizer this is the merge's test. */
#define MG_SERIES 64
#define MG_SAMPLES 1700

static void *mg_writer(void *arg)
{
	struct vg_head *h = arg;

	for (int64_t t = 0; t < MG_SAMPLES; t++)
		for (uint32_t id = 0; id < MG_SERIES; id++)
			append1(h, id, t * 1000, (double)(t * 3 + id));
	return NULL;
}

static void *mg_reader_main(void *arg)
{
	struct cc_reader *r = arg;
	struct vg_samples smp = { 0 };
	struct vg_head_snap snap;

	while (!atomic_load(r->is_done)) {
		for (uint32_t id = r->reads % 3; id < MG_SERIES; id += 3) {
			vg_head_rdlock(r->h);
			vg_head_snap_locked(r->h, id, &snap);
			ck_assert_int_eq(vg_head_read_snap_locked(r->h, id, &snap, INT64_MIN, INT64_MAX, &smp), 0);
			vg_head_unlock(r->h);
			ck_assert_uint_eq(smp.n, snap.in_ord);
			for (size_t j = 0; j < smp.n; j++) {
				ck_assert_int_eq(smp.ts_ms[j], (int64_t)j * 1000);
				ck_assert(smp.values[j] == (double)((int64_t)j * 3 + id));
			}
		}
		r->reads++;
	}
	vg_samples_release(&smp);
	return NULL;
}

START_TEST(test_head_snapshot_readers_while_chunks_merge)
{
	struct vg_head *h = vg_head_new();
	struct vg_samples smp = { 0 };

	run_writer_and_readers(h, MG_SERIES, "mg", mg_writer, mg_reader_main);
	for (uint32_t id = 0; id < MG_SERIES; id++) {
		read_all(h, id, &smp);
		ck_assert_uint_eq(smp.n, MG_SAMPLES);
	}
	vg_samples_release(&smp);
	vg_head_free(h);
}
END_TEST

/* --- the series table in pages ------------------------------------------------ */

/* The head keeps its series records in pages of 1,024 that never move:
 * lookups, appends, reads, a restore's gap and a freeze across page
 * bounds, and the table's size in whole pages. */
#define PG_PAGE 1024
#define PG_SERIES (3 * PG_PAGE + 100)

static double pg_value(uint32_t id, int64_t t)
{
	return (double)id + (double)t / 4;
}

START_TEST(test_head_series_table_across_pages)
{
	static const uint8_t key[] = "pg\xff" "host\xff" "restored\xff";
	static const uint32_t bound[] = { PG_PAGE - 1, PG_PAGE, 2 * PG_PAGE - 1, 2 * PG_PAGE,
					  3 * PG_PAGE - 1, 3 * PG_PAGE, PG_SERIES - 1 };
	enum { N_BOUND = sizeof(bound) / sizeof(bound[0]), SHORT = 250, LONG = 730 };
	struct vg_head *h = vg_head_new();
	struct vg_samples smp = { 0 };
	struct vg_head_mem mem;
	struct vg_series s;
	uint32_t *ids = malloc(PG_SERIES * sizeof(*ids)), gap_id = PG_SERIES + 1500, bad;
	int64_t *ts = malloc(PG_SERIES * sizeof(*ts));
	double *v = malloc(PG_SERIES * sizeof(*v));
	char host[32];

	ck_assert_ptr_nonnull(ids);
	ck_assert_ptr_nonnull(ts);
	ck_assert_ptr_nonnull(v);
	for (uint32_t i = 0; i < PG_SERIES; i++) {
		snprintf(host, sizeof(host), "h%u", i);
		ck_assert_uint_eq(add(h, "pg", "host", host, NULL), i);
		ids[i] = i;
	}
	/* Every series in one batch a step, across the page bounds; then
	 * the series at the bounds alone, through cuts and merges. */
	for (int64_t t = 0; t < LONG; t++) {
		uint32_t n = 0;
		if (t < SHORT) {
			n = PG_SERIES;
		} else {
			for (uint32_t k = 0; k < N_BOUND; k++)
				ids[n++] = bound[k];
		}
		for (uint32_t k = 0; k < n; k++) {
			ts[k] = t * 1000;
			v[k] = pg_value(ids[k], t);
		}
		ck_assert_int_eq(vg_head_append(h, n, ids, ts, v), 0);
	}
	for (uint32_t id = 0; id < PG_SERIES; id++) {
		bool is_bound = false;
		for (uint32_t k = 0; k < N_BOUND; k++)
			is_bound |= bound[k] == id;
		read_all(h, id, &smp);
		ck_assert_uint_eq(smp.n, is_bound ? LONG : SHORT);
		for (size_t j = 0; j < smp.n; j++) {
			ck_assert_int_eq(smp.ts_ms[j], (int64_t)j * 1000);
			ck_assert(smp.values[j] == pg_value(id, (int64_t)j));
		}
	}
	/* Found again by key, and each id names its own series. */
	for (uint32_t k = 0; k < N_BOUND; k++) {
		snprintf(host, sizeof(host), "h%u", bound[k]);
		ck_assert_uint_eq(add(h, "pg", "host", host, NULL), bound[k]);
		vg_head_rdlock(h);
		ck_assert(vg_head_series_locked(h, bound[k], &s));
		vg_head_unlock(h);
		ck_assert_uint_eq(s.n_labels, 1);
		ck_assert(vg_str_eq(s.labels[0].value, vg_str_c(host)));
	}
	/* A restore past a gap of more than a page: the ids between, in two
	 * new pages, are absent. */
	ck_assert_int_eq(vg_head_restore(h, gap_id, key, sizeof(key) - 1), 0);
	ck_assert_uint_eq(vg_head_next_id(h), gap_id + 1);
	ck_assert_uint_eq(vg_head_num_series(h), PG_SERIES + 1);
	bad = 4 * PG_PAGE;
	ck_assert_int_eq(vg_head_append(h, 1, &bad, ts, v), VG_EINVAL);
	bad = 4 * PG_PAGE - 1;
	ck_assert_int_eq(vg_head_append(h, 1, &bad, ts, v), VG_EINVAL);
	vg_head_rdlock(h);
	ck_assert(!vg_head_series_locked(h, 4 * PG_PAGE, &s));
	ck_assert(vg_head_series_locked(h, gap_id, &s));
	vg_head_unlock(h);
	ck_assert_uint_eq(select_n(h, "pg", NULL), PG_SERIES + 1);
	ck_assert_uint_eq(add(h, "pg", "host", "after", NULL), gap_id + 1);
	/* Whole pages, the records at least 24 bytes (ILP32), at most 48 on
	 * LP64: the open chunk's encoder is a slot of its own. */
	vg_head_memory(h, &mem);
	ck_assert_uint_ge(mem.series, (size_t)5 * PG_PAGE * 24);
	if (sizeof(void *) == 8)
		ck_assert_uint_le(mem.series, (size_t)5 * PG_PAGE * 48 + 16 * sizeof(void *));
	/* A freeze moves every page's samples; new ones join them on read. */
	ck_assert_int_eq(vg_head_freeze(h), 0);
	for (uint32_t k = 0; k < N_BOUND; k++) {
		int64_t t = LONG * 1000;
		double x = pg_value(bound[k], LONG);
		ck_assert_int_eq(vg_head_append(h, 1, &bound[k], &t, &x), 0);
		ck_assert_int_eq(vg_head_read_frozen(h, bound[k], &smp), 0);
		ck_assert_uint_eq(smp.n, LONG);
		read_all(h, bound[k], &smp);
		ck_assert_uint_eq(smp.n, LONG + 1);
		ck_assert_int_eq(smp.ts_ms[LONG], (int64_t)LONG * 1000);
	}
	vg_head_drop_frozen(h);
	read_all(h, PG_PAGE, &smp);
	ck_assert_uint_eq(smp.n, 1);
	vg_samples_release(&smp);
	free(ids);
	free(ts);
	free(v);
	vg_head_free(h);
}
END_TEST

/* Readers reach series in the first pages while the writer creates
 * series into new ones (the page directory moving as it grows). Under
 * ThreadSanitizer this is the series table's test. */
#define GT_SERIES 20000

static void *gt_writer(void *arg)
{
	struct vg_head *h = arg;
	char host[32];

	for (uint32_t i = 1; i <= GT_SERIES; i++) {
		snprintf(host, sizeof(host), "h%u", i);
		ck_assert_uint_eq(add(h, "gt", "host", host, NULL), i);
		for (int64_t t = 0; t < 3; t++)
			append1(h, i, t * 1000, (double)(i + t));
	}
	return NULL;
}

static void *gt_reader_main(void *arg)
{
	struct cc_reader *r = arg;
	struct vg_samples smp = { 0 };
	struct vg_series s;
	char host[32];

	while (!atomic_load(r->is_done)) {
		uint32_t n = vg_head_next_id(r->h);
		vg_head_rdlock(r->h);
		for (uint32_t id = r->reads % 61; id < n; id += 61) {
			snprintf(host, sizeof(host), "h%u", id);
			ck_assert(vg_head_series_locked(r->h, id, &s));
			ck_assert(vg_str_eq(s.labels[0].value, vg_str_c(host)));
			ck_assert_int_eq(vg_head_read_locked(r->h, id, INT64_MIN, INT64_MAX, &smp), 0);
			ck_assert_uint_le(smp.n, 3);
			for (size_t j = 0; j < smp.n; j++)
				ck_assert(smp.values[j] == (double)(id + j));
		}
		vg_head_unlock(r->h);
		r->reads++;
	}
	vg_samples_release(&smp);
	return NULL;
}

START_TEST(test_head_readers_while_series_table_grows)
{
	struct vg_head *h = vg_head_new();
	struct vg_samples smp = { 0 };

	/* Readers start on one page (series 0); the writer fills twenty. */
	run_writer_and_readers(h, 1, "gt0", gt_writer, gt_reader_main);
	ck_assert_uint_eq(vg_head_num_series(h), GT_SERIES + 1);
	for (uint32_t id = 1; id <= GT_SERIES; id += 997) {
		read_all(h, id, &smp);
		ck_assert_uint_eq(smp.n, 3);
	}
	vg_samples_release(&smp);
	vg_head_free(h);
}
END_TEST

/* --- the symbol table ------------------------------------------------------- */

START_TEST(test_symtab_each_string_once_and_views_stay)
{
	struct vg_symtab *t = vg_symtab_new();
	char *big = malloc(VG_SYMTAB_MAX_LEN + 1);
	struct vg_str first;
	uint32_t a, b, id;
	char buf[32];

	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(big);
	ck_assert_uint_eq(vg_symtab_find(t, vg_str_c("x")), VG_SYMTAB_NONE);
	ck_assert_int_eq(vg_symtab_intern(t, vg_str_c("host"), &a), 0);
	ck_assert_int_eq(vg_symtab_intern(t, vg_str_c("hos"), &b), 0);
	ck_assert_uint_ne(a, b);
	ck_assert_int_eq(vg_symtab_intern(t, vg_str_c("host"), &id), 0);
	ck_assert_uint_eq(id, a);
	ck_assert_int_eq(vg_symtab_intern(t, (struct vg_str){ NULL, 0 }, &id), 0);
	ck_assert_uint_eq(vg_symtab_str(t, id).len, 0);
	first = vg_symtab_str(t, a);
	/* Strings that fill several blocks and grow every table; a long
	 * string at the limit, and one past it refused. */
	memset(big, 'v', VG_SYMTAB_MAX_LEN + 1);
	ck_assert_int_eq(vg_symtab_intern(t, (struct vg_str){ big, VG_SYMTAB_MAX_LEN }, &id), 0);
	ck_assert_uint_eq(vg_symtab_str(t, id).len, VG_SYMTAB_MAX_LEN);
	ck_assert(memcmp(vg_symtab_str(t, id).p, big, VG_SYMTAB_MAX_LEN) == 0);
	ck_assert_int_eq(vg_symtab_intern(t, (struct vg_str){ big, VG_SYMTAB_MAX_LEN + 1 }, &id),
			 VG_ELIMIT);
	for (uint32_t i = 0; i < 50000; i++) {
		snprintf(buf, sizeof(buf), "value-%u", i);
		ck_assert_int_eq(vg_symtab_intern(t, vg_str_c(buf), &id), 0);
		ck_assert_uint_eq(id, i + 4);
	}
	ck_assert_uint_eq(vg_symtab_count(t), 50004);
	for (uint32_t i = 0; i < 50000; i += 7) {
		snprintf(buf, sizeof(buf), "value-%u", i);
		ck_assert_uint_eq(vg_symtab_find(t, vg_str_c(buf)), i + 4);
		ck_assert(vg_str_eq_c(vg_symtab_str(t, i + 4), buf));
	}
	/* The first view still points at the same bytes. */
	ck_assert(first.p == vg_symtab_str(t, a).p && vg_str_eq_c(first, "host"));
	free(big);
	vg_symtab_free(t);
}
END_TEST

/* 2,000 series (each added five times) from 117 distinct strings: each string is stored
 * once (the symbol table's bytes do not grow with the series), every key
 * reads back as series.c writes it, and the index answers as before. */
START_TEST(test_head_series_share_their_strings)
{
	struct vg_head *h = vg_head_new();
	struct vg_buf key = VG_BUF_INIT, want = VG_BUF_INIT;
	struct vg_head_mem m1, m2;
	struct vg_str *v;
	size_t n;
	char host[16], mode[16];
	uint32_t id;

	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < 5000; i++) {
			snprintf(host, sizeof(host), "host-%u", i % 100);
			snprintf(mode, sizeof(mode), "m%u", i / 100 % 10);
			id = add(h, pass ? "metric_b" : "metric_a", "host", host, "mode", mode, "cpu", "0",
				 NULL);
			ck_assert_uint_eq(id, pass * 1000 + i % 1000);
		}
		vg_head_memory(h, pass ? &m2 : &m1);
		if (pass == 0)
			ck_assert_uint_eq(vg_head_num_series(h), 1000);
	}
	/* The second pass added one string (metric_b) and 1,000 keys. */
	ck_assert_uint_lt(m2.symbols - m1.symbols, 64);
	ck_assert_uint_ge(m2.keys - m1.keys, 1000 * 8);

	vg_head_rdlock(h);
	for (uint32_t i = 0; i < 2000; i++) {
		struct vg_series s;
		uint32_t k = i % 1000;

		snprintf(host, sizeof(host), "host-%u", k % 100);
		snprintf(mode, sizeof(mode), "m%u", k / 100 % 10);
		vg_series_init(&s, i < 1000 ? "metric_a" : "metric_b");
		ck_assert_int_eq(vg_series_add(&s, "host", host), 0);
		ck_assert_int_eq(vg_series_add(&s, "mode", mode), 0);
		ck_assert_int_eq(vg_series_add(&s, "cpu", "0"), 0);
		ck_assert_int_eq(vg_series_canonicalize(&s, NULL), 0);
		vg_buf_reset(&want);
		vg_series_key(&s, &want);
		vg_buf_reset(&key);
		ck_assert_int_eq(vg_head_series_key_locked(h, i, &key), 0);
		ck_assert_uint_eq(key.len, want.len);
		ck_assert(memcmp(key.data, want.data, key.len) == 0);
	}
	ck_assert_int_eq(vg_head_label_values_locked(h, "host", &v, &n), 0);
	ck_assert_uint_eq(n, 100);
	ck_assert(vg_str_eq_c(v[0], "host-0") && vg_str_eq_c(v[1], "host-1"));
	free(v);
	ck_assert_int_eq(vg_head_label_values_locked(h, "__name__", &v, &n), 0);
	ck_assert_uint_eq(n, 2);
	free(v);
	vg_head_unlock(h);
	ck_assert_uint_eq(select_n(h, "metric_b{host=\"host-7\",mode=\"m0\"}", NULL), 1);
	ck_assert_uint_eq(select_n(h, "{host=\"host-7\"}", NULL), 20);
	ck_assert_uint_eq(select_n(h, "{mode=~\"m[01]\"}", NULL), 400);
	vg_buf_release(&key);
	vg_buf_release(&want);
	vg_head_free(h);
}
END_TEST

/* A writer creating series with new strings (interned as they come)
 * while readers rebuild keys and list label values under the read lock:
 * every key a reader sees is whole (ThreadSanitizer checks the rest). */
static void *symbol_writer_main(void *arg)
{
	struct vg_head *h = arg;
	char v[32];

	for (uint32_t i = 0; i < 3000; i++) {
		snprintf(v, sizeof(v), "unique-%u", i);
		uint32_t id = add(h, i % 2 ? "sym_odd" : "sym_even", "seq", v, NULL);
		append1(h, id, 1000, (double)i);
	}
	return NULL;
}

START_TEST(test_head_keys_read_while_symbols_are_added)
{
	struct vg_head *h = vg_head_new();
	struct vg_buf key = VG_BUF_INIT;
	pthread_t th;
	size_t seen = 0;

	ck_assert_int_eq(pthread_create(&th, NULL, symbol_writer_main, h), 0);
	while (seen < 3000) {
		struct vg_str *v;
		size_t n;

		vg_head_rdlock(h);
		seen = vg_head_num_series(h);
		for (uint32_t id = 0; id < seen; id += 37) {
			struct vg_series s;
			char want[32];

			vg_buf_reset(&key);
			ck_assert_int_eq(vg_head_series_key_locked(h, id, &key), 0);
			ck_assert_int_eq(vg_series_from_key(key.data, key.len, &s), 0);
			snprintf(want, sizeof(want), "unique-%u", id);
			ck_assert(vg_str_eq_c(s.name, id % 2 ? "sym_odd" : "sym_even"));
			ck_assert_uint_eq(s.n_labels, 1);
			ck_assert(vg_str_eq_c(s.labels[0].value, want));
		}
		ck_assert_int_eq(vg_head_label_values_locked(h, "seq", &v, &n), 0);
		ck_assert_uint_ge(n, seen);
		free(v);
		vg_head_unlock(h);
	}
	pthread_join(th, NULL);
	vg_buf_release(&key);
	vg_head_free(h);
}
END_TEST

static Suite *head_suite(void)
{
	Suite *s = suite_create("head");
	TCase *tc = tcase_create("series");

	tcase_add_test(tc, test_head_ids_dense_and_stable);
	tcase_add_test(tc, test_head_key_is_canonical_form);
	tcase_add_test(tc, test_head_hash_collision_keeps_series_apart);
	tcase_add_test(tc, test_head_restore_recreates_ids);
	tcase_add_test(tc, test_head_restore_with_gap_leaves_absent_ids);
	suite_add_tcase(s, tc);

	tc = tcase_create("samples");
	tcase_add_test(tc, test_head_out_of_order_merged_and_same_timestamp_stored_once);
	tcase_add_test(tc, test_head_values_bit_for_bit_across_gaps);
	tcase_add_test(tc, test_head_growth_keeps_samples_in_order);
	tcase_add_test(tc, test_head_chunks_spanning_years_keep_their_ends);
	tcase_add_test(tc, test_head_merged_chunks_read_back_equal);
	tcase_add_test(tc, test_head_late_samples_beside_merged_chunks);
	tcase_add_test(tc, test_head_late_samples_outside_every_chunk_bound_the_buffer);
	tcase_add_test(tc, test_head_append_unknown_id_fails_whole_batch);
	tcase_add_test(tc, test_head_views_of_unknown_id_are_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("select");
	tcase_add_test(tc, test_head_select_equal_and_name);
	tcase_add_test(tc, test_head_select_not_equal_and_regex);
	tcase_add_test(tc, test_head_select_absent_label_matches_empty);
	tcase_add_test(tc, test_head_select_no_match);
	tcase_add_test(tc, test_head_select_empty_head);
	tcase_add_test(tc, test_head_label_names_and_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("symbols");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_symtab_each_string_once_and_views_stay);
	tcase_add_test(tc, test_head_series_share_their_strings);
	tcase_add_test(tc, test_head_keys_read_while_symbols_are_added);
	suite_add_tcase(s, tc);

	tc = tcase_create("scale");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_head_many_series_select_stays_correct);
	tcase_add_test(tc, test_head_queries_while_writer_appends);
	tcase_add_test(tc, test_head_readers_and_writer_across_chunks);
	tcase_add_test(tc, test_head_chunk_slabs_empty_whole_and_are_given_back);
	tcase_add_test(tc, test_head_snapshot_readers_while_chunks_merge);
	tcase_add_test(tc, test_head_series_table_across_pages);
	tcase_add_test(tc, test_head_readers_while_series_table_grows);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *query_suite(void)
{
	Suite *s = suite_create("query");
	TCase *tc = tcase_create("instant");

	tcase_add_test(tc, test_query_instant_lookback_edges);
	tcase_add_test(tc, test_query_instant_skips_staleness_marker);
	tcase_add_test(tc, test_query_results_sorted_as_prometheus_label_sets);
	suite_add_tcase(s, tc);

	tc = tcase_create("range");
	tcase_add_test(tc, test_query_range_points_and_steps);
	tcase_add_test(tc, test_query_range_gap_resumes_at_next_sample);
	tcase_add_test(tc, test_query_range_errors_with_prometheus_messages);
	suite_add_tcase(s, tc);

	tc = tcase_create("series");
	tcase_add_test(tc, test_query_series_time_filter_and_dedup);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(head_suite());
	int nf;

	srunner_add_suite(sr, query_suite());
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
