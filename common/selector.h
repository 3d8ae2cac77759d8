/*
 * selector.h: label matchers and the matching of series against a list of
 * them (a selector), the form in which storage takes a query's selection.
 *
 * Owns the matcher type, its compiled regexes and the rule for absent
 * labels; does not own the PromQL text syntax: promql/parse.h parses
 * selectors and builds them with vg_selector_add.
 *
 * Semantics (Prometheus 3): op is = != =~ !~. A label the series does not
 * have matches as the empty string. Regexes are RE2 (common/regex.h): fully
 * anchored (=~"foo" is ^(?:foo)$), UTF-8, "." matches a newline too, linear
 * time in the value's length.
 *
 * Invariants: a built selector is immutable; matching only reads it, so one
 * selector may be matched from several threads at once. A match that cannot
 * be decided (the regex engine failed) is reported as a negative code,
 * never as "no match".
 */
#ifndef VG_SELECTOR_H
#define VG_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/series.h"

struct vg_err;
struct vg_regex;

#define VG_SELECTOR_MAX_MATCHERS 64

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
	bool matches_empty;  /* whether "" (an absent label) matches */
	struct vg_regex *re; /* compiled regex for =~ and !~, owned */
};

struct vg_selector {
	size_t n;
	struct vg_matcher *m; /* owned */
	size_t cap;           /* allocated entries of m */
};

#define VG_SELECTOR_INIT { 0, NULL, 0 }

/*
 * Appends the matcher name op value (copies of both strings; a regex is
 * compiled here). On a bad regex returns VG_EINVAL with RE2's reason in Go's
 * words (regex.h), for the caller to place; VG_ELIMIT past
 * VG_SELECTOR_MAX_MATCHERS matchers; VG_ENOMEM. On failure sel is as before.
 */
int vg_selector_add(struct vg_selector *sel, const char *name, size_t name_len,
		    enum vg_match_op op, const char *value, size_t value_len, struct vg_err *err);
/* Copies src into dst (a new selector; regexes recompiled). */
int vg_selector_copy(struct vg_selector *dst, const struct vg_selector *src, struct vg_err *err);
void vg_selector_release(struct vg_selector *sel);

/* The matcher of the metric name with op =, or NULL. */
const struct vg_matcher *vg_selector_name(const struct vg_selector *sel);
/* Whether some matcher does not match the empty string (a selector that
 * does not have one would select every series). */
bool vg_selector_is_bounded(const struct vg_selector *sel);

/* 1 if m holds for value, 0 if not, a negative VG_E* code if undecided. */
int vg_matcher_match(const struct vg_matcher *m, struct vg_str value);
/* 1 if every matcher holds for canonical s (absent labels as ""), 0 if
 * not, a negative VG_E* code if a match was undecided. */
int vg_selector_match(const struct vg_selector *sel, const struct vg_series *s);

#endif
