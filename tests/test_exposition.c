/* test_exposition.c: the Prometheus text exposition parser
 * (common/exposition.c): the format document's example, every line form,
 * values in Go's syntax, pieces split at every byte, error lines with their
 * numbers while the parse goes on, over-long lines with bounded memory,
 * extra labels, and hostile bytes. */
#include "common/buf.h"
#include "common/err.h"
#include "common/exposition.h"
#include "common/series.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a parse produced, as text, so tests compare whole results:
 *   S <line> <series> <value> <ts|->\n  per sample
 *   E <line> <reason>\n                 per error
 *   M <line> HELP|TYPE <name> <help|type>\n  per meta line */
struct result {
	struct vg_buf out;
	uint64_t samples, errors;
	int stop_after; /* on_sample returns 7 after this many samples, 0 = never */
};

static int on_sample(void *ctx, const struct vg_exposition_sample *s)
{
	struct result *r = ctx;
	char v[64];

	if (isnan(s->value))
		snprintf(v, sizeof(v), "NaN");
	else
		snprintf(v, sizeof(v), "%.17g", s->value);
	vg_buf_printf(&r->out, "S %llu ", (unsigned long long)s->line);
	vg_series_format(s->series, &r->out);
	if (s->has_timestamp)
		vg_buf_printf(&r->out, " %s %lld\n", v, (long long)s->ts_ms);
	else
		vg_buf_printf(&r->out, " %s -\n", v);
	r->samples++;
	if (r->stop_after && r->samples >= (uint64_t)r->stop_after)
		return 7;
	return 0;
}

static int on_error(void *ctx, uint64_t line, int code, const char *reason)
{
	struct result *r = ctx;

	ck_assert_int_lt(code, 0);
	ck_assert(reason[0] != '\0');
	vg_buf_printf(&r->out, "E %llu %s\n", (unsigned long long)line, reason);
	r->errors++;
	return 0;
}

static int on_meta(void *ctx, const struct vg_exposition_meta *m)
{
	struct result *r = ctx;

	vg_buf_printf(&r->out, "M %llu %s %.*s ", (unsigned long long)m->line, m->is_help ? "HELP" : "TYPE",
		      (int)m->name.len, m->name.p);
	if (m->is_help)
		vg_buf_append(&r->out, m->help.p, m->help.len);
	else
		vg_buf_puts(&r->out, vg_exposition_type_name(m->type));
	vg_buf_putc(&r->out, '\n');
	return 0;
}

static struct vg_exposition *new_parser(struct result *r, const struct vg_exposition_config *base)
{
	struct vg_exposition_config cfg = { 0 };
	struct vg_exposition *p;
	struct vg_err err;

	if (base)
		cfg = *base;
	cfg.on_sample = on_sample;
	cfg.on_error = on_error;
	cfg.on_meta = on_meta;
	cfg.ctx = r;
	ck_assert_int_eq(vg_exposition_new(&cfg, &p, &err), 0);
	return p;
}

/* Parses text fed in pieces of `piece` bytes (0: all at once). */
static char *parse_with(const char *text, size_t len, size_t piece, const struct vg_exposition_config *cfg,
			int *rc_out)
{
	struct result r = { VG_BUF_INIT, 0, 0, 0 };
	struct vg_exposition *p = new_parser(&r, cfg);
	int rc = 0;

	if (piece == 0)
		piece = len ? len : 1;
	for (size_t off = 0; off < len && rc == 0; off += piece)
		rc = vg_exposition_feed(p, text + off, len - off < piece ? len - off : piece);
	if (rc == 0)
		rc = vg_exposition_finish(p);
	if (rc_out)
		*rc_out = rc;
	vg_exposition_free(p);
	vg_buf_puts(&r.out, ""); /* an empty result is "" too, not NULL */
	return vg_buf_detach(&r.out, NULL);
}

static char *parse(const char *text)
{
	int rc;
	char *s = parse_with(text, strlen(text), 0, NULL, &rc);

	ck_assert_int_eq(rc, 0);
	return s;
}

#define ck_parse(text, want)                                                                       \
	do {                                                                                       \
		char *got_ = parse(text);                                                           \
		ck_assert_str_eq(got_, want);                                                       \
		free(got_);                                                                         \
	} while (0)

static const char example[] =
	"# HELP http_requests_total The total number of HTTP requests.\n"
	"# TYPE http_requests_total counter\n"
	"http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
	"http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
	"\n"
	"# Escaping in label values:\n"
	"msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
	"\n"
	"# Minimalistic line:\n"
	"metric_without_timestamp_and_labels 12.47\n"
	"\n"
	"# A weird metric from before the epoch:\n"
	"something_weird{problem=\"division by zero\"} +Inf -3982045\n"
	"\n"
	"# TYPE http_request_duration_seconds histogram\n"
	"http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n"
	"http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
	"http_request_duration_seconds_sum 53423\n"
	"http_request_duration_seconds_count 144320\n"
	"# TYPE rpc_duration_seconds summary\n"
	"rpc_duration_seconds{quantile=\"0.99\"} 76656\n"
	"rpc_duration_seconds_sum 1.7560473e+07\n";

static const char example_want[] =
	"M 1 HELP http_requests_total The total number of HTTP requests.\n"
	"M 2 TYPE http_requests_total counter\n"
	"S 3 http_requests_total{code=\"200\",method=\"post\"} 1027 1395066363000\n"
	"S 4 http_requests_total{code=\"400\",method=\"post\"} 3 1395066363000\n"
	"S 7 msdos_file_access_time_seconds{error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\",path=\"C:\\\\DIR\\\\FILE.TXT\"} 1458255915 -\n"
	"S 10 metric_without_timestamp_and_labels 12.470000000000001 -\n"
	"S 13 something_weird{problem=\"division by zero\"} inf -3982045\n"
	"M 15 TYPE http_request_duration_seconds histogram\n"
	"S 16 http_request_duration_seconds_bucket{le=\"0.05\"} 24054 -\n"
	"S 17 http_request_duration_seconds_bucket{le=\"+Inf\"} 144320 -\n"
	"S 18 http_request_duration_seconds_sum 53423 -\n"
	"S 19 http_request_duration_seconds_count 144320 -\n"
	"M 20 TYPE rpc_duration_seconds summary\n"
	"S 21 rpc_duration_seconds{quantile=\"0.99\"} 76656 -\n"
	"S 22 rpc_duration_seconds_sum 17560473 -\n";

START_TEST(test_format_document_example)
{
	ck_parse(example, example_want);
}
END_TEST

/* Whatever the piece boundaries, the result is the same. */
START_TEST(test_pieces_of_every_size_give_the_same_result)
{
	for (size_t piece = 1; piece <= 80; piece++) {
		int rc;
		char *got = parse_with(example, strlen(example), piece, NULL, &rc);
		ck_assert_int_eq(rc, 0);
		ck_assert_msg(strcmp(got, example_want) == 0, "piece %zu:\n%s", piece, got);
		free(got);
	}
}
END_TEST

START_TEST(test_unescaped_values_reach_the_series)
{
	/* The series (not its printed form) holds the unescaped bytes. */
	struct result r = { VG_BUF_INIT, 0, 0, 0 };
	struct vg_exposition *p = new_parser(&r, NULL);
	const char *line = "m{a=\"x\\\\y\\\"z\\nw\\t\"} 1\n";

	ck_assert_int_eq(vg_exposition_feed(p, line, strlen(line)), 0);
	vg_exposition_free(p);
	/* \t is not an escape: kept as backslash + t. Printed form escapes
	 * the backslash again. */
	ck_assert_str_eq(vg_buf_cstr(&r.out), "S 1 m{a=\"x\\\\y\\\"z\\nw\\\\t\"} 1 -\n");
	vg_buf_release(&r.out);
}
END_TEST

START_TEST(test_crlf_blanks_tabs_and_comments)
{
	ck_parse("a 1\r\nb 2 \t \r\n\t c \t 3 \t 4 \r\n\r\n   \n#comment\n  # another\n#\n",
		 "S 1 a 1 -\nS 2 b 2 -\nS 3 c 3 4\n");
	/* Blanks inside braces, a trailing comma, an empty set. */
	ck_parse("m { a = \"1\" , b=\"2\", } 5\nn{} 6\no{a=\"1\",} 7\np{a=\"x\"}8\n",
		 "S 1 m{a=\"1\",b=\"2\"} 5 -\nS 2 n 6 -\nS 3 o{a=\"1\"} 7 -\nS 4 p{a=\"x\"} 8 -\n");
	/* An empty label value is the label being absent; labels sorted. */
	ck_parse("m{z=\"1\",e=\"\",a=\"2\"} 1\n", "S 1 m{a=\"2\",z=\"1\"} 1 -\n");
	/* A colon is allowed in metric names; "# HELPER" is a plain comment. */
	ck_parse("job:rate:sum 1\n# HELPER x\n# TYPEX y\n", "S 1 job:rate:sum 1 -\n");
	/* A last line without a newline is a line. */
	ck_parse("a 1\nb 2", "S 1 a 1 -\nS 2 b 2 -\n");
}
END_TEST

START_TEST(test_help_and_type_lines)
{
	ck_parse("# HELP m a \\\\ b \\n c \\x\n# HELP n\n#  TYPE   m   gauge\n# TYPE u untyped\n",
		 "M 1 HELP m a \\ b \n c \\x\nM 2 HELP n \nM 3 TYPE m gauge\nM 4 TYPE u untyped\n");
	ck_parse("# TYPE m bogus\n# TYPE 1m counter\n# HELP\n# TYPE m.x gauge\nm 1\n",
		 "E 1 unknown metric type \"bogus\" in # TYPE m\n"
		 "E 2 missing or invalid metric name \"1m\" in # TYPE\n"
		 "E 3 missing or invalid metric name end of line in # HELP\n"
		 "E 4 missing or invalid metric name \"m.x\" in # TYPE\n"
		 "S 5 m 1 -\n");
	ck_parse("# TYPE m counter\n# TYPE m gauge\n", "M 1 TYPE m counter\nE 2 second # TYPE line for m\n");
}
END_TEST

START_TEST(test_values_in_go_syntax)
{
	static const struct {
		const char *s;
		double v;
	} good[] = {
		{ "0", 0 }, { "-0", -0.0 }, { "1", 1 }, { "+1", 1 }, { "-1.5", -1.5 }, { ".5", 0.5 },
		{ "5.", 5 }, { "1e3", 1000 }, { "1E-3", 0.001 }, { "1.7560473e+07", 17560473 },
		{ "0.1", 0.1 }, { "123456789012345678901234567890", 123456789012345678901234567890.0 },
		{ "9007199254740993", 9007199254740993.0 }, { "1e-320", 1e-320 }, { "1e308", 1e308 },
		{ "0.000000000000000000000000000001", 1e-30 }, { "0e999999999", 0 },
		{ "2.2250738585072011e-308", 2.2250738585072011e-308 },
		{ "+Inf", INFINITY }, { "-Inf", -INFINITY }, { "Inf", INFINITY }, { "inf", INFINITY },
		{ "INFINITY", INFINITY }, { "-infinity", -INFINITY },
	};
	static const char *bad[] = {
		"", "+", "-", ".", "e5", "1e", "1e+", "0x10", "0x1p3", "1_000", "1p3", "1.2.3", "--1",
		"+-1", "1e5.5", "+NaN", "-nan", "nanx", "infin", "infinityx", "1,5", "1e400", "-1e400",
		"Ox1", "1 ", " 1", "true",
	};
	double v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(vg_exposition_parse_value(good[i].s, strlen(good[i].s), &v) == 0, "%s", good[i].s);
		ck_assert_msg(v == good[i].v && signbit(v) == signbit(good[i].v), "%s -> %.17g", good[i].s, v);
	}
	ck_assert_int_eq(vg_exposition_parse_value("NaN", 3, &v), 0);
	ck_assert(isnan(v));
	ck_assert_int_eq(vg_exposition_parse_value("nAn", 3, &v), 0);
	ck_assert(isnan(v));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(vg_exposition_parse_value(bad[i], strlen(bad[i]), &v) == VG_EINVAL, "%s", bad[i]);
	/* Not NUL-terminated: only len bytes count. */
	ck_assert_int_eq(vg_exposition_parse_value("12x", 2, &v), 0);
	ck_assert(v == 12);
	/* A value longer than the stack copy still parses. */
	char longv[400];
	memset(longv, '0', sizeof(longv));
	longv[0] = '1';
	longv[1] = '.';
	ck_assert_int_eq(vg_exposition_parse_value(longv, sizeof(longv), &v), 0);
	ck_assert(v == 1);
}
END_TEST

START_TEST(test_timestamps)
{
	ck_parse("a 1 -1\nb 1 +5\nc 1 9223372036854775807\nd 1 -9223372036854775808\n",
		 "S 1 a 1 -1\nS 2 b 1 5\nS 3 c 1 9223372036854775807\nS 4 d 1 -9223372036854775808\n");
	ck_parse("a 1 9223372036854775808\nb 1 1.5\nc 1 1e3\nd 1 -\ne 1 99999999999999999999999\n",
		 "E 1 timestamp \"9223372036854775808\" is out of the int64 range\n"
		 "E 2 invalid timestamp \"1.5\" (integer milliseconds expected)\n"
		 "E 3 invalid timestamp \"1e3\" (integer milliseconds expected)\n"
		 "E 4 invalid timestamp \"-\" (integer milliseconds expected)\n"
		 "E 5 timestamp \"99999999999999999999999\" is out of the int64 range\n");
}
END_TEST

/* Each bad line is reported with its number; the lines around it parse. */
START_TEST(test_malformed_lines_reported_and_parse_goes_on)
{
	ck_parse("ok 1\n"
		 "1bad 1\n"
		 "m{a=\"1\" 1\n"
		 "m{a=1} 1\n"
		 "m{a} 1\n"
		 "m{=\"x\"} 1\n"
		 "m{a=\"x\"b=\"y\"} 1\n"
		 "m{a=\"unterminated} 1\n"
		 "m{a=\"x\\\n"
		 "m\n"
		 "m{a=\"x\"}\n"
		 "m 1 2 3\n"
		 "m abc\n"
		 "m-x 1\n"
		 "{a=\"x\"} 1\n"
		 "{\"quoted.name\"} 1\n"
		 "m{\"quoted\"=\"x\"} 1\n"
		 "m{a=\"1\",a=\"2\"} 1\n"
		 "m{__name__=\"x\"} 1\n"
		 "m{1a=\"x\"} 1\n"
		 "m{a:b=\"x\"} 1\n"
		 "ok 2\n",
		 "S 1 ok 1 -\n"
		 "E 2 expected a metric name, found \"1bad 1\"\n"
		 "E 3 expected ',' or '}' after a label, found \"1\"\n"
		 "E 4 expected '\"' to open the value of label \"a\", found \"1} 1\"\n"
		 "E 5 expected '=' after label name \"a\", found \"} 1\"\n"
		 "E 6 expected a label name or '}', found \"=\\x22x\\x22} 1\"\n"
		 "E 7 expected ',' or '}' after a label, found \"b=\\x22y\\x22} 1\"\n"
		 "E 8 label value has no closing quote\n"
		 "E 9 label value has no closing quote\n"
		 "E 10 no value after m\n"
		 "E 11 no value after m\n"
		 "E 12 unexpected \"3\" after the timestamp\n"
		 "E 13 invalid value \"abc\"\n"
		 "E 14 unexpected \"-x 1\" after the metric name\n"
		 "E 15 expected a metric name, found \"{a=\\x22x\\x22} 1\"\n"
		 "E 16 quoted metric names are not supported\n"
		 "E 17 quoted label names are not supported\n"
		 "E 18 label \"a\" appears twice\n"
		 "E 19 label name \"__name__\" is reserved (starts with __)\n"
		 "E 20 expected a label name or '}', found \"1a=\\x22x\\x22} 1\"\n"
		 "E 21 expected '=' after label name \"a\", found \":b=\\x22x\\x22} 1\"\n"
		 "S 22 ok 2 -\n");
}
END_TEST

START_TEST(test_hostile_bytes)
{
	/* NUL bytes, invalid UTF-8, control characters: errors, never a crash. */
	static const char in[] = "m\0x 1\nm{a=\"\xff\xfe\"} 1\nm{a=\"ok\x01\"} 1\n\x01\x02 3\nm 1\0\n";
	int rc;
	char *got = parse_with(in, sizeof(in) - 1, 0, NULL, &rc);

	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(got, "E 1 unexpected \"\\x00x 1\" after the metric name\n"
			      "E 2 value of label \"a\" is not valid UTF-8\n"
			      "S 3 m{a=\"ok\x01\"} 1 -\n" /* control bytes are valid UTF-8 */
			      "E 4 expected a metric name, found \"\\x01\\x02 3\"\n"
			      "E 5 invalid value \"1\"\n");
	free(got);

	/* 65 labels: over the series limit. */
	struct vg_buf b = VG_BUF_INIT;
	vg_buf_puts(&b, "m{");
	for (int i = 0; i <= VG_SERIES_MAX_LABELS; i++)
		vg_buf_printf(&b, "l%d=\"v\",", i);
	vg_buf_puts(&b, "} 1\nn 2\n");
	got = parse(vg_buf_cstr(&b));
	ck_assert_str_eq(got, "E 1 more than 64 labels\nS 2 n 2 -\n");
	free(got);

	/* A metric name longer than the limit. */
	vg_buf_reset(&b);
	for (int i = 0; i < VG_SERIES_MAX_NAME + 1; i++)
		vg_buf_putc(&b, 'a');
	vg_buf_puts(&b, " 1\n");
	got = parse(vg_buf_cstr(&b));
	ck_assert(strncmp(got, "E 1 invalid metric name", 23) == 0);
	free(got);
	vg_buf_release(&b);
}
END_TEST

/* A line over the bound is rejected whole, in whatever pieces it comes,
 * and the next line parses; the parser never holds more than the bound. */
START_TEST(test_overlong_line_rejected_memory_bounded)
{
	struct vg_exposition_config cfg = { .max_line_bytes = 1024 };
	struct result r = { VG_BUF_INIT, 0, 0, 0 };
	struct vg_exposition *p = new_parser(&r, &cfg);
	char piece[4096];

	memset(piece, 'a', sizeof(piece));
	ck_assert_int_eq(vg_exposition_feed(p, "ok 1\nm{a=\"", 10), 0);
	/* 64 MiB of one line: the parser must not buffer it. */
	for (int i = 0; i < 16384; i++)
		ck_assert_int_eq(vg_exposition_feed(p, piece, sizeof(piece)), 0);
	ck_assert_int_eq(vg_exposition_feed(p, "\"} 1\nok 2\n", 10), 0);
	/* Exactly at the bound: accepted. */
	char exact[1025];
	memset(exact, 'b', sizeof(exact));
	memcpy(exact, "m{a=\"", 5);
	memcpy(exact + 1025 - 5, "\"} 1\n", 5);
	ck_assert_int_eq(vg_exposition_feed(p, exact, 1025), 0);
	/* One over, in one piece with its newline. */
	char over[1026];
	memset(over, 'c', sizeof(over));
	memcpy(over, "m{a=\"", 5);
	memcpy(over + 1026 - 5, "\"} 1\n", 5);
	ck_assert_int_eq(vg_exposition_feed(p, over, 1026), 0);
	ck_assert_int_eq(vg_exposition_feed(p, "ok 3", 4), 0);
	ck_assert_int_eq(vg_exposition_finish(p), 0);
	ck_assert_uint_eq(vg_exposition_stats(p)->errors, 2);
	ck_assert_uint_eq(vg_exposition_stats(p)->samples, 4);
	ck_assert_uint_eq(vg_exposition_stats(p)->lines, 6);
	vg_exposition_free(p);
	ck_assert(strstr(vg_buf_cstr(&r.out), "S 1 ok 1 -\nE 2 line longer than 1024 bytes\nS 3 ok 2 -\nS 4 m{a=\"bbb") != NULL);
	ck_assert(strstr(vg_buf_cstr(&r.out), "E 5 line longer than 1024 bytes\nS 6 ok 3 -\n") != NULL);
	vg_buf_release(&r.out);
}
END_TEST

START_TEST(test_final_newline_required_when_asked)
{
	struct vg_exposition_config cfg = { .needs_final_newline = true };
	int rc;
	char *got = parse_with("a 1\nb 2", 7, 3, &cfg, &rc);

	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(got, "S 1 a 1 -\nE 2 last line has no newline (truncated?)\n");
	free(got);
	got = parse_with("a 1\n", 4, 0, &cfg, &rc);
	ck_assert_str_eq(got, "S 1 a 1 -\n");
	free(got);
}
END_TEST

START_TEST(test_callback_stops_the_parse)
{
	struct result r = { VG_BUF_INIT, 0, 0, 2 };
	struct vg_exposition *p = new_parser(&r, NULL);

	ck_assert_int_eq(vg_exposition_feed(p, "a 1\nb 2\nc 3\n", 12), 7);
	ck_assert_int_eq(vg_exposition_feed(p, "d 4\n", 4), 7);
	ck_assert_int_eq(vg_exposition_finish(p), 7);
	ck_assert_uint_eq(r.samples, 2);
	vg_exposition_free(p);
	vg_buf_release(&r.out);
}
END_TEST

static int stop_on_error(void *ctx, uint64_t line, int code, const char *reason)
{
	(void)ctx;
	(void)line;
	(void)code;
	(void)reason;
	return 9;
}

START_TEST(test_error_callback_stops_the_parse)
{
	struct result r = { VG_BUF_INIT, 0, 0, 0 };
	struct vg_exposition_config cfg = { 0 };
	struct vg_exposition *p;

	cfg.on_sample = on_sample;
	cfg.on_error = stop_on_error;
	cfg.ctx = &r;
	ck_assert_int_eq(vg_exposition_new(&cfg, &p, NULL), 0);
	ck_assert_int_eq(vg_exposition_feed(p, "a 1\nm{a=1} 2\nc 3\n", 17), 9);
	ck_assert_uint_eq(r.samples, 1);
	vg_exposition_free(p);
	vg_buf_release(&r.out);
}
END_TEST

START_TEST(test_extra_labels_add_and_replace)
{
	struct vg_label extra[2] = {
		{ vg_str_c("job"), vg_str_c("import") },
		{ vg_str_c("a"), vg_str_c("") },
	};
	struct vg_exposition_config cfg = { .extra_labels = extra, .n_extra_labels = 2 };
	int rc;
	char *got = parse_with("m{a=\"1\",job=\"x\",z=\"2\"} 1\nn 2\n", 29, 0, &cfg, &rc);

	ck_assert_str_eq(got, "S 1 m{job=\"import\",z=\"2\"} 1 -\nS 2 n{job=\"import\"} 2 -\n");
	free(got);

	struct vg_label bad = { vg_str_c("__name__"), vg_str_c("x") };
	struct vg_exposition *p;
	struct vg_err err;
	cfg.extra_labels = &bad;
	cfg.n_extra_labels = 1;
	cfg.on_sample = on_sample;
	ck_assert_int_eq(vg_exposition_new(&cfg, &p, &err), VG_EINVAL);
	ck_assert(strstr(err.msg, "__name__") != NULL);
	cfg.on_sample = NULL;
	cfg.n_extra_labels = 0;
	ck_assert_int_eq(vg_exposition_new(&cfg, &p, &err), VG_EINVAL);
}
END_TEST

static Suite *exposition_suite(void)
{
	Suite *s = suite_create("exposition");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_format_document_example);
	tcase_add_test(tc, test_pieces_of_every_size_give_the_same_result);
	tcase_add_test(tc, test_unescaped_values_reach_the_series);
	tcase_add_test(tc, test_crlf_blanks_tabs_and_comments);
	tcase_add_test(tc, test_help_and_type_lines);
	tcase_add_test(tc, test_values_in_go_syntax);
	tcase_add_test(tc, test_timestamps);
	tcase_add_test(tc, test_malformed_lines_reported_and_parse_goes_on);
	tcase_add_test(tc, test_hostile_bytes);
	tcase_add_test(tc, test_overlong_line_rejected_memory_bounded);
	tcase_add_test(tc, test_final_newline_required_when_asked);
	tcase_add_test(tc, test_callback_stops_the_parse);
	tcase_add_test(tc, test_error_callback_stops_the_parse);
	tcase_add_test(tc, test_extra_labels_add_and_replace);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(exposition_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
