/*
 * ingest.c: agent connections, frame by frame, into the WAL and the head.
 *
 * Per connection (struct conn) a small state machine:
 *   AWAIT_HELLO --HELLO ok--> READY --ERROR or bad frame--> CLOSING
 * In READY, SERIES frames extend the connection's dictionary (ref -> head
 * id; refs are dense, so a plain array); SAMPLES frames are resolved
 * through it, written to the WAL and the head, and put the connection on
 * the list of this round. The round ends in an event made active by its
 * first batch, so it runs after the reads already queued in that round:
 * it commits the WAL once for all of them (vg_wal_commit, which returns at
 * once) and the connections wait for that commit's ticket. The WAL's
 * writer thread writes and fdatasyncs, then reports the durable ticket
 * back through another event on this loop, which sends the ACKs. So the
 * loop never waits for the disk, and batches keep arriving during a sync.
 *
 * A connection waits for at most two tickets at once (slots a and b): the
 * oldest commit that holds one of its batches, and the newest. ACKs are
 * cumulative, so later batches merge into slot b; each durable report acks
 * slot a, and b moves up: no connection waits for more than one commit
 * past the one that holds its batch.
 *
 * Invariants:
 *  - an ACK for seq N is sent only once the writer reported durable the
 *    ticket of a commit made after the batch N (or the batch it retried)
 *    was appended;
 *  - nothing read from a socket is trusted before the frame codec has
 *    checked it; every count was bounded there.
 *
 * Batches from other threads (the HTTP import endpoint) arrive through the
 * submit queue (submit.h) and take the same path: their series are created
 * as a SERIES frame's are (create_series: WAL first, then head), their
 * samples stored as a SAMPLES frame's are (store_samples), and they are
 * completed where connections are acknowledged (durable_cb), once the
 * commit that covers them is durable.
 *
 * With TLS configured (tls.h) each accepted socket gets an OpenSSL
 * bufferevent; the handshake completes before the first frame is read.
 *
 * What this file does not do: the sender side (agent/sender.c), the record
 * format (wal.c), the sample store (head.c).
 */
#include "receiver/ingest/ingest.h"
#include "receiver/ingest/submit.h"
#include "receiver/ingest/budget.h"
#include "receiver/ingest/lastseen.h"
#include "receiver/ingest/limits.h"
#include "receiver/ingest/tally.h"
#include "receiver/ingest/tls.h"
#include "common/buf.h"
#include "common/clock.h"
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
#include <pthread.h>
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

/* How often a broken WAL is asked whether it has recovered. */
#define RESUME_POLL_MS 50
/* Time a connection gets to flush an ERROR frame before it is dropped. */
#define CONN_CLOSE_TIMEOUT_S 5
/* Defaults of the options (ingest.h). Before HELLO a peer has proved
 * nothing: it gets hello_timeout to send it, and its first frame must be a
 * HELLO of at most hello_buffer bytes, so a crowd of silent or lying
 * connections costs the receiver little. Agents send at least once per
 * interval (10 s by default), well within idle_timeout. */
#define DEFAULT_BUFFER_BUDGET (256ULL << 20)
#define DEFAULT_CONN_BUFFER (32u << 10)
#define DEFAULT_HELLO_BUFFER 4096
#define DEFAULT_HELLO_TIMEOUT_MS (10 * 1000)
#define DEFAULT_IDLE_TIMEOUT_MS (15 * 60 * 1000)
#define DEFAULT_FRAME_TIMEOUT_MS (60 * 1000)
/* Per-connection events are summarised this often (tally.h). */
#define TALLY_INTERVAL_MS (60 * 1000)
/* A ref whose series a cardinality limit refused, and which limit: the
 * top few ids, far above any the head gives. */
#define REF_REFUSED(which) (UINT32_MAX - (uint32_t)(which))
#define REF_IS_REFUSED(id) ((id) > UINT32_MAX - (uint32_t)VG_LIMIT_KINDS)
#define REF_REFUSED_BY(id) ((enum vg_limit)(UINT32_MAX - (id)))
/* Refs one connection may define: bounds its dictionary (4 bytes each). */
#define CONN_MAX_REFS (1u << 20)
/* How long a listener rests after accept() failed for want of descriptors. */
#define ACCEPT_PAUSE_MS 100

enum conn_state { AWAIT_HELLO, READY, CLOSING };

struct agent_entry {
	uint64_t agent_hash; /* 0: free slot */
	uint64_t epoch;
	uint64_t last_seq;   /* highest SAMPLES seq written for this epoch */
	uint64_t durable_seq; /* highest of those known durable (acknowledged or replayed) */
};

struct conn {
	struct vg_ingest *ing;
	struct bufferevent *bev;
	struct conn *prev, *next;       /* all connections */
	struct conn *sync_next;         /* has batches in this round */
	bool is_waiting_sync;
	struct conn *pend_prev, *pend_next; /* waiting for a commit's ticket */
	bool is_pending;
	uint64_t a_ticket, a_seq;       /* oldest commit waited for, and the seq it acks */
	uint64_t b_ticket, b_seq;       /* newest, 0 if none */
	enum conn_state state;
	char peer[64];
	char *agent;                    /* HELLO's, exactly its length; NULL before */
	uint64_t agent_hash;
	uint64_t epoch;
	uint64_t ack_seq;               /* to acknowledge once this round is durable */
	uint32_t *ref_ids;              /* ref -> head id, or REF_REFUSED(limit) */
	uint32_t n_refs, cap_refs;
	uint8_t proto;                  /* the version of every frame: HELLO's */
	struct vg_samples2_state *s2;   /* protocol 2: the delta state */
	/* Input budget (budget.h). */
	uint64_t charged, grant;
	int64_t grant_start_ms;         /* when the grant was made (frame timeout) */
	struct conn *wait_next;         /* waiting for budget */
	bool is_waiting_budget;
	/* Cardinality (limits.h). */
	struct vg_limits_agent *limits_agent;
	uint64_t n_admitted;            /* refs the guard admitted on this connection */
	uint64_t refused_n;             /* refused in the frame being handled */
	enum vg_limit refused_which;
	int64_t series_now_ms;          /* the guard's time for that frame */
	/* Protocol 2: what limits kept out since the last ACK, for the next
	 * ACK's payload (docs/protocol.md, ACK protocol 2). */
	uint64_t ack_refused_samples, ack_refused_series;
	enum vg_limit ack_limit;
};

struct vg_ingest {
	struct vg_ingest_options opts;
	struct event_base *base;
	struct evconnlistener *listener;
	struct vg_tls_server *tls;      /* NULL: plain TCP */
	struct event *sync_ev;          /* ends a round: commit */
	struct event *durable_ev;       /* the writer reported: ACK */
	uint64_t wal_bytes_seen;        /* WAL bytes already in stats->wal_bytes */
	bool has_own_limits;            /* else opts.limits, borrowed */
	_Atomic uint64_t durable_ticket; /* set by the WAL's writer thread */
	_Atomic uint64_t failed_ticket;  /* likewise: the highest ticket reported failed */
	struct conn *pending;           /* connections waiting for a ticket */
	uint16_t port;
	struct vg_wal *wal;
	struct vg_head *head;
	struct vg_stats *stats;
	/* A full disk (docs/wal.md, "A failed write or fsync"): while the WAL
	 * is broken every batch is refused; the break is handled once
	 * (durable_cb: pending batches refused, the retry table cut back to
	 * what is durable), then resume_ev polls vg_wal_resume. */
	bool is_wal_broken;
	bool is_break_handled;
	bool is_fatal;                  /* the head and the WAL disagree: until restart */
	uint64_t failed_handled;        /* failure reports up to this ticket are old */
	struct event *resume_ev;
	char wal_reason[VG_ERR_MSG_MAX];
	/* Series ids below floor_id have a durable SERIES record; the a/b
	 * slots say which ids the commits in flight make durable. */
	uint32_t floor_id;
	uint64_t floor_a_ticket, floor_b_ticket;
	uint32_t floor_a_id, floor_b_id;
	struct conn *conns;
	struct conn *sync_list;
	struct vg_submit *submit;                /* borrowed; NULL: no queue */
	struct vg_submit_batch *submit_waiting;  /* stored, for this round's commit */
	struct vg_submit_batch **submit_tail;
	struct vg_submit_batch *submit_pending;  /* committed, waiting for their ticket */
	/* Freezes asked for by the sealer's thread (vg_ingest_freeze_wait). */
	struct event *freeze_ev;
	pthread_mutex_t freeze_mu;
	pthread_cond_t freeze_cv;
	bool is_freeze_done, is_stopping; /* under freeze_mu */
	int freeze_rc;
	uint32_t freeze_segno;
	char freeze_msg[VG_ERR_MSG_MAX];
	struct vg_submit_batch **submit_pending_tail;
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
	/* At the fd limit the listener pauses (accept_error_cb) and this
	 * timer turns it back on. */
	struct event *accept_retry_ev;
	struct vg_complaint accept_complaint, full_complaint;
	struct vg_budget budget;
	struct conn *wait_head, *wait_tail;
	struct event *tick_ev;          /* every second: frame timeouts, tally */
	struct vg_tally tally;
	struct vg_limits *limits;
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
		e->durable_seq = 0;
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

	if (s->agent_hash != 0) { /* 0: imported, no agent to retry */
		struct agent_entry *e;
		agent_mark(ing, s->agent_hash, s->epoch, s->seq);
		if ((e = agent_find(ing, s->agent_hash, false)) != NULL)
			e->durable_seq = e->last_seq; /* on disk: replay read it */
	}
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

static void pending_remove(struct conn *c)
{
	if (!c->is_pending)
		return;
	if (c->pend_prev)
		c->pend_prev->pend_next = c->pend_next;
	else
		c->ing->pending = c->pend_next;
	if (c->pend_next)
		c->pend_next->pend_prev = c->pend_prev;
	c->pend_prev = c->pend_next = NULL;
	c->is_pending = false;
	c->a_ticket = c->b_ticket = 0;
}

/* --- the input budget ------------------------------------------------------ */

static void wait_remove(struct conn *c)
{
	struct vg_ingest *ing = c->ing;
	struct conn **pp = &ing->wait_head, *prev = NULL;

	if (!c->is_waiting_budget)
		return;
	while (*pp && *pp != c) {
		prev = *pp;
		pp = &(*pp)->wait_next;
	}
	if (*pp)
		*pp = c->wait_next;
	if (ing->wait_tail == c)
		ing->wait_tail = prev;
	c->wait_next = NULL;
	c->is_waiting_budget = false;
}

/* Stops reading from c until the budget has room for it. */
static void budget_pause(struct conn *c)
{
	struct vg_ingest *ing = c->ing;

	if (c->is_waiting_budget)
		return;
	bufferevent_disable(c->bev, EV_READ);
	c->is_waiting_budget = true;
	c->wait_next = NULL;
	if (ing->wait_tail)
		ing->wait_tail->wait_next = c;
	else
		ing->wait_head = c;
	ing->wait_tail = c;
	atomic_fetch_add_explicit(&ing->stats->budget_pauses, 1, memory_order_relaxed);
}

/* The size of the frame c has begun, when it needs a grant; else 0. */
static uint64_t frame_need(struct conn *c, uint64_t avail)
{
	uint8_t hdr[VG_FRAME_HEADER_SIZE];
	struct vg_frame_header h;
	uint64_t frame;

	if (c->state != READY || avail < VG_FRAME_HEADER_SIZE)
		return 0;
	evbuffer_copyout(bufferevent_get_input(c->bev), hdr, sizeof(hdr));
	if (vg_frame_header_decode(hdr, &h, NULL) != 0)
		return 0; /* read_cb refuses it */
	frame = VG_FRAME_HEADER_SIZE + (uint64_t)h.payload_len;
	return frame > c->ing->opts.conn_buffer ? frame : 0;
}

static void budget_publish(struct vg_ingest *ing)
{
	atomic_store_explicit(&ing->stats->buffer_bytes, ing->budget.used, memory_order_relaxed);
	atomic_store_explicit(&ing->stats->buffer_granted_bytes, ing->budget.granted, memory_order_relaxed);
}

/*
 * After a read: charge c what it buffers, grant or return a large frame's
 * room, set the read watermark so that the socket is read no further than
 * allowed, or pause c when the budget has no room. Returns whether budget
 * was given back (waiters may now fit).
 */
static bool budget_update(struct conn *c)
{
	struct vg_ingest *ing = c->ing;
	uint64_t avail = evbuffer_get_length(bufferevent_get_input(c->bev));
	uint64_t need = frame_need(c, avail), high, before = ing->budget.used;
	bool was_full = !vg_budget_has_room(&ing->budget), is_released = false;

	high = c->state == READY ? ing->opts.conn_buffer : VG_FRAME_HEADER_SIZE + ing->opts.hello_buffer;
	if (need > 0) {
		if (need > c->grant) {
			if (vg_budget_grant(&ing->budget, &c->grant, need)) {
				c->grant_start_ms = vg_clock_mono_ms();
			} else {
				vg_budget_charge(&ing->budget, &c->charged, avail > c->grant ? avail : c->grant);
				budget_pause(c);
				budget_publish(ing);
				return false;
			}
		}
		high = need;
	} else if (c->grant > 0) {
		vg_budget_release(&ing->budget, &c->grant);
		is_released = true;
	}
	vg_budget_charge(&ing->budget, &c->charged, avail > c->grant ? avail : c->grant);
	bufferevent_setwatermark(c->bev, EV_READ, 0, (size_t)high);
	if (need == 0 && !vg_budget_has_room(&ing->budget))
		budget_pause(c);
	budget_publish(ing);
	return is_released || (was_full && vg_budget_has_room(&ing->budget)) || ing->budget.used < before;
}

/* Lets waiting connections read again, in order, as far as the budget
 * allows: a large frame is granted, a small one needs room. */
static void budget_resume(struct vg_ingest *ing)
{
	struct conn *c = ing->wait_head, *next;

	for (; c; c = next) {
		uint64_t avail = evbuffer_get_length(bufferevent_get_input(c->bev));
		uint64_t need = frame_need(c, avail);

		next = c->wait_next;
		if (need > 0) {
			if (!vg_budget_grant(&ing->budget, &c->grant, need))
				continue;
			c->grant_start_ms = vg_clock_mono_ms();
			vg_budget_charge(&ing->budget, &c->charged, c->grant > avail ? c->grant : avail);
			bufferevent_setwatermark(c->bev, EV_READ, 0, (size_t)need);
		} else if (!vg_budget_has_room(&ing->budget)) {
			break;
		}
		wait_remove(c);
		bufferevent_enable(c->bev, EV_READ);
	}
	budget_publish(ing);
}

static void conn_free(struct conn *c)
{
	struct vg_ingest *ing = c->ing;

	wait_remove(c);
	vg_budget_release(&ing->budget, &c->grant);
	vg_budget_charge(&ing->budget, &c->charged, 0);
	vg_limits_release(ing->limits, c->limits_agent, c->n_admitted);

	if (c->is_waiting_sync) {
		struct conn **pp = &ing->sync_list;
		while (*pp && *pp != c)
			pp = &(*pp)->sync_next;
		if (*pp)
			*pp = c->sync_next;
	}
	pending_remove(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		ing->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	free(c->ref_ids);
	free(c->agent);
	if (c->s2) {
		vg_samples2_state_release(c->s2);
		free(c->s2);
	}
	free(c);
	ing->n_conns--;
	atomic_fetch_sub_explicit(&ing->stats->connections_open, 1, memory_order_relaxed);
	if (ing->wait_head)
		budget_resume(ing);
	else
		budget_publish(ing);
}

/*
 * Queues a frame's bytes for the peer. On a plain socket with nothing
 * queued before them they are sent at once: an ACK then needs no
 * evbuffer chain (1 KiB of heap each, freed when drained, and the holes
 * they leave between longer-lived allocations stay resident) and no
 * write event added and removed again. What the socket does not take
 * (a full send buffer, an error) goes through the bufferevent, which
 * sends it later or reports the error as usual.
 */
static void conn_write(struct conn *c, const uint8_t *p, size_t n)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->ing->tls == NULL && evbuffer_get_length(out) == 0) {
		ssize_t w = send(bufferevent_getfd(c->bev), p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
		}
	}
	if (n)
		bufferevent_write(c->bev, p, n);
}

static void conn_send(struct conn *c, enum vg_frame_type type, uint64_t seq, const struct vg_buf *raw)
{
	struct vg_ingest *ing = c->ing;
	struct vg_buf ack = VG_BUF_INIT;
	struct vg_err err;
	int rc;

	/* Protocol 2's ACK says what a limit refused since the last one. */
	if (type == VG_FRAME_ACK && c->proto >= VG_PROTO_V2 && raw == NULL) {
		const char *limit = c->ack_limit != VG_LIMIT_NONE ? vg_limit_name(c->ack_limit) : "";
		struct vg_ack a = { c->ack_refused_samples, c->ack_refused_series,
				    { limit, (uint32_t)strlen(limit) } };
		vg_ack_pack(&a, &ack);
		raw = &ack;
		c->ack_refused_samples = c->ack_refused_series = 0;
		c->ack_limit = VG_LIMIT_NONE;
	}
	vg_buf_reset(&ing->out);
	rc = vg_frame_encode_version(ing->codec, c->proto, type, seq, raw ? raw->data : NULL,
				     raw ? raw->len : 0, &ing->out, &err);
	vg_buf_release(&ack);
	if (rc != 0) {
		vg_error("%s: cannot encode %s: %s", c->peer, vg_frame_type_name(type), err.msg);
		return;
	}
	conn_write(c, ing->out.data, ing->out.len);
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

/* Sends an ERROR frame, tallies the event (tally.h), and closes the
 * connection when the frame has left (or after CONN_CLOSE_TIMEOUT_S). */
static void conn_fail_as(struct conn *c, enum vg_tally_kind kind, uint64_t seq, int code, const char *msg)
{
	struct vg_ingest *ing = c->ing;
	struct vg_buf raw = VG_BUF_INIT;
	struct timeval tv = { CONN_CLOSE_TIMEOUT_S, 0 };

	atomic_fetch_add_explicit(&ing->stats->connections_closed[kind], 1, memory_order_relaxed);
	vg_tally_note(&ing->tally, kind, VG_LOG_WARN, "agent connection %s%s%s: %s; closing it", c->peer,
		      c->agent && c->agent[0] ? " agent " : "", c->agent ? c->agent : "", msg);
	wait_remove(c);
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

static void conn_fail(struct conn *c, uint64_t seq, int code, const char *msg)
{
	conn_fail_as(c, VG_TALLY_REFUSED, seq, code, msg);
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

/* Waits for ticket t to acknowledge seq (slots a and b, above). */
static void pending_add(struct conn *c, uint64_t t, uint64_t seq)
{
	struct vg_ingest *ing = c->ing;

	if (!c->is_pending) {
		c->a_ticket = t;
		c->a_seq = seq;
		c->b_ticket = 0;
		c->pend_prev = NULL;
		c->pend_next = ing->pending;
		if (ing->pending)
			ing->pending->pend_prev = c;
		ing->pending = c;
		c->is_pending = true;
	} else if (c->a_ticket == t) {
		if (seq > c->a_seq)
			c->a_seq = seq;
	} else {
		if (c->b_ticket == 0 || seq > c->b_seq)
			c->b_seq = seq > c->a_seq ? seq : c->a_seq;
		c->b_ticket = t;
	}
}

static void submit_complete(struct vg_submit_batch *b, int rc, const char *msg)
{
	b->rc = rc;
	if (rc != 0)
		snprintf(b->error, sizeof(b->error), "%s", msg);
	vg_submit_done(b);
}

/* --- a failing WAL (a full disk) ------------------------------------------ */

/* Appends a SERIES record for every series of ids [from, to) (absent ones
 * skipped): a checkpoint's, or what a WAL failure may have lost. */
static int append_series_records(struct vg_ingest *ing, uint32_t from, uint32_t to, struct vg_err *err)
{
	for (uint32_t id = from; id < to; id++) {
		int rc;

		vg_head_rdlock(ing->head);
		vg_buf_reset(&ing->key);
		rc = vg_head_series_key_locked(ing->head, id, &ing->key);
		vg_head_unlock(ing->head);
		if (rc != 0)
			return vg_err_set(err, VG_ENOMEM, "out of memory writing series records to the WAL");
		if (ing->key.len > 0 &&
		    (rc = vg_wal_append_series(ing->wal, id, ing->key.data, ing->key.len, err)) != 0)
			return rc;
	}
	return 0;
}

/* What an agent is told while the WAL cannot take writes (ERROR INTERNAL:
 * the agent keeps the batch and reconnects with backoff). */
static int refuse(struct vg_ingest *ing, struct vg_err *err)
{
	return vg_err_set(err, VG_EIO, "the receiver cannot make data durable now (%.150s); retry later",
			  ing->wal_reason[0] ? ing->wal_reason : "WAL write failed");
}

static void refuse_msg(struct vg_ingest *ing, char *msg, size_t len)
{
	struct vg_err e;

	refuse(ing, &e);
	snprintf(msg, len, "%s", e.msg);
}

/* The WAL failed (or refused): stop taking batches; durable_cb handles
 * the break once, on this thread, outside whatever callback noticed it. */
static void wal_failed(struct vg_ingest *ing, const struct vg_err *err)
{
	struct vg_err e;

	if (!ing->is_wal_broken) {
		if (ing->wal && vg_wal_failure(ing->wal, &e))
			err = &e; /* the WAL's own words: the file and the errno text */
		if (err && err->msg[0])
			snprintf(ing->wal_reason, sizeof(ing->wal_reason), "%s", err->msg);
	}
	if (!ing->is_wal_broken) {
		ing->is_wal_broken = true;
		ing->is_break_handled = false;
	}
	if (ing->durable_ev)
		event_active(ing->durable_ev, EV_TIMEOUT, 0);
}

/* Which series ids commit t makes durable (the a/b slots, as connections'). */
static void floor_note(struct vg_ingest *ing, uint64_t t)
{
	uint32_t n = vg_head_next_id(ing->head);

	if (ing->floor_a_ticket == 0) {
		ing->floor_a_ticket = t;
		ing->floor_a_id = n;
	} else {
		ing->floor_b_ticket = t;
		ing->floor_b_id = n;
	}
}

static void floor_advance(struct vg_ingest *ing, uint64_t d)
{
	if (ing->floor_a_ticket == 0 || ing->floor_a_ticket > d)
		return;
	ing->floor_id = ing->floor_a_id;
	if (ing->floor_b_ticket != 0 && ing->floor_b_ticket <= d) {
		ing->floor_id = ing->floor_b_id;
		ing->floor_b_ticket = 0;
	}
	ing->floor_a_ticket = ing->floor_b_ticket;
	ing->floor_a_id = ing->floor_b_id;
	ing->floor_b_ticket = 0;
}

/* An ACK for seq went to c's agent: that much is durable. */
static void agent_acked(struct vg_ingest *ing, const struct conn *c, uint64_t seq)
{
	struct agent_entry *e = agent_find(ing, c->agent_hash, false);

	if (e && e->epoch == c->epoch && seq > e->durable_seq)
		e->durable_seq = seq > e->last_seq ? e->last_seq : seq;
}

static void resume_later(struct vg_ingest *ing)
{
	struct timeval tv = { 0, RESUME_POLL_MS * 1000 };

	if (!ing->is_fatal && ing->resume_ev)
		evtimer_add(ing->resume_ev, &tv);
}

/*
 * Once per break, after the ACKs a durable report still earned: what was
 * stored but not durable is gone from the WAL (wal.h), so the retry table
 * goes back to what is durable, and a retry of a refused batch is stored
 * again instead of being acknowledged unstored. (The head may hold the
 * refused samples until then; it stores a timestamp once, so the retry
 * adds nothing twice.)
 */
static void handle_break(struct vg_ingest *ing)
{
	struct vg_err e;

	ing->is_break_handled = true;
	ing->floor_a_ticket = ing->floor_b_ticket = 0;
	for (size_t i = 0; i < ing->agents_cap; i++)
		ing->agents[i].last_seq = ing->agents[i].durable_seq;
	if (ing->wal && vg_wal_failure(ing->wal, &e))
		snprintf(ing->wal_reason, sizeof(ing->wal_reason), "%s", e.msg);
	if (ing->wal) {
		struct vg_wal_stats ws;
		vg_wal_stats(ing->wal, &ws);
		atomic_store_explicit(&ing->stats->wal_sync_errors, ws.write_failures, memory_order_relaxed);
	}
	atomic_store_explicit(&ing->stats->wal_failing, 1, memory_order_relaxed);
	vg_log_complain(&ing->wal_complaint, VG_LOG_ERROR,
			"%s; refusing agents' batches until the disk takes writes again%s",
			ing->wal_reason[0] ? ing->wal_reason : "WAL write failed",
			ing->is_fatal ? " (needs a restart: the head and the WAL disagree)" : "");
	resume_later(ing);
}

/* Group commit: one commit for every batch appended in this round. The
 * round's connections and submitted batches wait for its ticket. */
static void sync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_ingest *ing = arg;
	struct vg_submit_batch *b, *bnext;
	struct conn *c, *next;
	char msg[VG_ERR_MSG_MAX];
	uint64_t t;

	(void)fd;
	(void)what;
	if (ing->sync_list == NULL && ing->submit_waiting == NULL)
		return;
	t = ing->is_wal_broken ? 0 : vg_wal_commit(ing->wal);
	if (t == 0) {
		wal_failed(ing, NULL);
		refuse_msg(ing, msg, sizeof(msg));
	} else {
		floor_note(ing, t);
	}
	{
		struct vg_wal_stats ws;
		vg_wal_stats(ing->wal, &ws);
		atomic_fetch_add_explicit(&ing->stats->wal_bytes, ws.appended_bytes - ing->wal_bytes_seen,
					  memory_order_relaxed);
		ing->wal_bytes_seen = ws.appended_bytes;
		atomic_store_explicit(&ing->stats->wal_sync_errors, ws.write_failures, memory_order_relaxed);
	}
	/* Detach the list first: conn_fail may free connections. */
	c = ing->sync_list;
	ing->sync_list = NULL;
	for (; c; c = next) {
		next = c->sync_next;
		c->is_waiting_sync = false;
		c->sync_next = NULL;
		if (t == 0) {
			conn_fail(c, c->ack_seq, VG_EIO, msg);
			continue;
		}
		pending_add(c, t, c->ack_seq);
	}
	b = ing->submit_waiting;
	ing->submit_waiting = NULL;
	ing->submit_tail = &ing->submit_waiting;
	for (; b; b = bnext) {
		bnext = b->next;
		b->next = NULL;
		if (t == 0) {
			submit_complete(b, VG_EIO, msg);
			continue;
		}
		/* In commit order, so tickets only grow along the list. */
		b->wal_ticket = t;
		*ing->submit_pending_tail = b;
		ing->submit_pending_tail = &b->next;
	}
}

/* The WAL's writer thread: record the outcome, wake the loop. */
static void on_durable(void *arg, uint64_t ticket, int rc)
{
	struct vg_ingest *ing = arg;
	_Atomic uint64_t *slot = rc != 0 ? &ing->failed_ticket : &ing->durable_ticket;
	uint64_t d = atomic_load(slot);

	while (d < ticket && !atomic_compare_exchange_weak(slot, &d, ticket))
		;
	if (rc == 0)
		atomic_fetch_add_explicit(&ing->stats->wal_syncs, 1, memory_order_relaxed);
	event_active(ing->durable_ev, EV_TIMEOUT, 0);
}

/* The one place where a commit's outcome reaches its waiters: connections
 * get their ACK (or an ERROR when the WAL broke), submitted batches their
 * completion. A ticket up to the durable one is durable (the writer
 * reports in order, and a failure ends the generation whose tickets are
 * pending: after a break every pending ticket above the durable one has
 * failed, and only a resume, after this has run, makes new ones). */
static void durable_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_ingest *ing = arg;
	uint64_t d = atomic_load(&ing->durable_ticket); /* before failed_ticket: */
	uint64_t f = atomic_load(&ing->failed_ticket);  /* the writer stores them the other way */
	struct vg_submit_batch *b;
	struct conn *c, *next;
	char msg[VG_ERR_MSG_MAX];
	bool is_breaking;

	(void)fd;
	(void)what;
	if (f > ing->failed_handled) {
		ing->failed_handled = f;
		wal_failed(ing, NULL);
	}
	is_breaking = ing->is_wal_broken && !ing->is_break_handled;
	if (is_breaking)
		refuse_msg(ing, msg, sizeof(msg));
	else
		floor_advance(ing, d);
	for (c = ing->pending; c; c = next) {
		next = c->pend_next;
		if (c->a_ticket <= d) {
			uint64_t seq = c->a_seq;

			if (c->b_ticket && c->b_ticket <= d) {
				seq = c->b_seq;
				c->b_ticket = 0;
			}
			conn_send(c, VG_FRAME_ACK, seq, NULL);
			agent_acked(ing, c, seq);
			atomic_fetch_add_explicit(&ing->stats->acks_sent, 1, memory_order_relaxed);
			if (c->b_ticket) {
				c->a_ticket = c->b_ticket;
				c->a_seq = c->b_seq;
				c->b_ticket = 0;
			} else {
				pending_remove(c);
			}
		}
		if (c->is_pending && is_breaking) {
			uint64_t seq = c->a_seq;
			pending_remove(c);
			conn_fail(c, seq, VG_EIO, msg);
		}
	}
	while ((b = ing->submit_pending) != NULL && (b->wal_ticket <= d || is_breaking)) {
		ing->submit_pending = b->next;
		if (ing->submit_pending == NULL)
			ing->submit_pending_tail = &ing->submit_pending;
		b->next = NULL;
		if (b->wal_ticket <= d)
			submit_complete(b, 0, "");
		else
			submit_complete(b, VG_EIO, msg);
	}
	if (is_breaking)
		handle_break(ing);
}

/* While broken: is the WAL back? Then append again the SERIES records that
 * may not be durable (ids from floor_id on: replay must know every id a
 * later record uses) and take batches again. */
static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_ingest *ing = arg;
	uint64_t failed_through = 0, t;
	struct vg_err err;
	uint32_t n;

	(void)fd;
	(void)what;
	if (!ing->is_wal_broken || ing->is_fatal || ing->wal == NULL)
		return;
	if (!ing->is_break_handled) {
		durable_cb(-1, 0, ing);
		return; /* it scheduled the next try */
	}
	/* What this round stored went with the WAL's buffer: refuse it. */
	sync_cb(-1, 0, ing);
	if (vg_wal_resume(ing->wal, &failed_through, &err) != 0) {
		snprintf(ing->wal_reason, sizeof(ing->wal_reason), "%s", err.msg);
		resume_later(ing);
		return;
	}
	if (failed_through > ing->failed_handled)
		ing->failed_handled = failed_through;
	n = vg_head_next_id(ing->head);
	if (append_series_records(ing, ing->floor_id, n, &err) != 0) {
		/* Broken again: wait for the next recovery. */
		snprintf(ing->wal_reason, sizeof(ing->wal_reason), "%s", err.msg);
		resume_later(ing);
		return;
	}
	if ((t = vg_wal_commit(ing->wal)) == 0) {
		resume_later(ing);
		return;
	}
	floor_note(ing, t);
	ing->is_wal_broken = false;
	ing->is_break_handled = false;
	ing->wal_reason[0] = '\0';
	atomic_store_explicit(&ing->stats->wal_failing, 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&ing->stats->wal_recoveries, 1, memory_order_relaxed);
	{
		struct vg_wal_stats ws;
		vg_wal_stats(ing->wal, &ws);
		vg_log_relief(&ing->wal_complaint, "WAL writes work again (segment %08u); taking batches",
			      (unsigned)ws.last_segment);
	}
}

uint64_t vg_ingest_agent_hash(const void *agent, size_t len)
{
	uint64_t h = XXH3_64bits(agent, len);

	return h ? h : 1; /* 0 marks records that no agent sent */
}

static int handle_hello(struct conn *c, const struct vg_frame_header *h, const uint8_t *raw,
			size_t len, struct vg_err *err)
{
	struct vg_ingest *ing = c->ing;
	struct vg_hello hello;
	struct agent_entry *e;
	const char *token = ing->opts.token;
	int rc;

	struct timeval idle = { ing->opts.idle_timeout_ms / 1000, (ing->opts.idle_timeout_ms % 1000) * 1000 };

	if (c->state != AWAIT_HELLO)
		return vg_err_set(err, VG_EPROTO, "HELLO sent twice");
	/* Refused up front, so agents back off instead of sending batches
	 * that cannot be stored. */
	if (ing->is_wal_broken)
		return refuse(ing, err);
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
	free(c->agent);
	if ((c->agent = malloc(hello.agent.len + 1)) == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	memcpy(c->agent, hello.agent.p, hello.agent.len);
	c->agent[hello.agent.len] = '\0';
	c->agent_hash = vg_ingest_agent_hash(hello.agent.p, hello.agent.len);
	c->epoch = hello.epoch;
	c->state = READY;
	c->limits_agent = vg_limits_agent(ing->limits, c->agent_hash, c->agent);
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
		if (rc == VG_EIO) {
			wal_failed(ing, err);
			return refuse(ing, err);
		}
		return rc;
	}
	rc = vg_head_get_or_create(ing->head, s, hash, id, &is_new);
	if (rc != 0 || !is_new || *id != next) {
		/* The WAL now names id next for this key; another series
		 * must not get that id. Stop taking data until restart. */
		ing->is_fatal = true;
		wal_failed(ing, NULL);
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
	rc = vg_head_lookup(ing->head, s, vg_series_hash(s), &id);
	/* A new ref, a refused one defined again, or an admitted one defined
	 * again as a series the head does not have: the cardinality guard
	 * decides. The last counts as one more active series of the agent,
	 * as a new ref does: its old series stays in the head, so a client
	 * redefining one ref over and over is bounded by the same limits
	 * (what a connection has admitted counts until it ends). A refused
	 * one is remembered as such and the rest of the frame goes on. */
	if (rc == 0 || rc == VG_ENOENT) {
		bool is_new_ref = ref == c->n_refs || REF_IS_REFUSED(c->ref_ids[ref]);
		bool is_counted = is_new_ref || rc == VG_ENOENT;
		if (is_counted) {
			enum vg_limit which = vg_limits_admit(ing->limits, c->limits_agent, rc == VG_ENOENT, is_counted,
							      vg_head_num_series(ing->head), c->series_now_ms);
			if (which != VG_LIMIT_NONE) {
				/* A redefined ref's old series stays counted
				 * until the connection ends (n_admitted). */
				c->refused_n++;
				c->refused_which = which;
				id = REF_REFUSED(which);
				goto add_ref;
			}
			c->n_admitted++;
		}
	}
	if (rc != 0 && rc != VG_ENOENT)
		return vg_err_set(err, rc, "cannot look up a series: %s", vg_strerror(rc));
	if ((rc = create_series(ing, s, vg_series_hash(s), &id, &is_created, err)) != 0)
		return rc;
add_ref:
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
		if (rc == VG_EIO) {
			wal_failed(ing, err);
			return refuse(ing, err);
		}
		return rc;
	}
	if (rec->agent_hash != 0)
		agent_mark(ing, rec->agent_hash, rec->epoch, rec->seq);
	if ((rc = vg_head_append(ing->head, rec->n, rec->ids, rec->ts_ms, rec->values)) != 0)
		return vg_err_set(err, rc, "cannot store samples: %s", vg_strerror(rc));
	atomic_fetch_add_explicit(&ing->stats->samples_received, rec->n, memory_order_relaxed);
	return 0;
}

/* Room for n ids in a scratch array of this thread; VG_ENOMEM. */
static int grow_ids(uint32_t **ids, size_t *cap, size_t n)
{
	uint32_t *p;

	if (n <= *cap)
		return 0;
	p = realloc(*ids, n * sizeof(*p));
	if (p == NULL)
		return VG_ENOMEM;
	*ids = p;
	*cap = n;
	return 0;
}

/*
 * Drops, in place, the samples outside what storage takes: more than
 * VG_INGEST_MAX_FUTURE_MS ahead of this receiver's clock, or (when
 * max_age_ms > 0: agents' batches; imports are history and exempt) older
 * than now - max_age_ms. Counted; the rest of the batch is stored, and an
 * agent's batch is acknowledged as usual, so a host with a wrong clock is
 * not made to retry forever. Returns the samples kept.
 */
static size_t drop_out_of_window(struct vg_ingest *ing, uint32_t *ids, int64_t *ts, double *vals,
				 size_t n, int64_t max_age_ms)
{
	int64_t now = vg_clock_now(ing->opts.clock), newest = now + VG_INGEST_MAX_FUTURE_MS;
	int64_t oldest = max_age_ms > 0 ? now - max_age_ms : INT64_MIN;
	uint64_t too_old = 0, too_new = 0;
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		if (ts[i] > newest) {
			too_new++;
			continue;
		}
		if (ts[i] < oldest) {
			too_old++;
			continue;
		}
		ids[out] = ids[i];
		ts[out] = ts[i];
		vals[out] = vals[i];
		out++;
	}
	if (too_old)
		atomic_fetch_add_explicit(&ing->stats->samples_too_old, too_old, memory_order_relaxed);
	if (too_new)
		atomic_fetch_add_explicit(&ing->stats->samples_too_new, too_new, memory_order_relaxed);
	return out;
}

/* Samples of an agent's batch not stored: a limit refused their series,
 * or the WAL could not take the batch (the agent keeps it and retries). */
static void refused_count(struct vg_ingest *ing, uint64_t n)
{
	if (n)
		atomic_fetch_add_explicit(&ing->stats->samples_refused, n, memory_order_relaxed);
}

/* A batch of this agent was accepted: the agent is alive (lastseen.h). */
static void seen(struct conn *c)
{
	if (c->ing->opts.last_seen)
		vg_lastseen_note(c->ing->opts.last_seen, c->agent_hash, c->agent, vg_clock_now(c->ing->opts.clock));
}

static int handle_samples(struct conn *c, const struct vg_frame_header *h, const uint8_t *raw,
			  size_t len, struct vg_err *err)
{
	struct vg_ingest *ing = c->ing;
	struct vg_sample_batch *b = &ing->batch;
	struct vg_wal_samples rec;
	size_t kept = 0;
	int rc;

	if (h->seq == 0)
		return vg_err_set(err, VG_EPROTO, "SAMPLES frame without a sequence number");
	/* Protocol 2 decodes every batch, retries too: its deltas build on
	 * the one before. */
	rc = c->s2 ? vg_samples2_decode(c->s2, raw, len, c->n_refs, b, err)
		   : vg_samples_decode(raw, len, b, err);
	if (rc != 0)
		return rc;
	if (grow_ids(&ing->ids, &ing->cap_ids, b->n) != 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	for (size_t i = 0; i < b->n; i++) {
		if (b->refs[i] >= c->n_refs)
			return vg_err_set(err, VG_ENOENT, "SAMPLES seq %llu uses ref %llu, which no SERIES frame defined",
					  (unsigned long long)h->seq, (unsigned long long)b->refs[i]);
		ing->ids[kept] = c->ref_ids[b->refs[i]];
		if (REF_IS_REFUSED(ing->ids[kept])) {
			/* Protocol 2 stores the rest and says so in the ACK. */
			if (c->proto < VG_PROTO_V2)
				return vg_err_set(err, VG_ELIMIT, "SAMPLES seq %llu uses ref %llu, whose series was refused",
						  (unsigned long long)h->seq, (unsigned long long)b->refs[i]);
			c->ack_refused_samples++;
			c->ack_limit = REF_REFUSED_BY(ing->ids[kept]);
			refused_count(ing, 1);
			continue;
		}
		b->refs[kept] = b->refs[i];
		b->ts_ms[kept] = b->ts_ms[i];
		b->values[kept] = b->values[i];
		kept++;
	}
	b->n = kept;
	if (ing->is_wal_broken) {
		refused_count(ing, b->n);
		return refuse(ing, err);
	}
	if (agent_has(ing, c->agent_hash, c->epoch, h->seq)) {
		/* A retry of a batch already written: acknowledge it again once
		 * a sync has covered the original. */
		atomic_fetch_add_explicit(&ing->stats->samples_duplicate, b->n, memory_order_relaxed);
		want_sync(c, h->seq);
		seen(c);
		return 0;
	}
	b->n = drop_out_of_window(ing, ing->ids, b->ts_ms, b->values, b->n, ing->opts.max_sample_age_ms);
	rec = (struct vg_wal_samples){ c->agent_hash, c->epoch, h->seq, b->n, ing->ids, b->ts_ms, b->values };
	if ((rc = store_samples(ing, &rec, err)) != 0) {
		refused_count(ing, b->n);
		return rc;
	}
	want_sync(c, h->seq);
	seen(c);
	return 0;
}

/* --- batches from other threads (submit.h) ------------------------------ */

/* Stores one submitted batch as SERIES and SAMPLES frames would be. */
static int store_batch(struct vg_ingest *ing, struct vg_submit_batch *b, struct vg_err *err)
{
	struct vg_wal_samples rec;
	int rc;

	if (ing->wal == NULL || ing->is_wal_broken)
		return refuse(ing, err);
	if (grow_ids(&ing->series_ids, &ing->cap_series_ids, b->n_series) != 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	if (grow_ids(&ing->ids, &ing->cap_ids, b->n) != 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
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
	b->n = drop_out_of_window(ing, ing->ids, b->ts_ms, b->values, b->n, 0);
	if (b->n == 0)
		return 0;
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

/*
 * A SERIES frame: every series defined, each new ref through the guard.
 * What the guard refused is counted for the agent; protocol v1 has no way
 * to say "stored but for these", so the agent is told with an ERROR, as
 * before the guard existed; protocol 2 keeps the connection, stores the
 * rest of every batch and says in the next ACK how many samples and
 * series which limit kept out.
 */
static int handle_series(struct conn *c, const uint8_t *raw, size_t len, struct vg_err *err)
{
	struct vg_ingest *ing = c->ing;
	int rc;

	c->refused_n = 0;
	/* One reading per frame: a driven clock is a file (clock.h). */
	c->series_now_ms = vg_clock_mono(ing->opts.clock);
	rc = vg_series_decode(raw, len, define_series, c, err);
	if (c->refused_n > 0) {
		vg_limits_refused(ing->limits, c->limits_agent, c->refused_which, c->refused_n,
				  c->series_now_ms);
		atomic_fetch_add_explicit(&ing->stats->series_refused, c->refused_n, memory_order_relaxed);
		if (c->proto >= VG_PROTO_V2) {
			c->ack_refused_series += c->refused_n;
			c->ack_limit = c->refused_which;
		} else if (rc == 0) {
			rc = vg_err_set(err, VG_ELIMIT, "%llu series refused by the receiver's %s limit",
					(unsigned long long)c->refused_n, vg_limit_name(c->refused_which));
		}
	}
	return rc;
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
		return handle_series(c, raw, len, err);
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

/* Handles every whole frame buffered; false when the connection failed
 * (it may be freed already). */
static bool read_frames(struct conn *c)
{
	struct vg_ingest *ing = c->ing;
	struct evbuffer *in = bufferevent_get_input(c->bev);

	while (c->state != CLOSING) {
		size_t avail = evbuffer_get_length(in);
		uint8_t hdr[VG_FRAME_HEADER_SIZE];
		struct vg_frame_header h;
		struct vg_err err;
		const uint8_t *frame;
		int rc;

		if (avail < VG_FRAME_HEADER_SIZE)
			return true;
		evbuffer_copyout(in, hdr, sizeof(hdr));
		if ((rc = vg_frame_header_decode(hdr, &h, &err)) != 0) {
			/* A frame of a type this side does not know is still a
			 * frame received ("unknown" in /metrics). */
			if (memcmp(hdr, "VGIL", 4) == 0 && (hdr[5] < VG_FRAME_HELLO || hdr[5] > VG_FRAME_ERROR))
				atomic_fetch_add_explicit(&ing->stats->frames_received[0], 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&ing->stats->decode_errors, 1, memory_order_relaxed);
			conn_fail(c, 0, rc, err.msg);
			return false;
		}
		if (c->state == AWAIT_HELLO && (h.type != VG_FRAME_HELLO || h.payload_len > ing->opts.hello_buffer)) {
			atomic_fetch_add_explicit(&ing->stats->decode_errors, 1, memory_order_relaxed);
			conn_fail(c, h.seq, h.type != VG_FRAME_HELLO ? VG_EPROTO : VG_ELIMIT,
				  h.type != VG_FRAME_HELLO ? "the first frame must be HELLO"
							   : "HELLO frame too large");
			return false;
		}
		/* Until HELLO, answer in the version the agent spoke. */
		if (c->state == AWAIT_HELLO)
			c->proto = h.version;
		if (avail < VG_FRAME_HEADER_SIZE + (size_t)h.payload_len)
			return true; /* the rest of the frame has not arrived yet */
		frame = evbuffer_pullup(in, VG_FRAME_HEADER_SIZE + (ssize_t)h.payload_len);
		if (frame == NULL) {
			conn_fail(c, h.seq, VG_ENOMEM, "out of memory reading a frame");
			return false;
		}
		atomic_fetch_add_explicit(&ing->stats->bytes_received, VG_FRAME_HEADER_SIZE + h.payload_len,
					  memory_order_relaxed);
		rc = handle_frame(c, &h, frame + VG_FRAME_HEADER_SIZE, &err);
		evbuffer_drain(in, VG_FRAME_HEADER_SIZE + (size_t)h.payload_len);
		if (rc != 0) {
			if (rc != VG_EIO && rc != VG_ENOMEM)
				atomic_fetch_add_explicit(&ing->stats->decode_errors, 1, memory_order_relaxed);
			conn_fail(c, h.seq, rc, err.msg);
			return false;
		}
	}
	return false;
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (read_frames(c) && budget_update(c) && c->ing->wait_head)
		budget_resume(c->ing);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	struct vg_ingest *ing = c->ing;

	if (what & BEV_EVENT_CONNECTED)
		return; /* a TLS handshake completed: HELLO may come */
	if (c->state == AWAIT_HELLO) {
		char why[300] = "";
		atomic_fetch_add_explicit(&ing->stats->connections_closed[VG_TALLY_NO_HELLO], 1, memory_order_relaxed);
		/* A plain-text client on a TLS listener, a bad client certificate. */
		if (ing->tls && (what & BEV_EVENT_ERROR))
			vg_tls_server_describe(bev, why, sizeof(why));
		vg_tally_note(&ing->tally, VG_TALLY_NO_HELLO, VG_LOG_INFO, "agent connection %s %s%s%s; closing it",
			      c->peer, what & BEV_EVENT_TIMEOUT ? "sent no HELLO in time" : "closed before HELLO",
			      why[0] ? ": " : "", why);
	} else if (what & BEV_EVENT_TIMEOUT) {
		atomic_fetch_add_explicit(&ing->stats->connections_closed[VG_TALLY_IDLE], 1, memory_order_relaxed);
		vg_tally_note(&ing->tally, VG_TALLY_IDLE, VG_LOG_INFO, "agent connection %s%s%s idle for %lld s; closing it",
			      c->peer, c->agent && c->agent[0] ? " agent " : "", c->agent ? c->agent : "",
			      (long long)(ing->opts.idle_timeout_ms / 1000));
	} else if (what & BEV_EVENT_ERROR)
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
	struct timeval hello_wait = { ing->opts.hello_timeout_ms / 1000, (ing->opts.hello_timeout_ms % 1000) * 1000 };
	struct conn *c;

	(void)l;
	(void)salen;
	if (ing->n_conns >= ing->opts.max_connections) {
		atomic_fetch_add_explicit(&ing->stats->connections_refused, 1, memory_order_relaxed);
		vg_log_complain(&ing->full_complaint, VG_LOG_WARN, "refusing agent connections: %llu open, the limit (max_connections)",
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
	c->bev = ing->tls ? vg_tls_server_bufferevent(ing->tls, ing->base, fd)
			  : bufferevent_socket_new(ing->base, fd, BEV_OPT_CLOSE_ON_FREE);
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
	bufferevent_setwatermark(c->bev, EV_READ, 0, VG_FRAME_HEADER_SIZE + ing->opts.hello_buffer);
	if (vg_budget_has_room(&ing->budget))
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	else
		budget_pause(c);
}

/* At the fd limit (EMFILE, ENFILE) or short of kernel memory accept()
 * fails while the listening socket stays readable: retried at once, it
 * would spin a core. So the listener pauses for ACCEPT_PAUSE_MS, counted
 * in /metrics, with one rate-limited line; connections wait in the
 * backlog meanwhile and are taken once descriptors are free again. */
static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct vg_ingest *ing = arg;
	int e = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };

	atomic_fetch_add_explicit(&ing->stats->accept_pauses[VG_LISTENER_AGENT], 1, memory_order_relaxed);
	vg_log_complain(&ing->accept_complaint, VG_LOG_ERROR,
			"accepting agent connections: %s; pausing the listener",
			evutil_socket_error_to_string(e));
	evconnlistener_disable(l);
	evtimer_add(ing->accept_retry_ev, &tv);
}

/* Every second: close connections whose granted frame is overdue, and
 * let the tally summarise. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_ingest *ing = arg;
	int64_t now = vg_clock_mono_ms();
	struct conn *c, *next;

	(void)fd;
	(void)what;
	for (c = ing->conns; c; c = next) {
		next = c->next;
		if (c->grant > 0 && c->state == READY && now - c->grant_start_ms >= ing->opts.frame_timeout_ms)
			conn_fail_as(c, VG_TALLY_FRAME_TIMEOUT, 0, VG_ELIMIT,
				     "a large frame did not arrive within agent_frame_timeout");
	}
	vg_tally_flush(&ing->tally, now);
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_ingest *ing = arg;

	(void)fd;
	(void)what;
	if (ing->listener)
		evconnlistener_enable(ing->listener);
}

/* --- sealing: step 1 of seal.h -------------------------------------------- */

int vg_ingest_freeze(struct vg_ingest *ing, uint32_t *wal_segno, struct vg_err *err)
{
	uint32_t n;
	int rc;

	if (ing->wal == NULL || ing->is_wal_broken)
		return refuse(ing, err);
	/* The round in flight first, so its batches are below the cut. */
	sync_cb(-1, 0, ing);
	if ((rc = vg_wal_roll(ing->wal, wal_segno, err)) != 0) {
		if (rc == VG_EIO)
			wal_failed(ing, err);
		return rc;
	}
	if ((rc = vg_head_freeze(ing->head)) != 0)
		return vg_err_set(err, rc, "freezing the head: %s", vg_strerror(rc));
	/* The checkpoint: what replay needs of the segments about to go, every
	 * series under its id and the retry table, as ordinary records. */
	n = vg_head_next_id(ing->head);
	if ((rc = append_series_records(ing, 0, n, err)) != 0)
		goto fail;
	for (size_t i = 0; i < ing->agents_cap; i++) {
		const struct agent_entry *e = &ing->agents[i];
		struct vg_wal_samples mark = { e->agent_hash, e->epoch, e->last_seq, 0, NULL, NULL, NULL };

		if (e->agent_hash != 0 && (rc = vg_wal_append_samples(ing->wal, &mark, err)) != 0)
			goto fail;
	}
	/* Durable before the segments below *wal_segno may be deleted. */
	if ((rc = vg_wal_sync(ing->wal, err)) != 0)
		goto fail;
	return 0;
fail:
	if (rc == VG_EIO)
		wal_failed(ing, err);
	return rc;
}

/* The sealer's thread asks; this loop does it, between two events. */
static void freeze_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_ingest *ing = arg;
	struct vg_err err;
	uint32_t segno = 0;
	int rc;

	(void)fd;
	(void)what;
	err.msg[0] = '\0';
	rc = vg_ingest_freeze(ing, &segno, &err);
	pthread_mutex_lock(&ing->freeze_mu);
	ing->freeze_rc = rc;
	ing->freeze_segno = segno;
	memcpy(ing->freeze_msg, err.msg, sizeof(ing->freeze_msg));
	ing->is_freeze_done = true;
	pthread_cond_broadcast(&ing->freeze_cv);
	pthread_mutex_unlock(&ing->freeze_mu);
}

int vg_ingest_freeze_wait(void *arg, uint32_t *wal_segno, struct vg_err *err)
{
	struct vg_ingest *ing = arg;
	int rc;

	pthread_mutex_lock(&ing->freeze_mu);
	if (ing->is_stopping) {
		pthread_mutex_unlock(&ing->freeze_mu);
		return vg_err_set(err, VG_EINVAL, "the receiver is stopping");
	}
	ing->is_freeze_done = false;
	event_active(ing->freeze_ev, EV_TIMEOUT, 0);
	while (!ing->is_freeze_done && !ing->is_stopping)
		pthread_cond_wait(&ing->freeze_cv, &ing->freeze_mu);
	if (!ing->is_freeze_done) {
		pthread_mutex_unlock(&ing->freeze_mu);
		return vg_err_set(err, VG_EINVAL, "the receiver is stopping");
	}
	rc = ing->freeze_rc;
	*wal_segno = ing->freeze_segno;
	if (rc != 0)
		vg_err_set(err, rc, "%s", ing->freeze_msg);
	pthread_mutex_unlock(&ing->freeze_mu);
	return rc;
}

void vg_ingest_stop_freezes(struct vg_ingest *ing)
{
	pthread_mutex_lock(&ing->freeze_mu);
	ing->is_stopping = true;
	pthread_cond_broadcast(&ing->freeze_cv);
	pthread_mutex_unlock(&ing->freeze_mu);
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
#define OR_DEFAULT(field, def) if (ing->opts.field == 0) ing->opts.field = def
	OR_DEFAULT(buffer_budget, DEFAULT_BUFFER_BUDGET);
	OR_DEFAULT(conn_buffer, DEFAULT_CONN_BUFFER);
	OR_DEFAULT(hello_buffer, DEFAULT_HELLO_BUFFER);
	OR_DEFAULT(hello_timeout_ms, DEFAULT_HELLO_TIMEOUT_MS);
	OR_DEFAULT(idle_timeout_ms, DEFAULT_IDLE_TIMEOUT_MS);
	OR_DEFAULT(frame_timeout_ms, DEFAULT_FRAME_TIMEOUT_MS);
#undef OR_DEFAULT
	vg_budget_init(&ing->budget, ing->opts.buffer_budget);
	vg_tally_init(&ing->tally, TALLY_INTERVAL_MS);
	if (opts->limits != NULL) {
		ing->limits = opts->limits;
	} else {
		struct vg_limits_options lo = { opts->max_series, opts->max_series_per_agent,
						opts->max_new_series_per_minute };
		if (vg_limits_new(&lo, &ing->limits, err) != 0) {
			free(ing);
			return VG_ENOMEM;
		}
		ing->has_own_limits = true;
	}
	ing->codec = vg_frame_codec_new(1);
	ing->sync_ev = event_new(ing->base, -1, 0, sync_cb, ing);
	ing->durable_ev = event_new(ing->base, -1, 0, durable_cb, ing);
	ing->resume_ev = evtimer_new(ing->base, resume_cb, ing);
	ing->freeze_ev = event_new(ing->base, -1, 0, freeze_cb, ing);
	pthread_mutex_init(&ing->freeze_mu, NULL);
	pthread_cond_init(&ing->freeze_cv, NULL);
	ing->accept_retry_ev = evtimer_new(ing->base, accept_retry_cb, ing);
	ing->tick_ev = event_new(ing->base, -1, EV_PERSIST, tick_cb, ing);
	if (ing->codec == NULL || ing->sync_ev == NULL || ing->durable_ev == NULL || ing->resume_ev == NULL ||
	    ing->freeze_ev == NULL || ing->accept_retry_ev == NULL || ing->tick_ev == NULL) {
		vg_ingest_free(ing);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	vg_sample_batch_init(&ing->batch);
	vg_buf_init(&ing->key);
	vg_buf_init(&ing->out);
	ing->submit = opts->submit;
	ing->submit_tail = &ing->submit_waiting;
	ing->submit_pending_tail = &ing->submit_pending;
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
	ing->floor_id = vg_head_next_id(ing->head); /* replayed: on disk */
	if (ing->opts.tls_cert_file &&
	    (rc = vg_tls_server_new(ing->opts.tls_cert_file, ing->opts.tls_key_file, ing->opts.tls_client_ca_file,
				    &ing->tls, err)) != 0)
		return rc;
	if ((rc = vg_wal_start_writer(wal, on_durable, ing, err)) != 0)
		return rc;
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
		struct timeval second = { 1, 0 };
		event_add(ing->tick_ev, &second);
	}
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
	 * later submit refused. Then acknowledge what is durable-to-be before
	 * the connections go: commit the round, let the writer finish (after
	 * that it calls nothing of ours), and send the ACKs and completions it
	 * earned. */
	if (ing->submit) {
		take_batches(ing, vg_submit_close(ing->submit));
		vg_submit_set_consumer(ing->submit, NULL, NULL);
	}
	if (ing->wal) {
		if (ing->sync_list || ing->submit_waiting)
			sync_cb(-1, 0, ing);
		vg_wal_stop_writer(ing->wal);
		durable_cb(-1, 0, ing);
	}
	while (ing->conns) {
		struct conn *c = ing->conns;
		/* Push out pending ACKs, best effort: the socket is
		 * non-blocking and closed right after. (Not under TLS: the
		 * buffer holds plain text; the agent resends, ingest dedups.) */
		if (ing->tls == NULL)
			evbuffer_write(bufferevent_get_output(c->bev), bufferevent_getfd(c->bev));
		conn_free(c);
	}
	if (ing->sync_ev)
		event_free(ing->sync_ev);
	if (ing->durable_ev)
		event_free(ing->durable_ev);
	if (ing->resume_ev)
		event_free(ing->resume_ev);
	if (ing->freeze_ev)
		event_free(ing->freeze_ev);
	pthread_mutex_destroy(&ing->freeze_mu);
	pthread_cond_destroy(&ing->freeze_cv);
	if (ing->accept_retry_ev)
		event_free(ing->accept_retry_ev);
	if (ing->tick_ev)
		event_free(ing->tick_ev);
	if (ing->has_own_limits)
		vg_limits_free(ing->limits);
	vg_tls_server_free(ing->tls);
	vg_frame_codec_free(ing->codec);
	vg_sample_batch_release(&ing->batch);
	free(ing->ids);
	free(ing->series_ids);
	vg_buf_release(&ing->key);
	vg_buf_release(&ing->out);
	free(ing->agents);
	free(ing);
}
