/*
 * test_ring.c: the consistent-hash ring (common/ring.h): replicas are
 * distinct, deterministic and independent of the configured order, the
 * load spreads evenly, a member's departure moves only its own hosts, and
 * bad member lists are refused. The pinned placements at the end hold the
 * algorithm of docs/ring.md still: receivers compute the same ring.
 */
#include "common/err.h"
#include "common/ring.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct vg_ring *ring_of(const char *const *m, size_t n, unsigned vnodes)
{
	struct vg_ring *r = NULL;
	struct vg_err err;

	ck_assert_msg(vg_ring_new(m, n, vnodes, &r, &err) == 0, "%s", err.msg);
	return r;
}

static size_t lookup(const struct vg_ring *r, const char *key, size_t rf, size_t *out)
{
	return vg_ring_lookup(r, key, strlen(key), rf, out);
}

START_TEST(test_ring_replicas_distinct_and_capped)
{
	static const char *const m[] = { "a:9710", "b:9710", "c:9710" };
	struct vg_ring *r = ring_of(m, 3, 128);
	size_t out[8];
	char key[32];

	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "host-%d", i);
		ck_assert_uint_eq(lookup(r, key, 2, out), 2);
		ck_assert_uint_ne(out[0], out[1]);
		ck_assert_uint_lt(out[0], 3);
		ck_assert_uint_lt(out[1], 3);
		ck_assert_uint_eq(lookup(r, key, 7, out), 3); /* rf above the members */
	}
	ck_assert_str_eq(vg_ring_member(r, 1), "b:9710");
	ck_assert_ptr_null(vg_ring_member(r, 3));
	ck_assert_uint_eq(vg_ring_size(r), 3);
	vg_ring_free(r);
}
END_TEST

START_TEST(test_ring_order_of_members_does_not_matter)
{
	static const char *const m1[] = { "a:9710", "b:9710", "c:9710", "d:9710" };
	static const char *const m2[] = { "d:9710", "b:9710", "a:9710", "c:9710" };
	struct vg_ring *r1 = ring_of(m1, 4, 64), *r2 = ring_of(m2, 4, 64);
	size_t o1[2], o2[2];
	char key[32];

	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "web-%d", i);
		lookup(r1, key, 2, o1);
		lookup(r2, key, 2, o2);
		ck_assert_str_eq(vg_ring_member(r1, o1[0]), vg_ring_member(r2, o2[0]));
		ck_assert_str_eq(vg_ring_member(r1, o1[1]), vg_ring_member(r2, o2[1]));
	}
	vg_ring_free(r1);
	vg_ring_free(r2);
}
END_TEST

static void check_balance(size_t n_members)
{
	const char *m[16];
	char names[16][48];
	size_t count[16] = { 0 }, out[1];
	char key[32];
	const size_t keys = 20000;
	struct vg_ring *r;

	for (size_t i = 0; i < n_members; i++) {
		snprintf(names[i], sizeof(names[i]), "10.0.0.%zu:9710", i + 1);
		m[i] = names[i];
	}
	r = ring_of(m, n_members, VG_RING_DEFAULT_VNODES);
	for (size_t i = 0; i < keys; i++) {
		snprintf(key, sizeof(key), "host-%05zu", i);
		lookup(r, key, 1, out);
		count[out[0]]++;
	}
	for (size_t i = 0; i < n_members; i++) {
		double share = (double)count[i] * (double)n_members / (double)keys;
		ck_assert_msg(share > 0.75 && share < 1.25, "member %zu holds %.2f of its share", i, share);
	}
	vg_ring_free(r);
}

START_TEST(test_ring_load_spreads_evenly)
{
	check_balance(3);
	check_balance(10);
}
END_TEST

START_TEST(test_ring_removing_a_member_moves_only_its_hosts)
{
	static const char *const m4[] = { "a:1", "b:1", "c:1", "d:1" };
	static const char *const m3[] = { "a:1", "b:1", "d:1" };
	struct vg_ring *r4 = ring_of(m4, 4, 128), *r3 = ring_of(m3, 3, 128);
	size_t o4[2], o3[2], moved = 0;
	char key[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "h%d", i);
		lookup(r4, key, 2, o4);
		lookup(r3, key, 2, o3);
		const char *p4 = vg_ring_member(r4, o4[0]), *s4 = vg_ring_member(r4, o4[1]);
		const char *p3 = vg_ring_member(r3, o3[0]), *s3 = vg_ring_member(r3, o3[1]);
		if (strcmp(p4, "c:1") != 0 && strcmp(s4, "c:1") != 0) {
			/* c held none of its copies: nothing moves. */
			ck_assert_str_eq(p4, p3);
			ck_assert_str_eq(s4, s3);
		} else {
			/* The copy that stays, stays. */
			const char *kept = strcmp(p4, "c:1") == 0 ? s4 : p4;
			ck_assert(strcmp(kept, p3) == 0 || strcmp(kept, s3) == 0);
			moved++;
		}
	}
	ck_assert_uint_gt(moved, 5000 / 4);
	ck_assert_uint_lt(moved, 5000 * 3 / 4);
	vg_ring_free(r4);
	vg_ring_free(r3);
}
END_TEST

START_TEST(test_ring_bad_member_lists_refused)
{
	static const char *const dup[] = { "a:1", "b:1", "a:1" };
	static const char *const empty[] = { "a:1", "" };
	struct vg_ring *r = NULL;
	struct vg_err err;

	ck_assert_int_eq(vg_ring_new(dup, 3, 16, &r, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "twice"));
	ck_assert_int_eq(vg_ring_new(empty, 2, 16, &r, &err), VG_EINVAL);
	ck_assert_int_eq(vg_ring_new(dup, 0, 16, &r, &err), VG_ELIMIT);
	ck_assert_int_eq(vg_ring_new(dup, 1, 0, &r, &err), VG_ELIMIT);
	ck_assert_int_eq(vg_ring_new(dup, 1, VG_RING_MAX_VNODES + 1, &r, &err), VG_ELIMIT);
	ck_assert_ptr_null(r);
}
END_TEST

/* Placements computed once by this implementation of docs/ring.md: a
 * change here moves every host in a fleet, so it must be deliberate. */
START_TEST(test_ring_placements_are_pinned)
{
	static const char *const m[] = { "10.0.0.1:9710", "10.0.0.2:9710", "10.0.0.3:9710" };
	static const struct {
		const char *host;
		const char *primary, *secondary;
	} want[] = {
		{ "web-17", "10.0.0.2:9710", "10.0.0.1:9710" },
		{ "db-1", "10.0.0.2:9710", "10.0.0.3:9710" },
		{ "host-00000", "10.0.0.2:9710", "10.0.0.3:9710" },
		{ "host-12345", "10.0.0.1:9710", "10.0.0.3:9710" },
		{ "a", "10.0.0.3:9710", "10.0.0.1:9710" },
	};
	struct vg_ring *r = ring_of(m, 3, VG_RING_DEFAULT_VNODES);
	size_t out[2];

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_uint_eq(lookup(r, want[i].host, 2, out), 2);
		ck_assert_str_eq(vg_ring_member(r, out[0]), want[i].primary);
		ck_assert_str_eq(vg_ring_member(r, out[1]), want[i].secondary);
	}
	vg_ring_free(r);
}
END_TEST

static Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("ring");

	tcase_add_test(tc, test_ring_replicas_distinct_and_capped);
	tcase_add_test(tc, test_ring_order_of_members_does_not_matter);
	tcase_add_test(tc, test_ring_load_spreads_evenly);
	tcase_add_test(tc, test_ring_removing_a_member_moves_only_its_hosts);
	tcase_add_test(tc, test_ring_bad_member_lists_refused);
	tcase_add_test(tc, test_ring_placements_are_pinned);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ring_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
