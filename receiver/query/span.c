/*
 * span.c: one selection and one read per selector for all the steps of a
 * range query (span.h).
 *
 * Owns the spans of an evaluation. A span is a selection at one
 * resolution over [lo, hi], read series by series into arrays the span
 * owns; the selection is freed at once, so a span holds no block or head
 * pin while the steps are evaluated.
 */
#include "receiver/query/span.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/series.h"
#include "receiver/query/query.h"
#include "receiver/storage/storage.h"

#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "common/banned.h"

static void span_release(struct vg_span *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->s[i].key);
		free(s->s[i].key_noname);
		vg_samples_release(&s->s[i].smp);
		vg_buckets_release(&s->s[i].b);
	}
	free(s->s);
	memset(s, 0, sizeof(*s));
}

void vg_spans_release(struct vg_spans *sp)
{
	for (size_t i = 0; i < sp->n; i++) {
		span_release(sp->v[i]);
		free(sp->v[i]);
	}
	free(sp->v);
	memset(sp, 0, sizeof(*sp));
}

/* The key without the metric name: what functions and operators that
 * drop it give. */
static int key_noname(struct vg_span_series *x)
{
	struct vg_series ser;
	struct vg_buf b = VG_BUF_INIT;

	if (vg_series_from_key(x->key, x->key_len, &ser) != 0)
		return VG_EINVAL;
	ser.name = (struct vg_str){ "", 0 };
	vg_series_key(&ser, &b);
	if (vg_buf_failed(&b))
		return VG_ENOMEM;
	x->noname_len = b.len;
	x->key_noname = (uint8_t *)vg_buf_detach(&b, NULL);
	return x->key_noname ? 0 : VG_ENOMEM;
}

void vg_span_drop_stale(struct vg_samples *smp)
{
	size_t k = 0;

	/* most series hold none: look before moving anything, two at a
	 * time where SSE2 compares them (a marker's bits: both halves equal) */
#ifdef __SSE2__
	const __m128i mark = _mm_set1_epi64x((long long)0x7ff0000000000002ULL);
	while (k + 2 <= smp->n) {
		int m = _mm_movemask_epi8(
			_mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(const void *)(smp->values + k)), mark));
		if ((m & 0xff) == 0xff || (m & 0xff00) == 0xff00)
			break; /* one of the two is: found below */
		k += 2;
	}
#endif
	while (k < smp->n && !vg_query_is_stale(smp->values[k]))
		k++;
	for (size_t j = k; j < smp->n; j++)
		if (!vg_query_is_stale(smp->values[j])) {
			smp->ts_ms[k] = smp->ts_ms[j];
			smp->values[k++] = smp->values[j];
		}
	smp->n = k;
}

/* Reads every series of set into s. */
static int span_read(struct vg_span *s, struct vg_storage_set *set, bool drop_stale, struct vg_err *err)
{
	size_t n = vg_storage_set_len(set);
	int rc = 0;

	if (n == 0)
		return 0;
	if ((s->s = calloc(n, sizeof(*s->s))) == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory reading a range query's series");
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct vg_span_series *x = &s->s[s->n];
		const uint8_t *key;
		size_t len;

		if (s->res_ms > 0) {
			if ((rc = vg_storage_set_read_buckets(set, i, s->lo, s->hi, &x->b, err)) != 0)
				break;
			if (x->b.n == 0)
				continue;
		} else {
			if ((rc = vg_storage_set_read(set, i, s->lo, s->hi, &x->smp, err)) != 0)
				break;
			if (drop_stale)
				vg_span_drop_stale(&x->smp);
			if (x->smp.n == 0)
				continue;
		}
		vg_storage_set_key(set, i, &key, &len);
		if ((x->key = malloc(len ? len : 1)) == NULL) {
			rc = vg_err_set(err, VG_ENOMEM, "out of memory reading a range query's series");
			break;
		}
		memcpy(x->key, key, len);
		x->key_len = len;
		x->cur_from = x->cur_to = INT64_MAX; /* no window yet */
		s->n++;
		if ((rc = key_noname(x)) != 0) {
			rc = vg_err_set(err, rc, "out of memory reading a range query's series");
			break;
		}
	}
	/* what a failed or empty read left in the slot past the last kept */
	if (s->n < n) {
		vg_samples_release(&s->s[s->n].smp);
		vg_buckets_release(&s->s[s->n].b);
	}
	return rc;
}

struct vg_span *vg_span_find(struct vg_spans *sp, const void *node, int64_t res_ms)
{
	for (size_t i = 0; i < sp->n; i++)
		if (sp->v[i]->node == node && sp->v[i]->res_ms == res_ms)
			return sp->v[i];
	return NULL;
}

int vg_span_load(struct vg_spans *sp, struct vg_storage *st, const void *node,
		 const struct vg_selector *sel, int64_t lo, int64_t hi, int64_t res_ms, bool drop_stale,
		 struct vg_span **out, struct vg_err *err)
{
	struct vg_storage_set *set = NULL;
	struct vg_span *s;
	int rc;

	*out = NULL;
	if (sp->n == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 4;
		void *p = realloc(sp->v, cap * sizeof(*sp->v));
		if (p == NULL)
			return vg_err_set(err, VG_ENOMEM, "out of memory reading a range query's series");
		sp->v = p;
		sp->cap = cap;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory reading a range query's series");
	s->node = node;
	s->res_ms = res_ms;
	s->lo = lo;
	s->hi = hi;
	if (lo > hi)
		rc = 0; /* nothing to read: an empty span */
	else if ((rc = vg_storage_select(st, sel, lo, hi, res_ms, &set, err)) == 0)
		rc = span_read(s, set, drop_stale, err);
	vg_storage_set_free(set);
	if (rc != 0) {
		span_release(s);
		free(s);
		return rc;
	}
	sp->v[sp->n++] = s;
	*out = s;
	return 0;
}

void vg_span_window(struct vg_span_series *s, int64_t from, int64_t to, size_t *i, size_t *j)
{
	const int64_t *ts = s->smp.ts_ms;
	size_t n = s->smp.n;

	if (s->cur_from != INT64_MAX && from >= s->cur_from && to >= s->cur_to) {
		size_t a = s->cur_i, b = s->cur_j;
		while (a < n && ts[a] <= from)
			a++;
		while (b < n && ts[b] <= to)
			b++;
		*i = a;
		*j = b;
	} else {
		*i = vg_query_upper_bound(ts, n, from);
		*j = vg_query_upper_bound(ts, n, to);
	}
	if (*j < *i)
		*j = *i;
	s->cur_i = *i;
	s->cur_j = *j;
	s->cur_from = from;
	s->cur_to = to;
}
