/*
 * parse.h: parsing PromQL text into a tree (ast.h), as Prometheus 3 parses
 * it: the grammar, the precedence and associativity of operators, and the
 * type checks Prometheus makes before evaluating anything.
 *
 * Errors read as Prometheus's, "L:C: parse error: <message>", with the
 * 1-based line and byte column of the fault; the byte offset itself is
 * also given back, for a caret under the column.
 *
 * Limits: VG_PROMQL_MAX_TEXT bytes of text; VG_PROMQL_MAX_DEPTH levels of
 * nesting (deeper input is an error, never a deep recursion).
 */
#ifndef VG_PROMQL_PARSE_H
#define VG_PROMQL_PARSE_H

#include <stddef.h>

#include "promql/ast.h"

struct vg_err;

#define VG_PROMQL_MAX_TEXT (64 * 1024)

/*
 * Parses s[0..len) into *out (a new tree, freed with vg_promql_node_free).
 * On error returns VG_EINVAL (or VG_ENOMEM, VG_ELIMIT) with the message in
 * err and, if err_pos is not NULL, the byte offset of the fault in it.
 */
int vg_promql_parse(const char *s, size_t len, struct vg_promql_node **out, size_t *err_pos,
		    struct vg_err *err);

/*
 * Parses s[0..len) that must be a series selector, name{l="v",...}, without
 * offset or @ (what /api/v1/series takes in match[]), into out (release
 * with vg_selector_release). Errors as vg_promql_parse.
 */
int vg_promql_parse_selector(const char *s, size_t len, struct vg_selector *out, size_t *err_pos,
			     struct vg_err *err);

#endif
