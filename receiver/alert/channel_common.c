/*
 * channel_common.c: what the email, PagerDuty, SMS and Alertmanager
 * channels share (channel_common.h): one libcurl HTTP request and its
 * outcome, secrets from files, details without secrets, default texts.
 *
 * It owns no state: every request makes and frees its own easy handle, so
 * a timeout or an aborted transfer leaves nothing behind for the next one.
 */
#include "receiver/alert/channel_common.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "receiver/alert/notifier_http_config.h"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/banned.h"

/* The secrets one request keeps out of its detail: the caller's and
 * those its http_config read. */
#define VG_CHANNEL_SECRETS_MAX 40

int vg_channel_mark_given(const void *member, struct vg_err *err)
{
	/* send_resolved is the first member of the item head: the head is
	 * at the member's address, and the loader hands us the member of an
	 * item it is filling, so writing the flag beside it is safe. */
	struct vg_channel_item *it = (struct vg_channel_item *)(uintptr_t)member;

	(void)err;
	it->has_send_resolved = true;
	return 0;
}

/* --- details ------------------------------------------------------------ */

/* Replaces each occurrence of secret in s (NUL-terminated, cap bytes). */
static void scrub(char *s, size_t cap, const char *secret)
{
	static const char mark[] = "<secret>";
	size_t n = strlen(secret), o = 0;
	char *tmp;

	if (n == 0 || !strstr(s, secret) || !(tmp = malloc(cap)))
		return;
	for (const char *p = s; *p && o + 1 < cap;) {
		if (strncmp(p, secret, n) == 0) {
			for (size_t k = 0; k < sizeof(mark) - 1 && o + 1 < cap; k++)
				tmp[o++] = mark[k];
			p += n;
		} else {
			tmp[o++] = *p++;
		}
	}
	tmp[o] = '\0';
	memcpy(s, tmp, o + 1);
	free(tmp);
}

void vg_channel_detail(struct vg_channel_result *res, const char *const *secrets, size_t n_secrets,
		       const char *fmt, ...)
{
	/* Formatted wide first and cut after scrubbing, so a secret is never
	 * left half-shown at the cut. */
	char wide[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(wide, sizeof(wide), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < n_secrets; i++)
		if (secrets[i])
			scrub(wide, sizeof(wide), secrets[i]);
	/* Control characters from a peer's reply stay out of the log line. */
	for (char *p = wide; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	size_t n = strlen(wide);
	if (n >= sizeof(res->detail))
		n = sizeof(res->detail) - 1;
	memcpy(res->detail, wide, n);
	res->detail[n] = '\0';
}

/* --- secrets ------------------------------------------------------------ */

int vg_channel_read_secret(const char *path, char **out, struct vg_err *err)
{
	char *buf = NULL;
	struct stat st;
	ssize_t got;
	size_t n = 0;
	int fd, r;

	*out = NULL;
	/* O_NONBLOCK: a FIFO given by mistake must not hang the caller; it
	 * is refused below as not a regular file. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return vg_err_set(err, VG_EIO, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = vg_err_set(err, VG_EIO, "%s: not a regular file", path);
		goto fail;
	}
	if (st.st_size > VG_CHANNEL_SECRET_MAX) {
		r = vg_err_set(err, VG_ELIMIT, "%s: larger than %d bytes", path, VG_CHANNEL_SECRET_MAX);
		goto fail;
	}
	buf = malloc(VG_CHANNEL_SECRET_MAX + 1);
	if (!buf) {
		r = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto fail;
	}
	while (n < VG_CHANNEL_SECRET_MAX + 1 &&
	       (got = read(fd, buf + n, VG_CHANNEL_SECRET_MAX + 1 - n)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			r = vg_err_set(err, VG_EIO, "cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		n += (size_t)got;
	}
	if (n > VG_CHANNEL_SECRET_MAX) {
		r = vg_err_set(err, VG_ELIMIT, "%s: larger than %d bytes", path, VG_CHANNEL_SECRET_MAX);
		goto fail;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	if (n == 0 || memchr(buf, 0, n)) {
		r = vg_err_set(err, VG_EINVAL, "%s: %s", path, n == 0 ? "empty" : "holds a NUL byte");
		goto fail;
	}
	close(fd);
	*out = buf;
	return 0;
fail:
	if (buf) {
		explicit_bzero(buf, VG_CHANNEL_SECRET_MAX + 1);
		free(buf);
	}
	close(fd);
	return r;
}

void vg_channel_secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

int vg_channel_check_secret(const char *value, const char *file, const char *key, bool is_required,
			    struct vg_err *err)
{
	char *s = NULL;
	int r;

	if (value && file)
		return vg_err_set(err, VG_EINVAL, "give %s or %s_file, not both", key, key);
	if (!value && !file)
		return is_required ? vg_err_set(err, VG_EINVAL, "%s or %s_file is required", key, key) : 0;
	if (value)
		return value[0] ? 0 : vg_err_set(err, VG_EINVAL, "%s is empty", key);
	r = vg_channel_read_secret(file, &s, err);
	vg_channel_secret_free(s);
	if (r < 0)
		vg_err_prefix(err, "%s_file", key);
	return r;
}

int vg_channel_secret(const char *value, const char *file, const char **out, char **to_free,
		      struct vg_err *err)
{
	*to_free = NULL;
	*out = value;
	if (value || !file)
		return 0;
	int r = vg_channel_read_secret(file, to_free, err);
	*out = *to_free;
	return r;
}

int vg_channel_check_http_url(const void *member, struct vg_err *err)
{
	const char *s = *(const char *const *)member;
	const char *host;

	if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else
		return vg_err_set(err, VG_EINVAL, "must start with http:// or https://");
	if (*host == '\0' || *host == '/' || *host == ':')
		return vg_err_set(err, VG_EINVAL, "has no host");
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return vg_err_set(err, VG_EINVAL, "holds a space or a control character");
	return 0;
}

/* --- HTTP ----------------------------------------------------------------- */

enum vg_channel_outcome vg_channel_http_outcome(long status)
{
	if (status >= 200 && status < 300)
		return VG_CHANNEL_OK;
	if (status == 408 || status == 429 || (status >= 500 && status < 600))
		return VG_CHANNEL_RETRY;
	return VG_CHANNEL_FAIL;
}

int64_t vg_channel_retry_after_ms(const char *value, int64_t now_s)
{
	const int64_t day_ms = 24 * 3600 * 1000LL;
	int64_t ms;

	while (*value == ' ' || *value == '\t')
		value++;
	if (*value >= '0' && *value <= '9') {
		int64_t s = 0;
		for (; *value >= '0' && *value <= '9'; value++) {
			s = s * 10 + (*value - '0');
			if (s > day_ms / 1000)
				return day_ms;
		}
		while (*value == ' ' || *value == '\t' || *value == '\r' || *value == '\n')
			value++;
		return *value ? 0 : s * 1000;
	}
	time_t t = curl_getdate(value, NULL);
	if (t == (time_t)-1 || (int64_t)t <= now_s)
		return 0;
	ms = ((int64_t)t - now_s) * 1000;
	return ms > day_ms ? day_ms : ms;
}

struct http_ctx {
	struct vg_buf *reply;
	char retry_after[64];
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct http_ctx *c = arg;
	size_t n = size * nmemb;

	if (c->reply && c->reply->len < VG_CHANNEL_REPLY_MAX) {
		size_t room = VG_CHANNEL_REPLY_MAX - c->reply->len;
		vg_buf_append(c->reply, p, n < room ? n : room);
	}
	return n; /* read and drop the rest, so the answer completes */
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct http_ctx *c = arg;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";

	if (n > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
		size_t v = n - (sizeof(name) - 1);
		if (v >= sizeof(c->retry_after))
			v = sizeof(c->retry_after) - 1;
		memcpy(c->retry_after, p + sizeof(name) - 1, v);
		c->retry_after[v] = '\0';
	}
	return n;
}

/* Transport errors that a retry cannot fix. */
static bool curl_is_final(CURLcode rc)
{
	return rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ||
	       rc == CURLE_LOGIN_DENIED || rc == CURLE_USE_SSL_FAILED;
}

/* The start of a reply, as text for a detail string. */
static void reply_excerpt(const struct vg_buf *reply, char *out, size_t cap)
{
	size_t n = reply ? reply->len : 0, o = 0;

	if (n > 120)
		n = 120;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned char ch = reply->data[i];
		out[o++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
	}
	out[o] = '\0';
}

int vg_channel_http_do(const struct vg_channel_http *rq, struct vg_channel_result *res,
		       long *status, struct vg_buf *reply, struct vg_err *err)
{
	struct http_ctx ctx;
	struct curl_slist *hdrs = NULL, *h;
	struct vg_buf line = VG_BUF_INIT, own_reply = VG_BUF_INIT;
	struct vg_http_applied applied;
	const char *secrets[VG_CHANNEL_SECRETS_MAX];
	size_t n_secrets = 0;
	char errbuf[CURL_ERROR_SIZE], excerpt[128];
	const char *method = rq->method ? rq->method : "POST";
	CURL *c;
	CURLcode rc;
	int r = 0;

	memset(res, 0, sizeof(*res));
	memset(&applied, 0, sizeof(applied));
	*status = 0;
	memset(&ctx, 0, sizeof(ctx));
	ctx.reply = reply ? reply : &own_reply;
	errbuf[0] = '\0';
	c = curl_easy_init();
	if (!c)
		return vg_err_set(err, VG_ENOMEM, "out of memory (curl handle)");
	if (rq->content_type) {
		vg_buf_printf(&line, "Content-Type: %s", rq->content_type);
		h = curl_slist_append(hdrs, vg_buf_cstr(&line));
		if (!h)
			goto nomem;
		hdrs = h;
	}
	/* No "Expect: 100-continue" round trip before a body. */
	h = curl_slist_append(hdrs, "Expect:");
	if (!h)
		goto nomem;
	hdrs = h;
	for (size_t i = 0; i < rq->n_headers; i++) {
		h = curl_slist_append(hdrs, rq->headers[i]);
		if (!h)
			goto nomem;
		hdrs = h;
	}
	for (size_t i = 0; i < rq->n_secrets && n_secrets < VG_CHANNEL_SECRETS_MAX - 4; i++)
		secrets[n_secrets++] = rq->secrets[i];
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(rq->timeout_ms > 0 ? rq->timeout_ms : 10000));
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, rq->user_agent ? rq->user_agent : "Vigil/" PACKAGE_VERSION);
	/* POST through CURLOPT_POSTFIELDS alone, so a redirect (307, 308)
	 * repeats it and 301 to 303 turn it into a GET, as Go's client does;
	 * a custom method would be kept on every hop. */
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	else if (strcmp(method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (rq->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	if (rq->username) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, rq->username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, rq->password ? rq->password : "");
	}
	if (rq->http) {
		struct vg_err sub;
		vg_err_clear(&sub);
		r = vg_http_config_apply(rq->http, c, rq->url, &hdrs, &applied, &sub);
		if (r == VG_ENOMEM) {
			r = vg_err_set(err, VG_ENOMEM, "%s", sub.msg);
			goto out;
		}
		if (r != 0) {
			/* A secret file gone at send time may come back: retry. */
			r = 0;
			res->outcome = VG_CHANNEL_RETRY;
			vg_channel_detail(res, NULL, 0, "%s", sub.msg);
			goto out;
		}
		for (size_t i = 0; i < applied.n_secrets; i++)
			secrets[n_secrets++] = applied.secrets[i];
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &ctx);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &ctx);
	rc = curl_easy_perform(c);
	if (vg_buf_failed(ctx.reply))
		goto nomem;
	if (rc != CURLE_OK) {
		res->outcome = curl_is_final(rc) ? VG_CHANNEL_FAIL : VG_CHANNEL_RETRY;
		vg_channel_detail(res, secrets, n_secrets, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	res->outcome = rq->classify ? rq->classify(rq->classify_arg, *status) : vg_channel_http_outcome(*status);
	if (res->outcome == VG_CHANNEL_RETRY && ctx.retry_after[0])
		res->retry_after_ms = vg_channel_retry_after_ms(
			ctx.retry_after, rq->now_ms > 0 ? rq->now_ms / 1000 : (int64_t)time(NULL));
	if (res->outcome == VG_CHANNEL_OK) {
		vg_channel_detail(res, NULL, 0, "HTTP %ld", *status);
	} else {
		reply_excerpt(ctx.reply, excerpt, sizeof(excerpt));
		vg_channel_detail(res, secrets, n_secrets, "HTTP %ld%s%s", *status, excerpt[0] ? ": " : "", excerpt);
	}
	goto out;
nomem:
	r = vg_err_set(err, VG_ENOMEM, "out of memory");
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	vg_http_applied_release(&applied);
	vg_buf_release(&line);
	vg_buf_release(&own_reply);
	return r;
}

/* --- texts ------------------------------------------------------------------ */

const char *vg_channel_label(const struct vg_conf_labels *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0)
			return l->values[i];
	return NULL;
}

size_t vg_channel_n_firing(const struct vg_notification *n)
{
	size_t k = 0;

	for (size_t i = 0; i < n->n_alerts; i++)
		k += n->alerts[i].is_firing;
	return k;
}

void vg_channel_title(struct vg_buf *b, const struct vg_notification *n)
{
	bool is_first = true;

	if (n->is_firing)
		vg_buf_printf(b, "[FIRING:%zu]", vg_channel_n_firing(n));
	else
		vg_buf_puts(b, "[RESOLVED]");
	for (size_t i = 0; i < n->group_labels.n; i++)
		vg_buf_printf(b, " %s", n->group_labels.values[i]);
	/* The common labels that are not group labels, in parentheses. */
	for (size_t i = 0; i < n->common_labels.n; i++) {
		if (vg_channel_label(&n->group_labels, n->common_labels.names[i]))
			continue;
		vg_buf_printf(b, "%s%s", is_first ? " (" : " ", n->common_labels.values[i]);
		is_first = false;
	}
	if (!is_first)
		vg_buf_putc(b, ')');
}

void vg_channel_labels_text(struct vg_buf *b, const struct vg_conf_labels *l, const char *sep)
{
	for (size_t i = 0; i < l->n; i++)
		vg_buf_printf(b, "%s%s=\"%s\"", i ? sep : "", l->names[i], l->values[i]);
}

void vg_channel_alert_summary(struct vg_buf *b, const struct vg_notify_alert *a)
{
	const char *s = vg_channel_label(&a->annotations, "summary");
	const char *name = vg_channel_label(&a->labels, "alertname");

	if (!s)
		s = vg_channel_label(&a->annotations, "description");
	if (s) {
		vg_buf_puts(b, s);
		return;
	}
	vg_buf_puts(b, name ? name : "alert");
	vg_buf_putc(b, ' ');
	vg_buf_putc(b, '{');
	vg_channel_labels_text(b, &a->labels, ", ");
	vg_buf_putc(b, '}');
}

void vg_channel_truncate_utf8(struct vg_buf *b, size_t max_chars)
{
	static const char ellipsis[] = "\xe2\x80\xa6";
	size_t chars = 0, i, cut = 0;

	if (max_chars == 0) {
		vg_buf_reset(b);
		return;
	}
	for (i = 0; i < b->len; i++) {
		if ((b->data[i] & 0xC0) == 0x80)
			continue; /* a continuation byte */
		if (chars == max_chars - 1)
			cut = i;
		if (++chars > max_chars)
			break;
	}
	if (chars <= max_chars)
		return;
	b->len = cut;
	b->data[cut] = '\0';
	vg_buf_puts(b, ellipsis);
}

void vg_channel_xml_escape(struct vg_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': vg_buf_puts(b, "&lt;"); break;
		case '>': vg_buf_puts(b, "&gt;"); break;
		case '&': vg_buf_puts(b, "&amp;"); break;
		case '"': vg_buf_puts(b, "&quot;"); break;
		case '\'': vg_buf_puts(b, "&apos;"); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
				vg_buf_putc(b, *s);
		}
	}
}
