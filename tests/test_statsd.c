/*
 * test_statsd.c: the StatsD parser (agent/collect/statsd.c) on every line form of
 * the interfaces file and on malformed lines; the aggregate
 * (agent/aggregate.c): counters with rates, gauge deltas, histogram
 * buckets, sets, fast gauges, the series limit under a flood, the state
 * file; and real processes: StatsD over UDP into a real agent, read back
 * from a real receiver, from our own sender and from Debian's
 * python3-statsd client; and the outage: the receiver stopped while
 * counts arrive, the agent killed with SIGKILL during it and restarted,
 * every count stored exactly once; and SIGHUP moving the listener to a
 * new port, its totals going on.
 */
#include "tests/harness.h"
#include "agent/aggregate.h"
#include "agent/collect/collect.h"
#include "agent/collect/statsd.h"
#include "agent/collect/statsd_listen.h"
#include "common/err.h"
#include "common/buf.h"
#include "common/series.h"

#include <arpa/inet.h>
#include <check.h>
#include <event2/event.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* --- parser ---------------------------------------------------------------- */

static struct vg_statsd_line L;

static enum vg_statsd_reason parse(const char *s)
{
	return vg_statsd_parse_line(s, strlen(s), &L);
}

static bool name_is(const char *s)
{
	return vg_str_eq_c(L.name, s);
}

static const char *tag(const char *key)
{
	static char v[256];

	for (uint32_t i = 0; i < L.n_tags; i++)
		if (vg_str_eq_c(L.tags[i].name, key)) {
			snprintf(v, sizeof(v), "%.*s", (int)L.tags[i].value.len, L.tags[i].value.p);
			return v;
		}
	return NULL;
}

START_TEST(test_parse_every_example_of_the_interfaces_file)
{
	ck_assert_int_eq(parse("gorets:1|c"), VG_STATSD_OK);
	ck_assert(name_is("gorets"));
	ck_assert_uint_eq(L.n_samples, 1);
	ck_assert_int_eq(L.samples[0].type, VG_STATSD_COUNTER);
	ck_assert(L.samples[0].value == 1 && L.samples[0].rate == 1);

	ck_assert_int_eq(parse("gorets:1|c|@0.1"), VG_STATSD_OK);
	ck_assert(L.samples[0].rate == 0.1);

	ck_assert_int_eq(parse("glork:320|ms|@0.1"), VG_STATSD_OK);
	ck_assert_int_eq(L.samples[0].type, VG_STATSD_TIMER);
	ck_assert(L.samples[0].value == 320 && L.samples[0].rate == 0.1);

	ck_assert_int_eq(parse("gaugor:333|g"), VG_STATSD_OK);
	ck_assert(L.samples[0].type == VG_STATSD_GAUGE && !L.samples[0].is_delta && L.samples[0].value == 333);
	ck_assert_int_eq(parse("gaugor:-10|g"), VG_STATSD_OK);
	ck_assert(L.samples[0].is_delta && L.samples[0].value == -10);
	ck_assert_int_eq(parse("gaugor:+4|g"), VG_STATSD_OK);
	ck_assert(L.samples[0].is_delta && L.samples[0].value == 4);

	ck_assert_int_eq(parse("uniques:765|s"), VG_STATSD_OK);
	ck_assert_int_eq(L.samples[0].type, VG_STATSD_SET);
	ck_assert(vg_str_eq_c(L.samples[0].text, "765"));

	ck_assert_int_eq(parse("users.online:1|c|@0.5|#country:china,env:prod"), VG_STATSD_OK);
	ck_assert(name_is("users_online"));
	ck_assert(L.samples[0].rate == 0.5);
	ck_assert_uint_eq(L.n_tags, 2);
	ck_assert_str_eq(tag("country"), "china");
	ck_assert_str_eq(tag("env"), "prod");

	ck_assert_int_eq(parse("song.length:240|h|@0.5"), VG_STATSD_OK);
	ck_assert(name_is("song_length") && L.samples[0].type == VG_STATSD_HISTOGRAM);

	ck_assert_int_eq(parse("x:7|d"), VG_STATSD_OK);
	ck_assert_int_eq(L.samples[0].type, VG_STATSD_DISTRIBUTION);
}
END_TEST

START_TEST(test_parse_multi_value_forms)
{
	/* Etsy: one piece per sample, each with its own type and rate */
	ck_assert_int_eq(parse("gorets:1|c:2|c|@0.5"), VG_STATSD_OK);
	ck_assert_uint_eq(L.n_samples, 2);
	ck_assert(L.samples[0].value == 1 && L.samples[0].rate == 1);
	ck_assert(L.samples[1].value == 2 && L.samples[1].rate == 0.5);
	/* DogStatsD v1.1: packed values share type, rate and tags */
	ck_assert_int_eq(parse("name:1.5:20:30|h|#t1,k:v"), VG_STATSD_OK);
	ck_assert_uint_eq(L.n_samples, 3);
	ck_assert(L.samples[0].value == 1.5 && L.samples[2].value == 30);
	ck_assert_uint_eq(L.n_tags, 1); /* the bare tag t1 is ignored */
	ck_assert_str_eq(tag("k"), "v");
	ck_assert_int_eq(parse("g:1:2|g"), VG_STATSD_OK);
	ck_assert_uint_eq(L.n_samples, 2);
	/* ... but not for sets */
	ck_assert_int_eq(parse("u:a:b|s"), VG_STATSD_MALFORMED_VALUE);
}
END_TEST

START_TEST(test_parse_dogstatsd_extras_and_tag_dialects)
{
	ck_assert_int_eq(parse("a:1|c|#k:v|c:abc123|T1700000000"), VG_STATSD_OK);
	ck_assert_str_eq(tag("k"), "v");
	ck_assert_int_eq(parse("a:1|c|c:abc|@0.25"), VG_STATSD_OK);
	ck_assert(L.samples[0].rate == 0.25);
	ck_assert_int_eq(parse("a:1|c|#k:v|@0.5"), VG_STATSD_OK); /* extras in any order */
	ck_assert(L.samples[0].rate == 0.5);
	/* events and service checks are not metrics: skipped, not bad */
	ck_assert_int_eq(parse("_e{5,4}:title|text|#k:v"), VG_STATSD_OK);
	ck_assert_uint_eq(L.n_samples, 0);
	ck_assert_int_eq(parse("_sc|my.check|0|#k:v"), VG_STATSD_OK);
	ck_assert_uint_eq(L.n_samples, 0);
	/* Librato, InfluxDB, SignalFX */
	ck_assert_int_eq(parse("lib.name#k=v,k2=v2:1|c"), VG_STATSD_OK);
	ck_assert(name_is("lib_name"));
	ck_assert_str_eq(tag("k2"), "v2");
	ck_assert_int_eq(parse("inf.name,k=v,k2=v2:1|c"), VG_STATSD_OK);
	ck_assert(name_is("inf_name"));
	ck_assert_str_eq(tag("k"), "v");
	ck_assert_int_eq(parse("sfx.name[k=v,k2=v2]:1|c"), VG_STATSD_OK);
	ck_assert(name_is("sfx_name"));
	ck_assert_str_eq(tag("k2"), "v2");
	ck_assert_int_eq(parse("a#k=v:1|c|#k2:v2"), VG_STATSD_MIXED_TAGGING_STYLES);
	ck_assert_int_eq(parse("a,k=v[x=y]:1|c"), VG_STATSD_MIXED_TAGGING_STYLES);
	/* one trailing \r is stripped (the interfaces file's advice) */
	ck_assert_int_eq(parse("a:1|c\r"), VG_STATSD_OK);
	ck_assert_int_eq(L.samples[0].type, VG_STATSD_COUNTER);
	/* rate 0 counts as 1, as the exporter reads it */
	ck_assert_int_eq(parse("a:1|c|@0"), VG_STATSD_OK);
	ck_assert(L.samples[0].rate == 1);
}
END_TEST

START_TEST(test_name_mapping_as_statsd_exporter)
{
	ck_assert_int_eq(parse("my-app.http/requests:1|c"), VG_STATSD_OK);
	ck_assert(name_is("my_app_http_requests"));
	ck_assert_int_eq(parse("5xx.errors:1|c"), VG_STATSD_OK);
	ck_assert(name_is("_5xx_errors"));
	ck_assert_int_eq(parse("caf\xc3\xa9.hits:1|c"), VG_STATSD_OK); /* one '_' per character */
	ck_assert(name_is("caf__hits"));
	ck_assert_int_eq(parse("a:1|c|#host.name:x,le:0.5,instance:i,__x:y"), VG_STATSD_OK);
	ck_assert_str_eq(tag("host_name"), "x");
	ck_assert_str_eq(tag("exported_le"), "0.5");
	ck_assert_str_eq(tag("exported_instance"), "i");
	ck_assert_str_eq(tag("exported___x"), "y");
	ck_assert_int_eq(parse("a:1|ms|#quantile:0.5"), VG_STATSD_OK);
	ck_assert_str_eq(tag("exported_quantile"), "0.5");
}
END_TEST

/* The parser reads short decimals without strtod: every one must be
 * the double strtod gives, to the bit. */
START_TEST(test_numbers_are_what_strtod_reads)
{
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	char num[48], line[64];

	for (int i = 0; i < 200000; i++) {
		int digits, point;
		size_t o = 0;
		double want;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		digits = 1 + (int)(x % 17); /* 16 and 17 digits take the slow path */
		point = (int)((x >> 8) % (uint64_t)(digits + 2)) - 1; /* -1: no point */
		if ((x >> 16) & 1)
			num[o++] = (x >> 17) & 1 ? '-' : '+';
		for (int d = 0; d < digits; d++) {
			if (d == point)
				num[o++] = '.';
			num[o++] = (char)('0' + (x >> (20 + 2 * (d % 20))) % 10);
		}
		if (point == digits)
			num[o++] = '.';
		num[o] = '\0';
		snprintf(line, sizeof(line), "n:%s|g", num);
		ck_assert_int_eq(parse(line), VG_STATSD_OK);
		want = strtod(num, NULL);
		ck_assert_msg(memcmp(&want, &L.samples[0].value, sizeof(want)) == 0, "%s: %.17g, strtod %.17g", num,
			      L.samples[0].value, want);
	}
	ck_assert_int_eq(parse("n:-0|g"), VG_STATSD_OK);
	ck_assert(L.samples[0].value == 0 && signbit(L.samples[0].value));
	ck_assert_int_eq(parse("n:0.1|c|@0.1"), VG_STATSD_OK);
	ck_assert(L.samples[0].value == 0.1 && L.samples[0].rate == 0.1);
	ck_assert_int_eq(parse("n:123456789012345678|c"), VG_STATSD_OK);
	ck_assert(L.samples[0].value == 123456789012345678.0);
	ck_assert_int_eq(parse("n:1.5e3|ms"), VG_STATSD_OK);
	ck_assert(L.samples[0].value == 1500);
}
END_TEST

START_TEST(test_malformed_lines_get_their_reason)
{
	static const struct {
		const char *line;
		enum vg_statsd_reason r;
	} cases[] = {
		{ "no colon", VG_STATSD_MALFORMED_LINE },
		{ ":1|c", VG_STATSD_MALFORMED_LINE },
		{ "bad\xff:1|c", VG_STATSD_MALFORMED_LINE },
		{ "a:1", VG_STATSD_NOT_ENOUGH_PARTS },
		{ "a:1|", VG_STATSD_NOT_ENOUGH_PARTS },
		{ "a:1|x", VG_STATSD_BAD_TYPE },
		{ "a:1|msx", VG_STATSD_BAD_TYPE },
		{ "a:|c", VG_STATSD_MALFORMED_VALUE },
		{ "a:abc|c", VG_STATSD_MALFORMED_VALUE },
		{ "a:1.2.3|g", VG_STATSD_MALFORMED_VALUE },
		{ "a:nan|g", VG_STATSD_MALFORMED_VALUE },
		{ "a:1e999|g", VG_STATSD_MALFORMED_VALUE },
		{ "a:-5|ms", VG_STATSD_MALFORMED_VALUE },
		{ "a:|s", VG_STATSD_MALFORMED_VALUE },
		{ "a:-1|c", VG_STATSD_NEGATIVE_COUNTER },
		{ "a:1|c|@", VG_STATSD_INVALID_SAMPLE_FACTOR },
		{ "a:1|c|@x", VG_STATSD_INVALID_SAMPLE_FACTOR },
		{ "a:1|c|@-0.5", VG_STATSD_INVALID_SAMPLE_FACTOR },
		{ "a:1|c|zz", VG_STATSD_MALFORMED_COMPONENT },
		{ "a:1|c|", VG_STATSD_MALFORMED_COMPONENT },
		{ "a:1|c|Tabc", VG_STATSD_MALFORMED_COMPONENT },
		{ "a:1|c|c:", VG_STATSD_MALFORMED_CONTAINER_ID },
		{ "a:1|c|#:v", VG_STATSD_MALFORMED_TAG },
		{ "a[k=v:1|c", VG_STATSD_MALFORMED_TAG },
	};
	char buf[VG_STATSD_MAX_LINE + 64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(parse(cases[i].line) == cases[i].r, "\"%s\": got %s, want %s", cases[i].line,
			      vg_statsd_reason_name(parse(cases[i].line)), vg_statsd_reason_name(cases[i].r));
	memset(buf, 'a', sizeof(buf));
	memcpy(buf + VG_STATSD_MAX_LINE, ":1|c", 5);
	ck_assert_int_eq(parse(buf), VG_STATSD_TOO_LONG);
	memset(buf, 'a', 300);
	memcpy(buf + 300, ":1|c", 5);
	ck_assert_int_eq(parse(buf), VG_STATSD_TOO_LONG); /* a name beyond VG_STATSD_MAX_NAME */
	/* a tag key that "exported_" makes longer than a label name may be
	 * (found by fuzz_statsd) */
	memcpy(buf, "a:1|c|#__", 9);
	memset(buf + 9, 'k', 250);
	memcpy(buf + 259, ":v", 3);
	ck_assert_int_eq(parse(buf), VG_STATSD_TOO_LONG);
	{
		struct vg_buf b = VG_BUF_INIT;
		vg_buf_puts(&b, "a:1|c|#");
		for (int i = 0; i < VG_STATSD_MAX_TAGS + 1; i++)
			vg_buf_printf(&b, "%sk%d:v", i ? "," : "", i);
		ck_assert_int_eq(parse(vg_buf_cstr(&b)), VG_STATSD_TOO_MANY_TAGS);
		vg_buf_reset(&b);
		vg_buf_puts(&b, "a:1");
		for (int i = 0; i < VG_STATSD_MAX_VALUES; i++)
			vg_buf_puts(&b, ":1");
		vg_buf_puts(&b, "|h");
		ck_assert_int_eq(parse(vg_buf_cstr(&b)), VG_STATSD_TOO_MANY_VALUES);
		vg_buf_release(&b);
	}
}
END_TEST

struct got {
	int n;
	char names[16][64];
};

static void got_cb(void *ctx, const struct vg_statsd_line *l)
{
	struct got *g = ctx;

	if (g->n < 16)
		snprintf(g->names[g->n++], 64, "%.*s", (int)l->name.len, l->name.p);
}

START_TEST(test_bad_lines_are_counted_and_the_rest_of_the_packet_taken)
{
	static const char pkt[] = "good.one:1|c\nno colon\n\na:1|x\r\ngood.two:2|g\r\n_e{1,1}:a|b\nlast:3|ms";
	struct vg_statsd_counts c;
	struct got g = { 0 };

	memset(&c, 0, sizeof(c));
	vg_statsd_parse_packet(pkt, sizeof(pkt) - 1, &L, got_cb, &g, &c);
	ck_assert_int_eq(g.n, 3);
	ck_assert_str_eq(g.names[0], "good_one");
	ck_assert_str_eq(g.names[1], "good_two");
	ck_assert_str_eq(g.names[2], "last");
	ck_assert_uint_eq(c.lines, 3);
	ck_assert_uint_eq(c.ignored, 1);
	ck_assert_uint_eq(c.bad[VG_STATSD_MALFORMED_LINE], 1);
	ck_assert_uint_eq(c.bad[VG_STATSD_BAD_TYPE], 1);
}
END_TEST

/* --- aggregate --------------------------------------------------------------- */

struct flushed {
	size_t n;
	char text[4096][160];
	double v[4096];
};

static int flushed_add(void *arg, struct vg_series *s, double value)
{
	struct flushed *f = arg;
	struct vg_buf b = VG_BUF_INIT;

	ck_assert_int_eq(vg_series_canonicalize(s, NULL), 0);
	vg_series_format(s, &b);
	if (f->n < 4096) {
		snprintf(f->text[f->n], sizeof(f->text[0]), "%s", vg_buf_cstr(&b));
		f->v[f->n++] = value;
	}
	vg_buf_release(&b);
	return 0;
}

static double value_of(const struct flushed *f, const char *text)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->text[i], text) == 0)
			return f->v[i];
	return NAN;
}

static struct flushed F;

static void flush(struct vg_aggregate *a)
{
	struct vg_sample_sink sink = { flushed_add, &F };

	F.n = 0;
	ck_assert_int_eq(vg_aggregate_flush(a, &sink), 0);
}

static void feed(struct vg_aggregate *a, const char *pkt)
{
	struct vg_statsd_counts c;

	memset(&c, 0, sizeof(c));
	vg_statsd_parse_packet(pkt, strlen(pkt), &L, vg_aggregate_line_cb, a, &c);
	ck_assert_msg(c.lines > 0, "nothing parsed in %s", pkt);
}

static struct vg_aggregate *agg_new(uint64_t max_series, const char *state)
{
	static const char *const fast[] = { "fast_q" };
	struct vg_aggregate_options o = { .max_series = max_series, .fast_gauges = fast, .n_fast_gauges = 1,
					  .state_path = state };
	struct vg_aggregate *a;

	ck_assert_int_eq(vg_aggregate_new(&o, &a, NULL), 0);
	return a;
}

START_TEST(test_aggregate_every_kind)
{
	struct vg_aggregate *a = agg_new(100, NULL);

	feed(a, "hits:1|c\nhits:2|c|@0.5\nhits_total:2|c\ndone_total:3|c\nq:5|g\nq:+3|g\nq:-1|g\nnew:-4|g\n"
		"lat:120|ms\nlat:3000|ms|@0.5\nsize:7|h\nsize:70|d\nu:a|s\nu:b|s\nu:a|s\nhits:1|g");
	flush(a);
	ck_assert(value_of(&F, "hits_total") == 7);   /* 1 + 2/0.5, + 2 as hits_total: one counter */
	ck_assert(value_of(&F, "done_total") == 3); /* no doubled suffix */
	ck_assert(isnan(value_of(&F, "done_total_total")));
	ck_assert(value_of(&F, "q") == 7);
	ck_assert(value_of(&F, "new") == -4);         /* a sign on a new gauge sets it */
	ck_assert(value_of(&F, "lat_count") == 3);    /* 1 + 1/0.5 */
	ck_assert(fabs(value_of(&F, "lat_sum") - (0.12 + 2 * 3.0)) < 1e-9);
	ck_assert(value_of(&F, "lat_bucket{le=\"0.1\"}") == 0);
	ck_assert(value_of(&F, "lat_bucket{le=\"0.25\"}") == 1);
	ck_assert(value_of(&F, "lat_bucket{le=\"2.5\"}") == 1);
	ck_assert(value_of(&F, "lat_bucket{le=\"5\"}") == 3);
	ck_assert(value_of(&F, "lat_bucket{le=\"+Inf\"}") == 3);
	ck_assert(value_of(&F, "lat_min") == 0.12 && value_of(&F, "lat_max") == 3);
	ck_assert(value_of(&F, "size_count") == 2);   /* h and d: one kind, no unit */
	ck_assert(value_of(&F, "size_bucket{le=\"10\"}") == 1);
	ck_assert(value_of(&F, "u") == 2);
	{
		struct vg_aggregate_stats st;
		vg_aggregate_get_stats(a, &st);
		ck_assert_uint_eq(st.type_conflicts, 1); /* hits:1|g */
	}
	/* the next interval: cumulative values stay, interval ones reset */
	feed(a, "lat:10|ms\nhits:1|c");
	flush(a);
	ck_assert(value_of(&F, "hits_total") == 8);
	ck_assert(value_of(&F, "lat_count") == 4);
	ck_assert(value_of(&F, "lat_bucket{le=\"0.01\"}") == 1);
	ck_assert(value_of(&F, "lat_min") == 0.01 && value_of(&F, "lat_max") == 0.01);
	ck_assert(value_of(&F, "u") == 0);
	ck_assert(value_of(&F, "q") == 7); /* gauges keep their last value */
	flush(a);
	ck_assert(isnan(value_of(&F, "lat_min"))); /* no observation: no min */
	vg_aggregate_free(a);
}
END_TEST

START_TEST(test_fast_gauges_give_min_max_last)
{
	struct vg_aggregate *a = agg_new(100, NULL);

	feed(a, "fast.q:5|g");
	vg_aggregate_sample_fast(a);
	feed(a, "fast.q:50|g");
	vg_aggregate_sample_fast(a);
	feed(a, "fast.q:1|g");
	vg_aggregate_sample_fast(a);
	feed(a, "fast.q:9|g");
	flush(a);
	ck_assert(value_of(&F, "fast_q") == 9);
	ck_assert(value_of(&F, "fast_q_min") == 1);
	ck_assert(value_of(&F, "fast_q_max") == 50);
	vg_aggregate_sample_fast(a);
	flush(a);
	ck_assert(value_of(&F, "fast_q_min") == 9 && value_of(&F, "fast_q_max") == 9);
	vg_aggregate_free(a);
}
END_TEST

START_TEST(test_per_host_quantiles_of_an_interval)
{
	static const double q[] = { 0.5, 0.9, 1 };
	struct vg_aggregate_options o = { .max_series = 10, .quantiles = q, .n_quantiles = 3 };
	struct vg_aggregate *a;
	char line[64];

	ck_assert_int_eq(vg_aggregate_new(&o, &a, NULL), 0);
	for (int i = 100; i >= 1; i--) {
		snprintf(line, sizeof(line), "rt:%d|ms\nsz:%d|h", i, i);
		feed(a, line);
	}
	flush(a);
	ck_assert(fabs(value_of(&F, "rt{quantile=\"0.5\"}") - 0.05) < 1e-12);
	ck_assert(fabs(value_of(&F, "rt{quantile=\"0.9\"}") - 0.09) < 1e-12);
	ck_assert(fabs(value_of(&F, "rt{quantile=\"1\"}") - 0.1) < 1e-12);
	ck_assert(value_of(&F, "sz{quantile=\"0.9\"}") == 90);
	ck_assert(value_of(&F, "rt_count") == 100); /* the buckets still count them all */
	/* more than are kept: a uniform sample of them, within their range */
	for (int i = 0; i < 20 * VG_AGGREGATE_QUANTILE_VALUES; i++) {
		snprintf(line, sizeof(line), "sz:%d|h", i % 1000);
		feed(a, line);
	}
	flush(a);
	ck_assert(value_of(&F, "sz{quantile=\"1\"}") <= 999);
	ck_assert(fabs(value_of(&F, "sz{quantile=\"0.5\"}") - 500) < 100);
	ck_assert(isnan(value_of(&F, "rt{quantile=\"0.5\"}"))); /* no observation this interval */
	flush(a);
	ck_assert(isnan(value_of(&F, "sz{quantile=\"0.5\"}")));
	vg_aggregate_free(a);
	{
		const char *bad[] = { "0.5", "1.5" };
		double out[4];
		size_t n;
		ck_assert_int_eq(vg_aggregate_parse_quantiles(bad, 2, out, &n, NULL), VG_EINVAL);
	}
}
END_TEST

START_TEST(test_series_limit_under_a_flood_of_distinct_names)
{
	struct vg_aggregate *a = agg_new(100, NULL);
	struct vg_aggregate_stats st;
	char line[64];

	for (int i = 0; i < 20000; i++) {
		snprintf(line, sizeof(line), "flood.n%d:1|c|#k:%d", i, i % 7);
		feed(a, line);
	}
	feed(a, "flood.n5:1|c|#k:5"); /* a key already held is still counted */
	vg_aggregate_get_stats(a, &st);
	ck_assert_uint_eq(st.series, 100);
	ck_assert_uint_eq(st.series_refused, 20000 - 100);
	flush(a);
	ck_assert_uint_eq(F.n, 100);
	ck_assert(value_of(&F, "flood_n5_total{k=\"5\"}") == 2);
	vg_aggregate_free(a);
}
END_TEST

/* A key reached through the line's own order of tags (the alias table)
 * is the key the canonical form gives, whatever the order, and a flood
 * of new orders neither grows the table nor loses a count. */
START_TEST(test_tags_in_any_order_are_one_key)
{
	static const char *const t[] = { "a:1", "b:2", "c:3", "d:4", "e:5", "f:6" };
	struct vg_aggregate *a = agg_new(3, NULL);
	struct vg_aggregate_stats st;
	char line[128];
	int n = 0;

	feed(a, "o.hits:1|c|#a:1,b:2\no.hits:1|c|#b:2,a:1\no.hits_total:1|c|#b:2,a:1\no.hits:1|c|#b:2,z:,a:1");
	feed(a, "o.hits:1|c|#a:1,b:2"); /* through the alias now */
	feed(a, "o.hits:1|g|#a:1,b:2\no.hits:1|g|#b:2,a:1");
	flush(a);
	ck_assert(value_of(&F, "o_hits_total{a=\"1\",b=\"2\"}") == 5);
	vg_aggregate_get_stats(a, &st);
	ck_assert_uint_eq(st.series, 1);
	ck_assert_uint_eq(st.type_conflicts, 2);
	/* every order of six tags, many times the aliases held for one key */
	for (int p = 0; p < 720; p++) {
		int idx[6] = { 0, 1, 2, 3, 4, 5 }, k = p;
		size_t o = (size_t)snprintf(line, sizeof(line), "o.many:1|c|#");
		for (int i = 6; i > 0; i--) { /* the p-th permutation */
			int j = k % i, v = idx[j];
			k /= i;
			for (int m = j; m < i - 1; m++)
				idx[m] = idx[m + 1];
			o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%s", t[v], i > 1 ? "," : "");
		}
		feed(a, line);
		feed(a, line);
		n += 2;
	}
	flush(a);
	ck_assert(value_of(&F, "o_many_total{a=\"1\",b=\"2\",c=\"3\",d=\"4\",e=\"5\",f=\"6\"}") == n);
	/* the limit holds through aliases: a refused key stays refused */
	feed(a, "o.third:1|c\no.fourth:1|c|#x:1\no.fourth:1|c|#x:1\no.third:1|c");
	vg_aggregate_get_stats(a, &st);
	ck_assert_uint_eq(st.series, 3);
	ck_assert_uint_eq(st.series_refused, 2);
	flush(a);
	ck_assert(value_of(&F, "o_third_total") == 2);
	vg_aggregate_free(a);
}
END_TEST

/* A reload's settings on a running aggregate: what each key gathered
 * stays while its meaning does. */
START_TEST(test_reconfigure_keeps_what_each_key_gathered)
{
	static const double bounds[] = { 0.1, 1 }, q[] = { 0.5 };
	static const char *const fast[] = { "slow" };
	struct vg_aggregate *a = agg_new(4, NULL);
	struct vg_aggregate_options o = { .max_series = 4 };
	struct vg_aggregate_stats st;
	struct vg_err err;

	feed(a, "hits:5|c\nq:7|g\nlat:50|ms\nslow:3|g");
	flush(a);
	/* quantiles on, the limit and the default bounds as they were */
	o.quantiles = q;
	o.n_quantiles = 1;
	ck_assert_int_eq(vg_aggregate_reconfigure(a, &o, &err), 0);
	feed(a, "hits:1|c\nlat:150|ms");
	flush(a);
	ck_assert(value_of(&F, "hits_total") == 6);
	ck_assert(value_of(&F, "q") == 7);
	ck_assert(value_of(&F, "lat_count") == 2); /* same bounds: the histogram goes on */
	ck_assert(value_of(&F, "lat_bucket{le=\"0.05\"}") == 1);
	ck_assert(value_of(&F, "lat{quantile=\"0.5\"}") == 0.15);
	ck_assert(isnan(value_of(&F, "slow_max"))); /* not a fast gauge yet */

	/* new bounds: the histogram starts over under them; slow becomes fast;
	 * a lower limit keeps the four keys held and refuses a fifth */
	o.bounds = bounds;
	o.n_bounds = 2;
	o.fast_gauges = fast;
	o.n_fast_gauges = 1;
	o.max_series = 2;
	ck_assert_int_eq(vg_aggregate_reconfigure(a, &o, &err), 0);
	feed(a, "hits:1|c\nlat:500|ms\nslow:9|g\nnew:1|c");
	vg_aggregate_sample_fast(a);
	feed(a, "slow:4|g");
	flush(a);
	ck_assert(value_of(&F, "hits_total") == 7);
	ck_assert(value_of(&F, "lat_count") == 1);
	ck_assert(value_of(&F, "lat_bucket{le=\"0.1\"}") == 0);
	ck_assert(value_of(&F, "lat_bucket{le=\"1\"}") == 1);
	ck_assert(isnan(value_of(&F, "lat_bucket{le=\"0.05\"}")));
	ck_assert(value_of(&F, "slow_max") == 9 && value_of(&F, "slow_min") == 4 && value_of(&F, "slow") == 4);
	ck_assert(isnan(value_of(&F, "new_total")));
	vg_aggregate_get_stats(a, &st);
	ck_assert_uint_eq(st.series, 4);
	ck_assert_uint_eq(st.series_refused, 1);

	/* bad options leave it as it was */
	{
		static const double down[] = { 1, 0.5 };
		struct vg_aggregate_options bad = o;
		bad.bounds = down;
		ck_assert_int_eq(vg_aggregate_reconfigure(a, &bad, &err), VG_EINVAL);
		bad.bounds = bounds;
		bad.n_quantiles = VG_AGGREGATE_MAX_QUANTILES + 1;
		ck_assert_int_eq(vg_aggregate_reconfigure(a, &bad, &err), VG_ELIMIT);
	}
	feed(a, "lat:50|ms");
	flush(a);
	ck_assert(value_of(&F, "lat_count") == 2);
	ck_assert(value_of(&F, "lat_bucket{le=\"0.1\"}") == 1);
	ck_assert(value_of(&F, "hits_total") == 7);
	vg_aggregate_free(a);
}
END_TEST

struct totals {
	int n;
	double sum;
};

static void totals_cb(void *ctx, const uint8_t *key, size_t len, double total)
{
	struct totals *t = ctx;

	(void)key;
	(void)len;
	t->n++;
	t->sum += total;
}

START_TEST(test_counter_totals_survive_through_the_state_file)
{
	char *dir = vg_t_tmpdir("vigil-statsd-state");
	char path[600];
	struct vg_aggregate *a;
	struct totals t = { 0, 0 };
	FILE *f;

	snprintf(path, sizeof(path), "%s/statsd-counters", dir);
	a = agg_new(100, path);
	feed(a, "c1:5|c\nc2:1|c|@0.1|#k:v\ng:4|g");
	ck_assert_int_eq(vg_aggregate_save(a, NULL), 0);
	vg_aggregate_free(a);
	ck_assert_int_eq(vg_aggregate_read_state(path, totals_cb, &t, NULL), 0);
	ck_assert_int_eq(t.n, 2); /* counters only */
	ck_assert(t.sum == 15);

	a = agg_new(100, path);
	feed(a, "c1:1|c");
	flush(a);
	ck_assert(value_of(&F, "c1_total") == 6);
	ck_assert(value_of(&F, "c2_total{k=\"v\"}") == 10);
	vg_aggregate_free(a);

	/* a damaged file is ignored whole: totals start again at 0 */
	f = fopen(path, "r+");
	ck_assert_ptr_nonnull(f);
	fseek(f, 20, SEEK_SET);
	fputc('X', f);
	fclose(f);
	ck_assert_int_eq(vg_aggregate_read_state(path, totals_cb, &t, NULL), VG_ECHECKSUM);
	a = agg_new(100, path);
	feed(a, "c1:1|c");
	flush(a);
	ck_assert(value_of(&F, "c1_total") == 1);
	vg_aggregate_free(a);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

/* A spool_dir moved on reload: the next save writes every total to the
 * new file, though none changed since the last one. */
START_TEST(test_reconfigure_moves_the_totals_to_a_new_state_file)
{
	char *dir = vg_t_tmpdir("vigil-statsd-state2");
	char one[600], two[600];
	struct vg_aggregate *a;
	struct vg_aggregate_options o = { .max_series = 100 };
	struct totals t = { 0, 0 };

	snprintf(one, sizeof(one), "%s/one", dir);
	snprintf(two, sizeof(two), "%s/two", dir);
	a = agg_new(100, one);
	feed(a, "c1:5|c\nc2:2|c");
	ck_assert_int_eq(vg_aggregate_save(a, NULL), 0);
	o.state_path = two;
	ck_assert_int_eq(vg_aggregate_reconfigure(a, &o, NULL), 0);
	ck_assert_int_eq(vg_aggregate_save(a, NULL), 0);
	ck_assert_int_eq(vg_aggregate_read_state(two, totals_cb, &t, NULL), 0);
	ck_assert_int_eq(t.n, 2);
	ck_assert(t.sum == 7);
	vg_aggregate_free(a);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

/* --- real agent, real receiver ---------------------------------------------- */

static int udp_fd = -1;

static void udp_send(uint16_t port, const char *s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	if (udp_fd < 0)
		udp_fd = socket(AF_INET, SOCK_DGRAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ck_assert(sendto(udp_fd, s, strlen(s), 0, (struct sockaddr *)&sa, sizeof(sa)) == (ssize_t)strlen(s));
}

/* The StatsD port the agent logged last in its log, waiting for it (10 s). */
static uint16_t agent_statsd_port(const struct vg_t_proc *p, int nth)
{
	int64_t deadline = vg_t_now_ms() + 10000;

	while (vg_t_now_ms() < deadline) {
		FILE *f = fopen(p->log_path, "r");
		char line[1024];
		int seen = 0;
		unsigned port = 0;
		if (f) {
			while (fgets(line, sizeof(line), f)) {
				const char *s = strstr(line, "statsd: listening on");
				if (s && (s = strstr(s, "(port ")) && sscanf(s, "(port %u)", &port) == 1)
					seen++;
			}
			fclose(f);
		}
		if (seen >= nth && port)
			return (uint16_t)port;
		vg_t_sleep_ms(20);
	}
	return 0;
}

static int agent_start(struct vg_t_proc *p, const char *dir, uint16_t rport, const char *listen, const char *host)
{
	char server[64], log_path[600], spool[600], conf[600];
	FILE *f;

	snprintf(server, sizeof(server), "127.0.0.1:%u", rport);
	snprintf(log_path, sizeof(log_path), "%s/agent-%s.log", dir, host);
	snprintf(spool, sizeof(spool), "%s/spool-%s", dir, host);
	snprintf(conf, sizeof(conf), "%s/agent.yaml", dir);
	/* a short reconnect backoff: the outage test's receiver comes back soon */
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fputs("backoff_max: 300ms\nstatsd_fast_gauges: [fast_depth]\nstatsd_fast_interval: 200ms\n"
	      "collectors: {cpu: false, filesystem: false, meminfo: false}\n", f);
	fclose(f);
	char *argv[] = { (char *)vg_t_bin("vigil-agent"), "--server", server, "--interval", "1s", "--hostname",
			 (char *)host, "--config", conf, "--spool-dir", spool, "--statsd-listen", (char *)listen, NULL };
	return vg_t_spawn(p, log_path, argv);
}

/* The value of the single series q selects on r now, or NAN. */
static double query_value(const struct vg_t_receiver *r, const char *q)
{
	char path[2048];
	char *e = vg_t_urlencode(q);
	long status;
	json_t *doc, *res;
	double v = NAN;

	snprintf(path, sizeof(path), "/api/v1/query?query=%s", e);
	free(e);
	doc = vg_t_http_json(r->http_port, path, &status);
	if (doc == NULL)
		return NAN;
	res = json_object_get(json_object_get(doc, "data"), "result");
	if (json_array_size(res) == 1)
		v = strtod(json_string_value(json_array_get(json_object_get(json_array_get(res, 0), "value"), 1)),
			   NULL);
	json_decref(doc);
	return v;
}

/* Waits (timeout_ms at most) for q to read want on r; returns the last value. */
static double wait_value(const struct vg_t_receiver *r, const char *q, double want, int timeout_ms)
{
	int64_t deadline = vg_t_now_ms() + timeout_ms;
	double v = NAN;

	while (vg_t_now_ms() < deadline) {
		v = query_value(r, q);
		if (v == want)
			return v;
		vg_t_sleep_ms(100);
	}
	return v;
}

START_TEST(test_statsd_over_udp_reaches_the_receiver_as_aggregates)
{
	char *dir = vg_t_tmpdir("vigil-statsd-e2e");
	char data[600];
	struct vg_t_receiver rcv;
	struct vg_t_proc agent;
	uint16_t port;

	snprintf(data, sizeof(data), "%s/data", dir);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, NULL), 0);
	ck_assert_int_eq(agent_start(&agent, dir, rcv.port, "127.0.0.1:0", "sd1"), 0);
	ck_assert_msg((port = agent_statsd_port(&agent, 1)) != 0, "no StatsD port in %s", agent.log_path);
	udp_send(port, "web.requests:1|c|#code:200\nweb.requests:3|c|@0.5|#code:200\nweb.requests:1|c|#code:500");
	udp_send(port, "queue.depth:10|g\nqueue.depth:+5|g\nqueue.depth:-3|g");
	udp_send(port, "db.query:4|ms\ndb.query:40|ms\ndb.query:400|ms|#x:y\ndb.query:700|ms");
	udp_send(port, "fast.depth:3|g\nbroken line\nweb.requests:zz|c");
	ck_assert(wait_value(&rcv, "web_requests_total{instance=\"sd1\",code=\"200\"}", 7, 15000) == 7);
	ck_assert(wait_value(&rcv, "web_requests_total{instance=\"sd1\",code=\"500\"}", 1, 5000) == 1);
	ck_assert(wait_value(&rcv, "queue_depth{instance=\"sd1\"}", 12, 5000) == 12);
	ck_assert(wait_value(&rcv, "db_query_count{instance=\"sd1\",x=\"\"}", 3, 5000) == 3);
	ck_assert(wait_value(&rcv, "db_query_bucket{instance=\"sd1\",le=\"0.005\",x=\"\"}", 1, 5000) == 1);
	ck_assert(wait_value(&rcv, "db_query_bucket{instance=\"sd1\",le=\"0.05\",x=\"\"}", 2, 5000) == 2);
	ck_assert(wait_value(&rcv, "db_query_bucket{instance=\"sd1\",le=\"1\",x=\"\"}", 3, 5000) == 3);
	ck_assert(wait_value(&rcv, "db_query_bucket{instance=\"sd1\",le=\"+Inf\",x=\"y\"}", 1, 5000) == 1);
	/* a fleet quantile from the buckets, as dashboards ask for it */
	{
		double q = query_value(&rcv, "histogram_quantile(0.5, sum by (le) (db_query_bucket{instance=\"sd1\"}))");
		ck_assert_msg(isnan(q) || (q > 0.005 && q <= 1), "median %g", q);
	}
	ck_assert(wait_value(&rcv, "fast_depth_max{instance=\"sd1\"}", 3, 5000) == 3);
	ck_assert(wait_value(&rcv, "vigil_agent_statsd_bad_lines_total{instance=\"sd1\",reason=\"malformed_line\"}", 1,
			     5000) == 1);
	ck_assert(wait_value(&rcv,
			     "vigil_agent_statsd_bad_lines_total{instance=\"sd1\",reason=\"malformed_value\"}", 1,
			     5000) == 1);
	/* counts sent just before SIGTERM go out in a last round */
	udp_send(port, "late.hits:3|c");
	ck_assert_int_eq(vg_t_stop(&agent, SIGTERM, 5000), 0);
	ck_assert(wait_value(&rcv, "late_hits_total{instance=\"sd1\"}", 3, 5000) == 3);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 5000), 0);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(test_debian_python3_statsd_client)
{
	char *dir = vg_t_tmpdir("vigil-statsd-py");
	char data[600], script[1024], *out = NULL, *err = NULL;
	struct vg_t_receiver rcv;
	struct vg_t_proc agent;
	uint16_t port;
	int rc;

	if (access("/usr/lib/python3/dist-packages/statsd/__init__.py", R_OK) != 0) {
		fprintf(stderr, "test_statsd: python3-statsd is not installed (VG_PACKAGES installs it)\n");
		ck_abort_msg("python3-statsd missing");
	}
	snprintf(data, sizeof(data), "%s/data", dir);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, NULL), 0);
	ck_assert_int_eq(agent_start(&agent, dir, rcv.port, "127.0.0.1:0", "py1"), 0);
	ck_assert((port = agent_statsd_port(&agent, 1)) != 0);
	snprintf(script, sizeof(script),
		 "import statsd\n"
		 "c = statsd.StatsClient('127.0.0.1', %u, prefix='pyapp')\n"
		 "for i in range(25): c.incr('jobs.done')\n"
		 "c.incr('jobs.done', 5)\n"
		 "c.timing('jobs.latency', 320)\n"
		 "c.timing('jobs.latency', 80)\n"
		 "c.gauge('jobs.queue', 40)\n"
		 "c.gauge('jobs.queue', -15, delta=True)\n"
		 "c.set('jobs.users', 'alice')\n"
		 "with c.pipeline() as p:\n"
		 "    p.incr('jobs.piped', 2)\n"
		 "    p.incr('jobs.piped', 3)\n",
		 port);
	char *argv[] = { "/usr/bin/python3", "-c", script, NULL };
	rc = vg_t_run(argv, &out, &err, 10000);
	ck_assert_msg(rc == 0, "python3 exited %d: %s", rc, err);
	free(out);
	free(err);
	ck_assert(wait_value(&rcv, "pyapp_jobs_done_total{instance=\"py1\"}", 30, 15000) == 30);
	ck_assert(wait_value(&rcv, "pyapp_jobs_piped_total{instance=\"py1\"}", 5, 5000) == 5);
	ck_assert(wait_value(&rcv, "pyapp_jobs_latency_count{instance=\"py1\"}", 2, 5000) == 2);
	ck_assert(wait_value(&rcv, "pyapp_jobs_latency_sum{instance=\"py1\"}", 0.4, 5000) == 0.4);
	ck_assert(wait_value(&rcv, "pyapp_jobs_latency_bucket{instance=\"py1\",le=\"0.1\"}", 1, 5000) == 1);
	ck_assert(wait_value(&rcv, "pyapp_jobs_queue{instance=\"py1\"}", 25, 5000) == 25);
	ck_assert_int_eq(vg_t_stop(&agent, SIGTERM, 5000), 0);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 5000), 0);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

/* --- listener ---------------------------------------------------------------- */

/* Runs the loop until l has read packets datagrams (5 s at most); its stats in *st. */
static void pump(struct event_base *base, const struct vg_statsd_listener *l, uint64_t packets,
		 struct vg_statsd_listener_stats *st)
{
	int64_t deadline = vg_t_now_ms() + 5000;

	do {
		event_base_loop(base, EVLOOP_NONBLOCK);
		vg_statsd_listener_get_stats(l, st);
	} while (st->packets < packets && vg_t_now_ms() < deadline);
}

START_TEST(test_listener_reads_every_datagram_and_cuts_a_truncated_one)
{
	struct event_base *base = event_base_new();
	struct vg_aggregate *a = agg_new(100, NULL);
	struct vg_statsd_listener_options o = { base, "127.0.0.1:0", 1 << 20, a };
	struct vg_statsd_listener *l;
	struct vg_statsd_listener_stats st;
	static char big[VG_STATSD_DATAGRAM_BYTES + 4096];
	uint64_t want = 301;
	uint16_t port;

	ck_assert_int_eq(vg_statsd_listener_new(&o, &l, NULL), 0);
	port = vg_statsd_listener_port(l);
	ck_assert_uint_ne(port, 0);
	for (int i = 0; i < 300; i++)
		udp_send(port, "l.hits:1|c");
	/* longer than the listener's datagram buffer: the cut last line goes */
	memset(big, 'x', sizeof(big) - 1);
	memcpy(big, "big.ok:1|c\nbig.cut:1|c|#k:", 26);
	udp_send(port, big);
	pump(base, l, 301, &st);
	ck_assert_uint_eq(st.packets, 301);
	ck_assert_uint_eq(st.truncated, 1);
	ck_assert_uint_eq(st.socket_drops, 0);
	ck_assert_uint_gt(st.receive_buffer_bytes, 0);
	ck_assert_uint_eq(st.lines.lines, 301);
	flush(a);
	ck_assert(value_of(&F, "l_hits_total") == 300);
	ck_assert(value_of(&F, "big_ok_total") == 1);
	ck_assert(isnan(value_of(&F, "big_cut_total")));
	/* a burst puts the listener in its heavy mode (reading every
	 * VG_STATSD_POLL_US), a trickle after it back to waiting for the
	 * socket: every datagram is read in both and in the moves between */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 500; i++)
			udp_send(port, "burst.hits:1|c");
		want += 500;
		pump(base, l, want, &st);
		ck_assert_uint_eq(st.packets, want);
		for (int i = 0; i < 20; i++) {
			udp_send(port, "burst.hits:1|c");
			pump(base, l, ++want, &st);
			ck_assert_uint_eq(st.packets, want);
		}
	}
	ck_assert_uint_eq(st.socket_drops, 0);
	flush(a);
	ck_assert(value_of(&F, "burst_hits_total") == (double)(want - 301));
	vg_statsd_listener_free(l);
	vg_aggregate_free(a);
	event_base_free(base);
	{
		struct vg_statsd_listener_options bad = { NULL, "nohost", 0, NULL };
		ck_assert_int_eq(vg_statsd_listener_new(&bad, &l, NULL), VG_EINVAL);
	}
}
END_TEST

/* What a reload asks of a running listener: another receive buffer, and
 * a successor on another port whose counters go on from its own. */
START_TEST(test_listener_new_buffer_and_successor_counters)
{
	struct event_base *base = event_base_new();
	struct vg_aggregate *a = agg_new(100, NULL);
	struct vg_statsd_listener_options o = { base, "127.0.0.1:0", 1 << 20, a };
	struct vg_statsd_listener *l, *next;
	struct vg_statsd_listener_stats st, st2;

	ck_assert_int_eq(vg_statsd_listener_new(&o, &l, NULL), 0);
	vg_statsd_listener_set_receive_buffer(l, 1 << 16);
	vg_statsd_listener_get_stats(l, &st);
	ck_assert_uint_eq(st.receive_buffer_bytes, 2 << 16); /* the kernel doubles what it is given */
	for (int i = 0; i < 5; i++)
		udp_send(vg_statsd_listener_port(l), "m.hits:1|c\nbad");
	pump(base, l, 5, &st);
	ck_assert_uint_eq(st.packets, 5);
	ck_assert_int_eq(vg_statsd_listener_new(&o, &next, NULL), 0);
	vg_statsd_listener_continue(next, &st);
	vg_statsd_listener_free(l);
	udp_send(vg_statsd_listener_port(next), "m.hits:1|c");
	pump(base, next, 6, &st2);
	ck_assert_uint_eq(st2.packets, 6);
	ck_assert_uint_eq(st2.lines.lines, 6);
	ck_assert_uint_eq(st2.lines.bad[VG_STATSD_MALFORMED_LINE], 5);
	ck_assert_uint_gt(st2.receive_buffer_bytes, 2 << 16); /* its own socket's, not carried over */
	flush(a);
	ck_assert(value_of(&F, "m_hits_total") == 6);
	vg_statsd_listener_free(next);
	vg_aggregate_free(a);
	event_base_free(base);
}
END_TEST

/* Waits (10 s) until the agent's state file holds want as the sum of
 * its totals: the counts sent so far are durable in the agent. */
static bool wait_state(const char *path, double want)
{
	int64_t deadline = vg_t_now_ms() + 10000;

	while (vg_t_now_ms() < deadline) {
		struct totals t = { 0, 0 };
		if (vg_aggregate_read_state(path, totals_cb, &t, NULL) == 0 && t.sum == want)
			return true;
		vg_t_sleep_ms(50);
	}
	return false;
}

static void send_counts(uint16_t port, int n)
{
	for (int i = 0; i < n; i++) {
		udp_send(port, "outage.hits:1|c");
		if (i % 10 == 9)
			vg_t_sleep_ms(30); /* spread over more than one interval */
	}
}

START_TEST(test_outage_and_sigkill_count_every_hit_once)
{
	char *dir = vg_t_tmpdir("vigil-statsd-outage");
	char data[600], listen[64], rlisten[64], state[700], path[1024];
	struct vg_t_receiver rcv;
	struct vg_t_proc agent;
	int64_t t0 = time(NULL) - 1;
	uint16_t port;
	long status;
	json_t *doc, *values;
	double prev = 0, max = 0;
	size_t i;
	json_t *pt;

	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(state, sizeof(state), "%s/spool-out1/statsd-counters", dir);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, NULL), 0);
	snprintf(rlisten, sizeof(rlisten), "--listen=127.0.0.1:%u", rcv.port);
	ck_assert_int_eq(agent_start(&agent, dir, rcv.port, "127.0.0.1:0", "out1"), 0);
	ck_assert((port = agent_statsd_port(&agent, 1)) != 0);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);

	send_counts(port, 40);
	ck_assert(wait_value(&rcv, "outage_hits_total{instance=\"out1\"}", 40, 15000) == 40);

	/* the receiver goes away; counts keep coming */
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 5000), 0);
	send_counts(port, 30);
	ck_assert_msg(wait_state(state, 70), "the agent did not persist 70 counts");

	/* the agent dies during the outage and comes back on its spool */
	ck_assert_int_eq(vg_t_stop(&agent, SIGKILL, 5000), 128 + SIGKILL);
	ck_assert_int_eq(agent_start(&agent, dir, rcv.port, listen, "out1"), 0);
	ck_assert_msg(agent_statsd_port(&agent, 2) == port, "the agent did not listen again on %s", listen);
	ck_assert(vg_t_log_contains(&agent, "counter totals restored"));
	send_counts(port, 30);
	ck_assert_msg(wait_state(state, 100), "the restarted agent did not continue from 70");

	/* the receiver returns on its old port: everything arrives, once */
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, rlisten), 0);
	ck_assert(wait_value(&rcv, "outage_hits_total{instance=\"out1\"}", 100, 20000) == 100);

	/* and the stored series never went above the truth nor backwards */
	{
		char *e = vg_t_urlencode("outage_hits_total{instance=\"out1\"}");
		snprintf(path, sizeof(path), "/api/v1/query_range?query=%s&start=%lld&end=%lld&step=0.25", e,
			 (long long)t0, (long long)time(NULL) + 1);
		free(e);
	}
	doc = vg_t_http_json(rcv.http_port, path, &status);
	ck_assert_ptr_nonnull(doc);
	values = json_object_get(json_array_get(json_object_get(json_object_get(doc, "data"), "result"), 0),
				 "values");
	ck_assert_uint_gt(json_array_size(values), 4);
	json_array_foreach(values, i, pt) {
		double v = strtod(json_string_value(json_array_get(pt, 1)), NULL);
		ck_assert_msg(v >= prev, "the total went back from %g to %g", prev, v);
		prev = v;
		max = v > max ? v : max;
	}
	ck_assert(max == 100);
	json_decref(doc);
	ck_assert_int_eq(vg_t_stop(&agent, SIGTERM, 5000), 0);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 5000), 0);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

/* A UDP socket bound to 127.0.0.1:port (0: one the kernel picks), its
 * port in *got; -1 when it cannot be bound. */
static int udp_bind(uint16_t port, uint16_t *got)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (got)
		*got = ntohs(sa.sin_port);
	return fd;
}

static void write_config(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* SIGHUP with a new statsd_listen: a port that cannot be bound keeps the
 * old listener (one error); a free one is bound, the old port let go, and
 * the counter's total goes on across the move; new buckets apply; off
 * sends what came last and lets the port go. */
START_TEST(test_sighup_moves_the_listener_and_keeps_the_totals)
{
	char *dir = vg_t_tmpdir("vigil-statsd-hup");
	char data[600], conf[600], log_path[600], spool[600], server[64], text[256];
	struct vg_t_receiver rcv;
	struct vg_t_proc agent;
	uint16_t port1, port2;
	int blocker, fd;

	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(conf, sizeof(conf), "%s/agent.yaml", dir);
	snprintf(log_path, sizeof(log_path), "%s/agent.log", dir);
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, NULL), 0);
	snprintf(server, sizeof(server), "127.0.0.1:%u", rcv.port);
	write_config(conf, "statsd_listen: 127.0.0.1:0\ncollectors: {cpu: false, filesystem: false, meminfo: false}\n");
	char *argv[] = { (char *)vg_t_bin("vigil-agent"), "--server", server, "--interval", "1s", "--hostname", "hup1",
			 "--config", conf, "--spool-dir", spool, NULL };
	ck_assert_int_eq(vg_t_spawn(&agent, log_path, argv), 0);
	ck_assert((port1 = agent_statsd_port(&agent, 1)) != 0);
	udp_send(port1, "rl.hits:3|c");
	ck_assert(wait_value(&rcv, "rl_hits_total{instance=\"hup1\"}", 3, 15000) == 3);

	/* the new port is taken: one error, the old listener goes on */
	ck_assert((blocker = udp_bind(0, &port2)) >= 0);
	snprintf(text, sizeof(text),
		 "statsd_listen: 127.0.0.1:%u\nstatsd_buckets: [0.2, 2]\n"
		 "collectors: {cpu: false, filesystem: false, meminfo: false}\n", port2);
	write_config(conf, text);
	ck_assert_int_eq(kill(agent.pid, SIGHUP), 0);
	ck_assert_msg(vg_t_wait_log(&agent, "; still listening on 127.0.0.1:0", 10000), "no error in %s", log_path);
	udp_send(port1, "rl.hits:1|c");
	ck_assert(wait_value(&rcv, "rl_hits_total{instance=\"hup1\"}", 4, 10000) == 4);

	/* the port is free now: the next SIGHUP moves there */
	close(blocker);
	ck_assert_int_eq(kill(agent.pid, SIGHUP), 0);
	ck_assert_msg(agent_statsd_port(&agent, 2) == port2, "not listening on %u: %s", port2, log_path);
	udp_send(port2, "rl.hits:2|c");
	udp_send(port2, "rl.lat:500|ms");
	ck_assert(wait_value(&rcv, "rl_hits_total{instance=\"hup1\"}", 6, 10000) == 6);
	ck_assert(wait_value(&rcv, "rl_lat_bucket{instance=\"hup1\",le=\"2\"}", 1, 10000) == 1);
	ck_assert(wait_value(&rcv, "rl_lat_bucket{instance=\"hup1\",le=\"0.2\"}", 0, 10000) == 0);
	/* the listener's own counters go on across the move */
	ck_assert(wait_value(&rcv, "vigil_agent_statsd_packets_total{instance=\"hup1\"}", 4, 10000) == 4);
	/* and the old port is let go */
	ck_assert_msg((fd = udp_bind(port1, NULL)) >= 0, "port %u is still bound", port1);
	close(fd);

	/* off: what came last still goes out, then the port is let go */
	write_config(conf, "statsd_listen: off\ncollectors: {cpu: false, filesystem: false, meminfo: false}\n");
	udp_send(port2, "rl.hits:4|c");
	ck_assert_int_eq(kill(agent.pid, SIGHUP), 0);
	ck_assert(vg_t_wait_log(&agent, "statsd: off", 10000));
	ck_assert(wait_value(&rcv, "rl_hits_total{instance=\"hup1\"}", 10, 10000) == 10);
	ck_assert_msg((fd = udp_bind(port2, NULL)) >= 0, "port %u is still bound", port2);
	close(fd);

	ck_assert_int_eq(vg_t_stop(&agent, SIGTERM, 5000), 0);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 5000), 0);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

static Suite *statsd_suite(void)
{
	Suite *s = suite_create("statsd");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_parse_every_example_of_the_interfaces_file);
	tcase_add_test(tc, test_parse_multi_value_forms);
	tcase_add_test(tc, test_parse_dogstatsd_extras_and_tag_dialects);
	tcase_add_test(tc, test_name_mapping_as_statsd_exporter);
	tcase_add_test(tc, test_numbers_are_what_strtod_reads);
	tcase_add_test(tc, test_malformed_lines_get_their_reason);
	tcase_add_test(tc, test_bad_lines_are_counted_and_the_rest_of_the_packet_taken);
	suite_add_tcase(s, tc);
	tc = tcase_create("aggregate");
	tcase_add_test(tc, test_aggregate_every_kind);
	tcase_add_test(tc, test_fast_gauges_give_min_max_last);
	tcase_add_test(tc, test_per_host_quantiles_of_an_interval);
	tcase_add_test(tc, test_series_limit_under_a_flood_of_distinct_names);
	tcase_add_test(tc, test_tags_in_any_order_are_one_key);
	tcase_add_test(tc, test_counter_totals_survive_through_the_state_file);
	tcase_add_test(tc, test_reconfigure_keeps_what_each_key_gathered);
	tcase_add_test(tc, test_reconfigure_moves_the_totals_to_a_new_state_file);
	suite_add_tcase(s, tc);
	tc = tcase_create("listener");
	tcase_add_test(tc, test_listener_reads_every_datagram_and_cuts_a_truncated_one);
	tcase_add_test(tc, test_listener_new_buffer_and_successor_counters);
	suite_add_tcase(s, tc);
	tc = tcase_create("agent");
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_statsd_over_udp_reaches_the_receiver_as_aggregates);
	tcase_add_test(tc, test_debian_python3_statsd_client);
	tcase_add_test(tc, test_outage_and_sigkill_count_every_hit_once);
	tcase_add_test(tc, test_sighup_moves_the_listener_and_keeps_the_totals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(statsd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
