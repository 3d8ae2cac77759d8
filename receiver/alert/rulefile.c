/*
 * rulefile.c: loading Prometheus rule files (rulefile.h).
 *
 * The YAML goes through common/config.h: a table for the top level
 * (groups), one for a group, one for a rule. Checks of one value (an
 * expression that must parse, a metric name) run as the table's check
 * callbacks, so the loader's own message names the file and the value's
 * line; checks across keys (record and alert both set, duplicate group
 * names) run after the load, with the line of the list item.
 *
 * Invariants: a file is added to a set whole or not at all; every rule in
 * a set has a parsed tree; labels and annotations are sorted by name.
 */
#include "receiver/alert/rulefile.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/series.h"
#include "promql/ast.h"
#include "promql/parse.h"
#include "receiver/alert/rule_flap.h"
#include "receiver/alert/template.h"

#include <glob.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

struct raw_rule {
	char *record, *alert, *expr;
	int64_t for_ms, keep_firing_for_ms;
	struct vg_conf_labels labels, annotations;
	/* Vigil's dialect (flap control, vigil-rules(5) "Dialect"). */
	char *resolve_expr;
	int64_t min_resolved_for_ms;
	char *resolve_threshold; /* a number, checked */
};

struct raw_group {
	char *name;
	int64_t interval_ms, query_offset_ms;
	uint64_t limit;
	struct vg_conf_labels labels;
	struct vg_conf_list rules;
};

struct raw_file {
	struct vg_conf_list groups;
};

static int check_record(const void *member, struct vg_err *err)
{
	const char *s = *(char *const *)member;

	if (!vg_metric_name_valid(s, strlen(s)))
		return vg_err_set(err, VG_EINVAL, "invalid recording rule name \"%s\" (a metric name: letters, digits, _ and :, not starting with a digit)",
				  vg_conf_printable(s, "..."));
	return 0;
}

static int check_alert(const void *member, struct vg_err *err)
{
	const char *s = *(char *const *)member;
	size_t n = strlen(s);

	if (n == 0)
		return vg_err_set(err, VG_EINVAL, "the alert name must not be empty");
	if (n > VG_SERIES_MAX_VALUE || !vg_utf8_valid(s, n))
		return vg_err_set(err, VG_EINVAL, "invalid alert name (a label value: UTF-8, at most %d bytes)",
				  VG_SERIES_MAX_VALUE);
	return 0;
}

static int check_expr(const void *member, struct vg_err *err)
{
	const char *s = *(char *const *)member;
	struct vg_promql_node *ast = NULL;
	int rc;

	if (*s == '\0')
		return vg_err_set(err, VG_EINVAL, "field 'expr' must be set in rule");
	rc = vg_promql_parse(s, strlen(s), &ast, NULL, err);
	vg_promql_node_free(ast);
	return rc;
}

static int check_resolve_expr(const void *member, struct vg_err *err)
{
	if (**(char *const *)member == '\0')
		return vg_err_set(err, VG_EINVAL, "must not be empty (leave the key out for none)");
	return check_expr(member, err);
}

static int check_number(const void *member, struct vg_err *err)
{
	const char *s = *(char *const *)member;
	char *end = NULL;
	double v = strtod(s, &end);

	if (*s == '\0' || end == NULL || *end != '\0' || !isfinite(v))
		return vg_err_set(err, VG_EINVAL, "not a number: \"%s\"", vg_conf_printable(s, "..."));
	return 0;
}

static int check_group_name(const void *member, struct vg_err *err)
{
	if (**(char *const *)member == '\0')
		return vg_err_set(err, VG_EINVAL, "group name must not be empty");
	return 0;
}

static const struct vg_conf_field rule_fields[] = {
	{ "record", VG_CONF_STR, offsetof(struct raw_rule, record), NULL, 0, 0, check_record },
	{ "alert", VG_CONF_STR, offsetof(struct raw_rule, alert), NULL, 0, 0, check_alert },
	{ "expr", VG_CONF_STR, offsetof(struct raw_rule, expr), NULL, 0, 0, check_expr },
	{ "for", VG_CONF_DURATION, offsetof(struct raw_rule, for_ms), NULL, 0, 0, NULL },
	{ "keep_firing_for", VG_CONF_DURATION, offsetof(struct raw_rule, keep_firing_for_ms), NULL, 0, 0, NULL },
	{ "labels", VG_CONF_LABELS, offsetof(struct raw_rule, labels), NULL, 0, 0, NULL },
	{ "annotations", VG_CONF_LABELS, offsetof(struct raw_rule, annotations), NULL, 0, 0, NULL },
	/* Vigil's own keys (vigil_keys below). */
	{ "resolve_expr", VG_CONF_STR, offsetof(struct raw_rule, resolve_expr), NULL, 0, 0, check_resolve_expr },
	{ "min_resolved_for", VG_CONF_DURATION, offsetof(struct raw_rule, min_resolved_for_ms), NULL, 0, 0, NULL },
	{ "resolve_threshold", VG_CONF_STR, offsetof(struct raw_rule, resolve_threshold), NULL, 0, 0, check_number },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct vg_conf_field group_fields[] = {
	{ "name", VG_CONF_STR, offsetof(struct raw_group, name), NULL, 0, 0, check_group_name },
	{ "interval", VG_CONF_DURATION, offsetof(struct raw_group, interval_ms), NULL, 0, 0, NULL },
	{ "query_offset", VG_CONF_DURATION, offsetof(struct raw_group, query_offset_ms), NULL, 0, 0, NULL },
	{ "limit", VG_CONF_UINT, offsetof(struct raw_group, limit), NULL, 0, 0, NULL },
	{ "labels", VG_CONF_LABELS, offsetof(struct raw_group, labels), NULL, 0, 0, NULL },
	{ "rules", VG_CONF_LIST, offsetof(struct raw_group, rules), rule_fields,
	  (int64_t)sizeof(struct raw_rule), VG_RULES_MAX_RULES, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct vg_conf_field file_fields[] = {
	{ "groups", VG_CONF_LIST, offsetof(struct raw_file, groups), group_fields,
	  (int64_t)sizeof(struct raw_group), VG_RULES_MAX_GROUPS, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

/* --- Prometheus's dialect ------------------------------------------------------ */

/* The rule keys Prometheus's rule files do not have. */
static const char *const vigil_keys[] = { "resolve_expr", "min_resolved_for", "resolve_threshold", NULL };

static int refuse_vigil_key(const void *member, struct vg_err *err)
{
	(void)member;
	return vg_err_set(err, VG_EINVAL,
			  "Vigil's own key (flap control), not in Prometheus's rule files (promtool refuses it)");
}

/* The tables of opts' dialect: for Prometheus's (opts->is_prometheus),
 * copies of the three in d whose Vigil keys refuse themselves where they
 * stand, so the message names their line as promtool's does. Types and
 * offsets are the same, so vg_conf_release(file_fields, ...) frees what
 * either loaded. */
struct dialect {
	struct vg_conf_field rule[sizeof(rule_fields) / sizeof(rule_fields[0])];
	struct vg_conf_field group[sizeof(group_fields) / sizeof(group_fields[0])];
	struct vg_conf_field file[sizeof(file_fields) / sizeof(file_fields[0])];
};

static const struct vg_conf_field *dialect_fields(const struct vg_rule_load_options *opts, struct dialect *d)
{
	if (opts == NULL || !opts->is_prometheus)
		return file_fields;
	memcpy(d->rule, rule_fields, sizeof(d->rule));
	memcpy(d->group, group_fields, sizeof(d->group));
	memcpy(d->file, file_fields, sizeof(d->file));
	for (size_t i = 0; d->rule[i].key; i++)
		for (size_t k = 0; vigil_keys[k]; k++)
			if (strcmp(d->rule[i].key, vigil_keys[k]) == 0)
				d->rule[i].check = refuse_vigil_key;
	for (size_t i = 0; d->group[i].key; i++)
		if (d->group[i].section == rule_fields)
			d->group[i].section = d->rule;
	for (size_t i = 0; d->file[i].key; i++)
		if (d->file[i].section == group_fields)
			d->file[i].section = d->group;
	return d->file;
}

/* --- the set ---------------------------------------------------------------- */

static void tmpls_free(struct vg_template **t, size_t n)
{
	for (size_t i = 0; t && i < n; i++)
		vg_template_free(t[i]);
	free(t);
}

static void rule_release(struct vg_rule *r)
{
	tmpls_free(r->label_tmpls, r->labels.n);
	tmpls_free(r->annotation_tmpls, r->annotations.n);
	free(r->name);
	free(r->expr);
	vg_promql_node_free(r->ast);
	free(r->resolve_expr);
	vg_promql_node_free(r->resolve_ast);
	vg_conf_labels_release(&r->labels);
	vg_conf_labels_release(&r->annotations);
}

static void group_release(struct vg_rule_group *g)
{
	for (size_t i = 0; i < g->n_rules; i++)
		rule_release(&g->rules[i]);
	free(g->rules);
	free(g->file);
	free(g->name);
	vg_conf_labels_release(&g->labels);
}

struct vg_rule_set *vg_rule_set_new(void)
{
	return calloc(1, sizeof(struct vg_rule_set));
}

void vg_rule_set_free(struct vg_rule_set *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n_groups; i++)
		group_release(&set->groups[i]);
	free(set->groups);
	for (size_t i = 0; i < set->n_files; i++)
		free(set->files[i]);
	free(set->files);
	free(set);
}

size_t vg_rule_set_count(const struct vg_rule_set *set)
{
	size_t n = 0;

	for (size_t i = 0; set && i < set->n_groups; i++)
		n += set->groups[i].n_rules;
	return n;
}

/* --- from the raw tables to the set ------------------------------------------ */

/* Parses each value of l as a template into *out (n entries). */
static int parse_tmpls(const struct vg_conf_labels *l, const char *what, const char *name, size_t line,
		       const char *where, struct vg_template ***out, struct vg_err *err)
{
	struct vg_template **t;

	*out = NULL;
	if (l->n == 0)
		return 0;
	t = calloc(l->n, sizeof(*t));
	if (t == NULL)
		return vg_err_set(err, VG_ENOMEM, "%s: out of memory", name);
	*out = t;
	for (size_t i = 0; i < l->n; i++) {
		struct vg_err sub;
		int rc = vg_template_parse(l->values[i], strlen(l->values[i]), &t[i], &sub);
		if (rc == VG_ENOMEM)
			return vg_err_set(err, rc, "%s: out of memory", name);
		if (rc != 0)
			return vg_err_set(err, rc, "%s:%zu: %s.%s.%s: template: %s", name, line, where, what,
					  l->names[i], sub.msg);
		if (vg_template_uses_notification_fields(t[i]))
			return vg_err_set(err, VG_EINVAL,
					  "%s:%zu: %s.%s.%s: template: .Annotations and .Status are for notification templates, not rule files",
					  name, line, where, what, l->names[i]);
	}
	return 0;
}

/* Moves a raw rule into r, validating what spans keys. */
static int build_rule(struct raw_rule *raw, size_t line, const char *name, size_t gi, size_t ri,
		      struct vg_rule *r, struct vg_err *err)
{
	char where[64];
	size_t err_pos = 0;
	int rc;

	snprintf(where, sizeof(where), "groups[%zu].rules[%zu]", gi, ri);
	if (raw->record && raw->alert)
		return vg_err_set(err, VG_EINVAL, "%s:%zu: %s: only one of 'record' and 'alert' must be set",
				  name, line, where);
	if (!raw->record && !raw->alert)
		return vg_err_set(err, VG_EINVAL, "%s:%zu: %s: one of 'record' or 'alert' must be set",
				  name, line, where);
	if (raw->expr == NULL)
		return vg_err_set(err, VG_EINVAL, "%s:%zu: %s: field 'expr' must be set in rule", name,
				  line, where);
	if (raw->record) {
		const char *bad = raw->annotations.n ? "annotations"
				  : raw->for_ms ? "for"
				  : raw->keep_firing_for_ms ? "keep_firing_for"
				  : raw->resolve_expr ? "resolve_expr"
				  : raw->resolve_threshold ? "resolve_threshold"
				  : raw->min_resolved_for_ms ? "min_resolved_for" : NULL;
		if (bad)
			return vg_err_set(err, VG_EINVAL, "%s:%zu: %s: invalid field '%s' in recording rule",
					  name, line, where, bad);
	}
	if (raw->resolve_expr && raw->resolve_threshold)
		return vg_err_set(err, VG_EINVAL, "%s:%zu: %s: only one of 'resolve_expr' and 'resolve_threshold' may be set",
				  name, line, where);
	memset(r, 0, sizeof(*r));
	r->is_alert = raw->alert != NULL;
	rc = vg_promql_parse(raw->expr, strlen(raw->expr), &r->ast, &err_pos, err);
	if (rc != 0)
		return rc; /* checked at load; only memory fails here */
	r->name = r->is_alert ? raw->alert : raw->record;
	if (r->is_alert)
		raw->alert = NULL;
	else
		raw->record = NULL;
	r->expr = raw->expr;
	raw->expr = NULL;
	r->for_ms = raw->for_ms;
	r->keep_firing_for_ms = raw->keep_firing_for_ms;
	r->min_resolved_for_ms = raw->min_resolved_for_ms;
	if (raw->resolve_expr) {
		rc = vg_promql_parse(raw->resolve_expr, strlen(raw->resolve_expr), &r->resolve_ast, &err_pos, err);
		if (rc != 0) {
			rule_release(r);
			memset(r, 0, sizeof(*r));
			return rc; /* checked at load; only memory fails here */
		}
		r->resolve_expr = raw->resolve_expr;
		raw->resolve_expr = NULL;
	} else if (raw->resolve_threshold) {
		struct vg_err sub;
		rc = vg_rule_resolve_threshold(r->expr, strtod(raw->resolve_threshold, NULL), &r->resolve_ast,
					       &r->resolve_expr, &sub);
		if (rc != 0) {
			rule_release(r);
			memset(r, 0, sizeof(*r));
			if (rc == VG_ENOMEM)
				return vg_err_set(err, rc, "%s: out of memory", name);
			return vg_err_set(err, rc, "%s:%zu: %s.resolve_threshold: %s", name, line, where, sub.msg);
		}
	}
	r->labels = raw->labels;
	r->annotations = raw->annotations;
	memset(&raw->labels, 0, sizeof(raw->labels));
	memset(&raw->annotations, 0, sizeof(raw->annotations));
	vg_conf_labels_sort(&r->labels);
	vg_conf_labels_sort(&r->annotations);
	r->line = line;
	if (r->is_alert) {
		rc = parse_tmpls(&r->labels, "labels", name, line, where, &r->label_tmpls, err);
		if (rc == 0)
			rc = parse_tmpls(&r->annotations, "annotations", name, line, where, &r->annotation_tmpls, err);
		if (rc != 0) {
			rule_release(r);
			memset(r, 0, sizeof(*r));
			return rc;
		}
	}
	return 0;
}

static int build_groups(struct raw_file *raw, const char *name, const struct vg_rule_load_options *opts,
			struct vg_rule_group **out, struct vg_err *err)
{
	struct vg_rule_group *gs = NULL;
	int rc = 0;
	size_t gi;

	if (raw->groups.n == 0) {
		*out = NULL;
		return 0;
	}
	gs = calloc(raw->groups.n, sizeof(*gs));
	if (gs == NULL)
		return vg_err_set(err, VG_ENOMEM, "%s: out of memory", name);
	for (gi = 0; gi < raw->groups.n; gi++) {
		struct raw_group *rg = (struct raw_group *)raw->groups.v + gi;
		struct vg_rule_group *g = &gs[gi];
		size_t line = raw->groups.lines[gi];

		if (rg->name == NULL) {
			rc = vg_err_set(err, VG_EINVAL, "%s:%zu: groups[%zu]: group name must not be empty",
					name, line, gi);
			goto fail;
		}
		for (size_t j = 0; j < gi; j++)
			if (strcmp(gs[j].name, rg->name) == 0) {
				rc = vg_err_set(err, VG_EINVAL,
						"%s:%zu: groups[%zu]: groupname: \"%s\" is repeated in the same file (first on line %zu)",
						name, line, gi, vg_conf_printable(rg->name, "..."), gs[j].line);
				goto fail;
			}
		g->line = line;
		g->name = rg->name;
		rg->name = NULL;
		g->file = strdup(name);
		g->interval_ms = rg->interval_ms > 0 ? rg->interval_ms
				 : opts && opts->default_interval_ms > 0 ? opts->default_interval_ms
									 : VG_RULES_DEFAULT_INTERVAL_MS;
		g->query_offset_ms = rg->query_offset_ms;
		g->limit = rg->limit;
		g->labels = rg->labels;
		memset(&rg->labels, 0, sizeof(rg->labels));
		vg_conf_labels_sort(&g->labels);
		if (g->file == NULL || (rg->rules.n && (g->rules = calloc(rg->rules.n, sizeof(*g->rules))) == NULL)) {
			rc = vg_err_set(err, VG_ENOMEM, "%s: out of memory", name);
			goto fail;
		}
		for (size_t ri = 0; ri < rg->rules.n; ri++) {
			struct raw_rule *rr = (struct raw_rule *)rg->rules.v + ri;
			rc = build_rule(rr, rg->rules.lines[ri], name, gi, ri, &g->rules[ri], err);
			if (rc != 0)
				goto fail;
			g->n_rules++;
		}
	}
	*out = gs;
	return 0;
fail:
	for (size_t j = 0; j <= gi && j < raw->groups.n; j++)
		group_release(&gs[j]);
	free(gs);
	return rc;
}

static int add_raw(struct vg_rule_set *set, int rc, struct raw_file *raw, const char *name,
		   const struct vg_rule_load_options *opts, struct vg_err *err)
{
	struct vg_rule_group *gs = NULL, *all;
	char **files, *file;
	size_t n;

	if (rc == 0 && set->n_files >= VG_RULES_MAX_FILES)
		rc = vg_err_set(err, VG_ELIMIT, "%s: more than %d rule files", name, VG_RULES_MAX_FILES);
	if (rc == 0)
		rc = build_groups(raw, name, opts, &gs, err);
	n = raw->groups.n;
	vg_conf_release(file_fields, raw);
	if (rc != 0)
		return rc;
	all = n ? realloc(set->groups, (set->n_groups + n) * sizeof(*all)) : set->groups;
	files = realloc(set->files, (set->n_files + 1) * sizeof(*files));
	file = strdup(name);
	if (all)
		set->groups = all;
	if (files)
		set->files = files;
	if ((n && all == NULL) || files == NULL || file == NULL) {
		for (size_t i = 0; i < n; i++)
			group_release(&gs[i]);
		free(gs);
		free(file);
		return vg_err_set(err, VG_ENOMEM, "%s: out of memory", name);
	}
	if (n)
		memcpy(set->groups + set->n_groups, gs, n * sizeof(*gs));
	set->n_groups += n;
	set->files[set->n_files++] = file;
	free(gs);
	return 0;
}

int vg_rule_set_add_string(struct vg_rule_set *set, const char *text, size_t len, const char *name,
			   const struct vg_rule_load_options *opts, struct vg_err *err)
{
	struct raw_file raw;
	struct dialect d;
	int rc;

	memset(&raw, 0, sizeof(raw));
	rc = vg_conf_load_string(text, len, name, dialect_fields(opts, &d), &raw, err);
	return add_raw(set, rc, &raw, name, opts, err);
}

int vg_rule_set_add_file(struct vg_rule_set *set, const char *path,
			 const struct vg_rule_load_options *opts, struct vg_err *err)
{
	struct raw_file raw;
	struct dialect d;
	int rc;

	memset(&raw, 0, sizeof(raw));
	rc = vg_conf_load_file(path, dialect_fields(opts, &d), &raw, err);
	return add_raw(set, rc, &raw, path, opts, err);
}

int vg_rule_set_load_globs(const struct vg_conf_strlist *patterns, const char *base_dir,
			   const struct vg_rule_load_options *opts, struct vg_rule_set **out,
			   struct vg_err *err)
{
	struct vg_rule_set *set = vg_rule_set_new();
	struct vg_buf pat = VG_BUF_INIT;
	int rc = 0;

	if (set == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	for (size_t i = 0; patterns && i < patterns->n && rc == 0; i++) {
		const char *p = patterns->v[i];
		glob_t g;
		int gr;

		vg_buf_reset(&pat);
		if (p[0] != '/' && base_dir != NULL && base_dir[0] != '\0' && strcmp(base_dir, ".") != 0)
			vg_buf_printf(&pat, "%s/", base_dir);
		vg_buf_puts(&pat, p);
		if (vg_buf_failed(&pat)) {
			rc = vg_err_set(err, VG_ENOMEM, "out of memory");
			break;
		}
		memset(&g, 0, sizeof(g));
		gr = glob(vg_buf_cstr(&pat), GLOB_ERR, NULL, &g);
		if (gr == GLOB_NOMATCH) {
			globfree(&g);
			continue;
		}
		if (gr != 0) {
			rc = vg_err_set(err, gr == GLOB_NOSPACE ? VG_ENOMEM : VG_EIO,
					"rule_files: \"%s\": cannot read the directories it names",
					vg_conf_printable(vg_buf_cstr(&pat), "..."));
			globfree(&g);
			break;
		}
		for (size_t k = 0; k < g.gl_pathc && rc == 0; k++) {
			bool is_seen = false;
			for (size_t f = 0; f < set->n_files; f++)
				is_seen = is_seen || strcmp(set->files[f], g.gl_pathv[k]) == 0;
			if (!is_seen)
				rc = vg_rule_set_add_file(set, g.gl_pathv[k], opts, err);
		}
		globfree(&g);
	}
	vg_buf_release(&pat);
	if (rc != 0) {
		vg_rule_set_free(set);
		return rc;
	}
	*out = set;
	return 0;
}
