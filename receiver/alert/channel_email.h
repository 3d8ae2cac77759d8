/*
 * channel_email.h: notifications as email over SMTP or SMTPS, through
 * libcurl (docs: /work/shared/interfaces/notifications.md (c); man page
 * vigil-receiver.yaml(5), "email_configs"). Alertmanager's email_config
 * keys, so its files move over; the message's texts are Vigil's defaults
 * (no templates): Alertmanager's default subject, and each alert's
 * labels, annotations, start and source listed in a plain-text and an
 * HTML part of one multipart/alternative RFC 5322 message.
 *
 * smarthost port 465 means implicit TLS (smtps://), as in Alertmanager,
 * unless Vigil's implicit_tls key says otherwise; other ports speak plain
 * SMTP and, with require_tls (the default), must upgrade with STARTTLS or
 * the send fails. AUTH is sent when auth_username is set.
 */
#ifndef VG_CHANNEL_EMAIL_H
#define VG_CHANNEL_EMAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "receiver/alert/channel.h"

struct vg_buf;

struct vg_email_config {
	struct vg_channel_item item; /* first: channel.h; send_resolved default false */
	char *to;                    /* required: "a@x, Name <b@y>" (the To: header as given) */
	char *from;                  /* required: the From: header and MAIL FROM */
	char *smarthost;             /* required: host:port */
	char *hello;                 /* EHLO name, default "localhost" */
	char *auth_username;
	char *auth_password;         /* or auth_password_file */
	char *auth_password_file;
	struct vg_conf_flag require_tls; /* default true */
	struct vg_conf_flag implicit_tls; /* smtps://; default: port 465 */
	char *tls_ca_file;           /* tls_config: */
	char *tls_cert_file;
	char *tls_key_file;
	bool tls_insecure_skip_verify;
	/* set by prepare, freed by release */
	char *url;                   /* smtp[s]://host:port/hello */
	char *mail_from;             /* <addr> */
	char **rcpt;                 /* <addr> each */
	size_t n_rcpt;
	char *domain;                /* of from, for Message-ID */
};

extern const struct vg_conf_field vg_email_fields[];
extern const struct vg_channel_ops vg_channel_email;

/* Builds the whole message for n (CRLF lines, headers, both parts) into
 * out; date_s is the Date header's Unix time. For send and the tests. */
void vg_email_message(struct vg_buf *out, const struct vg_email_config *c, const struct vg_notification *n,
		      int64_t date_s);

#endif
