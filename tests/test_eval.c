/*
 * test_eval.c: the PromQL evaluator (receiver/query/eval.c) over a real
 * head read through storage.h: literals, selectors with lookback (windows
 * open on the left), offset and @, staleness, rate/irate/increase with
 * Prometheus's extrapolation and counter resets, aggregations by and
 * without, arithmetic and comparison with vector matching and bool, set
 * operators, Prometheus's matching errors, range queries, and the
 * refusal of what this version does not evaluate.
 */
#include "receiver/query/eval.h"
#include "receiver/storage/head.h"
#include "receiver/storage/storage.h"
#include "promql/parse.h"
#include "promql/print.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/series.h"

#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

static struct vg_head *head;
static struct vg_storage *st;

static void add(const char *name, const char *const *labels, int64_t from_s, int64_t to_s,
		double (*f)(int64_t t_s))
{
	struct vg_series s;
	uint32_t id;
	bool is_new;

	vg_series_init(&s, name);
	for (size_t i = 0; labels[i] != NULL; i += 2)
		ck_assert_int_eq(vg_series_add(&s, labels[i], labels[i + 1]), 0);
	ck_assert_int_eq(vg_series_canonicalize(&s, NULL), 0);
	ck_assert_int_eq(vg_head_get_or_create(head, &s, vg_series_hash(&s), &id, &is_new), 0);
	for (int64_t t = from_s; t <= to_s; t += 10) {
		int64_t ts = t * 1000;
		double v = f(t);
		ck_assert_int_eq(vg_head_append(head, 1, &id, &ts, &v), 0);
	}
}

static double count_a(int64_t t) { return (double)t; }         /* 1/s */
static double count_b(int64_t t) { return 2.0 * (double)t; }   /* 2/s */
static double count_c(int64_t t) { return (double)(t < 300 ? t : t - 300); } /* reset at 300 s */
static double gauge_100(int64_t t) { (void)t; return 100; }
static double gauge_200(int64_t t) { (void)t; return 200; }
static double bucket_01(int64_t t) { (void)t; return 10; }
static double bucket_05(int64_t t) { (void)t; return 20; }
static double bucket_inf(int64_t t) { (void)t; return 25; }
static double stale_at_110(int64_t t)
{
	uint64_t bits = 0x7ff0000000000002ULL;
	double d;

	if (t < 110)
		return 5;
	memcpy(&d, &bits, sizeof(d));
	return d;
}

static void setup(void)
{
	struct vg_storage_options o = { NULL, NULL };

	head = vg_head_new();
	ck_assert_ptr_nonnull(head);
	add("http_requests_total", (const char *const[]){ "job", "api", "instance", "a", NULL }, 0, 600, count_a);
	add("http_requests_total", (const char *const[]){ "job", "api", "instance", "b", NULL }, 0, 600, count_b);
	add("http_requests_total", (const char *const[]){ "job", "web", "instance", "c", NULL }, 0, 600, count_c);
	add("mem", (const char *const[]){ "instance", "a", "pool", "x", NULL }, 0, 600, gauge_100);
	add("mem", (const char *const[]){ "instance", "b", "pool", "x", NULL }, 0, 600, gauge_200);
	add("mem2", (const char *const[]){ "instance", "a", "pool", "x", NULL }, 0, 600, gauge_200);
	add("s", (const char *const[]){ "k", "v", NULL }, 0, 110, stale_at_110);
	add("req_bucket", (const char *const[]){ "le", "0.1", "job", "api", NULL }, 0, 600, bucket_01);
	add("req_bucket", (const char *const[]){ "le", "0.5", "job", "api", NULL }, 0, 600, bucket_05);
	add("req_bucket", (const char *const[]){ "le", "+Inf", "job", "api", NULL }, 0, 600, bucket_inf);
	o.head = head;
	ck_assert_int_eq(vg_storage_open(&o, &st, NULL), 0);
}

static void teardown(void)
{
	vg_storage_close(st);
	vg_head_free(head);
}

/* The result as text: "7", "\"s\"", or "labels value" per series joined
 * by "; " (a range result: "labels v@t,v@t"); "error: msg" on failure. */
static void render(const struct vg_eval_result *r, struct vg_buf *b)
{
	if (r->type == VG_PROMQL_SCALAR) {
		vg_promql_print_number(b, r->scalar);
		return;
	}
	if (r->type == VG_PROMQL_STRING) {
		vg_buf_printf(b, "\"%s\"", r->str);
		return;
	}
	for (size_t i = 0; i < r->series.n; i++) {
		const struct vg_query_series *qs = &r->series.series[i];
		struct vg_series s;
		if (i)
			vg_buf_puts(b, "; ");
		ck_assert_int_eq(vg_series_from_key(qs->key, qs->key_len, &s), 0);
		if (s.name.len == 0 && s.n_labels == 0)
			vg_buf_puts(b, "{}");
		vg_series_format(&s, b);
		vg_buf_putc(b, ' ');
		for (size_t k = 0; k < qs->n; k++) {
			if (k)
				vg_buf_putc(b, ',');
			vg_promql_print_number(b, qs->values[k]);
			if (r->type == VG_PROMQL_MATRIX)
				vg_buf_printf(b, "@%lld", (long long)(qs->ts_ms[k] / 1000));
		}
	}
}

static void check(const char *q, int64_t t_s, const char *want, bool is_range, int64_t end_s, int64_t step_s)
{
	struct vg_promql_node *n = NULL;
	struct vg_eval_result r;
	struct vg_err err = { 0 };
	struct vg_buf b = VG_BUF_INIT;
	int rc;

	ck_assert_msg(vg_promql_parse(q, strlen(q), &n, NULL, &err) == 0, "%s: %s", q, err.msg);
	if (is_range)
		rc = vg_eval_range(st, n, t_s * 1000, end_s * 1000, step_s * 1000, 300000, &r, &err);
	else
		rc = vg_eval_instant(st, n, t_s * 1000, 300000, &r, &err);
	if (rc != 0)
		vg_buf_printf(&b, "error: %s", err.msg);
	else
		render(&r, &b);
	ck_assert_msg(strcmp(vg_buf_cstr(&b), want) == 0, "<%s> at %lld gave <%s>, not <%s>", q,
		      (long long)t_s, vg_buf_cstr(&b), want);
	if (rc == 0)
		vg_eval_result_release(&r);
	vg_buf_release(&b);
	vg_promql_node_free(n);
}

static void at(const char *q, int64_t t_s, const char *want)
{
	check(q, t_s, want, false, 0, 0);
}

START_TEST(test_literals)
{
	at("1 + 2 * 3", 0, "7");
	at("2 ^ 3 ^ 2", 0, "512");
	at("-2 ^ 2", 0, "-4");
	at("7 % 4 - 10 / 4", 0, "0.5");
	at("1 / 0", 0, "+Inf");
	at("0 / 0", 0, "NaN");
	at("3 > bool 2", 0, "1");
	at("\"hi\"", 0, "\"hi\"");
	at("time()", 600, "600");
	at("vector(3)", 0, "{} 3");
	at("scalar(mem{instance=\"a\"})", 600, "100");
	at("scalar(mem)", 600, "NaN");
}
END_TEST

START_TEST(test_selectors_lookback_offset_at)
{
	at("mem", 600, "mem{instance=\"a\",pool=\"x\"} 100; mem{instance=\"b\",pool=\"x\"} 200");
	/* the newest sample is at 600 s: seen up to 900 s - 1 ms, not at 900 s */
	at("mem{instance=\"a\"}", 899, "mem{instance=\"a\",pool=\"x\"} 100");
	at("mem{instance=\"a\"}", 900, "");
	at("http_requests_total{instance=\"a\"} offset 100s", 600,
	   "http_requests_total{instance=\"a\",job=\"api\"} 500");
	at("http_requests_total{instance=\"a\"} @ 100", 600, "http_requests_total{instance=\"a\",job=\"api\"} 100");
	at("http_requests_total{instance=\"a\"} @ 200 offset 50s", 0,
	   "http_requests_total{instance=\"a\",job=\"api\"} 150");
	/* a range selector: samples in (t - 30 s, t], the left edge left out */
	at("http_requests_total{instance=\"a\"}[30s]", 600,
	   "http_requests_total{instance=\"a\",job=\"api\"} 580@580,590@590,600@600");
	/* a staleness marker ends the series at once */
	at("s", 105, "s{k=\"v\"} 5");
	at("s", 115, "");
	at("s[1m]", 115, "s{k=\"v\"} 5@60,5@70,5@80,5@90,5@100");
}
END_TEST

START_TEST(test_rate_irate_increase)
{
	at("rate(http_requests_total{instance=\"a\"}[1m])", 600, "{instance=\"a\",job=\"api\"} 1");
	at("increase(http_requests_total{instance=\"a\"}[1m])", 600, "{instance=\"a\",job=\"api\"} 60");
	at("rate(http_requests_total{instance=\"b\"}[5m])", 600, "{instance=\"b\",job=\"api\"} 2");
	/* across the reset at 300 s: 270 280 290 | 0 10 20 increase by 40 in
	 * 50 s, extrapolated by 10 s at the start: 48, and 0.8/s */
	at("increase(http_requests_total{instance=\"c\"}[1m])", 320, "{instance=\"c\",job=\"web\"} 48");
	at("rate(http_requests_total{instance=\"c\"}[1m])", 320, "{instance=\"c\",job=\"web\"} 0.8");
	/* extrapolation stops at zero: a counter from 0 at t=0 over [1m] at 25 s */
	at("increase(http_requests_total{instance=\"a\"}[1m])", 25, "{instance=\"a\",job=\"api\"} 25");
	at("delta(mem{instance=\"a\"}[1m])", 600, "{instance=\"a\",pool=\"x\"} 0");
	at("irate(http_requests_total{instance=\"b\"}[1m])", 600, "{instance=\"b\",job=\"api\"} 2");
	at("irate(http_requests_total{instance=\"c\"}[1m])", 300, "{instance=\"c\",job=\"web\"} 0");
	at("idelta(http_requests_total{instance=\"c\"}[1m])", 300, "{instance=\"c\",job=\"web\"} -290");
	/* one sample in the window: no result */
	at("rate(http_requests_total{instance=\"a\"}[10s])", 600, "");
}
END_TEST

START_TEST(test_aggregations)
{
	at("sum by (job) (rate(http_requests_total[1m]))", 600, "{job=\"api\"} 3; {job=\"web\"} 1");
	at("sum(mem)", 600, "{} 300");
	at("avg(mem)", 600, "{} 150");
	at("min(mem)", 600, "{} 100");
	at("max(mem)", 600, "{} 200");
	at("count(http_requests_total)", 600, "{} 3");
	at("count by (job) (http_requests_total)", 600, "{job=\"api\"} 2; {job=\"web\"} 1");
	at("sum without (instance) (mem)", 600, "{pool=\"x\"} 300");
	at("sum by (__name__) (mem)", 600, "mem 300");
	at("max by (nope) (mem)", 600, "{} 200");
	at("sum(nothing)", 600, "");
}
END_TEST

START_TEST(test_binary_operators)
{
	at("mem * 2", 600, "{instance=\"a\",pool=\"x\"} 200; {instance=\"b\",pool=\"x\"} 400");
	at("300 - mem", 600, "{instance=\"a\",pool=\"x\"} 200; {instance=\"b\",pool=\"x\"} 100");
	at("mem > 150", 600, "mem{instance=\"b\",pool=\"x\"} 200");
	at("150 < mem", 600, "mem{instance=\"b\",pool=\"x\"} 200");
	at("mem > bool 150", 600, "{instance=\"a\",pool=\"x\"} 0; {instance=\"b\",pool=\"x\"} 1");
	at("-mem", 600, "{instance=\"a\",pool=\"x\"} -100; {instance=\"b\",pool=\"x\"} -200");
	at("mem / on(instance) http_requests_total", 600, "{instance=\"a\"} 0.16666666666666666; {instance=\"b\"} 0.16666666666666666");
	at("mem + ignoring(pool) mem", 600, "{instance=\"a\"} 200; {instance=\"b\"} 400");
	at("mem2 > on(instance, pool) mem", 600, "{instance=\"a\",pool=\"x\"} 200");
	at("mem2 >= bool mem", 600, "{instance=\"a\",pool=\"x\"} 1");
	at("mem2 > mem", 600, "mem2{instance=\"a\",pool=\"x\"} 200"); /* the left side keeps its name */
	at("mem and on(instance) http_requests_total{instance=\"a\"}", 600, "mem{instance=\"a\",pool=\"x\"} 100");
	at("mem unless on(instance) http_requests_total{instance=\"a\"}", 600, "mem{instance=\"b\",pool=\"x\"} 200");
	at("mem or http_requests_total{instance=\"c\"}", 600,
	   "http_requests_total{instance=\"c\",job=\"web\"} 300; mem{instance=\"a\",pool=\"x\"} 100; mem{instance=\"b\",pool=\"x\"} 200");
	at("mem + on(pool) mem", 600,
	   "error: found duplicate series for the match group {pool=\"x\"} on the right hand-side of the operation: [{__name__=\"mem\", instance=\"b\", pool=\"x\"}, {__name__=\"mem\", instance=\"a\", pool=\"x\"}];many-to-many matching not allowed: matching labels must be unique on one side");
	at("http_requests_total + on(job) sum by (job) (http_requests_total)", 600,
	   "error: multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)");
	at("{__name__=~\"mem|mem2\"} * 2", 600, "error: vector cannot contain metrics with the same labelset");
}
END_TEST

START_TEST(test_range_queries)
{
	check("rate(http_requests_total{instance=\"a\"}[1m])", 300, "{instance=\"a\",job=\"api\"} 1@300,1@360,1@420", true, 420, 60);
	check("time()", 0, "{} 0@0,60@60,120@120", true, 120, 60);
	/* a series absent at a step has no point there */
	check("s", 60, "s{k=\"v\"} 5@60,5@90", true, 120, 30);
	/* the same through the general path (a plain selector is read once) */
	check("(s)", 60, "s{k=\"v\"} 5@60,5@90", true, 120, 30);
	check("mem{instance=\"a\"} @ 600", 0, "mem{instance=\"a\",pool=\"x\"} 100@0,100@60", true, 60, 60);
	check("mem", 0, "error: end timestamp must not be before start time", true, -1, 10);
	check("mem", 0, "error: zero or negative query resolution step widths are not accepted. Try a positive integer", true, 10, 0);
	check("mem[1m]", 0, "error: invalid expression type \"range vector\" for range query, must be Scalar or instant Vector", true, 10, 1);
}
END_TEST

START_TEST(test_refused_until_supported)
{
	at("limitk(1, mem)", 600, "mem{instance=\"a\",pool=\"x\"} 100");
	at("sort_by_label_desc(mem, \"instance\")", 600,
	   "mem{instance=\"b\",pool=\"x\"} 200; mem{instance=\"a\",pool=\"x\"} 100");
}
END_TEST

START_TEST(test_over_time_and_subqueries)
{
	at("sum_over_time(mem{instance=\"a\"}[1m])", 600, "{instance=\"a\",pool=\"x\"} 600");
	at("avg_over_time(mem{instance=\"a\"}[1m])", 600, "{instance=\"a\",pool=\"x\"} 100");
	at("count_over_time(mem{instance=\"a\"}[1m])", 600, "{instance=\"a\",pool=\"x\"} 6");
	at("max_over_time(http_requests_total{instance=\"c\"}[1m])", 320, "{instance=\"c\",job=\"web\"} 290");
	at("min_over_time(http_requests_total{instance=\"c\"}[1m])", 320, "{instance=\"c\",job=\"web\"} 0");
	at("present_over_time(mem{instance=\"a\"}[1m])", 600, "{instance=\"a\",pool=\"x\"} 1");
	at("last_over_time(mem{instance=\"a\"}[1m])", 600, "mem{instance=\"a\",pool=\"x\"} 100"); /* keeps the name */
	/* steps at the multiples of 30 s in (200, 320]: 210 240 270 300; the
	 * rate over the reset at 300 s is 0.8 */
	at("max_over_time(rate(http_requests_total{instance=\"c\"}[1m])[2m:30s])", 320, "{instance=\"c\",job=\"web\"} 1");
	at("min_over_time(rate(http_requests_total{instance=\"c\"}[1m])[2m:30s])", 320, "{instance=\"c\",job=\"web\"} 0.8");
	at("count_over_time(rate(http_requests_total{instance=\"c\"}[1m])[2m:30s])", 320, "{instance=\"c\",job=\"web\"} 4");
	/* no step: the default 1m, aligned to the epoch */
	at("count_over_time(mem{instance=\"a\"}[5m:])", 600, "{instance=\"a\",pool=\"x\"} 5");
	at("mem{instance=\"a\"}[1m:30s]", 600, "mem{instance=\"a\",pool=\"x\"} 100@570,100@600");
	at("mem{instance=\"a\"}[1m:30s] offset 5m", 900, "mem{instance=\"a\",pool=\"x\"} 100@570,100@600");
	at("sum_over_time(vector(1)[1m:10s])", 600, "{} 6");
	at("mem[1000000h:1s]", 600, "error: subquery of 3600000000 steps: more than the limit of 100000");
}
END_TEST

START_TEST(test_value_functions)
{
	at("abs(-mem)", 600, "{instance=\"a\",pool=\"x\"} 100; {instance=\"b\",pool=\"x\"} 200");
	at("sqrt(mem)", 600, "{instance=\"a\",pool=\"x\"} 10; {instance=\"b\",pool=\"x\"} 14.142135623730951");
	at("sgn(mem - 150)", 600, "{instance=\"a\",pool=\"x\"} -1; {instance=\"b\",pool=\"x\"} 1");
	at("ceil(mem / 3)", 600, "{instance=\"a\",pool=\"x\"} 34; {instance=\"b\",pool=\"x\"} 67");
	at("floor(mem / 3)", 600, "{instance=\"a\",pool=\"x\"} 33; {instance=\"b\",pool=\"x\"} 66");
	at("log10(mem{instance=\"a\"})", 600, "{instance=\"a\",pool=\"x\"} 2");
	at("ln(mem{instance=\"a\"} * 0)", 600, "{instance=\"a\",pool=\"x\"} -Inf");
	at("round(mem / 3)", 600, "{instance=\"a\",pool=\"x\"} 33; {instance=\"b\",pool=\"x\"} 67");
	at("round(mem / 3, 5)", 600, "{instance=\"a\",pool=\"x\"} 35; {instance=\"b\",pool=\"x\"} 65");
	at("round(vector(2.5))", 0, "{} 3");
	at("round(vector(-2.5))", 0, "{} -2");
	at("pi()", 0, "3.141592653589793");
	at("deg(vector(pi()))", 0, "{} 180");
	at("cos(vector(0)) + sin(vector(0))", 0, "{} 1");
	/* dropping the name makes two series one: Prometheus's error */
	at("abs({__name__=~\"mem|mem2\"})", 600, "error: vector cannot contain metrics with the same labelset");
}
END_TEST

START_TEST(test_more_aggregations)
{
	at("topk(1, mem)", 600, "mem{instance=\"b\",pool=\"x\"} 200"); /* own labels, name kept */
	at("bottomk(1, mem)", 600, "mem{instance=\"a\",pool=\"x\"} 100");
	at("topk(5, mem)", 600, "mem{instance=\"b\",pool=\"x\"} 200; mem{instance=\"a\",pool=\"x\"} 100");
	at("topk(0, mem)", 600, "");
	/* an instant query answers topk best first, sort in its order */
	at("topk(2, http_requests_total)", 600,
	   "http_requests_total{instance=\"b\",job=\"api\"} 1200; http_requests_total{instance=\"a\",job=\"api\"} 600");
	at("sort_desc(mem)", 600, "mem{instance=\"b\",pool=\"x\"} 200; mem{instance=\"a\",pool=\"x\"} 100");
	at("sort(-mem)", 600, "{instance=\"b\",pool=\"x\"} -200; {instance=\"a\",pool=\"x\"} -100");
	/* NaN sorts to the bottom both ways, as Prometheus's sort and sort_desc */
	at("sort(label_replace(vector(NaN), \"a\", \"x\", \"\", \"\") or vector(1))", 600, "{} 1; {a=\"x\"} NaN");
	at("sort_desc(label_replace(vector(NaN), \"a\", \"x\", \"\", \"\") or vector(1))", 600, "{} 1; {a=\"x\"} NaN");
	at("(sort_desc(mem))", 600, "mem{instance=\"b\",pool=\"x\"} 200; mem{instance=\"a\",pool=\"x\"} 100");
	at("sort_desc(mem) * 1", 600, "{instance=\"a\",pool=\"x\"} 100; {instance=\"b\",pool=\"x\"} 200");
	at("topk by (job) (1, http_requests_total)", 600,
	   "http_requests_total{instance=\"b\",job=\"api\"} 1200; http_requests_total{instance=\"c\",job=\"web\"} 300");
	at("group(mem)", 600, "{} 1");
	at("stddev(mem)", 600, "{} 50");
	at("stdvar(mem)", 600, "{} 2500");
	at("quantile(0.5, mem)", 600, "{} 150");
	at("quantile(0.25, mem)", 600, "{} 125");
	at("quantile(2, mem)", 600, "{} +Inf");
	at("count_values(\"v\", mem)", 600, "{v=\"100\"} 1; {v=\"200\"} 1");
	at("count_values by (pool) (\"v\", mem * 0)", 600, "{pool=\"x\",v=\"0\"} 2");
	at("count_values(\"bad-name\", mem)", 600, "error: invalid label name \"bad-name\"");
}
END_TEST

START_TEST(test_group_left_right)
{
	at("mem * on(instance) group_left(job) http_requests_total", 600,
	   "{instance=\"a\",job=\"api\",pool=\"x\"} 60000; {instance=\"b\",job=\"api\",pool=\"x\"} 240000");
	at("http_requests_total * on(instance) group_right mem", 600,
	   "{instance=\"a\",pool=\"x\"} 60000; {instance=\"b\",pool=\"x\"} 240000");
	/* a comparison filter keeps the written left operand's value */
	at("http_requests_total > on(instance) group_right mem", 600,
	   "mem{instance=\"a\",pool=\"x\"} 600; mem{instance=\"b\",pool=\"x\"} 1200");
	at("mem * on(pool) group_left mem2", 600, "{instance=\"a\",pool=\"x\"} 20000; {instance=\"b\",pool=\"x\"} 40000");
	at("mem2 * on(pool) group_left mem", 600,
	   "error: found duplicate series for the match group {pool=\"x\"} on the right hand-side of the operation: [{__name__=\"mem\", instance=\"b\", pool=\"x\"}, {__name__=\"mem\", instance=\"a\", pool=\"x\"}];many-to-many matching not allowed: matching labels must be unique on one side");
	at("{__name__=~\"mem|mem2\",instance=\"a\"} + on(instance) group_left http_requests_total", 600,
	   "error: multiple matches for labels: grouping labels must ensure unique matches");
	/* an included label the one side lacks is deleted */
	at("mem * on(instance) group_left(pool) http_requests_total", 600,
	   "{instance=\"a\"} 60000; {instance=\"b\"} 240000");
}
END_TEST

START_TEST(test_clamp_and_histogram_quantile)
{
	at("clamp(mem, 120, 150)", 600, "{instance=\"a\",pool=\"x\"} 120; {instance=\"b\",pool=\"x\"} 150");
	at("clamp_min(mem, 150)", 600, "{instance=\"a\",pool=\"x\"} 150; {instance=\"b\",pool=\"x\"} 200");
	at("clamp_max(mem, 150)", 600, "{instance=\"a\",pool=\"x\"} 100; {instance=\"b\",pool=\"x\"} 150");
	at("clamp(mem, 2, 1)", 600, "");
	/* buckets 0.1: 10, 0.5: 20, +Inf: 25 */
	at("histogram_quantile(0.5, req_bucket)", 600, "{job=\"api\"} 0.2");
	at("histogram_quantile(0.1, req_bucket)", 600, "{job=\"api\"} 0.025");
	at("histogram_quantile(0.99, req_bucket)", 600, "{job=\"api\"} 0.5"); /* in +Inf: the highest finite bound */
	at("histogram_quantile(-1, req_bucket)", 600, "{job=\"api\"} -Inf");
	at("histogram_quantile(0.5, req_bucket{le!=\"+Inf\"})", 600, "{job=\"api\"} NaN");
	at("histogram_quantile(0.5, sum by (le) (rate(req_bucket[1m])))", 600, "{} NaN"); /* all zero */
	at("histogram_quantile(0.5, mem)", 600, ""); /* no le: not buckets */
}
END_TEST

START_TEST(test_window_functions_and_absent)
{
	at("resets(http_requests_total{instance=\"c\"}[10m])", 600, "{instance=\"c\",job=\"web\"} 1");
	at("changes(mem{instance=\"a\"}[5m])", 600, "{instance=\"a\",pool=\"x\"} 0");
	at("changes(http_requests_total{instance=\"a\"}[1m])", 600, "{instance=\"a\",job=\"api\"} 5");
	at("deriv(http_requests_total{instance=\"b\"}[1m])", 600, "{instance=\"b\",job=\"api\"} 2");
	at("predict_linear(http_requests_total{instance=\"a\"}[1m], 100)", 600, "{instance=\"a\",job=\"api\"} 700");
	at("stddev_over_time(mem{instance=\"a\"}[1m])", 600, "{instance=\"a\",pool=\"x\"} 0");
	at("stdvar_over_time(http_requests_total{instance=\"a\"}[30s])", 600, "{instance=\"a\",job=\"api\"} 66.66666666666667");
	at("quantile_over_time(0.5, http_requests_total{instance=\"a\"}[30s])", 600, "{instance=\"a\",job=\"api\"} 590");
	at("mad_over_time(http_requests_total{instance=\"a\"}[30s])", 600, "{instance=\"a\",job=\"api\"} 10");
	at("first_over_time(http_requests_total{instance=\"a\"}[30s])", 600,
	   "http_requests_total{instance=\"a\",job=\"api\"} 580");
	at("absent(nonexistent{job=\"x\", a=~\"b\"})", 600, "{job=\"x\"} 1");
	at("absent(mem)", 600, "");
	at("absent(nonexistent{job=\"x\", job=\"y\"})", 600, "{} 1");
	at("absent(sum(nonexistent{job=\"x\"}))", 600, "{} 1");
	at("absent_over_time(nonexistent{job=\"x\", z=\"1\"}[1m])", 600, "{job=\"x\",z=\"1\"} 1");
	at("absent_over_time(mem[1m])", 600, "");
}
END_TEST

START_TEST(test_timestamp_dates_label_join)
{
	at("timestamp(mem{instance=\"a\"})", 605, "{instance=\"a\",pool=\"x\"} 600");
	at("timestamp(mem{instance=\"a\"} offset 1m)", 605, "{instance=\"a\",pool=\"x\"} 540");
	at("timestamp(vector(1))", 605, "{} 605");
	at("hour()", 7200, "{} 2");
	at("day_of_week()", 0, "{} 4"); /* 1970-01-01 was a Thursday */
	at("year(vector(1700000000))", 0, "{} 2023");
	at("month(vector(1700000000))", 0, "{} 11");
	at("day_of_month(vector(1700000000))", 0, "{} 14");
	at("minute(vector(1700000000))", 0, "{} 13");
	at("days_in_month(vector(951782400))", 0, "{} 29"); /* February 2000 */
	at("day_of_year(vector(86400 * 59))", 0, "{} 60");
	at("hour(mem{instance=\"a\"})", 600, "{instance=\"a\",pool=\"x\"} 0");
	at("year(vector(NaN))", 0, "{} NaN");
	at("label_join(mem, \"new\", \"-\", \"instance\", \"pool\")", 600,
	   "mem{instance=\"a\",new=\"a-x\",pool=\"x\"} 100; mem{instance=\"b\",new=\"b-x\",pool=\"x\"} 200");
	at("label_join(mem, \"pool\", \"\", \"nope\")", 600, "mem{instance=\"a\"} 100; mem{instance=\"b\"} 200");
	at("label_join(mem, \"1bad\", \"-\", \"instance\")", 600, "error: invalid destination label name in label_join(): 1bad");
	/* label_replace: groups by number and name, Go's $name rule, no match */
	/* a source no label can be named reads as absent: "" (Prometheus does not check it) */
	at("label_replace(vector(1), \"a\", \"x\", \"\", \"\")", 600, "{a=\"x\"} 1");
	at("label_replace(vector(1), \"a\", \"x\", \"1bad\", \"y\")", 600, "{} 1");
	at("label_replace(mem, \"host\", \"h-$1\", \"instance\", \"(.*)\")", 600,
	   "mem{host=\"h-a\",instance=\"a\",pool=\"x\"} 100; mem{host=\"h-b\",instance=\"b\",pool=\"x\"} 200");
	at("label_replace(mem{instance=\"a\"}, \"p\", \"${n}${n}-$$\", \"pool\", \"(?P<n>x)\")", 600,
	   "mem{instance=\"a\",p=\"xx-$\",pool=\"x\"} 100");
	at("label_replace(mem{instance=\"a\"}, \"p\", \"$1x\", \"pool\", \"(x)\")", 600,
	   "mem{instance=\"a\",pool=\"x\"} 100"); /* $1x names group "1x": empty, p deleted */
	at("label_replace(mem{instance=\"a\"}, \"pool\", \"y\", \"instance\", \"b\")", 600,
	   "mem{instance=\"a\",pool=\"x\"} 100"); /* no match: unchanged */
	at("label_replace(mem{instance=\"a\"}, \"__name__\", \"renamed\", \"instance\", \".*\")", 600,
	   "renamed{instance=\"a\",pool=\"x\"} 100"); /* the name is set, not a label */
	at("label_replace(mem, \"d\", \"$1\", \"instance\", \"(\")", 600,
	   "error: invalid regular expression in label_replace(): (");
}
END_TEST

/* The answer of q as text (render), or "error: msg". */
static void answer(const char *q, bool is_range, int64_t start_s, int64_t end_s, int64_t step_s,
		   struct vg_buf *b)
{
	struct vg_promql_node *n = NULL;
	struct vg_eval_result r;
	struct vg_err err = { 0 };
	int rc;

	ck_assert_msg(vg_promql_parse(q, strlen(q), &n, NULL, &err) == 0, "%s: %s", q, err.msg);
	if (is_range)
		rc = vg_eval_range(st, n, start_s * 1000, end_s * 1000, step_s * 1000, 300000, &r, &err);
	else
		rc = vg_eval_instant(st, n, start_s * 1000, 300000, &r, &err);
	if (rc != 0) {
		vg_buf_printf(b, "error: %s", err.msg);
	} else {
		render(&r, b);
		vg_eval_result_release(&r);
	}
	vg_promql_node_free(n);
}

/* Counters with resets at a place of their own, some with a gap. */
static int64_t big_i;
static double count_big(int64_t t)
{
	int64_t r = 100 + big_i % 400;
	return (double)((t % r) * (1 + big_i % 7)) + (double)(big_i % 3) / 4;
}

/* Aggregations of range functions over more series than one thread reads
 * alone (FUSED_PAR_MIN in eval.c): the same answers, to the bit, as the
 * step-by-step evaluation, which "* 1" keeps them to. */
START_TEST(test_fused_two_threads_same_answers)
{
	static const char *const q[][2] = {
		{ "sum by (g) (rate(big[1m]))", "sum by (g) (rate(big[1m]) * 1)" },
		{ "avg by (g) (increase(big[2m]))", "avg by (g) (increase(big[2m]) * 1)" },
		{ "max without (i) (delta(big[1m]))", "max without (i) (delta(big[1m]) * 1)" },
		{ "stddev(avg_over_time(big[90s]))", "stddev(avg_over_time(big[90s]) * 1)" },
		{ "count by (g) (irate(big[1m]))", "count by (g) (irate(big[1m]) * 1)" },
	};
	char name[24], g[24];

	for (big_i = 0; big_i < 5000; big_i++) {
		snprintf(name, sizeof(name), "%05lld", (long long)big_i);
		snprintf(g, sizeof(g), "%lld", (long long)(big_i % 3));
		add("big", (const char *const[]){ "g", g, "i", name, NULL }, big_i % 5 == 0 ? 200 : 0, 600,
		    count_big);
	}
	for (size_t k = 0; k < sizeof(q) / sizeof(*q); k++) {
		struct vg_buf a = VG_BUF_INIT, b = VG_BUF_INIT;
		answer(q[k][0], true, 0, 600, 30, &a);
		answer(q[k][1], true, 0, 600, 30, &b);
		ck_assert_msg(strncmp(vg_buf_cstr(&a), "error", 5) != 0, "%s: %s", q[k][0], vg_buf_cstr(&a));
		ck_assert_msg(strcmp(vg_buf_cstr(&a), vg_buf_cstr(&b)) == 0, "%s differs from %s", q[k][0],
			      q[k][1]);
		vg_buf_reset(&a);
		vg_buf_reset(&b);
		answer(q[k][0], false, 590, 0, 0, &a);
		answer(q[k][1], false, 590, 0, 0, &b);
		ck_assert_msg(strcmp(vg_buf_cstr(&a), vg_buf_cstr(&b)) == 0, "%s differs from %s at 590 s",
			      q[k][0], q[k][1]);
		vg_buf_release(&a);
		vg_buf_release(&b);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("eval");
	TCase *tc = tcase_create("eval");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_literals);
	tcase_add_test(tc, test_selectors_lookback_offset_at);
	tcase_add_test(tc, test_rate_irate_increase);
	tcase_add_test(tc, test_aggregations);
	tcase_add_test(tc, test_binary_operators);
	tcase_add_test(tc, test_range_queries);
	tcase_add_test(tc, test_over_time_and_subqueries);
	tcase_add_test(tc, test_value_functions);
	tcase_add_test(tc, test_more_aggregations);
	tcase_add_test(tc, test_group_left_right);
	tcase_add_test(tc, test_clamp_and_histogram_quantile);
	tcase_add_test(tc, test_window_functions_and_absent);
	tcase_add_test(tc, test_timestamp_dates_label_join);
	tcase_add_test(tc, test_refused_until_supported);
	tcase_add_test(tc, test_fused_two_threads_same_answers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
