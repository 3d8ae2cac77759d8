/*
 * rules.h: the rule engine: evaluates the groups of a rule set
 * (rulefile.h) on a thread of its own, keeps the alerts' state
 * (rules_state.h), writes what rules produce through ingest's queue and
 * tells a sink (alert.h) what fires and what resolved.
 *
 * Evaluation: each group at its interval on the receiver's clock
 * (common/clock.h, so a test drives it), at the aligned time t = now
 * rounded down to a multiple of the interval (minus query_offset), each
 * rule in order through receiver/query/eval.h at t. A rule's output
 * (recording rules' series, ALERTS and ALERTS_FOR_STATE) is submitted to
 * ingest (receiver/ingest/submit.h: the WAL, then the head) and the next
 * rule runs once it is stored, so a later rule reads an earlier one's
 * output of the same evaluation. Series a rule stops producing get a
 * staleness marker. An evaluation that finds the group's previous one
 * still running waits for it; intervals that passed meanwhile are counted
 * as missed, not run.
 *
 * Every query runs within the receiver's query limits (query.h), a
 * rule's resolve_expr too: it runs after expr, only while the rule has a
 * firing alert, and holds those it returns (flap control, rules_state.h).
 *
 * After each group's evaluation the sink (when set) receives every firing
 * alert and every alert resolved within the last 15 minutes (alert.h's
 * push semantics). The alert state is written to DATA_DIR/alerts.state
 * (rules_persist.h) after any evaluation that changed it, and read back at
 * start: a restart keeps firing alerts firing with their activeAt.
 *
 * A new rule set (a reload) is handed over with vg_rules_apply from any
 * thread; the engine's thread takes it between evaluations, keeping the
 * state of every group (by file and name) and rule (by position and name)
 * the new set still has.
 *
 * Threads: the engine's own (evaluation, state, writes), and readers on
 * any thread through the render functions. Lock: struct vg_rules.mu
 * guards the groups, their state and counters; the engine's thread holds
 * it only to change them (never while evaluating a query or waiting for
 * ingest), readers while rendering.
 */
#ifndef VG_RULES_H
#define VG_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "receiver/alert/alert.h"

struct vg_buf;
struct vg_clock;
struct vg_err;
struct vg_rule_set;
struct vg_storage;
struct vg_submit;

struct vg_rules;

struct vg_rules_options {
	struct vg_storage *storage; /* borrowed: every read */
	struct vg_submit *submit;   /* borrowed: every write (ingest's queue) */
	struct vg_clock *clock;     /* borrowed; NULL: the real clock */
	const char *data_dir;       /* where alerts.state lives (copied) */
	int64_t lookback_ms;        /* the queries' lookback delta */
	vg_alert_sink_fn *sink;     /* may be NULL: alerts are only recorded */
	void *sink_arg;
	/* Every rule query's limits, the query: section's (receiver/query/
	 * query.h struct vg_query_limits); 0: none. A rule stopped by one
	 * fails that evaluation with the limit's message as its lastError. */
	int64_t query_timeout_ms;
	uint64_t query_max_samples, query_max_series;
	/* How often the engine reads the clock for groups due; 0: 50 ms.
	 * Shorter for a driven clock, so that a test's steps are not each
	 * a whole tick. */
	int64_t tick_ms;
};

/* Reads the saved state, starts the thread; takes set (may be empty). */
int vg_rules_start(const struct vg_rules_options *opts, struct vg_rule_set *set, struct vg_rules **out,
		   struct vg_err *err);
/* Hands a new set to the engine (which takes it), from any thread. */
void vg_rules_apply(struct vg_rules *r, struct vg_rule_set *set);
/* Stops the thread after the evaluation under way and saves the state.
 * Batches still in ingest's queue complete later, in vg_rules_free. */
void vg_rules_stop(struct vg_rules *r);
/* Frees everything; after vg_rules_stop and after ingest has completed
 * every batch (vg_ingest_free), as for the HTTP import's client. */
void vg_rules_free(struct vg_rules *r);

/* What GET /api/v1/rules asks for, as Prometheus's parameters: type
 * (NULL, "alert" or "record"), rule_name[], rule_group[], file[] (each
 * list empty: all), exclude_alerts. */
struct vg_rules_filter {
	const char *type;
	bool is_excluding_alerts;
	size_t n_names, n_groups, n_files;
	const char *const *names, *const *groups, *const *files;
};

/* The data of GET /api/v1/rules ({"groups":[...]}; with a filter, a
 * group left without rules is left out) and /api/v1/alerts
 * ({"alerts":[...]}), Prometheus's shapes. f may be NULL. Any thread. */
void vg_rules_render_rules(struct vg_rules *r, const struct vg_rules_filter *f, struct vg_buf *out);
void vg_rules_render_alerts(struct vg_rules *r, struct vg_buf *out);
/* The engine's lines of /metrics. Any thread. */
void vg_rules_render_metrics(struct vg_rules *r, struct vg_buf *out);

/* Evaluations finished so far, all groups (tests wait on it). */
uint64_t vg_rules_evaluations(struct vg_rules *r);

/* For tests only (testing_alert_log): a sink that appends each alert it
 * is handed to the file arg names, a line each: "firing|resolved
 * FINGERPRINT STARTS_AT_MS ENDS_AT_MS name=value...". */
void vg_alert_log_sink(void *arg, const struct vg_notify_alert *alerts, size_t n);

/* The alert value as Prometheus's API writes it, Go's
 * FormatFloat(v, 'e', -1): "1e+00", "5e-01", "NaN", "+Inf". */
size_t vg_rules_format_value_e(double v, char *out, size_t cap);

#endif
