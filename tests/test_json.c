/*
 * test_json.c: the number text and JSON strings of common/json.c.
 *
 * Expected value texts were worked out by hand from the rules of Go's
 * strconv.FormatFloat(v, 'f' or 'e', -1, 64) as Prometheus's jsonutil
 * applies them; the round-trip test checks every output reads back exactly.
 */
#include "common/json.h"
#include "common/buf.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

static const char *fmt(double v)
{
	static char out[64];

	memset(out, 'X', sizeof(out));
	size_t n = vg_fmt_value(v, out, sizeof(out));
	ck_assert_uint_lt(n, 32);
	ck_assert_uint_eq(n, strlen(out));
	return out;
}

static const struct {
	double v;
	const char *text;
} value_cases[] = {
	{ 1, "1" },
	{ -1, "-1" },
	{ 0.25, "0.25" },
	{ 0.1, "0.1" },
	{ -1.5, "-1.5" },
	{ 100, "100" },
	{ 123.456, "123.456" },
	{ 1234567, "1234567" },
	{ 211221.16, "211221.16" },
	{ 0.1 + 0.2, "0.30000000000000004" },
	{ 1 / 3.0, "0.3333333333333333" },
	{ 2 / 3.0, "0.6666666666666666" },
	{ 9007199254740993.0, "9007199254740992" },
	/* the fixed form reaches 1e-6 inclusive and stops short of 1e21 */
	{ 0.000001, "0.000001" },
	{ 0.0000015, "0.0000015" },
	{ 1e20, "100000000000000000000" },
	{ 123456789012345680000.0, "123456789012345680000" },
	{ 9.999999999999999e20, "999999999999999900000" },
	/* exponent form: at least two exponent digits, explicit sign */
	{ 1e-07, "1e-07" },
	{ 9.99999e-7, "9.99999e-07" },
	{ -2.5e-10, "-2.5e-10" },
	{ 1e21, "1e+21" },
	{ 1.5e21, "1.5e+21" },
	{ -1e21, "-1e+21" },
	{ 1e100, "1e+100" },
	{ 1.7976931348623157e308, "1.7976931348623157e+308" },
	{ 5e-324, "5e-324" },
	{ 2.2250738585072014e-308, "2.2250738585072014e-308" },
	/* 2^-44: the lopsided interval at a power of two makes 16 digits
	 * enough though the correctly rounded 16-digit decimal misses it */
	{ 5.684341886080802e-14, "5.684341886080802e-14" },
	{ 0, "0" },
};

START_TEST(test_value_table)
{
	const char *got = fmt(value_cases[_i].v);

	ck_assert_msg(strcmp(got, value_cases[_i].text) == 0, "case %d: %.17g gave \"%s\", want \"%s\"",
		      _i, value_cases[_i].v, got, value_cases[_i].text);
}
END_TEST

START_TEST(test_value_negative_zero_keeps_sign)
{
	ck_assert_str_eq(fmt(-0.0), "-0");
	ck_assert_str_eq(fmt(0.0), "0");
}
END_TEST

START_TEST(test_value_nan_and_infinities)
{
	ck_assert_str_eq(fmt(NAN), "NaN");
	ck_assert_str_eq(fmt(-NAN), "NaN");
	ck_assert_str_eq(fmt(INFINITY), "+Inf");
	ck_assert_str_eq(fmt(-INFINITY), "-Inf");
	/* the staleness marker is a NaN too */
	uint64_t stale = 0x7ff0000000000002ULL;
	double v;
	memcpy(&v, &stale, sizeof(v));
	ck_assert_str_eq(fmt(v), "NaN");
}
END_TEST

START_TEST(test_value_power_of_two_is_shortest)
{
	/* ldexp(1, -44) is 2^-44; Go and the shortest round trip agree on 16 digits */
	ck_assert_str_eq(fmt(ldexp(1, -44)), "5.684341886080802e-14");
	/* shortest digits, then zeros: not the exact integer 1152921504606846976 */
	ck_assert_str_eq(fmt(ldexp(1, 60)), "1152921504606847000");
	ck_assert_str_eq(fmt(ldexp(1, 70)), "1.1805916207174113e+21");
	ck_assert_str_eq(fmt(ldexp(1, 80)), "1.2089258196146292e+24");
}
END_TEST

START_TEST(test_value_truncates_to_cap)
{
	char out[8];

	memset(out, 'X', sizeof(out));
	ck_assert_uint_eq(vg_fmt_value(0.25, out, 3), 2);
	ck_assert_str_eq(out, "0.");
	ck_assert_uint_eq(vg_fmt_value(0.25, out, 0), 0);
	ck_assert_int_eq(out[0], '0');
	ck_assert_uint_eq(vg_fmt_value(-INFINITY, out, 2), 1);
	ck_assert_str_eq(out, "-");
}
END_TEST

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so a failure reproduces */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* Every finite double reads back bit for bit, has no more than 17 digits,
 * and uses exponent form exactly outside [1e-6, 1e21). */
static void check_round_trip(double v)
{
	char out[64];
	size_t n = vg_fmt_value(v, out, sizeof(out));
	double back;
	uint64_t a, b;
	int digits = 0;
	bool has_e = strchr(out, 'e') != NULL;
	bool fixed_range = fabs(v) >= 1e-6 && fabs(v) < 1e21;

	ck_assert_uint_eq(n, strlen(out));
	ck_assert_uint_lt(n, 32);
	back = strtod(out, NULL);
	memcpy(&a, &v, 8);
	memcpy(&b, &back, 8);
	ck_assert_msg(a == b, "%.17g formatted as \"%s\" reads back as %.17g", v, out, back);
	if (v != 0)
		ck_assert_msg(has_e == !fixed_range, "%.17g formatted as \"%s\"", v, out);
	for (const char *p = out; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits++;
	if (!has_e && fixed_range && fabs(v) < 1)
		return; /* leading zeros of 0.000ddd are not significant */
	if (!has_e && fabs(v) >= 1e17)
		return; /* trailing zeros of the integer part are padding */
	ck_assert_msg(digits <= 17, "%.17g formatted as \"%s\"", v, out);
}

START_TEST(test_value_random_bits_round_trip)
{
	for (int i = 0; i < 50000; i++) {
		uint64_t bits = rng();
		double v;
		memcpy(&v, &bits, 8);
		if (!isfinite(v))
			continue;
		check_round_trip(v);
	}
}
END_TEST

START_TEST(test_value_random_decimals_round_trip)
{
	/* Values like the ones metrics hold: a few digits at many scales. */
	for (int i = 0; i < 50000; i++) {
		double mant = (double)(rng() % 1000000) / 1000.0;
		int e = (int)(rng() % 60) - 30;
		double v = mant * pow(10, e) * ((rng() & 1) ? -1 : 1);
		check_round_trip(v);
	}
}
END_TEST

START_TEST(test_value_short_decimals_stay_short)
{
	char txt[32];

	/* a number typed with few digits comes back as typed */
	for (int i = 1; i < 100000; i += 7) {
		double v = i / 100.0;
		int n = snprintf(txt, sizeof(txt), "%d.%02d", i / 100, i % 100);
		while (n > 0 && (txt[n - 1] == '0'))
			txt[--n] = '\0';
		if (n > 0 && txt[n - 1] == '.')
			txt[--n] = '\0';
		ck_assert_str_eq(fmt(v), txt);
	}
}
END_TEST

static const char *ts(int64_t ms)
{
	static char out[64];
	size_t n = vg_fmt_timestamp(ms, out, sizeof(out));

	ck_assert_uint_eq(n, strlen(out));
	return out;
}

START_TEST(test_timestamp_whole_seconds_have_no_fraction)
{
	ck_assert_str_eq(ts(0), "0");
	ck_assert_str_eq(ts(1000), "1");
	ck_assert_str_eq(ts(1435781451000), "1435781451");
}
END_TEST

START_TEST(test_timestamp_fraction_has_three_digits)
{
	ck_assert_str_eq(ts(1435781451050), "1435781451.050");
	ck_assert_str_eq(ts(1435781451781), "1435781451.781");
	ck_assert_str_eq(ts(1435781451100), "1435781451.100");
	ck_assert_str_eq(ts(1), "0.001");
	ck_assert_str_eq(ts(10), "0.010");
	ck_assert_str_eq(ts(999), "0.999");
}
END_TEST

START_TEST(test_timestamp_negative)
{
	ck_assert_str_eq(ts(-1), "-0.001");
	ck_assert_str_eq(ts(-1500), "-1.500");
	ck_assert_str_eq(ts(-1000), "-1");
	ck_assert_str_eq(ts(-999), "-0.999");
}
END_TEST

START_TEST(test_timestamp_extremes)
{
	ck_assert_str_eq(ts(INT64_MAX), "9223372036854775.807");
	ck_assert_str_eq(ts(INT64_MIN), "-9223372036854775.808");
}
END_TEST

START_TEST(test_timestamp_truncates_to_cap)
{
	char out[4];

	ck_assert_uint_eq(vg_fmt_timestamp(1435781451050, out, sizeof(out)), 3);
	ck_assert_str_eq(out, "143");
}
END_TEST

/* vg_json_str of p[0..n) as a C string (owned by a static buffer). */
static const char *js(const char *p, size_t n)
{
	static struct vg_buf b = VG_BUF_INIT;

	vg_buf_reset(&b);
	vg_json_str(&b, p, n);
	ck_assert(!vg_buf_failed(&b));
	return vg_buf_cstr(&b);
}

START_TEST(test_str_plain_and_empty)
{
	ck_assert_str_eq(js("", 0), "\"\"");
	ck_assert_str_eq(js("up", 2), "\"up\"");
	/* only p[0..len) is read */
	ck_assert_str_eq(js("abcdef", 3), "\"abc\"");
}
END_TEST

START_TEST(test_str_escapes_quote_and_backslash)
{
	ck_assert_str_eq(js("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
	ck_assert_str_eq(js("/", 1), "\"/\"");
}
END_TEST

START_TEST(test_str_escapes_control_chars)
{
	ck_assert_str_eq(js("\n\r\t\b\f", 5), "\"\\n\\r\\t\\b\\f\"");
	ck_assert_str_eq(js("\x01\x1f\x1b", 3), "\"\\u0001\\u001f\\u001b\"");
	ck_assert_str_eq(js("a\0b", 3), "\"a\\u0000b\"");
	/* DEL is not a control character in JSON */
	ck_assert_str_eq(js("\x7f", 1), "\"\x7f\"");
}
END_TEST

START_TEST(test_str_valid_utf8_passes_through)
{
	const char *s = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF";

	ck_assert_str_eq(js(s, strlen(s)),
			 "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF\"");
}
END_TEST

#define FFFD "\xEF\xBF\xBD"

START_TEST(test_str_invalid_utf8_becomes_replacement_per_byte)
{
	ck_assert_str_eq(js("\xff", 1), "\"" FFFD "\"");
	ck_assert_str_eq(js("a\xC3", 2), "\"a" FFFD "\"");      /* truncated at end */
	ck_assert_str_eq(js("\xE2\x82", 2), "\"" FFFD FFFD "\""); /* truncated 3-byte */
	ck_assert_str_eq(js("\xC0\xAF", 2), "\"" FFFD FFFD "\""); /* overlong '/' */
	ck_assert_str_eq(js("\xED\xA0\x80", 3), "\"" FFFD FFFD FFFD "\""); /* surrogate */
	ck_assert_str_eq(js("\xF4\x90\x80\x80", 4), "\"" FFFD FFFD FFFD FFFD "\""); /* > U+10FFFF */
	ck_assert_str_eq(js("\x80x", 2), "\"" FFFD "x\"");       /* lone continuation */
	/* a bad byte before a good sequence does not swallow it */
	ck_assert_str_eq(js("\xC3\xC3\xA9", 3), "\"" FFFD "\xC3\xA9\"");
}
END_TEST

START_TEST(test_str_mixed_escapes_and_bad_bytes)
{
	ck_assert_str_eq(js("\"\xff\n", 3), "\"\\\"" FFFD "\\n\"");
}
END_TEST

START_TEST(test_cstr)
{
	struct vg_buf b = VG_BUF_INIT;

	vg_json_cstr(&b, "tab\there");
	ck_assert_str_eq(vg_buf_cstr(&b), "\"tab\\there\"");
	vg_buf_release(&b);
}
END_TEST

START_TEST(test_json_value_and_sample)
{
	struct vg_buf b = VG_BUF_INIT;

	vg_json_value(&b, 0.25);
	ck_assert_str_eq(vg_buf_cstr(&b), "\"0.25\"");
	vg_buf_reset(&b);
	vg_json_sample(&b, 1435781451050, 1e-07);
	ck_assert_str_eq(vg_buf_cstr(&b), "[1435781451.050,\"1e-07\"]");
	vg_buf_reset(&b);
	vg_json_sample(&b, 1435781451000, NAN);
	ck_assert_str_eq(vg_buf_cstr(&b), "[1435781451,\"NaN\"]");
	vg_buf_reset(&b);
	vg_json_sample(&b, -1, -INFINITY);
	ck_assert_str_eq(vg_buf_cstr(&b), "[-0.001,\"-Inf\"]");
	vg_buf_release(&b);
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("value");

	tcase_add_loop_test(tc, test_value_table, 0, (int)(sizeof(value_cases) / sizeof(value_cases[0])));
	tcase_add_test(tc, test_value_negative_zero_keeps_sign);
	tcase_add_test(tc, test_value_nan_and_infinities);
	tcase_add_test(tc, test_value_power_of_two_is_shortest);
	tcase_add_test(tc, test_value_truncates_to_cap);
	tcase_add_test(tc, test_value_random_bits_round_trip);
	tcase_add_test(tc, test_value_random_decimals_round_trip);
	tcase_add_test(tc, test_value_short_decimals_stay_short);
	suite_add_tcase(s, tc);

	tc = tcase_create("timestamp");
	tcase_add_test(tc, test_timestamp_whole_seconds_have_no_fraction);
	tcase_add_test(tc, test_timestamp_fraction_has_three_digits);
	tcase_add_test(tc, test_timestamp_negative);
	tcase_add_test(tc, test_timestamp_extremes);
	tcase_add_test(tc, test_timestamp_truncates_to_cap);
	suite_add_tcase(s, tc);

	tc = tcase_create("string");
	tcase_add_test(tc, test_str_plain_and_empty);
	tcase_add_test(tc, test_str_escapes_quote_and_backslash);
	tcase_add_test(tc, test_str_escapes_control_chars);
	tcase_add_test(tc, test_str_valid_utf8_passes_through);
	tcase_add_test(tc, test_str_invalid_utf8_becomes_replacement_per_byte);
	tcase_add_test(tc, test_str_mixed_escapes_and_bad_bytes);
	tcase_add_test(tc, test_cstr);
	tcase_add_test(tc, test_json_value_and_sample);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(json_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
