/*
 * notifier_http_config.h: Alertmanager's http_config (prometheus/common's
 * HTTP client configuration) on every HTTP channel (webhook, PagerDuty,
 * SMS, Alertmanager) and in the alerting section's global:, where it is
 * the default of every item that has none of its own (the whole mapping,
 * not merged key by key, as Alertmanager takes it). Man page
 * vigil-receiver.yaml(5), "http_config".
 *
 *   http_config:
 *     basic_auth: {username, username_file, password, password_file}
 *     authorization: {type (default Bearer), credentials, credentials_file}
 *     bearer_token, bearer_token_file   (the older keys: authorization Bearer)
 *     tls_config: {ca_file, cert_file, key_file, server_name,
 *                  insecure_skip_verify, min_version, max_version}
 *     proxy_url, no_proxy, proxy_from_environment
 *     follow_redirects (default true), enable_http2 (default true)
 *
 * Unknown keys are refused with file and line by the loader; what only
 * the whole mapping can say (one kind of authentication, a file that
 * cannot be read) by vg_http_config_check. Secret files are read when the
 * configuration is read and again at every request, so they can rotate;
 * their content never reaches a log line.
 *
 * Applied to a libcurl easy handle by vg_http_config_apply, called from
 * the one place channels make requests (channel_common.c).
 */
#ifndef VG_NOTIFIER_HTTP_CONFIG_H
#define VG_NOTIFIER_HTTP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

struct vg_err;
struct curl_slist;

struct vg_http_config {
	bool is_given; /* the http_config key was in the file */
	/* basic_auth */
	char *username, *username_file;
	char *password, *password_file;
	/* authorization */
	char *auth_type; /* default Bearer */
	char *credentials, *credentials_file;
	char *bearer_token, *bearer_token_file;
	/* tls_config */
	char *ca_file, *cert_file, *key_file;
	char *server_name;
	bool insecure_skip_verify;
	char *min_version, *max_version; /* TLS10 .. TLS13 */
	/* proxies and the rest */
	char *proxy_url;
	char *no_proxy;
	bool proxy_from_environment;
	struct vg_conf_flag follow_redirects;
	struct vg_conf_flag enable_http2;
};

extern const struct vg_conf_field vg_http_config_fields[];

/* The check of authorization.type: one word, not "basic" (Prometheus's
 * rule: basic_auth says that). */
int vg_http_config_check_auth_type(const void *member, struct vg_err *err);

/* The check of an http_config field: records that the key was given. */
int vg_http_config_mark(const void *member, struct vg_err *err);

/* The line of an item's table: http_config as a member of type. */
#define VG_HTTP_CONFIG_FIELD(type, member)                                                           \
	{ "http_config", VG_CONF_STRUCT, offsetof(type, member), vg_http_config_fields, 0, 0,        \
	  vg_http_config_mark }

/* What only the whole mapping can say: at most one kind of
 * authentication, an inline value or its file (not both), credentials
 * for authorization and bearer_token, the secret and TLS files readable
 * now, cert_file with key_file. err names the key under http_config. */
int vg_http_config_check(const struct vg_http_config *h, struct vg_err *err);

/* Whether h authenticates (basic_auth, authorization or bearer_token). */
bool vg_http_config_has_auth(const struct vg_http_config *h);

/* dst (zeroed or released) becomes a deep copy of src; VG_ENOMEM. For
 * global:'s default, released with the item's own table. */
int vg_http_config_copy(struct vg_http_config *dst, const struct vg_http_config *src);

/* What applying h to one request owns until the request is done. */
struct vg_http_applied {
	char *username;     /* read from username_file, or NULL */
	char *password;     /* read from a file, or NULL */
	char *credentials;  /* the same */
	char *auth_header;  /* "Authorization: <type> <credentials>" */
	char *host_header;  /* server_name: "Host: <the URL's host>" */
	char *url;          /* server_name: the URL with server_name as host */
	struct curl_slist *connect_to;
	const char *secrets[4]; /* to keep out of details */
	size_t n_secrets;
};

/* Sets h's options on the easy handle curl for a request to url, and
 * appends its headers to *headers. A secret file that cannot be read now
 * fails with err (the caller retries later: the file may come back).
 * Release a with vg_http_applied_release after the transfer. */
int vg_http_config_apply(const struct vg_http_config *h, void *curl, const char *url, struct curl_slist **headers,
			 struct vg_http_applied *a, struct vg_err *err);
void vg_http_applied_release(struct vg_http_applied *a);

/* For vg_alerting_validate: checks global.http_config and copies it into
 * every HTTP channel item without an http_config of its own; err names
 * file and key. */
struct vg_alerting_config;
int vg_http_config_inherit(struct vg_alerting_config *c, const char *file, struct vg_err *err);

#endif
