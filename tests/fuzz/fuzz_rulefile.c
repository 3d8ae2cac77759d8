/*
 * fuzz_rulefile.c: libFuzzer target for the rule file loader
 * (receiver/alert/rulefile.c). The input bytes are a rule file. Whatever
 * they are, the loader either refuses them with a message that names the
 * file (and so its line) and leaves the set as it was, or adds groups
 * whose every rule has a name, an expression and its parsed tree. Each
 * input is loaded in both dialects: Vigil's, and Prometheus's
 * (is_prometheus), which must never give a rule with Vigil's own keys.
 * tests/fuzz/replay.c runs the corpus under make check.
 */
#include "common/err.h"
#include "receiver/alert/rulefile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load(const uint8_t *data, size_t size, bool is_prometheus)
{
	struct vg_rule_set *set = vg_rule_set_new();
	struct vg_rule_load_options opts = { 0, is_prometheus };
	struct vg_err err = { 0 };
	int rc;

	if (set == NULL)
		return;
	rc = vg_rule_set_add_string(set, (const char *)data, size, "fuzz.yaml", &opts, &err);
	if (rc != 0) {
		if (set->n_groups != 0 || set->n_files != 0)
			abort();
		if (rc != VG_ENOMEM && strncmp(err.msg, "fuzz.yaml:", 10) != 0)
			abort();
	} else {
		if (set->n_files != 1)
			abort();
		for (size_t i = 0; i < set->n_groups; i++) {
			const struct vg_rule_group *g = &set->groups[i];
			if (g->name == NULL || g->interval_ms <= 0)
				abort();
			for (size_t k = 0; k < g->n_rules; k++) {
				const struct vg_rule *r = &g->rules[k];
				if (r->name == NULL || r->expr == NULL || r->ast == NULL)
					abort();
				if ((r->resolve_expr == NULL) != (r->resolve_ast == NULL))
					abort();
				if (is_prometheus && (r->resolve_expr != NULL || r->min_resolved_for_ms != 0))
					abort();
				if (!r->is_alert && (r->resolve_expr != NULL || r->min_resolved_for_ms != 0))
					abort();
			}
		}
	}
	vg_rule_set_free(set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	load(data, size, false);
	load(data, size, true);
	return 0;
}
