/*
 * eval.c: the PromQL evaluator (eval.h).
 *
 * Owns evaluation: selection windows, operators, vector matching,
 * aggregation and the functions below; does not own parsing (promql/) nor
 * storage (read through storage.h only) nor the HTTP encoding.
 *
 * Values between nodes are scalars, strings, instant vectors (one value
 * per label set, the label set as a series key whose name is empty once
 * the metric name is dropped) and range vectors (struct vg_query_result).
 * Matching and grouping sort signatures rather than hash them: each
 * operation is O(n log n) in its input and needs no table to size.
 *
 * Invariants: recursion follows the tree, whose depth the parser bounds;
 * every value is freed by its consumer; an evaluation error frees all.
 */
#include "receiver/query/eval.h"
#include "receiver/query/planner.h"
#include "receiver/query/query.h"
#include "receiver/query/span.h"
#include "receiver/storage/storage.h"
#include "promql/ast.h"
#include "promql/functions.h"
#include "promql/print.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/regex.h"
#include "common/selector.h"
#include "common/series.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <xxhash.h>

#include "common/banned.h"

struct sample {
	uint8_t *key; /* owned */
	size_t key_len;
	double v;
	int64_t ts_ms; /* of the stored sample, for timestamp(); NO_TS: computed */
};

#define NO_TS INT64_MIN

struct vec {
	struct sample *s;
	size_t n, cap;
};

struct value {
	enum vg_promql_type type;
	double scalar;
	const char *str; /* borrowed from the tree */
	size_t str_len;
	struct vec vec;
	bool is_ordered; /* vec is in the order to answer (sort, topk) */
	struct vg_query_result mat;
};

struct ev {
	struct vg_storage *st;
	int64_t start_ms, end_ms, lookback_ms;
	struct vg_err *err;
	struct vg_samples smp;
	uint64_t n_read; /* samples read from storage so far (stats) */
	struct vg_query_limits *lim; /* NULL: none (query.h) */
	uint64_t span_samples;       /* held in spans, for the limits */
	/* Selection (span.h, planner.h): a range query reads each selector
	 * once for all its steps; the tiers' extents are loaded once. */
	bool is_range;
	struct vg_spans spans;
	bool has_tiers;
	struct vg_plan_tiers tiers;
	int64_t step_ms; /* of a range query */
	/* Aggregations of a range function computed for every step at once
	 * (fused_aggregate), and the scratch of that computation. */
	struct fused **fused;
	size_t n_fused;
	uint32_t *drops;
	size_t drops_cap;
};

/* A signature (or group key) and the index of the sample it belongs to. */
struct sig {
	struct vg_buf key;
	size_t idx;
};

static int unsupported(struct ev *e, const char *what)
{
	return vg_err_set(e->err, VG_EINVAL, "%s is not supported by this version of the engine", what);
}

static int oom(struct ev *e)
{
	return vg_err_set(e->err, VG_ENOMEM, "out of memory evaluating the query");
}

/* ---- vectors ------------------------------------------------------------- */

static void vec_release(struct vec *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->s[i].key);
	free(v->s);
	memset(v, 0, sizeof(*v));
}

static int vec_push(struct vec *v, const uint8_t *key, size_t key_len, double val)
{
	uint8_t *k;

	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		void *p = realloc(v->s, cap * sizeof(*v->s));
		if (p == NULL)
			return VG_ENOMEM;
		v->s = p;
		v->cap = cap;
	}
	if ((k = malloc(key_len ? key_len : 1)) == NULL)
		return VG_ENOMEM;
	if (key_len)
		memcpy(k, key, key_len);
	v->s[v->n++] = (struct sample){ k, key_len, val, NO_TS };
	return 0;
}

static void value_release(struct value *v)
{
	vec_release(&v->vec);
	vg_query_result_release(&v->mat);
}

/* ---- label sets -------------------------------------------------------- */

static bool in_list(const struct vg_promql_labels *l, struct vg_str name)
{
	for (size_t i = 0; i < l->n; i++)
		if (vg_str_eq_c(name, l->names[i]))
			return true;
	return false;
}

/* The key of key's label set reduced: with is_keep, only the labels in l
 * (the name only if "__name__" is in l); otherwise every label but those
 * in l, and without the name when drop_name. Into out (reset first). */
static int reduce_key(const uint8_t *key, size_t key_len, const struct vg_promql_labels *l,
		      bool is_keep, bool drop_name, struct vg_buf *out)
{
	static const struct vg_str name_label = { "__name__", 8 };
	struct vg_series s, r;

	vg_buf_reset(out);
	if (vg_series_from_key(key, key_len, &s) != 0)
		return VG_EINVAL;
	r.name = s.name;
	r.n_labels = 0;
	if (is_keep ? !in_list(l, name_label) : drop_name)
		r.name = (struct vg_str){ "", 0 };
	for (uint32_t i = 0; i < s.n_labels; i++)
		if (in_list(l, s.labels[i].name) == is_keep)
			r.labels[r.n_labels++] = s.labels[i];
	vg_series_key(&r, out);
	return vg_buf_failed(out) ? VG_ENOMEM : 0;
}

static int drop_name(const uint8_t *key, size_t key_len, struct vg_buf *out)
{
	static const struct vg_promql_labels none = { 0, NULL };

	return reduce_key(key, key_len, &none, false, true, out);
}

static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int sig_cmp(const void *x, const void *y)
{
	const struct sig *a = x, *b = y;
	int c = key_cmp(a->key.data, a->key.len, b->key.data, b->key.len);

	if (c != 0)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static void sigs_free(struct sig *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vg_buf_release(&s[i].key);
	free(s);
}

/* Signatures of every sample of v, sorted; with keep_name the metric name
 * stays in them. */
static int sigs_make_names(const struct vec *v, const struct vg_promql_labels *l, bool is_keep,
			   bool keep_name, struct sig **out)
{
	struct sig *s = calloc(v->n ? v->n : 1, sizeof(*s));
	int rc = 0;

	*out = NULL;
	if (s == NULL)
		return VG_ENOMEM;
	for (size_t i = 0; i < v->n && rc == 0; i++) {
		vg_buf_init(&s[i].key);
		s[i].idx = i;
		rc = reduce_key(v->s[i].key, v->s[i].key_len, l, is_keep, !keep_name, &s[i].key);
	}
	if (rc != 0) {
		sigs_free(s, v->n);
		return rc;
	}
	if (v->n > 1)
		qsort(s, v->n, sizeof(*s), sig_cmp);
	*out = s;
	return 0;
}

/* Signatures of every sample of v without the metric name, sorted. */
static int sigs_make(const struct vec *v, const struct vg_promql_labels *l, bool is_keep,
		     struct sig **out)
{
	return sigs_make_names(v, l, is_keep, false, out);
}

/* The full keys of every sample of v (names kept), sorted. */
static int sigs_make_keep_name(const struct vec *v, struct sig **out)
{
	struct sig *s = calloc(v->n ? v->n : 1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return VG_ENOMEM;
	for (size_t i = 0; i < v->n; i++) {
		vg_buf_init(&s[i].key);
		s[i].idx = i;
		vg_buf_append(&s[i].key, v->s[i].key, v->s[i].key_len);
		if (vg_buf_failed(&s[i].key)) {
			sigs_free(s, v->n);
			return VG_ENOMEM;
		}
	}
	if (v->n > 1)
		qsort(s, v->n, sizeof(*s), sig_cmp);
	*out = s;
	return 0;
}

/* The first of s[0..n) with key k, or n. */
static size_t sigs_find(const struct sig *s, size_t n, const uint8_t *k, size_t klen)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (key_cmp(s[mid].key.data, s[mid].key.len, k, klen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && key_cmp(s[lo].key.data, s[lo].key.len, k, klen) == 0 ? lo : n;
}

static int series_cmp_q(const void *x, const void *y)
{
	const struct vg_query_series *a = x, *b = y;

	return vg_series_key_cmp(a->key, a->key_len, b->key, b->key_len);
}

/* ---- duplicate label sets ------------------------------------------------- */

/* Whether keys a and b name different metrics (the name is the key's head,
 * up to the first 0xFF). */
static bool names_differ(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	const uint8_t *ea = memchr(a, 0xFF, alen), *eb = memchr(b, 0xFF, blen);
	size_t na = ea ? (size_t)(ea - a) : alen, nb = eb ? (size_t)(eb - b) : blen;

	return na != nb || memcmp(a, b, na) != 0;
}

/* Whether v holds more than one metric name: only then can dropping the
 * names make two of its label sets one. */
static bool vec_names_mixed(const struct vec *v)
{
	for (size_t i = 1; i < v->n; i++)
		if (names_differ(v->s[0].key, v->s[0].key_len, v->s[i].key, v->s[i].key_len))
			return true;
	return false;
}

static bool mat_names_mixed(const struct vg_query_result *m)
{
	for (size_t i = 1; i < m->n; i++)
		if (names_differ(m->series[0].key, m->series[0].key_len, m->series[i].key, m->series[i].key_len))
			return true;
	return false;
}

/* Whether the selection holds more than one metric name. */
static bool set_names_mixed(const struct vg_storage_set *set)
{
	const uint8_t *k0, *k;
	size_t n0, n;

	for (size_t i = 1; i < vg_storage_set_len(set); i++) {
		vg_storage_set_key(set, 0, &k0, &n0);
		vg_storage_set_key(set, i, &k, &n);
		if (names_differ(k0, n0, k, n))
			return true;
	}
	return false;
}

/* Whether the selector under node m (an instant or range selector) pins
 * the metric name with =: then its series share one name. */
static bool sel_one_name(const struct vg_promql_node *m)
{
	while (m->kind == VG_PROMQL_PAREN)
		m = m->expr;
	if (m->kind == VG_PROMQL_MATRIX_SEL)
		m = m->expr;
	return m->kind == VG_PROMQL_SELECTOR && vg_selector_name(&m->sel) != NULL;
}

/* An operation's output vector must not hold one label set twice (two
 * metrics whose names were dropped, say): Prometheus's error. One hash
 * per series; callers ask only when a collision can happen. */
static int vec_check_unique(struct ev *e, const struct vec *v)
{
	size_t cap = 16;
	struct {
		uint64_t h;
		size_t i; /* index + 1; 0: empty */
	} *t;
	int rc = 0;

	if (v->n < 2)
		return 0;
	while (cap < v->n * 2)
		cap *= 2;
	if ((t = calloc(cap, sizeof(*t))) == NULL)
		return oom(e);
	for (size_t i = 0; i < v->n && rc == 0; i++) {
		uint64_t h = vg_series_key_hash(v->s[i].key, v->s[i].key_len);
		size_t j = (size_t)h & (cap - 1);
		for (; t[j].i != 0; j = (j + 1) & (cap - 1)) {
			const struct sample *o = &v->s[t[j].i - 1];
			if (t[j].h == h && key_cmp(o->key, o->key_len, v->s[i].key, v->s[i].key_len) == 0) {
				rc = vg_err_set(e->err, VG_EINVAL, "vector cannot contain metrics with the same labelset");
				break;
			}
		}
		t[j].h = h;
		t[j].i = i + 1;
	}
	free(t);
	return rc;
}

/* ---- selectors ----------------------------------------------------------- */

/* The time a selector or subquery reads at: @ pins it, offset shifts it. */
static int64_t ref_time(const struct ev *e, const struct vg_promql_node *n, int64_t t)
{
	int64_t base = t;

	switch (n->at) {
	case VG_PROMQL_AT_TIME: base = n->at_ms; break;
	case VG_PROMQL_AT_START: base = e->start_ms; break;
	case VG_PROMQL_AT_END: base = e->end_ms; break;
	case VG_PROMQL_AT_NONE: break;
	}
	return vg_query_sub_sat(base, n->offset_ms);
}

/* Adds one series' samples ts/v[0..n) (ascending) to out: with is_last
 * the newest, if it is not stale, to out->vec; else every one that is not
 * stale, as a series of out->mat (*cap: its room). */
static int window_push(const uint8_t *key, size_t len, const int64_t *ts, const double *v, size_t n,
		       bool is_last, struct value *out, size_t *cap)
{
	struct vg_query_result *m = &out->mat;
	struct vg_query_series *qs;
	size_t k = 0;
	int rc;

	if (is_last) {
		if (n == 0 || vg_query_is_stale(v[n - 1]))
			return 0;
		if ((rc = vec_push(&out->vec, key, len, v[n - 1])) == 0)
			out->vec.s[out->vec.n - 1].ts_ms = ts[n - 1];
		return rc;
	}
	for (size_t j = 0; j < n; j++)
		k += !vg_query_is_stale(v[j]);
	if (k == 0)
		return 0;
	if (m->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		void *p = realloc(m->series, ncap * sizeof(*m->series));
		if (p == NULL)
			return VG_ENOMEM;
		m->series = p;
		*cap = ncap;
	}
	qs = &m->series[m->n];
	memset(qs, 0, sizeof(*qs));
	qs->key = malloc(len ? len : 1);
	qs->ts_ms = malloc(k * sizeof(*qs->ts_ms));
	qs->values = malloc(k * sizeof(*qs->values));
	if (qs->key == NULL || qs->ts_ms == NULL || qs->values == NULL) {
		free(qs->key);
		free(qs->ts_ms);
		free(qs->values);
		return VG_ENOMEM;
	}
	memcpy(qs->key, key, len);
	qs->key_len = len;
	k = 0;
	for (size_t j = 0; j < n; j++)
		if (!vg_query_is_stale(v[j])) {
			qs->ts_ms[k] = ts[j];
			qs->values[k++] = v[j];
		}
	qs->n = k;
	m->n++;
	return 0;
}

/* The resolution the planner chooses for fn's window (a, b]. */
static int64_t plan_res(struct ev *e, enum vg_plan_fn fn, int64_t a, int64_t b)
{
	if (!e->has_tiers) {
		vg_plan_tiers_load(e->st, &e->tiers);
		e->has_tiers = true;
	}
	return vg_plan_resolution(&e->tiers, fn, a, b);
}

/*
 * The span of a range query's windows of sel (of width range or lookback,
 * (ref(t) - width, ref(t)] at each step t) whose resolution is res (fn's
 * plan; every window for VG_PLAN_FN_NONE), loaded at the first ask: the
 * samples in the union of those windows, or the buckets that overlap it
 * and the one before. *out NULL for an instant query; an empty span when
 * no step's window is at res (times at the ends of int64_t). A raw span
 * keeps staleness markers for an instant selector (is_instant) only.
 */
static int plan_span(struct ev *e, const struct vg_promql_node *sel, int64_t width, enum vg_plan_fn fn,
		     int64_t res, bool is_instant, struct vg_span **out)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	uint64_t loaded = 0;
	int rc;

	*out = NULL;
	if (!e->is_range || e->step_ms <= 0 || width < 0)
		return 0;
	if ((*out = vg_span_find(&e->spans, sel, res)) != NULL)
		return 0;
	for (int64_t t = e->start_ms; t <= e->end_ms; t += e->step_ms) {
		int64_t ref = ref_time(e, sel, t), a;
		if (__builtin_sub_overflow(ref, width, &a) || a == INT64_MIN || a == INT64_MAX) {
			lo = INT64_MAX; /* nothing of it is spanned */
			hi = INT64_MIN;
			break;
		}
		if ((fn == VG_PLAN_FN_NONE ? VG_STORAGE_RES_RAW : plan_res(e, fn, a, ref)) == res) {
			int64_t first = res ? a - 1 : a + 1;
			lo = first < lo ? first : lo;
			hi = ref > hi ? ref : hi;
		}
		if (t > INT64_MAX - e->step_ms)
			break;
	}
	if ((rc = vg_span_load(&e->spans, e->st, sel, &sel->sel, lo, hi, res, res == 0 && !is_instant, out,
			       e->err)) != 0)
		return rc;
	/* A span is held until the query ends: its series and samples count
	 * against the limits from now on (vg_eval_range_limited adds them at
	 * every step). */
	for (size_t i = 0; i < (*out)->n; i++)
		loaded += (*out)->s[i].smp.n + (*out)->s[i].b.n;
	e->span_samples += loaded;
	if ((rc = vg_query_limits_series(e->lim, (*out)->n, e->err)) != 0)
		return rc;
	return vg_query_limits_add(e->lim, loaded, e->err);
}

/* read_window from the span of a range query: 1 when (from, to] is not
 * within it (a subquery's steps), so the caller selects. */
static int read_window_span(struct ev *e, const struct vg_promql_node *sel, int64_t from, int64_t to,
			    bool is_last, struct value *out)
{
	struct vg_span *sp;
	size_t cap = 0;
	int rc = 0;

	if (from >= to || (rc = plan_span(e, sel, to - from, VG_PLAN_FN_NONE, VG_STORAGE_RES_RAW, is_last, &sp)) != 0)
		return from >= to ? 1 : rc;
	if (sp == NULL || from + 1 < sp->lo || to > sp->hi)
		return 1;
	for (size_t i = 0; rc == 0 && i < sp->n; i++) {
		struct vg_span_series *x = &sp->s[i];
		size_t a, b;
		vg_span_window(x, from, to, &a, &b);
		e->n_read += is_last ? (b > a) : b - a;
		if ((rc = vg_query_limits_add(e->lim, is_last ? b > a : b - a, e->err)) != 0)
			break;
		rc = window_push(x->key, x->key_len, x->smp.ts_ms + a, x->smp.values + a, b - a, is_last, out,
				 &cap);
	}
	return rc == VG_ENOMEM ? oom(e) : rc;
}

/* The samples of every series of sel in (from, to], stale markers
 * dropped; with is_last only the newest (if it is not stale). */
static int read_window(struct ev *e, const struct vg_promql_node *sel, int64_t from, int64_t to,
		       bool is_last, struct value *out)
{
	struct vg_storage_set *set = NULL;
	int64_t lo = from == INT64_MAX ? from : from + 1;
	size_t cap = 0;
	int rc;

	if (lo > to)
		return 0;
	if ((rc = read_window_span(e, sel, from, to, is_last, out)) != 1)
		return rc;
	if ((rc = vg_storage_select(e->st, &sel->sel, lo, to, VG_STORAGE_RES_RAW, &set, e->err)) != 0)
		return rc;
	rc = vg_query_limits_series(e->lim, vg_storage_set_len(set), e->err);
	for (size_t i = 0; rc == 0 && i < vg_storage_set_len(set); i++) {
		const uint8_t *key;
		size_t len;

		if ((rc = vg_storage_set_read(set, i, lo, to, &e->smp, e->err)) != 0)
			break;
		if ((rc = vg_query_limits_add(e->lim, is_last ? e->smp.n > 0 : e->smp.n, e->err)) != 0)
			break;
		vg_storage_set_key(set, i, &key, &len);
		e->n_read += is_last ? (e->smp.n > 0) : e->smp.n;
		rc = window_push(key, len, e->smp.ts_ms, e->smp.values, e->smp.n, is_last, out, &cap);
	}
	vg_storage_set_free(set);
	if (rc == VG_ENOMEM)
		return oom(e);
	return rc;
}

/* One point of a range query, before grouping by series. */
struct point {
	uint8_t *key; /* owned */
	size_t key_len;
	int64_t t;
	double v;
};

static int point_cmp(const void *x, const void *y)
{
	const struct point *a = x, *b = y;
	int c = key_cmp(a->key, a->key_len, b->key, b->key_len);

	if (c != 0)
		return c;
	return a->t < b->t ? -1 : a->t > b->t;
}

/* Moves the points of vector v (or the scalar of v, as a series without
 * labels) at time t onto pts. */
static int collect_points(struct ev *e, struct value *v, int64_t t, struct point **pts, size_t *n,
			  size_t *cap)
{
	if (v->type == VG_PROMQL_SCALAR && vec_push(&v->vec, (const uint8_t *)"\xFF", 1, v->scalar) != 0)
		return oom(e);
	for (size_t i = 0; i < v->vec.n; i++) {
		if (*n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 64;
			void *p = realloc(*pts, ncap * sizeof(**pts));
			if (p == NULL)
				return oom(e);
			*pts = p;
			*cap = ncap;
		}
		(*pts)[(*n)++] = (struct point){ v->vec.s[i].key, v->vec.s[i].key_len, t, v->vec.s[i].v };
		v->vec.s[i].key = NULL;
	}
	return 0;
}

/* Sorts pts and groups them into series of out (sorted by label set);
 * frees pts. Two points of one label set at one time are Prometheus's
 * "same labelset" error. */
static int group_points(struct ev *e, struct point *pts, size_t n_pts, struct vg_query_result *r)
{
	int rc = 0;

	if (n_pts > 1)
		qsort(pts, n_pts, sizeof(*pts), point_cmp);
	for (size_t i = 0; rc == 0 && i < n_pts;) {
		size_t j = i;
		struct vg_query_series *qs;

		while (j < n_pts && key_cmp(pts[j].key, pts[j].key_len, pts[i].key, pts[i].key_len) == 0) {
			if (j > i && pts[j].t == pts[j - 1].t) {
				rc = vg_err_set(e->err, VG_EINVAL, "vector cannot contain metrics with the same labelset");
				break;
			}
			j++;
		}
		if (rc != 0)
			break;
		if ((r->n & (r->n - 1)) == 0) {
			void *p = realloc(r->series, (r->n ? r->n * 2 : 1) * sizeof(*r->series));
			if (p == NULL) {
				rc = oom(e);
				break;
			}
			r->series = p;
		}
		qs = &r->series[r->n];
		memset(qs, 0, sizeof(*qs));
		qs->ts_ms = malloc((j - i) * sizeof(*qs->ts_ms));
		qs->values = malloc((j - i) * sizeof(*qs->values));
		if (qs->ts_ms == NULL || qs->values == NULL) {
			free(qs->ts_ms);
			free(qs->values);
			rc = oom(e);
			break;
		}
		qs->key = pts[i].key;
		qs->key_len = pts[i].key_len;
		pts[i].key = NULL;
		for (size_t k = i; k < j; k++) {
			qs->ts_ms[k - i] = pts[k].t;
			qs->values[k - i] = pts[k].v;
		}
		qs->n = j - i;
		r->n++;
		i = j;
	}
	for (size_t i = 0; i < n_pts; i++)
		free(pts[i].key);
	free(pts);
	if (rc == 0 && r->n > 1)
		qsort(r->series, r->n, sizeof(*r->series), series_cmp_q);
	return rc;
}

static int eval_node(struct ev *e, const struct vg_promql_node *n, int64_t t, struct value *out);

/* Most steps one subquery may take (Prometheus bounds them only by its
 * samples limit; this keeps one query's memory bounded until that limit
 * lands). */
#define MAX_SUBQUERY_STEPS 100000
/* The scratch a function over a window starts with, in bytes. */
#define SCRATCH_BYTES 4096
/* The step of a subquery that gives none: Prometheus's default global
 * evaluation interval. */
#define DEFAULT_SUBQUERY_STEP_MS 60000

/* expr[range:step] at t: expr at the multiples of step in
 * (ref - range, ref], as a range vector. */
static int eval_subquery(struct ev *e, const struct vg_promql_node *n, int64_t t, struct value *out,
			 int64_t *range_start, int64_t *range_end)
{
	int64_t ref = ref_time(e, n, t), step = n->step_ms ? n->step_ms : DEFAULT_SUBQUERY_STEP_MS;
	int64_t lo = vg_query_sub_sat(ref, n->range_ms), first, rem;
	struct point *pts = NULL;
	size_t n_pts = 0, cap = 0;
	int rc = 0;

	*range_start = lo;
	*range_end = ref;
	out->type = VG_PROMQL_MATRIX;
	rem = lo % step;
	if (rem < 0)
		rem += step;
	first = lo - rem + step; /* the smallest multiple of step > lo */
	if (first <= ref && (uint64_t)(ref - first) / (uint64_t)step >= MAX_SUBQUERY_STEPS)
		return vg_err_set(e->err, VG_EINVAL, "subquery of %lld steps: more than the limit of %d",
				  (long long)((ref - first) / step + 1), MAX_SUBQUERY_STEPS);
	for (int64_t ts = first; ts <= ref && rc == 0; ts += step) {
		struct value v;
		if ((rc = vg_query_limits_check(e->lim, e->err)) != 0 ||
		    (rc = eval_node(e, n->expr, ts, &v)) != 0)
			break;
		rc = collect_points(e, &v, ts, &pts, &n_pts, &cap);
		value_release(&v);
		if (ts > INT64_MAX - step)
			break;
	}
	if (rc != 0) {
		for (size_t i = 0; i < n_pts; i++)
			free(pts[i].key);
		free(pts);
		return rc;
	}
	return group_points(e, pts, n_pts, &out->mat);
}

/* The range vector a function takes (a range selector or a subquery, in
 * parentheses or not) at t, and its window (range_start, range_end]. */
static int eval_matrix(struct ev *e, const struct vg_promql_node *m, int64_t t, struct value *out,
		       int64_t *range_start, int64_t *range_end)
{
	int64_t ref;

	while (m->kind == VG_PROMQL_PAREN)
		m = m->expr;
	memset(out, 0, sizeof(*out));
	out->type = VG_PROMQL_MATRIX;
	if (m->kind == VG_PROMQL_SUBQUERY)
		return eval_subquery(e, m, t, out, range_start, range_end);
	if (m->kind != VG_PROMQL_MATRIX_SEL)
		return unsupported(e, "this range vector");
	ref = ref_time(e, m->expr, t);
	*range_start = vg_query_sub_sat(ref, m->range_ms);
	*range_end = ref;
	return read_window(e, m->expr, *range_start, ref, false, out);
}

/* ---- functions ------------------------------------------------------------ */

/* What extrapolated_scan works out from a window's shape alone (the
 * distances of its edges to its first and last samples, the sampled
 * interval, the count, the range): kept for the windows of one series and
 * reused while the shape repeats, as it does at every step of a regular
 * series. The same integers give the same divisions, so the same bits.
 * is_set false before the first. */
struct x_memo {
	int64_t d_start, d_end, d_sampled, range_ms;
	size_t n;
	double to_start, to_end, sampled, factor, range;
	bool is_set, has_range;
};

/* The extrapolation of rate, increase and delta (promql-subset.md) over
 * the window ts/v[0..n), n >= 2, whose raw increase (its last value less
 * its first, plus the value before each counter reset, in sample order)
 * is result. memo: the shape of the window before and what it gave. */
static inline __attribute__((always_inline)) double extrapolate(const int64_t *ts, const double *v, size_t n,
								 int64_t range_start, int64_t range_end,
								 bool is_counter, bool is_rate, double result,
								 struct x_memo *memo)
{
	double factor;
	int64_t ds = ts[0] - range_start, de = range_end - ts[n - 1], dsm = ts[n - 1] - ts[0];

	if (!memo->is_set || memo->d_start != ds || memo->d_end != de || memo->d_sampled != dsm || memo->n != n) {
		double to_start = (double)ds / 1000.0, to_end = (double)de / 1000.0, sampled = (double)dsm / 1000.0;
		double avg_gap = sampled / (double)(n - 1), threshold = avg_gap * 1.1;
		if (to_start >= threshold)
			to_start = avg_gap / 2;
		if (to_end >= threshold)
			to_end = avg_gap / 2;
		*memo = (struct x_memo){ ds, de, dsm, memo->range_ms, n, to_start, to_end, sampled,
					 (sampled + to_start + to_end) / sampled, memo->range, true, memo->has_range };
	}
	factor = memo->factor;
	/* v[0] >= result > 0 makes v[0] / result >= 1 and to_zero >= sampled:
	 * when sampled >= to_start, to_zero is not the smaller, unneeded */
	if (is_counter && result > 0 && v[0] >= 0 && !(v[0] >= result && memo->sampled >= memo->to_start)) {
		double to_zero = memo->sampled * (v[0] / result);
		if (to_zero < memo->to_start)
			factor = (memo->sampled + to_zero + memo->to_end) / memo->sampled;
	}
	result *= factor;
	if (is_rate) {
		if (!memo->has_range || memo->range_ms != range_end - range_start) {
			memo->range_ms = range_end - range_start;
			memo->range = (double)memo->range_ms / 1000.0;
			memo->has_range = true;
		}
		result /= memo->range;
	}
	return result;
}

/* rate, increase, delta over one window (promql-subset.md). false when
 * there are fewer than two samples. Counter resets are looked for only
 * with scan_resets. memo (or NULL): the shape of the window before and
 * what it gave. */
static bool extrapolated_scan(const int64_t *ts, const double *v, size_t n, int64_t range_start,
			      int64_t range_end, bool is_counter, bool scan_resets, bool is_rate, struct x_memo *memo,
			      double *out)
{
	struct x_memo local;
	double result;

	if (n < 2)
		return false;
	result = v[n - 1] - v[0];
	if (is_counter && scan_resets)
		for (size_t i = 1; i < n; i++)
			if (v[i] < v[i - 1])
				result += v[i - 1];
	if (memo == NULL) {
		local.is_set = local.has_range = false;
		memo = &local;
	}
	*out = extrapolate(ts, v, n, range_start, range_end, is_counter, is_rate, result, memo);
	return true;
}

/* extrapolated_scan, which scan_resets lets skip looking for counter
 * resets where the caller knows there are none. */
static bool extrapolated(const int64_t *ts, const double *v, size_t n, int64_t range_start,
			 int64_t range_end, bool is_counter, bool is_rate, double *out)
{
	return extrapolated_scan(ts, v, n, range_start, range_end, is_counter, is_counter, is_rate, NULL, out);
}

/* irate and idelta: the last two samples. */
static bool instant_value(const int64_t *ts, const double *v, size_t n, bool is_rate, double *out)
{
	double a, b, d;

	if (n < 2 || ts[n - 1] == ts[n - 2])
		return false;
	a = v[n - 2];
	b = v[n - 1];
	d = is_rate && b < a ? b : b - a;
	if (is_rate)
		d /= (double)(ts[n - 1] - ts[n - 2]) / 1000.0;
	*out = d;
	return true;
}

static double quantile_of(double q, double *v, size_t n);
static int key_set_label(const uint8_t *key, size_t key_len, const char *name, const struct vg_str *value,
			 struct vg_buf *out);

/* Least-squares slope (per second) and the value at time at_ms of the
 * line through the samples; false for fewer than two. */
static bool regression(const int64_t *ts, const double *v, size_t n, int64_t at_ms, double *slope,
		       double *intercept)
{
	double sx = 0, sy = 0, sxy = 0, sxx = 0, den;

	if (n < 2)
		return false;
	for (size_t i = 0; i < n; i++) {
		double x = (double)(ts[i] - at_ms) / 1000.0;
		sx += x;
		sy += v[i];
		sxy += x * v[i];
		sxx += x * x;
	}
	den = (double)n * sxx - sx * sx;
	if (den == 0)
		return false;
	*slope = ((double)n * sxy - sx * sy) / den;
	*intercept = sy / (double)n - *slope * sx / (double)n;
	return true;
}

/* absent() and absent_over_time() of nothing: one sample, 1, with the
 * labels of the selector's = matchers (not the name; a label matched twice
 * is left out), {} for anything but a selector. */
static int absent_labels(struct ev *e, const struct vg_promql_node *arg, struct value *out)
{
	struct vg_series r = { { "", 0 }, 0, { { { NULL, 0 }, { NULL, 0 } } } };
	struct vg_buf key = VG_BUF_INIT;
	int rc;

	while (arg->kind == VG_PROMQL_PAREN)
		arg = arg->expr;
	if (arg->kind == VG_PROMQL_MATRIX_SEL)
		arg = arg->expr;
	if (arg->kind == VG_PROMQL_SELECTOR) {
		const struct vg_selector *sel = &arg->sel;
		for (size_t i = 0; i < sel->n && r.n_labels < VG_SERIES_MAX_LABELS; i++) {
			const struct vg_matcher *m = &sel->m[i];
			size_t uses = 0;
			if (m->op != VG_MATCH_EQ || strcmp(m->name, "__name__") == 0 || m->value_len == 0)
				continue;
			for (size_t j = 0; j < sel->n; j++)
				uses += strcmp(sel->m[j].name, m->name) == 0;
			if (uses == 1)
				r.labels[r.n_labels++] = (struct vg_label){ vg_str_c(m->name),
									    { m->value, (uint32_t)m->value_len } };
		}
		/* sorted by name, as a key's labels are */
		for (uint32_t i = 1; i < r.n_labels; i++)
			for (uint32_t j = i; j > 0 && vg_str_cmp(r.labels[j].name, r.labels[j - 1].name) < 0; j--) {
				struct vg_label tl = r.labels[j];
				r.labels[j] = r.labels[j - 1];
				r.labels[j - 1] = tl;
			}
	}
	vg_series_key(&r, &key);
	rc = vg_buf_failed(&key) ? VG_ENOMEM : vec_push(&out->vec, key.data, key.len, 1);
	vg_buf_release(&key);
	return rc == VG_ENOMEM ? oom(e) : rc;
}

/* The <agg>_over_time functions over one series' samples v[0..n) (n >= 1,
 * every sample weighing the same). false if name is not one of them. */
/* One step of the Kahan-Babuska-Neumaier sum (as Prometheus's
 * kahanSumInc): returns sum + inc, the lost low part added to *c. An
 * infinite sum sets *c to 0, or Inf - Inf would make it NaN and the total
 * with it (Inf + 1 is Inf). */
static inline double kahan_inc(double inc, double sum, double *c)
{
	double t = sum + inc;

	if (isinf(t))
		*c = 0;
	else if (fabs(sum) >= fabs(inc))
		*c += (sum - t) + inc;
	else
		*c += (inc - t) + sum;
	return t;
}

/* The state of one group of an aggregation (or one window's mean), fed a
 * value at a time in input order: agg_add, then agg_result. */
struct agg_acc {
	double sum, c, mean, m2;
	uint64_t n;
	bool is_running;
};

/*
 * One more value of a mean, as Prometheus 3 takes avg and avg_over_time:
 * the compensated sum over n while the sum stays finite; once it would
 * overflow, a running mean from there on (so two values of 1e308 average
 * 1e308, not +Inf).
 */
static inline __attribute__((always_inline)) void avg_add(struct agg_acc *a, double v)
{
	double cnt, cur;

	if (a->n++ == 0) {
		a->sum = v;
		return;
	}
	if (!a->is_running) {
		double c2 = a->c, s2 = kahan_inc(v, a->sum, &c2);
		if (!isinf(s2)) {
			a->sum = s2;
			a->c = c2;
			return;
		}
		a->is_running = true;
		cnt = (double)a->n;
		a->mean = a->sum / (cnt - 1);
		a->c /= cnt - 1;
	}
	cnt = (double)a->n;
	/* an infinite mean stays as it is, unless v is NaN or the infinity
	 * of the other sign */
	if (isinf(a->mean) && ((isinf(v) && (a->mean > 0) == (v > 0)) || (!isinf(v) && !isnan(v))))
		return;
	cur = a->mean + a->c;
	a->mean = kahan_inc(v / cnt - cur / cnt, cur, &a->c);
}

static double avg_result(const struct agg_acc *a)
{
	return a->is_running ? a->mean + a->c : (a->sum + a->c) / (double)a->n;
}

/* The mean of v[0..n), n > 0 (avg_add). */
static double kahan_avg(const double *v, size_t n)
{
	struct agg_acc a = { 0 };

	for (size_t i = 0; i < n; i++)
		avg_add(&a, v[i]);
	return avg_result(&a);
}

static bool over_time(const char *name, const double *v, size_t n, double param, double *scratch,
		      double *out, bool *keeps_name)
{
	double sum = 0, comp = 0, acc = v[0];

	if (strcmp(name, "first_over_time") == 0) {
		*out = v[0];
		*keeps_name = true;
	} else if (strcmp(name, "stddev_over_time") == 0 || strcmp(name, "stdvar_over_time") == 0) {
		double mean = 0, m2 = 0;
		for (size_t i = 0; i < n; i++) {
			double d = v[i] - mean;
			mean += d / (double)(i + 1);
			m2 += d * (v[i] - mean);
		}
		*out = name[3] == 'd' ? sqrt(m2 / (double)n) : m2 / (double)n;
	} else if (strcmp(name, "quantile_over_time") == 0) {
		memcpy(scratch, v, n * sizeof(*v));
		*out = quantile_of(param, scratch, n);
	} else if (strcmp(name, "mad_over_time") == 0) {
		double median;
		memcpy(scratch, v, n * sizeof(*v));
		median = quantile_of(0.5, scratch, n);
		for (size_t i = 0; i < n; i++)
			scratch[i] = fabs(v[i] - median);
		*out = quantile_of(0.5, scratch, n);
	} else if (strcmp(name, "resets") == 0 || strcmp(name, "changes") == 0) {
		size_t c = 0;
		for (size_t i = 1; i < n; i++)
			if (name[0] == 'r' ? v[i] < v[i - 1] : (v[i] != v[i - 1] && !(isnan(v[i]) && isnan(v[i - 1]))))
				c++;
		*out = (double)c;
	} else if (strcmp(name, "count_over_time") == 0) {
		*out = (double)n;
	} else if (strcmp(name, "present_over_time") == 0) {
		*out = 1;
	} else if (strcmp(name, "last_over_time") == 0) {
		*out = v[n - 1];
		*keeps_name = true;
	} else if (strcmp(name, "min_over_time") == 0 || strcmp(name, "max_over_time") == 0) {
		bool is_min = name[1] == 'i';
		for (size_t i = 1; i < n; i++)
			if (isnan(acc) || (is_min ? v[i] < acc : v[i] > acc))
				acc = v[i];
		*out = acc;
	} else if (strcmp(name, "sum_over_time") == 0 || strcmp(name, "avg_over_time") == 0) {
		for (size_t i = 0; i < n; i++)
			sum = kahan_inc(v[i], sum, &comp);
		*out = name[0] == 's' ? sum + comp : kahan_avg(v, n);
	} else {
		return false;
	}
	return true;
}

/* A range function that has a rollup form, over a range selector, read
 * from the tier the planner chooses for its window (planner.h); 1 when
 * that is raw, for the caller to read. */
static int eval_rollup_fn(struct ev *e, const struct vg_promql_node *n, int64_t t, struct value *out)
{
	enum vg_plan_fn fn = vg_plan_fn_of(n->func->name);
	const struct vg_promql_node *m = n->args[0], *sel;
	struct vg_spans once = { 0 };
	struct vg_span *sp;
	int64_t ref, a, res;
	int rc = 0;

	while (m->kind == VG_PROMQL_PAREN)
		m = m->expr;
	if (fn == VG_PLAN_FN_NONE || n->n_args != 1 || m->kind != VG_PROMQL_MATRIX_SEL)
		return 1;
	sel = m->expr;
	ref = ref_time(e, sel, t);
	a = vg_query_sub_sat(ref, m->range_ms);
	if ((res = plan_res(e, fn, a, ref)) == VG_STORAGE_RES_RAW)
		return 1;
	/* The buckets of the windows at res and the one before each (its
	 * step into the window): read once for a range query, for this
	 * window alone otherwise. */
	if ((rc = plan_span(e, sel, m->range_ms, fn, res, false, &sp)) != 0)
		return rc;
	if (sp == NULL || a - 1 < sp->lo || ref > sp->hi) {
		if (a == INT64_MIN)
			return 1;
		rc = vg_span_load(&once, e->st, sel, &sel->sel, a - 1, ref, res, false, &sp, e->err);
	}
	for (size_t i = 0; rc == 0 && i < sp->n; i++) {
		const struct vg_span_series *x = &sp->s[i];
		double v;

		if (!vg_plan_eval(fn, x->b.v, x->b.n, a, ref, &v))
			continue;
		if (vg_plan_fn_keeps_name(fn))
			rc = vec_push(&out->vec, x->key, x->key_len, v);
		else
			rc = vec_push(&out->vec, x->key_noname, x->noname_len, v);
	}
	if (rc == 0 && !vg_plan_fn_keeps_name(fn) && !sel_one_name(sel))
		rc = vec_check_unique(e, &out->vec);
	vg_spans_release(&once);
	return rc == VG_ENOMEM ? oom(e) : rc;
}

/* The range vector of a range selector at t as slices of the range
 * query's span (borrowed: the caller frees out->mat.series alone), and in
 * *src each series' span series. 1 when the window is not in a span. */
static int span_matrix(struct ev *e, enum vg_plan_fn fn, const struct vg_promql_node *m, int64_t t,
		       struct value *out, int64_t *range_start, int64_t *range_end,
		       struct vg_span_series ***src)
{
	struct vg_span *sp;
	int64_t ref;
	int rc;

	while (m->kind == VG_PROMQL_PAREN)
		m = m->expr;
	if (m->kind != VG_PROMQL_MATRIX_SEL || m->range_ms <= 0)
		return 1;
	ref = ref_time(e, m->expr, t);
	*range_start = vg_query_sub_sat(ref, m->range_ms);
	*range_end = ref;
	if ((rc = plan_span(e, m->expr, m->range_ms, fn, VG_STORAGE_RES_RAW, false, &sp)) != 0)
		return rc;
	if (sp == NULL || *range_start + 1 < sp->lo || ref > sp->hi)
		return 1;
	memset(out, 0, sizeof(*out));
	out->type = VG_PROMQL_MATRIX;
	if (sp->n == 0)
		return 0;
	out->mat.series = malloc(sp->n * sizeof(*out->mat.series));
	*src = malloc(sp->n * sizeof(**src));
	if (out->mat.series == NULL || *src == NULL) {
		free(out->mat.series);
		out->mat.series = NULL;
		return oom(e);
	}
	for (size_t i = 0; i < sp->n; i++) {
		struct vg_span_series *x = &sp->s[i];
		size_t a, b;
		vg_span_window(x, *range_start, ref, &a, &b);
		e->n_read += b - a;
		if (a == b)
			continue;
		out->mat.series[out->mat.n] = (struct vg_query_series){ x->key, x->key_len, b - a,
									x->smp.ts_ms + a, x->smp.values + a };
		(*src)[out->mat.n++] = x;
	}
	return 0;
}

static int eval_range_fn(struct ev *e, const struct vg_promql_node *n, int64_t t, struct value *out)
{
	const char *name = n->func->name;
	struct value in = { 0 }, param = { 0 };
	struct vg_buf key = VG_BUF_INIT;
	int64_t ref, range_start;
	size_t m_arg = strcmp(name, "quantile_over_time") == 0 ? 1 : 0;
	double *scratch = NULL;
	struct vg_span_series **src = NULL; /* with a borrowed in.mat */
	bool is_mixed;
	int rc;

	if ((rc = eval_rollup_fn(e, n, t, out)) != 1)
		return rc;
	if (n->n_args > 1 && (rc = eval_node(e, n->args[m_arg == 1 ? 0 : 1], t, &param)) != 0)
		return rc;
	if ((rc = span_matrix(e, vg_plan_fn_of(name), n->args[m_arg], t, &in, &range_start, &ref, &src)) == 1)
		rc = eval_matrix(e, n->args[m_arg], t, &in, &range_start, &ref);
	if (rc != 0)
		goto out;
	if (strcmp(name, "absent_over_time") == 0) {
		rc = in.mat.n == 0 ? absent_labels(e, n->args[0], out) : 0;
		goto out;
	}
	is_mixed = !sel_one_name(n->args[m_arg]) && mat_names_mixed(&in.mat);
	for (size_t i = 0; i < in.mat.n && rc == 0; i++) {
		const struct vg_query_series *s = &in.mat.series[i];
		bool ok, keeps_name = false;
		double v = 0, slope, icpt;

		if (scratch == NULL && (scratch = malloc(SCRATCH_BYTES)) == NULL) {
			rc = VG_ENOMEM;
			break;
		}
		if (s->n * sizeof(double) > SCRATCH_BYTES) {
			void *p = realloc(scratch, s->n * sizeof(double));
			if (p == NULL) {
				rc = VG_ENOMEM;
				break;
			}
			scratch = p;
		}
		if (strcmp(name, "deriv") == 0)
			ok = regression(s->ts_ms, s->values, s->n, t, &v, &icpt);
		else if (strcmp(name, "predict_linear") == 0) {
			ok = regression(s->ts_ms, s->values, s->n, t, &slope, &icpt);
			v = slope * param.scalar + icpt;
		} else if (over_time(name, s->values, s->n, param.scalar, scratch, &v, &keeps_name))
			ok = true;
		else if (strcmp(name, "rate") == 0)
			ok = extrapolated(s->ts_ms, s->values, s->n, range_start, ref, true, true, &v);
		else if (strcmp(name, "increase") == 0)
			ok = extrapolated(s->ts_ms, s->values, s->n, range_start, ref, true, false, &v);
		else if (strcmp(name, "delta") == 0)
			ok = extrapolated(s->ts_ms, s->values, s->n, range_start, ref, false, false, &v);
		else if (strcmp(name, "irate") == 0)
			ok = instant_value(s->ts_ms, s->values, s->n, true, &v);
		else
			ok = instant_value(s->ts_ms, s->values, s->n, false, &v);
		if (!ok)
			continue;
		if (keeps_name)
			rc = vec_push(&out->vec, s->key, s->key_len, v);
		else if (src)
			rc = vec_push(&out->vec, src[i]->key_noname, src[i]->noname_len, v);
		else if ((rc = drop_name(s->key, s->key_len, &key)) == 0)
			rc = vec_push(&out->vec, key.data, key.len, v);
	}
	if (rc == 0 && is_mixed)
		rc = vec_check_unique(e, &out->vec);
out:
	if (src) {
		/* the span's arrays, borrowed */
		free(in.mat.series);
		memset(&in.mat, 0, sizeof(in.mat));
	}
	free(src);
	free(scratch);
	vg_buf_release(&key);
	value_release(&in);
	value_release(&param);
	return rc == VG_ENOMEM ? oom(e) : rc;
}

static double sgn(double v)
{
	return v > 0 ? 1 : v < 0 ? -1 : v; /* 0, -0 and NaN as they are */
}

static double deg(double v)
{
	return v * 180 / M_PI;
}

static double rad(double v)
{
	return v * M_PI / 180;
}

/* Functions of one value that drop the metric name. */
static const struct {
	const char *name;
	double (*fn)(double);
} math_fns[] = {
	{ "abs", fabs }, { "ceil", ceil }, { "floor", floor }, { "exp", exp }, { "ln", log },
	{ "log2", log2 }, { "log10", log10 }, { "sqrt", sqrt }, { "sgn", sgn },
	{ "acos", acos }, { "acosh", acosh }, { "asin", asin }, { "asinh", asinh }, { "atan", atan },
	{ "atanh", atanh }, { "cos", cos }, { "cosh", cosh }, { "sin", sin }, { "sinh", sinh },
	{ "tan", tan }, { "tanh", tanh }, { "deg", deg }, { "rad", rad },
};

/* clamp(v, min, max), clamp_min(v, min), clamp_max(v, max): names go; a
 * min above the max gives nothing, as in Prometheus. */
static int eval_clamp(struct ev *e, const struct vg_promql_node *n, int64_t t, struct value *out)
{
	const char *name = n->func->name;
	struct value v = { 0 }, a = { 0 }, b = { 0 };
	struct vg_buf key = VG_BUF_INIT;
	double lo = -INFINITY, hi = INFINITY;
	int rc;

	if ((rc = eval_node(e, n->args[0], t, &v)) != 0 || (rc = eval_node(e, n->args[1], t, &a)) != 0)
		goto out;
	if (strcmp(name, "clamp") == 0) {
		if ((rc = eval_node(e, n->args[2], t, &b)) != 0)
			goto out;
		lo = a.scalar;
		hi = b.scalar;
		if (lo > hi)
			goto out;
	} else if (strcmp(name, "clamp_min") == 0) {
		lo = a.scalar;
	} else {
		hi = a.scalar;
	}
	for (size_t i = 0; i < v.vec.n && rc == 0; i++) {
		double x = v.vec.s[i].v;
		if (isnan(lo) || isnan(hi))
			x = NAN;
		else if (x < lo)
			x = lo;
		else if (x > hi)
			x = hi;
		if ((rc = drop_name(v.vec.s[i].key, v.vec.s[i].key_len, &key)) == 0)
			rc = vec_push(&out->vec, key.data, key.len, x);
	}
	if (rc == 0 && vec_names_mixed(&v.vec))
		rc = vec_check_unique(e, &out->vec);
out:
	vg_buf_release(&key);
	value_release(&v);
	value_release(&a);
	value_release(&b);
	return rc == VG_ENOMEM ? oom(e) : rc;
}

struct bucket {
	double le, count;
};

static int bucket_cmp(const void *x, const void *y)
{
	const struct bucket *a = x, *b = y;

	return a->le < b->le ? -1 : a->le > b->le;
}

/* histogram_quantile over one group's classic buckets (promql-subset.md). */
static double bucket_quantile(double q, struct bucket *b, size_t n)
{
	size_t k = 0, i;
	double total, rank, start, end, c, r;

	if (isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	qsort(b, n, sizeof(*b), bucket_cmp);
	if (n == 0 || !isinf(b[n - 1].le) || b[n - 1].le < 0)
		return NAN;
	/* merge equal bounds */
	for (i = 0; i < n; i++) {
		if (k > 0 && b[k - 1].le == b[i].le)
			b[k - 1].count += b[i].count;
		else
			b[k++] = b[i];
	}
	n = k;
	/* force monotonic counts: a drop (float noise or not) takes the
	 * previous count, as Prometheus's ensureMonotonic does */
	for (i = 1; i < n; i++)
		if (b[i].count < b[i - 1].count)
			b[i].count = b[i - 1].count;
	if (n < 2)
		return NAN;
	total = b[n - 1].count;
	if (total == 0 || isnan(total))
		return NAN;
	rank = q * total;
	for (i = 0; i < n - 1 && b[i].count < rank; i++)
		;
	if (i == n - 1)
		return b[n - 2].le;
	if (i == 0 && b[0].le <= 0)
		return b[0].le;
	start = i == 0 ? 0 : b[i - 1].le;
	end = b[i].le;
	c = b[i].count - (i == 0 ? 0 : b[i - 1].count);
	r = rank - (i == 0 ? 0 : b[i - 1].count);
	return start + (end - start) * (c == 0 ? 0 : r / c);
}

static int eval_histogram_quantile(struct ev *e, const struct vg_promql_node *n, int64_t t,
				   struct value *out)
{
	char le_name[] = "le";
	char *le_names[] = { le_name };
	const struct vg_promql_labels le = { 1, le_names };
	struct value q = { 0 }, v = { 0 };
	struct sig *g = NULL;
	struct bucket *b = NULL;
	struct vg_buf key = VG_BUF_INIT;
	int rc;

	if ((rc = eval_node(e, n->args[0], t, &q)) != 0 || (rc = eval_node(e, n->args[1], t, &v)) != 0)
		goto out;
	/* groups: every label but le, the name too (dropped from the result) */
	if ((rc = sigs_make_names(&v.vec, &le, false, true, &g)) != 0)
		goto out;
	if ((b = malloc((v.vec.n ? v.vec.n : 1) * sizeof(*b))) == NULL) {
		rc = VG_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < v.vec.n && rc == 0;) {
		size_t j = i, nb = 0;
		for (; j < v.vec.n && key_cmp(g[i].key.data, g[i].key.len, g[j].key.data, g[j].key.len) == 0; j++) {
			const struct sample *x = &v.vec.s[g[j].idx];
			struct vg_series s;
			const struct vg_str *lv;
			char text[64], *endp;
			double bound;
			if (vg_series_from_key(x->key, x->key_len, &s) != 0 ||
			    (lv = vg_series_get(&s, "le")) == NULL || lv->len >= sizeof(text))
				continue; /* no le: not a bucket */
			memcpy(text, lv->p, lv->len);
			text[lv->len] = '\0';
			bound = strtod(text, &endp);
			if (endp == text || *endp != '\0')
				continue;
			b[nb++] = (struct bucket){ bound, x->v };
		}
		if (nb > 0 && (rc = drop_name(g[i].key.data, g[i].key.len, &key)) == 0)
			rc = vec_push(&out->vec, key.data, key.len, bucket_quantile(q.scalar, b, nb));
		i = j;
	}
	if (rc == 0 && vec_names_mixed(&v.vec))
		rc = vec_check_unique(e, &out->vec);
out:
	vg_buf_release(&key);
	free(b);
	if (g)
		sigs_free(g, v.vec.n);
	value_release(&q);
	value_release(&v);
	return rc == VG_ENOMEM ? oom(e) : rc;
}

/* timestamp(v): the time of each stored sample in seconds (the evaluation
 * time for computed ones); names go. */
static int eval_timestamp(struct ev *e, const struct vg_promql_node *n, int64_t t, struct value *out)
{
	struct value a;
	struct vg_buf key = VG_BUF_INIT;
	int rc;

	if ((rc = eval_node(e, n->args[0], t, &a)) != 0)
		return rc;
	for (size_t i = 0; i < a.vec.n && rc == 0; i++) {
		int64_t ts = a.vec.s[i].ts_ms == NO_TS ? t : a.vec.s[i].ts_ms;
		if ((rc = drop_name(a.vec.s[i].key, a.vec.s[i].key_len, &key)) == 0)
			rc = vec_push(&out->vec, key.data, key.len, (double)ts / 1000.0);
	}
	if (rc == 0 && vec_names_mixed(&a.vec))
		rc = vec_check_unique(e, &out->vec);
	vg_buf_release(&key);
	value_release(&a);
	return rc == VG_ENOMEM ? oom(e) : rc;
}

/* day_of_month() and friends, of each value as Unix seconds (of time()
 * without an argument), in UTC; names go. */
static int eval_date(struct ev *e, const struct vg_promql_node *n, int64_t t, struct value *out)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *name = n->func->name;
	struct value a = { 0 };
	struct vg_buf key = VG_BUF_INIT;
	int rc = 0;

	if (n->n_args == 0)
		rc = vec_push(&a.vec, (const uint8_t *)"\xFF", 1, (double)t / 1000.0) == 0 ? 0 : VG_ENOMEM;
	else
		rc = eval_node(e, n->args[0], t, &a);
	for (size_t i = 0; i < a.vec.n && rc == 0; i++) {
		double v = a.vec.s[i].v, r = NAN;
		if (isfinite(v) && fabs(v) < 1e15) {
			time_t secs = (time_t)floor(v);
			struct tm tm;
			if (gmtime_r(&secs, &tm) != NULL) {
				int y = tm.tm_year + 1900;
				bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
				if (strcmp(name, "day_of_month") == 0)
					r = tm.tm_mday;
				else if (strcmp(name, "day_of_week") == 0)
					r = tm.tm_wday;
				else if (strcmp(name, "day_of_year") == 0)
					r = tm.tm_yday + 1;
				else if (strcmp(name, "days_in_month") == 0)
					r = mdays[tm.tm_mon] + (tm.tm_mon == 1 && leap);
				else if (strcmp(name, "hour") == 0)
					r = tm.tm_hour;
				else if (strcmp(name, "minute") == 0)
					r = tm.tm_min;
				else if (strcmp(name, "month") == 0)
					r = tm.tm_mon + 1;
				else
					r = y;
			}
		}
		if ((rc = drop_name(a.vec.s[i].key, a.vec.s[i].key_len, &key)) == 0)
			rc = vec_push(&out->vec, key.data, key.len, r);
	}
	if (rc == 0 && vec_names_mixed(&a.vec))
		rc = vec_check_unique(e, &out->vec);
	vg_buf_release(&key);
	value_release(&a);
	return rc == VG_ENOMEM ? oom(e) : rc;
}

/* label_join(v, dst, sep, src...): dst set to the src values joined by
 * sep (deleted when that is empty); every other label kept. */
static int eval_label_join(struct ev *e, const struct vg_promql_node *n, int64_t t, struct value *out)
{
	const struct vg_promql_node *dst = n->args[1], *sep = n->args[2];
	struct value a;
	struct vg_buf key = VG_BUF_INIT, joined = VG_BUF_INIT;
	char dst_name[VG_SERIES_MAX_NAME + 1];
	int rc;

	if (!vg_label_name_valid(dst->str, dst->str_len) || dst->str_len > VG_SERIES_MAX_NAME)
		return vg_err_set(e->err, VG_EINVAL, "invalid destination label name in label_join(): %.*s",
				  (int)(dst->str_len > 64 ? 64 : dst->str_len), dst->str);
	for (size_t k = 3; k < n->n_args; k++)
		if (!vg_label_name_valid(n->args[k]->str, n->args[k]->str_len))
			return vg_err_set(e->err, VG_EINVAL, "invalid source label name in label_join(): %.*s",
					  (int)(n->args[k]->str_len > 64 ? 64 : n->args[k]->str_len), n->args[k]->str);
	memcpy(dst_name, dst->str, dst->str_len);
	dst_name[dst->str_len] = '\0';
	if ((rc = eval_node(e, n->args[0], t, &a)) != 0)
		return rc;
	for (size_t i = 0; i < a.vec.n && rc == 0; i++) {
		struct vg_series s;
		struct vg_str jv;
		vg_buf_reset(&joined);
		if (vg_series_from_key(a.vec.s[i].key, a.vec.s[i].key_len, &s) != 0) {
			rc = VG_EINVAL;
			break;
		}
		for (size_t k = 3; k < n->n_args; k++) {
			char src[VG_SERIES_MAX_NAME + 1];
			const struct vg_str *sv;
			size_t sl = n->args[k]->str_len > VG_SERIES_MAX_NAME ? VG_SERIES_MAX_NAME : n->args[k]->str_len;
			memcpy(src, n->args[k]->str, sl);
			src[sl] = '\0';
			if (k > 3)
				vg_buf_append(&joined, sep->str, sep->str_len);
			sv = strcmp(src, "__name__") == 0 ? &s.name : vg_series_get(&s, src);
			if (sv != NULL)
				vg_buf_append(&joined, sv->p, sv->len);
		}
		if (vg_buf_failed(&joined)) {
			rc = VG_ENOMEM;
			break;
		}
		jv = (struct vg_str){ vg_buf_cstr(&joined), (uint32_t)joined.len };
		if ((rc = key_set_label(a.vec.s[i].key, a.vec.s[i].key_len, dst_name, jv.len ? &jv : NULL, &key)) == 0)
			rc = vec_push(&out->vec, key.data, key.len, a.vec.s[i].v);
	}
	if (rc == 0)
		rc = vec_check_unique(e, &out->vec);
	vg_buf_release(&joined);
	vg_buf_release(&key);
	value_release(&a);
	return rc == VG_ENOMEM ? oom(e) : rc;
}

#define MAX_GROUPS 64

/* Appends replacement with Go's regexp Expand rules: $1 ${1} $name
 * ${name} (a name is the longest run of letters, digits and "_"), $$ is
 * "$"; a group that does not exist or took no part is empty. */
static void expand(struct vg_buf *out, const char *repl, size_t n, const struct vg_regex *re,
		   const char *src, const long *starts, const size_t *lens)
{
	for (size_t i = 0; i < n; i++) {
		size_t a, b;
		long g = -1;
		bool is_num = true;

		if (repl[i] != '$' || i + 1 >= n) {
			vg_buf_putc(out, repl[i]);
			continue;
		}
		if (repl[i + 1] == '$') {
			vg_buf_putc(out, '$');
			i++;
			continue;
		}
		if (repl[i + 1] == '{') {
			a = i + 2;
			for (b = a; b < n && repl[b] != '}'; b++)
				;
			if (b >= n || b == a) {
				vg_buf_putc(out, '$'); /* not a reference: kept as written */
				continue;
			}
			i = b;
		} else {
			a = i + 1;
			for (b = a; b < n && (isalnum((unsigned char)repl[b]) || repl[b] == '_'); b++)
				;
			if (b == a) {
				vg_buf_putc(out, '$');
				continue;
			}
			i = b - 1;
		}
		for (size_t k = a; k < b; k++)
			is_num = is_num && isdigit((unsigned char)repl[k]);
		if (is_num && b - a <= 3)
			g = strtol(repl + a, NULL, 10);
		else if (!is_num)
			g = vg_regex_group_index(re, repl + a, b - a);
		if (g >= 0 && g < MAX_GROUPS && starts[g] >= 0)
			vg_buf_append(out, src + starts[g], lens[g]);
	}
}

/* label_replace(v, dst, replacement, src, regex): where regex matches the
 * whole value of src, dst becomes the expanded replacement (deleted when
 * empty); other series pass unchanged. */
static int eval_label_replace(struct ev *e, const struct vg_promql_node *n, int64_t t, struct value *out)
{
	const struct vg_promql_node *dst = n->args[1], *repl = n->args[2], *src = n->args[3], *rx = n->args[4];
	struct vg_regex *re = NULL;
	struct value a = { 0 };
	struct vg_buf key = VG_BUF_INIT, val = VG_BUF_INIT;
	struct vg_err rerr;
	char dst_name[VG_SERIES_MAX_NAME + 1], src_name[VG_SERIES_MAX_NAME + 1];
	long starts[MAX_GROUPS];
	size_t lens[MAX_GROUPS];
	bool is_src_named;
	int rc;

	if (!vg_label_name_valid(dst->str, dst->str_len) || dst->str_len > VG_SERIES_MAX_NAME)
		return vg_err_set(e->err, VG_EINVAL, "invalid destination label name in label_replace(): %.*s",
				  (int)(dst->str_len > 64 ? 64 : dst->str_len), dst->str);
	/* The source is not checked, as Prometheus does not: a name no label
	 * can have ("", "1x") reads as an absent label, value "". */
	is_src_named = vg_label_name_valid(src->str, src->str_len) && src->str_len <= VG_SERIES_MAX_NAME;
	/* Prometheus names the pattern, not the cause. */
	if ((rc = vg_regex_compile_groups(rx->str, rx->str_len, &re, &rerr)) != 0)
		return vg_err_set(e->err, rc, "invalid regular expression in label_replace(): %.*s",
				  (int)(rx->str_len > 200 ? 200 : rx->str_len), rx->str);
	memcpy(dst_name, dst->str, dst->str_len);
	dst_name[dst->str_len] = '\0';
	if (is_src_named)
		memcpy(src_name, src->str, src->str_len);
	src_name[is_src_named ? src->str_len : 0] = '\0';
	if ((rc = eval_node(e, n->args[0], t, &a)) != 0)
		goto out;
	for (size_t i = 0; i < a.vec.n && rc == 0; i++) {
		const struct sample *x = &a.vec.s[i];
		struct vg_series s;
		const struct vg_str *sv;
		struct vg_str empty = { "", 0 }, nv;
		int m;

		if (vg_series_from_key(x->key, x->key_len, &s) != 0) {
			rc = VG_EINVAL;
			break;
		}
		sv = !is_src_named ? NULL
		     : strcmp(src_name, "__name__") == 0 ? &s.name : vg_series_get(&s, src_name);
		if (sv == NULL)
			sv = &empty;
		m = vg_regex_match_groups(re, sv->p, sv->len, MAX_GROUPS, starts, lens);
		if (m < 0) {
			rc = vg_err_set(e->err, m, "label_replace(): the regular expression could not be matched");
			break;
		}
		if (m == 0) {
			rc = vec_push(&out->vec, x->key, x->key_len, x->v);
			continue;
		}
		vg_buf_reset(&val);
		expand(&val, repl->str, repl->str_len, re, sv->p, starts, lens);
		if (vg_buf_failed(&val)) {
			rc = VG_ENOMEM;
			break;
		}
		nv = (struct vg_str){ vg_buf_cstr(&val), (uint32_t)val.len };
		if ((rc = key_set_label(x->key, x->key_len, dst_name, nv.len ? &nv : NULL, &key)) == 0)
			rc = vec_push(&out->vec, key.data, key.len, x->v);
	}
	if (rc == 0)
		rc = vec_check_unique(e, &out->vec);
out:
	vg_regex_free(re);
	vg_buf_release(&key);
	vg_buf_release(&val);
	value_release(&a);
	return rc == VG_ENOMEM ? oom(e) : rc;
}

static int cmp_sort_asc(const void *x, const void *y)
{
	const struct sample *a = x, *b = y;

	if (isnan(a->v) || isnan(b->v))
		return isnan(a->v) - isnan(b->v); /* NaN last, as Prometheus sorts (both ways) */
	return a->v < b->v ? -1 : a->v > b->v;
}

static int cmp_sort_desc(const void *x, const void *y)
{
	const struct sample *a = x, *b = y;

	if (isnan(a->v) || isnan(b->v))
		return isnan(a->v) - isnan(b->v);
	return a->v > b->v ? -1 : a->v < b->v;
}

/* ---- sort_by_label ------------------------------------------------------ */

/* The next chunk of s from *i: a run of ASCII digits or of other bytes. */
static bool nat_chunk(struct vg_str s, size_t *i, struct vg_str *c, bool *is_digits)
{
	size_t k = *i;

	if (k >= s.len)
		return false;
	*is_digits = s.p[k] >= '0' && s.p[k] <= '9';
	while (k < s.len && (s.p[k] >= '0' && s.p[k] <= '9') == *is_digits)
		k++;
	*c = (struct vg_str){ s.p + *i, (uint32_t)(k - *i) };
	*i = k;
	return true;
}

/* A digit run as an int64, false when it does not fit (then it compares
 * as text, as strconv.Atoi's failure makes it in Prometheus). */
static bool nat_int(struct vg_str c, int64_t *v)
{
	*v = 0;
	for (uint32_t i = 0; i < c.len; i++) {
		if (*v > (INT64_MAX - (c.p[i] - '0')) / 10)
			return false;
		*v = *v * 10 + (c.p[i] - '0');
	}
	return true;
}

/*
 * Whether a sorts before b in the natural order Prometheus's sort_by_label
 * uses (facette/natsort's Compare): chunk by chunk, digit runs as numbers,
 * other runs as bytes; equal chunks go on, and the string whose chunks
 * run out first is the smaller ("a1" < "a1b", "a01" and "a1" each before
 * the other).
 */
static bool nat_less(struct vg_str a, struct vg_str b)
{
	size_t ia = 0, ib = 0;
	struct vg_str ca, cb;
	bool da, db;

	while (nat_chunk(a, &ia, &ca, &da)) {
		int64_t va, vb;
		bool is_last_a, is_last_b, is_equal;
		if (!nat_chunk(b, &ib, &cb, &db))
			return false;
		is_last_a = ia >= a.len;
		is_last_b = ib >= b.len;
		if (da && db && nat_int(ca, &va) && nat_int(cb, &vb)) {
			if (va != vb)
				return va < vb;
			is_equal = true;
		} else {
			int c = vg_str_cmp(ca, cb);
			if (c != 0)
				return c < 0;
			is_equal = true;
		}
		if (is_equal && is_last_a)
			return true;
		if (is_equal && is_last_b)
			return false;
	}
	return false;
}

struct by_label {
	const struct sample *s;
	struct vg_str *vals; /* of the labels asked for, "" when absent */
	size_t n;
	bool is_desc;
};

/* Label by label in natural order (bytewise where natsort says both come
 * first, so the order is total), then by the whole label set; reversed
 * for sort_by_label_desc. */
static int by_label_cmp(const void *x, const void *y)
{
	const struct by_label *a = x, *b = y;
	int c = 0;

	for (size_t i = 0; i < a->n && c == 0; i++) {
		bool lt, gt;
		if (vg_str_eq(a->vals[i], b->vals[i]))
			continue;
		lt = nat_less(a->vals[i], b->vals[i]);
		gt = nat_less(b->vals[i], a->vals[i]);
		c = lt != gt ? (lt ? -1 : 1) : vg_str_cmp(a->vals[i], b->vals[i]);
	}
	if (c == 0)
		c = vg_series_key_cmp(a->s->key, a->s->key_len, b->s->key, b->s->key_len);
	return a->is_desc ? -c : c;
}

static int eval_sort_by_label(struct ev *e, const struct vg_promql_node *n, int64_t t, struct value *out)
{
	struct value in = { 0 };
	struct by_label *bl = NULL;
	struct vg_str *vals = NULL;
	struct vg_series *ser = NULL;
	size_t n_lab = n->n_args - 1;
	int rc;

	if ((rc = eval_node(e, n->args[0], t, &in)) != 0)
		return rc;
	out->is_ordered = true;
	if (in.vec.n == 0)
		goto done;
	bl = calloc(in.vec.n, sizeof(*bl));
	ser = malloc(in.vec.n * sizeof(*ser));
	vals = calloc(in.vec.n * (n_lab ? n_lab : 1), sizeof(*vals));
	if (bl == NULL || ser == NULL || vals == NULL) {
		rc = oom(e);
		goto done;
	}
	for (size_t i = 0; i < in.vec.n; i++) {
		if (vg_series_from_key(in.vec.s[i].key, in.vec.s[i].key_len, &ser[i]) != 0) {
			rc = vg_err_set(e->err, VG_EINVAL, "sort_by_label: a damaged label set");
			goto done;
		}
		bl[i] = (struct by_label){ &in.vec.s[i], vals + i * n_lab, n_lab, n->func->name[13] == '_' };
		for (size_t k = 0; k < n_lab; k++) {
			const struct vg_promql_node *a = n->args[1 + k];
			const struct vg_str *v;
			if (a->kind != VG_PROMQL_STR) {
				rc = unsupported(e, "a computed label name in sort_by_label");
				goto done;
			}
			if (a->str_len == 8 && memcmp(a->str, "__name__", 8) == 0)
				v = &ser[i].name;
			else
				v = vg_series_get(&ser[i], a->str); /* NUL-terminated */
			bl[i].vals[k] = v ? *v : (struct vg_str){ "", 0 };
		}
	}
	qsort(bl, in.vec.n, sizeof(*bl), by_label_cmp);
	for (size_t i = 0; i < in.vec.n && rc == 0; i++)
		rc = vec_push(&out->vec, bl[i].s->key, bl[i].s->key_len, bl[i].s->v);
	if (rc != 0)
		rc = oom(e);
done:
	free(bl);
	free(ser);
	free(vals);
	value_release(&in);
	return rc;
}

static int eval_call(struct ev *e, const struct vg_promql_node *n, int64_t t, struct value *out)
{
	const char *name = n->func->name;
	struct value a = { 0 };
	int rc;

	out->type = n->type;
	if (strcmp(name, "rate") == 0 || strcmp(name, "irate") == 0 || strcmp(name, "increase") == 0 ||
	    strcmp(name, "delta") == 0 || strcmp(name, "idelta") == 0 || strcmp(name, "resets") == 0 ||
	    strcmp(name, "changes") == 0 || strcmp(name, "deriv") == 0 ||
	    strcmp(name, "predict_linear") == 0 || strstr(name, "_over_time") != NULL)
		return eval_range_fn(e, n, t, out);
	if (strcmp(name, "absent") == 0) {
		if ((rc = eval_node(e, n->args[0], t, &a)) != 0)
			return rc;
		rc = a.vec.n == 0 ? absent_labels(e, n->args[0], out) : 0;
		value_release(&a);
		return rc;
	}
	for (size_t i = 0; i < sizeof(math_fns) / sizeof(math_fns[0]); i++) {
		struct vg_buf key = VG_BUF_INIT;
		if (strcmp(name, math_fns[i].name) != 0)
			continue;
		if ((rc = eval_node(e, n->args[0], t, &a)) != 0)
			return rc;
		for (size_t k = 0; k < a.vec.n && rc == 0; k++)
			if ((rc = drop_name(a.vec.s[k].key, a.vec.s[k].key_len, &key)) == 0)
				rc = vec_push(&out->vec, key.data, key.len, math_fns[i].fn(a.vec.s[k].v));
		if (rc == 0 && vec_names_mixed(&a.vec))
			rc = vec_check_unique(e, &out->vec);
		vg_buf_release(&key);
		value_release(&a);
		return rc == VG_ENOMEM ? oom(e) : rc;
	}
	if (strcmp(name, "clamp") == 0 || strcmp(name, "clamp_min") == 0 || strcmp(name, "clamp_max") == 0)
		return eval_clamp(e, n, t, out);
	if (strcmp(name, "histogram_quantile") == 0)
		return eval_histogram_quantile(e, n, t, out);
	if (strcmp(name, "timestamp") == 0)
		return eval_timestamp(e, n, t, out);
	if (strcmp(name, "label_join") == 0)
		return eval_label_join(e, n, t, out);
	if (strcmp(name, "label_replace") == 0)
		return eval_label_replace(e, n, t, out);
	if (n->func->variadic == 1 && n->func->n_args == 1) /* the date functions */
		return eval_date(e, n, t, out);
	if (strcmp(name, "sort_by_label") == 0 || strcmp(name, "sort_by_label_desc") == 0)
		return eval_sort_by_label(e, n, t, out);
	if (strcmp(name, "sort") == 0 || strcmp(name, "sort_desc") == 0) {
		if ((rc = eval_node(e, n->args[0], t, out)) != 0)
			return rc;
		if (out->vec.n > 1)
			qsort(out->vec.s, out->vec.n, sizeof(*out->vec.s),
			      name[4] == '_' ? cmp_sort_desc : cmp_sort_asc);
		out->is_ordered = true;
		return 0;
	}
	if (strcmp(name, "pi") == 0) {
		out->scalar = M_PI;
		return 0;
	}
	if (strcmp(name, "round") == 0) {
		/* to the nearest multiple of to_nearest (1), halves up, as
		 * Prometheus: floor(v / to + 0.5) * to */
		struct value to = { 0 };
		struct vg_buf key = VG_BUF_INIT;
		double step = 1;
		if (n->n_args > 1) {
			if ((rc = eval_node(e, n->args[1], t, &to)) != 0)
				return rc;
			step = to.scalar;
		}
		if ((rc = eval_node(e, n->args[0], t, &a)) != 0)
			return rc;
		for (size_t k = 0; k < a.vec.n && rc == 0; k++) {
			double inv = 1.0 / step;
			double x = floor(a.vec.s[k].v * inv + 0.5) / inv;
			if ((rc = drop_name(a.vec.s[k].key, a.vec.s[k].key_len, &key)) == 0)
				rc = vec_push(&out->vec, key.data, key.len, x);
		}
		if (rc == 0 && vec_names_mixed(&a.vec))
			rc = vec_check_unique(e, &out->vec);
		vg_buf_release(&key);
		value_release(&a);
		return rc == VG_ENOMEM ? oom(e) : rc;
	}
	if (strcmp(name, "time") == 0) {
		out->scalar = (double)t / 1000.0;
		return 0;
	}
	if (strcmp(name, "vector") == 0) {
		if ((rc = eval_node(e, n->args[0], t, &a)) != 0)
			return rc;
		rc = vec_push(&out->vec, (const uint8_t *)"\xFF", 1, a.scalar);
		value_release(&a);
		return rc == 0 ? 0 : oom(e);
	}
	if (strcmp(name, "scalar") == 0) {
		if ((rc = eval_node(e, n->args[0], t, &a)) != 0)
			return rc;
		out->scalar = a.vec.n == 1 ? a.vec.s[0].v : NAN;
		value_release(&a);
		return 0;
	}
	{
		char what[96];
		snprintf(what, sizeof(what), "the function %s()", name);
		return unsupported(e, what);
	}
}

/* ---- aggregation --------------------------------------------------------- */

/* Sets label name to value (or deletes it when value is NULL) in the label
 * set of key, into out. */
static int key_set_label(const uint8_t *key, size_t key_len, const char *name, const struct vg_str *value,
			 struct vg_buf *out)
{
	struct vg_series s, r;
	struct vg_str nm = vg_str_c(name);
	bool is_done = value == NULL;

	vg_buf_reset(out);
	if (vg_series_from_key(key, key_len, &s) != 0)
		return VG_EINVAL;
	if (strcmp(name, "__name__") == 0) {
		/* the metric name is not a label of the key */
		s.name = value ? *value : (struct vg_str){ "", 0 };
		vg_series_key(&s, out);
		return vg_buf_failed(out) ? VG_ENOMEM : 0;
	}
	r.name = s.name;
	r.n_labels = 0;
	for (uint32_t i = 0; i <= s.n_labels; i++) {
		int c = i < s.n_labels ? vg_str_cmp(s.labels[i].name, nm) : 1;
		if (!is_done && c >= 0) {
			if (r.n_labels >= VG_SERIES_MAX_LABELS)
				return VG_EINVAL;
			r.labels[r.n_labels++] = (struct vg_label){ nm, *value };
			is_done = true;
		}
		if (i < s.n_labels && c != 0)
			r.labels[r.n_labels++] = s.labels[i];
	}
	vg_series_key(&r, out);
	return vg_buf_failed(out) ? VG_ENOMEM : 0;
}

/* One more value of a group of aggregation op (in input order). */
static inline __attribute__((always_inline)) void agg_add(enum vg_promql_agg op, struct agg_acc *a, double v)
{
	double delta;

	switch (op) {
	case VG_PROMQL_SUM:
		/* Kahan-Babuska-Neumaier, as Prometheus sums */
		a->sum = kahan_inc(v, a->sum, &a->c);
		break;
	case VG_PROMQL_AVG:
		avg_add(a, v);
		return;
	case VG_PROMQL_MIN:
		if (a->n == 0 || v < a->mean || isnan(a->mean))
			a->mean = v;
		break;
	case VG_PROMQL_MAX:
		if (a->n == 0 || v > a->mean || isnan(a->mean))
			a->mean = v;
		break;
	case VG_PROMQL_STDDEV: case VG_PROMQL_STDVAR:
		/* Welford's running mean and squared deviation */
		delta = v - a->mean;
		a->mean += delta / (double)(a->n + 1);
		a->m2 += delta * (v - a->mean);
		break;
	default:
		break;
	}
	a->n++;
}

/* The value of a group of op (not quantile, topk, bottomk, limitk,
 * limit_ratio, count_values) after agg_add of its a->n > 0 values. */
static double agg_result(enum vg_promql_agg op, const struct agg_acc *a)
{
	switch (op) {
	case VG_PROMQL_SUM: return a->sum + a->c;
	case VG_PROMQL_AVG: return avg_result(a);
	case VG_PROMQL_COUNT: return (double)a->n;
	case VG_PROMQL_GROUP: return 1;
	case VG_PROMQL_STDVAR: return a->m2 / (double)a->n;
	case VG_PROMQL_STDDEV: return sqrt(a->m2 / (double)a->n);
	default: return a->mean; /* min, max */
	}
}

/* For topk: a before b when greater, NaN last; bottomk: smaller first. */
struct ranked {
	double v;
	size_t idx;
};

static int cmp_desc(const void *x, const void *y)
{
	const struct ranked *a = x, *b = y;

	if (isnan(a->v) || isnan(b->v))
		return isnan(a->v) - isnan(b->v);
	return a->v > b->v ? -1 : a->v < b->v;
}

static int cmp_asc(const void *x, const void *y)
{
	const struct ranked *a = x, *b = y;

	if (isnan(a->v) || isnan(b->v))
		return isnan(a->v) - isnan(b->v);
	return a->v < b->v ? -1 : a->v > b->v;
}

/* NaN smallest, as Prometheus sorts for quantile. */
static int cmp_nan_first(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	if (isnan(a) || isnan(b))
		return isnan(b) - isnan(a);
	return a < b ? -1 : a > b;
}

/* quantile over sorted v[0..n) (promql-subset.md). */
static double quantile_of(double q, double *v, size_t n)
{
	double rank, w;
	size_t lo, hi;

	if (n == 0 || isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	qsort(v, n, sizeof(*v), cmp_nan_first);
	rank = q * (double)(n - 1);
	lo = (size_t)floor(rank);
	hi = lo + 1 < n ? lo + 1 : lo;
	w = rank - floor(rank);
	return v[lo] * (1 - w) + v[hi] * w;
}

/* Where a label set falls in [0, 1] for limit_ratio: Prometheus's
 * labels.Hash (XXH64 of name 0xFF value 0xFF for every label in name
 * order, __name__ among them) over 2^64. */
static int ratio_offset(const uint8_t *key, size_t key_len, struct vg_buf *b, double *off)
{
	struct vg_series s;
	bool has_name;

	if (vg_series_from_key(key, key_len, &s) != 0)
		return VG_EINVAL;
	has_name = s.name.len > 0;
	vg_buf_reset(b);
	for (uint32_t i = 0; i <= s.n_labels; i++) {
		if (has_name && (i == s.n_labels || vg_str_cmp(s.labels[i].name, vg_str_c("__name__")) > 0)) {
			vg_buf_puts(b, "__name__\xFF");
			vg_buf_append(b, s.name.p, s.name.len);
			vg_buf_putc(b, (char)0xFF);
			has_name = false;
		}
		if (i == s.n_labels)
			break;
		vg_buf_append(b, s.labels[i].name.p, s.labels[i].name.len);
		vg_buf_putc(b, (char)0xFF);
		vg_buf_append(b, s.labels[i].value.p, s.labels[i].value.len);
		vg_buf_putc(b, (char)0xFF);
	}
	if (vg_buf_failed(b))
		return VG_ENOMEM;
	*off = (double)XXH64(b->data, b->len, 0) / (double)UINT64_MAX;
	return 0;
}

/*
 * limitk and limit_ratio over one group (g[0..cnt), in input order), as
 * Prometheus 3: limitk keeps the first k elements of the group (k < 1:
 * none); limit_ratio(r) keeps an element when the offset of its label
 * set is below r, or for r < 0 at least 1 + r (so r and r - 1 split the
 * input in two), r clamped to [-1, 1]. A NaN k or r is an error before
 * (check_agg_param). Labels, name included, and values are the elements'
 * own.
 */
static int limit_group(enum vg_promql_agg agg, double p, const struct vec *in, const struct sig *g,
		       size_t cnt, struct vg_buf *scratch, struct vec *out)
{
	int rc = 0;

	if (agg == VG_PROMQL_LIMITK) {
		size_t take = p < 1 ? 0 : p >= (double)cnt ? cnt : (size_t)p;
		for (size_t k = 0; k < take && rc == 0; k++) {
			const struct sample *x = &in->s[g[k].idx];
			rc = vec_push(out, x->key, x->key_len, x->v);
		}
		return rc;
	}
	if (p > 1)
		p = 1;
	if (p < -1)
		p = -1;
	for (size_t k = 0; k < cnt && rc == 0; k++) {
		const struct sample *x = &in->s[g[k].idx];
		double off;
		if ((rc = ratio_offset(x->key, x->key_len, scratch, &off)) != 0)
			break;
		if ((p >= 0 && off < p) || (p < 0 && off >= 1 + p))
			rc = vec_push(out, x->key, x->key_len, x->v);
	}
	return rc;
}

/* count_values: sets label name[0..len) of every element of v to the
 * element's value as text (strconv.FormatFloat(v, 'f', -1, 64), as
 * Prometheus writes it), replacing the keys in place. */
static int count_values_relabel(struct vec *v, const char *name, size_t len, struct vg_buf *key)
{
	char nm[VG_SERIES_MAX_NAME + 1];
	int rc = 0;

	if (len >= sizeof(nm))
		return VG_EINVAL;
	memcpy(nm, name, len);
	nm[len] = '\0';
	for (size_t k = 0; k < v->n && rc == 0; k++) {
		struct vg_buf text = VG_BUF_INIT;
		struct vg_str tv;
		uint8_t *copy;
		vg_promql_print_number(&text, v->s[k].v);
		tv = (struct vg_str){ vg_buf_cstr(&text), (uint32_t)text.len };
		if (vg_buf_failed(&text))
			rc = VG_ENOMEM;
		else if ((rc = key_set_label(v->s[k].key, v->s[k].key_len, nm, &tv, key)) == 0) {
			if ((copy = malloc(key->len ? key->len : 1)) == NULL) {
				rc = VG_ENOMEM;
			} else {
				memcpy(copy, key->data, key->len);
				free(v->s[k].key);
				v->s[k].key = copy;
				v->s[k].key_len = key->len;
			}
		}
		vg_buf_release(&text);
	}
	return rc;
}

/* The groups of count_values: by (ls) is by (ls, name), without as given. */
static int count_values_groups(const struct vec *v, const struct vg_promql_labels *grouping, bool is_by,
			       const char *name, size_t len, struct sig **out)
{
	struct vg_promql_labels by = *grouping;
	char nm[VG_SERIES_MAX_NAME + 1];
	char **names = NULL;
	int rc;

	if (!is_by)
		return sigs_make(v, grouping, false, out);
	if (len >= sizeof(nm))
		return VG_EINVAL;
	memcpy(nm, name, len);
	nm[len] = '\0';
	if ((names = malloc((grouping->n + 1) * sizeof(*names))) == NULL)
		return VG_ENOMEM;
	for (size_t i = 0; i < grouping->n; i++)
		names[i] = grouping->names[i];
	names[grouping->n] = nm;
	by.n = grouping->n + 1;
	by.names = names;
	rc = sigs_make(v, &by, true, out);
	free(names);
	return rc;
}

/* ---- aggregations of a range function, all steps at once -------------- */

/*
 * sum, avg, min, max, count, group, stddev and stdvar (by or without) of
 * rate, increase, delta, irate, idelta and the _over_time functions that
 * drop the name and read nothing but the window (sum, avg, min, max,
 * count, stddev, stdvar, present), changes and resets, over a range
 * selector: the shape of most dashboard and rule queries. Their steps are
 * computed series by series rather than step by step: each series is read
 * once into one reused buffer, its group found once, and its windows slid
 * over for every step, each value added to the accumulator of its (step,
 * group). The values reach each accumulator in the order the step-by-step
 * evaluation adds them (series order), so the answers are the same to the
 * bit. Steps whose window the planner reads from a rollup tier are left to
 * the step-by-step evaluation (eval_rollup_fn).
 */
enum fused_fn { FUSED_RATE, FUSED_INCREASE, FUSED_DELTA, FUSED_IRATE, FUSED_IDELTA, FUSED_OVER };

/* The results of one aggregation node for the steps of a range query
 * (or the one step of an instant evaluation). */
struct fused {
	const struct vg_promql_node *node;
	size_t n_steps, n_groups;
	struct vg_buf *keys;    /* of each group, ascending */
	struct agg_acc *acc;    /* [step * n_groups + group] */
	bool *done;             /* per step: computed here */
	uint64_t *n_read;       /* per step: the samples its windows held */
};

/* Most (step, group) accumulators one aggregation computes at once
 * (48 bytes each); more are left to the step-by-step evaluation. */
#define FUSED_MAX_CELLS (1u << 20)

static void fused_free(struct fused *f)
{
	if (f == NULL)
		return;
	for (size_t g = 0; f->keys && g < f->n_groups; g++)
		vg_buf_release(&f->keys[g]);
	free(f->keys);
	free(f->acc);
	free(f->done);
	free(f->n_read);
	free(f);
}

static void fused_release(struct ev *e)
{
	for (size_t i = 0; i < e->n_fused; i++)
		fused_free(e->fused[i]);
	free(e->fused);
	free(e->drops);
	e->fused = NULL;
	e->drops = NULL;
	e->n_fused = e->drops_cap = 0;
}

/* Whether n has the shape above: its range selector node in *m, the
 * function in *fn and *name. */
static bool fused_shape(const struct vg_promql_node *n, const struct vg_promql_node **m, enum fused_fn *fn,
			const char **name)
{
	static const char *const over[] = { "sum_over_time", "avg_over_time", "min_over_time", "max_over_time",
					    "count_over_time", "stddev_over_time", "stdvar_over_time",
					    "present_over_time", "changes", "resets" };
	const struct vg_promql_node *c = n->expr;
	static const struct vg_str name_label = { "__name__", 8 };

	switch (n->agg) {
	case VG_PROMQL_SUM: case VG_PROMQL_AVG: case VG_PROMQL_MIN: case VG_PROMQL_MAX:
	case VG_PROMQL_COUNT: case VG_PROMQL_GROUP: case VG_PROMQL_STDDEV: case VG_PROMQL_STDVAR:
		break;
	default:
		return false;
	}
	/* by (__name__): the function dropped it; the general path says so */
	if (n->param != NULL || (!n->is_without && in_list(&n->grouping, name_label)))
		return false;
	while (c->kind == VG_PROMQL_PAREN)
		c = c->expr;
	if (c->kind != VG_PROMQL_CALL || c->n_args != 1 || c->func == NULL)
		return false;
	*m = c->args[0];
	while ((*m)->kind == VG_PROMQL_PAREN)
		*m = (*m)->expr;
	if ((*m)->kind != VG_PROMQL_MATRIX_SEL || (*m)->range_ms <= 0)
		return false;
	*name = c->func->name;
	if (strcmp(*name, "rate") == 0)
		*fn = FUSED_RATE;
	else if (strcmp(*name, "increase") == 0)
		*fn = FUSED_INCREASE;
	else if (strcmp(*name, "delta") == 0)
		*fn = FUSED_DELTA;
	else if (strcmp(*name, "irate") == 0)
		*fn = FUSED_IRATE;
	else if (strcmp(*name, "idelta") == 0)
		*fn = FUSED_IDELTA;
	else {
		size_t i;
		for (i = 0; i < sizeof(over) / sizeof(*over); i++)
			if (strcmp(*name, over[i]) == 0)
				break;
		if (i == sizeof(over) / sizeof(*over))
			return false;
		*fn = FUSED_OVER;
	}
	return true;
}

/* irate, idelta or an _over_time function fn over the window
 * ts/v[0..n). false: no value. */
static bool fused_value(enum fused_fn fn, const char *name, const int64_t *ts, const double *v, size_t n,
			double *out)
{
	bool keeps_name;

	switch (fn) {
	case FUSED_IRATE: return instant_value(ts, v, n, true, out);
	case FUSED_IDELTA: return instant_value(ts, v, n, false, out);
	case FUSED_OVER: return n > 0 && over_time(name, v, n, 0, NULL, out, &keeps_name);
	default: return false; /* extrapolated: fused_steps */
	}
}

/* The groups of the selection's series: group[i] for series i, the keys
 * of the groups ascending in f. Each series' group key is looked up in a
 * table of the distinct ones (a selection has many series to a group),
 * and only those are sorted. */
static int fused_groups(const struct vg_promql_node *n, struct vg_storage_set *set, size_t *group,
			struct fused *f)
{
	size_t cnt = vg_storage_set_len(set), nd = 0, cap = 16;
	struct sig *d = calloc(cnt ? cnt : 1, sizeof(*d));
	uint32_t *slot = malloc(cap * sizeof(*slot));
	size_t *rank = NULL;
	struct vg_buf k = VG_BUF_INIT;
	int rc = 0;

	if (d == NULL || slot == NULL) {
		free(d);
		free(slot);
		return VG_ENOMEM;
	}
	memset(slot, 0xff, cap * sizeof(*slot));
	for (size_t i = 0; i < cnt && rc == 0; i++) {
		const uint8_t *key;
		size_t len, at;
		vg_storage_set_key(set, i, &key, &len);
		if ((rc = reduce_key(key, len, &n->grouping, !n->is_without, true, &k)) != 0)
			break;
		if (2 * (nd + 1) > cap) {
			/* load at most 1/2: twice the slots, the distinct keys placed again */
			uint32_t *p = malloc(2 * cap * sizeof(*p));
			if (p == NULL) {
				rc = VG_ENOMEM;
				break;
			}
			free(slot);
			slot = p;
			cap *= 2;
			memset(slot, 0xff, cap * sizeof(*slot));
			for (size_t j = 0; j < nd; j++) {
				at = XXH3_64bits(d[j].key.data, d[j].key.len) & (cap - 1);
				while (slot[at] != UINT32_MAX)
					at = (at + 1) & (cap - 1);
				slot[at] = (uint32_t)j;
			}
		}
		at = XXH3_64bits(k.data, k.len) & (cap - 1);
		while (slot[at] != UINT32_MAX &&
		       key_cmp(d[slot[at]].key.data, d[slot[at]].key.len, k.data, k.len) != 0)
			at = (at + 1) & (cap - 1);
		if (slot[at] == UINT32_MAX) {
			slot[at] = (uint32_t)nd;
			d[nd].key = k;
			d[nd].idx = nd;
			nd++;
			vg_buf_init(&k);
		}
		group[i] = slot[at];
	}
	vg_buf_release(&k);
	if (rc == 0 && nd > 1)
		qsort(d, nd, sizeof(*d), sig_cmp);
	if (rc == 0 && ((f->keys = calloc(nd ? nd : 1, sizeof(*f->keys))) == NULL ||
			(rank = malloc((nd ? nd : 1) * sizeof(*rank))) == NULL))
		rc = VG_ENOMEM;
	for (size_t g = 0; g < nd && rc == 0; g++) {
		rank[d[g].idx] = g;
		f->keys[g] = d[g].key;
		vg_buf_init(&d[g].key);
	}
	for (size_t i = 0; i < cnt && rc == 0; i++)
		group[i] = rank[group[i]];
	f->n_groups = rc == 0 ? nd : 0;
	sigs_free(d, nd);
	free(slot);
	free(rank);
	return rc;
}

/* What one thread of fused_run reads a series with. */
struct fused_worker {
	struct vg_storage_reader *rd; /* NULL: the set itself (the evaluating thread) */
	struct vg_samples *smp;
	uint32_t **drops;
	size_t *drops_cap;
	uint64_t *n_read; /* per step: the samples its windows held */
	struct vg_err err;
};

/* The steps of one fused_run, shared read only by its threads. */
struct fused_job {
	struct vg_storage_set *set;
	enum fused_fn fn;
	const char *name;
	const bool *done;
	const int64_t *from, *to;
	int64_t lo, hi;
	size_t n_steps;
};

/* The counter resets of x (the i with values[i] < values[i - 1]),
 * ascending, into (*drops)[0..*n). */
static int fused_drops(const struct vg_samples *x, uint32_t **drops, size_t *cap, size_t *n)
{
	uint32_t *d;
	size_t k = 0;

	if (x->n > *cap) {
		void *p = realloc(*drops, x->n * sizeof(**drops));
		if (p == NULL)
			return VG_ENOMEM;
		*drops = p;
		*cap = x->n;
	}
	d = *drops;
	for (size_t i = 1; i < x->n; i++)
		if (x->values[i] < x->values[i - 1])
			d[k++] = (uint32_t)i;
	*n = k;
	return 0;
}

/* Whether some v[i] < v[i - 1] (a counter's drop), four at a time where
 * SSE2 compares them as the scalar < does (NaN: no drop). */
static bool has_drop(const double *v, size_t n)
{
	size_t i = 1;
#ifdef __SSE2__
	__m128d acc0 = _mm_setzero_pd(), acc1 = _mm_setzero_pd();
	for (; i + 4 <= n; i += 4) {
		acc0 = _mm_or_pd(acc0, _mm_cmplt_pd(_mm_loadu_pd(v + i), _mm_loadu_pd(v + i - 1)));
		acc1 = _mm_or_pd(acc1, _mm_cmplt_pd(_mm_loadu_pd(v + i + 2), _mm_loadu_pd(v + i + 1)));
	}
	if (_mm_movemask_pd(_mm_or_pd(acc0, acc1)))
		return true;
#endif
	for (; i < n; i++)
		if (v[i] < v[i - 1])
			return true;
	return false;
}

/* One pass over v[0..n): whether it holds a NaN (a stale marker is one),
 * and, with want_drops, whether some v[i] < v[i - 1] (as has_drop; only
 * meaningful when there is no NaN). Four at a time where SSE2 has them. */
static bool has_nan_or_drop(const double *v, size_t n, bool want_drops, bool *drops)
{
	size_t i = 0;
	bool nan = false;

	*drops = false;
#ifdef __SSE2__
	__m128d un = _mm_setzero_pd(), lt = _mm_setzero_pd();
	if (want_drops) {
		if (n > 0 && isnan(v[0]))
			return true;
		for (i = 1; i + 4 <= n; i += 4) {
			__m128d x0 = _mm_loadu_pd(v + i), x1 = _mm_loadu_pd(v + i + 2);
			un = _mm_or_pd(un, _mm_or_pd(_mm_cmpunord_pd(x0, x0), _mm_cmpunord_pd(x1, x1)));
			lt = _mm_or_pd(lt, _mm_or_pd(_mm_cmplt_pd(x0, _mm_loadu_pd(v + i - 1)),
						     _mm_cmplt_pd(x1, _mm_loadu_pd(v + i + 1))));
		}
		for (; i < n; i++) {
			nan |= isnan(v[i]);
			*drops |= v[i] < v[i - 1];
		}
		*drops |= _mm_movemask_pd(lt) != 0;
	} else {
		for (; i + 4 <= n; i += 4) {
			__m128d x0 = _mm_loadu_pd(v + i), x1 = _mm_loadu_pd(v + i + 2);
			un = _mm_or_pd(un, _mm_or_pd(_mm_cmpunord_pd(x0, x0), _mm_cmpunord_pd(x1, x1)));
		}
	}
	nan |= _mm_movemask_pd(un) != 0;
	for (; i < n; i++)
		nan |= isnan(v[i]);
#else
	for (; i < n; i++)
		nan |= isnan(v[i]);
	if (!nan && want_drops)
		*drops = has_drop(v, n);
#endif
	return nan;
}

/* The first index from a on (ts[a - 1] <= t, or a == 0) with ts > t,
 * looked for first at a + guess (clamped to n), then stepped back or on
 * from there: a window sliding over a regular series moves its edges by
 * the same number of samples at every step. */
static inline size_t slide_to(const int64_t *ts, size_t n, size_t a, int64_t t, size_t guess)
{
	size_t g = guess < n - a ? a + guess : n;

	while (g > a && ts[g - 1] > t)
		g--;
	while (g < n && ts[g] <= t)
		g++;
	return g;
}

/*
 * The steps of j over x's samples into val[k], has[k] (left false: no
 * value), fn a constant where fused_series calls it, so that each
 * function gets a loop of its own. Each window's edges slide on from the
 * step before; a counter's raw increase over a window is its last value
 * less its first plus the value before each reset inside it, the resets
 * taken from drops[0..n_drops) (ascending), so a window costs the same
 * whatever its length, plus its resets, and the additions come in sample
 * order as in extrapolated_scan.
 */
static inline __attribute__((always_inline)) void fused_steps(const struct fused_job *j, const struct vg_samples *x,
								const uint32_t *drops, size_t n_drops,
								enum fused_fn fn, uint64_t *n_read, double *val,
								bool *has)
{
	const int64_t *ts = x->ts_ms;
	const double *v = x->values;
	struct x_memo memo = { 0 };
	size_t a = 0, b = 0, r = 0;

	for (size_t k = 0, da = 0, db = 0, moves = 0; k < j->n_steps; k++) {
		if (!j->done[k])
			continue;
		/* each edge guessed to move as far as at the step before */
		size_t na = slide_to(ts, x->n, a, j->from[k], da);
		if (b < na)
			b = na;
		size_t nb = slide_to(ts, x->n, b, j->to[k], db);
		if (moves++) {
			da = na - a;
			db = nb - b;
		}
		a = na;
		b = nb;
		n_read[k] += b - a;
		if (b <= a)
			continue;
		if (fn == FUSED_RATE || fn == FUSED_INCREASE || fn == FUSED_DELTA) {
			if (b - a < 2)
				continue;
			double res = v[b - 1] - v[a];
			if (fn != FUSED_DELTA && n_drops) {
				/* the resets at a + 1 .. b - 1 */
				while (r < n_drops && drops[r] <= a)
					r++;
				for (size_t q = r; q < n_drops && drops[q] < b; q++)
					res += v[drops[q] - 1];
			}
			val[k] = extrapolate(ts + a, v + a, b - a, j->from[k], j->to[k], fn != FUSED_DELTA,
					     fn == FUSED_RATE, res, &memo);
			has[k] = true;
		} else
			has[k] = fused_value(fn, j->name, ts + a, v + a, b - a, &val[k]);
	}
}

/* Series i of j read (stale markers dropped; *n_held: the samples left)
 * and its value at each step into val[k], has[k] (false: none). */
static int fused_series(const struct fused_job *j, struct fused_worker *w, size_t i, double *val, bool *has,
			uint64_t *n_held)
{
	const struct vg_samples *x = w->smp;
	bool counts_drops = j->fn == FUSED_RATE || j->fn == FUSED_INCREASE, drops;
	size_t n_drops = 0;
	int rc;

	memset(has, 0, j->n_steps * sizeof(*has));
	*n_held = 0;
	rc = w->rd ? vg_storage_reader_read(w->rd, i, j->lo, j->hi, w->smp, &w->err)
		   : vg_storage_set_read(j->set, i, j->lo, j->hi, w->smp, &w->err);
	if (rc != 0)
		return rc;
	/* stale markers (NaNs) and counter resets looked for in one pass;
	 * only where there is a NaN are the markers dropped and the resets
	 * looked for again */
	if (has_nan_or_drop(x->values, x->n, counts_drops, &drops)) {
		vg_span_drop_stale(w->smp);
		drops = counts_drops && has_drop(x->values, x->n);
	}
	*n_held = x->n;
	if (x->n == 0)
		return 0;
	/* the resets listed only where there is one (a counter seldom resets) */
	if (drops && fused_drops(x, w->drops, w->drops_cap, &n_drops) != 0)
		return vg_err_set(&w->err, VG_ENOMEM, "out of memory evaluating the query");
	switch (j->fn) {
	case FUSED_RATE:
		fused_steps(j, x, *w->drops, n_drops, FUSED_RATE, w->n_read, val, has);
		break;
	case FUSED_INCREASE:
		fused_steps(j, x, *w->drops, n_drops, FUSED_INCREASE, w->n_read, val, has);
		break;
	case FUSED_DELTA:
		fused_steps(j, x, NULL, 0, FUSED_DELTA, w->n_read, val, has);
		break;
	default:
		fused_steps(j, x, NULL, 0, j->fn, w->n_read, val, has);
		break;
	}
	return 0;
}

/*
 * One round of a fused_run: the series [r0, r1) of job, their values
 * into val/has/held at index i - r0, then added to acc. Both threads
 * take the series FUSED_TAKE at a time from next, so that each reads
 * as many as it has time for; then each adds its own steps of all of
 * them (the evaluating thread [0, k_mid), the helper the rest), each
 * (step, group) in series order, as the step-by-step evaluation adds.
 */
struct fused_round {
	const struct fused_job *job;
	enum vg_promql_agg agg;
	const size_t *group;
	struct agg_acc *acc; /* [step * n_groups + group] */
	size_t n_groups, r0, r1, k_mid;
	atomic_size_t next;
	double *val;
	bool *has;
	uint64_t *held;
};

/* Series taken at once from a round. */
#define FUSED_TAKE 8

/*
 * The second thread of a large fused_run: in each round the evaluating
 * thread hands it (under mu), the series it takes, then its steps of the
 * sums.
 */
struct fused_helper {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu: TASK (read) -> READ -> ADD (up to end) -> DONE */
	enum fused_stage { FH_IDLE, FH_TASK, FH_READ, FH_ADD, FH_DONE, FH_QUIT } state;
	struct fused_round *rd;
	struct fused_worker w;
	struct vg_samples smp;
	uint32_t *drops;
	size_t drops_cap;
	size_t err_at; /* the series whose read failed (w.err), r1 if none */
};

/* The series w takes from rd until none is left or one fails: *err_at
 * (rd->r1 if none; the error in w->err). The series it took before that
 * one are read: they are taken in ascending order. */
static void fused_take(struct fused_round *rd, struct fused_worker *w, size_t *err_at)
{
	const struct fused_job *j = rd->job;

	*err_at = rd->r1;
	for (;;) {
		size_t a = atomic_fetch_add_explicit(&rd->next, FUSED_TAKE, memory_order_relaxed);
		if (a >= rd->r1)
			return;
		size_t b = rd->r1 - a < FUSED_TAKE ? rd->r1 : a + FUSED_TAKE;
		for (size_t i = a; i < b; i++) {
			size_t r = i - rd->r0;
			if (fused_series(j, w, i, rd->val + r * j->n_steps, rd->has + r * j->n_steps, &rd->held[r]) != 0) {
				*err_at = i;
				return;
			}
		}
	}
}

/* Steps [k0, k1) of the round's series into its sums, op a constant
 * where fused_add calls it (a loop of its own for the common ones). */
static inline __attribute__((always_inline)) void fused_add_op(const struct fused_round *rd, size_t k0, size_t k1,
								 enum vg_promql_agg op)
{
	size_t n_steps = rd->job->n_steps;

	for (size_t i = rd->r0; i < rd->r1; i++) {
		const double *v = rd->val + (i - rd->r0) * n_steps;
		const bool *hv = rd->has + (i - rd->r0) * n_steps;
		struct agg_acc *acc = rd->acc + rd->group[i];
		for (size_t k = k0; k < k1; k++)
			if (hv[k])
				agg_add(op, &acc[k * rd->n_groups], v[k]);
	}
}

static void fused_add(const struct fused_round *rd, size_t k0, size_t k1)
{
	switch (rd->agg) {
	case VG_PROMQL_AVG:
		fused_add_op(rd, k0, k1, VG_PROMQL_AVG);
		break;
	case VG_PROMQL_SUM:
		fused_add_op(rd, k0, k1, VG_PROMQL_SUM);
		break;
	default:
		fused_add_op(rd, k0, k1, rd->agg);
		break;
	}
}

static void *fused_helper_main(void *arg)
{
	struct fused_helper *h = arg;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (h->state != FH_TASK && h->state != FH_ADD && h->state != FH_QUIT)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->state == FH_QUIT)
			break;
		bool is_read = h->state == FH_TASK;
		pthread_mutex_unlock(&h->mu);
		if (is_read) {
			size_t err_at;
			fused_take(h->rd, &h->w, &err_at);
			pthread_mutex_lock(&h->mu);
			h->err_at = err_at;
			h->state = FH_READ;
		} else {
			fused_add(h->rd, h->rd->k_mid, h->rd->job->n_steps);
			pthread_mutex_lock(&h->mu);
			h->state = FH_DONE;
		}
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* Hands h the next stage of its round (FH_TASK, FH_ADD), or waits until
 * it has done the one it has (FH_READ, FH_DONE). */
static void fused_helper_to(struct fused_helper *h, enum fused_stage state)
{
	pthread_mutex_lock(&h->mu);
	if (state == FH_TASK || state == FH_ADD) {
		h->state = state;
		pthread_cond_broadcast(&h->cv);
	} else
		while (h->state != state)
			pthread_cond_wait(&h->cv, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

/* Most series of a fused_run one round computes, by (series * steps)
 * cells of 9 bytes; at least FUSED_ROUND_MIN series. */
#define FUSED_ROUND_CELLS (1u << 18)
#define FUSED_ROUND_MIN 256
/* Selections of fewer series are read on the evaluating thread alone. */
#define FUSED_PAR_MIN 4096

static void fused_helper_stop(struct fused_helper *h)
{
	pthread_mutex_lock(&h->mu);
	h->state = FH_QUIT;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->th, NULL);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	vg_storage_reader_free(h->w.rd);
	vg_samples_release(&h->smp);
	free(h->drops);
	free(h->w.n_read);
}

/* A second thread for the rounds rd of job, when it is worth one; NULL
 * otherwise (or when one cannot be had: the evaluating thread then reads
 * alone). */
static struct fused_helper *fused_helper_start(const struct fused_job *j, struct fused_round *rd, size_t cnt)
{
	struct fused_helper *h;

	if (cnt < FUSED_PAR_MIN || sysconf(_SC_NPROCESSORS_ONLN) < 2 || (h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->rd = rd;
	h->w.smp = &h->smp;
	h->w.drops = &h->drops;
	h->w.drops_cap = &h->drops_cap;
	if ((h->w.n_read = calloc(j->n_steps, sizeof(*h->w.n_read))) == NULL ||
	    vg_storage_reader_new(j->set, &h->w.rd) != 0 || pthread_mutex_init(&h->mu, NULL) != 0)
		goto fail;
	if (pthread_cond_init(&h->cv, NULL) != 0) {
		pthread_mutex_destroy(&h->mu);
		goto fail;
	}
	if (pthread_create(&h->th, NULL, fused_helper_main, h) != 0) {
		pthread_cond_destroy(&h->cv);
		pthread_mutex_destroy(&h->mu);
		goto fail;
	}
	return h;
fail:
	vg_storage_reader_free(h->w.rd);
	free(h->w.n_read);
	free(h);
	return NULL;
}

/*
 * The groups of the series of job (group, f's keys and accumulators:
 * *stepwise when there are too many for them), then the series in
 * rounds (struct fused_round), on the helper thread too when there is
 * one, which reads the first round's series while the groups are made;
 * the limits are checked series by series in series order, so that what
 * a query answers or refuses does not depend on the threads.
 */
static int fused_rounds(struct ev *e, const struct vg_promql_node *n, const struct fused_job *job,
			struct fused *f, size_t *group, size_t cnt, uint64_t held, bool *stepwise)
{
	size_t n_steps = job->n_steps, per = FUSED_ROUND_CELLS / (n_steps ? n_steps : 1);
	struct fused_worker w = { NULL, &e->smp, &e->drops, &e->drops_cap, f->n_read, { 0, "" } };
	struct fused_round rd = { job, n->agg, group, NULL, 0, 0, 0, n_steps, 0, NULL, NULL, NULL };
	struct fused_helper *h;
	int rc = 0;

	if (per < FUSED_ROUND_MIN)
		per = FUSED_ROUND_MIN;
	if (per > cnt)
		per = cnt ? cnt : 1;
	rd.val = malloc(per * n_steps * sizeof(*rd.val) + 1);
	rd.has = malloc(per * n_steps * sizeof(*rd.has) + 1);
	rd.held = malloc(per * sizeof(*rd.held));
	if (rd.val == NULL || rd.has == NULL || rd.held == NULL) {
		free(rd.val);
		free(rd.has);
		free(rd.held);
		return oom(e);
	}
	h = fused_helper_start(job, &rd, cnt);
	rd.r1 = cnt < per ? cnt : per;
	if (h) {
		rd.k_mid = n_steps / 2;
		fused_helper_to(h, FH_TASK);
	}
	if (fused_groups(n, job->set, group, f) != 0)
		rc = oom(e);
	else if (f->n_groups && n_steps > FUSED_MAX_CELLS / f->n_groups)
		*stepwise = true;
	else if ((f->acc = calloc(n_steps * f->n_groups + 1, sizeof(*f->acc))) == NULL)
		rc = oom(e);
	rd.acc = f->acc;
	rd.n_groups = f->n_groups;
	if (h && (rc != 0 || *stepwise)) {
		/* what the helper has not taken yet is left */
		atomic_store_explicit(&rd.next, rd.r1, memory_order_relaxed);
		fused_helper_to(h, FH_READ);
	}
	for (size_t r0 = 0; r0 < cnt && rc == 0 && !*stepwise; r0 += per) {
		size_t err_at, h_err_at, end;

		if (r0 > 0) {
			rd.r0 = r0;
			rd.r1 = cnt - r0 < per ? cnt : r0 + per;
			atomic_store_explicit(&rd.next, r0, memory_order_relaxed);
			if (h)
				fused_helper_to(h, FH_TASK);
		}
		h_err_at = rd.r1;
		fused_take(&rd, &w, &err_at);
		if (h) {
			fused_helper_to(h, FH_READ);
			h_err_at = h->err_at;
		}
		/* the first series that failed, in series order */
		end = err_at < h_err_at ? err_at : h_err_at;
		if (h && end == rd.r1)
			fused_helper_to(h, FH_ADD);
		for (size_t i = r0; i < end && rc == 0; i++)
			/* held: this series' samples beside what the range
			 * query held before (none is kept past its turn); an
			 * instant query counts all it loads */
			rc = e->is_range ? vg_query_limits_hold(e->lim, held + rd.held[i - r0], e->err)
					 : vg_query_limits_add(e->lim, rd.held[i - r0], e->err);
		if (rc == 0 && end < rd.r1) {
			const struct vg_err *fe = err_at == end ? &w.err : &h->w.err;
			rc = vg_err_set(e->err, fe->code, "%s", fe->msg);
		}
		if (end == rd.r1) {
			/* on an error the sums are dropped: added all the same */
			fused_add(&rd, 0, rd.k_mid);
			if (h)
				fused_helper_to(h, FH_DONE);
		}
	}
	if (h) {
		for (size_t k = 0; k < n_steps; k++)
			f->n_read[k] += h->w.n_read[k];
		fused_helper_stop(h);
		free(h);
	}
	free(rd.val);
	free(rd.has);
	free(rd.held);
	return rc;
}

/*
 * Computes into *out the n_steps steps t0, t0 + step, ... of aggregation
 * n (of shape fused_shape), those of them read raw; 0 with *out NULL when
 * there are too many groups for it, for the step-by-step evaluation.
 */
static int fused_run(struct ev *e, const struct vg_promql_node *n, int64_t t0, int64_t step, size_t n_steps,
		     struct fused **out)
{
	const struct vg_promql_node *m, *sel;
	enum fused_fn fn;
	const char *name;
	enum vg_plan_fn pfn;
	struct vg_storage_set *set = NULL;
	struct fused *f;
	int64_t *from = NULL, *to = NULL, lo = INT64_MAX, hi = INT64_MIN;
	size_t *group = NULL, cnt;
	uint64_t held;
	bool stepwise = false;
	int rc = 0;

	*out = NULL;
	if (!fused_shape(n, &m, &fn, &name))
		return 0;
	sel = m->expr;
	pfn = vg_plan_fn_of(name);
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return oom(e);
	f->node = n;
	f->n_steps = n_steps;
	f->done = calloc(n_steps, sizeof(*f->done));
	f->n_read = calloc(n_steps, sizeof(*f->n_read));
	from = malloc(n_steps * sizeof(*from));
	to = malloc(n_steps * sizeof(*to));
	if (f->done == NULL || f->n_read == NULL || from == NULL || to == NULL) {
		rc = oom(e);
		goto out;
	}
	for (size_t k = 0; k < n_steps; k++) {
		int64_t ref = ref_time(e, sel, t0 + (int64_t)k * step), a;
		if (__builtin_sub_overflow(ref, m->range_ms, &a) || a == INT64_MIN || a == INT64_MAX)
			continue;
		if (pfn != VG_PLAN_FN_NONE && plan_res(e, pfn, a, ref) != VG_STORAGE_RES_RAW)
			continue;
		f->done[k] = true;
		from[k] = a;
		to[k] = ref;
		lo = a + 1 < lo ? a + 1 : lo;
		hi = ref > hi ? ref : hi;
	}
	if (lo > hi) {
		*out = f; /* no step of it reads raw */
		f = NULL;
		goto out;
	}
	if ((rc = vg_storage_select(e->st, &sel->sel, lo, hi, VG_STORAGE_RES_RAW, &set, e->err)) != 0 ||
	    (rc = vg_query_limits_series(e->lim, vg_storage_set_len(set), e->err)) != 0)
		goto out;
	cnt = vg_storage_set_len(set);
	/* several names may collide once dropped: the step-by-step
	 * evaluation reports that (*out NULL) */
	if (!sel_one_name(m) && set_names_mixed(set))
		goto out;
	if ((group = malloc((cnt ? cnt : 1) * sizeof(*group))) == NULL) {
		rc = oom(e);
		goto out;
	}
	held = e->lim ? e->lim->samples : 0;
	{
		struct fused_job job = { set, fn, name, f->done, from, to, lo, hi, n_steps };
		rc = fused_rounds(e, n, &job, f, group, cnt, held, &stepwise);
	}
	if (stepwise)
		goto out; /* *out NULL: step by step */
	if (rc == 0 && e->is_range)
		rc = vg_query_limits_hold(e->lim, held, e->err);
	if (rc == 0) {
		*out = f;
		f = NULL;
	}
out:
	vg_storage_set_free(set);
	fused_free(f);
	free(group);
	free(from);
	free(to);
	return rc;
}

/* Step k of f into out. */
static int fused_emit(struct ev *e, const struct fused *f, size_t k, struct value *out)
{
	const struct vg_promql_node *n = f->node;

	e->n_read += f->n_read[k];
	for (size_t g = 0; g < f->n_groups; g++) {
		const struct agg_acc *a = &f->acc[k * f->n_groups + g];
		if (a->n > 0 && vec_push(&out->vec, f->keys[g].data, f->keys[g].len, agg_result(n->agg, a)) != 0)
			return oom(e);
	}
	return 0;
}

/* Aggregation n at t computed as above: 1 when it is not of that shape
 * or t's step is left to the step-by-step evaluation. */
static int fused_aggregate(struct ev *e, const struct vg_promql_node *n, int64_t t, struct value *out)
{
	struct fused *f = NULL;
	size_t k;
	int rc;

	if (!e->is_range) {
		if ((rc = fused_run(e, n, t, 0, 1, &f)) != 0 || f == NULL)
			return rc != 0 ? rc : 1;
		rc = f->done[0] ? fused_emit(e, f, 0, out) : 1;
		fused_free(f);
		return rc;
	}
	/* a step of the range query (not one of a subquery's) */
	if (e->step_ms <= 0 || t < e->start_ms || t > e->end_ms || (t - e->start_ms) % e->step_ms != 0)
		return 1;
	k = (size_t)((t - e->start_ms) / e->step_ms);
	for (size_t i = 0; i < e->n_fused && f == NULL; i++)
		if (e->fused[i]->node == n)
			f = e->fused[i];
	if (f == NULL) {
		size_t n_steps = (size_t)((e->end_ms - e->start_ms) / e->step_ms) + 1;
		void *p = realloc(e->fused, (e->n_fused + 1) * sizeof(*e->fused));
		if (p == NULL)
			return oom(e);
		e->fused = p;
		if ((rc = fused_run(e, n, e->start_ms, e->step_ms, n_steps, &f)) != 0)
			return rc;
		if (f == NULL && (f = calloc(1, sizeof(*f))) == NULL)
			return oom(e);
		f->node = n; /* an empty one (no steps): step by step */
		e->fused[e->n_fused++] = f;
	}
	if (k >= f->n_steps || !f->done[k])
		return 1;
	return fused_emit(e, f, k, out);
}

/* The largest and smallest doubles an int64 holds (Prometheus's maxInt64
 * and minInt64: 2^63 - 1024 and -2^63). */
#define K_MAX 9223372036854774784.0
#define K_MIN (-9223372036854775808.0)

/*
 * The errors Prometheus gives for a parameter no aggregation can use:
 * topk, bottomk and limitk with a k that no int64 holds ("Scalar value NaN
 * overflows int64", the value as Go's %v writes it: NaN, +Inf, 1e+20),
 * limit_ratio with a NaN ratio. 0, or VG_EINVAL (422 execution).
 */
static int check_agg_param(struct ev *e, enum vg_promql_agg agg, double p)
{
	char text[40];

	if (agg == VG_PROMQL_LIMIT_RATIO && isnan(p))
		return vg_err_set(e->err, VG_EINVAL, "Ratio value NaN is NaN");
	if ((agg != VG_PROMQL_TOPK && agg != VG_PROMQL_BOTTOMK && agg != VG_PROMQL_LIMITK) || (p <= K_MAX && p >= K_MIN))
		return 0;
	if (isnan(p)) {
		snprintf(text, sizeof(text), "NaN");
	} else if (isinf(p)) {
		snprintf(text, sizeof(text), "%s", p > 0 ? "+Inf" : "-Inf");
	} else {
		/* beyond 2^63 Go's %v is the exponent form with the fewest
		 * digits that read back as p */
		for (int digits = 0; digits <= 17; digits++) {
			snprintf(text, sizeof(text), "%.*e", digits, p);
			if (strtod(text, NULL) == p)
				break;
		}
	}
	return vg_err_set(e->err, VG_EINVAL, "Scalar value %s overflows int64", text);
}

static int eval_aggregate(struct ev *e, const struct vg_promql_node *n, int64_t t, struct value *out)
{
	struct value in = { 0 }, param = { 0 };
	struct sig *g = NULL;
	struct ranked *rk = NULL;
	double *vals = NULL;
	struct vg_buf key = VG_BUF_INIT;
	int rc;

	out->type = VG_PROMQL_VECTOR;
	if ((rc = fused_aggregate(e, n, t, out)) != 1)
		return rc;
	if (n->param != NULL && (rc = eval_node(e, n->param, t, &param)) != 0)
		return rc;
	if (n->agg == VG_PROMQL_COUNT_VALUES && !vg_label_name_valid(param.str, param.str_len)) {
		rc = vg_err_set(e->err, VG_EINVAL, "invalid label name \"%.*s\"", (int)(param.str_len > 64 ? 64 : param.str_len),
				param.str);
		goto out;
	}
	if ((rc = check_agg_param(e, n->agg, param.scalar)) != 0)
		goto out;
	if ((rc = eval_node(e, n->expr, t, &in)) != 0)
		goto out;
	if (n->agg == VG_PROMQL_COUNT_VALUES) {
		/* the value label is set before grouping, and by (ls) groups by
		 * it too (Prometheus's count_values): by (job) with label
		 * "job" counts by value, without (lbl) drops it again */
		if ((rc = count_values_relabel(&in.vec, param.str, param.str_len, &key)) != 0)
			goto out;
		rc = count_values_groups(&in.vec, &n->grouping, !n->is_without, param.str, param.str_len, &g);
		if (rc != 0)
			goto out;
	} else
	/* by (ls) keeps ls; without (ls) drops ls and the name; no clause: {} */
	if ((rc = sigs_make(&in.vec, &n->grouping, !n->is_without, &g)) != 0)
		goto out;
	rk = malloc((in.vec.n ? in.vec.n : 1) * sizeof(*rk));
	vals = malloc((in.vec.n ? in.vec.n : 1) * sizeof(*vals));
	if (rk == NULL || vals == NULL) {
		rc = VG_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < in.vec.n && rc == 0;) {
		struct agg_acc a = { 0 };
		size_t j = i, cnt = 0;
		double acc;

		for (; j < in.vec.n && key_cmp(g[i].key.data, g[i].key.len, g[j].key.data, g[j].key.len) == 0; j++) {
			double v = in.vec.s[g[j].idx].v;
			rk[cnt] = (struct ranked){ v, g[j].idx };
			vals[cnt] = v;
			cnt++;
			agg_add(n->agg, &a, v);
		}
		acc = n->agg == VG_PROMQL_QUANTILE ? quantile_of(param.scalar, vals, cnt) : agg_result(n->agg, &a);
		if (n->agg == VG_PROMQL_LIMITK || n->agg == VG_PROMQL_LIMIT_RATIO) {
			rc = limit_group(n->agg, param.scalar, &in.vec, g + i, j - i, &key, &out->vec);
		} else if (n->agg == VG_PROMQL_TOPK || n->agg == VG_PROMQL_BOTTOMK) {
			/* the k best elements with their own labels, best first */
			out->is_ordered = true;
			double k = param.scalar;
			size_t take = k < 1 ? 0 : k >= (double)cnt ? cnt : (size_t)k;
			qsort(rk, cnt, sizeof(*rk), n->agg == VG_PROMQL_TOPK ? cmp_desc : cmp_asc);
			for (size_t k2 = 0; k2 < take && rc == 0; k2++) {
				const struct sample *x = &in.vec.s[rk[k2].idx];
				rc = vec_push(&out->vec, x->key, x->key_len, x->v);
			}
		} else if (n->agg == VG_PROMQL_COUNT_VALUES) {
			/* one series per group of the relabelled input */
			rc = vec_push(&out->vec, g[i].key.data, g[i].key.len, (double)cnt);
		} else {
			rc = vec_push(&out->vec, g[i].key.data, g[i].key.len, acc);
		}
		i = j;
	}
out:
	vg_buf_release(&key);
	free(rk);
	free(vals);
	if (g)
		sigs_free(g, in.vec.n);
	value_release(&in);
	value_release(&param);
	return rc == VG_ENOMEM ? oom(e) : rc;
}

/* ---- binary operators ---------------------------------------------------- */

/* op applied to a and b; *keep false when a comparison filters it out. */
static double binop(enum vg_promql_binop op, double a, double b, bool *keep)
{
	*keep = true;
	switch (op) {
	case VG_PROMQL_ADD: return a + b;
	case VG_PROMQL_SUB: return a - b;
	case VG_PROMQL_MUL: return a * b;
	case VG_PROMQL_DIV: return a / b;
	case VG_PROMQL_MOD: return fmod(a, b);
	case VG_PROMQL_POW: return pow(a, b);
	case VG_PROMQL_ATAN2: return atan2(a, b);
	case VG_PROMQL_EQLC: *keep = a == b; break;
	case VG_PROMQL_NEQ: *keep = a != b; break;
	case VG_PROMQL_GTR: *keep = a > b; break;
	case VG_PROMQL_LSS: *keep = a < b; break;
	case VG_PROMQL_GTE: *keep = a >= b; break;
	case VG_PROMQL_LTE: *keep = a <= b; break;
	default: break;
	}
	return a;
}

/* A label set as Prometheus's labels.String() writes it in errors:
 * {__name__="x", a="1"}, __name__ among the labels by its name, ", "
 * between. */
static void format_labels(const uint8_t *key, size_t len, struct vg_buf *out)
{
	static const struct vg_str name_label = { "__name__", 8 };
	struct vg_series s;
	bool is_name_done;
	uint32_t i = 0, n = 0;

	vg_buf_putc(out, '{');
	if (vg_series_from_key(key, len, &s) != 0) {
		vg_buf_putc(out, '}');
		return;
	}
	is_name_done = s.name.len == 0;
	while (i < s.n_labels || !is_name_done) {
		struct vg_str ln, lv;

		if (!is_name_done && (i == s.n_labels || vg_str_cmp(name_label, s.labels[i].name) < 0)) {
			ln = name_label;
			lv = s.name;
			is_name_done = true;
		} else {
			ln = s.labels[i].name;
			lv = s.labels[i].value;
			i++;
		}
		if (n++)
			vg_buf_puts(out, ", ");
		vg_buf_append(out, ln.p, ln.len);
		vg_buf_puts(out, "=\"");
		vg_label_value_escape(lv, out);
		vg_buf_putc(out, '"');
	}
	vg_buf_putc(out, '}');
}

static int set_op(struct ev *e, const struct vg_promql_node *n, struct value *l, struct value *r,
		  struct value *out)
{
	const struct vg_promql_matching *m = &n->matching;
	struct sig *ls = NULL, *rs = NULL;
	int rc;

	if ((rc = sigs_make(&l->vec, &m->labels, m->is_on, &ls)) != 0 ||
	    (rc = sigs_make(&r->vec, &m->labels, m->is_on, &rs)) != 0)
		goto out;
	for (size_t i = 0; i < l->vec.n && rc == 0; i++) {
		const struct sig *s = &ls[i];
		bool in_r = sigs_find(rs, r->vec.n, s->key.data, s->key.len) < r->vec.n;
		const struct sample *x = &l->vec.s[s->idx];
		if (n->op == VG_PROMQL_AND ? in_r : n->op == VG_PROMQL_UNLESS ? !in_r : true)
			rc = vec_push(&out->vec, x->key, x->key_len, x->v);
	}
	if (n->op == VG_PROMQL_OR)
		for (size_t i = 0; i < r->vec.n && rc == 0; i++) {
			const struct sig *s = &rs[i];
			const struct sample *x = &r->vec.s[s->idx];
			if (sigs_find(ls, l->vec.n, s->key.data, s->key.len) == l->vec.n)
				rc = vec_push(&out->vec, x->key, x->key_len, x->v);
		}
out:
	if (ls)
		sigs_free(ls, l->vec.n);
	if (rs)
		sigs_free(rs, r->vec.n);
	return rc == VG_ENOMEM ? oom(e) : rc;
}

/* Prometheus's error for two elements of the "one" side with one
 * signature. */
static int duplicate_error(struct ev *e, const struct vec *v, const struct sig *a, const struct sig *b,
			   const char *side)
{
	struct vg_buf x = VG_BUF_INIT, y = VG_BUF_INIT, g = VG_BUF_INIT;
	int rc;

	format_labels(v->s[a->idx].key, v->s[a->idx].key_len, &x);
	format_labels(v->s[b->idx].key, v->s[b->idx].key_len, &y);
	format_labels(b->key.data, b->key.len, &g);
	rc = vg_err_set(e->err, VG_EINVAL,
			"found duplicate series for the match group %s on the %s hand-side of the operation: [%s, %s];many-to-many matching not allowed: matching labels must be unique on one side",
			vg_buf_cstr(&g), side, vg_buf_cstr(&x), vg_buf_cstr(&y));
	vg_buf_release(&x);
	vg_buf_release(&y);
	vg_buf_release(&g);
	return rc;
}

/*
 * vector op vector. One-to-one: each signature at most once per side.
 * group_left (many-to-one): the right side is the "one" side, each left
 * element matches at most one right element, and the result takes the
 * left's labels plus the included labels of the right; group_right
 * mirrors it. Values are computed in the written operand order.
 */
static int vector_vector(struct ev *e, const struct vg_promql_node *n, struct value *l,
			 struct value *r, struct value *out)
{
	const struct vg_promql_matching *m = &n->matching;
	bool is_cmp = vg_promql_binop_is_comparison(n->op);
	bool dropping = !is_cmp || n->is_bool;
	bool is_group = m->card == VG_PROMQL_MANY_TO_ONE || m->card == VG_PROMQL_ONE_TO_MANY;
	bool is_swapped = m->card == VG_PROMQL_ONE_TO_MANY;
	struct value *many = is_swapped ? r : l, *one = is_swapped ? l : r;
	struct sig *os = NULL, *ms = NULL, *res = NULL;
	struct vg_buf key = VG_BUF_INIT, tmp = VG_BUF_INIT;
	int rc;

	if ((rc = sigs_make(&one->vec, &m->labels, m->is_on, &os)) != 0 ||
	    (rc = sigs_make(&many->vec, &m->labels, m->is_on, &ms)) != 0)
		goto out;
	for (size_t i = 1; i < one->vec.n; i++)
		if (key_cmp(os[i].key.data, os[i].key.len, os[i - 1].key.data, os[i - 1].key.len) == 0) {
			/* The later series first, as Prometheus words it. */
			rc = duplicate_error(e, &one->vec, &os[i], &os[i - 1], is_swapped ? "left" : "right");
			goto out;
		}
	for (size_t i = 0; i < many->vec.n && rc == 0; i++) {
		const struct sig *s = &ms[i];
		size_t j = sigs_find(os, one->vec.n, s->key.data, s->key.len);
		const struct sample *x, *y;
		bool keep;
		double v;

		if (j == one->vec.n)
			continue;
		if (!is_group && i > 0 &&
		    key_cmp(ms[i - 1].key.data, ms[i - 1].key.len, s->key.data, s->key.len) == 0) {
			rc = vg_err_set(e->err, VG_EINVAL,
					"multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)");
			break;
		}
		x = &many->vec.s[s->idx];
		y = &one->vec.s[os[j].idx];
		v = is_swapped ? binop(n->op, y->v, x->v, &keep) : binop(n->op, x->v, y->v, &keep);
		if (is_cmp && n->is_bool) {
			v = keep ? 1 : 0;
			keep = true;
		}
		if (!keep)
			continue;
		/* Result labels: the many side's (the left's for one-to-one); the
		 * name goes for arithmetic and bool; one-to-one on(ls) keeps only
		 * ls and ignoring(ls) deletes ls; a group modifier copies its
		 * labels from the one side. */
		if (!is_group && m->is_on)
			rc = reduce_key(x->key, x->key_len, &m->labels, true, true, &key);
		else if (!is_group)
			rc = reduce_key(x->key, x->key_len, &m->labels, false, dropping, &key);
		else if (dropping)
			rc = drop_name(x->key, x->key_len, &key);
		else {
			vg_buf_reset(&key);
			vg_buf_append(&key, x->key, x->key_len);
		}
		for (size_t k = 0; is_group && rc == 0 && k < m->include.n; k++) {
			struct vg_series ys;
			const struct vg_str *val = NULL;
			if (vg_series_from_key(y->key, y->key_len, &ys) == 0)
				val = vg_series_get(&ys, m->include.names[k]);
			if ((rc = key_set_label(key.data, key.len, m->include.names[k], val, &tmp)) == 0) {
				struct vg_buf t2 = key;
				key = tmp;
				tmp = t2;
			}
		}
		if (rc == 0)
			rc = vec_push(&out->vec, key.data, key.len, v);
	}
	if (rc == 0 && is_group && out->vec.n > 1) {
		/* grouping labels must make every result unique */
		if ((rc = sigs_make_keep_name(&out->vec, &res)) == 0) {
			for (size_t i = 1; i < out->vec.n; i++)
				if (key_cmp(res[i].key.data, res[i].key.len, res[i - 1].key.data, res[i - 1].key.len) == 0) {
					rc = vg_err_set(e->err, VG_EINVAL,
							"multiple matches for labels: grouping labels must ensure unique matches");
					break;
				}
			sigs_free(res, out->vec.n);
		}
	}
out:
	vg_buf_release(&key);
	vg_buf_release(&tmp);
	if (os)
		sigs_free(os, one->vec.n);
	if (ms)
		sigs_free(ms, many->vec.n);
	return rc == VG_ENOMEM ? oom(e) : rc;
}

static int eval_binary(struct ev *e, const struct vg_promql_node *n, int64_t t, struct value *out)
{
	struct value l = { 0 }, r = { 0 };
	struct vg_buf key = VG_BUF_INIT;
	bool is_cmp = vg_promql_binop_is_comparison(n->op), keep;
	int rc;

	out->type = n->type;
	if ((rc = eval_node(e, n->lhs, t, &l)) != 0 || (rc = eval_node(e, n->rhs, t, &r)) != 0)
		goto out;
	if (l.type == VG_PROMQL_SCALAR && r.type == VG_PROMQL_SCALAR) {
		out->scalar = binop(n->op, l.scalar, r.scalar, &keep);
		if (is_cmp)
			out->scalar = keep ? 1 : 0; /* the parser demands bool */
		goto out;
	}
	if (vg_promql_binop_is_set(n->op)) {
		rc = set_op(e, n, &l, &r, out);
		goto out;
	}
	if (l.type == VG_PROMQL_VECTOR && r.type == VG_PROMQL_VECTOR) {
		rc = vector_vector(e, n, &l, &r, out);
		goto out;
	}
	{
		/* vector and scalar, either order */
		bool is_left = l.type == VG_PROMQL_VECTOR;
		struct vec *v = is_left ? &l.vec : &r.vec;
		double s = is_left ? r.scalar : l.scalar;

		for (size_t i = 0; i < v->n && rc == 0; i++) {
			const struct sample *x = &v->s[i];
			double res = is_left ? binop(n->op, x->v, s, &keep) : binop(n->op, s, x->v, &keep);
			if (is_cmp && n->is_bool) {
				res = keep ? 1 : 0;
				keep = true;
			} else if (is_cmp) {
				res = x->v; /* a filter keeps the vector's value */
			}
			if (!keep)
				continue;
			if (!is_cmp || n->is_bool) {
				if ((rc = drop_name(x->key, x->key_len, &key)) == 0)
					rc = vec_push(&out->vec, key.data, key.len, res);
			} else {
				rc = vec_push(&out->vec, x->key, x->key_len, res);
			}
		}
		if (rc == 0 && (!is_cmp || n->is_bool) && vec_names_mixed(v))
			rc = vec_check_unique(e, &out->vec);
	}
out:
	vg_buf_release(&key);
	value_release(&l);
	value_release(&r);
	return rc == VG_ENOMEM ? oom(e) : rc;
}

/* ---- nodes ------------------------------------------------------------- */

static int eval_node_kind(struct ev *e, const struct vg_promql_node *n, int64_t t, struct value *out)
{
	int64_t ref;
	int rc;

	out->type = n->type;
	switch (n->kind) {
	case VG_PROMQL_NUMBER:
		out->scalar = n->number;
		return 0;
	case VG_PROMQL_STR:
		out->str = n->str;
		out->str_len = n->str_len;
		return 0;
	case VG_PROMQL_PAREN:
		return eval_node(e, n->expr, t, out);
	case VG_PROMQL_SELECTOR:
		ref = ref_time(e, n, t);
		return read_window(e, n, vg_query_sub_sat(ref, e->lookback_ms), ref, true, out);
	case VG_PROMQL_MATRIX_SEL:
		ref = ref_time(e, n->expr, t);
		return read_window(e, n->expr, vg_query_sub_sat(ref, n->range_ms), ref, false, out);
	case VG_PROMQL_UNARY: {
		struct vg_buf key = VG_BUF_INIT;
		struct value in;
		if ((rc = eval_node(e, n->expr, t, &in)) != 0)
			return rc;
		if (n->unary_op == VG_PROMQL_ADD) {
			*out = in;
			return 0;
		}
		out->scalar = -in.scalar;
		for (size_t i = 0; i < in.vec.n && rc == 0; i++)
			if ((rc = drop_name(in.vec.s[i].key, in.vec.s[i].key_len, &key)) == 0)
				rc = vec_push(&out->vec, key.data, key.len, -in.vec.s[i].v);
		if (rc == 0 && vec_names_mixed(&in.vec))
			rc = vec_check_unique(e, &out->vec);
		vg_buf_release(&key);
		value_release(&in);
		return rc == VG_ENOMEM ? oom(e) : rc;
	}
	case VG_PROMQL_CALL:
		return eval_call(e, n, t, out);
	case VG_PROMQL_AGGREGATE:
		return eval_aggregate(e, n, t, out);
	case VG_PROMQL_BINARY:
		return eval_binary(e, n, t, out);
	case VG_PROMQL_SUBQUERY: {
		int64_t lo, hi;
		return eval_subquery(e, n, t, out, &lo, &hi);
	}
	}
	return unsupported(e, "this expression");
}

/* Evaluates n at t into out; on error out holds nothing (what an
 * operation built before it failed is freed here, once). */
static int eval_node(struct ev *e, const struct vg_promql_node *n, int64_t t, struct value *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = eval_node_kind(e, n, t, out)) != 0)
		value_release(out);
	return rc;
}

/* ---- results ------------------------------------------------------------ */

void vg_eval_result_release(struct vg_eval_result *r)
{
	if (r == NULL)
		return;
	free(r->str);
	vg_query_result_release(&r->series);
	memset(r, 0, sizeof(*r));
}

/* Moves vector v into series, one point at t each; v is emptied. */
static int vec_to_series(struct vec *v, bool is_ordered, int64_t t, struct vg_query_result *out)
{
	out->series = calloc(v->n ? v->n : 1, sizeof(*out->series));
	if (out->series == NULL)
		return VG_ENOMEM;
	for (size_t i = 0; i < v->n; i++) {
		struct vg_query_series *qs = &out->series[out->n];
		qs->ts_ms = malloc(sizeof(*qs->ts_ms));
		qs->values = malloc(sizeof(*qs->values));
		if (qs->ts_ms == NULL || qs->values == NULL) {
			free(qs->ts_ms);
			free(qs->values);
			return VG_ENOMEM;
		}
		qs->key = v->s[i].key;
		qs->key_len = v->s[i].key_len;
		v->s[i].key = NULL;
		qs->ts_ms[0] = t;
		qs->values[0] = v->s[i].v;
		qs->n = 1;
		out->n++;
	}
	if (out->n > 1 && !is_ordered)
		qsort(out->series, out->n, sizeof(*out->series), series_cmp_q);
	return 0;
}

/* A vector result must not hold one label set twice (after a name was
 * dropped, say): Prometheus's error. */
static int check_unique(struct ev *e, const struct vg_query_result *r)
{
	for (size_t i = 1; i < r->n; i++)
		if (key_cmp(r->series[i].key, r->series[i].key_len, r->series[i - 1].key,
			    r->series[i - 1].key_len) == 0)
			return vg_err_set(e->err, VG_EINVAL, "vector cannot contain metrics with the same labelset");
	return 0;
}

int vg_eval_instant(struct vg_storage *st, const struct vg_promql_node *expr, int64_t t_ms,
		    int64_t lookback_ms, struct vg_eval_result *out, struct vg_err *err)
{
	return vg_eval_instant_limited(st, expr, t_ms, lookback_ms, NULL, out, err);
}

int vg_eval_instant_limited(struct vg_storage *st, const struct vg_promql_node *expr, int64_t t_ms,
			    int64_t lookback_ms, struct vg_query_limits *lim, struct vg_eval_result *out,
			    struct vg_err *err)
{
	struct ev e = { st, t_ms, t_ms, lookback_ms, err, { 0 }, 0, lim, 0, false, { 0 }, false, { 0 }, 0, NULL, 0, NULL, 0 };
	struct value v;
	int rc;

	memset(out, 0, sizeof(*out));
	if (lookback_ms <= 0)
		return vg_err_set(err, VG_EINVAL, "lookback delta must be positive");
	rc = eval_node(&e, expr, t_ms, &v);
	vg_samples_release(&e.smp);
	vg_spans_release(&e.spans);
	fused_release(&e);
	if (rc != 0)
		return rc;
	out->type = v.type;
	out->samples_total = e.n_read;
	out->samples_peak = e.n_read > v.vec.n ? e.n_read : v.vec.n;
	if (out->samples_peak == 0 && v.type == VG_PROMQL_SCALAR)
		out->samples_peak = 1; /* the scalar itself, as Prometheus counts it */
	switch (v.type) {
	case VG_PROMQL_SCALAR:
		out->scalar = v.scalar;
		break;
	case VG_PROMQL_STRING:
		out->str = malloc(v.str_len + 1);
		if (out->str == NULL) {
			rc = oom(&e);
			break;
		}
		memcpy(out->str, v.str, v.str_len);
		out->str[v.str_len] = '\0';
		out->str_len = v.str_len;
		break;
	case VG_PROMQL_VECTOR:
		if (vec_to_series(&v.vec, v.is_ordered, t_ms, &out->series) != 0)
			rc = oom(&e);
		else if (!v.is_ordered)
			rc = check_unique(&e, &out->series);
		break;
	case VG_PROMQL_MATRIX:
		out->series = v.mat;
		memset(&v.mat, 0, sizeof(v.mat));
		if (out->series.n > 1)
			qsort(out->series.series, out->series.n, sizeof(*out->series.series), series_cmp_q);
		break;
	}
	value_release(&v);
	if (rc != 0)
		vg_eval_result_release(out);
	return rc;
}

int vg_eval_range(struct vg_storage *st, const struct vg_promql_node *expr, int64_t start_ms,
		  int64_t end_ms, int64_t step_ms, int64_t lookback_ms, struct vg_eval_result *out,
		  struct vg_err *err)
{
	return vg_eval_range_limited(st, expr, start_ms, end_ms, step_ms, lookback_ms, NULL, out, err);
}

int vg_eval_range_limited(struct vg_storage *st, const struct vg_promql_node *expr, int64_t start_ms,
			  int64_t end_ms, int64_t step_ms, int64_t lookback_ms,
			  struct vg_query_limits *lim, struct vg_eval_result *out, struct vg_err *err)
{
	struct ev e = { st, start_ms, end_ms, lookback_ms, err, { 0 }, 0, lim, 0, false, { 0 }, false, { 0 }, 0, NULL, 0, NULL, 0 };
	struct point *pts = NULL;
	size_t n_pts = 0, cap = 0;
	uint64_t n_steps;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->type = VG_PROMQL_MATRIX;
	if ((rc = vg_query_check_range(start_ms, end_ms, step_ms, lookback_ms, &n_steps, err)) != 0)
		return rc;
	if (expr->type != VG_PROMQL_SCALAR && expr->type != VG_PROMQL_VECTOR)
		return vg_err_set(err, VG_EINVAL,
				  "invalid expression type \"%s\" for range query, must be Scalar or instant Vector",
				  vg_promql_type_name(expr->type));
	e.is_range = true;
	e.step_ms = step_ms;
	if (expr->kind == VG_PROMQL_SELECTOR && expr->at == VG_PROMQL_AT_NONE && expr->offset_ms == 0) {
		/* A plain selector: one read per series for all steps. */
		out->type = VG_PROMQL_MATRIX;
		rc = vg_query_range_limited(st, &expr->sel, start_ms, end_ms, step_ms, lookback_ms, lim, &out->series,
					    err);
		for (size_t i = 0; rc == 0 && i < out->series.n; i++)
			out->samples_total += out->series.series[i].n;
		out->samples_peak = out->samples_total;
		return rc;
	}
	for (uint64_t k = 0; k < n_steps && rc == 0; k++) {
		int64_t t = start_ms + (int64_t)k * step_ms;
		uint64_t before = e.n_read;
		struct value v;

		if ((rc = vg_query_limits_hold(lim, n_pts + e.span_samples, err)) != 0 ||
		    (rc = eval_node(&e, expr, t, &v)) != 0)
			break;
		if (e.n_read - before + n_pts > out->samples_peak)
			out->samples_peak = e.n_read - before + n_pts;
		rc = collect_points(&e, &v, t, &pts, &n_pts, &cap);
		value_release(&v);
	}
	if (n_pts > out->samples_peak)
		out->samples_peak = n_pts;
	out->samples_total = e.n_read;
	if (rc == 0)
		rc = vg_query_limits_hold(lim, n_pts, err);
	vg_samples_release(&e.smp);
	vg_spans_release(&e.spans);
	fused_release(&e);
	if (rc == 0) {
		rc = group_points(&e, pts, n_pts, &out->series);
	} else {
		for (size_t i = 0; i < n_pts; i++)
			free(pts[i].key);
		free(pts);
	}
	if (rc != 0)
		vg_eval_result_release(out);
	return rc;
}
