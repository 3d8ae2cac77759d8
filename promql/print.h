/*
 * print.h: formatting a PromQL tree back to canonical text, as Prometheus's
 * String() methods do (what /api/v1/format_query answers): one space around
 * binary operators, "sum by (job) (x)", matchers sorted and double-quoted,
 * durations in their largest units (90m is 1h30m), numbers in their
 * shortest exact form. Parentheses are printed where the tree has them, so
 * parsing the text gives back an equal tree.
 */
#ifndef VG_PROMQL_PRINT_H
#define VG_PROMQL_PRINT_H

#include <stdint.h>

#include "promql/ast.h"

struct vg_buf;

/* Appends the text of n to out; 0, or VG_ENOMEM. */
int vg_promql_print(const struct vg_promql_node *n, struct vg_buf *out);

/* Appends d as Prometheus writes a duration ("1h30m", "0s", "-5m"). */
void vg_promql_print_duration(struct vg_buf *out, int64_t ms);

/* Appends v as Go's strconv.FormatFloat(v, 'f', -1, 64), "+Inf", "NaN". */
void vg_promql_print_number(struct vg_buf *out, double v);

/*
 * Appends the line of s[0..len) that holds byte offset pos, indented by two
 * spaces, and under it a caret at pos's column:
 *     up{job=}
 *            ^
 * Control bytes show as '?', so the caret lines up; a tab stays a tab in
 * both lines. For a CLI or a rules checker to show where an error is.
 */
void vg_promql_print_caret(struct vg_buf *out, const char *s, size_t len, size_t pos);

#endif
