/*
 * channel_common.h: what the email, PagerDuty, SMS and Alertmanager
 * channels share: one HTTP request through libcurl's easy interface with
 * its outcome mapped to channel.h's (2xx OK; 429, 5xx and network errors
 * RETRY with Retry-After; other answers FAIL), secrets read from *_file
 * keys, the result's detail with secrets kept out, and the default texts
 * of a notification (Alertmanager's default title, an alert's summary,
 * labels listed).
 *
 * Invariants: no secret (a password, token or routing key the caller
 * names) ever reaches a detail string; a reply body is read up to
 * VG_CHANNEL_REPLY_MAX bytes and no further.
 *
 * libcurl: the program calls curl_global_init once before threads start
 * (main.c, and each test's main); each request uses its own easy handle
 * with CURLOPT_NOSIGNAL, so the notifier's delivery thread may call these.
 */
#ifndef VG_CHANNEL_COMMON_H
#define VG_CHANNEL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "receiver/alert/channel.h"

struct vg_buf;
struct vg_err;
struct vg_http_config;

#define VG_CHANNEL_REPLY_MAX (64 * 1024)
#define VG_CHANNEL_SECRET_MAX 4096

/* One HTTP request. Everything is borrowed for the call. */
struct vg_channel_http {
	const char *method;       /* "POST" when NULL */
	const char *url;          /* http:// or https:// only */
	const char *content_type; /* may be NULL */
	const char *body;
	size_t body_len;
	const char *const *headers; /* "Name: value" lines, n_headers of them */
	size_t n_headers;
	const char *username;       /* HTTP basic auth when not NULL */
	const char *password;
	int64_t timeout_ms;
	const char *const *secrets; /* strings never to show in res->detail */
	size_t n_secrets;
	/* The outcome of an HTTP status; NULL: vg_channel_http_outcome. */
	enum vg_channel_outcome (*classify)(const void *arg, long status);
	const void *classify_arg;
	const struct vg_http_config *http; /* the item's http_config, may be NULL */
	const char *user_agent;            /* NULL: "Vigil/VERSION" */
	int64_t now_ms;                    /* for a Retry-After date; 0: the wall clock */
};

/* Sends rq and fills res from the answer; *status gets the HTTP status (0
 * when there was none); reply (may be NULL) gets the start of the body.
 * Returns 0 when res says what happened, VG_ENOMEM otherwise. */
int vg_channel_http_do(const struct vg_channel_http *rq, struct vg_channel_result *res,
		       long *status, struct vg_buf *reply, struct vg_err *err);

/* The outcome of an HTTP status: 2xx OK, 408/429/5xx RETRY, else FAIL. */
enum vg_channel_outcome vg_channel_http_outcome(long status);

/* A Retry-After value (delta seconds, or an HTTP date: IMF-fixdate and
 * the obsolete RFC 850 and asctime forms) in ms from now_s, at most a
 * day; 0 when absent, unreadable or past. */
int64_t vg_channel_retry_after_ms(const char *value, int64_t now_s);

/* Sets res->detail from fmt, each of the secrets replaced by "<secret>". */
void vg_channel_detail(struct vg_channel_result *res, const char *const *secrets, size_t n_secrets,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Reads a secret from path into a new string (caller frees; clears it
 * first with explicit_bzero), trailing white space dropped. Refuses files
 * larger than VG_CHANNEL_SECRET_MAX, empty ones and NUL bytes. */
int vg_channel_read_secret(const char *path, char **out, struct vg_err *err);

/* Chooses between an inline secret and a *_file key for prepare: exactly
 * one of them when is_required, at most one otherwise; the file must be
 * readable now (send reads it again, so it can be rotated). */
int vg_channel_check_secret(const char *value, const char *file, const char *key, bool is_required,
			    struct vg_err *err);
/* The secret for a send: value, or the file's content. *to_free gets what
 * the caller frees with vg_channel_secret_free. */
int vg_channel_secret(const char *value, const char *file, const char **out, char **to_free,
		      struct vg_err *err);
void vg_channel_secret_free(char *s);

/* A check for URL fields: http:// or https:// and a host. */
int vg_channel_check_http_url(const void *member, struct vg_err *err);

/* --- texts ------------------------------------------------------------ */

/* A label's value in l (sorted or not), or NULL. */
const char *vg_channel_label(const struct vg_conf_labels *l, const char *name);
size_t vg_channel_n_firing(const struct vg_notification *n);
/* Alertmanager's default title: "[FIRING:2] DiskFull c1 (h1 page)". */
void vg_channel_title(struct vg_buf *b, const struct vg_notification *n);
/* One alert in a line: its summary annotation, else description, else
 * its alertname and labels. */
void vg_channel_alert_summary(struct vg_buf *b, const struct vg_notify_alert *a);
/* Labels as name="value" pairs joined by sep. */
void vg_channel_labels_text(struct vg_buf *b, const struct vg_conf_labels *l, const char *sep);
/* Cuts b to at most max_chars UTF-8 characters, the last one "…" when
 * it cut. */
void vg_channel_truncate_utf8(struct vg_buf *b, size_t max_chars);
/* s with <, >, &, " and ' as entities and control characters other than
 * newline dropped: for HTML and XML (TwiML) text and attributes. */
void vg_channel_xml_escape(struct vg_buf *b, const char *s);

#endif
