/*
 * channel_webhook.c: the webhook channel (channel_webhook.h). One POST per
 * notification through vg_channel_http_do (channel_common.h) on the
 * delivery thread, with the item's http_config: 2xx is delivered; 5xx,
 * 408, 429 and transport errors are retried (Retry-After passed up);
 * other answers are final. url_file is read at load and at every send.
 */
#include "config.h"

#include "receiver/alert/channel_webhook.h"

#include "common/buf.h"
#include "common/err.h"
#include "receiver/alert/channel_common.h"
#include "receiver/alert/payload.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define DEFAULT_TIMEOUT_MS 10000

/* The field's check: records that send_resolved was given, so prepare
 * leaves it alone (Alertmanager's default is true, a zeroed item false). */
static int mark_send_resolved(const void *member, struct vg_err *err)
{
	struct vg_webhook_config *w =
		(struct vg_webhook_config *)((char *)(uintptr_t)member - offsetof(struct vg_webhook_config, send_resolved));

	(void)err;
	w->has_send_resolved = true;
	return 0;
}

static int check_url(const void *member, struct vg_err *err)
{
	const char *s = *(char *const *)member;

	if (s == NULL || (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0))
		return vg_err_set(err, VG_EINVAL, "a webhook URL starts with http:// or https://");
	return 0;
}

#define W(key, type, member) key, type, offsetof(struct vg_webhook_config, member), NULL

const struct vg_conf_field vg_webhook_fields[] = {
	{ W("url", VG_CONF_STR, url), 0, 0, check_url },
	{ W("send_resolved", VG_CONF_BOOL, send_resolved), 0, 0, mark_send_resolved },
	{ W("max_alerts", VG_CONF_UINT, max_alerts), 0, 1000000, NULL },
	{ W("timeout", VG_CONF_DURATION, timeout_ms), 1, 3600 * 1000, NULL },
	{ W("url_file", VG_CONF_STR, url_file), 0, 0, vg_conf_check_path },
	VG_HTTP_CONFIG_FIELD(struct vg_webhook_config, http),
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

/* The URL of url_file: the file's content, which must be a webhook URL;
 * the message never shows it (it may hold a token). */
static int read_url_file(const char *path, char **out, struct vg_err *err)
{
	int r = vg_channel_read_secret(path, out, err);

	if (r == 0 && check_url(out, err) != 0) {
		vg_channel_secret_free(*out);
		*out = NULL;
		return vg_err_set(err, VG_EINVAL, "%s: does not hold an http:// or https:// URL", path);
	}
	return r;
}

static int webhook_prepare(void *item, struct vg_err *err)
{
	struct vg_webhook_config *w = item;
	char *url = NULL;
	int r;

	if (w->url && w->url_file)
		return vg_err_set(err, VG_EINVAL, "give url or url_file, not both");
	if (w->url == NULL && w->url_file == NULL)
		return vg_err_set(err, VG_EINVAL, "url: missing (a webhook needs url or url_file)");
	if (w->url_file) {
		r = read_url_file(w->url_file, &url, err);
		vg_channel_secret_free(url);
		if (r != 0) {
			vg_err_prefix(err, "url_file");
			return r;
		}
	}
	if ((r = vg_http_config_check(&w->http, err)) != 0)
		return r;
	if (!w->has_send_resolved)
		w->send_resolved = true;
	if (w->timeout_ms == 0)
		w->timeout_ms = DEFAULT_TIMEOUT_MS;
	return 0;
}

static int webhook_send(const void *item, const struct vg_notification *n, struct vg_channel_result *res,
			struct vg_err *err)
{
	const struct vg_webhook_config *w = item;
	struct vg_buf body = VG_BUF_INIT;
	char *url_copy = NULL;
	const char *url = w->url;
	struct vg_err sub;
	long status;
	int r;

	memset(res, 0, sizeof(*res));
	if (w->url_file) {
		vg_err_clear(&sub);
		if (read_url_file(w->url_file, &url_copy, &sub) != 0) {
			/* The file may come back (a rotation): retry. */
			res->outcome = VG_CHANNEL_RETRY;
			vg_channel_detail(res, NULL, 0, "url_file: %s", sub.msg);
			return 0;
		}
		url = url_copy;
	}
	vg_payload_encode(n, &body);
	if (vg_buf_failed(&body)) {
		vg_channel_secret_free(url_copy);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	/* A URL read from a file is a secret: it stays out of the details. */
	const char *secrets[] = { url_copy };
	struct vg_channel_http rq = {
		.method = "POST",
		.url = url,
		.content_type = "application/json",
		.body = (const char *)body.data,
		.body_len = body.len,
		.timeout_ms = w->timeout_ms,
		.secrets = secrets,
		.n_secrets = url_copy ? 1 : 0,
		.http = &w->http,
		.user_agent = VG_CHANNEL_USER_AGENT,
		.now_ms = n->now_ms,
	};
	r = vg_channel_http_do(&rq, res, &status, NULL, err);
	vg_channel_secret_free(url_copy);
	vg_buf_release(&body);
	return r;
}

static void webhook_release(void *item)
{
	(void)item; /* prepare allocates nothing; the loader frees the members */
}

const struct vg_channel_ops vg_channel_webhook = {
	.key = "webhook_configs",
	.name = "webhook",
	.prepare = webhook_prepare,
	.send = webhook_send,
	.release = webhook_release,
};
