/*
 * sender.c: the agent's connection to a receiver (see sender.h for the
 * protocol it speaks and the guarantees it keeps).
 *
 * State kept here, and why:
 *  - the dictionary: every series the agent ever sampled, as its key, its
 *    hash and its ref (= index). Keys are kept so each new connection can
 *    define every ref again; the receiver's dictionary is per connection.
 *  - the queue: encoded SAMPLES frames, oldest first, each with its seq and
 *    the number of refs it needs defined. Frames are encoded once; a resend
 *    writes the same bytes.
 *  - per connection: how many refs are defined on it (defined_refs), and
 *    the seq of the last batch written to it (sent_seq).
 *
 * Invariant: a batch leaves the queue only on an ACK covering its seq, or
 * on overflow or refusal, both counted in the stats.
 *
 * Name resolution is a blocking getaddrinfo at each connect attempt: a
 * receiver address is usually an IP or a name in /etc/hosts; a later issue
 * moves discovery to etcd and the hash ring.
 */
#include "agent/sender.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/mpack.h"

#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/banned.h"

#define BACKOFF_MIN_MS 500
/* Keep at most this much in the socket's output buffer; the rest waits in
 * the queue, so the queue's byte limit holds for everything unacked. */
#define OUTPUT_HIGH_BYTES (1u << 20)
#define OUTPUT_LOW_BYTES (256u << 10)
/* SERIES entries per frame when defining many refs at once. */
#define SERIES_PER_FRAME 5000

struct qbatch {
	struct qbatch *next;
	uint64_t seq;
	uint32_t n_refs;   /* refs [0, n_refs) must be defined before it */
	size_t n_samples;
	size_t len;
	uint8_t frame[];
};

enum conn_state { DISCONNECTED, CONNECTING, CONNECTED };

struct vg_sender {
	struct vg_sender_options opts;
	char *host, *agent, *token;
	struct event_base *base;
	struct vg_frame_codec *codec;
	uint64_t epoch;
	uint64_t next_seq;

	/* dictionary */
	struct vg_buf keys;        /* all keys, back to back */
	size_t *key_off;           /* ref -> offset in keys; key_off[n] = end */
	uint64_t *ref_hash;        /* ref -> hash */
	uint32_t n_refs, cap_refs;
	uint32_t *table;           /* open addressing: ref + 1, 0 = empty */
	size_t table_cap;

	/* queue */
	struct qbatch *q_head, *q_tail;
	uint64_t q_bytes, q_len;

	/* connection */
	enum conn_state state;
	struct bufferevent *bev;
	struct event *retry_ev;
	struct event *ack_ev;
	uint32_t defined_refs;
	uint64_t sent_seq;
	unsigned attempts;
	bool has_acked;            /* this connection has seen an ACK */

	struct vg_buf raw, out;
	struct vg_complaint complaint;
	struct vg_sender_stats stats;
};

static void connect_now(struct vg_sender *s);
static void pump(struct vg_sender *s);

static uint64_t random_u64(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint64_t)vg_clock_now_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
	return v;
}

/* --- dictionary --------------------------------------------------------- */

static int table_grow(struct vg_sender *s)
{
	size_t cap = s->table_cap ? s->table_cap * 2 : 1024;
	uint32_t *t = calloc(cap, sizeof(*t));

	if (t == NULL)
		return VG_ENOMEM;
	for (uint32_t ref = 0; ref < s->n_refs; ref++) {
		size_t i = s->ref_hash[ref] & (cap - 1);
		while (t[i])
			i = (i + 1) & (cap - 1);
		t[i] = ref + 1;
	}
	free(s->table);
	s->table = t;
	s->table_cap = cap;
	return 0;
}

int vg_sender_ref(struct vg_sender *s, const struct vg_series *series, uint64_t hash, uint32_t *ref)
{
	size_t start = s->keys.len, i;

	/* The key is needed to compare on a hash match and to store. */
	vg_series_key(series, &s->keys);
	if (vg_buf_failed(&s->keys))
		return VG_ENOMEM;
	if ((s->n_refs + 1) * 2 > s->table_cap && table_grow(s) != 0)
		goto fail;
	for (i = hash & (s->table_cap - 1); s->table[i]; i = (i + 1) & (s->table_cap - 1)) {
		uint32_t r = s->table[i] - 1;
		size_t off = s->key_off[r], len = s->key_off[r + 1] - off;
		if (s->ref_hash[r] == hash && len == s->keys.len - start &&
		    memcmp(s->keys.data + off, s->keys.data + start, len) == 0) {
			s->keys.len = start; /* known: drop the copy */
			*ref = r;
			return 0;
		}
	}
	if (s->n_refs >= VG_FRAME_MAX_REF)
		goto fail;
	if (s->n_refs + 1 >= s->cap_refs) {
		uint32_t cap = s->cap_refs ? s->cap_refs * 2 : 256;
		size_t *ko = realloc(s->key_off, (cap + 1) * sizeof(*ko));
		if (ko == NULL)
			goto fail;
		s->key_off = ko;
		uint64_t *rh = realloc(s->ref_hash, cap * sizeof(*rh));
		if (rh == NULL)
			goto fail;
		s->ref_hash = rh;
		s->cap_refs = cap;
	}
	s->key_off[s->n_refs] = start;
	s->key_off[s->n_refs + 1] = s->keys.len;
	s->ref_hash[s->n_refs] = hash;
	s->table[i] = s->n_refs + 1;
	*ref = s->n_refs++;
	s->stats.series = s->n_refs;
	return 0;
fail:
	s->keys.len = start;
	return s->n_refs >= VG_FRAME_MAX_REF ? VG_ELIMIT : VG_ENOMEM;
}

/* --- queue -------------------------------------------------------------- */

static void queue_pop(struct vg_sender *s)
{
	struct qbatch *b = s->q_head;

	s->q_head = b->next;
	if (s->q_head == NULL)
		s->q_tail = NULL;
	s->q_bytes -= b->len;
	s->q_len--;
	free(b);
}

static void queue_trim(struct vg_sender *s)
{
	static struct vg_complaint overflow = VG_COMPLAINT_INIT;

	/* Keep the newest batch even if it alone is over the limit. */
	while (s->q_bytes > s->opts.queue_max_bytes && s->q_head != s->q_tail) {
		s->stats.batches_dropped++;
		s->stats.samples_dropped += s->q_head->n_samples;
		vg_log_complain(&overflow, VG_LOG_WARN,
				"queue of unacknowledged batches is over %llu bytes: dropping the oldest (%llu dropped so far)",
				(unsigned long long)s->opts.queue_max_bytes,
				(unsigned long long)s->stats.batches_dropped);
		queue_pop(s);
	}
}

int vg_sender_submit(struct vg_sender *s, int64_t ts_ms, size_t n, const uint32_t *refs,
		     const double *values, struct vg_err *err)
{
	struct qbatch *b;
	msgpack_packer pk;
	int rc;

	if (n > VG_FRAME_MAX_SAMPLES)
		return vg_err_set(err, VG_ELIMIT, "batch of %zu samples exceeds the limit of %d", n, VG_FRAME_MAX_SAMPLES);
	vg_buf_reset(&s->raw);
	vg_mp_packer_init(&pk, &s->raw);
	vg_samples_pack_begin(&pk, 1);
	vg_samples_pack_group(&pk, ts_ms, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		vg_samples_pack_sample(&pk, refs[i], values[i]);
	if (vg_buf_failed(&s->raw))
		return vg_err_set(err, VG_ENOMEM, "out of memory encoding a batch");
	vg_buf_reset(&s->out);
	if ((rc = vg_frame_encode(s->codec, VG_FRAME_SAMPLES, s->next_seq, s->raw.data, s->raw.len,
				  &s->out, err)) != 0)
		return rc;
	b = malloc(sizeof(*b) + s->out.len);
	if (b == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory queueing a batch");
	b->next = NULL;
	b->seq = s->next_seq++;
	b->n_refs = s->n_refs;
	b->n_samples = n;
	b->len = s->out.len;
	memcpy(b->frame, s->out.data, s->out.len);
	if (s->q_tail)
		s->q_tail->next = b;
	else
		s->q_head = b;
	s->q_tail = b;
	s->q_bytes += b->len;
	s->q_len++;
	queue_trim(s);
	pump(s);
	return 0;
}

/* --- connection --------------------------------------------------------- */

static void schedule_retry(struct vg_sender *s)
{
	int64_t delay = BACKOFF_MIN_MS;
	struct timeval tv;

	for (unsigned i = 0; i < s->attempts && delay < s->opts.backoff_max_ms; i++)
		delay *= 2;
	if (delay > s->opts.backoff_max_ms)
		delay = s->opts.backoff_max_ms;
	/* +-20% jitter. */
	delay = delay * (80 + (int64_t)(random_u64() % 41)) / 100;
	if (s->attempts < 64)
		s->attempts++;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(s->retry_ev, &tv);
}

static void disconnect(struct vg_sender *s, const char *why)
{
	if (s->bev) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	evtimer_del(s->ack_ev);
	if (s->state == CONNECTED && s->has_acked)
		vg_warn("connection to receiver %s:%u lost: %s; %llu batches wait to be resent",
			s->host, s->opts.port, why, (unsigned long long)s->q_len);
	else
		vg_log_complain(&s->complaint, VG_LOG_WARN, "cannot reach receiver %s:%u: %s; %llu batches queued",
				s->host, s->opts.port, why, (unsigned long long)s->q_len);
	if (!s->has_acked)
		s->stats.connect_failures++;
	s->state = DISCONNECTED;
	schedule_retry(s);
}

static int send_frame(struct vg_sender *s, enum vg_frame_type type, uint64_t seq)
{
	struct vg_err err;

	vg_buf_reset(&s->out);
	if (vg_frame_encode(s->codec, type, seq, s->raw.data, s->raw.len, &s->out, &err) != 0) {
		vg_error("cannot encode %s: %s", vg_frame_type_name(type), err.msg);
		return -1;
	}
	return bufferevent_write(s->bev, s->out.data, s->out.len);
}

/* Defines refs [defined_refs, upto) on the connection. */
static int define_refs(struct vg_sender *s, uint32_t upto)
{
	while (s->defined_refs < upto) {
		uint32_t n = upto - s->defined_refs;
		msgpack_packer pk;
		struct vg_series series;

		if (n > SERIES_PER_FRAME)
			n = SERIES_PER_FRAME;
		vg_buf_reset(&s->raw);
		vg_mp_packer_init(&pk, &s->raw);
		vg_series_pack_begin(&pk, n);
		for (uint32_t ref = s->defined_refs; ref < s->defined_refs + n; ref++) {
			size_t off = s->key_off[ref];
			vg_series_from_key(s->keys.data + off, s->key_off[ref + 1] - off, &series);
			vg_series_pack_entry(&pk, ref, &series);
		}
		if (vg_buf_failed(&s->raw) || send_frame(s, VG_FRAME_SERIES, 0) != 0)
			return -1;
		s->defined_refs += n;
	}
	return 0;
}

static void arm_ack_timer(struct vg_sender *s)
{
	struct timeval tv = { s->opts.ack_timeout_ms / 1000, (s->opts.ack_timeout_ms % 1000) * 1000 };

	evtimer_add(s->ack_ev, &tv);
}

/* Writes queued batches not yet sent on this connection, within the
 * output limit. */
static void pump(struct vg_sender *s)
{
	struct qbatch *b;
	struct evbuffer *out;

	if (s->state != CONNECTED)
		return;
	out = bufferevent_get_output(s->bev);
	for (b = s->q_head; b; b = b->next) {
		if (b->seq <= s->sent_seq)
			continue;
		if (evbuffer_get_length(out) >= OUTPUT_HIGH_BYTES)
			break;
		if (define_refs(s, b->n_refs) != 0 || bufferevent_write(s->bev, b->frame, b->len) != 0) {
			disconnect(s, "out of memory");
			return;
		}
		s->sent_seq = b->seq;
		s->stats.batches_sent++;
		if (!evtimer_pending(s->ack_ev, NULL))
			arm_ack_timer(s);
	}
}

static void handle_ack(struct vg_sender *s, uint64_t seq)
{
	bool advanced = false;

	if (!s->has_acked) {
		s->has_acked = true;
		s->stats.connects++;
		vg_log_relief(&s->complaint, "connected to receiver %s:%u", s->host, s->opts.port);
	}
	while (s->q_head && s->q_head->seq <= seq) {
		s->stats.batches_acked++;
		queue_pop(s);
		advanced = true;
	}
	/* Only a stored batch proves the receiver works: one that answers
	 * HELLO and then refuses every batch keeps the agent backing off. */
	if (advanced || (s->q_head == NULL && seq > 0))
		s->attempts = 0;
	if (s->q_head == NULL || s->q_head->seq > s->sent_seq)
		evtimer_del(s->ack_ev); /* nothing sent is waiting */
	else if (advanced)
		arm_ack_timer(s);
}

static void handle_error(struct vg_sender *s, uint64_t seq, const uint8_t *raw, size_t len)
{
	struct vg_error_msg em;
	struct vg_err err;

	if (vg_error_decode(raw, len, &em, &err) != 0) {
		vg_warn("receiver sent a malformed ERROR frame: %s", err.msg);
		return;
	}
	vg_error("receiver %s:%u refused frame seq %llu: %.*s (code %u)", s->host, s->opts.port,
		 (unsigned long long)seq, (int)em.message.len, em.message.p, em.code);
	/* A batch the receiver calls malformed or too large will be refused
	 * again: drop it (counted) rather than retry it forever. */
	if ((em.code == VG_WIRE_MALFORMED || em.code == VG_WIRE_TOO_LARGE) && seq != 0 &&
	    s->q_head && s->q_head->seq == seq) {
		s->stats.batches_dropped++;
		s->stats.samples_dropped += s->q_head->n_samples;
		queue_pop(s);
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct vg_sender *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		uint8_t hdr[VG_FRAME_HEADER_SIZE];
		struct vg_frame_header h;
		struct vg_err err;
		const uint8_t *frame, *raw;
		size_t raw_len, avail = evbuffer_get_length(in);

		if (avail < VG_FRAME_HEADER_SIZE)
			return;
		evbuffer_copyout(in, hdr, sizeof(hdr));
		if (vg_frame_header_decode(hdr, &h, &err) != 0) {
			disconnect(s, err.msg);
			return;
		}
		if (avail < VG_FRAME_HEADER_SIZE + (size_t)h.payload_len)
			return;
		frame = evbuffer_pullup(in, VG_FRAME_HEADER_SIZE + (ssize_t)h.payload_len);
		if (frame == NULL || vg_frame_open(s->codec, &h, frame + VG_FRAME_HEADER_SIZE, &raw,
						   &raw_len, &err) != 0) {
			disconnect(s, frame ? err.msg : "out of memory");
			return;
		}
		if (h.type == VG_FRAME_ACK) {
			handle_ack(s, h.seq);
		} else if (h.type == VG_FRAME_ERROR) {
			handle_error(s, h.seq, raw, raw_len);
			disconnect(s, "the receiver closed the connection after an error");
			return;
		} else {
			disconnect(s, "unexpected frame type from the receiver");
			return;
		}
		evbuffer_drain(in, VG_FRAME_HEADER_SIZE + (size_t)h.payload_len);
	}
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	pump(arg);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct vg_sender *s = arg;
	struct vg_hello hello;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		s->state = CONNECTED;
		s->defined_refs = 0;
		s->sent_seq = 0;
		s->has_acked = false;
		hello = (struct vg_hello){ VG_PROTO_VERSION, vg_str_c(s->agent), s->epoch,
					   vg_str_c(s->token ? s->token : ""),
					   vg_str_c("vigil-agent " PACKAGE_VERSION) };
		vg_buf_reset(&s->raw);
		vg_hello_pack(&hello, &s->raw);
		if (send_frame(s, VG_FRAME_HELLO, 0) != 0) {
			disconnect(s, "cannot send HELLO");
			return;
		}
		/* An ACK must come soon even before any batch is sent. */
		arm_ack_timer(s);
		pump(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		disconnect(s, "timed out");
	else if (what & BEV_EVENT_EOF)
		disconnect(s, "closed by the receiver");
	else
		disconnect(s, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void connect_now(struct vg_sender *s)
{
	struct addrinfo hints, *res = NULL;
	struct timeval tv = { s->opts.ack_timeout_ms / 1000, (s->opts.ack_timeout_ms % 1000) * 1000 };
	char port[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", s->opts.port);
	if ((rc = getaddrinfo(s->host, port, &hints, &res)) != 0) {
		s->state = DISCONNECTED;
		s->has_acked = false;
		vg_log_complain(&s->complaint, VG_LOG_WARN, "cannot resolve receiver %s: %s", s->host,
				gai_strerror(rc));
		s->stats.connect_failures++;
		schedule_retry(s);
		return;
	}
	s->bev = bufferevent_socket_new(s->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		freeaddrinfo(res);
		s->state = DISCONNECTED;
		schedule_retry(s);
		return;
	}
	s->state = CONNECTING;
	s->has_acked = false;
	bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, OUTPUT_LOW_BYTES, 0);
	/* A write that cannot drain for this long means a dead receiver. */
	bufferevent_set_timeouts(s->bev, NULL, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	rc = bufferevent_socket_connect(s->bev, res->ai_addr, (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (rc != 0)
		disconnect(s, strerror(errno));
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	connect_now(arg);
}

static void ack_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_sender *s = arg;

	(void)fd;
	(void)what;
	if (s->state == CONNECTED)
		disconnect(s, "no acknowledgement within ack_timeout");
}

bool vg_sender_is_idle(const struct vg_sender *s)
{
	return s->q_head == NULL;
}

int vg_sender_new(const struct vg_sender_options *opts, struct vg_sender **out, struct vg_err *err)
{
	struct vg_sender *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	s->opts = *opts;
	s->base = opts->base;
	s->host = strdup(opts->host);
	s->agent = strdup(opts->agent);
	s->token = opts->token ? strdup(opts->token) : NULL;
	s->codec = vg_frame_codec_new(3);
	s->retry_ev = evtimer_new(s->base, retry_cb, s);
	s->ack_ev = evtimer_new(s->base, ack_timeout_cb, s);
	if (s->host == NULL || s->agent == NULL || (opts->token && s->token == NULL) ||
	    s->codec == NULL || s->retry_ev == NULL || s->ack_ev == NULL) {
		vg_sender_free(s);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	if (s->opts.backoff_max_ms < BACKOFF_MIN_MS)
		s->opts.backoff_max_ms = BACKOFF_MIN_MS;
	if (s->opts.ack_timeout_ms <= 0)
		s->opts.ack_timeout_ms = 30000;
	s->opts.host = s->host;
	s->opts.agent = s->agent;
	s->opts.token = s->token;
	/* A new epoch per process: its batches are numbered from 1, and the
	 * receiver tells retries of this epoch from new data. */
	s->epoch = random_u64();
	s->next_seq = 1;
	vg_buf_init(&s->keys);
	vg_buf_init(&s->raw);
	vg_buf_init(&s->out);
	connect_now(s);
	*out = s;
	return 0;
}

void vg_sender_free(struct vg_sender *s)
{
	if (s == NULL)
		return;
	if (s->bev)
		bufferevent_free(s->bev);
	if (s->retry_ev)
		event_free(s->retry_ev);
	if (s->ack_ev)
		event_free(s->ack_ev);
	while (s->q_head)
		queue_pop(s);
	vg_frame_codec_free(s->codec);
	vg_buf_release(&s->keys);
	vg_buf_release(&s->raw);
	vg_buf_release(&s->out);
	free(s->key_off);
	free(s->ref_hash);
	free(s->table);
	free(s->host);
	free(s->agent);
	free(s->token);
	free(s);
}

void vg_sender_get_stats(const struct vg_sender *s, struct vg_sender_stats *out)
{
	*out = s->stats;
	out->queue_batches = s->q_len;
	out->queue_bytes = s->q_bytes;
}
