/*
 * chart.h: `vigil query -o chart`, a query's answer drawn for a terminal.
 *
 * A range answer is drawn as lines on a canvas: braille characters (2x4
 * dots a cell) when the terminal speaks UTF-8, one ASCII marker a cell
 * otherwise (--ascii); the y axis on the left with ticks in the unit the
 * expression's metric name says (SI prefixes, bytes, seconds, percent),
 * the time axis below, and a legend of the series with their minimum,
 * maximum and last value. An instant answer is drawn as one bar a series.
 * Colours (ANSI, one a series) only when asked.
 *
 * Every line of the output fits opts->width display columns; the plot is
 * opts->height rows. The renderer only appends to a buffer (output.h's
 * invariant: the caller writes all or nothing), and reads only a validated
 * struct vg_result, whose series text is already escaped for a terminal.
 * vg_chart_opts_for_terminal asks the terminal what it can show.
 */
#ifndef VG_CLI_CHART_H
#define VG_CLI_CHART_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/output.h"

struct vg_buf;

enum vg_chart_unit {
	VG_CHART_UNIT_SI,      /* 1.5k, 2M, 500m */
	VG_CHART_UNIT_BYTES,   /* 1.5KiB, 2GiB */
	VG_CHART_UNIT_SECONDS, /* 250ms, 1.5s, 2m, 3h */
	VG_CHART_UNIT_PERCENT, /* the value is already a percentage: 42% */
	VG_CHART_UNIT_RATIO,   /* a fraction shown as a percentage: 0.42 -> 42% */
};

struct vg_chart_unit_info {
	enum vg_chart_unit unit;
	bool is_per_second; /* a rate: "/s" after the unit */
};

/*
 * The unit of an expression, from the metric names in it, as Prometheus
 * names units: *_bytes bytes, *_seconds seconds, *_ratio a ratio,
 * *percent* a percentage; rate()/irate() of a *_seconds_total counter is
 * the busy fraction (CPU time per second) and shown as a percentage; of
 * another counter, that unit per second. Anything else: SI prefixes.
 */
struct vg_chart_unit_info vg_chart_unit_of(const char *expr);

/* Appends v in unit (with sig significant digits): "1.5k", "2GiB",
 * "250ms", "42%". */
void vg_chart_format_value(struct vg_buf *out, double v, struct vg_chart_unit_info u, int sig);

struct vg_chart_opts {
	int width;            /* display columns of every line; clamped to [40, 1000] */
	int height;           /* rows of the plot; clamped to [4, 200] */
	bool is_ascii;        /* ASCII only: markers and - | + */
	bool has_color;       /* ANSI colours */
	const char *title;    /* first line (the expression); may be NULL */
	int64_t step_ms;      /* the query step, to tell gaps from points; 0: guess */
	struct vg_chart_unit_info unit;
};

/*
 * Fills width, height, is_ascii and has_color for output to fd: width from
 * TIOCGWINSZ, else $COLUMNS, else 80; height half the terminal's rows
 * (from TIOCGWINSZ or $LINES) within [8, 30], else 15; ASCII when
 * force_ascii or the locale's character set (LC_CTYPE, set from the
 * environment here) is not UTF-8; colour only when fd is a terminal,
 * $NO_COLOR is unset or empty and $TERM is set and not "dumb".
 */
void vg_chart_opts_for_terminal(struct vg_chart_opts *o, int fd, bool force_ascii);

/* Series beyond this many are not drawn; the legend says how many. */
#define VG_CHART_MAX_SERIES 12

/* Appends the chart of r. An empty r appends nothing. */
void vg_chart_render(const struct vg_result *r, const struct vg_chart_opts *opts, struct vg_buf *out);

#endif
