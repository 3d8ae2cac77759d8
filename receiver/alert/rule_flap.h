/*
 * rule_flap.h: resolve_threshold, the shorthand of flap control's resolve
 * condition (man/vigil-rules.5 "Flap control"): for an alerting rule whose
 * expr is a threshold, `<vector> OP <number>` or `<number> OP <vector>`
 * with OP one of > >= < <= (no bool; parentheses around the whole are
 * fine), resolve_threshold: R stands for resolve_expr: the same
 * expression with R in place of the number. R must be looser than the
 * number (below it for an alert on high values, above it for one on low
 * values), or the resolve condition would never hold anything.
 *
 * Owns nothing beyond what it returns; rulefile.c calls it at load.
 */
#ifndef VG_RULE_FLAP_H
#define VG_RULE_FLAP_H

struct vg_err;
struct vg_promql_node;

/* The resolve condition of expr (its text, as parsed) at threshold: a new
 * tree in *ast and its canonical text in *text (promql/print.h), caller
 * frees both (vg_promql_node_free, free). VG_EINVAL with the reason when
 * expr is not a threshold or threshold is not looser, VG_ENOMEM. */
int vg_rule_resolve_threshold(const char *expr, double threshold, struct vg_promql_node **ast, char **text,
			      struct vg_err *err);

#endif
