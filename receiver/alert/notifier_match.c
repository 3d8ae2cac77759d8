/*
 * notifier_match.c: Alertmanager's deprecated match: and match_re: maps
 * (routes) and source_match, target_match and their _re forms (inhibition
 * rules), still found in many files: each pair becomes a matcher, = or
 * =~ (fully anchored, as every matcher), beside those of matchers:.
 * And the order Alertmanager keeps a route's matchers in (sorted by name,
 * value, then operator), which its route key prints.
 */
#include "receiver/alert/notifier_int.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int nt_check_match_re(const void *member, struct vg_err *err)
{
	const struct vg_conf_labels *l = member;
	struct vg_selector sel = VG_SELECTOR_INIT;
	int r = nt_match_add(NULL, l, &sel, err);

	vg_selector_release(&sel);
	return r;
}

static int add_all(const struct vg_conf_labels *l, enum vg_match_op op, struct vg_selector *sel, struct vg_err *err)
{
	for (size_t i = 0; l && i < l->n; i++) {
		int r = vg_selector_add(sel, l->names[i], strlen(l->names[i]), op, l->values[i], strlen(l->values[i]), err);
		if (r != 0) {
			vg_err_prefix(err, "%s", vg_conf_printable(l->names[i], "a label"));
			return r;
		}
	}
	return 0;
}

int nt_match_add(const struct vg_conf_labels *eq, const struct vg_conf_labels *re, struct vg_selector *sel,
		 struct vg_err *err)
{
	int r = add_all(eq, VG_MATCH_EQ, sel, err);

	return r != 0 ? r : add_all(re, VG_MATCH_RE, sel, err);
}

static int cmp_matcher(const void *pa, const void *pb)
{
	const struct vg_matcher *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);

	if (c == 0)
		c = strcmp(a->value, b->value);
	if (c == 0)
		c = (int)a->op - (int)b->op;
	return c;
}

void nt_matchers_sort(struct vg_selector *sel)
{
	if (sel->n > 1)
		qsort(sel->m, sel->n, sizeof(sel->m[0]), cmp_matcher);
}
