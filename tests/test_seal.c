/*
 * test_seal.c: sealing the head into block files (receiver/storage/seal.c)
 * on a real receiver. Samples imported over three block periods are
 * sealed by POST /api/v1/admin/seal into one raw block per period, still
 * answer every query, and survive a kill -9 once the WAL below the seal is
 * gone; samples that arrive after a seal come back from the WAL; SIGTERM
 * seals what is left; and the frozen head's reads and writes are checked
 * in-process.
 */
#include "config.h"

#include "tests/harness.h"
#include "common/err.h"
#include "common/log.h"
#include "common/selector.h"
#include "promql/parse.h"
#include "common/series.h"
#include "receiver/storage/head.h"
#include "receiver/storage/seal.h"
#include "receiver/storage/storage.h"

#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/banned.h"

#define PERIOD_S 7200
#define T0_S 1764028800L /* a block period boundary */

static char *dir;
static char data[600];
static struct vg_t_receiver rcv;

static size_t count_dir(const char *sub, const char *suffix)
{
	char path[700];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", data, sub);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), m = strlen(suffix);
		if (de->d_name[0] != '.' && l >= m && strcmp(de->d_name + l - m, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Imports series seal_m{s="0".."n_series-1"} every 10 s over [from, to). */
static void import_range(long from, long to, int n_series)
{
	size_t cap = (size_t)((to - from) / 10 + 1) * (size_t)n_series * 64, len = 0;
	char *body = malloc(cap);
	long status;
	char *reply;

	ck_assert_ptr_nonnull(body);
	for (long t = from; t < to; t += 10)
		for (int s = 0; s < n_series; s++)
			len += (size_t)snprintf(body + len, cap - len, "seal_m{s=\"%d\"} %ld %ld000\n", s,
						t % 1000, t);
	reply = vg_t_http_post(rcv.http_port, "/api/v1/import/prometheus", body, len, &status);
	ck_assert_ptr_nonnull(reply);
	ck_assert_int_eq(status, 204);
	free(reply);
	free(body);
}

static void seal(void)
{
	long status;
	char *reply = vg_t_http_post(rcv.http_port, "/api/v1/admin/seal", "", 0, &status);

	ck_assert_ptr_nonnull(reply);
	ck_assert_msg(status == 200, "seal: HTTP %ld: %s", status, reply);
	ck_assert_ptr_nonnull(strstr(reply, "\"success\""));
	free(reply);
}

static char *metrics(void)
{
	long status;
	char *m = vg_t_http_get(rcv.http_port, "/metrics", &status);

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(status, 200);
	return m;
}

static void restart(void)
{
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, "--retention=raw=100y,1m=100y,1h=100y"), 0);
}

/* Every sample up to last_s: a step of 10 s lands on each one, and the
 * lookback adds none before the end. */
static size_t count_all(long last_s)
{
	return vg_t_count_samples(rcv.http_port, "seal_m", T0_S, last_s, 10);
}

START_TEST(test_seal_writes_a_block_per_period_and_cuts_the_wal)
{
	char *m;

	dir = vg_t_tmpdir("vigil-seal");
	snprintf(data, sizeof(data), "%s/data", dir);
	restart();
	/* Three block periods of 3 series: the middle one starts at T0 + 2 h. */
	import_range(T0_S, T0_S + 2 * PERIOD_S + 600, 3);
	ck_assert_uint_eq(count_all(T0_S + 2 * PERIOD_S + 590), (size_t)(2 * PERIOD_S + 600) / 10 * 3);
	seal();
	/* One block per period, which the compaction after the seal joins:
	 * the day is long past, so its window is due at once. */
	ck_assert_uint_eq(count_dir("blocks/raw", ".vgb"), 1);
	{
		/* The WAL segment that held the samples is gone. */
		char seg[700];
		snprintf(seg, sizeof(seg), "%s/wal/00000001", data);
		ck_assert_int_ne(access(seg, F_OK), 0);
	}
	ck_assert_uint_eq(count_dir("blocks/raw", ".tmp"), 0);
	m = metrics();
	ck_assert_ptr_nonnull(strstr(m, "vigil_storage_tier_blocks{tier=\"raw\"} 1\n"));
	{
		char want[128];
		snprintf(want, sizeof(want), "vigil_storage_tier_points{tier=\"raw\"} %d\n",
			 (2 * PERIOD_S + 600) / 10 * 3);
		ck_assert_msg(strstr(m, want) != NULL, "want %s", want);
	}
	free(m);
	/* Every sample answers as before, now from the blocks. */
	ck_assert_uint_eq(count_all(T0_S + 2 * PERIOD_S + 590), (size_t)(2 * PERIOD_S + 600) / 10 * 3);

	/* More after the seal, then kill -9: the blocks and the WAL's
	 * checkpoint and tail give back everything. */
	import_range(T0_S + 2 * PERIOD_S + 600, T0_S + 2 * PERIOD_S + 1200, 4);
	vg_t_stop(&rcv.proc, SIGKILL, 5000); /* its status is the kill's */
	restart();
	ck_assert_uint_eq(count_all(T0_S + 2 * PERIOD_S + 1190), (size_t)(2 * PERIOD_S + 600) / 10 * 3 + 60 * 4);
	/* A second seal writes the new samples only; SIGTERM seals nothing
	 * new then, and the restart finds it all in blocks. */
	seal();
	ck_assert_uint_eq(count_dir("blocks/raw", ".vgb"), 1); /* compacted again */
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 30000), 0);
	restart();
	ck_assert_uint_eq(count_all(T0_S + 2 * PERIOD_S + 1190), (size_t)(2 * PERIOD_S + 600) / 10 * 3 + 60 * 4);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 30000), 0);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(test_seal_on_sigterm_leaves_everything_in_blocks)
{
	dir = vg_t_tmpdir("vigil-seal");
	snprintf(data, sizeof(data), "%s/data", dir);
	restart();
	import_range(T0_S, T0_S + 3600, 2);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 30000), 0);
	ck_assert(vg_t_log_contains(&rcv.proc, "sealed the head before exit"));
	ck_assert_uint_eq(count_dir("blocks/raw", ".vgb"), 1);
	restart();
	ck_assert_uint_eq(count_all(T0_S + 3590), 360 * 2);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 30000), 0);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

/* One receiver per data directory. A second one started on it while the
 * first runs (a restart that did not wait for the SIGTERM'd process's
 * last seal) used to replay the WAL while the first deleted what it had
 * sealed, and failed with "opening the WAL ...: No such file or
 * directory" (or, started earlier, appended to the same segments). It is
 * refused at once, names the owner, and touches nothing; once the first
 * has exited, it starts and finds everything. The second goes through a
 * symbolic link, so its log and port file are its own: the lock is the
 * directory's, whatever the path. */
START_TEST(test_second_receiver_on_the_data_dir_is_refused)
{
	struct vg_t_receiver second;
	char alias[700];

	dir = vg_t_tmpdir("vigil-seal");
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(alias, sizeof(alias), "%s/alias", dir);
	restart();
	import_range(T0_S, T0_S + 3600, 2);
	ck_assert_int_eq(symlink(data, alias), 0);
	memset(&second, 0, sizeof(second));
	ck_assert_int_ne(vg_t_receiver_start(&second, alias, "--retention=raw=100y,1m=100y,1h=100y"), 0);
	second.proc.pid = 0; /* exited, and reaped by the start's check */
	ck_assert(vg_t_log_contains(&second.proc, "is in use by another process"));
	ck_assert_uint_eq(count_all(T0_S + 3590), 360 * 2);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 30000), 0);
	ck_assert_int_eq(vg_t_receiver_start(&second, alias, "--retention=raw=100y,1m=100y,1h=100y"), 0);
	ck_assert_uint_eq(vg_t_count_samples(second.http_port, "seal_m", T0_S, T0_S + 3590, 10), 360 * 2);
	ck_assert_int_eq(vg_t_stop(&second.proc, SIGTERM, 30000), 0);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

/* --- in-process: the frozen head ------------------------------------------- */

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

static void head_put(struct vg_head *h, uint32_t id, int64_t t, double v)
{
	ck_assert_int_eq(vg_head_append(h, 1, &id, &t, &v), 0);
}

static size_t read_n(struct vg_head *h, uint32_t id)
{
	struct vg_samples smp = { 0 };
	size_t n;

	vg_head_rdlock(h);
	ck_assert_int_eq(vg_head_read_locked(h, id, INT64_MIN, INT64_MAX, &smp), 0);
	vg_head_unlock(h);
	for (size_t i = 1; i < smp.n; i++)
		ck_assert_int_lt(smp.ts_ms[i - 1], smp.ts_ms[i]);
	n = smp.n;
	vg_samples_release(&smp);
	return n;
}

START_TEST(test_frozen_head_reads_merge_then_the_seal_serves_them)
{
	struct vg_head *h = vg_head_new();
	struct vg_storage_options so = { NULL, h };
	struct vg_storage *st;
	struct vg_seal_stats ss;
	char tdir[256];
	struct vg_err err;
	uint32_t a, b, c;

	snprintf(tdir, sizeof(tdir), "/tmp/vg-test-seal-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	vg_log_set_level(VG_LOG_ERROR);
	so.data_dir = tdir;
	ck_assert_int_eq(vg_storage_open(&so, &st, &err), 0);
	a = head_add(h, "a");
	b = head_add(h, "b");
	for (int64_t t = 0; t < 600; t++)
		head_put(h, a, t * 1000, (double)t);
	head_put(h, b, 5000, 1);
	head_put(h, b, 3000, 1); /* late */
	ck_assert_int_eq(vg_head_freeze(h), 0);
	ck_assert_int_eq(vg_head_freeze(h), VG_EINVAL); /* one at a time */
	ck_assert_uint_eq(vg_head_frozen_series(h), 2);
	/* After the freeze: more samples, an old one among them, a new series. */
	head_put(h, a, 600000, 600);
	head_put(h, a, 2000, -1); /* the same time as a frozen one: stored once */
	c = head_add(h, "c");
	head_put(h, c, 1000, 1);
	ck_assert_uint_eq(read_n(h, a), 601);
	ck_assert_uint_eq(read_n(h, b), 2);
	ck_assert_uint_eq(read_n(h, c), 1);

	ck_assert_int_eq(vg_seal_frozen(h, st, tdir, 3600 * 1000, 42, NULL, &ss, &err), 0);
	ck_assert_uint_eq(ss.blocks - ss.rollup_blocks, 1);
	ck_assert_uint_eq(ss.samples, 602);
	ck_assert_uint_eq(vg_head_frozen_series(h), 0);
	/* Reads now find the frozen part in the block, through the storage. */
	{
		struct vg_storage_set *set;
		struct vg_samples smp = { 0 };
		struct vg_selector sel;

		ck_assert_int_eq(vg_promql_parse_selector("m", 1, &sel, NULL, &err), 0);
		ck_assert_int_eq(vg_storage_select(st, &sel, INT64_MIN, INT64_MAX, VG_STORAGE_RES_RAW, &set, &err), 0);
		ck_assert_uint_eq(vg_storage_set_len(set), 3);
		ck_assert_int_eq(vg_storage_set_read(set, 0, INT64_MIN, INT64_MAX, &smp, &err), 0);
		ck_assert_uint_eq(smp.n, 601);
		ck_assert(smp.values[2] == 2.0 || smp.values[2] == -1.0);
		vg_storage_set_free(set);
		vg_selector_release(&sel);
		vg_samples_release(&smp);
	}
	ck_assert_uint_eq(read_n(h, a), 2); /* the head keeps only what came after */
	vg_storage_close(st);
	vg_head_free(h);
	vg_t_rmrf(tdir);
}
END_TEST

static Suite *seal_suite(void)
{
	Suite *s = suite_create("seal");
	TCase *tc = tcase_create("daemon");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_seal_writes_a_block_per_period_and_cuts_the_wal);
	tcase_add_test(tc, test_seal_on_sigterm_leaves_everything_in_blocks);
	tcase_add_test(tc, test_second_receiver_on_the_data_dir_is_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("head");
	tcase_add_test(tc, test_frozen_head_reads_merge_then_the_seal_serves_them);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(seal_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
