/*
 * test_web_browser.c: the web UI in a real headless browser: one receiver
 * and one chromium (tests/browser.py) for every case file,
 * tests/browser_*.py, each of which loads its own data through the
 * import endpoint. Screenshots go to tests/web-artifacts/ in the build
 * tree. Skipped (77) only when chromium or chromedriver is missing.
 */
#include "harness.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/banned.h"

#ifndef VG_SRCDIR
#error "VG_SRCDIR: the source tree, for tests/browser.py"
#endif

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The alert, rule and silence pages need rules and a notifier: those of
 * tests/data/web_rules.yaml (evaluated every second) and an alerting:
 * section that sends nowhere. */
static const char config[] = "rule_files: [\"" VG_SRCDIR "/tests/data/web_rules.yaml\"]\n"
			     "alerting:\n  route:\n    receiver: none\n  receivers:\n    - name: none\n";

START_TEST(test_browser_cases)
{
	struct vg_t_receiver r;
	char *dir = vg_t_tmpdir("vg-web-browser");
	char base[64], artifacts[600], script[600], *cases[32], *argv[44], *out = NULL, *errout = NULL;
	size_t n = 0, a = 0;
	DIR *d;
	struct dirent *e;
	int rc;

	ck_assert_int_eq(vg_t_receiver_start_config(&r, dir, config, 0), 0);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", r.http_port);
	snprintf(artifacts, sizeof(artifacts), "%s/tests/web-artifacts", getenv("VG_BUILDDIR") ? getenv("VG_BUILDDIR") : VG_BUILDDIR);
	snprintf(script, sizeof(script), "%s/tests/browser.py", VG_SRCDIR);
	ck_assert_ptr_nonnull(d = opendir(VG_SRCDIR "/tests"));
	while ((e = readdir(d)) != NULL && n < 32) {
		size_t len = strlen(e->d_name);
		if (strncmp(e->d_name, "browser_", 8) == 0 && len > 3 && strcmp(e->d_name + len - 3, ".py") == 0) {
			ck_assert_ptr_nonnull(cases[n] = malloc(sizeof(VG_SRCDIR) + len + 8));
			snprintf(cases[n], sizeof(VG_SRCDIR) + len + 8, "%s/tests/%s", VG_SRCDIR, e->d_name);
			n++;
		}
	}
	closedir(d);
	ck_assert_uint_gt(n, 0);
	qsort(cases, n, sizeof(cases[0]), cmp_str);
	argv[a++] = "/usr/bin/env";
	argv[a++] = "python3";
	argv[a++] = script;
	argv[a++] = "--base";
	argv[a++] = base;
	argv[a++] = "--artifacts";
	argv[a++] = artifacts;
	for (size_t i = 0; i < n; i++)
		argv[a++] = cases[i];
	argv[a] = NULL;
	rc = vg_t_run(argv, &out, &errout, 120000);
	fprintf(stderr, "%s%s", out ? out : "", errout ? errout : "");
	ck_assert_msg(rc == 0, "browser cases failed (exit %d); screenshots in %s", rc, artifacts);
	ck_assert_int_eq(vg_t_stop(&r.proc, SIGTERM, 10000), 0);
	for (size_t i = 0; i < n; i++)
		free(cases[i]);
	free(out);
	free(errout);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

int main(void)
{
	char *argv[] = { "/usr/bin/env", "python3", VG_SRCDIR "/tests/browser.py", "--probe", NULL };
	char *out = NULL, *err = NULL;
	int rc = vg_t_run(argv, &out, &err, 10000), failed;
	Suite *s;
	SRunner *sr;

	if (rc != 0) {
		/* Only a missing browser is a skip; anything else fails. */
		printf("%s%s", out ? out : "", err ? err : "");
		free(out);
		free(err);
		return rc == 77 ? 77 : 1;
	}
	free(out);
	free(err);
	s = suite_create("web_browser");
	TCase *tc = tcase_create("browser");
	tcase_set_timeout(tc, 150);
	tcase_add_test(tc, test_browser_cases);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
