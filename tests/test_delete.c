/*
 * test_delete.c: POST /api/v1/admin/tsdb/delete_series on a real receiver
 * (receiver/storage/tombstone.c). Two series get samples, half of them
 * sealed into a block and half still in the head; deleting a range of one
 * leaves nothing of it in that range, everything outside it, and the other
 * series whole; the deletion holds after kill -9 (the WAL replays the
 * samples into the head again) and after SIGTERM (the seal at exit writes
 * blocks without them). Bad requests are refused as Prometheus refuses
 * them.
 */
#include "config.h"

#include "tests/harness.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/selector.h"
#include "promql/parse.h"
#include "receiver/storage/tombstone.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/banned.h"

#define N_SAMPLES 60
#define STEP_MS 100
#define DEL_FROM 15 /* samples DEL_FROM .. DEL_TO of job "a" are deleted */
#define DEL_TO 40

static char *dir;
static char data_dir[600];
static struct vg_t_receiver rcv;
static int64_t base_ms;

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void setup(void)
{
	dir = vg_t_tmpdir("vg-delete");
	snprintf(data_dir, sizeof(data_dir), "%s/data", dir);
	base_ms = (wall_ms() - 3600 * 1000) / 1000 * 1000;
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data_dir, NULL), 0);
}

static void teardown(void)
{
	vg_t_stop(&rcv.proc, SIGKILL, 5000);
	vg_t_rmrf(dir);
	free(dir);
}

/* Samples from..to (each STEP_MS apart) of delete_test{job} over one
 * agent connection, acknowledged. */
static void send_samples(const char *job, int from, int to)
{
	char agent[64];
	int fd = vg_t_connect(rcv.port);
	uint64_t acked = 0;

	snprintf(agent, sizeof(agent), "delete-%s", job);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vg_t_hello(fd, agent, 1, &acked), 0);
	vg_t_define_series(fd, "delete_test", job);
	for (int i = from; i <= to; i++)
		vg_t_send_sample(fd, (uint64_t)i + 1, base_ms + (int64_t)i * STEP_MS, (double)i);
	ck_assert_uint_ge(vg_t_wait_ack(fd, (uint64_t)to + 1), (uint64_t)to + 1);
	close(fd);
}

/* Which of the N_SAMPLES samples of job are stored: have[i]. */
static void stored(const char *job, bool have[N_SAMPLES])
{
	char sel[128], path[1024], *q;
	json_t *doc, *res;
	long status;

	memset(have, 0, N_SAMPLES * sizeof(bool));
	snprintf(sel, sizeof(sel), "delete_test{job=\"%s\"}", job);
	q = vg_t_urlencode(sel);
	snprintf(path, sizeof(path),
		 "/api/v1/query_range?query=%s&start=%.3f&end=%.3f&step=0.001&lookback_delta=0.001", q,
		 (base_ms - 1) / 1000.0, (base_ms + N_SAMPLES * STEP_MS) / 1000.0);
	free(q);
	doc = vg_t_http_json(rcv.http_port, path, &status);
	ck_assert_ptr_nonnull(doc);
	ck_assert_int_eq(status, 200);
	res = json_object_get(json_object_get(doc, "data"), "result");
	for (size_t s = 0; s < json_array_size(res); s++) {
		json_t *values = json_object_get(json_array_get(res, s), "values");
		for (size_t i = 0; i < json_array_size(values); i++) {
			json_t *pt = json_array_get(values, i);
			int64_t t = (int64_t)(json_number_value(json_array_get(pt, 0)) * 1000.0 + 0.5);
			int64_t k = (t - base_ms) / STEP_MS;

			ck_assert(k >= 0 && k < N_SAMPLES && t == base_ms + k * STEP_MS);
			ck_assert_msg(!have[k], "sample %lld of job %s twice", (long long)k, job);
			ck_assert(strtod(json_string_value(json_array_get(pt, 1)), NULL) == (double)k);
			have[k] = true;
		}
	}
	json_decref(doc);
}

static void assert_deleted_range_only(void)
{
	bool a[N_SAMPLES], b[N_SAMPLES];

	stored("a", a);
	stored("b", b);
	for (int i = 0; i < N_SAMPLES; i++) {
		ck_assert_msg(a[i] == (i < DEL_FROM || i > DEL_TO), "job a sample %d %s", i,
			      a[i] ? "still there" : "lost");
		ck_assert_msg(b[i], "job b sample %d lost", i);
	}
}

static long post(const char *path_and_query, const char *body, char **reply)
{
	long status = 0;
	char *r = vg_t_http_post(rcv.http_port, path_and_query, body, strlen(body), &status);

	if (reply)
		*reply = r;
	else
		free(r);
	return status;
}

/* Half the samples in a block, half in the head, then the delete. */
static void load_and_delete(void)
{
	char body[512], *q;

	send_samples("a", 0, N_SAMPLES / 2 - 1);
	send_samples("b", 0, N_SAMPLES / 2 - 1);
	ck_assert_int_eq(post("/api/v1/admin/seal", "", NULL), 200);
	send_samples("a", N_SAMPLES / 2, N_SAMPLES - 1);
	send_samples("b", N_SAMPLES / 2, N_SAMPLES - 1);
	q = vg_t_urlencode("delete_test{job=\"a\"}");
	snprintf(body, sizeof(body), "match[]=%s&start=%.3f&end=%.3f", q,
		 (base_ms + DEL_FROM * STEP_MS) / 1000.0, (base_ms + DEL_TO * STEP_MS) / 1000.0);
	free(q);
	ck_assert_int_eq(post("/api/v1/admin/tsdb/delete_series", body, NULL), 204);
}

START_TEST(test_delete_removes_range_from_head_and_blocks)
{
	char path[700];
	struct stat sb;

	load_and_delete();
	assert_deleted_range_only();
	snprintf(path, sizeof(path), "%s/tombstones", data_dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	/* Samples that arrive after the delete, outside its range, stay. */
	send_samples("a", N_SAMPLES - 1, N_SAMPLES - 1);
	assert_deleted_range_only();
}
END_TEST

START_TEST(test_delete_survives_kill9_and_wal_replay)
{
	load_and_delete();
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data_dir, NULL), 0);
	assert_deleted_range_only();
}
END_TEST

START_TEST(test_delete_survives_sigterm_seal)
{
	load_and_delete();
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data_dir, NULL), 0);
	assert_deleted_range_only();
	/* And once more, now that the head was sealed without them. */
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data_dir, NULL), 0);
	assert_deleted_range_only();
}
END_TEST

/* /api/v1/series lists delete_test{job=listed} (unless NULL) and not
 * delete_test{job=gone}. */
static void assert_series_list(const char *listed, const char *gone)
{
	char want[64], absent[64], *list;
	long status;

	list = vg_t_http_get(rcv.http_port, "/api/v1/series?match[]=delete_test", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_ptr_nonnull(list);
	snprintf(want, sizeof(want), "\"job\":\"%s\"", listed ? listed : "");
	snprintf(absent, sizeof(absent), "\"job\":\"%s\"", gone);
	ck_assert_msg((listed == NULL || strstr(list, want) != NULL) && strstr(list, absent) == NULL,
		      "series: %s", list);
	free(list);
}

START_TEST(test_delete_all_time_by_default)
{
	char *q = vg_t_urlencode("{__name__=\"delete_test\",job=\"b\"}"), body[256];
	bool b[N_SAMPLES];

	send_samples("b", 0, N_SAMPLES - 1);
	snprintf(body, sizeof(body), "match[]=%s", q);
	free(q);
	ck_assert_int_eq(post("/api/v1/admin/tsdb/delete_series", body, NULL), 204);
	stored("b", b);
	for (int i = 0; i < N_SAMPLES; i++)
		ck_assert(!b[i]);
	/* A series with nothing left is not listed either; the other is. */
	assert_series_list(NULL, "b");
	send_samples("a", 0, 2);
	assert_series_list("a", "b");
}
END_TEST

/* The strings of a deleted series (held once in the head's symbol table)
 * serve the series created after the delete, before and after a restart
 * replays the WAL: each lists with its own labels. */
START_TEST(test_delete_strings_serve_later_series)
{
	char *q = vg_t_urlencode("{job=\"b\"}"), body[256];
	bool b[N_SAMPLES], bb[N_SAMPLES];

	send_samples("b", 0, 2);
	snprintf(body, sizeof(body), "match[]=%s", q);
	free(q);
	ck_assert_int_eq(post("/api/v1/admin/tsdb/delete_series", body, NULL), 204);
	send_samples("bb", 0, 2);
	for (int round = 0; round < 2; round++) {
		assert_series_list("bb", "b");
		stored("b", b);
		stored("bb", bb);
		for (int i = 0; i < N_SAMPLES; i++) {
			ck_assert(!b[i]);
			ck_assert(bb[i] == (i <= 2));
		}
		ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
		ck_assert_int_eq(vg_t_receiver_start(&rcv, data_dir, NULL), 0);
	}
}
END_TEST

static void assert_refused(const char *method_body, long want_status, const char *want_error)
{
	char *reply = NULL;
	long status = post("/api/v1/admin/tsdb/delete_series", method_body, &reply);

	ck_assert_int_eq(status, want_status);
	ck_assert_ptr_nonnull(reply);
	ck_assert_msg(strstr(reply, want_error) != NULL, "reply %s", reply);
	free(reply);
}

START_TEST(test_delete_validates_matchers_and_times)
{
	long status;
	char *r;
	bool a[N_SAMPLES];

	send_samples("a", 0, N_SAMPLES - 1);
	assert_refused("", 400, "no match[] parameter provided");
	assert_refused("start=1", 400, "no match[] parameter provided");
	/* Every matcher matches the empty string: Prometheus refuses that. */
	assert_refused("match[]=%7Bjob%3D~%22.*%22%7D", 400,
		       "at least one non-empty matcher");
	assert_refused("match[]=%7Bjob%3D%22%22%7D", 400,
		       "at least one non-empty matcher");
	/* One good selector does not excuse a bad one beside it. */
	assert_refused("match[]=delete_test&match[]=%7Bjob%21%3D%22x%22%7D", 400,
		       "at least one non-empty matcher");
	assert_refused("match[]=delete_test%7B", 400, "invalid parameter \\\"match[]\\\"");
	assert_refused("match[]=delete_test&start=yesterday", 400, "invalid parameter \\\"start\\\"");
	assert_refused("match[]=delete_test&start=2000&end=1000", 400,
		       "end timestamp must not be before start time");
	r = vg_t_http_get(rcv.http_port, "/api/v1/admin/tsdb/delete_series?match[]=delete_test", &status);
	ck_assert_int_eq(status, 405);
	free(r);
	/* Nothing was deleted by any of them. */
	stored("a", a);
	for (int i = 0; i < N_SAMPLES; i++)
		ck_assert(a[i]);
}
END_TEST

/* A data directory's tombstones file, as the writer made it. */
static size_t make_file(const char *d, uint8_t **out)
{
	struct vg_selector sel[2] = { VG_SELECTOR_INIT, VG_SELECTOR_INIT };
	struct vg_tombstones *t;
	struct vg_err err;
	char path[700];
	struct stat sb;
	FILE *f;

	ck_assert_int_eq(vg_promql_parse_selector("up", 2, &sel[0], NULL, &err), 0);
	ck_assert_int_eq(vg_promql_parse_selector("node_load1{job=~\"a.*\"}", 22, &sel[1], NULL, &err), 0);
	ck_assert_int_eq(vg_tombstones_open(d, &t, &err), 0);
	ck_assert_int_eq(vg_tombstones_add(t, sel, 2, -5, 1700000000000LL, &err), 0);
	vg_selector_release(&sel[0]);
	vg_selector_release(&sel[1]);
	ck_assert_uint_eq(vg_tombstones_len(t), 2);
	vg_tombstones_free(t);
	snprintf(path, sizeof(path), "%s/tombstones", d);
	ck_assert_int_eq(stat(path, &sb), 0);
	*out = malloc((size_t)sb.st_size);
	ck_assert_ptr_nonnull(f = fopen(path, "rb"));
	ck_assert_uint_eq(fread(*out, 1, (size_t)sb.st_size, f), (size_t)sb.st_size);
	fclose(f);
	return (size_t)sb.st_size;
}

START_TEST(test_tombstones_file_round_trips_and_refuses_damage)
{
	struct vg_tombstones *t;
	struct vg_err err;
	uint8_t *p;
	size_t len = make_file(dir, &p);

	ck_assert_int_eq(vg_tombstones_decode(p, len, NULL, NULL, &err), 0);
	ck_assert_int_eq(vg_tombstones_open(dir, &t, &err), 0); /* reopened from the file */
	ck_assert_uint_eq(vg_tombstones_len(t), 2);
	vg_tombstones_free(t);
	/* Every truncation and every flipped byte is refused. */
	for (size_t n = 0; n < len; n++)
		ck_assert_int_ne(vg_tombstones_decode(p, n, NULL, NULL, &err), 0);
	for (size_t i = 0; i < len; i++) {
		p[i] ^= 0x20;
		ck_assert_int_ne(vg_tombstones_decode(p, len, NULL, NULL, &err), 0);
		p[i] ^= 0x20;
	}
	p[4] = 3;
	ck_assert_int_eq(vg_tombstones_decode(p, len, NULL, NULL, &err), VG_EVERSION);
	free(p);
}
END_TEST

START_TEST(test_damaged_tombstones_file_stops_the_receiver)
{
	char path[700];
	int fd;

	vg_t_stop(&rcv.proc, SIGTERM, 10000);
	snprintf(path, sizeof(path), "%s/tombstones", data_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "VGTS\2\0\0\0garbage!", 16), 16);
	close(fd);
	/* Serving without it would show deleted samples again. */
	ck_assert_int_ne(vg_t_receiver_start(&rcv, data_dir, NULL), 0);
	ck_assert(vg_t_log_contains(&rcv.proc, "tombstones"));
}
END_TEST

static Suite *delete_suite(void)
{
	Suite *s = suite_create("delete");
	TCase *tc = tcase_create("delete_series");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_delete_removes_range_from_head_and_blocks);
	tcase_add_test(tc, test_delete_survives_kill9_and_wal_replay);
	tcase_add_test(tc, test_delete_survives_sigterm_seal);
	tcase_add_test(tc, test_delete_all_time_by_default);
	tcase_add_test(tc, test_delete_strings_serve_later_series);
	tcase_add_test(tc, test_delete_validates_matchers_and_times);
	tcase_add_test(tc, test_tombstones_file_round_trips_and_refuses_damage);
	tcase_add_test(tc, test_damaged_tombstones_file_stops_the_receiver);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(delete_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
