/*
 * test_regex.c: label regexes through RE2 (common/regex.cc) and the
 * matchers built on them (common/selector.c): Prometheus's semantics (fully
 * anchored, "." matches a newline, UTF-8), Go's syntax (what Prometheus
 * refuses is refused, with Go's words), linear time on patterns that make a
 * backtracking engine explode, and undecided matches that are never read
 * as "no match".
 */
#include "common/regex.h"
#include "common/err.h"
#include "common/selector.h"
#include "common/series.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

static int match(const char *re, const char *s)
{
	struct vg_regex *r = NULL;
	struct vg_err err = { 0 };
	int rc = vg_regex_compile(re, strlen(re), &r, &err);

	ck_assert_msg(rc == 0, "%s: %s", re, err.msg);
	rc = vg_regex_match(r, s, strlen(s));
	vg_regex_free(r);
	return rc;
}

/* Compiling must fail with code and a message containing want. */
static void refused(const char *re, int code, const char *want)
{
	struct vg_regex *r = NULL;
	struct vg_err err = { 0 };
	int rc = vg_regex_compile(re, strlen(re), &r, &err);

	ck_assert_msg(rc == code, "%s gave %d, not %d", re, rc, code);
	ck_assert_ptr_null(r);
	ck_assert_msg(strstr(err.msg, want) != NULL, "%s: \"%s\" lacks \"%s\"", re, err.msg, want);
}

START_TEST(test_anchored_both_ends)
{
	ck_assert_int_eq(match("foo", "foo"), 1);
	ck_assert_int_eq(match("foo", "foox"), 0);
	ck_assert_int_eq(match("foo", "xfoo"), 0);
	ck_assert_int_eq(match("x|fo", "foo"), 0);  /* alternation stays inside */
	ck_assert_int_eq(match("fo|foo", "foo"), 1);
	ck_assert_int_eq(match("foo$", "foo\n"), 0); /* $ is the end of the text */
	ck_assert_int_eq(match("", ""), 1);
	ck_assert_int_eq(match("", "a"), 0);
	ck_assert_int_eq(match(".*", ""), 1);
}
END_TEST

START_TEST(test_dot_matches_newline_and_utf8)
{
	ck_assert_int_eq(match("a.b", "a\nb"), 1);
	ck_assert_int_eq(match(".", "\xC3\xA9"), 1);   /* one code point */
	ck_assert_int_eq(match("..", "\xC3\xA9"), 0);
	ck_assert_int_eq(match("\\pL+", "Z\xC3\xBCrich"), 1);
	ck_assert_int_eq(match("(?i)FOO", "foo"), 1);
	ck_assert_int_eq(match("[[:alpha:]]+\\d", "ab1"), 1);
	ck_assert_int_eq(match("\\Qa.b\\E", "a.b"), 1);
	ck_assert_int_eq(match("\\Qa.b\\E", "axb"), 0);
	/* Go's named groups, both spellings */
	ck_assert_int_eq(match("(?P<x>a)b", "ab"), 1);
	ck_assert_int_eq(match("(?<x>a)b", "ab"), 1);
	ck_assert_int_eq(match("\\Q(?<x>\\E", "(?<x>"), 1);
}
END_TEST

START_TEST(test_pcre_only_syntax_refused_as_prometheus_does)
{
	refused("(?R)", VG_EINVAL, "error parsing regexp: invalid or unsupported Perl syntax: `(?R`");
	refused("(a)\\1", VG_EINVAL, "error parsing regexp: invalid escape sequence: `\\1`");
	refused("(?=a)", VG_EINVAL, "invalid or unsupported Perl syntax: `(?=`");
	refused("(?<=a)b", VG_EINVAL, "invalid or unsupported Perl syntax: `(?<`");
	refused("(?!a)", VG_EINVAL, "invalid or unsupported Perl syntax: `(?!`");
	refused("(?>a)", VG_EINVAL, "invalid or unsupported Perl syntax: `(?>`");
	refused("a++", VG_EINVAL, "invalid nested repetition operator: `++`");
	refused("\\C", VG_EINVAL, "invalid escape sequence: `\\C`");
	refused("\\Z", VG_EINVAL, "invalid escape sequence: `\\Z`");
	refused("(?|a)", VG_EINVAL, "invalid or unsupported Perl syntax");
	refused("a{1001}", VG_EINVAL, "invalid repeat count: `{1001}`");
	refused("(", VG_EINVAL, "missing closing ): `(`");
	refused("a)", VG_EINVAL, "unexpected ): `a)`");
	refused("[z-a]", VG_EINVAL, "invalid character class range: `z-a`");
	refused("x\\", VG_EINVAL, "trailing backslash at end of expression");
}
END_TEST

START_TEST(test_too_large_or_deep_refused)
{
	size_t n = VG_REGEX_MAX_SOURCE + 1;
	char *p;

	refused("\\pL{1000}", VG_ELIMIT, "expression too large");
	p = malloc(n + 1);
	ck_assert_ptr_nonnull(p);
	memset(p, 'a', n);
	p[n] = '\0';
	refused(p, VG_ELIMIT, "expression too large");
	/* 1001 nested groups: Go refuses them */
	memset(p, '(', 1001);
	p[1001] = 'x';
	memset(p + 1002, ')', 1001);
	p[2003] = '\0';
	refused(p, VG_EINVAL, "expression nests too deeply");
	/* 1000 is fine */
	memmove(p + 1000, p + 1001, 1002);
	p[1000 + 1000 + 1] = '\0';
	ck_assert_int_eq(match(p, "x"), 1);
	free(p);
}
END_TEST

/* (a+)+$ over long values that almost match: exponential for a
 * backtracking engine, linear here (the test's time bound is the suite's
 * timeout; a backtracker would not finish this in years). */
START_TEST(test_catastrophic_patterns_are_linear)
{
	static const char *const patterns[] = { "(a+)+$", "(a|a)*b", "(a*)*b", "(.*a){20}" };
	size_t n = 20000;
	char *v = malloc(n + 2);
	struct vg_regex *r[4];

	ck_assert_ptr_nonnull(v);
	memset(v, 'a', n);
	v[n] = 'c';
	v[n + 1] = '\0';
	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(vg_regex_compile(patterns[i], strlen(patterns[i]), &r[i], NULL), 0);
	for (int rep = 0; rep < 200; rep++) {
		ck_assert_int_eq(vg_regex_match(r[0], v, n + 1), 0);
		ck_assert_int_eq(vg_regex_match(r[1], v, n + 1), 0);
		ck_assert_int_eq(vg_regex_match(r[2], v, n + 1), 0);
	}
	ck_assert_int_eq(vg_regex_match(r[0], v, n), 1);
	ck_assert_int_eq(vg_regex_match(r[3], v, n), 1);
	ck_assert_int_eq(vg_regex_match(r[3], v, n + 1), 0);
	for (size_t i = 0; i < 4; i++)
		vg_regex_free(r[i]);
	free(v);
}
END_TEST

/* A pattern whose DFA has 2^21 states outgrows RE2's memory budget; RE2
 * then matches another way, and the answer must still be right. */
START_TEST(test_dfa_budget_exhaustion_still_right)
{
	const char *re = "(a|b)*a(a|b){20}";
	struct vg_regex *r;
	unsigned state = 7;
	char v[3001];

	ck_assert_int_eq(vg_regex_compile(re, strlen(re), &r, NULL), 0);
	for (int k = 0; k < 40; k++) {
		size_t len = 21 + (size_t)(k * 71) % 2979;
		for (size_t i = 0; i < len; i++) {
			state = state * 1103515245u + 12345u;
			v[i] = (state >> 16) & 1 ? 'a' : 'b';
		}
		ck_assert_int_eq(vg_regex_match(r, v, len), v[len - 21] == 'a');
	}
	vg_regex_free(r);
}
END_TEST

START_TEST(test_undecided_match_is_never_no_match)
{
	struct vg_matcher m = { 0 };
	struct vg_str v = { "x", 1 };

	/* A matcher without its compiled regex cannot decide: both =~ and !~
	 * say so, and !~ does not turn the failure into "matches". */
	m.name = (char *)"a";
	m.value = (char *)"x";
	m.value_len = 1;
	m.op = VG_MATCH_RE;
	ck_assert_int_lt(vg_matcher_match(&m, v), 0);
	m.op = VG_MATCH_NRE;
	ck_assert_int_lt(vg_matcher_match(&m, v), 0);
	ck_assert_int_lt(vg_regex_match(NULL, "x", 1), 0);
}
END_TEST

START_TEST(test_undecided_propagates_through_selector)
{
	struct vg_selector sel = VG_SELECTOR_INIT;
	struct vg_series s;
	struct vg_regex *saved;

	vg_series_init(&s, "up");
	vg_series_add(&s, "a", "x");
	ck_assert_int_eq(vg_series_canonicalize(&s, NULL), 0);
	ck_assert_int_eq(vg_selector_add(&sel, "a", 1, VG_MATCH_NRE, "y", 1, NULL), 0);
	ck_assert_int_eq(vg_selector_match(&sel, &s), 1);
	saved = sel.m[0].re;
	sel.m[0].re = NULL;
	ck_assert_int_lt(vg_selector_match(&sel, &s), 0);
	sel.m[0].re = saved;
	vg_selector_release(&sel);
}
END_TEST

START_TEST(test_matcher_empty_flag)
{
	struct vg_selector sel = VG_SELECTOR_INIT;

	ck_assert_int_eq(vg_selector_add(&sel, "a", 1, VG_MATCH_RE, ".*", 2, NULL), 0);
	ck_assert_int_eq(vg_selector_add(&sel, "b", 1, VG_MATCH_RE, ".+", 2, NULL), 0);
	ck_assert_int_eq(vg_selector_add(&sel, "c", 1, VG_MATCH_NE, "", 0, NULL), 0);
	ck_assert_int_eq(vg_selector_add(&sel, "d", 1, VG_MATCH_EQ, "", 0, NULL), 0);
	ck_assert(sel.m[0].matches_empty);
	ck_assert(!sel.m[1].matches_empty);
	ck_assert(!sel.m[2].matches_empty);
	ck_assert(sel.m[3].matches_empty);
	ck_assert(vg_selector_is_bounded(&sel));
	/* a failed add leaves the selector as it was */
	ck_assert_int_eq(vg_selector_add(&sel, "e", 1, VG_MATCH_RE, "(", 1, NULL), VG_EINVAL);
	ck_assert_uint_eq(sel.n, 4);
	vg_selector_release(&sel);
}
END_TEST

START_TEST(test_groups_for_label_replace)
{
	struct vg_regex *r;
	long st[4];
	size_t ln[4];

	ck_assert_int_eq(vg_regex_compile_groups("(?P<a>x+)-(y)?(?<c>z)", 21, &r, NULL), 0);
	ck_assert_int_eq(vg_regex_match_groups(r, "xx-z", 4, 4, st, ln), 1);
	ck_assert_int_eq(st[0], 0);
	ck_assert_uint_eq(ln[0], 4);
	ck_assert_int_eq(st[1], 0);
	ck_assert_uint_eq(ln[1], 2);
	ck_assert_int_eq(st[2], -1); /* took no part */
	ck_assert_int_eq(st[3], 3);
	ck_assert_int_eq(vg_regex_group_index(r, "a", 1), 1);
	ck_assert_int_eq(vg_regex_group_index(r, "c", 1), 3);
	ck_assert_int_eq(vg_regex_group_index(r, "b", 1), -1);
	ck_assert_int_eq(vg_regex_match_groups(r, "xx-zz", 5, 4, st, ln), 0); /* anchored */
	vg_regex_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("regex");
	TCase *tc = tcase_create("regex");

	tcase_add_test(tc, test_anchored_both_ends);
	tcase_add_test(tc, test_dot_matches_newline_and_utf8);
	tcase_add_test(tc, test_pcre_only_syntax_refused_as_prometheus_does);
	tcase_add_test(tc, test_too_large_or_deep_refused);
	tcase_add_test(tc, test_catastrophic_patterns_are_linear);
	tcase_add_test(tc, test_dfa_budget_exhaustion_still_right);
	tcase_add_test(tc, test_undecided_match_is_never_no_match);
	tcase_add_test(tc, test_undecided_propagates_through_selector);
	tcase_add_test(tc, test_matcher_empty_flag);
	tcase_add_test(tc, test_groups_for_label_replace);
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
