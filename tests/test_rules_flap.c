/*
 * test_rules_flap.c: flap control in alerting rules (Vigil's dialect,
 * man/vigil-rules.5 "Flap control"): resolve_expr (hysteresis), its
 * shorthand resolve_threshold, and min_resolved_for (a hold-down); the
 * state machine and the state file on their own; the dialect refused by
 * `vigil rules check --prometheus` as by promtool; and the whole path end
 * to end: a real receiver whose driven clock (testing_clock_file) makes
 * an hour of a condition that swings every 30 s pass in a few seconds,
 * its rules' alerts through the notifier to a webhook
 * (tests/http_sink.py), where the pages are counted.
 */
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "receiver/alert/rulefile.h"
#include "receiver/alert/rules_persist.h"
#include "receiver/alert/rules_state.h"
#include "tests/harness.h"

#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#define S 1000LL

/* --- the state machine ------------------------------------------------------ */

static struct vg_conf_labels labels_of(char **names, char **values)
{
	names[0] = "alertname";
	names[1] = "i";
	values[0] = "A";
	values[1] = "1";
	return (struct vg_conf_labels){ 2, names, values };
}

/* One evaluation at ts: the instance returned by expr (is_expr) or only
 * by the resolve condition (is_resolve). */
static void eval_at(struct vg_alert_table *t, int64_t ts, bool is_expr, bool is_resolve, int64_t for_ms,
		    int64_t hold_ms)
{
	char *n[2], *v[2];
	struct vg_conf_labels l = labels_of(n, v), ann = { 0, NULL, NULL };
	struct vg_err err;

	vg_alert_table_begin(t);
	if (is_expr)
		ck_assert_int_eq(vg_alert_table_observe(t, &l, &ann, 1, ts, &err), 0);
	if (is_resolve)
		(void)vg_alert_table_hold(t, &l);
	vg_alert_table_end_flap(t, ts, for_ms, 0, hold_ms);
}

START_TEST(test_flap_resolve_condition_holds_a_firing_alert)
{
	struct vg_alert_table t = { 0, 0, NULL, NULL, 0 };
	char *n[2], *v[2];
	struct vg_conf_labels l = labels_of(n, v);

	/* Held only while firing: a pending one the resolve condition
	 * returns is still dropped. */
	eval_at(&t, 1000, true, false, 5000, 0);
	ck_assert_int_eq(t.v[0].state, VG_ALERT_PENDING);
	vg_alert_table_begin(&t);
	ck_assert(!vg_alert_table_hold(&t, &l));
	vg_alert_table_end_flap(&t, 2000, 5000, 0, 0);
	ck_assert_uint_eq(t.n, 0);

	eval_at(&t, 10000, true, false, 0, 0);
	ck_assert_int_eq(t.v[0].state, VG_ALERT_FIRING);
	for (int64_t ts = 11000; ts < 20000; ts += 1000) {
		eval_at(&t, ts, ts % 2000 == 0, true, 0, 0); /* expr swings, the resolve condition holds */
		ck_assert_int_eq(t.v[0].state, VG_ALERT_FIRING);
		ck_assert_int_eq(t.v[0].fired_at_ms, 10000);
	}
	eval_at(&t, 20000, false, false, 0, 0); /* neither: resolved */
	ck_assert_int_eq(t.v[0].state, VG_ALERT_INACTIVE);
	ck_assert_int_eq(t.v[0].resolved_at_ms, 20000);
	ck_assert_int_eq(t.v[0].hold_until_ms, 0);
	vg_alert_table_release(&t);
}
END_TEST

START_TEST(test_flap_hold_down_keeps_a_resolved_alert_from_firing_again)
{
	struct vg_alert_table t = { 0, 0, NULL, NULL, 0 };

	eval_at(&t, 1000, true, false, 0, 60000);
	ck_assert_int_eq(t.v[0].state, VG_ALERT_FIRING);
	eval_at(&t, 2000, false, false, 0, 60000);
	ck_assert_int_eq(t.v[0].state, VG_ALERT_INACTIVE);
	ck_assert_int_eq(t.v[0].hold_until_ms, 62000);
	/* Back within the hold-down: pending, the last incident kept. */
	eval_at(&t, 3000, true, false, 0, 60000);
	ck_assert_int_eq(t.v[0].state, VG_ALERT_PENDING);
	ck_assert_int_eq(t.v[0].active_at_ms, 3000);
	ck_assert_int_eq(t.v[0].fired_at_ms, 1000);
	ck_assert_int_eq(t.v[0].resolved_at_ms, 2000);
	/* Gone again: resolved as it was, not forgotten. */
	eval_at(&t, 4000, false, false, 0, 60000);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_int_eq(t.v[0].state, VG_ALERT_INACTIVE);
	ck_assert_int_eq(t.v[0].resolved_at_ms, 2000);
	/* Back, and still there when the hold-down ends: a new incident. */
	eval_at(&t, 50000, true, false, 0, 60000);
	eval_at(&t, 61000, true, false, 0, 60000);
	ck_assert_int_eq(t.v[0].state, VG_ALERT_PENDING);
	eval_at(&t, 62000, true, false, 0, 60000);
	ck_assert_int_eq(t.v[0].state, VG_ALERT_FIRING);
	ck_assert_int_eq(t.v[0].fired_at_ms, 62000);
	ck_assert_int_eq(t.v[0].resolved_at_ms, 0);
	ck_assert_int_eq(t.v[0].hold_until_ms, 0);
	/* A hold-down longer than the resolved retention keeps it. */
	eval_at(&t, 63000, false, false, 0, 3600 * S);
	eval_at(&t, 63000 + VG_ALERT_RESOLVED_RETENTION_MS, false, false, 0, 3600 * S);
	ck_assert_uint_eq(t.n, 1);
	eval_at(&t, 63000 + 3600 * S, false, false, 0, 3600 * S);
	ck_assert_uint_eq(t.n, 0);
	/* Without one, a comeback fires at once (Prometheus's way). */
	eval_at(&t, 70000, true, false, 0, 0);
	eval_at(&t, 71000, false, false, 0, 0);
	eval_at(&t, 72000, true, false, 0, 0);
	ck_assert_int_eq(t.v[0].state, VG_ALERT_FIRING);
	ck_assert_int_eq(t.v[0].fired_at_ms, 72000);
	vg_alert_table_release(&t);
}
END_TEST

/* A state file of version 1 (before hold_until) is still read. */
START_TEST(test_flap_state_file_keeps_the_hold_down_and_reads_version_1)
{
	struct vg_alert_table t = { 0, 0, NULL, NULL, 0 };
	struct vg_rules_saved s;
	struct vg_buf b = VG_BUF_INIT, v1 = VG_BUF_INIT;
	struct vg_err err;
	uint8_t sum[8];

	eval_at(&t, 1000, true, false, 0, 60000);
	eval_at(&t, 2000, false, false, 0, 60000);
	vg_rules_persist_begin(&b, 1);
	vg_rules_persist_group(&b, "f.yaml", "g", 2000);
	vg_rules_persist_rules(&b, 1);
	vg_rules_persist_rule(&b, "f.yaml", "g", 0, "A", &t);
	ck_assert_mem_eq(b.data, "VGALERTS2\n", 10);
	/* Version 1 of the same: its magic, and no hold_until (the byte
	 * after keep_firing_since: a varint 62000 zigzagged is 3 bytes). */
	{
		struct vg_buf w = VG_BUF_INIT;
		vg_buf_put_uvarint(&w, vg_zigzag(62000));
		size_t at = 0;
		for (size_t i = 10; i + w.len <= b.len && at == 0; i++)
			if (memcmp(b.data + i, w.data, w.len) == 0)
				at = i;
		ck_assert_uint_ne(at, 0);
		vg_buf_append(&v1, "VGALERTS1\n", 10);
		vg_buf_append(&v1, b.data + 10, at - 10);
		vg_buf_append(&v1, b.data + at + w.len, b.len - at - w.len);
		vg_buf_release(&w);
	}
	vg_put_le64(sum, XXH3_64bits(b.data, b.len));
	vg_buf_append(&b, sum, 8);
	ck_assert_int_eq(vg_rules_persist_decode(b.data, b.len, &s, &err), 0);
	ck_assert_uint_eq(s.rules[0].table.n, 1);
	ck_assert_int_eq(s.rules[0].table.v[0].state, VG_ALERT_INACTIVE);
	ck_assert_int_eq(s.rules[0].table.v[0].hold_until_ms, 62000);
	ck_assert_int_eq(s.rules[0].table.v[0].resolved_at_ms, 2000);
	vg_rules_saved_release(&s);

	vg_put_le64(sum, XXH3_64bits(v1.data, v1.len));
	vg_buf_append(&v1, sum, 8);
	ck_assert_int_eq(vg_rules_persist_decode(v1.data, v1.len, &s, &err), 0);
	ck_assert_uint_eq(s.rules[0].table.n, 1);
	ck_assert_int_eq(s.rules[0].table.v[0].resolved_at_ms, 2000);
	ck_assert_int_eq(s.rules[0].table.v[0].hold_until_ms, 0);
	ck_assert_str_eq(s.rules[0].table.v[0].labels.values[1], "1");
	vg_rules_saved_release(&s);
	/* An unknown version is refused. */
	v1.data[8] = '3';
	ck_assert_int_eq(vg_rules_persist_decode(v1.data, v1.len, &s, &err), VG_EINVAL);
	/* So is a time the state machine could not subtract from. */
	t.v[0].hold_until_ms = VG_RULES_STATE_MAX_TIME_MS + 1;
	vg_rules_persist_begin(&b, 0);
	vg_rules_persist_rules(&b, 1);
	vg_rules_persist_rule(&b, "f.yaml", "g", 0, "A", &t);
	vg_put_le64(sum, XXH3_64bits(b.data, b.len));
	vg_buf_append(&b, sum, 8);
	ck_assert_int_eq(vg_rules_persist_decode(b.data, b.len, &s, &err), VG_EINVAL);
	vg_buf_release(&b);
	vg_buf_release(&v1);
	vg_alert_table_release(&t);
}
END_TEST

/* --- the dialect ---------------------------------------------------------- */

static const char flap_rule[] = "groups:\n"
				"- name: g\n"
				"  rules:\n"
				"  - alert: Deep\n"
				"    expr: q > 100\n"
				"    resolve_expr: q > 50\n"
				"    min_resolved_for: 10m\n";

static int load(const char *text, bool is_prometheus, struct vg_rule_set **out, struct vg_err *err)
{
	struct vg_rule_load_options opts = { 0, is_prometheus };
	struct vg_rule_set *set = vg_rule_set_new();
	int rc = vg_rule_set_add_string(set, text, strlen(text), "r.yaml", &opts, err);

	if (rc != 0 || out == NULL)
		vg_rule_set_free(set);
	else
		*out = set;
	return rc;
}

START_TEST(test_flap_keys_are_vigils_dialect)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    resolve_expr: up >\n",
		  "r.yaml:6: groups[0].rules[0].resolve_expr: 1:5: parse error" },
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    resolve_expr: ''\n",
		  "r.yaml:6: groups[0].rules[0].resolve_expr: must not be empty" },
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    min_resolved_for: 5x\n",
		  "r.yaml:6: groups[0].rules[0].min_resolved_for: not a valid duration" },
		{ "groups:\n- name: g\n  rules:\n  - record: r\n    expr: up\n    resolve_expr: up\n",
		  "r.yaml:4: groups[0].rules[0]: invalid field 'resolve_expr' in recording rule" },
		{ "groups:\n- name: g\n  rules:\n  - record: r\n    expr: up\n    min_resolved_for: 1m\n",
		  "r.yaml:4: groups[0].rules[0]: invalid field 'min_resolved_for' in recording rule" },
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: q > 1\n    resolve_threshold: x1\n",
		  "r.yaml:6: groups[0].rules[0].resolve_threshold: not a number: \"x1\"" },
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: q > 1\n    resolve_threshold: 0\n    resolve_expr: q > 0\n",
		  "r.yaml:4: groups[0].rules[0]: only one of 'resolve_expr' and 'resolve_threshold'" },
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: rate(q[5m])\n    resolve_threshold: 1\n",
		  "r.yaml:4: groups[0].rules[0].resolve_threshold: needs an expr that is a threshold" },
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: q > bool 5\n    resolve_threshold: 1\n",
		  "needs an expr that is a threshold" },
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: q == 5\n    resolve_threshold: 1\n",
		  "needs an expr that is a threshold" },
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: q > 5\n    resolve_threshold: 7\n",
		  "r.yaml:4: groups[0].rules[0].resolve_threshold: must be below the threshold of expr (5)" },
		{ "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: q <= -5\n    resolve_threshold: -6\n",
		  "must be above the threshold of expr (-5)" },
	};
	static const struct {
		const char *expr, *threshold, *want;
	} thresholds[] = {
		{ "q > 100", "50", "q > 50" },
		{ "(sum by (job) (q) >= 1e3)", "500.5", "(sum by (job) (q) >= 500.5)" },
		{ "10 > free", "20", "20 > free" },
		{ "free < 0.1", "0.25", "free < 0.25" },
		{ "temp < -5", "-2", "temp < -2" },
	};
	struct vg_rule_set *set = NULL;
	struct vg_err err;

	ck_assert_int_eq(load(flap_rule, false, &set, &err), 0);
	ck_assert_str_eq(set->groups[0].rules[0].resolve_expr, "q > 50");
	ck_assert_ptr_nonnull(set->groups[0].rules[0].resolve_ast);
	ck_assert_int_eq(set->groups[0].rules[0].min_resolved_for_ms, 600 * S);
	vg_rule_set_free(set);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_ne(load(bad[i].text, false, NULL, &err), 0);
		ck_assert_msg(strstr(err.msg, bad[i].want) != NULL, "case %zu: want %s in %s", i, bad[i].want, err.msg);
	}
	/* resolve_threshold: expr with another threshold. */
	for (size_t i = 0; i < sizeof(thresholds) / sizeof(thresholds[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: \"%s\"\n    resolve_threshold: %s\n",
			 thresholds[i].expr, thresholds[i].threshold);
		ck_assert_msg(load(text, false, &set, &err) == 0, "case %zu: %s", i, err.msg);
		ck_assert_str_eq(set->groups[0].rules[0].resolve_expr, thresholds[i].want);
		ck_assert_ptr_nonnull(set->groups[0].rules[0].resolve_ast);
		vg_rule_set_free(set);
	}
	/* Prometheus's dialect refuses each key on its own line. */
	ck_assert_int_eq(load("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: q > 2\n    resolve_threshold: 1\n",
			      true, NULL, &err), VG_EINVAL);
	ck_assert_msg(strstr(err.msg, "r.yaml:6: groups[0].rules[0].resolve_threshold: Vigil's own key") != NULL,
		      "%s", err.msg);
	ck_assert_int_eq(load(flap_rule, true, NULL, &err), VG_EINVAL);
	ck_assert_msg(strstr(err.msg, "r.yaml:6: groups[0].rules[0].resolve_expr: Vigil's own key") != NULL, "%s",
		      err.msg);
	ck_assert_int_eq(load("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    min_resolved_for: 0s\n",
			      true, NULL, &err), VG_EINVAL);
	ck_assert_msg(strstr(err.msg, "r.yaml:6: groups[0].rules[0].min_resolved_for: Vigil's own key") != NULL,
		      "%s", err.msg);

	/* vigil rules check: the dialect passes; --prometheus refuses it
	 * with file and line, exit 1 as promtool's for a bad file. */
	{
		char *d = vg_t_tmpdir("vigil-flap-check"), path[800], *out = NULL, *e = NULL;
		FILE *f;

		snprintf(path, sizeof(path), "%s/r.yaml", d);
		f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs(flap_rule, f);
		ck_assert_int_eq(fclose(f), 0);
		char *argv[] = { (char *)vg_t_bin("vigil"), "rules", "check", path, NULL };
		ck_assert_int_eq(vg_t_run(argv, &out, &e, 10000), 0);
		ck_assert_ptr_nonnull(strstr(out, "SUCCESS: 1 rules found"));
		free(out);
		free(e);
		char *argv2[] = { (char *)vg_t_bin("vigil"), "rules", "check", "--prometheus", path, NULL };
		ck_assert_int_eq(vg_t_run(argv2, &out, &e, 10000), 1);
		ck_assert_msg(strstr(e, "r.yaml:6: groups[0].rules[0].resolve_expr: Vigil's own key") != NULL, "%s", e);
		free(out);
		free(e);
		/* As promtool itself: exit 1, the same line. */
		char *argv3[] = { "/usr/bin/promtool", "check", "rules", path, NULL };
		ck_assert_msg(access(argv3[0], X_OK) == 0, "Debian's prometheus package (promtool) is needed");
		ck_assert_int_eq(vg_t_run(argv3, &out, &e, 10000), 1);
		ck_assert_msg(strstr(e, "line 6: field resolve_expr not found") != NULL, "%s%s", out, e);
		free(out);
		free(e);
		vg_t_rmrf(d);
		free(d);
	}
}
END_TEST

/* --- an hour of swings, end to end ------------------------------------------ */

/*
 * One metric, flap_depth, 10 for 30 s then 3 for 30 s, over and over;
 * three rules on it, evaluated every 30 s so each evaluation sees a
 * swing: Plain (Prometheus's rule: fires and resolves with every swing),
 * Hyst (resolve_expr: stays firing while the depth is above 1) and
 * HoldDown (min_resolved_for 10m: fires at most once per 11 minutes).
 * The notifier sends each group as soon as it can (group_wait 0s) and
 * never repeats within the hour (repeat_interval 4h), so a page is a
 * change of firing alerts.
 */
static const char flap_rules[] = "groups:\n"
				 "- name: flap\n"
				 "  interval: 30s\n"
				 "  rules:\n"
				 "  - alert: Plain\n"
				 "    expr: flap_depth > 5\n"
				 "  - alert: Hyst\n"
				 "    expr: flap_depth > 5\n"
				 "    resolve_expr: flap_depth > 1\n"
				 "  - alert: HoldDown\n"
				 "    expr: flap_depth > 5\n"
				 "    min_resolved_for: 10m\n";

static char *dir;
static char clock_path[700];
static struct vg_t_receiver rcv;
static struct vg_t_sink sink;
static int64_t t0; /* a multiple of 60 s near the real time */

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
		 "    group_wait: 0s\n"
		 "    group_interval: 30s\n"
		 "    repeat_interval: 4h\n"
		 "  receivers:\n"
		 "    - name: hook\n"
		 "      webhook_configs:\n"
		 "        - url: http://127.0.0.1:%u/hook\n",
		 clock_path, (unsigned)sink.port);
	ck_assert_msg(vg_t_receiver_start_config(&rcv, dir, conf, 0) == 0, "the receiver did not start");
}

/* The samples of [from, to) every 10 s, in one import. */
static void push_span(int64_t from, int64_t to)
{
	struct vg_buf b = VG_BUF_INIT;
	long status = 0;
	char *reply;

	for (int64_t t = from; t < to; t += 10 * S)
		vg_buf_printf(&b, "flap_depth{queue=\"mail\"} %d %" PRId64 "\n", ((t - t0) / (30 * S)) % 2 ? 3 : 10, t);
	reply = vg_t_http_post(rcv.http_port, "/api/v1/import/prometheus", b.data, b.len, &status);
	ck_assert_msg(status == 204, "import answered %ld: %s", status, reply ? reply : "");
	free(reply);
	vg_buf_release(&b);
}

static void advance(int64_t ms)
{
	ck_assert_int_eq(vg_t_write_clock(clock_path, ms), 0);
	ck_assert_msg(vg_t_wait_rule_evaluation(rcv.http_port, ms, 10000) == 0, "no evaluation at %" PRId64, ms);
}

/* Firing and resolved notifications of alertname the sink received. */
static void pages(const char *alertname, int *firing, int *resolved)
{
	json_t *r = vg_t_sink_requests(&sink), *x;
	size_t i;

	*firing = *resolved = 0;
	json_array_foreach(r, i, x) {
		json_t *b = json_loads(json_string_value(json_object_get(x, "body")), 0, NULL);
		const char *name = json_string_value(json_object_get(json_object_get(b, "groupLabels"), "alertname"));
		const char *status = json_string_value(json_object_get(b, "status"));

		if (name && status && strcmp(name, alertname) == 0) {
			if (strcmp(status, "firing") == 0)
				(*firing)++;
			else
				(*resolved)++;
		}
		json_decref(b);
	}
	json_decref(r);
}

/* Waits (10 s at most) for alertname's firing pages to reach n. */
static int wait_pages(const char *alertname, int n)
{
	int64_t deadline = vg_t_now_ms() + 10000;
	int firing, resolved;

	for (;;) {
		pages(alertname, &firing, &resolved);
		if (firing >= n || vg_t_now_ms() > deadline)
			return firing;
		vg_t_sleep_ms(5);
	}
}

/* The state of alertname in /api/v1/alerts ("" when absent); the alert
 * kept in *out when out is not NULL (caller json_decref's). */
static const char *alert_state(const char *alertname, json_t **out)
{
	static char state[32];
	long status = 0;
	json_t *doc = vg_t_http_json(rcv.http_port, "/api/v1/alerts", &status), *a;
	size_t i;

	ck_assert_int_eq(status, 200);
	state[0] = '\0';
	json_array_foreach(json_object_get(json_object_get(doc, "data"), "alerts"), i, a) {
		const char *n = json_string_value(json_object_get(json_object_get(a, "labels"), "alertname"));
		if (n && strcmp(n, alertname) == 0) {
			snprintf(state, sizeof(state), "%s", json_string_value(json_object_get(a, "state")));
			if (out)
				*out = json_incref(a);
		}
	}
	json_decref(doc);
	return state;
}

/* ALERTS{alertname=...,alertstate=...} at ms: 1 or 0 series. */
static size_t alerts_series(const char *alertname, const char *state, int64_t ms)
{
	char q[256], path[1024], *e;
	long status = 0;
	json_t *doc;
	size_t n;

	snprintf(q, sizeof(q), "ALERTS{alertname=\"%s\",alertstate=\"%s\"}", alertname, state);
	e = vg_t_urlencode(q);
	snprintf(path, sizeof(path), "/api/v1/query?query=%s&time=%.3f", e, (double)ms / 1000.0);
	free(e);
	doc = vg_t_http_json(rcv.http_port, path, &status);
	ck_assert_int_eq(status, 200);
	n = json_array_size(json_object_get(json_object_get(doc, "data"), "result"));
	json_decref(doc);
	return n;
}

START_TEST(test_flap_an_hour_of_swings_pages_once_with_a_resolve_condition)
{
	int firing, resolved, hold_pages = 0;
	int64_t t_wall = vg_t_now_ms();

	dir = vg_t_tmpdir("vigil-flap");
	ck_assert_ptr_nonnull(dir);
	t0 = (vg_t_now_ms() / (60 * S)) * 60 * S;
	snprintf(clock_path, sizeof(clock_path), "%s/clock", dir);
	ck_assert_int_eq(vg_t_write_rules(dir, "flap.yaml", flap_rules), 0);
	ck_assert_int_eq(vg_t_write_clock(clock_path, t0 - 30 * S), 0);
	ck_assert_msg(vg_t_sink_start(&sink, dir, "200", NULL, NULL) == 0, "http_sink.py did not start");
	start();

	/* The rules' keys, Vigil's among them, in /api/v1/rules. */
	{
		long status = 0;
		char *body = vg_t_http_get(rcv.http_port, "/api/v1/rules", &status);
		ck_assert_int_eq(status, 200);
		ck_assert_ptr_nonnull(strstr(body, "\"name\":\"Hyst\",\"query\":\"flap_depth > 5\""));
		ck_assert_ptr_nonnull(strstr(body, "\"resolveQuery\":\"flap_depth > 1\""));
		ck_assert_ptr_nonnull(strstr(body, "\"minResolvedFor\":600"));
		/* Only where a rule has it: Plain (first) has none. */
		ck_assert(strstr(body, "\"resolveQuery\"") > strstr(body, "\"name\":\"Hyst\""));
		free(body);
	}

	for (int k = 0; k < 120; k++) {
		int64_t t = t0 + k * 30 * S;

		if (k % 10 == 0)
			push_span(t, t + 300 * S);
		if (k == 50) {
			/* A restart in a hold-down (HoldDown resolved at k = 45,
			 * held until k = 65): the state file keeps it. */
			ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 10000), 0);
			start();
		}
		advance(t);
		if (k % 22 == 0) {
			/* HoldDown fires at k = 0, 22, 44...: wait for each page,
			 * so that none is folded into the next swing's resolve. */
			hold_pages++;
			ck_assert_int_eq(wait_pages("HoldDown", hold_pages), hold_pages);
		}
		if (k == 1) {
			ck_assert_int_eq(wait_pages("Hyst", 1), 1);
			/* Low: Plain resolved; Hyst held by its resolve condition. */
			ck_assert_str_eq(alert_state("Plain", NULL), "");
			ck_assert_str_eq(alert_state("Hyst", NULL), "firing");
			ck_assert_uint_eq(alerts_series("Hyst", "firing", t), 1);
			ck_assert_uint_eq(alerts_series("Plain", "firing", t), 0);
		}
		if (k == 52) {
			/* High again within HoldDown's hold-down: pending. */
			json_t *a = NULL;
			char want[64];
			ck_assert_str_eq(alert_state("HoldDown", &a), "pending");
			vg_time_format_rfc3339(t0 + 65 * 30 * S, want, sizeof(want));
			ck_assert_str_eq(json_string_value(json_object_get(a, "holdDownUntil")), want);
			json_decref(a);
			ck_assert_uint_eq(alerts_series("HoldDown", "pending", t), 1);
			ck_assert_str_eq(alert_state("Plain", NULL), "firing");
		}
	}
	ck_assert_int_eq(hold_pages, 6);
	/* Plain paged with (nearly: the restart folds one resolve and the
	 * next firing into nothing) every swing, 60 in the hour. */
	ck_assert_int_ge(wait_pages("Plain", 50), 50);
	pages("Plain", &firing, &resolved);
	ck_assert_int_ge(resolved, 49);
	/* Hyst paged once, and never resolved. */
	ck_assert_str_eq(alert_state("Hyst", NULL), "firing");
	pages("Hyst", &firing, &resolved);
	ck_assert_int_eq(firing, 1);
	ck_assert_int_eq(resolved, 0);
	/* HoldDown: once per 22 evaluations, the restart's hold-down kept. */
	pages("HoldDown", &firing, &resolved);
	ck_assert_int_eq(firing, 6);
	fprintf(stderr, "an hour of swings: %.1f s\n", (double)(vg_t_now_ms() - t_wall) / 1000.0);

	vg_t_stop(&rcv.proc, SIGTERM, 10000);
	vg_t_stop(&sink.proc, SIGTERM, 5000);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rules_flap");
	TCase *unit = tcase_create("unit"), *tc = tcase_create("end_to_end");
	SRunner *sr;
	int failed;

	vg_log_set_level(VG_LOG_ERROR);
	tcase_add_test(unit, test_flap_resolve_condition_holds_a_firing_alert);
	tcase_add_test(unit, test_flap_hold_down_keeps_a_resolved_alert_from_firing_again);
	tcase_add_test(unit, test_flap_state_file_keeps_the_hold_down_and_reads_version_1);
	tcase_add_test(unit, test_flap_keys_are_vigils_dialect);
	suite_add_tcase(s, unit);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_flap_an_hour_of_swings_pages_once_with_a_resolve_condition);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
