/*
 * ingest.h: the receiver's side of the wire protocol. Accepts agent
 * connections on its event base, decodes their frames (common/frame.h),
 * resolves each connection's series refs to head ids, appends every batch
 * to the WAL and the head, and acknowledges a batch only after a WAL sync
 * covers it (group commit: one fdatasync per event-loop round for every
 * batch read in that round).
 *
 * It also owns the table that makes retries idempotent: for each agent
 * (XXH3 of its HELLO identity) the epoch and the highest sequence number
 * written. A SAMPLES frame at or below it is a retry: acknowledged, not
 * stored again. The table is rebuilt from the WAL at start.
 *
 * A connection that sends anything malformed or hostile gets one ERROR
 * frame and is closed; the others are not affected. What one connection
 * may cost is bounded: its buffered input (budget.h: a small allowance
 * before HELLO, a larger one after, a grant for a large frame, all within
 * one budget, reading paused when it is spent), its time to say HELLO,
 * to stay idle and to finish a large frame, and the series it may define
 * (limits.h). Events of one connection are tallied (tally.h), not logged
 * one line each.
 *
 * Batches submitted from other threads (submit.h) are stored the same way
 * and completed after the same syncs.
 *
 * Threads: everything here runs on the thread of the event base given at
 * creation. The head is shared with the query side through its own lock.
 */
#ifndef VG_INGEST_H
#define VG_INGEST_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct vg_buf;
struct vg_clock;
struct vg_err;
struct vg_head;
struct vg_limits;
struct vg_stats;
struct vg_submit;
struct vg_lastseen;
struct vg_wal;
struct vg_wal_replay_cb;

struct vg_ingest_options {
	const char *host;           /* "" or NULL: all addresses */
	uint16_t port;              /* 0: an ephemeral port */
	const char *token;          /* NULL or "": no authentication */
	/* TLS on the listener (tls.h): cert and key files; NULL: plain TCP.
	 * With client_ca_file agents must present a certificate it signed. */
	const char *tls_cert_file, *tls_key_file, *tls_client_ca_file;
	uint64_t max_connections;
	/* Buffered input (budget.h); 0 takes the default in brackets. */
	uint64_t buffer_budget;     /* all connections [256 MiB] */
	uint64_t conn_buffer;       /* a proven connection without a grant [32 KiB] */
	uint64_t hello_buffer;      /* the HELLO payload, before HELLO [4 KiB] */
	int64_t hello_timeout_ms;   /* [10 s] */
	int64_t idle_timeout_ms;    /* [15 m] */
	int64_t frame_timeout_ms;   /* a granted frame arrives within [1 m] */
	/* Cardinality (limits.h); 0: no limit. */
	uint64_t max_series, max_series_per_agent, max_new_series_per_minute;
	struct event_base *base;    /* borrowed */
	struct vg_head *head;       /* borrowed */
	struct vg_stats *stats;     /* borrowed */
	/* Agents' samples older than this (ms) are refused and counted; 0:
	 * no limit. Any sample more than VG_INGEST_MAX_FUTURE_MS ahead of the
	 * receiver's clock is refused too. */
	int64_t max_sample_age_ms;
	/* The receiver's clock for that window (common/clock.h); borrowed,
	 * NULL: the real clock. */
	struct vg_clock *clock;
	/* The cardinality guard's state (limits.h), borrowed so that it can
	 * outlive this ingest (the HTTP thread renders it for /metrics);
	 * NULL: this ingest makes its own from the max_series* fields. */
	struct vg_limits *limits;
	/* Batches from other threads (the HTTP import), consumed on base;
	 * borrowed, may be NULL. The caller frees it after this ingest. */
	struct vg_submit *submit;
	/* Each agent's last accepted batch (lastseen.h); borrowed, may be
	 * NULL. */
	struct vg_lastseen *last_seen;
};

#define VG_INGEST_MAX_FUTURE_MS (10 * 60 * 1000)

struct vg_ingest;

/* Creates the ingest side without listening yet, so the WAL can be
 * replayed into it first (vg_ingest_replay_cb). */
int vg_ingest_new(const struct vg_ingest_options *opts, struct vg_ingest **out, struct vg_err *err);
/* Callbacks for vg_wal_open that restore the head and the retry table. */
void vg_ingest_replay_cb(struct vg_ingest *ing, struct vg_wal_replay_cb *cb);
/* Binds the agent port and starts accepting; wal is borrowed. */
int vg_ingest_listen(struct vg_ingest *ing, struct vg_wal *wal, struct vg_err *err);
uint16_t vg_ingest_port(const struct vg_ingest *ing);
/* The key of an agent, from the identity of its HELLO: the retry table,
 * the cardinality guard (limits.h) and the last-seen table (lastseen.h)
 * know agents by it. Never 0. */
uint64_t vg_ingest_agent_hash(const void *agent, size_t len);
/*
 * Step 1 of a seal (receiver/storage/seal.h), on this ingest's thread:
 * commits the round in flight, rolls the WAL (*wal_segno: the segment
 * below which every record now lies), freezes the head, appends the
 * checkpoint (every series record and the retry table) and syncs it.
 * vg_ingest_freeze_wait does the same from another thread (the sealer's
 * freeze callback, arg the ingest), waiting for this loop to run it; after
 * vg_ingest_stop_freezes it fails at once, so a sealer never waits for a
 * loop that has stopped.
 */
int vg_ingest_freeze(struct vg_ingest *ing, uint32_t *wal_segno, struct vg_err *err);
int vg_ingest_freeze_wait(void *arg, uint32_t *wal_segno, struct vg_err *err);
void vg_ingest_stop_freezes(struct vg_ingest *ing);

/* Stops accepting, syncs and acknowledges what is pending, closes every
 * connection and frees everything. */
void vg_ingest_free(struct vg_ingest *ing);

#endif
