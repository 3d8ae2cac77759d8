/*
 * submit.c: the hand-over queue of submit.h between a producing thread
 * (the HTTP import endpoint) and the ingest thread, and the batch type it
 * carries. Owns the queue, its bound, the wake-ups in both directions and
 * a batch's in-batch series dictionary; does not own what storing a batch
 * means (ingest.c) nor where the samples come from (receiver/http/import.c).
 *
 * Wake-ups go through event_active on the other side's base (libevent's
 * pthread locking is on before any base is made, so that is safe from any
 * thread). Lock order: q->mu and c->mu are never held together; c->mu is
 * held around event_active on c->ev (so the event cannot be freed under
 * it), libevent's base lock inside it; callbacks run with no lock held.
 */
#include "receiver/ingest/submit.h"
#include "common/series.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/banned.h"

struct vg_submit {
	pthread_mutex_t mu;
	/* Guarded by mu: */
	struct vg_submit_batch *head, *tail;
	size_t n_queued;
	bool is_closed;
	struct vg_submit_client *waiters; /* clients told VG_EAGAIN */
	/* Set once before producers start: */
	size_t max_queued;
	struct event *ready_ev; /* on the consumer's base */
	void (*on_ready)(void *arg);
	void *ready_arg;
};

struct vg_submit_client {
	struct vg_submit *q;
	struct event *ev; /* on the producer's base */
	void (*on_room)(void *arg);
	void *room_arg;
	pthread_mutex_t mu;
	/* Guarded by mu: */
	struct vg_submit_batch *done_head, *done_tail;
	bool has_room; /* the queue made room since a VG_EAGAIN */
	/* Guarded by q->mu: */
	bool is_waiting;
	struct vg_submit_client *next_waiter;
};

/* --- batches ---------------------------------------------------------- */

struct vg_submit_batch *vg_submit_batch_new(void)
{
	struct vg_submit_batch *b = calloc(1, sizeof(*b));

	if (b != NULL)
		vg_buf_init(&b->keys);
	return b;
}

void vg_submit_batch_reset(struct vg_submit_batch *b)
{
	vg_buf_reset(&b->keys);
	b->n_series = 0;
	if (b->cap_slots)
		memset(b->slots, 0, b->cap_slots * sizeof(*b->slots));
	b->n = 0;
	b->needs_sync = false;
	b->rc = 0;
	b->error[0] = '\0';
	b->series_created = 0;
	b->done = NULL;
	b->done_arg = NULL;
	b->client = NULL;
	b->next = NULL;
}

void vg_submit_batch_free(struct vg_submit_batch *b)
{
	if (b == NULL)
		return;
	vg_buf_release(&b->keys);
	free(b->series);
	free(b->slots);
	free(b->series_of);
	free(b->ts_ms);
	free(b->values);
	free(b);
}

bool vg_submit_batch_is_full(const struct vg_submit_batch *b)
{
	return b->n >= VG_SUBMIT_BATCH_SAMPLES || b->keys.len >= VG_SUBMIT_BATCH_KEY_BYTES;
}

static int grow_slots(struct vg_submit_batch *b)
{
	uint32_t cap = b->cap_slots ? b->cap_slots * 2 : 1024;
	uint32_t *t = calloc(cap, sizeof(*t));

	if (t == NULL)
		return VG_ENOMEM;
	for (uint32_t s = 0; s < b->n_series; s++) {
		uint32_t i = (uint32_t)b->series[s].hash & (cap - 1);
		while (t[i])
			i = (i + 1) & (cap - 1);
		t[i] = s + 1;
	}
	free(b->slots);
	b->slots = t;
	b->cap_slots = cap;
	return 0;
}

static int grow_samples(struct vg_submit_batch *b)
{
	size_t cap = b->cap ? b->cap * 2 : 1024;
	uint32_t *so = realloc(b->series_of, cap * sizeof(*so));
	int64_t *ts;
	double *v;

	if (so == NULL)
		return VG_ENOMEM;
	b->series_of = so;
	if ((ts = realloc(b->ts_ms, cap * sizeof(*ts))) == NULL)
		return VG_ENOMEM;
	b->ts_ms = ts;
	if ((v = realloc(b->values, cap * sizeof(*v))) == NULL)
		return VG_ENOMEM;
	b->values = v;
	b->cap = cap;
	return 0;
}

int vg_submit_batch_add(struct vg_submit_batch *b, const struct vg_series *s, uint64_t hash, int64_t ts_ms,
			double value)
{
	size_t at = b->keys.len;
	uint32_t i, idx;

	if ((b->n_series + 1) * 2 > b->cap_slots && grow_slots(b) != 0)
		return VG_ENOMEM;
	if (b->n == b->cap && grow_samples(b) != 0)
		return VG_ENOMEM;
	/* The key goes to the end of keys; if the series is known already it
	 * is taken back, so each distinct series is stored once. */
	vg_series_key(s, &b->keys);
	if (vg_buf_failed(&b->keys)) {
		b->keys.is_failed = false;
		b->keys.len = at;
		return VG_ENOMEM;
	}
	for (i = (uint32_t)hash & (b->cap_slots - 1); b->slots[i]; i = (i + 1) & (b->cap_slots - 1)) {
		const struct vg_submit_series *e = &b->series[b->slots[i] - 1];
		if (e->hash == hash && e->key_len == b->keys.len - at &&
		    memcmp(b->keys.data + e->key_off, b->keys.data + at, e->key_len) == 0)
			break;
	}
	if (b->slots[i]) {
		idx = b->slots[i] - 1;
		b->keys.len = at;
		b->keys.data[at] = '\0';
	} else {
		if (b->n_series == b->cap_series) {
			uint32_t cap = b->cap_series ? b->cap_series * 2 : 256;
			struct vg_submit_series *p = realloc(b->series, cap * sizeof(*p));
			if (p == NULL) {
				b->keys.len = at;
				return VG_ENOMEM;
			}
			b->series = p;
			b->cap_series = cap;
		}
		idx = b->n_series++;
		b->series[idx] = (struct vg_submit_series){ at, (uint32_t)(b->keys.len - at), hash };
		b->slots[i] = idx + 1;
	}
	b->series_of[b->n] = idx;
	b->ts_ms[b->n] = ts_ms;
	b->values[b->n] = value;
	b->n++;
	return 0;
}

/* --- the queue ----------------------------------------------------------- */

static void ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_submit *q = arg;

	(void)fd;
	(void)what;
	if (q->on_ready)
		q->on_ready(q->ready_arg);
}

int vg_submit_new(struct event_base *consumer_base, size_t max_queued, struct vg_submit **out,
		  struct vg_err *err)
{
	struct vg_submit *q = calloc(1, sizeof(*q));

	*out = NULL;
	if (q == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	q->max_queued = max_queued ? max_queued : 1;
	q->ready_ev = event_new(consumer_base, -1, 0, ready_cb, q);
	if (q->ready_ev == NULL) {
		free(q);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&q->mu, NULL);
	*out = q;
	return 0;
}

void vg_submit_stop(struct vg_submit *q)
{
	if (q != NULL && q->ready_ev != NULL) {
		event_free(q->ready_ev);
		q->ready_ev = NULL;
	}
}

void vg_submit_free(struct vg_submit *q)
{
	struct vg_submit_batch *b, *next;

	if (q == NULL)
		return;
	for (b = q->head; b; b = next) {
		next = b->next;
		vg_submit_batch_free(b);
	}
	vg_submit_stop(q);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

void vg_submit_set_consumer(struct vg_submit *q, void (*on_ready)(void *arg), void *arg)
{
	q->on_ready = on_ready;
	q->ready_arg = arg;
}

static void wake_client(struct vg_submit_client *c, bool is_room)
{
	pthread_mutex_lock(&c->mu);
	if (is_room)
		c->has_room = true;
	if (c->ev)
		event_active(c->ev, EV_TIMEOUT, 0);
	pthread_mutex_unlock(&c->mu);
}

/* Detaches and wakes the clients waiting for room; q->mu held on entry,
 * released on return. */
static void wake_waiters_unlock(struct vg_submit *q)
{
	struct vg_submit_client *w = q->waiters, *next;

	q->waiters = NULL;
	for (struct vg_submit_client *c = w; c; c = c->next_waiter)
		c->is_waiting = false;
	pthread_mutex_unlock(&q->mu);
	/* A client frees itself only after taking itself off the list under
	 * q->mu, and the list was detached under it: these stay valid while
	 * their producer thread runs, which it does until after the
	 * consumer stopped (main.c's order). */
	for (; w; w = next) {
		next = w->next_waiter;
		w->next_waiter = NULL;
		wake_client(w, true);
	}
}

struct vg_submit_batch *vg_submit_take(struct vg_submit *q)
{
	struct vg_submit_batch *list;

	pthread_mutex_lock(&q->mu);
	list = q->head;
	q->head = q->tail = NULL;
	q->n_queued = 0;
	wake_waiters_unlock(q);
	return list;
}

struct vg_submit_batch *vg_submit_close(struct vg_submit *q)
{
	struct vg_submit_batch *list;

	pthread_mutex_lock(&q->mu);
	q->is_closed = true;
	list = q->head;
	q->head = q->tail = NULL;
	q->n_queued = 0;
	/* Waiters retry, and learn from VG_EIO that the queue is gone. */
	wake_waiters_unlock(q);
	return list;
}

void vg_submit_done(struct vg_submit_batch *b)
{
	struct vg_submit_client *c = b->client;

	b->next = NULL;
	pthread_mutex_lock(&c->mu);
	if (c->done_tail)
		c->done_tail->next = b;
	else
		c->done_head = b;
	c->done_tail = b;
	/* Under c->mu: vg_submit_client_stop frees the event under it. */
	if (c->ev)
		event_active(c->ev, EV_TIMEOUT, 0);
	pthread_mutex_unlock(&c->mu);
}

/* --- clients ---------------------------------------------------------------- */

/* Runs the completions delivered so far, in order, then on_room if the
 * queue made room. On the producer's base. */
static void client_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_submit_client *c = arg;
	struct vg_submit_batch *b, *next;
	bool has_room;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&c->mu);
	b = c->done_head;
	c->done_head = c->done_tail = NULL;
	has_room = c->has_room;
	c->has_room = false;
	pthread_mutex_unlock(&c->mu);
	for (; b; b = next) {
		next = b->next;
		b->next = NULL;
		b->done(b, b->done_arg);
	}
	if (has_room && c->on_room)
		c->on_room(c->room_arg);
}

int vg_submit_client_new(struct vg_submit *q, struct event_base *producer_base,
			 void (*on_room)(void *arg), void *room_arg, struct vg_submit_client **out,
			 struct vg_err *err)
{
	struct vg_submit_client *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	c->q = q;
	c->on_room = on_room;
	c->room_arg = room_arg;
	c->ev = event_new(producer_base, -1, 0, client_cb, c);
	if (c->ev == NULL) {
		free(c);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
}

void vg_submit_client_stop(struct vg_submit_client *c)
{
	struct event *ev;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	ev = c->ev;
	c->ev = NULL;
	pthread_mutex_unlock(&c->mu);
	if (ev)
		event_free(ev);
}

void vg_submit_client_free(struct vg_submit_client *c)
{
	struct vg_submit_batch *b, *next;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->q->mu);
	if (c->is_waiting) {
		struct vg_submit_client **pp = &c->q->waiters;
		while (*pp && *pp != c)
			pp = &(*pp)->next_waiter;
		if (*pp)
			*pp = c->next_waiter;
		c->is_waiting = false;
	}
	pthread_mutex_unlock(&c->q->mu);
	vg_submit_client_stop(c);
	pthread_mutex_lock(&c->mu);
	b = c->done_head;
	c->done_head = c->done_tail = NULL;
	pthread_mutex_unlock(&c->mu);
	for (; b; b = next) {
		next = b->next;
		b->next = NULL;
		b->done(b, b->done_arg);
	}
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int vg_submit_enqueue(struct vg_submit_client *c, struct vg_submit_batch *b,
		      void (*done)(struct vg_submit_batch *b, void *arg), void *arg)
{
	struct vg_submit *q = c->q;

	pthread_mutex_lock(&q->mu);
	if (q->is_closed) {
		pthread_mutex_unlock(&q->mu);
		return VG_EIO;
	}
	if (q->n_queued >= q->max_queued) {
		if (!c->is_waiting) {
			c->is_waiting = true;
			c->next_waiter = q->waiters;
			q->waiters = c;
		}
		pthread_mutex_unlock(&q->mu);
		return VG_EAGAIN;
	}
	b->done = done;
	b->done_arg = arg;
	b->client = c;
	b->next = NULL;
	if (q->tail)
		q->tail->next = b;
	else
		q->head = b;
	q->tail = b;
	q->n_queued++;
	pthread_mutex_unlock(&q->mu);
	if (q->ready_ev)
		event_active(q->ready_ev, EV_TIMEOUT, 0);
	return 0;
}
