/*
 * test_notify.c: the notifier (receiver/alert/notifier*.c) against real
 * processes on loopback: a vigil-receiver with an alerting: section,
 * alerts posted to its /api/v2/alerts as Prometheus posts them, webhooks
 * received by tests/http_sink.py, amtool from Debian's
 * prometheus-alertmanager. Grouping, repeat, inhibition, silences and mute
 * intervals run on a driven clock (testing_clock_file), each with a case
 * that fails if the feature were ignored; delivery cases (503 then 200,
 * kill -9 between decision and delivery) on the real one.
 */
#include "common/matchers.h"
#include "receiver/alert/alert.h"
#include "receiver/alert/payload.h"
#include "common/buf.h"
#include "common/err.h"
#include "tests/harness.h"

#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

/* 2026-11-30 is a Monday. */
#define MONDAY_NOON_MS 1796040000000LL
#define MIN_MS (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)

static char *dir;
static char clock_path[600];
static struct vg_t_receiver rcv;
static struct vg_t_sink sink;
static bool has_rcv, has_sink;

static void setup(void)
{
	dir = vg_t_tmpdir("notify");
	ck_assert_ptr_nonnull(dir);
	snprintf(clock_path, sizeof(clock_path), "%s/clock", dir);
	has_rcv = has_sink = false;
}

static void teardown(void)
{
	if (has_rcv)
		vg_t_stop(&rcv.proc, SIGTERM, 5000);
	if (has_sink)
		vg_t_stop(&sink.proc, SIGTERM, 5000);
	vg_t_rmrf(dir);
	free(dir);
}

static void set_clock(int64_t ms)
{
	ck_assert_int_eq(vg_t_write_clock(clock_path, ms), 0);
}

static void sink_start(const char *responses, const char *delay)
{
	ck_assert_msg(vg_t_sink_start(&sink, dir, responses, delay, NULL) == 0, "http_sink.py did not start");
	has_sink = true;
}

/* The requests the sink received so far, as a JSON array. */
static json_t *sink_requests(void)
{
	return vg_t_sink_requests(&sink);
}

/* Waits up to 10 s for at least n requests; their count. */
static size_t sink_wait(size_t n)
{
	return vg_t_sink_wait(&sink, n, 10000);
}

/* Request i's body, parsed. */
static json_t *sink_body(size_t i)
{
	json_t *r = sink_requests(), *b = NULL;

	if (i < json_array_size(r))
		b = json_loads(json_string_value(json_object_get(json_array_get(r, i), "body")), 0, NULL);
	json_decref(r);
	ck_assert_msg(b != NULL, "no request %zu", i);
	return b;
}

/* A receiver whose alerting: section is alerting (with @PORT@ for the
 * sink's port), on the driven clock when is_driven. */
static void start_receiver(const char *alerting, bool is_driven)
{
	char cfg[8192], body[6000];
	const char *at = strstr(alerting, "@PORT@");

	if (at)
		snprintf(body, sizeof(body), "%.*s%u%s", (int)(at - alerting), alerting, sink.port, at + 6);
	else
		snprintf(body, sizeof(body), "%s", alerting);
	snprintf(cfg, sizeof(cfg), "%s%s\n%s", is_driven ? "testing_clock_file: " : "", is_driven ? clock_path : "",
		 body);
	ck_assert_msg(vg_t_receiver_start_config(&rcv, dir, cfg, 0) == 0, "receiver did not start");
	has_rcv = true;
}

static void post_alerts(const char *json)
{
	long status;
	char *reply = vg_t_http_post(rcv.http_port, "/api/v2/alerts", json, strlen(json), &status);

	ck_assert_ptr_nonnull(reply);
	ck_assert_msg(status == 200, "POST /api/v2/alerts: HTTP %ld: %s", status, reply);
	free(reply);
}

/* The fingerprints of request i's alerts, joined by spaces, sorted as sent. */
static void alert_names(size_t i, const char *label, char *out, size_t cap)
{
	json_t *b = sink_body(i), *a;
	size_t k;

	out[0] = '\0';
	json_array_foreach(json_object_get(b, "alerts"), k, a) {
		const char *v = json_string_value(json_object_get(json_object_get(a, "labels"), label));
		snprintf(out + strlen(out), cap - strlen(out), "%s%s", k ? " " : "", v ? v : "?");
	}
	json_decref(b);
}

static double metric(const char *name)
{
	long status;
	char *text = vg_t_http_get(rcv.http_port, "/metrics", &status), *p;
	double v = -1;

	ck_assert_ptr_nonnull(text);
	p = strstr(text, name);
	if (p)
		v = strtod(p + strlen(name), NULL);
	free(text);
	return v;
}

/* Waits up to 10 s for a metric to reach want; its last value. */
static double metric_wait(const char *name, double want)
{
	int64_t deadline = vg_t_now_ms() + 10000;
	double v = metric(name);

	while (v != want && vg_t_now_ms() < deadline) {
		vg_t_sleep_ms(50);
		v = metric(name);
	}
	return v;
}

#define HOOK_RECEIVER \
	"  receivers:\n" \
	"    - name: ops-webhook\n" \
	"      webhook_configs:\n" \
	"        - url: http://127.0.0.1:@PORT@/hook\n"

/* --- the payload ---------------------------------------------------------- */

START_TEST(test_notify_webhook_body_field_by_field)
{
	json_t *reqs, *req, *b, *a, *h;
	char *n[] = { "alertname", "cluster", "instance", "severity", "team" };
	char *v[] = { "DiskFull", "c1", "h1", "page", "db" };
	struct vg_conf_labels l = { 5, n, v };
	char fp[17];
	const char *body;

	sink_start("200", NULL);
	start_receiver("alerting:\n"
		       "  route:\n"
		       "    receiver: ops-webhook\n"
		       "    group_wait: 100ms\n"
		       "    routes:\n"
		       "      - matchers: ['team=\"db\"']\n"
		       "        group_by: [alertname, cluster]\n" HOOK_RECEIVER,
		       false);
	post_alerts("[{\"labels\":{\"alertname\":\"DiskFull\",\"cluster\":\"c1\",\"instance\":\"h1\",\"severity\":\"page\","
		    "\"team\":\"db\"},\"annotations\":{\"summary\":\"disk <almost> full\"},"
		    "\"startsAt\":\"2026-11-24T21:00:00.123Z\",\"endsAt\":\"2099-01-01T00:00:00Z\","
		    "\"generatorURL\":\"http://vigil.example/graph?g0.expr=x&g0.tab=1\"}]");
	ck_assert_uint_eq(sink_wait(1), 1);
	reqs = sink_requests();
	req = json_array_get(reqs, 0);
	ck_assert_str_eq(json_string_value(json_object_get(req, "method")), "POST");
	ck_assert_str_eq(json_string_value(json_object_get(req, "path")), "/hook");
	h = json_object_get(req, "headers");
	ck_assert_str_eq(json_string_value(json_object_get(h, "content-type")), "application/json");
	ck_assert_msg(strncmp(json_string_value(json_object_get(h, "user-agent")), "Alertmanager/", 13) == 0,
		      "User-Agent %s", json_string_value(json_object_get(h, "user-agent")));
	body = json_string_value(json_object_get(req, "body"));
	/* Go's encoder: <, > and & escaped, a final newline. */
	ck_assert_ptr_nonnull(strstr(body, "disk \\u003calmost\\u003e full"));
	ck_assert_ptr_nonnull(strstr(body, "g0.expr=x\\u0026g0.tab=1"));
	ck_assert_int_eq(body[strlen(body) - 1], '\n');
	b = json_loads(body, 0, NULL);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(json_string_value(json_object_get(b, "version")), "4");
	ck_assert_str_eq(json_string_value(json_object_get(b, "groupKey")),
			 "{}/{team=\"db\"}:{alertname=\"DiskFull\", cluster=\"c1\"}");
	ck_assert_int_eq(json_integer_value(json_object_get(b, "truncatedAlerts")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(b, "status")), "firing");
	ck_assert_str_eq(json_string_value(json_object_get(b, "receiver")), "ops-webhook");
	ck_assert_int_eq(json_object_size(json_object_get(b, "groupLabels")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(b, "groupLabels"), "cluster")), "c1");
	ck_assert_int_eq(json_object_size(json_object_get(b, "commonLabels")), 5);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(b, "commonAnnotations"), "summary")),
			 "disk <almost> full");
	ck_assert_msg(strncmp(json_string_value(json_object_get(b, "externalURL")), "http://", 7) == 0, "externalURL");
	ck_assert_int_eq(json_array_size(json_object_get(b, "alerts")), 1);
	a = json_array_get(json_object_get(b, "alerts"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(a, "status")), "firing");
	ck_assert_int_eq(json_object_size(json_object_get(a, "labels")), 5);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "labels"), "instance")), "h1");
	ck_assert_str_eq(json_string_value(json_object_get(a, "startsAt")), "2026-11-24T21:00:00.123Z");
	ck_assert_str_eq(json_string_value(json_object_get(a, "endsAt")), "0001-01-01T00:00:00Z");
	ck_assert_str_eq(json_string_value(json_object_get(a, "generatorURL")),
			 "http://vigil.example/graph?g0.expr=x&g0.tab=1");
	vg_alert_fingerprint_hex(vg_alert_fingerprint(&l), fp);
	ck_assert_str_eq(json_string_value(json_object_get(a, "fingerprint")), fp);
	json_decref(b);
	json_decref(reqs);
}
END_TEST

/* The encoder's bytes for a fixed notification, and the decoder reading
 * them back (the queue relies on both). */
START_TEST(test_notify_payload_bytes_and_round_trip)
{
	char *ln[] = { "alertname", "x" }, *lv[] = { "A", "q\"<" };
	struct vg_notify_alert al = { { 2, ln, lv }, { 0, NULL, NULL }, false, 1764504000000LL, 1764504060500LL, NULL };
	struct vg_notification nt = { .receiver = "r", .group_key = "{}:{}", .is_firing = false,
				      .external_url = "http://h", .n_alerts = 1, .alerts = &al };
	struct vg_buf b = VG_BUF_INIT;
	struct vg_payload p;
	struct vg_err err;

	char fp[17], want[1024];

	vg_alert_fingerprint_hex(vg_alert_fingerprint(&al.labels), fp);
	snprintf(want, sizeof(want),
		 "{\"receiver\":\"r\",\"status\":\"resolved\",\"alerts\":[{\"status\":\"resolved\","
		 "\"labels\":{\"alertname\":\"A\",\"x\":\"q\\\"\\u003c\"},\"annotations\":{},"
		 "\"startsAt\":\"2025-11-30T12:00:00Z\",\"endsAt\":\"2025-11-30T12:01:00.5Z\","
		 "\"generatorURL\":\"\",\"fingerprint\":\"%s\"}],\"groupLabels\":{},\"commonLabels\":{},"
		 "\"commonAnnotations\":{},\"externalURL\":\"http://h\",\"version\":\"4\",\"groupKey\":\"{}:{}\","
		 "\"truncatedAlerts\":0}\n",
		 fp);
	vg_payload_encode(&nt, &b);
	ck_assert_str_eq(vg_buf_cstr(&b), want);
	ck_assert_int_eq(vg_payload_decode((const char *)b.data, b.len, &p, &err), 0);
	ck_assert_uint_eq(p.n.n_alerts, 1);
	ck_assert_str_eq(p.alerts[0].labels.values[1], "q\"<");
	ck_assert_int_eq(p.alerts[0].ends_at_ms, 1764504060500LL);
	ck_assert(!p.alerts[0].is_firing);
	vg_payload_release(&p);
	ck_assert_int_ne(vg_payload_decode("{\"alerts\":[]}", 13, &p, &err), 0);
	ck_assert_int_ne(vg_payload_decode("[", 1, &p, &err), 0);
	vg_buf_release(&b);
}
END_TEST

START_TEST(test_notify_matcher_text)
{
	struct vg_matcher_text m;
	struct vg_err err;

	ck_assert_int_eq(vg_matcher_text_parse("team=\"db\"", &m, &err), 0);
	ck_assert_str_eq(m.name, "team");
	ck_assert_str_eq(m.value, "db");
	ck_assert_int_eq(m.op, VG_MATCH_EQ);
	vg_matcher_text_release(&m);
	ck_assert_int_eq(vg_matcher_text_parse(" severity =~ page|critical ", &m, &err), 0);
	ck_assert_str_eq(m.value, "page|critical");
	ck_assert_int_eq(m.op, VG_MATCH_RE);
	vg_matcher_text_release(&m);
	ck_assert_int_eq(vg_matcher_text_parse("a!~\"x\\\"y\"", &m, &err), 0);
	ck_assert_str_eq(m.value, "x\"y");
	ck_assert_int_eq(m.op, VG_MATCH_NRE);
	vg_matcher_text_release(&m);
	ck_assert_int_ne(vg_matcher_text_parse("=x", &m, &err), 0);
	ck_assert_int_ne(vg_matcher_text_parse("a x", &m, &err), 0);
	ck_assert_int_ne(vg_matcher_text_parse("a=\"x", &m, &err), 0);
	ck_assert_int_ne(vg_matcher_text_parse("a=\"x\" y", &m, &err), 0);
}
END_TEST

/* --- delivery ------------------------------------------------------------------ */

#define ALERT_H1 "[{\"labels\":{\"alertname\":\"DiskFull\",\"instance\":\"h1\"},\"endsAt\":\"2099-01-01T00:00:00Z\"}]"

START_TEST(test_notify_503_then_200_delivers_once)
{
	json_t *reqs;
	size_t ok = 0, i;
	json_t *r;

	sink_start("503,503,200", NULL);
	start_receiver("alerting:\n  route:\n    receiver: ops-webhook\n    group_wait: 100ms\n" HOOK_RECEIVER, false);
	post_alerts(ALERT_H1);
	ck_assert_uint_eq(sink_wait(3), 3);
	vg_t_sleep_ms(1500); /* past another retry, were one due */
	reqs = sink_requests();
	ck_assert_uint_eq(json_array_size(reqs), 3);
	json_array_foreach(reqs, i, r)
		ok += json_integer_value(json_object_get(r, "status")) == 200;
	ck_assert_uint_eq(ok, 1);
	json_decref(reqs);
	ck_assert_double_eq(metric_wait("vigil_notifications_sent_total{channel=\"webhook\"} ", 1), 1);
	ck_assert_double_eq(metric("vigil_notifications_retried_total{channel=\"webhook\"} "), 2);
}
END_TEST

/* A 429 with Retry-After: the retry waits what the peer asked for, not
 * the first backoff step (500 ms). */
START_TEST(test_notify_retry_after_is_honoured)
{
	ck_assert_msg(vg_t_sink_start(&sink, dir, "429,200", NULL, "2") == 0, "http_sink.py did not start");
	has_sink = true;
	start_receiver("alerting:\n  route:\n    receiver: ops-webhook\n    group_wait: 100ms\n" HOOK_RECEIVER, false);
	post_alerts(ALERT_H1);
	ck_assert_uint_eq(sink_wait(2), 2);
	ck_assert_double_eq(metric_wait("vigil_notifications_sent_total{channel=\"webhook\"} ", 1), 1);
	ck_assert(vg_t_log_contains(&rcv.proc, "HTTP 429: {}; retry 1 in 2000 ms"));
}
END_TEST

/* kill -9 while the endpoint holds its (503) answer: the decision is in
 * the queue; the restarted receiver delivers it once, and neither the
 * same alert posted again nor another restart sends it a second time. */
START_TEST(test_notify_kill9_between_decision_and_delivery)
{
	const char *cfg = "alerting:\n  route:\n    receiver: ops-webhook\n    group_wait: 100ms\n"
			  "    group_interval: 200ms\n" HOOK_RECEIVER;
	json_t *reqs, *r;
	size_t ok = 0, i;

	sink_start("503,200", "1.5");
	start_receiver(cfg, false);
	post_alerts(ALERT_H1);
	ck_assert_uint_eq(sink_wait(1), 1);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	has_rcv = false;
	{
		char q[700];
		snprintf(q, sizeof(q), "%s/alerting/queue", rcv.data_dir);
		ck_assert_int_eq(vg_t_count_files(q, ".json"), 1); /* decided, not delivered */
	}
	start_receiver(cfg, false);
	ck_assert_uint_eq(sink_wait(2), 2);
	vg_t_sleep_ms(2000); /* the answer, held 1.5 s, then some */
	post_alerts(ALERT_H1); /* as Prometheus resends it */
	vg_t_sleep_ms(1000);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 5000), 0);
	has_rcv = false;
	start_receiver(cfg, false);
	post_alerts(ALERT_H1);
	vg_t_sleep_ms(1000);
	reqs = sink_requests();
	ck_assert_uint_eq(json_array_size(reqs), 2);
	json_array_foreach(reqs, i, r)
		ok += json_integer_value(json_object_get(r, "status")) == 200;
	ck_assert_uint_eq(ok, 1);
	json_decref(reqs);
}
END_TEST

/* --- grouping and repeats (driven clock) --------------------------------------- */

static void post_instance(const char *alertname, const char *instance, const char *extra)
{
	char json[512];

	snprintf(json, sizeof(json),
		 "[{\"labels\":{\"alertname\":\"%s\",\"instance\":\"%s\"%s},\"endsAt\":\"2099-01-01T00:00:00Z\"}]",
		 alertname, instance, extra ? extra : "");
	post_alerts(json);
}

/* Nothing more arrives within ms (the dispatcher ticks every 100 ms). */
static void assert_quiet(size_t n, int ms)
{
	vg_t_sleep_ms(ms);
	json_t *r = sink_requests();
	ck_assert_msg(json_array_size(r) == n, "%zu requests, expected %zu", json_array_size(r), n);
	json_decref(r);
}

START_TEST(test_notify_group_wait_batches_and_repeat_interval)
{
	char names[256];

	set_clock(MONDAY_NOON_MS);
	sink_start("200", NULL);
	start_receiver("alerting:\n  route:\n    receiver: ops-webhook\n    group_by: [alertname]\n"
		       "    group_wait: 30s\n    group_interval: 5m\n    repeat_interval: 4h\n" HOOK_RECEIVER,
		       true);
	post_instance("DiskFull", "h1", NULL);
	set_clock(MONDAY_NOON_MS + 10000);
	post_instance("DiskFull", "h2", NULL);
	post_instance("CpuHigh", "h1", NULL);
	assert_quiet(0, 400); /* group_wait holds the first notification */
	set_clock(MONDAY_NOON_MS + 41000);
	ck_assert_uint_eq(sink_wait(2), 2);
	assert_quiet(2, 300);
	for (size_t i = 0; i < 2; i++) {
		json_t *b = sink_body(i);
		const char *an = json_string_value(json_object_get(json_object_get(b, "groupLabels"), "alertname"));
		alert_names(i, "instance", names, sizeof(names));
		if (strcmp(an, "DiskFull") == 0)
			ck_assert_str_eq(names, "h1 h2"); /* batched in one */
		else
			ck_assert_str_eq(names, "h1");
		json_decref(b);
	}
	/* Nothing new: no notification at group_interval ticks... */
	set_clock(MONDAY_NOON_MS + 31000 + 5 * MIN_MS + 1000);
	assert_quiet(2, 300);
	set_clock(MONDAY_NOON_MS + 31000 + 2 * HOUR_MS);
	assert_quiet(2, 300);
	/* ...until repeat_interval has passed. */
	set_clock(MONDAY_NOON_MS + 31000 + 4 * HOUR_MS + 6 * MIN_MS);
	ck_assert_uint_eq(sink_wait(4), 4);
	/* A new member of a group notifies at the next group_interval. */
	post_instance("DiskFull", "h3", NULL);
	set_clock(MONDAY_NOON_MS + 31000 + 4 * HOUR_MS + 12 * MIN_MS);
	ck_assert_uint_eq(sink_wait(5), 5);
	alert_names(4, "instance", names, sizeof(names));
	ck_assert_str_eq(names, "h1 h2 h3");
}
END_TEST

/* max_alerts cuts a message and counts the rest; a group whose alerts
 * all resolve sends one resolved message with their end times. */
START_TEST(test_notify_max_alerts_and_resolved)
{
	json_t *b, *a;

	set_clock(MONDAY_NOON_MS);
	sink_start("200", NULL);
	start_receiver("alerting:\n  route:\n    receiver: ops-webhook\n    group_by: [alertname]\n"
		       "    group_wait: 10s\n    group_interval: 1m\n"
		       "  receivers:\n    - name: ops-webhook\n      webhook_configs:\n"
		       "        - url: http://127.0.0.1:@PORT@/hook\n          max_alerts: 1\n",
		       true);
	post_instance("DiskFull", "h1", NULL);
	post_instance("DiskFull", "h2", NULL);
	post_instance("DiskFull", "h3", NULL);
	set_clock(MONDAY_NOON_MS + 11000);
	ck_assert_uint_eq(sink_wait(1), 1);
	b = sink_body(0);
	ck_assert_int_eq(json_array_size(json_object_get(b, "alerts")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(b, "truncatedAlerts")), 2);
	json_decref(b);
	set_clock(MONDAY_NOON_MS + 30000);
	post_alerts("[{\"labels\":{\"alertname\":\"DiskFull\",\"instance\":\"h1\"},\"endsAt\":\"2026-11-30T12:00:25Z\"},"
		    "{\"labels\":{\"alertname\":\"DiskFull\",\"instance\":\"h2\"},\"endsAt\":\"2026-11-30T12:00:25Z\"},"
		    "{\"labels\":{\"alertname\":\"DiskFull\",\"instance\":\"h3\"},\"endsAt\":\"2026-11-30T12:00:25Z\"}]");
	set_clock(MONDAY_NOON_MS + 72000);
	ck_assert_uint_eq(sink_wait(2), 2);
	b = sink_body(1);
	ck_assert_str_eq(json_string_value(json_object_get(b, "status")), "resolved");
	a = json_array_get(json_object_get(b, "alerts"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(a, "status")), "resolved");
	ck_assert_str_eq(json_string_value(json_object_get(a, "endsAt")), "2026-11-30T12:00:25Z");
	ck_assert_int_eq(json_integer_value(json_object_get(b, "truncatedAlerts")), 2);
	json_decref(b);
	/* Resolved once: nothing more at the next intervals. */
	set_clock(MONDAY_NOON_MS + 5 * HOUR_MS);
	assert_quiet(2, 400);
}
END_TEST

START_TEST(test_notify_inhibition)
{
	json_t *reqs, *r;
	size_t i;
	long status;
	char *alerts;

	set_clock(MONDAY_NOON_MS);
	sink_start("200", NULL);
	start_receiver("alerting:\n  route:\n    receiver: ops-webhook\n    group_by: ['...']\n"
		       "    group_wait: 10s\n" HOOK_RECEIVER
		       "  inhibit_rules:\n"
		       "    - source_matchers: [severity=\"critical\"]\n"
		       "      target_matchers: [severity=\"warning\"]\n"
		       "      equal: [cluster]\n",
		       true);
	post_instance("Down", "h1", ",\"severity\":\"critical\",\"cluster\":\"c1\"");
	post_instance("Slow", "h1", ",\"severity\":\"warning\",\"cluster\":\"c1\"");
	post_instance("Slow", "h2", ",\"severity\":\"warning\",\"cluster\":\"c2\"");
	set_clock(MONDAY_NOON_MS + 11000);
	ck_assert_uint_eq(sink_wait(2), 2);
	assert_quiet(2, 500);
	reqs = sink_requests();
	json_array_foreach(reqs, i, r) {
		char names[64];
		alert_names(i, "cluster", names, sizeof(names));
		json_t *b = sink_body(i);
		const char *an = json_string_value(json_object_get(json_object_get(b, "groupLabels"), "alertname"));
		/* Slow in c1 is inhibited by Down in c1; Slow in c2 is not. */
		ck_assert_msg(strcmp(an, "Down") == 0 || strcmp(names, "c2") == 0, "%s in %s sent", an, names);
		json_decref(b);
	}
	json_decref(reqs);
	alerts = vg_t_http_get(rcv.http_port, "/api/v2/alerts?filter=cluster%3D%22c1%22&filter=alertname%3DSlow", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_ptr_nonnull(strstr(alerts, "\"state\":\"suppressed\""));
	ck_assert_ptr_null(strstr(alerts, "\"inhibitedBy\":[]"));
	free(alerts);
}
END_TEST

START_TEST(test_notify_silence_mutes_and_persists)
{
	const char *cfg = "alerting:\n  route:\n    receiver: ops-webhook\n    group_by: ['...']\n"
			  "    group_wait: 10s\n" HOOK_RECEIVER;
	char body[512], *reply;
	long status;

	set_clock(MONDAY_NOON_MS);
	sink_start("200", NULL);
	start_receiver(cfg, true);
	snprintf(body, sizeof(body),
		 "{\"matchers\":[{\"name\":\"instance\",\"value\":\"h1\",\"isRegex\":false}],"
		 "\"startsAt\":\"2026-11-30T11:00:00Z\",\"endsAt\":\"2026-11-30T14:00:00Z\","
		 "\"createdBy\":\"test\",\"comment\":\"maintenance\"}");
	reply = vg_t_http_post(rcv.http_port, "/api/v2/silences", body, strlen(body), &status);
	ck_assert_msg(status == 200 && strstr(reply, "silenceID"), "HTTP %ld: %s", status, reply);
	free(reply);
	/* Bad silences are refused with a reason. */
	reply = vg_t_http_post(rcv.http_port, "/api/v2/silences", "{\"matchers\":[]}", 15, &status);
	ck_assert_int_eq(status, 400);
	free(reply);
	post_instance("DiskFull", "h1", NULL);
	post_instance("DiskFull", "h2", NULL);
	set_clock(MONDAY_NOON_MS + 11000);
	ck_assert_uint_eq(sink_wait(1), 1);
	assert_quiet(1, 500);
	alert_names(0, "instance", body, sizeof(body));
	ck_assert_str_eq(body, "h2");
	/* Persisted: still there after a restart. */
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 5000), 0);
	has_rcv = false;
	start_receiver(cfg, true);
	reply = vg_t_http_get(rcv.http_port, "/api/v2/silences", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_ptr_nonnull(strstr(reply, "\"createdBy\":\"test\""));
	ck_assert_ptr_nonnull(strstr(reply, "\"state\":\"active\""));
	free(reply);
	/* After it ends, h1 notifies. */
	post_instance("DiskFull", "h1", NULL);
	set_clock(MONDAY_NOON_MS + 3 * HOUR_MS);
	ck_assert_uint_eq(sink_wait(2), 2);
}
END_TEST

START_TEST(test_notify_mute_time_interval)
{
	set_clock(MONDAY_NOON_MS - 2 * 24 * HOUR_MS); /* Saturday noon */
	sink_start("200", NULL);
	start_receiver("alerting:\n  route:\n    receiver: ops-webhook\n    group_wait: 10s\n"
		       "    group_interval: 1m\n    repeat_interval: 100h\n"
		       "    routes:\n"
		       "      - matchers: [team=db]\n"
		       "        mute_time_intervals: [weekend]\n" HOOK_RECEIVER
		       "  time_intervals:\n"
		       "    - name: weekend\n"
		       "      time_intervals:\n"
		       "        - weekdays: [saturday, sunday]\n"
		       "          location: UTC\n",
		       true);
	post_instance("DiskFull", "h1", ",\"team\":\"db\"");
	post_instance("DiskFull", "h2", ",\"team\":\"web\"");
	set_clock(MONDAY_NOON_MS - 2 * 24 * HOUR_MS + 20000);
	ck_assert_uint_eq(sink_wait(1), 1); /* web is not muted */
	set_clock(MONDAY_NOON_MS - 24 * HOUR_MS); /* Sunday: still muted */
	assert_quiet(1, 400);
	set_clock(MONDAY_NOON_MS); /* Monday */
	ck_assert_uint_eq(sink_wait(2), 2);
	{
		char names[64];
		alert_names(1, "team", names, sizeof(names));
		ck_assert_str_eq(names, "db");
	}
}
END_TEST

/* --- amtool -------------------------------------------------------------------- */

static int amtool(char **out, const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
		  const char *a6)
{
	char url[64];
	char *argv[] = { "/usr/bin/amtool", url, (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5, (char *)a6, NULL };
	char *err = NULL;
	int rc;

	snprintf(url, sizeof(url), "--alertmanager.url=http://127.0.0.1:%u", rcv.http_port);
	rc = vg_t_run(argv, out, &err, 10000);
	if (rc != 0)
		fprintf(stderr, "amtool %s %s: %s\n", a1, a2 ? a2 : "", err ? err : "");
	free(err);
	return rc;
}

START_TEST(test_notify_amtool_silences_and_alerts)
{
	char *out = NULL, id[64];

	if (access("/usr/bin/amtool", X_OK) != 0) {
		fprintf(stderr, "amtool missing (prometheus-alertmanager): skipped\n");
		return;
	}
	sink_start("200", NULL);
	start_receiver("alerting:\n  route:\n    receiver: ops-webhook\n    group_wait: 1m\n" HOOK_RECEIVER, false);
	post_instance("DiskFull", "h1", NULL);
	ck_assert_int_eq(amtool(&out, "alert", "query", NULL, NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "DiskFull"));
	ck_assert_ptr_nonnull(strstr(out, "active"));
	free(out);
	ck_assert_int_eq(amtool(&out, "silence", "add", "instance=h1", "--comment=disk swap", "--author=ops", "--duration=1h"), 0);
	ck_assert_int_eq(sscanf(out, "%63s", id), 1);
	free(out);
	ck_assert_int_eq(amtool(&out, "silence", "query", NULL, NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, id));
	ck_assert_ptr_nonnull(strstr(out, "disk swap"));
	free(out);
	ck_assert_int_eq(amtool(&out, "alert", "query", "--silenced", NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "suppressed"));
	free(out);
	ck_assert_int_eq(amtool(&out, "silence", "expire", id, NULL, NULL, NULL), 0);
	free(out);
	ck_assert_int_eq(amtool(&out, "silence", "query", "-q", NULL, NULL, NULL), 0);
	ck_assert_ptr_null(strstr(out, id));
	free(out);
	ck_assert_int_eq(amtool(&out, "silence", "query", "--expired", NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, id));
	free(out);
}
END_TEST

static int vigil(char **out, char **err, const char *a1, const char *a2, const char *a3, const char *a4,
		 const char *a5)
{
	char server[64];
	char *argv[] = { (char *)vg_t_bin("vigil"), "--server", server, "silence", (char *)a1, (char *)a2, (char *)a3,
			 (char *)a4, (char *)a5, NULL };

	snprintf(server, sizeof(server), "http://127.0.0.1:%u", rcv.http_port);
	return vg_t_run(argv, out, err, 10000);
}

START_TEST(test_notify_cli_silence_add_list_expire)
{
	char *out = NULL, *err = NULL, id[64];
	json_t *list;

	sink_start("200", NULL);
	start_receiver("alerting:\n  route:\n    receiver: ops-webhook\n" HOOK_RECEIVER, false);
	ck_assert_int_eq(vigil(&out, &err, "add", "alertname=DiskFull", "job=~\"a b\"", "--comment=swap", "--author=me"), 0);
	ck_assert_int_eq(sscanf(out, "%63s", id), 1);
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "list", NULL, NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, id));
	ck_assert_ptr_nonnull(strstr(out, "alertname=\"DiskFull\",job=~\"a b\""));
	ck_assert_ptr_nonnull(strstr(out, "active"));
	free(out);
	free(err);
	/* What the server keeps, in its JSON */
	ck_assert_int_eq(vigil(&out, &err, "list", "-o", "json", NULL, NULL), 0);
	list = json_loads(out, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "createdBy")), "me");
	ck_assert(json_is_true(json_object_get(json_array_get(json_object_get(json_array_get(list, 0), "matchers"), 1),
					       "isRegex")));
	json_decref(list);
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "expire", id, NULL, NULL, NULL), 0);
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "list", "-q", NULL, NULL, NULL), 0);
	ck_assert_ptr_null(strstr(out, id));
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "list", "--expired", NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "expired"));
	free(out);
	free(err);
	/* Refusals: usage 2, the server's 1 */
	ck_assert_int_eq(vigil(&out, &err, "add", "alertname=x", NULL, NULL, NULL), 2); /* no --comment */
	ck_assert_ptr_nonnull(strstr(err, "--comment"));
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "add", "=x", "--comment=c", NULL, NULL), 2);
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "expire", "0000", NULL, NULL, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "silence not found"));
	free(out);
	free(err);
}
END_TEST

/* --- configuration ---------------------------------------------------------- */

static void check_config(const char *text, const char *want)
{
	vg_t_check_receiver_config(dir, text, want);
}

START_TEST(test_notify_config_errors_name_file_and_line)
{
	check_config("alerting:\n  route:\n    receiver: a\n    matchers: ['x~y']\n", "bad.yaml:4:");
	check_config("alerting:\n  route:\n    receiver: a\n    group_wait: 10x\n", "bad.yaml:4:");
	check_config("alerting:\n  route:\n    receiver: a\n  receivers:\n    - name: a\n      webhook_configs:\n"
		     "        - url: ftp://x\n",
		     "bad.yaml:7:");
	check_config("alerting:\n  route:\n    receiver: nobody\n  receivers:\n    - name: a\n",
		     "no receiver named \"nobody\"");
	check_config("alerting:\n  route:\n    receiver: a\n    routes:\n      - mute_time_intervals: [never]\n"
		     "  receivers:\n    - name: a\n",
		     "no time interval named \"never\"");
	check_config("alerting:\n  time_intervals:\n    - name: t\n      time_intervals:\n        - weekdays: [funday]\n",
		     "bad.yaml:5:");
	check_config("alerting:\n  route:\n    receiver: a\n    continu: true\n", "bad.yaml:4: unknown key");
	check_config("alerting:\n  receivers:\n    - name: a\n", "alerting.route: missing");
	check_config("alerting:\n  route:\n    group_wait: 1s\n", "alerting.route: missing");
	/* Valid: nested routes, every option, no alerting: at all. */
	check_config("alerting:\n  global:\n    resolve_timeout: 10m\n  route:\n    receiver: a\n    group_by: ['...']\n    routes:\n"
		     "      - matchers: ['team=~\"db|web\"', 'severity!=info']\n        continue: true\n"
		     "        routes:\n          - receiver: a\n            group_by: [cluster]\n"
		     "            repeat_interval: 1h\n            active_time_intervals: [work]\n"
		     "  receivers:\n    - name: a\n      webhook_configs:\n        - url: http://x/\n"
		     "          send_resolved: false\n          max_alerts: 5\n          timeout: 3s\n"
		     "  inhibit_rules:\n    - source_matchers: [a=b]\n      target_matchers: [c=d]\n      equal: [e]\n"
		     "  time_intervals:\n    - name: work\n      time_intervals:\n        - times:\n"
		     "            - start_time: '09:00'\n              end_time: '17:00'\n"
		     "          weekdays: ['monday:friday']\n          days_of_month: ['1:-1']\n"
		     "          months: ['january:december']\n          years: ['2020:2030']\n          location: UTC\n",
		     NULL);
	check_config("log_level: info\n", NULL);
	check_config("alerting:\n  global:\n    resolve_timeout: 10x\n", "bad.yaml:3:");
}
END_TEST

START_TEST(test_notify_api_absent_without_alerting)
{
	long status;
	char *reply;

	ck_assert_int_eq(vg_t_receiver_start_config(&rcv, dir, "log_level: info\n", 0), 0);
	has_rcv = true;
	reply = vg_t_http_get(rcv.http_port, "/api/v2/alerts", &status);
	ck_assert_int_eq(status, 404);
	free(reply);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("notify");
	TCase *unit = tcase_create("unit"), *tc = tcase_create("receiver");
	SRunner *sr;
	int failed;

	tcase_add_test(unit, test_notify_payload_bytes_and_round_trip);
	tcase_add_test(unit, test_notify_matcher_text);
	suite_add_tcase(s, unit);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_notify_webhook_body_field_by_field);
	tcase_add_test(tc, test_notify_503_then_200_delivers_once);
	tcase_add_test(tc, test_notify_retry_after_is_honoured);
	tcase_add_test(tc, test_notify_max_alerts_and_resolved);
	tcase_add_test(tc, test_notify_kill9_between_decision_and_delivery);
	tcase_add_test(tc, test_notify_group_wait_batches_and_repeat_interval);
	tcase_add_test(tc, test_notify_inhibition);
	tcase_add_test(tc, test_notify_silence_mutes_and_persists);
	tcase_add_test(tc, test_notify_mute_time_interval);
	tcase_add_test(tc, test_notify_amtool_silences_and_alerts);
	tcase_add_test(tc, test_notify_cli_silence_add_list_expire);
	tcase_add_test(tc, test_notify_config_errors_name_file_and_line);
	tcase_add_test(tc, test_notify_api_absent_without_alerting);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
