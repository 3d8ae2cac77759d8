/*
 * alert.h: one alert as the rule engine hands it to the notifier, and as
 * the notifier takes it from POST /api/v2/alerts (Alertmanager's shape).
 *
 * This is the seam between rules (receiver/alert/rules*.c: evaluation and
 * state) and the notifier (receiver/alert/notifier*.c: routing, grouping,
 * silences, delivery). Neither knows the other's internals: the rule engine
 * calls a sink with alerts after each group evaluation, and main.c points
 * that sink at vg_notifier_push.
 *
 * Push semantics, as Prometheus sends to Alertmanager: after each
 * evaluation of a group, every alert that is firing is pushed with
 * is_firing true and ends_at_ms 0; an alert that resolved is pushed with
 * is_firing false and ends_at_ms its resolve time, and pushed again on the
 * next few evaluations (the notifier must treat a repeat as one event).
 * Pending alerts are not pushed. Everything is borrowed for the duration of
 * the call only; the notifier copies what it keeps.
 */
#ifndef VG_ALERT_H
#define VG_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h" /* struct vg_conf_labels */

struct vg_notify_alert {
	/* Labels sorted by name, alertname among them; the fingerprint is
	 * vg_alert_fingerprint of these. */
	struct vg_conf_labels labels;
	struct vg_conf_labels annotations; /* sorted by name */
	bool is_firing;
	int64_t starts_at_ms;  /* when it began firing (Unix ms) */
	int64_t ends_at_ms;    /* 0 while firing; the resolve time otherwise */
	const char *generator_url; /* may be NULL */
};

typedef void vg_alert_sink_fn(void *arg, const struct vg_notify_alert *alerts, size_t n);

/* Alertmanager's fingerprint: 64-bit FNV-1a over the labels sorted by
 * name, each contributing name, 0xFF, value, 0xFF; 16 lower-case hex
 * digits into out[17]. One place for this fact: alert.c. */
uint64_t vg_alert_fingerprint(const struct vg_conf_labels *labels);
void vg_alert_fingerprint_hex(uint64_t fp, char out[17]);

/* A label set as a JSON object, {"name":"value",...}, in its order (the
 * API's answers and the channels' bodies). */
struct vg_buf;
void vg_alert_json_labels(struct vg_buf *b, const struct vg_conf_labels *l);

#endif
