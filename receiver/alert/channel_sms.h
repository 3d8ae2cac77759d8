/*
 * channel_sms.h: phone calls and text messages through an HTTP provider
 * (docs: /work/shared/interfaces/notifications.md (d); man page
 * vigil-receiver.yaml(5), "sms_configs"). Vigil's own list, since
 * Alertmanager has none; one request per number in `to`.
 *
 * preset: twilio sends Twilio's request: a form-encoded POST to
 * <url>/2010-04-01/Accounts/<account_sid>/Messages.json (kind: sms, To,
 * From or MessagingServiceSid, Body) or .../Calls.json (kind: voice, To,
 * From, Twiml <Response><Say>message</Say></Response> or Url), with HTTP
 * basic auth account_sid:auth_token. Without a preset the request is
 * generic: method, url, headers and body are templates.
 *
 * Templates: text with placeholders in braces, replaced by the
 * notification's fields and escaped for where they stand (URL-encoded in
 * the URL and in a form body, JSON-escaped in a JSON body, control
 * characters dropped in headers); "{{" and "}}" are literal braces.
 *   {status}      firing or resolved        {title}  [FIRING:2] DiskFull ...
 *   {alertname}   the common alertname      {summary} the summary annotation
 *   {description} the description annotation
 *   {labels}      common labels, a="x", b="y"
 *   {count} {firing} {resolved}  numbers of alerts
 *   {receiver} {group_key} {external_url}
 *   {to} {from}   this request's number and the sender
 *   {message}     the rendered `message` template, cut to max_length
 *   {label.NAME} {annotation.NAME}  one common label or annotation (else
 *                 the first alert's)
 * An unknown placeholder is refused when the configuration is read.
 */
#ifndef VG_CHANNEL_SMS_H
#define VG_CHANNEL_SMS_H

#include <stdbool.h>
#include <stdint.h>

#include "receiver/alert/channel.h"
#include "receiver/alert/notifier_http_config.h"

struct vg_buf;

#define VG_SMS_TWILIO_URL "https://api.twilio.com"
#define VG_SMS_DEFAULT_MESSAGE "{title}: {summary}"
#define VG_SMS_MAX_LENGTH 1600 /* Twilio's limit on Body, in characters */

enum vg_sms_escape {
	VG_SMS_RAW,    /* the message itself */
	VG_SMS_URL,    /* a URL or a form body: percent-encoded */
	VG_SMS_JSON,   /* inside a JSON string */
	VG_SMS_HEADER, /* a header value: no control characters */
};

struct vg_sms_config {
	struct vg_channel_item item; /* first: channel.h; send_resolved default false */
	char *preset;                /* "twilio", or absent: generic */
	char *kind;                  /* twilio: "sms" (default) or "voice" */
	char *url;                   /* twilio: base URL (VG_SMS_TWILIO_URL); generic: template, required */
	char *account_sid;           /* twilio: required */
	char *auth_token;            /* twilio: auth_token or auth_token_file, required */
	char *auth_token_file;
	char *from;                  /* twilio: from or messaging_service_sid */
	char *messaging_service_sid;
	char *twiml_url;             /* twilio voice: a TwiML URL instead of inline <Say> */
	struct vg_conf_strlist to;   /* numbers, E.164; at least one */
	char *message;               /* template; default VG_SMS_DEFAULT_MESSAGE */
	uint64_t max_length;         /* characters of {message}; default VG_SMS_MAX_LENGTH */
	/* generic */
	char *method;                /* default POST */
	struct vg_conf_strlist headers; /* "Name: value" templates */
	char *content_type;          /* default application/x-www-form-urlencoded */
	char *body;                  /* template; none: an empty body */
	char *username;              /* HTTP basic auth, with password or password_file */
	char *password;
	char *password_file;
	struct vg_conf_strlist success_codes; /* "201", "2xx"; default 2xx */
	struct vg_conf_strlist retry_codes;   /* default 408, 429, 5xx */
	/* set by prepare */
	bool is_twilio, is_voice;
	enum vg_sms_escape body_escape;
	struct vg_http_config http;  /* http_config (global:'s when absent) */
};

extern const struct vg_conf_field vg_sms_fields[];
extern const struct vg_channel_ops vg_channel_sms;

/* Whether template t (NUL-terminated) is valid: 0, or VG_EINVAL naming the
 * offending placeholder and its offset. */
int vg_sms_template_check(const char *t, struct vg_err *err);

/* Appends t with the placeholders of notification n replaced and escaped
 * for esc; to, from and message may be NULL (then ""). t must have passed
 * vg_sms_template_check. */
void vg_sms_render(struct vg_buf *out, const char *t, enum vg_sms_escape esc, const struct vg_notification *n,
		   const char *to, const char *from, const char *message);

#endif
