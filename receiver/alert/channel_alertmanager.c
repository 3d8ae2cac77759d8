/*
 * channel_alertmanager.c: POST /api/v2/alerts (channel_alertmanager.h).
 *
 * Body: a JSON array, one object per alert of the notification:
 *   {"labels":{...},"annotations":{...},"startsAt":"<RFC 3339>",
 *    "endsAt":"<RFC 3339>" (resolved alerts only),"generatorURL":"..."}
 * Alertmanager answers 200 with an empty body; 400 names a bad alert.
 *
 * With several URLs the notification counts as delivered when one of them
 * took it, as Prometheus counts it: Alertmanagers of one cluster share
 * what they receive. Only when none did is the first retryable outcome
 * (else the first final one) reported, and a retry posts to all again,
 * which Alertmanager merges into the alerts it already holds.
 */
#include "receiver/alert/channel_alertmanager.h"
#include "receiver/alert/channel_common.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/json.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_API_PATH "/api/v2/alerts"

static int check_urls(const void *member, struct vg_err *err)
{
	const struct vg_conf_strlist *l = member;

	if (l->n == 0)
		return vg_err_set(err, VG_EINVAL, "at least one URL is required");
	for (size_t i = 0; i < l->n; i++)
		if (vg_channel_check_http_url(&l->v[i], err) != 0) {
			vg_err_prefix(err, "[%zu]", i);
			return VG_EINVAL;
		}
	return 0;
}

static int check_api_path(const void *member, struct vg_err *err)
{
	const char *s = *(const char *const *)member;

	if (s[0] != '/')
		return vg_err_set(err, VG_EINVAL, "must start with /");
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '?' || *s == '#')
			return vg_err_set(err, VG_EINVAL, "must be a plain path");
	return 0;
}

#define A(key, type, member) key, type, offsetof(struct vg_alertmanager_config, member), NULL

static const struct vg_conf_field basic_auth_fields[] = {
	{ A("username", VG_CONF_STR, username), 0, 0, vg_conf_check_path },
	{ A("password", VG_CONF_STR, password), 0, 0, NULL },
	{ A("password_file", VG_CONF_STR, password_file), 0, 0, vg_conf_check_path },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct vg_conf_field authorization_fields[] = {
	{ A("type", VG_CONF_STR, auth_type), 0, 0, vg_http_config_check_auth_type },
	{ A("credentials", VG_CONF_STR, credentials), 0, 0, NULL },
	{ A("credentials_file", VG_CONF_STR, credentials_file), 0, 0, vg_conf_check_path },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

const struct vg_conf_field vg_alertmanager_fields[] = {
	VG_CHANNEL_ITEM_FIELDS(struct vg_alertmanager_config),
	{ A("urls", VG_CONF_STRLIST, urls), 0, 0, check_urls },
	{ A("api_path", VG_CONF_STR, api_path), 0, 0, check_api_path },
	{ "basic_auth", VG_CONF_SECTION, 0, basic_auth_fields, 0, 0, NULL },
	{ "authorization", VG_CONF_SECTION, 0, authorization_fields, 0, 0, NULL },
	VG_HTTP_CONFIG_FIELD(struct vg_alertmanager_config, http),
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

#undef A

static int am_prepare(void *item, struct vg_err *err)
{
	struct vg_alertmanager_config *c = item;

	if (c->urls.n == 0)
		return vg_err_set(err, VG_EINVAL, "urls: at least one URL is required");
	bool has_basic = c->username || c->password || c->password_file;
	bool has_bearer = c->auth_type || c->credentials || c->credentials_file;
	int r;
	if (has_basic && has_bearer)
		return vg_err_set(err, VG_EINVAL, "give basic_auth or authorization, not both");
	if ((r = vg_http_config_check(&c->http, err)) < 0)
		return r;
	if ((has_basic || has_bearer) && vg_http_config_has_auth(&c->http))
		return vg_err_set(err, VG_EINVAL, "authentication in http_config or beside it, not both (global:'s "
				  "http_config counts when the item has none)");
	if (has_basic && !c->username)
		return vg_err_set(err, VG_EINVAL, "basic_auth: username is required");
	if (has_basic && (r = vg_channel_check_secret(c->password, c->password_file, "password", true, err)) < 0) {
		vg_err_prefix(err, "basic_auth");
		return r;
	}
	if (has_bearer &&
	    (r = vg_channel_check_secret(c->credentials, c->credentials_file, "credentials", true, err)) < 0) {
		vg_err_prefix(err, "authorization");
		return r;
	}
	if (has_bearer && !c->auth_type && vg_conf_set_str(&c->auth_type, "Bearer") < 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	if (!c->item.has_send_resolved)
		c->item.send_resolved = true;
	if (c->item.timeout_ms == 0)
		c->item.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (!c->api_path && vg_conf_set_str(&c->api_path, DEFAULT_API_PATH) < 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	return 0;
}

static void am_release(void *item)
{
	(void)item;
}

static void alerts_json(struct vg_buf *b, const struct vg_notification *n)
{
	char ts[40];

	vg_buf_putc(b, '[');
	for (size_t i = 0; i < n->n_alerts; i++) {
		const struct vg_notify_alert *a = &n->alerts[i];
		vg_buf_puts(b, i ? ",{\"labels\":" : "{\"labels\":");
		vg_alert_json_labels(b, &a->labels);
		vg_buf_puts(b, ",\"annotations\":");
		vg_alert_json_labels(b, &a->annotations);
		if (a->starts_at_ms > 0) {
			vg_time_format_rfc3339(a->starts_at_ms, ts, sizeof(ts));
			vg_buf_printf(b, ",\"startsAt\":\"%s\"", ts);
		}
		if (!a->is_firing && a->ends_at_ms > 0) {
			vg_time_format_rfc3339(a->ends_at_ms, ts, sizeof(ts));
			vg_buf_printf(b, ",\"endsAt\":\"%s\"", ts);
		}
		if (a->generator_url && a->generator_url[0]) {
			vg_buf_puts(b, ",\"generatorURL\":");
			vg_json_cstr(b, a->generator_url);
		}
		vg_buf_putc(b, '}');
	}
	vg_buf_putc(b, ']');
}

static int am_send(const void *item, const struct vg_notification *n, struct vg_channel_result *res,
		   struct vg_err *err)
{
	const struct vg_alertmanager_config *c = item;
	struct vg_buf body = VG_BUF_INIT, url = VG_BUF_INIT, failures = VG_BUF_INIT, auth = VG_BUF_INIT;
	const char *secret = NULL, *auth_line = NULL;
	char *secret_copy = NULL;
	struct vg_err sub;
	struct vg_channel_result one, worst;
	size_t ok = 0;
	long status;
	int r = 0;

	memset(res, 0, sizeof(*res));
	memset(&worst, 0, sizeof(worst));
	worst.outcome = VG_CHANNEL_OK;
	vg_err_clear(&sub);
	if (vg_channel_secret(c->password, c->password_file, &secret, &secret_copy, &sub) < 0 ||
	    (!secret && vg_channel_secret(c->credentials, c->credentials_file, &secret, &secret_copy, &sub) < 0)) {
		res->outcome = VG_CHANNEL_RETRY;
		vg_channel_detail(res, NULL, 0, "%s", sub.msg);
		return 0;
	}
	if (c->auth_type) {
		vg_buf_printf(&auth, "Authorization: %s %s", c->auth_type, secret);
		if (vg_buf_failed(&auth)) {
			r = vg_err_set(err, VG_ENOMEM, "out of memory");
			goto out;
		}
		auth_line = vg_buf_cstr(&auth);
	}
	alerts_json(&body, n);
	if (vg_buf_failed(&body)) {
		r = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < c->urls.n; i++) {
		const char *base = c->urls.v[i];
		size_t len = strlen(base);
		while (len > 0 && base[len - 1] == '/')
			len--;
		vg_buf_reset(&url);
		vg_buf_append(&url, base, len);
		vg_buf_puts(&url, c->api_path);
		if (vg_buf_failed(&url)) {
			r = vg_err_set(err, VG_ENOMEM, "out of memory");
			goto out;
		}
		struct vg_channel_http rq = {
			.method = "POST",
			.url = vg_buf_cstr(&url),
			.content_type = "application/json",
			.body = (const char *)body.data,
			.body_len = body.len,
			.timeout_ms = c->item.timeout_ms,
			.headers = &auth_line,
			.n_headers = auth_line ? 1 : 0,
			.username = c->auth_type ? NULL : c->username,
			.password = secret,
			.secrets = &secret,
			.n_secrets = secret ? 1 : 0,
			.http = &c->http,
			.now_ms = n->now_ms,
		};
		r = vg_channel_http_do(&rq, &one, &status, NULL, err);
		if (r < 0)
			goto out;
		if (one.outcome == VG_CHANNEL_OK) {
			ok++;
			continue;
		}
		/* Keep the first retryable failure, else the first final one;
		 * the detail lists every failure. */
		if (worst.outcome == VG_CHANNEL_OK ||
		    (worst.outcome == VG_CHANNEL_FAIL && one.outcome == VG_CHANNEL_RETRY)) {
			worst.outcome = one.outcome;
			worst.retry_after_ms = one.retry_after_ms;
		}
		vg_buf_printf(&failures, "%sAlertmanager %zu: %s", failures.len ? "; " : "", i + 1, one.detail);
	}
	if (ok > 0) {
		res->outcome = VG_CHANNEL_OK;
		if (worst.outcome == VG_CHANNEL_OK)
			vg_channel_detail(res, NULL, 0, "%zu alerts to %zu Alertmanagers", n->n_alerts, ok);
		else
			vg_channel_detail(res, NULL, 0, "%zu of %zu Alertmanagers took it; %s", ok, c->urls.n,
					  vg_buf_cstr(&failures));
	} else {
		res->outcome = worst.outcome;
		res->retry_after_ms = worst.retry_after_ms;
		vg_channel_detail(res, NULL, 0, "%s", vg_buf_cstr(&failures));
	}
out:
	vg_buf_release(&body);
	vg_buf_release(&url);
	vg_buf_release(&failures);
	if (auth.data)
		explicit_bzero(auth.data, auth.cap);
	vg_buf_release(&auth);
	vg_channel_secret_free(secret_copy);
	return r;
}

const struct vg_channel_ops vg_channel_alertmanager = {
	.key = "alertmanager_configs",
	.name = "alertmanager",
	.prepare = am_prepare,
	.send = am_send,
	.release = am_release,
};
