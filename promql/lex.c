/*
 * lex.c: the PromQL lexer (lex.h).
 *
 * Numbers are read as Prometheus reads them: Go's strconv.ParseInt with
 * base 0 first (so 0x1f is hex and 010 is octal, as in Prometheus), then
 * ParseFloat; "_" only between two digits. A word spelled Inf or NaN in any
 * case is a number. A number followed by a letter must be a duration.
 *
 * Strings follow Go, as Prometheus's lexer does: \' is an escape only in
 * '...', \" only in "..."; a raw newline inside either is an error; every
 * string is valid UTF-8 once its escapes are read (a label value can hold
 * nothing else).
 */
#include "promql/lex.h"
#include "promql/ast.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/series.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

static const struct {
	const char *word;
	enum vg_tok tok;
	int agg;
} keywords[] = {
	{ "and", VG_TOK_AND, -1 }, { "or", VG_TOK_OR, -1 }, { "unless", VG_TOK_UNLESS, -1 },
	{ "atan2", VG_TOK_ATAN2, -1 }, { "offset", VG_TOK_OFFSET, -1 }, { "by", VG_TOK_BY, -1 },
	{ "without", VG_TOK_WITHOUT, -1 }, { "on", VG_TOK_ON, -1 },
	{ "ignoring", VG_TOK_IGNORING, -1 }, { "group_left", VG_TOK_GROUP_LEFT, -1 },
	{ "group_right", VG_TOK_GROUP_RIGHT, -1 }, { "bool", VG_TOK_BOOL, -1 },
	{ "sum", VG_TOK_AGGREGATOR, VG_PROMQL_SUM }, { "avg", VG_TOK_AGGREGATOR, VG_PROMQL_AVG },
	{ "count", VG_TOK_AGGREGATOR, VG_PROMQL_COUNT }, { "min", VG_TOK_AGGREGATOR, VG_PROMQL_MIN },
	{ "max", VG_TOK_AGGREGATOR, VG_PROMQL_MAX }, { "group", VG_TOK_AGGREGATOR, VG_PROMQL_GROUP },
	{ "stddev", VG_TOK_AGGREGATOR, VG_PROMQL_STDDEV },
	{ "stdvar", VG_TOK_AGGREGATOR, VG_PROMQL_STDVAR },
	{ "topk", VG_TOK_AGGREGATOR, VG_PROMQL_TOPK },
	{ "bottomk", VG_TOK_AGGREGATOR, VG_PROMQL_BOTTOMK },
	{ "count_values", VG_TOK_AGGREGATOR, VG_PROMQL_COUNT_VALUES },
	{ "quantile", VG_TOK_AGGREGATOR, VG_PROMQL_QUANTILE },
	{ "limitk", VG_TOK_AGGREGATOR, VG_PROMQL_LIMITK },
	{ "limit_ratio", VG_TOK_AGGREGATOR, VG_PROMQL_LIMIT_RATIO },
};

static bool is_alpha_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum_(char c)
{
	return is_alpha_(c) || is_digit(c);
}

void vg_lex_init(struct vg_lexer *lx, const char *s, size_t len)
{
	memset(lx, 0, sizeof(*lx));
	lx->s = s;
	lx->len = len;
	vg_buf_init(&lx->str);
}

void vg_lex_release(struct vg_lexer *lx)
{
	vg_buf_release(&lx->str);
}

static void lex_error(struct vg_lexer *lx, struct vg_token *t, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void lex_error(struct vg_lexer *lx, struct vg_token *t, size_t at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(lx->err_msg, sizeof(lx->err_msg), fmt, ap);
	va_end(ap);
	lx->err_pos = at;
	t->type = VG_TOK_ERROR;
	t->pos = at;
	t->len = 0;
	lx->pos = lx->len; /* nothing after an error */
}

void vg_lex_quote(struct vg_buf *b, const char *s, size_t n)
{
	size_t i = 0;

	vg_buf_putc(b, '"');
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			vg_buf_putc(b, '\\');
			vg_buf_putc(b, (char)c);
			i++;
		} else if (c >= 0x20 && c < 0x7F) {
			vg_buf_putc(b, (char)c);
			i++;
		} else if (c < 0x80) {
			switch (c) {
			case '\a': vg_buf_puts(b, "\\a"); break;
			case '\b': vg_buf_puts(b, "\\b"); break;
			case '\f': vg_buf_puts(b, "\\f"); break;
			case '\n': vg_buf_puts(b, "\\n"); break;
			case '\r': vg_buf_puts(b, "\\r"); break;
			case '\t': vg_buf_puts(b, "\\t"); break;
			case '\v': vg_buf_puts(b, "\\v"); break;
			default: vg_buf_printf(b, "\\x%02x", c); break;
			}
			i++;
		} else {
			size_t k;
			for (k = 2; k <= 4 && i + k <= n; k++)
				if (vg_utf8_valid(s + i, k))
					break;
			if (k <= 4 && i + k <= n) {
				vg_buf_append(b, s + i, k);
				i += k;
			} else {
				vg_buf_printf(b, "\\x%02x", c);
				i++;
			}
		}
	}
	vg_buf_putc(b, '"');
}

void vg_lex_describe(const struct vg_lexer *lx, const struct vg_token *t, char *out, size_t cap)
{
	struct vg_buf b = VG_BUF_INIT;
	size_t n = t->len > 40 ? 40 : t->len;
	const char *kind = NULL;

	switch (t->type) {
	case VG_TOK_EOF: snprintf(out, cap, "end of input"); return;
	case VG_TOK_ERROR: snprintf(out, cap, "error"); return;
	case VG_TOK_IDENT: kind = "identifier"; break;
	case VG_TOK_NUMBER: kind = "number"; break;
	case VG_TOK_DURATION: kind = "duration"; break;
	case VG_TOK_STRING: kind = "string"; break;
	case VG_TOK_AGGREGATOR: kind = "aggregation"; break;
	default:
		if (t->is_word)
			kind = "keyword";
		break;
	}
	if (kind)
		vg_buf_printf(&b, "%s ", kind);
	vg_lex_quote(&b, lx->s + t->pos, n);
	if (n < t->len) {
		b.len--; /* the closing quote */
		vg_buf_puts(&b, "...\"");
	}
	snprintf(out, cap, "%s", vg_buf_failed(&b) ? "token" : vg_buf_cstr(&b));
	vg_buf_release(&b);
}

/* Appends code point cp as UTF-8; cp is known valid. */
static void put_utf8(struct vg_buf *b, uint32_t cp)
{
	char u[4];

	if (cp < 0x80) {
		u[0] = (char)cp;
		vg_buf_append(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3F));
		vg_buf_append(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		vg_buf_append(b, u, 3);
	} else {
		u[0] = (char)(0xF0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		vg_buf_append(b, u, 4);
	}
}

/* Reads one Go escape after the backslash at lx->pos into lx->str. */
static bool read_escape(struct vg_lexer *lx, struct vg_token *t, char quote_char)
{
	size_t bs = lx->pos;
	char c;
	int n_digits = 0, base = 16;
	uint32_t cp = 0;

	lx->pos++;
	if (lx->pos >= lx->len) {
		lex_error(lx, t, bs, "unterminated escape sequence at end of input");
		return false;
	}
	c = lx->s[lx->pos++];
	switch (c) {
	case 'a': vg_buf_putc(&lx->str, '\a'); return true;
	case 'b': vg_buf_putc(&lx->str, '\b'); return true;
	case 'f': vg_buf_putc(&lx->str, '\f'); return true;
	case 'n': vg_buf_putc(&lx->str, '\n'); return true;
	case 'r': vg_buf_putc(&lx->str, '\r'); return true;
	case 't': vg_buf_putc(&lx->str, '\t'); return true;
	case 'v': vg_buf_putc(&lx->str, '\v'); return true;
	case '\\': vg_buf_putc(&lx->str, '\\'); return true;
	case 'x': n_digits = 2; break;
	case 'u': n_digits = 4; break;
	case 'U': n_digits = 8; break;
	case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
		n_digits = 3;
		base = 8;
		lx->pos--; /* the first digit is part of the value */
		break;
	default:
		if (c == quote_char) {
			vg_buf_putc(&lx->str, c);
			return true;
		}
		/* Go allows \' only in '...' and \" only in "...". */
		if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7F)
			lex_error(lx, t, bs, "unknown escape sequence U+%04X '%c'", (unsigned char)c, c);
		else
			lex_error(lx, t, bs, "unknown escape sequence U+%04X", (unsigned char)c);
		return false;
	}
	for (int i = 0; i < n_digits; i++) {
		int d;
		if (lx->pos >= lx->len) {
			lex_error(lx, t, bs, "unterminated escape sequence at end of input");
			return false;
		}
		d = vg_hex_digit(lx->s[lx->pos]);
		if (d < 0 || d >= base) {
			char what[32];
			unsigned char bad = (unsigned char)lx->s[lx->pos];
			if (bad == (unsigned char)quote_char)
				snprintf(what, sizeof(what), "end of string");
			else if (bad > 0x20 && bad < 0x7F)
				snprintf(what, sizeof(what), "character '%c'", bad);
			else
				snprintf(what, sizeof(what), "byte 0x%02x", bad);
			lex_error(lx, t, lx->pos, "unexpected %s in escape sequence \\%c: %s digit expected",
				  what, c, base == 8 ? "octal" : "hex");
			return false;
		}
		cp = cp * (uint32_t)base + (uint32_t)d;
		lx->pos++;
	}
	if (c == 'x') {
		vg_buf_putc(&lx->str, (char)cp); /* a byte, not a code point */
		return true;
	}
	if (base == 8) {
		if (cp > 255) {
			lex_error(lx, t, bs, "octal escape value %u > 255", cp);
			return false;
		}
		vg_buf_putc(&lx->str, (char)cp);
		return true;
	}
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
		lex_error(lx, t, bs, "escape sequence \\%c is an invalid Unicode code point U+%04X", c, cp);
		return false;
	}
	put_utf8(&lx->str, cp);
	return true;
}

static void lex_string(struct vg_lexer *lx, struct vg_token *t)
{
	size_t start = lx->pos;
	char q = lx->s[lx->pos++];

	vg_buf_reset(&lx->str);
	for (;;) {
		char c;
		if (lx->pos >= lx->len) {
			lex_error(lx, t, start, "unterminated quoted string");
			return;
		}
		c = lx->s[lx->pos];
		if (c == q) {
			lx->pos++;
			break;
		}
		if (c == '\\' && q != '`') {
			if (!read_escape(lx, t, q))
				return;
			continue;
		}
		if (c == '\n' && q != '`') {
			lex_error(lx, t, lx->pos, "unterminated quoted string: newline in string");
			return;
		}
		if ((unsigned char)c >= 0x80) {
			size_t n;
			for (n = 2; n <= 4 && lx->pos + n <= lx->len; n++)
				if (vg_utf8_valid(lx->s + lx->pos, n))
					break;
			if (n > 4 || lx->pos + n > lx->len) {
				lex_error(lx, t, lx->pos, "invalid UTF-8 byte 0x%02x in string", (unsigned char)c);
				return;
			}
			vg_buf_append(&lx->str, lx->s + lx->pos, n);
			lx->pos += n;
			continue;
		}
		vg_buf_putc(&lx->str, c);
		lx->pos++;
	}
	if (vg_buf_failed(&lx->str)) {
		lex_error(lx, t, start, "out of memory reading a string");
		return;
	}
	if (!vg_utf8_valid(vg_buf_cstr(&lx->str), lx->str.len)) {
		lex_error(lx, t, start, "string is not valid UTF-8 once its escapes are read");
		return;
	}
	t->type = VG_TOK_STRING;
	t->pos = start;
	t->len = lx->pos - start;
}

int vg_lex_duration(const char *s, size_t len, int64_t *ms, char *msg, size_t cap)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {
		{ "y", 365LL * 24 * 3600 * 1000 }, { "w", 7LL * 24 * 3600 * 1000 },
		{ "d", 24LL * 3600 * 1000 }, { "h", 3600LL * 1000 }, { "m", 60LL * 1000 },
		{ "s", 1000 }, { "ms", 1 },
	};
	size_t i = 0, next_unit = 0;
	int64_t total = 0;

	if (len == 1 && s[0] == '0') {
		*ms = 0;
		return 0;
	}
	if (len == 0)
		goto bad;
	while (i < len) {
		int64_t v = 0;
		size_t u, digits = 0;
		while (i < len && is_digit(s[i])) {
			if (v > (INT64_MAX - 9) / 10)
				goto range;
			v = v * 10 + (s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0)
			goto bad;
		for (u = next_unit; u < sizeof(units) / sizeof(units[0]); u++) {
			size_t ul = strlen(units[u].unit);
			if (i + ul <= len && memcmp(s + i, units[u].unit, ul) == 0 &&
			    !(ul == 1 && units[u].unit[0] == 'm' && i + 1 < len && s[i + 1] == 's'))
				break;
		}
		if (u == sizeof(units) / sizeof(units[0]))
			goto bad;
		i += strlen(units[u].unit);
		next_unit = u + 1;
		if (v > INT64_MAX / units[u].ms || total > INT64_MAX - v * units[u].ms)
			goto range;
		total += v * units[u].ms;
	}
	*ms = total;
	return 0;
bad:
	snprintf(msg, cap, "not a valid duration string: \"%.*s\"", (int)(len > 40 ? 40 : len), s);
	return VG_EINVAL;
range:
	snprintf(msg, cap, "duration out of range");
	return VG_ELIMIT;
}

/* Whether s[0..n) has "_" only between two digits of base (after a 0x
 * prefix too). */
static bool underscores_ok(const char *s, size_t n, bool hex)
{
	for (size_t i = 0; i < n; i++) {
		bool prev_ok, next_ok;
		if (s[i] != '_')
			continue;
		if (i == 0 || i + 1 >= n)
			return false;
		prev_ok = hex ? (vg_hex_digit(s[i - 1]) >= 0 || s[i - 1] == 'x' || s[i - 1] == 'X')
			      : is_digit(s[i - 1]);
		next_ok = hex ? vg_hex_digit(s[i + 1]) >= 0 : is_digit(s[i + 1]);
		if (!prev_ok || !next_ok)
			return false;
	}
	return true;
}

static bool parse_number(char *buf, bool is_hex, bool is_int, double *out);

/* The value of the number s[0..n) as Prometheus computes it; false if it
 * has none. */
static bool number_value(const char *s, size_t n, double *out)
{
	/* Room for any double in 'f' form (5e-324 takes 326 bytes), so the
	 * printer's text always reads back; longer input is copied to the heap. */
	char stack[1100], *buf = n < sizeof(stack) ? stack : malloc(n + 1);
	size_t k = 0;
	bool is_hex = n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	bool is_int = true, ok;

	if (buf == NULL)
		return false;
	if (!underscores_ok(s, n, is_hex)) {
		ok = false;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_')
			continue;
		if (!is_hex && (s[i] == '.' || s[i] == 'e' || s[i] == 'E'))
			is_int = false;
		buf[k++] = s[i];
	}
	buf[k] = '\0';
	ok = parse_number(buf, is_hex, is_int, out);
out:
	if (buf != stack)
		free(buf);
	return ok;
}

/* buf holds the digits without "_": Go's ParseInt(s, 0, 64), then
 * ParseFloat, as Prometheus reads a number. */
static bool parse_number(char *buf, bool is_hex, bool is_int, double *out)
{
	size_t k = strlen(buf);
	char *end;

	if (is_int) {
		/* ParseInt(s, 0, 64): 0x hex, leading 0 octal, else decimal. */
		int base = is_hex ? 16 : (k > 1 && buf[0] == '0') ? 8 : 10;
		long long v;
		errno = 0;
		v = strtoll(is_hex ? buf + 2 : buf, &end, base);
		if (errno == 0 && *end == '\0' && end != (is_hex ? buf + 2 : buf)) {
			*out = (double)v;
			return true;
		}
		if (is_hex)
			return false; /* ParseFloat refuses hex without a p exponent */
	}
	errno = 0;
	*out = strtod(buf, &end);
	if (*end != '\0' || end == buf)
		return false;
	/* ParseFloat reports overflow as an error; underflow to 0 is fine. */
	if (errno == ERANGE && isinf(*out))
		return false;
	return true;
}

static void lex_number(struct vg_lexer *lx, struct vg_token *t)
{
	size_t start = lx->pos, i = lx->pos;
	const char *s = lx->s;

	if (i + 1 < lx->len && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		i += 2;
		while (i < lx->len && (vg_hex_digit(s[i]) >= 0 || s[i] == '_'))
			i++;
	} else {
		while (i < lx->len && (is_digit(s[i]) || s[i] == '_'))
			i++;
		if (i < lx->len && s[i] == '.') {
			i++;
			while (i < lx->len && (is_digit(s[i]) || s[i] == '_'))
				i++;
		}
		if (i < lx->len && (s[i] == 'e' || s[i] == 'E') && i + 1 < lx->len &&
		    (is_digit(s[i + 1]) || ((s[i + 1] == '+' || s[i + 1] == '-') && i + 2 < lx->len &&
					    is_digit(s[i + 2])))) {
			i += 2;
			while (i < lx->len && is_digit(s[i]))
				i++;
		}
	}
	if (i < lx->len && (is_alnum_(s[i]) || s[i] == '.')) {
		/* Not a number: a duration, or nothing. */
		size_t j = start;
		char msg[128];
		while (j < lx->len && (is_alnum_(s[j]) || s[j] == '.'))
			j++;
		if (vg_lex_duration(s + start, j - start, &lx->duration_ms, msg, sizeof(msg)) == 0) {
			t->type = VG_TOK_DURATION;
			t->pos = start;
			t->len = j - start;
			lx->pos = j;
			return;
		}
		if (strcmp(msg, "duration out of range") == 0) {
			lex_error(lx, t, start, "%s", msg);
			return;
		}
		lex_error(lx, t, start, "bad number or duration syntax: \"%.*s\"",
			  (int)(j - start > 40 ? 40 : j - start), s + start);
		return;
	}
	if (!number_value(s + start, i - start, &lx->number)) {
		lex_error(lx, t, start, "bad number syntax: \"%.*s\"",
			  (int)(i - start > 40 ? 40 : i - start), s + start);
		return;
	}
	t->type = VG_TOK_NUMBER;
	t->pos = start;
	t->len = i - start;
	lx->pos = i;
}

static bool word_is(const char *s, size_t n, const char *kw)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (kw[i] == '\0' || c != kw[i])
			return false;
	}
	return kw[i] == '\0';
}

static void lex_word(struct vg_lexer *lx, struct vg_token *t)
{
	size_t start = lx->pos, n;

	while (lx->pos < lx->len && (is_alnum_(lx->s[lx->pos]) || lx->s[lx->pos] == ':'))
		lx->pos++;
	n = lx->pos - start;
	t->pos = start;
	t->len = n;
	t->is_word = true;
	t->type = VG_TOK_IDENT;
	for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
		if (word_is(lx->s + start, n, keywords[k].word)) {
			t->type = keywords[k].tok;
			lx->agg = keywords[k].agg;
			return;
		}
	}
	if (word_is(lx->s + start, n, "inf")) {
		t->type = VG_TOK_NUMBER;
		lx->number = INFINITY;
	} else if (word_is(lx->s + start, n, "nan")) {
		t->type = VG_TOK_NUMBER;
		lx->number = NAN;
	}
}

void vg_lex_next(struct vg_lexer *lx, struct vg_token *t)
{
	const char *s = lx->s;
	char c, d;

	memset(t, 0, sizeof(*t));
	for (;;) {
		if (lx->pos >= lx->len) {
			if (!lx->err_msg[0] && lx->brace_depth == 0 && (lx->paren_depth > 0 || lx->is_in_brackets)) {
				snprintf(lx->err_msg, sizeof(lx->err_msg), "%s",
					 lx->paren_depth > 0 ? "unclosed left parenthesis" : "unclosed left bracket");
				lx->err_pos = lx->len;
			}
			t->type = lx->err_msg[0] ? VG_TOK_ERROR : VG_TOK_EOF;
			t->pos = lx->err_msg[0] ? lx->err_pos : lx->len;
			return;
		}
		c = s[lx->pos];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			lx->pos++;
		} else if (c == '#') {
			while (lx->pos < lx->len && s[lx->pos] != '\n')
				lx->pos++;
		} else {
			break;
		}
	}
	t->pos = lx->pos;
	d = lx->pos + 1 < lx->len ? s[lx->pos + 1] : '\0';
	if (is_digit(c) || (c == '.' && is_digit(d))) {
		lex_number(lx, t);
		return;
	}
	if (is_alpha_(c) || (c == ':' && !lx->is_in_brackets)) {
		lex_word(lx, t);
		return;
	}
	if (c == '"' || c == '\'' || c == '`') {
		lex_string(lx, t);
		return;
	}
	t->len = 1;
	switch (c) {
	case '(':
		t->type = VG_TOK_LPAREN;
		lx->paren_depth++;
		break;
	/* Closers without their opener, and a second ':' in brackets, are
	 * the lexer's errors, in Prometheus's words and places. */
	case ')':
		if (lx->paren_depth == 0) {
			lex_error(lx, t, lx->pos + 1, "unexpected right parenthesis ')'");
			return;
		}
		t->type = VG_TOK_RPAREN;
		lx->paren_depth--;
		break;
	case '{':
		t->type = VG_TOK_LBRACE;
		lx->brace_depth++;
		break;
	case '}':
		if (lx->brace_depth == 0) {
			lex_error(lx, t, lx->pos, "unexpected character: '}'");
			return;
		}
		t->type = VG_TOK_RBRACE;
		lx->brace_depth--;
		break;
	case '[':
		t->type = VG_TOK_LBRACKET;
		lx->is_in_brackets = true;
		lx->has_colon = false;
		break;
	case ']':
		if (!lx->is_in_brackets) {
			lex_error(lx, t, lx->pos, "unexpected right bracket ']'");
			return;
		}
		t->type = VG_TOK_RBRACKET;
		lx->is_in_brackets = false;
		break;
	case ',': t->type = VG_TOK_COMMA; break;
	case ':':
		if (lx->has_colon) {
			lex_error(lx, t, lx->pos, "unexpected colon ':'");
			return;
		}
		t->type = VG_TOK_COLON;
		lx->has_colon = true;
		break;
	case '@': t->type = VG_TOK_AT; break;
	case '+': t->type = VG_TOK_ADD; break;
	case '-': t->type = VG_TOK_SUB; break;
	case '*': t->type = VG_TOK_MUL; break;
	case '/': t->type = VG_TOK_DIV; break;
	case '%': t->type = VG_TOK_MOD; break;
	case '^': t->type = VG_TOK_POW; break;
	case '=':
		if (d == '=') {
			t->type = VG_TOK_EQLC;
			t->len = 2;
		} else if (d == '~') {
			t->type = VG_TOK_EQL_REGEX;
			t->len = 2;
		} else {
			t->type = VG_TOK_ASSIGN;
		}
		break;
	case '!':
		if (d == '=') {
			t->type = VG_TOK_NEQ;
		} else if (d == '~') {
			t->type = VG_TOK_NEQ_REGEX;
		} else {
			lex_error(lx, t, lx->pos, "unexpected character after '!': %s",
				  d == '\0' ? "end of input" : "expected '=' or '~'");
			return;
		}
		t->len = 2;
		break;
	case '>':
		t->type = d == '=' ? VG_TOK_GTE : VG_TOK_GTR;
		t->len = d == '=' ? 2 : 1;
		break;
	case '<':
		t->type = d == '=' ? VG_TOK_LTE : VG_TOK_LSS;
		t->len = d == '=' ? 2 : 1;
		break;
	default:
		if ((unsigned char)c > 0x20 && (unsigned char)c < 0x7F) {
			lex_error(lx, t, lx->pos, "unexpected character: '%c'", c);
			return;
		}
		if ((unsigned char)c >= 0x80) {
			for (size_t n = 2; n <= 4 && lx->pos + n <= lx->len; n++)
				if (vg_utf8_valid(s + lx->pos, n)) {
					lex_error(lx, t, lx->pos, "unexpected character: '%.*s'", (int)n, s + lx->pos);
					return;
				}
		}
		lex_error(lx, t, lx->pos, "unexpected character: byte 0x%02x", (unsigned char)c);
		return;
	}
	lx->pos += t->len;
}
