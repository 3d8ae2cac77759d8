/*
 * selfscrape.c: the receiver's own metrics written as series
 * (selfscrape.h).
 *
 * A scrape builds its batches first (the exposition parsed, then the
 * last-seen table copied), then hands them to ingest one at a time, each
 * after the one before completed, so it never holds more than one slot of
 * the queue and a full queue makes it wait (on_room), not drop. The
 * engine's thread owns everything below but the counters in stats.
 */
#include "receiver/selfscrape.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/exposition.h"
#include "common/log.h"
#include "common/series.h"
#include "common/selector.h"
#include "receiver/ingest/ingest.h"
#include "receiver/ingest/lastseen.h"
#include "receiver/ingest/submit.h"
#include "receiver/query/query.h"
#include "receiver/stats.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/banned.h"

/* How often the thread looks at the clock: the driven clock of a test
 * moves in steps, the real one every millisecond. */
#define TICK_MS 50

#define LAST_SEEN_NAME "vigil_agent_last_seen_timestamp_seconds"

struct vg_selfscrape {
	int64_t interval_ms;
	char *instance;
	struct vg_submit *submit;
	struct vg_clock *clock;
	struct vg_lastseen *last_seen;
	struct vg_stats *stats;
	void (*render)(void *arg, struct vg_buf *out);
	void *render_arg;

	struct event_base *base;
	struct event *tick_ev;
	struct vg_submit_client *client;
	pthread_t thread;
	bool has_thread;
	_Atomic bool is_stopping;

	/* The scrape under way: batches built, not yet enqueued (a list
	 * through ->next), and whether one is in ingest's hands. */
	int64_t last_ms; /* aligned time of the last scrape begun; 0 none */
	struct vg_submit_batch *todo;
	bool is_in_flight, is_waiting_room, is_failed;
	struct vg_buf text;
	struct vg_lastseen_snap snap;
	struct vg_complaint complaint;
};

/* --- building a scrape's batches -------------------------------------------- */

struct build {
	struct vg_selfscrape *s;
	int64_t t;
	struct vg_submit_batch *cur, **tail;
	int rc;
};

static int add(struct build *b, const struct vg_series *series, double v)
{
	if (b->cur == NULL || vg_submit_batch_is_full(b->cur)) {
		struct vg_submit_batch *nb = vg_submit_batch_new();
		if (nb == NULL)
			return b->rc = VG_ENOMEM;
		*b->tail = nb;
		b->tail = &nb->next;
		b->cur = nb;
	}
	if (vg_submit_batch_add(b->cur, series, vg_series_hash(series), b->t, v) != 0)
		return b->rc = VG_ENOMEM;
	return 0;
}

static int on_sample(void *ctx, const struct vg_exposition_sample *smp)
{
	return add(ctx, smp->series, smp->value);
}

static int on_error(void *ctx, uint64_t line, int code, const char *reason)
{
	struct build *b = ctx;

	(void)code;
	/* The exposition is the receiver's own: a line it cannot read is a
	 * bug, said once, and the rest is still written. */
	vg_log_complain(&b->s->complaint, VG_LOG_ERROR, "self metrics: line %llu of /metrics: %s",
			(unsigned long long)line, reason);
	return 0;
}

static void free_list(struct vg_submit_batch *b)
{
	while (b) {
		struct vg_submit_batch *next = b->next;
		vg_submit_batch_free(b);
		b = next;
	}
}

static int build(struct vg_selfscrape *s, int64_t t, struct vg_submit_batch **out)
{
	const struct vg_label extra[] = {
		{ vg_str_c("instance"), vg_str_c(s->instance) },
		{ vg_str_c("job"), vg_str_c(VG_SELFSCRAPE_JOB) },
	};
	struct vg_exposition_config ec = {
		.extra_labels = extra, .n_extra_labels = 2, .on_sample = on_sample, .on_error = on_error,
	};
	struct build b = { s, t, NULL, out, 0 };
	struct vg_exposition *p = NULL;
	struct vg_err err;
	int rc;

	*out = NULL;
	ec.ctx = &b;
	vg_buf_reset(&s->text);
	s->render(s->render_arg, &s->text);
	if (vg_buf_failed(&s->text))
		return VG_ENOMEM;
	if ((rc = vg_exposition_new(&ec, &p, &err)) != 0)
		goto fail;
	rc = vg_exposition_feed(p, s->text.data, s->text.len);
	if (rc == 0)
		rc = vg_exposition_finish(p);
	vg_exposition_free(p);
	if (rc == 0)
		rc = b.rc;
	if (rc == 0 && s->last_seen) {
		if ((rc = vg_lastseen_snapshot(s->last_seen, t, &s->snap)) != 0)
			goto fail;
		for (size_t i = 0; i < s->snap.n && rc == 0; i++) {
			struct vg_series series;
			vg_series_init(&series, LAST_SEEN_NAME);
			if (vg_series_add(&series, "instance", vg_lastseen_snap_name(&s->snap, i)) != 0 ||
			    vg_series_add(&series, "job", VG_SELFSCRAPE_JOB) != 0 ||
			    vg_series_canonicalize(&series, &err) != 0)
				continue; /* HELLO identities are valid label values */
			rc = add(&b, &series, (double)s->snap.last_ms[i] / 1000.0);
		}
	}
	if (rc == 0) {
		/* The last batch waits for the WAL sync that covers the scrape,
		 * so a receiver without agents, whose syncs nothing else asks
		 * for, still has its own metrics on disk each interval. */
		struct vg_submit_batch *last = *out;
		while (last && last->next)
			last = last->next;
		if (last)
			last->needs_sync = true;
		return 0;
	}
fail:
	free_list(*out);
	*out = NULL;
	return rc;
}

/* --- a restart: the table from what was written before ----------------------------- */

static void seed_last_seen(const struct vg_selfscrape_options *o)
{
	struct vg_selector sel = VG_SELECTOR_INIT;
	struct vg_query_result res = { 0, NULL };
	struct vg_err err;
	int64_t now = vg_clock_now(o->clock);
	size_t n = 0;

	if (vg_selector_add(&sel, "__name__", 8, VG_MATCH_EQ, LAST_SEEN_NAME, strlen(LAST_SEEN_NAME), &err) != 0 ||
	    vg_selector_add(&sel, "job", 3, VG_MATCH_EQ, VG_SELFSCRAPE_JOB, strlen(VG_SELFSCRAPE_JOB), &err) != 0 ||
	    vg_query_instant(o->storage, &sel, now, o->last_seen_retention_ms, &res, &err) != 0) {
		vg_warn("self metrics: the agents' last-seen times before this start are not read back: %s", err.msg);
		goto out;
	}
	for (size_t i = 0; i < res.n; i++) {
		const struct vg_query_series *qs = &res.series[i];
		const struct vg_str *inst;
		struct vg_series s;
		char name[VG_SERIES_MAX_VALUE + 1];
		double v = qs->n ? qs->values[qs->n - 1] : NAN;

		if (qs->n == 0 || vg_query_is_stale(v) || !isfinite(v) ||
		    vg_series_from_key(qs->key, qs->key_len, &s) != 0 || (inst = vg_series_get(&s, "instance")) == NULL ||
		    inst->len == 0 || inst->len >= sizeof(name))
			continue;
		memcpy(name, inst->p, inst->len);
		name[inst->len] = '\0';
		vg_lastseen_note(o->last_seen, vg_ingest_agent_hash(name, inst->len), name, (int64_t)(v * 1000.0));
		n++;
	}
	if (n > 0)
		vg_info("self metrics: %zu agents' last-seen times read back", n);
out:
	vg_query_result_release(&res);
	vg_selector_release(&sel);
}

/* --- handing them to ingest ----------------------------------------------------- */

static void step(struct vg_selfscrape *s);

static void batch_done(struct vg_submit_batch *b, void *arg)
{
	struct vg_selfscrape *s = arg;

	if (b->rc != 0 && !s->is_failed) {
		s->is_failed = true;
		vg_log_complain(&s->complaint, VG_LOG_ERROR, "self metrics not written: %s", b->error);
	}
	vg_submit_batch_free(b);
	s->is_in_flight = false;
	if (!atomic_load(&s->is_stopping))
		step(s);
}

static void step(struct vg_selfscrape *s)
{
	while (s->todo != NULL) {
		struct vg_submit_batch *b = s->todo;
		int rc;

		s->todo = b->next;
		b->next = NULL;
		rc = vg_submit_enqueue(s->client, b, batch_done, s);
		if (rc == 0) {
			s->is_in_flight = true;
			return; /* batch_done goes on */
		}
		if (rc == VG_EAGAIN) {
			b->next = s->todo;
			s->todo = b;
			s->is_waiting_room = true;
			return; /* on_room goes on */
		}
		vg_submit_batch_free(b); /* the receiver is stopping */
		s->is_failed = true;
	}
	if (s->is_failed) {
		atomic_fetch_add_explicit(&s->stats->self_scrape_errors, 1, memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&s->stats->self_scrapes, 1, memory_order_relaxed);
		vg_log_relief(&s->complaint, "self metrics are written again");
	}
}

static void on_room(void *arg)
{
	struct vg_selfscrape *s = arg;

	if (s->is_waiting_room) {
		s->is_waiting_room = false;
		step(s);
	}
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_selfscrape *s = arg;
	int64_t now, aligned;
	int rc;

	(void)fd;
	(void)what;
	if (atomic_load(&s->is_stopping))
		return;
	now = vg_clock_now(s->clock);
	aligned = now - ((now % s->interval_ms) + s->interval_ms) % s->interval_ms;
	if (aligned <= s->last_ms)
		return;
	if (s->todo != NULL || s->is_in_flight) {
		atomic_fetch_add_explicit(&s->stats->self_scrapes_missed, 1, memory_order_relaxed);
		s->last_ms = aligned;
		return;
	}
	s->last_ms = aligned;
	s->is_failed = false;
	if ((rc = build(s, aligned, &s->todo)) != 0) {
		atomic_fetch_add_explicit(&s->stats->self_scrape_errors, 1, memory_order_relaxed);
		vg_log_complain(&s->complaint, VG_LOG_ERROR, "self metrics not written: %s", vg_strerror(rc));
		return;
	}
	step(s);
}

static void *run(void *arg)
{
	struct vg_selfscrape *s = arg;

	event_base_dispatch(s->base);
	return NULL;
}

int vg_selfscrape_start(const struct vg_selfscrape_options *opts, struct vg_selfscrape **out, struct vg_err *err)
{
	struct vg_selfscrape *s = calloc(1, sizeof(*s));
	struct timeval tv = { 0, TICK_MS * 1000 };
	int rc;

	if (s == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	s->interval_ms = opts->interval_ms;
	s->submit = opts->submit;
	s->clock = opts->clock;
	s->last_seen = opts->last_seen;
	s->stats = opts->stats;
	s->render = opts->render;
	s->render_arg = opts->render_arg;
	s->complaint = (struct vg_complaint)VG_COMPLAINT_INIT;
	vg_buf_init(&s->text);
	if (s->interval_ms <= 0 || s->render == NULL || s->stats == NULL) {
		rc = vg_err_set(err, VG_EINVAL, "self metrics: no interval or no render function");
		goto fail;
	}
	if (opts->storage && opts->last_seen && opts->last_seen_retention_ms > 0)
		seed_last_seen(opts);
	if ((s->instance = strdup(opts->instance ? opts->instance : "")) == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto fail;
	}
	if ((s->base = event_base_new()) == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "cannot create the self metrics' event base");
		goto fail;
	}
	if ((rc = vg_submit_client_new(s->submit, s->base, on_room, s, &s->client, err)) != 0)
		goto fail;
	s->tick_ev = event_new(s->base, -1, EV_PERSIST, tick_cb, s);
	if (s->tick_ev == NULL || event_add(s->tick_ev, &tv) != 0) {
		rc = vg_err_set(err, VG_ENOMEM, "cannot start the self metrics' timer");
		goto fail;
	}
	/* The first scrape at the next aligned time, not at once: a restart
	 * does not write a second sample into the interval it stopped in. */
	{
		int64_t now = vg_clock_now(s->clock);
		s->last_ms = now - ((now % s->interval_ms) + s->interval_ms) % s->interval_ms;
	}
	if (pthread_create(&s->thread, NULL, run, s) != 0) {
		rc = vg_err_set(err, VG_ENOMEM, "cannot start the self metrics' thread");
		goto fail;
	}
	s->has_thread = true;
	*out = s;
	return 0;
fail:
	vg_selfscrape_free(s);
	return rc;
}

void vg_selfscrape_stop(struct vg_selfscrape *s)
{
	if (s == NULL || !s->has_thread)
		return;
	atomic_store(&s->is_stopping, true);
	event_base_loopbreak(s->base);
	pthread_join(s->thread, NULL);
	s->has_thread = false;
}

void vg_selfscrape_free(struct vg_selfscrape *s)
{
	if (s == NULL)
		return;
	vg_selfscrape_stop(s);
	atomic_store(&s->is_stopping, true);
	if (s->client) {
		vg_submit_client_stop(s->client);
		vg_submit_client_free(s->client);
	}
	if (s->tick_ev)
		event_free(s->tick_ev);
	if (s->base)
		event_base_free(s->base);
	free_list(s->todo);
	vg_lastseen_snap_release(&s->snap);
	vg_buf_release(&s->text);
	free(s->instance);
	free(s);
}
