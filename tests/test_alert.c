/* test_alert.c: the alert identity (receiver/alert/alert.c): fingerprints
 * equal to Alertmanager's for the same label sets. */
#include "receiver/alert/alert.h"

#include <check.h>
#include <stdlib.h>

static const char *fp_of(size_t n, char **names, char **values, char out[17])
{
	struct vg_conf_labels l = { n, names, values };

	vg_alert_fingerprint_hex(vg_alert_fingerprint(&l), out);
	return out;
}

START_TEST(test_fingerprint_values)
{
	char hex[17];
	char *n2[] = { "alertname", "instance" }, *v2[] = { "DiskFull", "h1" };
	char *n1[] = { "a", "b" }, *v1[] = { "1", "2" };
	char *n3[] = { "a", "b" }, *v3[] = { "1", "3" };

	/* No labels: the FNV-1a offset basis. */
	ck_assert_str_eq(fp_of(0, NULL, NULL, hex), "cbf29ce484222325");
	ck_assert_str_eq(fp_of(2, n2, v2, hex), "7bcfc4e809bd7af8");
	ck_assert_str_eq(fp_of(2, n1, v1, hex), "1cc37fac8a64ae01");
	ck_assert_str_ne(fp_of(2, n3, v3, hex), "1cc37fac8a64ae01");
}
END_TEST

/* The separator keeps a="bc" apart from ab="c". */
START_TEST(test_fingerprint_separates_names_and_values)
{
	char a[17], b[17];
	char *n1[] = { "a" }, *v1[] = { "bc" };
	char *n2[] = { "ab" }, *v2[] = { "c" };

	ck_assert_str_ne(fp_of(1, n1, v1, a), fp_of(1, n2, v2, b));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("alert");
	TCase *tc = tcase_create("fingerprint");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_fingerprint_values);
	tcase_add_test(tc, test_fingerprint_separates_names_and_values);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
