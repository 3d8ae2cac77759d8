/*
 * fuzz_selector.c: libFuzzer target for the selector parser
 * (common/selector.c). The input bytes are the selector text, with its
 * length (NULs and invalid UTF-8 included); a selector that parses is
 * matched against a fixed series, then released. Whatever the bytes, the
 * parser must either succeed with at least one matcher or fail with
 * VG_EINVAL and a positioned message, leaving the selector empty.
 * tests/fuzz/replay.c runs the corpus under make check.
 */
#include "common/err.h"
#include "common/selector.h"
#include "common/series.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_selector sel;
	struct vg_err err = { 0 };
	struct vg_series s;
	int rc;

	vg_series_init(&s, "http_requests_total");
	vg_series_add(&s, "job", "api");
	vg_series_add(&s, "code", "200");
	vg_series_add(&s, "path", "/a\nb");
	vg_series_add(&s, "city", "Z\xC3\xBCrich");
	if (vg_series_canonicalize(&s, NULL) != 0)
		abort(); /* the fixed series is valid: a bug in series.c */

	rc = vg_selector_parse((const char *)data, size, &sel, &err);
	if (rc == 0) {
		if (sel.n == 0)
			abort();
		(void)vg_selector_matches(&sel, &s);
		for (size_t i = 0; i < sel.n; i++)
			(void)vg_matcher_matches(&sel.m[i], s.name);
		(void)vg_selector_name(&sel);
	} else {
		if (rc != VG_EINVAL && rc != VG_ENOMEM)
			abort();
		if (sel.n != 0 || sel.m != NULL)
			abort();
		if (rc == VG_EINVAL && strstr(err.msg, "parse error: ") == NULL)
			abort();
	}
	vg_selector_release(&sel);
	return 0;
}
