/*
 * limits.h: cardinality guards. Limits on the series one agent references
 * at once (active), on the series in the head (total), and on the series
 * one agent creates per minute; what they refuse is counted per agent for
 * /metrics and logged at most once per agent per minute.
 *
 * The guard only answers: vg_limits_admit says which limit (if any)
 * refuses one series; the ingest loop decides what the agent is told (an
 * ERROR frame in protocol v1; the ACK's refusal count in v2) and keeps the
 * agent's other series flowing.
 *
 * Agents are keyed by the XXH3 of their HELLO identity; an entry, once
 * made, lives as long as the guard (its address is stable, so connections
 * hold it). The table is bounded by the agents that ever connected.
 *
 * Times (now_ms) are monotonic milliseconds: vg_clock_mono of the
 * receiver's clock (common/clock.h), so a test's driven clock moves the
 * minutes; a time before the window's start (a driven clock set back)
 * starts a new window.
 *
 * Threads: admit, release and refused run on the ingest thread; render on
 * the HTTP thread. A mutex guards the counters render reads (refused_*,
 * names); active and the rate window belong to the ingest thread.
 */
#ifndef VG_LIMITS_H
#define VG_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_buf;
struct vg_err;

enum vg_limit {
	VG_LIMIT_NONE = 0,
	VG_LIMIT_SERIES,           /* max_series: the head is full */
	VG_LIMIT_SERIES_PER_AGENT, /* max_series_per_agent */
	VG_LIMIT_NEW_PER_MINUTE,   /* max_new_series_per_minute */
	VG_LIMIT_KINDS,
};

struct vg_limits_options {
	uint64_t max_series;                /* 0: no limit */
	uint64_t max_series_per_agent;      /* 0: no limit */
	uint64_t max_new_series_per_minute; /* 0: no limit */
};

struct vg_limits;
struct vg_limits_agent;

int vg_limits_new(const struct vg_limits_options *opts, struct vg_limits **out, struct vg_err *err);
void vg_limits_free(struct vg_limits *l);

/* The entry of agent (hash and name from HELLO), made on first use; NULL
 * when out of memory (the guard then admits everything of that agent). */
struct vg_limits_agent *vg_limits_agent(struct vg_limits *l, uint64_t hash, const char *name);

/*
 * Whether the agent may reference one more series: is_new when the head
 * does not have it yet (it would be created), is_new_ref when it takes a
 * ref that did not count as active (false: a ref admitted before, defined
 * again, which max_series_per_agent does not check), head_series the
 * head's size. VG_LIMIT_NONE admits it, counts it active when is_new_ref
 * (and, when is_new, against this minute); anything else refuses it and
 * changes nothing.
 */
enum vg_limit vg_limits_admit(struct vg_limits *l, struct vg_limits_agent *a, bool is_new, bool is_new_ref,
			      size_t head_series, int64_t now_ms);
/* A connection that referenced n admitted series closed. */
void vg_limits_release(struct vg_limits *l, struct vg_limits_agent *a, uint64_t n);
/* Counts n refused series (for /metrics) and logs once per agent per
 * minute, with the counts since the last line. */
void vg_limits_refused(struct vg_limits *l, struct vg_limits_agent *a, enum vg_limit which, uint64_t n,
		       int64_t now_ms);

/* "max_series_per_agent" and so on: the configuration key of a limit. */
const char *vg_limit_name(enum vg_limit which);

/* vigil_receiver_series_refused_total{agent,limit} for every agent that
 * had a series refused. */
void vg_limits_render(struct vg_limits *l, struct vg_buf *out);

#endif
