/*
 * bench_template.c: what the rule-file template engine costs
 * (receiver/alert/template.c): parsing a typical annotation, and
 * rendering it once an alert, the way the rule evaluator does every
 * evaluation for every firing instance. Prints the figures and a final
 * RESULT line (docs/performance.md).
 */
#include "config.h"

#include "bench/bench_util.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/err.h"
#include "receiver/alert/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

static const char annotation[] =
	"Instance {{ $labels.instance }} of {{ $labels.job }} is at {{ $value | humanizePercentage }} "
	"({{ printf \"%.2f\" $value }}){{ if gt $value 0.9 }} critical{{ else }} warning{{ end }}";

int main(void)
{
	char *ln[] = { "instance", "job" }, *lv[] = { "host1:9100", "node" };
	struct vg_conf_labels labels = { 2, ln, lv };
	struct vg_template_data d = { &labels, NULL, 0.934, NULL, NULL, NULL };
	struct vg_template *t = NULL;
	struct vg_buf out = VG_BUF_INIT;
	struct vg_bench_result result = VG_BENCH_RESULT_INIT;
	struct vg_err err = { 0 };
	const int n_parse = 20000, n_render = 200000;
	int64_t t0, t1, t2;

	t0 = vg_clock_mono_ms();
	for (int i = 0; i < n_parse; i++) {
		if (vg_template_parse(annotation, strlen(annotation), &t, &err) != 0) {
			fprintf(stderr, "parse: %s\n", err.msg);
			return 1;
		}
		vg_template_free(t);
	}
	t1 = vg_clock_mono_ms();
	if (vg_template_parse(annotation, strlen(annotation), &t, &err) != 0)
		return 1;
	for (int i = 0; i < n_render; i++) {
		vg_buf_reset(&out);
		if (vg_template_render(t, &d, &out, &err) != 0) {
			fprintf(stderr, "render: %s\n", err.msg);
			return 1;
		}
	}
	t2 = vg_clock_mono_ms();
	double parse_us = (double)(t1 - t0) * 1000 / n_parse, render_us = (double)(t2 - t1) * 1000 / n_render;
	printf("annotation: %s\n", annotation);
	printf("rendered:   %s\n", vg_buf_cstr(&out));
	printf("parse  %.2f us a template (%d parses)\n", parse_us, n_parse);
	printf("render %.2f us an alert (%d renders), %.0f renders/s on one core\n", render_us, n_render,
	       render_us > 0 ? 1e6 / render_us : 0);
	vg_bench_result_add(&result, "template_parse_us=%.2f template_render_us=%.2f", parse_us, render_us);
	vg_bench_result_print(&result);
	vg_template_free(t);
	vg_buf_release(&out);
	return 0;
}
