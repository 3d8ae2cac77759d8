/*
 * ingest.c: agent connections, frame by frame, into the WAL and the head.
 *
 * Per connection (struct conn) a small state machine:
 *   AWAIT_HELLO --HELLO ok--> READY --ERROR or bad frame--> CLOSING
 * In READY, SERIES frames extend the connection's dictionary (ref -> head
 * id; refs are dense, so a plain array); SAMPLES frames are resolved
 * through it, written to the WAL and the head, and put the connection on
 * the list waiting for the next sync. The sync runs from an event made
 * active by the first batch of a round, so it runs after the reads already
 * queued in that round: every batch they carried shares one fdatasync.
 *
 * Invariants:
 *  - an ACK for seq N is sent only after vg_wal_sync returned success for a
 *    sync that began after the batch N (or the batch it retried) was
 *    appended;
 *  - nothing read from a socket is trusted before the frame codec has
 *    checked it; every count was bounded there.
 *
 * Batches from other threads (the HTTP import endpoint) arrive through the
 * submit queue (submit.h) and take the same path: their series are created
 * as a SERIES frame's are (create_series: WAL first, then head), their
 * samples stored as a SAMPLES frame's are (store_samples), and they are
 * completed where connections are acknowledged (synced), after the sync
 * that covers them. Those three functions are the whole hook: a sync
 * thread replacing the fdatasync on this loop calls synced when it reports.
 *
 * What this file does not do: the sender side (agent/sender.c), the record
 * format (wal.c), the sample store (head.c).
 */
#include "receiver/ingest/ingest.h"
#include "receiver/ingest/submit.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/samples2.h"
#include "common/log.h"
#include "common/series.h"
#include "receiver/storage/head.h"
#include "receiver/stats.h"
#include "receiver/storage/wal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <xxhash.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "common/banned.h"

/* A connection that sends nothing for this long is closed. Agents send at
 * least once per interval (10 s by default). */
#define CONN_IDLE_TIMEOUT_S 900
/* Time a connection gets to flush an ERROR frame before it is dropped. */
#define CONN_CLOSE_TIMEOUT_S 5
/* Before HELLO a peer has proved nothing: it gets this long to send it,
 * and its first frame must be a HELLO of at most this size, so a crowd of
 * silent or lying connections costs the receiver little. */
#define HELLO_TIMEOUT_S 10
#define HELLO_MAX_BYTES 4096
/* Refs one connection may define: bounds its dictionary (4 bytes each). */
#define CONN_MAX_REFS (1u << 20)

enum conn_state { AWAIT_HELLO, READY, CLOSING };

struct agent_entry {
	uint64_t agent_hash; /* 0: free slot */
	uint64_t epoch;
	uint64_t last_seq;   /* highest SAMPLES seq written for this epoch */
};

struct conn {
	struct vg_ingest *ing;
	struct bufferevent *bev;
	struct conn *prev, *next;       /* all connections */
	struct conn *sync_next;         /* waiting for the next sync */
	bool is_waiting_sync;
	enum conn_state state;
	char peer[64];
	char agent[VG_FRAME_MAX_IDENT + 1];
	uint64_t agent_hash;
	uint64_t epoch;
	uint64_t ack_seq;               /* to acknowledge after the next sync */
	uint32_t *ref_ids;              /* ref -> head id */
	uint32_t n_refs, cap_refs;
	uint8_t proto;                  /* the version of every frame: HELLO's */
	struct vg_samples2_state *s2;   /* protocol 2: the delta state */
};

struct vg_ingest {
	struct vg_ingest_options opts;
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *sync_ev;
	uint16_t port;
	struct vg_wal *wal;
	struct vg_head *head;
	struct vg_stats *stats;
	bool is_wal_broken;
	struct conn *conns;
	struct conn *sync_list;
	struct vg_submit *submit;                /* borrowed; NULL: no queue */
	struct vg_submit_batch *submit_waiting;  /* stored, for the next sync */
	struct vg_submit_batch **submit_tail;
	uint32_t *series_ids;                    /* scratch for one batch's series */
	size_t cap_series_ids;
	uint64_t n_conns;
	/* Scratch space for one frame at a time: this thread only. */
	struct vg_frame_codec *codec;
	struct vg_sample_batch batch;
	uint32_t *ids;
	size_t cap_ids;
	struct vg_buf key;
	struct vg_buf out;
	/* The retry table: open addressing on agent_hash. */
	struct agent_entry *agents;
	size_t agents_cap, agents_len;
	struct vg_complaint wal_complaint;
	uint64_t replay_series_skipped;
	uint64_t replay_samples_dropped;
};

/* --- the retry table ---------------------------------------------------- */

static struct agent_entry *agent_find(struct vg_ingest *ing, uint64_t hash, bool create)
{
	size_t mask, i;

	if (hash == 0)
		hash = 1; /* 0 marks a free slot */
	if (create && (ing->agents_len + 1) * 4 > ing->agents_cap * 3) {
		size_t cap = ing->agents_cap ? ing->agents_cap * 2 : 1024;
		struct agent_entry *t = calloc(cap, sizeof(*t));
		if (t == NULL)
			return NULL;
		for (size_t j = 0; j < ing->agents_cap; j++) {
			struct agent_entry *e = &ing->agents[j];
			if (e->agent_hash == 0)
				continue;
			for (i = e->agent_hash & (cap - 1); t[i].agent_hash; i = (i + 1) & (cap - 1))
				;
			t[i] = *e;
		}
		free(ing->agents);
		ing->agents = t;
		ing->agents_cap = cap;
	}
	if (ing->agents_cap == 0)
		return NULL;
	mask = ing->agents_cap - 1;
	for (i = hash & mask; ing->agents[i].agent_hash; i = (i + 1) & mask)
		if (ing->agents[i].agent_hash == hash)
			return &ing->agents[i];
	if (!create)
		return NULL;
	ing->agents[i].agent_hash = hash;
	ing->agents[i].epoch = 0;
	ing->agents[i].last_seq = 0;
	ing->agents_len++;
	return &ing->agents[i];
}

/* Whether (agent, epoch, seq) was written already: a retry. */
static bool agent_has(struct vg_ingest *ing, uint64_t agent_hash, uint64_t epoch, uint64_t seq)
{
	struct agent_entry *e = agent_find(ing, agent_hash, false);

	return e != NULL && e->epoch == epoch && seq <= e->last_seq;
}

/* Records that (agent, epoch, seq) is written. Called only after the WAL
 * took the batch: a batch marked but not logged would be acknowledged on
 * its retry without being stored. */
static void agent_mark(struct vg_ingest *ing, uint64_t agent_hash, uint64_t epoch, uint64_t seq)
{
	struct agent_entry *e = agent_find(ing, agent_hash, true);

	if (e == NULL)
		return; /* out of memory: a retry will be stored twice, not lost */
	if (e->epoch != epoch) {
		e->epoch = epoch;
		e->last_seq = seq;
	} else if (seq > e->last_seq) {
		e->last_seq = seq;
	}
}

/* --- replay ------------------------------------------------------------- */

/* Replay keeps going past what damage left inconsistent: a series record
 * that conflicts is skipped, samples of unknown series are dropped, each
 * counted and reported once at the end (vg_ingest_listen). Only running
 * out of memory stops it. */
static int replay_series(void *arg, uint32_t id, const uint8_t *key, size_t key_len)
{
	struct vg_ingest *ing = arg;
	int rc = vg_head_restore(ing->head, id, key, key_len);

	if (rc == VG_ENOMEM)
		return rc;
	if (rc != 0)
		ing->replay_series_skipped++;
	return 0;
}

static int replay_samples(void *arg, const struct vg_wal_samples *s)
{
	struct vg_ingest *ing = arg;
	int rc;

	if (s->agent_hash != 0) /* 0: imported, no agent to retry */
		agent_mark(ing, s->agent_hash, s->epoch, s->seq);
	rc = vg_head_append(ing->head, s->n, s->ids, s->ts_ms, s->values);
	if (rc != VG_EINVAL)
		return rc;
	/* Some id is unknown: keep the samples of the known ones. */
	for (size_t i = 0; i < s->n; i++) {
		rc = vg_head_append(ing->head, 1, &s->ids[i], &s->ts_ms[i], &s->values[i]);
		if (rc == VG_ENOMEM)
			return rc;
		if (rc != 0)
			ing->replay_samples_dropped++;
	}
	return 0;
}

void vg_ingest_replay_cb(struct vg_ingest *ing, struct vg_wal_replay_cb *cb)
{
	cb->series = replay_series;
	cb->samples = replay_samples;
	cb->arg = ing;
}

/* --- connections -------------------------------------------------------- */

static void conn_free(struct conn *c)
{
	struct vg_ingest *ing = c->ing;

	if (c->is_waiting_sync) {
		struct conn **pp = &ing->sync_list;
		while (*pp && *pp != c)
			pp = &(*pp)->sync_next;
		if (*pp)
			*pp = c->sync_next;
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		ing->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	free(c->ref_ids);
	if (c->s2) {
		vg_samples2_state_release(c->s2);
		free(c->s2);
	}
	free(c);
	ing->n_conns--;
	atomic_fetch_sub_explicit(&ing->stats->connections_open, 1, memory_order_relaxed);
}

static void conn_send(struct conn *c, enum vg_frame_type type, uint64_t seq, const struct vg_buf *raw)
{
	struct vg_ingest *ing = c->ing;
	struct vg_buf ack = VG_BUF_INIT;
	struct vg_err err;
	int rc;

	/* Protocol 2's ACK says what a limit refused: nothing, so far. */
	if (type == VG_FRAME_ACK && c->proto >= VG_PROTO_V2 && raw == NULL) {
		struct vg_ack a = { 0, 0, { "", 0 } };
		vg_ack_pack(&a, &ack);
		raw = &ack;
	}
	vg_buf_reset(&ing->out);
	rc = vg_frame_encode_version(ing->codec, c->proto, type, seq, raw ? raw->data : NULL,
				     raw ? raw->len : 0, &ing->out, &err);
	vg_buf_release(&ack);
	if (rc != 0) {
		vg_error("%s: cannot encode %s: %s", c->peer, vg_frame_type_name(type), err.msg);
		return;
	}
	bufferevent_write(c->bev, ing->out.data, ing->out.len);
}

static void close_when_flushed(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_free(arg);
}

static void close_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	conn_free(arg);
}

/* Sends an ERROR frame, logs the event once, and closes the connection
 * when the frame has left (or after CONN_CLOSE_TIMEOUT_S). */
static void conn_fail(struct conn *c, uint64_t seq, int code, const char *msg)
{
	struct vg_buf raw = VG_BUF_INIT;
	struct timeval tv = { CONN_CLOSE_TIMEOUT_S, 0 };

	vg_warn("agent connection %s%s%s: %s; closing it", c->peer, c->agent[0] ? " agent " : "", c->agent, msg);
	vg_error_pack(vg_wire_error_from(code), msg, &raw);
	conn_send(c, VG_FRAME_ERROR, seq, &raw);
	vg_buf_release(&raw);
	c->state = CLOSING;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	bufferevent_setcb(c->bev, NULL, close_when_flushed, close_event, c);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_free(c);
}

static void want_sync(struct conn *c, uint64_t seq)
{
	struct vg_ingest *ing = c->ing;

	if (seq > c->ack_seq)
		c->ack_seq = seq;
	if (!c->is_waiting_sync) {
		c->is_waiting_sync = true;
		c->sync_next = ing->sync_list;
		ing->sync_list = c;
	}
	event_active(ing->sync_ev, EV_TIMEOUT, 0);
}

static void submit_complete(struct vg_submit_batch *b, int rc, const char *msg)
{
	b->rc = rc;
	if (rc != 0)
		snprintf(b->error, sizeof(b->error), "%s", msg);
	vg_submit_done(b);
}

/*
 * The one place where a sync's outcome reaches its waiters: connections
 * get their ACK (or an ERROR when the sync failed), submitted batches
 * their completion. rc and err are the sync's.
 */
static void synced(struct vg_ingest *ing, int rc, const struct vg_err *err)
{
	struct conn *c, *next;
	struct vg_submit_batch *b, *bnext;

	if (rc != 0) {
		atomic_fetch_add_explicit(&ing->stats->wal_sync_errors, 1, memory_order_relaxed);
		vg_log_complain(&ing->wal_complaint, VG_LOG_ERROR,
				"WAL sync failed, refusing batches until restart: %s", err->msg);
		ing->is_wal_broken = true;
	}
	/* Detach the list first: conn_fail may free connections. */
	c = ing->sync_list;
	ing->sync_list = NULL;
	for (; c; c = next) {
		next = c->sync_next;
		c->is_waiting_sync = false;
		c->sync_next = NULL;
		if (rc != 0) {
			conn_fail(c, c->ack_seq, VG_EIO, "the receiver cannot make data durable");
			continue;
		}
		conn_send(c, VG_FRAME_ACK, c->ack_seq, NULL);
		atomic_fetch_add_explicit(&ing->stats->acks_sent, 1, memory_order_relaxed);
	}
	b = ing->submit_waiting;
	ing->submit_waiting = NULL;
	ing->submit_tail = &ing->submit_waiting;
	for (; b; b = bnext) {
		bnext = b->next;
		submit_complete(b, rc, rc ? "the receiver cannot make data durable" : "");
	}
}

/* Group commit: one sync for every batch appended since the last one. */
static void sync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_ingest *ing = arg;
	struct vg_err err;
	int rc;

	(void)fd;
	(void)what;
	if (ing->sync_list == NULL && ing->submit_waiting == NULL)
		return;
	rc = vg_wal_sync(ing->wal, &err);
	atomic_fetch_add_explicit(&ing->stats->wal_syncs, 1, memory_order_relaxed);
	synced(ing, rc, &err);
}

static int handle_hello(struct conn *c, const struct vg_frame_header *h, const uint8_t *raw,
			size_t len, struct vg_err *err)
{
	struct vg_ingest *ing = c->ing;
	struct vg_hello hello;
	struct agent_entry *e;
	const char *token = ing->opts.token;
	int rc;

	struct timeval idle = { CONN_IDLE_TIMEOUT_S, 0 };

	if (c->state != AWAIT_HELLO)
		return vg_err_set(err, VG_EPROTO, "HELLO sent twice");
	/* Refused up front, so agents back off instead of sending batches
	 * that cannot be stored. */
	if (ing->is_wal_broken)
		return vg_err_set(err, VG_EIO, "the receiver cannot make data durable");
	if ((rc = vg_hello_decode(raw, len, &hello, err)) != 0)
		return rc;
	if (hello.proto != h->version)
		return vg_err_set(err, VG_EPROTO, "HELLO for protocol %u in a version %u frame", hello.proto,
				  h->version);
	if (hello.proto >= VG_PROTO_V2 && c->s2 == NULL) {
		if ((c->s2 = malloc(sizeof(*c->s2))) == NULL)
			return vg_err_set(err, VG_ENOMEM, "out of memory");
		vg_samples2_state_init(c->s2);
	}
	if (token && token[0]) {
		size_t tl = strlen(token);
		unsigned diff = (unsigned)(tl ^ hello.token.len);
		/* Compare every byte, whatever matches, so timing tells nothing. */
		for (size_t i = 0; i < tl; i++)
			diff |= (unsigned)(token[i] ^ (i < hello.token.len ? hello.token.p[i] : 0));
		if (diff)
			return vg_err_set(err, VG_EAUTH, "agent \"%.*s\" sent a wrong token",
					  (int)hello.agent.len, hello.agent.p);
	}
	memcpy(c->agent, hello.agent.p, hello.agent.len);
	c->agent[hello.agent.len] = '\0';
	c->agent_hash = XXH3_64bits(hello.agent.p, hello.agent.len);
	if (c->agent_hash == 0)
		c->agent_hash = 1; /* 0 marks records that no agent sent */
	c->epoch = hello.epoch;
	c->state = READY;
	bufferevent_set_timeouts(c->bev, &idle, NULL);
	/* Tell the agent what it need not resend: the highest batch of this
	 * epoch already written. A sync covers it before the ACK leaves. */
	e = agent_find(ing, c->agent_hash, false);
	vg_debug("agent %s connected from %s (%.*s, epoch %llu)", c->agent, c->peer,
		 (int)hello.software.len, hello.software.p, (unsigned long long)hello.epoch);
	if (e && e->epoch == c->epoch && e->last_seq > 0) {
		want_sync(c, e->last_seq);
	} else {
		conn_send(c, VG_FRAME_ACK, 0, NULL);
		atomic_fetch_add_explicit(&ing->stats->acks_sent, 1, memory_order_relaxed);
	}
	return 0;
}

/*
 * The head id of canonical s (hash: its vg_series_hash), creating the
 * series if storage lacks it. A new series goes to the WAL before the head
 * has it, under the id the head will give it (only this thread creates
 * series): replay then knows every id a later record uses. *is_new says
 * whether it was created.
 */
static int create_series(struct vg_ingest *ing, const struct vg_series *s, uint64_t hash, uint32_t *id,
			 bool *is_created, struct vg_err *err)
{
	uint32_t next;
	bool is_new;
	int rc;

	*is_created = false;
	rc = vg_head_lookup(ing->head, s, hash, id);
	if (rc == 0)
		return 0;
	if (rc != VG_ENOENT)
		return vg_err_set(err, rc, "cannot look up a series: %s", vg_strerror(rc));
	next = vg_head_next_id(ing->head);
	vg_buf_reset(&ing->key);
	vg_series_key(s, &ing->key);
	if (vg_buf_failed(&ing->key))
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	if ((rc = vg_wal_append_series(ing->wal, next, ing->key.data, ing->key.len, err)) != 0) {
		if (rc == VG_EIO)
			ing->is_wal_broken = true;
		return rc;
	}
	rc = vg_head_get_or_create(ing->head, s, hash, id, &is_new);
	if (rc != 0 || !is_new || *id != next) {
		/* The WAL now names id next for this key; another series
		 * must not get that id. Stop taking data until restart. */
		ing->is_wal_broken = true;
		return vg_err_set(err, VG_EIO, "cannot create series (%s)", rc ? vg_strerror(rc) : "id mismatch");
	}
	atomic_fetch_add_explicit(&ing->stats->series_created, 1, memory_order_relaxed);
	*is_created = true;
	return 0;
}

static int define_series(void *arg, uint64_t ref, struct vg_series *s, struct vg_err *err)
{
	struct conn *c = arg;
	struct vg_ingest *ing = c->ing;
	uint32_t id;
	bool is_created;
	int rc;

	/* Refs are dense per connection: the next one, or one already known. */
	if (ref > c->n_refs)
		return vg_err_set(err, VG_EPROTO, "SERIES defines ref %llu before ref %u",
				  (unsigned long long)ref, c->n_refs);
	if (ref == c->n_refs && c->n_refs >= CONN_MAX_REFS)
		return vg_err_set(err, VG_ELIMIT, "more than %u series refs on one connection", CONN_MAX_REFS);
	if ((rc = create_series(ing, s, vg_series_hash(s), &id, &is_created, err)) != 0)
		return rc;
	if (ref == c->n_refs) {
		if (c->n_refs == c->cap_refs) {
			uint32_t cap = c->cap_refs ? c->cap_refs * 2 : 64;
			uint32_t *p = realloc(c->ref_ids, cap * sizeof(*p));
			if (p == NULL)
				return vg_err_set(err, VG_ENOMEM, "out of memory");
			c->ref_ids = p;
			c->cap_refs = cap;
		}
		c->n_refs++;
	}
	c->ref_ids[ref] = id;
	return 0;
}

/*
 * Stores one batch of resolved samples: the WAL first, then (for an
 * agent's batch) the retry table, then the head. Shared by SAMPLES frames
 * and submitted batches; the caller waits for the next sync before it
 * acknowledges.
 */
static int store_samples(struct vg_ingest *ing, const struct vg_wal_samples *rec, struct vg_err *err)
{
	int rc;

	if ((rc = vg_wal_append_samples(ing->wal, rec, err)) != 0) {
		/* Only an I/O error breaks the WAL; out of memory refuses this
		 * batch, which the agent keeps and sends again. */
		if (rc == VG_EIO)
			ing->is_wal_broken = true;
		return rc;
	}
	if (rec->agent_hash != 0)
		agent_mark(ing, rec->agent_hash, rec->epoch, rec->seq);
	if ((rc = vg_head_append(ing->head, rec->n, rec->ids, rec->ts_ms, rec->values)) != 0)
		return vg_err_set(err, rc, "cannot store samples: %s", vg_strerror(rc));
	atomic_fetch_add_explicit(&ing->stats->samples_received, rec->n, memory_order_relaxed);
	return 0;
}

static int handle_samples(struct conn *c, const struct vg_frame_header *h, const uint8_t *raw,
			  size_t len, struct vg_err *err)
{
	struct vg_ingest *ing = c->ing;
	struct vg_sample_batch *b = &ing->batch;
	struct vg_wal_samples rec;
	int rc;

	if (h->seq == 0)
		return vg_err_set(err, VG_EPROTO, "SAMPLES frame without a sequence number");
	/* Protocol 2 decodes every batch, retries too: its deltas build on
	 * the one before. */
	rc = c->s2 ? vg_samples2_decode(c->s2, raw, len, c->n_refs, b, err)
		   : vg_samples_decode(raw, len, b, err);
	if (rc != 0)
		return rc;
	if (b->n > ing->cap_ids) {
		uint32_t *p = realloc(ing->ids, b->n * sizeof(*p));
		if (p == NULL)
			return vg_err_set(err, VG_ENOMEM, "out of memory");
		ing->ids = p;
		ing->cap_ids = b->n;
	}
	for (size_t i = 0; i < b->n; i++) {
		if (b->refs[i] >= c->n_refs)
			return vg_err_set(err, VG_ENOENT, "SAMPLES seq %llu uses ref %llu, which no SERIES frame defined",
					  (unsigned long long)h->seq, (unsigned long long)b->refs[i]);
		ing->ids[i] = c->ref_ids[b->refs[i]];
	}
	if (ing->is_wal_broken)
		return vg_err_set(err, VG_EIO, "the receiver cannot make data durable");
	if (agent_has(ing, c->agent_hash, c->epoch, h->seq)) {
		/* A retry of a batch already written: acknowledge it again once
		 * a sync has covered the original. */
		atomic_fetch_add_explicit(&ing->stats->samples_duplicate, b->n, memory_order_relaxed);
		want_sync(c, h->seq);
		return 0;
	}
	rec = (struct vg_wal_samples){ c->agent_hash, c->epoch, h->seq, b->n, ing->ids, b->ts_ms, b->values };
	if ((rc = store_samples(ing, &rec, err)) != 0)
		return rc;
	want_sync(c, h->seq);
	return 0;
}

/* --- batches from other threads (submit.h) ------------------------------ */

/* Stores one submitted batch as SERIES and SAMPLES frames would be. */
static int store_batch(struct vg_ingest *ing, struct vg_submit_batch *b, struct vg_err *err)
{
	struct vg_wal_samples rec;
	int rc;

	if (ing->wal == NULL || ing->is_wal_broken)
		return vg_err_set(err, VG_EIO, "the receiver cannot make data durable");
	if (b->n_series > ing->cap_series_ids) {
		uint32_t *p = realloc(ing->series_ids, b->n_series * sizeof(*p));
		if (p == NULL)
			return vg_err_set(err, VG_ENOMEM, "out of memory");
		ing->series_ids = p;
		ing->cap_series_ids = b->n_series;
	}
	if (b->n > ing->cap_ids) {
		uint32_t *p = realloc(ing->ids, b->n * sizeof(*p));
		if (p == NULL)
			return vg_err_set(err, VG_ENOMEM, "out of memory");
		ing->ids = p;
		ing->cap_ids = b->n;
	}
	for (uint32_t i = 0; i < b->n_series; i++) {
		const struct vg_submit_series *e = &b->series[i];
		struct vg_series s;
		bool is_created;

		if (vg_series_from_key(b->keys.data + e->key_off, e->key_len, &s) != 0)
			return vg_err_set(err, VG_EINVAL, "a submitted series key does not parse");
		if ((rc = create_series(ing, &s, e->hash, &ing->series_ids[i], &is_created, err)) != 0)
			return rc;
		b->series_created += is_created;
	}
	if (b->n == 0)
		return 0; /* a sync barrier: nothing to store */
	for (size_t j = 0; j < b->n; j++)
		ing->ids[j] = ing->series_ids[b->series_of[j]];
	rec = (struct vg_wal_samples){ 0, 0, 0, b->n, ing->ids, b->ts_ms, b->values };
	return store_samples(ing, &rec, err);
}

/* Stores each batch of list; those marked needs_sync wait for the next
 * sync, the others (and the failed) are completed at once. */
static void take_batches(struct vg_ingest *ing, struct vg_submit_batch *list)
{
	struct vg_submit_batch *b, *next;
	struct vg_err err;

	for (b = list; b; b = next) {
		int rc;

		next = b->next;
		b->next = NULL;
		if ((rc = store_batch(ing, b, &err)) != 0 || !b->needs_sync) {
			submit_complete(b, rc, rc ? err.msg : "");
			continue;
		}
		*ing->submit_tail = b;
		ing->submit_tail = &b->next;
	}
	if (ing->submit_waiting)
		event_active(ing->sync_ev, EV_TIMEOUT, 0);
}

static void submit_ready(void *arg)
{
	struct vg_ingest *ing = arg;

	take_batches(ing, vg_submit_take(ing->submit));
}

/* Handles one whole frame; on failure err says why and the connection is
 * to be failed with the returned code. */
static int handle_frame(struct conn *c, const struct vg_frame_header *h, const uint8_t *payload,
			struct vg_err *err)
{
	struct vg_ingest *ing = c->ing;
	struct vg_error_msg em;
	const uint8_t *raw;
	size_t len;
	int rc;

	atomic_fetch_add_explicit(&ing->stats->frames_received[h->type], 1, memory_order_relaxed);
	if ((rc = vg_frame_open(ing->codec, h, payload, &raw, &len, err)) != 0)
		return rc;
	if (c->state == AWAIT_HELLO && h->type != VG_FRAME_HELLO)
		return vg_err_set(err, VG_EPROTO, "%s frame before HELLO", vg_frame_type_name(h->type));
	if (c->state != AWAIT_HELLO && h->version != c->proto)
		return vg_err_set(err, VG_EPROTO, "a version %u frame on a protocol %u connection", h->version,
				  c->proto);
	switch (h->type) {
	case VG_FRAME_HELLO:
		return handle_hello(c, h, raw, len, err);
	case VG_FRAME_SERIES:
		return vg_series_decode(raw, len, define_series, c, err);
	case VG_FRAME_SAMPLES:
		return handle_samples(c, h, raw, len, err);
	case VG_FRAME_ERROR:
		if (vg_error_decode(raw, len, &em, err) != 0)
			return VG_EINVAL;
		return vg_err_set(err, VG_EPROTO, "agent reported error %u: %.*s", em.code,
				  (int)em.message.len, em.message.p);
	default:
		return vg_err_set(err, VG_EPROTO, "unexpected %s frame from an agent", vg_frame_type_name(h->type));
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct vg_ingest *ing = c->ing;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (c->state != CLOSING) {
		size_t avail = evbuffer_get_length(in);
		uint8_t hdr[VG_FRAME_HEADER_SIZE];
		struct vg_frame_header h;
		struct vg_err err;
		const uint8_t *frame;
		int rc;

		if (avail < VG_FRAME_HEADER_SIZE)
			return;
		evbuffer_copyout(in, hdr, sizeof(hdr));
		if ((rc = vg_frame_header_decode(hdr, &h, &err)) != 0) {
			atomic_fetch_add_explicit(&ing->stats->decode_errors, 1, memory_order_relaxed);
			conn_fail(c, 0, rc, err.msg);
			return;
		}
		if (c->state == AWAIT_HELLO && (h.type != VG_FRAME_HELLO || h.payload_len > HELLO_MAX_BYTES)) {
			atomic_fetch_add_explicit(&ing->stats->decode_errors, 1, memory_order_relaxed);
			conn_fail(c, h.seq, h.type != VG_FRAME_HELLO ? VG_EPROTO : VG_ELIMIT,
				  h.type != VG_FRAME_HELLO ? "the first frame must be HELLO"
							   : "HELLO frame too large");
			return;
		}
		/* Until HELLO, answer in the version the agent spoke. */
		if (c->state == AWAIT_HELLO)
			c->proto = h.version;
		if (avail < VG_FRAME_HEADER_SIZE + (size_t)h.payload_len)
			return; /* the rest of the frame has not arrived yet */
		frame = evbuffer_pullup(in, VG_FRAME_HEADER_SIZE + (ssize_t)h.payload_len);
		if (frame == NULL) {
			conn_fail(c, h.seq, VG_ENOMEM, "out of memory reading a frame");
			return;
		}
		atomic_fetch_add_explicit(&ing->stats->bytes_received, VG_FRAME_HEADER_SIZE + h.payload_len,
					  memory_order_relaxed);
		rc = handle_frame(c, &h, frame + VG_FRAME_HEADER_SIZE, &err);
		evbuffer_drain(in, VG_FRAME_HEADER_SIZE + (size_t)h.payload_len);
		if (rc != 0) {
			if (rc != VG_EIO && rc != VG_ENOMEM)
				atomic_fetch_add_explicit(&ing->stats->decode_errors, 1, memory_order_relaxed);
			conn_fail(c, h.seq, rc, err.msg);
			return;
		}
	}
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if ((what & BEV_EVENT_TIMEOUT) && c->state == AWAIT_HELLO)
		vg_info("agent connection %s sent no HELLO within %d s; closing it", c->peer, HELLO_TIMEOUT_S);
	else if (what & BEV_EVENT_TIMEOUT)
		vg_info("agent connection %s%s%s idle for %d s; closing it", c->peer,
			c->agent[0] ? " agent " : "", c->agent, CONN_IDLE_TIMEOUT_S);
	else if (what & BEV_EVENT_ERROR)
		vg_debug("agent connection %s: %s", c->peer, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	else
		vg_debug("agent connection %s closed by the agent", c->peer);
	conn_free(c);
}

static void format_peer(const struct sockaddr *sa, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(out, cap, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(out, cap, "[%s]:%u", host, port);
	} else {
		snprintf(out, cap, "unknown");
	}
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	struct vg_ingest *ing = arg;
	struct timeval hello_wait = { HELLO_TIMEOUT_S, 0 };
	struct conn *c;

	(void)l;
	(void)salen;
	if (ing->n_conns >= ing->opts.max_connections) {
		static struct vg_complaint full = VG_COMPLAINT_INIT;
		atomic_fetch_add_explicit(&ing->stats->connections_refused, 1, memory_order_relaxed);
		vg_log_complain(&full, VG_LOG_WARN, "refusing agent connections: %llu open, the limit (max_connections)",
				(unsigned long long)ing->n_conns);
		evutil_closesocket(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->proto = VG_FRAME_VERSION;
	c->bev = bufferevent_socket_new(ing->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	c->ing = ing;
	c->state = AWAIT_HELLO;
	format_peer(sa, c->peer, sizeof(c->peer));
	c->next = ing->conns;
	if (ing->conns)
		ing->conns->prev = c;
	ing->conns = c;
	ing->n_conns++;
	atomic_fetch_add_explicit(&ing->stats->connections_accepted, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&ing->stats->connections_open, 1, memory_order_relaxed);
	bufferevent_setcb(c->bev, read_cb, NULL, conn_event_cb, c);
	bufferevent_set_timeouts(c->bev, &hello_wait, NULL);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	static struct vg_complaint c = VG_COMPLAINT_INIT;

	(void)l;
	(void)arg;
	/* EMFILE and friends: the listener retries on the next readiness. */
	vg_log_complain(&c, VG_LOG_ERROR, "accepting an agent connection: %s",
			evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

int vg_ingest_new(const struct vg_ingest_options *opts, struct vg_ingest **out, struct vg_err *err)
{
	struct vg_ingest *ing = calloc(1, sizeof(*ing));

	if (ing == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	ing->opts = *opts;
	ing->base = opts->base;
	ing->head = opts->head;
	ing->stats = opts->stats;
	if (ing->opts.max_connections == 0)
		ing->opts.max_connections = 65536;
	ing->codec = vg_frame_codec_new(1);
	ing->sync_ev = event_new(ing->base, -1, 0, sync_cb, ing);
	if (ing->codec == NULL || ing->sync_ev == NULL) {
		vg_ingest_free(ing);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	vg_sample_batch_init(&ing->batch);
	vg_buf_init(&ing->key);
	vg_buf_init(&ing->out);
	ing->submit = opts->submit;
	ing->submit_tail = &ing->submit_waiting;
	if (ing->submit)
		vg_submit_set_consumer(ing->submit, submit_ready, ing);
	*out = ing;
	return 0;
}

int vg_ingest_listen(struct vg_ingest *ing, struct vg_wal *wal, struct vg_err *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	const char *host = ing->opts.host && ing->opts.host[0] ? ing->opts.host : NULL;
	char port[8];
	int rc;

	ing->wal = wal;
	if (ing->replay_series_skipped || ing->replay_samples_dropped)
		vg_warn("WAL replay: %llu series records conflicted and were skipped, %llu samples of unknown series were dropped (damaged WAL?)",
			(unsigned long long)ing->replay_series_skipped,
			(unsigned long long)ing->replay_samples_dropped);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof(port), "%u", ing->opts.port);
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return vg_err_set(err, VG_EINVAL, "cannot resolve listen address \"%s\": %s",
				  host ? host : "", gai_strerror(rc));
	/* With no host, prefer the IPv6 wildcard: on Linux it takes IPv4 too. */
	for (int want = host ? AF_UNSPEC : AF_INET6; ing->listener == NULL; want = AF_UNSPEC) {
		for (ai = res; ai && ing->listener == NULL; ai = ai->ai_next) {
			if (want != AF_UNSPEC && ai->ai_family != want)
				continue;
			ing->listener = evconnlistener_new_bind(ing->base, accept_cb, ing,
								LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
								LEV_OPT_CLOSE_ON_EXEC, 1024, ai->ai_addr,
								(int)ai->ai_addrlen);
		}
		if (want == AF_UNSPEC)
			break;
	}
	freeaddrinfo(res);
	if (ing->listener == NULL)
		return vg_err_set(err, VG_EIO, "cannot listen for agents on %s:%u: %s", host ? host : "*",
				  ing->opts.port, strerror(errno));
	evconnlistener_set_error_cb(ing->listener, accept_error_cb);
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		getsockname(evconnlistener_get_fd(ing->listener), (struct sockaddr *)&ss, &sl);
		ing->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							   : ((struct sockaddr_in *)&ss)->sin_port);
	}
	return 0;
}

uint16_t vg_ingest_port(const struct vg_ingest *ing)
{
	return ing->port;
}

void vg_ingest_free(struct vg_ingest *ing)
{
	if (ing == NULL)
		return;
	if (ing->listener)
		evconnlistener_free(ing->listener);
	/* Submitted batches still queued are stored (or failed) and every
	 * later submit refused; their completions go out with the ACKs. */
	if (ing->submit) {
		take_batches(ing, vg_submit_close(ing->submit));
		vg_submit_set_consumer(ing->submit, NULL, NULL);
	}
	/* Acknowledge what is durable-to-be before the connections go. */
	if (ing->wal && (ing->sync_list || ing->submit_waiting))
		sync_cb(-1, 0, ing);
	while (ing->conns) {
		struct conn *c = ing->conns;
		/* Push out pending ACKs, best effort: the socket is
		 * non-blocking and closed right after. */
		evbuffer_write(bufferevent_get_output(c->bev), bufferevent_getfd(c->bev));
		conn_free(c);
	}
	if (ing->sync_ev)
		event_free(ing->sync_ev);
	vg_frame_codec_free(ing->codec);
	vg_sample_batch_release(&ing->batch);
	free(ing->ids);
	free(ing->series_ids);
	vg_buf_release(&ing->key);
	vg_buf_release(&ing->out);
	free(ing->agents);
	free(ing);
}
