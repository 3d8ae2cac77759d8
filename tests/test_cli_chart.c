/*
 * test_cli_chart.c: vigil query -o chart, vigil labels and vigil series
 * against a real vigil-receiver holding an hour of imported data: the
 * chart's dimensions, axis labels, units and legend read back from the
 * output, a rising series drawn rising and a falling one falling (braille
 * and ASCII), bars of an instant answer in proportion; label names and
 * values with --match; and, without a receiver, the units and value
 * formats, colours only when asked, and the width bound with long series.
 */
#include "tests/harness.h"
#include "cli/chart.h"
#include "cli/output.h"
#include "common/buf.h"
#include "common/err.h"

#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/banned.h"

static char *dir;
static struct vg_t_receiver rcv;
static char server[64];
static long now_s;

#define WIDTH 100

static void setup(void)
{
	char data[600];
	struct vg_buf body = VG_BUF_INIT;
	long status = 0;
	char *reply;

	dir = vg_t_tmpdir("vigil-chart");
	snprintf(data, sizeof(data), "%s/data", dir);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, NULL), 0);
	snprintf(server, sizeof(server), "http://127.0.0.1:%u", rcv.http_port);
	now_s = (long)time(NULL);
	/* an hour at 30 s: a rises 10 -> 70, b falls 60 -> 24, a CPU counter
	 * busy 20% to 80%, memory rising from 4 GB */
	for (int i = 0; i <= 120; i++) {
		long long t = (long long)(now_s - 3600 + i * 30) * 1000;

		vg_buf_printf(&body, "test_rising{host=\"a\"} %g %lld\n", 10 + i * 0.5, t);
		vg_buf_printf(&body, "test_falling{host=\"b\"} %g %lld\n", 60 - i * 0.3, t);
		vg_buf_printf(&body, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} %g %lld\n",
			      i * 30 * 0.2 + i * i * 0.075, t);
		vg_buf_printf(&body, "node_memory_MemAvailable_bytes{host=\"a\"} %g %lld\n", 4e9 + i * 1e7, t);
	}
	reply = vg_t_http_post(rcv.http_port, "/api/v1/import/prometheus", body.data, body.len, &status);
	ck_assert_msg(status == 204 || status == 200, "import: HTTP %ld: %s", status, reply ? reply : "");
	free(reply);
	vg_buf_release(&body);
	setenv("COLUMNS", "100", 1);
	setenv("LINES", "40", 1); /* a plot of 20 rows */
	setenv("TZ", "UTC", 1);
	setenv("LC_ALL", "C.UTF-8", 1);
	unsetenv("NO_COLOR");
}

static void teardown(void)
{
	int r = vg_t_stop(&rcv.proc, SIGTERM, 10000);

	ck_assert_msg(r == 0, "vigil-receiver exited with %d (see %s)", r, rcv.proc.log_path);
	vg_t_rmrf(dir);
	free(dir);
}

/* Runs vigil --server <receiver> with the arguments up to a NULL (at
 * most 16); returns the status, stdout and stderr in new strings. */
static int vigil(char **out, char **err, ...)
{
	char *argv[20] = { (char *)vg_t_bin("vigil"), "--server", server };
	int n = 3;
	va_list ap;

	va_start(ap, err);
	for (char *a; n < 19 && (a = va_arg(ap, char *)) != NULL;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return vg_t_run(argv, out, err, 15000);
}

/* ---- reading a chart back --------------------------------------------- */

#define MAX_LINES 200
#define MAX_CELLS 1000

struct chart {
	char *lines[MAX_LINES];
	int n_lines;
	/* the plot: rows whose axis is ┤ │ (or + | in ASCII), cells after it */
	int first_plot, n_plot;
	int ink[MAX_LINES][MAX_CELLS]; /* 1 where a cell is drawn */
	int plot_w;
	char ylabel[MAX_LINES][32];
};

static size_t utf8_len(const char *s)
{
	size_t c = 0;

	for (; *s; s++)
		c += ((unsigned char)*s & 0xC0) != 0x80;
	return c;
}

static void chart_read(struct chart *c, char *text, bool is_ascii)
{
	memset(c, 0, sizeof(*c));
	c->first_plot = -1;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && c->n_lines < MAX_LINES; l = strtok_r(NULL, "\n", &save))
		c->lines[c->n_lines++] = l;
	for (int i = 0; i < c->n_lines; i++) {
		const char *l = c->lines[i];
		const char *axis = NULL;
		size_t axis_len = 0;

		if (is_ascii) {
			const char *p = strstr(l, " |");
			const char *q = strstr(l, " +");

			axis = p && (!q || p < q) ? p : q;
			axis_len = 2;
			if (axis && axis[2] == '-')
				axis = NULL; /* the time axis */
		} else {
			axis = strstr(l, " \xe2\x94\xa4");
			if (!axis)
				axis = strstr(l, " \xe2\x94\x82");
			axis_len = 4;
		}
		if (axis == NULL)
			continue;
		if (c->first_plot < 0)
			c->first_plot = i;
		else if (i != c->first_plot + c->n_plot)
			continue;
		int row = c->n_plot++;
		size_t ll = (size_t)(axis - l);
		if (ll >= sizeof(c->ylabel[0]))
			ll = sizeof(c->ylabel[0]) - 1;
		memcpy(c->ylabel[row], l, ll);
		c->ylabel[row][ll] = 0;
		int x = 0;
		for (const char *p = axis + axis_len; *p && x < MAX_CELLS; x++) {
			size_t n = 1;

			while (((unsigned char)p[n] & 0xC0) == 0x80)
				n++;
			c->ink[row][x] = !(n == 1 && *p == ' ');
			p += n;
		}
		if (x > c->plot_w)
			c->plot_w = x;
	}
}

/* The mean row of the ink in columns [x0, x1): larger is lower. */
static double mean_row(const struct chart *c, int x0, int x1)
{
	double sum = 0;
	int n = 0;

	for (int r = 0; r < c->n_plot; r++)
		for (int x = x0; x < x1; x++)
			if (c->ink[r][x]) {
				sum += r;
				n++;
			}
	ck_assert_msg(n > 0, "no ink in columns %d..%d", x0, x1);
	return sum / n;
}

static int find_line(const struct chart *c, const char *prefix)
{
	for (int i = 0; i < c->n_lines; i++)
		if (strncmp(c->lines[i], prefix, strlen(prefix)) == 0)
			return i;
	return -1;
}

static void range_args(char *start, char *end)
{
	snprintf(start, 32, "%ld", now_s - 3600);
	snprintf(end, 32, "%ld", now_s);
}

START_TEST(test_chart_braille_dimensions_axes_legend)
{
	char start[32], end[32], *out = NULL, *err = NULL;
	struct chart *c = malloc(sizeof(*c));

	range_args(start, end);
	ck_assert_int_eq(vigil(&out, &err, "query", "{__name__=~\"test_.*\"}", "--start", start, "--end", end, "--step", "30s", "-o", "chart", NULL),
			 0);
	ck_assert_ptr_nonnull(strstr(out, "\xe2\xa0")); /* braille U+28xx */
	chart_read(c, out, false);
	ck_assert_str_eq(c->lines[0], "{__name__=~\"test_.*\"}");
	/* dimensions: 20 plot rows (half of LINES), no line wider than COLUMNS */
	ck_assert_int_eq(c->n_plot, 20);
	for (int i = 0; i < c->n_lines; i++)
		ck_assert_msg(utf8_len(c->lines[i]) <= WIDTH, "line %d is %zu wide: %s", i, utf8_len(c->lines[i]), c->lines[i]);
	ck_assert_int_ge(c->plot_w, 80);
	/* the y axis: labels that fall from top to bottom, covering 10..70 */
	double prev = INFINITY, top = NAN, bottom = NAN;
	int n_labels = 0;
	for (int r = 0; r < c->n_plot; r++) {
		char *e;
		double v = strtod(c->ylabel[r], &e);

		if (e == c->ylabel[r])
			continue;
		ck_assert_msg(v < prev, "y labels not falling at row %d", r);
		prev = v;
		if (n_labels++ == 0)
			top = v;
		bottom = v;
	}
	ck_assert_int_ge(n_labels, 3);
	ck_assert(top >= 70 && bottom <= 10);
	/* the time axis and its labels: HH:MM, in order, under the plot */
	int axis_line = c->first_plot + c->n_plot;
	ck_assert_ptr_nonnull(strstr(c->lines[axis_line], "\xe2\x94\x94")); /* └ */
	ck_assert_ptr_nonnull(strstr(c->lines[axis_line], "\xe2\x94\xac")); /* ┬ */
	int hh, mm, n_times = 0;
	for (const char *p = c->lines[axis_line + 1]; (p = strchr(p, ':')) != NULL; p++)
		if (p - c->lines[axis_line + 1] >= 2 && sscanf(p - 2, "%2d:%2d", &hh, &mm) == 2)
			n_times++;
	ck_assert_int_ge(n_times, 3);
	/* the legend: one line a series with min, max and last */
	int la = find_line(c, "\xe2\x94\x81\xe2\x94\x81 test_falling{host=\"b\"}");
	int lb = find_line(c, "\xe2\x94\x81\xe2\x94\x81 test_rising{host=\"a\"}");
	ck_assert_int_gt(la, axis_line);
	ck_assert_int_gt(lb, axis_line);
	ck_assert_ptr_nonnull(strstr(c->lines[lb], "min 10  max 70  last 70"));
	ck_assert_ptr_nonnull(strstr(c->lines[la], "min 24  max 60  last 24"));
	/* not a terminal: no colours */
	ck_assert_ptr_null(strchr(out, '\x1b'));
	free(out);
	free(err);
	free(c);
}
END_TEST

/* One series a chart: the left fifth lower than the right fifth. */
static void check_direction(const char *sel, bool is_ascii, bool is_rising)
{
	char start[32], end[32], *out = NULL, *err = NULL;
	struct chart *c = malloc(sizeof(*c));

	range_args(start, end);
	ck_assert_int_eq(vigil(&out, &err, "query", sel, "--start", start, "--end", end, "--step", "30s", "-o", "chart", is_ascii ? "--ascii" : NULL, NULL),
			 0);
	chart_read(c, out, is_ascii);
	ck_assert_int_eq(c->n_plot, 20);
	double left = mean_row(c, 0, c->plot_w / 5), right = mean_row(c, c->plot_w * 4 / 5, c->plot_w);
	if (is_rising)
		ck_assert_msg(left > right + 10, "%s: left row %.1f, right row %.1f", sel, left, right);
	else
		ck_assert_msg(left + 10 < right, "%s: left row %.1f, right row %.1f", sel, left, right);
	if (is_ascii)
		for (const char *p = out; *p; p++)
			ck_assert_msg((unsigned char)*p < 0x80, "not ASCII: %s", out);
	free(out);
	free(err);
	free(c);
}

START_TEST(test_chart_rising_draws_rising)
{
	check_direction("test_rising", false, true);
	check_direction("test_rising", true, true);
	check_direction("test_falling", false, false);
	check_direction("test_falling", true, false);
}
END_TEST

/* The locale decides too: not UTF-8, ASCII. */
START_TEST(test_chart_ascii_without_utf8_locale)
{
	char start[32], end[32], *out = NULL, *err = NULL;

	setenv("LC_ALL", "C", 1);
	range_args(start, end);
	ck_assert_int_eq(vigil(&out, &err, "query", "test_rising", "--start", start, "--end", end, "-o", "chart", NULL), 0);
	for (const char *p = out; *p; p++)
		ck_assert_msg((unsigned char)*p < 0x80, "not ASCII: %s", out);
	ck_assert_ptr_nonnull(strstr(out, "** test_rising{host=\"a\"}"));
	free(out);
	free(err);
}
END_TEST

/* Units from the metric name: a CPU counter's rate as a percentage, bytes
 * in binary prefixes. */
START_TEST(test_chart_units)
{
	char start[32], end[32], *out = NULL, *err = NULL;
	struct chart *c = malloc(sizeof(*c));
	int n = 0;

	range_args(start, end);
	ck_assert_int_eq(vigil(&out, &err, "query", "rate(node_cpu_seconds_total[2m])", "--start", start, "--end", end, "--step", "1m", "-o", "chart", NULL),
			 0);
	chart_read(c, out, false);
	for (int r = 0; r < c->n_plot; r++)
		if (strchr(c->ylabel[r], '%') != NULL)
			n++;
	ck_assert_int_ge(n, 3);
	/* busy 20% rising to 80%: the legend says so */
	int l = find_line(c, "\xe2\x94\x81\xe2\x94\x81 {cpu=\"0\",mode=\"user\"}");
	ck_assert_int_ge(l, 0);
	ck_assert_ptr_nonnull(strstr(c->lines[l], "%  last 7"));
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "query", "node_memory_MemAvailable_bytes", "--start", start, "--end", end, "-o", "chart", NULL),
			 0);
	chart_read(c, out, false);
	n = 0;
	for (int r = 0; r < c->n_plot; r++)
		if (strstr(c->ylabel[r], "GiB") != NULL)
			n++;
	ck_assert_int_ge(n, 2);
	free(out);
	free(err);
	free(c);
}
END_TEST

/* An instant answer: one bar a series, its length in proportion. */
START_TEST(test_chart_instant_bars)
{
	char end[32], *out = NULL, *err = NULL;
	size_t bars[2] = { 0, 0 };
	int n = 0;

	snprintf(end, sizeof(end), "%ld", now_s);
	ck_assert_int_eq(vigil(&out, &err, "query", "{__name__=~\"test_.*\"}", "--time", end, "-o", "chart", "--ascii", NULL),
			 0);
	/* title, then test_falling (24) and test_rising (70), sorted */
	for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, "test_", 5) != 0)
			continue;
		ck_assert_int_lt(n, 2);
		ck_assert_int_le(strlen(l), WIDTH);
		for (const char *p = l; *p; p++)
			bars[n] += *p == '#';
		ck_assert_ptr_nonnull(strstr(l, n == 0 ? " 24" : " 70"));
		n++;
	}
	ck_assert_int_eq(n, 2);
	ck_assert_int_gt(bars[1], 50);
	/* 24 / 70 of the longest, give or take a cell */
	ck_assert(fabs((double)bars[0] - (double)bars[1] * 24 / 70) <= 1.5);
	free(out);
	free(err);
}
END_TEST

START_TEST(test_chart_refused_elsewhere_and_syntax_caret_kept)
{
	char *out = NULL, *err = NULL;

	ck_assert_int_eq(vigil(&out, &err, "series", "test_rising", "-o", "chart", NULL), 2);
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "query", "rate(test_rising[5m]", "-o", "chart", NULL), 1);
	ck_assert_str_eq(out, "");
	ck_assert_ptr_nonnull(strstr(err, "\n  rate(test_rising[5m]\n"));
	ck_assert_ptr_nonnull(strstr(err, "^"));
	free(out);
	free(err);
	/* --ascii belongs to query */
	ck_assert_int_eq(vigil(&out, &err, "labels", "--ascii", NULL), 2);
	free(out);
	free(err);
}
END_TEST

START_TEST(test_labels_names_values_match)
{
	char *out = NULL, *err = NULL;

	ck_assert_int_eq(vigil(&out, &err, "labels", NULL), 0);
	ck_assert_str_eq(out, "__name__\ncpu\nhost\nmode\n");
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "labels", "host", NULL), 0);
	ck_assert_str_eq(out, "a\nb\n");
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "labels", "host", "--match", "test_rising", NULL), 0);
	ck_assert_str_eq(out, "a\n");
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "labels", "--match", "node_cpu_seconds_total", "--match", "test_falling", NULL),
			 0);
	ck_assert_str_eq(out, "__name__\ncpu\nhost\nmode\n");
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "labels", "__name__", "-o", "csv", NULL), 0);
	ck_assert_str_eq(out, "value\nnode_cpu_seconds_total\nnode_memory_MemAvailable_bytes\ntest_falling\ntest_rising\n");
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "labels", "mode", "-o", "json", NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"status\": \"success\""));
	ck_assert_ptr_nonnull(strstr(out, "\"user\""));
	free(out);
	free(err);
	/* a time range is passed on (the receiver answers for the blocks
	 * it overlaps, so only its shape is checked), and checked first */
	ck_assert_int_eq(vigil(&out, &err, "labels", "host", "--start", "-2h", "--end", "now", NULL), 0);
	ck_assert_str_eq(out, "a\nb\n");
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "labels", "--start", "200", "--end", "100", NULL), 2);
	free(out);
	free(err);
	/* refused before any request */
	ck_assert_int_eq(vigil(&out, &err, "labels", "no-such-name", NULL), 2);
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "labels", "--match", "x{", NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "^"));
	free(out);
	free(err);
	ck_assert_int_eq(vigil(&out, &err, "labels", "a", "b", NULL), 2);
	free(out);
	free(err);
}
END_TEST

START_TEST(test_series_lists_matches)
{
	char *out = NULL, *err = NULL;

	ck_assert_int_eq(vigil(&out, &err, "series", "{__name__=~\"test_.*\"}", "node_cpu_seconds_total", NULL),
			 0);
	ck_assert_str_eq(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"}\ntest_falling{host=\"b\"}\ntest_rising{host=\"a\"}\n");
	free(out);
	free(err);
}
END_TEST

/* ---- the renderer alone ------------------------------------------------ */

static const char *fmt(double v, enum vg_chart_unit u, bool per_s)
{
	static char s[64];
	struct vg_buf b = VG_BUF_INIT;
	struct vg_chart_unit_info ui = { u, per_s };

	vg_chart_format_value(&b, v, ui, 4);
	snprintf(s, sizeof(s), "%s", vg_buf_cstr(&b));
	vg_buf_release(&b);
	return s;
}

START_TEST(test_units_and_formats)
{
	ck_assert_int_eq(vg_chart_unit_of("node_memory_MemAvailable_bytes").unit, VG_CHART_UNIT_BYTES);
	ck_assert(vg_chart_unit_of("rate(node_network_receive_bytes_total[5m])").is_per_second);
	ck_assert_int_eq(vg_chart_unit_of("rate(node_cpu_seconds_total{mode!=\"idle\"}[5m])").unit, VG_CHART_UNIT_RATIO);
	ck_assert_int_eq(vg_chart_unit_of("http_request_duration_seconds").unit, VG_CHART_UNIT_SECONDS);
	ck_assert_int_eq(vg_chart_unit_of("cache_hit_ratio").unit, VG_CHART_UNIT_RATIO);
	ck_assert_int_eq(vg_chart_unit_of("disk_used_percent").unit, VG_CHART_UNIT_PERCENT);
	ck_assert_int_eq(vg_chart_unit_of("node_load1").unit, VG_CHART_UNIT_SI);
	ck_assert(vg_chart_unit_of("rate(http_requests_total[1m])").is_per_second);
	ck_assert_str_eq(fmt(1500, VG_CHART_UNIT_SI, false), "1.5k");
	ck_assert_str_eq(fmt(2e6, VG_CHART_UNIT_SI, true), "2M/s");
	ck_assert_str_eq(fmt(0.005, VG_CHART_UNIT_SI, false), "5m");
	ck_assert_str_eq(fmt(0, VG_CHART_UNIT_SI, false), "0");
	ck_assert_str_eq(fmt(1536, VG_CHART_UNIT_BYTES, false), "1.5KiB");
	ck_assert_str_eq(fmt(3.0 * 1073741824, VG_CHART_UNIT_BYTES, true), "3GiB/s");
	ck_assert_str_eq(fmt(512, VG_CHART_UNIT_BYTES, false), "512B");
	ck_assert_str_eq(fmt(0.25, VG_CHART_UNIT_SECONDS, false), "250ms");
	ck_assert_str_eq(fmt(0.000002, VG_CHART_UNIT_SECONDS, false), "2\xc2\xb5s");
	ck_assert_str_eq(fmt(42, VG_CHART_UNIT_SECONDS, false), "42s");
	ck_assert_str_eq(fmt(90, VG_CHART_UNIT_SECONDS, false), "1.5m");
	ck_assert_str_eq(fmt(7200, VG_CHART_UNIT_SECONDS, false), "2h");
	ck_assert_str_eq(fmt(0.42, VG_CHART_UNIT_RATIO, false), "42%");
	ck_assert_str_eq(fmt(99.5, VG_CHART_UNIT_PERCENT, false), "99.5%");
	ck_assert_str_eq(fmt(NAN, VG_CHART_UNIT_SI, false), "NaN");
	ck_assert_str_eq(fmt(-INFINITY, VG_CHART_UNIT_BYTES, false), "-Inf");
}
END_TEST

/* A range result of n series with long names, rising, for the renderer. */
static void fake_result(struct vg_result *r, struct vg_point *pts, size_t n, char vals[][16], size_t n_points)
{
	static char names[4][300];

	memset(r, 0, sizeof(*r));
	r->is_range = true;
	r->n_rows = n;
	r->rows = calloc(n, sizeof(*r->rows));
	for (size_t s = 0; s < n; s++) {
		memset(names[s], 'x', 299);
		names[s][0] = (char)('a' + s);
		names[s][299] = 0;
		r->rows[s].series = names[s];
		r->rows[s].series_len = 299;
		r->rows[s].points = pts + s * n_points;
		r->rows[s].n_points = n_points;
		for (size_t i = 0; i < n_points; i++) {
			snprintf(vals[s * n_points + i], 16, "%zu", i * (s + 1));
			pts[s * n_points + i] = (struct vg_point){ 1795593600000LL + (int64_t)i * 60000, vals[s * n_points + i],
								   strlen(vals[s * n_points + i]) };
		}
	}
}

START_TEST(test_render_width_bound_and_colours)
{
	struct vg_point pts[3 * 30];
	char vals[3 * 30][16];
	struct vg_result r;
	struct vg_buf b = VG_BUF_INIT;
	struct vg_chart_opts o = { .width = 40, .height = 6, .title = "a title far longer than forty columns, cut" };

	fake_result(&r, pts, 3, vals, 30);
	vg_chart_render(&r, &o, &b);
	ck_assert(!vg_buf_failed(&b));
	{
		char *copy = strdup(vg_buf_cstr(&b));
		int lines = 0;

		for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save), lines++)
			ck_assert_msg(utf8_len(l) <= 40, "%zu wide: %s", utf8_len(l), l);
		/* title, 6 rows, axis, time labels, 3 legend lines */
		ck_assert_int_eq(lines, 12);
		free(copy);
	}
	ck_assert_ptr_null(strchr(vg_buf_cstr(&b), '\x1b'));
	vg_buf_reset(&b);
	o.has_color = true;
	vg_chart_render(&r, &o, &b);
	ck_assert_ptr_nonnull(strstr(vg_buf_cstr(&b), "\x1b[32m"));
	ck_assert_ptr_nonnull(strstr(vg_buf_cstr(&b), "\x1b[33m"));
	ck_assert_ptr_nonnull(strstr(vg_buf_cstr(&b), "\x1b[0m"));
	vg_buf_release(&b);
	free(r.rows);
}
END_TEST

/* NaN points and a single point draw without harm; nothing for no rows. */
START_TEST(test_render_odd_answers)
{
	struct vg_point pts[3] = { { 1000, "NaN", 3 }, { 2000, "+Inf", 4 }, { 3000, "5", 1 } };
	struct vg_row row = { "x", 1, NULL, 0, 3, pts };
	struct vg_result r = { 1, &row, true }, empty = { 0, NULL, true };
	struct vg_buf b = VG_BUF_INIT;
	struct vg_chart_opts o = { .width = 60, .height = 5, .is_ascii = true };

	vg_chart_render(&empty, &o, &b);
	ck_assert_uint_eq(b.len, 0);
	vg_chart_render(&r, &o, &b);
	ck_assert_ptr_nonnull(strstr(vg_buf_cstr(&b), "min 5  max 5  last 5"));
	vg_buf_reset(&b);
	row.n_points = 2;
	vg_chart_render(&r, &o, &b);
	ck_assert_ptr_nonnull(strstr(vg_buf_cstr(&b), "no values"));
	/* the ends of the doubles and of the timestamps: drawn, clamped, no
	 * undefined arithmetic (UBSan watches) */
	{
		struct vg_point far[4] = { { -9200000000000000000LL, "-1.7976931348623157e308", 23 },
					   { 0, "1.7976931348623157e308", 22 },
					   { 1, "5e-324", 6 },
					   { 9200000000000000000LL, "-5e-324", 7 } };
		struct vg_row frow = { "far", 3, NULL, 0, 4, far };
		struct vg_result fr = { 1, &frow, true };

		o.width = 100;
		for (int ascii = 0; ascii < 2; ascii++) {
			vg_buf_reset(&b);
			o.is_ascii = ascii;
			vg_chart_render(&fr, &o, &b);
			ck_assert_ptr_nonnull(strstr(vg_buf_cstr(&b), "far  min"));
			fr.is_range = false; /* and as bars */
			vg_chart_render(&fr, &o, &b);
			fr.is_range = true;
		}
		frow.points = far + 2; /* a range of one denormal */
		frow.n_points = 2;
		vg_buf_reset(&b);
		vg_chart_render(&fr, &o, &b);
		ck_assert_ptr_nonnull(strstr(vg_buf_cstr(&b), "far  min"));
	}
	vg_buf_release(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli_chart");
	TCase *live = tcase_create("receiver"), *alone = tcase_create("renderer");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(live, setup, teardown);
	tcase_set_timeout(live, 60);
	tcase_add_test(live, test_chart_braille_dimensions_axes_legend);
	tcase_add_test(live, test_chart_rising_draws_rising);
	tcase_add_test(live, test_chart_ascii_without_utf8_locale);
	tcase_add_test(live, test_chart_units);
	tcase_add_test(live, test_chart_instant_bars);
	tcase_add_test(live, test_chart_refused_elsewhere_and_syntax_caret_kept);
	tcase_add_test(live, test_labels_names_values_match);
	tcase_add_test(live, test_series_lists_matches);
	tcase_add_test(alone, test_units_and_formats);
	tcase_add_test(alone, test_render_width_bound_and_colours);
	tcase_add_test(alone, test_render_odd_answers);
	suite_add_tcase(s, live);
	suite_add_tcase(s, alone);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
