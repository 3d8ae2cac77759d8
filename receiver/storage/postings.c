/*
 * postings.c: sorted id lists and selection over a label index
 * (postings.h).
 *
 * Owns the set algebra and the plan of a selection; does not own any
 * index (the head and the block reader implement struct
 * vg_label_index_ops) nor matcher semantics (common/selector.c).
 *
 * The plan: matchers that do not match "" are "positive" and narrow the
 * candidates by intersection; the others are "negative" and remove the
 * series whose value fails them. Equality matchers go first (one postings
 * lookup each, usually the smallest lists), the smallest first; regex and
 * != "" positives follow; negatives last, each subtracting the union of the
 * postings of the values its matcher rejects. With no positive matcher the
 * candidates start as every id. Once there are candidates, each value's
 * postings are narrowed to them as they come, so a broad regex over few
 * candidates merges only what survives. The union of many values'
 * postings (one label's values hold disjoint sets) is built by appending
 * every list and merging adjacent runs pairwise, log2(runs) passes of
 * sequential merging, with no sort and no per-series work.
 */
#include "receiver/storage/postings.h"
#include "common/err.h"
#include "common/selector.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define MAX_MATCHERS 64

void vg_postings_init(struct vg_postings *p)
{
	p->ids = NULL;
	p->n = 0;
	p->cap = 0;
}

void vg_postings_release(struct vg_postings *p)
{
	free(p->ids);
	vg_postings_init(p);
}

int vg_postings_reserve(struct vg_postings *p, size_t extra)
{
	size_t need, cap;
	uint32_t *ids;

	if (extra > SIZE_MAX / sizeof(uint32_t) - p->n)
		return VG_ENOMEM;
	need = p->n + extra;
	if (need <= p->cap)
		return 0;
	cap = p->cap ? p->cap : 16;
	while (cap < need)
		cap = cap > SIZE_MAX / 8 ? need : cap * 2;
	ids = realloc(p->ids, cap * sizeof(*ids));
	if (ids == NULL)
		return VG_ENOMEM;
	p->ids = ids;
	p->cap = cap;
	return 0;
}

int vg_postings_push(struct vg_postings *p, uint32_t id)
{
	if (p->n == p->cap && vg_postings_reserve(p, 1) != 0)
		return VG_ENOMEM;
	p->ids[p->n++] = id;
	return 0;
}

int vg_postings_is_sorted(const uint32_t *ids, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (ids[i - 1] >= ids[i])
			return 0;
	return 1;
}

/* The first index in b[lo..nb) whose id is >= x: gallop, then bisect. */
static size_t seek(const uint32_t *b, size_t lo, size_t nb, uint32_t x)
{
	size_t step = 1, hi;

	while (lo + step < nb && b[lo + step] < x)
		step *= 2;
	hi = lo + step < nb ? lo + step + 1 : nb;
	lo += step / 2;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t vg_postings_intersect(uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
	size_t out = 0, i = 0, j = 0;

	if (na / 16 > nb || nb / 16 > na) {
		/* Lopsided: seek in the longer list for each id of the shorter. */
		if (na <= nb) {
			for (i = 0; i < na && j < nb; i++) {
				j = seek(b, j, nb, a[i]);
				if (j < nb && b[j] == a[i])
					a[out++] = a[i];
			}
		} else {
			for (j = 0; j < nb && i < na; j++) {
				i = seek(a, i, na, b[j]);
				if (i < na && a[i] == b[j])
					a[out++] = a[i];
			}
		}
		return out;
	}
	while (i < na && j < nb) {
		if (a[i] < b[j]) {
			i++;
		} else if (a[i] > b[j]) {
			j++;
		} else {
			a[out++] = a[i];
			i++;
			j++;
		}
	}
	return out;
}

size_t vg_postings_subtract(uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
	size_t out = 0, j = 0;

	for (size_t i = 0; i < na; i++) {
		if (j < nb && b[j] < a[i])
			j = seek(b, j, nb, a[i]);
		if (j < nb && b[j] == a[i])
			continue;
		a[out++] = a[i];
	}
	return out;
}

/* Merges a and b into dst (room for na + nb); returns the count. */
static size_t merge(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t *dst)
{
	size_t i = 0, j = 0, n = 0;

	while (i < na && j < nb) {
		if (a[i] < b[j]) {
			dst[n++] = a[i++];
		} else if (a[i] > b[j]) {
			dst[n++] = b[j++];
		} else {
			dst[n++] = a[i++];
			j++;
		}
	}
	while (i < na)
		dst[n++] = a[i++];
	while (j < nb)
		dst[n++] = b[j++];
	return n;
}

int vg_postings_union(const uint32_t *a, size_t na, const uint32_t *b, size_t nb,
		      struct vg_postings *out)
{
	out->n = 0;
	if (vg_postings_reserve(out, na + nb) != 0)
		return VG_ENOMEM;
	out->n = merge(a, na, b, nb, out->ids);
	return 0;
}

/* ---- union of many runs ---------------------------------------------------- */

/* Ids appended run after run (each run ascending), and where each starts. */
struct runs {
	struct vg_postings ids;
	size_t *start; /* n_runs + 1 entries once closed */
	size_t n_runs, cap_runs;
};

static void runs_release(struct runs *r)
{
	vg_postings_release(&r->ids);
	free(r->start);
}

/* Marks the end of the run just appended (empty runs are dropped). */
static int runs_close(struct runs *r)
{
	if (r->ids.n == (r->n_runs > 0 ? r->start[r->n_runs] : 0))
		return 0; /* empty */
	if (r->n_runs + 2 > r->cap_runs) {
		size_t cap = r->cap_runs ? r->cap_runs * 2 : 16;
		size_t *s = realloc(r->start, cap * sizeof(*s));
		if (s == NULL)
			return VG_ENOMEM;
		r->start = s;
		r->cap_runs = cap;
	}
	if (r->n_runs == 0)
		r->start[0] = 0;
	r->start[++r->n_runs] = r->ids.n;
	return 0;
}

/* Merges the runs into one ascending list in r->ids (runs may overlap). */
static int runs_merge(struct runs *r)
{
	struct vg_postings tmp = VG_POSTINGS_INIT;
	size_t *start = r->start;

	if (r->n_runs <= 1)
		return 0;
	if (vg_postings_reserve(&tmp, r->ids.n) != 0)
		return VG_ENOMEM;
	while (r->n_runs > 1) {
		size_t k = 0, n = 0;

		for (size_t i = 0; i < r->n_runs; i += 2) {
			size_t a0 = start[i], a1 = start[i + 1];
			size_t b1 = i + 1 < r->n_runs ? start[i + 2] : a1;

			start[k++] = n;
			n += merge(r->ids.ids + a0, a1 - a0, r->ids.ids + a1, b1 - a1, tmp.ids + n);
		}
		start[k] = n;
		r->n_runs = k;
		{
			struct vg_postings t = r->ids;
			r->ids = tmp;
			tmp = t;
		}
		r->ids.n = n;
	}
	vg_postings_release(&tmp);
	return 0;
}

/* ---- selection --------------------------------------------------------- */

struct collect {
	const struct vg_label_index *ix;
	const struct vg_matcher *m;
	bool want; /* collect the values the matcher accepts (else rejects) */
	const struct vg_postings *within; /* keep only these ids; NULL: all */
	struct runs runs;
};

static int on_value(void *arg, struct vg_str value, uint64_t ref)
{
	struct collect *c = arg;
	size_t start = c->runs.ids.n;
	int rc;

	if ((rc = vg_matcher_match(c->m, value)) < 0)
		return rc; /* undecided is not "no match" */
	if ((rc == 1) != c->want)
		return 0;
	if ((rc = c->ix->ops->postings_ref(c->ix->index, ref, &c->runs.ids)) != 0)
		return rc;
	/* Narrowed at once, so a broad regex over few candidates merges
	 * only what survives. */
	if (c->within != NULL)
		c->runs.ids.n = start + vg_postings_intersect(c->runs.ids.ids + start,
							      c->runs.ids.n - start,
							      c->within->ids, c->within->n);
	return runs_close(&c->runs);
}

/* The ids of the series whose value of m's label is non-empty and is
 * accepted (want) or rejected (!want) by m, into out; only those also in
 * within when it is not NULL. */
static int matching_values(const struct vg_label_index *ix, const struct vg_matcher *m, bool want,
			   const struct vg_postings *within, struct vg_postings *out)
{
	struct collect c = { ix, m, want, within, { VG_POSTINGS_INIT, NULL, 0, 0 } };
	int rc;

	vg_postings_release(out);
	rc = ix->ops->label_values(ix->index, vg_str_c(m->name), on_value, &c);
	if (rc == 0)
		rc = runs_merge(&c.runs);
	if (rc == 0) {
		*out = c.runs.ids;
		vg_postings_init(&c.runs.ids);
	}
	runs_release(&c.runs);
	return rc;
}

static bool is_plain_eq(const struct vg_matcher *m)
{
	return m->op == VG_MATCH_EQ && m->value_len > 0;
}

int vg_postings_select(const struct vg_label_index *ix, const struct vg_selector *sel,
		       struct vg_postings *out, struct vg_err *err)
{
	struct vg_postings eq[MAX_MATCHERS], set = VG_POSTINGS_INIT;
	size_t n_eq = 0, n = sel->n;
	bool has_cand = false;
	int rc = 0;

	vg_postings_release(out);
	if (n > MAX_MATCHERS)
		return vg_err_set(err, VG_ELIMIT, "more than %d matchers", MAX_MATCHERS);

	/* 1. Equalities, smallest first. */
	for (size_t i = 0; i < n; i++) {
		const struct vg_matcher *m = &sel->m[i];

		if (!is_plain_eq(m))
			continue;
		vg_postings_init(&eq[n_eq]);
		rc = ix->ops->postings(ix->index, vg_str_c(m->name),
				       (struct vg_str){ m->value, (uint32_t)m->value_len },
				       &eq[n_eq]);
		n_eq++;
		if (rc != 0)
			goto out;
		if (eq[n_eq - 1].n == 0)
			goto out; /* no series has this pair */
	}
	for (size_t i = 1; i < n_eq; i++)
		for (size_t j = i; j > 0 && eq[j].n < eq[j - 1].n; j--) {
			struct vg_postings t = eq[j];
			eq[j] = eq[j - 1];
			eq[j - 1] = t;
		}
	if (n_eq > 0) {
		*out = eq[0];
		vg_postings_init(&eq[0]);
		has_cand = true;
		for (size_t i = 1; i < n_eq && out->n > 0; i++)
			out->n = vg_postings_intersect(out->ids, out->n, eq[i].ids, eq[i].n);
	}

	/* 2. Other positives: the union of the values they accept. */
	for (size_t i = 0; i < n && (!has_cand || out->n > 0); i++) {
		const struct vg_matcher *m = &sel->m[i];

		if (is_plain_eq(m) || m->matches_empty)
			continue;
		if ((rc = matching_values(ix, m, true, has_cand ? out : NULL, &set)) != 0)
			goto out;
		vg_postings_release(out);
		*out = set;
		vg_postings_init(&set);
		has_cand = true;
	}

	/* 3. Negatives: remove the series whose value the matcher rejects. */
	if (!has_cand) {
		vg_postings_release(out);
		if ((rc = ix->ops->all(ix->index, out)) != 0)
			goto out;
	}
	for (size_t i = 0; i < n && out->n > 0; i++) {
		const struct vg_matcher *m = &sel->m[i];

		if (is_plain_eq(m) || !m->matches_empty)
			continue;
		if (m->op == VG_MATCH_NE) {
			/* l!="x": only the series with l="x" go. */
			set.n = 0;
			rc = ix->ops->postings(ix->index, vg_str_c(m->name),
					       (struct vg_str){ m->value, (uint32_t)m->value_len },
					       &set);
		} else {
			rc = matching_values(ix, m, false, out, &set);
		}
		if (rc != 0)
			goto out;
		out->n = vg_postings_subtract(out->ids, out->n, set.ids, set.n);
	}
out:
	for (size_t i = 0; i < n_eq; i++)
		vg_postings_release(&eq[i]);
	vg_postings_release(&set);
	if (rc != 0) {
		out->n = 0;
		vg_err_set(err, rc, "selecting series: %s", vg_strerror(rc));
	}
	return rc;
}
