/*
 * test_amcompat.c: an Alertmanager file moving over to the alerting:
 * section. http_config on every HTTP channel (basic_auth, authorization,
 * bearer_token, tls_config, proxy_url, follow_redirects) against the real
 * tests/http_sink.py, plain and TLS with the harness's certificates;
 * url_file; Retry-After as delta seconds and as an HTTP date on each HTTP
 * channel, read against the notifier's clock; match/match_re and
 * source_match/target_match; GET /api/v2/alerts/groups and the group keys
 * compared field by field with a real Alertmanager 0.25 (Debian's
 * prometheus-alertmanager) fed the same file and alerts; the examples of
 * vigil-receiver.yaml(5) and a representative alertmanager.yml
 * (tests/data/alertmanager.yml, which amtool check-config takes too)
 * loaded by the real vigil-receiver --check-config.
 */
#include "receiver/alert/channel.h"
#include "receiver/alert/channel_alertmanager.h"
#include "receiver/alert/channel_common.h"
#include "receiver/alert/channel_email.h"
#include "receiver/alert/channel_pagerduty.h"
#include "receiver/alert/channel_sms.h"
#include "receiver/alert/channel_webhook.h"
#include "receiver/alert/notifier.h"
#include "common/buf.h"
#include "common/err.h"
#include "tests/harness.h"

#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* 2026-11-30T12:00:00Z, a Monday; the driven clock's time. */
#define T0_MS 1796040000000LL

static char *dir;

static void setup(void)
{
	dir = vg_t_tmpdir("vigil-amcompat");
	ck_assert_ptr_nonnull(dir);
}

static void teardown(void)
{
	vg_t_rmrf(dir);
	free(dir);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* dir/name, in one of 8 rotating buffers. */
static const char *in_dir(const char *name)
{
	static char bufs[8][700];
	static int k;
	char *b = bufs[k++ % 8];

	snprintf(b, 700, "%s/%s", dir, name);
	return b;
}

/* --- a notification ------------------------------------------------------- */

static char *l_names[] = { "alertname", "instance" };
static char *l_values[] = { "DiskFull", "h1" };
static struct vg_notify_alert alert1;

static struct vg_notification notification(void)
{
	struct vg_notification n;

	memset(&n, 0, sizeof(n));
	memset(&alert1, 0, sizeof(alert1));
	alert1.labels = (struct vg_conf_labels){ 2, l_names, l_values };
	alert1.is_firing = true;
	alert1.starts_at_ms = T0_MS - 60000;
	n.receiver = "ops";
	n.group_key = "{}:{alertname=\"DiskFull\"}";
	n.is_firing = true;
	n.group_labels = (struct vg_conf_labels){ 1, l_names, l_values };
	n.common_labels = alert1.labels;
	n.n_alerts = 1;
	n.alerts = &alert1;
	n.now_ms = T0_MS;
	return n;
}

/* --- the alerting section, loaded and validated in process ------------------ */

struct cfg {
	struct vg_alerting_config a;
};

static const struct vg_conf_field top_fields[] = {
	{ "alerting", VG_CONF_STRUCT, offsetof(struct cfg, a), vg_alerting_fields, 0, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

/* Loads "alerting:\n" + text (printf) as the receiver does; 0 or the
 * error in err. */
static int load(struct cfg *c, struct vg_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int load(struct cfg *c, struct vg_err *err, const char *fmt, ...)
{
	char text[16384];
	va_list ap;
	int r;

	memcpy(text, "alerting:\n", 10);
	va_start(ap, fmt);
	vsnprintf(text + 10, sizeof(text) - 10, fmt, ap);
	va_end(ap);
	memset(c, 0, sizeof(*c));
	vg_err_clear(err);
	r = vg_conf_load_string(text, strlen(text), "t.yaml", top_fields, c, err);
	if (r == 0)
		r = vg_alerting_validate(&c->a, "t.yaml", err);
	return r;
}

static void unload(struct cfg *c)
{
	vg_alerting_release(&c->a);
}

#define ROUTE "  route:\n    receiver: r\n  receivers:\n    - name: r\n"

static void *item(struct cfg *c, size_t list_offset, size_t size, size_t i)
{
	const struct vg_receiver_conf *rc = c->a.receivers.v;
	const struct vg_conf_list *l = (const struct vg_conf_list *)((const char *)rc + list_offset);

	ck_assert_uint_gt(l->n, i);
	return (char *)l->v + i * size;
}

static struct vg_webhook_config *webhook(struct cfg *c, size_t i)
{
	return item(c, offsetof(struct vg_receiver_conf, webhook_configs), sizeof(struct vg_webhook_config), i);
}

static void expect_error(const char *want, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void expect_error(const char *want, const char *fmt, ...)
{
	char text[8192];
	struct cfg c;
	struct vg_err err;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	int r = load(&c, &err, "%s", text);
	ck_assert_msg(r != 0, "accepted: %s", text);
	ck_assert_msg(strstr(err.msg, want) != NULL, "error \"%s\" does not contain \"%s\"", err.msg, want);
	unload(&c);
}

/* --- sinks ---------------------------------------------------------------- */

struct sink {
	struct vg_t_sink s;
	char dir[700];
};

/* A sink in its own directory under dir, with the sink's extra flags. */
static void sink_start(struct sink *k, const char *name, const char *responses, ...)
{
	char *extra[16];
	size_t n = 0;
	va_list ap;

	snprintf(k->dir, sizeof(k->dir), "%s/%s", dir, name);
	ck_assert_int_eq(mkdir(k->dir, 0700), 0);
	va_start(ap, responses);
	for (char *a; n < 15 && (a = va_arg(ap, char *)) != NULL;)
		extra[n++] = a;
	va_end(ap);
	extra[n] = NULL;
	ck_assert_msg(vg_t_sink_start_argv(&k->s, k->dir, responses, extra) == 0, "http_sink.py did not start");
}

static void sink_stop(struct sink *k)
{
	vg_t_stop(&k->s.proc, SIGTERM, 5000);
}

/* Request i's string field (a dotted path: "headers.authorization"). */
static char *req_str(struct sink *k, size_t i, const char *path)
{
	json_t *all = vg_t_sink_requests(&k->s), *o = json_array_get(all, i);
	char key[64], *out = NULL;
	const char *dot;

	while (o && (dot = strchr(path, '.')) != NULL) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_get(o, key);
		path = dot + 1;
	}
	o = o ? json_object_get(o, path) : NULL;
	if (json_is_string(o))
		out = strdup(json_string_value(o));
	json_decref(all);
	return out;
}

static size_t req_count(struct sink *k)
{
	json_t *all = vg_t_sink_requests(&k->s);
	size_t n = json_array_size(all);

	json_decref(all);
	return n;
}

static void assert_req(struct sink *k, size_t i, const char *path, const char *want)
{
	char *got = req_str(k, i, path);

	if (!got || !want || strcmp(got, want) != 0)
		ck_abort_msg("request %zu %s: got \"%s\", want \"%s\"", i, path, got ? got : "(none)",
			     want ? want : "(none)");
	free(got);
}

/* Sends n through webhook item i of c; the outcome. */
static enum vg_channel_outcome send_webhook(struct cfg *c, size_t i, struct vg_channel_result *res)
{
	struct vg_notification n = notification();
	struct vg_err err;

	ck_assert_int_eq(vg_channel_webhook.send(webhook(c, i), &n, res, &err), 0);
	return res->outcome;
}

static void load_ok(struct cfg *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void load_ok(struct cfg *c, const char *fmt, ...)
{
	char text[16384];
	struct vg_err err;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (load(c, &err, "%s", text) != 0)
		ck_abort_msg("%s\nin:\n%s", err.msg, text);
}

/* --- http_config: authentication ------------------------------------------ */

START_TEST(test_http_config_auth)
{
	struct sink k;
	struct cfg c;
	struct vg_channel_result res;

	write_file(in_dir("pw"), "s3cret-pw\n");
	write_file(in_dir("tok"), "tok-123\n");
	sink_start(&k, "auth", "200,200,200,200,401", "--body", "echo s3cret-pw tok-123", NULL);
	load_ok(&c,
		ROUTE "      webhook_configs:\n"
		      "        - url: http://127.0.0.1:%u/a\n"
		      "          http_config:\n"
		      "            basic_auth: {username: ops, password_file: %s}\n"
		      "        - url: http://127.0.0.1:%u/b\n"
		      "          http_config:\n"
		      "            authorization: {type: Token, credentials_file: %s}\n"
		      "        - url: http://127.0.0.1:%u/c\n"
		      "          http_config:\n"
		      "            bearer_token: plain-bearer\n"
		      "        - url: http://127.0.0.1:%u/d\n"
		      "          http_config:\n"
		      "            authorization: {credentials: inline-cred}\n",
		k.s.port, in_dir("pw"), k.s.port, in_dir("tok"), k.s.port, k.s.port);
	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(send_webhook(&c, i, &res), VG_CHANNEL_OK);
	/* base64("ops:s3cret-pw") */
	assert_req(&k, 0, "headers.authorization", "Basic b3BzOnMzY3JldC1wdw==");
	assert_req(&k, 1, "headers.authorization", "Token tok-123");
	assert_req(&k, 2, "headers.authorization", "Bearer plain-bearer");
	assert_req(&k, 3, "headers.authorization", "Bearer inline-cred");
	assert_req(&k, 0, "path", "/a");
	/* A refusal echoing the secrets: they stay out of the detail. */
	ck_assert_int_eq(send_webhook(&c, 0, &res), VG_CHANNEL_FAIL);
	ck_assert_msg(strstr(res.detail, "HTTP 401") && !strstr(res.detail, "s3cret-pw"), "%s", res.detail);
	/* The file is read at each request: rotated, the new one is sent;
	 * gone, the delivery is retried later. */
	write_file(in_dir("tok"), "tok-456");
	ck_assert_int_eq(send_webhook(&c, 1, &res), VG_CHANNEL_FAIL);
	assert_req(&k, 5, "headers.authorization", "Token tok-456");
	unlink(in_dir("tok"));
	ck_assert_int_eq(send_webhook(&c, 1, &res), VG_CHANNEL_RETRY);
	ck_assert_msg(strstr(res.detail, "credentials_file") != NULL, "%s", res.detail);
	ck_assert_uint_eq(req_count(&k), 6);
	unload(&c);
	sink_stop(&k);
}
END_TEST

/* --- http_config: tls_config --------------------------------------------- */

START_TEST(test_http_config_tls)
{
	struct sink k, m;
	struct cfg c;
	struct vg_channel_result res;
	char crt[700], key[700], ca[700], cli_crt[700], cli_key[700], other[700];

	ck_assert_int_eq(vg_t_make_certs(dir), 0);
	snprintf(crt, sizeof(crt), "%s/server.crt", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(cli_crt, sizeof(cli_crt), "%s/client.crt", dir);
	snprintf(cli_key, sizeof(cli_key), "%s/client.key", dir);
	snprintf(other, sizeof(other), "%s/other-ca.crt", dir);
	sink_start(&k, "tls", "200", "--tls-cert", crt, "--tls-key", key, NULL);
	sink_start(&m, "mtls", "200", "--tls-cert", crt, "--tls-key", key, "--client-ca", ca, NULL);
	load_ok(&c,
		ROUTE "      webhook_configs:\n"
		      "        - url: https://127.0.0.1:%u/ca\n"
		      "          http_config: {tls_config: {ca_file: %s}}\n"
		      "        - url: https://127.0.0.1:%u/system-cas\n"
		      "        - url: https://127.0.0.1:%u/wrong-ca\n"
		      "          http_config: {tls_config: {ca_file: %s}}\n"
		      "        - url: https://127.0.0.1:%u/insecure\n"
		      "          http_config: {tls_config: {insecure_skip_verify: true}}\n"
		      "        - url: https://127.0.0.1:%u/name\n"
		      "          http_config: {tls_config: {ca_file: %s, server_name: localhost}}\n"
		      "        - url: https://127.0.0.1:%u/other-name\n"
		      "          http_config: {tls_config: {ca_file: %s, server_name: other.example}}\n"
		      "        - url: https://127.0.0.1:%u/client-cert\n"
		      "          http_config: {tls_config: {ca_file: %s, cert_file: %s, key_file: %s}}\n"
		      "        - url: https://127.0.0.1:%u/no-client-cert\n"
		      "          http_config: {tls_config: {ca_file: %s, min_version: TLS12}}\n",
		k.s.port, ca, k.s.port, k.s.port, other, k.s.port, k.s.port, ca, k.s.port, ca, m.s.port, ca, cli_crt,
		cli_key, m.s.port, ca);
	ck_assert_int_eq(send_webhook(&c, 0, &res), VG_CHANNEL_OK);
	ck_assert_int_eq(send_webhook(&c, 1, &res), VG_CHANNEL_RETRY); /* not a system CA */
	ck_assert_int_eq(send_webhook(&c, 2, &res), VG_CHANNEL_RETRY);
	ck_assert_int_eq(send_webhook(&c, 3, &res), VG_CHANNEL_OK);
	ck_assert_int_eq(send_webhook(&c, 4, &res), VG_CHANNEL_OK);
	ck_assert_int_eq(send_webhook(&c, 5, &res), VG_CHANNEL_RETRY);
	ck_assert_int_eq(send_webhook(&c, 6, &res), VG_CHANNEL_OK);
	ck_assert_int_eq(send_webhook(&c, 7, &res), VG_CHANNEL_RETRY);
	ck_assert_uint_eq(req_count(&k), 3);
	assert_req(&k, 0, "path", "/ca");
	assert_req(&k, 1, "path", "/insecure");
	assert_req(&k, 2, "path", "/name");
	/* server_name names the certificate, not the Host header. */
	char host[64];
	snprintf(host, sizeof(host), "127.0.0.1:%u", k.s.port);
	assert_req(&k, 2, "headers.host", host);
	ck_assert_uint_eq(req_count(&m), 1);
	assert_req(&m, 0, "client_cn", "tls-agent");
	unload(&c);
	sink_stop(&k);
	sink_stop(&m);
}
END_TEST

/* --- http_config: proxy_url, follow_redirects --------------------------- */

START_TEST(test_http_config_proxy_and_redirects)
{
	struct sink p, r;
	struct cfg c;
	struct vg_channel_result res;
	char env[64];

	sink_start(&p, "proxy", "200", NULL);
	sink_start(&r, "redirect", "307,200,302,200,307,200", "--location", "/final", NULL);
	snprintf(env, sizeof(env), "http://127.0.0.1:%u", p.s.port);
	setenv("http_proxy", env, 1);
	load_ok(&c,
		ROUTE "      webhook_configs:\n"
		      "        - url: http://hooks.invalid:8080/through-proxy\n"
		      "          http_config: {proxy_url: 'http://127.0.0.1:%u'}\n"
		      "        - url: http://127.0.0.1:9/not-from-environment\n"
		      "          timeout: 2s\n"
		      "        - url: http://hooks.invalid:8080/from-environment\n"
		      "          http_config: {proxy_from_environment: true}\n"
		      "        - url: http://127.0.0.1:%u/hook\n"
		      "        - url: http://127.0.0.1:%u/hook\n"
		      "          http_config: {follow_redirects: false}\n"
		      "        - url: http://127.0.0.1:%u/direct\n"
		      "          http_config: {proxy_url: 'http://127.0.0.1:%u', no_proxy: '127.0.0.1'}\n",
		p.s.port, r.s.port, r.s.port, r.s.port, p.s.port);
	ck_assert_int_eq(send_webhook(&c, 0, &res), VG_CHANNEL_OK);
	/* Alertmanager's default: the environment's proxy only when asked. */
	ck_assert_int_eq(send_webhook(&c, 1, &res), VG_CHANNEL_RETRY);
	ck_assert_int_eq(send_webhook(&c, 2, &res), VG_CHANNEL_OK);
	unsetenv("http_proxy");
	ck_assert_uint_eq(req_count(&p), 2);
	assert_req(&p, 0, "target", "http://hooks.invalid:8080/through-proxy");
	assert_req(&p, 1, "target", "http://hooks.invalid:8080/from-environment");
	/* 307 repeats the POST with its body; 302 too here (libcurl keeps
	 * a POST's method on 302 only with POSTREDIR, so it becomes a GET,
	 * as Go's client does); not followed, a 307 is final. */
	ck_assert_int_eq(send_webhook(&c, 3, &res), VG_CHANNEL_OK);
	ck_assert_int_eq(send_webhook(&c, 3, &res), VG_CHANNEL_OK);
	ck_assert_int_eq(send_webhook(&c, 4, &res), VG_CHANNEL_FAIL);
	ck_assert_msg(strstr(res.detail, "HTTP 307") != NULL, "%s", res.detail);
	/* no_proxy: straight to the host, not through proxy_url. */
	ck_assert_int_eq(send_webhook(&c, 5, &res), VG_CHANNEL_OK);
	ck_assert_uint_eq(req_count(&p), 2);
	ck_assert_uint_eq(req_count(&r), 6);
	assert_req(&r, 5, "target", "/direct");
	assert_req(&r, 1, "path", "/final");
	assert_req(&r, 1, "method", "POST");
	char *b0 = req_str(&r, 0, "body"), *b1 = req_str(&r, 1, "body");
	ck_assert_str_eq(b0, b1);
	free(b0);
	free(b1);
	assert_req(&r, 3, "path", "/final");
	assert_req(&r, 3, "method", "GET");
	unload(&c);
	sink_stop(&p);
	sink_stop(&r);
}
END_TEST

/* --- http_config: errors, global:, every channel --------------------------- */

START_TEST(test_http_config_errors_name_the_line)
{
	write_file(in_dir("pw"), "pw");
	expect_error("t.yaml:10: unknown key \"usernme\" in alerting.receivers[0].webhook_configs[0].http_config.basic_auth",
		     ROUTE "      webhook_configs:\n        - url: http://x/\n          http_config:\n"
			   "            basic_auth:\n              usernme: a\n");
	expect_error("t.yaml:8: unknown key \"tls\"",
		     ROUTE "      webhook_configs:\n        - url: http://x/\n          http_config: {tls: {}}\n");
	expect_error("t.yaml:8: alerting.receivers[0].webhook_configs[0].http_config.proxy_url: must start with",
		     ROUTE "      webhook_configs:\n        - url: http://x/\n          http_config: {proxy_url: 'x'}\n");
	expect_error("authorization.type: cannot be basic",
		     ROUTE "      webhook_configs:\n        - url: http://x/\n"
			   "          http_config: {authorization: {type: Basic, credentials: c}}\n");
	expect_error("webhook_configs[0]: http_config: at most one of basic_auth, authorization and bearer_token",
		     ROUTE "      webhook_configs:\n        - url: http://x/\n"
			   "          http_config: {basic_auth: {username: u}, bearer_token: t}\n");
	expect_error("http_config.basic_auth: password_file: cannot open /nonexistent/pw",
		     ROUTE "      webhook_configs:\n        - url: http://x/\n"
			   "          http_config: {basic_auth: {username: u, password_file: /nonexistent/pw}}\n");
	expect_error("give bearer_token or bearer_token_file, not both",
		     ROUTE "      pagerduty_configs:\n        - routing_key: k\n"
			   "          http_config: {bearer_token: t, bearer_token_file: %s}\n",
		     in_dir("pw"));
	expect_error("cert_file and key_file go together",
		     ROUTE "      sms_configs:\n        - url: http://x/\n          to: ['+1']\n"
			   "          http_config: {tls_config: {cert_file: %s}}\n",
		     in_dir("pw"));
	expect_error("tls_config.ca_file: cannot read /nonexistent/ca",
		     ROUTE "      alertmanager_configs:\n        - urls: [http://x]\n"
			   "          http_config: {tls_config: {ca_file: /nonexistent/ca}}\n");
	expect_error("authentication in http_config or beside it, not both",
		     ROUTE "      alertmanager_configs:\n        - urls: [http://x]\n          basic_auth: {username: u, password: p}\n"
			   "          http_config: {bearer_token: t}\n");
	expect_error("preset twilio signs in with account_sid and auth_token",
		     ROUTE "      sms_configs:\n        - {preset: twilio, account_sid: A, auth_token: t, from: '+2', to: ['+1'],"
			   " http_config: {bearer_token: t}}\n");
	expect_error("alerting.global: http_config.basic_auth: give password or password_file, not both",
		     "  global:\n    http_config: {basic_auth: {password: p, password_file: /f}}\n" ROUTE);
	expect_error("http_config.authorization: credentials or credentials_file is required",
		     ROUTE "      webhook_configs:\n        - url: http://x/\n"
			   "          http_config: {authorization: {type: Token}}\n");
	expect_error("Events API v1 keys are not sent",
		     ROUTE "      pagerduty_configs:\n        - service_key: k\n");
}
END_TEST

/* global.http_config is every HTTP item's default when it has none; an
 * item's own replaces it whole, as in Alertmanager. */
START_TEST(test_http_config_global_default)
{
	struct sink k;
	struct cfg c;
	struct vg_channel_result res;
	struct vg_notification n = notification();
	struct vg_err err;

	sink_start(&k, "global", "200", NULL);
	load_ok(&c,
		"  global:\n    http_config:\n      basic_auth: {username: g, password: gp}\n"
		"  route:\n    receiver: r\n  receivers:\n    - name: r\n"
		"      webhook_configs:\n"
		"        - url: http://127.0.0.1:%u/inherits\n"
		"        - url: http://127.0.0.1:%u/own\n"
		"          http_config: {authorization: {credentials: mine}}\n"
		"      pagerduty_configs:\n        - routing_key: k\n          url: http://127.0.0.1:%u/pd\n"
		"      sms_configs:\n        - url: http://127.0.0.1:%u/sms\n          to: ['+1']\n"
		"      alertmanager_configs:\n        - urls: ['http://127.0.0.1:%u']\n",
		k.s.port, k.s.port, k.s.port, k.s.port, k.s.port);
	ck_assert_int_eq(send_webhook(&c, 0, &res), VG_CHANNEL_OK);
	ck_assert_int_eq(send_webhook(&c, 1, &res), VG_CHANNEL_OK);
	ck_assert_int_eq(vg_channel_pagerduty.send(item(&c, offsetof(struct vg_receiver_conf, pagerduty_configs),
							 sizeof(struct vg_pagerduty_config), 0),
						    &n, &res, &err),
			 0);
	ck_assert_int_eq(vg_channel_sms.send(item(&c, offsetof(struct vg_receiver_conf, sms_configs),
						   sizeof(struct vg_sms_config), 0),
					      &n, &res, &err),
			 0);
	ck_assert_int_eq(vg_channel_alertmanager.send(item(&c, offsetof(struct vg_receiver_conf, alertmanager_configs),
							    sizeof(struct vg_alertmanager_config), 0),
						       &n, &res, &err),
			 0);
	ck_assert_uint_eq(req_count(&k), 5);
	assert_req(&k, 0, "headers.authorization", "Basic ZzpncA==");
	assert_req(&k, 1, "headers.authorization", "Bearer mine");
	for (size_t i = 2; i < 5; i++)
		assert_req(&k, i, "headers.authorization", "Basic ZzpncA==");
	assert_req(&k, 4, "path", "/api/v2/alerts");
	unload(&c);
	sink_stop(&k);
}
END_TEST

/* global:'s smtp_* and pagerduty_url fill the keys an item leaves out. */
START_TEST(test_global_channel_defaults)
{
	struct cfg c;

	write_file(in_dir("smtp.pw"), "pw");
	load_ok(&c,
		"  global:\n    smtp_from: am@example.org\n    smtp_smarthost: 'mail.example.org:587'\n"
		"    smtp_hello: vigil.example.org\n    smtp_auth_username: am\n    smtp_auth_password_file: %s\n"
		"    smtp_require_tls: false\n    pagerduty_url: http://pd.example.org/v2/enqueue\n"
		ROUTE "      email_configs:\n        - to: a@example.org\n"
		      "        - {to: b@example.org, from: b@example.org, smarthost: 'other.example.org:25',"
		      " auth_username: b, auth_password: bp, require_tls: true}\n"
		      "      pagerduty_configs:\n        - routing_key: k\n        - {routing_key: k, url: 'http://own/'}\n",
		in_dir("smtp.pw"));
	const struct vg_email_config *e0 = item(&c, offsetof(struct vg_receiver_conf, email_configs),
						sizeof(struct vg_email_config), 0);
	const struct vg_email_config *e1 = item(&c, offsetof(struct vg_receiver_conf, email_configs),
						sizeof(struct vg_email_config), 1);
	ck_assert_str_eq(e0->url, "smtp://mail.example.org:587/vigil.example.org");
	ck_assert_str_eq(e0->mail_from, "<am@example.org>");
	ck_assert_str_eq(e0->auth_username, "am");
	ck_assert_str_eq(e0->auth_password_file, in_dir("smtp.pw"));
	ck_assert(!e0->require_tls.value);
	ck_assert_str_eq(e1->url, "smtp://other.example.org:25/vigil.example.org");
	ck_assert_str_eq(e1->auth_username, "b");
	ck_assert_ptr_null(e1->auth_password_file);
	ck_assert(e1->require_tls.value);
	ck_assert_str_eq(((const struct vg_pagerduty_config *)item(&c, offsetof(struct vg_receiver_conf, pagerduty_configs),
								    sizeof(struct vg_pagerduty_config), 0))
				 ->url,
			 "http://pd.example.org/v2/enqueue");
	ck_assert_str_eq(((const struct vg_pagerduty_config *)item(&c, offsetof(struct vg_receiver_conf, pagerduty_configs),
								    sizeof(struct vg_pagerduty_config), 1))
				 ->url,
			 "http://own/");
	unload(&c);
	expect_error("email_configs[0]: from is required", ROUTE "      email_configs:\n        - to: a@example.org\n");
}
END_TEST

/* --- url_file ---------------------------------------------------------------- */

START_TEST(test_url_file)
{
	struct sink k;
	struct cfg c;
	struct vg_channel_result res;
	char url[128];

	sink_start(&k, "urlfile", "404,200", NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hooks/T0KEN-secret\n", k.s.port);
	write_file(in_dir("url"), url);
	load_ok(&c, ROUTE "      webhook_configs:\n        - url_file: %s\n", in_dir("url"));
	ck_assert_int_eq(send_webhook(&c, 0, &res), VG_CHANNEL_FAIL);
	ck_assert_msg(strstr(res.detail, "T0KEN") == NULL, "%s", res.detail);
	ck_assert_int_eq(send_webhook(&c, 0, &res), VG_CHANNEL_OK);
	assert_req(&k, 1, "path", "/hooks/T0KEN-secret");
	unlink(in_dir("url"));
	ck_assert_int_eq(send_webhook(&c, 0, &res), VG_CHANNEL_RETRY);
	ck_assert_msg(strstr(res.detail, "url_file") && !strstr(res.detail, "T0KEN"), "%s", res.detail);
	unload(&c);
	sink_stop(&k);
	expect_error("webhook_configs[0]: url_file: cannot open /nonexistent/url",
		     ROUTE "      webhook_configs:\n        - url_file: /nonexistent/url\n");
	write_file(in_dir("junk"), "not a url T0KEN\n");
	struct cfg j;
	struct vg_err err;
	ck_assert_int_ne(load(&j, &err, ROUTE "      webhook_configs:\n        - url_file: %s\n", in_dir("junk")), 0);
	ck_assert_msg(strstr(err.msg, "does not hold an http:// or https:// URL") && !strstr(err.msg, "T0KEN"), "%s",
		      err.msg);
	unload(&j);
	expect_error("give url or url_file, not both",
		     ROUTE "      webhook_configs:\n        - {url: 'http://x/', url_file: %s}\n", in_dir("junk"));
	expect_error("url: missing", ROUTE "      webhook_configs:\n        - send_resolved: true\n");
}
END_TEST

/* --- Retry-After ---------------------------------------------------------------- */

START_TEST(test_retry_after_forms)
{
	const int64_t now = 1445412480; /* Wed, 21 Oct 2015 07:28:00 GMT */

	ck_assert_int_eq(vg_channel_retry_after_ms("Wed, 21 Oct 2015 07:28:30 GMT", now), 30000);
	/* RFC 850 and asctime, the obsolete forms RFC 9110 still reads */
	ck_assert_int_eq(vg_channel_retry_after_ms("Wednesday, 21-Oct-15 07:29:00 GMT", now), 60000);
	ck_assert_int_eq(vg_channel_retry_after_ms("Wed Oct 21 07:28:45 2015", now), 45000);
	ck_assert_int_eq(vg_channel_retry_after_ms("Wed, 21 Oct 2015 07:27:00 GMT", now), 0); /* past */
	ck_assert_int_eq(vg_channel_retry_after_ms("Fri, 31 Dec 9999 23:59:59 GMT", now), 24 * 3600 * 1000LL);
	ck_assert_int_eq(vg_channel_retry_after_ms("18446744073709551616", now), 24 * 3600 * 1000LL);
	ck_assert_int_eq(vg_channel_retry_after_ms("-5", now), 0);
	ck_assert_int_eq(vg_channel_retry_after_ms("", now), 0);
}
END_TEST

/* An IMF-fixdate of ms. */
static void http_date(int64_t ms, char *out, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Each HTTP channel passes up the Retry-After of a 503, as delta seconds
 * or as a date read against the notification's time (the notifier's
 * driven clock, here a week before the wall clock's), and capped. */
START_TEST(test_retry_after_every_channel)
{
	char date[64], far[64];
	struct {
		const char *name, *value;
		int64_t want;
	} cases[] = {
		{ "delta", "7", 7000 },
		{ "date", date, 90000 },
		{ "far", far, 24 * 3600 * 1000LL },
	};

	http_date(T0_MS + 90000, date, sizeof(date));
	http_date(T0_MS + 400LL * 24 * 3600 * 1000, far, sizeof(far));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sink k;
		struct cfg c;
		struct vg_channel_result res;
		struct vg_notification n = notification();
		struct vg_err err;

		sink_start(&k, cases[i].name, "503", "--retry-after", cases[i].value, NULL);
		load_ok(&c,
			ROUTE "      webhook_configs:\n        - url: http://127.0.0.1:%u/w\n"
			      "      pagerduty_configs:\n        - routing_key: k\n          url: http://127.0.0.1:%u/pd\n"
			      "      sms_configs:\n        - url: http://127.0.0.1:%u/sms\n          to: ['+1']\n"
			      "        - {preset: twilio, url: 'http://127.0.0.1:%u', account_sid: AC1, auth_token: t,"
			      " from: '+2', to: ['+1']}\n"
			      "      alertmanager_configs:\n        - urls: ['http://127.0.0.1:%u']\n",
			k.s.port, k.s.port, k.s.port, k.s.port, k.s.port);
		const struct {
			const struct vg_channel_ops *ops;
			void *item;
		} items[] = {
			{ &vg_channel_webhook, webhook(&c, 0) },
			{ &vg_channel_pagerduty, item(&c, offsetof(struct vg_receiver_conf, pagerduty_configs),
						      sizeof(struct vg_pagerduty_config), 0) },
			{ &vg_channel_sms, item(&c, offsetof(struct vg_receiver_conf, sms_configs), sizeof(struct vg_sms_config),
						0) },
			{ &vg_channel_sms, item(&c, offsetof(struct vg_receiver_conf, sms_configs), sizeof(struct vg_sms_config),
						1) },
			{ &vg_channel_alertmanager, item(&c, offsetof(struct vg_receiver_conf, alertmanager_configs),
							 sizeof(struct vg_alertmanager_config), 0) },
		};
		for (size_t j = 0; j < sizeof(items) / sizeof(items[0]); j++) {
			ck_assert_int_eq(items[j].ops->send(items[j].item, &n, &res, &err), 0);
			ck_assert_int_eq(res.outcome, VG_CHANNEL_RETRY);
			ck_assert_msg(res.retry_after_ms == cases[i].want, "%s, %s[%zu]: %lld ms, want %lld",
				      cases[i].name, items[j].ops->name, j, (long long)res.retry_after_ms,
				      (long long)cases[i].want);
		}
		unload(&c);
		sink_stop(&k);
	}
}
END_TEST

/* The notifier reads a Retry-After date against its own (driven) clock:
 * 90 s after the driven time, where the wall clock would see a date in
 * the past and retry at the first backoff step. */
START_TEST(test_retry_after_date_on_driven_clock)
{
	struct vg_t_sink k;
	struct vg_t_receiver rcv;
	char date[64], cfg[2048], clock[700];
	long status;

	snprintf(clock, sizeof(clock), "%s/clock", dir);
	ck_assert_int_eq(vg_t_write_clock(clock, T0_MS), 0);
	http_date(T0_MS + 90000, date, sizeof(date));
	ck_assert_int_eq(vg_t_sink_start(&k, dir, "503", NULL, date), 0);
	snprintf(cfg, sizeof(cfg),
		 "testing_clock_file: %s\nalerting:\n  route:\n    receiver: r\n    group_wait: 0s\n"
		 "  receivers:\n    - name: r\n      webhook_configs:\n        - url: http://127.0.0.1:%u/hook\n",
		 clock, k.port);
	ck_assert_int_eq(vg_t_receiver_start_config(&rcv, dir, cfg, 0), 0);
	const char *body = "[{\"labels\":{\"alertname\":\"A\"},\"endsAt\":\"2099-01-01T00:00:00Z\"}]";
	free(vg_t_http_post(rcv.http_port, "/api/v2/alerts", body, strlen(body), &status));
	ck_assert_int_eq(status, 200);
	ck_assert_uint_eq(vg_t_sink_wait(&k, 1, 10000), 1);
	bool is_seen = false;
	for (int i = 0; i < 200 && !is_seen; i++) {
		is_seen = vg_t_log_contains(&rcv.proc, "retry 1 in 90000 ms") ||
			  vg_t_log_contains(&rcv.proc, "retry 1 in 89999 ms");
		if (!is_seen)
			vg_t_sleep_ms(25);
	}
	ck_assert_msg(is_seen, "no retry 90 s later in %s", rcv.proc.log_path);
	vg_t_stop(&rcv.proc, SIGTERM, 5000);
	vg_t_stop(&k.proc, SIGTERM, 5000);
}
END_TEST

/* --- match / match_re, route keys, /api/v2/alerts/groups, against Alertmanager */

/* text with every line indented by two spaces, under "alerting:". */
static char *under_alerting(const char *prefix, const char *text)
{
	struct vg_buf b = VG_BUF_INIT;

	vg_buf_puts(&b, prefix);
	vg_buf_puts(&b, "alerting:\n");
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (len > 1)
			vg_buf_puts(&b, "  ");
		vg_buf_append(&b, p, len);
		p += len;
	}
	return vg_buf_detach(&b, NULL);
}

/* Each alert's updatedAt dropped (the two servers received them at
 * different moments); everything else must be equal. */
static json_t *without_updated(json_t *groups)
{
	size_t i, j;
	json_t *g, *a;

	/* (And Vigil's own field, status.acknowledgedBy: an extra field a
	 * client of Alertmanager's API skips.) */
	json_array_foreach(groups, i, g)
		json_array_foreach(json_object_get(g, "alerts"), j, a) {
			json_object_del(a, "updatedAt");
			json_object_del(json_object_get(a, "status"), "acknowledgedBy");
		}
	return groups;
}

/* Alertmanager's inhibitor learns of alerts on a goroutine of its own, after
 * its dispatcher may have grouped them, and its API marks an alert
 * inhibited only once the inhibitor has seen the source: its answer settles
 * a moment after the POST. So the two are compared until they agree, for
 * up to 5 s; Vigil's answer is settled when its POST returns. */
static void compare_groups(uint16_t vigil, uint16_t am, const char *query)
{
	char path[512];
	long s1, s2;
	json_t *v = NULL, *a = NULL;

	snprintf(path, sizeof(path), "/api/v2/alerts/groups%s", query);
	for (int i = 0; i < 50; i++) {
		json_decref(v);
		json_decref(a);
		v = vg_t_http_json(vigil, path, &s1);
		a = vg_t_http_json(am, path, &s2);
		ck_assert_int_eq(s1, 200);
		ck_assert_int_eq(s2, 200);
		without_updated(v);
		without_updated(a);
		if (json_equal(v, a))
			break;
		vg_t_sleep_ms(100);
	}
	if (!json_equal(v, a)) {
		char *tv = json_dumps(v, JSON_SORT_KEYS | JSON_INDENT(1)), *ta = json_dumps(a, JSON_SORT_KEYS | JSON_INDENT(1));
		if (getenv("VG_KEEP")) {
			write_file("/tmp/groups-vigil.json", tv);
			write_file("/tmp/groups-alertmanager.json", ta);
		}
		fprintf(stderr, "%s differs:\nvigil: %s\nalertmanager: %s\n", path, tv, ta);
		ck_abort_msg("%s differs from Alertmanager's (on stderr)", path);
	}
	json_decref(v);
	json_decref(a);
}

static const char *const am_file =
	"route:\n"
	"  receiver: default\n"
	"  group_by: [alertname]\n"
	"  group_wait: 1s\n"
	"  routes:\n"
	"    - match: {team: db, severity: page}\n"
	"      receiver: db\n"
	"      group_by: [alertname, cluster]\n"
	"      continue: true\n"
	"    - match_re: {service: 'api|web'}\n"
	"      matchers: ['severity!=info']\n"
	"      receiver: web\n"
	"receivers:\n"
	"  - name: default\n"
	"    webhook_configs: [{url: 'http://127.0.0.1:@PORT@/default'}]\n"
	"  - name: db\n"
	"    webhook_configs: [{url: 'http://127.0.0.1:@PORT@/db'}]\n"
	"  - name: web\n"
	"    webhook_configs: [{url: 'http://127.0.0.1:@PORT@/web'}]\n"
	"inhibit_rules:\n"
	"  - source_match: {alertname: ClusterDown}\n"
	"    target_match_re: {severity: 'warn.*'}\n"
	"    equal: [cluster]\n";

static const char *const alerts_json =
	"["
	"{\"labels\":{\"alertname\":\"DiskFull\",\"team\":\"db\",\"severity\":\"page\",\"cluster\":\"c1\","
	"\"instance\":\"h2\",\"job\":\"node\"},\"annotations\":{\"summary\":\"s\"},"
	"\"startsAt\":\"2026-11-30T11:00:00Z\",\"endsAt\":\"2099-01-01T00:00:00Z\",\"generatorURL\":\"http://g/1\"},"
	"{\"labels\":{\"alertname\":\"DiskFull\",\"team\":\"db\",\"severity\":\"page\",\"cluster\":\"c1\","
	"\"instance\":\"h1\",\"job\":\"node\"},\"startsAt\":\"2026-11-30T11:00:01Z\",\"endsAt\":\"2099-01-01T00:00:00Z\"},"
	"{\"labels\":{\"alertname\":\"DiskFull\",\"team\":\"db\",\"severity\":\"page\",\"cluster\":\"c2\"},"
	"\"startsAt\":\"2026-11-30T11:00:02Z\",\"endsAt\":\"2099-01-01T00:00:00Z\"},"
	"{\"labels\":{\"alertname\":\"Slow\",\"service\":\"api\",\"severity\":\"warning\",\"cluster\":\"c1\"},"
	"\"startsAt\":\"2026-11-30T11:00:03Z\",\"endsAt\":\"2099-01-01T00:00:00Z\"},"
	"{\"labels\":{\"alertname\":\"Slow\",\"service\":\"web\",\"severity\":\"info\"},"
	"\"startsAt\":\"2026-11-30T11:00:04Z\",\"endsAt\":\"2099-01-01T00:00:00Z\"}"
	"]";

/* The inhibiting alert, posted before the rest (see the test). */
static const char *const cluster_down_json =
	"[{\"labels\":{\"alertname\":\"ClusterDown\",\"cluster\":\"c1\"},"
	"\"startsAt\":\"2026-11-30T11:00:05Z\",\"endsAt\":\"2099-01-01T00:00:00Z\"}]";

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* POSTs a JSON body (Alertmanager refuses another type); the status. */
static long post_json(uint16_t port, const char *path, const char *body)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char url[256];
	long status = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

static char *with_port(const char *text, unsigned port)
{
	struct vg_buf b = VG_BUF_INIT;

	for (const char *p = text; *p;) {
		const char *at = strstr(p, "@PORT@");
		if (!at) {
			vg_buf_puts(&b, p);
			break;
		}
		vg_buf_append(&b, p, (size_t)(at - p));
		vg_buf_printf(&b, "%u", port);
		p = at + 6;
	}
	return vg_buf_detach(&b, NULL);
}

/* The webhooks' groupKeys, sorted, joined by newlines. */
static char *group_keys(struct vg_t_sink *k)
{
	json_t *all = vg_t_sink_requests(k), *r;
	char *keys[32];
	size_t n = 0, i;
	struct vg_buf b = VG_BUF_INIT;

	json_array_foreach(all, i, r) {
		json_t *body = json_loads(json_string_value(json_object_get(r, "body")), 0, NULL);
		const char *gk = json_string_value(json_object_get(body, "groupKey"));
		if (gk && n < 32)
			keys[n++] = strdup(gk);
		json_decref(body);
	}
	for (size_t x = 0; x < n; x++)
		for (size_t y = x + 1; y < n; y++)
			if (strcmp(keys[y], keys[x]) < 0) {
				char *t = keys[x];
				keys[x] = keys[y];
				keys[y] = t;
			}
	for (size_t x = 0; x < n; x++) {
		vg_buf_printf(&b, "%s\n", keys[x]);
		free(keys[x]);
	}
	json_decref(all);
	return vg_buf_detach(&b, NULL);
}

START_TEST(test_groups_and_match_like_alertmanager)
{
	struct vg_t_sink kv, ka;
	struct vg_t_receiver rcv;
	struct vg_t_proc am;
	char vd[700], ad[700];
	long status;

	if (access("/usr/bin/prometheus-alertmanager", X_OK) != 0)
		ck_abort_msg("prometheus-alertmanager is not installed (VG_PACKAGES)");
	snprintf(vd, sizeof(vd), "%s/v", dir);
	snprintf(ad, sizeof(ad), "%s/a", dir);
	ck_assert_int_eq(mkdir(vd, 0700), 0);
	ck_assert_int_eq(mkdir(ad, 0700), 0);
	ck_assert_int_eq(vg_t_sink_start(&kv, vd, "200", NULL, NULL), 0);
	ck_assert_int_eq(vg_t_sink_start(&ka, ad, "200", NULL, NULL), 0);
	char *am_text = with_port(am_file, ka.port), *v_text = with_port(am_file, kv.port);
	char *v_cfg = under_alerting("", v_text);
	write_file(in_dir("am.yml"), am_text);
	int am_port = vg_t_alertmanager_start(&am, dir, in_dir("am.yml"));
	ck_assert_msg(am_port > 0, "prometheus-alertmanager did not start");
	ck_assert_int_eq(vg_t_receiver_start_config(&rcv, dir, v_cfg, 0), 0);
	/* ClusterDown first, and the rest once Alertmanager holds it and a
	 * moment more: its inhibitor (fed on a goroutine of its own) then has
	 * it long before the rest's group_wait ends, so Alertmanager does not
	 * page the inhibited target, as it may when the source arrives in the
	 * same POST. */
	ck_assert_int_eq(post_json(rcv.http_port, "/api/v2/alerts", cluster_down_json), 200);
	ck_assert_int_eq(post_json((uint16_t)am_port, "/api/v2/alerts", cluster_down_json), 200);
	for (int i = 0; i < 100; i++) {
		json_t *l = vg_t_http_json((uint16_t)am_port, "/api/v2/alerts", &status);
		size_t n = json_array_size(l);
		json_decref(l);
		if (n == 1)
			break;
		vg_t_sleep_ms(50);
	}
	vg_t_sleep_ms(200);
	ck_assert_int_eq(post_json(rcv.http_port, "/api/v2/alerts", alerts_json), 200);
	ck_assert_int_eq(post_json((uint16_t)am_port, "/api/v2/alerts", alerts_json), 200);
	/* Both have every group once Alertmanager's dispatcher took them. */
	for (int i = 0; i < 100; i++) {
		json_t *g = vg_t_http_json((uint16_t)am_port, "/api/v2/alerts/groups", &status);
		size_t n = json_array_size(g);
		json_decref(g);
		if (n == 5)
			break;
		vg_t_sleep_ms(50);
	}
	compare_groups(rcv.http_port, (uint16_t)am_port, "");
	compare_groups(rcv.http_port, (uint16_t)am_port, "?receiver=db");
	compare_groups(rcv.http_port, (uint16_t)am_port, "?receiver=d.*&filter=instance%3D%22h1%22");
	compare_groups(rcv.http_port, (uint16_t)am_port, "?inhibited=false");
	compare_groups(rcv.http_port, (uint16_t)am_port, "?active=false");
	/* Both notify after group_wait: the same group keys (route keys of
	 * match/match_re, sorted as Alertmanager sorts a route's matchers). */
	ck_assert_uint_ge(vg_t_sink_wait(&kv, 4, 10000), 4); /* the inhibited group sends nothing */
	ck_assert_uint_ge(vg_t_sink_wait(&ka, 4, 10000), 4);
	vg_t_sleep_ms(300);
	/* On a loaded machine one side's last group may come later. */
	vg_t_sink_wait(&kv, vg_t_sink_wait(&ka, 0, 0), 10000);
	char *gv = group_keys(&kv), *ga = group_keys(&ka);
	if (strcmp(gv, ga) != 0) {
		fprintf(stderr, "group keys differ:\nvigil:\n%s\nalertmanager:\n%s", gv, ga);
		ck_abort_msg("group keys differ from Alertmanager's (on stderr)");
	}
	ck_assert_msg(strstr(gv, "{}/{severity=\"page\",team=\"db\"}:{alertname=\"DiskFull\", cluster=\"c1\"}"), "%s", gv);
	free(gv);
	free(ga);
	vg_t_stop(&rcv.proc, SIGTERM, 5000);
	vg_t_stop(&am, SIGTERM, 5000);
	vg_t_stop(&kv.proc, SIGTERM, 5000);
	vg_t_stop(&ka.proc, SIGTERM, 5000);
	free(am_text);
	free(v_text);
	free(v_cfg);
}
END_TEST

START_TEST(test_match_errors)
{
	expect_error("t.yaml:7: alerting.route.routes[0].match_re: a: error parsing regexp: missing closing )",
		     "  route:\n    receiver: r\n    routes:\n      - receiver: r\n        match_re:\n          a: '(x'\n"
		     "  receivers:\n    - name: r\n");
	expect_error("the root route matches every alert", "  route:\n    receiver: r\n    match: {a: b}\n  receivers:\n    - name: r\n");
	expect_error("t.yaml:7: alerting.inhibit_rules[0].source_match: invalid label name",
		     ROUTE "  inhibit_rules:\n    - source_match: {'a-b': x}\n");
}
END_TEST

/* --- files that must load: the man page's examples, an alertmanager.yml ------- */

/* The real receiver checking the file holding text; its stderr on
 * failure in the message. */
static void check_config_ok(const char *name, const char *text)
{
	char *out = NULL, *err = NULL, arg[800];

	write_file(in_dir(name), text);
	snprintf(arg, sizeof(arg), "--config=%s", in_dir(name));
	char *argv[] = { (char *)vg_t_bin("vigil-receiver"), arg, "--check-config", NULL };
	int rc = vg_t_run(argv, &out, &err, 10000);
	ck_assert_msg(rc == 0, "%s refused:\n%s\n%s", name, err, text);
	free(out);
	free(err);
}

/* roff text of an .EX block to the YAML it shows. */
static void unroff(struct vg_buf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\\') {
			vg_buf_putc(b, s[i]);
			continue;
		}
		if (s[i + 1] == '-' || s[i + 1] == 'e' || s[i + 1] == '\\') {
			vg_buf_putc(b, s[i + 1] == 'e' ? '\\' : s[i + 1]);
			i++;
		} else if (strncmp(s + i + 1, "(aq", 3) == 0) {
			vg_buf_putc(b, '\'');
			i += 3;
		} else if (strncmp(s + i + 1, "(dq", 3) == 0) {
			vg_buf_putc(b, '"');
			i += 3;
		} else if (strncmp(s + i + 1, "(em", 3) == 0) {
			vg_buf_puts(b, "--");
			i += 3;
		} else {
			vg_buf_putc(b, s[i]);
		}
	}
}

/* Creates every file an example names under dir ("/etc/vigil/x" become
 * dir/etc-vigil/x): secrets hold a token, a URL file a URL. */
static char *localize(const char *yaml)
{
	struct vg_buf b = VG_BUF_INIT;
	char base[700];

	snprintf(base, sizeof(base), "%s/etc-vigil/", dir);
	mkdir(in_dir("etc-vigil"), 0700);
	for (const char *p = yaml; *p;) {
		const char *at = strstr(p, "/etc/vigil/");
		if (!at) {
			vg_buf_puts(&b, p);
			break;
		}
		vg_buf_append(&b, p, (size_t)(at - p));
		vg_buf_puts(&b, base);
		at += strlen("/etc/vigil/");
		size_t n = strcspn(at, " \n,}'\"");
		char path[900];
		snprintf(path, sizeof(path), "%s%.*s", base, (int)n, at);
		write_file(path, strstr(path, "url") ? "https://hooks.example.org/T0KEN\n" : "example-secret-0123\n");
		vg_buf_append(&b, at, n);
		p = at + n;
	}
	return vg_buf_detach(&b, NULL);
}

START_TEST(test_man_page_examples_load)
{
	FILE *f = fopen(VG_SRCDIR "/man/vigil-receiver.yaml.5", "r");
	struct vg_buf page = VG_BUF_INIT;
	char line[4096];
	size_t n_examples = 0;
	const char *kinds[] = { "webhook_configs", "email_configs", "pagerduty_configs", "preset: twilio", "kind: voice",
				"sms_configs:\n        - url:", "alertmanager_configs", "http_config", "url_file",
				"match:", "match_re:", "source_match" };
	bool seen[sizeof(kinds) / sizeof(kinds[0])] = { false };

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		vg_buf_puts(&page, line);
	fclose(f);
	for (const char *p = vg_buf_cstr(&page); (p = strstr(p, "\n.EX\n")) != NULL;) {
		const char *start = p + 5, *end = strstr(start, "\n.EE\n");
		ck_assert_ptr_nonnull(end);
		p = end;
		if (strncmp(start, "alerting:", 9) != 0)
			continue;
		struct vg_buf y = VG_BUF_INIT;
		unroff(&y, start, (size_t)(end - start) + 1);
		char *local = localize(vg_buf_cstr(&y));
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			seen[k] = seen[k] || strstr(local, kinds[k]) != NULL;
		/* Complete: each names its route, so it works as it stands. */
		ck_assert_msg(strstr(local, "\n  route:\n") != NULL, "an example has no route:\n%s", local);
		struct vg_buf cfg = VG_BUF_INIT;
		vg_buf_printf(&cfg, "data_dir: %s/data\n%s", dir, local);
		char name[32];
		snprintf(name, sizeof(name), "example-%zu.yaml", n_examples++);
		check_config_ok(name, vg_buf_cstr(&cfg));
		vg_buf_release(&cfg);
		vg_buf_release(&y);
		free(local);
	}
	ck_assert_uint_ge(n_examples, 7);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		ck_assert_msg(seen[k], "no example of the man page shows %s", kinds[k]);
	vg_buf_release(&page);
}
END_TEST

/* tests/data/alertmanager.yml: an Alertmanager file of the usual kind
 * (match, match_re, matchers, http_config, url_file, inhibit
 * source_match, time_intervals), its secret files under @DIR@. amtool
 * check-config takes it, and so does the receiver with it under
 * alerting:, unchanged. */
START_TEST(test_alertmanager_file_loads_unchanged)
{
	FILE *f = fopen(VG_SRCDIR "/tests/data/alertmanager.yml", "r");
	struct vg_buf text = VG_BUF_INIT, sub = VG_BUF_INIT;
	char line[1024], *out = NULL, *err = NULL, arg[800];

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		vg_buf_puts(&text, line);
	fclose(f);
	for (const char *p = vg_buf_cstr(&text); *p;) {
		const char *at = strstr(p, "@DIR@");
		if (!at) {
			vg_buf_puts(&sub, p);
			break;
		}
		vg_buf_append(&sub, p, (size_t)(at - p));
		vg_buf_puts(&sub, dir);
		p = at + 5;
	}
	write_file(in_dir("slack.url"), "https://hooks.example.org/services/T0/B0/X0\n");
	write_file(in_dir("pd.key"), "0123456789abcdef0123456789abcdef\n");
	write_file(in_dir("hook.password"), "hook-pw\n");
	write_file(in_dir("am.token"), "am-token\n");
	write_file(in_dir("smtp.password"), "smtp-pw\n");
	write_file(in_dir("alertmanager.yml"), vg_buf_cstr(&sub));
	if (access("/usr/bin/amtool", X_OK) == 0) {
		/* Debian's amtool is 0.25, which predates url_file (0.26): it
		 * checks the file with the URL inline. */
		const char *all = vg_buf_cstr(&sub), *uf = strstr(all, "- url_file: ");
		ck_assert_ptr_nonnull(uf);
		struct vg_buf old = VG_BUF_INIT;
		vg_buf_append(&old, all, (size_t)(uf - all));
		vg_buf_puts(&old, "- url: 'http://hooks.example.org/db'");
		vg_buf_puts(&old, strchr(uf, '\n'));
		write_file(in_dir("alertmanager-0.25.yml"), vg_buf_cstr(&old));
		vg_buf_release(&old);
		snprintf(arg, sizeof(arg), "%s", in_dir("alertmanager-0.25.yml"));
		char *argv[] = { "/usr/bin/amtool", "check-config", arg, NULL };
		int rc = vg_t_run(argv, &out, &err, 10000);
		ck_assert_msg(rc == 0, "amtool check-config refused it: %s%s", out, err);
		free(out);
		free(err);
	}
	char *cfg = under_alerting("data_dir: /nonexistent/vigil-data\n", vg_buf_cstr(&sub));
	check_config_ok("receiver.yaml", cfg);
	free(cfg);
	vg_buf_release(&text);
	vg_buf_release(&sub);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("amcompat");
	TCase *http = tcase_create("http_config"), *retry = tcase_create("retry_after"),
	      *am = tcase_create("alertmanager"), *files = tcase_create("files");
	SRunner *sr;
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_add_checked_fixture(http, setup, teardown);
	tcase_set_timeout(http, 60);
	tcase_add_test(http, test_http_config_auth);
	tcase_add_test(http, test_http_config_tls);
	tcase_add_test(http, test_http_config_proxy_and_redirects);
	tcase_add_test(http, test_http_config_errors_name_the_line);
	tcase_add_test(http, test_http_config_global_default);
	tcase_add_test(http, test_url_file);
	tcase_add_test(http, test_global_channel_defaults);
	tcase_add_checked_fixture(retry, setup, teardown);
	tcase_set_timeout(retry, 60);
	tcase_add_test(retry, test_retry_after_forms);
	tcase_add_test(retry, test_retry_after_every_channel);
	tcase_add_test(retry, test_retry_after_date_on_driven_clock);
	tcase_add_checked_fixture(am, setup, teardown);
	tcase_set_timeout(am, 60);
	tcase_add_test(am, test_groups_and_match_like_alertmanager);
	tcase_add_test(am, test_match_errors);
	tcase_add_checked_fixture(files, setup, teardown);
	tcase_set_timeout(files, 60);
	tcase_add_test(files, test_man_page_examples_load);
	tcase_add_test(files, test_alertmanager_file_loads_unchanged);
	suite_add_tcase(s, http);
	suite_add_tcase(s, retry);
	suite_add_tcase(s, am);
	suite_add_tcase(s, files);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
