/*
 * test_clock.c: clocks, durations and timestamps of common/clock.c, checked
 * against what Prometheus's HTTP API accepts and writes.
 */
#include "common/clock.h"
#include "common/err.h"
#include "common/round.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define WEEK (7 * DAY)
#define YEAR (365 * DAY)

static int64_t dur_ok(const char *s)
{
	struct vg_err err = { 0 };
	int64_t ms = -12345;

	ck_assert_msg(vg_duration_parse(s, &ms, &err) == 0, "\"%s\": %s", s, err.msg);
	return ms;
}

static void dur_bad(const char *s)
{
	struct vg_err err = { 0 };
	int64_t ms = -12345;

	ck_assert_msg(vg_duration_parse(s, &ms, &err) == VG_EINVAL, "\"%s\" was accepted", s);
	ck_assert_int_eq(err.code, VG_EINVAL);
	ck_assert_msg(strstr(err.msg, s) != NULL || s[0] == '\0', "message \"%s\" does not quote \"%s\"",
		      err.msg, s);
	ck_assert_int_eq(ms, -12345); /* untouched on error */
}

static int64_t api_ok(const char *s)
{
	struct vg_err err = { 0 };
	int64_t ms = -12345;

	ck_assert_msg(vg_duration_parse_api(s, &ms, &err) == 0, "\"%s\": %s", s, err.msg);
	return ms;
}

static void api_bad(const char *s)
{
	struct vg_err err = { 0 };
	int64_t ms = -12345;

	ck_assert_msg(vg_duration_parse_api(s, &ms, &err) == VG_EINVAL, "\"%s\" was accepted as %lld", s,
		      (long long)ms);
	ck_assert_msg(strstr(err.msg, "cannot parse") != NULL, "%s", err.msg);
}

static int64_t time_ok(const char *s)
{
	struct vg_err err = { 0 };
	int64_t ms = -12345;

	ck_assert_msg(vg_time_parse(s, &ms, &err) == 0, "\"%s\": %s", s, err.msg);
	return ms;
}

static void time_bad(const char *s)
{
	struct vg_err err = { 0 };
	int64_t ms = -12345;

	ck_assert_msg(vg_time_parse(s, &ms, &err) == VG_EINVAL, "\"%s\" was accepted as %lld", s,
		      (long long)ms);
	ck_assert_msg(strstr(err.msg, "cannot parse") != NULL, "%s", err.msg);
}

/* --- clocks ------------------------------------------------------------ */

START_TEST(test_now_is_recent_and_mono_advances)
{
	int64_t now = vg_clock_now_ms();
	int64_t a = vg_clock_mono_ms(), b;

	/* after 2020-01-01 and before 2100-01-01 */
	ck_assert_int_gt(now, 1577836800000LL);
	ck_assert_int_lt(now, 4102444800000LL);
	b = vg_clock_mono_ms();
	ck_assert_int_ge(b, a);
}
END_TEST

/* --- vg_duration_parse -------------------------------------------------- */

START_TEST(test_duration_single_units)
{
	ck_assert_int_eq(dur_ok("10s"), 10 * SEC);
	ck_assert_int_eq(dur_ok("500ms"), 500);
	ck_assert_int_eq(dur_ok("5m"), 5 * MIN);
	ck_assert_int_eq(dur_ok("2h"), 2 * HOUR);
	ck_assert_int_eq(dur_ok("3d"), 3 * DAY);
	ck_assert_int_eq(dur_ok("1w"), WEEK);
	ck_assert_int_eq(dur_ok("1y"), YEAR);
	ck_assert_int_eq(dur_ok("0s"), 0);
	ck_assert_int_eq(dur_ok("007s"), 7 * SEC);
}
END_TEST

START_TEST(test_duration_zero_without_unit)
{
	ck_assert_int_eq(dur_ok("0"), 0);
}
END_TEST

START_TEST(test_duration_minutes_vs_milliseconds)
{
	ck_assert_int_eq(dur_ok("1m"), MIN);
	ck_assert_int_eq(dur_ok("1ms"), 1);
	ck_assert_int_eq(dur_ok("1m1ms"), MIN + 1);
	ck_assert_int_eq(dur_ok("1m1s1ms"), MIN + SEC + 1);
}
END_TEST

START_TEST(test_duration_compound)
{
	ck_assert_int_eq(dur_ok("1h30m"), HOUR + 30 * MIN);
	ck_assert_int_eq(dur_ok("54s321ms"), 54 * SEC + 321);
	ck_assert_int_eq(dur_ok("1y2w3d4h5m6s7ms"), YEAR + 2 * WEEK + 3 * DAY + 4 * HOUR + 5 * MIN + 6 * SEC + 7);
	ck_assert_int_eq(dur_ok("90m"), 90 * MIN); /* no carrying required */
}
END_TEST

START_TEST(test_duration_largest_value)
{
	ck_assert_int_eq(dur_ok("9223372036854775807ms"), INT64_MAX);
}
END_TEST

START_TEST(test_duration_rejects_empty)
{
	struct vg_err err = { 0 };
	int64_t ms = 7;

	ck_assert_int_eq(vg_duration_parse("", &ms, &err), VG_EINVAL);
	ck_assert_str_eq(err.msg, "empty duration");
	ck_assert_int_eq(ms, 7);
}
END_TEST

START_TEST(test_duration_rejects_fraction)
{
	dur_bad("1.5h");
	dur_bad("0.5s");
	dur_bad(".5s");
}
END_TEST

START_TEST(test_duration_rejects_wrong_order)
{
	dur_bad("1m1h");
	dur_bad("1ms1s");
	dur_bad("1s1m");
	dur_bad("1d1w");
}
END_TEST

START_TEST(test_duration_rejects_repeated_unit)
{
	dur_bad("1s1s");
	dur_bad("1m1m");
	dur_bad("1ms1ms");
}
END_TEST

START_TEST(test_duration_rejects_sign)
{
	dur_bad("-1s");
	dur_bad("+1s");
}
END_TEST

START_TEST(test_duration_rejects_missing_or_unknown_unit)
{
	dur_bad("10");
	dur_bad("00");
	dur_bad("10x");
	dur_bad("1mss");
	dur_bad("1S");
	dur_bad("s");
	dur_bad("1h30");
	dur_bad("1 s");
	dur_bad(" 1s");
	dur_bad("1s ");
	dur_bad("1us");
	dur_bad("1ns");
}
END_TEST

START_TEST(test_duration_rejects_overflow)
{
	struct vg_err err = { 0 };
	int64_t ms;

	dur_bad("9223372036854775808ms");
	dur_bad("99999999999999999999999s");
	dur_bad("300000000y");
	dur_bad("292471208y40w"); /* each part fits, the sum does not */
	ck_assert_int_eq(vg_duration_parse("9223372036854775808ms", &ms, &err), VG_EINVAL);
	ck_assert_msg(strstr(err.msg, "too large") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_duration_err_may_be_null)
{
	int64_t ms;

	ck_assert_int_eq(vg_duration_parse("bad", &ms, NULL), VG_EINVAL);
	ck_assert_int_eq(vg_duration_parse("1s", &ms, NULL), 0);
	ck_assert_int_eq(ms, 1000);
}
END_TEST

/* --- vg_duration_parse_api ---------------------------------------------- */

START_TEST(test_api_duration_float_seconds)
{
	ck_assert_int_eq(api_ok("15"), 15 * SEC);
	ck_assert_int_eq(api_ok("0.5"), 500);
	ck_assert_int_eq(api_ok("1e3"), 1000 * SEC);
	ck_assert_int_eq(api_ok("0.001"), 1);
	ck_assert_int_eq(api_ok("0"), 0);
	ck_assert_int_eq(api_ok("1.5"), 1500);
	ck_assert_int_eq(api_ok("+2"), 2000);
	/* the API layer decides whether a negative step is allowed */
	ck_assert_int_eq(api_ok("-5"), -5000);
}
END_TEST

START_TEST(test_api_duration_accepts_durations)
{
	ck_assert_int_eq(api_ok("5m"), 5 * MIN);
	ck_assert_int_eq(api_ok("1h30m"), HOUR + 30 * MIN);
	ck_assert_int_eq(api_ok("250ms"), 250);
}
END_TEST

START_TEST(test_api_duration_rejects_non_numbers)
{
	api_bad("NaN");
	api_bad("nan");
	api_bad("Inf");
	api_bad("+Inf");
	api_bad("-inf");
	api_bad("infinity");
	api_bad("0x10");
	api_bad("0X1p4");
	api_bad("");
	api_bad(" 1");
	api_bad("1 ");
	api_bad("1s ");
	api_bad("abc");
	api_bad("1.5h");
}
END_TEST

START_TEST(test_api_duration_rejects_overflow)
{
	struct vg_err err = { 0 };
	int64_t ms;

	api_bad("1e300");
	api_bad("-1e17");
	ck_assert_int_eq(vg_duration_parse_api("1e16", &ms, &err), VG_EINVAL);
	ck_assert_msg(strstr(err.msg, "overflows") != NULL, "%s", err.msg);
	/* as Prometheus: past int64 nanoseconds, about 292 years */
	ck_assert_int_eq(vg_duration_parse_api("1e10", &ms, &err), VG_EINVAL);
	ck_assert_int_eq(vg_duration_parse_api("-9.3e9", &ms, &err), VG_EINVAL);
	ck_assert_int_eq(api_ok("9.2e9"), 9200000000000LL);
}
END_TEST

/* --- vg_time_parse ------------------------------------------------------ */

START_TEST(test_time_float_seconds)
{
	ck_assert_int_eq(time_ok("0"), 0);
	ck_assert_int_eq(time_ok("1435781451"), 1435781451000LL);
	ck_assert_int_eq(time_ok("1435781451.781"), 1435781451781LL);
	ck_assert_int_eq(time_ok("1.4e9"), 1400000000000LL);
	ck_assert_int_eq(time_ok("-1.5"), -1500);
	ck_assert_int_eq(time_ok("0.001"), 1);
}
END_TEST

START_TEST(test_time_fraction_rounds_to_ms)
{
	ck_assert_int_eq(time_ok("1.0004"), 1000);
	ck_assert_int_eq(time_ok("1.0006"), 1001);
	ck_assert_int_eq(time_ok("0.0015"), 2);
	ck_assert_int_eq(time_ok("1.9996"), 2000);
	/* half away from zero, as math.Round on the Modf fraction */
	ck_assert_int_eq(time_ok("-0.0015"), -2);
	ck_assert_int_eq(time_ok("-0.0004"), 0);
	ck_assert_int_eq(time_ok("-1.0006"), -1001);
}
END_TEST

START_TEST(test_time_rfc3339_utc)
{
	ck_assert_int_eq(time_ok("1970-01-01T00:00:00Z"), 0);
	ck_assert_int_eq(time_ok("2015-07-01T20:10:51Z"), 1435781451000LL);
	ck_assert_int_eq(time_ok("2015-07-01T20:10:51.781Z"), 1435781451781LL);
	ck_assert_int_eq(time_ok("1969-07-20T20:17:40Z"), -14182940000LL);
	ck_assert_int_eq(time_ok("9999-12-31T23:59:59Z"), 253402300799000LL);
	ck_assert_int_eq(time_ok("0001-01-01T00:00:00Z"), -62135596800000LL);
	ck_assert_int_eq(time_ok("2015-07-01t20:10:51z"), 1435781451000LL);
}
END_TEST

START_TEST(test_time_rfc3339_offsets)
{
	ck_assert_int_eq(time_ok("2015-07-01T22:10:51+02:00"), 1435781451000LL);
	ck_assert_int_eq(time_ok("2015-07-01T14:40:51-05:30"), 1435781451000LL);
	ck_assert_int_eq(time_ok("2015-07-01T20:10:51.781+00:00"), 1435781451781LL);
	ck_assert_int_eq(time_ok("2015-07-01T20:10:51-00:00"), 1435781451000LL);
	/* the offset can move the date across midnight and the year */
	ck_assert_int_eq(time_ok("1970-01-01T01:00:00+01:00"), 0);
	ck_assert_int_eq(time_ok("1969-12-31T23:00:00-01:00"), 0);
}
END_TEST

START_TEST(test_time_rfc3339_fractions)
{
	ck_assert_int_eq(time_ok("1970-01-01T00:00:00.5Z"), 500);
	ck_assert_int_eq(time_ok("1970-01-01T00:00:00.05Z"), 50);
	ck_assert_int_eq(time_ok("1970-01-01T00:00:00.123Z"), 123);
	/* digits past milliseconds are cut off, as Go's nanoseconds are */
	ck_assert_int_eq(time_ok("1970-01-01T00:00:00.123999999Z"), 123);
	ck_assert_int_eq(time_ok("1970-01-01T00:00:00.000000001Z"), 0);
	ck_assert_int_eq(time_ok("1969-12-31T23:59:59.999Z"), -1);
}
END_TEST

START_TEST(test_time_leap_day)
{
	ck_assert_int_eq(time_ok("2024-02-29T00:00:00Z"), 1709164800000LL);
	ck_assert_int_eq(time_ok("2000-02-29T12:00:00Z"), 951825600000LL);
	time_bad("2023-02-29T00:00:00Z");
	time_bad("1900-02-29T00:00:00Z");
	time_bad("2024-02-30T00:00:00Z");
}
END_TEST

START_TEST(test_time_rejects_bad_fields)
{
	time_bad("2015-13-01T00:00:00Z");
	time_bad("2015-00-01T00:00:00Z");
	time_bad("2015-01-00T00:00:00Z");
	time_bad("2015-01-32T00:00:00Z");
	time_bad("2015-04-31T00:00:00Z");
	time_bad("2015-01-01T24:00:00Z");
	time_bad("2015-01-01T00:60:00Z");
	time_bad("2015-01-01T00:00:60Z");
	time_bad("2015-01-01T00:00:00+24:00");
	time_bad("2015-01-01T00:00:00+01:60");
}
END_TEST

/* The two texts Prometheus's parseTime matches before RFC 3339, as its
 * clients send them for an open bound; near them, RFC 3339 still wants a
 * four-digit year. */
START_TEST(test_time_prometheus_min_and_max_texts)
{
	ck_assert_int_eq(time_ok("-292273086-05-16T16:47:06Z"), -9223309901257974000LL);
	ck_assert_int_eq(time_ok("292277025-08-18T07:12:54.999999999Z"), 9223309901257974999LL);
	time_bad("-292273086-05-16T16:47:07Z");
	time_bad("292277025-08-18T07:12:54.999Z");
	time_bad("292277025-08-18T07:12:54.999999999Z ");
	time_bad("-292273086-05-16t16:47:06z");
}
END_TEST

START_TEST(test_time_rejects_garbage)
{
	time_bad("");
	time_bad(" 1");
	time_bad("1 ");
	time_bad("NaN");
	time_bad("Inf");
	time_bad("-Inf");
	time_bad("0x10");
	time_bad("1e400");
	time_bad("1e17");
	time_bad("now");
	time_bad("2015-07-01");
	time_bad("2015-07-01T20:10:51");        /* no zone */
	time_bad("2015-07-01 20:10:51Z");       /* space, not T */
	time_bad("2015-07-01T20:10Z");
	time_bad("2015-07-01T20:10:51.Z");      /* empty fraction */
	time_bad("2015-07-01T20:10:51Zjunk");
	time_bad("2015-07-01T20:10:51+0200");
	time_bad("2015-07-01T20:10:51+02");
	time_bad("15-07-01T20:10:51Z");
	time_bad("2015-7-01T20:10:51Z");
	time_bad("2015-07-01T20:10:5");
	time_bad("2015-07-01T");
	time_bad("2015-");
}
END_TEST

/* --- formatting ---------------------------------------------------------- */

static const char *rfc(int64_t ms)
{
	static char out[64];
	size_t n = vg_time_format_rfc3339(ms, out, sizeof(out));

	ck_assert_uint_eq(n, strlen(out));
	return out;
}

START_TEST(test_format_rfc3339)
{
	ck_assert_str_eq(rfc(0), "1970-01-01T00:00:00Z");
	ck_assert_str_eq(rfc(1435781451000LL), "2015-07-01T20:10:51Z");
	ck_assert_str_eq(rfc(1435781451781LL), "2015-07-01T20:10:51.781Z");
	ck_assert_str_eq(rfc(1435781451005LL), "2015-07-01T20:10:51.005Z");
	ck_assert_str_eq(rfc(1709164800000LL), "2024-02-29T00:00:00Z");
	ck_assert_str_eq(rfc(253402300799000LL), "9999-12-31T23:59:59Z");
}
END_TEST

START_TEST(test_format_rfc3339_negative)
{
	ck_assert_str_eq(rfc(-1), "1969-12-31T23:59:59.999Z");
	ck_assert_str_eq(rfc(-1000), "1969-12-31T23:59:59Z");
	ck_assert_str_eq(rfc(-86400000LL), "1969-12-31T00:00:00Z");
	ck_assert_str_eq(rfc(-14182940000LL), "1969-07-20T20:17:40Z");
	ck_assert_str_eq(rfc(-62135596800000LL), "0001-01-01T00:00:00Z");
	/* the extremes do not overflow */
	ck_assert_ptr_nonnull(rfc(INT64_MIN));
	ck_assert_ptr_nonnull(rfc(INT64_MAX));
}
END_TEST

START_TEST(test_format_rfc3339_round_trips)
{
	static const int64_t cases[] = {
		0, 1, -1, 999, 1435781451781LL, -14182940000LL, 951825600000LL, 4102444800123LL,
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_int_eq(time_ok(rfc(cases[i])), cases[i]);
	for (int64_t ms = -3 * YEAR; ms < 60 * YEAR; ms += 7 * DAY + 13 * HOUR + 17 * SEC + 3)
		ck_assert_int_eq(time_ok(rfc(ms)), ms);
}
END_TEST

START_TEST(test_format_rfc3339_truncates_to_cap)
{
	char out[11];

	ck_assert_uint_eq(vg_time_format_rfc3339(0, out, sizeof(out)), 10);
	ck_assert_str_eq(out, "1970-01-01");
	ck_assert_uint_eq(vg_time_format_rfc3339(0, out, 0), 0);
}
END_TEST

static const char *dfmt(int64_t ms)
{
	static char out[64];
	size_t n = vg_duration_format(ms, out, sizeof(out));

	ck_assert_uint_eq(n, strlen(out));
	return out;
}

START_TEST(test_format_duration)
{
	ck_assert_str_eq(dfmt(0), "0s");
	ck_assert_str_eq(dfmt(500), "500ms");
	ck_assert_str_eq(dfmt(10 * SEC), "10s");
	ck_assert_str_eq(dfmt(HOUR + 30 * MIN), "1h30m");
	ck_assert_str_eq(dfmt(54 * SEC + 321), "54s321ms");
	ck_assert_str_eq(dfmt(DAY + 1), "1d1ms");
	ck_assert_str_eq(dfmt(YEAR), "1y");
	ck_assert_str_eq(dfmt(2 * WEEK), "2w");
	ck_assert_str_eq(dfmt(-5 * MIN), "-5m");
}
END_TEST

START_TEST(test_format_duration_years_and_weeks_only_when_exact)
{
	/* Prometheus: "90d", not "12w6d"; "400d", not "1y5w"... */
	ck_assert_str_eq(dfmt(90 * DAY), "90d");
	ck_assert_str_eq(dfmt(400 * DAY), "400d");
	ck_assert_str_eq(dfmt(WEEK + HOUR), "7d1h");
	ck_assert_str_eq(dfmt(2 * YEAR + 3 * WEEK), "751d");
	ck_assert_str_eq(dfmt(3 * YEAR), "3y");
	ck_assert_str_eq(dfmt(5 * WEEK), "5w");
	ck_assert_str_eq(dfmt(YEAR + 3 * DAY), "368d");
}
END_TEST

START_TEST(test_format_duration_round_trips)
{
	static const int64_t cases[] = {
		1, 999, SEC, 90 * MIN, 3 * DAY + 1, YEAR, 2 * YEAR + 3 * WEEK, 90 * DAY, INT64_MAX,
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_int_eq(dur_ok(dfmt(cases[i])), cases[i]);
}
END_TEST

START_TEST(test_format_duration_extremes_and_cap)
{
	char out[4];

	ck_assert_str_eq(dfmt(INT64_MIN), "-106751991167d7h12m55s808ms");
	ck_assert_uint_eq(vg_duration_format(HOUR + 30 * MIN, out, sizeof(out)), 3);
	ck_assert_str_eq(out, "1h3");
	ck_assert_uint_eq(vg_duration_format(0, out, 2), 1);
	ck_assert_str_eq(out, "0");
	ck_assert_uint_eq(vg_duration_format(-1, out, 1), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(vg_duration_format(5, out, 0), 0);
}
END_TEST

/* vg_round_i64 is llround without libm: the same answer on the halves,
 * next to them, and where doubles stop having fractions. */
START_TEST(test_round_i64_is_llround)
{
	const double xs[] = {
		0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994,
		0.5000000000000001, 1e-300, -1e-300, 4503599627370495.5, -4503599627370495.5,
		4503599627370496.0, 9007199254740993.0, 1e18, -1e18, 9.2e18, -9.2e18, 123456.78 * 100,
		1234.5, 0.001 * 1000, 299.99999999999994, 1.0 - 1e-16,
	};

	for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++)
		ck_assert_msg(vg_round_i64(xs[i]) == llround(xs[i]), "%.17g: %lld, llround %lld", xs[i],
			      (long long)vg_round_i64(xs[i]), (long long)llround(xs[i]));
	/* And on a sweep of values with fractions near one half. */
	for (int64_t k = -200000; k <= 200000; k++) {
		double x = (double)k / 8 + (k % 3 - 1) * 1e-12;
		ck_assert_int_eq(vg_round_i64(x), llround(x));
	}
}
END_TEST

static Suite *clock_suite(void)
{
	Suite *s = suite_create("clock");
	TCase *tc = tcase_create("duration");

	tcase_add_test(tc, test_now_is_recent_and_mono_advances);
	tcase_add_test(tc, test_round_i64_is_llround);
	tcase_add_test(tc, test_duration_single_units);
	tcase_add_test(tc, test_duration_zero_without_unit);
	tcase_add_test(tc, test_duration_minutes_vs_milliseconds);
	tcase_add_test(tc, test_duration_compound);
	tcase_add_test(tc, test_duration_largest_value);
	tcase_add_test(tc, test_duration_rejects_empty);
	tcase_add_test(tc, test_duration_rejects_fraction);
	tcase_add_test(tc, test_duration_rejects_wrong_order);
	tcase_add_test(tc, test_duration_rejects_repeated_unit);
	tcase_add_test(tc, test_duration_rejects_sign);
	tcase_add_test(tc, test_duration_rejects_missing_or_unknown_unit);
	tcase_add_test(tc, test_duration_rejects_overflow);
	tcase_add_test(tc, test_duration_err_may_be_null);
	tcase_add_test(tc, test_api_duration_float_seconds);
	tcase_add_test(tc, test_api_duration_accepts_durations);
	tcase_add_test(tc, test_api_duration_rejects_non_numbers);
	tcase_add_test(tc, test_api_duration_rejects_overflow);
	suite_add_tcase(s, tc);

	tc = tcase_create("time");
	tcase_add_test(tc, test_time_float_seconds);
	tcase_add_test(tc, test_time_fraction_rounds_to_ms);
	tcase_add_test(tc, test_time_rfc3339_utc);
	tcase_add_test(tc, test_time_rfc3339_offsets);
	tcase_add_test(tc, test_time_rfc3339_fractions);
	tcase_add_test(tc, test_time_leap_day);
	tcase_add_test(tc, test_time_rejects_bad_fields);
	tcase_add_test(tc, test_time_prometheus_min_and_max_texts);
	tcase_add_test(tc, test_time_rejects_garbage);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_test(tc, test_format_rfc3339);
	tcase_add_test(tc, test_format_rfc3339_negative);
	tcase_add_test(tc, test_format_rfc3339_round_trips);
	tcase_add_test(tc, test_format_rfc3339_truncates_to_cap);
	tcase_add_test(tc, test_format_duration);
	tcase_add_test(tc, test_format_duration_years_and_weeks_only_when_exact);
	tcase_add_test(tc, test_format_duration_round_trips);
	tcase_add_test(tc, test_format_duration_extremes_and_cap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(clock_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
