/*
 * import.c: POST /api/v1/import/prometheus (import.h), streamed.
 *
 * Why a filter under evhttp. libevent 2.1.12's evhttp (Debian 12) reads a
 * request's whole body into memory before it calls any handler, up to
 * evhttp_set_max_body_size. The hooks that would stream it do not reach a
 * server: evhttp_request_set_chunked_cb and evhttp_request_set_header_cb
 * are per request, and a server's requests are made inside evhttp
 * (evhttp_associate_new_request_with_connection) with no callback before
 * their headers and body are read; evhttp_set_newreqcb, which would give
 * one, came only in 2.2. Nor does 2.1 take an accepted socket from the
 * caller: its listeners call the static evhttp_get_request. What 2.1 does
 * offer is evhttp_set_bevcb: the server asks us for the bufferevent of
 * each connection it accepts. We give it a filter bufferevent over the
 * socket's, so every byte passes through filter_in below before evhttp sees
 * it. The filter reads request heads itself (request line and the framing
 * headers, as evhttp frames them: Transfer-Encoding "chunked" exactly, else
 * Content-Length, else no body). Any request but an import is handed to
 * evhttp byte for byte. An import is kept from evhttp entirely: its body
 * is decoded here (Content-Length or chunked, then gzip if so encoded),
 * parsed line by line as it arrives, and this module writes the answer on
 * the socket itself; evhttp meanwhile waits for a next request that comes
 * only after the answer, so the connection stays usable (keep-alive). What
 * this relies on in 2.1.12, read in its http.c and bufferevent_filter.c,
 * and what it mends there:
 *  - evhttp writes a reply while the filter's writing is disabled and then
 *    enables it, which does not make a filter process its output (only
 *    adding data or the socket's write callback do): the reply would wait
 *    for a timeout. So an evbuffer callback on the filter's output asks for
 *    a flush on the next loop round (kick). And evhttp takes "the filter's
 *    output is empty" for "sent", closing at once after a Connection:
 *    close reply, which would drop what still sat in the socket
 *    bufferevent: so the output filter (filter_out) writes straight to the
 *    socket and keeps what the kernel does not take, with an EV_WRITE event
 *    of its own to go on, so "empty" means "in the kernel";
 *  - a filter that moves no bytes returns BEV_NEED_MORE, and then no read
 *    callback of evhttp runs (evhttp_read_cb would abort the process if it
 *    ran while evhttp is writing a reply), so in import states filter_in
 *    always says BEV_NEED_MORE;
 *  - the filter's own read timeout is reset only when it moves bytes, so it
 *    is switched off during an import and the socket's read timeout is
 *    used instead (evhttp turns a timeout or EOF into freeing the
 *    connection, as for any idle connection);
 *  - with BEV_OPT_CLOSE_ON_FREE on both bufferevents evhttp only shuts the
 *    socket down and the socket bufferevent closes it once its events are
 *    gone (finalized), so no stale event can meet a reused descriptor;
 *  - the filter's free_context runs when evhttp frees the connection, and
 *    tells an import in progress that its connection is gone;
 *  - evhttp reads the requests handed to it with its own parser, so the
 *    two must frame the bytes alike: where they would not (a NUL byte in
 *    a head ends a line's text for evhttp) the filter refuses the head.
 *    Were they still to differ, evhttp would wait inside a request whose
 *    end the filter has passed, and a head the filter keeps until evhttp
 *    has read its input would wait for ever, kicked again each time it is
 *    looked at: so when evhttp takes nothing of what it is handed
 *    (evhttp_is_stalled) that head is refused (400, then the close), and
 *    no connection is run more than once a loop round (kick_cb).
 *
 * HTTPS (opts.tls). The socket's bufferevent is then an OpenSSL one
 * (receiver/ingest/tls.h) and the filter sits on it, so evhttp and this
 * module see plaintext; nothing here touches the descriptor. The same
 * "empty means in the kernel" holds another way: filter_out copies
 * evhttp's output into the OpenSSL bufferevent and drains it from the
 * filter only once that bufferevent has written it all (SSL_write has put
 * every record into the socket), so evhttp's close after a Connection:
 * close reply loses nothing. evhttp then shuts the socket down without a
 * TLS close_notify (its bytes are framed by Content-Length, so clients
 * lose nothing either); a refusal of this module's own ends with one
 * (SSL_shutdown, in place of the plain path's shutdown(2)). A handshake
 * that fails (a plain-text client, a client certificate that does not
 * verify) is counted in http_refused and logged as a rate-limited
 * complaint; evhttp frees the connection as at any error. The head
 * timeout runs from the accept, so it bounds the handshake too.
 *
 * Refusals in the API's shape. What evhttp 2.1 would answer itself, with
 * an HTML page and none of the API's headers, has no hook there; so the
 * filter refuses it first (check_head), before evhttp sees the request:
 * a method outside VG_IMPORT_EVHTTP_METHODS (CONNECT, whose target is no
 * path, and any evhttp has no name for: 405; evhttp says 501; the others
 * reach the routes, whose 405 names what each takes),
 * a head or request line past max_headers_bytes (431, 414), more than
 * max_header_count fields (431), a head that does not parse, or of
 * another HTTP version (400, 505), what evhttp's own parse refuses (an
 * empty target, "http/1.1", a CR inside a header line, a NUL anywhere
 * in the head, an Expect
 * after a tab; 400, 417), folded lines, a Content-Length with a
 * Transfer-Encoding or twice (400: request smuggling), a
 * Transfer-Encoding other than chunked (501), a chunked body to any path
 * but the import (411), a body past max_body_bytes (413, before the body
 * is read), an Expect other than 100-continue (417), a target evhttp's
 * URI parser refuses (400). Each is the JSON envelope with the API's
 * headers (Date, the CORS headers), then Connection: close; the rest of
 * the peer's bytes are read and dropped, so the answer is not lost to a
 * reset, and evhttp frees the connection at the peer's EOF or its
 * timeout. Only evhttp's answer to an allocation failure stays its own.
 * docs/http-errors.md lists every error reply; tests/fuzz/fuzz_import.c
 * checks that none is evhttp's HTML.
 *
 * Why evhttp's own 413 stalled replies (test_http_api under
 * ThreadSanitizer, 4 runs in 8 before this filter refused it): evhttp
 * answered it from evhttp_connection_fail_ in the middle of the body this
 * filter was still passing on (C_PASS_BODY), then freed the connection;
 * the descriptor was shut down and closed at once, the next connection was
 * accepted on the same descriptor, and the HTTP thread made no further
 * system call (strace: accept4, one epoll_wait reporting the new
 * descriptor, then nothing for 20 s): most likely the old connection's
 * events, alive until its finalization, met the new one's descriptor;
 * which lock or loop then held the thread was not traced. The filter's 413 comes before any body byte is taken, evhttp
 * never sees the request, and the connection closes only when its reader
 * is done (20 runs in 20 under ThreadSanitizer).
 *
 * Streaming and bounds. The socket bufferevent has a read high-water mark
 * (BODY_BUFFER_BYTES), so the kernel buffers the rest. Each slice of body
 * (SLICE_BYTES, after gzip) is fed to the exposition parser; its samples
 * fill a batch (submit.h bounds a batch); a full batch is enqueued to the
 * ingest thread. While a session has MAX_INFLIGHT batches unanswered, or
 * the queue is full, it stops taking body bytes: the socket bufferevent
 * fills to its mark and stops reading, TCP pushes back on the client. A
 * batch's completion (once ingest stored it) resumes it; the last batch of
 * a body asks for the WAL sync, and the answer waits for it. So an
 * import holds at most MAX_INFLIGHT + 2 batches, one line of the parser
 * and BODY_BUFFER_BYTES, whatever the size of the body.
 *
 * The answer, once every batch is answered: 204 when every line was
 * stored; 200 with a JSON summary when some lines were rejected (the rest
 * is stored); 400 for a body that cannot be decoded (bad chunking or gzip:
 * what came before is stored); 503 when storage refused a batch (the
 * receiver cannot make data durable). The summary:
 *   {"status":"success","data":{"samples":N,"series_created":N,"lines":N,
 *    "rejected_lines":N,"rejected":[{"line":N,"error":"..."},...]}}
 * with the first MAX_REPORTED rejected lines; errors add "status":"error",
 * "errorType" and "error" with the same "data". Lines without a timestamp
 * take the time the request began, or the "timestamp" parameter (ms), as
 * VictoriaMetrics's endpoint; "extra_label=name=value" (repeatable) adds
 * or replaces a label on every series.
 */
#include "receiver/http/import.h"
#include "receiver/http/auth.h"
#include "receiver/http/cors.h"
#include "receiver/http/http_form.h"
#include "receiver/ingest/submit.h"
#include "receiver/ingest/tls.h"
#include "receiver/stats.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/exposition.h"
#include "common/json.h"
#include "common/log.h"
#include "common/series.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <zlib.h>

#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h> /* ev_read: tls_read_pending */
#include <event2/event.h>
#include <event2/http.h>

#include "common/banned.h"

#define BODY_BUFFER_BYTES (256 * 1024)
#define SLICE_BYTES (16 * 1024)
#define MAX_INFLIGHT 4
#define MAX_REPORTED 10
#define MAX_SPARE_BATCHES 2
#define CHUNK_LINE_MAX 1024
#define TRAILER_MAX (64 * 1024)
#define ORIGIN_MAX 256
/* Most of evhttp's output copied into the TLS layer at once (filter_out). */
#define TLS_COPY_BYTES (256 * 1024)
/* How long a refused peer may go on sending before its connection closes. */
#define LINGER_MS 2000
#define HEAD_LINGER_MS 100

enum conn_state {
	C_HEAD,      /* before or inside a request head */
	C_PASS_BODY, /* handing evhttp a body of cl_left bytes */
	C_PASS_ALL,  /* handing evhttp everything, unread */
	C_IMPORT,    /* an import body, into the session */
	C_REPLY,     /* its body has ended: waiting for storage */
	C_DISCARD,   /* answered and closing: input is dropped */
};

enum chunk_state { CK_SIZE, CK_DATA, CK_DATA_END, CK_TRAILER };

struct session;

struct conn {
	struct vg_import *imp;
	struct bufferevent *under; /* the socket's (with TLS, OpenSSL's) */
	struct bufferevent *filt;  /* evhttp's, over under */
	bool has_tls;
	bool is_handshaken;  /* TLS: the handshake completed */
	size_t tls_copied;   /* TLS: bytes at the front of the filter's output
			      * already copied into under's output */
	/* The filter's callbacks on under, which ours wrap (under_read_cb). */
	bufferevent_data_cb under_read, under_write;
	bufferevent_event_cb under_event;
	void *under_arg;
	enum conn_state state;
	size_t head_scan;    /* bytes of a head already scanned for its end */
	uint64_t cl_left;    /* body bytes still to come (not chunked) */
	bool is_chunked;
	enum chunk_state ck;
	uint64_t chunk_left;
	size_t trailer_bytes;
	bool wants_close;    /* answer with Connection: close */
	bool is_http10;
	bool is_kicked;      /* on imp->kicked or imp->kicking */
	bool is_waiting_evhttp; /* the head at the front of the input waits
				 * for evhttp to read what it was given */
	bool is_head_req;    /* the request answered is a HEAD: no body */
	const char *allow;   /* an Allow header for a 405, static */
	bool wants_challenge; /* a 401: WWW-Authenticate */
	char origin[ORIGIN_MAX]; /* the request's Origin, "" when none */
	struct session *sess;
	struct evbuffer_cb_entry *drain_cb; /* shuts down once the answer left */
	struct evbuffer_cb_entry *out_cb;   /* kicks when evhttp writes */
	struct event *write_ev;             /* the socket is writable again */
	struct event *head_ev;  /* a head must end by then; after a refusal,
				 * the connection closes by then */
	struct conn *prev, *next, *next_kick;
};

struct rejected {
	uint64_t line;
	char reason[160];
};

struct session {
	struct vg_import *imp;
	struct conn *conn; /* NULL once the connection is gone */
	struct vg_http_form form; /* the query; holds the extra labels' bytes */
	struct vg_label extra[VG_SERIES_MAX_LABELS];
	size_t n_extra;
	struct vg_exposition *parser;
	bool is_gzip, has_z, is_z_end, z_has_more;
	z_stream z;
	uint8_t *zout;
	int64_t default_ts_ms;
	struct vg_submit_batch *cur;     /* being filled */
	struct vg_submit_batch *pending; /* refused with VG_EAGAIN, in order */
	struct vg_submit_batch *spare;
	unsigned n_spare;
	unsigned n_inflight;
	bool is_waiting_room;
	struct session *next_waiting;
	uint64_t samples, series_created, body_bytes;
	uint64_t rejected_lines;
	struct rejected first[MAX_REPORTED];
	size_t n_first;
	int store_rc;
	char store_error[VG_ERR_MSG_MAX];
	char body_error[VG_ERR_MSG_MAX];
};

struct vg_import {
	struct vg_import_options opts;
	struct vg_submit_client *client;
	struct event *kick_ev;
	struct conn *conns;           /* every connection, for stop */
	size_t n_conns;
	bool is_full;                 /* n_conns reached max_connections */
	struct conn *kicked;          /* to run the filter again next round */
	struct conn *kicking;         /* those kick_cb runs now */
	bool is_kicking;              /* kick_cb is running */
	struct session *waiting;      /* sessions with a batch refused for room */
	struct session *orphans;      /* connection gone, batches in flight */
	struct vg_complaint tls_complaint; /* failed handshakes */
};

static void pump(struct conn *c);
static void maybe_reply(struct conn *c);
static void arm_head_timer(struct conn *c, int64_t ms);

/*
 * Whether evhttp still uses c. It frees a connection's bufferevent with
 * bufferevent_free, which clears the callbacks at once but finalizes (and
 * calls conn_free) only on a later loop round; in between, touching the
 * filter would revive it (libevent warns "too few references" and
 * finalizes it again). Everything that reaches a connection from outside
 * its own filter callbacks asks this first.
 */
static bool is_live(const struct conn *c)
{
	bufferevent_event_cb ecb = NULL;

	bufferevent_getcb(c->filt, NULL, NULL, &ecb, NULL);
	return ecb != NULL;
}

/* ------------------------------------------------------------------------
 * Sessions: the parser and the batches of one import */

static void session_free(struct session *s)
{
	struct vg_submit_batch *b, *next;

	if (s == NULL)
		return;
	vg_exposition_free(s->parser);
	if (s->has_z)
		inflateEnd(&s->z);
	free(s->zout);
	vg_http_form_release(&s->form);
	vg_submit_batch_free(s->cur);
	for (b = s->pending; b; b = next) {
		next = b->next;
		vg_submit_batch_free(b);
	}
	for (b = s->spare; b; b = next) {
		next = b->next;
		vg_submit_batch_free(b);
	}
	free(s);
}

static bool session_is_blocked(const struct session *s)
{
	return s->pending != NULL || s->n_inflight >= MAX_INFLIGHT || s->store_rc != 0;
}

static bool session_is_idle(const struct session *s)
{
	return s->pending == NULL && s->n_inflight == 0;
}

static struct vg_submit_batch *get_batch(struct session *s)
{
	struct vg_submit_batch *b = s->spare;

	if (b != NULL) {
		s->spare = b->next;
		s->n_spare--;
		b->next = NULL;
		return b;
	}
	return vg_submit_batch_new();
}

static void recycle(struct session *s, struct vg_submit_batch *b)
{
	if (s->n_spare >= MAX_SPARE_BATCHES) {
		vg_submit_batch_free(b);
		return;
	}
	vg_submit_batch_reset(b);
	b->next = s->spare;
	s->spare = b;
	s->n_spare++;
}

static void fail_store(struct session *s, int rc, const char *msg)
{
	if (s->store_rc == 0) {
		s->store_rc = rc;
		snprintf(s->store_error, sizeof(s->store_error), "%s", msg);
	}
}

static void unlink_orphan(struct session *s)
{
	struct session **pp = &s->imp->orphans;

	while (*pp && *pp != s)
		pp = &(*pp)->next_waiting;
	if (*pp)
		*pp = s->next_waiting;
}

static void batch_done(struct vg_submit_batch *b, void *arg)
{
	struct session *s = arg;

	s->n_inflight--;
	if (b->rc != 0)
		fail_store(s, b->rc, b->error);
	else {
		s->samples += b->n;
		s->series_created += b->series_created;
	}
	recycle(s, b);
	if (s->conn == NULL) {
		if (session_is_idle(s)) {
			unlink_orphan(s);
			session_free(s);
		}
		return;
	}
	if (s->conn->state == C_REPLY)
		maybe_reply(s->conn);
	else
		pump(s->conn);
}

static void wait_room(struct session *s)
{
	if (s->is_waiting_room)
		return;
	s->is_waiting_room = true;
	s->next_waiting = s->imp->waiting;
	s->imp->waiting = s;
}

/* Enqueues the pending batches in order; false while one is refused. */
static bool flush_pending(struct session *s)
{
	while (s->pending) {
		struct vg_submit_batch *b = s->pending, *next = b->next;
		int rc;

		/* Unlinked before it is handed over: once enqueued, the batch
		 * is the ingest thread's, and its link is the queue's. */
		b->next = NULL;
		rc = vg_submit_enqueue(s->imp->client, b, batch_done, s);
		if (rc == VG_EAGAIN) {
			b->next = next;
			wait_room(s);
			return false;
		}
		s->pending = next;
		if (rc != 0) {
			fail_store(s, VG_EIO, "the receiver is stopping");
			vg_submit_batch_free(b);
			continue;
		}
		s->n_inflight++;
	}
	return true;
}

/* Submits the batch being filled; the last one of a body (is_last, even
 * empty) asks for the WAL sync that makes all of them durable. */
static void submit_cur(struct session *s, bool is_last)
{
	struct vg_submit_batch *b = s->cur, **pp;

	if (is_last && b == NULL && (b = get_batch(s)) == NULL) {
		fail_store(s, VG_ENOMEM, "out of memory");
		return;
	}
	if (b == NULL || (b->n == 0 && !is_last))
		return;
	b->needs_sync = is_last;
	s->cur = NULL;
	for (pp = &s->pending; *pp; pp = &(*pp)->next)
		;
	*pp = b;
	flush_pending(s);
}

static int on_sample(void *arg, const struct vg_exposition_sample *smp)
{
	struct session *s = arg;
	int64_t ts = smp->has_timestamp ? smp->ts_ms : s->default_ts_ms;

	if (s->store_rc != 0)
		return 0; /* storage failed: the rest is only counted */
	if (s->cur == NULL && (s->cur = get_batch(s)) == NULL) {
		fail_store(s, VG_ENOMEM, "out of memory");
		return 0;
	}
	if (vg_submit_batch_add(s->cur, smp->series, vg_series_hash(smp->series), ts, smp->value) != 0) {
		fail_store(s, VG_ENOMEM, "out of memory");
		return 0;
	}
	if (vg_submit_batch_is_full(s->cur))
		submit_cur(s, false);
	return 0;
}

static int on_error(void *arg, uint64_t line, int code, const char *reason)
{
	struct session *s = arg;

	(void)code;
	s->rejected_lines++;
	if (s->n_first < MAX_REPORTED) {
		s->first[s->n_first].line = line;
		snprintf(s->first[s->n_first].reason, sizeof(s->first[0].reason), "%s", reason);
		s->n_first++;
	}
	return 0;
}

/* Feeds body bytes (before gzip); returns how many were taken, which is
 * fewer than n only when the session became blocked. For gzip, output the
 * stream still holds for the bytes taken is left for the next call
 * (z_has_more; n may be 0 then). */
static size_t session_feed(struct session *s, const uint8_t *p, size_t n)
{
	size_t taken = 0;
	int rc, zrc;

	if (!s->is_gzip) {
		while (taken < n && !session_is_blocked(s)) {
			size_t k = n - taken < SLICE_BYTES ? n - taken : SLICE_BYTES;
			if ((rc = vg_exposition_feed(s->parser, p + taken, k)) != 0)
				fail_store(s, rc, "out of memory");
			taken += k;
			s->body_bytes += k;
		}
		return taken;
	}
	s->z.next_in = (Bytef *)(uintptr_t)p;
	s->z.avail_in = (uInt)n;
	while ((s->z.avail_in > 0 || s->z_has_more) && !session_is_blocked(s) && s->body_error[0] == '\0') {
		size_t out;

		if (s->is_z_end) {
			/* Another gzip member (gzip(1) concatenates them). */
			inflateReset(&s->z);
			s->is_z_end = false;
		}
		s->z.next_out = s->zout;
		s->z.avail_out = SLICE_BYTES;
		zrc = inflate(&s->z, Z_NO_FLUSH);
		out = SLICE_BYTES - s->z.avail_out;
		s->z_has_more = s->z.avail_out == 0;
		if (zrc == Z_STREAM_END) {
			s->is_z_end = true;
			s->z_has_more = false;
		} else if (zrc == Z_BUF_ERROR) {
			s->z_has_more = false; /* no progress without more input */
		} else if (zrc != Z_OK) {
			snprintf(s->body_error, sizeof(s->body_error), "gzip: %s",
				 s->z.msg ? s->z.msg : "cannot decompress the body");
		}
		if (out > 0) {
			if ((rc = vg_exposition_feed(s->parser, s->zout, out)) != 0)
				fail_store(s, rc, "out of memory");
			s->body_bytes += out;
		}
		if (zrc == Z_BUF_ERROR)
			break;
	}
	taken = n - s->z.avail_in;
	s->z.next_in = NULL;
	s->z.avail_in = 0;
	return s->body_error[0] ? n : taken;
}

static void session_end(struct session *s)
{
	int rc;

	if (s->is_gzip && !s->is_z_end && s->body_error[0] == '\0' && s->z.total_in > 0)
		snprintf(s->body_error, sizeof(s->body_error), "gzip: the body ends inside the stream");
	if ((rc = vg_exposition_finish(s->parser)) != 0)
		fail_store(s, rc, "out of memory");
	if (s->store_rc == 0)
		submit_cur(s, true);
}

/* ------------------------------------------------------------------------
 * Answers, written on the socket itself */

static void json_counts(struct vg_buf *b, const struct session *s)
{
	vg_buf_printf(b, "\"data\":{\"samples\":%llu,\"series_created\":%llu,\"lines\":%llu,\"rejected_lines\":%llu,\"rejected\":[",
		      (unsigned long long)s->samples, (unsigned long long)s->series_created,
		      (unsigned long long)vg_exposition_stats(s->parser)->lines,
		      (unsigned long long)s->rejected_lines);
	for (size_t i = 0; i < s->n_first; i++) {
		vg_buf_printf(b, "%s{\"line\":%llu,\"error\":", i ? "," : "", (unsigned long long)s->first[i].line);
		vg_json_cstr(b, s->first[i].reason);
		vg_buf_putc(b, '}');
	}
	vg_buf_puts(b, "]}");
}

static const char *status_text(int code)
{
	switch (code) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

static void drain_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;

	(void)info;
	if (evbuffer_get_length(buf) != 0 || c->drain_cb == NULL || !is_live(c))
		return;
	evbuffer_remove_cb_entry(buf, c->drain_cb);
	c->drain_cb = NULL;
	/* The answer has left: the peer reads it, then our EOF; evhttp frees
	 * the connection when the peer closes or its timeout passes. With
	 * TLS the EOF is a close_notify (OpenSSL writes it on the socket
	 * itself, the bufferevent's output being empty; reading goes on). */
	if (c->has_tls)
		SSL_shutdown(bufferevent_openssl_get_ssl(c->under));
	else
		shutdown(bufferevent_getfd(c->under), SHUT_WR);
}

static void restore_timeouts(struct conn *c)
{
	struct timeval tv = { c->imp->opts.timeout_s, 0 };

	bufferevent_set_timeouts(c->under, NULL, NULL);
	if (c->imp->opts.timeout_s > 0)
		bufferevent_set_timeouts(c->filt, &tv, &tv);
}

static void kick(struct conn *c)
{
	if (c->is_kicked)
		return;
	c->is_kicked = true;
	c->next_kick = c->imp->kicked;
	c->imp->kicked = c;
	if (!c->imp->is_kicking)
		event_active(c->imp->kick_ev, EV_TIMEOUT, 0);
	/* else kick_cb schedules the next round when it ends */
}

/* Writes an answer (body may be NULL) and ends the import on c: the
 * connection goes back to evhttp, or closes after the answer. */
static void answer(struct conn *c, int code, const struct vg_buf *body, const struct session *s)
{
	struct evbuffer *out = bufferevent_get_output(c->under);
	size_t len = body ? body->len : 0;

	if (!is_live(c)) {
		c->state = C_DISCARD;
		return;
	}
	evbuffer_add_printf(out, "HTTP/1.%d %d %s\r\n", c->is_http10 ? 0 : 1, code, status_text(code));
	{
		/* Date, as evhttp puts it on its replies (the CORS headers
		 * expose it): every answer carries the API's headers. */
		char date[64];
		time_t now = time(NULL);
		struct tm tm;
		if (gmtime_r(&now, &tm) != NULL && strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0)
			evbuffer_add_printf(out, "Date: %s\r\n", date);
	}
	if (code != 204)
		evbuffer_add_printf(out, "Content-Type: application/json\r\nContent-Length: %zu\r\n", len);
	if (c->origin[0]) {
		const char *allow_origin = vg_http_cors_allow(c->imp->opts.cors, c->origin);
		if (allow_origin)
			evbuffer_add_printf(out, "Access-Control-Allow-Origin: %s\r\n", allow_origin);
		for (size_t i = 0; vg_http_cors_fixed[i][0]; i++)
			evbuffer_add_printf(out, "%s: %s\r\n", vg_http_cors_fixed[i][0], vg_http_cors_fixed[i][1]);
	}
	if (c->allow)
		evbuffer_add_printf(out, "Allow: %s\r\n", c->allow);
	if (c->wants_challenge)
		evbuffer_add_printf(out, "WWW-Authenticate: Bearer realm=\"vigil\"\r\n"
					 "WWW-Authenticate: Basic realm=\"vigil\", charset=\"UTF-8\"\r\n");
	c->wants_challenge = false;
	if (s != NULL)
		/* Counts for clients of a 204 (vigil import's summary). */
		evbuffer_add_printf(out, "X-Vigil-Samples: %llu\r\nX-Vigil-Series-Created: %llu\r\nX-Vigil-Lines: %llu\r\nX-Vigil-Rejected-Lines: %llu\r\n",
				    (unsigned long long)s->samples, (unsigned long long)s->series_created,
				    (unsigned long long)vg_exposition_stats(s->parser)->lines,
				    (unsigned long long)s->rejected_lines);
	if (c->wants_close)
		evbuffer_add_printf(out, "Connection: close\r\n");
	else if (c->is_http10)
		evbuffer_add_printf(out, "Connection: keep-alive\r\n");
	evbuffer_add(out, "\r\n", 2);
	if (len && !c->is_head_req)
		evbuffer_add(out, body->data, len);
	c->allow = NULL;
	c->is_head_req = false;
	restore_timeouts(c);
	if (c->wants_close) {
		c->state = C_DISCARD;
		c->drain_cb = evbuffer_add_cb(out, drain_cb, c);
	} else {
		c->state = C_HEAD;
		c->head_scan = 0;
		kick(c); /* a next request may be waiting in the buffer */
	}
}

static void answer_error(struct conn *c, int code, const char *type, const char *msg, const struct session *s)
{
	struct vg_buf b = VG_BUF_INIT;

	vg_buf_puts(&b, "{\"status\":\"error\",\"errorType\":\"");
	vg_buf_puts(&b, type);
	vg_buf_puts(&b, "\",\"error\":");
	vg_json_cstr(&b, msg);
	if (s) {
		vg_buf_putc(&b, ',');
		json_counts(&b, s);
	}
	vg_buf_puts(&b, "}");
	answer(c, code, vg_buf_failed(&b) ? NULL : &b, s);
	vg_buf_release(&b);
}

static void maybe_reply(struct conn *c)
{
	struct session *s = c->sess;
	struct vg_buf b = VG_BUF_INIT;

	if (c->state != C_REPLY || !session_is_idle(s))
		return;
	c->sess = NULL;
	s->conn = NULL;
	if (s->store_rc != 0) {
		answer_error(c, 503, "unavailable", s->store_error, s);
	} else if (s->body_error[0]) {
		answer_error(c, 400, "bad_data", s->body_error, s);
	} else if (s->rejected_lines == 0) {
		answer(c, 204, NULL, s);
	} else {
		vg_buf_puts(&b, "{\"status\":\"success\",");
		json_counts(&b, s);
		vg_buf_puts(&b, "}");
		answer(c, 200, vg_buf_failed(&b) ? NULL : &b, s);
	}
	vg_buf_release(&b);
	session_free(s);
}

/* ------------------------------------------------------------------------
 * Bodies */

/* Ends an import body: the rest of the parse, the last batch, the answer
 * once storage has answered. */
static void body_end(struct conn *c)
{
	c->state = C_REPLY;
	session_end(c->sess);
	maybe_reply(c);
}

static void body_fail(struct conn *c, const char *msg)
{
	snprintf(c->sess->body_error, sizeof(c->sess->body_error), "%s", msg);
	c->wants_close = true; /* the framing is lost: the connection too */
	body_end(c);
}

/* Feeds up to n body bytes from the front of in; returns how many were
 * taken (they are drained). */
static size_t feed_from(struct conn *c, struct evbuffer *in, size_t n)
{
	struct evbuffer_iovec v;
	size_t k, taken;

	if (evbuffer_peek(in, (ev_ssize_t)n, NULL, &v, 1) < 1)
		return 0;
	k = v.iov_len < n ? v.iov_len : n;
	taken = session_feed(c->sess, v.iov_base, k);
	evbuffer_drain(in, taken);
	return taken;
}

/* Reads a line of chunk framing (without its LF, and CR); false if it has
 * not all arrived. *bad is set when it is too long. */
static bool read_frame_line(struct evbuffer *in, char *line, size_t cap, size_t *len, bool *bad)
{
	struct evbuffer_ptr e;
	size_t eol_len = 0;

	*bad = false;
	e = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	if (e.pos < 0) {
		*bad = evbuffer_get_length(in) > cap;
		return false;
	}
	if ((size_t)e.pos >= cap) {
		*bad = true;
		return false;
	}
	evbuffer_remove(in, line, (size_t)e.pos);
	evbuffer_drain(in, eol_len);
	*len = (size_t)e.pos;
	if (*len > 0 && line[*len - 1] == '\r')
		(*len)--;
	line[*len] = '\0';
	return true;
}

/*
 * With TLS, OpenSSL may hold plaintext of a record it decrypted in part
 * when the socket bufferevent reached its read mark (consider_reading in
 * libevent 2.1.12's bufferevent_openssl.c); resuming its reading only
 * waits for the socket, which at the end of a body stays silent. So
 * once pump has made room, its read event is run by hand: it reads what
 * OpenSSL holds (or nothing, when the buffer is still full).
 */
static void tls_read_pending(struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->under);

	if (ssl != NULL && SSL_pending(ssl) > 0)
		event_active(&c->under->ev_read, EV_READ, 1);
}

static void pump_body(struct conn *c);

/* Takes body bytes while the session can: the import's side of the
 * filter, also run when a completion unblocks the session. */
static void pump(struct conn *c)
{
	pump_body(c);
	if (c->has_tls && is_live(c))
		tls_read_pending(c);
}

static void pump_body(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->under);

	if (!is_live(c))
		return; /* conn_free comes next and orphans the session */
	while (c->state == C_IMPORT && !session_is_blocked(c->sess) && c->sess->body_error[0] == '\0') {
		size_t avail = evbuffer_get_length(in);
		char line[CHUNK_LINE_MAX + 1];
		size_t len;
		bool bad;

		if (c->sess->z_has_more) {
			session_feed(c->sess, NULL, 0);
			continue;
		}
		if (!c->is_chunked) {
			if (c->cl_left == 0) {
				body_end(c);
				return;
			}
			if (avail == 0)
				return;
			c->cl_left -= feed_from(c, in, avail < c->cl_left ? avail : (size_t)c->cl_left);
			continue;
		}
		switch (c->ck) {
		case CK_SIZE: {
			char *end;
			unsigned long long n;

			if (!read_frame_line(in, line, sizeof(line), &len, &bad)) {
				if (bad)
					body_fail(c, "chunked body: chunk size line too long");
				return;
			}
			if (len == 0)
				continue; /* evhttp too allows an empty line here */
			n = strtoull(line, &end, 16);
			if (end == line || (*end != '\0' && *end != ';' && *end != ' ' && *end != '\t') ||
			    n > (1ull << 62)) {
				body_fail(c, "chunked body: bad chunk size");
				return;
			}
			c->chunk_left = n;
			c->ck = n == 0 ? CK_TRAILER : CK_DATA;
			c->trailer_bytes = 0;
			break;
		}
		case CK_DATA:
			if (avail == 0)
				return;
			c->chunk_left -= feed_from(c, in, avail < c->chunk_left ? avail : (size_t)c->chunk_left);
			if (c->chunk_left == 0)
				c->ck = CK_DATA_END;
			break;
		case CK_DATA_END:
			if (!read_frame_line(in, line, sizeof(line), &len, &bad)) {
				if (bad)
					body_fail(c, "chunked body: no CRLF after a chunk");
				return;
			}
			if (len != 0) {
				body_fail(c, "chunked body: no CRLF after a chunk");
				return;
			}
			c->ck = CK_SIZE;
			break;
		case CK_TRAILER:
			if (!read_frame_line(in, line, sizeof(line), &len, &bad)) {
				if (bad)
					body_fail(c, "chunked body: trailer line too long");
				return;
			}
			c->trailer_bytes += len + 2;
			if (c->trailer_bytes > TRAILER_MAX) {
				body_fail(c, "chunked body: trailer too long");
				return;
			}
			if (len == 0) {
				body_end(c);
				return;
			}
			break;
		}
	}
	if (c->state == C_IMPORT && c->sess->body_error[0] != '\0') {
		c->wants_close = true;
		body_end(c);
	}
}

/* ------------------------------------------------------------------------
 * Request heads */

struct head {
	const char *method;
	size_t method_len;
	const char *target;
	size_t target_len;
	bool is_http10;
	const char *cl, *te, *expect, *encoding, *connection, *origin, *authorization;
	size_t cl_len, te_len, expect_len, encoding_len, connection_len, origin_len, authorization_len;
	size_t n_headers;
	int n_cl, n_te; /* how often each came: twice is a smuggling attempt */
	bool has_fold;
	bool has_nul;        /* a NUL byte anywhere in the head */
	bool is_bad_version; /* a well-formed line of another HTTP version */
	bool is_expect_tabbed; /* an Expect value after a tab */
};

static bool span_eq_nocase(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && strncasecmp(p, s, n) == 0;
}

/* Splits head text h[0..n) (through its empty line) into struct head;
 * false if it is not a request head this module can follow. */
static bool parse_head(const char *h, size_t n, struct head *out)
{
	const char *p = h, *end = h + n, *eol, *sp1, *sp2;

	memset(out, 0, sizeof(*out));
	out->has_nul = memchr(h, '\0', n) != NULL;
	eol = memchr(p, '\n', (size_t)(end - p));
	if (eol == NULL)
		return false;
	sp1 = memchr(p, ' ', (size_t)(eol - p));
	if (sp1 == NULL)
		return false;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (sp2 == NULL)
		return false;
	out->method = p;
	out->method_len = (size_t)(sp1 - p);
	out->target = sp1 + 1;
	out->target_len = (size_t)(sp2 - sp1 - 1);
	if (out->target_len == 0)
		return false; /* evhttp refuses it too, in HTML */
	{
		size_t vl = (size_t)(eol - sp2 - 1);
		const char *v = sp2 + 1;
		if (vl > 0 && v[vl - 1] == '\r')
			vl--;
		/* "HTTP" is case-sensitive (RFC 9112, 2.3), as evhttp reads it. */
		if (vl == 8 && memcmp(v, "HTTP/1.0", 8) == 0) {
			out->is_http10 = true;
		} else if (vl != 8 || memcmp(v, "HTTP/1.1", 8) != 0) {
			out->is_bad_version = vl == 8 && strncmp(v, "HTTP/", 5) == 0 && v[5] >= '0' &&
					      v[5] <= '9' && v[6] == '.' && v[7] >= '0' && v[7] <= '9';
			return false;
		}
	}
	for (p = eol + 1; p < end; p = eol + 1) {
		const char *colon, *v, *ve;

		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			return false;
		ve = eol;
		if (ve > p && ve[-1] == '\r')
			ve--;
		if (ve == p)
			break; /* the empty line */
		if (*p == ' ' || *p == '\t') {
			out->has_fold = true;
			continue;
		}
		/* A CR inside a line is a field evhttp refuses
		 * (evhttp_add_header): refused here in its place. (A NUL
		 * is refused in check_head, has_nul.) */
		if (memchr(p, '\r', (size_t)(ve - p)) != NULL)
			return false;
		colon = memchr(p, ':', (size_t)(ve - p));
		if (colon == NULL || colon == p)
			return false;
		out->n_headers++;
		if (span_eq_nocase(p, (size_t)(colon - p), "Content-Length"))
			out->n_cl++;
		if (span_eq_nocase(p, (size_t)(colon - p), "Transfer-Encoding"))
			out->n_te++;
		for (v = colon + 1; v < ve && (*v == ' ' || *v == '\t'); v++)
			;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
#define HEADER(name, field)                                                                         \
	if (span_eq_nocase(p, (size_t)(colon - p), name) && out->field == NULL) {                    \
		out->field = v;                                                                      \
		out->field##_len = (size_t)(ve - v);                                                 \
	}
		/* evhttp skips only spaces before a value: a tab there makes
		 * an Expect it answers 417 itself, in HTML. */
		if (span_eq_nocase(p, (size_t)(colon - p), "Expect") && memchr(colon + 1, '\t', (size_t)(v - colon - 1)))
			out->is_expect_tabbed = true;
		HEADER("Content-Length", cl)
		HEADER("Transfer-Encoding", te)
		HEADER("Expect", expect)
		HEADER("Content-Encoding", encoding)
		HEADER("Connection", connection)
		HEADER("Origin", origin)
		HEADER("Authorization", authorization)
#undef HEADER
	}
	return true;
}

/* As evhttp_method_may_have_body for the methods evhttp knows; a method
 * it does not know gets no body there either. */
static bool method_has_body(const struct head *h)
{
	static const char *const with_body[] = { "POST", "PUT", "PATCH", "GET", "DELETE", "OPTIONS", "CONNECT" };

	for (size_t i = 0; i < sizeof(with_body) / sizeof(with_body[0]); i++)
		if (strlen(with_body[i]) == h->method_len && memcmp(h->method, with_body[i], h->method_len) == 0)
			return true;
	return false;
}

/* A Content-Length as evhttp reads it (digits, no sign, fits int64). */
static bool parse_cl(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 18)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return true;
}

static bool is_import(const struct head *h)
{
	size_t path_len = h->target_len;
	const char *q = memchr(h->target, '?', h->target_len);

	if (q)
		path_len = (size_t)(q - h->target);
	return h->method_len == 4 && memcmp(h->method, "POST", 4) == 0 &&
	       span_eq_nocase(h->target, path_len, VG_IMPORT_PATH) &&
	       memcmp(h->target, VG_IMPORT_PATH, path_len) == 0;
}

/* Sets up the session of an import; on a bad request answers it and
 * returns false. */
static bool start_import(struct conn *c, const struct head *h)
{
	struct vg_import *imp = c->imp;
	struct vg_exposition_config cfg = { 0 };
	const char *q = memchr(h->target, '?', h->target_len);
	struct session *s;
	struct vg_err err;
	char msg[VG_ERR_MSG_MAX + 64];

	if (h->connection && span_eq_nocase(h->connection, h->connection_len, "close"))
		c->wants_close = true;
	if (h->is_http10 && !(h->connection && span_eq_nocase(h->connection, h->connection_len, "keep-alive")))
		c->wants_close = true;
	c->is_http10 = h->is_http10;
	if (imp->opts.submit == NULL || imp->client == NULL) {
		c->wants_close = true;
		answer_error(c, 503, "unavailable", "this receiver does not store imports", NULL);
		return false;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		c->wants_close = true;
		answer_error(c, 500, "internal", "out of memory", NULL);
		return false;
	}
	s->imp = imp;
	vg_http_form_init(&s->form);
	s->default_ts_ms = vg_clock_now_ms();
	if (q && vg_http_form_parse(&s->form, q + 1, (size_t)(h->target + h->target_len - q - 1), &err) != 0) {
		snprintf(msg, sizeof(msg), "error parsing form values: %s", err.msg);
		goto bad;
	}
	for (size_t i = 0; i < s->form.n; i++) {
		const char *name = vg_http_form_name(&s->form, i);
		size_t vlen;
		const char *v = vg_http_form_value(&s->form, i, &vlen), *eq;

		if (strcmp(name, "timestamp") == 0) {
			char *end;
			long long ms = strtoll(v, &end, 10);
			if (vlen == 0 || *end != '\0') {
				snprintf(msg, sizeof(msg), "invalid parameter \"timestamp\": \"%.64s\" is not integer milliseconds", v);
				goto bad;
			}
			s->default_ts_ms = ms;
			continue;
		}
		if (strcmp(name, "extra_label") != 0)
			continue;
		eq = memchr(v, '=', vlen);
		if (eq == NULL) {
			snprintf(msg, sizeof(msg), "invalid parameter \"extra_label\": \"%.64s\" is not name=value", v);
			goto bad;
		}
		if (s->n_extra >= VG_SERIES_MAX_LABELS) {
			snprintf(msg, sizeof(msg), "more than %d extra_label parameters", VG_SERIES_MAX_LABELS);
			goto bad;
		}
		s->extra[s->n_extra].name = (struct vg_str){ v, (uint32_t)(eq - v) };
		s->extra[s->n_extra].value = (struct vg_str){ eq + 1, (uint32_t)(vlen - (size_t)(eq - v) - 1) };
		s->n_extra++;
	}
	if (h->encoding && span_eq_nocase(h->encoding, h->encoding_len, "gzip")) {
		s->is_gzip = true;
		s->zout = malloc(SLICE_BYTES);
		if (s->zout == NULL || inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK) {
			snprintf(msg, sizeof(msg), "out of memory");
			goto fail500;
		}
		s->has_z = true;
	} else if (h->encoding && h->encoding_len > 0 && !span_eq_nocase(h->encoding, h->encoding_len, "identity")) {
		c->wants_close = true;
		snprintf(msg, sizeof(msg), "unsupported Content-Encoding \"%.*s\" (gzip or none)",
			 (int)(h->encoding_len > 32 ? 32 : h->encoding_len), h->encoding);
		answer_error(c, 415, "bad_data", msg, NULL);
		session_free(s);
		return false;
	}
	cfg.extra_labels = s->extra;
	cfg.n_extra_labels = s->n_extra;
	cfg.on_sample = on_sample;
	cfg.on_error = on_error;
	cfg.ctx = s;
	if (vg_exposition_new(&cfg, &s->parser, &err) != 0) {
		snprintf(msg, sizeof(msg), "invalid parameter \"extra_label\": %s", err.msg);
		if (err.code == VG_ENOMEM)
			goto fail500;
		goto bad;
	}
	s->conn = c;
	c->sess = s;
	return true;
bad:
	c->wants_close = true;
	answer_error(c, 400, "bad_data", msg, NULL);
	session_free(s);
	return false;
fail500:
	c->wants_close = true;
	answer_error(c, 500, "internal", msg, NULL);
	session_free(s);
	return false;
}

/* head_end's answers besides a length. */
#define HEAD_INCOMPLETE 0
#define HEAD_TOO_LONG (-1)     /* the head passed max_headers_bytes */
#define HEAD_LINE_TOO_LONG (-2) /* so did its request line alone */

/* The end of the head at the front of in: its length through the empty
 * line, HEAD_INCOMPLETE while it has not all come, or one of the too-long
 * answers. Leading empty lines are dropped first (RFC 9112, 2.2: a server
 * should ignore at least one before a request line). */
static ssize_t head_end(struct conn *c, struct evbuffer *in)
{
	size_t max = c->imp->opts.max_headers_bytes;

	if (c->head_scan == 0) {
		char two[2];
		ev_ssize_t k;
		while ((k = evbuffer_copyout(in, two, 2)) > 0) {
			if (two[0] == '\n')
				evbuffer_drain(in, 1);
			else if (k == 2 && two[0] == '\r' && two[1] == '\n')
				evbuffer_drain(in, 2);
			else
				break;
		}
	}
	for (;;) {
		struct evbuffer_ptr start, e;
		size_t eol_len = 0;
		char cr;

		evbuffer_ptr_set(in, &start, c->head_scan, EVBUFFER_PTR_SET);
		e = evbuffer_search_eol(in, &start, &eol_len, EVBUFFER_EOL_LF);
		if (e.pos < 0) {
			if (evbuffer_get_length(in) < max)
				return HEAD_INCOMPLETE;
			return c->head_scan == 0 ? HEAD_LINE_TOO_LONG : HEAD_TOO_LONG;
		}
		if ((size_t)e.pos + eol_len > max)
			return c->head_scan == 0 ? HEAD_LINE_TOO_LONG : HEAD_TOO_LONG;
		if ((size_t)e.pos == c->head_scan ||
		    ((size_t)e.pos == c->head_scan + 1 &&
		     evbuffer_copyout_from(in, &start, &cr, 1) == 1 && cr == '\r'))
			return (ssize_t)((size_t)e.pos + eol_len);
		c->head_scan = (size_t)e.pos + eol_len;
	}
}

/* Whether evhttp has answered everything it was given: then an answer
 * written here does not overtake one of its own. */
static bool evhttp_is_done(struct conn *c, struct evbuffer *dst)
{
	if (evbuffer_get_length(bufferevent_get_output(c->filt)) > 0)
		return false; /* the end of that write runs the filter again */
	if (evbuffer_get_length(dst) > 0) {
		/* evhttp has not read it yet: flush_both hands it over, and
		 * tells when evhttp will not take it (evhttp_is_stalled). */
		c->is_waiting_evhttp = true;
		kick(c);
		return false;
	}
	return true;
}

struct refusal {
	int code;
	const char *type, *msg;
	const char *allow; /* for a 405 */
};

/*
 * What evhttp would refuse with an HTML page of its own (or follow where
 * it should not), refused here first in the API's JSON shape (see
 * docs/http-errors.md). Returns false when h may pass.
 */
static bool check_head(struct conn *c, const struct head *h, struct refusal *r)
{
	const struct vg_import_options *o = &c->imp->opts;
	/* VG_IMPORT_EVHTTP_METHODS (import.h). */
	static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "TRACE", "OPTIONS" };
	uint64_t cl = 0;
	bool is_known = false;

	memset(r, 0, sizeof(*r));
	r->code = 400;
	r->type = "bad_data";
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i]) == h->method_len && memcmp(h->method, methods[i], h->method_len) == 0)
			is_known = true;
	if (!is_known) {
		r->code = 405;
		r->msg = "method not allowed";
		r->allow = "GET, HEAD, POST, OPTIONS"; /* what most paths take */
		return true;
	}
	if (o->max_header_count > 0 && h->n_headers > o->max_header_count) {
		r->code = 431;
		r->msg = "too many request header fields";
		return true;
	}
	if (h->has_fold) {
		r->msg = "obsolete header line folding";
		return true;
	}
	/* evhttp reads each line of a head as a C string, so a NUL ends
	 * the line's text for it: a line that starts with one is, to evhttp,
	 * the empty line that ends the head, and the lines after it a next
	 * request this filter never read (its method, its body length); a
	 * NUL inside a line cuts a name or value short. The two would frame
	 * the stream differently (and a request could pass this filter
	 * unseen), so a head with a NUL is refused (RFC 9110, 5.5, allows
	 * it). */
	if (h->has_nul) {
		r->msg = "NUL byte in the request head";
		return true;
	}
	if (h->n_cl > 1 || h->n_te > 1 || (h->te && h->cl)) {
		r->msg = "ambiguous request body length: Content-Length and Transfer-Encoding";
		return true;
	}
	if (h->te && !span_eq_nocase(h->te, h->te_len, "chunked")) {
		r->code = 501;
		r->type = "bad_data";
		r->msg = "unsupported Transfer-Encoding (chunked only)";
		return true;
	}
	if (h->te && !is_import(h)) {
		r->code = 411;
		r->msg = "a chunked body is taken only by the import: send Content-Length";
		return true;
	}
	if (h->cl && !parse_cl(h->cl, h->cl_len, &cl)) {
		r->msg = "invalid Content-Length";
		return true;
	}
	if (!is_import(h) && o->max_body_bytes > 0 && cl > o->max_body_bytes) {
		r->code = 413;
		r->msg = "request body too large";
		return true;
	}
	if (h->expect && (h->is_expect_tabbed || !span_eq_nocase(h->expect, h->expect_len, "100-continue"))) {
		r->code = 417;
		r->msg = "unsupported Expect";
		return true;
	}
	{
		/* evhttp's own parse of the target (lenient, as it reads it),
		 * whose failure it answers with an HTML 400. */
		char *t = strndup(h->target, h->target_len);
		struct evhttp_uri *u = t ? evhttp_uri_parse_with_flags(t, EVHTTP_URI_NONCONFORMANT) : NULL;
		bool is_bad = t != NULL && u == NULL;
		if (u)
			evhttp_uri_free(u);
		free(t);
		if (is_bad) {
			r->msg = "malformed request target";
			return true;
		}
	}
	return false;
}

/* Answers a refusal instead of evhttp, and closes after it (C_DISCARD):
 * what the peer still sends is read and dropped, so the answer is not lost
 * to a reset; evhttp frees the connection at the peer's EOF or its
 * timeout. */
static void refuse(struct conn *c, const struct refusal *r)
{
	if (c->imp->opts.stats)
		atomic_fetch_add_explicit(r->code == 401 || r->code == 403 ? &c->imp->opts.stats->http_auth_refused
									   : &c->imp->opts.stats->http_refused,
					  1, memory_order_relaxed);
	c->wants_close = true;
	c->allow = r->allow;
	answer_error(c, r->code, r->type, r->msg, NULL);
	arm_head_timer(c, LINGER_MS);
}

/* An import needs the admin scope (auth.h); false with the refusal. */
static bool authorize(struct conn *c, const struct head *h, struct refusal *r)
{
	enum vg_http_scope got = VG_HTTP_SCOPE_NONE;
	char value[4200];

	if (h->authorization && h->authorization_len < sizeof(value)) {
		memcpy(value, h->authorization, h->authorization_len);
		value[h->authorization_len] = '\0';
		got = vg_http_auth_check(c->imp->opts.auth, value);
	}
	if (got >= VG_HTTP_SCOPE_ADMIN)
		return true;
	memset(r, 0, sizeof(*r));
	if (got == VG_HTTP_SCOPE_NONE) {
		r->code = 401;
		r->type = "unauthorized";
		r->msg = "authentication required";
		c->wants_challenge = true;
	} else {
		r->code = 403;
		r->type = "forbidden";
		r->msg = "this credential may read, not administer";
	}
	return false;
}

static void keep_origin(struct conn *c, const struct head *h)
{
	c->origin[0] = '\0';
	if (h->origin && h->origin_len < sizeof(c->origin) && memchr(h->origin, '\0', h->origin_len) == NULL) {
		memcpy(c->origin, h->origin, h->origin_len);
		c->origin[h->origin_len] = '\0';
	}
}

/* The Origin of a head parse_head could not follow, for the refusal's
 * CORS headers: the first line that reads "Origin: ...". */
static void scan_origin(struct conn *c, const char *text, size_t n)
{
	const char *p = text, *end = text + n;

	c->origin[0] = '\0';
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *v, *ve;
		if (eol == NULL)
			break;
		if ((size_t)(eol - p) > 7 && strncasecmp(p, "Origin:", 7) == 0) {
			for (v = p + 7; v < eol && (*v == ' ' || *v == '\t'); v++)
				;
			for (ve = eol; ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'); ve--)
				;
			if ((size_t)(ve - v) < sizeof(c->origin) && memchr(v, '\0', (size_t)(ve - v)) == NULL) {
				memcpy(c->origin, v, (size_t)(ve - v));
				c->origin[ve - v] = '\0';
			}
			return;
		}
		p = eol + 1;
	}
}

/* The Origin among the first max_headers_bytes of a head that did not
 * end (too long, or too slow), for the refusal's CORS headers. */
static void scan_head_origin(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->under);
	size_t k = evbuffer_get_length(in);
	const unsigned char *p;

	c->origin[0] = '\0';
	if (k > c->imp->opts.max_headers_bytes)
		k = c->imp->opts.max_headers_bytes;
	p = k ? evbuffer_pullup(in, (ev_ssize_t)k) : NULL;
	if (p)
		scan_origin(c, (const char *)p, k);
}

/* Looks at the head at the front of src: passes it (and then its body) to
 * evhttp, starts an import, or refuses it. Returns whether bytes were
 * moved to dst. */
static bool on_head(struct conn *c, struct evbuffer *src, struct evbuffer *dst, bool *again)
{
	ssize_t n = head_end(c, src);
	struct head h;
	struct refusal r;
	char *text = NULL;
	struct timeval tv;

	*again = false;
	if (n == HEAD_INCOMPLETE)
		return false;
	if (n < 0) {
		memset(&r, 0, sizeof(r));
		r.code = n == HEAD_LINE_TOO_LONG ? 414 : 431;
		r.type = "bad_data";
		r.msg = n == HEAD_LINE_TOO_LONG ? "request line too long" : "request header fields too large";
		scan_head_origin(c);
		goto refused;
	}
	text = malloc((size_t)n);
	if (text == NULL || evbuffer_copyout(src, text, (size_t)n) != n) {
		free(text);
		c->state = C_PASS_ALL; /* out of memory: evhttp's to answer */
		*again = true;
		return false;
	}
	if (!parse_head(text, (size_t)n, &h)) {
		memset(&r, 0, sizeof(r));
		r.code = h.is_bad_version ? 505 : 400;
		r.type = "bad_data";
		r.msg = h.is_bad_version ? "HTTP version not supported (1.0 or 1.1)" : "malformed request head";
		scan_origin(c, text, (size_t)n);
		goto refused;
	}
	keep_origin(c, &h);
	c->is_head_req = h.method_len == 4 && memcmp(h.method, "HEAD", 4) == 0;
	if (check_head(c, &h, &r))
		goto refused;
	c->is_head_req = false;
	c->head_scan = 0;
	if (c->head_ev)
		evtimer_del(c->head_ev); /* the head came in time */
	if (!is_import(&h)) {
		/* Not ours: hand it over, and follow its body (checked: a
		 * plain length) to the next head. */
		if (method_has_body(&h) && h.cl) {
			parse_cl(h.cl, h.cl_len, &c->cl_left);
			c->state = c->cl_left ? C_PASS_BODY : C_HEAD;
		} else {
			c->state = C_HEAD;
		}
		free(text); /* h points into it */
		evbuffer_remove_buffer(src, dst, (size_t)n);
		*again = true;
		return true;
	}
	/* An import. Its answer must follow whatever evhttp still has to
	 * write for earlier requests. */
	if (!evhttp_is_done(c, dst)) {
		free(text);
		return false;
	}
	if (vg_http_auth_is_on(c->imp->opts.auth) && !authorize(c, &h, &r))
		goto refused;
	evbuffer_drain(src, (size_t)n);
	c->is_chunked = h.te != NULL;
	c->ck = CK_SIZE;
	c->cl_left = 0;
	if (!c->is_chunked && h.cl)
		parse_cl(h.cl, h.cl_len, &c->cl_left);
	if (!start_import(c, &h)) {
		free(text);
		*again = true; /* answered: drop what follows */
		return false;
	}
	if (h.expect && span_eq_nocase(h.expect, h.expect_len, "100-continue"))
		evbuffer_add_printf(bufferevent_get_output(c->under), "HTTP/1.1 100 Continue\r\n\r\n");
	free(text);
	/* evhttp's read timeout on the filter would only count bytes handed
	 * to evhttp: the socket's own timeout counts the body instead. */
	bufferevent_set_timeouts(c->filt, NULL, NULL);
	tv.tv_sec = c->imp->opts.timeout_s;
	tv.tv_usec = 0;
	if (c->imp->opts.timeout_s > 0)
		bufferevent_set_timeouts(c->under, &tv, NULL);
	c->state = C_IMPORT;
	pump(c);
	return false;
refused:
	free(text);
	if (!evhttp_is_done(c, dst)) {
		c->is_head_req = false;
		return false;
	}
	c->head_scan = 0;
	refuse(c, &r);
	*again = true; /* C_DISCARD: drop what follows */
	return false;
}

/* Forgets evhttp's connection as if it had timed out: evhttp frees it
 * (and, through the filter, the socket). */
static void force_close(struct conn *c)
{
	if (is_live(c))
		bufferevent_trigger_event(c->filt, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, 0);
}

static void arm_head_timer(struct conn *c, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	if (c->head_ev != NULL && ms > 0)
		evtimer_add(c->head_ev, &tv);
}

/* A head did not end within head_timeout_ms (408, then the close), or a
 * refused peer did not close within LINGER_MS. */
static void head_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct refusal r = { 408, "bad_data", "request head not received in time", NULL };

	(void)fd;
	(void)what;
	if (!is_live(c))
		return;
	if (c->state == C_DISCARD) {
		force_close(c);
	} else if (c->state == C_HEAD) {
		if (c->imp->opts.stats)
			atomic_fetch_add_explicit(&c->imp->opts.stats->http_head_timeouts, 1, memory_order_relaxed);
		if (evbuffer_get_length(bufferevent_get_output(c->filt)) > 0 ||
		    evbuffer_get_length(bufferevent_get_input(c->filt)) > 0) {
			force_close(c); /* evhttp is busy with an earlier request */
			return;
		}
		c->head_scan = 0;
		scan_head_origin(c);
		refuse(c, &r);
		/* A peer this slow gets no time to linger. */
		arm_head_timer(c, HEAD_LINGER_MS);
	}
}

/* The input filter of every HTTP connection (see the opening comment). */
static enum bufferevent_filter_result filter_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
						 enum bufferevent_flush_mode mode, void *arg)
{
	struct conn *c = arg;
	bool moved = false, again = true;

	(void)limit;
	(void)mode;
	c->is_waiting_evhttp = false;
	if (c->state == C_HEAD && evbuffer_get_length(src) > 0 && c->head_ev &&
	    !evtimer_pending(c->head_ev, NULL))
		arm_head_timer(c, c->imp->opts.head_timeout_ms);
	while (again && evbuffer_get_length(src) > 0) {
		again = false;
		switch (c->state) {
		case C_HEAD:
			moved |= on_head(c, src, dst, &again);
			break;
		case C_PASS_BODY: {
			size_t n = evbuffer_get_length(src);
			if (n > c->cl_left)
				n = (size_t)c->cl_left;
			evbuffer_remove_buffer(src, dst, n);
			c->cl_left -= n;
			if (c->cl_left == 0)
				c->state = C_HEAD;
			moved = again = true;
			break;
		}
		case C_PASS_ALL:
			evbuffer_add_buffer(dst, src);
			moved = true;
			break;
		case C_IMPORT:
			pump(c);
			break;
		case C_REPLY:
			break; /* a pipelined request waits for the answer */
		case C_DISCARD:
			evbuffer_drain(src, evbuffer_get_length(src));
			break;
		}
	}
	/* Bytes of a next head already here: its time runs from now. */
	if (c->state == C_HEAD && evbuffer_get_length(src) > 0 && c->head_ev &&
	    !evtimer_pending(c->head_ev, NULL))
		arm_head_timer(c, c->imp->opts.head_timeout_ms);
	/* In import states nothing is moved: BEV_NEED_MORE keeps evhttp's
	 * read callback from running (see the opening comment). */
	return moved ? BEV_OK : BEV_NEED_MORE;
}

/* Writes what this module queued on the socket bufferevent (answers), then
 * evhttp's output from src; what the kernel does not take waits for
 * write_ev. Our own bytes always go first: they answer requests that came
 * before whatever evhttp is answering now. */
static void write_ready_cb(evutil_socket_t fd, short what, void *arg);

static bool write_own(struct conn *c, evutil_socket_t fd)
{
	struct evbuffer *own = bufferevent_get_output(c->under);

	while (evbuffer_get_length(own) > 0)
		if (evbuffer_write(own, fd) <= 0)
			break;
	return evbuffer_get_length(own) == 0;
}

static void want_write(struct conn *c, evutil_socket_t fd)
{
	if (c->write_ev == NULL)
		c->write_ev = event_new(bufferevent_get_base(c->under), fd, EV_WRITE, write_ready_cb, c);
	if (c->write_ev != NULL)
		event_add(c->write_ev, NULL);
}

/*
 * filter_out with TLS: dst is the OpenSSL bufferevent's output. What was
 * copied there from src stays in src until dst is empty (written, as
 * records, into the kernel); only then is it drained, which is what tells
 * evhttp it was sent. Answers of this module are in dst already and go
 * first. Until dst is empty nothing moves (BEV_NEED_MORE): its write
 * callback (the filter's, through ours) runs this again.
 */
static enum bufferevent_filter_result filter_out_tls(struct conn *c, struct evbuffer *src, struct evbuffer *dst)
{
	struct evbuffer_iovec v[16];
	bool drained = false;
	size_t want;
	int n;

	if (evbuffer_get_length(dst) > 0)
		return BEV_NEED_MORE;
	if (c->tls_copied > 0) {
		evbuffer_drain(src, c->tls_copied);
		c->tls_copied = 0;
		drained = true;
	}
	want = evbuffer_get_length(src);
	if (want > TLS_COPY_BYTES)
		want = TLS_COPY_BYTES;
	n = want ? evbuffer_peek(src, (ev_ssize_t)want, NULL, v, 16) : 0;
	for (int i = 0; i < n && i < 16 && c->tls_copied < want; i++) {
		size_t k = v[i].iov_len < want - c->tls_copied ? v[i].iov_len : want - c->tls_copied;
		if (evbuffer_add(dst, v[i].iov_base, k) != 0)
			break;
		c->tls_copied += k;
	}
	return drained ? BEV_OK : BEV_NEED_MORE;
}

static enum bufferevent_filter_result filter_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
						  enum bufferevent_flush_mode mode, void *arg)
{
	struct conn *c = arg;
	evutil_socket_t fd;
	bool wrote = false;

	(void)limit;
	(void)mode;
	if (c->has_tls)
		return filter_out_tls(c, src, dst);
	fd = bufferevent_getfd(c->under);
	if (fd < 0)
		return BEV_ERROR;
	if (write_own(c, fd)) {
		while (evbuffer_get_length(src) > 0) {
			if (evbuffer_write(src, fd) <= 0)
				break;
			wrote = true;
		}
	}
	if (evbuffer_get_length(src) > 0)
		want_write(c, fd);
	return wrote ? BEV_OK : BEV_NEED_MORE;
}

/*
 * Whether evhttp, just handed its input (before bytes of it), read none of
 * it and waits for more: its read callback in place, reading on, nothing of
 * its own to write. It reads a whole request at once, and this filter
 * hands it only whole requests, so that happens only when the two framed
 * the bytes differently (evhttp still inside a request whose end the
 * filter has passed). The head this filter holds then waits for ever: no
 * byte evhttp waits for comes while it does.
 */
static bool evhttp_is_stalled(struct conn *c, size_t before)
{
	bufferevent_data_cb readcb = NULL;

	bufferevent_getcb(c->filt, &readcb, NULL, NULL, NULL);
	return readcb != NULL && (bufferevent_get_enabled(c->filt) & EV_READ) &&
	       evbuffer_get_length(bufferevent_get_input(c->filt)) == before &&
	       evbuffer_get_length(bufferevent_get_output(c->filt)) == 0;
}

/* After evhttp's output moved on: what it now reads may already sit in the
 * socket bufferevent (nothing else would hand it over until more bytes
 * arrive), so run the input filter and wake evhttp. A head that waits for
 * evhttp which will not read on is refused (400), and the connection
 * closes: it is never kicked again for nothing. */
static void flush_both(struct conn *c)
{
	struct refusal r = { 400, "bad_data",
			     "an earlier request on this connection did not end where its head said", NULL };
	size_t before;

	if (!is_live(c))
		return;
	bufferevent_flush(c->filt, EV_WRITE, BEV_NORMAL);
	if (!is_live(c))
		return; /* evhttp closed it when its reply had left */
	if (evbuffer_get_length(bufferevent_get_input(c->under)) > 0 &&
	    (bufferevent_get_enabled(c->filt) & EV_READ))
		bufferevent_flush(c->filt, EV_READ, BEV_NORMAL);
	before = evbuffer_get_length(bufferevent_get_input(c->filt));
	if (before == 0 || !is_live(c) || !(bufferevent_get_enabled(c->filt) & EV_READ))
		return;
	bufferevent_trigger(c->filt, EV_READ, 0);
	if (is_live(c) && c->is_waiting_evhttp && c->state == C_HEAD && evhttp_is_stalled(c, before)) {
		c->is_waiting_evhttp = false;
		c->head_scan = 0;
		c->is_head_req = false;
		refuse(c, &r);
	}
}

static void write_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)what;
	if (!is_live(c))
		return;
	if (!write_own(c, fd)) {
		want_write(c, fd);
		return;
	}
	flush_both(c);
}

static void out_added(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;

	(void)buf;
	if (info->n_added > 0)
		kick(c);
}

/* Runs the filter again for connections whose buffered input could not be
 * handled when it arrived (after an answer, or behind an earlier request),
 * and wakes evhttp for what it was given. Each connection runs once a
 * round: one kicked again meanwhile waits for the next round, after the
 * loop has polled the sockets (an event made active here would run in
 * this round still), so no connection can keep the loop to itself. */
static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_import *imp = arg;
	struct timeval next_round = { 0, 0 };
	struct conn *c;

	(void)fd;
	(void)what;
	imp->kicking = imp->kicked;
	imp->kicked = NULL;
	imp->is_kicking = true;
	/* One at a time off the list: a connection freed meanwhile has taken
	 * itself off. */
	while ((c = imp->kicking) != NULL) {
		imp->kicking = c->next_kick;
		c->next_kick = NULL;
		c->is_kicked = false;
		flush_both(c);
	}
	imp->is_kicking = false;
	if (imp->kicked != NULL)
		event_add(imp->kick_ev, &next_round);
}

static bool unlink_kicked(struct conn **pp, struct conn *c)
{
	while (*pp && *pp != c)
		pp = &(*pp)->next_kick;
	if (*pp == NULL)
		return false;
	*pp = c->next_kick;
	return true;
}

/* ------------------------------------------------------------------------
 * Connections */

static void conn_free(void *arg)
{
	struct conn *c = arg;
	struct vg_import *imp = c->imp;

	if (c->drain_cb)
		evbuffer_remove_cb_entry(bufferevent_get_output(c->under), c->drain_cb);
	if (c->out_cb)
		evbuffer_remove_cb_entry(bufferevent_get_output(c->filt), c->out_cb);
	if (c->write_ev)
		event_free(c->write_ev);
	if (c->head_ev)
		event_free(c->head_ev);
	imp->n_conns--;
	if (imp->is_full && imp->n_conns < imp->opts.max_connections) {
		imp->is_full = false;
		if (imp->opts.on_full)
			imp->opts.on_full(imp->opts.on_full_arg, false);
	}
	if (c->is_kicked && !unlink_kicked(&imp->kicked, c))
		unlink_kicked(&imp->kicking, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		imp->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->sess) {
		struct session *s = c->sess;
		s->conn = NULL;
		if (session_is_idle(s)) {
			if (s->is_waiting_room) {
				struct session **sp = &imp->waiting;
				while (*sp && *sp != s)
					sp = &(*sp)->next_waiting;
				if (*sp)
					*sp = s->next_waiting;
			}
			session_free(s);
		} else if (!s->is_waiting_room) {
			s->next_waiting = imp->orphans;
			imp->orphans = s;
		}
		/* A session waiting for room stays on imp->waiting; on_room
		 * moves it on when its batches go. */
	}
	free(c);
}

/*
 * The filter's callbacks on under are wrapped, for two reasons.
 *
 * A reference on the filter across them. libevent 2.1.12's filter runs
 * its callbacks on under (be_filter_writecb, be_filter_readcb) without a
 * reference of its own, unlike its other entries (be_filter_flush,
 * bufferevent_filtered_outbuf_cb). When under has written the last byte
 * of a reply with Connection: close, be_filter_writecb runs evhttp's
 * write callback, which frees the connection and with it the filter
 * (bufferevent_free: refcount 0, finalization scheduled); on return,
 * be_filter_process_output re-arms the filter's write timeout
 * (BEV_RESET_GENERIC_WRITE_TIMEOUT). Finalizing marks only ev_read as
 * finalizing (event_callback_finalize_many_ merely cancels ev_write), so
 * that event_add succeeds, and the finalizer then frees the filter with
 * its ev_write still in the base's timer heap: the next timer added or
 * run reads and writes freed memory (valgrind: "256 bytes inside a block
 * ... alloc'd by bufferevent_filter_new", the write event's timeout), and
 * the loop crashed or spun in event_base_free. Holding a reference across
 * the call, evhttp's free only drops it to ours; the timeout re-armed
 * meanwhile is deleted by the finalization our decref then starts, with
 * the filter's events all in place. A filter evhttp has already freed is
 * not touched (is_live: a reference would revive it); its own callbacks
 * then do nothing.
 *
 * With TLS, a failed handshake is seen (the filter passes events on to
 * evhttp, which only frees the connection).
 *
 * Freeing the filter frees under, which clears these before conn_free
 * runs.
 */
static void under_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct bufferevent *filt = c->filt;

	if (!is_live(c)) {
		c->under_read(bev, c->under_arg);
		return;
	}
	bufferevent_incref(filt);
	c->under_read(bev, c->under_arg);
	bufferevent_decref(filt);
}

static void under_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct bufferevent *filt = c->filt;

	if (!is_live(c)) {
		c->under_write(bev, c->under_arg);
		return;
	}
	bufferevent_incref(filt);
	c->under_write(bev, c->under_arg);
	bufferevent_decref(filt);
}

static void under_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (!c->has_tls) {
		/* nothing of ours */
	} else if (what & BEV_EVENT_CONNECTED) {
		c->is_handshaken = true;
	} else if ((what & BEV_EVENT_ERROR) && !c->is_handshaken) {
		char why[300];
		if (vg_tls_server_describe(bev, why, sizeof(why)) == 0)
			snprintf(why, sizeof(why), "TLS handshake failed: %s",
				 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		if (c->imp->opts.stats)
			atomic_fetch_add_explicit(&c->imp->opts.stats->http_refused, 1, memory_order_relaxed);
		vg_log_complain(&c->imp->tls_complaint, VG_LOG_WARN, "HTTPS connection refused: %s", why);
	}
	c->under_event(bev, what, c->under_arg);
}

struct bufferevent *vg_import_bevcb(struct event_base *base, void *arg)
{
	struct vg_import *imp = arg;
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->imp = imp;
	c->has_tls = imp->opts.tls != NULL;
	/* evhttp gives the socket with bufferevent_setfd, which the filter
	 * passes down; the OpenSSL bufferevent starts accepting then. */
	c->under = c->has_tls ? vg_tls_server_bufferevent(imp->opts.tls, base, -1)
			      : bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->under == NULL) {
		free(c);
		return NULL;
	}
	c->filt = bufferevent_filter_new(c->under, filter_in, filter_out, BEV_OPT_CLOSE_ON_FREE, conn_free, c);
	if (c->filt == NULL) {
		bufferevent_free(c->under);
		free(c);
		return NULL;
	}
	bufferevent_getcb(c->under, &c->under_read, &c->under_write, &c->under_event, &c->under_arg);
	bufferevent_setcb(c->under, under_read_cb, under_write_cb, under_event_cb, c);
	/* Room for a whole head too, or a head at the limit would wait for
	 * bytes the full buffer stops reading. */
	bufferevent_setwatermark(c->under, EV_READ, 0,
				 imp->opts.max_headers_bytes < BODY_BUFFER_BYTES ? BODY_BUFFER_BYTES
										 : imp->opts.max_headers_bytes + 4096);
	c->out_cb = evbuffer_add_cb(bufferevent_get_output(c->filt), out_added, c);
	/* From the accept on, the first head must come within the head
	 * timeout (an idle or slow connection is not kept for long). */
	c->head_ev = evtimer_new(base, head_timeout_cb, c);
	arm_head_timer(c, imp->opts.head_timeout_ms);
	c->next = imp->conns;
	if (imp->conns)
		imp->conns->prev = c;
	imp->conns = c;
	imp->n_conns++;
	if (imp->opts.max_connections > 0 && imp->n_conns >= imp->opts.max_connections && !imp->is_full) {
		imp->is_full = true;
		if (imp->opts.on_full)
			imp->opts.on_full(imp->opts.on_full_arg, true);
	}
	return c->filt;
}

/* The queue has room again: sessions refused for room submit, and read on. */
static void on_room(void *arg)
{
	struct vg_import *imp = arg;
	struct session *list = imp->waiting, *s, *next;

	imp->waiting = NULL;
	for (s = list; s; s = next) {
		next = s->next_waiting;
		s->is_waiting_room = false;
		s->next_waiting = NULL;
	}
	for (s = list; s; s = next) {
		next = s->next_waiting;
		if (!flush_pending(s))
			continue; /* back on imp->waiting */
		if (s->conn == NULL) {
			if (session_is_idle(s))
				session_free(s);
			else {
				s->next_waiting = imp->orphans;
				imp->orphans = s;
			}
		} else if (s->conn->state == C_REPLY) {
			maybe_reply(s->conn);
		} else {
			pump(s->conn);
		}
	}
}

int vg_import_new(const struct vg_import_options *opts, struct vg_import **out, struct vg_err *err)
{
	struct vg_import *imp = calloc(1, sizeof(*imp));
	int rc;

	*out = NULL;
	if (imp == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	imp->opts = *opts;
	if (imp->opts.max_headers_bytes == 0)
		imp->opts.max_headers_bytes = 64 * 1024;
	imp->kick_ev = event_new(opts->base, -1, 0, kick_cb, imp);
	if (imp->kick_ev == NULL) {
		free(imp);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	if (opts->submit != NULL &&
	    (rc = vg_submit_client_new(opts->submit, opts->base, on_room, imp, &imp->client, err)) != 0) {
		event_free(imp->kick_ev);
		free(imp);
		return rc;
	}
	*out = imp;
	return 0;
}

void vg_import_stop(struct vg_import *imp)
{
	if (imp == NULL)
		return;
	vg_submit_client_stop(imp->client);
	imp->opts.on_full = NULL; /* the server's listener goes before the connections */
	if (imp->kick_ev) {
		event_free(imp->kick_ev);
		imp->kick_ev = NULL;
	}
}

void vg_import_free(struct vg_import *imp)
{
	struct session *s, *next;

	if (imp == NULL)
		return;
	vg_import_stop(imp);
	/* Completions not yet delivered run now and free their orphans. */
	vg_submit_client_free(imp->client);
	for (s = imp->waiting; s; s = next) {
		next = s->next_waiting;
		session_free(s);
	}
	for (s = imp->orphans; s; s = next) {
		next = s->next_waiting;
		session_free(s);
	}
	free(imp);
}
