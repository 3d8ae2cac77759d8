/*
 * template.c: the rule-file subset of Go's text/template (template.h says
 * which), parsed once into a tree and rendered many times.
 *
 * Owns: the lexer and parser of "{{ }}" actions, the tree, and the
 * functions' output, written to print what Go and Prometheus print for the
 * same input (fmt's %v of a float64, strconv's shortest digits,
 * Prometheus's humanize family, time.Time's String). It does not own where
 * a template comes from (the rule loader adds the file and line to an
 * error) nor what is done with an expansion error (Prometheus writes
 * "<error expanding template: ...>" in place of the value).
 *
 * Invariants:
 *  - Everything that Go would refuse at parse time, and everything outside
 *    the subset, is refused by vg_template_parse with "LINE:COLUMN: ...";
 *    so is what can only fail at expansion whatever the data (an unknown
 *    field, a wrong argument count, an unsupported printf verb in a literal
 *    format), so `vigil rules check` catches it. What depends on the data
 *    (a string that humanize cannot read, gt of a float and an int) fails
 *    in vg_template_render, as it does in Go.
 *  - The tree holds no pointers into the caller's text; rendering only
 *    reads the tree, so one tree may be rendered from many threads.
 *  - A render's output is bounded (VG_TEMPLATE_MAX_OUTPUT); nesting depth
 *    is bounded at parse time (VG_TEMPLATE_MAX_DEPTH).
 *
 * Case mapping (title, toUpper, toLower) is ASCII: other bytes are copied
 * unchanged.
 */
#include "receiver/alert/template.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/banned.h"

#define VG_TEMPLATE_MAX_DEPTH 64
#define VG_TEMPLATE_MAX_OUTPUT (1024 * 1024)
#define MAX_ARGS 64

/* ---- the tree -------------------------------------------------------- */

enum src {              /* where a data reference reads */
	SRC_LABELS,     /* $labels, .Labels: the map */
	SRC_EXT_LABELS, /* $externalLabels, .ExternalLabels */
	SRC_ANNOTATIONS,
	SRC_VALUE,
	SRC_EXT_URL,
	SRC_STATUS,
};

enum fn {
	FN_HUMANIZE, FN_HUMANIZE1024, FN_HUMANIZE_DURATION, FN_HUMANIZE_PERCENTAGE, FN_HUMANIZE_TIMESTAMP,
	FN_PRINTF, FN_TITLE, FN_TO_UPPER, FN_TO_LOWER,
	FN_EQ, FN_NE, FN_LT, FN_LE, FN_GT, FN_GE, FN_AND, FN_OR, FN_NOT, FN_INDEX,
};

static const struct fn_def {
	const char *name;
	enum fn fn;
	int min, max; /* argument count, the piped value included; max -1: any */
} fn_defs[] = {
	{ "and", FN_AND, 1, -1 },
	{ "eq", FN_EQ, 2, -1 },
	{ "ge", FN_GE, 2, 2 },
	{ "gt", FN_GT, 2, 2 },
	{ "humanize", FN_HUMANIZE, 1, 1 },
	{ "humanize1024", FN_HUMANIZE1024, 1, 1 },
	{ "humanizeDuration", FN_HUMANIZE_DURATION, 1, 1 },
	{ "humanizePercentage", FN_HUMANIZE_PERCENTAGE, 1, 1 },
	{ "humanizeTimestamp", FN_HUMANIZE_TIMESTAMP, 1, 1 },
	{ "index", FN_INDEX, 1, -1 },
	{ "le", FN_LE, 2, 2 },
	{ "lt", FN_LT, 2, 2 },
	{ "ne", FN_NE, 2, 2 },
	{ "not", FN_NOT, 1, 1 },
	{ "or", FN_OR, 1, -1 },
	{ "printf", FN_PRINTF, 1, -1 },
	{ "title", FN_TITLE, 1, 1 },
	{ "toLower", FN_TO_LOWER, 1, 1 },
	{ "toUpper", FN_TO_UPPER, 1, 1 },
};

enum opk { OP_FUNC, OP_DATA, OP_STRING, OP_INT, OP_FLOAT, OP_BOOL, OP_PIPE };

struct pipe;

struct operand {
	enum opk kind;
	enum fn fn;     /* OP_FUNC */
	enum src src;   /* OP_DATA */
	char *key;      /* OP_DATA on a map: the key, or NULL for the map; OP_STRING: the bytes */
	size_t key_len;
	int64_t i;      /* OP_INT; OP_BOOL */
	double f;       /* OP_FLOAT */
	struct pipe *pipe; /* OP_PIPE */
};

struct command {
	struct operand *ops;
	size_t n;
	unsigned line, col;
};

struct pipe {
	struct command *cmds;
	size_t n;
};

enum nodek { N_TEXT, N_ACTION, N_IF };

struct node {
	enum nodek kind;
	struct node *next;
	char *text; /* N_TEXT */
	size_t len;
	struct pipe *pipe;        /* N_ACTION, N_IF (the condition) */
	struct node *then, *els;  /* N_IF */
	unsigned line, col;
};

struct vg_template {
	struct node *root;
	bool uses_notification_fields;
};

static void pipe_free(struct pipe *p);

static void operand_release(struct operand *o)
{
	free(o->key);
	if (o->kind == OP_PIPE)
		pipe_free(o->pipe);
}

static void pipe_free(struct pipe *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++) {
		for (size_t j = 0; j < p->cmds[i].n; j++)
			operand_release(&p->cmds[i].ops[j]);
		free(p->cmds[i].ops);
	}
	free(p->cmds);
	free(p);
}

static void nodes_free(struct node *n)
{
	while (n != NULL) {
		struct node *next = n->next;

		free(n->text);
		pipe_free(n->pipe);
		nodes_free(n->then);
		nodes_free(n->els);
		free(n);
		n = next;
	}
}

void vg_template_free(struct vg_template *t)
{
	if (t == NULL)
		return;
	nodes_free(t->root);
	free(t);
}

bool vg_template_uses_notification_fields(const struct vg_template *t)
{
	return t != NULL && t->uses_notification_fields;
}

/* ---- the lexer ---------------------------------------------------------
 * Text is split at "{{"; inside an action, tokens up to "}}". Positions are
 * byte offsets; errors turn them into line and column. */

enum tok {
	T_EOF,     /* end of input inside an action */
	T_CLOSE,   /* }} */
	T_IDENT,   /* a name: function or keyword */
	T_VAR,     /* $name or $ */
	T_FIELD,   /* .Name */
	T_DOT,     /* . alone */
	T_STRING,
	T_RAW,     /* `raw string` */
	T_NUMBER,
	T_CHAR,
	T_PIPE,    /* | */
	T_LPAREN,
	T_RPAREN,
	T_DECLARE, /* := or = */
	T_OTHER,
};

struct parser {
	const char *s;
	size_t len;
	size_t pos;
	/* the current token */
	enum tok tok;
	size_t tok_start, tok_len;
	bool close_trims; /* the T_CLOSE had " -" before it */
	int depth;
	/* line and column of lc_pos, so positions found in increasing order
	 * cost one pass over the text in all */
	size_t lc_pos;
	unsigned lc_line, lc_col;
	struct vg_template *t;
	struct vg_err *err;
	bool failed;
};

static void pos_to_line_col(struct parser *p, size_t pos, unsigned *line, unsigned *col)
{
	if (pos < p->lc_pos || p->lc_line == 0) {
		p->lc_pos = 0;
		p->lc_line = p->lc_col = 1;
	}
	for (; p->lc_pos < pos; p->lc_pos++) {
		if (p->s[p->lc_pos] == '\n') {
			p->lc_line++;
			p->lc_col = 1;
		} else {
			p->lc_col++;
		}
	}
	*line = p->lc_line;
	*col = p->lc_col;
}

static int perr(struct parser *p, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int perr(struct parser *p, size_t pos, const char *fmt, ...)
{
	char msg[256];
	unsigned line, col;
	va_list ap;

	if (p->failed)
		return VG_EINVAL;
	p->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pos_to_line_col(p, pos > p->len ? p->len : pos, &line, &col);
	return vg_err_set(p->err, VG_EINVAL, "%u:%u: %s", line, col, msg);
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

/* At p->pos: " -}}" (a space, a dash) or "}}". */
static bool at_close(const struct parser *p, bool *trims, size_t *close_len)
{
	const char *s = p->s + p->pos;
	size_t left = p->len - p->pos;

	if (left >= 4 && is_space(s[0]) && s[1] == '-' && s[2] == '}' && s[3] == '}') {
		*trims = true;
		*close_len = 4;
		return true;
	}
	if (left >= 2 && s[0] == '}' && s[1] == '}') {
		*trims = false;
		*close_len = 2;
		return true;
	}
	return false;
}

static int next_token(struct parser *p)
{
	bool trims;
	size_t close_len;

	for (;;) {
		if (at_close(p, &trims, &close_len)) {
			p->tok = T_CLOSE;
			p->tok_start = p->pos;
			p->tok_len = close_len;
			p->close_trims = trims;
			p->pos += close_len;
			return 0;
		}
		if (p->pos < p->len && is_space(p->s[p->pos])) {
			p->pos++;
			continue;
		}
		break;
	}
	p->tok_start = p->pos;
	if (p->pos >= p->len) {
		p->tok = T_EOF;
		p->tok_len = 0;
		return 0;
	}
	const char *s = p->s;
	size_t i = p->pos;
	char c = s[i];

	if (c == '$') {
		i++;
		while (i < p->len && is_alnum(s[i]))
			i++;
		p->tok = T_VAR;
	} else if (c == '.' && !(i + 1 < p->len && is_digit(s[i + 1]))) {
		i++;
		if (i < p->len && is_alpha(s[i])) {
			while (i < p->len && is_alnum(s[i]))
				i++;
			p->tok = T_FIELD;
		} else {
			p->tok = T_DOT;
		}
	} else if (is_alpha(c)) {
		while (i < p->len && is_alnum(s[i]))
			i++;
		p->tok = T_IDENT;
	} else if (is_digit(c) || c == '.' || ((c == '-' || c == '+') && i + 1 < p->len && (is_digit(s[i + 1]) || s[i + 1] == '.'))) {
		i++;
		while (i < p->len && (is_alnum(s[i]) || s[i] == '.' ||
				      ((s[i] == '+' || s[i] == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E' ||
									 s[i - 1] == 'p' || s[i - 1] == 'P'))))
			i++;
		p->tok = T_NUMBER;
	} else if (c == '"') {
		i++;
		for (;;) {
			if (i >= p->len || s[i] == '\n')
				return perr(p, p->tok_start, "unterminated quoted string");
			if (s[i] == '\\') {
				i += 2;
				continue;
			}
			if (s[i] == '"')
				break;
			i++;
		}
		i++;
		p->tok = T_STRING;
	} else if (c == '`') {
		i++;
		while (i < p->len && s[i] != '`')
			i++;
		if (i >= p->len)
			return perr(p, p->tok_start, "unterminated raw quoted string");
		i++;
		p->tok = T_RAW;
	} else if (c == '\'') {
		i++;
		while (i < p->len && s[i] != '\'' && s[i] != '\n')
			i += s[i] == '\\' ? 2 : 1;
		if (i >= p->len || s[i] != '\'')
			return perr(p, p->tok_start, "unterminated character constant");
		i++;
		p->tok = T_CHAR;
	} else if (c == '|') {
		i++;
		p->tok = T_PIPE;
	} else if (c == '(') {
		i++;
		p->tok = T_LPAREN;
	} else if (c == ')') {
		i++;
		p->tok = T_RPAREN;
	} else if (c == ':' && i + 1 < p->len && s[i + 1] == '=') {
		i += 2;
		p->tok = T_DECLARE;
	} else if (c == '=') {
		i++;
		p->tok = T_DECLARE;
	} else {
		i++;
		p->tok = T_OTHER;
	}
	if (i > p->len)
		i = p->len;
	p->pos = i;
	p->tok_len = i - p->tok_start;
	return 0;
}

static bool tok_is(const struct parser *p, const char *word)
{
	size_t n = strlen(word);

	return p->tok == T_IDENT && p->tok_len == n && memcmp(p->s + p->tok_start, word, n) == 0;
}

/* ---- literals --------------------------------------------------------- */

static void put_utf8(struct vg_buf *b, uint32_t r)
{
	char u[4];

	if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
		r = 0xFFFD;
	if (r < 0x80) {
		vg_buf_putc(b, (char)r);
	} else if (r < 0x800) {
		u[0] = (char)(0xC0 | r >> 6);
		u[1] = (char)(0x80 | (r & 0x3F));
		vg_buf_append(b, u, 2);
	} else if (r < 0x10000) {
		u[0] = (char)(0xE0 | r >> 12);
		u[1] = (char)(0x80 | ((r >> 6) & 0x3F));
		u[2] = (char)(0x80 | (r & 0x3F));
		vg_buf_append(b, u, 3);
	} else {
		u[0] = (char)(0xF0 | r >> 18);
		u[1] = (char)(0x80 | ((r >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((r >> 6) & 0x3F));
		u[3] = (char)(0x80 | (r & 0x3F));
		vg_buf_append(b, u, 4);
	}
}

/* Go's escapes inside "..." (strconv.Unquote): \a \b \f \n \r \t \v \\ \"
 * \xHH \NNN \uHHHH \UHHHHHHHH. */
static int unquote(struct parser *p, const char *s, size_t n, size_t at, struct vg_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			vg_buf_putc(out, s[i]);
			continue;
		}
		if (++i >= n)
			return perr(p, at + i, "bad escape in quoted string");
		char c = s[i];
		const char *simple = "a\ab\bf\fn\nr\rt\tv\v\\\\\"\"";
		const char *m = strchr(simple, c);

		if (m != NULL && c != 0 && ((m - simple) % 2) == 0) {
			vg_buf_putc(out, m[1]);
			continue;
		}
		int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
		if (digits > 0) {
			uint32_t v = 0;

			for (int k = 1; k <= digits; k++) {
				int d = i + (size_t)k < n ? vg_hex_digit(s[i + (size_t)k]) : -1;

				if (d < 0)
					return perr(p, at + i, "bad escape in quoted string");
				v = v << 4 | (uint32_t)d;
			}
			i += (size_t)digits;
			if (c == 'x')
				vg_buf_putc(out, (char)v);
			else if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
				return perr(p, at + i, "bad escape in quoted string");
			else
				put_utf8(out, v);
			continue;
		}
		if (c >= '0' && c <= '7') {
			unsigned v = 0;

			for (int k = 0; k < 3; k++) {
				if (i + (size_t)k >= n || s[i + (size_t)k] < '0' || s[i + (size_t)k] > '7')
					return perr(p, at + i, "bad escape in quoted string");
				v = v * 8 + (unsigned)(s[i + (size_t)k] - '0');
			}
			if (v > 255)
				return perr(p, at + i, "bad escape in quoted string");
			i += 2;
			vg_buf_putc(out, (char)v);
			continue;
		}
		return perr(p, at + i - 1, "unknown escape sequence \\%c in quoted string", c >= 0x20 && c < 0x7f ? c : '?');
	}
	return 0;
}

/* A Go number constant: decimal or 0x/0o/0b integers (with _), decimal
 * floats. An integer literal is Go's int, anything with '.', 'e' a
 * float64, as text/template's idealConstant decides. */
static int parse_number(struct parser *p, struct operand *o)
{
	char tmp[128];
	const char *s = p->s + p->tok_start;
	size_t n = p->tok_len, k = 0;
	bool is_float = false, is_hex = false;
	char *end;

	if (n >= sizeof(tmp))
		return perr(p, p->tok_start, "number too long");
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_')
			continue;
		tmp[k++] = s[i];
	}
	tmp[k] = 0;
	{
		const char *d = tmp + (tmp[0] == '-' || tmp[0] == '+');

		is_hex = d[0] == '0' && (d[1] == 'x' || d[1] == 'X');
		if (!is_hex && (strchr(d, '.') != NULL || strchr(d, 'e') != NULL || strchr(d, 'E') != NULL))
			is_float = true;
		if (is_hex && (strchr(d, '.') != NULL || strchr(d, 'p') != NULL || strchr(d, 'P') != NULL))
			return perr(p, p->tok_start, "hexadecimal floats are not supported: %.*s", (int)n, s);
		if (strchr(d, 'i') != NULL && !is_hex)
			return perr(p, p->tok_start, "complex numbers are not supported: %.*s", (int)n, s);
	}
	errno = 0;
	if (is_float) {
		o->kind = OP_FLOAT;
		o->f = strtod(tmp, &end);
		if (*end != 0 || end == tmp)
			return perr(p, p->tok_start, "bad number syntax: %.*s", (int)n, s);
		if (errno == ERANGE && isinf(o->f))
			return perr(p, p->tok_start, "number out of range: %.*s", (int)n, s);
		return 0;
	}
	{
		const char *d = tmp;
		bool neg = false;
		int base = 10;

		if (*d == '-' || *d == '+')
			neg = *d++ == '-';
		if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X'))
			base = 16, d += 2;
		else if (d[0] == '0' && (d[1] == 'o' || d[1] == 'O'))
			base = 8, d += 2;
		else if (d[0] == '0' && (d[1] == 'b' || d[1] == 'B'))
			base = 2, d += 2;
		else if (d[0] == '0' && d[1] != 0)
			base = 8, d += 1;
		if (*d == 0 || *d == '-' || *d == '+')
			return perr(p, p->tok_start, "bad number syntax: %.*s", (int)n, s);
		unsigned long long u = strtoull(d, &end, base);
		if (*end != 0)
			return perr(p, p->tok_start, "bad number syntax: %.*s", (int)n, s);
		if (errno == ERANGE || u > (neg ? (unsigned long long)INT64_MAX + 1 : (unsigned long long)INT64_MAX))
			return perr(p, p->tok_start, "number out of range: %.*s", (int)n, s);
		o->kind = OP_INT;
		o->i = neg ? (int64_t)(0 - u) : (int64_t)u;
	}
	return 0;
}

/* ---- the parser ------------------------------------------------------- */

static int check_printf_format(const char *f, size_t n, size_t *bad);

static struct pipe *parse_pipeline(struct parser *p, enum tok end);

static const struct fn_def *find_fn(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(fn_defs) / sizeof(fn_defs[0]); i++)
		if (strlen(fn_defs[i].name) == n && memcmp(fn_defs[i].name, s, n) == 0)
			return &fn_defs[i];
	return NULL;
}

static bool name_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* A top-level field of the data: .Labels, .Value, ... */
static int data_field(const char *s, size_t n, enum src *src, bool *is_map)
{
	static const struct {
		const char *name;
		enum src src;
		bool is_map;
	} fields[] = {
		{ "Labels", SRC_LABELS, true },
		{ "ExternalLabels", SRC_EXT_LABELS, true },
		{ "Annotations", SRC_ANNOTATIONS, true },
		{ "Value", SRC_VALUE, false },
		{ "ExternalURL", SRC_EXT_URL, false },
		{ "Status", SRC_STATUS, false },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (name_is(s, n, fields[i].name)) {
			*src = fields[i].src;
			*is_map = fields[i].is_map;
			return 0;
		}
	}
	return -1;
}

/* After a data reference naming a map, an optional .key; nothing further,
 * since a label value is a string and has no fields. */
static int parse_field_chain(struct parser *p, struct operand *o, bool is_map, size_t at)
{
	/* The chain is in the lexer's current token onwards: fields follow
	 * with no space between them ("$labels.instance"). */
	while (p->pos < p->len && p->s[p->pos] == '.' && p->pos + 1 < p->len && is_alpha(p->s[p->pos + 1])) {
		size_t start = p->pos + 1, i = start;

		while (i < p->len && is_alnum(p->s[i]))
			i++;
		if (!is_map || o->key != NULL)
			return perr(p, p->pos, "can't evaluate field %.*s: %s has no fields", (int)(i - start), p->s + start,
				    o->key != NULL ? "a label value" : "this value");
		o->key = malloc(i - start + 1);
		if (o->key == NULL)
			return vg_err_set(p->err, VG_ENOMEM, "out of memory");
		memcpy(o->key, p->s + start, i - start);
		o->key[i - start] = 0;
		o->key_len = i - start;
		p->pos = i;
	}
	if (p->pos < p->len && p->s[p->pos] == '.')
		return perr(p, p->pos, "bad character after field");
	(void)at;
	return 0;
}

static int note_src(struct parser *p, enum src src)
{
	if (src == SRC_ANNOTATIONS || src == SRC_STATUS)
		p->t->uses_notification_fields = true;
	return 0;
}

/* One operand; the current token is its first. Leaves the token after it
 * current. */
static int parse_operand(struct parser *p, struct operand *o)
{
	const char *s = p->s + p->tok_start;
	size_t n = p->tok_len, at = p->tok_start;
	bool is_map = false;
	int rc;

	memset(o, 0, sizeof(*o));
	switch (p->tok) {
	case T_IDENT: {
		const struct fn_def *f;

		if (name_is(s, n, "true") || name_is(s, n, "false")) {
			o->kind = OP_BOOL;
			o->i = s[0] == 't';
			break;
		}
		if (name_is(s, n, "nil"))
			return perr(p, at, "nil is not supported");
		static const char *const keywords[] = { "range", "define", "template", "with", "block", "break",
							"continue", "if", "else", "end" };
		for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
			if (name_is(s, n, keywords[i]))
				return perr(p, at, "unexpected \"%s\" in operand", keywords[i]);
		if ((f = find_fn(s, n)) == NULL)
			return perr(p, at, "function \"%.*s\" not defined", (int)(n > 64 ? 64 : n), s);
		o->kind = OP_FUNC;
		o->fn = f->fn;
		break;
	}
	case T_VAR:
		o->kind = OP_DATA;
		if (n == 1) {
			/* $ is the data itself: $.Labels.x reads as .Labels.x */
			if (p->pos < p->len && p->s[p->pos] == '.' && p->pos + 1 < p->len && is_alpha(p->s[p->pos + 1])) {
				size_t start = p->pos + 1, i = start;

				while (i < p->len && is_alnum(p->s[i]))
					i++;
				if (data_field(p->s + start, i - start, &o->src, &is_map) != 0)
					return perr(p, start - 1, "can't evaluate field %.*s", (int)(i - start > 64 ? 64 : i - start),
						    p->s + start);
				p->pos = i;
			} else {
				return perr(p, at, "$ alone (the whole data) is not supported");
			}
		} else if (name_is(s, n, "$labels")) {
			o->src = SRC_LABELS, is_map = true;
		} else if (name_is(s, n, "$externalLabels")) {
			o->src = SRC_EXT_LABELS, is_map = true;
		} else if (name_is(s, n, "$value")) {
			o->src = SRC_VALUE;
		} else if (name_is(s, n, "$externalURL")) {
			o->src = SRC_EXT_URL;
		} else {
			return perr(p, at, "undefined variable \"%.*s\"", (int)(n > 64 ? 64 : n), s);
		}
		note_src(p, o->src);
		if ((rc = parse_field_chain(p, o, is_map, at)) != 0)
			return rc;
		break;
	case T_FIELD:
		o->kind = OP_DATA;
		if (data_field(s + 1, n - 1, &o->src, &is_map) != 0)
			return perr(p, at, "can't evaluate field %.*s", (int)(n - 1 > 64 ? 64 : n - 1), s + 1);
		note_src(p, o->src);
		if ((rc = parse_field_chain(p, o, is_map, at)) != 0)
			return rc;
		break;
	case T_DOT:
		return perr(p, at, ". alone (the whole data) is not supported");
	case T_STRING:
	case T_RAW: {
		struct vg_buf b = VG_BUF_INIT;

		o->kind = OP_STRING;
		if (p->tok == T_RAW) {
			vg_buf_append(&b, s + 1, n - 2);
		} else if ((rc = unquote(p, s + 1, n - 2, at + 1, &b)) != 0) {
			vg_buf_release(&b);
			return rc;
		}
		if (vg_buf_failed(&b))
			return vg_err_set(p->err, VG_ENOMEM, "out of memory");
		vg_buf_putc(&b, 0);
		o->key_len = b.len ? b.len - 1 : 0;
		o->key = vg_buf_detach(&b, NULL);
		if (o->key == NULL)
			return vg_err_set(p->err, VG_ENOMEM, "out of memory");
		break;
	}
	case T_NUMBER:
		if ((rc = parse_number(p, o)) != 0)
			return rc;
		break;
	case T_CHAR:
		return perr(p, at, "character constants are not supported");
	case T_LPAREN:
		if (++p->depth > VG_TEMPLATE_MAX_DEPTH)
			return perr(p, at, "nesting too deep (more than %d)", VG_TEMPLATE_MAX_DEPTH);
		if ((rc = next_token(p)) != 0)
			return rc;
		o->kind = OP_PIPE;
		if ((o->pipe = parse_pipeline(p, T_RPAREN)) == NULL)
			return VG_EINVAL;
		p->depth--;
		if (p->pos < p->len && p->s[p->pos] == '.')
			return perr(p, p->pos, "fields of a parenthesized pipeline are not supported");
		break;
	case T_EOF:
		return perr(p, at, "unclosed action");
	case T_CLOSE:
		return perr(p, at, "missing value for command");
	case T_DECLARE:
		return perr(p, at, "variable declarations are not supported");
	default:
		return perr(p, at, "unexpected \"%.*s\" in operand", (int)(n > 16 ? 16 : n), s);
	}
	return next_token(p);
}

static bool starts_operand(enum tok t)
{
	return t == T_IDENT || t == T_VAR || t == T_FIELD || t == T_DOT || t == T_STRING || t == T_RAW ||
	       t == T_NUMBER || t == T_CHAR || t == T_LPAREN;
}

/* Parses commands separated by | up to the token end (T_CLOSE or
 * T_RPAREN), which it consumes. NULL on error (p->err set). */
static struct pipe *parse_pipeline(struct parser *p, enum tok end)
{
	struct pipe *pl = calloc(1, sizeof(*pl));
	size_t cap_cmds = 0;

	if (pl == NULL) {
		vg_err_set(p->err, VG_ENOMEM, "out of memory");
		return NULL;
	}
	if (p->tok == T_VAR && p->pos < p->len) {
		/* "$x := ..." would be a declaration: say so plainly. */
		size_t i = p->pos;

		while (i < p->len && (p->s[i] == ' ' || p->s[i] == '\t'))
			i++;
		if (i < p->len && (p->s[i] == '=' || (p->s[i] == ':' && i + 1 < p->len && p->s[i + 1] == '='))) {
			perr(p, p->tok_start, "variable declarations are not supported");
			goto fail;
		}
	}
	for (;;) {
		struct command *c;
		size_t cap_ops = 0;
		unsigned line, col;

		if (!starts_operand(p->tok)) {
			if (p->tok == T_EOF)
				perr(p, p->tok_start, "unclosed action");
			else if (p->tok == end || p->tok == T_CLOSE || p->tok == T_RPAREN || p->tok == T_PIPE)
				perr(p, p->tok_start, "missing value for command");
			else if (p->tok == T_DECLARE)
				perr(p, p->tok_start, "variable declarations are not supported");
			else
				perr(p, p->tok_start, "unexpected \"%.*s\" in command",
				     (int)(p->tok_len > 16 ? 16 : p->tok_len), p->s + p->tok_start);
			goto fail;
		}
		if (pl->n == cap_cmds) {
			size_t nc = cap_cmds ? cap_cmds * 2 : 2;
			struct command *v = realloc(pl->cmds, nc * sizeof(*v));

			if (v == NULL) {
				vg_err_set(p->err, VG_ENOMEM, "out of memory");
				goto fail;
			}
			pl->cmds = v;
			cap_cmds = nc;
		}
		c = &pl->cmds[pl->n++];
		memset(c, 0, sizeof(*c));
		pos_to_line_col(p, p->tok_start, &line, &col);
		c->line = line;
		c->col = col;
		size_t cmd_at = p->tok_start;
		while (starts_operand(p->tok)) {
			if (c->n == cap_ops) {
				size_t no = cap_ops ? cap_ops * 2 : 4;
				struct operand *v;

				if (no > MAX_ARGS + 1) {
					perr(p, p->tok_start, "too many arguments (more than %d)", MAX_ARGS);
					goto fail;
				}
				if ((v = realloc(c->ops, no * sizeof(*v))) == NULL) {
					vg_err_set(p->err, VG_ENOMEM, "out of memory");
					goto fail;
				}
				c->ops = v;
				cap_ops = no;
			}
			if (parse_operand(p, &c->ops[c->n]) != 0) {
				operand_release(&c->ops[c->n]);
				goto fail;
			}
			c->n++;
		}
		/* What the command means, checked now rather than at expansion. */
		if (c->ops[0].kind == OP_FUNC) {
			const struct fn_def *f = NULL;
			int nargs = (int)c->n - 1 + (pl->n > 1);

			for (size_t i = 0; i < sizeof(fn_defs) / sizeof(fn_defs[0]); i++)
				if (fn_defs[i].fn == c->ops[0].fn)
					f = &fn_defs[i];
			if (nargs < f->min || (f->max >= 0 && nargs > f->max)) {
				perr(p, cmd_at, "wrong number of args for %s: want %s%d got %d", f->name,
				     f->max < 0 ? "at least " : "", f->min, nargs);
				goto fail;
			}
			for (size_t i = 1; i < c->n; i++) {
				if (c->ops[i].kind == OP_FUNC) {
					perr(p, cmd_at, "function used as an argument of %s needs parentheses", f->name);
					goto fail;
				}
			}
			if (f->fn == FN_PRINTF && c->n >= 2 && c->ops[1].kind == OP_STRING) {
				size_t bad;

				if (check_printf_format(c->ops[1].key, c->ops[1].key_len, &bad) != 0) {
					perr(p, cmd_at, "printf: unsupported verb %%%c in format",
					     c->ops[1].key[bad] > 0x20 && c->ops[1].key[bad] < 0x7f ? c->ops[1].key[bad] : '?');
					goto fail;
				}
			}
			if (f->fn == FN_PRINTF && c->n >= 2 && c->ops[1].kind != OP_STRING && c->ops[1].kind != OP_DATA &&
			    c->ops[1].kind != OP_PIPE) {
				perr(p, cmd_at, "printf: the format must be a string");
				goto fail;
			}
		} else {
			if (c->n > 1) {
				perr(p, cmd_at, "can't give argument to non-function");
				goto fail;
			}
			if (pl->n > 1) {
				perr(p, cmd_at, "non executable command in pipeline stage %zu", pl->n);
				goto fail;
			}
		}
		if (p->tok == T_PIPE) {
			if (next_token(p) != 0)
				goto fail;
			continue;
		}
		if (p->tok == end)
			break; /* a ")" is consumed by parse_operand */
		if (p->tok == T_EOF)
			perr(p, p->tok_start, "unclosed action");
		else if (p->tok == T_RPAREN)
			perr(p, p->tok_start, "unexpected right paren");
		else if (p->tok == T_CLOSE)
			perr(p, p->tok_start, "unclosed left paren");
		else if (p->tok == T_DECLARE)
			perr(p, p->tok_start, "variable declarations are not supported");
		else
			perr(p, p->tok_start, "unexpected \"%.*s\" in command", (int)(p->tok_len > 16 ? 16 : p->tok_len),
			     p->s + p->tok_start);
		goto fail;
	}
	return pl;
fail:
	if (!p->failed && p->err != NULL && p->err->code == 0)
		vg_err_set(p->err, VG_EINVAL, "invalid template");
	p->failed = true;
	pipe_free(pl);
	return NULL;
}

static struct node *new_node(struct parser *p, enum nodek kind, size_t at)
{
	struct node *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		vg_err_set(p->err, VG_ENOMEM, "out of memory");
		p->failed = true;
		return NULL;
	}
	n->kind = kind;
	pos_to_line_col(p, at, &n->line, &n->col);
	return n;
}

enum stop { STOP_EOF, STOP_ELSE, STOP_ELSE_IF, STOP_END };

struct list_state {
	bool trim_next; /* the previous action ended with -}} */
};

/* Parses text and actions into a list until end of input (top level) or
 * {{else}}, {{else if ...}} or {{end}} (inside an if), which it returns in
 * *stop; for else if the condition's first token is current. */
static int parse_list(struct parser *p, struct node **out, enum stop *stop, struct list_state *ls, bool in_if,
		      size_t if_at)
{
	struct node **tail = out;
	int rc;

	*out = NULL;
	for (;;) {
		/* Text up to the next "{{". */
		size_t start = p->pos, open = p->pos;
		const char *hit = NULL;

		while (open + 1 < p->len) {
			hit = memchr(p->s + open, '{', p->len - open - 1);
			if (hit == NULL)
				break;
			open = (size_t)(hit - p->s);
			if (p->s[open + 1] == '{')
				break;
			open++;
			hit = NULL;
		}
		size_t text_end = hit != NULL ? open : p->len;
		bool trim_left = hit != NULL && open + 3 < p->len && p->s[open + 2] == '-' && is_space(p->s[open + 3]);
		size_t ts = start, te = text_end;

		if (ls->trim_next)
			while (ts < te && is_space(p->s[ts]))
				ts++;
		if (trim_left)
			while (te > ts && is_space(p->s[te - 1]))
				te--;
		ls->trim_next = false;
		if (te > ts) {
			struct node *n = new_node(p, N_TEXT, ts);

			if (n == NULL)
				return VG_ENOMEM;
			if ((n->text = malloc(te - ts)) == NULL) {
				free(n);
				return vg_err_set(p->err, VG_ENOMEM, "out of memory");
			}
			memcpy(n->text, p->s + ts, te - ts);
			n->len = te - ts;
			*tail = n;
			tail = &n->next;
		}
		if (hit == NULL) {
			p->pos = p->len;
			if (in_if)
				return perr(p, if_at, "unexpected EOF: {{if}} without {{end}}");
			*stop = STOP_EOF;
			return 0;
		}
		size_t action_at = open;
		p->pos = open + 2 + (trim_left ? 2 : 0);
		/* A comment: slash-star ... star-slash right inside the delimiters. */
		if (p->pos + 1 < p->len && p->s[p->pos] == '/' && p->s[p->pos + 1] == '*') {
			const char *e = NULL;

			for (size_t i = p->pos + 2; i + 1 < p->len; i++) {
				if (p->s[i] == '*' && p->s[i + 1] == '/') {
					e = p->s + i;
					break;
				}
			}
			if (e == NULL)
				return perr(p, action_at, "unclosed comment");
			p->pos = (size_t)(e - p->s) + 2;
			bool trims;
			size_t close_len;

			if (!at_close(p, &trims, &close_len))
				return perr(p, action_at, "comment ends before closing delimiter");
			p->pos += close_len;
			ls->trim_next = trims;
			continue;
		}
		if ((rc = next_token(p)) != 0)
			return rc;
		if (p->tok == T_CLOSE)
			return perr(p, p->tok_start, "missing value for command");
		if (tok_is(p, "end") || tok_is(p, "else")) {
			bool is_else = tok_is(p, "else");

			if (!in_if)
				return perr(p, p->tok_start, "unexpected {{%s}}", is_else ? "else" : "end");
			if ((rc = next_token(p)) != 0)
				return rc;
			if (is_else && tok_is(p, "if")) {
				if ((rc = next_token(p)) != 0)
					return rc;
				*stop = STOP_ELSE_IF;
				return 0;
			}
			if (is_else && p->tok == T_IDENT)
				return perr(p, p->tok_start, "{{else %.*s}} is not supported", (int)(p->tok_len > 16 ? 16 : p->tok_len),
					    p->s + p->tok_start);
			if (p->tok != T_CLOSE)
				return perr(p, p->tok_start, "unexpected \"%.*s\" in %s", (int)(p->tok_len > 16 ? 16 : p->tok_len),
					    p->s + p->tok_start, is_else ? "else" : "end");
			ls->trim_next = p->close_trims;
			*stop = is_else ? STOP_ELSE : STOP_END;
			return 0;
		}
		static const char *const refused[] = { "range", "define", "template", "with", "block", "break", "continue" };
		for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
			if (tok_is(p, refused[i]))
				return perr(p, p->tok_start, "{{%s}} is not supported", refused[i]);
		if (tok_is(p, "if")) {
			struct node *n = new_node(p, N_IF, action_at);

			if (n == NULL)
				return VG_ENOMEM;
			*tail = n;
			tail = &n->next;
			if ((rc = next_token(p)) != 0)
				return rc;
			/* if ... {{else if ...}} chains become nested ifs in els. */
			struct node *cur = n;
			int chain = 0;
			for (;;) {
				enum stop st;

				chain++;
				if (++p->depth > VG_TEMPLATE_MAX_DEPTH)
					return perr(p, action_at, "nesting too deep (more than %d)", VG_TEMPLATE_MAX_DEPTH);
				if ((cur->pipe = parse_pipeline(p, T_CLOSE)) == NULL)
					return VG_EINVAL;
				ls->trim_next = p->close_trims;
				if ((rc = parse_list(p, &cur->then, &st, ls, true, action_at)) != 0)
					return rc;
				if (st == STOP_END) {
					break;
				} else if (st == STOP_ELSE) {
					enum stop st2;

					if ((rc = parse_list(p, &cur->els, &st2, ls, true, action_at)) != 0)
						return rc;
					if (st2 != STOP_END)
						return perr(p, p->tok_start, "expected {{end}} after {{else}}");
					break;
				}
				/* else if: a nested if as the whole else branch */
				struct node *in = new_node(p, N_IF, p->tok_start);

				if (in == NULL)
					return VG_ENOMEM;
				cur->els = in;
				cur = in;
			}
			p->depth -= chain;
			continue;
		}
		/* A plain action: {{ pipeline }} */
		struct node *n = new_node(p, N_ACTION, action_at);

		if (n == NULL)
			return VG_ENOMEM;
		*tail = n;
		tail = &n->next;
		if ((n->pipe = parse_pipeline(p, T_CLOSE)) == NULL)
			return VG_EINVAL;
		ls->trim_next = p->close_trims;
	}
}

int vg_template_parse(const char *text, size_t len, struct vg_template **out, struct vg_err *err)
{
	struct parser p = { 0 };
	struct list_state ls = { false };
	enum stop st;
	int rc;

	*out = NULL;
	vg_err_clear(err);
	p.s = text;
	p.len = len;
	p.err = err;
	if ((p.t = calloc(1, sizeof(*p.t))) == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	if (memchr(text, 0, len) != NULL) {
		size_t at = (size_t)((const char *)memchr(text, 0, len) - text);

		rc = perr(&p, at, "NUL byte in template");
		goto fail;
	}
	rc = parse_list(&p, &p.t->root, &st, &ls, false, 0);
	if (rc != 0)
		goto fail;
	*out = p.t;
	return 0;
fail:
	if (rc == 0 || (err != NULL && err->code == 0))
		rc = vg_err_set(err, rc ? rc : VG_EINVAL, "invalid template");
	vg_template_free(p.t);
	return rc;
}

/* ---- values ----------------------------------------------------------- */

enum vk { V_MISSING, V_STRING, V_FLOAT, V_INT, V_BOOL, V_MAP };

struct val {
	enum vk kind;
	const char *s; /* V_STRING: bytes, not always NUL-terminated */
	size_t len;
	double f;
	int64_t i;
	bool b;
	const struct vg_conf_labels *map; /* V_MAP; NULL = empty */
};

struct render {
	const struct vg_template_data *d;
	struct vg_buf *out;
	struct vg_err *err;
	/* strings made while rendering, freed at the end */
	char **owned;
	size_t n_owned, cap_owned;
	bool failed;
};

static int rerr(struct render *r, const struct command *c, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int rerr(struct render *r, const struct command *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (r->failed)
		return VG_EINVAL;
	r->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c != NULL)
		return vg_err_set(r->err, VG_EINVAL, "%u:%u: %s", c->line, c->col, msg);
	return vg_err_set(r->err, VG_EINVAL, "%s", msg);
}

/* Keeps b's bytes for the rest of the render and makes v a string of them. */
static int keep_string(struct render *r, struct vg_buf *b, struct val *v)
{
	char *s;
	size_t n;

	if (r->n_owned == r->cap_owned) {
		size_t nc = r->cap_owned ? r->cap_owned * 2 : 8;
		char **o = realloc(r->owned, nc * sizeof(*o));

		if (o == NULL) {
			vg_buf_release(b);
			return vg_err_set(r->err, VG_ENOMEM, "out of memory");
		}
		r->owned = o;
		r->cap_owned = nc;
	}
	vg_buf_putc(b, 0);
	if (vg_buf_failed(b) || (s = vg_buf_detach(b, &n)) == NULL) {
		vg_buf_release(b);
		return vg_err_set(r->err, VG_ENOMEM, "out of memory");
	}
	r->owned[r->n_owned++] = s;
	v->kind = V_STRING;
	v->s = s;
	v->len = n - 1;
	return 0;
}

static const char *lookup(const struct vg_conf_labels *m, const char *key, size_t key_len, size_t *len)
{
	if (m == NULL)
		return NULL;
	for (size_t i = 0; i < m->n; i++) {
		if (strlen(m->names[i]) == key_len && memcmp(m->names[i], key, key_len) == 0) {
			*len = strlen(m->values[i]);
			return m->values[i];
		}
	}
	return NULL;
}

static const char *type_name(const struct val *v)
{
	switch (v->kind) {
	case V_STRING: return "string";
	case V_FLOAT: return "float64";
	case V_INT: return "int";
	case V_BOOL: return "bool";
	case V_MAP: return "map[string]string";
	default: return "<nil>";
	}
}

/* ---- Go's float formatting --------------------------------------------
 * strconv.FormatFloat's shortest digits (the fewest that read back as the
 * same double; printf's %.*e rounds correctly, so the first precision that
 * round-trips gives them), then Go's %e/%f/%g layout. */

struct digits {
	char d[32];
	int nd; /* number of digits */
	int dp; /* decimal point position: value = 0.d * 10^dp */
};

static void shortest_digits(double a, struct digits *g)
{
	char buf[64];

	/* Zero's digits; also what the loop below overwrites on its way out
	 * (it always returns by prec 17, which the compiler cannot see). */
	g->d[0] = '0';
	g->nd = 1;
	g->dp = 1;
	if (a == 0)
		return;
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, a);
		if (strtod(buf, NULL) == a || prec == 17) {
			char *e = strchr(buf, 'e');
			int k = 0;

			for (char *c = buf; c < e; c++)
				if (is_digit(*c))
					g->d[k++] = *c;
			while (k > 1 && g->d[k - 1] == '0')
				k--;
			g->nd = k;
			g->dp = (int)strtol(e + 1, NULL, 10) + 1;
			return;
		}
	}
}

static void fmt_e(struct vg_buf *b, const struct digits *g, int prec, char e)
{
	char exp[16];

	vg_buf_putc(b, g->d[0]);
	if (prec > 0) {
		vg_buf_putc(b, '.');
		for (int i = 1; i <= prec; i++)
			vg_buf_putc(b, i < g->nd ? g->d[i] : '0');
	}
	int x = g->d[0] == '0' && g->nd == 1 ? 0 : g->dp - 1;
	snprintf(exp, sizeof(exp), "%c%c%02d", e, x < 0 ? '-' : '+', x < 0 ? -x : x);
	vg_buf_puts(b, exp);
}

static void fmt_f(struct vg_buf *b, const struct digits *g, int prec)
{
	if (g->dp > 0) {
		for (int i = 0; i < g->dp; i++)
			vg_buf_putc(b, i < g->nd ? g->d[i] : '0');
	} else {
		vg_buf_putc(b, '0');
	}
	if (prec > 0) {
		vg_buf_putc(b, '.');
		for (int i = 0; i < prec; i++) {
			int j = g->dp + i;

			vg_buf_putc(b, j >= 0 && j < g->nd ? g->d[j] : '0');
		}
	}
}

/* The unsigned body of a float as Go's %v / shortest %g / %G prints it. */
static void fmt_shortest_g(struct vg_buf *b, double a, bool upper)
{
	struct digits g;

	shortest_digits(a, &g);
	int exp = g.dp - 1;
	/* strconv's %e threshold for the shortest form: exponent < -4 or >= 6 */
	if (a != 0 && (exp < -4 || exp >= 6)) {
		fmt_e(b, &g, g.nd - 1, upper ? 'E' : 'e');
		return;
	}
	fmt_f(b, &g, g.nd - g.dp > 0 ? g.nd - g.dp : 0);
}

struct spec {
	bool minus, plus, space, zero, sharp;
	int width; /* -1: none */
	int prec;  /* -1: none */
	char verb;
};

static void pad(struct vg_buf *b, const struct spec *sp, const char *s, size_t n, bool zero_ok)
{
	size_t w = sp->width > 0 ? (size_t)sp->width : 0;

	if (n >= w) {
		vg_buf_append(b, s, n);
		return;
	}
	if (sp->minus) {
		vg_buf_append(b, s, n);
		for (size_t i = n; i < w; i++)
			vg_buf_putc(b, ' ');
		return;
	}
	if (sp->zero && zero_ok) {
		/* zeros go after the sign */
		size_t k = 0;

		if (n > 0 && (s[0] == '-' || s[0] == '+' || s[0] == ' '))
			vg_buf_putc(b, s[k++]);
		for (size_t i = n; i < w; i++)
			vg_buf_putc(b, '0');
		vg_buf_append(b, s + k, n - k);
		return;
	}
	for (size_t i = n; i < w; i++)
		vg_buf_putc(b, ' ');
	vg_buf_append(b, s, n);
}

/* A float with a float verb (v g G e E f F), as fmt prints it. */
static void fmt_float(struct vg_buf *b, const struct spec *sp, double v)
{
	struct vg_buf t = VG_BUF_INIT;
	char verb = sp->verb == 'v' ? 'g' : sp->verb == 'F' ? 'f' : sp->verb;

	if (isnan(v) || isinf(v)) {
		const char *s = isnan(v) ? (sp->plus ? "+NaN" : sp->space ? " NaN" : "NaN")
				: v < 0 ? "-Inf" : (sp->space && !sp->plus ? " Inf" : "+Inf");

		pad(b, sp, s, strlen(s), false);
		return;
	}
	if (signbit(v))
		vg_buf_putc(&t, '-');
	else if (sp->plus)
		vg_buf_putc(&t, '+');
	else if (sp->space)
		vg_buf_putc(&t, ' ');
	double a = fabs(v);
	if ((verb == 'g' || verb == 'G') && sp->prec < 0) {
		fmt_shortest_g(&t, a, verb == 'G');
	} else {
		/* With a precision Go's layout is C's (both round the exact
		 * binary value half to even). */
		int prec = sp->prec < 0 ? 6 : sp->prec;

		if ((verb == 'g' || verb == 'G') && prec == 0)
			prec = 1;
		switch (verb) {
		case 'e': vg_buf_printf(&t, "%.*e", prec, a); break;
		case 'E': vg_buf_printf(&t, "%.*E", prec, a); break;
		case 'g': vg_buf_printf(&t, "%.*g", prec, a); break;
		case 'G': vg_buf_printf(&t, "%.*G", prec, a); break;
		default: vg_buf_printf(&t, "%.*f", prec, a); break;
		}
	}
	pad(b, sp, vg_buf_cstr(&t), t.len, true);
	vg_buf_release(&t);
}

static void fmt_int(struct vg_buf *b, const struct spec *sp, int64_t v)
{
	char digits[80];
	struct vg_buf t = VG_BUF_INIT;
	int base = sp->verb == 'x' || sp->verb == 'X' ? 16 : sp->verb == 'o' ? 8 : sp->verb == 'b' ? 2 : 10;
	const char *set = sp->verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	int k = 0;

	do {
		digits[k++] = set[u % (unsigned)base];
		u /= (unsigned)base;
	} while (u != 0 && k < (int)sizeof(digits));
	if (v < 0)
		vg_buf_putc(&t, '-');
	else if (sp->plus)
		vg_buf_putc(&t, '+');
	else if (sp->space)
		vg_buf_putc(&t, ' ');
	if (sp->sharp && base == 16)
		vg_buf_puts(&t, sp->verb == 'X' ? "0X" : "0x");
	if (sp->sharp && base == 8)
		vg_buf_putc(&t, '0');
	for (int i = k; i < sp->prec; i++)
		vg_buf_putc(&t, '0');
	if (!(sp->prec == 0 && v == 0))
		while (k > 0)
			vg_buf_putc(&t, digits[--k]);
	pad(b, sp, vg_buf_cstr(&t), t.len, sp->prec < 0);
	vg_buf_release(&t);
}

/* strconv.Quote: printable UTF-8 kept, the rest escaped. */
static void go_quote(struct vg_buf *b, const char *s, size_t n)
{
	vg_buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '\a': vg_buf_puts(b, "\\a"); continue;
		case '\b': vg_buf_puts(b, "\\b"); continue;
		case '\f': vg_buf_puts(b, "\\f"); continue;
		case '\n': vg_buf_puts(b, "\\n"); continue;
		case '\r': vg_buf_puts(b, "\\r"); continue;
		case '\t': vg_buf_puts(b, "\\t"); continue;
		case '\v': vg_buf_puts(b, "\\v"); continue;
		case '\\': vg_buf_puts(b, "\\\\"); continue;
		case '"': vg_buf_puts(b, "\\\""); continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			vg_buf_printf(b, "\\x%02x", c);
			continue;
		}
		if (c < 0x80) {
			vg_buf_putc(b, (char)c);
			continue;
		}
		/* a valid multi-byte sequence is kept whole */
		size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
		bool ok = need > 0 && i + need <= n;
		for (size_t k = 1; ok && k < need; k++)
			ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
		if (!ok) {
			vg_buf_printf(b, "\\x%02x", c);
			continue;
		}
		vg_buf_append(b, s + i, need);
		i += need - 1;
	}
	vg_buf_putc(b, '"');
}

static void fmt_value(struct vg_buf *b, const struct spec *sp, const struct val *v);

static void bad_verb(struct vg_buf *b, char verb, const struct val *v)
{
	struct spec plain = { .width = -1, .prec = -1, .verb = 'v' };

	vg_buf_printf(b, "%%!%c(", verb);
	if (v->kind == V_MISSING) {
		vg_buf_puts(b, "<nil>");
	} else {
		vg_buf_printf(b, "%s=", type_name(v));
		fmt_value(b, &plain, v);
	}
	vg_buf_putc(b, ')');
}

static size_t utf8_prefix(const char *s, size_t n, int runes)
{
	size_t i = 0;

	for (int r = 0; r < runes && i < n; r++) {
		i++;
		while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
	}
	return i;
}

/* One value with one verb, as Go's fmt prints it. */
static void fmt_value(struct vg_buf *b, const struct spec *sp, const struct val *v)
{
	char verb = sp->verb;

	switch (v->kind) {
	case V_MISSING:
		if (verb == 'v')
			pad(b, sp, "<nil>", 5, false);
		else
			bad_verb(b, verb, v);
		return;
	case V_STRING:
		if (verb == 'v' || verb == 's') {
			size_t n = sp->prec >= 0 ? utf8_prefix(v->s, v->len, sp->prec) : v->len;

			pad(b, sp, v->s, n, true);
		} else if (verb == 'q') {
			struct vg_buf t = VG_BUF_INIT;

			go_quote(&t, v->s, v->len);
			pad(b, sp, vg_buf_cstr(&t), t.len, true);
			vg_buf_release(&t);
		} else if (verb == 'x' || verb == 'X') {
			struct vg_buf t = VG_BUF_INIT;

			for (size_t i = 0; i < v->len; i++)
				vg_buf_printf(&t, verb == 'x' ? "%02x" : "%02X", (unsigned char)v->s[i]);
			pad(b, sp, vg_buf_cstr(&t), t.len, true);
			vg_buf_release(&t);
		} else {
			bad_verb(b, verb, v);
		}
		return;
	case V_FLOAT:
		if (strchr("vgGeEfF", verb) != NULL)
			fmt_float(b, sp, v->f);
		else
			bad_verb(b, verb, v);
		return;
	case V_INT:
		if (verb == 'v' || verb == 'd' || verb == 'x' || verb == 'X' || verb == 'o' || verb == 'b') {
			struct spec s2 = *sp;

			if (verb == 'v')
				s2.verb = 'd';
			fmt_int(b, &s2, v->i);
		} else if (verb == 'c') {
			struct vg_buf t = VG_BUF_INIT;

			put_utf8(&t, v->i < 0 || v->i > 0x10FFFF ? 0xFFFD : (uint32_t)v->i);
			pad(b, sp, vg_buf_cstr(&t), t.len, true);
			vg_buf_release(&t);
		} else if (verb == 'q') {
			struct vg_buf t = VG_BUF_INIT, q = VG_BUF_INIT;

			put_utf8(&t, v->i < 0 || v->i > 0x10FFFF ? 0xFFFD : (uint32_t)v->i);
			if (t.len == 1 && t.data[0] == '\'') {
				vg_buf_puts(&q, "'\\''");
			} else {
				go_quote(&q, vg_buf_cstr(&t), t.len);
				if (q.len >= 2) {
					q.data[0] = '\'';
					q.data[q.len - 1] = '\'';
				}
				if (q.len == 4 && q.data[1] == '\\' && q.data[2] == '"') { /* '"' needs no escape */
					q.len = 0;
					vg_buf_puts(&q, "'\"'");
				}
			}
			pad(b, sp, vg_buf_cstr(&q), q.len, true);
			vg_buf_release(&t);
			vg_buf_release(&q);
		} else {
			bad_verb(b, verb, v);
		}
		return;
	case V_BOOL:
		if (verb == 'v' || verb == 't')
			pad(b, sp, v->b ? "true" : "false", v->b ? 4 : 5, true);
		else
			bad_verb(b, verb, v);
		return;
	case V_MAP: {
		/* fmt prints a map as map[k:v k:v], keys sorted */
		const struct vg_conf_labels *m = v->map;
		size_t n = m != NULL ? m->n : 0;
		size_t *order = n ? malloc(n * sizeof(*order)) : NULL;
		struct spec inner = *sp;

		inner.width = -1;
		if (n && order == NULL) {
			b->is_failed = true;
			return;
		}
		for (size_t i = 0; i < n; i++) {
			size_t j = i;

			while (j > 0 && strcmp(m->names[order[j - 1]], m->names[i]) > 0) {
				order[j] = order[j - 1];
				j--;
			}
			order[j] = i;
		}
		vg_buf_puts(b, "map[");
		for (size_t i = 0; i < n; i++) {
			struct val k = { .kind = V_STRING, .s = m->names[order[i]], .len = strlen(m->names[order[i]]) };
			struct val x = { .kind = V_STRING, .s = m->values[order[i]], .len = strlen(m->values[order[i]]) };

			if (i > 0)
				vg_buf_putc(b, ' ');
			fmt_value(b, &inner, &k);
			vg_buf_putc(b, ':');
			fmt_value(b, &inner, &x);
		}
		vg_buf_putc(b, ']');
		free(order);
		return;
	}
	}
}

/* A width or precision: digits at f[*i] (none is 0); past 1e6 fmt's
 * BADWIDTH/BADPREC, with -1 returned. */
static int read_count(const char *f, size_t n, size_t *i, bool *bad)
{
	long v = 0;

	while (*i < n && is_digit(f[*i])) {
		if (v <= 1000000)
			v = v * 10 + (f[*i] - '0');
		(*i)++;
	}
	if (v > 1000000) {
		*bad = true;
		return -1;
	}
	return (int)v;
}

/* Reads one %-directive at f[*i] (just after the '%'). 0, or -1 if the verb
 * is not one this engine formats; *i is left after the verb. */
static int parse_spec(const char *f, size_t n, size_t *i, struct spec *sp, bool *bad_width, bool *bad_prec)
{
	memset(sp, 0, sizeof(*sp));
	sp->width = sp->prec = -1;
	*bad_width = *bad_prec = false;
	for (; *i < n; (*i)++) {
		char c = f[*i];

		if (c == '-')
			sp->minus = true;
		else if (c == '+')
			sp->plus = true;
		else if (c == ' ')
			sp->space = true;
		else if (c == '0')
			sp->zero = true;
		else if (c == '#')
			sp->sharp = true;
		else
			break;
	}
	if (*i < n && is_digit(f[*i]))
		sp->width = read_count(f, n, i, bad_width);
	if (*i < n && f[*i] == '.') {
		(*i)++;
		sp->prec = read_count(f, n, i, bad_prec);
	}
	if (*i >= n) {
		sp->verb = 0;
		return 0; /* "%!(NOVERB)" */
	}
	sp->verb = f[(*i)++];
	if (strchr("%sdfFeEgGvqxXobct", sp->verb) == NULL || sp->verb == 0)
		return -1;
	if (sp->minus)
		sp->zero = false;
	return 0;
}

static int check_printf_format(const char *f, size_t n, size_t *bad)
{
	for (size_t i = 0; i < n;) {
		struct spec sp;
		bool bw, bp;

		if (f[i++] != '%')
			continue;
		if (parse_spec(f, n, &i, &sp, &bw, &bp) != 0) {
			*bad = i - 1;
			return -1;
		}
	}
	return 0;
}

static int go_printf(struct render *r, const struct command *c, const struct val *fmt, const struct val *args,
		     size_t nargs, struct vg_buf *b)
{
	const char *f = fmt->s;
	size_t n = fmt->len, argi = 0;

	for (size_t i = 0; i < n;) {
		struct spec sp;
		bool bw, bp;

		if (f[i] != '%') {
			size_t j = i;

			while (j < n && f[j] != '%')
				j++;
			vg_buf_append(b, f + i, j - i);
			i = j;
			continue;
		}
		i++;
		if (parse_spec(f, n, &i, &sp, &bw, &bp) != 0)
			return rerr(r, c, "error calling printf: unsupported verb %%%c", sp.verb >= 0x20 && sp.verb < 0x7f ? sp.verb : '?');
		if (sp.verb == 0) {
			vg_buf_puts(b, "%!(NOVERB)");
			break;
		}
		if (sp.verb == '%') {
			vg_buf_putc(b, '%');
			continue;
		}
		if (bw) {
			vg_buf_puts(b, "%!(BADWIDTH)");
		}
		if (bp) {
			vg_buf_puts(b, "%!(BADPREC)");
		}
		if (argi >= nargs) {
			vg_buf_printf(b, "%%!%c(MISSING)", sp.verb);
			continue;
		}
		fmt_value(b, &sp, &args[argi++]);
	}
	if (argi < nargs) {
		struct spec plain = { .width = -1, .prec = -1, .verb = 'v' };

		vg_buf_puts(b, "%!(EXTRA ");
		for (size_t k = argi; k < nargs; k++) {
			if (k > argi)
				vg_buf_puts(b, ", ");
			if (args[k].kind == V_MISSING) {
				vg_buf_puts(b, "<nil>");
				continue;
			}
			vg_buf_printf(b, "%s=", type_name(&args[k]));
			fmt_value(b, &plain, &args[k]);
		}
		vg_buf_putc(b, ')');
	}
	return 0;
}

/* ---- Prometheus's functions ------------------------------------------- */

/* common/helpers/templates ConvertToFloat: float64, string
 * (strconv.ParseFloat), int. */
static int to_float(struct render *r, const struct command *c, const char *fn, const struct val *v, double *out)
{
	switch (v->kind) {
	case V_FLOAT:
		*out = v->f;
		return 0;
	case V_INT:
		*out = (double)v->i;
		return 0;
	case V_STRING: {
		char tmp[128];
		char *end;
		size_t k = 0;

		if (v->len == 0 || v->len >= sizeof(tmp) || is_space(v->s[0]))
			goto bad_syntax;
		for (size_t i = 0; i < v->len; i++) {
			if (v->s[i] == '_')
				goto bad_syntax;
			tmp[k++] = v->s[i];
		}
		tmp[k] = 0;
		/* strtod takes "nan(...)", "infinity" and hex; Go takes the
		 * last two, and not the first. */
		if (strchr(tmp, '(') != NULL)
			goto bad_syntax;
		errno = 0;
		*out = strtod(tmp, &end);
		if (*end != 0 || end == tmp)
			goto bad_syntax;
		if (errno == ERANGE && isinf(*out))
			return rerr(r, c, "error calling %s: strconv.ParseFloat: parsing \"%.*s\": value out of range", fn,
				    (int)(v->len > 64 ? 64 : v->len), v->s);
		return 0;
bad_syntax:
		return rerr(r, c, "error calling %s: strconv.ParseFloat: parsing \"%.*s\": invalid syntax", fn,
			    (int)(v->len > 64 ? 64 : v->len), v->s);
	}
	default:
		return rerr(r, c, "error calling %s: can't convert %s to float", fn, type_name(v));
	}
}

static void put_g4(struct vg_buf *b, double v)
{
	struct spec sp = { .width = -1, .prec = 4, .verb = 'g' };

	fmt_float(b, &sp, v);
}

/* |v| < 1 as humanize and humanizeDuration print it: times 1000 while
 * below 1, up to eight times, with m u n p f a z y. */
static void put_g4_small(struct vg_buf *b, double v)
{
	static const char *const small[] = { "m", "u", "n", "p", "f", "a", "z", "y" };
	const char *prefix = "";

	for (size_t i = 0; i < 8; i++) {
		if (fabs(v) >= 1)
			break;
		prefix = small[i];
		v *= 1000;
	}
	put_g4(b, v);
	vg_buf_puts(b, prefix);
}

static void humanize(struct vg_buf *b, double v)
{
	static const char *const big[] = { "k", "M", "G", "T", "P", "E", "Z", "Y" };
	const char *prefix = "";

	if (v == 0 || isnan(v) || isinf(v)) {
		put_g4(b, v);
		return;
	}
	if (fabs(v) >= 1) {
		for (size_t i = 0; i < 8; i++) {
			if (fabs(v) < 1000)
				break;
			prefix = big[i];
			v /= 1000;
		}
	} else {
		put_g4_small(b, v);
		return;
	}
	put_g4(b, v);
	vg_buf_puts(b, prefix);
}

static void humanize1024(struct vg_buf *b, double v)
{
	static const char *const big[] = { "ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi" };
	const char *prefix = "";

	if (fabs(v) <= 1 || isnan(v) || isinf(v)) {
		put_g4(b, v);
		return;
	}
	for (size_t i = 0; i < 8; i++) {
		if (fabs(v) < 1024)
			break;
		prefix = big[i];
		v /= 1024;
	}
	put_g4(b, v);
	vg_buf_puts(b, prefix);
}

/* Go's int64(f) for f >= 0: what amd64 gives past the range is the
 * "integer indefinite" value, math.MinInt64. */
static int64_t go_int64(double f)
{
	if (!(f < 9223372036854775808.0) || !(f >= -9223372036854775808.0))
		return INT64_MIN;
	return (int64_t)f;
}

static void humanize_duration(struct vg_buf *b, double v)
{
	if (isnan(v) || isinf(v)) {
		put_g4(b, v);
		return;
	}
	if (v == 0) {
		put_g4(b, v);
		vg_buf_putc(b, 's');
		return;
	}
	if (fabs(v) >= 1) {
		const char *sign = "";

		if (v < 0) {
			sign = "-";
			v = -v;
		}
		int64_t d = go_int64(v);
		int64_t seconds = d % 60, minutes = (d / 60) % 60, hours = (d / 60 / 60) % 24, days = d / 60 / 60 / 24;

		if (days != 0)
			vg_buf_printf(b, "%s%" PRId64 "d %" PRId64 "h %" PRId64 "m %" PRId64 "s", sign, days, hours, minutes, seconds);
		else if (hours != 0)
			vg_buf_printf(b, "%s%" PRId64 "h %" PRId64 "m %" PRId64 "s", sign, hours, minutes, seconds);
		else if (minutes != 0)
			vg_buf_printf(b, "%s%" PRId64 "m %" PRId64 "s", sign, minutes, seconds);
		else {
			vg_buf_puts(b, sign);
			put_g4(b, v);
			vg_buf_putc(b, 's');
		}
		return;
	}
	put_g4_small(b, v);
	vg_buf_putc(b, 's');
}

/* humanizeTimestamp: time.Time.String() of the instant in UTC, at the
 * millisecond Prometheus keeps (model.TimeFromUnixNano truncates). */
static int humanize_timestamp(struct render *r, const struct command *c, struct vg_buf *b, double v)
{
	if (isnan(v) || isinf(v)) {
		put_g4(b, v);
		return 0;
	}
	double ns = v * 1e9;
	if (ns >= 9223372036854775808.0 || ns < -9223372036854775808.0) {
		struct vg_buf t = VG_BUF_INIT;
		struct spec sp = { .width = -1, .prec = -1, .verb = 'v' };

		fmt_float(&t, &sp, v);
		rerr(r, c, "error calling humanizeTimestamp: %s cannot be represented as a nanoseconds timestamp since it overflows int64",
		     vg_buf_cstr(&t));
		vg_buf_release(&t);
		return VG_EINVAL;
	}
	/* the RFC 3339 form "2015-06-23T13:19:44.120Z" laid out as Go's
	 * "2015-06-23 13:19:44.12 +0000 UTC" */
	char iso[64];
	size_t n = vg_time_format_rfc3339((int64_t)ns / 1000000, iso, sizeof(iso));

	if (n > 0 && iso[n - 1] == 'Z')
		n--;
	if (memchr(iso, '.', n) != NULL)
		while (n > 0 && (iso[n - 1] == '0' || iso[n - 1] == '.'))
			if (iso[--n] == '.')
				break;
	for (size_t i = 0; i < n; i++)
		vg_buf_putc(b, iso[i] == 'T' ? ' ' : iso[i]);
	vg_buf_puts(b, " +0000 UTC");
	return 0;
}

static bool ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* cases.Title(language.AmericanEnglish, cases.NoLower) on ASCII: the first
 * letter of each word upper-cased, the rest kept. A word goes on through
 * digits, '_' and one of ' . : between letters (UAX #29); a letter after
 * digits is still the word's first cased letter ("3rd" -> "3Rd"). */
static void title(struct vg_buf *b, const char *s, size_t n)
{
	bool mid_word = false, prev_mid = false;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool is_mid = c == '\'' || c == '.' || c == ':';

		if (ascii_letter(c)) {
			if (!mid_word) {
				c = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
				mid_word = true;
			}
		} else if (!(is_digit(c) || c == '_' || is_mid || (unsigned char)c >= 0x80)) {
			mid_word = false;
		}
		if (prev_mid && is_mid)
			mid_word = false;
		prev_mid = is_mid;
		vg_buf_putc(b, c);
	}
}

static bool truth(const struct val *v)
{
	switch (v->kind) {
	case V_STRING: return v->len > 0;
	case V_FLOAT: return v->f != 0;
	case V_INT: return v->i != 0;
	case V_BOOL: return v->b;
	case V_MAP: return v->map != NULL && v->map->n > 0;
	default: return false;
	}
}

/* text/template's eq for two basic values: 1 equal, 0 not, -1 error
 * (incompatible types). A missing value equals nothing. */
static int go_eq(struct render *r, const struct command *c, const struct val *a, const struct val *b)
{
	if (a->kind != b->kind) {
		if (a->kind == V_MISSING || b->kind == V_MISSING)
			return 0;
		rerr(r, c, "error calling eq: incompatible types for comparison");
		return -1;
	}
	switch (a->kind) {
	case V_STRING: return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
	case V_FLOAT: return a->f == b->f;
	case V_INT: return a->i == b->i;
	case V_BOOL: return a->b == b->b;
	case V_MISSING: return 1;
	default:
		rerr(r, c, "error calling eq: non-comparable type %s", type_name(a));
		return -1;
	}
}

static int go_lt(struct render *r, const struct command *c, const char *fn, const struct val *a, const struct val *b)
{
	if (a->kind == V_MISSING || b->kind == V_MISSING || a->kind == V_BOOL || a->kind == V_MAP || b->kind == V_BOOL ||
	    b->kind == V_MAP) {
		rerr(r, c, "error calling %s: invalid type for comparison", fn);
		return -1;
	}
	if (a->kind != b->kind) {
		rerr(r, c, "error calling %s: incompatible types for comparison", fn);
		return -1;
	}
	switch (a->kind) {
	case V_STRING: {
		size_t n = a->len < b->len ? a->len : b->len;
		int d = memcmp(a->s, b->s, n);

		return d < 0 || (d == 0 && a->len < b->len);
	}
	case V_FLOAT: return a->f < b->f;
	default: return a->i < b->i;
	}
}

static int eval_pipe(struct render *r, const struct pipe *pl, struct val *out);

static int eval_operand(struct render *r, const struct command *c, const struct operand *o, struct val *v)
{
	const struct vg_template_data *d = r->d;

	memset(v, 0, sizeof(*v));
	switch (o->kind) {
	case OP_STRING:
		v->kind = V_STRING;
		v->s = o->key;
		v->len = o->key_len;
		return 0;
	case OP_INT:
		v->kind = V_INT;
		v->i = o->i;
		return 0;
	case OP_FLOAT:
		v->kind = V_FLOAT;
		v->f = o->f;
		return 0;
	case OP_BOOL:
		v->kind = V_BOOL;
		v->b = o->i != 0;
		return 0;
	case OP_PIPE:
		return eval_pipe(r, o->pipe, v);
	case OP_DATA:
		break;
	default:
		return rerr(r, c, "function used as a value");
	}
	switch (o->src) {
	case SRC_VALUE:
		v->kind = V_FLOAT;
		v->f = d->value;
		return 0;
	case SRC_EXT_URL:
		v->kind = V_STRING;
		v->s = d->external_url != NULL ? d->external_url : "";
		v->len = strlen(v->s);
		return 0;
	case SRC_STATUS:
		if (d->status == NULL)
			return rerr(r, c, "can't evaluate field Status: not a notification");
		v->kind = V_STRING;
		v->s = d->status;
		v->len = strlen(v->s);
		return 0;
	default: {
		const struct vg_conf_labels *m = o->src == SRC_LABELS ? d->labels
						 : o->src == SRC_EXT_LABELS ? d->external_labels
						 : d->annotations;

		if (o->src == SRC_ANNOTATIONS && m == NULL)
			return rerr(r, c, "can't evaluate field Annotations: not a notification");
		if (o->key == NULL) {
			v->kind = V_MAP;
			v->map = m;
			return 0;
		}
		/* a missing key is Go's invalid value: "<no value>" when
		 * printed, nil as an argument */
		if ((v->s = lookup(m, o->key, o->key_len, &v->len)) != NULL)
			v->kind = V_STRING;
		return 0;
	}
	}
}

static int want_string(struct render *r, const struct command *c, const char *fn, const struct val *v)
{
	if (v->kind == V_STRING)
		return 0;
	if (v->kind == V_MISSING)
		return rerr(r, c, "error calling %s: invalid value; expected string", fn);
	return rerr(r, c, "error calling %s: wrong type for value; expected string; got %s", fn, type_name(v));
}

static int call(struct render *r, const struct command *c, enum fn fn, const struct operand *ops, size_t nops,
		const struct val *final, struct val *out)
{
	struct val args[MAX_ARGS + 2];
	size_t n = 0;
	struct vg_buf b = VG_BUF_INIT;
	int rc;

	memset(out, 0, sizeof(*out));
	/* and, or: evaluated left to right, stopping at the deciding one */
	if (fn == FN_AND || fn == FN_OR) {
		for (size_t i = 0; i < nops; i++) {
			if ((rc = eval_operand(r, c, &ops[i], out)) != 0)
				return rc;
			if (truth(out) == (fn == FN_OR))
				return 0;
		}
		if (final != NULL)
			*out = *final;
		return 0;
	}
	for (size_t i = 0; i < nops && n < MAX_ARGS; i++)
		if ((rc = eval_operand(r, c, &ops[i], &args[n++])) != 0)
			return rc;
	if (final != NULL)
		args[n++] = *final;
	switch (fn) {
	case FN_HUMANIZE:
	case FN_HUMANIZE1024:
	case FN_HUMANIZE_DURATION:
	case FN_HUMANIZE_PERCENTAGE:
	case FN_HUMANIZE_TIMESTAMP: {
		static const char *const names[] = { "humanize", "humanize1024", "humanizeDuration", "humanizePercentage",
						     "humanizeTimestamp" };
		double x = 0;

		if ((rc = to_float(r, c, names[fn - FN_HUMANIZE], &args[0], &x)) != 0)
			return rc;
		if (fn == FN_HUMANIZE)
			humanize(&b, x);
		else if (fn == FN_HUMANIZE1024)
			humanize1024(&b, x);
		else if (fn == FN_HUMANIZE_DURATION)
			humanize_duration(&b, x);
		else if (fn == FN_HUMANIZE_PERCENTAGE) {
			put_g4(&b, x * 100);
			vg_buf_putc(&b, '%');
		} else if ((rc = humanize_timestamp(r, c, &b, x)) != 0) {
			vg_buf_release(&b);
			return rc;
		}
		return keep_string(r, &b, out);
	}
	case FN_PRINTF:
		if ((rc = want_string(r, c, "printf", &args[0])) != 0)
			return rc;
		if ((rc = go_printf(r, c, &args[0], args + 1, n - 1, &b)) != 0) {
			vg_buf_release(&b);
			return rc;
		}
		if (b.len > VG_TEMPLATE_MAX_OUTPUT) {
			vg_buf_release(&b);
			return rerr(r, c, "printf output exceeds %d bytes", VG_TEMPLATE_MAX_OUTPUT);
		}
		return keep_string(r, &b, out);
	case FN_TITLE:
	case FN_TO_UPPER:
	case FN_TO_LOWER:
		if ((rc = want_string(r, c, fn == FN_TITLE ? "title" : fn == FN_TO_UPPER ? "toUpper" : "toLower", &args[0])) != 0)
			return rc;
		if (fn == FN_TITLE) {
			title(&b, args[0].s, args[0].len);
		} else {
			for (size_t i = 0; i < args[0].len; i++) {
				char ch = args[0].s[i];

				if (fn == FN_TO_UPPER && ch >= 'a' && ch <= 'z')
					ch = (char)(ch - 32);
				else if (fn == FN_TO_LOWER && ch >= 'A' && ch <= 'Z')
					ch = (char)(ch + 32);
				vg_buf_putc(&b, ch);
			}
		}
		return keep_string(r, &b, out);
	case FN_EQ:
	case FN_NE: {
		bool any = false;

		for (size_t i = 1; i < n; i++) {
			int e = go_eq(r, c, &args[0], &args[i]);

			if (e < 0)
				return VG_EINVAL;
			if (e) {
				any = true;
				break;
			}
		}
		out->kind = V_BOOL;
		out->b = fn == FN_EQ ? any : !any;
		return 0;
	}
	case FN_LT:
	case FN_LE:
	case FN_GT:
	case FN_GE: {
		static const char *const names[] = { "lt", "le", "gt", "ge" };
		const char *name = names[fn - FN_LT];
		int lt = go_lt(r, c, name, &args[0], &args[1]), eq = 0;

		if (lt < 0)
			return VG_EINVAL;
		if ((fn == FN_LE || fn == FN_GT) && !lt && (eq = go_eq(r, c, &args[0], &args[1])) < 0)
			return VG_EINVAL;
		out->kind = V_BOOL;
		out->b = fn == FN_LT ? lt : fn == FN_LE ? (lt || eq) : fn == FN_GT ? !(lt || eq) : !lt;
		return 0;
	}
	case FN_NOT:
		out->kind = V_BOOL;
		out->b = !truth(&args[0]);
		return 0;
	case FN_INDEX:
		*out = args[0];
		for (size_t i = 1; i < n; i++) {
			if (out->kind != V_MAP)
				return rerr(r, c, "error calling index: can't index item of type %s", type_name(out));
			if (args[i].kind != V_STRING)
				return rerr(r, c, "error calling index: value has type %s; should be string", type_name(&args[i]));
			const struct vg_conf_labels *m = out->map;
			size_t len = 0;
			const char *s = lookup(m, args[i].s, args[i].len, &len);

			/* index of a missing key is the zero value, "" */
			out->kind = V_STRING;
			out->s = s != NULL ? s : "";
			out->len = s != NULL ? len : 0;
		}
		return 0;
	default:
		return rerr(r, c, "not a function");
	}
}

static int eval_pipe(struct render *r, const struct pipe *pl, struct val *out)
{
	struct val final = { .kind = V_MISSING };
	int rc;

	for (size_t i = 0; i < pl->n; i++) {
		const struct command *c = &pl->cmds[i];

		if (c->ops[0].kind == OP_FUNC)
			rc = call(r, c, c->ops[0].fn, c->ops + 1, c->n - 1, i > 0 ? &final : NULL, out);
		else
			rc = eval_operand(r, c, &c->ops[0], out);
		if (rc != 0)
			return rc;
		final = *out;
	}
	return 0;
}

static int render_list(struct render *r, const struct node *n)
{
	struct spec plain = { .width = -1, .prec = -1, .verb = 'v' };
	struct val v;
	int rc;

	for (; n != NULL; n = n->next) {
		switch (n->kind) {
		case N_TEXT:
			vg_buf_append(r->out, n->text, n->len);
			break;
		case N_ACTION:
			if ((rc = eval_pipe(r, n->pipe, &v)) != 0)
				return rc;
			if (v.kind == V_MISSING)
				vg_buf_puts(r->out, "<no value>");
			else
				fmt_value(r->out, &plain, &v);
			break;
		case N_IF:
			if ((rc = eval_pipe(r, n->pipe, &v)) != 0)
				return rc;
			if ((rc = render_list(r, truth(&v) ? n->then : n->els)) != 0)
				return rc;
			break;
		}
		if (vg_buf_failed(r->out))
			return vg_err_set(r->err, VG_ENOMEM, "out of memory");
		if (r->out->len > VG_TEMPLATE_MAX_OUTPUT)
			return rerr(r, NULL, "template output exceeds %d bytes", VG_TEMPLATE_MAX_OUTPUT);
	}
	return 0;
}

int vg_template_render(const struct vg_template *t, const struct vg_template_data *d, struct vg_buf *out,
		       struct vg_err *err)
{
	struct render r = { 0 };
	size_t start = out->len;
	int rc;

	vg_err_clear(err);
	r.d = d;
	r.out = out;
	r.err = err;
	rc = render_list(&r, t->root);
	for (size_t i = 0; i < r.n_owned; i++)
		free(r.owned[i]);
	free(r.owned);
	if (rc != 0 && out->len > start && !vg_buf_failed(out)) {
		out->len = start; /* nothing half-written */
		if (out->cap)
			out->data[start] = 0;
	}
	return rc;
}
