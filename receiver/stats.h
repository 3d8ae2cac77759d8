/*
 * stats.h: the receiver's own counters, served at /metrics in the
 * Prometheus text format. Counters are updated from the ingest thread and
 * read from the HTTP thread, so they are C11 atomics, relaxed: a scrape sees
 * each counter's recent value, not a snapshot of all of them at one instant.
 */
#ifndef VG_STATS_H
#define VG_STATS_H

#include <stdatomic.h>
#include <stdint.h>

struct vg_buf;
struct vg_head;
struct vg_storage;

enum vg_listener { VG_LISTENER_AGENT, VG_LISTENER_HTTP };

/* How a query (/api/v1/query, query_range) ended, for
 * vigil_receiver_queries_total{outcome}. */
enum vg_stats_query {
	VG_STATS_QUERY_OK,
	VG_STATS_QUERY_TIMEOUT,
	VG_STATS_QUERY_CANCELED,
	VG_STATS_QUERY_TOO_MANY_SAMPLES,
	VG_STATS_QUERY_TOO_MANY_SERIES,
	VG_STATS_QUERY_TOO_LARGE,  /* query.max_response_size */
	VG_STATS_QUERY_QUEUE_FULL, /* refused: query.max_queued */
	VG_STATS_QUERY_ERROR,      /* any other evaluation error */
	VG_STATS_QUERY_CLIENT_GONE, /* stopped: its client closed the connection */
	VG_STATS_QUERY_OUTCOMES
};


struct vg_stats {
	_Atomic uint64_t frames_received[6]; /* by frame type, 1..5; [0] unknown */
	_Atomic uint64_t samples_received;   /* samples in SAMPLES frames accepted */
	_Atomic uint64_t samples_duplicate;  /* samples in retried batches ignored */
	_Atomic uint64_t samples_too_old;    /* older than max_sample_age, refused */
	_Atomic uint64_t samples_too_new;    /* more than 10 minutes ahead, refused */
	_Atomic uint64_t series_created;
	_Atomic uint64_t bytes_received;     /* wire bytes from agents */
	_Atomic uint64_t decode_errors;      /* frames refused as malformed or hostile */
	_Atomic uint64_t connections_accepted;
	_Atomic uint64_t connections_refused; /* over max_connections */
	_Atomic int64_t connections_open;
	_Atomic uint64_t acks_sent;
	_Atomic uint64_t wal_syncs;
	_Atomic uint64_t wal_sync_errors;
	_Atomic uint64_t wal_bytes;
	_Atomic uint64_t wal_recoveries;     /* the WAL took writes again after failing */
	_Atomic uint64_t wal_failing;        /* 1 while the WAL cannot write (batches refused) */
	_Atomic uint64_t wal_missing_segments; /* found missing when the WAL was opened at start */
	_Atomic uint64_t wal_corrupt_tails;    /* the last segment's damaged tail cut at start */
	_Atomic uint64_t wal_damaged_segments; /* earlier segments whose rest was skipped at start */
	_Atomic uint64_t wal_bad_segments;     /* segment files skipped at start for a bad header */
	_Atomic uint64_t http_requests;
	_Atomic uint64_t http_refused; /* refused before routing: a limit, a malformed head */
	_Atomic uint64_t http_auth_refused; /* 401 or 403 */
	_Atomic uint64_t http_head_timeouts; /* a request head did not end in time */
	_Atomic uint64_t http_conn_pauses;   /* accepting paused at http_max_connections */
	/* accept() failed (fd limit) and the listener paused, by listener */
	_Atomic uint64_t accept_pauses[2];
	/* agent connections closed by the receiver, by reason (tally.h order:
	 * no_hello, idle, error, frame_timeout) */
	_Atomic uint64_t connections_closed[4];
	_Atomic uint64_t budget_pauses;       /* a connection stopped reading: budget spent */
	_Atomic uint64_t buffer_bytes;        /* gauge: input buffered (charged) now */
	_Atomic uint64_t buffer_granted_bytes;/* gauge: of which granted to large frames */
	_Atomic uint64_t series_refused;      /* by a cardinality limit (per agent: limits.h) */
	_Atomic uint64_t samples_refused;     /* agents' samples not stored: series refused, WAL down */
	/* The receiver's record of its own metrics (selfscrape.h). */
	_Atomic uint64_t self_scrapes;        /* written whole */
	_Atomic uint64_t self_scrapes_missed; /* skipped: the one before was still being written */
	_Atomic uint64_t self_scrape_errors;  /* not written: out of memory, refused by the WAL */
	_Atomic uint64_t queries[VG_STATS_QUERY_OUTCOMES]; /* by outcome; the query workers' */
	/* Lines of /metrics that other modules render (series refused per
	 * agent); called from the HTTP thread, may be NULL. */
	void (*render_more)(void *arg, struct vg_buf *out);
	void *render_more_arg;
	int64_t start_time_ms;
};

void vg_stats_init(struct vg_stats *st);
/* Appends every counter, and the head's series and sample counts, in the
 * text exposition format 0.0.4 with HELP and TYPE lines. */
void vg_stats_render(const struct vg_stats *st, struct vg_head *head, struct vg_buf *out);

/* Appends the storage's families: vigil_storage_tier_* per tier and the
 * count of damaged blocks. */
void vg_stats_render_storage(struct vg_storage *storage, struct vg_buf *out);

/* Appends vigil_receiver_queries_total{outcome} and the gauges of the
 * query workers: running and queued now. */
void vg_stats_render_queries(const struct vg_stats *st, unsigned running, unsigned queued,
			     struct vg_buf *out);

#endif
