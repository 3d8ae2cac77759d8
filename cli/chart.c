/*
 * chart.c: query answers drawn for a terminal (chart.h).
 *
 * Owns: the unit of an expression, axis ticks and their labels, the canvas
 * (a grid of dots, each remembering the last series that set it), line
 * drawing between consecutive points, the braille and ASCII encodings of
 * the canvas, the legend and the bars of an instant answer, and the
 * questions to the terminal (size, locale, colour).
 *
 * Invariant: every line appended is at most opts->width display columns
 * (series text is cut at a character boundary), so a chart never wraps.
 */
#include "cli/chart.h"
#include "common/buf.h"

#include <float.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "common/banned.h"

/* ANSI foreground colours, one a series in turn: well apart on dark and
 * light backgrounds alike. */
static const char *const palette[] = { "32", "33", "36", "35", "34", "31", "92", "93", "96", "95", "94", "91" };
#define N_PALETTE (sizeof(palette) / sizeof(palette[0]))
static const char ascii_markers[] = "*+ox#@%&=~$?";

/* ---- units ---------------------------------------------------------------- */

struct vg_chart_unit_info vg_chart_unit_of(const char *expr)
{
	struct vg_chart_unit_info u = { VG_CHART_UNIT_SI, false };
	bool is_rate = strstr(expr, "rate(") != NULL || strstr(expr, "deriv(") != NULL;

	if (strstr(expr, "_bytes") != NULL) {
		u.unit = VG_CHART_UNIT_BYTES;
		u.is_per_second = is_rate;
	} else if (strstr(expr, "_ratio") != NULL) {
		u.unit = VG_CHART_UNIT_RATIO;
	} else if (strstr(expr, "percent") != NULL) {
		u.unit = VG_CHART_UNIT_PERCENT;
	} else if (strstr(expr, "_seconds") != NULL) {
		/* seconds per second: the fraction of time busy (CPU) */
		if (is_rate && strstr(expr, "_seconds_total") != NULL)
			u.unit = VG_CHART_UNIT_RATIO;
		else
			u.unit = VG_CHART_UNIT_SECONDS;
	} else {
		u.is_per_second = is_rate;
	}
	return u;
}

/* "%.*g" without a useless exponent for the magnitudes axes show. */
static void put_num(struct vg_buf *out, double v, int sig)
{
	char s[64];

	if (v == 0)
		v = 0; /* no "-0" */
	snprintf(s, sizeof(s), "%.*g", sig, v);
	vg_buf_puts(out, s);
}

/* 0 < |v| < 1 with a prefix: 5m, 2µ (then p at most). */
static void put_small(struct vg_buf *out, double v, int sig)
{
	static const char *const si_small[] = { "", "m", "\xc2\xb5", "n", "p" };
	size_t i = 0;

	while (fabs(v) < 1 && i + 1 < sizeof(si_small) / sizeof(si_small[0])) {
		v *= 1000;
		i++;
	}
	put_num(out, v, sig);
	vg_buf_puts(out, si_small[i]);
}

void vg_chart_format_value(struct vg_buf *out, double v, struct vg_chart_unit_info u, int sig)
{
	static const char *const si_big[] = { "", "k", "M", "G", "T", "P", "E" };
	static const char *const iec[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double a = fabs(v);
	size_t i = 0;

	if (isnan(v) || isinf(v)) {
		vg_buf_puts(out, isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
		return;
	}
	switch (u.unit) {
	case VG_CHART_UNIT_BYTES:
		while (a >= 1024 && i + 1 < sizeof(iec) / sizeof(iec[0])) {
			a /= 1024;
			v /= 1024;
			i++;
		}
		put_num(out, v, sig);
		vg_buf_puts(out, iec[i]);
		break;
	case VG_CHART_UNIT_SECONDS:
		if (a == 0) {
			vg_buf_puts(out, "0s");
		} else if (a < 1) {
			put_small(out, v, sig);
			vg_buf_putc(out, 's');
		} else if (a < 60) {
			put_num(out, v, sig);
			vg_buf_putc(out, 's');
		} else if (a < 3600) {
			put_num(out, v / 60, sig);
			vg_buf_putc(out, 'm');
		} else if (a < 86400) {
			put_num(out, v / 3600, sig);
			vg_buf_putc(out, 'h');
		} else {
			put_num(out, v / 86400, sig);
			vg_buf_putc(out, 'd');
		}
		break;
	case VG_CHART_UNIT_PERCENT:
		put_num(out, v, sig);
		vg_buf_putc(out, '%');
		break;
	case VG_CHART_UNIT_RATIO:
		put_num(out, v * 100, sig);
		vg_buf_putc(out, '%');
		break;
	default:
		if (a >= 1000) {
			while (a >= 1000 && i + 1 < sizeof(si_big) / sizeof(si_big[0])) {
				a /= 1000;
				v /= 1000;
				i++;
			}
			put_num(out, v, sig);
			vg_buf_puts(out, si_big[i]);
		} else if (a > 0 && a < 1) {
			put_small(out, v, sig);
		} else {
			put_num(out, v, sig);
		}
		break;
	}
	if (u.is_per_second)
		vg_buf_puts(out, "/s");
}

/* ---- text measures -------------------------------------------------------- */

/* Display columns of UTF-8 text: one a character (the series text is
 * escaped; wide characters are rare enough in label values). */
static size_t columns(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

/* Appends s cut to at most max columns (a character boundary; "…" or "~"
 * marks a cut); returns the columns used. */
static size_t put_cut(struct vg_buf *out, const char *s, size_t n, size_t max, bool is_ascii)
{
	size_t c = columns(s, n), i = 0, used = 0;

	if (c <= max) {
		vg_buf_append(out, s, n);
		return c;
	}
	if (max == 0)
		return 0;
	while (i < n && used < max - 1) {
		size_t j = i + 1;

		while (j < n && ((unsigned char)s[j] & 0xC0) == 0x80)
			j++;
		vg_buf_append(out, s + i, j - i);
		i = j;
		used++;
	}
	vg_buf_puts(out, is_ascii ? "~" : "\xe2\x80\xa6");
	return used + 1;
}

static void spaces(struct vg_buf *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vg_buf_putc(out, ' ');
}

static void color_on(struct vg_buf *out, const struct vg_chart_opts *o, size_t series)
{
	if (o->has_color)
		vg_buf_printf(out, "\x1b[%sm", palette[series % N_PALETTE]);
}

static void color_off(struct vg_buf *out, const struct vg_chart_opts *o)
{
	if (o->has_color)
		vg_buf_puts(out, "\x1b[0m");
}

/* ---- ticks -------------------------------------------------------------- */

/* round(f) as an index in [0, max]: NaN and the infinities that values
 * near DBL_MAX give are clamped, never converted out of range. */
static int to_index(double f, int max)
{
	if (!(f >= 0))
		return 0;
	if (f >= max)
		return max;
	return (int)floor(f + 0.5);
}

/* The nice step (1, 2 or 5 times a power of ten) near span / n. */
static double nice_step(double span, int n)
{
	double raw = span / (n > 0 ? n : 1), p = pow(10, floor(log10(raw))), f = raw / p;

	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

static double point_value(const struct vg_point *p)
{
	char tmp[64];
	size_t n = p->value_len < sizeof(tmp) - 1 ? p->value_len : sizeof(tmp) - 1;

	memcpy(tmp, p->value, n);
	tmp[n] = 0;
	return strtod(tmp, NULL);
}

struct canvas {
	int w, h;           /* in dots */
	unsigned char *dot; /* w*h: 0 empty, else series index + 1 (last writer) */
};

static void plot(struct canvas *c, int x, int y, int s)
{
	if (x >= 0 && x < c->w && y >= 0 && y < c->h)
		c->dot[(size_t)y * (size_t)c->w + (size_t)x] = (unsigned char)(s + 1);
}

static void line(struct canvas *c, int x0, int y0, int x1, int y1, int s)
{
	int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;

	for (;;) {
		plot(c, x0, y0, s);
		if (x0 == x1 && y0 == y1)
			break;
		int e2 = 2 * e;
		if (e2 >= dy) {
			e += dy;
			x0 += sx;
		}
		if (e2 <= dx) {
			e += dx;
			y0 += sy;
		}
	}
}

/* The time label for t: finer when the span is short. */
static void put_time(struct vg_buf *out, int64_t ts_ms, int64_t span_ms)
{
	time_t t = (time_t)(ts_ms / 1000);
	struct tm tm;
	char s[32];

	if (localtime_r(&t, &tm) == NULL)
		return;
	strftime(s, sizeof(s),
		 span_ms <= 10 * 60 * 1000 ? "%H:%M:%S"
		 : span_ms <= 24 * 3600 * 1000LL ? "%H:%M"
		 : span_ms <= 31 * 86400 * 1000LL ? "%m-%d %H:%M"
						  : "%Y-%m-%d",
		 &tm);
	vg_buf_puts(out, s);
}

/* A tick every interval (a round one from this list) in local time. */
static int64_t time_tick_ms(int64_t span_ms, int max_ticks)
{
	static const int64_t steps_s[] = { 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
					   21600, 43200, 86400, 172800, 604800, 2592000, 7776000, 31536000 };

	for (size_t i = 0; i < sizeof(steps_s) / sizeof(steps_s[0]); i++)
		if (span_ms / (steps_s[i] * 1000) < max_ticks)
			return steps_s[i] * 1000;
	return span_ms;
}

static int64_t local_offset_ms(int64_t ts_ms)
{
	time_t t = (time_t)(ts_ms / 1000);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return (int64_t)tm.tm_gmtoff * 1000;
}

/* ---- the line chart ------------------------------------------------------- */

struct stats {
	double min, max, last;
	bool has;
};

static void render_lines(const struct vg_result *r, const struct vg_chart_opts *o, struct vg_buf *out)
{
	size_t ns = r->n_rows < VG_CHART_MAX_SERIES ? r->n_rows : VG_CHART_MAX_SERIES;
	struct stats st[VG_CHART_MAX_SERIES];
	double lo = INFINITY, hi = -INFINITY;
	int64_t t0 = INT64_MAX, t1 = INT64_MIN, step = o->step_ms;
	int H = o->height;
	int xs = o->is_ascii ? 1 : 2, ys = o->is_ascii ? 1 : 4;

	for (size_t s = 0; s < ns; s++) {
		const struct vg_row *row = &r->rows[s];

		st[s].has = false;
		for (size_t i = 0; i < row->n_points; i++) {
			double v = point_value(&row->points[i]);

			if (row->points[i].ts_ms < t0)
				t0 = row->points[i].ts_ms;
			if (row->points[i].ts_ms > t1)
				t1 = row->points[i].ts_ms;
			int64_t d;
			if (i > 0 && o->step_ms <= 0 &&
			    !__builtin_sub_overflow(row->points[i].ts_ms, row->points[i - 1].ts_ms, &d) && d > 0 &&
			    (step <= 0 || d < step))
				step = d; /* no step given: the smallest distance */
			if (isnan(v) || isinf(v))
				continue;
			if (!st[s].has || v < st[s].min)
				st[s].min = v;
			if (!st[s].has || v > st[s].max)
				st[s].max = v;
			st[s].last = v;
			st[s].has = true;
			if (v < lo)
				lo = v;
			if (v > hi)
				hi = v;
		}
	}
	if (t0 > t1)
		return;
	if (lo > hi)
		lo = 0, hi = 1;
	if (lo == hi) {
		double pad = lo != 0 ? fabs(lo) * 0.1 : 1;

		lo -= pad;
		hi += pad;
	}
	/* y ticks: a nice step for about one tick every three rows */
	double ystep = nice_step(hi - lo, H / 3 > 1 ? H / 3 : 1);
	if (o->unit.unit == VG_CHART_UNIT_BYTES && hi - lo >= 1024) {
		/* round steps in the binary unit shown: 256MiB, not 100MB */
		double scale = 1;

		while ((hi - lo) / scale >= 1024)
			scale *= 1024;
		ystep = nice_step((hi - lo) / scale, H / 3 > 1 ? H / 3 : 1) * scale;
	}
	double ylo = floor(lo / ystep) * ystep, yhi = ceil(hi / ystep) * ystep;
	if (yhi - ylo < ystep)
		yhi = ylo + ystep;
	if (!isfinite(ystep) || !(ystep > 0) || !isfinite(yhi - ylo) || (yhi - ylo) / ystep > 200) {
		/* near the ends of the doubles: the bare range, two ticks */
		ylo = lo, yhi = hi;
		if (!isfinite(yhi - ylo)) {
			ylo = -DBL_MAX / 2;
			yhi = DBL_MAX / 2;
		}
		ystep = yhi - ylo;
	}
	int n_yticks = to_index((yhi - ylo) / ystep, 199) + 1;
	/* tick labels and their width */
	struct vg_buf labels[201];
	size_t lw = 0;
	int label_row[201];
	for (int i = 0; i < n_yticks; i++) {
		double v = ylo + ystep * i;

		vg_buf_init(&labels[i]);
		if (fabs(v) < ystep * 1e-9)
			v = 0;
		vg_chart_format_value(&labels[i], v, o->unit, 3);
		size_t c = columns(vg_buf_cstr(&labels[i]), labels[i].len);
		if (c > lw)
			lw = c;
		label_row[i] = to_index((yhi - v) / (yhi - ylo) * (H * ys - 1), H * ys - 1) / ys;
	}
	int PW = o->width - (int)lw - 3;
	if (PW < 10)
		PW = 10;
	struct canvas c = { PW * xs, H * ys, NULL };
	unsigned char *owner = calloc((size_t)PW * (size_t)H, 1);

	c.dot = calloc((size_t)c.w * (size_t)c.h, 1);
	if (c.dot == NULL || owner == NULL) {
		out->is_failed = true;
		goto out;
	}
	/* draw each series, joining points no further apart than two steps */
	for (size_t s = 0; s < ns; s++) {
		const struct vg_row *row = &r->rows[s];
		int px = -1, py = -1;
		int64_t pt = 0;

		for (size_t i = 0; i < row->n_points; i++) {
			double v = point_value(&row->points[i]);
			int64_t ts = row->points[i].ts_ms;

			if (isnan(v) || isinf(v)) {
				px = -1;
				continue;
			}
			int x = t1 > t0 ? to_index(((double)ts - (double)t0) / ((double)t1 - (double)t0) * (c.w - 1), c.w - 1) : c.w / 2;
			int y = to_index((yhi - v) / (yhi - ylo) * (c.h - 1), c.h - 1);

			if (px >= 0 && (step <= 0 || (double)ts - (double)pt <= 2.0 * (double)step))
				line(&c, px, py, x, y, (int)s);
			else
				plot(&c, x, y, (int)s);
			px = x, py = y, pt = ts;
		}
	}
	for (int y = 0; y < c.h; y++)
		for (int x = 0; x < c.w; x++)
			if (c.dot[(size_t)y * (size_t)c.w + (size_t)x])
				owner[(size_t)(y / ys) * (size_t)PW + (size_t)(x / xs)] = c.dot[(size_t)y * (size_t)c.w + (size_t)x];

	if (o->title != NULL) {
		put_cut(out, o->title, strlen(o->title), (size_t)o->width, o->is_ascii);
		vg_buf_putc(out, '\n');
	}
	for (int row = 0; row < H; row++) {
		int tick = -1;

		for (int i = 0; i < n_yticks; i++)
			if (label_row[i] == row)
				tick = i;
		if (tick >= 0) {
			size_t cl = columns(vg_buf_cstr(&labels[tick]), labels[tick].len);

			spaces(out, lw - cl);
			vg_buf_append(out, labels[tick].data, labels[tick].len);
			vg_buf_puts(out, o->is_ascii ? " +" : " \xe2\x94\xa4"); /* ┤ */
		} else {
			spaces(out, lw);
			vg_buf_puts(out, o->is_ascii ? " |" : " \xe2\x94\x82"); /* │ */
		}
		int cur = 0;
		for (int x = 0; x < PW; x++) {
			int own = owner[(size_t)row * (size_t)PW + (size_t)x];

			if (own != cur) {
				if (cur)
					color_off(out, o);
				if (own)
					color_on(out, o, (size_t)own - 1);
				cur = own;
			}
			if (o->is_ascii) {
				vg_buf_putc(out, own ? ascii_markers[(own - 1) % (int)(sizeof(ascii_markers) - 1)] : ' ');
				continue;
			}
			unsigned bits = 0;
			static const unsigned bit[4][2] = { { 0x01, 0x08 }, { 0x02, 0x10 }, { 0x04, 0x20 }, { 0x40, 0x80 } };
			for (int dy = 0; dy < 4; dy++)
				for (int dx = 0; dx < 2; dx++)
					if (c.dot[(size_t)(row * 4 + dy) * (size_t)c.w + (size_t)(x * 2 + dx)])
						bits |= bit[dy][dx];
			if (bits == 0) {
				vg_buf_putc(out, ' ');
			} else {
				unsigned cp = 0x2800 + bits;
				char u[3] = { (char)(0xE0 | cp >> 12), (char)(0x80 | ((cp >> 6) & 0x3F)), (char)(0x80 | (cp & 0x3F)) };

				vg_buf_append(out, u, 3);
			}
		}
		if (cur)
			color_off(out, o);
		vg_buf_putc(out, '\n');
	}
	/* the time axis: a line with a mark at each tick, labels below */
	{
		/* beyond a few million years of milliseconds, no time labels
		 * (and no overflow in the tick arithmetic) */
		bool is_sane = t0 > -100000000000000000LL && t1 < 100000000000000000LL;
		int64_t span = is_sane ? t1 - t0 : 0;
		int64_t tick = time_tick_ms(span > 0 ? span : 1000, PW / 12 > 1 ? PW / 12 : 1);
		int64_t off = is_sane ? local_offset_ms(t0) : 0;
		int64_t first = is_sane ? ((t0 + off + tick - 1) / tick) * tick - off : t0;
		struct vg_buf axis = VG_BUF_INIT, lab = VG_BUF_INIT;
		char *marks = malloc((size_t)PW);
		size_t lab_cols = 0;

		if (marks == NULL) {
			out->is_failed = true;
			goto out;
		}
		memset(marks, 0, (size_t)PW);
		spaces(&lab, lw + 2);
		lab_cols = lw + 2;
		if (span <= 0)
			first = t0;
		for (int64_t t = first; is_sane && t <= t1 && (span > 0 || t == t0); t += tick) {
			int x = span > 0 ? to_index((double)(t - t0) / (double)span * (PW - 1), PW - 1) : PW / 2;
			struct vg_buf one = VG_BUF_INIT;

			put_time(&one, t, span);
			size_t w = columns(vg_buf_cstr(&one), one.len), at = lw + 2 + (size_t)x;

			at = at >= w / 2 ? at - w / 2 : 0;
			if (at >= lab_cols + (lab_cols > lw + 2 ? 1 : 0) && at + w <= (size_t)o->width) {
				spaces(&lab, at - lab_cols);
				vg_buf_append(&lab, one.data, one.len);
				lab_cols = at + w;
				marks[x] = 1;
			}
			vg_buf_release(&one);
			if (span <= 0)
				break;
		}
		spaces(&axis, lw);
		vg_buf_puts(&axis, o->is_ascii ? " +" : " \xe2\x94\x94"); /* └ */
		for (int x = 0; x < PW; x++)
			vg_buf_puts(&axis, o->is_ascii ? (marks[x] ? "+" : "-") : (marks[x] ? "\xe2\x94\xac" : "\xe2\x94\x80"));
		vg_buf_append(out, axis.data, axis.len);
		vg_buf_putc(out, '\n');
		vg_buf_append(out, lab.data, lab.len);
		vg_buf_putc(out, '\n');
		vg_buf_release(&axis);
		vg_buf_release(&lab);
		free(marks);
	}
	/* the legend: marker, series, min max last */
	for (size_t s = 0; s < ns; s++) {
		const struct vg_row *row = &r->rows[s];
		struct vg_buf tail = VG_BUF_INIT;
		size_t used;

		if (st[s].has) {
			vg_buf_puts(&tail, "  min ");
			vg_chart_format_value(&tail, st[s].min, o->unit, 4);
			vg_buf_puts(&tail, "  max ");
			vg_chart_format_value(&tail, st[s].max, o->unit, 4);
			vg_buf_puts(&tail, "  last ");
			vg_chart_format_value(&tail, st[s].last, o->unit, 4);
		} else {
			vg_buf_puts(&tail, "  no values");
		}
		color_on(out, o, s);
		if (o->is_ascii) {
			vg_buf_putc(out, ascii_markers[s % (sizeof(ascii_markers) - 1)]);
			vg_buf_putc(out, ascii_markers[s % (sizeof(ascii_markers) - 1)]);
		} else {
			vg_buf_puts(out, "\xe2\x94\x81\xe2\x94\x81"); /* ━━ */
		}
		color_off(out, o);
		vg_buf_putc(out, ' ');
		used = 3;
		size_t tail_cols = columns(vg_buf_cstr(&tail), tail.len);
		size_t room = (size_t)o->width > used + tail_cols ? (size_t)o->width - used - tail_cols : 0;
		if (room < 10) { /* a narrow terminal: the series alone */
			room = (size_t)o->width - used;
			tail.len = 0;
		}
		put_cut(out, row->series, row->series_len, room, o->is_ascii);
		vg_buf_append(out, tail.data, tail.len);
		vg_buf_putc(out, '\n');
		vg_buf_release(&tail);
	}
	if (r->n_rows > ns)
		vg_buf_printf(out, "(%zu more series not drawn)\n", r->n_rows - ns);
out:
	for (int i = 0; i < n_yticks; i++)
		vg_buf_release(&labels[i]);
	free(c.dot);
	free(owner);
}

/* ---- bars for an instant answer ------------------------------------------- */

static void render_bars(const struct vg_result *r, const struct vg_chart_opts *o, struct vg_buf *out)
{
	static const char *const eighths[] = { "", "\xe2\x96\x8f", "\xe2\x96\x8e", "\xe2\x96\x8d", "\xe2\x96\x8c",
					       "\xe2\x96\x8b", "\xe2\x96\x8a", "\xe2\x96\x89" };
	size_t n = r->n_rows, name_w = 0, val_w = 0;
	double lo = 0, hi = 0;
	struct vg_buf *vals = calloc(n ? n : 1, sizeof(*vals));

	if (vals == NULL) {
		out->is_failed = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		double v = r->rows[i].n_points ? point_value(&r->rows[i].points[0]) : NAN;
		size_t c;

		vg_buf_init(&vals[i]);
		vg_chart_format_value(&vals[i], v, o->unit, 4);
		if ((c = columns(vg_buf_cstr(&vals[i]), vals[i].len)) > val_w)
			val_w = c;
		if ((c = columns(r->rows[i].series, r->rows[i].series_len)) > name_w)
			name_w = c;
		if (!isnan(v) && !isinf(v)) {
			if (v < lo)
				lo = v;
			if (v > hi)
				hi = v;
		}
	}
	if (name_w > (size_t)o->width * 2 / 5)
		name_w = (size_t)o->width * 2 / 5;
	size_t bar_w = (size_t)o->width > name_w + val_w + 3 ? (size_t)o->width - name_w - val_w - 3 : 1;
	if (o->title != NULL) {
		put_cut(out, o->title, strlen(o->title), (size_t)o->width, o->is_ascii);
		vg_buf_putc(out, '\n');
	}
	for (size_t i = 0; i < n; i++) {
		double v = r->rows[i].n_points ? point_value(&r->rows[i].points[0]) : NAN;
		size_t used = put_cut(out, r->rows[i].series, r->rows[i].series_len, name_w, o->is_ascii);
		size_t eights = 0;

		spaces(out, name_w - used + 1);
		if (!isnan(v) && !isinf(v) && hi > lo)
			eights = (size_t)to_index((v - lo) / (hi - lo) * (double)(bar_w * 8), (int)(bar_w * 8));
		if (eights > bar_w * 8)
			eights = bar_w * 8;
		color_on(out, o, i);
		size_t cells = 0;
		for (size_t k = 0; k < eights / 8; k++, cells++)
			vg_buf_puts(out, o->is_ascii ? "#" : "\xe2\x96\x88"); /* █ */
		if (eights % 8) {
			vg_buf_puts(out, o->is_ascii ? (eights % 8 >= 4 ? "#" : "") : eighths[eights % 8]);
			cells += !o->is_ascii || eights % 8 >= 4;
		}
		color_off(out, o);
		spaces(out, bar_w - cells + 1);
		spaces(out, val_w - columns(vg_buf_cstr(&vals[i]), vals[i].len));
		vg_buf_append(out, vals[i].data, vals[i].len);
		vg_buf_putc(out, '\n');
	}
	for (size_t i = 0; i < n; i++)
		vg_buf_release(&vals[i]);
	free(vals);
}

void vg_chart_render(const struct vg_result *r, const struct vg_chart_opts *opts, struct vg_buf *out)
{
	struct vg_chart_opts o = *opts;

	if (r->n_rows == 0)
		return;
	o.width = o.width < 40 ? 40 : o.width > 1000 ? 1000 : o.width;
	o.height = o.height < 4 ? 4 : o.height > 200 ? 200 : o.height;
	if (r->is_range)
		render_lines(r, &o, out);
	else
		render_bars(r, &o, out);
}

static long env_number(const char *name)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (s == NULL || *s == 0)
		return 0;
	v = strtol(s, &end, 10);
	return *end == 0 && v > 0 && v < 100000 ? v : 0;
}

void vg_chart_opts_for_terminal(struct vg_chart_opts *o, int fd, bool force_ascii)
{
	struct winsize ws;
	long cols = 0, rows = 0;
	const char *term = getenv("TERM"), *no_color = getenv("NO_COLOR"), *cs;

	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
		cols = ws.ws_col;
		rows = ws.ws_row;
	}
	if (cols == 0)
		cols = env_number("COLUMNS");
	if (rows == 0)
		rows = env_number("LINES");
	o->width = cols > 0 ? (int)cols : 80;
	o->height = rows > 0 ? (int)(rows / 2 < 8 ? 8 : rows / 2 > 30 ? 30 : rows / 2) : 15;
	setlocale(LC_CTYPE, "");
	cs = nl_langinfo(CODESET);
	o->is_ascii = force_ascii || cs == NULL || (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "utf8") != 0);
	o->has_color = isatty(fd) && (no_color == NULL || *no_color == 0) && term != NULL && *term != 0 &&
		       strcmp(term, "dumb") != 0;
}
