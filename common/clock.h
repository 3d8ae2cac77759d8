/*
 * clock.h: time in Vigil: int64 milliseconds since the Unix epoch (UTC)
 * everywhere a sample or an API meets time, and int64 milliseconds for
 * durations. Parsers follow Prometheus's HTTP API so that Grafana's and
 * promtool's strings mean the same here.
 */
#ifndef VG_CLOCK_H
#define VG_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_err;

/* Wall clock, ms since the epoch. */
int64_t vg_clock_now_ms(void);

/*
 * The receiver's notion of "now" for what depends on the calendar: block
 * periods, rollups, compaction, retention and the sample-age window. A
 * clock is real (vg_clock_now_ms) or, for tests only, driven: it reads
 * the time from a file holding decimal milliseconds since the epoch, so
 * a test moves a real receiver through 400 days in seconds by rewriting
 * the file (atomically: write another name, rename). A driven clock whose
 * file cannot be read or parsed keeps the last time it read (the real
 * time before the first good read). Timeouts and intervals never use it:
 * they stay on vg_clock_mono_ms, or on vg_clock_mono for the few windows a
 * test must see pass (the cardinality guard's minute, limits.h).
 *
 * Threads: any thread may read a clock at once; the struct is immutable
 * after init except for the atomic last reading.
 */
struct vg_clock {
	char *file;           /* NULL: the real clock */
	_Atomic int64_t last; /* driven: the last good reading */
};

/* A real clock (file NULL) or a driven one reading file (copied).
 * VG_ENOMEM. */
int vg_clock_init(struct vg_clock *c, const char *file);
void vg_clock_release(struct vg_clock *c);
/* Now, ms since the epoch, by c; NULL is the real clock. */
int64_t vg_clock_now(struct vg_clock *c);
static inline bool vg_clock_is_driven(const struct vg_clock *c)
{
	return c != NULL && c->file != NULL;
}
/* Monotonic clock, ms from an arbitrary start: for timeouts and intervals. */
int64_t vg_clock_mono_ms(void);
/* Monotonic ms by c: vg_clock_mono_ms for a real clock (or NULL), the
 * reading of vg_clock_now for a driven one, so that a test moves such a
 * window along with the calendar. */
int64_t vg_clock_mono(struct vg_clock *c);

/*
 * A Prometheus duration: integers with units ms s m h d w y (1d = 24h,
 * 1w = 7d, 1y = 365d), largest unit first, each at most once: "10s", "1h30m",
 * "54s321ms". "0" alone is accepted as zero. No fractions, no sign.
 */
int vg_duration_parse(const char *s, int64_t *ms, struct vg_err *err);

/* As the API's step and timeout parameters take them: a float number of
 * seconds ("15", "0.5") or a Prometheus duration. */
int vg_duration_parse_api(const char *s, int64_t *ms, struct vg_err *err);

/*
 * An API timestamp: a float number of Unix seconds (fraction rounded to ms;
 * "1435781451.781", "1.4e9") or RFC 3339 with optional fraction and zone
 * ("2015-07-01T20:10:51.781Z", "...+02:00"), or one of the two texts of
 * Prometheus's minimum and maximum time ("-292273086-05-16T16:47:06Z",
 * "292277025-08-18T07:12:54.999999999Z"), which its clients send for an
 * open bound.
 */
int vg_time_parse(const char *s, int64_t *ms, struct vg_err *err);

/* Formats ms as "2026-11-25T08:40:00.123Z" (fraction only when non-zero);
 * returns the length, truncating to cap-1. */
size_t vg_time_format_rfc3339(int64_t ms, char *out, size_t cap);

/* 64 random bits from getrandom(2), or from the clock and pid if that
 * fails: for epochs and jitter, not for secrets. */
uint64_t vg_random_u64(void);

/* Formats a duration as Prometheus does: "1h30m", "500ms", "0s". */
size_t vg_duration_format(int64_t ms, char *out, size_t cap);

#endif
