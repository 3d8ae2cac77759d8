/*
 * test_selector.c: series selectors: their syntax as the PromQL parser
 * reads it (vg_promql_parse_selector, promql/parse.c) and matching
 * (common/selector.c), with good, malformed and hostile input.
 */
#include "common/selector.h"
#include "promql/parse.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/series.h"

#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/banned.h"

static struct vg_selector sel;

static void setup(void)
{
	memset(&sel, 0, sizeof(sel));
}

static void teardown(void)
{
	vg_selector_release(&sel);
}

static void parse_ok_n(const char *s, size_t len)
{
	struct vg_err err = { 0 };
	int rc;

	vg_selector_release(&sel);
	rc = vg_promql_parse_selector(s, len, &sel, NULL, &err);
	ck_assert_msg(rc == 0, "parsing \"%.*s\" failed: %s", (int)(len > 200 ? 200 : len), s, err.msg);
}

static void parse_ok(const char *s)
{
	parse_ok_n(s, strlen(s));
}

/* Parsing must fail with VG_EINVAL (VG_ELIMIT past a limit), an empty
 * selector, and a message that contains want. */
static void parse_err_n(const char *s, size_t len, const char *want)
{
	struct vg_err err = { 0 };
	int rc;

	vg_selector_release(&sel);
	rc = vg_promql_parse_selector(s, len, &sel, NULL, &err);
	ck_assert_msg(rc == VG_EINVAL || rc == VG_ELIMIT, "\"%.*s\" gave %d, not VG_EINVAL", (int)(len > 200 ? 200 : len), s, rc);
	ck_assert_int_eq(err.code, rc);
	ck_assert_uint_eq(sel.n, 0);
	ck_assert_ptr_null(sel.m);
	ck_assert_msg(strstr(err.msg, want) != NULL, "\"%.*s\": message \"%s\" lacks \"%s\"",
		      (int)(len > 200 ? 200 : len), s, err.msg, want);
}

static void parse_err(const char *s, const char *want)
{
	parse_err_n(s, strlen(s), want);
}

static void assert_matcher(size_t i, const char *name, enum vg_match_op op, const char *value)
{
	ck_assert_uint_lt(i, sel.n);
	ck_assert_str_eq(sel.m[i].name, name);
	ck_assert_int_eq(sel.m[i].op, op);
	ck_assert_uint_eq(sel.m[i].value_len, strlen(value));
	ck_assert_str_eq(sel.m[i].value, value);
	if (op == VG_MATCH_RE || op == VG_MATCH_NRE)
		ck_assert_ptr_nonnull(sel.m[i].re);
	else
		ck_assert_ptr_null(sel.m[i].re);
}

/* A canonical series from name and NULL-terminated name/value pairs. */
static struct vg_series series_of(const char *name, ...)
{
	struct vg_series s;
	struct vg_err err = { 0 };
	va_list ap;
	const char *k;

	vg_series_init(&s, name);
	va_start(ap, name);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);
		ck_assert_int_eq(vg_series_add(&s, k, v), 0);
	}
	va_end(ap);
	ck_assert_msg(vg_series_canonicalize(&s, &err) == 0, "%s", err.msg);
	return s;
}

static bool sel_matches(const char *text, const struct vg_series *s)
{
	parse_ok(text);
	return vg_selector_match(&sel, s);
}

/* --- parsing good selectors ------------------------------------------- */

START_TEST(test_parse_name_only)
{
	parse_ok("up");
	ck_assert_uint_eq(sel.n, 1);
	assert_matcher(0, "__name__", VG_MATCH_EQ, "up");
	ck_assert_ptr_eq(vg_selector_name(&sel), &sel.m[0]);
	parse_ok("job:http_requests:rate5m");
	assert_matcher(0, "__name__", VG_MATCH_EQ, "job:http_requests:rate5m");
	parse_ok(":colon_first");
	parse_ok("_underscore");
}
END_TEST

START_TEST(test_parse_name_with_empty_braces)
{
	parse_ok("up{}");
	ck_assert_uint_eq(sel.n, 1);
	assert_matcher(0, "__name__", VG_MATCH_EQ, "up");
}
END_TEST

START_TEST(test_parse_braces_only)
{
	parse_ok("{job=\"api\"}");
	ck_assert_uint_eq(sel.n, 1);
	assert_matcher(0, "job", VG_MATCH_EQ, "api");
	ck_assert_ptr_null(vg_selector_name(&sel));
}
END_TEST

START_TEST(test_parse_name_in_braces)
{
	parse_ok("{__name__=\"up\", job=\"x\"}");
	ck_assert_ptr_eq(vg_selector_name(&sel), &sel.m[0]);
	parse_ok("{__name__=~\"up|down\"}");
	ck_assert_ptr_null(vg_selector_name(&sel));
}
END_TEST

START_TEST(test_parse_all_four_ops_in_order)
{
	parse_ok("x{a=\"1\",b!=\"2\",c=~\"3\",d!~\"4\"}");
	ck_assert_uint_eq(sel.n, 5);
	assert_matcher(0, "__name__", VG_MATCH_EQ, "x");
	assert_matcher(1, "a", VG_MATCH_EQ, "1");
	assert_matcher(2, "b", VG_MATCH_NE, "2");
	assert_matcher(3, "c", VG_MATCH_RE, "3");
	assert_matcher(4, "d", VG_MATCH_NRE, "4");
}
END_TEST

START_TEST(test_parse_three_quote_styles)
{
	parse_ok("{a=\"x\",b='y',c=`z`}");
	assert_matcher(0, "a", VG_MATCH_EQ, "x");
	assert_matcher(1, "b", VG_MATCH_EQ, "y");
	assert_matcher(2, "c", VG_MATCH_EQ, "z");
	/* each quote may hold the others */
	parse_ok("{a=\"'`\",b='\"`',c=`'\"`}");
	assert_matcher(0, "a", VG_MATCH_EQ, "'`");
	assert_matcher(1, "b", VG_MATCH_EQ, "\"`");
	assert_matcher(2, "c", VG_MATCH_EQ, "'\"");
}
END_TEST

START_TEST(test_parse_go_escapes)
{
	parse_ok("{a=\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\"}");
	assert_matcher(0, "a", VG_MATCH_EQ, "\a\b\f\n\r\t\v\\\"");
	parse_ok("{a='\\''}");
	assert_matcher(0, "a", VG_MATCH_EQ, "'");
	parse_ok("{a=\"\\101\\x41\\u00e9\\U0001F600\\x7a\\x7A\"}");
	assert_matcher(0, "a", VG_MATCH_EQ, "AA\xC3\xA9\xF0\x9F\x98\x80zz");
	/* a regex keeps its own escapes once the string's are read */
	parse_ok("{a=~\"\\\\d+\\\\.\"}");
	assert_matcher(0, "a", VG_MATCH_RE, "\\d+\\.");
}
END_TEST

START_TEST(test_parse_backquotes_are_raw)
{
	parse_ok("{a=~`\\d+\\n`}");
	assert_matcher(0, "a", VG_MATCH_RE, "\\d+\\n");
	parse_ok("{a=`line1\nline2`}");
	assert_matcher(0, "a", VG_MATCH_EQ, "line1\nline2");
}
END_TEST

START_TEST(test_parse_escaped_nul_keeps_length)
{
	parse_ok("{a=\"x\\x00y\\000\"}");
	ck_assert_uint_eq(sel.m[0].value_len, 4);
	ck_assert_int_eq(memcmp(sel.m[0].value, "x\0y\0", 5), 0);
}
END_TEST

START_TEST(test_parse_trailing_comma)
{
	parse_ok("{a=\"1\",}");
	ck_assert_uint_eq(sel.n, 1);
	parse_ok("up{a=\"1\", b=\"2\" , }");
	ck_assert_uint_eq(sel.n, 3);
}
END_TEST

START_TEST(test_parse_whitespace_everywhere)
{
	parse_ok(" \n up \t{ a \n= \"b\" ,\r\n c\t!~ 'd' } \n");
	ck_assert_uint_eq(sel.n, 3);
	assert_matcher(0, "__name__", VG_MATCH_EQ, "up");
	assert_matcher(1, "a", VG_MATCH_EQ, "b");
	assert_matcher(2, "c", VG_MATCH_NRE, "d");
}
END_TEST

START_TEST(test_parse_comments_are_space)
{
	parse_ok("up # the metric\n{job=\"x\"} # trailing");
	ck_assert_uint_eq(sel.n, 2);
}
END_TEST

START_TEST(test_parse_utf8_values)
{
	parse_ok("{city=\"Z\xC3\xBCrich\", face='\xF0\x9F\x98\x80', k=`\xE2\x82\xAC`}");
	assert_matcher(0, "city", VG_MATCH_EQ, "Z\xC3\xBCrich");
	assert_matcher(1, "face", VG_MATCH_EQ, "\xF0\x9F\x98\x80");
	assert_matcher(2, "k", VG_MATCH_EQ, "\xE2\x82\xAC");
}
END_TEST

START_TEST(test_parse_punctuation_inside_strings)
{
	parse_ok("{a=\"}\", b=\",\", c=\"{=~\"}");
	assert_matcher(0, "a", VG_MATCH_EQ, "}");
	assert_matcher(1, "b", VG_MATCH_EQ, ",");
	assert_matcher(2, "c", VG_MATCH_EQ, "{=~");
}
END_TEST

START_TEST(test_parse_keywords_allowed_as_labels_and_prefixes)
{
	parse_ok("{on=\"a\", by=\"b\", bool=\"c\", offset=\"d\"}");
	ck_assert_uint_eq(sel.n, 4);
	parse_ok("bool_total");
	parse_ok("offsets");
	parse_ok("by:job");
}
END_TEST

START_TEST(test_parse_empty_string_values)
{
	/* an empty string never allocates: found by fuzz_selector under UBSan
	 * (corpus/selector/empty_single_quoted_string) */
	parse_ok("{a='', b=\"\", c=``, d=\"x\"}");
	ck_assert_uint_eq(sel.n, 4);
	assert_matcher(0, "a", VG_MATCH_EQ, "");
	assert_matcher(1, "b", VG_MATCH_EQ, "");
	assert_matcher(2, "c", VG_MATCH_EQ, "");
	parse_ok("{a=~'', d=\"x\"}");
	assert_matcher(0, "a", VG_MATCH_RE, "");
}
END_TEST

START_TEST(test_parse_length_is_not_nul_terminated)
{
	/* only s[0..len) is read: the rest is garbage */
	parse_ok_n("up{a=\"b\"} garbage", 9);
	ck_assert_uint_eq(sel.n, 2);
	parse_ok_n("up\0\0\0", 2);
	ck_assert_uint_eq(sel.n, 1);
}
END_TEST

START_TEST(test_parse_raw_nul_inside_string)
{
	static const char text[] = "{a=\"x\0y\"}";

	parse_ok_n(text, sizeof(text) - 1);
	ck_assert_uint_eq(sel.m[0].value_len, 3);
	ck_assert_int_eq(memcmp(sel.m[0].value, "x\0y", 3), 0);
}
END_TEST

START_TEST(test_parse_err_may_be_null)
{
	ck_assert_int_eq(vg_promql_parse_selector("up", 2, &sel, NULL, NULL), 0);
	vg_selector_release(&sel);
	ck_assert_int_eq(vg_promql_parse_selector("{}", 2, &sel, NULL, NULL), VG_EINVAL);
	ck_assert_uint_eq(sel.n, 0);
}
END_TEST

START_TEST(test_release_twice_is_safe)
{
	parse_ok("up{a=~\"x\"}");
	vg_selector_release(&sel);
	vg_selector_release(&sel);
	ck_assert_uint_eq(sel.n, 0);
	ck_assert_ptr_null(sel.m);
	vg_selector_release(NULL);
}
END_TEST

/* --- matching --------------------------------------------------------- */

START_TEST(test_match_name_and_labels)
{
	struct vg_series s = series_of("http_requests_total", "job", "api", "code", "200", NULL);

	ck_assert(sel_matches("http_requests_total", &s));
	ck_assert(!sel_matches("http_requests", &s));
	ck_assert(sel_matches("http_requests_total{job=\"api\"}", &s));
	ck_assert(sel_matches("{job=\"api\", code=\"200\"}", &s));
	ck_assert(!sel_matches("{job=\"api\", code=\"500\"}", &s));
	ck_assert(sel_matches("http_requests_total{code!=\"500\"}", &s));
	ck_assert(!sel_matches("http_requests_total{code!=\"200\"}", &s));
	ck_assert(sel_matches("{__name__=~\"http_.*\"}", &s));
	ck_assert(!sel_matches("{__name__!~\"http_.*\", job=\"api\"}", &s));
}
END_TEST

START_TEST(test_match_absent_label_is_empty)
{
	struct vg_series with = series_of("x", "env", "prod", NULL);
	struct vg_series without = series_of("x", NULL);
	/* an empty value is dropped by canonicalization: absent too */
	struct vg_series emptied = series_of("x", "env", "", NULL);

	ck_assert(!sel_matches("x{env=\"\"}", &with));
	ck_assert(sel_matches("x{env=\"\"}", &without));
	ck_assert(sel_matches("x{env=\"\"}", &emptied));
	ck_assert(sel_matches("x{env!=\"prod\"}", &without));
	ck_assert(!sel_matches("x{env!=\"\"}", &without));
	ck_assert(sel_matches("x{env!=\"\"}", &with));
	ck_assert(sel_matches("x{env!~\"prod|dev\"}", &without));
	ck_assert(sel_matches("x{env=~\"prod|\"}", &without));
	ck_assert(!sel_matches("x{env=~\"prod|dev\"}", &without));
	ck_assert(!sel_matches("x{env!~\".*\"}", &without));
	ck_assert(sel_matches("x{other=\"\"}", &with));
}
END_TEST

START_TEST(test_match_regex_is_anchored)
{
	struct vg_series foo = series_of("x", "a", "foo", NULL);

	ck_assert(!sel_matches("{a=~\"fo\"}", &foo));
	ck_assert(!sel_matches("{a=~\"oo\"}", &foo));
	ck_assert(!sel_matches("{a=~\"o\"}", &foo));
	ck_assert(sel_matches("{a=~\"fo.\"}", &foo));
	ck_assert(sel_matches("{a=~\"f.*\"}", &foo));
	ck_assert(sel_matches("x{a!~\"fo\"}", &foo));
	/* alternation stays inside the anchors */
	ck_assert(!sel_matches("{a=~\"x|fo\"}", &foo));
	ck_assert(sel_matches("{a=~\"fo|foo\"}", &foo));
	ck_assert(!sel_matches("{a=~\"^fo\"}", &foo));
}
END_TEST

START_TEST(test_match_regex_end_is_end_of_string)
{
	/* "$" in some engines also matches before a final newline; the anchor must not */
	struct vg_series nl = series_of("x", "a", "foo\n", NULL);

	ck_assert(!sel_matches("{a=~\"foo\"}", &nl));
	ck_assert(!sel_matches("{a=~\"foo$\"}", &nl));
	ck_assert(sel_matches("{a=~\"foo\\n\"}", &nl));
}
END_TEST

START_TEST(test_match_regex_cannot_escape_anchors)
{
	struct vg_series s = series_of("x", "a", "foox", NULL);

	/* \Q without \E quotes to the end of the pattern, and an unbalanced
	 * ")" closes nothing: neither may unanchor the match */
	ck_assert(!sel_matches("{a=~\"\\\\Qfoo\"}", &s));
	parse_err("{a=~\"foo)|(x\"}", "1:2: parse error: error parsing regexp: unexpected ): `foo)|(x`");
	parse_err("{a=~\"foo)(?:\"}", "error parsing regexp");
}
END_TEST

START_TEST(test_match_dot_matches_newline)
{
	struct vg_series s = series_of("x", "a", "a\nb", NULL);

	ck_assert(sel_matches("{a=~\"a.b\"}", &s));
	ck_assert(sel_matches("{a=~\".+\"}", &s));
	ck_assert(!sel_matches("{a!~\".*\"}", &s));
}
END_TEST

START_TEST(test_match_regex_is_utf8)
{
	struct vg_series s = series_of("x", "a", "caf\xC3\xA9", NULL);

	ck_assert(sel_matches("{a=~\"caf.\"}", &s));
	ck_assert(!sel_matches("{a=~\"caf..\"}", &s));
	ck_assert(sel_matches("{a=~\"(?i)CAF\xC3\x89\"}", &s));
}
END_TEST

START_TEST(test_match_all_matchers_on_one_label)
{
	struct vg_series foo = series_of("x", "a", "foo", NULL);
	struct vg_series fob = series_of("x", "a", "fob", NULL);

	ck_assert(!sel_matches("{a=~\"f.*\", a!=\"foo\"}", &foo));
	ck_assert(sel_matches("{a=~\"f.*\", a!=\"foo\"}", &fob));
}
END_TEST

START_TEST(test_match_value_with_nul)
{
	static const char text[] = "{a=\"x\\x00y\"}";
	struct vg_str v = { "x\0y", 3 };
	struct vg_str shorter = { "x", 1 };

	parse_ok_n(text, sizeof(text) - 1);
	ck_assert(vg_matcher_match(&sel.m[0], v));
	ck_assert(!vg_matcher_match(&sel.m[0], shorter));
}
END_TEST

START_TEST(test_match_empty_value_with_null_pointer)
{
	struct vg_str none = { NULL, 0 };

	parse_ok("{a=~\"x|\", b!=\"y\", c=\"z\"}");
	ck_assert(vg_matcher_match(&sel.m[0], none));
	ck_assert(vg_matcher_match(&sel.m[1], none));
}
END_TEST

START_TEST(test_match_invalid_utf8_subject_does_not_match)
{
	struct vg_str bad = { "\xff", 1 };

	parse_ok("{a=~\".*\", b=\"x\"}");
	ck_assert(!vg_matcher_match(&sel.m[0], bad));
}
END_TEST

START_TEST(test_match_catastrophic_regex_returns)
{
	/* (a|aa)+ against a run of a's ending in b: a backtracking engine
	 * takes time exponential in the run (some 10^13 ways to split its 62
	 * a's here); RE2 answers in time linear in it, so the bound of 30 s is
	 * far above what the match takes, and the answers are the true ones */
	char value[64];
	struct vg_str v;
	time_t t0 = time(NULL);

	memset(value, 'a', sizeof(value) - 2);
	value[sizeof(value) - 2] = 'b';
	value[sizeof(value) - 1] = '\0';
	v = vg_str_c(value);
	parse_ok("{a=~\"(a|aa)+\", b!~\"(a|aa)+\", c=\"x\"}");
	ck_assert(!vg_matcher_match(&sel.m[0], v));
	ck_assert(vg_matcher_match(&sel.m[1], v));
	ck_assert(time(NULL) - t0 < 30);
}
END_TEST

/* --- malformed and hostile -------------------------------------------- */

START_TEST(test_err_empty_input)
{
	parse_err("", "1:1: parse error: no expression found in input");
	parse_err("  \n ", "no expression found in input");
	parse_err("# only a comment", "no expression found in input");
}
END_TEST

START_TEST(test_err_empty_braces)
{
	parse_err("{}", "1:1: parse error: vector selector must contain at least one non-empty matcher");
	parse_err("  { }", "1:3: parse error: vector selector must contain at least one non-empty matcher");
}
END_TEST

START_TEST(test_err_only_empty_matching_matchers)
{
	parse_err("{job=~\".*\"}", "vector selector must contain at least one non-empty matcher");
	parse_err("{a=\"\"}", "vector selector must contain at least one non-empty matcher");
	parse_err("{a=\"\", b=~\"x|\", c!=\"y\", d!~\"z\"}", "at least one non-empty matcher");
	parse_err("{__name__=\"\"}", "at least one non-empty matcher");
	/* one non-empty matcher is enough */
	parse_ok("{job=~\".*\", a!=\"\"}");
	parse_ok("{a!~\"\"}");
	parse_ok("{job=~\".+\"}");
}
END_TEST

START_TEST(test_err_unterminated_strings)
{
	parse_err("{a=\"b", "1:4: parse error: unterminated quoted string");
	parse_err("{a='b", "1:4: parse error: unterminated quoted string");
	parse_err("{a=`b", "1:4: parse error: unterminated quoted string");
	parse_err("{a=\"b\\\"}", "1:4: parse error: unterminated quoted string");
	parse_err("{a=\"b\\", "1:6: parse error: unterminated escape sequence");
}
END_TEST

START_TEST(test_err_newline_in_quoted_string)
{
	parse_err("{a=\"b\nc\"}", "1:6: parse error: unterminated quoted string");
	parse_err("{a='b\nc'}", "1:6: parse error: unterminated quoted string");
}
END_TEST

START_TEST(test_err_bad_escapes)
{
	parse_err("{a=\"\\q\"}", "1:5: parse error: unknown escape sequence U+0071 'q'");
	parse_err("{a=\"\\'\"}", "1:5: parse error: unknown escape sequence U+0027");
	parse_err("{a='\\\"'}", "1:5: parse error: unknown escape sequence U+0022");
	parse_err("{a=\"\\x4g\"}", "1:8: parse error: unexpected character 'g' in escape sequence \\x");
	parse_err("{a=\"\\x4\"}", "1:8: parse error: unexpected end of string in escape sequence \\x");
	parse_err("{a=\"\\u12\"}", "1:9: parse error: unexpected end of string in escape sequence \\u");
	parse_err("{a=\"\\18\"}", "octal digit expected");
	parse_err("{a=\"\\400\"}", "1:5: parse error: octal escape value 256 > 255");
	parse_err("{a=\"\\uD800\"}", "1:5: parse error: escape sequence \\u is an invalid Unicode code point");
	parse_err("{a=\"\\U00110000\"}", "invalid Unicode code point");
	parse_err("{a=\"\\ \"}", "unknown escape sequence U+0020");
}
END_TEST

START_TEST(test_err_unknown_op)
{
	parse_err("{a==\"b\"}", "1:3: parse error: unexpected \"==\" in label matching, expected label matching operator");
	parse_err("{a<\"b\"}", "1:3: parse error: unexpected \"<\" in label matching, expected label matching operator");
	parse_err("{a~\"b\"}", "1:3: parse error: unexpected character: '~'");
	parse_err("{a!\"b\"}", "1:3: parse error: unexpected character after '!'");
	parse_err("{a \"b\"}", "1:4: parse error: unexpected string \"\\\"b\\\"\" in label matching, expected label matching operator");
	parse_err("{a}", "1:3: parse error: unexpected \"}\" in label matching, expected label matching operator");
}
END_TEST

START_TEST(test_err_missing_value)
{
	parse_err("foo{bar=}", "1:9: parse error: unexpected \"}\" in label matching, expected string");
	parse_err("{a=,b=\"c\"}", "1:4: parse error: unexpected \",\" in label matching, expected string");
	parse_err("{a=b}", "1:4: parse error: unexpected identifier \"b\" in label matching, expected string");
	parse_err("{a=1}", "1:4: parse error: unexpected number \"1\" in label matching, expected string");
	parse_err("{a=", "1:4: parse error: unexpected end of input inside braces");
}
END_TEST

START_TEST(test_err_missing_label_or_separator)
{
	parse_err("{=\"b\"}", "1:2: parse error: unexpected \"=\" in label matching, expected identifier or \"}\"");
	parse_err("{a=\"b\",,}", "1:8: parse error: unexpected \",\" in label matching, expected identifier or \"}\"");
	parse_err("{,}", "1:2: parse error: unexpected \",\"");
	parse_err("{a=\"b\" c=\"d\"}", "1:8: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\"");
	parse_err("{\"a\"=\"b\"}", "1:2: parse error: unexpected string \"\\\"a\\\"\" in label matching, expected identifier");
	parse_err("{a:b=\"c\"}", "1:3: parse error: unexpected character inside braces: ':'");
	parse_err("{1a=\"c\"}", "1:2: parse error: bad number or duration syntax: \"1a\"");
	parse_err("{a=\"b\"", "1:7: parse error: unexpected end of input inside braces");
	parse_err("{", "1:2: parse error: unexpected end of input inside braces");
}
END_TEST

START_TEST(test_err_columns_count_lines)
{
	parse_err("{\n  a=}", "2:5: parse error: unexpected \"}\" in label matching, expected string");
	parse_err("up{\r\n\ta=\"b\",\n\n   c}", "4:5: parse error");
	parse_err("up # c\n  # d\n  foo", "3:3: parse error: unexpected identifier \"foo\"");
}
END_TEST

START_TEST(test_err_keyword_as_metric_name)
{
	static const char *const words[] = {
		"bool", "on", "ignoring", "group_left", "group_right", "offset", "by", "without",
		"BOOL", "Offset",
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		parse_err(words[i], "1:1: parse error: unexpected keyword");
	parse_err("on{a=\"b\"}", "1:1: parse error: unexpected keyword \"on\"");
	parse_err("  by", "1:3: parse error: unexpected keyword \"by\"");
}
END_TEST

START_TEST(test_err_metric_name_set_twice)
{
	parse_err("a{__name__=\"b\"}", "1:1: parse error: metric name must not be set twice: \"a\" or \"b\"");
	parse_err("a{x=\"y\", __name__=~\"b.*\"}", "metric name must not be set twice: \"a\" or \"b.*\"");
	parse_err("  a{__name__!=\"b\"}", "1:3: parse error: metric name must not be set twice");
	/* twice inside the braces is two matchers, as in Prometheus */
	parse_ok("{__name__=\"a\", __name__!=\"b\"}");
	ck_assert_uint_eq(sel.n, 2);
}
END_TEST

START_TEST(test_err_trailing_garbage)
{
	parse_err("up foo", "1:4: parse error: unexpected identifier \"foo\"");
	parse_err("up{a=\"b\"} x", "1:11: parse error: unexpected identifier \"x\"");
	parse_err("up}", "1:3: parse error: unexpected character: '}'");
	parse_err("up{a=\"b\"}}", "1:10: parse error: unexpected character: '}'");
	/* valid PromQL, but not a series selector */
	parse_err("up[5m]", "1:1: parse error: expected a series selector, got an expression of type range vector");
	parse_err("up offset 5m", "1:1: parse error: expected a series selector, got a selector with a modifier");
	parse_err("{a=\"b\"}{c=\"d\"}", "1:8: parse error: unexpected \"{\"");
	parse_err("sum(up)", "expected a series selector, got an expression of type instant vector");
	parse_err("up == 1", "expected a series selector");
}
END_TEST

START_TEST(test_err_not_a_selector)
{
	parse_err("123", "1:1: parse error: expected a series selector, got an expression of type scalar");
	parse_err("}", "1:1: parse error: unexpected character: '}'");
	parse_err("\"up\"", "1:1: parse error: expected a series selector, got an expression of type string");
	parse_err("-up", "1:1: parse error: expected a series selector, got an expression of type instant vector");
}
END_TEST

START_TEST(test_err_invalid_regex_names_matcher)
{
	/* Go's words, as Prometheus shows them */
	parse_err("{a=~\"(\"}", "1:2: parse error: error parsing regexp: missing closing ): `(`");
	parse_err("up{job!~\"[z-a]\"}", "1:4: parse error: error parsing regexp: invalid character class range: `z-a`");
	parse_err("{a=~\"*\"}", "error parsing regexp: missing argument to repetition operator: `*`");
	parse_err("{a=~'x{2,1}'}", "error parsing regexp: invalid repeat count: `{2,1}`");
}
END_TEST

START_TEST(test_err_regex_nested_too_deep)
{
	struct vg_buf b = VG_BUF_INIT;

	vg_buf_puts(&b, "{a=~\"");
	for (int i = 0; i < 5000; i++)
		vg_buf_putc(&b, '(');
	vg_buf_putc(&b, 'x');
	for (int i = 0; i < 5000; i++)
		vg_buf_putc(&b, ')');
	vg_buf_puts(&b, "\"}");
	ck_assert(!vg_buf_failed(&b));
	parse_err_n((const char *)b.data, b.len, "1:2: parse error: error parsing regexp: expression nests too deeply");
	vg_buf_release(&b);
}
END_TEST

START_TEST(test_err_too_many_matchers)
{
	struct vg_buf b = VG_BUF_INIT;

	vg_buf_putc(&b, '{');
	for (int i = 0; i < 64; i++)
		vg_buf_printf(&b, "l%d=\"v\",", i);
	vg_buf_putc(&b, '}');
	parse_ok_n((const char *)b.data, b.len);
	ck_assert_uint_eq(sel.n, 64);

	/* the metric name counts as a matcher */
	vg_buf_reset(&b);
	vg_buf_puts(&b, "x{");
	for (int i = 0; i < 64; i++)
		vg_buf_printf(&b, "l%d=\"v\",", i);
	vg_buf_putc(&b, '}');
	parse_err_n((const char *)b.data, b.len, "too many matchers: a selector has at most 64");

	vg_buf_reset(&b);
	vg_buf_puts(&b, "{");
	for (int i = 0; i < 10000; i++)
		vg_buf_puts(&b, "a=\"b\",");
	vg_buf_putc(&b, '}');
	/* the 65th starts at column 2 + 64 * 6 */
	parse_err_n((const char *)b.data, b.len, "1:386: parse error: too many matchers");
	vg_buf_release(&b);
}
END_TEST

START_TEST(test_err_input_over_64k)
{
	const size_t limit = 64 * 1024;
	char *text = malloc(limit + 2);

	ck_assert_ptr_nonnull(text);
	/* exactly 64 KiB parses: {a="xxx...x"} */
	memcpy(text, "{a=\"", 4);
	memset(text + 4, 'x', limit - 6);
	memcpy(text + limit - 2, "\"}", 2);
	parse_ok_n(text, limit);
	ck_assert_uint_eq(sel.m[0].value_len, limit - 6);
	/* one byte more does not, whatever it holds */
	memcpy(text + limit - 2, "x\"}", 3);
	parse_err_n(text, limit + 1, "longer than the limit of 65536");
	free(text);
}
END_TEST

START_TEST(test_err_nul_bytes_outside_strings)
{
	parse_err_n("up\0", 3, "1:3: parse error: unexpected character: byte 0x00");
	parse_err_n("\0up", 3, "1:1: parse error: unexpected character: byte 0x00");
	parse_err_n("{a\0=\"b\"}", 8, "1:3: parse error: unexpected character: byte 0x00");
	parse_err_n("{a=\"b\"\0}", 8, "1:7: parse error: unexpected character: byte 0x00");
}
END_TEST

START_TEST(test_err_invalid_utf8)
{
	parse_err("{a=\"x\xffy\"}", "1:6: parse error: invalid UTF-8 byte 0xff in string");
	parse_err("{a=`\xC3`}", "1:5: parse error: invalid UTF-8 byte 0xc3 in string");
	parse_err("{a='\xED\xA0\x80'}", "1:5: parse error: invalid UTF-8 byte 0xed in string");
	parse_err("{a=\"\xC0\xAF\"}", "invalid UTF-8 byte 0xc0");
	/* truncated at the end of the input */
	parse_err_n("{a=\"\xE2\x82", 6, "1:5: parse error: invalid UTF-8 byte 0xe2");
	/* escapes that spell invalid UTF-8 */
	parse_err("{a=\"\\xff\"}", "1:4: parse error: string is not valid UTF-8");
	parse_err("{a=\"\\303\"}", "string is not valid UTF-8");
	/* outside a string */
	parse_err("\xff", "1:1: parse error: unexpected character: byte 0xff");
	parse_err("{\xC3\xA9=\"x\"}", "1:2: parse error: unexpected character: '\xC3\xA9'");
}
END_TEST

START_TEST(test_err_garbage_and_nesting)
{
	struct vg_buf b = VG_BUF_INIT;

	for (int i = 0; i < 20000; i++)
		vg_buf_putc(&b, '{');
	parse_err_n((const char *)b.data, b.len, "1:2: parse error: unexpected \"{\" in label matching");
	vg_buf_reset(&b);
	for (int i = 0; i < 20000; i++)
		vg_buf_putc(&b, '(');
	/* nesting is bounded: an error, not a deep recursion */
	parse_err_n((const char *)b.data, b.len, "1:129: parse error: expression nests too deeply: more than 128 levels");
	vg_buf_reset(&b);
	for (int i = 0; i < 20000; i++)
		vg_buf_puts(&b, "\\\"");
	parse_err_n((const char *)b.data, b.len, "1:1: parse error: unexpected character: '\\'");
	vg_buf_release(&b);
	parse_err("{a=\"b\"}}}}}}", "1:8: parse error");
	parse_err("{{a=\"b\"}}", "1:2: parse error");
	parse_err("up{a=\"b\"", "unexpected end of input inside braces");
}
END_TEST

START_TEST(test_err_random_bytes_never_crash)
{
	/* any bytes either parse or fail cleanly with a positioned message */
	static const char alphabet[] = "{}=!~,\"'`\\ \nab_:0x\xff\xC3\xA9.*()[]|#";
	unsigned state = 12345;
	char text[48];

	for (int i = 0; i < 20000; i++) {
		struct vg_err err = { 0 };
		size_t len = (size_t)(i % (int)sizeof(text));
		int rc;

		for (size_t k = 0; k < len; k++) {
			state = state * 1103515245 + 12345;
			text[k] = alphabet[(state >> 16) % (sizeof(alphabet) - 1)];
		}
		vg_selector_release(&sel);
		rc = vg_promql_parse_selector(text, len, &sel, NULL, &err);
		if (rc == 0) {
			struct vg_series s = series_of("ab", "a", "b", NULL);
			ck_assert_uint_gt(sel.n, 0);
			(void)vg_selector_match(&sel, &s);
		} else {
			ck_assert_int_eq(rc, VG_EINVAL);
			ck_assert_msg(strstr(err.msg, "parse error: ") != NULL, "%s", err.msg);
			ck_assert_uint_eq(sel.n, 0);
		}
	}
}
END_TEST

static Suite *selector_suite(void)
{
	Suite *s = suite_create("selector");
	TCase *tc = tcase_create("parse");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parse_name_only);
	tcase_add_test(tc, test_parse_name_with_empty_braces);
	tcase_add_test(tc, test_parse_braces_only);
	tcase_add_test(tc, test_parse_name_in_braces);
	tcase_add_test(tc, test_parse_all_four_ops_in_order);
	tcase_add_test(tc, test_parse_three_quote_styles);
	tcase_add_test(tc, test_parse_go_escapes);
	tcase_add_test(tc, test_parse_backquotes_are_raw);
	tcase_add_test(tc, test_parse_escaped_nul_keeps_length);
	tcase_add_test(tc, test_parse_trailing_comma);
	tcase_add_test(tc, test_parse_whitespace_everywhere);
	tcase_add_test(tc, test_parse_comments_are_space);
	tcase_add_test(tc, test_parse_utf8_values);
	tcase_add_test(tc, test_parse_punctuation_inside_strings);
	tcase_add_test(tc, test_parse_keywords_allowed_as_labels_and_prefixes);
	tcase_add_test(tc, test_parse_empty_string_values);
	tcase_add_test(tc, test_parse_length_is_not_nul_terminated);
	tcase_add_test(tc, test_parse_raw_nul_inside_string);
	tcase_add_test(tc, test_parse_err_may_be_null);
	tcase_add_test(tc, test_release_twice_is_safe);
	suite_add_tcase(s, tc);

	tc = tcase_create("match");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_match_name_and_labels);
	tcase_add_test(tc, test_match_absent_label_is_empty);
	tcase_add_test(tc, test_match_regex_is_anchored);
	tcase_add_test(tc, test_match_regex_end_is_end_of_string);
	tcase_add_test(tc, test_match_regex_cannot_escape_anchors);
	tcase_add_test(tc, test_match_dot_matches_newline);
	tcase_add_test(tc, test_match_regex_is_utf8);
	tcase_add_test(tc, test_match_all_matchers_on_one_label);
	tcase_add_test(tc, test_match_value_with_nul);
	tcase_add_test(tc, test_match_empty_value_with_null_pointer);
	tcase_add_test(tc, test_match_invalid_utf8_subject_does_not_match);
	tcase_add_test(tc, test_match_catastrophic_regex_returns);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_err_empty_input);
	tcase_add_test(tc, test_err_empty_braces);
	tcase_add_test(tc, test_err_only_empty_matching_matchers);
	tcase_add_test(tc, test_err_unterminated_strings);
	tcase_add_test(tc, test_err_newline_in_quoted_string);
	tcase_add_test(tc, test_err_bad_escapes);
	tcase_add_test(tc, test_err_unknown_op);
	tcase_add_test(tc, test_err_missing_value);
	tcase_add_test(tc, test_err_missing_label_or_separator);
	tcase_add_test(tc, test_err_columns_count_lines);
	tcase_add_test(tc, test_err_keyword_as_metric_name);
	tcase_add_test(tc, test_err_metric_name_set_twice);
	tcase_add_test(tc, test_err_trailing_garbage);
	tcase_add_test(tc, test_err_not_a_selector);
	tcase_add_test(tc, test_err_invalid_regex_names_matcher);
	tcase_add_test(tc, test_err_regex_nested_too_deep);
	tcase_add_test(tc, test_err_too_many_matchers);
	tcase_add_test(tc, test_err_input_over_64k);
	tcase_add_test(tc, test_err_nul_bytes_outside_strings);
	tcase_add_test(tc, test_err_invalid_utf8);
	tcase_add_test(tc, test_err_garbage_and_nesting);
	tcase_add_test(tc, test_err_random_bytes_never_crash);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(selector_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
