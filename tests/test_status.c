/*
 * test_status.c: GET /api/v1/status/vigil (receiver/http/status.c) and
 * `vigil status` (cli/status.c) on a real vigil-receiver: the figures move
 * with what was stored and sealed (samples received, series, WAL bytes,
 * blocks per tier), only GET is allowed, and the CLI prints the same in
 * its table, csv and json forms with exit status 0, and 3 for a server
 * that is not there. The rate window itself is a unit case (no clock to
 * wait for).
 */
#include "tests/harness.h"
#include "receiver/http/status.h"

#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *dir;
static struct vg_t_receiver rcv;

static void setup(void)
{
	char data[600];

	dir = vg_t_tmpdir("vigil-status");
	snprintf(data, sizeof(data), "%s/data", dir);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, NULL), 0);
}

static void teardown(void)
{
	int r = vg_t_stop(&rcv.proc, SIGTERM, 10000);

	ck_assert_msg(r == 0, "vigil-receiver exited with %d (see %s)", r, rcv.proc.log_path);
	vg_t_rmrf(dir);
	free(dir);
}

static int run_vigil(char **out, char **err, const char *server, const char *a1, const char *a2,
		     const char *a3)
{
	char *argv[] = { (char *)vg_t_bin("vigil"), "--server", (char *)server, (char *)a1, (char *)a2,
			 (char *)a3, NULL };
	return vg_t_run(argv, out, err, 30000);
}

static json_t *status_data(json_t **doc)
{
	long code = 0;

	*doc = vg_t_http_json(rcv.http_port, "/api/v1/status/vigil", &code);
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_nonnull(*doc);
	ck_assert_str_eq(json_string_value(json_object_get(*doc, "status")), "success");
	return json_object_get(*doc, "data");
}

static double num_at(const json_t *d, const char *obj, const char *name)
{
	const json_t *o = obj ? json_object_get(d, obj) : d;
	const json_t *v = json_object_get(o, name);

	ck_assert_msg(json_is_number(v), "%s.%s is not a number", obj ? obj : "", name);
	return json_number_value(v);
}

START_TEST(test_status_moves_with_stored_and_sealed_data)
{
	json_t *doc, *d, *tiers, *raw;
	char body[4096], *reply, server[64];
	size_t len = 0;
	long code = 0;
	/* Three to five hours old, a minute into a block period (2 h, aligned
	 * to the epoch), so the samples below never straddle two blocks. */
	int64_t t0 = ((int64_t)time(NULL) - 3 * 3600) / 7200 * 7200 + 60;

	d = status_data(&doc);
	ck_assert_double_eq(num_at(d, "ingest", "samplesReceived"), 0);
	ck_assert_double_eq(num_at(d, "head", "series"), 0);
	ck_assert(json_is_string(json_object_get(d, "version")));
	ck_assert(num_at(d, NULL, "time") >= num_at(d, NULL, "startTime"));
	ck_assert_int_eq(json_array_size(json_object_get(d, "tiers")), 3);
	ck_assert(json_is_null(json_object_get(json_array_get(json_object_get(d, "tiers"), 0), "oldestTime")));
	ck_assert(json_is_false(json_object_get(json_object_get(d, "wal"), "failing")));
	json_decref(doc);

	/* 3 series of 4 samples, hours old: sealed into one block. */
	for (int s = 0; s < 3; s++)
		for (int i = 0; i < 4; i++)
			len += (size_t)snprintf(body + len, sizeof(body) - len, "st_x{n=\"%d\"} %d %" PRId64 "\n", s, i,
						(t0 + i * 10) * 1000);
	reply = vg_t_http_post(rcv.http_port, "/api/v1/import/prometheus", body, len, &code);
	ck_assert_msg(code == 204 || code == 200, "import: %ld %s", code, reply);
	free(reply);
	d = status_data(&doc);
	ck_assert_double_eq(num_at(d, "ingest", "samplesReceived"), 12);
	ck_assert_double_eq(num_at(d, "ingest", "seriesCreated"), 3);
	ck_assert_double_eq(num_at(d, "head", "series"), 3);
	ck_assert(num_at(d, "wal", "bytesWritten") > 0);
	ck_assert(num_at(d, "ingest", "samplesPerSecond") > 0);
	json_decref(doc);

	reply = vg_t_http_post(rcv.http_port, "/api/v1/admin/seal", "", 0, &code);
	ck_assert_int_eq(code, 200);
	free(reply);
	d = status_data(&doc);
	tiers = json_object_get(d, "tiers");
	raw = json_array_get(tiers, 0);
	ck_assert_str_eq(json_string_value(json_object_get(raw, "tier")), "raw");
	ck_assert_double_eq(num_at(raw, NULL, "blocks"), 1);
	ck_assert_double_eq(num_at(raw, NULL, "points"), 12);
	ck_assert_double_eq(num_at(raw, NULL, "series"), 3);
	ck_assert(num_at(raw, NULL, "oldestTime") <= (double)t0);
	ck_assert(num_at(d, NULL, "blockBytes") >= num_at(raw, NULL, "bytes"));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(tiers, 2), "tier")), "1h");
	ck_assert_double_eq(num_at(d, NULL, "damagedBlocks"), 0);
	json_decref(doc);

	/* Read only. */
	reply = vg_t_http_post(rcv.http_port, "/api/v1/status/vigil", "", 0, &code);
	ck_assert_int_eq(code, 405);
	free(reply);

	/* The CLI shows the same. */
	{
		char *out = NULL, *err = NULL;
		int rc;

		snprintf(server, sizeof(server), "http://127.0.0.1:%u", rcv.http_port);
		rc = run_vigil(&out, &err, server, "status", NULL, NULL);
		ck_assert_msg(rc == 0, "vigil status: %d\n%s%s", rc, out, err);
		ck_assert_msg(strstr(out, "12 samples received") != NULL, "%s", out);
		ck_assert_msg(strstr(out, "series    3 in the head") != NULL, "%s", out);
		ck_assert_msg(strstr(out, "members   none") != NULL, "%s", out);
		ck_assert_msg(strstr(out, "\nraw        1  ") != NULL, "%s", out);
		free(out);
		free(err);

		rc = run_vigil(&out, &err, server, "status", "-o", "csv");
		ck_assert_int_eq(rc, 0);
		ck_assert_msg(strncmp(out, "tier,blocks,bytes,points,series,oldest,newest\nraw,1,", 52) == 0, "%s", out);
		ck_assert_msg(strstr(out, ",12,3,") != NULL, "%s", out);
		free(out);
		free(err);

		rc = run_vigil(&out, &err, server, "status", "-o", "json");
		ck_assert_int_eq(rc, 0);
		doc = json_loads(out, 0, NULL);
		ck_assert_ptr_nonnull(doc);
		ck_assert_double_eq(num_at(doc, "head", "series"), 3);
		json_decref(doc);
		free(out);
		free(err);

		rc = run_vigil(&out, &err, server, "status", "extra", NULL);
		ck_assert_int_eq(rc, 2);
		free(out);
		free(err);
	}
}
END_TEST

START_TEST(test_status_cli_without_server_exits_3)
{
	char *out = NULL, *err = NULL;
	/* A port nothing listens on: the receiver's own agent port is TCP
	 * but not HTTP, so use a closed one next to nothing. */
	int rc = run_vigil(&out, &err, "http://127.0.0.1:1", "status", NULL, NULL);

	ck_assert_int_eq(rc, 3);
	ck_assert_str_eq(out, "");
	ck_assert_msg(strncmp(err, "vigil: ", 7) == 0, "%s", err);
	free(out);
	free(err);
}
END_TEST

START_TEST(test_rate_window_over_oldest_kept_point)
{
	struct vg_status_rate r;
	int64_t w;

	vg_status_rate_init(&r, 1000);
	/* Since start while nothing older is kept. */
	ck_assert_double_eq_tol(vg_status_rate_get(&r, 3000, 100, &w), 50, 1e-9);
	ck_assert_int_eq(w, 2000);
	/* A full ring forgets the start: the rate is over the last minute. */
	for (int i = 1; i <= 10; i++)
		vg_status_rate_tick(&r, 1000 + i * 10000, (uint64_t)i * 1000);
	ck_assert_double_eq_tol(vg_status_rate_get(&r, 1000 + 110000, 11000, &w), 100, 1e-9);
	ck_assert_int_eq(w, 70000); /* 7 ticks kept: the oldest 70 s back */
	/* No time, or a counter that went back: 0, never a negative rate. */
	ck_assert_double_eq(vg_status_rate_get(&r, 1000 + 40000, 11000, &w), 0);
	ck_assert_int_eq(w, 0);
	ck_assert_double_eq(vg_status_rate_get(&r, 1000 + 120000, 5, &w), 0);
}
END_TEST

static Suite *status_suite(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("receiver"), *unit = tcase_create("unit");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_status_moves_with_stored_and_sealed_data);
	suite_add_tcase(s, tc);
	tcase_add_test(unit, test_status_cli_without_server_exits_3);
	tcase_add_test(unit, test_rate_window_over_oldest_kept_point);
	suite_add_tcase(s, unit);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(status_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
