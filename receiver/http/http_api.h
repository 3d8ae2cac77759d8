/*
 * http_api.h: the receiver's HTTP server: the Prometheus-compatible query
 * API under /api/v1/ (../shared/interfaces/prometheus-http-api.md) and the
 * receiver's own /metrics, and the streamed bulk import (import.h). It runs
 * on its own thread and event base and reads storage only through its read
 * interface (storage.h, query.h), which never holds what ingest waits for,
 * so a slow query never delays an ACK on the ingest side (docs/threads.md).
 */
#ifndef VG_HTTP_API_H
#define VG_HTTP_API_H

#include <stdint.h>

#include "receiver/http/auth.h"

struct vg_err;
struct vg_head;
struct vg_notifier;
struct vg_sealer;
struct vg_storage;
struct vg_stats;
struct vg_submit;

struct vg_http_api;
struct vg_rules;

struct vg_http_api_options {
	const char *host;     /* "" or NULL: all addresses */
	uint16_t port;        /* 0: an ephemeral port */
	int64_t lookback_ms;  /* default lookback delta */
	struct vg_head *head; /* borrowed: its counts for /metrics */
	struct vg_storage *storage; /* borrowed: every read (storage.h) */
	struct vg_sealer *sealer;   /* borrowed; NULL: POST /api/v1/admin/seal answers 503 */
	struct vg_stats *stats; /* borrowed */
	/* Where POST /api/v1/import/prometheus puts samples (ingest's queue,
	 * receiver/ingest/submit.h); borrowed; NULL: imports answer 503. */
	struct vg_submit *submit;
	/* Limits (vigil-receiver.yaml(5)); 0 takes the default. */
	uint64_t max_header_bytes;  /* request line and headers; 64 KiB */
	uint64_t max_header_fields; /* header fields of a request; 100 */
	uint64_t max_body_bytes;    /* any body but an import's; 1 MiB */
	int64_t timeout_ms;         /* a connection's silence; 60 s */
	int64_t header_timeout_ms;  /* a request head, from its first byte
				     * (or the accept) to its end; 10 s */
	uint64_t max_connections;   /* open at once; past it accepting
				     * pauses; 0: no cap */
	const char *cors_origin;    /* cors.h; NULL: ".*" */
	struct vg_http_auth_options auth; /* none set: no authentication */
	/* HTTPS only when tls_cert_file is set (receiver/ingest/tls.h: the
	 * agent listener's server context); the key defaults to the
	 * certificate's file; with a client CA file a client certificate is
	 * required. NULL: plain HTTP. */
	const char *tls_cert_file, *tls_key_file, *tls_client_ca_file;
	/* Rules (receiver/alert/rules.h): GET /api/v1/rules and
	 * /api/v1/alerts, their lines of /metrics; borrowed; NULL: no rules
	 * (empty answers). reload(reload_arg, err) serves POST /-/reload
	 * (admin); NULL: 503. */
	struct vg_rules *rules;
	int (*reload)(void *arg, struct vg_err *err);
	void *reload_arg;
	/* Alertmanager's API v2 under /api/v2/ and the notification
	 * counters in /metrics (receiver/alert/notifier.h); borrowed; NULL:
	 * /api/v2/ answers 404. */
	struct vg_notifier *notifier;
	/* Queries (vigil-receiver.yaml(5), "query"): evaluated by a worker
	 * pool (receiver/query/pool.h), never on the HTTP thread. 0: no
	 * limit, except where a default is named. */
	int64_t query_timeout_ms;          /* the most a query may take */
	uint64_t query_max_samples;        /* held at once (query.h) */
	uint64_t query_max_series;         /* in one selection */
	uint64_t query_max_response_bytes; /* a query's response body */
	unsigned query_max_concurrency;    /* 0: vg_query_pool_default_concurrency() */
	unsigned query_max_queued;         /* waiting for a worker; 0: 100 */
	/* The web page's asset root (web.h); NULL: the default. */
	const char *web_assets_dir;
};

/* Binds the socket now (so errors show at start) and starts the thread. */
int vg_http_api_start(const struct vg_http_api_options *opts, struct vg_http_api **out,
		      struct vg_err *err);
/* Says /-/ready may answer 200: the WAL is replayed. Any thread. */
void vg_http_api_set_ready(struct vg_http_api *api);
/* The port actually bound. */
uint16_t vg_http_api_port(const struct vg_http_api *api);
/* Cancels the running queries and stops the query workers (pool.h): what
 * stop does first, for a caller that has more to do before stopping the
 * rest (main: the final seal). Later queries answer 503. */
void vg_http_api_stop_queries(struct vg_http_api *api);
/* Stops the thread and frees everything; running queries are canceled,
 * not waited for. */
void vg_http_api_stop(struct vg_http_api *api);

#endif
