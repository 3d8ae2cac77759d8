/*
 * rules.c: the rule engine (rules.h): groups evaluated on their own
 * thread, alert state, output through ingest's queue, the sink, the state
 * file, and the engine's views for the HTTP API and /metrics.
 *
 * A group's evaluation is a small state machine on the engine's base:
 * start (at the aligned time), then for each rule: evaluate, build a
 * batch, enqueue it, and continue with the next rule in the batch's
 * completion (or when the queue has room again); after the last rule,
 * finish: counters, the sink, the state file. Only one evaluation of a
 * group runs at a time, and a new rule set is applied only while none
 * runs, so a completion always finds its group.
 *
 * Invariants:
 *  - Everything a reader may see (groups, their rules' tables, counters,
 *    the set they point into) changes only on the engine's thread with mu
 *    held; the engine's thread reads it without mu (it is the only writer).
 *  - Every series a rule wrote in its last evaluation is in its written
 *    set; the next evaluation marks stale those it does not write again,
 *    and a reload that drops the rule marks them all stale.
 */
#include "receiver/alert/rules.h"
#include "receiver/alert/rulefile.h"
#include "receiver/alert/rules_persist.h"
#include "receiver/alert/rules_state.h"
#include "receiver/alert/template.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/series.h"
#include "receiver/ingest/submit.h"
#include "receiver/query/eval.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "common/banned.h"

#define TICK_MS 50
#define STALE_NAN_BITS 0x7ff0000000000002ULL

enum health { HEALTH_UNKNOWN, HEALTH_OK, HEALTH_ERR };

struct key {
	uint64_t hash;
	size_t len;
	uint8_t *p;
};

/* A set of series keys, with an open-addressing index on their hash
 * (index + 1, 0 free, at most half full). */
struct keyset {
	size_t n, cap;
	struct key *v;
	uint32_t *slots;
	size_t cap_slots;
};

struct rule_rt {
	const struct vg_rule *cfg;
	struct vg_alert_table table;
	struct keyset written;
	enum health health;
	char last_error[VG_ERR_MSG_MAX];
	int64_t last_eval_ms;
	double eval_seconds;
};

struct group_rt {
	struct vg_rules *r;
	const struct vg_rule_group *cfg;
	struct rule_rt *rules;
	int64_t last_eval_ms; /* aligned time of the last evaluation begun; 0 none */
	int64_t done_eval_ms; /* evaluation time of the last one finished (mu); 0 none */
	/* The evaluation under way (the engine's thread only). */
	bool is_running, is_waiting_room, is_failed;
	size_t next;
	int64_t eval_ms;
	double t0_mono;
	struct vg_submit_batch *batch; /* built, not yet enqueued */
	/* Counters (mu). */
	uint64_t evaluations, failures, missed;
	uint64_t limit_failures; /* rules stopped by the query limits */
	double last_duration_s, duration_sum_s;
};

struct vg_rules {
	struct vg_storage *storage;
	struct vg_submit *submit;
	struct vg_clock *clock;
	char *data_dir;
	int64_t lookback_ms;
	vg_alert_sink_fn *sink;
	void *sink_arg;
	int64_t query_timeout_ms;    /* 0: none */
	uint64_t query_max_samples;  /* 0: none */
	uint64_t query_max_series;   /* 0: none */

	pthread_mutex_t mu;
	struct vg_rule_set *set;
	struct group_rt *groups;
	size_t n_groups;
	struct vg_rule_set *next_set; /* mu: handed over, not yet applied */
	_Atomic uint64_t evaluations;
	_Atomic bool is_stopping;

	struct event_base *base;
	struct event *tick_ev;
	struct vg_submit_client *client;
	pthread_t thread;
	bool has_thread;
	bool is_dirty; /* the state changed since the last write */
	struct vg_buf persist;
	struct vg_complaint persist_complaint;
	struct vg_submit_batch *spare;
};

/* --- small helpers ------------------------------------------------------------ */

/* Monotonic seconds with microseconds, for evaluation times. */
static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double stale_nan(void)
{
	uint64_t b = STALE_NAN_BITS;
	double v;

	memcpy(&v, &b, sizeof(v));
	return v;
}

static void keyset_clear(struct keyset *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		free(ks->v[i].p);
	ks->n = 0;
	if (ks->slots)
		memset(ks->slots, 0, ks->cap_slots * sizeof(*ks->slots));
}

static void keyset_release(struct keyset *ks)
{
	keyset_clear(ks);
	free(ks->v);
	free(ks->slots);
	memset(ks, 0, sizeof(*ks));
}

static bool keyset_has(const struct keyset *ks, const uint8_t *p, size_t len, uint64_t hash)
{
	size_t mask = ks->cap_slots - 1;

	if (ks->slots == NULL)
		return false;
	for (size_t h = (size_t)hash & mask; ks->slots[h] != 0; h = (h + 1) & mask) {
		const struct key *k = &ks->v[ks->slots[h] - 1];
		if (k->hash == hash && k->len == len && memcmp(k->p, p, len) == 0)
			return true;
	}
	return false;
}

static void keyset_slot_put(struct keyset *ks, size_t i)
{
	size_t mask = ks->cap_slots - 1, h = (size_t)ks->v[i].hash & mask;

	while (ks->slots[h] != 0)
		h = (h + 1) & mask;
	ks->slots[h] = (uint32_t)(i + 1);
}

static int keyset_add(struct keyset *ks, const uint8_t *p, size_t len, uint64_t hash)
{
	uint8_t *c;

	if (ks->n == ks->cap) {
		size_t cap = ks->cap ? ks->cap * 2 : 16;
		struct key *v = realloc(ks->v, cap * sizeof(*v));
		if (v == NULL)
			return VG_ENOMEM;
		ks->v = v;
		ks->cap = cap;
	}
	if (2 * (ks->n + 1) > ks->cap_slots) {
		size_t cap = ks->cap_slots ? ks->cap_slots * 2 : 32;
		uint32_t *s = calloc(cap, sizeof(*s));
		if (s == NULL)
			return VG_ENOMEM;
		free(ks->slots);
		ks->slots = s;
		ks->cap_slots = cap;
		for (size_t i = 0; i < ks->n; i++)
			keyset_slot_put(ks, i);
	}
	c = malloc(len ? len : 1);
	if (c == NULL)
		return VG_ENOMEM;
	memcpy(c, p, len);
	ks->v[ks->n] = (struct key){ hash, len, c };
	keyset_slot_put(ks, ks->n);
	ks->n++;
	return 0;
}

/* A label set being built: later sets of a name win; views, not copies. */
#define LSET_MAX (3 * VG_SERIES_MAX_LABELS + 2)
struct lset {
	size_t n;
	char *names[LSET_MAX];
	char *values[LSET_MAX];
};

static int lset_set(struct lset *l, char *name, char *value)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0) {
			l->values[i] = value;
			return 0;
		}
	if (l->n >= LSET_MAX)
		return VG_ELIMIT;
	l->names[l->n] = name;
	l->values[l->n] = value;
	l->n++;
	return 0;
}

/* Sorted by name, empty values dropped (Prometheus's labels.Builder). */
static void lset_finish(struct lset *l, struct vg_conf_labels *view)
{
	size_t o = 0;

	for (size_t i = 0; i < l->n; i++)
		if (l->values[i][0] != '\0') {
			l->names[o] = l->names[i];
			l->values[o] = l->values[i];
			o++;
		}
	l->n = o;
	view->n = l->n;
	view->names = l->names;
	view->values = l->values;
	vg_conf_labels_sort(view);
}

/* NUL-terminated copies of a result series' labels (not its name), kept
 * in strs for the caller to free. */
struct strs {
	size_t n;
	char *v[4 * VG_SERIES_MAX_LABELS + 4]; /* labels, then expansions */
};

static void strs_free(struct strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}

static char *strs_dup(struct strs *s, struct vg_str x)
{
	char *c = malloc((size_t)x.len + 1);

	if (c == NULL)
		return NULL;
	memcpy(c, x.p, x.len);
	c[x.len] = '\0';
	s->v[s->n++] = c;
	return c;
}

static int result_labels(const struct vg_query_series *qs, struct strs *s, struct lset *l)
{
	struct vg_series view;

	l->n = 0;
	if (qs == NULL)
		return 0; /* a scalar: no labels */
	if (vg_series_from_key(qs->key, qs->key_len, &view) != 0)
		return VG_EINVAL;
	for (uint32_t i = 0; i < view.n_labels; i++) {
		char *n = strs_dup(s, view.labels[i].name);
		char *v = strs_dup(s, view.labels[i].value);
		if (n == NULL || v == NULL)
			return VG_ENOMEM;
		if (lset_set(l, n, v) != 0)
			return VG_ELIMIT;
	}
	return 0;
}

/* The expansion of t (or Prometheus's error text in its place), kept in s. */
static char *expand(struct strs *s, const struct vg_template *t, const struct vg_template_data *d,
		    struct vg_buf *tmp)
{
	struct vg_err e;
	char *c;

	vg_buf_reset(tmp);
	vg_err_clear(&e);
	if (vg_template_render(t, d, tmp, &e) != 0) {
		vg_buf_reset(tmp);
		vg_buf_printf(tmp, "<error expanding template: %s>", e.msg);
	}
	if (vg_buf_failed(tmp) || s->n >= sizeof(s->v) / sizeof(s->v[0]) || (c = strdup(vg_buf_cstr(tmp))) == NULL)
		return NULL;
	s->v[s->n++] = c;
	return c;
}

static void apply_labels(struct lset *l, const struct vg_conf_labels *add)
{
	for (size_t i = 0; i < add->n; i++)
		(void)lset_set(l, add->names[i], add->values[i]);
}

/* The series name{labels} (canonical), its key and hash. */
static int make_series(const char *name, const struct vg_conf_labels *labels, const char *extra_name,
		       const char *extra_value, struct vg_series *s, struct vg_buf *key, uint64_t *hash,
		       struct vg_err *err)
{
	vg_series_init(s, name);
	for (size_t i = 0; i < labels->n; i++)
		if (vg_series_add(s, labels->names[i], labels->values[i]) != 0)
			return vg_err_set(err, VG_ELIMIT, "more than %d labels", VG_SERIES_MAX_LABELS);
	if (extra_name && vg_series_add(s, extra_name, extra_value) != 0)
		return vg_err_set(err, VG_ELIMIT, "more than %d labels", VG_SERIES_MAX_LABELS);
	if (vg_series_canonicalize(s, err) != 0)
		return VG_EINVAL;
	vg_buf_reset(key);
	vg_series_key(s, key);
	if (vg_buf_failed(key))
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	*hash = vg_series_hash(s);
	return 0;
}

/* --- evaluating one rule ------------------------------------------------------- */

/* Adds one sample of the rule's output (and remembers its series). */
static int emit(struct vg_submit_batch *b, struct keyset *now, const struct vg_series *s,
		const struct vg_buf *key, uint64_t hash, int64_t t, double v, struct vg_err *err)
{
	if (keyset_has(now, key->data, key->len, hash))
		return vg_err_set(err, VG_EINVAL, "vector contains metrics with the same labelset after applying rule labels");
	if (keyset_add(now, key->data, key->len, hash) != 0 || vg_submit_batch_add(b, s, hash, t, v) != 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	return 0;
}

/* Staleness markers for what the rule wrote last time and not now. */
static int mark_stale(struct vg_submit_batch *b, const struct keyset *prev, const struct keyset *now, int64_t t)
{
	for (size_t i = 0; i < prev->n; i++) {
		const struct key *k = &prev->v[i];
		struct vg_series s;

		if (keyset_has(now, k->p, k->len, k->hash))
			continue;
		if (vg_series_from_key(k->p, k->len, &s) != 0)
			continue;
		if (vg_submit_batch_add(b, &s, k->hash, t, stale_nan()) != 0)
			return VG_ENOMEM;
	}
	return 0;
}

/* Evaluates ast at t within the receiver's query limits (the query:
 * section, as for /api/v1/query), so that a runaway rule fails alone;
 * *is_limited says whether a limit stopped it. */
static int eval_expr(struct vg_rules *r, const struct vg_promql_node *ast, int64_t t, struct vg_eval_result *res,
		     size_t *n, bool *is_limited, struct vg_err *err)
{
	struct vg_query_limits lim;
	int rc;

	memset(&lim, 0, sizeof(lim));
	if (r->query_timeout_ms > 0)
		lim.deadline_ms = vg_clock_mono_ms() + r->query_timeout_ms;
	lim.max_samples = r->query_max_samples;
	lim.max_series = r->query_max_series;
	lim.is_stopping = &r->is_stopping;
	rc = vg_eval_instant_limited(r->storage, ast, t, r->lookback_ms, &lim, res, err);
	if (rc != 0) {
		*is_limited = lim.hit == VG_QUERY_HIT_TIMEOUT || lim.hit == VG_QUERY_HIT_SAMPLES ||
			      lim.hit == VG_QUERY_HIT_SERIES;
		return rc;
	}
	if (res->type == VG_PROMQL_SCALAR) {
		*n = 1;
		return 0;
	}
	if (res->type != VG_PROMQL_VECTOR)
		return vg_err_set(err, VG_EINVAL, "rule result is not a vector or a scalar");
	*n = res->series.n;
	return 0;
}

static double elem_value(const struct vg_eval_result *res, size_t i)
{
	if (res->type == VG_PROMQL_SCALAR)
		return res->scalar;
	return res->series.series[i].n ? res->series.series[i].values[0] : NAN;
}

static int eval_record(struct vg_rules *r, struct group_rt *g, struct rule_rt *ru, struct vg_submit_batch *b,
		       struct keyset *now, bool *is_limited, struct vg_err *err)
{
	const struct vg_rule *rule = ru->cfg;
	struct vg_eval_result res;
	struct vg_buf key = VG_BUF_INIT;
	struct strs strs = { 0 };
	size_t n = 0;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = eval_expr(r, rule->ast, g->eval_ms, &res, &n, is_limited, err);
	if (rc != 0)
		goto out;
	if (g->cfg->limit && n > g->cfg->limit) {
		rc = vg_err_set(err, VG_ELIMIT, "exceeded limit of %llu with %zu series",
				(unsigned long long)g->cfg->limit, n);
		goto out;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct lset l;
		struct vg_conf_labels view;
		struct vg_series s;
		uint64_t hash;

		rc = result_labels(res.type == VG_PROMQL_VECTOR ? &res.series.series[i] : NULL, &strs, &l);
		if (rc != 0) {
			rc = vg_err_set(err, rc, "a result series does not parse");
			break;
		}
		apply_labels(&l, &g->cfg->labels);
		apply_labels(&l, &rule->labels);
		lset_finish(&l, &view);
		rc = make_series(rule->name, &view, NULL, NULL, &s, &key, &hash, err);
		if (rc == 0)
			rc = emit(b, now, &s, &key, hash, g->eval_ms, elem_value(&res, i), err);
		strs_free(&strs);
	}
out:
	strs_free(&strs);
	vg_buf_release(&key);
	vg_eval_result_release(&res);
	return rc;
}

/* The labels of element i of res as an alert of rule (the result's
 * labels without the name, the group's, the rule's expanded, alertname)
 * into *view, built in l and s; with ann, its annotations expanded too
 * (ann_values their room). */
static int alert_labels(const struct group_rt *g, const struct vg_rule *rule, const struct vg_eval_result *res,
			size_t i, char *alertname, struct strs *s, struct vg_buf *tmp, struct lset *l,
			struct vg_conf_labels *view, struct vg_conf_labels *ann, char **ann_values,
			struct vg_err *err)
{
	struct lset dl;
	struct vg_conf_labels dview;
	int rc;

	rc = result_labels(res->type == VG_PROMQL_VECTOR ? &res->series.series[i] : NULL, s, l);
	if (rc != 0)
		return vg_err_set(err, rc, "a result series does not parse");
	/* $labels: the result's labels, before the rule's. */
	dl = *l;
	lset_finish(&dl, &dview);
	struct vg_template_data td = { &dview, NULL, elem_value(res, i), NULL, NULL, NULL };
	apply_labels(l, &g->cfg->labels);
	for (size_t k = 0; k < rule->labels.n; k++) {
		char *v = expand(s, rule->label_tmpls[k], &td, tmp);
		if (v == NULL || lset_set(l, rule->labels.names[k], v) != 0)
			return vg_err_set(err, VG_ENOMEM, "out of memory expanding labels");
	}
	if (ann != NULL) {
		*ann = (struct vg_conf_labels){ rule->annotations.n, rule->annotations.names, ann_values };
		for (size_t k = 0; k < rule->annotations.n && k < VG_SERIES_MAX_LABELS; k++)
			if ((ann_values[k] = expand(s, rule->annotation_tmpls[k], &td, tmp)) == NULL)
				return vg_err_set(err, VG_ENOMEM, "out of memory expanding annotations");
	}
	(void)lset_set(l, alertname, rule->name);
	lset_finish(l, view);
	return 0;
}

static bool has_firing(const struct vg_alert_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].state == VG_ALERT_FIRING)
			return true;
	return false;
}

static int eval_alert(struct vg_rules *r, struct group_rt *g, struct rule_rt *ru, struct vg_submit_batch *b,
		      struct keyset *now, bool *is_limited, struct vg_err *err)
{
	const struct vg_rule *rule = ru->cfg;
	struct vg_eval_result res, held;
	struct vg_buf key = VG_BUF_INIT, tmp = VG_BUF_INIT;
	struct strs strs = { 0 };
	char alertname[] = "alertname";
	size_t n = 0, n_held = 0;
	int rc;

	memset(&res, 0, sizeof(res));
	memset(&held, 0, sizeof(held));
	rc = eval_expr(r, rule->ast, g->eval_ms, &res, &n, is_limited, err);
	if (rc != 0)
		goto out;
	/* The resolve condition matters only to what fires (the engine's
	 * thread is the table's only writer: no lock to read it). */
	if (rule->resolve_ast != NULL && has_firing(&ru->table)) {
		rc = eval_expr(r, rule->resolve_ast, g->eval_ms, &held, &n_held, is_limited, err);
		if (rc != 0) {
			vg_err_prefix(err, "resolve_expr");
			goto out;
		}
	}
	pthread_mutex_lock(&r->mu);
	if (g->cfg->limit && n > g->cfg->limit) {
		/* Its alerts are cleared: pending ones dropped, firing ones
		 * resolved now (so the notifier hears of the end). */
		vg_alert_table_begin(&ru->table);
		vg_alert_table_end(&ru->table, g->eval_ms, rule->for_ms, 0);
		r->is_dirty = true;
		pthread_mutex_unlock(&r->mu);
		rc = vg_err_set(err, VG_ELIMIT, "exceeded limit of %llu with %zu alerts",
				(unsigned long long)g->cfg->limit, n);
		goto out;
	}
	vg_alert_table_begin(&ru->table);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct lset l;
		struct vg_conf_labels view, ann;
		char *ann_values[VG_SERIES_MAX_LABELS];

		rc = alert_labels(g, rule, &res, i, alertname, &strs, &tmp, &l, &view, &ann, ann_values, err);
		if (rc == 0)
			rc = vg_alert_table_observe(&ru->table, &view, &ann, elem_value(&res, i), g->eval_ms, err);
		strs_free(&strs);
	}
	/* What the resolve condition returns names alerts as expr's result
	 * does; it holds those that fire. */
	for (size_t i = 0; i < n_held && rc == 0; i++) {
		struct lset l;
		struct vg_conf_labels view;

		rc = alert_labels(g, rule, &held, i, alertname, &strs, &tmp, &l, &view, NULL, NULL, err);
		if (rc == 0)
			(void)vg_alert_table_hold(&ru->table, &view);
		strs_free(&strs);
	}
	/* A failed evaluation changes no state (Prometheus's too). */
	if (rc == 0 && vg_alert_table_end_flap(&ru->table, g->eval_ms, rule->for_ms, rule->keep_firing_for_ms,
					       rule->min_resolved_for_ms))
		r->is_dirty = true;
	pthread_mutex_unlock(&r->mu);
	if (rc != 0)
		goto out;
	for (size_t i = 0; i < ru->table.n && rc == 0; i++) {
		const struct vg_alert_inst *in = &ru->table.v[i];
		struct vg_series s;
		uint64_t hash;

		if (in->state == VG_ALERT_INACTIVE)
			continue;
		rc = make_series("ALERTS", &in->labels, "alertstate", vg_alert_state_name(in->state), &s, &key,
				 &hash, err);
		if (rc == 0)
			rc = emit(b, now, &s, &key, hash, g->eval_ms, 1, err);
		if (rc == 0)
			rc = make_series("ALERTS_FOR_STATE", &in->labels, NULL, NULL, &s, &key, &hash, err);
		if (rc == 0)
			rc = emit(b, now, &s, &key, hash, g->eval_ms, (double)in->active_at_ms / 1000.0, err);
	}
out:
	strs_free(&strs);
	vg_buf_release(&tmp);
	vg_buf_release(&key);
	vg_eval_result_release(&res);
	vg_eval_result_release(&held);
	return rc;
}

/* Evaluates rule ru of g into b; records its health. */
static void eval_rule(struct vg_rules *r, struct group_rt *g, struct rule_rt *ru, struct vg_submit_batch *b)
{
	struct keyset now = { 0, 0, NULL, NULL, 0 };
	struct vg_err err;
	double t0 = mono_s();
	bool is_limited = false;
	int rc;

	vg_err_clear(&err);
	rc = ru->cfg->is_alert ? eval_alert(r, g, ru, b, &now, &is_limited, &err)
			       : eval_record(r, g, ru, b, &now, &is_limited, &err);
	if (rc == 0 && mark_stale(b, &ru->written, &now, g->eval_ms) != 0)
		rc = vg_err_set(&err, VG_ENOMEM, "out of memory");
	if (rc != 0) {
		/* Nothing of a failed evaluation is written, and what the rule
		 * wrote before is not marked stale (Prometheus's way). */
		vg_submit_batch_reset(b);
		keyset_release(&now);
	}
	pthread_mutex_lock(&r->mu);
	if (rc == 0) {
		keyset_release(&ru->written);
		ru->written = now;
	}
	ru->health = rc == 0 ? HEALTH_OK : HEALTH_ERR;
	if (rc == 0)
		ru->last_error[0] = '\0';
	else
		snprintf(ru->last_error, sizeof(ru->last_error), "%s", err.msg);
	ru->last_eval_ms = g->eval_ms;
	ru->eval_seconds = mono_s() - t0;
	if (rc != 0 && is_limited)
		g->limit_failures++;
	pthread_mutex_unlock(&r->mu);
	if (rc != 0) {
		g->is_failed = true;
		vg_debug("rule group %s;%s: rule %s: %s", g->cfg->file, g->cfg->name, ru->cfg->name, err.msg);
	}
}

/* --- a group's evaluation -------------------------------------------------------- */

static void persist(struct vg_rules *r);
static void push_sink(struct vg_rules *r, struct group_rt *g);
static void group_step(struct vg_rules *r, struct group_rt *g);

static struct vg_submit_batch *get_batch(struct vg_rules *r)
{
	struct vg_submit_batch *b = r->spare;

	if (b != NULL) {
		r->spare = NULL;
		return b;
	}
	return vg_submit_batch_new();
}

static void recycle(struct vg_rules *r, struct vg_submit_batch *b)
{
	if (r->spare == NULL) {
		vg_submit_batch_reset(b);
		r->spare = b;
	} else {
		vg_submit_batch_free(b);
	}
}

/* The state is durable before anyone is told of it: saved, then handed
 * to the sink, then shown as evaluated. */
static void group_finish(struct vg_rules *r, struct group_rt *g)
{
	double dur = mono_s() - g->t0_mono;

	if (r->is_dirty)
		persist(r);
	push_sink(r, g);
	pthread_mutex_lock(&r->mu);
	g->evaluations++;
	if (g->is_failed)
		g->failures++;
	g->last_duration_s = dur;
	g->duration_sum_s += dur;
	g->is_running = false;
	g->done_eval_ms = g->eval_ms;
	pthread_mutex_unlock(&r->mu);
	atomic_fetch_add(&r->evaluations, 1);
}

static void batch_done(struct vg_submit_batch *b, void *arg)
{
	struct group_rt *g = arg;
	struct vg_rules *r = g->r;

	if (b->rc != 0) {
		pthread_mutex_lock(&r->mu);
		struct rule_rt *ru = &g->rules[g->next];
		ru->health = HEALTH_ERR;
		snprintf(ru->last_error, sizeof(ru->last_error), "storing the output: %.400s", b->error);
		pthread_mutex_unlock(&r->mu);
		g->is_failed = true;
	}
	recycle(r, b);
	if (atomic_load(&r->is_stopping)) {
		g->is_running = false;
		return;
	}
	g->next++;
	group_step(r, g);
}

static void group_step(struct vg_rules *r, struct group_rt *g)
{
	while (g->next < g->cfg->n_rules) {
		struct rule_rt *ru = &g->rules[g->next];
		int rc;

		if (g->batch == NULL) {
			g->batch = get_batch(r);
			if (g->batch == NULL) {
				g->is_failed = true;
				g->next++;
				continue;
			}
			eval_rule(r, g, ru, g->batch);
		}
		if (g->batch->n > 0) {
			rc = vg_submit_enqueue(r->client, g->batch, batch_done, g);
			if (rc == 0) {
				g->batch = NULL;
				return; /* batch_done goes on */
			}
			if (rc == VG_EAGAIN) {
				g->is_waiting_room = true;
				return; /* on_room goes on */
			}
			pthread_mutex_lock(&r->mu);
			ru->health = HEALTH_ERR;
			snprintf(ru->last_error, sizeof(ru->last_error), "storing the output: the receiver is stopping");
			pthread_mutex_unlock(&r->mu);
			g->is_failed = true;
		}
		recycle(r, g->batch);
		g->batch = NULL;
		g->next++;
	}
	group_finish(r, g);
}

static void group_start(struct vg_rules *r, struct group_rt *g, int64_t aligned_ms)
{
	pthread_mutex_lock(&r->mu);
	if (g->last_eval_ms != 0 && aligned_ms - g->last_eval_ms > g->cfg->interval_ms)
		g->missed += (uint64_t)((aligned_ms - g->last_eval_ms) / g->cfg->interval_ms - 1);
	g->last_eval_ms = aligned_ms;
	g->is_running = true;
	pthread_mutex_unlock(&r->mu);
	g->is_failed = false;
	g->next = 0;
	g->eval_ms = aligned_ms - g->cfg->query_offset_ms;
	g->t0_mono = mono_s();
	group_step(r, g);
}

static void on_room(void *arg)
{
	struct vg_rules *r = arg;

	for (size_t i = 0; i < r->n_groups; i++)
		if (r->groups[i].is_waiting_room) {
			r->groups[i].is_waiting_room = false;
			group_step(r, &r->groups[i]);
		}
}

/* --- sets, state and the thread ----------------------------------------------------- */

static void group_rt_release(struct group_rt *g)
{
	for (size_t i = 0; g->rules && i < g->cfg->n_rules; i++) {
		vg_alert_table_release(&g->rules[i].table);
		keyset_release(&g->rules[i].written);
	}
	free(g->rules);
	if (g->batch)
		vg_submit_batch_free(g->batch);
}

static int build_groups(struct vg_rules *r, const struct vg_rule_set *set, struct group_rt **out)
{
	struct group_rt *gs = NULL;

	*out = NULL;
	if (set->n_groups == 0)
		return 0;
	gs = calloc(set->n_groups, sizeof(*gs));
	if (gs == NULL)
		return VG_ENOMEM;
	for (size_t i = 0; i < set->n_groups; i++) {
		gs[i].r = r;
		gs[i].cfg = &set->groups[i];
		if (set->groups[i].n_rules &&
		    (gs[i].rules = calloc(set->groups[i].n_rules, sizeof(*gs[i].rules))) == NULL) {
			for (size_t j = 0; j <= i; j++)
				group_rt_release(&gs[j]);
			free(gs);
			return VG_ENOMEM;
		}
		for (size_t k = 0; k < set->groups[i].n_rules; k++)
			gs[i].rules[k].cfg = &set->groups[i].rules[k];
	}
	*out = gs;
	return 0;
}

static struct group_rt *find_group(struct group_rt *gs, size_t n, const char *file, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(gs[i].cfg->file, file) == 0 && strcmp(gs[i].cfg->name, name) == 0)
			return &gs[i];
	return NULL;
}

/* Moves the state of old's groups and rules that new still has. */
static void carry_over(struct group_rt *old, size_t n_old, struct group_rt *gs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct group_rt *o = find_group(old, n_old, gs[i].cfg->file, gs[i].cfg->name);
		if (o == NULL)
			continue;
		gs[i].last_eval_ms = o->last_eval_ms;
		gs[i].done_eval_ms = o->done_eval_ms;
		gs[i].evaluations = o->evaluations;
		gs[i].failures = o->failures;
		gs[i].missed = o->missed;
		gs[i].limit_failures = o->limit_failures;
		gs[i].last_duration_s = o->last_duration_s;
		gs[i].duration_sum_s = o->duration_sum_s;
		for (size_t k = 0; k < gs[i].cfg->n_rules && k < o->cfg->n_rules; k++) {
			struct rule_rt *a = &gs[i].rules[k], *b = &o->rules[k];
			if (a->cfg->is_alert != b->cfg->is_alert || strcmp(a->cfg->name, b->cfg->name) != 0)
				continue;
			a->table = b->table;
			a->written = b->written;
			memset(&b->table, 0, sizeof(b->table));
			memset(&b->written, 0, sizeof(b->written));
			a->health = b->health;
			memcpy(a->last_error, b->last_error, sizeof(a->last_error));
			a->last_eval_ms = b->last_eval_ms;
			a->eval_seconds = b->eval_seconds;
		}
	}
}

static void stale_done(struct vg_submit_batch *b, void *arg)
{
	(void)arg;
	vg_submit_batch_free(b);
}

/* Staleness markers, at now, for every series the rules of old (already
 * carried over into the new set, so what is left went away) wrote last. */
static void mark_gone_stale(struct vg_rules *r, struct group_rt *old, size_t n_old)
{
	struct vg_submit_batch *b = NULL;
	struct keyset none = { 0, 0, NULL, NULL, 0 };
	int64_t now = vg_clock_now(r->clock);

	for (size_t i = 0; i < n_old; i++)
		for (size_t k = 0; old[i].rules && k < old[i].cfg->n_rules; k++) {
			if (old[i].rules[k].written.n == 0)
				continue;
			if (b == NULL && (b = vg_submit_batch_new()) == NULL)
				return;
			(void)mark_stale(b, &old[i].rules[k].written, &none, now);
		}
	if (b == NULL)
		return;
	if (b->n == 0 || vg_submit_enqueue(r->client, b, stale_done, NULL) != 0)
		vg_submit_batch_free(b); /* a full queue: the lookback ends them */
}

/* Takes a handed-over set, when no evaluation runs. */
static void maybe_apply(struct vg_rules *r)
{
	struct vg_rule_set *set, *old;
	struct group_rt *gs, *old_gs;
	size_t old_n;

	for (size_t i = 0; i < r->n_groups; i++)
		if (r->groups[i].is_running)
			return;
	pthread_mutex_lock(&r->mu);
	set = r->next_set;
	r->next_set = NULL;
	pthread_mutex_unlock(&r->mu);
	if (set == NULL)
		return;
	if (build_groups(r, set, &gs) != 0) {
		vg_error("applying the new rules: out of memory; the previous rules keep running");
		vg_rule_set_free(set);
		return;
	}
	pthread_mutex_lock(&r->mu);
	carry_over(r->groups, r->n_groups, gs, set->n_groups);
	old = r->set;
	old_gs = r->groups;
	old_n = r->n_groups;
	r->set = set;
	r->groups = gs;
	r->n_groups = set->n_groups;
	r->is_dirty = true;
	mark_gone_stale(r, old_gs, old_n);
	for (size_t i = 0; i < old_n; i++)
		group_rt_release(&old_gs[i]);
	free(old_gs);
	vg_rule_set_free(old);
	pthread_mutex_unlock(&r->mu);
	vg_info("rules: %zu groups, %zu rules", set->n_groups, vg_rule_set_count(set));
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_rules *r = arg;
	int64_t now;

	(void)fd;
	(void)what;
	if (atomic_load(&r->is_stopping))
		return;
	maybe_apply(r);
	now = vg_clock_now(r->clock);
	for (size_t i = 0; i < r->n_groups; i++) {
		struct group_rt *g = &r->groups[i];
		int64_t iv = g->cfg->interval_ms, aligned;

		if (g->is_running || iv <= 0)
			continue;
		aligned = now - ((now % iv) + iv) % iv;
		if (aligned > g->last_eval_ms)
			group_start(r, g, aligned);
	}
}

static void persist(struct vg_rules *r)
{
	struct vg_err err;
	size_t n_alert = 0;

	vg_rules_persist_begin(&r->persist, r->n_groups);
	for (size_t i = 0; i < r->n_groups; i++) {
		const struct group_rt *g = &r->groups[i];
		vg_rules_persist_group(&r->persist, g->cfg->file, g->cfg->name, g->last_eval_ms);
		for (size_t k = 0; k < g->cfg->n_rules; k++)
			n_alert += g->cfg->rules[k].is_alert;
	}
	vg_rules_persist_rules(&r->persist, n_alert);
	for (size_t i = 0; i < r->n_groups; i++) {
		const struct group_rt *g = &r->groups[i];
		for (size_t k = 0; k < g->cfg->n_rules; k++)
			if (g->cfg->rules[k].is_alert)
				vg_rules_persist_rule(&r->persist, g->cfg->file, g->cfg->name, (uint32_t)k,
						      g->cfg->rules[k].name, &g->rules[k].table);
	}
	if (vg_rules_persist_write(r->data_dir, &r->persist, &err) != 0) {
		vg_log_complain(&r->persist_complaint, VG_LOG_ERROR, "saving the alert state: %s", err.msg);
		return;
	}
	vg_log_relief(&r->persist_complaint, "saving the alert state works again");
	r->is_dirty = false;
}

/* What a restart needs: the groups' last evaluation and the alerts. */
static void restore(struct vg_rules *r)
{
	struct vg_rules_saved s;
	struct vg_err err;
	size_t n_alerts = 0;
	int rc;

	rc = vg_rules_persist_read(r->data_dir, &s, &err);
	if (rc == VG_ENOENT)
		return;
	if (rc != 0) {
		vg_warn("alert state not restored: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < s.n_groups; i++) {
		struct group_rt *g = find_group(r->groups, r->n_groups, s.groups[i].file, s.groups[i].name);
		if (g != NULL)
			g->last_eval_ms = s.groups[i].last_eval_ms;
	}
	for (size_t i = 0; i < s.n_rules; i++) {
		struct vg_rules_saved_rule *sr = &s.rules[i];
		struct group_rt *g = find_group(r->groups, r->n_groups, sr->file, sr->group);
		struct rule_rt *ru;

		if (g == NULL || sr->index >= g->cfg->n_rules)
			continue;
		ru = &g->rules[sr->index];
		if (!ru->cfg->is_alert || strcmp(ru->cfg->name, sr->name) != 0)
			continue;
		vg_alert_table_release(&ru->table);
		ru->table = sr->table;
		memset(&sr->table, 0, sizeof(sr->table));
		for (size_t k = 0; k < ru->table.n; k++) {
			struct vg_alert_inst *in = &ru->table.v[k];
			in->fp = vg_alert_fingerprint(&in->labels);
		}
		n_alerts += ru->table.n;
	}
	vg_rules_saved_release(&s);
	vg_info("restored the alert state: %zu alerts", n_alerts);
}

static void *run(void *arg)
{
	struct vg_rules *r = arg;

	event_base_dispatch(r->base);
	return NULL;
}

int vg_rules_start(const struct vg_rules_options *opts, struct vg_rule_set *set, struct vg_rules **out,
		   struct vg_err *err)
{
	struct vg_rules *r = calloc(1, sizeof(*r));
	int64_t tick_ms = opts->tick_ms > 0 && opts->tick_ms < 1000 ? opts->tick_ms : TICK_MS;
	struct timeval tv = { 0, (suseconds_t)(tick_ms * 1000) };
	int rc;

	if (r == NULL || set == NULL) {
		free(r);
		vg_rule_set_free(set);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&r->mu, NULL);
	r->storage = opts->storage;
	r->submit = opts->submit;
	r->clock = opts->clock;
	r->lookback_ms = opts->lookback_ms > 0 ? opts->lookback_ms : 5 * 60 * 1000;
	r->sink = opts->sink;
	r->sink_arg = opts->sink_arg;
	r->query_timeout_ms = opts->query_timeout_ms;
	r->query_max_samples = opts->query_max_samples;
	r->query_max_series = opts->query_max_series;
	r->persist_complaint = (struct vg_complaint)VG_COMPLAINT_INIT;
	r->data_dir = strdup(opts->data_dir);
	r->set = set;
	if (r->data_dir == NULL || build_groups(r, set, &r->groups) != 0) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto fail;
	}
	r->n_groups = set->n_groups;
	restore(r);
	r->base = event_base_new();
	if (r->base == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "cannot create the rule engine's event base");
		goto fail;
	}
	if ((rc = vg_submit_client_new(r->submit, r->base, on_room, r, &r->client, err)) != 0)
		goto fail;
	r->tick_ev = event_new(r->base, -1, EV_PERSIST, tick_cb, r);
	if (r->tick_ev == NULL || event_add(r->tick_ev, &tv) != 0) {
		rc = vg_err_set(err, VG_ENOMEM, "cannot start the rule engine's timer");
		goto fail;
	}
	if (pthread_create(&r->thread, NULL, run, r) != 0) {
		rc = vg_err_set(err, VG_ENOMEM, "cannot start the rule engine's thread");
		goto fail;
	}
	r->has_thread = true;
	*out = r;
	return 0;
fail:
	vg_rules_free(r);
	return rc;
}

void vg_rules_apply(struct vg_rules *r, struct vg_rule_set *set)
{
	struct vg_rule_set *old;

	pthread_mutex_lock(&r->mu);
	old = r->next_set;
	r->next_set = set;
	pthread_mutex_unlock(&r->mu);
	vg_rule_set_free(old);
}

void vg_rules_stop(struct vg_rules *r)
{
	if (r == NULL || !r->has_thread)
		return;
	atomic_store(&r->is_stopping, true);
	event_base_loopbreak(r->base);
	pthread_join(r->thread, NULL);
	r->has_thread = false;
	if (r->is_dirty)
		persist(r);
}

void vg_rules_free(struct vg_rules *r)
{
	if (r == NULL)
		return;
	vg_rules_stop(r);
	atomic_store(&r->is_stopping, true);
	if (r->client) {
		vg_submit_client_stop(r->client);
		vg_submit_client_free(r->client);
	}
	if (r->tick_ev)
		event_free(r->tick_ev);
	if (r->base)
		event_base_free(r->base);
	for (size_t i = 0; i < r->n_groups; i++)
		group_rt_release(&r->groups[i]);
	free(r->groups);
	vg_rule_set_free(r->set);
	vg_rule_set_free(r->next_set);
	if (r->spare)
		vg_submit_batch_free(r->spare);
	vg_buf_release(&r->persist);
	free(r->data_dir);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

uint64_t vg_rules_evaluations(struct vg_rules *r)
{
	return atomic_load(&r->evaluations);
}

/* --- the sink ------------------------------------------------------------------------- */

static void push_sink(struct vg_rules *r, struct group_rt *g)
{
	struct vg_notify_alert *v = NULL;
	size_t n = 0, cap = 0;

	if (r->sink == NULL)
		return;
	for (size_t k = 0; k < g->cfg->n_rules; k++) {
		const struct rule_rt *ru = &g->rules[k];
		if (!ru->cfg->is_alert)
			continue;
		for (size_t i = 0; i < ru->table.n; i++) {
			const struct vg_alert_inst *in = &ru->table.v[i];
			if (in->state == VG_ALERT_PENDING)
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct vg_notify_alert *nv = realloc(v, nc * sizeof(*nv));
				if (nv == NULL) {
					vg_error("rule group %s: out of memory handing alerts on", g->cfg->name);
					free(v);
					return;
				}
				v = nv;
				cap = nc;
			}
			v[n++] = (struct vg_notify_alert){
				.labels = in->labels, .annotations = in->annotations,
				.is_firing = in->state == VG_ALERT_FIRING,
				.starts_at_ms = in->fired_at_ms ? in->fired_at_ms : in->active_at_ms,
				.ends_at_ms = in->state == VG_ALERT_FIRING ? 0 : in->resolved_at_ms,
				.generator_url = NULL,
			};
		}
	}
	if (n > 0)
		r->sink(r->sink_arg, v, n);
	free(v);
}

void vg_alert_log_sink(void *arg, const struct vg_notify_alert *alerts, size_t n)
{
	const char *path = arg;
	struct vg_buf b = VG_BUF_INIT;
	FILE *f;

	for (size_t i = 0; i < n; i++) {
		char fp[17];
		vg_alert_fingerprint_hex(vg_alert_fingerprint(&alerts[i].labels), fp);
		vg_buf_printf(&b, "%s %s %lld %lld", alerts[i].is_firing ? "firing" : "resolved", fp,
			      (long long)alerts[i].starts_at_ms, (long long)alerts[i].ends_at_ms);
		for (size_t k = 0; k < alerts[i].labels.n; k++)
			vg_buf_printf(&b, " %s=%s", alerts[i].labels.names[k], alerts[i].labels.values[k]);
		vg_buf_putc(&b, '\n');
	}
	if (!vg_buf_failed(&b) && (f = fopen(path, "a")) != NULL) {
		if (b.len)
			(void)fwrite(b.data, 1, b.len, f);
		fclose(f);
	}
	vg_buf_release(&b);
}

/* --- views ----------------------------------------------------------------------------- */

size_t vg_rules_format_value_e(double v, char *out, size_t cap)
{
	int n = 0;

	if (isnan(v))
		n = snprintf(out, cap, "NaN");
	else if (isinf(v))
		n = snprintf(out, cap, "%s", v > 0 ? "+Inf" : "-Inf");
	else
		for (int p = 0; p <= 17; p++) {
			n = snprintf(out, cap, "%.*e", p, v);
			if (strtod(out, NULL) == v)
				break;
		}
	return n < 0 ? 0 : (size_t)n;
}

static void json_time(struct vg_buf *b, int64_t ms)
{
	char t[64];

	if (ms == 0) {
		vg_buf_puts(b, "\"0001-01-01T00:00:00Z\"");
		return;
	}
	vg_time_format_rfc3339(ms, t, sizeof(t));
	vg_buf_printf(b, "\"%s\"", t);
}

static void json_alert(struct vg_buf *b, const struct vg_alert_inst *in)
{
	char v[64];

	vg_buf_puts(b, "{\"labels\":");
	vg_alert_json_labels(b, &in->labels);
	vg_buf_puts(b, ",\"annotations\":");
	vg_alert_json_labels(b, &in->annotations);
	vg_buf_printf(b, ",\"state\":\"%s\",\"activeAt\":", vg_alert_state_name(in->state));
	json_time(b, in->active_at_ms);
	if (in->keep_firing_since_ms) {
		vg_buf_puts(b, ",\"keepFiringSince\":");
		json_time(b, in->keep_firing_since_ms);
	}
	if (in->state == VG_ALERT_PENDING && in->hold_until_ms) {
		vg_buf_puts(b, ",\"holdDownUntil\":"); /* Vigil's: min_resolved_for */
		json_time(b, in->hold_until_ms);
	}
	vg_rules_format_value_e(in->value, v, sizeof(v));
	vg_buf_printf(b, ",\"value\":\"%s\"}", v);
}

static double secs(int64_t ms)
{
	return (double)ms / 1000.0;
}

static void json_rule(struct vg_buf *b, const struct rule_rt *ru, bool is_excluding_alerts)
{
	const struct vg_rule *c = ru->cfg;
	static const char *const health[] = { "unknown", "ok", "err" };

	vg_buf_printf(b, "{\"type\":\"%s\",\"name\":", c->is_alert ? "alerting" : "recording");
	vg_json_cstr(b, c->name);
	vg_buf_puts(b, ",\"query\":");
	vg_json_cstr(b, c->expr);
	if (c->is_alert) {
		enum vg_alert_state top = VG_ALERT_INACTIVE;
		bool is_first = true;

		vg_buf_printf(b, ",\"duration\":%.17g,\"keepFiringFor\":%.17g", secs(c->for_ms),
			      secs(c->keep_firing_for_ms));
		/* Vigil's dialect, only where a rule uses it. */
		if (c->resolve_expr) {
			vg_buf_puts(b, ",\"resolveQuery\":");
			vg_json_cstr(b, c->resolve_expr);
		}
		if (c->min_resolved_for_ms)
			vg_buf_printf(b, ",\"minResolvedFor\":%.17g", secs(c->min_resolved_for_ms));
		vg_buf_puts(b, ",\"labels\":");
		vg_alert_json_labels(b, &c->labels);
		vg_buf_puts(b, ",\"annotations\":");
		vg_alert_json_labels(b, &c->annotations);
		for (size_t i = 0; i < ru->table.n; i++)
			if (ru->table.v[i].state > top)
				top = ru->table.v[i].state;
		vg_buf_printf(b, ",\"state\":\"%s\",\"alerts\":[", vg_alert_state_name(top));
		for (size_t i = 0; i < ru->table.n; i++) {
			if (ru->table.v[i].state == VG_ALERT_INACTIVE || is_excluding_alerts)
				continue;
			if (!is_first)
				vg_buf_putc(b, ',');
			is_first = false;
			json_alert(b, &ru->table.v[i]);
		}
		vg_buf_putc(b, ']');
	} else {
		vg_buf_puts(b, ",\"labels\":");
		vg_alert_json_labels(b, &c->labels);
	}
	vg_buf_printf(b, ",\"health\":\"%s\"", health[ru->health]);
	if (ru->last_error[0]) {
		vg_buf_puts(b, ",\"lastError\":");
		vg_json_cstr(b, ru->last_error);
	}
	vg_buf_printf(b, ",\"evaluationTime\":%.17g,\"lastEvaluation\":", ru->eval_seconds);
	json_time(b, ru->last_eval_ms);
	vg_buf_putc(b, '}');
}

static bool in_list(const char *s, const char *const *v, size_t n)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, v[i]) == 0)
			return true;
	return false;
}

void vg_rules_render_rules(struct vg_rules *r, const struct vg_rules_filter *f, struct vg_buf *out)
{
	const char *type = f ? f->type : NULL;
	bool want_alert = type == NULL || strcmp(type, "alert") == 0;
	bool want_record = type == NULL || strcmp(type, "record") == 0;
	bool is_filtered = f && (f->type || f->n_names || f->n_groups || f->n_files);
	bool is_first_group = true;

	vg_buf_puts(out, "{\"groups\":[");
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n_groups; i++) {
		const struct group_rt *g = &r->groups[i];
		size_t start = out->len, n_rules = 0;

		if (f && (!in_list(g->cfg->name, f->groups, f->n_groups) || !in_list(g->cfg->file, f->files, f->n_files)))
			continue;
		if (!is_first_group)
			vg_buf_putc(out, ',');
		vg_buf_puts(out, "{\"name\":");
		vg_json_cstr(out, g->cfg->name);
		vg_buf_puts(out, ",\"file\":");
		vg_json_cstr(out, g->cfg->file);
		vg_buf_printf(out, ",\"interval\":%.17g,\"limit\":%llu,\"rules\":[", secs(g->cfg->interval_ms),
			      (unsigned long long)g->cfg->limit);
		for (size_t k = 0; k < g->cfg->n_rules; k++) {
			const struct rule_rt *ru = &g->rules[k];
			if (ru->cfg->is_alert ? !want_alert : !want_record)
				continue;
			if (f && !in_list(ru->cfg->name, f->names, f->n_names))
				continue;
			if (n_rules++)
				vg_buf_putc(out, ',');
			json_rule(out, ru, f && f->is_excluding_alerts);
		}
		if (is_filtered && n_rules == 0) {
			out->len = start; /* a group left without rules is left out */
			if (out->cap)
				out->data[out->len] = '\0';
			continue;
		}
		is_first_group = false;
		vg_buf_printf(out, "],\"evaluationTime\":%.17g,\"lastEvaluation\":", g->last_duration_s);
		json_time(out, g->done_eval_ms);
		vg_buf_putc(out, '}');
	}
	pthread_mutex_unlock(&r->mu);
	vg_buf_puts(out, "]}");
}

void vg_rules_render_alerts(struct vg_rules *r, struct vg_buf *out)
{
	bool is_first = true;

	vg_buf_puts(out, "{\"alerts\":[");
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n_groups; i++) {
		const struct group_rt *g = &r->groups[i];
		for (size_t k = 0; k < g->cfg->n_rules; k++) {
			const struct vg_alert_table *t = &g->rules[k].table;
			for (size_t a = 0; a < t->n; a++) {
				if (t->v[a].state == VG_ALERT_INACTIVE)
					continue;
				if (!is_first)
					vg_buf_putc(out, ',');
				is_first = false;
				json_alert(out, &t->v[a]);
			}
		}
	}
	pthread_mutex_unlock(&r->mu);
	vg_buf_puts(out, "]}");
}

static void metric_group(struct vg_buf *b, const char *name, const struct group_rt *g, const char *fmt_value)
{
	struct vg_buf lv = VG_BUF_INIT;

	vg_buf_printf(&lv, "%s;%s", g->cfg->file, g->cfg->name);
	vg_buf_printf(b, "%s{rule_group=\"", name);
	vg_label_value_escape(vg_str_c(vg_buf_cstr(&lv)), b);
	vg_buf_printf(b, "\"} %s\n", fmt_value);
	vg_buf_release(&lv);
}

void vg_rules_render_metrics(struct vg_rules *r, struct vg_buf *out)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{ "vigil_rule_group_evaluations_total", "counter", "Evaluations of the rule group finished." },
		{ "vigil_rule_group_evaluation_failures_total", "counter", "Evaluations of the rule group in which a rule failed." },
		{ "vigil_rule_group_iterations_missed_total", "counter", "Evaluations of the rule group skipped because the previous one was still running." },
		{ "vigil_rule_group_evaluation_seconds_total", "counter", "Time spent evaluating the rule group." },
		{ "vigil_rule_group_last_duration_seconds", "gauge", "Duration of the rule group's last evaluation." },
		{ "vigil_rule_group_last_evaluation_timestamp_seconds", "gauge", "Time of the rule group's last evaluation." },
		{ "vigil_rule_group_rules", "gauge", "Rules in the rule group." },
	};
	uint64_t by_state[3] = { 0, 0, 0 };
	char v[64];

	pthread_mutex_lock(&r->mu);
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		vg_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fam[f].name, fam[f].help, fam[f].name, fam[f].type);
		for (size_t i = 0; i < r->n_groups; i++) {
			const struct group_rt *g = &r->groups[i];
			switch (f) {
			case 0: snprintf(v, sizeof(v), "%llu", (unsigned long long)g->evaluations); break;
			case 1: snprintf(v, sizeof(v), "%llu", (unsigned long long)g->failures); break;
			case 2: snprintf(v, sizeof(v), "%llu", (unsigned long long)g->missed); break;
			case 3: snprintf(v, sizeof(v), "%.17g", g->duration_sum_s); break;
			case 4: snprintf(v, sizeof(v), "%.17g", g->last_duration_s); break;
			case 5: snprintf(v, sizeof(v), "%.17g", secs(g->done_eval_ms)); break;
			default: snprintf(v, sizeof(v), "%zu", g->cfg->n_rules); break;
			}
			metric_group(out, fam[f].name, g, v);
		}
	}
	vg_buf_puts(out, "# HELP vigil_rule_group_query_limit_failures_total Rule evaluations stopped by the query limits (query: timeout, max_samples, max_series).\n"
			 "# TYPE vigil_rule_group_query_limit_failures_total counter\n");
	for (size_t i = 0; i < r->n_groups; i++) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)r->groups[i].limit_failures);
		metric_group(out, "vigil_rule_group_query_limit_failures_total", &r->groups[i], v);
	}
	for (size_t i = 0; i < r->n_groups; i++)
		for (size_t k = 0; k < r->groups[i].cfg->n_rules; k++) {
			const struct vg_alert_table *t = &r->groups[i].rules[k].table;
			for (size_t a = 0; a < t->n; a++)
				by_state[t->v[a].state]++;
		}
	pthread_mutex_unlock(&r->mu);
	vg_buf_puts(out, "# HELP vigil_alerts Alerts by state (inactive: resolved, kept 15 minutes).\n"
			 "# TYPE vigil_alerts gauge\n");
	vg_buf_printf(out, "vigil_alerts{state=\"firing\"} %llu\nvigil_alerts{state=\"pending\"} %llu\n"
			   "vigil_alerts{state=\"inactive\"} %llu\n",
		      (unsigned long long)by_state[VG_ALERT_FIRING], (unsigned long long)by_state[VG_ALERT_PENDING],
		      (unsigned long long)by_state[VG_ALERT_INACTIVE]);
}
