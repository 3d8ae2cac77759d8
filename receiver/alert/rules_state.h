/*
 * rules_state.h: the alert state machine of one alerting rule, per label
 * set (../shared/interfaces/alerting-rules.md, "Alerting rules:
 * evaluation and states"): inactive -> pending -> firing -> resolved, with
 * `for` and `keep_firing_for`, as Prometheus's rules/alerting.go.
 *
 * An evaluation at ts is begin, one observe per element of the rule's
 * output, then end(ts): what was observed becomes (or stays) pending and
 * fires once `for` has passed since activeAt; what was not is dropped
 * (pending), kept firing while keep_firing_for lasts, or resolved
 * (resolvedAt = ts) and kept VG_ALERT_RESOLVED_RETENTION_MS so its
 * resolution can be sent again, then dropped. A resolved instance that
 * comes back starts again as new pending one.
 *
 * Flap control (Vigil's dialect, man/vigil-rules.5 "Flap control"):
 *  - hold (resolve_expr): between begin and end, vg_alert_table_hold
 *    marks a firing instance the resolve condition still returns; end
 *    treats it as still returned (it stays firing, keep_firing_for does
 *    not start), so it resolves only once neither expression returns it.
 *  - hold-down (min_resolved_for): an instance that resolves at ts may
 *    not fire before hold_until = ts + min_resolved_for. Returned before
 *    that, it is pending (activeAt the time it came back) and keeps its
 *    last incident's fired_at and resolved_at; gone again while pending,
 *    it is resolved as it was (not dropped: the hold-down stays); once
 *    hold_until has passed and `for` since it came back, it fires as a
 *    new incident. A resolved instance is kept at least until its
 *    hold_until.
 *
 * Owns its instances and their label sets (copied in). No locking: the
 * rule engine holds its own lock around every call.
 */
#ifndef VG_RULES_STATE_H
#define VG_RULES_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

struct vg_err;

#define VG_ALERT_RESOLVED_RETENTION_MS (15 * 60 * 1000)

enum vg_alert_state {
	VG_ALERT_INACTIVE = 0, /* resolved (kept for its retention) */
	VG_ALERT_PENDING = 1,
	VG_ALERT_FIRING = 2,
};

struct vg_alert_inst {
	uint64_t fp;                        /* vg_alert_fingerprint(&labels) */
	struct vg_conf_labels labels;       /* sorted by name, alertname among them */
	struct vg_conf_labels annotations;  /* sorted by name */
	enum vg_alert_state state;
	int64_t active_at_ms;               /* became pending */
	int64_t fired_at_ms;                /* became firing; 0: not yet */
	int64_t resolved_at_ms;             /* 0: not resolved */
	int64_t keep_firing_since_ms;       /* 0: unset */
	int64_t hold_until_ms;              /* min_resolved_for: no firing before; 0: none */
	double value;
	bool is_seen;                       /* observed in the current evaluation */
	bool is_held;                       /* firing, returned by resolve_expr now */
};

struct vg_alert_table {
	size_t n, cap;
	struct vg_alert_inst *v;
	/* Open addressing on fp: index + 1, 0 free; rebuilt by begin and
	 * kept by observe, so a lookup is O(1). */
	uint32_t *slots;
	size_t cap_slots;
};

const char *vg_alert_state_name(enum vg_alert_state s); /* "inactive", "pending", "firing" */

/* Copies a label set (names and values), for a caller that keeps one;
 * free it with vg_conf_labels_release (config.h). */
int vg_alert_labels_copy(const struct vg_conf_labels *from, struct vg_conf_labels *to);

void vg_alert_table_begin(struct vg_alert_table *t);
/* One element of the output at ts: labels sorted by name (copied),
 * annotations (copied), its value. VG_EINVAL when the same label set was
 * observed already in this evaluation (Prometheus's "vector contains
 * metrics with the same labelset after applying alert labels"),
 * VG_ENOMEM. */
int vg_alert_table_observe(struct vg_alert_table *t, const struct vg_conf_labels *labels,
			   const struct vg_conf_labels *annotations, double value, int64_t ts_ms,
			   struct vg_err *err);
/* Marks the firing instance of labels (sorted by name) as held by the
 * resolve condition in this evaluation; whether there is one. */
bool vg_alert_table_hold(struct vg_alert_table *t, const struct vg_conf_labels *labels);
/* Applies the transitions at ts; returns whether any instance changed
 * state, came or went (what must be persisted). */
bool vg_alert_table_end(struct vg_alert_table *t, int64_t ts_ms, int64_t for_ms, int64_t keep_firing_for_ms);
/* The same with a hold-down of min_resolved_for_ms (0: none). */
bool vg_alert_table_end_flap(struct vg_alert_table *t, int64_t ts_ms, int64_t for_ms, int64_t keep_firing_for_ms,
			     int64_t min_resolved_for_ms);
/* Drops every instance. */
void vg_alert_table_clear(struct vg_alert_table *t);
/* Appends an instance as it was saved (the table takes inst's members). */
int vg_alert_table_put(struct vg_alert_table *t, struct vg_alert_inst *inst);
void vg_alert_table_release(struct vg_alert_table *t);

#endif
