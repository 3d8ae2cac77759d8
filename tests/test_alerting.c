/*
 * test_alerting.c: the whole alerting path in one real receiver on
 * loopback: a rule file's alert fires on imported samples, the rule
 * engine hands it to the notifier (alert.h's sink), the notifier groups
 * it and posts a webhook to tests/http_sink.py. The receiver's clock is
 * driven (testing_clock_file), so `for`, group_wait and group_interval
 * pass without waiting.
 *
 * What a restart must not do: page twice for an alert that keeps firing
 * (SIGTERM while it fires: the rule state and the notification log both
 * survive), or lose a page decided but not delivered (kill -9 while the
 * endpoint holds its answer: the delivery queue survives).
 */
#include "tests/harness.h"

#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S 1000LL

static char *dir;
static char clock_path[700];
static struct vg_t_receiver rcv;
static struct vg_t_sink sink;
static int64_t t0; /* a multiple of 10 s near the real time */

static const char rules[] = "groups:\n"
			    "- name: g\n"
			    "  interval: 10s\n"
			    "  rules:\n"
			    "  - alert: QueueStuck\n"
			    "    expr: e2e_queue_depth > 5\n"
			    "    for: 20s\n"
			    "    labels:\n"
			    "      severity: page\n"
			    "    annotations:\n"
			    "      summary: 'queue {{ $labels.queue }} holds {{ $value }}'\n";

static void start(void)
{
	char conf[2400];

	snprintf(conf, sizeof(conf),
		 "testing_clock_file: %s\n"
		 "rule_files: [\"rules/*.yaml\"]\n"
		 "alerting:\n"
		 "  route:\n"
		 "    receiver: hook\n"
		 "    group_by: [alertname]\n"
		 "    group_wait: 10s\n"
		 "    group_interval: 1m\n"
		 "    repeat_interval: 4h\n"
		 "  receivers:\n"
		 "    - name: hook\n"
		 "      webhook_configs:\n"
		 "        - url: http://127.0.0.1:%u/hook\n",
		 clock_path, (unsigned)sink.port);
	ck_assert_msg(vg_t_receiver_start_config(&rcv, dir, conf, 0) == 0, "the receiver did not start");
}

/* A sink answering responses (delay as http_sink.py takes it), then a
 * receiver on a clock at t0 - 10 s with the rule file. */
static void setup_with(const char *responses, const char *delay)
{
	char path[800];
	FILE *f;

	dir = vg_t_tmpdir("vigil-alerting");
	ck_assert_ptr_nonnull(dir);
	t0 = (vg_t_now_ms() / (10 * S)) * 10 * S;
	snprintf(clock_path, sizeof(clock_path), "%s/clock", dir);
	snprintf(path, sizeof(path), "%s/rules", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/rules/a.yaml", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(rules, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(vg_t_write_clock(clock_path, t0 - 10 * S), 0);
	ck_assert_msg(vg_t_sink_start(&sink, dir, responses, delay, NULL) == 0, "http_sink.py did not start");
	start();
}

static void teardown_all(void)
{
	vg_t_stop(&rcv.proc, SIGTERM, 10000);
	vg_t_stop(&sink.proc, SIGTERM, 5000);
	vg_t_rmrf(dir);
	free(dir);
}

static void push(double v, int64_t ts)
{
	char line[256];
	long status = 0;
	char *reply;

	snprintf(line, sizeof(line), "e2e_queue_depth{queue=\"mail\"} %g %" PRId64 "\n", v, ts);
	reply = vg_t_http_post(rcv.http_port, "/api/v1/import/prometheus", line, strlen(line), &status);
	ck_assert_msg(status == 204, "import answered %ld: %s", status, reply ? reply : "");
	free(reply);
}

static void advance(int64_t ms)
{
	ck_assert_int_eq(vg_t_write_clock(clock_path, ms), 0);
	ck_assert_msg(vg_t_wait_rule_evaluation(rcv.http_port, ms, 10000) == 0, "no evaluation at %" PRId64, ms);
}

/* Request i's webhook body, parsed (caller json_decref's). */
static json_t *body(size_t i)
{
	json_t *r = vg_t_sink_requests(&sink), *b = NULL;

	if (i < json_array_size(r))
		b = json_loads(json_string_value(json_object_get(json_array_get(r, i), "body")), 0, NULL);
	json_decref(r);
	ck_assert_msg(b != NULL, "no request %zu", i);
	return b;
}

/* How many of the sink's requests it answered with status. */
static size_t answered(long status)
{
	json_t *r = vg_t_sink_requests(&sink), *x;
	size_t i, n = 0;

	json_array_foreach(r, i, x)
		n += json_integer_value(json_object_get(x, "status")) == status;
	json_decref(r);
	return n;
}

static void check_body(size_t i, const char *status)
{
	json_t *b = body(i), *a = json_array_get(json_object_get(b, "alerts"), 0);

	ck_assert_str_eq(json_string_value(json_object_get(b, "status")), status);
	ck_assert_int_eq(json_array_size(json_object_get(b, "alerts")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "labels"), "alertname")), "QueueStuck");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "labels"), "queue")), "mail");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "labels"), "severity")), "page");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "annotations"), "summary")),
			 "queue mail holds 10");
	json_decref(b);
}

/*
 * Fires once after `for` and group_wait; a SIGTERM restart while it fires
 * sends nothing new; it resolves once, at the group's next interval.
 */
START_TEST(test_alerting_pages_once_across_a_restart_and_resolves_once)
{
	setup_with("200", NULL);
	push(10, t0);
	advance(t0);
	advance(t0 + 10 * S);
	advance(t0 + 20 * S); /* firing: handed to the notifier, group_wait starts */
	ck_assert_uint_eq(vg_t_sink_wait(&sink, 1, 1000), 0);
	push(10, t0 + 25 * S);
	advance(t0 + 30 * S); /* group_wait over */
	ck_assert_uint_eq(vg_t_sink_wait(&sink, 1, 10000), 1);
	check_body(0, "firing");

	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 10000), 0);
	start();
	for (int64_t t = t0 + 40 * S; t <= t0 + 70 * S; t += 10 * S) {
		push(10, t - 5 * S);
		advance(t);
	}
	/* Still firing after the restart, and no second page. */
	ck_assert_uint_eq(vg_t_sink_wait(&sink, 2, 1500), 1);

	/* Resolved at t0 + 80 s; the group, made anew by the first push after
	 * the restart (t0 + 40 s) and flushed at t0 + 50 s, sends it at its
	 * next interval, t0 + 110 s. */
	push(1, t0 + 75 * S);
	for (int64_t t = t0 + 80 * S; t <= t0 + 120 * S; t += 10 * S)
		advance(t);
	ck_assert_uint_eq(vg_t_sink_wait(&sink, 2, 10000), 2);
	check_body(1, "resolved");
	advance(t0 + 160 * S);
	advance(t0 + 220 * S);
	ck_assert_uint_eq(vg_t_sink_wait(&sink, 3, 1500), 2);
	teardown_all();
}
END_TEST

/*
 * kill -9 while the endpoint holds its answer to the first page: after
 * the restart the queued page is delivered, once, and the rule's renewed
 * firing does not add another.
 */
START_TEST(test_alerting_kill_between_decision_and_delivery_delivers_once)
{
	setup_with("503,200", "1.5");
	push(10, t0);
	advance(t0);
	advance(t0 + 10 * S);
	advance(t0 + 20 * S);
	push(10, t0 + 25 * S);
	advance(t0 + 30 * S);
	ck_assert_uint_eq(vg_t_sink_wait(&sink, 1, 10000), 1);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 10000), 128 + SIGKILL);

	start();
	for (int64_t t = t0 + 40 * S; t <= t0 + 70 * S; t += 10 * S) {
		push(10, t - 5 * S);
		advance(t);
	}
	ck_assert_uint_eq(vg_t_sink_wait(&sink, 2, 15000), 2);
	check_body(1, "firing");
	ck_assert_uint_eq(vg_t_sink_wait(&sink, 3, 1500), 2);
	ck_assert_uint_eq(answered(200), 1);
	teardown_all();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("alerting");
	TCase *tc = tcase_create("end_to_end");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_alerting_pages_once_across_a_restart_and_resolves_once);
	tcase_add_test(tc, test_alerting_kill_between_decision_and_delivery_delivers_once);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
