/*
 * test_loss.c: loss is an alert. A real vigil-receiver with the default
 * rule set (receiver/alert/rules/vigil-default.rules.yml) and its own
 * metrics written as series, a real vigil-agent where agent traffic is
 * needed, webhooks received by tests/http_sink.py. Minutes pass on the
 * driven clock (testing_clock_file) in 30 s steps, each waited for by the
 * rule evaluation at that time.
 */
#include "tests/harness.h"

#include "common/buf.h"
#include "common/series.h"
#include "receiver/ingest/lastseen.h"

#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define DEFAULT_RULES VG_TEST_DATA "/../../receiver/alert/rules/vigil-default.rules.yml"
#define STEP_MS (30 * 1000LL)
#define MIN_MS (60 * 1000LL)

static char *dir;
static char clock_path[600];
static struct vg_t_receiver rcv;
static struct vg_t_proc agent;
static struct vg_t_sink sink_a, sink_b;
static bool has_rcv, has_agent, has_a, has_b;
static int64_t t0, now_ms;

static void setup(void)
{
	dir = vg_t_tmpdir("loss");
	ck_assert_ptr_nonnull(dir);
	snprintf(clock_path, sizeof(clock_path), "%s/clock", dir);
	has_rcv = has_agent = has_a = has_b = false;
	/* Near the real time (the agent stamps its samples with it), on a
	 * whole minute, so that 15 s and 30 s steps stay aligned. */
	t0 = vg_t_now_ms() / MIN_MS * MIN_MS;
	now_ms = t0;
	ck_assert_int_eq(vg_t_write_clock(clock_path, t0), 0);
}

/* A sink in a directory of its own (its port file and log are named
 * after the directory). */
static void sink_start(struct vg_t_sink *sk, bool *has, const char *name, const char *responses)
{
	char sub[700];

	snprintf(sub, sizeof(sub), "%s/%s", dir, name);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_msg(vg_t_sink_start(sk, sub, responses, NULL, NULL) == 0, "http_sink.py did not start");
	*has = true;
}

static void teardown(void)
{
	if (has_agent)
		vg_t_stop(&agent, SIGTERM, 5000);
	if (has_rcv)
		vg_t_stop(&rcv.proc, SIGTERM, 5000);
	if (has_a)
		vg_t_stop(&sink_a.proc, SIGTERM, 5000);
	if (has_b)
		vg_t_stop(&sink_b.proc, SIGTERM, 5000);
	vg_t_rmrf(dir);
	free(dir);
}

/* A receiver on the driven clock with the default rules from the source
 * tree, self metrics every 15 s as instance "loss-receiver", and more
 * (the rest of the file, with @A@ and @B@ for the sinks' ports). */
static void start_receiver(const char *more)
{
	char cfg[8192], body[6000];
	size_t o = 0;

	for (const char *p = more; *p && o + 8 < sizeof(body); p++) {
		if (strncmp(p, "@A@", 3) == 0 || strncmp(p, "@B@", 3) == 0) {
			o += (size_t)snprintf(body + o, sizeof(body) - o, "%u", p[1] == 'A' ? sink_a.port : sink_b.port);
			p += 2;
		} else {
			body[o++] = *p;
		}
	}
	body[o] = '\0';
	snprintf(cfg, sizeof(cfg),
		 "testing_clock_file: %s\nself_metrics_interval: 15s\nself_metrics_instance: loss-receiver\n"
		 "default_rules_file: %s\n%s",
		 clock_path, DEFAULT_RULES, body);
	ck_assert_msg(vg_t_receiver_start_config(&rcv, dir, cfg, 0) == 0, "receiver did not start");
	has_rcv = true;
}

static double metric(const char *name)
{
	return vg_t_metric(rcv.http_port, name);
}

/* Waits up to 15 s for metric name to reach at least want. */
static bool metric_reaches(const char *name, double want)
{
	int64_t deadline = vg_t_now_ms() + 15000;

	while (vg_t_now_ms() < deadline) {
		if (metric(name) >= want)
			return true;
		vg_t_sleep_ms(30);
	}
	return false;
}

/* Moves the clock to ms (a multiple of 30 s) and waits for the scrape of
 * the receiver's own metrics and every rule group's evaluation there. */
static void advance_to(int64_t ms)
{
	double scrapes = metric("vigil_receiver_self_scrapes_total");

	now_ms = ms;
	ck_assert_int_eq(vg_t_write_clock(clock_path, ms), 0);
	ck_assert_msg(metric_reaches("vigil_receiver_self_scrapes_total", scrapes + 1), "no self scrape at %lld",
		      (long long)ms);
	ck_assert_msg(vg_t_wait_rule_evaluation(rcv.http_port, ms, 10000) == 0, "no evaluation at %lld",
		      (long long)ms);
}

/* The instant query's result at the driven time (caller decrefs). */
static json_t *query(const char *q)
{
	char path[2048], *enc = vg_t_urlencode(q);
	long status;
	json_t *doc, *res;

	snprintf(path, sizeof(path), "/api/v1/query?query=%s&time=%.3f", enc, (double)now_ms / 1000.0);
	free(enc);
	doc = vg_t_http_json(rcv.http_port, path, &status);
	ck_assert_msg(doc != NULL && status == 200, "query %s: HTTP %ld", q, status);
	res = json_incref(json_object_get(json_object_get(doc, "data"), "result"));
	json_decref(doc);
	return res;
}

static double first_value(json_t *result)
{
	json_t *v = json_array_get(json_object_get(json_array_get(result, 0), "value"), 1);

	return v ? strtod(json_string_value(v), NULL) : NAN;
}

/* The state of alert name (with label=value when label is not NULL) in
 * /api/v1/alerts: "firing", "pending", or "" when it is not there. */
static const char *alert_state(const char *name, const char *label, const char *value)
{
	static char state[16];
	long status;
	json_t *doc = vg_t_http_json(rcv.http_port, "/api/v1/alerts", &status), *a;
	size_t i;

	state[0] = '\0';
	ck_assert_ptr_nonnull(doc);
	json_array_foreach(json_object_get(json_object_get(doc, "data"), "alerts"), i, a) {
		json_t *l = json_object_get(a, "labels");
		const char *n = json_string_value(json_object_get(l, "alertname"));
		const char *v = label ? json_string_value(json_object_get(l, label)) : NULL;
		if (n && strcmp(n, name) == 0 && (label == NULL || (v && strcmp(v, value) == 0)))
			snprintf(state, sizeof(state), "%s", json_string_value(json_object_get(a, "state")));
	}
	json_decref(doc);
	return state;
}

/* How many of the sink's requests carry an alert named name. */
static size_t sink_count(const struct vg_t_sink *s, const char *name)
{
	json_t *reqs = vg_t_sink_requests(s), *r;
	char needle[128];
	size_t i, n = 0;

	snprintf(needle, sizeof(needle), "\"alertname\":\"%s\"", name);
	json_array_foreach(reqs, i, r) {
		const char *body = json_string_value(json_object_get(r, "body"));
		n += body && strstr(body, needle) != NULL;
	}
	json_decref(reqs);
	return n;
}

static bool sink_gets(const struct vg_t_sink *s, const char *name, size_t n, int timeout_ms)
{
	int64_t deadline = vg_t_now_ms() + timeout_ms;

	while (vg_t_now_ms() < deadline) {
		if (sink_count(s, name) >= n)
			return true;
		vg_t_sleep_ms(50);
	}
	return false;
}

/* --- the receiver's own series and the rule set ------------------------- */

START_TEST(test_loss_self_series_are_queryable_and_default_rules_loaded)
{
	json_t *r, *g;
	long status;
	char *argv[] = { (char *)vg_t_bin("vigil"), "rules", "check", DEFAULT_RULES, NULL }, *out, *err;

	/* The installed file passes the CLI's check. */
	ck_assert_int_eq(vg_t_run(argv, &out, &err, 10000), 0);
	ck_assert_msg(strstr(out, "SUCCESS: 6 rules found") != NULL, "%s%s", out, err);
	free(out);
	free(err);

	start_receiver("");
	advance_to(t0 + STEP_MS);
	r = query("vigil_receiver_self_scrapes_total{job=\"vigil-receiver\",instance=\"loss-receiver\"}");
	ck_assert_int_eq(json_array_size(r), 1);
	json_decref(r);
	/* Families of every part: ingest, storage, process, rules, queries. */
	r = query("count by (__name__) ({job=\"vigil-receiver\",__name__=~\"vigil_receiver_samples_refused_total|"
		  "vigil_storage_tier_blocks|process_resident_memory_bytes|vigil_rule_group_evaluations_total|"
		  "vigil_receiver_queries_total\"})");
	ck_assert_msg(json_array_size(r) >= 4, "%zu families", json_array_size(r));
	json_decref(r);
	r = query("process_resident_memory_bytes{job=\"vigil-receiver\"}");
	ck_assert_msg(first_value(r) > 1e6, "RSS %g", first_value(r));
	json_decref(r);

	/* The default group is loaded and the watchdog fires at once. */
	r = vg_t_http_json(rcv.http_port, "/api/v1/rules", &status);
	g = json_array_get(json_object_get(json_object_get(r, "data"), "groups"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(g, "name")), "vigil-loss");
	ck_assert_int_eq(json_array_size(json_object_get(g, "rules")), 6);
	json_decref(r);
	ck_assert_str_eq(alert_state("VigilWatchdog", NULL, NULL), "firing");
	ck_assert_str_eq(alert_state("VigilReceiverRefusingSamples", NULL, NULL), "");
}
END_TEST

/* With no agent at all, the receiver's own metrics still reach the disk
 * at each scrape: a kill -9 right after one keeps it. */
START_TEST(test_loss_self_metrics_are_durable_without_agents)
{
	int64_t scraped;
	json_t *r;

	start_receiver("default_rules: false\n");
	advance_to(t0 + STEP_MS);
	scraped = now_ms;
	ck_assert_msg(metric("vigil_receiver_wal_bytes_total") > 0, "the self scrape is not in the WAL");
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	has_rcv = false;
	/* Later, so what the query at the scrape's time finds is the old one. */
	now_ms = t0 + 4 * STEP_MS;
	ck_assert_int_eq(vg_t_write_clock(clock_path, now_ms), 0);
	start_receiver("default_rules: false\n");
	now_ms = scraped;
	r = query("vigil_receiver_self_scrapes_total{job=\"vigil-receiver\",instance=\"loss-receiver\"}");
	ck_assert_msg(json_array_size(r) == 1, "the scrape before the kill was lost");
	json_decref(r);
}
END_TEST

START_TEST(test_loss_default_rules_false_turns_them_off)
{
	long status;
	json_t *r;

	start_receiver("default_rules: false\n");
	advance_to(t0 + STEP_MS);
	advance_to(t0 + 2 * STEP_MS);
	r = vg_t_http_json(rcv.http_port, "/api/v1/rules", &status);
	ck_assert_int_eq(json_array_size(json_object_get(json_object_get(r, "data"), "groups")), 0);
	json_decref(r);
	ck_assert_str_eq(alert_state("VigilWatchdog", NULL, NULL), "");
	/* The self metrics do not depend on the rules. */
	r = query("vigil_receiver_self_scrapes_total{job=\"vigil-receiver\"}");
	ck_assert_int_eq(json_array_size(r), 1);
	json_decref(r);
}
END_TEST

/* --- an agent that goes silent ------------------------------------------- */

#define AGENT "quiet-host"
#define LAST_SEEN "vigil_agent_last_seen_timestamp_seconds{instance=\"" AGENT "\"}"

static double samples_frames(void)
{
	return metric("vigil_receiver_frames_received_total{type=\"samples\"}");
}

static void wait_samples_frames_above(double before)
{
	int64_t deadline = vg_t_now_ms() + 15000;

	while (vg_t_now_ms() < deadline && samples_frames() <= before)
		vg_t_sleep_ms(50);
	ck_assert_msg(samples_frames() > before, "no batch from the agent within 15 s");
}

START_TEST(test_loss_killed_agent_is_silent_then_resolves_when_back)
{
	json_t *r;
	int64_t t;

	start_receiver("");
	ck_assert_int_eq(vg_t_agent_start(&agent, dir, rcv.port, "500ms", AGENT), 0);
	has_agent = true;
	wait_samples_frames_above(0);

	/* Its last-seen series holds the receiver's time of its last batch. */
	advance_to(t0 + STEP_MS);
	r = query(LAST_SEEN);
	ck_assert_int_eq(json_array_size(r), 1);
	/* A batch may have come after the clock moved: t0 or t0 + 30 s. */
	ck_assert_msg(first_value(r) == (double)(t0 / 1000) || first_value(r) == (double)((t0 + STEP_MS) / 1000),
		      "last seen %f, want %lld", first_value(r), (long long)(t0 / 1000));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(r, 0), "metric"), "job")),
			 "vigil-receiver");
	json_decref(r);

	/* Killed by PID: no goodbye. Its last batch was at t0 or t0 + 30 s. */
	ck_assert_int_eq(vg_t_stop(&agent, SIGKILL, 5000), 128 + SIGKILL);
	has_agent = false;
	for (t = t0 + 2 * STEP_MS; t <= t0 + 5 * MIN_MS; t += STEP_MS) {
		advance_to(t);
		ck_assert_msg(alert_state("VigilAgentSilent", "instance", AGENT)[0] == '\0', "alert at +%llds",
			      (long long)((t - t0) / 1000));
	}
	for (; t <= t0 + 7 * MIN_MS + STEP_MS; t += STEP_MS)
		advance_to(t);
	ck_assert_str_eq(alert_state("VigilAgentSilent", "instance", AGENT), "firing");
	/* Still written, with its old value: silence is visible. */
	r = query(LAST_SEEN);
	ck_assert_msg(first_value(r) <= (double)((t0 + STEP_MS) / 1000), "last seen %f", first_value(r));
	json_decref(r);

	/* A restart of the receiver does not forget it: past the lookback of
	 * the samples written before, the series is still written. */
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 10000), 0);
	start_receiver("");
	for (int i = 0; i < 12; i++, t += STEP_MS)
		advance_to(t);
	r = query(LAST_SEEN);
	ck_assert_msg(first_value(r) <= (double)((t0 + STEP_MS) / 1000), "last seen %f after a restart",
		      first_value(r));
	json_decref(r);
	ck_assert_str_eq(alert_state("VigilAgentSilent", "instance", AGENT), "firing");

	/* Back: the next evaluation finds it fresh. */
	{
		double before = samples_frames();
		ck_assert_int_eq(vg_t_agent_start(&agent, dir, rcv.port, "500ms", AGENT), 0);
		has_agent = true;
		wait_samples_frames_above(before);
	}
	advance_to(t);
	r = query(LAST_SEEN);
	ck_assert_msg(first_value(r) >= (double)((t - STEP_MS) / 1000), "last seen %f", first_value(r));
	json_decref(r);
	/* The evaluation at t may have read the scrape before t; the next
	 * one reads a fresh value. */
	advance_to(t + STEP_MS);
	ck_assert_str_eq(alert_state("VigilAgentSilent", "instance", AGENT), "");
}
END_TEST

/* --- a receiver that refuses samples ------------------------------------------ */

START_TEST(test_loss_receiver_refusing_samples_fires)
{
	int64_t t;
	double refused;

	/* The agent sends far more series than the limit lets through. */
	start_receiver("max_series_per_agent: 10\n");
	ck_assert_int_eq(vg_t_agent_start(&agent, dir, rcv.port, "200ms", "crowded-host"), 0);
	has_agent = true;
	ck_assert_msg(metric_reaches("vigil_receiver_samples_refused_total", 1), "no sample refused");
	/* One scrape: no rate yet. */
	advance_to(t0 + STEP_MS);
	ck_assert_str_eq(alert_state("VigilReceiverRefusingSamples", "instance", "loss-receiver"), "");
	for (t = t0 + 2 * STEP_MS; t <= t0 + 8 * MIN_MS; t += STEP_MS) {
		advance_to(t);
		vg_t_sleep_ms(100); /* room for the agent's next batch */
	}
	ck_assert_str_eq(alert_state("VigilReceiverRefusingSamples", "instance", "loss-receiver"), "firing");
	refused = metric("vigil_receiver_samples_refused_total");
	ck_assert_msg(refused > 10, "refused %g", refused);
}
END_TEST

/* --- a failing channel, reported through another --------------------------- */

START_TEST(test_loss_failing_receiver_is_reported_through_another)
{
	char rules[700], cfg[4096];
	FILE *f;
	int64_t t;

	sink_start(&sink_a, &has_a, "pager", "500"); /* always 500 */
	sink_start(&sink_b, &has_b, "mail", "200");
	snprintf(rules, sizeof(rules), "%s/page.rules.yml", dir);
	f = fopen(rules, "w");
	ck_assert_ptr_nonnull(f);
	fputs("groups:\n  - name: page\n    interval: 30s\n    rules:\n"
	      "      - alert: DatabaseDown\n        expr: vector(1)\n        labels:\n          severity: critical\n",
	      f);
	fclose(f);
	/* Everything critical goes to the pager; the catch-all to mail. The
	 * alert about the pager is critical too: only the fallback keeps it
	 * from going to the pager alone. */
	snprintf(cfg, sizeof(cfg),
		 "rule_files: [%s]\n"
		 "alerting:\n"
		 "  route:\n    receiver: mail\n    group_wait: 0s\n    group_interval: 30s\n    repeat_interval: 1h\n"
		 "    routes:\n      - matchers: ['severity=\"critical\"']\n        receiver: pager\n"
		 "  receivers:\n"
		 "    - name: mail\n      webhook_configs:\n        - url: http://127.0.0.1:@B@/mail\n"
		 "    - name: pager\n      webhook_configs:\n        - url: http://127.0.0.1:@A@/page\n",
		 rules);
	start_receiver(cfg);
	advance_to(t0 + STEP_MS);
	ck_assert_msg(sink_gets(&sink_a, "DatabaseDown", 1, 10000), "the pager was never tried");
	ck_assert_msg(metric_reaches("vigil_notification_requests_failed_total{receiver=\"pager\",integration=\"webhook\"}",
				     1),
		      "no failure counted");
	/* Pending from the first scrape that sees the count move (the
	 * retries come on the real clock, the scrapes on the driven one),
	 * firing 5 minutes after. */
	for (t = t0 + 2 * STEP_MS; t <= t0 + 12 * MIN_MS; t += STEP_MS) {
		advance_to(t);
		if (strcmp(alert_state("VigilNotificationsFailing", "receiver", "pager"), "firing") == 0)
			break;
	}
	t += STEP_MS;
	ck_assert_str_eq(alert_state("VigilNotificationsFailing", "receiver", "pager"), "firing");
	ck_assert_str_eq(alert_state("VigilNotificationsFailing", "receiver", "mail"), "");
	/* The root's group has flushed (the watchdog): the new alert waits
	 * for its group_interval. */
	advance_to(t);
	ck_assert_msg(sink_gets(&sink_b, "VigilNotificationsFailing", 1, 10000),
		      "the alert about the pager did not reach the other receiver");
	ck_assert_int_eq(sink_count(&sink_a, "VigilNotificationsFailing"), 0);
	{
		json_t *reqs = vg_t_sink_requests(&sink_b), *r;
		size_t i;
		bool has_label = false;
		json_array_foreach(reqs, i, r) {
			const char *body = json_string_value(json_object_get(r, "body"));
			has_label = has_label || (body && strstr(body, "\"failing_receiver\":\"pager\"") != NULL);
		}
		json_decref(reqs);
		ck_assert_msg(has_label, "no failing_receiver label");
	}
}
END_TEST

/* --- the watchdog ------------------------------------------------------------ */

START_TEST(test_loss_watchdog_reaches_the_dead_mans_switch_and_repeats)
{
	sink_start(&sink_a, &has_a, "people", "200");
	sink_start(&sink_b, &has_b, "deadman", "200"); /* the outside check */
	start_receiver("alerting:\n"
		       "  route:\n    receiver: people\n    group_wait: 0s\n    group_interval: 30s\n"
		       "    routes:\n      - matchers: ['alertname=\"VigilWatchdog\"']\n        receiver: deadman\n"
		       "        repeat_interval: 1m\n"
		       "  receivers:\n"
		       "    - name: people\n      webhook_configs:\n        - url: http://127.0.0.1:@A@/people\n"
		       "    - name: deadman\n      webhook_configs:\n        - url: http://127.0.0.1:@B@/ping\n");
	advance_to(t0 + STEP_MS);
	ck_assert_msg(sink_gets(&sink_b, "VigilWatchdog", 1, 10000), "no watchdog at the dead man's switch");
	/* It keeps coming: the outside check's proof that all still works. */
	advance_to(t0 + 2 * STEP_MS);
	advance_to(t0 + 3 * STEP_MS);
	advance_to(t0 + 4 * STEP_MS);
	ck_assert_msg(sink_gets(&sink_b, "VigilWatchdog", 2, 10000), "the watchdog was not repeated");
	ck_assert_int_eq(sink_count(&sink_a, "VigilWatchdog"), 0);
}
END_TEST

/* --- the last-seen table, in process ------------------------------------------- */

START_TEST(test_loss_last_seen_table_is_bounded_and_expires)
{
	struct vg_lastseen_options o = { 100000, 10 * MIN_MS };
	struct vg_lastseen_snap snap;
	struct vg_lastseen *ls;
	struct vg_buf out = VG_BUF_INIT;
	char name[32];

	memset(&snap, 0, sizeof(snap));
	ck_assert_int_eq(vg_lastseen_new(&o, &ls, NULL), 0);
	/* A fleet of 100,000 agents, then 10 more than the bound. */
	for (int i = 0; i < 100010; i++) {
		snprintf(name, sizeof(name), "host-%d", i);
		vg_lastseen_note(ls, vg_series_key_hash((const uint8_t *)name, strlen(name)) | 1, name, 1000 + i % 7);
	}
	ck_assert_uint_eq(vg_lastseen_untracked(ls), 10);
	/* A later batch of a known agent moves its time; an older one not. */
	vg_lastseen_note(ls, vg_series_key_hash((const uint8_t *)"host-5", 6) | 1, "host-5", 5000);
	vg_lastseen_note(ls, vg_series_key_hash((const uint8_t *)"host-5", 6) | 1, "host-5", 10);
	ck_assert_int_eq(vg_lastseen_snapshot(ls, 6000, &snap), 0);
	ck_assert_uint_eq(snap.n, 100000);
	for (size_t i = 0; i < snap.n; i++)
		if (strcmp(vg_lastseen_snap_name(&snap, i), "host-5") == 0)
			ck_assert_int_eq(snap.last_ms[i], 5000);
	vg_lastseen_render(ls, &out);
	ck_assert_ptr_nonnull(strstr(vg_buf_cstr(&out), "\nvigil_receiver_last_seen_agents 100000\n"));
	/* Past the retention every agent but host-5 is dropped: room again. */
	ck_assert_int_eq(vg_lastseen_snapshot(ls, 5000 + 10 * MIN_MS - 1, &snap), 0);
	ck_assert_uint_eq(snap.n, 1);
	ck_assert_str_eq(vg_lastseen_snap_name(&snap, 0), "host-5");
	vg_lastseen_note(ls, 77, "new-host", 5000 + 10 * MIN_MS);
	ck_assert_int_eq(vg_lastseen_snapshot(ls, 5000 + 10 * MIN_MS, &snap), 0);
	ck_assert_uint_eq(snap.n, 2);
	ck_assert_uint_eq(vg_lastseen_untracked(ls), 10);
	vg_lastseen_snap_release(&snap);
	vg_buf_release(&out);
	vg_lastseen_free(ls);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("loss");
	TCase *tc = tcase_create("loss");
	TCase *unit = tcase_create("table");

	tcase_add_test(unit, test_loss_last_seen_table_is_bounded_and_expires);
	suite_add_tcase(s, unit);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_loss_self_series_are_queryable_and_default_rules_loaded);
	tcase_add_test(tc, test_loss_default_rules_false_turns_them_off);
	tcase_add_test(tc, test_loss_self_metrics_are_durable_without_agents);
	tcase_add_test(tc, test_loss_killed_agent_is_silent_then_resolves_when_back);
	tcase_add_test(tc, test_loss_receiver_refusing_samples_fires);
	tcase_add_test(tc, test_loss_failing_receiver_is_reported_through_another);
	tcase_add_test(tc, test_loss_watchdog_reaches_the_dead_mans_switch_and_repeats);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
