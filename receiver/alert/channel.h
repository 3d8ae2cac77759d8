/*
 * channel.h: one way out for a notification (webhook, email, PagerDuty,
 * SMS/phone, Alertmanager), behind one table of operations.
 *
 * Each channel lives in channel_<kind>.c with a header channel_<kind>.h that
 * exports its configuration item (struct vg_<kind>_config), the fields that
 * read it from a receiver's <kind>_configs list in the alerting: section
 * (extern const struct vg_conf_field vg_<kind>_fields[], Alertmanager's key
 * names), and extern const struct vg_channel_ops vg_channel_<kind>. The
 * notifier (notifier*.c) owns routing, grouping, the delivery queue, the
 * notification log and retry timing; a channel only turns one notification
 * into requests and says how they went.
 *
 * send() runs on the notifier's delivery thread and may block up to the
 * item's timeout (libcurl, easy interface). It never retries itself: it
 * reports VG_CHANNEL_RETRY for network errors, 5xx and 429 (with the
 * Retry-After it was given, in ms, else 0) and VG_CHANNEL_FAIL for an
 * answer retrying cannot fix (4xx other than 429, a bad address); the
 * notifier backs off and retries, persistently.
 */
#ifndef VG_CHANNEL_H
#define VG_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "receiver/alert/alert.h"

struct vg_err;

/* One notification: one alert group as delivered to one receiver. */
struct vg_notification {
	const char *receiver;      /* the receiver's name */
	const char *group_key;     /* Alertmanager's groupKey: stable per route and group */
	bool is_firing;            /* at least one alert firing */
	struct vg_conf_labels group_labels;       /* the group_by labels' values */
	struct vg_conf_labels common_labels;      /* pairs equal in every alert */
	struct vg_conf_labels common_annotations; /* the same for annotations */
	const char *external_url;  /* the receiver's own URL */
	size_t n_alerts;
	const struct vg_notify_alert *alerts;
	uint64_t truncated_alerts; /* left out by max_alerts */
	int64_t now_ms;            /* this attempt's time by the notifier's clock (a
	                              Retry-After date is read against it); 0: the wall clock */
};

enum vg_channel_outcome {
	VG_CHANNEL_OK,
	VG_CHANNEL_RETRY,
	VG_CHANNEL_FAIL,
};

struct vg_channel_result {
	enum vg_channel_outcome outcome;
	int64_t retry_after_ms; /* VG_CHANNEL_RETRY: what the peer asked for, else 0 */
	char detail[256];       /* "HTTP 503", "connection refused", ...: for the log */
};

struct vg_channel_ops {
	const char *key;        /* "webhook_configs", "email_configs", ... */
	const char *name;       /* "webhook", "email", ...: the metrics' channel label */
	/* After the item's fields are read: defaults, validation (err names
	 * the key); may allocate, freed by release. */
	int (*prepare)(void *item, struct vg_err *err);
	/* Sends n; fills res. Returns 0 when res says what happened, an error
	 * code only for a local failure (out of memory). */
	int (*send)(const void *item, const struct vg_notification *n, struct vg_channel_result *res,
		    struct vg_err *err);
	void (*release)(void *item); /* what prepare allocated; not the item */
};

/* --- Added with the channels of branch channels (email, PagerDuty, SMS,
 * Alertmanager); nothing above changed. ---
 *
 * Every struct vg_<kind>_config of these channels begins with this item
 * head, so the notifier reads the keys all of them share without knowing
 * the kind: ((const struct vg_channel_item *)item)->send_resolved. The
 * channel's prepare() fills the defaults (send_resolved differs by kind,
 * as in Alertmanager), so read it only after prepare. */
struct vg_channel_item {
	bool send_resolved;     /* include resolved alerts (and notify on resolve) */
	bool has_send_resolved; /* the key was given: set by vg_channel_mark_given */
	int64_t timeout_ms;     /* per request; 0 in the file: the kind's default */
};

/* A check for the send_resolved field: records in the item head that the
 * key was given, so prepare can tell "false" from "absent". */
int vg_channel_mark_given(const void *member, struct vg_err *err);

/* The item head's keys, first in each vg_<kind>_fields[] table. */
#define VG_CHANNEL_ITEM_FIELDS(type)                                                              \
	{ "send_resolved", VG_CONF_BOOL, offsetof(type, item.send_resolved), NULL, 0, 0,          \
	  vg_channel_mark_given },                                                                \
	{ "timeout", VG_CONF_DURATION, offsetof(type, item.timeout_ms), NULL, 1, 3600 * 1000, NULL }

#endif
