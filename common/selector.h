/*
 * selector.h: PromQL instant-vector selectors, metric{label="value",...},
 * and the matching of series against them. The query engine's parser will
 * grow around this one; the CLI links it to check a selector before it asks
 * the server.
 *
 * Syntax (Prometheus 3): an optional metric name, then optionally braces
 * holding matchers  label op "value"  separated by commas (a trailing comma
 * is allowed); op is = != =~ !~; values are double-quoted, single-quoted
 * (Go escapes) or back-quoted (raw). White space is allowed between tokens.
 * "name" is the same as {__name__="name"}. A selector needs a name or at
 * least one matcher that does not match the empty string ({job=~".*"} is an
 * error). Regexes are anchored at both ends (=~"foo" is ^(?:foo)$), UTF-8,
 * and "." matches a newline too; they are compiled with PCRE2.
 *
 * A label the series does not have matches as the empty string.
 */
#ifndef VG_SELECTOR_H
#define VG_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/series.h"

struct vg_err;

enum vg_match_op {
	VG_MATCH_EQ,  /* =  */
	VG_MATCH_NE,  /* != */
	VG_MATCH_RE,  /* =~ */
	VG_MATCH_NRE, /* !~ */
};

struct vg_matcher {
	char *name;  /* "__name__" for the metric name; NUL-terminated, owned */
	char *value; /* the string or the regex source, unescaped; owned */
	size_t value_len;
	enum vg_match_op op;
	void *re;    /* compiled regex (pcre2_code *) for =~ and !~, owned */
	void *md;    /* its match data; makes a selector single-threaded */
};

struct vg_selector {
	size_t n;
	struct vg_matcher *m; /* owned */
};

/*
 * Parses s[0..len). On error returns VG_EINVAL and a message in Prometheus's
 * form, with line:column of the fault: `1:9: parse error: unexpected "}"`.
 * Limits: 64 KiB of text, 64 matchers.
 */
int vg_selector_parse(const char *s, size_t len, struct vg_selector *out, struct vg_err *err);
void vg_selector_release(struct vg_selector *sel);

/* The matcher of the metric name with op =, or NULL. */
const struct vg_matcher *vg_selector_name(const struct vg_selector *sel);

bool vg_matcher_matches(const struct vg_matcher *m, struct vg_str value);
/* Whether every matcher holds for canonical s (absent labels as ""). */
bool vg_selector_matches(const struct vg_selector *sel, const struct vg_series *s);

#endif
