/*
 * promqltest_parse.c: PromQL test files into commands (promqltest_parse.h).
 *
 * The format is Prometheus's promqltest one (man/vigil.1, "PromQL test
 * files"). Lines are
 * trimmed; a line whose first character is '#' counts as blank; a blank
 * line ends a load or eval block, as in Prometheus's runner. Series
 * descriptors are lexed with the PromQL lexer (promql/lex.h), so names and
 * Go-escaped strings read as they do in queries; value sequences are this
 * file's: "_", "_xN" (N missing), "stale", a number, "axN" (N + 1 copies),
 * "a+bxN" / "a-bxN" (N + 1 values, each the previous plus b, summed one
 * step at a time as Prometheus does). 'x' always means "times" here, so
 * "0x5" is six zeros, not a hex number.
 *
 * Invariants: every value counted against VG_PTEST_MAX_VALUES before it
 * is allocated; on error the file holds what was parsed so far, freed by
 * vg_ptest_file_release.
 */
#include "cli/promqltest_parse.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/series.h"
#include "promql/lex.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

struct parser {
	const char *text;
	size_t len, pos;  /* pos: start of the next line */
	unsigned line;    /* of the current line */
	const char *l;    /* the current line, trimmed; "" when blank or a comment */
	size_t ll;
	size_t n_values;  /* in the file so far */
	struct vg_ptest_file *f;
	struct vg_err *err;
	unsigned *err_line;
};

static int fail(struct parser *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, int code, const char *fmt, ...)
{
	char msg[VG_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->err_line)
		*p->err_line = p->line;
	return vg_err_set(p->err, code, "%u: %s", p->line, msg);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Moves to the next line; false at the end of the text. */
static int next_line(struct parser *p, bool *has)
{
	const char *s, *nl;
	size_t n;

	*has = false;
	if (p->pos >= p->len)
		return 0;
	s = p->text + p->pos;
	nl = memchr(s, '\n', p->len - p->pos);
	n = nl ? (size_t)(nl - s) : p->len - p->pos;
	p->pos += n + (nl != NULL);
	p->line++;
	*has = true;
	if (n > VG_PTEST_MAX_LINE)
		return fail(p, VG_ELIMIT, "line longer than %u bytes", VG_PTEST_MAX_LINE);
	if (memchr(s, '\0', n) != NULL)
		return fail(p, VG_EINVAL, "NUL byte in the line");
	while (n > 0 && is_space(s[0]))
		s++, n--;
	while (n > 0 && is_space(s[n - 1]))
		n--;
	if (n > 0 && s[0] == '#')
		n = 0;
	p->l = s;
	p->ll = n;
	return 0;
}

/* The next whitespace-separated word of s[*i..n). */
static bool word(const char *s, size_t n, size_t *i, const char **w, size_t *wl)
{
	while (*i < n && is_space(s[*i]))
		(*i)++;
	if (*i >= n)
		return false;
	*w = s + *i;
	while (*i < n && !is_space(s[*i]))
		(*i)++;
	*wl = (size_t)(s + *i - *w);
	return true;
}

static bool word_is(const char *w, size_t wl, const char *lit)
{
	return strlen(lit) == wl && memcmp(w, lit, wl) == 0;
}

static bool ci_prefix(const char *s, size_t n, const char *lit)
{
	size_t k = strlen(lit);

	if (n < k)
		return false;
	for (size_t i = 0; i < k; i++)
		if ((s[i] | 0x20) != lit[i])
			return false;
	return true;
}

/* The length of a decimal number (with sign, fraction, exponent), Inf or
 * NaN at the start of s[0..n); 0 if there is none. */
static size_t scan_number(const char *s, size_t n, bool is_signed)
{
	size_t i = 0, d = 0;

	if (is_signed && i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	if (ci_prefix(s + i, n - i, "inf"))
		return i + 3;
	if (ci_prefix(s + i, n - i, "nan"))
		return i + 3;
	while (i < n && is_digit(s[i]))
		i++, d++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && is_digit(s[i]))
			i++, d++;
	}
	if (d == 0)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;
		if (j < n && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j < n && is_digit(s[j])) {
			while (j < n && is_digit(s[j]))
				j++;
			i = j;
		}
	}
	return i;
}

static double number_value(const char *s, size_t n)
{
	char tmp[64];
	size_t i = 0;
	bool is_neg = false;

	if (n > 0 && (s[0] == '+' || s[0] == '-')) {
		is_neg = s[0] == '-';
		i = 1;
	}
	if (ci_prefix(s + i, n - i, "inf"))
		return is_neg ? -INFINITY : INFINITY;
	if (ci_prefix(s + i, n - i, "nan"))
		return NAN;
	if (n >= sizeof(tmp))
		n = sizeof(tmp) - 1; /* only digits beyond double's precision are cut */
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return strtod(tmp, NULL);
}

/* A whole word that is a plain number. */
static bool is_number_word(const char *w, size_t wl, double *v)
{
	size_t k = scan_number(w, wl, true);

	if (k == 0 || k != wl)
		return false;
	*v = number_value(w, wl);
	return true;
}

static int parse_count(struct parser *p, const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return fail(p, VG_EINVAL, "expected a count after 'x'");
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return fail(p, VG_EINVAL, "invalid count \"%.*s\"", (int)(n > 32 ? 32 : n), s);
		if (v > VG_PTEST_MAX_VALUES)
			break;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int push_values(struct parser *p, struct vg_ptest_series *s, uint64_t count, double start,
		       double inc, enum vg_ptest_value_kind kind)
{
	void *q;

	if (count > VG_PTEST_MAX_VALUES || p->n_values + count > VG_PTEST_MAX_VALUES)
		return fail(p, VG_ELIMIT, "more than %u values in the file", VG_PTEST_MAX_VALUES);
	if (count == 0)
		return 0;
	if (s->n_vals + count > s->cap_vals) {
		size_t cap = s->cap_vals ? s->cap_vals * 2 : 8;
		if (cap < s->n_vals + count)
			cap = s->n_vals + count;
		if ((q = realloc(s->vals, cap * sizeof(*s->vals))) == NULL)
			return fail(p, VG_ENOMEM, "out of memory");
		s->vals = q;
		s->cap_vals = cap;
	}
	for (uint64_t k = 0; k < count; k++) {
		s->vals[s->n_vals++] = (struct vg_ptest_value){ start, kind };
		start += inc;
	}
	p->n_values += count;
	return 0;
}

/* One word of a value sequence. */
static int parse_item(struct parser *p, struct vg_ptest_series *s, const char *w, size_t wl)
{
	uint64_t count;
	double a, b = 0;
	size_t k, j;
	int rc;

	if (word_is(w, wl, "_"))
		return push_values(p, s, 1, 0, 0, VG_PTEST_OMITTED);
	if (wl > 2 && w[0] == '_' && w[1] == 'x') {
		if ((rc = parse_count(p, w + 2, wl - 2, &count)) != 0)
			return rc;
		return push_values(p, s, count, 0, 0, VG_PTEST_OMITTED);
	}
	if (word_is(w, wl, "stale"))
		return push_values(p, s, 1, 0, 0, VG_PTEST_STALE);
	if ((k = scan_number(w, wl, true)) == 0)
		goto bad;
	a = number_value(w, k);
	if (k == wl)
		return push_values(p, s, 1, a, 0, VG_PTEST_VALUE);
	if (w[k] == '+' || w[k] == '-') {
		if ((j = scan_number(w + k + 1, wl - k - 1, false)) == 0)
			goto bad;
		b = number_value(w + k + 1, j);
		if (w[k] == '-')
			b = -b;
		k += 1 + j;
	}
	if (k >= wl || w[k] != 'x')
		goto bad;
	if ((rc = parse_count(p, w + k + 1, wl - k - 1, &count)) != 0)
		return rc;
	if (count >= VG_PTEST_MAX_VALUES)
		return fail(p, VG_ELIMIT, "more than %u values in the file", VG_PTEST_MAX_VALUES);
	return push_values(p, s, count + 1, a, b, VG_PTEST_VALUE);
bad:
	return fail(p, VG_EINVAL, "invalid value \"%.*s\" (a number, _, stale, a+bxN or a-bxN)",
		    (int)(wl > 32 ? 32 : wl), w);
}

/* The decoded strings of one descriptor: label names and values one after
 * another in bytes (pairs), and the name given as __name__="...". */
struct desc_strings {
	struct vg_buf bytes;
	size_t off[2 * VG_SERIES_MAX_LABELS], len[2 * VG_SERIES_MAX_LABELS];
	size_t n;
	size_t name_off, name_len;
	bool has_name_label;
};

static int desc_add(struct parser *p, struct desc_strings *d, const char *s, size_t n)
{
	if (d->n >= sizeof(d->off) / sizeof(d->off[0]))
		return fail(p, VG_ELIMIT, "more than %d labels", VG_SERIES_MAX_LABELS);
	d->off[d->n] = d->bytes.len;
	d->len[d->n] = n;
	d->n++;
	vg_buf_append(&d->bytes, s, n);
	return vg_buf_failed(&d->bytes) ? fail(p, VG_ENOMEM, "out of memory") : 0;
}

static bool tok_is_name(const struct vg_token *t)
{
	return (t->type == VG_TOK_IDENT || t->is_word) && t->type != VG_TOK_NUMBER;
}

/* The braces of a descriptor, from the lexer's position after '{'. */
static int parse_braces(struct parser *p, struct vg_lexer *lx, struct desc_strings *d, bool has_name,
			size_t *end)
{
	struct vg_token t, ln;
	int rc;

	for (;;) {
		vg_lex_next(lx, &ln);
		if (ln.type == VG_TOK_RBRACE)
			break;
		if (!tok_is_name(&ln))
			return fail(p, VG_EINVAL, "expected a label name or '}' in the series descriptor");
		vg_lex_next(lx, &t);
		if (t.type != VG_TOK_ASSIGN)
			return fail(p, VG_EINVAL, "expected '=' after label \"%.*s\"", (int)ln.len, p->l + ln.pos);
		vg_lex_next(lx, &t);
		if (t.type != VG_TOK_STRING)
			return fail(p, VG_EINVAL, "expected a quoted value for label \"%.*s\"", (int)ln.len,
				    p->l + ln.pos);
		if (ln.len == 8 && memcmp(p->l + ln.pos, "__name__", 8) == 0) {
			if (has_name || d->has_name_label)
				return fail(p, VG_EINVAL, "metric name given twice");
			d->has_name_label = true;
			d->name_off = d->bytes.len;
			d->name_len = lx->str.len;
			vg_buf_append(&d->bytes, vg_buf_cstr(&lx->str), lx->str.len);
			if (vg_buf_failed(&d->bytes))
				return fail(p, VG_ENOMEM, "out of memory");
		} else if ((rc = desc_add(p, d, p->l + ln.pos, ln.len)) != 0 ||
			   (rc = desc_add(p, d, vg_buf_cstr(&lx->str), lx->str.len)) != 0) {
			return rc;
		}
		vg_lex_next(lx, &t);
		if (t.type == VG_TOK_RBRACE) {
			ln = t;
			break;
		}
		if (t.type != VG_TOK_COMMA)
			return fail(p, VG_EINVAL, "expected ',' or '}' in the series descriptor");
	}
	*end = ln.pos + ln.len;
	return 0;
}

/*
 * The series descriptor at the start of the line, name{l="v",...}, into
 * s->key; *rest is where the values start.
 */
static int parse_desc(struct parser *p, struct vg_ptest_series *s, size_t *rest)
{
	struct vg_lexer lx;
	struct vg_token t;
	struct desc_strings d;
	struct vg_series ser;
	struct vg_buf key = VG_BUF_INIT;
	struct vg_err e2 = { 0 };
	struct vg_str name = { "", 0 };
	bool has_name = false, has_braces = false;
	size_t end = 0;
	int rc = 0;

	memset(&d, 0, sizeof(d));
	vg_buf_init(&d.bytes);
	vg_lex_init(&lx, p->l, p->ll);
	vg_lex_next(&lx, &t);
	if (tok_is_name(&t) && t.pos == 0) {
		has_name = true;
		name = (struct vg_str){ p->l, (uint32_t)t.len };
		end = t.len;
		if (end < p->ll && p->l[end] == '{')
			vg_lex_next(&lx, &t);
	}
	if (t.type == VG_TOK_LBRACE && t.pos == end) {
		has_braces = true;
		if ((rc = parse_braces(p, &lx, &d, has_name, &end)) != 0)
			goto out;
	}
	if (!has_name && !has_braces) {
		rc = fail(p, VG_EINVAL, "expected a series (name{label=\"value\"}) or a number");
		goto out;
	}
	if (end < p->ll && !is_space(p->l[end])) {
		rc = fail(p, VG_EINVAL, "expected a space after the series descriptor");
		goto out;
	}
	*rest = end;
	/* d.bytes grows no more: its strings can be viewed now */
	if (d.has_name_label)
		name = (struct vg_str){ (const char *)d.bytes.data + d.name_off, (uint32_t)d.name_len };
	vg_series_init(&ser, "a"); /* a valid placeholder: the name may be empty */
	for (size_t k = 0; k + 1 < d.n; k += 2) {
		struct vg_str ln = { (const char *)d.bytes.data + d.off[k], (uint32_t)d.len[k] };
		struct vg_str lv = { (const char *)d.bytes.data + d.off[k + 1], (uint32_t)d.len[k + 1] };
		if ((rc = vg_series_add_str(&ser, ln, lv)) != 0) {
			rc = fail(p, rc, "more than %d labels", VG_SERIES_MAX_LABELS);
			goto out;
		}
	}
	if (name.len > 0 && !vg_metric_name_valid(name.p, name.len)) {
		rc = fail(p, VG_EINVAL, "invalid metric name \"%.*s\"", (int)(name.len > 64 ? 64 : name.len), name.p);
		goto out;
	}
	if ((rc = vg_series_canonicalize(&ser, &e2)) != 0) {
		rc = fail(p, rc, "%s", e2.msg);
		goto out;
	}
	ser.name = name;
	vg_series_key(&ser, &key);
	if (vg_buf_failed(&key)) {
		rc = fail(p, VG_ENOMEM, "out of memory");
		goto out;
	}
	s->key = (uint8_t *)vg_buf_detach(&key, &s->key_len);
out:
	vg_buf_release(&key);
	vg_buf_release(&d.bytes);
	vg_lex_release(&lx);
	return rc;
}

static int add_series(struct parser *p, struct vg_ptest_cmd *c, struct vg_ptest_series **out)
{
	void *q;

	if (c->n_series >= VG_PTEST_MAX_VALUES)
		return fail(p, VG_ELIMIT, "too many series");
	if (c->n_series == c->cap_series) {
		size_t cap = c->cap_series ? c->cap_series * 2 : 4;
		if ((q = realloc(c->series, cap * sizeof(*c->series))) == NULL)
			return fail(p, VG_ENOMEM, "out of memory");
		c->series = q;
		c->cap_series = cap;
	}
	*out = &c->series[c->n_series++];
	memset(*out, 0, sizeof(**out));
	(*out)->line = p->line;
	return 0;
}

/* A series line: descriptor and values (a bare number when is_eval). */
static int parse_series_line(struct parser *p, struct vg_ptest_cmd *c, bool is_eval)
{
	struct vg_ptest_series *s = NULL;
	const char *w;
	size_t i = 0, wl;
	double v;
	int rc;

	if ((rc = add_series(p, c, &s)) != 0)
		return rc;
	if (is_eval && is_number_word(p->l, p->ll, &v)) {
		s->is_scalar = true;
		if ((s->key = malloc(1)) == NULL)
			return fail(p, VG_ENOMEM, "out of memory");
		s->key[0] = 0xFF;
		s->key_len = 1;
		return push_values(p, s, 1, v, 0, VG_PTEST_VALUE);
	}
	if ((rc = parse_desc(p, s, &i)) != 0)
		return rc;
	while (word(p->l, p->ll, &i, &w, &wl))
		if ((rc = parse_item(p, s, w, wl)) != 0)
			return rc;
	return 0;
}

static int parse_duration(struct parser *p, const char *w, size_t wl, const char *what, int64_t *ms)
{
	char msg[128];

	if (vg_lex_duration(w, wl, ms, msg, sizeof(msg)) != 0)
		return fail(p, VG_EINVAL, "invalid %s \"%.*s\": %s", what, (int)(wl > 32 ? 32 : wl), w, msg);
	return 0;
}

/* An evaluation time: a duration from 0 (50m, 1h30m) or seconds (90, 1.5). */
static int parse_time(struct parser *p, const char *w, size_t wl, int64_t *ms)
{
	double v;

	if (is_number_word(w, wl, &v) && w[0] != '+' && w[0] != '-') {
		if (!(v >= 0 && v < 9.2e15))
			return fail(p, VG_EINVAL, "time \"%.*s\" out of range", (int)(wl > 32 ? 32 : wl), w);
		*ms = (int64_t)llround(v * 1000.0);
		return 0;
	}
	return parse_duration(p, w, wl, "time", ms);
}

static int dup_text(struct parser *p, const char *s, size_t n, char **out, size_t *out_len)
{
	char *c = malloc(n + 1);

	if (c == NULL)
		return fail(p, VG_ENOMEM, "out of memory");
	memcpy(c, s, n);
	c[n] = '\0';
	free(*out);
	*out = c;
	if (out_len)
		*out_len = n;
	return 0;
}

/* The rest of the line from i, trimmed. */
static void rest_of(const struct parser *p, size_t i, const char **r, size_t *rl)
{
	while (i < p->ll && is_space(p->l[i]))
		i++;
	*r = p->l + i;
	*rl = p->ll - i;
}

/* "eval[_fail|_ordered|_warn|_info] instant [at T] EXPR" or
 * "... range from T to T step D EXPR". */
static int parse_eval_line(struct parser *p, struct vg_ptest_cmd *c, const char *cmd, size_t cmd_len, size_t i)
{
	const char *w, *r;
	size_t wl, rl;
	int rc;

	if (cmd_len > 4) {
		const char *suf = cmd + 5;
		size_t sl = cmd_len - 5;
		if (cmd[4] != '_')
			goto unknown;
		if (word_is(suf, sl, "fail"))
			c->is_fail = true;
		else if (word_is(suf, sl, "ordered"))
			c->is_ordered = true;
		else if (word_is(suf, sl, "warn"))
			c->warn = VG_PTEST_ANNOT_SOME;
		else if (word_is(suf, sl, "info"))
			c->info = VG_PTEST_ANNOT_SOME;
		else
			goto unknown;
	}
	if (!word(p->l, p->ll, &i, &w, &wl))
		return fail(p, VG_EINVAL, "eval: expected \"instant\" or \"range\"");
	if (word_is(w, wl, "instant")) {
		size_t save = i;
		if (word(p->l, p->ll, &i, &w, &wl) && word_is(w, wl, "at")) {
			if (!word(p->l, p->ll, &i, &w, &wl))
				return fail(p, VG_EINVAL, "eval instant: expected a time after \"at\"");
			if ((rc = parse_time(p, w, wl, &c->t_ms)) != 0)
				return rc;
		} else {
			i = save;
		}
	} else if (word_is(w, wl, "range")) {
		static const char *const kw[3] = { "from", "to", "step" };
		int64_t *dst[3] = { &c->start_ms, &c->end_ms, &c->step_ms };
		c->is_range = true;
		if (c->is_ordered)
			return fail(p, VG_EINVAL, "eval_ordered is for instant queries");
		for (int k = 0; k < 3; k++) {
			if (!word(p->l, p->ll, &i, &w, &wl) || !word_is(w, wl, kw[k]))
				return fail(p, VG_EINVAL, "eval range: expected \"%s\"", kw[k]);
			if (!word(p->l, p->ll, &i, &w, &wl))
				return fail(p, VG_EINVAL, "eval range: expected a value after \"%s\"", kw[k]);
			if ((rc = k < 2 ? parse_time(p, w, wl, dst[k]) : parse_duration(p, w, wl, "step", dst[k])) != 0)
				return rc;
		}
		if (c->step_ms <= 0)
			return fail(p, VG_EINVAL, "eval range: the step must be positive");
	} else {
		return fail(p, VG_EINVAL, "eval: expected \"instant\" or \"range\", not \"%.*s\"",
			    (int)(wl > 32 ? 32 : wl), w);
	}
	rest_of(p, i, &r, &rl);
	if (rl == 0)
		return fail(p, VG_EINVAL, "eval: missing the expression");
	return dup_text(p, r, rl, &c->expr, &c->expr_len);
unknown:
	return fail(p, VG_EINVAL, "unknown command \"%.*s\"", (int)(cmd_len > 32 ? 32 : cmd_len), cmd);
}

/* "expect ..." lines, and the older "expected_fail_message/regexp" ones. */
static int parse_expect(struct parser *p, struct vg_ptest_cmd *c, size_t i)
{
	const char *w, *r;
	size_t wl, rl;

	if (!word(p->l, p->ll, &i, &w, &wl))
		return fail(p, VG_EINVAL, "expect: expected fail, ordered, string, warn, no_warn, info or no_info");
	if (word_is(w, wl, "fail")) {
		c->is_fail = true;
		rest_of(p, i, &r, &rl);
		if (rl == 0)
			return 0;
		if (rl >= 4 && memcmp(r, "msg:", 4) == 0) {
			c->is_fail_regex = false;
			rest_of(p, (size_t)(r - p->l) + 4, &r, &rl);
		} else if (rl >= 6 && memcmp(r, "regex:", 6) == 0) {
			c->is_fail_regex = true;
			rest_of(p, (size_t)(r - p->l) + 6, &r, &rl);
		} else {
			return fail(p, VG_EINVAL, "expect fail: expected \"msg:\" or \"regex:\" after fail");
		}
		return dup_text(p, r, rl, &c->fail_text, NULL);
	}
	if (word_is(w, wl, "ordered")) {
		if (c->is_range)
			return fail(p, VG_EINVAL, "expect ordered is for instant queries");
		c->is_ordered = true;
		return 0;
	}
	if (word_is(w, wl, "string")) {
		struct vg_lexer lx;
		struct vg_token t, t2;
		int rc = 0;
		rest_of(p, i, &r, &rl);
		vg_lex_init(&lx, r, rl);
		vg_lex_next(&lx, &t);
		if (t.type == VG_TOK_STRING)
			vg_lex_next(&lx, &t2);
		if (t.type != VG_TOK_STRING || t2.type != VG_TOK_EOF)
			rc = fail(p, VG_EINVAL, "expect string: expected one quoted string");
		else
			rc = dup_text(p, vg_buf_cstr(&lx.str), lx.str.len, &c->string, &c->string_len);
		vg_lex_release(&lx);
		c->has_string = rc == 0;
		return rc;
	}
	/* annotations: the message after them is not compared */
	if (word_is(w, wl, "warn") || word_is(w, wl, "no_warn") || word_is(w, wl, "info") ||
	    word_is(w, wl, "no_info")) {
		enum vg_ptest_annot *a = w[wl - 4] == 'w' ? &c->warn : &c->info;
		*a = w[0] == 'n' ? VG_PTEST_ANNOT_NONE : VG_PTEST_ANNOT_SOME;
		return 0;
	}
	return fail(p, VG_EINVAL, "expect: unknown expectation \"%.*s\"", (int)(wl > 32 ? 32 : wl), w);
}

static int add_cmd(struct parser *p, enum vg_ptest_cmd_kind kind, struct vg_ptest_cmd **out)
{
	struct vg_ptest_file *f = p->f;
	void *q;

	if (f->n_cmds >= VG_PTEST_MAX_VALUES)
		return fail(p, VG_ELIMIT, "too many commands");
	if (f->n_cmds == f->cap_cmds) {
		size_t cap = f->cap_cmds ? f->cap_cmds * 2 : 16;
		if ((q = realloc(f->cmds, cap * sizeof(*f->cmds))) == NULL)
			return fail(p, VG_ENOMEM, "out of memory");
		f->cmds = q;
		f->cap_cmds = cap;
	}
	*out = &f->cmds[f->n_cmds++];
	memset(*out, 0, sizeof(**out));
	(*out)->kind = kind;
	(*out)->line = p->line;
	return 0;
}

/* The lines of a block, up to a blank line. */
static int parse_block(struct parser *p, struct vg_ptest_cmd *c)
{
	bool has;
	int rc;

	for (;;) {
		const char *w;
		size_t i = 0, wl;
		if ((rc = next_line(p, &has)) != 0)
			return rc;
		if (!has || p->ll == 0)
			return 0;
		if (c->kind == VG_PTEST_EVAL) {
			(void)word(p->l, p->ll, &i, &w, &wl);
			if (word_is(w, wl, "expect"))
				rc = parse_expect(p, c, i);
			else if (word_is(w, wl, "expected_fail_message") || word_is(w, wl, "expected_fail_regexp")) {
				const char *r;
				size_t rl;
				c->is_fail = true;
				c->is_fail_regex = wl == strlen("expected_fail_regexp");
				rest_of(p, i, &r, &rl);
				rc = dup_text(p, r, rl, &c->fail_text, NULL);
			} else {
				rc = parse_series_line(p, c, true);
			}
		} else {
			rc = parse_series_line(p, c, false);
		}
		if (rc != 0)
			return rc;
	}
}

int vg_ptest_parse(const char *text, size_t len, struct vg_ptest_file *out, unsigned *err_line,
		   struct vg_err *err)
{
	struct parser p = { text, len, 0, 0, "", 0, 0, out, err, err_line };
	bool has;
	int rc;

	memset(out, 0, sizeof(*out));
	if (err_line)
		*err_line = 0;
	for (;;) {
		struct vg_ptest_cmd *c;
		const char *w;
		size_t i = 0, wl;
		if ((rc = next_line(&p, &has)) != 0)
			return rc;
		if (!has)
			return 0;
		if (p.ll == 0)
			continue;
		(void)word(p.l, p.ll, &i, &w, &wl);
		if (word_is(w, wl, "load")) {
			if ((rc = add_cmd(&p, VG_PTEST_LOAD, &c)) != 0)
				return rc;
			if (!word(p.l, p.ll, &i, &w, &wl))
				return fail(&p, VG_EINVAL, "load: expected an interval (load 5m)");
			if ((rc = parse_duration(&p, w, wl, "interval", &c->interval_ms)) != 0)
				return rc;
			if (c->interval_ms <= 0)
				return fail(&p, VG_EINVAL, "load: the interval must be positive");
			if (word(p.l, p.ll, &i, &w, &wl))
				return fail(&p, VG_EINVAL, "load: unexpected \"%.*s\" after the interval",
					    (int)(wl > 32 ? 32 : wl), w);
			if ((rc = parse_block(&p, c)) != 0)
				return rc;
		} else if (word_is(w, wl, "clear")) {
			if (p.ll != wl)
				return fail(&p, VG_EINVAL, "clear takes no arguments");
			if ((rc = add_cmd(&p, VG_PTEST_CLEAR, &c)) != 0)
				return rc;
		} else if (wl >= 4 && memcmp(w, "eval", 4) == 0) {
			if ((rc = add_cmd(&p, VG_PTEST_EVAL, &c)) != 0)
				return rc;
			if ((rc = parse_eval_line(&p, c, w, wl, i)) != 0)
				return rc;
			if ((rc = parse_block(&p, c)) != 0)
				return rc;
		} else {
			return fail(&p, VG_EINVAL, "unknown command \"%.*s\" (load, clear or eval)",
				    (int)(wl > 32 ? 32 : wl), w);
		}
	}
}

void vg_ptest_file_release(struct vg_ptest_file *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n_cmds; i++) {
		struct vg_ptest_cmd *c = &f->cmds[i];
		for (size_t k = 0; k < c->n_series; k++) {
			free(c->series[k].key);
			free(c->series[k].vals);
		}
		free(c->series);
		free(c->expr);
		free(c->fail_text);
		free(c->string);
	}
	free(f->cmds);
	memset(f, 0, sizeof(*f));
}

bool vg_ptest_almost_equal(double a, double b, double epsilon)
{
	double abs_sum, diff;

	if (isnan(a) && isnan(b))
		return true;
	if (a == b)
		return true;
	abs_sum = fabs(a) + fabs(b);
	diff = fabs(a - b);
	if (a == 0 || b == 0 || abs_sum < DBL_MIN)
		return diff < epsilon * DBL_MIN;
	return diff / fmin(abs_sum, DBL_MAX) < epsilon;
}
