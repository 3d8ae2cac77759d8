/*
 * test_rules.c: alerting and recording rules (receiver/alert/) in a real
 * receiver on loopback whose clock the test drives (testing_clock_file):
 * pending, then firing after `for`, resolved when the condition clears;
 * keep_firing_for; limit; templated labels and annotations; recording rules queryable as series and read by
 * a later rule of the same evaluation; ALERTS and ALERTS_FOR_STATE; a
 * restart while an alert fires (same activeAt, no new firing event, one
 * resolve); bad rule files refused with file and line on SIGHUP and
 * POST /-/reload while the old rules keep running; `vigil rules check`;
 * rule queries within the query: limits. Flap control has its own suite,
 * tests/test_rules_flap.c. Also the state machine and the state file on their own.
 */
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "receiver/alert/rulefile.h"
#include "receiver/alert/rules.h"
#include "receiver/alert/rules_persist.h"
#include "receiver/alert/rules_state.h"
#include "tests/harness.h"

#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S 1000LL

static char *dir;
static char clock_path[700], rules_path[700], alert_log[700];
static struct vg_t_receiver rcv;
static int64_t t0; /* a multiple of 10 s near the real time */
static const char *extra_conf = ""; /* more of the receiver's configuration */

static void set_clock(int64_t ms)
{
	ck_assert_int_eq(vg_t_write_clock(clock_path, ms), 0);
}

static void write_file(const char *path, const char *text)
{
	char tmp[800];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
}

static void start(void)
{
	char conf[2400];

	snprintf(conf, sizeof(conf),
		 "testing_clock_file: %s\ntesting_alert_log: %s\nrule_files: [\"rules/*.yaml\"]\n"
		 "evaluation_interval: 10s\n%s", clock_path,
		 alert_log, extra_conf);
	ck_assert_msg(vg_t_receiver_start_config(&rcv, dir, conf, 0) == 0, "the receiver did not start");
}

/* A receiver whose clock starts at t0 - 10 s, with rules; the first
 * evaluation (t0 - 10 s) sees no data. */
static void setup_rules(const char *rules)
{
	char sub[800];

	dir = vg_t_tmpdir("vigil-rules");
	t0 = (vg_t_now_ms() / (10 * S)) * 10 * S;
	snprintf(clock_path, sizeof(clock_path), "%s/clock", dir);
	snprintf(alert_log, sizeof(alert_log), "%s/alerts.log", dir);
	snprintf(sub, sizeof(sub), "%s/rules", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	snprintf(rules_path, sizeof(rules_path), "%s/rules/a.yaml", dir);
	write_file(rules_path, rules);
	set_clock(t0 - 10 * S);
	start();
}

static void teardown_rules(void)
{
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 10000), 0);
	vg_t_rmrf(dir);
	free(dir);
}

static void push(const char *series, double v, int64_t ts)
{
	char line[512];
	long status = 0;
	char *reply;

	snprintf(line, sizeof(line), "%s %.17g %" PRId64 "\n", series, v, ts);
	reply = vg_t_http_post(rcv.http_port, "/api/v1/import/prometheus", line, strlen(line), &status);
	ck_assert_msg(status == 204, "import answered %ld: %s", status, reply ? reply : "");
	free(reply);
}

/* Moves the clock to ms and waits until every group has finished its
 * evaluation at ms (10 s at most). */
static void advance(int64_t ms)
{
	ck_assert_int_eq(vg_t_write_clock(clock_path, ms), 0);
	ck_assert_msg(vg_t_wait_rule_evaluation(rcv.http_port, ms, 10000) == 0, "no evaluation at %" PRId64 " within 10 s",
		      ms);
}

/* The alert named name in /api/v1/alerts: its state ("" when there is
 * none) and activeAt. */
static const char *alert_state(const char *name, char *active_at, size_t cap)
{
	static char state[32];
	long status = 0;
	json_t *doc = vg_t_http_json(rcv.http_port, "/api/v1/alerts", &status), *a;
	json_t *alerts = json_object_get(json_object_get(doc, "data"), "alerts");
	size_t i;

	ck_assert_int_eq(status, 200);
	ck_assert(json_is_array(alerts));
	state[0] = '\0';
	if (active_at)
		active_at[0] = '\0';
	json_array_foreach(alerts, i, a) {
		const char *n = json_string_value(json_object_get(json_object_get(a, "labels"), "alertname"));
		if (n && strcmp(n, name) == 0) {
			snprintf(state, sizeof(state), "%s", json_string_value(json_object_get(a, "state")));
			if (active_at)
				snprintf(active_at, cap, "%s", json_string_value(json_object_get(a, "activeAt")));
		}
	}
	json_decref(doc);
	return state;
}

/* The number of series an instant query at ms answers, and the value of
 * the first. */
static size_t query(const char *expr, int64_t ms, double *first)
{
	char path[1024];
	char *e = vg_t_urlencode(expr);
	long status = 0;
	json_t *doc, *res;
	size_t n;

	snprintf(path, sizeof(path), "/api/v1/query?query=%s&time=%.3f", e, (double)ms / 1000.0);
	free(e);
	doc = vg_t_http_json(rcv.http_port, path, &status);
	ck_assert_int_eq(status, 200);
	res = json_object_get(json_object_get(doc, "data"), "result");
	n = json_array_size(res);
	if (n && first)
		*first = strtod(json_string_value(json_array_get(json_object_get(json_array_get(res, 0), "value"), 1)), NULL);
	json_decref(doc);
	return n;
}

/* How many lines of the alert log begin with prefix. */
static int log_lines(const char *prefix)
{
	FILE *f = fopen(alert_log, "r");
	char line[2048];
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strncmp(line, prefix, strlen(prefix)) == 0;
	fclose(f);
	return n;
}

/* Distinct "state fp starts ends" heads of the log's lines of state. */
static int log_distinct(const char *state)
{
	FILE *f = fopen(alert_log, "r");
	char line[2048], seen[64][128];
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char head[128];
		int k, fields = 0;
		size_t i;
		bool is_seen = false;

		if (strncmp(line, state, strlen(state)) != 0)
			continue;
		for (i = 0; line[i] && i < sizeof(head) - 1; i++) {
			if (line[i] == ' ' && ++fields == 4)
				break;
			head[i] = line[i];
		}
		head[i] = '\0';
		for (k = 0; k < n; k++)
			is_seen = is_seen || strcmp(seen[k], head) == 0;
		if (!is_seen && n < 64)
			snprintf(seen[n++], sizeof(seen[0]), "%s", head);
	}
	fclose(f);
	return n;
}

static const char rules_for[] =
	"groups:\n"
	"- name: g\n"
	"  interval: 10s\n"
	"  rules:\n"
	"  - alert: High\n"
	"    expr: rule_m > 5\n"
	"    for: 20s\n"
	"    labels:\n"
	"      severity: page\n"
	"    annotations:\n"
	"      summary: rule_m is high\n";

START_TEST(test_rules_pending_then_firing_after_for_then_resolved)
{
	char active[64], want[64];
	double v = 0;

	setup_rules(rules_for);
	push("rule_m{job=\"a\"}", 10, t0);
	advance(t0);
	ck_assert_str_eq(alert_state("High", active, sizeof(active)), "pending");
	vg_time_format_rfc3339(t0, want, sizeof(want));
	ck_assert_str_eq(active, want);
	ck_assert_int_eq(log_lines("firing"), 0); /* pending is never handed on */
	ck_assert_uint_eq(query("ALERTS{alertstate=\"pending\"}", t0, &v), 1);
	ck_assert(v == 1);
	ck_assert_uint_eq(query("ALERTS_FOR_STATE", t0, &v), 1);
	ck_assert(v == (double)t0 / 1000);

	advance(t0 + 10 * S);
	ck_assert_str_eq(alert_state("High", NULL, 0), "pending");
	advance(t0 + 20 * S);
	ck_assert_str_eq(alert_state("High", active, sizeof(active)), "firing");
	ck_assert_str_eq(active, want); /* activeAt stays */
	ck_assert_int_eq(log_lines("firing"), 1);
	ck_assert_uint_eq(query("ALERTS{alertstate=\"firing\",severity=\"page\",job=\"a\"}", t0 + 20 * S, NULL), 1);
	/* The pending series ended with a staleness marker. */
	ck_assert_uint_eq(query("ALERTS{alertstate=\"pending\"}", t0 + 20 * S, NULL), 0);

	push("rule_m{job=\"a\"}", 1, t0 + 25 * S);
	advance(t0 + 30 * S);
	ck_assert_str_eq(alert_state("High", NULL, 0), "");
	ck_assert_int_eq(log_lines("resolved"), 1);
	ck_assert_uint_eq(query("ALERTS", t0 + 30 * S, NULL), 0);
	{
		long status = 0;
		char *m = vg_t_http_get(rcv.http_port, "/metrics", &status);
		ck_assert_ptr_nonnull(strstr(m, "vigil_alerts{state=\"inactive\"} 1\n"));
		ck_assert_ptr_nonnull(strstr(m, "vigil_alerts{state=\"firing\"} 0\n"));
		ck_assert_ptr_nonnull(strstr(m, "vigil_rule_group_evaluations_total{rule_group="));
		ck_assert_ptr_nonnull(strstr(m, "vigil_rule_group_evaluation_failures_total{rule_group="));
		free(m);
	}
	teardown_rules();
}
END_TEST

START_TEST(test_rules_keep_firing_for_holds_a_cleared_alert)
{
	setup_rules("groups:\n- name: g\n  interval: 10s\n  rules:\n"
		    "  - alert: Flappy\n    expr: rule_m > 5\n    keep_firing_for: 30s\n");
	push("rule_m", 10, t0);
	advance(t0);
	ck_assert_str_eq(alert_state("Flappy", NULL, 0), "firing"); /* for: 0 fires at once */
	push("rule_m", 1, t0 + 5 * S);
	advance(t0 + 10 * S); /* missing since t0 + 10 s */
	ck_assert_str_eq(alert_state("Flappy", NULL, 0), "firing");
	advance(t0 + 30 * S); /* t0 + 20 s was skipped: one missed */
	ck_assert_str_eq(alert_state("Flappy", NULL, 0), "firing");
	{
		long status = 0;
		char *m = vg_t_http_get(rcv.http_port, "/metrics", &status);
		const char *p = strstr(m, "vigil_rule_group_iterations_missed_total{rule_group=");
		ck_assert_ptr_nonnull(p);
		ck_assert_ptr_nonnull(strstr(p, "} 1\n"));
		ck_assert(strstr(p, "} 1\n") < strstr(p, "# HELP"));
		free(m);
	}
	advance(t0 + 40 * S); /* 30 s missing */
	ck_assert_str_eq(alert_state("Flappy", NULL, 0), "");
	ck_assert_int_eq(log_distinct("resolved"), 1);
	teardown_rules();
}
END_TEST

START_TEST(test_rules_limit_fails_the_rule_and_clears_its_alerts)
{
	long status = 0;
	char *body;

	setup_rules("groups:\n- name: g\n  interval: 10s\n  limit: 1\n  rules:\n"
		    "  - alert: Many\n    expr: rule_m > 0\n");
	push("rule_m{i=\"1\"}", 1, t0);
	advance(t0);
	ck_assert_str_eq(alert_state("Many", NULL, 0), "firing");
	push("rule_m{i=\"2\"}", 1, t0 + 5 * S);
	advance(t0 + 10 * S);
	ck_assert_str_eq(alert_state("Many", NULL, 0), "");
	ck_assert_int_eq(log_lines("resolved"), 1); /* the firing one resolved */
	body = vg_t_http_get(rcv.http_port, "/api/v1/rules", &status);
	ck_assert_ptr_nonnull(strstr(body, "\"health\":\"err\""));
	ck_assert_ptr_nonnull(strstr(body, "exceeded limit of 1 with 2 alerts"));
	free(body);
	body = vg_t_http_get(rcv.http_port, "/metrics", &status);
	ck_assert_ptr_nonnull(strstr(body, "vigil_rule_group_evaluation_failures_total{rule_group=\""));
	ck_assert_ptr_null(strstr(body, "vigil_rule_group_evaluation_failures_total{rule_group=\"rules/a.yaml;g\"} 0"));
	free(body);
	teardown_rules();
}
END_TEST

START_TEST(test_rules_recording_rule_is_a_series_a_later_rule_reads)
{
	long status = 0;
	char *body;
	double v = 0;

	setup_rules("groups:\n- name: rec\n  interval: 10s\n  rules:\n"
		    "  - record: job:rule_m:sum\n    expr: sum by (job) (rule_m)\n    labels:\n      tier: one\n"
		    "  - alert: SumHigh\n    expr: job:rule_m:sum > 15\n");
	push("rule_m{job=\"a\",i=\"1\"}", 10, t0);
	push("rule_m{job=\"a\",i=\"2\"}", 7, t0);
	advance(t0);
	ck_assert_uint_eq(query("job:rule_m:sum{job=\"a\",tier=\"one\"}", t0, &v), 1);
	ck_assert(v == 17);
	/* The alert read the recorded series in the same evaluation. */
	ck_assert_str_eq(alert_state("SumHigh", NULL, 0), "firing");
	/* type=record lists only the recording rule. */
	body = vg_t_http_get(rcv.http_port, "/api/v1/rules?type=record", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_ptr_nonnull(strstr(body, "\"type\":\"recording\""));
	ck_assert_ptr_null(strstr(body, "\"type\":\"alerting\""));
	free(body);
	body = vg_t_http_get(rcv.http_port, "/api/v1/rules?type=bogus", &status);
	ck_assert_int_eq(status, 400);
	free(body);
	/* rule_name[], rule_group[], file[] and exclude_alerts. */
	body = vg_t_http_get(rcv.http_port, "/api/v1/rules?rule_name[]=SumHigh", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_ptr_null(strstr(body, "\"type\":\"recording\""));
	ck_assert_ptr_nonnull(strstr(body, "\"alerts\":[{"));
	free(body);
	body = vg_t_http_get(rcv.http_port, "/api/v1/rules?rule_name[]=SumHigh&exclude_alerts=true", &status);
	ck_assert_ptr_nonnull(strstr(body, "\"alerts\":[]"));
	free(body);
	body = vg_t_http_get(rcv.http_port, "/api/v1/rules?rule_group[]=nope", &status);
	ck_assert_str_eq(body, "{\"status\":\"success\",\"data\":{\"groups\":[]}}");
	free(body);
	{
		char q[1200];
		snprintf(q, sizeof(q), "/api/v1/rules?rule_group[]=rec&file[]=%s&file[]=x", rules_path);
		body = vg_t_http_get(rcv.http_port, q, &status);
		ck_assert_ptr_nonnull(strstr(body, "\"name\":\"rec\""));
		free(body);
	}
	/* The recorded series follows its input. */
	push("rule_m{job=\"a\",i=\"1\"}", -1, t0 + 5 * S); /* still there */
	advance(t0 + 10 * S);
	ck_assert_uint_eq(query("job:rule_m:sum", t0 + 10 * S, &v), 1);
	ck_assert(v == 6);
	teardown_rules();
}
END_TEST

START_TEST(test_rules_restart_keeps_a_firing_alert_and_resolves_it_once)
{
	char before[64], after[64];

	setup_rules(rules_for);
	push("rule_m{job=\"a\"}", 10, t0);
	advance(t0);
	advance(t0 + 20 * S);
	ck_assert_str_eq(alert_state("High", before, sizeof(before)), "firing");
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 10000), 0);

	start();
	push("rule_m{job=\"a\"}", 10, t0 + 25 * S);
	advance(t0 + 30 * S);
	ck_assert_str_eq(alert_state("High", after, sizeof(after)), "firing");
	ck_assert_str_eq(after, before);
	/* Handed on twice, as the same firing event (same start). */
	ck_assert_int_eq(log_lines("firing"), 2);
	ck_assert_int_eq(log_distinct("firing"), 1);

	push("rule_m{job=\"a\"}", 0, t0 + 35 * S);
	advance(t0 + 40 * S);
	ck_assert_str_eq(alert_state("High", NULL, 0), "");
	/* A kill -9 now: the resolved state was saved when it changed. */
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 10000), 128 + SIGKILL);
	start();
	advance(t0 + 50 * S);
	ck_assert_str_eq(alert_state("High", NULL, 0), "");
	ck_assert_int_ge(log_lines("resolved"), 2);
	ck_assert_int_eq(log_distinct("resolved"), 1); /* one resolve, repeated */
	ck_assert_int_eq(log_distinct("firing"), 1);
	teardown_rules();
}
END_TEST

START_TEST(test_rules_bad_files_are_refused_and_the_old_rules_keep_running)
{
	long status = 0;
	char *body;

	setup_rules(rules_for);
	push("rule_m{job=\"a\"}", 10, t0);
	advance(t0);
	ck_assert_str_eq(alert_state("High", NULL, 0), "pending");

	/* SIGHUP with bad PromQL: refused, logged with file, line, column. */
	write_file(rules_path, "groups:\n- name: g\n  rules:\n  - alert: X\n    expr: rule_m >\n");
	ck_assert_int_eq(kill(rcv.proc.pid, SIGHUP), 0);
	{
		int64_t deadline = vg_t_now_ms() + 10000;
		while (!vg_t_log_contains(&rcv.proc, "rules/a.yaml:5: groups[0].rules[0].expr: 1:9: parse error") &&
		       vg_t_now_ms() < deadline)
			vg_t_sleep_ms(20);
	}
	ck_assert(vg_t_log_contains(&rcv.proc, "reload refused, the previous rules keep running"));
	ck_assert(vg_t_log_contains(&rcv.proc, "rules/a.yaml:5: groups[0].rules[0].expr: 1:9: parse error"));
	advance(t0 + 10 * S);
	ck_assert_str_eq(alert_state("High", NULL, 0), "pending");

	/* POST /-/reload with a duplicate group: 500 naming file and line. */
	write_file(rules_path, "groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n");
	body = vg_t_http_post(rcv.http_port, "/-/reload", "", 0, &status);
	ck_assert_int_eq(status, 500);
	ck_assert_msg(strstr(body, "a.yaml:4: groups[1]: groupname: \\\"g\\\" is repeated") != NULL, "%s", body);
	free(body);
	/* A template that does not parse. */
	write_file(rules_path, "groups:\n- name: g\n  rules:\n  - alert: X\n    expr: up\n    annotations:\n      s: \"{{ nope }}\"\n");
	body = vg_t_http_post(rcv.http_port, "/-/reload", "", 0, &status);
	ck_assert_int_eq(status, 500);
	ck_assert_msg(strstr(body, "a.yaml:4: groups[0].rules[0].annotations.s: template: 1:") != NULL, "%s", body);
	free(body);
	/* A bad duration. */
	write_file(rules_path, "groups:\n- name: g\n  interval: 1q\n  rules: []\n");
	body = vg_t_http_post(rcv.http_port, "/-/reload", "", 0, &status);
	ck_assert_int_eq(status, 500);
	ck_assert_msg(strstr(body, "a.yaml:3: groups[0].interval: not a valid duration") != NULL, "%s", body);
	free(body);
	advance(t0 + 20 * S);
	ck_assert_str_eq(alert_state("High", NULL, 0), "firing"); /* the old rule went on */

	/* A good file is taken. The engine applies it at its next tick and
	 * marks the dropped rule's series stale at that tick's time: a second
	 * on, so the marker never shares a timestamp with the t0+20 sample
	 * (the head keeps the first of equal timestamps), whether the tick
	 * comes before the clock reaches t0+30 or after. */
	ck_assert_int_eq(vg_t_write_clock(clock_path, t0 + 21 * S), 0);
	write_file(rules_path, "groups:\n- name: g2\n  interval: 10s\n  rules:\n  - alert: Other\n    expr: rule_m > 5\n");
	body = vg_t_http_post(rcv.http_port, "/-/reload", "", 0, &status);
	ck_assert_int_eq(status, 200);
	free(body);
	advance(t0 + 30 * S);
	ck_assert_str_eq(alert_state("Other", NULL, 0), "firing");
	ck_assert_str_eq(alert_state("High", NULL, 0), "");
	/* The dropped rule's ALERTS series ended with a staleness marker. */
	ck_assert_uint_eq(query("ALERTS{alertname=\"High\"}", t0 + 30 * S, NULL), 0);
	ck_assert_uint_eq(query("ALERTS{alertname=\"Other\"}", t0 + 30 * S, NULL), 1);
	teardown_rules();
}
END_TEST

START_TEST(test_rules_bad_file_at_start_is_refused_with_file_and_line)
{
	struct vg_t_receiver r2;
	char conf[1000], sub[800], path[800];
	char *d = vg_t_tmpdir("vigil-rules-bad");
	int64_t deadline;

	snprintf(sub, sizeof(sub), "%s/rules", d);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	snprintf(path, sizeof(path), "%s/rules/x.yaml", d);
	write_file(path, "groups:\n- name: g\n  rules:\n  - record: 1bad\n    expr: up\n");
	snprintf(conf, sizeof(conf), "rule_files: [\"rules/*.yaml\"]\n");
	ck_assert_int_ne(vg_t_receiver_start_config(&r2, d, conf, 0), 0);
	deadline = vg_t_now_ms() + 5000;
	while (vg_t_alive(&r2.proc) && vg_t_now_ms() < deadline)
		vg_t_sleep_ms(20);
	ck_assert(vg_t_log_contains(&r2.proc, "rules/x.yaml:4: groups[0].rules[0].record: invalid recording rule name"));
	(void)vg_t_stop(&r2.proc, SIGKILL, 1000);
	vg_t_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_rules_templated_labels_and_annotations)
{
	long status = 0;
	json_t *doc, *a;

	setup_rules("groups:\n- name: g\n  interval: 10s\n  rules:\n"
		    "  - alert: Big\n    expr: rule_m > 5\n"
		    "    labels:\n      sev: \"{{ if gt $value 100.0 }}page{{ else }}ticket{{ end }}\"\n"
		    "    annotations:\n      summary: \"{{ $labels.job }} at {{ $value | humanize }}\"\n"
		    "      dotted: \"{{ .Labels.job }}/{{ .Value }}\"\n");
	push("rule_m{job=\"a\"}", 1234567, t0);
	push("rule_m{job=\"b\"}", 7, t0);
	advance(t0);
	doc = vg_t_http_json(rcv.http_port, "/api/v1/alerts", &status);
	ck_assert_int_eq(status, 200);
	json_t *alerts = json_object_get(json_object_get(doc, "data"), "alerts");
	ck_assert_uint_eq(json_array_size(alerts), 2);
	size_t i;
	int seen = 0;
	json_array_foreach(alerts, i, a) {
		json_t *l = json_object_get(a, "labels"), *an = json_object_get(a, "annotations");
		const char *job = json_string_value(json_object_get(l, "job"));
		if (strcmp(job, "a") == 0) {
			ck_assert_str_eq(json_string_value(json_object_get(l, "sev")), "page");
			ck_assert_str_eq(json_string_value(json_object_get(an, "summary")), "a at 1.235M");
			ck_assert_str_eq(json_string_value(json_object_get(an, "dotted")), "a/1.234567e+06");
			seen |= 1;
		} else {
			ck_assert_str_eq(json_string_value(json_object_get(l, "sev")), "ticket");
			ck_assert_str_eq(json_string_value(json_object_get(an, "summary")), "b at 7");
			seen |= 2;
		}
	}
	ck_assert_int_eq(seen, 3);
	json_decref(doc);
	/* The expanded label is part of the ALERTS series. */
	ck_assert_uint_eq(query("ALERTS{sev=\"page\",job=\"a\"}", t0, NULL), 1);
	teardown_rules();
}
END_TEST

/* A rule whose query goes past the query: limits fails alone, with the
 * limit's message as its lastError, and is counted. */
START_TEST(test_rules_queries_run_within_the_query_limits)
{
	struct vg_buf b = VG_BUF_INIT;
	long status = 0;
	char *body, *p;

	extra_conf = "query:\n  max_series: 2\n  max_samples: 100\n";
	setup_rules("groups:\n- name: g\n  interval: 10s\n  rules:\n"
		    "  - alert: TooWide\n    expr: count(lim_m) > 0\n"
		    "  - alert: TooLong\n    expr: count_over_time(lim_one[1h]) > 0\n"
		    "  - alert: Fine\n    expr: lim_one > 0\n");
	extra_conf = "";
	/* The first evaluation, before the data: a limit counts the series a
	 * selector matches at any time. */
	advance(t0 - 10 * S);
	for (int i = 0; i < 3; i++)
		vg_buf_printf(&b, "lim_m{i=\"%d\"} 1 %" PRId64 "\n", i, t0);
	for (int i = 0; i < 200; i++)
		vg_buf_printf(&b, "lim_one 1 %" PRId64 "\n", (int64_t)(t0 - i * 10 * S));
	body = vg_t_http_post(rcv.http_port, "/api/v1/import/prometheus", b.data, b.len, &status);
	ck_assert_int_eq(status, 204);
	free(body);
	vg_buf_release(&b);
	advance(t0);
	ck_assert_str_eq(alert_state("Fine", NULL, 0), "firing");
	ck_assert_str_eq(alert_state("TooWide", NULL, 0), "");
	body = vg_t_http_get(rcv.http_port, "/api/v1/rules", &status);
	p = strstr(body, "\"name\":\"TooWide\"");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(strstr(p, "\"health\":\"err\",\"lastError\":\"query processing would load too many series"));
	p = strstr(body, "\"name\":\"TooLong\"");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(strstr(p, "\"health\":\"err\",\"lastError\":\"query processing would load too many samples"));
	p = strstr(body, "\"name\":\"Fine\"");
	ck_assert_ptr_nonnull(strstr(p, "\"health\":\"ok\""));
	free(body);
	body = vg_t_http_get(rcv.http_port, "/metrics", &status);
	p = strstr(body, "vigil_rule_group_query_limit_failures_total{rule_group=");
	ck_assert_ptr_nonnull(p);
	ck_assert_msg(strncmp(strchr(p, '}'), "} 2\n", 4) == 0, "%s", p); /* both, once each */
	free(body);
	teardown_rules();
}
END_TEST

/* --- vigil rules check ------------------------------------------------------- */

static int check_rules(const char *text, char **out, char **err)
{
	char *d = vg_t_tmpdir("vigil-rules-check"), path[800];
	int rc;

	snprintf(path, sizeof(path), "%s/r.yaml", d);
	write_file(path, text);
	char *argv[] = { (char *)vg_t_bin("vigil"), "rules", "check", path, NULL };
	rc = vg_t_run(argv, out, err, 10000);
	vg_t_rmrf(d);
	free(d);
	return rc;
}

START_TEST(test_rules_check_exit_codes_and_output)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up ==\n", "r.yaml:5: groups[0].rules[0].expr: 1:6: parse error" },
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    for: 5x\n", "r.yaml:6: groups[0].rules[0].for: not a valid duration" },
		{ "groups:\n- name: g\n- name: g\n", "r.yaml:3: groups[1]: groupname: \"g\" is repeated" },
		{ "groups:\n- name: g\n  rules:\n  - record: a-b\n    expr: up\n", "r.yaml:4: groups[0].rules[0].record: invalid recording rule name" },
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels:\n      1x: y\n", "r.yaml:7: groups[0].rules[0].labels: invalid label name" },
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n    record: b\n    expr: up\n", "r.yaml:4: groups[0].rules[0]: only one of 'record' and 'alert'" },
		{ "groups:\n- name: g\n  rules:\n  - record: b\n    expr: up\n    for: 1m\n", "invalid field 'for' in recording rule" },
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n", "field 'expr' must be set" },
		{ "groups:\n- name: g\n  rulez: []\n", "r.yaml:3: unknown key \"rulez\"" },
		{ "groups:\n- name: g\n  rules: [\n", "r.yaml:" },
		{ "groups:\n- interval: 1m\n", "r.yaml:2: groups[0]: group name must not be empty" },
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    annotations:\n      s: \"{{ $labels.x \"\n",
		  "r.yaml:4: groups[0].rules[0].annotations.s: template: 1:" },
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels:\n      s: \"{{ range . }}{{ end }}\"\n",
		  "r.yaml:4: groups[0].rules[0].labels.s: template: 1:" },
	};
	char *out = NULL, *err = NULL;

	ck_assert_int_eq(check_rules(rules_for, &out, &err), 0);
	ck_assert_ptr_nonnull(strstr(out, "Checking "));
	ck_assert_ptr_nonnull(strstr(out, "\n  SUCCESS: 1 rules found\n\n"));
	free(out);
	free(err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(check_rules(bad[i].text, &out, &err), 1);
		ck_assert_msg(strstr(err, "  FAILED:\n") != NULL, "case %zu: %s", i, err);
		ck_assert_msg(strstr(err, bad[i].want) != NULL, "case %zu: want %s in %s", i, bad[i].want, err);
		free(out);
		free(err);
	}
	{
		char *argv[] = { (char *)vg_t_bin("vigil"), "rules", "check", NULL };
		ck_assert_int_eq(vg_t_run(argv, &out, &err, 10000), 2);
		free(out);
		free(err);
	}
	{
		/* --prometheus takes the same Prometheus files. */
		char *d = vg_t_tmpdir("vigil-rules-check"), path[800];
		snprintf(path, sizeof(path), "%s/r.yaml", d);
		write_file(path, rules_for);
		char *argv[] = { (char *)vg_t_bin("vigil"), "rules", "check", "--prometheus", path, NULL };
		ck_assert_int_eq(vg_t_run(argv, &out, &err, 10000), 0);
		ck_assert_ptr_nonnull(strstr(out, "SUCCESS: 1 rules found"));
		free(out);
		free(err);
		vg_t_rmrf(d);
		free(d);
	}
	{
		char *argv[] = { (char *)vg_t_bin("vigil"), "rules", "check", "/nonexistent/r.yaml", NULL };
		ck_assert_int_eq(vg_t_run(argv, &out, &err, 10000), 1);
		ck_assert_ptr_nonnull(strstr(err, "/nonexistent/r.yaml: cannot open"));
		free(out);
		free(err);
	}
}
END_TEST

/* vigil alerts against a receiver with one firing alert. */
START_TEST(test_rules_vigil_alerts_lists_firing_and_pending)
{
	char server[64], *out = NULL, *err = NULL;

	/* No interval: the receiver's evaluation_interval (10s). */
	setup_rules("groups:\n- name: g\n  rules:\n"
		    "  - alert: Now\n    expr: rule_m > 5\n  - alert: Later\n    expr: rule_m > 5\n    for: 1h\n");
	push("rule_m{job=\"a\"}", 10, t0);
	advance(t0);
	snprintf(server, sizeof(server), "http://127.0.0.1:%u", rcv.http_port);
	char *argv[] = { (char *)vg_t_bin("vigil"), "--server", server, "alerts", NULL };
	ck_assert_int_eq(vg_t_run(argv, &out, &err, 10000), 0);
	ck_assert_ptr_nonnull(strstr(out, "STATE"));
	ck_assert_ptr_nonnull(strstr(out, "firing"));
	ck_assert_ptr_nonnull(strstr(out, "Now{job=\"a\"}"));
	ck_assert_ptr_nonnull(strstr(out, "pending"));
	ck_assert_ptr_nonnull(strstr(out, "Later{job=\"a\"}"));
	free(out);
	free(err);
	{
		long status = 0;
		char *body = vg_t_http_get(rcv.http_port, "/api/v1/rules", &status);
		ck_assert_ptr_nonnull(strstr(body, "\"interval\":10,"));
		free(body);
	}
	{
		char *argv2[] = { (char *)vg_t_bin("vigil"), "--server", server, "alerts", "-o", "csv", NULL };
		ck_assert_int_eq(vg_t_run(argv2, &out, &err, 10000), 0);
		ck_assert_ptr_nonnull(strstr(out, "state,active_at,age_seconds,acked_by,ack_id,silenced_by,alertname,labels\n"));
		ck_assert_ptr_nonnull(strstr(out, "firing,"));
		ck_assert_ptr_nonnull(strstr(out, ",Now,\"{job=\"\"a\"\"}\"\n"));
		free(out);
		free(err);
	}
	teardown_rules();
}
END_TEST

/* --- the state machine and the state file, on their own ---------------------- */

static void observe(struct vg_alert_table *t, const char *v, int64_t ts)
{
	char *names[] = { "alertname", "i" }, *values[] = { "A", (char *)v };
	struct vg_conf_labels l = { 2, names, values }, ann = { 0, NULL, NULL };
	struct vg_err err;

	ck_assert_int_eq(vg_alert_table_observe(t, &l, &ann, 1, ts, &err), 0);
}

START_TEST(test_rules_state_machine_transitions)
{
	struct vg_alert_table t = { 0, 0, NULL, NULL, 0 };
	char *names[] = { "alertname", "i" }, *values[] = { "A", "1" };
	struct vg_conf_labels l = { 2, names, values }, ann = { 0, NULL, NULL };
	struct vg_err err;

	vg_alert_table_begin(&t);
	observe(&t, "1", 1000);
	ck_assert_int_eq(vg_alert_table_observe(&t, &l, &ann, 1, 1000, &err), VG_EINVAL); /* twice */
	observe(&t, "2", 1000);
	ck_assert(vg_alert_table_end(&t, 1000, 5000, 0));
	ck_assert_uint_eq(t.n, 2);
	ck_assert_int_eq(t.v[0].state, VG_ALERT_PENDING);
	/* i=2 leaves while pending: gone at once. */
	vg_alert_table_begin(&t);
	observe(&t, "1", 6000);
	vg_alert_table_end(&t, 6000, 5000, 0);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_int_eq(t.v[0].state, VG_ALERT_FIRING);
	ck_assert_int_eq(t.v[0].active_at_ms, 1000);
	ck_assert_int_eq(t.v[0].fired_at_ms, 6000);
	/* Gone: resolved, kept, then dropped after the retention. */
	vg_alert_table_begin(&t);
	vg_alert_table_end(&t, 7000, 5000, 0);
	ck_assert_int_eq(t.v[0].state, VG_ALERT_INACTIVE);
	ck_assert_int_eq(t.v[0].resolved_at_ms, 7000);
	/* Back: a new pending instance. */
	vg_alert_table_begin(&t);
	observe(&t, "1", 8000);
	vg_alert_table_end(&t, 8000, 5000, 0);
	ck_assert_int_eq(t.v[0].state, VG_ALERT_PENDING);
	ck_assert_int_eq(t.v[0].active_at_ms, 8000);
	vg_alert_table_begin(&t);
	vg_alert_table_end(&t, 9000, 0, 0);
	ck_assert_uint_eq(t.n, 0);
	/* Many instances, found again through the index; half go away. */
	for (int round = 0; round < 3; round++) {
		vg_alert_table_begin(&t);
		for (int i = 0; i < 3000; i++) {
			char v[16];
			if (round == 2 && i % 2)
				continue;
			snprintf(v, sizeof(v), "%d", i);
			observe(&t, v, 10000 + round);
		}
		values[1] = "0";
		ck_assert_int_eq(vg_alert_table_observe(&t, &l, &ann, 1, 10000, &err), VG_EINVAL);
		vg_alert_table_end(&t, 10000 + round, 0, 0);
	}
	ck_assert_uint_eq(t.n, 3000); /* 1500 firing, 1500 resolved */
	for (size_t i = 0; i < t.n; i++) {
		long k = strtol(t.v[i].labels.values[1], NULL, 10);
		ck_assert_int_eq(t.v[i].state, k % 2 ? VG_ALERT_INACTIVE : VG_ALERT_FIRING);
		ck_assert_int_eq(t.v[i].active_at_ms, 10000);
	}
	vg_alert_table_release(&t);
}
END_TEST

START_TEST(test_rules_state_file_round_trip_and_damage)
{
	struct vg_alert_table t = { 0, 0, NULL, NULL, 0 };
	struct vg_rules_saved s;
	struct vg_buf b = VG_BUF_INIT;
	struct vg_err err;
	char *d = vg_t_tmpdir("vigil-rules-state"), path[800];

	vg_alert_table_begin(&t);
	observe(&t, "1", 1000);
	vg_alert_table_end(&t, 1000, 0, 0);
	vg_rules_persist_begin(&b, 1);
	vg_rules_persist_group(&b, "f.yaml", "g", 1000);
	vg_rules_persist_rules(&b, 1);
	vg_rules_persist_rule(&b, "f.yaml", "g", 3, "A", &t);
	ck_assert_int_eq(vg_rules_persist_write(d, &b, &err), 0);
	ck_assert_int_eq(vg_rules_persist_read(d, &s, &err), 0);
	ck_assert_uint_eq(s.n_groups, 1);
	ck_assert_str_eq(s.groups[0].name, "g");
	ck_assert_int_eq(s.groups[0].last_eval_ms, 1000);
	ck_assert_uint_eq(s.n_rules, 1);
	ck_assert_uint_eq(s.rules[0].index, 3);
	ck_assert_uint_eq(s.rules[0].table.n, 1);
	ck_assert_int_eq(s.rules[0].table.v[0].state, VG_ALERT_FIRING);
	ck_assert_str_eq(s.rules[0].table.v[0].labels.values[1], "1");
	vg_rules_saved_release(&s);
	/* Every truncation and a flipped byte are refused. */
	for (size_t n = 0; n < b.len; n++)
		ck_assert_int_ne(vg_rules_persist_decode(b.data, n, &s, &err), 0);
	b.data[12] ^= 1;
	ck_assert_int_eq(vg_rules_persist_decode(b.data, b.len, &s, &err), VG_ECHECKSUM);
	snprintf(path, sizeof(path), "%s/%s", d, VG_RULES_STATE_FILE);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(vg_rules_persist_read(d, &s, &err), VG_ENOENT);
	vg_buf_release(&b);
	vg_alert_table_release(&t);
	vg_t_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_rules_value_as_prometheus_formats_it)
{
	char v[64];

	vg_rules_format_value_e(1, v, sizeof(v));
	ck_assert_str_eq(v, "1e+00");
	vg_rules_format_value_e(0.5, v, sizeof(v));
	ck_assert_str_eq(v, "5e-01");
	vg_rules_format_value_e(1234.5, v, sizeof(v));
	ck_assert_str_eq(v, "1.2345e+03");
	vg_rules_format_value_e(NAN, v, sizeof(v));
	ck_assert_str_eq(v, "NaN");
	vg_rules_format_value_e(-INFINITY, v, sizeof(v));
	ck_assert_str_eq(v, "-Inf");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rules");
	TCase *unit = tcase_create("unit"), *tc = tcase_create("daemon");
	SRunner *sr;
	int failed;

	vg_log_set_level(VG_LOG_ERROR);
	tcase_add_test(unit, test_rules_state_machine_transitions);
	tcase_add_test(unit, test_rules_state_file_round_trip_and_damage);
	tcase_add_test(unit, test_rules_value_as_prometheus_formats_it);
	tcase_add_test(unit, test_rules_check_exit_codes_and_output);
	suite_add_tcase(s, unit);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_rules_pending_then_firing_after_for_then_resolved);
	tcase_add_test(tc, test_rules_keep_firing_for_holds_a_cleared_alert);
	tcase_add_test(tc, test_rules_limit_fails_the_rule_and_clears_its_alerts);
	tcase_add_test(tc, test_rules_recording_rule_is_a_series_a_later_rule_reads);
	tcase_add_test(tc, test_rules_restart_keeps_a_firing_alert_and_resolves_it_once);
	tcase_add_test(tc, test_rules_bad_files_are_refused_and_the_old_rules_keep_running);
	tcase_add_test(tc, test_rules_bad_file_at_start_is_refused_with_file_and_line);
	tcase_add_test(tc, test_rules_vigil_alerts_lists_firing_and_pending);
	tcase_add_test(tc, test_rules_templated_labels_and_annotations);
	tcase_add_test(tc, test_rules_queries_run_within_the_query_limits);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
