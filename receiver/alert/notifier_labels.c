/*
 * notifier_labels.c: label sets as the notifier holds them (struct
 * vg_conf_labels with owned, sorted names) and Alertmanager's matchers
 * over them (a missing label matches as ""). Shared by routing,
 * inhibition, silences and the API filters.
 */
#include "receiver/alert/notifier_int.h"

#include "common/err.h"
#include "common/matchers.h"

#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

/* --- label sets ------------------------------------------------------- */

int nt_labels_copy(struct vg_conf_labels *dst, const struct vg_conf_labels *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src->n == 0)
		return 0;
	dst->names = calloc(src->n, sizeof(char *));
	dst->values = calloc(src->n, sizeof(char *));
	if (!dst->names || !dst->values)
		goto nomem;
	for (size_t i = 0; i < src->n; i++) {
		dst->names[i] = strdup(src->names[i]);
		dst->values[i] = strdup(src->values[i]);
		dst->n = i + 1;
		if (!dst->names[i] || !dst->values[i])
			goto nomem;
	}
	return 0;
nomem:
	vg_payload_labels_release(dst);
	return VG_ENOMEM;
}

int nt_labels_cmp(const struct vg_conf_labels *a, const struct vg_conf_labels *b)
{
	for (size_t i = 0; i < a->n && i < b->n; i++) {
		int c = strcmp(a->names[i], b->names[i]);
		if (c == 0)
			c = strcmp(a->values[i], b->values[i]);
		if (c != 0)
			return c;
	}
	return a->n < b->n ? -1 : a->n > b->n;
}

/* --- matchers --------------------------------------------------------- */

int nt_matchers_compile(const struct vg_conf_strlist *list, struct vg_selector *sel, struct vg_err *err)
{
	for (size_t i = 0; i < list->n; i++) {
		struct vg_matcher_text m;
		int r = vg_matcher_text_parse(list->v[i], &m, err);
		if (r != 0) {
			vg_err_prefix(err, "matcher %zu", i + 1);
			return r;
		}
		r = vg_selector_add(sel, m.name, strlen(m.name), m.op, m.value, strlen(m.value), err);
		vg_matcher_text_release(&m);
		if (r != 0) {
			vg_err_prefix(err, "matcher %zu", i + 1);
			return r;
		}
	}
	return 0;
}

const char *nt_label(const struct vg_conf_labels *labels, const char *name)
{
	for (size_t i = 0; i < labels->n; i++)
		if (strcmp(labels->names[i], name) == 0)
			return labels->values[i];
	return "";
}

int nt_matchers_match(const struct vg_selector *sel, const struct vg_conf_labels *labels)
{
	for (size_t i = 0; i < sel->n; i++) {
		const char *v = nt_label(labels, sel->m[i].name);
		struct vg_str s = { v, (uint32_t)strlen(v) };
		if (vg_matcher_match(&sel->m[i], s) != 1)
			return 0; /* undecided counts as no match: never route on a failed regex */
	}
	return 1;
}
