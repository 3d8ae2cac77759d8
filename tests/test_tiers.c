/*
 * test_tiers.c: the tiers' lifecycle on a real receiver whose calendar
 * clock the test drives (testing_clock_file): 400 simulated days of
 * imports and seals, with compaction and retention between; the size
 * bound; and kill -9 in the middle of a compaction.
 */
#include "common/err.h"
#include "promql/parse.h"
#include "common/log.h"
#include "common/selector.h"
#include "receiver/storage/block_read.h"
#include "receiver/storage/head.h"
#include "receiver/storage/rollup.h"
#include "receiver/storage/storage.h"
#include "harness.h"

#include <check.h>
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/banned.h"

#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)
#define STEP_MS (10 * MIN_MS) /* one sample every 10 minutes */

static char *dir;
static char data[600], clock_path[600], config_path[600];
static struct vg_t_receiver rcv;

static void set_clock(int64_t ms)
{
	char tmp[700];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", clock_path);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%" PRId64 "\n", ms);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(rename(tmp, clock_path), 0);
}

static void setup_dir(const char *extra_config)
{
	FILE *f;

	dir = vg_t_tmpdir("vigil-tiers");
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(clock_path, sizeof(clock_path), "%s/clock", dir);
	snprintf(config_path, sizeof(config_path), "--config=%s/receiver.yaml", dir);
	f = fopen(config_path + strlen("--config="), "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "testing_clock_file: %s\n%s", clock_path, extra_config);
	ck_assert_int_eq(fclose(f), 0);
}

static void start(void)
{
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, config_path), 0);
}

/* tier_m{s="a"} = the sample's index since t0, every STEP_MS in [from, to). */
static void import_range(int64_t t0, int64_t from, int64_t to)
{
	size_t cap = (size_t)((to - from) / STEP_MS + 1) * 64, len = 0;
	char *body = malloc(cap);
	long status;
	char *reply;

	ck_assert_ptr_nonnull(body);
	for (int64_t t = from; t < to; t += STEP_MS)
		len += (size_t)snprintf(body + len, cap - len, "tier_m{s=\"a\"} %" PRId64 " %" PRId64 "\n",
					(int64_t)((t - t0) / STEP_MS), t);
	reply = vg_t_http_post(rcv.http_port, "/api/v1/import/prometheus", body, len, &status);
	ck_assert_ptr_nonnull(reply);
	ck_assert_msg(status == 204, "import: HTTP %ld: %s", status, reply);
	free(reply);
	free(body);
}

static void seal(void)
{
	long status;
	char *reply = vg_t_http_post(rcv.http_port, "/api/v1/admin/seal", "", 0, &status);

	ck_assert_ptr_nonnull(reply);
	ck_assert_msg(status == 200, "seal: HTTP %ld: %s", status, reply);
	free(reply);
}

struct dir_stats {
	size_t blocks, tmp;
	int64_t oldest_end, newest_end; /* of blocks' max_t */
	uint64_t bytes;
};

static struct dir_stats scan(const char *tier)
{
	struct dir_stats ds = { 0, 0, INT64_MAX, INT64_MIN, 0 };
	char path[800], file[1200];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/blocks/%s", data, tier);
	if ((d = opendir(path)) == NULL)
		return ds;
	while ((de = readdir(d)) != NULL) {
		long long a, b, st;
		struct stat sb;

		if (strstr(de->d_name, ".tmp"))
			ds.tmp++;
		if (sscanf(de->d_name, "%lld-%lld-%lld.vgb", &a, &b, &st) != 3)
			continue;
		ds.blocks++;
		if (b < ds.oldest_end)
			ds.oldest_end = b;
		if (b > ds.newest_end)
			ds.newest_end = b;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		if (stat(file, &sb) == 0)
			ds.bytes += (uint64_t)sb.st_size;
	}
	closedir(d);
	return ds;
}

/* Opens the data directory in this process (the receiver stopped). */
static struct vg_storage *open_storage(struct vg_head **h)
{
	struct vg_storage_options so;
	struct vg_storage *st;
	struct vg_err err;

	*h = vg_head_new();
	so.data_dir = data;
	so.head = *h;
	ck_assert_msg(vg_storage_open(&so, &st, &err) == 0, "%s", err.msg);
	return st;
}

static void read_buckets(struct vg_storage *st, int64_t res, int64_t a, int64_t b,
			 struct vg_buckets *out)
{
	struct vg_selector sel;
	struct vg_storage_set *set;
	struct vg_err err;

	ck_assert_int_eq(vg_promql_parse_selector("tier_m", 6, &sel, NULL, &err), 0);
	ck_assert_msg(vg_storage_select(st, &sel, a, b, res, &set, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(vg_storage_set_len(set), 1);
	ck_assert_msg(vg_storage_set_read_buckets(set, 0, a, b, out, &err) == 0, "%s", err.msg);
	vg_storage_set_free(set);
	vg_selector_release(&sel);
}

static size_t read_raw(struct vg_storage *st, int64_t a, int64_t b, int64_t *first_t)
{
	struct vg_selector sel;
	struct vg_storage_set *set;
	struct vg_samples smp = { 0 };
	struct vg_err err;
	size_t n = 0;

	ck_assert_int_eq(vg_promql_parse_selector("tier_m", 6, &sel, NULL, &err), 0);
	ck_assert_int_eq(vg_storage_select(st, &sel, a, b, VG_STORAGE_RES_RAW, &set, &err), 0);
	if (vg_storage_set_len(set) == 1) {
		ck_assert_int_eq(vg_storage_set_read(set, 0, a, b, &smp, &err), 0);
		n = smp.n;
		for (size_t i = 1; i < n; i++)
			ck_assert_int_eq(smp.ts_ms[i] - smp.ts_ms[i - 1], STEP_MS);
		if (n)
			*first_t = smp.ts_ms[0];
	}
	vg_samples_release(&smp);
	vg_storage_set_free(set);
	vg_selector_release(&sel);
	return n;
}

/* Buckets [from, to) of width w, one every w, each with `per` samples
 * whose values follow the index, the increase linking them: one
 * continuous series, nothing twice, nothing missing. */
static void check_continuous(const struct vg_buckets *b, int64_t t0, int64_t w, uint64_t per)
{
	ck_assert_uint_gt(b->n, 1);
	for (size_t i = 0; i < b->n; i++) {
		const struct vg_bucket *x = &b->v[i];
		ck_assert_int_eq(x->width_ms, w);
		if (i)
			ck_assert_msg(x->t_ms - b->v[i - 1].t_ms == w, "a gap or a repeat at %" PRId64, x->t_ms);
		ck_assert_msg(x->count == per, "bucket at %" PRId64 ": %" PRIu64 " samples", x->t_ms, x->count);
		ck_assert(x->first == (double)((x->t_ms - t0) / STEP_MS));
		ck_assert(x->last == x->first + (double)(per - 1));
		ck_assert(x->min == x->first && x->max == x->last);
		if (i)
			ck_assert(x->increase == (double)per); /* steps of 1, from the bucket before */
	}
}

START_TEST(test_tiers_lifecycle_over_400_simulated_days)
{
	int64_t now = (vg_t_now_ms() / DAY_MS) * DAY_MS, t0 = now - 400 * DAY_MS;
	const int64_t step = 40 * DAY_MS;
	struct vg_head *h;
	struct vg_storage *st;
	struct dir_stats raw, m1, h1;

	setup_dir("");
	set_clock(t0);
	start();
	/* Ten times: import 40 days up to the clock, seal (and so compact
	 * and apply retention), move the clock on 40 days. */
	for (int64_t from = t0; from < now; from += step) {
		set_clock(from + step);
		import_range(t0, from, from + step);
		seal();
	}
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 30000), 0);
	raw = scan("raw");
	m1 = scan("1m");
	h1 = scan("1h");
	ck_assert_uint_eq(raw.tmp + m1.tmp + h1.tmp, 0);
	ck_assert_uint_gt(raw.blocks, 0);
	ck_assert_uint_gt(m1.blocks, 0);
	ck_assert_uint_gt(h1.blocks, 0);
	/* Nothing wholly past its tier's retention is left... */
	ck_assert_int_gt(raw.oldest_end, now - 7 * DAY_MS);
	ck_assert_int_gt(m1.oldest_end, now - 30 * DAY_MS);
	ck_assert_int_gt(h1.oldest_end, now - 365 * DAY_MS);
	/* ... and what is left is not much more than the retention. */
	ck_assert_int_le(raw.oldest_end, now - 6 * DAY_MS);
	ck_assert_int_le(m1.oldest_end, now - 29 * DAY_MS);
	/* Compaction left few blocks: days for raw and 1m, 30 days for 1h,
	 * and the last day's 12 two-hour blocks, not complete yet. */
	ck_assert_uint_le(raw.blocks, 6 + 12);
	ck_assert_uint_le(m1.blocks, 29 + 12);
	ck_assert_uint_le(h1.blocks, 14 + 6 + 12);

	st = open_storage(&h);
	{
		int64_t first = 0;
		size_t n = read_raw(st, INT64_MIN, INT64_MAX, &first);
		ck_assert_int_gt(first, now - 8 * DAY_MS);
		ck_assert_int_le(first, now - 7 * DAY_MS);
		ck_assert_uint_eq(n, (size_t)((now - first) / STEP_MS));
	}
	{
		/* A year at 1h: one continuous series, 1h and 1m and raw
		 * stitched where they meet. */
		struct vg_buckets b = { 0 };
		int64_t a = now - 364 * DAY_MS;
		read_buckets(st, VG_STORAGE_RES_1H, a, now - 1, &b);
		ck_assert_int_eq(b.v[0].t_ms, a);
		ck_assert_int_eq(b.v[b.n - 1].t_ms, now - HOUR_MS);
		check_continuous(&b, t0, HOUR_MS, HOUR_MS / STEP_MS);
		vg_buckets_release(&b);
		/* The last 29 days at 1m: a bucket per sample. */
		a = now - 29 * DAY_MS;
		read_buckets(st, VG_STORAGE_RES_1M, a, now - 1, &b);
		ck_assert_int_eq(b.v[0].t_ms, a);
		ck_assert_uint_eq(b.n, (size_t)(29 * DAY_MS / STEP_MS));
		for (size_t i = 0; i < b.n; i++) {
			ck_assert_int_eq(b.v[i].width_ms, MIN_MS);
			ck_assert_int_eq(b.v[i].t_ms, a + (int64_t)i * STEP_MS);
			ck_assert_uint_eq(b.v[i].count, 1);
		}
		vg_buckets_release(&b);
		/* 100 days ago at 1m: only the 1h tier still holds it. */
		read_buckets(st, VG_STORAGE_RES_1M, now - 100 * DAY_MS, now - 90 * DAY_MS - 1, &b);
		check_continuous(&b, t0, HOUR_MS, HOUR_MS / STEP_MS);
		ck_assert_uint_eq(b.n, 240);
		vg_buckets_release(&b);
	}
	vg_storage_close(st);
	vg_head_free(h);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(test_tiers_size_bound_deletes_the_oldest_blocks_first)
{
	int64_t now = (vg_t_now_ms() / DAY_MS) * DAY_MS, t0 = now - 300 * DAY_MS;
	struct dir_stats before, raw, m1, h1;

	setup_dir("");
	set_clock(now);
	start();
	import_range(t0, t0, now);
	seal();
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 30000), 0);
	before = scan("1h");
	raw = scan("raw");
	m1 = scan("1m");
	ck_assert_uint_gt(before.blocks, 5);
	{
		/* Restarted with a bound of half of what is there: at start,
		 * the oldest go (the 1h tier's), the newest stay. */
		FILE *f = fopen(config_path + strlen("--config="), "a");
		ck_assert_ptr_nonnull(f);
		fprintf(f, "retention_size: %" PRIu64 "\n", (before.bytes + raw.bytes + m1.bytes) / 2);
		ck_assert_int_eq(fclose(f), 0);
	}
	start();
	{
		int64_t deadline = vg_t_now_ms() + 10000;
		while (scan("1h").blocks == before.blocks && vg_t_now_ms() < deadline)
			vg_t_sleep_ms(50);
	}
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 30000), 0);
	h1 = scan("1h");
	ck_assert_uint_lt(h1.blocks, before.blocks);
	ck_assert_int_gt(h1.oldest_end, before.oldest_end);
	ck_assert_uint_le(h1.bytes + scan("raw").bytes + scan("1m").bytes,
			  (before.bytes + raw.bytes + m1.bytes) / 2);
	ck_assert_int_eq(scan("raw").newest_end, raw.newest_end); /* the newest stay */
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

/* A compaction stalls after each output it publishes; kill -9 while it
 * does. The restart leaves no half-written file, removes what the
 * compacted blocks replace, and every sample is there once, in raw and
 * in the rollups. */
START_TEST(test_tiers_kill_during_compaction_leaves_no_half_state)
{
	int64_t now = (vg_t_now_ms() / DAY_MS) * DAY_MS, t0 = now - 3 * DAY_MS;
	struct vg_head *h;
	struct vg_storage *st;
	pid_t child;
	bool is_mid = false;

	setup_dir("testing_compact_stall: 5s\n");
	set_clock(now + HOUR_MS * 3);
	start();
	import_range(t0, t0, now);
	/* The seal's answer waits for the compaction: ask from a child. */
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		long status;
		char *r = vg_t_http_post(rcv.http_port, "/api/v1/admin/seal", "", 0, &status);
		free(r);
		_exit(0);
	}
	{
		int64_t deadline = vg_t_now_ms() + 20000;
		while (!is_mid && vg_t_now_ms() < deadline) {
			/* A day-long 1m block is a compaction's first output. */
			char path[800];
			struct dirent *de;
			DIR *d;
			snprintf(path, sizeof(path), "%s/blocks/1m", data);
			if ((d = opendir(path)) != NULL) {
				while ((de = readdir(d)) != NULL) {
					long long a, b, s;
					if (sscanf(de->d_name, "%lld-%lld-%lld.vgb", &a, &b, &s) == 3 &&
					    b - a == DAY_MS)
						is_mid = true;
				}
				closedir(d);
			}
			if (!is_mid)
				vg_t_sleep_ms(20);
		}
	}
	ck_assert_msg(is_mid, "no compaction output appeared");
	vg_t_stop(&rcv.proc, SIGKILL, 5000);
	waitpid(child, NULL, 0);

	/* Opened as it was left: the replaced inputs are removed at open, so
	 * reads count every sample once. */
	st = open_storage(&h);
	{
		int64_t first = 0;
		struct vg_buckets b = { 0 };
		ck_assert_uint_eq(read_raw(st, INT64_MIN, INT64_MAX, &first), (size_t)(3 * DAY_MS / STEP_MS));
		read_buckets(st, VG_STORAGE_RES_1H, t0, now - 1, &b);
		ck_assert_int_eq(b.v[0].t_ms, t0);
		ck_assert_uint_eq(b.n, 72);
		check_continuous(&b, t0, HOUR_MS, HOUR_MS / STEP_MS);
		read_buckets(st, VG_STORAGE_RES_1M, t0, now - 1, &b);
		ck_assert_uint_eq(b.n, (size_t)(3 * DAY_MS / STEP_MS));
		vg_buckets_release(&b);
	}
	vg_storage_close(st);
	vg_head_free(h);
	ck_assert_uint_eq(scan("raw").tmp + scan("1m").tmp + scan("1h").tmp, 0);

	/* The receiver again, without the stall: the compaction is done
	 * again at start, and the answers are the same. */
	{
		FILE *f = fopen(config_path + strlen("--config="), "w");
		ck_assert_ptr_nonnull(f);
		fprintf(f, "testing_clock_file: %s\n", clock_path);
		ck_assert_int_eq(fclose(f), 0);
	}
	start();
	seal();
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 30000), 0);
	ck_assert_uint_le(scan("raw").blocks, 3);
	st = open_storage(&h);
	{
		int64_t first = 0;
		struct vg_buckets b = { 0 };
		ck_assert_uint_eq(read_raw(st, INT64_MIN, INT64_MAX, &first), (size_t)(3 * DAY_MS / STEP_MS));
		read_buckets(st, VG_STORAGE_RES_1H, t0, now - 1, &b);
		ck_assert_uint_eq(b.n, 72);
		check_continuous(&b, t0, HOUR_MS, HOUR_MS / STEP_MS);
		vg_buckets_release(&b);
	}
	vg_storage_close(st);
	vg_head_free(h);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

/* The sample-age window of agents' batches follows the driven clock: set
 * 30 days back, a sample of the real now is from the future, one 8 days
 * before the clock is too old, one an hour before it is stored. */
START_TEST(test_tiers_sample_age_window_follows_the_driven_clock)
{
	int64_t real = vg_t_now_ms(), clock = real - 30 * DAY_MS;
	long status;
	char *m;
	int fd;

	setup_dir("");
	set_clock(clock);
	start();
	fd = vg_t_connect(rcv.port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vg_t_hello(fd, "clock-agent", 1, NULL), 0);
	vg_t_define_series(fd, "clock_m", "tiers");
	vg_t_send_sample(fd, 1, real, 1);
	vg_t_send_sample(fd, 2, clock - 8 * DAY_MS, 2);
	vg_t_send_sample(fd, 3, clock - HOUR_MS, 3);
	ck_assert_uint_ge(vg_t_wait_ack(fd, 3), 3);
	close(fd);
	m = vg_t_http_get(rcv.http_port, "/metrics", &status);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(strstr(m, "vigil_receiver_samples_too_new_total 1\n"));
	ck_assert_ptr_nonnull(strstr(m, "vigil_receiver_samples_too_old_total 1\n"));
	free(m);
	ck_assert_uint_eq(vg_t_count_samples(rcv.http_port, "clock_m", (clock - 2 * HOUR_MS) / 1000,
					     (clock - HOUR_MS) / 1000, 1),
			  1);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 30000), 0);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

/* --retention and the retention keys, through --check-config. */
static int check_config(const char *file_text, const char *flag, char **err_out)
{
	char path[700], cfg_arg[720];
	char *out = NULL, *err = NULL;
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/check.yaml", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(file_text, f);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(cfg_arg, sizeof(cfg_arg), "--config=%s", path);
	char *argv[] = { (char *)vg_t_bin("vigil-receiver"), cfg_arg, "--check-config", "--data-dir", dir,
			 (char *)flag, NULL };
	rc = vg_t_run(argv, &out, &err, 10000);
	free(out);
	*err_out = err;
	return rc;
}

START_TEST(test_tiers_retention_settings_parse_or_say_why_not)
{
	char *err;

	dir = vg_t_tmpdir("vigil-tiers");
	ck_assert_int_eq(check_config("retention: {raw: 7d, 1m: 30d, 1h: 365d}\nretention_size: 50GB\n", NULL, &err), 0);
	free(err);
	ck_assert_int_eq(check_config("retention:\n  raw: 2d\n", "--retention=raw=1d,1h=2y", &err), 0);
	free(err);
	ck_assert_int_ne(check_config("retention: {raw: 7x}\n", NULL, &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "raw"));
	free(err);
	ck_assert_int_ne(check_config("retention: {2h: 7d}\n", NULL, &err), 0);
	free(err);
	ck_assert_int_ne(check_config("", "--retention=raw=1d,raw=2d", &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "twice"));
	free(err);
	ck_assert_int_ne(check_config("", "--retention=5m=1d", &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "no tier"));
	free(err);
	ck_assert_int_ne(check_config("", "--retention=raw=30m", &err), 0);
	free(err);
	ck_assert_int_ne(check_config("", "--retention=raw", &err), 0);
	free(err);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tiers");
	TCase *tc = tcase_create("daemon");
	SRunner *sr;
	int failed;

	vg_log_set_level(VG_LOG_ERROR);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_tiers_retention_settings_parse_or_say_why_not);
	tcase_add_test(tc, test_tiers_sample_age_window_follows_the_driven_clock);
	tcase_add_test(tc, test_tiers_lifecycle_over_400_simulated_days);
	tcase_add_test(tc, test_tiers_size_bound_deletes_the_oldest_blocks_first);
	tcase_add_test(tc, test_tiers_kill_during_compaction_leaves_no_half_state);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
