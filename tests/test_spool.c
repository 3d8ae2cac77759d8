/*
 * test_spool.c: the agent's spool (agent/spool.h), in memory and on disk:
 * order, acknowledgement, overflow counted, and what a restart on a spool
 * directory finds: the epoch, the next seq, the dictionary's keys and the
 * unacknowledged batches, also after a torn tail or a damaged file.
 */
#include "agent/dict.h"
#include "agent/spool.h"
#include "common/err.h"
#include "common/series.h"
#include "tests/harness.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp;
static char dir[600];

static void setup(void)
{
	tmp = vg_t_tmpdir("vigil-spool");
	snprintf(dir, sizeof(dir), "%s/spool", tmp);
}

static void teardown(void)
{
	vg_t_rmrf(tmp);
	free(tmp);
}

/* A fake frame of len bytes whose bytes say its seq. */
static void append(struct vg_spool *sp, uint64_t seq, uint32_t n_refs, size_t len)
{
	uint8_t frame[4096];
	struct vg_spool_batch b = { seq, n_refs, 10, len, frame };
	struct vg_err err;

	ck_assert_uint_le(len, sizeof(frame));
	memset(frame, (int)(seq & 0xff), len);
	ck_assert_msg(vg_spool_append(sp, &b, &err) == 0, "append: %s", err.msg);
}

/* Reads the next batch and checks it is seq. */
static void expect_next(struct vg_spool *sp, uint64_t seq)
{
	struct vg_spool_batch b;
	struct vg_err err;

	ck_assert_int_eq(vg_spool_next(sp, &b, &err), 0);
	ck_assert_uint_eq(b.seq, seq);
	ck_assert_uint_gt(b.len, 0);
	ck_assert_uint_eq(b.frame[0], seq & 0xff);
	ck_assert_uint_eq(b.frame[b.len - 1], seq & 0xff);
}

static void expect_end(struct vg_spool *sp)
{
	struct vg_spool_batch b;
	struct vg_err err;

	ck_assert_int_eq(vg_spool_next(sp, &b, &err), 1);
}

static struct vg_spool *open_spool(const char *d, uint64_t max, struct vg_dict *dict,
				   struct vg_spool_resume *res)
{
	struct vg_spool_options o = { d, max };
	struct vg_spool *sp = NULL;
	struct vg_err err;

	vg_dict_init(dict);
	ck_assert_msg(vg_spool_open(&o, dict, &sp, res, &err) == 0, "open: %s", err.msg);
	return sp;
}

static void add_series(struct vg_spool *sp, struct vg_dict *dict, const char *name)
{
	struct vg_series s;
	struct vg_err err;
	uint32_t ref;
	bool is_new;
	const uint8_t *key;
	size_t len;

	vg_series_init(&s, name);
	ck_assert_int_eq(vg_series_add(&s, "instance", "h"), 0);
	ck_assert_int_eq(vg_series_canonicalize(&s, &err), 0);
	ck_assert_int_eq(vg_dict_ref(dict, &s, vg_series_hash(&s), &ref, &is_new), 0);
	ck_assert(is_new);
	key = vg_dict_key(dict, ref, &len);
	ck_assert_int_eq(vg_spool_add_series(sp, key, len, &err), 0);
}

START_TEST(test_memory_order_ack_rewind)
{
	struct vg_dict dict;
	struct vg_spool_resume res;
	struct vg_spool *sp = open_spool(NULL, 1 << 20, &dict, &res);
	struct vg_spool_stats st;

	ck_assert(!res.is_resumed);
	ck_assert_uint_eq(res.next_seq, 1);
	ck_assert(vg_spool_is_empty(sp));
	for (uint64_t i = 1; i <= 5; i++)
		append(sp, i, 0, 100);
	expect_next(sp, 1);
	expect_next(sp, 2);
	/* An ACK for 2; a reconnect rewinds to the oldest unacknowledged. */
	ck_assert_uint_eq(vg_spool_ack(sp, 2), 2);
	ck_assert_uint_eq(vg_spool_first_seq(sp), 3);
	vg_spool_rewind(sp);
	expect_next(sp, 3);
	expect_next(sp, 4);
	expect_next(sp, 5);
	expect_end(sp);
	append(sp, 6, 0, 100);
	expect_next(sp, 6);
	vg_spool_get_stats(sp, &st);
	ck_assert_uint_eq(st.batches, 4);
	ck_assert_uint_eq(vg_spool_ack(sp, 6), 4);
	ck_assert(vg_spool_is_empty(sp));
	ck_assert_uint_eq(vg_spool_ack(sp, 6), 0); /* a repeated ACK */
	vg_spool_get_stats(sp, &st);
	ck_assert_uint_eq(st.batches, 0);
	ck_assert_uint_eq(st.bytes, 0);
	ck_assert_uint_eq(st.batches_dropped, 0);
	vg_spool_free(sp);
	vg_dict_release(&dict);
}
END_TEST

START_TEST(test_overflow_drops_oldest_and_counts)
{
	struct vg_dict dict;
	struct vg_spool_resume res;
	/* 64 KiB segments, a 128 KiB bound: 4000-byte batches. */
	struct vg_spool *sp = open_spool(dir, 128 << 10, &dict, &res);
	struct vg_spool_stats st;
	uint64_t n = 200;

	for (uint64_t i = 1; i <= n; i++)
		append(sp, i, 0, 4000);
	vg_spool_get_stats(sp, &st);
	ck_assert_uint_le(st.bytes, 128 << 10);
	ck_assert_uint_gt(st.batches_dropped, 0);
	/* Nothing uncounted: kept + dropped = appended. */
	ck_assert_uint_eq(st.batches + st.batches_dropped, n);
	ck_assert_uint_eq(st.samples_dropped, st.batches_dropped * 10);
	/* What is left is the newest, in order. */
	uint64_t first = vg_spool_first_seq(sp);
	ck_assert_uint_eq(first, n - st.batches + 1);
	for (uint64_t i = first; i <= n; i++)
		expect_next(sp, i);
	expect_end(sp);
	vg_spool_free(sp);
	vg_dict_release(&dict);
}
END_TEST

START_TEST(test_refuse_drops_first_only)
{
	struct vg_dict dict;
	struct vg_spool_resume res;
	struct vg_spool *sp = open_spool(NULL, 1 << 20, &dict, &res);
	struct vg_spool_stats st;

	append(sp, 1, 0, 50);
	append(sp, 2, 0, 50);
	ck_assert(!vg_spool_refuse(sp, 2)); /* not the first */
	ck_assert(vg_spool_refuse(sp, 1));
	vg_spool_get_stats(sp, &st);
	ck_assert_uint_eq(st.batches, 1);
	ck_assert_uint_eq(st.batches_dropped, 1);
	ck_assert_uint_eq(st.samples_dropped, 10);
	vg_spool_rewind(sp);
	expect_next(sp, 2);
	vg_spool_free(sp);
	vg_dict_release(&dict);
}
END_TEST

START_TEST(test_disk_resume_epoch_seq_keys_batches)
{
	struct vg_dict dict;
	struct vg_spool_resume res, res2;
	struct vg_spool *sp = open_spool(dir, 1 << 20, &dict, &res);
	const uint8_t *k0, *k1;
	size_t l0, l1;

	ck_assert(!res.is_resumed);
	add_series(sp, &dict, "a_metric");
	add_series(sp, &dict, "b_metric");
	for (uint64_t i = res.next_seq; i < res.next_seq + 6; i++)
		append(sp, i, 2, 300);
	ck_assert_uint_eq(vg_spool_ack(sp, 3), 3);
	/* Gone without a word, as after SIGKILL: only the memory goes. */
	vg_spool_free(sp);
	vg_dict_release(&dict);

	sp = open_spool(dir, 1 << 20, &dict, &res2);
	ck_assert(res2.is_resumed);
	ck_assert_uint_eq(res2.epoch, res.epoch);
	ck_assert_uint_eq(res2.next_seq, 7);
	ck_assert_uint_eq(res2.batches, 3);
	ck_assert_uint_eq(dict.n_refs, 2);
	k0 = vg_dict_key(&dict, 0, &l0);
	k1 = vg_dict_key(&dict, 1, &l1);
	ck_assert(l0 > 8 && memcmp(k0, "a_metric", 8) == 0);
	ck_assert(l1 > 8 && memcmp(k1, "b_metric", 8) == 0);
	expect_next(sp, 4);
	expect_next(sp, 5);
	expect_next(sp, 6);
	expect_end(sp);
	/* New batches continue the numbering in a new segment. */
	append(sp, 7, 2, 300);
	expect_next(sp, 7);
	ck_assert_uint_eq(vg_spool_ack(sp, 7), 4);
	vg_spool_free(sp);
	vg_dict_release(&dict);

	/* All acknowledged: the same epoch, the next seq, a fresh dictionary. */
	sp = open_spool(dir, 1 << 20, &dict, &res2);
	ck_assert(res2.is_resumed);
	ck_assert_uint_eq(res2.epoch, res.epoch);
	ck_assert_uint_eq(res2.next_seq, 8);
	ck_assert_uint_eq(res2.batches, 0);
	ck_assert_uint_eq(dict.n_refs, 0);
	expect_end(sp);
	vg_spool_free(sp);
	vg_dict_release(&dict);
}
END_TEST

/* The path of the one segment file in dir. */
static void only_segment(char *out, size_t size)
{
	char cmd[1400];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls %s | grep '^seg-' | tail -n1", dir);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	char name[64] = "";
	ck_assert_ptr_nonnull(fgets(name, sizeof(name), p));
	pclose(p);
	name[strcspn(name, "\n")] = '\0';
	snprintf(out, size, "%s/%s", dir, name);
}

START_TEST(test_disk_torn_tail_is_cut)
{
	struct vg_dict dict;
	struct vg_spool_resume res;
	struct vg_spool *sp = open_spool(dir, 1 << 20, &dict, &res);
	struct vg_spool_stats st;
	char seg[1400];
	struct stat sb;

	for (uint64_t i = 1; i <= 4; i++)
		append(sp, i, 0, 500);
	vg_spool_free(sp);
	vg_dict_release(&dict);
	only_segment(seg, sizeof(seg));
	ck_assert_int_eq(stat(seg, &sb), 0);
	/* A crash in the middle of writing batch 4. */
	ck_assert_int_eq(truncate(seg, sb.st_size - 100), 0);

	sp = open_spool(dir, 1 << 20, &dict, &res);
	ck_assert(res.is_resumed);
	ck_assert_uint_eq(res.batches, 3);
	expect_next(sp, 1);
	expect_next(sp, 2);
	expect_next(sp, 3);
	expect_end(sp);
	vg_spool_get_stats(sp, &st);
	ck_assert_uint_eq(st.batches_dropped, 1);
	/* The numbering does not reuse what may have reached a receiver. */
	ck_assert_uint_ge(res.next_seq, 4);
	vg_spool_free(sp);
	vg_dict_release(&dict);
}
END_TEST

START_TEST(test_disk_garbled_record_drops_rest_of_segment)
{
	struct vg_dict dict;
	struct vg_spool_resume res;
	struct vg_spool *sp = open_spool(dir, 1 << 20, &dict, &res);
	char seg[1400];
	int fd;

	for (uint64_t i = 1; i <= 4; i++)
		append(sp, i, 0, 500);
	vg_spool_free(sp);
	vg_dict_release(&dict);
	only_segment(seg, sizeof(seg));
	/* Flip a byte inside batch 2's frame (records are 24 + 500 bytes). */
	fd = open(seg, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "\x55", 1, 524 + 24 + 10), 1);
	close(fd);

	sp = open_spool(dir, 1 << 20, &dict, &res);
	ck_assert_uint_eq(res.batches, 1);
	expect_next(sp, 1);
	expect_end(sp);
	vg_spool_free(sp);
	vg_dict_release(&dict);
}
END_TEST

START_TEST(test_disk_bad_state_starts_new_epoch)
{
	struct vg_dict dict;
	struct vg_spool_resume res, res2;
	struct vg_spool *sp = open_spool(dir, 1 << 20, &dict, &res);
	char path[1400];
	FILE *f;

	append(sp, 1, 0, 100);
	vg_spool_free(sp);
	vg_dict_release(&dict);
	snprintf(path, sizeof(path), "%s/state", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("garbage", f);
	fclose(f);

	sp = open_spool(dir, 1 << 20, &dict, &res2);
	ck_assert(!res2.is_resumed);
	ck_assert_uint_eq(res2.next_seq, 1);
	ck_assert(vg_spool_is_empty(sp));
	expect_end(sp);
	vg_spool_free(sp);
	vg_dict_release(&dict);
}
END_TEST

START_TEST(test_disk_batch_needing_lost_keys_is_dropped)
{
	struct vg_dict dict;
	struct vg_spool_resume res;
	struct vg_spool *sp = open_spool(dir, 1 << 20, &dict, &res);
	char path[1400];

	add_series(sp, &dict, "a_metric");
	append(sp, 1, 1, 100);
	add_series(sp, &dict, "b_metric");
	append(sp, 2, 2, 100);
	vg_spool_free(sp);
	vg_dict_release(&dict);
	/* The series file loses its second key. */
	snprintf(path, sizeof(path), "%s/series", dir);
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(truncate(path, sb.st_size - 3), 0);

	sp = open_spool(dir, 1 << 20, &dict, &res);
	ck_assert_uint_eq(dict.n_refs, 1);
	ck_assert_uint_eq(res.batches, 1);
	expect_next(sp, 1);
	expect_end(sp);
	vg_spool_free(sp);
	vg_dict_release(&dict);
}
END_TEST

START_TEST(test_disk_unusable_dir_is_an_error)
{
	struct vg_spool_options o = { "/proc/no-such/spool", 1 << 20 };
	struct vg_spool_resume res;
	struct vg_spool *sp = NULL;
	struct vg_dict dict;
	struct vg_err err;

	vg_dict_init(&dict);
	ck_assert_int_eq(vg_spool_open(&o, &dict, &sp, &res, &err), VG_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "/proc/no-such/spool"));
	vg_dict_release(&dict);
}
END_TEST

START_TEST(test_disk_dir_in_use_is_refused)
{
	struct vg_spool_options o = { dir, 1 << 20 };
	struct vg_spool_resume res;
	struct vg_spool *sp, *again = NULL;
	struct vg_dict dict, dict2;
	struct vg_err err;

	sp = open_spool(dir, 1 << 20, &dict, &res);
	vg_dict_init(&dict2);
	ck_assert_int_eq(vg_spool_open(&o, &dict2, &again, &res, &err), VG_EAGAIN);
	ck_assert_ptr_nonnull(strstr(err.msg, "in use by another process"));
	ck_assert_ptr_null(again);
	vg_spool_free(sp);
	vg_dict_release(&dict);
	/* Free again once the first is closed. */
	sp = open_spool(dir, 1 << 20, &dict, &res);
	vg_spool_free(sp);
	vg_dict_release(&dict);
	vg_dict_release(&dict2);
}
END_TEST

static Suite *spool_suite(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("spool");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_memory_order_ack_rewind);
	tcase_add_test(tc, test_overflow_drops_oldest_and_counts);
	tcase_add_test(tc, test_refuse_drops_first_only);
	tcase_add_test(tc, test_disk_resume_epoch_seq_keys_batches);
	tcase_add_test(tc, test_disk_torn_tail_is_cut);
	tcase_add_test(tc, test_disk_garbled_record_drops_rest_of_segment);
	tcase_add_test(tc, test_disk_bad_state_starts_new_epoch);
	tcase_add_test(tc, test_disk_batch_needing_lost_keys_is_dropped);
	tcase_add_test(tc, test_disk_unusable_dir_is_an_error);
	tcase_add_test(tc, test_disk_dir_in_use_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(spool_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
