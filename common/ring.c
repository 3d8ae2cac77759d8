/*
 * ring.c: the consistent-hash ring of ring.h; docs/ring.md is the
 * reference for the algorithm, which agents and receivers must compute
 * alike.
 *
 * The points of every member, sorted by (position, member address), in one
 * array; a lookup is a binary search for the first point at or after the
 * key's position, then a clockwise walk that skips members already taken.
 * Ties between equal positions (astronomically rare with 64 bits) are
 * broken by address so the order never depends on the configured order.
 */
#include "common/hash.h"
#include "common/ring.h"
#include "common/err.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

struct point {
	uint64_t pos;
	uint32_t member;
};

struct vg_ring {
	char **members;
	size_t n_members;
	struct point *points;
	size_t n_points;
};

/* While sorting, a point's member field holds the member's rank in
 * address order, so equal positions order by address. */
static int cmp_pos(const void *a, const void *b)
{
	const struct point *x = a, *y = b;

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return x->member < y->member ? -1 : x->member > y->member;
}

static uint64_t point_pos(const char *address, unsigned i)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "#%u", i);
	XXH3_state_t st;

	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, address, strlen(address));
	XXH3_64bits_update(&st, buf, (size_t)n);
	return XXH3_64bits_digest(&st);
}

int vg_ring_new(const char *const *members, size_t n, unsigned vnodes, struct vg_ring **out,
		struct vg_err *err)
{
	struct vg_ring *r;
	size_t *order = NULL;
	uint32_t *rank = NULL;

	if (n == 0 || n > VG_RING_MAX_MEMBERS)
		return vg_err_set(err, VG_ELIMIT, "a ring needs 1 to %d members, not %zu", VG_RING_MAX_MEMBERS, n);
	if (vnodes == 0 || vnodes > VG_RING_MAX_VNODES)
		return vg_err_set(err, VG_ELIMIT, "virtual nodes per member must be 1 to %d, not %u",
				  VG_RING_MAX_VNODES, vnodes);
	for (size_t i = 0; i < n; i++) {
		if (members[i] == NULL || members[i][0] == '\0')
			return vg_err_set(err, VG_EINVAL, "ring member %zu has an empty address", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(members[i], members[j]) == 0)
				return vg_err_set(err, VG_EINVAL, "ring member \"%s\" is listed twice", members[i]);
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	r->members = calloc(n, sizeof(*r->members));
	r->points = calloc(n * vnodes, sizeof(*r->points));
	rank = calloc(n, sizeof(*rank));
	order = calloc(n, sizeof(*order));
	if (r->members == NULL || r->points == NULL || rank == NULL || order == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		if ((r->members[i] = strdup(members[i])) == NULL)
			goto nomem;
		r->n_members++;
	}
	/* rank[i]: member i's place in address order, the tie-breaker. */
	for (size_t i = 0; i < n; i++) {
		uint32_t k = 0;
		for (size_t j = 0; j < n; j++)
			if (strcmp(members[j], members[i]) < 0)
				k++;
		rank[i] = k;
		order[k] = i;
	}
	for (size_t i = 0; i < n; i++)
		for (unsigned v = 0; v < vnodes; v++)
			r->points[r->n_points++] = (struct point){ point_pos(members[i], v), rank[i] };
	qsort(r->points, r->n_points, sizeof(*r->points), cmp_pos);
	/* Back from address rank to the member's index. */
	for (size_t p = 0; p < r->n_points; p++)
		r->points[p].member = (uint32_t)order[r->points[p].member];
	free(rank);
	free(order);
	*out = r;
	return 0;
nomem:
	free(rank);
	free(order);
	vg_ring_free(r);
	return vg_err_set(err, VG_ENOMEM, "out of memory building a ring of %zu members", n);
}

void vg_ring_free(struct vg_ring *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_members; i++)
		free(r->members[i]);
	free(r->members);
	free(r->points);
	free(r);
}

size_t vg_ring_size(const struct vg_ring *r)
{
	return r->n_members;
}

const char *vg_ring_member(const struct vg_ring *r, size_t i)
{
	return i < r->n_members ? r->members[i] : NULL;
}

size_t vg_ring_lookup(const struct vg_ring *r, const void *key, size_t key_len, size_t rf, size_t *out)
{
	uint64_t h = XXH3_64bits(key, key_len);
	size_t lo = 0, hi = r->n_points, n = 0;

	if (rf > r->n_members)
		rf = r->n_members;
	/* The first point with pos >= h; n_points wraps to 0. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->points[mid].pos < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t step = 0; step < r->n_points && n < rf; step++) {
		uint32_t m = r->points[(lo + step) % r->n_points].member;
		bool is_taken = false;
		for (size_t k = 0; k < n; k++)
			if (out[k] == m)
				is_taken = true;
		if (!is_taken)
			out[n++] = m;
	}
	return n;
}
