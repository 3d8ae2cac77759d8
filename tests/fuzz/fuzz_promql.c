/*
 * fuzz_promql.c: libFuzzer target for the PromQL parser and printer
 * (promql/). The input bytes are the expression text. Whatever they are,
 * the parser either fails with a positioned "parse error" message and an
 * offset inside the text, or gives a tree; a tree is printed, the text is
 * parsed again, and the second tree must equal the first and print the same
 * text (parse(print(t)) == t). Deep nesting must end in an error, never a
 * stack overflow. tests/fuzz/replay.c runs the corpus under make check.
 */
#include "common/buf.h"
#include "common/err.h"
#include "promql/ast.h"
#include "promql/parse.h"
#include "promql/print.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_promql_node *a = NULL, *b = NULL;
	struct vg_buf t1 = VG_BUF_INIT, t2 = VG_BUF_INIT;
	struct vg_err err = { 0 };
	size_t pos = 0;
	int rc;

	rc = vg_promql_parse((const char *)data, size, &a, &pos, &err);
	if (rc != 0) {
		if (a != NULL || (rc != VG_EINVAL && rc != VG_ELIMIT && rc != VG_ENOMEM))
			abort();
		if (rc != VG_ENOMEM && strstr(err.msg, "parse error") == NULL)
			abort();
		if (pos > size)
			abort();
		return 0;
	}
	if (a->depth > VG_PROMQL_MAX_DEPTH || vg_promql_print(a, &t1) != 0)
		abort();
	rc = vg_promql_parse((const char *)t1.data, t1.len, &b, NULL, &err);
	if (rc != 0) {
		if (rc == VG_ELIMIT)
			goto out; /* the canonical text outgrew the limit */
		fprintf(stderr, "reparse of <%s> failed: %s\n", vg_buf_cstr(&t1), err.msg);
		abort();
	}
	if (!vg_promql_node_equal(a, b)) {
		fprintf(stderr, "reparse of <%s> differs\n", vg_buf_cstr(&t1));
		abort();
	}
	if (vg_promql_print(b, &t2) != 0 || t1.len != t2.len || memcmp(t1.data, t2.data, t1.len) != 0) {
		fprintf(stderr, "<%s> printed again as <%s>\n", vg_buf_cstr(&t1), vg_buf_cstr(&t2));
		abort();
	}
out:
	vg_promql_node_free(a);
	vg_promql_node_free(b);
	vg_buf_release(&t1);
	vg_buf_release(&t2);
	return 0;
}
