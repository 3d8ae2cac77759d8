/*
 * notifier_api.c: the part of Alertmanager's API v2 the receiver serves
 * (api/v2/openapi.yaml shapes), enough for amtool's `silence add|query|
 * expire` and `alert query` and for Prometheus to post alerts:
 *   GET /api/v2/status, GET /api/v2/receivers,
 *   GET|POST /api/v2/alerts, GET /api/v2/alerts/groups (what Grafana and
 *   karma read), GET|POST /api/v2/silences,
 *   GET|DELETE /api/v2/silence/{id}.
 * Answers are JSON; errors are a JSON string, as Alertmanager's.
 * Vigil's acks (/api/v2/acks, /api/v2/ack/{id}) are notifier_ack_api.c's;
 * an alert's status carries acknowledgedBy beside silencedBy.
 */
#include "config.h"

#include "receiver/alert/notifier_int.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/matchers.h"
#include "receiver/alert/channel_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/banned.h"

#define MAX_FILTERS 64

static int reply_error(struct vg_buf *out, int status, const char *msg)
{
	vg_buf_reset(out);
	vg_payload_str(out, msg);
	vg_buf_putc(out, '\n');
	return status;
}

/* Decodes one %XX / + query component in place. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s == '+') {
			*w++ = ' ';
		} else if (*s == '%' && vg_hex_digit(s[1]) >= 0 && vg_hex_digit(s[2]) >= 0) {
			*w++ = (char)(vg_hex_digit(s[1]) << 4 | vg_hex_digit(s[2]));
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

struct query {
	char *copy;
	size_t n;
	char *names[128], *values[128];
};

static void query_parse(const char *q, struct query *out)
{
	char *p, *save = NULL;

	memset(out, 0, sizeof(*out));
	if (q == NULL || (out->copy = strdup(q)) == NULL)
		return;
	for (p = strtok_r(out->copy, "&", &save); p && out->n < 128; p = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(p, '=');
		if (eq)
			*eq++ = '\0';
		unescape(p);
		if (eq)
			unescape(eq);
		out->names[out->n] = p;
		out->values[out->n] = eq ? eq : (char *)"";
		out->n++;
	}
}

static const char *query_get(const struct query *q, const char *name)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->names[i], name) == 0)
			return q->values[i];
	return NULL;
}

static bool query_bool(const struct query *q, const char *name, bool dflt)
{
	const char *v = query_get(q, name);
	return v == NULL ? dflt : strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

/* filter= matchers into sel; false after writing an error. */
static int query_filters(const struct query *q, struct vg_selector *sel, struct vg_buf *out)
{
	for (size_t i = 0; i < q->n; i++) {
		struct vg_matcher_text m;
		struct vg_err err;
		int r;

		if (strcmp(q->names[i], "filter") != 0)
			continue;
		if (vg_matcher_text_parse(q->values[i], &m, &err) != 0)
			return reply_error(out, 400, err.msg);
		r = vg_selector_add(sel, m.name, strlen(m.name), m.op, m.value, strlen(m.value), &err);
		vg_matcher_text_release(&m);
		if (r != 0)
			return reply_error(out, 400, err.msg);
	}
	return 0;
}

static int handle_status(struct vg_notifier *n, struct vg_buf *out)
{
	(void)n;
	vg_buf_puts(out, "{\"cluster\":{\"status\":\"disabled\",\"peers\":[],\"name\":\"\"},"
			 "\"versionInfo\":{\"branch\":\"\",\"buildDate\":\"\",\"buildUser\":\"\",\"goVersion\":\"\","
			 "\"revision\":\"\",\"version\":\"" PACKAGE_VERSION "\"},"
			 "\"config\":{\"original\":\"\"},\"uptime\":");
	vg_payload_time(out, vg_clock_now_ms());
	vg_buf_puts(out, "}\n");
	return 200;
}

static int handle_receivers(struct vg_notifier *n, struct vg_buf *out)
{
	vg_buf_putc(out, '[');
	for (size_t i = 0; i < n->tree->n_receivers; i++) {
		vg_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
		vg_payload_str(out, n->tree->receivers[i].name);
		vg_buf_putc(out, '}');
	}
	vg_buf_puts(out, "]\n");
	return 200;
}

/* global.resolve_timeout (vg_alerting_validate sets the default). */
static int64_t resolve_timeout_ms(const struct vg_notifier *n)
{
	return n->cfg->global.resolve_timeout_ms > 0 ? n->cfg->global.resolve_timeout_ms : 5 * 60 * 1000;
}

static int post_alerts(struct vg_notifier *n, const char *body, size_t len, struct vg_buf *out)
{
	struct vg_notify_alert *v;
	size_t count;
	struct vg_err err;
	int64_t now = nt_now(n);

	if (nt_alerts_decode(body, len, &v, &count, &err) != 0)
		return reply_error(out, 400, err.msg);
	for (size_t i = 0; i < count; i++) {
		/* Alertmanager: no endsAt means resolve_timeout from now. */
		if (v[i].ends_at_ms == 0)
			v[i].ends_at_ms = now + resolve_timeout_ms(n);
		v[i].is_firing = v[i].ends_at_ms > now;
	}
	vg_notifier_push(n, v, count);
	nt_alerts_free(v, count);
	return 200;
}

/* go-openapi's strfmt.DateTime, as Alertmanager's API writes every time:
 * RFC 3339 with milliseconds, "2026-11-30T11:00:00.000Z". */
static void api_time(struct vg_buf *out, int64_t ms)
{
	int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	time_t t = (time_t)s;
	struct tm tm;

	gmtime_r(&t, &tm);
	vg_buf_printf(out, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		      tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms - s * 1000));
}

/* One gettableAlert, in the order of Alertmanager's fields (generatorURL
 * left out when empty, as its omitempty does). */
static void alert_json(const struct vg_notifier *n, const struct nt_alert *a, int64_t now, const char *sil,
		       bool is_inhibited, uint64_t inh, const char *const *receivers, size_t n_receivers,
		       struct vg_buf *out)
{
	const struct nt_ack *ack;
	char fp[17];

	vg_buf_puts(out, "{\"annotations\":");
	vg_payload_labels(out, &a->a.annotations);
	vg_buf_puts(out, ",\"endsAt\":");
	api_time(out, a->a.ends_at_ms ? a->a.ends_at_ms : now + resolve_timeout_ms(n));
	vg_alert_fingerprint_hex(a->fp, fp);
	vg_buf_printf(out, ",\"fingerprint\":\"%s\",\"receivers\":[", fp);
	for (size_t j = 0; j < n_receivers; j++) {
		vg_buf_puts(out, j ? ",{\"name\":" : "{\"name\":");
		vg_payload_str(out, receivers[j]);
		vg_buf_putc(out, '}');
	}
	vg_buf_puts(out, "],\"startsAt\":");
	api_time(out, a->a.starts_at_ms);
	vg_buf_printf(out, ",\"status\":{\"state\":\"%s\",\"silencedBy\":[",
		      sil || is_inhibited ? "suppressed" : "active");
	if (sil)
		vg_payload_str(out, sil);
	vg_buf_puts(out, "],\"inhibitedBy\":[");
	if (is_inhibited) {
		vg_alert_fingerprint_hex(inh, fp);
		vg_buf_printf(out, "\"%s\"", fp);
	}
	/* Vigil's own: the ack covering the alert (notifier_ack.c). */
	vg_buf_puts(out, "],\"acknowledgedBy\":[");
	if ((ack = nt_acked_by(n, a, now)) != NULL)
		vg_payload_str(out, ack->id);
	vg_buf_puts(out, "]},\"updatedAt\":");
	api_time(out, a->updated_ms);
	if (a->a.generator_url && a->a.generator_url[0]) {
		vg_buf_puts(out, ",\"generatorURL\":");
		vg_payload_str(out, a->a.generator_url);
	}
	vg_buf_puts(out, ",\"labels\":");
	vg_payload_labels(out, &a->a.labels);
	vg_buf_putc(out, '}');
}

static int get_alerts(struct vg_notifier *n, const struct query *q, struct vg_buf *out)
{
	struct vg_selector sel = VG_SELECTOR_INIT;
	bool want_active = query_bool(q, "active", true), want_silenced = query_bool(q, "silenced", true);
	bool want_inhibited = query_bool(q, "inhibited", true);
	int64_t now = nt_now(n);
	size_t shown = 0;
	int st;

	if ((st = query_filters(q, &sel, out)) != 0) {
		vg_selector_release(&sel);
		return st;
	}
	vg_buf_putc(out, '[');
	pthread_mutex_lock(&n->mu);
	for (size_t i = 0; i < n->n_alerts; i++) {
		const struct nt_alert *a = &n->alerts[i];
		const struct nt_route *routes[64];
		const char *sil, *names[64];
		uint64_t inh = 0;
		bool is_inhibited;
		size_t k;

		if (!nt_alert_is_firing(a, now) || !nt_matchers_match(&sel, &a->a.labels))
			continue;
		sil = nt_silenced_by(n, &a->a.labels, now);
		is_inhibited = nt_inhibited_by(n, a, now, &inh);
		if ((sil && !want_silenced) || (is_inhibited && !want_inhibited) || (!sil && !is_inhibited && !want_active))
			continue;
		if (shown++)
			vg_buf_putc(out, ',');
		k = nt_route_match(&n->tree->root, &a->a.labels, routes, 64);
		for (size_t j = 0; j < k; j++)
			names[j] = routes[j]->receiver->name;
		alert_json(n, a, now, sil, is_inhibited, inh, names, k, out);
	}
	pthread_mutex_unlock(&n->mu);
	vg_buf_puts(out, "]\n");
	vg_selector_release(&sel);
	return 200;
}

/* --- GET /api/v2/alerts/groups ------------------------------------------- */

/* Go's model.LabelSet.Before: fewer labels first, then by the sorted
 * names of both, a name missing on one side putting that side first. */
static int cmp_name(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static bool labels_before(const struct vg_conf_labels *a, const struct vg_conf_labels *b)
{
	const char *stack[64], **names = stack;
	size_t m = a->n + b->n;
	bool is_before = false;

	if (a->n != b->n)
		return a->n < b->n;
	if (m > 64 && (names = malloc(m * sizeof(*names))) == NULL)
		return false;
	for (size_t i = 0; i < a->n; i++)
		names[i] = a->names[i];
	for (size_t i = 0; i < b->n; i++)
		names[a->n + i] = b->names[i];
	qsort(names, m, sizeof(*names), cmp_name);
	for (size_t i = 0; i < m; i++) {
		const char *va = vg_channel_label(a, names[i]), *vb = vg_channel_label(b, names[i]);
		int c;
		if (!va || !vb) {
			is_before = !va;
			break;
		}
		if ((c = strcmp(va, vb)) != 0) {
			is_before = c < 0;
			break;
		}
	}
	if (names != stack)
		free(names);
	return is_before;
}

/* Alertmanager's types.AlertSlice order: job, then instance (an alert
 * without one after those with it), then the label sets. */
static int cmp_alert(const void *x, const void *y)
{
	const struct nt_alert *a = *(const struct nt_alert *const *)x, *b = *(const struct nt_alert *const *)y;
	static const char *const keys[] = { "job", "instance" };

	for (size_t k = 0; k < 2; k++) {
		const char *va = vg_channel_label(&a->a.labels, keys[k]), *vb = vg_channel_label(&b->a.labels, keys[k]);
		if (!va && !vb)
			continue;
		if (!va || !vb)
			return va ? -1 : 1;
		if (strcmp(va, vb) != 0)
			return strcmp(va, vb);
	}
	return labels_before(&a->a.labels, &b->a.labels) ? -1 : labels_before(&b->a.labels, &a->a.labels) ? 1 : 0;
}

struct shown_group {
	const struct nt_group *g;
	size_t n;
	const struct nt_alert **alerts;
};

/* Dispatcher.Groups' order: by group labels, then receiver name. */
static int cmp_group(const void *x, const void *y)
{
	const struct shown_group *a = x, *b = y;

	if (labels_before(&a->g->labels, &b->g->labels))
		return -1;
	if (labels_before(&b->g->labels, &a->g->labels))
		return 1;
	return strcmp(a->g->route->receiver->name, b->g->route->receiver->name);
}

/* As get_alerts: whether a passes filter= and active, silenced,
 * inhibited; its silence and inhibitor. */
struct alert_filter {
	const struct vg_selector *sel;
	bool want_active, want_silenced, want_inhibited;
};

static bool alert_shown(const struct vg_notifier *n, const struct alert_filter *f, const struct nt_alert *a,
			int64_t now)
{
	uint64_t inh = 0;
	const char *sil;
	bool is_inhibited;

	if (!nt_alert_is_firing(a, now) || !nt_matchers_match(f->sel, &a->a.labels))
		return false;
	sil = nt_silenced_by(n, &a->a.labels, now);
	is_inhibited = nt_inhibited_by(n, a, now, &inh);
	return !((sil && !f->want_silenced) || (is_inhibited && !f->want_inhibited) ||
		 (!sil && !is_inhibited && !f->want_active));
}

/* alertGroups of the openapi: [{"alerts":[gettableAlert...],"labels":{...},
 * "receiver":{"name":...}}], one per aggregation group with an alert
 * shown; each alert's receivers are those of every group showing it. */
static int get_alert_groups(struct vg_notifier *n, const struct query *q, struct vg_buf *out)
{
	struct vg_selector sel = VG_SELECTOR_INIT, rsel = VG_SELECTOR_INIT;
	struct alert_filter f = { &sel, query_bool(q, "active", true), query_bool(q, "silenced", true),
				  query_bool(q, "inhibited", true) };
	const char *receiver = query_get(q, "receiver");
	struct shown_group *shown = NULL;
	size_t n_shown = 0;
	int64_t now = nt_now(n);
	struct vg_err err;
	int st = 200;

	if ((st = query_filters(q, &sel, out)) != 0)
		goto out;
	st = 200;
	if (receiver && vg_selector_add(&rsel, "receiver", 8, VG_MATCH_RE, receiver, strlen(receiver), &err) != 0) {
		st = reply_error(out, 400, err.msg);
		goto out;
	}
	pthread_mutex_lock(&n->mu);
	shown = calloc(n->n_groups + 1, sizeof(*shown));
	for (size_t i = 0; shown && i < n->n_groups; i++) {
		const struct nt_group *g = n->groups[i];
		char *rn[] = { "receiver" }, *rv[] = { (char *)g->route->receiver->name };
		struct vg_conf_labels rl = { 1, rn, rv };
		struct shown_group *sg = &shown[n_shown];

		if (rsel.n && !nt_matchers_match(&rsel, &rl))
			continue;
		sg->g = g;
		sg->alerts = calloc(g->n + 1, sizeof(*sg->alerts));
		if (!sg->alerts)
			break;
		for (size_t j = 0; j < g->n; j++) {
			const struct nt_alert *a = nt_alert_find(n, g->fps[j]);
			if (a && alert_shown(n, &f, a, now))
				sg->alerts[sg->n++] = a;
		}
		if (sg->n == 0) {
			free(sg->alerts);
			continue;
		}
		qsort(sg->alerts, sg->n, sizeof(*sg->alerts), cmp_alert);
		n_shown++;
	}
	if (!shown) {
		pthread_mutex_unlock(&n->mu);
		st = reply_error(out, 500, "out of memory");
		goto out;
	}
	qsort(shown, n_shown, sizeof(*shown), cmp_group);
	vg_buf_putc(out, '[');
	for (size_t i = 0; i < n_shown; i++) {
		vg_buf_puts(out, i ? ",{\"alerts\":[" : "{\"alerts\":[");
		for (size_t j = 0; j < shown[i].n; j++) {
			const struct nt_alert *a = shown[i].alerts[j];
			const char *names[64];
			size_t k = 0;
			uint64_t inh = 0;
			const char *sil = nt_silenced_by(n, &a->a.labels, now);
			bool is_inhibited = nt_inhibited_by(n, a, now, &inh);

			for (size_t gi = 0; gi < n_shown && k < 64; gi++)
				for (size_t aj = 0; aj < shown[gi].n; aj++)
					if (shown[gi].alerts[aj] == a) {
						names[k++] = shown[gi].g->route->receiver->name;
						break;
					}
			qsort(names, k, sizeof(*names), cmp_name);
			if (j)
				vg_buf_putc(out, ',');
			alert_json(n, a, now, sil, is_inhibited, inh, names, k, out);
		}
		vg_buf_puts(out, "],\"labels\":");
		vg_payload_labels(out, &shown[i].g->labels);
		vg_buf_puts(out, ",\"receiver\":{\"name\":");
		vg_payload_str(out, shown[i].g->route->receiver->name);
		vg_buf_puts(out, "}}");
	}
	pthread_mutex_unlock(&n->mu);
	vg_buf_puts(out, "]\n");
out:
	for (size_t i = 0; shown && i < n_shown; i++)
		free(shown[i].alerts);
	free(shown);
	vg_selector_release(&sel);
	vg_selector_release(&rsel);
	return st;
}

static struct nt_silence *silence_find(struct vg_notifier *n, const char *id)
{
	for (size_t i = 0; i < n->n_silences; i++)
		if (strcmp(n->silences[i].id, id) == 0)
			return &n->silences[i];
	return NULL;
}

static void new_id(char out[37])
{
	uint64_t a = vg_random_u64(), b = vg_random_u64();

	/* RFC 4122 version 4 */
	a = (a & ~0xF000ull) | 0x4000ull;
	b = (b & ~(3ull << 62)) | (2ull << 62);
	snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16 & 0xFFFF),
		 (unsigned)(a & 0xFFFF), (unsigned)(b >> 48), (unsigned long long)(b & 0xFFFFFFFFFFFFull));
}

static int post_silence(struct vg_notifier *n, const char *body, size_t len, struct vg_buf *out)
{
	struct nt_silence s;
	struct vg_err err;
	int64_t now = nt_now(n);
	int status = 200;

	if (nt_silence_decode(body, len, &s, &err) != 0)
		return reply_error(out, 400, err.msg);
	if (s.ends_ms <= now) {
		nt_silence_release(&s);
		return reply_error(out, 400, "endsAt: a silence must end in the future");
	}
	s.updated_ms = now;
	pthread_mutex_lock(&n->mu);
	if (s.id[0]) {
		struct nt_silence *old = silence_find(n, s.id);
		if (old == NULL) {
			pthread_mutex_unlock(&n->mu);
			nt_silence_release(&s);
			return reply_error(out, 404, "silence not found");
		}
		nt_silence_release(old);
		*old = s;
	} else {
		if (n->n_silences == n->cap_silences) {
			size_t cap = n->cap_silences ? n->cap_silences * 2 : 16;
			struct nt_silence *v = realloc(n->silences, cap * sizeof(*v));
			if (v == NULL) {
				pthread_mutex_unlock(&n->mu);
				nt_silence_release(&s);
				return reply_error(out, 500, "out of memory");
			}
			n->silences = v;
			n->cap_silences = cap;
		}
		new_id(s.id);
		n->silences[n->n_silences++] = s;
	}
	if (nt_silences_save(n, &err) != 0) {
		vg_log(VG_LOG_ERROR, "silences: %s", err.msg);
		status = reply_error(out, 500, err.msg);
	} else {
		vg_buf_puts(out, "{\"silenceID\":");
		vg_payload_str(out, s.id);
		vg_buf_puts(out, "}\n");
	}
	pthread_mutex_unlock(&n->mu);
	return status;
}

static int get_silences(struct vg_notifier *n, const struct query *q, struct vg_buf *out)
{
	struct vg_selector sel = VG_SELECTOR_INIT;
	int64_t now = nt_now(n);
	size_t shown = 0;
	int st;

	if ((st = query_filters(q, &sel, out)) != 0) {
		vg_selector_release(&sel);
		return st;
	}
	vg_buf_putc(out, '[');
	pthread_mutex_lock(&n->mu);
	for (size_t i = 0; i < n->n_silences; i++) {
		const struct nt_silence *s = &n->silences[i];
		struct vg_conf_labels l;
		char *names[64], *values[64];
		bool ok = true;

		/* A filter matches a silence whose equality matchers, taken
		 * as labels, satisfy it (as Alertmanager's). */
		l.n = 0;
		l.names = names;
		l.values = values;
		for (size_t j = 0; j < s->n && j < 64; j++)
			if (!s->m[j].is_regex && s->m[j].is_equal) {
				names[l.n] = s->m[j].name;
				values[l.n] = s->m[j].value;
				l.n++;
			}
		if (sel.n)
			ok = nt_matchers_match(&sel, &l);
		if (!ok)
			continue;
		if (shown++)
			vg_buf_putc(out, ',');
		nt_silence_encode(s, now, out);
	}
	pthread_mutex_unlock(&n->mu);
	vg_buf_puts(out, "]\n");
	vg_selector_release(&sel);
	return 200;
}

static int one_silence(struct vg_notifier *n, const char *id, bool is_delete, struct vg_buf *out)
{
	struct nt_silence *s;
	struct vg_err err;
	int64_t now = nt_now(n);
	int status = 200;

	pthread_mutex_lock(&n->mu);
	s = silence_find(n, id);
	if (s == NULL) {
		pthread_mutex_unlock(&n->mu);
		return reply_error(out, 404, "silence not found");
	}
	if (!is_delete) {
		nt_silence_encode(s, now, out);
		vg_buf_putc(out, '\n');
	} else if (now >= s->ends_ms) {
		status = reply_error(out, 400, "silence already expired");
	} else {
		/* Expiring ends it now; a pending one ends where it starts. */
		s->ends_ms = now > s->starts_ms ? now : s->starts_ms;
		if (s->ends_ms == s->starts_ms)
			s->starts_ms = s->ends_ms - 1;
		s->updated_ms = now;
		if (nt_silences_save(n, &err) != 0)
			status = reply_error(out, 500, err.msg);
	}
	pthread_mutex_unlock(&n->mu);
	return status;
}

int vg_notifier_http(struct vg_notifier *n, const char *method, const char *path, const char *query,
		     const char *body, size_t body_len, struct vg_buf *out)
{
	bool is_get = strcmp(method, "GET") == 0, is_post = strcmp(method, "POST") == 0;
	struct query q;
	int status;

	query_parse(query, &q);
	if (strcmp(path, "status") == 0 && is_get)
		status = handle_status(n, out);
	else if (strcmp(path, "receivers") == 0 && is_get)
		status = handle_receivers(n, out);
	else if (strcmp(path, "alerts") == 0 && is_get)
		status = get_alerts(n, &q, out);
	else if (strcmp(path, "alerts") == 0 && is_post)
		status = post_alerts(n, body, body_len, out);
	else if (strcmp(path, "alerts/groups") == 0 && is_get)
		status = get_alert_groups(n, &q, out);
	else if (strcmp(path, "silences") == 0 && is_get)
		status = get_silences(n, &q, out);
	else if (strcmp(path, "silences") == 0 && is_post)
		status = post_silence(n, body, body_len, out);
	else if (strncmp(path, "silence/", 8) == 0 && path[8] && strchr(path + 8, '/') == NULL &&
		 (is_get || strcmp(method, "DELETE") == 0))
		status = one_silence(n, path + 8, !is_get, out);
	else if (strncmp(path, "ack", 3) == 0 && (status = nt_ack_http(n, method, path, body, body_len, out)) >= 0)
		; /* notifier_ack_api.c answered */
	else if (strcmp(path, "status") == 0 || strcmp(path, "receivers") == 0 || strcmp(path, "alerts") == 0 ||
		 strcmp(path, "alerts/groups") == 0 ||
		 strcmp(path, "silences") == 0 || strncmp(path, "silence/", 8) == 0)
		status = reply_error(out, 405, "method not allowed");
	else
		status = reply_error(out, 404, "unknown API endpoint");
	free(q.copy);
	return status;
}

int nt_api_error(struct vg_buf *out, int status, const char *msg)
{
	return reply_error(out, status, msg);
}

void nt_api_new_id(char out[37])
{
	new_id(out);
}
