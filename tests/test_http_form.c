/*
 * test_http_form.c: HTTP parameter decoding (receiver/http/http_form.c): pairs in
 * order, '+' and percent escapes, repeated names, empty pairs and bare
 * names, two parses into one form, bad escapes and NUL bytes refused with
 * their exact texts, the parameter count limit, and path-segment decoding.
 */
#include "receiver/http/http_form.h"
#include "common/buf.h"
#include "common/err.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

static struct vg_http_form form;
static struct vg_err err;

static void setup(void)
{
	vg_http_form_init(&form);
	vg_err_clear(&err);
}

static void teardown(void)
{
	vg_http_form_release(&form);
}

static int parse(const char *s)
{
	return vg_http_form_parse(&form, s, strlen(s), &err);
}

/* Parses s, which must fail with code and exactly msg. */
static void check_refused(const char *s, int code, const char *msg)
{
	vg_http_form_release(&form);
	vg_err_clear(&err);
	ck_assert_int_eq(parse(s), code);
	ck_assert_str_eq(err.msg, msg);
}

static void check_pair(size_t i, const char *name, const char *value)
{
	size_t len;
	const char *v;

	ck_assert_uint_lt(i, form.n);
	ck_assert_str_eq(vg_http_form_name(&form, i), name);
	v = vg_http_form_value(&form, i, &len);
	ck_assert_str_eq(v, value);
	ck_assert_uint_eq(len, strlen(value));
}

START_TEST(test_form_valid_pairs_in_order)
{
	size_t len = 0;

	ck_assert_int_eq(parse("query=up&time=1700000000&limit=5"), 0);
	ck_assert_uint_eq(form.n, 3);
	check_pair(0, "query", "up");
	check_pair(1, "time", "1700000000");
	check_pair(2, "limit", "5");
	ck_assert_str_eq(vg_http_form_get(&form, "time", &len), "1700000000");
	ck_assert_uint_eq(len, 10);
	ck_assert_ptr_null(vg_http_form_get(&form, "step", &len));
	ck_assert_ptr_null(vg_http_form_get(&form, "quer", NULL));
}
END_TEST

START_TEST(test_form_plus_is_space_and_escapes_decode)
{
	ck_assert_int_eq(parse("query=rate(x%5B5m%5D)+%2B+1&a+b=%7b%7D&%41=%c3%a9"), 0);
	check_pair(0, "query", "rate(x[5m]) + 1");
	check_pair(1, "a b", "{}");
	check_pair(2, "A", "\xc3\xa9");
}
END_TEST

START_TEST(test_form_repeated_names_keep_every_value)
{
	size_t len;

	ck_assert_int_eq(parse("match[]=up&match%5B%5D=%7Bjob%3D%22a%22%7D&x=1&match[]=down"), 0);
	ck_assert_uint_eq(form.n, 4);
	check_pair(0, "match[]", "up");
	check_pair(1, "match[]", "{job=\"a\"}");
	check_pair(3, "match[]", "down");
	/* get answers the first, as Go's FormValue does. */
	ck_assert_str_eq(vg_http_form_get(&form, "match[]", &len), "up");
	ck_assert_uint_eq(len, 2);
}
END_TEST

START_TEST(test_form_empty_pairs_skipped)
{
	ck_assert_int_eq(parse("&&a=1&&&b=2&"), 0);
	ck_assert_uint_eq(form.n, 2);
	check_pair(0, "a", "1");
	check_pair(1, "b", "2");
	vg_http_form_release(&form);
	ck_assert_int_eq(parse(""), 0);
	ck_assert_int_eq(parse("&"), 0);
	ck_assert_uint_eq(form.n, 0);
	ck_assert_ptr_null(vg_http_form_get(&form, "", NULL));
}
END_TEST

START_TEST(test_form_bare_name_has_empty_value)
{
	size_t len = 99;

	ck_assert_int_eq(parse("stats&query=&=v&a=b=c"), 0);
	ck_assert_uint_eq(form.n, 4);
	check_pair(0, "stats", "");
	check_pair(1, "query", "");
	check_pair(2, "", "v");
	/* Only the first '=' splits. */
	check_pair(3, "a", "b=c");
	ck_assert_str_eq(vg_http_form_get(&form, "stats", &len), "");
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_form_two_parses_append_body_first)
{
	ck_assert_int_eq(parse("query=a&match[]=x"), 0);
	ck_assert_int_eq(parse("query=b&match[]=y"), 0);
	ck_assert_uint_eq(form.n, 4);
	ck_assert_str_eq(vg_http_form_get(&form, "query", NULL), "a");
	check_pair(2, "query", "b");
	check_pair(3, "match[]", "y");
}
END_TEST

START_TEST(test_form_input_not_nul_terminated)
{
	/* Only n bytes are read: the 'X' after them is not part of the value. */
	ck_assert_int_eq(vg_http_form_parse(&form, "a=12X", 4, &err), 0);
	check_pair(0, "a", "12");
	vg_http_form_release(&form);
	/* A '%' at the end of the n bytes is a bad escape, whatever follows. */
	ck_assert_int_eq(vg_http_form_parse(&form, "a=%41", 3, &err), VG_EINVAL);
	ck_assert_str_eq(err.msg, "invalid URL escape \"%\"");
}
END_TEST

START_TEST(test_form_bad_escape_zz_refused)
{
	check_refused("query=up%zz", VG_EINVAL, "invalid URL escape \"%zz\"");
	check_refused("a%g1=1", VG_EINVAL, "invalid URL escape \"%g1\"");
	check_refused("a=%1g", VG_EINVAL, "invalid URL escape \"%1g\"");
}
END_TEST

START_TEST(test_form_bad_escape_trailing_percent_refused)
{
	check_refused("query=up%", VG_EINVAL, "invalid URL escape \"%\"");
	check_refused("a%=1", VG_EINVAL, "invalid URL escape \"%\"");
	check_refused("a=%&b=1", VG_EINVAL, "invalid URL escape \"%\"");
}
END_TEST

START_TEST(test_form_bad_escape_one_digit_refused)
{
	check_refused("query=up%4", VG_EINVAL, "invalid URL escape \"%4\"");
	check_refused("a=%4&b=1", VG_EINVAL, "invalid URL escape \"%4\"");
}
END_TEST

START_TEST(test_form_nul_byte_refused)
{
	check_refused("query=up%00", VG_EINVAL, "NUL byte in the value of \"query\"");
	check_refused("time=1%00abc", VG_EINVAL, "NUL byte in the value of \"time\"");
	check_refused("qu%00ery=up", VG_EINVAL, "NUL byte in a parameter name");
	check_refused("%00", VG_EINVAL, "NUL byte in a parameter name");
	/* A raw NUL byte in the input is refused the same way. */
	vg_http_form_release(&form);
	ck_assert_int_eq(vg_http_form_parse(&form, "a=b\0c", 5, &err), VG_EINVAL);
	ck_assert_str_eq(err.msg, "NUL byte in the value of \"a\"");
}
END_TEST

START_TEST(test_form_nul_message_cuts_long_name)
{
	char s[200], want[120];

	memset(s, 'n', 100);
	memcpy(s + 100, "=%00", 5);
	memset(want, 0, sizeof(want));
	memcpy(want, "NUL byte in the value of \"", 26);
	memset(want + 26, 'n', 64);
	want[90] = '"';
	check_refused(s, VG_EINVAL, want);
}
END_TEST

START_TEST(test_form_pairs_before_a_failure_stay)
{
	ck_assert_int_eq(parse("a=1&b=2&c=%zz&d=4"), VG_EINVAL);
	ck_assert_uint_eq(form.n, 2);
	check_pair(1, "b", "2");
	ck_assert_ptr_null(vg_http_form_get(&form, "d", NULL));
}
END_TEST

START_TEST(test_form_parameter_limit)
{
	struct vg_buf b = VG_BUF_INIT;

	for (int i = 0; i < VG_HTTP_FORM_MAX_PARAMS; i++)
		vg_buf_printf(&b, "%sp%d=%d", i ? "&" : "", i, i);
	ck_assert(!vg_buf_failed(&b));
	ck_assert_int_eq(vg_http_form_parse(&form, (const char *)b.data, b.len, &err), 0);
	ck_assert_uint_eq(form.n, VG_HTTP_FORM_MAX_PARAMS);
	check_pair(9999, "p9999", "9999");
	/* Empty pairs do not count... */
	ck_assert_int_eq(parse("&&&"), 0);
	/* ...the next real one is refused, in the same form or a later parse. */
	ck_assert_int_eq(parse("one=more"), VG_ELIMIT);
	ck_assert_str_eq(err.msg, "more than 10000 parameters");
	ck_assert_uint_eq(form.n, VG_HTTP_FORM_MAX_PARAMS);
	vg_http_form_release(&form);
	vg_buf_puts(&b, "&x=1");
	ck_assert_int_eq(vg_http_form_parse(&form, (const char *)b.data, b.len, &err), VG_ELIMIT);
	ck_assert_str_eq(err.msg, "more than 10000 parameters");
	vg_buf_release(&b);
}
END_TEST

START_TEST(test_form_release_leaves_empty_form)
{
	ck_assert_int_eq(parse("a=1"), 0);
	vg_http_form_release(&form);
	ck_assert_uint_eq(form.n, 0);
	ck_assert_ptr_null(form.v);
	ck_assert_ptr_null(vg_http_form_get(&form, "a", NULL));
	ck_assert_int_eq(parse("b=2"), 0);
	check_pair(0, "b", "2");
}
END_TEST

START_TEST(test_unescape_path_keeps_plus)
{
	struct vg_buf out = VG_BUF_INIT;
	size_t len;

	ck_assert_int_eq(vg_http_form_unescape("a+b%2Fc", 7, false, &out, &len, &err), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_str_eq((const char *)out.data, "a+b/c");
	/* Appends after what the buffer holds, NUL included. */
	ck_assert_int_eq(vg_http_form_unescape("x+y", 3, true, &out, &len, &err), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_uint_eq(out.len, 10);
	ck_assert_mem_eq(out.data, "a+b/c\0x y\0", 10);
	vg_buf_release(&out);
}
END_TEST

START_TEST(test_unescape_path_nul_kept_for_caller)
{
	struct vg_buf out = VG_BUF_INIT;
	size_t len;

	ck_assert_int_eq(vg_http_form_unescape("a%00b", 5, false, &out, &len, &err), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(out.data, "a\0b\0", 4);
	vg_buf_reset(&out);
	ck_assert_int_eq(vg_http_form_unescape("%zz", 3, false, &out, &len, &err), VG_EINVAL);
	ck_assert_str_eq(err.msg, "invalid URL escape \"%zz\"");
	vg_buf_release(&out);
}
END_TEST

static Suite *http_form_suite(void)
{
	Suite *s = suite_create("http_form");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_form_valid_pairs_in_order);
	tcase_add_test(tc, test_form_plus_is_space_and_escapes_decode);
	tcase_add_test(tc, test_form_repeated_names_keep_every_value);
	tcase_add_test(tc, test_form_empty_pairs_skipped);
	tcase_add_test(tc, test_form_bare_name_has_empty_value);
	tcase_add_test(tc, test_form_two_parses_append_body_first);
	tcase_add_test(tc, test_form_input_not_nul_terminated);
	tcase_add_test(tc, test_form_bad_escape_zz_refused);
	tcase_add_test(tc, test_form_bad_escape_trailing_percent_refused);
	tcase_add_test(tc, test_form_bad_escape_one_digit_refused);
	tcase_add_test(tc, test_form_nul_byte_refused);
	tcase_add_test(tc, test_form_nul_message_cuts_long_name);
	tcase_add_test(tc, test_form_pairs_before_a_failure_stay);
	tcase_add_test(tc, test_form_parameter_limit);
	tcase_add_test(tc, test_form_release_leaves_empty_form);
	tcase_add_test(tc, test_unescape_path_keeps_plus);
	tcase_add_test(tc, test_unescape_path_nul_kept_for_caller);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_form_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
