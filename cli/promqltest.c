/*
 * promqltest.c: `vigil promql-test FILE...` (promqltest.h).
 *
 * Owns running parsed test files: loading samples into a head served
 * through storage.h (the receiver's own read path, blocks directory in a
 * temporary data directory made here and removed at the end), evaluating
 * each case with vg_eval_instant / vg_eval_range at the case's times with
 * the 5m lookback the format assumes, and comparing the answer with the
 * expected one. The file syntax is promqltest_parse.c's.
 *
 * No retention or sample-age limit applies: those belong to ingest, and
 * samples go straight into the head, from time 0 on.
 *
 * Comparison, as Prometheus's runner compares: the same set of series (by
 * full label set, __name__ included), each with the same points (a range
 * result: the same steps present), values equal within a relative
 * VG_PTEST_EPSILON (vg_ptest_almost_equal; NaN equals NaN); with "expect
 * ordered" the series in the same order; "expect fail" passes on any
 * evaluation or parse error, or only on the one whose message equals
 * "msg:" (or contains a match of "regex:").
 */
#include "config.h" /* _GNU_SOURCE: nftw */

#include "cli/promqltest.h"
#include "cli/promqltest_parse.h"
#include "receiver/query/eval.h"
#include "receiver/storage/head.h"
#include "receiver/storage/storage.h"
#include "promql/lex.h"
#include "promql/parse.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/regex.h"
#include "common/series.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/banned.h"

#define LOOKBACK_MS (5 * 60 * 1000)
#define MAX_FILE_BYTES (256u << 20)

struct engine {
	char dir[PATH_MAX];
	bool has_dir;
	struct vg_head *head;
	struct vg_storage *st;
};

struct tally {
	unsigned cases, passed, failed, files, file_errors;
};

/* ---- the engine ---------------------------------------------------------- */

static void engine_close(struct engine *e)
{
	vg_storage_close(e->st);
	vg_head_free(e->head);
	e->st = NULL;
	e->head = NULL;
}

static int engine_open(struct engine *e, struct vg_err *err)
{
	struct vg_storage_options o = { e->dir, NULL };
	int rc;

	if ((e->head = vg_head_new()) == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	o.head = e->head;
	if ((rc = vg_storage_open(&o, &e->st, err)) != 0) {
		vg_head_free(e->head);
		e->head = NULL;
	}
	return rc;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 ? 0 : -1;
}

/* Removes the data directory this run made, with what the storage left
 * in it. */
static void engine_remove_dir(struct engine *e)
{
	if (e->has_dir && nftw(e->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "vigil: cannot remove %s: %s\n", e->dir, strerror(errno));
	e->has_dir = false;
}

static int engine_make_dir(struct engine *e, struct vg_err *err)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(e->dir, sizeof(e->dir), "%s/vigil-promqltest.XXXXXX", tmp) >= sizeof(e->dir))
		return vg_err_set(err, VG_EINVAL, "TMPDIR too long");
	if (mkdtemp(e->dir) == NULL)
		return vg_err_set(err, VG_EIO, "cannot make a directory %s: %s", e->dir, strerror(errno));
	e->has_dir = true;
	return 0;
}

static int load(struct engine *e, const struct vg_ptest_cmd *c, struct vg_err *err)
{
	const uint64_t stale_bits = 0x7ff0000000000002ULL;
	double stale;
	int rc = 0;

	memcpy(&stale, &stale_bits, sizeof(stale));
	for (size_t i = 0; i < c->n_series && rc == 0; i++) {
		const struct vg_ptest_series *s = &c->series[i];
		struct vg_series ser;
		uint32_t id, *ids = NULL;
		int64_t *ts = NULL;
		double *vs = NULL;
		size_t n = 0;
		bool is_new;

		if (vg_series_from_key(s->key, s->key_len, &ser) != 0 || ser.name.len == 0)
			return vg_err_set(err, VG_EINVAL, "%u: a loaded series needs a metric name", s->line);
		if ((rc = vg_head_get_or_create(e->head, &ser, vg_series_hash(&ser), &id, &is_new)) != 0)
			return vg_err_set(err, rc, "%u: cannot create the series: %s", s->line, vg_strerror(rc));
		ids = malloc((s->n_vals ? s->n_vals : 1) * sizeof(*ids));
		ts = malloc((s->n_vals ? s->n_vals : 1) * sizeof(*ts));
		vs = malloc((s->n_vals ? s->n_vals : 1) * sizeof(*vs));
		if (ids == NULL || ts == NULL || vs == NULL) {
			rc = vg_err_set(err, VG_ENOMEM, "out of memory");
		} else {
			for (size_t k = 0; k < s->n_vals; k++) {
				if (s->vals[k].kind == VG_PTEST_OMITTED)
					continue;
				if ((int64_t)k > INT64_MAX / c->interval_ms) {
					rc = vg_err_set(err, VG_EINVAL, "%u: sample time out of range", s->line);
					break;
				}
				ids[n] = id;
				ts[n] = (int64_t)k * c->interval_ms;
				vs[n] = s->vals[k].kind == VG_PTEST_STALE ? stale : s->vals[k].v;
				n++;
			}
			if (rc == 0 && n > 0 && (rc = vg_head_append(e->head, n, ids, ts, vs)) != 0)
				rc = vg_err_set(err, rc, "%u: cannot store the samples: %s", s->line, vg_strerror(rc));
		}
		free(ids);
		free(ts);
		free(vs);
	}
	return rc;
}

/* ---- rendering, in the notation of the files ---------------------------- */

static void put_key(struct vg_buf *b, const uint8_t *key, size_t len)
{
	struct vg_series s;

	if (vg_series_from_key(key, len, &s) != 0) {
		vg_buf_puts(b, "<bad key>");
		return;
	}
	if (s.name.len == 0 && s.n_labels == 0)
		vg_buf_puts(b, "{}");
	else
		vg_series_format(&s, b);
}

/* Prometheus's text of a value: shortest digits, exponent form when large
 * or small. */
static void put_number(struct vg_buf *b, double v)
{
	char s[32];
	size_t n = vg_fmt_value(v, s, sizeof(s));

	vg_buf_append(b, s, n);
}

static void put_value(struct vg_buf *b, const struct vg_ptest_value *v)
{
	if (v->kind == VG_PTEST_OMITTED)
		vg_buf_putc(b, '_');
	else if (v->kind == VG_PTEST_STALE)
		vg_buf_puts(b, "stale");
	else
		put_number(b, v->v);
}

static void put_expected(struct vg_buf *b, const struct vg_ptest_cmd *c)
{
	if (c->has_string) {
		vg_buf_puts(b, "       string ");
		vg_lex_quote(b, c->string, c->string_len);
		vg_buf_putc(b, '\n');
	}
	if (c->n_series == 0 && !c->has_string)
		vg_buf_puts(b, "       (nothing)\n");
	for (size_t i = 0; i < c->n_series; i++) {
		const struct vg_ptest_series *s = &c->series[i];
		vg_buf_puts(b, "       ");
		if (!s->is_scalar) {
			put_key(b, s->key, s->key_len);
			vg_buf_putc(b, ' ');
		}
		for (size_t k = 0; k < s->n_vals; k++) {
			if (k)
				vg_buf_putc(b, ' ');
			put_value(b, &s->vals[k]);
		}
		vg_buf_putc(b, '\n');
	}
}

static void put_result(struct vg_buf *b, const struct vg_ptest_cmd *c, const struct vg_eval_result *r)
{
	if (r->type == VG_PROMQL_SCALAR) {
		vg_buf_puts(b, "       ");
		put_number(b, r->scalar);
		vg_buf_puts(b, "\n");
		return;
	}
	if (r->type == VG_PROMQL_STRING) {
		vg_buf_puts(b, "       string ");
		vg_lex_quote(b, r->str, r->str_len);
		vg_buf_putc(b, '\n');
		return;
	}
	if (r->series.n == 0)
		vg_buf_puts(b, "       (nothing)\n");
	for (size_t i = 0; i < r->series.n; i++) {
		const struct vg_query_series *qs = &r->series.series[i];
		size_t k = 0;
		vg_buf_puts(b, "       ");
		put_key(b, qs->key, qs->key_len);
		if (c->is_range) {
			/* one value per step, _ where the series has no point */
			for (int64_t t = c->start_ms; t <= c->end_ms; t += c->step_ms) {
				vg_buf_putc(b, ' ');
				if (k < qs->n && qs->ts_ms[k] == t)
					put_number(b, qs->values[k++]);
				else
					vg_buf_putc(b, '_');
				if (c->end_ms - t < c->step_ms)
					break;
			}
		} else {
			for (; k < qs->n; k++) {
				vg_buf_putc(b, ' ');
				put_number(b, qs->values[k]);
			}
		}
		vg_buf_putc(b, '\n');
	}
}

/* ---- comparison ---------------------------------------------------------- */

static bool same_value(double want, double got)
{
	return vg_ptest_almost_equal(want, got, VG_PTEST_EPSILON);
}

/* Whether the points of qs are what s expects; *why says how not. */
static bool points_match(const struct vg_ptest_cmd *c, const struct vg_ptest_series *s,
			 const struct vg_query_series *qs, struct vg_buf *why)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n_vals; i++) {
		int64_t t = c->is_range ? c->start_ms + (int64_t)i * c->step_ms : 0;
		if (s->vals[i].kind != VG_PTEST_VALUE) {
			if (c->is_range && k < qs->n && qs->ts_ms[k] == t) {
				vg_buf_printf(why, "a point at step %zu, where none was expected", i);
				return false;
			}
			continue;
		}
		if (k >= qs->n || (c->is_range && qs->ts_ms[k] != t)) {
			vg_buf_printf(why, "no point at step %zu", i);
			return false;
		}
		if (!same_value(s->vals[i].v, qs->values[k])) {
			vg_buf_puts(why, "value ");
			put_number(why, qs->values[k]);
			vg_buf_puts(why, ", not ");
			put_number(why, s->vals[i].v);
			if (c->is_range)
				vg_buf_printf(why, " at step %zu", i);
			return false;
		}
		k++;
	}
	if (k < qs->n) {
		vg_buf_printf(why, "%zu points more than expected", qs->n - k);
		return false;
	}
	return true;
}

static bool has_points(const struct vg_ptest_series *s)
{
	for (size_t i = 0; i < s->n_vals; i++)
		if (s->vals[i].kind == VG_PTEST_VALUE)
			return true;
	return false;
}

/* Whether result r is what case c expects; *why says how not. */
static bool result_matches(const struct vg_ptest_cmd *c, const struct vg_eval_result *r, struct vg_buf *why)
{
	size_t n_want = 0, pos = 0;

	if (c->has_string) {
		if (r->type != VG_PROMQL_STRING) {
			vg_buf_printf(why, "a %s, not a string", vg_promql_type_name(r->type));
			return false;
		}
		if (r->str_len != c->string_len || memcmp(r->str, c->string, c->string_len) != 0) {
			vg_buf_puts(why, "a different string");
			return false;
		}
		return true;
	}
	if (r->type == VG_PROMQL_STRING) {
		vg_buf_puts(why, "a string, not what was expected");
		return false;
	}
	if (r->type == VG_PROMQL_SCALAR) {
		const struct vg_ptest_series *s = c->n_series == 1 ? &c->series[0] : NULL;
		if (s == NULL || (!s->is_scalar && !(s->key_len == 1 && s->key[0] == 0xFF)) || s->n_vals != 1 ||
		    s->vals[0].kind != VG_PTEST_VALUE) {
			vg_buf_puts(why, "a scalar, not what was expected");
			return false;
		}
		if (!same_value(s->vals[0].v, r->scalar)) {
			vg_buf_puts(why, "a different value");
			return false;
		}
		return true;
	}
	for (size_t i = 0; i < c->n_series; i++) {
		const struct vg_ptest_series *s = &c->series[i];
		const struct vg_query_series *qs = NULL;
		size_t at = 0;

		if (s->is_scalar) {
			vg_buf_printf(why, "a %s, not a scalar", vg_promql_type_name(r->type));
			return false;
		}
		if (!c->is_range && r->type == VG_PROMQL_VECTOR && s->n_vals != 1) {
			vg_buf_printf(why, "(line %u expects %zu values of one series of an instant vector)", s->line,
				      s->n_vals);
			return false;
		}
		if (c->is_range && !has_points(s))
			continue; /* a series expected absent at every step */
		n_want++;
		for (at = 0; at < r->series.n; at++)
			if (r->series.series[at].key_len == s->key_len &&
			    memcmp(r->series.series[at].key, s->key, s->key_len) == 0)
				break;
		if (at == r->series.n) {
			vg_buf_puts(why, "no series ");
			put_key(why, s->key, s->key_len);
			return false;
		}
		qs = &r->series.series[at];
		if (c->is_ordered && at != pos) {
			vg_buf_puts(why, "series ");
			put_key(why, s->key, s->key_len);
			vg_buf_printf(why, " at position %zu, not %zu", at + 1, pos + 1);
			return false;
		}
		pos++;
		if (!points_match(c, s, qs, why)) {
			vg_buf_puts(why, " for ");
			put_key(why, s->key, s->key_len);
			return false;
		}
	}
	if (r->series.n != n_want) {
		vg_buf_printf(why, "%zu series, not %zu", r->series.n, n_want);
		return false;
	}
	return true;
}

/* Whether the error message msg is the one case c expects. */
static bool error_matches(const struct vg_ptest_cmd *c, const char *msg, struct vg_buf *why)
{
	struct vg_buf pat = VG_BUF_INIT;
	struct vg_regex *re = NULL;
	struct vg_err err = { 0 };
	bool ok;

	if (c->fail_text == NULL)
		return true;
	if (!c->is_fail_regex) {
		if (strcmp(msg, c->fail_text) == 0)
			return true;
		vg_buf_puts(why, "a different error message");
		return false;
	}
	vg_buf_printf(&pat, ".*(?:%s).*", c->fail_text);
	if (vg_buf_failed(&pat) || vg_regex_compile(vg_buf_cstr(&pat), pat.len, &re, &err) != 0) {
		vg_buf_printf(why, "the expected regex does not compile: %s", err.msg);
		vg_buf_release(&pat);
		return false;
	}
	ok = vg_regex_match(re, msg, strlen(msg)) == 1;
	if (!ok)
		vg_buf_puts(why, "an error message the regex does not match");
	vg_regex_free(re);
	vg_buf_release(&pat);
	return ok;
}

/* ---- running ------------------------------------------------------------- */

static void print_case(const char *file, const struct vg_ptest_cmd *c, bool ok, const char *why,
		       const char *details)
{
	if (ok) {
		printf("PASS %s:%u: %s\n", file, c->line, c->expr);
		return;
	}
	printf("FAIL %s:%u: %s\n     %s\n%s", file, c->line, c->expr, why, details);
}

static void run_eval(struct engine *e, const char *file, const struct vg_ptest_cmd *c, struct tally *tl)
{
	struct vg_promql_node *n = NULL;
	struct vg_eval_result r;
	struct vg_err err = { 0 };
	struct vg_buf why = VG_BUF_INIT, det = VG_BUF_INIT;
	bool ok = false;
	int rc;

	memset(&r, 0, sizeof(r));
	tl->cases++;
	rc = vg_promql_parse(c->expr, c->expr_len, &n, NULL, &err);
	if (rc == 0 && c->is_range)
		rc = vg_eval_range(e->st, n, c->start_ms, c->end_ms, c->step_ms, LOOKBACK_MS, &r, &err);
	else if (rc == 0)
		rc = vg_eval_instant(e->st, n, c->t_ms, LOOKBACK_MS, &r, &err);
	if (c->is_fail) {
		if (rc == 0) {
			vg_buf_puts(&why, "expected an error, got a result:");
			vg_buf_putc(&det, '\n');
			put_result(&det, c, &r);
		} else if (error_matches(c, err.msg, &why)) {
			ok = true;
		} else {
			vg_buf_puts(&why, ":");
			vg_buf_printf(&det, "     expected: %s%s\n     got:      %s\n",
				      c->is_fail_regex ? "regex " : "", c->fail_text, err.msg);
		}
	} else if (rc != 0) {
		vg_buf_printf(&why, "error: %s", err.msg);
		vg_buf_puts(&det, "     expected:\n");
		put_expected(&det, c);
	} else if (c->warn == VG_PTEST_ANNOT_SOME || c->info == VG_PTEST_ANNOT_SOME) {
		vg_buf_puts(&why, "expected a warning or info annotation; this engine gives none");
	} else if (result_matches(c, &r, &why)) {
		ok = true;
	} else {
		vg_buf_puts(&det, "     expected:\n");
		put_expected(&det, c);
		vg_buf_puts(&det, "     got:\n");
		put_result(&det, c, &r);
	}
	if (ok)
		tl->passed++;
	else
		tl->failed++;
	print_case(file, c, ok, vg_buf_cstr(&why), vg_buf_cstr(&det));
	if (rc == 0)
		vg_eval_result_release(&r);
	vg_promql_node_free(n);
	vg_buf_release(&why);
	vg_buf_release(&det);
}

static int read_file(const char *path, char **out, size_t *len, struct vg_err *err)
{
	FILE *f = fopen(path, "rb");
	struct vg_buf b = VG_BUF_INIT;
	char chunk[65536];
	size_t n;
	int rc = 0;

	if (f == NULL)
		return vg_err_set(err, VG_EIO, "cannot open: %s", strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.len + n > MAX_FILE_BYTES) {
			rc = vg_err_set(err, VG_ELIMIT, "larger than %u MiB", MAX_FILE_BYTES >> 20);
			break;
		}
		vg_buf_append(&b, chunk, n);
	}
	if (rc == 0 && ferror(f))
		rc = vg_err_set(err, VG_EIO, "cannot read: %s", strerror(errno));
	if (rc == 0 && vg_buf_failed(&b))
		rc = vg_err_set(err, VG_ENOMEM, "out of memory");
	fclose(f);
	if (rc != 0) {
		vg_buf_release(&b);
		return rc;
	}
	*out = vg_buf_detach(&b, len);
	return 0;
}

static void run_file(struct engine *e, const char *path, struct tally *tl)
{
	struct vg_ptest_file f;
	struct vg_err err = { 0 };
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(&f, 0, sizeof(f));
	tl->files++;
	if ((rc = read_file(path, &text, &len, &err)) != 0 ||
	    (rc = vg_ptest_parse(text ? text : "", len, &f, NULL, &err)) != 0) {
		fflush(stdout);
		fprintf(stderr, "vigil: %s:%s\n", path, err.msg);
		tl->file_errors++;
		vg_ptest_file_release(&f);
		free(text);
		return;
	}
	free(text);
	if ((rc = engine_open(e, &err)) != 0) {
		fprintf(stderr, "vigil: %s: cannot open the storage: %s\n", path, err.msg);
		tl->file_errors++;
		vg_ptest_file_release(&f);
		return;
	}
	for (size_t i = 0; i < f.n_cmds && rc == 0; i++) {
		const struct vg_ptest_cmd *c = &f.cmds[i];
		switch (c->kind) {
		case VG_PTEST_LOAD:
			if ((rc = load(e, c, &err)) != 0) {
				fflush(stdout);
				fprintf(stderr, "vigil: %s:%s\n", path, err.msg);
				tl->file_errors++;
			}
			break;
		case VG_PTEST_CLEAR:
			engine_close(e);
			if ((rc = engine_open(e, &err)) != 0) {
				fprintf(stderr, "vigil: %s:%u: cannot open the storage: %s\n", path, c->line, err.msg);
				tl->file_errors++;
			}
			break;
		case VG_PTEST_EVAL:
			run_eval(e, path, c, tl);
			break;
		}
	}
	engine_close(e);
	vg_ptest_file_release(&f);
}

int vg_cli_promqltest(int argc, char **argv)
{
	struct engine e;
	struct tally tl = { 0 };
	struct vg_err err = { 0 };

	memset(&e, 0, sizeof(e));
	if (argc == 0) {
		fputs("vigil: promql-test: missing FILE\n", stderr);
		return 2;
	}
	if (engine_make_dir(&e, &err) != 0) {
		fprintf(stderr, "vigil: promql-test: %s\n", err.msg);
		return 2;
	}
	for (int i = 0; i < argc; i++)
		run_file(&e, argv[i], &tl);
	engine_remove_dir(&e);
	printf("promql-test: %u cases in %u files: %u passed, %u failed%s\n", tl.cases, tl.files, tl.passed,
	       tl.failed, tl.file_errors ? " (and file errors, above)" : "");
	if (tl.file_errors)
		return 2;
	return tl.failed ? 1 : 0;
}
