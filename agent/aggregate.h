/*
 * aggregate.h: StatsD events become one set of values per push interval;
 * only these aggregates leave the host.
 *
 * One entry per StatsD key (mapped name + tags); the first type a key is
 * seen with is its kind, later lines of another type are refused
 * (type_conflict). What each kind sends every interval (man/vigil-agent.8):
 *   counter   <name>_total           cumulative sum of value/rate, kept
 *                                    across restarts in the state file
 *   gauge     <name>                 last value (kept between intervals);
 *             <name>_min, _max       fast-sampled gauges only: over the
 *                                    samples of the interval
 *   ms h d    <name>_bucket{le}, _sum, _count   cumulative, ms in seconds
 *             <name>_min, _max       over the interval's observations
 *             <name>{quantile=}      optional (quantiles): per host, over the
 *                                    interval's observations (at most
 *                                    VG_AGGREGATE_QUANTILE_VALUES of them)
 *   set       <name>                 distinct members in the interval
 *
 * Bounded: at most max_series keys; a line for a new key beyond it is
 * refused and counted (series_refused), never stored. A set holds at most
 * VG_AGGREGATE_MAX_SET_MEMBERS members per interval, more are counted.
 *
 * State file (state_path, beside the spool): the counters' totals,
 * written atomically (common/fs.h) and checksummed; the format is at the
 * top of aggregate.c. vg_aggregate_save is called before the round that
 * carries those totals is handed to the spool, so a total a batch carries
 * is always durable before the batch: a restart never goes back below a
 * total already sent, and a total is never counted twice.
 */
#ifndef VG_AGGREGATE_H
#define VG_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_err;
struct vg_sample_sink;
struct vg_statsd_line;

#define VG_AGGREGATE_MAX_BOUNDS 64
#define VG_AGGREGATE_MAX_SET_MEMBERS 65536
/* Observations a timer or histogram keeps per interval for its per-host
 * quantiles; beyond it a uniform sample of them (reservoir sampling). */
#define VG_AGGREGATE_QUANTILE_VALUES 1024
#define VG_AGGREGATE_MAX_QUANTILES 16

/* Prometheus's default buckets (seconds for timers). */
#define VG_AGGREGATE_DEFAULT_BOUNDS { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 }

struct vg_aggregate_options {
	uint64_t max_series;
	const double *bounds;     /* ascending, finite; NULL: the default */
	size_t n_bounds;
	const double *quantiles;  /* per-host quantiles of timers and histograms, in (0, 1]; none: off */
	size_t n_quantiles;
	const char *const *fast_gauges; /* mapped gauge names sampled every fast interval */
	size_t n_fast_gauges;
	const char *state_path;   /* NULL: totals start at 0 at every start */
};

struct vg_aggregate_stats {
	uint64_t series;          /* keys held */
	uint64_t series_refused;  /* lines refused by max_series */
	uint64_t type_conflicts;  /* lines whose type differs from their key's */
	uint64_t set_members_refused;
	uint64_t invalid_series;  /* lines whose name and tags make no valid series */
	uint64_t state_writes, state_errors;
};

struct vg_aggregate;

/* Reads the state file when there is one (a damaged one is logged and
 * ignored: the totals start at 0). */
int vg_aggregate_new(const struct vg_aggregate_options *opts, struct vg_aggregate **out, struct vg_err *err);
void vg_aggregate_free(struct vg_aggregate *a);

/* Takes opts on a running aggregate (a reload). What a key has gathered
 * stays wherever its meaning stays: counter totals and gauge values
 * always; timers and histograms keep theirs unless the bounds change,
 * when they start over from 0 (their cumulative series then read as a
 * counter reset). A lower max_series keeps the keys held (dropping one
 * would lose a counter's total) and refuses new keys while there are as
 * many. A new state path is written at the next save; the old file
 * stays. The state file is not read again. On an error (VG_EINVAL,
 * VG_ELIMIT, VG_ENOMEM) the aggregate is as it was. */
int vg_aggregate_reconfigure(struct vg_aggregate *a, const struct vg_aggregate_options *opts, struct vg_err *err);

/* Takes one parsed line (every sample of it). */
void vg_aggregate_add(struct vg_aggregate *a, const struct vg_statsd_line *line);
/* The vg_statsd_line_cb shape of vg_aggregate_add, ctx the aggregate. */
void vg_aggregate_line_cb(void *ctx, const struct vg_statsd_line *line);

/* A fast tick: records the current value of each fast gauge. */
void vg_aggregate_sample_fast(struct vg_aggregate *a);

/* Hands this interval's aggregates to sink and starts the next interval
 * (sets emptied, min/max reset). A non-zero return from the sink stops
 * and is returned. */
int vg_aggregate_flush(struct vg_aggregate *a, struct vg_sample_sink *sink);

/* Writes the counters' totals to the state file if they changed since
 * the last save (fsync, rename, fsync of the directory). */
int vg_aggregate_save(struct vg_aggregate *a, struct vg_err *err);

/* The totals a state file holds, for tests: calls cb per counter with its
 * key (common/series.h codec) and total; VG_ENOENT, VG_ECHECKSUM,
 * VG_EINVAL. */
int vg_aggregate_read_state(const char *path, void (*cb)(void *ctx, const uint8_t *key, size_t len, double total),
			    void *ctx, struct vg_err *err);

/* Parses histogram bounds given as text (the statsd_buckets key): finite
 * numbers, strictly ascending, at most VG_AGGREGATE_MAX_BOUNDS; "+Inf" is
 * implied and refused. */
int vg_aggregate_parse_bounds(const char *const *v, size_t n, double *out, size_t *n_out, struct vg_err *err);

/* The same for quantiles (the statsd_quantiles key): numbers in (0, 1],
 * ascending, at most VG_AGGREGATE_MAX_QUANTILES. */
int vg_aggregate_parse_quantiles(const char *const *v, size_t n, double *out, size_t *n_out, struct vg_err *err);

void vg_aggregate_get_stats(const struct vg_aggregate *a, struct vg_aggregate_stats *out);

#endif
