/*
 * channel_webhook.h: the webhook channel (channel.h): Alertmanager's
 * version-4 message (payload.h) POSTed to a URL, so receivers written for
 * Alertmanager work unchanged.
 */
#ifndef VG_CHANNEL_WEBHOOK_H
#define VG_CHANNEL_WEBHOOK_H

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "receiver/alert/channel.h"
#include "receiver/alert/notifier_http_config.h"

/* One item of a receiver's webhook_configs. */
struct vg_webhook_config {
	char *url;              /* http:// or https:// */
	bool send_resolved;     /* default true */
	bool has_send_resolved; /* set by the field's check: the key was given */
	uint64_t max_alerts;    /* 0: all */
	int64_t timeout_ms;     /* timeout: a request's whole time; default 10 s */
	char *url_file;         /* or the URL in a file (url or url_file: exactly one) */
	struct vg_http_config http; /* http_config (global:'s when absent) */
};

extern const struct vg_conf_field vg_webhook_fields[];
extern const struct vg_channel_ops vg_channel_webhook;

/* The User-Agent of every request Vigil's channels send. */
#define VG_CHANNEL_USER_AGENT "Alertmanager/0.25.0 (Vigil " PACKAGE_VERSION ")"

#endif
