/*
 * notifier_dispatch.c: the notifier's life (open, close, the sink), the
 * alerts it holds, aggregation groups and their timers on the calendar
 * clock, and the decision to notify (Alertmanager's dedup stage) per
 * group and integration against the notification log.
 *
 * Invariants: every fingerprint in a group names an alert in the store;
 * a group is flushed only by the dispatcher thread; mu is held across a
 * flush, so the API never sees a group half decided.
 */
#include "receiver/alert/notifier_int.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define MAX_ROUTES_PER_ALERT 64
#define RESOLVED_KEEP_MS (15 * 60 * 1000)

int64_t nt_now(const struct vg_notifier *n)
{
	return vg_clock_now(n->clock);
}

/* --- alerts --------------------------------------------------------- */

struct nt_alert *nt_alert_find(struct vg_notifier *n, uint64_t fp)
{
	for (size_t i = 0; i < n->n_alerts; i++)
		if (n->alerts[i].fp == fp)
			return &n->alerts[i];
	return NULL;
}

bool nt_alert_is_firing(const struct nt_alert *a, int64_t now_ms)
{
	return a->a.ends_at_ms == 0 || a->a.ends_at_ms > now_ms;
}

static void alert_release(struct nt_alert *a)
{
	vg_payload_labels_release(&a->a.labels);
	vg_payload_labels_release(&a->a.annotations);
	free((char *)a->a.generator_url);
}

bool nt_inhibited_by(const struct vg_notifier *n, const struct nt_alert *a, int64_t now_ms, uint64_t *by)
{
	for (size_t r = 0; r < n->tree->n_inhibit; r++) {
		const struct nt_inhibit *in = &n->tree->inhibit[r];
		bool is_both;

		if (!nt_matchers_match(&in->target, &a->a.labels))
			continue;
		is_both = nt_matchers_match(&in->source, &a->a.labels);
		for (size_t i = 0; i < n->n_alerts; i++) {
			const struct nt_alert *s = &n->alerts[i];
			bool is_equal = true;

			if (s == a || !nt_alert_is_firing(s, now_ms) || !nt_matchers_match(&in->source, &s->a.labels))
				continue;
			if (is_both && nt_matchers_match(&in->target, &s->a.labels))
				continue; /* no inhibition among alerts on both sides */
			for (size_t e = 0; e < in->equal->n && is_equal; e++)
				is_equal = strcmp(nt_label(&a->a.labels, in->equal->v[e]),
						  nt_label(&s->a.labels, in->equal->v[e])) == 0;
			if (is_equal) {
				*by = s->fp;
				return true;
			}
		}
	}
	return false;
}

/* --- groups ----------------------------------------------------------- */

static void group_free(struct nt_group *g)
{
	vg_payload_labels_release(&g->labels);
	free(g->key);
	free(g->fps);
	free(g);
}

/* The group labels of alert labels on route r (sorted, as labels are). */
static int group_labels(const struct nt_route *r, const struct vg_conf_labels *labels, struct vg_conf_labels *out)
{
	struct vg_conf_labels pick = { 0, NULL, NULL };
	char *names[256], *values[256];

	if (r->is_group_by_all)
		return nt_labels_copy(out, labels);
	for (size_t i = 0; i < r->n_group_by && pick.n < 256; i++) {
		for (size_t j = 0; j < labels->n; j++)
			if (strcmp(labels->names[j], r->group_by_sorted[i]) == 0) {
				names[pick.n] = labels->names[j];
				values[pick.n] = labels->values[j];
				pick.n++;
			}
	}
	pick.names = names;
	pick.values = values;
	return nt_labels_copy(out, &pick);
}

static void group_key_text(const char *route_key, const struct vg_conf_labels *l, struct vg_buf *b)
{
	vg_buf_puts(b, route_key);
	vg_buf_puts(b, ":{");
	for (size_t i = 0; i < l->n; i++) {
		vg_buf_printf(b, "%s%s=\"", i ? ", " : "", l->names[i]);
		for (const char *p = l->values[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				vg_buf_putc(b, '\\');
			vg_buf_putc(b, *p);
		}
		vg_buf_putc(b, '"');
	}
	vg_buf_putc(b, '}');
}

static int group_add(struct vg_notifier *n, const struct nt_route *r, const struct nt_alert *a, int64_t now)
{
	struct vg_conf_labels gl;
	struct vg_buf key = VG_BUF_INIT;
	struct nt_group *g = NULL;

	if (group_labels(r, &a->a.labels, &gl) != 0)
		return VG_ENOMEM;
	group_key_text(r->key, &gl, &key);
	if (vg_buf_failed(&key))
		goto nomem;
	for (size_t i = 0; i < n->n_groups; i++)
		if (n->groups[i]->route == r && strcmp(n->groups[i]->key, vg_buf_cstr(&key)) == 0) {
			g = n->groups[i];
			break;
		}
	if (g == NULL) {
		struct nt_group **v;

		g = calloc(1, sizeof(*g));
		if (g == NULL)
			goto nomem;
		g->route = r;
		g->labels = gl;
		gl.n = 0;
		gl.names = gl.values = NULL;
		g->key = vg_buf_detach(&key, NULL);
		g->next_flush_ms = now + r->group_wait_ms;
		v = realloc(n->groups, (n->n_groups + 1) * sizeof(*v));
		if (v == NULL) {
			group_free(g);
			goto nomem;
		}
		n->groups = v;
		n->groups[n->n_groups++] = g;
	}
	vg_payload_labels_release(&gl);
	vg_buf_release(&key);
	for (size_t i = 0; i < g->n; i++)
		if (g->fps[i] == a->fp)
			return 0;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;
		uint64_t *v = realloc(g->fps, cap * sizeof(*v));
		if (v == NULL)
			return VG_ENOMEM;
		g->fps = v;
		g->cap = cap;
	}
	g->fps[g->n++] = a->fp;
	return 0;
nomem:
	vg_payload_labels_release(&gl);
	vg_buf_release(&key);
	return VG_ENOMEM;
}

/* --- the sink -------------------------------------------------------- */

/* Merges one alert into the store; *out the stored alert. */
static int alert_merge(struct vg_notifier *n, const struct vg_notify_alert *in, int64_t now, struct nt_alert **out)
{
	uint64_t fp = vg_alert_fingerprint(&in->labels);
	struct nt_alert *a = nt_alert_find(n, fp);
	struct vg_conf_labels ann;
	char *url = NULL;
	int64_t ends = in->is_firing ? in->ends_at_ms : (in->ends_at_ms ? in->ends_at_ms : now);

	if (in->is_firing && ends != 0 && ends <= now)
		ends = 0; /* said firing: believe it */
	if (nt_labels_copy(&ann, &in->annotations) != 0)
		return VG_ENOMEM;
	if (in->generator_url && (url = strdup(in->generator_url)) == NULL) {
		vg_payload_labels_release(&ann);
		return VG_ENOMEM;
	}
	if (a == NULL) {
		if (n->n_alerts == n->cap_alerts) {
			size_t cap = n->cap_alerts ? n->cap_alerts * 2 : 64;
			struct nt_alert *v = realloc(n->alerts, cap * sizeof(*v));
			if (v == NULL) {
				vg_payload_labels_release(&ann);
				free(url);
				return VG_ENOMEM;
			}
			/* groups hold fingerprints, not pointers: a move is safe */
			n->alerts = v;
			n->cap_alerts = cap;
		}
		a = &n->alerts[n->n_alerts];
		memset(a, 0, sizeof(*a));
		if (nt_labels_copy(&a->a.labels, &in->labels) != 0) {
			vg_payload_labels_release(&ann);
			free(url);
			return VG_ENOMEM;
		}
		n->n_alerts++;
		a->fp = fp;
		a->a.starts_at_ms = in->starts_at_ms ? in->starts_at_ms : now;
	} else if (!nt_alert_is_firing(a, now) && in->is_firing) {
		/* A new incident of a resolved alert. */
		a->a.starts_at_ms = in->starts_at_ms ? in->starts_at_ms : now;
	} else if (in->starts_at_ms && in->starts_at_ms < a->a.starts_at_ms) {
		a->a.starts_at_ms = in->starts_at_ms;
	}
	vg_payload_labels_release(&a->a.annotations);
	a->a.annotations = ann;
	free((char *)a->a.generator_url);
	a->a.generator_url = url;
	a->a.ends_at_ms = ends;
	a->a.is_firing = ends == 0 || ends > now;
	a->updated_ms = now;
	*out = a;
	return 0;
}

void vg_notifier_push(void *arg, const struct vg_notify_alert *alerts, size_t count)
{
	struct vg_notifier *n = arg;
	int64_t now = nt_now(n);

	pthread_mutex_lock(&n->mu);
	for (size_t i = 0; i < count; i++) {
		const struct nt_route *routes[MAX_ROUTES_PER_ALERT];
		struct nt_alert *a;
		size_t k;

		if (alert_merge(n, &alerts[i], now, &a) != 0) {
			vg_log(VG_LOG_ERROR, "notifier: out of memory; an alert was dropped");
			continue;
		}
		k = nt_route_match(&n->tree->root, &a->a.labels, routes, MAX_ROUTES_PER_ALERT);
		k = nt_routes_avoid_failing(n, a, routes, k);
		for (size_t j = 0; j < k; j++)
			if (group_add(n, routes[j], a, now) != 0)
				vg_log(VG_LOG_ERROR, "notifier: out of memory; an alert was not grouped");
	}
	pthread_mutex_unlock(&n->mu);
	pthread_mutex_lock(&n->tick_mu);
	pthread_cond_signal(&n->tick_cond);
	pthread_mutex_unlock(&n->tick_mu);
}

/* --- flushing ---------------------------------------------------------- */

static int cmp_alert_ptr(const void *a, const void *b)
{
	const struct nt_alert *x = *(const struct nt_alert *const *)a, *y = *(const struct nt_alert *const *)b;
	return nt_labels_cmp(&x->a.labels, &y->a.labels);
}

/* Pairs equal in every one of the alerts (labels or annotations). */
static void common_pairs(const struct vg_notify_alert *v, size_t n, bool is_annotations, struct vg_conf_labels *out,
			 char **names, char **values)
{
	const struct vg_conf_labels *first;

	out->n = 0;
	out->names = names;
	out->values = values;
	if (n == 0)
		return;
	first = is_annotations ? &v[0].annotations : &v[0].labels;
	for (size_t i = 0; i < first->n && out->n < 256; i++) {
		bool is_common = true;
		for (size_t j = 1; j < n && is_common; j++) {
			const struct vg_conf_labels *l = is_annotations ? &v[j].annotations : &v[j].labels;
			bool found = false;
			for (size_t k = 0; k < l->n && !found; k++)
				found = strcmp(l->names[k], first->names[i]) == 0 && strcmp(l->values[k], first->values[i]) == 0;
			is_common = found;
		}
		if (is_common) {
			names[out->n] = first->names[i];
			values[out->n] = first->values[i];
			out->n++;
		}
	}
}

void nt_flush_integration(struct vg_notifier *n, const struct nt_group *g, const struct nt_stream *s, uint32_t ii,
			  struct nt_alert **all, size_t n_all, const bool *is_firing, const bool *is_muted,
			  const bool *is_acked, int64_t now)
{
	const struct nt_receiver *rc = s->receiver;
	const struct nt_integration *in = &rc->ints[ii];
	const char *key = s->key;
	bool has_firing = false, has_new_firing = false, has_new_resolved = false, was_firing = false;
	bool has_unacked = false; /* a firing alert no ack covers: repeats go on */
	int64_t last_sent = 0;
	struct vg_notify_alert *sendv = NULL;
	struct nt_nlog_entry *ents = NULL;
	size_t n_send = 0, n_ents = 0;
	struct vg_err err;

	for (size_t i = 0; i < n_all; i++) {
		const struct nt_nlog_entry *e = nt_nlog_find(n, key, rc->name, ii, all[i]->fp);
		/* As Alertmanager's log: an alert is its fingerprint; a new
		 * incident shows as resolved, then firing again. */
		bool is_same = e != NULL;

		if (e && e->sent_ms > last_sent)
			last_sent = e->sent_ms;
		if (e && e->is_firing && is_same)
			was_firing = true;
		if (is_muted[i])
			continue;
		if (is_firing[i]) {
			has_firing = true;
			if (!(e && e->is_firing && is_same) && !is_acked[i])
				has_new_firing = true;
			if (!is_acked[i])
				has_unacked = true;
		} else if (e && e->is_firing && is_same) {
			has_new_resolved = true;
		}
	}
	/* Alertmanager's dedup stage, in its order. */
	if (!has_firing && !was_firing)
		return;
	if (!(has_new_firing || (!has_firing && was_firing) || (in->send_resolved && has_new_resolved) ||
	      (has_unacked && now - last_sent >= s->repeat_ms)))
		return;

	sendv = calloc(n_all + 1, sizeof(*sendv));
	ents = calloc(n_all + 1, sizeof(*ents));
	if (!sendv || !ents) {
		vg_log(VG_LOG_ERROR, "notifier: out of memory; group %s not notified", key);
		goto out;
	}
	for (size_t i = 0; i < n_all; i++) {
		if (is_muted[i])
			continue;
		if (is_firing[i] || in->send_resolved) {
			sendv[n_send] = all[i]->a;
			sendv[n_send].is_firing = is_firing[i];
			n_send++;
		}
		ents[n_ents++] = (struct nt_nlog_entry){ (char *)key, (char *)rc->name, ii, all[i]->fp, is_firing[i],
							 all[i]->a.starts_at_ms, now };
	}
	{
		char *cn[256], *cv[256], *an[256], *av[256];
		uint64_t truncated = 0;
		struct vg_notification nt = {
			.receiver = rc->name,
			.group_key = key,
			.is_firing = has_firing,
			.group_labels = g->labels,
			.external_url = n->external_url,
		};

		if (in->max_alerts && n_send > in->max_alerts) {
			truncated = n_send - in->max_alerts;
			n_send = (size_t)in->max_alerts;
		}
		nt.n_alerts = n_send;
		nt.alerts = sendv;
		nt.truncated_alerts = truncated;
		common_pairs(sendv, n_send, false, &nt.common_labels, cn, cv);
		common_pairs(sendv, n_send, true, &nt.common_annotations, an, av);
		if (nt_enqueue(n, rc, ii, &nt, ents, n_ents, n_send == 0, &err) != 0)
			vg_log(VG_LOG_ERROR, "notifier: group %s for %s not queued: %s", key, rc->name, err.msg);
	}
out:
	free(sendv);
	free(ents);
}

/* A group's alerts as a flush sees them: sorted by labels, with their
 * states at now. */
struct group_view {
	struct nt_alert **all;
	size_t n_all;
	bool *is_firing, *is_muted, *is_acked;
};

static void view_release(struct group_view *v)
{
	free(v->all);
	free(v->is_firing);
	free(v->is_muted);
	free(v->is_acked);
}

static int group_view(struct vg_notifier *n, const struct nt_group *g, int64_t now, struct group_view *v)
{
	v->n_all = 0;
	v->all = calloc(g->n + 1, sizeof(*v->all));
	v->is_firing = calloc(g->n + 1, sizeof(bool));
	v->is_muted = calloc(g->n + 1, sizeof(bool));
	v->is_acked = calloc(g->n + 1, sizeof(bool));
	if (!v->all || !v->is_firing || !v->is_muted || !v->is_acked) {
		vg_log(VG_LOG_ERROR, "notifier: out of memory; group %s not flushed", g->key);
		view_release(v);
		return VG_ENOMEM;
	}
	for (size_t i = 0; i < g->n; i++) {
		struct nt_alert *a = nt_alert_find(n, g->fps[i]);
		if (a)
			v->all[v->n_all++] = a;
	}
	qsort(v->all, v->n_all, sizeof(*v->all), cmp_alert_ptr);
	for (size_t i = 0; i < v->n_all; i++) {
		uint64_t by;
		v->is_firing[i] = nt_alert_is_firing(v->all[i], now);
		v->is_muted[i] = v->is_firing[i] && (nt_silenced_by(n, &v->all[i]->a.labels, now) != NULL ||
						     nt_inhibited_by(n, v->all[i], now, &by));
		v->is_acked[i] = v->is_firing[i] && nt_acked_by(n, v->all[i], now) != NULL;
	}
	return 0;
}

static void flush_group(struct vg_notifier *n, struct nt_group *g, int64_t now)
{
	const struct nt_stream st = { g->route->receiver, g->key, g->route->repeat_interval_ms };
	struct group_view v;
	size_t kept = 0;

	if (group_view(n, g, now, &v) != 0)
		return;
	if (nt_route_is_muted(g->route, now))
		goto out; /* muted by time: keep everything for later */
	for (uint32_t ii = 0; ii < g->route->receiver->n; ii++)
		nt_flush_integration(n, g, &st, ii, v.all, v.n_all, v.is_firing, v.is_muted, v.is_acked, now);
	nt_escalate_group(n, g, v.all, v.n_all, v.is_firing, v.is_muted, v.is_acked, now);
	/* Resolved alerts leave the group once a flush has seen them. */
	for (size_t i = 0; i < g->n; i++) {
		struct nt_alert *a = nt_alert_find(n, g->fps[i]);
		if (a && nt_alert_is_firing(a, now))
			g->fps[kept++] = g->fps[i];
	}
	g->n = kept;
out:
	view_release(&v);
}

/* An escalation step due between two flushes of its group. */
static void escalate_group(struct vg_notifier *n, struct nt_group *g, int64_t now)
{
	struct group_view v;

	if (nt_route_is_muted(g->route, now) || group_view(n, g, now, &v) != 0)
		return;
	nt_escalate_group(n, g, v.all, v.n_all, v.is_firing, v.is_muted, v.is_acked, now);
	view_release(&v);
}

static void tick(struct vg_notifier *n)
{
	int64_t now = nt_now(n);
	size_t kept = 0;

	pthread_mutex_lock(&n->mu);
	nt_acks_tick(n, now);
	for (size_t i = 0; i < n->n_groups; i++) {
		struct nt_group *g = n->groups[i];
		if (g->next_escalate_ms && now >= g->next_escalate_ms && now < g->next_flush_ms)
			escalate_group(n, g, now);
		if (now >= g->next_flush_ms) {
			flush_group(n, g, now);
			g->has_flushed = true;
			g->next_flush_ms += g->route->group_interval_ms;
			if (g->next_flush_ms <= now)
				g->next_flush_ms = now + g->route->group_interval_ms;
			if (g->n == 0) {
				group_free(g);
				continue;
			}
		}
		n->groups[kept++] = g;
	}
	n->n_groups = kept;
	/* Alerts no group holds, resolved a while: forgotten. */
	kept = 0;
	for (size_t i = 0; i < n->n_alerts; i++) {
		struct nt_alert *a = &n->alerts[i];
		bool is_held = false;
		for (size_t g = 0; g < n->n_groups && !is_held; g++)
			for (size_t k = 0; k < n->groups[g]->n && !is_held; k++)
				is_held = n->groups[g]->fps[k] == a->fp;
		if (!is_held && !nt_alert_is_firing(a, now) && now - a->a.ends_at_ms > RESOLVED_KEEP_MS) {
			alert_release(a);
			continue;
		}
		n->alerts[kept++] = *a;
	}
	n->n_alerts = kept;
	pthread_mutex_unlock(&n->mu);
}

void *nt_dispatch_main(void *arg)
{
	struct vg_notifier *n = arg;

	pthread_mutex_lock(&n->tick_mu);
	while (!n->is_stopping) {
		struct timespec ts;

		pthread_mutex_unlock(&n->tick_mu);
		tick(n);
		pthread_mutex_lock(&n->tick_mu);
		if (n->is_stopping)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)(n->tick_ms % 1000) * 1000000;
		ts.tv_sec += n->tick_ms / 1000 + ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&n->tick_cond, &n->tick_mu, &ts);
	}
	pthread_mutex_unlock(&n->tick_mu);
	return NULL;
}

/* --- life ------------------------------------------------------------- */

static int cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int r;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	r = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
	return r;
}

int vg_notifier_open(const struct vg_notifier_options *o, struct vg_notifier **out, struct vg_err *err)
{
	struct vg_notifier *n = calloc(1, sizeof(*n));
	char dir[4096];
	int r;

	*out = NULL;
	if (n == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	pthread_mutex_init(&n->mu, NULL);
	pthread_mutex_init(&n->qmu, NULL);
	pthread_mutex_init(&n->tick_mu, NULL);
	cond_init_mono(&n->qcond);
	cond_init_mono(&n->tick_cond);
	n->nlog_fd = -1;
	n->cfg = o->config;
	n->clock = o->clock;
	n->retry_initial_ms = o->retry_initial_ms > 0 ? o->retry_initial_ms : 500;
	n->retry_max_ms = o->retry_max_ms > 0 ? o->retry_max_ms : 5 * 60 * 1000;
	n->tick_ms = o->tick_ms > 0 ? o->tick_ms : 100;
	n->next_job_seq = (uint64_t)vg_clock_now_ms() * 1000;
	snprintf(dir, sizeof(dir), "%s/alerting", o->data_dir);
	n->dir = strdup(dir);
	n->external_url = strdup(o->config->external_url ? o->config->external_url
						       : o->external_url ? o->external_url : "");
	n->counters = calloc(nt_n_kinds, sizeof(*n->counters));
	if (!n->dir || !n->external_url || !n->counters) {
		r = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto fail;
	}
	if ((r = nt_tree_build(o->config, o->config_file ? o->config_file : "receiver.yaml", &n->tree, err)) != 0 ||
	    (r = vg_fs_mkdir_p(n->dir, NULL, err)) != 0 || (r = nt_silences_load(n, err)) != 0 ||
	    (r = nt_acks_load(n, err)) != 0 ||
	    (r = nt_queue_open(n, err)) != 0)
		goto fail;
	if (pthread_create(&n->deliverer, NULL, nt_delivery_main, n) != 0) {
		r = vg_err_set(err, VG_ENOMEM, "cannot start the delivery thread");
		goto fail;
	}
	if (pthread_create(&n->dispatcher, NULL, nt_dispatch_main, n) != 0) {
		pthread_mutex_lock(&n->qmu);
		n->is_stopping = true;
		pthread_cond_signal(&n->qcond);
		pthread_mutex_unlock(&n->qmu);
		pthread_join(n->deliverer, NULL);
		r = vg_err_set(err, VG_ENOMEM, "cannot start the dispatcher thread");
		goto fail;
	}
	n->has_threads = true;
	*out = n;
	return 0;
fail:
	vg_notifier_close(n);
	return r;
}

void vg_notifier_close(struct vg_notifier *n)
{
	if (n == NULL)
		return;
	if (n->has_threads) {
		pthread_mutex_lock(&n->tick_mu);
		n->is_stopping = true;
		pthread_cond_signal(&n->tick_cond);
		pthread_mutex_unlock(&n->tick_mu);
		pthread_join(n->dispatcher, NULL);
		pthread_mutex_lock(&n->qmu);
		pthread_cond_signal(&n->qcond);
		pthread_mutex_unlock(&n->qmu);
		pthread_join(n->deliverer, NULL);
	}
	nt_queue_close(n);
	for (size_t i = 0; i < n->n_groups; i++)
		group_free(n->groups[i]);
	free(n->groups);
	for (size_t i = 0; i < n->n_alerts; i++)
		alert_release(&n->alerts[i]);
	free(n->alerts);
	for (size_t i = 0; i < n->n_silences; i++)
		nt_silence_release(&n->silences[i]);
	free(n->silences);
	nt_acks_free(n);
	nt_tree_free(n->tree);
	free(n->counters);
	free(n->dir);
	free(n->external_url);
	pthread_cond_destroy(&n->qcond);
	pthread_cond_destroy(&n->tick_cond);
	pthread_mutex_destroy(&n->mu);
	pthread_mutex_destroy(&n->qmu);
	pthread_mutex_destroy(&n->tick_mu);
	free(n);
}

int vg_notifier_set_external_url(struct vg_notifier *n, const char *url)
{
	char *s;

	if (n->cfg->external_url)
		return 0;
	if ((s = strdup(url)) == NULL)
		return VG_ENOMEM;
	pthread_mutex_lock(&n->mu);
	free(n->external_url);
	n->external_url = s;
	pthread_mutex_unlock(&n->mu);
	return 0;
}
