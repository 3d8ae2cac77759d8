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
#include <float.h>
#include <stdbool.h>
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

/*
 * The reference the formatter is checked against: the search that json.c
 * made before it used Ryu's, with printf's correctly rounded "%.*e" and
 * strtod: at each precision from 1 digit up, the correctly rounded decimal
 * or (at a power of two, whose interval is lopsided) its neighbour one
 * unit up or down, the first that reads back as v (from 15 digits for
 * normal doubles: at most one 15-digit decimal reads back as one, so a
 * shorter one shows as that one with trailing zeros). Slow and plain.
 */
/* A decimal: digits d[0..n) with d[0] != '0', value 0.d * 10^(exp10 + 1),
 * i.e. d[0] is the digit of 10^exp10. */
struct ref_decimal {
	char d[24];
	int n;
	int exp10;
};

/* Splits printf's "%.*e" text ("-1.2345e+07") into a decimal. */
static void ref_from_e(const char *txt, struct ref_decimal *dec)
{
	const char *p = txt;

	if (*p == '-')
		p++;
	dec->n = 0;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9' && dec->n < (int)sizeof(dec->d))
			dec->d[dec->n++] = *p;
	dec->exp10 = *p == 'e' ? (int)strtol(p + 1, NULL, 10) : 0;
	while (dec->n > 1 && dec->d[dec->n - 1] == '0')
		dec->n--;
}

/* Writes the decimal in exponent form, "d.ddde+XX", without a sign. */
static int ref_to_e(const struct ref_decimal *dec, char *out, size_t cap)
{
	return snprintf(out, cap, "%c%s%.*se%c%02d", dec->d[0], dec->n > 1 ? "." : "",
			dec->n - 1, dec->d + 1, dec->exp10 < 0 ? '-' : '+',
			dec->exp10 < 0 ? -dec->exp10 : dec->exp10);
}

static bool ref_reads_back(const struct ref_decimal *dec, bool is_neg, double v)
{
	char txt[40];

	txt[0] = '-';
	ref_to_e(dec, txt + 1, sizeof(txt) - 1);
	return strtod(is_neg ? txt : txt + 1, NULL) == v;
}

/* Moves the last of the n digits by delta (+1 or -1), carrying or borrowing
 * into the exponent when the digit count would change (9.9 up is 10, 1.0
 * down is 0.99): the neighbours of dec among n-digit decimals. */
static void ref_step(struct ref_decimal *dec, int delta)
{
	int i = dec->n - 1;

	if (delta > 0) {
		while (i >= 0 && dec->d[i] == '9')
			dec->d[i--] = '0';
		if (i < 0) {
			dec->d[0] = '1';
			dec->n = 1;
			dec->exp10++;
		} else {
			dec->d[i]++;
		}
	} else {
		while (i >= 0 && dec->d[i] == '0')
			dec->d[i--] = '9';
		if (i == 0 && dec->d[0] == '1') {
			/* 1.00 - 0.01 = 0.99: all nines, one decade down. */
			memset(dec->d, '9', (size_t)dec->n);
			dec->exp10--;
		} else {
			dec->d[i]--;
		}
	}
	while (dec->n > 1 && dec->d[dec->n - 1] == '0')
		dec->n--;
}

/*
 * The shortest decimal that reads back as v (finite, non-zero), and of
 * those the nearest to v, as Go chooses.
 *
 * For each precision the correctly rounded decimal is the best candidate;
 * at a power of two the interval of reals that round to v is lopsided (half
 * as wide below), so the rounded decimal can miss it while its neighbour one
 * unit up or down in the last digit still falls inside: 2^-44 is
 * 5.684341886080802e-14 (16 digits), not the 17 the rounded search finds.
 *
 * The search starts at 15 digits for normal doubles: their interval is
 * narrower than the spacing of 15-digit decimals, so at most one 15-digit
 * decimal reads back as v, and if a shorter one does, that one padded with
 * zeros is it; dropping its trailing zeros gives the shortest. This costs
 * at most nine printf/strtod pairs instead of 17 rounds. Subnormals have
 * wide intervals (5e-324 stands for 4.94...e-324) and search from 1 digit.
 */
static void ref_shortest(double v, struct ref_decimal *dec)
{
	bool is_neg = v < 0;
	char txt[40];

	for (int prec = fabs(v) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
		struct ref_decimal up, down;

		snprintf(txt, sizeof(txt), "%.*e", prec - 1, v);
		ref_from_e(txt, dec);
		if (prec == 17 || strtod(txt, NULL) == v)
			return; /* 17 digits always read back */
		up = *dec;
		down = *dec;
		/* Pad to prec digits so the step moves the digit at prec. */
		while (up.n < prec) {
			up.d[up.n++] = '0';
			down.d[down.n++] = '0';
		}
		ref_step(&up, 1);
		ref_step(&down, -1);
		if (ref_reads_back(&up, is_neg, v)) {
			*dec = up;
			return;
		}
		if (ref_reads_back(&down, is_neg, v)) {
			*dec = down;
			return;
		}
	}
}

static size_t ref_finite(double v, char *out, size_t cap)
{
	struct ref_decimal dec;
	double a = fabs(v);
	size_t len = 0;
	int e, i;

	ref_shortest(v, &dec);
	if (v < 0)
		out[len++] = '-';
	if (a < 1e-6 || a >= 1e21) {
		int n = ref_to_e(&dec, out + len, cap - len);
		return len + (size_t)(n > 0 ? n : 0);
	}
	e = dec.exp10;
	if (e < 0) {
		out[len++] = '0';
		out[len++] = '.';
		for (i = -1; i > e; i--)
			out[len++] = '0';
		memcpy(out + len, dec.d, (size_t)dec.n);
		len += (size_t)dec.n;
	} else {
		for (i = 0; i <= e; i++)
			out[len++] = i < dec.n ? dec.d[i] : '0';
		if (dec.n > e + 1) {
			out[len++] = '.';
			memcpy(out + len, dec.d + e + 1, (size_t)(dec.n - e - 1));
			len += (size_t)(dec.n - e - 1);
		}
	}
	out[len] = '\0';
	return len;
}


/* The reference's text of v (finite, not zero). */
static const char *ref_fmt(double v)
{
	static char out[64];

	out[ref_finite(v, out, sizeof(out))] = '\0';
	return out;
}

static void check_same_as_ref(double v)
{
	const char *want, *got;

	if (!isfinite(v) || v == 0)
		return;
	want = ref_fmt(v);
	got = fmt(v);
	ck_assert_msg(strcmp(got, want) == 0, "%a (%.17g): \"%s\", the reference \"%s\"", v, v, got, want);
}

START_TEST(test_value_same_as_reference_random_bits)
{
	for (int i = 0; i < 20000; i++) {
		uint64_t bits = rng();
		double v;
		memcpy(&v, &bits, 8);
		check_same_as_ref(v);
	}
}
END_TEST

START_TEST(test_value_same_as_reference_structured)
{
	/* every power of two, and its neighbours (the lopsided intervals) */
	for (int e = -1074; e <= 1023; e++) {
		double p = ldexp(1, e);
		check_same_as_ref(p);
		check_same_as_ref(nextafter(p, 0));
		check_same_as_ref(nextafter(p, INFINITY));
		check_same_as_ref(-p);
	}
	/* subnormals: the smallest, the largest, and a spread between */
	for (uint64_t m = 1; m < (1ULL << 52); m = m * 3 + 1) {
		double v;
		memcpy(&v, &m, 8);
		check_same_as_ref(v);
	}
	/* integers up to 2^53 and just past it */
	for (int64_t i = 1; i < 10000; i++)
		check_same_as_ref((double)i);
	for (int64_t i = -1000; i <= 1000; i++)
		check_same_as_ref((double)((1LL << 53) + i));
	/* decimals of a few digits at every scale, and sums that are not */
	for (int i = 0; i < 10000; i++) {
		double mant = (double)(rng() % 100000000) / 1000.0;
		int e = (int)(rng() % 640) - 320;
		check_same_as_ref(mant * pow(10, e));
		check_same_as_ref(mant * pow(10, e % 25) + 0.1);
	}
	/* the ends of the fixed form */
	for (int k = -40; k <= 40; k++) {
		check_same_as_ref(nextafter(1e-6, k < 0 ? 0 : INFINITY) * (1 + k * 1e-16));
		check_same_as_ref(nextafter(1e21, k < 0 ? 0 : INFINITY) * (1 + k * 1e-16));
	}
}
END_TEST

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
	tcase_add_test(tc, test_value_same_as_reference_random_bits);
	tcase_add_test(tc, test_value_same_as_reference_structured);
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
