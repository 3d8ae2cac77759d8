/*
 * template.h: the subset of Go's text/template that rule files use in
 * annotations and labels: {{ $labels.x }}, {{ .Labels.x }}, {{ $value }},
 * {{ .Value }}, {{ $externalLabels.x }}, pipes into humanize,
 * humanize1024, humanizeDuration, humanizePercentage, humanizeTimestamp,
 * printf, title, toUpper, toLower, {{ if }}/{{ else if }}/{{ else }}/
 * {{ end }} with eq, ne, lt, le, gt, ge, and, or, not, and {{- -}} trimming;
 * for notification bodies also .Annotations.x and .Status.
 * Anything else is refused at parse time with its line and column.
 */
#ifndef VG_TEMPLATE_H
#define VG_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h" /* struct vg_conf_labels */

struct vg_buf;
struct vg_err;
struct vg_template;

struct vg_template_data {
	const struct vg_conf_labels *labels;          /* $labels, .Labels */
	const struct vg_conf_labels *external_labels; /* $externalLabels; may be NULL */
	double value;                                 /* $value, .Value */
	const char *external_url;                     /* $externalURL; may be NULL */
	/* For notification templates (an SMS body, an email subject); NULL
	 * in rule files, where .Annotations and .Status are refused at parse
	 * time only by the rule loader's own check. */
	const struct vg_conf_labels *annotations;     /* .Annotations */
	const char *status;                           /* .Status: "firing", "resolved" */
};

/* Parses text[0..len). On error VG_EINVAL with err "LINE:COLUMN: reason",
 * line and column 1-based within text, so a rule loader can add the file
 * and the annotation's own line. */
int vg_template_parse(const char *text, size_t len, struct vg_template **out, struct vg_err *err);
/* Appends the expansion to out. An error while expanding (a bad printf
 * verb, a value humanize cannot take) is VG_EINVAL with err set, as
 * Prometheus reports "error expanding template". */
int vg_template_render(const struct vg_template *t, const struct vg_template_data *d, struct vg_buf *out,
		       struct vg_err *err);
void vg_template_free(struct vg_template *t);

/* Added beside the agreed API: whether t reads .Annotations or .Status,
 * which only notification templates may (a rule loader refuses them in
 * rule files with this). */
bool vg_template_uses_notification_fields(const struct vg_template *t);

#endif
