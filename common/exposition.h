/*
 * exposition.h: the one parser of the Prometheus text exposition format
 * 0.0.4 in Vigil. The receiver's /api/v1/import/prometheus, the agent's
 * textfile collector and its local scrapes all read through it.
 * (/work/shared/interfaces/prometheus-exposition.md has the format; the
 * accepted grammar is written out in exposition.c's opening comment.)
 *
 * Streaming and line-oriented: feed it the bytes in pieces of any size (a
 * line may span pieces); it calls back once per sample line with the series
 * in canonical form (common/series.h), the value, the timestamp if the line
 * had one, and the line number (1-based). A malformed line is reported
 * through on_error with its line number and a reason, and the parse goes on
 * with the next line: the caller decides what an error means (the import
 * endpoint stores the rest; the textfile collector rejects the whole file).
 *
 * Invariants:
 *  - Memory is bounded whatever the input: one line buffer of at most
 *    max_line_bytes (a longer line is reported and skipped up to its
 *    newline, never held), one scratch buffer of the same bound, and the
 *    struct itself. No allocation per sample.
 *  - A callback that returns non-zero stops the parse: that feed and every
 *    later feed or finish return the same value, calling back no more.
 *
 * Lifecycle: vg_exposition_new, vg_exposition_feed (any number of times),
 * vg_exposition_finish (once, for a last line without a newline),
 * vg_exposition_free. Everything passed to callbacks is borrowed and valid
 * only during the call.
 */
#ifndef VG_EXPOSITION_H
#define VG_EXPOSITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/series.h"

struct vg_exposition;

/* A line longer than this (without its newline) is rejected by default. */
#define VG_EXPOSITION_DEFAULT_MAX_LINE (64 * 1024)
/* The smallest bound a caller may set: room for any valid series key. */
#define VG_EXPOSITION_MIN_MAX_LINE 256

enum vg_exposition_type {
	VG_EXPOSITION_UNTYPED,
	VG_EXPOSITION_COUNTER,
	VG_EXPOSITION_GAUGE,
	VG_EXPOSITION_HISTOGRAM,
	VG_EXPOSITION_SUMMARY,
};

struct vg_exposition_sample {
	const struct vg_series *series; /* canonical; borrowed */
	double value;
	int64_t ts_ms;      /* valid when has_timestamp */
	bool has_timestamp; /* false: the line had none, the caller picks one */
	uint64_t line;
};

/* A # HELP or # TYPE line. */
struct vg_exposition_meta {
	struct vg_str name;
	bool is_help;                 /* else TYPE */
	struct vg_str help;           /* unescaped docstring, when is_help */
	enum vg_exposition_type type; /* when !is_help */
	uint64_t line;
};

struct vg_exposition_config {
	/* 0 means VG_EXPOSITION_DEFAULT_MAX_LINE; below
	 * VG_EXPOSITION_MIN_MAX_LINE is raised to it. */
	size_t max_line_bytes;
	/* A last line without '\n' is an error ("truncated?") instead of a
	 * line: for files that should have been written whole. */
	bool needs_final_newline;
	/* Labels added to every series, replacing a label of the same name
	 * the line had (VictoriaMetrics's extra_label). Borrowed for the
	 * parser's life; an empty value removes the label. */
	const struct vg_label *extra_labels;
	size_t n_extra_labels;
	/* Called per sample line that parsed. Required. */
	int (*on_sample)(void *ctx, const struct vg_exposition_sample *s);
	/* Called per malformed line; reason is a short sentence without the
	 * line number. Optional (NULL: errors are only counted). */
	int (*on_error)(void *ctx, uint64_t line, int code, const char *reason);
	/* Called per HELP and TYPE line. Optional. */
	int (*on_meta)(void *ctx, const struct vg_exposition_meta *m);
	void *ctx;
};

struct vg_exposition_stats {
	uint64_t lines;   /* lines seen, blank and comment lines included */
	uint64_t samples; /* lines passed to on_sample */
	uint64_t errors;  /* lines passed to on_error */
	uint64_t bytes;   /* bytes fed */
};

/* A new parser for cfg (copied; extra_labels stays borrowed). VG_EINVAL if
 * cfg has no on_sample or an extra label is not valid, VG_ENOMEM. */
int vg_exposition_new(const struct vg_exposition_config *cfg, struct vg_exposition **out,
		      struct vg_err *err);
void vg_exposition_free(struct vg_exposition *p);

/* Parses data[0..len): 0, or the non-zero value a callback stopped with,
 * or VG_ENOMEM (the parser is then stopped too). */
int vg_exposition_feed(struct vg_exposition *p, const void *data, size_t len);
/* Ends the input: parses a last line that had no newline. Same returns. */
int vg_exposition_finish(struct vg_exposition *p);

const struct vg_exposition_stats *vg_exposition_stats(const struct vg_exposition *p);

/* "counter", "gauge", ... */
const char *vg_exposition_type_name(enum vg_exposition_type t);

/*
 * The value syntax on its own (Go's strconv.ParseFloat as Prometheus takes
 * it: decimal with optional exponent, NaN, [+-]Inf, [+-]Infinity in any
 * case; no hex floats, no '_'); s[0..len), no NUL needed. 0 or VG_EINVAL
 * (also for a finite number that overflows a double).
 */
int vg_exposition_parse_value(const char *s, size_t len, double *out);

#endif
