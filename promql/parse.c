/*
 * parse.c: a recursive-descent PromQL parser (parse.h) over the lexer of
 * lex.h, with one token of lookahead.
 *
 * Owns the grammar, precedence and the type checks; not evaluation.
 *
 * Binary operators are parsed by precedence climbing, lowest first:
 * or; and unless; == != <= < >= >; + -; * / % atan2; ^ (right-associative).
 * A unary + or - binds like * (so -a^b is -(a^b) and -a*b is (-a)*b), and
 * folds into a number literal (-1 is the number -1, as Prometheus makes it).
 * Postfix modifiers ([range], [range:step], offset, @) bind tightest, to the
 * primary expression before them.
 *
 * Invariants:
 *  - Every node is type-checked when it is built, children first, so the
 *    first error reported is the innermost, leftmost one, as Prometheus's.
 *  - Parser recursion and tree depth are both bounded by
 *    VG_PROMQL_MAX_DEPTH: a deeply nested input is an error at the token
 *    where the limit is passed.
 *  - On error nothing is returned and everything built is freed.
 */
#include "promql/parse.h"
#include "promql/ast.h"
#include "promql/functions.h"
#include "promql/lex.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/selector.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define MAX_ARGS 4096

struct parser {
	struct vg_lexer lx;
	struct vg_token tok;
	struct vg_err *err;
	size_t err_pos;
	bool failed;
	unsigned depth; /* of parse_expr recursion */
};

enum {
	PREC_OR = 1,
	PREC_AND,
	PREC_CMP,
	PREC_ADD,
	PREC_MUL,
	PREC_POW,
};

static void line_col(const struct parser *p, size_t off, unsigned *line, unsigned *col)
{
	size_t line_start = 0;

	*line = 1;
	for (size_t i = 0; i < off && i < p->lx.len; i++) {
		if (p->lx.s[i] == '\n') {
			(*line)++;
			line_start = i + 1;
		}
	}
	*col = (unsigned)(off - line_start + 1);
}

static void perr_code(struct parser *p, int code, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void perr_code(struct parser *p, int code, size_t off, const char *fmt, ...)
{
	char msg[VG_ERR_MSG_MAX];
	unsigned line, col;
	va_list ap;

	if (p->failed)
		return; /* the first error is the one to report */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	line_col(p, off, &line, &col);
	vg_err_set(p->err, code, "%u:%u: parse error: %s", line, col, msg);
	p->err_pos = off;
	p->failed = true;
}

#define perr(p, off, ...) perr_code((p), VG_EINVAL, (off), __VA_ARGS__)

static void oom(struct parser *p)
{
	perr_code(p, VG_ENOMEM, p->tok.pos, "out of memory");
}

static void advance(struct parser *p)
{
	vg_lex_next(&p->lx, &p->tok);
}

/* Reports the current token as unexpected; context reads " in ...". */
static void unexpected(struct parser *p, const char *context)
{
	char what[128];

	if (p->tok.type == VG_TOK_ERROR) {
		perr(p, p->lx.err_pos, "%s", p->lx.err_msg);
		return;
	}
	vg_lex_describe(&p->lx, &p->tok, what, sizeof(what));
	perr(p, p->tok.pos, "unexpected %s%s", what, context);
}

static struct vg_promql_node *new_node(struct parser *p, enum vg_promql_kind kind, size_t pos)
{
	struct vg_promql_node *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		oom(p);
		return NULL;
	}
	n->kind = kind;
	n->pos = pos;
	n->end = pos;
	n->depth = 1;
	return n;
}

static unsigned max_u(unsigned a, unsigned b)
{
	return a > b ? a : b;
}

/* Sets n's depth from its children; false (and an error) past the limit. */
static bool finish(struct parser *p, struct vg_promql_node *n)
{
	unsigned d = 0;

	if (n->expr)
		d = max_u(d, n->expr->depth);
	if (n->param)
		d = max_u(d, n->param->depth);
	if (n->lhs)
		d = max_u(d, n->lhs->depth);
	if (n->rhs)
		d = max_u(d, n->rhs->depth);
	for (size_t i = 0; i < n->n_args; i++)
		d = max_u(d, n->args[i]->depth);
	n->depth = d + 1;
	if (n->depth > VG_PROMQL_MAX_DEPTH) {
		perr(p, n->pos, "expression nests too deeply: more than %d levels", VG_PROMQL_MAX_DEPTH);
		return false;
	}
	return true;
}

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d == NULL)
		return NULL;
	if (n)
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static const char *tok_text(const struct parser *p)
{
	return p->lx.s + p->tok.pos;
}

static struct vg_promql_node *parse_expr(struct parser *p, int min_prec);

/* ---- durations and label lists ----------------------------------------- */

/* A duration: a DURATION token, or a NUMBER of seconds (Prometheus 3).
 * Must be greater than 0. */
static bool parse_duration(struct parser *p, int64_t *ms, const char *context)
{
	size_t pos = p->tok.pos;

	if (p->tok.type == VG_TOK_DURATION) {
		*ms = p->lx.duration_ms;
	} else if (p->tok.type == VG_TOK_NUMBER) {
		double v = p->lx.number * 1000.0;
		if (isnan(v) || v >= 9.2e18 || v <= -9.2e18) {
			perr(p, pos, "duration out of range");
			return false;
		}
		*ms = (int64_t)llround(v);
	} else {
		char ctx[96];
		snprintf(ctx, sizeof(ctx), " in %s, expected duration", context);
		unexpected(p, ctx);
		return false;
	}
	if (*ms <= 0) {
		perr(p, pos, "duration must be greater than 0");
		return false;
	}
	advance(p);
	return true;
}

/* A label name where one is expected: an identifier without ':' or any
 * word (keywords, Inf and NaN are label names too). */
static bool is_label_token(const struct parser *p)
{
	if (!p->tok.is_word)
		return false;
	return memchr(tok_text(p), ':', p->tok.len) == NULL;
}

static bool labels_push(struct parser *p, struct vg_promql_labels *l, const char *s, size_t n)
{
	char **grown;

	if (l->n >= MAX_ARGS) {
		perr(p, p->tok.pos, "too many labels: at most %d", MAX_ARGS);
		return false;
	}
	grown = realloc(l->names, (l->n + 1) * sizeof(*grown));
	if (grown == NULL) {
		oom(p);
		return false;
	}
	l->names = grown;
	if ((l->names[l->n] = dup_n(s, n)) == NULL) {
		oom(p);
		return false;
	}
	l->n++;
	return true;
}

/* Consumes a "(" or reports what stands there instead. */
static bool expect_lparen(struct parser *p, const char *context)
{
	char ctx[96];

	if (p->tok.type != VG_TOK_LPAREN) {
		snprintf(ctx, sizeof(ctx), " in %s, expected \"(\"", context);
		unexpected(p, ctx);
		return false;
	}
	advance(p);
	return true;
}

/* "(" [label {"," label}] [","] ")" */
static bool parse_labels(struct parser *p, struct vg_promql_labels *l, const char *context)
{
	char ctx[96];

	if (!expect_lparen(p, context))
		return false;
	for (;;) {
		if (p->tok.type == VG_TOK_RPAREN) {
			advance(p);
			return true;
		}
		if (!is_label_token(p)) {
			snprintf(ctx, sizeof(ctx), " in %s, expected label", context);
			unexpected(p, ctx);
			return false;
		}
		if (!labels_push(p, l, tok_text(p), p->tok.len))
			return false;
		advance(p);
		if (p->tok.type == VG_TOK_COMMA) {
			advance(p);
		} else if (p->tok.type != VG_TOK_RPAREN) {
			snprintf(ctx, sizeof(ctx), " in %s, expected \",\" or \")\"", context);
			unexpected(p, ctx);
			return false;
		}
	}
}

/* ---- selectors ------------------------------------------------------------ */

/* A bad regex or too many matchers is reported at the matcher (at, its
 * label), as Prometheus reports a matcher's error. */
static bool add_matcher(struct parser *p, struct vg_promql_node *n, const char *name, size_t name_len,
			enum vg_match_op op, const char *value, size_t value_len, size_t at)
{
	struct vg_err e;
	int rc = vg_selector_add(&n->sel, name, name_len, op, value, value_len, &e);

	if (rc == 0)
		return true;
	perr_code(p, rc, at, "%s", e.msg);
	return false;
}

static bool parse_braces(struct parser *p, struct vg_promql_node *n)
{
	advance(p); /* '{' */
	for (;;) {
		const char *label;
		size_t label_len;
		enum vg_match_op op;

		if (p->tok.type == VG_TOK_EOF) {
			perr(p, p->tok.pos, "unexpected end of input inside braces");
			return false;
		}
		if (p->tok.type == VG_TOK_RBRACE) {
			advance(p);
			return true;
		}
		if (!p->tok.is_word) {
			unexpected(p, " in label matching, expected identifier or \"}\"");
			return false;
		}
		label = tok_text(p);
		label_len = p->tok.len;
		{
			const char *colon = memchr(label, ':', label_len);
			if (colon != NULL) {
				perr(p, p->tok.pos + (size_t)(colon - label),
				     "unexpected character inside braces: ':'");
				return false;
			}
		}
		advance(p);
		switch (p->tok.type) {
		case VG_TOK_ASSIGN: op = VG_MATCH_EQ; break;
		case VG_TOK_NEQ: op = VG_MATCH_NE; break;
		case VG_TOK_EQL_REGEX: op = VG_MATCH_RE; break;
		case VG_TOK_NEQ_REGEX: op = VG_MATCH_NRE; break;
		case VG_TOK_EOF:
			perr(p, p->tok.pos, "unexpected end of input inside braces");
			return false;
		default:
			unexpected(p, " in label matching, expected label matching operator");
			return false;
		}
		advance(p);
		if (p->tok.type == VG_TOK_EOF) {
			perr(p, p->tok.pos, "unexpected end of input inside braces");
			return false;
		}
		if (p->tok.type != VG_TOK_STRING) {
			unexpected(p, " in label matching, expected string");
			return false;
		}
		if (!add_matcher(p, n, label, label_len, op, (const char *)p->lx.str.data, p->lx.str.len,
				 (size_t)(label - p->lx.s)))
			return false;
		advance(p);
		if (p->tok.type == VG_TOK_COMMA) {
			advance(p);
			continue;
		}
		if (p->tok.type == VG_TOK_RBRACE) {
			advance(p);
			return true;
		}
		if (p->tok.type == VG_TOK_EOF) {
			perr(p, p->tok.pos, "unexpected end of input inside braces");
			return false;
		}
		unexpected(p, " in label matching, expected \",\" or \"}\"");
		return false;
	}
}

/* name is the metric name token already consumed, or NULL. */
static struct vg_promql_node *parse_selector(struct parser *p, const char *name, size_t name_len,
					     size_t pos)
{
	struct vg_promql_node *n = new_node(p, VG_PROMQL_SELECTOR, pos);

	if (n == NULL)
		return NULL;
	n->type = VG_PROMQL_VECTOR;
	if (name != NULL) {
		if ((n->name = dup_n(name, name_len)) == NULL) {
			oom(p);
			goto fail;
		}
		if (!add_matcher(p, n, "__name__", 8, VG_MATCH_EQ, name, name_len, pos))
			goto fail;
	}
	if (p->tok.type == VG_TOK_LBRACE && !parse_braces(p, n))
		goto fail;
	if (name != NULL) {
		for (size_t i = 1; i < n->sel.n; i++) {
			struct vg_buf a = VG_BUF_INIT, b = VG_BUF_INIT;
			if (strcmp(n->sel.m[i].name, "__name__") != 0)
				continue;
			vg_lex_quote(&a, name, name_len > 64 ? 64 : name_len);
			vg_lex_quote(&b, n->sel.m[i].value, n->sel.m[i].value_len > 64 ? 64 : n->sel.m[i].value_len);
			perr(p, pos, "metric name must not be set twice: %s or %s", vg_buf_cstr(&a),
			     vg_buf_cstr(&b));
			vg_buf_release(&a);
			vg_buf_release(&b);
			goto fail;
		}
	}
	if (!vg_selector_is_bounded(&n->sel)) {
		perr(p, pos, "vector selector must contain at least one non-empty matcher");
		goto fail;
	}
	n->end = p->tok.pos;
	return n;
fail:
	vg_promql_node_free(n);
	return NULL;
}

/* ---- calls and aggregations ---------------------------------------------- */

/* "(" [expr {"," expr}] ")" into *args; trailing commas are refused, as
 * Prometheus refuses them in calls. */
static bool parse_args(struct parser *p, struct vg_promql_node ***args, size_t *n_args, const char *context)
{
	char ctx[96];

	if (!expect_lparen(p, context))
		return false;
	if (p->tok.type == VG_TOK_RPAREN) {
		advance(p);
		return true;
	}
	for (;;) {
		struct vg_promql_node *a, **grown;

		if (*n_args >= MAX_ARGS) {
			perr(p, p->tok.pos, "too many arguments: at most %d", MAX_ARGS);
			return false;
		}
		if ((a = parse_expr(p, 0)) == NULL)
			return false;
		grown = realloc(*args, (*n_args + 1) * sizeof(*grown));
		if (grown == NULL) {
			vg_promql_node_free(a);
			oom(p);
			return false;
		}
		*args = grown;
		(*args)[(*n_args)++] = a;
		if (p->tok.type == VG_TOK_RPAREN) {
			advance(p);
			return true;
		}
		if (p->tok.type != VG_TOK_COMMA) {
			snprintf(ctx, sizeof(ctx), " in %s, expected \",\" or \")\"", context);
			unexpected(p, ctx);
			return false;
		}
		advance(p);
		if (p->tok.type == VG_TOK_RPAREN) {
			perr(p, p->tok.pos, "trailing commas not allowed in function call args");
			return false;
		}
	}
}

static bool expect_type(struct parser *p, const struct vg_promql_node *n, enum vg_promql_type want,
			const char *context)
{
	if (n->type == want)
		return true;
	perr(p, n->pos, "expected type %s in %s, got %s", vg_promql_type_name(want), context,
	     vg_promql_type_name(n->type));
	return false;
}

static struct vg_promql_node *parse_call(struct parser *p, const char *name, size_t name_len, size_t pos)
{
	const struct vg_promql_func *f = vg_promql_func_find(name, name_len);
	struct vg_promql_node *n;
	char ctx[96];
	int na;

	if (f == NULL || vg_promql_func_is_experimental(f)) {
		/* Prometheus names the function once its call has parsed, so
		 * an error inside the call (an unclosed parenthesis) comes
		 * first. */
		struct vg_promql_node **args = NULL;
		size_t n_args = 0;
		bool is_ok = parse_args(p, &args, &n_args, "function call args");
		struct vg_buf q = VG_BUF_INIT;

		for (size_t i = 0; i < n_args; i++)
			vg_promql_node_free(args[i]);
		free(args);
		if (!is_ok)
			return NULL;
		vg_lex_quote(&q, name, name_len > 64 ? 64 : name_len);
		if (f == NULL)
			perr(p, pos, "unknown function with name %s", vg_buf_cstr(&q));
		else
			perr(p, pos, "function %s is not enabled", vg_buf_cstr(&q));
		vg_buf_release(&q);
		return NULL;
	}
	if ((n = new_node(p, VG_PROMQL_CALL, pos)) == NULL)
		return NULL;
	n->func = f;
	n->type = f->ret;
	if (!parse_args(p, &n->args, &n->n_args, "function call args"))
		goto fail;
	na = f->n_args;
	if (f->variadic == 0) {
		if ((size_t)na != n->n_args) {
			perr(p, pos, "expected %d argument(s) in call to \"%s\", got %zu", na, f->name, n->n_args);
			goto fail;
		}
	} else {
		if ((size_t)(na - 1) > n->n_args) {
			perr(p, pos, "expected at least %d argument(s) in call to \"%s\", got %zu", na - 1,
			     f->name, n->n_args);
			goto fail;
		}
		if (f->variadic > 0 && (size_t)(na - 1 + f->variadic) < n->n_args) {
			perr(p, pos, "expected at most %d argument(s) in call to \"%s\", got %zu",
			     na - 1 + f->variadic, f->name, n->n_args);
			goto fail;
		}
	}
	snprintf(ctx, sizeof(ctx), "call to function \"%s\"", f->name);
	for (size_t i = 0; i < n->n_args; i++) {
		size_t k = i < (size_t)na ? i : (size_t)na - 1;
		if (!expect_type(p, n->args[i], f->args[k], ctx))
			goto fail;
	}
	n->end = p->tok.pos;
	if (!finish(p, n))
		goto fail;
	return n;
fail:
	vg_promql_node_free(n);
	return NULL;
}

static bool agg_has_param(enum vg_promql_agg a)
{
	return a == VG_PROMQL_TOPK || a == VG_PROMQL_BOTTOMK || a == VG_PROMQL_QUANTILE ||
	       a == VG_PROMQL_COUNT_VALUES || a == VG_PROMQL_LIMITK || a == VG_PROMQL_LIMIT_RATIO;
}

static bool parse_grouping(struct parser *p, struct vg_promql_node *n)
{
	n->is_without = p->tok.type == VG_TOK_WITHOUT;
	advance(p);
	return parse_labels(p, &n->grouping, "grouping opts");
}

static struct vg_promql_node *parse_aggregate(struct parser *p)
{
	struct vg_promql_node *n = new_node(p, VG_PROMQL_AGGREGATE, p->tok.pos);
	struct vg_promql_node **args = NULL;
	size_t n_args = 0, want;
	bool has_grouping = false;

	if (n == NULL)
		return NULL;
	n->agg = (enum vg_promql_agg)p->lx.agg;
	n->type = VG_PROMQL_VECTOR;
	advance(p);
	if (p->tok.type == VG_TOK_BY || p->tok.type == VG_TOK_WITHOUT) {
		if (!parse_grouping(p, n))
			goto fail;
		has_grouping = true;
	}
	if (!parse_args(p, &args, &n_args, "aggregation"))
		goto fail;
	if (!has_grouping && (p->tok.type == VG_TOK_BY || p->tok.type == VG_TOK_WITHOUT)) {
		if (!parse_grouping(p, n))
			goto fail;
	}
	if (n_args == 0) {
		perr(p, n->pos, "no arguments for aggregate expression provided");
		goto fail;
	}
	want = agg_has_param(n->agg) ? 2 : 1;
	if (n_args != want) {
		perr(p, n->pos, "wrong number of arguments for aggregate expression provided, expected %zu, got %zu",
		     want, n_args);
		goto fail;
	}
	if (want == 2) {
		n->param = args[0];
		n->expr = args[1];
	} else {
		n->expr = args[0];
	}
	free(args);
	args = NULL;
	n_args = 0;
	if (!expect_type(p, n->expr, VG_PROMQL_VECTOR, "aggregation expression"))
		goto fail;
	if (n->param != NULL &&
	    !expect_type(p, n->param, n->agg == VG_PROMQL_COUNT_VALUES ? VG_PROMQL_STRING : VG_PROMQL_SCALAR,
			 "aggregation parameter"))
		goto fail;
	n->end = p->tok.pos;
	if (!finish(p, n))
		goto fail;
	return n;
fail:
	for (size_t i = 0; i < n_args; i++)
		vg_promql_node_free(args[i]);
	free(args);
	vg_promql_node_free(n);
	return NULL;
}

/* ---- postfix modifiers ----------------------------------------------------- */

/* The node an offset or @ of n applies to, or NULL if n takes none. */
static struct vg_promql_node *modifier_target(struct vg_promql_node *n)
{
	if (n->kind == VG_PROMQL_SELECTOR || n->kind == VG_PROMQL_SUBQUERY)
		return n;
	if (n->kind == VG_PROMQL_MATRIX_SEL)
		return n->expr;
	return NULL;
}

static bool parse_offset(struct parser *p, struct vg_promql_node *n)
{
	struct vg_promql_node *t = modifier_target(n);
	bool is_neg = false;
	int64_t ms;

	if (t == NULL) {
		perr(p, n->pos,
		     "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery");
		return false;
	}
	if (t->offset_ms != 0) {
		perr(p, n->pos, "offset may not be set multiple times");
		return false;
	}
	advance(p);
	if (p->tok.type == VG_TOK_SUB) {
		is_neg = true;
		advance(p);
	}
	if (!parse_duration(p, &ms, "offset"))
		return false;
	t->offset_ms = is_neg ? -ms : ms;
	return true;
}

static bool parse_at(struct parser *p, struct vg_promql_node *n)
{
	struct vg_promql_node *t = modifier_target(n);
	size_t at_pos = n->pos; /* errors point at the expression, as Prometheus's */

	if (t == NULL) {
		perr(p, at_pos,
		     "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery");
		return false;
	}
	if (t->at != VG_PROMQL_AT_NONE) {
		perr(p, at_pos, "@ <timestamp> may not be set multiple times");
		return false;
	}
	advance(p);
	if (p->tok.type == VG_TOK_IDENT &&
	    ((p->tok.len == 5 && memcmp(tok_text(p), "start", 5) == 0) ||
	     (p->tok.len == 3 && memcmp(tok_text(p), "end", 3) == 0))) {
		t->at = p->tok.len == 5 ? VG_PROMQL_AT_START : VG_PROMQL_AT_END;
		advance(p);
		if (p->tok.type != VG_TOK_LPAREN) {
			unexpected(p, " in @, expected \"(\"");
			return false;
		}
		advance(p);
		if (p->tok.type != VG_TOK_RPAREN) {
			unexpected(p, " in @, expected \")\"");
			return false;
		}
		advance(p);
		return true;
	}
	{
		bool is_neg = false;
		double ts, ms;
		if (p->tok.type == VG_TOK_SUB || p->tok.type == VG_TOK_ADD) {
			is_neg = p->tok.type == VG_TOK_SUB;
			advance(p);
		}
		if (p->tok.type != VG_TOK_NUMBER) {
			unexpected(p, " in @, expected timestamp");
			return false;
		}
		ts = is_neg ? -p->lx.number : p->lx.number;
		ms = ts * 1000.0;
		if (!isfinite(ts) || ms >= 9.2e18 || ms <= -9.2e18) {
			/* Go's %f, which writes the specials as NaN, +Inf, -Inf */
			if (isnan(ts))
				perr(p, at_pos, "timestamp out of bounds for @ modifier: NaN");
			else if (isinf(ts))
				perr(p, at_pos, "timestamp out of bounds for @ modifier: %cInf", ts > 0 ? '+' : '-');
			else
				perr(p, at_pos, "timestamp out of bounds for @ modifier: %f", ts);
			return false;
		}
		t->at = VG_PROMQL_AT_TIME;
		t->at_ms = (int64_t)llround(ms);
		advance(p);
		return true;
	}
}

/* n [ "[" d "]" | "[" d ":" [d] "]" | offset d | @ t ]... */
static struct vg_promql_node *parse_postfix(struct parser *p, struct vg_promql_node *n)
{
	while (n != NULL) {
		if (p->tok.type == VG_TOK_LBRACKET) {
			size_t lb = p->tok.pos;
			int64_t range_ms, step_ms = 0;
			struct vg_promql_node *w;

			advance(p);
			if (!parse_duration(p, &range_ms, "subquery or range selector"))
				goto fail;
			if (p->tok.type == VG_TOK_COLON) {
				advance(p);
				if (p->tok.type != VG_TOK_RBRACKET && !parse_duration(p, &step_ms, "subquery"))
					goto fail;
				if (p->tok.type != VG_TOK_RBRACKET) {
					unexpected(p, " in subquery, expected \"]\"");
					goto fail;
				}
				if (n->type != VG_PROMQL_VECTOR) {
					perr(p, n->pos, "subquery is only allowed on instant vector, got %s instead",
					     vg_promql_type_name(n->type));
					goto fail;
				}
				if ((w = new_node(p, VG_PROMQL_SUBQUERY, n->pos)) == NULL)
					goto fail;
				w->step_ms = step_ms;
			} else {
				if (p->tok.type != VG_TOK_RBRACKET) {
					unexpected(p, " in range selector, expected \"]\" or \":\"");
					goto fail;
				}
				if (n->kind != VG_PROMQL_SELECTOR) {
					perr(p, lb, "ranges only allowed for vector selectors");
					goto fail;
				}
				if (n->offset_ms != 0) {
					perr(p, lb, "no offset modifiers allowed before range");
					goto fail;
				}
				if (n->at != VG_PROMQL_AT_NONE) {
					perr(p, lb, "no @ modifiers allowed before range");
					goto fail;
				}
				if ((w = new_node(p, VG_PROMQL_MATRIX_SEL, n->pos)) == NULL)
					goto fail;
			}
			advance(p); /* ']' */
			w->type = VG_PROMQL_MATRIX;
			w->range_ms = range_ms;
			w->expr = n;
			n = w;
			if (!finish(p, n))
				goto fail;
		} else if (p->tok.type == VG_TOK_OFFSET) {
			if (!parse_offset(p, n))
				goto fail;
		} else if (p->tok.type == VG_TOK_AT) {
			if (!parse_at(p, n))
				goto fail;
		} else {
			break;
		}
		n->end = p->tok.pos;
	}
	return n;
fail:
	vg_promql_node_free(n);
	return NULL;
}

/* ---- expressions -------------------------------------------------------- */

static struct vg_promql_node *parse_primary(struct parser *p)
{
	struct vg_promql_node *n;
	size_t pos = p->tok.pos;

	switch (p->tok.type) {
	case VG_TOK_NUMBER:
		if ((n = new_node(p, VG_PROMQL_NUMBER, pos)) == NULL)
			return NULL;
		n->type = VG_PROMQL_SCALAR;
		n->number = p->lx.number;
		advance(p);
		n->end = pos;
		return n;
	case VG_TOK_STRING:
		if ((n = new_node(p, VG_PROMQL_STR, pos)) == NULL)
			return NULL;
		n->type = VG_PROMQL_STRING;
		n->str_len = p->lx.str.len;
		if ((n->str = dup_n((const char *)p->lx.str.data, p->lx.str.len)) == NULL) {
			vg_promql_node_free(n);
			oom(p);
			return NULL;
		}
		advance(p);
		return n;
	case VG_TOK_LPAREN: {
		struct vg_promql_node *e;
		advance(p);
		if ((e = parse_expr(p, 0)) == NULL)
			return NULL;
		if (p->tok.type != VG_TOK_RPAREN) {
			if (p->tok.type == VG_TOK_EOF)
				perr(p, pos, "unclosed left parenthesis");
			else
				unexpected(p, ", expected \")\"");
			vg_promql_node_free(e);
			return NULL;
		}
		advance(p);
		if ((n = new_node(p, VG_PROMQL_PAREN, pos)) == NULL) {
			vg_promql_node_free(e);
			return NULL;
		}
		n->expr = e;
		n->type = e->type;
		if (!finish(p, n)) {
			vg_promql_node_free(n);
			return NULL;
		}
		return n;
	}
	case VG_TOK_LBRACE:
		return parse_selector(p, NULL, 0, pos);
	case VG_TOK_IDENT: {
		const char *name = tok_text(p);
		size_t len = p->tok.len;
		advance(p);
		if (p->tok.type == VG_TOK_LPAREN)
			return parse_call(p, name, len, pos);
		return parse_selector(p, name, len, pos);
	}
	case VG_TOK_AGGREGATOR:
		return parse_aggregate(p);
	case VG_TOK_EOF:
		perr(p, pos, "unexpected end of input");
		return NULL;
	default:
		unexpected(p, "");
		return NULL;
	}
}

static struct vg_promql_node *parse_unary(struct parser *p)
{
	if (p->tok.type == VG_TOK_ADD || p->tok.type == VG_TOK_SUB) {
		size_t pos = p->tok.pos;
		enum vg_promql_binop op = p->tok.type == VG_TOK_SUB ? VG_PROMQL_SUB : VG_PROMQL_ADD;
		struct vg_promql_node *e, *n;

		advance(p);
		if ((e = parse_expr(p, PREC_POW)) == NULL)
			return NULL;
		if (e->kind == VG_PROMQL_NUMBER) {
			if (op == VG_PROMQL_SUB)
				e->number = -e->number;
			e->pos = pos;
			return e;
		}
		if (e->type != VG_PROMQL_SCALAR && e->type != VG_PROMQL_VECTOR) {
			perr(p, pos, "unary expression only allowed on expressions of type scalar or instant vector, got \"%s\"",
			     vg_promql_type_name(e->type));
			vg_promql_node_free(e);
			return NULL;
		}
		if ((n = new_node(p, VG_PROMQL_UNARY, pos)) == NULL) {
			vg_promql_node_free(e);
			return NULL;
		}
		n->unary_op = op;
		n->expr = e;
		n->type = e->type;
		n->end = e->end;
		if (!finish(p, n)) {
			vg_promql_node_free(n);
			return NULL;
		}
		return n;
	}
	return parse_postfix(p, parse_primary(p));
}

static int binop_of(enum vg_tok t)
{
	if (t >= VG_TOK_ADD && t <= VG_TOK_UNLESS)
		return VG_PROMQL_ADD + (int)(t - VG_TOK_ADD);
	return -1;
}

static int precedence(enum vg_promql_binop op)
{
	switch (op) {
	case VG_PROMQL_OR: return PREC_OR;
	case VG_PROMQL_AND: case VG_PROMQL_UNLESS: return PREC_AND;
	case VG_PROMQL_ADD: case VG_PROMQL_SUB: return PREC_ADD;
	case VG_PROMQL_MUL: case VG_PROMQL_DIV: case VG_PROMQL_MOD: case VG_PROMQL_ATAN2: return PREC_MUL;
	case VG_PROMQL_POW: return PREC_POW;
	default: return PREC_CMP;
	}
}

/* bool, on/ignoring (labels), group_left/group_right [(labels)]. */
static bool parse_bin_modifiers(struct parser *p, struct vg_promql_node *n)
{
	if (p->tok.type == VG_TOK_BOOL) {
		n->is_bool = true;
		advance(p);
	}
	if (p->tok.type == VG_TOK_ON || p->tok.type == VG_TOK_IGNORING) {
		n->matching.is_on = p->tok.type == VG_TOK_ON;
		advance(p);
		if (!parse_labels(p, &n->matching.labels, "grouping opts"))
			return false;
		if (p->tok.type == VG_TOK_GROUP_LEFT || p->tok.type == VG_TOK_GROUP_RIGHT) {
			n->matching.card = p->tok.type == VG_TOK_GROUP_LEFT ? VG_PROMQL_MANY_TO_ONE
									     : VG_PROMQL_ONE_TO_MANY;
			advance(p);
			if (p->tok.type == VG_TOK_LPAREN &&
			    !parse_labels(p, &n->matching.include, "grouping opts"))
				return false;
		}
	}
	return true;
}

/* Prometheus's checks of a binary expression, in its order. */
static bool check_binary(struct parser *p, struct vg_promql_node *n, size_t op_pos)
{
	enum vg_promql_type lt = n->lhs->type, rt = n->rhs->type;
	struct vg_promql_matching *m = &n->matching;
	const char *name = vg_promql_binop_name(n->op);

	if (n->is_bool && !vg_promql_binop_is_comparison(n->op)) {
		perr(p, op_pos, "bool modifier can only be used on comparison operators");
		return false;
	}
	if (vg_promql_binop_is_comparison(n->op) && !n->is_bool && lt == VG_PROMQL_SCALAR &&
	    rt == VG_PROMQL_SCALAR) {
		perr(p, op_pos, "comparisons between scalars must use BOOL modifier");
		return false;
	}
	if (vg_promql_binop_is_set(n->op) && m->card == VG_PROMQL_ONE_TO_ONE)
		m->card = VG_PROMQL_MANY_TO_MANY;
	if (m->is_on) {
		for (size_t i = 0; i < m->labels.n; i++)
			for (size_t j = 0; j < m->include.n; j++)
				if (strcmp(m->labels.names[i], m->include.names[j]) == 0) {
					perr(p, op_pos, "label \"%s\" must not occur in ON and GROUP clause at once",
					     m->labels.names[i]);
					return false;
				}
	}
	if (lt != VG_PROMQL_SCALAR && lt != VG_PROMQL_VECTOR) {
		perr(p, n->lhs->pos, "binary expression must contain only scalar and instant vector types");
		return false;
	}
	if (rt != VG_PROMQL_SCALAR && rt != VG_PROMQL_VECTOR) {
		perr(p, n->rhs->pos, "binary expression must contain only scalar and instant vector types");
		return false;
	}
	if (lt != VG_PROMQL_VECTOR || rt != VG_PROMQL_VECTOR) {
		if (m->labels.n > 0) {
			perr(p, n->pos, "vector matching only allowed between instant vectors");
			return false;
		}
		/* Prometheus drops the matching of a scalar operation. */
		for (size_t j = 0; j < m->include.n; j++)
			free(m->include.names[j]);
		free(m->include.names);
		memset(m, 0, sizeof(*m));
	} else if (vg_promql_binop_is_set(n->op)) {
		if (m->card == VG_PROMQL_ONE_TO_MANY || m->card == VG_PROMQL_MANY_TO_ONE) {
			perr(p, n->pos, "no grouping allowed for \"%s\" operation", name);
			return false;
		}
	}
	if ((lt == VG_PROMQL_SCALAR || rt == VG_PROMQL_SCALAR) && vg_promql_binop_is_set(n->op)) {
		perr(p, n->pos, "set operator \"%s\" not allowed in binary scalar expression", name);
		return false;
	}
	n->type = lt == VG_PROMQL_SCALAR && rt == VG_PROMQL_SCALAR ? VG_PROMQL_SCALAR : VG_PROMQL_VECTOR;
	return true;
}

static struct vg_promql_node *parse_expr(struct parser *p, int min_prec)
{
	struct vg_promql_node *lhs;

	if (++p->depth > VG_PROMQL_MAX_DEPTH) {
		perr(p, p->tok.pos, "expression nests too deeply: more than %d levels", VG_PROMQL_MAX_DEPTH);
		p->depth--;
		return NULL;
	}
	lhs = parse_unary(p);
	while (lhs != NULL) {
		int op = binop_of(p->tok.type), prec;
		size_t op_pos = p->tok.pos;
		struct vg_promql_node *n;

		if (op < 0 || (prec = precedence((enum vg_promql_binop)op)) < min_prec)
			break;
		advance(p);
		if ((n = new_node(p, VG_PROMQL_BINARY, lhs->pos)) == NULL) {
			vg_promql_node_free(lhs);
			lhs = NULL;
			break;
		}
		n->op = (enum vg_promql_binop)op;
		n->lhs = lhs;
		lhs = n;
		if (!parse_bin_modifiers(p, n))
			goto fail;
		n->rhs = parse_expr(p, op == VG_PROMQL_POW ? prec : prec + 1);
		if (n->rhs == NULL)
			goto fail;
		n->end = n->rhs->end;
		if (!check_binary(p, n, op_pos) || !finish(p, n))
			goto fail;
	}
	p->depth--;
	return lhs;
fail:
	vg_promql_node_free(lhs);
	p->depth--;
	return NULL;
}

static int parse_text(struct parser *p, const char *s, size_t len, struct vg_promql_node **out)
{
	struct vg_promql_node *n = NULL;

	*out = NULL;
	if (len > VG_PROMQL_MAX_TEXT) {
		p->err_pos = 0;
		return vg_err_set(p->err, VG_ELIMIT, "parse error: expression is %zu bytes, longer than the limit of %d",
				  len, VG_PROMQL_MAX_TEXT);
	}
	vg_lex_init(&p->lx, s, len);
	advance(p);
	if (p->tok.type == VG_TOK_EOF) {
		perr(p, p->tok.pos, "no expression found in input");
	} else if ((n = parse_expr(p, 0)) != NULL && p->tok.type != VG_TOK_EOF) {
		unexpected(p, "");
		vg_promql_node_free(n);
		n = NULL;
	}
	vg_lex_release(&p->lx);
	if (n == NULL)
		return p->err ? p->err->code : VG_EINVAL;
	*out = n;
	return 0;
}

int vg_promql_parse(const char *s, size_t len, struct vg_promql_node **out, size_t *err_pos,
		    struct vg_err *err)
{
	struct vg_err local;
	struct parser p = { .err = err ? err : &local };
	int rc;

	vg_err_clear(p.err);
	rc = parse_text(&p, s, len, out);
	if (rc < 0 && rc != p.err->code)
		rc = p.err->code ? p.err->code : rc;
	if (err_pos)
		*err_pos = rc < 0 ? p.err_pos : 0;
	return rc;
}

int vg_promql_parse_selector(const char *s, size_t len, struct vg_selector *out, size_t *err_pos,
			     struct vg_err *err)
{
	struct vg_promql_node *n;
	int rc;

	out->n = 0;
	out->m = NULL;
	out->cap = 0;
	if ((rc = vg_promql_parse(s, len, &n, err_pos, err)) < 0)
		return rc;
	if (n->kind != VG_PROMQL_SELECTOR || n->offset_ms != 0 || n->at != VG_PROMQL_AT_NONE) {
		rc = vg_err_set(err, VG_EINVAL, "1:1: parse error: expected a series selector, got %s%s",
				n->kind == VG_PROMQL_SELECTOR ? "a selector with a modifier" : "an expression of type ",
				n->kind == VG_PROMQL_SELECTOR ? "" : vg_promql_type_name(n->type));
		if (err_pos)
			*err_pos = 0;
		vg_promql_node_free(n);
		return rc;
	}
	*out = n->sel;
	memset(&n->sel, 0, sizeof(n->sel));
	vg_promql_node_free(n);
	return 0;
}
