/*
 * print.c: canonical PromQL text of a tree (print.h). Recursion is bounded
 * by the tree's depth (ast.h).
 */
#include "promql/print.h"
#include "promql/ast.h"
#include "promql/functions.h"
#include "promql/lex.h"
#include "common/buf.h"
#include "common/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

void vg_promql_print_duration(struct vg_buf *out, int64_t ms)
{
	static const struct {
		const char *unit;
		int64_t ms;
		bool is_exact; /* years and weeks only when nothing is left */
	} units[] = {
		{ "y", 365LL * 24 * 3600 * 1000, true }, { "w", 7LL * 24 * 3600 * 1000, true },
		{ "d", 24LL * 3600 * 1000, false }, { "h", 3600LL * 1000, false },
		{ "m", 60LL * 1000, false }, { "s", 1000, false }, { "ms", 1, false },
	};
	uint64_t left;

	if (ms == 0) {
		vg_buf_puts(out, "0s");
		return;
	}
	if (ms < 0) {
		vg_buf_putc(out, '-');
		left = (uint64_t)0 - (uint64_t)ms;
	} else {
		left = (uint64_t)ms;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t u = (uint64_t)units[i].ms, v;
		if (units[i].is_exact && left % u != 0)
			continue;
		if ((v = left / u) > 0) {
			vg_buf_printf(out, "%llu%s", (unsigned long long)v, units[i].unit);
			left -= v * u;
		}
	}
}

void vg_promql_print_number(struct vg_buf *out, double v)
{
	char e[64], digits[32];
	int prec, exp, nd = 0;
	const char *p;

	if (isnan(v)) {
		vg_buf_puts(out, "NaN");
		return;
	}
	if (isinf(v)) {
		vg_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* The shortest digits that read back as v. */
	for (prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, v);
		if (strtod(e, NULL) == v)
			break;
	}
	p = e;
	if (*p == '-') {
		vg_buf_putc(out, '-');
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (*p != '.' && nd < (int)sizeof(digits) - 1)
			digits[nd++] = *p;
	digits[nd] = '\0';
	exp = *p == 'e' ? (int)strtol(p + 1, NULL, 10) : 0;
	while (nd > 1 && digits[nd - 1] == '0')
		digits[--nd] = '\0';
	if (v == 0) {
		vg_buf_putc(out, '0');
		return;
	}
	if (exp >= 0) {
		for (int i = 0; i <= exp; i++)
			vg_buf_putc(out, i < nd ? digits[i] : '0');
		if (nd > exp + 1) {
			vg_buf_putc(out, '.');
			vg_buf_append(out, digits + exp + 1, (size_t)(nd - exp - 1));
		}
	} else {
		vg_buf_puts(out, "0.");
		for (int i = 0; i < -exp - 1; i++)
			vg_buf_putc(out, '0');
		vg_buf_append(out, digits, (size_t)nd);
	}
}

static void print_labels(struct vg_buf *out, const struct vg_promql_labels *l)
{
	vg_buf_putc(out, '(');
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			vg_buf_puts(out, ", ");
		vg_buf_puts(out, l->names[i]);
	}
	vg_buf_putc(out, ')');
}

static void print_at_offset(struct vg_buf *out, enum vg_promql_at at, int64_t at_ms, int64_t offset_ms)
{
	switch (at) {
	case VG_PROMQL_AT_NONE:
		break;
	case VG_PROMQL_AT_TIME: {
		uint64_t a = at_ms < 0 ? (uint64_t)0 - (uint64_t)at_ms : (uint64_t)at_ms;
		vg_buf_printf(out, " @ %s%llu.%03llu", at_ms < 0 ? "-" : "", (unsigned long long)(a / 1000),
			      (unsigned long long)(a % 1000));
		break;
	}
	case VG_PROMQL_AT_START:
		vg_buf_puts(out, " @ start()");
		break;
	case VG_PROMQL_AT_END:
		vg_buf_puts(out, " @ end()");
		break;
	}
	if (offset_ms != 0) {
		vg_buf_puts(out, " offset ");
		vg_promql_print_duration(out, offset_ms);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_selector(struct vg_buf *out, const struct vg_promql_node *n)
{
	static const char *const ops[] = { "=", "!=", "=~", "!~" };
	char *strs[VG_SELECTOR_MAX_MATCHERS];
	size_t k = 0;

	if (n->name)
		vg_buf_puts(out, n->name);
	for (size_t i = 0; i < n->sel.n && k < VG_SELECTOR_MAX_MATCHERS; i++) {
		const struct vg_matcher *m = &n->sel.m[i];
		struct vg_buf b = VG_BUF_INIT;
		if (n->name && m->op == VG_MATCH_EQ && strcmp(m->name, "__name__") == 0 &&
		    strcmp(m->value, n->name) == 0 && m->value_len == strlen(n->name))
			continue; /* the name written before the braces */
		vg_buf_printf(&b, "%s%s", m->name, ops[m->op]);
		vg_lex_quote(&b, m->value, m->value_len);
		if (vg_buf_failed(&b)) {
			out->is_failed = true;
			vg_buf_release(&b);
			break;
		}
		strs[k++] = vg_buf_detach(&b, NULL);
	}
	if (k > 0) {
		qsort(strs, k, sizeof(strs[0]), cmp_str);
		vg_buf_putc(out, '{');
		for (size_t i = 0; i < k; i++) {
			if (i)
				vg_buf_putc(out, ',');
			vg_buf_puts(out, strs[i]);
			free(strs[i]);
		}
		vg_buf_putc(out, '}');
	}
}

static void print_node(const struct vg_promql_node *n, struct vg_buf *out)
{
	switch (n->kind) {
	case VG_PROMQL_NUMBER:
		vg_promql_print_number(out, n->number);
		break;
	case VG_PROMQL_STR:
		vg_lex_quote(out, n->str, n->str_len);
		break;
	case VG_PROMQL_SELECTOR:
		print_selector(out, n);
		print_at_offset(out, n->at, n->at_ms, n->offset_ms);
		break;
	case VG_PROMQL_MATRIX_SEL:
		print_selector(out, n->expr);
		vg_buf_putc(out, '[');
		vg_promql_print_duration(out, n->range_ms);
		vg_buf_putc(out, ']');
		print_at_offset(out, n->expr->at, n->expr->at_ms, n->expr->offset_ms);
		break;
	case VG_PROMQL_SUBQUERY:
		print_node(n->expr, out);
		vg_buf_putc(out, '[');
		vg_promql_print_duration(out, n->range_ms);
		vg_buf_putc(out, ':');
		if (n->step_ms)
			vg_promql_print_duration(out, n->step_ms);
		vg_buf_putc(out, ']');
		print_at_offset(out, n->at, n->at_ms, n->offset_ms);
		break;
	case VG_PROMQL_CALL:
		vg_buf_printf(out, "%s(", n->func->name);
		for (size_t i = 0; i < n->n_args; i++) {
			if (i)
				vg_buf_puts(out, ", ");
			print_node(n->args[i], out);
		}
		vg_buf_putc(out, ')');
		break;
	case VG_PROMQL_AGGREGATE:
		vg_buf_puts(out, vg_promql_agg_name(n->agg));
		if (n->is_without || n->grouping.n > 0) {
			vg_buf_puts(out, n->is_without ? " without " : " by ");
			print_labels(out, &n->grouping);
			vg_buf_putc(out, ' ');
		}
		vg_buf_putc(out, '(');
		if (n->param) {
			print_node(n->param, out);
			vg_buf_puts(out, ", ");
		}
		print_node(n->expr, out);
		vg_buf_putc(out, ')');
		break;
	case VG_PROMQL_BINARY: {
		const struct vg_promql_matching *m = &n->matching;
		/* "+Inf ^ x" reads back as +(Inf ^ x), a unary over the power:
		 * the left operand of ^ is written without its sign. (A negative
		 * literal cannot stand there: "-2 ^ x" parses as -(2 ^ x).) */
		if (n->op == VG_PROMQL_POW && n->lhs->kind == VG_PROMQL_NUMBER && isinf(n->lhs->number) &&
		    n->lhs->number > 0)
			vg_buf_puts(out, "Inf");
		else
			print_node(n->lhs, out);
		vg_buf_printf(out, " %s", vg_promql_binop_name(n->op));
		if (n->is_bool)
			vg_buf_puts(out, " bool");
		if (m->is_on || m->labels.n > 0 || m->card == VG_PROMQL_MANY_TO_ONE ||
		    m->card == VG_PROMQL_ONE_TO_MANY) {
			vg_buf_puts(out, m->is_on ? " on " : " ignoring ");
			print_labels(out, &m->labels);
			if (m->card == VG_PROMQL_MANY_TO_ONE || m->card == VG_PROMQL_ONE_TO_MANY) {
				vg_buf_puts(out, m->card == VG_PROMQL_MANY_TO_ONE ? " group_left " : " group_right ");
				print_labels(out, &m->include);
			}
		}
		vg_buf_putc(out, ' ');
		print_node(n->rhs, out);
		break;
	}
	case VG_PROMQL_UNARY:
		vg_buf_putc(out, n->unary_op == VG_PROMQL_SUB ? '-' : '+');
		print_node(n->expr, out);
		break;
	case VG_PROMQL_PAREN:
		vg_buf_putc(out, '(');
		print_node(n->expr, out);
		vg_buf_putc(out, ')');
		break;
	}
}

int vg_promql_print(const struct vg_promql_node *n, struct vg_buf *out)
{
	print_node(n, out);
	return vg_buf_failed(out) ? VG_ENOMEM : 0;
}

void vg_promql_print_caret(struct vg_buf *out, const char *s, size_t len, size_t pos)
{
	size_t start, end;

	if (pos > len)
		pos = len;
	start = pos;
	while (start > 0 && s[start - 1] != '\n')
		start--;
	end = pos;
	while (end < len && s[end] != '\n')
		end++;
	vg_buf_puts(out, "  ");
	for (size_t i = start; i < end; i++) {
		unsigned char c = (unsigned char)s[i];
		vg_buf_putc(out, c == '\t' || c >= 0x20 ? (char)c : '?');
	}
	vg_buf_puts(out, "\n  ");
	for (size_t i = start; i < pos; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c & 0xC0) == 0x80)
			continue; /* a UTF-8 continuation byte: same column */
		vg_buf_putc(out, c == '\t' ? '\t' : ' ');
	}
	vg_buf_puts(out, "^\n");
}
