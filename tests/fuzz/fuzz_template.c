/*
 * fuzz_template.c: libFuzzer target for the rule-file template engine
 * (receiver/alert/template.c). The input bytes are the template text.
 * Whatever they are, parsing either fails with "LINE:COLUMN: reason"
 * (line and column inside the text) or gives a tree; a tree is rendered
 * twice with the same data, each time either failing with a message or
 * giving the same bytes, bounded in size. tests/fuzz/replay.c runs the
 * corpus under make check.
 */
#include "common/buf.h"
#include "common/config.h"
#include "common/err.h"
#include "receiver/alert/template.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *ln[] = { "instance", "job", "severity", "device" };
	char *lv[] = { "host1:9100", "node", "critical", "" };
	char *en[] = { "cluster" }, *ev[] = { "eu1" };
	char *an[] = { "summary" }, *av[] = { "disk {{ full }}" };
	struct vg_conf_labels labels = { 4, ln, lv }, ext = { 1, en, ev }, ann = { 1, an, av };
	struct vg_template_data d = { &labels, &ext, 0.25, "http://vigil.example:9090", &ann, "firing" };
	const double values[] = { 0.25, 1234567.0, -0.0, NAN, INFINITY, 1e300, 5e-324 };
	struct vg_template *t = NULL;
	struct vg_err err = { 0 };
	unsigned line, col;
	int rc;

	if (size > 64 * 1024)
		return 0;
	rc = vg_template_parse((const char *)data, size, &t, &err);
	if (rc != 0) {
		if (t != NULL || (rc != VG_EINVAL && rc != VG_ENOMEM))
			abort();
		if (rc == VG_EINVAL && (sscanf(err.msg, "%u:%u: ", &line, &col) != 2 || line < 1 || col < 1 ||
					line > size + 1 || col > size + 1)) {
			fprintf(stderr, "bad parse error <%s>\n", err.msg);
			abort();
		}
		return 0;
	}
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct vg_buf a = VG_BUF_INIT, b = VG_BUF_INIT;
		int ra, rb;

		d.value = values[i];
		d.annotations = i % 2 ? NULL : &ann;
		d.status = i % 2 ? NULL : "resolved";
		ra = vg_template_render(t, &d, &a, &err);
		if (ra != 0 && err.msg[0] == 0)
			abort();
		rb = vg_template_render(t, &d, &b, &err);
		if (ra != rb || (ra == 0 && (a.len != b.len || memcmp(vg_buf_cstr(&a), vg_buf_cstr(&b), a.len) != 0)))
			abort();
		if (a.len > 2 * 1024 * 1024)
			abort();
		vg_buf_release(&a);
		vg_buf_release(&b);
	}
	vg_template_free(t);
	return 0;
}
