/*
 * scrape.h: local scrapes of Prometheus text endpoints (a database's or a
 * message broker's exporter) on the agent's event loop.
 *
 * Each target is fetched every interval with libcurl, within its timeout,
 * and its body parsed with the one exposition parser (common/exposition.h).
 * A scrape is taken whole or not at all, as Prometheus does: a body with a
 * malformed line (reported with its line number), a status other than
 * 200, a timeout or a body over the size limit stores none of its samples.
 * Every scrape, good or not, gives the target's
 *     up{job}                       1 when the scrape was stored, else 0
 *     scrape_duration_seconds{job}  how long the fetch and parse took
 *     scrape_samples_scraped{job}   samples the body held (0 when refused)
 * The job label is the target's; the instance label is the host's, added
 * by the sink like on every agent series (a target's own job and instance
 * labels are replaced). A target's labels are added to all of its series,
 * up and the other two included.
 *
 * libcurl costs about 6 MiB of resident memory: it is not linked. The
 * first vg_scrape_new with at least one target dlopen()s libcurl.so.4; an
 * agent without scrape targets never maps it. curl's multi interface is
 * driven by the loop's events (socket and timer callbacks), so a slow
 * target never blocks sampling or sending; curl resolves names in its own
 * thread.
 *
 * Threads: everything runs on the event base given at creation.
 */
#ifndef VG_AGENT_SCRAPE_H
#define VG_AGENT_SCRAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

struct event_base;
struct vg_err;
struct vg_sample_sink;

/* One target, as the configuration gives it (agent_config.h). */
struct vg_scrape_target {
	char *job;                   /* the job label; unique among targets */
	char *url;                   /* http:// or https:// */
	int64_t interval_ms;         /* 0: the agent's interval */
	int64_t timeout_ms;          /* 0: the interval, at most 10 s */
	struct vg_conf_labels labels;
	uint64_t body_limit_bytes;   /* 0: 16 MiB */
	uint64_t sample_limit;       /* more samples fail the scrape; 0: 50,000 */
};

/* A finished scrape, borrowed by the deliver callback during the call. */
struct vg_scrape_result;

struct vg_scrape_options {
	const struct vg_scrape_target *targets; /* read during vg_scrape_new */
	size_t n_targets;
	struct event_base *base;                /* borrowed */
	/* Called on the loop after every scrape, with the time it started;
	 * the callee gives its samples to a sink with vg_scrape_result_emit. */
	void (*deliver)(void *arg, int64_t ts_ms, const struct vg_scrape_result *r);
	void *arg;
};

struct vg_scrape;

/* Loads libcurl (the first time) and starts each target's timer; the
 * first scrape of each comes after a random part of its interval, so a
 * fleet of agents does not scrape in step. n_targets 0: *out is NULL and
 * nothing is loaded. */
int vg_scrape_new(const struct vg_scrape_options *opts, struct vg_scrape **out, struct vg_err *err);
/* Cancels scrapes in flight. */
void vg_scrape_free(struct vg_scrape *s);

/* The result's samples (none when the scrape failed), then up,
 * scrape_duration_seconds and scrape_samples_scraped; 0 or what the sink
 * returned. */
int vg_scrape_result_emit(const struct vg_scrape_result *r, struct vg_sample_sink *sink, struct vg_err *err);
/* The target's job, and why the scrape failed (NULL when it did not). */
const char *vg_scrape_result_job(const struct vg_scrape_result *r);
const char *vg_scrape_result_error(const struct vg_scrape_result *r);

/* Whether libcurl is mapped into this process (for tests). */
bool vg_scrape_is_loaded(void);

#endif
