/*
 * ast.c: freeing, comparing and naming the parts of a PromQL tree (ast.h).
 * Recursion is bounded by the tree's depth (VG_PROMQL_MAX_DEPTH).
 */
#include "promql/ast.h"
#include "promql/functions.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

static void labels_release(struct vg_promql_labels *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	l->names = NULL;
	l->n = 0;
}

void vg_promql_node_free(struct vg_promql_node *n)
{
	if (n == NULL)
		return;
	free(n->str);
	free(n->name);
	vg_selector_release(&n->sel);
	vg_promql_node_free(n->expr);
	for (size_t i = 0; i < n->n_args; i++)
		vg_promql_node_free(n->args[i]);
	free(n->args);
	vg_promql_node_free(n->param);
	labels_release(&n->grouping);
	vg_promql_node_free(n->lhs);
	vg_promql_node_free(n->rhs);
	labels_release(&n->matching.labels);
	labels_release(&n->matching.include);
	free(n);
}

static bool labels_equal(const struct vg_promql_labels *a, const struct vg_promql_labels *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->names[i], b->names[i]) != 0)
			return false;
	return true;
}

static bool matcher_equal(const struct vg_matcher *a, const struct vg_matcher *b)
{
	return a->op == b->op && strcmp(a->name, b->name) == 0 && a->value_len == b->value_len &&
	       memcmp(a->value, b->value, a->value_len) == 0;
}

static bool selector_equal(const struct vg_selector *a, const struct vg_selector *b)
{
	bool used[VG_SELECTOR_MAX_MATCHERS] = { false };

	if (a->n != b->n || a->n > VG_SELECTOR_MAX_MATCHERS)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		size_t j;
		for (j = 0; j < b->n; j++)
			if (!used[j] && matcher_equal(&a->m[i], &b->m[j]))
				break;
		if (j == b->n)
			return false;
		used[j] = true;
	}
	return true;
}

/* Bit for bit (so -0 is not 0), except that every NaN is NaN: its sign
 * and payload do not print. */
static bool number_equal(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return memcmp(&a, &b, sizeof(a)) == 0;
}

bool vg_promql_node_equal(const struct vg_promql_node *a, const struct vg_promql_node *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->kind != b->kind || a->type != b->type)
		return false;
	switch (a->kind) {
	case VG_PROMQL_NUMBER:
		return number_equal(a->number, b->number);
	case VG_PROMQL_STR:
		return a->str_len == b->str_len && memcmp(a->str, b->str, a->str_len) == 0;
	case VG_PROMQL_SELECTOR:
		if ((a->name == NULL) != (b->name == NULL) || (a->name && strcmp(a->name, b->name) != 0))
			return false;
		return selector_equal(&a->sel, &b->sel) && a->offset_ms == b->offset_ms &&
		       a->at == b->at && a->at_ms == b->at_ms;
	case VG_PROMQL_MATRIX_SEL:
		return a->range_ms == b->range_ms && vg_promql_node_equal(a->expr, b->expr);
	case VG_PROMQL_SUBQUERY:
		return a->range_ms == b->range_ms && a->step_ms == b->step_ms &&
		       a->offset_ms == b->offset_ms && a->at == b->at && a->at_ms == b->at_ms &&
		       vg_promql_node_equal(a->expr, b->expr);
	case VG_PROMQL_CALL:
		if (a->func != b->func || a->n_args != b->n_args)
			return false;
		for (size_t i = 0; i < a->n_args; i++)
			if (!vg_promql_node_equal(a->args[i], b->args[i]))
				return false;
		return true;
	case VG_PROMQL_AGGREGATE:
		return a->agg == b->agg && a->is_without == b->is_without &&
		       labels_equal(&a->grouping, &b->grouping) &&
		       vg_promql_node_equal(a->param, b->param) && vg_promql_node_equal(a->expr, b->expr);
	case VG_PROMQL_BINARY:
		return a->op == b->op && a->is_bool == b->is_bool &&
		       a->matching.card == b->matching.card && a->matching.is_on == b->matching.is_on &&
		       labels_equal(&a->matching.labels, &b->matching.labels) &&
		       labels_equal(&a->matching.include, &b->matching.include) &&
		       vg_promql_node_equal(a->lhs, b->lhs) && vg_promql_node_equal(a->rhs, b->rhs);
	case VG_PROMQL_UNARY:
		return a->unary_op == b->unary_op && vg_promql_node_equal(a->expr, b->expr);
	case VG_PROMQL_PAREN:
		return vg_promql_node_equal(a->expr, b->expr);
	}
	return false;
}

const char *vg_promql_type_name(enum vg_promql_type t)
{
	switch (t) {
	case VG_PROMQL_SCALAR: return "scalar";
	case VG_PROMQL_VECTOR: return "instant vector";
	case VG_PROMQL_MATRIX: return "range vector";
	case VG_PROMQL_STRING: return "string";
	}
	return "unknown";
}

const char *vg_promql_binop_name(enum vg_promql_binop op)
{
	static const char *const names[] = {
		"+", "-", "*", "/", "%", "^", "atan2", "==", "!=", ">", "<", ">=", "<=",
		"and", "or", "unless",
	};
	return (size_t)op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

const char *vg_promql_agg_name(enum vg_promql_agg agg)
{
	static const char *const names[] = {
		"sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "topk",
		"bottomk", "count_values", "quantile", "limitk", "limit_ratio",
	};
	return (size_t)agg < sizeof(names) / sizeof(names[0]) ? names[agg] : "?";
}

bool vg_promql_binop_is_comparison(enum vg_promql_binop op)
{
	return op >= VG_PROMQL_EQLC && op <= VG_PROMQL_LTE;
}

bool vg_promql_binop_is_set(enum vg_promql_binop op)
{
	return op == VG_PROMQL_AND || op == VG_PROMQL_OR || op == VG_PROMQL_UNLESS;
}
