/*
 * test_storage.c: the read interface (receiver/storage/storage.c) over the
 * head and raw block files: one series from several places read as one
 * ascending run with the head's sample winning a shared timestamp, the one
 * series order across places, time ranges that leave blocks out, label
 * listings as a union, damaged and misplaced blocks refused and counted
 * while the rest serve, half-written block files removed, and a block
 * added while a selection holds the old list; and a real receiver that
 * starts on a damaged block, or on a block in another tier's directory,
 * says so, and serves the rest.
 */
#include "config.h"

#include "tests/harness.h"
#include "receiver/storage/storage.h"
#include "receiver/storage/block_write.h"
#include "receiver/storage/chunk.h"
#include "receiver/storage/head.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/selector.h"
#include "promql/parse.h"
#include "common/series.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/banned.h"

static char tmpdir[256];

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vg-test-storage-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	vg_log_set_level(VG_LOG_ERROR);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void key_of(const char *name, const char *inst, struct vg_buf *key)
{
	struct vg_series s;

	vg_series_init(&s, name);
	if (inst)
		ck_assert_int_eq(vg_series_add(&s, "instance", inst), 0);
	ck_assert_int_eq(vg_series_canonicalize(&s, NULL), 0);
	vg_buf_reset(key);
	vg_series_key(&s, key);
}

static uint32_t head_add(struct vg_head *h, const char *name, const char *inst)
{
	struct vg_series s;
	uint32_t id;
	bool is_new;

	vg_series_init(&s, name);
	if (inst)
		ck_assert_int_eq(vg_series_add(&s, "instance", inst), 0);
	ck_assert_int_eq(vg_series_canonicalize(&s, NULL), 0);
	ck_assert_int_eq(vg_head_get_or_create(h, &s, vg_series_hash(&s), &id, &is_new), 0);
	return id;
}

static void head_put(struct vg_head *h, uint32_t id, int64_t t, double v)
{
	ck_assert_int_eq(vg_head_append(h, 1, &id, &t, &v), 0);
}

/* One series of a block: n points from t0 every step, value = t / 1000 + add. */
struct bseries {
	const char *name, *inst;
	int64_t t0, step;
	size_t n;
	double add;
};

/* Writes a raw block of the given series (in the one series order) to
 * <tmpdir>/blocks/raw/<file>. */
static void write_block(const char *file, int64_t min_t, int64_t max_t, const struct bseries *bs,
			size_t n_series)
{
	struct vg_block_writer_options o = { .tier = VG_TIER_RAW, .min_t = min_t, .max_t = max_t };
	struct vg_block_writer *w;
	struct vg_buf key = VG_BUF_INIT, ts = VG_BUF_INIT, vs = VG_BUF_INIT;
	char dir[512], path[1024];
	struct vg_err err;

	snprintf(dir, sizeof(dir), "%s/blocks/raw", tmpdir);
	ck_assert_int_eq(vg_fs_mkdir_p(dir, NULL, &err), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	ck_assert_msg(vg_block_writer_open(path, &o, &w, &err) == 0, "%s", err.msg);
	for (size_t i = 0; i < n_series; i++) {
		int64_t *t = malloc(bs[i].n * sizeof(*t) + 1);
		double *v = malloc(bs[i].n * sizeof(*v) + 1);
		struct vg_block_col cols[2];

		for (size_t j = 0; j < bs[i].n; j++) {
			t[j] = bs[i].t0 + (int64_t)j * bs[i].step;
			v[j] = (double)t[j] / 1000 + bs[i].add;
		}
		key_of(bs[i].name, bs[i].inst, &key);
		vg_buf_reset(&ts);
		vg_buf_reset(&vs);
		ck_assert_int_eq(vg_col_encode_ts(t, bs[i].n, &ts), 0);
		ck_assert_int_eq(vg_col_encode_f64(v, bs[i].n, &vs), 0);
		cols[0] = (struct vg_block_col){ ts.data, ts.len };
		cols[1] = (struct vg_block_col){ vs.data, vs.len };
		ck_assert_msg(vg_block_writer_add(w, key.data, key.len, t[0], t[bs[i].n - 1], bs[i].n,
						  cols, &err) == 0, "%s", err.msg);
		free(t);
		free(v);
	}
	ck_assert_msg(vg_block_writer_finish(w, NULL, &err) == 0, "%s", err.msg);
	vg_buf_release(&key);
	vg_buf_release(&ts);
	vg_buf_release(&vs);
}

static struct vg_storage *open_ok(struct vg_head *h)
{
	struct vg_storage_options o = { tmpdir, h };
	struct vg_storage *st;
	struct vg_err err;

	ck_assert_msg(vg_storage_open(&o, &st, &err) == 0, "%s", err.msg);
	return st;
}

static struct vg_storage_set *select_ok(struct vg_storage *st, const char *q, int64_t a, int64_t b)
{
	struct vg_storage_set *set;
	struct vg_selector sel;
	struct vg_err err;

	ck_assert_int_eq(vg_promql_parse_selector(q, strlen(q), &sel, NULL, &err), 0);
	ck_assert_msg(vg_storage_select(st, &sel, a, b, VG_STORAGE_RES_RAW, &set, &err) == 0, "%s", err.msg);
	vg_selector_release(&sel);
	return set;
}

static void assert_key(struct vg_storage_set *set, size_t i, const char *name, const char *inst)
{
	struct vg_buf want = VG_BUF_INIT;
	const uint8_t *key;
	size_t len;

	key_of(name, inst, &want);
	vg_storage_set_key(set, i, &key, &len);
	ck_assert_uint_eq(len, want.len);
	ck_assert_mem_eq(key, want.data, len);
	vg_buf_release(&want);
}

START_TEST(test_storage_head_and_blocks_read_as_one_series)
{
	/* Block 1: a at 0..9 s, b at 0..9 s. Block 2 (newer data): a at 10..19 s
	 * with a different value at 15 s than the head has. Head: a at 15..29 s,
	 * c at 0..4 s. */
	const struct bseries b1[] = { { "m", "a", 0, 1000, 10, 0 }, { "m", "b", 0, 1000, 10, 0.5 } };
	const struct bseries b2[] = { { "m", "a", 10000, 1000, 10, 100 } };
	struct vg_head *h = vg_head_new();
	struct vg_samples smp = { 0 };
	struct vg_storage_set *set;
	struct vg_storage *st;
	uint32_t a, c;

	write_block("0000000000000-0000000010000.vgb", 0, 10000, b1, 2);
	write_block("0000000010000-0000000020000.vgb", 10000, 20000, b2, 1);
	a = head_add(h, "m", "a");
	c = head_add(h, "m", "c");
	for (int64_t t = 15; t < 30; t++)
		head_put(h, a, t * 1000, (double)t);
	for (int64_t t = 0; t < 5; t++)
		head_put(h, c, t * 1000, -1);
	st = open_ok(h);

	set = select_ok(st, "m", INT64_MIN, INT64_MAX);
	ck_assert_uint_eq(vg_storage_set_len(set), 3);
	assert_key(set, 0, "m", "a");
	assert_key(set, 1, "m", "b");
	assert_key(set, 2, "m", "c");
	ck_assert_int_eq(vg_storage_set_read(set, 0, INT64_MIN, INT64_MAX, &smp, NULL), 0);
	ck_assert_uint_eq(smp.n, 30);
	for (size_t j = 0; j < smp.n; j++) {
		ck_assert_int_eq(smp.ts_ms[j], (int64_t)j * 1000);
		/* The block's values below 15 s, the head's from 15 s on. */
		ck_assert(smp.values[j] == (j < 10 ? (double)j : j < 15 ? (double)j + 100 : (double)j));
	}
	ck_assert_int_eq(vg_storage_set_read(set, 1, 2000, 4000, &smp, NULL), 0);
	ck_assert_uint_eq(smp.n, 3);
	ck_assert(smp.values[0] == 2.5 && smp.ts_ms[2] == 4000);
	ck_assert_int_eq(vg_storage_set_read(set, 2, INT64_MIN, INT64_MAX, &smp, NULL), 0);
	ck_assert_uint_eq(smp.n, 5);
	vg_storage_set_free(set);

	/* A range after both blocks: only the head is asked, b is not there. */
	set = select_ok(st, "m", 20000, 40000);
	ck_assert_uint_eq(vg_storage_set_len(set), 2);
	assert_key(set, 0, "m", "a");
	assert_key(set, 1, "m", "c");
	vg_storage_set_free(set);

	vg_samples_release(&smp);
	vg_storage_close(st);
	vg_head_free(h);
}
END_TEST

/* A selection of more head series than one thread keys (SELECT_PAR_MIN in
 * storage.c: two halves, merged), created out of key order, beside a block
 * that holds three of the keys, one of them only there, and a newer block
 * that holds one of them again: one sorted list, each key once, a key of
 * several places read from all of them. */
START_TEST(test_storage_large_selection_sorted_and_merged)
{
	const struct bseries b1[] = { { "m", "h00000", 0, 1000, 10, 0 },
				      { "m", "h05000x", 0, 1000, 10, 0 },
				      { "m", "h09999", 0, 1000, 10, 0 } };
	const struct bseries b2[] = { { "m", "h09999", 10000, 1000, 10, 0 } };
	struct vg_head *h = vg_head_new();
	struct vg_samples smp = { 0 };
	struct vg_storage_set *set;
	struct vg_storage *st;
	char inst[32];

	write_block("0000000000000-0000000010000.vgb", 0, 10000, b1, 3);
	write_block("0000000010000-0000000020000.vgb", 10000, 20000, b2, 1);
	for (uint32_t i = 0; i < 10000; i++) {
		uint32_t k = (i * 7919u) % 10000u;
		snprintf(inst, sizeof(inst), "h%05u", k);
		head_put(h, head_add(h, "m", inst), 20000, (double)k);
	}
	st = open_ok(h);
	set = select_ok(st, "m", INT64_MIN, INT64_MAX);
	ck_assert_uint_eq(vg_storage_set_len(set), 10001);
	for (size_t i = 0, k = 0; i < 10001; i++) {
		if (i == 5001) {
			assert_key(set, i, "m", "h05000x");
			continue;
		}
		snprintf(inst, sizeof(inst), "h%05zu", k++);
		assert_key(set, i, "m", inst);
	}
	ck_assert_int_eq(vg_storage_set_read(set, 0, INT64_MIN, INT64_MAX, &smp, NULL), 0);
	ck_assert_uint_eq(smp.n, 11);
	ck_assert_int_eq(smp.ts_ms[10], 20000);
	ck_assert_int_eq(vg_storage_set_read(set, 5001, INT64_MIN, INT64_MAX, &smp, NULL), 0);
	ck_assert_uint_eq(smp.n, 10);
	ck_assert_int_eq(vg_storage_set_read(set, 10000, INT64_MIN, INT64_MAX, &smp, NULL), 0);
	ck_assert_uint_eq(smp.n, 21);
	ck_assert_int_eq(smp.ts_ms[10], 10000);
	ck_assert_int_eq(smp.ts_ms[20], 20000);
	ck_assert(smp.values[20] == 9999.0);
	vg_storage_set_free(set);
	vg_samples_release(&smp);
	vg_storage_close(st);
	vg_head_free(h);
}
END_TEST

START_TEST(test_storage_labels_are_a_union)
{
	const struct bseries b1[] = { { "disk", "z", 0, 1000, 3, 0 } };
	struct vg_head *h = vg_head_new();
	struct vg_strset names, values;
	struct vg_storage *st;

	write_block("b.vgb", 0, 10000, b1, 1);
	head_add(h, "mem", "a");
	head_add(h, "mem", "z"); /* the same value as the block's */
	st = open_ok(h);
	ck_assert_int_eq(vg_storage_label_names(st, &names), 0);
	ck_assert_uint_eq(names.n, 2);
	ck_assert_int_eq(vg_str_cmp(names.v[0], vg_str_c("__name__")), 0);
	ck_assert_int_eq(vg_str_cmp(names.v[1], vg_str_c("instance")), 0);
	ck_assert_int_eq(vg_storage_label_values(st, "__name__", &values), 0);
	ck_assert_uint_eq(values.n, 2);
	ck_assert_int_eq(vg_str_cmp(values.v[0], vg_str_c("disk")), 0);
	ck_assert_int_eq(vg_str_cmp(values.v[1], vg_str_c("mem")), 0);
	vg_strset_release(&values);
	ck_assert_int_eq(vg_storage_label_values(st, "instance", &values), 0);
	ck_assert_uint_eq(values.n, 2);
	vg_strset_release(&values);
	ck_assert_int_eq(vg_storage_label_values(st, "nosuch", &values), 0);
	ck_assert_uint_eq(values.n, 0);
	vg_strset_release(&values);
	vg_strset_release(&names);
	vg_storage_close(st);
	vg_head_free(h);
}
END_TEST

static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, off), 1);
	b ^= 0x5a;
	ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

START_TEST(test_storage_damaged_block_refused_rest_served)
{
	const struct bseries good[] = { { "m", "good", 0, 1000, 10, 0 } };
	const struct bseries bad[] = { { "m", "bad", 0, 1000, 10, 0 } };
	struct vg_head *h = vg_head_new();
	struct vg_storage_stats stats;
	struct vg_storage_set *set;
	struct vg_storage *st;
	char path[1024], tmp[1024], wrong[1024];
	struct stat sb;
	FILE *f;

	write_block("good.vgb", 0, 10000, good, 1);
	write_block("bad.vgb", 0, 10000, bad, 1);
	snprintf(path, sizeof(path), "%s/blocks/raw/bad.vgb", tmpdir);
	ck_assert_int_eq(stat(path, &sb), 0);
	flip_byte(path, sb.st_size - 200); /* in the index sections */
	/* What a crash during a write leaves, and a block in the wrong tier. */
	snprintf(tmp, sizeof(tmp), "%s/blocks/raw/next.vgb.tmp", tmpdir);
	ck_assert_ptr_nonnull(f = fopen(tmp, "w"));
	fputs("half a block", f);
	fclose(f);
	snprintf(wrong, sizeof(wrong), "%s/blocks/1m", tmpdir);
	ck_assert_int_eq(vg_fs_mkdir_p(wrong, NULL, NULL), 0);
	snprintf(wrong, sizeof(wrong), "%s/blocks/1m/x.vgb", tmpdir);
	{
		char src[1024];
		snprintf(src, sizeof(src), "%s/blocks/raw/good.vgb", tmpdir);
		ck_assert_int_eq(link(src, wrong), 0);
	}

	st = open_ok(h);
	vg_storage_stats(st, &stats);
	ck_assert_uint_eq(stats.damaged_blocks, 2);
	ck_assert_uint_eq(stats.tier[VG_TIER_RAW].blocks, 1);
	ck_assert_uint_eq(stats.tier[VG_TIER_RAW].points, 10);
	ck_assert_uint_eq(stats.tier[VG_TIER_RAW].series, 1);
	ck_assert_int_eq(stats.tier[VG_TIER_RAW].oldest_ms, 0);
	ck_assert_int_eq(stats.tier[VG_TIER_RAW].newest_ms, 10000);
	ck_assert_uint_eq(stats.tier[VG_TIER_1M].blocks, 0);
	ck_assert_int_ne(access(tmp, F_OK), 0); /* removed */
	set = select_ok(st, "m", INT64_MIN, INT64_MAX);
	ck_assert_uint_eq(vg_storage_set_len(set), 1);
	assert_key(set, 0, "m", "good");
	vg_storage_set_free(set);
	vg_storage_close(st);
	vg_head_free(h);
}
END_TEST

START_TEST(test_storage_block_added_while_a_selection_reads)
{
	const struct bseries b1[] = { { "m", "a", 0, 1000, 10, 0 } };
	const struct bseries b2[] = { { "m", "a", 10000, 1000, 10, 0 } };
	struct vg_head *h = vg_head_new();
	struct vg_samples smp = { 0 };
	struct vg_storage_set *old, *now;
	struct vg_storage *st;
	char path[1024];
	struct vg_err err;

	write_block("1.vgb", 0, 10000, b1, 1);
	st = open_ok(h);
	old = select_ok(st, "m", INT64_MIN, INT64_MAX);
	write_block("2.vgb", 10000, 20000, b2, 1);
	snprintf(path, sizeof(path), "%s/blocks/raw/2.vgb", tmpdir);
	ck_assert_msg(vg_storage_add_block(st, path, &err) == 0, "%s", err.msg);
	now = select_ok(st, "m", INT64_MIN, INT64_MAX);
	ck_assert_int_eq(vg_storage_set_read(old, 0, INT64_MIN, INT64_MAX, &smp, NULL), 0);
	ck_assert_uint_eq(smp.n, 10);
	ck_assert_int_eq(vg_storage_set_read(now, 0, INT64_MIN, INT64_MAX, &smp, NULL), 0);
	ck_assert_uint_eq(smp.n, 20);
	vg_storage_set_free(old);
	vg_storage_close(st); /* a set may outlive the storage's list */
	ck_assert_int_eq(vg_storage_set_read(now, 0, 15000, INT64_MAX, &smp, NULL), 0);
	ck_assert_uint_eq(smp.n, 5);
	vg_storage_set_free(now);
	vg_samples_release(&smp);
	vg_head_free(h);
}
END_TEST

/* A receiver started on the good block (series m, instance "good", 30
 * samples, its value t / 1000) and one refused block (instance refused):
 * answers from the good one only, and /metrics counts the refused one as
 * damaged and its samples in no tier. */
static void check_served_around(const struct vg_t_receiver *rcv, const char *refused)
{
	char want[128], *body;
	long status;

	body = vg_t_http_get(rcv->http_port, "/api/v1/query_range?query=m&start=1000&end=1290&step=10",
			     &status);
	ck_assert_ptr_nonnull(body);
	ck_assert_int_eq(status, 200);
	ck_assert_ptr_nonnull(strstr(body, "\"instance\":\"good\""));
	snprintf(want, sizeof(want), "\"instance\":\"%s\"", refused);
	ck_assert_ptr_null(strstr(body, want));
	/* good's value at 1290 s is 1290 (t / 1000). */
	ck_assert_ptr_nonnull(strstr(body, "[1290,\"1290\"]"));
	free(body);
	body = vg_t_http_get(rcv->http_port, "/metrics", &status);
	ck_assert_ptr_nonnull(body);
	ck_assert_ptr_nonnull(strstr(body, "vigil_storage_damaged_blocks_total 1\n"));
	ck_assert_ptr_nonnull(strstr(body, "vigil_storage_tier_blocks{tier=\"raw\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(body, "vigil_storage_tier_points{tier=\"raw\"} 30\n"));
	/* The good block's rollups may reach the 1m and 1h tiers meanwhile
	 * (one bucket of 1h); the refused block's 30 samples are in none. */
	ck_assert_ptr_null(strstr(body, "vigil_storage_tier_points{tier=\"1h\"} 30\n"));
	free(body);
}

/* A real receiver on a data directory with a good and a damaged block:
 * it starts, names the damaged file and section in its log, counts it in
 * /metrics, and answers from the good block. */
START_TEST(test_storage_receiver_serves_around_a_damaged_block)
{
	const struct bseries good[] = { { "m", "good", 1000000, 10000, 30, 0 } };
	const struct bseries bad[] = { { "m", "bad", 1000000, 10000, 30, 0 } };
	char *dir = vg_t_tmpdir("vigil-storage");
	struct vg_t_receiver rcv;
	char path[1024];
	struct stat sb;

	snprintf(tmpdir, sizeof(tmpdir), "%s/data", dir);
	write_block("good.vgb", 1000000, 1300000, good, 1);
	write_block("bad.vgb", 1000000, 1300000, bad, 1);
	snprintf(path, sizeof(path), "%s/blocks/raw/bad.vgb", tmpdir);
	ck_assert_int_eq(stat(path, &sb), 0);
	flip_byte(path, sb.st_size - 200);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, tmpdir, "--retention=raw=100y"), 0);
	ck_assert(vg_t_log_contains(&rcv.proc, "bad.vgb"));
	ck_assert(vg_t_log_contains(&rcv.proc, "checksum mismatch"));

	check_served_around(&rcv, "bad");
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 5000), 0);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

/* Each tier has its own directory (DATA_DIR/blocks/<tier>), and a block
 * says its tier in its header: a block in another tier's directory (an
 * operator's copy gone wrong) is not served, the log names the file and
 * both tiers, /metrics counts it, the file is left where it is, and the
 * receiver serves the rest. */
START_TEST(test_storage_receiver_refuses_a_block_in_another_tiers_directory)
{
	const struct bseries good[] = { { "m", "good", 1000000, 10000, 30, 0 } };
	const struct bseries moved[] = { { "m", "moved", 1000000, 10000, 30, 0 } };
	char *dir = vg_t_tmpdir("vigil-storage");
	struct vg_t_receiver rcv;
	char from[1024], to[1024];

	snprintf(tmpdir, sizeof(tmpdir), "%s/data", dir);
	write_block("good.vgb", 1000000, 1300000, good, 1);
	write_block("moved.vgb", 1000000, 1300000, moved, 1);
	snprintf(from, sizeof(from), "%s/blocks/raw/moved.vgb", tmpdir);
	snprintf(to, sizeof(to), "%s/blocks/1h", tmpdir);
	ck_assert_int_eq(vg_fs_mkdir_p(to, NULL, NULL), 0);
	snprintf(to, sizeof(to), "%s/blocks/1h/moved.vgb", tmpdir);
	ck_assert_int_eq(rename(from, to), 0);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, tmpdir, "--retention=raw=100y,1m=100y,1h=100y"), 0);
	ck_assert(vg_t_log_contains(&rcv.proc, "moved.vgb holds tier raw but lies in the 1h directory"));

	check_served_around(&rcv, "moved");
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 5000), 0);
	ck_assert_int_eq(access(to, F_OK), 0); /* not the receiver's to delete */
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

/* Agents' samples older than max_sample_age or more than 10 minutes
 * ahead are refused and counted; the rest of the batch, and the ACK, go
 * on as usual. */
START_TEST(test_storage_receiver_refuses_samples_out_of_window)
{
	char *dir = vg_t_tmpdir("vigil-window");
	struct vg_t_receiver rcv;
	uint64_t acked = 0;
	int64_t now = vg_clock_now_ms(); /* the wall clock, as the receiver's */
	char *body;
	long status;
	int fd;

	snprintf(tmpdir, sizeof(tmpdir), "%s/data", dir);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, tmpdir, "--retention=raw=100y"), 0);
	fd = vg_t_connect(rcv.port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vg_t_hello(fd, "window-agent", 1, &acked), 0);
	vg_t_define_series(fd, "window_m", "w");
	vg_t_send_sample(fd, 1, now - 8LL * 24 * 3600 * 1000, 1); /* past max_sample_age */
	vg_t_send_sample(fd, 2, now + 3600 * 1000, 2);            /* an hour ahead */
	vg_t_send_sample(fd, 3, now, 3);
	ck_assert_uint_ge(vg_t_wait_ack(fd, 3), 3);
	close(fd);
	body = vg_t_http_get(rcv.http_port, "/metrics", &status);
	ck_assert_ptr_nonnull(body);
	ck_assert_ptr_nonnull(strstr(body, "vigil_receiver_samples_too_old_total 1\n"));
	ck_assert_ptr_nonnull(strstr(body, "vigil_receiver_samples_too_new_total 1\n"));
	/* What reached the WAL is counted (its series and three batches). */
	ck_assert_ptr_nonnull(strstr(body, "vigil_receiver_wal_bytes_total "));
	ck_assert_ptr_null(strstr(body, "vigil_receiver_wal_bytes_total 0\n"));
	free(body);
	{
		/* Only the sample of now is stored: one point, value 3. */
		char path[128];
		snprintf(path, sizeof(path), "/api/v1/query_range?query=window_m&start=%lld&end=%lld&step=120",
			 (long long)(now / 1000 - 9 * 24 * 3600), (long long)(now / 1000 + 7200));
		body = vg_t_http_get(rcv.http_port, path, &status);
		ck_assert_ptr_nonnull(body);
		ck_assert_int_eq(status, 200);
		ck_assert_ptr_nonnull(strstr(body, ",\"3\"]"));
		ck_assert_ptr_null(strstr(body, ",\"1\"]"));
		ck_assert_ptr_null(strstr(body, ",\"2\"]"));
		free(body);
	}
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 10000), 0);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

static Suite *storage_suite(void)
{
	Suite *s = suite_create("storage");
	TCase *tc = tcase_create("read");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_storage_head_and_blocks_read_as_one_series);
	tcase_add_test(tc, test_storage_large_selection_sorted_and_merged);
	tcase_add_test(tc, test_storage_labels_are_a_union);
	tcase_add_test(tc, test_storage_damaged_block_refused_rest_served);
	tcase_add_test(tc, test_storage_block_added_while_a_selection_reads);
	suite_add_tcase(s, tc);

	tc = tcase_create("daemon");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_storage_receiver_serves_around_a_damaged_block);
	tcase_add_test(tc, test_storage_receiver_refuses_a_block_in_another_tiers_directory);
	tcase_add_test(tc, test_storage_receiver_refuses_samples_out_of_window);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(storage_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
