/*
 * channel_sms.c: phone and text messages through an HTTP provider
 * (channel_sms.h: the presets, the placeholder syntax).
 *
 * Templates are checked when the configuration is read (a field check, so
 * the error names the line) and rendered per request; rendering cannot
 * fail but for memory, which the buffer reports once.
 *
 * Secrets (auth_token, password, and every header value, which may carry
 * an API key) never reach a detail string; the URL, which may carry a key
 * in its query, is never shown either.
 */
#include "receiver/alert/channel_sms.h"
#include "receiver/alert/channel_common.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_TO 32
#define MAX_HEADERS 32

/* --- templates ------------------------------------------------------------ */

static const char *const plain_names[] = {
	"status", "title", "alertname", "summary", "description", "labels", "count", "firing", "resolved",
	"receiver", "group_key", "external_url", "to", "from", "message", NULL,
};

/* Whether name[0..len) is a placeholder this file knows. */
static bool name_known(const char *name, size_t len)
{
	for (size_t i = 0; plain_names[i]; i++)
		if (strlen(plain_names[i]) == len && memcmp(plain_names[i], name, len) == 0)
			return true;
	for (size_t k = 0; k < 2; k++) {
		const char *pre = k ? "annotation." : "label.";
		size_t pl = strlen(pre);
		if (len > pl && memcmp(name, pre, pl) == 0) {
			for (size_t i = pl; i < len; i++) {
				char ch = name[i];
				if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
				      (ch >= '0' && ch <= '9' && i > pl)))
					return false;
			}
			return true;
		}
	}
	return false;
}

int vg_sms_template_check(const char *t, struct vg_err *err)
{
	for (size_t i = 0; t[i]; i++) {
		if (t[i] == '}') {
			if (t[i + 1] == '}') {
				i++;
				continue;
			}
			return vg_err_set(err, VG_EINVAL, "a lone } at offset %zu (write }} for a brace)", i);
		}
		if (t[i] != '{')
			continue;
		if (t[i + 1] == '{') {
			i++;
			continue;
		}
		const char *end = strchr(t + i + 1, '}');
		if (!end)
			return vg_err_set(err, VG_EINVAL, "placeholder at offset %zu is not closed", i);
		size_t len = (size_t)(end - (t + i + 1));
		if (!name_known(t + i + 1, len)) {
			char shown[48];
			size_t n = len < 40 ? len : 40;
			for (size_t k = 0; k < n; k++) {
				unsigned char ch = (unsigned char)t[i + 1 + k];
				shown[k] = ch < 0x20 || ch >= 0x7f || ch == '"' ? '?' : (char)ch;
			}
			shown[n] = '\0';
			return vg_err_set(err, VG_EINVAL,
					  "unknown placeholder {%s%s} at offset %zu (known: status, title, alertname, "
					  "summary, description, labels, count, firing, resolved, receiver, group_key, "
					  "external_url, to, from, message, label.NAME, annotation.NAME)",
					  shown, n < len ? "..." : "", i);
		}
		i += len + 1;
	}
	return 0;
}

static int check_template(const void *member, struct vg_err *err)
{
	return vg_sms_template_check(*(const char *const *)member, err);
}

static void escape(struct vg_buf *out, const char *s, size_t len, enum vg_sms_escape esc)
{
	static const char hex[] = "0123456789ABCDEF";

	switch (esc) {
	case VG_SMS_RAW:
		vg_buf_append(out, s, len);
		return;
	case VG_SMS_JSON: {
		/* vg_json_str writes the quotes too; keep what is between them. */
		size_t start = out->len;
		vg_json_str(out, s, len);
		if (!vg_buf_failed(out) && out->len >= start + 2) {
			memmove(out->data + start, out->data + start + 1, out->len - start - 2);
			out->len -= 2;
			out->data[out->len] = '\0';
		}
		return;
	}
	case VG_SMS_URL:
		for (size_t i = 0; i < len; i++) {
			unsigned char ch = (unsigned char)s[i];
			if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			    ch == '-' || ch == '_' || ch == '.' || ch == '~') {
				vg_buf_putc(out, (char)ch);
			} else {
				vg_buf_putc(out, '%');
				vg_buf_putc(out, hex[ch >> 4]);
				vg_buf_putc(out, hex[ch & 15]);
			}
		}
		return;
	case VG_SMS_HEADER:
		for (size_t i = 0; i < len; i++) {
			unsigned char ch = (unsigned char)s[i];
			vg_buf_putc(out, ch < 0x20 || ch == 0x7f ? ' ' : (char)ch);
		}
		return;
	}
}

/* A common label or annotation, else the first alert's. */
static const char *lookup(const struct vg_notification *n, bool is_annotation, const char *name)
{
	const char *v = vg_channel_label(is_annotation ? &n->common_annotations : &n->common_labels, name);

	if (!v && n->n_alerts > 0)
		v = vg_channel_label(is_annotation ? &n->alerts[0].annotations : &n->alerts[0].labels, name);
	return v;
}

/* The value of placeholder name[0..len) into v (raw). */
static void value_of(struct vg_buf *v, const char *name, size_t len, const struct vg_notification *n,
		     const char *to, const char *from, const char *message)
{
	char key[300];
	const char *s = NULL;
	size_t firing = vg_channel_n_firing(n);

	if (len >= sizeof(key))
		return;
	memcpy(key, name, len);
	key[len] = '\0';
	if (strcmp(key, "status") == 0)
		s = n->is_firing ? "firing" : "resolved";
	else if (strcmp(key, "title") == 0)
		vg_channel_title(v, n);
	else if (strcmp(key, "alertname") == 0)
		s = lookup(n, false, "alertname");
	else if (strcmp(key, "summary") == 0) {
		s = lookup(n, true, "summary");
		if (!s && n->n_alerts > 0)
			vg_channel_alert_summary(v, &n->alerts[0]);
	} else if (strcmp(key, "description") == 0)
		s = lookup(n, true, "description");
	else if (strcmp(key, "labels") == 0)
		vg_channel_labels_text(v, &n->common_labels, ", ");
	else if (strcmp(key, "count") == 0)
		vg_buf_printf(v, "%zu", n->n_alerts);
	else if (strcmp(key, "firing") == 0)
		vg_buf_printf(v, "%zu", firing);
	else if (strcmp(key, "resolved") == 0)
		vg_buf_printf(v, "%zu", n->n_alerts - firing);
	else if (strcmp(key, "receiver") == 0)
		s = n->receiver;
	else if (strcmp(key, "group_key") == 0)
		s = n->group_key;
	else if (strcmp(key, "external_url") == 0)
		s = n->external_url;
	else if (strcmp(key, "to") == 0)
		s = to;
	else if (strcmp(key, "from") == 0)
		s = from;
	else if (strcmp(key, "message") == 0)
		s = message;
	else if (strncmp(key, "label.", 6) == 0)
		s = lookup(n, false, key + 6);
	else if (strncmp(key, "annotation.", 11) == 0)
		s = lookup(n, true, key + 11);
	if (s)
		vg_buf_puts(v, s);
}

void vg_sms_render(struct vg_buf *out, const char *t, enum vg_sms_escape esc, const struct vg_notification *n,
		   const char *to, const char *from, const char *message)
{
	struct vg_buf v = VG_BUF_INIT;

	for (size_t i = 0; t[i]; i++) {
		if ((t[i] == '{' && t[i + 1] == '{') || (t[i] == '}' && t[i + 1] == '}')) {
			vg_buf_putc(out, t[i]);
			i++;
			continue;
		}
		if (t[i] != '{') {
			vg_buf_putc(out, t[i]);
			continue;
		}
		const char *end = strchr(t + i + 1, '}');
		if (!end)
			break; /* refused by vg_sms_template_check */
		vg_buf_reset(&v);
		value_of(&v, t + i + 1, (size_t)(end - (t + i + 1)), n, to, from, message);
		if (vg_buf_failed(&v))
			out->is_failed = true;
		escape(out, (const char *)v.data, v.len, esc);
		i = (size_t)(end - t);
	}
	vg_buf_release(&v);
}

/* --- configuration ----------------------------------------------------------- */

static int check_preset(const void *member, struct vg_err *err)
{
	return strcmp(*(const char *const *)member, "twilio") == 0
		       ? 0
		       : vg_err_set(err, VG_EINVAL, "the one preset is twilio (leave it out for a generic request)");
}

static int check_kind(const void *member, struct vg_err *err)
{
	const char *s = *(const char *const *)member;

	return strcmp(s, "sms") == 0 || strcmp(s, "voice") == 0 ? 0 : vg_err_set(err, VG_EINVAL, "must be sms or voice");
}

static int check_method(const void *member, struct vg_err *err)
{
	static const char *const ok[] = { "POST", "PUT", "GET", "PATCH", NULL };
	const char *s = *(const char *const *)member;

	for (size_t i = 0; ok[i]; i++)
		if (strcmp(s, ok[i]) == 0)
			return 0;
	return vg_err_set(err, VG_EINVAL, "must be POST, PUT, PATCH or GET");
}

static int check_to(const void *member, struct vg_err *err)
{
	const struct vg_conf_strlist *l = member;

	if (l->n == 0)
		return vg_err_set(err, VG_EINVAL, "at least one number is required");
	if (l->n > MAX_TO)
		return vg_err_set(err, VG_ELIMIT, "more than %d numbers", MAX_TO);
	for (size_t i = 0; i < l->n; i++)
		for (const char *p = l->v[i]; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return vg_err_set(err, VG_EINVAL, "[%zu] holds a control character", i);
	return 0;
}

static int check_headers(const void *member, struct vg_err *err)
{
	const struct vg_conf_strlist *l = member;

	if (l->n > MAX_HEADERS)
		return vg_err_set(err, VG_ELIMIT, "more than %d headers", MAX_HEADERS);
	for (size_t i = 0; i < l->n; i++) {
		const char *h = l->v[i], *colon = strchr(h, ':');
		for (const char *p = h; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return vg_err_set(err, VG_EINVAL, "[%zu] holds a control character", i);
		if (!colon || colon == h)
			return vg_err_set(err, VG_EINVAL, "[%zu] is not \"Name: value\"", i);
		for (const char *p = h; p < colon; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			      *p == '-' || *p == '_'))
				return vg_err_set(err, VG_EINVAL, "[%zu]: a header name holds letters, digits, - and _", i);
		if (vg_sms_template_check(colon + 1, err) != 0) {
			vg_err_prefix(err, "[%zu]", i);
			return VG_EINVAL;
		}
	}
	return 0;
}

/* A status code "503" or a class "5xx". */
static bool code_valid(const char *s)
{
	if (strlen(s) != 3 || s[0] < '1' || s[0] > '5')
		return false;
	if (s[1] == 'x' && s[2] == 'x')
		return true;
	return s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9';
}

static bool code_matches(const struct vg_conf_strlist *l, long status)
{
	char st[8];

	snprintf(st, sizeof(st), "%ld", status);
	for (size_t i = 0; i < l->n; i++) {
		const char *c = l->v[i];
		if (c[0] == st[0] && (c[1] == 'x' || (c[1] == st[1] && c[2] == st[2])))
			return true;
	}
	return false;
}

static int check_codes(const void *member, struct vg_err *err)
{
	const struct vg_conf_strlist *l = member;

	if (l->n == 0)
		return vg_err_set(err, VG_EINVAL, "at least one code is required");
	for (size_t i = 0; i < l->n; i++)
		if (!code_valid(l->v[i]))
			return vg_err_set(err, VG_EINVAL, "[%zu]: not an HTTP status (201) or class (2xx)", i);
	return 0;
}

/* success_codes, then retry_codes, each with its default when not given. */
static enum vg_channel_outcome classify(const void *arg, long status)
{
	const struct vg_sms_config *c = arg;
	enum vg_channel_outcome def = vg_channel_http_outcome(status);

	if (c->success_codes.n ? code_matches(&c->success_codes, status) : def == VG_CHANNEL_OK)
		return VG_CHANNEL_OK;
	if (c->retry_codes.n ? code_matches(&c->retry_codes, status) : def == VG_CHANNEL_RETRY)
		return VG_CHANNEL_RETRY;
	return VG_CHANNEL_FAIL;
}

#define S(key, type, member) key, type, offsetof(struct vg_sms_config, member), NULL

const struct vg_conf_field vg_sms_fields[] = {
	VG_CHANNEL_ITEM_FIELDS(struct vg_sms_config),
	{ S("preset", VG_CONF_STR, preset), 0, 0, check_preset },
	{ S("kind", VG_CONF_STR, kind), 0, 0, check_kind },
	{ S("url", VG_CONF_STR, url), 0, 0, check_template },
	{ S("account_sid", VG_CONF_STR, account_sid), 0, 0, vg_conf_check_ident },
	{ S("auth_token", VG_CONF_STR, auth_token), 0, 0, NULL },
	{ S("auth_token_file", VG_CONF_STR, auth_token_file), 0, 0, vg_conf_check_path },
	{ S("from", VG_CONF_STR, from), 0, 0, vg_conf_check_ident },
	{ S("messaging_service_sid", VG_CONF_STR, messaging_service_sid), 0, 0, vg_conf_check_ident },
	{ S("twiml_url", VG_CONF_STR, twiml_url), 0, 0, vg_channel_check_http_url },
	{ S("to", VG_CONF_STRLIST, to), 0, 0, check_to },
	{ S("message", VG_CONF_STR, message), 0, 0, check_template },
	{ S("max_length", VG_CONF_UINT, max_length), 1, 100000, NULL },
	{ S("method", VG_CONF_STR, method), 0, 0, check_method },
	{ S("headers", VG_CONF_STRLIST, headers), 0, 0, check_headers },
	{ S("content_type", VG_CONF_STR, content_type), 0, 0, vg_conf_check_ident },
	{ S("body", VG_CONF_STR, body), 0, 0, check_template },
	{ S("username", VG_CONF_STR, username), 0, 0, NULL },
	{ S("password", VG_CONF_STR, password), 0, 0, NULL },
	{ S("password_file", VG_CONF_STR, password_file), 0, 0, vg_conf_check_path },
	{ S("success_codes", VG_CONF_STRLIST, success_codes), 0, 0, check_codes },
	{ S("retry_codes", VG_CONF_STRLIST, retry_codes), 0, 0, check_codes },
	VG_HTTP_CONFIG_FIELD(struct vg_sms_config, http),
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

#undef S

static int sms_prepare(void *item, struct vg_err *err)
{
	struct vg_sms_config *c = item;
	int r;

	if (c->to.n == 0)
		return vg_err_set(err, VG_EINVAL, "to: at least one number is required");
	if (!c->item.has_send_resolved)
		c->item.send_resolved = false;
	if (c->item.timeout_ms == 0)
		c->item.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (c->max_length == 0)
		c->max_length = VG_SMS_MAX_LENGTH;
	if (!c->message && vg_conf_set_str(&c->message, VG_SMS_DEFAULT_MESSAGE) < 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	c->is_twilio = c->preset != NULL;
	c->is_voice = c->kind && strcmp(c->kind, "voice") == 0;
	if ((r = vg_http_config_check(&c->http, err)) < 0)
		return r;
	if ((c->is_twilio || c->username) && vg_http_config_has_auth(&c->http))
		return vg_err_set(err, VG_EINVAL,
				  "%s: leave authentication out of http_config (global:'s counts when the item has none)",
				  c->is_twilio ? "preset twilio signs in with account_sid and auth_token"
					       : "username and password sign in");
	if (c->is_twilio) {
		if (c->method || c->headers.n || c->body || c->content_type || c->username || c->password ||
		    c->password_file || c->success_codes.n || c->retry_codes.n)
			return vg_err_set(err, VG_EINVAL,
					  "preset twilio builds its own request: leave out method, headers, body, "
					  "content_type, username, password, success_codes and retry_codes");
		if (!c->account_sid)
			return vg_err_set(err, VG_EINVAL, "account_sid is required with preset twilio");
		r = vg_channel_check_secret(c->auth_token, c->auth_token_file, "auth_token", true, err);
		if (r < 0)
			return r;
		if (!c->from && !(c->messaging_service_sid && !c->is_voice))
			return vg_err_set(err, VG_EINVAL, "from is required%s",
					  c->is_voice ? " for calls" : " (or messaging_service_sid)");
		if (!c->url && vg_conf_set_str(&c->url, VG_SMS_TWILIO_URL) < 0)
			return vg_err_set(err, VG_ENOMEM, "out of memory");
		if (vg_channel_check_http_url(&c->url, err) != 0) {
			vg_err_prefix(err, "url");
			return VG_EINVAL;
		}
		c->body_escape = VG_SMS_URL;
		return 0;
	}
	if (c->kind || c->account_sid || c->auth_token || c->auth_token_file || c->messaging_service_sid ||
	    c->twiml_url)
		return vg_err_set(err, VG_EINVAL,
				  "kind, account_sid, auth_token, messaging_service_sid and twiml_url go with preset twilio");
	if (!c->url)
		return vg_err_set(err, VG_EINVAL, "url is required (or preset: twilio)");
	if (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0)
		return vg_err_set(err, VG_EINVAL, "url must start with http:// or https://");
	if ((c->password || c->password_file) && !c->username)
		return vg_err_set(err, VG_EINVAL, "password goes with username");
	r = vg_channel_check_secret(c->password, c->password_file, "password", c->username != NULL, err);
	if (r < 0)
		return r;
	if (!c->method && vg_conf_set_str(&c->method, "POST") < 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	if (c->body && !c->content_type && vg_conf_set_str(&c->content_type, "application/x-www-form-urlencoded") < 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	if (!c->content_type || strstr(c->content_type, "x-www-form-urlencoded"))
		c->body_escape = VG_SMS_URL;
	else if (strstr(c->content_type, "json"))
		c->body_escape = VG_SMS_JSON;
	else
		c->body_escape = VG_SMS_RAW;
	return 0;
}

static void sms_release(void *item)
{
	(void)item;
}

/* --- requests -------------------------------------------------------------- */

static void form_field(struct vg_buf *b, const char *name, const char *value)
{
	if (b->len)
		vg_buf_putc(b, '&');
	vg_buf_puts(b, name);
	vg_buf_putc(b, '=');
	escape(b, value, strlen(value), VG_SMS_URL);
}

static void twilio_request(const struct vg_sms_config *c, const char *to, const char *message, struct vg_buf *url,
			   struct vg_buf *body)
{
	size_t len = strlen(c->url);

	while (len > 0 && c->url[len - 1] == '/')
		len--;
	vg_buf_append(url, c->url, len);
	vg_buf_puts(url, "/2010-04-01/Accounts/");
	escape(url, c->account_sid, strlen(c->account_sid), VG_SMS_URL);
	vg_buf_puts(url, c->is_voice ? "/Calls.json" : "/Messages.json");
	form_field(body, "To", to);
	if (c->from)
		form_field(body, "From", c->from);
	else
		form_field(body, "MessagingServiceSid", c->messaging_service_sid);
	if (!c->is_voice) {
		form_field(body, "Body", message);
		return;
	}
	if (c->twiml_url) {
		form_field(body, "Url", c->twiml_url);
		return;
	}
	struct vg_buf twiml = VG_BUF_INIT;
	vg_buf_puts(&twiml, "<Response><Say>");
	vg_channel_xml_escape(&twiml, message);
	vg_buf_puts(&twiml, "</Say></Response>");
	if (vg_buf_failed(&twiml))
		body->is_failed = true;
	form_field(body, "Twiml", vg_buf_cstr(&twiml));
	vg_buf_release(&twiml);
}

static int send_one(const struct vg_sms_config *c, const struct vg_notification *n, const char *to,
		    const char *message, const char *secret, struct vg_channel_result *res, struct vg_err *err)
{
	struct vg_buf url = VG_BUF_INIT, body = VG_BUF_INIT;
	struct vg_buf *hdr = NULL;
	const char **hdr_lines = NULL, **secrets = NULL;
	size_t n_secrets = 0;
	long status;
	int r = 0;

	hdr = calloc(c->headers.n + 1, sizeof(*hdr));
	hdr_lines = calloc(c->headers.n + 1, sizeof(*hdr_lines));
	secrets = calloc(c->headers.n + 2, sizeof(*secrets));
	if (!hdr || !hdr_lines || !secrets) {
		r = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto out;
	}
	if (secret)
		secrets[n_secrets++] = secret;
	if (c->is_twilio) {
		twilio_request(c, to, message, &url, &body);
	} else {
		vg_sms_render(&url, c->url, VG_SMS_URL, n, to, c->from, message);
		if (c->body)
			vg_sms_render(&body, c->body, c->body_escape, n, to, c->from, message);
		for (size_t i = 0; i < c->headers.n; i++) {
			const char *h = c->headers.v[i], *colon = strchr(h, ':');
			vg_buf_init(&hdr[i]);
			vg_buf_append(&hdr[i], h, (size_t)(colon - h) + 1);
			size_t value_at = hdr[i].len;
			vg_sms_render(&hdr[i], colon + 1, VG_SMS_HEADER, n, to, c->from, message);
			if (vg_buf_failed(&hdr[i]))
				url.is_failed = true;
			hdr_lines[i] = vg_buf_cstr(&hdr[i]);
			const char *v = hdr_lines[i] + value_at;
			while (*v == ' ')
				v++;
			if (strlen(v) >= 4)
				secrets[n_secrets++] = v;
		}
	}
	if (vg_buf_failed(&url) || vg_buf_failed(&body)) {
		r = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto out;
	}
	struct vg_channel_http rq = {
		.method = c->is_twilio ? "POST" : c->method,
		.url = vg_buf_cstr(&url),
		.content_type = c->is_twilio ? "application/x-www-form-urlencoded" : (c->body ? c->content_type : NULL),
		.body = c->is_twilio || c->body ? vg_buf_cstr(&body) : NULL,
		.body_len = body.len,
		.headers = hdr_lines,
		.n_headers = c->is_twilio ? 0 : c->headers.n,
		.username = c->is_twilio ? c->account_sid : c->username,
		.password = secret,
		.timeout_ms = c->item.timeout_ms,
		.secrets = secrets,
		.n_secrets = n_secrets,
		.classify = classify,
		.classify_arg = c,
		.http = &c->http,
		.now_ms = n->now_ms,
	};
	r = vg_channel_http_do(&rq, res, &status, NULL, err);
out:
	if (hdr)
		for (size_t i = 0; i < c->headers.n; i++)
			vg_buf_release(&hdr[i]);
	free(hdr);
	free(hdr_lines);
	free(secrets);
	vg_buf_release(&url);
	vg_buf_release(&body);
	return r;
}

static int sms_send(const void *item, const struct vg_notification *n, struct vg_channel_result *res,
		    struct vg_err *err)
{
	const struct vg_sms_config *c = item;
	struct vg_buf message = VG_BUF_INIT;
	const char *secret = NULL;
	char *secret_copy = NULL;
	size_t sent = 0;
	struct vg_err sub;
	int r = 0;

	memset(res, 0, sizeof(*res));
	vg_err_clear(&sub);
	if (c->is_twilio)
		r = vg_channel_secret(c->auth_token, c->auth_token_file, &secret, &secret_copy, &sub);
	else
		r = vg_channel_secret(c->password, c->password_file, &secret, &secret_copy, &sub);
	if (r < 0) {
		res->outcome = VG_CHANNEL_RETRY;
		vg_channel_detail(res, NULL, 0, "%s", sub.msg);
		return 0;
	}
	vg_sms_render(&message, c->message, VG_SMS_RAW, n, NULL, c->from, NULL);
	vg_channel_truncate_utf8(&message, (size_t)c->max_length);
	if (vg_buf_failed(&message)) {
		r = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < c->to.n; i++) {
		r = send_one(c, n, c->to.v[i], vg_buf_cstr(&message), secret, res, err);
		if (r < 0 || res->outcome != VG_CHANNEL_OK)
			break;
		sent++;
	}
	if (r == 0) {
		char first[sizeof(res->detail)];
		memcpy(first, res->detail, sizeof(first));
		vg_channel_detail(res, NULL, 0, "%zu of %zu %s sent; %s", sent, c->to.n,
				  c->is_voice ? "calls" : "messages", first);
	}
out:
	vg_channel_secret_free(secret_copy);
	vg_buf_release(&message);
	return r;
}

const struct vg_channel_ops vg_channel_sms = {
	.key = "sms_configs",
	.name = "sms",
	.prepare = sms_prepare,
	.send = sms_send,
	.release = sms_release,
};
