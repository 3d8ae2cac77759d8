/*
 * selfscrape.h: the receiver records its own metrics as series, so that
 * rules (the default rule set, vigil-rules(5)) can watch the receiver the
 * way they watch agents.
 *
 * Every interval on the receiver's clock (common/clock.h, so a test drives
 * it), at the aligned time t = now rounded down to a multiple of the
 * interval, it
 *  - renders the one /metrics exposition (the render callback: the same
 *    function the HTTP handler calls), parses it with the one exposition
 *    parser (common/exposition.h) and writes every sample at t with the
 *    labels instance="<instance>" and job="vigil-receiver" (replacing any
 *    of those names a sample had);
 *  - writes vigil_agent_last_seen_timestamp_seconds{instance="<agent>",
 *    job="vigil-receiver"} = the Unix seconds of the agent's last accepted
 *    batch, for every agent the last-seen table (ingest/lastseen.h) holds.
 * The samples go through ingest's queue (ingest/submit.h): the WAL, then
 * the head, as agents' batches and recording rules' output do. A scrape
 * whose batches are still queued when the next interval comes makes that
 * one skip (counted as missed), so a slow disk never piles up scrapes.
 *
 * Threads: its own, with its own event base (the submit client's). The
 * render callback runs there; it must be callable from any thread.
 */
#ifndef VG_SELFSCRAPE_H
#define VG_SELFSCRAPE_H

#include <stdint.h>

struct vg_buf;
struct vg_clock;
struct vg_err;
struct vg_lastseen;
struct vg_stats;
struct vg_storage;
struct vg_submit;

/* The job label of everything the receiver writes about itself. */
#define VG_SELFSCRAPE_JOB "vigil-receiver"

struct vg_selfscrape_options {
	int64_t interval_ms;                /* > 0 */
	const char *instance;               /* the instance label (copied) */
	struct vg_submit *submit;           /* borrowed: every write */
	struct vg_clock *clock;             /* borrowed; NULL: the real clock */
	struct vg_lastseen *last_seen;      /* borrowed; NULL: no last-seen series */
	struct vg_stats *stats;             /* borrowed: the self_scrape* counters */
	/* Borrowed, may be NULL: at start the last-seen table is filled from
	 * the newest last-seen samples within last_seen_retention_ms (the WAL
	 * replayed), so an agent that went silent before a restart and does
	 * not come back stays silent, not forgotten. */
	struct vg_storage *storage;
	int64_t last_seen_retention_ms;
	/* Appends the /metrics text to out; any thread. */
	void (*render)(void *arg, struct vg_buf *out);
	void *render_arg;
};

struct vg_selfscrape;

/* Starts the thread; the first scrape is at the next aligned time. */
int vg_selfscrape_start(const struct vg_selfscrape_options *opts, struct vg_selfscrape **out, struct vg_err *err);
/* Stops the thread after the step under way. */
void vg_selfscrape_stop(struct vg_selfscrape *s);
/* Frees everything; after vg_selfscrape_stop and after ingest has
 * completed every batch (vg_ingest_free), as for the rule engine. */
void vg_selfscrape_free(struct vg_selfscrape *s);

#endif
