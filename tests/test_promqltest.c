/*
 * test_promqltest.c: `vigil promql-test` (cli/promqltest.c) and its file
 * parser (cli/promqltest_parse.c). The parser is tested directly: value
 * expansions, eval lines in the current and older spellings, expected
 * results, and hostile input (each error with its line). The runner is
 * run as the real program: over the engine's own tests in tests/promql/
 * (every case must pass), over a file that fails on purpose (exit 1, each
 * failure named FILE:LINE), over a file with a syntax error and without
 * files (exit 2), and it must leave no temporary directory behind.
 */
#include "cli/promqltest_parse.h"
#include "common/err.h"
#include "tests/harness.h"

#include <check.h>
#include <dirent.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

static int parse(const char *text, struct vg_ptest_file *f, unsigned *line, struct vg_err *err)
{
	return vg_ptest_parse(text, strlen(text), f, line, err);
}

static const struct vg_ptest_value *vals(const struct vg_ptest_file *f, size_t cmd, size_t series,
					 size_t *n)
{
	ck_assert_uint_gt(f->n_cmds, cmd);
	ck_assert_uint_gt(f->cmds[cmd].n_series, series);
	*n = f->cmds[cmd].series[series].n_vals;
	return f->cmds[cmd].series[series].vals;
}

START_TEST(test_expansions)
{
	struct vg_ptest_file f;
	struct vg_err err = { 0 };
	const struct vg_ptest_value *v;
	size_t n;

	ck_assert_int_eq(parse("load 5m\n"
			       "  a{x=\"1\"} 1+2x3 _ stale -1 _x2 3-1x2 7x1\n"
			       "  b 0x3 1e3 -Inf NaN\n"
			       "\n"
			       "clear\n",
			       &f, NULL, &err), 0);
	ck_assert_uint_eq(f.n_cmds, 2);
	ck_assert_int_eq(f.cmds[0].kind, VG_PTEST_LOAD);
	ck_assert_int_eq(f.cmds[0].interval_ms, 300000);
	ck_assert_int_eq(f.cmds[1].kind, VG_PTEST_CLEAR);
	ck_assert_uint_eq(f.cmds[1].line, 5);
	v = vals(&f, 0, 0, &n);
	/* 1 3 5 7, _, stale, -1, _ _, 3 2 1, 7 7 */
	ck_assert_uint_eq(n, 4 + 1 + 1 + 1 + 2 + 3 + 2);
	ck_assert(v[0].v == 1 && v[3].v == 7 && v[3].kind == VG_PTEST_VALUE);
	ck_assert_int_eq(v[4].kind, VG_PTEST_OMITTED);
	ck_assert_int_eq(v[5].kind, VG_PTEST_STALE);
	ck_assert(v[6].v == -1);
	ck_assert(v[7].kind == VG_PTEST_OMITTED && v[8].kind == VG_PTEST_OMITTED);
	ck_assert(v[9].v == 3 && v[10].v == 2 && v[11].v == 1);
	ck_assert(v[12].v == 7 && v[13].v == 7);
	/* 'x' is "times": 0x3 is four zeros, not hex */
	v = vals(&f, 0, 1, &n);
	ck_assert_uint_eq(n, 4 + 3);
	ck_assert(v[3].v == 0 && v[4].v == 1000 && isinf(v[5].v) && v[5].v < 0 && isnan(v[6].v));
	ck_assert_uint_eq(f.cmds[0].series[1].key_len, 2); /* "b" 0xFF */
	vg_ptest_file_release(&f);
}
END_TEST

START_TEST(test_eval_lines)
{
	struct vg_ptest_file f;
	struct vg_err err = { 0 };
	const struct vg_ptest_cmd *c;

	ck_assert_int_eq(parse("eval instant at 1h30m sum by (a) (x)\n"
			       "  expect ordered\n"
			       "  {a=\"b\"} 3\n"
			       "  {} 4\n"
			       "  7\n"
			       "\n"
			       "# a comment\n"
			       "eval range from 0 to 2m step 30s rate(x[1m])\n"
			       "  expect fail regex: bad.*thing\n"
			       "\n"
			       "eval_fail instant at 90 x\n"
			       "  expected_fail_message some error\n"
			       "\n"
			       "eval_ordered instant x\n"
			       "\n"
			       "eval instant at 0 \"s\"\n"
			       "  expect string \"a\\\"b\"\n"
			       "  expect no_warn\n",
			       &f, NULL, &err), 0);
	ck_assert_uint_eq(f.n_cmds, 5);
	c = &f.cmds[0];
	ck_assert(!c->is_range && c->t_ms == 5400000 && c->is_ordered && !c->is_fail);
	ck_assert_str_eq(c->expr, "sum by (a) (x)");
	ck_assert_uint_eq(c->n_series, 3);
	ck_assert_uint_eq(c->series[1].key_len, 1); /* {}: no name, no labels */
	ck_assert(!c->series[1].is_scalar && c->series[2].is_scalar && c->series[2].vals[0].v == 7);
	ck_assert_uint_eq(c->series[2].line, 5);
	c = &f.cmds[1];
	ck_assert(c->is_range && c->start_ms == 0 && c->end_ms == 120000 && c->step_ms == 30000);
	ck_assert(c->is_fail && c->is_fail_regex);
	ck_assert_str_eq(c->fail_text, "bad.*thing");
	ck_assert_uint_eq(c->n_series, 0);
	c = &f.cmds[2];
	ck_assert(c->is_fail && !c->is_fail_regex && c->t_ms == 90000);
	ck_assert_str_eq(c->fail_text, "some error");
	c = &f.cmds[3];
	ck_assert(c->is_ordered && c->t_ms == 0);
	ck_assert_str_eq(c->expr, "x");
	c = &f.cmds[4];
	ck_assert(c->has_string && c->string_len == 3 && memcmp(c->string, "a\"b", 3) == 0);
	ck_assert_int_eq(c->warn, VG_PTEST_ANNOT_NONE);
	vg_ptest_file_release(&f);
}
END_TEST

/* Malformed and hostile input: a clear error with its line, nothing kept. */
START_TEST(test_errors)
{
	static const struct {
		const char *text;
		size_t len; /* 0: strlen */
		int rc;
		unsigned line;
		const char *msg;
	} cases[] = {
		{ "bogus 1m\n", 0, VG_EINVAL, 1, "unknown command" },
		{ "\nload\n", 0, VG_EINVAL, 2, "expected an interval" },
		{ "load 0\n", 0, VG_EINVAL, 1, "positive" },
		{ "load 5x\n", 0, VG_EINVAL, 1, "invalid interval" },
		{ "load 1m 2m\n", 0, VG_EINVAL, 1, "unexpected" },
		{ "load 1m\n a 1 2\n a 1+\n", 0, VG_EINVAL, 3, "invalid value" },
		{ "load 1m\n a 1x\n", 0, VG_EINVAL, 2, "count" },
		{ "load 1m\n a _xq\n", 0, VG_EINVAL, 2, "invalid count" },
		{ "load 1m\n a{b=\"c} 1\n", 0, VG_EINVAL, 2, "quoted value" },
		{ "load 1m\n a{b=c} 1\n", 0, VG_EINVAL, 2, "quoted value" },
		{ "load 1m\n a{b=\"c\" d=\"e\"} 1\n", 0, VG_EINVAL, 2, "',' or '}'" },
		{ "load 1m\n a{__x=\"c\"} 1\n", 0, VG_EINVAL, 2, "reserved" },
		{ "load 1m\n a{b=\"c\",b=\"d\"} 1\n", 0, VG_EINVAL, 2, "twice" },
		{ "load 1m\n a{__name__=\"b\"} 1\n", 0, VG_EINVAL, 2, "twice" },
		{ "load 1m\n a{b=\"c\"}1\n", 0, VG_EINVAL, 2, "space" },
		{ "load 1m\n 1 2\n", 0, VG_EINVAL, 2, "expected a series" },
		{ "load 1m\n a 0+1x99999999999999999999\n", 0, VG_ELIMIT, 2, "values" },
		{ "load 1m\n a 0+1x4000000\n b 0+1x4000000\n", 0, VG_ELIMIT, 3, "values" },
		{ "load 1m\n a _x99999999999\n", 0, VG_ELIMIT, 2, "values" },
		{ "eval instant at 1m\n", 0, VG_EINVAL, 1, "missing the expression" },
		{ "eval instant at\n", 0, VG_EINVAL, 1, "time" },
		{ "eval instant at -5m x\n", 0, VG_EINVAL, 1, "time" },
		{ "eval sometimes x\n", 0, VG_EINVAL, 1, "instant" },
		{ "eval_maybe instant x\n", 0, VG_EINVAL, 1, "unknown command" },
		{ "eval range from 0 to 1m x\n", 0, VG_EINVAL, 1, "step" },
		{ "eval range from 0 to 1m step 0 x\n", 0, VG_EINVAL, 1, "positive" },
		{ "eval instant at 0 x\n expect sometimes\n", 0, VG_EINVAL, 2, "unknown expectation" },
		{ "eval instant at 0 x\n expect fail because\n", 0, VG_EINVAL, 2, "msg:" },
		{ "eval instant at 0 x\n expect string nope\n", 0, VG_EINVAL, 2, "quoted string" },
		{ "eval range from 0 to 1m step 1m x\n expect ordered\n", 0, VG_EINVAL, 2, "instant" },
		{ "load 1m\n a 1\0 2\n", 16, VG_EINVAL, 2, "NUL" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vg_ptest_file f;
		struct vg_err err = { 0 };
		unsigned line = 0;
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
		int rc;
		rc = vg_ptest_parse(cases[i].text, len, &f, &line, &err);
		ck_assert_msg(rc == cases[i].rc, "case %zu: rc %d (%s)", i, rc, err.msg);
		ck_assert_msg(line == cases[i].line, "case %zu: line %u (%s)", i, line, err.msg);
		ck_assert_msg(strstr(err.msg, cases[i].msg) != NULL, "case %zu: %s", i, err.msg);
		vg_ptest_file_release(&f);
	}
}
END_TEST

START_TEST(test_long_line)
{
	size_t n = VG_PTEST_MAX_LINE + 100;
	char *text = malloc(n + 1);
	struct vg_ptest_file f;
	struct vg_err err = { 0 };
	unsigned line = 0;

	ck_assert_ptr_nonnull(text);
	memcpy(text, "load 1m\n a", 10);
	memset(text + 10, '1', n - 10);
	text[n] = '\0';
	ck_assert_int_eq(vg_ptest_parse(text, n, &f, &line, &err), VG_ELIMIT);
	ck_assert_uint_eq(line, 2);
	vg_ptest_file_release(&f);
	free(text);
}
END_TEST

START_TEST(test_almost_equal)
{
	ck_assert(vg_ptest_almost_equal(1, 1, 1e-6));
	ck_assert(vg_ptest_almost_equal(NAN, NAN, 1e-6));
	ck_assert(!vg_ptest_almost_equal(NAN, 1, 1e-6));
	ck_assert(vg_ptest_almost_equal(INFINITY, INFINITY, 1e-6));
	ck_assert(!vg_ptest_almost_equal(INFINITY, -INFINITY, 1e-6));
	ck_assert(vg_ptest_almost_equal(1e9, 1e9 + 1, 1e-6));
	ck_assert(!vg_ptest_almost_equal(1, 1.00001, 1e-6));
	ck_assert(!vg_ptest_almost_equal(0, 1e-300, 1e-6));
	ck_assert(vg_ptest_almost_equal(0.1 + 0.2, 0.3, 1e-6));
}
END_TEST

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* Runs vigil promql-test with TMPDIR pointing at a fresh directory, which
 * must be empty again afterwards. */
static int run(char *const *files, size_t n, char **out, char **err)
{
	char *argv[64];
	char *tmp = vg_t_tmpdir("ptest");
	int rc, left;

	ck_assert_uint_lt(n, 60);
	argv[0] = (char *)vg_t_bin("vigil");
	argv[1] = "promql-test";
	for (size_t i = 0; i < n; i++)
		argv[2 + i] = files[i];
	argv[2 + n] = NULL;
	ck_assert_int_eq(setenv("TMPDIR", tmp, 1), 0);
	rc = vg_t_run(argv, out, err, 120000);
	unsetenv("TMPDIR");
	left = count_entries(tmp);
	ck_assert_msg(left == 0, "the runner left %d entries in its TMPDIR", left);
	vg_t_rmrf(tmp);
	free(tmp);
	return rc;
}

START_TEST(test_engine_files)
{
	glob_t g;
	char *out = NULL, *err = NULL;
	int rc;

	ck_assert_int_eq(glob(VG_PROMQL_TESTS "/*.test", 0, NULL, &g), 0);
	ck_assert_uint_ge(g.gl_pathc, 8);
	rc = run(g.gl_pathv, g.gl_pathc, &out, &err);
	if (rc != 0) /* show the failures */
		fprintf(stderr, "%s%s", out ? out : "", err ? err : "");
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(strstr(out, " passed, 0 failed\n"));
	ck_assert_ptr_null(strstr(out, "FAIL "));
	globfree(&g);
	free(out);
	free(err);
}
END_TEST

START_TEST(test_failing_file)
{
	char *files[] = { VG_TEST_DATA "/promqltest/failing.test" };
	char *out = NULL, *err = NULL;

	ck_assert_int_eq(run(files, 1, &out, &err), 1);
	ck_assert_ptr_nonnull(strstr(out, "PASS " VG_TEST_DATA "/promqltest/failing.test:6: up\n"));
	ck_assert_ptr_nonnull(strstr(out, "FAIL " VG_TEST_DATA "/promqltest/failing.test:9: up\n"));
	ck_assert_ptr_nonnull(strstr(out, "value 3, not 4"));
	ck_assert_ptr_nonnull(strstr(out, "FAIL " VG_TEST_DATA "/promqltest/failing.test:12: up\n"));
	ck_assert_ptr_nonnull(strstr(out, "expected an error"));
	ck_assert_ptr_nonnull(strstr(out, "PASS " VG_TEST_DATA "/promqltest/failing.test:15: up\n"));
	ck_assert_ptr_nonnull(strstr(out, "promql-test: 4 cases in 1 files: 2 passed, 2 failed\n"));
	free(out);
	free(err);
}
END_TEST

START_TEST(test_file_errors)
{
	char *files[] = { VG_TEST_DATA "/promqltest/syntax_error.test", VG_TEST_DATA "/promqltest/failing.test",
			  VG_TEST_DATA "/promqltest/no_such.test" };
	char *out = NULL, *err = NULL;

	/* the other files still run; a file error makes it 2 */
	ck_assert_int_eq(run(files, 3, &out, &err), 2);
	ck_assert_ptr_nonnull(strstr(err, "syntax_error.test:5: invalid value \"x4\""));
	ck_assert_ptr_nonnull(strstr(err, "no_such.test:cannot open"));
	ck_assert_ptr_nonnull(strstr(out, "4 cases in 3 files: 2 passed, 2 failed"));
	free(out);
	free(err);
	ck_assert_int_eq(run(files, 0, &out, &err), 2);
	ck_assert_ptr_nonnull(strstr(err, "missing FILE"));
	free(out);
	free(err);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("promqltest");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_expansions);
	tcase_add_test(tc, test_eval_lines);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_almost_equal);
	suite_add_tcase(s, tc);
	tc = tcase_create("run");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_engine_files);
	tcase_add_test(tc, test_failing_file);
	tcase_add_test(tc, test_file_errors);
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
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
