/*
 * notifier_http_config.c: http_config (notifier_http_config.h): its field
 * table, the checks of the whole mapping, the copy of global:'s into the
 * items without one, and its options set on a libcurl easy handle.
 *
 * Defaults are Alertmanager's: no proxy unless proxy_url is given or
 * proxy_from_environment is true (libcurl would otherwise read
 * http_proxy from the environment), redirects followed (at most 10, http
 * and https only), HTTP/2 when TLS offers it, the system's CAs.
 */
#include "receiver/alert/notifier_http_config.h"

#include "common/buf.h"
#include "common/err.h"
#include "receiver/alert/channel_alertmanager.h"
#include "receiver/alert/channel_common.h"
#include "receiver/alert/channel_pagerduty.h"
#include "receiver/alert/channel_sms.h"
#include "receiver/alert/channel_webhook.h"
#include "receiver/alert/notifier.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/banned.h"

/* --- fields ------------------------------------------------------------- */

int vg_http_config_mark(const void *member, struct vg_err *err)
{
	(void)err;
	((struct vg_http_config *)(uintptr_t)member)->is_given = true;
	return 0;
}

int vg_http_config_check_auth_type(const void *member, struct vg_err *err)
{
	const char *s = *(const char *const *)member;

	if (strcasecmp(s, "basic") == 0)
		return vg_err_set(err, VG_EINVAL, "cannot be basic: use basic_auth");
	if (!*s)
		return vg_err_set(err, VG_EINVAL, "is empty");
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return vg_err_set(err, VG_EINVAL, "must be one word (Bearer)");
	return 0;
}

static int check_text(const void *member, struct vg_err *err)
{
	for (const char *s = *(const char *const *)member; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return vg_err_set(err, VG_EINVAL, "holds a control character");
	return 0;
}

static int check_proxy_url(const void *member, struct vg_err *err)
{
	static const char *const schemes[] = { "http://", "https://", "socks5://", "socks5h://", "socks4://", NULL };
	const char *s = *(const char *const *)member;

	for (size_t i = 0; schemes[i]; i++) {
		size_t n = strlen(schemes[i]);
		if (strncmp(s, schemes[i], n) == 0) {
			if (s[n] == '\0' || s[n] == '/' || s[n] == ':')
				return vg_err_set(err, VG_EINVAL, "has no host");
			return check_text(member, err);
		}
	}
	return vg_err_set(err, VG_EINVAL, "must start with http://, https:// or socks5://");
}

static const char *const tls_versions[] = { "TLS10", "TLS11", "TLS12", "TLS13", NULL };

static int check_tls_version(const void *member, struct vg_err *err)
{
	const char *s = *(const char *const *)member;

	for (size_t i = 0; tls_versions[i]; i++)
		if (strcmp(s, tls_versions[i]) == 0)
			return 0;
	return vg_err_set(err, VG_EINVAL, "must be TLS10, TLS11, TLS12 or TLS13");
}

#define H(key, type, member) key, type, offsetof(struct vg_http_config, member), NULL

static const struct vg_conf_field basic_auth_fields[] = {
	{ H("username", VG_CONF_STR, username), 0, 0, check_text },
	{ H("username_file", VG_CONF_STR, username_file), 0, 0, vg_conf_check_path },
	{ H("password", VG_CONF_STR, password), 0, 0, NULL },
	{ H("password_file", VG_CONF_STR, password_file), 0, 0, vg_conf_check_path },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct vg_conf_field authorization_fields[] = {
	{ H("type", VG_CONF_STR, auth_type), 0, 0, vg_http_config_check_auth_type },
	{ H("credentials", VG_CONF_STR, credentials), 0, 0, NULL },
	{ H("credentials_file", VG_CONF_STR, credentials_file), 0, 0, vg_conf_check_path },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct vg_conf_field tls_fields[] = {
	{ H("ca_file", VG_CONF_STR, ca_file), 0, 0, vg_conf_check_path },
	{ H("cert_file", VG_CONF_STR, cert_file), 0, 0, vg_conf_check_path },
	{ H("key_file", VG_CONF_STR, key_file), 0, 0, vg_conf_check_path },
	{ H("server_name", VG_CONF_STR, server_name), 0, 0, check_text },
	{ H("insecure_skip_verify", VG_CONF_BOOL, insecure_skip_verify), 0, 0, NULL },
	{ H("min_version", VG_CONF_STR, min_version), 0, 0, check_tls_version },
	{ H("max_version", VG_CONF_STR, max_version), 0, 0, check_tls_version },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

const struct vg_conf_field vg_http_config_fields[] = {
	{ "basic_auth", VG_CONF_SECTION, 0, basic_auth_fields, 0, 0, NULL },
	{ "authorization", VG_CONF_SECTION, 0, authorization_fields, 0, 0, NULL },
	{ H("bearer_token", VG_CONF_STR, bearer_token), 0, 0, NULL },
	{ H("bearer_token_file", VG_CONF_STR, bearer_token_file), 0, 0, vg_conf_check_path },
	{ "tls_config", VG_CONF_SECTION, 0, tls_fields, 0, 0, NULL },
	{ H("proxy_url", VG_CONF_STR, proxy_url), 0, 0, check_proxy_url },
	{ H("no_proxy", VG_CONF_STR, no_proxy), 0, 0, check_text },
	{ H("proxy_from_environment", VG_CONF_BOOL, proxy_from_environment), 0, 0, NULL },
	{ H("follow_redirects", VG_CONF_BOOL, follow_redirects.value), 0, 0, vg_conf_mark_given },
	{ H("enable_http2", VG_CONF_BOOL, enable_http2.value), 0, 0, vg_conf_mark_given },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

#undef H

/* --- checks ------------------------------------------------------------- */

static bool has_basic(const struct vg_http_config *h)
{
	return h->username || h->username_file || h->password || h->password_file;
}

static bool has_authorization(const struct vg_http_config *h)
{
	return h->auth_type || h->credentials || h->credentials_file;
}

static bool has_bearer(const struct vg_http_config *h)
{
	return h->bearer_token || h->bearer_token_file;
}

bool vg_http_config_has_auth(const struct vg_http_config *h)
{
	return has_basic(h) || has_authorization(h) || has_bearer(h);
}

static int check_readable(const char *path, const char *key, struct vg_err *err)
{
	if (path && access(path, R_OK) != 0)
		return vg_err_set(err, VG_EINVAL, "tls_config.%s: cannot read %s", key, path);
	return 0;
}

int vg_http_config_check(const struct vg_http_config *h, struct vg_err *err)
{
	int r;

	if (has_basic(h) + has_authorization(h) + has_bearer(h) > 1)
		return vg_err_set(err, VG_EINVAL,
				  "http_config: at most one of basic_auth, authorization and bearer_token may be given");
	if (has_basic(h)) {
		if ((r = vg_channel_check_secret(h->username, h->username_file, "username", false, err)) < 0 ||
		    (r = vg_channel_check_secret(h->password, h->password_file, "password", false, err)) < 0) {
			vg_err_prefix(err, "http_config.basic_auth");
			return r;
		}
	}
	if (has_authorization(h) &&
	    (r = vg_channel_check_secret(h->credentials, h->credentials_file, "credentials", true, err)) < 0) {
		vg_err_prefix(err, "http_config.authorization");
		return r;
	}
	if (has_bearer(h) &&
	    (r = vg_channel_check_secret(h->bearer_token, h->bearer_token_file, "bearer_token", true, err)) < 0) {
		vg_err_prefix(err, "http_config");
		return r;
	}
	if (!h->cert_file != !h->key_file)
		return vg_err_set(err, VG_EINVAL, "http_config.tls_config: cert_file and key_file go together");
	if ((r = check_readable(h->ca_file, "ca_file", err)) < 0 || (r = check_readable(h->cert_file, "cert_file", err)) < 0 ||
	    (r = check_readable(h->key_file, "key_file", err)) < 0) {
		vg_err_prefix(err, "http_config");
		return r;
	}
	if (h->min_version && h->max_version && strcmp(h->min_version, h->max_version) > 0)
		return vg_err_set(err, VG_EINVAL, "http_config.tls_config: min_version is above max_version");
	return 0;
}

/* --- copy --------------------------------------------------------------- */

/* Replaces each string member of fields (sections too) in dst, a bitwise
 * copy of src, by its own copy; a failed copy leaves NULL. */
static int dup_strings(const struct vg_conf_field *fields, void *dst)
{
	int r = 0;

	for (size_t i = 0; fields[i].key; i++) {
		if (fields[i].type == VG_CONF_SECTION) {
			if (dup_strings(fields[i].section, dst) != 0)
				r = VG_ENOMEM;
			continue;
		}
		if (fields[i].type != VG_CONF_STR)
			continue;
		char **m = (char **)((char *)dst + fields[i].offset);
		if (*m && (*m = strdup(*m)) == NULL)
			r = VG_ENOMEM;
	}
	return r;
}

int vg_http_config_copy(struct vg_http_config *dst, const struct vg_http_config *src)
{
	vg_conf_release(vg_http_config_fields, dst);
	*dst = *src;
	return dup_strings(vg_http_config_fields, dst);
}

/* Where each HTTP channel's item holds its http_config. */
static const struct {
	const struct vg_channel_ops *ops;
	size_t list_offset, item_size, http_offset;
} http_kinds[] = {
	{ &vg_channel_webhook, offsetof(struct vg_receiver_conf, webhook_configs), sizeof(struct vg_webhook_config),
	  offsetof(struct vg_webhook_config, http) },
	{ &vg_channel_pagerduty, offsetof(struct vg_receiver_conf, pagerduty_configs),
	  sizeof(struct vg_pagerduty_config), offsetof(struct vg_pagerduty_config, http) },
	{ &vg_channel_sms, offsetof(struct vg_receiver_conf, sms_configs), sizeof(struct vg_sms_config),
	  offsetof(struct vg_sms_config, http) },
	{ &vg_channel_alertmanager, offsetof(struct vg_receiver_conf, alertmanager_configs),
	  sizeof(struct vg_alertmanager_config), offsetof(struct vg_alertmanager_config, http) },
};

int vg_http_config_inherit(struct vg_alerting_config *c, const char *file, struct vg_err *err)
{
	const struct vg_http_config *g = &c->global.http_config;
	int r;

	if (!g->is_given)
		return 0;
	if ((r = vg_http_config_check(g, err)) != 0) {
		vg_err_prefix(err, "%s: alerting.global", file);
		return r;
	}
	for (size_t ri = 0; ri < c->receivers.n; ri++) {
		char *rc = (char *)c->receivers.v + ri * sizeof(struct vg_receiver_conf);
		for (size_t k = 0; k < sizeof(http_kinds) / sizeof(http_kinds[0]); k++) {
			const struct vg_conf_list *l = (const struct vg_conf_list *)(rc + http_kinds[k].list_offset);
			for (size_t i = 0; i < l->n; i++) {
				struct vg_http_config *h =
					(struct vg_http_config *)((char *)l->v + i * http_kinds[k].item_size +
								  http_kinds[k].http_offset);
				if (h->is_given)
					continue;
				if (vg_http_config_copy(h, g) != 0)
					return vg_err_set(err, VG_ENOMEM, "out of memory");
			}
		}
	}
	return 0;
}

/* --- requests ----------------------------------------------------------- */

void vg_http_applied_release(struct vg_http_applied *a)
{
	vg_channel_secret_free(a->username);
	vg_channel_secret_free(a->password);
	vg_channel_secret_free(a->credentials);
	vg_channel_secret_free(a->auth_header);
	free(a->host_header);
	curl_free(a->url);
	curl_slist_free_all(a->connect_to);
	memset(a, 0, sizeof(*a));
}

static long tls_version_bits(const char *v, bool is_max)
{
	static const long mins[] = { CURL_SSLVERSION_TLSv1_0, CURL_SSLVERSION_TLSv1_1, CURL_SSLVERSION_TLSv1_2,
				     CURL_SSLVERSION_TLSv1_3 };
	static const long maxs[] = { CURL_SSLVERSION_MAX_TLSv1_0, CURL_SSLVERSION_MAX_TLSv1_1,
				     CURL_SSLVERSION_MAX_TLSv1_2, CURL_SSLVERSION_MAX_TLSv1_3 };

	for (size_t i = 0; tls_versions[i]; i++)
		if (v && strcmp(v, tls_versions[i]) == 0)
			return is_max ? maxs[i] : mins[i];
	return is_max ? CURL_SSLVERSION_MAX_DEFAULT : CURL_SSLVERSION_DEFAULT;
}

static int append_header(struct curl_slist **headers, const char *line, struct vg_err *err)
{
	struct curl_slist *h = curl_slist_append(*headers, line);

	if (!h)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	*headers = h;
	return 0;
}

/* tls_config.server_name: the request goes to server_name (SNI and the
 * certificate's name), connected to the URL's host, with the URL's Host
 * header, as Go's tls.Config.ServerName. */
static int apply_server_name(const struct vg_http_config *h, CURL *c, const char *url, struct curl_slist **headers,
			     struct vg_http_applied *a, struct vg_err *err)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *given_port = NULL;
	struct vg_buf b = VG_BUF_INIT;
	int r = 0;

	if (!u)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		r = vg_err_set(err, VG_EINVAL, "the URL cannot be read");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &given_port, 0) != CURLUE_OK)
		given_port = NULL;
	if (curl_url_set(u, CURLUPART_HOST, h->server_name, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &a->url, 0) != CURLUE_OK) {
		r = vg_err_set(err, VG_EINVAL, "tls_config.server_name: not a host name");
		goto out;
	}
	vg_buf_printf(&b, "%s:%s:%s:%s", h->server_name, port, host, port);
	a->connect_to = curl_slist_append(NULL, vg_buf_cstr(&b));
	vg_buf_reset(&b);
	vg_buf_printf(&b, "Host: %s%s%s", host, given_port ? ":" : "", given_port ? given_port : "");
	if (vg_buf_failed(&b) || !a->connect_to || !(a->host_header = vg_buf_detach(&b, NULL))) {
		r = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto out;
	}
	if ((r = append_header(headers, a->host_header, err)) != 0)
		goto out;
	curl_easy_setopt(c, CURLOPT_URL, a->url);
	curl_easy_setopt(c, CURLOPT_CONNECT_TO, a->connect_to);
out:
	vg_buf_release(&b);
	curl_free(host);
	curl_free(port);
	curl_free(given_port);
	curl_url_cleanup(u);
	return r;
}

static int apply_auth(const struct vg_http_config *h, CURL *c, struct curl_slist **headers, struct vg_http_applied *a,
		      struct vg_err *err)
{
	const char *user, *pass, *cred;
	int r;

	if (has_basic(h)) {
		if ((r = vg_channel_secret(h->username, h->username_file, &user, &a->username, err)) < 0) {
			vg_err_prefix(err, "http_config.basic_auth.username_file");
			return r;
		}
		if ((r = vg_channel_secret(h->password, h->password_file, &pass, &a->password, err)) < 0) {
			vg_err_prefix(err, "http_config.basic_auth.password_file");
			return r;
		}
		if (pass)
			a->secrets[a->n_secrets++] = pass;
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, user ? user : "");
		curl_easy_setopt(c, CURLOPT_PASSWORD, pass ? pass : "");
		return 0;
	}
	if (!has_authorization(h) && !has_bearer(h))
		return 0;
	if (has_bearer(h))
		r = vg_channel_secret(h->bearer_token, h->bearer_token_file, &cred, &a->credentials, err);
	else
		r = vg_channel_secret(h->credentials, h->credentials_file, &cred, &a->credentials, err);
	if (r < 0) {
		vg_err_prefix(err, has_bearer(h) ? "http_config.bearer_token_file" : "http_config.authorization.credentials_file");
		return r;
	}
	a->secrets[a->n_secrets++] = cred;
	struct vg_buf b = VG_BUF_INIT;
	vg_buf_printf(&b, "Authorization: %s %s", h->auth_type ? h->auth_type : "Bearer", cred);
	if (vg_buf_failed(&b) || !(a->auth_header = vg_buf_detach(&b, NULL))) {
		if (b.data)
			explicit_bzero(b.data, b.cap);
		vg_buf_release(&b);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	return append_header(headers, a->auth_header, err);
}

int vg_http_config_apply(const struct vg_http_config *h, void *curl, const char *url, struct curl_slist **headers,
			 struct vg_http_applied *a, struct vg_err *err)
{
	CURL *c = curl;
	int r;

	memset(a, 0, sizeof(*a));
	if (h->proxy_url)
		curl_easy_setopt(c, CURLOPT_PROXY, h->proxy_url);
	else if (!h->proxy_from_environment)
		curl_easy_setopt(c, CURLOPT_PROXY, "");
	if (h->no_proxy)
		curl_easy_setopt(c, CURLOPT_NOPROXY, h->no_proxy);
	if (!h->follow_redirects.is_given || h->follow_redirects.value) {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	}
	if (h->enable_http2.is_given && !h->enable_http2.value)
		curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	if (h->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
	if (h->cert_file) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, h->cert_file);
		curl_easy_setopt(c, CURLOPT_SSLKEY, h->key_file);
	}
	if (h->insecure_skip_verify) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (h->min_version || h->max_version)
		curl_easy_setopt(c, CURLOPT_SSLVERSION,
				 tls_version_bits(h->min_version, false) | tls_version_bits(h->max_version, true));
	if (h->server_name && strncmp(url, "https://", 8) == 0 &&
	    (r = apply_server_name(h, c, url, headers, a, err)) != 0)
		goto fail;
	if ((r = apply_auth(h, c, headers, a, err)) != 0)
		goto fail;
	return 0;
fail:
	vg_http_applied_release(a);
	return r;
}
