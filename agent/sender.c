/*
 * sender.c: the agent's connection to a receiver (see sender.h for the
 * protocol it speaks and the guarantees it keeps).
 *
 * State kept here, and why:
 *  - the dictionary (dict.h): every series the agent sampled, by ref.
 *  - the spool (spool.h): encoded SAMPLES frames, oldest first, each with
 *    its seq and the number of refs it needs defined: protocol 1 frames,
 *    compressed unless submitted while a protocol 2 connection is up and
 *    little waits (vg_sender_submit); protocol 2 connections get them
 *    re-encoded, protocol 1 ones as they are. On disk the spool also keeps the
 *    dictionary's keys, the epoch and the next seq, so a restarted agent
 *    continues where the last one stopped.
 *  - per connection: how many refs are defined on it (defined_refs), and
 *    the seq of the last batch written to it (sent_seq).
 *
 * Invariant: a batch leaves the spool only on an ACK covering its seq, or
 * on overflow or refusal, both counted in the stats.
 *
 * Name resolution: evdns_getaddrinfo at each connect attempt (a numeric
 * address or a name in /etc/hosts is answered at once, within the call);
 * the addresses it gave are tried in order, and a failure of the last one
 * is the connection's failure. Nothing here blocks the event loop.
 */
#include "agent/sender.h"
#include "agent/dict.h"
#include "agent/spool.h"
#include "agent/tls.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/mpack.h"
#include "common/samples2.h"

#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "common/banned.h"

#define BACKOFF_MIN_MS 500
/* Keep at most this much in the socket's output buffer; the rest waits in
 * the queue, so the queue's byte limit holds for everything unacked. */
#define OUTPUT_HIGH_BYTES (1u << 20)
#define OUTPUT_LOW_BYTES (256u << 10)
/* SERIES entries per frame when defining many refs at once. */
#define SERIES_PER_FRAME 5000
/* A batch submitted while fewer than this many wait in the spool, on a
 * protocol 2 connection, is spooled uncompressed (vg_sender_submit). */
#define PLAIN_SPOOL_BATCHES 4
/* raw and out larger than this after the dictionary are released. */
#define BUF_KEEP_BYTES (16u << 10)

enum conn_state { DISCONNECTED, RESOLVING, CONNECTING, CONNECTED };

struct vg_sender {
	struct vg_sender_options opts;
	char *host, *agent, *token;
	struct event_base *base;
	struct vg_frame_codec *codec;
	uint64_t epoch;
	uint64_t next_seq;

	struct vg_dict dict;
	struct vg_spool *spool;
	/* The protocol of the next connection: the newest, or 1 once a
	 * receiver answered ERROR VERSION. Protocol 2 batches are encoded
	 * per connection (deltas against what this connection carried) from
	 * the protocol-1 frames the spool keeps. */
	uint8_t proto;
	struct vg_samples2_state s2;
	struct vg_sample_batch batch;
	/* The batch being submitted, while vg_sender_submit runs: reencode
	 * takes its samples from here rather than decompressing and decoding
	 * the frame just spooled (the same samples, bit for bit). */
	struct {
		bool is_set;
		uint64_t seq;
		int64_t ts_ms;
		size_t n;
		const uint32_t *refs;
		const double *values;
	} fresh;
	uint64_t reencode_dropped, reencode_samples_dropped;
	struct vg_complaint refusal;

	/* connection */
	enum conn_state state;
	struct vg_tls_client *tls;      /* NULL: plain TCP */
	struct evdns_getaddrinfo_request *dns_req; /* while RESOLVING */
	struct evutil_addrinfo *addrs, *next_addr; /* this attempt's addresses, the next to try */
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
static void connect_next(struct vg_sender *s);
static void pump(struct vg_sender *s);

/* --- dictionary and spool ------------------------------------------------ */

int vg_sender_ref(struct vg_sender *s, const uint8_t *key, size_t len, uint64_t hash, uint32_t *ref)
{
	struct vg_err err;
	bool is_new;
	int rc;

	if ((rc = vg_dict_ref_key(&s->dict, key, len, hash, ref, &is_new)) != 0 || !is_new)
		return rc;
	if ((rc = vg_spool_add_series(s->spool, key, len, &err)) != 0) {
		/* The batch that needs it will fail to spool: said there. */
		vg_log_complain(&s->complaint, VG_LOG_ERROR, "%s", err.msg);
	}
	s->stats.series = s->dict.n_refs;
	return 0;
}

int vg_sender_submit(struct vg_sender *s, int64_t ts_ms, size_t n, const uint32_t *refs,
		     const double *values, struct vg_err *err)
{
	struct vg_spool_batch b;
	struct vg_spool_stats st;
	int rc;

	if (n > VG_FRAME_MAX_SAMPLES)
		return vg_err_set(err, VG_ELIMIT, "batch of %zu samples exceeds the limit of %d", n, VG_FRAME_MAX_SAMPLES);
	vg_buf_reset(&s->raw);
	if (vg_samples_encode_group(&s->raw, ts_ms, n, refs, values) != 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory encoding a batch");
	vg_buf_reset(&s->out);
	/* Connected on protocol 2 with nothing much waiting, the batch is
	 * re-encoded and sent at once and acknowledged within the round:
	 * the spool keeps it uncompressed (one zstd call a round, not two).
	 * A batch that may wait (no connection, a backlog, protocol 1, which
	 * sends the spooled frame itself) is compressed. */
	vg_spool_get_stats(s->spool, &st);
	if (s->state == CONNECTED && s->proto >= VG_PROTO_V2 && st.batches < PLAIN_SPOOL_BATCHES)
		rc = vg_frame_encode_plain(VG_FRAME_VERSION, VG_FRAME_SAMPLES, s->next_seq, s->raw.data, s->raw.len,
					   &s->out, err);
	else
		rc = vg_frame_encode(s->codec, VG_FRAME_SAMPLES, s->next_seq, s->raw.data, s->raw.len, &s->out, err);
	if (rc != 0)
		return rc;
	b = (struct vg_spool_batch){ s->next_seq, s->dict.n_refs, (uint32_t)n, s->out.len, s->out.data };
	if ((rc = vg_spool_append(s->spool, &b, err)) != 0)
		return rc;
	s->fresh.is_set = true;
	s->fresh.seq = s->next_seq;
	s->fresh.ts_ms = ts_ms;
	s->fresh.n = n;
	s->fresh.refs = refs;
	s->fresh.values = values;
	s->next_seq++;
	pump(s);
	s->fresh.is_set = false;
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
	delay = delay * (80 + (int64_t)(vg_random_u64() % 41)) / 100;
	if (s->attempts < 64)
		s->attempts++;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(s->retry_ev, &tv);
}

static void disconnect(struct vg_sender *s, const char *why)
{
	struct vg_spool_stats st;

	if (s->bev) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	evtimer_del(s->ack_ev);
	vg_spool_get_stats(s->spool, &st);
	if (s->state == CONNECTED && s->has_acked)
		vg_warn("connection to receiver %s:%u lost: %s; %llu batches wait to be resent",
			s->host, s->opts.port, why, (unsigned long long)st.batches);
	else
		vg_log_complain(&s->complaint, VG_LOG_WARN, "cannot reach receiver %s:%u: %s; %llu batches spooled",
				s->host, s->opts.port, why, (unsigned long long)st.batches);
	if (!s->has_acked)
		s->stats.connect_failures++;
	s->state = DISCONNECTED;
	schedule_retry(s);
}

static int send_frame(struct vg_sender *s, enum vg_frame_type type, uint64_t seq)
{
	struct vg_err err;

	vg_buf_reset(&s->out);
	if (vg_frame_encode_version(s->codec, s->proto, type, seq, s->raw.data, s->raw.len, &s->out, &err) != 0) {
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
			size_t len;
			const uint8_t *key = vg_dict_key(&s->dict, ref, &len);
			vg_series_from_key(key, len, &series);
			vg_series_pack_entry(&pk, ref, &series);
		}
		if (vg_buf_failed(&s->raw) || send_frame(s, VG_FRAME_SERIES, 0) != 0)
			return -1;
		s->defined_refs += n;
		/* The dictionary's frames, sent as a connection starts, are
		 * the largest: buffers grown for them would keep those pages
		 * for the agent's life, which batches, a few KiB, do not
		 * need. */
		if (s->defined_refs == upto && s->raw.cap > BUF_KEEP_BYTES) {
			vg_buf_release(&s->raw);
			vg_buf_release(&s->out);
		}
	}
	return 0;
}

static void arm_ack_timer(struct vg_sender *s)
{
	struct timeval tv = { s->opts.ack_timeout_ms / 1000, (s->opts.ack_timeout_ms % 1000) * 1000 };

	evtimer_add(s->ack_ev, &tv);
}

/* Encodes a spooled protocol-1 SAMPLES frame for this protocol-2
 * connection into s->out: one group per run of equal timestamps. */
static int reencode(struct vg_sender *s, const struct vg_spool_batch *b, struct vg_err *err)
{
	struct vg_frame_header h;
	const uint8_t *raw;
	size_t len, i, j;
	uint32_t groups = 0;
	int rc;

	if (s->fresh.is_set && b->seq == s->fresh.seq) {
		if (vg_sample_batch_reserve(&s->batch, s->fresh.n) != 0)
			return vg_err_set(err, VG_ENOMEM, "out of memory encoding batch %llu",
					  (unsigned long long)b->seq);
		for (i = 0; i < s->fresh.n; i++) {
			s->batch.refs[i] = s->fresh.refs[i];
			s->batch.ts_ms[i] = s->fresh.ts_ms;
			s->batch.values[i] = s->fresh.values[i];
		}
		s->batch.n = s->fresh.n;
		goto groups;
	}
	if (b->len < VG_FRAME_HEADER_SIZE)
		return vg_err_set(err, VG_EINVAL, "spooled batch %llu is too short", (unsigned long long)b->seq);
	if ((rc = vg_frame_header_decode(b->frame, &h, err)) != 0)
		return rc;
	if (h.payload_len != b->len - VG_FRAME_HEADER_SIZE || h.type != VG_FRAME_SAMPLES)
		return vg_err_set(err, VG_EINVAL, "spooled batch %llu is not a SAMPLES frame", (unsigned long long)b->seq);
	if ((rc = vg_frame_open(s->codec, &h, b->frame + VG_FRAME_HEADER_SIZE, &raw, &len, err)) != 0 ||
	    (rc = vg_samples_decode(raw, len, &s->batch, err)) != 0)
		return rc;
groups:
	for (i = 0; i < s->batch.n; i = j, groups++)
		for (j = i + 1; j < s->batch.n && s->batch.ts_ms[j] == s->batch.ts_ms[i]; j++)
			;
	vg_buf_reset(&s->raw);
	vg_samples2_encode_begin(&s->raw, groups);
	for (i = 0; i < s->batch.n; i = j) {
		for (j = i + 1; j < s->batch.n && s->batch.ts_ms[j] == s->batch.ts_ms[i]; j++)
			;
		if ((rc = vg_samples2_encode_group(&s->s2, s->batch.ts_ms[i], j - i, s->batch.refs + i,
						   s->batch.values + i, &s->raw)) != 0)
			return vg_err_set(err, rc, "cannot encode batch %llu", (unsigned long long)b->seq);
	}
	vg_buf_reset(&s->out);
	return vg_frame_encode_version(s->codec, VG_PROTO_V2, VG_FRAME_SAMPLES, b->seq, s->raw.data, s->raw.len,
				       &s->out, err);
}

/* Writes spooled batches not yet sent on this connection, within the
 * output limit. */
static void pump(struct vg_sender *s)
{
	struct vg_spool_batch b;
	struct evbuffer *out;
	struct vg_err err;
	int rc;

	if (s->state != CONNECTED)
		return;
	out = bufferevent_get_output(s->bev);
	while (evbuffer_get_length(out) < OUTPUT_HIGH_BYTES) {
		if ((rc = vg_spool_next(s->spool, &b, &err)) == 1)
			break;
		if (rc < 0) {
			vg_log_complain(&s->complaint, VG_LOG_ERROR, "%s", err.msg);
			disconnect(s, "cannot read the spool");
			return;
		}
		if (b.n_refs > s->dict.n_refs || define_refs(s, b.n_refs) != 0) {
			disconnect(s, "out of memory");
			return;
		}
		if (s->proto >= VG_PROTO_V2) {
			uint32_t n_samples = b.n_samples;
			uint64_t seq = b.seq;
			if ((rc = reencode(s, &b, &err)) == VG_ENOMEM) {
				disconnect(s, "out of memory");
				return;
			}
			if (rc != 0) {
				/* It could never be sent: count it and go on;
				 * the next ACK covers its seq. */
				s->reencode_dropped++;
				s->reencode_samples_dropped += n_samples;
				vg_log_complain(&s->complaint, VG_LOG_ERROR, "dropping spooled batch %llu: %s",
						(unsigned long long)seq, err.msg);
				s->sent_seq = seq;
				continue;
			}
			b.frame = s->out.data;
			b.len = s->out.len;
		}
		if (bufferevent_write(s->bev, b.frame, b.len) != 0) {
			disconnect(s, "out of memory");
			return;
		}
		s->sent_seq = b.seq;
		s->stats.batches_sent++;
		if (!evtimer_pending(s->ack_ev, NULL))
			arm_ack_timer(s);
	}
}

static void handle_ack(struct vg_sender *s, uint64_t seq)
{
	bool advanced;
	uint64_t n;

	if (!s->has_acked) {
		s->has_acked = true;
		s->stats.connects++;
		vg_log_relief(&s->complaint, "connected to receiver %s:%u", s->host, s->opts.port);
	}
	n = vg_spool_ack(s->spool, seq);
	s->stats.batches_acked += n;
	advanced = n > 0;
	/* Only a stored batch proves the receiver works: one that answers
	 * HELLO and then refuses every batch keeps the agent backing off. */
	if (advanced || (vg_spool_is_empty(s->spool) && seq > 0))
		s->attempts = 0;
	if (vg_spool_is_empty(s->spool) || vg_spool_first_seq(s->spool) > s->sent_seq)
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
	if (em.code == VG_WIRE_VERSION && s->proto > VG_FRAME_VERSION) {
		vg_warn("receiver %s:%u does not speak protocol %u (%.*s): falling back to protocol %d", s->host,
			s->opts.port, s->proto, (int)em.message.len, em.message.p, VG_FRAME_VERSION);
		s->proto = VG_FRAME_VERSION;
		s->attempts = 0;
		return;
	}
	vg_error("receiver %s:%u refused frame seq %llu: %.*s (code %u)", s->host, s->opts.port,
		 (unsigned long long)seq, (int)em.message.len, em.message.p, em.code);
	/* A batch the receiver calls malformed or too large will be refused
	 * again: drop it (counted) rather than retry it forever. */
	if ((em.code == VG_WIRE_MALFORMED || em.code == VG_WIRE_TOO_LARGE) && seq != 0)
		vg_spool_refuse(s->spool, seq);
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
			if (h.version >= VG_PROTO_V2) {
				struct vg_ack ack;
				if (vg_ack_decode(raw, raw_len, &ack, &err) != 0) {
					disconnect(s, err.msg);
					return;
				}
				if (ack.refused_samples || ack.refused_series) {
					s->stats.samples_refused += ack.refused_samples;
					s->stats.series_refused += ack.refused_series;
					vg_log_complain(&s->refusal, VG_LOG_WARN,
							"receiver %s:%u stored batches up to %llu but refused %llu samples of %llu series (limit %.*s)",
							s->host, s->opts.port, (unsigned long long)h.seq,
							(unsigned long long)ack.refused_samples,
							(unsigned long long)ack.refused_series, (int)ack.limit.len, ack.limit.p);
				}
			}
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
		vg_spool_rewind(s->spool);
		s->has_acked = false;
		vg_samples2_state_reset(&s->s2);
		hello = (struct vg_hello){ s->proto, vg_str_c(s->agent), s->epoch,
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
	if (what & BEV_EVENT_TIMEOUT) {
		disconnect(s, "timed out");
	} else if (what & BEV_EVENT_EOF) {
		char why[320];
		/* A receiver refusing the handshake late (TLS 1.3 checks the
		 * client's certificate after the client is done) may have said
		 * why in an alert. */
		if (s->tls && !s->has_acked && vg_tls_client_describe(s->tls, s->bev, why, sizeof(why)))
			disconnect(s, why);
		else
			disconnect(s, "closed by the receiver");
	} else {
		char why[320];
		int e = EVUTIL_SOCKET_ERROR();
		bool is_tls_failure = s->tls && vg_tls_client_describe(s->tls, s->bev, why, sizeof(why));
		if (!is_tls_failure)
			snprintf(why, sizeof(why), "%s", evutil_socket_error_to_string(e));
		/* Refused or unreachable at this address: the next one. A
		 * receiver that failed TLS fails it at every address. */
		if (s->state == CONNECTING && s->next_addr && !is_tls_failure) {
			bufferevent_free(s->bev);
			s->bev = NULL;
			connect_next(s);
			return;
		}
		disconnect(s, why);
	}
}

/* Connects to the next address of this attempt. */
static void connect_next(struct vg_sender *s)
{
	struct timeval tv = { s->opts.ack_timeout_ms / 1000, (s->opts.ack_timeout_ms % 1000) * 1000 };
	struct evutil_addrinfo *ai = s->next_addr;
	struct vg_err err;

	s->next_addr = ai->ai_next;
	if (s->tls)
		s->bev = vg_tls_client_bufferevent(s->tls, s->base, s->host, &err);
	else if ((s->bev = bufferevent_socket_new(s->base, -1, BEV_OPT_CLOSE_ON_FREE)) == NULL)
		vg_err_set(&err, VG_ENOMEM, "out of memory");
	if (s->bev == NULL) {
		s->state = CONNECTING; /* counted as a failed attempt */
		disconnect(s, err.msg);
		return;
	}
	s->state = CONNECTING;
	s->has_acked = false;
	bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, OUTPUT_LOW_BYTES, 0);
	/* A write that cannot drain for this long means a dead receiver. */
	bufferevent_set_timeouts(s->bev, NULL, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	/* A failure to start is reported through event_cb, like a refusal. */
	if (bufferevent_socket_connect(s->bev, ai->ai_addr, (int)ai->ai_addrlen) != 0 && s->bev &&
	    s->state == CONNECTING)
		disconnect(s, strerror(errno));
}

static void resolved_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct vg_sender *s = arg;

	/* Cancelled by vg_sender_free: evdns may call back later, from the
	 * loop, when s is gone; touch nothing. */
	if (result == EVUTIL_EAI_CANCEL)
		return;
	s->dns_req = NULL;
	if (s->addrs)
		evutil_freeaddrinfo(s->addrs);
	s->addrs = s->next_addr = NULL;
	if (result != 0 || res == NULL) {
		s->state = DISCONNECTED;
		s->has_acked = false;
		vg_log_complain(&s->complaint, VG_LOG_WARN, "cannot resolve receiver %s: %s; %s", s->host,
				evutil_gai_strerror(result), "retrying, batches are spooled meanwhile");
		s->stats.connect_failures++;
		schedule_retry(s);
		return;
	}
	s->addrs = s->next_addr = res;
	connect_next(s);
}

/* Resolves the receiver's host again (it may have moved) and connects;
 * a numeric address or a name in /etc/hosts is answered within the call. */
static void connect_now(struct vg_sender *s)
{
	struct evutil_addrinfo hints;
	struct evdns_getaddrinfo_request *req;
	char port[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(port, sizeof(port), "%u", s->opts.port);
	s->state = RESOLVING;
	req = evdns_getaddrinfo(s->opts.dns, s->host, port, &hints, resolved_cb, s);
	if (req != NULL)
		s->dns_req = req; /* else resolved_cb ran already */
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
	return vg_spool_is_empty(s->spool);
}

int vg_sender_new(const struct vg_sender_options *opts, struct vg_sender **out, struct vg_err *err)
{
	struct vg_sender *s = calloc(1, sizeof(*s));
	struct vg_spool_options spool_opts;
	struct vg_spool_resume resume;
	int rc;

	if (s == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	s->opts = *opts;
	s->base = opts->base;
	s->host = strdup(opts->host);
	s->agent = strdup(opts->agent);
	s->token = opts->token ? strdup(opts->token) : NULL;
	s->codec = vg_frame_codec_new(3);
	if (opts->tls && (rc = vg_tls_client_new(opts->tls, &s->tls, err)) != 0) {
		vg_sender_free(s);
		return rc;
	}
	s->opts.tls = NULL; /* read: the client holds what it needs */
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
	vg_dict_init(&s->dict);
	vg_samples2_state_init(&s->s2);
	vg_sample_batch_init(&s->batch);
	s->proto = VG_PROTO_MAX;
	s->refusal = (struct vg_complaint)VG_COMPLAINT_INIT;
	vg_buf_init(&s->raw);
	vg_buf_init(&s->out);
	/* A new epoch per spool: its batches are numbered from 1, and the
	 * receiver tells retries of this epoch from new data. A spool on disk
	 * continues its epoch across restarts. */
	spool_opts = (struct vg_spool_options){ opts->spool_dir,
						opts->spool_dir ? opts->spool_max_bytes : opts->queue_max_bytes };
	if ((rc = vg_spool_open(&spool_opts, &s->dict, &s->spool, &resume, err)) != 0) {
		vg_sender_free(s);
		return rc;
	}
	s->epoch = resume.epoch;
	s->next_seq = resume.next_seq;
	s->stats.series = s->dict.n_refs;
	if (resume.is_resumed && resume.batches > 0)
		vg_info("spool %s: resuming epoch %llx with %llu unacknowledged batches, next seq %llu",
			opts->spool_dir, (unsigned long long)s->epoch, (unsigned long long)resume.batches,
			(unsigned long long)s->next_seq);
	connect_now(s);
	*out = s;
	return 0;
}

void vg_sender_free(struct vg_sender *s)
{
	if (s == NULL)
		return;
	if (s->dns_req)
		evdns_getaddrinfo_cancel(s->dns_req); /* resolved_cb then ignores it */
	if (s->addrs)
		evutil_freeaddrinfo(s->addrs);
	if (s->bev)
		bufferevent_free(s->bev);
	vg_tls_client_free(s->tls);
	if (s->retry_ev)
		event_free(s->retry_ev);
	if (s->ack_ev)
		event_free(s->ack_ev);
	vg_spool_free(s->spool);
	vg_frame_codec_free(s->codec);
	vg_dict_release(&s->dict);
	vg_samples2_state_release(&s->s2);
	vg_sample_batch_release(&s->batch);
	vg_buf_release(&s->raw);
	vg_buf_release(&s->out);
	free(s->host);
	free(s->agent);
	free(s->token);
	free(s);
}

void vg_sender_get_stats(const struct vg_sender *s, struct vg_sender_stats *out)
{
	struct vg_spool_stats st;

	vg_spool_get_stats(s->spool, &st);
	*out = s->stats;
	out->queue_batches = st.batches;
	out->queue_bytes = st.bytes;
	out->queue_max_bytes = s->opts.spool_dir ? s->opts.spool_max_bytes : s->opts.queue_max_bytes;
	out->batches_dropped = st.batches_dropped + s->reencode_dropped;
	out->samples_dropped = st.samples_dropped + s->reencode_samples_dropped;
	out->proto = s->proto;
}
