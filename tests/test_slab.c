/*
 * test_slab.c: the head's chunk allocator (receiver/storage/slab.c): size
 * classes, emptied slabs given back to the kernel and reused, bytes that
 * survive churn across classes and malloc's larger sizes, and frees on one
 * thread while another allocates (run under ThreadSanitizer too).
 */
#include "receiver/storage/slab.h"

#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/banned.h"

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Fills p[0..n) with bytes derived from tag; check_fill says whether it
 * still holds them. */
static void fill(uint8_t *p, size_t n, uint32_t tag)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(tag * 31u + i * 7u + (i >> 8));
}

static bool check_fill(const uint8_t *p, size_t n, uint32_t tag)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)(tag * 31u + i * 7u + (i >> 8)))
			return false;
	return true;
}

/* Whether the page holding p is resident (mincore). */
static bool is_resident(const void *p)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char vec = 0;

	ck_assert_int_eq(mincore((void *)((uintptr_t)p & ~(uintptr_t)(page - 1)), page, &vec), 0);
	return (vec & 1) != 0;
}

START_TEST(test_slab_classes_round_up_a_little)
{
	size_t last = 0;

	for (size_t n = 1; n <= VG_SLAB_MAX; n++) {
		size_t s = vg_slab_slot(n);
		ck_assert_uint_ge(s, n);
		ck_assert_uint_ge(s, last);
		ck_assert_uint_eq(s % 8, 0);
		ck_assert_uint_lt(s - n, n <= 1024 ? 8 : n <= 2048 ? 16 : 32);
		last = s;
	}
	/* larger sizes are malloc's, as asked */
	ck_assert_uint_eq(vg_slab_slot(VG_SLAB_MAX + 1), VG_SLAB_MAX + 1);
}
END_TEST

/* A generation of allocations freed together leaves whole slabs: their
 * pages go back to the kernel (mincore: no longer resident), and the next
 * size class takes those slabs again instead of mapping more. */
START_TEST(test_slab_emptied_slabs_given_back_and_reused)
{
	enum { N = 40000, SIZE = 600, SIZE2 = 880 };
	struct vg_slab *a = vg_slab_new();
	struct vg_slab_mem m0, m1, m2, m3;
	uint8_t **p = calloc(N, sizeof(*p));
	size_t n_resident = 0;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(p);
	for (uint32_t i = 0; i < N; i++) {
		ck_assert_ptr_nonnull(p[i] = vg_slab_alloc(a, SIZE));
		ck_assert_uint_eq((uintptr_t)p[i] % 8, 0);
		fill(p[i], SIZE, i);
	}
	vg_slab_memory(a, &m0);
	for (uint32_t i = 0; i < N; i++)
		ck_assert(is_resident(p[i]));
	ck_assert_uint_eq(m0.asked, (size_t)N * SIZE);
	ck_assert_uint_ge(m0.resident, m0.asked);
	/* tails and record pages: a few percent */
	ck_assert_uint_lt(m0.resident - m0.asked, m0.asked / 50);
	for (uint32_t i = 0; i < N; i++) {
		ck_assert(check_fill(p[i], SIZE, i));
		vg_slab_free(a, p[i], SIZE);
	}
	vg_slab_memory(a, &m1);
	for (uint32_t i = 0; i < N; i++)
		n_resident += is_resident(p[i]);
	ck_assert_uint_eq(m1.asked, 0);
	ck_assert_uint_eq(m1.slabs_used, 0);
	ck_assert_uint_gt(m1.madvised, 300);
	/* what stays: the few slabs kept and a page of records a mapping */
	ck_assert_uint_le(m1.resident, 4 * 65536 + m1.mapped / (2u << 20) * 4096);
	/* only the slabs kept (109 slots of 600 bytes each) */
	ck_assert_uint_le(n_resident, 4 * 65536 / SIZE);

	/* the next generation, another class, lives in the same mappings */
	for (uint32_t i = 0; i < N * SIZE / SIZE2; i++) {
		ck_assert_ptr_nonnull(p[i] = vg_slab_alloc(a, SIZE2));
		fill(p[i], SIZE2, i ^ 0x5555);
	}
	vg_slab_memory(a, &m2);
	/* (880-byte slots fill a slab less well: a couple more slabs than
	 * the 600-byte generation left, from the mapping's spare ones) */
	ck_assert_uint_le(m2.mapped, m0.mapped);
	ck_assert_uint_gt(m2.slabs_used, m1.slabs_returned + m1.slabs_kept);
	ck_assert_uint_eq(m2.slabs_returned, 0);
	ck_assert_uint_eq(m2.slabs_kept, 0);
	for (uint32_t i = 0; i < N * SIZE / SIZE2; i++) {
		ck_assert(check_fill(p[i], SIZE2, i ^ 0x5555));
		vg_slab_free(a, p[i], SIZE2);
	}
	vg_slab_memory(a, &m3);
	ck_assert_uint_eq(m3.asked, 0);
	ck_assert_uint_eq(m3.slots, 0);
	vg_slab_free_all(a);
	free(p);
}
END_TEST

/* Random sizes (some over VG_SLAB_MAX, which malloc serves), freed and
 * allocated again in random order: every live allocation keeps its
 * bytes, and the figures add up to what is live. */
START_TEST(test_slab_bytes_survive_churn)
{
	enum { LIVE = 3000, OPS = 200000 };
	struct vg_slab *a = vg_slab_new();
	struct { uint8_t *p; uint32_t n, tag; } *v = calloc(LIVE, sizeof(*v));
	struct vg_slab_mem m;
	uint64_t rng = 0x9E3779B97F4A7C15ULL;
	size_t asked = 0, slots = 0, large = 0;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(v);
	for (uint32_t op = 0; op < OPS; op++) {
		uint32_t i = (uint32_t)(rng_next(&rng) % LIVE);

		if (v[i].p) {
			ck_assert(check_fill(v[i].p, v[i].n, v[i].tag));
			vg_slab_free(a, v[i].p, v[i].n);
			asked -= v[i].n;
			slots -= v[i].n > VG_SLAB_MAX ? 0 : vg_slab_slot(v[i].n);
			large -= v[i].n > VG_SLAB_MAX;
			v[i].p = NULL;
			continue;
		}
		/* mostly chunk-sized, a few large ones */
		v[i].n = (uint32_t)(rng_next(&rng) % 16 == 0 ? 1 + rng_next(&rng) % 9000
							     : 1 + rng_next(&rng) % 1200);
		v[i].tag = op;
		ck_assert_ptr_nonnull(v[i].p = vg_slab_alloc(a, v[i].n));
		ck_assert_uint_eq((uintptr_t)v[i].p % 8, 0);
		fill(v[i].p, v[i].n, v[i].tag);
		asked += v[i].n;
		slots += v[i].n > VG_SLAB_MAX ? 0 : vg_slab_slot(v[i].n);
		large += v[i].n > VG_SLAB_MAX;
	}
	vg_slab_memory(a, &m);
	ck_assert_uint_eq(m.asked, asked);
	ck_assert_uint_eq(m.slots, slots);
	ck_assert_uint_eq(m.large_n, large);
	ck_assert_uint_ge(m.resident, slots);
	for (uint32_t i = 0; i < LIVE; i++) {
		if (v[i].p) {
			ck_assert(check_fill(v[i].p, v[i].n, v[i].tag));
			vg_slab_free(a, v[i].p, v[i].n);
		}
	}
	vg_slab_memory(a, &m);
	ck_assert_uint_eq(m.asked, 0);
	ck_assert_uint_eq(m.large_n, 0);
	ck_assert_uint_eq(m.slabs_used, 0);
	vg_slab_free_all(a);
	free(v);
}
END_TEST

/* One thread allocates (the head's writer), another frees what it is
 * handed (the sealer dropping a frozen set): the bytes arrive intact and
 * everything is given back. */
#define HAND_N 256
struct hand {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint8_t *p[HAND_N];
	uint32_t n[HAND_N], tag[HAND_N];
	unsigned len;
	bool is_done;
	struct vg_slab *a;
	unsigned bad;
};

static void *freer_main(void *arg)
{
	struct hand *x = arg;

	pthread_mutex_lock(&x->mu);
	for (;;) {
		while (x->len == 0 && !x->is_done)
			pthread_cond_wait(&x->cv, &x->mu);
		if (x->len == 0)
			break;
		x->len--;
		uint8_t *p = x->p[x->len];
		uint32_t n = x->n[x->len], tag = x->tag[x->len];
		pthread_cond_broadcast(&x->cv);
		pthread_mutex_unlock(&x->mu);
		if (!check_fill(p, n, tag))
			x->bad++;
		vg_slab_free(x->a, p, n);
		pthread_mutex_lock(&x->mu);
	}
	pthread_mutex_unlock(&x->mu);
	return NULL;
}

START_TEST(test_slab_frees_on_another_thread)
{
	struct hand x = { .a = vg_slab_new() };
	uint64_t rng = 42;
	struct vg_slab_mem m;
	pthread_t t;

	ck_assert_ptr_nonnull(x.a);
	pthread_mutex_init(&x.mu, NULL);
	pthread_cond_init(&x.cv, NULL);
	ck_assert_int_eq(pthread_create(&t, NULL, freer_main, &x), 0);
	for (uint32_t i = 0; i < 100000; i++) {
		uint32_t n = 16 + (uint32_t)(rng_next(&rng) % 1000);
		uint8_t *p = vg_slab_alloc(x.a, n);

		ck_assert_ptr_nonnull(p);
		fill(p, n, i);
		if (i % 2000 < 64) {
			/* some are freed here, beside the other thread's frees */
			ck_assert(check_fill(p, n, i));
			vg_slab_free(x.a, p, n);
			continue;
		}
		pthread_mutex_lock(&x.mu);
		while (x.len == HAND_N)
			pthread_cond_wait(&x.cv, &x.mu);
		x.p[x.len] = p;
		x.n[x.len] = n;
		x.tag[x.len] = i;
		x.len++;
		pthread_cond_broadcast(&x.cv);
		pthread_mutex_unlock(&x.mu);
	}
	pthread_mutex_lock(&x.mu);
	x.is_done = true;
	pthread_cond_broadcast(&x.cv);
	pthread_mutex_unlock(&x.mu);
	pthread_join(t, NULL);
	ck_assert_uint_eq(x.bad, 0);
	vg_slab_memory(x.a, &m);
	ck_assert_uint_eq(m.asked, 0);
	ck_assert_uint_eq(m.slabs_used, 0);
	vg_slab_free_all(x.a);
	pthread_cond_destroy(&x.cv);
	pthread_mutex_destroy(&x.mu);
}
END_TEST

static Suite *slab_suite(void)
{
	Suite *s = suite_create("slab");
	TCase *tc = tcase_create("slab");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_slab_classes_round_up_a_little);
	tcase_add_test(tc, test_slab_emptied_slabs_given_back_and_reused);
	tcase_add_test(tc, test_slab_bytes_survive_churn);
	tcase_add_test(tc, test_slab_frees_on_another_thread);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(slab_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
