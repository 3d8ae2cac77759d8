/*
 * exposition.c: the Prometheus text exposition format 0.0.4 parser of
 * exposition.h. It owns line splitting across fed pieces, the grammar
 * below, value and timestamp syntax, label-value and HELP unescaping; it
 * does not own name rules or the canonical form (common/series.c) nor what
 * an error means to the caller.
 *
 * Grammar, per line (blank = space or tab; a trailing '\r' and trailing
 * blanks are ignored, so CRLF files read as LF files):
 *     line    = blank* ( "" | comment | sample ) blank*
 *     comment = "#" blank* ( "HELP" blank+ name ( blank+ docstring )?
 *                          | "TYPE" blank+ name blank+ type
 *                          | anything else: ignored )
 *     sample  = name blank* ( "{" labels "}" )? blank* value ( blank+ ts )?
 *               (at least one blank between a bare name and its value)
 *     labels  = blank* ( label blank* ( "," blank* label blank* )* ","? )? blank*
 *     label   = lname blank* "=" blank* '"' escaped '"'
 *     value   = Go ParseFloat syntax without hex or '_' (vg_exposition_parse_value)
 *     ts      = [+-]? digits   (int64 milliseconds since the epoch)
 * Escapes in label values: \\ \" \n; in HELP: \\ \n. Any other backslash
 * pair is kept as it stands, as Prometheus's and VictoriaMetrics's parsers
 * keep it. Name rules, empty values (= absent), duplicates and limits are
 * series.c's (vg_series_canonicalize). Quoted UTF-8 names (Prometheus 3's
 * {"my.metric"}) are refused: the series model has no room for them.
 *
 * Invariant: a line is parsed from one contiguous span, either the caller's
 * piece (the fast path: no copy) or line_buf when it spanned pieces; the
 * scratch buffer is grown to the line's length before the line is parsed,
 * so unescaped strings pointing into it never move while the line lives.
 */
#include "common/exposition.h"
#include "common/buf.h"
#include "common/err.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

struct vg_exposition {
	struct vg_exposition_config cfg;
	struct vg_exposition_stats stats;
	struct vg_buf line_buf; /* a line that spans pieces, so far */
	struct vg_buf scratch;  /* unescaped strings of the current line */
	bool is_skipping;       /* inside a line already rejected as too long */
	int stop_rc;            /* non-zero once a callback stopped us */
	/* The family of the last TYPE line, to refuse a second TYPE for it. */
	char type_name[VG_SERIES_MAX_NAME + 1];
	size_t type_name_len;
	struct vg_series series; /* the current line's, handed to on_sample */
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_name_char(char c, bool allow_colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (c >= '0' && c <= '9') || (allow_colon && c == ':');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

const char *vg_exposition_type_name(enum vg_exposition_type t)
{
	switch (t) {
	case VG_EXPOSITION_COUNTER: return "counter";
	case VG_EXPOSITION_GAUGE: return "gauge";
	case VG_EXPOSITION_HISTOGRAM: return "histogram";
	case VG_EXPOSITION_SUMMARY: return "summary";
	case VG_EXPOSITION_UNTYPED: break;
	}
	return "untyped";
}

/* ------------------------------------------------------------------------
 * Numbers */

static size_t prefix_len_nocase(const char *s, size_t n, const char *word)
{
	size_t i = 0;

	while (i < n && word[i]) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != word[i])
			break;
		i++;
	}
	return i;
}

/* Go's strconv special(): [+-]?(inf|infinity) or nan, any case. */
static bool parse_special(const char *s, size_t n, double *out)
{
	size_t i = 0;
	double sign = 1.0;
	size_t k;

	if (n == 0)
		return false;
	if (s[0] == 'n' || s[0] == 'N') {
		if (n == 3 && prefix_len_nocase(s, n, "nan") == 3) {
			*out = NAN;
			return true;
		}
		return false;
	}
	if (s[0] == '+' || s[0] == '-') {
		sign = s[0] == '-' ? -1.0 : 1.0;
		i = 1;
	}
	k = prefix_len_nocase(s + i, n - i, "infinity");
	if ((k == 3 && n - i == 3) || (k == 8 && n - i == 8)) {
		*out = sign * INFINITY;
		return true;
	}
	return false;
}

static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

int vg_exposition_parse_value(const char *s, size_t n, double *out)
{
	size_t i = 0;
	bool is_neg = false, has_digits = false;
	uint64_t mant = 0;
	int sig = 0;        /* significant digits accumulated in mant */
	int64_t exp10 = 0;  /* value = mant * 10^exp10 while sig <= 19 */
	bool is_exact = true;
	char stack[128];
	char *copy;
	char *end;
	double v;

	if (n == 0)
		return VG_EINVAL;
	if (parse_special(s, n, out))
		return 0;
	if (s[0] == '+' || s[0] == '-') {
		is_neg = s[0] == '-';
		i++;
	}
	for (; i < n && is_digit(s[i]); i++) {
		has_digits = true;
		if (mant == 0 && s[i] == '0')
			continue; /* leading zeros are not significant */
		if (sig < 19) {
			mant = mant * 10 + (uint64_t)(s[i] - '0');
			sig++;
		} else {
			exp10++;
			if (s[i] != '0')
				is_exact = false;
		}
	}
	if (i < n && s[i] == '.') {
		for (i++; i < n && is_digit(s[i]); i++) {
			has_digits = true;
			if (mant == 0 && s[i] == '0') {
				exp10--;
				continue;
			}
			if (sig < 19) {
				mant = mant * 10 + (uint64_t)(s[i] - '0');
				sig++;
				exp10--;
			} else if (s[i] != '0') {
				is_exact = false;
			}
		}
	}
	if (!has_digits)
		return VG_EINVAL;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		bool is_eneg = false, has_edigits = false;
		int64_t e = 0;

		i++;
		if (i < n && (s[i] == '+' || s[i] == '-')) {
			is_eneg = s[i] == '-';
			i++;
		}
		for (; i < n && is_digit(s[i]); i++) {
			has_edigits = true;
			if (e < 100000)
				e = e * 10 + (s[i] - '0');
		}
		if (!has_edigits)
			return VG_EINVAL;
		exp10 += is_eneg ? -e : e;
	}
	if (i != n)
		return VG_EINVAL; /* hex, '_', 'p', stray characters */

	/* Clinger's fast path: an exact mantissa below 2^53 times an exact
	 * power of ten is correctly rounded by one IEEE operation. */
	if (is_exact && mant < (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
		v = (double)mant;
		if (exp10 < 0)
			v /= pow10_exact[-exp10];
		else
			v *= pow10_exact[exp10];
		*out = is_neg ? -v : v;
		return 0;
	}
	if (mant == 0) {
		*out = is_neg ? -0.0 : 0.0;
		return 0;
	}
	/* The syntax is checked: strtod reads exactly these bytes (the C
	 * locale's '.' is the only decimal point Vigil's programs use). */
	copy = n < sizeof(stack) ? stack : malloc(n + 1);
	if (copy == NULL)
		return VG_ENOMEM;
	memcpy(copy, s, n);
	copy[n] = '\0';
	errno = 0;
	v = strtod(copy, &end);
	if (copy != stack)
		free(copy);
	if (errno == ERANGE && isinf(v))
		return VG_EINVAL; /* Go: ErrRange, and Prometheus refuses it */
	*out = v;
	return 0;
}

static int parse_timestamp(const char *s, size_t n, int64_t *out)
{
	size_t i = 0;
	bool is_neg = false;
	uint64_t v = 0;

	if (n > 0 && (s[0] == '+' || s[0] == '-')) {
		is_neg = s[0] == '-';
		i = 1;
	}
	if (i == n)
		return VG_EINVAL;
	for (; i < n; i++) {
		if (!is_digit(s[i]))
			return VG_EINVAL;
		if (v > (UINT64_MAX - 9) / 10)
			return VG_ELIMIT;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (is_neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return VG_ELIMIT;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return VG_ELIMIT;
		*out = (int64_t)v;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Lines */

/* Records the first non-zero value a callback returned; returns rc. */
static int stopped(struct vg_exposition *p, int rc)
{
	if (rc != 0 && p->stop_rc == 0)
		p->stop_rc = rc;
	return rc;
}

struct line {
	struct vg_exposition *p;
	const char *s;
	size_t n;
	size_t i;
	uint64_t no;
};

static int report(struct line *l, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int report(struct line *l, int code, const char *fmt, ...)
{
	struct vg_exposition *p = l->p;
	char reason[VG_ERR_MSG_MAX];
	va_list ap;

	p->stats.errors++;
	if (p->cfg.on_error == NULL)
		return 0;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return stopped(p, p->cfg.on_error(p->cfg.ctx, l->no, code, reason));
}

/* A short printable picture of s[0..n), for messages. */
static void describe_span(const char *s, size_t n, char *out, size_t cap)
{
	size_t k = 0;

	if (n == 0) {
		snprintf(out, cap, "end of line");
		return;
	}
	out[k++] = '"';
	for (size_t j = 0; j < n && j < 16 && k + 6 < cap; j++) {
		unsigned char c = (unsigned char)s[j];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			out[k++] = (char)c;
		else
			k += (size_t)snprintf(out + k, cap - k, "\\x%02x", c);
	}
	if (n > 16 && k + 4 < cap) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	if (k + 1 < cap)
		out[k++] = '"';
	out[k] = '\0';
}

/* The same of what stands at the cursor, up to the end of the line. */
static void describe(const struct line *l, char *out, size_t cap)
{
	describe_span(l->s + l->i, l->n - l->i, out, cap);
}

static void skip_blanks(struct line *l)
{
	while (l->i < l->n && is_blank(l->s[l->i]))
		l->i++;
}

static size_t name_len_at(const struct line *l, bool allow_colon)
{
	size_t j = l->i;

	while (j < l->n && is_name_char(l->s[j], allow_colon))
		j++;
	return j - l->i;
}

/* Reads a quoted label value at the cursor (just past the opening quote):
 * a view into the line when it has no backslash, else an unescaped copy in
 * scratch. */
static int read_label_value(struct line *l, struct vg_str *out)
{
	size_t start = l->i, j = l->i;
	struct vg_buf *sc = &l->p->scratch;
	size_t at;

	while (j < l->n && l->s[j] != '"' && l->s[j] != '\\')
		j++;
	if (j < l->n && l->s[j] == '"') {
		*out = (struct vg_str){ l->s + start, (uint32_t)(j - start) };
		l->i = j + 1;
		return 0;
	}
	at = sc->len;
	vg_buf_append(sc, l->s + start, j - start);
	while (j < l->n && l->s[j] != '"') {
		if (l->s[j] == '\\') {
			char c;
			if (j + 1 >= l->n)
				break;
			c = l->s[j + 1];
			if (c == 'n')
				vg_buf_putc(sc, '\n');
			else if (c == '\\' || c == '"')
				vg_buf_putc(sc, c);
			else
				vg_buf_append(sc, l->s + j, 2);
			j += 2;
		} else {
			vg_buf_putc(sc, l->s[j]);
			j++;
		}
	}
	if (j >= l->n || l->s[j] != '"') {
		report(l, VG_EINVAL, "label value has no closing quote");
		return VG_EINVAL;
	}
	*out = (struct vg_str){ (const char *)sc->data + at, (uint32_t)(sc->len - at) };
	l->i = j + 1;
	return 0;
}

/* Parses {labels} at the cursor (on the '{') into p->series. */
static int parse_labels(struct line *l)
{
	struct vg_series *s = &l->p->series;
	char what[96];

	l->i++; /* '{' */
	for (;;) {
		struct vg_str name, value;
		size_t nl;

		skip_blanks(l);
		if (l->i < l->n && l->s[l->i] == '}') {
			l->i++;
			return 0;
		}
		if (l->i < l->n && l->s[l->i] == '"') {
			report(l, VG_EINVAL, "quoted label names are not supported");
			return VG_EINVAL;
		}
		nl = name_len_at(l, false);
		if (nl == 0 || is_digit(l->s[l->i])) {
			describe(l, what, sizeof(what));
			report(l, VG_EINVAL, "expected a label name or '}', found %s", what);
			return VG_EINVAL;
		}
		name = (struct vg_str){ l->s + l->i, (uint32_t)nl };
		l->i += nl;
		skip_blanks(l);
		if (l->i >= l->n || l->s[l->i] != '=') {
			describe(l, what, sizeof(what));
			report(l, VG_EINVAL, "expected '=' after label name \"%.*s\", found %s",
			      (int)(nl > 64 ? 64 : nl), name.p, what);
			return VG_EINVAL;
		}
		l->i++;
		skip_blanks(l);
		if (l->i >= l->n || l->s[l->i] != '"') {
			describe(l, what, sizeof(what));
			report(l, VG_EINVAL, "expected '\"' to open the value of label \"%.*s\", found %s",
			      (int)(nl > 64 ? 64 : nl), name.p, what);
			return VG_EINVAL;
		}
		l->i++;
		if (read_label_value(l, &value) != 0)
			return VG_EINVAL;
		if (vg_series_add_str(s, name, value) != 0) {
			report(l, VG_ELIMIT, "more than %d labels", VG_SERIES_MAX_LABELS);
			return VG_ELIMIT;
		}
		skip_blanks(l);
		if (l->i < l->n && l->s[l->i] == ',') {
			l->i++;
			continue;
		}
		if (l->i < l->n && l->s[l->i] == '}') {
			l->i++;
			return 0;
		}
		describe(l, what, sizeof(what));
		report(l, VG_EINVAL, "expected ',' or '}' after a label, found %s", what);
		return VG_EINVAL;
	}
}

static int apply_extra_labels(struct line *l)
{
	struct vg_exposition *p = l->p;
	struct vg_series *s = &p->series;

	for (size_t e = 0; e < p->cfg.n_extra_labels; e++) {
		const struct vg_label *x = &p->cfg.extra_labels[e];
		uint32_t k;

		for (k = 0; k < s->n_labels; k++)
			if (vg_str_eq(s->labels[k].name, x->name))
				break;
		if (k < s->n_labels)
			s->labels[k].value = x->value;
		else if (vg_series_add_str(s, x->name, x->value) != 0) {
			report(l, VG_ELIMIT, "more than %d labels with the extra labels",
			VG_SERIES_MAX_LABELS);
			return VG_ELIMIT;
		}
	}
	return 0;
}

static int parse_sample(struct line *l)
{
	struct vg_exposition *p = l->p;
	struct vg_exposition_sample smp;
	struct vg_err err;
	size_t nl, vstart, vlen;
	char what[96];
	int rc;

	if (l->s[l->i] == '{') {
		size_t j = l->i + 1;
		while (j < l->n && is_blank(l->s[j]))
			j++;
		if (j < l->n && l->s[j] == '"')
			return report(l, VG_EINVAL, "quoted metric names are not supported");
	}
	nl = name_len_at(l, true);
	if (nl == 0 || is_digit(l->s[l->i])) {
		describe(l, what, sizeof(what));
		return report(l, VG_EINVAL, "expected a metric name, found %s", what);
	}
	p->series.name = (struct vg_str){ l->s + l->i, (uint32_t)nl };
	p->series.n_labels = 0;
	l->i += nl;
	if (l->i < l->n && !is_blank(l->s[l->i]) && l->s[l->i] != '{') {
		describe(l, what, sizeof(what));
		return report(l, VG_EINVAL, "unexpected %s after the metric name", what);
	}
	skip_blanks(l);
	if (l->i < l->n && l->s[l->i] == '{') {
		rc = parse_labels(l);
		if (rc != 0)
			return p->stop_rc;
		skip_blanks(l);
	}
	vstart = l->i;
	while (l->i < l->n && !is_blank(l->s[l->i]))
		l->i++;
	vlen = l->i - vstart;
	if (vlen == 0)
		return report(l, VG_EINVAL, "no value after %.*s", (int)(nl > 64 ? 64 : nl), p->series.name.p);
	rc = vg_exposition_parse_value(l->s + vstart, vlen, &smp.value);
	if (rc == VG_ENOMEM)
		return VG_ENOMEM;
	if (rc != 0)
		return report(l, VG_EINVAL, "invalid value \"%.*s\"", (int)(vlen > 64 ? 64 : vlen), l->s + vstart);
	skip_blanks(l);
	smp.has_timestamp = false;
	smp.ts_ms = 0;
	if (l->i < l->n) {
		size_t tstart = l->i, tlen;
		while (l->i < l->n && !is_blank(l->s[l->i]))
			l->i++;
		tlen = l->i - tstart;
		rc = parse_timestamp(l->s + tstart, tlen, &smp.ts_ms);
		if (rc == VG_ELIMIT)
			return report(l, VG_ELIMIT, "timestamp \"%.*s\" is out of the int64 range",
				      (int)(tlen > 64 ? 64 : tlen), l->s + tstart);
		if (rc != 0)
			return report(l, VG_EINVAL, "invalid timestamp \"%.*s\" (integer milliseconds expected)",
				      (int)(tlen > 64 ? 64 : tlen), l->s + tstart);
		smp.has_timestamp = true;
		skip_blanks(l);
		if (l->i < l->n) {
			describe(l, what, sizeof(what));
			return report(l, VG_EINVAL, "unexpected %s after the timestamp", what);
		}
	}
	if (p->cfg.n_extra_labels && apply_extra_labels(l) != 0)
		return p->stop_rc;
	err.msg[0] = '\0';
	rc = vg_series_canonicalize(&p->series, &err);
	if (rc != 0)
		return report(l, rc, "%s", err.msg);
	smp.series = &p->series;
	smp.line = l->no;
	p->stats.samples++;
	return p->cfg.on_sample(p->cfg.ctx, &smp);
}

static const struct {
	const char *word;
	enum vg_exposition_type type;
} type_words[] = {
	{ "counter", VG_EXPOSITION_COUNTER },
	{ "gauge", VG_EXPOSITION_GAUGE },
	{ "histogram", VG_EXPOSITION_HISTOGRAM },
	{ "summary", VG_EXPOSITION_SUMMARY },
	{ "untyped", VG_EXPOSITION_UNTYPED },
};

/* Unescapes a HELP docstring (\\ and \n) into scratch. */
static struct vg_str unescape_help(struct line *l, const char *s, size_t n)
{
	struct vg_buf *sc = &l->p->scratch;
	size_t at = sc->len;

	for (size_t j = 0; j < n; j++) {
		if (s[j] == '\\' && j + 1 < n && (s[j + 1] == '\\' || s[j + 1] == 'n')) {
			vg_buf_putc(sc, s[j + 1] == 'n' ? '\n' : '\\');
			j++;
		} else {
			vg_buf_putc(sc, s[j]);
		}
	}
	return (struct vg_str){ (const char *)sc->data + at, (uint32_t)(sc->len - at) };
}

static int parse_comment(struct line *l)
{
	struct vg_exposition *p = l->p;
	struct vg_exposition_meta m;
	bool is_help;
	size_t nl;
	char what[96];

	l->i++; /* '#' */
	skip_blanks(l);
	if (l->i + 4 > l->n)
		return 0;
	if (memcmp(l->s + l->i, "HELP", 4) == 0)
		is_help = true;
	else if (memcmp(l->s + l->i, "TYPE", 4) == 0)
		is_help = false;
	else
		return 0;
	if (l->i + 4 < l->n && !is_blank(l->s[l->i + 4]))
		return 0; /* "# HELPER ..." is a plain comment */
	l->i += 4;
	skip_blanks(l);
	nl = name_len_at(l, true);
	if (nl == 0 || is_digit(l->s[l->i]) || !vg_metric_name_valid(l->s + l->i, nl) ||
	    (l->i + nl < l->n && !is_blank(l->s[l->i + nl]))) {
		while (l->i + nl < l->n && !is_blank(l->s[l->i + nl]))
			nl++;
		describe_span(l->s + l->i, nl, what, sizeof(what));
		return report(l, VG_EINVAL, "missing or invalid metric name %s in # %s", what, is_help ? "HELP" : "TYPE");
	}
	memset(&m, 0, sizeof(m));
	m.name = (struct vg_str){ l->s + l->i, (uint32_t)nl };
	m.is_help = is_help;
	m.line = l->no;
	l->i += nl;
	skip_blanks(l);
	if (is_help) {
		m.help = unescape_help(l, l->s + l->i, l->n - l->i);
	} else {
		size_t tl = l->n - l->i, k;
		for (k = 0; k < sizeof(type_words) / sizeof(type_words[0]); k++)
			if (strlen(type_words[k].word) == tl && memcmp(type_words[k].word, l->s + l->i, tl) == 0)
				break;
		if (k == sizeof(type_words) / sizeof(type_words[0])) {
			describe_span(l->s + l->i, tl, what, sizeof(what));
			return report(l, VG_EINVAL, "unknown metric type %s in # TYPE %.*s", what,
				      (int)nl, m.name.p);
		}
		m.type = type_words[k].type;
		if (p->type_name_len == nl && memcmp(p->type_name, m.name.p, nl) == 0)
			return report(l, VG_EINVAL, "second # TYPE line for %.*s", (int)nl, m.name.p);
		memcpy(p->type_name, m.name.p, nl);
		p->type_name_len = nl;
	}
	if (p->cfg.on_meta == NULL)
		return 0;
	return p->cfg.on_meta(p->cfg.ctx, &m);
}

/* Parses one complete line s[0..n) without its '\n'. */
static int parse_line(struct vg_exposition *p, const char *s, size_t n)
{
	struct line l = { p, s, n, 0, ++p->stats.lines };

	while (l.n > 0 && (is_blank(s[l.n - 1]) || s[l.n - 1] == '\r'))
		l.n--;
	skip_blanks(&l);
	if (l.i == l.n)
		return 0;
	vg_buf_reset(&p->scratch);
	if (vg_buf_grow(&p->scratch, l.n) != 0)
		return VG_ENOMEM;
	if (s[l.i] == '#')
		return parse_comment(&l);
	return parse_sample(&l);
}

/* ------------------------------------------------------------------------
 * Feeding */

static int too_long(struct vg_exposition *p)
{
	struct line l = { p, "", 0, 0, ++p->stats.lines };

	p->is_skipping = true;
	vg_buf_reset(&p->line_buf);
	return report(&l, VG_ELIMIT, "line longer than %zu bytes", p->cfg.max_line_bytes);
}

int vg_exposition_feed(struct vg_exposition *p, const void *data, size_t len)
{
	const char *s = data;
	size_t max = p->cfg.max_line_bytes;
	int rc;

	if (p->stop_rc)
		return p->stop_rc;
	p->stats.bytes += len;
	while (len > 0) {
		const char *nl = memchr(s, '\n', len);
		size_t seg = nl ? (size_t)(nl - s) : len;

		if (p->is_skipping) {
			if (nl == NULL)
				return 0;
			p->is_skipping = false;
		} else if (nl == NULL) {
			if (p->line_buf.len + seg > max)
				return stopped(p, too_long(p));
			vg_buf_append(&p->line_buf, s, seg);
			if (vg_buf_failed(&p->line_buf))
				return stopped(p, VG_ENOMEM);
			return 0;
		} else if (p->line_buf.len + seg > max) {
			rc = too_long(p);
			p->is_skipping = false;
			vg_buf_reset(&p->line_buf);
			if (rc)
				return stopped(p, rc);
		} else if (p->line_buf.len == 0) {
			rc = parse_line(p, s, seg);
			if (rc)
				return stopped(p, rc);
		} else {
			vg_buf_append(&p->line_buf, s, seg);
			if (vg_buf_failed(&p->line_buf))
				return stopped(p, VG_ENOMEM);
			rc = parse_line(p, (const char *)p->line_buf.data, p->line_buf.len);
			vg_buf_reset(&p->line_buf);
			if (rc)
				return stopped(p, rc);
		}
		s += seg + 1;
		len -= seg + 1;
	}
	return 0;
}

int vg_exposition_finish(struct vg_exposition *p)
{
	int rc = 0;

	if (p->stop_rc)
		return p->stop_rc;
	if (p->is_skipping) {
		p->is_skipping = false;
		return 0;
	}
	if (p->line_buf.len == 0)
		return 0;
	if (p->cfg.needs_final_newline) {
		struct line l = { p, "", 0, 0, ++p->stats.lines };
		rc = report(&l, VG_EINVAL, "last line has no newline (truncated?)");
	} else {
		rc = parse_line(p, (const char *)p->line_buf.data, p->line_buf.len);
	}
	vg_buf_reset(&p->line_buf);
	return stopped(p, rc);
}

/* ------------------------------------------------------------------------
 * Lifecycle */

int vg_exposition_new(const struct vg_exposition_config *cfg, struct vg_exposition **out,
		      struct vg_err *err)
{
	struct vg_exposition *p;

	*out = NULL;
	if (cfg->on_sample == NULL)
		return vg_err_set(err, VG_EINVAL, "exposition parser needs an on_sample callback");
	if (cfg->n_extra_labels > VG_SERIES_MAX_LABELS)
		return vg_err_set(err, VG_ELIMIT, "more than %d extra labels", VG_SERIES_MAX_LABELS);
	for (size_t i = 0; i < cfg->n_extra_labels; i++) {
		const struct vg_label *x = &cfg->extra_labels[i];
		if (!vg_label_name_valid(x->name.p, x->name.len) ||
		    (x->name.len >= 2 && x->name.p[0] == '_' && x->name.p[1] == '_'))
			return vg_err_set(err, VG_EINVAL, "invalid extra label name \"%.*s\"",
					  (int)(x->name.len > 64 ? 64 : x->name.len), x->name.p);
		if (x->value.len > VG_SERIES_MAX_VALUE || !vg_utf8_valid(x->value.p, x->value.len))
			return vg_err_set(err, VG_EINVAL, "invalid value of extra label \"%.*s\"",
					  (int)x->name.len, x->name.p);
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	p->cfg = *cfg;
	if (p->cfg.max_line_bytes == 0)
		p->cfg.max_line_bytes = VG_EXPOSITION_DEFAULT_MAX_LINE;
	if (p->cfg.max_line_bytes < VG_EXPOSITION_MIN_MAX_LINE)
		p->cfg.max_line_bytes = VG_EXPOSITION_MIN_MAX_LINE;
	vg_buf_init(&p->line_buf);
	vg_buf_init(&p->scratch);
	*out = p;
	return 0;
}

void vg_exposition_free(struct vg_exposition *p)
{
	if (p == NULL)
		return;
	vg_buf_release(&p->line_buf);
	vg_buf_release(&p->scratch);
	free(p);
}

const struct vg_exposition_stats *vg_exposition_stats(const struct vg_exposition *p)
{
	return &p->stats;
}
