/*
 * test_ack.c: acknowledgements and escalation (receiver/alert/
 * notifier_ack*.c, notifier_escalate.c) against real processes on
 * loopback: a vigil-receiver on a driven clock (testing_clock_file), its
 * webhooks received by tests/http_sink.py, alerts posted to
 * /api/v2/alerts as Prometheus posts them, and the vigil command.
 * Each case has a control that would fail were the feature ignored: an
 * unacknowledged alert beside the acknowledged one repeats, escalates.
 * The decoders of the ack API's body and of the store are fed hostile
 * input on their own (unit).
 */
#include "common/buf.h"
#include "common/err.h"
#include "receiver/alert/notifier_int.h"
#include "tests/harness.h"

#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

/* 2026-11-30T12:00:00Z, a Monday. */
#define T0 1796040000000LL
#define T0_TEXT "2026-11-30T12:00:00Z"
#define S 1000LL
#define MIN_MS (60 * S)

static char *dir;
static char clock_path[600];
static struct vg_t_receiver rcv;
static struct vg_t_sink sink;
static bool has_rcv, has_sink;
static char alerting[4096];

static void setup(void)
{
	dir = vg_t_tmpdir("ack");
	ck_assert_ptr_nonnull(dir);
	snprintf(clock_path, sizeof(clock_path), "%s/clock", dir);
	has_rcv = has_sink = false;
	ck_assert_int_eq(vg_t_write_clock(clock_path, T0), 0);
	ck_assert_msg(vg_t_sink_start(&sink, dir, "200", NULL, NULL) == 0, "http_sink.py did not start");
	has_sink = true;
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

/* The receiver on the driven clock; extra goes before the alerting:
 * section (rule_files, ...). */
static int start_receiver_with(const char *extra)
{
	char cfg[8192];

	snprintf(cfg, sizeof(cfg), "testing_clock_file: %s\n%s%s", clock_path, extra ? extra : "", alerting);
	return vg_t_receiver_start_config(&rcv, dir, cfg, 0);
}

static void start_receiver(void)
{
	ck_assert_msg(start_receiver_with(NULL) == 0, "receiver did not start");
	has_rcv = true;
}

static void stop_receiver(void)
{
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 5000), 0);
	has_rcv = false;
}

/* Routes by instance to /hook, receivers ops (/hook) and boss (/boss);
 * repeat is the root's repeat_interval, route_extra appended to it. */
static void set_alerting(const char *repeat, const char *route_extra)
{
	snprintf(alerting, sizeof(alerting),
		 "alerting:\n"
		 "  route:\n"
		 "    receiver: ops\n"
		 "    group_by: [instance]\n"
		 "    group_wait: 10s\n"
		 "    group_interval: 1m\n"
		 "    repeat_interval: %s\n"
		 "%s"
		 "  receivers:\n"
		 "    - name: ops\n"
		 "      webhook_configs:\n"
		 "        - url: http://127.0.0.1:%u/hook\n"
		 "    - name: boss\n"
		 "      webhook_configs:\n"
		 "        - url: http://127.0.0.1:%u/boss\n",
		 repeat, route_extra, sink.port, sink.port);
}

static char *post(const char *path, const char *json, long *status)
{
	char *reply = vg_t_http_post(rcv.http_port, path, json, strlen(json), status);

	ck_assert_ptr_nonnull(reply);
	return reply;
}

/* Alert DiskFull on instance, started at starts, ending at ends
 * ("2099-..." while it fires). */
static void post_alert(const char *instance, const char *starts, const char *ends)
{
	char json[512];
	long status;
	char *reply;

	snprintf(json, sizeof(json),
		 "[{\"labels\":{\"alertname\":\"DiskFull\",\"instance\":\"%s\"},\"startsAt\":\"%s\",\"endsAt\":\"%s\"}]",
		 instance, starts, ends);
	reply = post("/api/v2/alerts", json, &status);
	ck_assert_msg(status == 200, "POST /api/v2/alerts: HTTP %ld: %s", status, reply);
	free(reply);
}

#define FIRING "2099-01-01T00:00:00Z"

/* Acknowledges instance until expires; the new ack's id into id[64]. */
static void ack(const char *instance, const char *expires, char *id)
{
	char json[512];
	long status;
	char *reply;
	json_t *r;

	snprintf(json, sizeof(json),
		 "{\"matchers\":[{\"name\":\"instance\",\"value\":\"%s\",\"isRegex\":false}],"
		 "\"createdBy\":\"alice\",\"comment\":\"on it\",\"expiresAt\":\"%s\"}",
		 instance, expires);
	reply = post("/api/v2/acks", json, &status);
	ck_assert_msg(status == 200, "POST /api/v2/acks: HTTP %ld: %s", status, reply);
	r = json_loads(reply, 0, NULL);
	ck_assert(json_is_string(json_object_get(r, "ackID")));
	snprintf(id, 64, "%s", json_string_value(json_object_get(r, "ackID")));
	json_decref(r);
	free(reply);
}

/* How many requests reached path for instance (NULL: any) with status
 * ("firing", "resolved" or NULL: any). */
static size_t count(const char *path, const char *instance, const char *status)
{
	json_t *reqs = vg_t_sink_requests(&sink), *r;
	size_t i, n = 0;

	json_array_foreach(reqs, i, r) {
		json_t *b;
		const char *inst, *st;

		if (strcmp(json_string_value(json_object_get(r, "path")), path) != 0)
			continue;
		b = json_loads(json_string_value(json_object_get(r, "body")), 0, NULL);
		inst = json_string_value(json_object_get(json_object_get(b, "groupLabels"), "instance"));
		st = json_string_value(json_object_get(b, "status"));
		if ((instance == NULL || (inst && strcmp(inst, instance) == 0)) && (status == NULL || (st && strcmp(st, status) == 0)))
			n++;
		json_decref(b);
	}
	json_decref(reqs);
	return n;
}

/* Waits up to 10 s until count(path, instance, status) reaches want. */
static size_t wait_count(const char *path, const char *instance, const char *status, size_t want)
{
	int64_t deadline = vg_t_now_ms() + 10000;
	size_t n;

	while ((n = count(path, instance, status)) < want && vg_t_now_ms() < deadline)
		vg_t_sleep_ms(50);
	return n;
}

/* The ack's state in GET /api/v2/acks, or "" */
static void ack_state(const char *id, char *out, size_t cap)
{
	long status;
	json_t *list = vg_t_http_json(rcv.http_port, "/api/v2/acks", &status), *a;
	size_t i;

	out[0] = '\0';
	ck_assert_int_eq(status, 200);
	json_array_foreach(list, i, a)
		if (strcmp(json_string_value(json_object_get(a, "id")), id) == 0)
			snprintf(out, cap, "%s", json_string_value(json_object_get(json_object_get(a, "status"), "state")));
	json_decref(list);
}

/* --- an ack stops repeats; the resolve is sent; a new firing pages ---------- */

START_TEST(test_ack_stops_repeats_until_resolved)
{
	char id[64], state[32], *reply;
	long status;

	set_alerting("10m", "");
	start_receiver();
	post_alert("h1", T0_TEXT, FIRING);
	post_alert("h2", T0_TEXT, FIRING);
	set_clock(T0 + 11 * S);
	ck_assert_uint_eq(wait_count("/hook", NULL, "firing", 2), 2);
	ack("h1", "2026-11-30T18:00:00Z", id);
	reply = vg_t_http_get(rcv.http_port, "/api/v2/alerts?filter=instance%3Dh1", &status);
	ck_assert_msg(strstr(reply, "\"acknowledgedBy\":[\"") && strstr(reply, id), "%s", reply);
	free(reply);
	reply = vg_t_http_get(rcv.http_port, "/api/v2/alerts?filter=instance%3Dh2", &status);
	ck_assert_ptr_nonnull(strstr(reply, "\"acknowledgedBy\":[]"));
	free(reply);
	/* repeat_interval (10m) passes three times: h2 repeats, h1 does not. */
	for (int k = 1; k <= 3; k++) {
		set_clock(T0 + 11 * S + k * 11 * MIN_MS);
		ck_assert_uint_eq(wait_count("/hook", "h2", "firing", 1 + (size_t)k), 1 + (size_t)k);
	}
	vg_t_sleep_ms(300);
	ck_assert_uint_eq(count("/hook", "h1", NULL), 1);
	ack_state(id, state, sizeof(state));
	ck_assert_str_eq(state, "active");
	/* The resolve is still sent, and ends the ack for h1. */
	post_alert("h1", T0_TEXT, "2026-11-30T12:34:00Z");
	set_clock(T0 + 35 * MIN_MS);
	ck_assert_uint_eq(wait_count("/hook", "h1", "resolved", 1), 1);
	vg_t_sleep_ms(200);
	ack_state(id, state, sizeof(state));
	ck_assert_str_eq(state, "resolved");
	/* A new incident pages again. */
	post_alert("h1", "2026-11-30T12:40:00Z", FIRING);
	set_clock(T0 + 40 * MIN_MS + 11 * S);
	ck_assert_uint_eq(wait_count("/hook", "h1", "firing", 2), 2);
}
END_TEST

START_TEST(test_ack_expiry_lets_repeats_resume)
{
	char id[64], id2[64], state[32], *reply;
	long status;

	set_alerting("10m", "");
	start_receiver();
	post_alert("h1", T0_TEXT, FIRING);
	set_clock(T0 + 11 * S);
	ck_assert_uint_eq(wait_count("/hook", "h1", "firing", 1), 1);
	ack("h1", "2026-11-30T12:20:00Z", id);
	set_clock(T0 + 11 * S + 11 * MIN_MS); /* a repeat were it not acknowledged */
	vg_t_sleep_ms(400);
	ck_assert_uint_eq(count("/hook", "h1", NULL), 1);
	set_clock(T0 + 25 * MIN_MS); /* the ack expired at 12:20 */
	ck_assert_uint_eq(wait_count("/hook", "h1", "firing", 2), 2);
	ack_state(id, state, sizeof(state));
	ck_assert_str_eq(state, "expired");
	reply = vg_t_http_get(rcv.http_port, "/api/v2/alerts", &status);
	ck_assert_ptr_nonnull(strstr(reply, "\"acknowledgedBy\":[]"));
	free(reply);
	/* Six days on, a new ack drops the old one from the store. */
	set_clock(T0 + 6 * 24 * 60 * MIN_MS);
	ack("h1", "2026-12-06T18:00:00Z", id2);
	ack_state(id, state, sizeof(state));
	ck_assert_str_eq(state, "");
	ack_state(id2, state, sizeof(state));
	ck_assert_str_eq(state, "active");
}
END_TEST

/* --- escalation, once, across a restart; acks persist ------------------------ */

START_TEST(test_ack_escalation_and_restart)
{
	char id[64], state[32], path[800];
	json_t *reqs, *b = NULL, *r;
	size_t i;
	FILE *f;

	set_alerting("100h", "    escalate:\n"
		     "      - {after: 15m, receiver: boss}\n");
	start_receiver();
	post_alert("h1", T0_TEXT, FIRING);
	post_alert("h2", T0_TEXT, FIRING);
	set_clock(T0 + 11 * S);
	ck_assert_uint_eq(wait_count("/hook", NULL, "firing", 2), 2);
	ack("h2", "2026-11-30T18:00:00Z", id);
	set_clock(T0 + 14 * MIN_MS);
	vg_t_sleep_ms(400);
	ck_assert_uint_eq(count("/boss", NULL, NULL), 0);
	/* 15m after startsAt, between two flushes: h1 escalates, h2 (acked) not. */
	set_clock(T0 + 15 * MIN_MS + 30 * S);
	ck_assert_uint_eq(wait_count("/boss", "h1", "firing", 1), 1);
	reqs = vg_t_sink_requests(&sink);
	json_array_foreach(reqs, i, r)
		if (strcmp(json_string_value(json_object_get(r, "path")), "/boss") == 0)
			b = json_loads(json_string_value(json_object_get(r, "body")), 0, NULL);
	json_decref(reqs);
	ck_assert_str_eq(json_string_value(json_object_get(b, "receiver")), "boss");
	ck_assert_str_eq(json_string_value(json_object_get(b, "groupKey")), "{}:{instance=\"h1\"}:escalate[0]");
	ck_assert_uint_eq(json_array_size(json_object_get(b, "alerts")), 1);
	json_decref(b);
	/* Once: later flushes do not escalate again. */
	set_clock(T0 + 30 * MIN_MS);
	vg_t_sleep_ms(400);
	ck_assert_uint_eq(count("/boss", NULL, NULL), 1);
	/* A restart: the log keeps the escalation done, the ack persists. */
	stop_receiver();
	start_receiver();
	post_alert("h1", T0_TEXT, FIRING);
	post_alert("h2", T0_TEXT, FIRING);
	set_clock(T0 + 31 * MIN_MS);
	vg_t_sleep_ms(300);
	set_clock(T0 + 32 * MIN_MS);
	vg_t_sleep_ms(400);
	ck_assert_uint_eq(count("/boss", NULL, NULL), 1);
	ck_assert_uint_eq(count("/hook", NULL, NULL), 2);
	ack_state(id, state, sizeof(state));
	ck_assert_str_eq(state, "active");
	/* h1 resolves: its resolve goes to both streams. */
	post_alert("h1", T0_TEXT, "2026-11-30T12:32:30Z");
	set_clock(T0 + 34 * MIN_MS);
	ck_assert_uint_eq(wait_count("/boss", "h1", "resolved", 1), 1);
	ck_assert_uint_eq(wait_count("/hook", "h1", "resolved", 1), 1);
	/* A damaged store stops the start, naming the file. */
	stop_receiver();
	snprintf(path, sizeof(path), "%s/alerting/acks.json", rcv.data_dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("[{\"id\":\"x\",\"matchers\":[]}]\n", f);
	fclose(f);
	ck_assert_int_ne(start_receiver_with(NULL), 0);
	ck_assert(vg_t_log_contains(&rcv.proc, "acks.json"));
	vg_t_stop(&rcv.proc, SIGTERM, 5000);
}
END_TEST

/* --- vigil ack, vigil alerts, /api/v1/alerts --------------------------------- */

static int vigil(char **out, char **err, const char *a1, const char *a2, const char *a3, const char *a4,
		 const char *a5, const char *a6)
{
	char server[64];
	char *argv[] = { (char *)vg_t_bin("vigil"), "--server", server, (char *)a1, (char *)a2, (char *)a3,
			 (char *)a4, (char *)a5, (char *)a6, NULL };

	snprintf(server, sizeof(server), "http://127.0.0.1:%u", rcv.http_port);
	return vg_t_run(argv, out, err, 10000);
}

START_TEST(test_ack_cli_and_alerts_columns)
{
	char *out = NULL, *err = NULL, id[64], sid[64], rules[800], extra[1000], *reply;
	long status;
	json_t *doc, *a;

	snprintf(rules, sizeof(rules), "%s/rules", dir);
	ck_assert_int_eq(mkdir(rules, 0755), 0);
	snprintf(rules, sizeof(rules), "%s/rules/a.yaml", dir);
	{
		FILE *f = fopen(rules, "w");
		ck_assert_ptr_nonnull(f);
		fputs("groups:\n- name: g\n  interval: 10s\n  rules:\n  - alert: Always\n    expr: vector(1)\n"
		      "    labels:\n      instance: h9\n",
		      f);
		fclose(f);
	}
	snprintf(extra, sizeof(extra), "rule_files: [\"rules/*.yaml\"]\n");
	set_alerting("10m", "");
	ck_assert_msg(start_receiver_with(extra) == 0, "receiver did not start");
	has_rcv = true;
	set_clock(T0 + 10 * S);
	ck_assert_int_eq(vg_t_wait_rule_evaluation(rcv.http_port, T0 + 10 * S, 10000), 0);
	ck_assert_int_eq(vigil(&out, &err, "alerts", NULL, NULL, NULL, NULL, NULL), 0);
	ck_assert_msg(strstr(out, "ACK") && strstr(out, "SILENCED"), "%s", out);
	free(out);
	free(err);
	/* No firing alert matches: refused by the server, exit 1. */
	ck_assert_int_eq(vigil(&out, &err, "ack", "alertname=Nope", "--author=alice", NULL, NULL, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "no firing alert matches"));
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "ack", "alertname=Always", "--author=alice", "--comment=on it",
			       "--expires=2h", NULL),
			 0);
	ck_assert_int_eq(sscanf(out, "%63s", id), 1);
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "alerts", NULL, NULL, NULL, NULL, NULL), 0);
	ck_assert_msg(strstr(out, "alice") && strstr(out, "Always{instance=\"h9\"}"), "%s", out);
	free(out);
	free(err);
	/* The v1 alert JSON carries the ack and silencedBy. */
	reply = post("/api/v2/silences",
		     "{\"matchers\":[{\"name\":\"alertname\",\"value\":\"Always\",\"isRegex\":false}],"
		     "\"startsAt\":\"2026-11-30T11:00:00Z\",\"endsAt\":\"2026-11-30T14:00:00Z\","
		     "\"createdBy\":\"bob\",\"comment\":\"maintenance\"}",
		     &status);
	ck_assert_int_eq(status, 200);
	doc = json_loads(reply, 0, NULL);
	snprintf(sid, sizeof(sid), "%s", json_string_value(json_object_get(doc, "silenceID")));
	json_decref(doc);
	free(reply);
	doc = vg_t_http_json(rcv.http_port, "/api/v1/alerts", &status);
	a = json_array_get(json_object_get(json_object_get(doc, "data"), "alerts"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "ack"), "id")), id);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "ack"), "createdBy")), "alice");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(a, "silencedBy"), 0)), sid);
	json_decref(doc);
	ck_assert_int_eq(vigil(&out, &err, "alerts", "-o", "csv", NULL, NULL, NULL), 0);
	ck_assert_msg(strstr(out, sid) && strstr(out, id), "%s", out);
	free(out);
	free(err);
	/* list, expire */
	ck_assert_int_eq(vigil(&out, &err, "ack", "list", NULL, NULL, NULL, NULL), 0);
	ck_assert_msg(strstr(out, id) && strstr(out, "active") && strstr(out, "1/1") && strstr(out, "on it"), "%s", out);
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "ack", "expire", id, NULL, NULL, NULL), 0);
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "ack", "list", "-q", NULL, NULL, NULL), 0);
	ck_assert_ptr_null(strstr(out, id));
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "ack", "list", "--expired", NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "expired"));
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "ack", "expire", id, NULL, NULL, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "already expired"));
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "ack", "expire", "0000", NULL, NULL, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "ack not found"));
	free(out);
	free(err);
	/* Usage errors: 2 */
	ck_assert_int_eq(vigil(&out, &err, "ack", "=x", NULL, NULL, NULL, NULL), 2);
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "ack", "alertname=Always", "--expires=yesterday", NULL, NULL, NULL), 2);
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "ack", "list", "--duration=1h", NULL, NULL, NULL), 2);
	free(out);
	free(err);
}
END_TEST

/* Hostile bodies over HTTP: each refused with 400 and a reason. */
START_TEST(test_ack_api_refuses_malformed)
{
	static const char *const bad[] = {
		"",
		"[",
		"[]",
		"{}",
		"{\"matchers\":[],\"createdBy\":\"a\",\"expiresAt\":\"2026-11-30T18:00:00Z\"}",
		"{\"matchers\":[{\"name\":\"\",\"value\":\"x\"}],\"createdBy\":\"a\",\"expiresAt\":\"2026-11-30T18:00:00Z\"}",
		"{\"matchers\":[{\"name\":\"a\",\"value\":\"(\",\"isRegex\":true}],\"createdBy\":\"a\",\"expiresAt\":\"2026-11-30T18:00:00Z\"}",
		"{\"matchers\":[{\"name\":\"instance\",\"value\":\"h1\"}],\"createdBy\":\"\",\"expiresAt\":\"2026-11-30T18:00:00Z\"}",
		"{\"matchers\":[{\"name\":\"instance\",\"value\":\"h1\"}],\"createdBy\":\"a\"}",
		"{\"matchers\":[{\"name\":\"instance\",\"value\":\"h1\"}],\"createdBy\":\"a\",\"expiresAt\":\"tomorrow\"}",
		"{\"matchers\":[{\"name\":\"instance\",\"value\":\"h1\"}],\"createdBy\":\"a\",\"expiresAt\":\"2026-11-30T11:00:00Z\"}",
		"{\"matchers\":[{\"name\":\"instance\",\"value\":\"h1\"}],\"createdBy\":7,\"expiresAt\":\"2026-11-30T18:00:00Z\"}",
		"{\"matchers\":[{\"name\":\"instance\",\"value\":\"h1\"}],\"createdBy\":\"a\",\"createdBy\":\"b\",\"expiresAt\":\"2026-11-30T18:00:00Z\"}",
	};
	long status;
	char *reply;

	set_alerting("10m", "");
	start_receiver();
	post_alert("h1", T0_TEXT, FIRING);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reply = post("/api/v2/acks", bad[i], &status);
		ck_assert_msg(status == 400 && reply[0] == '"', "body %zu: HTTP %ld: %s", i, status, reply);
		free(reply);
	}
	reply = vg_t_http_get(rcv.http_port, "/api/v2/ack/nope", &status);
	ck_assert_int_eq(status, 404);
	free(reply);
	reply = vg_t_http_get(rcv.http_port, "/api/v2/ack/a/b", &status);
	ck_assert_int_eq(status, 404);
	free(reply);
	reply = post("/api/v2/ack/x", "{}", &status);
	ck_assert_int_eq(status, 405);
	free(reply);
	reply = vg_t_http_get(rcv.http_port, "/api/v2/acks", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(reply, "[]\n");
	free(reply);
}
END_TEST

/* escalate: refused with file and key when it names no receiver, goes
 * backwards or lacks a key; taken in block and flow style. */
static void check_config(const char *route, const char *want)
{
	char text[1024];

	snprintf(text, sizeof(text), "alerting:\n  route:\n    receiver: a\n%s  receivers:\n    - name: a\n    - name: b\n",
		 route);
	vg_t_check_receiver_config(dir, text, want);
}

START_TEST(test_ack_escalate_config)
{
	check_config("    escalate: [{after: 5m, receiver: b}, {after: 1h, receiver: a}]\n", NULL);
	check_config("    routes:\n      - matchers: [team=db]\n        escalate:\n          - after: 10m\n"
		     "            receiver: b\n",
		     NULL);
	check_config("    escalate: [{after: 5m, receiver: c}]\n", "alerting.route.escalate[0].receiver: no receiver named \"c\"");
	check_config("    escalate: [{after: 1h, receiver: b}, {after: 5m, receiver: a}]\n",
		     "alerting.route.escalate[1].after: steps go in increasing order");
	check_config("    escalate: [{receiver: b}]\n", "escalate[0]: a step needs after and receiver");
	check_config("    escalate: [{after: 0s, receiver: b}]\n", "bad.yaml:4:");
	check_config("    escalate: [{after: 5m, receiver: b, repeat: 1m}]\n", "bad.yaml:4:");
}
END_TEST

/* --- the decoders on their own ------------------------------------------------ */

START_TEST(test_ack_decoders_hostile_and_round_trip)
{
	static const char *const bad_stored[] = {
		"{\"matchers\":[{\"name\":\"a\",\"value\":\"b\"}],\"createdBy\":\"x\",\"expiresAt\":\"2026-11-30T18:00:00Z\","
		"\"startsAt\":\"2026-11-30T12:00:00Z\",\"alerts\":[]}", /* no id */
		"{\"id\":\"k\",\"matchers\":[{\"name\":\"a\",\"value\":\"b\"}],\"createdBy\":\"x\",\"expiresAt\":\"2026-11-30T18:00:00Z\","
		"\"startsAt\":\"2026-11-30T18:00:00Z\",\"alerts\":[]}", /* expires at start */
		"{\"id\":\"k\",\"matchers\":[{\"name\":\"a\",\"value\":\"b\"}],\"createdBy\":\"x\",\"expiresAt\":\"2026-11-30T18:00:00Z\","
		"\"startsAt\":\"2026-11-30T12:00:00Z\"}", /* no alerts */
		"{\"id\":\"k\",\"matchers\":[{\"name\":\"a\",\"value\":\"b\"}],\"createdBy\":\"x\",\"expiresAt\":\"2026-11-30T18:00:00Z\","
		"\"startsAt\":\"2026-11-30T12:00:00Z\",\"alerts\":[{\"fingerprint\":\"zz\",\"startsAt\":\"2026-11-30T12:00:00Z\",\"state\":\"acknowledged\"}]}",
		"{\"id\":\"k\",\"matchers\":[{\"name\":\"a\",\"value\":\"b\"}],\"createdBy\":\"x\",\"expiresAt\":\"2026-11-30T18:00:00Z\","
		"\"startsAt\":\"2026-11-30T12:00:00Z\",\"alerts\":[{\"fingerprint\":\"-000000000000001\",\"startsAt\":\"2026-11-30T12:00:00Z\",\"state\":\"acknowledged\"}]}",
		"{\"id\":\"k\",\"matchers\":[{\"name\":\"a\",\"value\":\"b\"}],\"createdBy\":\"x\",\"expiresAt\":\"2026-11-30T18:00:00Z\","
		"\"startsAt\":\"2026-11-30T12:00:00Z\",\"alerts\":[{\"fingerprint\":\"00000000000000ff\",\"startsAt\":\"2026-11-30T12:00:00Z\",\"state\":\"maybe\"}]}",
		"{\"id\":\"0123456789012345678901234567890123456789\",\"matchers\":[{\"name\":\"a\",\"value\":\"b\"}],\"createdBy\":\"x\","
		"\"expiresAt\":\"2026-11-30T18:00:00Z\",\"startsAt\":\"2026-11-30T12:00:00Z\",\"alerts\":[]}", /* id too long */
		"{\"id\":\"k\",\"matchers\":[{\"name\":\"a\",\"value\":\"b\"}],\"createdBy\":\"x\",\"expiresAt\":\"2026-11-30T18:00:00Z\","
		"\"startsAt\":\"2026-11-30T12:00:00Z\",\"alerts\":[7]}",
	};
	const char *good = "{\"id\":\"k1\",\"matchers\":[{\"name\":\"a\",\"value\":\"b\\\"c\",\"isRegex\":true,\"isEqual\":false}],"
			   "\"createdBy\":\"x\",\"comment\":\"y\",\"expiresAt\":\"2026-11-30T18:00:00Z\","
			   "\"startsAt\":\"2026-11-30T12:00:00Z\",\"alerts\":[{\"fingerprint\":\"00000000000000ff\","
			   "\"startsAt\":\"2026-11-30T11:00:00.5Z\",\"state\":\"resolved\"},{\"fingerprint\":\"ffffffffffffffff\","
			   "\"startsAt\":\"2026-11-30T11:00:00Z\",\"state\":\"acknowledged\"}]}";
	const char *post_body = "{\"matchers\":[{\"name\":\"a\",\"value\":\"b\"}],\"createdBy\":\"x\","
				"\"expiresAt\":\"2026-11-30T18:00:00Z\",\"alerts\":7}";
	struct vg_buf b = VG_BUF_INIT, big = VG_BUF_INIT;
	struct nt_ack a, c;
	struct vg_err err;

	for (size_t i = 0; i < sizeof(bad_stored) / sizeof(bad_stored[0]); i++)
		ck_assert_msg(nt_ack_decode(bad_stored[i], strlen(bad_stored[i]), true, &a, &err) != 0, "stored %zu taken", i);
	/* More alerts than an ack may hold. */
	vg_buf_puts(&big, "{\"id\":\"k\",\"matchers\":[{\"name\":\"a\",\"value\":\"b\"}],\"createdBy\":\"x\","
			  "\"expiresAt\":\"2026-11-30T18:00:00Z\",\"startsAt\":\"2026-11-30T12:00:00Z\",\"alerts\":[");
	for (int i = 0; i < 10001; i++)
		vg_buf_printf(&big, "%s{\"fingerprint\":\"%016x\",\"startsAt\":\"2026-11-30T11:00:00Z\",\"state\":\"resolved\"}",
			      i ? "," : "", i);
	vg_buf_puts(&big, "]}");
	ck_assert_int_eq(nt_ack_decode((const char *)big.data, big.len, true, &a, &err), VG_ELIMIT);
	vg_buf_release(&big);
	/* The store's form round-trips. */
	ck_assert_int_eq(nt_ack_decode(good, strlen(good), true, &a, &err), 0);
	ck_assert_uint_eq(a.n_alerts, 2);
	ck_assert(a.alerts[0].is_ended && !a.alerts[1].is_ended);
	ck_assert_str_eq(nt_ack_state(&a, T0), "active");
	ck_assert_str_eq(nt_ack_state(&a, T0 + 7 * 3600 * S), "expired");
	nt_ack_encode(&a, T0, &b);
	ck_assert_int_eq(nt_ack_decode((const char *)b.data, b.len, true, &c, &err), 0);
	ck_assert_str_eq(c.id, "k1");
	ck_assert_str_eq(c.m[0].value, "b\"c");
	ck_assert(c.m[0].is_regex && !c.m[0].is_equal);
	ck_assert_uint_eq(c.alerts[1].fp, UINT64_MAX);
	ck_assert_int_eq(c.alerts[0].starts_ms, a.alerts[0].starts_ms);
	ck_assert_int_eq(c.expires_ms, a.expires_ms);
	nt_ack_release(&c);
	nt_ack_release(&a);
	vg_buf_release(&b);
	/* A POST body needs no id, startsAt or alerts; comment is optional. */
	ck_assert_int_eq(nt_ack_decode(post_body, strlen(post_body), false, &a, &err), 0);
	ck_assert_str_eq(a.comment, "");
	nt_ack_release(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ack");
	TCase *unit = tcase_create("unit"), *tc = tcase_create("receiver");
	SRunner *sr;
	int failed;

	tcase_add_test(unit, test_ack_decoders_hostile_and_round_trip);
	suite_add_tcase(s, unit);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ack_stops_repeats_until_resolved);
	tcase_add_test(tc, test_ack_expiry_lets_repeats_resume);
	tcase_add_test(tc, test_ack_escalation_and_restart);
	tcase_add_test(tc, test_ack_cli_and_alerts_columns);
	tcase_add_test(tc, test_ack_api_refuses_malformed);
	tcase_add_test(tc, test_ack_escalate_config);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
