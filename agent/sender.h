/*
 * sender.h: the agent's side of the wire protocol: one connection to a
 * receiver, the series dictionary, and the queue of batches not yet
 * acknowledged.
 *
 * Data flow: the agent gives each series it samples a ref
 * (vg_sender_ref: dense, from 0, for the agent's lifetime), then submits a
 * batch of (ref, value) at one timestamp (vg_sender_submit). The batch is
 * encoded into a SAMPLES frame with the next sequence number at once and
 * spooled (spool.h: in memory, or on disk where it survives a restart). On every new connection the sender says HELLO, defines every ref
 * with SERIES frames, and sends the queued batches in order; later it
 * defines new refs just before the first batch that uses them. An ACK for
 * seq N drops every batch up to N: only then is data out of the agent's
 * hands. When the spool is over its byte limit the oldest batches are
 * dropped and counted, never silently.
 *
 * The sender speaks protocol 2 (common/samples2.h: a few bytes per
 * sample), and protocol 1 from the first time a receiver answers its
 * HELLO with ERROR VERSION on.
 *
 * Each connection attempt resolves the receiver's host again (evdns, so
 * the loop never waits for a name server), and tries its addresses in
 * order. With TLS configured the connection is TLS (tls.h) and the
 * receiver's certificate is verified before HELLO is sent.
 *
 * A broken or silent connection (no ACK within ack_timeout while batches
 * wait) is closed and retried with exponential backoff from 500 ms up to
 * backoff_max, with +-20% jitter so a fleet does not reconnect in step.
 *
 * Threads: everything runs on the event base given at creation.
 */
#ifndef VG_SENDER_H
#define VG_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/series.h"

struct event_base;
struct evdns_base;
struct vg_err;
struct vg_tls_client_options;

struct vg_sender_options {
	const char *host;
	uint16_t port;
	const char *agent;        /* identity sent in HELLO (the host name) */
	const char *token;        /* NULL: none */
	uint64_t queue_max_bytes;  /* bound of a memory spool */
	const char *spool_dir;     /* NULL: memory only */
	uint64_t spool_max_bytes;  /* bound of a spool on disk */
	int64_t backoff_max_ms;
	int64_t ack_timeout_ms;
	/* TLS toward the receiver (tls.h, loaded now); NULL: plain TCP. */
	const struct vg_tls_client_options *tls;
	struct event_base *base;  /* borrowed */
	struct evdns_base *dns;   /* borrowed: resolves host without blocking base */
};

struct vg_sender_stats {
	uint64_t batches_sent;     /* frames written, counting resends */
	uint64_t batches_acked;
	uint64_t batches_dropped;  /* queue overflow or refused by the receiver */
	uint64_t samples_dropped;
	uint64_t queue_batches;
	uint64_t queue_bytes;
	uint64_t queue_max_bytes;  /* the spool's bound: full, it drops the oldest */
	uint64_t connects;         /* connections that got through HELLO */
	uint64_t connect_failures;
	uint64_t series;           /* refs in the dictionary */
	uint64_t samples_refused;  /* stored batches' samples a receiver's limit refused */
	uint64_t series_refused;
	unsigned proto;            /* the protocol spoken: 2, or 1 after a fallback */
};

struct vg_sender;

/* Creates the sender and starts connecting. */
int vg_sender_new(const struct vg_sender_options *opts, struct vg_sender **out, struct vg_err *err);
void vg_sender_free(struct vg_sender *s);

/* The ref of the series whose key (vg_series_key) is key[0, len) and hash
 * vg_series_key_hash of it, creating it. */
int vg_sender_ref(struct vg_sender *s, const uint8_t *key, size_t len, uint64_t hash, uint32_t *ref);

/* Encodes and queues one batch; sends it now if connected. */
int vg_sender_submit(struct vg_sender *s, int64_t ts_ms, size_t n, const uint32_t *refs,
		     const double *values, struct vg_err *err);

void vg_sender_get_stats(const struct vg_sender *s, struct vg_sender_stats *out);
/* Whether every batch submitted so far is acknowledged (or dropped). */
bool vg_sender_is_idle(const struct vg_sender *s);

#endif
