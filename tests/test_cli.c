/*
 * test_cli.c: the logic of the vigil command that needs no receiver:
 * time arguments and the default step (cli/output.c), series text, the
 * checks of answer shapes, the table, CSV and JSON renderers, the request
 * encoding and the envelope check (cli/http.c); the list of silences and
 * acks (cli/silence.c); and vg_http_get against a one-shot HTTP server on
 * loopback, a closed port and a server that never answers.
 */
#include "cli/http.h"
#include "cli/output.h"
#include "cli/silence.h"
#include "common/buf.h"
#include "common/err.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/banned.h"

/* 2026-11-25T08:00:00Z */
#define NOW_MS 1795593600000LL

/* --- time arguments ----------------------------------------------------- */

static int64_t parse_time_ok(const char *s)
{
	struct vg_err err = { 0 };
	int64_t ms = -42;

	ck_assert_msg(vg_output_parse_time(s, NOW_MS, &ms, &err) == 0, "%s: %s", s, err.msg);
	return ms;
}

static void parse_time_bad(const char *s)
{
	struct vg_err err = { 0 };
	int64_t ms = -42;

	ck_assert_int_eq(vg_output_parse_time(s, NOW_MS, &ms, &err), VG_EINVAL);
	ck_assert_int_eq(ms, -42);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot parse"));
}

START_TEST(test_time_now)
{
	ck_assert_int_eq(parse_time_ok("now"), NOW_MS);
}
END_TEST

START_TEST(test_time_now_minus_duration)
{
	ck_assert_int_eq(parse_time_ok("now-5m"), NOW_MS - 300000);
	ck_assert_int_eq(parse_time_ok("now-1h30m"), NOW_MS - 5400000);
	ck_assert_int_eq(parse_time_ok("now-0"), NOW_MS);
}
END_TEST

START_TEST(test_time_now_minus_seconds)
{
	ck_assert_int_eq(parse_time_ok("now-90"), NOW_MS - 90000);
	ck_assert_int_eq(parse_time_ok("now-0.5"), NOW_MS - 500);
}
END_TEST

START_TEST(test_time_minus_duration_is_relative)
{
	ck_assert_int_eq(parse_time_ok("-5m"), NOW_MS - 300000);
	ck_assert_int_eq(parse_time_ok("-1d"), NOW_MS - 86400000);
	ck_assert_int_eq(parse_time_ok("-54s321ms"), NOW_MS - 54321);
}
END_TEST

START_TEST(test_time_minus_number_is_unix_time)
{
	/* As the API reads it: a float of seconds before the epoch. */
	ck_assert_int_eq(parse_time_ok("-300"), -300000);
}
END_TEST

START_TEST(test_time_absolute_forms)
{
	ck_assert_int_eq(parse_time_ok("1435781451.781"), 1435781451781LL);
	ck_assert_int_eq(parse_time_ok("1435781451"), 1435781451000LL);
	ck_assert_int_eq(parse_time_ok("2015-07-01T20:10:51.781Z"), 1435781451781LL);
	ck_assert_int_eq(parse_time_ok("2015-07-01T22:10:51+02:00"), 1435781451000LL);
}
END_TEST

START_TEST(test_time_rejects_garbage)
{
	parse_time_bad("");
	parse_time_bad("yesterday");
	parse_time_bad("now-");
	parse_time_bad("now+5m");
	parse_time_bad("now-5x");
	parse_time_bad("now--5");
	parse_time_bad("now-1.5h");
	parse_time_bad("-");
	parse_time_bad("-5q");
	parse_time_bad("- 5m");
	parse_time_bad("NOW");
	parse_time_bad("2015-07-01 20:10:51");
}
END_TEST

START_TEST(test_time_huge_relative_does_not_wrap)
{
	int64_t ms = parse_time_ok("now-9223372036854775799ms");

	ck_assert_int_lt(ms, 0);
	ck_assert_int_eq(ms, NOW_MS - 9223372036854775799LL);
}
END_TEST

/* --- step ----------------------------------------------------------------- */

START_TEST(test_step_is_range_over_250_rounded_up)
{
	ck_assert_int_eq(vg_output_default_step_ms(0, 300000), 2000);     /* 5m: 1.2s */
	ck_assert_int_eq(vg_output_default_step_ms(0, 3600000), 15000);   /* 1h: 14.4s */
	ck_assert_int_eq(vg_output_default_step_ms(0, 86400000), 346000); /* 1d: 345.6s */
	ck_assert_int_eq(vg_output_default_step_ms(NOW_MS - 250000, NOW_MS), 1000);
	ck_assert_int_eq(vg_output_default_step_ms(NOW_MS - 250001, NOW_MS), 2000);
	ck_assert_int_eq(vg_output_default_step_ms(0, 500000), 2000);
}
END_TEST

START_TEST(test_step_is_at_least_one_second)
{
	ck_assert_int_eq(vg_output_default_step_ms(0, 0), 1000);
	ck_assert_int_eq(vg_output_default_step_ms(0, 1), 1000);
	ck_assert_int_eq(vg_output_default_step_ms(0, 10000), 1000);
	ck_assert_int_eq(vg_output_default_step_ms(NOW_MS, NOW_MS - 5), 1000);
}
END_TEST

START_TEST(test_step_extreme_range_does_not_overflow)
{
	int64_t step = vg_output_default_step_ms(INT64_MIN, INT64_MAX);

	ck_assert_int_gt(step, 0);
	ck_assert_int_eq(step % 1000, 0);
	/* (2^64 - 1) / 250 ms, rounded up to seconds */
	ck_assert_int_eq(step, (int64_t)(UINT64_MAX / 250000 + 1) * 1000);
}
END_TEST

/* --- output format, CSV ----------------------------------------------------- */

START_TEST(test_format_names)
{
	enum vg_output_format f = VG_OUTPUT_JSON;
	struct vg_err err = { 0 };

	ck_assert_int_eq(vg_output_parse_format("table", &f, NULL), 0);
	ck_assert_int_eq(f, VG_OUTPUT_TABLE);
	ck_assert_int_eq(vg_output_parse_format("csv", &f, NULL), 0);
	ck_assert_int_eq(f, VG_OUTPUT_CSV);
	ck_assert_int_eq(vg_output_parse_format("json", &f, NULL), 0);
	ck_assert_int_eq(f, VG_OUTPUT_JSON);
	ck_assert_int_eq(vg_output_parse_format("JSON", &f, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "\"JSON\""));
	ck_assert_int_eq(vg_output_parse_format("", &f, NULL), VG_EINVAL);
}
END_TEST

static const char *csv(const char *s)
{
	static char out[256];
	struct vg_buf b = VG_BUF_INIT;

	vg_output_csv_field(&b, s, strlen(s));
	snprintf(out, sizeof(out), "%s", vg_buf_cstr(&b));
	vg_buf_release(&b);
	return out;
}

START_TEST(test_csv_plain_field_unquoted)
{
	ck_assert_str_eq(csv("up"), "up");
	ck_assert_str_eq(csv(""), "");
	ck_assert_str_eq(csv("1e-07"), "1e-07");
}
END_TEST

START_TEST(test_csv_quotes_comma_quote_and_newlines)
{
	ck_assert_str_eq(csv("a,b"), "\"a,b\"");
	ck_assert_str_eq(csv("up{job=\"x\"}"), "\"up{job=\"\"x\"\"}\"");
	ck_assert_str_eq(csv("\""), "\"\"\"\"");
	ck_assert_str_eq(csv("a\nb"), "\"a\nb\"");
	ck_assert_str_eq(csv("a\rb"), "\"a\rb\"");
}
END_TEST

START_TEST(test_csv_field_keeps_embedded_nul)
{
	struct vg_buf b = VG_BUF_INIT;

	vg_output_csv_field(&b, "a\0,b", 4);
	ck_assert_uint_eq(b.len, 6);
	ck_assert_int_eq(memcmp(b.data, "\"a\0,b\"", 6), 0);
	vg_buf_release(&b);
}
END_TEST

/* --- series text ------------------------------------------------------------ */

/* The series text of a JSON object, or "ERR" if it was refused. */
static char *series_of(const char *json)
{
	struct vg_buf b = VG_BUF_INIT;
	json_error_t jerr;
	json_t *m = json_loads(json, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
	char *s;

	ck_assert_msg(m != NULL, "%s: %s", json, jerr.text);
	if (vg_output_format_series(m, &b, NULL) != 0) {
		vg_buf_reset(&b);
		vg_buf_puts(&b, "ERR");
	}
	json_decref(m);
	ck_assert(!vg_buf_failed(&b));
	s = strdup(vg_buf_cstr(&b));
	vg_buf_release(&b);
	return s;
}

#define ck_series(json, want) do { \
		char *got_ = series_of(json); \
		ck_assert_str_eq(got_, want); \
		free(got_); \
	} while (0)

START_TEST(test_series_bare_name)
{
	ck_series("{\"__name__\":\"up\"}", "up");
	ck_series("{\"__name__\":\"job:rate:5m\"}", "job:rate:5m");
}
END_TEST

START_TEST(test_series_labels_sorted_name_outside)
{
	ck_series("{\"job\":\"node\",\"__name__\":\"up\",\"instance\":\"a:9100\"}",
		  "up{instance=\"a:9100\",job=\"node\"}");
}
END_TEST

START_TEST(test_series_without_name)
{
	ck_series("{\"job\":\"x\",\"b\":\"y\"}", "{b=\"y\",job=\"x\"}");
	ck_series("{}", "{}");
}
END_TEST

START_TEST(test_series_escapes_values)
{
	ck_series("{\"__name__\":\"m\",\"p\":\"a\\\\b\\\"c\\nd\\re\\tf\"}",
		  "m{p=\"a\\\\b\\\"c\\nd\\re\\tf\"}");
}
END_TEST

START_TEST(test_series_escapes_terminal_controls)
{
	/* ESC, DEL and the C1 CSI (U+009B) never reach a terminal raw */
	ck_series("{\"__name__\":\"m\",\"p\":\"\\u001b[31m\\u007f\\u009b\"}",
		  "m{p=\"\\x1b[31m\\x7f\\u009b\"}");
	ck_series("{\"__name__\":\"m\",\"p\":\"a\\u0000b\"}", "m{p=\"a\\x00b\"}");
}
END_TEST

START_TEST(test_series_keeps_utf8)
{
	ck_series("{\"__name__\":\"m\",\"city\":\"Z\\u00fcrich \\u6771\\u4eac\"}",
		  "m{city=\"Z\xc3\xbcrich \xe6\x9d\xb1\xe4\xba\xac\"}");
}
END_TEST

START_TEST(test_series_quotes_names_beyond_classic)
{
	ck_series("{\"__name__\":\"my.metric\",\"job\":\"x\"}", "{\"my.metric\",job=\"x\"}");
	ck_series("{\"__name__\":\"my.metric\"}", "{\"my.metric\"}");
	ck_series("{\"__name__\":\"up\",\"la.bel\":\"v\"}", "up{\"la.bel\"=\"v\"}");
	ck_series("{\"__name__\":\"up\",\"a:b\":\"v\"}", "up{\"a:b\"=\"v\"}");
	ck_series("{\"__name__\":\"1up\"}", "{\"1up\"}");
	ck_series("{\"__name__\":\"\"}", "{\"\"}");
}
END_TEST

START_TEST(test_series_rejects_non_strings)
{
	ck_series("{\"__name__\":\"up\",\"job\":1}", "ERR");
	ck_series("{\"__name__\":null}", "ERR");
	ck_series("{\"job\":{\"x\":\"y\"}}", "ERR");
	ck_series("[\"up\"]", "ERR");
	ck_series("\"up\"", "ERR");
}
END_TEST

/* --- answers into results ---------------------------------------------------- */

struct parsed {
	json_t *doc;
	struct vg_result r;
	struct vg_err err;
	int rc;
};

static void parse_data(struct parsed *p, const char *json, bool is_series)
{
	json_error_t jerr;

	memset(p, 0, sizeof(*p));
	p->doc = json_loads(json, JSON_DECODE_ANY, &jerr);
	ck_assert_msg(p->doc != NULL, "%s: %s", json, jerr.text);
	p->r.n_rows = 99; /* must be reset */
	if (is_series)
		p->rc = vg_output_series_from_json(p->doc, &p->r, &p->err);
	else
		p->rc = vg_output_result_from_json(p->doc, &p->r, &p->err);
	if (p->rc) {
		ck_assert_uint_eq(p->r.n_rows, 0);
		ck_assert_ptr_null(p->r.rows);
	}
}

static void parsed_release(struct parsed *p)
{
	vg_output_result_release(&p->r);
	json_decref(p->doc);
}

static const char vector_data[] =
	"{\"resultType\":\"vector\",\"result\":["
	"{\"metric\":{\"__name__\":\"node_memory_MemAvailable_bytes\",\"instance\":\"web-1\"},"
	"\"value\":[1764060000.781,\"8231092224\"]},"
	"{\"metric\":{\"__name__\":\"node_memory_MemAvailable_bytes\",\"instance\":\"db-1\"},"
	"\"value\":[1764060000.781,\"123\"]},"
	"{\"metric\":{\"job\":\"x,y\"},\"value\":[1764060000,\"NaN\"]}]}";

static const char matrix_data[] =
	"{\"resultType\":\"matrix\",\"result\":["
	"{\"metric\":{\"__name__\":\"cpu\",\"cpu\":\"1\"},"
	"\"values\":[[1764060000,\"10\"],[1764060015.5,\"10.25\"]]},"
	"{\"metric\":{\"__name__\":\"cpu\",\"cpu\":\"0\"},"
	"\"values\":[[1764060000,\"1e-07\"],[1764060015.5,\"+Inf\"]]}]}";

START_TEST(test_result_vector_sorted_by_series)
{
	struct parsed p;

	parse_data(&p, vector_data, false);
	ck_assert_int_eq(p.rc, 0);
	ck_assert(!p.r.is_range);
	ck_assert_uint_eq(p.r.n_rows, 3);
	ck_assert_str_eq(p.r.rows[0].series, "node_memory_MemAvailable_bytes{instance=\"db-1\"}");
	ck_assert_str_eq(p.r.rows[1].series, "node_memory_MemAvailable_bytes{instance=\"web-1\"}");
	ck_assert_str_eq(p.r.rows[2].series, "{job=\"x,y\"}");
	ck_assert_uint_eq(p.r.rows[1].n_points, 1);
	ck_assert_int_eq(p.r.rows[1].points[0].ts_ms, 1764060000781LL);
	ck_assert_str_eq(p.r.rows[1].points[0].value, "8231092224");
	ck_assert_int_eq(p.r.rows[2].points[0].ts_ms, 1764060000000LL);
	parsed_release(&p);
}
END_TEST

START_TEST(test_result_matrix_keeps_point_order)
{
	struct parsed p;

	parse_data(&p, matrix_data, false);
	ck_assert_int_eq(p.rc, 0);
	ck_assert(p.r.is_range);
	ck_assert_uint_eq(p.r.n_rows, 2);
	ck_assert_str_eq(p.r.rows[0].series, "cpu{cpu=\"0\"}");
	ck_assert_uint_eq(p.r.rows[0].n_points, 2);
	ck_assert_int_eq(p.r.rows[0].points[1].ts_ms, 1764060015500LL);
	ck_assert_str_eq(p.r.rows[0].points[1].value, "+Inf");
	parsed_release(&p);
}
END_TEST

START_TEST(test_result_scalar_and_string)
{
	struct parsed p;

	parse_data(&p, "{\"resultType\":\"scalar\",\"result\":[4,\"2\"]}", false);
	ck_assert_int_eq(p.rc, 0);
	ck_assert_uint_eq(p.r.n_rows, 1);
	ck_assert_str_eq(p.r.rows[0].series, "scalar");
	ck_assert_int_eq(p.r.rows[0].points[0].ts_ms, 4000);
	ck_assert_str_eq(p.r.rows[0].points[0].value, "2");
	parsed_release(&p);

	parse_data(&p, "{\"resultType\":\"string\",\"result\":[4.5,\"hello\"]}", false);
	ck_assert_int_eq(p.rc, 0);
	ck_assert_str_eq(p.r.rows[0].series, "string");
	ck_assert_int_eq(p.r.rows[0].points[0].ts_ms, 4500);
	parsed_release(&p);
}
END_TEST

START_TEST(test_result_empty)
{
	struct parsed p;

	parse_data(&p, "{\"resultType\":\"vector\",\"result\":[]}", false);
	ck_assert_int_eq(p.rc, 0);
	ck_assert_uint_eq(p.r.n_rows, 0);
	parsed_release(&p);
	parse_data(&p, "[]", true);
	ck_assert_int_eq(p.rc, 0);
	ck_assert_uint_eq(p.r.n_rows, 0);
	parsed_release(&p);
}
END_TEST

static void expect_bad_data(const char *json, const char *where)
{
	struct parsed p;

	parse_data(&p, json, false);
	ck_assert_msg(p.rc == VG_EINVAL, "%s: accepted", json);
	ck_assert_msg(strstr(p.err.msg, where) != NULL, "%s: \"%s\" lacks \"%s\"", json, p.err.msg, where);
	parsed_release(&p);
}

START_TEST(test_result_rejects_wrong_shapes)
{
	expect_bad_data("[]", "data: not an object");
	expect_bad_data("{\"result\":[]}", "no \"resultType\"");
	expect_bad_data("{\"resultType\":\"vector\"}", "no \"result\"");
	expect_bad_data("{\"resultType\":\"histogram\",\"result\":[]}", "unknown resultType");
	expect_bad_data("{\"resultType\":\"vector\",\"result\":{}}", "data.result: not an array");
	expect_bad_data("{\"resultType\":\"vector\",\"result\":[1]}", "data.result[0]: not an object");
	expect_bad_data("{\"resultType\":\"scalar\",\"result\":[1]}", "data.result: not a [time");
}
END_TEST

START_TEST(test_result_rejects_bad_points)
{
	expect_bad_data("{\"resultType\":\"vector\",\"result\":[{\"metric\":{}}]}",
			"data.result[0].value: not a [time");
	expect_bad_data("{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1,2]}]}",
			"data.result[0].value: the value is not a string");
	expect_bad_data("{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[\"1\",\"2\"]}]}",
			"data.result[0].value: the time is not a number");
	expect_bad_data("{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1,\"2\",3]}]}",
			"not a [time");
	expect_bad_data("{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1e300,\"2\"]}]}",
			"the time is out of range");
	expect_bad_data("{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[-1e300,\"2\"]}]}",
			"the time is out of range");
	expect_bad_data("{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"value\":[1,\"2\"]}]}",
			"data.result[0]: no \"values\" array");
	expect_bad_data("{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":[[1,\"2\"],[2]]}]}",
			"data.result[0].values[1]: not a [time");
}
END_TEST

START_TEST(test_result_rejects_bad_metric)
{
	expect_bad_data("{\"resultType\":\"vector\",\"result\":[{\"value\":[1,\"2\"]}]}",
			"data.result[0].metric: not an object");
	expect_bad_data("{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"a\":1},\"value\":[1,\"2\"]}]}",
			"data.result[0].metric: a label value is not a string");
	/* a later row fails after earlier ones were built: nothing leaks */
	expect_bad_data("{\"resultType\":\"matrix\",\"result\":["
			"{\"metric\":{\"a\":\"1\"},\"values\":[[1,\"2\"]]},"
			"{\"metric\":{\"a\":\"2\"},\"values\":[[1,\"2\"],\"x\"]}]}",
			"data.result[1].values[1]");
}
END_TEST

START_TEST(test_series_list_sorted)
{
	struct parsed p;

	parse_data(&p, "[{\"__name__\":\"up\",\"job\":\"b\"},{\"__name__\":\"up\",\"job\":\"a\"},"
		       "{\"__name__\":\"go_info\",\"version\":\"1\"}]", true);
	ck_assert_int_eq(p.rc, 0);
	ck_assert_uint_eq(p.r.n_rows, 3);
	ck_assert_str_eq(p.r.rows[0].series, "go_info{version=\"1\"}");
	ck_assert_str_eq(p.r.rows[1].series, "up{job=\"a\"}");
	ck_assert_str_eq(p.r.rows[2].series, "up{job=\"b\"}");
	ck_assert_uint_eq(p.r.rows[2].n_points, 0);
	parsed_release(&p);
}
END_TEST

START_TEST(test_series_sorted_by_label_sets_not_text)
{
	struct parsed p;

	/* As text, '5' < '{' would put node_load15 before node_load1. */
	parse_data(&p, "[{\"__name__\":\"node_load15\"},{\"__name__\":\"up\",\"job\":\"b\"},"
		       "{\"__name__\":\"node_load1\",\"instance\":\"z\"},{\"job\":\"a\"},"
		       "{\"__name__\":\"up\"},{\"__name__\":\"node_load5\"}]", true);
	ck_assert_int_eq(p.rc, 0);
	ck_assert_uint_eq(p.r.n_rows, 6);
	ck_assert_str_eq(p.r.rows[0].series, "node_load1{instance=\"z\"}");
	ck_assert_str_eq(p.r.rows[1].series, "node_load15");
	ck_assert_str_eq(p.r.rows[2].series, "node_load5");
	ck_assert_str_eq(p.r.rows[3].series, "up");
	ck_assert_str_eq(p.r.rows[4].series, "up{job=\"b\"}");
	/* "__name__" < "job": unnamed series after named ones */
	ck_assert_str_eq(p.r.rows[5].series, "{job=\"a\"}");
	parsed_release(&p);
}
END_TEST

START_TEST(test_series_list_rejects_wrong_shapes)
{
	struct parsed p;

	parse_data(&p, "{\"resultType\":\"vector\",\"result\":[]}", true);
	ck_assert_int_eq(p.rc, VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(p.err.msg, "data: not an array"));
	parsed_release(&p);
	parse_data(&p, "[{\"__name__\":\"up\"},\"up\"]", true);
	ck_assert_int_eq(p.rc, VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(p.err.msg, "data[1]"));
	parsed_release(&p);
	parse_data(&p, "[{\"__name__\":[]}]", true);
	ck_assert_int_eq(p.rc, VG_EINVAL);
	parsed_release(&p);
}
END_TEST

/* --- renderers ---------------------------------------------------------------- */

static char *render(const char *json, bool is_series, void (*fn)(const struct vg_result *, struct vg_buf *))
{
	struct vg_buf b = VG_BUF_INIT;
	struct parsed p;
	char *s;

	parse_data(&p, json, is_series);
	ck_assert_msg(p.rc == 0, "%s", p.err.msg);
	fn(&p.r, &b);
	ck_assert(!vg_buf_failed(&b));
	parsed_release(&p);
	s = strdup(vg_buf_cstr(&b));
	vg_buf_release(&b);
	return s;
}

#define ck_render(json, is_series, fn, want) do { \
		char *got_ = render(json, is_series, fn); \
		ck_assert_str_eq(got_, want); \
		free(got_); \
	} while (0)

START_TEST(test_table_instant_aligned)
{
	ck_render(vector_data, false, vg_output_table,
		  "SERIES                                            VALUE       TIMESTAMP\n"
		  "node_memory_MemAvailable_bytes{instance=\"db-1\"}   123         2025-11-25T08:40:00.781Z\n"
		  "node_memory_MemAvailable_bytes{instance=\"web-1\"}  8231092224  2025-11-25T08:40:00.781Z\n"
		  "{job=\"x,y\"}                                       NaN         2025-11-25T08:40:00Z\n");
}
END_TEST

START_TEST(test_table_instant_short_values_keep_header_width)
{
	ck_render("{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"up\"},\"value\":[0,\"1\"]}]}",
		  false, vg_output_table,
		  "SERIES  VALUE  TIMESTAMP\n"
		  "up      1      1970-01-01T00:00:00Z\n");
}
END_TEST

START_TEST(test_table_aligns_utf8_by_characters)
{
	ck_render("{\"resultType\":\"vector\",\"result\":["
		  "{\"metric\":{\"c\":\"\\u00fc\\u00fc\"},\"value\":[0,\"1\"]},"
		  "{\"metric\":{\"c\":\"uu\"},\"value\":[0,\"2\"]}]}",
		  false, vg_output_table,
		  "SERIES    VALUE  TIMESTAMP\n"
		  "{c=\"uu\"}  2      1970-01-01T00:00:00Z\n"
		  "{c=\"\xc3\xbc\xc3\xbc\"}  1      1970-01-01T00:00:00Z\n");
}
END_TEST

START_TEST(test_table_value_controls_replaced)
{
	ck_render("{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[0,\"1\\u001b[2J\"]}]}",
		  false, vg_output_table,
		  "SERIES  VALUE  TIMESTAMP\n"
		  "{}      1?[2J  1970-01-01T00:00:00Z\n");
}
END_TEST

START_TEST(test_table_range_blocks)
{
	ck_render(matrix_data, false, vg_output_table,
		  "cpu{cpu=\"0\"}\n"
		  "  2025-11-25T08:40:00Z      1e-07\n"
		  "  2025-11-25T08:40:15.500Z  +Inf\n"
		  "\n"
		  "cpu{cpu=\"1\"}\n"
		  "  2025-11-25T08:40:00Z      10\n"
		  "  2025-11-25T08:40:15.500Z  10.25\n");
}
END_TEST

START_TEST(test_table_empty_prints_nothing)
{
	ck_render("{\"resultType\":\"vector\",\"result\":[]}", false, vg_output_table, "");
	ck_render("{\"resultType\":\"matrix\",\"result\":[]}", false, vg_output_table, "");
}
END_TEST

START_TEST(test_csv_instant_and_range)
{
	ck_render(vector_data, false, vg_output_csv,
		  "series,timestamp,value\n"
		  "\"node_memory_MemAvailable_bytes{instance=\"\"db-1\"\"}\",1764060000.781,123\n"
		  "\"node_memory_MemAvailable_bytes{instance=\"\"web-1\"\"}\",1764060000.781,8231092224\n"
		  "\"{job=\"\"x,y\"\"}\",1764060000,NaN\n");
	ck_render(matrix_data, false, vg_output_csv,
		  "series,timestamp,value\n"
		  "\"cpu{cpu=\"\"0\"\"}\",1764060000,1e-07\n"
		  "\"cpu{cpu=\"\"0\"\"}\",1764060015.500,+Inf\n"
		  "\"cpu{cpu=\"\"1\"\"}\",1764060000,10\n"
		  "\"cpu{cpu=\"\"1\"\"}\",1764060015.500,10.25\n");
}
END_TEST

START_TEST(test_csv_empty_has_header)
{
	ck_render("{\"resultType\":\"matrix\",\"result\":[]}", false, vg_output_csv, "series,timestamp,value\n");
	ck_render("[]", true, vg_output_series_csv, "series\n");
}
END_TEST

START_TEST(test_series_renderers)
{
	static const char data[] = "[{\"__name__\":\"up\",\"job\":\"b\"},{\"__name__\":\"up\"}]";

	ck_render(data, true, vg_output_series_list, "up\nup{job=\"b\"}\n");
	ck_render(data, true, vg_output_series_csv, "series\nup\n\"up{job=\"\"b\"\"}\"\n");
	ck_render("[]", true, vg_output_series_list, "");
}
END_TEST

/* --- JSON printer --------------------------------------------------------------- */

static char *pretty(const char *json)
{
	struct vg_buf b = VG_BUF_INIT;
	json_error_t jerr;
	json_t *doc = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	char *s;

	ck_assert_msg(doc != NULL, "%s: %s", json, jerr.text);
	vg_output_json(doc, &b);
	json_decref(doc);
	ck_assert(!vg_buf_failed(&b));
	s = strdup(vg_buf_cstr(&b));
	vg_buf_release(&b);
	return s;
}

#define ck_pretty(json, want) do { \
		char *got_ = pretty(json); \
		ck_assert_str_eq(got_, want); \
		free(got_); \
	} while (0)

START_TEST(test_json_indents_two_spaces_in_order)
{
	ck_pretty("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
		  "[{\"metric\":{},\"value\":[1435781451.781,\"1\"]}]}}",
		  "{\n"
		  "  \"status\": \"success\",\n"
		  "  \"data\": {\n"
		  "    \"resultType\": \"vector\",\n"
		  "    \"result\": [\n"
		  "      {\n"
		  "        \"metric\": {},\n"
		  "        \"value\": [\n"
		  "          1435781451.781,\n"
		  "          \"1\"\n"
		  "        ]\n"
		  "      }\n"
		  "    ]\n"
		  "  }\n"
		  "}\n");
}
END_TEST

START_TEST(test_json_numbers_shortest_exact)
{
	ck_pretty("[1435781451.050, 1435781451, 0.1, 5.0, -0, 1e300, 1.5e-7, 123456789012345678]",
		  "[\n  1435781451.05,\n  1435781451,\n  0.1,\n  5.0,\n  0,\n  1e+300,\n"
		  "  1.5e-07,\n  123456789012345678\n]\n");
}
END_TEST

START_TEST(test_json_scalars_and_escapes)
{
	ck_pretty("[true,false,null,[],{},\"a\\\"b\\\\c\\n\\u0001\\u001b\\u00e9/\"]",
		  "[\n  true,\n  false,\n  null,\n  [],\n  {},\n"
		  "  \"a\\\"b\\\\c\\n\\u0001\\u001b\xc3\xa9/\"\n]\n");
	ck_pretty("\"a\\u0000b\"", "\"a\\u0000b\"\n");
}
END_TEST

/* --- request encoding and envelope ------------------------------------------------ */

START_TEST(test_encode_params_percent_encodes_everything_reserved)
{
	struct vg_http_param p[] = {
		{ "match[]", "up{job=\"a b\",x=~\"1|2\"}" },
		{ "match[]", "caf\xc3\xa9&=+%" },
		{ "time", "1435781451.781" },
	};
	struct vg_buf b = VG_BUF_INIT;

	ck_assert_int_eq(vg_http_encode_params(p, 3, &b, NULL), 0);
	ck_assert_str_eq(vg_buf_cstr(&b),
		"match%5B%5D=up%7Bjob%3D%22a%20b%22%2Cx%3D~%221%7C2%22%7D&"
		"match%5B%5D=caf%C3%A9%26%3D%2B%25&time=1435781451.781");
	vg_buf_release(&b);
}
END_TEST

START_TEST(test_encode_params_empty)
{
	struct vg_http_param p[] = { { "a", "" } };
	struct vg_buf b = VG_BUF_INIT;

	ck_assert_int_eq(vg_http_encode_params(p, 0, &b, NULL), 0);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(vg_http_encode_params(p, 1, &b, NULL), 0);
	ck_assert_str_eq(vg_buf_cstr(&b), "a=");
	vg_buf_release(&b);
}
END_TEST

#define URL "http://h:9711/api/v1/query"

static int check(long status, const char *body, json_t **doc, struct vg_err *err)
{
	return vg_http_check_response(status, body, strlen(body), URL, doc, err);
}

START_TEST(test_envelope_success_returns_document)
{
	struct vg_err err = { 0 };
	json_t *doc = NULL;

	ck_assert_int_eq(check(200, "{\"status\":\"success\",\"data\":[],\"warnings\":[\"w\"]}", &doc, &err), 0);
	ck_assert_ptr_nonnull(doc);
	ck_assert(json_is_array(json_object_get(doc, "data")));
	json_decref(doc);
}
END_TEST

START_TEST(test_envelope_error_is_refusal)
{
	struct vg_err err = { 0 };
	json_t *doc = (json_t *)&err;

	ck_assert_int_eq(check(400, "{\"status\":\"error\",\"errorType\":\"bad_data\","
			 "\"error\":\"invalid parameter \\\"query\\\": 1:5: parse error: x\"}", &doc, &err),
			 VG_EINVAL);
	ck_assert_ptr_null(doc);
	ck_assert_str_eq(err.msg, "server error (bad_data): invalid parameter \"query\": 1:5: parse error: x");
}
END_TEST

START_TEST(test_envelope_error_on_http_200_and_422)
{
	struct vg_err err = { 0 };
	json_t *doc;

	ck_assert_int_eq(check(200, "{\"status\":\"error\",\"errorType\":\"execution\",\"error\":\"e\"}", &doc, &err),
			 VG_EINVAL);
	ck_assert_str_eq(err.msg, "server error (execution): e");
	ck_assert_int_eq(check(422, "{\"status\":\"error\"}", &doc, &err), VG_EINVAL);
	ck_assert_str_eq(err.msg, "server error (unknown): (no message)");
}
END_TEST

START_TEST(test_envelope_error_text_made_one_line)
{
	struct vg_err err = { 0 };
	json_t *doc;

	ck_assert_int_eq(check(400, "{\"status\":\"error\",\"errorType\":\"bad\\ndata\","
			 "\"error\":\"a\\nb\\u001b[2Jc\"}", &doc, &err), VG_EINVAL);
	ck_assert_str_eq(err.msg, "server error (bad data): a b [2Jc");
}
END_TEST

START_TEST(test_envelope_http_error_without_envelope)
{
	struct vg_err err = { 0 };
	json_t *doc;

	ck_assert_int_eq(check(502, "<html>Bad Gateway</html>", &doc, &err), VG_EPROTO);
	ck_assert_str_eq(err.msg, "unexpected response from " URL ": HTTP 502");
	ck_assert_int_eq(check(404, "404 page not found", &doc, &err), VG_EPROTO);
	ck_assert_str_eq(err.msg, "unexpected response from " URL ": HTTP 404");
	ck_assert_int_eq(check(500, "{\"message\":\"x\"}", &doc, &err), VG_EPROTO);
	ck_assert_str_eq(err.msg, "unexpected response from " URL ": HTTP 500");
}
END_TEST

START_TEST(test_envelope_not_json)
{
	struct vg_err err = { 0 };
	json_t *doc;

	ck_assert_int_eq(check(200, "hello", &doc, &err), VG_EPROTO);
	ck_assert_ptr_nonnull(strstr(err.msg, "unexpected response from " URL ": not JSON"));
	ck_assert_int_eq(check(200, "", &doc, &err), VG_EPROTO);
	ck_assert_ptr_nonnull(strstr(err.msg, ": not JSON"));
	ck_assert_int_eq(check(200, "{\"status\":\"success\",\"data\":", &doc, &err), VG_EPROTO);
	ck_assert_ptr_nonnull(strstr(err.msg, ": not JSON"));
	ck_assert_int_eq(vg_http_check_response(200, "{\"status\":\"success\"}\0x", 22, URL, &doc, &err),
			 VG_EPROTO);
}
END_TEST

START_TEST(test_envelope_json_but_not_api)
{
	struct vg_err err = { 0 };
	json_t *doc;

	ck_assert_int_eq(check(200, "[1,2]", &doc, &err), VG_EPROTO);
	ck_assert_str_eq(err.msg, "unexpected response from " URL ": no \"status\" in the JSON");
	ck_assert_int_eq(check(200, "{\"status\":1}", &doc, &err), VG_EPROTO);
	ck_assert_int_eq(check(200, "{\"status\":\"ok\",\"data\":1}", &doc, &err), VG_EPROTO);
	ck_assert_str_eq(err.msg, "unexpected response from " URL ": status \"ok\"");
	ck_assert_int_eq(check(200, "{\"status\":\"success\"}", &doc, &err), VG_EPROTO);
	ck_assert_str_eq(err.msg, "unexpected response from " URL ": no \"data\"");
	ck_assert_int_eq(check(503, "{\"status\":\"success\",\"data\":[]}", &doc, &err), VG_EPROTO);
	ck_assert_str_eq(err.msg, "unexpected response from " URL ": HTTP 503");
	ck_assert_int_eq(check(200, "{\"status\":\"success\\u0000x\",\"data\":[]}", &doc, &err), VG_EPROTO);
	ck_assert_ptr_null(doc);
}
END_TEST

/* --- vg_http_get on loopback ------------------------------------------------------ */

/* A server for one connection: reads the request (headers and a body of
 * Content-Length), answers with a canned response, or not at all. */
struct one_shot {
	int fd;
	int port;
	const char *response; /* NULL: read, then hold the connection */
	char request[16384];
	size_t request_len;
	pthread_t thread;
};

static void *one_shot_run(void *arg)
{
	struct one_shot *s = arg;
	int c = accept(s->fd, NULL, NULL);
	size_t body = 0;
	char *end = NULL;

	if (c < 0)
		return NULL;
	while (s->request_len < sizeof(s->request) - 1) {
		ssize_t n = read(c, s->request + s->request_len, sizeof(s->request) - 1 - s->request_len);
		if (n <= 0)
			break;
		s->request_len += (size_t)n;
		s->request[s->request_len] = '\0';
		if (end == NULL && (end = strstr(s->request, "\r\n\r\n")) != NULL) {
			const char *cl = strstr(s->request, "\r\nContent-Length:");
			if (cl)
				body = strtoul(cl + 17, NULL, 10);
		}
		if (end && s->request_len >= (size_t)(end + 4 - s->request) + body)
			break;
	}
	if (s->response) {
		ssize_t w = write(c, s->response, strlen(s->response));
		(void)w;
	} else {
		sleep(3);
	}
	close(c);
	return NULL;
}

static void one_shot_start(struct one_shot *s, const char *response)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->response = response;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s->fd, 0);
	ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s->fd, 1), 0);
	ck_assert_int_eq(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, one_shot_run, s), 0);
}

static void one_shot_join(struct one_shot *s)
{
	pthread_join(s->thread, NULL);
	close(s->fd);
}

static const char ok_response[] =
	"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
	"Content-Length: 34\r\n\r\n{\"status\":\"success\",\"data\":[1,2]}\n";

START_TEST(test_get_sends_encoded_query_and_user_agent)
{
	struct vg_http_param p[] = { { "query", "up{job=\"a\"}" }, { "time", "1.5" } };
	struct vg_http_client client;
	struct vg_err err = { 0 };
	struct one_shot s;
	char server[64];
	json_t *doc = NULL;

	one_shot_start(&s, ok_response);
	snprintf(server, sizeof(server), "http://127.0.0.1:%d/", s.port); /* trailing '/' dropped */
	client = (struct vg_http_client){ .server = server, .timeout_ms = 5000 };
	ck_assert_msg(vg_http_get(&client, "/api/v1/query", p, 2, &doc, &err) == 0, "%s", err.msg);
	one_shot_join(&s);
	ck_assert_ptr_nonnull(strstr(s.request, "GET /api/v1/query?query=up%7Bjob%3D%22a%22%7D&time=1.5 HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(s.request, "\r\nUser-Agent: vigil/0.1.0\r\n"));
	ck_assert_ptr_nonnull(strstr(s.request, "\r\nAccept: application/json\r\n"));
	ck_assert_int_eq(json_array_size(json_object_get(doc, "data")), 2);
	json_decref(doc);
}
END_TEST

START_TEST(test_get_long_parameters_go_as_post_form)
{
	struct vg_http_param p[] = { { "match[]", NULL } };
	struct vg_http_client client;
	struct vg_err err = { 0 };
	struct one_shot s;
	char server[64], *sel = malloc(VG_HTTP_MAX_GET_PARAMS_BYTES + 1);
	json_t *doc = NULL;

	memset(sel, 'a', VG_HTTP_MAX_GET_PARAMS_BYTES);
	sel[VG_HTTP_MAX_GET_PARAMS_BYTES] = '\0';
	p[0].value = sel;
	one_shot_start(&s, ok_response);
	snprintf(server, sizeof(server), "http://127.0.0.1:%d", s.port);
	client = (struct vg_http_client){ .server = server, .timeout_ms = 5000 };
	ck_assert_msg(vg_http_get(&client, "/api/v1/series", p, 1, &doc, &err) == 0, "%s", err.msg);
	one_shot_join(&s);
	ck_assert_ptr_nonnull(strstr(s.request, "POST /api/v1/series HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(s.request, "Content-Type: application/x-www-form-urlencoded"));
	ck_assert_ptr_nonnull(strstr(s.request, "\r\n\r\nmatch%5B%5D=aaaa"));
	json_decref(doc);
	free(sel);
}
END_TEST

START_TEST(test_get_server_error_answer)
{
	static const char resp[] =
		"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n"
		"Content-Length: 68\r\n\r\n"
		"{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"1:5: parse error\"}";
	struct vg_http_param p[] = { { "query", "up" } };
	struct vg_http_client client;
	struct vg_err err = { 0 };
	struct one_shot s;
	char server[64];
	json_t *doc = NULL;

	one_shot_start(&s, resp);
	snprintf(server, sizeof(server), "http://127.0.0.1:%d", s.port);
	client = (struct vg_http_client){ .server = server, .timeout_ms = 5000 };
	ck_assert_int_eq(vg_http_get(&client, "/api/v1/query", p, 1, &doc, &err), VG_EINVAL);
	one_shot_join(&s);
	ck_assert_ptr_null(doc);
	ck_assert_str_eq(err.msg, "server error (bad_data): 1:5: parse error");
}
END_TEST

START_TEST(test_get_bad_gateway)
{
	static const char resp[] =
		"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nConnection: close\r\n"
		"Content-Length: 5\r\n\r\noops\n";
	struct vg_http_client client;
	struct vg_err err = { 0 };
	struct one_shot s;
	char server[64], want[128];
	json_t *doc = NULL;

	one_shot_start(&s, resp);
	snprintf(server, sizeof(server), "http://127.0.0.1:%d", s.port);
	client = (struct vg_http_client){ .server = server, .timeout_ms = 5000 };
	ck_assert_int_eq(vg_http_get(&client, "/api/v1/series", NULL, 0, &doc, &err), VG_EPROTO);
	one_shot_join(&s);
	snprintf(want, sizeof(want), "unexpected response from http://127.0.0.1:%d/api/v1/series: HTTP 502", s.port);
	ck_assert_str_eq(err.msg, want);
}
END_TEST

START_TEST(test_get_connection_refused)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	struct vg_http_client client;
	struct vg_err err = { 0 };
	char server[64], want[128];
	json_t *doc = NULL;
	int fd;

	/* A port that was just free: bound, then closed without listening. */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	snprintf(server, sizeof(server), "http://127.0.0.1:%d", ntohs(a.sin_port));
	client = (struct vg_http_client){ .server = server, .timeout_ms = 5000 };
	ck_assert_int_eq(vg_http_get(&client, "/api/v1/query", NULL, 0, &doc, &err), VG_EIO);
	snprintf(want, sizeof(want), "cannot reach %s: Connection refused", server);
	ck_assert_str_eq(err.msg, want);
	ck_assert_ptr_null(doc);
}
END_TEST

START_TEST(test_get_times_out)
{
	struct vg_http_client client;
	struct vg_err err = { 0 };
	struct one_shot s;
	char server[64];
	json_t *doc = NULL;

	one_shot_start(&s, NULL);
	snprintf(server, sizeof(server), "http://127.0.0.1:%d", s.port);
	client = (struct vg_http_client){ .server = server, .timeout_ms = 300 };
	ck_assert_int_eq(vg_http_get(&client, "/api/v1/query", NULL, 0, &doc, &err), VG_EIO);
	ck_assert_msg(strstr(err.msg, "cannot reach ") == err.msg, "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "timed out") != NULL, "%s", err.msg);
	one_shot_join(&s);
}
END_TEST

START_TEST(test_get_refuses_other_protocols)
{
	struct vg_http_client client = { .server = "file:///etc/passwd#", .timeout_ms = 5000 };
	struct vg_err err = { 0 };
	json_t *doc = NULL;

	ck_assert_int_eq(vg_http_get(&client, "/api/v1/query", NULL, 0, &doc, &err), VG_EIO);
	ck_assert_ptr_null(doc);
}
END_TEST

/* --- the list of silences and acks (cli/silence.c) -------------------------------- */

static const struct vg_cli_am_columns silence_columns = { "endsAt", "ENDS", NULL, false };
static const struct vg_cli_am_columns ack_columns = { "expiresAt", "EXPIRES", "acknowledged", true };

static const char am_list[] =
	"[{\"id\":\"5e1\",\"status\":{\"state\":\"active\"},"
	"\"matchers\":[{\"name\":\"job\",\"value\":\"node\",\"isRegex\":false,\"isEqual\":true},"
	"{\"name\":\"dev\",\"value\":\"sd.\",\"isRegex\":true,\"isEqual\":false}],"
	"\"alerts\":[{\"state\":\"acknowledged\"},{\"state\":\"resolved\"}],"
	"\"startsAt\":\"S1\",\"endsAt\":\"E1\",\"expiresAt\":\"X1\",\"createdBy\":\"ops\",\"comment\":\"swap\"},"
	" {\"status\":{\"state\":\"active\"},\"matchers\":[],\"startsAt\":\"S2\",\"endsAt\":\"E2\","
	"\"createdBy\":\"ops\",\"comment\":\"no id\"},"
	" {\"id\":\"\",\"status\":{\"state\":\"active\"},\"comment\":\"empty id\"},"
	" {\"id\":\"e2\",\"status\":{\"state\":\"expired\"},\"matchers\":[],\"startsAt\":\"S3\"},"
	" {\"id\":\"p3\",\"status\":{\"state\":\"pending\"},\"matchers\":[]}]";

static char *am_print(const struct vg_cli_am_columns *how, bool is_expired, bool is_quiet)
{
	json_t *list = json_loads(am_list, 0, NULL);
	struct vg_buf out = VG_BUF_INIT;

	ck_assert_ptr_nonnull(list);
	vg_cli_am_print_list(list, how, is_expired, is_quiet, &out);
	json_decref(list);
	ck_assert(!vg_buf_failed(&out));
	return vg_buf_detach(&out, NULL);
}

START_TEST(test_am_list_silences_without_expired)
{
	char *s = am_print(&silence_columns, false, false);

	ck_assert_str_eq(s, "ID\tSTATE\tMATCHERS\tSTARTS\tENDS\tCREATED BY\tCOMMENT\n"
			    "5e1\tactive\tjob=\"node\",dev!~\"sd.\"\tS1\tE1\tops\tswap\n"
			    "p3\tpending\t\t\t\t\t\n");
	free(s);
}
END_TEST

START_TEST(test_am_list_acks_count_held_alerts)
{
	char *s = am_print(&ack_columns, false, false);

	ck_assert_str_eq(s, "ID\tSTATE\tMATCHERS\tALERTS\tSTARTS\tEXPIRES\tCREATED BY\tCOMMENT\n"
			    "5e1\tactive\tjob=\"node\",dev!~\"sd.\"\t1/2\tS1\tX1\tops\tswap\n");
	free(s);
}
END_TEST

START_TEST(test_am_list_skips_objects_without_id)
{
	char *s = am_print(&silence_columns, true, true);

	ck_assert_str_eq(s, "5e1\ne2\np3\n");
	free(s);
	s = am_print(&ack_columns, true, false);
	ck_assert_ptr_null(strstr(s, "no id"));
	ck_assert_ptr_null(strstr(s, "empty id"));
	ck_assert_ptr_null(strstr(s, "(null)"));
	ck_assert_ptr_nonnull(strstr(s, "\ne2\texpired\t\t0/0\tS3\t\t\t\n"));
	free(s);
}
END_TEST

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc;

	tc = tcase_create("time");
	tcase_add_test(tc, test_time_now);
	tcase_add_test(tc, test_time_now_minus_duration);
	tcase_add_test(tc, test_time_now_minus_seconds);
	tcase_add_test(tc, test_time_minus_duration_is_relative);
	tcase_add_test(tc, test_time_minus_number_is_unix_time);
	tcase_add_test(tc, test_time_absolute_forms);
	tcase_add_test(tc, test_time_rejects_garbage);
	tcase_add_test(tc, test_time_huge_relative_does_not_wrap);
	tcase_add_test(tc, test_step_is_range_over_250_rounded_up);
	tcase_add_test(tc, test_step_is_at_least_one_second);
	tcase_add_test(tc, test_step_extreme_range_does_not_overflow);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_add_test(tc, test_format_names);
	tcase_add_test(tc, test_csv_plain_field_unquoted);
	tcase_add_test(tc, test_csv_quotes_comma_quote_and_newlines);
	tcase_add_test(tc, test_csv_field_keeps_embedded_nul);
	tcase_add_test(tc, test_series_bare_name);
	tcase_add_test(tc, test_series_labels_sorted_name_outside);
	tcase_add_test(tc, test_series_without_name);
	tcase_add_test(tc, test_series_escapes_values);
	tcase_add_test(tc, test_series_escapes_terminal_controls);
	tcase_add_test(tc, test_series_keeps_utf8);
	tcase_add_test(tc, test_series_quotes_names_beyond_classic);
	tcase_add_test(tc, test_series_rejects_non_strings);
	suite_add_tcase(s, tc);

	tc = tcase_create("result");
	tcase_add_test(tc, test_result_vector_sorted_by_series);
	tcase_add_test(tc, test_result_matrix_keeps_point_order);
	tcase_add_test(tc, test_result_scalar_and_string);
	tcase_add_test(tc, test_result_empty);
	tcase_add_test(tc, test_result_rejects_wrong_shapes);
	tcase_add_test(tc, test_result_rejects_bad_points);
	tcase_add_test(tc, test_result_rejects_bad_metric);
	tcase_add_test(tc, test_series_list_sorted);
	tcase_add_test(tc, test_series_sorted_by_label_sets_not_text);
	tcase_add_test(tc, test_series_list_rejects_wrong_shapes);
	suite_add_tcase(s, tc);

	tc = tcase_create("render");
	tcase_add_test(tc, test_table_instant_aligned);
	tcase_add_test(tc, test_table_instant_short_values_keep_header_width);
	tcase_add_test(tc, test_table_aligns_utf8_by_characters);
	tcase_add_test(tc, test_table_value_controls_replaced);
	tcase_add_test(tc, test_table_range_blocks);
	tcase_add_test(tc, test_table_empty_prints_nothing);
	tcase_add_test(tc, test_csv_instant_and_range);
	tcase_add_test(tc, test_csv_empty_has_header);
	tcase_add_test(tc, test_series_renderers);
	tcase_add_test(tc, test_json_indents_two_spaces_in_order);
	tcase_add_test(tc, test_json_numbers_shortest_exact);
	tcase_add_test(tc, test_json_scalars_and_escapes);
	suite_add_tcase(s, tc);

	tc = tcase_create("am_list");
	tcase_add_test(tc, test_am_list_silences_without_expired);
	tcase_add_test(tc, test_am_list_acks_count_held_alerts);
	tcase_add_test(tc, test_am_list_skips_objects_without_id);
	suite_add_tcase(s, tc);

	tc = tcase_create("http");
	tcase_add_test(tc, test_encode_params_percent_encodes_everything_reserved);
	tcase_add_test(tc, test_encode_params_empty);
	tcase_add_test(tc, test_envelope_success_returns_document);
	tcase_add_test(tc, test_envelope_error_is_refusal);
	tcase_add_test(tc, test_envelope_error_on_http_200_and_422);
	tcase_add_test(tc, test_envelope_error_text_made_one_line);
	tcase_add_test(tc, test_envelope_http_error_without_envelope);
	tcase_add_test(tc, test_envelope_not_json);
	tcase_add_test(tc, test_envelope_json_but_not_api);
	tcase_add_test(tc, test_get_sends_encoded_query_and_user_agent);
	tcase_add_test(tc, test_get_long_parameters_go_as_post_form);
	tcase_add_test(tc, test_get_server_error_answer);
	tcase_add_test(tc, test_get_bad_gateway);
	tcase_add_test(tc, test_get_connection_refused);
	tcase_add_test(tc, test_get_times_out);
	tcase_add_test(tc, test_get_refuses_other_protocols);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int nf;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	sr = srunner_create(cli_suite());
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
