/*
 * channel_pagerduty.h: notifications as PagerDuty Events API v2 events
 * (docs: /work/shared/interfaces/notifications.md (b); man page
 * vigil-receiver.yaml(5), "pagerduty_configs").
 *
 * By default each alert is its own PagerDuty alert: one event per alert of
 * the notification, dedup_key = the alert's fingerprint (16 hex digits,
 * alert.h), "trigger" while it fires and "resolve" once resolved, so two
 * distinct alerts of one group never merge into one incident.
 * dedup_key_per: group sends one event per notification instead, with
 * Alertmanager's key (lower-case hex SHA-256 of the group key).
 */
#ifndef VG_CHANNEL_PAGERDUTY_H
#define VG_CHANNEL_PAGERDUTY_H

#include <stdbool.h>

#include "receiver/alert/channel.h"
#include "receiver/alert/notifier_http_config.h"

#define VG_PAGERDUTY_URL "https://events.pagerduty.com/v2/enqueue"
#define VG_PAGERDUTY_SUMMARY_MAX 1024 /* characters, as the API requires */

struct vg_pagerduty_config {
	struct vg_channel_item item; /* first: channel.h; send_resolved default true */
	char *routing_key;           /* or routing_key_file: exactly one */
	char *routing_key_file;
	char *url;                   /* default VG_PAGERDUTY_URL */
	char *client;                /* default "Vigil" */
	char *client_url;            /* default: the notification's external_url */
	char *severity;              /* critical|error|warning|info; default error */
	char *severity_label;        /* an alert label whose value, when valid, wins */
	char *source;                /* default: the instance label, else the receiver */
	char *component, *group, *class;
	char *dedup_key_per;         /* "alert" (default) or "group" */
	bool is_per_group;           /* set by prepare from dedup_key_per */
	struct vg_http_config http;  /* http_config (global:'s when absent) */
	char *service_key;           /* Alertmanager's Events API v1 keys: refused */
	char *service_key_file;
};

extern const struct vg_conf_field vg_pagerduty_fields[];
extern const struct vg_channel_ops vg_channel_pagerduty;

/* The dedup_key of a group: lower-case hex SHA-256 of group_key, out[65]. */
void vg_pagerduty_group_dedup_key(const char *group_key, char out[65]);

#endif
