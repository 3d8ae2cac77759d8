/*
 * rule_flap.c: resolve_threshold (rule_flap.h).
 *
 * The expression is parsed again into a tree of its own, whose number is
 * replaced; the unary minus of a negative threshold is already folded
 * into the number by the parser, so a threshold is always one NUMBER
 * node.
 */
#include "receiver/alert/rule_flap.h"

#include "common/buf.h"
#include "common/err.h"
#include "promql/ast.h"
#include "promql/parse.h"
#include "promql/print.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int vg_rule_resolve_threshold(const char *expr, double threshold, struct vg_promql_node **ast, char **text,
			      struct vg_err *err)
{
	struct vg_promql_node *root = NULL, *n, *num;
	struct vg_buf b = VG_BUF_INIT;
	bool is_num_right, is_on_high;
	int rc;

	*ast = NULL;
	*text = NULL;
	rc = vg_promql_parse(expr, strlen(expr), &root, NULL, err);
	if (rc != 0)
		return rc;
	for (n = root; n->kind == VG_PROMQL_PAREN; n = n->expr)
		;
	if (n->kind != VG_PROMQL_BINARY || n->is_bool ||
	    (n->op != VG_PROMQL_GTR && n->op != VG_PROMQL_GTE && n->op != VG_PROMQL_LSS && n->op != VG_PROMQL_LTE) ||
	    (n->lhs->kind == VG_PROMQL_NUMBER) == (n->rhs->kind == VG_PROMQL_NUMBER)) {
		rc = vg_err_set(err, VG_EINVAL,
				"needs an expr that is a threshold: a vector compared with >, >=, < or <= to a number");
		goto fail;
	}
	is_num_right = n->rhs->kind == VG_PROMQL_NUMBER;
	num = is_num_right ? n->rhs : n->lhs;
	/* x > T and T < x alert on high values. */
	is_on_high = (n->op == VG_PROMQL_GTR || n->op == VG_PROMQL_GTE) == is_num_right;
	if (is_on_high ? !(threshold < num->number) : !(threshold > num->number)) {
		vg_promql_print_number(&b, num->number);
		rc = vg_err_set(err, VG_EINVAL, "must be %s the threshold of expr (%s), or it never holds an alert",
				is_on_high ? "below" : "above", vg_buf_cstr(&b));
		goto fail;
	}
	num->number = threshold;
	vg_buf_reset(&b);
	if (vg_promql_print(root, &b) != 0 || vg_buf_failed(&b)) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto fail;
	}
	*text = vg_buf_detach(&b, NULL);
	*ast = root;
	return 0;
fail:
	vg_buf_release(&b);
	vg_promql_node_free(root);
	return rc;
}
