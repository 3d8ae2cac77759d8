/*
 * notifier_route.c: the compiled alerting configuration (notifier_int.h):
 * the route tree with inherited options and Alertmanager's route keys,
 * matchers over label sets, time intervals, inhibition rules.
 *
 * Invariant: a built tree is immutable; it borrows strings from the
 * configuration, which outlives it.
 */
#include "receiver/alert/notifier_int.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/matchers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/banned.h"

#define MAX_DEPTH 32

/* --- time intervals ------------------------------------------------------ */

static const char *const weekday_names[] = { "sunday", "monday", "tuesday", "wednesday",
					     "thursday", "friday", "saturday" };
static const char *const month_names[] = { "january", "february", "march", "april", "may", "june", "july",
					   "august", "september", "october", "november", "december" };

/* A name (index from base) or a number in [lo, hi]. */
static int ti_value(const char *s, size_t len, const char *const *names, size_t n_names, int base, int lo, int hi,
		    int *out)
{
	char tmp[32], *end;
	long v;

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	for (size_t i = 0; names && i < n_names; i++)
		if (strcasecmp(tmp, names[i]) == 0) {
			*out = (int)i + base;
			return 0;
		}
	v = strtol(tmp, &end, 10);
	if (*end != '\0' || end == tmp || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/* "a" or "a:b" into a range. */
static int ti_range(const char *s, const char *const *names, size_t n_names, int base, int lo, int hi,
		    struct nt_range *out)
{
	const char *colon = strchr(s, ':');
	size_t len = strlen(s);

	if (colon == NULL) {
		if (ti_value(s, len, names, n_names, base, lo, hi, &out->lo) != 0)
			return -1;
		out->hi = out->lo;
		return 0;
	}
	if (ti_value(s, (size_t)(colon - s), names, n_names, base, lo, hi, &out->lo) != 0 ||
	    ti_value(colon + 1, strlen(colon + 1), names, n_names, base, lo, hi, &out->hi) != 0)
		return -1;
	return 0;
}

static int minutes_of(const char *s)
{
	int h = 0, m = 0;

	if (s == NULL || sscanf(s, "%2d:%2d", &h, &m) != 2)
		return -1;
	return h * 60 + m;
}

void nt_ti_release(struct nt_ti_item *t)
{
	free(t->times);
	free(t->days);
	free(t->years);
	memset(t, 0, sizeof(*t));
}

int nt_ti_parse(const struct vg_time_interval_item *c, struct nt_ti_item *t, struct vg_err *err)
{
	struct nt_range r;

	memset(t, 0, sizeof(*t));
	if (c->times.n) {
		t->times = calloc(c->times.n, sizeof(*t->times));
		if (!t->times)
			goto nomem;
		for (size_t i = 0; i < c->times.n; i++) {
			const struct vg_time_range_conf *tr = (const struct vg_time_range_conf *)c->times.v + i;
			int lo = minutes_of(tr->start_time), hi = minutes_of(tr->end_time);
			if (lo < 0 || hi < 0 || hi <= lo) {
				nt_ti_release(t);
				return vg_err_set(err, VG_EINVAL,
						  "times[%zu]: needs start_time and end_time, start before end", i);
			}
			t->times[t->n_times++] = (struct nt_range){ lo, hi };
		}
	}
	for (size_t i = 0; i < c->weekdays.n; i++) {
		if (ti_range(c->weekdays.v[i], weekday_names, 7, 0, 0, -1, &r) != 0 || r.hi < r.lo) {
			nt_ti_release(t);
			return vg_err_set(err, VG_EINVAL, "weekdays: \"%s\" is not a weekday or a range of them (monday:friday)",
					  vg_conf_printable(c->weekdays.v[i], "?"));
		}
		for (int d = r.lo; d <= r.hi; d++)
			t->weekdays |= 1u << d;
	}
	for (size_t i = 0; i < c->months.n; i++) {
		if (ti_range(c->months.v[i], month_names, 12, 1, 1, 12, &r) != 0 || r.hi < r.lo) {
			nt_ti_release(t);
			return vg_err_set(err, VG_EINVAL, "months: \"%s\" is not a month or a range of them (january:march, 1:3)",
					  vg_conf_printable(c->months.v[i], "?"));
		}
		for (int m = r.lo; m <= r.hi; m++)
			t->months |= 1u << m;
	}
	if (c->days_of_month.n) {
		t->days = calloc(c->days_of_month.n, sizeof(*t->days));
		if (!t->days)
			goto nomem;
	}
	for (size_t i = 0; i < c->days_of_month.n; i++) {
		if (ti_range(c->days_of_month.v[i], NULL, 0, 0, -31, 31, &r) != 0 || r.lo == 0 || r.hi == 0 ||
		    (r.lo > 0 && r.hi > 0 && r.hi < r.lo) || (r.lo < 0 && r.hi < 0 && r.hi < r.lo)) {
			nt_ti_release(t);
			return vg_err_set(err, VG_EINVAL, "days_of_month: \"%s\" is not a day (1 to 31, -1 the last) or a range",
					  vg_conf_printable(c->days_of_month.v[i], "?"));
		}
		t->days[t->n_days++] = r;
	}
	if (c->years.n) {
		t->years = calloc(c->years.n, sizeof(*t->years));
		if (!t->years)
			goto nomem;
	}
	for (size_t i = 0; i < c->years.n; i++) {
		if (ti_range(c->years.v[i], NULL, 0, 0, 1, 9999, &r) != 0 || r.hi < r.lo) {
			nt_ti_release(t);
			return vg_err_set(err, VG_EINVAL, "years: \"%s\" is not a year or a range (2026:2027)",
					  vg_conf_printable(c->years.v[i], "?"));
		}
		t->years[t->n_years++] = r;
	}
	return 0;
nomem:
	nt_ti_release(t);
	return vg_err_set(err, VG_ENOMEM, "out of memory");
}

static int days_in_month(int year, int month)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool is_leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && is_leap ? 29 : d[month - 1];
}

bool nt_ti_contains(const struct nt_ti_item *t, int64_t now_ms)
{
	time_t secs = (time_t)(now_ms / 1000);
	struct tm tm;
	bool ok;

	gmtime_r(&secs, &tm);
	if (t->n_times) {
		int minute = tm.tm_hour * 60 + tm.tm_min;
		ok = false;
		for (size_t i = 0; i < t->n_times; i++)
			ok = ok || (minute >= t->times[i].lo && minute < t->times[i].hi);
		if (!ok)
			return false;
	}
	if (t->weekdays && !(t->weekdays & (1u << tm.tm_wday)))
		return false;
	if (t->months && !(t->months & (1u << (tm.tm_mon + 1))))
		return false;
	if (t->n_days) {
		int dim = days_in_month(tm.tm_year + 1900, tm.tm_mon + 1);
		ok = false;
		for (size_t i = 0; i < t->n_days; i++) {
			int lo = t->days[i].lo < 0 ? dim + 1 + t->days[i].lo : t->days[i].lo;
			int hi = t->days[i].hi < 0 ? dim + 1 + t->days[i].hi : t->days[i].hi;
			ok = ok || (tm.tm_mday >= lo && tm.tm_mday <= hi);
		}
		if (!ok)
			return false;
	}
	if (t->n_years) {
		ok = false;
		for (size_t i = 0; i < t->n_years; i++)
			ok = ok || (tm.tm_year + 1900 >= t->years[i].lo && tm.tm_year + 1900 <= t->years[i].hi);
		if (!ok)
			return false;
	}
	return true;
}

static bool interval_contains(const struct nt_time_interval *ti, int64_t now_ms)
{
	for (size_t i = 0; i < ti->n; i++)
		if (nt_ti_contains(&ti->items[i], now_ms))
			return true;
	return false;
}

bool nt_route_is_muted(const struct nt_route *r, int64_t now_ms)
{
	for (size_t i = 0; i < r->n_mute; i++)
		if (interval_contains(r->mute[i], now_ms))
			return true;
	if (r->n_active == 0)
		return false;
	for (size_t i = 0; i < r->n_active; i++)
		if (interval_contains(r->active[i], now_ms))
			return false;
	return true;
}

/* --- the tree ----------------------------------------------------------- */

const struct nt_receiver *nt_tree_receiver(const struct nt_tree *t, const char *name)
{
	for (size_t i = 0; i < t->n_receivers; i++)
		if (strcmp(t->receivers[i].name, name) == 0)
			return &t->receivers[i];
	return NULL;
}

static const struct nt_time_interval *tree_interval(const struct nt_tree *t, const char *name)
{
	for (size_t i = 0; i < t->n_intervals; i++)
		if (strcmp(t->intervals[i].name, name) == 0)
			return &t->intervals[i];
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int route_intervals(const struct nt_tree *t, const struct vg_conf_strlist *names,
			   const struct nt_time_interval ***out, size_t *n, const char *path, const char *file,
			   const char *what, struct vg_err *err)
{
	if (names->n == 0)
		return 0;
	*out = calloc(names->n, sizeof(**out));
	if (*out == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	for (size_t i = 0; i < names->n; i++) {
		(*out)[i] = tree_interval(t, names->v[i]);
		if ((*out)[i] == NULL)
			return vg_err_set(err, VG_EINVAL, "%s: %s.%s: no time interval named \"%s\"", file, path, what,
					  vg_conf_printable(names->v[i], "?"));
	}
	*n = names->n;
	return 0;
}

/* A route's escalate: steps, compiled (notifier_escalate.c runs them):
 * sorted by after, each naming a receiver of the tree. */
static int escalate_build(const struct nt_tree *t, struct nt_route *r, const struct vg_route_conf *c,
			  const char *path, const char *file, struct vg_err *err)
{
	const struct vg_conf_list *l = &c->escalate;

	if (l->n == 0)
		return 0;
	r->escalate = calloc(l->n, sizeof(*r->escalate));
	if (r->escalate == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	for (size_t i = 0; i < l->n; i++) {
		const struct vg_escalate_conf *s = (const struct vg_escalate_conf *)l->v + i;
		const struct nt_receiver *rc;

		if (s->receiver == NULL || s->after_ms <= 0)
			return vg_err_set(err, VG_EINVAL, "%s: %s.escalate[%zu]: a step needs after and receiver", file,
					  path, i);
		rc = nt_tree_receiver(t, s->receiver);
		if (rc == NULL)
			return vg_err_set(err, VG_EINVAL, "%s: %s.escalate[%zu].receiver: no receiver named \"%s\"", file,
					  path, i, vg_conf_printable(s->receiver, "?"));
		if (i > 0 && s->after_ms <= r->escalate[i - 1].after_ms)
			return vg_err_set(err, VG_EINVAL, "%s: %s.escalate[%zu].after: steps go in increasing order of after",
					  file, path, i);
		r->escalate[i].after_ms = s->after_ms;
		r->escalate[i].receiver = rc;
		r->n_escalate = i + 1;
	}
	return 0;
}

static void escalate_release(struct nt_route *r)
{
	free(r->escalate);
	r->escalate = NULL;
	r->n_escalate = 0;
}

static void route_release(struct nt_route *r)
{
	for (size_t i = 0; i < r->n_children; i++)
		route_release(&r->children[i]);
	free(r->children);
	vg_selector_release(&r->matchers);
	free(r->key);
	free(r->group_by_sorted);
	free(r->mute);
	free(r->active);
	escalate_release(r);
}

/* Alertmanager's Matchers.String(): {a="x",b=~"y"}, the matchers sorted
 * (nt_matchers_sort). */
static void matchers_text(const struct vg_selector *sel, struct vg_buf *b)
{
	vg_buf_putc(b, '{');
	for (size_t i = 0; i < sel->n; i++) {
		if (i)
			vg_buf_putc(b, ',');
		vg_buf_printf(b, "%s%s\"", sel->m[i].name, vg_match_op_text(sel->m[i].op));
		for (const char *p = sel->m[i].value; *p; p++) {
			if (*p == '"' || *p == '\\')
				vg_buf_putc(b, '\\');
			if (*p == '\n')
				vg_buf_puts(b, "\\n");
			else
				vg_buf_putc(b, *p);
		}
		vg_buf_putc(b, '"');
	}
	vg_buf_putc(b, '}');
}

static int route_build(struct nt_tree *t, struct nt_route *r, const struct nt_route *parent,
		       const struct vg_route_conf *c, const char *path, const char *file, int depth, struct vg_err *err)
{
	struct vg_buf key = VG_BUF_INIT;
	char sub[512];
	int rc;

	r->parent = parent;
	if (depth > MAX_DEPTH)
		return vg_err_set(err, VG_ELIMIT, "%s: %s: routes nested deeper than %d", file, path, MAX_DEPTH);
	if ((rc = nt_matchers_compile(&c->matchers, &r->matchers, err)) != 0) {
		vg_err_prefix(err, "%s: %s.matchers", file, path);
		return rc;
	}
	if ((rc = nt_match_add(&c->match, &c->match_re, &r->matchers, err)) != 0) {
		vg_err_prefix(err, "%s: %s.match", file, path);
		return rc;
	}
	nt_matchers_sort(&r->matchers);
	if (parent == NULL) {
		if (r->matchers.n)
			return vg_err_set(err, VG_EINVAL, "%s: %s.matchers: the root route matches every alert", file, path);
		vg_buf_puts(&key, "{}");
	} else {
		vg_buf_puts(&key, parent->key);
		vg_buf_putc(&key, '/');
		matchers_text(&r->matchers, &key);
	}
	r->key = vg_buf_detach(&key, NULL);
	if (r->key == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	if (c->receiver) {
		r->receiver = nt_tree_receiver(t, c->receiver);
		if (r->receiver == NULL)
			return vg_err_set(err, VG_EINVAL, "%s: %s.receiver: no receiver named \"%s\"", file, path,
					  vg_conf_printable(c->receiver, "?"));
	} else if (parent) {
		r->receiver = parent->receiver;
	} else {
		return vg_err_set(err, VG_EINVAL, "%s: %s.receiver: the root route must name a receiver", file, path);
	}
	/* group_by: absent inherits, [...] groups by every label. */
	if (c->group_by.n == 0 && parent) {
		r->is_group_by_all = parent->is_group_by_all;
		r->group_by = parent->group_by;
	} else {
		r->group_by = &c->group_by;
		for (size_t i = 0; i < c->group_by.n; i++)
			if (strcmp(c->group_by.v[i], "...") == 0)
				r->is_group_by_all = true;
		if (r->is_group_by_all && c->group_by.n != 1)
			return vg_err_set(err, VG_EINVAL, "%s: %s.group_by: '...' stands alone", file, path);
	}
	if (!r->is_group_by_all && r->group_by->n) {
		r->group_by_sorted = calloc(r->group_by->n, sizeof(char *));
		if (!r->group_by_sorted)
			return vg_err_set(err, VG_ENOMEM, "out of memory");
		memcpy(r->group_by_sorted, r->group_by->v, r->group_by->n * sizeof(char *));
		qsort(r->group_by_sorted, r->group_by->n, sizeof(char *), cmp_str);
		r->n_group_by = r->group_by->n;
	}
	r->group_wait_ms = parent ? parent->group_wait_ms : 30 * 1000;
	r->group_interval_ms = parent ? parent->group_interval_ms : 5 * 60 * 1000;
	r->repeat_interval_ms = parent ? parent->repeat_interval_ms : 4 * 3600 * 1000;
	if ((c->group_wait && vg_duration_parse(c->group_wait, &r->group_wait_ms, err) != 0) ||
	    (c->group_interval && vg_duration_parse(c->group_interval, &r->group_interval_ms, err) != 0) ||
	    (c->repeat_interval && vg_duration_parse(c->repeat_interval, &r->repeat_interval_ms, err) != 0)) {
		vg_err_prefix(err, "%s: %s", file, path);
		return VG_EINVAL;
	}
	if (r->group_interval_ms <= 0 || r->repeat_interval_ms <= 0)
		return vg_err_set(err, VG_EINVAL, "%s: %s: group_interval and repeat_interval must be above zero", file,
				  path);
	r->is_continue = c->is_continue;
	if ((rc = route_intervals(t, &c->mute_time_intervals, &r->mute, &r->n_mute, path, file,
				  "mute_time_intervals", err)) != 0 ||
	    (rc = route_intervals(t, &c->active_time_intervals, &r->active, &r->n_active, path, file,
				  "active_time_intervals", err)) != 0)
		return rc;
	if (parent == NULL && (r->n_mute || r->n_active))
		return vg_err_set(err, VG_EINVAL, "%s: %s: the root route cannot have time intervals", file, path);
	if ((rc = escalate_build(t, r, c, path, file, err)) != 0)
		return rc;
	if (c->routes.n) {
		r->children = calloc(c->routes.n, sizeof(*r->children));
		if (!r->children)
			return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < c->routes.n; i++) {
		snprintf(sub, sizeof(sub), "%s.routes[%zu]", path, i);
		r->n_children = i + 1;
		if ((rc = route_build(t, &r->children[i], r, (const struct vg_route_conf *)c->routes.v + i, sub, file,
				      depth + 1, err)) != 0)
			return rc;
	}
	return 0;
}

size_t nt_route_match(const struct nt_route *r, const struct vg_conf_labels *labels, const struct nt_route **out,
		      size_t cap)
{
	size_t n = 0;

	if (r->parent != NULL && !nt_matchers_match(&r->matchers, labels))
		return 0;
	for (size_t i = 0; i < r->n_children; i++) {
		size_t k = nt_route_match(&r->children[i], labels, out + n, cap - n);
		n += k;
		if (k > 0 && !r->children[i].is_continue)
			break;
		if (n == cap)
			break;
	}
	if (n == 0 && cap > 0)
		out[n++] = r;
	return n;
}

void nt_tree_free(struct nt_tree *t)
{
	if (t == NULL)
		return;
	route_release(&t->root);
	for (size_t i = 0; i < t->n_receivers; i++) {
		free(t->receivers[i].ints);
		free(t->receivers[i].counters);
	}
	free(t->receivers);
	for (size_t i = 0; i < t->n_inhibit; i++) {
		vg_selector_release(&t->inhibit[i].source);
		vg_selector_release(&t->inhibit[i].target);
	}
	free(t->inhibit);
	for (size_t i = 0; i < t->n_intervals; i++) {
		for (size_t j = 0; j < t->intervals[i].n; j++)
			nt_ti_release(&t->intervals[i].items[j]);
		free(t->intervals[i].items);
	}
	free(t->intervals);
	free(t);
}

int nt_tree_build(const struct vg_alerting_config *c, const char *file, struct nt_tree **out, struct vg_err *err)
{
	struct nt_tree *t = calloc(1, sizeof(*t));
	int r = VG_ENOMEM;

	*out = NULL;
	if (t == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	t->receivers = calloc(c->receivers.n + 1, sizeof(*t->receivers));
	t->inhibit = calloc(c->inhibit_rules.n + 1, sizeof(*t->inhibit));
	t->intervals = calloc(c->time_intervals.n + 1, sizeof(*t->intervals));
	if (!t->receivers || !t->inhibit || !t->intervals)
		goto nomem;
	for (size_t i = 0; i < c->receivers.n; i++) {
		const struct vg_receiver_conf *rc = (const struct vg_receiver_conf *)c->receivers.v + i;
		struct nt_receiver *nr = &t->receivers[i];
		size_t total = 0;

		if (nt_tree_receiver(t, rc->name) != NULL) {
			r = vg_err_set(err, VG_EINVAL, "%s: alerting.receivers[%zu].name: \"%s\" named twice", file, i,
				       vg_conf_printable(rc->name, "?"));
			goto fail;
		}
		nr->name = rc->name;
		t->n_receivers = i + 1;
		for (size_t k = 0; k < nt_n_kinds; k++)
			total += ((const struct vg_conf_list *)((const char *)rc + nt_kinds[k].list_offset))->n;
		nr->ints = calloc(total + 1, sizeof(*nr->ints));
		nr->counters = calloc(total + 1, sizeof(*nr->counters));
		if (!nr->ints || !nr->counters)
			goto nomem;
		for (size_t k = 0; k < nt_n_kinds; k++) {
			const struct vg_conf_list *l = (const struct vg_conf_list *)((const char *)rc + nt_kinds[k].list_offset);
			for (size_t j = 0; j < l->n; j++) {
				const char *item = (const char *)l->v + j * nt_kinds[k].item_size;
				struct nt_integration *in = &nr->ints[nr->n++];
				in->kind = k;
				in->item = item;
				in->send_resolved = *(const bool *)(item + nt_kinds[k].send_resolved_offset);
				in->max_alerts = nt_kinds[k].max_alerts_offset == SIZE_MAX
							 ? 0
							 : *(const uint64_t *)(item + nt_kinds[k].max_alerts_offset);
			}
		}
	}
	for (size_t i = 0; i < c->time_intervals.n; i++) {
		const struct vg_time_interval_conf *tc = (const struct vg_time_interval_conf *)c->time_intervals.v + i;
		struct nt_time_interval *ti = &t->intervals[i];

		if (tc->name == NULL || tree_interval(t, tc->name) != NULL) {
			r = vg_err_set(err, VG_EINVAL, "%s: alerting.time_intervals[%zu].name: missing or named twice", file, i);
			goto fail;
		}
		ti->name = tc->name;
		t->n_intervals = i + 1;
		ti->items = calloc(tc->time_intervals.n + 1, sizeof(*ti->items));
		if (!ti->items)
			goto nomem;
		for (size_t j = 0; j < tc->time_intervals.n; j++) {
			if ((r = nt_ti_parse((const struct vg_time_interval_item *)tc->time_intervals.v + j, &ti->items[j],
					     err)) != 0) {
				vg_err_prefix(err, "%s: alerting.time_intervals[%zu].time_intervals[%zu]", file, i, j);
				goto fail;
			}
			ti->n = j + 1;
		}
	}
	for (size_t i = 0; i < c->inhibit_rules.n; i++) {
		const struct vg_inhibit_conf *ic = (const struct vg_inhibit_conf *)c->inhibit_rules.v + i;
		struct nt_inhibit *in = &t->inhibit[i];

		t->n_inhibit = i + 1;
		if ((r = nt_matchers_compile(&ic->source_matchers, &in->source, err)) != 0 ||
		    (r = nt_matchers_compile(&ic->target_matchers, &in->target, err)) != 0 ||
		    (r = nt_match_add(&ic->source_match, &ic->source_match_re, &in->source, err)) != 0 ||
		    (r = nt_match_add(&ic->target_match, &ic->target_match_re, &in->target, err)) != 0) {
			vg_err_prefix(err, "%s: alerting.inhibit_rules[%zu]", file, i);
			goto fail;
		}
		in->equal = &ic->equal;
	}
	if ((r = route_build(t, &t->root, NULL, &c->route, "alerting.route", file, 0, err)) != 0)
		goto fail;
	*out = t;
	return 0;
nomem:
	r = vg_err_set(err, VG_ENOMEM, "out of memory");
fail:
	nt_tree_free(t);
	return r;
}
