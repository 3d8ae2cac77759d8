/*
 * ast_json.h: a PromQL tree as JSON, in the shape Prometheus's
 * /api/v1/parse_query answers (web/api/v1/translate_ast.go): one object a
 * node, "type" naming its kind (aggregation, binaryExpr, call,
 * matrixSelector, subquery, numberLiteral, parenExpr, stringLiteral,
 * unaryExpr, vectorSelector), keys in name order as Go writes a map,
 * durations and @ times in milliseconds.
 */
#ifndef VG_PROMQL_AST_JSON_H
#define VG_PROMQL_AST_JSON_H

#include "promql/ast.h"

struct vg_buf;

/* Appends n's JSON to out (vg_buf_failed(out) on want of memory). The
 * tree's depth is bounded (VG_PROMQL_MAX_DEPTH), so the recursion is. */
void vg_promql_to_json(const struct vg_promql_node *n, struct vg_buf *out);

#endif
