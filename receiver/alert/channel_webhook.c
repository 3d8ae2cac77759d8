/*
 * channel_webhook.c: the webhook channel (channel_webhook.h). One POST per
 * notification with libcurl's easy interface on the delivery thread: 2xx
 * is delivered, 5xx, 429 and transport errors are retried (Retry-After
 * passed up), other answers are final. The handle is made per send, so no
 * state outlives a call.
 */
#include "config.h"

#include "receiver/alert/channel_webhook.h"

#include "common/buf.h"
#include "common/err.h"
#include "receiver/alert/payload.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

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
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static int webhook_prepare(void *item, struct vg_err *err)
{
	struct vg_webhook_config *w = item;

	if (w->url == NULL)
		return vg_err_set(err, VG_EINVAL, "url: missing (a webhook needs one)");
	if (!w->has_send_resolved)
		w->send_resolved = true;
	if (w->timeout_ms == 0)
		w->timeout_ms = DEFAULT_TIMEOUT_MS;
	return 0;
}

struct headers_seen {
	int64_t retry_after_ms;
};

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct headers_seen *h = arg;
	size_t len = size * n;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		char v[32];
		size_t k = len - 12 < sizeof(v) - 1 ? len - 12 : sizeof(v) - 1;
		char *end;

		memcpy(v, p + 12, k);
		v[k] = '\0';
		long long secs = strtoll(v, &end, 10);
		if (end != v && secs >= 0 && secs < 86400)
			h->retry_after_ms = secs * 1000;
	}
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n; /* the answer's body is not used */
}

static int webhook_send(const void *item, const struct vg_notification *n, struct vg_channel_result *res,
			struct vg_err *err)
{
	const struct vg_webhook_config *w = item;
	struct vg_buf body = VG_BUF_INIT;
	struct headers_seen seen = { 0 };
	struct curl_slist *hdrs = NULL;
	CURL *h = NULL;
	CURLcode rc;
	long status = 0;
	int r = 0;

	memset(res, 0, sizeof(*res));
	vg_payload_encode(n, &body);
	h = curl_easy_init();
	hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (vg_buf_failed(&body) || h == NULL || hdrs == NULL) {
		r = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, w->url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, vg_buf_cstr(&body));
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, VG_CHANNEL_USER_AGENT);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)w->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &seen);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		res->outcome = VG_CHANNEL_RETRY;
		snprintf(res->detail, sizeof(res->detail), "%s", curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	snprintf(res->detail, sizeof(res->detail), "HTTP %ld", status);
	if (status >= 200 && status < 300) {
		res->outcome = VG_CHANNEL_OK;
	} else if (status >= 500 || status == 429) {
		res->outcome = VG_CHANNEL_RETRY;
		res->retry_after_ms = seen.retry_after_ms;
	} else {
		res->outcome = VG_CHANNEL_FAIL;
	}
out:
	curl_slist_free_all(hdrs);
	if (h)
		curl_easy_cleanup(h);
	vg_buf_release(&body);
	return r;
}

static void webhook_release(void *item)
{
	(void)item; /* prepare allocates nothing */
}

const struct vg_channel_ops vg_channel_webhook = {
	.key = "webhook_configs",
	.name = "webhook",
	.prepare = webhook_prepare,
	.send = webhook_send,
	.release = webhook_release,
};
