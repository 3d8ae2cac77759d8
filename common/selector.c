/*
 * selector.c: label matchers and selectors (selector.h).
 *
 * Owns building a selector (copies, regex compilation) and matching; the
 * text syntax lives in promql/parse.c.
 *
 * Invariants:
 *  - Every matcher's matches_empty is computed when it is added, so storage
 *    can plan without matching.
 *  - vg_selector_add either appends a complete matcher or leaves the
 *    selector as it was.
 */
#include "common/selector.h"
#include "common/err.h"
#include "common/regex.h"
#include "common/series.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int vg_matcher_match(const struct vg_matcher *m, struct vg_str value)
{
	const char *p = value.len ? value.p : "";
	size_t len = value.len;
	int rc;

	switch (m->op) {
	case VG_MATCH_EQ:
		return len == m->value_len && (len == 0 || memcmp(p, m->value, len) == 0);
	case VG_MATCH_NE:
		return !(len == m->value_len && (len == 0 || memcmp(p, m->value, len) == 0));
	case VG_MATCH_RE:
		return vg_regex_match(m->re, p, len);
	case VG_MATCH_NRE:
		rc = vg_regex_match(m->re, p, len);
		return rc < 0 ? rc : !rc;
	}
	return VG_EINVAL;
}

int vg_selector_add(struct vg_selector *sel, const char *name, size_t name_len,
		    enum vg_match_op op, const char *value, size_t value_len, struct vg_err *err)
{
	struct vg_matcher m = { 0 };
	int rc;

	if (sel->n >= VG_SELECTOR_MAX_MATCHERS)
		return vg_err_set(err, VG_ELIMIT, "too many matchers: a selector has at most %d",
				  VG_SELECTOR_MAX_MATCHERS);
	if (sel->n == sel->cap) {
		size_t cap = sel->cap ? sel->cap * 2 : 4;
		struct vg_matcher *grown = realloc(sel->m, cap * sizeof(*grown));
		if (grown == NULL)
			return vg_err_set(err, VG_ENOMEM, "out of memory building a selector");
		sel->m = grown;
		sel->cap = cap;
	}
	m.op = op;
	m.name = malloc(name_len + 1);
	m.value = malloc(value_len + 1);
	if (m.name == NULL || m.value == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory building a selector");
		goto fail;
	}
	memcpy(m.name, name, name_len);
	m.name[name_len] = '\0';
	if (value_len)
		memcpy(m.value, value, value_len);
	m.value[value_len] = '\0';
	m.value_len = value_len;
	if (op == VG_MATCH_RE || op == VG_MATCH_NRE) {
		if ((rc = vg_regex_compile(value, value_len, &m.re, err)) < 0)
			goto fail;
	}
	rc = vg_matcher_match(&m, (struct vg_str){ "", 0 });
	if (rc < 0) {
		rc = vg_err_set(err, rc, "regular expression could not be matched: %s", vg_strerror(rc));
		goto fail;
	}
	m.matches_empty = rc == 1;
	sel->m[sel->n++] = m;
	return 0;
fail:
	vg_regex_free(m.re);
	free(m.value);
	free(m.name);
	return rc;
}

int vg_selector_copy(struct vg_selector *dst, const struct vg_selector *src, struct vg_err *err)
{
	struct vg_selector out = VG_SELECTOR_INIT;
	int rc;

	for (size_t i = 0; i < src->n; i++) {
		const struct vg_matcher *m = &src->m[i];
		rc = vg_selector_add(&out, m->name, strlen(m->name), m->op, m->value, m->value_len, err);
		if (rc < 0) {
			vg_selector_release(&out);
			return rc;
		}
	}
	*dst = out;
	return 0;
}

void vg_selector_release(struct vg_selector *sel)
{
	if (sel == NULL)
		return;
	for (size_t i = 0; i < sel->n; i++) {
		struct vg_matcher *m = &sel->m[i];
		free(m->name);
		free(m->value);
		vg_regex_free(m->re);
	}
	free(sel->m);
	sel->m = NULL;
	sel->n = 0;
	sel->cap = 0;
}

const struct vg_matcher *vg_selector_name(const struct vg_selector *sel)
{
	for (size_t i = 0; i < sel->n; i++)
		if (sel->m[i].op == VG_MATCH_EQ && strcmp(sel->m[i].name, "__name__") == 0)
			return &sel->m[i];
	return NULL;
}

bool vg_selector_is_bounded(const struct vg_selector *sel)
{
	for (size_t i = 0; i < sel->n; i++)
		if (!sel->m[i].matches_empty)
			return true;
	return false;
}

int vg_selector_match(const struct vg_selector *sel, const struct vg_series *s)
{
	static const struct vg_str empty = { "", 0 };

	for (size_t i = 0; i < sel->n; i++) {
		const struct vg_matcher *m = &sel->m[i];
		struct vg_str v;
		int rc;

		if (strcmp(m->name, "__name__") == 0) {
			v = s->name;
		} else {
			const struct vg_str *got = vg_series_get(s, m->name);
			v = got ? *got : empty;
		}
		if ((rc = vg_matcher_match(m, v)) != 1)
			return rc;
	}
	return 1;
}
