/*
 * channel_pagerduty.c: PagerDuty Events API v2 (channel_pagerduty.h).
 *
 * One request per event, POSTed as JSON to the events URL:
 *   trigger: {"routing_key","event_action":"trigger","dedup_key",
 *             "payload":{"summary" (<= 1024 characters),"source","severity",
 *             "timestamp","component","group","class","custom_details"},
 *             "client","client_url","links"}
 *   resolve: {"routing_key","event_action":"resolve","dedup_key"}
 * A send stops at the first event that did not succeed and reports it;
 * the notifier's retry sends every event again, which PagerDuty's dedup
 * makes harmless (a trigger for an open key updates it, a resolve for a
 * resolved key is dropped).
 *
 * The routing key is a secret: it appears only in request bodies, never
 * in a detail string (vg_channel_detail scrubs it from replies too).
 */
#include "receiver/alert/channel_pagerduty.h"
#include "receiver/alert/channel_common.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/json.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/banned.h"

#define DEFAULT_TIMEOUT_MS 10000
/* Events are at most 512 KB; group events stop listing alerts here. */
#define GROUP_DETAILS_MAX (400 * 1024)

static const char *const severities[] = { "critical", "error", "warning", "info", NULL };

static bool is_severity(const char *s)
{
	for (size_t i = 0; severities[i]; i++)
		if (strcmp(s, severities[i]) == 0)
			return true;
	return false;
}

static int check_severity(const void *member, struct vg_err *err)
{
	const char *s = *(const char *const *)member;

	return is_severity(s) ? 0 : vg_err_set(err, VG_EINVAL, "must be critical, error, warning or info");
}

static int check_dedup_key_per(const void *member, struct vg_err *err)
{
	const char *s = *(const char *const *)member;

	if (strcmp(s, "alert") == 0 || strcmp(s, "group") == 0)
		return 0;
	return vg_err_set(err, VG_EINVAL, "must be alert or group");
}

#define P(key, type, member) key, type, offsetof(struct vg_pagerduty_config, member), NULL

const struct vg_conf_field vg_pagerduty_fields[] = {
	VG_CHANNEL_ITEM_FIELDS(struct vg_pagerduty_config),
	{ P("routing_key", VG_CONF_STR, routing_key), 0, 0, NULL },
	{ P("routing_key_file", VG_CONF_STR, routing_key_file), 0, 0, vg_conf_check_path },
	{ P("url", VG_CONF_STR, url), 0, 0, vg_channel_check_http_url },
	{ P("client", VG_CONF_STR, client), 0, 0, NULL },
	{ P("client_url", VG_CONF_STR, client_url), 0, 0, NULL },
	{ P("severity", VG_CONF_STR, severity), 0, 0, check_severity },
	{ P("severity_label", VG_CONF_STR, severity_label), 0, 0, vg_conf_check_path },
	{ P("source", VG_CONF_STR, source), 0, 0, NULL },
	{ P("component", VG_CONF_STR, component), 0, 0, NULL },
	{ P("group", VG_CONF_STR, group), 0, 0, NULL },
	{ P("class", VG_CONF_STR, class), 0, 0, NULL },
	{ P("dedup_key_per", VG_CONF_STR, dedup_key_per), 0, 0, check_dedup_key_per },
	VG_HTTP_CONFIG_FIELD(struct vg_pagerduty_config, http),
	{ P("service_key", VG_CONF_STR, service_key), 0, 0, NULL },
	{ P("service_key_file", VG_CONF_STR, service_key_file), 0, 0, vg_conf_check_path },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

#undef P

static int set_default(char **member, const char *value, struct vg_err *err)
{
	if (*member)
		return 0;
	if (vg_conf_set_str(member, value) < 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	return 0;
}

static int pd_prepare(void *item, struct vg_err *err)
{
	struct vg_pagerduty_config *c = item;
	int r;

	if (c->service_key || c->service_key_file)
		return vg_err_set(err, VG_EINVAL,
				  "service_key%s: Events API v1 keys are not sent; give the service's Events API v2 "
				  "integration key as routing_key or routing_key_file",
				  c->service_key_file ? "_file" : "");
	r = vg_channel_check_secret(c->routing_key, c->routing_key_file, "routing_key", true, err);
	if (r < 0)
		return r;
	if ((r = vg_http_config_check(&c->http, err)) < 0)
		return r;
	if (c->routing_key && strlen(c->routing_key) > 255)
		return vg_err_set(err, VG_EINVAL, "routing_key is longer than 255 characters");
	if (!c->item.has_send_resolved)
		c->item.send_resolved = true;
	if (c->item.timeout_ms == 0)
		c->item.timeout_ms = DEFAULT_TIMEOUT_MS;
	if ((r = set_default(&c->url, VG_PAGERDUTY_URL, err)) < 0 ||
	    (r = set_default(&c->client, "Vigil", err)) < 0 ||
	    (r = set_default(&c->severity, "error", err)) < 0 ||
	    (r = set_default(&c->dedup_key_per, "alert", err)) < 0)
		return r;
	c->is_per_group = strcmp(c->dedup_key_per, "group") == 0;
	return 0;
}

static void pd_release(void *item)
{
	(void)item; /* prepare allocates only members the loader frees */
}

void vg_pagerduty_group_dedup_key(const char *group_key, char out[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(group_key, strlen(group_key), md, &n, EVP_sha256(), NULL) || n != 32) {
		memset(out, '0', 64);
		out[64] = '\0';
		return;
	}
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = '\0';
}

static void json_key_str(struct vg_buf *b, const char *key, const char *value)
{
	vg_buf_printf(b, ",\"%s\":", key);
	vg_json_cstr(b, value);
}

static void json_opt(struct vg_buf *b, const char *key, const char *value)
{
	if (value && value[0])
		json_key_str(b, key, value);
}

static void event_head(struct vg_buf *b, const char *routing_key, const char *action, const char *dedup_key)
{
	vg_buf_puts(b, "{\"routing_key\":");
	vg_json_cstr(b, routing_key);
	json_key_str(b, "event_action", action);
	json_key_str(b, "dedup_key", dedup_key);
}

static const char *severity_of(const struct vg_pagerduty_config *c, const struct vg_conf_labels *labels)
{
	const char *v = c->severity_label ? vg_channel_label(labels, c->severity_label) : NULL;

	return v && is_severity(v) ? v : c->severity;
}

static const char *source_of(const struct vg_pagerduty_config *c, const struct vg_notification *n,
			     const struct vg_conf_labels *labels)
{
	const char *v;

	if (c->source)
		return c->source;
	if ((v = vg_channel_label(labels, "instance")) != NULL && v[0])
		return v;
	if ((v = vg_channel_label(labels, "job")) != NULL && v[0])
		return v;
	return n->receiver && n->receiver[0] ? n->receiver : "vigil";
}

/* The payload's closing part shared by both kinds of trigger. */
static void event_tail(struct vg_buf *b, const struct vg_pagerduty_config *c, const struct vg_notification *n,
		       const char *generator_url)
{
	const char *client_url = c->client_url ? c->client_url : n->external_url;

	json_opt(b, "client", c->client);
	json_opt(b, "client_url", client_url);
	if (generator_url && generator_url[0]) {
		vg_buf_puts(b, ",\"links\":[{\"href\":");
		vg_json_cstr(b, generator_url);
		vg_buf_puts(b, ",\"text\":\"Source\"}]");
	}
	vg_buf_putc(b, '}');
}

static void payload_common(struct vg_buf *b, const struct vg_pagerduty_config *c, const char *summary,
			   const char *source, const char *severity, int64_t ts_ms)
{
	char ts[40];

	vg_buf_puts(b, ",\"payload\":{\"summary\":");
	vg_json_cstr(b, summary);
	json_key_str(b, "source", source);
	json_key_str(b, "severity", severity);
	if (ts_ms > 0) {
		vg_time_format_rfc3339(ts_ms, ts, sizeof(ts));
		json_key_str(b, "timestamp", ts);
	}
	json_opt(b, "component", c->component);
	json_opt(b, "group", c->group);
	json_opt(b, "class", c->class);
}

/* One alert's event. */
static void alert_event(struct vg_buf *b, const struct vg_pagerduty_config *c, const struct vg_notification *n,
			const struct vg_notify_alert *a, const char *routing_key)
{
	struct vg_buf summary = VG_BUF_INIT;
	char fp[17];

	vg_alert_fingerprint_hex(vg_alert_fingerprint(&a->labels), fp);
	event_head(b, routing_key, a->is_firing ? "trigger" : "resolve", fp);
	if (!a->is_firing) {
		vg_buf_putc(b, '}');
		return;
	}
	const char *name = vg_channel_label(&a->labels, "alertname");
	vg_buf_printf(&summary, "[FIRING] %s: ", name ? name : "alert");
	vg_channel_alert_summary(&summary, a);
	vg_channel_truncate_utf8(&summary, VG_PAGERDUTY_SUMMARY_MAX);
	payload_common(b, c, vg_buf_cstr(&summary), source_of(c, n, &a->labels), severity_of(c, &a->labels),
		       a->starts_at_ms);
	vg_buf_puts(b, ",\"custom_details\":{\"labels\":");
	vg_alert_json_labels(b, &a->labels);
	vg_buf_puts(b, ",\"annotations\":");
	vg_alert_json_labels(b, &a->annotations);
	json_opt(b, "receiver", n->receiver);
	json_opt(b, "group_key", n->group_key);
	vg_buf_puts(b, "}}");
	event_tail(b, c, n, a->generator_url);
	vg_buf_release(&summary);
}

static void alert_list(struct vg_buf *b, const struct vg_notification *n, bool is_firing, size_t *left_out)
{
	bool is_first = true;

	vg_buf_putc(b, '[');
	for (size_t i = 0; i < n->n_alerts; i++) {
		const struct vg_notify_alert *a = &n->alerts[i];
		if (a->is_firing != is_firing)
			continue;
		if (b->len > GROUP_DETAILS_MAX) {
			(*left_out)++;
			continue;
		}
		vg_buf_puts(b, is_first ? "{\"labels\":" : ",{\"labels\":");
		vg_alert_json_labels(b, &a->labels);
		vg_buf_puts(b, ",\"annotations\":");
		vg_alert_json_labels(b, &a->annotations);
		vg_buf_putc(b, '}');
		is_first = false;
	}
	vg_buf_putc(b, ']');
}

/* The group's one event (dedup_key_per: group). */
static void group_event(struct vg_buf *b, const struct vg_pagerduty_config *c, const struct vg_notification *n,
			const char *routing_key)
{
	struct vg_buf summary = VG_BUF_INIT;
	const struct vg_conf_labels *labels = &n->common_labels;
	size_t firing = vg_channel_n_firing(n), left_out = 0;
	const char *gen = NULL;
	int64_t ts = 0;
	char key[65];

	vg_pagerduty_group_dedup_key(n->group_key ? n->group_key : "", key);
	event_head(b, routing_key, n->is_firing ? "trigger" : "resolve", key);
	if (!n->is_firing) {
		vg_buf_putc(b, '}');
		return;
	}
	for (size_t i = 0; i < n->n_alerts; i++)
		if (n->alerts[i].is_firing && (ts == 0 || n->alerts[i].starts_at_ms < ts)) {
			ts = n->alerts[i].starts_at_ms;
			gen = n->alerts[i].generator_url;
		}
	vg_channel_title(&summary, n);
	vg_channel_truncate_utf8(&summary, VG_PAGERDUTY_SUMMARY_MAX);
	payload_common(b, c, vg_buf_cstr(&summary), source_of(c, n, labels), severity_of(c, labels), ts);
	vg_buf_printf(b, ",\"custom_details\":{\"num_firing\":%zu,\"num_resolved\":%zu", firing,
		      n->n_alerts - firing);
	vg_buf_puts(b, ",\"firing\":");
	alert_list(b, n, true, &left_out);
	vg_buf_puts(b, ",\"resolved\":");
	alert_list(b, n, false, &left_out);
	vg_buf_printf(b, ",\"truncated_alerts\":%llu", (unsigned long long)(n->truncated_alerts + left_out));
	json_opt(b, "receiver", n->receiver);
	json_opt(b, "group_key", n->group_key);
	vg_buf_puts(b, "}}");
	event_tail(b, c, n, gen);
	vg_buf_release(&summary);
}

static int post_event(const struct vg_pagerduty_config *c, const struct vg_buf *body, const char *routing_key,
		      int64_t now_ms, struct vg_channel_result *res, struct vg_err *err)
{
	const char *secrets[] = { routing_key };
	struct vg_channel_http rq = {
		.method = "POST",
		.url = c->url,
		.content_type = "application/json",
		.body = (const char *)body->data,
		.body_len = body->len,
		.timeout_ms = c->item.timeout_ms,
		.secrets = secrets,
		.n_secrets = 1,
		.http = &c->http,
		.now_ms = now_ms,
	};
	long status;

	return vg_channel_http_do(&rq, res, &status, NULL, err);
}

static int pd_send(const void *item, const struct vg_notification *n, struct vg_channel_result *res,
		   struct vg_err *err)
{
	const struct vg_pagerduty_config *c = item;
	struct vg_buf body = VG_BUF_INIT;
	const char *routing_key;
	char *key_copy = NULL;
	size_t sent = 0;
	struct vg_err sub;
	int r;

	memset(res, 0, sizeof(*res));
	vg_err_clear(&sub);
	if (vg_channel_secret(c->routing_key, c->routing_key_file, &routing_key, &key_copy, &sub) < 0) {
		/* The file may come back (a rotation): retry. */
		res->outcome = VG_CHANNEL_RETRY;
		vg_channel_detail(res, NULL, 0, "routing_key_file: %s", sub.msg);
		return 0;
	}
	if (c->is_per_group || n->n_alerts == 0) {
		group_event(&body, c, n, routing_key);
		if (vg_buf_failed(&body)) {
			r = vg_err_set(err, VG_ENOMEM, "out of memory");
			goto out;
		}
		r = post_event(c, &body, routing_key, n->now_ms, res, err);
		sent = r == 0 && res->outcome == VG_CHANNEL_OK;
		goto done;
	}
	for (size_t i = 0; i < n->n_alerts; i++) {
		vg_buf_reset(&body);
		alert_event(&body, c, n, &n->alerts[i], routing_key);
		if (vg_buf_failed(&body)) {
			r = vg_err_set(err, VG_ENOMEM, "out of memory");
			goto out;
		}
		r = post_event(c, &body, routing_key, n->now_ms, res, err);
		if (r < 0 || res->outcome != VG_CHANNEL_OK)
			goto done;
		sent++;
	}
done:
	if (r == 0) {
		char first[sizeof(res->detail)];
		memcpy(first, res->detail, sizeof(first));
		vg_channel_detail(res, NULL, 0, "%zu of %zu events accepted; %s", sent,
				  c->is_per_group || n->n_alerts == 0 ? (size_t)1 : n->n_alerts, first);
	}
out:
	vg_channel_secret_free(key_copy);
	vg_buf_release(&body);
	return r;
}

const struct vg_channel_ops vg_channel_pagerduty = {
	.key = "pagerduty_configs",
	.name = "pagerduty",
	.prepare = pd_prepare,
	.send = pd_send,
	.release = pd_release,
};
