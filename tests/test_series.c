/* test_series.c: the series model (common/series.c): names, canonical
 * form, keys, hashes and text. */
#include "common/buf.h"
#include "common/err.h"
#include "common/series.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_metric_names)
{
	ck_assert(vg_metric_name_valid("node_cpu_seconds_total", 22));
	ck_assert(vg_metric_name_valid("job:rate5m:sum", 14));
	ck_assert(vg_metric_name_valid("_x", 2));
	ck_assert(!vg_metric_name_valid("", 0));
	ck_assert(!vg_metric_name_valid("1abc", 4));
	ck_assert(!vg_metric_name_valid("a-b", 3));
	ck_assert(!vg_metric_name_valid("a.b", 3));
	ck_assert(!vg_metric_name_valid("a\0b", 3));
	char long_name[VG_SERIES_MAX_NAME + 2];
	memset(long_name, 'a', sizeof(long_name));
	ck_assert(vg_metric_name_valid(long_name, VG_SERIES_MAX_NAME));
	ck_assert(!vg_metric_name_valid(long_name, VG_SERIES_MAX_NAME + 1));
}
END_TEST

START_TEST(test_label_names)
{
	ck_assert(vg_label_name_valid("mode", 4));
	ck_assert(vg_label_name_valid("__name__", 8));
	ck_assert(!vg_label_name_valid("a:b", 3)); /* colons only in metric names */
	ck_assert(!vg_label_name_valid("0a", 2));
	ck_assert(!vg_label_name_valid("", 0));
}
END_TEST

START_TEST(test_utf8_validation)
{
	ck_assert(vg_utf8_valid("plain", 5));
	ck_assert(vg_utf8_valid("caf\xc3\xa9", 5));
	ck_assert(vg_utf8_valid("\xf0\x9f\x98\x80", 4));      /* U+1F600 */
	ck_assert(!vg_utf8_valid("\xc3", 1));                 /* truncated */
	ck_assert(!vg_utf8_valid("\xc0\xaf", 2));             /* overlong '/' */
	ck_assert(!vg_utf8_valid("\xe0\x80\xaf", 3));         /* overlong */
	ck_assert(!vg_utf8_valid("\xed\xa0\x80", 3));         /* surrogate */
	ck_assert(!vg_utf8_valid("\xf4\x90\x80\x80", 4));     /* past U+10FFFF */
	ck_assert(!vg_utf8_valid("\xff", 1));
	ck_assert(!vg_utf8_valid("a\x80", 2));
}
END_TEST

START_TEST(test_canonical_sorts_and_drops_empty)
{
	struct vg_series s;
	struct vg_buf b = VG_BUF_INIT;

	vg_series_init(&s, "up");
	vg_series_add(&s, "zone", "b");
	vg_series_add(&s, "empty", "");
	vg_series_add(&s, "app", "x");
	ck_assert_int_eq(vg_series_canonicalize(&s, NULL), 0);
	ck_assert_uint_eq(s.n_labels, 2);
	vg_series_format(&s, &b);
	ck_assert_str_eq(vg_buf_cstr(&b), "up{app=\"x\",zone=\"b\"}");
	ck_assert_ptr_null(vg_series_get(&s, "empty"));
	ck_assert(vg_str_eq_c(*vg_series_get(&s, "zone"), "b"));
	vg_buf_release(&b);
}
END_TEST

START_TEST(test_canonical_rejects_duplicates_reserved_and_bad_values)
{
	struct vg_series s;
	struct vg_err err;

	vg_series_init(&s, "up");
	vg_series_add(&s, "a", "1");
	vg_series_add(&s, "a", "2");
	ck_assert_int_eq(vg_series_canonicalize(&s, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "twice"));

	vg_series_init(&s, "up");
	vg_series_add(&s, "__name__", "x");
	ck_assert_int_eq(vg_series_canonicalize(&s, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "reserved"));

	vg_series_init(&s, "up");
	vg_series_add(&s, "a", "\xff");
	ck_assert_int_eq(vg_series_canonicalize(&s, &err), VG_EINVAL);

	vg_series_init(&s, "bad name");
	ck_assert_int_eq(vg_series_canonicalize(&s, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "metric name"));

	char *big = malloc(VG_SERIES_MAX_VALUE + 2);
	memset(big, 'v', VG_SERIES_MAX_VALUE + 1);
	big[VG_SERIES_MAX_VALUE + 1] = '\0';
	vg_series_init(&s, "up");
	vg_series_add(&s, "a", big);
	ck_assert_int_eq(vg_series_canonicalize(&s, &err), VG_ELIMIT);
	free(big);
}
END_TEST

START_TEST(test_label_limit)
{
	struct vg_series s;
	char names[VG_SERIES_MAX_LABELS + 1][16];

	vg_series_init(&s, "up");
	for (int i = 0; i < VG_SERIES_MAX_LABELS; i++) {
		snprintf(names[i], sizeof(names[i]), "l%d", i);
		ck_assert_int_eq(vg_series_add(&s, names[i], "v"), 0);
	}
	ck_assert_int_eq(vg_series_add(&s, "one_more", "v"), VG_ELIMIT);
	ck_assert_int_eq(vg_series_canonicalize(&s, NULL), 0);
}
END_TEST

START_TEST(test_key_length_limit)
{
	static char values[8][4001];
	char names[8][4];
	struct vg_series s;
	struct vg_err err;

	/* Four 4000-byte values fit in 16 KiB of key, five do not. */
	vg_series_init(&s, "big");
	for (int i = 0; i < 5; i++) {
		memset(values[i], 'x', 4000);
		values[i][4000] = '\0';
		snprintf(names[i], sizeof(names[i]), "l%d", i);
		vg_series_add(&s, names[i], values[i]);
		if (i == 3)
			ck_assert_int_eq(vg_series_canonicalize(&s, &err), 0);
	}
	ck_assert_int_eq(vg_series_canonicalize(&s, &err), VG_ELIMIT);
	ck_assert_ptr_nonnull(strstr(err.msg, "bytes in all"));
}
END_TEST

START_TEST(test_hash_ignores_label_order_and_differs_by_content)
{
	struct vg_series a, b, c;

	vg_series_init(&a, "m");
	vg_series_add(&a, "x", "1");
	vg_series_add(&a, "y", "2");
	vg_series_init(&b, "m");
	vg_series_add(&b, "y", "2");
	vg_series_add(&b, "x", "1");
	vg_series_init(&c, "m");
	vg_series_add(&c, "x", "12"); /* same bytes run together: must differ */
	vg_series_canonicalize(&a, NULL);
	vg_series_canonicalize(&b, NULL);
	vg_series_canonicalize(&c, NULL);
	ck_assert_uint_eq(vg_series_hash(&a), vg_series_hash(&b));
	ck_assert_uint_ne(vg_series_hash(&a), vg_series_hash(&c));
}
END_TEST

START_TEST(test_key_roundtrip_and_hash_agree)
{
	struct vg_series s, back;
	struct vg_buf key = VG_BUF_INIT, t1 = VG_BUF_INIT, t2 = VG_BUF_INIT;

	vg_series_init(&s, "node_filesystem_avail_bytes");
	vg_series_add(&s, "mountpoint", "/home/a b");
	vg_series_add(&s, "device", "/dev/sda1");
	vg_series_add(&s, "fstype", "ext4");
	vg_series_canonicalize(&s, NULL);
	vg_series_key(&s, &key);
	ck_assert_uint_eq(vg_series_key_hash(key.data, key.len), vg_series_hash(&s));
	ck_assert_int_eq(vg_series_from_key(key.data, key.len, &back), 0);
	vg_series_format(&s, &t1);
	vg_series_format(&back, &t2);
	ck_assert_str_eq(vg_buf_cstr(&t1), vg_buf_cstr(&t2));
	/* A truncated key is refused, not misread. */
	ck_assert_int_eq(vg_series_from_key(key.data, key.len - 1, &back), VG_EINVAL);
	ck_assert_int_eq(vg_series_from_key((const uint8_t *)"nosep", 5, &back), VG_EINVAL);
	vg_buf_release(&key);
	vg_buf_release(&t1);
	vg_buf_release(&t2);
}
END_TEST

static int ref_cmp_whole(const void *x, const void *y)
{
	const struct vg_key_ref *a = x, *b = y;
	int c = vg_series_key_cmp(a->key, a->len, b->key, b->len);

	return c != 0 ? c : a->tag < b->tag ? -1 : a->tag > b->tag;
}

/* vg_series_key_sort against qsort with vg_series_key_cmp, on keys built to
 * meet every case of the byte order: label sets that are prefixes of
 * others, labels named below "__name__" ("A", "B"), values that are
 * prefixes of others, equal keys (ordered by tag), and now and then a
 * second metric name (the whole comparison); some rounds give every key
 * every label, as a selection of one metric mostly has. */
START_TEST(test_key_sort_agrees_with_cmp)
{
	static const char *const names[] = { "A", "B", "a", "b", "cpu", "instance", "mode", "zz" };
	static const char *const values[] = { "", "0", "1", "12", "2", "host-00001", "host-00010", "x" };
	uint32_t x = 12345;
	struct vg_buf keys = VG_BUF_INIT;
	struct vg_key_ref *v = malloc(5000 * sizeof(*v)), *w = malloc(5000 * sizeof(*w));
	size_t *off = malloc(5000 * sizeof(*off));

	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(off);
	for (int round = 0; round < 300; round++) {
		size_t n = round < 299 ? (size_t)(round % 97) : 5000;
		bool two_names = round % 5 == 4, all_labels = round % 7 == 3 || n == 5000;

		vg_buf_reset(&keys);
		for (size_t i = 0; i < n; i++) {
			struct vg_series s;
			x = x * 1103515245u + 12345u;
			if (i > 0 && (x >> 28) == 0) {
				/* the same key again */
				off[i] = off[i - 1 - (x >> 16) % i];
				v[i].len = v[i - 1 - (x >> 16) % i].len;
				v[i].tag = (uint32_t)i;
				continue;
			}
			vg_series_init(&s, two_names && (x >> 20) % 3 == 0 ? "n" : "m");
			for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
				x = x * 1103515245u + 12345u;
				size_t nv = sizeof(values) / sizeof(values[0]) - all_labels;
				vg_series_add(&s, names[k], values[all_labels + (x >> 16) % nv]);
			}
			ck_assert_int_eq(vg_series_canonicalize(&s, NULL), 0);
			off[i] = keys.len;
			vg_series_key(&s, &keys);
			v[i].len = (uint32_t)(keys.len - off[i]);
			v[i].tag = (uint32_t)i;
		}
		ck_assert(!vg_buf_failed(&keys));
		for (size_t i = 0; i < n; i++)
			v[i].key = keys.data + off[i];
		memcpy(w, v, n * sizeof(*v));
		vg_series_key_sort(v, n);
		if (n)
			qsort(w, n, sizeof(*w), ref_cmp_whole);
		for (size_t i = 0; i < n; i++)
			ck_assert_uint_eq(v[i].tag, w[i].tag);
	}
	vg_buf_release(&keys);
	free(v);
	free(w);
	free(off);
}
END_TEST

START_TEST(test_format_escapes_values)
{
	struct vg_series s;
	struct vg_buf b = VG_BUF_INIT;

	vg_series_init(&s, "m");
	vg_series_add(&s, "path", "C:\\DIR\\\"x\"\nend");
	vg_series_canonicalize(&s, NULL);
	vg_series_format(&s, &b);
	ck_assert_str_eq(vg_buf_cstr(&b), "m{path=\"C:\\\\DIR\\\\\\\"x\\\"\\nend\"}");
	vg_buf_reset(&b);
	vg_series_init(&s, "bare");
	vg_series_format(&s, &b);
	ck_assert_str_eq(vg_buf_cstr(&b), "bare");
	vg_buf_release(&b);
}
END_TEST

START_TEST(test_buf_invariants_and_varints)
{
	struct vg_buf b = VG_BUF_INIT;
	uint64_t vals[] = { 0, 1, 127, 128, 300, 1ULL << 35, UINT64_MAX };
	size_t off = 0, len;
	char *s;

	vg_buf_grow(&b, 10);
	ck_assert_str_eq(vg_buf_cstr(&b), ""); /* a fresh buffer is the empty string */
	vg_buf_printf(&b, "%s-%d", "abc", 42);
	ck_assert_str_eq(vg_buf_cstr(&b), "abc-42");
	vg_buf_consume(&b, 4);
	ck_assert_str_eq(vg_buf_cstr(&b), "42");
	vg_buf_reset(&b);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		vg_buf_put_uvarint(&b, vals[i]);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		uint64_t v;
		size_t n = vg_get_uvarint(b.data + off, b.len - off, &v);
		ck_assert_uint_gt(n, 0);
		ck_assert_uint_eq(v, vals[i]);
		off += n;
	}
	ck_assert_uint_eq(off, b.len);
	/* Truncated and over-long varints. */
	uint64_t v;
	ck_assert_uint_eq(vg_get_uvarint((const uint8_t *)"\x80\x80", 2, &v), 0);
	ck_assert_uint_eq(vg_get_uvarint((const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10, &v), 0);
	ck_assert_int_eq(vg_unzigzag(vg_zigzag(-5)), -5);
	ck_assert_int_eq(vg_unzigzag(vg_zigzag(INT64_MIN)), INT64_MIN);
	s = vg_buf_detach(&b, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(b.len, 0);
	free(s);
	s = vg_buf_detach(&b, &len); /* an empty buffer detaches as "" */
	ck_assert_str_eq(s, "");
	ck_assert_uint_eq(len, 0);
	free(s);
}
END_TEST

static Suite *series_suite(void)
{
	Suite *s = suite_create("series");
	TCase *tc = tcase_create("model");

	tcase_add_test(tc, test_metric_names);
	tcase_add_test(tc, test_label_names);
	tcase_add_test(tc, test_utf8_validation);
	tcase_add_test(tc, test_canonical_sorts_and_drops_empty);
	tcase_add_test(tc, test_canonical_rejects_duplicates_reserved_and_bad_values);
	tcase_add_test(tc, test_label_limit);
	tcase_add_test(tc, test_key_length_limit);
	tcase_add_test(tc, test_hash_ignores_label_order_and_differs_by_content);
	tcase_add_test(tc, test_key_roundtrip_and_hash_agree);
	tcase_add_test(tc, test_key_sort_agrees_with_cmp);
	tcase_add_test(tc, test_format_escapes_values);
	suite_add_tcase(s, tc);
	tc = tcase_create("buf");
	tcase_add_test(tc, test_buf_invariants_and_varints);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(series_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
