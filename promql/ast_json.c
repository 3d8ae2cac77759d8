/*
 * ast_json.c: a PromQL tree as Prometheus's /api/v1/parse_query writes it
 * (ast_json.h).
 *
 * Owns only the mapping of node kinds to that JSON; strings and number
 * digits come from common/json.h. Prometheus builds the objects as Go
 * maps, which encoding/json writes with their keys sorted: each object
 * below lists its keys in that order. Where Prometheus's parser keeps a
 * selector's metric-name matcher after the braces' matchers, this
 * parser puts it first, so it is written last here.
 */
#include "promql/ast_json.h"
#include "promql/functions.h"
#include "common/buf.h"
#include "common/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

static const char *type_name(enum vg_promql_type t)
{
	switch (t) {
	case VG_PROMQL_SCALAR: return "scalar";
	case VG_PROMQL_VECTOR: return "vector";
	case VG_PROMQL_MATRIX: return "matrix";
	case VG_PROMQL_STRING: return "string";
	}
	return "none";
}

/* strconv.FormatFloat(v, 'f', -1, 64): the shortest digits, never an
 * exponent ("1e-07" is "0.0000001"). */
static void number_text(double v, struct vg_buf *out)
{
	char txt[48], digits[32];
	const char *e, *p = txt;
	size_t n = 0;
	long exp10;

	vg_fmt_value(v, txt, sizeof(txt));
	if ((e = strchr(txt, 'e')) == NULL) {
		vg_buf_puts(out, txt);
		return;
	}
	if (*p == '-') {
		vg_buf_putc(out, '-');
		p++;
	}
	for (; p < e && n < sizeof(digits); p++)
		if (*p != '.')
			digits[n++] = *p;
	exp10 = strtol(e + 1, NULL, 10); /* digits[0] is the digit of 10^exp10 */
	if (exp10 < 0) {
		vg_buf_puts(out, "0.");
		for (long i = -1; i > exp10; i--)
			vg_buf_putc(out, '0');
		vg_buf_append(out, digits, n);
		return;
	}
	for (long i = 0; i <= exp10; i++)
		vg_buf_putc(out, (size_t)i < n ? digits[i] : '0');
	if ((long)n > exp10 + 1) {
		vg_buf_putc(out, '.');
		vg_buf_append(out, digits + exp10 + 1, n - (size_t)exp10 - 1);
	}
}

static void string_list(const struct vg_promql_labels *l, struct vg_buf *out)
{
	vg_buf_putc(out, '[');
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			vg_buf_putc(out, ',');
		vg_json_cstr(out, l->names[i]);
	}
	vg_buf_putc(out, ']');
}

static void matcher(const struct vg_matcher *m, struct vg_buf *out)
{
	static const char *const ops[] = { "=", "!=", "=~", "!~" };

	vg_buf_puts(out, "{\"name\":");
	vg_json_cstr(out, m->name);
	vg_buf_puts(out, ",\"type\":");
	vg_json_cstr(out, ops[m->op]);
	vg_buf_puts(out, ",\"value\":");
	vg_json_str(out, m->value, m->value_len);
	vg_buf_putc(out, '}');
}

/* "matchers":[...],"name":"x","offset":ms of a selector node. */
static void selector_fields(const struct vg_promql_node *s, struct vg_buf *out)
{
	bool is_first = true;

	vg_buf_puts(out, "\"matchers\":[");
	for (size_t i = 0; i < s->sel.n; i++) {
		if (s->name != NULL && i == 0)
			continue; /* the name's matcher, written last */
		if (!is_first)
			vg_buf_putc(out, ',');
		is_first = false;
		matcher(&s->sel.m[i], out);
	}
	if (s->name != NULL && s->sel.n > 0) {
		if (!is_first)
			vg_buf_putc(out, ',');
		matcher(&s->sel.m[0], out);
	}
	vg_buf_puts(out, "],\"name\":");
	vg_json_cstr(out, s->name ? s->name : "");
}

/* "startOrEnd":...,<extra>"timestamp":... of an @ modifier. */
static void at_fields(enum vg_promql_at at, int64_t at_ms, const char *between, struct vg_buf *out)
{
	vg_buf_puts(out, ",\"startOrEnd\":");
	vg_buf_puts(out, at == VG_PROMQL_AT_START ? "\"start\"" : at == VG_PROMQL_AT_END ? "\"end\"" : "null");
	vg_buf_puts(out, between);
	if (at == VG_PROMQL_AT_TIME)
		vg_buf_printf(out, ",\"timestamp\":%" PRId64, at_ms);
	else
		vg_buf_puts(out, ",\"timestamp\":null");
}

void vg_promql_to_json(const struct vg_promql_node *n, struct vg_buf *out)
{
	const struct vg_promql_node *vs;

	if (n == NULL) {
		vg_buf_puts(out, "null");
		return;
	}
	switch (n->kind) {
	case VG_PROMQL_AGGREGATE:
		vg_buf_puts(out, "{\"expr\":");
		vg_promql_to_json(n->expr, out);
		vg_buf_puts(out, ",\"grouping\":");
		string_list(&n->grouping, out);
		vg_buf_puts(out, ",\"op\":");
		vg_json_cstr(out, vg_promql_agg_name(n->agg));
		vg_buf_puts(out, ",\"param\":");
		vg_promql_to_json(n->param, out);
		vg_buf_printf(out, ",\"type\":\"aggregation\",\"without\":%s}", n->is_without ? "true" : "false");
		return;
	case VG_PROMQL_BINARY:
		vg_buf_printf(out, "{\"bool\":%s,\"lhs\":", n->is_bool ? "true" : "false");
		vg_promql_to_json(n->lhs, out);
		vg_buf_puts(out, ",\"matching\":");
		if (n->lhs->type == VG_PROMQL_VECTOR && n->rhs->type == VG_PROMQL_VECTOR) {
			static const char *const cards[] = { "one-to-one", "many-to-one", "one-to-many",
							     "many-to-many" };
			vg_buf_printf(out, "{\"card\":\"%s\",\"include\":", cards[n->matching.card]);
			string_list(&n->matching.include, out);
			vg_buf_puts(out, ",\"labels\":");
			string_list(&n->matching.labels, out);
			vg_buf_printf(out, ",\"on\":%s}", n->matching.is_on ? "true" : "false");
		} else {
			vg_buf_puts(out, "null");
		}
		vg_buf_puts(out, ",\"op\":");
		vg_json_cstr(out, vg_promql_binop_name(n->op));
		vg_buf_puts(out, ",\"rhs\":");
		vg_promql_to_json(n->rhs, out);
		vg_buf_puts(out, ",\"type\":\"binaryExpr\"}");
		return;
	case VG_PROMQL_CALL:
		vg_buf_puts(out, "{\"args\":[");
		for (size_t i = 0; i < n->n_args; i++) {
			if (i)
				vg_buf_putc(out, ',');
			vg_promql_to_json(n->args[i], out);
		}
		vg_buf_puts(out, "],\"func\":{\"argTypes\":[");
		for (int i = 0; i < n->func->n_args; i++)
			vg_buf_printf(out, "%s\"%s\"", i ? "," : "", type_name(n->func->args[i]));
		vg_buf_puts(out, "],\"name\":");
		vg_json_cstr(out, n->func->name);
		vg_buf_printf(out, ",\"returnType\":\"%s\",\"variadic\":%d},\"type\":\"call\"}",
			      type_name(n->func->ret), n->func->variadic);
		return;
	case VG_PROMQL_MATRIX_SEL:
		vs = n->expr;
		vg_buf_putc(out, '{');
		selector_fields(vs, out);
		vg_buf_printf(out, ",\"offset\":%" PRId64 ",\"range\":%" PRId64, vs->offset_ms, n->range_ms);
		at_fields(vs->at, vs->at_ms, "", out);
		vg_buf_puts(out, ",\"type\":\"matrixSelector\"}");
		return;
	case VG_PROMQL_SUBQUERY: {
		char step[48];
		vg_buf_puts(out, "{\"expr\":");
		vg_promql_to_json(n->expr, out);
		vg_buf_printf(out, ",\"offset\":%" PRId64 ",\"range\":%" PRId64, n->offset_ms, n->range_ms);
		snprintf(step, sizeof(step), ",\"step\":%" PRId64, n->step_ms);
		at_fields(n->at, n->at_ms, step, out);
		vg_buf_puts(out, ",\"type\":\"subquery\"}");
		return;
	}
	case VG_PROMQL_NUMBER:
		vg_buf_puts(out, "{\"type\":\"numberLiteral\",\"val\":\"");
		number_text(n->number, out);
		vg_buf_puts(out, "\"}");
		return;
	case VG_PROMQL_PAREN:
		vg_buf_puts(out, "{\"expr\":");
		vg_promql_to_json(n->expr, out);
		vg_buf_puts(out, ",\"type\":\"parenExpr\"}");
		return;
	case VG_PROMQL_STR:
		vg_buf_puts(out, "{\"type\":\"stringLiteral\",\"val\":");
		vg_json_str(out, n->str, n->str_len);
		vg_buf_putc(out, '}');
		return;
	case VG_PROMQL_UNARY:
		vg_buf_puts(out, "{\"expr\":");
		vg_promql_to_json(n->expr, out);
		vg_buf_printf(out, ",\"op\":\"%s\",\"type\":\"unaryExpr\"}", n->unary_op == VG_PROMQL_SUB ? "-" : "+");
		return;
	case VG_PROMQL_SELECTOR:
		vg_buf_putc(out, '{');
		selector_fields(n, out);
		vg_buf_printf(out, ",\"offset\":%" PRId64, n->offset_ms);
		at_fields(n->at, n->at_ms, "", out);
		vg_buf_puts(out, ",\"type\":\"vectorSelector\"}");
		return;
	}
	vg_buf_puts(out, "null");
}
