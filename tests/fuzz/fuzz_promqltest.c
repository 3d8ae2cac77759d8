/*
 * fuzz_promqltest.c: libFuzzer target for the PromQL test-file parser
 * (cli/promqltest_parse.c). The input bytes are a test file. Whatever they
 * are, the parser either fails with "LINE: message" naming a line of the
 * input, or gives commands whose every series key decodes and whose values
 * stay within VG_PTEST_MAX_VALUES; either way the file is released
 * without a leak. tests/fuzz/replay.c runs the corpus under make check.
 */
#include "cli/promqltest_parse.h"
#include "common/err.h"
#include "common/series.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_ptest_file f;
	struct vg_err err = { 0 };
	unsigned line = 0, lines = 1;
	size_t total = 0;
	int rc;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	rc = vg_ptest_parse((const char *)data, size, &f, &line, &err);
	if (rc != 0) {
		char want[16];
		if (rc != VG_EINVAL && rc != VG_ELIMIT && rc != VG_ENOMEM)
			abort();
		snprintf(want, sizeof(want), "%u: ", line);
		if (line == 0 || line > lines || strncmp(err.msg, want, strlen(want)) != 0) {
			fprintf(stderr, "error without its line (%u of %u): %s\n", line, lines, err.msg);
			abort();
		}
	}
	for (size_t i = 0; i < f.n_cmds; i++) {
		const struct vg_ptest_cmd *c = &f.cmds[i];
		if (c->line == 0 || c->line > lines)
			abort();
		if (rc == 0 && c->kind == VG_PTEST_LOAD && c->interval_ms <= 0)
			abort();
		if (rc == 0 && c->kind == VG_PTEST_EVAL &&
		    (c->expr == NULL || strlen(c->expr) != c->expr_len || c->expr_len == 0))
			abort();
		if (c->kind == VG_PTEST_EVAL && c->is_range && c->step_ms <= 0 && c->expr != NULL)
			abort();
		for (size_t k = 0; k < c->n_series; k++) {
			const struct vg_ptest_series *s = &c->series[k];
			struct vg_series ser;
			if (s->key != NULL && vg_series_from_key(s->key, s->key_len, &ser) != 0)
				abort();
			if (s->n_vals > s->cap_vals)
				abort();
			total += s->n_vals;
		}
	}
	if (total > VG_PTEST_MAX_VALUES)
		abort();
	vg_ptest_file_release(&f);
	return 0;
}
