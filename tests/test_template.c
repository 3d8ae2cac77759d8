/* test_template.c: the rule-file template engine (receiver/alert/
 * template.c). Each expected string is what Go's text/template and
 * Prometheus's template functions print for the same input (fmt's %v of a
 * float64, strconv's shortest digits, humanize* from Prometheus's
 * template.go and prometheus/common's helpers/templates, time.Time's
 * String); refusals carry the line and column of the offending token. */
#include "common/buf.h"
#include "common/err.h"
#include "receiver/alert/template.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *ln[] = { "instance", "job", "severity", "device" };
static char *lv[] = { "host1:9100", "node", "critical", "sda" };
static char *en[] = { "cluster" };
static char *ev[] = { "eu1" };
static char *an[] = { "summary" };
static char *av[] = { "disk full" };

/* Renders text with $value = v; "ERR: msg" on a parse or expansion error.
 * Parses once and renders twice, so a tree is reusable. */
static char out_buf[4096];

static const char *expand_with(const char *text, double v, const struct vg_conf_labels *ann, const char *status)
{
	struct vg_conf_labels labels = { 4, ln, lv }, ext = { 1, en, ev };
	struct vg_template_data d = { &labels, &ext, v, "http://vigil.example:9090", ann, status };
	struct vg_template *t = NULL;
	struct vg_buf b = VG_BUF_INIT;
	struct vg_err err = { 0 };

	if (vg_template_parse(text, strlen(text), &t, &err) != 0) {
		snprintf(out_buf, sizeof(out_buf), "ERR: %s", err.msg);
		return out_buf;
	}
	for (int i = 0; i < 2; i++) {
		vg_buf_reset(&b);
		if (vg_template_render(t, &d, &b, &err) != 0) {
			snprintf(out_buf, sizeof(out_buf), "ERR: %s", err.msg);
			goto out;
		}
	}
	snprintf(out_buf, sizeof(out_buf), "%s", vg_buf_cstr(&b));
out:
	vg_buf_release(&b);
	vg_template_free(t);
	return out_buf;
}

static const char *expand(const char *text, double v)
{
	return expand_with(text, v, NULL, NULL);
}

static bool is_err(const char *s) { return strncmp(s, "ERR: ", 5) == 0; }

#define EQ(text, v, want) ck_assert_str_eq(expand(text, v), want)
#define FAILS(text, v) ck_assert_msg(is_err(expand(text, v)), "%s gave %s", text, out_buf)
/* Refused at parse time with this "LINE:COLUMN: ..." prefix. */
#define REFUSED(text, pos)                                                                            \
	do {                                                                                          \
		struct vg_template *t_ = NULL;                                                        \
		struct vg_err e_ = { 0 };                                                             \
		ck_assert_int_eq(vg_template_parse(text, strlen(text), &t_, &e_), VG_EINVAL);         \
		ck_assert_ptr_null(t_);                                                               \
		ck_assert_msg(strncmp(e_.msg, pos ": ", strlen(pos ": ")) == 0, "%s: got <%s>, want %s", \
			      text, e_.msg, pos);                                                     \
	} while (0)

START_TEST(test_value_prints_as_go_v)
{
	EQ("{{ $value }}", 0.5, "0.5");
	EQ("{{ $value }}", 1e6, "1e+06");
	EQ("{{ $value }}", 123456, "123456");
	EQ("{{ $value }}", 1234567, "1.234567e+06");
	EQ("{{ $value }}", 123456789, "1.23456789e+08");
	EQ("{{ $value }}", 0.0001, "0.0001");
	EQ("{{ $value }}", 0.00001, "1e-05");
	EQ("{{ $value }}", 100, "100");
	EQ("{{ $value }}", 1.0 / 3, "0.3333333333333333");
	EQ("{{ $value }}", 0.1 + 0.2, "0.30000000000000004");
	EQ("{{ $value }}", NAN, "NaN");
	EQ("{{ $value }}", INFINITY, "+Inf");
	EQ("{{ $value }}", -INFINITY, "-Inf");
	EQ("{{ $value }}", -0.0, "-0");
	EQ("{{ $value }}", 0, "0");
	EQ("{{ .Value }}", -2.5, "-2.5");
	EQ("{{ $value }}", 5e-324, "5e-324");
	EQ("{{ $value }}", 1.7976931348623157e308, "1.7976931348623157e+308");
}
END_TEST

START_TEST(test_labels_and_data)
{
	EQ("Instance {{ $labels.instance }} of {{ .Labels.job }}", 0, "Instance host1:9100 of node");
	EQ("{{ $labels.missing }}", 0, "<no value>");
	EQ("{{ index $labels \"device\" }}/{{ index $labels \"nope\" }}.", 0, "sda/.");
	EQ("{{ $externalLabels.cluster }} {{ .ExternalLabels.cluster }}", 0, "eu1 eu1");
	EQ("{{ $externalURL }}", 0, "http://vigil.example:9090");
	EQ("{{ $.Labels.job }}", 0, "node");
	EQ("{{ $labels }}", 0, "map[device:sda instance:host1:9100 job:node severity:critical]");
	EQ("plain text only", 0, "plain text only");
	EQ("", 0, "");
	EQ("{{ \"a\\tb\\u00e9\\x41\" }}|{{ `raw\\n` }}", 0, "a\tb\xc3\xa9" "A|raw\\n");
	EQ("{{ 42 }} {{ -7 }} {{ 0x1F }} {{ 1.5 }} {{ 1e3 }} {{ true }}", 0, "42 -7 31 1.5 1000 true");
}
END_TEST

START_TEST(test_notification_fields)
{
	struct vg_conf_labels ann = { 1, an, av };
	struct vg_template *t = NULL;
	struct vg_err err = { 0 };

	ck_assert_str_eq(expand_with("[{{ .Status }}] {{ .Annotations.summary }} {{ .Annotations.x }}", 1, &ann, "firing"),
			 "[firing] disk full <no value>");
	/* a rule file's data has no .Annotations: an expansion error */
	FAILS("{{ .Annotations.summary }}", 1);
	FAILS("{{ .Status }}", 1);
	ck_assert_int_eq(vg_template_parse("{{ .Status }}", 13, &t, &err), 0);
	ck_assert(vg_template_uses_notification_fields(t));
	vg_template_free(t);
	ck_assert_int_eq(vg_template_parse("{{ $value }}", 12, &t, &err), 0);
	ck_assert(!vg_template_uses_notification_fields(t));
	vg_template_free(t);
}
END_TEST

START_TEST(test_humanize)
{
	EQ("{{ humanize 0 }}", 0, "0");
	EQ("{{ $value | humanize }}", 1234567, "1.235M");
	EQ("{{ $value | humanize }}", 0.0012, "1.2m");
	EQ("{{ $value | humanize }}", 1000, "1k");
	EQ("{{ $value | humanize }}", 999, "999");
	EQ("{{ $value | humanize }}", 123.456, "123.5");
	EQ("{{ $value | humanize }}", -1500, "-1.5k");
	EQ("{{ $value | humanize }}", 1e27, "1000Y");
	EQ("{{ $value | humanize }}", 0.000001, "1u");
	EQ("{{ $value | humanize }}", 1e-30, "1e-06y");
	EQ("{{ $value | humanize }}", NAN, "NaN");
	EQ("{{ $value | humanize }}", INFINITY, "+Inf");
	EQ("{{ $value | humanize }}", -INFINITY, "-Inf");
	EQ("{{ \"1234\" | humanize }}", 0, "1.234k");
	EQ("{{ humanize 2048 }}", 0, "2.048k");
	FAILS("{{ \"abc\" | humanize }}", 0);
	FAILS("{{ humanize true }}", 0);
	FAILS("{{ humanize $labels.missing }}", 0);
}
END_TEST

START_TEST(test_humanize1024)
{
	EQ("{{ humanize1024 2048 }}", 0, "2ki");
	EQ("{{ $value | humanize1024 }}", 1, "1");
	EQ("{{ $value | humanize1024 }}", 0.5, "0.5");
	EQ("{{ $value | humanize1024 }}", 1023, "1023");
	EQ("{{ $value | humanize1024 }}", 1536, "1.5ki");
	EQ("{{ $value | humanize1024 }}", 1048576, "1Mi");
	EQ("{{ $value | humanize1024 }}", 3.5 * 1073741824.0, "3.5Gi");
	EQ("{{ $value | humanize1024 }}", -4096, "-4ki");
	EQ("{{ $value | humanize1024 }}", INFINITY, "+Inf");
}
END_TEST

START_TEST(test_humanize_duration)
{
	EQ("{{ $value | humanizeDuration }}", 90061, "1d 1h 1m 1s");
	EQ("{{ $value | humanizeDuration }}", 65, "1m 5s");
	EQ("{{ $value | humanizeDuration }}", 5.5, "5.5s");
	EQ("{{ $value | humanizeDuration }}", 0.25, "250ms");
	EQ("{{ $value | humanizeDuration }}", 0, "0s");
	EQ("{{ $value | humanizeDuration }}", 3600, "1h 0m 0s");
	EQ("{{ $value | humanizeDuration }}", 86400, "1d 0h 0m 0s");
	EQ("{{ $value | humanizeDuration }}", -65, "-1m 5s");
	EQ("{{ $value | humanizeDuration }}", 0.0000012, "1.2us");
	EQ("{{ $value | humanizeDuration }}", 59.999, "60s");
	EQ("{{ $value | humanizeDuration }}", 60.9, "1m 0s");
	EQ("{{ $value | humanizeDuration }}", NAN, "NaN");
	EQ("{{ humanizeDuration \"90\" }}", 0, "1m 30s");
}
END_TEST

START_TEST(test_humanize_percentage_and_timestamp)
{
	EQ("{{ $value | humanizePercentage }}", 0.1234, "12.34%");
	EQ("{{ $value | humanizePercentage }}", 1, "100%");
	EQ("{{ $value | humanizePercentage }}", 0.123456, "12.35%");
	EQ("{{ $value | humanizePercentage }}", 0, "0%");
	EQ("{{ $value | humanizePercentage }}", NAN, "NaN%");
	EQ("{{ $value | humanizeTimestamp }}", 1435065584.128, "2015-06-23 13:19:44.128 +0000 UTC");
	EQ("{{ $value | humanizeTimestamp }}", 0, "1970-01-01 00:00:00 +0000 UTC");
	EQ("{{ $value | humanizeTimestamp }}", 1.12, "1970-01-01 00:00:01.12 +0000 UTC");
	EQ("{{ $value | humanizeTimestamp }}", 1.5, "1970-01-01 00:00:01.5 +0000 UTC");
	EQ("{{ $value | humanizeTimestamp }}", -1.5, "1969-12-31 23:59:58.5 +0000 UTC");
	EQ("{{ $value | humanizeTimestamp }}", 1709251200, "2024-03-01 00:00:00 +0000 UTC");
	EQ("{{ $value | humanizeTimestamp }}", NAN, "NaN");
	EQ("{{ $value | humanizeTimestamp }}", INFINITY, "+Inf");
	FAILS("{{ $value | humanizeTimestamp }}", 1e300);
}
END_TEST

START_TEST(test_printf)
{
	EQ("{{ printf \"%.2f\" $value }}", 0.12345, "0.12");
	EQ("{{ $value | printf \"%.1f%%\" }}", 99.95, "100.0%");
	EQ("{{ printf \"%d\" 42 }}", 0, "42");
	EQ("{{ printf \"%s is %v\" \"x\" 1.5 }}", 0, "x is 1.5");
	EQ("{{ printf \"%5.1f|%-6s|%05d|%+d\" 3.14159 \"ab\" 42 7 }}", 0, "  3.1|ab    |00042|+7");
	EQ("{{ printf \"%q\" \"a\\\"b\\n\" }}", 0, "\"a\\\"b\\n\"");
	EQ("{{ printf \"%g %g %v\" 1e21 0.5 123456789.0 }}", 0, "1e+21 0.5 1.23456789e+08");
	EQ("{{ printf \"%.3e|%e\" 123456.0 1.0 }}", 0, "1.235e+05|1.000000e+00");
	EQ("{{ printf \"%.3g\" 1234.5 }}", 0, "1.23e+03");
	EQ("{{ printf \"%.0f %.0f\" 2.5 3.5 }}", 0, "2 4");
	EQ("{{ printf \"%x %X %x %o %b\" 255 255 -255 8 5 }}", 0, "ff FF -ff 10 101");
	EQ("{{ printf \"%x\" \"hi\" }}", 0, "6869");
	EQ("{{ printf \"%t %v\" true false }}", 0, "true false");
	EQ("{{ printf \"%c|%q\" 65 65 }}", 0, "A|'A'");
	EQ("{{ printf \"%.3s|%8.3f|%-8v|\" \"abcdef\" 2.0 1.5 }}", 0, "abc|   2.000|1.5     |");
	EQ("{{ printf \"%f %v\" $value $value }}", INFINITY, "+Inf +Inf");
	EQ("{{ printf \"%5.1f|\" $value }}", NAN, "  NaN|");
	EQ("{{ printf \"%%\" }}", 0, "%");
	/* wrong type, missing and extra operands: Go's own markers */
	EQ("{{ printf \"%d\" 1.5 }}", 0, "%!d(float64=1.5)");
	EQ("{{ printf \"%s\" 3 }}", 0, "%!s(int=3)");
	EQ("{{ printf \"%.2f\" 5 }}", 0, "%!f(int=5)");
	EQ("{{ printf \"%d %d\" 1 }}", 0, "1 %!d(MISSING)");
	EQ("{{ printf \"%d\" 1 2 }}", 0, "1%!(EXTRA int=2)");
	EQ("{{ printf \"%s\" $labels.missing }}", 0, "%!s(<nil>)");
	EQ("{{ printf \"%v\" $labels.missing }}", 0, "<nil>");
	EQ("{{ printf \"%s:%s\" $labels.instance .Labels.job }}", 0, "host1:9100:node");
	EQ("{{ printf \"no verbs\" }}", 0, "no verbs");
	EQ("{{ printf \"%\" }}", 0, "%!(NOVERB)");
	EQ("{{ humanize $value | printf \"%s!\" }}", 2500, "2.5k!");
	EQ("{{ printf \"%s\" (humanize $value) }}", 2500, "2.5k");
}
END_TEST

START_TEST(test_strings)
{
	EQ("{{ title \"hello world\" }}", 0, "Hello World");
	EQ("{{ title \"foo-bar_baz o'neil example.com\" }}", 0, "Foo-Bar_baz O'neil Example.com");
	EQ("{{ title \"mIxed CASE\" }}", 0, "MIxed CASE");
	EQ("{{ $labels.severity | title }}", 0, "Critical");
	EQ("{{ $labels.instance | toUpper }}", 0, "HOST1:9100");
	EQ("{{ \"MiXeD\" | toLower }}", 0, "mixed");
	FAILS("{{ toUpper 3 }}", 0);
	FAILS("{{ toUpper $labels.missing }}", 0);
}
END_TEST

START_TEST(test_conditions)
{
	const char *t = "{{ if gt $value 80.0 }}high{{ else if gt $value 50.0 }}mid{{ else }}low{{ end }}";

	EQ(t, 90, "high");
	EQ(t, 60, "mid");
	EQ(t, 10, "low");
	EQ("{{ if eq $labels.severity \"critical\" }}page{{ end }}", 0, "page");
	EQ("{{ if ne $labels.severity \"critical\" }}page{{ end }}", 0, "");
	EQ("{{ if eq $labels.job \"a\" \"node\" }}one of{{ end }}", 0, "one of");
	EQ("{{ if and (gt $value 1.0) (lt $value 10.0) }}in{{ else }}out{{ end }}", 5, "in");
	EQ("{{ if and (gt $value 1.0) (lt $value 10.0) }}in{{ else }}out{{ end }}", 50, "out");
	EQ("{{ if or (lt $value 1.0) (ge $value 10.0) }}edge{{ end }}", 10, "edge");
	EQ("{{ if not (le $value 1.0) }}above{{ end }}", 1.5, "above");
	EQ("{{ if $labels.missing }}x{{ else }}y{{ end }}", 0, "y");
	EQ("{{ if $labels.job }}x{{ else }}y{{ end }}", 0, "x");
	EQ("{{ if $value }}nonzero{{ else }}zero{{ end }}", 0, "zero");
	EQ("{{ if eq $labels.missing \"x\" }}x{{ else }}not{{ end }}", 0, "not");
	EQ("{{ if lt \"abc\" \"abd\" }}lt{{ end }}", 0, "lt");
	EQ("{{ and 1 0 }} {{ or 0 \"\" \"z\" }} {{ or 0 }} {{ not 0 }}", 0, "0 z 0 true");
	EQ("{{ if eq 3 3 }}{{ if gt 2 1 }}nested{{ end }}{{ end }}", 0, "nested");
	/* Go's gt is !le: NaN compares greater than anything */
	EQ("{{ if gt $value 1.0 }}yes{{ end }}", NAN, "yes");
	/* Go refuses to compare a float64 with an int constant */
	FAILS("{{ if gt $value 80 }}x{{ end }}", 90);
	FAILS("{{ if eq $value \"1\" }}x{{ end }}", 1);
	FAILS("{{ if lt true false }}x{{ end }}", 1);
	FAILS("{{ if lt $labels.missing \"a\" }}x{{ end }}", 1);
}
END_TEST

START_TEST(test_trimming_and_comments)
{
	EQ("a  {{- 1 -}}  b", 0, "a1b");
	EQ("a  {{ 1 -}}\n\t b", 0, "a  1b");
	EQ("x\n{{- $value }}", 0.5, "x0.5");
	EQ("a {{/* a comment */}} b", 0, "a  b");
	EQ("a {{- /* a comment */ -}} b", 0, "ab");
	EQ("{{-3}}", 0, "-3");
	EQ("{{ if true -}}\n  yes\n{{- end }}", 0, "yes");
	EQ("{{- if false }}a{{- else -}}  b  {{- end -}}", 0, "b");
}
END_TEST

START_TEST(test_refusals_with_position)
{
	REFUSED("{{ range $labels }}{{ end }}", "1:4");
	REFUSED("a\n  {{ define \"x\" }}{{ end }}", "2:6");
	REFUSED("{{ template \"x\" }}", "1:4");
	REFUSED("{{ with $labels }}x{{ end }}", "1:4");
	REFUSED("{{ block \"x\" . }}x{{ end }}", "1:4");
	REFUSED("{{ if true }}{{ else with $labels }}{{ end }}", "1:22");
	REFUSED("{{ query \"up\" }}", "1:4");
	REFUSED("{{ $value | first }}", "1:13");
	REFUSED("text {{ $value ", "1:16");
	REFUSED("text {{ $value", "1:15");
	REFUSED("{{ if true }}x", "1:1");
	REFUSED("x\n{{ if true }}{{ if false }}\n{{ end }}", "2:1");
	REFUSED("{{ end }}", "1:4");
	REFUSED("{{ else }}", "1:4");
	REFUSED("{{ $foo }}", "1:4");
	REFUSED("{{ .Foo }}", "1:4");
	REFUSED("{{ . }}", "1:4");
	REFUSED("{{ $ }}", "1:4");
	REFUSED("{{ humanize }}", "1:4");
	REFUSED("{{ humanize 1 2 }}", "1:4");
	REFUSED("{{ $value | humanize 1 }}", "1:13");
	REFUSED("{{ printf \"%z\" 1 }}", "1:4");
	REFUSED("{{ printf 3 }}", "1:4");
	REFUSED("{{ $x := 1 }}", "1:4");
	REFUSED("{{ $labels = 1 }}", "1:4");
	REFUSED("{{ \"abc }}", "1:4");
	REFUSED("{{ `abc }}", "1:4");
	REFUSED("{{ 'a' }}", "1:4");
	REFUSED("a{{/* abc }}", "1:2");
	REFUSED("{{/* abc */ x }}", "1:1");
	REFUSED("{{ $labels.instance.foo }}", "1:20");
	REFUSED("{{ $value.x }}", "1:10");
	REFUSED("{{ }}", "1:4");
	REFUSED("{{ 1 | }}", "1:8");
	REFUSED("{{ (1 }}", "1:7");
	REFUSED("{{ 1) }}", "1:5");
	REFUSED("{{ $value 1 }}", "1:4");
	REFUSED("{{ 1 | $value }}", "1:8");
	REFUSED("{{ printf \"%s\" humanize }}", "1:4");
	REFUSED("{{ nil }}", "1:4");
	REFUSED("{{ 1.2.3 }}", "1:4");
	REFUSED("{{ 99999999999999999999 }}", "1:4");
	REFUSED("{{ \"\\q\" }}", "1:5");
	REFUSED("ok\n\nthen {{ toUpper }}", "3:9");
}
END_TEST

START_TEST(test_hostile)
{
	char deep[1024];
	struct vg_template *t = NULL;
	struct vg_err err = { 0 };
	size_t k = 0;

	/* nesting is bounded, never a stack overflow */
	k += (size_t)snprintf(deep, sizeof(deep), "{{ ");
	for (int i = 0; i < 200; i++)
		deep[k++] = '(';
	deep[k] = 0;
	ck_assert_int_eq(vg_template_parse(deep, k, &t, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "nesting"));
	k = 0;
	for (int i = 0; i < 100; i++)
		k += (size_t)snprintf(deep + k, sizeof(deep) - k, "{{if 1}}");
	ck_assert_int_eq(vg_template_parse(deep, k, &t, &err), VG_EINVAL);
	/* a NUL byte inside is refused with its place */
	ck_assert_int_eq(vg_template_parse("ab\0c", 4, &t, &err), VG_EINVAL);
	ck_assert_str_eq(err.msg, "1:3: NUL byte in template");
	/* output is bounded: a huge width is Go's BADWIDTH, many big
	 * widths end in a limit error, not unbounded memory */
	EQ("{{ printf \"%99999999d\" 1 }}", 0, "%!(BADWIDTH)1");
	{
		char big[4096];
		size_t n = 0;

		for (int i = 0; i < 20; i++)
			n += (size_t)snprintf(big + n, sizeof(big) - n, "{{ printf \"%%999999d\" 1 }}");
		FAILS(big, 0);
	}
	/* an expansion error leaves the output as it was */
	{
		struct vg_buf b = VG_BUF_INIT;

		vg_buf_puts(&b, "keep");
		ck_assert_int_eq(vg_template_parse("x {{ humanize \"no\" }}", 21, &t, &err), 0);
		struct vg_template_data d = { 0 };
		ck_assert_int_eq(vg_template_render(t, &d, &b, &err), VG_EINVAL);
		ck_assert_str_eq(vg_buf_cstr(&b), "keep");
		ck_assert_ptr_nonnull(strstr(err.msg, "invalid syntax"));
		vg_template_free(t);
		vg_buf_release(&b);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("template");
	TCase *tc = tcase_create("template");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_value_prints_as_go_v);
	tcase_add_test(tc, test_labels_and_data);
	tcase_add_test(tc, test_notification_fields);
	tcase_add_test(tc, test_humanize);
	tcase_add_test(tc, test_humanize1024);
	tcase_add_test(tc, test_humanize_duration);
	tcase_add_test(tc, test_humanize_percentage_and_timestamp);
	tcase_add_test(tc, test_printf);
	tcase_add_test(tc, test_strings);
	tcase_add_test(tc, test_conditions);
	tcase_add_test(tc, test_trimming_and_comments);
	tcase_add_test(tc, test_refusals_with_position);
	tcase_add_test(tc, test_hostile);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
