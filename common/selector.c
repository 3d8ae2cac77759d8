/*
 * selector.c: parsing PromQL instant-vector selectors and matching series
 * against them (selector.h).
 *
 * Owns the selector syntax, its errors and the compiled regexes; does not
 * own ranges, offsets or anything else of PromQL (the query parser grows
 * around this one), nor the series model (series.h).
 *
 * Invariants:
 *  - A parsed selector has at least one matcher that does not match the
 *    empty string, so it can never select every series.
 *  - The metric name written before the braces is matcher 0; matchers in
 *    braces follow in the order written.
 *  - Errors say "L:C: parse error: ..." with the 1-based line and byte column
 *    of the offending character, as Prometheus writes them.
 *  - Every string value is valid UTF-8 once its escapes are read (a label
 *    value can hold nothing else, so "\xff" is refused rather than kept as
 *    a value no series can have).
 *
 * Strings follow Go, as Prometheus's lexer does: \' is an escape only in
 * '...', \" only in "..."; a raw newline inside either is an error;
 * `...` is raw. "#" starts a comment to the end of the line.
 *
 * Regexes are fully anchored. Rather than pasting the source into
 * "^(?:...)$" (where "$" also matches before a final newline, and "\Q" or an
 * extra ")" in the source could escape the wrapper) the source is compiled on
 * its own with PCRE2_ANCHORED | PCRE2_ENDANCHORED, which means the same as
 * Go's ^(?:re)$ and cannot be subverted. PCRE2's default match limit bounds
 * the work of a pathological regex; a match that hits it counts as no match.
 */
#include "common/selector.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/series.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define MAX_TEXT_BYTES (64 * 1024)
#define MAX_MATCHERS 64

struct parser {
	const char *s;
	size_t len;
	size_t pos;
	struct vg_selector *sel;
	size_t cap;           /* allocated entries of sel->m */
	bool has_name;        /* a metric name came before the braces */
	struct vg_buf val;    /* unescaped string being read */
	struct vg_err *err;
};

/* Words PromQL reserves for its operators; they cannot be metric names. */
static const char *const keywords[] = {
	"bool", "by", "group_left", "group_right", "ignoring", "offset", "on", "without",
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_alpha_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void line_col(const struct parser *p, size_t off, unsigned *line, unsigned *col)
{
	size_t line_start = 0;

	*line = 1;
	for (size_t i = 0; i < off && i < p->len; i++) {
		if (p->s[i] == '\n') {
			(*line)++;
			line_start = i + 1;
		}
	}
	*col = (unsigned)(off - line_start + 1);
}

static int perr(struct parser *p, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(struct parser *p, size_t off, const char *fmt, ...)
{
	char msg[VG_ERR_MSG_MAX];
	unsigned line, col;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	line_col(p, off, &line, &col);
	return vg_err_set(p->err, VG_EINVAL, "%u:%u: parse error: %s", line, col, msg);
}

/*
 * Writes s[0..n) into out as a double-quoted string a reader can trust:
 * printable ASCII and valid UTF-8 as they are, quotes and backslashes
 * escaped, anything else as \xHH; longer than max bytes ends in "...".
 */
static void quote(const char *s, size_t n, size_t max, char *out, size_t cap)
{
	struct vg_buf b = VG_BUF_INIT;
	size_t i = 0;

	vg_buf_putc(&b, '"');
	while (i < n && i < max) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			vg_buf_putc(&b, '\\');
			vg_buf_putc(&b, (char)c);
			i++;
		} else if (c == '\n') {
			vg_buf_puts(&b, "\\n");
			i++;
		} else if (c >= 0x20 && c < 0x7F) {
			vg_buf_putc(&b, (char)c);
			i++;
		} else {
			size_t k = 1;
			while (c >= 0x80 && k <= 4 && i + k <= n && !vg_utf8_valid(s + i, k))
				k++;
			if (c >= 0x80 && k <= 4 && i + k <= n) {
				vg_buf_append(&b, s + i, k);
				i += k;
			} else {
				vg_buf_printf(&b, "\\x%02x", c);
				i++;
			}
		}
	}
	if (i < n)
		vg_buf_puts(&b, "...");
	vg_buf_putc(&b, '"');
	if (cap) {
		size_t len = vg_buf_failed(&b) ? 0 : b.len;
		if (len > cap - 1)
			len = cap - 1;
		if (len)
			memcpy(out, b.data, len);
		out[len] = '\0';
	}
	vg_buf_release(&b);
}

/* Length of the identifier at off; metric names may hold ':', labels not. */
static size_t ident_len(const struct parser *p, size_t off, bool allow_colon)
{
	size_t i = off;

	if (i >= p->len || !(is_alpha_(p->s[i]) || (allow_colon && p->s[i] == ':')))
		return 0;
	for (i++; i < p->len; i++)
		if (!(is_alpha_(p->s[i]) || is_digit(p->s[i]) || (allow_colon && p->s[i] == ':')))
			break;
	return i - off;
}

/* Names the token at off for "unexpected X" messages. */
static void describe(const struct parser *p, size_t off, char *out, size_t cap)
{
	const char *s = p->s + off;
	size_t left = p->len - off, n;
	char q[96];

	if (off >= p->len) {
		snprintf(out, cap, "end of input");
		return;
	}
	if (is_alpha_(s[0]) && (n = ident_len(p, off, true)) > 0) {
		quote(s, n, 32, q, sizeof(q));
		snprintf(out, cap, "identifier %s", q);
		return;
	}
	if (s[0] == '"' || s[0] == '\'' || s[0] == '`') {
		snprintf(out, cap, "string");
		return;
	}
	if (left >= 2 && ((s[0] == '=' && (s[1] == '~' || s[1] == '=')) ||
			  (s[0] == '!' && (s[1] == '~' || s[1] == '=')))) {
		snprintf(out, cap, "\"%c%c\"", s[0], s[1]);
		return;
	}
	if (strchr("{}=,()[]", s[0]) != NULL && s[0] != '\0') {
		snprintf(out, cap, "\"%c\"", s[0]);
		return;
	}
	if (s[0] > 0x20 && s[0] < 0x7F) {
		snprintf(out, cap, "character '%c'", s[0]);
		return;
	}
	if ((unsigned char)s[0] >= 0x80) {
		for (n = 2; n <= 4 && n <= left; n++) {
			if (vg_utf8_valid(s, n)) {
				snprintf(out, cap, "character '%.*s'", (int)n, s);
				return;
			}
		}
	}
	snprintf(out, cap, "byte 0x%02x", (unsigned char)s[0]);
}

static int unexpected(struct parser *p, const char *context)
{
	char what[128];

	describe(p, p->pos, what, sizeof(what));
	if (p->pos >= p->len && strstr(context, "label matching") != NULL)
		return perr(p, p->pos, "unexpected end of input inside braces");
	return perr(p, p->pos, "unexpected %s%s", what, context);
}

/* Skips white space and # comments (to the end of the line). */
static void skip_space(struct parser *p)
{
	while (p->pos < p->len) {
		if (is_space(p->s[p->pos])) {
			p->pos++;
		} else if (p->s[p->pos] == '#') {
			while (p->pos < p->len && p->s[p->pos] != '\n')
				p->pos++;
		} else {
			break;
		}
	}
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

/* Reads one Go escape after the backslash at p->pos into p->val. */
static int read_escape(struct parser *p, char quote_char)
{
	size_t bs = p->pos;
	char c;
	int n_digits = 0, base = 16;
	uint32_t cp = 0;

	p->pos++;
	if (p->pos >= p->len)
		return perr(p, bs, "unterminated escape sequence at end of input");
	c = p->s[p->pos++];
	switch (c) {
	case 'a': vg_buf_putc(&p->val, '\a'); return 0;
	case 'b': vg_buf_putc(&p->val, '\b'); return 0;
	case 'f': vg_buf_putc(&p->val, '\f'); return 0;
	case 'n': vg_buf_putc(&p->val, '\n'); return 0;
	case 'r': vg_buf_putc(&p->val, '\r'); return 0;
	case 't': vg_buf_putc(&p->val, '\t'); return 0;
	case 'v': vg_buf_putc(&p->val, '\v'); return 0;
	case '\\': vg_buf_putc(&p->val, '\\'); return 0;
	case 'x': n_digits = 2; break;
	case 'u': n_digits = 4; break;
	case 'U': n_digits = 8; break;
	case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
		n_digits = 3;
		base = 8;
		p->pos--; /* the first digit is part of the value */
		break;
	default:
		if (c == quote_char) {
			vg_buf_putc(&p->val, c);
			return 0;
		}
		/* Go allows \' only in '...' and \" only in "...". */
		if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7F)
			return perr(p, bs, "unknown escape sequence U+%04X '%c'", (unsigned char)c, c);
		return perr(p, bs, "unknown escape sequence U+%04X", (unsigned char)c);
	}
	for (int i = 0; i < n_digits; i++) {
		int d;
		if (p->pos >= p->len)
			return perr(p, bs, "unterminated escape sequence at end of input");
		d = hex_val(p->s[p->pos]);
		if (d < 0 || d >= base) {
			char what[32];
			unsigned char bad = (unsigned char)p->s[p->pos];
			if (bad == (unsigned char)quote_char)
				snprintf(what, sizeof(what), "end of string");
			else if (bad > 0x20 && bad < 0x7F)
				snprintf(what, sizeof(what), "character '%c'", bad);
			else
				snprintf(what, sizeof(what), "byte 0x%02x", bad);
			return perr(p, p->pos, "unexpected %s in escape sequence \\%c: %s digit expected",
				    what, c, base == 8 ? "octal" : "hex");
		}
		cp = cp * (uint32_t)base + (uint32_t)d;
		p->pos++;
	}
	if (c == 'x') {
		vg_buf_putc(&p->val, (char)cp); /* a byte, not a code point */
		return 0;
	}
	if (base == 8) {
		if (cp > 255)
			return perr(p, bs, "octal escape value %u > 255", cp);
		vg_buf_putc(&p->val, (char)cp);
		return 0;
	}
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return perr(p, bs, "escape sequence \\%c is an invalid Unicode code point U+%04X", c, cp);
	put_utf8(&p->val, cp);
	return 0;
}

/* Reads a quoted string at p->pos into p->val (unescaped). */
static int read_string(struct parser *p)
{
	size_t start = p->pos;
	char q = p->s[p->pos++];

	vg_buf_reset(&p->val);
	for (;;) {
		char c;
		if (p->pos >= p->len)
			return perr(p, start, "unterminated quoted string");
		c = p->s[p->pos];
		if (c == q) {
			p->pos++;
			break;
		}
		if (c == '\\' && q != '`') {
			if (read_escape(p, q) < 0)
				return VG_EINVAL;
			continue;
		}
		if (c == '\n' && q != '`')
			return perr(p, p->pos, "unterminated quoted string: newline in string");
		if ((unsigned char)c >= 0x80) {
			size_t n;
			for (n = 2; n <= 4 && p->pos + n <= p->len; n++)
				if (vg_utf8_valid(p->s + p->pos, n))
					break;
			if (n > 4 || p->pos + n > p->len)
				return perr(p, p->pos, "invalid UTF-8 byte 0x%02x in string",
					    (unsigned char)c);
			vg_buf_append(&p->val, p->s + p->pos, n);
			p->pos += n;
			continue;
		}
		vg_buf_putc(&p->val, c);
		p->pos++;
	}
	if (vg_buf_failed(&p->val))
		return vg_err_set(p->err, VG_ENOMEM, "out of memory parsing a selector");
	if (!vg_utf8_valid(vg_buf_cstr(&p->val), p->val.len))
		return perr(p, start, "string is not valid UTF-8 once its escapes are read");
	return 0;
}

static bool match_re(const struct vg_matcher *m, const char *p, size_t len)
{
	int rc = pcre2_match(m->re, (PCRE2_SPTR)p, len, 0, 0, m->md, NULL);

	/* A complex pattern can outgrow the JIT's small stack: interpret. */
	if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
		rc = pcre2_match(m->re, (PCRE2_SPTR)p, len, 0, PCRE2_NO_JIT, m->md, NULL);
	return rc >= 0;
}

bool vg_matcher_matches(const struct vg_matcher *m, struct vg_str value)
{
	const char *p = value.len ? value.p : "";
	size_t len = value.len;

	switch (m->op) {
	case VG_MATCH_EQ:
		return len == m->value_len && (len == 0 || memcmp(p, m->value, len) == 0);
	case VG_MATCH_NE:
		return !(len == m->value_len && (len == 0 || memcmp(p, m->value, len) == 0));
	case VG_MATCH_RE:
		return match_re(m, p, len);
	case VG_MATCH_NRE:
		return !match_re(m, p, len);
	}
	return false;
}

static int compile_re(struct parser *p, struct vg_matcher *m, size_t str_off)
{
	static const char *const op_text[] = { "=", "!=", "=~", "!~" };
	int code;
	PCRE2_SIZE at;

	m->re = pcre2_compile((PCRE2_SPTR)m->value, m->value_len,
			      PCRE2_UTF | PCRE2_DOTALL | PCRE2_ANCHORED | PCRE2_ENDANCHORED, &code, &at,
			      NULL);
	if (m->re == NULL) {
		PCRE2_UCHAR why[256];
		char q[96];
		quote(m->value, m->value_len, 40, q, sizeof(q));
		if (pcre2_get_error_message(code, why, sizeof(why)) < 0)
			snprintf((char *)why, sizeof(why), "error %d", code);
		return perr(p, str_off, "invalid regular expression in matcher %s%s%s: %s at offset %zu",
			    m->name, op_text[m->op], q, (const char *)why, (size_t)at);
	}
	(void)pcre2_jit_compile(m->re, PCRE2_JIT_COMPLETE); /* optional speed-up */
	m->md = pcre2_match_data_create_from_pattern(m->re, NULL);
	if (m->md == NULL)
		return vg_err_set(p->err, VG_ENOMEM, "out of memory compiling a regular expression");
	return 0;
}

/* Appends a matcher with a copy of name and of the string in p->val. */
static int add_matcher(struct parser *p, const char *name, size_t name_len, enum vg_match_op op,
		       size_t at, size_t str_off)
{
	struct vg_selector *sel = p->sel;
	struct vg_matcher *m;

	if (sel->n >= MAX_MATCHERS)
		return perr(p, at, "too many matchers: a selector has at most %d", MAX_MATCHERS);
	if (sel->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 4;
		struct vg_matcher *grown = realloc(sel->m, cap * sizeof(*grown));
		if (grown == NULL)
			return vg_err_set(p->err, VG_ENOMEM, "out of memory parsing a selector");
		sel->m = grown;
		p->cap = cap;
	}
	m = &sel->m[sel->n];
	memset(m, 0, sizeof(*m));
	m->op = op;
	m->name = malloc(name_len + 1);
	m->value = malloc(p->val.len + 1);
	sel->n++; /* counted now, so release frees what was allocated */
	if (m->name == NULL || m->value == NULL)
		return vg_err_set(p->err, VG_ENOMEM, "out of memory parsing a selector");
	memcpy(m->name, name, name_len);
	m->name[name_len] = '\0';
	if (p->val.len)
		memcpy(m->value, p->val.data, p->val.len);
	m->value[p->val.len] = '\0';
	m->value_len = p->val.len;
	if (op == VG_MATCH_RE || op == VG_MATCH_NRE)
		return compile_re(p, m, str_off);
	return 0;
}

static bool is_keyword(const char *s, size_t n)
{
	for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
		size_t kl = strlen(keywords[k]);
		size_t i;
		if (kl != n)
			continue;
		for (i = 0; i < n; i++) {
			char c = s[i];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c != keywords[k][i])
				break;
		}
		if (i == n)
			return true;
	}
	return false;
}

static int parse_braces(struct parser *p)
{
	p->pos++; /* '{' */
	skip_space(p);
	for (;;) {
		size_t label_off, label_len, str_off;
		enum vg_match_op op;
		const char *s;
		int rc;

		if (p->pos >= p->len)
			return perr(p, p->pos, "unexpected end of input inside braces");
		if (p->s[p->pos] == '}') {
			p->pos++;
			return 0;
		}
		label_off = p->pos;
		label_len = ident_len(p, p->pos, false);
		if (label_len == 0)
			return unexpected(p, " in label matching, expected identifier or \"}\"");
		p->pos += label_len;
		skip_space(p);

		s = p->s + p->pos;
		if (p->pos + 1 < p->len && s[0] == '=' && s[1] == '~') {
			op = VG_MATCH_RE;
		} else if (p->pos + 1 < p->len && s[0] == '!' && s[1] == '=') {
			op = VG_MATCH_NE;
		} else if (p->pos + 1 < p->len && s[0] == '!' && s[1] == '~') {
			op = VG_MATCH_NRE;
		} else if (p->pos < p->len && s[0] == '=' &&
			   !(p->pos + 1 < p->len && s[1] == '=')) {
			op = VG_MATCH_EQ;
		} else {
			return unexpected(p, " in label matching, expected label matching operator");
		}
		p->pos += op == VG_MATCH_EQ ? 1 : 2;
		skip_space(p);

		str_off = p->pos;
		if (p->pos >= p->len ||
		    (p->s[p->pos] != '"' && p->s[p->pos] != '\'' && p->s[p->pos] != '`'))
			return unexpected(p, " in label matching, expected string");
		if ((rc = read_string(p)) < 0)
			return rc;
		if ((rc = add_matcher(p, p->s + label_off, label_len, op, label_off, str_off)) < 0)
			return rc;
		skip_space(p);

		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			skip_space(p);
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == '}') {
			p->pos++;
			return 0;
		}
		return unexpected(p, " in label matching, expected \",\" or \"}\"");
	}
}

static int check_selector(struct parser *p, size_t start)
{
	struct vg_selector *sel = p->sel;
	static const struct vg_str empty = { "", 0 };
	char a[96], b[96];

	if (p->has_name) {
		for (size_t i = 1; i < sel->n; i++) {
			if (strcmp(sel->m[i].name, "__name__") != 0)
				continue;
			quote(sel->m[0].value, sel->m[0].value_len, 64, a, sizeof(a));
			quote(sel->m[i].value, sel->m[i].value_len, 64, b, sizeof(b));
			return perr(p, start, "metric name must not be set twice: %s or %s", a, b);
		}
	}
	for (size_t i = 0; i < sel->n; i++)
		if (!vg_matcher_matches(&sel->m[i], empty))
			return 0;
	return perr(p, start, "vector selector must contain at least one non-empty matcher");
}

static int parse(struct parser *p)
{
	size_t start, n;
	int rc;

	skip_space(p);
	if (p->pos >= p->len)
		return perr(p, p->pos, "no expression found in input");
	start = p->pos;
	n = ident_len(p, p->pos, true);
	if (n > 0) {
		if (is_keyword(p->s + p->pos, n)) {
			char q[64];
			quote(p->s + p->pos, n, 32, q, sizeof(q));
			return perr(p, p->pos, "unexpected keyword %s: not a metric name", q);
		}
		vg_buf_reset(&p->val);
		vg_buf_append(&p->val, p->s + p->pos, n);
		if (vg_buf_failed(&p->val))
			return vg_err_set(p->err, VG_ENOMEM, "out of memory parsing a selector");
		p->has_name = true;
		if ((rc = add_matcher(p, "__name__", 8, VG_MATCH_EQ, p->pos, p->pos)) < 0)
			return rc;
		p->pos += n;
		skip_space(p);
	}
	if (p->pos < p->len && p->s[p->pos] == '{') {
		if ((rc = parse_braces(p)) < 0)
			return rc;
		skip_space(p);
	} else if (n == 0) {
		return unexpected(p, ", expected a metric name or \"{\"");
	}
	if (p->pos < p->len)
		return unexpected(p, " after the selector");
	return check_selector(p, start);
}

int vg_selector_parse(const char *s, size_t len, struct vg_selector *out, struct vg_err *err)
{
	struct vg_err local;
	struct parser p = {
		.s = s, .len = len, .sel = out, .err = err ? err : &local,
	};
	int rc;

	out->n = 0;
	out->m = NULL;
	if (len > MAX_TEXT_BYTES) {
		rc = vg_err_set(err, VG_EINVAL,
				"parse error: selector is %zu bytes, longer than the limit of %d",
				len, MAX_TEXT_BYTES);
		goto fail;
	}
	vg_err_clear(p.err);
	vg_buf_init(&p.val);
	rc = parse(&p);
	vg_buf_release(&p.val);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	vg_selector_release(out);
	return rc;
}

void vg_selector_release(struct vg_selector *sel)
{
	if (sel == NULL)
		return;
	for (size_t i = 0; i < sel->n; i++) {
		struct vg_matcher *m = &sel->m[i];
		free(m->name);
		free(m->value);
		if (m->md)
			pcre2_match_data_free(m->md);
		if (m->re)
			pcre2_code_free(m->re);
	}
	free(sel->m);
	sel->m = NULL;
	sel->n = 0;
}

const struct vg_matcher *vg_selector_name(const struct vg_selector *sel)
{
	for (size_t i = 0; i < sel->n; i++)
		if (sel->m[i].op == VG_MATCH_EQ && strcmp(sel->m[i].name, "__name__") == 0)
			return &sel->m[i];
	return NULL;
}

bool vg_selector_matches(const struct vg_selector *sel, const struct vg_series *s)
{
	static const struct vg_str empty = { "", 0 };

	for (size_t i = 0; i < sel->n; i++) {
		const struct vg_matcher *m = &sel->m[i];
		struct vg_str v;

		if (strcmp(m->name, "__name__") == 0) {
			v = s->name;
		} else {
			const struct vg_str *got = vg_series_get(s, m->name);
			v = got ? *got : empty;
		}
		if (!vg_matcher_matches(m, v))
			return false;
	}
	return true;
}
