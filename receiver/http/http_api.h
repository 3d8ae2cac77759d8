/*
 * http_api.h: the receiver's HTTP server: the Prometheus-compatible query
 * API under /api/v1/ (../shared/interfaces/prometheus-http-api.md) and the
 * receiver's own /metrics. It runs on its own thread and event base and
 * reads storage only through the head's read lock (query.h), so a slow
 * query never delays an ACK on the ingest side.
 */
#ifndef VG_HTTP_API_H
#define VG_HTTP_API_H

#include <stdint.h>

struct vg_err;
struct vg_head;
struct vg_stats;

struct vg_http_api;

struct vg_http_api_options {
	const char *host;     /* "" or NULL: all addresses */
	uint16_t port;        /* 0: an ephemeral port */
	int64_t lookback_ms;  /* default lookback delta */
	struct vg_head *head; /* borrowed */
	struct vg_stats *stats; /* borrowed */
	/* Limits; 0 takes the default in brackets. */
	uint64_t max_connections;   /* open at once; past it 503 [1024] */
	uint64_t max_header_bytes;  /* request line and headers [64 KiB] */
	uint64_t max_body_bytes;    /* [1 MiB] */
	int64_t header_timeout_ms;  /* the headers complete within [10 s] */
	int64_t idle_timeout_ms;    /* a connection idle this long closes [60 s] */
	/* Authentication (auth.h) and exposure; NULL: off. */
	const char *read_token;
	const char *admin_token;
	const char *tls_cert, *tls_key; /* PEM files: HTTPS */
	const char *cors_origin;        /* ERE of allowed origins; NULL: ".*" */
};

/* Binds the socket now (so errors show at start) and starts the thread. */
int vg_http_api_start(const struct vg_http_api_options *opts, struct vg_http_api **out,
		      struct vg_err *err);
/* Says /-/ready may answer 200: the WAL is replayed. Any thread. */
void vg_http_api_set_ready(struct vg_http_api *api);
/* The port actually bound. */
uint16_t vg_http_api_port(const struct vg_http_api *api);
/* Stops the thread and frees everything. */
void vg_http_api_stop(struct vg_http_api *api);

#endif
