/*
 * test_snapshot.c: a read sees what every selected series held when the
 * read began (issue 10, point 2), while a writer appends on another thread
 * (run under ThreadSanitizer too).
 *
 * The writer creates series as it goes and appends samples numbered 1, 2,
 * 3... (the number is the value), each to one series, in order or late (a
 * timestamp between two it stored before), and freezes the head once
 * midway as a seal does. It publishes two counters: the last sample whose
 * append has returned, and the last whose append has begun. A reader
 * takes the first, selects every series through the read interface
 * (storage.h), takes the second, then reads each series slowly. Every
 * sample numbered up to the first must be there (all its series were
 * created before), each once; none numbered past the second may be.
 */
#include "config.h"

#include "receiver/storage/head.h"
#include "receiver/storage/seal.h"
#include "receiver/storage/storage.h"
#include "common/err.h"
#include "promql/parse.h"
#include "common/selector.h"
#include "common/series.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/banned.h"

#define N_SAMPLES 60000
#define MAX_SERIES 100
#define BASE_MS 1700000000000LL

struct world {
	struct vg_head *head;
	struct vg_storage *st;
	_Atomic uint64_t committed; /* samples 1..committed are appended */
	_Atomic uint64_t begun;     /* the append of sample begun has started */
	_Atomic bool is_done;
	uint32_t ids[MAX_SERIES];
};

/* Sample k's series: one new series every 100 samples, the first at k = 1. */
static uint32_t series_of(uint64_t k, uint32_t n_series)
{
	return (uint32_t)((k * 2654435761u) % n_series);
}

static void *writer(void *arg)
{
	struct world *w = arg;
	uint32_t n_series = 0;
	uint64_t count[MAX_SERIES] = { 0 }, in[MAX_SERIES] = { 0 };

	for (uint64_t k = 1; k <= N_SAMPLES; k++) {
		uint32_t s, id;
		int64_t ts;
		double v = (double)k;

		if ((k - 1) % 100 == 0 && n_series < MAX_SERIES) {
			struct vg_series ser;
			char job[32];
			bool is_new;

			snprintf(job, sizeof(job), "j%u", n_series);
			vg_series_init(&ser, "snap");
			vg_series_add(&ser, "job", job);
			ck_assert_int_eq(vg_head_get_or_create(w->head, &ser, vg_series_hash(&ser),
							       &w->ids[n_series], &is_new), 0);
			n_series++;
		}
		s = series_of(k, n_series);
		id = w->ids[s];
		/* Every other sample of a series is late, in the gap between
		 * the two in-order ones before the newest (each gap once), so
		 * late chunks are sorted while reads go on. */
		if (count[s] % 2 == 1 && in[s] >= 2)
			ts = BASE_MS + (int64_t)(in[s] - 1) * 20 - 10;
		else
			ts = BASE_MS + (int64_t)in[s]++ * 20;
		count[s]++;
		atomic_store(&w->begun, k);
		ck_assert_int_eq(vg_head_append(w->head, 1, &id, &ts, &v), 0);
		atomic_store(&w->committed, k);
		if (k % 64 == 0)
			usleep(20); /* so that reads and appends interleave */
		if (k == N_SAMPLES / 2)
			ck_assert_int_eq(vg_head_freeze(w->head), 0);
	}
	atomic_store(&w->is_done, true);
	return NULL;
}

/* One read: what it must and must not see. Returns whether the writer
 * appended while it read. */
static bool one_read(struct world *w, uint8_t *seen)
{
	struct vg_selector sel;
	struct vg_storage_set *set;
	struct vg_samples smp = { 0 };
	struct vg_err err;
	uint64_t before, after, n_seen = 0;

	ck_assert_int_eq(vg_promql_parse_selector("snap", 4, &sel, NULL, &err), 0);
	memset(seen, 0, N_SAMPLES + 1);
	before = atomic_load(&w->committed);
	ck_assert_int_eq(vg_storage_select(w->st, &sel, INT64_MIN, INT64_MAX, VG_STORAGE_RES_RAW, &set, &err), 0);
	after = atomic_load(&w->begun);
	for (size_t i = 0; i < vg_storage_set_len(set); i++) {
		ck_assert_int_eq(vg_storage_set_read(set, i, INT64_MIN, INT64_MAX, &smp, &err), 0);
		for (size_t j = 0; j < smp.n; j++) {
			uint64_t k = (uint64_t)smp.values[j];

			ck_assert(k >= 1 && k <= N_SAMPLES);
			ck_assert_msg(k <= after, "sample %llu appended after the read began (selection saw up to %llu)",
				      (unsigned long long)k, (unsigned long long)after);
			ck_assert_msg(!seen[k], "sample %llu read twice", (unsigned long long)k);
			ck_assert(j == 0 || smp.ts_ms[j] > smp.ts_ms[j - 1]);
			seen[k] = 1;
			n_seen++;
		}
		usleep(100); /* give the writer time to append behind the read */
	}
	for (uint64_t k = 1; k <= before; k++)
		ck_assert_msg(seen[k], "sample %llu, appended before the read began, missing",
			      (unsigned long long)k);
	ck_assert_uint_ge(n_seen, before);
	vg_storage_set_free(set);
	vg_samples_release(&smp);
	vg_selector_release(&sel);
	return atomic_load(&w->committed) > after;
}

START_TEST(test_read_sees_what_was_appended_before_it_began)
{
	struct vg_storage_options o = { NULL, NULL };
	struct world *w = calloc(1, sizeof(*w));
	uint8_t *seen = malloc(N_SAMPLES + 1);
	struct vg_err err;
	pthread_t t;
	int overlapping = 0;

	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(seen);
	w->head = vg_head_new();
	o.head = w->head;
	ck_assert_int_eq(vg_storage_open(&o, &w->st, &err), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, writer, w), 0);
	/* Reads while the writer runs, then one of everything. */
	while (atomic_load(&w->committed) == 0)
		usleep(100);
	while (!atomic_load(&w->is_done))
		overlapping += one_read(w, seen);
	ck_assert_int_ge(overlapping, 3); /* the writer did append behind reads */
	pthread_join(t, NULL);
	one_read(w, seen);
	for (uint64_t k = 1; k <= N_SAMPLES; k++)
		ck_assert(seen[k]);
	vg_storage_close(w->st);
	vg_head_free(w->head);
	free(seen);
	free(w);
}
END_TEST

/* One thread, every way a sample can be stored after a snapshot: at the
 * end of the open chunk, in a new chunk, in the late buffer, in a late
 * chunk sorted from a buffer the snapshot saw part of, after a freeze. */
START_TEST(test_snapshot_excludes_every_later_kind_of_append)
{
	struct vg_head *h = vg_head_new();
	struct vg_samples out = { 0 };
	struct vg_head_snap snap;
	struct vg_series ser;
	uint32_t id;
	bool is_new;
	int64_t ts;
	double v;
	size_t want = 0;

	vg_series_init(&ser, "snap");
	vg_series_add(&ser, "job", "one");
	ck_assert_int_eq(vg_head_get_or_create(h, &ser, vg_series_hash(&ser), &id, &is_new), 0);
	/* Before: 300 in order (a finished chunk and an open one), 100 late
	 * (odd slots, in the buffer). Value 1 marks them. */
	for (int i = 0; i < 300; i++) {
		ts = BASE_MS + i * 20;
		v = 1;
		ck_assert_int_eq(vg_head_append(h, 1, &id, &ts, &v), 0);
	}
	for (int i = 0; i < 100; i++) {
		ts = BASE_MS + i * 20 + 10;
		v = 1;
		ck_assert_int_eq(vg_head_append(h, 1, &id, &ts, &v), 0);
	}
	want = 400;
	vg_head_rdlock(h);
	vg_head_snap_locked(h, id, &snap);
	vg_head_unlock(h);
	/* After: value 2. In order past the end, late into the rest of the
	 * buffer (which then is sorted into a late chunk, mixing both), a
	 * freeze, then more of both. */
	for (int i = 300; i < 600; i++) {
		ts = BASE_MS + i * 20;
		v = 2;
		ck_assert_int_eq(vg_head_append(h, 1, &id, &ts, &v), 0);
	}
	for (int i = 100; i < 290; i++) {
		ts = BASE_MS + i * 20 + 10;
		v = 2;
		ck_assert_int_eq(vg_head_append(h, 1, &id, &ts, &v), 0);
	}
	ck_assert_int_eq(vg_head_freeze(h), 0);
	for (int i = 0; i < 50; i++) {
		ts = BASE_MS + 600 * 20 + i * 20;
		v = 2;
		ck_assert_int_eq(vg_head_append(h, 1, &id, &ts, &v), 0);
		ts = BASE_MS + i * 20 + 5;
		ck_assert_int_eq(vg_head_append(h, 1, &id, &ts, &v), 0);
	}
	vg_head_rdlock(h);
	ck_assert_int_eq(vg_head_read_snap_locked(h, id, &snap, INT64_MIN, INT64_MAX, &out), 0);
	vg_head_unlock(h);
	ck_assert_uint_eq(out.n, want);
	for (size_t i = 0; i < out.n; i++) {
		ck_assert(out.values[i] == 1);
		ck_assert(i == 0 || out.ts_ms[i] > out.ts_ms[i - 1]);
	}
	/* A window inside a straddled chunk. */
	vg_head_rdlock(h);
	ck_assert_int_eq(vg_head_read_snap_locked(h, id, &snap, BASE_MS + 1000, BASE_MS + 3000, &out), 0);
	vg_head_unlock(h);
	ck_assert_uint_eq(out.n, 101 + 50); /* 101 in order, 50 late (10..50: odd slots 50..149) */
	/* Without a snapshot, everything. */
	vg_head_rdlock(h);
	ck_assert_int_eq(vg_head_read_locked(h, id, INT64_MIN, INT64_MAX, &out), 0);
	vg_head_unlock(h);
	ck_assert_uint_eq(out.n, 600 + 290 + 100);
	vg_samples_release(&out);
	vg_head_free(h);
}
END_TEST

struct sealing {
	struct vg_head *head;
	struct vg_storage *st;
	const char *dir;
	_Atomic bool is_done;
};

static void *seal_main(void *arg)
{
	struct sealing *sl = arg;
	struct vg_err err;

	ck_assert_int_eq(vg_seal_frozen(sl->head, sl->st, sl->dir, 2 * 3600 * 1000, BASE_MS, NULL, NULL, &err), 0);
	atomic_store(&sl->is_done, true);
	return NULL;
}

static size_t read_all(struct vg_storage_set *set)
{
	struct vg_samples smp = { 0 };
	struct vg_err err;
	size_t n = 0;

	for (size_t i = 0; i < vg_storage_set_len(set); i++) {
		ck_assert_int_eq(vg_storage_set_read(set, i, INT64_MIN, INT64_MAX, &smp, &err), 0);
		n += smp.n;
	}
	vg_samples_release(&smp);
	return n;
}

/* A selection made before a seal still reads the samples the seal moves
 * into blocks it did not select: the seal keeps them until it is freed. */
START_TEST(test_selection_outlives_a_seal_that_serves_its_samples_elsewhere)
{
	char dir[] = "/tmp/vg-test-snapshot-XXXXXX", cmd[128];
	struct sealing sl = { 0 };
	struct vg_storage_options o = { dir, NULL };
	struct vg_storage_set *set;
	struct vg_selector sel;
	struct vg_series ser;
	struct vg_err err;
	pthread_t t;
	uint32_t id;
	bool is_new;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	sl.head = vg_head_new();
	o.head = sl.head;
	sl.dir = dir;
	ck_assert_int_eq(vg_storage_open(&o, &sl.st, &err), 0);
	vg_series_init(&ser, "snap");
	vg_series_add(&ser, "job", "seal");
	ck_assert_int_eq(vg_head_get_or_create(sl.head, &ser, vg_series_hash(&ser), &id, &is_new), 0);
	for (int i = 0; i < 500; i++) {
		int64_t ts = BASE_MS + i * 1000;
		double v = i;
		ck_assert_int_eq(vg_head_append(sl.head, 1, &id, &ts, &v), 0);
	}
	ck_assert_int_eq(vg_promql_parse_selector("snap", 4, &sel, NULL, &err), 0);
	ck_assert_int_eq(vg_storage_select(sl.st, &sel, INT64_MIN, INT64_MAX, VG_STORAGE_RES_RAW, &set, &err), 0);
	ck_assert_int_eq(vg_head_freeze(sl.head), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, seal_main, &sl), 0);
	usleep(100 * 1000); /* the seal publishes its block meanwhile */
	ck_assert_uint_eq(read_all(set), 500);
	ck_assert(!atomic_load(&sl.is_done)); /* it waits for the selection */
	vg_storage_set_free(set);
	pthread_join(t, NULL);
	ck_assert(atomic_load(&sl.is_done));
	ck_assert_uint_eq(vg_head_frozen_series(sl.head), 0);
	/* A selection made now finds them in the block. */
	ck_assert_int_eq(vg_storage_select(sl.st, &sel, INT64_MIN, INT64_MAX, VG_STORAGE_RES_RAW, &set, &err), 0);
	ck_assert_uint_eq(read_all(set), 500);
	vg_storage_set_free(set);
	vg_selector_release(&sel);
	vg_storage_close(sl.st);
	vg_head_free(sl.head);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *snapshot_suite(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("concurrent_writer");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_snapshot_excludes_every_later_kind_of_append);
	tcase_add_test(tc, test_read_sees_what_was_appended_before_it_began);
	tcase_add_test(tc, test_selection_outlives_a_seal_that_serves_its_samples_elsewhere);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(snapshot_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
