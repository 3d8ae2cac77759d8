/*
 * limits.c: the cardinality guard of limits.h. Agents live in an open
 * addressing table of pointers (the entries themselves do not move);
 * the rate limit counts series created in fixed one-minute windows.
 */
#include "receiver/ingest/limits.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/series.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define WINDOW_MS (60 * 1000)
#define LOG_INTERVAL_MS (60 * 1000)
/* Agents listed by name in /metrics; the rest are summed as agent="". */
#define MAX_LISTED 10000

struct vg_limits_agent {
	uint64_t hash;
	char *name;
	uint64_t active;           /* ingest thread */
	int64_t window_start_ms;   /* ingest thread */
	uint64_t new_in_window;    /* ingest thread */
	int64_t last_log_ms;       /* ingest thread */
	uint64_t unlogged[VG_LIMIT_KINDS]; /* ingest thread: refused since the last line */
	uint64_t refused[VG_LIMIT_KINDS];  /* under mu */
};

struct vg_limits {
	struct vg_limits_options opts;
	pthread_mutex_t mu;
	struct vg_limits_agent **slots;
	size_t cap, len;
};

int vg_limits_new(const struct vg_limits_options *opts, struct vg_limits **out, struct vg_err *err)
{
	struct vg_limits *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	l->opts = *opts;
	pthread_mutex_init(&l->mu, NULL);
	*out = l;
	return 0;
}

void vg_limits_free(struct vg_limits *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->cap; i++) {
		if (l->slots[i]) {
			free(l->slots[i]->name);
			free(l->slots[i]);
		}
	}
	free(l->slots);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static bool grow(struct vg_limits *l)
{
	size_t cap = l->cap ? l->cap * 2 : 256;
	struct vg_limits_agent **t = calloc(cap, sizeof(*t));

	if (t == NULL)
		return false;
	for (size_t j = 0; j < l->cap; j++) {
		size_t i;
		if (l->slots[j] == NULL)
			continue;
		for (i = l->slots[j]->hash & (cap - 1); t[i]; i = (i + 1) & (cap - 1))
			;
		t[i] = l->slots[j];
	}
	free(l->slots);
	l->slots = t;
	l->cap = cap;
	return true;
}

struct vg_limits_agent *vg_limits_agent(struct vg_limits *l, uint64_t hash, const char *name)
{
	struct vg_limits_agent *a = NULL;
	size_t i;

	pthread_mutex_lock(&l->mu);
	if ((l->len + 1) * 4 > l->cap * 3 && !grow(l))
		goto out;
	for (i = hash & (l->cap - 1); l->slots[i]; i = (i + 1) & (l->cap - 1)) {
		if (l->slots[i]->hash == hash) {
			a = l->slots[i];
			goto out;
		}
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL || (a->name = strdup(name)) == NULL) {
		free(a);
		a = NULL;
		goto out;
	}
	a->hash = hash;
	l->slots[i] = a;
	l->len++;
out:
	pthread_mutex_unlock(&l->mu);
	return a;
}

enum vg_limit vg_limits_admit(struct vg_limits *l, struct vg_limits_agent *a, bool is_new, bool is_new_ref,
			      size_t head_series, int64_t now_ms)
{
	const struct vg_limits_options *o = &l->opts;

	if (a == NULL)
		return VG_LIMIT_NONE;
	if (is_new_ref && o->max_series_per_agent && a->active >= o->max_series_per_agent)
		return VG_LIMIT_SERIES_PER_AGENT;
	if (is_new) {
		if (o->max_series && head_series >= o->max_series)
			return VG_LIMIT_SERIES;
		if (now_ms - a->window_start_ms >= WINDOW_MS || now_ms < a->window_start_ms) {
			a->window_start_ms = now_ms;
			a->new_in_window = 0;
		}
		if (o->max_new_series_per_minute && a->new_in_window >= o->max_new_series_per_minute)
			return VG_LIMIT_NEW_PER_MINUTE;
		a->new_in_window++;
	}
	a->active += is_new_ref;
	return VG_LIMIT_NONE;
}

void vg_limits_release(struct vg_limits *l, struct vg_limits_agent *a, uint64_t n)
{
	(void)l;
	if (a != NULL)
		a->active = a->active > n ? a->active - n : 0;
}

const char *vg_limit_name(enum vg_limit which)
{
	switch (which) {
	case VG_LIMIT_SERIES: return "max_series";
	case VG_LIMIT_SERIES_PER_AGENT: return "max_series_per_agent";
	case VG_LIMIT_NEW_PER_MINUTE: return "max_new_series_per_minute";
	default: return "none";
	}
}

void vg_limits_refused(struct vg_limits *l, struct vg_limits_agent *a, enum vg_limit which, uint64_t n,
		       int64_t now_ms)
{
	if (a == NULL || which <= VG_LIMIT_NONE || which >= VG_LIMIT_KINDS || n == 0)
		return;
	pthread_mutex_lock(&l->mu);
	a->refused[which] += n;
	pthread_mutex_unlock(&l->mu);
	a->unlogged[which] += n;
	if (a->last_log_ms != 0 && now_ms - a->last_log_ms < LOG_INTERVAL_MS && now_ms >= a->last_log_ms)
		return;
	vg_warn("agent %s: series refused over the cardinality limits since the last report: "
		"%llu by max_series, %llu by max_series_per_agent, %llu by max_new_series_per_minute",
		a->name, (unsigned long long)a->unlogged[VG_LIMIT_SERIES],
		(unsigned long long)a->unlogged[VG_LIMIT_SERIES_PER_AGENT],
		(unsigned long long)a->unlogged[VG_LIMIT_NEW_PER_MINUTE]);
	memset(a->unlogged, 0, sizeof(a->unlogged));
	a->last_log_ms = now_ms ? now_ms : 1;
}

void vg_limits_render(struct vg_limits *l, struct vg_buf *out)
{
	uint64_t rest[VG_LIMIT_KINDS] = { 0 };
	size_t listed = 0;
	bool any_rest = false;

	vg_buf_puts(out, "# HELP vigil_receiver_series_refused_total Series refused by a cardinality limit, by agent "
			 "and limit (agent=\"\" sums agents past the first 10000 listed).\n"
			 "# TYPE vigil_receiver_series_refused_total counter\n");
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < l->cap; i++) {
		struct vg_limits_agent *a = l->slots[i];
		bool any = false;
		if (a == NULL)
			continue;
		for (int k = 1; k < VG_LIMIT_KINDS; k++)
			any |= a->refused[k] != 0;
		if (!any)
			continue;
		if (listed++ >= MAX_LISTED) {
			for (int k = 1; k < VG_LIMIT_KINDS; k++)
				rest[k] += a->refused[k];
			any_rest = true;
			continue;
		}
		for (int k = 1; k < VG_LIMIT_KINDS; k++) {
			if (a->refused[k] == 0)
				continue;
			vg_buf_puts(out, "vigil_receiver_series_refused_total{agent=\"");
			vg_label_value_escape(vg_str_c(a->name), out);
			vg_buf_printf(out, "\",limit=\"%s\"} %" PRIu64 "\n", vg_limit_name(k), a->refused[k]);
		}
	}
	pthread_mutex_unlock(&l->mu);
	for (int k = 1; any_rest && k < VG_LIMIT_KINDS; k++)
		vg_buf_printf(out, "vigil_receiver_series_refused_total{agent=\"\",limit=\"%s\"} %" PRIu64 "\n",
			      vg_limit_name(k), rest[k]);
}
