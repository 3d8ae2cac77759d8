/*
 * channel_email.c: email over SMTP/SMTPS with libcurl (channel_email.h).
 *
 * The message (RFC 5322, MIME):
 *   Date, From, To, Subject (RFC 2047 B-words when not ASCII), Message-ID
 *   <random@from-domain>, MIME-Version, Auto-Submitted: auto-generated,
 *   Content-Type: multipart/alternative; boundary="vigil-<random>"
 *   then a text/plain and a text/html part, both UTF-8 and
 *   quoted-printable, so every line is CRLF-ended and at most 76 octets.
 * libcurl dot-stuffs and ends the DATA itself: the message holds neither.
 *
 * Outcomes: the transfer done is OK; an SMTP reply 5xx, refused login,
 * a server without STARTTLS under require_tls, a bad URL are FAIL; 4xx
 * replies and transport errors are RETRY. The password reaches only
 * libcurl, never a detail string.
 */
#include "receiver/alert/channel_email.h"
#include "receiver/alert/channel_common.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "common/banned.h"

#define DEFAULT_TIMEOUT_MS 30000
#define MAX_RCPT 64
#define SUBJECT_MAX_CHARS 200

/* --- addresses ---------------------------------------------------------- */

/* The address of one "addr" or "Name <addr>" (s[0..len)), as "<addr>". */
static int parse_address(const char *s, size_t len, char **out, struct vg_err *err)
{
	const char *lt, *gt, *a;
	size_t alen;

	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	lt = memchr(s, '<', len);
	if (lt) {
		gt = memchr(lt, '>', len - (size_t)(lt - s));
		if (!gt || gt != s + len - 1)
			return vg_err_set(err, VG_EINVAL, "an address in <...> must end the entry");
		a = lt + 1;
		alen = (size_t)(gt - a);
	} else {
		a = s;
		alen = len;
	}
	const char *at = memchr(a, '@', alen);
	if (alen == 0 || !at || at == a || at == a + alen - 1)
		return vg_err_set(err, VG_EINVAL, "not an email address (local@domain)");
	for (size_t i = 0; i < alen; i++) {
		unsigned char ch = (unsigned char)a[i];
		if (ch <= 0x20 || ch == 0x7f || ch == '<' || ch == '>' || ch == ',' || ch == '"')
			return vg_err_set(err, VG_EINVAL, "an address holds a space, a quote or a control character");
	}
	*out = malloc(alen + 3);
	if (!*out)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	(*out)[0] = '<';
	memcpy(*out + 1, a, alen);
	(*out)[alen + 1] = '>';
	(*out)[alen + 2] = '\0';
	return 0;
}

static int check_header_text(const char *s, struct vg_err *err)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return vg_err_set(err, VG_EINVAL, "holds a control character");
	return 0;
}

static int check_to(const void *member, struct vg_err *err)
{
	const char *s = *(const char *const *)member;
	size_t n = 0;
	int r = check_header_text(s, err);

	if (r)
		return r;
	for (const char *p = s;; p++) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char *a = NULL;
		r = parse_address(p, len, &a, err);
		free(a);
		if (r)
			return r;
		if (++n > MAX_RCPT)
			return vg_err_set(err, VG_ELIMIT, "more than %d addresses", MAX_RCPT);
		if (!comma)
			return 0;
		p = comma;
	}
}

static int check_from(const void *member, struct vg_err *err)
{
	const char *s = *(const char *const *)member;
	char *a = NULL;
	int r = check_header_text(s, err);

	if (r == 0)
		r = parse_address(s, strlen(s), &a, err);
	free(a);
	return r;
}

static int check_smarthost(const void *member, struct vg_err *err)
{
	char host[256];
	uint16_t port = 0;
	int r = vg_conf_split_hostport(*(const char *const *)member, host, sizeof(host), &port, err);

	if (r)
		return r;
	if (!host[0] || port == 0)
		return vg_err_set(err, VG_EINVAL, "must be host:port, e.g. mail.example.org:587");
	return 0;
}

static int check_hello(const void *member, struct vg_err *err)
{
	const char *s = *(const char *const *)member;

	if (!*s || strlen(s) > 255)
		return vg_err_set(err, VG_EINVAL, "must be a host name");
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '.' || *s == '_' || *s == '[' || *s == ']' || *s == ':'))
			return vg_err_set(err, VG_EINVAL, "must be a host name");
	return 0;
}

#define E(key, type, member) key, type, offsetof(struct vg_email_config, member), NULL

static const struct vg_conf_field tls_fields[] = {
	{ E("ca_file", VG_CONF_STR, tls_ca_file), 0, 0, vg_conf_check_path },
	{ E("cert_file", VG_CONF_STR, tls_cert_file), 0, 0, vg_conf_check_path },
	{ E("key_file", VG_CONF_STR, tls_key_file), 0, 0, vg_conf_check_path },
	{ E("insecure_skip_verify", VG_CONF_BOOL, tls_insecure_skip_verify), 0, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

const struct vg_conf_field vg_email_fields[] = {
	VG_CHANNEL_ITEM_FIELDS(struct vg_email_config),
	{ E("to", VG_CONF_STR, to), 0, 0, check_to },
	{ E("from", VG_CONF_STR, from), 0, 0, check_from },
	{ E("smarthost", VG_CONF_STR, smarthost), 0, 0, check_smarthost },
	{ E("hello", VG_CONF_STR, hello), 0, 0, check_hello },
	{ E("auth_username", VG_CONF_STR, auth_username), 0, 0, vg_conf_check_ident },
	{ E("auth_password", VG_CONF_STR, auth_password), 0, 0, NULL },
	{ E("auth_password_file", VG_CONF_STR, auth_password_file), 0, 0, vg_conf_check_path },
	{ E("require_tls", VG_CONF_BOOL, require_tls.value), 0, 0, vg_conf_mark_given },
	{ E("implicit_tls", VG_CONF_BOOL, implicit_tls.value), 0, 0, vg_conf_mark_given },
	{ "tls_config", VG_CONF_SECTION, 0, tls_fields, 0, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

#undef E

static void email_release(void *item)
{
	struct vg_email_config *c = item;

	free(c->url);
	free(c->mail_from);
	for (size_t i = 0; i < c->n_rcpt; i++)
		free(c->rcpt[i]);
	free(c->rcpt);
	free(c->domain);
	c->url = c->mail_from = c->domain = NULL;
	c->rcpt = NULL;
	c->n_rcpt = 0;
}

static int email_prepare(void *item, struct vg_err *err)
{
	struct vg_email_config *c = item;
	struct vg_buf url = VG_BUF_INIT;
	char host[256];
	uint16_t port = 0;
	int r;

	email_release(c);
	if (!c->to || !c->from || !c->smarthost)
		return vg_err_set(err, VG_EINVAL, "%s is required", !c->to ? "to" : !c->from ? "from" : "smarthost");
	if (c->auth_password && c->auth_password_file)
		return vg_err_set(err, VG_EINVAL, "give auth_password or auth_password_file, not both");
	if ((c->auth_password || c->auth_password_file) && !c->auth_username)
		return vg_err_set(err, VG_EINVAL, "auth_password goes with auth_username");
	r = vg_channel_check_secret(c->auth_password, c->auth_password_file, "auth_password", false, err);
	if (r < 0)
		return r;
	if (!c->item.has_send_resolved)
		c->item.send_resolved = false;
	if (c->item.timeout_ms == 0)
		c->item.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (!c->require_tls.is_given)
		c->require_tls.value = true;
	r = vg_conf_split_hostport(c->smarthost, host, sizeof(host), &port, err);
	if (r < 0)
		return r;
	if (!c->implicit_tls.is_given)
		c->implicit_tls.value = port == 465;
	vg_buf_printf(&url, "%s://%s%s%s:%u/%s", c->implicit_tls.value ? "smtps" : "smtp", strchr(host, ':') ? "[" : "",
		      host, strchr(host, ':') ? "]" : "", port, c->hello ? c->hello : "localhost");
	c->url = vg_buf_detach(&url, NULL);
	if (!c->url)
		goto nomem;
	r = parse_address(c->from, strlen(c->from), &c->mail_from, err);
	if (r < 0)
		goto fail;
	const char *at = strrchr(c->mail_from, '@');
	c->domain = strndup(at + 1, strlen(at + 1) - 1);
	if (!c->domain)
		goto nomem;
	for (const char *p = c->to;; p++) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char **v = realloc(c->rcpt, (c->n_rcpt + 1) * sizeof(*v));
		if (!v)
			goto nomem;
		c->rcpt = v;
		r = parse_address(p, len, &c->rcpt[c->n_rcpt], err);
		if (r < 0)
			goto fail;
		c->n_rcpt++;
		if (!comma)
			break;
		p = comma;
	}
	return 0;
nomem:
	r = vg_err_set(err, VG_ENOMEM, "out of memory");
fail:
	email_release(c);
	return r;
}

/* --- the message ----------------------------------------------------------- */

static void rfc5322_date(struct vg_buf *b, int64_t t)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	vg_buf_printf(b, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
		      tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool is_ascii(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] >= 0x80)
			return false;
	return true;
}

/* Subject: as is when ASCII, else RFC 2047 B-words of at most 45 bytes of
 * input each (75 characters a word), cut at character boundaries, folded
 * on separate lines. */
static void subject_header(struct vg_buf *b, const struct vg_buf *s)
{
	unsigned char enc[64];
	size_t i = 0;

	vg_buf_puts(b, "Subject: ");
	if (is_ascii(s->data, s->len)) {
		vg_buf_append(b, s->data, s->len);
		vg_buf_puts(b, "\r\n");
		return;
	}
	while (i < s->len) {
		size_t n = s->len - i > 45 ? 45 : s->len - i;
		while (n > 1 && i + n < s->len && (s->data[i + n] & 0xC0) == 0x80)
			n--;
		int m = EVP_EncodeBlock(enc, s->data + i, (int)n);
		vg_buf_printf(b, "%s=?UTF-8?B?%.*s?=", i ? "\r\n " : "", m, (const char *)enc);
		i += n;
	}
	vg_buf_puts(b, "\r\n");
}

/* Quoted-printable (RFC 2045 6.7) of text whose lines end in '\n'. */
static void quoted_printable(struct vg_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool is_eol = i + 1 == len || s[i + 1] == '\n';
		char out[4];
		size_t n;
		if (ch == '\n') {
			vg_buf_puts(b, "\r\n");
			col = 0;
			continue;
		}
		if ((ch >= 33 && ch <= 126 && ch != '=') || ((ch == ' ' || ch == '\t') && !is_eol)) {
			out[0] = (char)ch;
			n = 1;
		} else {
			out[0] = '=';
			out[1] = hex[ch >> 4];
			out[2] = hex[ch & 15];
			n = 3;
		}
		/* A soft break keeps each line at 76 octets with its '='. */
		if (col + n > 75) {
			vg_buf_puts(b, "=\r\n");
			col = 0;
		}
		vg_buf_append(b, out, n);
		col += n;
	}
	if (col)
		vg_buf_puts(b, "\r\n");
}

static void text_pairs(struct vg_buf *b, const char *what, const struct vg_conf_labels *l)
{
	if (l->n == 0)
		return;
	vg_buf_printf(b, "  %s:\n", what);
	for (size_t i = 0; i < l->n; i++)
		vg_buf_printf(b, "    %s = %s\n", l->names[i], l->values[i]);
}

static void text_body(struct vg_buf *b, const struct vg_notification *n, const struct vg_buf *title)
{
	char ts[40];

	vg_buf_append(b, title->data, title->len);
	vg_buf_puts(b, "\n");
	for (int pass = 0; pass < 2; pass++) {
		bool is_firing = pass == 0, is_first = true;
		for (size_t i = 0; i < n->n_alerts; i++) {
			const struct vg_notify_alert *a = &n->alerts[i];
			if (a->is_firing != is_firing)
				continue;
			if (is_first)
				vg_buf_printf(b, "\n%s:\n", is_firing ? "Firing" : "Resolved");
			is_first = false;
			vg_buf_puts(b, "\n- ");
			vg_channel_alert_summary(b, a);
			vg_buf_puts(b, "\n");
			text_pairs(b, "Labels", &a->labels);
			text_pairs(b, "Annotations", &a->annotations);
			if (a->starts_at_ms > 0) {
				vg_time_format_rfc3339(a->starts_at_ms, ts, sizeof(ts));
				vg_buf_printf(b, "  Started: %s\n", ts);
			}
			if (!a->is_firing && a->ends_at_ms > 0) {
				vg_time_format_rfc3339(a->ends_at_ms, ts, sizeof(ts));
				vg_buf_printf(b, "  Resolved: %s\n", ts);
			}
			if (a->generator_url && a->generator_url[0])
				vg_buf_printf(b, "  Source: %s\n", a->generator_url);
		}
	}
	if (n->truncated_alerts)
		vg_buf_printf(b, "\n%llu more alerts left out.\n", (unsigned long long)n->truncated_alerts);
	vg_buf_puts(b, "\n--\n");
	if (n->receiver)
		vg_buf_printf(b, "Receiver: %s\n", n->receiver);
	if (n->group_key)
		vg_buf_printf(b, "Group: %s\n", n->group_key);
	if (n->external_url && n->external_url[0])
		vg_buf_printf(b, "Sent by Vigil: %s\n", n->external_url);
}

static void html_pairs(struct vg_buf *b, const char *what, const struct vg_conf_labels *l)
{
	if (l->n == 0)
		return;
	vg_buf_printf(b, "<tr><th colspan=\"2\" align=\"left\">%s</th></tr>\n", what);
	for (size_t i = 0; i < l->n; i++) {
		vg_buf_puts(b, "<tr><td>");
		vg_channel_xml_escape(b, l->names[i]);
		vg_buf_puts(b, "</td><td>");
		vg_channel_xml_escape(b, l->values[i]);
		vg_buf_puts(b, "</td></tr>\n");
	}
}

static void html_body(struct vg_buf *b, const struct vg_notification *n, const struct vg_buf *title)
{
	struct vg_buf s = VG_BUF_INIT;
	char ts[40];

	vg_buf_puts(b, "<!DOCTYPE html>\n<html><head><meta charset=\"UTF-8\"><title>");
	vg_channel_xml_escape(b, vg_buf_cstr(title));
	vg_buf_puts(b, "</title></head>\n<body>\n<h2>");
	vg_channel_xml_escape(b, vg_buf_cstr(title));
	vg_buf_puts(b, "</h2>\n");
	for (int pass = 0; pass < 2; pass++) {
		bool is_firing = pass == 0, is_first = true;
		for (size_t i = 0; i < n->n_alerts; i++) {
			const struct vg_notify_alert *a = &n->alerts[i];
			if (a->is_firing != is_firing)
				continue;
			if (is_first)
				vg_buf_printf(b, "<h3>%s</h3>\n", is_firing ? "Firing" : "Resolved");
			is_first = false;
			vg_buf_reset(&s);
			vg_channel_alert_summary(&s, a);
			vg_buf_puts(b, "<p><b>");
			vg_channel_xml_escape(b, vg_buf_cstr(&s));
			vg_buf_puts(b, "</b></p>\n<table>\n");
			html_pairs(b, "Labels", &a->labels);
			html_pairs(b, "Annotations", &a->annotations);
			vg_buf_puts(b, "</table>\n");
			if (a->starts_at_ms > 0) {
				vg_time_format_rfc3339(a->starts_at_ms, ts, sizeof(ts));
				vg_buf_printf(b, "<p>Started: %s</p>\n", ts);
			}
			if (!a->is_firing && a->ends_at_ms > 0) {
				vg_time_format_rfc3339(a->ends_at_ms, ts, sizeof(ts));
				vg_buf_printf(b, "<p>Resolved: %s</p>\n", ts);
			}
			if (a->generator_url && a->generator_url[0]) {
				vg_buf_puts(b, "<p><a href=\"");
				vg_channel_xml_escape(b, a->generator_url);
				vg_buf_puts(b, "\">Source</a></p>\n");
			}
		}
	}
	if (n->truncated_alerts)
		vg_buf_printf(b, "<p>%llu more alerts left out.</p>\n", (unsigned long long)n->truncated_alerts);
	if (n->receiver) {
		vg_buf_puts(b, "<p>Receiver: ");
		vg_channel_xml_escape(b, n->receiver);
		vg_buf_puts(b, "</p>\n");
	}
	vg_buf_puts(b, "</body></html>\n");
	if (vg_buf_failed(&s))
		b->is_failed = true;
	vg_buf_release(&s);
}

void vg_email_message(struct vg_buf *out, const struct vg_email_config *c, const struct vg_notification *n,
		      int64_t date_s)
{
	struct vg_buf title = VG_BUF_INIT, part = VG_BUF_INIT;
	char boundary[40];

	vg_channel_title(&title, n);
	vg_channel_truncate_utf8(&title, SUBJECT_MAX_CHARS);
	/* Label values may hold line breaks: none may end the Subject line. */
	for (size_t i = 0; i < title.len; i++)
		if (title.data[i] < 0x20 || title.data[i] == 0x7f)
			title.data[i] = ' ';
	snprintf(boundary, sizeof(boundary), "vigil-%016llx", (unsigned long long)vg_random_u64());
	vg_buf_puts(out, "Date: ");
	rfc5322_date(out, date_s);
	vg_buf_printf(out, "\r\nFrom: %s\r\nTo: %s\r\n", c->from, c->to);
	subject_header(out, &title);
	vg_buf_printf(out, "Message-ID: <%016llx.%016llx@%s>\r\n", (unsigned long long)vg_random_u64(),
		      (unsigned long long)vg_random_u64(), c->domain ? c->domain : "vigil.invalid");
	vg_buf_puts(out, "MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n");
	vg_buf_printf(out, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary);
	vg_buf_printf(out, "--%s\r\nContent-Type: text/plain; charset=UTF-8\r\n"
		      "Content-Transfer-Encoding: quoted-printable\r\n\r\n", boundary);
	text_body(&part, n, &title);
	quoted_printable(out, (const char *)part.data, part.len);
	vg_buf_reset(&part);
	vg_buf_printf(out, "--%s\r\nContent-Type: text/html; charset=UTF-8\r\n"
		      "Content-Transfer-Encoding: quoted-printable\r\n\r\n", boundary);
	html_body(&part, n, &title);
	quoted_printable(out, (const char *)part.data, part.len);
	vg_buf_printf(out, "--%s--\r\n", boundary);
	if (vg_buf_failed(&title) || vg_buf_failed(&part))
		out->is_failed = true;
	vg_buf_release(&title);
	vg_buf_release(&part);
}

/* --- sending ------------------------------------------------------------------ */

struct upload {
	const struct vg_buf *msg;
	size_t at;
};

static size_t on_read(char *p, size_t size, size_t nmemb, void *arg)
{
	struct upload *u = arg;
	size_t n = size * nmemb, left = u->msg->len - u->at;

	if (n > left)
		n = left;
	memcpy(p, u->msg->data + u->at, n);
	u->at += n;
	return n;
}

static bool smtp_is_final(CURLcode rc)
{
	return rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_LOGIN_DENIED ||
	       rc == CURLE_USE_SSL_FAILED;
}

static int email_send(const void *item, const struct vg_notification *n, struct vg_channel_result *res,
		      struct vg_err *err)
{
	const struct vg_email_config *c = item;
	struct vg_buf msg = VG_BUF_INIT;
	struct curl_slist *rcpt = NULL, *h;
	const char *password = NULL;
	char *password_copy = NULL, errbuf[CURL_ERROR_SIZE];
	struct upload up = { &msg, 0 };
	struct vg_err sub;
	long code = 0;
	CURL *curl = NULL;
	CURLcode rc;
	int r = 0;

	memset(res, 0, sizeof(*res));
	vg_err_clear(&sub);
	if (vg_channel_secret(c->auth_password, c->auth_password_file, &password, &password_copy, &sub) < 0) {
		res->outcome = VG_CHANNEL_RETRY;
		vg_channel_detail(res, NULL, 0, "auth_password_file: %s", sub.msg);
		return 0;
	}
	vg_email_message(&msg, c, n, (int64_t)time(NULL));
	if (vg_buf_failed(&msg))
		goto nomem;
	for (size_t i = 0; i < c->n_rcpt; i++) {
		h = curl_slist_append(rcpt, c->rcpt[i]);
		if (!h)
			goto nomem;
		rcpt = h;
	}
	curl = curl_easy_init();
	if (!curl)
		goto nomem;
	errbuf[0] = '\0';
	curl_easy_setopt(curl, CURLOPT_URL, c->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)c->item.timeout_ms);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	/* Under implicit TLS the connection is TLS from the start either way. */
	curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)(c->require_tls.value ? CURLUSESSL_ALL : CURLUSESSL_NONE));
	if (c->tls_ca_file)
		curl_easy_setopt(curl, CURLOPT_CAINFO, c->tls_ca_file);
	if (c->tls_cert_file)
		curl_easy_setopt(curl, CURLOPT_SSLCERT, c->tls_cert_file);
	if (c->tls_key_file)
		curl_easy_setopt(curl, CURLOPT_SSLKEY, c->tls_key_file);
	if (c->tls_insecure_skip_verify) {
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->auth_username) {
		curl_easy_setopt(curl, CURLOPT_USERNAME, c->auth_username);
		curl_easy_setopt(curl, CURLOPT_PASSWORD, password ? password : "");
	}
	curl_easy_setopt(curl, CURLOPT_MAIL_FROM, c->mail_from);
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(curl, CURLOPT_READDATA, &up);
	curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg.len);
	curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	const char *secrets[] = { password };
	if (rc == CURLE_OK) {
		res->outcome = VG_CHANNEL_OK;
		vg_channel_detail(res, NULL, 0, "SMTP %ld: sent to %zu recipients", code, c->n_rcpt);
	} else {
		res->outcome = code >= 500 || smtp_is_final(rc) ? VG_CHANNEL_FAIL : VG_CHANNEL_RETRY;
		vg_channel_detail(res, secrets, password ? 1 : 0, "SMTP %ld: %s", code,
				  errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
	goto out;
nomem:
	r = vg_err_set(err, VG_ENOMEM, "out of memory");
out:
	curl_easy_cleanup(curl);
	curl_slist_free_all(rcpt);
	vg_channel_secret_free(password_copy);
	vg_buf_release(&msg);
	return r;
}

const struct vg_channel_ops vg_channel_email = {
	.key = "email_configs",
	.name = "email",
	.prepare = email_prepare,
	.send = email_send,
	.release = email_release,
};
