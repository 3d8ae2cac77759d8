/*
 * rulefile.h: Prometheus rule files (../shared/interfaces/alerting-rules.md,
 * man/vigil-rules.5): groups of alerting and recording rules, loaded,
 * validated and held in memory, for the rule engine (rules.h) and for
 * `vigil rules check`.
 *
 * Owns: the YAML shape (through common/config.h's field tables), the
 * validation rulefmt.go makes (and the same refusals), the parse of every
 * expression into a tree (promql/parse.h), globbing rule_files patterns
 * into one rule set. It does not evaluate anything.
 *
 * Every refusal names the file and the line: "FILE:LINE: what", and a bad
 * expression also the column inside it ("FILE:LINE: groups[0].rules[1].expr:
 * 1:7: parse error: ..."); a template that does not parse (an alerting
 * rule's label value or annotation, template.h) names the rule's line and
 * the template's own line and column ("FILE:LINE:
 * groups[0].rules[1].annotations.summary: template: 1:4: ..."). A file is refused whole at its first error.
 *
 * Dialect: Prometheus's keys, and Vigil's own rule keys for flap control
 * (resolve_expr, its shorthand resolve_threshold (rule_flap.h), and
 * min_resolved_for: man/vigil-rules.5 "Flap control"),
 * which opts.is_prometheus (`vigil rules check --prometheus`) refuses
 * where they stand, as promtool refuses them.
 *
 * Ownership: a struct vg_rule_set owns everything it points at; free it
 * with vg_rule_set_free. After load it is immutable, so threads may read it.
 */
#ifndef VG_RULEFILE_H
#define VG_RULEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

struct vg_err;
struct vg_promql_node;
struct vg_template;

/* Prometheus's global evaluation_interval default. */
#define VG_RULES_DEFAULT_INTERVAL_MS (60 * 1000)
#define VG_RULES_MAX_GROUPS 1024 /* a file */
#define VG_RULES_MAX_RULES 4096  /* a group */
#define VG_RULES_MAX_FILES 1024  /* a rule set */

struct vg_rule {
	bool is_alert;             /* alert: ...; else record: ... */
	char *name;                /* the alert's name or the recorded metric's */
	char *expr;                /* as written */
	struct vg_promql_node *ast;
	int64_t for_ms, keep_firing_for_ms;
	struct vg_conf_labels labels;      /* sorted by name; templates for alerts */
	struct vg_conf_labels annotations; /* sorted by name; templates */
	/* Alerting rules: each label value and annotation parsed as a
	 * template (template.h), in the order of labels and annotations;
	 * NULL for recording rules, whose labels are plain. */
	struct vg_template **label_tmpls, **annotation_tmpls;
	size_t line;                       /* where the rule begins */
	/* Vigil's dialect, alerting rules only (rules_state.h): a firing
	 * alert resolves only once neither ast nor resolve_ast returns it
	 * (resolve_expr NULL: none), and may not fire again before
	 * min_resolved_for_ms (0: none) has passed since it resolved.
	 * resolve_threshold: R gives resolve_expr (the canonical text of
	 * expr with R for its threshold) and resolve_ast. */
	char *resolve_expr;
	struct vg_promql_node *resolve_ast;
	int64_t min_resolved_for_ms;
};

struct vg_rule_group {
	char *file;
	char *name;
	int64_t interval_ms;       /* the file's, else the global default */
	int64_t query_offset_ms;
	uint64_t limit;            /* 0: none */
	struct vg_conf_labels labels; /* added to every rule's output; rule labels win */
	size_t n_rules;
	struct vg_rule *rules;
	size_t line;
};

struct vg_rule_set {
	size_t n_groups;
	struct vg_rule_group *groups; /* in file order, files in glob order */
	size_t n_files;
	char **files;
};

struct vg_rule_load_options {
	int64_t default_interval_ms; /* 0: VG_RULES_DEFAULT_INTERVAL_MS */
	bool is_prometheus;          /* refuse Vigil's own keys */
};

/* Loads one file's groups, appending them to set (which may already hold
 * other files' groups). On error set is as it was. VG_EINVAL, VG_ENOENT,
 * VG_EIO, VG_ELIMIT, VG_ENOMEM with err "FILE:LINE: ...". */
int vg_rule_set_add_file(struct vg_rule_set *set, const char *path,
			 const struct vg_rule_load_options *opts, struct vg_err *err);
/* The same from memory, name standing for the file. */
int vg_rule_set_add_string(struct vg_rule_set *set, const char *text, size_t len, const char *name,
			   const struct vg_rule_load_options *opts, struct vg_err *err);

/* Expands each of patterns (glob(7); relative ones against base_dir when
 * it is not NULL) and loads every file found, in order, into a new set.
 * A pattern that matches nothing is not an error (Prometheus's rule). */
int vg_rule_set_load_globs(const struct vg_conf_strlist *patterns, const char *base_dir,
			   const struct vg_rule_load_options *opts, struct vg_rule_set **out,
			   struct vg_err *err);

/* Rules in the set. */
size_t vg_rule_set_count(const struct vg_rule_set *set);

struct vg_rule_set *vg_rule_set_new(void);
void vg_rule_set_free(struct vg_rule_set *set);

#endif
