/*
 * span.h: the series of one selector over one span of time, selected and
 * read once, then cut into windows: what the steps of a range query read
 * instead of selecting the storage again at every step.
 *
 * Owns the spans of one evaluation (struct vg_spans) and what they hold:
 * every matching series' raw samples (staleness markers kept, or dropped
 * for a range selector, which never yields them) or rollup buckets
 * (vg_storage_set_read_buckets) over the span, and its key without the
 * metric name. Reads the storage through storage.h only.
 *
 * Invariants: a span is loaded once per (node, resolution) and its
 * data never changes after (only the cursor of vg_span_window moves);
 * series with nothing in the span are left out; series are in the one
 * series order (the selection's).
 */
#ifndef VG_SPAN_H
#define VG_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "receiver/storage/rollup.h"
#include "receiver/storage/samples.h"

struct vg_err;
struct vg_selector;
struct vg_storage;

struct vg_span_series {
	uint8_t *key; /* owned */
	size_t key_len;
	uint8_t *key_noname; /* the key without the metric name, owned */
	size_t noname_len;
	struct vg_samples smp;  /* raw spans */
	struct vg_buckets b;    /* rollup spans */
	size_t cur_i, cur_j;    /* vg_span_window's last answer, for the next */
	int64_t cur_from, cur_to;
};

struct vg_span {
	const void *node; /* what asked for it: a selector node of the tree */
	int64_t res_ms;   /* VG_STORAGE_RES_* */
	int64_t lo, hi;   /* samples in [lo, hi]; buckets that overlap it */
	struct vg_span_series *s;
	size_t n;
};

/* The spans of one evaluation; zero it to init. */
struct vg_spans {
	struct vg_span **v; /* each its own allocation: pointers to it stay valid */
	size_t n, cap;
};

/* The span of node at res_ms loaded before, or NULL. */
struct vg_span *vg_span_find(struct vg_spans *sp, const void *node, int64_t res_ms);

/*
 * Selects with sel at res_ms over [lo, hi], reads every series and adds
 * the span to sp (as node's at res_ms); *out stays valid until
 * vg_spans_release. VG_ENOMEM or a storage error, with its message.
 */
int vg_span_load(struct vg_spans *sp, struct vg_storage *st, const void *node,
		 const struct vg_selector *sel, int64_t lo, int64_t hi, int64_t res_ms, bool drop_stale,
		 struct vg_span **out, struct vg_err *err);

/* The samples of s with timestamps in (from, to]: indexes [*i, *j). A
 * window after the one before slides on from it (the steps of a range
 * query); any other is searched. */
void vg_span_window(struct vg_span_series *s, int64_t from, int64_t to, size_t *i, size_t *j);

void vg_spans_release(struct vg_spans *sp);

/* Drops the staleness markers of smp, in place: what a range selector
 * reads (it never yields them). */
void vg_span_drop_stale(struct vg_samples *smp);

#endif
