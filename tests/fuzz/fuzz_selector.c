/*
 * fuzz_selector.c: libFuzzer target for series selectors: the PromQL
 * parser's selector entry (promql/parse.c) and matching (common/selector.c). The input bytes are the selector text, with its
 * length (NULs and invalid UTF-8 included); a selector that parses is
 * matched against a fixed series, then released. Whatever the bytes, the
 * parser must either succeed with at least one matcher or fail with
 * VG_EINVAL (VG_ELIMIT past a limit) and a positioned message, leaving the
 * selector empty; a match is always decided (never a negative code).
 * tests/fuzz/replay.c runs the corpus under make check.
 */
#include "common/err.h"
#include "common/selector.h"
#include "common/series.h"
#include "promql/parse.h"

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

	rc = vg_promql_parse_selector((const char *)data, size, &sel, NULL, &err);
	if (rc == 0) {
		if (sel.n == 0)
			abort();
		if (vg_selector_match(&sel, &s) < 0)
			abort();
		for (size_t i = 0; i < sel.n; i++)
			if (vg_matcher_match(&sel.m[i], s.name) < 0)
				abort();
		(void)vg_selector_name(&sel);
	} else {
		if (rc != VG_EINVAL && rc != VG_ENOMEM && rc != VG_ELIMIT)
			abort();
		if (sel.n != 0 || sel.m != NULL)
			abort();
		if (rc != VG_ENOMEM && strstr(err.msg, "parse error: ") == NULL)
			abort();
	}
	vg_selector_release(&sel);
	return 0;
}
