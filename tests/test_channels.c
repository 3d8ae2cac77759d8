/* test_channels.c: the notification channels of receiver/alert/channel_*.c
 * (email, PagerDuty, SMS, Alertmanager), each called through its
 * vg_channel_ops with notifications built here and delivered to real
 * servers on 127.0.0.1 that the test starts and stops by PID:
 * tests/smtp_sink.py (aiosmtpd) for email, tests/http_sink.py for
 * PagerDuty and SMS, Debian's prometheus-alertmanager for Alertmanager.
 * Also each item's configuration read from YAML through a table holding
 * the lists, as the notifier's receivers table holds them. */
#include "receiver/alert/channel.h"
#include "receiver/alert/channel_alertmanager.h"
#include "receiver/alert/channel_common.h"
#include "receiver/alert/channel_email.h"
#include "receiver/alert/channel_pagerduty.h"
#include "receiver/alert/channel_sms.h"
#include "common/buf.h"
#include "common/err.h"
#include "tests/harness.h"

#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PY "/usr/bin/python3"

static char *dir;

static void setup(void)
{
	dir = vg_t_tmpdir("vigil-channels");
	ck_assert_ptr_nonnull(dir);
}

static void teardown(void)
{
	vg_t_rmrf(dir);
	free(dir);
}

/* --- notifications --------------------------------------------------- */

static char *l1_names[] = { "alertname", "cluster", "instance", "severity" };
static char *l1_values[] = { "DiskFull", "c1", "h1", "page" };
static char *l2_names[] = { "alertname", "cluster", "instance", "severity" };
static char *l2_values[] = { "DiskFull", "c1", "h2", "page" };
static char *a1_names[] = { "description", "summary" };
static char *a1_values[] = { "/var is 97% full", "disk almost full on h1" };
static char *a2_names[] = { "summary" };
static char *a2_values[] = { "disk almost full on h2 \xc3\xa9t\xc3\xa9 <b>&</b>" };
static char *g_names[] = { "alertname", "cluster" };
static char *g_values[] = { "DiskFull", "c1" };
static char *c_names[] = { "alertname", "cluster", "severity" };
static char *c_values[] = { "DiskFull", "c1", "page" };

static struct vg_notify_alert alerts[2];

/* Two alerts of group {alertname, cluster}: h1 firing, h2 firing or
 * resolved. */
static struct vg_notification make_notification(bool is_second_resolved)
{
	struct vg_notification n;

	memset(&n, 0, sizeof(n));
	memset(alerts, 0, sizeof(alerts));
	alerts[0].labels = (struct vg_conf_labels){ 4, l1_names, l1_values };
	alerts[0].annotations = (struct vg_conf_labels){ 2, a1_names, a1_values };
	alerts[0].is_firing = true;
	alerts[0].starts_at_ms = 1795554000123LL; /* 2026-11-24T21:00:00.123Z */
	alerts[0].generator_url = "http://vigil.example/graph?g0.expr=disk&g0.tab=1";
	alerts[1].labels = (struct vg_conf_labels){ 4, l2_names, l2_values };
	alerts[1].annotations = (struct vg_conf_labels){ 1, a2_names, a2_values };
	alerts[1].is_firing = !is_second_resolved;
	alerts[1].starts_at_ms = 1795554060000LL;
	alerts[1].ends_at_ms = is_second_resolved ? 1795554600000LL : 0;
	n.receiver = "ops";
	n.group_key = "{}:{alertname=\"DiskFull\", cluster=\"c1\"}";
	n.is_firing = true;
	n.group_labels = (struct vg_conf_labels){ 2, g_names, g_values };
	n.common_labels = (struct vg_conf_labels){ 3, c_names, c_values };
	n.external_url = "http://vigil.example:9711";
	n.n_alerts = 2;
	n.alerts = alerts;
	return n;
}

/* --- configuration through a receivers-like table --------------------- */

struct receiver {
	struct vg_conf_list email, pagerduty, sms, alertmanager;
};

static const struct vg_conf_field receiver_fields[] = {
	{ "email_configs", VG_CONF_LIST, offsetof(struct receiver, email), vg_email_fields,
	  sizeof(struct vg_email_config), 16, NULL },
	{ "pagerduty_configs", VG_CONF_LIST, offsetof(struct receiver, pagerduty), vg_pagerduty_fields,
	  sizeof(struct vg_pagerduty_config), 16, NULL },
	{ "sms_configs", VG_CONF_LIST, offsetof(struct receiver, sms), vg_sms_fields, sizeof(struct vg_sms_config),
	  16, NULL },
	{ "alertmanager_configs", VG_CONF_LIST, offsetof(struct receiver, alertmanager), vg_alertmanager_fields,
	  sizeof(struct vg_alertmanager_config), 16, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct {
	const struct vg_channel_ops *ops;
	size_t offset, size;
} kinds[] = {
	{ &vg_channel_email, offsetof(struct receiver, email), sizeof(struct vg_email_config) },
	{ &vg_channel_pagerduty, offsetof(struct receiver, pagerduty), sizeof(struct vg_pagerduty_config) },
	{ &vg_channel_sms, offsetof(struct receiver, sms), sizeof(struct vg_sms_config) },
	{ &vg_channel_alertmanager, offsetof(struct receiver, alertmanager), sizeof(struct vg_alertmanager_config) },
};

static struct vg_conf_list *list_of(struct receiver *r, size_t k)
{
	return (struct vg_conf_list *)((char *)r + kinds[k].offset);
}

static void *item_at(struct receiver *r, size_t k, size_t i)
{
	return (char *)list_of(r, k)->v + i * kinds[k].size;
}

/* Loads text and prepares every item, as the notifier would; err says
 * what failed, prefixed with the item's path for prepare errors. */
static int load(const char *text, struct receiver *r, struct vg_err *err)
{
	int rc;

	memset(r, 0, sizeof(*r));
	vg_err_clear(err);
	rc = vg_conf_load_string(text, strlen(text), "t.yaml", receiver_fields, r, err);
	if (rc < 0)
		return rc;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		for (size_t i = 0; i < list_of(r, k)->n; i++) {
			rc = kinds[k].ops->prepare(item_at(r, k, i), err);
			if (rc < 0) {
				vg_err_prefix(err, "t.yaml: %s[%zu]", kinds[k].ops->key, i);
				return rc;
			}
		}
	return 0;
}

static void unload(struct receiver *r)
{
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		for (size_t i = 0; i < list_of(r, k)->n; i++)
			kinds[k].ops->release(item_at(r, k, i));
	vg_conf_release(receiver_fields, r);
}

/* Formats a configuration and loads it; the test fails on an error. */
static void load_fmt(struct receiver *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void load_fmt(struct receiver *r, const char *fmt, ...)
{
	char text[8192];
	struct vg_err err;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (load(text, r, &err) < 0)
		ck_abort_msg("%s", err.msg);
}

static void expect_error(const char *text, const char *msg)
{
	struct receiver r;
	struct vg_err err;

	ck_assert_int_lt(load(text, &r, &err), 0);
	if (!strstr(err.msg, msg))
		ck_abort_msg("error \"%s\" does not contain \"%s\"", err.msg, msg);
	unload(&r);
}

/* --- servers ------------------------------------------------------------- */

static int wait_port_file(const char *path, struct vg_t_proc *p)
{
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(path, "r");
		int port = 0;
		if (f) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
			if (port > 0)
				return port;
		}
		if (!vg_t_alive(p))
			return -1;
		vg_t_sleep_ms(50);
	}
	return -1;
}

struct http_sink {
	struct vg_t_proc proc;
	char log[1024];
	int port;
};

static void http_sink_start(struct http_sink *s, const char *name, const char *responses, const char *retry_after)
{
	char port_file[1024], log_path[1024], srcpath[1024];

	snprintf(port_file, sizeof(port_file), "%s/%s.port", dir, name);
	snprintf(s->log, sizeof(s->log), "%s/%s.requests", dir, name);
	snprintf(log_path, sizeof(log_path), "%s/%s.log", dir, name);
	snprintf(srcpath, sizeof(srcpath), "%s/tests/http_sink.py", VG_SRCDIR);
	unlink(port_file);
	unlink(s->log);
	char *argv[] = { PY, srcpath, "--port-file", port_file, "--log", s->log, "--responses", (char *)responses,
			 retry_after ? "--retry-after" : NULL, (char *)retry_after, NULL };
	ck_assert_int_eq(vg_t_spawn(&s->proc, log_path, argv), 0);
	s->port = wait_port_file(port_file, &s->proc);
	ck_assert_int_gt(s->port, 0);
}

static void http_sink_stop(struct http_sink *s)
{
	vg_t_stop(&s->proc, SIGTERM, 5000);
}

/* The requests the sink logged, as a JSON array. */
static json_t *http_sink_requests(const struct http_sink *s)
{
	json_t *all = json_array();
	char line[1 << 16];
	FILE *f = fopen(s->log, "r");

	if (!f)
		return all;
	while (fgets(line, sizeof(line), f)) {
		json_t *j = json_loads(line, 0, NULL);
		ck_assert_ptr_nonnull(j);
		json_array_append_new(all, j);
	}
	fclose(f);
	return all;
}

static json_t *body_json(json_t *req)
{
	json_error_t e;
	json_t *j = json_loads(json_string_value(json_object_get(req, "body")), 0, &e);

	if (!j)
		ck_abort_msg("body is not JSON: %s", e.text);
	return j;
}

static const char *jstr(json_t *o, const char *path)
{
	char key[128];
	const char *dot;

	while ((dot = strchr(path, '.')) != NULL) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_get(o, key);
		path = dot + 1;
	}
	o = json_object_get(o, path);
	return json_is_string(o) ? json_string_value(o) : NULL;
}

static void assert_jstr(json_t *o, const char *path, const char *want)
{
	const char *got = jstr(o, path);

	if (!got || strcmp(got, want) != 0)
		ck_abort_msg("%s: got \"%s\", want \"%s\"", path, got ? got : "(none)", want);
}

/* --- channel_common -------------------------------------------------------- */

START_TEST(test_retry_after_values)
{
	ck_assert_int_eq(vg_channel_retry_after_ms("7", 1000), 7000);
	ck_assert_int_eq(vg_channel_retry_after_ms(" 120 \r\n", 1000), 120000);
	ck_assert_int_eq(vg_channel_retry_after_ms("99999999999", 1000), 24 * 3600 * 1000LL);
	ck_assert_int_eq(vg_channel_retry_after_ms("soon", 1000), 0);
	ck_assert_int_eq(vg_channel_retry_after_ms("5x", 1000), 0);
	/* An HTTP date 30 s after now. */
	ck_assert_int_eq(vg_channel_retry_after_ms("Wed, 21 Oct 2015 07:28:30 GMT", 1445412480), 30000);
	ck_assert_int_eq(vg_channel_retry_after_ms("Wed, 21 Oct 2015 07:28:30 GMT", 1445412520), 0);
}
END_TEST

START_TEST(test_detail_scrubs_secrets)
{
	struct vg_channel_result res;
	const char *secrets[] = { "s3cr3t-token" };

	vg_channel_detail(&res, secrets, 1, "HTTP 400: {\"echo\":\"s3cr3t-token\", \"x\":\"s3cr3t-token\"}\n");
	ck_assert_ptr_null(strstr(res.detail, "s3cr3t"));
	ck_assert_ptr_nonnull(strstr(res.detail, "<secret>"));
	ck_assert_ptr_null(strchr(res.detail, '\n'));
}
END_TEST

START_TEST(test_title_and_truncation)
{
	struct vg_notification n = make_notification(true);
	struct vg_buf b = VG_BUF_INIT;

	vg_channel_title(&b, &n);
	ck_assert_str_eq(vg_buf_cstr(&b), "[FIRING:1] DiskFull c1 (page)");
	vg_buf_reset(&b);
	vg_buf_puts(&b, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
	vg_channel_truncate_utf8(&b, 4);
	ck_assert_str_eq(vg_buf_cstr(&b), "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
	vg_channel_truncate_utf8(&b, 3);
	ck_assert_str_eq(vg_buf_cstr(&b), "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
	vg_buf_release(&b);
}
END_TEST

/* --- PagerDuty --------------------------------------------------------------- */

static void pd_config(struct receiver *r, const struct http_sink *s, const char *extra)
{
	load_fmt(r,
		 "pagerduty_configs:\n"
		 "  - routing_key: 0123456789abcdef0123456789abcdef\n"
		 "    url: http://127.0.0.1:%d/v2/enqueue\n"
		 "    timeout: 5s\n"
		 "%s",
		 s->port, extra);
}

START_TEST(test_pagerduty_per_alert_events)
{
	struct http_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(true);
	char fp[17];

	http_sink_start(&s, "pd", "202", NULL);
	pd_config(&r, &s, "    component: disk\n    class: capacity\n");
	const struct vg_pagerduty_config *c = item_at(&r, 1, 0);
	ck_assert(c->item.send_resolved);
	ck_assert_int_eq(vg_channel_pagerduty.send(c, &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_OK);
	ck_assert_ptr_null(strstr(res.detail, "0123456789abcdef0123456789abcdef"));

	json_t *reqs = http_sink_requests(&s);
	ck_assert_int_eq(json_array_size(reqs), 2);
	json_t *q = json_array_get(reqs, 0);
	assert_jstr(q, "method", "POST");
	assert_jstr(q, "path", "/v2/enqueue");
	assert_jstr(q, "headers.content-type", "application/json");
	json_t *b = body_json(q);
	/* interfaces (b): routing_key, event_action, dedup_key, payload. */
	assert_jstr(b, "routing_key", "0123456789abcdef0123456789abcdef");
	assert_jstr(b, "event_action", "trigger");
	vg_alert_fingerprint_hex(vg_alert_fingerprint(&alerts[0].labels), fp);
	assert_jstr(b, "dedup_key", fp);
	assert_jstr(b, "payload.summary", "[FIRING] DiskFull: disk almost full on h1");
	assert_jstr(b, "payload.source", "h1");
	assert_jstr(b, "payload.severity", "error");
	assert_jstr(b, "payload.timestamp", "2026-11-24T21:00:00.123Z");
	assert_jstr(b, "payload.component", "disk");
	assert_jstr(b, "payload.class", "capacity");
	assert_jstr(b, "payload.custom_details.labels.instance", "h1");
	assert_jstr(b, "payload.custom_details.annotations.description", "/var is 97% full");
	assert_jstr(b, "client", "Vigil");
	assert_jstr(b, "client_url", "http://vigil.example:9711");
	json_t *links = json_object_get(b, "links");
	ck_assert_int_eq(json_array_size(links), 1);
	assert_jstr(json_array_get(links, 0), "href", "http://vigil.example/graph?g0.expr=disk&g0.tab=1");
	json_decref(b);

	/* The resolved alert: only routing_key, event_action and its own key. */
	b = body_json(json_array_get(reqs, 1));
	assert_jstr(b, "event_action", "resolve");
	vg_alert_fingerprint_hex(vg_alert_fingerprint(&alerts[1].labels), fp);
	assert_jstr(b, "dedup_key", fp);
	ck_assert_ptr_null(json_object_get(b, "payload"));
	ck_assert_int_eq(json_object_size(b), 3);
	json_decref(b);
	json_decref(reqs);
	unload(&r);
	http_sink_stop(&s);
}
END_TEST

/* Two distinct alerts of one group have distinct keys by default, and the
 * same alert keeps its key from one notification to the next. */
START_TEST(test_pagerduty_dedup_key_stable_and_distinct)
{
	struct http_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(false);

	http_sink_start(&s, "pd", "202", NULL);
	pd_config(&r, &s, "");
	ck_assert_int_eq(vg_channel_pagerduty.send(item_at(&r, 1, 0), &n, &res, &err), 0);
	ck_assert_int_eq(vg_channel_pagerduty.send(item_at(&r, 1, 0), &n, &res, &err), 0);
	json_t *reqs = http_sink_requests(&s);
	ck_assert_int_eq(json_array_size(reqs), 4);
	json_t *b[4];
	for (int i = 0; i < 4; i++)
		b[i] = body_json(json_array_get(reqs, (size_t)i));
	ck_assert_str_ne(jstr(b[0], "dedup_key"), jstr(b[1], "dedup_key"));
	ck_assert_str_eq(jstr(b[0], "dedup_key"), jstr(b[2], "dedup_key"));
	ck_assert_str_eq(jstr(b[1], "dedup_key"), jstr(b[3], "dedup_key"));
	for (int i = 0; i < 4; i++)
		json_decref(b[i]);
	json_decref(reqs);
	unload(&r);
	http_sink_stop(&s);
}
END_TEST

START_TEST(test_pagerduty_per_group)
{
	struct http_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(true);
	char key[65];

	http_sink_start(&s, "pd", "202", NULL);
	pd_config(&r, &s, "    dedup_key_per: group\n    severity: critical\n");
	ck_assert_int_eq(vg_channel_pagerduty.send(item_at(&r, 1, 0), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_OK);
	n.is_firing = false;
	alerts[0].is_firing = false;
	alerts[0].ends_at_ms = 1795554600000LL;
	ck_assert_int_eq(vg_channel_pagerduty.send(item_at(&r, 1, 0), &n, &res, &err), 0);
	json_t *reqs = http_sink_requests(&s);
	ck_assert_int_eq(json_array_size(reqs), 2);
	json_t *b = body_json(json_array_get(reqs, 0));
	/* Alertmanager's key: hex SHA-256 of the group key. */
	vg_pagerduty_group_dedup_key(n.group_key, key);
	ck_assert_int_eq(strlen(key), 64);
	assert_jstr(b, "dedup_key", key);
	assert_jstr(b, "event_action", "trigger");
	assert_jstr(b, "payload.severity", "critical");
	assert_jstr(b, "payload.summary", "[FIRING:1] DiskFull c1 (page)");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_object_get(b, "payload"),
									     "custom_details"), "num_firing")), 1);
	json_decref(b);
	b = body_json(json_array_get(reqs, 1));
	assert_jstr(b, "dedup_key", key);
	assert_jstr(b, "event_action", "resolve");
	json_decref(b);
	json_decref(reqs);
	unload(&r);
	http_sink_stop(&s);
}
END_TEST

START_TEST(test_pagerduty_summary_truncated)
{
	static char *names[] = { "summary" };
	static char *values[1];
	struct http_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(false);
	char *long_text = malloc(3001);

	for (int i = 0; i < 1500; i++)
		memcpy(long_text + 2 * i, "\xc3\xa9", 2); /* 1500 characters, 3000 bytes */
	long_text[3000] = '\0';
	values[0] = long_text;
	alerts[0].annotations = (struct vg_conf_labels){ 1, names, values };
	n.n_alerts = 1;
	http_sink_start(&s, "pd", "202", NULL);
	pd_config(&r, &s, "");
	ck_assert_int_eq(vg_channel_pagerduty.send(item_at(&r, 1, 0), &n, &res, &err), 0);
	json_t *reqs = http_sink_requests(&s);
	json_t *b = body_json(json_array_get(reqs, 0));
	const char *sum = jstr(b, "payload.summary");
	size_t chars = 0;
	for (const char *p = sum; *p; p++)
		chars += ((unsigned char)*p & 0xC0) != 0x80;
	ck_assert_uint_eq(chars, VG_PAGERDUTY_SUMMARY_MAX);
	ck_assert_ptr_nonnull(strstr(sum, "\xe2\x80\xa6"));
	json_decref(b);
	json_decref(reqs);
	free(long_text);
	unload(&r);
	http_sink_stop(&s);
}
END_TEST

static enum vg_channel_outcome pd_outcome(const char *responses, const char *retry_after, int64_t *ms, char *detail)
{
	struct http_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(false);

	http_sink_start(&s, "pd", responses, retry_after);
	pd_config(&r, &s, "");
	ck_assert_int_eq(vg_channel_pagerduty.send(item_at(&r, 1, 0), &n, &res, &err), 0);
	*ms = res.retry_after_ms;
	snprintf(detail, 256, "%s", res.detail);
	/* It stops at the first event that failed. */
	json_t *reqs = http_sink_requests(&s);
	ck_assert_int_eq(json_array_size(reqs), res.outcome == VG_CHANNEL_OK ? 2 : 1);
	json_decref(reqs);
	unload(&r);
	http_sink_stop(&s);
	return res.outcome;
}

START_TEST(test_pagerduty_outcomes)
{
	int64_t ms;
	char detail[256];

	ck_assert_int_eq(pd_outcome("429", "30", &ms, detail), VG_CHANNEL_RETRY);
	ck_assert_int_eq(ms, 30000);
	ck_assert_ptr_nonnull(strstr(detail, "HTTP 429"));
	ck_assert_int_eq(pd_outcome("503", "7", &ms, detail), VG_CHANNEL_RETRY);
	ck_assert_int_eq(ms, 7000);
	ck_assert_int_eq(pd_outcome("500", NULL, &ms, detail), VG_CHANNEL_RETRY);
	ck_assert_int_eq(ms, 0);
	ck_assert_int_eq(pd_outcome("400", NULL, &ms, detail), VG_CHANNEL_FAIL);
	ck_assert_ptr_nonnull(strstr(detail, "HTTP 400"));
	ck_assert_ptr_null(strstr(detail, "0123456789abcdef0123456789abcdef"));
}
END_TEST

START_TEST(test_pagerduty_network_error_retries)
{
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(false);
	struct http_sink s = { .port = 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	/* A port nobody listens on: bound, never listened. */
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	s.port = ntohs(a.sin_port);
	pd_config(&r, &s, "");
	ck_assert_int_eq(vg_channel_pagerduty.send(item_at(&r, 1, 0), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_RETRY);
	ck_assert_int_eq(res.retry_after_ms, 0);
	close(fd);
	unload(&r);
}
END_TEST

START_TEST(test_pagerduty_routing_key_file)
{
	struct http_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(false);
	char path[1024];

	snprintf(path, sizeof(path), "%s/pd.key", dir);
	FILE *f = fopen(path, "w");
	fputs("fedcba9876543210fedcba9876543210\n", f);
	fclose(f);
	http_sink_start(&s, "pd", "202", NULL);
	load_fmt(&r,
		 "pagerduty_configs:\n  - routing_key_file: %s\n    url: http://127.0.0.1:%d/v2/enqueue\n", path,
		 s.port);
	ck_assert_int_eq(vg_channel_pagerduty.send(item_at(&r, 1, 0), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_OK);
	json_t *reqs = http_sink_requests(&s);
	json_t *b = body_json(json_array_get(reqs, 0));
	assert_jstr(b, "routing_key", "fedcba9876543210fedcba9876543210");
	json_decref(b);
	json_decref(reqs);
	/* The file gone at send time: retry later, the path in the detail. */
	unlink(path);
	ck_assert_int_eq(vg_channel_pagerduty.send(item_at(&r, 1, 0), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_RETRY);
	ck_assert_ptr_nonnull(strstr(res.detail, "pd.key"));
	unload(&r);
	http_sink_stop(&s);
}
END_TEST

/* --- SMS ------------------------------------------------------------------------ */

/* A form body's value of name, decoded (caller frees), or NULL. */
static char *form_value(const char *body, const char *name)
{
	size_t nl = strlen(name);
	const char *p = body;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len > nl && p[nl] == '=' && strncmp(p, name, nl) == 0) {
			char *enc = strndup(p + nl + 1, len - nl - 1);
			for (char *q = enc; *q; q++)
				if (*q == '+')
					*q = ' ';
			int out_len = 0;
			char *dec = curl_easy_unescape(NULL, enc, 0, &out_len);
			char *copy = strdup(dec);
			curl_free(dec);
			free(enc);
			return copy;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

static void assert_form(const char *body, const char *name, const char *want)
{
	char *got = form_value(body, name);

	if (!got || strcmp(got, want) != 0)
		ck_abort_msg("form %s: got \"%s\", want \"%s\"", name, got ? got : "(none)", want);
	free(got);
}

START_TEST(test_sms_twilio_messages)
{
	struct http_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(false);

	http_sink_start(&s, "twilio", "201", NULL);
	load_fmt(&r,
		 "sms_configs:\n"
		 "  - preset: twilio\n"
		 "    url: http://127.0.0.1:%d\n"
		 "    account_sid: AC0123456789abcdef0123456789abcdef\n"
		 "    auth_token: tw-token-secret\n"
		 "    from: \"+15550001111\"\n"
		 "    to: [\"+15558675309\", \"+15558675310\"]\n",
		 s.port);
	ck_assert_int_eq(vg_channel_sms.send(item_at(&r, 2, 0), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_OK);
	json_t *reqs = http_sink_requests(&s);
	ck_assert_int_eq(json_array_size(reqs), 2);
	json_t *q = json_array_get(reqs, 0);
	assert_jstr(q, "method", "POST");
	assert_jstr(q, "path", "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json");
	assert_jstr(q, "headers.content-type", "application/x-www-form-urlencoded");
	/* Basic auth: AccountSid:AuthToken. */
	char *want_auth = NULL;
	{
		struct vg_buf b64 = VG_BUF_INIT;
		const char *cred = "AC0123456789abcdef0123456789abcdef:tw-token-secret";
		static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t len = strlen(cred);
		vg_buf_puts(&b64, "Basic ");
		for (size_t i = 0; i < len; i += 3) {
			unsigned v = (unsigned)(unsigned char)cred[i] << 16;
			if (i + 1 < len)
				v |= (unsigned)(unsigned char)cred[i + 1] << 8;
			if (i + 2 < len)
				v |= (unsigned char)cred[i + 2];
			vg_buf_putc(&b64, tab[(v >> 18) & 63]);
			vg_buf_putc(&b64, tab[(v >> 12) & 63]);
			vg_buf_putc(&b64, i + 1 < len ? tab[(v >> 6) & 63] : '=');
			vg_buf_putc(&b64, i + 2 < len ? tab[v & 63] : '=');
		}
		want_auth = vg_buf_detach(&b64, NULL);
	}
	assert_jstr(q, "headers.authorization", want_auth);
	free(want_auth);
	const char *body = jstr(q, "body");
	assert_form(body, "To", "+15558675309");
	assert_form(body, "From", "+15550001111");
	/* The default message: title, then the summary (the first alert's). */
	assert_form(body, "Body", "[FIRING:2] DiskFull c1 (page): disk almost full on h1");
	assert_form(jstr(json_array_get(reqs, 1), "body"), "To", "+15558675310");
	json_decref(reqs);
	unload(&r);
	http_sink_stop(&s);
}
END_TEST

START_TEST(test_sms_twilio_voice)
{
	struct http_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(false);

	http_sink_start(&s, "twilio", "201", NULL);
	load_fmt(&r,
		 "sms_configs:\n"
		 "  - preset: twilio\n"
		 "    kind: voice\n"
		 "    url: http://127.0.0.1:%d/\n"
		 "    account_sid: AC1\n"
		 "    auth_token: tok-12345\n"
		 "    from: \"+15550001111\"\n"
		 "    to: [\"+15558675309\"]\n"
		 "    message: \"{alertname} on {label.instance} & more\"\n",
		 s.port);
	ck_assert_int_eq(vg_channel_sms.send(item_at(&r, 2, 0), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_OK);
	json_t *reqs = http_sink_requests(&s);
	json_t *q = json_array_get(reqs, 0);
	assert_jstr(q, "path", "/2010-04-01/Accounts/AC1/Calls.json");
	assert_form(jstr(q, "body"), "Twiml", "<Response><Say>DiskFull on h1 &amp; more</Say></Response>");
	ck_assert_ptr_null(form_value(jstr(q, "body"), "Body"));
	json_decref(reqs);
	unload(&r);
	http_sink_stop(&s);
}
END_TEST

START_TEST(test_sms_generic_json)
{
	struct http_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(true);

	http_sink_start(&s, "gw", "200", NULL);
	load_fmt(&r,
		 "sms_configs:\n"
		 "  - url: \"http://127.0.0.1:%d/send?to={to}&st={status}\"\n"
		 "    method: PUT\n"
		 "    headers: [\"X-Api-Key: gw-key-98765\", \"X-Alert: {alertname}\"]\n"
		 "    content_type: application/json\n"
		 "    body: '{{\"to\":\"{to}\",\"text\":\"{message}\",\"n\":{count},\"f\":{firing},\"s\":\"{summary}\",\"l\":\"{labels}\"}}'\n"
		 "    message: \"{status}: {annotation.summary}\"\n"
		 "    from: vigil\n"
		 "    to: [\"+4911\"]\n",
		 s.port);
	ck_assert_int_eq(vg_channel_sms.send(item_at(&r, 2, 0), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_OK);
	json_t *reqs = http_sink_requests(&s);
	json_t *q = json_array_get(reqs, 0);
	assert_jstr(q, "method", "PUT");
	assert_jstr(q, "path", "/send");
	assert_jstr(q, "query", "to=%2B4911&st=firing");
	assert_jstr(q, "headers.x-api-key", "gw-key-98765");
	assert_jstr(q, "headers.x-alert", "DiskFull");
	assert_jstr(q, "headers.content-type", "application/json");
	json_t *b = body_json(q);
	assert_jstr(b, "to", "+4911");
	assert_jstr(b, "text", "firing: disk almost full on h1");
	assert_jstr(b, "s", "disk almost full on h1");
	assert_jstr(b, "l", "alertname=\"DiskFull\", cluster=\"c1\", severity=\"page\"");
	ck_assert_int_eq(json_integer_value(json_object_get(b, "n")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(b, "f")), 1);
	json_decref(b);
	json_decref(reqs);
	unload(&r);
	http_sink_stop(&s);
}
END_TEST

START_TEST(test_sms_outcomes)
{
	static const struct {
		const char *responses, *retry_after;
		enum vg_channel_outcome want;
		int64_t want_ms;
	} cases[] = {
		{ "429", "12", VG_CHANNEL_RETRY, 12000 },
		{ "503", "3", VG_CHANNEL_RETRY, 3000 },
		{ "400", NULL, VG_CHANNEL_FAIL, 0 },
		{ "401", NULL, VG_CHANNEL_FAIL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_sink s;
		struct receiver r;
		struct vg_channel_result res;
		struct vg_err err;
		struct vg_notification n = make_notification(false);

		http_sink_start(&s, "gw", cases[i].responses, cases[i].retry_after);
		load_fmt(&r,
			 "sms_configs:\n  - url: http://127.0.0.1:%d/sms\n    body: \"to={to}&msg={message}\"\n"
			 "    username: u\n    password: gw-pass-1234\n    to: [\"1\", \"2\"]\n",
			 s.port);
		ck_assert_int_eq(vg_channel_sms.send(item_at(&r, 2, 0), &n, &res, &err), 0);
		ck_assert_int_eq(res.outcome, cases[i].want);
		ck_assert_int_eq(res.retry_after_ms, cases[i].want_ms);
		ck_assert_ptr_null(strstr(res.detail, "gw-pass-1234"));
		json_t *reqs = http_sink_requests(&s);
		ck_assert_int_eq(json_array_size(reqs), 1); /* stopped at the first number */
		assert_form(jstr(json_array_get(reqs, 0), "body"), "msg",
			    "[FIRING:2] DiskFull c1 (page): disk almost full on h1");
		json_decref(reqs);
		unload(&r);
		http_sink_stop(&s);
	}
}
END_TEST

/* success_codes and retry_codes replace the defaults of the generic form. */
START_TEST(test_sms_custom_codes)
{
	static const struct {
		const char *responses;
		enum vg_channel_outcome want;
	} cases[] = {
		{ "200", VG_CHANNEL_FAIL },  /* not in success_codes */
		{ "202", VG_CHANNEL_OK },
		{ "409", VG_CHANNEL_RETRY }, /* in retry_codes */
		{ "503", VG_CHANNEL_FAIL },  /* 5xx no longer retried */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_sink s;
		struct receiver r;
		struct vg_channel_result res;
		struct vg_err err;
		struct vg_notification n = make_notification(false);

		http_sink_start(&s, "gw", cases[i].responses, NULL);
		load_fmt(&r,
			 "sms_configs:\n  - url: http://127.0.0.1:%d/sms\n    to: [\"1\"]\n"
			 "    success_codes: [\"202\", \"204\"]\n    retry_codes: [\"409\", \"429\"]\n",
			 s.port);
		ck_assert_int_eq(vg_channel_sms.send(item_at(&r, 2, 0), &n, &res, &err), 0);
		ck_assert_int_eq(res.outcome, cases[i].want);
		unload(&r);
		http_sink_stop(&s);
	}
}
END_TEST

START_TEST(test_sms_template_check)
{
	struct vg_err err;

	ck_assert_int_eq(vg_sms_template_check("{status} {label.instance} {{x}} {annotation.summary}", &err), 0);
	ck_assert_int_lt(vg_sms_template_check("{nope}", &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "unknown placeholder {nope}"));
	ck_assert_int_lt(vg_sms_template_check("a {status", &err), 0);
	ck_assert_int_lt(vg_sms_template_check("a } b", &err), 0);
	ck_assert_int_lt(vg_sms_template_check("{label.}", &err), 0);
	ck_assert_int_lt(vg_sms_template_check("{label.a-b}", &err), 0);
}
END_TEST

/* --- email ------------------------------------------------------------------------ */

struct smtp_sink {
	struct vg_t_proc proc;
	char out[1024];
	int port;
};

static void smtp_sink_start(struct smtp_sink *s, const char *const *extra)
{
	char port_file[1024], log_path[1024], srcpath[1024];
	char *argv[16];
	int k = 0;

	snprintf(port_file, sizeof(port_file), "%s/smtp.port", dir);
	snprintf(log_path, sizeof(log_path), "%s/smtp.log", dir);
	snprintf(s->out, sizeof(s->out), "%s/mail", dir);
	snprintf(srcpath, sizeof(srcpath), "%s/tests/smtp_sink.py", VG_SRCDIR);
	unlink(port_file);
	ck_assert_int_eq(mkdir(s->out, 0700), 0);
	argv[k++] = PY;
	argv[k++] = srcpath;
	argv[k++] = "--port-file";
	argv[k++] = port_file;
	argv[k++] = "--out-dir";
	argv[k++] = s->out;
	for (size_t i = 0; extra && extra[i] && k < 15; i++)
		argv[k++] = (char *)extra[i];
	argv[k] = NULL;
	ck_assert_int_eq(vg_t_spawn(&s->proc, log_path, argv), 0);
	s->port = wait_port_file(port_file, &s->proc);
	if (s->port <= 0) {
		char *out = NULL;
		FILE *f = fopen(log_path, "r");
		char buf[4096] = "";
		if (f) {
			size_t got = fread(buf, 1, sizeof(buf) - 1, f);
			buf[got] = '\0';
			fclose(f);
		}
		free(out);
		ck_abort_msg("smtp_sink.py did not start: %s", buf);
	}
}

static void smtp_sink_stop(struct smtp_sink *s)
{
	vg_t_stop(&s->proc, SIGTERM, 5000);
}

static json_t *smtp_message(const struct smtp_sink *s, int k)
{
	char path[1100];
	json_error_t e;

	snprintf(path, sizeof(path), "%s/%d.json", s->out, k);
	json_t *j = json_load_file(path, 0, &e);
	if (!j)
		ck_abort_msg("no message %d: %s", k, e.text);
	return j;
}

static void email_config(struct receiver *r, int port, const char *extra)
{
	load_fmt(r,
		 "email_configs:\n"
		 "  - to: \"On Call <oncall@example.org>, second@example.org\"\n"
		 "    from: \"Vigil <vigil@example.org>\"\n"
		 "    smarthost: 127.0.0.1:%d\n"
		 "    hello: vigil-host.example.org\n"
		 "    timeout: 10s\n"
		 "%s",
		 port, extra);
}

START_TEST(test_email_plain_message)
{
	struct smtp_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(true);

	smtp_sink_start(&s, NULL);
	email_config(&r, s.port, "    require_tls: false\n");
	const struct vg_email_config *c = item_at(&r, 0, 0);
	ck_assert(!c->item.send_resolved);
	ck_assert_int_eq(vg_channel_email.send(c, &n, &res, &err), 0);
	if (res.outcome != VG_CHANNEL_OK)
		ck_abort_msg("send: %s", res.detail);
	json_t *m = smtp_message(&s, 1);
	assert_jstr(m, "mail_from", "vigil@example.org");
	json_t *rcpt = json_object_get(m, "rcpt_tos");
	ck_assert_int_eq(json_array_size(rcpt), 2);
	ck_assert_str_eq(json_string_value(json_array_get(rcpt, 0)), "oncall@example.org");
	ck_assert_str_eq(json_string_value(json_array_get(rcpt, 1)), "second@example.org");
	assert_jstr(m, "ehlo", "vigil-host.example.org");
	/* Python's email parser: no defects, multipart/alternative, headers. */
	ck_assert_int_eq(json_array_size(json_object_get(m, "defects")), 0);
	ck_assert(json_is_false(json_object_get(m, "bare_lf")));
	ck_assert_int_le(json_integer_value(json_object_get(m, "max_line")), 78);
	assert_jstr(m, "content_type", "multipart/alternative");
	assert_jstr(m, "headers.Subject", "[FIRING:1] DiskFull c1 (page)");
	assert_jstr(m, "headers.From", "Vigil <vigil@example.org>");
	assert_jstr(m, "headers.To", "On Call <oncall@example.org>, second@example.org");
	assert_jstr(m, "headers.MIME-Version", "1.0");
	const char *date = jstr(m, "headers.Date");
	ck_assert_ptr_nonnull(date);
	ck_assert_ptr_nonnull(strstr(date, " +0000"));
	const char *mid = jstr(m, "headers.Message-ID");
	ck_assert_ptr_nonnull(mid);
	ck_assert_int_eq(mid[0], '<');
	ck_assert_ptr_nonnull(strstr(mid, "@example.org>"));
	const char *text = jstr(m, "text"), *html = jstr(m, "html");
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(html);
	/* Each alert's labels and annotations, both parts. */
	ck_assert_ptr_nonnull(strstr(text, "Firing:"));
	ck_assert_ptr_nonnull(strstr(text, "instance = h1"));
	ck_assert_ptr_nonnull(strstr(text, "description = /var is 97% full"));
	ck_assert_ptr_nonnull(strstr(text, "Resolved:"));
	ck_assert_ptr_nonnull(strstr(text, "instance = h2"));
	ck_assert_ptr_nonnull(strstr(text, "disk almost full on h2 \xc3\xa9t\xc3\xa9 <b>&</b>"));
	ck_assert_ptr_nonnull(strstr(text, "Started: 2026-11-24T21:00:00.123Z"));
	ck_assert_ptr_nonnull(strstr(text, "Source: http://vigil.example/graph?g0.expr=disk&g0.tab=1"));
	ck_assert_ptr_nonnull(strstr(html, "<td>instance</td><td>h1</td>"));
	ck_assert_ptr_nonnull(strstr(html, "\xc3\xa9t\xc3\xa9 &lt;b&gt;&amp;&lt;/b&gt;"));
	ck_assert_ptr_nonnull(strstr(html, "<h3>Resolved</h3>"));
	json_decref(m);
	unload(&r);
	smtp_sink_stop(&s);
}
END_TEST

START_TEST(test_email_subject_encoded)
{
	static char *names[] = { "alertname", "cluster" };
	static char *values[] = { "Plein", "r\xc3\xa9seau-\xe6\x9d\xb1\xe4\xba\xac" };
	struct smtp_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(false);

	n.group_labels = (struct vg_conf_labels){ 2, names, values };
	n.common_labels = n.group_labels;
	smtp_sink_start(&s, NULL);
	email_config(&r, s.port, "    require_tls: false\n");
	ck_assert_int_eq(vg_channel_email.send(item_at(&r, 0, 0), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_OK);
	json_t *m = smtp_message(&s, 1);
	assert_jstr(m, "headers.Subject", "[FIRING:2] Plein r\xc3\xa9seau-\xe6\x9d\xb1\xe4\xba\xac");
	ck_assert_int_eq(json_array_size(json_object_get(m, "defects")), 0);
	json_decref(m);
	unload(&r);
	smtp_sink_stop(&s);
}
END_TEST

/* A label value with a line break cannot add a header. */
START_TEST(test_email_header_injection)
{
	static char *names[] = { "alertname" };
	static char *values[] = { "Disk\r\nBcc: victim@example.org" };
	struct receiver r;
	struct vg_err err;
	struct vg_buf m = VG_BUF_INIT;
	struct vg_notification n = make_notification(false);

	n.group_labels = (struct vg_conf_labels){ 1, names, values };
	if (load("email_configs:\n  - {to: a@example.org, from: v@example.org, smarthost: 'h:25'}\n", &r, &err) < 0)
		ck_abort_msg("%s", err.msg);
	vg_email_message(&m, item_at(&r, 0, 0), &n, 1795554000);
	ck_assert(!vg_buf_failed(&m));
	ck_assert_ptr_null(strstr(vg_buf_cstr(&m), "\nBcc:"));
	ck_assert_ptr_nonnull(strstr(vg_buf_cstr(&m), "Subject: [FIRING:2] Disk  Bcc: victim@example.org"));
	ck_assert_ptr_nonnull(strstr(vg_buf_cstr(&m), "Date: Tue, 24 Nov 2026 21:00:00 +0000\r\n"));
	vg_buf_release(&m);
	unload(&r);
}
END_TEST

START_TEST(test_email_recipient_refused)
{
	struct smtp_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(false);

	smtp_sink_start(&s, NULL);
	load_fmt(&r,
		 "email_configs:\n"
		 "  - {to: reject@example.org, from: v@example.org, smarthost: '127.0.0.1:%d', require_tls: false}\n"
		 "  - {to: later@example.org, from: v@example.org, smarthost: '127.0.0.1:%d', require_tls: false}\n",
		 s.port, s.port);
	ck_assert_int_eq(vg_channel_email.send(item_at(&r, 0, 0), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_FAIL);
	ck_assert_ptr_nonnull(strstr(res.detail, "550"));
	ck_assert_int_eq(vg_channel_email.send(item_at(&r, 0, 1), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_RETRY);
	ck_assert_ptr_nonnull(strstr(res.detail, "451"));
	unload(&r);
	smtp_sink_stop(&s);
}
END_TEST

/* require_tls (the default) against a server without STARTTLS: refused,
 * nothing sent in clear. */
START_TEST(test_email_require_tls_refuses_plain)
{
	struct smtp_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(false);

	smtp_sink_start(&s, NULL);
	email_config(&r, s.port, "");
	ck_assert(((struct vg_email_config *)item_at(&r, 0, 0))->require_tls.value);
	ck_assert_int_eq(vg_channel_email.send(item_at(&r, 0, 0), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_FAIL);
	ck_assert_int_eq(vg_t_count_files(s.out, ".json"), 0);
	unload(&r);
	smtp_sink_stop(&s);
}
END_TEST

START_TEST(test_email_starttls_auth)
{
	struct smtp_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(false);
	char cert[1024], key[1024], ca[1024], pwfile[1024], extra[2200];

	ck_assert_int_eq(vg_t_make_certs(dir), 0);
	snprintf(cert, sizeof(cert), "%s/server.crt", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(pwfile, sizeof(pwfile), "%s/smtp.pw", dir);
	FILE *f = fopen(pwfile, "w");
	fputs("mail-pw-777\n", f);
	fclose(f);
	const char *args[] = { "--tls-cert", cert, "--tls-key", key, "--auth", "alerts:mail-pw-777", NULL };
	smtp_sink_start(&s, args);
	snprintf(extra, sizeof(extra),
		 "    auth_username: alerts\n    auth_password_file: %s\n    tls_config:\n      ca_file: %s\n", pwfile,
		 ca);
	email_config(&r, s.port, extra);
	ck_assert_int_eq(vg_channel_email.send(item_at(&r, 0, 0), &n, &res, &err), 0);
	if (res.outcome != VG_CHANNEL_OK)
		ck_abort_msg("send: %s", res.detail);
	json_t *m = smtp_message(&s, 1);
	ck_assert(json_is_true(json_object_get(m, "tls")));
	assert_jstr(m, "login", "alerts");
	json_decref(m);
	unload(&r);

	/* A wrong password: refused, final, and the password not shown. */
	snprintf(extra, sizeof(extra),
		 "    auth_username: alerts\n    auth_password: wrong-pw-4242\n    tls_config:\n      ca_file: %s\n", ca);
	email_config(&r, s.port, extra);
	ck_assert_int_eq(vg_channel_email.send(item_at(&r, 0, 0), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_FAIL);
	ck_assert_ptr_null(strstr(res.detail, "wrong-pw-4242"));
	unload(&r);

	/* A certificate from an unknown CA: not sent. */
	email_config(&r, s.port, "    auth_username: alerts\n    auth_password: mail-pw-777\n");
	ck_assert_int_eq(vg_channel_email.send(item_at(&r, 0, 0), &n, &res, &err), 0);
	ck_assert_int_ne(res.outcome, VG_CHANNEL_OK);
	ck_assert_int_eq(vg_t_count_files(s.out, ".json"), 1);
	unload(&r);
	smtp_sink_stop(&s);
}
END_TEST

START_TEST(test_email_smtps)
{
	struct smtp_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(false);
	char cert[1024], key[1024], ca[1024], extra[2200];

	ck_assert_int_eq(vg_t_make_certs(dir), 0);
	snprintf(cert, sizeof(cert), "%s/server.crt", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	const char *args[] = { "--tls-cert", cert, "--tls-key", key, "--smtps", "--auth", "alerts:pw-smtps-1", NULL };
	smtp_sink_start(&s, args);
	snprintf(extra, sizeof(extra),
		 "    implicit_tls: true\n    auth_username: alerts\n    auth_password: pw-smtps-1\n"
		 "    tls_config:\n      ca_file: %s\n", ca);
	email_config(&r, s.port, extra);
	ck_assert_ptr_nonnull(strstr(((struct vg_email_config *)item_at(&r, 0, 0))->url, "smtps://127.0.0.1:"));
	ck_assert_int_eq(vg_channel_email.send(item_at(&r, 0, 0), &n, &res, &err), 0);
	if (res.outcome != VG_CHANNEL_OK)
		ck_abort_msg("send: %s", res.detail);
	json_t *m = smtp_message(&s, 1);
	assert_jstr(m, "login", "alerts");
	assert_jstr(m, "headers.Subject", "[FIRING:2] DiskFull c1 (page)");
	json_decref(m);
	unload(&r);
	smtp_sink_stop(&s);
}
END_TEST

/* basic_auth and authorization reach the Alertmanager as headers. */
START_TEST(test_alertmanager_auth)
{
	struct http_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(false);
	char path[1024];

	snprintf(path, sizeof(path), "%s/am.token", dir);
	FILE *f = fopen(path, "w");
	fputs("tok-am-5555\n", f);
	fclose(f);
	http_sink_start(&s, "am", "200,200,400", NULL);
	load_fmt(&r,
		 "alertmanager_configs:\n"
		 "  - urls: ['http://127.0.0.1:%d/prefix/']\n"
		 "    basic_auth: {username: prom, password: am-pw-1}\n"
		 "  - urls: ['http://127.0.0.1:%d']\n"
		 "    authorization: {credentials_file: %s}\n",
		 s.port, s.port, path);
	ck_assert_int_eq(vg_channel_alertmanager.send(item_at(&r, 3, 0), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_OK);
	ck_assert_int_eq(vg_channel_alertmanager.send(item_at(&r, 3, 1), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_OK);
	/* A 400 from the only Alertmanager: final. */
	ck_assert_int_eq(vg_channel_alertmanager.send(item_at(&r, 3, 1), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_FAIL);
	ck_assert_ptr_null(strstr(res.detail, "tok-am-5555"));
	json_t *reqs = http_sink_requests(&s);
	ck_assert_int_eq(json_array_size(reqs), 3);
	assert_jstr(json_array_get(reqs, 0), "path", "/prefix/api/v2/alerts");
	assert_jstr(json_array_get(reqs, 0), "headers.authorization", "Basic cHJvbTphbS1wdy0x");
	assert_jstr(json_array_get(reqs, 1), "path", "/api/v2/alerts");
	assert_jstr(json_array_get(reqs, 1), "headers.authorization", "Bearer tok-am-5555");
	json_t *b = body_json(json_array_get(reqs, 0));
	ck_assert_int_eq(json_array_size(b), 2);
	assert_jstr(json_array_get(b, 0), "labels.instance", "h1");
	assert_jstr(json_array_get(b, 0), "startsAt", "2026-11-24T21:00:00.123Z");
	ck_assert_ptr_null(json_object_get(json_array_get(b, 0), "endsAt"));
	json_decref(b);
	json_decref(reqs);
	unload(&r);
	http_sink_stop(&s);
}
END_TEST

/* The item's timeout bounds a request to a peer that does not answer. */
START_TEST(test_timeout_retries)
{
	struct http_sink s;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(false);
	char port_file[1024], log_path[1024], srcpath[1024];

	snprintf(port_file, sizeof(port_file), "%s/slow.port", dir);
	snprintf(s.log, sizeof(s.log), "%s/slow.requests", dir);
	snprintf(log_path, sizeof(log_path), "%s/slow.log", dir);
	snprintf(srcpath, sizeof(srcpath), "%s/tests/http_sink.py", VG_SRCDIR);
	char *argv[] = { PY, srcpath, "--port-file", port_file, "--log", s.log, "--delay", "5", NULL };
	ck_assert_int_eq(vg_t_spawn(&s.proc, log_path, argv), 0);
	s.port = wait_port_file(port_file, &s.proc);
	ck_assert_int_gt(s.port, 0);
	load_fmt(&r, "alertmanager_configs:\n  - urls: ['http://127.0.0.1:%d']\n    timeout: 300ms\n",
		 s.port);
	ck_assert_int_eq(vg_channel_alertmanager.send(item_at(&r, 3, 0), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_RETRY);
	ck_assert_ptr_nonnull(strstr(res.detail, "imed out"));
	unload(&r);
	http_sink_stop(&s);
}
END_TEST

/* --- Alertmanager --------------------------------------------------------------- */

struct am {
	struct vg_t_proc proc;
	int port;
};

static void am_start(struct am *am)
{
	char cfg[1024];

	snprintf(cfg, sizeof(cfg), "%s/am.yml", dir);
	FILE *f = fopen(cfg, "w");
	fputs("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n", f);
	fclose(f);
	am->port = vg_t_alertmanager_start(&am->proc, dir, cfg);
	ck_assert_msg(am->port > 0, "prometheus-alertmanager did not start (see %s/am.log)", dir);
}

static json_t *am_alerts(struct am *am)
{
	long status = 0;
	json_t *j = vg_t_http_json((uint16_t)am->port, "/api/v2/alerts", &status);

	ck_assert_int_eq(status, 200);
	ck_assert(json_is_array(j));
	return j;
}

static json_t *am_find(json_t *list, const char *instance)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *a = json_array_get(list, i);
		const char *v = jstr(a, "labels.instance");
		if (v && strcmp(v, instance) == 0)
			return a;
	}
	return NULL;
}

START_TEST(test_alertmanager_delivery)
{
	struct am am;
	struct receiver r;
	struct vg_channel_result res;
	struct vg_err err;
	struct vg_notification n = make_notification(false);
	int dead = vg_t_free_port();

	if (access("/usr/bin/prometheus-alertmanager", X_OK) != 0)
		ck_abort_msg("prometheus-alertmanager is not installed (VG_PACKAGES)");
	am_start(&am);
	/* A dead Alertmanager beside a live one: delivered (one took it). */
	load_fmt(&r, "alertmanager_configs:\n  - urls: [\"http://127.0.0.1:%d/\", \"http://127.0.0.1:%d\"]\n",
		 dead, am.port);
	ck_assert_int_eq(vg_channel_alertmanager.send(item_at(&r, 3, 0), &n, &res, &err), 0);
	if (res.outcome != VG_CHANNEL_OK)
		ck_abort_msg("send: %s", res.detail);
	ck_assert_ptr_nonnull(strstr(res.detail, "1 of 2"));

	json_t *list = am_alerts(&am);
	ck_assert_int_eq(json_array_size(list), 2);
	json_t *a = am_find(list, "h1");
	ck_assert_ptr_nonnull(a);
	assert_jstr(a, "labels.alertname", "DiskFull");
	assert_jstr(a, "labels.severity", "page");
	assert_jstr(a, "annotations.summary", "disk almost full on h1");
	assert_jstr(a, "annotations.description", "/var is 97% full");
	assert_jstr(a, "startsAt", "2026-11-24T21:00:00.123Z");
	assert_jstr(a, "generatorURL", "http://vigil.example/graph?g0.expr=disk&g0.tab=1");
	assert_jstr(a, "status.state", "active");
	/* Alertmanager's fingerprint is the one alert.c computes. */
	char fp[17];
	vg_alert_fingerprint_hex(vg_alert_fingerprint(&alerts[0].labels), fp);
	assert_jstr(a, "fingerprint", fp);
	json_decref(list);

	/* h2 resolves: Alertmanager no longer lists it as active. */
	alerts[1].is_firing = false;
	alerts[1].ends_at_ms = (int64_t)time(NULL) * 1000 - 1000;
	ck_assert_int_eq(vg_channel_alertmanager.send(item_at(&r, 3, 0), &n, &res, &err), 0);
	if (res.outcome != VG_CHANNEL_OK)
		ck_abort_msg("send: %s", res.detail);
	list = am_alerts(&am);
	ck_assert_ptr_nonnull(am_find(list, "h1"));
	ck_assert_ptr_null(am_find(list, "h2"));
	json_decref(list);
	unload(&r);

	/* Only the dead one: retry. */
	load_fmt(&r, "alertmanager_configs:\n  - urls: [\"http://127.0.0.1:%d\"]\n", dead);
	ck_assert_int_eq(vg_channel_alertmanager.send(item_at(&r, 3, 0), &n, &res, &err), 0);
	ck_assert_int_eq(res.outcome, VG_CHANNEL_RETRY);
	unload(&r);
	vg_t_stop(&am.proc, SIGTERM, 5000);
}
END_TEST

/* --- configuration ------------------------------------------------------------------ */

START_TEST(test_config_defaults)
{
	struct receiver r;
	struct vg_err err;
	const char *yaml =
		"email_configs:\n"
		"  - {to: a@example.org, from: v@example.org, smarthost: 'mail.example.org:465'}\n"
		"pagerduty_configs:\n"
		"  - {routing_key: k, send_resolved: false}\n"
		"sms_configs:\n"
		"  - {preset: twilio, account_sid: AC1, auth_token: t, from: '+1', to: ['+2']}\n"
		"alertmanager_configs:\n"
		"  - {urls: ['http://am:9093']}\n";

	if (load(yaml, &r, &err) < 0)
		ck_abort_msg("%s", err.msg);
	const struct vg_email_config *e = item_at(&r, 0, 0);
	ck_assert_str_eq(e->url, "smtps://mail.example.org:465/localhost");
	ck_assert(e->require_tls.value);
	ck_assert(!e->item.send_resolved);
	ck_assert_int_eq(e->item.timeout_ms, 30000);
	ck_assert_str_eq(e->mail_from, "<v@example.org>");
	const struct vg_pagerduty_config *p = item_at(&r, 1, 0);
	ck_assert(!p->item.send_resolved); /* given false: kept */
	ck_assert_str_eq(p->url, VG_PAGERDUTY_URL);
	ck_assert_str_eq(p->severity, "error");
	ck_assert(!p->is_per_group);
	const struct vg_sms_config *s = item_at(&r, 2, 0);
	ck_assert_str_eq(s->url, VG_SMS_TWILIO_URL);
	ck_assert(s->is_twilio);
	ck_assert(!s->is_voice);
	ck_assert_str_eq(s->message, VG_SMS_DEFAULT_MESSAGE);
	const struct vg_alertmanager_config *a = item_at(&r, 3, 0);
	ck_assert(a->item.send_resolved);
	ck_assert_str_eq(a->api_path, "/api/v2/alerts");
	/* The ops' keys and names, as the receivers table and /metrics use them. */
	ck_assert_str_eq(vg_channel_email.key, "email_configs");
	ck_assert_str_eq(vg_channel_pagerduty.key, "pagerduty_configs");
	ck_assert_str_eq(vg_channel_sms.key, "sms_configs");
	ck_assert_str_eq(vg_channel_alertmanager.key, "alertmanager_configs");
	ck_assert_str_eq(vg_channel_sms.name, "sms");
	unload(&r);
}
END_TEST

START_TEST(test_config_errors_name_the_line)
{
	expect_error("email_configs:\n  - to: a@example.org\n    smarthost: nohost\n",
		     "t.yaml:3: email_configs[0].smarthost:");
	expect_error("email_configs:\n  - to: 'not an address'\n", "t.yaml:2: email_configs[0].to: not an email address");
	expect_error("email_configs:\n  - to: a@b.c\n    from: x@y.z\n    smarthost: 'h:25'\n    helo: x\n",
		     "t.yaml:5: unknown key \"helo\"");
	expect_error("email_configs:\n  - to: a@b.c\n    require_tls: maybe\n", "t.yaml:3: email_configs[0].require_tls");
	expect_error("pagerduty_configs:\n  - routing_key: k\n    severity: high\n",
		     "t.yaml:3: pagerduty_configs[0].severity: must be critical, error, warning or info");
	expect_error("pagerduty_configs:\n  - routing_key: k\n\n    dedup_key_per: incident\n",
		     "t.yaml:4: pagerduty_configs[0].dedup_key_per: must be alert or group");
	expect_error("pagerduty_configs:\n  - routing_key: k\n    url: ftp://x\n", "t.yaml:3: pagerduty_configs[0].url");
	expect_error("pagerduty_configs:\n  - routing_key: k\n    timeout: 1y2\n", "t.yaml:3: pagerduty_configs[0].timeout");
	expect_error("sms_configs:\n  - url: http://x/\n    body: \"{nope}\"\n",
		     "t.yaml:3: sms_configs[0].body: unknown placeholder {nope}");
	expect_error("sms_configs:\n  - preset: nexmo\n", "t.yaml:2: sms_configs[0].preset");
	expect_error("sms_configs:\n  - url: http://x/\n    headers: [\"Bad Header\"]\n", "t.yaml:3: sms_configs[0].headers");
	expect_error("sms_configs:\n  - to: []\n", "t.yaml:2: sms_configs[0].to: at least one number");
	expect_error("sms_configs:\n  - url: http://x/\n    retry_codes: [\"5xx\", \"6\"]\n",
		     "t.yaml:3: sms_configs[0].retry_codes: [1]: not an HTTP status");
	expect_error("sms_configs:\n  - url: http://x/\n\n    headers: [\"X-A: a\\r\\nB: c\"]\n",
		     "t.yaml:4: sms_configs[0].headers: [0] holds a control character");
	expect_error("alertmanager_configs:\n  - urls: [\"http://a\", \"am:9093\"]\n",
		     "t.yaml:2: alertmanager_configs[0].urls: [1]");
	/* What only the whole item can say: prepare, naming the item. */
	expect_error("email_configs:\n  - to: a@b.c\n", "email_configs[0]: from is required");
	expect_error("pagerduty_configs:\n  - severity: info\n", "pagerduty_configs[0]: routing_key or routing_key_file is required");
	expect_error("pagerduty_configs:\n  - {routing_key: k, routing_key_file: /f}\n", "not both");
	expect_error("pagerduty_configs:\n  - routing_key_file: /nonexistent/key\n", "routing_key_file: cannot open");
	expect_error("sms_configs:\n  - {preset: twilio, to: ['+1'], auth_token: t, from: '+2'}\n", "account_sid is required");
	expect_error("sms_configs:\n  - {preset: twilio, account_sid: A, auth_token: t, from: '+2', to: ['+1'], body: x}\n",
		     "preset twilio builds its own request");
	expect_error("sms_configs:\n  - {to: ['+1']}\n", "url is required");
	expect_error("sms_configs:\n  - {to: ['+1'], url: 'x{to}'}\n", "url must start with http");
	expect_error("alertmanager_configs:\n  - api_path: /x\n", "urls: at least one URL is required");
	expect_error("alertmanager_configs:\n  - urls: [http://a]\n    basic_auth: {username: u}\n",
		     "alertmanager_configs[0]: basic_auth: password or password_file is required");
	expect_error("alertmanager_configs:\n  - urls: [http://a]\n    authorization: {type: 'Bear er', credentials: c}\n",
		     "t.yaml:3: alertmanager_configs[0].authorization.type: must be one word");
}
END_TEST

/* The examples of vigil-receiver.yaml(5), secrets inline instead of in
 * files, load and prepare as they are. */
START_TEST(test_config_man_examples)
{
	struct receiver r;
	struct vg_err err;
	const char *yaml =
		"email_configs:\n"
		"  - to: \"On call <oncall@example.org>, ops@example.org\"\n"
		"    from: \"Vigil <vigil@example.org>\"\n"
		"    smarthost: mail.example.org:587\n"
		"    hello: vigil.example.org\n"
		"    auth_username: vigil\n"
		"    auth_password: pw\n"
		"    send_resolved: true\n"
		"    tls_config:\n"
		"      ca_file: /etc/ssl/certs/ca-certificates.crt\n"
		"pagerduty_configs:\n"
		"  - routing_key: k\n"
		"    severity: error\n"
		"    severity_label: severity\n"
		"    component: postgresql\n"
		"    group: prod-db\n"
		"sms_configs:\n"
		"  - preset: twilio\n"
		"    account_sid: AC0123456789abcdef0123456789abcdef\n"
		"    auth_token: t\n"
		"    from: \"+15550001111\"\n"
		"    to: [\"+15558675309\"]\n"
		"    message: \"{status}: {alertname} on {label.instance}: {summary}\"\n"
		"  - preset: twilio\n"
		"    kind: voice\n"
		"    account_sid: AC0123456789abcdef0123456789abcdef\n"
		"    auth_token: t\n"
		"    from: \"+15550001111\"\n"
		"    to: [\"+15558675309\"]\n"
		"  - url: \"https://sms.example.net/v1/send?to={to}\"\n"
		"    headers: [\"Authorization: Bearer 0123abcd\"]\n"
		"    content_type: application/json\n"
		"    body: '{{\"text\": \"{message}\", \"alerts\": {count}}}'\n"
		"    to: [\"+4915112345678\"]\n"
		"alertmanager_configs:\n"
		"  - urls: [\"http://am1.example.org:9093\", \"http://am2.example.org:9093\"]\n"
		"    timeout: 5s\n";

	if (load(yaml, &r, &err) < 0)
		ck_abort_msg("%s", err.msg);
	const struct vg_email_config *e = item_at(&r, 0, 0);
	ck_assert(e->item.send_resolved);
	ck_assert_str_eq(e->url, "smtp://mail.example.org:587/vigil.example.org");
	ck_assert_uint_eq(e->n_rcpt, 2);
	ck_assert_str_eq(e->rcpt[0], "<oncall@example.org>");
	const struct vg_sms_config *s = item_at(&r, 2, 2);
	ck_assert_int_eq(s->body_escape, VG_SMS_JSON);
	ck_assert(((const struct vg_sms_config *)item_at(&r, 2, 1))->is_voice);
	ck_assert_int_eq(((const struct vg_alertmanager_config *)item_at(&r, 3, 0))->item.timeout_ms, 5000);
	unload(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("channels");
	TCase *common = tcase_create("common");
	TCase *pd = tcase_create("pagerduty");
	TCase *sms = tcase_create("sms");
	TCase *email = tcase_create("email");
	TCase *am = tcase_create("alertmanager");
	TCase *conf = tcase_create("config");
	SRunner *sr;
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_add_test(common, test_retry_after_values);
	tcase_add_test(common, test_detail_scrubs_secrets);
	tcase_add_test(common, test_title_and_truncation);
	tcase_add_checked_fixture(pd, setup, teardown);
	tcase_set_timeout(pd, 60);
	tcase_add_test(pd, test_pagerduty_per_alert_events);
	tcase_add_test(pd, test_pagerduty_dedup_key_stable_and_distinct);
	tcase_add_test(pd, test_pagerduty_per_group);
	tcase_add_test(pd, test_pagerduty_summary_truncated);
	tcase_add_test(pd, test_pagerduty_outcomes);
	tcase_add_test(pd, test_pagerduty_network_error_retries);
	tcase_add_test(pd, test_pagerduty_routing_key_file);
	tcase_add_checked_fixture(sms, setup, teardown);
	tcase_set_timeout(sms, 60);
	tcase_add_test(sms, test_sms_twilio_messages);
	tcase_add_test(sms, test_sms_twilio_voice);
	tcase_add_test(sms, test_sms_generic_json);
	tcase_add_test(sms, test_sms_outcomes);
	tcase_add_test(sms, test_sms_template_check);
	tcase_add_test(sms, test_sms_custom_codes);
	tcase_add_checked_fixture(email, setup, teardown);
	tcase_set_timeout(email, 60);
	tcase_add_test(email, test_email_plain_message);
	tcase_add_test(email, test_email_subject_encoded);
	tcase_add_test(email, test_email_recipient_refused);
	tcase_add_test(email, test_email_header_injection);
	tcase_add_test(email, test_email_require_tls_refuses_plain);
	tcase_add_test(email, test_email_starttls_auth);
	tcase_add_test(email, test_email_smtps);
	tcase_add_checked_fixture(am, setup, teardown);
	tcase_set_timeout(am, 60);
	tcase_add_test(am, test_alertmanager_delivery);
	tcase_add_test(am, test_timeout_retries);
	tcase_add_test(am, test_alertmanager_auth);
	tcase_add_checked_fixture(conf, setup, teardown);
	tcase_add_test(conf, test_config_defaults);
	tcase_add_test(conf, test_config_errors_name_the_line);
	tcase_add_test(conf, test_config_man_examples);
	suite_add_tcase(s, common);
	suite_add_tcase(s, pd);
	suite_add_tcase(s, sms);
	suite_add_tcase(s, email);
	suite_add_tcase(s, am);
	suite_add_tcase(s, conf);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
