/*
 * postings.h: series selection on sorted id lists, shared by the head and
 * the block reader.
 *
 * A postings list is a set of series ids (uint32_t) held ascending, each
 * once. The set operations below keep that invariant; vg_postings_select
 * evaluates a selector against any label index that can say three things
 * (struct vg_label_index_ops): the values of a label name, the ids of one
 * name=value pair, and every id. The metric name is the label "__name__".
 *
 * Semantics are Prometheus's: a series without a label matches it as the
 * empty string. So a matcher that matches "" (l="", l!="x", l=~"x|",
 * l!~"x") selects every series except those whose value of l fails it, and
 * is applied by subtracting; one that does not match "" selects the union of
 * the postings of the values it matches, and is applied by intersecting. A
 * regex is run once per distinct value of its label, never per series.
 *
 * Thread safety: the functions keep no state; a selector's compiled
 * regexes carry match data, so one selector is used by one thread at a time
 * (common/selector.h). The index must not change during a call.
 */
#ifndef VG_POSTINGS_H
#define VG_POSTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "common/series.h"

struct vg_err;
struct vg_selector;

/* A growable list of ids. Lifecycle: VG_POSTINGS_INIT or vg_postings_init,
 * appends, vg_postings_release. ids[0..n) are the ids; cap the room. */
struct vg_postings {
	uint32_t *ids;
	size_t n, cap;
};

#define VG_POSTINGS_INIT { NULL, 0, 0 }

void vg_postings_init(struct vg_postings *p);
void vg_postings_release(struct vg_postings *p);
/* Room for extra more ids; 0, or VG_ENOMEM (the list is unchanged). */
int vg_postings_reserve(struct vg_postings *p, size_t extra);
/* Appends one id (the caller keeps the order); 0, or VG_ENOMEM. */
int vg_postings_push(struct vg_postings *p, uint32_t id);

/* In place: keeps in a the ids also in b; returns the new count. Binary
 * searches b when a is far smaller (gallops from the last hit). */
size_t vg_postings_intersect(uint32_t *a, size_t na, const uint32_t *b, size_t nb);
/* In place: keeps in a the ids not in b; returns the new count. */
size_t vg_postings_subtract(uint32_t *a, size_t na, const uint32_t *b, size_t nb);
/* Sets out to a ∪ b (out must not alias a or b); 0, or VG_ENOMEM. */
int vg_postings_union(const uint32_t *a, size_t na, const uint32_t *b, size_t nb,
		      struct vg_postings *out);
/* Whether ids[0..n) is strictly ascending. */
int vg_postings_is_sorted(const uint32_t *ids, size_t n);

/* Called by label_values for each value; ref is the index's own handle of
 * the pair (name, value), passed back to postings_ref. A non-zero return
 * stops the enumeration and is returned by it. The value is a view valid
 * for the whole vg_postings_select call. */
typedef int (*vg_label_value_fn)(void *arg, struct vg_str value, uint64_t ref);

/* What an index provides. Each returns 0 or a negative VG_E* code (which
 * vg_postings_select returns). Appends keep out ascending: an index appends
 * a list that is ascending in itself to an empty out or, in postings_ref
 * and postings, to wherever out ends (the caller merges). */
struct vg_label_index_ops {
	/* Every value of label name, each once, any order; none if the index
	 * has no such label. */
	int (*label_values)(void *index, struct vg_str name, vg_label_value_fn fn, void *arg);
	/* Appends the ids of the pair ref (from label_values), ascending. */
	int (*postings_ref)(void *index, uint64_t ref, struct vg_postings *out);
	/* Appends the ids of name=value, ascending; none if there is no such
	 * pair. */
	int (*postings)(void *index, struct vg_str name, struct vg_str value,
			struct vg_postings *out);
	/* Appends every id of the index, ascending. */
	int (*all)(void *index, struct vg_postings *out);
};

struct vg_label_index {
	const struct vg_label_index_ops *ops;
	void *index;
};

/*
 * Sets out (emptied first) to the ids of the series matching every matcher
 * of sel, ascending. A selector with no matchers selects every id.
 * VG_ENOMEM, or what an index callback returned; out is empty on failure.
 */
int vg_postings_select(const struct vg_label_index *ix, const struct vg_selector *sel,
		       struct vg_postings *out, struct vg_err *err);

#endif
