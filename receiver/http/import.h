/*
 * import.h: POST /api/v1/import/prometheus, VictoriaMetrics's bulk import
 * of Prometheus text exposition lines (common/exposition.h), streamed:
 * memory stays bounded whatever the size of the body.
 *
 * It sits under evhttp, between each accepted socket and the server
 * (evhttp_set_bevcb): every HTTP connection's bytes pass through a filter
 * of this module, which hands evhttp every request except imports. An
 * import's body never reaches evhttp: it is parsed as it arrives, and its
 * samples go in bounded batches through the submit queue
 * (receiver/ingest/submit.h) into the ingest thread's WAL and head. The
 * opening comment of import.c says why, and what the answer looks like.
 *
 * Threads: everything here runs on the HTTP thread's event base.
 */
#ifndef VG_IMPORT_H
#define VG_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bufferevent;
struct event_base;
struct vg_err;
struct vg_http_auth;
struct vg_http_cors;
struct vg_stats;
struct vg_submit;
struct vg_tls_server;

struct vg_import;

struct vg_import_options {
	struct event_base *base;  /* the HTTP thread's; borrowed */
	struct vg_submit *submit; /* into ingest; NULL: imports answer 503 */
	struct vg_stats *stats;   /* borrowed, may be NULL */
	size_t max_headers_bytes; /* the longest request head passed on */
	int timeout_s;            /* evhttp's connection timeout; also the
				   * longest silence inside an import body */
	uint64_t max_body_bytes;  /* the longest body of any other request
				   * (evhttp's limit), refused with 413 here; 0: none */
	size_t max_header_count;  /* header fields of one request; 0: no limit */
	const struct vg_http_cors *cors; /* borrowed; NULL: every origin */
	const struct vg_http_auth *auth; /* borrowed; NULL or none: imports need none */
	int64_t head_timeout_ms;  /* from the accept, or a head's first byte,
				   * to its end; then 408 and the close; 0: none */
	/* At max_connections open connections (0: no cap) on_full(arg, true)
	 * is called, and on_full(arg, false) once one has gone: the server
	 * stops and resumes accepting. */
	size_t max_connections;
	void (*on_full)(void *arg, bool is_full);
	void *on_full_arg;
	/* HTTPS: every connection's socket is an OpenSSL bufferevent of this
	 * context under the filter; borrowed; NULL: plain HTTP. */
	struct vg_tls_server *tls;
};

int vg_import_new(const struct vg_import_options *opts, struct vg_import **out, struct vg_err *err);
/* For evhttp_set_bevcb(http, vg_import_bevcb, imp): the bufferevent evhttp
 * uses for a new connection. */
struct bufferevent *vg_import_bevcb(struct event_base *base, void *imp);
/* Frees the module's events: call after the base stopped running and
 * before it is freed. */
void vg_import_stop(struct vg_import *imp);
/* Frees the rest: call after the base is freed (which frees the
 * connections, and with them their filters). */
void vg_import_free(struct vg_import *imp);

/* The import path, for the router: evhttp sees a request to it only when
 * it is not a POST, or its head was not one this module could follow. */
#define VG_IMPORT_PATH "/api/v1/import/prometheus"

/* The methods the filter lets through to evhttp, for its
 * evhttp_set_allowed_methods (event2/http.h): every one evhttp has a name
 * for but CONNECT (check_head refuses the rest). */
#define VG_IMPORT_EVHTTP_METHODS                                                            \
	(EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | \
	 EVHTTP_REQ_PATCH | EVHTTP_REQ_TRACE | EVHTTP_REQ_OPTIONS)

#endif
