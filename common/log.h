/*
 * log.h: one line per event on stderr, fit for a terminal and for journald.
 *
 * Under systemd (JOURNAL_STREAM set) each line starts with the syslog
 * priority "<N>" so journald files it at the right level; elsewhere with an
 * ISO 8601 UTC time and the level name. The program name set by
 * vg_log_init prefixes every line. Lines are written with one write(2), so
 * threads never interleave within a line.
 *
 * Rate-limited complaints (collectd's c_complain is the model): a condition
 * that repeats (a dead receiver, an unreadable file) logs once, then again
 * only after a doubling interval (capped at one hour), and vg_log_relief logs
 * once when it clears. The complaint counts every occurrence for /metrics.
 */
#ifndef VG_LOG_H
#define VG_LOG_H

#include <stdint.h>

enum vg_log_level {
	VG_LOG_ERROR = 3,
	VG_LOG_WARN = 4,
	VG_LOG_INFO = 6,
	VG_LOG_DEBUG = 7,
};

void vg_log_init(const char *progname, enum vg_log_level level);
void vg_log_set_level(enum vg_log_level level);
/* Parses "error", "warn", "info", "debug"; 0 on success. */
int vg_log_parse_level(const char *s, enum vg_log_level *out);
int vg_log_enabled(enum vg_log_level level);

void vg_log(enum vg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define vg_error(...) vg_log(VG_LOG_ERROR, __VA_ARGS__)
#define vg_warn(...) vg_log(VG_LOG_WARN, __VA_ARGS__)
#define vg_info(...) vg_log(VG_LOG_INFO, __VA_ARGS__)
#define vg_debug(...) do { if (vg_log_enabled(VG_LOG_DEBUG)) vg_log(VG_LOG_DEBUG, __VA_ARGS__); } while (0)

struct vg_complaint {
	int64_t next_ms;     /* do not log again before this time */
	int64_t interval_ms; /* 0 = not complaining now */
	uint64_t count;      /* occurrences, ever */
};

#define VG_COMPLAINT_INIT { 0, 0, 0 }

void vg_log_complain(struct vg_complaint *c, enum vg_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Logs fmt at info level if c was complaining, and resets it. */
void vg_log_relief(struct vg_complaint *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
