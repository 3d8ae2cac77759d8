/*
 * notifier.h: the receiver's notifier, configured by the alerting: section
 * of receiver.yaml in Alertmanager's configuration shape: alerts come in
 * (vg_notifier_push, the rule engine's sink; POST /api/v2/alerts), are
 * routed through the route tree to receivers, gathered in aggregation
 * groups, held back by silences, inhibition rules and mute time intervals,
 * and go out through channels (channel.h) from a persistent delivery
 * queue, recorded in a notification log so none is sent twice.
 *
 * Parts, one file each: notifier_config.c (the alerting: section's tables
 * and its compilation), notifier_route.c (route tree, matchers, time
 * intervals, inhibition), notifier_dispatch.c (alerts, aggregation groups,
 * their timers, the decision to notify), notifier_silence.c (silences and
 * the /api/v2 JSON decoders), notifier_queue.c (delivery queue,
 * notification log, the delivery thread, metrics), notifier_api.c (the
 * Alertmanager API v2 subset under /api/v2/), notifier_ack.c and
 * notifier_ack_api.c (acknowledgements, their store and their API
 * under /api/v2/acks), notifier_escalate.c (a route's escalate: steps).
 *
 * Time: group_wait, group_interval, repeat_interval, silences and time
 * intervals follow the receiver's calendar clock (common/clock.h), so
 * tests drive them; retry backoff and HTTP timeouts are monotonic.
 *
 * Threads: push and the API may be called from any thread; a dispatcher
 * thread runs the group timers and a delivery thread sends.
 */
#ifndef VG_NOTIFIER_H
#define VG_NOTIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "receiver/alert/alert.h"
#include "receiver/alert/notifier_http_config.h"

struct vg_buf;
struct vg_clock;
struct vg_err;

/* --- the alerting: section (Alertmanager's names) ---------------------- */

/* A route. Durations are kept as text until compiled: an absent key
 * (NULL) inherits the parent's value. */
struct vg_route_conf {
	char *receiver;
	struct vg_conf_strlist group_by;      /* label names, or "..." */
	char *group_wait, *group_interval, *repeat_interval;
	struct vg_conf_strlist matchers;      /* matchers.h text */
	bool is_continue;                     /* continue: */
	struct vg_conf_list routes;           /* struct vg_route_conf */
	struct vg_conf_strlist mute_time_intervals, active_time_intervals;
	/* Alertmanager's deprecated keys, still read: each pair a matcher
	 * (= and =~), joined with matchers (notifier_route.c). */
	struct vg_conf_labels match, match_re;
	struct vg_conf_list escalate;         /* struct vg_escalate_conf; Vigil's key, not inherited */
};

/* One escalation step: after an alert of the route has fired this long
 * unacknowledged, receiver is notified (once). */
struct vg_escalate_conf {
	int64_t after_ms;
	char *receiver;
};

/* A receiver: a name and lists of channel items, one list per kind. */
struct vg_receiver_conf {
	char *name;
	struct vg_conf_list webhook_configs;      /* struct vg_webhook_config */
	struct vg_conf_list email_configs;        /* struct vg_email_config */
	struct vg_conf_list pagerduty_configs;    /* struct vg_pagerduty_config */
	struct vg_conf_list sms_configs;          /* struct vg_sms_config */
	struct vg_conf_list alertmanager_configs; /* struct vg_alertmanager_config */
	/* A channel's list: one member here, one line in notifier_config.c's
	 * receiver_fields and one at the end of its nt_kinds. */
};

struct vg_inhibit_conf {
	struct vg_conf_strlist source_matchers, target_matchers, equal;
	/* Alertmanager's deprecated keys, joined with the matchers. */
	struct vg_conf_labels source_match, source_match_re, target_match, target_match_re;
};

struct vg_time_range_conf {
	char *start_time, *end_time; /* "HH:MM", end exclusive, "24:00" allowed */
};

struct vg_time_interval_item {
	struct vg_conf_list times;   /* struct vg_time_range_conf */
	struct vg_conf_strlist weekdays, days_of_month, months, years;
	char *location;              /* "UTC" only */
};

struct vg_time_interval_conf {
	char *name;
	struct vg_conf_list time_intervals; /* struct vg_time_interval_item */
};

/* global: Alertmanager's defaults for the whole file. The channels'
 * global keys (smtp_*, pagerduty_url, ...) sit here too, one member and
 * one line of global_fields in notifier_config.c each. */
struct vg_global_conf {
	int64_t resolve_timeout_ms; /* an alert posted without endsAt ends this long after; 5m */
	struct vg_http_config http_config; /* the default of HTTP channel items without one */
	/* defaults of email and PagerDuty items (notifier_global.c) */
	char *smtp_from, *smtp_hello, *smtp_smarthost;
	char *smtp_auth_username, *smtp_auth_password, *smtp_auth_password_file;
	struct vg_conf_flag smtp_require_tls;
	char *pagerduty_url;
};

struct vg_alerting_config {
	struct vg_global_conf global;
	struct vg_route_conf route;    /* route.receiver NULL: no alerting: section */
	struct vg_conf_list receivers; /* struct vg_receiver_conf */
	struct vg_conf_list inhibit_rules;  /* struct vg_inhibit_conf */
	struct vg_conf_list time_intervals; /* struct vg_time_interval_conf */
	char *external_url;            /* the receiver's URL in payloads; Vigil's key */
	bool is_prepared;              /* vg_alerting_validate ran each item's prepare */
};

/* The section's fields, relative to struct vg_alerting_config: the
 * receiver's table holds { "alerting", VG_CONF_STRUCT, offsetof(...),
 * vg_alerting_fields }. */
extern const struct vg_conf_field vg_alerting_fields[];

/* Whether the file had an alerting: section. */
static inline bool vg_alerting_is_configured(const struct vg_alerting_config *c)
{
	return c->route.receiver != NULL;
}

/* Cross-checks what the field checks cannot (receiver and time interval
 * names, the root route) and runs each channel item's prepare; err names
 * file and key. */
int vg_alerting_validate(struct vg_alerting_config *c, const char *file, struct vg_err *err);
/* vg_conf_release of the section plus each item's channel release. */
void vg_alerting_release(struct vg_alerting_config *c);

/* --- the notifier ---------------------------------------------------- */

struct vg_notifier;

struct vg_notifier_options {
	const struct vg_alerting_config *config; /* borrowed, validated, outlives the notifier */
	const char *config_file;                 /* for messages */
	const char *data_dir;                    /* queue, notification log, silences under data_dir/alerting */
	struct vg_clock *clock;                  /* borrowed; the calendar clock */
	const char *external_url;                /* default when config has none: "http://<host>:<port>" */
	/* Backoff of retried deliveries: first delay, doubling up to max. */
	int64_t retry_initial_ms;                /* 0: 500 ms */
	int64_t retry_max_ms;                    /* 0: 5 min */
	int64_t tick_ms;                         /* dispatcher's period; 0: 100 ms */
};

/* Opens data_dir/alerting, loads silences, the notification log and the
 * queue (notifications decided before a restart are sent now), starts the
 * threads. */
int vg_notifier_open(const struct vg_notifier_options *o, struct vg_notifier **out, struct vg_err *err);
/* Stops the threads (a send in progress finishes or times out) and frees. */
void vg_notifier_close(struct vg_notifier *n);

/* The URL payloads carry as externalURL when the configuration names
 * none (main.c sets it once the HTTP port is known). Any thread. */
int vg_notifier_set_external_url(struct vg_notifier *n, const char *url);

/* The sink of alert.h: takes n alerts (copied). Any thread. */
void vg_notifier_push(void *notifier, const struct vg_notify_alert *alerts, size_t n);

/*
 * One request under /api/v2/ (notifier_api.c): method "GET", "POST",
 * "DELETE"; path from "/api/v2/"; query the raw query string (may be
 * NULL); body and its length. Writes the JSON answer into out and returns
 * the HTTP status.
 */
int vg_notifier_http(struct vg_notifier *n, const char *method, const char *path, const char *query,
		     const char *body, size_t body_len, struct vg_buf *out);

/* Copies the rule engine's {"alerts":[...]} (in) to out with the
 * notifier's view of each alert added: "silencedBy" and "inhibitedBy"
 * (lists of ids, fingerprints) and "ack" (null, or the ack covering it:
 * id, createdBy, comment, expiresAt). Any thread. */
void vg_notifier_annotate_alerts(struct vg_notifier *n, const struct vg_buf *in, struct vg_buf *out);

/* Appends vigil_notifications_{sent,failed,retried}_total per channel and
 * the queue's length, in the text exposition format. */
void vg_notifier_render_metrics(struct vg_notifier *n, struct vg_buf *out);

#endif
